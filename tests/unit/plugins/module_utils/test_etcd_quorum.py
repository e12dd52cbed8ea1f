"""Quorum arithmetic and the membership planner (pure functions, tables)."""

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.quorum import (
    MemberView,
    PlanError,
    check_change,
    fault_tolerance,
    health_summary,
    initial_cluster,
    plan_absent,
    plan_present,
    plan_promote,
    quorum,
    validate_peer_urls,
)


def peer(i):
    return "https://10.0.0.%d:2380" % i


def cluster(voters, unhealthy=(), learners=(), unstarted=()):
    """Members etcd1..etcdN (voters), then learners; names in ``unhealthy`` are down; ``unstarted`` have no name."""
    members = []
    for i in range(1, voters + 1):
        name = "etcd%d" % i
        members.append(
            MemberView(
                str(1000 + i),
                "" if name in unstarted else name,
                [peer(i)],
                [] if name in unstarted else ["https://10.0.0.%d:2379" % i],
                False,
                name not in unhealthy and name not in unstarted,
                "connection refused" if name in unhealthy else "",
                leader=(i == 1),
            )
        )
    for j, name in enumerate(learners, start=voters + 1):
        started = name not in unstarted
        members.append(
            MemberView(
                str(1000 + j),
                name if started else "",
                [peer(j)],
                ["https://10.0.0.%d:2379" % j] if started else [],
                True,
                started and name not in unhealthy,
            )
        )
    return members


def by_name(members, name):
    return next(m for m in members if m.name == name)


# ---------------------------------------------------------------- arithmetic


@pytest.mark.parametrize(
    "voters, needed, tolerated",
    [(0, 0, 0), (1, 1, 0), (2, 2, 0), (3, 2, 1), (4, 3, 1), (5, 3, 2), (6, 4, 2), (7, 4, 3)],
)
def test_quorum_and_fault_tolerance(voters, needed, tolerated):
    assert quorum(voters) == needed
    assert fault_tolerance(voters) == tolerated


def test_quorum_rejects_negative():
    with pytest.raises(ValueError):
        quorum(-1)


# (voters, unhealthy voters, change, target, safe, voters after, healthy after)
CHANGES = [
    # adding a learner never changes the quorum; it needs the current quorum to commit
    (1, 0, "add_learner", None, True, 1, 1),
    (3, 1, "add_learner", None, True, 3, 2),
    (3, 2, "add_learner", None, False, 3, 1),
    (5, 2, "add_learner", None, True, 5, 3),
    # adding a voter raises the quorum while the new member is not running yet
    (1, 0, "add_voter", None, False, 2, 1),
    (2, 0, "add_voter", None, True, 3, 2),
    (3, 0, "add_voter", None, True, 4, 3),
    (3, 1, "add_voter", None, False, 4, 2),
    (4, 0, "add_voter", None, True, 5, 4),
    (5, 1, "add_voter", None, True, 6, 4),
    (6, 0, "add_voter", None, True, 7, 6),
    (6, 3, "add_voter", None, False, 7, 3),
    # promoting a learner: it votes and (being in sync) counts as healthy
    (1, 0, "promote", "learner", True, 2, 2),
    (3, 1, "promote", "learner", True, 4, 3),
    (3, 2, "promote", "learner", False, 4, 2),
    (6, 3, "promote", "learner", True, 7, 4),
    # removing a healthy voter
    (1, 0, "remove", "etcd1", False, 0, 0),
    (2, 0, "remove", "etcd2", True, 1, 1),
    (3, 0, "remove", "etcd2", True, 2, 2),
    (3, 1, "remove", "etcd2", False, 2, 1),
    (4, 1, "remove", "etcd2", True, 3, 2),
    (5, 2, "remove", "etcd2", False, 4, 2),
    (5, 1, "remove", "etcd2", True, 4, 3),
    (7, 3, "remove", "etcd2", False, 6, 3),
    (7, 2, "remove", "etcd2", True, 6, 4),
    # removing an unhealthy voter (the replace-a-failed-member path)
    (3, 1, "remove", "etcd3", True, 2, 2),
    (5, 2, "remove", "etcd5", True, 4, 3),
    (3, 2, "remove", "etcd3", False, 2, 1),
    (2, 1, "remove", "etcd2", True, 1, 1),
    # updating peer URLs: the member is away while it restarts, unless it is alone
    (1, 0, "update", "etcd1", True, 1, 1),
    (3, 0, "update", "etcd2", True, 3, 2),
    (3, 1, "update", "etcd2", False, 3, 1),
    (3, 1, "update", "etcd3", True, 3, 2),
    (5, 2, "update", "etcd1", False, 5, 2),
]


@pytest.mark.parametrize("voters, down, kind, target, safe, voters_after, healthy_after", CHANGES)
def test_check_change_table(voters, down, kind, target, safe, voters_after, healthy_after):
    unhealthy = ["etcd%d" % i for i in range(voters - down + 1, voters + 1)]
    learners = ["learner"] if target == "learner" else []
    members = cluster(voters, unhealthy=unhealthy, learners=learners)
    if kind.startswith("add"):
        member = MemberView("(new)", "etcdnew", [peer(99)], (), kind == "add_learner", False)
    else:
        member = by_name(members, target)
    verdict = check_change(members, kind, member)
    assert (verdict.ok, verdict.voters_after, verdict.healthy_after) == (safe, voters_after, healthy_after)
    assert verdict.needed == quorum(voters_after)
    assert bool(verdict.message) is not safe


def test_learners_never_count_as_voters():
    members = cluster(3, learners=["learner"])
    assert check_change(members, "remove", by_name(members, "learner")).voters_after == 3
    summary = health_summary(members)
    assert (summary["voting_members"], summary["learners"], summary["quorum"]) == (3, 1, 2)
    # an unhealthy learner does not cost quorum
    members = cluster(3, unhealthy=["learner"], learners=["learner"])
    assert check_change(members, "remove", by_name(members, "etcd3")).ok is True
    assert health_summary(members)["has_quorum"] is True and health_summary(members)["healthy"] is False


def test_message_names_unhealthy_members_and_numbers():
    members = cluster(3, unhealthy=["etcd3"])
    verdict = check_change(members, "remove", by_name(members, "etcd2"))
    assert verdict.message == (
        "removing etcd2 would leave 1 healthy voting member (etcd3 is unhealthy) but a 2-member cluster needs 2 "
        "for quorum: bring etcd3 back first"
    )
    members = cluster(5, unhealthy=["etcd4", "etcd5"])
    verdict = check_change(members, "remove", by_name(members, "etcd1"))
    assert "leave 2 healthy voting members (etcd4 and etcd5 are unhealthy)" in verdict.message
    assert "a 4-member cluster needs 3 for quorum: bring etcd4 and etcd5 back first" in verdict.message


def test_message_for_voter_add_and_last_member():
    members = cluster(1)
    verdict = check_change(members, "add_voter", MemberView("(new)", "etcd2", [peer(2)]))
    assert verdict.message == (
        "adding etcd2 as a voting member would leave 1 healthy voting member (etcd2 not running yet) but a "
        "2-member cluster needs 2 for quorum: add it as a learner (learner=true) and promote it once it has caught up"
    )
    assert "cannot remove its last member" in check_change(members, "remove", members[0]).message


def test_health_summary_numbers():
    members = cluster(5, unhealthy=["etcd5"])
    summary = health_summary(members)
    assert summary == {
        "healthy": False,
        "has_quorum": True,
        "voting_members": 5,
        "healthy_voting_members": 4,
        "learners": 0,
        "quorum": 3,
        "fault_tolerance": 2,
        "failures_tolerated_now": 1,
        "unhealthy": ["etcd5"],
        "leader": "etcd1",
    }
    assert health_summary([])["healthy"] is False


# ---------------------------------------------------------------- planner: present


def test_present_same_urls_is_no_change():
    members = cluster(3)
    plan = plan_present(members, "etcd2", [peer(2)])
    assert plan.action == "none" and not plan.changed and "same peer URLs" in plan.reason


def test_present_new_member_is_added_as_learner():
    members = cluster(3)
    plan = plan_present(members, "etcd4", [peer(4)])
    assert plan.action == "add" and plan.learner is True and plan.peer_urls == [peer(4)]
    assert plan.verdict.ok and plan.verdict.voters_after == 3
    assert [m.name for m in plan.after][-1] == "etcd4" and plan.after[-1].is_learner


def test_present_voter_refused_when_quorum_would_drop_then_forced():
    members = cluster(1)
    with pytest.raises(PlanError, match="refusing the change: adding etcd2 as a voting member would leave"):
        plan_present(members, "etcd2", [peer(2)], learner=False)
    plan = plan_present(members, "etcd2", [peer(2)], learner=False, quorum_guard=False)
    assert plan.action == "add" and plan.verdict.ok is False


def test_present_refused_while_another_learner_waits():
    members = cluster(3, learners=["etcd4"])
    with pytest.raises(PlanError, match="learner etcd4 .* is not promoted yet"):
        plan_present(members, "etcd5", [peer(5)])
    # a voting member may still be added next to the learner
    assert plan_present(members, "etcd5", [peer(5)], learner=False).action == "add"


def test_present_matches_unstarted_member_by_peer_url():
    members = cluster(3, learners=["etcd4"], unstarted=["etcd4"])
    plan = plan_present(members, "etcd4", [peer(4)])
    assert plan.action == "none" and "waits for its etcd process" in plan.reason
    assert plan.member.id == "1004"


def test_present_learner_is_no_change_with_a_hint():
    members = cluster(3, learners=["etcd4"])
    plan = plan_present(members, "etcd4", [peer(4)], learner=False)
    assert plan.action == "none" and "state=promoted" in plan.reason


def test_present_other_urls_are_updated_or_refused():
    members = cluster(3)
    new_urls = ["https://10.1.0.2:2380"]
    plan = plan_present(members, "etcd2", new_urls)
    assert plan.action == "update" and plan.peer_urls == new_urls and plan.member.name == "etcd2"
    assert by_name(plan.after, "etcd2").peer_urls == new_urls
    with pytest.raises(PlanError, match="set update_peer_urls=true"):
        plan_present(members, "etcd2", new_urls, update_peer_urls=False)
    # the guard applies to updates too
    with pytest.raises(PlanError, match="updating the peer URLs of etcd2 would leave 1 healthy voting member"):
        plan_present(cluster(3, unhealthy=["etcd3"]), "etcd2", new_urls)


def test_present_refuses_peer_url_of_another_member():
    with pytest.raises(PlanError, match=r"already belong to member etcd2 \(ID 1002\): remove it first"):
        plan_present(cluster(3), "etcd9", [peer(2)])


@pytest.mark.parametrize(
    "urls, error",
    [
        ([], "at least one URL"),
        (["10.0.0.1:2380"], "invalid URL"),
        (["https://10.0.0.1:2380/path"], "invalid URL"),
        (["https://10.0.0.1:2380", "ftp://x:1"], "'ftp://x:1'"),
    ],
)
def test_peer_url_validation(urls, error):
    with pytest.raises(PlanError, match=error):
        validate_peer_urls(urls)


def test_peer_url_validation_accepts_and_sorts():
    assert validate_peer_urls(["https://b:2380", "https://a:2380", "https://a:2380"]) == [
        "https://a:2380",
        "https://b:2380",
    ]
    assert validate_peer_urls(["https://[fd00::1]:2380"]) == ["https://[fd00::1]:2380"]


def test_present_requires_name():
    with pytest.raises(PlanError, match="name is required"):
        plan_present(cluster(1), "", [peer(2)])


# ---------------------------------------------------------------- planner: absent


@pytest.mark.parametrize(
    "criteria",
    [{"name": "etcd2"}, {"peer_urls": [peer(2)]}, {"member_id": "1002"}, {"name": "etcd2", "member_id": "1002"}],
)
def test_absent_finds_member_by_any_criterion(criteria):
    plan = plan_absent(cluster(3), **criteria)
    assert plan.action == "remove" and plan.member.name == "etcd2"
    assert [m.name for m in plan.after] == ["etcd1", "etcd3"]


def test_absent_missing_member_is_no_change():
    plan = plan_absent(cluster(3), name="etcd9")
    assert plan.action == "none" and "nothing to remove" in plan.reason


def test_absent_contradicting_criteria_are_refused():
    with pytest.raises(PlanError, match="matches part of it"):
        plan_absent(cluster(3), name="etcd2", peer_urls=[peer(3)])


def test_absent_unstarted_member_by_peer_url():
    members = cluster(3, learners=["etcd4"], unstarted=["etcd4"])
    plan = plan_absent(members, name="etcd4", peer_urls=[peer(4)])
    assert plan.action == "remove" and plan.member.id == "1004" and plan.verdict.ok


def test_absent_refused_when_quorum_would_be_lost():
    members = cluster(3, unhealthy=["etcd3"])
    with pytest.raises(PlanError) as err:
        plan_absent(members, name="etcd2")
    assert "etcd3 is unhealthy" in str(err.value) and "bring etcd3 back first" in str(err.value)
    assert plan_absent(members, name="etcd3").action == "remove"


def test_absent_needs_a_criterion():
    with pytest.raises(PlanError, match="needs name, peer_urls or member_id"):
        plan_absent(cluster(3))


# ---------------------------------------------------------------- planner: promoted


def test_promote_learner():
    members = cluster(3, learners=["etcd4"])
    plan = plan_promote(members, name="etcd4")
    assert plan.action == "promote" and plan.verdict.voters_after == 4
    assert not by_name(plan.after, "etcd4").is_learner


def test_promote_voter_is_no_change():
    assert plan_promote(cluster(3), name="etcd2").action == "none"


def test_promote_unstarted_learner_is_refused():
    members = cluster(1, learners=["etcd2"], unstarted=["etcd2"])
    with pytest.raises(PlanError, match="has not started"):
        plan_promote(members, name="etcd2", peer_urls=[peer(2)])
    with pytest.raises(PlanError, match="unstarted member 1002 .* has not started"):
        plan_promote(members, name="etcd2")


def test_promote_unknown_member_is_refused():
    with pytest.raises(PlanError, match="add it first with state=present"):
        plan_promote(cluster(3), name="etcd9")


def test_promote_refused_without_quorum():
    members = cluster(3, unhealthy=["etcd2", "etcd3"], learners=["etcd4"])
    with pytest.raises(PlanError, match="promoting learner etcd4 would leave 2 healthy voting members"):
        plan_promote(members, name="etcd4")


# ---------------------------------------------------------------- initial cluster


def test_initial_cluster_for_a_joining_member():
    members = cluster(3, learners=["etcd4"], unstarted=["etcd4"])
    assert initial_cluster(members, "etcd4", [peer(4)]) == ",".join("etcd%d=%s" % (i, peer(i)) for i in (1, 2, 3, 4))
    # other unstarted members are left out (they have no name for etcd to match)
    members = cluster(2, learners=["etcdx"], unstarted=["etcdx"])
    assert initial_cluster(members, "etcd3", [peer(9)]) == "etcd1=%s,etcd2=%s,etcd3=%s" % (peer(1), peer(2), peer(9))
