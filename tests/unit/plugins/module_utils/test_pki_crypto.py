"""Tests of module_utils/pki/crypto.py and pki_kubeconfig.py: real keys and certificates.

Every certificate is checked three ways: its fields (CN/O/SANs/KU/EKU/validity), ``cryptography`` (signature, and the
RFC 5280 path builder for server certificates), and the ``openssl verify`` CLI with the TLS purpose it is meant for.
"""

import subprocess
from datetime import datetime, timedelta, timezone

import pytest
import yaml
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import crypto as C
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import kubeconfig as K
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import model as PM
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import specs as PS
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.model import CA_IDS, PkiError, Settings
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime.now(timezone.utc).replace(microsecond=0)
GROUPS = {"control_plane": ["cp1", "cp2"], "etcd": ["cp1", "cp2", "e3"], "workers": ["w1"]}
HOSTVARS = {
    "cp1": {"node_ip": "10.0.0.1"},
    "cp2": {"node_ip": "10.0.0.2"},
    "e3": {"node_ip": "fd00::3"},
    "w1": {"node_ip": "10.0.0.21", "node_name": "worker-1"},
}
PURPOSE = {PM.SERVER: ["sslserver"], PM.CLIENT: ["sslclient"], PM.PEER: ["sslserver", "sslclient"]}


def openssl_verify(tmp_path, ca_pem, cert_pems, purpose, untrusted_pem=None, partial=False):
    """Run ``openssl verify`` on each PEM; returns the combined output, asserting every line says OK."""
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(ca_pem)
    files = []
    for i, pem in enumerate(cert_pems):
        path = tmp_path / ("leaf%d.pem" % i)
        path.write_text(pem)
        files.append(str(path))
    cmd = ["openssl", "verify", "-purpose", purpose, "-CAfile", str(ca_file)]
    if partial:
        cmd.append("-partial_chain")
    if untrusted_pem:
        (tmp_path / "untrusted.pem").write_text(untrusted_pem)
        cmd += ["-untrusted", str(tmp_path / "untrusted.pem")]
    proc = subprocess.run(cmd + files, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(": OK") == len(files), proc.stdout
    return proc.stdout


def ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls)


def cluster(algorithm="ecdsa-p256"):
    settings = Settings(key_algorithm=algorithm, api_endpoint_host="vip.example.org")
    view = PM.inventory_view(GROUPS, HOSTVARS)
    cas = {ca_id: C.create_ca(ca_id, algorithm, settings.ca_validity_days, NOW) for ca_id in CA_IDS}
    leaves = [s for s in PS.required_certificates(view, settings) if s.kind == PM.LEAF]
    issued = [
        (spec, C.issue_leaf(spec, cas[spec.issuer], algorithm, settings.leaf_validity_days, NOW)) for spec in leaves
    ]
    return settings, cas, issued


@pytest.fixture(scope="module")
def ecdsa_cluster():
    return cluster()


@pytest.fixture(scope="module")
def rsa_cluster():
    return cluster("rsa-2048")


# --------------------------------------------------------------------------- CAs


@pytest.mark.parametrize("algorithm, key_type", [("ecdsa-p256", ec.EllipticCurvePrivateKey), ("rsa-2048", object)])
def test_created_ca(algorithm, key_type):
    ca = C.create_ca(PM.KUBERNETES_CA, algorithm, 3650, NOW)
    cert = ca.cert
    assert isinstance(ca.key, key_type)
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kubernetes-ca"
    bc = ext(cert, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = ext(cert, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign and ku.value.digital_signature
    assert cert.not_valid_after_utc == NOW + timedelta(days=3650)
    assert cert.not_valid_before_utc == NOW - C.BACKDATE
    assert C.is_self_signed(cert) and C.signed_by(cert, cert)
    assert C.key_algorithm(cert.public_key()) == algorithm
    ca.validate(NOW)  # its own checks accept it
    assert ca.intermediates_pem == ""


def _builder(subject, issuer, public_key, ca=True, days=365, ku=True, path_length=None, start=-1):
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + timedelta(days=start))
        .not_valid_after(NOW + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if ku:
        b = b.add_extension(x509.KeyUsage(True, False, False, False, False, ca, ca, False, False), critical=True)
    return b


def corporate_pki():
    """A corporate root and an intermediate under it (as another PKI team would hand them over)."""
    root_key = ec.generate_private_key(ec.SECP384R1())
    root = _builder("Corp Root CA", "Corp Root CA", root_key.public_key(), days=7000).sign(root_key, hashes.SHA384())
    int_key = ec.generate_private_key(ec.SECP256R1())
    inter = (
        _builder("Corp Kubernetes Issuing CA", "Corp Root CA", int_key.public_key(), days=1800, path_length=0)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA384())
    )
    return root, root_key, inter, int_key


def pem(obj):
    if isinstance(obj, x509.Certificate):
        return C.cert_pem(obj)
    return C.private_key_pem(obj)


def test_ca_validation_refusals():
    good = C.create_ca(PM.ETCD_CA, "ecdsa-p256", 365, NOW)
    other = C.create_ca(PM.ETCD_CA, "ecdsa-p256", 365, NOW)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    not_ca = _builder("leaf", "leaf", leaf_key.public_key(), ca=False).sign(leaf_key, hashes.SHA256())
    no_sign_key = ec.generate_private_key(ec.SECP256R1())
    no_sign = (
        _builder("nosign", "nosign", no_sign_key.public_key(), ku=False)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, True, False, False), critical=True)
        .sign(no_sign_key, hashes.SHA256())
    )
    old_key = ec.generate_private_key(ec.SECP256R1())
    old = _builder("old", "old", old_key.public_key(), days=-1, start=-20).sign(old_key, hashes.SHA256())
    root, _root_key, inter, int_key = corporate_pki()
    cases = [
        ((pem(not_ca), pem(leaf_key), ""), "is not a CA certificate"),
        ((pem(no_sign), pem(no_sign_key), ""), "lacks keyCertSign"),
        ((good.cert_pem, other.key_pem, ""), "private key does not belong"),
        ((pem(old), pem(old_key), ""), "expired on"),
        ((pem(inter), pem(int_key), ""), "is an intermediate CA: also give its chain"),
        ((pem(inter), pem(int_key), good.cert_pem), "the chain is broken"),
        (("garbage", pem(int_key), ""), "not PEM certificate data|no PEM certificate"),
        ((good.cert_pem, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", ""), "not an unencrypted"),
    ]
    for (cert_pem, key_pem, chain_pem), message in cases:
        with pytest.raises(PkiError, match=message):
            C.CertificateAuthority.from_pem(PM.ETCD_CA, cert_pem, key_pem, chain_pem, now=NOW)
    assert C.CertificateAuthority.from_pem(PM.ETCD_CA, pem(inter), pem(int_key), pem(root), now=NOW).chain == (root,)


# --------------------------------------------------------------------------- leaves


def _check_leaf(spec, issued, ca, settings):
    cert = issued.cert
    facts = C.cert_facts(cert, ca.cert)
    assert facts.signed_by_issuer, spec.id
    assert facts.common_name == spec.common_name
    assert facts.organizations == spec.organizations
    assert sorted(facts.dns_names) == sorted(spec.dns_names)
    assert sorted(facts.ip_addresses) == sorted(spec.ip_addresses)
    assert facts.key_usage == PS.key_usage(spec.profile, settings.key_algorithm)
    assert facts.extended_key_usage == PS.extended_key_usage(spec.profile)
    assert not facts.is_ca and ext(cert, x509.BasicConstraints).critical
    assert ext(cert, x509.KeyUsage).critical
    assert facts.key_algorithm == settings.key_algorithm
    assert facts.not_after == NOW + timedelta(days=settings.leaf_validity_days)
    assert facts.not_after <= ca.not_after
    aki = ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == ext(ca.cert, x509.SubjectKeyIdentifier).value.digest
    assert C.keys_match(issued.key, cert)
    assert issued.cert_pem == C.cert_pem(cert)  # no intermediates for a self-signed CA
    assert "PRIVATE KEY" in issued.key_pem
    if spec.dns_names or spec.ip_addresses:
        assert not ext(cert, x509.SubjectAlternativeName).critical
    else:
        with pytest.raises(x509.ExtensionNotFound):
            ext(cert, x509.SubjectAlternativeName)


@pytest.mark.parametrize("fixture", ["ecdsa_cluster", "rsa_cluster"])
def test_every_leaf_has_its_identity_and_verifies(fixture, request, tmp_path):
    settings, cas, issued = request.getfixturevalue(fixture)
    assert len(issued) == 28  # 2 control-plane hosts x 8 + 3 etcd members x 3 + 1 node x 3
    names = sorted({spec.name for spec, _ in issued})
    assert names == sorted(PS.leaf_names())
    for spec, leaf in issued:
        _check_leaf(spec, leaf, cas[spec.issuer], settings)
    # openssl, batched per CA and TLS purpose
    for ca_id, ca in cas.items():
        for profile, purposes in PURPOSE.items():
            pems = [leaf.cert_pem for spec, leaf in issued if spec.issuer == ca_id and spec.profile == profile]
            for purpose in purposes:
                if pems:
                    openssl_verify(tmp_path, ca.cert_pem, pems, purpose)


def test_server_certificates_pass_the_rfc5280_path_builder(ecdsa_cluster):
    _settings, cas, issued = ecdsa_cluster
    for spec, leaf in issued:
        if spec.profile not in (PM.SERVER, PM.PEER):
            continue
        verifier_store = verification.Store([cas[spec.issuer].cert])
        for name in spec.dns_names[:1]:
            v = verification.PolicyBuilder().store(verifier_store).time(NOW).build_server_verifier(x509.DNSName(name))
            assert v.verify(leaf.cert, [])[-1] == cas[spec.issuer].cert
        for ip in spec.ip_addresses:
            import ipaddress

            v = (
                verification.PolicyBuilder()
                .store(verifier_store)
                .time(NOW)
                .build_server_verifier(x509.IPAddress(ipaddress.ip_address(ip)))
            )
            v.verify(leaf.cert, [])


def test_leaf_is_refused_by_another_ca(ecdsa_cluster, tmp_path):
    _settings, cas, issued = ecdsa_cluster
    spec, leaf = issued[0]
    stranger = C.create_ca(spec.issuer, "ecdsa-p256", 365, NOW)
    assert C.cert_facts(leaf.cert, stranger.cert).signed_by_issuer is False
    (tmp_path / "ca.pem").write_text(stranger.cert_pem)
    (tmp_path / "leaf.pem").write_text(leaf.cert_pem)
    proc = subprocess.run(
        ["openssl", "verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "leaf.pem")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0


def test_rsa_4096_server_and_client(tmp_path):
    settings = Settings(key_algorithm="rsa-4096")
    view = PM.inventory_view({"control_plane": ["cp1"], "etcd": ["cp1"]}, {"cp1": {"node_ip": "10.0.0.1"}})
    specs = {s.name: s for s in PS.required_certificates(view, settings)}
    ca = C.create_ca(PM.KUBERNETES_CA, "rsa-4096", 3650, NOW)
    for name, purpose in (("apiserver", "sslserver"), ("admin", "sslclient")):
        leaf = C.issue_leaf(specs[name], ca, "rsa-4096", 365, NOW)
        _check_leaf(specs[name], leaf, ca, settings)
        assert leaf.key.key_size == 4096
        openssl_verify(tmp_path, ca.cert_pem, [leaf.cert_pem], purpose)
    assert PS.key_usage(PM.SERVER, "rsa-4096") == {"digitalSignature", "keyEncipherment"}


def test_leaf_never_outlives_its_ca():
    ca = C.create_ca(PM.KUBERNETES_CA, "ecdsa-p256", 10, NOW)
    spec = PS.required_certificates(PM.inventory_view({"control_plane": ["a"], "etcd": ["a"]}, {}), Settings())[4]
    leaf = C.issue_leaf(spec, ca, "ecdsa-p256", 365, NOW)
    assert leaf.cert.not_valid_after_utc == ca.not_after


# --------------------------------------------------------------------------- bring your own intermediate


def test_intermediate_ca_chain_verifies_to_the_corporate_root(tmp_path):
    root, _root_key, inter, int_key = corporate_pki()
    ca = C.CertificateAuthority.from_pem(PM.KUBERNETES_CA, pem(inter), pem(int_key), pem(root), "provided", NOW)
    assert ca.intermediates_pem == pem(inter)  # leaves carry the intermediate, never the root
    view = PM.inventory_view({"control_plane": ["cp1"], "etcd": ["cp1"]}, {"cp1": {"node_ip": "10.0.0.1"}})
    spec = next(s for s in PS.required_certificates(view, Settings()) if s.name == "apiserver")
    leaf = C.issue_leaf(spec, ca, "ecdsa-p256", 365, NOW)
    certs = C.load_certificates(leaf.cert_pem)
    assert certs == [leaf.cert, inter]
    assert leaf.cert.issuer == inter.subject
    # cryptography: path leaf -> intermediate (sent by the server) -> root (trusted)
    chain = (
        verification.PolicyBuilder()
        .store(verification.Store([root]))
        .time(NOW)
        .build_server_verifier(x509.DNSName("kubernetes.default.svc"))
        .verify(leaf.cert, [inter])
    )
    assert chain == [leaf.cert, inter, root]
    # openssl: trusting the root, with the leaf file's own intermediates
    openssl_verify(tmp_path, pem(root), [leaf.cert_pem], "sslserver", untrusted_pem=leaf.cert_pem)
    # openssl: trusting the intermediate alone, as the cluster does (ca.crt holds only it)
    openssl_verify(tmp_path, ca.cert_pem, [leaf.cert_pem], "sslserver", partial=True)


def test_intermediate_may_come_as_one_bundle():
    root, _root_key, inter, int_key = corporate_pki()
    ca = C.CertificateAuthority.from_pem(PM.KUBERNETES_CA, pem(inter) + pem(root), pem(int_key), "", "provided", NOW)
    assert ca.cert == inter and ca.chain == (root,)
    assert ca.to_dict()["chain"] == pem(root)


# --------------------------------------------------------------------------- facts, keys


def test_cert_facts_reads_everything_the_plan_compares(ecdsa_cluster):
    _settings, cas, issued = ecdsa_cluster
    spec, leaf = next((s, i) for s, i in issued if s.name == "kubelet")
    facts = C.cert_facts(leaf.cert)
    assert facts.signed_by_issuer is None
    assert facts.subject == "CN=system:node:worker-1,O=system:nodes"
    assert facts.issuer == "CN=kubernetes-ca"
    assert facts.serial == leaf.cert.serial_number
    assert facts.fingerprint == ":".join("%02X" % b for b in leaf.cert.fingerprint(hashes.SHA256()))
    assert facts.dns_names == ("worker-1", "w1") and facts.ip_addresses == ("10.0.0.21",)


@pytest.mark.parametrize(
    "key, name",
    [
        (ec.generate_private_key(ec.SECP256R1()), "ecdsa-p256"),
        (ec.generate_private_key(ec.SECP384R1()), "ecdsa-p384"),
        (ed25519.Ed25519PrivateKey.generate(), "ed25519"),
    ],
)
def test_key_algorithm_names(key, name):
    assert C.key_algorithm(key.public_key()) == name


def test_keys_and_service_account_key():
    a, b = C.generate_private_key("ecdsa-p256"), C.generate_private_key("ecdsa-p256")
    assert C.keys_match(a, a.public_key()) and not C.keys_match(a, b.public_key())
    assert C.public_key_fingerprint(a) == C.public_key_fingerprint(a.public_key())
    sa = C.ServiceAccountKey.generate("rsa-2048")
    again = C.ServiceAccountKey.from_pem(sa.key_pem)
    assert again.public_pem == sa.public_pem and "BEGIN PUBLIC KEY" in sa.public_pem
    assert sa.summary()["key_algorithm"] == "rsa-2048" and "key" not in sa.summary()
    # PKCS#1 and SEC1 keys (other tools' output) load too
    legacy = a.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    assert C.keys_match(C.load_private_key(legacy.decode()), a.public_key())
    with pytest.raises(PkiError, match="must be RSA or ECDSA"):
        C.ServiceAccountKey.from_pem(C.private_key_pem(ed25519.Ed25519PrivateKey.generate()))
    with pytest.raises(PkiError, match="unsupported key algorithm"):
        C.generate_private_key("dsa")


def test_ca_summary_has_no_key_material():
    ca = C.create_ca(PM.FRONT_PROXY_CA, "ecdsa-p256", 365, NOW)
    summary = ca.summary(NOW)
    assert summary["subject"] == "CN=kubernetes-front-proxy-ca"
    assert summary["days_left"] == 365 and summary["source"] == "generated"
    assert "PRIVATE" not in repr(summary) and ca.key_pem not in repr(summary)


# --------------------------------------------------------------------------- kubeconfig


def test_kubeconfig_round_trip_and_yaml(ecdsa_cluster):
    _settings, cas, issued = ecdsa_cluster
    spec, leaf = next((s, i) for s, i in issued if s.name == "kubelet-client")
    text = K.render(
        "prod", spec.kubeconfig_server, cas[PM.KUBERNETES_CA].cert_pem, spec.common_name, leaf.cert_pem, leaf.key_pem
    )
    doc = yaml.safe_load(text)
    assert doc["kind"] == "Config" and doc["current-context"] == "system:node:worker-1@prod"
    assert doc["users"][0]["name"] == "system:node:worker-1"
    assert doc["clusters"][0]["cluster"]["server"] == "https://vip.example.org:6443"
    parsed = K.parse(text)
    assert parsed == K.Kubeconfig(
        spec.kubeconfig_server,
        cas[PM.KUBERNETES_CA].cert_pem,
        leaf.cert_pem,
        leaf.key_pem,
        "system:node:worker-1",
        "prod",
    )
    # deterministic: same input, same bytes
    assert text == K.render(
        "prod", spec.kubeconfig_server, cas[PM.KUBERNETES_CA].cert_pem, spec.common_name, leaf.cert_pem, leaf.key_pem
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not: [yaml",
        "apiVersion: v1\nkind: Config\n",
        "current-context: x\ncontexts: []\n",
        "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: "
        "{server: s, certificate-authority-data: '!!'}}]\nusers: [{name: u, user: {}}]\n",
    ],
)
def test_kubeconfig_parse_rejects_what_it_cannot_use(text):
    assert K.parse(text) is None


def test_eku_oids_are_the_tls_ones(ecdsa_cluster):
    _settings, _cas, issued = ecdsa_cluster
    spec, leaf = next((s, i) for s, i in issued if s.name == "etcd-peer")
    assert set(ext(leaf.cert, x509.ExtendedKeyUsage).value) == {
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    }
