#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube.api import KubeApiError, KubeClient
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube.drain import (
    EVICTION_APIS,
    STATES,
    DrainError,
    DrainOptions,
    run,
)

DOCUMENTATION = r"""
---
module: kube_drain
short_description: Cordon, drain (through the Eviction API, honouring PodDisruptionBudgets) and uncordon a node
description:
  - Talks to the Kubernetes API over HTTPS with a client certificate, with the Python standard library only (no
    C(kubectl), no C(kubernetes) Python package, no PyYAML). The connection comes from O(kubeconfig) (like
    C(/etc/kubernetes/admin.conf) on a control-plane host) or from O(api_url), O(ca_file), O(client_cert) and
    O(client_key).
  - "V(drained): the node is cordoned (C(spec.unschedulable=true)) and its pods are evicted through the Eviction
    API (C(POST .../pods/<name>/eviction)), so PodDisruptionBudgets are honoured: an eviction the budget refuses
    (HTTP 429) is tried again every O(retry_interval) seconds. Then the module waits until the evicted pods are gone
    (or their name belongs to a replacement with another UID). All of it within O(timeout) seconds."
  - "Pods on the node: mirror (static) pods are skipped; DaemonSet pods are skipped (O(ignore_daemonsets)); finished
    pods are evicted; pods without a controller are refused unless O(force); pods with C(emptyDir) volumes are
    refused unless O(delete_emptydir_data). Refusals are found before anything changes."
  - "On failure (a PodDisruptionBudget still blocking at O(timeout), pods that do not terminate, an API error) the
    node is made schedulable again if this run cordoned it (unless O(keep_cordoned_on_failure)), and the error names
    the pods and the PodDisruptionBudgets that blocked (RV(blocked))."
  - V(cordoned) and V(uncordoned) only set or clear C(spec.unschedulable).
version_added: 0.1.0
author:
  - kubesmith maintainers
options:
  node:
    description: Name of the Node object.
    type: str
    required: true
  state:
    description:
      - V(drained) cordons the node and evicts its pods; V(cordoned) only cordons; V(uncordoned) makes it
        schedulable again.
    type: str
    choices: [drained, cordoned, uncordoned]
    default: drained
  api_url:
    description:
      - URL of the API server (the load-balanced endpoint or one apiserver), like C(https://10.0.0.10:6443).
      - With O(kubeconfig), overrides the server the kubeconfig names.
      - One of O(api_url) and O(kubeconfig) is required.
    type: str
  kubeconfig:
    description:
      - A kubeconfig with one cluster and one user authenticating with a client certificate (embedded C(*-data) or
        file paths), as kubesmith writes C(/etc/kubernetes/admin.conf). Read without PyYAML; kubeconfigs with several
        clusters or users, or token authentication, are refused.
      - Embedded certificates and the key go to a private temporary directory only while they are loaded, then are
        removed.
      - Mutually exclusive with O(ca_file), O(client_cert) and O(client_key).
    type: path
  ca_file:
    description: CA bundle that signed the API server certificate. Without it the system trust store is used.
    type: path
  client_cert:
    description:
      - Client certificate (PEM) of a user allowed to patch nodes, list pods, create C(pods/eviction) and get pods
        (an admin certificate, or a dedicated user with that RBAC).
    type: path
  client_key:
    description: Private key of O(client_cert) (PEM, unencrypted). Only the path is passed; the key is never logged.
    type: path
  request_timeout:
    description: Seconds to wait for the connection and each read of every API request.
    type: float
    default: 10
  timeout:
    description:
      - Seconds the whole drain may take (evictions refused by PodDisruptionBudgets, then the evicted pods
        terminating). Counted on a monotonic clock from the start.
    type: float
    default: 300
  retry_interval:
    description: Seconds between attempts while evictions are refused or pods are still terminating.
    type: float
    default: 5
  force:
    description: Evict pods that no controller manages too (they are not recreated anywhere).
    type: bool
    default: false
  delete_emptydir_data:
    description: Evict pods that use C(emptyDir) volumes too (their data is lost).
    type: bool
    default: false
  ignore_daemonsets:
    description:
      - Skip DaemonSet pods (their controller would put them back on the node at once). V(false) makes a node with
        DaemonSet pods fail to drain, as C(kubectl drain) does without C(--ignore-daemonsets).
    type: bool
    default: true
  grace_period:
    description:
      - Seconds each evicted pod gets to terminate (C(deleteOptions.gracePeriodSeconds)). Unset, each pod's own
        C(terminationGracePeriodSeconds) applies.
    type: int
  eviction_api:
    description:
      - "Version of the Eviction object. V(auto) reads it from the API discovery (C(/api/v1), the C(pods/eviction)
        subresource): C(policy/v1) from Kubernetes 1.22, C(policy/v1beta1) up to 1.21 (1.20 has only that one).
        When discovery does not say, C(policy/v1) is tried and C(policy/v1beta1) used if the server refuses the
        version."
    type: str
    choices: [auto, policy/v1, policy/v1beta1]
    default: auto
  keep_cordoned_on_failure:
    description: Leave the node cordoned when the drain fails (by default a node this run cordoned is uncordoned).
    type: bool
    default: false
notes:
  - Idempotent, a node that is cordoned with nothing left to evict reports no change; V(cordoned) on a cordoned
    node and V(uncordoned) on a schedulable node report no change.
  - Check mode reads the node and its pods and reports what would be cordoned (RV(cordoned)) and evicted
    (RV(evicted)), changing nothing and waiting for nothing. Pods that would be refused fail the run as they would
    for real. Whether PodDisruptionBudgets allow the evictions is not known until they are tried.
  - A node that was already cordoned when the run started is left cordoned when the drain fails.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Upgrade | drain the worker (PodDisruptionBudgets honoured, 10 minutes at most)
  kubesmith.cluster.kube_drain:
    node: "{{ worker_node_name }}"
    kubeconfig: /etc/kubernetes/admin.conf
    timeout: 600
    delete_emptydir_data: true
  delegate_to: "{{ groups['control_plane'][0] }}"

- name: Upgrade | make the node schedulable again once it is Ready with the new version
  kubesmith.cluster.kube_drain:
    node: "{{ worker_node_name }}"
    state: uncordoned
    api_url: "https://{{ kube_api_vip }}:6443"
    ca_file: /etc/kubernetes/pki/ca.crt
    client_cert: /etc/kubernetes/pki/drain.crt
    client_key: /etc/kubernetes/pki/drain.key
  delegate_to: "{{ groups['control_plane'][0] }}"
"""

RETURN = r"""
node:
  description: The node.
  returned: always
  type: str
  sample: worker1
state:
  description: The state asked for.
  returned: always
  type: str
  sample: drained
cordoned:
  description: Whether the node is unschedulable at the end (in check mode, would be).
  returned: always
  type: bool
evicted:
  description: Pods (C(namespace/name)) evicted by this run; in check mode, the pods that would be evicted.
  returned: always
  type: list
  elements: str
  sample: [default/web-5d9c7b7f4-abcde, shop/api-7f6d8c9b5-xyz12]
skipped:
  description: Pods left on the node, with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{pod: kube-system/kube-proxy-x7k2p, reason: "DaemonSet pod (DaemonSet kube-proxy)"}]
refused:
  description: Pods that made the drain refuse to start, with the option that would allow them.
  returned: when the drain was refused
  type: list
  elements: dict
blocked:
  description:
    - Pods whose eviction was still refused, or that were still terminating, when the drain failed, with the
      API's reason and the PodDisruptionBudget that blocked (empty when the API did not name one).
  returned: failure
  type: list
  elements: dict
  sample: [{pod: default/web-1, reason: "Cannot evict pod as it would violate the pod's disruption budget.", pdb: web}]
uncordoned:
  description: Whether the node was made schedulable again after the failure.
  returned: failure after the node was cordoned
  type: bool
eviction_api:
  description: The Eviction version used (empty when nothing was evicted).
  returned: always
  type: str
  sample: policy/v1
"""


def main():
    module = AnsibleModule(
        argument_spec=dict(
            node=dict(type="str", required=True),
            state=dict(type="str", default="drained", choices=list(STATES)),
            api_url=dict(type="str"),
            kubeconfig=dict(type="path"),
            ca_file=dict(type="path"),
            client_cert=dict(type="path"),
            client_key=dict(type="path", no_log=False),
            request_timeout=dict(type="float", default=10.0),
            timeout=dict(type="float", default=300.0),
            retry_interval=dict(type="float", default=5.0),
            force=dict(type="bool", default=False),
            delete_emptydir_data=dict(type="bool", default=False),
            ignore_daemonsets=dict(type="bool", default=True),
            grace_period=dict(type="int"),
            eviction_api=dict(type="str", default="auto", choices=list(EVICTION_APIS)),
            keep_cordoned_on_failure=dict(type="bool", default=False),
        ),
        required_together=[("client_cert", "client_key")],
        required_one_of=[("api_url", "kubeconfig")],
        mutually_exclusive=[("kubeconfig", "ca_file"), ("kubeconfig", "client_cert"), ("kubeconfig", "client_key")],
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False, node=p["node"], state=p["state"])
    try:
        opts = DrainOptions(
            timeout=p["timeout"],
            retry_interval=p["retry_interval"],
            force=p["force"],
            delete_emptydir_data=p["delete_emptydir_data"],
            ignore_daemonsets=p["ignore_daemonsets"],
            grace_period=p["grace_period"],
            eviction_api=p["eviction_api"],
            keep_cordoned_on_failure=p["keep_cordoned_on_failure"],
        )
        if p["kubeconfig"]:
            client = KubeClient.from_kubeconfig(p["kubeconfig"], p["request_timeout"], p["api_url"])
        else:
            client = KubeClient(p["api_url"], p["ca_file"], p["client_cert"], p["client_key"], p["request_timeout"])
        result.update(run(client, p["node"], p["state"], opts, check_mode=module.check_mode))
    except DrainError as exc:
        result.update(exc.result)
        module.fail_json(msg=str(exc), **result)
    except KubeApiError as exc:
        module.fail_json(msg=str(exc), status=exc.status, error_kind=exc.kind, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
