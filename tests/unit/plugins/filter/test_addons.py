"""Pod network filters (plugins/filter/addons.py): the wiring between Ansible data and module_utils."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.filter import addons

NODES_JSON = json.dumps(
    {
        "kind": "List",
        "items": [
            {"metadata": {"name": "cp1"}, "spec": {"podCIDR": "10.244.0.0/24"},
             "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
            {"metadata": {"name": "w1"}, "spec": {"podCIDR": "10.244.1.0/24"},
             "status": {"conditions": [{"type": "Ready", "status": "False"}]}},
        ],
    }
)
HOSTVARS = {
    "cp1": {"inventory_hostname": "cp1", "ansible_host": "10.127.0.101"},
    "worker-1": {"inventory_hostname": "worker-1", "node_name": "w1", "ansible_host": "10.127.0.102"},
}


def test_filters_are_registered():
    assert set(addons.FilterModule().filters()) >= {"pod_network_plan", "pod_network_routes", "pod_network_conflist"}


def test_nodes_from_kubectl_text():
    nodes = addons.pod_network_nodes(NODES_JSON)
    assert addons.pod_network_missing(nodes, ["cp1", "w1", "w2"]) == ["w2"]
    assert addons.pod_network_not_ready(nodes, ["cp1", "w1"]) == ["w1"]


def test_nodes_refuses_text_that_is_not_json():
    with pytest.raises(AnsibleFilterError, match="pod_network_nodes: not JSON"):
        addons.pod_network_nodes("error: the server doesn't have a resource type")


def test_hosts_plan_routes_end_to_end():
    hosts = addons.pod_network_hosts(["cp1", "worker-1"], HOSTVARS)
    assert hosts == [
        {"host": "cp1", "node": "cp1", "address": "10.127.0.101"},
        {"host": "worker-1", "node": "w1", "address": "10.127.0.102"},
    ]
    result = addons.pod_network_plan(hosts, addons.pod_network_nodes(NODES_JSON), "10.244.0.0/16", ["cp1"])
    assert result["errors"] == []
    assert addons.pod_network_routes(result, "cp1") == [{"dst": "10.244.1.0/24", "via": "10.127.0.102", "node": "w1"}]
    assert addons.pod_network_routes(result["plan"], "worker-1")[0]["via"] == "10.127.0.101"


def test_unknown_host_and_bad_input_raise_filter_errors():
    with pytest.raises(AnsibleFilterError, match="nope is not in the inventory"):
        addons.pod_network_hosts(["nope"], HOSTVARS)
    with pytest.raises(AnsibleFilterError, match="pod_network_routes: x has no pod CIDR"):
        addons.pod_network_routes({"plan": {}, "errors": []}, "x")
    with pytest.raises(AnsibleFilterError, match="pod_network_conflist"):
        addons.pod_network_conflist("10.244.0.1/24")


def test_conflist_filter():
    assert addons.pod_network_conflist("10.244.0.0/24")["plugins"][0]["ipam"]["ranges"] == [
        [{"subnet": "10.244.0.0/24"}]
    ]
