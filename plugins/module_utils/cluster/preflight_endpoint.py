# Copyright: kubesmith maintainers
# Apache License 2.0 (see galaxy.yml)
"""Preflight checks of the API endpoint (``cluster_api_endpoint``) against the load-balancer mode, every cluster
host's address and the cluster networks: pure functions, controller side only (netaddr).
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re

from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster.preflight_settings import (
    LB_MODES,
    LOCAL_ENDPOINT_PORT,
    _as_int,
    _members,
    api_endpoint,
    with_defaults,
)
from ansible_collections.kubesmith.cluster.plugins.module_utils.net.address import parse_cidr, parse_ip

# --------------------------------------------------------------------------- the API endpoint


def _endpoint_string_fix(value):
    """A URL or host:port string -> the mapping it means, written out."""
    text = value.strip()
    text = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", text).split("/")[0]
    host, port = text, None
    bracketed = re.match(r"^\[([^\]]+)\](?::([0-9]+))?$", text)
    if bracketed:
        host, port = bracketed.group(1), bracketed.group(2)
    elif text.count(":") == 1:
        host, port = text.split(":")
    return "{host: %s, port: %s}" % (host or "ADDRESS", port or 6443)


def _endpoint_shape_errors(raw):
    """(errors, mapping) for cluster_api_endpoint's form: a mapping with host and/or port, port a TCP port."""
    if raw in (None, ""):
        return [], {}
    if isinstance(raw, str):
        return [
            "cluster_api_endpoint is the string %r but must be a mapping: cluster_api_endpoint: %s"
            % (raw, _endpoint_string_fix(raw))
        ], None
    if not isinstance(raw, dict):
        return ["cluster_api_endpoint must be a mapping {host: ADDRESS, port: PORT} (got %r)" % (raw,)], None
    errors = []
    unknown = sorted(str(key) for key in raw if key not in ("host", "port"))
    if unknown:
        errors.append(
            "cluster_api_endpoint has key(s) %s: it takes host and port only, e.g. {host: 192.0.2.10, port: 8443}"
            % ", ".join(unknown)
        )
    host = raw.get("host")
    if host not in (None, ""):
        if not isinstance(host, str):
            errors.append("cluster_api_endpoint.host must be an address or a DNS name (got %r)" % (host,))
        elif "/" in host or (":" in host and parse_ip(host) is None):
            errors.append(
                "cluster_api_endpoint.host %r is not an address or a name (a URL or host:port?): write "
                "cluster_api_endpoint: %s" % (host, _endpoint_string_fix(host))
            )
    port = raw.get("port")
    if port not in (None, ""):
        number = _as_int(port)
        if number is None or not 1 <= number <= 65535:
            errors.append("cluster_api_endpoint.port %r is not a TCP port (1 to 65535)" % (port,))
    return errors, raw


def endpoint_errors(groups: dict, hosts: list[dict], settings: dict | None = None) -> list[str]:
    """The API endpoint against the load-balancer mode, every cluster host's address and the cluster networks.

    What the load_balancer role would refuse later (module_utils/cluster/load_balancer.py), found before any host
    changes, plus what nothing checked: a VIP that is a host's address in any group or inside a cluster CIDR, an
    endpoint on a host that runs no apiserver, a URL where a mapping belongs.
    """
    settings = with_defaults(settings)
    mode = settings["load_balancer_mode"]
    if mode not in LB_MODES:
        return ["load_balancer_mode %r is not one of %s" % (mode, ", ".join(LB_MODES))]
    errors, raw = _endpoint_shape_errors(settings["cluster_api_endpoint"])
    if raw is None or errors:
        return errors
    endpoint = api_endpoint(mode, raw)
    host, port = endpoint["host"], endpoint["port"]
    control_plane = set(_members(groups, "control_plane"))
    balancers = _members(groups, "load_balancers")
    owners = {}
    for entry in hosts:
        ip = parse_ip(entry.get("address"))
        if ip is not None:
            owners.setdefault(str(ip), entry["host"])
    ip = parse_ip(host) if host else None
    if mode == "vip":
        if not host:
            return [
                "load_balancer_mode vip needs cluster_api_endpoint.host: the virtual IP keepalived moves between "
                "the load balancers (a free address in the node network), e.g. {host: 192.0.2.100, port: 8443}"
            ]
        if ip is None:
            return [
                "load_balancer_mode vip: cluster_api_endpoint.host %r must be an IP address (keepalived moves an "
                "address, not a name)" % (host,)
            ]
        errors.extend(_vip_errors(host, ip, owners, hosts, balancers or _members(groups, "control_plane")))
    elif mode == "local":
        if ip is None or not ip.is_loopback():
            errors.append(
                "load_balancer_mode local: every node reaches the API through its own haproxy on the loopback "
                "address, so cluster_api_endpoint.host must be 127.0.0.1 (got %r; leave cluster_api_endpoint out "
                "for 127.0.0.1:%d)" % (host, LOCAL_ENDPOINT_PORT)
            )
    elif ip is not None and str(ip) in owners and owners[str(ip)] not in control_plane | set(balancers):
        errors.append(
            "cluster_api_endpoint.host %s is the address of host %s, which runs no apiserver (not in control_plane): "
            "use a control-plane host's address, a VIP (load_balancer_mode vip) or your load balancer's"
            % (host, owners[str(ip)])
        )
    if ip is not None and not ip.is_loopback():
        errors.extend(_endpoint_network_errors(host, ip, mode, settings))
    errors.extend(_endpoint_port_errors(mode, port, balancers, settings))
    return errors


def _vip_errors(host, ip, owners, hosts, peers):
    """A virtual IP that is loopback, a host's address (``owners``: address -> host), or of another IP family than
    a VRRP peer's address."""
    errors = []
    if ip.is_loopback():
        errors.append("load_balancer_mode vip: the virtual IP %s is a loopback address" % host)
    elif str(ip) in owners:
        errors.append(
            "the virtual IP %s is the address of host %s: choose a free address in the node network"
            % (host, owners[str(ip)])
        )
    for entry in hosts:
        peer_ip = parse_ip(entry.get("address"))
        if entry["host"] in peers and peer_ip is not None and peer_ip.version != ip.version:
            errors.append(
                "the virtual IP %s is IPv%d but host %s, a VRRP peer, has the IPv%d address %s: use one family"
                % (host, ip.version, entry["host"], peer_ip.version, peer_ip)
            )
    return errors


def _endpoint_network_errors(host, ip, mode, settings):
    """An endpoint address inside the pod or service network, or a virtual IP outside ``cluster_node_cidr``."""
    errors = []
    for name in ("cluster_pod_cidr", "cluster_service_cidr"):
        network = parse_cidr(settings[name])[0]
        if network is not None and ip.version == network.version and ip in network:
            errors.append(
                "cluster_api_endpoint.host %s is inside %s %s: the endpoint must be outside the pod and "
                "service networks" % (host, name, settings[name])
            )
    node = parse_cidr(settings["cluster_node_cidr"])[0] if settings["cluster_node_cidr"] else None
    if mode == "vip" and node is not None and ip not in node:
        errors.append(
            "the virtual IP %s is outside cluster_node_cidr %s: keepalived announces it on the node network"
            % (host, settings["cluster_node_cidr"])
        )
    return errors


def _endpoint_port_errors(mode, port, balancers, settings):
    """The endpoint port taken by kube-apiserver on the hosts where haproxy runs next to it."""
    apiserver_port = _as_int(settings["control_plane_apiserver_port"]) or 6443
    shares_hosts = mode == "local" or (mode == "vip" and not balancers)
    if shares_hosts and port == apiserver_port:
        return [
            "cluster_api_endpoint.port is %d, the port kube-apiserver listens on (control_plane_apiserver_port), "
            "and haproxy runs on the control-plane hosts in load_balancer_mode %s: give the endpoint another port "
            "(e.g. %d)%s"
            % (
                port,
                mode,
                LOCAL_ENDPOINT_PORT if mode == "local" else 8443,
                " or put the load balancers on hosts of their own (group load_balancers)" if mode == "vip" else "",
            )
        ]
    return []
