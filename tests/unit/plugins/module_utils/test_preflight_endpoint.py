"""preflight: the API endpoint against the load-balancer mode, the hosts and the networks; IP families; a node's
pod subnet against the kubelet's maxPods. One table of refusals (settings -> the exact message) and one of
inventories that must pass."""

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import preflight as pf
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import preflight_endpoint as pf_endpoint
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import preflight_host as pf_host
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import preflight_settings as pf_settings
from ansible_collections.kubesmith.cluster.plugins.module_utils.net.address import make_host, parse_ip

CP = ["cp1", "cp2", "cp3"]


def _groups(balancers=(), workers=("w1",)):
    return {"etcd": CP, "control_plane": CP, "workers": list(workers), "load_balancers": list(balancers)}


def _hosts(groups, addresses=None):
    addresses = addresses or {}
    names = sorted({h for members in groups.values() for h in members})
    return [make_host(n, ansible_host=addresses.get(n, "192.0.2.%d" % (10 + i))) for i, n in enumerate(names)]


def _errors(settings, groups=None, addresses=None):
    groups = groups or _groups()
    return pf.inventory_errors(groups, _hosts(groups, addresses), settings)


GOOD = {
    "no endpoint, mode none": {},
    "a control-plane host's address": {"cluster_api_endpoint": {"host": "192.0.2.10"}},
    "a DNS name of the user's load balancer": {"cluster_api_endpoint": {"host": "api.example.com", "port": 443}},
    "vip on a free address, port 8443": {
        "load_balancer_mode": "vip",
        "cluster_api_endpoint": {"host": "192.0.2.100", "port": 8443},
    },
    "vip inside the node network": {
        "load_balancer_mode": "vip",
        "cluster_api_endpoint": {"host": "192.0.2.100", "port": "8443"},
        "cluster_node_cidr": "192.0.2.0/24",
    },
    "local without an endpoint: 127.0.0.1:6444": {"load_balancer_mode": "local"},
    "local with its own port": {"load_balancer_mode": "local", "cluster_api_endpoint": {"port": 7443}},
    "a /25 per node holds 110 pods": {"cluster_node_pod_cidr_prefix": 25},
    "a /26 per node with maxPods 50": {
        "cluster_node_pod_cidr_prefix": 26,
        "worker_kubelet_config_overrides": {"maxPods": 50},
    },
}


@pytest.mark.parametrize("case", sorted(GOOD))
def test_good_inventories_pass(case):
    assert _errors(GOOD[case]) == []


def test_vip_on_port_6443_is_fine_on_hosts_of_their_own():
    groups = _groups(balancers=["lb1", "lb2"])
    settings = {"load_balancer_mode": "vip", "cluster_api_endpoint": {"host": "192.0.2.100", "port": 6443}}
    assert _errors(settings, groups) == []


REFUSED = {
    "mode misspelt": (
        {"load_balancer_mode": "haproxy"},
        "load_balancer_mode 'haproxy' is not one of none, vip, local",
    ),
    "endpoint as a URL": (
        {"cluster_api_endpoint": "https://192.0.2.100:8443"},
        "cluster_api_endpoint is the string 'https://192.0.2.100:8443' but must be a mapping: "
        "cluster_api_endpoint: {host: 192.0.2.100, port: 8443}",
    ),
    "endpoint as host:port": (
        {"cluster_api_endpoint": "api.example.com:443"},
        "cluster_api_endpoint: {host: api.example.com, port: 443}",
    ),
    "endpoint as a bare host": (
        {"cluster_api_endpoint": "192.0.2.100"},
        "cluster_api_endpoint: {host: 192.0.2.100, port: 6443}",
    ),
    "endpoint as an IPv6 URL": (
        {"cluster_api_endpoint": "https://[2001:db8::10]:8443/"},
        "cluster_api_endpoint: {host: 2001:db8::10, port: 8443}",
    ),
    "endpoint as a list": (
        {"cluster_api_endpoint": ["192.0.2.100", 8443]},
        "cluster_api_endpoint must be a mapping {host: ADDRESS, port: PORT} (got ['192.0.2.100', 8443])",
    ),
    "a URL as the host": (
        {"cluster_api_endpoint": {"host": "https://192.0.2.100:8443"}},
        "cluster_api_endpoint.host 'https://192.0.2.100:8443' is not an address or a name (a URL or host:port?): "
        "write cluster_api_endpoint: {host: 192.0.2.100, port: 8443}",
    ),
    "unknown key": (
        {"cluster_api_endpoint": {"address": "192.0.2.100", "port": 8443}},
        "cluster_api_endpoint has key(s) address: it takes host and port only",
    ),
    "port out of range": (
        {"cluster_api_endpoint": {"host": "192.0.2.10", "port": 70000}},
        "cluster_api_endpoint.port 70000 is not a TCP port (1 to 65535)",
    ),
    "port not a number": (
        {"cluster_api_endpoint": {"host": "192.0.2.10", "port": "https"}},
        "cluster_api_endpoint.port 'https' is not a TCP port (1 to 65535)",
    ),
    "vip without a host": (
        {"load_balancer_mode": "vip"},
        "load_balancer_mode vip needs cluster_api_endpoint.host: the virtual IP keepalived moves",
    ),
    "vip as a name": (
        {"load_balancer_mode": "vip", "cluster_api_endpoint": {"host": "api.example.com", "port": 8443}},
        "load_balancer_mode vip: cluster_api_endpoint.host 'api.example.com' must be an IP address",
    ),
    "vip is a worker's address": (
        {"load_balancer_mode": "vip", "cluster_api_endpoint": {"host": "192.0.2.13", "port": 8443}},
        "the virtual IP 192.0.2.13 is the address of host w1: choose a free address in the node network",
    ),
    "vip on the apiserver port with haproxy on the control plane": (
        {"load_balancer_mode": "vip", "cluster_api_endpoint": {"host": "192.0.2.100"}},
        "cluster_api_endpoint.port is 6443, the port kube-apiserver listens on (control_plane_apiserver_port), and "
        "haproxy runs on the control-plane hosts in load_balancer_mode vip: give the endpoint another port (e.g. "
        "8443) or put the load balancers on hosts of their own (group load_balancers)",
    ),
    "vip on a moved apiserver port": (
        {
            "load_balancer_mode": "vip",
            "cluster_api_endpoint": {"host": "192.0.2.100", "port": 8443},
            "control_plane_apiserver_port": 8443,
        },
        "cluster_api_endpoint.port is 8443, the port kube-apiserver listens on",
    ),
    "vip inside the service network": (
        {"load_balancer_mode": "vip", "cluster_api_endpoint": {"host": "10.96.0.50", "port": 8443}},
        "cluster_api_endpoint.host 10.96.0.50 is inside cluster_service_cidr 10.96.0.0/12: the endpoint must be "
        "outside the pod and service networks",
    ),
    "vip outside the node network": (
        {
            "load_balancer_mode": "vip",
            "cluster_api_endpoint": {"host": "198.51.100.10", "port": 8443},
            "cluster_node_cidr": "192.0.2.0/24",
        },
        "the virtual IP 198.51.100.10 is outside cluster_node_cidr 192.0.2.0/24",
    ),
    "vip of another family": (
        {"load_balancer_mode": "vip", "cluster_api_endpoint": {"host": "2001:db8::100", "port": 8443}},
        "the virtual IP 2001:db8::100 is IPv6 but host cp1, a VRRP peer, has the IPv4 address 192.0.2.10",
    ),
    "local on a real address": (
        {"load_balancer_mode": "local", "cluster_api_endpoint": {"host": "192.0.2.100", "port": 7443}},
        "load_balancer_mode local: every node reaches the API through its own haproxy on the loopback address, so "
        "cluster_api_endpoint.host must be 127.0.0.1 (got '192.0.2.100'; leave cluster_api_endpoint out for "
        "127.0.0.1:6444)",
    ),
    "local on the apiserver port": (
        {"load_balancer_mode": "local", "cluster_api_endpoint": {"host": "127.0.0.1", "port": 6443}},
        "cluster_api_endpoint.port is 6443, the port kube-apiserver listens on (control_plane_apiserver_port), and "
        "haproxy runs on the control-plane hosts in load_balancer_mode local: give the endpoint another port (e.g. "
        "6444)",
    ),
    "endpoint on a worker in mode none": (
        {"cluster_api_endpoint": {"host": "192.0.2.13"}},
        "cluster_api_endpoint.host 192.0.2.13 is the address of host w1, which runs no apiserver (not in "
        "control_plane)",
    ),
    "endpoint inside the pod network": (
        {"cluster_api_endpoint": {"host": "10.244.1.1"}},
        "cluster_api_endpoint.host 10.244.1.1 is inside cluster_pod_cidr 10.244.0.0/16",
    ),
    "a /26 per node cannot hold 110 pods": (
        {"cluster_node_pod_cidr_prefix": 26},
        "cluster_node_pod_cidr_prefix 26 gives each node 61 pod addresses but the kubelet runs up to 110 pods "
        "(maxPods): use a prefix of /25 or shorter, or lower worker_kubelet_config_overrides.maxPods",
    ),
    "maxPods raised past a /24": (
        {"worker_kubelet_config_overrides": {"maxPods": 300}},
        "cluster_node_pod_cidr_prefix 24 gives each node 253 pod addresses but the kubelet runs up to 300 pods "
        "(maxPods): use a prefix of /23 or shorter",
    ),
    "maxPods not a number": (
        {"worker_kubelet_config_overrides": {"maxPods": "many"}},
        "worker_kubelet_config_overrides.maxPods 'many' is not a positive number",
    ),
    "IPv6 pods on IPv4 nodes": (
        {
            "cluster_pod_cidr": "fd00:10:244::/56",
            "cluster_service_cidr": "fd00:10:96::/112",
            "cluster_node_pod_cidr_prefix": 64,
        },
        "host cp1: ansible_host 192.0.2.10 is IPv4 but cluster_pod_cidr fd00:10:244::/56 is IPv6 (single-stack: "
        "nodes, pods and services in one family): set node_ip to the node's IPv6 address or use IPv4 cluster CIDRs",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_with_its_message(case):
    settings, message = REFUSED[case]
    errors = _errors(settings)
    assert any(message in error for error in errors), errors


def test_an_etcd_only_host_of_another_family_is_no_node():
    groups = {"etcd": ["e1"], "control_plane": ["cp1"], "workers": []}
    hosts = [make_host("e1", ansible_host="2001:db8::5"), make_host("cp1", ansible_host="192.0.2.10")]
    assert pf.inventory_errors(groups, hosts, {}) == []


@pytest.mark.parametrize(
    "mode, endpoint, expected",
    [
        ("none", {}, {"host": None, "port": 6443}),
        ("vip", {"host": "192.0.2.100", "port": 8443}, {"host": "192.0.2.100", "port": 8443}),
        ("vip", {"host": "192.0.2.100"}, {"host": "192.0.2.100", "port": 6443}),
        ("local", {}, {"host": "127.0.0.1", "port": 6444}),
        ("local", {"port": "7443"}, {"host": "127.0.0.1", "port": 7443}),
        ("none", {"host": " api.example.com ", "port": ""}, {"host": "api.example.com", "port": 6443}),
    ],
)
def test_api_endpoint_defaults_by_mode(mode, endpoint, expected):
    assert pf_settings.api_endpoint(mode, endpoint) == expected


# --------------------------------------------------------------------------- types (one line per variable)

SPECS = {
    "cluster_node_pod_cidr_prefix": {"type": "int", "default": 24, "description": "x"},
    "load_balancer_mode": {"type": "str", "choices": ["none", "vip", "local"], "default": "none"},
    "download_items": {"type": "list", "elements": "dict", "required": True},
    "addons_extra": {
        "type": "list",
        "elements": "dict",
        "options": {
            "name": {"type": "str", "required": True},
            "type": {"type": "str", "choices": ["helm", "manifests"]},
        },
    },
}


def test_type_errors_one_line_per_variable_naming_the_hosts_when_not_all():
    values = {
        "cp1": {"cluster_node_pod_cidr_prefix": "abc", "load_balancer_mode": "haproxy"},
        "w1": {"cluster_node_pod_cidr_prefix": "abc", "load_balancer_mode": "none"},
    }
    assert pf_host.type_errors(values, SPECS) == [
        "argument 'cluster_node_pod_cidr_prefix' is of type str and we were unable to convert to int: \"'abc'\" "
        "cannot be converted to an int",
        "value of load_balancer_mode must be one of: none, vip, local, got: haproxy (host cp1)",
    ]


def test_type_errors_check_sub_options_and_ignore_undeclared_and_absent_variables():
    values = {
        "cp1": {"addons_extra": [{"type": "kustomize"}], "some_other_var": "x", "cluster_node_pod_cidr_prefix": "25"}
    }
    assert pf_host.type_errors(values, SPECS) == [
        "missing required arguments: name found in addons_extra",
        "value of type must be one of: helm, manifests, got: kustomize found in addons_extra",
    ]
    # download_items absent: fine
    assert pf_host.type_errors({"cp1": {}, "w1": {"load_balancer_mode": "vip"}}, SPECS) == []


def test_the_endpoint_is_left_to_its_own_check_with_its_better_message():
    specs = dict(SPECS, cluster_api_endpoint={"type": "dict"})
    assert pf_host.type_errors({"cp1": {"cluster_api_endpoint": "https://192.0.2.100:8443"}}, specs) == []
    assert "cluster_api_endpoint: {host: 192.0.2.100, port: 8443}" in " ".join(
        _errors({"cluster_api_endpoint": "https://192.0.2.100:8443"})
    )


# --------------------------------------------------------------------------- the parts of endpoint_errors


def test_vip_errors():
    hosts = [{"host": "lb1", "address": "192.0.2.5"}, {"host": "w1", "address": "2001:db8::7"}, {"host": "w2"}]
    owners = {"192.0.2.5": "lb1"}
    vip = parse_ip("192.0.2.100")
    assert pf_endpoint._vip_errors("192.0.2.100", vip, owners, hosts, ["lb1", "w2"]) == []
    assert pf_endpoint._vip_errors("192.0.2.5", parse_ip("192.0.2.5"), owners, hosts, ["lb1"]) == [
        "the virtual IP 192.0.2.5 is the address of host lb1: choose a free address in the node network"
    ]
    assert pf_endpoint._vip_errors("::1", parse_ip("::1"), owners, hosts, ["w1"]) == [
        "load_balancer_mode vip: the virtual IP ::1 is a loopback address"
    ]
    assert pf_endpoint._vip_errors("192.0.2.100", vip, owners, hosts, ["lb1", "w1"]) == [
        "the virtual IP 192.0.2.100 is IPv4 but host w1, a VRRP peer, has the IPv6 address 2001:db8::7: use one family"
    ]


def test_endpoint_network_errors():
    settings = pf_settings.with_defaults({"cluster_node_cidr": "192.0.2.0/24"})
    ip = parse_ip("10.96.0.9")
    assert pf_endpoint._endpoint_network_errors("10.96.0.9", ip, "none", settings) == [
        "cluster_api_endpoint.host 10.96.0.9 is inside cluster_service_cidr 10.96.0.0/12: the endpoint must be "
        "outside the pod and service networks"
    ]
    assert pf_endpoint._endpoint_network_errors("10.96.0.9", ip, "vip", settings)[1] == (
        "the virtual IP 10.96.0.9 is outside cluster_node_cidr 192.0.2.0/24: keepalived announces it on the node "
        "network"
    )
    assert pf_endpoint._endpoint_network_errors("192.0.2.100", parse_ip("192.0.2.100"), "vip", settings) == []


@pytest.mark.parametrize(
    "mode, port, balancers, refused",
    [
        ("local", 6443, [], True),
        ("local", 6444, [], False),
        ("vip", 6443, [], True),
        ("vip", 6443, ["lb1"], False),  # haproxy on hosts of its own
        ("none", 6443, [], False),
    ],
)
def test_endpoint_port_errors(mode, port, balancers, refused):
    errors = pf_endpoint._endpoint_port_errors(mode, port, balancers, pf_settings.with_defaults({}))
    assert bool(errors) is refused
    assert all(e.startswith("cluster_api_endpoint.port is 6443, the port kube-apiserver listens on") for e in errors)
