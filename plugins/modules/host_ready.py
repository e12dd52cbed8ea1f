#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubesmith.cluster.plugins.module_utils.net.wait import HostReadyError, failure_message, wait

DOCUMENTATION = r"""
---
module: host_ready
short_description: Wait until a host's services answer, all checks under one deadline
description:
  - Polls every check in O(checks) from the managed host - an HTTP(S) URL that must answer with O(checks[].status)
    (optionally presenting a client certificate), or a TCP port that must accept a connection - until all are
    ready or O(timeout) seconds have passed. One task replaces a M(ansible.builtin.uri) or
    M(ansible.builtin.wait_for) task per endpoint, each with its own retries.
  - Read-only, so it also runs in check mode.
version_added: 0.2.0
author:
  - kubesmith maintainers
options:
  checks:
    description: The endpoints.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Shown in the result and in errors (default - the URL or host:port).
        type: str
      url:
        description: An V(http://) or V(https://) URL.
        type: str
      host:
        description: Host of a TCP check (with O(checks[].port)).
        type: str
      port:
        description: Port of a TCP check.
        type: int
      status:
        description: The HTTP status that means ready.
        type: int
        default: 200
      ca_path:
        description: CA bundle that signed the server's certificate (default - the system store).
        type: path
      client_cert:
        description: Client certificate to present (with O(checks[].client_key)).
        type: path
      client_key:
        description: Key of O(checks[].client_cert).
        type: path
      validate_certs:
        description: V(false) skips the server certificate check (self-signed serving certificates on 127.0.0.1).
        type: bool
        default: true
  timeout:
    description: Seconds to wait for all checks together.
    type: int
    default: 60
  interval:
    description: Seconds between two rounds of the checks not ready yet.
    type: float
    default: 1.0
notes:
  - Supports check mode (nothing changes).
"""

EXAMPLES = r"""
- name: Worker | wait for kubelet and kube-proxy /healthz
  kubesmith.cluster.host_ready:
    checks:
      - url: http://127.0.0.1:10248/healthz
      - url: http://127.0.0.1:10256/healthz
    timeout: 120
"""

RETURN = r"""
checks:
  description: One result per check, in order.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: The check's name, type: str}
    ready: {description: Whether it answered as expected, type: bool}
    detail: {description: The last answer or error, type: str}
    attempts: {description: How many times it was tried, type: int}
    seconds: {description: Seconds until it was ready (null if never), type: float}
"""


def main():
    module = AnsibleModule(
        argument_spec=dict(
            checks=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str"),
                url=dict(type="str"),
                host=dict(type="str"),
                port=dict(type="int"),
                status=dict(type="int", default=200),
                ca_path=dict(type="path"),
                client_cert=dict(type="path"),
                client_key=dict(type="path", no_log=False),
                validate_certs=dict(type="bool", default=True),
            )),
            timeout=dict(type="int", default=60),
            interval=dict(type="float", default=1.0),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        results = wait(params["checks"], params["timeout"], params["interval"])
    except HostReadyError as exc:
        module.fail_json(msg=str(exc))
    if not all(r["ready"] for r in results):
        module.fail_json(msg=failure_message(results, params["timeout"]), checks=results)
    module.exit_json(changed=False, checks=results)


if __name__ == "__main__":
    main()
