"""Unit tests for plugins/module_utils/upgrade/state.py (reading what runs now, health gates, per-host actions)."""

import copy

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.api import EtcdError
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube.api import KubeApiError
from ansible_collections.kubesmith.cluster.plugins.module_utils.upgrade import state as us

CPS = ["cp1", "cp2", "cp3"]
URL = {h: "https://10.0.0.1%d:6443" % i for i, h in enumerate(CPS, 1)}
ETCD = {h: "https://10.0.0.1%d:2379" % i for i, h in enumerate(CPS, 1)}
OFF = dict.fromkeys(("etcd", "apiserver", "node", "containerd", "drain"), False)  # host_actions of an idle host


def node(name, kubelet="v1.20.2", runtime="containerd://1.6.20", ready="True", reason="", message=""):
    cond = {"type": "Ready", "status": ready}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return {
        "metadata": {"name": name},
        "status": {
            "nodeInfo": {"kubeletVersion": kubelet, "containerRuntimeVersion": runtime},
            "conditions": [{"type": "MemoryPressure", "status": "False"}, cond],
        },
    }


class FakeApi(object):
    """``api(url)`` -> a client; ``versions[url]`` a gitVersion or a KubeApiError; url None serves the Node list."""

    def __init__(self, versions=None, nodes=None, nodes_error=None):
        self.versions = dict(versions or {URL[h]: "v1.20.2" for h in CPS})
        self.nodes = nodes if nodes is not None else [node(n) for n in ("cp1", "cp2", "cp3", "w1")]
        self.nodes_error = nodes_error
        self.calls = []

    def __call__(self, url):
        api = self

        class Client(object):
            def get(self, path):
                api.calls.append((url, path))
                if url is None:
                    assert path == "/api/v1/nodes"
                    if api.nodes_error:
                        raise api.nodes_error
                    return {"kind": "NodeList", "items": copy.deepcopy(api.nodes)}
                assert path == "/version"
                answer = api.versions[url]
                if isinstance(answer, Exception):
                    raise answer
                return answer if isinstance(answer, dict) else {"major": "1", "gitVersion": answer}

        return Client()


class FakeEtcd(object):
    """``etcd(url)`` -> a client; ``members[url]``: a version, ``(version, (ok, reason))`` or an EtcdError."""

    def __init__(self, members=None):
        self.members = dict(members or {ETCD[h]: "3.4.23" for h in CPS})

    def __call__(self, url):
        answer = self.members[url]

        class Client(object):
            def status(self):
                if isinstance(answer, Exception):
                    raise answer
                return {"version": answer[0] if isinstance(answer, tuple) else answer, "leader": "1"}

            def health(self):
                return answer[1] if isinstance(answer, tuple) else (True, "")

        return Client()


def refused(exc_match, func, *args):
    with pytest.raises(us.UpgradeStateError, match=exc_match) as info:
        func(*args)
    return info.value


def down(url):
    return KubeApiError("GET %s/version: connection refused" % url, kind="unavailable", url=url)


# --------------------------------------------------------------------------- apiservers


def test_apiservers_read_from_each_hosts_own_url():
    api = FakeApi({URL["cp1"]: "v1.20.2+kubesmith.1", URL["cp2"]: "v1.20.2", URL["cp3"]: "v1.20.2"})
    versions, unhealthy = us.read_apiservers(URL, api)
    assert versions == {"cp1": "v1.20.2+kubesmith.1", "cp2": "v1.20.2", "cp3": "v1.20.2"}
    assert unhealthy == []
    assert [c[0] for c in api.calls] == [URL[h] for h in CPS]


@pytest.mark.parametrize(
    "error",
    [
        KubeApiError("refused", kind="unavailable"),
        KubeApiError("timed out", kind="timeout"),
        KubeApiError("GET: HTTP 503", status=503, kind="api"),
    ],
)
def test_apiserver_not_answering_falls_back_to_installed_binary_and_is_unhealthy(error):
    api = FakeApi({URL["cp1"]: "v1.20.2+kubesmith.1", URL["cp2"]: error, URL["cp3"]: "v1.20.2"})
    versions, unhealthy = us.read_apiservers(URL, api, {"cp2": "Kubernetes v1.20.2+kubesmith.1\n"})
    assert versions["cp2"] == "v1.20.2+kubesmith.1" and unhealthy == ["cp2"]


def test_installed_version_only_used_when_the_apiserver_does_not_answer():
    versions, unhealthy = us.read_apiservers(URL, FakeApi(), {h: "v1.19.0" for h in CPS})
    assert set(versions.values()) == {"v1.20.2"} and unhealthy == []


def test_apiserver_not_answering_without_installed_version_fails_naming_host_and_why():
    api = FakeApi({URL["cp1"]: "v1.20.2", URL["cp2"]: down(URL["cp2"]), URL["cp3"]: "v1.20.2"})
    exc = refused(
        r"^the apiserver on cp2 \(https://10.0.0.12:6443\) does not answer /version \(.*connection refused\) and no "
        r"installed kube-apiserver version was given for it \(apiserver_installed\)",
        us.read_apiservers,
        URL,
        api,
        {"cp1": "v1.20.2"},
    )
    assert exc.result == {"apiservers": {"cp1": "v1.20.2"}}  # what was read before


@pytest.mark.parametrize(
    "error",
    [
        KubeApiError("GET: HTTP 401: (the API server did not accept the client certificate)", status=401),
        KubeApiError("TLS: the API server certificate is not trusted", kind="tls"),
        KubeApiError("kubeconfig /etc/kubernetes/admin.conf: client_key not readable", kind="config"),
    ],
)
def test_apiserver_errors_a_reinstall_would_not_fix_fail_without_fallback(error):
    api = FakeApi({URL["cp1"]: error, URL["cp2"]: "v1.20.2", URL["cp3"]: "v1.20.2"})
    refused(
        r"^cannot read the apiserver version on cp1 \(https://10.0.0.11:6443\): ",
        us.read_apiservers,
        URL,
        api,
        {"cp1": "v1.20.2"},
    )


@pytest.mark.parametrize("text", ["Kubernetes v1.20.2", "v1.20.2", "1.20.2", "  Kubernetes v1.20.2\n"])
def test_installed_version_text(text):
    assert us.installed_version(text, "cp1") == "v1.20.2"


@pytest.mark.parametrize("text", ["Kubernetes", "kube-apiserver v1.20.2", "Kubernetes v1.20", 1.2, ""])
def test_installed_version_garbage_refused(text):
    refused(
        r"apiserver_installed cp1 is .*: expected the output of kube-apiserver --version",
        us.installed_version,
        text,
        "cp1",
    )


@pytest.mark.parametrize(
    "apiservers, installed, match",
    [
        (["https://x:6443"], None, "apiservers must map inventory host names to URLs"),
        ({"cp1": ""}, None, r"apiservers: 'cp1' -> '' is not an inventory host name and a URL"),
        ({"cp1": URL["cp1"]}, ["v1.20.2"], "apiserver_installed must map"),
    ],
)
def test_apiservers_bad_input(apiservers, installed, match):
    refused(match, us.read_apiservers, apiservers, FakeApi(), installed)


def test_apiserver_answer_without_git_version():
    api = FakeApi({URL["cp1"]: {"major": "1"}})
    refused(
        r"cp1 \(https://10.0.0.11:6443\) answered /version without a gitVersion",
        us.read_apiservers,
        {"cp1": URL["cp1"]},
        api,
    )


# --------------------------------------------------------------------------- nodes


NODES = {"cp1": "cp1", "cp2": "cp2", "cp3": "cp3", "w1": "w1"}


def test_nodes_kubelet_and_containerd_versions_by_inventory_host():
    items = [node("cp1.lab", kubelet="v1.20.2+kubesmith.1", runtime="containerd://1.6.20~ds1"), node("w1")]
    read = us.read_nodes(items, {"cp1": "cp1.lab", "w1": "w1", "w2": "w2"}, True)
    assert read["kubelets"] == {"cp1": "v1.20.2+kubesmith.1", "w1": "v1.20.2"}  # w2 has no Node: absent
    assert read["containerd"] == {"cp1": "1.6.20~ds1", "w1": "1.6.20"}
    assert read["not_ready"] == {}


@pytest.mark.parametrize(
    "runtime, expected",
    [
        ("containerd://1.6.20", "1.6.20"),
        ("containerd://1.6.20~ds1", "1.6.20~ds1"),
        ("containerd://v1.7.24", "v1.7.24"),
        ("docker://20.10.5", None),
        ("cri-o://1.20.0", None),
        ("containerd://", None),
        ("", None),
        (None, None),
    ],
)
def test_runtime_version_without_containerd_target(runtime, expected):
    assert us.runtime_version(runtime, "w1", False) == expected


@pytest.mark.parametrize("runtime", ["docker://20.10.5", "cri-o://1.20.0", "", None])
def test_other_runtime_with_containerd_target_fails_saying_so(runtime):
    refused(
        r"^node w1 runs the container runtime .*, not containerd: containerd_version upgrades containerd only",
        us.runtime_version,
        runtime,
        "w1",
        True,
    )


def test_node_without_kubelet_version_fails():
    item = node("w1")
    del item["status"]["nodeInfo"]["kubeletVersion"]
    refused(r"node w1 \(w1\) reports no status.nodeInfo.kubeletVersion", us.read_nodes, [item], NODES, False)


@pytest.mark.parametrize(
    "nodes, match",
    [
        (["w1"], "nodes must map inventory host names to Node names"),
        ({"w1": ""}, r"nodes: 'w1' -> ''"),
        ({"w1": "n1", "w2": "n1"}, "nodes: w1 and w2 both name the Node n1"),
    ],
)
def test_nodes_bad_input(nodes, match):
    refused(match, us.read_nodes, [], nodes, False)


@pytest.mark.parametrize(
    "ready, reason, message, expected",
    [
        ("False", "KubeletNotReady", "PLEG is not healthy", "Ready=False, KubeletNotReady: PLEG is not healthy"),
        (
            "Unknown",
            "NodeStatusUnknown",
            "Kubelet stopped posting node status.",
            "Ready=Unknown, NodeStatusUnknown: Kubelet stopped posting node status.",
        ),
        ("False", "", "", "Ready=False"),
    ],
)
def test_ready_condition(ready, reason, message, expected):
    assert us.ready_condition(node("w1", ready=ready, reason=reason, message=message)) == (False, expected)
    assert us.ready_condition(node("w1")) == (True, "")


def test_node_without_ready_condition_is_not_ready():
    item = node("w1")
    item["status"]["conditions"] = []
    assert us.ready_condition(item) == (False, "no Ready condition")
    assert us.ready_condition({"metadata": {"name": "x"}}) == (False, "no Ready condition")


def test_not_ready_covers_nodes_outside_the_inventory():
    read = us.read_nodes([node("w1"), node("stray", ready="Unknown")], {"w1": "w1"}, False)
    assert read["not_ready"] == {"stray": "Ready=Unknown"} and read["kubelets"] == {"w1": "v1.20.2"}


def test_not_ready_node_refuses_the_upgrade():
    exc = refused(
        r"^node w1 is not Ready \(Ready=False, KubeletNotReady\): an upgrade drains nodes one after another and "
        r"needs the others healthy; fix it, or list it in upgrade_ignore_not_ready$",
        us.check_ready,
        {"w1": "Ready=False, KubeletNotReady"},
        [],
        NODES,
    )
    assert exc.result == {}


def test_every_blocking_node_is_named_and_ignored_ones_are_not():
    not_ready = {"w2": "Ready=Unknown", "w1": "Ready=False", "cp3": "no Ready condition"}
    exc = refused(
        r"^node w1 is not Ready \(Ready=False\), node w2 is not Ready \(Ready=Unknown\): an upgrade",
        us.check_ready,
        not_ready,
        ["cp3"],
        NODES,
    )
    assert "cp3" not in str(exc)


def test_ignored_not_ready_node_marks_its_hosts_kubelet():
    nodes = {"cp1": "cp1.lab", "w1": "w1"}
    assert us.check_ready({"cp1.lab": "Ready=False", "stray": "Ready=Unknown"}, ["cp1.lab", "stray"], nodes) == ["cp1"]
    assert us.check_ready({}, [], nodes) == []


# --------------------------------------------------------------------------- etcd


def test_etcd_versions_of_every_member():
    assert us.read_etcd(ETCD, FakeEtcd()) == {"cp1": "3.4.23", "cp2": "3.4.23", "cp3": "3.4.23"}


def test_etcd_member_down_or_unhealthy_refuses_and_names_each():
    etcd = FakeEtcd(
        {
            ETCD["cp1"]: "3.5.16",
            ETCD["cp2"]: EtcdError(
                "%s: connection refused (is etcd running and listening there?)" % ETCD["cp2"],
                ETCD["cp2"],
                "unavailable",
            ),
            ETCD["cp3"]: ("3.4.23", (False, '/health answered HTTP 503 {"health":"false"}')),
        }
    )
    exc = refused(
        r"^etcd must be healthy on every member before an upgrade \(quorum is at stake while members restart\): "
        r"cp2: https://10.0.0.12:2379: connection refused \(is etcd running and listening there\?\); "
        r"cp3: https://10.0.0.13:2379: /health answered HTTP 503",
        us.read_etcd,
        ETCD,
        etcd,
    )
    assert exc.result == {"etcd": {"cp1": "3.5.16", "cp3": "3.4.23"}}


def test_etcd_error_without_endpoint_gets_the_url():
    etcd = FakeEtcd({ETCD["cp1"]: EtcdError("timed out", kind="timeout")})
    refused(r"restart\): cp1: https://10.0.0.11:2379: timed out$", us.read_etcd, {"cp1": ETCD["cp1"]}, etcd)


def test_etcd_status_without_version():
    etcd = FakeEtcd({ETCD["cp1"]: ""})
    refused(
        r"cp1: https://10.0.0.11:2379 answered its status without a version", us.read_etcd, {"cp1": ETCD["cp1"]}, etcd
    )


def test_etcd_client_configuration_error_is_not_called_unhealthy():
    etcd = FakeEtcd({ETCD["cp1"]: EtcdError("ca_cert /nope is not readable", kind="config")})
    exc = refused(
        r"^etcd client for cp1 \(https://10.0.0.11:2379\): ca_cert /nope", us.read_etcd, {"cp1": ETCD["cp1"]}, etcd
    )
    assert "quorum" not in str(exc)


def test_etcd_members_bad_input():
    refused("etcd_members must map inventory host names to URLs", us.read_etcd, ["x"], FakeEtcd())


# --------------------------------------------------------------------------- host_actions


def test_host_actions_every_inventory_host():
    plan = {
        "steps": [
            {"phase": "etcd", "hosts": ["e1"], "components": ["etcd"], "drain": False, "from": {"e1": {"etcd": "3.4"}}},
            {
                "phase": "control_plane",
                "hosts": ["cp1"],
                "components": ["apiserver"],
                "drain": False,
                "from": {"cp1": {"apiserver": "v1.20.2"}},
            },
            {
                "phase": "workers",
                "hosts": ["w1", "w2"],
                "components": ["kubelet", "containerd"],
                "drain": True,
                "from": {"w1": {"kubelet": "v1.20.2"}, "w2": {"containerd": "1.6.20"}},
            },
        ],
        "skipped": ["w3"],
    }
    actions = us.host_actions(plan, ["e1", "cp1", "w1", "w2", "w3"])
    assert actions == {
        "e1": dict(OFF, etcd=True),
        "cp1": dict(OFF, apiserver=True),
        "w1": dict(OFF, node=True, drain=True),
        "w2": dict(OFF, node=True, containerd=True, drain=True),
        "w3": OFF,
    }


# --------------------------------------------------------------------------- collect (everything together)


def params(**extra):
    base = {
        "apiservers": dict(URL),
        "apiserver_installed": {},
        "nodes": dict(NODES),
        "etcd_members": dict(ETCD),
        "etcd_hosts": list(CPS),
        "control_plane_hosts": list(CPS),
        "worker_hosts": ["w1"],
        "kube_version": "v1.20.2+kubesmith.1",
        "etcd_version": "3.5.16",
        "containerd_version": "1.7.24",
        "worker_batch": 1,
        "allow_downgrade": False,
        "ignore_not_ready": [],
    }
    base.update(extra)
    return base


def test_collect_issue_scenario():
    result = us.collect(params(), FakeApi(), FakeEtcd())
    assert result["changed"] is False
    assert result["current"] == {
        "apiservers": {h: "v1.20.2" for h in CPS},
        "kubelets": {h: "v1.20.2" for h in CPS + ["w1"]},
        "etcd": {h: "3.4.23" for h in CPS},
        "containerd": {h: "1.6.20" for h in CPS + ["w1"]},
    }
    assert result["unhealthy"] == {} and result["not_ready"] == []
    assert len(result["plan"]["steps"]) == 7 and result["summary"] == result["plan"]["summary"]
    assert result["pending"] == CPS + ["w1"]
    every = dict.fromkeys(OFF, True)
    assert result["hosts"] == {"cp1": every, "cp2": every, "cp3": every, "w1": dict(every, etcd=False, apiserver=False)}
    assert result["node_after_apiservers"] is False


def test_collect_resume_after_cp2_apiserver_died_and_w1_stayed_not_ready():
    api = FakeApi(
        {URL["cp1"]: "v1.20.2+kubesmith.1", URL["cp2"]: down(URL["cp2"]), URL["cp3"]: "v1.20.2"},
        nodes=[
            node("cp1", kubelet="v1.20.2+kubesmith.1", runtime="containerd://1.7.24"),
            node("cp2", kubelet="v1.20.2+kubesmith.1", runtime="containerd://1.7.24"),
            node("cp3"),
            node("w1", kubelet="v1.20.2+kubesmith.1", runtime="containerd://1.7.24", ready="False"),
        ],
    )
    etcd = FakeEtcd({ETCD[h]: "3.5.16" for h in CPS})
    result = us.collect(
        params(apiserver_installed={"cp2": "Kubernetes v1.20.2+kubesmith.1"}, ignore_not_ready=["w1"]), api, etcd
    )
    assert result["unhealthy"] == {"cp2": ["apiserver"], "w1": ["kubelet"]}
    assert result["not_ready"] == ["w1"]
    assert [(s["hosts"], s["components"]) for s in result["plan"]["steps"]] == [
        (["cp2"], ["apiserver"]),
        (["cp3"], ["apiserver", "kubelet", "containerd"]),
        (["w1"], ["kubelet"]),
    ]
    assert result["pending"] == ["cp2", "cp3", "w1"]
    assert result["hosts"]["cp1"] == OFF
    assert result["hosts"]["cp2"]["apiserver"] is True and result["hosts"]["cp2"]["drain"] is False
    assert result["hosts"]["w1"] == dict(OFF, node=True, drain=True)


def test_collect_minor_upgrade_puts_control_plane_nodes_after_apiservers():
    api = FakeApi({URL[h]: "v1.35.4" for h in CPS}, nodes=[node(n, "v1.35.4", "containerd://2.1.4") for n in NODES])
    result = us.collect(
        params(kube_version="v1.36.1", etcd_version=None, containerd_version=None),
        api,
        FakeEtcd({ETCD[h]: "3.6.5" for h in CPS}),
    )
    assert result["node_after_apiservers"] is True
    assert result["hosts"]["cp1"]["apiserver"] and result["hosts"]["cp1"]["node"]


def test_collect_failure_keeps_what_was_read():
    api = FakeApi(nodes=[node("cp1"), node("cp2"), node("cp3"), node("w1", ready="Unknown")])
    with pytest.raises(us.UpgradeStateError, match=r"^node w1 is not Ready \(Ready=Unknown\)") as info:
        us.collect(params(), api, FakeEtcd())
    result = info.value.result
    assert result["current"]["apiservers"] == {h: "v1.20.2" for h in CPS}
    assert result["current"]["kubelets"]["w1"] == "v1.20.2" and result["current"]["etcd"] == {}
    assert result["not_ready"] == ["w1"] and result["plan"] == {} and result["changed"] is False


def test_collect_apiserver_fallback_failure_keeps_earlier_hosts():
    api = FakeApi({URL["cp1"]: "v1.20.2", URL["cp2"]: down(URL["cp2"]), URL["cp3"]: "v1.20.2"})
    with pytest.raises(us.UpgradeStateError, match="the apiserver on cp2") as info:
        us.collect(params(), api, FakeEtcd())
    assert info.value.result["current"]["apiservers"] == {"cp1": "v1.20.2"}


def test_collect_etcd_unhealthy_keeps_node_versions():
    etcd = FakeEtcd({ETCD["cp1"]: "3.4.23", ETCD["cp2"]: "3.4.23", ETCD["cp3"]: ("3.4.23", (False, "no leader"))})
    with pytest.raises(us.UpgradeStateError, match=r"restart\): cp3: https://10.0.0.13:2379: no leader$") as info:
        us.collect(params(), FakeApi(), etcd)
    assert info.value.result["current"]["etcd"] == {h: "3.4.23" for h in CPS}  # cp3 answered, unhealthy
    assert len(info.value.result["current"]["kubelets"]) == 4


def test_collect_node_list_failure_names_the_call():
    api = FakeApi(nodes_error=KubeApiError("GET https://vip:6443/api/v1/nodes: HTTP 403 Forbidden", status=403))
    with pytest.raises(us.UpgradeStateError, match=r"^cannot list the Nodes: GET https://vip:6443/api/v1/nodes"):
        us.collect(params(), api, FakeEtcd())


def test_collect_planner_refusal_comes_with_the_versions_read():
    api = FakeApi({URL[h]: "v1.18.0" for h in CPS})
    with pytest.raises(us.UpgradeStateError, match=r"the apiserver on cp1 runs v1.18.0; .* would skip a minor") as info:
        us.collect(params(), api, FakeEtcd())
    assert info.value.result["current"]["apiservers"]["cp1"] == "v1.18.0" and info.value.result["plan"] == {}


def test_collect_worker_without_node_is_refused_by_the_planner():
    api = FakeApi(nodes=[node(n) for n in CPS])
    with pytest.raises(us.UpgradeStateError, match="no kubelets version for w1"):
        us.collect(params(), api, FakeEtcd())


def test_collect_other_runtime_without_containerd_target_plans_kubernetes_only():
    api = FakeApi(nodes=[node("cp1"), node("cp2"), node("cp3"), node("w1", runtime="docker://20.10.5")])
    result = us.collect(params(containerd_version=None), api, FakeEtcd())
    assert "w1" not in result["current"]["containerd"]
    assert result["hosts"]["w1"] == dict(OFF, node=True, drain=True)


def test_collect_containerd_unsupported_without_target_still_checked():
    api = FakeApi(nodes=[node(n, runtime="containerd://1.2.0") for n in NODES])
    with pytest.raises(us.UpgradeStateError, match="containerd 1.2.0 on cp1 does not work with Kubernetes"):
        us.collect(params(containerd_version=None), api, FakeEtcd())


def test_a_node_still_marked_by_an_interrupted_step_is_planned_again():
    """cp1 was drained and swapped, then the run stopped before uncordon: the annotation is still there."""
    marked = node("cp1", kubelet="v1.20.2+kubesmith.1", runtime="containerd://1.7.24")
    marked["metadata"]["annotations"] = {"kubesmith.io/upgrade": "v1.20.2+kubesmith.1", "other": "x"}
    api = FakeApi(
        {URL[h]: "v1.20.2+kubesmith.1" for h in CPS},
        nodes=[marked]
        + [node(n, kubelet="v1.20.2+kubesmith.1", runtime="containerd://1.7.24") for n in ("cp2", "cp3", "w1")],
    )
    etcd = FakeEtcd({ETCD[h]: "3.5.16" for h in CPS})
    result = us.collect(params(resume_annotation="kubesmith.io/upgrade"), api, etcd)
    assert result["unhealthy"] == {"cp1": ["kubelet"]}
    assert result["pending"] == ["cp1"]
    assert result["hosts"]["cp1"] == dict(OFF, node=True, drain=True)
    # without the option (or with it empty) the mark is not looked at
    assert us.collect(params(resume_annotation=""), api, etcd)["pending"] == []


def test_read_nodes_lists_marked_hosts_once_per_host():
    marked = node("cp2")
    marked["metadata"]["annotations"] = {"kubesmith.io/upgrade": "v1"}
    read = us.read_nodes([node("cp1"), marked], {"cp1": "cp1", "cp2": "cp2"}, False, "kubesmith.io/upgrade")
    assert read["marked"] == ["cp2"]
    assert us.read_nodes([marked], {"cp2": "cp2"}, False)["marked"] == []
