# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""A tiny Kubernetes API client on the standard library (http.client, ssl, json; Python 3.9+).

It runs on managed hosts, where neither the ``kubernetes`` package nor PyYAML can be assumed, so it takes the
connection as plain options rather than a kubeconfig::

    client = KubeClient("https://10.0.0.10:6443", ca_file="/etc/kubernetes/pki/ca.crt",
                        client_cert="/etc/kubernetes/pki/admin.crt", client_key="/etc/kubernetes/pki/admin.key",
                        timeout=10)
    node = client.get("/api/v1/nodes/node1")                        # -> dict (the JSON object)
    client.patch("/api/v1/nodes/node1", {"spec": {"unschedulable": True}})   # JSON merge patch by default
    client.post("/api/v1/namespaces/ns/pods/web-1/eviction", {...})
    client.delete("/api/v1/namespaces/ns/pods/web-1", {"gracePeriodSeconds": 0})
    client.get("/api/v1/pods", params={"fieldSelector": "spec.nodeName=node1"})

or from a kubeconfig (single cluster, single user, client-certificate authentication, as kubesmith writes them
in ``/etc/kubernetes/*.conf``), read without PyYAML by :func:`read_kubeconfig`::

    client = KubeClient.from_kubeconfig("/etc/kubernetes/admin.conf", timeout=10, api_url=None)

Embedded ``*-data`` certificates are written to a private temporary directory only while the SSLContext loads
them (the context keeps them in memory) and removed at once.

Every failure is a :class:`KubeApiError`:

- the API answered with a non-2xx status: ``status`` is the HTTP status, ``reason`` the ``Status.reason``
  (``NotFound``, ``TooManyRequests``, ...), ``message`` the ``Status.message``, ``details`` the
  ``Status.details`` dict (``causes`` tell which PodDisruptionBudget blocked an eviction);
- no answer (refused, timed out, TLS refused, bad certificate files): ``status`` is ``None`` and ``kind`` says
  ``config``, ``tls``, ``timeout`` or ``unavailable``.

``timeout`` bounds the connection and every socket read of each request. ``transport`` may be replaced by an
object with ``request(method, url, body, headers, timeout) -> (status, body bytes)`` (tests do).
"""

from __future__ import absolute_import, annotations, division, print_function

import base64
import binascii
import http.client
import json
import os
import shutil
import socket
import ssl
import tempfile
from urllib.parse import quote, urlencode, urlsplit

from ansible_collections.kubesmith.cluster.plugins.module_utils.net import tls as tls_client

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON = "application/json"


class KubeApiError(Exception):
    """A failed API call; see the module docstring for the attributes."""

    def __init__(self, message, status=None, reason="", kind="api", details=None, url="", api_message=""):
        super(KubeApiError, self).__init__(message)
        self.status = status
        self.reason = reason or ""
        self.kind = kind
        self.details = details or {}
        self.url = url
        self.api_message = api_message or ""

    @property
    def not_found(self):
        return self.status == 404


def path_quote(part: str) -> str:
    """One path segment (a namespace or object name) escaped for a URL."""
    return quote(str(part), safe="")


def _check_file(option, path):
    try:
        tls_client.check_readable(option, path)
    except tls_client.TlsSetupError as exc:
        raise KubeApiError(str(exc), kind="config") from exc


def ssl_context(
    ca_file: str | None = None, client_cert: str | None = None, client_key: str | None = None
) -> ssl.SSLContext:
    """The SSLContext for the API: trust ``ca_file`` (else the system store), present the client certificate."""
    try:
        return tls_client.client_context(ca_file, client_cert, client_key, ca_option="ca_file")
    except tls_client.TlsSetupError as exc:
        raise KubeApiError(str(exc), kind="config") from exc


def _describe(exc):
    """(reason text, kind) for a connection-level failure."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            "TLS: the API server certificate is not trusted (%s): check ca_file, and that the host of api_url is "
            "in the server certificate's SANs" % (exc.verify_message or exc),
            "tls",
        )
    if isinstance(exc, ssl.SSLError):
        text = str(exc)
        if "WRONG_VERSION_NUMBER" in text.upper():
            return "TLS error (%s): is this a plain-HTTP port?" % text, "tls"
        return "TLS error (%s): check client_cert/client_key and the CA the API server trusts" % text, "tls"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out", "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the API server running and listening there?)", "unavailable"
    if isinstance(exc, socket.gaierror):
        return "cannot resolve the host name (%s)" % exc, "unavailable"
    if isinstance(exc, http.client.HTTPException):
        return "HTTP protocol error: %r" % exc, "unavailable"
    return str(getattr(exc, "strerror", None) or exc), "unavailable"


_KUBECONFIG_KEYS = (
    "server",
    "certificate-authority",
    "certificate-authority-data",
    "client-certificate",
    "client-certificate-data",
    "client-key",
    "client-key-data",
)


def _scalar(text):
    text = text.strip()
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("'") and text.endswith("'") and len(text) >= 2:
        return text[1:-1].replace("''", "'")
    return text


def read_kubeconfig(path: str) -> dict:
    """``{"server", "ca_file"|"ca_pem", "client_cert"|"cert_pem", "client_key"|"key_pem"}`` from a kubeconfig.

    Only the subset kubeconfigs with one cluster and one user use (block mappings, one scalar per line) is read;
    a kubeconfig with several clusters or users, or without a client certificate, is refused with a message saying
    to pass the connection options instead. Relative file paths are relative to the kubeconfig's directory.
    """
    _check_file("kubeconfig", path)
    found = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            body = line.strip()
            if body.startswith("- "):
                body = body[2:].strip()
            key, sep, value = body.partition(":")
            if not sep or key not in _KUBECONFIG_KEYS:
                continue
            if key in found:
                raise KubeApiError(
                    "kubeconfig %s has more than one %s (several clusters or users): give api_url, ca_file, "
                    "client_cert and client_key instead" % (path, key),
                    kind="config",
                )
            try:
                found[key] = _scalar(value)
            except ValueError as exc:
                raise KubeApiError("kubeconfig %s: cannot read %s: %s" % (path, key, exc), kind="config") from exc
    base = os.path.dirname(os.path.abspath(path))
    out = {"server": found.get("server", "")}
    for pem_key, file_key, data_key, option in (
        ("ca_pem", "ca_file", "certificate-authority-data", "certificate-authority"),
        ("cert_pem", "client_cert", "client-certificate-data", "client-certificate"),
        ("key_pem", "client_key", "client-key-data", "client-key"),
    ):
        if found.get(data_key):
            try:
                out[pem_key] = base64.b64decode(found[data_key], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise KubeApiError(
                    "kubeconfig %s: %s is not base64: %s" % (path, data_key, exc), kind="config"
                ) from exc
        elif found.get(option):
            out[file_key] = os.path.join(base, found[option])
    if not out["server"]:
        raise KubeApiError("kubeconfig %s names no server" % path, kind="config")
    if not (out.get("cert_pem") or out.get("client_cert")) or not (out.get("key_pem") or out.get("client_key")):
        raise KubeApiError(
            "kubeconfig %s has no client certificate and key (only client-certificate authentication is "
            "supported)" % path,
            kind="config",
        )
    return out


class KubeClient(object):
    """JSON requests to one API server (``api_url`` like ``https://10.0.0.10:6443``)."""

    def __init__(self, api_url, ca_file=None, client_cert=None, client_key=None, timeout=10.0, transport=None):
        parts = urlsplit(api_url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise KubeApiError("api_url %r is not an https://host:port URL" % (api_url,), kind="config")
        if float(timeout) <= 0:
            raise KubeApiError("timeout must be a positive number of seconds, got %s" % timeout, kind="config")
        self.api_url = api_url.rstrip("/")
        self.timeout = float(timeout)
        if transport is None:
            context = ssl_context(ca_file, client_cert, client_key) if parts.scheme == "https" else None
            transport = tls_client.HttpTransport(context)
        self.transport = transport

    @classmethod
    def from_kubeconfig(cls, path, timeout=10.0, api_url=None):
        """A client for the cluster and user of the kubeconfig at ``path`` (``api_url`` overrides its server)."""
        conf = read_kubeconfig(path)
        url = api_url or conf["server"]
        if not url.startswith("https:"):
            return cls(url, timeout=timeout)
        tmp = tempfile.mkdtemp(prefix="kube-api-")  # mode 0700
        try:
            files = {}
            for pem_key, file_key in (("ca_pem", "ca_file"), ("cert_pem", "client_cert"), ("key_pem", "client_key")):
                if conf.get(pem_key):
                    files[file_key] = os.path.join(tmp, file_key + ".pem")
                    fd = os.open(files[file_key], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as handle:
                        handle.write(conf[pem_key])
                else:
                    files[file_key] = conf.get(file_key)
            try:
                context = ssl_context(files["ca_file"], files["client_cert"], files["client_key"])
            except KubeApiError as exc:
                raise KubeApiError(
                    "kubeconfig %s: %s" % (path, str(exc).replace(tmp + os.sep, "embedded ")), kind="config"
                ) from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return cls(url, timeout=timeout, transport=tls_client.HttpTransport(context))

    def url(self, path, params=None):
        url = self.api_url + "/" + path.lstrip("/")
        if params:
            url += "?" + urlencode([(k, v) for k, v in sorted(params.items()) if v is not None])
        return url

    def request(self, method, path, body=None, params=None, content_type=JSON):
        """Send one request; return the decoded JSON object (``{}`` for an empty body). Non-2xx raises."""
        url = self.url(path, params)
        headers = {"Accept": JSON}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = content_type
        try:
            status, raw = self.transport.request(method, url, data, headers, self.timeout)
        except KubeApiError:
            raise
        except tls_client.TransportError as exc:
            raise KubeApiError("%s %s: %s" % (method, url, exc), kind="config", url=url) from exc
        except (OSError, http.client.HTTPException) as exc:
            reason, kind = _describe(exc)
            raise KubeApiError("%s %s: %s" % (method, url, reason), kind=kind, url=url) from exc
        decoded = None
        if raw:
            try:
                decoded = json.loads(raw.decode("utf-8"))
            except ValueError:
                decoded = None
        if 200 <= status < 300:
            if raw and decoded is None:
                raise KubeApiError(
                    "%s %s: the answer is not JSON: %r" % (method, url, raw[:200]), status, kind="protocol", url=url
                )
            return decoded if decoded is not None else {}
        if isinstance(decoded, dict) and decoded.get("kind") == "Status":
            api_message = decoded.get("message", "")
            reason = decoded.get("reason", "")
            details = decoded.get("details") or {}
        else:
            api_message = (raw or b"").decode("utf-8", "replace").strip()[:500]
            reason, details = "", {}
        hint = ""
        if status == 401:
            hint = " (the API server did not accept the client certificate: check client_cert/client_key)"
        elif status == 403:
            hint = " (the client certificate's user lacks the RBAC permission)"
        raise KubeApiError(
            "%s %s: HTTP %d %s: %s%s" % (method, url, status, reason or "", api_message, hint),
            status=status,
            reason=reason,
            kind="api",
            details=details,
            url=url,
            api_message=api_message,
        )

    def get(self, path, params=None):
        return self.request("GET", path, params=params)

    def post(self, path, body):
        return self.request("POST", path, body)

    def patch(self, path, body, content_type=MERGE_PATCH):
        return self.request("PATCH", path, body, content_type=content_type)

    def delete(self, path, body=None):
        return self.request("DELETE", path, body)

    def list_all(self, path, params=None, page_size=500):
        """Every item of a list, following ``metadata.continue`` (pages of ``page_size``)."""
        params = dict(params or {}, limit=page_size)
        items = []
        while True:
            page = self.get(path, params)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items
            params["continue"] = token
