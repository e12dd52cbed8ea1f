# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The PKI's vocabulary, its settings and the inventory view (pure logic, no I/O, no ``cryptography``).

- names: the CA ids, what a spec describes (``LEAF``, ``CA_COPY``, ``KEYPAIR``), leaf profiles, the operations of
  an action and the reasons in the order they are reported, file modes;
- :class:`Settings`: the cluster/PKI variables, validated;
- :func:`inventory_view`: the inventory conventions (groups ``etcd``, ``control_plane``, ``workers``; hostvars
  ``node_name``/``node_ip``/``ansible_host``) as an :class:`InventoryView`, and the API endpoint derived from it.
"""

from __future__ import absolute_import, annotations, division, print_function

import ipaddress
import posixpath
from dataclasses import dataclass
from datetime import timedelta

KUBERNETES_CA = "kubernetes-ca"
ETCD_CA = "etcd-ca"
FRONT_PROXY_CA = "front-proxy-ca"
CA_IDS = (KUBERNETES_CA, ETCD_CA, FRONT_PROXY_CA)
SERVICE_ACCOUNT = "sa"
HEALTH_CLIENT_CN = "kubesmith:apiserver-health"

CA_COMMON_NAMES = {
    KUBERNETES_CA: "kubernetes-ca",
    ETCD_CA: "etcd-ca",
    FRONT_PROXY_CA: "kubernetes-front-proxy-ca",
}

KEY_ALGORITHMS = ("ecdsa-p256", "rsa-2048", "rsa-4096")

# What a spec describes.
LEAF = "leaf"  # a certificate + key issued here, in .crt/.key files or embedded in a kubeconfig
CA_COPY = "ca"  # a CA certificate (and, on control-plane hosts, its key) placed on a host
KEYPAIR = "keypair"  # the service-account signing key pair

# Leaf profiles: key usage / extended key usage.
SERVER = "server"
CLIENT = "client"
PEER = "peer"  # etcd peer and etcd server: TLS server and client at once

# Operations of an Action.
ISSUE = "issue"  # new key + certificate (and kubeconfig)
WRITE = "write"  # rewrite files from material that is still valid (CA copies, kubeconfig, certificate chain)
PERMISSIONS = "permissions"  # content is right, mode/owner is not

# Reasons, in the order they are reported.
REASONS = (
    "missing",
    "forced",
    "key-missing",
    "key-mismatch",
    "key-algorithm-changed",
    "ca-changed",
    "subject-changed",
    "san-changed",
    "usage-changed",
    "expiring",
    "content-changed",
    "permissions",
)

KEY_MODE = "0600"
PUBLIC_MODE = "0644"

DEFAULT_SERVICE_CIDR = "10.96.0.0/12"


class PkiError(Exception):
    """A problem a person has to fix (inventory, variables, CA state); the message says what and how."""


# --------------------------------------------------------------------------------------------------------------
# Settings and inventory
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Cluster and PKI settings, already resolved from options/variables (see the ``kube_pki`` documentation)."""

    cluster_name: str = "kubernetes"
    cluster_domain: str = "cluster.local"
    service_cidr: str = DEFAULT_SERVICE_CIDR
    api_endpoint_host: str | None = None  # None: first control-plane address
    api_endpoint_port: int = 6443
    apiserver_extra_sans: tuple = ()
    key_algorithm: str = "ecdsa-p256"
    ca_validity_days: int = 3650
    leaf_validity_days: int = 365
    renew_before_days: int = 30
    pki_dir: str = "/etc/kubernetes/pki"
    etcd_pki_dir: str = "/etc/etcd/pki"
    kubeconfig_dir: str = "/etc/kubernetes"
    control_plane_server: str | None = "https://127.0.0.1:6443"  # None: the API endpoint
    node_groups: tuple = ("workers",)
    # load_balancer_mode local: haproxy runs on every node, so every node needs the health-check client certificate
    health_client_on_nodes: bool = False

    def __post_init__(self):
        if self.key_algorithm not in KEY_ALGORITHMS:
            raise PkiError("pki_key_algorithm is %r; use one of %s" % (self.key_algorithm, ", ".join(KEY_ALGORITHMS)))
        for name in ("ca_validity_days", "leaf_validity_days"):
            if getattr(self, name) < 1:
                raise PkiError("pki_%s must be at least 1 (got %s)" % (name, getattr(self, name)))
        if not 0 <= self.renew_before_days < self.leaf_validity_days:
            raise PkiError(
                "pki_renew_before_days (%s) must be >= 0 and smaller than pki_leaf_validity_days (%s), "
                "otherwise every run would reissue every certificate"
                % (self.renew_before_days, self.leaf_validity_days)
            )
        if self.leaf_validity_days > self.ca_validity_days:
            raise PkiError(
                "pki_leaf_validity_days (%s) is longer than pki_ca_validity_days (%s)"
                % (self.leaf_validity_days, self.ca_validity_days)
            )
        if not 0 < int(self.api_endpoint_port) < 65536:
            raise PkiError("cluster_api_endpoint.port must be a TCP port (got %r)" % (self.api_endpoint_port,))
        for name in ("pki_dir", "etcd_pki_dir", "kubeconfig_dir"):
            if not posixpath.isabs(getattr(self, name) or ""):
                raise PkiError("%s must be an absolute path (got %r)" % (name, getattr(self, name)))
        service_ip(self.service_cidr)  # validates
        for san in self.apiserver_extra_sans:
            if not isinstance(san, str) or not san.strip():
                raise PkiError("pki_apiserver_extra_sans must be a list of names and IP addresses (got %r)" % (san,))

    @property
    def leaf_validity(self):
        return timedelta(days=self.leaf_validity_days)

    @property
    def renew_before(self):
        return timedelta(days=self.renew_before_days)


@dataclass(frozen=True)
class Node:
    """One inventory host as the PKI sees it."""

    host: str  # inventory_hostname
    name: str  # node_name, default inventory_hostname: the Kubernetes node / etcd member name
    dns_names: tuple  # node_name, then inventory_hostname when different (IP-shaped names are left out)
    ip_addresses: tuple  # node_ip (str or list), else ansible_host when it is a non-loopback IP


@dataclass(frozen=True)
class InventoryView:
    """The groups that matter for the PKI, each a tuple of :class:`Node` in inventory order."""

    etcd: tuple
    control_plane: tuple
    nodes: tuple  # hosts that run a kubelet and kube-proxy (Settings.node_groups)
    load_balancers: tuple = ()

    @property
    def primary(self):
        """The primary control-plane host: where the CAs are created and read back from."""
        return self.control_plane[0]

    def all_nodes(self):
        seen, out = set(), []
        for node in self.control_plane + self.etcd + self.nodes + self.load_balancers:
            if node.host not in seen:
                seen.add(node.host)
                out.append(node)
        return tuple(out)


def parse_ip(value) -> str | None:
    """Return the normalised IP address text, or None when ``value`` is not an IP address."""
    try:
        return str(ipaddress.ip_address(str(value).strip().strip("[]")))
    except ValueError:
        return None


def _node(host, hostvars):
    name = hostvars.get("node_name") or host
    if not isinstance(name, str) or parse_ip(name) or not name.strip():
        raise PkiError("host %s: node_name must be a host name, not %r" % (host, name))
    dns = [name]
    if host != name and not parse_ip(host):
        dns.append(host)
    node_ip = hostvars.get("node_ip")
    ips = []
    if node_ip:
        for value in node_ip if isinstance(node_ip, (list, tuple)) else [node_ip]:
            ip = parse_ip(value)
            if ip is None:
                raise PkiError("host %s: node_ip %r is not an IP address" % (host, value))
            if ip not in ips:
                ips.append(ip)
    else:
        ip = parse_ip(hostvars.get("ansible_host") or "")
        if ip and not ipaddress.ip_address(ip).is_loopback:
            ips.append(ip)
    return Node(host=host, name=name, dns_names=tuple(dns), ip_addresses=tuple(ips))


def inventory_view(groups: dict, hostvars, node_groups: tuple[str, ...] = ("workers",)) -> InventoryView:
    """Build the :class:`InventoryView` from Ansible's ``groups`` and per-host variables.

    ``hostvars`` maps inventory_hostname to a dict holding (at most) ``node_name``, ``node_ip`` and ``ansible_host``.
    """
    cache = {}

    def nodes(group_names):
        out, seen = [], set()
        for group in group_names:
            for host in groups.get(group) or []:
                if host not in seen:
                    seen.add(host)
                    if host not in cache:
                        cache[host] = _node(host, hostvars.get(host) or {})
                    out.append(cache[host])
        return tuple(out)

    view = InventoryView(
        etcd=nodes(["etcd"]),
        control_plane=nodes(["control_plane"]),
        nodes=nodes(node_groups),
        load_balancers=nodes(["load_balancers"]),
    )
    if not view.control_plane:
        raise PkiError("the inventory has no host in group 'control_plane'; the cluster CA lives on its first host")
    if not view.etcd:
        raise PkiError("the inventory has no host in group 'etcd' (for stacked etcd, make control_plane its child)")
    by_name = {}
    for node in view.all_nodes():
        if node.name in by_name:
            raise PkiError(
                "hosts %s and %s both use node name %r; node names must be unique (set node_name)"
                % (by_name[node.name], node.host, node.name)
            )
        by_name[node.name] = node.host
    return view


def service_ip(service_cidr: str) -> str:
    """First usable address of the service CIDR: the ClusterIP of the ``kubernetes`` Service."""
    try:
        net = ipaddress.ip_network(str(service_cidr), strict=False)
    except ValueError:
        raise PkiError("cluster_service_cidr %r is not a network (e.g. 10.96.0.0/12)" % (service_cidr,)) from None
    if net.num_addresses < 4:
        raise PkiError("cluster_service_cidr %s is too small" % (service_cidr,))
    return str(net.network_address + 1)


def url_host(host: str) -> str:
    ip = parse_ip(host)
    return "[%s]" % ip if ip and ":" in ip else host


def endpoint(view: InventoryView, settings: Settings) -> tuple[str, int]:
    """(host, port) of the API endpoint: ``cluster_api_endpoint`` or the primary control-plane address."""
    host = settings.api_endpoint_host
    if not host:
        primary = view.primary
        host = primary.ip_addresses[0] if primary.ip_addresses else primary.name
    return host, int(settings.api_endpoint_port)


def endpoint_url(view: InventoryView, settings: Settings) -> str:
    host, port = endpoint(view, settings)
    return "https://%s:%d" % (url_host(host), port)
