# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The etcd cluster behind a list of endpoints: every member's health, and where to send a membership change.

- :func:`probe_members` measures every member's health on its own client URL, in parallel, with a short timeout;
- :class:`EtcdCluster` lists the members, turns them into :class:`MemberView` objects for the quorum planner
  (``etcd/quorum.py``) and runs a change (add, remove, promote) on a healthy voting member.
"""

from __future__ import absolute_import, annotations, division, print_function

import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.api import (
    LEARNER_NOT_READY,
    LEARNER_RPC,
    UNHEALTHY_CLUSTER,
    EtcdError,
    Member,
)
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.client import EtcdClient
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.quorum import MemberView
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.transport import TlsConfig


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
