# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The TLS options of every module that talks to etcd's client API (spec: module_utils/etcd/args.py)."""

from __future__ import absolute_import, division, print_function


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  ca_cert:
    description:
      - CA bundle that signed the etcd server certificates (etcd C(--trusted-ca-file)). Without it the system trust
        store is used.
    type: path
  client_cert:
    description:
      - Client certificate (PEM) signed by the CA etcd trusts; required by etcd's C(--client-cert-auth).
    type: path
  client_key:
    description:
      - Private key of O(client_cert) (PEM, unencrypted). Only the path is passed; the key is never logged.
    type: path
"""
