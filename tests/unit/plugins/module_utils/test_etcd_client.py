"""etcd v3 gateway client: requests and responses through a fake transport, health probes, retries with a fake
clock, and snapshot files (a synthetic bbolt database built here)."""

import base64
import hashlib
import http.client
import json
import socket
import ssl
import struct

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.api import (
    LEARNER_NOT_READY,
    EtcdError,
    Member,
    b64,
    member_id,
    member_id_hex,
    unb64,
)
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.bbolt import _fnv64a
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.client import EtcdClient
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.cluster import EtcdCluster, probe_members
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.quorum import MemberView
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.snapshot import (
    SnapshotError,
    parse_initial_cluster,
    restore_command,
    restore_plan_errors,
    snapshot_name,
    snapshot_pattern,
    snapshots_to_prune,
    verify_snapshot,
)
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.transport import HttpsTransport, TlsConfig

EP = "https://10.0.0.1:2379"
BIG_ID = "17397789333406110508"  # > 2**63: would lose precision as a float, must stay a string


class FakeTransport(object):
    """Scripted HTTP: ``routes[url]`` is a response or a list of responses used in turn (the last one repeats).

    A response is ``(status, body)`` (body: dict -> JSON, bytes as is), an exception to raise, or a callable
    ``f(payload) -> response``. Streams: ``streams[url]`` is ``(status, [chunks])``.
    """

    def __init__(self, routes=None, streams=None):
        self.routes = dict(routes or {})
        self.streams = dict(streams or {})
        self.requests = []

    def _respond(self, url, payload):
        if url not in self.routes:
            raise ConnectionRefusedError(111, "Connection refused")
        entry = self.routes[url]
        response = entry
        if isinstance(entry, list):
            response = entry.pop(0) if len(entry) > 1 else entry[0]
        if callable(response) and not isinstance(response, BaseException):
            response = response(payload)
        if isinstance(response, BaseException):
            raise response
        status, body = response
        return status, json.dumps(body).encode() if isinstance(body, (dict, list)) else body

    def request(self, method, url, body, timeout):
        payload = json.loads(body) if body else None
        self.requests.append((method, url, payload, timeout))
        return self._respond(url, payload)

    def stream(self, method, url, body, timeout):
        self.requests.append((method, url, json.loads(body), timeout))
        status, chunks = self.streams[url]
        if isinstance(chunks, BaseException):
            raise chunks
        yield status, b"" if status == 200 else chunks[0]
        if status == 200:
            for chunk in chunks:
                if isinstance(chunk, BaseException):
                    raise chunk
                yield None, chunk


def member_json(mid, name, peer, client=None, learner=False):
    data = {"ID": mid, "peerURLs": [peer]}
    if name:
        data["name"] = name
    if client:
        data["clientURLs"] = [client]
    if learner:
        data["isLearner"] = True
    return data


def client(routes=None, streams=None, timeout=5.0):
    transport = FakeTransport(routes, streams)
    return EtcdClient(EP, timeout=timeout, transport=transport), transport


# ---------------------------------------------------------------- IDs and base64


@pytest.mark.parametrize(
    "value, expected",
    [
        (12, "12"),
        ("12", "12"),
        (" 12 ", "12"),
        (BIG_ID, BIG_ID),
        ("0x1f", "31"),
        ("0X1F", "31"),
        ("8e9e05c52164694d", str(0x8E9E05C52164694D)),
        (2**64 - 1, str(2**64 - 1)),
    ],
)
def test_member_id_normalisation(value, expected):
    assert member_id(value) == expected


@pytest.mark.parametrize("value", ["", "xyz", "0", 0, 2**64, "-5", True, "12.5"])
def test_member_id_rejects(value):
    with pytest.raises(ValueError):
        member_id(value)


def test_member_id_hex_matches_etcdctl():
    assert member_id_hex(str(0x8E9E05C52164694D)) == "8e9e05c52164694d"
    assert member_id_hex(1) == "0000000000000001"


def test_base64_round_trip_binary():
    raw = b"\x00\xff/registry/\xe2\x82"
    assert unb64(b64(raw)) == raw
    assert b64("a") == "YQ=="
    with pytest.raises(EtcdError, match="invalid base64"):
        unb64("!!!", EP)


# ---------------------------------------------------------------- requests and responses


def test_member_list_keeps_64_bit_ids_as_strings():
    body = {
        "header": {"cluster_id": "1", "member_id": BIG_ID},
        "members": [
            member_json(BIG_ID, "etcd1", "https://10.0.0.1:2380", EP),
            member_json("42", "", "https://10.0.0.4:2380", learner=True),
        ],
    }
    c, transport = client({EP + "/v3/cluster/member/list": (200, body)})
    members, answering = c.member_list()
    assert answering == BIG_ID
    assert [m.to_dict() for m in members] == [
        {
            "id": BIG_ID,
            "name": "etcd1",
            "peer_urls": ["https://10.0.0.1:2380"],
            "client_urls": [EP],
            "is_learner": False,
        },
        {"id": "42", "name": "", "peer_urls": ["https://10.0.0.4:2380"], "client_urls": [], "is_learner": True},
    ]
    method, url, payload, timeout = transport.requests[0]
    assert (method, url, payload, timeout) == ("POST", EP + "/v3/cluster/member/list", {}, 5.0)


def test_member_changes_send_ids_as_decimal_strings():
    listed = {"members": [member_json("7", "etcd1", "https://10.0.0.1:2380", EP)]}
    routes = {EP + "/v3/cluster/member/%s" % op: (200, listed) for op in ("remove", "update", "promote")}
    c, transport = client(routes)
    c.member_remove("0x" + "f" * 16)
    c.member_update(BIG_ID, ["https://10.0.0.9:2380"])
    c.member_promote(9)
    payloads = [r[2] for r in transport.requests]
    assert payloads == [
        {"ID": str(2**64 - 1)},
        {"ID": BIG_ID, "peerURLs": ["https://10.0.0.9:2380"]},
        {"ID": "9"},
    ]
    assert all(isinstance(p["ID"], str) for p in payloads)


def test_member_add_payload_and_response():
    response = {
        "member": member_json(BIG_ID, "", "https://10.0.0.4:2380", learner=True),
        "members": [member_json("7", "etcd1", "https://10.0.0.1:2380", EP)],
    }
    c, transport = client({EP + "/v3/cluster/member/add": (200, response)})
    new, members = c.member_add(["https://10.0.0.4:2380"], learner=True)
    assert new.id == BIG_ID and new.is_learner and new.name == ""
    assert transport.requests[0][2] == {"peerURLs": ["https://10.0.0.4:2380"], "isLearner": True}
    c.member_add(["https://10.0.0.5:2380"], learner=False)
    assert transport.requests[1][2] == {"peerURLs": ["https://10.0.0.5:2380"]}


def test_put_get_delete_use_base64_on_the_wire():
    value = b"\x00binary\xff"
    routes = {
        EP + "/v3/kv/put": (200, {"header": {"revision": "12"}}),
        EP + "/v3/kv/range": [
            (200, {"kvs": [{"key": b64("k"), "value": base64.b64encode(value).decode()}], "count": "1"}),
            (200, {"header": {}}),
        ],
        EP + "/v3/kv/deleterange": (200, {"deleted": "1"}),
    }
    c, transport = client(routes)
    assert c.put("k", value) == 12
    assert transport.requests[0][2] == {"key": "aw==", "value": base64.b64encode(value).decode()}
    assert c.get("k") == value
    assert c.get("k") is None
    assert c.delete("k") == 1


def test_status_parses_strings_and_no_leader():
    body = {
        "header": {"member_id": BIG_ID, "revision": "88", "cluster_id": "5"},
        "version": "3.4.23",
        "dbSize": "24576",
        "leader": "0",
        "raftIndex": "12",
        "raftTerm": "3",
        "raftAppliedIndex": "12",
        "errors": ["etcdserver: no leader"],
        "isLearner": True,
    }
    c, _ = client({EP + "/v3/maintenance/status": (200, body)})
    status = c.status()
    assert status["leader"] == "" and status["member_id"] == BIG_ID and status["revision"] == 88
    assert status["raft_index"] == 12 and status["db_size"] == 24576 and status["is_learner"] is True
    assert status["errors"] == ["etcdserver: no leader"]


def test_health_true_and_false():
    c, transport = client({EP + "/health": [(200, {"health": "true"}), (503, b'{"health":"false"}\n')]})
    assert c.health() == (True, "")
    healthy, reason = c.health(timeout=0.5)
    assert healthy is False and "HTTP 503" in reason
    assert transport.requests[1][0] == "GET" and transport.requests[1][3] == 0.5


@pytest.mark.parametrize(
    "status, body, match, code",
    [
        (
            412,
            {"error": "etcdserver: too many learner members in cluster", "message": "etcdserver: too many", "code": 9},
            r"member/add failed: etcdserver: too many \(FailedPrecondition\)",
            9,
        ),
        (
            404,
            {"code": 5, "message": "etcdserver: member not found", "details": []},
            r"member not found \(NotFound\)",
            5,
        ),
        (404, b"404 page not found\n", r"HTTP 404 404 page not found \(is the grpc-gateway enabled", None),
        (500, b"", r"HTTP 500", None),
    ],
)
def test_error_bodies_become_etcd_errors(status, body, match, code):
    c, _ = client({EP + "/v3/cluster/member/add": (status, body)})
    with pytest.raises(EtcdError, match=match) as err:
        c.member_add(["https://10.0.0.4:2380"])
    assert str(err.value).startswith(EP + ": ")
    assert err.value.endpoint == EP and err.value.kind == "api" and err.value.code == code
    assert err.value.status == status


def test_non_json_success_is_a_protocol_error():
    c, _ = client({EP + "/v3/cluster/member/list": (200, b"<html>")})
    with pytest.raises(EtcdError, match="not JSON") as err:
        c.member_list()
    assert err.value.kind == "protocol"
    c, _ = client({EP + "/v3/cluster/member/list": (200, {"members": [{"name": "x"}]})})
    with pytest.raises(EtcdError, match="without a valid ID"):
        c.member_list()


@pytest.mark.parametrize(
    "exc, kind, words",
    [
        (socket.timeout("timed out"), "timeout", "timed out"),
        (TimeoutError(), "timeout", "timed out"),
        (ConnectionRefusedError(111, "Connection refused"), "unavailable", "connection refused"),
        (http.client.RemoteDisconnected("closed"), "unavailable", "plain HTTP"),
        (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), "tls", "refused the client certificate"),
        (socket.gaierror(-2, "Name or service not known"), "unavailable", "cannot resolve"),
        (OSError(113, "No route to host"), "unavailable", "No route to host"),
    ],
)
def test_transport_failures_name_the_endpoint(exc, kind, words):
    c, _ = client({EP + "/v3/maintenance/status": exc})
    with pytest.raises(EtcdError) as err:
        c.status()
    assert err.value.kind == kind and err.value.endpoint == EP
    assert str(err.value).startswith(EP + ": ") and words in str(err.value)


def test_certificate_verification_failure_hints_at_ca_and_sans():
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_message = "IP address mismatch"
    c, _ = client({EP + "/v3/maintenance/status": exc})
    with pytest.raises(EtcdError, match="IP address mismatch.*check ca_cert.*SANs") as err:
        c.status()
    assert err.value.kind == "tls"


def test_timeouts_are_passed_to_every_request():
    c, transport = client({EP + "/v3/maintenance/status": (200, {})}, timeout=1.5)
    c.status()
    c.status(timeout=0.25)
    assert [r[3] for r in transport.requests] == [1.5, 0.25]


def test_endpoint_must_be_a_url():
    with pytest.raises(EtcdError, match="not an http"):
        EtcdClient("10.0.0.1:2379")


# ---------------------------------------------------------------- TLS configuration


def test_tls_config_names_missing_files(tmp_path):
    with pytest.raises(EtcdError, match="ca_cert .*nope.crt does not exist") as err:
        TlsConfig(str(tmp_path / "nope.crt")).context()
    assert err.value.kind == "config"
    with pytest.raises(EtcdError, match="must be given together"):
        TlsConfig(None, str(tmp_path / "a.crt")).context()


def test_tls_config_rejects_garbage(tmp_path):
    bad = tmp_path / "ca.crt"
    bad.write_text("not a certificate")
    with pytest.raises(EtcdError, match="is not a PEM CA bundle"):
        TlsConfig(str(bad)).context()
    cert, key = tmp_path / "c.crt", tmp_path / "c.key"
    cert.write_text("x")
    key.write_text("y")
    with pytest.raises(EtcdError, match="cannot load client_cert"):
        TlsConfig(None, str(cert), str(key)).context()


# ---------------------------------------------------------------- snapshot stream


def _stream_messages(blobs):
    text = "".join(
        json.dumps({"result": {"blob": base64.b64encode(b).decode(), "remaining_bytes": "1"}}) + "\n" for b in blobs
    )
    return text.encode()


@pytest.mark.parametrize("cut", [1, 7, 50, 10000])
def test_snapshot_stream_reassembles_blobs_split_anywhere(cut):
    blobs = [b"A" * 3000, b"B" * 10, b"\x00" * 500, hashlib.sha256(b"x").digest()]
    raw = _stream_messages(blobs)
    chunks = [raw[i : i + cut] for i in range(0, len(raw), cut)]
    c, transport = client(streams={EP + "/v3/maintenance/snapshot": (200, chunks)})
    out = []
    assert c.snapshot(out.append) == sum(len(b) for b in blobs)
    assert b"".join(out) == b"".join(blobs)
    assert transport.requests[0][:3] == ("POST", EP + "/v3/maintenance/snapshot", {})


def test_snapshot_stream_errors():
    error = json.dumps({"error": {"code": 14, "message": "etcdserver: no leader"}}).encode()
    c, _ = client(streams={EP + "/v3/maintenance/snapshot": (200, [_stream_messages([b"a"]), error])})
    with pytest.raises(EtcdError, match=r"no leader \(Unavailable\)"):
        c.snapshot(lambda b: None)
    c, _ = client(streams={EP + "/v3/maintenance/snapshot": (200, [_stream_messages([b"abc"])[:-20]])})
    with pytest.raises(EtcdError, match="ended in the middle of a message") as err:
        c.snapshot(lambda b: None)
    assert err.value.kind == "protocol"
    c, _ = client(streams={EP + "/v3/maintenance/snapshot": (200, [])})
    with pytest.raises(EtcdError, match="stream was empty"):
        c.snapshot(lambda b: None)
    c, _ = client(streams={EP + "/v3/maintenance/snapshot": (403, [b'{"code":7,"message":"permission denied"}'])})
    with pytest.raises(EtcdError, match="permission denied"):
        c.snapshot(lambda b: None)
    c, _ = client(streams={EP + "/v3/maintenance/snapshot": (200, [_stream_messages([b"a"]), socket.timeout()])})
    with pytest.raises(EtcdError, match="snapshot stream: timed out") as err:
        c.snapshot(lambda b: None)
    assert err.value.kind == "timeout"


# ---------------------------------------------------------------- health probes and the cluster


def status_body(mid, leader="1", errors=()):
    return {"header": {"member_id": mid, "revision": "5"}, "leader": leader, "raftIndex": "10", "errors": list(errors)}


def cluster_routes(statuses):
    """Routes for members 1..n at https://10.0.0.<i>:2379; ``statuses[i]`` is a status body, an exception or None."""
    routes = {}
    members = []
    for i, status in enumerate(statuses, start=1):
        url = "https://10.0.0.%d:2379" % i
        members.append(member_json(str(i), "etcd%d" % i, "https://10.0.0.%d:2380" % i, url))
        if status is None:
            continue
        routes[url + "/v3/maintenance/status"] = status if isinstance(status, BaseException) else (200, status)
        routes[url + "/health"] = (200, {"health": "true"})
    listing = (200, {"header": {"member_id": "1"}, "members": members})
    for i in range(1, len(statuses) + 1):
        if statuses[i - 1] is not None:
            routes["https://10.0.0.%d:2379/v3/cluster/member/list" % i] = listing
    return routes


def shared_factory(routes):
    transport = FakeTransport(routes)
    return transport, (lambda: transport)


def test_probe_members_health_reasons():
    routes = cluster_routes(
        [status_body("1"), status_body("999"), status_body("3", leader="0"), None, status_body("5", errors=["x"])]
    )
    members = [
        Member.from_api(m)
        for m in json.loads(json.dumps(routes["https://10.0.0.1:2379/v3/cluster/member/list"][1]))["members"]
    ]
    members.append(Member("6", "", ["https://10.0.0.6:2380"]))
    _, factory = shared_factory(routes)
    probes = probe_members(members, timeout=0.5, transport_factory=factory)
    assert probes["1"]["healthy"] is True and probes["1"]["endpoint"] == "https://10.0.0.1:2379"
    assert probes["2"]["healthy"] is False and "answered as member 999, not 2" in probes["2"]["error"]
    assert probes["3"]["healthy"] is False and "no leader" in probes["3"]["error"]
    assert probes["4"]["healthy"] is False and "connection refused" in probes["4"]["error"]
    assert probes["5"]["healthy"] is False and probes["5"]["error"].endswith(": x")
    assert probes["6"] == {
        "healthy": False,
        "error": "not started (no client URLs yet)",
        "status": None,
        "endpoint": "",
    }


def test_probe_uses_the_health_timeout():
    routes = cluster_routes([status_body("1")])
    transport, factory = shared_factory(routes)
    probe_members([Member("1", "etcd1", ["https://10.0.0.1:2380"], ["https://10.0.0.1:2379"])], None, 0.7, factory)
    assert {r[3] for r in transport.requests} == {0.7}


def test_cluster_connect_falls_through_endpoints():
    routes = cluster_routes([status_body("1"), status_body("2"), status_body("3")])
    routes["https://10.0.0.9:2379/v3/cluster/member/list"] = (
        503,
        {"code": 14, "message": "etcdserver: rpc not supported for learner"},
    )
    _, factory = shared_factory(routes)
    cluster = EtcdCluster(["https://10.0.0.8:2379", "https://10.0.0.2:2379"], transport_factory=factory)
    members = cluster.connect()
    assert [m.name for m in members] == ["etcd1", "etcd2", "etcd3"]
    assert cluster.primary.endpoint == "https://10.0.0.2:2379"
    views = cluster.views(members)
    assert all(v.healthy for v in views) and [v.leader for v in views] == [True, False, False]

    bad = EtcdCluster(["https://10.0.0.8:2379", "https://10.0.0.9:2379"], transport_factory=factory)
    with pytest.raises(EtcdError) as err:
        bad.connect()
    text = str(err.value)
    assert "no etcd endpoint answered (https://10.0.0.8:2379, https://10.0.0.9:2379)" in text
    assert "10.0.0.8:2379: connection refused" in text
    assert "https://10.0.0.9:2379 is a learner, which does not serve the member list" in text
    with pytest.raises(EtcdError, match="endpoints is empty"):
        EtcdCluster([])


def views3(healthy=(True, True, True), learner=None):
    return [
        MemberView(
            str(i),
            "etcd%d" % i,
            ["https://10.0.0.%d:2380" % i],
            ["https://10.0.0.%d:2379" % i],
            "etcd%d" % i == learner,
            healthy[i - 1],
        )
        for i in (1, 2, 3)
    ]


def test_client_for_change_avoids_the_target_and_unhealthy_members():
    routes = cluster_routes([status_body("1"), status_body("2"), status_body("3")])
    _, factory = shared_factory(routes)
    cluster = EtcdCluster(["https://10.0.0.1:2379"], transport_factory=factory)
    cluster.views(cluster.connect())
    assert cluster.client_for_change(views3()).endpoint == "https://10.0.0.1:2379"  # the primary
    assert cluster.client_for_change(views3(), avoid_id="1").endpoint == "https://10.0.0.2:2379"
    assert cluster.client_for_change(views3((True, False, True)), avoid_id="1").endpoint == "https://10.0.0.3:2379"
    assert cluster.client_for_change(views3(learner="etcd2"), avoid_id="1").endpoint == "https://10.0.0.3:2379"
    with pytest.raises(EtcdError, match="no healthy voting member to send the change to"):
        cluster.client_for_change(views3((True, False, False)), avoid_id="1")


class FakeClock(object):
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def retrying_cluster(routes):
    clock = FakeClock()
    _, factory = shared_factory(routes)
    cluster = EtcdCluster(["https://10.0.0.1:2379"], transport_factory=factory, clock=clock, sleep=clock.sleep)
    cluster.views(cluster.connect())
    return cluster, clock


UNHEALTHY = (503, {"code": 14, "message": "etcdserver: unhealthy cluster"})
NOT_SYNCED = (412, {"code": 9, "message": "etcdserver: " + LEARNER_NOT_READY})


def test_change_retries_unhealthy_cluster_until_accepted():
    routes = cluster_routes([status_body("1"), status_body("2"), status_body("3")])
    ok = (200, {"members": []})
    routes["https://10.0.0.1:2379/v3/cluster/member/remove"] = [UNHEALTHY, UNHEALTHY, ok]
    cluster, clock = retrying_cluster(routes)
    assert cluster.change(views3(), lambda c: c.member_remove("3"), avoid_id="3", wait_timeout=10) == []
    assert clock.sleeps == [0.5, 0.5]


def test_change_gives_up_at_the_deadline_and_does_not_retry_other_errors():
    routes = cluster_routes([status_body("1"), status_body("2"), status_body("3")])
    routes["https://10.0.0.1:2379/v3/cluster/member/remove"] = [UNHEALTHY]
    cluster, clock = retrying_cluster(routes)
    with pytest.raises(EtcdError, match="unhealthy cluster.*still after 3s.*connected for 5 s"):
        cluster.change(views3(), lambda c: c.member_remove("3"), avoid_id="3", wait_timeout=3)
    assert 3 <= sum(clock.sleeps) <= 3.5
    routes["https://10.0.0.1:2379/v3/cluster/member/remove"] = [(404, {"code": 5, "message": "member not found"})]
    cluster, clock = retrying_cluster(routes)
    with pytest.raises(EtcdError, match="member not found"):
        cluster.change(views3(), lambda c: c.member_remove("3"), avoid_id="3", wait_timeout=3)
    assert clock.sleeps == []


def test_promote_waits_for_the_learner_then_promotes():
    routes = cluster_routes([status_body("1"), status_body("2"), status_body("3")])
    routes["https://10.0.0.1:2379/v3/cluster/member/promote"] = [
        NOT_SYNCED,
        NOT_SYNCED,
        NOT_SYNCED,
        (200, {"members": []}),
    ]
    cluster, clock = retrying_cluster(routes)
    learner = views3(learner="etcd3")[2]
    assert cluster.promote(views3(learner="etcd3"), learner, wait_timeout=60) == []
    assert len(clock.sleeps) == 3


def test_promote_deadline_reports_raft_indexes():
    routes = cluster_routes([status_body("1"), status_body("2"), status_body("3")])
    routes["https://10.0.0.3:2379/v3/maintenance/status"] = (200, dict(status_body("3"), raftIndex="4"))
    routes["https://10.0.0.1:2379/v3/maintenance/status"] = (200, dict(status_body("1"), raftIndex="900"))
    routes["https://10.0.0.1:2379/v3/cluster/member/promote"] = [NOT_SYNCED]
    cluster, clock = retrying_cluster(routes)
    views = views3(learner="etcd3")
    with pytest.raises(EtcdError) as err:
        cluster.promote(views, views[2], wait_timeout=5)
    assert err.value.kind == "timeout"
    assert "learner etcd3 did not catch up with the leader within 5s" in str(err.value)
    assert "learner raft index 4, leader raft index 900" in str(err.value)
    assert 5 <= clock.now - 100 <= 5.5


# ---------------------------------------------------------------- snapshot files (synthetic bbolt)

PS = 1024


def fnv64a(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) % 2**64
    return h


def test_fnv_reference_vectors():
    assert _fnv64a(b"") == 0xCBF29CE484222325
    assert _fnv64a(b"a") == 0xAF63DC4C8601EC8C
    assert _fnv64a(b"foobar") == fnv64a(b"foobar") == 0x85944171F73967E8


def _page(pgid, flags, count, body, size=PS):
    data = struct.pack("<QHHI", pgid, flags, count, 0) + body
    if not size:  # an inline bucket's page: no padding
        return data
    assert len(data) <= size
    return data + b"\0" * (size - len(data))


def leaf(pgid, items, size=PS):
    """items: (flags, key, value); element positions are relative to each element, like bbolt."""
    elems, payload = b"", b""
    base = 16 + 16 * len(items)
    for i, (flags, key, value) in enumerate(items):
        pos = base + len(payload) - (16 + 16 * i)
        elems += struct.pack("<IIII", flags, pos, len(key), len(value))
        payload += key + value
    return _page(pgid, 0x02, len(items), elems + payload, size)


def branch(pgid, children):
    elems, payload = b"", b""
    base = 16 + 16 * len(children)
    for i, (key, child) in enumerate(children):
        pos = base + len(payload) - (16 + 16 * i)
        elems += struct.pack("<IIQ", pos, len(key), child)
        payload += key
    return _page(pgid, 0x01, len(children), elems + payload)


def meta(pgid, root, hwm, txid):
    body = struct.pack("<IIIIQQQQQ", 0xED0CDAED, 2, PS, 0, root, 0, 2, hwm, txid)
    return _page(pgid, 0x04, 0, body + struct.pack("<Q", fnv64a(body)))


def rev(main, sub=0, tombstone=False):
    return struct.pack(">Q", main) + b"_" + struct.pack(">Q", sub) + (b"t" if tombstone else b"")


def bucket(root, inline=b""):
    return struct.pack("<QQ", root, 0) + inline


def bolt(revisions, compacted=None, split=False):
    """A bbolt database with a 'key' bucket (on its own pages, split under a branch if asked) and 'meta' inline."""
    keys = [(0, rev(r), b"kv") for r in revisions]
    pages = {}
    if split and len(keys) > 1:
        half = len(keys) // 2
        pages[5] = leaf(5, keys[:half])
        pages[6] = leaf(6, keys[half:])
        pages[4] = branch(4, [(keys[0][1], 5), (keys[half][1], 6)])
    else:
        pages[4] = leaf(4, keys)
    meta_items = [(0, b"consistent_index", struct.pack(">Q", 9))]
    if compacted is not None:
        meta_items.insert(0, (0, b"finishedCompactRev", rev(compacted)))
    meta_inline = leaf(0, meta_items, size=0)
    pages[3] = leaf(3, [(1, b"key", bucket(4)), (1, b"meta", bucket(0, meta_inline))])
    pages[2] = _page(2, 0x10, 0, b"")
    hwm = max(pages) + 1
    pages[0] = meta(0, 3, hwm, 6)
    pages[1] = meta(1, 3, hwm, 5)
    return b"".join(pages[i] for i in range(hwm))


def write_snapshot(tmp_path, db, trailer=True, name="snap.db"):
    path = tmp_path / name
    path.write_bytes(db + (hashlib.sha256(db).digest() if trailer else b""))
    return str(path)


@pytest.mark.parametrize("split", [False, True])
def test_verify_snapshot_reads_revision_and_checks_trailer(tmp_path, split):
    db = bolt([2, 3, 7, 41], split=split)
    path = write_snapshot(tmp_path, db)
    info = verify_snapshot(path, chunk_size=333)
    assert info["revision"] == 41 and info["has_hash"] is True
    assert info["size"] == len(db) + 32
    assert info["db_sha256"] == hashlib.sha256(db).hexdigest()
    with open(path, "rb") as handle:
        assert info["sha256"] == hashlib.sha256(handle.read()).hexdigest()


def test_verify_snapshot_uses_compaction_revision_and_empty_bucket(tmp_path):
    assert verify_snapshot(write_snapshot(tmp_path, bolt([5, 6], compacted=9)))["revision"] == 9
    assert verify_snapshot(write_snapshot(tmp_path, bolt([5, 60], compacted=9)))["revision"] == 60
    assert verify_snapshot(write_snapshot(tmp_path, bolt([])))["revision"] == 0


def test_verify_snapshot_without_trailer(tmp_path):
    info = verify_snapshot(write_snapshot(tmp_path, bolt([3]), trailer=False))
    assert info["has_hash"] is False and info["revision"] == 3


def test_verify_snapshot_detects_corruption(tmp_path):
    db = bytearray(bolt([2, 3]))
    good = hashlib.sha256(bytes(db)).digest()
    db[4 * PS + 100] ^= 0xFF  # a flipped bit in the key bucket
    path = tmp_path / "bad.db"
    path.write_bytes(bytes(db) + good)
    with pytest.raises(SnapshotError, match="trailer does not match the database.*corrupt"):
        verify_snapshot(str(path))


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda db: db[: 3 * PS], "truncated"),
        (lambda db: b"\0" * len(db), "no valid bbolt meta page"),
        (lambda db: b"", "is empty"),
    ],
)
def test_verify_snapshot_rejects_non_databases(tmp_path, mutate, match):
    data = mutate(bolt([2, 3]))
    path = tmp_path / "x.db"
    path.write_bytes(data + (hashlib.sha256(data).digest() if data else b""))
    with pytest.raises(SnapshotError, match=match):
        verify_snapshot(str(path))


def test_verify_snapshot_needs_the_key_bucket(tmp_path):
    db = bytearray(bolt([2]))
    root = leaf(3, [(1, b"lease", bucket(4))])
    db[3 * PS : 4 * PS] = root
    with pytest.raises(SnapshotError, match="no 'key' bucket"):
        verify_snapshot(write_snapshot(tmp_path, bytes(db)))
    with pytest.raises(SnapshotError, match="cannot read"):
        verify_snapshot(str(tmp_path / "missing.db"))


def test_one_bad_meta_page_is_tolerated(tmp_path):
    db = bytearray(bolt([2, 8]))
    db[20] ^= 0xFF  # meta page 0 checksum fails; meta page 1 still describes the same tree
    assert verify_snapshot(write_snapshot(tmp_path, bytes(db)))["revision"] == 8


def test_snapshot_names_sort_in_time_order():
    import datetime

    t = datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.timezone.utc)
    assert snapshot_name("etcd-snapshot", t) == "etcd-snapshot-20260102T030405.678Z.db"
    assert snapshot_pattern("etcd-snapshot").match(snapshot_name("etcd-snapshot"))


@pytest.mark.parametrize(
    "keep, pruned",
    [
        (0, []),
        (1, ["s-20260101T000000.000Z.db", "s-20260102T000000.000Z.db"]),
        (2, ["s-20260101T000000.000Z.db"]),
        (3, []),
        (10, []),
    ],
)
def test_snapshots_to_prune(keep, pruned):
    names = [
        "s-20260102T000000.000Z.db",
        "s-20260103T000000.000Z.db",
        "s-20260101T000000.000Z.db",
        "s-20260101T000000.000Z.db.sha256",
        "other-20260101T000000.000Z.db",
        "s-latest.db",
        "notes.txt",
    ]
    assert snapshots_to_prune(names, "s", keep) == pruned


# ---------------------------------------------------------------- restore flags


def test_parse_initial_cluster():
    assert parse_initial_cluster("a=https://h1:2380, b=https://h2:2380") == [
        ("a", "https://h1:2380"),
        ("b", "https://h2:2380"),
    ]
    for bad in ("", "a", "a=h1:2380", "=https://h:1", "a=https://h:1,,b=https://h:2"):
        with pytest.raises(ValueError):
            parse_initial_cluster(bad)


@pytest.mark.parametrize(
    "name, cluster, urls, errors",
    [
        ("a", "a=https://h1:2380,b=https://h2:2380", ["https://h1:2380"], []),
        ("a", "a=https://h1:2380,a=https://h1b:2380", ["https://h1b:2380", "https://h1:2380"], []),
        ("c", "a=https://h1:2380,b=https://h2:2380", ["https://h3:2380"], ["name c is not in initial_cluster (a, b)"]),
        ("a", "a=https://h1:2380", ["https://h9:2380"], ["initial_cluster gives a the peer URLs https://h1:2380 but"]),
        ("a", "a=https://h1:2380,b=https://h1:2380", ["https://h1:2380"], ["https://h1:2380 appear under more"]),
        ("a", "garbage", ["https://h1:2380"], ["is not name=scheme://host:port"]),
    ],
)
def test_restore_plan_errors(name, cluster, urls, errors):
    found = restore_plan_errors(name, cluster, urls)
    assert len(found) == len(errors)
    for text, expected in zip(found, errors):
        assert expected in text


def test_restore_command_flags():
    cmd = restore_command(
        "/bin/etcdutl", "/b/s.db", "/var/lib/etcd", "a", "a=https://h1:2380", "t1", ["https://h1:2380"]
    )
    assert cmd == [
        "/bin/etcdutl",
        "snapshot",
        "restore",
        "/b/s.db",
        "--name=a",
        "--initial-cluster=a=https://h1:2380",
        "--initial-cluster-token=t1",
        "--initial-advertise-peer-urls=https://h1:2380",
        "--data-dir=/var/lib/etcd",
    ]


# ---------------------------------------------------------------- transport


def test_transport_sends_json_headers_with_a_body_only(echo_server):
    transport = HttpsTransport()
    assert transport.request("POST", echo_server.url + "/v3/kv/range", b"{}", 5) == (200, b"answer")
    assert transport.request("GET", echo_server.url + "/health", None, 5) == (200, b"answer")
    assert list(transport.stream("POST", echo_server.url + "/v3/maintenance/snapshot", b"{}", 5)) == [
        (200, b""),
        (None, b"answer"),
    ]
    (_, _, with_body, _), (_, _, without, _), (_, _, streamed, _) = echo_server.requests
    assert (with_body["Content-Type"], with_body["Accept"]) == ("application/json", "application/json")
    assert "Content-Type" not in without and "Accept" not in without
    assert streamed["Content-Type"] == "application/json"


def test_transport_refuses_a_url_that_is_not_http():
    transport = HttpsTransport()
    for attempt in (
        lambda: transport.request("POST", "ftp://x/v3", b"{}", 5),
        lambda: list(transport.stream("POST", "ftp://x/v3", b"{}", 5)),
    ):
        with pytest.raises(EtcdError, match=r"^endpoint 'ftp://x/v3' is not an http\(s\)://host:port URL$") as err:
            attempt()
        assert err.value.kind == "config" and err.value.endpoint == "ftp://x/v3"
