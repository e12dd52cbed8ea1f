


# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Glue between the files on a host and the PKI plan (controller side, no I/O).

The ``kube_pki`` action plugin does the remote calls; everything between them is here so that it can be tested
and benchmarked without Ansible:

- :class:`Material`: the CAs and the service-account key, as ``state=ca`` returns them;
- :func:`resolve_material`: ``state=ca`` -- load the CAs found on the primary control-plane host, take the
  bring-your-own ones, or create missing ones, refusing whenever that would orphan existing certificates;
- :func:`observe`: the files read from a host -> :class:`pki.Observed` per spec;
- :func:`materialize`: the planned actions -> new keys/certificates and the file entries to write;
- what the result and the diff show (subjects, SANs, expiry, never key material) is in ``pki/report.py``.

``files`` (what the ``pki_files`` module reads) maps a path to ``{"exists": bool, "mode": "0644", "owner": ...,
"group": ..., "content": text}``.
"""

from __future__ import absolute_import, annotations, division, print_function

from dataclasses import dataclass, field

from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import kubeconfig as pki_kubeconfig
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.crypto import (
    CertificateAuthority,
    ServiceAccountKey,
    cert_facts,
    cert_pem,
    create_ca,
    issue_leaf,
    keys_match,
    load_certificate,
    load_certificates,
    load_private_key,
    private_key_pem,
    utcnow,
)
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.model import (
    CA_COPY,
    CA_IDS,
    ISSUE,
    KEYPAIR,
    KUBERNETES_CA,
    LEAF,
    PERMISSIONS,
    SERVICE_ACCOUNT,
    WRITE,
    PkiError,
    Settings,
)
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.plan import Action, Observed, days_left
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.specs import CertSpec

OWNER = "root"
GROUP = "root"


# --------------------------------------------------------------------------------------------------------------
# CA material
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Material:
    """The three CAs (:class:`pki_crypto.CertificateAuthority`) and the service-account key."""

    cas: dict
    sa: ServiceAccountKey

    @classmethod
    def from_dict(cls, data, now=None):
        """Load what ``state=ca`` returned as ``ca`` (validated: a wrong value fails here, not on the hosts)."""
        if not isinstance(data, dict) or not data:
            raise PkiError(
                "option 'ca' is required with state=present: register the result of a state=ca task run against "
                "the primary control-plane host and pass its 'ca' value"
            )
        cas = {}
        for ca_id in CA_IDS:
            entry = data.get(ca_id)
            if not isinstance(entry, dict) or not entry.get("cert") or not entry.get("key"):
                raise PkiError("option 'ca' has no certificate and key for %s; pass the 'ca' value of state=ca" % ca_id)
            # validated by state=ca (which loaded it from disk or pki_byo_ca); the certificate/key match and the
            # chain are still checked here
            cas[ca_id] = CertificateAuthority.from_pem(
                ca_id,
                entry["cert"],
                entry["key"],
                entry.get("chain") or "",
                entry.get("source") or "existing",
                now,
                validate_key=False,
            )
        sa = data.get(SERVICE_ACCOUNT)
        if not isinstance(sa, dict) or not sa.get("key"):
            raise PkiError("option 'ca' has no service-account key (sa); pass the 'ca' value of state=ca")
        return cls(cas, ServiceAccountKey.from_pem(sa["key"], sa.get("source") or "existing", validate=False))

    def to_dict(self):
        out = {}
        for ca_id, ca in self.cas.items():
            out[ca_id] = dict(ca.to_dict(), source=ca.source)
        out[SERVICE_ACCOUNT] = dict(self.sa.to_dict(), source=self.sa.source)
        return out

    def summary(self, now=None):
        out = {ca_id: ca.summary(now) for ca_id, ca in self.cas.items()}
        out[SERVICE_ACCOUNT] = self.sa.summary()
        return out

    def not_after(self):
        return {ca_id: ca.not_after for ca_id, ca in self.cas.items()}


def _text(files, path):
    info = files.get(path) or {}
    if not info.get("exists"):
        return None
    return info.get("content")


def _exists(files, path):
    return bool((files.get(path) or {}).get("exists"))


def _byo_text(entry, name):
    value = entry.get(name)
    return value.strip() + "\n" if isinstance(value, str) and value.strip() else ""


def _ca_files(ca, spec):
    entries = [
        {"path": spec.cert_path, "content": ca.cert_pem, "mode": "0644"},
        {"path": spec.key_path, "content": ca.key_pem, "mode": "0600"},
    ]
    if ca.chain:
        entries.append({"path": spec.chain_path, "content": ca.chain_pem, "mode": "0644"})
    else:
        entries.append({"path": spec.chain_path, "state": "absent"})
    return entries


def _same_certs(text, certs):
    try:
        return text is not None and load_certificates(text) == list(certs)
    except PkiError:
        return False


def _same_key(text, key):
    if text is None:
        return False
    try:
        return private_key_pem(load_private_key(text, validate=False)) == private_key_pem(key)
    except PkiError:
        return False


def force_set(value) -> set[str]:
    """``force_ca``: true (every CA and the service-account key), false, or a list of CA ids / ``sa``."""
    names = CA_IDS + (SERVICE_ACCOUNT,)
    if value is True:
        return set(names)
    if not value:
        return set()
    if isinstance(value, str):
        value = [value]
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise PkiError(
            "pki_force_ca: unknown CA id(s) %s; use true or a list of %s" % (", ".join(unknown), ", ".join(names))
        )
    return set(value)


# The likeliest cause of a CA missing on the primary host of a running cluster: a new host listed first.
_NEW_PRIMARY = (
    "If %s is a new host, list a control-plane host that already runs first in group control_plane: the first "
    "host keeps the CAs (no PKI file was written)."
)


def resolve_material(
    specs: list[CertSpec], files: dict, settings: Settings, byo=None, force_ca=False, leaves_elsewhere=None, now=None
) -> tuple[Material, dict[str, str], list[dict], list[str]]:
    """``state=ca`` on the primary control-plane host: decide the CA material of the cluster.

    ``specs`` are the primary host's specs (its CA copies hold the CA paths), ``files`` what was read there (CA
    files, service-account key, and the primary's own leaf files), ``byo`` the bring-your-own material keyed by
    CA id (and ``sa``), ``force_ca`` is :func:`force_set` input, ``leaves_elsewhere`` maps CA id to the hosts known
    to hold certificates it signed.

    Returns ``(material, changes, entries, warnings)``: ``changes`` maps CA id (and ``sa``) to what happens
    (``existing``, ``generated``, ``provided``, ``forced``), ``entries`` the files to write on the primary.
    """
    now = now or utcnow()
    byo = byo or {}
    force = force_set(force_ca)
    unknown = sorted(set(byo) - set(CA_IDS) - {SERVICE_ACCOUNT})
    if unknown:
        raise PkiError(
            "pki_byo_ca has unknown key(s) %s; use %s" % (", ".join(unknown), ", ".join(CA_IDS + (SERVICE_ACCOUNT,)))
        )
    leaves = {ca_id: set(hosts) for ca_id, hosts in (leaves_elsewhere or {}).items()}
    ca_specs = {s.issuer: s for s in specs if s.kind == CA_COPY and s.key_path}
    sa_spec = next((s for s in specs if s.kind == KEYPAIR), None)
    if set(ca_specs) != set(CA_IDS) or sa_spec is None:
        raise PkiError("state=ca must run against the primary control-plane host")
    primary = sa_spec.host
    for spec in specs:
        if spec.kind == LEAF and any(_exists(files, p) for p in (spec.cert_path, spec.kubeconfig_path) if p):
            leaves.setdefault(spec.issuer, set()).add(primary)

    cas, changes, entries, warnings = {}, {}, [], []
    for ca_id in CA_IDS:
        spec = ca_specs[ca_id]
        ca, changes[ca_id] = _resolve_ca(
            ca_id, spec, files, settings, byo.get(ca_id), ca_id in force, leaves, primary, now
        )
        if changes[ca_id] != "existing":
            entries.extend(_ca_files(ca, spec))
        if ca.not_after < now + settings.leaf_validity:
            warnings.append(
                "the %s CA expires on %s (%d days): certificates it signs now end then too; plan a CA rotation"
                % (ca_id, ca.not_after.date().isoformat(), days_left(ca.not_after, now))
            )
        cas[ca_id] = ca

    sa, change = _resolve_sa(
        sa_spec, files, settings, byo.get(SERVICE_ACCOUNT), SERVICE_ACCOUNT in force, leaves, primary
    )
    changes[SERVICE_ACCOUNT] = change
    if change != "existing":
        entries.append({"path": sa_spec.key_path, "content": sa.key_pem, "mode": "0600"})
        entries.append({"path": sa_spec.public_key_path, "content": sa.public_pem, "mode": "0644"})
    return Material(cas, sa), changes, entries, warnings


def _resolve_ca(ca_id, spec, files, settings, entry, force, leaves, primary, now):
    """The CA ``ca_id`` and what happens to it (``existing``, ``generated``, ``provided``, ``forced``): ``entry`` is
    its pki_byo_ca material, ``force`` whether pki_force_ca names it, ``leaves`` maps CA id to the hosts holding
    certificates it signed. Raises when the files on ``primary`` leave no safe choice."""
    cert_text, key_text = _text(files, spec.cert_path), _text(files, spec.key_path)
    chain_text = _text(files, spec.chain_path) or ""
    if entry:
        return _provided_ca(ca_id, spec, entry, (cert_text, key_text, chain_text), force, primary, now)
    if force:
        return create_ca(ca_id, settings.key_algorithm, settings.ca_validity_days, now), "forced"
    if cert_text is not None and key_text is not None:
        try:
            return CertificateAuthority.from_pem(ca_id, cert_text, key_text, chain_text, "existing", now), "existing"
        except PkiError as exc:
            raise PkiError(
                "the %s CA on %s cannot be used: %s. Fix or restore %s and %s, pass the CA as pki_byo_ca, or set "
                "pki_force_ca: true to replace it" % (ca_id, primary, exc, spec.cert_path, spec.key_path)
            ) from None
    if cert_text is not None or key_text is not None:
        have, lack = (spec.cert_path, spec.key_path) if cert_text is not None else (spec.key_path, spec.cert_path)
        raise PkiError(
            "%s: %s exists but %s does not; copy it from another control-plane host or a backup (or set "
            "pki_force_ca: true to replace the %s CA and reissue everything it signed)" % (primary, have, lack, ca_id)
        )
    hosts = sorted(leaves.get(ca_id, ()))
    if hosts:
        raise PkiError(
            "the %s CA is missing on the primary control-plane host %s (%s), but certificates it signed exist "
            "on %s. %s Restore %s and %s on %s (from another control-plane host or a backup), or pass the CA "
            "as pki_byo_ca, or set pki_force_ca: true to create a new CA and reissue every certificate"
            % (
                ca_id,
                primary,
                spec.cert_path,
                ", ".join(hosts),
                _NEW_PRIMARY % primary,
                spec.cert_path,
                spec.key_path,
                primary,
            )
        )
    return create_ca(ca_id, settings.key_algorithm, settings.ca_validity_days, now), "generated"


def _provided_ca(ca_id, spec, entry, texts, force, primary, now):
    """A pki_byo_ca CA against the files on ``primary`` (``texts``: certificate, key, chain or None): ``existing``
    when they hold it already, ``provided`` to write it, ``forced`` to replace another CA (only with ``force``)."""
    cert_text, key_text, chain_text = texts
    if not isinstance(entry, dict) or not _byo_text(entry, "cert") or not _byo_text(entry, "key"):
        raise PkiError("pki_byo_ca.%s needs 'cert' and 'key' (PEM text; 'chain' for an intermediate)" % ca_id)
    ca = CertificateAuthority.from_pem(
        ca_id, _byo_text(entry, "cert"), _byo_text(entry, "key"), _byo_text(entry, "chain"), "provided", now
    )
    if cert_text is not None and not _same_certs(cert_text, [ca.cert]):
        if not force:
            raise PkiError(
                "pki_byo_ca.%s is not the CA on %s (%s); set pki_force_ca: [%s] to replace it -- every "
                "certificate the old CA signed is then reissued" % (ca_id, primary, spec.cert_path, ca_id)
            )
        return ca, "forced"
    if cert_text is None or not _same_key(key_text, ca.key) or not _same_certs(chain_text, ca.chain):
        return ca, "provided"
    return ca, "existing"


def _resolve_sa(spec, files, settings, entry, force, leaves, primary):
    key_text = _text(files, spec.key_path)
    if entry:
        if not isinstance(entry, dict) or not _byo_text(entry, "key"):
            raise PkiError("pki_byo_ca.sa needs 'key' (PEM text of the service-account signing key)")
        sa = ServiceAccountKey.from_pem(_byo_text(entry, "key"), "provided")
        if key_text is not None and not _same_key(key_text, sa.key):
            if not force:
                raise PkiError(
                    "pki_byo_ca.sa is not the service-account key on %s (%s); set pki_force_ca: [sa] to replace it "
                    "(existing service-account tokens become invalid)" % (primary, spec.key_path)
                )
            return sa, "forced"
        return sa, "existing" if key_text is not None else "provided"
    if force:
        return ServiceAccountKey.generate(settings.key_algorithm), "forced"
    if key_text is not None:
        try:
            return ServiceAccountKey.from_pem(key_text, "existing"), "existing"
        except PkiError as exc:
            raise PkiError("%s on %s cannot be used: %s" % (spec.key_path, primary, exc)) from None
    hosts = sorted(leaves.get(KUBERNETES_CA, ()))
    if hosts:
        raise PkiError(
            "the service-account key %s is missing on the primary control-plane host %s, but the cluster exists "
            "(certificates on %s). %s Copy sa.key and sa.pub from another control-plane host, or set pki_force_ca: "
            "true to create a new key (existing service-account tokens become invalid)"
            % (spec.key_path, primary, ", ".join(hosts), _NEW_PRIMARY % primary)
        )
    return ServiceAccountKey.generate(settings.key_algorithm), "generated"


# --------------------------------------------------------------------------------------------------------------
# Observe
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Existing:
    """Valid material found on a host for a leaf, kept so that WRITE can re-render files without reissuing."""

    cert: object = None
    key_pem: str | None = None


def _permissions_ok(files, modes):
    for path, mode in modes.items():
        info = files.get(path) or {}
        if not info.get("exists"):
            continue
        if info.get("mode") != mode or info.get("owner") != OWNER or info.get("group") != GROUP:
            return False
    return True


def read_paths(specs: list[CertSpec]) -> list[str]:
    """Every path ``observe`` needs from a host."""
    paths = []
    for spec in specs:
        paths.extend(p for p in spec.paths if p not in paths)
    return paths


def public_paths(specs: list[CertSpec]) -> list[str]:
    """Certificate and kubeconfig paths only (``inspect``): no private key file is read."""
    paths = []
    for spec in specs:
        for path in (spec.cert_path, spec.kubeconfig_path):
            if path and path not in paths:
                paths.append(path)
    return paths


def _load_key(text):
    """A leaf key, only compared with its certificate's public key (a key that does not match is replaced)."""
    try:
        return load_private_key(text, validate=False)
    except PkiError:
        return None


def _leaf_cert_and_key(spec, files, settings):
    """(certificate, key text, file text current?) of a leaf on the host, from .crt/.key or the kubeconfig."""
    if spec.kubeconfig_path:
        text = _text(files, spec.kubeconfig_path)
        kc = pki_kubeconfig.parse(text) if text is not None else None
        if kc is None:
            return None, None, text
        try:
            cert = load_certificate(kc.cert_pem)
        except PkiError:
            return None, None, text
        return cert, kc.key_pem, text
    text = _text(files, spec.cert_path)
    if text is None:
        return None, None, None
    try:
        cert = load_certificate(text)
    except PkiError:
        return None, None, text
    return cert, _text(files, spec.key_path), text


def _leaf_text(spec, cert_pem_text, key_pem, material, settings):
    """The text a leaf's file must hold: certificate + intermediates, or the rendered kubeconfig."""
    ca = material.cas[spec.issuer]
    if spec.kubeconfig_path:
        return pki_kubeconfig.render(
            settings.cluster_name, spec.kubeconfig_server, ca.cert_pem, spec.kubeconfig_user, cert_pem_text, key_pem
        )
    return cert_pem_text


def observe(
    specs: list[CertSpec], files: dict, material: Material, settings: Settings
) -> tuple[dict[str, Observed], dict[str, Existing]]:
    """Reduce what a host has to ``({spec id: Observed}, {spec id: Existing})``."""
    observed, existing = {}, {}
    for spec in specs:
        perms = _permissions_ok(files, spec.file_modes())
        if spec.kind == LEAF:
            ca = material.cas[spec.issuer]
            cert, key_text, text = _leaf_cert_and_key(spec, files, settings)
            if cert is None:
                observed[spec.id] = Observed()
                continue
            key = _load_key(key_text) if key_text is not None else None
            key_matches = None if key_text is None else bool(key is not None and keys_match(key, cert))
            full_pem = cert_pem(cert) + ca.intermediates_pem
            current = text == _leaf_text(spec, full_pem, key_text, material, settings) if key_text else False
            observed[spec.id] = Observed(
                cert=cert_facts(cert, ca.cert),
                key_matches=key_matches,
                present=True,
                content_current=current,
                permissions_ok=perms,
            )
            existing[spec.id] = Existing(cert=cert, key_pem=key_text)
        elif spec.kind == CA_COPY:
            ca = material.cas[spec.issuer]
            cert_text = _text(files, spec.cert_path)
            key_text = _text(files, spec.key_path) if spec.key_path else None
            present = cert_text is not None and (not spec.key_path or key_text is not None)
            current = _same_certs(cert_text, [ca.cert]) and (not spec.key_path or _same_key(key_text, ca.key))
            if ca.chain:
                current = current and _same_certs(_text(files, spec.chain_path), ca.chain)
            elif _exists(files, spec.chain_path):
                current = False
            observed[spec.id] = Observed(present=present, content_current=current, permissions_ok=perms)
        elif spec.kind == KEYPAIR:
            key_text, pub_text = _text(files, spec.key_path), _text(files, spec.public_key_path)
            present = key_text is not None and pub_text is not None
            current = _same_key(key_text, material.sa.key) and (pub_text or "") == material.sa.public_pem
            observed[spec.id] = Observed(present=present, content_current=current, permissions_ok=perms)
    return observed, existing


# --------------------------------------------------------------------------------------------------------------
# Materialize
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """Files to write and, per issued leaf, its new certificate."""

    entries: list = field(default_factory=list)
    issued: dict = field(default_factory=dict)  # spec id -> x509 certificate


def _leaf_entries(spec, full_cert_pem, key_pem, material, settings):
    if spec.kubeconfig_path:
        text = _leaf_text(spec, full_cert_pem, key_pem, material, settings)
        return [{"path": spec.kubeconfig_path, "content": text, "mode": "0600"}]
    return [
        {"path": spec.cert_path, "content": full_cert_pem, "mode": "0644"},
        {"path": spec.key_path, "content": key_pem, "mode": "0600"},
    ]


def materialize(
    actions: list[Action], existing, material: Material, settings: Settings, files: dict, now=None
) -> Outcome:
    """Issue what the plan says and return the :class:`Outcome` (files for one ``pki_files`` write call)."""
    now = now or utcnow()
    outcome = Outcome()
    for action in actions:
        spec = action.spec
        if action.operation == PERMISSIONS:
            outcome.entries.extend({"path": p, "mode": m} for p, m in spec.file_modes().items() if _exists(files, p))
        elif spec.kind == LEAF and action.operation == ISSUE:
            ca = material.cas[spec.issuer]
            issued = issue_leaf(spec, ca, settings.key_algorithm, settings.leaf_validity_days, now)
            outcome.issued[spec.id] = issued.cert
            outcome.entries.extend(_leaf_entries(spec, issued.cert_pem, issued.key_pem, material, settings))
        elif spec.kind == LEAF and action.operation == WRITE:
            old = existing[spec.id]
            full = cert_pem(old.cert) + material.cas[spec.issuer].intermediates_pem
            outcome.entries.extend(_leaf_entries(spec, full, old.key_pem, material, settings))
        elif spec.kind == CA_COPY:
            ca = material.cas[spec.issuer]
            outcome.entries.append({"path": spec.cert_path, "content": ca.cert_pem, "mode": "0644"})
            if spec.key_path:
                outcome.entries.append({"path": spec.key_path, "content": ca.key_pem, "mode": "0600"})
            if ca.chain:
                outcome.entries.append({"path": spec.chain_path, "content": ca.chain_pem, "mode": "0644"})
            else:
                outcome.entries.append({"path": spec.chain_path, "state": "absent"})
        elif spec.kind == KEYPAIR:
            outcome.entries.append({"path": spec.key_path, "content": material.sa.key_pem, "mode": "0600"})
            outcome.entries.append({"path": spec.public_key_path, "content": material.sa.public_pem, "mode": "0644"})
    return outcome
