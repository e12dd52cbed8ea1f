"""Scenario `node`, Kubernetes part: a single control-plane host whose etcd runs on a dedicated host."""

import json

import pytest
import testinfra

CONTROL_PLANE, WORKER, ETCD_HOST = "ks-node-1", "ks-node-2", "ks-node-3"
ADDRESSES = {CONTROL_PLANE: "10.127.0.11", WORKER: "10.127.0.12"}
KUBECTL = "/usr/local/bin/kubectl --kubeconfig /etc/kubernetes/admin.conf"


def _host(name):
    return testinfra.get_host("podman://" + name)


def test_apiserver_uses_the_dedicated_etcd_host_only():
    unit = _host(CONTROL_PLANE).file("/etc/systemd/system/kube-apiserver.service").content_string
    assert "--etcd-servers=https://10.127.0.13:2379 " in unit.replace("\\\n", " ").replace("\n", " ")
    assert not _host(CONTROL_PLANE).service("etcd").is_enabled


@pytest.mark.parametrize(
    "unit", ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "containerd", "kubelet"]
)
def test_dedicated_etcd_host_runs_etcd_and_nothing_of_kubernetes(unit):
    etcd = _host(ETCD_HOST)
    assert etcd.service("etcd").is_running
    assert not etcd.file("/etc/systemd/system/%s.service" % unit).exists


def test_nodes_ready_control_plane_tainted():
    out = _host(CONTROL_PLANE).run("%s get nodes -o json" % KUBECTL)
    assert out.rc == 0, out.stderr
    nodes = {n["metadata"]["name"]: n for n in json.loads(out.stdout)["items"]}
    assert sorted(nodes) == sorted(ADDRESSES)
    for name, node in nodes.items():
        ready = [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready == ["True"], (name, node["status"]["conditions"])
        assert {"type": "InternalIP", "address": ADDRESSES[name]} in node["status"]["addresses"]
    taints = nodes[CONTROL_PLANE]["spec"].get("taints", [])
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in taints
    assert not nodes[WORKER]["spec"].get("taints")


def test_the_kubelet_runs_with_protect_kernel_defaults_and_the_etcd_host_keeps_its_kernel_tunables_file_small():
    for name in ADDRESSES:
        config = _host(name).file("/etc/kubernetes/kubelet-config.yaml").content_string
        assert "protectKernelDefaults: true" in config, name
        assert _host(name).service("kubelet").is_running, name  # it started: every tunable it checks is as it wants
    # the etcd-only host runs no kubelet: none of the kubelet's tunables is written there
    assert "kernel.panic" not in _host(ETCD_HOST).file("/etc/sysctl.d/90-kubesmith.conf").content_string
