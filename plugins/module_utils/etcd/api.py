# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""What etcd's v3 JSON gateway speaks (standard library only, Python 3.9+): errors, member IDs, base64, members.

The gateway (``--enable-grpc-gateway``, on by default in etcd 3.4 to 3.6) serves every v3 RPC as
``POST /v3/<service>/<method>`` with a JSON body on the client URLs. Proto3 JSON rules apply: 64-bit integers
(member IDs, revisions) travel as decimal *strings* and bytes (keys, values, snapshot blobs) as base64.
The clients keep member IDs as decimal strings end to end; :func:`member_id` normalises user input.

Every error is an :class:`EtcdError` whose message names the endpoint and, where it can, what to check.
"""

from __future__ import absolute_import, annotations, division, print_function

import base64
import binascii
import re

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
