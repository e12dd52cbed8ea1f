"""host_ready: every check polled under one deadline; HTTP status and TCP connections as readiness."""

import http.server
import socket
import threading

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.net.wait import (
    HostReadyError,
    failure_message,
    probe_once,
    validate,
    wait,
)


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.pauses = []

    def __call__(self):
        return self.now

    def pause(self, seconds):
        self.pauses.append(seconds)
        self.now += seconds


def _scripted(answers):
    """A probe that answers from a list per check name (the last answer repeats)."""
    calls = []

    def probe(check, timeout):
        calls.append(check["name"])
        seq = answers[check["name"]]
        return seq.pop(0) if len(seq) > 1 else seq[0]
    return probe, calls


def test_all_ready_at_once_takes_one_round_and_no_pause():
    clock = FakeClock()
    probe, calls = _scripted({"a": [(True, "HTTP 200")], "b": [(True, "connected")]})
    out = wait([{"name": "a", "url": "http://x"}, {"name": "b", "host": "h", "port": 1}], 10, probe=probe,
               clock=clock, pause=clock.pause)
    assert [r["ready"] for r in out] == [True, True] and calls == ["a", "b"] and clock.pauses == []


def test_a_ready_check_is_not_polled_again_while_another_comes_up():
    clock = FakeClock()
    probe, calls = _scripted({"a": [(True, "HTTP 200")], "b": [(False, "refused"), (False, "refused"),
                                                              (True, "HTTP 200")]})
    out = wait([{"name": "a", "url": "http://x"}, {"name": "b", "url": "http://y"}], 10, probe=probe, clock=clock,
               pause=clock.pause)
    assert calls == ["a", "b", "b", "b"]
    assert out[1] == dict(name="b", ready=True, detail="HTTP 200", attempts=3, seconds=2.0)


def test_the_deadline_ends_the_wait_with_the_last_answer_of_each_check():
    clock = FakeClock()
    probe, _ = _scripted({"a": [(False, "HTTP 500")], "b": [(True, "HTTP 200")]})
    out = wait([{"name": "a", "url": "http://x"}, {"name": "b", "url": "http://y"}], 3, probe=probe, clock=clock,
               pause=clock.pause)
    assert clock.now == 3 and not out[0]["ready"] and out[0]["attempts"] == 4
    message = failure_message(out, 3)
    assert message == "not ready after 3s: a (HTTP 500, 4 attempts)"


@pytest.mark.parametrize("checks, message", [
    ([], "no checks"),
    ([{"name": "x"}], "either url, or host and port"),
    ([{"name": "x", "url": "http://a", "host": "h", "port": 1}], "either url"),
    ([{"name": "x", "url": "ftp://a"}], "http:// or https://"),
])
def test_bad_checks_are_refused(checks, message):
    with pytest.raises(HostReadyError, match=message):
        validate(checks)


@pytest.fixture
def server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            self.send_response(200 if self.path == "/healthz" else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()


def test_probe_once_reads_the_status_of_a_real_server(server):
    assert probe_once({"url": "http://127.0.0.1:%d/healthz" % server}) == (True, "HTTP 200")
    assert probe_once({"url": "http://127.0.0.1:%d/readyz" % server}) == (False, "HTTP 503")
    assert probe_once({"url": "http://127.0.0.1:%d/readyz" % server, "status": 503}) == (True, "HTTP 503")
    assert probe_once({"host": "127.0.0.1", "port": server}) == (True, "connected")


def test_probe_once_reports_a_closed_port_as_not_ready():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    ready, detail = probe_once({"host": "127.0.0.1", "port": port}, timeout=1)
    assert not ready and "refused" in detail.lower()
    ready, _ = probe_once({"url": "http://127.0.0.1:%d/healthz" % port}, timeout=1)
    assert not ready


def test_probe_once_refuses_missing_tls_files_instead_of_waiting_for_them(tmp_path):
    with pytest.raises(HostReadyError, match="ca_path"):
        probe_once({"url": "https://127.0.0.1:1/readyz", "ca_path": str(tmp_path / "nope.crt")})
