"""Scenario `node`, load_balancer_mode local: haproxy on every node (the control-plane host and the worker, not the
etcd-only host) listens on 127.0.0.1:6444, checks the apiserver's /readyz with the health-check client certificate
the PKI gave every node, and is the only way the node's kubelet and kube-proxy reach the API."""

import pytest
import testinfra

NODES = {"ks-node-1": "10.127.0.11", "ks-node-2": "10.127.0.12"}
ETCD_HOST = "ks-node-3"
ENDPOINT = "https://127.0.0.1:6444"
PKI = "/etc/kubernetes/pki"


def _host(name):
    return testinfra.get_host("podman://" + name)


@pytest.mark.parametrize("name", sorted(NODES))
def test_haproxy_on_every_node_listens_on_loopback_and_sees_the_apiserver_up(name):
    host = _host(name)
    assert host.service("haproxy").is_running and host.service("haproxy").is_enabled
    assert not host.service("keepalived").is_running
    # Debian's haproxy: the master stays root to reload, the worker that serves runs as user haproxy (chrooted)
    users = host.check_output("ps -o user= -C haproxy").split()
    assert sorted(set(users)) == ["haproxy", "root"] and users.count("root") == 1, users
    listening = host.check_output("ss -Hltn 'sport = :6444'")
    assert "127.0.0.1:6444" in listening and "0.0.0.0:6444" not in listening, listening
    stats = host.check_output("curl -s 'http://127.0.0.1:8404/stats;csv'")
    rows = [line.split(",") for line in stats.splitlines() if line and not line.startswith("#")]
    servers = {r[1]: r[17] for r in rows if r[0] == "kube-apiserver" and r[1] not in ("FRONTEND", "BACKEND")}
    assert servers == {"ks-node-1": "UP"}, stats  # the /readyz check passed with the health-check certificate


@pytest.mark.parametrize("name", sorted(NODES))
@pytest.mark.parametrize("kubeconfig", ["kubelet.conf", "kube-proxy.conf"])
def test_node_components_reach_the_api_through_their_own_haproxy(name, kubeconfig):
    host = _host(name)
    assert "server: %s" % ENDPOINT in host.file("/etc/kubernetes/%s" % kubeconfig).content_string.replace('"', "")
    # the kubelet's own credentials through the local haproxy: the apiserver answers (TLS passed through)
    out = host.run(
        "curl -sS --max-time 5 --cacert %s/ca.crt --cert %s/apiserver-health-client.crt "
        "--key %s/apiserver-health-client.key %s/readyz" % (PKI, PKI, PKI, ENDPOINT)
    )
    assert out.rc == 0 and out.stdout.strip() == "ok", out.stderr


def test_the_etcd_only_host_runs_no_load_balancer():
    host = _host(ETCD_HOST)
    assert not host.file("/etc/haproxy/haproxy.cfg").exists or not host.service("haproxy").is_running
    assert not host.file("%s/apiserver-health-client.key" % PKI).exists
