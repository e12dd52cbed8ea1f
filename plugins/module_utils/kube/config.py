


# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Kubernetes component settings: the documented settings, their defaults and validation, and the flag builder.

Pure functions, standard library only, no I/O. Every version difference comes from
``kube_versions.TABLE``; nothing here compares version numbers. The renderers live next to this module and read
their settings through it; templates use them through the filters in ``plugins/filter/kube.py`` and write the
results with ``to_nice_yaml`` (config objects) or one flag per line in a systemd unit (flag lists).

Public interface (``version`` is any string :func:`kube_versions.lookup` accepts: ``v1.20.2``,
``1.20.2+kubesmith.1``, ``1.35``; ``settings`` is the plain dict documented below)::

    kube/control_plane.py:
    apiserver_args(version, settings)            -> ["--flag=value", ...]   kube-apiserver
    authentication_config(version, settings)     -> dict | None             AuthenticationConfiguration file
    controller_manager_args(version, settings)   -> [...]                   kube-controller-manager
    scheduler_config(version, settings)          -> dict                    KubeSchedulerConfiguration
    scheduler_args(version, settings)            -> [...]                   kube-scheduler
    encryption_config(keys, provider="secretbox", resources=("secrets",), identity_fallback=True, version=None)
                                                 -> dict                    EncryptionConfiguration
    audit_policy(version=None)                   -> dict                    audit Policy
    kube/node_components.py:
    kubelet_config(version, settings)            -> dict                    KubeletConfiguration
    kubelet_args(version, settings)              -> [...]                   kubelet
    kube_proxy_config(version, settings)         -> dict                    KubeProxyConfiguration
    kube_proxy_args(version, settings)           -> [...]                   kube-proxy
    kube/config.py (this module):
    systemd_exec_args(args)                      -> str                     flags joined for ExecStart=
    config_files(settings)                       -> dict                    where each config file goes
    tls_cipher_suites(value)                     -> list                    the checked TLS 1.2 suites

Errors are :class:`KubeConfigError` (a ``ValueError``) with a message that names the setting to fix; an
unsupported version raises ``kube_versions.KubeVersionError``.

Settings (all optional unless marked *required for*; unknown keys are refused, so typos fail loudly)
----------------------------------------------------------------------------------------------------
Cluster:
  ``cluster_name`` ("kubernetes"), ``cluster_domain`` ("cluster.local"),
  ``service_cidr`` ("10.96.0.0/12"), ``pod_cidr`` ("10.244.0.0/16"), ``node_cidr_mask`` (24: each node's pod
  CIDR prefix length, allocated by kube-controller-manager), ``cluster_dns_ip`` (default: the 10th address of
  ``service_cidr``), ``feature_gates`` ({}: name -> bool, given to every component).
Paths (layout of ``plugins/module_utils/pki/specs.py``):
  ``pki_dir`` ("/etc/kubernetes/pki": ca.crt/.key, front-proxy-ca.crt, sa.key/.pub, apiserver.crt,
  apiserver-kubelet-client.crt, front-proxy-client.crt, apiserver-etcd-client.crt, kubelet.crt),
  ``etcd_pki_dir`` ("/etc/etcd/pki": ca.crt), ``kubeconfig_dir`` ("/etc/kubernetes": controller-manager.conf,
  scheduler.conf, kubelet.conf, kube-proxy.conf), ``config_dir`` ("/etc/kubernetes": where the rendered files
  go; see :func:`config_files` for the names; each ``*_file`` key below overrides one).
TLS of every serving component (apiserver, controller-manager, scheduler, kubelet):
  ``tls_cipher_suites`` (None: :data:`TLS_CIPHER_SUITES`, ECDHE with AES-GCM or ChaCha20-Poly1305 only;
  ``[]``: the Go runtime's default list, which still offers CBC and static-RSA suites; or a list of names).
kube-apiserver:
  ``advertise_address`` (*required for* apiserver_args: this control-plane host's address, not loopback),
  ``etcd_servers`` (*required for* apiserver_args: list -- or comma-separated string -- of https:// client
  URLs, never a load balancer),
  ``apiserver_bind_address`` ("0.0.0.0"), ``apiserver_port`` (6443),
  ``service_account_issuer`` ("https://kubernetes.default.svc.<cluster_domain>"),
  ``service_node_port_range`` (None: upstream default 30000-32767),
  ``admission_plugins`` (["NodeRestriction"]: enabled on top of the upstream default set),
  ``allow_privileged`` (true: CNI and CSI DaemonSets need privileged pods),
  ``enable_aggregator_routing`` (true: the apiserver reaches aggregated APIs such as metrics-server at pod
  endpoints; needed because control-plane hosts need not run kube-proxy),
  ``kubelet_certificate_authority`` (true: verify kubelet serving certificates against ca.crt),
  ``apiserver_anonymous_health`` (false; see *Anonymous access* below),
  ``encryption_enabled`` (true), ``encryption_config_file``, ``audit_enabled`` (true), ``audit_policy_file``,
  ``audit_log_path`` ("/var/log/kubernetes/audit/audit.log"), ``audit_log_maxage`` (30 days),
  ``audit_log_maxbackup`` (10 files), ``audit_log_maxsize`` (100 MB), ``authentication_config_file``,
  ``apiserver_extra_args`` ({}).
kube-controller-manager:
  ``cluster_signing_duration`` (None: upstream default 1 year; e.g. "8760h"),
  ``controller_manager_extra_args`` ({}).
kube-scheduler:
  ``scheduler_config_file``, ``scheduler_config_overrides`` ({}: deep-merged into the config object),
  ``scheduler_extra_args`` ({}).
kubelet:
  ``node_name`` (*required for* kubelet and kube-proxy: the Node object name, as in the kubelet certificate),
  ``node_ip`` (*required for* kubelet: the node's InternalIP, never loopback -- kubelet 1.20 refuses it and
  logs/exec/port-forward then fail), ``cgroup_driver`` ("systemd"; must match containerd's ``SystemdCgroup``),
  ``cri_socket`` ("unix:///run/containerd/containerd.sock"), ``resolv_conf`` ("/etc/resolv.conf"),
  ``fail_swap_on`` (true), ``protect_kernel_defaults`` (true: the kubelet refuses to start when the kernel
  tunables it expects differ, instead of changing them itself; the node role sets them), ``fail_cgroup_v1``
  (None: the version's default; false lets 1.35+ run on a cgroup v1 host; ignored on versions without the field),
  ``node_labels`` ({}: --node-labels; labels under kubernetes.io/k8s.io are refused unless the kubelet may set
  them itself -- ``node.kubernetes.io/``, ``kubelet.kubernetes.io/`` and a few well-known keys;
  ``node-role.kubernetes.io/*`` and the rest go through the API),
  ``node_taints`` ([]: "key=value:Effect" strings or {key, value, effect} dicts),
  ``kubelet_config_file``, ``kubelet_root_dir`` (None: /var/lib/kubelet),
  ``kubelet_config_overrides`` ({}: deep-merged; any upstream KubeletConfiguration field),
  ``kubelet_extra_args`` ({}).
kube-proxy:
  ``kube_proxy_mode`` ("iptables"), ``conntrack_max_per_core`` (None: upstream default; 0 leaves the host's
  nf_conntrack_max alone, which containers need), ``kube_proxy_config_file``,
  ``kube_proxy_config_overrides`` ({}), ``kube_proxy_extra_args`` ({}).

``*_extra_args`` dicts map a flag name (with or without ``--``) to a value: a string/number, a bool (rendered
true/false), a list (joined with ","), or None to drop a flag the renderer would emit. A flag the renderer
already emits is replaced in place; new flags are appended in name order. A flag that does not exist in the
version (``kube_versions.REMOVED_SINCE_1_20``) is refused.

Security decisions (what is always rendered)
--------------------------------------------
* kube-apiserver: secure port only (``--insecure-port=0`` on 1.20, where the flag still exists),
  ``--authorization-mode=Node,RBAC``, ``NodeRestriction``, ``--profiling=false``, TLS 1.2+, client
  TLS 1.2 suites limited to ``tls_cipher_suites``, client
  certificates for etcd (``apiserver-etcd-client``) and kubelets (``apiserver-kubelet-client``), kubelet
  serving certificates verified, front-proxy (aggregation) flags, service-account issuer and key files,
  encryption at rest (``--encryption-provider-config``, reloaded without restart where the version can) and
  an audit policy with log rotation flags.
* Anonymous access: ``--anonymous-auth=false`` by default on every version. kubeadm leaves anonymous auth on
  so load balancers can probe ``/readyz`` without credentials; we do not, because the cluster must refuse
  anonymous requests. Load-balancer health checks therefore present a client certificate (any certificate
  signed by the cluster CA may read ``/readyz``, ``/livez``, ``/healthz``: ``system:public-info-viewer``).
  With ``apiserver_anonymous_health: true`` on versions that have AuthenticationConfiguration anonymous
  conditions (1.35+), :func:`authentication_config` allows anonymous requests to those three paths only and
  ``--authentication-config`` replaces ``--anonymous-auth``; on 1.20 the setting is refused.
* kube-controller-manager / kube-scheduler: ``--bind-address=127.0.0.1`` (secure ports 10257/10259 on
  loopback only; ``--port=0`` on 1.20 closes the insecure ports), leader election on, own kubeconfigs for
  client, authentication and authorization, ``--use-service-account-credentials``, cluster signing with the
  cluster CA, node CIDR allocation from ``pod_cidr``/``node_cidr_mask``, profiling off, TLS 1.2+ with
  ``tls_cipher_suites``. kube-scheduler 1.20
  runs from flags, not from its config file, because a 1.20 config file reopens the insecure port 10251.
* kubelet: anonymous auth off, webhook authentication and authorization, client CA ca.crt, serving
  certificate kubelet.crt/.key from kube_pki, read-only port 0, healthz on 127.0.0.1, TLS 1.2+ with
  ``tls_cipher_suites``, ``protectKernelDefaults``.
  ``rotateCertificates: false`` and ``serverTLSBootstrap: false``: kube_pki issues and renews the kubelet's
  client and serving certificates (``renew_certs.yml``), so there is no CSR approval flow to secure.
* kube-proxy: iptables mode (IPVS is not available on the test hosts), ``clusterCIDR`` = ``pod_cidr``,
  metrics and healthz on 127.0.0.1.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import ipaddress
import posixpath
import re
from typing import Any, Dict, Optional


class KubeConfigError(ValueError):
    """Settings that cannot be rendered; the message names the setting and what to do."""


DEFAULTS = {
    "cluster_name": "kubernetes",
    "cluster_domain": "cluster.local",
    "service_cidr": "10.96.0.0/12",
    "pod_cidr": "10.244.0.0/16",
    "node_cidr_mask": 24,
    "cluster_dns_ip": None,
    "feature_gates": {},
    "pki_dir": "/etc/kubernetes/pki",
    "etcd_pki_dir": "/etc/etcd/pki",
    "kubeconfig_dir": "/etc/kubernetes",
    "config_dir": "/etc/kubernetes",
    # TLS 1.2 cipher suites of every serving component (apiserver, controller-manager, scheduler, kubelet);
    # None: TLS_CIPHER_SUITES, []: the Go runtime's own list
    "tls_cipher_suites": None,
    # kube-apiserver
    "advertise_address": None,
    "etcd_servers": None,
    "apiserver_bind_address": "0.0.0.0",  # noqa: S104 - the apiserver serves every interface (TLS, authn)
    "apiserver_port": 6443,
    "service_account_issuer": None,
    "service_node_port_range": None,
    "admission_plugins": ["NodeRestriction"],
    "allow_privileged": True,
    "enable_aggregator_routing": True,
    "kubelet_certificate_authority": True,
    "apiserver_anonymous_health": False,
    "encryption_enabled": True,
    "encryption_config_file": None,
    "audit_enabled": True,
    "audit_policy_file": None,
    "audit_log_path": "/var/log/kubernetes/audit/audit.log",
    "audit_log_maxage": 30,
    "audit_log_maxbackup": 10,
    "audit_log_maxsize": 100,
    "authentication_config_file": None,
    "apiserver_extra_args": {},
    # kube-controller-manager
    "cluster_signing_duration": None,
    "controller_manager_extra_args": {},
    # kube-scheduler
    "scheduler_config_file": None,
    "scheduler_config_overrides": {},
    "scheduler_extra_args": {},
    # kubelet
    "node_name": None,
    "node_ip": None,
    "cgroup_driver": "systemd",
    "cri_socket": "unix:///run/containerd/containerd.sock",
    "resolv_conf": "/etc/resolv.conf",
    "fail_swap_on": True,
    "fail_cgroup_v1": None,
    "protect_kernel_defaults": True,
    "node_labels": {},
    "node_taints": [],
    "kubelet_config_file": None,
    "kubelet_root_dir": None,
    "kubelet_config_overrides": {},
    "kubelet_extra_args": {},
    # kube-proxy
    "kube_proxy_mode": "iptables",
    "conntrack_max_per_core": None,
    "kube_proxy_config_file": None,
    "kube_proxy_config_overrides": {},
    "kube_proxy_extra_args": {},
}

_FILE_NAMES = {
    "encryption_config_file": "encryption-config.yaml",
    "audit_policy_file": "audit-policy.yaml",
    "authentication_config_file": "authentication-config.yaml",
    "scheduler_config_file": "kube-scheduler.yaml",
    "kubelet_config_file": "kubelet-config.yaml",
    "kube_proxy_config_file": "kube-proxy.yaml",
}

_BOOLEANS = (
    "allow_privileged",
    "enable_aggregator_routing",
    "kubelet_certificate_authority",
    "apiserver_anonymous_health",
    "encryption_enabled",
    "audit_enabled",
    "fail_swap_on",
    "fail_cgroup_v1",
    "protect_kernel_defaults",
)

CGROUP_DRIVERS = ("systemd", "cgroupfs")
KUBE_PROXY_MODES = ("iptables", "ipvs", "nftables")
# The TLS 1.2 suites every serving component offers by default (TLS 1.3 is always on and has no knob): ECDHE key
# exchange with an AEAD cipher, nothing else, so TLS 1.0/1.1, static-RSA key exchange and CBC modes cannot be
# negotiated. The names are ones that Kubernetes 1.20+ and etcd 3.4+ all accept (the etcd role uses this list too).
TLS_CIPHER_SUITES = (
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
)
_CIPHER_SUITE_RE = re.compile(r"^TLS_[A-Z0-9_]+$")


# --------------------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------------------


def _settings(settings: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """Defaults + ``settings``, validated and with derived values filled in."""
    s = _merged_settings(settings)
    _settings_paths(s)
    _settings_networks(s)
    _settings_cluster_domain(s)
    _settings_choices(s)
    s["tls_cipher_suites"] = tls_cipher_suites(s["tls_cipher_suites"])
    for key in (k for k in DEFAULTS if k.endswith(("_extra_args", "_overrides")) or k == "node_labels"):
        if not isinstance(s[key], dict):
            raise KubeConfigError("%s must be a dict (got %r)" % (key, s[key]))
    return s


def _merged_settings(settings: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """A deep copy of :data:`DEFAULTS` updated with a deep copy of ``settings`` (a None value keeps the default);
    refuses anything but a dict (or None) and unknown keys."""
    if settings is None:
        settings = {}
    if not isinstance(settings, dict):
        raise KubeConfigError("settings must be a dict (got %s)" % type(settings).__name__)
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise KubeConfigError(
            "unknown setting(s) %s; the settings keys are documented in plugins/module_utils/kube/config.py"
            % ", ".join(unknown)
        )
    s = copy.deepcopy(DEFAULTS)
    s.update({k: copy.deepcopy(v) for k, v in settings.items() if v is not None})  # None: the default
    return s


def _absolute_path(s: Dict[str, Any], key: str) -> None:
    if not isinstance(s[key], str) or not posixpath.isabs(s[key]):
        raise KubeConfigError("%s must be an absolute path (got %r)" % (key, s[key]))


def _settings_paths(s: Dict[str, Any]) -> None:
    """The directories must be absolute; each ``*_file`` is absolute too, or ``config_dir``/its default name."""
    for key in ("pki_dir", "etcd_pki_dir", "kubeconfig_dir", "config_dir"):
        _absolute_path(s, key)
    for key, name in _FILE_NAMES.items():
        if s[key] is None:
            s[key] = posixpath.join(s["config_dir"], name)
        else:
            _absolute_path(s, key)


def _settings_networks(s: Dict[str, Any]) -> None:
    """``service_cidr`` and ``pod_cidr`` of one IP family and disjoint, ``node_cidr_mask`` (made an int) inside
    ``pod_cidr``, ``cluster_dns_ip`` inside ``service_cidr`` (default: its 10th address)."""
    service = _network("service_cidr", s["service_cidr"])
    pod = _network("pod_cidr", s["pod_cidr"])
    if service.version != pod.version:
        raise KubeConfigError("service_cidr %s and pod_cidr %s must be the same IP family" % (service, pod))
    if service.overlaps(pod):
        raise KubeConfigError("service_cidr %s and pod_cidr %s overlap: pick disjoint ranges" % (service, pod))
    mask = _int("node_cidr_mask", s["node_cidr_mask"])
    if not pod.prefixlen < mask <= pod.max_prefixlen:
        raise KubeConfigError(
            "node_cidr_mask %s must be longer than pod_cidr's prefix (%s) and at most %s"
            % (mask, pod.prefixlen, pod.max_prefixlen)
        )
    s["node_cidr_mask"] = mask
    if s["cluster_dns_ip"] is None:
        s["cluster_dns_ip"] = str(service.network_address + 10)
    elif _ip("cluster_dns_ip", s["cluster_dns_ip"]) not in service:
        raise KubeConfigError("cluster_dns_ip %s is outside service_cidr %s" % (s["cluster_dns_ip"], service))


def _settings_cluster_domain(s: Dict[str, Any]) -> None:
    """``cluster_domain`` must be a DNS domain; ``service_account_issuer`` defaults to the in-cluster API URL."""
    if not isinstance(s["cluster_domain"], str) or not re.match(
        r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", s["cluster_domain"]
    ):
        raise KubeConfigError("cluster_domain %r is not a DNS domain such as cluster.local" % (s["cluster_domain"],))
    if s["service_account_issuer"] is None:
        s["service_account_issuer"] = "https://kubernetes.default.svc.%s" % s["cluster_domain"]


def _settings_choices(s: Dict[str, Any]) -> None:
    """``cgroup_driver`` and ``kube_proxy_mode`` from their lists, ``feature_gates`` name -> bool, the
    :data:`_BOOLEANS` true, false (or None)."""
    if s["cgroup_driver"] not in CGROUP_DRIVERS:
        raise KubeConfigError(
            "cgroup_driver must be one of %s (got %r)" % (", ".join(CGROUP_DRIVERS), s["cgroup_driver"])
        )
    if s["kube_proxy_mode"] not in KUBE_PROXY_MODES:
        raise KubeConfigError(
            "kube_proxy_mode must be one of %s (got %r)" % (", ".join(KUBE_PROXY_MODES), s["kube_proxy_mode"])
        )
    if not isinstance(s["feature_gates"], dict) or not all(isinstance(v, bool) for v in s["feature_gates"].values()):
        raise KubeConfigError("feature_gates must map gate names to true/false (got %r)" % (s["feature_gates"],))
    for key in _BOOLEANS:
        if s[key] is not None and not isinstance(s[key], bool):
            raise KubeConfigError("%s must be true or false (got %r)" % (key, s[key]))


def tls_cipher_suites(value):
    """The cipher-suite list a component serves with: ``None`` gives :data:`TLS_CIPHER_SUITES`, a list is checked
    (IANA names such as TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256) and returned, ``[]`` leaves the choice to Go."""
    if value is None:
        return list(TLS_CIPHER_SUITES)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and _CIPHER_SUITE_RE.match(v) for v in value):
        raise KubeConfigError(
            "tls_cipher_suites must be a list of cipher suite names such as TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 "
            "(got %r)" % (value,)
        )
    if len(set(value)) != len(value):
        raise KubeConfigError("tls_cipher_suites lists a suite twice (got %r)" % (list(value),))
    return list(value)


def _serving_tls(f, s):
    """TLS 1.2 at least, and the configured TLS 1.2 suites, on a component's secure port."""
    f.add("tls-min-version", "VersionTLS12")
    if s["tls_cipher_suites"]:
        f.add("tls-cipher-suites", s["tls_cipher_suites"])


def _network(name, value):
    try:
        return ipaddress.ip_network(str(value).strip(), strict=True)
    except ValueError as e:
        raise KubeConfigError(
            "%s %r is not a network in CIDR form such as 10.96.0.0/12 (%s)" % (name, value, e)
        ) from None


def _ip(name, value):
    try:
        return ipaddress.ip_address(str(value).strip().strip("[]"))
    except ValueError:
        raise KubeConfigError("%s %r is not an IP address" % (name, value)) from None


def _int(name, value):
    if isinstance(value, bool):
        raise KubeConfigError("%s must be a whole number (got %r)" % (name, value))
    try:
        return int(value)
    except (TypeError, ValueError):
        raise KubeConfigError("%s must be a whole number (got %r)" % (name, value)) from None


def _required(s, key, component):
    if s[key] in (None, "", []):
        raise KubeConfigError("%s is required to render %s" % (key, component))
    return s[key]


def _routable_ip(s, key, component, why):
    ip = _ip(key, _required(s, key, component))
    if ip.is_loopback or ip.is_unspecified:
        raise KubeConfigError("%s %s cannot be used for %s: %s" % (key, ip, component, why))
    return str(ip)


def config_files(settings=None):
    """Where each rendered configuration file goes (after ``config_dir`` and the ``*_file`` overrides)."""
    s = _settings(settings)
    return {key: s[key] for key in _FILE_NAMES}


# --------------------------------------------------------------------------------------------------------------
# Flag lists
# --------------------------------------------------------------------------------------------------------------


def _flag_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_flag_value(v) for v in value)
    return str(value)


def _feature_gates(gates):
    return ",".join("%s=%s" % (name, _flag_value(gates[name])) for name in sorted(gates))


class _Flags:
    """An ordered set of --name=value pairs."""

    def __init__(self, component, info):
        self.component = component
        self.info = info
        self.items = []

    def add(self, name, value):
        self.items.append((name, _flag_value(value)))

    def extend(self, extra, setting):
        removed = set(self.info.removed_flags.get(self.component, ()))
        known = [name for name, _ in self.items]
        appended = {}
        for raw, value in extra.items():
            name = str(raw).lstrip("-")
            if not name or "=" in name or " " in name:
                raise KubeConfigError("%s: %r is not a flag name" % (setting, raw))
            if "--" + name in removed:
                raise KubeConfigError(
                    "%s: --%s does not exist in %s %s; remove it" % (setting, name, self.component, self.info.minor)
                )
            if name in known:
                if value is None:
                    self.items = [(n, v) for n, v in self.items if n != name]
                else:
                    self.items = [(n, _flag_value(value) if n == name else v) for n, v in self.items]
            elif value is not None:
                appended[name] = _flag_value(value)
        self.items += sorted(appended.items())

    def render(self):
        return ["--%s=%s" % (name, value) for name, value in self.items]


def _join(*parts):
    return posixpath.join(*parts)


def _merge(base, overrides):
    """Deep-merge ``overrides`` into a copy of ``base`` (dicts merge, everything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _check_api_version(obj, expected, setting):
    if obj.get("apiVersion") != expected:
        raise KubeConfigError(
            "%s sets apiVersion %r, but this Kubernetes version reads %r: drop it from the overrides"
            % (setting, obj.get("apiVersion"), expected)
        )


# --------------------------------------------------------------------------------------------------------------
# systemd
# --------------------------------------------------------------------------------------------------------------

_SAFE_ARG_RE = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+$")


def systemd_exec_args(args, indent="    "):
    """Join flags for a systemd ``ExecStart=`` line: one per line with `` \\`` continuations, each quoted when
    it holds anything but plain characters (``%`` is doubled: systemd expands specifiers)."""
    out = []
    for arg in args:
        text = str(arg).replace("%", "%%")
        if not _SAFE_ARG_RE.match(text):
            text = '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')
        out.append(text)
    return (" \\\n" + indent).join(out)
