"""Scenario `single`: etcd, control plane and workload node on one host."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
from kscluster import KUBECTL, deadline_poll, ssh_host  # noqa: E402  (shared scenario helpers, not a package)
from ksplay import recap, run_playbook  # noqa: E402

ADDRESS = "10.127.0.51"
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
    # kube-proxy rejects a Service's traffic until its endpoint reached the rules: a Ready pod can be a moment early
    answered = deadline_poll(
        lambda: host.run("curl -sS --max-time 5 http://%s/" % cluster_ip).stdout.strip() == "single-ok", 30
    )
    assert answered, host.run("curl -sS --max-time 5 http://%s/" % cluster_ip).stderr


SERVICES = ["kubelet", "kube-proxy", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"]
SERVICES += ["containerd"]
REMOVED = [
    "/etc/kubernetes",
    "/var/lib/etcd",
    "/etc/etcd",
    "/etc/containerd",
    "/opt/kubesmith",
    "/etc/cni/net.d",
    "/etc/systemd/system/kubelet.service",
    "/usr/local/libexec/kubesmith",
]


def test_reset_needs_confirmation_removes_the_footprint_and_site_builds_it_again():
    """Last in this scenario: the host is reset, then built again by site.yml."""
    host = _host()
    rc, output = run_playbook("reset.yml")
    assert rc != 0 and "-e reset_confirm=true" in output, output[-2000:]
    stats = recap(output)
    assert list(stats) == ["ks-single-1"] and stats["ks-single-1"]["changed"] == 0, stats
    assert host.service("kubelet").is_running

    # a blank path variable stops the reset before anything is stopped, unmounted or removed
    rc, output = run_playbook("reset.yml", "-e", "reset_confirm=true", "-e", "containerd_root_dir=")
    assert rc != 0 and "containerd_root_dir is empty" in " ".join(output.split()), output[-2000:]  # unwrapped
    stats = recap(output)
    assert list(stats) == ["ks-single-1"] and stats["ks-single-1"]["changed"] == 0, stats
    assert host.service("kubelet").is_running and host.service("containerd").is_running
    assert host.file("/etc/kubernetes/admin.conf").exists

    rc, output = run_playbook("reset.yml", "-e", "reset_confirm=true", timeout=600)
    assert rc == 0, output[-3000:]
    for unit in SERVICES + ["kubesmith-pod-network"]:
        assert not host.service(unit).is_running, unit
    for path in REMOVED:
        assert not host.file(path).exists, path
    assert host.run("pgrep -x containerd-shim").rc == 1, "containers left running"
    links = host.run("find /usr/local/bin /usr/local/sbin /opt/cni -maxdepth 1 -type l -lname '/opt/kubesmith/*'")
    assert links.stdout.strip() == "", links.stdout
    chains = host.run("iptables-save | grep -cE 'KUBE-|KUBESMITH-|CNI-'")
    assert chains.stdout.strip() == "0", host.run("iptables-save").stdout
    assert host.run("findmnt -rn -o TARGET | grep -E '^/var/lib/kubelet/'").rc == 1
    for root in ("/var/lib/kubelet", "/var/lib/containerd"):  # may be mount points: emptied
        assert host.run("ls -A %s 2>/dev/null" % root).stdout.strip() == "", root

    rc, output = run_playbook("site.yml", timeout=1200)
    assert rc == 0, output[-3000:]
    node = json.loads(host.check_output("%s get node ks-single-1 -o json" % KUBECTL))
    assert [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"] == ["True"]
