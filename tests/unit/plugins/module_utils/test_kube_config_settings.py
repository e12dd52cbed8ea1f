"""Tests of the helpers ``kube_config._settings`` is made of, for the decisions the renderer tests in
test_kube_config.py do not reach: None values and copies, paths that are not strings, the upper bound of
node_cidr_mask, an explicit cluster DNS address, and the service-account issuer."""

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import config as kc


def test_a_none_value_keeps_the_default_and_values_are_copied():
    labels = {"pool": "apps"}
    s = kc._merged_settings({"cluster_domain": None, "node_labels": labels})
    assert s["cluster_domain"] == "cluster.local"
    assert s["node_labels"] == labels and s["node_labels"] is not labels
    assert s["feature_gates"] == {} and s["feature_gates"] is not kc.DEFAULTS["feature_gates"]
    assert set(s) == set(kc.DEFAULTS)


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"etcd_pki_dir": 5}, "etcd_pki_dir must be an absolute path \\(got 5\\)"),
        ({"config_dir": "etc/kubernetes"}, "config_dir must be an absolute path"),
        ({"kubelet_config_file": ["/etc/kubelet.yaml"]}, "kubelet_config_file must be an absolute path"),
    ],
)
def test_paths_must_be_absolute_strings(extra, match):
    s = kc._merged_settings(extra)
    with pytest.raises(kc.KubeConfigError, match=match):
        kc._settings_paths(s)


def test_file_paths_default_to_the_config_dir():
    s = kc._merged_settings({"config_dir": "/srv/cfg", "kubelet_config_file": "/srv/kubelet.yaml"})
    kc._settings_paths(s)
    assert s["kubelet_config_file"] == "/srv/kubelet.yaml"
    assert s["kube_proxy_config_file"] == "/srv/cfg/kube-proxy.yaml"


def test_node_cidr_mask_may_not_exceed_the_address_length():
    with pytest.raises(kc.KubeConfigError, match="node_cidr_mask 33 must be longer than pod_cidr's prefix \\(16\\)"):
        kc._settings_networks(kc._merged_settings({"node_cidr_mask": 33}))
    with pytest.raises(kc.KubeConfigError, match="node_cidr_mask must be a whole number \\(got True\\)"):
        kc._settings_networks(kc._merged_settings({"node_cidr_mask": True}))


def test_networks_fill_in_the_mask_as_a_number_and_keep_a_dns_address_inside_the_service_cidr():
    s = kc._merged_settings({"node_cidr_mask": "32", "cluster_dns_ip": "10.96.0.53"})
    kc._settings_networks(s)
    assert s["node_cidr_mask"] == 32 and s["cluster_dns_ip"] == "10.96.0.53"
    s = kc._merged_settings({"service_cidr": "10.100.0.0/16"})
    kc._settings_networks(s)
    assert s["cluster_dns_ip"] == "10.100.0.10"


def test_the_service_account_issuer_follows_the_cluster_domain_unless_given():
    s = kc._merged_settings({"cluster_domain": "example.internal"})
    kc._settings_cluster_domain(s)
    assert s["service_account_issuer"] == "https://kubernetes.default.svc.example.internal"
    s = kc._merged_settings({"cluster_domain": "example.internal", "service_account_issuer": "https://issuer"})
    kc._settings_cluster_domain(s)
    assert s["service_account_issuer"] == "https://issuer"
    with pytest.raises(kc.KubeConfigError, match="cluster_domain 5 is not a DNS domain"):
        kc._settings_cluster_domain(kc._merged_settings({"cluster_domain": 5}))


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"kube_proxy_mode": "userspace"}, "kube_proxy_mode must be one of iptables, ipvs, nftables"),
        ({"feature_gates": ["A"]}, "feature_gates must map gate names to true/false"),
        ({"fail_cgroup_v1": "no"}, "fail_cgroup_v1 must be true or false \\(got 'no'\\)"),
    ],
)
def test_choices_are_refused_outside_their_lists(extra, match):
    with pytest.raises(kc.KubeConfigError, match=match):
        kc._settings_choices(kc._merged_settings(extra))


def test_choices_accept_none_for_a_tri_state_switch():
    s = kc._merged_settings({"kube_proxy_mode": "nftables", "cgroup_driver": "cgroupfs"})
    assert s["fail_cgroup_v1"] is None
    assert kc._settings_choices(s) is None
