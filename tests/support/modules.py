"""Module tests as Ansible runs them: the module file in its own interpreter with a JSON arguments file, free
loopback ports, and a JSON HTTP server in this process for modules that talk to a fake API."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, ".collections")


def free_ports(count):
    """``count`` distinct free TCP ports on 127.0.0.1 (all sockets held open until every port is chosen)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def run_module_file(module, tmp_path, args, check_mode=False, diff=False, timeout=60):
    """Run a module file in its own interpreter with a JSON arguments file, as Ansible does.

    Returns (exit code, parsed result). A module that prints no JSON fails the test with its output.
    """
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    args_file = tmp_path / ("args-%d.json" % time.monotonic_ns())
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    proc = subprocess.run(
        [sys.executable, module, str(args_file)],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=COLLECTIONS),
        check=False,
        timeout=timeout,
    )
    try:
        return proc.returncode, json.loads(proc.stdout)
    except ValueError as exc:
        raise AssertionError(
            "module printed no JSON (rc=%d):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr)
        ) from exc


class JsonServer(object):
    """A local HTTP server answering JSON, for module tests against a fake API: ``answer(method, path, body)``
    (``path`` with its query string, ``body`` the raw request bytes) returns ``(status, object)``."""

    # How often serve_forever() looks for a shutdown request: close() waits up to this long.
    POLL_INTERVAL = 0.05

    def __init__(self, answer):
        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                status, obj = answer(self.command, self.path, self.rfile.read(length) if length else b"")
                raw = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PATCH = _serve

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": self.POLL_INTERVAL}, daemon=True
        ).start()
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
