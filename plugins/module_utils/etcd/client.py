# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""A small etcd v3 client over the JSON gateway (standard library only, Python 3.9+), and snapshot files.

The gateway (``--enable-grpc-gateway``, on by default in etcd 3.4 to 3.6) serves every v3 RPC as
``POST /v3/<service>/<method>`` with a JSON body on the client URLs. Proto3 JSON rules apply: 64-bit integers
(member IDs, revisions) travel as decimal *strings* and bytes (keys, values, snapshot blobs) as base64.
This client keeps member IDs as decimal strings end to end; :func:`member_id` normalises user input.

- :class:`TlsConfig` builds the ``ssl.SSLContext`` (CA + client certificate and key) once;
- :class:`HttpsTransport` does the HTTP (one connection per request, a timeout on every socket operation);
  tests replace it with a fake that has the same two methods;
- :class:`EtcdClient` talks to one endpoint: members, status, health, a few KV calls, snapshot streaming;
- :func:`probe_members` measures every member's health on its own client URL, in parallel, with a short timeout;
- snapshot files: :func:`verify_snapshot` (the sha256 trailer etcd appends, plus a bbolt read for the revision),
  :func:`snapshot_name`, :func:`snapshots_to_prune`.

Every error is an :class:`EtcdError` whose message names the endpoint and, where it can, what to check.
"""

from __future__ import absolute_import, annotations, division, print_function

import base64
import binascii
import datetime
import hashlib
import http.client
import json
import os
import re
import socket
import ssl
import struct
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.quorum import MemberView
from ansible_collections.kubesmith.cluster.plugins.module_utils.net import tls as tls_client

# gRPC status codes that the gateway reports in error bodies ("code").
GRPC_CODES = {
    1: "Canceled",
    2: "Unknown",
    3: "InvalidArgument",
    4: "DeadlineExceeded",
    5: "NotFound",
    6: "AlreadyExists",
    7: "PermissionDenied",
    8: "ResourceExhausted",
    9: "FailedPrecondition",
    10: "Aborted",
    11: "OutOfRange",
    12: "Unimplemented",
    13: "Internal",
    14: "Unavailable",
    16: "Unauthenticated",
}

# What etcd says when a learner is not yet in sync with the leader (3.4 to 3.6).
LEARNER_NOT_READY = "can only promote a learner member which is in sync with leader"
TOO_MANY_LEARNERS = "too many learner members in cluster"
LEARNER_RPC = "rpc not supported for learner"
# etcd refuses membership changes until every voting member has been connected for 5 s (ErrUnhealthy); nothing
# was changed, so the request can be sent again.
UNHEALTHY_CLUSTER = "etcdserver: unhealthy cluster"


class EtcdError(Exception):
    """A failed etcd call. ``kind``: ``config``, ``tls``, ``unavailable``, ``timeout``, ``api`` or ``protocol``.

    ``code`` is the gRPC status code for ``api`` errors, ``status`` the HTTP status, ``detail`` the server's text.
    """

    def __init__(self, message, endpoint=None, kind="api", code=None, status=None, detail=""):
        super(EtcdError, self).__init__(message)
        self.endpoint = endpoint
        self.kind = kind
        self.code = code
        self.status = status
        self.detail = detail or message


def member_id(value: int | str) -> str:
    """Normalise a member ID to the decimal string the gateway uses.

    Accepts an int, a decimal string, or hexadecimal as ``etcdctl`` prints it: with a ``0x`` prefix or containing
    a letter a-f (an all-digit string is read as decimal). Raises ``ValueError`` for anything else.
    """
    if isinstance(value, bool):
        raise ValueError("member ID must be a number, not %r" % value)
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip().lower()
        if text.startswith("0x"):
            number = int(text[2:], 16)
        elif re.match(r"^[0-9]+$", text):
            number = int(text, 10)
        elif re.match(r"^[0-9a-f]+$", text):
            number = int(text, 16)
        else:
            raise ValueError("member ID %r is neither decimal nor hexadecimal" % (value,))
    if not 0 < number < 2**64:
        raise ValueError("member ID %r is out of range (1 to 2^64-1)" % (value,))
    return str(number)


def member_id_hex(value: int | str) -> str:
    """The ID as ``etcdctl member list`` prints it (16 hex digits)."""
    return "%016x" % int(member_id(value))


def b64(data: bytes | str) -> str:
    """bytes/str -> base64 text for a gateway request."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def unb64(text: str | None, endpoint: str | None = None) -> bytes:
    """base64 text from a gateway response -> bytes."""
    try:
        return base64.b64decode(text or "", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EtcdError("%s: invalid base64 in the response: %s" % (endpoint, exc), endpoint, "protocol") from exc


class Member(object):
    """A member as ``/v3/cluster/member/list`` returns it (``id`` a decimal string; ``name`` empty until started)."""

    __slots__ = ("id", "name", "peer_urls", "client_urls", "is_learner")

    def __init__(self, id, name="", peer_urls=(), client_urls=(), is_learner=False):  # noqa: A002
        self.id = member_id(id)
        self.name = name or ""
        self.peer_urls = list(peer_urls or ())
        self.client_urls = list(client_urls or ())
        self.is_learner = bool(is_learner)

    @classmethod
    def from_api(cls, data):
        return cls(
            data["ID"],
            data.get("name", ""),
            data.get("peerURLs") or (),
            data.get("clientURLs") or (),
            data.get("isLearner", False),
        )

    def to_dict(self):
        return {
            "id": self.id,
            "name": self.name,
            "peer_urls": list(self.peer_urls),
            "client_urls": list(self.client_urls),
            "is_learner": self.is_learner,
        }

    def __eq__(self, other):
        return isinstance(other, Member) and self.to_dict() == other.to_dict()

    def __ne__(self, other):
        return not self == other

    __hash__ = None

    def __repr__(self):
        return "Member(%s, %s%s)" % (self.name or "(unstarted)", self.id, ", learner" if self.is_learner else "")


# ---------------------------------------------------------------- TLS and transport


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


def _split_url(url):
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
        _split_url(url)
        return self._http.request(method, url, body, _HEADERS if body is not None else {}, timeout)

    def stream(self, method, url, body, timeout, chunk_size=65536):
        _split_url(url)
        yield from self._http.stream(method, url, body, _HEADERS, timeout, chunk_size)


_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def _describe_os_error(exc):
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


# ---------------------------------------------------------------- client


class EtcdClient(object):
    """The etcd v3 JSON gateway of one endpoint (``https://host:port``)."""

    def __init__(self, endpoint, tls=None, timeout=5.0, transport=None):
        endpoint = (endpoint or "").rstrip("/")
        _split_url(endpoint)
        self.endpoint = endpoint
        self.timeout = float(timeout)
        self.transport = transport if transport is not None else HttpsTransport(tls)

    def _error(self, reason, kind, **extra):
        return EtcdError("%s: %s" % (self.endpoint, reason), self.endpoint, kind, **extra)

    def _http(self, method, path, body, timeout):
        url = self.endpoint + path
        try:
            return self.transport.request(method, url, body, timeout if timeout is not None else self.timeout)
        except EtcdError as exc:
            if exc.endpoint:
                raise
            raise self._error(str(exc), exc.kind) from exc
        except (OSError, http.client.HTTPException) as exc:
            reason, kind = _describe_os_error(exc)
            raise self._error(reason, kind) from exc

    def _api_error(self, path, status, body):
        try:
            data = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            data = None
        if isinstance(data, dict) and "error" in data and isinstance(data["error"], dict):
            data = data["error"]  # streaming responses wrap errors as {"error": {...}}
        if isinstance(data, dict) and (data.get("message") or data.get("error")):
            detail = str(data.get("message") or data.get("error"))
            code = data.get("code")
            name = GRPC_CODES.get(code, "code %s" % code) if code is not None else "HTTP %s" % status
            return self._error(
                "%s failed: %s (%s)" % (path, detail, name), "api", code=code, status=status, detail=detail
            )
        text = body[:300].decode("utf-8", "replace").strip() if body else ""
        hint = ""
        if status == 404:
            hint = " (is the grpc-gateway enabled and is this an etcd v3 client URL?)"
        return self._error("%s failed: HTTP %s %s%s" % (path, status, text, hint), "api", status=status, detail=text)

    def call(self, path, payload=None, timeout=None):
        """POST ``payload`` (a dict) as JSON to ``path`` (``/v3/...``) and return the decoded JSON object."""
        body = json.dumps(payload or {}).encode("utf-8")
        status, data = self._http("POST", path, body, timeout)
        if status != 200:
            raise self._api_error(path, status, data)
        try:
            decoded = json.loads(data.decode("utf-8")) if data else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise self._error(
                "%s answered with something that is not JSON: %r" % (path, data[:200]), "protocol"
            ) from exc
        if not isinstance(decoded, dict):
            raise self._error("%s answered with JSON that is not an object: %r" % (path, data[:200]), "protocol")
        return decoded

    # -- cluster

    def _members(self, data, path):
        try:
            return [Member.from_api(m) for m in data.get("members") or ()]
        except (KeyError, TypeError, ValueError) as exc:
            raise self._error("%s returned a member without a valid ID: %s" % (path, exc), "protocol") from exc

    def member_list(self):
        """``(members, member_id of the member answering)``."""
        data = self.call("/v3/cluster/member/list")
        header = data.get("header") or {}
        return self._members(data, "member list"), str(header.get("member_id", ""))

    def member_add(self, peer_urls, learner=False):
        """Add a member; returns ``(new Member, members)``."""
        payload = {"peerURLs": list(peer_urls)}
        if learner:
            payload["isLearner"] = True
        data = self.call("/v3/cluster/member/add", payload)
        try:
            new = Member.from_api(data["member"])
        except (KeyError, TypeError, ValueError) as exc:
            raise self._error("member add returned no valid new member: %r" % data, "protocol") from exc
        return new, self._members(data, "member add")

    def member_remove(self, mid):
        return self._members(self.call("/v3/cluster/member/remove", {"ID": member_id(mid)}), "member remove")

    def member_update(self, mid, peer_urls):
        data = self.call("/v3/cluster/member/update", {"ID": member_id(mid), "peerURLs": list(peer_urls)})
        return self._members(data, "member update")

    def member_promote(self, mid):
        return self._members(self.call("/v3/cluster/member/promote", {"ID": member_id(mid)}), "member promote")

    # -- maintenance

    def status(self, timeout=None):
        """``/v3/maintenance/status`` reduced to plain values.

        ``member_id``, ``leader`` (``""`` when there is none), ``version``, ``db_size``, ``raft_index``,
        ``raft_applied_index``, ``raft_term``, ``revision``, ``is_learner``, ``errors`` (list of strings).
        """
        data = self.call("/v3/maintenance/status", timeout=timeout)
        header = data.get("header") or {}

        def number(value):
            try:
                return int(value or 0)
            except (TypeError, ValueError):
                return 0

        leader = str(data.get("leader") or "")
        return {
            "member_id": str(header.get("member_id", "")),
            "cluster_id": str(header.get("cluster_id", "")),
            "leader": "" if leader in ("", "0") else leader,
            "version": data.get("version", ""),
            "db_size": number(data.get("dbSize")),
            "raft_index": number(data.get("raftIndex")),
            "raft_applied_index": number(data.get("raftAppliedIndex")),
            "raft_term": number(data.get("raftTerm")),
            "revision": number(header.get("revision")),
            "is_learner": bool(data.get("isLearner", False)),
            "errors": [str(e) for e in data.get("errors") or ()],
        }

    def health(self, timeout=None):
        """``(healthy, reason)`` from ``GET /health`` (etcd answers 503 ``{"health":"false"}`` without a leader)."""
        status, body = self._http("GET", "/health", None, timeout)
        try:
            data = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            data = {}
        healthy = isinstance(data, dict) and str(data.get("health")).lower() == "true"
        if healthy and status == 200:
            return True, ""
        reason = data.get("reason") if isinstance(data, dict) else ""
        return False, "/health answered HTTP %s %s%s" % (
            status,
            body[:100].decode("utf-8", "replace").strip(),
            " (%s)" % reason if reason else "",
        )

    # -- key/value (used by checks and tests)

    def put(self, key, value):
        """Write ``key``; returns the new revision."""
        data = self.call("/v3/kv/put", {"key": b64(key), "value": b64(value)})
        return int((data.get("header") or {}).get("revision", 0))

    def get(self, key):
        """The value of ``key`` as bytes, or ``None``."""
        data = self.call("/v3/kv/range", {"key": b64(key)})
        kvs = data.get("kvs") or []
        return unb64(kvs[0].get("value", ""), self.endpoint) if kvs else None

    def delete(self, key):
        """Delete ``key``; returns how many keys were deleted."""
        return int(self.call("/v3/kv/deleterange", {"key": b64(key)}).get("deleted", 0))

    # -- snapshot

    def snapshot(self, write, timeout=None):
        """Stream ``/v3/maintenance/snapshot`` into ``write(bytes)``; returns the number of bytes written.

        The stream is a sequence of JSON objects ``{"result": {"blob": <base64>, "remaining_bytes": ...}}``;
        an ``{"error": {...}}`` object aborts it. The last blob etcd sends is the sha256 of the database, which
        :func:`verify_snapshot` checks.
        """
        url = self.endpoint + "/v3/maintenance/snapshot"
        timeout = timeout if timeout is not None else self.timeout
        decoder = json.JSONDecoder()
        buffer = ""
        raw = b""
        total = 0
        try:
            chunks = self.transport.stream("POST", url, b"{}", timeout)
            status, first = next(chunks)
            if status != 200:
                raise self._api_error("/v3/maintenance/snapshot", status, first)
            for _status, chunk in chunks:
                raw += chunk
                try:
                    text = raw.decode("utf-8")
                    raw = b""
                except UnicodeDecodeError:
                    continue  # a multi-byte character split between chunks (never in base64, but be safe)
                buffer += text
                pos = 0
                while True:
                    while pos < len(buffer) and buffer[pos] in " \r\n\t":
                        pos += 1
                    if pos >= len(buffer):
                        break
                    try:
                        obj, end = decoder.raw_decode(buffer, pos)
                    except ValueError:
                        break  # incomplete object: wait for more bytes
                    pos = end
                    total += self._snapshot_message(obj, write)
                buffer = buffer[pos:]
        except EtcdError:
            raise
        except (OSError, http.client.HTTPException) as exc:
            reason, kind = _describe_os_error(exc)
            raise self._error("snapshot stream: %s" % reason, kind) from exc
        if buffer.strip() or raw:
            raise self._error(
                "snapshot stream ended in the middle of a message (%d bytes left)" % len(buffer), "protocol"
            )
        if total == 0:
            raise self._error("snapshot stream was empty", "protocol")
        return total

    def _snapshot_message(self, obj, write):
        if not isinstance(obj, dict):
            raise self._error("snapshot stream sent %r" % (obj,), "protocol")
        if "error" in obj:
            raise self._api_error("/v3/maintenance/snapshot", 500, json.dumps(obj).encode())
        result = obj.get("result", obj)
        blob = unb64(result.get("blob", ""), self.endpoint)
        if blob:
            write(blob)
        return len(blob)


# ---------------------------------------------------------------- member health


def _probe_one(member, tls, timeout, transport_factory):
    """Health of one member on its client URLs: ``{"healthy", "error", "status", "endpoint"}``."""
    if not member.client_urls:
        return {"healthy": False, "error": "not started (no client URLs yet)", "status": None, "endpoint": ""}
    errors = []
    for url in member.client_urls:
        client = EtcdClient(url, tls, timeout, transport_factory() if transport_factory else None)
        try:
            status = client.status(timeout=timeout)
        except EtcdError as exc:
            errors.append(str(exc))
            continue
        if status["member_id"] and status["member_id"] != member.id:
            errors.append("%s: answered as member %s, not %s" % (url, status["member_id"], member.id))
            continue
        if status["errors"]:
            return {
                "healthy": False,
                "error": "%s: %s" % (url, "; ".join(status["errors"])),
                "status": status,
                "endpoint": url,
            }
        if not status["leader"]:
            return {"healthy": False, "error": "%s: no leader" % url, "status": status, "endpoint": url}
        try:
            healthy, reason = client.health(timeout=timeout)
        except EtcdError as exc:
            return {"healthy": False, "error": str(exc), "status": status, "endpoint": url}
        return {
            "healthy": healthy,
            "error": "" if healthy else "%s: %s" % (url, reason),
            "status": status,
            "endpoint": url,
        }
    return {"healthy": False, "error": "; ".join(errors), "status": None, "endpoint": ""}


def probe_members(
    members: list[Member], tls: TlsConfig | None = None, timeout: float = 2.0, transport_factory=None
) -> dict:
    """Probe every member in parallel; returns ``{member id: probe result}`` (see :func:`_probe_one`).

    A member is healthy when its ``/v3/maintenance/status`` answers as that member, without errors, with a
    leader, and ``/health`` says true. Unreachable within ``timeout`` means unhealthy; nothing waits longer than
    about ``2 * timeout`` per URL.
    """
    if not members:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(members))) as pool:
        futures = {m.id: pool.submit(_probe_one, m, tls, timeout, transport_factory) for m in members}
        return {mid: future.result() for mid, future in futures.items()}


class EtcdCluster(object):
    """The cluster behind a list of endpoints: membership with health, and where to send each change.

    :meth:`connect` lists members through the first endpoint that answers; :meth:`views` probes every member and
    returns :class:`MemberView` objects for the planner; :meth:`client_for_change` picks a healthy voting member
    other than the one being changed (so removing the member behind ``endpoints[0]`` goes through another one);
    :meth:`promote` retries until the learner is in sync or the deadline passes.
    """

    def __init__(
        self,
        endpoints,
        tls=None,
        timeout=5.0,
        health_timeout=2.0,
        transport_factory=None,
        clock=time.monotonic,
        sleep=time.sleep,
    ):
        if not endpoints:
            raise EtcdError(
                "endpoints is empty: give at least one client URL, like https://127.0.0.1:2379", kind="config"
            )
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self.tls = tls
        self.timeout = float(timeout)
        self.health_timeout = float(health_timeout)
        self.transport_factory = transport_factory
        self.clock = clock
        self.sleep = sleep
        self.primary = None
        self.primary_member_id = ""
        self.probes = {}

    def client(self, endpoint):
        return EtcdClient(
            endpoint, self.tls, self.timeout, self.transport_factory() if self.transport_factory else None
        )

    def connect(self):
        """List members through the first endpoint that answers; returns the members."""
        errors = []
        for endpoint in self.endpoints:
            client = self.client(endpoint)
            try:
                members, answering = client.member_list()
            except EtcdError as exc:
                if exc.kind == "config":
                    raise
                if LEARNER_RPC in exc.detail:
                    errors.append(
                        "%s is a learner, which does not serve the member list: add voting members' client URLs to "
                        "endpoints" % endpoint
                    )
                else:
                    errors.append(str(exc))
                continue
            self.primary, self.primary_member_id = client, answering
            return members
        raise EtcdError(
            "no etcd endpoint answered (%s): %s" % (", ".join(self.endpoints), "; ".join(errors)),
            kind="unavailable",
        )

    def views(self, members):
        """Probe ``members`` and return :class:`MemberView` objects (health, error, leader) in name order."""
        self.probes = probe_members(members, self.tls, self.health_timeout, self.transport_factory)
        leaders = {}
        for probe in self.probes.values():
            status = probe.get("status") or {}
            if status.get("leader"):
                leaders[status["leader"]] = leaders.get(status["leader"], 0) + 1
        leader = max(leaders, key=leaders.get) if leaders else ""
        views = []
        for m in members:
            probe = self.probes.get(m.id, {})
            views.append(
                MemberView(
                    m.id,
                    m.name,
                    m.peer_urls,
                    m.client_urls,
                    m.is_learner,
                    probe.get("healthy", False),
                    probe.get("error", ""),
                    m.id == leader,
                )
            )
        return sorted(views, key=lambda v: (v.name == "", v.name, v.id))

    def client_for_change(self, views, avoid_id=None):
        """A client on a healthy voting member other than ``avoid_id`` (the primary endpoint when it qualifies)."""
        healthy_voters = {v.id: v for v in views if v.healthy and not v.is_learner and v.id != avoid_id}
        if self.primary is not None and self.primary_member_id in healthy_voters:
            return self.primary
        for v in views:
            if v.id in healthy_voters:
                endpoint = (self.probes.get(v.id) or {}).get("endpoint") or (v.client_urls or [""])[0]
                if endpoint:
                    return self.client(endpoint)
        others = ", ".join(v.label for v in views if v.id != avoid_id) or "none"
        raise EtcdError(
            "no healthy voting member to send the change to (other members: %s): check their health first" % others,
            kind="unavailable",
        )

    def change(self, views, call, avoid_id=None, wait_timeout=120.0, interval=0.5):
        """Run ``call(client)`` on a healthy voting member (not ``avoid_id``), sending it again while etcd answers
        "unhealthy cluster" (a member connected less than 5 s ago) until ``wait_timeout``; returns its result."""
        deadline = self.clock() + float(wait_timeout)
        client = self.client_for_change(views, avoid_id=avoid_id)
        while True:
            try:
                return call(client)
            except EtcdError as exc:
                if exc.kind != "api" or UNHEALTHY_CLUSTER not in exc.detail or self.clock() >= deadline:
                    if exc.kind == "api" and UNHEALTHY_CLUSTER in exc.detail:
                        raise EtcdError(
                            "%s (still after %ss: etcd accepts membership changes once every voting member has been "
                            "connected for 5 s; check the members' health and peer connectivity)" % (exc, wait_timeout),
                            exc.endpoint,
                            exc.kind,
                            exc.code,
                            exc.status,
                            exc.detail,
                        ) from exc
                    raise
            self.sleep(interval)

    def promote(self, views, learner, wait_timeout=120.0, interval=0.5):
        """Promote ``learner`` (a :class:`MemberView`), retrying while etcd says it is not in sync yet.

        Returns the member list after the promotion. Raises :class:`EtcdError` at the deadline with the learner's
        and the leader's raft index (or why the learner cannot be reached).
        """
        deadline = self.clock() + float(wait_timeout)
        client = self.client_for_change(views, avoid_id=learner.id)
        last = None
        while True:
            try:
                return client.member_promote(learner.id)
            except EtcdError as exc:
                if exc.kind == "api" and LEARNER_NOT_READY not in exc.detail and UNHEALTHY_CLUSTER not in exc.detail:
                    raise
                last = exc
            if self.clock() >= deadline:
                break
            self.sleep(interval)
        raise EtcdError(
            "learner %s did not catch up with the leader within %ss (%s): check that etcd runs on it with "
            "--initial-cluster-state=existing and reaches its peers, then run again (wait_timeout raises the wait); "
            "last error: %s" % (learner.label, wait_timeout, self._catch_up(learner, views), last),
            kind="timeout",
        )

    def _catch_up(self, learner, views):
        probes = probe_members(
            [Member(v.id, v.name, v.peer_urls, v.client_urls, v.is_learner) for v in views],
            self.tls,
            self.health_timeout,
            self.transport_factory,
        )
        mine = probes.get(learner.id) or {}
        status = mine.get("status")
        if not status:
            return "the learner does not answer: %s" % (mine.get("error") or "no client URL")
        leader = probes.get(status.get("leader") or "", {}).get("status") or {}
        if leader:
            return "learner raft index %d, leader raft index %d" % (status["raft_index"], leader["raft_index"])
        return "learner raft index %d, leader unknown" % status["raft_index"]


# ---------------------------------------------------------------- snapshot files

SNAPSHOT_SHA_SIZE = 32
_BOLT_MAGIC = 0xED0CDAED
_PAGE_HEADER = struct.Struct("<QHHI")  # id, flags, count, overflow
_BRANCH_ELEM = struct.Struct("<IIQ")  # pos, ksize, pgid
_LEAF_ELEM = struct.Struct("<IIII")  # flags, pos, ksize, vsize
_META = struct.Struct("<IIIIQQQQQQ")  # magic, version, page size, flags, root, sequence, freelist, pgid, txid, sum
_BRANCH, _LEAF, _META_FLAG = 0x01, 0x02, 0x04
_BUCKET_LEAF = 0x01


class SnapshotError(Exception):
    """The snapshot file is not an intact etcd snapshot."""


def _fnv64a(data):
    value = 0xCBF29CE484222325
    for byte in bytearray(data):
        value ^= byte
        value = (value * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


class _Bolt(object):
    """Just enough of the bbolt file format to read etcd's revision: pages are read on demand through ``read``."""

    def __init__(self, read, size):
        self.read = read
        self.size = size
        meta0 = self._meta(0)
        # Meta page 1 follows page 0; when page 0 is damaged, look for it at the usual page sizes (4 KiB first).
        meta1 = None
        for page_size in (meta0[2],) if meta0 else (4096, 512, 1024, 2048, 8192, 16384, 32768, 65536):
            meta1 = self._meta(page_size)
            if meta1 and meta1[2] == page_size:
                break
            meta1 = None
        metas = [m for m in (meta0, meta1) if m]
        if not metas:
            raise SnapshotError("no valid bbolt meta page (not an etcd database, or corrupt)")
        _magic, _version, page_size, _flags, root, _seq, _free, hwm, _txid, _sum = max(metas, key=lambda m: m[8])
        self.page_size = page_size
        self.root = root
        if hwm * page_size > size:
            raise SnapshotError(
                "the database is truncated: its meta page says %d pages of %d bytes, there are %d bytes"
                % (hwm, page_size, size)
            )

    def _meta(self, offset):
        raw = self.read(offset, _PAGE_HEADER.size + _META.size)
        if len(raw) < _PAGE_HEADER.size + _META.size:
            return None
        _pid, flags, _count, _overflow = _PAGE_HEADER.unpack_from(raw, 0)
        meta = _META.unpack_from(raw, _PAGE_HEADER.size)
        if not flags & _META_FLAG or meta[0] != _BOLT_MAGIC or meta[9] != _fnv64a(raw[_PAGE_HEADER.size : -8]):
            return None
        if meta[2] < 512 or meta[2] & (meta[2] - 1):
            return None
        return meta

    def _page(self, pgid):
        offset = pgid * self.page_size
        if pgid < 2 or offset + self.page_size > self.size:
            raise SnapshotError("page %d is outside the database" % pgid)
        overflow = _PAGE_HEADER.unpack(self.read(offset, _PAGE_HEADER.size))[3]
        if offset + self.page_size * (1 + overflow) > self.size:
            raise SnapshotError("page %d (+%d overflow pages) is outside the database" % (pgid, overflow))
        return self.read(offset, self.page_size * (1 + overflow))

    def _walk(self, page, last_only):
        """Yield ``(flags, key, value)`` of a tree's leaf elements in key order (or only the last one)."""
        _pid, flags, count, _overflow = _PAGE_HEADER.unpack_from(page, 0)
        if flags & _BRANCH:
            for i in [count - 1] if last_only else range(count):
                if i < 0:
                    continue
                _pos, _ksize, child = _BRANCH_ELEM.unpack_from(page, _PAGE_HEADER.size + i * _BRANCH_ELEM.size)
                for item in self._walk(self._page(child), last_only):
                    yield item
        elif flags & _LEAF:
            for i in [count - 1] if last_only else range(count):
                if i < 0:
                    continue
                elem = _PAGE_HEADER.size + i * _LEAF_ELEM.size
                eflags, pos, ksize, vsize = _LEAF_ELEM.unpack_from(page, elem)
                start = elem + pos
                if start + ksize + vsize > len(page):
                    raise SnapshotError("a leaf element points outside its page")
                yield eflags, bytes(page[start : start + ksize]), bytes(page[start + ksize : start + ksize + vsize])
        else:
            raise SnapshotError("unexpected page type 0x%x" % flags)

    def bucket(self, name):
        """The root page of a top-level bucket (inline buckets live inside their value), or ``None``."""
        for eflags, key, value in self._walk(self._page(self.root), False):
            if key == name and eflags & _BUCKET_LEAF:
                root = struct.unpack_from("<Q", value, 0)[0]
                return value[16:] if root == 0 else self._page(root)
        return None

    def last_key(self, page):
        items = list(self._walk(page, True))
        return items[-1][1] if items else None

    def get(self, page, key):
        for _flags, k, value in self._walk(page, False):
            if k == key:
                return value
        return None


def verify_snapshot(path: str, chunk_size: int = 1 << 20) -> dict:
    """Check an etcd snapshot file; return ``{"size", "sha256", "db_sha256", "revision", "has_hash"}``.

    A snapshot saved from the v3 API (this module or ``etcdctl snapshot save``) is the bbolt database followed
    by the sha256 of the database (32 bytes; the database itself is a multiple of 512 bytes). The trailer is
    checked, and the database's meta pages (magic and FNV checksum) are read to find the revision: the newest key
    of the ``key`` bucket or the finished compaction revision, whichever is newer. The file is read in chunks,
    never whole into memory. Raises :class:`SnapshotError`.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed in the finally below
    except OSError as exc:
        raise SnapshotError("cannot read %s: %s" % (path, exc.strerror or exc)) from exc
    try:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise SnapshotError("%s is empty" % path)
        has_hash = size % 512 == SNAPSHOT_SHA_SIZE
        db_size = size - SNAPSHOT_SHA_SIZE if has_hash else size
        file_hash, db_hash = hashlib.sha256(), hashlib.sha256()
        done = 0
        while True:
            chunk = handle.read(chunk_size)
            if not chunk:
                break
            file_hash.update(chunk)
            if done < db_size:
                db_hash.update(chunk[: db_size - done])
            done += len(chunk)
        db_sha = db_hash.hexdigest()
        if has_hash:
            handle.seek(db_size)
            trailer = binascii.hexlify(handle.read(SNAPSHOT_SHA_SIZE)).decode()
            if trailer != db_sha:
                raise SnapshotError(
                    "%s: the sha256 trailer does not match the database (%s != %s): the snapshot is corrupt"
                    % (path, trailer, db_sha)
                )

        def read(offset, length):
            length = max(0, min(length, db_size - offset))
            handle.seek(offset)
            return handle.read(length)

        try:
            bolt = _Bolt(read, db_size)
            keys = bolt.bucket(b"key")
            if keys is None:
                raise SnapshotError("no 'key' bucket: not an etcd v3 database")
            last = bolt.last_key(keys)
            meta = bolt.bucket(b"meta")
            compacted = bolt.get(meta, b"finishedCompactRev") if meta is not None else None
        except (struct.error, IndexError) as exc:
            raise SnapshotError("%s: the database structure is damaged (%s)" % (path, exc)) from exc
        except SnapshotError as exc:
            raise SnapshotError("%s: %s" % (path, exc)) from exc
    finally:
        handle.close()
    revision = 0
    for raw in (last, compacted):
        if raw and len(raw) >= 8:
            revision = max(revision, struct.unpack(">Q", raw[:8])[0])
    return {
        "size": size,
        "sha256": file_hash.hexdigest(),
        "db_sha256": db_sha,
        "revision": revision,
        "has_hash": has_hash,
    }


SNAPSHOT_TIME_FORMAT = "%Y%m%dT%H%M%S"


def snapshot_name(prefix: str, now: datetime.datetime | None = None) -> str:
    """``<prefix>-YYYYmmddTHHMMSS.mmmZ.db`` in UTC: names sort in time order."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return "%s-%s.%03dZ.db" % (prefix, now.strftime(SNAPSHOT_TIME_FORMAT), now.microsecond // 1000)


def snapshot_pattern(prefix: str) -> re.Pattern:
    return re.compile(r"^%s-[0-9]{8}T[0-9]{6}\.[0-9]{3}Z\.db$" % re.escape(prefix))


def snapshots_to_prune(names: list[str], prefix: str, keep: int) -> list[str]:
    """Of the file ``names`` in a directory, the snapshots of ``prefix`` beyond the newest ``keep`` (0: none)."""
    if not keep or keep < 0:
        return []
    pattern = snapshot_pattern(prefix)
    ours = sorted(n for n in names if pattern.match(n))
    return ours[: max(0, len(ours) - keep)]


def parse_initial_cluster(value: str) -> list[tuple[str, str]]:
    """``"a=https://h1:2380,b=https://h2:2380"`` -> ``[("a", url), ...]``; raises ``ValueError`` on bad entries."""
    pairs = []
    for part in (value or "").split(","):
        name, sep, url = part.strip().partition("=")
        if not sep or not name or not re.match(r"^https?://\S+$", url):
            raise ValueError("initial_cluster entry %r is not name=scheme://host:port" % part.strip())
        pairs.append((name, url))
    if not pairs:
        raise ValueError("initial_cluster is empty")
    return pairs


def restore_plan_errors(name: str, initial_cluster: str, peer_urls: list[str]) -> list[str]:
    """Why a restore with these flags would produce a member that cannot start (empty list when consistent)."""
    try:
        pairs = parse_initial_cluster(initial_cluster)
    except ValueError as exc:
        return [str(exc)]
    errors = []
    mine = sorted(url for n, url in pairs if n == name)
    if not mine:
        errors.append("name %s is not in initial_cluster (%s)" % (name, ", ".join(sorted({n for n, _ in pairs}))))
    elif mine != sorted(set(peer_urls)):
        errors.append(
            "initial_cluster gives %s the peer URLs %s but initial_advertise_peer_urls is %s: they must be the same"
            % (name, ", ".join(mine), ", ".join(sorted(set(peer_urls))))
        )
    owners = {}
    for n, url in pairs:
        owners.setdefault(url, set()).add(n)
    shared = sorted(url for url, names in owners.items() if len(names) > 1)
    if shared:
        errors.append("peer URL(s) %s appear under more than one name in initial_cluster" % ", ".join(shared))
    return errors


def restore_command(
    tool: str, src: str, data_dir: str, name: str, initial_cluster: str, token: str, peer_urls: list[str]
) -> list[str]:
    """The ``etcdutl``/``etcdctl snapshot restore`` command line (same flags in 3.4 etcdctl and 3.5+ etcdutl)."""
    return [
        tool,
        "snapshot",
        "restore",
        src,
        "--name=" + name,
        "--initial-cluster=" + initial_cluster,
        "--initial-cluster-token=" + token,
        "--initial-advertise-peer-urls=" + ",".join(peer_urls),
        "--data-dir=" + data_dir,
    ]
