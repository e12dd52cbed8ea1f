#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.api import EtcdError, member_id
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.args import ETCD_TLS_SPEC
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.cluster import EtcdCluster
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.quorum import (
    PlanError,
    health_summary,
    initial_cluster,
    plan_absent,
    plan_present,
    plan_promote,
)
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.transport import TlsConfig

DOCUMENTATION = r"""
---
module: etcd_member
short_description: List, add (as learner), promote, update and remove etcd members without losing quorum
description:
  - Manages etcd cluster membership through the etcd v3 API (the JSON gateway on the client URLs, enabled by
    default in etcd 3.4 to 3.6) with TLS client certificates. Runs on any host that reaches the client URLs, usually
    an etcd member; needs only the Python standard library.
  - Every run lists the members through the first of O(endpoints) that answers, then probes each member's own
    client URL (C(/v3/maintenance/status) and C(/health), in parallel, at most O(health_timeout) seconds each). A
    member that does not answer, answers as another member, has no leader or reports errors is unhealthy.
  - "B(Quorum guard:) a change is refused when it would leave fewer healthy voting members than the quorum
    (C(n // 2 + 1)) of the resulting voting membership. Adding a learner does not change the quorum; adding a voting
    member does (and the new member counts as not running); removing a voting member lowers both numbers;
    updating a voting member's peer URLs counts that member as away while it restarts. The message names the
    unhealthy members and gives the numbers."
  - "B(Growing the cluster) is three steps, which the C(etcd) role runs one member at a time:
    1. O(state=present) adds the member (as a learner by default) and returns RV(initial_cluster);
    2. start etcd on the new host with C(--initial-cluster-state=existing) and that C(--initial-cluster);
    3. O(state=promoted) waits (up to O(wait_timeout)) until the learner is in sync and promotes it."
  - Removals and promotions are sent to a healthy voting member other than the member concerned (found through
    the member list), so a member can remove itself with O(endpoints) pointing at itself, as long as another member
    is healthy and reachable from this host. A learner does not serve the member list, so on a new member's host
    list the other members' client URLs in O(endpoints) too (its own may come first).
  - Members that were added but have not started are reported without a name; they are matched by peer URL.
version_added: 0.1.0
author:
  - kubesmith maintainers
extends_documentation_fragment:
  - kubesmith.cluster.etcd_tls
options:
  endpoints:
    description:
      - Client URLs to reach the cluster, tried in order until one answers. On a host that is not a member yet,
        list the existing members' client URLs.
    type: list
    elements: str
    default: [https://127.0.0.1:2379]
  timeout:
    description:
      - Seconds to wait for the connection and for each read of every API request.
    type: float
    default: 5
  health_timeout:
    description:
      - Seconds to wait for each member's health answers. Unreachable within this time means unhealthy.
    type: float
    default: 2
  state:
    description:
      - V(list) reports the members and their health and changes nothing.
      - V(present) makes O(name) a member with O(peer_urls) (added as a learner when O(learner=true); a member
        of that name with other peer URLs gets them updated, see O(update_peer_urls)).
      - V(absent) removes the member given by O(member_id), O(name) and/or O(peer_urls) (all that are given must
        match the same member).
      - V(promoted) makes the learner a voting member once it has caught up with the leader.
    type: str
    choices: [list, present, absent, promoted]
    default: list
  name:
    description:
      - Member name (etcd C(--name)). Required for O(state=present).
    type: str
  peer_urls:
    description:
      - Peer URLs of the member (etcd C(--initial-advertise-peer-urls)), like C(https://10.0.0.11:2380).
        Required for O(state=present).
    type: list
    elements: str
  member_id:
    description:
      - Member ID for O(state=absent) or O(state=promoted), decimal as this module returns it, or hexadecimal as
        C(etcdctl member list) prints it (with a C(0x) prefix unless it contains a letter).
    type: str
  learner:
    description:
      - With O(state=present), add a new member as a non-voting learner (etcd 3.4+), to be promoted with
        O(state=promoted) once its process runs and has caught up. Adding a voting member directly raises the quorum
        before the new member runs, which the quorum guard refuses unless enough members stay healthy.
      - etcd accepts one learner at a time; adding a second one is refused until the first is promoted or removed.
    type: bool
    default: true
  update_peer_urls:
    description:
      - With O(state=present), when the member exists with other peer URLs, update them (V(true)) or fail (V(false)).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for etcd to accept a change. With O(state=promoted), until the learner is in sync with the
        leader. For every change, while etcd answers C(unhealthy cluster), since it accepts membership changes only once
        every voting member has been connected for 5 seconds (so right after a member joined or restarted).
    type: float
    default: 120
  quorum_guard:
    description:
      - Refuse changes that would leave fewer healthy voting members than the quorum of the resulting cluster.
      - V(false) only turns the refusal into a warning; use it to repair a cluster that already lost quorum.
    type: bool
    default: true
notes:
  - Check mode lists and probes the cluster, computes the plan (and the quorum verdict) and reports it with
    C(changed), changing nothing. Diff mode shows the member list before and after.
  - Idempotent, V(present) for a member with the same peer URLs, V(absent) for a missing member and V(promoted)
    for a voting member report no change.
  - Member IDs are 64-bit numbers returned as decimal strings (RV(members[].id)) and as hexadecimal
    (RV(members[].id_hex), the form C(etcdctl) prints).
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
seealso:
  - module: kubesmith.cluster.etcd_snapshot
"""

EXAMPLES = r"""
- name: Etcd | list members with health
  kubesmith.cluster.etcd_member:
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/healthcheck-client.crt
    client_key: /etc/etcd/pki/healthcheck-client.key
  register: __etcd_members

- name: Etcd | add the new member as a learner (through the existing members)
  kubesmith.cluster.etcd_member:
    endpoints: "{{ groups['etcd'] | difference([inventory_hostname]) | map('extract', hostvars, 'etcd_client_url') }}"
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/healthcheck-client.crt
    client_key: /etc/etcd/pki/healthcheck-client.key
    state: present
    name: "{{ inventory_hostname }}"
    peer_urls: ["https://{{ ansible_facts['default_ipv4']['address'] }}:2380"]
  register: __etcd_join
  # __etcd_join.initial_cluster is the --initial-cluster for the new member (with --initial-cluster-state=existing)

- name: Etcd | promote the learner once it has caught up
  kubesmith.cluster.etcd_member:
    endpoints: "{{ groups['etcd'] | map('extract', hostvars, 'etcd_client_url') }}"
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/healthcheck-client.crt
    client_key: /etc/etcd/pki/healthcheck-client.key
    state: promoted
    name: "{{ inventory_hostname }}"
    wait_timeout: 180

- name: Etcd | remove a failed member (refused if that would lose quorum)
  kubesmith.cluster.etcd_member:
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/healthcheck-client.crt
    client_key: /etc/etcd/pki/healthcheck-client.key
    state: absent
    name: etcd3
"""

RETURN = r"""
members:
  description: The members after the run (predicted in check mode), named members first.
  returned: success, and on failures after the cluster was reached
  type: list
  elements: dict
  contains:
    id:
      description: Member ID, decimal (a string, the number is 64 bits).
      type: str
      sample: "10501334649042878790"
    id_hex:
      description: Member ID as C(etcdctl) prints it.
      type: str
      sample: "91bc3c398fb3c146"
    name:
      description: Member name; empty for a member that was added but has not started yet.
      type: str
      sample: etcd1
    peer_urls:
      description: Peer URLs.
      type: list
      elements: str
      sample: [https://10.0.0.11:2380]
    client_urls:
      description: Client URLs (empty until the member has started).
      type: list
      elements: str
      sample: [https://10.0.0.11:2379]
    is_learner:
      description: Whether the member is a non-voting learner.
      type: bool
    healthy:
      description: Whether the member answered its health checks.
      type: bool
    leader:
      description: Whether the member is the raft leader.
      type: bool
    error:
      description: Why the member is unhealthy (empty when healthy).
      type: str
health:
  description: Cluster health summary (after the change).
  returned: success, and on failures after the cluster was reached
  type: dict
  contains:
    healthy: {description: Every member is healthy., type: bool}
    has_quorum: {description: Enough voting members are healthy to commit., type: bool}
    voting_members: {description: Number of voting members., type: int}
    healthy_voting_members: {description: Number of healthy voting members., type: int}
    learners: {description: Number of learners., type: int}
    quorum: {description: Voting members needed for quorum., type: int}
    fault_tolerance: {description: Voting members that may fail in a fully healthy cluster of this size., type: int}
    failures_tolerated_now: {description: Further voting members that may fail right now., type: int}
    unhealthy: {description: Names (or descriptions) of unhealthy members., type: list, elements: str}
    leader: {description: Name of the leader (empty when none)., type: str}
  sample:
    healthy: true
    has_quorum: true
    voting_members: 3
    healthy_voting_members: 3
    learners: 0
    quorum: 2
    fault_tolerance: 1
    failures_tolerated_now: 1
    unhealthy: []
    leader: etcd1
action:
  description: What was done (or would be done in check mode).
  returned: always
  type: str
  choices: [none, add, remove, promote, update]
reason:
  description: Why, in words.
  returned: always
  type: str
  sample: etcd4 is not a member, adding it as a learner with peer URLs https://10.0.0.14:2380
member:
  description: The member the run was about, after the change (O(state=present)/V(promoted)), or the removed one.
  returned: when a member was concerned
  type: dict
initial_cluster:
  description:
    - With O(state=present), the C(--initial-cluster) value for starting the member with
      C(--initial-cluster-state=existing) (every started member plus this one).
  returned: state=present
  type: str
  sample: etcd1=https://10.0.0.11:2380,etcd2=https://10.0.0.12:2380,etcd4=https://10.0.0.14:2380
quorum:
  description: The quorum verdict of the change.
  returned: when a change was planned
  type: dict
  sample:
    safe: true
    voting_members_after: 3
    healthy_voting_members_after: 3
    quorum_after: 2
    unhealthy: []
    message: ""
diff:
  description: Member list (name, ID, peer URLs, learner) before and after.
  returned: always
  type: dict
"""


def _member_out(view):
    data = view.to_dict()
    try:
        data["id_hex"] = "%016x" % int(view.id)
    except ValueError:
        data["id_hex"] = ""
    return data


def _diff_list(views):
    return {
        "members": [
            {"name": v.name, "id": v.id, "peer_urls": list(v.peer_urls), "is_learner": v.is_learner}
            for v in sorted(views, key=lambda v: (v.name == "", v.name, ",".join(v.peer_urls)))
        ]
    }


def _run(module, result):
    p = module.params
    tls = TlsConfig(p["ca_cert"], p["client_cert"], p["client_key"])
    tls.context()  # certificate problems fail here, once, before any endpoint is tried
    cluster = EtcdCluster(p["endpoints"], tls, p["timeout"], p["health_timeout"])
    members = cluster.connect()
    before = cluster.views(members)
    result.update(members=[_member_out(v) for v in before], health=health_summary(before))
    result["diff"] = {"before": _diff_list(before), "after": _diff_list(before)}
    state = p["state"]
    if state == "list":
        result.update(action="none", reason="listed %d members" % len(before))
        return

    mid = member_id(p["member_id"]) if p["member_id"] else None
    guard = p["quorum_guard"]
    if state == "present":
        plan = plan_present(before, p["name"], p["peer_urls"], p["learner"], p["update_peer_urls"], guard)
    elif state == "absent":
        plan = plan_absent(before, p["name"], p["peer_urls"], mid, guard)
    else:
        plan = plan_promote(before, p["name"], p["peer_urls"], mid, guard)
    # In check mode "changed" is the plan; otherwise it turns true only once etcd has accepted the change.
    result.update(action=plan.action, reason=plan.reason, changed=plan.changed and module.check_mode)
    if plan.verdict is not None:
        result["quorum"] = plan.verdict.to_dict()
        if not plan.verdict.ok:
            module.warn("quorum_guard=false: " + plan.verdict.message)
    if plan.member is not None:
        result["member"] = _member_out(plan.member)

    after = plan.after
    if plan.changed and not module.check_mode:
        target = plan.member
        wait = p["wait_timeout"]
        if plan.action == "add":
            target, listed = cluster.change(before, lambda c: c.member_add(plan.peer_urls, plan.learner), None, wait)
        elif plan.action == "remove":
            listed = cluster.change(before, lambda c: c.member_remove(target.id), target.id, wait)
        elif plan.action == "update":
            listed = cluster.change(before, lambda c: c.member_update(target.id, plan.peer_urls), None, wait)
        else:
            listed = cluster.promote(before, target, wait)
        result["changed"] = True
        if not listed:
            listed, _answering = cluster.client_for_change(before, avoid_id=target.id).member_list()
        after = cluster.views(listed)
        if plan.action != "remove":
            found = [v for v in after if v.id == target.id]
            if found:
                result["member"] = _member_out(found[0])
        result["health"] = health_summary(after)
    result["members"] = [_member_out(v) for v in after]
    result["diff"]["after"] = _diff_list(after)
    if state == "present":
        result["initial_cluster"] = initial_cluster(after, p["name"], sorted(set(p["peer_urls"])))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            endpoints=dict(type="list", elements="str", default=["https://127.0.0.1:2379"]),
            **ETCD_TLS_SPEC,
            timeout=dict(type="float", default=5.0),
            health_timeout=dict(type="float", default=2.0),
            state=dict(type="str", default="list", choices=["list", "present", "absent", "promoted"]),
            name=dict(type="str"),
            peer_urls=dict(type="list", elements="str"),
            member_id=dict(type="str"),
            learner=dict(type="bool", default=True),
            update_peer_urls=dict(type="bool", default=True),
            wait_timeout=dict(type="float", default=120.0),
            quorum_guard=dict(type="bool", default=True),
        ),
        required_if=[
            ("state", "present", ("name", "peer_urls")),
            ("state", "absent", ("name", "peer_urls", "member_id"), True),
            ("state", "promoted", ("name", "peer_urls", "member_id"), True),
        ],
        required_together=[("client_cert", "client_key")],
        supports_check_mode=True,
    )
    for option in ("timeout", "health_timeout", "wait_timeout"):
        if module.params[option] <= 0 and not (option == "wait_timeout" and module.params[option] == 0):
            module.fail_json(msg="%s must be a positive number of seconds, got %s" % (option, module.params[option]))
    result = dict(changed=False, action="none", reason="")
    try:
        if module.params["member_id"]:
            member_id(module.params["member_id"])
        _run(module, result)
    except ValueError as exc:
        module.fail_json(msg="member_id: %s" % exc, **result)
    except PlanError as exc:
        module.fail_json(msg=str(exc), **result)
    except EtcdError as exc:
        module.fail_json(msg=str(exc), error_kind=exc.kind, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
