"""Pod network filters for the addons role (controller side; logic in plugins/module_utils/addons/pod_network.py).

Each filter is called as ``kubesmith.cluster.<name>``:

- ``pod_network_nodes(doc)``: ``kubectl get nodes -o json`` (text or parsed) -> ``{name: {pod_cidr, internal_ip,
  ready}}``.
- ``pod_network_missing(nodes, names)`` / ``pod_network_not_ready(nodes, names)``: node names still without a pod
  CIDR / not Ready (the readiness predicates of the role's waits).
- ``pod_network_hosts(hosts, hostvars)``: ``[{host, node, address}]`` from the inventory (node name: ``node_name``
  or the inventory name; address: ``kubesmith.cluster.node_address``).
- ``pod_network_plan(hosts, nodes, cluster_pod_cidr, required)``: ``{"plan": {host: {node, address, pod_cidr}},
  "errors": [...]}``.
- ``pod_network_routes(plan, host)``: the routes ``host`` needs, ``[{dst, via, node}]``.
- ``pod_network_conflist(pod_cidr, name, bridge, mtu)``: the CNI configuration list as a dict (render with
  ``to_nice_json``).

Add-ons from the inventory (logic in plugins/module_utils/addons/objects.py and addons/helm.py):

- ``addons_extra_check(items)``: ``addons_extra`` -> ``{"items": [...defaults filled], "errors": [...]}``.
- ``addon_manifest_objects(path)``: type manifests - the objects of the directory's files (read on the controller).
- ``addon_objects(text)``: a rendered stream (``kubectl kustomize`` output) -> objects.
- ``addon_scopes(text)``: ``kubectl api-resources --no-headers`` -> ``{"group/Kind": namespaced}``.
- ``addon_plan(objects, name, record, scopes, state)``: refs, prune list, record writes (see ``addon_objects.plan``).
- ``addon_apply_document(objects)``: one ``v1/List`` JSON text for ``kubectl apply -f -``.
- ``addon_helm_args(item, kubeconfig, binary_path, chart_dir)``: the arguments of ``kubernetes.core.helm``.
- ``addon_chart_dest(item, chart_dir)``: where the chart's copy lies on the host.

Example::

    _addons_plan: >-
      {{ _addons_network_hosts | kubesmith.cluster.pod_network_hosts(hostvars)
         | kubesmith.cluster.pod_network_plan(__addons_nodes.stdout | kubesmith.cluster.pod_network_nodes,
                                              cluster_pod_cidr, ansible_play_hosts_all) }}
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.kubesmith.cluster.plugins.module_utils.addons import helm as addon_helm
from ansible_collections.kubesmith.cluster.plugins.module_utils.addons import objects as addon_objects
from ansible_collections.kubesmith.cluster.plugins.module_utils.addons import pod_network
from ansible_collections.kubesmith.cluster.plugins.module_utils.net import address as net_address


def _wrap(name, func, *args):
    try:
        return func(*args)
    except (pod_network.PodNetworkError, addon_objects.AddonError, addon_helm.HelmAddonError) as exc:
        raise AnsibleFilterError("kubesmith.cluster.%s: %s" % (name, to_native(exc))) from None


def _plain(value):
    """Ansible lazy containers / unsafe strings -> plain Python (JSON round trip)."""
    return json.loads(json.dumps(value, default=to_native))


def pod_network_nodes(doc):
    if isinstance(doc, (str, bytes)):
        try:
            doc = json.loads(to_native(doc))
        except ValueError as exc:
            raise AnsibleFilterError("kubesmith.cluster.pod_network_nodes: not JSON: %s" % to_native(exc)) from None
    return _wrap("pod_network_nodes", pod_network.parse_nodes, _plain(doc))


def pod_network_missing(nodes, names):
    return pod_network.missing_pod_cidrs(_plain(nodes), [to_native(n) for n in names])


def pod_network_not_ready(nodes, names):
    return pod_network.not_ready(_plain(nodes), [to_native(n) for n in names])


def pod_network_hosts(hosts, hostvars):
    result = []
    for host in hosts:
        host = to_native(host)
        try:
            host_vars = hostvars[host]
        except KeyError:
            raise AnsibleFilterError("kubesmith.cluster.pod_network_hosts: %s is not in the inventory" % host) from None
        node = host_vars.get("node_name") or host
        try:
            address = net_address.node_address(host_vars)
        except net_address.NodeAddressError as exc:
            raise AnsibleFilterError(str(exc)) from None
        result.append({"host": host, "node": to_native(node), "address": address})
    return result


def pod_network_plan(hosts, nodes, cluster_pod_cidr, required=None):
    required = None if required is None else [to_native(h) for h in required]
    network_plan, errors = _wrap(
        "pod_network_plan", pod_network.plan, _plain(hosts), _plain(nodes), to_native(cluster_pod_cidr), required
    )
    return {"plan": network_plan, "errors": errors}


def pod_network_routes(network_plan, host):
    network_plan = _plain(network_plan)
    network_plan = network_plan.get("plan", network_plan) if "errors" in network_plan else network_plan
    return _wrap("pod_network_routes", pod_network.routes_for, network_plan, to_native(host))


def pod_network_conflist(pod_cidr, name=pod_network.DEFAULT_NETWORK_NAME, bridge=pod_network.DEFAULT_BRIDGE, mtu=None):
    return _wrap("pod_network_conflist", pod_network.conflist, to_native(pod_cidr), to_native(name), to_native(bridge),
                 mtu)


def addons_extra_check(items):
    normalized, errors = addon_objects.validate_addons(_plain(items))
    return {"items": normalized, "errors": errors}


def addon_manifest_objects(path):
    path = to_native(path)
    return _wrap("addon_manifest_objects", lambda: addon_objects.parse_stream(addon_objects.manifest_texts(path)))


def addon_objects_filter(text, label="the rendered stream"):
    return _wrap("addon_objects", addon_objects.parse_stream, [(to_native(label), to_native(text))])


def _scope_keys(scopes):
    return {"%s/%s" % key: value for key, value in scopes.items()}


def _scope_tuples(scopes):
    scopes = _plain(scopes or {})
    return {tuple(key.split("/", 1)): bool(value) for key, value in scopes.items()}


def addon_scopes(text):
    return _scope_keys(addon_objects.parse_scopes(to_native(text)))


def addon_plan(objects, name, record, scopes, state="present"):
    record = to_native(record) if isinstance(record, (str, bytes)) else _plain(record)
    return _wrap("addon_plan", addon_objects.plan, to_native(name), _plain(objects or []), record,
                 _scope_tuples(scopes), to_native(state))


def addon_apply_document(objects):
    return addon_objects.apply_document(_plain(objects))


def addon_helm_args(item, kubeconfig, binary_path, chart_dir):
    return _wrap("addon_helm_args", addon_helm.helm_args, _plain(item), to_native(kubeconfig), to_native(binary_path),
                 to_native(chart_dir))


def addon_chart_dest(item, chart_dir):
    return _wrap("addon_chart_dest", addon_helm.chart_dest, _plain(item), to_native(chart_dir))


class FilterModule:
    """kubesmith.cluster pod network and add-on filters."""

    def filters(self):
        return {
            "pod_network_nodes": pod_network_nodes,
            "pod_network_missing": pod_network_missing,
            "pod_network_not_ready": pod_network_not_ready,
            "pod_network_hosts": pod_network_hosts,
            "pod_network_plan": pod_network_plan,
            "pod_network_routes": pod_network_routes,
            "pod_network_conflist": pod_network_conflist,
            "addons_extra_check": addons_extra_check,
            "addon_manifest_objects": addon_manifest_objects,
            "addon_objects": addon_objects_filter,
            "addon_scopes": addon_scopes,
            "addon_plan": addon_plan,
            "addon_apply_document": addon_apply_document,
            "addon_helm_args": addon_helm_args,
            "addon_chart_dest": addon_chart_dest,
        }
