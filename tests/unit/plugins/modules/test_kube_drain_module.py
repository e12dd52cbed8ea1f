"""kube_drain run as Ansible runs it (its own interpreter, JSON arguments) against a small stateful fake API server
over HTTP: nodes, pods, the Eviction subresource with a PodDisruptionBudget that blocks."""

import json
import os
import threading
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from support.modules import REPO, JsonServer, run_module_file

MODULE = os.path.join(REPO, "plugins", "modules", "kube_drain.py")


class Cluster(object):
    """State of the fake API: one node, pods, evictions blocked ``blocks[name]`` times (None: forever)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.unschedulable = False
        self.pods = {}
        self.blocks = {}
        self.log = []

    def add_pod(self, name, owner="ReplicaSet", ns="default"):
        refs = [{"kind": owner, "name": owner.lower() + "-1", "controller": True}] if owner else []
        self.pods[(ns, name)] = {
            "metadata": {"name": name, "namespace": ns, "uid": "u-" + name, "ownerReferences": refs},
            "spec": {"nodeName": "node1", "volumes": []},
            "status": {"phase": "Running"},
        }

    def handle(self, method, path, query, body):
        parts = [unquote(p) for p in path.strip("/").split("/")]
        self.log.append((method, path))
        if parts == ["api", "v1"]:
            return 200, {"resources": [{"name": "pods/eviction", "group": "policy", "version": "v1beta1"}]}
        if parts[:3] == ["api", "v1", "nodes"]:
            if parts[3] != "node1":
                return 404, {"kind": "Status", "reason": "NotFound", "message": 'nodes "%s" not found' % parts[3]}
            if method == "PATCH":
                self.unschedulable = body["spec"]["unschedulable"]
            return 200, {"metadata": {"name": "node1"}, "spec": {"unschedulable": self.unschedulable}}
        if parts == ["api", "v1", "pods"]:
            assert query["fieldSelector"] == ["spec.nodeName=node1"]
            return 200, {"items": list(self.pods.values()), "metadata": {}}
        ns, name = parts[3], parts[5]
        if (ns, name) not in self.pods:
            return 404, {"kind": "Status", "reason": "NotFound", "details": {"kind": "pods", "name": name}}
        if method == "POST" and parts[-1] == "eviction":
            assert body["apiVersion"] == "policy/v1beta1", body
            left = self.blocks.get(name, 0)
            if left is None or left > 0:
                if left:
                    self.blocks[name] = left - 1
                return 429, {
                    "kind": "Status",
                    "reason": "TooManyRequests",
                    "message": "Cannot evict pod as it would violate the pod's disruption budget.",
                    "details": {
                        "causes": [{"reason": "DisruptionBudget", "message": "The disruption budget web-pdb "}]
                    },
                }
            del self.pods[(ns, name)]
            return 201, {"kind": "Status", "status": "Success"}
        return 200, self.pods[(ns, name)]


@pytest.fixture
def cluster():
    state = Cluster()

    def answer(method, path, raw):
        url = urlsplit(path)
        with state.lock:
            return state.handle(method, url.path, parse_qs(url.query), json.loads(raw) if raw else None)

    server = JsonServer(answer)
    state.url = server.url
    yield state
    server.close()


def run(tmp_path, cluster, check_mode=False, **args):
    args = dict(dict(node="node1", api_url=cluster.url, retry_interval=0.05, timeout=10), **args)
    args = {k: v for k, v in args.items() if v is not None}  # None: option left out
    return run_module_file(MODULE, tmp_path, args, check_mode=check_mode)


def test_drain_then_idempotent_then_uncordon(tmp_path, cluster):
    cluster.add_pod("web-1")
    cluster.add_pod("kube-proxy-x", owner="DaemonSet", ns="kube-system")
    cluster.blocks["web-1"] = 2

    rc, planned = run(tmp_path, cluster, check_mode=True)
    assert rc == 0 and planned["changed"] is True and planned["evicted"] == ["default/web-1"], planned
    assert cluster.unschedulable is False and ("default", "web-1") in cluster.pods

    rc, result = run(tmp_path, cluster)
    assert rc == 0 and result["changed"] is True, result
    assert result["evicted"] == ["default/web-1"] and result["eviction_api"] == "policy/v1beta1"
    assert result["skipped"] == [{"pod": "kube-system/kube-proxy-x", "reason": "DaemonSet pod (DaemonSet daemonset-1)"}]
    assert cluster.unschedulable is True and ("default", "web-1") not in cluster.pods
    assert sum(1 for m, p in cluster.log if m == "POST") == 3  # refused twice by the budget, then evicted

    rc, again = run(tmp_path, cluster)
    assert rc == 0 and again["changed"] is False and again["evicted"] == [], again

    rc, back = run(tmp_path, cluster, state="uncordoned")
    assert rc == 0 and back["changed"] is True and cluster.unschedulable is False
    rc, back = run(tmp_path, cluster, state="uncordoned")
    assert back["changed"] is False


def test_blocked_past_timeout_fails_and_uncordons(tmp_path, cluster):
    cluster.add_pod("web-1")
    cluster.blocks["web-1"] = None
    rc, result = run(tmp_path, cluster, timeout=0.3)
    assert rc != 0 and result["failed"] is True, result
    assert "draining node1 timed out after 0.3s" in result["msg"]
    assert "default/web-1: PodDisruptionBudget web-pdb" in result["msg"]
    assert result["msg"].endswith("node1 was uncordoned again")
    assert result["blocked"][0]["pdb"] == "web-pdb" and result["uncordoned"] is True
    assert cluster.unschedulable is False and ("default", "web-1") in cluster.pods


def test_bare_pod_refused_without_force(tmp_path, cluster):
    cluster.add_pod("debug", owner=None)
    rc, result = run(tmp_path, cluster)
    assert result["failed"] is True and "default/debug not managed by a controller" in result["msg"], result
    assert result["refused"][0]["pod"] == "default/debug"
    assert cluster.unschedulable is False and not [m for m, _ in cluster.log if m != "GET"]
    rc, forced = run(tmp_path, cluster, force=True)
    assert rc == 0 and forced["evicted"] == ["default/debug"], forced


def test_errors_are_clear(tmp_path, cluster):
    rc, missing = run(tmp_path, cluster, node="node9")
    assert missing["failed"] is True and "node node9 does not exist" in missing["msg"], missing
    rc, bad = run(tmp_path, cluster, retry_interval=0)
    assert bad["failed"] is True and "retry_interval must be a positive" in bad["msg"], bad
    rc, files = run(tmp_path, cluster, api_url="https://127.0.0.1:1", ca_file=str(tmp_path / "nope.crt"))
    assert files["failed"] is True and "nope.crt does not exist" in files["msg"], files
    rc, pair = run(tmp_path, cluster, client_cert="/x.crt")
    assert pair["failed"] is True and "client_cert" in pair["msg"] and "client_key" in pair["msg"], pair


def test_kubeconfig_connection(tmp_path, cluster):
    conf = tmp_path / "admin.conf"
    conf.write_text(
        'clusters:\n- cluster:\n    server: "%s"\n  name: k\nusers:\n- name: admin\n  user:\n'
        "    client-certificate: admin.crt\n    client-key: admin.key\n" % cluster.url
    )
    rc, result = run(tmp_path, cluster, api_url=None, kubeconfig=str(conf), state="cordoned")
    assert rc == 0 and result["changed"] is True and cluster.unschedulable is True, result
    rc, both = run(tmp_path, cluster, kubeconfig=str(conf), ca_file="/x")
    assert both["failed"] is True and "mutually exclusive" in both["msg"], both
    rc, neither = run(tmp_path, cluster, api_url=None)
    assert neither["failed"] is True and "one of the following is required" in neither["msg"], neither
