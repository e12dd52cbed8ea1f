"""Unit tests for plugins/filter/load_balancer.py (the kubesmith.cluster.load_balancer_* filters)."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.filter import load_balancer as F

FILTERS = F.FilterModule().filters()


def test_filter_names():
    assert set(FILTERS) == {
        "api_endpoint",
        "load_balancer_hosts",
        "load_balancer_members",
        "load_balancer_interface",
        "load_balancer_settings",
        "load_balancer_haproxy_config",
        "load_balancer_keepalived_config",
    }


def test_api_endpoint_filter_applies_the_mode_defaults():
    assert FILTERS["api_endpoint"]({}, "local") == {"host": "127.0.0.1", "port": 6444}
    assert FILTERS["api_endpoint"]({"host": "192.0.2.9"}) == {"host": "192.0.2.9", "port": 6443}
    assert FILTERS["api_endpoint"](None, "none") == {"host": None, "port": 6443}


def test_members_take_the_node_address():
    hostvars = {
        "cp1": {"inventory_hostname": "cp1", "node_ip": "10.0.0.11", "ansible_host": "cp1.mgmt"},
        "cp2": {"inventory_hostname": "cp2", "ansible_host": "10.0.0.12"},
        "cp3": {"inventory_hostname": "cp3", "ansible_facts": {"default_ipv4": {"address": "10.0.0.13"}}},
        "cp4": {"inventory_hostname": "cp4", "ansible_host": "cp4.example.org"},
    }
    assert FILTERS["load_balancer_members"](["cp1", "cp2", "cp3", "cp4"], hostvars) == [
        {"name": "cp1", "address": "10.0.0.11"},
        {"name": "cp2", "address": "10.0.0.12"},
        {"name": "cp3", "address": "10.0.0.13"},
        {"name": "cp4", "address": None},
    ]


def test_errors_become_filter_errors_naming_the_role():
    with pytest.raises(AnsibleFilterError, match="load_balancer: load_balancer_mode must be one of"):
        FILTERS["load_balancer_hosts"]({"control_plane": ["cp1"]}, "roundrobin")
    with pytest.raises(AnsibleFilterError, match="must be the virtual IP address"):
        FILTERS["load_balancer_haproxy_config"](
            {
                "mode": "vip",
                "host": "cp1",
                "endpoint_host": "api.example.org",
                "endpoint_port": 8443,
                "backends": [{"name": "cp1", "address": "10.0.0.11"}],
                "proxy_hosts": [{"name": "cp1", "address": "10.0.0.11"}],
                "interface": "eth0",
            }
        )


def test_hosts_and_interface():
    assert FILTERS["load_balancer_hosts"]({"control_plane": ["a"], "workers": ["b"]}, "local") == ["a", "b"]
    facts = {"interfaces": ["eth0"], "eth0": {"device": "eth0", "ipv4": {"address": "10.0.0.5"}}}
    assert FILTERS["load_balancer_interface"](facts, "10.0.0.5") == "eth0"
