"""kube_upgrade_plan run as Ansible runs it (its own interpreter, JSON arguments) against fake apiservers and fake
etcd members over HTTP (one server each, a closed port for one that is down; the bench: tests/support/upgrade_plan.py).
The run against a real TLS etcd is in tests/integration/test_kube_upgrade_plan_etcd.py."""

import pytest
import yaml
from ansible_collections.kubesmith.cluster.plugins.modules import kube_upgrade_plan
from support.modules import run_module_file
from support.upgrade_plan import CPS, EVERYTHING, MODULE, NOTHING, Lab, closed_port_url, node


@pytest.fixture
def lab(tmp_path):
    state = Lab(tmp_path)
    yield state
    state.close()


def test_issue_scenario_plan_same_in_check_mode(lab):
    rc, result = lab.run()
    assert rc == 0 and result["changed"] is False, result
    assert result["current"] == {
        "apiservers": {h: "v1.20.2" for h in CPS},
        "kubelets": {h: "v1.20.2" for h in CPS + ["w1"]},
        "etcd": {h: "3.4.23" for h in CPS},
        "containerd": {h: "1.6.20~ds1" for h in CPS + ["w1"]},
    }
    assert [(s["phase"], s["hosts"]) for s in result["plan"]["steps"]] == [
        ("etcd", ["cp1"]),
        ("etcd", ["cp2"]),
        ("etcd", ["cp3"]),
        ("control_plane", ["cp1"]),
        ("control_plane", ["cp2"]),
        ("control_plane", ["cp3"]),
        ("workers", ["w1"]),
    ]
    assert result["summary"].startswith("etcd: 3 steps (cp1, cp2, cp3) -> etcd 3.5.16; control plane: 3 steps")
    assert result["pending"] == CPS + ["w1"] and result["unhealthy"] == {} and result["not_ready"] == []
    assert result["hosts"] == {
        "cp1": EVERYTHING,
        "cp2": EVERYTHING,
        "cp3": EVERYTHING,
        "w1": dict(EVERYTHING, etcd=False, apiserver=False),
    }
    assert result["node_after_apiservers"] is False
    # each apiserver asked on its own URL, the Nodes listed once through the kubeconfig's server
    assert all(s.hits == [("GET", "/version")] for s in lab.apiservers.values())
    assert lab.endpoint.hits == [("GET", "/api/v1/nodes")]

    rc, checked = lab.run(check_mode=True)
    assert rc == 0 and checked == dict(result, invocation=checked["invocation"]), checked


def test_everything_at_target_nothing_pending(lab):
    for srv in lab.apiservers.values():
        srv.routes[("GET", "/version")] = (200, {"gitVersion": "v1.20.2+kubesmith.1"})
    lab.nodes = [node(h, "v1.20.2+kubesmith.1", "containerd://1.7.24") for h in CPS + ["w1"]]
    lab.etcd = {h: lab.etcd_member("3.5.16") for h in CPS}
    rc, result = lab.run()
    assert rc == 0 and result["plan"]["steps"] == [] and result["pending"] == [], result
    assert result["hosts"] == {h: NOTHING for h in CPS + ["w1"]}
    assert result["summary"].startswith("nothing to do")


def test_resume_apiserver_down_uses_installed_version_and_is_planned_again(lab):
    for srv in lab.apiservers.values():
        srv.routes[("GET", "/version")] = (200, {"gitVersion": "v1.20.2+kubesmith.1"})
    lab.nodes = [node(h, "v1.20.2+kubesmith.1", "containerd://1.7.24") for h in CPS + ["w1"]]
    lab.etcd = {h: lab.etcd_member("3.5.16") for h in CPS}
    lab.apiservers["cp2"] = closed_port_url()
    rc, result = lab.run(apiserver_installed={"cp2": "Kubernetes v1.20.2+kubesmith.1"})
    assert rc == 0, result
    assert result["unhealthy"] == {"cp2": ["apiserver"]}
    assert result["current"]["apiservers"]["cp2"] == "v1.20.2+kubesmith.1"
    assert [(s["hosts"], s["components"]) for s in result["plan"]["steps"]] == [(["cp2"], ["apiserver"])]
    assert result["pending"] == ["cp2"] and result["hosts"]["cp2"] == dict(NOTHING, apiserver=True)
    assert "planned again (unhealthy): cp2 apiserver" in result["summary"]


def test_apiserver_down_without_installed_version_fails(lab):
    lab.apiservers["cp3"] = url = closed_port_url()
    rc, result = lab.run()
    assert rc != 0 and result["failed"] is True, result
    assert result["msg"].startswith("the apiserver on cp3 (%s) does not answer /version (" % url)
    assert "connection refused" in result["msg"] and "(apiserver_installed)" in result["msg"]
    assert result["current"]["apiservers"] == {"cp1": "v1.20.2", "cp2": "v1.20.2"}
    assert result["plan"] == {} and result["changed"] is False


def test_not_ready_node_refused_then_ignored(lab):
    lab.nodes[3] = node("w1", ready="False")
    rc, result = lab.run()
    assert rc != 0 and result["msg"] == (
        "node w1 is not Ready (Ready=False, X): an upgrade drains nodes one after another and needs the others "
        "healthy; fix it, or list it in upgrade_ignore_not_ready"
    ), result
    assert result["not_ready"] == ["w1"] and result["current"]["kubelets"]["w1"] == "v1.20.2"
    assert all(not s.hits for s in lab.etcd.values())  # refused before etcd was even asked

    rc, result = lab.run(ignore_not_ready=["w1"])
    assert rc == 0 and result["unhealthy"] == {"w1": ["kubelet"]} and result["hosts"]["w1"]["drain"] is True, result


def test_etcd_member_unhealthy_fails_naming_it(lab):
    lab.etcd["cp2"] = lab.etcd_member("3.4.23", healthy=False)
    rc, result = lab.run()
    assert rc != 0, result
    assert result["msg"].startswith(
        "etcd must be healthy on every member before an upgrade (quorum is at stake while members restart): "
        "cp2: %s: /health answered HTTP 503" % lab.etcd["cp2"].url
    )
    assert result["current"]["etcd"] == {h: "3.4.23" for h in CPS}


def test_etcd_member_down_fails(lab):
    lab.etcd["cp1"] = url = closed_port_url()
    rc, result = lab.run()
    assert rc != 0 and "restart): cp1: %s: connection refused" % url in result["msg"], result


def test_other_runtime_with_containerd_target_fails(lab):
    lab.nodes[3] = node("w1", runtime="docker://20.10.5")
    rc, result = lab.run()
    assert rc != 0 and result["msg"].startswith("node w1 runs the container runtime 'docker://20.10.5', not containerd")


def test_planner_refusal_is_the_message(lab):
    rc, result = lab.run(kube_version="v1.37.0")
    assert rc != 0 and "would skip" in result["msg"] and "one minor at a time" in result["msg"], result
    assert result["current"]["etcd"] == {h: "3.4.23" for h in CPS}


def test_worker_batch_percentage_and_bad_value(lab):
    lab.nodes += [node("w%d" % i) for i in (2, 3, 4)]
    workers = ["w1", "w2", "w3", "w4"]
    nodes = {h: h for h in CPS + workers}
    rc, result = lab.run(worker_hosts=workers, nodes=nodes, worker_batch="50%", etcd_version=None)
    assert rc == 0, result
    assert [s["hosts"] for s in result["plan"]["steps"] if s["phase"] == "workers"] == [["w1", "w2"], ["w3", "w4"]]
    rc, result = lab.run(worker_hosts=workers, nodes=nodes, worker_batch="lots")
    assert rc != 0 and "upgrade_worker_batch 'lots'" in result["msg"], result


def test_missing_kubeconfig_fails_clearly(lab, tmp_path):
    rc, result = lab.run(kubeconfig=str(tmp_path / "nope.conf"))
    assert rc != 0 and "nope.conf" in result["msg"], result
    assert result["current"]["apiservers"] == {} and result["plan"] == {} and result["changed"] is False
    assert all(not s.hits for s in lab.servers)


def test_required_options(lab):
    args = lab.args()
    del args["etcd_members"]
    rc, result = run_module_file(MODULE, lab.tmp_path, args)
    assert rc != 0 and "missing required arguments: etcd_members" in result["msg"], result


def test_documentation_matches_argument_spec_and_result():
    doc = yaml.safe_load(kube_upgrade_plan.DOCUMENTATION)

    def flat(options, required_key):
        return {
            name: (o.get("type", "str"), o.get(required_key, False), o.get("default"), o.get("elements"))
            for name, o in options.items()
        }

    assert flat(doc["options"], "required") == flat(kube_upgrade_plan.ARGUMENT_SPEC, "required")
    assert all(o.get("description") for o in doc["options"].values())
    yaml.safe_load(kube_upgrade_plan.EXAMPLES)
    returned = yaml.safe_load(kube_upgrade_plan.RETURN)
    assert set(returned) | {"changed"} == set(kube_upgrade_plan.empty_result())
