# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""A small etcd v3 client over the JSON gateway (standard library only, Python 3.9+).

:class:`EtcdClient` talks to one endpoint: members, status, health, a few KV calls, snapshot streaming. What the
gateway speaks (errors, member IDs, base64, :class:`Member`) is in ``etcd/api.py``, TLS and HTTP in
``etcd/transport.py``, the cluster behind several endpoints in ``etcd/cluster.py``, snapshot files in
``etcd/snapshot.py``.
"""

from __future__ import absolute_import, annotations, division, print_function

import http.client
import json

from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.api import (
    GRPC_CODES,
    EtcdError,
    Member,
    b64,
    member_id,
    unb64,
)
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.transport import (
    HttpsTransport,
    describe_os_error,
    split_url,
)


class EtcdClient(object):
    """The etcd v3 JSON gateway of one endpoint (``https://host:port``)."""

    def __init__(self, endpoint, tls=None, timeout=5.0, transport=None):
        endpoint = (endpoint or "").rstrip("/")
        split_url(endpoint)
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
            reason, kind = describe_os_error(exc)
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
            reason, kind = describe_os_error(exc)
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
