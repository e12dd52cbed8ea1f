# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Kubeconfig files with embedded certificate data: render (deterministic text) and read back.

Rendering is byte-for-byte deterministic for the same inputs, so "is this kubeconfig current?" is a string
comparison. Scalars are written as JSON strings (valid YAML), so names like ``system:node:w1`` need no care.
"""

from __future__ import absolute_import, annotations, division, print_function

import base64
import binascii
import json
from dataclasses import dataclass

import yaml  # PyYAML ships with ansible-core; this module runs on the controller only


@dataclass(frozen=True)
class Kubeconfig:
    """The parts of a single-user kubeconfig that the PKI manages (PEM text, decoded)."""

    server: str
    ca_pem: str
    cert_pem: str
    key_pem: str
    user: str
    cluster_name: str


def _b64(text):
    return base64.b64encode(text.encode("ascii")).decode("ascii")


def _unb64(text):
    return base64.b64decode(str(text), validate=True).decode("ascii")


def render(cluster_name: str, server: str, ca_pem: str, user: str, cert_pem: str, key_pem: str) -> str:
    """Kubeconfig text for one user of one cluster; the context is ``<user>@<cluster_name>``."""
    context = "%s@%s" % (user, cluster_name)
    q = json.dumps
    lines = [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: %s" % q(cluster_name),
        "  cluster:",
        "    certificate-authority-data: %s" % _b64(ca_pem),
        "    server: %s" % q(server),
        "contexts:",
        "- name: %s" % q(context),
        "  context:",
        "    cluster: %s" % q(cluster_name),
        "    user: %s" % q(user),
        "current-context: %s" % q(context),
        "preferences: {}",
        "users:",
        "- name: %s" % q(user),
        "  user:",
        "    client-certificate-data: %s" % _b64(cert_pem),
        "    client-key-data: %s" % _b64(key_pem),
        "",
    ]
    return "\n".join(lines)


def parse(text: str) -> Kubeconfig | None:
    """Read back what :func:`render` wrote (or any kubeconfig whose current context has embedded data).

    Returns a :class:`Kubeconfig`, or None when the text is not such a kubeconfig (it will be rewritten).
    """
    try:
        # a safe loader (libyaml's when available: ~20x faster than the pure-Python one)
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
        ctx_name = doc.get("current-context")
        ctx = next(c["context"] for c in doc["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in doc["users"] if u["name"] == ctx["user"])
        return Kubeconfig(
            server=str(cluster["server"]),
            ca_pem=_unb64(cluster["certificate-authority-data"]),
            cert_pem=_unb64(user["client-certificate-data"]),
            key_pem=_unb64(user["client-key-data"]),
            user=str(ctx["user"]),
            cluster_name=str(ctx["cluster"]),
        )
    except (yaml.YAMLError, AttributeError, KeyError, TypeError, StopIteration, ValueError, binascii.Error):
        return None
