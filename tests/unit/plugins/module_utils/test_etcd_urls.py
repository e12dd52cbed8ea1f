import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.urls import (
    EtcdUrlError,
    client_urls,
    host_urls,
    initial_cluster,
    peer_urls,
)

HOSTS = [("etcd1", None, "10.0.0.11"), ("h2", "etcd2", "10.0.0.12"), ("etcd3", None, "fd00::3")]


def test_urls_and_initial_cluster():
    assert client_urls(HOSTS) == ["https://10.0.0.11:2379", "https://10.0.0.12:2379", "https://[fd00::3]:2379"]
    assert peer_urls(HOSTS, 12380) == ["https://10.0.0.11:12380", "https://10.0.0.12:12380", "https://[fd00::3]:12380"]
    assert initial_cluster(HOSTS) == (
        "etcd1=https://10.0.0.11:2380,etcd2=https://10.0.0.12:2380,etcd3=https://[fd00::3]:2380"
    )


def test_host_urls_keyed_by_inventory_name():
    assert host_urls(HOSTS, 6443) == {
        "etcd1": "https://10.0.0.11:6443",
        "h2": "https://10.0.0.12:6443",
        "etcd3": "https://[fd00::3]:6443",
    }


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        ([("etcd1", None, None)], "etcd1 has no address yet"),
        ([("a", "x", "10.0.0.1"), ("b", "x", "10.0.0.2")], "x used more than once"),
    ],
)
def test_refusals(hosts, message):
    with pytest.raises(EtcdUrlError, match=message):
        initial_cluster(hosts)


def test_filter_reads_hostvars():
    from ansible_collections.kubesmith.cluster.plugins.filter.etcd import FilterModule

    hostvars = {
        "etcd1": {"inventory_hostname": "etcd1", "ansible_host": "10.0.0.11"},
        "etcd2": {"inventory_hostname": "etcd2", "node_name": "e2", "node_ip": "10.0.0.12", "ansible_host": "x"},
    }
    filters = FilterModule().filters()
    assert filters["etcd_initial_cluster"](["etcd1", "etcd2"], hostvars, 2380) == (
        "etcd1=https://10.0.0.11:2380,e2=https://10.0.0.12:2380"
    )
    assert filters["etcd_client_urls"](["etcd2"], hostvars) == ["https://10.0.0.12:2379"]
