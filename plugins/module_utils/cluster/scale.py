# -*- coding: utf-8 -*-
# Copyright: kubesmith contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What scale.yml adds: the inventory's hosts that the running cluster does not have yet.

A Kubernetes host (group ``control_plane`` or ``workers``) is new when its Node is not registered; an etcd host
is new when no etcd member carries its name. Everything that lists the control plane (load-balancer backends,
the apiserver certificate's SANs, every apiserver's etcd endpoints) changes when a control-plane host or an etcd
member is added: those changes are rolled over the existing hosts, which must therefore be in the play.
Pure functions, no Ansible imports: the filter plugin ``kubesmith.cluster.scale_plan`` wraps :func:`plan`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

GROUPS = ("etcd", "control_plane", "workers", "load_balancers")


def _ordered(groups, *names):
    seen = []
    for group in names:
        for host in groups.get(group) or []:
            if host not in seen:
                seen.append(host)
    return seen


def plan(groups: dict, node_names, registered, etcd_names, etcd_members, play_hosts, load_balancer_hosts=()) -> dict:
    """Decide what scale.yml adds.

    ``groups``: the inventory groups (``etcd``, ``control_plane``, ``workers``...). ``node_names``: inventory host ->
    Node name (hosts missing from it use their inventory name). ``registered``: Node names the API lists.
    ``etcd_names``: inventory host -> etcd member name (default: the inventory name). ``etcd_members``: member names
    etcd lists (``None`` when the inventory has no etcd group). ``play_hosts``: the hosts of the play (what
    ``--limit`` left). ``load_balancer_hosts``: the hosts that run the API load balancer.

    Returns ``{"new": [...], "new_nodes", "new_control_plane", "new_etcd", "roll": bool, "roll_hosts": [...],
    "errors": [...], "summary": str}``: ``roll`` is true when the existing control plane must be updated
    (a control-plane host or an etcd member is added); ``roll_hosts`` are the existing hosts that update then
    (control plane, then the other load balancers; never a new host).
    """
    groups = {name: list(groups.get(name) or []) for name in GROUPS}
    node_names = dict(node_names or {})
    etcd_names = dict(etcd_names or {})
    registered = set(registered or [])
    members = set(etcd_members or [])
    play = list(play_hosts or [])
    kube_hosts = _ordered(groups, "control_plane", "workers")
    control_plane = groups["control_plane"]

    new_nodes = [h for h in kube_hosts if node_names.get(h, h) not in registered]
    new_etcd = [h for h in groups["etcd"] if etcd_names.get(h, h) not in members] if etcd_members is not None else []
    new_control_plane = [h for h in control_plane if h in new_nodes]
    new = [h for h in _ordered(groups, *GROUPS) if h in new_nodes or h in new_etcd]
    errors = []

    existing_nodes = [h for h in kube_hosts if h not in new_nodes]
    if not existing_nodes:
        errors.append(
            "no host of the inventory is a registered node: scale.yml grows a running cluster (build it with site.yml)"
        )
    elif control_plane and control_plane[0] in new_control_plane:
        errors.append(
            "%s is first in group control_plane but is not a node yet: the first control-plane host keeps the "
            "cluster CAs, so new control-plane hosts go after the existing ones" % control_plane[0]
        )
    if etcd_members is not None and groups["etcd"] and len(new_etcd) == len(groups["etcd"]):
        errors.append("no host of the etcd group is an etcd member: scale.yml grows a running etcd cluster")

    roll = bool(new_control_plane or new_etcd)
    # existing hosts only: scale.yml updates them before a new host starts (a new keepalived must hear the VIP
    # holder, which only sends to the peers it knows)
    roll_hosts = [
        h for h in _ordered({"a": control_plane, "b": list(load_balancer_hosts or [])}, "a", "b") if h not in new
    ]
    if roll:
        left_out = [h for h in roll_hosts if h not in play]
        if left_out:
            added = ", ".join(new_control_plane + [h for h in new_etcd if h not in new_control_plane])
            errors.append(
                "adding %s changes every control-plane host (load-balancer backends, apiserver certificate SANs, "
                "etcd endpoints) but --limit leaves out %s: run without --limit, or add them to it"
                % (added, ", ".join(left_out))
            )
    missing = [h for h in new if h not in play]
    summary = (
        "nothing to add: every host of the inventory is in the cluster"
        if not new
        else "adding %s%s%s"
        % (
            ", ".join(new),
            " (not in this run: %s)" % ", ".join(missing) if missing else "",
            "; the existing control plane is updated one host at a time" if roll else "",
        )
    )
    return {
        "new": new,
        "new_nodes": new_nodes,
        "new_control_plane": new_control_plane,
        "new_etcd": new_etcd,
        "roll": roll,
        "roll_hosts": roll_hosts if roll else [],
        "errors": errors,
        "summary": summary,
    }
