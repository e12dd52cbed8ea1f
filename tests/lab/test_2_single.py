"""The lab of `tools/lab up` (one host): etcd, control plane and workload node on it, a pod served through its
Service. Run by `tools/test lab` after tests/lab/test_1_lab.py; the files of tests/lab run in their order."""

import json
import os
import re
import sys

import pytest
import yaml
from support.lab import first_host, inventory

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "molecule", "shared"))
from kscluster import KUBECTL, deadline_poll, ssh_host  # noqa: E402  (shared scenario helpers, not a package)

NAME, ADDRESS = first_host()
WEB = """
apiVersion: v1
kind: Pod
metadata: {name: ks-web, namespace: default, labels: {app: ks-web}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - name: web
      image: localhost/kubesmith/busybox:1.35
      imagePullPolicy: Never
      command: [/bin/sh, -c, "mkdir -p /www && echo single-ok > /www/index.html && exec httpd -f -p 8080 -h /www"]
      readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 2}
---
apiVersion: v1
kind: Service
metadata: {name: ks-web, namespace: default}
spec:
  selector: {app: ks-web}
  ports: [{port: 80, targetPort: 8080}]
"""


def _host():
    return ssh_host(ADDRESS)  # over ssh like Ansible (see kscluster.ssh_host)


def test_every_component_runs_on_the_one_host():
    host = _host()
    for unit in (
        "etcd",
        "containerd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kubelet",
        "kube-proxy",
    ):
        assert host.service(unit).is_running, unit


def test_apiserver_stop_is_bounded_by_the_default():
    """control_plane_apiserver_stop_timeout's default (the lab's inventory leaves it unset): systemd ends
    kube-apiserver 20 s after SIGTERM instead of the minute it waits for open watches (Molecule cluster sets 5 s)."""
    timeout = _host().check_output("systemctl show kube-apiserver -p TimeoutStopUSec --value")
    assert timeout == "20s", timeout


# Every TLS port of the node: (label, address, port, client certificate the server requires or None).
ETCD_CLIENT = "-cert /etc/etcd/pki/healthcheck-client.crt -key /etc/etcd/pki/healthcheck-client.key"
ETCD_PEER = "-cert /etc/etcd/pki/peer.crt -key /etc/etcd/pki/peer.key"
TLS_PORTS = [
    ("etcd client", "127.0.0.1", 2379, ETCD_CLIENT),
    ("etcd peer", ADDRESS, 2380, ETCD_PEER),
    ("kube-apiserver", "127.0.0.1", 6443, None),
    ("kube-controller-manager", "127.0.0.1", 10257, None),
    ("kube-scheduler", "127.0.0.1", 10259, None),
    ("kubelet", ADDRESS, 10250, None),
]


def _handshake(host, address, port, ciphers, client, version="-tls1_2"):
    """openssl s_client offering one TLS version and the given ciphers -> (the cipher negotiated or None, whether
    the server answered with an alert, the output's start). The ECDSA and the RSA form of each suite are offered:
    our certificates are ECDSA, the controller-manager's and scheduler's self-made serving certificates RSA."""
    out = host.run(
        "openssl s_client -connect %s:%d %s -cipher '%s:@SECLEVEL=0' %s </dev/null 2>&1"
        % (address, port, version, ":".join(ciphers), client or "")
    )
    found = re.search(r"Cipher is (\S+)", out.stdout)
    cipher = found.group(1) if out.rc == 0 and found and found.group(1) != "(NONE)" else None
    return cipher, "alert" in out.stdout.lower(), out.stdout[:800]


GCM = ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256")
CBC = ("ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA")


@pytest.mark.parametrize("label,address,port,client", TLS_PORTS, ids=[p[0] for p in TLS_PORTS])
def test_tls_ports_offer_ecdhe_aead_suites_and_refuse_cbc_and_tls11(label, address, port, client):
    """The hardening default (kube_config.TLS_CIPHER_SUITES, etcd_tls_cipher_suites): a client offering only an
    ECDHE CBC suite, which Go's own defaults accept, is refused; the GCM suite of the same key type is served; a
    TLS 1.1 client is refused (no allowed suite exists before TLS 1.2, and the components ask for 1.2 at least)."""
    host = _host()
    cipher, _alert, output = _handshake(host, address, port, GCM, client)
    assert cipher in GCM, (label, output)
    cipher, alert, output = _handshake(host, address, port, CBC, client)
    assert cipher is None and alert, (label, "the server did not refuse a CBC suite", output)
    cipher, alert, output = _handshake(host, address, port, ("DEFAULT",), client, version="-tls1_1")
    assert cipher is None and alert, (label, "the server did not refuse TLS 1.1", output)


def test_the_node_is_ready_untainted_and_serves_a_pod_through_its_service():
    host = _host()
    node = json.loads(host.check_output("%s get node %s -o json" % (KUBECTL, NAME)))
    ready = [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert ready == ["True"]
    assert not node["spec"].get("taints"), node["spec"].get("taints")  # also a worker: no control-plane taint
    assert "node-role.kubernetes.io/control-plane" in node["metadata"]["labels"]
    applied = host.run("%s apply -f - <<'EOF'\n%s\nEOF" % (KUBECTL, WEB))
    assert applied.rc == 0, applied.stderr
    ready = host.run("%s wait --for=condition=Ready pod/ks-web --timeout=180s" % KUBECTL)
    assert ready.rc == 0, host.run("%s describe pod ks-web" % KUBECTL).stdout
    cluster_ip = host.check_output("%s get service ks-web -o jsonpath={.spec.clusterIP}" % KUBECTL)
    # kube-proxy rejects a Service's traffic until its endpoint reached the rules: a Ready pod can be a moment early
    answered = deadline_poll(
        lambda: host.run("curl -sS --max-time 5 http://%s/" % cluster_ip).stdout.strip() == "single-ok", 30
    )
    assert answered, host.run("curl -sS --max-time 5 http://%s/" % cluster_ip).stderr


def test_every_artifact_is_pinned_and_the_host_runs_the_pinned_kubelet():
    """tools/lab pins every lab artifact to the sha256 the build recorded and sets download_require_pins: the run
    above could not have used a file the mirror's own checksum files vouch for alone."""
    with open(inventory(), encoding="utf-8") as handle:
        lab_vars = yaml.safe_load(handle)["all"]["vars"]
    assert lab_vars["download_require_pins"] is True
    pins = lab_vars["download_pins"]
    (kubelet,) = [key for key in pins if key.startswith("dl.k8s.io/") and key.endswith("/kubelet")]
    running = _host().check_output("sha256sum $(readlink -f /usr/local/bin/kubelet)").split()[0]
    assert running == pins[kubelet]
