#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

# Documentation only: fetch_private is an action plugin (plugins/action/fetch_private.py) and runs on the controller.

from __future__ import absolute_import, division, print_function

DOCUMENTATION = r"""
---
module: fetch_private
short_description: Copy a secret from a host to the controller - 0600, in a 0700 directory
description:
  - M(ansible.builtin.fetch) with O(flat=true) for files that carry credentials or cluster data (the admin
    kubeconfig, etcd snapshots).
  - The directory on the controller is made with mode 0700 when it does not exist. An existing directory open to
    group or others is refused (it is never narrowed, as it may be shared, such as C(/tmp)). The copy is made 0600.
  - Check mode fetches nothing and creates nothing.
options:
  src:
    description: The file on the host.
    type: str
    required: true
  dest:
    description: The file on the controller, or a directory ending in C(/) to keep the file name.
    type: str
    required: true
  flat:
    description: Must be true (the file lands exactly at O(dest)).
    type: bool
    required: true
  fail_on_missing:
    description: As for M(ansible.builtin.fetch).
    type: bool
    default: true
  validate_checksum:
    description: As for M(ansible.builtin.fetch).
    type: bool
    default: true
author: kubesmith maintainers
"""

EXAMPLES = r"""
- name: The admin kubeconfig, for kubectl on the controller
  kubesmith.cluster.fetch_private:
    src: /etc/kubernetes/admin.conf
    dest: "{{ lookup('env', 'HOME') }}/.kube/kubesmith/admin.conf"
    flat: true
"""

RETURN = r"""
dest:
  description: The copy on the controller (mode 0600).
  returned: success
  type: str
checksum:
  description: SHA-1 of the copy, as M(ansible.builtin.fetch) returns it.
  returned: success
  type: str
"""
