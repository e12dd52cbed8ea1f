"""Last in the lab tier: `reset.yml` refuses without its confirmation and with a blank path variable (0 changed),
then removes the whole footprint, and site.yml builds the host again."""

import json
import os
import sys

from support.lab import first_host

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "molecule", "shared"))
from kscluster import KUBECTL, ssh_host  # noqa: E402  (shared scenario helpers, not a package)
from ksplay import recap, run_playbook  # noqa: E402

NAME, ADDRESS = first_host()

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
    host = ssh_host(ADDRESS)
    rc, output = run_playbook("reset.yml")
    assert rc != 0 and "-e reset_confirm=true" in output, output[-2000:]
    stats = recap(output)
    assert list(stats) == [NAME] and stats[NAME]["changed"] == 0, stats
    assert host.service("kubelet").is_running

    # a blank path variable stops the reset before anything is stopped, unmounted or removed
    rc, output = run_playbook("reset.yml", "-e", "reset_confirm=true", "-e", "containerd_root_dir=")
    assert rc != 0 and "containerd_root_dir is empty" in " ".join(output.split()), output[-2000:]  # unwrapped
    stats = recap(output)
    assert list(stats) == [NAME] and stats[NAME]["changed"] == 0, stats
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
    node = json.loads(host.check_output("%s get node %s -o json" % (KUBECTL, NAME)))
    assert [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"] == ["True"]
