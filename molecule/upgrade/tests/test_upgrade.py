"""Scenario `upgrade`: a 3-host cluster (each host etcd member, control plane and schedulable node, VIP) built on
v1.20.2 / etcd 3.4.23 / containerd 1.6.20, rolled by playbooks/upgrade.yml to v1.20.2+kubesmith.1 / etcd 3.5.16 /
containerd 1.7.24 while a client loop measures a Service backed by a 2-replica Deployment with a PodDisruptionBudget.

The tests run in file order and build on each other: refusals -> workload + client -> a roll that fails on purpose
on the second control-plane host -> the re-run that completes it -> versions -> a no-op re-run -> the client's count.
"""

import json
import os
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
from kscluster import KUBECTL, deadline_poll, kubectl_apply, ssh_host, starts_since, web_manifest  # noqa: E402
from ksplay import recap, report_figure, run_playbook  # noqa: E402  (shared scenario helpers, not a package)

HOSTS = {"ks-up-1": "10.127.0.61", "ks-up-2": "10.127.0.62", "ks-up-3": "10.127.0.63"}
FIRST, BROKEN, LAST = sorted(HOSTS)
OLD_KUBE = "v1.20.2"
NEW_KUBE, NEW_ETCD, NEW_CONTAINERD = "v1.20.2+kubesmith.1", "3.5.16", "1.7.24"
TARGETS = ["-e", "kube_version=1.20.2+kubesmith.1", "-e", "etcd_version=3.5.16", "-e", "containerd_version=1.7.24"]
CLIENT_UNIT, CLIENT_LOG = "ks-client-loop", "/root/ks-client.log"
ANNOTATION = "kubesmith.io/upgrade"
ETCD_CLIENT = (
    "--cacert /etc/etcd/pki/ca.crt --cert /etc/kubernetes/pki/apiserver-etcd-client.crt"
    " --key /etc/kubernetes/pki/apiserver-etcd-client.key"
)


def _api_version(address):
    """gitVersion of the apiserver on that host (directly, not through the VIP); '' when it does not answer."""
    out = ssh_host(HOSTS[FIRST]).run("%s --server https://%s:6443 get --raw /version" % (KUBECTL, address))
    return json.loads(out.stdout)["gitVersion"] if out.rc == 0 else ""


def _nodes():
    out = ssh_host(HOSTS[FIRST]).run("%s get nodes -o json" % KUBECTL)
    assert out.rc == 0, out.stderr
    return {n["metadata"]["name"]: n for n in json.loads(out.stdout)["items"]}


def _etcd_version(address):
    out = ssh_host(address).run("curl -sS --max-time 5 %s https://%s:2379/version" % (ETCD_CLIENT, address))
    assert out.rc == 0, out.stderr
    return json.loads(out.stdout)["etcdserver"]


def _unchanged(output):
    stats = recap(output)
    assert set(stats) >= set(HOSTS), output[-3000:]
    return all(s["changed"] == 0 for s in stats.values()), stats


@pytest.mark.parametrize(
    ("kube_version", "reason"),
    [
        # 1.20 -> 1.35 skips minors (not "skip": every output says skipping/skipped)
        ("1.35.0", "the control plane upgrades one minor at a time (first to 1.21)"),
        ("1.20.1", "set allow_downgrade to go down a patch release"),  # a patch downgrade, not allowed
    ],
)
def test_unsafe_plans_are_refused_before_any_change(kube_version, reason):
    rc, output = run_playbook("upgrade.yml", "-e", "kube_version=%s" % kube_version)
    assert rc != 0
    assert reason in " ".join(output.split()), output[-3000:]  # the callback wraps long messages
    unchanged, stats = _unchanged(output)
    assert unchanged, stats
    assert _api_version(HOSTS[FIRST]) == OLD_KUBE


def test_workload_with_a_disruption_budget_and_a_client_loop():
    host = ssh_host(HOSTS[FIRST])
    kubectl_apply(host, web_manifest(pdb_min_available=1, pre_stop_seconds=5))
    rollout = host.run("%s rollout status deployment/ks-web --timeout=180s" % KUBECTL)
    assert rollout.rc == 0, rollout.stdout + rollout.stderr
    cluster_ip = host.check_output("%s get service ks-web -o jsonpath={.spec.clusterIP}" % KUBECTL)
    host.run("systemctl stop %s; rm -f %s" % (CLIENT_UNIT, CLIENT_LOG))
    # one request every ~0.2 s (client pacing) through the Service, each given 2 s; one line per request
    loop = (
        'while true; do if curl -s -o /dev/null --max-time 2 http://%s/; then echo ok; else echo "fail $(date +%%T)";'
        " fi; sleep 0.2; done >> %s" % (cluster_ip, CLIENT_LOG)
    )
    started = host.run("systemd-run --unit %s --collect /bin/sh -c '%s'" % (CLIENT_UNIT, loop))
    assert started.rc == 0, started.stderr
    assert deadline_poll(lambda: "ok" in host.run("cat %s" % CLIENT_LOG).stdout, 30)


def test_check_mode_reports_the_upgrade_and_changes_nothing():
    rc, output = run_playbook("upgrade.yml", *TARGETS, "--check", timeout=900)
    assert rc == 0, output[-4000:]
    stats = recap(output)
    assert all(stats[name]["changed"] > 0 for name in HOSTS), stats
    for address in HOSTS.values():
        assert _api_version(address) == OLD_KUBE
    nodes = _nodes()
    assert all(not n["spec"].get("unschedulable") for n in nodes.values())
    assert all(ANNOTATION not in n["metadata"].get("annotations", {}) for n in nodes.values())
    assert {n["status"]["nodeInfo"]["kubeletVersion"] for n in nodes.values()} == {OLD_KUBE}


def test_a_failing_step_stops_the_roll_after_that_host_and_the_rest_keeps_serving():
    """The second control-plane host gets an apiserver that cannot start (an unknown flag): its /readyz gate fails,
    the roll stops there; the first host is upgraded, the third untouched, and the cluster answers."""
    with tempfile.TemporaryDirectory() as tmp:
        broken = os.path.join(tmp, "broken.yml")
        with open(broken, "w", encoding="utf-8") as handle:
            handle.write(
                "all:\n  hosts:\n    %s:\n      control_plane_apiserver_flags: {kubesmith-broken-on-purpose: 'true'}\n"
                "      control_plane_ready_timeout: 20\n" % BROKEN
            )
        start, wall_start = time.monotonic(), time.time()
        rc, output = run_playbook("upgrade.yml", *TARGETS, inventories=[broken], timeout=1500)
        report_figure("upgrade stopped by the broken host after %.0f s" % (time.monotonic() - start))
    assert rc != 0
    # the first host's apiserver restarted once: the broken host's batch did not restart it again
    assert starts_since(ssh_host(HOSTS[FIRST]), wall_start) == 1
    assert "%s: the control plane did not come back healthy" % BROKEN in output, output[-4000:]
    assert _api_version(HOSTS[FIRST]) == NEW_KUBE
    assert _api_version(HOSTS[BROKEN]) == ""
    assert _api_version(HOSTS[LAST]) == OLD_KUBE
    nodes = _nodes()
    assert nodes[FIRST]["status"]["nodeInfo"]["kubeletVersion"] == NEW_KUBE
    assert nodes[LAST]["status"]["nodeInfo"]["kubeletVersion"] == OLD_KUBE
    assert not nodes[LAST]["spec"].get("unschedulable"), "the host after the failure was not touched"
    for address in HOSTS.values():
        assert _etcd_version(address) == NEW_ETCD


def test_a_rerun_after_the_fix_resumes_and_completes():
    start, wall_start = time.monotonic(), time.time()
    rc, output = run_playbook("upgrade.yml", *TARGETS, timeout=1500)
    seconds = time.monotonic() - start
    assert rc == 0, output[-4000:]
    # the finished host untouched, the last one's apiserver started once (the broken host's crash-looped until the
    # re-run fixed its unit: systemd restarts it every 5 s, so its count says nothing)
    starts = {name: starts_since(ssh_host(HOSTS[name]), wall_start) for name in (FIRST, LAST)}
    assert starts == {FIRST: 0, LAST: 1}, starts
    report_figure("upgrade resumed and finished 2 control-plane hosts with their nodes in %.0f s" % seconds)
    assert "already at target: %s" % FIRST in output, "the re-run skips the host the first run finished"


def test_every_component_reports_the_new_version():
    for name, address in sorted(HOSTS.items()):
        assert _api_version(address) == NEW_KUBE, name
        assert _etcd_version(address) == NEW_ETCD, name
    for name, node in sorted(_nodes().items()):
        info = node["status"]["nodeInfo"]
        assert info["kubeletVersion"] == NEW_KUBE, name
        assert info["kubeProxyVersion"] == NEW_KUBE, name
        assert info["containerRuntimeVersion"].startswith("containerd://%s" % NEW_CONTAINERD), (name, info)
        assert not node["spec"].get("unschedulable"), name
        assert ANNOTATION not in node["metadata"].get("annotations", {}), name
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True", (name, ready)


def test_a_second_run_changes_nothing():
    rc, output = run_playbook("upgrade.yml", *TARGETS, timeout=600)
    assert rc == 0, output[-4000:]
    assert "nothing to do" in output
    unchanged, stats = _unchanged(output)
    assert unchanged, stats


def test_the_client_saw_no_failed_request_during_the_whole_upgrade():
    host = ssh_host(HOSTS[FIRST])
    host.run("systemctl stop %s" % CLIENT_UNIT)
    lines = host.check_output("cat %s" % CLIENT_LOG).splitlines()
    ok = sum(1 for line in lines if line == "ok")
    failed = [line for line in lines if line.startswith("fail")]
    report_figure(
        "client requests through the Service during the upgrade: %d succeeded, %d failed %s"
        % (ok, len(failed), failed[:10])
    )
    assert ok > 100, lines[-20:]
    assert not failed
    pods = json.loads(host.check_output("%s get pods -l app=ks-web -o json" % KUBECTL))["items"]
    assert sum(1 for p in pods if p["status"]["phase"] == "Running") == 2
