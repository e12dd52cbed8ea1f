"""Unit tests for plugins/filter/kube.py (the kubesmith.cluster.kube_* filters)."""

import base64

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.filter import kube
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import versions as kv

SETTINGS = {
    "advertise_address": "10.0.0.11",
    "etcd_servers": ["https://10.0.0.11:2379"],
    "node_name": "node1",
    "node_ip": "10.0.0.21",
}

EXPECTED_FILTERS = {
    "kube_apiserver_args",
    "kube_authentication_config",
    "kube_controller_manager_args",
    "kube_scheduler_config",
    "kube_scheduler_args",
    "kube_kubelet_config",
    "kube_kubelet_args",
    "kube_proxy_config",
    "kube_proxy_args",
    "kube_encryption_config",
    "kube_audit_policy",
    "kube_config_files",
    "kube_systemd_args",
    "kube_tls_cipher_suites",
    "kube_version_supported",
    "kube_minor",
    "kube_version_compare",
    "kube_version_info",
    "kube_containerd_supported",
    "kube_node_pool_changes",
}


def test_filter_names():
    assert set(kube.FilterModule().filters()) == EXPECTED_FILTERS


@pytest.mark.parametrize("version", ["v1.20.2+kubesmith.1", "v1.35.0", "v1.36.2", "1.37.1"])
def test_component_filters_render_every_supported_version(version):
    info = kv.lookup(version)
    assert kube.kube_kubelet_config(version, SETTINGS)["apiVersion"] == info.kubelet_config_api
    assert kube.kube_proxy_config(version, SETTINGS)["apiVersion"] == info.kube_proxy_config_api
    assert kube.kube_scheduler_config(version, SETTINGS)["apiVersion"] == info.scheduler_config_api
    assert "--authorization-mode=Node,RBAC" in kube.kube_apiserver_args(version, SETTINGS)
    assert "--bind-address=127.0.0.1" in kube.kube_controller_manager_args(version, SETTINGS)
    assert "--bind-address=127.0.0.1" in kube.kube_scheduler_args(version, SETTINGS)
    assert "--node-ip=10.0.0.21" in kube.kube_kubelet_args(version, SETTINGS)
    assert kube.kube_proxy_args(version, SETTINGS) == ["--config=/etc/kubernetes/kube-proxy.yaml"]
    assert kube.kube_authentication_config(version, SETTINGS) is None
    assert kube.kube_audit_policy(version)["apiVersion"] == info.audit_policy_api


def test_errors_name_the_filter():
    with pytest.raises(AnsibleFilterError, match="^kubesmith.cluster.kube_kubelet_args: node_ip 127.0.0.1"):
        kube.kube_kubelet_args("v1.20.2", dict(SETTINGS, node_ip="127.0.0.1"))
    with pytest.raises(AnsibleFilterError, match="kube_apiserver_args: Kubernetes v1.19.0 is not supported"):
        kube.kube_apiserver_args("v1.19.0", SETTINGS)
    with pytest.raises(AnsibleFilterError, match="kube_minor: 'latest' is not a Kubernetes version"):
        kube.kube_minor("latest")
    with pytest.raises(AnsibleFilterError, match="kube_version_info: Kubernetes v1.34.0 is not supported"):
        kube.kube_version_info("v1.34.0")
    with pytest.raises(AnsibleFilterError, match="kube_encryption_config: encryption keys must be"):
        kube.kube_encryption_config([])


def test_version_filters():
    assert kube.kube_minor("v1.20.2+kubesmith.1") == "1.20"
    assert kube.kube_version_supported("v1.20.2+kubesmith.1") is True
    assert kube.kube_version_supported("v1.21.0") is False
    assert kube.kube_version_supported(1.2) is False  # an unquoted 1.20 in YAML
    assert kube.kube_version_supported("v1.37.0-rc.1") is False
    assert kube.kube_version_supported("v1.37.0-rc.1", allow_prerelease=True) is True
    assert kube.kube_version_compare("v1.20.2", "1.20.2+kubesmith.1") == 0
    assert kube.kube_version_compare("v1.35.1", "v1.37.0") == -1
    assert kube.kube_version_info("1.20")["cri_api"] == "v1alpha2"
    assert kube.kube_version_info("v1.37.0")["cri_api"] == "v1"
    assert kube.kube_containerd_supported("v1.20.2", "1.7.24") is True
    assert kube.kube_containerd_supported("v1.20.2", "2.0.1") is False
    with pytest.raises(AnsibleFilterError, match="kube_containerd_supported: 'x' is not a containerd version"):
        kube.kube_containerd_supported("v1.20.2", "x")


def test_encryption_filter_defaults():
    key = {"name": "k1", "secret": base64.b64encode(b"k" * 32).decode()}
    config = kube.kube_encryption_config([key])
    assert config["resources"][0]["providers"] == [{"secretbox": {"keys": [key]}}, {"identity": {}}]
    config = kube.kube_encryption_config([key], "aescbc", ["secrets", "configmaps"], False)
    assert config["resources"][0]["providers"] == [{"aescbc": {"keys": [key]}}]


def test_config_files_and_systemd_args():
    files = kube.kube_config_files({"config_dir": "/srv/k"})
    assert files["kubelet_config_file"] == "/srv/k/kubelet-config.yaml"
    assert kube.kube_config_files()["audit_policy_file"] == "/etc/kubernetes/audit-policy.yaml"
    assert kube.kube_systemd_args(["--a=1", "--b=2"]) == "--a=1 \\\n    --b=2"
    with pytest.raises(AnsibleFilterError, match="expects a list of flags"):
        kube.kube_systemd_args("--a=1")


def test_plain_copies_ansible_containers():
    class Tagged(str):
        pass

    out = kube._plain({Tagged("a"): [Tagged("x"), ("y",)], "b": {"c": 1}})
    assert out == {"a": ["x", ["y"]], "b": {"c": 1}}
    assert type(next(iter(out))) is str
    assert type(out["a"][0]) is str


def test_node_pool_changes_filter_reports_errors_as_filter_errors():
    node = {"metadata": {"labels": {}}, "spec": {}}
    assert kube.kube_node_pool_changes(node, {"pool": "a"}, [])["label_args"] == ["pool=a"]
    with pytest.raises(AnsibleFilterError, match="kube_node_pool_changes"):
        kube.kube_node_pool_changes(node, {}, ["k=v:Never"])


def test_tls_cipher_suites_filter_defaults_and_refuses_in_its_own_name():
    assert kube.kube_tls_cipher_suites(None)[0] == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
    assert kube.kube_tls_cipher_suites([]) == []
    with pytest.raises(AnsibleFilterError, match="kubesmith.cluster.kube_tls_cipher_suites: tls_cipher_suites must"):
        kube.kube_tls_cipher_suites(["AES128-SHA"])
