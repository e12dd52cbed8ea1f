# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""TLS and HTTP for the etcd client (standard library only).

- :class:`TlsConfig` builds the ``ssl.SSLContext`` (CA + client certificate and key) once;
- :class:`HttpsTransport` does the HTTP (one connection per request, a timeout on every socket operation);
  tests replace it with a fake that has the same two methods;
- :func:`describe_os_error` turns a connection-level failure into a short reason and an :class:`EtcdError` kind.
"""

from __future__ import absolute_import, annotations, division, print_function

import http.client
import socket
import ssl

from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.api import EtcdError
from ansible_collections.kubesmith.cluster.plugins.module_utils.net import tls as tls_client


class TlsConfig(object):
    """CA bundle plus client certificate/key; ``context()`` builds the SSLContext once.

    With no ``ca_cert`` the system trust store is used. ``client_cert`` and ``client_key`` go together.
    Host names are checked (IP-address endpoints need the IP in the server certificate's SANs).
    """

    def __init__(self, ca_cert=None, client_cert=None, client_key=None):
        self.ca_cert = ca_cert
        self.client_cert = client_cert
        self.client_key = client_key
        self._context = None

    def context(self):
        if self._context is None:
            try:
                self._context = tls_client.client_context(
                    self.ca_cert, self.client_cert, self.client_key, ca_option="ca_cert"
                )
            except tls_client.TlsSetupError as exc:
                raise EtcdError(str(exc), kind="config") from exc
        return self._context


def split_url(url):
    try:
        return tls_client.split_url(url)
    except tls_client.TransportError as exc:
        raise EtcdError("endpoint %s" % exc, url, "config") from None


class HttpsTransport(object):
    """HTTP(S) for the client: ``request`` returns ``(status, body bytes)``, ``stream`` yields body chunks.

    ``timeout`` bounds the connection and every read; a stalled server never hangs the caller longer than that.
    The connections are ``tls_client.HttpTransport``'s, with the JSON headers and the TLS context of ``tls``.
    """

    def __init__(self, tls=None):
        self.tls = tls
        self._http = tls_client.HttpTransport(self._context)

    def _context(self):
        return self.tls.context() if self.tls is not None else ssl.create_default_context()

    def request(self, method, url, body, timeout):
        split_url(url)
        return self._http.request(method, url, body, _HEADERS if body is not None else {}, timeout)

    def stream(self, method, url, body, timeout, chunk_size=65536):
        split_url(url)
        yield from self._http.stream(method, url, body, _HEADERS, timeout, chunk_size)


_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def describe_os_error(exc):
    """A short, specific reason for a connection-level failure."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            "TLS: the server certificate is not trusted (%s): check ca_cert, and that the endpoint host is in "
            "the server certificate's SANs" % (exc.verify_message or exc)
        ), "tls"
    if isinstance(exc, ssl.SSLEOFError) or (isinstance(exc, ssl.SSLError) and "EOF" in str(exc)):
        return (
            "TLS: the server closed the connection during the handshake: it refused the client certificate (check "
            "that client_cert/client_key are set and signed by the CA etcd trusts) or it does not speak TLS here"
        ), "tls"
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "reason", "") or str(exc)
        hint = ""
        if "CERTIFICATE" in str(reason).upper() or "ALERT" in str(reason).upper():
            hint = (
                ": the server refused the client certificate: check that client_cert/client_key are set and "
                "signed by the CA etcd trusts (--trusted-ca-file)"
            )
        elif "WRONG_VERSION_NUMBER" in str(reason).upper():
            hint = ": is this a plain-HTTP port?"
        return "TLS error %s%s" % (reason, hint), "tls"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out", "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is etcd running and listening there?)", "unavailable"
    if isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError)):
        return (
            "connection closed by the server (a TLS port spoken to in plain HTTP, or a client certificate the "
            "server refused)"
        ), "unavailable"
    if isinstance(exc, socket.gaierror):
        return "cannot resolve the host name (%s)" % exc, "unavailable"
    if isinstance(exc, http.client.HTTPException):
        return "HTTP protocol error: %r" % exc, "protocol"
    return "%s" % (exc.strerror or exc if isinstance(exc, OSError) else exc), "unavailable"
