#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

# Documentation only: kube_pki is an action plugin (plugins/action/kube_pki.py) and runs on the controller.

from __future__ import absolute_import, division, print_function

DOCUMENTATION = r"""
---
module: kube_pki
short_description: The whole Kubernetes cluster PKI - CAs, component and node certificates, kubeconfigs
description:
  - Builds, checks and renews every certificate, key and kubeconfig a kubesmith cluster needs, derived from the
    inventory. Runs on the controller with the Python package C(cryptography); the hosts only need Python (the
    helper module M(kubesmith.cluster.pki_files) reads and writes the files).
  - Per host it costs two round trips at most - one read of the files it manages (public and private parts),
    one write of what changed. A run where everything is current issues nothing and reports C(changed=false).
  - 'The controller keeps nothing between runs (AWX jobs run in throwaway containers): the CAs live on the
    control-plane hosts and are read back from the primary one (the first host of group C(control_plane)).'
  - 'Three steps, meant to be driven by a role: O(state=inspect) on every host (what exists, which CAs signed it),
    O(state=ca) once against the primary control-plane host (load, bring, or create the CAs - refuses to mint a
    CA when certificates signed by a missing one exist), O(state=present) on every host (place CA copies, issue or
    reissue leaves, render kubeconfigs).'
  - A leaf is (re)issued with a new key when it is missing; when its subject, SANs, key usage or extended key usage
    no longer match the inventory; when its key is missing, does not match, or uses another algorithm than
    O(key_algorithm); when it was not signed by the current CA; when it expires within O(renew_before_days) (unless
    the CA itself ends first - that is reported as a warning by O(state=ca)); or when named in O(reissue).
  - A CA is never created or replaced by O(state=present), and by O(state=ca) only when missing everywhere
    (no certificate it signed exists), when brought with O(byo_ca), or when named by O(force_ca).
  - 'Certificate set, per host role:'
  - 'Control-plane hosts - C(ca.crt)/C(ca.key) (cluster CA), C(front-proxy-ca.crt)/C(.key), C(sa.key)/C(sa.pub)
    (service-account signing key pair), C(<etcd_pki_dir>/ca.crt)/C(ca.key) (etcd CA), C(apiserver) (server;
    CN C(kube-apiserver); SANs C(kubernetes), C(kubernetes.default), C(kubernetes.default.svc),
    C(kubernetes.default.svc.<cluster domain>), the first IP of the service CIDR, every control-plane name and IP,
    the API endpoint host, C(localhost), C(127.0.0.1), O(apiserver_extra_sans)), C(apiserver-kubelet-client)
    (client, no group: bound to C(system:kubelet-api-admin) by the control_plane role), C(front-proxy-client)
    (client, front-proxy CA), C(apiserver-etcd-client)
    (client, CN C(kube-apiserver-etcd-client), etcd CA), and the kubeconfigs C(controller-manager.conf)
    (CN C(system:kube-controller-manager)), C(scheduler.conf) (CN C(system:kube-scheduler)) with server
    O(control_plane_server), C(admin.conf) (CN C(kubernetes-admin), O C(system:masters)) with the API endpoint,
    C(apiserver-health-client.crt)/C(.key) (see load balancers).'
  - 'etcd hosts - C(<etcd_pki_dir>/ca.crt), C(server.crt)/C(.key) and C(peer.crt)/C(.key) (CN the node name; SANs
    its names and IPs, C(localhost), C(127.0.0.1); EKU serverAuth and clientAuth for both - etcd also dials its own
    client port with the server certificate), C(healthcheck-client.crt)/C(.key) (CN C(kube-etcd-healthcheck-client),
    for health checks and etcdctl).'
  - 'Nodes (hosts of O(node_groups)) - C(ca.crt), C(kubelet.crt)/C(.key) (kubelet serving certificate: CN
    C(system:node:<name>), O C(system:nodes), SANs the node names and IPs), the kubeconfigs C(kubelet.conf)
    (CN C(system:node:<name>), O C(system:nodes)) and C(kube-proxy.conf) (CN C(system:kube-proxy)), with the API
    endpoint.'
  - 'Load balancers (hosts of group C(load_balancers), and every control-plane host, where the VIP or local proxy
    may run) - C(ca.crt) (no key) and C(apiserver-health-client.crt)/C(.key) (client, cluster CA, CN
    C(kubesmith:apiserver-health), no organisation, no SAN): haproxy checks each apiserver''s C(/readyz) with it.
    The built-in ClusterRole C(system:public-info-viewer) lets any authenticated user read C(/readyz),
    C(/healthz), C(/livez) and C(/version); the certificate grants nothing else.'
  - 'Key usage: server certificates digitalSignature (+ keyEncipherment with RSA keys), EKU serverAuth; client
    certificates digitalSignature, EKU clientAuth; etcd server/peer both EKUs. CAs: keyCertSign, cRLSign,
    digitalSignature, basicConstraints CA:TRUE pathlen 0.'
  - 'Inventory conventions: groups C(etcd), C(control_plane), C(workers) (O(node_groups)), optional
    C(load_balancers); the node name is the hostvar C(node_name) (default inventory_hostname), its address the hostvar
    C(node_ip) (a string or a list; default C(ansible_host) when that is a non-loopback IP address).'
  - Files are written as root, private keys and kubeconfigs mode 0600, certificates and public keys 0644. Run the task
    with C(become=true).
  - Options not set on the task are read from the variable named in their description, then default. A role can
    therefore call the plugin with little more than O(state) and O(ca).
version_added: 0.1.0
author:
  - kubesmith maintainers
options:
  state:
    description:
      - V(inspect) - read the certificates on the host (never its private keys) and report them; changes nothing.
        Its RV(leaf_issuers) feed O(existing_leaves).
      - V(ca) - run once against the primary control-plane host (C(run_once), C(delegate_to)). Reads the CA
        material there, or takes O(byo_ca), or creates what is missing, writes new CA files on that host and returns
        the material as RV(ca) with the result marked C(no_log).
      - V(present) - place and (re)issue everything the host needs, signed by O(ca).
    type: str
    choices: [present, ca, inspect]
    default: present
  ca:
    description:
      - O(state=present) - the RV(ca) value of the O(state=ca) task (CA certificates and keys, service-account key).
    type: dict
  existing_leaves:
    description:
      - O(state=ca) - which hosts hold certificates, so that a missing CA is not silently recreated. A dict host ->
        list of CA ids (RV(leaf_issuers) of O(state=inspect)), or a list of host names (counts for every CA).
      - The primary control-plane host's own certificates are always taken into account.
    type: raw
  reissue:
    description:
      - O(state=present) - leaves to reissue whatever their state (new key and certificate), by name, or V(all)
        (certificate renewal). Names are C(apiserver), C(apiserver-kubelet-client), C(front-proxy-client),
        C(apiserver-etcd-client), C(controller-manager), C(scheduler), C(admin), C(apiserver-health-client),
        C(etcd-server), C(etcd-peer),
        C(etcd-healthcheck-client), C(kubelet), C(kubelet-client), C(kube-proxy). CAs cannot be named.
    type: list
    elements: str
    default: []
  byo_ca:
    description:
      - 'Bring your own CA(s) - variable C(pki_byo_ca). A dict keyed by CA id (C(kubernetes-ca), C(etcd-ca),
        C(front-proxy-ca)) whose values hold C(cert), C(key) and for an intermediate CA C(chain) (the issuing
        certificates up to the corporate root, nearest first) as PEM text (vault variables), or C(cert_file),
        C(key_file), C(chain_file) as controller paths (vault-encrypted files are decrypted). C(sa) may hold the
        service-account C(key). CAs not given are created as usual.'
      - The CA file (C(ca.crt)) holds the intermediate alone - the cluster trusts only what that CA issued, not
        everything under the corporate root; C(ca-chain.crt) next to it holds the chain; leaf files carry the
        intermediates after the leaf so that clients trusting the root can build the path.
      - A provided CA that differs from the one already on the primary host is refused unless O(force_ca) names it.
    type: dict
  force_ca:
    description:
      - O(state=ca) - variable C(pki_force_ca). V(true) replaces the three CAs and the service-account key; a list
        of ids (C(kubernetes-ca), C(etcd-ca), C(front-proxy-ca), C(sa)) replaces only those. Replaced with new ones,
        or with O(byo_ca) where given.
      - Every leaf signed by a replaced CA is then reissued by O(state=present); replacing C(sa) invalidates the
        existing service-account tokens.
    type: raw
    default: false
  key_algorithm:
    description:
      - Variable C(pki_key_algorithm). Key type of new keys (CAs when created, every leaf, the service-account key).
      - V(ecdsa-p256) is the default - keys are small (fast TLS handshakes, small kubeconfigs), generated in well
        under a millisecond (the whole PKI of a 100-node cluster takes about 0.1 s on the controller, RSA-2048 about
        11 s), and supported by every Kubernetes component and etcd in every version this collection supports,
        1.20 included (Go's crypto/tls, ES256 service-account tokens). V(rsa-2048)/V(rsa-4096) for environments
        that mandate RSA.
      - Changing it reissues every leaf at the next run; CAs keep their key.
    type: str
    choices: [ecdsa-p256, rsa-2048, rsa-4096]
    default: ecdsa-p256
  ca_validity_days:
    description: Variable C(pki_ca_validity_days). Validity of CAs created here.
    type: int
    default: 3650
  leaf_validity_days:
    description: Variable C(pki_leaf_validity_days). Validity of leaves (never beyond their CA's expiry).
    type: int
    default: 365
  renew_before_days:
    description:
      - Variable C(pki_renew_before_days). A leaf expiring within this many days is reissued. Must be smaller than
        O(leaf_validity_days).
    type: int
    default: 30
  cluster_name:
    description: Variable C(cluster_name). Cluster name inside the kubeconfigs.
    type: str
    default: kubernetes
  cluster_domain:
    description: Variable C(cluster_domain). Used in the C(kubernetes.default.svc.<domain>) SAN.
    type: str
    default: cluster.local
  service_cidr:
    description: Variable C(cluster_service_cidr). Its first address is a SAN of the apiserver certificate.
    type: str
    default: 10.96.0.0/12
  api_endpoint:
    description:
      - Variable C(cluster_api_endpoint). Dict with C(host) (name or IP of the VIP, load balancer or external
        address) and C(port) (default 6443). Its host is a SAN of the apiserver certificate, and
        C(https://host:port) the server of C(admin.conf), C(kubelet.conf) and C(kube-proxy.conf).
      - Without C(host), the first address (or name) of the primary control-plane host; with
        O(load_balancer_mode=local), C(127.0.0.1) and port 6444 unless given.
    type: dict
  load_balancer_mode:
    description:
      - Variable C(load_balancer_mode). With C(local), O(api_endpoint) defaults to C(127.0.0.1:6444), each node's
        own haproxy (the rule every role uses, in C(module_utils/cluster/load_balancer.py)).
    type: str
    choices: [none, vip, local]
    default: none
  apiserver_extra_sans:
    description: Variable C(pki_apiserver_extra_sans). More names and IP addresses for the apiserver certificate.
    type: list
    elements: str
    default: []
  pki_dir:
    description: Variable C(pki_dir). Directory of the Kubernetes certificates and keys on the hosts.
    type: str
    default: /etc/kubernetes/pki
  etcd_pki_dir:
    description: Variable C(pki_etcd_dir). Directory of the etcd CA and the etcd member certificates.
    type: str
    default: /etc/etcd/pki
  kubeconfig_dir:
    description: Variable C(pki_kubeconfig_dir). Directory of the kubeconfigs.
    type: str
    default: /etc/kubernetes
  control_plane_server:
    description:
      - Variable C(pki_control_plane_server). API server URL in the controller-manager and scheduler kubeconfigs
        (they run next to an apiserver). Empty - the API endpoint.
    type: str
    default: https://127.0.0.1:6443
  node_groups:
    description:
      - Variable C(pki_node_groups). Groups whose hosts run a kubelet and kube-proxy and get node certificates.
        Add control-plane hosts to one of them if they run workloads.
    type: list
    elements: str
    default: [workers]
attributes:
  check_mode:
    support: full
    details: Reads the hosts and reports exactly what would be issued or written; nothing is generated or written.
  diff_mode:
    support: full
    details: Subjects, issuers, SANs, expiry, serials and fingerprints before and after. Never key material.
notes:
  - The result of O(state=ca) carries private keys and is marked C(no_log); register it and pass RV(ca) on. Its
    public summary is RV(cas).
  - Reading and writing needs root on the hosts - C(become=true).
  - O(ca) carries private keys as a task argument. Ansible never prints module arguments unless
    C(ANSIBLE_DISPLAY_ARGS_TO_STDOUT) is enabled; with that setting, use C(no_log) on O(state=present) tasks.
  - With C(--limit), O(existing_leaves) only knows the hosts in the play; the primary control-plane host's own
    certificates are always checked.
seealso:
  - module: kubesmith.cluster.pki_files
requirements:
  - cryptography >= 42 on the controller
"""

EXAMPLES = r"""
# A role drives it in three tasks.
- name: PKI | inspect existing certificates
  kubesmith.cluster.kube_pki:
    state: inspect
  register: __pki_inspect

- name: PKI | load or create the CAs on the primary control-plane host
  kubesmith.cluster.kube_pki:
    state: ca
    existing_leaves: >-
      {{ dict(ansible_play_hosts | zip(ansible_play_hosts
         | map('extract', hostvars, ['__pki_inspect', 'leaf_issuers']))) }}
  run_once: true
  delegate_to: "{{ groups['control_plane'][0] }}"
  register: __pki_ca
  no_log: true

- name: PKI | certificates, keys and kubeconfigs
  kubesmith.cluster.kube_pki:
    state: present
    ca: "{{ __pki_ca.ca }}"
  register: __pki

# renew_certs.yml: new keys and certificates for every leaf, CAs kept.
- name: PKI | renew every leaf
  kubesmith.cluster.kube_pki:
    state: present
    ca: "{{ __pki_ca.ca }}"
    reissue: [all]

# Intermediate CA under a corporate root, from vault variables.
- name: PKI | CAs, cluster CA brought by the user
  kubesmith.cluster.kube_pki:
    state: ca
    byo_ca:
      kubernetes-ca:
        cert: "{{ vault_k8s_intermediate_crt }}"
        key: "{{ vault_k8s_intermediate_key }}"
        chain: "{{ corporate_root_crt }}"
  run_once: true
  delegate_to: "{{ groups['control_plane'][0] }}"
  register: __pki_ca
  no_log: true
"""

RETURN = r"""
changes:
  description:
    - O(state=present) - one item per planned action (in check mode what would be done). C(operation) is
      C(issue) (new key and certificate), C(write) (rewrite from current material - a CA copy, a kubeconfig whose
      server changed, a certificate chain) or C(permissions). C(reasons) among C(missing), C(forced),
      C(key-missing), C(key-mismatch), C(key-algorithm-changed), C(ca-changed), C(subject-changed), C(san-changed),
      C(usage-changed), C(expiring), C(content-changed), C(permissions).
    - Leaves carry C(subject), C(issuer), C(sans), C(not_after), C(days_left), C(serial), C(fingerprint) (C((new))
      in check mode).
  returned: state=present
  type: list
  elements: dict
  sample:
    - {id: apiserver@cp1, name: apiserver, host: cp1, operation: issue, reasons: [san-changed],
       paths: [/etc/kubernetes/pki/apiserver.crt, /etc/kubernetes/pki/apiserver.key],
       subject: CN=kube-apiserver, sans: ["DNS:kubernetes", "IP:10.96.0.1"], not_after: "2027-01-01T00:00:00+00:00",
       days_left: 364, serial: 5F1C..., fingerprint: "AB:CD:..."}
issued:
  description: O(state=present) - names of the leaves (re)issued (or that would be).
  returned: state=present
  type: list
  elements: str
written:
  description: Paths written on the host (empty in check mode).
  returned: state=present, state=ca
  type: list
  elements: str
permissions_fixed:
  description: O(state=present) - paths whose mode or owner was corrected.
  returned: state=present
  type: list
  elements: str
removed:
  description: O(state=present) - paths removed (a stale C(ca-chain.crt)).
  returned: state=present
  type: list
  elements: str
ca:
  description:
    - O(state=ca) - the CA material, secret. Keys C(kubernetes-ca), C(etcd-ca), C(front-proxy-ca) (each C(cert),
      C(key), C(chain), C(source)) and C(sa) (C(key), C(pub), C(source)). Pass it to O(ca).
  returned: state=ca
  type: dict
cas:
  description:
    - O(state=ca) - public summary per CA and C(sa) - subject, issuer, not_after, days_left, fingerprint,
      key_algorithm, intermediate, source, and C(change) (C(existing), C(generated), C(provided), C(forced)).
  returned: state=ca
  type: dict
certificates:
  description:
    - O(state=inspect) - every certificate found on the host - name, kind, path, subject, issuer, sans, not_after,
      days_left, serial, fingerprint, and C(issuer_ok) when the host has the CA certificate to check it against.
  returned: state=inspect
  type: list
  elements: dict
leaf_issuers:
  description: O(state=inspect) - CA ids that signed leaves found on the host (input of O(existing_leaves)).
  returned: state=inspect
  type: list
  elements: str
missing:
  description: O(state=inspect) - names of the certificates the host should have and does not.
  returned: state=inspect
  type: list
  elements: str
"""
