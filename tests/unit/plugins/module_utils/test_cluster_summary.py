from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster.summary import summary_lines


def node(name, kubelet="v1.20.2", runtime="containerd://1.6.20", ready="True", unschedulable=False):
    return {
        "metadata": {"name": name},
        "spec": {"unschedulable": True} if unschedulable else {},
        "status": {
            "nodeInfo": {"kubeletVersion": kubelet, "containerRuntimeVersion": runtime},
            "conditions": [{"type": "Ready", "status": ready}],
        },
    }


def cert(name, days, kind="leaf", readable=True):
    item = {"name": name, "kind": kind, "readable": readable, "path": "/etc/kubernetes/pki/%s.crt" % name}
    if readable:
        item.update(days_left=days, not_after="2027-11-25T01:00:00+00:00")
    return item


def test_a_healthy_cluster():
    lines = summary_lines(
        "v1.20.2",
        [node("w1"), node("cp1")],
        {"cp1": "3.4.23"},
        {"cp1": [cert("apiserver", 364), cert("ca", 3649, "ca")], "w1": [cert("kubelet", 300)]},
        ["back up etcd: backup.yml"],
    )
    assert lines == [
        "Kubernetes API: v1.20.2",
        "nodes: 2, 2 Ready",
        "  cp1: kubelet v1.20.2, containerd 1.6.20",
        "  w1: kubelet v1.20.2, containerd 1.6.20",
        "etcd: cp1 3.4.23",
        "certificates: 3 on 2 hosts, 0 expired, 0 unreadable",
        "  first leaf to expire: kubelet on w1 in 300 days (2027-11-25)",
        "  first CA to expire: ca on cp1 in 3649 days (2027-11-25)",
        "next: back up etcd: backup.yml",
    ]


def test_problems_are_named():
    lines = summary_lines(
        "",
        None,
        {"e1": "3.5.16", "e2": ""},
        {"cp1": [cert("apiserver", -2), cert("front-proxy-client", None, readable=False)]},
    )
    assert lines[0] == "Kubernetes API: not answering through the cluster endpoint"
    assert "nodes: could not be read (is the API up?)" not in lines  # said once, by the API line
    assert "etcd: e1 3.5.16, e2 NOT ANSWERING" in lines
    assert "certificates: 2 on 1 hosts, 1 expired, 1 unreadable" in lines
    assert "  check apiserver on cp1 (/etc/kubernetes/pki/apiserver.crt)" in lines
    assert "  check front-proxy-client on cp1 (/etc/kubernetes/pki/front-proxy-client.crt)" in lines


def test_node_flags_and_missing_list():
    lines = summary_lines("v1.20.2", None, {}, {})
    assert lines == ["Kubernetes API: v1.20.2", "nodes: could not be read (is the API up?)"]
    lines = summary_lines("v1.20.2", [node("w1", ready="False", unschedulable=True)], {}, {})
    assert lines[1:] == ["nodes: 1, 0 Ready", "  w1: kubelet v1.20.2, containerd 1.6.20 - NOT READY, cordoned"]
