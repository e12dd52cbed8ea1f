"""Unit tests for plugins/module_utils/cluster/preflight.py (tables of good and bad inputs)."""

import os

import pytest
import yaml
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import preflight as pf
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import preflight_host as pf_host
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import preflight_settings as pf_settings
from ansible_collections.kubesmith.cluster.plugins.module_utils.net.address import (
    make_host,
    parse_cidr,
    parse_ip,
    resolve_node_address,
)

# --------------------------------------------------------------------------- parse_ip


@pytest.mark.parametrize(
    "value, expected",
    [
        ("10.0.0.1", "10.0.0.1"),
        ("0.0.0.0", "0.0.0.0"),  # noqa: S104 - a value to parse, nothing binds to it
        ("255.255.255.255", "255.255.255.255"),
        ("192.0.2.1", "192.0.2.1"),
        ("::1", "::1"),
        ("fd00::10", "fd00::10"),
        ("FD00::A", "fd00::a"),
    ],
)
def test_parse_ip_good(value, expected):
    assert str(parse_ip(value)) == expected


@pytest.mark.parametrize(
    "value",
    [
        "10.1",  # inet_aton short form
        "10.0.1",
        "010.0.0.1",  # leading zero (octal in some parsers)
        "256.1.1.1",
        "1.2.3.4 ",
        " 1.2.3.4",
        "1.2.3.4/32",
        "0x0a000001",
        "4294967295",
        "host.example",
        "",
        None,
        167772161,
        ["10.0.0.1"],
    ],
)
def test_parse_ip_bad(value):
    assert parse_ip(value) is None


# --------------------------------------------------------------------------- parse_cidr


@pytest.mark.parametrize(
    "value, prefix",
    [
        ("10.96.0.0/12", 12),
        ("10.244.0.0/16", 16),
        ("0.0.0.0/0", 0),
        ("10.0.0.1/32", 32),
        ("192.0.2.0/24", 24),
        ("fd00::/108", 108),
        ("fd00:10:96::/112", 112),
    ],
)
def test_parse_cidr_good(value, prefix):
    network, problem = parse_cidr(value)
    assert problem is None
    assert network.prefixlen == prefix
    assert str(network) == value


@pytest.mark.parametrize(
    "value, problem_start",
    [
        ("10.96.0.0", "is not a CIDR"),  # no prefix: netaddr alone would read a /32
        ("10.96.0.0/", "is not a CIDR"),
        ("10.96.0.0/33", "is not a CIDR: the prefix is out of range"),
        ("fd00::/129", "is not a CIDR: the prefix is out of range"),
        ("10/8", "is not a CIDR: 10 is not an IP address"),
        ("10.0/16", "is not a CIDR: 10.0 is not an IP address"),
        ("010.0.0.0/8", "is not a CIDR: 010.0.0.0 is not an IP address"),
        ("256.0.0.0/8", "is not a CIDR: 256.0.0.0 is not an IP address"),
        ("10.0.0.0/08", "is not a CIDR"),
        ("10.0.0.0/+8", "is not a CIDR"),
        ("10.0.0.0/255.0.0.0", "is not a CIDR"),  # netmask form
        (" 10.0.0.0/8", "is not a CIDR"),
        ("10.0.0.0/8 ", "is not a CIDR"),
        ("pods", "is not a CIDR"),
        ("", "is empty"),
        ("   ", "is empty"),
        (None, "is empty"),
        (12, "is empty"),
        ("10.244.0.0/16,fd00::/56", "lists several networks"),
    ],
)
def test_parse_cidr_bad(value, problem_start):
    network, problem = parse_cidr(value)
    assert network is None
    assert problem.startswith(problem_start)


@pytest.mark.parametrize(
    "value, masked",
    [
        ("10.96.0.1/12", "10.96.0.0/12"),
        ("10.96.0.0/8", "10.0.0.0/8"),
        ("192.0.2.255/24", "192.0.2.0/24"),
        ("fd00::1/64", "fd00::/64"),
    ],
)
def test_parse_cidr_host_bits_gives_masked_network_and_problem(value, masked):
    network, problem = parse_cidr(value)
    assert str(network) == masked
    assert problem == "has host bits set: use %s" % masked


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "name",
    ["a", "node-1", "1node", "node1.example.com", "cp-0.k8s.lab", "a" * 63, ".".join(["a" * 63] * 3) + "." + "b" * 61],
)
def test_is_dns1123_subdomain_good(name):
    assert len(name) <= 253
    assert pf.is_dns1123_subdomain(name)


@pytest.mark.parametrize(
    "name",
    [
        "Node1",
        "node_1",
        "-node",
        "node-",
        "node..x",
        ".node",
        "node.",
        "node 1",
        "nöde",
        "a" * 64,
        ".".join(["a" * 63] * 4),  # 255 characters
        "",
        None,
        1,
    ],
)
def test_is_dns1123_subdomain_bad(name):
    assert not pf.is_dns1123_subdomain(name)


@pytest.mark.parametrize(
    "name, suggestion",
    [
        ("Bad_Name", "bad-name"),
        ("NODE 1", "node-1"),
        ("--x--", "x"),
        ("a..b", "a.b"),
        ("Worker_01.Example.COM", "worker-01.example.com"),
        ("___", "node-1"),
        ("", "node-1"),
        ("a" * 70, "a" * 63),
    ],
)
def test_suggest_dns1123_name(name, suggestion):
    assert pf.suggest_dns1123_name(name) == suggestion
    assert pf.is_dns1123_subdomain(pf.suggest_dns1123_name(name))


# --------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    "node_ip, ansible_host, facts, expected",
    [
        ("10.0.0.5", "192.0.2.1", {"default_ipv4": {"address": "172.16.0.1"}}, ("10.0.0.5", "node_ip")),
        ("not-an-ip", None, None, ("not-an-ip", "node_ip")),  # kept so the check can name it
        (None, "192.0.2.1", {"default_ipv4": {"address": "172.16.0.1"}}, ("192.0.2.1", "ansible_host")),
        ("", "192.0.2.1", None, ("192.0.2.1", "ansible_host")),
        (
            None,
            "node1.example",
            {"default_ipv4": {"address": "172.16.0.1"}},
            ("172.16.0.1", "ansible_facts.default_ipv4"),
        ),
        (None, "node1.example", None, (None, None)),
        (None, None, {}, (None, None)),
        (None, None, {"default_ipv4": {}}, (None, None)),
        (None, None, {"default_ipv4": "broken"}, (None, None)),
    ],
)
def test_resolve_node_address(node_ip, ansible_host, facts, expected):
    assert resolve_node_address(node_ip, ansible_host, facts) == expected


def test_make_host_defaults_node_name_to_inventory_name():
    assert make_host("cp1", ansible_host="192.0.2.10") == {
        "host": "cp1",
        "node_name": "cp1",
        "address": "192.0.2.10",
        "address_source": "ansible_host",
        "ansible_host": "192.0.2.10",
    }


def test_make_host_uses_node_name_as_text():
    assert make_host("cp1", node_name="k8s-cp-1")["node_name"] == "k8s-cp-1"
    assert make_host("cp1", node_name=123)["node_name"] == "123"


# --------------------------------------------------------------------------- group_errors


def _groups(etcd=1, control_plane=1, workers=0):
    return {
        "etcd": ["e%d" % i for i in range(etcd)],
        "control_plane": ["c%d" % i for i in range(control_plane)],
        "workers": ["w%d" % i for i in range(workers)],
    }


@pytest.mark.parametrize("etcd", [1, 3, 5, 7])
def test_group_errors_good_etcd_counts(etcd):
    assert pf.group_errors(_groups(etcd=etcd)) == []


@pytest.mark.parametrize(
    "etcd, fix",
    [(2, "use 3 etcd hosts"), (4, "use 3 or 5 etcd hosts"), (6, "use 5 or 7 etcd hosts")],
)
def test_group_errors_even_etcd_refused_with_quorum_reason(etcd, fix):
    (message,) = pf.group_errors(_groups(etcd=etcd))
    assert message.startswith("group etcd has %d hosts (" % etcd)
    assert "quorum" in message
    assert fix in message


def test_group_errors_even_etcd_message_exact():
    assert pf.group_errors({"etcd": ["e2", "e1"], "control_plane": ["e1"]}) == [
        "group etcd has 2 hosts (e1, e2): etcd needs a majority (2 of 2) to keep quorum, so 2 members tolerate "
        "0 failed member(s), no more than 1 would: use 3 etcd hosts (or 1 for a lab)"
    ]


@pytest.mark.parametrize(
    "groups, missing",
    [
        ({"etcd": ["e1"]}, ["control_plane"]),
        ({"etcd": ["e1"], "control_plane": []}, ["control_plane"]),
        ({"control_plane": ["c1"]}, ["etcd"]),
        ({}, ["control_plane", "etcd"]),
        (None, ["control_plane", "etcd"]),
    ],
)
def test_group_errors_empty_groups(groups, missing):
    assert [m.split(":")[0] for m in pf.group_errors(groups)] == ["group %s is empty" % name for name in missing]


def test_group_errors_counts_a_host_once():
    assert pf.group_errors({"etcd": ["e1", "e1"], "control_plane": ["e1"]}) == []


# --------------------------------------------------------------------------- node_name_errors


def test_node_name_errors_good():
    hosts = [make_host("cp1"), make_host("w1", node_name="worker-1.example")]
    assert pf.node_name_errors(hosts) == []


def test_node_name_errors_invalid_inventory_name():
    (message,) = pf.node_name_errors([make_host("Bad_Name")])
    assert message.startswith("host Bad_Name: inventory name (node_name unset) 'Bad_Name' is not a valid")
    assert message.endswith("set node_name, e.g. 'bad-name'")


def test_node_name_errors_invalid_node_name():
    (message,) = pf.node_name_errors([make_host("w1", node_name="Worker_1")])
    assert message.startswith("host w1: node_name 'Worker_1' is not a valid Kubernetes node name")


def test_node_name_errors_duplicates():
    hosts = [make_host("a", node_name="node-1"), make_host("b", node_name="node-1"), make_host("node-1")]
    assert pf.node_name_errors(hosts) == [
        "node_name 'node-1' is used by hosts a, b, node-1: give each host its own node_name"
    ]


# --------------------------------------------------------------------------- address_errors


def test_address_errors_good_and_unknown_skipped():
    hosts = [
        make_host("a", ansible_host="192.0.2.1"),
        make_host("b", node_ip="192.0.2.2"),
        make_host("c", ansible_host="c.example"),
        make_host("d", ansible_host="d.example"),
    ]
    assert pf.address_errors(hosts) == []


def test_address_errors_duplicates_name_hosts_and_sources():
    hosts = [make_host("a", ansible_host="192.0.2.1"), make_host("b", node_ip="192.0.2.1")]
    assert pf.address_errors(hosts) == [
        "node address 192.0.2.1 is used by hosts a (ansible_host), b (node_ip): give each host its own address "
        "(set node_ip per host)"
    ]


@pytest.mark.parametrize("bad", ["10.1", "192.0.2.300", "node.example", "192.0.2.0/24"])
def test_address_errors_invalid_node_ip(bad):
    (message,) = pf.address_errors([make_host("a", node_ip=bad)])
    assert message == (
        "host a: node_ip %r is not an IP address: set node_ip to the address the node uses in the cluster" % bad
    )


# --------------------------------------------------------------------------- network_errors


def test_network_errors_defaults_are_good():
    assert pf.network_errors({}, node_count=3) == []
    assert pf.network_errors(None) == []


@pytest.mark.parametrize(
    "service",
    ["10.96.0.0/12", "10.96.0.0/16", "10.96.0.0/24", "172.30.0.0/20", "fd00:10:96::/108", "fd00:10:96::/120"],
)
def test_network_errors_service_cidr_in_bounds(service):
    pod = "fd00:10:244::/56" if ":" in service else "10.244.0.0/16"
    settings = {"cluster_service_cidr": service, "cluster_pod_cidr": pod, "cluster_node_pod_cidr_prefix": 64}
    if ":" not in service:
        settings["cluster_node_pod_cidr_prefix"] = 24
    assert pf.network_errors(settings, node_count=2) == []


@pytest.mark.parametrize(
    "service, message",
    [
        (
            "10.96.0.0/8",
            "cluster_service_cidr 10.96.0.0/8 is larger than /12 (kube-apiserver limit): use a /12 to /24",
        ),
        (
            "10.0.0.0/11",
            "cluster_service_cidr 10.0.0.0/11 is larger than /12 (kube-apiserver limit): use a /12 to /24",
        ),
        (
            "10.96.0.0/25",
            "cluster_service_cidr 10.96.0.0/25 is too small (smaller than /24, preflight_service_cidr_max_prefix): "
            "use a /12 to /24",
        ),
        (
            "10.96.0.1/32",
            "cluster_service_cidr 10.96.0.1/32 is too small (smaller than /24, preflight_service_cidr_max_prefix): "
            "use a /12 to /24",
        ),
        (
            "fd00::/100",
            "cluster_service_cidr fd00::/100 is larger than /108 (kube-apiserver limit): use a /108 to /120",
        ),
        (
            "fd00::/121",
            "cluster_service_cidr fd00::/121 is too small (smaller than /120, preflight_service_cidr_max_prefix): "
            "use a /108 to /120",
        ),
    ],
)
def test_network_errors_service_cidr_out_of_bounds(service, message):
    pod = "fd00:10:244::/56" if ":" in service else "10.244.0.0/16"
    prefix = 64 if ":" in service else 24
    settings = {"cluster_service_cidr": service, "cluster_pod_cidr": pod, "cluster_node_pod_cidr_prefix": prefix}
    assert message in pf.network_errors(settings)


def test_network_errors_service_cidr_with_host_bits_reports_both():
    errors = pf.network_errors({"cluster_service_cidr": "10.96.0.0/8"})
    assert errors == [
        "cluster_service_cidr 10.96.0.0/8 has host bits set: use 10.0.0.0/8",
        "cluster_service_cidr 10.96.0.0/8 is larger than /12 (kube-apiserver limit): use a /12 to /24",
        # checks go on with the masked network (what Kubernetes would use): 10.0.0.0/8 holds the pod CIDR
        "cluster_pod_cidr 10.244.0.0/16 overlaps cluster_service_cidr 10.96.0.0/8: pick networks that share no address",
    ]


def test_network_errors_max_prefix_is_configurable():
    settings = {"cluster_service_cidr": "10.96.0.0/26", "preflight_service_cidr_max_prefix": 26}
    assert pf.network_errors(settings) == []
    settings["preflight_service_cidr_max_prefix"] = "24"  # as it arrives from -e
    assert len(pf.network_errors(settings)) == 1


@pytest.mark.parametrize("max_prefix", [11, 29, "x", None, True])
def test_network_errors_max_prefix_out_of_range(max_prefix):
    errors = pf.network_errors({"preflight_service_cidr_max_prefix": max_prefix})
    assert errors == [
        "preflight_service_cidr_max_prefix %s is out of range: use 12 to 28 (the service CIDR must hold the "
        "apiserver and DNS service IPs)" % (max_prefix,)
    ]


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("cluster_pod_cidr", "10.244.0.0", "cluster_pod_cidr 10.244.0.0 is not a CIDR (address/prefix"),
        ("cluster_service_cidr", "", "cluster_service_cidr  is empty: set it to a network in CIDR form"),
        ("cluster_node_cidr", "192.0.2.0/33", "cluster_node_cidr 192.0.2.0/33 is not a CIDR: the prefix"),
        ("cluster_pod_cidr", "10.244.1.0/16", "cluster_pod_cidr 10.244.1.0/16 has host bits set: use 10.244.0.0/16"),
    ],
)
def test_network_errors_invalid_cidrs(name, value, message):
    errors = pf.network_errors({name: value})
    assert any(e.startswith(message) for e in errors), errors


@pytest.mark.parametrize(
    "settings, message",
    [
        (
            {"cluster_pod_cidr": "10.96.0.0/16"},
            "cluster_pod_cidr 10.96.0.0/16 overlaps cluster_service_cidr 10.96.0.0/12: pick networks that share "
            "no address",
        ),
        (
            {"cluster_pod_cidr": "10.0.0.0/8"},
            "cluster_pod_cidr 10.0.0.0/8 overlaps cluster_service_cidr 10.96.0.0/12: pick networks that share "
            "no address",
        ),
        (
            {"cluster_node_cidr": "10.244.255.0/24"},
            "cluster_pod_cidr 10.244.0.0/16 overlaps cluster_node_cidr 10.244.255.0/24: pick networks that share "
            "no address",
        ),
        (
            {"cluster_node_cidr": "10.96.0.0/24"},
            "cluster_service_cidr 10.96.0.0/12 overlaps cluster_node_cidr 10.96.0.0/24: pick networks that share "
            "no address",
        ),
    ],
)
def test_network_errors_overlaps(settings, message):
    assert message in pf.network_errors(settings, node_count=1)


@pytest.mark.parametrize(
    "pod, service",
    [
        ("10.244.0.0/16", "10.96.0.0/12"),
        ("10.112.0.0/16", "10.96.0.0/12"),  # first address after 10.96.0.0/12 (10.111.255.255)
        ("10.95.0.0/16", "10.96.0.0/12"),  # ends right before it
        ("192.168.0.0/16", "172.16.0.0/12"),
    ],
)
def test_network_errors_adjacent_networks_do_not_overlap(pod, service):
    assert pf.network_errors({"cluster_pod_cidr": pod, "cluster_service_cidr": service}) == []


def test_network_errors_families_must_match():
    errors = pf.network_errors({"cluster_pod_cidr": "fd00:10:244::/56", "cluster_node_pod_cidr_prefix": 64})
    assert errors == [
        "cluster_pod_cidr fd00:10:244::/56 and cluster_service_cidr 10.96.0.0/12 are different IP families: "
        "use IPv4 for both or IPv6 for both"
    ]


@pytest.mark.parametrize(
    "pod, prefix, nodes",
    [
        ("10.244.0.0/16", 24, 256),
        ("10.244.0.0/24", 24, 1),
        ("10.244.0.0/23", 24, 2),
        ("10.244.0.0/16", 25, 512),
        ("10.244.0.0/16", "24", 3),
        ("10.0.0.0/8", 24, 3),  # 16 bits longer: still accepted
    ],
)
def test_network_errors_pod_capacity_good(pod, prefix, nodes):
    settings = {
        "cluster_pod_cidr": pod,
        "cluster_service_cidr": "172.16.0.0/16",
        "cluster_node_pod_cidr_prefix": prefix,
    }
    assert pf.network_errors(settings, node_count=nodes) == []


@pytest.mark.parametrize(
    "pod, prefix, nodes, message",
    [
        (
            "10.244.0.0/24",
            24,
            2,
            "cluster_pod_cidr 10.244.0.0/24 holds 1 /24 node subnet(s) but 2 nodes (control_plane + workers) need "
            "one each: use a /23 or larger cluster_pod_cidr, or a longer cluster_node_pod_cidr_prefix",
        ),
        (
            "10.244.0.0/16",
            24,
            257,
            "cluster_pod_cidr 10.244.0.0/16 holds 256 /24 node subnet(s) but 257 nodes (control_plane + workers) "
            "need one each: use a /15 or larger cluster_pod_cidr, or a longer cluster_node_pod_cidr_prefix",
        ),
        (
            "10.244.0.0/22",
            24,
            5,
            "cluster_pod_cidr 10.244.0.0/22 holds 4 /24 node subnet(s) but 5 nodes (control_plane + workers) need "
            "one each: use a /21 or larger cluster_pod_cidr, or a longer cluster_node_pod_cidr_prefix",
        ),
        (
            "10.244.0.0/24",
            16,
            1,
            "cluster_node_pod_cidr_prefix 16 does not fit cluster_pod_cidr 10.244.0.0/24: use a prefix from 24 to 32 "
            "(at most 16 bits longer than the pod CIDR, kube-controller-manager limit)",
        ),
        (
            "10.0.0.0/8",
            25,
            1,
            "cluster_node_pod_cidr_prefix 25 does not fit cluster_pod_cidr 10.0.0.0/8: use a prefix from 8 to 24 "
            "(at most 16 bits longer than the pod CIDR, kube-controller-manager limit)",
        ),
        (
            "10.244.0.0/16",
            "x",
            1,
            "cluster_node_pod_cidr_prefix x does not fit cluster_pod_cidr 10.244.0.0/16: use a prefix from 16 to 32 "
            "(at most 16 bits longer than the pod CIDR, kube-controller-manager limit)",
        ),
    ],
)
def test_network_errors_pod_capacity_bad(pod, prefix, nodes, message):
    settings = {
        "cluster_pod_cidr": pod,
        "cluster_service_cidr": "172.16.0.0/16",
        "cluster_node_pod_cidr_prefix": prefix,
    }
    assert pf.network_errors(settings, node_count=nodes) == [message]


@pytest.mark.parametrize("domain, ok", [("cluster.local", True), ("k8s.example.com", True), ("Cluster.Local", False)])
def test_network_errors_cluster_domain(domain, ok):
    errors = pf.network_errors({"cluster_domain": domain})
    assert (errors == []) is ok
    if not ok:
        assert errors[0].startswith("cluster_domain 'Cluster.Local' is not a valid DNS domain")


# --------------------------------------------------------------------------- node_network_errors


def test_node_network_errors_good():
    hosts = [make_host("a", node_ip="192.0.2.10"), make_host("b", ansible_host="b.example")]
    assert pf.node_network_errors(hosts, {"cluster_node_cidr": "192.0.2.0/24"}) == []
    assert pf.node_network_errors(hosts, {}) == []


@pytest.mark.parametrize(
    "address, settings, message",
    [
        (
            "198.51.100.7",
            {"cluster_node_cidr": "192.0.2.0/24"},
            "host a: node_ip 198.51.100.7 is outside cluster_node_cidr 192.0.2.0/24: set node_ip to its address in "
            "that network or change cluster_node_cidr",
        ),
        (
            "10.244.3.4",
            {},
            "host a: node_ip 10.244.3.4 is inside cluster_pod_cidr 10.244.0.0/16: move cluster_pod_cidr to a range "
            "the nodes do not use",
        ),
        (
            "10.96.0.1",
            {},
            "host a: node_ip 10.96.0.1 is inside cluster_service_cidr 10.96.0.0/12: move cluster_service_cidr to a "
            "range the nodes do not use",
        ),
        (
            "10.111.255.255",  # last address of 10.96.0.0/12
            {},
            "host a: node_ip 10.111.255.255 is inside cluster_service_cidr 10.96.0.0/12: move cluster_service_cidr "
            "to a range the nodes do not use",
        ),
    ],
)
def test_node_network_errors_bad(address, settings, message):
    assert pf.node_network_errors([make_host("a", node_ip=address)], settings) == [message]


@pytest.mark.parametrize("address", ["10.112.0.0", "10.95.255.255", "10.245.0.0", "bogus"])
def test_node_network_errors_edges_outside(address):
    assert pf.node_network_errors([make_host("a", node_ip=address)], {}) == []


def test_node_network_errors_ignores_invalid_networks():
    hosts = [make_host("a", node_ip="10.244.0.5")]
    assert pf.node_network_errors(hosts, {"cluster_pod_cidr": "nonsense", "cluster_node_cidr": "x"}) == []


# --------------------------------------------------------------------------- inventory_errors


def _inventory(**overrides):
    groups = {"etcd": ["cp1", "cp2", "cp3"], "control_plane": ["cp1", "cp2", "cp3"], "workers": ["w1", "w2"]}
    groups.update(overrides)
    hosts = [
        make_host(name, ansible_host="192.0.2.%d" % (10 + index))
        for index, name in enumerate(["cp1", "cp2", "cp3", "w1", "w2"])
    ]
    return groups, hosts


def test_inventory_errors_good():
    groups, hosts = _inventory()
    assert pf.inventory_errors(groups, hosts, {"cluster_node_cidr": "192.0.2.0/24"}) == []


def test_inventory_errors_lists_every_problem():
    groups, hosts = _inventory(etcd=["cp1", "cp2"], control_plane=[])
    hosts.append(make_host("Extra", node_ip="192.0.2.10"))
    errors = pf.inventory_errors(groups, hosts, {"cluster_service_cidr": "10.96.0.0/25"})
    starts = [e.split(":")[0] for e in errors]
    assert starts == [
        "group control_plane is empty",
        "group etcd has 2 hosts (cp1, cp2)",
        "host Extra",
        "node address 192.0.2.10 is used by hosts Extra (node_ip), cp1 (ansible_host)",
        "cluster_service_cidr 10.96.0.0/25 is too small (smaller than /24, preflight_service_cidr_max_prefix)",
    ]


def test_inventory_errors_counts_nodes_once_for_pod_capacity():
    groups, hosts = _inventory(workers=["cp1", "w1"])  # cp1 in both: 4 nodes, /22 holds 4 /24s
    assert pf.inventory_errors(groups, hosts, {"cluster_pod_cidr": "10.244.0.0/22"}) == []
    groups["workers"].append("w2")
    (message,) = pf.inventory_errors(groups, hosts, {"cluster_pod_cidr": "10.244.0.0/22"})
    assert "but 5 nodes" in message


# --------------------------------------------------------------------------- minimum_for


@pytest.mark.parametrize(
    "group_names, table, expected",
    [
        (["workers"], {"workers": 1, "control_plane": 2}, (1, "workers")),
        (["etcd", "control_plane", "workers"], {"workers": 1, "control_plane": 2, "etcd": 1}, (2, "control_plane")),
        (["etcd", "workers"], {"workers": "3", "etcd": 2}, (3, "workers")),
        (["bastion"], {"workers": 1}, (0, None)),
        ([], {"workers": 1}, (0, None)),
        (None, None, (0, None)),
    ],
)
def test_minimum_for(group_names, table, expected):
    assert pf_host.minimum_for(group_names, table) == expected


@pytest.mark.parametrize("value", ["two", 1.5, None, True])
def test_minimum_for_refuses_non_numbers(value):
    with pytest.raises(ValueError, match="workers"):
        pf_host.minimum_for(["workers"], {"workers": value})


# --------------------------------------------------------------------------- host_errors


def _facts(**overrides):
    facts = {
        "os_family": "Debian",
        "distribution": "Debian",
        "distribution_version": "12.11",
        "processor_vcpus": 2,
        "memtotal_mb": 3900,
        "default_ipv4": {"address": "192.0.2.10"},
    }
    facts.update(overrides)
    return facts


def _host(name="cp1", **kwargs):
    kwargs.setdefault("facts", _facts())
    return make_host(name, **kwargs)


@pytest.mark.parametrize(
    "group_names, facts",
    [
        (["control_plane", "etcd"], _facts()),
        (["workers"], _facts(os_family="RedHat", distribution="Rocky", processor_vcpus=1, memtotal_mb=1000)),
        (["load_balancers"], _facts(processor_vcpus=1, memtotal_mb=256)),
        (["workers"], _facts(processor_vcpus=None, processor_nproc=4)),
        (["bastion"], _facts(processor_vcpus=None, memtotal_mb=None)),
    ],
)
def test_host_errors_good(group_names, facts):
    assert pf_host.host_errors(_host(facts=facts), group_names, facts, {}) == []


def test_host_errors_unsupported_os_family():
    facts = _facts()
    assert pf_host.host_errors(_host(), ["workers"], facts, {"preflight_supported_os_families": ["Nonexistent"]}) == [
        "host cp1: OS family Debian (Debian 12.11) is not supported (preflight_supported_os_families: Nonexistent): "
        "use a supported OS or add Debian to preflight_supported_os_families"
    ]


def test_host_errors_missing_os_family():
    facts = _facts(os_family=None)
    assert pf_host.host_errors(_host(), ["workers"], facts) == [
        "host cp1: fact os_family is missing, so the OS cannot be checked: gather distribution facts"
    ]


def test_host_errors_below_minimums_uses_largest_group():
    facts = _facts(processor_vcpus=1, memtotal_mb=900)
    errors = pf_host.host_errors(_host(), ["etcd", "control_plane"], facts, {})
    assert errors == [
        "host cp1: 1 vCPU (ansible_facts.processor_vcpus) is below the minimum of 2 for group control_plane: "
        "give the host more or lower preflight_min_cpus.control_plane",
        "host cp1: 900 MB memory (ansible_facts.memtotal_mb) is below the minimum of 1700 for group control_plane: "
        "give the host more or lower preflight_min_memory_mb.control_plane",
    ]


def test_host_errors_minimums_from_settings():
    settings = {"preflight_min_cpus": {"workers": 8}, "preflight_min_memory_mb": {"workers": 16000}}
    errors = pf_host.host_errors(_host(), ["workers"], _facts(), settings)
    assert [e.split(" (")[0] for e in errors] == ["host cp1: 2 vCPU", "host cp1: 3900 MB memory"]


def test_host_errors_missing_hardware_facts():
    facts = _facts(processor_vcpus=None, memtotal_mb=None)
    assert pf_host.host_errors(_host(), ["workers"], facts) == [
        "host cp1: fact processor_vcpus is missing, so vCPU cannot be checked: gather hardware facts",
        "host cp1: fact memtotal_mb is missing, so MB memory cannot be checked: gather hardware facts",
    ]


def test_host_errors_bad_minimum_value():
    errors = pf_host.host_errors(_host(), ["workers"], _facts(), {"preflight_min_cpus": {"workers": "two"}})
    assert errors == ["preflight_min_cpus.workers 'two' is not a whole number: set it to e.g. 1"]


def test_host_errors_no_node_address():
    facts = _facts(default_ipv4={})
    entry = make_host("w1", ansible_host="w1.example", facts=facts)
    assert pf_host.host_errors(entry, ["workers"], facts) == [
        "host w1: no node address found (node_ip unset, ansible_host 'w1.example' is not an IP, no default IPv4 "
        "route in facts): set node_ip to the address the node uses in the cluster"
    ]
    assert pf_host.host_errors(entry, ["bastion"], facts) == []  # not a cluster host


# --------------------------------------------------------------------------- defaults


def test_with_defaults_completes_minimum_tables_key_by_key():
    settings = pf_settings.with_defaults({"preflight_min_cpus": {"workers": 4}, "cluster_domain": "k8s.lab"})
    assert settings["preflight_min_cpus"] == {"control_plane": 2, "etcd": 1, "workers": 4, "load_balancers": 1}
    assert settings["preflight_min_memory_mb"] == pf_settings.DEFAULT_SETTINGS["preflight_min_memory_mb"]
    assert settings["cluster_domain"] == "k8s.lab"
    assert pf_settings.with_defaults(None) == dict(pf_settings.DEFAULT_SETTINGS, **pf_settings.OTHER_ROLE_SETTINGS)
    assert pf_settings.DEFAULT_SETTINGS["preflight_min_cpus"]["workers"] == 1  # the defaults themselves are untouched


@pytest.mark.parametrize(
    "name, role",
    [
        ("load_balancer_mode", "load_balancer"),
        ("cluster_api_endpoint", "control_plane"),
        ("control_plane_apiserver_port", "control_plane"),
        ("worker_kubelet_config_overrides", "worker"),
    ],
)
def test_other_role_settings_have_their_roles_defaults(name, role):
    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", role, "defaults", "main.yml")
    with open(path) as stream:
        assert yaml.safe_load(stream)[name] == pf_settings.OTHER_ROLE_SETTINGS[name]


def test_default_settings_match_role_defaults_and_argument_specs():
    role = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "preflight")
    with open(os.path.join(role, "defaults", "main.yml")) as stream:
        defaults = yaml.safe_load(stream)
    with open(os.path.join(role, "meta", "argument_specs.yml")) as stream:
        options = yaml.safe_load(stream)["argument_specs"]["main"]["options"]
    for key, value in pf_settings.DEFAULT_SETTINGS.items():
        assert defaults[key] == value, key
        assert options[key]["default"] == value, key
    for key, value in defaults.items():
        assert options[key]["default"] == value, key


@pytest.mark.parametrize("address", ["127.0.0.1", "127.1.2.3", "::1"])
def test_address_errors_refuse_loopback(address):
    hosts = [make_host("cp1", node_ip=address)]
    [message] = pf.address_errors(hosts)
    assert message == (
        "host cp1: node_ip %s is a loopback address: other nodes cannot reach it and the kubelet refuses it - "
        "set node_ip to the address the node uses in the cluster" % address
    )


# --------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("kube", "containerd"),
    [
        ("1.20.2", "1.6.20"),
        ("v1.20.2+kubesmith.1", "1.7.24"),
        ("1.35.1", "1.7.24"),
        ("1.35.1", "2.1.4"),
        ("1.37.0", "2.1.4"),
    ],
)
def test_supported_version_pairs_pass(kube, containerd):
    assert pf.version_errors({"kube_version": kube, "containerd_version": containerd}) == []


def test_defaults_are_a_supported_pair():
    assert pf.version_errors({}) == []


@pytest.mark.parametrize(
    ("kube", "containerd", "fragment"),
    [
        ("1.30.1", "2.1.4", "kube_version: Kubernetes v1.30.1 is not supported"),
        ("1.37.0-rc.1", "2.1.4", "kube_version: Kubernetes v1.37.0-rc.1 is a pre-release"),
        ("1.37", "2.1.4", "has no patch number"),
        (1.2, "2.1.4", "kube_version"),
        ("1.20.2", "2.1.4", "containerd_version 2.1.4 does not work with Kubernetes 1.20: use a containerd 1.5.x or"),
        ("1.37.0", "1.7.24", "use a containerd 2.x release"),
        ("1.37.0", "latest", "containerd_version: 'latest' is not a containerd version"),
    ],
)
def test_unsupported_versions_are_named(kube, containerd, fragment):
    errors = pf.version_errors({"kube_version": kube, "containerd_version": containerd})
    assert len(errors) == 1 and fragment in errors[0], errors


def test_inventory_errors_include_the_version_check():
    groups = {"etcd": ["e1"], "control_plane": ["e1"], "workers": []}
    hosts = [make_host("e1", ansible_host="10.0.0.1")]
    assert pf.inventory_errors(groups, hosts, {}) == []
    assert any("kube_version" in e for e in pf.inventory_errors(groups, hosts, {"kube_version": "0.1.0"}))
