"""kube_upgrade_plan's test bench: fake apiservers and etcd members over HTTP (one in-process server each, a closed
port for one that is down) and the Node list behind the kubeconfig's server; set versions, then ``Lab.run``."""

import base64
import os
import socket

from support.modules import REPO, JsonServer, run_module_file

MODULE = os.path.join(REPO, "plugins", "modules", "kube_upgrade_plan.py")
CPS = ["cp1", "cp2", "cp3"]
EVERYTHING = dict.fromkeys(("etcd", "apiserver", "node", "containerd", "drain"), True)
NOTHING = dict.fromkeys(("etcd", "apiserver", "node", "containerd", "drain"), False)


def node(name, kubelet="v1.20.2", runtime="containerd://1.6.20~ds1", ready="True"):
    return {
        "metadata": {"name": name},
        "status": {
            "nodeInfo": {"kubeletVersion": kubelet, "containerRuntimeVersion": runtime},
            "conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady" if ready == "True" else "X"}],
        },
    }


class Server(object):
    """One fake endpoint; ``routes[(method, path)]`` -> (status, JSON answer); ``hits`` counts requests."""

    def __init__(self, routes):
        self.routes = routes
        self.hits = []
        self.server = JsonServer(self._answer)
        self.url = self.server.url

    def _answer(self, method, path, raw):
        self.hits.append((method, path))
        return self.routes.get((method, path), (404, {"message": "no route"}))

    def close(self):
        self.server.close()


def closed_port_url():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return "http://127.0.0.1:%d" % port


class Lab(object):
    """Three apiservers, the API endpoint (Node list), three etcd members; set versions, then ``run``."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.servers = []
        self.endpoint = self.server({})
        self.nodes = [node(h) for h in CPS + ["w1"]]
        self.apiservers = {h: self.server({("GET", "/version"): (200, {"gitVersion": "v1.20.2"})}) for h in CPS}
        self.etcd = {h: self.etcd_member("3.4.23") for h in CPS}
        self.kubeconfig = tmp_path / "admin.conf"
        dummy = base64.b64encode(b"not used over plain HTTP").decode()
        self.kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: %s\n  name: kubesmith\n"
            "users:\n- name: admin\n  user:\n    client-certificate-data: %s\n    client-key-data: %s\n"
            % (self.endpoint.url, dummy, dummy)
        )

    def server(self, routes):
        srv = Server(routes)
        self.servers.append(srv)
        return srv

    def etcd_member(self, version, healthy=True):
        return self.server(
            {
                ("POST", "/v3/maintenance/status"): (200, {"header": {"member_id": "1"}, "version": version}),
                ("GET", "/health"): (200, {"health": "true"}) if healthy else (503, {"health": "false"}),
            }
        )

    def args(self, **extra):
        self.endpoint.routes[("GET", "/api/v1/nodes")] = (200, {"kind": "NodeList", "items": self.nodes})
        args = {
            "kubeconfig": str(self.kubeconfig),
            "apiservers": {h: s if isinstance(s, str) else s.url for h, s in self.apiservers.items()},
            "nodes": {h: h for h in CPS + ["w1"]},
            "etcd_members": {h: s if isinstance(s, str) else s.url for h, s in self.etcd.items()},
            "etcd_hosts": CPS,
            "control_plane_hosts": CPS,
            "worker_hosts": ["w1"],
            "kube_version": "1.20.2+kubesmith.1",
            "etcd_version": "3.5.16",
            "containerd_version": "1.7.24",
            "request_timeout": 5,
        }
        args.update(extra)
        return {k: v for k, v in args.items() if v is not None}

    def run(self, check_mode=False, **extra):
        return run_module_file(MODULE, self.tmp_path, self.args(**extra), check_mode=check_mode)

    def close(self):
        for srv in self.servers:
            srv.close()
