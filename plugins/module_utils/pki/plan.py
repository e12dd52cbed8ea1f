# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Cluster PKI decisions: which certificates a cluster needs, and what to do about what is on disk.

Pure logic, no I/O and no ``cryptography``: the ``kube_pki`` action plugin reads the hosts, reduces what it
finds to :class:`CertFacts`/:class:`Observed` (with ``pki_crypto``), and asks :func:`plan` what to issue.

Three steps, each a pure function:

1. :func:`inventory_view` + :class:`Settings` -- the inventory conventions (groups ``etcd``, ``control_plane``,
   ``workers``; hostvars ``node_name``/``node_ip``/``ansible_host``) and the cluster/PKI variables, validated.
2. :func:`required_certificates` -- every file the cluster needs, as :class:`CertSpec` (what, where, for whom,
   signed by which CA).
3. :func:`plan` -- given what each host has, the :class:`Action` list with a reason per action.

File layout (defaults; the directories are settings)::

    /etc/kubernetes/pki/            control-plane and node certificates
        ca.crt ca.key [ca-chain.crt]                         cluster CA (key on control-plane hosts only)
        front-proxy-ca.crt front-proxy-ca.key [front-proxy-ca-chain.crt]
        sa.key sa.pub                                        service-account signing key pair
        apiserver.crt/.key  apiserver-kubelet-client.crt/.key  front-proxy-client.crt/.key
        apiserver-etcd-client.crt/.key                       (signed by the etcd CA)
        apiserver-health-client.crt/.key                     load-balancer health checks of /readyz (control-plane
                                                             and load-balancer hosts; every node in local mode)
        kubelet.crt/.key                                     kubelet serving certificate (every node)
    /etc/etcd/pki/                  etcd CA and member certificates
        ca.crt [ca.key on control-plane hosts] [ca-chain.crt]
        server.crt/.key peer.crt/.key healthcheck-client.crt/.key   (etcd members)
    /etc/kubernetes/                kubeconfigs with embedded certificates and keys
        admin.conf controller-manager.conf scheduler.conf    (control-plane hosts)
        kubelet.conf kube-proxy.conf                         (nodes)
"""

from __future__ import absolute_import, annotations, division, print_function

import ipaddress
import posixpath
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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


# --------------------------------------------------------------------------------------------------------------
# Certificate specs
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertSpec:
    """One thing to place on one host: a leaf certificate, a CA copy or the service-account key pair."""

    name: str  # e.g. "apiserver", "kubelet", "etcd-peer", "kubernetes-ca", "sa"
    host: str
    kind: str  # LEAF, CA_COPY, KEYPAIR
    issuer: str  # CA id that signs it (LEAF), or the CA placed (CA_COPY); "" for KEYPAIR
    profile: str = ""  # SERVER, CLIENT, PEER (LEAF only)
    common_name: str = ""
    organizations: tuple = ()
    dns_names: tuple = ()
    ip_addresses: tuple = ()
    cert_path: str | None = None  # LEAF with files, CA_COPY
    key_path: str | None = None  # LEAF with files, CA_COPY on control-plane hosts, KEYPAIR
    chain_path: str | None = None  # CA_COPY: where the issuers above an intermediate CA go (if any)
    public_key_path: str | None = None  # KEYPAIR
    kubeconfig_path: str | None = None  # LEAF embedded in a kubeconfig (no .crt/.key files)
    kubeconfig_server: str | None = None

    @property
    def id(self):
        return "%s@%s" % (self.name, self.host)

    @property
    def paths(self):
        return tuple(
            p for p in (self.cert_path, self.key_path, self.chain_path, self.public_key_path, self.kubeconfig_path) if p
        )

    @property
    def kubeconfig_user(self):
        return self.common_name

    def file_modes(self):
        """Expected mode of each file: private keys and kubeconfigs 0600, certificates and public keys 0644."""
        modes = {}
        for path in (self.cert_path, self.chain_path, self.public_key_path):
            if path:
                modes[path] = PUBLIC_MODE
        for path in (self.key_path, self.kubeconfig_path):
            if path:
                modes[path] = KEY_MODE
        return modes


def key_usage(profile: str, key_algorithm: str) -> frozenset[str]:
    """Key usage names for a leaf profile. keyEncipherment only for RSA server keys (RSA key transport)."""
    usages = {"digitalSignature"}
    if profile in (SERVER, PEER) and key_algorithm.startswith("rsa"):
        usages.add("keyEncipherment")
    return frozenset(usages)


def extended_key_usage(profile: str) -> frozenset[str]:
    return frozenset({SERVER: {"serverAuth"}, CLIENT: {"clientAuth"}, PEER: {"serverAuth", "clientAuth"}}[profile])


def _dedupe(values):
    out = []
    for value in values:
        if value not in out:
            out.append(value)
    return tuple(out)


def _split_sans(values):
    dns, ips = [], []
    for value in values:
        ip = parse_ip(value)
        if ip:
            ips.append(ip)
        else:
            dns.append(str(value).strip().lower())
    return _dedupe(dns), _dedupe(ips)


def apiserver_sans(view: InventoryView, settings: Settings) -> tuple[list[str], list[str]]:
    """(dns names, ip addresses) of the kube-apiserver serving certificate."""
    domain = settings.cluster_domain.strip(".")
    values = [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.%s" % domain,
        "localhost",
        service_ip(settings.service_cidr),
        "127.0.0.1",
    ]
    for node in view.control_plane:
        values.extend(node.dns_names)
        values.extend(node.ip_addresses)
    values.append(endpoint(view, settings)[0])
    values.extend(settings.apiserver_extra_sans)
    return _split_sans(values)


def _files(directory, stem):
    return posixpath.join(directory, stem + ".crt"), posixpath.join(directory, stem + ".key")


def _leaf(
    name, node, issuer, profile, cn, orgs=(), dns=(), ips=(), directory=None, stem=None, kubeconfig=None, server=None
):
    cert_path = key_path = None
    if directory:
        cert_path, key_path = _files(directory, stem or name)
    return CertSpec(
        name=name,
        host=node.host,
        kind=LEAF,
        issuer=issuer,
        profile=profile,
        common_name=cn,
        organizations=tuple(orgs),
        dns_names=tuple(dns),
        ip_addresses=tuple(ips),
        cert_path=cert_path,
        key_path=key_path,
        kubeconfig_path=kubeconfig,
        kubeconfig_server=server,
    )


def _ca_copy(ca_id, node, directory, stem, with_key):
    cert_path, key_path = _files(directory, stem)
    return CertSpec(
        name=ca_id,
        host=node.host,
        kind=CA_COPY,
        issuer=ca_id,
        cert_path=cert_path,
        key_path=key_path if with_key else None,
        chain_path=posixpath.join(directory, stem + "-chain.crt"),
    )


def _specs_for_node(node, view, settings, roles):
    pki, etcd_pki = settings.pki_dir, settings.etcd_pki_dir
    api_url = endpoint_url(view, settings)
    is_cp = "control_plane" in roles
    specs = []
    if is_cp or "node" in roles or "load_balancer" in roles:
        specs.append(_ca_copy(KUBERNETES_CA, node, pki, "ca", with_key=is_cp))
    if is_cp or "etcd" in roles:
        specs.append(_ca_copy(ETCD_CA, node, etcd_pki, "ca", with_key=is_cp))
    if is_cp:
        specs += _control_plane_specs(node, view, settings, api_url)
    if is_cp or "load_balancer" in roles or (settings.health_client_on_nodes and "node" in roles):
        # The load balancer's /readyz check: any authenticated user may read /readyz, /healthz, /livez and /version
        # (ClusterRole system:public-info-viewer), so no organisation -- the certificate grants nothing else.
        specs.append(
            _leaf("apiserver-health-client", node, KUBERNETES_CA, CLIENT, HEALTH_CLIENT_CN, directory=pki),
        )
    if "etcd" in roles:
        specs += _etcd_specs(node, settings)
    if "node" in roles:
        specs += _node_specs(node, settings, api_url)
    return specs


def _control_plane_specs(node, view, settings, api_url):
    """A control-plane host's own: the front-proxy CA and service-account key, the apiserver's certificates and the
    kubeconfigs of the controller manager, the scheduler and the admin (``api_url``: the API endpoint)."""
    pki, conf = settings.pki_dir, settings.kubeconfig_dir
    cp_url = settings.control_plane_server or api_url
    dns, ips = apiserver_sans(view, settings)
    return [
        _ca_copy(FRONT_PROXY_CA, node, pki, "front-proxy-ca", with_key=True),
        CertSpec(
            name=SERVICE_ACCOUNT,
            host=node.host,
            kind=KEYPAIR,
            issuer="",
            key_path=posixpath.join(pki, "sa.key"),
            public_key_path=posixpath.join(pki, "sa.pub"),
        ),
        _leaf("apiserver", node, KUBERNETES_CA, SERVER, "kube-apiserver", dns=dns, ips=ips, directory=pki),
        _leaf(
            "apiserver-kubelet-client",
            node,
            KUBERNETES_CA,
            CLIENT,
            "kube-apiserver-kubelet-client",  # no group: RBAC binds the user to system:kubelet-api-admin
            directory=pki,
        ),
        _leaf("front-proxy-client", node, FRONT_PROXY_CA, CLIENT, "front-proxy-client", directory=pki),
        _leaf("apiserver-etcd-client", node, ETCD_CA, CLIENT, "kube-apiserver-etcd-client", directory=pki),
        _leaf(
            "controller-manager",
            node,
            KUBERNETES_CA,
            CLIENT,
            "system:kube-controller-manager",
            kubeconfig=posixpath.join(conf, "controller-manager.conf"),
            server=cp_url,
        ),
        _leaf(
            "scheduler",
            node,
            KUBERNETES_CA,
            CLIENT,
            "system:kube-scheduler",
            kubeconfig=posixpath.join(conf, "scheduler.conf"),
            server=cp_url,
        ),
        _leaf(
            "admin",
            node,
            KUBERNETES_CA,
            CLIENT,
            "kubernetes-admin",
            orgs=["system:masters"],
            kubeconfig=posixpath.join(conf, "admin.conf"),
            server=api_url,
        ),
    ]


def _etcd_specs(node, settings):
    """An etcd member's server, peer and health-check client certificates."""
    etcd_pki = settings.etcd_pki_dir
    dns, ips = _split_sans(list(node.dns_names) + ["localhost"] + list(node.ip_addresses) + ["127.0.0.1"])
    return [
        # The etcd server certificate carries clientAuth too: etcd's gRPC gateway dials its own
        # client port with it when client-cert-auth is on.
        _leaf("etcd-server", node, ETCD_CA, PEER, node.name, dns=dns, ips=ips, directory=etcd_pki, stem="server"),
        _leaf("etcd-peer", node, ETCD_CA, PEER, node.name, dns=dns, ips=ips, directory=etcd_pki, stem="peer"),
        _leaf(
            "etcd-healthcheck-client",
            node,
            ETCD_CA,
            CLIENT,
            "kube-etcd-healthcheck-client",
            directory=etcd_pki,
            stem="healthcheck-client",
        ),
    ]


def _node_specs(node, settings, api_url):
    """A node's kubelet serving certificate and the kubeconfigs of the kubelet and kube-proxy (``api_url``: the API
    endpoint)."""
    pki, conf = settings.pki_dir, settings.kubeconfig_dir
    dns, ips = _split_sans(list(node.dns_names) + list(node.ip_addresses))
    return [
        _leaf(
            "kubelet",
            node,
            KUBERNETES_CA,
            SERVER,
            "system:node:%s" % node.name,
            orgs=["system:nodes"],
            dns=dns,
            ips=ips,
            directory=pki,
        ),
        _leaf(
            "kubelet-client",
            node,
            KUBERNETES_CA,
            CLIENT,
            "system:node:%s" % node.name,
            orgs=["system:nodes"],
            kubeconfig=posixpath.join(conf, "kubelet.conf"),
            server=api_url,
        ),
        _leaf(
            "kube-proxy",
            node,
            KUBERNETES_CA,
            CLIENT,
            "system:kube-proxy",
            kubeconfig=posixpath.join(conf, "kube-proxy.conf"),
            server=api_url,
        ),
    ]


def required_certificates(view: InventoryView, settings: Settings, host: str | None = None) -> list[CertSpec]:
    """Every :class:`CertSpec` the cluster needs, in a stable order; only ``host``'s when given."""
    roles = {}
    for group, members in (
        ("control_plane", view.control_plane),
        ("etcd", view.etcd),
        ("node", view.nodes),
        ("load_balancer", view.load_balancers),
    ):
        for node in members:
            roles.setdefault(node.host, set()).add(group)
    specs = []
    for node in view.all_nodes():
        if host is not None and node.host != host:
            continue
        specs.extend(_specs_for_node(node, view, settings, roles.get(node.host, set())))
    return specs


def leaf_names() -> tuple[str, ...]:
    """Names of the leaf certificates, for validating ``reissue``."""
    return (
        "apiserver",
        "apiserver-kubelet-client",
        "front-proxy-client",
        "apiserver-etcd-client",
        "controller-manager",
        "scheduler",
        "admin",
        "apiserver-health-client",
        "etcd-server",
        "etcd-peer",
        "etcd-healthcheck-client",
        "kubelet",
        "kubelet-client",
        "kube-proxy",
    )


def validate_reissue(names) -> tuple[str, ...]:
    """``reissue`` accepts leaf names or ``all``; CAs are never reissued here."""
    names = tuple(names or ())
    unknown = sorted(set(names) - set(leaf_names()) - {"all"})
    if unknown:
        raise PkiError(
            "reissue: unknown certificate name(s) %s; use 'all' or some of: %s (CAs are replaced only by "
            "state=ca with force_ca)" % (", ".join(unknown), ", ".join(leaf_names()))
        )
    return names


# --------------------------------------------------------------------------------------------------------------
# Plan
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertFacts:
    """The public facts of a certificate that decisions need (made by ``pki_crypto.cert_facts``)."""

    common_name: str
    organizations: tuple
    dns_names: tuple
    ip_addresses: tuple
    not_before: datetime
    not_after: datetime
    serial: int
    fingerprint: str  # SHA-256 of the DER certificate, colon-separated hex
    issuer: str  # RFC 4514
    subject: str  # RFC 4514
    key_usage: frozenset = frozenset()
    extended_key_usage: frozenset = frozenset()
    is_ca: bool = False
    key_algorithm: str = ""  # ecdsa-p256, rsa-2048, ... (see pki_crypto.key_algorithm)
    signed_by_issuer: bool | None = None  # verified against the expected CA; None when not checked


@dataclass(frozen=True)
class Observed:
    """What a host has for one spec (made by the action plugin from the files it read)."""

    cert: CertFacts | None = None  # the leaf (from its .crt file or its kubeconfig)
    key_matches: bool | None = None  # None: no private key found
    present: bool = False  # CA_COPY/KEYPAIR: all files exist
    content_current: bool = True  # files hold exactly what would be written from the current material
    permissions_ok: bool = True


@dataclass(frozen=True)
class Action:
    spec: CertSpec
    operation: str  # ISSUE, WRITE, PERMISSIONS
    reasons: tuple

    def as_dict(self):
        return {
            "id": self.spec.id,
            "name": self.spec.name,
            "host": self.spec.host,
            "operation": self.operation,
            "reasons": list(self.reasons),
            "paths": list(self.spec.paths),
        }


def _norm_names(values):
    return tuple(sorted({str(v).lower() for v in values}))


def _norm_ips(values):
    return tuple(sorted({parse_ip(v) or str(v) for v in values}))


def leaf_reasons(
    spec: CertSpec, observed: Observed, now: datetime, settings: Settings, ca_not_after=None, forced: bool = False
) -> tuple[str, ...]:
    """Why the leaf ``spec`` must be (re)issued given ``observed``; empty when it is fine."""
    cert = observed.cert
    if cert is None:
        return ("missing",)
    reasons = []
    if forced:
        reasons.append("forced")
    if observed.key_matches is None:
        reasons.append("key-missing")
    elif not observed.key_matches:
        reasons.append("key-mismatch")
    if cert.key_algorithm != settings.key_algorithm:
        reasons.append("key-algorithm-changed")
    if cert.signed_by_issuer is False:
        reasons.append("ca-changed")
    if cert.common_name != spec.common_name or sorted(cert.organizations) != sorted(spec.organizations):
        reasons.append("subject-changed")
    if _norm_names(cert.dns_names) != _norm_names(spec.dns_names) or _norm_ips(cert.ip_addresses) != _norm_ips(
        spec.ip_addresses
    ):
        reasons.append("san-changed")
    if (
        cert.is_ca
        or cert.key_usage != key_usage(spec.profile, settings.key_algorithm)
        or (cert.extended_key_usage != extended_key_usage(spec.profile))
    ):
        reasons.append("usage-changed")
    if cert.not_after - now <= settings.renew_before:
        # A leaf never outlives its CA: when the CA itself ends inside the window a new leaf would not last
        # longer, so reissuing would repeat on every run. The CA's expiry is reported separately.
        new_not_after = now + settings.leaf_validity
        if ca_not_after is not None:
            new_not_after = min(new_not_after, ca_not_after)
        if new_not_after > cert.not_after:
            reasons.append("expiring")
    return tuple(reasons)


def plan(
    specs: list[CertSpec],
    observed: dict[str, Observed],
    now: datetime,
    settings: Settings,
    ca_not_after=None,
    reissue=(),
) -> list[Action]:
    """What to do on the hosts.

    ``observed`` maps spec id to :class:`Observed` (missing key: nothing found). ``ca_not_after`` maps CA id to
    its expiry. ``reissue`` names leaves to reissue regardless (``all`` for every leaf). Returns the
    :class:`Action` list in spec order; an empty list means nothing to change.
    """
    ca_not_after = ca_not_after or {}
    reissue = set(validate_reissue(reissue))
    actions = []
    for spec in specs:
        obs = observed.get(spec.id) or Observed()
        if spec.kind == LEAF:
            forced = "all" in reissue or spec.name in reissue
            reasons = leaf_reasons(spec, obs, now, settings, ca_not_after.get(spec.issuer), forced)
            if reasons:
                actions.append(Action(spec, ISSUE, reasons))
                continue
        elif not obs.present:
            actions.append(Action(spec, WRITE, ("missing",)))
            continue
        if not obs.content_current:
            actions.append(Action(spec, WRITE, ("ca-changed",) if spec.kind == CA_COPY else ("content-changed",)))
        elif not obs.permissions_ok:
            actions.append(Action(spec, PERMISSIONS, ("permissions",)))
    return actions


def days_left(not_after: datetime, now: datetime) -> int:
    return (not_after - now).days


@dataclass
class Summary:
    """Counts for a result message."""

    issue: int = 0
    write: int = 0
    permissions: int = 0
    names: list = field(default_factory=list)

    @classmethod
    def of(cls, actions):
        summary = cls()
        for action in actions:
            setattr(summary, action.operation, getattr(summary, action.operation) + 1)
            summary.names.append(action.spec.name)
        return summary

    def message(self):
        if not (self.issue or self.write or self.permissions):
            return "PKI up to date"
        return "issue %d, write %d, fix permissions of %d: %s" % (
            self.issue,
            self.write,
            self.permissions,
            ", ".join(self.names),
        )
