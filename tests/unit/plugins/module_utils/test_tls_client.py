"""tls_client: URL parsing and the one HTTP(S) transport the etcd and Kubernetes clients share (local server)."""

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.net import tls as tls_client


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://10.0.0.1:2379/v3/kv/range", ("https", "10.0.0.1", 2379, "/v3/kv/range")),
        ("https://api.example", ("https", "api.example", 443, "/")),
        ("http://[fd00::1]/a?b=c&d", ("http", "fd00::1", 80, "/a?b=c&d")),
    ],
)
def test_split_url(url, expected):
    assert tls_client.split_url(url) == expected


@pytest.mark.parametrize("url", ["10.0.0.1:2379", "ftp://host/x", "https://", "", "https:///path"])
def test_split_url_refuses_what_is_not_http(url):
    with pytest.raises(tls_client.TransportError, match=r"^%r is not an http\(s\)://host:port URL$" % (url,)):
        tls_client.split_url(url)


def test_request_sends_the_body_and_headers_and_returns_any_status(echo_server):
    echo_server.status, echo_server.body = 404, b"missing"
    transport = tls_client.HttpTransport()
    answer = transport.request("POST", echo_server.url + "/v3/x?y=1", b"{}", {"Content-Type": "application/json"}, 5)
    assert answer == (404, b"missing")
    method, path, headers, body = echo_server.requests[0]
    assert (method, path, headers["Content-Type"], body) == ("POST", "/v3/x?y=1", "application/json", b"{}")


def test_stream_yields_the_status_then_the_chunks(echo_server):
    echo_server.body = b"0123456789" * 10
    chunks = list(tls_client.HttpTransport().stream("POST", echo_server.url + "/s", b"{}", {}, 5, chunk_size=7))
    assert chunks[0] == (200, b"")
    assert {status for status, _ in chunks[1:]} == {None}
    assert b"".join(chunk for _, chunk in chunks[1:]) == echo_server.body


def test_stream_of_an_error_yields_its_status_and_body(echo_server):
    echo_server.status, echo_server.body = 503, b"busy"
    assert list(tls_client.HttpTransport().stream("GET", echo_server.url + "/s", None, {}, 5)) == [(503, b"busy")]


def test_the_context_function_is_called_for_https_only_once_the_url_is_checked(echo_server):
    calls = []

    def context():
        calls.append(1)
        raise RuntimeError("no TLS files here")

    transport = tls_client.HttpTransport(context)
    assert transport.request("GET", echo_server.url + "/", None, {}, 5) == (200, b"answer")
    with pytest.raises(tls_client.TransportError):
        transport.request("GET", "ftp://127.0.0.1/", None, {}, 5)
    assert calls == []
    with pytest.raises(RuntimeError, match="no TLS files here"):
        transport.request("GET", "https://127.0.0.1:%d/" % echo_server.port, None, {}, 5)
    assert calls == [1]
