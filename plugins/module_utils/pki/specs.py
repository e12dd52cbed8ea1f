# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Every certificate a cluster needs, as :class:`CertSpec` (what, where, for whom, signed by which CA).

Pure logic, no I/O and no ``cryptography``. File layout (defaults; the directories are settings)::

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

import posixpath
from dataclasses import dataclass

from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.model import (
    CA_COPY,
    CLIENT,
    ETCD_CA,
    FRONT_PROXY_CA,
    HEALTH_CLIENT_CN,
    KEY_MODE,
    KEYPAIR,
    KUBERNETES_CA,
    LEAF,
    PEER,
    PUBLIC_MODE,
    SERVER,
    SERVICE_ACCOUNT,
    InventoryView,
    PkiError,
    Settings,
    endpoint,
    endpoint_url,
    parse_ip,
    service_ip,
)

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
