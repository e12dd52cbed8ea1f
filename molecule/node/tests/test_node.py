"""Scenario `node`: OS preparation + containerd from the offline mirror, on real systemd hosts."""

import os

import pytest
import tomllib

CTR = "/usr/local/bin/ctr --address /run/containerd/containerd.sock"
VERSIONS = {"containerd": "1.6.20", "runc": "1.1.5", "cni-plugins": "1.1.1"}


def _journal(host, unit):
    return host.run("journalctl -u %s --no-pager -n 60" % unit).stdout


def test_containerd_active_and_answering(host):
    service = host.service("containerd")
    assert service.is_running, _journal(host, "containerd")
    assert service.is_enabled
    out = host.run(CTR + " version")
    assert out.rc == 0, out.stderr + _journal(host, "containerd")
    assert "Version:  1.6.20" in out.stdout.split("Server:")[1]


def test_container_from_locally_built_image_runs(host):
    name = "ks-verify-%s" % host.backend.get_hostname()
    host.run(CTR + " -n k8s.io tasks kill -s KILL %s; %s -n k8s.io containers rm %s" % (name, CTR, name))
    out = host.run(
        CTR + " -n k8s.io run --rm localhost/kubesmith/busybox:1.35 %s /bin/busybox echo hello-from-containerd" % name
    )
    assert out.rc == 0, out.stderr + _journal(host, "containerd")
    assert out.stdout.strip() == "hello-from-containerd"


def test_preloaded_images_present(host):
    refs = host.check_output(CTR + " -n k8s.io images list -q").split()
    assert "registry.k8s.io/pause:3.2" in refs
    assert "localhost/kubesmith/busybox:1.35" in refs


def test_containerd_config_rendered_from_dict(host):
    config = host.file("/etc/containerd/config.toml")
    assert config.mode == 0o644 and config.user == "root"
    data = tomllib.loads(config.content_string)
    cri = data["plugins"]["io.containerd.grpc.v1.cri"]
    assert data["version"] == 2
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.2"
    assert cri["restrict_oom_score_adj"] is True
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    assert cri["registry"]["config_path"] == "/etc/containerd/certs.d"
    mirror = tomllib.loads(host.file("/etc/containerd/certs.d/docker.io/hosts.toml").content_string)
    assert mirror["server"] == "https://registry-1.docker.io"
    assert mirror["host"]["http://10.127.0.1:5000"]["capabilities"] == ["pull", "resolve"]


@pytest.mark.parametrize(
    ("link", "target"),
    [
        ("/usr/local/bin/containerd", "/opt/kubesmith/containerd/1.6.20/bin/containerd"),
        ("/usr/local/bin/ctr", "/opt/kubesmith/containerd/1.6.20/bin/ctr"),
        ("/usr/local/bin/containerd-shim-runc-v2", "/opt/kubesmith/containerd/1.6.20/bin/containerd-shim-runc-v2"),
        ("/usr/local/sbin/runc", "/opt/kubesmith/runc/1.1.5/runc.amd64"),
        ("/opt/cni/bin", "/opt/kubesmith/cni-plugins/1.1.1"),
    ],
)
def test_binaries_linked_to_versioned_install(host, link, target):
    f = host.file(link)
    assert f.is_symlink
    assert host.file(f.linked_to).path == target or f.linked_to == target


def test_binaries_are_the_mirrored_versions(host):
    assert "1.1.5" in host.check_output("/usr/local/sbin/runc --version")
    assert host.file("/opt/cni/bin/bridge").mode == 0o755
    cache = host.file("/var/cache/kubesmith/downloads")
    assert cache.is_directory
    listing = host.check_output("ls /var/cache/kubesmith/downloads")
    assert "containerd-1.6.20-containerd-1.6.20-linux-amd64.tar.gz" in listing
    assert "runc-1.1.5-runc.amd64" in listing


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("net.ipv4.ip_forward", 1),
        ("net.bridge.bridge-nf-call-iptables", 1),
        ("net.bridge.bridge-nf-call-ip6tables", 1),
        # what the kubelet checks at start (protectKernelDefaults): both verified hosts run a kubelet
        ("vm.overcommit_memory", 1),
        ("vm.panic_on_oom", 0),
        ("kernel.panic", 10),
        ("kernel.panic_on_oops", 1),
        ("kernel.keys.root_maxkeys", 1000000),
        ("kernel.keys.root_maxbytes", 25000000),
    ],
)
def test_sysctls_now_and_at_boot(host, key, value):
    assert host.sysctl(key) == value
    conf = host.file("/etc/sysctl.d/90-kubesmith.conf")
    assert conf.mode == 0o644
    assert "%s=%s" % (key, value) in conf.content_string.replace(" ", "")


def test_swap_off_and_kept_off(host):
    swaps = host.file("/proc/swaps").content_string.strip().splitlines()
    assert len(swaps) == 1, swaps  # the header only
    assert host.run("systemctl is-enabled swap.target").stdout.strip() == "masked"


def test_packages_and_time_sync(host):
    for pkg in ("conntrack", "socat", "iptables", "chrony"):
        assert host.package(pkg).is_installed, pkg
    assert host.service("chrony").is_running, _journal(host, "chrony")
    assert "server 10.127.0.1 iburst" in host.file("/etc/chrony/sources.d/kubesmith.sources").content_string


def test_hosts_entries(host):
    hosts = host.file("/etc/hosts").content_string
    assert "10.127.0.11 ks-node-1" in hosts
    assert "10.127.0.12 ks-node-2" in hosts


def _mirror_requests_this_run():
    # the mirror's second port, this scenario's alone (molecule.yml: download_mirror)
    log = os.path.join(os.environ.get("KS_CACHE", "/var/cache/kubesmith"), "run", "mirror-node.log")
    with open(log, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("=== kubesmith scenario start")]
    assert starts, "the prepare step marks the scenario start in %s" % log
    return [line for line in lines[starts[-1] + 1 :] if '"GET ' in line]


def test_each_artifact_fetched_once_per_path():
    """converge + idempotence + check ran: still one transfer of the archive per download path.

    ks-node-2 (download_via_controller=false) fetched from the mirror itself; ks-node-1's
    copy came through the controller (10.127.0.1), which fetched it once.
    """
    archive = "containerd-1.6.20-linux-amd64.tar.gz "
    requests = [line for line in _mirror_requests_this_run() if archive in line]
    by_client = sorted(line.split()[0] for line in requests)
    assert by_client == ["10.127.0.1", "10.127.0.12"], requests
    assert all('" 200 ' in line for line in requests), requests
