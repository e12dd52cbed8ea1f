"""Tests of the encryption rotation filters: Ansible-facing errors and the shape the playbook uses."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.filter import encryption_rotation as F
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import control_plane as kube_control_plane

KEY = {"name": "key1", "secret": "MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE="}


def test_plan_from_host_configs():
    config = kube_control_plane.encryption_config([KEY], provider="aescbc", version="1.20")
    plan = F.kube_encryption_rotation_plan([{"host": h, "config": config} for h in ("a", "b")], "aescbc")
    assert plan["phase"] == "add" and plan["stage_names"] == ["add", "primary", "rewrite", "remove"]
    assert plan["hosts"] == {"a": ["key1"], "b": ["key1"]}


def test_refusals_are_filter_errors():
    with pytest.raises(AnsibleFilterError, match="rotation refused: a: .* run site.yml first"):
        F.kube_encryption_rotation_plan([{"host": "a", "config": None}])
    with pytest.raises(AnsibleFilterError, match="expects"):
        F.kube_encryption_rotation_plan([{"name": "a"}])


def test_filters_are_registered():
    assert set(F.FilterModule().filters()) == {
        "kube_encryption_rotation_plan",
        "kube_encryption_site_keys",
        "kube_haproxy_server_status",
        "kube_encryption_leftovers",
    }
