"""Cluster networking and preflight filters for kubesmith.cluster (controller side, netaddr).

Several filters live in this file; each is called as ``kubesmith.cluster.<name>``:

- ``service_ip(cidr, index)``: the Nth address of a CIDR (1 is the kube-apiserver service IP, 10 the cluster DNS).
- ``cidr_overlaps(a, b)``, ``cidr_contains(cidr, ip_or_cidr)``, ``cidr_prefix(cidr)``,
  ``cidr_subnet(cidr, prefix, index)``, ``is_ip(value)``, ``is_cidr(value)``: small ipaddr-style helpers that
  need no other collection.
- ``node_address(host_vars)``: a host's node address (``node_ip``, else ``ansible_host`` when it is an IP, else
  ``ansible_facts.default_ipv4.address``), ``None`` while unknown.
- ``unknown_variables(hostvars, hosts)``: warnings for inventory variables with a kubesmith prefix that no role,
  playbook or survey of the collection declares (typos), naming the closest known names.
- ``primary_ca_errors(groups, hostvars, stat_var)``: preflight's refusal of a first control-plane host without the
  cluster CA while another has it (a new host listed first); ``stat_var`` names the registered ``stat`` result of
  the CA certificate on each control-plane host.
- ``inventory_errors(groups, hostvars, settings)`` and ``host_errors(host, hostvars, settings)``: the preflight
  checks; a list of one-line messages, empty when everything is fine. Decisions live in
  ``plugins/module_utils/cluster/preflight*.py``.

Examples::

    apiserver_service_ip: "{{ cluster_service_cidr | kubesmith.cluster.service_ip(1) }}"      # 10.96.0.1
    cluster_dns_ip: "{{ cluster_service_cidr | kubesmith.cluster.service_ip(10) }}"           # 10.96.0.10
    third_node_pods: "{{ cluster_pod_cidr | kubesmith.cluster.cidr_subnet(24, 2) }}"          # 10.244.2.0/24
    overlap: "{{ cluster_pod_cidr | kubesmith.cluster.cidr_overlaps(cluster_service_cidr) }}"  # false
    etcd_ips: "{{ groups['etcd'] | map('extract', hostvars) | map('kubesmith.cluster.node_address') | list }}"
    problems: "{{ groups | kubesmith.cluster.inventory_errors(hostvars, {'cluster_pod_cidr': '10.244.0.0/16'}) }}"
    mine: "{{ inventory_hostname | kubesmith.cluster.host_errors(hostvars, {'preflight_min_cpus': {'workers': 2}}) }}"

All filters run on the controller and need the Python library netaddr; bad input raises an
``AnsibleFilterError`` that names the filter and the value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import preflight
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import preflight_host as pf_host
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import preflight_settings as pf_settings
from ansible_collections.kubesmith.cluster.plugins.module_utils.net import address as net_address

try:
    import netaddr

    HAS_NETADDR = True
except ImportError:  # pragma: no cover - exercised only without netaddr
    HAS_NETADDR = False


def _need_netaddr(name):
    if not HAS_NETADDR:
        raise AnsibleFilterError("kubesmith.cluster.%s needs the Python library netaddr on the controller" % name)


def _network(value, name, allow_host_bits=False):
    _need_netaddr(name)
    network, problem = net_address.parse_cidr(to_native(value) if isinstance(value, str) else value)
    if problem and not (allow_host_bits and network is not None):
        raise AnsibleFilterError("kubesmith.cluster.%s: %r %s" % (name, value, problem))
    return network


def _network_or_ip(value, name):
    ip = net_address.parse_ip(to_native(value) if isinstance(value, str) else value)
    if ip is not None:
        return netaddr.IPNetwork(str(ip))
    return _network(value, name, allow_host_bits=True)


def _index(value, name):
    if isinstance(value, bool):
        raise AnsibleFilterError("kubesmith.cluster.%s: index %r is not a whole number" % (name, value))
    try:
        return int(value)
    except (TypeError, ValueError):
        raise AnsibleFilterError("kubesmith.cluster.%s: index %r is not a whole number" % (name, value)) from None


# --------------------------------------------------------------------------- ipaddr-style helpers


def service_ip(cidr, index):
    """The ``index``-th address of ``cidr`` (1 = kube-apiserver service IP, 10 = cluster DNS).

    The network address (0) and, for IPv4, the broadcast address are refused: Kubernetes
    never allocates them.
    """
    network = _network(cidr, "service_ip")
    index = _index(index, "service_ip")
    last = network.size - (2 if network.version == 4 else 1)
    if last < 1:
        raise AnsibleFilterError("kubesmith.cluster.service_ip: %s has no address to allocate" % network)
    if not 1 <= index <= last:
        raise AnsibleFilterError(
            "kubesmith.cluster.service_ip: index %d is outside %s (usable: 1 to %d)" % (index, network, last)
        )
    return str(network[index])


def cidr_overlaps(first, second):
    """True when the two CIDRs share at least one address (different IP families never overlap)."""
    a = _network(first, "cidr_overlaps", allow_host_bits=True)
    b = _network(second, "cidr_overlaps", allow_host_bits=True)
    return a.version == b.version and a.first <= b.last and b.first <= a.last


def cidr_contains(cidr, value):
    """True when ``value`` (an IP address or a CIDR) lies wholly inside ``cidr``."""
    network = _network(cidr, "cidr_contains", allow_host_bits=True)
    inner = _network_or_ip(value, "cidr_contains")
    return network.version == inner.version and network.first <= inner.first and inner.last <= network.last


def cidr_prefix(cidr):
    """The prefix length of ``cidr`` as an integer (``10.96.0.0/12`` -> 12)."""
    return _network(cidr, "cidr_prefix", allow_host_bits=True).prefixlen


def cidr_subnet(cidr, prefix, index=0):
    """The ``index``-th subnet of length ``prefix`` inside ``cidr`` (``10.244.0.0/16``, 24, 2 -> ``10.244.2.0/24``)."""
    network = _network(cidr, "cidr_subnet")
    prefix = _index(prefix, "cidr_subnet")
    index = _index(index, "cidr_subnet")
    bits = 32 if network.version == 4 else 128
    if not network.prefixlen <= prefix <= bits:
        raise AnsibleFilterError(
            "kubesmith.cluster.cidr_subnet: prefix %d does not fit in %s (use %d to %d)"
            % (prefix, network, network.prefixlen, bits)
        )
    count = 2 ** (prefix - network.prefixlen)
    if not 0 <= index < count:
        raise AnsibleFilterError(
            "kubesmith.cluster.cidr_subnet: %s holds %d /%d subnets, index %d is out of range (0 to %d)"
            % (network, count, prefix, index, count - 1)
        )
    first = netaddr.IPAddress(network.first + index * 2 ** (bits - prefix), network.version)
    return "%s/%d" % (first, prefix)


def is_ip(value):
    """True for a plain IPv4/IPv6 address string (strict: no short forms, no leading zeros)."""
    _need_netaddr("is_ip")
    return isinstance(value, str) and net_address.parse_ip(to_native(value)) is not None


def is_cidr(value):
    """True for a network in canonical CIDR form (explicit prefix, no host bits set)."""
    _need_netaddr("is_cidr")
    return isinstance(value, str) and net_address.parse_cidr(to_native(value))[1] is None


# --------------------------------------------------------------------------- inventory helpers


def node_address(host_vars):
    """A host's node address from its hostvars, or ``None`` while it is unknown (before facts)."""
    try:
        return net_address.node_address(host_vars)
    except net_address.NodeAddressError as exc:
        raise AnsibleFilterError(str(exc)) from None


def _cluster_hosts(groups):
    names = []
    for group in pf_settings.CLUSTER_GROUPS:
        for host in net_address.get(groups, group, []) or []:
            if host not in names:
                names.append(host)
    return names


def _plain_groups(groups):
    return {
        group: [to_native(host) for host in (net_address.get(groups, group, []) or [])]
        for group in pf_settings.CLUSTER_GROUPS
    }


def inventory_errors(groups, hostvars, settings=None):
    """Preflight checks that need only the inventory: returns a list of one-line messages.

    ``groups`` and ``hostvars`` are the Ansible magic variables; ``settings`` maps the role
    variables by name (``cluster_pod_cidr`` ...). Addresses found by fact gathering are
    used when facts are present, so running it again after facts checks those too.
    """
    _need_netaddr("inventory_errors")
    hosts = [net_address.host_entry(host, net_address.get(hostvars, host, {})) for host in _cluster_hosts(groups)]
    try:
        return preflight.inventory_errors(_plain_groups(groups), hosts, dict(settings or {}))
    except (TypeError, AttributeError) as exc:
        raise AnsibleFilterError("kubesmith.cluster.inventory_errors: unexpected input: %s" % to_native(exc)) from exc


def primary_ca_errors(groups, hostvars, stat_var):
    """Preflight: the first control-plane host must have the cluster CA when another control-plane host has it."""
    has_ca = {}
    for host in groups.get("control_plane") or []:
        result = net_address.get(net_address.get(hostvars, host, {}), stat_var, None)
        stat = result.get("stat") if isinstance(result, Mapping) else None
        if isinstance(stat, Mapping):
            has_ca[host] = bool(stat.get("exists"))
    return pf_host.primary_ca_errors(list(groups.get("control_plane") or []), has_ca)


def host_errors(host, hostvars, settings=None):
    """Preflight checks on one host's gathered facts: returns a list of one-line messages."""
    _need_netaddr("host_errors")
    host_vars = net_address.get(hostvars, host, {})
    facts = dict(net_address.get(host_vars, "ansible_facts", {}) or {})
    entry = net_address.host_entry(host, host_vars)
    group_names = [to_native(group) for group in (net_address.get(host_vars, "group_names", []) or [])]
    try:
        return pf_host.host_errors(entry, group_names, facts, dict(settings or {}))
    except (TypeError, AttributeError) as exc:
        raise AnsibleFilterError("kubesmith.cluster.host_errors: unexpected input: %s" % to_native(exc)) from exc


# Names the collection's playbooks set at run time (registered or set_fact), besides the declared variables.
_RUNTIME_NAMES = ("etcd_snapshot_result", "restore_cluster_token", "scale_plan", "upgrade_plan")
# Per-host variables documented in the README (read by the filters, declared by no role).
_HOST_NAMES = ("node_ip", "node_name")
_KNOWN = []


def _known_variables():
    """Every variable the collection declares: role defaults, argument specs (all entry points), survey questions."""
    if _KNOWN:
        return _KNOWN[0]
    import glob
    import json
    import os

    import yaml

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    names = set(_RUNTIME_NAMES + _HOST_NAMES)
    for path in glob.glob(os.path.join(root, "roles", "*", "defaults", "main.yml")):
        with open(path, encoding="utf-8") as handle:
            names.update((yaml.safe_load(handle) or {}).keys())
    for path in glob.glob(os.path.join(root, "roles", "*", "meta", "argument_specs.yml")):
        with open(path, encoding="utf-8") as handle:
            specs = (yaml.safe_load(handle) or {}).get("argument_specs") or {}
        for entry in specs.values():
            names.update((entry or {}).get("options") or {})
    for path in glob.glob(os.path.join(root, "extensions", "awx", "surveys", "*.json")):
        with open(path, encoding="utf-8") as handle:
            names.update(question["variable"] for question in json.load(handle).get("spec") or [])
    _KNOWN.append(frozenset(names))
    return _KNOWN[0]


_SPECS = []


def _option_specs():
    """variable -> its option spec, from every role's meta/argument_specs.yml (entry point main first)."""
    if _SPECS:
        return _SPECS[0]
    import glob
    import os

    import yaml

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    specs = {}
    for path in sorted(glob.glob(os.path.join(root, "roles", "*", "meta", "argument_specs.yml"))):
        with open(path, encoding="utf-8") as handle:
            entries = (yaml.safe_load(handle) or {}).get("argument_specs") or {}
        for entry in sorted(entries, key=lambda name: name != "main"):
            for name, option in ((entries[entry] or {}).get("options") or {}).items():
                specs.setdefault(name, option)
    _SPECS.append(specs)
    return specs


def variable_type_errors(hostvars, hosts):
    """One line per variable of the given hosts whose value its role's argument spec refuses (type, choices...)."""
    specs = _option_specs()
    values = {}
    for host in hosts or []:
        host_vars = hostvars[host] or {}
        values[str(host)] = {}
        for name in list(host_vars):
            if str(name) in specs:  # templated here: a value that cannot be templated fails the check, named
                values[str(host)][str(name)] = net_address.plain(host_vars[name])
    return pf_host.type_errors(values, specs)


def unknown_variables(hostvars, hosts):
    """Warnings for the kubesmith-prefixed variables the given hosts carry that the collection does not declare."""
    names = set()
    for host in hosts or []:
        names.update(str(name) for name in hostvars[host] or {})
    return pf_host.unknown_variables(names, _known_variables())


class FilterModule:
    """kubesmith.cluster networking and preflight filters."""

    def filters(self):
        return {
            "service_ip": service_ip,
            "cidr_overlaps": cidr_overlaps,
            "cidr_contains": cidr_contains,
            "cidr_prefix": cidr_prefix,
            "cidr_subnet": cidr_subnet,
            "is_ip": is_ip,
            "is_cidr": is_cidr,
            "node_address": node_address,
            "inventory_errors": inventory_errors,
            "host_errors": host_errors,
            "unknown_variables": unknown_variables,
            "variable_type_errors": variable_type_errors,
            "primary_ca_errors": primary_ca_errors,
        }
