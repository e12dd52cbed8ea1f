# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Render the control-plane components' flags and configuration objects for a given version.

kube-apiserver (with its AuthenticationConfiguration, EncryptionConfiguration and audit Policy),
kube-controller-manager and kube-scheduler. Pure functions, standard library only, no I/O; the settings, their
defaults and the security decisions are documented in ``kube/config.py``, which also holds the flag builder.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import re

from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import versions as kube_versions
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube.config import (
    KubeConfigError,
    _check_api_version,
    _feature_gates,
    _Flags,
    _int,
    _ip,
    _join,
    _merge,
    _network,
    _required,
    _routable_ip,
    _serving_tls,
    _settings,
)

HEALTH_PATHS = ("/livez", "/readyz", "/healthz")
ENCRYPTION_PROVIDERS = {"secretbox": (32,), "aescbc": (16, 24, 32), "aesgcm": (16, 24, 32)}

# Front-proxy (aggregation layer) request headers: the values every aggregated API server expects.
_REQUESTHEADER = (
    ("requestheader-allowed-names", "front-proxy-client"),
    ("requestheader-extra-headers-prefix", "X-Remote-Extra-"),
    ("requestheader-group-headers", "X-Remote-Group"),
    ("requestheader-username-headers", "X-Remote-User"),
)


def apiserver_args(version, settings):
    """kube-apiserver flags, in a stable order. Requires ``advertise_address`` and ``etcd_servers``."""
    info = kube_versions.lookup(version)
    s = _settings(settings)
    pki, etcd_pki = s["pki_dir"], s["etcd_pki_dir"]
    advertise = _routable_ip(
        s, "advertise_address", "kube-apiserver", "it is published as the kubernetes Service endpoint"
    )
    etcd = _etcd_servers(_required(s, "etcd_servers", "kube-apiserver"))
    f = _Flags("kube-apiserver", info)
    f.add("advertise-address", advertise)
    f.add("bind-address", str(_ip("apiserver_bind_address", s["apiserver_bind_address"])))
    f.add("secure-port", _port("apiserver_port", s["apiserver_port"]))
    if info.apiserver_insecure_port_flag:
        f.add("insecure-port", 0)
    f.add("allow-privileged", bool(s["allow_privileged"]))
    f.add("authorization-mode", "Node,RBAC")
    plugins = list(s["admission_plugins"])
    if "NodeRestriction" not in plugins:
        raise KubeConfigError("admission_plugins must keep NodeRestriction (kubelets may only change their own Node)")
    f.add("enable-admission-plugins", plugins)
    if _anonymous_health(info, s):
        f.add("authentication-config", s["authentication_config_file"])  # anonymous: health paths only
    else:
        f.add("anonymous-auth", False)
    f.add("client-ca-file", _join(pki, "ca.crt"))
    f.add("tls-cert-file", _join(pki, "apiserver.crt"))
    f.add("tls-private-key-file", _join(pki, "apiserver.key"))
    _serving_tls(f, s)
    f.add("kubelet-client-certificate", _join(pki, "apiserver-kubelet-client.crt"))
    f.add("kubelet-client-key", _join(pki, "apiserver-kubelet-client.key"))
    if s["kubelet_certificate_authority"]:
        f.add("kubelet-certificate-authority", _join(pki, "ca.crt"))
    f.add("kubelet-preferred-address-types", "InternalIP,Hostname")
    f.add("etcd-servers", etcd)
    f.add("etcd-cafile", _join(etcd_pki, "ca.crt"))
    f.add("etcd-certfile", _join(pki, "apiserver-etcd-client.crt"))
    f.add("etcd-keyfile", _join(pki, "apiserver-etcd-client.key"))
    f.add("service-cluster-ip-range", str(_network("service_cidr", s["service_cidr"])))
    if s["service_node_port_range"]:
        f.add("service-node-port-range", s["service_node_port_range"])
    f.add("service-account-issuer", s["service_account_issuer"])
    f.add("service-account-key-file", _join(pki, "sa.pub"))
    f.add("service-account-signing-key-file", _join(pki, "sa.key"))
    f.add("requestheader-client-ca-file", _join(pki, "front-proxy-ca.crt"))
    for name, value in _REQUESTHEADER:
        f.add(name, value)
    f.add("proxy-client-cert-file", _join(pki, "front-proxy-client.crt"))
    f.add("proxy-client-key-file", _join(pki, "front-proxy-client.key"))
    if s["enable_aggregator_routing"]:
        f.add("enable-aggregator-routing", True)
    if s["encryption_enabled"]:
        f.add("encryption-provider-config", s["encryption_config_file"])
        if info.encryption_config_automatic_reload:
            f.add("encryption-provider-config-automatic-reload", True)
    if s["audit_enabled"]:
        f.add("audit-policy-file", s["audit_policy_file"])
        f.add("audit-log-path", s["audit_log_path"])
        for key in ("audit_log_maxage", "audit_log_maxbackup", "audit_log_maxsize"):
            f.add(key.replace("_", "-"), _int(key, s[key]))
    f.add("profiling", False)
    if s["feature_gates"]:
        f.add("feature-gates", _feature_gates(s["feature_gates"]))
    f.extend(s["apiserver_extra_args"], "apiserver_extra_args")
    return f.render()


def _anonymous_health(info, s):
    if not s["apiserver_anonymous_health"]:
        return False
    if info.authentication_config_api is None:
        raise KubeConfigError(
            "apiserver_anonymous_health needs AuthenticationConfiguration anonymous conditions, which Kubernetes "
            "%s does not have: leave it false and give load-balancer health checks a client certificate" % info.minor
        )
    return True


def authentication_config(version, settings):
    """The AuthenticationConfiguration to write to ``authentication_config_file``, or None when not used
    (``apiserver_anonymous_health`` false). Allows anonymous requests to /livez, /readyz and /healthz only."""
    info = kube_versions.lookup(version)
    s = _settings(settings)
    if not _anonymous_health(info, s):
        return None
    return {
        "apiVersion": info.authentication_config_api,
        "kind": "AuthenticationConfiguration",
        "anonymous": {"enabled": True, "conditions": [{"path": p} for p in HEALTH_PATHS]},
    }


def _port(name, value):
    port = _int(name, value)
    if not 0 < port < 65536:
        raise KubeConfigError("%s must be a TCP port (got %r)" % (name, value))
    return port


def _etcd_servers(value):
    servers = [u.strip() for u in value.split(",") if u.strip()] if isinstance(value, str) else value
    if not isinstance(servers, (list, tuple)) or not servers:
        raise KubeConfigError("etcd_servers must be a list of https:// URLs (got %r)" % (value,))
    for url in servers:
        if not isinstance(url, str) or not url.startswith("https://") or "," in url:
            raise KubeConfigError(
                "etcd_servers: %r is not an https:// URL (the apiserver talks to etcd over TLS with client "
                "certificates)" % (url,)
            )
    return list(servers)


def controller_manager_args(version, settings):
    """kube-controller-manager flags, in a stable order."""
    info = kube_versions.lookup(version)
    s = _settings(settings)
    pki = s["pki_dir"]
    kubeconfig = _join(s["kubeconfig_dir"], "controller-manager.conf")
    f = _Flags("kube-controller-manager", info)
    f.add("bind-address", "127.0.0.1")
    if info.component_insecure_port_flag:
        f.add("port", 0)
    f.add("kubeconfig", kubeconfig)
    f.add("authentication-kubeconfig", kubeconfig)
    f.add("authorization-kubeconfig", kubeconfig)
    f.add("client-ca-file", _join(pki, "ca.crt"))
    f.add("requestheader-client-ca-file", _join(pki, "front-proxy-ca.crt"))
    f.add("leader-elect", True)
    f.add("use-service-account-credentials", True)
    f.add("cluster-name", s["cluster_name"])
    f.add("cluster-signing-cert-file", _join(pki, "ca.crt"))
    f.add("cluster-signing-key-file", _join(pki, "ca.key"))
    if s["cluster_signing_duration"]:
        f.add("cluster-signing-duration", s["cluster_signing_duration"])
    f.add("root-ca-file", _join(pki, "ca.crt"))
    f.add("service-account-private-key-file", _join(pki, "sa.key"))
    f.add("allocate-node-cidrs", True)
    f.add("cluster-cidr", str(_network("pod_cidr", s["pod_cidr"])))
    f.add("node-cidr-mask-size", s["node_cidr_mask"])
    f.add("service-cluster-ip-range", str(_network("service_cidr", s["service_cidr"])))
    f.add("profiling", False)
    _serving_tls(f, s)
    if s["feature_gates"]:
        f.add("feature-gates", _feature_gates(s["feature_gates"]))
    f.extend(s["controller_manager_extra_args"], "controller_manager_extra_args")
    return f.render()


def scheduler_config(version, settings):
    """The KubeSchedulerConfiguration object (apiVersion from the table) for ``scheduler_config_file``.

    Rendered for every version so a role can always write the file; :func:`scheduler_args` passes it with
    ``--config`` only where the table's ``scheduler_uses_config_file`` is true (not on 1.20)."""
    info = kube_versions.lookup(version)
    s = _settings(settings)
    config = {
        "apiVersion": info.scheduler_config_api,
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"kubeconfig": _join(s["kubeconfig_dir"], "scheduler.conf")},
        "leaderElection": {"leaderElect": True},
        "enableProfiling": False,
    }
    config = _merge(config, s["scheduler_config_overrides"])
    _check_api_version(config, info.scheduler_config_api, "scheduler_config_overrides")
    return config


def scheduler_args(version, settings):
    """kube-scheduler flags. Where the table says the scheduler runs from a file (1.35+) the settings live in
    :func:`scheduler_config` and ``--config`` points at it; on 1.20 the same settings are given as flags with
    ``--port=0`` (a 1.20 config file would reopen the insecure port 10251, see the table notes)."""
    info = kube_versions.lookup(version)
    s = _settings(settings)
    kubeconfig = _join(s["kubeconfig_dir"], "scheduler.conf")
    f = _Flags("kube-scheduler", info)
    if info.scheduler_uses_config_file:
        f.add("config", s["scheduler_config_file"])
    else:
        if s["scheduler_config_overrides"]:
            raise KubeConfigError(
                "scheduler_config_overrides cannot be used with Kubernetes %s: its kube-scheduler runs from flags "
                "(use scheduler_extra_args)" % info.minor
            )
        f.add("kubeconfig", kubeconfig)
        f.add("leader-elect", True)
        f.add("profiling", False)
    f.add("bind-address", "127.0.0.1")
    if info.component_insecure_port_flag:
        f.add("port", 0)
    f.add("authentication-kubeconfig", kubeconfig)
    f.add("authorization-kubeconfig", kubeconfig)
    f.add("client-ca-file", _join(s["pki_dir"], "ca.crt"))
    f.add("requestheader-client-ca-file", _join(s["pki_dir"], "front-proxy-ca.crt"))
    _serving_tls(f, s)
    if s["feature_gates"]:
        f.add("feature-gates", _feature_gates(s["feature_gates"]))
    f.extend(s["scheduler_extra_args"], "scheduler_extra_args")
    return f.render()


# --------------------------------------------------------------------------------------------------------------
# Encryption at rest and audit
# --------------------------------------------------------------------------------------------------------------


def encryption_config(keys, provider="secretbox", resources=("secrets",), identity_fallback=True, version=None):
    """The EncryptionConfiguration for ``encryption_config_file``.

    ``keys``: list of ``{"name": ..., "secret": <base64>}``, newest first. The first key encrypts new writes;
    every key decrypts. Key rotation: put the new key first, restart (or let 1.35+ reload), rewrite all Secrets
    (``kubectl get secrets -A -o json | kubectl replace -f -``), then drop the old key.
    ``provider``: ``secretbox`` (XSalsa20-Poly1305, 32-byte keys; default), ``aescbc`` or ``aesgcm``. A key may
    name its own ``provider`` (a rotation from one provider to another holds a key of each): consecutive keys of
    one provider share one provider entry, in the order given.
    ``identity_fallback``: keep ``identity`` last so data written before encryption was turned on stays
    readable (remove it once everything was rewritten).
    ``version``: the Kubernetes version whose table row gives the apiVersion (default: the newest minor; the
    apiVersion ``apiserver.config.k8s.io/v1`` is the same for every supported minor).
    """
    _encryption_provider(provider)
    if not isinstance(keys, (list, tuple)) or not keys:
        raise KubeConfigError("encryption keys must be a non-empty list of {name, secret} (newest first)")
    names, providers = set(), []
    for key in keys:
        if not isinstance(key, dict) or not {"name", "secret"} <= set(key) <= {"name", "secret", "provider"}:
            raise KubeConfigError("each encryption key must be a dict with name and secret (and optionally provider)")
        name, secret = key["name"], key["secret"]
        own = _encryption_provider(key.get("provider") or provider)
        if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", name) or name in names:
            raise KubeConfigError("encryption key name %r is empty, malformed or used twice" % (name,))
        names.add(name)
        try:
            raw = base64.b64decode(str(secret), validate=True)
        except (binascii.Error, ValueError):
            # The secret itself is never put into a message.
            raise KubeConfigError("encryption key %s: the secret is not valid base64" % name) from None
        if len(raw) not in ENCRYPTION_PROVIDERS[own]:
            raise KubeConfigError(
                "encryption key %s: %s needs a key of %s bytes (base64 of `head -c 32 /dev/urandom`), got %d bytes"
                % (name, own, " or ".join(str(n) for n in ENCRYPTION_PROVIDERS[own]), len(raw))
            )
        if not providers or own not in providers[-1]:
            providers.append({own: {"keys": []}})
        providers[-1][own]["keys"].append({"name": name, "secret": str(secret)})
    if isinstance(resources, str) or not resources or not all(isinstance(r, str) and r for r in resources):
        raise KubeConfigError("encryption resources must be a list of resource names such as [secrets]")
    if identity_fallback:
        providers.append({"identity": {}})
    info = kube_versions.lookup(version or kube_versions.DEFAULT_MINOR)
    return {
        "apiVersion": info.encryption_config_api,
        "kind": "EncryptionConfiguration",
        "resources": [{"resources": list(resources), "providers": providers}],
    }


def _encryption_provider(provider):
    if provider not in ENCRYPTION_PROVIDERS:
        raise KubeConfigError(
            "encryption provider %r is not one of %s" % (provider, ", ".join(sorted(ENCRYPTION_PROVIDERS)))
        )
    return provider


def audit_policy(version=None):
    """An audit Policy that records who did what without ever logging a Secret's content.

    Health probes, events and the leader-election/node heartbeat leases are not logged; everything else is
    logged at Metadata level (user, verb, resource, response code), from ResponseStarted on.
    ``version`` picks the table row for the apiVersion (default: the newest minor)."""
    info = kube_versions.lookup(version or kube_versions.DEFAULT_MINOR)
    return {
        "apiVersion": info.audit_policy_api,
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [
            {"level": "None", "nonResourceURLs": ["/healthz*", "/livez*", "/readyz*", "/version"]},
            {"level": "None", "resources": [{"group": "", "resources": ["events"]}]},
            {"level": "None", "resources": [{"group": "events.k8s.io", "resources": ["events"]}]},
            {
                "level": "None",
                "verbs": ["get", "update"],
                "resources": [{"group": "coordination.k8s.io", "resources": ["leases"]}],
            },
            {
                "level": "None",
                "users": ["system:kube-proxy"],
                "verbs": ["watch"],
                "resources": [
                    {"group": "", "resources": ["endpoints", "services", "services/status"]},
                    {"group": "discovery.k8s.io", "resources": ["endpointslices"]},
                ],
            },
            {"level": "Metadata"},
        ],
    }
