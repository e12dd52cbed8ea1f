"""The lab (tools/test lab): add-ons from the inventory through playbooks/addons.yml.

A kustomize add-on (tests/lab/addons/demo: a Namespace, a ConfigMap, a Service, a ServiceAccount) and a
manifests add-on (tests/lab/addons/plain: a ConfigMap without namespace) are copied to a tmp directory and
changed step by step: applied (by field manager kubesmith, recorded), second run 0 changed, a changed value
(check mode first: reported, not applied), an object dropped from the kustomization (check mode first; then pruned,
the others and an object made by hand untouched), second run 0 changed, then state absent (everything and the
records gone). The tests run in file order and build on each other.
"""

import base64
import json
import os
import shutil
import sys

import pytest
import yaml
from support.lab import first_host

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "molecule", "shared"))
from kscluster import KUBECTL, deadline_poll, ssh_host  # noqa: E402  (shared scenario helpers, not a package)
from ksplay import recap, run_playbook  # noqa: E402

NAME, ADDRESS = first_host()
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "addons")
NAMESPACE = "ks-addon-demo"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("addons")
    shutil.copytree(os.path.join(FIXTURES, "demo"), str(root / "demo"))
    shutil.copytree(os.path.join(FIXTURES, "plain"), str(root / "plain"))
    return root


def _host():
    return ssh_host(ADDRESS)


def _vars(work, state="present"):
    path = work / ("vars-%s.yml" % state)
    addons = [
        {"name": "demo", "type": "kustomize", "path": str(work / "demo"), "state": state},
        {"name": "plain", "type": "manifests", "path": str(work / "plain"), "state": state},
    ]
    path.write_text(yaml.safe_dump({"addons_extra": addons}))
    return "@" + str(path)


def _run(work, *args, state="present"):
    rc, output = run_playbook("addons.yml", "-e", _vars(work, state), *args, timeout=600)
    assert rc == 0, output
    return recap(output)[NAME]["changed"], output


def _get(kind, name, namespace=NAMESPACE):
    out = _host().run("%s get %s %s -n %s -o json" % (KUBECTL, kind, name, namespace))
    return json.loads(out.stdout) if out.rc == 0 else None


def _record(name):
    cm = _get("configmap", "kubesmith-addon-" + name, "kube-system")
    return None if cm is None else json.loads(cm["data"]["objects"])


def _applied_by_kubesmith(obj):
    return any(
        m.get("manager") == "kubesmith" and m.get("operation") == "Apply"
        for m in obj["metadata"].get("managedFields") or []
    )


SECRET = "ks-addon-secret-b7d1e9"  # noqa: S105  (a test value: tests/lab/addons/demo/secret.yaml)


def test_applied_server_side_and_recorded_without_printing_the_secret(work):
    changed, output = _run(work, "-vvv", "--diff")
    assert changed > 0
    assert "demo-secret" in output  # the add-on's objects are named in the output, their values are not
    for value in (SECRET, base64.b64encode(SECRET.encode()).decode()):
        assert value not in output, "the add-on Secret's value is printed"
    secret = _get("secret", "demo-secret")
    assert secret is not None and base64.b64decode(secret["data"]["password"]).decode() == SECRET
    for kind, name in (
        ("namespace", NAMESPACE),
        ("configmap", "demo-settings"),
        ("service", "demo-web"),
        ("serviceaccount", "demo-sa"),
    ):
        obj = _get(kind, name)
        assert obj is not None, (kind, name)
        assert _applied_by_kubesmith(obj), (kind, obj["metadata"].get("managedFields"))
    assert _get("configmap", "demo-settings")["data"] == {"color": "blue"}
    plain = _get("configmap", "ks-addon-plain", "default")  # no namespace in the manifest: default
    assert plain is not None and _applied_by_kubesmith(plain)
    recorded = {(r["kind"], r["namespace"], r["name"]) for r in _record("demo")}
    assert recorded == {
        ("Namespace", "", NAMESPACE),
        ("ConfigMap", NAMESPACE, "demo-settings"),
        ("Service", NAMESPACE, "demo-web"),
        ("ServiceAccount", NAMESPACE, "demo-sa"),
        ("Secret", NAMESPACE, "demo-secret"),
    }
    assert [(r["kind"], r["namespace"]) for r in _record("plain")] == [("ConfigMap", "default")]


def test_second_run_changes_nothing(work):
    changed, _ = _run(work)
    assert changed == 0


def test_a_changed_value_is_reported_by_check_mode_then_applied(work):
    settings = work / "demo" / "cm.yaml"
    settings.write_text(settings.read_text().replace("color: blue", "color: green"))
    changed, _ = _run(work, "--check")
    assert changed > 0
    assert _get("configmap", "demo-settings")["data"] == {"color": "blue"}  # check mode changed nothing
    changed, _ = _run(work)
    assert changed > 0
    assert _get("configmap", "demo-settings")["data"] == {"color": "green"}


def test_an_object_dropped_from_the_kustomization_is_pruned_others_untouched(work):
    host = _host()
    made = host.run("%s -n %s create configmap by-hand --from-literal=owner=someone" % (KUBECTL, NAMESPACE))
    assert made.rc == 0, made.stderr
    uids = {
        kind: _get(kind, name)["metadata"]["uid"]
        for kind, name in (("configmap", "demo-settings"), ("service", "demo-web"))
    }
    kustomization = work / "demo" / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("  - sa.yaml\n", ""))

    changed, _ = _run(work, "--check")
    assert changed > 0
    assert _get("serviceaccount", "demo-sa") is not None  # check mode: reported, not deleted
    assert len(_record("demo")) == 5

    changed, _ = _run(work)
    assert changed > 0
    assert deadline_poll(lambda: _get("serviceaccount", "demo-sa") is None, 60), "demo-sa was not pruned"
    assert {
        kind: _get(kind, name)["metadata"]["uid"]
        for kind, name in (("configmap", "demo-settings"), ("service", "demo-web"))
    } == uids
    assert _get("configmap", "by-hand")["data"] == {"owner": "someone"}  # not kubesmith's: left alone
    assert "ServiceAccount" not in {r["kind"] for r in _record("demo")}

    changed, _ = _run(work)
    assert changed == 0


def test_state_absent_removes_the_addons_and_their_records(work):
    changed, _ = _run(work, "--check", state="absent")
    assert changed > 0
    assert _get("configmap", "demo-settings") is not None and _record("demo") is not None

    changed, _ = _run(work, state="absent")
    assert changed > 0
    assert _get("namespace", NAMESPACE, "default") is None  # kubectl delete waited until it was gone
    assert _get("configmap", "ks-addon-plain", "default") is None
    assert _record("demo") is None and _record("plain") is None

    changed, _ = _run(work, state="absent")
    assert changed == 0
