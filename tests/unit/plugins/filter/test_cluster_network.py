"""Unit tests for plugins/filter/cluster_network.py."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.filter import cluster_network as cn

# --------------------------------------------------------------------------- service_ip


@pytest.mark.parametrize(
    "cidr, index, expected",
    [
        ("10.96.0.0/12", 1, "10.96.0.1"),  # kube-apiserver service IP
        ("10.96.0.0/12", 10, "10.96.0.10"),  # cluster DNS
        ("10.96.0.0/12", "10", "10.96.0.10"),
        ("10.96.0.0/12", 256, "10.96.1.0"),
        ("10.96.0.0/12", 2**20 - 2, "10.111.255.254"),  # last before broadcast
        ("172.30.0.0/24", 254, "172.30.0.254"),
        ("192.0.2.0/30", 2, "192.0.2.2"),
        ("fd00:10:96::/112", 1, "fd00:10:96::1"),
        ("fd00:10:96::/112", 10, "fd00:10:96::a"),
        ("fd00:10:96::/112", 65535, "fd00:10:96::ffff"),  # no broadcast in IPv6
    ],
)
def test_service_ip(cidr, index, expected):
    assert cn.service_ip(cidr, index) == expected


@pytest.mark.parametrize(
    "cidr, index, match",
    [
        ("10.96.0.0/24", 0, "index 0 is outside 10.96.0.0/24 \\(usable: 1 to 254\\)"),  # network address
        ("10.96.0.0/24", 255, "index 255 is outside"),  # broadcast
        ("10.96.0.0/24", -1, "index -1 is outside"),
        ("10.96.0.0/24", "ten", "index 'ten' is not a whole number"),
        ("10.96.0.0/24", None, "index None is not a whole number"),
        ("10.96.0.0/24", True, "index True is not a whole number"),
        ("10.96.0.0/31", 1, "has no address to allocate"),
        ("10.96.0.1/32", 1, "has no address to allocate"),
        ("10.96.0.1/12", 1, "has host bits set: use 10.96.0.0/12"),
        ("10.96.0.0", 1, "is not a CIDR"),
        ("", 1, "is empty"),
        (None, 1, "is empty"),
    ],
)
def test_service_ip_bad(cidr, index, match):
    with pytest.raises(AnsibleFilterError, match="kubesmith.cluster.service_ip: .*" + match):
        cn.service_ip(cidr, index)


# --------------------------------------------------------------------------- cidr_overlaps / cidr_contains


@pytest.mark.parametrize(
    "first, second, expected",
    [
        ("10.244.0.0/16", "10.96.0.0/12", False),
        ("10.0.0.0/8", "10.96.0.0/12", True),
        ("10.96.0.0/12", "10.0.0.0/8", True),
        ("10.96.0.0/12", "10.111.255.255/32", True),  # last address
        ("10.96.0.0/12", "10.112.0.0/16", False),  # right after
        ("10.96.0.0/12", "10.95.255.255/32", False),  # right before
        ("192.0.2.0/24", "192.0.2.0/24", True),
        ("0.0.0.0/0", "203.0.113.0/24", True),
        ("10.96.0.1/12", "10.96.0.0/24", True),  # host bits tolerated here: only the network matters
        ("fd00::/64", "fd00::/108", True),
        ("fd00::/64", "10.0.0.0/8", False),  # families never overlap
    ],
)
def test_cidr_overlaps(first, second, expected):
    assert cn.cidr_overlaps(first, second) is expected


@pytest.mark.parametrize("first, second", [("10.0.0.0", "10.0.0.0/8"), ("10.0.0.0/8", "nope"), (None, "10.0.0.0/8")])
def test_cidr_overlaps_bad(first, second):
    with pytest.raises(AnsibleFilterError, match="kubesmith.cluster.cidr_overlaps"):
        cn.cidr_overlaps(first, second)


@pytest.mark.parametrize(
    "cidr, value, expected",
    [
        ("192.0.2.0/24", "192.0.2.0", True),
        ("192.0.2.0/24", "192.0.2.255", True),
        ("192.0.2.0/24", "192.0.3.0", False),
        ("192.0.2.0/24", "192.0.2.128/25", True),
        ("192.0.2.0/24", "192.0.2.0/23", False),  # bigger than the container
        ("192.0.2.0/24", "fd00::1", False),
        ("fd00::/64", "fd00::1", True),
        ("10.96.0.0/12", "10.96.0.1/24", True),
    ],
)
def test_cidr_contains(cidr, value, expected):
    assert cn.cidr_contains(cidr, value) is expected


@pytest.mark.parametrize("cidr, value", [("192.0.2.0/24", "10.1"), ("192.0.2.0/24", "host"), ("bad", "192.0.2.1")])
def test_cidr_contains_bad(cidr, value):
    with pytest.raises(AnsibleFilterError, match="kubesmith.cluster.cidr_contains"):
        cn.cidr_contains(cidr, value)


# --------------------------------------------------------------------------- cidr_prefix / cidr_subnet


@pytest.mark.parametrize(
    "cidr, expected", [("10.96.0.0/12", 12), ("0.0.0.0/0", 0), ("10.0.0.1/32", 32), ("fd00::/108", 108)]
)
def test_cidr_prefix(cidr, expected):
    assert cn.cidr_prefix(cidr) == expected


def test_cidr_prefix_bad():
    with pytest.raises(AnsibleFilterError, match="kubesmith.cluster.cidr_prefix: '10.96.0.0' is not a CIDR"):
        cn.cidr_prefix("10.96.0.0")


@pytest.mark.parametrize(
    "cidr, prefix, index, expected",
    [
        ("10.244.0.0/16", 24, 0, "10.244.0.0/24"),
        ("10.244.0.0/16", 24, 2, "10.244.2.0/24"),
        ("10.244.0.0/16", 24, 255, "10.244.255.0/24"),
        ("10.244.0.0/16", "26", "5", "10.244.1.64/26"),
        ("10.244.0.0/16", 16, 0, "10.244.0.0/16"),
        ("10.0.0.0/8", 32, 2**24 - 1, "10.255.255.255/32"),
        ("fd00:10:244::/56", 64, 3, "fd00:10:244:3::/64"),
    ],
)
def test_cidr_subnet(cidr, prefix, index, expected):
    assert cn.cidr_subnet(cidr, prefix, index) == expected


@pytest.mark.parametrize(
    "cidr, prefix, index, match",
    [
        ("10.244.0.0/16", 24, 256, "holds 256 /24 subnets, index 256 is out of range \\(0 to 255\\)"),
        ("10.244.0.0/16", 24, -1, "index -1 is out of range"),
        ("10.244.0.0/16", 15, 0, "prefix 15 does not fit in 10.244.0.0/16 \\(use 16 to 32\\)"),
        ("10.244.0.0/16", 33, 0, "prefix 33 does not fit"),
        ("10.244.0.1/16", 24, 0, "has host bits set"),
    ],
)
def test_cidr_subnet_bad(cidr, prefix, index, match):
    with pytest.raises(AnsibleFilterError, match="kubesmith.cluster.cidr_subnet: .*" + match):
        cn.cidr_subnet(cidr, prefix, index)


# --------------------------------------------------------------------------- is_ip / is_cidr


@pytest.mark.parametrize(
    "value, expected",
    [
        ("192.0.2.1", True),
        ("::1", True),
        ("10.1", False),
        ("010.0.0.1", False),
        ("192.0.2.1/32", False),
        ("node1.example", False),
        ("", False),
        (None, False),
        (3232235521, False),
    ],
)
def test_is_ip(value, expected):
    assert cn.is_ip(value) is expected


@pytest.mark.parametrize(
    "value, expected",
    [
        ("10.96.0.0/12", True),
        ("fd00::/108", True),
        ("10.96.0.1/12", False),
        ("10.96.0.0", False),
        ("10.0.0.0/255.0.0.0", False),
        ("", False),
        (None, False),
    ],
)
def test_is_cidr(value, expected):
    assert cn.is_cidr(value) is expected


# --------------------------------------------------------------------------- node_address


@pytest.mark.parametrize(
    "host_vars, expected",
    [
        ({"inventory_hostname": "a", "node_ip": "10.0.0.5", "ansible_host": "192.0.2.1"}, "10.0.0.5"),
        ({"inventory_hostname": "a", "ansible_host": "192.0.2.1"}, "192.0.2.1"),
        ({"inventory_hostname": "a", "ansible_host": "a.example"}, None),
        (
            {
                "inventory_hostname": "a",
                "ansible_host": "a.example",
                "ansible_facts": {"default_ipv4": {"address": "172.16.0.4"}},
            },
            "172.16.0.4",
        ),
        ({"inventory_hostname": "a", "node_ip": None, "ansible_facts": None}, None),
        ({}, None),
    ],
)
def test_node_address(host_vars, expected):
    assert cn.node_address(host_vars) == expected


def test_node_address_bad_input():
    with pytest.raises(AnsibleFilterError, match="expects a host's variables"):
        cn.node_address(42)


# --------------------------------------------------------------------------- inventory_errors / host_errors


def _hostvars():
    return {
        "cp1": {"inventory_hostname": "cp1", "ansible_host": "192.0.2.11"},
        "cp2": {"inventory_hostname": "cp2", "ansible_host": "192.0.2.12"},
        "cp3": {"inventory_hostname": "cp3", "ansible_host": "192.0.2.13"},
        "w1": {"inventory_hostname": "w1", "ansible_host": "w1.example", "node_name": "worker-1"},
        "bastion": {"inventory_hostname": "bastion", "ansible_host": "192.0.2.11"},  # not a cluster host
    }


def _groups():
    return {
        "all": ["cp1", "cp2", "cp3", "w1", "bastion"],
        "ungrouped": ["bastion"],
        "etcd": ["cp1", "cp2", "cp3"],
        "control_plane": ["cp1", "cp2", "cp3"],
        "workers": ["w1"],
    }


def test_inventory_errors_good_and_ignores_non_cluster_hosts():
    assert cn.inventory_errors(_groups(), _hostvars(), {"cluster_node_cidr": "192.0.2.0/24"}) == []
    assert cn.inventory_errors(_groups(), _hostvars()) == []


def test_inventory_errors_reports_each_problem():
    groups, hostvars = _groups(), _hostvars()
    groups["etcd"] = ["cp1", "cp2"]
    hostvars["w1"]["node_ip"] = "192.0.2.12"
    hostvars["cp3"]["node_name"] = "CP_3"
    errors = cn.inventory_errors(groups, hostvars, {"cluster_service_cidr": "10.96.0.0/8"})
    assert [e.split(":")[0] for e in errors] == [
        "group etcd has 2 hosts (cp1, cp2)",
        "host cp3",
        "node address 192.0.2.12 is used by hosts cp2 (ansible_host), w1 (node_ip)",
        "cluster_service_cidr 10.96.0.0/8 has host bits set",
        "cluster_service_cidr 10.96.0.0/8 is larger than /12 (kube-apiserver limit)",
        "cluster_pod_cidr 10.244.0.0/16 overlaps cluster_service_cidr 10.96.0.0/8",
    ]


def test_inventory_errors_uses_facts_when_present():
    hostvars = _hostvars()
    hostvars["w1"]["ansible_facts"] = {"default_ipv4": {"address": "192.0.2.13"}}
    (message,) = cn.inventory_errors(_groups(), hostvars)
    assert message.startswith("node address 192.0.2.13 is used by hosts cp3 (ansible_host), w1 (ansible_facts.")


def test_inventory_errors_missing_hostvars_entry():
    groups = {"etcd": ["ghost"], "control_plane": ["ghost"]}
    assert cn.inventory_errors(groups, {}) == []


def _fact_hostvars(**facts):
    base = {
        "os_family": "Debian",
        "distribution": "Ubuntu",
        "distribution_version": "24.04",
        "processor_vcpus": 2,
        "memtotal_mb": 1900,
        "default_ipv4": {"address": "192.0.2.11"},
    }
    base.update(facts)
    return {"cp1": {"inventory_hostname": "cp1", "group_names": ["control_plane", "etcd"], "ansible_facts": base}}


def test_host_errors_good():
    assert cn.host_errors("cp1", _fact_hostvars()) == []
    assert cn.host_errors("cp1", _fact_hostvars(), {"preflight_supported_os_families": ["Debian"]}) == []


def test_host_errors_bad():
    errors = cn.host_errors("cp1", _fact_hostvars(os_family="Suse", memtotal_mb=512), {})
    assert [e.split(" (")[0] for e in errors] == ["host cp1: OS family Suse", "host cp1: 512 MB memory"]


def test_host_errors_unexpected_input():
    with pytest.raises(AnsibleFilterError, match="kubesmith.cluster.host_errors: unexpected input"):
        cn.host_errors("cp1", _fact_hostvars(), {"preflight_min_cpus": 5})


def test_filters_are_registered():
    assert set(cn.FilterModule().filters()) == {
        "service_ip",
        "cidr_overlaps",
        "cidr_contains",
        "cidr_prefix",
        "cidr_subnet",
        "is_ip",
        "is_cidr",
        "node_address",
        "inventory_errors",
        "host_errors",
        "unknown_variables",
        "variable_type_errors",
        "primary_ca_errors",
    }


class _NotHostVars:
    """Has ``get`` (as the filters read node_name with it) but no ``[]``: not a host's variables."""

    def get(self, key, default=None):
        return default


def _filter(module, name):
    import importlib

    path = "ansible_collections.kubesmith.cluster.plugins.filter." + module
    return importlib.import_module(path).FilterModule().filters()[name]


@pytest.mark.parametrize(
    "module, name, args",
    [
        ("cluster_network", "node_address", (_NotHostVars(),)),
        ("etcd", "etcd_client_urls", (["e1"], {"e1": _NotHostVars()})),
        ("load_balancer", "load_balancer_members", (["cp1"], {"cp1": _NotHostVars()})),
        ("addons", "pod_network_hosts", (["cp1"], {"cp1": _NotHostVars()})),
    ],
)
def test_every_filter_reports_a_bad_host_as_node_address_does(module, name, args):
    with pytest.raises(AnsibleFilterError, match=r"^kubesmith\.cluster\.node_address expects a host's variables"):
        _filter(module, name)(*args)
