# Copyright: kubesmith maintainers
# Apache License 2.0 (see galaxy.yml)
"""The settings preflight checks and their defaults, the cluster's inventory groups and the limits Kubernetes sets.

Shared by the preflight checks (``preflight.py``, ``preflight_endpoint.py``, ``preflight_host.py``); controller
side only.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re

from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import load_balancer as lb_config

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


def _hosts_list(names):
    return ", ".join(sorted(names))


def _members(groups, name):
    members = (groups or {}).get(name) or []
    return list(dict.fromkeys(members))


def _as_int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.match(r"^[0-9]+$", value.strip()):
        return int(value.strip())
    return None
