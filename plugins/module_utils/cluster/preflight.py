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
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re

from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import load_balancer as lb_config
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import versions as kube_versions

try:
    import netaddr

    HAS_NETADDR = True
except ImportError:  # pragma: no cover - exercised only without netaddr
    HAS_NETADDR = False

CLUSTER_GROUPS = ("etcd", "control_plane", "workers", "load_balancers")
"""Inventory groups that make up a cluster; hosts elsewhere are not checked."""

NODE_GROUPS = ("control_plane", "workers")
"""Groups whose hosts register as Kubernetes nodes and get a pod subnet each."""

SERVICE_CIDR_MAX_HOST_BITS = 20
"""kube-apiserver refuses a service CIDR with more than 2**20 addresses (/12 IPv4, /108 IPv6)."""

NODE_CIDR_MAX_SUBNET_BITS = 16
"""kube-controller-manager refuses a node prefix more than 16 bits longer than the pod CIDR."""

KUBELET_MAX_PODS = 110
"""The kubelet's default maxPods (worker_kubelet_config_overrides.maxPods changes it)."""

LB_MODES = lb_config.MODES
LOCAL_ENDPOINT_PORT = lb_config.LOCAL_ENDPOINT_PORT
api_endpoint = lb_config.api_endpoint

DEFAULT_SETTINGS = {
    "cluster_pod_cidr": "10.244.0.0/16",
    "cluster_service_cidr": "10.96.0.0/12",
    "cluster_node_cidr": "",
    "cluster_node_pod_cidr_prefix": 24,
    "cluster_domain": "cluster.local",
    "preflight_service_cidr_max_prefix": 24,
    "preflight_min_cpus": {"control_plane": 2, "etcd": 1, "workers": 1, "load_balancers": 1},
    "preflight_min_memory_mb": {"control_plane": 1700, "etcd": 1000, "workers": 1000, "load_balancers": 256},
    "preflight_supported_os_families": ["Debian", "RedHat"],
    "kube_version": "1.37.0",
    "containerd_version": "2.1.4",
}
"""Same values as ``roles/preflight/defaults/main.yml``; used for keys a caller leaves out."""

OTHER_ROLE_SETTINGS = {
    "load_balancer_mode": "none",
    "cluster_api_endpoint": {},
    "control_plane_apiserver_port": 6443,
    "worker_kubelet_config_overrides": {},
}
"""Variables of other roles preflight checks (roles/preflight/vars/main.yml hands them over), with their defaults."""

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_RE = re.compile(r"^%s(\.%s)*$" % (_DNS1123_LABEL, _DNS1123_LABEL))
_DNS1123_SUBDOMAIN_MAX = 253
_DNS1123_LABEL_MAX = 63
# An explicit "/prefix" in canonical decimal: netaddr alone also takes netmasks,
# "+8", "08" and a missing prefix (read as a single host).
_CIDR_RE = re.compile(r"^[0-9A-Fa-f:.]+/(0|[1-9][0-9]{0,2})$")


def with_defaults(settings: dict | None) -> dict:
    """``settings`` completed from :data:`DEFAULT_SETTINGS`; the per-group minimum tables key by key.

    So ``preflight_min_cpus: {workers: 2}`` keeps the defaults of the other groups.
    """
    merged = dict(DEFAULT_SETTINGS, **OTHER_ROLE_SETTINGS)
    for key, value in (settings or {}).items():
        if key in ("preflight_min_cpus", "preflight_min_memory_mb") and isinstance(value, dict):
            value = dict(DEFAULT_SETTINGS[key], **value)
        merged[key] = value
    return merged


def _require_netaddr():
    if not HAS_NETADDR:
        raise RuntimeError("the kubesmith.cluster preflight checks need the Python library netaddr on the controller")


def _hosts_list(names):
    return ", ".join(sorted(names))


# --------------------------------------------------------------------------- parsing


def parse_ip(value) -> netaddr.IPAddress | None:
    """Return a ``netaddr.IPAddress`` for a plain IPv4/IPv6 address string, else ``None``.

    Strict: no short forms ("10.1"), no leading zeros, no integers, no whitespace.
    """
    _require_netaddr()
    if not isinstance(value, str) or not value or value != value.strip():
        return None
    try:
        return netaddr.IPAddress(value, flags=netaddr.INET_PTON)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None


def parse_cidr(value) -> tuple[netaddr.IPNetwork | None, str | None]:
    """Return ``(network, problem)`` for a CIDR string such as ``10.96.0.0/12``.

    ``network`` is a ``netaddr.IPNetwork`` or ``None``; ``problem`` is ``None`` or the end of a
    sentence saying what is wrong ("is not a CIDR ...", "has host bits set ..."). With host bits
    set, ``network`` is the masked network (what Kubernetes would use), so later checks still run.
    """
    _require_netaddr()
    if not isinstance(value, str) or not value.strip():
        return None, "is empty: set it to a network in CIDR form such as 10.96.0.0/12"
    if "," in value:
        return None, "lists several networks (dual-stack is not supported yet): use one CIDR"
    if not _CIDR_RE.match(value):
        return None, "is not a CIDR (address/prefix such as 10.96.0.0/12)"
    address, _, _prefix = value.partition("/")
    if parse_ip(address) is None:
        return None, "is not a CIDR: %s is not an IP address" % address
    try:
        network = netaddr.IPNetwork(value)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None, "is not a CIDR: the prefix is out of range for the address family"
    if network.ip != network.network:
        return network.cidr, "has host bits set: use %s" % network.cidr
    return network, None


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


def resolve_node_address(
    node_ip: str | None = None, ansible_host: str | None = None, facts: dict | None = None
) -> tuple[str | None, str | None]:
    """Return ``(address, source)`` following the inventory convention.

    ``node_ip`` when set (returned as given, even if invalid, so a check can name it),
    else ``ansible_host`` when it is an IP address, else the default IPv4 address from
    gathered facts. ``(None, None)`` when nothing is known yet (before facts).
    """
    if node_ip not in (None, ""):
        return str(node_ip), "node_ip"
    if ansible_host not in (None, "") and parse_ip(str(ansible_host)) is not None:
        return str(ansible_host), "ansible_host"
    default_ipv4 = (facts or {}).get("default_ipv4") or {}
    address = default_ipv4.get("address") if isinstance(default_ipv4, dict) else None
    if address:
        return str(address), "ansible_facts.default_ipv4"
    return None, None


def make_host(
    host: str,
    node_name: str | None = None,
    node_ip: str | None = None,
    ansible_host: str | None = None,
    facts: dict | None = None,
) -> dict:
    """Describe one inventory host the way the checks expect it."""
    address, source = resolve_node_address(node_ip, ansible_host, facts)
    return {
        "host": str(host),
        "node_name": str(host) if node_name in (None, "") else str(node_name),
        "address": address,
        "address_source": source,
        "ansible_host": ansible_host,
    }


# --------------------------------------------------------------------------- inventory checks


def _members(groups, name):
    members = (groups or {}).get(name) or []
    return list(dict.fromkeys(members))


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


def _as_int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.match(r"^[0-9]+$", value.strip()):
        return int(value.strip())
    return None


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
