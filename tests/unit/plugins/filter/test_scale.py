import json

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.filter.scale import scale_plan

GROUPS = {"etcd": ["cp1"], "control_plane": ["cp1"], "workers": ["w1", "w2"]}
HOSTVARS = {"cp1": {}, "w1": {"node_name": "worker-one"}, "w2": {}}
NODES = {"kind": "NodeList", "items": [{"metadata": {"name": "cp1"}}, {"metadata": {"name": "worker-one"}}]}


def test_reads_kubectl_json_text_and_etcd_member_dicts():
    result = scale_plan(GROUPS, HOSTVARS, json.dumps(NODES), [{"name": "cp1", "id": "1"}], ["cp1", "w1", "w2"])
    assert result["new"] == ["w2"] and result["errors"] == []


def test_etcd_name_defaults_to_the_node_name():
    hostvars = dict(HOSTVARS, cp1={"node_name": "first"})
    nodes = ["first", "worker-one"]
    assert scale_plan(GROUPS, hostvars, nodes, ["first"], ["w2"])["new"] == ["w2"]


def test_no_etcd_group_ignores_the_member_list():
    groups = {"control_plane": ["cp1"], "workers": ["w1"]}
    assert scale_plan(groups, HOSTVARS, ["cp1", "worker-one"], None, ["cp1"])["new"] == []


@pytest.mark.parametrize("nodes", ["not json", 42])
def test_bad_node_lists_are_refused(nodes):
    with pytest.raises(AnsibleFilterError, match="scale_plan"):
        scale_plan(GROUPS, HOSTVARS, nodes, [], ["cp1"])
