"""The lab (tools/test lab): check mode on the converged host tells the truth (0 changed), and the most verbose,
diffing run prints no secret: no private key (PEM or base64 as in a kubeconfig), no encryption-at-rest key."""

import base64
import os
import re
import sys

import yaml
from support.lab import first_host

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "molecule", "shared"))
from kscluster import ssh_host  # noqa: E402  (shared scenario helpers, not a package)
from ksplay import recap, run_playbook  # noqa: E402

NAME, ADDRESS = first_host()
PKI = "/etc/kubernetes/pki"


def _secrets(host):
    """name -> value of every secret the run handles: the encryption keys, each private key file (PEM body and its
    base64 form, as kubeconfigs carry it) and the admin kubeconfig's client key."""
    found = {}
    config = yaml.safe_load(host.check_output("cat /etc/kubernetes/encryption-config.yaml"))
    for resource in config["resources"]:
        for provider in resource["providers"]:
            for kind, spec in provider.items():
                for key in (spec or {}).get("keys", []):
                    found["encryption key %s/%s" % (kind, key["name"])] = key["secret"]
    keys = host.check_output("find %s /etc/etcd -name '*.key' -type f" % PKI).split()
    assert len(keys) >= 10, keys  # the CA, service-account and component keys at least: the find looked right
    for path in keys:
        pem = host.check_output("cat %s" % path)
        body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
        found[path] = body[:64]  # a run that printed the key prints this part of it
        found[path + " (base64)"] = base64.b64encode(pem.encode() + b"\n").decode()[:64]
    admin = yaml.safe_load(host.check_output("cat /etc/kubernetes/admin.conf"))
    found["admin.conf client-key-data"] = admin["users"][0]["user"]["client-key-data"][:64]
    return found


def test_check_mode_changes_nothing_and_verbose_diff_prints_no_secret():
    host = ssh_host(ADDRESS)
    secrets = _secrets(host)
    rc, output = run_playbook("site.yml", "--check", "--diff", "-vvv", timeout=900)
    assert rc == 0, output[-3000:]
    assert recap(output)[NAME]["changed"] == 0, recap(output)
    assert len(output) > 100000, "not the verbose output expected from -vvv"  # the search below saw something
    leaked = sorted(name for name, value in secrets.items() if value in output)
    assert not leaked, leaked
    assert not re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", output)
