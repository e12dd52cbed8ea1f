"""Fixtures shared by the module_utils tests."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Echo(object):
    """What the local server saw (``requests``: method, path, headers, body) and answers (``status``, ``body``)."""

    def __init__(self):
        self.requests = []
        self.status = 200
        self.body = b"answer"


def _handler(echo):
    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            echo.requests.append((self.command, self.path, dict(self.headers), body))
            self.send_response(echo.status)
            self.send_header("Content-Length", str(len(echo.body)))
            self.end_headers()
            self.wfile.write(echo.body)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def serve():
    """``serve(handler_class, context=None) -> port``: an HTTP server on 127.0.0.1 in a thread (HTTPS with a server
    ``ssl.SSLContext``), stopped after the test."""
    servers = []

    def start(handler, context=None):
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if context is not None:
            httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return httpd.server_address[1]

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def echo_server(serve):
    """A plain-HTTP server that records each request and answers ``echo.status`` / ``echo.body``."""
    echo = Echo()
    echo.port = serve(_handler(echo))
    echo.url = "http://127.0.0.1:%d" % echo.port
    return echo
