# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Render the node components' flags and configuration objects for a given version: kubelet and kube-proxy.

Pure functions, standard library only, no I/O; the settings, their defaults and the security decisions are
documented in ``kube/config.py``, which also holds the flag builder.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import versions as kube_versions
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube.config import (
    KubeConfigError,
    _check_api_version,
    _flag_value,
    _Flags,
    _int,
    _ip,
    _join,
    _merge,
    _network,
    _required,
    _routable_ip,
    _settings,
)

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


# --------------------------------------------------------------------------------------------------------------
# Node components
# --------------------------------------------------------------------------------------------------------------

_LABEL_KEY_RE = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


def _node_name(s, component):
    name = _required(s, "node_name", component)
    if not isinstance(name, str) or not re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", name) or len(name) > 253:
        raise KubeConfigError(
            "node_name %r is not a valid Node name (lower-case letters, digits, '-' and '.')" % (name,)
        )
    return name


def _taints(value):
    out = []
    if not isinstance(value, (list, tuple)):
        raise KubeConfigError("node_taints must be a list (got %r)" % (value,))
    for taint in value:
        if isinstance(taint, str):
            match = re.match(r"^([^=:]+)(?:=([^:]*))?:(\w+)$", taint.strip())
            if not match:
                raise KubeConfigError("node_taints: %r is not key[=value]:Effect" % (taint,))
            key, val, effect = match.group(1), match.group(2) or "", match.group(3)
        elif isinstance(taint, dict) and set(taint) <= {"key", "value", "effect"}:
            key, val, effect = taint.get("key"), taint.get("value") or "", taint.get("effect")
        else:
            raise KubeConfigError("node_taints: %r is neither key[=value]:Effect nor {key, value, effect}" % (taint,))
        if not isinstance(key, str) or not _LABEL_KEY_RE.match(key):
            raise KubeConfigError("node_taints: key %r is not a valid taint key" % (key,))
        if not _LABEL_VALUE_RE.match(str(val)):
            raise KubeConfigError("node_taints: value %r of %s is not a valid taint value" % (val, key))
        if effect not in TAINT_EFFECTS:
            raise KubeConfigError(
                "node_taints: effect %r of %s must be one of %s" % (effect, key, ", ".join(TAINT_EFFECTS))
            )
        item = {"key": key, "effect": effect}
        if val:
            item["value"] = str(val)
        out.append(item)
    return out


# Labels a kubelet may set on its own Node in the kubernetes.io / k8s.io namespaces (any other label there makes
# the kubelet refuse to start; NodeRestriction also refuses node-role.kubernetes.io/ from nodes).
_KUBELET_LABELS = (
    "kubernetes.io/hostname",
    "kubernetes.io/os",
    "kubernetes.io/arch",
    "beta.kubernetes.io/os",
    "beta.kubernetes.io/arch",
    "beta.kubernetes.io/instance-type",
    "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
)
_KUBELET_LABEL_DOMAINS = ("kubelet.kubernetes.io", "node.kubernetes.io")


def _in_domain(domain, parent):
    return domain == parent or domain.endswith("." + parent)


def _kubelet_may_set(key):
    domain = key.split("/", 1)[0] if "/" in key else ""
    if not (_in_domain(domain, "kubernetes.io") or _in_domain(domain, "k8s.io")):
        return True
    return key in _KUBELET_LABELS or any(_in_domain(domain, d) for d in _KUBELET_LABEL_DOMAINS)


def _labels(value):
    out = []
    for key in sorted(value):
        val = value[key]
        val = _flag_value(val) if isinstance(val, bool) else ("" if val is None else str(val))
        if not isinstance(key, str) or not _LABEL_KEY_RE.match(key) or not _LABEL_VALUE_RE.match(val):
            raise KubeConfigError("node_labels: %r=%r is not a valid label" % (key, val))
        if not _kubelet_may_set(key):
            raise KubeConfigError(
                "node_labels: the kubelet may not set %s on its own Node (kubernetes.io/k8s.io labels are limited to "
                "the node.kubernetes.io/ and kubelet.kubernetes.io/ prefixes and a few well-known keys; "
                "node-role.kubernetes.io/ is refused by NodeRestriction): apply it through the API" % key
            )
        out.append("%s=%s" % (key, val))
    return out


def kubelet_config(version, settings):
    """The KubeletConfiguration object for ``kubelet_config_file``. Requires ``node_ip`` (for ``address``)."""
    info = kube_versions.lookup(version)
    s = _settings(settings)
    pki = s["pki_dir"]
    node_ip = _routable_ip(
        s, "node_ip", "the kubelet", "kubelet refuses a loopback node IP and the node then has no address"
    )
    config = {
        "apiVersion": info.kubelet_config_api,
        "kind": "KubeletConfiguration",
        "address": node_ip,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": _join(pki, "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": s["cgroup_driver"],
        "clusterDNS": [str(_ip("cluster_dns_ip", s["cluster_dns_ip"]))],
        "clusterDomain": s["cluster_domain"],
        "failSwapOn": bool(s["fail_swap_on"]),
        "protectKernelDefaults": bool(s["protect_kernel_defaults"]),
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "readOnlyPort": 0,
        "resolvConf": s["resolv_conf"],
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "tlsCertFile": _join(pki, "kubelet.crt"),
        "tlsPrivateKeyFile": _join(pki, "kubelet.key"),
        "tlsMinVersion": "VersionTLS12",
    }
    if s["tls_cipher_suites"]:
        config["tlsCipherSuites"] = s["tls_cipher_suites"]
    if info.kubelet_runtime_endpoint_in_config:
        config["containerRuntimeEndpoint"] = _cri_socket(s)
    if info.kubelet_taints_in_config and s["node_taints"]:
        config["registerWithTaints"] = _taints(s["node_taints"])
    if s["fail_cgroup_v1"] is not None and info.kubelet_fail_cgroup_v1_default:
        config["failCgroupV1"] = bool(s["fail_cgroup_v1"])
    if s["feature_gates"]:
        config["featureGates"] = dict(sorted(s["feature_gates"].items()))
    config = _merge(config, s["kubelet_config_overrides"])
    _check_api_version(config, info.kubelet_config_api, "kubelet_config_overrides")
    return config


def _cri_socket(s):
    socket = s["cri_socket"]
    if not isinstance(socket, str) or not socket.startswith("unix:///"):
        raise KubeConfigError("cri_socket must be a unix:/// URL such as unix:///run/containerd/containerd.sock")
    return socket


def kubelet_args(version, settings):
    """kubelet flags: what has no KubeletConfiguration field (and, on 1.20, the container runtime)."""
    info = kube_versions.lookup(version)
    s = _settings(settings)
    node_ip = _routable_ip(
        s, "node_ip", "the kubelet", "kubelet refuses a loopback node IP and the node then has no address"
    )
    f = _Flags("kubelet", info)
    f.add("config", s["kubelet_config_file"])
    f.add("kubeconfig", _join(s["kubeconfig_dir"], "kubelet.conf"))
    if info.kubelet_container_runtime_flag:
        f.add("container-runtime", "remote")
    if not info.kubelet_runtime_endpoint_in_config:
        f.add("container-runtime-endpoint", _cri_socket(s))
    f.add("hostname-override", _node_name(s, "the kubelet"))
    f.add("node-ip", node_ip)
    labels = _labels(s["node_labels"])
    if labels:
        f.add("node-labels", labels)
    if not info.kubelet_taints_in_config and s["node_taints"]:
        f.add(
            "register-with-taints",
            [
                "%s%s:%s" % (t["key"], "=" + t["value"] if "value" in t else "", t["effect"])
                for t in _taints(s["node_taints"])
            ],
        )
    if s["kubelet_root_dir"]:
        f.add("root-dir", s["kubelet_root_dir"])
    f.extend(s["kubelet_extra_args"], "kubelet_extra_args")
    return f.render()


def kube_proxy_config(version, settings):
    """The KubeProxyConfiguration object for ``kube_proxy_config_file``."""
    info = kube_versions.lookup(version)
    s = _settings(settings)
    config = {
        "apiVersion": info.kube_proxy_config_api,
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": _join(s["kubeconfig_dir"], "kube-proxy.conf")},
        "hostnameOverride": _node_name(s, "kube-proxy"),
        "mode": s["kube_proxy_mode"],
        "clusterCIDR": str(_network("pod_cidr", s["pod_cidr"])),
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        "enableProfiling": False,
    }
    if s["node_ip"] is not None:
        config["bindAddress"] = _routable_ip(s, "node_ip", "kube-proxy", "it is the node's primary address")
    if s["conntrack_max_per_core"] is not None:
        config["conntrack"] = {"maxPerCore": _int("conntrack_max_per_core", s["conntrack_max_per_core"])}
    if s["feature_gates"]:
        config["featureGates"] = dict(sorted(s["feature_gates"].items()))
    config = _merge(config, s["kube_proxy_config_overrides"])
    _check_api_version(config, info.kube_proxy_config_api, "kube_proxy_config_overrides")
    return config


def kube_proxy_args(version, settings):
    """kube-proxy flags: only ``--config`` (everything else is in :func:`kube_proxy_config`) plus extras."""
    info = kube_versions.lookup(version)
    s = _settings(settings)
    f = _Flags("kube-proxy", info)
    f.add("config", s["kube_proxy_config_file"])
    f.extend(s["kube_proxy_extra_args"], "kube_proxy_extra_args")
    return f.render()
