# -*- coding: utf-8 -*-
"""Routed-bridge pod network: pure decisions, no I/O (stdlib ``ipaddress`` only).

Each node gets its pod CIDR (``spec.podCIDR``, allocated by kube-controller-manager) on a CNI bridge; every
node routes every other node's pod CIDR via that node's address. This only works when all nodes share one L2
segment (or the routers between them know the pod CIDRs) - nothing here can detect that, so it is documented
as a requirement in the addons role README.

- ``parse_nodes(doc)``: the output of ``kubectl get nodes -o json`` -> ``{name: {pod_cidr, internal_ip, ready}}``.
- ``missing_pod_cidrs(nodes, names)`` / ``not_ready(nodes, names)``: the readiness predicates of the waits.
- ``plan(hosts, nodes, cluster_pod_cidr, required)``: every host's node name, address and pod CIDR, validated
  (overlaps, CIDRs outside the cluster pod CIDR, addresses inside it, duplicates) -> ``(plan, errors)``.
- ``routes_for(plan, host)``: the routes one host needs (every other host's pod CIDR via its address).
- ``conflist(pod_cidr, ...)``: the CNI network configuration list (bridge + host-local + portmap) as a dict.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import ipaddress

DEFAULT_NETWORK_NAME = "kubesmith-bridge"
DEFAULT_BRIDGE = "cni0"
CNI_VERSION = "0.4.0"


class PodNetworkError(ValueError):
    """Input that cannot be turned into a pod network plan (the message says what to fix)."""


def _network(value, what):
    try:
        return ipaddress.ip_network(u"%s" % (value,), strict=True)
    except (ValueError, TypeError) as exc:
        raise PodNetworkError("%s %r is not a network in CIDR form (%s)" % (what, value, exc)) from None


def _address(value):
    try:
        return ipaddress.ip_address(u"%s" % (value,))
    except (ValueError, TypeError):
        return None


def _overlap(a, b):
    return a.version == b.version and a.overlaps(b)


def parse_nodes(doc: dict) -> dict[str, dict]:
    """``kubectl get nodes -o json`` (a dict) -> ``{name: {"pod_cidr", "internal_ip", "ready"}}``."""
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise PodNetworkError("expected the output of 'kubectl get nodes -o json' (a NodeList with items)")
    nodes = {}
    for item in doc["items"]:
        meta = item.get("metadata") or {}
        spec = item.get("spec") or {}
        status = item.get("status") or {}
        name = meta.get("name")
        if not name:
            continue
        cidrs = spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
        v4 = [c for c in cidrs if ":" not in c]
        internal = [a.get("address") for a in status.get("addresses") or [] if a.get("type") == "InternalIP"]
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
        )
        nodes[name] = {
            "pod_cidr": (v4 or cidrs or [None])[0],
            "internal_ip": internal[0] if internal else None,
            "ready": ready,
        }
    return nodes


def missing_pod_cidrs(nodes: dict[str, dict], names: list[str]) -> list[str]:
    """Node names (in order) that are not registered yet or have no pod CIDR."""
    return [n for n in names if not (nodes.get(n) or {}).get("pod_cidr")]


def not_ready(nodes: dict[str, dict], names: list[str]) -> list[str]:
    """Node names (in order) that are not registered or whose Ready condition is not True."""
    return [n for n in names if not (nodes.get(n) or {}).get("ready")]


def plan(
    hosts: list[dict], nodes: dict[str, dict], cluster_pod_cidr: str, required: list[str] | None = None
) -> tuple[dict[str, dict], list[str]]:
    """Validate and join inventory hosts with the API's nodes.

    ``hosts``: list of ``{"host", "node", "address"}`` (inventory name, node name, node address).
    ``nodes``: ``parse_nodes`` output. ``required``: inventory names that must have a pod CIDR (the play's hosts);
    the others (e.g. left out by ``--limit`` and not registered yet) are skipped without error.
    Returns ``(plan, errors)``: plan ``{host: {"node", "address", "pod_cidr"}}`` for the hosts that have a pod
    CIDR, errors a list of one-line messages (empty when the plan is usable).
    """
    cluster = _network(cluster_pod_cidr, "cluster_pod_cidr")
    required = set(required if required is not None else [h["host"] for h in hosts])
    result, errors, seen_addr, taken = {}, [], {}, []
    for entry in hosts:
        host, node, address = entry.get("host"), entry.get("node") or entry.get("host"), entry.get("address")
        info = nodes.get(node) or {}
        cidr_text = info.get("pod_cidr")
        if not cidr_text:
            if host in required:
                state = "has no pod CIDR (is kube-controller-manager running with --allocate-node-cidrs?)"
                errors.append("%s: node %s %s" % (host, node, state if node in nodes else "is not registered"))
            continue
        ip = _address(address)
        if ip is None:
            errors.append("%s: no usable node address (%r): set node_ip or ansible_host to an IP" % (host, address))
            continue
        try:
            cidr = _network(cidr_text, "pod CIDR of node %s" % node)
        except PodNetworkError as exc:
            errors.append("%s: %s" % (host, exc))
            continue
        if cidr.version != cluster.version or not cidr.subnet_of(cluster):
            errors.append("%s: pod CIDR %s of node %s is outside cluster_pod_cidr %s" % (host, cidr, node, cluster))
        if ip.version == cluster.version and ip in cluster:
            errors.append("%s: node address %s lies inside cluster_pod_cidr %s" % (host, ip, cluster))
        if ip.version != cidr.version:
            errors.append("%s: node address %s and pod CIDR %s are of different IP families" % (host, ip, cidr))
        if str(ip) in seen_addr:
            errors.append("%s: node address %s is also %s's" % (host, ip, seen_addr[str(ip)]))
        seen_addr.setdefault(str(ip), host)
        for other, other_cidr in taken:
            if _overlap(cidr, other_cidr):
                errors.append("%s: pod CIDR %s overlaps %s of %s" % (host, cidr, other_cidr, other))
        taken.append((host, cidr))
        result[host] = {"node": node, "address": str(ip), "pod_cidr": str(cidr)}
    return result, errors


def routes_for(network_plan: dict[str, dict], host: str) -> list[dict]:
    """Routes ``host`` needs: ``[{"dst", "via", "node"}]`` for every other planned host, sorted by destination."""
    if host not in network_plan:
        raise PodNetworkError("%s has no pod CIDR in the pod network plan" % host)
    routes = [
        {"dst": entry["pod_cidr"], "via": entry["address"], "node": entry["node"]}
        for other, entry in network_plan.items()
        if other != host
    ]
    return sorted(routes, key=lambda r: (ipaddress.ip_network(r["dst"]).version, ipaddress.ip_network(r["dst"])))


def conflist(
    pod_cidr: str, name: str = DEFAULT_NETWORK_NAME, bridge: str = DEFAULT_BRIDGE, mtu: int | None = None
) -> dict:
    """CNI configuration list for one node: a gateway bridge with host-local IPAM on ``pod_cidr`` and portmap.

    ``ipMasq`` stays off: cross-node pod traffic must keep its pod source address; masquerading to outside the
    cluster pod CIDR is done by the role's own iptables chain. The loopback plugin is added by the runtime.
    """
    cidr = _network(pod_cidr, "pod CIDR")
    if cidr.num_addresses < 4:
        raise PodNetworkError("pod CIDR %s is too small for a bridge gateway and pods" % cidr)
    default = "0.0.0.0/0" if cidr.version == 4 else "::/0"
    bridge_conf = {
        "type": "bridge",
        "bridge": bridge,
        "isGateway": True,
        "isDefaultGateway": False,
        "ipMasq": False,
        "hairpinMode": True,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": str(cidr)}]],
            "routes": [{"dst": default}],
        },
    }
    if mtu:
        bridge_conf["mtu"] = int(mtu)
    return {
        "cniVersion": CNI_VERSION,
        "name": name,
        "plugins": [bridge_conf, {"type": "portmap", "capabilities": {"portMappings": True}}],
    }
