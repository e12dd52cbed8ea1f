"""Unit tests for plugins/module_utils/net/address.py (a host's node address from its variables)."""

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.net import address as net_address


@pytest.mark.parametrize(
    "host_vars, expected",
    [
        ({"node_ip": "10.0.0.5", "ansible_host": "192.0.2.1"}, "10.0.0.5"),
        ({"ansible_host": "192.0.2.1"}, "192.0.2.1"),
        ({"ansible_host": "a.example"}, None),  # a DNS name is not a node address
        ({"ansible_host": "a.example", "ansible_facts": {"default_ipv4": {"address": "172.16.0.4"}}}, "172.16.0.4"),
        ({"node_ip": None, "ansible_facts": None}, None),
        ({}, None),
    ],
)
def test_node_address_follows_the_inventory_rule(host_vars, expected):
    assert net_address.node_address(dict(host_vars, inventory_hostname="a")) == expected


def test_node_address_refuses_what_is_not_host_variables():
    with pytest.raises(net_address.NodeAddressError, match=r"expects a host's variables, e\.g\. hostvars\[item\]"):
        net_address.node_address(42)


def test_node_address_needs_netaddr(monkeypatch):
    monkeypatch.setattr(net_address, "HAS_NETADDR", False)
    with pytest.raises(net_address.NodeAddressError, match="needs the Python library netaddr on the controller"):
        net_address.node_address({})


def test_host_entry_names_the_source_of_the_address():
    entry = net_address.host_entry("cp1", {"node_name": "cp-one", "ansible_host": "192.0.2.7"})
    assert entry == {
        "host": "cp1",
        "node_name": "cp-one",
        "address": "192.0.2.7",
        "address_source": "ansible_host",
        "ansible_host": "192.0.2.7",
    }


@pytest.mark.parametrize(
    "mapping, key, expected",
    [({"a": 1}, "a", 1), ({"a": None}, "a", "d"), ({}, "a", "d"), (None, "a", "d"), (42, "a", "d")],
)
def test_get_falls_back_to_the_default(mapping, key, expected):
    assert net_address.get(mapping, key, "d") == expected


class _Lazy:
    """Mapping-like but not a dict, as Ansible's lazy containers are."""

    def __init__(self, data):
        self._data = data

    def keys(self):
        return self._data.keys()

    def __iter__(self):
        return iter(self._data)

    def __getitem__(self, key):
        return self._data[key]


class _Tagged(str):
    pass


def test_plain_copies_containers_and_strings():
    out = net_address.plain(_Lazy({_Tagged("a"): (_Tagged("x"), 1), "b": _Lazy({"c": None})}))
    assert out == {"a": ["x", 1], "b": {"c": None}}
    assert type(next(iter(out))) is str
    assert type(out["a"][0]) is str
