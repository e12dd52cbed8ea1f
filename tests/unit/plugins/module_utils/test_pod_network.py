"""Routed-bridge pod network decisions (plugins/module_utils/addons/pod_network.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.addons import pod_network as pn


def _node(name, cidr=None, ip=None, ready=True, cidrs=None):
    spec = {}
    if cidr:
        spec["podCIDR"] = cidr
    if cidrs:
        spec["podCIDRs"] = cidrs
    status = {
        "addresses": [{"type": "InternalIP", "address": ip}] if ip else [],
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    return {"metadata": {"name": name}, "spec": spec, "status": status}


def _hosts(*triples):
    return [{"host": h, "node": n, "address": a} for h, n, a in triples]


NODES = {
    "n1": {"pod_cidr": "10.244.0.0/24", "internal_ip": "10.0.0.1", "ready": True},
    "n2": {"pod_cidr": "10.244.1.0/24", "internal_ip": "10.0.0.2", "ready": True},
    "n3": {"pod_cidr": "10.244.2.0/24", "internal_ip": "10.0.0.3", "ready": False},
}
HOSTS = _hosts(("h1", "n1", "10.0.0.1"), ("h2", "n2", "10.0.0.2"), ("h3", "n3", "10.0.0.3"))


def test_parse_nodes_reads_cidr_address_and_readiness():
    doc = {"items": [_node("a", "10.244.0.0/24", "10.0.0.1"), _node("b", ready=False), {"metadata": {}}]}
    assert pn.parse_nodes(doc) == {
        "a": {"pod_cidr": "10.244.0.0/24", "internal_ip": "10.0.0.1", "ready": True},
        "b": {"pod_cidr": None, "internal_ip": None, "ready": False},
    }


def test_parse_nodes_prefers_the_ipv4_cidr_of_a_dual_stack_node():
    doc = {"items": [_node("a", "fd00::/64", cidrs=["fd00::/64", "10.244.3.0/24"])]}
    assert pn.parse_nodes(doc)["a"]["pod_cidr"] == "10.244.3.0/24"


@pytest.mark.parametrize("doc", [None, [], {"kind": "Node"}, {"items": "x"}])
def test_parse_nodes_refuses_other_documents(doc):
    with pytest.raises(pn.PodNetworkError, match="NodeList"):
        pn.parse_nodes(doc)


def test_missing_and_not_ready_predicates():
    nodes = dict(NODES, n4={"pod_cidr": None, "internal_ip": None, "ready": False})
    assert pn.missing_pod_cidrs(nodes, ["n1", "n4", "n9"]) == ["n4", "n9"]
    assert pn.not_ready(nodes, ["n1", "n2", "n3", "n9"]) == ["n3", "n9"]
    assert pn.missing_pod_cidrs(NODES, ["n1", "n2"]) == []


def test_plan_joins_inventory_and_api():
    plan, errors = pn.plan(HOSTS, NODES, "10.244.0.0/16")
    assert errors == []
    assert plan["h2"] == {"node": "n2", "address": "10.0.0.2", "pod_cidr": "10.244.1.0/24"}


def test_routes_go_to_every_other_node_via_its_address():
    plan, _ = pn.plan(HOSTS, NODES, "10.244.0.0/16")
    assert pn.routes_for(plan, "h2") == [
        {"dst": "10.244.0.0/24", "via": "10.0.0.1", "node": "n1"},
        {"dst": "10.244.2.0/24", "via": "10.0.0.3", "node": "n3"},
    ]
    single, _ = pn.plan(HOSTS[:1], NODES, "10.244.0.0/16")
    assert pn.routes_for(single, "h1") == []


def test_routes_sort_numerically():
    nodes = {n: {"pod_cidr": c} for n, c in (("a", "10.244.10.0/24"), ("b", "10.244.9.0/24"), ("c", "10.244.0.0/24"))}
    plan, _ = pn.plan(_hosts(("a", "a", "10.0.0.1"), ("b", "b", "10.0.0.2"), ("c", "c", "10.0.0.3")), nodes,
                      "10.244.0.0/16")
    assert [r["dst"] for r in pn.routes_for(plan, "c")] == ["10.244.9.0/24", "10.244.10.0/24"]


def test_routes_for_a_host_outside_the_plan_is_an_error():
    with pytest.raises(pn.PodNetworkError, match="h9 has no pod CIDR"):
        pn.routes_for({}, "h9")


def test_node_without_pod_cidr_is_an_error_only_when_required():
    nodes = dict(NODES, n2={"pod_cidr": None, "internal_ip": "10.0.0.2", "ready": True})
    plan, errors = pn.plan(HOSTS, nodes, "10.244.0.0/16")
    assert errors == ["h2: node n2 has no pod CIDR (is kube-controller-manager running with --allocate-node-cidrs?)"]
    plan, errors = pn.plan(HOSTS, nodes, "10.244.0.0/16", required=["h1", "h3"])
    assert errors == [] and sorted(plan) == ["h1", "h3"]


def test_unregistered_node_is_named():
    _, errors = pn.plan(_hosts(("h9", "n9", "10.0.0.9")), NODES, "10.244.0.0/16")
    assert errors == ["h9: node n9 is not registered"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"n2": {"pod_cidr": "10.244.0.128/25"}}, "h2: pod CIDR 10.244.0.128/25 overlaps 10.244.0.0/24 of h1"),
        ({"n2": {"pod_cidr": "10.245.1.0/24"}}, "h2: pod CIDR 10.245.1.0/24 of node n2 is outside cluster_pod_cidr"),
        ({"n2": {"pod_cidr": "10.244.1.1/24"}}, "h2: pod CIDR of node n2 '10.244.1.1/24' is not a network"),
    ],
)
def test_plan_refuses_bad_pod_cidrs(change, message):
    nodes = dict(NODES, **change)
    _, errors = pn.plan(HOSTS, nodes, "10.244.0.0/16")
    assert len(errors) == 1 and errors[0].startswith(message)


@pytest.mark.parametrize(
    "address, message",
    [
        (None, "h2: no usable node address (None)"),
        ("node2.example", "h2: no usable node address ('node2.example')"),
        ("10.244.200.1", "h2: node address 10.244.200.1 lies inside cluster_pod_cidr 10.244.0.0/16"),
        ("10.0.0.1", "h2: node address 10.0.0.1 is also h1's"),
        ("fd00::2", "h2: node address fd00::2 and pod CIDR 10.244.1.0/24 are of different IP families"),
    ],
)
def test_plan_refuses_bad_addresses(address, message):
    hosts = _hosts(("h1", "n1", "10.0.0.1"), ("h2", "n2", address))
    _, errors = pn.plan(hosts, NODES, "10.244.0.0/16")
    assert len(errors) == 1 and errors[0].startswith(message)


def test_plan_refuses_a_bad_cluster_cidr():
    with pytest.raises(pn.PodNetworkError, match="cluster_pod_cidr"):
        pn.plan(HOSTS, NODES, "10.244.0.1/16")


def test_conflist_is_a_gateway_bridge_without_ipmasq():
    conf = pn.conflist("10.244.1.0/24")
    assert conf["name"] == "kubesmith-bridge" and conf["cniVersion"] == "0.4.0"
    bridge, portmap = conf["plugins"]
    assert bridge["type"] == "bridge" and bridge["bridge"] == "cni0"
    assert bridge["isGateway"] is True and bridge["hairpinMode"] is True
    assert bridge["ipMasq"] is False  # cross-node pod traffic keeps its source address
    assert bridge["ipam"] == {
        "type": "host-local",
        "ranges": [[{"subnet": "10.244.1.0/24"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
    }
    assert "mtu" not in bridge
    assert portmap == {"type": "portmap", "capabilities": {"portMappings": True}}


def test_conflist_options():
    conf = pn.conflist("10.244.1.0/24", name="pods", bridge="br-pods", mtu="1450")
    assert conf["name"] == "pods" and conf["plugins"][0]["bridge"] == "br-pods" and conf["plugins"][0]["mtu"] == 1450
    assert pn.conflist("fd00:1::/64")["plugins"][0]["ipam"]["routes"] == [{"dst": "::/0"}]


@pytest.mark.parametrize("cidr", ["10.244.1.1/24", "nonsense", "10.244.1.0/31"])
def test_conflist_refuses_bad_cidrs(cidr):
    with pytest.raises(pn.PodNetworkError):
        pn.conflist(cidr)
