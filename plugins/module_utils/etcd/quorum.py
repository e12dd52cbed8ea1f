# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Quorum arithmetic and the etcd membership-change planner (pure: no I/O, standard library only).

The planner takes the members as the cluster reports them, each with the health measured by the module, and a
wish (``present``/``absent``/``promoted``); it returns a :class:`Plan` (what to do and why) or raises
:class:`PlanError` (the wish is contradictory or unsafe). Executing the plan is the module's job.

Quorum guard
    A change is refused when it would leave fewer *healthy voting* members than the quorum of the *resulting*
    voting membership (``voters // 2 + 1``). What each change does to the numbers:

    ============================  ================  ===============================================
    change                        voters after      healthy voters after
    ============================  ================  ===============================================
    add a learner                 n                 h
    add a voting member           n + 1             h (the new member is not running yet)
    promote a learner             n + 1             h + 1 (etcd promotes only a learner in sync)
    remove a voting member m      n - 1             h - (1 if m is healthy)
    remove a learner              n                 h
    update a voter's peer URLs    n                 h - (1 if m is healthy), unless m is the only member
    update a learner's peer URLs  n                 h
    ============================  ================  ===============================================

Members are matched by name, and by peer URL for members that were added but have not started yet (etcd reports
them without a name until their process first joins).
"""

from __future__ import absolute_import, annotations, division, print_function

import re

# etcd (3.4 to 3.6 with default flags) accepts one learner at a time.
MAX_LEARNERS = 1

_URL_RE = re.compile(r"^https?://[^\s/:]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


class PlanError(Exception):
    """The requested change is invalid or unsafe; the message says what to do about it."""


def quorum(voters: int) -> int:
    """Votes needed to commit anything in a cluster of ``voters`` voting members (0 for an empty cluster)."""
    voters = int(voters)
    if voters < 0:
        raise ValueError("voting member count cannot be negative: %d" % voters)
    return voters // 2 + 1 if voters else 0


def fault_tolerance(voters: int) -> int:
    """How many voting members may fail while the cluster keeps quorum."""
    return max(0, int(voters) - quorum(voters))


def _plural(count, word):
    return "%d %s%s" % (count, word, "" if count == 1 else "s")


def _join(names):
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return "%s and %s" % (", ".join(names[:-1]), names[-1])


def validate_peer_urls(urls: list[str], option: str = "peer_urls") -> list[str]:
    """Return ``urls`` as a sorted, de-duplicated list; raise :class:`PlanError` unless each is ``scheme://host:port``."""
    if not urls:
        raise PlanError("%s must list at least one URL, like https://10.0.0.11:2380" % option)
    bad = [u for u in urls if not isinstance(u, str) or not _URL_RE.match(u)]
    if bad:
        raise PlanError(
            "%s has invalid URL(s) %s: use scheme://host:port without a path, like https://10.0.0.11:2380"
            % (option, ", ".join(repr(u) for u in bad))
        )
    return sorted(set(urls))


class MemberView(object):
    """A member as the planner sees it.

    ``id`` is the decimal member ID as a string. A member without ``name`` was added but has not started yet.
    ``healthy`` is what the module measured on the member's client URL; ``error`` says why it is not healthy.
    """

    __slots__ = ("id", "name", "peer_urls", "client_urls", "is_learner", "healthy", "error", "leader")

    def __init__(
        self, id, name="", peer_urls=(), client_urls=(), is_learner=False, healthy=False, error="", leader=False
    ):  # noqa: A002 - the etcd API calls it ID
        self.id = str(id)
        self.name = name or ""
        self.peer_urls = sorted(peer_urls or ())
        self.client_urls = sorted(client_urls or ())
        self.is_learner = bool(is_learner)
        self.healthy = bool(healthy)
        self.error = error or ""
        self.leader = bool(leader)

    @property
    def started(self):
        """etcd fills in the name (and client URLs) when the member's process first joins."""
        return bool(self.name)

    @property
    def label(self):
        """How messages name the member."""
        if self.name:
            return self.name
        return "unstarted member %s (%s)" % (self.id, ", ".join(self.peer_urls) or "no peer URLs")

    def to_dict(self):
        return {
            "id": self.id,
            "name": self.name,
            "peer_urls": list(self.peer_urls),
            "client_urls": list(self.client_urls),
            "is_learner": self.is_learner,
            "healthy": self.healthy,
            "leader": self.leader,
            "error": self.error,
        }

    def copy(self, **changes):
        values = {slot: getattr(self, slot) for slot in self.__slots__}
        values.update(changes)
        return MemberView(**values)

    def __repr__(self):
        return "MemberView(%s, %s%s%s)" % (
            self.label,
            self.id,
            ", learner" if self.is_learner else "",
            ", healthy" if self.healthy else ", unhealthy",
        )


class QuorumVerdict(object):
    """The numbers of one change: voters and healthy voters after it, the quorum needed, and whether it is safe."""

    def __init__(self, description, voters_after, healthy_after, unhealthy, not_running=(), note=""):
        self.description = description
        self.voters_after = voters_after
        self.healthy_after = healthy_after
        self.needed = quorum(voters_after)
        self.unhealthy = list(unhealthy)
        self.not_running = list(not_running)
        self.note = note
        self.ok = voters_after >= 1 and healthy_after >= self.needed

    @property
    def message(self):
        """Why the change is unsafe (empty when it is safe)."""
        if self.ok:
            return ""
        if self.voters_after < 1:
            return "%s would leave no voting member: an etcd cluster cannot remove its last member" % self.description
        reasons = []
        if self.not_running:
            reasons.append("%s not running yet" % _join(self.not_running))
        if self.unhealthy:
            reasons.append("%s %s unhealthy" % (_join(self.unhealthy), "is" if len(self.unhealthy) == 1 else "are"))
        text = "%s would leave %s" % (self.description, _plural(self.healthy_after, "healthy voting member"))
        if reasons:
            text += " (%s)" % "; ".join(reasons)
        text += " but a %d-member cluster needs %d for quorum" % (self.voters_after, self.needed)
        advice = []
        if self.unhealthy:
            advice.append("bring %s back first" % _join(self.unhealthy))
        if self.note:
            advice.append(self.note)
        return text + (": " + " or ".join(advice) if advice else "")

    def to_dict(self):
        return {
            "safe": self.ok,
            "voting_members_after": self.voters_after,
            "healthy_voting_members_after": self.healthy_after,
            "quorum_after": self.needed,
            "unhealthy": list(self.unhealthy),
            "message": self.message,
        }


def _voters(members):
    return [m for m in members if not m.is_learner]


def check_change(members: list[MemberView], kind: str, member: MemberView | None = None) -> QuorumVerdict:
    """Evaluate one change against the quorum guard; returns a :class:`QuorumVerdict`.

    ``kind`` is ``add_learner``, ``add_voter``, ``promote``, ``remove`` or ``update``; ``member`` is the
    :class:`MemberView` concerned (for ``add_*`` a view of the new member, which is never counted as healthy).
    """
    voters = _voters(members)
    n = len(voters)
    healthy = [m for m in voters if m.healthy]
    unhealthy = [m.label for m in voters if not m.healthy]
    label = member.label if member is not None else "the member"
    note = ""
    not_running = []
    if kind == "add_learner":
        desc = "adding learner %s" % label
        voters_after, healthy_after = n, len(healthy)
    elif kind == "add_voter":
        desc = "adding %s as a voting member" % label
        voters_after, healthy_after = n + 1, len(healthy)
        not_running = [label]
        note = "add it as a learner (learner=true) and promote it once it has caught up"
    elif kind == "promote":
        desc = "promoting learner %s" % label
        voters_after, healthy_after = n + 1, len(healthy) + 1
    elif kind == "remove":
        desc = "removing %s" % label
        if member.is_learner:
            voters_after, healthy_after = n, len(healthy)
        else:
            voters_after = n - 1
            healthy_after = len(healthy) - (1 if member.healthy else 0)
            unhealthy = [m.label for m in voters if not m.healthy and m.id != member.id]
    elif kind == "update":
        desc = "updating the peer URLs of %s" % label
        voters_after, healthy_after = n, len(healthy)
        if not member.is_learner and n > 1 and member.healthy:
            # Its peers reach it at the new URLs only once its process listens there.
            healthy_after -= 1
            not_running = ["%s (restarting on its new peer URLs)" % label]
    else:
        raise ValueError("unknown change kind %r" % kind)
    return QuorumVerdict(desc, voters_after, healthy_after, unhealthy, not_running, note)


def health_summary(members: list[MemberView]) -> dict:
    """Cluster-level numbers for the module result."""
    voters = _voters(members)
    healthy = [m for m in voters if m.healthy]
    needed = quorum(len(voters))
    leaders = [m.label for m in members if m.leader]
    return {
        "healthy": bool(voters) and all(m.healthy for m in members),
        "has_quorum": bool(voters) and len(healthy) >= needed,
        "voting_members": len(voters),
        "healthy_voting_members": len(healthy),
        "learners": len(members) - len(voters),
        "quorum": needed,
        "fault_tolerance": fault_tolerance(len(voters)),
        "failures_tolerated_now": max(0, len(healthy) - needed),
        "unhealthy": [m.label for m in members if not m.healthy],
        "leader": leaders[0] if leaders else "",
    }


class Plan(object):
    """What the module should do.

    ``action``: ``none``, ``add``, ``remove``, ``promote`` or ``update``. ``member`` is the target
    :class:`MemberView` (for ``add`` a view with ``id="(new)"``). ``verdict`` is the quorum check (``None`` for
    ``none``). ``after`` predicts the member list after the change (for check mode and the diff).
    """

    def __init__(self, action, reason, member=None, verdict=None, after=None, peer_urls=None, learner=False):
        self.action = action
        self.reason = reason
        self.member = member
        self.verdict = verdict
        self.after = after
        self.peer_urls = peer_urls
        self.learner = learner

    @property
    def changed(self):
        return self.action != "none"

    def __repr__(self):
        return "Plan(%s, %r)" % (self.action, self.reason)


def _guard(verdict, quorum_guard):
    if quorum_guard and not verdict.ok:
        raise PlanError("refusing the change: " + verdict.message)
    return verdict


def find_members(
    members: list[MemberView], name: str | None = None, peer_urls: list[str] | None = None, member_id: str | None = None
) -> list[MemberView]:
    """Members matching every given criterion (name, any shared peer URL, ID)."""
    found = list(members)
    if member_id is not None:
        found = [m for m in found if m.id == str(member_id)]
    if name:
        found = [
            m for m in found if m.name == name or (not m.started and peer_urls and set(m.peer_urls) & set(peer_urls))
        ]
    if peer_urls:
        found = [m for m in found if set(m.peer_urls) & set(peer_urls)]
    return found


def plan_present(
    members: list[MemberView], name: str, peer_urls: list[str], learner=True, update_peer_urls=True, quorum_guard=True
) -> Plan:
    """Plan making ``name`` a member with exactly ``peer_urls``."""
    if not name:
        raise PlanError("name is required for state=present: the etcd --name of the member")
    peer_urls = validate_peer_urls(peer_urls)
    by_name = [m for m in members if m.name == name]
    by_url = [m for m in members if set(m.peer_urls) & set(peer_urls)]
    others = [m for m in by_url if m.name and m.name != name]
    if others:
        o = others[0]
        raise PlanError(
            "peer URL(s) %s already belong to member %s (ID %s): remove it first (state=absent) if %s replaces it"
            % (", ".join(sorted(set(o.peer_urls) & set(peer_urls))), o.label, o.id, name)
        )
    unstarted = [m for m in by_url if not m.started]
    if by_name:
        target = by_name[0]
    elif len(unstarted) == 1:
        target = unstarted[0]
    elif len(unstarted) > 1:
        raise PlanError(
            "peer URLs %s match several unstarted members (%s): remove the extra ones (state=absent, member_id)"
            % (", ".join(peer_urls), ", ".join(m.id for m in unstarted))
        )
    else:
        target = None

    if target is None:
        if learner:
            pending = [m for m in members if m.is_learner]
            if len(pending) >= MAX_LEARNERS:
                raise PlanError(
                    "cannot add %s as a learner: learner %s (ID %s) is not promoted yet and etcd accepts %d learner "
                    "at a time: promote it (state=promoted) or remove it (state=absent) first"
                    % (name, pending[0].label, pending[0].id, MAX_LEARNERS)
                )
        new = MemberView("(new)", "", peer_urls, (), learner, False)
        verdict = _guard(
            check_change(members, "add_learner" if learner else "add_voter", new.copy(name=name)), quorum_guard
        )
        after = list(members) + [new.copy(name=name)]
        kind = "learner" if learner else "voting member"
        return Plan(
            "add",
            "%s is not a member: adding it as a %s with peer URLs %s" % (name, kind, ", ".join(peer_urls)),
            member=new.copy(name=name),
            verdict=verdict,
            after=after,
            peer_urls=peer_urls,
            learner=learner,
        )

    if target.peer_urls == peer_urls:
        if not target.started:
            reason = "%s was added with these peer URLs and waits for its etcd process to start" % name
        elif target.is_learner:
            reason = "%s is present as a learner with the same peer URLs (promote it with state=promoted)" % name
        else:
            reason = "%s is present with the same peer URLs" % name
        return Plan("none", reason, member=target, after=list(members), peer_urls=peer_urls, learner=target.is_learner)

    if not update_peer_urls:
        raise PlanError(
            "member %s (ID %s) has peer URLs %s, not %s: set update_peer_urls=true to change them, or remove the "
            "member first" % (target.label, target.id, ", ".join(target.peer_urls), ", ".join(peer_urls))
        )
    verdict = _guard(check_change(members, "update", target), quorum_guard)
    after = [m.copy(peer_urls=peer_urls) if m.id == target.id else m for m in members]
    return Plan(
        "update",
        "%s has peer URLs %s: updating them to %s" % (target.label, ", ".join(target.peer_urls), ", ".join(peer_urls)),
        member=target,
        verdict=verdict,
        after=after,
        peer_urls=peer_urls,
        learner=target.is_learner,
    )


def plan_absent(members: list[MemberView], name=None, peer_urls=None, member_id=None, quorum_guard=True) -> Plan:
    """Plan removing the member given by ``member_id``, ``name`` and/or ``peer_urls`` (all given must match)."""
    if not (name or peer_urls or member_id is not None):
        raise PlanError("state=absent needs name, peer_urls or member_id to find the member to remove")
    if peer_urls:
        peer_urls = validate_peer_urls(peer_urls)
    found = find_members(members, name=name, peer_urls=peer_urls, member_id=member_id)
    wanted = ", ".join(
        part
        for part in (
            "name %s" % name if name else "",
            "peer URLs %s" % ", ".join(peer_urls) if peer_urls else "",
            "ID %s" % member_id if member_id is not None else "",
        )
        if part
    )
    if not found:
        partial = []
        if name and peer_urls:
            partial = [m for m in members if m.name == name] + [m for m in members if set(m.peer_urls) & set(peer_urls)]
        if partial:
            p = partial[0]
            raise PlanError(
                "no member matches all of %s, but member %s (ID %s, peer URLs %s) matches part of it: check the "
                "inventory or remove it by member_id" % (wanted, p.label, p.id, ", ".join(p.peer_urls))
            )
        return Plan("none", "no member with %s: nothing to remove" % wanted, after=list(members))
    if len(found) > 1:
        raise PlanError(
            "%s match several members (%s): remove them one at a time by member_id"
            % (wanted, ", ".join("%s ID %s" % (m.label, m.id) for m in found))
        )
    target = found[0]
    verdict = _guard(check_change(members, "remove", target), quorum_guard)
    return Plan(
        "remove",
        "removing %s%s (ID %s)" % ("learner " if target.is_learner else "", target.label, target.id),
        member=target,
        verdict=verdict,
        after=[m for m in members if m.id != target.id],
    )


def plan_promote(members: list[MemberView], name=None, peer_urls=None, member_id=None, quorum_guard=True) -> Plan:
    """Plan promoting a learner to a voting member (``none`` when it already votes)."""
    if not (name or peer_urls or member_id is not None):
        raise PlanError("state=promoted needs name, peer_urls or member_id to find the learner")
    if peer_urls:
        peer_urls = validate_peer_urls(peer_urls)
    found = find_members(members, name=name, peer_urls=peer_urls, member_id=member_id)
    if not found:
        wanted = name or ", ".join(peer_urls or ()) or member_id
        unstarted = [m for m in members if not m.started]
        if unstarted:
            raise PlanError(
                "no started member %s to promote; %s has not started (etcd names a member when its process first "
                "joins): start etcd on it with --initial-cluster-state=existing, then promote it"
                % (wanted, _join(m.label for m in unstarted))
            )
        raise PlanError(
            "no member %s to promote: add it first with state=present (learner=true) and start etcd on it" % wanted
        )
    if len(found) > 1:
        raise PlanError("several members match: %s" % ", ".join("%s ID %s" % (m.label, m.id) for m in found))
    target = found[0]
    if not target.is_learner:
        return Plan("none", "%s is already a voting member" % target.label, member=target, after=list(members))
    if not target.started:
        raise PlanError(
            "learner %s has not started: start etcd on it with --initial-cluster-state=existing, then promote it"
            % target.label
        )
    verdict = _guard(check_change(members, "promote", target), quorum_guard)
    return Plan(
        "promote",
        "promoting learner %s (ID %s) to a voting member" % (target.label, target.id),
        member=target,
        verdict=verdict,
        after=[m.copy(is_learner=False) if m.id == target.id else m for m in members],
    )


def initial_cluster(members: list[MemberView], name: str | None = None, peer_urls: list[str] | None = None) -> str:
    """The ``--initial-cluster`` value a joining member needs: every started member plus ``name`` = ``peer_urls``.

    Unstarted members other than the joining one are left out (they have no name yet); etcd checks this list
    against the cluster's member list when the new member starts with ``--initial-cluster-state=existing``.
    """
    parts = []
    joining = set(peer_urls or ())
    for m in sorted(members, key=lambda m: (m.name, m.id)):
        if joining and set(m.peer_urls) & joining:
            continue
        if m.started:
            parts.extend("%s=%s" % (m.name, url) for url in m.peer_urls)
    if name and peer_urls:
        parts.extend("%s=%s" % (name, url) for url in sorted(peer_urls))
    return ",".join(parts)
