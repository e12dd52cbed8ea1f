# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Argument specs shared by the modules that talk to etcd (documented once in doc_fragments/etcd_tls.py)."""

from __future__ import absolute_import, division, print_function

ETCD_TLS_SPEC = dict(
    ca_cert=dict(type="path"),
    client_cert=dict(type="path"),
    client_key=dict(type="path", no_log=False),  # a path, not the key
)
