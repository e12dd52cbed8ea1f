"""Scale filters.

scale_plan(groups, hostvars, nodes, etcd_members, play_hosts, load_balancer_hosts=[]) -> dict
    What scale.yml adds (module_utils/cluster/scale.py): ``nodes`` is ``kubectl get nodes -o json`` (text or
    parsed) or a list of Node names; ``etcd_members`` the ``members`` list of ``etcd_member`` (state=list), a list
    of member names, or none when the inventory has no etcd group.
"""

import json

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import scale as cluster_scale


def _node_names(nodes):
    if isinstance(nodes, str):
        try:
            nodes = json.loads(nodes)
        except ValueError as exc:
            raise AnsibleFilterError("kubesmith.cluster.scale_plan: the node list is not JSON: %s" % exc) from exc
    if isinstance(nodes, dict):
        nodes = [(item.get("metadata") or {}).get("name") for item in nodes.get("items") or []]
    if not isinstance(nodes, list):
        raise AnsibleFilterError("kubesmith.cluster.scale_plan: expected a NodeList or a list of names, got %r" % nodes)
    return [to_native(name) for name in nodes if name]


def _member_names(members):
    if members is None:
        return None
    if not isinstance(members, list):
        raise AnsibleFilterError("kubesmith.cluster.scale_plan: expected a list of etcd members, got %r" % (members,))
    return [to_native(m.get("name") if isinstance(m, dict) else m) for m in members if m]


def scale_plan(groups, hostvars, nodes, etcd_members, play_hosts, load_balancer_hosts=None):
    groups = {name: [to_native(h) for h in (groups.get(name) or [])] for name in cluster_scale.GROUPS}
    hosts = set(h for members in groups.values() for h in members)
    node_names, etcd_names = {}, {}
    for host in hosts:
        host_vars = hostvars[host]
        node_names[host] = to_native(host_vars.get("node_name") or host)
        # as the etcd role's default: etcd_name, else node_name, else the inventory name
        etcd_names[host] = to_native(host_vars.get("etcd_name") or node_names[host])
    return cluster_scale.plan(
        groups,
        node_names,
        _node_names(nodes),
        etcd_names,
        _member_names(etcd_members) if groups["etcd"] else None,
        [to_native(h) for h in play_hosts or []],
        [to_native(h) for h in load_balancer_hosts or []],
    )


class FilterModule:
    def filters(self):
        return {"scale_plan": scale_plan}
