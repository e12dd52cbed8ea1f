"""Unit tests for plugins/module_utils/kube/nodes.py: node-pool label and taint changes."""

import json

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import nodes as kn


def node(labels=None, taints=None, recorded=None):
    obj = {"metadata": {"name": "n1", "labels": labels or {}}, "spec": {}}
    if taints is not None:
        obj["spec"]["taints"] = taints
    if recorded is not None:
        text = recorded if isinstance(recorded, str) else json.dumps(recorded, sort_keys=True)
        obj["metadata"]["annotations"] = {kn.POOL_ANNOTATION: text, "other": "x"}
    return obj


def record(labels=(), taints=()):
    return json.dumps({"labels": sorted(labels), "taints": sorted(taints)}, sort_keys=True)


def test_nothing_wanted_nothing_to_do():
    assert kn.pool_changes(node({"a": "1"}), {}, []) == {
        "labels": {},
        "taints": [],
        "remove_labels": [],
        "remove_taints": [],
        "label_args": [],
        "taint_args": [],
        "annotate_args": [],
    }


def test_what_kubesmith_sets_is_recorded_on_the_node():
    changes = kn.pool_changes(node(), {"pool": "gpu"}, ["pool=gpu:NoSchedule"])
    assert changes["annotate_args"] == ["kubesmith.io/pool=" + record(["pool"], ["pool:NoSchedule"])]


def test_a_converged_node_needs_nothing():
    current = [{"key": "pool", "value": "gpu", "effect": "NoSchedule"}]
    converged = node({"pool": "gpu"}, current, record(["pool"], ["pool:NoSchedule"]))
    changes = kn.pool_changes(converged, {"pool": "gpu"}, ["pool=gpu:NoSchedule"])
    assert (changes["label_args"], changes["taint_args"], changes["annotate_args"]) == ([], [], [])


def test_dropped_from_the_inventory_is_removed_others_survive():
    current = [
        {"key": "pool", "value": "gpu", "effect": "NoSchedule"},
        {"key": "theirs", "effect": "NoExecute"},
    ]
    labels = {"pool": "gpu", "zone": "a", "theirs": "1"}
    was = node(labels, current, record(["pool", "zone"], ["pool:NoSchedule"]))
    changes = kn.pool_changes(was, {"pool": "gpu"}, [])
    assert changes["remove_labels"] == ["zone"]
    assert changes["label_args"] == ["zone-"]
    assert changes["remove_taints"] == ["pool:NoSchedule"]
    assert changes["taint_args"] == ["pool:NoSchedule-"]
    assert changes["annotate_args"] == ["kubesmith.io/pool=" + record(["pool"])]


def test_nothing_wanted_any_more_drops_the_record():
    was = node({"zone": "a"}, [], record(["zone"]))
    changes = kn.pool_changes(was, {}, [])
    assert changes["label_args"] == ["zone-"]
    assert changes["annotate_args"] == ["kubesmith.io/pool-"]


def test_recorded_but_already_gone_is_not_removed_again():
    changes = kn.pool_changes(node({}, [], record(["zone"], ["x:NoSchedule"])), {"a": "1"}, [])
    assert changes["remove_labels"] == [] and changes["remove_taints"] == []


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"labels": "zone", "taints": [3, "nocolon"]}'])
def test_an_unreadable_record_removes_nothing(text):
    changes = kn.pool_changes(node({"zone": "a"}, [], text), {}, [])
    assert changes["remove_labels"] == [] and changes["remove_taints"] == []
    assert changes["annotate_args"] == ["kubesmith.io/pool-"]


def test_missing_and_changed_labels_only():
    changes = kn.pool_changes(node({"keep": "x", "pool": "old"}), {"keep": "x", "pool": "gpu", "new": ""}, [])
    assert changes["labels"] == {"new": "", "pool": "gpu"}
    assert changes["label_args"] == ["new=", "pool=gpu"]


def test_role_label_allowed_through_the_api():
    changes = kn.pool_changes(node(), {"node-role.kubernetes.io/control-plane": ""}, [])
    assert changes["label_args"] == ["node-role.kubernetes.io/control-plane="]


def test_label_values_are_strings():
    changes = kn.pool_changes(node(), {"ssd": True, "rack": 7, "empty": None}, [])
    assert changes["labels"] == {"empty": "", "rack": "7", "ssd": "true"}


def test_labels_set_by_others_are_left_alone():
    assert kn.pool_changes(node({"theirs": "1"}), {"mine": "2"}, [])["labels"] == {"mine": "2"}


@pytest.mark.parametrize("labels", [{"bad key!": "x"}, {"k": "white space"}, {"k": "x" * 64}, ["k=v"]])
def test_invalid_labels_refused(labels):
    with pytest.raises(kn.KubeNodeError):
        kn.pool_changes(node(), labels, [])


def test_present_taint_is_not_reapplied():
    current = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    changes = kn.pool_changes(node(taints=current), {}, ["node-role.kubernetes.io/control-plane:NoSchedule"])
    assert changes["taints"] == [] and changes["taint_args"] == []


def test_missing_taint_and_changed_value():
    current = [{"key": "pool", "value": "old", "effect": "NoSchedule"}]
    wanted = ["pool=gpu:NoSchedule", {"key": "dedicated", "effect": "NoExecute"}]
    changes = kn.pool_changes(node(taints=current), {}, wanted)
    assert changes["taint_args"] == ["pool=gpu:NoSchedule", "dedicated:NoExecute"]


def test_same_key_other_effect_is_another_taint():
    current = [{"key": "pool", "value": "gpu", "effect": "NoSchedule"}]
    assert kn.pool_changes(node(taints=current), {}, ["pool=gpu:NoExecute"])["taint_args"] == ["pool=gpu:NoExecute"]


@pytest.mark.parametrize("taints", [["nocolon"], ["k=v:Sometimes"], [{"key": "k"}], "k=v:NoSchedule"])
def test_invalid_taints_refused(taints):
    with pytest.raises(kn.KubeNodeError):
        kn.pool_changes(node(), {}, taints)


def test_not_a_node_refused():
    with pytest.raises(kn.KubeNodeError, match="Node object"):
        kn.pool_changes("n1", {}, [])
