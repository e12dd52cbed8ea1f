"""Scenario `single`: etcd, control plane and workload node on one host."""

import json
import os

import testinfra

ADDRESS = "10.127.0.51"
KUBECTL = "/usr/local/bin/kubectl --kubeconfig /etc/kubernetes/admin.conf"
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
    # over ssh like Ansible (see the cluster scenario for why not `podman exec`)
    key = os.environ.get("KS_SSH_KEY", "/var/cache/kubesmith/ssh/id_ed25519")
    options = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5"
    return testinfra.get_host("ssh://root@" + ADDRESS, ssh_identity_file=key, ssh_extra_args=options)


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


def test_the_node_is_ready_untainted_and_serves_a_pod_through_its_service():
    host = _host()
    node = json.loads(host.check_output("%s get node ks-single-1 -o json" % KUBECTL))
    ready = [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"]
    assert ready == ["True"]
    assert not node["spec"].get("taints"), node["spec"].get("taints")  # also a worker: no control-plane taint
    assert "node-role.kubernetes.io/control-plane" in node["metadata"]["labels"]
    applied = host.run("%s apply -f - <<'EOF'\n%s\nEOF" % (KUBECTL, WEB))
    assert applied.rc == 0, applied.stderr
    ready = host.run("%s wait --for=condition=Ready pod/ks-web --timeout=180s" % KUBECTL)
    assert ready.rc == 0, host.run("%s describe pod ks-web" % KUBECTL).stdout
    cluster_ip = host.check_output("%s get service ks-web -o jsonpath={.spec.clusterIP}" % KUBECTL)
    out = host.run("curl -sS --max-time 5 http://%s/" % cluster_ip)
    assert out.stdout.strip() == "single-ok", out.stdout + out.stderr
