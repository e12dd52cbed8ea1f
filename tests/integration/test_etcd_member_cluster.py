"""etcd_member against real local etcd clusters (fixtures in tests/integration/conftest.py), the module run in its own
interpreter. Its argument checks, which need no cluster, are in tests/unit/plugins/modules/test_etcd_member.py."""

import os
import time

import pytest
from support.modules import REPO, free_ports, run_module_file

pytestmark = pytest.mark.integration

MODULE = os.path.join(REPO, "plugins", "modules", "etcd_member.py")


def run_module(tmp_path, args, check_mode=False, diff=True):
    """Run the module file the way Ansible does (JSON arguments file); return its JSON result."""
    return run_module_file(MODULE, tmp_path, args, check_mode=check_mode, diff=diff)[1]


def by_name(result):
    return {m["name"]: m for m in result["members"]}


def wait_exit(node, timeout=15):
    deadline = time.monotonic() + timeout
    while node.running and time.monotonic() < deadline:
        time.sleep(0.05)  # poll interval, bounded by the deadline above
    return not node.running


@pytest.fixture(scope="module")
def trio(etcd_lab_module):
    """A healthy 3-member TLS cluster shared by the tests that leave it as they found it."""
    return etcd_lab_module.cluster("etcd1", "etcd2", "etcd3")


def base_args(lab, *nodes, **extra):
    args = dict(lab.pki.client_args(), endpoints=[n.client_url for n in nodes])
    args.update(extra)
    return args


# ---------------------------------------------------------------- list, health, idempotence (shared cluster)


def test_list_reports_members_health_and_leader(tmp_path, trio, etcd_lab_module):
    lab = etcd_lab_module
    dead = "https://127.0.0.1:%d" % free_ports(1)[0]
    result = run_module(tmp_path, dict(base_args(lab, *trio), endpoints=[dead, trio[1].client_url]))
    assert result.get("failed") is not True, result
    assert result["changed"] is False and result["action"] == "none"
    members = by_name(result)
    assert sorted(members) == ["etcd1", "etcd2", "etcd3"]
    truth = {m["name"]: m for m in lab.member_list(trio[0].client_url)}
    for name, m in members.items():
        assert m["id"] == truth[name]["id"] and isinstance(m["id"], str)  # 64-bit IDs stay exact, as strings
        assert m["id_hex"] == "%016x" % int(truth[name]["id"])
        assert m["peer_urls"] == truth[name]["peer_urls"]
        assert m["client_urls"] == truth[name]["client_urls"]
        assert m["healthy"] is True and m["error"] == "" and m["is_learner"] is False
    assert sum(m["leader"] for m in members.values()) == 1
    health = result["health"]
    assert health["healthy"] is True and health["has_quorum"] is True
    assert (health["voting_members"], health["quorum"], health["failures_tolerated_now"]) == (3, 2, 1)
    assert health["leader"] in members


def test_present_is_idempotent_and_check_mode_changes_nothing(tmp_path, trio, etcd_lab_module):
    lab = etcd_lab_module
    same = run_module(tmp_path, base_args(lab, trio[0], state="present", name="etcd2", peer_urls=[trio[1].peer_url]))
    assert same["changed"] is False and same["action"] == "none", same
    assert same["member"]["name"] == "etcd2"
    assert same["initial_cluster"].count("=") == 3

    new_peer = "https://127.0.0.1:%d" % free_ports(1)[0]
    args = base_args(lab, trio[0], state="present", name="etcd4", peer_urls=[new_peer])
    planned = run_module(tmp_path, args, check_mode=True)
    assert planned["changed"] is True and planned["action"] == "add", planned
    assert planned["quorum"]["safe"] is True and planned["quorum"]["voting_members_after"] == 3
    assert [m["name"] for m in planned["diff"]["after"]["members"]][-1] == "etcd4"
    assert len(lab.member_list(trio[0].client_url)) == 3  # nothing was added

    absent = run_module(tmp_path, base_args(lab, trio[0], state="absent", name="etcd9"))
    assert absent["changed"] is False and absent["action"] == "none", absent


def test_refuses_removal_that_would_lose_quorum(tmp_path, trio, etcd_lab_module):
    lab = etcd_lab_module
    etcd1, etcd2, etcd3 = trio
    before = lab.member_list(etcd1.client_url)
    etcd3.stop()
    try:
        args = base_args(lab, etcd1, state="absent", name="etcd2")
        for check_mode in (True, False):
            result = run_module(tmp_path, args, check_mode=check_mode)
            assert result.get("failed") is True, result
            assert result["changed"] is False
            assert (
                "removing etcd2 would leave 1 healthy voting member (etcd3 is unhealthy) but a 2-member cluster "
                "needs 2 for quorum: bring etcd3 back first" in result["msg"]
            ), result["msg"]
            assert by_name(result)["etcd3"]["healthy"] is False
            assert "connection refused" in by_name(result)["etcd3"]["error"]
            assert result["health"]["unhealthy"] == ["etcd3"]
        # quorum_guard=false turns the refusal into a warning (check mode here: the plan, nothing done)
        forced = run_module(tmp_path, dict(args, quorum_guard=False), check_mode=True)
        assert forced["changed"] is True and forced["quorum"]["safe"] is False, forced
        assert any("bring etcd3 back first" in str(w) for w in forced.get("warnings", [])), forced
        assert lab.member_list(etcd1.client_url) == before  # nothing changed
        # Removing the stopped member itself keeps quorum (2 voters, 2 healthy): the plan allows it.
        allowed = run_module(tmp_path, dict(args, name="etcd3"), check_mode=True)
        assert allowed["changed"] is True and allowed["action"] == "remove", allowed
    finally:
        etcd3.start(state="existing")  # an existing data dir: the initial-cluster flags are ignored
        etcd3.wait_healthy()


def test_tls_is_required(tmp_path, trio, etcd_lab_module):
    lab = etcd_lab_module
    plain = run_module(tmp_path, dict(base_args(lab), endpoints=[trio[0].client_url.replace("https:", "http:")]))
    assert plain["failed"] is True and trio[0].client_url.replace("https:", "http:") in plain["msg"], plain
    no_cert = run_module(tmp_path, {"endpoints": [trio[0].client_url], "ca_cert": str(lab.pki.ca)})
    assert no_cert["failed"] is True and "client certificate" in no_cert["msg"], no_cert
    rogue = run_module(
        tmp_path,
        {
            "endpoints": [trio[0].client_url],
            "ca_cert": str(lab.pki.ca),
            "client_cert": str(lab.pki.rogue_cert),
            "client_key": str(lab.pki.rogue_key),
        },
    )
    assert rogue["failed"] is True and trio[0].client_url in rogue["msg"], rogue
    missing = run_module(tmp_path, dict(base_args(lab, trio[0]), ca_cert=str(tmp_path / "nope.crt")))
    assert (
        missing["failed"] is True
        and missing["msg"].startswith("ca_cert ")
        and "nope.crt does not exist" in missing["msg"]
    )


# ---------------------------------------------------------------- grow and shrink (own cluster)


def test_grow_one_to_three_with_learners_then_shrink(tmp_path, etcd_lab):
    lab = etcd_lab
    (etcd1,) = lab.cluster("etcd1")
    etcd2, etcd3 = lab.node("etcd2"), lab.node("etcd3")

    # A second voter on a one-member cluster would need 2 healthy voters before etcd2 even runs.
    voter = run_module(
        tmp_path, base_args(lab, etcd1, state="present", name="etcd2", peer_urls=[etcd2.peer_url], learner=False)
    )
    assert voter["failed"] is True, voter
    assert "adding etcd2 as a voting member would leave 1 healthy voting member" in voter["msg"]
    assert "add it as a learner" in voter["msg"]
    assert len(lab.member_list(etcd1.client_url)) == 1

    for name, node in (("etcd2", etcd2), ("etcd3", etcd3)):
        add = run_module(tmp_path, base_args(lab, etcd1, state="present", name=name, peer_urls=[node.peer_url]))
        assert add.get("failed") is not True, add["msg"]
        assert add["changed"] is True and add["action"] == "add", add
        assert add["member"]["is_learner"] is True and add["member"]["name"] == ""
        assert "%s=%s" % (name, node.peer_url) in add["initial_cluster"]
        again = run_module(tmp_path, base_args(lab, etcd1, state="present", name=name, peer_urls=[node.peer_url]))
        assert again["changed"] is False and "waits for its etcd process" in again["reason"], again
        assert again["initial_cluster"] == add["initial_cluster"]
        if name == "etcd2":
            other = lab.node("etcd9")
            second = run_module(
                tmp_path, base_args(lab, etcd1, state="present", name="etcd9", peer_urls=[other.peer_url])
            )
            assert second["failed"] is True and "not promoted yet" in second["msg"], second
            early = run_module(tmp_path, base_args(lab, etcd1, state="promoted", name="etcd2"))
            assert early["failed"] is True and "has not started" in early["msg"], early

        node.start(add["initial_cluster"], state="existing")  # the token only matters for new clusters
        node.wait_healthy()
        # The learner's own endpoint first (as on the new host): it does not serve the member list, so the module
        # goes on to etcd1; the promotion itself must go through a voting member too.
        promote = run_module(tmp_path, base_args(lab, node, etcd1, state="promoted", name=name, wait_timeout=30))
        assert promote.get("failed") is not True, promote["msg"]
        assert promote["changed"] is True and promote["action"] == "promote", promote
        assert promote["member"]["is_learner"] is False and promote["member"]["name"] == name
        assert promote["diff"]["before"] != promote["diff"]["after"]
        again = run_module(tmp_path, base_args(lab, node, state="promoted", name=name))  # a voter now
        assert again["changed"] is False and again["action"] == "none", again

    listed = run_module(tmp_path, base_args(lab, etcd1))
    assert sorted(by_name(listed)) == ["etcd1", "etcd2", "etcd3"]
    assert listed["health"]["healthy"] is True and listed["health"]["voting_members"] == 3
    lab.etcdctl([etcd1.client_url], "put", "grown", "yes")
    assert lab.etcdctl([etcd3.client_url], "get", "grown", "--print-value-only").stdout.strip() == "yes"

    # etcd3 removes itself: the request goes through another member, and etcd3 shuts down once removed.
    remove = run_module(tmp_path, base_args(lab, etcd3, state="absent", name="etcd3"))
    assert remove["changed"] is True and remove["action"] == "remove", remove
    assert sorted(by_name(remove)) == ["etcd1", "etcd2"]
    assert sorted(m["name"] for m in lab.member_list(etcd1.client_url)) == ["etcd1", "etcd2"]
    assert wait_exit(etcd3), "etcd3 still runs after its removal"
    gone = run_module(tmp_path, base_args(lab, etcd1, state="absent", name="etcd3"))
    assert gone["changed"] is False, gone


def test_update_peer_urls(tmp_path, etcd_lab):
    lab = etcd_lab
    (etcd1,) = lab.cluster("etcd1")
    both = sorted([etcd1.peer_url, etcd1.peer_url.replace("127.0.0.1", "localhost")])
    args = base_args(lab, etcd1, state="present", name="etcd1", peer_urls=both)
    refused = run_module(tmp_path, dict(args, update_peer_urls=False))
    assert refused["failed"] is True and "set update_peer_urls=true" in refused["msg"], refused
    update = run_module(tmp_path, args)
    assert update["changed"] is True and update["action"] == "update", update
    assert update["member"]["peer_urls"] == both
    assert lab.member_list(etcd1.client_url)[0]["peer_urls"] == both
    again = run_module(tmp_path, args)
    assert again["changed"] is False, again
    # A new member cannot take a peer URL that belongs to etcd1.
    taken = run_module(tmp_path, base_args(lab, etcd1, state="present", name="etcd2", peer_urls=[both[0]]))
    assert taken["failed"] is True and "already belong to member etcd1" in taken["msg"], taken
