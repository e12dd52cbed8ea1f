"""The lab (tools/test lab): renew_certs.yml on a real cluster, at -vvv. Every TLS port a component serves from a
certificate file of ours serves the new certificate afterwards (serial changed, not-after moved on), the CAs are
kept, the cluster works, and the output holds no private key. Runs after the check-mode test, before the reset."""

import os
import re
import sys
import time

from support.lab import first_host

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "molecule", "shared"))
from kscluster import KUBECTL, deadline_poll, ssh_host  # noqa: E402  (shared scenario helpers, not a package)
from ksplay import recap, report_figure, run_playbook  # noqa: E402

NAME, ADDRESS = first_host()
PORTS = {
    2379: "etcd client",
    2380: "etcd peer",
    6443: "kube-apiserver",
    10250: "kubelet",
    10257: "controller-manager",
    10259: "scheduler",
}
CERT_DIRS = "/etc/kubernetes/pki /etc/etcd/pki /var/lib/kubelet/pki"
CAS = ("/etc/kubernetes/pki/ca.crt", "/etc/etcd/pki/ca.crt")


def _x509(host, pem_command):
    """(serial, notAfter) of the first certificate a command prints, or None."""
    out = host.run("%s | openssl x509 -noout -serial -enddate 2>/dev/null" % pem_command)
    found = dict(re.findall(r"^(serial|notAfter)=(.+)$", out.stdout, re.M))
    return (found["serial"], found["notAfter"]) if len(found) == 2 else None


def _served(host):
    """port -> the certificate served there, on the node address or else on loopback (etcd's peer port listens on
    the node address only, controller-manager and scheduler on loopback only)."""
    served = {}
    for port in PORTS:
        for address in (ADDRESS, "127.0.0.1"):
            cert = _x509(host, "openssl s_client -connect %s:%d </dev/null 2>/dev/null" % (address, port))
            if cert:
                served[port] = cert
                break
    return served


def _files(host):
    paths = host.check_output("find %s -name '*.crt' -type f 2>/dev/null || true" % CERT_DIRS).split()
    return {path: _x509(host, "cat %s" % path) for path in paths}


def _api_answers(host):
    return host.run("%s get --raw /readyz" % KUBECTL).stdout.strip() == "ok"


def test_renew_certs_serves_new_certificates_keeps_the_cas_and_prints_no_key():
    host = ssh_host(ADDRESS)
    files_before = _files(host)
    served_before = _served(host)
    # the ports that serve one of our files (a component without a configured certificate makes its own)
    ours = {port: path for port, cert in served_before.items() for path, c in files_before.items() if c == cert}
    assert {2379, 2380, 6443} <= set(ours), (served_before, ours)

    start = time.monotonic()
    rc, output = run_playbook("renew_certs.yml", "-vvv", timeout=900)
    assert rc == 0, output[-3000:]
    assert recap(output)[NAME]["changed"] > 0
    assert not re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", output), "a private key is printed at -vvv"
    key_lines = host.check_output("sed -n 2p /etc/kubernetes/pki/apiserver.key /etc/etcd/pki/peer.key").split()
    assert key_lines and not any(line in output for line in key_lines), "a private key is printed at -vvv"

    assert deadline_poll(lambda: _api_answers(host), 120), "the API does not answer after the renewal"
    report_figure(
        "renew_certs.yml on the one-host lab: %.0f s (its only apiserver restarts)" % (time.monotonic() - start)
    )
    files_after = _files(host)
    for ca in CAS:
        assert files_after[ca] == files_before[ca], "%s changed: the CAs are kept" % ca
    served_after = _served(host)
    for port, path in sorted(ours.items()):
        assert files_after[path][0] != files_before[path][0], "%s was not reissued" % path
        assert files_after[path][1] != files_before[path][1], "%s: not-after did not move" % path
        assert served_after.get(port) == files_after[path], "%s (%d) does not serve the new %s" % (
            PORTS[port],
            port,
            path,
        )
    nodes = host.check_output(
        "%s get node %s -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}'" % (KUBECTL, NAME)
    )
    assert nodes == "True"
