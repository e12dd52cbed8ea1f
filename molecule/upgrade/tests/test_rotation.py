"""Scenario `upgrade`, before the upgrade tests (file order): playbooks/rotate_encryption_key.yml on the 3 apiservers
behind the VIP while a reader loop reads a Secret through the VIP every ~0.2 s. The cluster was built with aescbc
(the scenario's inventory pins the provider of earlier releases); the rotation moves it to secretbox, today's default
for new clusters, so the key changes and the provider with it.

The tests run in file order and build on each other: a Secret and the reader -> check mode and the refusal of
pinned keys change nothing -> a run stopped after phase "primary" (control_plane_encryption_rotation_stop_after)
-> the re-run that finishes it -> the Secret under the new key in etcd, the old key gone -> the reader's count.
The cluster is left as found except for the key (the upgrade tests do not depend on its name).
"""

import json
import os
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
from kscluster import KUBECTL, deadline_poll, ssh_host  # noqa: E402
from ksplay import recap, report_figure, run_playbook, task_results  # noqa: E402  (shared scenario helpers, not a package)

HOSTS = {"ks-up-1": "10.127.0.61", "ks-up-2": "10.127.0.62", "ks-up-3": "10.127.0.63"}
FIRST, READER = sorted(HOSTS)[0], sorted(HOSTS)[2]
CONFIG = "/etc/kubernetes/encryption-config.yaml"
SECRET, WORD = "ks-rotation", "rotation-canary"
READER_UNIT, READER_LOG = "ks-rotation-reader", "/root/ks-rotation-reader.log"
ETCD = (
    "ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints https://127.0.0.1:2379 --cacert /etc/etcd/pki/ca.crt"
    " --cert /etc/etcd/pki/healthcheck-client.crt --key /etc/etcd/pki/healthcheck-client.key"
)
STATE = {}  # key names before the rotation, shared by the tests below (they run in order)
# every rotation run asks for secretbox, as a user moving an existing aescbc cluster over would
TO_SECRETBOX = ("-e", "control_plane_encryption_provider=secretbox")


def _keyring(name):
    """(provider, key name) of that host's encryption configuration, in order (the first one encrypts)."""
    doc = yaml.safe_load(ssh_host(HOSTS[name]).check_output("cat %s" % CONFIG))
    out = []
    for entry in doc["resources"][0]["providers"]:
        ((provider, body),) = entry.items()
        out += [(provider, k["name"]) for k in (body or {}).get("keys", [])]
    return out


def _keys(name):
    """Key names of that host's encryption configuration, in order (the first one encrypts)."""
    return [key for _provider, key in _keyring(name)]


def _configs():
    return {name: ssh_host(address).check_output("sha256sum %s" % CONFIG) for name, address in HOSTS.items()}


def _raw_secret():
    raw = ssh_host(HOSTS[FIRST]).run("%s get /registry/secrets/default/%s --print-value-only" % (ETCD, SECRET))
    assert raw.rc == 0, raw.stderr
    return raw.stdout_bytes


def _read_back():
    out = ssh_host(HOSTS[FIRST]).run("%s get secret %s -o jsonpath={.data.word}" % (KUBECTL, SECRET))
    assert out.rc == 0, out.stderr
    return out.stdout.strip()


def _unchanged(output):
    stats = recap(output)
    assert set(stats) >= set(HOSTS), output[-3000:]
    return all(s["changed"] == 0 for s in stats.values()), stats


def test_a_secret_written_before_and_a_reader_through_the_vip():
    keys = {name: _keys(name) for name in HOSTS}
    assert len({tuple(k) for k in keys.values()}) == 1 and len(keys[FIRST]) == 1, keys
    STATE["old"] = keys[FIRST][0]
    host = ssh_host(HOSTS[FIRST])
    host.run("%s delete secret %s --ignore-not-found" % (KUBECTL, SECRET))
    created = host.run("%s create secret generic %s --from-literal=word=%s" % (KUBECTL, SECRET, WORD))
    assert created.rc == 0, created.stderr
    assert _raw_secret().startswith(b"k8s:enc:aescbc:v1:%s:" % STATE["old"].encode())
    reader = ssh_host(HOSTS[READER])
    reader.run("systemctl stop %s; rm -f %s" % (READER_UNIT, READER_LOG))
    # admin.conf points at the VIP (10.127.0.60:8443); one read every ~0.2 s, each given 5 s; one line per read
    loop = (
        "while true; do if %s --request-timeout=5s get secret %s -o name >/dev/null 2>/tmp/ks-rotation-err; then"
        ' echo ok; else echo "fail $(date +%%T.%%N) $(head -c 200 /tmp/ks-rotation-err | tr "\\n" " ")"; fi;'
        " sleep 0.2; done >> %s" % (KUBECTL, SECRET, READER_LOG)
    )
    started = reader.run("systemd-run --unit %s --collect /bin/bash -c '%s'" % (READER_UNIT, loop))
    assert started.rc == 0, started.stderr
    assert deadline_poll(lambda: "ok" in reader.run("cat %s" % READER_LOG).stdout, 30)


def test_check_mode_reports_the_plan_and_changes_nothing():
    before = _configs()
    rc, output = run_playbook("rotate_encryption_key.yml", "--check", *TO_SECRETBOX)
    assert rc == 0, output[-4000:]
    assert "new rotation: %s -> " % STATE["old"] in output
    # the summary is one long line, which the yaml callback may fold: compare with the whitespace collapsed
    assert "the provider changes from aescbc to secretbox" in " ".join(output.split()), output[-4000:]
    assert "phases to run now: add, primary, rewrite, remove" in output
    assert _configs() == before


def test_keys_pinned_in_the_inventory_are_refused_before_any_change():
    before = _configs()
    pinned = json.dumps({"control_plane_encryption_keys": [{"name": "key9", "secret": "c2VjcmV0"}]})
    rc, output = run_playbook("rotate_encryption_key.yml", "-e", pinned, *TO_SECRETBOX)
    assert rc != 0
    assert "control_plane_encryption_keys is set in the inventory" in output, output[-3000:]
    assert "c2VjcmV0" not in output
    unchanged, stats = _unchanged(output)
    assert unchanged, stats
    assert _configs() == before


def test_a_run_stopped_after_phase_primary_leaves_both_keys_everywhere():
    rc, output = run_playbook(
        "rotate_encryption_key.yml",
        "-e",
        "control_plane_encryption_rotation_stop_after=primary",
        *TO_SECRETBOX,
        timeout=900,
    )
    assert rc == 0, output[-4000:]
    assert "stopping after phase primary" in output
    keys = {name: _keys(name) for name in HOSTS}
    new = keys[FIRST][0]
    assert new != STATE["old"]
    STATE["new"] = new
    assert all(k == [new, STATE["old"]] for k in keys.values()), keys
    # two providers side by side: the new secretbox key writes, the old aescbc key still reads
    rings = {name: _keyring(name) for name in HOSTS}
    assert all(r == [("secretbox", new), ("aescbc", STATE["old"])] for r in rings.values()), rings
    # not rewritten yet: the Secret is still under the old key
    assert _raw_secret().startswith(b"k8s:enc:aescbc:v1:%s:" % STATE["old"].encode())
    assert _read_back()


def test_the_rerun_finishes_the_rotation():
    rc, output = run_playbook("rotate_encryption_key.yml", *TO_SECRETBOX, timeout=900)
    assert rc == 0, output[-4000:]
    assert "rotation %s -> %s in progress, resuming at phase rewrite" % (STATE["old"], STATE["new"]) in output
    assert "phases to run now: rewrite, remove" in output
    # the rewrite was proven complete in etcd before the old key went
    results = task_results(output, "refuse to go on while an object is stored under another key")
    assert results[0].startswith("ok: [%s]" % FIRST), results
    keys = {name: _keys(name) for name in HOSTS}
    assert all(k == [STATE["new"]] for k in keys.values()), keys
    rings = {name: _keyring(name) for name in HOSTS}
    assert all(r == [("secretbox", STATE["new"])] for r in rings.values()), rings


def test_the_secret_reads_back_and_is_stored_under_the_new_key():
    assert _read_back() == "cm90YXRpb24tY2FuYXJ5"  # base64 of rotation-canary
    raw = _raw_secret()
    assert raw.startswith(b"k8s:enc:secretbox:v1:%s:" % STATE["new"].encode()), raw[:40]
    assert WORD.encode() not in raw


def test_the_old_key_is_in_no_apiserver_configuration():
    for name, address in HOSTS.items():
        text = ssh_host(address).check_output("cat %s" % CONFIG)
        assert "name: %s\n" % STATE["old"] not in text, name


def test_the_reader_saw_no_failed_read_during_the_rotation():
    reader = ssh_host(HOSTS[READER])
    reader.run("systemctl stop %s" % READER_UNIT)
    lines = reader.check_output("cat %s" % READER_LOG).splitlines()
    ok = sum(1 for line in lines if line == "ok")
    failed = [line for line in lines if line.startswith("fail")]
    report_figure(
        "Secret reads through the VIP during the key rotation (9 apiserver restarts in two runs): %d succeeded, "
        "%d failed %s" % (ok, len(failed), failed[:5])
    )
    ssh_host(HOSTS[FIRST]).run("%s delete secret %s --ignore-not-found" % (KUBECTL, SECRET))
    assert ok > 100, lines[-20:]
    assert not failed
