# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The client-side TLS context and HTTP transport shared by kubesmith's standard-library clients (etcd/transport,
kube/api).

Public interface::

    client_context(ca, client_cert, client_key, ca_option="ca_file") -> ssl.SSLContext
    TlsSetupError (ValueError): a file missing or unreadable, a bad CA bundle, a certificate and key that do not
                                load together; the message names the option (``ca_option`` for the CA)
    split_url(url) -> (scheme, host, port, path)    TransportError (ValueError) unless http(s)://host[:port]
    HttpTransport(context).request(method, url, body, headers, timeout) -> (status, body bytes)
    HttpTransport(context).stream(method, url, body, headers, timeout) -> (status, first) then (None, chunk)...

Each client turns :class:`TlsSetupError` and :class:`TransportError` into its own error type (kind ``config``);
connection failures (``OSError``, ``http.client.HTTPException``) pass through for the client to describe.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import http.client
import os
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit


class TlsSetupError(ValueError):
    """The TLS files given cannot be used; the message names the option to fix."""


def check_readable(option: str, path: str) -> None:
    """Raise :class:`TlsSetupError` unless ``path`` is a file this user can read."""
    if not os.path.isfile(path):
        raise TlsSetupError("%s %s does not exist or is not a file" % (option, path))
    if not os.access(path, os.R_OK):
        raise TlsSetupError("%s %s is not readable by this user" % (option, path))


def client_context(
    ca: str | None = None, client_cert: str | None = None, client_key: str | None = None, ca_option: str = "ca_file"
) -> ssl.SSLContext:
    """An SSLContext that trusts ``ca`` (else the system store), checks host names and presents the client
    certificate when given (``client_cert`` and ``client_key`` go together)."""
    if bool(client_cert) != bool(client_key):
        raise TlsSetupError("client_cert and client_key must be given together")
    for option, path in ((ca_option, ca), ("client_cert", client_cert), ("client_key", client_key)):
        if path:
            check_readable(option, path)
    try:
        context = ssl.create_default_context(cafile=ca or None)
    except (ssl.SSLError, OSError) as exc:
        raise TlsSetupError("%s %s is not a PEM CA bundle: %s" % (ca_option, ca, exc)) from exc
    if client_cert:
        try:
            context.load_cert_chain(client_cert, client_key)
        except (ssl.SSLError, OSError) as exc:
            raise TlsSetupError(
                "cannot load client_cert %s with client_key %s (not PEM, or the key does not match the "
                "certificate): %s" % (client_cert, client_key, exc)
            ) from exc
    return context


class TransportError(ValueError):
    """A URL the transport cannot connect to; the message quotes it."""


def split_url(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path with query)`` of an ``http(s)://host[:port]`` URL (default ports 80 and 443)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransportError("%r is not an http(s)://host:port URL" % (url,))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, parts.hostname, port, (parts.path or "/") + ("?" + parts.query if parts.query else "")


class HttpTransport(object):
    """HTTP(S) with one connection per request; ``timeout`` bounds the connection and every read.

    ``context`` is the ``ssl.SSLContext`` for https URLs, or a function without arguments that returns it (called
    for each https request once the URL is checked, so a client can build it on first use and raise its own
    error); ``None`` leaves the choice to ``http.client`` (the system trust store).
    """

    def __init__(self, context=None):
        self.context = context

    def _connect(self, url, timeout):
        scheme, host, port, path = split_url(url)
        if scheme == "https":
            context = self.context() if callable(self.context) else self.context
            return http.client.HTTPSConnection(host, port, timeout=timeout, context=context), path
        return http.client.HTTPConnection(host, port, timeout=timeout), path

    def request(self, method: str, url: str, body: bytes | None, headers: dict, timeout: float) -> tuple[int, bytes]:
        """Send one request; ``(status, body bytes)`` whatever the status."""
        conn, path = self._connect(url, timeout)
        try:
            conn.request(method, path, body, headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def stream(
        self, method: str, url: str, body: bytes | None, headers: dict, timeout: float, chunk_size: int = 65536
    ) -> Iterator[tuple[int | None, bytes]]:
        """Yield ``(status, body)`` for a non-200 answer, else ``(200, b"")`` then ``(None, chunk)`` per chunk read."""
        conn, path = self._connect(url, timeout)
        try:
            conn.request(method, path, body, headers)
            response = conn.getresponse()
            if response.status != 200:
                yield response.status, response.read()
                return
            yield response.status, b""
            while True:
                chunk = response.read1(chunk_size) if hasattr(response, "read1") else response.read(chunk_size)
                if not chunk:
                    return
                yield None, chunk
        finally:
            conn.close()
