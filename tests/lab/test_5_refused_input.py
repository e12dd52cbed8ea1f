"""The lab (tools/test lab): a run that preflight refuses changes nothing on a real, running host.

Each bad input below is refused on the controller (integration and unit tiers hold the whole table of refusals);
here the same refusals run against the converged lab host, and the host is then compared with itself: no file
under the paths kubesmith manages is newer than a marker written just before, and no service was restarted."""

import os
import sys

import pytest
from support.lab import first_host

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "molecule", "shared"))
from kscluster import ssh_host  # noqa: E402  (shared scenario helpers, not a package)
from ksplay import recap, run_playbook  # noqa: E402

NAME, ADDRESS = first_host()
MARKER = "/run/ks-refused-marker"
# Every directory a converge writes to (node, containerd, pki, etcd, control plane, worker, add-ons records).
MANAGED = (
    "/etc/kubernetes /etc/etcd /etc/containerd /etc/systemd/system /usr/local/bin /etc/sysctl.d "
    "/etc/modules-load.d /var/lib/kubesmith"
)
SERVICES = ("etcd", "containerd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet")

# Each run is refused before any connection; preflight reports every problem of an inventory at once, so one run
# covers two classes (the type check of the arguments runs first and alone).
REFUSED = [
    (
        ["-e", '{"cluster_api_endpoint": "https://%s:6443", "cluster_service_cidr": "10.244.128.0/20"}' % ADDRESS],
        [
            "cluster_api_endpoint is the string 'https://%s:6443' but must be a mapping" % ADDRESS,
            "cluster_pod_cidr 10.244.0.0/16 overlaps cluster_service_cidr 10.244.128.0/20",
        ],
    ),
    (
        ["-e", "cluster_node_pod_cidr_prefix=abc"],
        ["argument 'cluster_node_pod_cidr_prefix' is of type str and we were unable to convert to int"],
    ),
]


def _newer_than_marker(host):
    out = host.run("find %s ! -type d -newer %s -print 2>/dev/null" % (MANAGED, MARKER))  # files and links
    return sorted(out.stdout.split())


def _started(host):
    out = host.check_output("systemctl show -p Id -p ActiveEnterTimestampMonotonic %s" % " ".join(SERVICES))
    return out


@pytest.mark.parametrize("args,messages", REFUSED, ids=["endpoint-url+cidr-overlap", "type"])
def test_a_refused_run_changes_nothing_on_the_host(args, messages):
    host = ssh_host(ADDRESS)
    assert host.run("touch %s" % MARKER).rc == 0
    # the comparison sees a change: a file written after the marker is listed (then removed again)
    host.run("touch /etc/kubernetes/.ks-probe")
    assert _newer_than_marker(host) == ["/etc/kubernetes/.ks-probe"]
    host.run("rm -f /etc/kubernetes/.ks-probe")
    host.run("touch %s" % MARKER)
    started = _started(host)
    assert started.count("ActiveEnterTimestampMonotonic=") == len(SERVICES), started

    rc, output = run_playbook("site.yml", *args, timeout=300)
    assert rc != 0, output[-3000:]
    for message in messages:
        assert message in output, (message, output[-3000:])
    assert "UNREACHABLE" not in output
    assert recap(output)[NAME]["changed"] == 0, recap(output)  # recap() fails when it finds no host line

    assert _newer_than_marker(host) == [], "the refused run wrote these files"
    assert _started(host) == started, "the refused run restarted a service"
