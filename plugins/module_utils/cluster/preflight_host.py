# Copyright: kubesmith maintainers
# Apache License 2.0 (see galaxy.yml)
"""Preflight checks of each host's facts (CPUs, memory, OS family) and of the inventory's variables (misspelt
names, wrong types): pure functions, controller side only.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster.preflight_settings import (
    CLUSTER_GROUPS,
    _as_int,
    with_defaults,
)

# --------------------------------------------------------------------------- host checks


def minimum_for(group_names: list[str], table: dict) -> tuple[int, str | None]:
    """Return ``(minimum, group)``: the largest minimum among the cluster groups a host is in.

    ``(0, None)`` when the host is in none of the groups the table names.
    Raises ``ValueError`` naming the key when a table value is not a whole number.
    """
    best, best_group = 0, None
    for group in group_names or []:
        if group not in (table or {}):
            continue
        value = _as_int(table[group])
        if value is None:
            raise ValueError(group)
        if value > best:
            best, best_group = value, group
    return best, best_group


def _cpu_count(facts):
    for key in ("processor_vcpus", "processor_nproc"):
        value = _as_int(facts.get(key))
        if value:
            return value, key
    return None, None


def _minimum_errors(host, label, found, fact, group_names, variable, table):
    try:
        minimum, group = minimum_for(group_names, table)
    except ValueError as exc:
        key = exc.args[0]
        return ["%s.%s %r is not a whole number: set it to e.g. 1" % (variable, key, table[key])]
    if not minimum:
        return []
    if found is None:
        return ["host %s: fact %s is missing, so %s cannot be checked: gather hardware facts" % (host, fact, label)]
    if found < minimum:
        return [
            "host %s: %d %s (ansible_facts.%s) is below the minimum of %d for group %s: give the host more "
            "or lower %s.%s" % (host, found, label, fact, minimum, group, variable, group)
        ]
    return []


def _os_errors(host, facts, supported):
    family = facts.get("os_family")
    if family in (None, ""):
        return ["host %s: fact os_family is missing, so the OS cannot be checked: gather distribution facts" % host]
    if family in supported:
        return []
    distribution = " ".join(
        str(facts[key]) for key in ("distribution", "distribution_version") if facts.get(key) not in (None, "")
    )
    return [
        "host %s: OS family %s (%s) is not supported (preflight_supported_os_families: %s): use a supported OS "
        "or add %s to preflight_supported_os_families"
        % (host, family, distribution or "unknown distribution", ", ".join(map(str, supported)) or "none", family)
    ]


def host_errors(entry: dict, group_names: list[str], facts: dict, settings: dict | None = None) -> list[str]:
    """Checks on one host's gathered facts: node address found, OS family, CPU and memory minimums.

    ``entry`` comes from :func:`make_host` (with the facts, so the address is resolved);
    ``group_names`` are the host's groups, of which only :data:`CLUSTER_GROUPS` count.
    """
    settings = with_defaults(settings)
    facts = facts or {}
    host = entry["host"]
    groups = [group for group in (group_names or []) if group in CLUSTER_GROUPS]
    errors = []
    if groups and entry.get("address") is None:
        errors.append(
            "host %s: no node address found (node_ip unset, ansible_host %r is not an IP, no default IPv4 route "
            "in facts): set node_ip to the address the node uses in the cluster" % (host, entry.get("ansible_host"))
        )
    errors.extend(_os_errors(host, facts, list(settings["preflight_supported_os_families"] or [])))
    cpus, cpu_fact = _cpu_count(facts)
    errors.extend(
        _minimum_errors(
            host,
            "vCPU",
            cpus,
            cpu_fact or "processor_vcpus",
            groups,
            "preflight_min_cpus",
            settings["preflight_min_cpus"],
        )
    )
    memory = _as_int(facts.get("memtotal_mb"))
    errors.extend(
        _minimum_errors(
            host,
            "MB memory",
            memory,
            "memtotal_mb",
            groups,
            "preflight_min_memory_mb",
            settings["preflight_min_memory_mb"],
        )
    )
    return errors


# --------------------------------------------------------------------------- misspelt variables

# Names with these prefixes belong to kubesmith: one that no role, playbook or survey declares is most likely a typo
# (silently ignored by Ansible, so the default is used instead of what the inventory meant).
VARIABLE_PREFIXES = (
    "addons_", "backup_", "check_certs_", "cluster_", "containerd_", "control_plane_", "download_", "etcd_", "kube_",
    "load_balancer_", "node_", "pki_", "preflight_", "remove_node_", "reset_", "restore_", "summary_", "upgrade_",
    "worker_",
)  # fmt: skip


OWN_CHECKS = ("cluster_api_endpoint",)
"""Variables :func:`inventory_errors` refuses with a message of its own (e.g. the mapping a URL means): the
generic type check leaves them to it."""


def type_errors(values_by_host: dict[str, dict], specs: dict[str, dict]) -> list[str]:
    """One line per wrong variable, whatever the number of hosts: the variables each host carries checked against
    the roles' argument specs (type, choices, elements, sub-options), as the roles would check them later - but
    before any host changes and without printing the whole argument spec for every host.

    ``values_by_host`` maps host -> {variable: value} (only variables the host carries); ``specs`` maps variable ->
    its option spec from a role's ``meta/argument_specs.yml``. A variable no spec declares is skipped (see
    :func:`unknown_variables`); ``required`` and ``default`` of the top level do not apply (the value is there).
    """
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    hosts_by_message = {}
    for host in sorted(values_by_host):
        values = {
            name: value for name, value in values_by_host[host].items() if name in specs and name not in OWN_CHECKS
        }
        if not values:
            continue
        spec = {}
        for name in values:
            option = {key: value for key, value in specs[name].items() if key not in ("required", "default")}
            option.pop("description", None)
            spec[name] = option
        result = ArgumentSpecValidator(spec).validate(values)
        for error in result.errors:
            hosts_by_message.setdefault(str(getattr(error, "msg", error)), []).append(host)
    everyone = set(values_by_host)
    return [
        message if set(hosts) == everyone else "%s (host%s %s)" % (message, "s" if len(hosts) > 1 else "",
                                                                   ", ".join(hosts))
        for message, hosts in sorted(hosts_by_message.items())
    ]


def unknown_variables(names, known) -> list[str]:
    """One warning per name with a kubesmith prefix that is not a known variable, with the closest known names."""
    import difflib

    known = set(known)
    warnings = []
    for name in sorted(set(names)):
        if not name.startswith(VARIABLE_PREFIXES) or name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=2, cutoff=0.75)
        hint = ": did you mean %s?" % " or ".join(close) if close else " (see the roles' meta/argument_specs.yml)"
        warnings.append("%s is not a kubesmith variable, so it changes nothing%s" % (name, hint))
    return warnings


# The first control-plane host keeps the cluster's CAs (role pki reads them there). A host put first in group
# control_plane that has none while the others have them is, in practice, a new host listed first: the PKI step
# would refuse it only after the node and containerd steps changed every host (/etc/hosts lists the new host).
def primary_ca_errors(control_plane: list[str], has_ca: dict[str, bool]) -> list[str]:
    """Refuse a run whose first control-plane host has no cluster CA while another control-plane host has one.

    ``control_plane``: group control_plane in inventory order; ``has_ca``: host -> whether its CA certificate
    exists, for the hosts that were looked at (hosts left out by --limit are absent and decide nothing)."""
    if not control_plane or has_ca.get(control_plane[0]) is not False:
        return []
    holders = [host for host in control_plane[1:] if has_ca.get(host)]
    if not holders:
        return []
    first = control_plane[0]
    return [
        "the cluster CA is missing on the primary control-plane host %s (the first host of group control_plane), "
        "but %s %s it. If %s is a new host, list a control-plane host that already runs first in group "
        "control_plane: the first host keeps the CAs. Nothing was changed."
        % (first, ", ".join(holders), "has" if len(holders) == 1 else "have", first)
    ]
