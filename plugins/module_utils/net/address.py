# Copyright: kubesmith maintainers
# Apache License 2.0 (see galaxy.yml)
"""A host's node address from its Ansible variables, for the filters (controller side, netaddr).

The rule itself is ``preflight.resolve_node_address``: ``node_ip``, else ``ansible_host``
when it is an IP address, else ``ansible_facts.default_ipv4.address``. This module reads
those values out of a host's variables (Ansible's lazy ``hostvars[host]`` or a plain dict)
so that every filter applies the rule the same way; errors are ``NodeAddressError``, which
each filter turns into an ``AnsibleFilterError`` with the same message.

``plain`` turns Ansible's lazy or tagged containers and strings into plain Python values
before they reach the pure decision modules.
"""

from __future__ import annotations

from ansible.module_utils.common.text.converters import to_native
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import preflight


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
    """One inventory host as ``preflight.make_host`` describes it, read from its variables."""
    facts = get(host_vars, "ansible_facts", {}) or {}
    node_name = get(host_vars, "node_name")
    node_ip = get(host_vars, "node_ip")
    ansible_host = get(host_vars, "ansible_host")
    return preflight.make_host(
        to_native(host),
        node_name=to_native(node_name) if isinstance(node_name, str) else node_name,
        node_ip=to_native(node_ip) if node_ip is not None else None,
        ansible_host=to_native(ansible_host) if ansible_host is not None else None,
        facts={"default_ipv4": dict(get(facts, "default_ipv4", {}) or {})},
    )


def node_address(host_vars) -> str | None:
    """A host's node address from its variables, or ``None`` while it is unknown (before facts)."""
    if not preflight.HAS_NETADDR:
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
