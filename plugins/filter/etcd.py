"""etcd filters: member URLs and the initial-cluster string from the inventory.

etcd_client_urls(members, hostvars, port=2379)   -> ["https://10.0.0.11:2379", ...]
etcd_peer_urls(members, hostvars, port=2380)     -> ["https://10.0.0.11:2380", ...]
etcd_initial_cluster(members, hostvars, port=2380) -> "etcd1=https://10.0.0.11:2380,..."
host_urls(members, hostvars, port)               -> {"cp1": "https://10.0.0.11:6443", ...} (each host's own)

``members`` is a list of inventory names (usually ``groups['etcd']``); names come from
``node_name`` (default the inventory name), addresses from kubesmith.cluster.node_address.
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd import urls as etcd_urls
from ansible_collections.kubesmith.cluster.plugins.module_utils.net import address as net_address


def _hosts(members, hostvars):
    hosts = []
    for host in members or []:
        host_vars = hostvars[host]
        node_name = host_vars.get("node_name") if hasattr(host_vars, "get") else None
        hosts.append((host, node_name, net_address.node_address(host_vars)))
    return hosts


def _wrap(function):
    def wrapped(members, hostvars, port=None):
        try:
            hosts = _hosts(members, hostvars)
            return function(hosts) if port is None else function(hosts, port)
        except (etcd_urls.EtcdUrlError, net_address.NodeAddressError) as exc:
            raise AnsibleFilterError(str(exc)) from exc

    return wrapped


class FilterModule:
    def filters(self):
        return {
            "etcd_client_urls": _wrap(etcd_urls.client_urls),
            "etcd_peer_urls": _wrap(etcd_urls.peer_urls),
            "etcd_initial_cluster": _wrap(etcd_urls.initial_cluster),
            "host_urls": _wrap(etcd_urls.host_urls),
        }
