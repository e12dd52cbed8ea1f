#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

import errno
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubesmith.cluster.plugins.module_utils.host.files import (
    HostFilesError,
    apply,
    plan,
    probe,
    summary,
)

DOCUMENTATION = r"""
---
module: host_files
short_description: Directories and files of a role on a host, in one round trip
description:
  - Makes O(directories) exist and writes O(files) with one call on the host, where one M(ansible.builtin.file),
    M(ansible.builtin.copy) or M(ansible.builtin.template) task per item would take two or more round trips each.
    A run that changes nothing costs one module call.
  - A file whose content is already right is not rewritten; only its mode and owner are corrected.
    Writes are atomic (temporary file beside the target, mode and owner set before any byte, fsync, rename).
  - The action plugin of the same name renders O(files[].template) on the controller from the role's
    C(templates/) directory (with the task's variables plus O(files[].vars)) before the call.
  - Check mode reports what a run would change, without touching anything; diff mode shows before and after of
    each written file (never for O(files[].secret) files).
version_added: 0.2.0
author:
  - kubesmith maintainers
options:
  directories:
    description: Directories to create if missing (with their parents), and whose mode and owner are corrected.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      mode:
        description: Octal mode as a string.
        type: str
        default: '0755'
      owner:
        description: Owner.
        type: str
        default: root
      group:
        description: Group.
        type: str
        default: root
  files:
    description: Files to write (or remove), after the directories.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path. A path may be listed once.
        type: path
        required: true
      content:
        description: The text of the file. Required unless O(files[].template) or O(files[].state=absent).
        type: str
      sources:
        description:
          - Paths on the host whose bytes, joined in order, are the content (for example a certificate and its key
            in one file for haproxy) - the data never leaves the host. Mutually exclusive with O(files[].content).
          - A missing source fails the task, except in check mode (the file is then reported as changed).
        type: list
        elements: path
      template:
        description:
          - A template of the role (action plugin only), rendered on the controller. Mutually exclusive with
            O(files[].content).
        type: str
      vars:
        description: Variables for O(files[].template) only, on top of the task's.
        type: dict
        default: {}
      mode:
        description: Octal mode as a string.
        type: str
        default: '0644'
      owner:
        description: Owner.
        type: str
        default: root
      group:
        description: Group.
        type: str
        default: root
      validate:
        description:
          - Command that checks the new file before it replaces the old one; C(%s) is the new file's path.
            Not run in check mode.
        type: str
      secret:
        description: Never show this file's content in a diff (the action plugin also keeps it out of the logs).
        type: bool
        default: false
      state:
        description: V(absent) removes the file.
        type: str
        choices: [present, absent]
        default: present
  absent:
    description: Files to remove if they exist (the same as O(files) items with O(files[].state=absent)).
    type: list
    elements: path
    default: []
  probe:
    description:
      - Small files to read before anything is written (for example C(/proc/sys) values); returned in RV(probed).
    type: list
    elements: path
    default: []
  required:
    description: Paths that must exist on the host before anything is written (not checked in check mode).
    type: list
    elements: path
    default: []
  required_hint:
    description: What to do when a path of O(required) is missing, added to the error message.
    type: str
    default: ''
notes:
  - Supports check mode and diff mode.
  - Tasks with secret content should set C(no_log), as the module's arguments carry the content.
"""

EXAMPLES = r"""
- name: Worker | directories, configuration files and units
  kubesmith.cluster.host_files:
    directories:
      - path: /var/lib/kubelet
    files:
      - path: /var/lib/kubelet/config.yaml
        content: "{{ kubelet_config | to_nice_yaml(indent=2) }}"
      - path: /etc/systemd/system/kubelet.service
        template: component.service.j2
        vars: {item: "{{ kubelet_component }}"}
  register: worker_files

- name: Worker | restart kubelet when its unit or configuration changed
  ansible.builtin.systemd_service:
    name: kubelet
    state: restarted
    daemon_reload: true
  when: worker_files.changed_paths | intersect(['/var/lib/kubelet/config.yaml',
    '/etc/systemd/system/kubelet.service']) | length > 0
"""

RETURN = r"""
changed_paths:
  description: Every directory and file that was (or would be) created, written, corrected or removed, in order.
  returned: always
  type: list
  elements: str
written:
  description: Files whose content was (or would be) written, new files included.
  returned: always
  type: list
  elements: str
probed:
  description: The text of each path of O(probe) (at most 64 KiB), or null when it does not exist.
  returned: always
  type: dict
removed:
  description: Files that were (or would be) removed.
  returned: always
  type: list
  elements: str
"""


def main():
    module = AnsibleModule(
        argument_spec=dict(
            directories=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True),
                mode=dict(type="str", default="0755"),
                owner=dict(type="str", default="root"),
                group=dict(type="str", default="root"),
            )),
            files=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True),
                content=dict(type="str"),
                sources=dict(type="list", elements="path"),
                template=dict(type="str"),
                vars=dict(type="dict", default={}),
                mode=dict(type="str", default="0644"),
                owner=dict(type="str", default="root"),
                group=dict(type="str", default="root"),
                validate=dict(type="str"),
                secret=dict(type="bool", default=False),
                state=dict(type="str", choices=["present", "absent"], default="present"),
            )),
            absent=dict(type="list", elements="path", default=[]),
            probe=dict(type="list", elements="path", default=[]),
            required=dict(type="list", elements="path", default=[]),
            required_hint=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    files = module.params["files"] + [dict(path=p, state="absent", secret=False) for p in module.params["absent"]]
    if any(f.get("template") for f in files):
        module.fail_json(msg="files[].template is rendered by the action plugin: call the module as "
                             "kubesmith.cluster.host_files, not through a module-only path")
    try:
        probed = probe(module.params["probe"])
        actions = plan(module.params["directories"], files, module.params["required"],
                       module.params["required_hint"], module.check_mode)
        if not module.check_mode:
            apply(actions, lambda cmd: module.run_command(cmd, use_unsafe_shell=False))
    except HostFilesError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        hint = " (run the task with become: true)" if exc.errno in (errno.EPERM, errno.EACCES) else ""
        module.fail_json(msg="cannot write %s: %s%s" % (exc.filename or "a file", exc.strerror, hint))
    secret = {os.path.normpath(f["path"]) for f in files if f.get("secret")}
    module.exit_json(probed=probed, **summary(actions, module._diff, secret))


if __name__ == "__main__":
    main()
