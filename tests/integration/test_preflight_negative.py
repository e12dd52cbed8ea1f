"""The preflight role through ansible-playbook: bad inventories fail with their message and touch nothing.

Each case writes a small inventory, runs ``playbooks/preflight_only.yml`` (the preflight role on all
hosts, ``any_errors_fatal``, ``gather_facts: false``, then a task that creates a marker file) and checks:
the exit code is non-zero, the specific message is printed, and the marker file does not exist.

- Inventory-level cases use hosts at TEST-NET addresses (192.0.2.2xx) with ``ansible_connection: ssh``:
  they fail before any connection is attempted (no host is contacted, nothing is unreachable).
- Fact-level cases use ``localhost`` with ``ansible_connection: local`` (fact gathering changes nothing).
- One positive case passes and creates the marker; one more shows the role passes in check mode.

Run: ``pytest tests/integration -m integration`` (not collected by ``pytest tests/unit``).
"""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK = os.path.join(ROOT, "tests", "integration", "playbooks", "preflight_only.yml")
ANSIBLE_PLAYBOOK = os.environ.get(
    "KUBESMITH_ANSIBLE_PLAYBOOK", os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
)
# A preflight regression that did connect would wait this long per host, then report UNREACHABLE.
# ProxyCommand=false: even a regression that let a play connect could not send a packet anywhere
SSH_VARS = {
    "ansible_connection": "ssh",
    "ansible_ssh_common_args": "-o ConnectTimeout=3 -o ProxyCommand=false",
    "ansible_user": "nobody",
}


def _has_default_ipv4_route():
    try:
        with open("/proc/net/route") as routes:
            return any(line.split()[1] == "00000000" for line in list(routes)[1:] if line.split())
    except OSError:
        return False


def _ssh_inventory(groups, host_vars=None, cluster_vars=None):
    """Inventory of unreachable TEST-NET hosts: groups maps group -> host names."""
    host_vars = host_vars or {}
    names = sorted({host for hosts in groups.values() for host in hosts})
    addresses = {name: "192.0.2.%d" % (201 + index) for index, name in enumerate(names)}
    children = {}
    for group, hosts in groups.items():
        children[group] = {"hosts": {}}
        for host in hosts:
            entry = {"ansible_host": addresses[host]}
            entry.update(host_vars.get(host, {}))
            children[group]["hosts"][host] = entry
    return {"all": {"vars": dict(SSH_VARS, **(cluster_vars or {})), "children": children}}


def _first_global_ipv4():
    """This machine's first non-loopback IPv4 address (read locally, nothing is sent)."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True)
    return out.stdout.split()[3].split("/")[0]


def _local_inventory(cluster_vars=None):
    """localhost in every group, reached without ssh; fact gathering is read-only."""
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    if not _has_default_ipv4_route():
        host["node_ip"] = _first_global_ipv4()  # no default route here: facts would give no node address
    groups = ("etcd", "control_plane", "workers")
    return {
        "all": {
            "vars": dict(cluster_vars or {}),
            "children": {group: {"hosts": {"localhost": host}} for group in groups},
        }
    }


def _run(tmp_path, inventory, *args):
    inventory_file = tmp_path / "inventory.json"  # JSON is YAML: the yaml inventory plugin reads it
    inventory_file.write_text(json.dumps(inventory))
    marker = tmp_path / "marker"
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
    )
    command = [ANSIBLE_PLAYBOOK, "-i", str(inventory_file), PLAYBOOK, "-e", "preflight_test_marker=%s" % marker]
    result = subprocess.run(
        command + list(args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    return result, result.stdout + result.stderr, marker


def _assert_refused(tmp_path, inventory, messages, *args):
    result, output, marker = _run(tmp_path, inventory, *args)
    assert result.returncode != 0, output
    for message in messages:
        assert message in output, "expected message not found:\n%s\n---\n%s" % (message, output)
    assert not marker.exists(), "the play went on after a failed preflight:\n" + output
    assert "UNREACHABLE" not in output, "a host was contacted:\n" + output
    return output


THREE_CP = ["cp1", "cp2", "cp3"]

INVENTORY_CASES = {
    "etcd_even_count": (
        {"etcd": ["e1", "e2"], "control_plane": ["cp1"], "workers": ["w1"]},
        {},
        {},
        [
            "group etcd has 2 hosts (e1, e2): etcd needs a majority (2 of 2) to keep quorum, so 2 members "
            "tolerate 0 failed member(s), no more than 1 would: use 3 etcd hosts (or 1 for a lab)"
        ],
    ),
    "no_control_plane": (
        {"etcd": ["e1", "e2", "e3", "e4"], "workers": ["w1"]},
        {},
        {},
        [
            "group control_plane is empty: add at least one host to [control_plane] in the inventory",
            "group etcd has 4 hosts (e1, e2, e3, e4)",
            "use 3 or 5 etcd hosts",
        ],
    ),
    "node_names_invalid_and_duplicate": (
        {"etcd": THREE_CP, "control_plane": THREE_CP, "workers": ["Worker_1", "w2"]},
        {"cp2": {"node_name": "node-a"}, "cp3": {"node_name": "node-a"}},
        {},
        [
            "host Worker_1: inventory name (node_name unset) 'Worker_1' is not a valid Kubernetes node name",
            "set node_name, e.g. 'worker-1'",
            "node_name 'node-a' is used by hosts cp2, cp3: give each host its own node_name",
        ],
    ),
    "node_addresses_duplicate_and_invalid": (
        {"etcd": THREE_CP, "control_plane": THREE_CP, "workers": ["w1", "w2"]},
        {"w1": {"node_ip": "192.0.2.201"}, "w2": {"node_ip": "10.1"}},
        {},
        [
            "node address 192.0.2.201 is used by hosts cp1 (ansible_host), w1 (node_ip): give each host its own "
            "address (set node_ip per host)",
            "host w2: node_ip '10.1' is not an IP address: set node_ip to the address the node uses in the cluster",
        ],
    ),
    "service_cidr_too_large": (
        {"etcd": ["cp1"], "control_plane": ["cp1"]},
        {},
        {"cluster_service_cidr": "10.96.0.0/8"},
        ["cluster_service_cidr 10.96.0.0/8 is larger than /12 (kube-apiserver limit): use a /12 to /24"],
    ),
    "service_cidr_too_small": (
        {"etcd": ["cp1"], "control_plane": ["cp1"]},
        {},
        {"cluster_service_cidr": "10.96.0.0/25"},
        [
            "cluster_service_cidr 10.96.0.0/25 is too small (smaller than /24, preflight_service_cidr_max_prefix): "
            "use a /12 to /24"
        ],
    ),
    "cidrs_overlap_and_pod_cidr_too_small": (
        {"etcd": THREE_CP, "control_plane": THREE_CP, "workers": ["w1", "w2"]},
        {},
        {"cluster_pod_cidr": "10.96.0.0/22", "cluster_service_cidr": "10.96.0.0/16"},
        [
            "cluster_pod_cidr 10.96.0.0/22 holds 4 /24 node subnet(s) but 5 nodes (control_plane + workers) need "
            "one each: use a /21 or larger cluster_pod_cidr, or a longer cluster_node_pod_cidr_prefix",
            "cluster_pod_cidr 10.96.0.0/22 overlaps cluster_service_cidr 10.96.0.0/16: pick networks that share "
            "no address",
        ],
    ),
    "invalid_pod_cidr_and_node_addresses_in_wrong_networks": (
        {"etcd": ["cp1"], "control_plane": ["cp1"], "workers": ["w1"]},
        {"w1": {"node_ip": "10.96.0.5"}},
        {"cluster_node_cidr": "192.0.2.0/25", "cluster_pod_cidr": "10.244.0.0/16x"},
        [
            "cluster_pod_cidr 10.244.0.0/16x is not a CIDR (address/prefix such as 10.96.0.0/12)",
            "host cp1: ansible_host 192.0.2.201 is outside cluster_node_cidr 192.0.2.0/25: set node_ip to its "
            "address in that network or change cluster_node_cidr",
            "host w1: node_ip 10.96.0.5 is outside cluster_node_cidr 192.0.2.0/25",
            "host w1: node_ip 10.96.0.5 is inside cluster_service_cidr 10.96.0.0/12: move cluster_service_cidr to a "
            "range the nodes do not use",
        ],
    ),
    "endpoint_as_url_and_pod_subnet_too_small": (
        {"etcd": ["cp1"], "control_plane": ["cp1"], "workers": ["w1"]},
        {},
        {"cluster_api_endpoint": "https://192.0.2.100:8443", "cluster_node_pod_cidr_prefix": 26},
        [
            "cluster_api_endpoint is the string 'https://192.0.2.100:8443' but must be a mapping: "
            "cluster_api_endpoint: {host: 192.0.2.100, port: 8443}",
            "cluster_node_pod_cidr_prefix 26 gives each node 61 pod addresses but the kubelet runs up to 110 pods",
        ],
    ),
    "vip_is_a_workers_address_on_the_apiserver_port": (
        {"etcd": THREE_CP, "control_plane": THREE_CP, "workers": ["w1"]},
        {},
        {"load_balancer_mode": "vip", "cluster_api_endpoint": {"host": "192.0.2.204"}},
        [
            "the virtual IP 192.0.2.204 is the address of host w1: choose a free address in the node network",
            "cluster_api_endpoint.port is 6443, the port kube-apiserver listens on (control_plane_apiserver_port)",
        ],
    ),
    "local_mode_on_a_real_address": (
        {"etcd": ["e1", "e2", "e3"], "control_plane": ["cp1", "cp2"], "workers": ["w1", "w2"]},
        {},
        {"load_balancer_mode": "local", "cluster_api_endpoint": {"host": "192.0.2.100"}},
        ["load_balancer_mode local: every node reaches the API through its own haproxy on the loopback address"],
    ),
}


@pytest.mark.parametrize("case", sorted(INVENTORY_CASES))
def test_inventory_case_refused_before_any_host_is_contacted(tmp_path, case):
    groups, host_vars, cluster_vars, messages = INVENTORY_CASES[case]
    output = _assert_refused(tmp_path, _ssh_inventory(groups, host_vars, cluster_vars), messages)
    # Failed on the first check, which runs on the controller: no fact gathering was attempted.
    assert "Preflight | Gather the facts later roles use" not in output, output


def test_unsupported_os_family_refused_after_facts(tmp_path):
    inventory = _local_inventory({"preflight_supported_os_families": ["Nonexistent"]})
    _assert_refused(
        tmp_path,
        inventory,
        ["is not supported (preflight_supported_os_families: Nonexistent): use a supported OS or add "],
    )


def test_cpu_and_memory_minimums_refused_in_check_mode(tmp_path):
    inventory = _local_inventory(
        {
            "preflight_min_cpus": {"workers": 4096},  # other groups keep their defaults
            "preflight_min_memory_mb": {"etcd": 1024 * 1024 * 1024},
        }
    )
    output = _assert_refused(
        tmp_path,
        inventory,
        [
            "(ansible_facts.processor_vcpus) is below the minimum of 4096 for group workers: give the host more or "
            "lower preflight_min_cpus.workers",
            "MB memory (ansible_facts.memtotal_mb) is below the minimum of 1073741824 for group etcd: give the host "
            "more or lower preflight_min_memory_mb.etcd",
        ],
        "--check",
    )
    assert "host localhost: " in output


def _small_minimums():
    # The machine running the tests may be small: the positive cases only need the checks to pass.
    return {
        "preflight_min_cpus": {"control_plane": 1},
        "preflight_min_memory_mb": {"control_plane": 128, "etcd": 128, "workers": 128},
    }


def test_valid_inventory_passes_and_play_goes_on(tmp_path):
    result, output, marker = _run(tmp_path, _local_inventory(_small_minimums()))
    try:
        assert result.returncode == 0, output
        assert marker.exists(), output
    finally:
        if marker.exists():
            marker.unlink()


def test_valid_inventory_passes_in_check_mode(tmp_path):
    result, output, marker = _run(tmp_path, _local_inventory(_small_minimums()), "--check")
    assert result.returncode == 0, output
    assert "Preflight | Check node addresses found in facts" in output
    assert not marker.exists(), output  # check mode: the marker task only reports what it would do
