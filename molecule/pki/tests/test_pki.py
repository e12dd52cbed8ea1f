"""Scenario `pki`: the cluster PKI on three real hosts, then the day-2 playbooks against the same hosts.

Topology (molecule.yml): ks-pki-1, ks-pki-2 control_plane + etcd (stacked), ks-pki-3 etcd + workers.

The host tests (parametrized over the hosts by testinfra) check what converge placed: every certificate verifies
with ``openssl verify`` against the right CA and purpose, modes and owners, kubeconfigs, SANs, where the CA keys are.
The ``test_step*`` tests then run playbooks with ``ansible-playbook`` against Molecule's inventory, in file order,
each one leaving the cluster valid for the next and for a rerun (``molecule verify`` twice works).
"""

import base64
import hashlib
import os
import re
import sys
import time

import testinfra
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
from ksplay import recap, run_playbook  # noqa: E402  (shared scenario helper, not a package)

HOSTS = ("ks-pki-1", "ks-pki-2", "ks-pki-3")
CONTROL_PLANE = ("ks-pki-1", "ks-pki-2")
ADDRESSES = {"ks-pki-1": "10.127.0.21", "ks-pki-2": "10.127.0.22", "ks-pki-3": "10.127.0.23"}
ENDPOINT = "10.127.0.20"  # cluster_api_endpoint.host in molecule.yml

PKI = "/etc/kubernetes/pki"
ETCD = "/etc/etcd/pki"
KUBECONFIGS = "/etc/kubernetes"
CA = {"kubernetes": PKI + "/ca.crt", "front-proxy": PKI + "/front-proxy-ca.crt", "etcd": ETCD + "/ca.crt"}
CA_KEYS = (PKI + "/ca.key", PKI + "/front-proxy-ca.key", ETCD + "/ca.key", PKI + "/sa.key")

# certificate file -> (CA, openssl verify purposes), by host role
CONTROL_PLANE_CERTS = {
    PKI + "/apiserver.crt": ("kubernetes", ("sslserver",)),
    PKI + "/apiserver-kubelet-client.crt": ("kubernetes", ("sslclient",)),
    PKI + "/front-proxy-client.crt": ("front-proxy", ("sslclient",)),
    PKI + "/apiserver-etcd-client.crt": ("etcd", ("sslclient",)),
    PKI + "/apiserver-health-client.crt": ("kubernetes", ("sslclient",)),
}
ETCD_CERTS = {
    ETCD + "/server.crt": ("etcd", ("sslserver", "sslclient")),
    ETCD + "/peer.crt": ("etcd", ("sslserver", "sslclient")),
    ETCD + "/healthcheck-client.crt": ("etcd", ("sslclient",)),
}
# leaf certificates: 8 per control-plane host, 3 per etcd member, 3 per node (every host is one)
LEAVES = 2 * 8 + 3 * 3 + 3 * 3
WORKER_CERTS = {PKI + "/kubelet.crt": ("kubernetes", ("sslserver",))}
# kubeconfig -> (client certificate subject, server)
CONTROL_PLANE_KUBECONFIGS = {
    "admin.conf": ("CN=kubernetes-admin,O=system:masters", "https://%s:6443" % ENDPOINT),
    "controller-manager.conf": ("CN=system:kube-controller-manager", "https://127.0.0.1:6443"),
    "scheduler.conf": ("CN=system:kube-scheduler", "https://127.0.0.1:6443"),
}
WORKER_KUBECONFIGS = {
    "kubelet.conf": ("CN=system:node:{host},O=system:nodes", "https://%s:6443" % ENDPOINT),
    "kube-proxy.conf": ("CN=system:kube-proxy", "https://%s:6443" % ENDPOINT),
}

ROOT = os.environ.get("MOLECULE_PROJECT_DIRECTORY") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "..")
)


def _name(host):
    return host.backend.get_hostname()


def _certs(name):
    # every host here is an etcd member and a node (pki_node_groups defaults to control_plane + workers)
    out = dict(ETCD_CERTS)
    out.update(WORKER_CERTS)
    if name in CONTROL_PLANE:
        out.update(CONTROL_PLANE_CERTS)
    return out


def _kubeconfigs(name):
    table = dict(WORKER_KUBECONFIGS)
    if name in CONTROL_PLANE:
        table.update(CONTROL_PLANE_KUBECONFIGS)
    return {KUBECONFIGS + "/" + k: (subject.format(host=name), server) for k, (subject, server) in table.items()}


def _batch(host, commands):
    """Run shell commands in one call to the host (each call costs ~0.1 s): label -> (rc, output)."""
    script = "".join('( %s ) 2>&1; echo "@@ $? %s"\n' % (command, label) for label, command in commands.items())
    results, lines = {}, []
    for line in host.check_output(script).splitlines():
        match = re.match(r"^@@ (\d+) (.+)$", line)
        if match:
            results[match.group(2)] = (int(match.group(1)), "\n".join(lines))
            lines = []
        else:
            lines.append(line)
    assert set(results) == set(commands), host.backend.get_hostname()
    return results


def _verify(ca_file, purpose, cert_file="/dev/stdin"):
    return "openssl verify -x509_strict -purpose %s -CAfile %s %s" % (purpose, ca_file, cert_file)


def _same_public_key(cert, key, pem=False):
    """Shell test: the certificate and the private key (files, or PEM text when ``pem``) hold the same public key."""
    if pem:
        cert_pub = "printf '%%s' '%s' | openssl x509 -noout -pubkey" % cert
        key_pub = "printf '%%s' '%s' | openssl pkey -pubout" % key
    else:
        cert_pub = "openssl x509 -noout -pubkey -in %s" % cert
        key_pub = "openssl pkey -pubout -in %s" % key
    return '[ "$(%s)" = "$(%s)" ]' % (cert_pub, key_pub)


def _kubeconfig(text):
    data = yaml.safe_load(text)
    user = data["users"][0]["user"]
    cluster = data["clusters"][0]["cluster"]
    return {
        "server": cluster["server"],
        "ca": base64.b64decode(cluster["certificate-authority-data"]).decode(),
        "cert": base64.b64decode(user["client-certificate-data"]).decode(),
        "key": base64.b64decode(user["client-key-data"]).decode(),
        "context": data["current-context"],
        "contexts": [c["name"] for c in data["contexts"]],
    }


def _assert_certificates_verify(host, name):
    """Every certificate file of the host against its CA, for each purpose, and its key (one call)."""
    commands = {}
    for cert_file, (ca, purposes) in _certs(name).items():
        for purpose in purposes:
            commands["%s %s" % (cert_file, purpose)] = _verify(CA[ca], purpose, cert_file) + " | grep -x '.*: OK'"
        commands[cert_file + " key"] = _same_public_key(cert_file, cert_file[: -len(".crt")] + ".key")
    for label, (rc, output) in _batch(host, commands).items():
        assert rc == 0, (name, label, output)


# -- what converge placed, on every host ----------------------------------------------------------------------


def test_every_certificate_verifies_against_its_ca_and_matches_its_key(host):
    _assert_certificates_verify(host, _name(host))


def test_certificates_do_not_verify_against_another_ca(host):
    """The three CAs are distinct: the etcd server certificate is not trusted through the cluster CA."""
    assert host.run(_verify(CA["kubernetes"], "sslserver", ETCD + "/server.crt")).rc != 0


def test_modes_and_owners(host):
    name = _name(host)
    listing = host.check_output(
        "stat -c '%%a %%U %%G %%n' $(find %s %s -type f) %s" % (PKI, ETCD, " ".join(_kubeconfigs(name)))
    )
    files = [line.split(" ", 3) for line in listing.splitlines()]
    assert len(files) > 10
    for mode, user, group, path in files:
        assert (user, group) == ("root", "root"), path
        if path.endswith((".key", ".conf")):
            assert mode == "600", (path, mode)
        else:
            assert path.endswith((".crt", ".pub")), path
            assert mode == "644", (path, mode)


def test_ca_keys_only_on_control_plane_hosts(host):
    name = _name(host)
    present = _batch(host, {path: "test -f " + path for path in CA_KEYS + (CA["front-proxy"], CA["kubernetes"])})
    for path in CA_KEYS + (CA["front-proxy"],):
        assert (present[path][0] == 0) is (name in CONTROL_PLANE), path
    assert present[CA["kubernetes"]][0] == 0 and host.file(CA["etcd"]).exists


def test_kubeconfigs_are_valid_and_their_certificates_verify(host):
    name = _name(host)
    ca_text = host.file(CA["kubernetes"]).content_string
    commands = {}
    for path, (subject, server) in _kubeconfigs(name).items():
        kc = _kubeconfig(host.file(path).content_string)
        assert kc["server"] == server, path
        assert kc["context"] in kc["contexts"], path
        assert kc["ca"].strip() == ca_text.strip(), path
        cert = x509.load_pem_x509_certificate(kc["cert"].encode())
        assert cert.subject.rfc4514_string() == subject, path
        commands[path] = "printf '%%s' '%s' | %s | grep -x '.*: OK'" % (
            kc["cert"],
            _verify(CA["kubernetes"], "sslclient"),
        )
        commands[path + " key"] = _same_public_key(kc["cert"], kc["key"], pem=True)
    for label, (rc, output) in _batch(host, commands).items():
        assert rc == 0, (label, output)


def _sans(host, path):
    cert = x509.load_pem_x509_certificate(host.file(path).content_string.encode())
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(ext.get_values_for_type(x509.DNSName)) | {str(ip) for ip in ext.get_values_for_type(x509.IPAddress)}


def test_apiserver_serving_certificate_sans(host):
    if _name(host) not in CONTROL_PLANE:
        assert not host.file(PKI + "/apiserver.crt").exists  # the serving certificate stays on the control plane
        return
    sans = _sans(host, PKI + "/apiserver.crt")
    expected = {"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
    expected |= {"10.96.0.1", ENDPOINT, "localhost", "127.0.0.1"} | set(CONTROL_PLANE)
    expected |= {ADDRESSES[h] for h in CONTROL_PLANE}
    assert expected <= sans, expected - sans


def test_etcd_member_and_kubelet_sans(host):
    name = _name(host)
    assert _sans(host, ETCD + "/server.crt") == {name, "localhost", ADDRESSES[name], "127.0.0.1"}
    assert _sans(host, ETCD + "/peer.crt") == {name, "localhost", ADDRESSES[name], "127.0.0.1"}
    assert _sans(host, PKI + "/kubelet.crt") == {name, ADDRESSES[name]}


# -- day 2, in order: extra SAN, renewal, check_certs, refusal to mint a CA ---------------------------------------


def _hosts():
    return {name: testinfra.get_host("podman://" + name) for name in HOSTS}


def _parse_cert(pem):
    cert = x509.load_pem_x509_certificate(pem.encode())
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = set(ext.get_values_for_type(x509.DNSName)) | {str(ip) for ip in ext.get_values_for_type(x509.IPAddress)}
    except x509.ExtensionNotFound:
        sans = set()
    return {
        "serial": cert.serial_number,
        "fingerprint": cert.fingerprint(hashes.SHA256()).hex(),
        "sans": sans,
        "is_ca": cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca,
    }


def _kubeconfig_cert(text):
    user = yaml.safe_load(text)["users"][0]["user"]
    return base64.b64decode(user["client-certificate-data"]).decode()


def _snapshot():
    """(host, path) -> serial, fingerprint, SANs, is_ca of every certificate (files and kubeconfigs), and the
    digest of sa.pub and of every CA key (one call per host)."""
    out = {}
    for name, host in _hosts().items():
        text = host.check_output(
            "for f in $(find %s %s -type f \\( -name '*.crt' -o -name '*.pub' \\)) $(ls %s/*.conf); do "
            'echo "@@file $f"; cat "$f"; done; echo @@keys; sha256sum %s 2>/dev/null; true'
            % (PKI, ETCD, KUBECONFIGS, " ".join(CA_KEYS))
        )
        body, keys = text.split("@@keys", 1)
        for chunk in body.split("@@file ")[1:]:
            path, content = chunk.split("\n", 1)
            if path.endswith(".pub"):
                out[(name, path)] = {"digest": hashlib.sha256(content.encode()).hexdigest(), "is_ca": True}
            elif path.endswith(".conf"):
                out[(name, path)] = _parse_cert(_kubeconfig_cert(content))
            else:
                out[(name, path)] = _parse_cert(content)
        for line in keys.split("\n"):
            if line.strip():
                digest, path = line.split()
                out[(name, path)] = {"digest": digest, "is_ca": True}
    return out


def _playbook(playbook, *args):
    """ansible-playbook from the checkout against Molecule's inventory; never a private key in the output."""
    rc, output = run_playbook(playbook, *args, timeout=300)
    assert "PRIVATE KEY" not in output
    return rc, output


def _recap(output):
    """host -> changed count, from the PLAY RECAP."""
    return {host: counts["changed"] for host, counts in recap(output, "ks-pki-").items()}


def _changed(before, after):
    return {key for key in before if before[key] != after.get(key)} | (set(after) - set(before))


def test_step1_extra_apiserver_san_reissues_only_the_apiserver_certificates():
    name = "api-%d.example.test" % time.time()  # new on every run, so a rerun changes something too
    sans = '{"pki_apiserver_extra_sans": ["%s", "10.127.0.99"]}' % name
    before = _snapshot()

    # check mode: reports the reissue, changes nothing
    rc, output = _playbook("site.yml", "--tags", "pki", "--check", "--diff", "-e", sans)
    assert rc == 0
    assert "DNS:%s" % name in output and "san-changed" in output
    assert _changed(before, _snapshot()) == set()

    rc, output = _playbook("site.yml", "--tags", "pki", "--diff", "-e", sans)
    assert rc == 0
    after = _snapshot()
    assert _changed(before, after) == {(h, PKI + "/apiserver.crt") for h in CONTROL_PLANE}
    for h in CONTROL_PLANE:
        assert {name, "10.127.0.99"} <= after[(h, PKI + "/apiserver.crt")]["sans"]
    assert _recap(output) == {"ks-pki-1": 1, "ks-pki-2": 1, "ks-pki-3": 0}
    for h, host in _hosts().items():  # the new ones verify too
        _assert_certificates_verify(host, h)


STUB = r"""
import http.server, ssl, sys
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"health":"true"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Health)
if len(sys.argv) > 2:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    ctx.load_verify_locations(sys.argv[4])
    ctx.verify_mode = ssl.CERT_REQUIRED
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""

# Test stubs standing in for components whose roles do not exist yet: a unit with the component's name that
# answers its readiness URL (etcd: HTTPS with the etcd server certificate, client certificate required).
STUB_UNITS = {
    "ks-pki-1": ("etcd", "2379 %s/server.crt %s/server.key %s/ca.crt" % (ETCD, ETCD, ETCD)),
    "ks-pki-2": ("etcd", "2379 %s/server.crt %s/server.key %s/ca.crt" % (ETCD, ETCD, ETCD)),
    "ks-pki-3": ("kube-proxy", "10256"),
}


def _install_stub(host, unit, args):
    host.check_output("cat > /usr/local/lib/ks-stub-health.py <<'EOF'\n%s\nEOF" % STUB)
    unit_file = (
        "[Unit]\nDescription=kubesmith test stub for %s (molecule pki scenario)\n"
        "[Service]\nExecStart=/usr/bin/python3 /usr/local/lib/ks-stub-health.py %s\n" % (unit, args)
    )
    host.check_output("cat > /etc/systemd/system/%s.service <<'EOF'\n%sEOF" % (unit, unit_file))
    host.check_output("systemctl daemon-reload && systemctl start %s" % unit)


def _started_at(host, unit):
    """Monotonic start time of the unit's process, microseconds (containers share the kernel's clock: comparable)."""
    return int(host.check_output("systemctl show -p ExecMainStartTimestampMonotonic --value %s" % unit))


def _served_serial(host):
    out = host.check_output(
        "echo | openssl s_client -connect 127.0.0.1:2379 -CAfile {e}/ca.crt -cert {e}/healthcheck-client.crt "
        "-key {e}/healthcheck-client.key 2>/dev/null | openssl x509 -noout -serial".format(e=ETCD)
    )
    return int(out.split("=", 1)[1], 16)


def test_step2_renew_certs_changes_every_leaf_keeps_every_ca():
    hosts = _hosts()
    for name, (unit, args) in STUB_UNITS.items():
        _install_stub(hosts[name], unit, args)
    started = {name: _started_at(hosts[name], unit) for name, (unit, _a) in STUB_UNITS.items()}
    before = _snapshot()

    rc, output = _playbook("renew_certs.yml")
    assert rc == 0
    after = _snapshot()
    assert set(after) == set(before)
    leaves = {key for key, item in before.items() if not item["is_ca"]}
    cas = set(before) - leaves
    # control-plane hosts: 3 CA certificates, sa.pub, 4 keys; ks-pki-3: 2 CA certificates
    assert len(leaves) == LEAVES and len(cas) == 2 * 8 + 2
    for key in leaves:
        assert after[key]["serial"] != before[key]["serial"], key
        assert after[key]["sans"] == before[key]["sans"] or key[1].endswith("apiserver.crt"), key
    for key in cas:
        assert after[key] == before[key], key

    # restarted one host at a time, in inventory order, each after the previous answered its readiness check
    restarted = {name: _started_at(hosts[name], unit) for name, (unit, _a) in STUB_UNITS.items()}
    assert all(restarted[name] > started[name] for name in STUB_UNITS), (started, restarted)
    assert restarted["ks-pki-1"] < restarted["ks-pki-2"] < restarted["ks-pki-3"], restarted
    for name in ("ks-pki-1", "ks-pki-2"):  # the restarted etcd stand-in serves the new certificate
        assert _served_serial(hosts[name]) == after[(name, ETCD + "/server.crt")]["serial"]
    assert "Wait until ready - etcd" in output and "Wait until ready - kube-proxy" in output
    assert "Pki | Restart kube-apiserver" not in output  # not installed: not restarted
    for name, host in hosts.items():
        _assert_certificates_verify(host, name)


def test_step3_check_certs_prints_every_certificate():
    rc, output = _playbook("check_certs.yml")
    assert rc == 0
    rows = [line.split() for line in output.splitlines() if re.match(r"^\s*(- )?ks-pki-\d\s+\S+\s+(leaf|ca)\s", line)]
    rows = [row[1:] if row[0] == "-" else row for row in rows]
    # leaves, kubernetes and etcd CA copies everywhere, front-proxy CA on the 2 control-plane hosts
    assert len(rows) == LEAVES + 3 * 2 + 2
    assert {(row[0], row[1]) for row in rows} >= {
        ("ks-pki-1", "apiserver"),
        ("ks-pki-2", "etcd-peer"),
        ("ks-pki-3", "kubelet-client"),
        ("ks-pki-3", "kubernetes-ca"),
    }
    for row in rows:
        assert row[3] == "ok", row
        days = int(row[4])
        assert days >= 364 if row[2] == "leaf" else days >= 3640, row


def test_step4_check_certs_fails_naming_certificates_within_the_window():
    rc, output = _playbook("check_certs.yml", "-e", "check_certs_fail_within_days=400")
    assert rc != 0
    assert "%d certificate(s) expire within 400 days" % LEAVES in output
    for name in HOSTS:
        assert "%s etcd-server (" % name in output
    assert "ks-pki-1 apiserver (" in output and "ks-pki-3 kube-proxy (" in output
    assert "kubernetes-ca (" not in output  # CAs have 10 years


def test_step5_missing_ca_with_existing_certificates_is_refused():
    """The etcd CA disappears from the primary host: no new CA is minted, the run says how to recover."""
    primary = _hosts()["ks-pki-1"]
    primary.check_output("mkdir -p /root/ks-ca-backup && mv %s/ca.crt %s/ca.key /root/ks-ca-backup/" % (ETCD, ETCD))
    try:
        before = _snapshot()
        rc, output = _playbook("site.yml", "--tags", "pki")
        assert rc != 0
        flat = " ".join(output.split())
        assert "the etcd-ca CA is missing on the primary control-plane host ks-pki-1" in flat, flat
        assert "pki_force_ca" in flat
        assert _changed(before, _snapshot()) == set()
        assert not primary.file(ETCD + "/ca.crt").exists
    finally:
        primary.check_output("mv /root/ks-ca-backup/ca.crt /root/ks-ca-backup/ca.key %s/" % ETCD)
    rc, output = _playbook("site.yml", "--tags", "pki")
    assert rc == 0 and set(_recap(output).values()) == {0}
