# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Kubernetes version table and component configuration filters for kubesmith.cluster.

Every filter is called as ``kubesmith.cluster.<name>``; the logic lives in ``plugins/module_utils/kube/versions.py``
(the version table) and ``plugins/module_utils/kube/config.py`` (the renderers, whose docstring documents every
``settings`` key). ``version`` is ``v1.20.2``, ``1.20.2+kubesmith.1``, ``1.37.1`` or a bare minor ``'1.35'``
(quote it in YAML). Bad input raises an ``AnsibleFilterError`` that names the filter and says what to fix.

Component configuration (``settings`` is one dict; build it once in the role's vars)::

    kube_apiserver_args(version, settings)           -> list of "--flag=value"
    kube_authentication_config(version, settings)    -> AuthenticationConfiguration dict, or None when unused
    kube_controller_manager_args(version, settings)  -> list
    kube_scheduler_config(version, settings)         -> KubeSchedulerConfiguration dict
    kube_scheduler_args(version, settings)           -> list
    kube_kubelet_config(version, settings)           -> KubeletConfiguration dict
    kube_kubelet_args(version, settings)             -> list
    kube_proxy_config(version, settings)             -> KubeProxyConfiguration dict
    kube_proxy_args(version, settings)               -> list
    kube_encryption_config(keys, provider='secretbox', resources=['secrets'], identity_fallback=true,
                           version=None)             -> EncryptionConfiguration dict (keys: [{name, secret}])
    kube_audit_policy(version)                       -> audit Policy dict
    kube_config_files(settings)                      -> {encryption_config_file: path, ...}
    kube_systemd_args(args)                          -> flags joined for a systemd ExecStart= line
    kube_tls_cipher_suites(value)                    -> the TLS 1.2 suites to serve with (None: kubesmith's list)

Versions::

    kube_version_supported(version, allow_prerelease=false) -> bool
    kube_minor(version)                                     -> '1.20'
    kube_version_compare(a, b)                              -> -1 / 0 / 1 (build metadata ignored)
    kube_version_info(version)                              -> the table row as a dict (apiVersions, CRI, ...)
    kube_containerd_supported(version, containerd_version)  -> bool (containerd line works with this kubelet)
    kube_node_pool_changes(node, labels, taints) -> {labels, taints, label_args, taint_args} still to apply

Examples::

    # roles/control_plane/templates/kube-apiserver.service.j2
    ExecStart={{ kube_bin_dir }}/kube-apiserver \\
        {{ kube_version | kubesmith.cluster.kube_apiserver_args(_cp_settings) | kubesmith.cluster.kube_systemd_args }}

    # roles/worker/templates/kubelet-config.yaml.j2
    {{ kube_version | kubesmith.cluster.kube_kubelet_config(_worker_settings) | to_nice_yaml(indent=2) }}

    # roles/control_plane/templates/encryption-config.yaml.j2 (no_log on the task!)
    {{ control_plane_encryption_keys | kubesmith.cluster.kube_encryption_config | to_nice_yaml }}

    # preflight
    - ansible.builtin.assert:
        that: kube_version | kubesmith.cluster.kube_version_supported
    cri: "{{ (kube_version | kubesmith.cluster.kube_version_info).cri_api }}"        # v1alpha2 / v1
    newer: "{{ kube_version | kubesmith.cluster.kube_version_compare('v1.35.0') > 0 }}"
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import config as kube_config
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import control_plane as kube_control_plane
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import node_components as kube_node_components
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import nodes as kube_nodes
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import versions as kube_versions

_ERRORS = (kube_config.KubeConfigError, kube_versions.KubeVersionError, kube_nodes.KubeNodeError)


def _plain(value):
    """Ansible's tagged/lazy containers -> plain dicts, lists and strings (the renderers type-check)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def _call(name, func, *args, **kwargs):
    try:
        return func(*(_plain(a) for a in args), **{k: _plain(v) for k, v in kwargs.items()})
    except _ERRORS as e:
        raise AnsibleFilterError("kubesmith.cluster.%s: %s" % (name, e)) from None


def kube_apiserver_args(version, settings):
    return _call("kube_apiserver_args", kube_control_plane.apiserver_args, version, settings)


def kube_authentication_config(version, settings):
    return _call("kube_authentication_config", kube_control_plane.authentication_config, version, settings)


def kube_controller_manager_args(version, settings):
    return _call("kube_controller_manager_args", kube_control_plane.controller_manager_args, version, settings)


def kube_scheduler_config(version, settings):
    return _call("kube_scheduler_config", kube_control_plane.scheduler_config, version, settings)


def kube_scheduler_args(version, settings):
    return _call("kube_scheduler_args", kube_control_plane.scheduler_args, version, settings)


def kube_kubelet_config(version, settings):
    return _call("kube_kubelet_config", kube_node_components.kubelet_config, version, settings)


def kube_kubelet_args(version, settings):
    return _call("kube_kubelet_args", kube_node_components.kubelet_args, version, settings)


def kube_proxy_config(version, settings):
    return _call("kube_proxy_config", kube_node_components.kube_proxy_config, version, settings)


def kube_proxy_args(version, settings):
    return _call("kube_proxy_args", kube_node_components.kube_proxy_args, version, settings)


def kube_encryption_config(keys, provider="secretbox", resources=("secrets",), identity_fallback=True, version=None):
    return _call(
        "kube_encryption_config",
        kube_control_plane.encryption_config,
        keys,
        provider=provider,
        resources=resources,
        identity_fallback=identity_fallback,
        version=version,
    )


def kube_audit_policy(version=None):
    return _call("kube_audit_policy", kube_control_plane.audit_policy, version)


def kube_config_files(settings=None):
    return _call("kube_config_files", kube_config.config_files, settings)


def kube_systemd_args(args, indent="    "):
    if isinstance(args, str) or not isinstance(args, (list, tuple)):
        raise AnsibleFilterError("kubesmith.cluster.kube_systemd_args: expects a list of flags, got %r" % (args,))
    return kube_config.systemd_exec_args(_plain(args), indent=indent)


def kube_tls_cipher_suites(value):
    return _call("kube_tls_cipher_suites", kube_config.tls_cipher_suites, value)


def kube_version_supported(version, allow_prerelease=False):
    return kube_versions.supported(_plain(version), allow_prerelease=bool(allow_prerelease))


def kube_minor(version):
    return _call("kube_minor", kube_versions.minor, version)


def kube_version_compare(a, b):
    return _call("kube_version_compare", kube_versions.compare, a, b)


def kube_version_info(version):
    return _call("kube_version_info", kube_versions.as_dict, version)


def kube_containerd_supported(version, containerd_version):
    return _call("kube_containerd_supported", kube_versions.containerd_supported, version, containerd_version)


def kube_node_pool_changes(node, labels, taints):
    return _call("kube_node_pool_changes", kube_nodes.pool_changes, node, labels, taints)


class FilterModule(object):
    """Kubernetes version table and component configuration renderers."""

    def filters(self):
        return {
            "kube_apiserver_args": kube_apiserver_args,
            "kube_authentication_config": kube_authentication_config,
            "kube_controller_manager_args": kube_controller_manager_args,
            "kube_scheduler_config": kube_scheduler_config,
            "kube_scheduler_args": kube_scheduler_args,
            "kube_kubelet_config": kube_kubelet_config,
            "kube_kubelet_args": kube_kubelet_args,
            "kube_proxy_config": kube_proxy_config,
            "kube_proxy_args": kube_proxy_args,
            "kube_encryption_config": kube_encryption_config,
            "kube_audit_policy": kube_audit_policy,
            "kube_config_files": kube_config_files,
            "kube_systemd_args": kube_systemd_args,
            "kube_tls_cipher_suites": kube_tls_cipher_suites,
            "kube_version_supported": kube_version_supported,
            "kube_minor": kube_minor,
            "kube_version_compare": kube_version_compare,
            "kube_version_info": kube_version_info,
            "kube_containerd_supported": kube_containerd_supported,
            "kube_node_pool_changes": kube_node_pool_changes,
        }
