"""Tests of module_utils/cluster/load_balancer.py: who runs the load balancer, validation, haproxy and keepalived
files."""

import re

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import load_balancer as L
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster.load_balancer import LbConfigError

CP = [
    {"name": "cp1", "address": "10.0.0.11"},
    {"name": "cp2", "address": "10.0.0.12"},
    {"name": "cp3", "address": "10.0.0.13"},
]
LBS = [
    {"name": "lb1", "address": "10.0.0.5"},
    {"name": "lb2", "address": "10.0.0.6"},
    {"name": "lb3", "address": "10.0.0.7"},
]


def vip(**changes):
    base = {
        "mode": "vip",
        "host": "lb2",
        "address": "10.0.0.6",
        "endpoint_host": "10.0.0.50",
        "endpoint_port": 6443,
        "backends": CP,
        "proxy_hosts": LBS,
        "control_plane": ["cp1", "cp2", "cp3"],
        "interface": "eth0",
    }
    base.update(changes)
    return base


def local(**changes):
    base = {
        "mode": "local",
        "host": "w1",
        "endpoint_host": "127.0.0.1",
        "endpoint_port": 6444,
        "backends": CP,
        "proxy_hosts": CP + [{"name": "w1", "address": "10.0.0.21"}],
        "control_plane": ["cp1", "cp2", "cp3"],
    }
    base.update(changes)
    return base


def directives(text, section):
    """The lines of one haproxy/keepalived section, stripped."""
    out, inside = [], False
    for line in text.splitlines():
        if line and not line.startswith(" "):
            inside = line.strip() == section
            continue
        if inside and line.strip():
            out.append(line.strip())
    return out


# --------------------------------------------------------------------------- who runs it

GROUPS = {
    "control_plane": ["cp1", "cp2"],
    "etcd": ["cp1", "cp2", "e1"],
    "workers": ["w1", "cp2", "w2"],
    "load_balancers": ["lb1", "lb2"],
}


@pytest.mark.parametrize(
    "mode, groups, expected",
    [
        ("none", GROUPS, []),
        ("vip", GROUPS, ["lb1", "lb2"]),
        # no dedicated load balancers: the control-plane hosts carry the VIP
        ("vip", {**GROUPS, "load_balancers": []}, ["cp1", "cp2"]),
        ("vip", {k: v for k, v in GROUPS.items() if k != "load_balancers"}, ["cp1", "cp2"]),
        # every node, each once, in inventory order; never the load_balancers or etcd-only hosts
        ("local", GROUPS, ["cp1", "cp2", "w1", "w2"]),
    ],
)
def test_proxy_hosts(mode, groups, expected):
    assert L.proxy_hosts(mode, groups) == expected


def test_unknown_mode_is_refused():
    with pytest.raises(LbConfigError, match="must be one of none, vip, local"):
        L.proxy_hosts("keepalived", GROUPS)
    with pytest.raises(LbConfigError, match="must be one of none, vip, local"):
        L.settings({"mode": "VIP"})


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "raw, message",
    [
        # haproxy on control-plane hosts cannot take the apiserver's port
        (vip(proxy_hosts=CP, host="cp1", endpoint_port=6443), "the port kube-apiserver listens on.*cp1, cp2, cp3"),
        (vip(proxy_hosts=CP, host="cp1", endpoint_port=6443), "or put the load balancers on hosts of their own"),
        (local(endpoint_port=6443), "the port kube-apiserver listens on.*cp1"),
        (vip(endpoint_host="api.example.org"), "must be the virtual IP address"),
        (vip(endpoint_host=None), "must be the virtual IP address"),
        (vip(endpoint_host="10.0.0.5"), "the virtual IP 10.0.0.5 is the address of host lb1"),
        (vip(endpoint_host="10.0.0.12"), "the virtual IP 10.0.0.12 is the address of host cp2"),
        (vip(endpoint_host="fd00::50"), "is IPv6: host lb1 has 10.0.0.5"),
        (vip(interface=None), "no network interface carries its node address"),
        (vip(interface="eth0; rm"), "set load_balancer_interface"),
        (vip(virtual_router_id=0), "load_balancer_virtual_router_id must be a whole number from 1 to 255"),
        (vip(virtual_router_id=256), "load_balancer_virtual_router_id"),
        (local(endpoint_host="10.0.0.50"), "must be 127.0.0.1"),
        (local(endpoint_host=None), "must be 127.0.0.1"),
        (vip(endpoint_port=0), "cluster_api_endpoint.port must be a TCP port"),
        (vip(endpoint_port="https"), "cluster_api_endpoint.port must be a TCP port"),
        (vip(monitor_port=6443), "load_balancer_monitor_port 6443"),
        (vip(backends=[]), "group control_plane is empty"),
        (vip(backends=[{"name": "cp1", "address": None}]), "no address for host cp1.*gather its facts"),
        (vip(backends=CP + [{"name": "cp4", "address": "10.0.0.11"}]), "cp1 and cp4 have the same address"),
        (vip(proxy_hosts=LBS + [LBS[0]]), "lb1 is listed twice"),
        (vip(host="w9"), "host w9 does not run the load balancer"),
        (vip(timeout_client="forever"), "load_balancer_timeout_client must be a haproxy time"),
        (vip(check_fall=0), "load_balancer_check_fall"),
        (vip(colour="blue"), "unknown load balancer setting"),
    ],
)
def test_refusals(raw, message):
    with pytest.raises(LbConfigError, match=message):
        L.settings(raw)


def test_dedicated_load_balancers_may_use_the_apiserver_port():
    assert L.settings(vip(endpoint_port=6443))["endpoint_port"] == 6443


def test_mode_none_needs_nothing_and_renders_nothing():
    assert L.settings({"mode": "none"})["mode"] == "none"
    with pytest.raises(LbConfigError, match="no haproxy configuration"):
        L.haproxy_config({"mode": "none"})
    with pytest.raises(LbConfigError, match="only in load_balancer_mode vip"):
        L.keepalived_config(local())


# --------------------------------------------------------------------------- haproxy


def test_haproxy_backends_are_every_apiserver_with_a_tls_readyz_check():
    text = L.haproxy_config(vip(apiserver_port=6443, check_interval="2s", check_rise=3, check_fall=4))
    backend = directives(text, "backend kube-apiserver")
    assert backend[-3:] == ["server cp1 10.0.0.11:6443", "server cp2 10.0.0.12:6443", "server cp3 10.0.0.13:6443"]
    assert "option httpchk" in backend
    assert "http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host kubernetes" in backend
    assert "http-check expect status 200" in backend
    default_server = next(line for line in backend if line.startswith("default-server")).split()
    # checks over TLS, the apiserver's certificate verified against the cluster CA, our client certificate sent
    for word in ("check", "check-ssl", "on-marked-down"):
        assert word in default_server
    assert default_server[default_server.index("verify") + 1] == "required"
    assert default_server[default_server.index("ca-file") + 1] == "/etc/kubernetes/pki/ca.crt"
    assert default_server[default_server.index("crt") + 1] == "/etc/haproxy/apiserver-health.pem"
    assert default_server[default_server.index("verifyhost") + 1] == "kubernetes"
    assert default_server[default_server.index("inter") + 1] == "2s"
    assert default_server[default_server.index("rise") + 1] == "3"
    assert default_server[default_server.index("fall") + 1] == "4"
    # TCP passthrough: no "ssl" on the server lines (clients' certificates reach the apiservers)
    assert "ssl" not in default_server
    assert all(" ssl" not in line for line in backend if line.startswith("server"))


def test_haproxy_modes_and_timeouts():
    defaults = directives(L.haproxy_config(vip()), "defaults")
    assert "mode tcp" in defaults
    assert "timeout client 1h" in defaults and "timeout server 1h" in defaults
    assert "timeout connect 5s" in defaults
    custom = directives(L.haproxy_config(vip(timeout_client="2h", timeout_server="90m")), "defaults")
    assert "timeout client 2h" in custom and "timeout server 90m" in custom


@pytest.mark.parametrize(
    "raw, bind",
    [
        (vip(), "bind 0.0.0.0:6443"),  # dedicated hosts: the apiserver port is free
        (vip(proxy_hosts=CP, host="cp2", endpoint_port=8443), "bind 0.0.0.0:8443"),
        (local(), "bind 127.0.0.1:6444"),
        (local(bind_address="0.0.0.0"), "bind 0.0.0.0:6444"),  # noqa: S104 - the override
        (
            vip(
                endpoint_host="fd00::50",
                proxy_hosts=[{"name": "lb1", "address": "fd00::5"}, {"name": "lb2", "address": "fd00::6"}],
            ),
            "bind :::6443",
        ),
    ],
)
def test_haproxy_frontend(raw, bind):
    assert directives(L.haproxy_config(raw), "frontend kube-apiserver") == [bind, "default_backend kube-apiserver"]


def test_haproxy_monitor_listens_on_loopback_only():
    monitor = directives(L.haproxy_config(vip(monitor_port=9000)), "frontend monitor")
    assert "bind 127.0.0.1:9000" in monitor and "monitor-uri /healthz" in monitor and "mode http" in monitor


def test_ipv6_backends():
    backends = [{"name": "cp1", "address": "fd00:0::11"}]
    text = L.haproxy_config(local(backends=backends, proxy_hosts=backends + [{"name": "w1", "address": "fd00::21"}]))
    assert "server cp1 fd00::11:6443" in directives(text, "backend kube-apiserver")


# --------------------------------------------------------------------------- keepalived


@pytest.mark.parametrize(
    "host, priority, peers",
    [
        ("lb1", 200, ["10.0.0.6", "10.0.0.7"]),
        ("lb2", 199, ["10.0.0.5", "10.0.0.7"]),
        ("lb3", 198, ["10.0.0.5", "10.0.0.6"]),
    ],
)
def test_vrrp_priorities_follow_inventory_order_and_peers_exclude_self(host, priority, peers):
    address = next(h["address"] for h in LBS if h["name"] == host)
    s = L.settings(vip(host=host, address=address))
    assert L.vrrp_peers(s) == (priority, peers)
    text = L.keepalived_config(vip(host=host, address=address))
    instance = directives(text, "vrrp_instance kube_apiserver {")
    assert "priority %d" % priority in instance
    assert "unicast_src_ip %s" % address in instance
    assert "check_unicast_src" in instance  # adverts only from the peers listed below
    start = instance.index("unicast_peer {")
    assert instance[start + 1 : start + 1 + len(peers)] == peers
    assert instance[start + 1 + len(peers)] == "}"


def test_keepalived_instance():
    text = L.keepalived_config(vip(virtual_router_id=77, interface="ens3"))
    instance = directives(text, "vrrp_instance kube_apiserver {")
    assert "state BACKUP" in instance and "nopreempt" in instance
    assert "interface ens3" in instance and "virtual_router_id 77" in instance
    assert "10.0.0.50/32 dev ens3" in instance
    assert "haproxy_serving" in instance
    script = directives(text, "vrrp_script haproxy_serving {")
    assert script[0] == 'script "/etc/keepalived/check_haproxy.sh"'
    assert "enable_script_security" in directives(text, "global_defs {")
    assert "nopreempt" not in L.keepalived_config(vip(nopreempt=False))


def test_keepalived_ipv6_vip():
    peers = [{"name": "lb1", "address": "fd00::5"}, {"name": "lb2", "address": "fd00::6"}]
    text = L.keepalived_config(vip(host="lb1", endpoint_host="fd00::50", proxy_hosts=peers))
    assert "fd00::50/128 dev eth0" in text and "unicast_src_ip fd00::5" in text


def test_two_hosts_render_one_vip_with_mirrored_peers():
    one = L.keepalived_config(vip(host="lb1", proxy_hosts=LBS[:2]))
    two = L.keepalived_config(vip(host="lb2", proxy_hosts=LBS[:2]))
    assert "unicast_src_ip 10.0.0.5" in one and "        10.0.0.6\n" in one
    assert "unicast_src_ip 10.0.0.6" in two and "        10.0.0.5\n" in two
    # everything else is the same on both hosts: VIP, router id, track script

    def rest(text):
        return [line for line in text.splitlines() if not re.search(r"10\.0\.0\.[56]$|priority|router_id ", line)]

    assert rest(one) == rest(two)
    assert "        10.0.0.50/32 dev eth0" in rest(one)


# --------------------------------------------------------------------------- interface from facts

FACTS = {
    "interfaces": ["lo", "eth0", "eth1", "br-int"],
    "lo": {"device": "lo", "ipv4": {"address": "127.0.0.1"}},
    "eth0": {
        "device": "eth0",
        "ipv4": {"address": "192.168.1.5"},
        "ipv4_secondaries": [{"address": "10.0.0.50"}],
        "ipv6": [{"address": "fd00::5"}],
    },
    "eth1": {"device": "eth1", "ipv4": {"address": "10.0.0.6"}},
    "br_int": {"device": "br-int", "ipv4": {"address": "172.16.0.1"}},
}


@pytest.mark.parametrize(
    "address, interface",
    [
        ("10.0.0.6", "eth1"),
        ("192.168.1.5", "eth0"),
        ("10.0.0.50", "eth0"),
        ("fd00:0::5", "eth0"),
        ("172.16.0.1", "br-int"),
        ("10.9.9.9", None),
        (None, None),
    ],
)
def test_interface_for(address, interface):
    assert L.interface_for(FACTS, address) == interface


@pytest.mark.parametrize(
    "raw, address",
    [
        (vip(), "0.0.0.0"),  # noqa: S104 - the VIP may arrive on any interface
        (local(), "127.0.0.1"),
        (local(endpoint_host="::1"), "::1"),
        (vip(bind_address="10.0.0.6", interface=""), None),  # no interface: refused before
        (vip(bind_address="10.0.0.6"), "10.0.0.6"),
    ],
)
def test_bind_address_in_the_settings(raw, address):
    if address is None:
        with pytest.raises(LbConfigError, match="set load_balancer_interface"):
            L.settings(raw)
    else:
        assert L.settings(raw)["bind_address"] == address


def test_bind_address_must_be_an_ip():
    with pytest.raises(LbConfigError, match="load_balancer_bind_address must be an IP address"):
        L.settings(local(bind_address="localhost"))


# --------------------------------------------------------------------------- the parts of settings()


def _vip_state(**changes):
    return dict(L.DEFAULTS, **vip(**changes))


@pytest.mark.parametrize(
    "endpoint, changes, match",
    [
        (None, {}, "must be the virtual IP address"),
        ("10.0.0.12", {}, "the virtual IP 10.0.0.12 is the address of host cp2"),
        ("fd00::50", {}, "is IPv6: host lb1 has 10.0.0.5"),
        ("10.0.0.50", {"virtual_router_id": 256}, "load_balancer_virtual_router_id must be a whole number"),
        ("10.0.0.50", {"interface": "eth 0"}, "host lb2: no network interface carries its node address 10.0.0.6"),
    ],
)
def test_check_vip_refuses(endpoint, changes, match):
    with pytest.raises(LbConfigError, match=match):
        L._check_vip(_vip_state(**changes), L._ip(endpoint) if endpoint else None)


def test_check_vip_normalizes_the_endpoint_and_the_keepalived_numbers():
    s = _vip_state(endpoint_host="fd00:0::50", virtual_router_id="7", advert_int="2")
    s["proxy_hosts"] = [{"name": "lb1", "address": "fd00::5"}]
    L._check_vip(s, L._ip("fd00::50"))
    assert (s["endpoint_host"], s["virtual_router_id"], s["advert_int"]) == ("fd00::50", 7, 2)


def test_check_haproxy_tuning_keeps_times_as_text_and_counts_as_numbers():
    s = dict(L.DEFAULTS, timeout_client=30, check_rise="4")
    L._check_haproxy_tuning(s)
    assert (s["timeout_client"], s["check_rise"], s["maxconn"]) == ("30", 4, 4000)
    with pytest.raises(LbConfigError, match="load_balancer_check_host 'a b' is not a host name"):
        L._check_haproxy_tuning(dict(L.DEFAULTS, check_host="a b"))
