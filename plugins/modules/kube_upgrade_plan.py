#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.client import EtcdClient
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.transport import TlsConfig
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube.api import KubeApiError, KubeClient
from ansible_collections.kubesmith.cluster.plugins.module_utils.upgrade.state import (
    UpgradeStateError,
    collect,
    empty_result,
)

DOCUMENTATION = r"""
---
module: kube_upgrade_plan
short_description: Read the versions a cluster runs, check its health and plan a rolling upgrade
description:
  - Reads what runs now and returns the ordered rolling-upgrade plan (etcd members one at a time, then the
    control-plane hosts one at a time, then the workers in batches), or fails before anything changes when the
    upgrade is unsafe. Read-only; runs on a control-plane host (C(run_once) and C(delegate_to) the first one) with
    the Python standard library only.
  - "What it reads: every control-plane host's own apiserver (C(GET /version) on O(apiservers), with the credentials
    and CA of O(kubeconfig)); every Node in one list call (C(GET /api/v1/nodes), through the server O(kubeconfig)
    names): C(status.nodeInfo.kubeletVersion), C(status.nodeInfo.containerRuntimeVersion) and the C(Ready)
    condition; every etcd member's version (C(/v3/maintenance/status)) and health (C(/health)) on O(etcd_members)."
  - "Health gates, each failing the task with a message that names the host and what to do: an etcd member that
    does not answer or is unhealthy; a Node that is not Ready (C(False) or C(Unknown)) unless listed in
    O(ignore_not_ready); an apiserver that does not answer and has no O(apiserver_installed) version."
  - "Resuming after a failed run: an apiserver that does not answer (connection refused, timeout, HTTP 5xx) counts
    as running the version its installed binary reports (O(apiserver_installed)) and is planned again even when that
    is the target (RV(unhealthy)); so is the kubelet of a NotReady node listed in O(ignore_not_ready), and the
    kubelet of a Node that still carries O(resume_annotation) (its step was interrupted after the drain)."
  - The plan follows the version-skew policy (no minor skipped, kubelets never newer than an apiserver, etcd and
    containerd versions the target Kubernetes minor supports); see RV(plan) and the refusals it names.
version_added: 0.1.0
author:
  - kubesmith maintainers
options:
  kubeconfig:
    description:
      - Kubeconfig with one cluster and one user authenticating with a client certificate (as kubesmith writes
        C(/etc/kubernetes/admin.conf)). Its server is used for the Node list; its CA and client certificate for every
        apiserver of O(apiservers).
    type: path
    default: /etc/kubernetes/admin.conf
  apiservers:
    description:
      - Inventory host -> URL of that host's own apiserver, like C(https://10.0.0.11:6443) (not the load-balanced
        endpoint, each host's version is read from its own apiserver). Every host of O(control_plane_hosts).
    type: dict
    required: true
  apiserver_installed:
    description:
      - Inventory host -> what the host's installed C(kube-apiserver --version) prints (C(Kubernetes v1.20.2)) or a
        bare version. Used only for an apiserver that does not answer C(/version); that host's apiserver is then
        marked unhealthy and planned again.
    type: dict
    default: {}
  nodes:
    description:
      - Inventory host -> Node name, for the hosts that are Kubernetes nodes (control-plane hosts that run a kubelet,
        and the workers). A host whose Node does not exist has no kubelet version (the plan then fails for a worker).
    type: dict
    default: {}
  etcd_members:
    description: Inventory host -> client URL of that etcd member, like C(https://10.0.0.11:2379). Every etcd host.
    type: dict
    required: true
  etcd_ca_cert:
    description: CA bundle that signed the etcd server certificates. Without it the system trust store is used.
    type: path
  etcd_client_cert:
    description: Client certificate (PEM) etcd accepts (C(--client-cert-auth)).
    type: path
  etcd_client_key:
    description: Private key of O(etcd_client_cert) (PEM, unencrypted). Only the path is passed.
    type: path
  etcd_hosts:
    description: The etcd group, in inventory order (the order members are upgraded in).
    type: list
    elements: str
    required: true
  control_plane_hosts:
    description: The control-plane group, in inventory order (the order they are upgraded in).
    type: list
    elements: str
    required: true
  worker_hosts:
    description: The workers, in inventory order. A host also in O(control_plane_hosts) is handled as a control-plane
      host.
    type: list
    elements: str
    default: []
  kube_version:
    description: Target Kubernetes version (C(v1.20.2), C(1.20.2+kubesmith.1)); a different build tag is a rebuild.
    type: str
    required: true
  etcd_version:
    description: Target etcd version (C(3.5.16)). Unset, etcd is not upgraded (its version is still checked).
    type: str
  containerd_version:
    description:
      - Target containerd version (C(1.7.24)). Unset, containerd is not upgraded. Set, every node must run containerd.
    type: str
  worker_batch:
    description:
      - Workers upgraded together, a count (C(1)) or a percentage of all workers in the inventory (C(25%), rounded
        down, at least 1).
    type: raw
    default: 1
  allow_downgrade:
    description: Allow going down a patch release (minor downgrades are always refused).
    type: bool
    default: false
  ignore_not_ready:
    description:
      - Node names allowed to be NotReady. Any other NotReady node fails the task. A listed node that is an inventory
        node gets its kubelet planned again.
    type: list
    elements: str
    default: []
  resume_annotation:
    description:
      - Annotation the upgrade playbook puts on a Node before draining it and removes after uncordoning it. A Node
        that still has it did not finish its step (it may be cordoned with its binaries already swapped), so its
        kubelet is planned again. Empty disables this.
    type: str
    default: kubesmith.io/upgrade
  request_timeout:
    description: Seconds to wait for the connection and each read of every API and etcd request.
    type: float
    default: 10
notes:
  - Never changes anything; RV(changed) is always false. Check mode reads and plans the same way.
  - The same result keys are returned on failure, holding as much as was read before the refusal.
  - Whether an apiserver answers is judged from C(/version) only; an apiserver that answers but is not ready
    (C(/readyz)) counts as healthy here.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Upgrade | read what runs and plan (a stacked HA cluster of cp1..cp3 and one worker)
  kubesmith.cluster.kube_upgrade_plan:
    apiservers:
      cp1: https://10.0.0.11:6443
      cp2: https://10.0.0.12:6443
      cp3: https://10.0.0.13:6443
    nodes: {cp1: cp1, cp2: cp2, cp3: cp3, w1: w1}
    etcd_members:
      cp1: https://10.0.0.11:2379
      cp2: https://10.0.0.12:2379
      cp3: https://10.0.0.13:2379
    etcd_ca_cert: /etc/etcd/pki/ca.crt
    etcd_client_cert: /etc/etcd/pki/healthcheck-client.crt
    etcd_client_key: /etc/etcd/pki/healthcheck-client.key
    etcd_hosts: "{{ groups['etcd'] }}"
    control_plane_hosts: "{{ groups['control_plane'] }}"
    worker_hosts: "{{ groups['workers'] | default([]) }}"
    kube_version: v1.20.2+kubesmith.1
    etcd_version: 3.5.16
    containerd_version: 1.7.24
    worker_batch: 25%
  run_once: true
  delegate_to: "{{ groups['control_plane'][0] }}"
  register: __upgrade_plan

- name: Upgrade | resume a roll whose cp2 apiserver stopped answering after its binaries were swapped
  kubesmith.cluster.kube_upgrade_plan:
    apiservers: "{{ __upgrade_apiserver_urls }}"
    apiserver_installed: "{{ __upgrade_installed_apiservers }}"  # host -> 'Kubernetes v1.20.2+kubesmith.1'
    nodes: "{{ __upgrade_node_names }}"
    etcd_members: "{{ __upgrade_etcd_client_urls }}"
    etcd_hosts: "{{ groups['etcd'] }}"
    control_plane_hosts: "{{ groups['control_plane'] }}"
    worker_hosts: "{{ groups['workers'] }}"
    kube_version: "{{ kube_version }}"
    ignore_not_ready: [w3]  # known broken; its kubelet is planned again
  run_once: true
  delegate_to: "{{ groups['control_plane'][0] }}"
  register: __upgrade_plan

- name: Upgrade | show the plan
  ansible.builtin.debug:
    msg: "{{ __upgrade_plan.summary }}"
  run_once: true
"""

RETURN = r"""
current:
  description: The versions read, per inventory host.
  returned: always
  type: dict
  contains:
    apiservers:
      description: C(gitVersion) of each host's apiserver (the installed version for one that did not answer).
      type: dict
    kubelets:
      description: C(status.nodeInfo.kubeletVersion) of each inventory host whose Node exists.
      type: dict
    etcd:
      description: Version of each etcd member.
      type: dict
    containerd:
      description: containerd version of each node running containerd (C(containerd://) removed).
      type: dict
  sample:
    apiservers: {cp1: v1.20.2, cp2: v1.20.2, cp3: v1.20.2}
    kubelets: {cp1: v1.20.2, cp2: v1.20.2, cp3: v1.20.2, w1: v1.20.2}
    etcd: {cp1: 3.4.23, cp2: 3.4.23, cp3: 3.4.23}
    containerd: {cp1: 1.6.20~ds1, cp2: 1.6.20~ds1, cp3: 1.6.20~ds1, w1: 1.6.20~ds1}
unhealthy:
  description: Host -> components planned again although they may report the target (C(apiserver), C(kubelet)).
  returned: always
  type: dict
  sample: {cp2: [apiserver]}
not_ready:
  description: Every Node that is not Ready (ignored or not), by Node name.
  returned: always
  type: list
  elements: str
plan:
  description:
    - "The planner's result: C(steps) (each with C(phase) C(etcd)/C(control_plane)/C(workers), C(hosts),
      C(components), C(drain), C(from) per host and C(to)), C(skipped) (hosts already at every target) and
      C(summary). Empty when the task failed before planning."
  returned: always
  type: dict
summary:
  description: One line saying what will be done.
  returned: always
  type: str
  sample: "etcd: 3 steps (cp1, cp2, cp3) -> etcd 3.5.16; control plane: 3 steps (cp1, cp2, cp3) -> ...; workers: ..."
pending:
  description: Hosts with any step, in inventory order.
  returned: always
  type: list
  elements: str
hosts:
  description:
    - "Every inventory host -> what happens to it: C(etcd), C(apiserver), C(node) (kubelet and/or containerd),
      C(containerd), C(drain) (booleans)."
  returned: always
  type: dict
  sample: {cp1: {etcd: true, apiserver: true, node: true, containerd: true, drain: true}}
node_after_apiservers:
  description:
    - True when the control-plane hosts' kubelet/containerd steps follow every apiserver step (a minor upgrade, as a
      kubelet must never be newer than any apiserver), so the playbook does the control-plane nodes in a second
      pass.
  returned: always
  type: bool
"""


ARGUMENT_SPEC = dict(
    kubeconfig=dict(type="path", default="/etc/kubernetes/admin.conf"),
    apiservers=dict(type="dict", required=True),
    apiserver_installed=dict(type="dict", default={}),
    nodes=dict(type="dict", default={}),
    etcd_members=dict(type="dict", required=True),
    etcd_ca_cert=dict(type="path"),
    etcd_client_cert=dict(type="path"),
    etcd_client_key=dict(type="path", no_log=False),
    etcd_hosts=dict(type="list", elements="str", required=True),
    control_plane_hosts=dict(type="list", elements="str", required=True),
    worker_hosts=dict(type="list", elements="str", default=[]),
    kube_version=dict(type="str", required=True),
    etcd_version=dict(type="str"),
    containerd_version=dict(type="str"),
    worker_batch=dict(type="raw", default=1),
    allow_downgrade=dict(type="bool", default=False),
    ignore_not_ready=dict(type="list", elements="str", default=[]),
    resume_annotation=dict(type="str", default="kubesmith.io/upgrade"),
    request_timeout=dict(type="float", default=10.0),
)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_together=[("etcd_client_cert", "etcd_client_key")],
        supports_check_mode=True,
    )
    p = module.params
    tls = TlsConfig(p["etcd_ca_cert"], p["etcd_client_cert"], p["etcd_client_key"])

    try:  # read once: its TLS setup (CA, client certificate) serves every apiserver URL too
        kube = KubeClient.from_kubeconfig(p["kubeconfig"], p["request_timeout"])
    except KubeApiError as exc:
        module.fail_json(msg=str(exc), **empty_result())

    def api_client(url):
        return kube if url is None else KubeClient(url, timeout=p["request_timeout"], transport=kube.transport)

    def etcd_client(url):
        return EtcdClient(url, tls=tls, timeout=p["request_timeout"])

    try:
        result = collect(p, api_client, etcd_client)
    except UpgradeStateError as exc:
        module.fail_json(msg=str(exc), **(exc.result or empty_result()))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
