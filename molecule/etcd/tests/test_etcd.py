"""Scenario `etcd`: a 3-member etcd cluster with TLS everywhere, from site.yml's etcd plays."""

import json

import pytest

PKI = "/etc/etcd/pki"
MEMBERS = {"ks-etcd-1": "10.127.0.31", "ks-etcd-2": "10.127.0.32", "ks-etcd-3": "10.127.0.33"}
CLIENT = "--cacert %s/ca.crt --cert %s/healthcheck-client.crt --key %s/healthcheck-client.key" % (PKI, PKI, PKI)


def _me(host):
    return host.backend.get_hostname()


def _etcdctl(host, args, endpoint=None):
    endpoint = endpoint or "https://%s:2379" % MEMBERS[_me(host)]
    return host.run("ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints %s %s %s" % (endpoint, CLIENT, args))


def test_service_active_with_private_data_dir(host):
    service = host.service("etcd")
    assert service.is_running, host.run("journalctl -u etcd --no-pager -n 60").stdout
    assert service.is_enabled
    data = host.file("/var/lib/etcd")
    assert data.is_directory and data.mode == 0o700 and data.user == "root"
    assert host.file("/var/lib/etcd/member").is_directory


def test_three_healthy_voting_members(host):
    out = _etcdctl(host, "member list -w json")
    assert out.rc == 0, out.stderr
    members = json.loads(out.stdout)["members"]
    assert sorted(m["name"] for m in members) == sorted(MEMBERS)
    assert not any(m.get("isLearner") for m in members)
    for member in members:
        ip = MEMBERS[member["name"]]
        assert member["peerURLs"] == ["https://%s:2380" % ip]
        assert "https://%s:2379" % ip in member["clientURLs"]
    health = _etcdctl(host, "endpoint health --cluster")
    assert health.rc == 0, health.stdout + health.stderr
    assert (health.stdout + health.stderr).count("is healthy") == 3


def test_write_on_one_member_is_read_on_the_others(host):
    key = "/kubesmith-test/written-on-%s" % _me(host)
    assert _etcdctl(host, "put %s hello" % key).rc == 0
    for other, ip in MEMBERS.items():
        out = _etcdctl(host, "get %s --print-value-only" % key, endpoint="https://%s:2379" % ip)
        assert out.rc == 0 and out.stdout.strip() == "hello", (other, out.stdout, out.stderr)


@pytest.mark.parametrize("port", [2379, 2380])
def test_plain_http_is_refused(host, port):
    ip = MEMBERS[_me(host)]
    out = host.run("curl -sS -m 5 http://%s:%d/health" % (ip, port))
    assert out.rc != 0 or "health" not in out.stdout, out.stdout


def test_client_without_certificate_is_refused(host):
    ip = MEMBERS[_me(host)]
    without = host.run("curl -sS -m 5 --cacert %s/ca.crt https://%s:2379/health" % (PKI, ip))
    assert without.rc != 0, without.stdout
    with_cert = host.run(
        "curl -sS -m 5 --cacert {p}/ca.crt --cert {p}/healthcheck-client.crt --key {p}/healthcheck-client.key "
        "https://{ip}:2379/health".format(p=PKI, ip=ip)
    )
    assert with_cert.rc == 0 and '"health":"true"' in with_cert.stdout.replace(" ", ""), with_cert.stdout


def test_peer_port_requires_a_peer_certificate(host):
    ip = MEMBERS[_me(host)]
    out = host.run("curl -sS -m 5 --cacert %s/ca.crt https://%s:2380/members" % (PKI, ip))
    assert out.rc != 0, out.stdout


def test_flags_file_and_unit(host):
    env = host.file("/etc/etcd/etcd.env").content_string
    ip = MEMBERS[_me(host)]
    assert "ETCD_NAME=%s" % _me(host) in env
    assert "ETCD_CLIENT_CERT_AUTH=true" in env and "ETCD_PEER_CLIENT_CERT_AUTH=true" in env
    assert "ETCD_ADVERTISE_CLIENT_URLS=https://%s:2379" % ip in env
    assert "ETCD_INITIAL_CLUSTER_STATE=new" in host.file("/etc/etcd/bootstrap.env").content_string
    assert host.file("/usr/local/bin/etcd").linked_to == "/opt/kubesmith/etcd/3.4.23/etcd"
