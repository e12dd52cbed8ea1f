#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubesmith.cluster.plugins.module_utils.host.packages import (
    HostPackagesError,
    changes,
    install_command,
    installed,
    missing,
    needs_update,
    query_command,
    validate,
)

DOCUMENTATION = r"""
---
module: host_packages
short_description: Debian packages present, without starting apt when they are installed already
description:
  - Asks C(dpkg-query) which of O(names) are installed. Only when one is missing (or a name carries a version)
    does it run C(apt-get update) (when apt's lists are older than O(cache_valid_time)) and C(apt-get install).
    M(ansible.builtin.apt) opens apt's whole cache on every run, several seconds per host, and needs python3-apt.
  - Whether anything changed is read from apt's summary line (installed, upgraded, downgraded or removed).
  - Check mode runs C(apt-get install --simulate) and reports what a run would change; it never updates the lists.
  - Debian family only. Use M(ansible.builtin.dnf) elsewhere.
version_added: 0.3.0
author:
  - kubesmith maintainers
options:
  names:
    description: Packages - C(name), C(name:arch) or C(name=version) (apt's version patterns, such as C(1.2*)).
    type: list
    elements: str
    required: true
  cache_valid_time:
    description: Seconds apt's package lists stay fresh enough to install from without C(apt-get update).
    type: int
    default: 3600
notes:
  - Supports check mode.
"""

EXAMPLES = r"""
- name: Node | install packages (Debian family)
  kubesmith.cluster.host_packages:
    names: [conntrack, iptables, socat]
"""

RETURN = r"""
missing:
  description: The names apt was (or would be) asked to install; empty when every package was installed.
  returned: always
  type: list
  elements: str
updated:
  description: Whether apt's package lists were updated.
  returned: always
  type: bool
"""

LISTS = "/var/lib/apt/lists"


def _cache_age():
    if not os.path.isdir(LISTS):
        return None
    stamps = [os.path.join(LISTS, n) for n in os.listdir(LISTS) if n.endswith("_Packages")]
    if not stamps:
        return None
    return time.time() - max(os.path.getmtime(p) for p in stamps)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            names=dict(type="list", elements="str", required=True),
            cache_valid_time=dict(type="int", default=3600),
        ),
        supports_check_mode=True,
    )
    env = dict(DEBIAN_FRONTEND="noninteractive", LC_ALL="C")

    def run(argv, ok=(0,)):
        rc, out, err = module.run_command(argv, environ_update=env)
        if rc not in ok:
            raise HostPackagesError("`%s` failed (rc %d): %s" % (" ".join(argv), rc, (err or out).strip()[-2000:]))
        return out

    updated, count, wanted = False, 0, []
    try:
        names = validate(module.params["names"])
        wanted = missing(names, installed(run(query_command(names), ok=(0, 1))))  # 1: a name dpkg never saw
        if wanted:
            if not module.check_mode and needs_update(_cache_age(), module.params["cache_valid_time"]):
                run(["apt-get", "update", "-q"])
                updated = True
            count = changes(run(install_command(wanted, simulate=module.check_mode)))
    except HostPackagesError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=count > 0, missing=wanted, updated=updated)


if __name__ == "__main__":
    main()
