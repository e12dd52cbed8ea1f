"""Load balancer filters for the API endpoint (role load_balancer).

Decisions in plugins/module_utils/cluster/load_balancer.py.

load_balancer_hosts(groups, mode, node_groups=[control_plane, workers])
    -> inventory names of the hosts that run haproxy (vip: group load_balancers, else control_plane; local: every
    node), in inventory order; [] for mode none.
load_balancer_members(names, hostvars)
    -> [{name, address}] with each host's node address (kubesmith.cluster.node_address: node_ip, an IP
    ansible_host, else the default IPv4 address from facts; None while unknown).
load_balancer_interface(ansible_facts, address)
    -> the interface that carries ``address``, or None.
load_balancer_settings(settings)          -> the validated settings (fails with a message naming the variable)
load_balancer_haproxy_config(settings)    -> haproxy.cfg text
load_balancer_keepalived_config(settings) -> keepalived.conf text (vip mode)

Example::

    _lb_haproxy_cfg: "{{ _load_balancer_settings | kubesmith.cluster.load_balancer_haproxy_config }}"
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import load_balancer as lb_config
from ansible_collections.kubesmith.cluster.plugins.module_utils.net import address as net_address
from ansible_collections.kubesmith.cluster.plugins.module_utils.net.address import plain as _plain


def _wrap(function):
    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except lb_config.LbConfigError as exc:
            raise AnsibleFilterError("load_balancer: %s" % exc) from exc
        except net_address.NodeAddressError as exc:
            raise AnsibleFilterError(str(exc)) from None

    wrapped.__name__ = function.__name__
    return wrapped


def load_balancer_hosts(groups, mode, node_groups=("control_plane", "workers")):
    return lb_config.proxy_hosts(str(mode), _plain(groups), tuple(_plain(node_groups)))


def load_balancer_members(names, hostvars):
    out = []
    for name in names or []:
        address = net_address.node_address(hostvars[name])
        out.append({"name": str(name), "address": str(address) if address else None})
    return out


def load_balancer_interface(facts, address):
    return lb_config.interface_for(_plain(facts or {}), address)


def api_endpoint(endpoint, mode="none"):
    """cluster_api_endpoint with the defaults of load_balancer_mode: {host (None: the primary's address), port}."""
    return lb_config.api_endpoint(str(mode), _plain(endpoint or {}))


def load_balancer_settings(settings):
    return lb_config.settings(_plain(settings))


def load_balancer_haproxy_config(settings):
    return lb_config.haproxy_config(_plain(settings))


def load_balancer_keepalived_config(settings):
    return lb_config.keepalived_config(_plain(settings))


class FilterModule:
    def filters(self):
        return {
            name: _wrap(function)
            for name, function in (
                ("api_endpoint", api_endpoint),
                ("load_balancer_hosts", load_balancer_hosts),
                ("load_balancer_members", load_balancer_members),
                ("load_balancer_interface", load_balancer_interface),
                ("load_balancer_settings", load_balancer_settings),
                ("load_balancer_haproxy_config", load_balancer_haproxy_config),
                ("load_balancer_keepalived_config", load_balancer_keepalived_config),
            )
        }
