#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubesmith.cluster.plugins.module_utils.host.services import (
    STATES,
    HostServicesError,
    commands,
    needs_daemon_reload,
    parse_show,
    plan,
    result,
    show_command,
)

DOCUMENTATION = r"""
---
module: host_services
short_description: A role's systemd services on a host, in one round trip
description:
  - Reads the state of every unit in O(units) with one C(systemctl show), then enables, starts, restarts, reloads
    or stops what differs, one C(systemctl) command per verb. One M(ansible.builtin.systemd_service) task per unit
    would take a round trip (and a daemon reload) each.
  - systemd is reloaded only when it reports a changed unit file (C(NeedDaemonReload)) or a unit it has not loaded
    yet, so a unit file written by an earlier, interrupted run still takes effect.
  - Steps run in this order, each for all its units at once (systemd runs the jobs together) - enable, start,
    restart, reload, stop. Put units that must come up one after the other in separate tasks.
  - Check mode reports what would change; a unit the same run would write first (unknown to systemd yet) is
    reported as enabled and started.
version_added: 0.2.0
author:
  - kubesmith maintainers
options:
  units:
    description: The services, in order.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Unit name; C(.service) is added when it has no suffix.
        type: str
        required: true
      state:
        description:
          - V(started) starts a unit that is not running; V(restarted) always restarts; V(reloaded) reloads a
            running unit and starts a stopped one; V(stopped) stops a running one.
        type: str
        choices: [started, restarted, reloaded, stopped]
        default: started
      enabled:
        description: V(true) enables the unit at boot if it is not. Disabling is not supported.
        type: bool
        default: true
notes:
  - Supports check mode.
"""

EXAMPLES = r"""
- name: Worker | start kubelet and kube-proxy, restart the ones whose configuration changed
  kubesmith.cluster.host_services:
    units:
      - {name: kubelet, state: "{{ 'restarted' if 'kubelet' in restart else 'started' }}"}
      - {name: kube-proxy, state: "{{ 'restarted' if 'kube-proxy' in restart else 'started' }}"}
"""

RETURN = r"""
daemon_reloaded:
  description: Whether systemd was (or would be) reloaded.
  returned: always
  type: bool
enabled:
  description: Units that were (or would be) enabled.
  returned: always
  type: list
  elements: str
started:
  description: Units that were (or would be) started.
  returned: always
  type: list
  elements: str
restarted:
  description: Units that were (or would be) restarted.
  returned: always
  type: list
  elements: str
reloaded:
  description: Units that were (or would be) reloaded.
  returned: always
  type: list
  elements: str
stopped:
  description: Units that were (or would be) stopped.
  returned: always
  type: list
  elements: str
"""


def main():
    module = AnsibleModule(
        argument_spec=dict(
            units=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                state=dict(type="str", choices=list(STATES), default="started"),
                enabled=dict(type="bool", default=True),
            )),
        ),
        supports_check_mode=True,
    )
    units = module.params["units"]
    names = [u["name"] for u in units]

    def run(argv):
        rc, out, err = module.run_command(argv)
        if rc != 0:
            raise HostServicesError("`%s` failed (rc %d): %s" % (" ".join(argv), rc, (err or out).strip()))
        return out

    try:
        states = parse_show(run(show_command(names)), names)
        reload_needed = needs_daemon_reload(states)
        if reload_needed and not module.check_mode:
            run(["systemctl", "daemon-reload"])
            states = parse_show(run(show_command(names)), names)
        steps = plan(units, states, module.check_mode)
        if not module.check_mode:
            for argv in commands(steps):
                run(argv)
    except HostServicesError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result(steps, reload_needed))


if __name__ == "__main__":
    main()
