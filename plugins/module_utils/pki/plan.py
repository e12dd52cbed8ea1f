


# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Cluster PKI decisions: which certificates a cluster needs, and what to do about what is on disk.

Pure logic, no I/O and no ``cryptography``: the ``kube_pki`` action plugin reads the hosts, reduces what it
finds to :class:`CertFacts`/:class:`Observed` (with ``pki/crypto.py``), and asks :func:`plan` what to issue.

Three steps, each a pure function:

1. :func:`model.inventory_view` + :class:`model.Settings` -- the inventory conventions (groups ``etcd``,
   ``control_plane``, ``workers``; hostvars ``node_name``/``node_ip``/``ansible_host``) and the cluster/PKI
   variables, validated (``pki/model.py``).
2. :func:`specs.required_certificates` -- every file the cluster needs, as :class:`specs.CertSpec` (what, where,
   for whom, signed by which CA; ``pki/specs.py``, which also shows the file layout).
3. :func:`plan` -- given what each host has, the :class:`Action` list with a reason per action (this module).
"""

from __future__ import absolute_import, annotations, division, print_function

from dataclasses import dataclass, field
from datetime import datetime

from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.model import (
    CA_COPY,
    ISSUE,
    LEAF,
    PERMISSIONS,
    WRITE,
    Settings,
    parse_ip,
)
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.specs import (
    CertSpec,
    extended_key_usage,
    key_usage,
    validate_reissue,
)

# --------------------------------------------------------------------------------------------------------------
# Plan
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertFacts:
    """The public facts of a certificate that decisions need (made by ``pki_crypto.cert_facts``)."""

    common_name: str
    organizations: tuple
    dns_names: tuple
    ip_addresses: tuple
    not_before: datetime
    not_after: datetime
    serial: int
    fingerprint: str  # SHA-256 of the DER certificate, colon-separated hex
    issuer: str  # RFC 4514
    subject: str  # RFC 4514
    key_usage: frozenset = frozenset()
    extended_key_usage: frozenset = frozenset()
    is_ca: bool = False
    key_algorithm: str = ""  # ecdsa-p256, rsa-2048, ... (see pki_crypto.key_algorithm)
    signed_by_issuer: bool | None = None  # verified against the expected CA; None when not checked


@dataclass(frozen=True)
class Observed:
    """What a host has for one spec (made by the action plugin from the files it read)."""

    cert: CertFacts | None = None  # the leaf (from its .crt file or its kubeconfig)
    key_matches: bool | None = None  # None: no private key found
    present: bool = False  # CA_COPY/KEYPAIR: all files exist
    content_current: bool = True  # files hold exactly what would be written from the current material
    permissions_ok: bool = True


@dataclass(frozen=True)
class Action:
    spec: CertSpec
    operation: str  # ISSUE, WRITE, PERMISSIONS
    reasons: tuple

    def as_dict(self):
        return {
            "id": self.spec.id,
            "name": self.spec.name,
            "host": self.spec.host,
            "operation": self.operation,
            "reasons": list(self.reasons),
            "paths": list(self.spec.paths),
        }


def _norm_names(values):
    return tuple(sorted({str(v).lower() for v in values}))


def _norm_ips(values):
    return tuple(sorted({parse_ip(v) or str(v) for v in values}))


def leaf_reasons(
    spec: CertSpec, observed: Observed, now: datetime, settings: Settings, ca_not_after=None, forced: bool = False
) -> tuple[str, ...]:
    """Why the leaf ``spec`` must be (re)issued given ``observed``; empty when it is fine."""
    cert = observed.cert
    if cert is None:
        return ("missing",)
    reasons = []
    if forced:
        reasons.append("forced")
    if observed.key_matches is None:
        reasons.append("key-missing")
    elif not observed.key_matches:
        reasons.append("key-mismatch")
    if cert.key_algorithm != settings.key_algorithm:
        reasons.append("key-algorithm-changed")
    if cert.signed_by_issuer is False:
        reasons.append("ca-changed")
    if cert.common_name != spec.common_name or sorted(cert.organizations) != sorted(spec.organizations):
        reasons.append("subject-changed")
    if _norm_names(cert.dns_names) != _norm_names(spec.dns_names) or _norm_ips(cert.ip_addresses) != _norm_ips(
        spec.ip_addresses
    ):
        reasons.append("san-changed")
    if (
        cert.is_ca
        or cert.key_usage != key_usage(spec.profile, settings.key_algorithm)
        or (cert.extended_key_usage != extended_key_usage(spec.profile))
    ):
        reasons.append("usage-changed")
    if cert.not_after - now <= settings.renew_before:
        # A leaf never outlives its CA: when the CA itself ends inside the window a new leaf would not last
        # longer, so reissuing would repeat on every run. The CA's expiry is reported separately.
        new_not_after = now + settings.leaf_validity
        if ca_not_after is not None:
            new_not_after = min(new_not_after, ca_not_after)
        if new_not_after > cert.not_after:
            reasons.append("expiring")
    return tuple(reasons)


def plan(
    specs: list[CertSpec],
    observed: dict[str, Observed],
    now: datetime,
    settings: Settings,
    ca_not_after=None,
    reissue=(),
) -> list[Action]:
    """What to do on the hosts.

    ``observed`` maps spec id to :class:`Observed` (missing key: nothing found). ``ca_not_after`` maps CA id to
    its expiry. ``reissue`` names leaves to reissue regardless (``all`` for every leaf). Returns the
    :class:`Action` list in spec order; an empty list means nothing to change.
    """
    ca_not_after = ca_not_after or {}
    reissue = set(validate_reissue(reissue))
    actions = []
    for spec in specs:
        obs = observed.get(spec.id) or Observed()
        if spec.kind == LEAF:
            forced = "all" in reissue or spec.name in reissue
            reasons = leaf_reasons(spec, obs, now, settings, ca_not_after.get(spec.issuer), forced)
            if reasons:
                actions.append(Action(spec, ISSUE, reasons))
                continue
        elif not obs.present:
            actions.append(Action(spec, WRITE, ("missing",)))
            continue
        if not obs.content_current:
            actions.append(Action(spec, WRITE, ("ca-changed",) if spec.kind == CA_COPY else ("content-changed",)))
        elif not obs.permissions_ok:
            actions.append(Action(spec, PERMISSIONS, ("permissions",)))
    return actions


def days_left(not_after: datetime, now: datetime) -> int:
    return (not_after - now).days


@dataclass
class Summary:
    """Counts for a result message."""

    issue: int = 0
    write: int = 0
    permissions: int = 0
    names: list = field(default_factory=list)

    @classmethod
    def of(cls, actions):
        summary = cls()
        for action in actions:
            setattr(summary, action.operation, getattr(summary, action.operation) + 1)
            summary.names.append(action.spec.name)
        return summary

    def message(self):
        if not (self.issue or self.write or self.permissions):
            return "PKI up to date"
        return "issue %d, write %d, fix permissions of %d: %s" % (
            self.issue,
            self.write,
            self.permissions,
            ", ".join(self.names),
        )
