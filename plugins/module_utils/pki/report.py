# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""What the ``kube_pki`` result and diff show about certificates (controller side, no I/O).

:func:`describe_plan`, :func:`diff`, :func:`inventory_certificates`: subjects, SANs, expiry, serials and
fingerprints, never key material.
"""

from __future__ import absolute_import, annotations, division, print_function

import contextlib
from datetime import datetime

from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import kubeconfig as pki_kubeconfig
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.crypto import (
    cert_facts,
    load_certificate,
    load_public_key,
    public_key_fingerprint,
)
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.engine import GROUP, OWNER, Material, Outcome, _text
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.model import (
    CA_COPY,
    ISSUE,
    KEYPAIR,
    LEAF,
    PERMISSIONS,
    PkiError,
    Settings,
)
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.plan import Action, days_left
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.specs import CertSpec


def _sans(dns, ips):
    return ["DNS:%s" % d for d in dns] + ["IP:%s" % i for i in ips]


def _subject(spec):
    parts = ["CN=%s" % spec.common_name] + ["O=%s" % o for o in spec.organizations]
    return ",".join(parts)


def describe_cert(cert, now: datetime) -> dict:
    """Public description of a certificate (x509 object)."""
    facts = cert_facts(cert)
    return {
        "subject": facts.subject,
        "issuer": facts.issuer,
        "sans": _sans(facts.dns_names, facts.ip_addresses),
        "not_before": facts.not_before.isoformat(),
        "not_after": facts.not_after.isoformat(),
        "days_left": days_left(facts.not_after, now),
        "serial": "%X" % facts.serial,
        "fingerprint": facts.fingerprint,
        "key_algorithm": facts.key_algorithm,
    }


def describe_plan(actions: list[Action], outcome: Outcome, material: Material, settings: Settings, now) -> list[dict]:
    """One dict per action for the result (``changes``); planned values in check mode, real ones otherwise."""
    out = []
    for action in actions:
        spec = action.spec
        item = action.as_dict()
        if spec.kind == LEAF:
            cert = outcome.issued.get(spec.id) if outcome else None
            if cert is not None:
                item.update(describe_cert(cert, now))
            elif action.operation == ISSUE:
                ca = material.cas[spec.issuer]
                not_after = min(now + settings.leaf_validity, ca.not_after)
                item.update(
                    subject=_subject(spec),
                    issuer=ca.cert.subject.rfc4514_string(),
                    sans=_sans(spec.dns_names, spec.ip_addresses),
                    not_after=not_after.isoformat(),
                    days_left=days_left(not_after, now),
                    serial="(new)",
                    fingerprint="(new)",
                    key_algorithm=settings.key_algorithm,
                )
        elif spec.kind == CA_COPY:
            item.update(material.cas[spec.issuer].summary(now))
        elif spec.kind == KEYPAIR:
            item.update(material.sa.summary())
        out.append(item)
    return out


def _lines_for_cert(label, cert, now):
    d = describe_cert(cert, now)
    return [
        "%s:" % label,
        "  subject: %s" % d["subject"],
        "  issuer: %s" % d["issuer"],
        "  sans: %s" % (", ".join(d["sans"]) or "(none)"),
        "  not_after: %s (%d days)" % (d["not_after"], d["days_left"]),
        "  serial: %s" % d["serial"],
        "  fingerprint: %s" % d["fingerprint"],
    ]


def _before_lines(spec, files, existing, now):
    label = "%s %s" % (spec.id, spec.kubeconfig_path or spec.cert_path or spec.key_path)
    old = existing.get(spec.id)
    if spec.kind == LEAF and old is not None and old.cert is not None:
        return _lines_for_cert(label, old.cert, now)
    lines = []
    for path in spec.paths:
        info = files.get(path) or {}
        if not info.get("exists"):
            continue
        text = info.get("content")
        if path in (spec.cert_path, spec.chain_path) and text:
            try:
                lines += _lines_for_cert("%s %s" % (spec.id, path), load_certificate(text), now)
                continue
            except PkiError:
                pass
        if path == spec.public_key_path and text:
            try:
                key = load_public_key(text)
                lines.append("%s %s: public key %s" % (spec.id, path, public_key_fingerprint(key)))
                continue
            except PkiError:
                pass
        lines.append(
            "%s %s: present, mode %s, owner %s:%s"
            % (spec.id, path, info.get("mode"), info.get("owner"), info.get("group"))
        )
    return lines


def _after_lines(action, item):
    spec = action.spec
    label = "%s %s" % (spec.id, spec.kubeconfig_path or spec.cert_path or spec.key_path)
    if action.operation == PERMISSIONS:
        modes = sorted(spec.file_modes().items())
        return ["%s %s: mode %s, owner %s:%s" % (spec.id, p, m, OWNER, GROUP) for p, m in modes]
    if spec.kind == LEAF and "subject" in item:
        return [
            "%s:" % label,
            "  subject: %s" % item["subject"],
            "  issuer: %s" % item["issuer"],
            "  sans: %s" % (", ".join(item["sans"]) or "(none)"),
            "  not_after: %s (%d days)" % (item["not_after"], item["days_left"]),
            "  serial: %s" % item["serial"],
            "  fingerprint: %s" % item["fingerprint"],
        ]
    if spec.kind == LEAF:
        return ["%s: rewritten (%s), same certificate" % (label, ", ".join(action.reasons))]
    if spec.kind == CA_COPY:
        return [
            "%s:" % label,
            "  subject: %s" % item["subject"],
            "  not_after: %s (%d days)" % (item["not_after"], item["days_left"]),
            "  fingerprint: %s" % item["fingerprint"],
            "  key: %s" % (spec.key_path or "not on this host"),
        ]
    return ["%s: public key %s" % (label, item["public_key_fingerprint"])]


def diff(actions: list[Action], items, files: dict, existing, host: str, now) -> dict:
    """Ansible diff (before/after text) of the planned actions: public facts only."""
    before, after = [], []
    for action, item in zip(actions, items):
        before += _before_lines(action.spec, files, existing, now)
        after += _after_lines(action, item)
        after.append("  reasons: %s" % ", ".join(action.reasons))
    return {
        "before_header": "%s: PKI before" % host,
        "after_header": "%s: PKI after" % host,
        "before": "\n".join(before) + ("\n" if before else ""),
        "after": "\n".join(after) + ("\n" if after else ""),
    }


def inventory_certificates(specs: list[CertSpec], files: dict, now) -> tuple[list[dict], list[str], list[str]]:
    """``state=inspect``: every certificate found on the host (public facts) and the CAs its leaves belong to.

    Returns ``(certificates, leaf_issuers, missing)``. Leaves are checked against the CA copy on the same host
    when there is one (``issuer_ok``).
    """
    ca_certs = {}
    for spec in specs:
        if spec.kind == CA_COPY:
            text = _text(files, spec.cert_path)
            if text:
                with contextlib.suppress(PkiError):
                    ca_certs[spec.issuer] = load_certificate(text)
    certificates, issuers, missing = [], set(), []
    for spec in specs:
        if spec.kind == KEYPAIR:
            continue
        path = spec.kubeconfig_path or spec.cert_path
        text = _text(files, path)
        if text is None:
            missing.append(spec.name)
            continue
        if spec.kind == LEAF:
            issuers.add(spec.issuer)
        cert = None
        try:
            if spec.kubeconfig_path:
                kc = pki_kubeconfig.parse(text)
                cert = load_certificate(kc.cert_pem) if kc else None
            else:
                cert = load_certificate(text)
        except PkiError:
            cert = None
        item = {"name": spec.name, "kind": spec.kind, "path": path, "readable": cert is not None}
        if cert is not None:
            item.update(describe_cert(cert, now))
            if spec.kind == LEAF and spec.issuer in ca_certs:
                item["issuer_ok"] = bool(cert_facts(cert, ca_certs[spec.issuer]).signed_by_issuer)
        certificates.append(item)
    return certificates, sorted(issuers), missing
