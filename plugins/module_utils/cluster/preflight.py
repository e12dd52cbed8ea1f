


# Copyright: kubesmith maintainers
# Apache License 2.0 (see galaxy.yml)
"""Preflight decisions for kubesmith.cluster: pure functions, no Ansible objects.

Every check returns a list of messages; an empty list means "fine". Each message
is one line that names the host or the variable, the value found and what to
change, so the ``preflight`` role can print them all at once and stop before any
host is modified.

Runs on the controller only (the ``kubesmith.cluster`` preflight filters call it);
it needs ``netaddr``, which ``requirements.txt`` installs next to ansible-core.
Nothing here is shipped to managed hosts.

This module checks the inventory (groups, node names, addresses, networks, versions) and
gathers every inventory check in :func:`inventory_errors`. Next to it: ``preflight_settings.py``
(settings, defaults, groups), ``preflight_endpoint.py`` (the API endpoint),
``preflight_host.py`` (host facts and variable names and types); addresses are parsed by
``net/address.py``.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re

from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster.preflight_endpoint import endpoint_errors
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster.preflight_settings import (
    DEFAULT_SETTINGS,
    KUBELET_MAX_PODS,
    NODE_CIDR_MAX_SUBNET_BITS,
    NODE_GROUPS,
    SERVICE_CIDR_MAX_HOST_BITS,
    _as_int,
    _hosts_list,
    _members,
    with_defaults,
)
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import versions as kube_versions
from ansible_collections.kubesmith.cluster.plugins.module_utils.net.address import parse_cidr, parse_ip

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_RE = re.compile(r"^%s(\.%s)*$" % (_DNS1123_LABEL, _DNS1123_LABEL))
_DNS1123_SUBDOMAIN_MAX = 253
_DNS1123_LABEL_MAX = 63


# --------------------------------------------------------------------------- names and addresses


def is_dns1123_subdomain(name: str) -> bool:
    """True when ``name`` is a valid Kubernetes node name (RFC 1123 subdomain, lowercase)."""
    if not isinstance(name, str) or not name or len(name) > _DNS1123_SUBDOMAIN_MAX:
        return False
    if not _DNS1123_SUBDOMAIN_RE.match(name):
        return False
    return all(len(label) <= _DNS1123_LABEL_MAX for label in name.split("."))


def suggest_dns1123_name(name: str) -> str:
    """A valid node name close to ``name`` (lowercased, other characters turned into '-')."""
    text = str(name).lower()
    text = re.sub(r"[^a-z0-9.-]+", "-", text)
    labels = [label.strip("-")[:_DNS1123_LABEL_MAX].strip("-") for label in text.split(".")]
    text = ".".join(label for label in labels if label)[:_DNS1123_SUBDOMAIN_MAX].strip(".-")
    return text or "node-1"


# --------------------------------------------------------------------------- inventory checks


def group_errors(groups: dict) -> list[str]:
    """Group membership: control plane and etcd present, etcd count usable for quorum."""
    errors = []
    for name in ("control_plane", "etcd"):
        if not _members(groups, name):
            errors.append(
                "group %s is empty: add at least one host to [%s] in the inventory "
                "(the same host may be in several groups)" % (name, name)
            )
    etcd = _members(groups, "etcd")
    count = len(etcd)
    if count > 1 and count % 2 == 0:
        majority = count // 2 + 1
        tolerated = (count - 1) // 2
        fix = "3" if count == 2 else "%d or %d" % (count - 1, count + 1)
        errors.append(
            "group etcd has %d hosts (%s): etcd needs a majority (%d of %d) to keep quorum, so %d members tolerate "
            "%d failed member(s), no more than %d would: use %s etcd hosts (or 1 for a lab)"
            % (count, _hosts_list(etcd), majority, count, count, tolerated, count - 1, fix)
        )
    return errors


def node_name_errors(hosts: list[dict]) -> list[str]:
    """Node names: valid DNS-1123 subdomains and unique across the cluster hosts."""
    errors = []
    by_name = {}
    for entry in hosts:
        name = entry["node_name"]
        if not is_dns1123_subdomain(name):
            source = "node_name" if name != entry["host"] else "inventory name (node_name unset)"
            errors.append(
                "host %s: %s %r is not a valid Kubernetes node name (lowercase letters, digits, '-' and '.', "
                "starting and ending with a letter or digit, at most 253 characters): set node_name, e.g. %r"
                % (entry["host"], source, name, suggest_dns1123_name(name))
            )
        by_name.setdefault(name, []).append(entry["host"])
    for name, owners in sorted(by_name.items(), key=lambda item: str(item[0])):
        if len(owners) > 1:
            errors.append(
                "node_name %r is used by hosts %s: give each host its own node_name" % (name, _hosts_list(owners))
            )
    return errors


def address_errors(hosts: list[dict]) -> list[str]:
    """Node addresses: valid IPs and unique. Hosts whose address is not known yet are skipped."""
    errors = []
    by_address = {}
    for entry in hosts:
        address = entry.get("address")
        if address is None:
            continue
        ip = parse_ip(address)
        if ip is None:
            errors.append(
                "host %s: %s %r is not an IP address: set node_ip to the address the node uses in the cluster"
                % (entry["host"], entry.get("address_source") or "node_ip", address)
            )
            continue
        if ip.is_loopback():
            errors.append(
                "host %s: %s %s is a loopback address: other nodes cannot reach it and the kubelet refuses it - "
                "set node_ip to the address the node uses in the cluster"
                % (entry["host"], entry.get("address_source") or "node_ip", address)
            )
            continue
        by_address.setdefault(str(ip), []).append("%s (%s)" % (entry["host"], entry.get("address_source")))
    for address, owners in sorted(by_address.items()):
        if len(owners) > 1:
            errors.append(
                "node address %s is used by hosts %s: give each host its own address (set node_ip per host)"
                % (address, ", ".join(sorted(owners)))
            )
    return errors


def _service_cidr_errors(network, value, max_prefix):
    bits = 32 if network.version == 4 else 128
    largest = bits - SERVICE_CIDR_MAX_HOST_BITS
    smallest = bits - (32 - max_prefix)
    host_bits = bits - network.prefixlen
    if host_bits > SERVICE_CIDR_MAX_HOST_BITS:
        return [
            "cluster_service_cidr %s is larger than /%d (kube-apiserver limit): use a /%d to /%d"
            % (value, largest, largest, smallest)
        ]
    if network.prefixlen > smallest:
        return [
            "cluster_service_cidr %s is too small (smaller than /%d, preflight_service_cidr_max_prefix): "
            "use a /%d to /%d" % (value, smallest, largest, smallest)
        ]
    return []


def _pod_capacity_errors(pod, pod_value, node_prefix_value, node_count, max_pods=KUBELET_MAX_PODS):
    bits = 32 if pod.version == 4 else 128
    node_prefix = _as_int(node_prefix_value)
    longest = min(bits, pod.prefixlen + NODE_CIDR_MAX_SUBNET_BITS)
    if node_prefix is None or not pod.prefixlen <= node_prefix <= longest:
        return [
            "cluster_node_pod_cidr_prefix %s does not fit cluster_pod_cidr %s: use a prefix from %d to %d "
            "(at most %d bits longer than the pod CIDR, kube-controller-manager limit)"
            % (node_prefix_value, pod_value, pod.prefixlen, longest, NODE_CIDR_MAX_SUBNET_BITS)
        ]
    usable = 2 ** (bits - node_prefix) - 3  # host-local IPAM: not the network, the bridge gateway or broadcast
    if usable < max_pods:
        fits = bits - (max_pods + 2).bit_length()
        return [
            "cluster_node_pod_cidr_prefix %d gives each node %d pod addresses but the kubelet runs up to %d pods "
            "(maxPods): use a prefix of /%d or shorter, or lower worker_kubelet_config_overrides.maxPods"
            % (node_prefix, max(usable, 0), max_pods, fits)
        ]
    subnets = 2 ** (node_prefix - pod.prefixlen)
    if node_count > subnets:
        needed = node_prefix - (node_count - 1).bit_length()
        return [
            "cluster_pod_cidr %s holds %d /%d node subnet(s) but %d nodes (control_plane + workers) need one each: "
            "use a /%d or larger cluster_pod_cidr, or a longer cluster_node_pod_cidr_prefix"
            % (pod_value, subnets, node_prefix, node_count, needed)
        ]
    return []


def _max_pods(settings):
    """(maxPods the kubelets run with, problem or None)."""
    overrides = settings.get("worker_kubelet_config_overrides") or {}
    if not isinstance(overrides, dict):
        return KUBELET_MAX_PODS, "worker_kubelet_config_overrides must be a mapping of kubelet settings (got %r)" % (
            overrides,
        )
    if "maxPods" not in overrides:
        return KUBELET_MAX_PODS, None
    value = _as_int(overrides["maxPods"])
    if value is None or value < 1:
        return KUBELET_MAX_PODS, "worker_kubelet_config_overrides.maxPods %r is not a positive number" % (
            overrides["maxPods"],
        )
    return value, None


def network_errors(settings: dict | None, node_count: int = 0) -> list[str]:
    """Cluster networks: valid CIDRs, one family, no overlaps, size bounds, a pod subnet per node.

    ``settings`` holds the role variables by their names (``cluster_pod_cidr`` ...);
    ``node_count`` is the number of hosts in control_plane + workers.
    """
    settings = with_defaults(settings)
    errors = []
    max_pods, problem = _max_pods(settings)
    if problem:
        errors.append(problem)
    max_prefix = _as_int(settings["preflight_service_cidr_max_prefix"])
    if max_prefix is None or not 12 <= max_prefix <= 28:
        errors.append(
            "preflight_service_cidr_max_prefix %s is out of range: use 12 to 28 (the service CIDR must hold "
            "the apiserver and DNS service IPs)" % (settings["preflight_service_cidr_max_prefix"],)
        )
        max_prefix = DEFAULT_SETTINGS["preflight_service_cidr_max_prefix"]

    networks = {}
    for name in ("cluster_pod_cidr", "cluster_service_cidr", "cluster_node_cidr"):
        value = settings[name]
        if name == "cluster_node_cidr" and value in (None, ""):
            continue
        network, problem = parse_cidr(value)
        if problem:
            errors.append("%s %s %s" % (name, value, problem))
        if network is not None:
            networks[name] = network

    pod = networks.get("cluster_pod_cidr")
    service = networks.get("cluster_service_cidr")
    if pod is not None and service is not None and pod.version != service.version:
        errors.append(
            "cluster_pod_cidr %s and cluster_service_cidr %s are different IP families: use IPv4 for both or "
            "IPv6 for both" % (settings["cluster_pod_cidr"], settings["cluster_service_cidr"])
        )
    if service is not None:
        errors.extend(_service_cidr_errors(service, settings["cluster_service_cidr"], max_prefix))
    if pod is not None:
        errors.extend(
            _pod_capacity_errors(
                pod, settings["cluster_pod_cidr"], settings["cluster_node_pod_cidr_prefix"], node_count,
                max_pods,
            )
        )

    names = [name for name in ("cluster_pod_cidr", "cluster_service_cidr", "cluster_node_cidr") if name in networks]
    for index, first in enumerate(names):
        for second in names[index + 1 :]:
            if networks[first].version == networks[second].version and _overlap(networks[first], networks[second]):
                errors.append(
                    "%s %s overlaps %s %s: pick networks that share no address"
                    % (first, settings[first], second, settings[second])
                )

    domain = settings["cluster_domain"]
    if not is_dns1123_subdomain(domain):
        errors.append(
            "cluster_domain %r is not a valid DNS domain (lowercase letters, digits, '-' and '.'): use e.g. "
            "cluster.local" % (domain,)
        )
    return errors


def _overlap(first, second):
    return first.first <= second.last and second.first <= first.last


def node_network_errors(hosts: list[dict], settings: dict | None, node_hosts=None) -> list[str]:
    """Known node addresses lie inside cluster_node_cidr (when set) and outside the pod and service CIDRs; the
    addresses of ``node_hosts`` (default: every host) are of the pod CIDR's family (single-stack)."""
    settings = with_defaults(settings)
    networks = {}
    for name in ("cluster_node_cidr", "cluster_pod_cidr", "cluster_service_cidr"):
        network = None if settings[name] in (None, "") else parse_cidr(settings[name])[0]
        if network is not None:
            networks[name] = network
    errors = []
    for entry in hosts:
        ip = parse_ip(entry.get("address"))
        if ip is None:
            continue
        where = "%s %s" % (entry.get("address_source"), ip)
        pod = networks.get("cluster_pod_cidr")
        if (node_hosts is None or entry["host"] in node_hosts) and pod is not None and ip.version != pod.version:
            errors.append(
                "host %s: %s is IPv%d but cluster_pod_cidr %s is IPv%d (single-stack: nodes, pods and services in one "
                "family): set node_ip to the node's IPv%d address or use IPv%d cluster CIDRs"
                % (entry["host"], where, ip.version, settings["cluster_pod_cidr"], pod.version, pod.version,
                   ip.version)
            )
        node = networks.get("cluster_node_cidr")
        if node is not None and ip not in node:
            errors.append(
                "host %s: %s is outside cluster_node_cidr %s: set node_ip to its address in that network or "
                "change cluster_node_cidr" % (entry["host"], where, settings["cluster_node_cidr"])
            )
        for name in ("cluster_pod_cidr", "cluster_service_cidr"):
            network = networks.get(name)
            if network is not None and ip.version == network.version and ip in network:
                errors.append(
                    "host %s: %s is inside %s %s: move %s to a range the nodes do not use"
                    % (entry["host"], where, name, settings[name], name)
                )
    return errors


def inventory_errors(groups: dict, hosts: list[dict], settings: dict | None = None) -> list[str]:
    """Every check that needs only the inventory and the cluster variables (no connection to a host).

    ``groups`` maps group name to host names; ``hosts`` is a list from :func:`make_host`
    for every host in :data:`CLUSTER_GROUPS`.
    """
    node_hosts = set()
    for name in NODE_GROUPS:
        node_hosts.update(_members(groups, name))
    errors = []
    errors.extend(group_errors(groups))
    errors.extend(node_name_errors(hosts))
    errors.extend(address_errors(hosts))
    errors.extend(network_errors(settings, node_count=len(node_hosts)))
    errors.extend(node_network_errors(hosts, settings, node_hosts))
    errors.extend(endpoint_errors(groups, hosts, settings))
    errors.extend(version_errors(settings))
    return errors


def version_errors(settings: dict | None = None) -> list[str]:
    """kube_version must be a release of a minor in the version table, and containerd_version on a containerd line
    that minor's kubelet works with (``kube_versions.TABLE``)."""
    settings = with_defaults(settings)
    kube, containerd = settings["kube_version"], settings["containerd_version"]
    try:
        kube_versions.parse_version(kube)
        info = kube_versions.lookup(kube)
    except kube_versions.KubeVersionError as e:
        return ["kube_version: %s" % e]
    try:
        ok = kube_versions.containerd_supported(kube, containerd)
    except kube_versions.KubeVersionError as e:
        return ["containerd_version: %s" % e]
    if not ok:
        return [
            "containerd_version %s does not work with Kubernetes %s: use a containerd %s release"
            % (containerd, info.minor, " or ".join(v.rstrip(".") + ".x" for v in info.containerd_versions))
        ]
    return []
