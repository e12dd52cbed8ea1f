"""Scenario `cluster`: three stacked control-plane + etcd hosts and one worker on the v1.20.2 binaries."""

import base64
import json
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
from kscluster import deadline_poll as _deadline_poll  # noqa: E402  (shared scenario helpers, not a package)
from kscluster import restart_window, ssh_host  # noqa: E402
from ksplay import one_at_a_time, recap, report_figure, run_playbook  # noqa: E402

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


WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: ks-web, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: ks-web}}
  template:
    metadata: {labels: {app: ks-web}}
    spec:
      terminationGracePeriodSeconds: 0
      # one replica per node, control-plane nodes allowed: the two pods land on different nodes
      tolerations: [{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - {labelSelector: {matchLabels: {app: ks-web}}, topologyKey: kubernetes.io/hostname}
      containers:
        - name: web
          image: localhost/kubesmith/busybox:1.35
          imagePullPolicy: Never
          command: [/bin/sh, -c, "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
          ports: [{containerPort: 8080}]
          readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 2}
---
apiVersion: v1
kind: Service
metadata: {name: ks-web, namespace: default}
spec:
  selector: {app: ks-web}
  ports: [{port: 80, targetPort: 8080}]
"""
VIP, LB_PORT = "10.127.0.40", 8443
NETWORK = "kubesmith-lab"
GATEWAY = "10.127.0.1"  # the lab network's gateway (tools/testhosts.sh)

FIRST = sorted(CONTROL_PLANE)[0]  # cluster-wide checks run once, from the first control-plane host


def _host(name):
    # Over ssh, not `podman exec` (see kscluster.ssh_host). Tests choose their hosts by role (parametrized by name)
    # instead of skipping the others.
    return ssh_host(NODES[name])


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
def test_apiserver_stop_is_bounded(name):
    """kube-apiserver waits up to 60 s for open watches on SIGTERM: systemd ends it after
    control_plane_apiserver_stop_timeout (5 s in this scenario's inventory; the lab tier checks the default, 20 s)
    so that rolls, upgrades and key rotations do not pay a minute."""
    timeout = _host(name).check_output("systemctl show kube-apiserver -p TimeoutStopUSec --value")
    assert timeout == "5s", timeout


@pytest.mark.parametrize("name", sorted(NODES))
def test_every_key_on_the_host_is_ecdsa_p256_as_pki_key_algorithm_defaults(name):
    """pki_key_algorithm ecdsa-p256 (the default): every private key the PKI wrote on the host is a P-256 key, and
    every certificate carries a P-256 public key - read from the files, not from the role's settings."""
    host = _host(name)
    keys = host.check_output("find %s /etc/etcd/pki -name '*.key' 2>/dev/null | sort" % PKI).split()
    certs = host.check_output("find %s /etc/etcd/pki -name '*.crt' 2>/dev/null | sort" % PKI).split()
    # a control-plane host holds its CAs, serving and client keys (13 on a stacked host); a worker its kubelet's
    assert len(keys) >= (8 if name in CONTROL_PLANE else 1), keys
    assert len(certs) >= len(keys) - 1, certs  # sa.key has no certificate
    for key in keys:
        text = host.check_output("openssl pkey -in %s -noout -text" % key)
        assert "ASN1 OID: prime256v1" in text and "NIST CURVE: P-256" in text, (key, text.splitlines()[:2])
    for cert in certs:
        text = host.check_output("openssl x509 -in %s -noout -text" % cert)
        assert "id-ecPublicKey" in text and "NIST CURVE: P-256" in text, (cert, text.splitlines()[:12])


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
    # a new cluster encrypts with secretbox, the default provider
    assert raw.stdout_bytes.startswith(b"k8s:enc:secretbox:v1:key1:"), raw.stdout_bytes[:40]
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


def _web_pods(host):
    out = host.run("%s get pods -l app=ks-web -o json" % KUBECTL)
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)["items"]


def _curl(host, address):
    return host.run("curl -sS --max-time 5 http://%s/" % address)


def test_deployment_service_answers_from_every_node_and_pods_reach_each_other():
    host = _host(FIRST)
    applied = host.run("%s apply -f - <<'EOF'\n%s\nEOF" % (KUBECTL, WEB))
    assert applied.rc == 0, applied.stderr
    rollout = host.run("%s rollout status deployment/ks-web --timeout=180s" % KUBECTL)
    assert rollout.rc == 0, (
        rollout.stdout + rollout.stderr + host.run("%s describe pods -l app=ks-web" % KUBECTL).stdout
    )
    pods = _web_pods(host)
    assert len({p["spec"]["nodeName"] for p in pods}) == 2, [p["spec"]["nodeName"] for p in pods]
    names = {p["metadata"]["name"] for p in pods}
    cluster_ip = host.check_output("%s get service ks-web -o jsonpath={.spec.clusterIP}" % KUBECTL)
    # each kube-proxy programs the Service once it has seen the endpoints: a readiness check per node, bounded
    for name in sorted(NODES):
        node = _host(name)
        assert _deadline_poll(lambda node=node: _curl(node, cluster_ip).stdout.strip() in names, 60), (
            name,
            _curl(node, cluster_ip).stderr,
        )
    # pod to pod across nodes, both ways, by pod IP (nc: this busybox build's wget crashes)
    for source, target in ((pods[0], pods[1]), (pods[1], pods[0])):
        out = host.run(
            "%s exec %s -- sh -c \"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 %s 8080\""
            % (KUBECTL, source["metadata"]["name"], target["status"]["podIP"])
        )
        assert out.rc == 0 and out.stdout.strip().endswith(target["metadata"]["name"]), (
            source["spec"]["nodeName"],
            out,
        )


def test_apiserver_kubelet_client_reaches_kubelets_but_is_not_cluster_admin():
    """Its certificate is in no group (not system:masters): bound to system:kubelet-api-admin only. kubectl exec
    (above) and logs go through it to the kubelets; listing Secrets with it is forbidden."""
    host = _host(FIRST)
    subject = host.check_output("openssl x509 -noout -subject -in %s/apiserver-kubelet-client.crt" % PKI)
    assert "kube-apiserver-kubelet-client" in subject and "system:masters" not in subject, subject
    code = host.check_output(
        "curl -sS -o /dev/null -w '%%{http_code}' --max-time 5 %s https://127.0.0.1:6443/api/v1/secrets" % CLIENT
    )
    assert code == "403", code
    pod = _web_pods(host)[0]["metadata"]["name"]
    logs = host.run("%s logs %s --tail=5" % (KUBECTL, pod))
    assert logs.rc == 0, logs.stderr
    listed = host.run("%s auth can-i list secrets --as kube-apiserver-kubelet-client -A" % KUBECTL)
    assert listed.stdout.strip() == "no", listed.stdout + listed.stderr


def test_coredns_applied_server_side_at_the_cluster_dns_address():
    """Applied, not running: its image needs a registry (README support table)."""
    host = _host(FIRST)
    service = json.loads(host.check_output("%s -n kube-system get service kube-dns -o json" % KUBECTL))
    assert service["spec"]["clusterIP"] == "10.96.0.10"
    deployment = json.loads(host.check_output("%s -n kube-system get deployment coredns -o json" % KUBECTL))
    managers = {m["manager"] for m in deployment["metadata"]["managedFields"]}
    assert "kubesmith" in managers, managers
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].startswith("registry.k8s.io/coredns/")


def test_api_answers_through_the_vip_and_refuses_anonymous():
    worker = _host(sorted(WORKERS)[0])
    base = "https://%s:%d" % (VIP, LB_PORT)
    anonymous = worker.run(
        "curl -sS -o /dev/null -w '%%{http_code}' --max-time 5 --cacert %s/ca.crt %s/readyz" % (PKI, base)
    )
    assert anonymous.stdout.strip() == "401", anonymous.stdout + anonymous.stderr
    holders = [name for name in CONTROL_PLANE if VIP in _host(name).check_output("ip -o -4 addr show")]
    assert len(holders) == 1, holders


def test_admin_kubeconfig_fetched_to_the_controller():
    path = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "private", "admin.conf")
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700  # made by the run: nobody else can list it
    with open(path, encoding="utf-8") as handle:
        assert "server: https://%s:%d" % (VIP, LB_PORT) in handle.read().replace('"', "")


def _settled_node(name):
    """The Node once Ready without the lifecycle controller's not-ready taint (a changed --node-labels or
    --register-with-taints restarts the kubelet, which may report NotReady for a moment), else None."""
    node = json.loads(_host(FIRST).check_output("%s get node %s -o json" % (KUBECTL, name)))
    ready = [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"] == ["True"]
    lifecycle = [t for t in node["spec"].get("taints", []) if t["key"].startswith("node.kubernetes.io/")]
    return node if ready and not lifecycle else None


def _pools(*extra):
    rc, output = run_playbook("kubernetes.yml", "--tags", "worker", *extra)
    assert rc == 0, output[-3000:]
    node = _deadline_poll(lambda: _settled_node("ks-cl-4"), 120)
    assert node, "ks-cl-4 not Ready 120 s after the worker run"
    return node["metadata"]["labels"], node["spec"].get("taints", []), recap(output)


def test_node_pools_follow_the_inventory_and_leave_others_labels_alone():
    """Changed in the inventory -> changed on the node; dropped -> removed; a label someone else set survives."""
    assert _host(FIRST).run("%s label node ks-cl-4 --overwrite someone.else/team=web" % KUBECTL).rc == 0
    changed = '{"worker_node_labels": {"kubesmith.test/pool": "batch"}, "worker_node_taints": []}'
    labels, taints, _ = _pools("-e", changed)
    assert labels.get("kubesmith.test/pool") == "batch"
    assert not [t for t in taints if t["key"] == "kubesmith.test/pool"], taints
    assert labels.get("someone.else/team") == "web"
    labels, taints, _ = _pools("-e", '{"worker_node_labels": {}, "worker_node_taints": []}')
    assert "kubesmith.test/pool" not in labels
    assert labels.get("someone.else/team") == "web"
    control_plane = json.loads(_host(FIRST).check_output("%s get node ks-cl-1 -o json" % KUBECTL))
    assert CONTROL_PLANE_TAINT in control_plane["spec"]["taints"], "the role's own taint stays"
    labels, taints, stats = _pools()  # the inventory's pool again
    assert labels.get("kubesmith.test/pool") == "general"
    assert taints == [{"key": "kubesmith.test/pool", "value": "general", "effect": "PreferNoSchedule"}]
    assert labels.get("someone.else/team") == "web"
    assert stats["ks-cl-4"]["changed"] > 0 and stats["ks-cl-1"]["changed"] == 0, stats


@pytest.mark.parametrize("limit", ["ks-cl-2", "ks-cl-1"])  # an etcd member; the host of the cluster CA
def test_reset_of_one_host_that_the_cluster_needs_is_refused(limit):
    rc, output = run_playbook("reset.yml", "-e", "reset_confirm=true", "--limit", limit)
    assert rc != 0 and "remove_node.yml" in output and "Nothing was changed" in output, output[-2000:]
    assert all(s["changed"] == 0 for s in recap(output).values())
    assert _host(limit).service("kubelet").is_running


# A VRRPv2 advert (RFC 3768), valid in every field keepalived checks but its source: sent by the worker, which is on
# the same network but not a VRRP peer, with priority 254 (above every peer's), to each control-plane host.
# Without check_unicast_src the holder would take it as a better master, give up the VIP and leave the endpoint
# without an owner until the peers' master-down timers fired.
SPOOF_ADVERT = r"""
import socket, struct, sys, time
vrid, vip, targets = int(sys.argv[1]), socket.inet_aton(sys.argv[2]), sys.argv[3:]
def checksum(data):
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF
# version 2, type advert; vrid; priority; one address; no authentication; advert interval 1 s; checksum 0 for now
header = struct.pack("!BBBBBBH", 0x21, vrid, 254, 1, 0, 1, 0)
body = vip + b"\0" * 8  # the address, then the 8 bytes of (unused) authentication data
packet = header[:6] + struct.pack("!H", checksum(header + body)) + body
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 255)
for _ in range(3):
    for target in targets:
        sock.sendto(packet, (target, 0))
    time.sleep(0.5)  # three rounds of adverts, as a rogue master would keep sending them
print("sent")
"""


def _vip_holders():
    return [name for name in sorted(CONTROL_PLANE) if VIP in _host(name).check_output("ip -o -4 addr show")]


def test_a_vrrp_advert_from_a_host_that_is_not_a_peer_is_dropped():
    holders = _vip_holders()
    assert len(holders) == 1, holders
    since = _host(FIRST).check_output("date +%s")
    sent = _host("ks-cl-4").run(
        "python3 - 51 %s %s <<'EOF'\n%sEOF" % (VIP, " ".join(CONTROL_PLANE.values()), SPOOF_ADVERT)
    )
    assert sent.stdout.strip() == "sent", sent.stderr
    refused = "unicast source address %s not a unicast peer" % WORKERS["ks-cl-4"]

    def logged():
        journal = _host(holders[0]).run("journalctl -u keepalived --no-pager --since @%s" % since).stdout
        return journal if refused in journal else None

    journal = _deadline_poll(logged, 15, interval=1)
    assert journal, _host(holders[0]).run("journalctl -u keepalived --no-pager -n 30").stdout
    assert "higher priority 254" not in journal and "Entering BACKUP STATE" not in journal, journal
    assert _vip_holders() == holders


def test_with_one_control_plane_host_stopped_the_api_answers_and_schedules():
    """Takes the VIP holder off the network (as if powered off), then puts it back.

    Not `podman stop`: on this machine stopping one container removes the other containers' cgroup directories,
    after which they cannot start new containers - the very thing this test checks."""
    holder = next(name for name in sorted(CONTROL_PLANE) if VIP in _host(name).check_output("ip -o -4 addr show"))
    other = _host(next(name for name in sorted(CONTROL_PLANE) if name != holder))
    cut = subprocess.run(
        ["podman", "network", "disconnect", NETWORK, holder], capture_output=True, text=True, check=False
    )
    assert cut.returncode == 0, cut.stderr
    cut_at = time.monotonic()
    try:
        # admin.conf points at the VIP: the API answers once keepalived moved it and haproxy marked the host down.
        # Requests in flight while the apiservers' etcd clients drop their connections to the lost member can fail
        # once ("transport is closing"); a client retries them, so does this test - it counts them, and bounds both
        # the outage and the failures after it.
        errors = []

        def call(command):
            result = other.run("%s %s" % (KUBECTL, command))
            if result.rc != 0:
                errors.append(result.stderr.strip())
            return result

        assert _deadline_poll(lambda: call("get --raw /readyz").rc == 0, 60), errors
        outage, during = time.monotonic() - cut_at, len(errors)
        call("delete pod ks-after-failover --ignore-not-found --wait=true")
        pod = BUSYBOX_POD.replace("ks-busybox", "ks-after-failover")
        assert _deadline_poll(lambda: call("apply -f - <<'EOF'\n%s\nEOF" % pod).rc == 0, 30), errors
        ready = "get pod ks-after-failover -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}'"
        running = _deadline_poll(lambda: call(ready).stdout.strip() == "True", 120)
        after = errors[during:]
        report_figure(
            "VIP failover: API back through the VIP %.1f s after the holder was cut (%d failed polls meanwhile), "
            "then %d failed request(s)" % (outage, during, len(after))
        )
        assert running, other.run("%s describe pod ks-after-failover" % KUBECTL).stdout + "\n".join(errors)
        # keepalived moves the VIP within seconds and haproxy marks the host down after check_fall failed checks
        assert outage <= 30, "the API was unreachable through the VIP for %.1f s" % outage
        assert len(after) <= 5, "%d requests failed after the API came back: %s" % (len(after), after)
    finally:
        subprocess.run(
            ["podman", "network", "connect", "--ip", CONTROL_PLANE[holder], NETWORK, holder],
            capture_output=True,
            check=False,
        )
        # the lab network is internal: the default route the prepare step added went with the old interface
        # (without it the host's own ClusterIP connections fail "network unreachable")
        _deadline_poll(lambda: _host(holder).run("ip route replace default via %s" % GATEWAY).rc == 0, 60)
        # the steps after this one need a settled cluster (they assert it first): the returning etcd member can
        # call an election ("etcdserver: leader changed" for writes meanwhile), and its apiserver must answer again
        _deadline_poll(_cluster_settled, 180)


def _cluster_settled():
    """Every apiserver answers /readyz on its own address and a write through etcd succeeds."""
    first = _host(FIRST)
    for address in CONTROL_PLANE.values():
        if first.run("%s --server https://%s:6443 get --raw /readyz" % (KUBECTL, address)).rc != 0:
            return False
    first.run("%s delete configmap ks-settled --ignore-not-found" % KUBECTL)
    return first.run("%s create configmap ks-settled --from-literal=at=%d" % (KUBECTL, time.time())).rc == 0


# Last in this file: these steps restart apiservers and take one down on purpose; the checks above run first on the
# undisturbed cluster (test_day2.py follows on the same cluster).
ENCRYPTION_CONFIG = "/etc/kubernetes/encryption-config.yaml"
BROKEN_FLAG = "kubesmith-broken-on-purpose"


def _sha256(name, path):
    return _host(name).check_output("sha256sum %s" % path).split()[0]


def _apiserver_times(name):
    return restart_window(_host(name))


def _apiserver_cmdline(name):
    return _host(name).check_output("tr '\\0' ' ' < /proc/$(systemctl show -p MainPID --value kube-apiserver)/cmdline")


def _read_secret(name, secret):
    """The Secret's value read through the apiserver on host ``name`` itself, not the one behind the VIP."""
    word = _host(name).check_output(
        "%s --server https://%s:6443 get secret %s -o jsonpath={.data.word}" % (KUBECTL, CONTROL_PLANE[name], secret)
    )
    return base64.b64decode(word)


def test_safety_1_a_bad_control_plane_change_stops_at_the_first_host_while_the_others_serve():
    """A converge that changes the apiserver's flags restarts one running host at a time, gated on /readyz: a flag
    the apiserver refuses stops the roll at the first host; the others are not restarted and keep serving."""
    assert _deadline_poll(_cluster_settled, 180), "the cluster did not settle after the failover test"
    first = _host(FIRST)
    first.run("%s delete secret ks-kept --ignore-not-found" % KUBECTL)
    assert first.run("%s create secret generic ks-kept --from-literal=word=kept-canary" % KUBECTL).rc == 0
    before = {name: _apiserver_times(name) for name in CONTROL_PLANE}
    bad = json.dumps({"control_plane_apiserver_flags": {BROKEN_FLAG: "true"}, "control_plane_ready_timeout": 20})
    rc, output = run_playbook("kubernetes.yml", "--tags", "control_plane", "-e", bad, timeout=900)
    assert rc != 0, output[-3000:]
    assert _apiserver_times(FIRST) != before[FIRST], "the first host was not restarted"
    for name in sorted(CONTROL_PLANE):
        if name == FIRST:
            continue
        assert _apiserver_times(name) == before[name], "%s restarted together with the first host" % name
        assert BROKEN_FLAG not in _apiserver_cmdline(name)
        ready = _host(name).run("curl -sS --max-time 5 %s https://127.0.0.1:6443/readyz" % CLIENT)
        assert ready.stdout.strip() == "ok", (name, ready.stdout, ready.stderr)
    through_vip = first.run("%s get --raw /readyz" % KUBECTL)
    assert through_vip.stdout.strip() == "ok", through_vip.stderr


def test_safety_2_site_restores_a_lost_encryption_config_from_a_peer_and_rolls_the_others():
    """The first control-plane host has also lost its encryption config (rebuilt, replaced). A plain site.yml - the
    bad flag gone - gives it its peers' keys (it used to get a new random key, written to every host: every Secret
    unreadable), brings it back, and restarts the other apiservers (their unit files had the bad flag written) one
    after the other: no overlap in their stop/start timeline. Every apiserver reads the Secret written before."""
    others = [name for name in sorted(CONTROL_PLANE) if name != FIRST]
    before = {name: _apiserver_times(name) for name in others}
    in_use = _sha256(others[0], ENCRYPTION_CONFIG)
    assert _host(FIRST).run("mv %s /root/encryption-config.yaml.moved" % ENCRYPTION_CONFIG).rc == 0
    rc, output = run_playbook("site.yml", timeout=1200)
    assert rc == 0, output[-3000:]
    assert "keys from %s, restored on %s" % (others[0], FIRST) in " ".join(output.split()), output[-3000:]
    assert {name: _sha256(name, ENCRYPTION_CONFIG) for name in CONTROL_PLANE} == dict.fromkeys(CONTROL_PLANE, in_use)
    for name in CONTROL_PLANE:
        assert BROKEN_FLAG not in _apiserver_cmdline(name), name
        assert _read_secret(name, "ks-kept") == b"kept-canary", name
    after = {name: _apiserver_times(name) for name in others}
    assert all(after[name] != before[name] for name in others), (before, after)
    assert one_at_a_time(after.values()) == [], after
    _host(FIRST).run("rm -f /root/encryption-config.yaml.moved")


def test_safety_3_encryption_config_lost_everywhere_is_refused_while_etcd_holds_secrets():
    """No control-plane host has the file, etcd holds Secrets: the run stops before any change instead of making a
    new key that would leave every Secret unreadable."""
    try:
        for name in CONTROL_PLANE:
            assert _host(name).run("mv %s /root/encryption-config.yaml.moved" % ENCRYPTION_CONFIG).rc == 0
        rc, output = run_playbook("kubernetes.yml", "--tags", "control_plane", timeout=900)
        assert rc != 0, output[-3000:]
        flat = " ".join(output.split())  # the callback wraps long messages
        assert "but etcd holds" in flat and "Nothing was changed" in flat, output[-3000:]
        stats = recap(output)
        assert sorted(stats) == sorted(NODES) and all(s["changed"] == 0 for s in stats.values()), stats
    finally:
        for name in CONTROL_PLANE:
            _host(name).run("mv /root/encryption-config.yaml.moved %s" % ENCRYPTION_CONFIG)
    assert _read_secret(FIRST, "ks-kept") == b"kept-canary"
    _host(FIRST).run("%s delete secret ks-kept" % KUBECTL)
