"""A throwaway TLS PKI for etcd members and their clients, made in-process with ``cryptography``: a CA, a server/peer
certificate (SAN 127.0.0.1 and localhost, both EKUs), a client certificate, and a client certificate from another CA
that a member must refuse."""

import datetime
import ipaddress
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(path, key):
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)


def _issue(ca_cert, ca_key, cn, ekus, sans=None):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


class EtcdPki:
    """Paths of the test PKI: ``ca``, ``server_cert``/``server_key`` (server + peer), ``client_cert``/``client_key``."""

    def __init__(self, directory):
        directory.mkdir(parents=True, exist_ok=True)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(_name("kubesmith-test-etcd-ca"))
            .issuer_name(_name("kubesmith-test-etcd-ca"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        self.ca = directory / "ca.crt"
        self.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        sans = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
        both = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        server, server_key = _issue(ca_cert, ca_key, "etcd-member", both, sans)
        client, client_key = _issue(ca_cert, ca_key, "kubesmith-etcd-client", [ExtendedKeyUsageOID.CLIENT_AUTH])
        # A certificate from another CA: the server must refuse it.
        other_ca_key = ec.generate_private_key(ec.SECP256R1())
        other_ca = (
            x509.CertificateBuilder()
            .subject_name(_name("other-ca"))
            .issuer_name(_name("other-ca"))
            .public_key(other_ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(other_ca_key, hashes.SHA256())
        )
        rogue, rogue_key = _issue(other_ca, other_ca_key, "rogue-client", [ExtendedKeyUsageOID.CLIENT_AUTH])
        for stem, cert, key in (
            ("server", server, server_key),
            ("client", client, client_key),
            ("rogue", rogue, rogue_key),
        ):
            (directory / (stem + ".crt")).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            _write_key(directory / (stem + ".key"), key)
        self.server_cert, self.server_key = directory / "server.crt", directory / "server.key"
        self.client_cert, self.client_key = directory / "client.crt", directory / "client.key"
        self.rogue_cert, self.rogue_key = directory / "rogue.crt", directory / "rogue.key"

    def client_args(self):
        """The module options for TLS client authentication."""
        return {"ca_cert": str(self.ca), "client_cert": str(self.client_cert), "client_key": str(self.client_key)}

    def ssl_context(self):
        context = ssl.create_default_context(cafile=str(self.ca))
        context.load_cert_chain(str(self.client_cert), str(self.client_key))
        return context
