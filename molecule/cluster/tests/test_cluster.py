"""Scenario `cluster`: three stacked control-plane + etcd hosts and one worker on the v1.20.2 binaries."""

import json
import time

import pytest
import testinfra

CONTROL_PLANE = {"ks-cl-1": "10.127.0.41", "ks-cl-2": "10.127.0.42", "ks-cl-3": "10.127.0.43"}
WORKERS = {"ks-cl-4": "10.127.0.44"}
NODES = {**CONTROL_PLANE, **WORKERS}  # control-plane hosts are nodes too (tainted NoSchedule)
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
PKI = "/etc/kubernetes/pki"
KUBECTL = "/usr/local/bin/kubectl --kubeconfig /etc/kubernetes/admin.conf"
CLIENT = "--cacert %s/ca.crt --cert %s/apiserver-kubelet-client.crt --key %s/apiserver-kubelet-client.key" % (
    PKI,
    PKI,
    PKI,
)
ETCD = (
    "ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints https://127.0.0.1:2379 --cacert /etc/etcd/pki/ca.crt"
    " --cert /etc/etcd/pki/healthcheck-client.crt --key /etc/etcd/pki/healthcheck-client.key"
)
BUSYBOX_POD = """
apiVersion: v1
kind: Pod
metadata: {name: ks-busybox, namespace: default}
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - name: sleep
      image: localhost/kubesmith/busybox:1.35
      imagePullPolicy: Never
      command: [/bin/sleep, "3600"]
"""


FIRST = sorted(CONTROL_PLANE)[0]  # cluster-wide checks run once, from the first control-plane host


def _host(name):
    # tests choose their hosts by role (parametrized by name) instead of skipping the others
    return testinfra.get_host("podman://" + name)


def _running(host, unit):
    service = host.service(unit)
    assert service.is_running, host.run("journalctl -u %s --no-pager -n 60" % unit).stdout
    assert service.is_enabled


@pytest.mark.parametrize("name", sorted(CONTROL_PLANE))
@pytest.mark.parametrize("unit", ["kube-apiserver", "kube-controller-manager", "kube-scheduler"])
def test_control_plane_services_running(name, unit):
    _running(_host(name), unit)


@pytest.mark.parametrize("name", sorted(CONTROL_PLANE))
def test_apiserver_readyz_with_client_certificate_and_refuses_anonymous(name):
    host = _host(name)
    ready = host.run("curl -sS --max-time 5 %s https://127.0.0.1:6443/readyz" % CLIENT)
    assert ready.rc == 0 and ready.stdout.strip() == "ok", ready.stdout + ready.stderr
    anonymous = host.run(
        "curl -sS -o /dev/null -w '%%{http_code}' --max-time 5 --cacert %s/ca.crt https://127.0.0.1:6443/readyz" % PKI
    )
    assert anonymous.stdout.strip() == "401", anonymous.stdout + anonymous.stderr


@pytest.mark.parametrize("name", sorted(CONTROL_PLANE))
def test_encryption_and_audit_files_are_private(name):
    host = _host(name)
    for path in ("/etc/kubernetes/encryption-config.yaml", "/etc/kubernetes/audit-policy.yaml"):
        config = host.file(path)
        assert config.is_file and config.mode == 0o600 and config.user == "root", path
    assert host.file("/var/log/kubernetes/audit/audit.log").is_file


@pytest.mark.parametrize("name", sorted(NODES))
@pytest.mark.parametrize("unit", ["kubelet", "kube-proxy"])
def test_node_services_running(name, unit):
    _running(_host(name), unit)


def test_kubelet_refuses_anonymous_requests():
    host = _host(FIRST)
    for name, ip in NODES.items():
        out = host.run("curl -sk -o /dev/null -w '%%{http_code}' --max-time 5 https://%s:10250/pods" % ip)
        assert out.stdout.strip() == "401", (name, out.stdout, out.stderr)


def test_every_node_ready_with_the_version_asked():
    host = _host(FIRST)
    out = host.run("%s get nodes -o json" % KUBECTL)
    assert out.rc == 0, out.stderr
    nodes = {item["metadata"]["name"]: item for item in json.loads(out.stdout)["items"]}
    assert sorted(nodes) == sorted(NODES)
    for name, node in nodes.items():
        ready = [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready == ["True"], (name, node["status"]["conditions"])
        assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.20.2"
        assert {"type": "InternalIP", "address": NODES[name]} in node["status"]["addresses"]
        assert node["spec"].get("podCIDR"), name


def test_node_pools_labels_and_taints_from_the_inventory():
    host = _host(FIRST)
    nodes = {
        item["metadata"]["name"]: item
        for item in json.loads(host.run("%s get nodes -o json" % KUBECTL).stdout)["items"]
    }
    for name in CONTROL_PLANE:
        assert "node-role.kubernetes.io/control-plane" in nodes[name]["metadata"]["labels"], name
        assert CONTROL_PLANE_TAINT in nodes[name]["spec"].get("taints", []), name
    worker = nodes["ks-cl-4"]
    assert worker["metadata"]["labels"].get("kubesmith.test/pool") == "general"
    assert "node-role.kubernetes.io/control-plane" not in worker["metadata"]["labels"]
    assert worker["spec"].get("taints") == [
        {"key": "kubesmith.test/pool", "value": "general", "effect": "PreferNoSchedule"}
    ]


def test_secret_is_encrypted_in_etcd():
    host = _host(FIRST)
    host.run("%s delete secret ks-encrypted --ignore-not-found" % KUBECTL)
    created = host.run("%s create secret generic ks-encrypted --from-literal=word=plaintext-canary" % KUBECTL)
    assert created.rc == 0, created.stderr
    raw = host.run("%s get /registry/secrets/default/ks-encrypted --print-value-only" % ETCD)
    assert raw.rc == 0, raw.stderr
    assert raw.stdout_bytes.startswith(b"k8s:enc:aescbc:v1:key1:"), raw.stdout_bytes[:40]
    assert b"plaintext-canary" not in raw.stdout_bytes
    host.run("%s delete secret ks-encrypted" % KUBECTL)


def test_busybox_pod_runs_from_the_preloaded_image():
    host = _host(FIRST)
    host.run("%s delete pod ks-busybox --ignore-not-found --wait=true" % KUBECTL)
    # the default service account appears a moment after the controller-manager starts
    deadline = time.monotonic() + 60
    while True:
        created = host.run("%s apply -f - <<'EOF'\n%s\nEOF" % (KUBECTL, BUSYBOX_POD))
        if created.rc == 0 or time.monotonic() > deadline:
            break
        time.sleep(2)  # poll interval of a readiness check bounded by the deadline above
    assert created.rc == 0, created.stderr
    ready = host.run("%s wait --for=condition=Ready pod/ks-busybox --timeout=120s" % KUBECTL)
    described = host.run("%s describe pod ks-busybox" % KUBECTL).stdout
    assert ready.rc == 0, described
    out = host.run("%s get pod ks-busybox -o json" % KUBECTL)
    pod = json.loads(out.stdout)
    assert pod["spec"]["nodeName"] in WORKERS
    assert pod["status"]["phase"] == "Running"
    assert pod["status"]["podIP"], described
    host.run("%s delete pod ks-busybox --wait=false" % KUBECTL)
