"""What scenario tests on a Kubernetes cluster share: hosts over ssh, kubectl, a small web workload.

Not a package: tests put molecule/shared on sys.path.
"""

import os
import time

import testinfra

KUBECTL = "/usr/local/bin/kubectl --kubeconfig /etc/kubernetes/admin.conf"
BUSYBOX = "localhost/kubesmith/busybox:1.35"  # built locally and preloaded by the scenarios (no registry)
SSH_OPTIONS = (
    "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5"
    " -o ControlMaster=auto -o ControlPath=/tmp/ks-testinfra-%r@%h -o ControlPersist=60s"
)


def ssh_host(address):
    """A testinfra host over ssh like Ansible, not `podman exec`: stopping a test host's container can remove the
    other containers' cgroup directories on this machine, after which `podman exec` fails."""
    key = os.environ.get("KS_SSH_KEY", "/var/cache/kubesmith/ssh/id_ed25519")
    return testinfra.get_host("ssh://root@" + address, ssh_identity_file=key, ssh_extra_args=SSH_OPTIONS)


def restart_window(host, unit="kube-apiserver"):
    """(stop began, running again) of ``unit`` on a testinfra ``host``, in seconds of the kernel's monotonic clock
    (the test hosts are containers on the controller's kernel: the same clock as time.monotonic() here)."""
    out = host.check_output("systemctl show %s -p ActiveExitTimestampMonotonic -p ActiveEnterTimestampMonotonic" % unit)
    values = dict(line.split("=", 1) for line in out.splitlines())
    return int(values["ActiveExitTimestampMonotonic"]) / 1e6, int(values["ActiveEnterTimestampMonotonic"]) / 1e6


def starts_since(host, since, unit="kube-apiserver"):
    """How many times systemd started ``unit`` on a testinfra ``host`` since ``since`` (seconds since the epoch: the
    test hosts are containers sharing the controller's clock), from the unit's journal."""
    out = host.check_output("journalctl -u %s -o cat --since @%d | grep -c '^Started ' || true" % (unit, int(since)))
    return int(out.strip())


def deadline_poll(check, seconds, interval=2):
    """Run ``check`` until it returns something truthy or ``seconds`` pass; return its last result."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)  # poll interval of a readiness check bounded by the deadline


def kubectl_apply(host, manifest):
    out = host.run("%s apply -f - <<'EOF'\n%s\nEOF" % (KUBECTL, manifest))
    if out.rc != 0:
        raise AssertionError(out.stdout + out.stderr)
    return out


def web_manifest(name="ks-web", replicas=2, pdb_min_available=None, pre_stop_seconds=0):
    """A Deployment of busybox httpd pods (each answers its own name on 8080) behind a ClusterIP Service on port 80;
    one replica per node (anti-affinity), control-plane nodes allowed. With ``pdb_min_available`` also a
    PodDisruptionBudget; with ``pre_stop_seconds`` an evicted pod keeps serving that long while the endpoints
    controller and every kube-proxy take it out of the Service (the usual graceful-shutdown pattern)."""
    lifecycle = ""
    grace = 0
    if pre_stop_seconds:
        lifecycle = '\n          lifecycle: {preStop: {exec: {command: [/bin/sleep, "%d"]}}}' % pre_stop_seconds
        grace = pre_stop_seconds + 5
    manifest = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: %(name)s, namespace: default}
spec:
  replicas: %(replicas)d
  selector: {matchLabels: {app: %(name)s}}
  template:
    metadata: {labels: {app: %(name)s}}
    spec:
      terminationGracePeriodSeconds: %(grace)d
      tolerations: [{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - {labelSelector: {matchLabels: {app: %(name)s}}, topologyKey: kubernetes.io/hostname}
      containers:
        - name: web
          image: %(image)s
          imagePullPolicy: Never
          command: [/bin/sh, -c, "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
          ports: [{containerPort: 8080}]
          readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 2}%(lifecycle)s
---
apiVersion: v1
kind: Service
metadata: {name: %(name)s, namespace: default}
spec:
  selector: {app: %(name)s}
  ports: [{port: 80, targetPort: 8080}]
""" % {"name": name, "replicas": replicas, "grace": grace, "image": BUSYBOX, "lifecycle": lifecycle}
    if pdb_min_available is not None:
        manifest += """---
apiVersion: policy/v1beta1
kind: PodDisruptionBudget
metadata: {name: %s, namespace: default}
spec:
  minAvailable: %d
  selector: {matchLabels: {app: %s}}
""" % (name, pdb_min_available, name)
    return manifest
