import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.filter.upgrade import upgrade_node_state


def node(version, ready="True"):
    conditions = [{"type": "MemoryPressure", "status": "False"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready, "reason": "KubeletNotReady", "message": "PLEG"})
    return {"status": {"nodeInfo": {"kubeletVersion": version}, "conditions": conditions}}


def test_ready_on_the_target_version_build_tag_included():
    assert upgrade_node_state(node("v1.20.2+kubesmith.1"), "v1.20.2+kubesmith.1") == "ready"
    assert upgrade_node_state(node("v1.20.2+kubesmith.1"), "1.20.2+kubesmith.1") == "ready"


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (node("v1.20.2"), "kubelet v1.20.2, waiting for v1.20.2+kubesmith.1"),
        (node("v1.20.2+kubesmith.1", ready="False"), "Ready=False: KubeletNotReady PLEG"),
        (node("v1.20.2+kubesmith.1", ready="Unknown"), "Ready=Unknown: KubeletNotReady PLEG"),
        (node("v1.20.2+kubesmith.1", ready=None), "no Ready condition yet"),
        ({"status": {}}, "kubelet unknown, waiting for v1.20.2+kubesmith.1"),
    ],
)
def test_not_ready_says_why(obj, expected):
    assert upgrade_node_state(obj, "v1.20.2+kubesmith.1") == expected


def test_bad_input():
    with pytest.raises(AnsibleFilterError, match="expects a Node object"):
        upgrade_node_state("nope", "v1.20.2")
    with pytest.raises(AnsibleFilterError):
        upgrade_node_state(node("v1.20.2"), "not-a-version")
