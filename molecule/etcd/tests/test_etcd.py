"""Scenario `etcd`: a 3-member etcd cluster with TLS everywhere, from site.yml's etcd plays."""

import json
import os
import re
import sys
import time

import pytest
import testinfra

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
from ksplay import recap, report_figure, run_playbook  # noqa: E402  (shared scenario helper, not a package)

PKI = "/etc/etcd/pki"
MEMBERS = {"ks-etcd-1": "10.127.0.31", "ks-etcd-2": "10.127.0.32", "ks-etcd-3": "10.127.0.33"}
CLIENT = "--cacert %s/ca.crt --cert %s/healthcheck-client.crt --key %s/healthcheck-client.key" % (PKI, PKI, PKI)


def _me(host):
    return host.backend.get_hostname()


def _etcdctl(host, args, endpoint=None):
    endpoint = endpoint or "https://%s:2379" % MEMBERS[_me(host)]
    return host.run("ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints %s %s %s" % (endpoint, CLIENT, args))


def test_service_active_with_private_data_dir(host):
    service = host.service("etcd")
    assert service.is_running, host.run("journalctl -u etcd --no-pager -n 60").stdout
    assert service.is_enabled
    data = host.file("/var/lib/etcd")
    assert data.is_directory and data.mode == 0o700 and data.user == "etcd"
    assert host.file("/var/lib/etcd/member").is_directory


def _process_user(host):
    return host.check_output("ps -o user= -p $(systemctl show -p MainPID --value etcd)").strip()


def test_etcd_runs_as_its_own_user_and_the_keys_on_disk_stay_root_only(host):
    assert _process_user(host) == "etcd"
    assert host.check_output("find /var/lib/etcd ! -user etcd | head -5") == ""  # every file of the data is etcd's
    for key in ("server.key", "peer.key"):
        on_disk = host.file("%s/%s" % (PKI, key))
        assert on_disk.user == "root" and on_disk.mode == 0o600, key
        assert host.run("runuser -u etcd -- cat %s/%s" % (PKI, key)).rc != 0, "etcd can read the key on disk"
    # etcd reads the copies its unit made in /run/etcd, which only etcd (and root) can read
    env = host.file("/etc/etcd/etcd.env").content_string
    assert "ETCD_KEY_FILE=/run/etcd/server.key" in env and "ETCD_PEER_KEY_FILE=/run/etcd/peer.key" in env
    runtime = host.file("/run/etcd")
    assert runtime.user == "etcd" and runtime.mode == 0o700
    assert host.file("/run/etcd/server.key").user == "etcd" and host.file("/run/etcd/server.key").mode == 0o400


def test_three_healthy_voting_members(host):
    out = _etcdctl(host, "member list -w json")
    assert out.rc == 0, out.stderr
    members = json.loads(out.stdout)["members"]
    assert sorted(m["name"] for m in members) == sorted(MEMBERS)
    assert not any(m.get("isLearner") for m in members)
    for member in members:
        ip = MEMBERS[member["name"]]
        assert member["peerURLs"] == ["https://%s:2380" % ip]
        assert "https://%s:2379" % ip in member["clientURLs"]
    health = _etcdctl(host, "endpoint health --cluster")
    assert health.rc == 0, health.stdout + health.stderr
    assert (health.stdout + health.stderr).count("is healthy") == 3


def test_write_on_one_member_is_read_on_the_others(host):
    key = "/kubesmith-test/written-on-%s" % _me(host)
    assert _etcdctl(host, "put %s hello" % key).rc == 0
    for other, ip in MEMBERS.items():
        out = _etcdctl(host, "get %s --print-value-only" % key, endpoint="https://%s:2379" % ip)
        assert out.rc == 0 and out.stdout.strip() == "hello", (other, out.stdout, out.stderr)


@pytest.mark.parametrize("port", [2379, 2380])
def test_plain_http_is_refused(host, port):
    ip = MEMBERS[_me(host)]
    out = host.run("curl -sS -m 5 http://%s:%d/health" % (ip, port))
    assert out.rc != 0 or "health" not in out.stdout, out.stdout


def test_client_without_certificate_is_refused(host):
    ip = MEMBERS[_me(host)]
    without = host.run("curl -sS -m 5 --cacert %s/ca.crt https://%s:2379/health" % (PKI, ip))
    assert without.rc != 0, without.stdout
    with_cert = host.run(
        "curl -sS -m 5 --cacert {p}/ca.crt --cert {p}/healthcheck-client.crt --key {p}/healthcheck-client.key "
        "https://{ip}:2379/health".format(p=PKI, ip=ip)
    )
    assert with_cert.rc == 0 and '"health":"true"' in with_cert.stdout.replace(" ", ""), with_cert.stdout


def test_peer_port_requires_a_peer_certificate(host):
    """Refused without a client certificate; with the member's peer certificate the same request lists the members
    (so the refusal is the TLS check, not a closed port). HTTP/1.1: the peer port's /members cuts HTTP/2 streams."""
    ip = MEMBERS[_me(host)]
    url = "https://%s:2380/members" % ip
    out = host.run("curl -sS -m 5 --http1.1 --cacert %s/ca.crt %s" % (PKI, url))
    assert out.rc != 0, out.stdout
    peer = host.run("curl -sS -m 5 --http1.1 --cacert {p}/ca.crt --cert {p}/peer.crt --key {p}/peer.key {u}".format(
        p=PKI, u=url))
    assert peer.rc == 0, peer.stderr
    listed = {m["name"]: m["peerURLs"] for m in json.loads(peer.stdout)}
    assert listed.get(_me(host)) == ["https://%s:2380" % ip], listed


def test_flags_file_and_unit(host):
    env = host.file("/etc/etcd/etcd.env").content_string
    ip = MEMBERS[_me(host)]
    assert "ETCD_NAME=%s" % _me(host) in env
    assert "ETCD_CLIENT_CERT_AUTH=true" in env and "ETCD_PEER_CLIENT_CERT_AUTH=true" in env
    assert "ETCD_ADVERTISE_CLIENT_URLS=https://%s:2379" % ip in env
    bootstrap = host.file("/etc/etcd/bootstrap.env").content_string  # new: formed the cluster; existing: joined it
    assert re.search(r"^ETCD_INITIAL_CLUSTER_STATE=(new|existing)$", bootstrap, re.M), bootstrap
    assert "%s=https://%s:2380" % (_me(host), ip) in bootstrap
    assert re.match(r"^/opt/kubesmith/etcd/3\.\d+\.\d+/etcd$", host.file("/usr/local/bin/etcd").linked_to)


# ---- day-2 steps, in file order, against the same hosts (each leaves a healthy 3-member cluster) ----

ALL = {"ks-etcd-%d" % i: "10.127.0.3%d" % i for i in range(1, 6)}
NEXT_VERSION = "3.5.16"  # trixie's etcd in the mirror (tools/build-artifacts.sh etcd)


def _site_etcd():
    """site.yml limited to what etcd needs, at the version the cluster runs now (step 6 upgrades it)."""
    target = _on("ks-etcd-1").file("/usr/local/bin/etcd").linked_to
    version = re.match(r"^/opt/kubesmith/etcd/([^/]+)/etcd$", target).group(1)
    return ("site.yml", "--tags", "preflight,pki,etcd", "-e", "etcd_version=%s" % version)


def _grown_inventory():
    """An extra inventory source that puts ks-etcd-4 and -5 in the etcd group too."""
    path = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "etcd-grown.yml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("all:\n  children:\n    etcd:\n      hosts:\n        ks-etcd-4: {}\n        ks-etcd-5: {}\n")
    return path


def _on(name):
    return testinfra.get_host("podman://" + name)


def _ctl(name, args, endpoints=None):
    host = _on(name)
    endpoints = endpoints or ",".join("https://%s:2379" % ALL[n] for n in MEMBERS)
    return host.run("ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints %s %s %s" % (endpoints, CLIENT, args))


def _member_list(via="ks-etcd-1"):
    out = _ctl(via, "member list -w json", endpoints="https://%s:2379" % ALL[via])
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)["members"]


def _healthy(names, via="ks-etcd-1"):
    endpoints = ",".join("https://%s:2379" % ALL[n] for n in names)
    out = _ctl(via, "endpoint health", endpoints=endpoints)
    return (out.stdout + out.stderr).count("is healthy") == len(names)


def _wait_healthy(names, deadline_s=60):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if _healthy(names):
            return
        time.sleep(1)  # poll interval of a readiness check bounded by the deadline above
    raise AssertionError("etcd members %s not healthy within %d s" % (", ".join(names), deadline_s))


def test_step1_grow_to_five_members_through_the_inventory():
    grown = _grown_inventory()
    rc, output = run_playbook(*_site_etcd(), inventories=[grown])
    assert rc == 0
    members = _member_list()
    assert sorted(m["name"] for m in members) == sorted(ALL)
    assert not any(m.get("isLearner") for m in members), members
    assert _healthy(list(ALL))
    rc, output = run_playbook(*_site_etcd(), inventories=[grown])
    assert rc == 0
    assert {h: r["changed"] for h, r in recap(output).items()} == dict.fromkeys(ALL, 0)


def test_step2_shrink_back_to_three_with_remove_node():
    grown = _grown_inventory()
    for name in ("ks-etcd-5", "ks-etcd-4"):
        rc, output = run_playbook("remove_node.yml", "-e", "node=%s" % name, inventories=[grown])
        assert rc == 0
        assert not _on(name).service("etcd").is_running
    assert sorted(m["name"] for m in _member_list()) == sorted(MEMBERS)
    assert _healthy(list(MEMBERS))
    # the members are in group control_plane, but no apiserver runs here: a removal must not install one
    for name in MEMBERS:
        assert not _on(name).file("/etc/systemd/system/kube-apiserver.service").exists, name
    rc, output = run_playbook(*_site_etcd())
    assert rc == 0
    assert {h: r["changed"] for h, r in recap(output).items()} == dict.fromkeys(MEMBERS, 0)


def test_step3_replace_a_member_whose_data_was_wiped():
    assert _ctl("ks-etcd-1", "put /kubesmith-test/before-replace kept").rc == 0
    old_ids = {m["name"]: m["ID"] for m in _member_list()}
    _on("ks-etcd-2").run("systemctl stop etcd && rm -rf /var/lib/etcd")
    rc, output = run_playbook("etcd_replace.yml", "-e", "node=ks-etcd-2")
    assert rc == 0
    members = {m["name"]: m for m in _member_list()}
    assert sorted(members) == sorted(MEMBERS)
    assert members["ks-etcd-2"]["ID"] != old_ids["ks-etcd-2"]  # a new member with the same name and address
    assert members["ks-etcd-2"]["peerURLs"] == ["https://10.127.0.32:2380"]
    assert members["ks-etcd-1"]["ID"] == old_ids["ks-etcd-1"] and members["ks-etcd-3"]["ID"] == old_ids["ks-etcd-3"]
    assert _healthy(list(MEMBERS))
    out = _ctl("ks-etcd-2", "get /kubesmith-test/before-replace --print-value-only", "https://10.127.0.32:2379")
    assert out.stdout.strip() == "kept"


def test_step4_removal_that_would_lose_quorum_is_refused():
    before = sorted((m["name"], m["ID"]) for m in _member_list())
    _on("ks-etcd-3").run("systemctl stop etcd")
    try:
        rc, output = run_playbook("remove_node.yml", "-e", "node=ks-etcd-2")
        assert rc != 0
        flat = " ".join(output.split())  # the guard's refusal, not words every run prints
        assert "a 2-member cluster needs 2 for quorum" in flat and "bring ks-etcd-3" in flat, output[-3000:]
        assert sorted((m["name"], m["ID"]) for m in _member_list()) == before
        assert _on("ks-etcd-2").service("etcd").is_running
    finally:
        _on("ks-etcd-3").run("systemctl start etcd")
    _wait_healthy(list(MEMBERS))


def test_step5_snapshot_then_restore():
    fetch_dir = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "etcd-backups-%d" % time.time_ns())
    stamp = str(time.time_ns())
    assert _ctl("ks-etcd-1", "put /kubesmith-test/before-snapshot-%s %s" % (stamp, stamp)).rc == 0
    rc, output = run_playbook("backup.yml", "-e", "backup_fetch_dir=%s" % fetch_dir)
    assert rc == 0
    snapshot = re.search(r"snapshot (\S+etcd-snapshot-\S+\.db) \(", output).group(1)
    local = os.path.join(fetch_dir, os.path.basename(snapshot))
    assert os.path.getsize(local) > 0
    # the run made the directory: 0700, the snapshot and its checksum 0600
    assert os.stat(fetch_dir).st_mode & 0o777 == 0o700
    assert {os.stat(os.path.join(fetch_dir, f)).st_mode & 0o777 for f in os.listdir(fetch_dir)} == {0o600}
    assert len(os.listdir(fetch_dir)) == 2
    assert _ctl("ks-etcd-1", "put /kubesmith-test/after-snapshot-%s %s" % (stamp, stamp)).rc == 0
    rc, output = run_playbook("restore.yml", "-e", "restore_snapshot=%s" % local)
    assert rc == 0
    value = "get /kubesmith-test/%s-snapshot-" + stamp + " --print-value-only"
    before, after = _ctl("ks-etcd-2", value % "before"), _ctl("ks-etcd-2", value % "after")
    assert before.rc == 0 and before.stdout.strip() == stamp, before.stderr
    assert after.rc == 0 and after.stdout.strip() == "", after.stderr  # answered, and the key is gone
    assert _healthy(list(MEMBERS))
    assert sorted(m["name"] for m in _member_list()) == sorted(MEMBERS)


def test_step5b_the_cluster_as_an_earlier_release_ran_it_as_root():
    """etcd_user: root (as releases before etcd_user ran it), then every data file made root's own while it runs:
    the layout an existing cluster has when it is converged with this release (step 6 does that)."""
    rc, output = run_playbook(*_site_etcd(), "-e", "etcd_user=root")
    assert rc == 0, output[-3000:]
    for name in MEMBERS:
        host = _on(name)
        assert _process_user(host) == "root", name
        assert host.run("chown -R root:root /var/lib/etcd").rc == 0
        assert host.check_output("find /var/lib/etcd -user etcd | head -1") == ""
        assert "ETCD_KEY_FILE=%s/server.key" % PKI in host.file("/etc/etcd/etcd.env").content_string
    assert _healthy(list(MEMBERS))


def test_step6_rolling_version_change_keeps_serving_reads():
    """Roll every member to the next etcd minor, one at a time, while a reader loop runs. The same roll moves the
    members from root (step 5b) to the etcd user: each restart gives the data back to etcd, nothing is lost."""
    reader = _on("ks-etcd-1")
    assert _ctl("ks-etcd-1", "put /kubesmith-test/reader value").rc == 0
    endpoints = ",".join("https://%s:2379" % ALL[n] for n in MEMBERS)
    loop = (
        "rm -f /run/ks-reader-stop; ok=0; fail=0; while [ ! -e /run/ks-reader-stop ]; do "
        "if ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints %s %s --command-timeout=3s "
        "get /kubesmith-test/reader --print-value-only >/dev/null 2>&1; "
        'then ok=$((ok+1)); else fail=$((fail+1)); fi; echo "$ok $fail" > /run/ks-reader.count; '
        "sleep 0.2; done"  # pacing of the load generator (5 reads/s), not a wait for anything
    ) % (endpoints, CLIENT)
    reader.run("systemctl stop ks-reader 2>/dev/null; rm -f /run/ks-reader.count")
    assert reader.run("systemd-run --unit ks-reader --collect sh -c '%s'" % loop).rc == 0
    try:
        deadline = time.monotonic() + 30
        while not reader.file("/run/ks-reader.count").exists and time.monotonic() < deadline:
            time.sleep(0.5)  # readiness poll of the reader, bounded by the deadline
        rc, output = run_playbook("site.yml", "--tags", "preflight,pki,etcd", "-e", "etcd_version=%s" % NEXT_VERSION)
        assert rc == 0
    finally:
        reader.run("touch /run/ks-reader-stop")
        deadline = time.monotonic() + 30
        while reader.service("ks-reader").is_running and time.monotonic() < deadline:
            time.sleep(0.5)  # the loop ends within one read
    ok, failed = (int(n) for n in reader.file("/run/ks-reader.count").content_string.split())
    report_figure("reads during the etcd %s roll: %d succeeded, %d failed" % (NEXT_VERSION, ok, failed))
    assert ok > 20
    assert failed == 0
    status = json.loads(_ctl("ks-etcd-1", "endpoint status -w json").stdout)
    assert sorted(entry["Status"]["version"] for entry in status) == [NEXT_VERSION] * len(MEMBERS)
    assert _healthy(list(MEMBERS))
    for name in MEMBERS:  # back on the etcd user, with every data file (root's after step 5b) its own again
        host = _on(name)
        assert _process_user(host) == "etcd", name
        assert host.check_output("find /var/lib/etcd ! -user etcd | head -5") == "", name
    value = _ctl("ks-etcd-2", "get /kubesmith-test/reader --print-value-only")
    assert value.rc == 0 and value.stdout.strip() == "value", value.stderr
