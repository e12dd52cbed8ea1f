"""Scenario `cluster`, day 2 (runs after test_cluster.py, in order, on the same cluster): the quorum guard of
remove_node.yml; scale.yml adding a control-plane host (ks-cl-5) and a worker (ks-cl-6) and growing etcd from 3 to 5
members (ks-cl-5, and the running worker ks-cl-4); removing the new worker, resetting it and bringing it back with
scale.yml --limit; a scale.yml run that changes nothing; removing the new control-plane host, a stacked etcd member.

ks-cl-5 and ks-cl-6 start in group `spare` (created, outside the cluster); an extra inventory source puts them in
control_plane and workers, and ks-cl-4 and ks-cl-5 in etcd (5 members: an odd count, as preflight wants)."""

import base64
import http.client
import json
import os
import ssl
import sys
import tempfile
import threading
import time

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
# shared scenario helpers (molecule/shared, not a package)
from kscluster import BUSYBOX, KUBECTL, kubectl_apply, restart_window, ssh_host, starts_since  # noqa: E402
from kscluster import deadline_poll as _deadline_poll  # noqa: E402
from ksplay import one_at_a_time, recap, report_figure, run_playbook  # noqa: E402

CONTROL_PLANE = {"ks-cl-1": "10.127.0.41", "ks-cl-2": "10.127.0.42", "ks-cl-3": "10.127.0.43"}
NEW_CONTROL_PLANE, NEW_WORKER = ("ks-cl-5", "10.127.0.45"), ("ks-cl-6", "10.127.0.46")
ALL = {
    **CONTROL_PLANE,
    "ks-cl-4": "10.127.0.44",
    NEW_CONTROL_PLANE[0]: NEW_CONTROL_PLANE[1],
    NEW_WORKER[0]: NEW_WORKER[1],
}
NEW_ETCD = ("ks-cl-4", NEW_CONTROL_PLANE[0])  # a running worker becomes an etcd member too
FIRST = "ks-cl-1"
VIP, LB_PORT = "10.127.0.40", 8443
ETCD = (
    "ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints https://127.0.0.1:2379 --cacert /etc/etcd/pki/ca.crt"
    " --cert /etc/etcd/pki/healthcheck-client.crt --key /etc/etcd/pki/healthcheck-client.key"
)
MOVER = (
    """
apiVersion: apps/v1
kind: Deployment
metadata: {name: ks-mover, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: ks-mover}}
  template:
    metadata: {labels: {app: ks-mover}}
    spec:
      terminationGracePeriodSeconds: 0
      affinity:
        nodeAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              preference: {matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [ks-cl-6]}]}
      containers:
        - name: sleep
          image: %s
          imagePullPolicy: Never
          command: [/bin/sleep, "3600"]
"""
    % BUSYBOX
)
PINNED_WEB = (
    """
apiVersion: v1
kind: Pod
metadata: {name: ks-on-6, namespace: default}
spec:
  terminationGracePeriodSeconds: 0
  nodeSelector: {kubernetes.io/hostname: ks-cl-6}
  containers:
    - name: web
      image: %s
      imagePullPolicy: Never
      command: [/bin/sh, -c, "mkdir -p /www && echo ks-on-6 > /www/index.html && exec httpd -f -p 8080 -h /www"]
      readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 2}
"""
    % BUSYBOX
)


def _host(name):
    return ssh_host(ALL[name])


def _kubectl(command, host=FIRST):
    return _host(host).run("%s %s" % (KUBECTL, command))


def _json(command):
    out = _kubectl(command + " -o json")
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)


def _grown():
    path = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "cluster-grown.yml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(
            "all:\n  children:\n"
            "    control_plane:\n      hosts:\n        %s: {}\n"
            % NEW_CONTROL_PLANE[0]
            + "    workers:\n      hosts:\n        %s: {}\n" % NEW_WORKER[0]
            + "    etcd:\n      hosts:\n%s" % "".join("        %s: {}\n" % h for h in NEW_ETCD)
        )
    return [path]


def _etcd_healthy():
    out = _host(FIRST).run("%s endpoint health --cluster" % ETCD)
    return out.rc == 0 and (out.stdout + out.stderr).count("is healthy") == len(CONTROL_PLANE)


def _members():
    """etcd's members: name -> is a learner (names only once started)."""
    out = _host(FIRST).run("%s member list -w json" % ETCD)
    assert out.rc == 0, out.stderr
    return {m.get("name", ""): bool(m.get("isLearner")) for m in json.loads(out.stdout)["members"]}


def _apiserver_etcd_servers(name):
    """The --etcd-servers of the running kube-apiserver (its command line: proves it was restarted with them)."""
    line = _host(name).check_output("pgrep -a kube-apiserver")
    flag = next(arg for arg in line.split() if arg.startswith("--etcd-servers="))
    return flag.split("=", 1)[1].split(",")


def _pods():
    """Every pod of the cluster: uid -> (namespace/name, node, restarts)."""
    pods = {}
    for pod in _json("get pods -A")["items"]:
        restarts = sum(c.get("restartCount", 0) for c in pod["status"].get("containerStatuses", []))
        name = "%s/%s" % (pod["metadata"]["namespace"], pod["metadata"]["name"])
        pods[pod["metadata"]["uid"]] = (name, pod["spec"].get("nodeName"), restarts)
    return pods


def _node_ready(name, version="v1.20.2"):
    out = _kubectl("get node %s -o json" % name)
    if out.rc != 0:
        return False
    node = json.loads(out.stdout)
    ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
    return bool(ready) and ready[0]["status"] == "True" and node["status"]["nodeInfo"]["kubeletVersion"] == version


def _unchanged(output):
    return {h: s["changed"] for h, s in recap(output).items() if s["changed"]} == {}


def test_removing_an_etcd_member_while_another_is_stopped_is_refused():
    assert _deadline_poll(_etcd_healthy, 120), "etcd not healthy before the check"
    stopped = _host("ks-cl-3")
    assert stopped.run("systemctl stop etcd").rc == 0
    try:
        rc, output = run_playbook("remove_node.yml", "-e", "node=ks-cl-2")
        assert rc != 0 and "refusing the change" in output and "ks-cl-3" in output, output[-3000:]
        assert _unchanged(output), recap(output)
        node = _json("get node ks-cl-2")
        assert not node["spec"].get("unschedulable"), "the refusal came before the drain"
        assert _host("ks-cl-2").service("etcd").is_running
    finally:
        stopped.run("systemctl start etcd")
    assert _deadline_poll(_etcd_healthy, 120), "etcd not healthy after the check"


def _sha256s(names, paths):
    return {n: _host(n).check_output("sha256sum %s" % " ".join(paths)) for n in names}


def test_a_new_host_listed_first_in_control_plane_is_refused_before_any_pki_change():
    """The newcomer's likeliest mistake when growing a cluster: the new host put first in group control_plane, where
    kubesmith looks for the CAs. site.yml stops in preflight with the cause and the fix in its message, before
    anything changes on any host (certificates, keys and the encryption file checked byte for byte); the cluster
    keeps serving."""
    first = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "new-host-first.yml")
    with open(first, "w", encoding="utf-8") as handle:
        handle.write("all:\n  children:\n    control_plane:\n      hosts:\n        %s: {}\n" % NEW_CONTROL_PLANE[0])
    kept = [
        "/etc/kubernetes/pki/ca.crt",
        "/etc/kubernetes/pki/ca.key",
        "/etc/kubernetes/pki/sa.key",
        "/etc/etcd/pki/ca.key",
        "/etc/kubernetes/encryption-config.yaml",
    ]
    before = _sha256s(CONTROL_PLANE, kept)
    _kubectl("delete secret ks-new-first --ignore-not-found")
    assert _kubectl("create secret generic ks-new-first --from-literal=word=still-here").rc == 0
    rc, output = run_playbook("site.yml", inventories_first=[first], timeout=900)
    flat = " ".join(output.split())  # the callback wraps long messages
    assert rc != 0, output[-3000:]
    assert "missing on the primary control-plane host %s" % NEW_CONTROL_PLANE[0] in flat, output[-3000:]
    assert "If %s is a new host, list a control-plane host that already runs first" % NEW_CONTROL_PLANE[0] in flat
    stats = recap(output)
    assert NEW_CONTROL_PLANE[0] in stats, stats  # it really was in the play
    assert _unchanged(output), stats  # refused by preflight, before the node step writes any host's /etc/hosts
    assert not _host(NEW_CONTROL_PLANE[0]).file("/etc/kubernetes/pki").exists, "no PKI file was written"
    assert _sha256s(CONTROL_PLANE, kept) == before
    for name, address in CONTROL_PLANE.items():
        word = _kubectl(
            "--server https://%s:6443 get secret ks-new-first -o jsonpath={.data.word}" % address, host=name
        )
        assert base64.b64decode(word.stdout) == b"still-here", (name, word.stderr)
    _kubectl("delete secret ks-new-first")


class _VipReader(threading.Thread):
    """GET /readyz through the VIP from the controller, a new connection every 0.2 s (so each one is balanced
    again), as the admin (the fetched admin.conf). Records (time.monotonic(), ok, error) per read: the hosts are
    containers on this kernel, so the times compare with systemd's monotonic timestamps on the hosts."""

    def __init__(self):
        super().__init__(daemon=True)
        path = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "private", "admin.conf")
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
        cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
        self._dir = tempfile.TemporaryDirectory()
        files = {}
        for key in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
            files[key] = os.path.join(self._dir.name, key)
            with open(files[key], "wb") as handle:
                handle.write(base64.b64decode((cluster if key.startswith("certificate") else user)[key]))
        self._context = ssl.create_default_context(cafile=files["certificate-authority-data"])
        self._context.load_cert_chain(files["client-certificate-data"], files["client-key-data"])
        self.reads, self._halt = [], threading.Event()  # not _stop: threading.Thread has one

    def run(self):
        while not self._halt.is_set():
            at, ok, error = time.monotonic(), False, ""
            try:
                connection = http.client.HTTPSConnection(VIP, LB_PORT, timeout=5, context=self._context)
                connection.request("GET", "/readyz")
                response = connection.getresponse()
                ok, error = response.status == 200, "HTTP %d" % response.status
                connection.close()
            except (OSError, http.client.HTTPException) as exc:
                error = repr(exc)
            self.reads.append((at, ok, error))
            self._halt.wait(0.2)  # the reader's pace, not a wait for anything

    def stop(self):
        self._halt.set()
        self.join(10)
        self._dir.cleanup()
        return self.reads


def test_scale_adds_a_control_plane_host_and_a_worker_without_touching_the_workloads():
    before = _pods()
    assert before
    reader = _VipReader()
    started, wall_start = time.monotonic(), time.time()
    reader.start()
    try:
        rc, output = run_playbook("scale.yml", inventories=_grown(), timeout=1200)
    finally:
        reads = reader.stop()
    assert rc == 0, output[-4000:]
    # each apiserver started once: the serial play's later batches do not restart the hosts of earlier ones again
    starts = {name: starts_since(_host(name), wall_start) for name in (*CONTROL_PLANE, NEW_CONTROL_PLANE[0])}
    assert starts == dict.fromkeys(starts, 1), starts
    # one apiserver at a time: each running apiserver restarted (for the 5 etcd endpoints), the windows from stop to
    # running again do not overlap, and the API answered through the VIP between one restart and the next
    windows = sorted(restart_window(_host(name)) for name in CONTROL_PLANE)
    failed = [(at, error) for at, ok, error in reads if not ok]
    report_figure(
        "scale.yml: apiserver restart windows %s s after the start; %d of %d reads through the VIP failed"
        % ([(round(a - started, 1), round(b - started, 1)) for a, b in windows], len(failed), len(reads))
    )
    assert len(reads) > 100 and all(down > started for down, _ in windows), (windows, started)
    assert one_at_a_time(windows, [(at, ok) for at, ok, _ in reads]) == [], windows
    assert len(failed) <= len(reads) // 10, failed  # haproxy retries a refused connection on another apiserver
    assert "adding ks-cl-4, ks-cl-5, ks-cl-6" in output  # ks-cl-4: a new etcd member
    for name in (NEW_CONTROL_PLANE[0], NEW_WORKER[0]):
        assert _deadline_poll(lambda name=name: _node_ready(name), 120), name
    after = _pods()
    for uid, (name, _node, restarts) in before.items():
        assert uid in after, "%s was replaced" % name
        assert after[uid][2] == restarts, "%s restarted" % name
    # etcd grew to 5 voting members (learners promoted) and every apiserver runs with the 5 endpoints
    members = _members()
    assert sorted(members) == sorted([*CONTROL_PLANE, *NEW_ETCD]) and not any(members.values()), members
    for name in (*CONTROL_PLANE, NEW_CONTROL_PLANE[0]):
        servers = _apiserver_etcd_servers(name)
        assert all(any(ALL[m] + ":" in url for url in servers) for m in members), (name, servers)
    # every apiserver certificate names the new host, on disk and as served
    for name in (*CONTROL_PLANE, NEW_CONTROL_PLANE[0]):
        host = _host(name)
        text = host.check_output("openssl x509 -noout -text -in /etc/kubernetes/pki/apiserver.crt")
        assert "IP Address:%s" % NEW_CONTROL_PLANE[1] in text, name
        served = host.run(
            "echo | openssl s_client -connect 127.0.0.1:6443 2>/dev/null | openssl x509 -noout -text"
        ).stdout
        assert "IP Address:%s" % NEW_CONTROL_PLANE[1] in served, "%s serves an old certificate" % name
    # one VIP holder among the old and new load balancers (the new keepalived heard the holder and stayed BACKUP)
    holders = [n for n in (*CONTROL_PLANE, NEW_CONTROL_PLANE[0]) if VIP in _host(n).check_output("ip -o -4 addr")]
    assert len(holders) == 1, holders
    # the load balancer sends requests to the new apiserver: haproxy's counters on the VIP holder
    lb = _host(holders[0])
    for _ in range(30):
        lb.run("curl -sk -o /dev/null https://%s:%d/version" % (VIP, LB_PORT))
    stats = lb.check_output("curl -s 'http://127.0.0.1:8404/stats;csv'")
    rows = [line.split(",") for line in stats.splitlines() if line and not line.startswith("#")]
    new = [r for r in rows if r[1] == NEW_CONTROL_PLANE[0]]
    assert new and new[0][17] == "UP" and int(new[0][7]) > 0, stats  # status, stot (sessions)


def test_remove_node_drains_deletes_and_stops_a_worker():
    kubectl_apply(_host(FIRST), MOVER)
    placed = lambda: [  # noqa: E731
        p["spec"].get("nodeName")
        for p in _json("get pods -l app=ks-mover")["items"]
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    ]
    assert _deadline_poll(lambda: placed() == [NEW_WORKER[0]], 120), placed()
    rc, output = run_playbook("remove_node.yml", "-e", "node=%s" % NEW_WORKER[0], inventories=_grown())
    assert rc == 0, output[-4000:]
    assert _kubectl("get node %s" % NEW_WORKER[0]).rc != 0, "the Node is gone"
    assert _deadline_poll(lambda: len(placed()) == 1 and placed()[0] != NEW_WORKER[0], 120), placed()
    host = _host(NEW_WORKER[0])
    for unit in ("kubelet", "kube-proxy", "containerd"):
        assert not host.service(unit).is_running, unit
        assert not host.service(unit).is_enabled, unit


def test_a_reset_worker_comes_back_with_scale_limit_and_its_pods_are_reachable():
    rc, output = run_playbook("reset.yml", "-e", "reset_confirm=true", "--limit", NEW_WORKER[0], inventories=_grown())
    assert rc == 0, output[-3000:]
    host = _host(NEW_WORKER[0])
    assert not host.file("/etc/kubernetes").exists and not host.file("/usr/local/bin/kubelet").exists
    for unit in ("kubelet", "kube-proxy", "containerd", "kubesmith-pod-network"):
        assert not host.service(unit).is_running and not host.file("/etc/systemd/system/%s.service" % unit).exists
    chains = host.run("iptables-save | grep -cE 'KUBE-|KUBESMITH-|CNI-'")
    assert chains.stdout.strip() == "0", host.run("iptables-save").stdout
    rc, output = run_playbook("scale.yml", "--limit", NEW_WORKER[0], inventories=_grown(), timeout=900)
    assert rc == 0, output[-4000:]
    assert set(recap(output)) == {NEW_WORKER[0]}, "only the limited host is in the play"
    assert _deadline_poll(lambda: _node_ready(NEW_WORKER[0]), 120)
    # the other nodes route to its (new) pod CIDR: their routes were updated through delegation
    kubectl_apply(_host(FIRST), PINNED_WEB)
    ready = "get pod ks-on-6 -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}'"
    assert _deadline_poll(lambda: _kubectl(ready).stdout.strip() == "True", 120), _kubectl(
        "describe pod ks-on-6"
    ).stdout
    pod_ip = _kubectl("get pod ks-on-6 -o jsonpath='{.status.podIP}'").stdout.strip()
    for name in (FIRST, "ks-cl-4"):
        answer = _host(name).run("curl -s --max-time 5 http://%s:8080/" % pod_ip)
        assert answer.stdout.strip() == "ks-on-6", (name, answer.stderr)


def test_scale_again_changes_nothing():
    rc, output = run_playbook("scale.yml", inventories=_grown(), timeout=900)
    assert rc == 0, output[-3000:]
    assert "nothing to add" in output
    assert _unchanged(output), recap(output)


def test_remove_node_takes_a_control_plane_host_out_of_the_load_balancers():
    name, address = NEW_CONTROL_PLANE
    wall_start = time.time()
    rc, output = run_playbook("remove_node.yml", "-e", "node=%s" % name, inventories=_grown())
    assert rc == 0, output[-4000:]
    # the other apiservers restarted once each (their serial play's later batches did not restart earlier hosts)
    starts = {other: starts_since(_host(other), wall_start) for other in CONTROL_PLANE}
    assert starts == dict.fromkeys(CONTROL_PLANE, 1), starts
    assert _kubectl("get node %s" % name).rc != 0, "the Node is gone"
    gone = _host(name)
    for unit in ("kube-apiserver", "haproxy", "keepalived", "kubelet"):
        assert not gone.service(unit).is_running, unit
    assert not gone.service("etcd").is_running and not gone.service("etcd").is_enabled
    # its etcd member is gone and no apiserver is left pointing at it (each was restarted without it)
    assert name not in _members() and len(_members()) == 4, _members()
    for other in CONTROL_PLANE:
        config = _host(other).check_output("cat /etc/haproxy/haproxy.cfg /etc/keepalived/keepalived.conf")
        assert address not in config, "%s still lists %s" % (other, name)
        assert not any(address + ":" in url for url in _apiserver_etcd_servers(other)), other
    holders = [n for n in CONTROL_PLANE if VIP in _host(n).check_output("ip -o -4 addr")]
    assert len(holders) == 1, holders
    assert _kubectl("get --raw /readyz").rc == 0
