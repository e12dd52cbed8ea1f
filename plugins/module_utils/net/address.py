# Copyright: kubesmith maintainers
# Apache License 2.0 (see galaxy.yml)
"""Addresses on the controller (netaddr): strict IP and CIDR parsing, and a host's node address.

``parse_ip`` and ``parse_cidr`` accept only the plain forms Kubernetes accepts. The node address rule is
``resolve_node_address``: ``node_ip``, else ``ansible_host`` when it is an IP address, else
``ansible_facts.default_ipv4.address``; ``make_host`` describes one inventory host with it, the way the preflight
checks expect. ``node_address`` reads those values out of a host's variables (Ansible's lazy
``hostvars[host]`` or a plain dict) so that every filter applies the rule the same way; errors are
``NodeAddressError``, which each filter turns into an ``AnsibleFilterError`` with the same message.

``plain`` turns Ansible's lazy or tagged containers and strings into plain Python values
before they reach the pure decision modules.
"""

from __future__ import annotations

import re

from ansible.module_utils.common.text.converters import to_native

try:
    import netaddr

    HAS_NETADDR = True
except ImportError:  # pragma: no cover - exercised only without netaddr
    HAS_NETADDR = False

# An explicit "/prefix" in canonical decimal: netaddr alone also takes netmasks,
# "+8", "08" and a missing prefix (read as a single host).
_CIDR_RE = re.compile(r"^[0-9A-Fa-f:.]+/(0|[1-9][0-9]{0,2})$")


class NodeAddressError(ValueError):
    """Input a node address cannot be read from (the message names the filter)."""


def get(mapping, key: str, default=None):
    """``mapping[key]``, or ``default`` when it is missing, ``None`` or ``mapping`` is not subscriptable."""
    try:
        value = mapping[key]
    except (KeyError, TypeError):
        return default
    return default if value is None else value


def host_entry(host: str, host_vars) -> dict:
    """One inventory host as :func:`make_host` describes it, read from its variables."""
    facts = get(host_vars, "ansible_facts", {}) or {}
    node_name = get(host_vars, "node_name")
    node_ip = get(host_vars, "node_ip")
    ansible_host = get(host_vars, "ansible_host")
    return make_host(
        to_native(host),
        node_name=to_native(node_name) if isinstance(node_name, str) else node_name,
        node_ip=to_native(node_ip) if node_ip is not None else None,
        ansible_host=to_native(ansible_host) if ansible_host is not None else None,
        facts={"default_ipv4": dict(get(facts, "default_ipv4", {}) or {})},
    )


def node_address(host_vars) -> str | None:
    """A host's node address from its variables, or ``None`` while it is unknown (before facts)."""
    if not HAS_NETADDR:
        raise NodeAddressError("kubesmith.cluster.node_address needs the Python library netaddr on the controller")
    if not hasattr(host_vars, "__getitem__"):
        raise NodeAddressError("kubesmith.cluster.node_address expects a host's variables, e.g. hostvars[item]")
    return host_entry(get(host_vars, "inventory_hostname", ""), host_vars)["address"]


def plain(value):
    """Ansible's lazy/tagged containers and strings as plain Python values."""
    if isinstance(value, dict) or (hasattr(value, "keys") and hasattr(value, "__getitem__")):
        return {str(k): plain(value[k]) for k in list(value)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def _require_netaddr():
    if not HAS_NETADDR:
        raise RuntimeError("the kubesmith.cluster preflight checks need the Python library netaddr on the controller")


# --------------------------------------------------------------------------- parsing


def parse_ip(value) -> netaddr.IPAddress | None:
    """Return a ``netaddr.IPAddress`` for a plain IPv4/IPv6 address string, else ``None``.

    Strict: no short forms ("10.1"), no leading zeros, no integers, no whitespace.
    """
    _require_netaddr()
    if not isinstance(value, str) or not value or value != value.strip():
        return None
    try:
        return netaddr.IPAddress(value, flags=netaddr.INET_PTON)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None


def parse_cidr(value) -> tuple[netaddr.IPNetwork | None, str | None]:
    """Return ``(network, problem)`` for a CIDR string such as ``10.96.0.0/12``.

    ``network`` is a ``netaddr.IPNetwork`` or ``None``; ``problem`` is ``None`` or the end of a
    sentence saying what is wrong ("is not a CIDR ...", "has host bits set ..."). With host bits
    set, ``network`` is the masked network (what Kubernetes would use), so later checks still run.
    """
    _require_netaddr()
    if not isinstance(value, str) or not value.strip():
        return None, "is empty: set it to a network in CIDR form such as 10.96.0.0/12"
    if "," in value:
        return None, "lists several networks (dual-stack is not supported yet): use one CIDR"
    if not _CIDR_RE.match(value):
        return None, "is not a CIDR (address/prefix such as 10.96.0.0/12)"
    address, _, _prefix = value.partition("/")
    if parse_ip(address) is None:
        return None, "is not a CIDR: %s is not an IP address" % address
    try:
        network = netaddr.IPNetwork(value)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None, "is not a CIDR: the prefix is out of range for the address family"
    if network.ip != network.network:
        return network.cidr, "has host bits set: use %s" % network.cidr
    return network, None


def resolve_node_address(
    node_ip: str | None = None, ansible_host: str | None = None, facts: dict | None = None
) -> tuple[str | None, str | None]:
    """Return ``(address, source)`` following the inventory convention.

    ``node_ip`` when set (returned as given, even if invalid, so a check can name it),
    else ``ansible_host`` when it is an IP address, else the default IPv4 address from
    gathered facts. ``(None, None)`` when nothing is known yet (before facts).
    """
    if node_ip not in (None, ""):
        return str(node_ip), "node_ip"
    if ansible_host not in (None, "") and parse_ip(str(ansible_host)) is not None:
        return str(ansible_host), "ansible_host"
    default_ipv4 = (facts or {}).get("default_ipv4") or {}
    address = default_ipv4.get("address") if isinstance(default_ipv4, dict) else None
    if address:
        return str(address), "ansible_facts.default_ipv4"
    return None, None


def make_host(
    host: str,
    node_name: str | None = None,
    node_ip: str | None = None,
    ansible_host: str | None = None,
    facts: dict | None = None,
) -> dict:
    """Describe one inventory host the way the checks expect it."""
    address, source = resolve_node_address(node_ip, ansible_host, facts)
    return {
        "host": str(host),
        "node_name": str(host) if node_name in (None, "") else str(node_name),
        "address": address,
        "address_source": source,
        "ansible_host": ansible_host,
    }
