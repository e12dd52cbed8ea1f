# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The API endpoint's load balancer: which hosts run it, and its haproxy and keepalived configuration.

Pure logic, standard library only; the ``kubesmith.cluster.load_balancer_*`` filters call it and the
``load_balancer`` role writes what it returns.

Modes (variable ``load_balancer_mode``):

``none``
    nothing here: a single control-plane host, or a load balancer the user runs.
``vip``
    haproxy + keepalived on the hosts of group ``load_balancers`` (or, when that group is empty, on the
    control-plane hosts). keepalived moves a virtual IP -- ``cluster_api_endpoint.host`` -- between them with
    unicast VRRP, accepting adverts only from the listed peers (``check_unicast_src``); haproxy listens on
    ``cluster_api_endpoint.port`` on every address of each host.
``local``
    haproxy on every node (control-plane and workers) listening on ``127.0.0.1:<cluster_api_endpoint.port>``
    (``cluster_api_endpoint.host`` must be a loopback address).

haproxy passes TCP through (clients' certificates reach the apiservers) and checks each apiserver's ``/readyz``
over TLS with a client certificate (kube-apiserver runs with ``--anonymous-auth=false``): a server is taken out
when ``/readyz`` fails and its connections are closed, so watches reconnect to a healthy apiserver.

Every function takes a plain ``settings`` dict (see :func:`settings`) and raises :class:`LbConfigError` with a
message a person can act on.
"""

from __future__ import absolute_import, annotations, division, print_function

import ipaddress
import re

MODES = ("none", "vip", "local")

DEFAULTS = {
    "mode": "none",
    "host": None,  # inventory_hostname of the host the configuration is for
    "address": None,  # its node address (the VRRP source address)
    "endpoint_host": None,  # cluster_api_endpoint.host
    "endpoint_port": None,  # cluster_api_endpoint.port
    "apiserver_port": 6443,
    "backends": [],  # [{name, address}] every control-plane host, in inventory order
    "proxy_hosts": [],  # [{name, address}] the hosts that run haproxy (vip: the VRRP peers), in inventory order
    "control_plane": [],  # inventory names of the control-plane hosts (their port apiserver_port is taken)
    "bind_address": None,  # default: vip 0.0.0.0 (:: for an IPv6 VIP), local the endpoint host
    "monitor_port": 8404,  # 127.0.0.1 only: /healthz (haproxy serving) and /stats
    "ca_file": "/etc/kubernetes/pki/ca.crt",
    "client_pem": "/etc/haproxy/apiserver-health.pem",
    "check_host": "kubernetes",  # Host header and name checked in the apiserver's certificate (a SAN of it)
    "timeout_connect": "5s",
    "timeout_client": "1h",
    "timeout_server": "1h",
    "timeout_check": "5s",
    "check_interval": "3s",
    "check_rise": 2,
    "check_fall": 3,
    "maxconn": 4000,
    # keepalived
    "interface": None,
    "virtual_router_id": 51,
    "advert_int": 1,
    "nopreempt": True,
    "check_script": "/etc/keepalived/check_haproxy.sh",
    "check_script_interval": 2,
    "check_script_fall": 2,
    "check_script_rise": 2,
}

LOCAL_ENDPOINT_HOST = "127.0.0.1"
LOCAL_ENDPOINT_PORT = 6444
"""load_balancer_mode local without cluster_api_endpoint: every node's haproxy listens on 127.0.0.1:6444 (not the
apiserver's 6443, which the control-plane hosts' apiservers hold)."""

PRIORITY_FIRST = 200  # priority of the first host; each next host in inventory order one less
_TIME = re.compile(r"^[0-9]+(us|ms|s|m|h|d)?$")
_NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")


class LbConfigError(Exception):
    """Bad input; the message says which variable and what to do."""


def _ip(value):
    try:
        return ipaddress.ip_address(str(value).strip().strip("[]"))
    except ValueError:
        return None


def _port(value, what):
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise LbConfigError("%s must be a TCP port (got %r)" % (what, value)) from None
    if not 0 < port < 65536 or isinstance(value, bool):
        raise LbConfigError("%s must be a TCP port (got %r)" % (what, value))
    return port


def _int(value, what, low, high):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise LbConfigError("%s must be a whole number from %d to %d (got %r)" % (what, low, high, value)) from None
    if not low <= number <= high or isinstance(value, bool):
        raise LbConfigError("%s must be a whole number from %d to %d (got %r)" % (what, low, high, value))
    return number


def _hosts(entries, what):
    out, names, addresses = [], set(), {}
    for entry in entries or []:
        name, address = entry.get("name"), entry.get("address")
        if not name or not _NAME.match(str(name)):
            raise LbConfigError("%s: %r is not a usable host name" % (what, name))
        if not address:
            raise LbConfigError(
                "%s: no address for host %s: set its node_ip (or an IP address as ansible_host), or gather its "
                "facts first" % (what, name)
            )
        ip = _ip(address)
        address = str(ip) if ip else str(address)
        if name in names:
            raise LbConfigError("%s: host %s is listed twice" % (what, name))
        if address in addresses:
            raise LbConfigError(
                "%s: hosts %s and %s have the same address %s" % (what, addresses[address], name, address)
            )
        names.add(name)
        addresses[address] = name
        out.append({"name": str(name), "address": address})
    return out


def proxy_hosts(mode: str, groups: dict, node_groups: tuple[str, ...] = ("control_plane", "workers")) -> list[str]:
    """Inventory names of the hosts that run haproxy (and, in vip mode, keepalived), in inventory order."""
    if mode not in MODES:
        raise LbConfigError("load_balancer_mode must be one of %s (got %r)" % (", ".join(MODES), mode))
    if mode == "none":
        return []
    wanted = []
    if mode == "vip":
        wanted = ["load_balancers"] if groups.get("load_balancers") else ["control_plane"]
    else:
        wanted = list(node_groups)
    out = []
    for group in wanted:
        for host in groups.get(group) or []:
            if host not in out:
                out.append(host)
    return out


def api_endpoint(mode: str, endpoint: dict | None) -> dict:
    """The API endpoint's parts with the defaults of ``load_balancer_mode``: ``{"host": str or None, "port": int}``.

    ``host`` None means the primary control-plane host's address (the caller knows it). The one rule for every
    role: local mode without an endpoint is ``127.0.0.1:6444`` (:data:`LOCAL_ENDPOINT_PORT`); otherwise port 6443.
    ``endpoint`` is ``cluster_api_endpoint`` (a mapping, maybe empty); preflight
    (module_utils/cluster/preflight_endpoint.py, endpoint_errors) refuses bad values before this runs.
    """
    endpoint = endpoint if isinstance(endpoint, dict) else {}
    host = endpoint.get("host")
    host = str(host).strip() if host not in (None, "") else None
    port = endpoint.get("port")
    if isinstance(port, bool) or not (isinstance(port, int) or (isinstance(port, str) and port.strip().isdigit())):
        port = None
    port = int(port) if port is not None else None
    if mode == "local":
        return {"host": host or LOCAL_ENDPOINT_HOST, "port": port or LOCAL_ENDPOINT_PORT}
    return {"host": host, "port": port or 6443}


def settings(raw: dict) -> dict:
    """Validated settings: ``raw`` over :data:`DEFAULTS`. Raises :class:`LbConfigError`."""
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise LbConfigError("unknown load balancer setting(s): %s" % ", ".join(unknown))
    s = dict(DEFAULTS)
    s.update({k: v for k, v in raw.items() if v is not None and v != ""})
    if s["mode"] not in MODES:
        raise LbConfigError("load_balancer_mode must be one of %s (got %r)" % (", ".join(MODES), s["mode"]))
    if s["mode"] == "none":
        return s
    _check_ports(s)
    _check_hosts(s)
    endpoint = _ip(s["endpoint_host"]) if s["endpoint_host"] else None
    if s["mode"] == "local":
        if endpoint is None or not endpoint.is_loopback:
            raise LbConfigError(
                "load_balancer_mode local: every node reaches the API through its own haproxy on the loopback "
                "address, so cluster_api_endpoint.host must be 127.0.0.1 (got %r)" % (s["endpoint_host"],)
            )
        s["endpoint_host"] = str(endpoint)
    if s["mode"] == "vip":
        _check_vip(s, endpoint)
    _check_haproxy_tuning(s)
    s["bind_address"] = bind_address(s)
    return s


def _check_ports(s):
    """The endpoint, apiserver and monitor ports as numbers in ``s``; the monitor port must be a third port."""
    s["endpoint_port"] = _port(s["endpoint_port"], "cluster_api_endpoint.port")
    s["apiserver_port"] = _port(s["apiserver_port"], "the apiserver port (control_plane_apiserver_port)")
    s["monitor_port"] = _port(s["monitor_port"], "load_balancer_monitor_port")
    if s["monitor_port"] in (s["endpoint_port"], s["apiserver_port"]):
        raise LbConfigError(
            "load_balancer_monitor_port %d is also the API endpoint or apiserver port: choose another"
            % s["monitor_port"]
        )


def _check_hosts(s):
    """The backends and proxy hosts checked in ``s``: this host among the proxies, and no proxy on a control-plane
    host listening on the apiserver's own port."""
    s["backends"] = _hosts(s["backends"], "apiservers (group control_plane)")
    if not s["backends"]:
        raise LbConfigError("no apiserver to balance: group control_plane is empty")
    s["proxy_hosts"] = _hosts(s["proxy_hosts"], "load balancer hosts")
    if not s["proxy_hosts"]:
        raise LbConfigError("load_balancer_mode %s: no host to run the load balancer on" % s["mode"])
    names = [h["name"] for h in s["proxy_hosts"]]
    if s["host"] not in names:
        raise LbConfigError(
            "host %s does not run the load balancer (those that do: %s)" % (s["host"], ", ".join(names))
        )
    shared = [name for name in names if name in set(s["control_plane"] or ())]
    if shared and s["endpoint_port"] == s["apiserver_port"]:
        raise LbConfigError(
            "cluster_api_endpoint.port is %d, the port kube-apiserver listens on, and haproxy runs on the "
            "control-plane host(s) %s: give the endpoint another port (e.g. 8443)%s"
            % (
                s["endpoint_port"],
                ", ".join(shared),
                " or put the load balancers on hosts of their own (group load_balancers)" if s["mode"] == "vip" else "",
            )
        )


def _check_vip(s, endpoint):
    """vip mode: ``endpoint`` (the parsed endpoint host) is a free virtual IP of the proxies' IP family, and the
    keepalived settings in ``s`` are usable."""
    if endpoint is None:
        raise LbConfigError(
            "load_balancer_mode vip: cluster_api_endpoint.host must be the virtual IP address keepalived "
            "moves between the load balancers (got %r)" % (s["endpoint_host"],)
        )
    s["endpoint_host"] = str(endpoint)
    taken = {h["address"]: h["name"] for h in s["proxy_hosts"] + s["backends"]}
    if s["endpoint_host"] in taken:
        raise LbConfigError(
            "the virtual IP %s is the address of host %s: choose a free address in the same network"
            % (s["endpoint_host"], taken[s["endpoint_host"]])
        )
    for host in s["proxy_hosts"]:
        ip = _ip(host["address"])
        if ip is None or ip.version != endpoint.version:
            raise LbConfigError(
                "the VRRP peers talk over their node addresses and the virtual IP %s is IPv%d: host %s has %s"
                % (s["endpoint_host"], endpoint.version, host["name"], host["address"])
            )
    if len(s["proxy_hosts"]) > PRIORITY_FIRST:
        raise LbConfigError("at most %d load balancer hosts" % PRIORITY_FIRST)
    s["virtual_router_id"] = _int(s["virtual_router_id"], "load_balancer_virtual_router_id", 1, 255)
    s["advert_int"] = _int(s["advert_int"], "load_balancer_advert_int", 1, 255)
    if not s["interface"] or not re.match(r"^[A-Za-z0-9_.@:-]+$", str(s["interface"])):
        raise LbConfigError(
            "host %s: no network interface carries its node address %s; set load_balancer_interface"
            % (s["host"], s["address"])
        )


def _check_haproxy_tuning(s):
    """haproxy's timeouts, health-check counts, maxconn and check host in ``s``, in the types the config wants."""
    for name in ("timeout_connect", "timeout_client", "timeout_server", "timeout_check", "check_interval"):
        if not _TIME.match(str(s[name])):
            raise LbConfigError("load_balancer_%s must be a haproxy time such as 5s, 1h (got %r)" % (name, s[name]))
        s[name] = str(s[name])
    s["check_rise"] = _int(s["check_rise"], "load_balancer_check_rise", 1, 100)
    s["check_fall"] = _int(s["check_fall"], "load_balancer_check_fall", 1, 100)
    s["maxconn"] = _int(s["maxconn"], "load_balancer_maxconn", 1, 10000000)
    if not _NAME.match(str(s["check_host"])):
        raise LbConfigError("load_balancer_check_host %r is not a host name" % (s["check_host"],))


def bind_address(s: dict) -> str:
    """Where the endpoint port listens: ``bind_address``, else vip every address, local the endpoint host."""
    if s["bind_address"]:
        ip = _ip(s["bind_address"])
        if ip is None:
            raise LbConfigError("load_balancer_bind_address must be an IP address (got %r)" % (s["bind_address"],))
        return str(ip)
    if s["mode"] == "local":
        return s["endpoint_host"]
    # every address: the VIP comes and goes, and haproxy must already listen when it arrives
    return "::" if _ip(s["endpoint_host"]).version == 6 else "0.0.0.0"  # noqa: S104


def _addr(host, port):
    # haproxy takes the port after the last colon, IPv6 addresses included
    return "%s:%d" % (host, port)


def haproxy_config(raw: dict) -> str:
    """haproxy.cfg text for one host."""
    s = settings(raw)
    if s["mode"] == "none":
        raise LbConfigError("load_balancer_mode none: there is no haproxy configuration")
    lines = [
        "# Managed by kubesmith.cluster (role load_balancer, mode %s): local changes are overwritten." % s["mode"],
        "# TCP passthrough to every kube-apiserver; /readyz checked over TLS with a client certificate.",
        "global",
        "    log stdout format raw local0 notice",
        "    maxconn %d" % s["maxconn"],
        "    chroot /var/lib/haproxy",
        "    user haproxy",
        "    group haproxy",
        "",
        "defaults",
        "    mode tcp",
        "    log global",
        "    option tcplog",
        "    option dontlognull",
        "    retries 3",
        "    option redispatch",
        "    timeout connect %s" % s["timeout_connect"],
        # long enough for watches (the apiserver ends them after 30-60 min) and idle kubectl exec/logs -f
        "    timeout client %s" % s["timeout_client"],
        "    timeout server %s" % s["timeout_server"],
        "    timeout check %s" % s["timeout_check"],
        "",
        "frontend kube-apiserver",
        "    bind %s" % _addr(bind_address(s), s["endpoint_port"]),
        "    default_backend kube-apiserver",
        "",
        "backend kube-apiserver",
        "    balance leastconn",
        "    option httpchk",
        "    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host %s" % s["check_host"],
        "    http-check expect status 200",
        "    default-server check check-ssl verify required verifyhost %s ca-file %s crt %s inter %s rise %d "
        "fall %d on-marked-down shutdown-sessions"
        % (
            s["check_host"],
            s["ca_file"],
            s["client_pem"],
            s["check_interval"],
            s["check_rise"],
            s["check_fall"],
        ),
    ]
    for backend in s["backends"]:
        lines.append("    server %s %s" % (backend["name"], _addr(backend["address"], s["apiserver_port"])))
    lines += [
        "",
        "# /healthz answers 200 while haproxy serves (keepalived's track script); /stats shows each apiserver's state.",
        "frontend monitor",
        "    mode http",
        "    bind %s" % _addr("127.0.0.1", s["monitor_port"]),
        "    timeout client 10s",
        "    timeout http-request 5s",
        "    monitor-uri /healthz",
        "    stats enable",
        "    stats uri /stats",
        "    stats show-legends",
        "",
    ]
    return "\n".join(lines)


def vrrp_peers(s: dict) -> tuple[int, list[str]]:
    """(priority of this host, [addresses of the other hosts]) -- first host in inventory order highest."""
    names = [h["name"] for h in s["proxy_hosts"]]
    index = names.index(s["host"])
    return PRIORITY_FIRST - index, [h["address"] for h in s["proxy_hosts"] if h["name"] != s["host"]]


def keepalived_config(raw: dict) -> str:
    """keepalived.conf text for one host (vip mode)."""
    s = settings(raw)
    if s["mode"] != "vip":
        raise LbConfigError("keepalived runs only in load_balancer_mode vip (mode is %s)" % s["mode"])
    me = next(h for h in s["proxy_hosts"] if h["name"] == s["host"])
    priority, peers = vrrp_peers(s)
    prefix = 32 if _ip(s["endpoint_host"]).version == 4 else 128
    lines = [
        "# Managed by kubesmith.cluster (role load_balancer, mode vip): local changes are overwritten.",
        "global_defs {",
        "    router_id %s" % s["host"],
        "    script_user root",
        "    enable_script_security",
        "}",
        "",
        "# haproxy answering on its monitor port, not only running: a host that fails it gives up the VIP.",
        "vrrp_script haproxy_serving {",
        '    script "%s"' % s["check_script"],
        "    interval %d" % int(s["check_script_interval"]),
        "    timeout %d" % max(1, int(s["check_script_interval"])),
        "    fall %d" % int(s["check_script_fall"]),
        "    rise %d" % int(s["check_script_rise"]),
        "}",
        "",
        "vrrp_instance kube_apiserver {",
        # every host starts as BACKUP: with nopreempt the VIP stays where it is until that host fails
        "    state BACKUP",
        "    interface %s" % s["interface"],
        "    virtual_router_id %d" % s["virtual_router_id"],
        "    priority %d" % priority,
        "    advert_int %d" % s["advert_int"],
    ]
    if s["nopreempt"]:
        lines.append("    nopreempt")
    lines.append("    unicast_src_ip %s" % me["address"])
    # adverts from any address but the peers' are dropped: a host on the same network cannot take the VIP over
    lines.append("    check_unicast_src")
    lines.append("    unicast_peer {")
    lines += ["        %s" % peer for peer in peers]
    lines += [
        "    }",
        "    virtual_ipaddress {",
        "        %s/%d dev %s" % (s["endpoint_host"], prefix, s["interface"]),
        "    }",
        "    track_script {",
        "        haproxy_serving",
        "    }",
        "}",
        "",
    ]
    return "\n".join(lines)


def interface_for(facts: dict, address: str) -> str | None:
    """Name of the interface that carries ``address`` in Ansible facts (``ansible_facts``), or None."""
    ip = _ip(address)
    if ip is None or not facts:
        return None
    for name in facts.get("interfaces") or []:
        data = facts.get(str(name).replace("-", "_").replace(".", "_")) or facts.get(name) or {}
        if not isinstance(data, dict):
            continue
        if ip.version == 4:
            entries = [data.get("ipv4") or {}] + list(data.get("ipv4_secondaries") or [])
        else:
            entries = list(data.get("ipv6") or [])
        for entry in entries:
            if _ip(entry.get("address")) == ip:
                return data.get("device") or name
    return None
