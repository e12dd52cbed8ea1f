# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Keys, CAs and certificates with ``cryptography`` (controller side only).

Everything that touches key material lives here; :mod:`pki` decides, this module builds and reads:

- :func:`generate_private_key`, :func:`create_ca`, :func:`issue_leaf`, :func:`generate_service_account_key`;
- :class:`CertificateAuthority`: a CA certificate + key (+ the issuers above an intermediate), loaded from PEM
  and validated (bring-your-own CAs come through here too);
- :func:`cert_facts`: reduce a certificate to :class:`pki.CertFacts` for the plan and for diffs.

Private keys are serialised as unencrypted PKCS#8 PEM (``-----BEGIN PRIVATE KEY-----``), which every
Kubernetes component and etcd reads.
"""

from __future__ import absolute_import, annotations, division, print_function

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.model import CA_COMMON_NAMES, PkiError
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.plan import CertFacts
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.specs import extended_key_usage, key_usage

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError as _exc:  # pragma: no cover - reported by the action plugin
    CRYPTOGRAPHY_IMPORT_ERROR = _exc
else:
    CRYPTOGRAPHY_IMPORT_ERROR = None

# Leaves are valid from a little before "now" so that hosts whose clocks lag do not reject them.
BACKDATE = timedelta(minutes=5)

_KU_ATTRS = (
    ("digitalSignature", "digital_signature"),
    ("contentCommitment", "content_commitment"),
    ("keyEncipherment", "key_encipherment"),
    ("dataEncipherment", "data_encipherment"),
    ("keyAgreement", "key_agreement"),
    ("keyCertSign", "key_cert_sign"),
    ("cRLSign", "crl_sign"),
)
_EKU_NAMES = {}
if CRYPTOGRAPHY_IMPORT_ERROR is None:
    _EKU_NAMES = {ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth", ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth"}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------------------------


def generate_private_key(algorithm: str):
    """A new private key: ``ecdsa-p256`` (default), ``rsa-2048`` or ``rsa-4096``."""
    if algorithm == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm in ("rsa-2048", "rsa-4096"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(algorithm[4:]))
    raise PkiError("unsupported key algorithm %r" % (algorithm,))


def key_algorithm(public_key) -> str:
    """Name a public key like the settings do (``ecdsa-p256``, ``rsa-2048``...); other kinds get a descriptive name."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return "rsa-%d" % public_key.key_size
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "ecdsa-p256", "secp384r1": "ecdsa-p384", "secp521r1": "ecdsa-p521"}.get(
            public_key.curve.name, "ecdsa-" + public_key.curve.name
        )
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(public_key, ed448.Ed448PublicKey):
        return "ed448"
    return type(public_key).__name__


def private_key_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def public_key_pem(key) -> str:
    public = key.public_key() if hasattr(key, "private_bytes") else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(
        "ascii"
    )


def load_private_key(pem: str | bytes, what: str = "private key", validate: bool = True):
    """Load an unencrypted PEM private key (PKCS#1, SEC1 or PKCS#8).

    ``validate=False`` skips OpenSSL's RSA consistency check (tens of milliseconds per RSA key): for keys that were
    validated when they entered the PKI, or whose only use is to be compared with a certificate's public key.
    """
    try:
        if not validate:
            return serialization.load_pem_private_key(_bytes(pem), password=None, unsafe_skip_rsa_key_validation=True)
        return serialization.load_pem_private_key(_bytes(pem), password=None)
    except (ValueError, TypeError) as exc:
        raise PkiError("%s is not an unencrypted PEM private key: %s" % (what, exc)) from None


def load_public_key(pem: str | bytes):
    try:
        return serialization.load_pem_public_key(_bytes(pem))
    except (ValueError, TypeError) as exc:
        raise PkiError("not a PEM public key: %s" % exc) from None


def _public_der(key):
    public = key.public_key() if hasattr(key, "private_bytes") else key
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def keys_match(private_key, certificate_or_public_key) -> bool:
    other = certificate_or_public_key
    if isinstance(other, x509.Certificate):
        other = other.public_key()
    return _public_der(private_key) == _public_der(other)


def public_key_fingerprint(key) -> str:
    """SHA-256 of the SubjectPublicKeyInfo: identifies a key pair without revealing anything secret."""
    return _colon_hex(hashlib.sha256(_public_der(key)).digest())


def _sign_hash(key):
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return None
    return hashes.SHA256()


# --------------------------------------------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------------------------------------------


def _bytes(text):
    return text.encode("ascii") if isinstance(text, str) else bytes(text)


def _colon_hex(data):
    return ":".join("%02X" % b for b in data)


def fingerprint(cert: x509.Certificate) -> str:
    return _colon_hex(cert.fingerprint(hashes.SHA256()))


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def load_certificates(pem: str | bytes | None, what: str = "certificate") -> list[x509.Certificate]:
    """All certificates of a PEM text, in order (empty text: empty list)."""
    if not pem or not str(pem).strip():
        return []
    try:
        return x509.load_pem_x509_certificates(_bytes(pem))
    except ValueError as exc:
        raise PkiError("%s is not PEM certificate data: %s" % (what, exc)) from None


def load_certificate(pem: str | bytes, what: str = "certificate") -> x509.Certificate:
    """The first certificate of a PEM text (a leaf file may carry its issuers after it)."""
    certs = load_certificates(pem, what)
    if not certs:
        raise PkiError("%s: no PEM certificate found" % what)
    return certs[0]


def _not_after(cert):
    return cert.not_valid_after_utc


def _not_before(cert):
    return cert.not_valid_before_utc


def is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def signed_by(cert: x509.Certificate, issuer_cert: x509.Certificate) -> bool:
    """True when ``issuer_cert`` issued ``cert`` (name chaining and signature)."""
    try:
        cert.verify_directly_issued_by(issuer_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _ext(cert, ext_type):
    try:
        return cert.extensions.get_extension_for_class(ext_type).value
    except x509.ExtensionNotFound:
        return None


def _name_values(name, oid):
    return tuple(attr.value for attr in name.get_attributes_for_oid(oid))


def cert_facts(cert: x509.Certificate, issuer: x509.Certificate | None = None) -> CertFacts:
    """Reduce ``cert`` to :class:`pki.CertFacts`; with ``issuer`` (a certificate), check that it signed it."""
    san = _ext(cert, x509.SubjectAlternativeName)
    ku = _ext(cert, x509.KeyUsage)
    usages = set()
    if ku is not None:
        for name, attr in _KU_ATTRS:
            if getattr(ku, attr):
                usages.add(name)
    eku = _ext(cert, x509.ExtendedKeyUsage)
    ekus = frozenset(_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku) if eku is not None else frozenset()
    bc = _ext(cert, x509.BasicConstraints)
    cns = _name_values(cert.subject, NameOID.COMMON_NAME)
    return CertFacts(
        common_name=cns[0] if cns else "",
        organizations=_name_values(cert.subject, NameOID.ORGANIZATION_NAME),
        dns_names=tuple(san.get_values_for_type(x509.DNSName)) if san is not None else (),
        ip_addresses=tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress)) if san is not None else (),
        not_before=_not_before(cert),
        not_after=_not_after(cert),
        serial=cert.serial_number,
        fingerprint=fingerprint(cert),
        issuer=cert.issuer.rfc4514_string(),
        subject=cert.subject.rfc4514_string(),
        key_usage=frozenset(usages),
        extended_key_usage=ekus,
        is_ca=bool(bc and bc.ca),
        key_algorithm=key_algorithm(cert.public_key()),
        signed_by_issuer=None if issuer is None else signed_by(cert, issuer),
    )


def _name(common_name, organizations=()):
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _key_usage_ext(names):
    kwargs = {attr: name in names for name, attr in _KU_ATTRS}
    return x509.KeyUsage(encipher_only=False, decipher_only=False, **kwargs)


def create_ca(
    ca_id: str, algorithm: str, validity_days: int, now: datetime | None = None, common_name: str | None = None
) -> CertificateAuthority:
    """A new self-signed CA as a :class:`CertificateAuthority` (source ``generated``)."""
    now = now or utcnow()
    key = generate_private_key(algorithm)
    name = _name(common_name or CA_COMMON_NAMES.get(ca_id, ca_id))
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=validity_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage_ext({"digitalSignature", "keyCertSign", "cRLSign"}), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, _sign_hash(key))
    )
    return CertificateAuthority(ca_id, cert, key, (), "generated")


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA able to sign: its certificate, its key, and for an intermediate the certificates above it."""

    ca_id: str
    cert: object  # x509.Certificate
    key: object  # private key
    chain: tuple = ()  # issuers above ``cert``, nearest first; may end with the root
    source: str = "existing"  # generated | existing | provided

    @classmethod
    def from_pem(cls, ca_id, cert_pem, key_pem, chain_pem="", source="existing", now=None, validate_key=True):
        """Load and validate a CA (see :meth:`validate`). ``cert_pem`` may hold the chain after the CA certificate.

        ``validate_key=False`` for material already validated by ``state=ca`` in this run (RSA checks are slow).
        """
        certs = load_certificates(cert_pem, "%s certificate" % ca_id)
        if not certs:
            raise PkiError("%s: no PEM certificate found in the CA certificate" % ca_id)
        chain = tuple(certs[1:]) + tuple(load_certificates(chain_pem, "%s chain" % ca_id))
        key = load_private_key(key_pem, "%s key" % ca_id, validate=validate_key)
        ca = cls(ca_id, certs[0], key, chain, source)
        ca.validate(now)
        return ca

    def validate(self, now=None):
        """Refuse what cannot work as a CA: not a CA, wrong key, expired, broken chain."""
        now = now or utcnow()
        what = "%s (%s)" % (self.ca_id, self.cert.subject.rfc4514_string())
        bc = _ext(self.cert, x509.BasicConstraints)
        if bc is None or not bc.ca:
            raise PkiError("%s is not a CA certificate (basicConstraints CA:TRUE missing)" % what)
        ku = _ext(self.cert, x509.KeyUsage)
        if ku is not None and not ku.key_cert_sign:
            raise PkiError("%s may not sign certificates (keyUsage lacks keyCertSign)" % what)
        if not keys_match(self.key, self.cert):
            raise PkiError("%s: the private key does not belong to the certificate" % what)
        if _not_after(self.cert) <= now:
            raise PkiError("%s expired on %s; replace it (state=ca, force_ca)" % (what, _not_after(self.cert)))
        child = self.cert
        for parent in self.chain:
            if not signed_by(child, parent):
                raise PkiError(
                    "%s: the chain is broken: %s was not issued by %s (give the issuers nearest first)"
                    % (self.ca_id, child.subject.rfc4514_string(), parent.subject.rfc4514_string())
                )
            child = parent
        if not self.chain and not is_self_signed(self.cert):
            raise PkiError(
                "%s is an intermediate CA: also give its chain (the issuing CA certificates up to the root)" % what
            )

    @property
    def not_after(self):
        return _not_after(self.cert)

    @property
    def cert_pem(self):
        return cert_pem(self.cert)

    @property
    def key_pem(self):
        return private_key_pem(self.key)

    @property
    def chain_pem(self):
        return "".join(cert_pem(c) for c in self.chain)

    @property
    def intermediates_pem(self):
        """What a leaf file carries after the leaf: this CA and the issuers above it, without a self-signed root."""
        if not self.chain:
            return ""
        return "".join(cert_pem(c) for c in (self.cert,) + self.chain if not is_self_signed(c))

    def to_dict(self):
        """The material as PEM text, the way ``state=ca`` returns it (secret)."""
        return {"cert": self.cert_pem, "key": self.key_pem, "chain": self.chain_pem}

    def summary(self, now=None):
        now = now or utcnow()
        return {
            "subject": self.cert.subject.rfc4514_string(),
            "issuer": self.cert.issuer.rfc4514_string(),
            "not_after": self.not_after.isoformat(),
            "days_left": (self.not_after - now).days,
            "fingerprint": fingerprint(self.cert),
            "key_algorithm": key_algorithm(self.cert.public_key()),
            "intermediate": bool(self.chain),
            "source": self.source,
        }


@dataclass(frozen=True)
class Issued:
    """A newly issued leaf: the objects and the PEM text to write."""

    cert: object
    key: object
    cert_pem: str  # leaf, then intermediates (if the CA is one)
    key_pem: str


def issue_leaf(
    spec, ca: CertificateAuthority, algorithm: str, validity_days: int, now: datetime | None = None
) -> Issued:
    """Issue the leaf certificate described by ``spec`` (a :class:`pki.CertSpec`) with a new key."""
    now = now or utcnow()
    key = generate_private_key(algorithm)
    not_after = min(now + timedelta(days=validity_days), ca.not_after)
    sans = [x509.DNSName(name) for name in spec.dns_names]
    sans += [x509.IPAddress(_ip(value)) for value in spec.ip_addresses]
    ca_ski = _ext(ca.cert, x509.SubjectKeyIdentifier)
    aki = (
        x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski)
        if ca_ski is not None
        else x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.cert.public_key())
    )
    eku_oids = {"serverAuth": ExtendedKeyUsageOID.SERVER_AUTH, "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH}
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(spec.common_name, spec.organizations))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage_ext(key_usage(spec.profile, algorithm)), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([eku_oids[n] for n in sorted(extended_key_usage(spec.profile))]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(aki, critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca.key, _sign_hash(ca.key))
    return Issued(cert=cert, key=key, cert_pem=cert_pem(cert) + ca.intermediates_pem, key_pem=private_key_pem(key))


def _ip(value):
    return ipaddress.ip_address(value)


# --------------------------------------------------------------------------------------------------------------
# Service-account key pair
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceAccountKey:
    """The key pair kube-apiserver signs service-account tokens with (``sa.key``) and verifies them by (``sa.pub``)."""

    key: object
    source: str = "existing"

    @classmethod
    def from_pem(cls, key_pem, source="existing", validate=True):
        key = load_private_key(key_pem, "service-account key (sa)", validate=validate)
        if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise PkiError("service-account key (sa) must be RSA or ECDSA, kube-apiserver cannot sign tokens with it")
        return cls(key, source)

    @classmethod
    def generate(cls, algorithm):
        return cls(generate_private_key(algorithm), "generated")

    @property
    def key_pem(self):
        return private_key_pem(self.key)

    @property
    def public_pem(self):
        return public_key_pem(self.key)

    def to_dict(self):
        return {"key": self.key_pem, "pub": self.public_pem}

    def summary(self):
        return {
            "key_algorithm": key_algorithm(self.key.public_key()),
            "public_key_fingerprint": public_key_fingerprint(self.key),
            "source": self.source,
        }
