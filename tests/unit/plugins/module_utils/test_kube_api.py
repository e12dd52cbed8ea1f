"""kube_api.KubeClient against a local http.server: requests, JSON, Status errors, paging, connection errors, and
TLS with client certificates (a CA and certificates made here with ``cryptography``)."""

import base64
import datetime
import ipaddress
import json
import os
import socket
import ssl
import tempfile
from http.server import BaseHTTPRequestHandler

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import api as K
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import kubeconfig as pki_kubeconfig
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class Api(object):
    """What the server answers: ``routes[(method, path)] = (status, body)``; records every request."""

    def __init__(self):
        self.routes = {}
        self.requests = []


def make_handler(api):
    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            api.requests.append(
                {
                    "method": self.command,
                    "path": path,
                    "query": query,
                    "body": json.loads(body) if body else None,
                    "content_type": self.headers.get("Content-Type"),
                    "accept": self.headers.get("Accept"),
                }
            )
            status, answer = api.routes.get((self.command, path), (404, {"kind": "Status", "reason": "NotFound"}))
            if callable(answer):
                answer = answer(query)
            raw = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PATCH = do_DELETE = _answer

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def server(serve):
    api = Api()
    api.url = "http://127.0.0.1:%d" % serve(make_handler(api))
    return api


def test_get_post_patch_delete(server):
    server.routes[("GET", "/api/v1/nodes/n1")] = (200, {"kind": "Node", "metadata": {"name": "n1"}})
    server.routes[("PATCH", "/api/v1/nodes/n1")] = (200, {"kind": "Node", "spec": {"unschedulable": True}})
    server.routes[("POST", "/api/v1/namespaces/a%20b/pods/p/eviction")] = (201, {"kind": "Status"})
    server.routes[("DELETE", "/api/v1/namespaces/ns/pods/p")] = (200, b"")
    client = K.KubeClient(server.url + "/", timeout=5)
    assert client.get("/api/v1/nodes/n1")["metadata"]["name"] == "n1"
    assert client.patch("/api/v1/nodes/n1", {"spec": {"unschedulable": True}})["spec"]["unschedulable"] is True
    path = "/api/v1/namespaces/%s/pods/p/eviction" % K.path_quote("a b")
    assert client.post(path, {"kind": "Eviction"}) == {"kind": "Status"}
    assert client.delete("/api/v1/namespaces/ns/pods/p", {"gracePeriodSeconds": 0}) == {}
    get, patch, post, delete = server.requests
    assert get["body"] is None and get["accept"] == "application/json" and get["content_type"] is None
    assert patch["content_type"] == K.MERGE_PATCH and patch["body"] == {"spec": {"unschedulable": True}}
    assert post["content_type"] == "application/json" and post["path"] == "/api/v1/namespaces/a%20b/pods/p/eviction"
    assert delete["body"] == {"gracePeriodSeconds": 0}


def test_list_all_follows_continue_and_encodes_params(server):
    def pods(query):
        if "continue=tok" in query:
            return {"items": [{"n": 3}], "metadata": {}}
        return {"items": [{"n": 1}, {"n": 2}], "metadata": {"continue": "tok"}}

    server.routes[("GET", "/api/v1/pods")] = (200, pods)
    client = K.KubeClient(server.url)
    items = client.list_all("/api/v1/pods", {"fieldSelector": "spec.nodeName=node-1"}, page_size=2)
    assert items == [{"n": 1}, {"n": 2}, {"n": 3}]
    first, second = server.requests
    assert first["query"] == "fieldSelector=spec.nodeName%3Dnode-1&limit=2"
    assert second["query"] == "continue=tok&fieldSelector=spec.nodeName%3Dnode-1&limit=2"


def test_status_errors_are_mapped(server):
    status = {
        "kind": "Status",
        "status": "Failure",
        "message": "Cannot evict pod as it would violate the pod's disruption budget.",
        "reason": "TooManyRequests",
        "details": {"causes": [{"reason": "DisruptionBudget", "message": "The disruption budget web needs 2"}]},
        "code": 429,
    }
    server.routes[("POST", "/evict")] = (429, status)
    server.routes[("GET", "/forbidden")] = (403, {"kind": "Status", "reason": "Forbidden", "message": "no"})
    server.routes[("GET", "/plain")] = (500, b"boom\n")
    server.routes[("GET", "/notjson")] = (200, b"<html>")
    client = K.KubeClient(server.url)
    with pytest.raises(K.KubeApiError) as info:
        client.post("/evict", {})
    err = info.value
    assert (err.status, err.reason, err.kind) == (429, "TooManyRequests", "api")
    assert err.api_message.startswith("Cannot evict pod")
    assert err.details["causes"][0]["message"] == "The disruption budget web needs 2"
    assert str(err) == "POST %s/evict: HTTP 429 TooManyRequests: %s" % (server.url, status["message"])
    with pytest.raises(K.KubeApiError, match="HTTP 403 Forbidden: no .*lacks the RBAC permission"):
        client.get("/forbidden")
    with pytest.raises(K.KubeApiError, match="HTTP 500 : boom$") as info:
        client.get("/plain")
    assert info.value.api_message == "boom"
    with pytest.raises(K.KubeApiError, match="not JSON") as info:
        client.get("/notjson")
    assert info.value.kind == "protocol"
    with pytest.raises(K.KubeApiError) as info:
        client.get("/missing")
    assert info.value.not_found


def test_connection_refused_and_timeout():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(K.KubeApiError, match="connection refused") as info:
        K.KubeClient("http://127.0.0.1:%d" % port).get("/version")
    assert info.value.status is None and info.value.kind == "unavailable"

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never answers
    try:
        with pytest.raises(K.KubeApiError, match="timed out") as info:
            K.KubeClient("http://127.0.0.1:%d" % silent.getsockname()[1], timeout=0.3).get("/version")
        assert info.value.kind == "timeout"
    finally:
        silent.close()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(api_url="10.0.0.1:6443"), "is not an https://host:port URL"),
        (dict(api_url="https://h:6443", timeout=0), "timeout must be a positive"),
        (dict(api_url="https://h:6443", client_cert="/x.crt"), "must be given together"),
        (dict(api_url="https://h:6443", ca_file="/nonexistent/ca.crt"), "ca_file /nonexistent/ca.crt does not exist"),
    ],
)
def test_configuration_errors(kwargs, match):
    with pytest.raises(K.KubeApiError, match=match) as info:
        K.KubeClient(**kwargs)
    assert info.value.kind == "config"


# ---------------------------------------------------------------- TLS with client certificates


def _cert(subject, issuer_key, key, issuer=None, ca=False, eku=None, san=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path, cert=None, key=None):
    if cert is not None:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    else:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return str(path)


@pytest.fixture
def tls_server(tmp_path, serve):
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("test-ca", ca_key, ca_key, ca=True)
    files = {"ca": _write(tmp_path / "ca.crt", ca)}
    for name, eku, san in (
        ("server", ExtendedKeyUsageOID.SERVER_AUTH, [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH, None),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(name, ca_key, key, issuer=ca.subject, eku=eku, san=san)
        files[name + "_crt"] = _write(tmp_path / (name + ".crt"), cert)
        files[name + "_key"] = _write(tmp_path / (name + ".key"), key=key)
    api = Api()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files["server_crt"], files["server_key"])
    context.load_verify_locations(files["ca"])
    context.verify_mode = ssl.CERT_REQUIRED
    api.url = "https://127.0.0.1:%d" % serve(make_handler(api), context)
    api.files = files
    return api


def test_tls_with_client_certificate(tls_server):
    f = tls_server.files
    tls_server.routes[("GET", "/version")] = (200, {"gitVersion": "v1.20.2"})
    client = K.KubeClient(tls_server.url, f["ca"], f["client_crt"], f["client_key"], timeout=5)
    assert client.get("/version") == {"gitVersion": "v1.20.2"}

    untrusted = K.KubeClient(tls_server.url, None, f["client_crt"], f["client_key"], timeout=5)
    with pytest.raises(K.KubeApiError, match="not trusted") as info:
        untrusted.get("/version")
    assert info.value.kind == "tls"

    no_cert = K.KubeClient(tls_server.url, f["ca"], timeout=5)
    with pytest.raises(K.KubeApiError) as info:
        no_cert.get("/version")
    assert info.value.status is None and info.value.kind in ("tls", "unavailable")

    with pytest.raises(K.KubeApiError, match="key does not match") as info:
        K.KubeClient(tls_server.url, f["ca"], f["client_crt"], f["server_key"])
    assert info.value.kind == "config"


# ---------------------------------------------------------------- kubeconfig


def test_kubeconfig_with_embedded_certificates_as_kubesmith_writes_them(tls_server, tmp_path):
    f = tls_server.files
    tls_server.routes[("GET", "/version")] = (200, {"gitVersion": "v1.20.2"})
    text = pki_kubeconfig.render(
        "kubernetes",
        tls_server.url,
        _text(f["ca"]),
        "kubernetes-admin",
        _text(f["client_crt"]),
        _text(f["client_key"]),
    )
    conf = tmp_path / "admin.conf"
    conf.write_text(text)
    read = K.read_kubeconfig(str(conf))
    assert read["server"] == tls_server.url and read["key_pem"] == _text(f["client_key"]).encode()
    before = set(os.listdir(tempfile.gettempdir()))
    client = K.KubeClient.from_kubeconfig(str(conf), timeout=5)
    assert client.get("/version") == {"gitVersion": "v1.20.2"}
    assert not [n for n in set(os.listdir(tempfile.gettempdir())) - before if n.startswith("kube-api-")]
    # api_url overrides the server named in the kubeconfig
    other = K.KubeClient.from_kubeconfig(str(conf), api_url="https://localhost:1")
    assert other.api_url == "https://localhost:1"

    broken = tmp_path / "broken.conf"
    broken.write_text(text.replace(_b64(_text(f["client_key"])), _b64(_text(f["server_key"]))))
    with pytest.raises(K.KubeApiError, match=r"kubeconfig .*broken.conf: cannot load client_cert embedded"):
        K.KubeClient.from_kubeconfig(str(broken))


def _text(path):
    with open(path) as handle:
        return handle.read()


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def test_kubeconfig_with_file_paths_relative_to_it(tls_server, tmp_path):
    f = tls_server.files
    tls_server.routes[("GET", "/version")] = (200, {"ok": True})
    conf = tmp_path / "kubelet.conf"  # the certificates are in the same directory (tmp_path)
    conf.write_text(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority: ca.crt\n"
        "    server: '%s'\n  name: k\nusers:\n- name: u\n  user:\n"
        '    client-certificate: %s\n    client-key: "%s"\n' % (tls_server.url, f["client_crt"], "client.key")
    )
    read = K.read_kubeconfig(str(conf))
    assert read == {
        "server": tls_server.url,
        "ca_file": str(tmp_path / "ca.crt"),
        "client_cert": f["client_crt"],
        "client_key": str(tmp_path / "client.key"),
    }
    assert K.KubeClient.from_kubeconfig(str(conf), timeout=5).get("/version") == {"ok": True}


@pytest.mark.parametrize(
    "text, match",
    [
        (
            "clusters:\n- cluster:\n    server: https://a:6443\n- cluster:\n    server: https://b:6443\n",
            "more than one",
        ),
        ("users:\n- user:\n    token: abc\nclusters:\n- cluster:\n    server: https://a\n", "no client certificate"),
        ("users: []\n", "names no server"),
        ("clusters:\n- cluster:\n    server: https://a\n    certificate-authority-data: '!!'\n", "not base64"),
    ],
)
def test_kubeconfig_refusals(tmp_path, text, match):
    conf = tmp_path / "c.conf"
    conf.write_text(text)
    with pytest.raises(K.KubeApiError, match=match):
        K.read_kubeconfig(str(conf))
    with pytest.raises(K.KubeApiError, match="kubeconfig .*missing.conf does not exist"):
        K.read_kubeconfig(str(tmp_path / "missing.conf"))


def test_a_url_the_transport_refuses_is_a_config_error():
    from ansible_collections.kubesmith.cluster.plugins.module_utils.net import tls as tls_client

    class Refusing(object):
        def request(self, method, url, body, headers, timeout):
            return tls_client.split_url("ftp://x")

    client = K.KubeClient("https://10.0.0.1:6443", transport=Refusing())
    with pytest.raises(K.KubeApiError, match=r"^GET https://10.0.0.1:6443/version: 'ftp://x' is not an") as err:
        client.get("/version")
    assert err.value.kind == "config" and err.value.status is None
