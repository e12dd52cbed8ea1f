"""Tests of module_utils/pki/engine.py: the CA decision, observe -> plan -> materialize on in-memory hosts.

A host is a dict ``path -> {"exists", "content", "mode", "owner", "group"}``, the shape ``pki_files`` returns.
"""

import subprocess
from dataclasses import replace
from datetime import timedelta

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import crypto as C
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import engine as E
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import kubeconfig as K
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import model as PM
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import plan as P
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import report as PR
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import specs as PS
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.model import CA_IDS, PkiError, Settings
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = C.utcnow().replace(microsecond=0)
GROUPS = {"control_plane": ["cp1", "cp2"], "etcd": ["cp1", "cp2", "cp3"], "workers": ["w1", "w2"]}
HOSTVARS = {
    "cp1": {"node_ip": "10.0.0.1"},
    "cp2": {"node_ip": "10.0.0.2"},
    "cp3": {"node_ip": "10.0.0.3"},
    "w1": {"node_ip": "10.0.0.21"},
    "w2": {"node_ip": "10.0.0.22"},
}
HOSTS = ["cp1", "cp2", "cp3", "w1", "w2"]


def apply(disk, entries):
    """What pki_files write does, on a dict."""
    for entry in entries:
        if entry.get("state") == "absent":
            disk.pop(entry["path"], None)
        elif entry.get("content") is None:
            disk[entry["path"]].update(mode=entry["mode"], owner="root", group="root")
        else:
            disk[entry["path"]] = {
                "exists": True,
                "content": entry["content"],
                "mode": entry["mode"],
                "owner": "root",
                "group": "root",
            }


class Cluster:
    """An inventory, its settings and the disks of its hosts."""

    def __init__(self, settings=None, groups=GROUPS, hostvars=HOSTVARS):
        self.settings = settings or Settings()
        self.view = PM.inventory_view(groups, hostvars)
        self.disks = {host: {} for host in self.view_hosts()}
        self.material = None

    def view_hosts(self):
        return [n.host for n in self.view.all_nodes()]

    def specs(self, host):
        return PS.required_certificates(self.view, self.settings, host=host)

    def ca(self, byo=None, force=False, leaves=None, now=NOW, write=True):
        primary = self.view.primary.host
        material, changes, entries, warnings = E.resolve_material(
            self.specs(primary), self.disks[primary], self.settings, byo, force, leaves, now
        )
        if write:
            apply(self.disks[primary], entries)
        # what travels through the registered variable of state=ca
        self.material = E.Material.from_dict(material.to_dict(), now)
        return changes, entries, warnings

    def plan(self, host, now=NOW, reissue=()):
        specs = self.specs(host)
        observed, existing = E.observe(specs, self.disks[host], self.material, self.settings)
        return P.plan(specs, observed, now, self.settings, self.material.not_after(), reissue), existing

    def converge(self, now=NOW, reissue=(), hosts=None):
        """state=present on every host; returns {host: [(name, operation, reasons)]}."""
        out = {}
        for host in hosts or self.view_hosts():
            actions, existing = self.plan(host, now, reissue)
            outcome = E.materialize(actions, existing, self.material, self.settings, self.disks[host], now)
            apply(self.disks[host], outcome.entries)
            out[host] = [(a.spec.name, a.operation, a.reasons) for a in actions]
        return out

    def cert(self, host, path):
        text = self.disks[host][path]["content"]
        if path.endswith(".conf"):
            text = K.parse(text).cert_pem
        return C.load_certificate(text)


@pytest.fixture
def built():
    cluster = Cluster()
    cluster.ca()
    cluster.converge()
    return cluster


def changed(result):
    return {host: actions for host, actions in result.items() if actions}


# --------------------------------------------------------------------------- state=ca


def test_first_run_creates_the_cas_on_the_primary_only():
    cluster = Cluster()
    changes, entries, warnings = cluster.ca()
    assert changes == {
        "kubernetes-ca": "generated",
        "etcd-ca": "generated",
        "front-proxy-ca": "generated",
        "sa": "generated",
    }
    assert warnings == []
    written = {e["path"]: e.get("mode") for e in entries if e.get("state") != "absent"}
    assert written == {
        "/etc/kubernetes/pki/ca.crt": "0644",
        "/etc/kubernetes/pki/ca.key": "0600",
        "/etc/etcd/pki/ca.crt": "0644",
        "/etc/etcd/pki/ca.key": "0600",
        "/etc/kubernetes/pki/front-proxy-ca.crt": "0644",
        "/etc/kubernetes/pki/front-proxy-ca.key": "0600",
        "/etc/kubernetes/pki/sa.key": "0600",
        "/etc/kubernetes/pki/sa.pub": "0644",
    }
    assert all(not disk for host, disk in cluster.disks.items() if host != "cp1")


def test_second_run_reads_the_cas_back():
    cluster = Cluster()
    cluster.ca()
    first = cluster.material.to_dict()
    changes, entries, _ = cluster.ca()
    assert set(changes.values()) == {"existing"} and entries == []
    again = cluster.material.to_dict()
    assert {k: v["key"] for k, v in again.items()} == {k: v["key"] for k, v in first.items()}
    assert {k: v.get("cert") for k, v in again.items()} == {k: v.get("cert") for k, v in first.items()}
    assert {ca.source for ca in cluster.material.cas.values()} == {"existing"}


def test_missing_ca_with_leaves_elsewhere_is_refused(built):
    for path in ("/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/ca.key"):
        del built.disks["cp1"][path]
    with pytest.raises(PkiError) as err:
        built.ca(leaves={"kubernetes-ca": ["w1", "cp2"]})
    message = str(err.value)
    assert "the kubernetes-ca CA is missing on the primary control-plane host cp1" in message
    assert "cp1, cp2, w1" in message  # the primary's own leaves count too
    assert "If cp1 is a new host, list a control-plane host that already runs first in group control_plane" in message
    assert "pki_force_ca" in message and "pki_byo_ca" in message


def test_missing_ca_with_leaves_only_on_other_hosts_is_refused():
    cluster = Cluster()
    with pytest.raises(PkiError, match="certificates it signed exist on w2"):
        cluster.ca(leaves={"etcd-ca": ["w2"]})
    # leaves of another CA do not block this one... but the first CA refused already; front-proxy alone:
    with pytest.raises(PkiError, match="front-proxy-ca CA is missing"):
        cluster.ca(leaves={"front-proxy-ca": ["cp2"]})


def test_missing_ca_without_any_leaf_is_created():
    cluster = Cluster()
    changes, _, _ = cluster.ca(leaves={})
    assert changes["kubernetes-ca"] == "generated"


def test_half_a_ca_is_refused(built):
    del built.disks["cp1"]["/etc/etcd/pki/ca.key"]
    with pytest.raises(PkiError, match="/etc/etcd/pki/ca.crt exists but /etc/etcd/pki/ca.key does not"):
        built.ca()


def test_unusable_ca_on_disk_is_refused(built):
    built.disks["cp1"]["/etc/kubernetes/pki/ca.key"]["content"] = C.private_key_pem(
        C.generate_private_key("ecdsa-p256")
    )
    with pytest.raises(PkiError, match="the kubernetes-ca CA on cp1 cannot be used: .*does not belong"):
        built.ca()


def test_missing_service_account_key_with_a_cluster_is_refused(built):
    del built.disks["cp1"]["/etc/kubernetes/pki/sa.key"]
    with pytest.raises(PkiError, match="service-account key /etc/kubernetes/pki/sa.key is missing"):
        built.ca()


def test_force_replaces_every_ca_and_every_leaf_follows(built):
    old = {ca_id: C.fingerprint(ca.cert) for ca_id, ca in built.material.cas.items()}
    changes, _, _ = built.ca(force=True)
    assert set(changes.values()) == {"forced"}
    assert all(C.fingerprint(built.material.cas[i].cert) != old[i] for i in CA_IDS)
    result = built.converge()
    for host, actions in result.items():
        for name, operation, reasons in actions:
            if operation == PM.ISSUE:
                assert "ca-changed" in reasons, (host, name)
    issued = {(h, n) for h, actions in result.items() for n, op, _ in actions if op == PM.ISSUE}
    assert len(issued) == sum(1 for h in HOSTS for s in built.specs(h) if s.kind == PM.LEAF)
    assert changed(built.converge()) == {}


def test_ca_expiring_before_its_leaves_is_reported():
    cluster = Cluster(Settings(ca_validity_days=100, leaf_validity_days=90, renew_before_days=10))
    cluster.ca()
    _, _, warnings = cluster.ca(now=NOW + timedelta(days=20))
    assert len(warnings) == 3 and "the kubernetes-ca CA expires on" in warnings[0]
    assert "plan a CA rotation" in warnings[0]


# --------------------------------------------------------------------------- bring your own


def corporate_intermediate():
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Corp Root")])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=4000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    inter = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Corp Kubernetes CA")]))
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=2000))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    return root, inter, key


def test_byo_intermediate_end_to_end(tmp_path):
    root, inter, key = corporate_intermediate()
    byo = {"kubernetes-ca": {"cert": C.cert_pem(inter), "key": C.private_key_pem(key), "chain": C.cert_pem(root)}}
    cluster = Cluster()
    changes, _, _ = cluster.ca(byo=byo)
    assert changes["kubernetes-ca"] == "provided" and changes["etcd-ca"] == "generated"
    cp1 = cluster.disks["cp1"]
    assert C.load_certificates(cp1["/etc/kubernetes/pki/ca.crt"]["content"]) == [inter]  # trust anchor: intermediate
    assert C.load_certificates(cp1["/etc/kubernetes/pki/ca-chain.crt"]["content"]) == [root]
    cluster.converge()
    assert changed(cluster.converge()) == {}
    # state=ca with the same BYO material next time: nothing to do
    changes, entries, _ = cluster.ca(byo=byo)
    assert changes["kubernetes-ca"] == "existing" and entries == []
    # a leaf file carries the intermediate; the chain verifies to the corporate root
    (tmp_path / "root.pem").write_text(C.cert_pem(root))
    for host, path in (("cp2", "/etc/kubernetes/pki/apiserver.crt"), ("w1", "/etc/kubernetes/pki/kubelet.crt")):
        leaf_pem = cluster.disks[host][path]["content"]
        assert C.load_certificates(leaf_pem)[1:] == [inter]
        (tmp_path / "leaf.pem").write_text(leaf_pem)
        proc = subprocess.run(
            [
                "openssl",
                "verify",
                "-CAfile",
                str(tmp_path / "root.pem"),
                "-untrusted",
                str(tmp_path / "leaf.pem"),
                str(tmp_path / "leaf.pem"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0 and ": OK" in proc.stdout, proc.stdout + proc.stderr
    # kubeconfigs embed the leaf and its intermediate, and trust the intermediate
    kc = K.parse(cluster.disks["w1"]["/etc/kubernetes/kubelet.conf"]["content"])
    assert C.load_certificates(kc.cert_pem)[1:] == [inter] and C.load_certificates(kc.ca_pem) == [inter]


def test_byo_differing_from_the_ca_on_disk_needs_force(built):
    root, inter, key = corporate_intermediate()
    byo = {"kubernetes-ca": {"cert": C.cert_pem(inter), "key": C.private_key_pem(key), "chain": C.cert_pem(root)}}
    with pytest.raises(
        PkiError, match=r"pki_byo_ca.kubernetes-ca is not the CA on cp1.*pki_force_ca: \[kubernetes-ca\]"
    ):
        built.ca(byo=byo)
    changes, _, _ = built.ca(byo=byo, force=["kubernetes-ca"])
    assert changes["kubernetes-ca"] == "forced" and changes["etcd-ca"] == "existing"
    result = built.converge()
    kinds = {(name, op) for actions in result.values() for name, op, _ in actions}
    assert ("apiserver", PM.ISSUE) in kinds and ("etcd-peer", PM.ISSUE) not in kinds
    assert ("kubernetes-ca", PM.WRITE) in kinds  # every host gets the new CA copy


def test_byo_of_the_ca_already_there_is_accepted(built):
    ca = built.material.cas["etcd-ca"]
    changes, entries, _ = built.ca(byo={"etcd-ca": {"cert": ca.cert_pem, "key": ca.key_pem}})
    assert changes["etcd-ca"] == "existing" and entries == []


def test_byo_service_account_key():
    sa = C.ServiceAccountKey.generate("ecdsa-p256")
    cluster = Cluster()
    changes, _, _ = cluster.ca(byo={"sa": {"key": sa.key_pem}})
    assert changes["sa"] == "provided"
    assert cluster.disks["cp1"]["/etc/kubernetes/pki/sa.pub"]["content"] == sa.public_pem
    other = C.ServiceAccountKey.generate("ecdsa-p256")
    with pytest.raises(PkiError, match="pki_byo_ca.sa is not the service-account key on cp1"):
        cluster.ca(byo={"sa": {"key": other.key_pem}})


@pytest.mark.parametrize(
    "byo, message",
    [
        ({"root-ca": {"cert": "x"}}, "unknown key"),
        ({"etcd-ca": {"cert": "x"}}, "needs 'cert' and 'key'"),
        ({"sa": {"pub": "x"}}, "pki_byo_ca.sa needs 'key'"),
    ],
)
def test_byo_refusals(byo, message):
    with pytest.raises(PkiError, match=message):
        Cluster().ca(byo=byo)


def test_material_from_dict_refusals():
    cluster = Cluster()
    cluster.ca()
    data = cluster.material.to_dict()
    with pytest.raises(PkiError, match="option 'ca' is required"):
        E.Material.from_dict(None)
    with pytest.raises(PkiError, match="no certificate and key for front-proxy-ca"):
        E.Material.from_dict({k: v for k, v in data.items() if k != "front-proxy-ca"})
    with pytest.raises(PkiError, match="no service-account key"):
        E.Material.from_dict({k: v for k, v in data.items() if k != "sa"})


# --------------------------------------------------------------------------- present: idempotence and triggers


def test_full_cluster_then_nothing_to_do(built):
    # every spec's files exist with the right modes
    for host in HOSTS:
        for spec in built.specs(host):
            for path, mode in spec.file_modes().items():
                if path == spec.chain_path:
                    continue
                assert built.disks[host][path]["mode"] == mode, (host, path)
    assert changed(built.converge()) == {}
    # and every leaf verifies against the CA copy on its own host
    for host in HOSTS:
        for spec in built.specs(host):
            if spec.kind == PM.LEAF:
                ca_path = (
                    "/etc/etcd/pki/ca.crt"
                    if spec.issuer == "etcd-ca"
                    else (
                        "/etc/kubernetes/pki/front-proxy-ca.crt"
                        if spec.issuer == "front-proxy-ca"
                        else "/etc/kubernetes/pki/ca.crt"
                    )
                )
                ca = C.load_certificate(built.disks[host][ca_path]["content"])
                cert = built.cert(host, spec.kubeconfig_path or spec.cert_path)
                assert C.signed_by(cert, ca), spec.id


def test_new_api_address_reissues_only_the_apiserver_certificates(built):
    built.settings = replace(built.settings, apiserver_extra_sans=("10.0.0.100", "api.example.org"))
    before = C.fingerprint(built.cert("cp1", "/etc/kubernetes/pki/apiserver-kubelet-client.crt"))
    assert changed(built.converge()) == {
        "cp1": [("apiserver", PM.ISSUE, ("san-changed",))],
        "cp2": [("apiserver", PM.ISSUE, ("san-changed",))],
    }
    cert = built.cert("cp2", "/etc/kubernetes/pki/apiserver.crt")
    assert "api.example.org" in cert.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName)
    assert C.fingerprint(built.cert("cp1", "/etc/kubernetes/pki/apiserver-kubelet-client.crt")) == before


def test_new_endpoint_rewrites_kubeconfigs_without_reissuing_them(built):
    built.settings = replace(built.settings, api_endpoint_host="vip.example.org")
    serial = built.cert("w1", "/etc/kubernetes/kubelet.conf").serial_number
    result = changed(built.converge())
    assert result["w1"] == [
        ("kubelet-client", PM.WRITE, ("content-changed",)),
        ("kube-proxy", PM.WRITE, ("content-changed",)),
    ]
    assert result["cp1"] == [("apiserver", PM.ISSUE, ("san-changed",)), ("admin", PM.WRITE, ("content-changed",))]
    assert built.cert("w1", "/etc/kubernetes/kubelet.conf").serial_number == serial
    assert (
        K.parse(built.disks["w1"]["/etc/kubernetes/kubelet.conf"]["content"]).server == "https://vip.example.org:6443"
    )


def test_renamed_node_reissues_its_certificates_only(built):
    hostvars = dict(HOSTVARS, w2={"node_ip": "10.0.0.22", "node_name": "worker-2"})
    built.view = PM.inventory_view(GROUPS, hostvars)
    result = changed(built.converge())
    assert result == {
        "w2": [
            ("kubelet", PM.ISSUE, ("subject-changed", "san-changed")),
            ("kubelet-client", PM.ISSUE, ("subject-changed",)),
        ],
    }


def test_expiry_window(built):
    # 335 days later: 30 days left = inside the default window
    later = NOW + timedelta(days=335)
    built.ca(now=later)
    result = built.converge(now=later)
    leaves = sum(1 for h in HOSTS for s in built.specs(h) if s.kind == PM.LEAF)
    assert sum(len(a) for a in result.values()) == leaves
    assert {reasons for actions in result.values() for _, _, reasons in actions} == {("expiring",)}
    assert changed(built.converge(now=later)) == {}


def test_one_day_before_the_window_nothing_happens(built):
    assert changed(built.converge(now=NOW + timedelta(days=334))) == {}


def test_key_algorithm_change_reissues_leaves_but_keeps_the_cas(built):
    fingerprints = {i: C.fingerprint(ca.cert) for i, ca in built.material.cas.items()}
    built.settings = replace(built.settings, key_algorithm="rsa-2048")
    built.ca()
    assert {i: C.fingerprint(ca.cert) for i, ca in built.material.cas.items()} == fingerprints
    result = built.converge(hosts=["w1"])
    assert result["w1"] == [
        ("kubelet", PM.ISSUE, ("key-algorithm-changed", "usage-changed")),  # RSA servers add keyEncipherment
        ("kubelet-client", PM.ISSUE, ("key-algorithm-changed",)),
        ("kube-proxy", PM.ISSUE, ("key-algorithm-changed",)),
    ]


def test_damaged_files_are_repaired(built):
    disk = built.disks["cp3"]
    disk["/etc/etcd/pki/peer.key"]["content"] = C.private_key_pem(C.generate_private_key("ecdsa-p256"))
    del disk["/etc/etcd/pki/server.key"]
    disk["/etc/etcd/pki/healthcheck-client.crt"]["content"] = "garbage"
    disk["/etc/etcd/pki/ca.crt"]["mode"] = "0666"
    assert changed(built.converge()) == {
        "cp3": [
            ("etcd-ca", PM.PERMISSIONS, ("permissions",)),
            ("etcd-server", PM.ISSUE, ("key-missing",)),
            ("etcd-peer", PM.ISSUE, ("key-mismatch",)),
            ("etcd-healthcheck-client", PM.ISSUE, ("missing",)),
        ]
    }
    assert disk["/etc/etcd/pki/ca.crt"]["mode"] == "0644"
    assert changed(built.converge()) == {}


def test_key_with_loose_permissions_is_tightened_not_reissued(built):
    disk = built.disks["w1"]
    serial = built.cert("w1", "/etc/kubernetes/pki/kubelet.crt").serial_number
    disk["/etc/kubernetes/pki/kubelet.key"]["mode"] = "0644"
    disk["/etc/kubernetes/kube-proxy.conf"]["owner"] = "nobody"
    actions, existing = built.plan("w1")
    assert [(a.spec.name, a.operation) for a in actions] == [
        ("kubelet", PM.PERMISSIONS),
        ("kube-proxy", PM.PERMISSIONS),
    ]
    outcome = E.materialize(actions, existing, built.material, built.settings, disk, NOW)
    assert outcome.entries == [
        {"path": "/etc/kubernetes/pki/kubelet.crt", "mode": "0644"},
        {"path": "/etc/kubernetes/pki/kubelet.key", "mode": "0600"},
        {"path": "/etc/kubernetes/kube-proxy.conf", "mode": "0600"},
    ]
    apply(disk, outcome.entries)
    assert built.cert("w1", "/etc/kubernetes/pki/kubelet.crt").serial_number == serial
    assert changed(built.converge()) == {}


def test_a_host_with_a_foreign_ca_copy_gets_the_cluster_ca_and_new_leaves(built):
    stranger = C.create_ca("kubernetes-ca", "ecdsa-p256", 365, NOW)
    built.disks["w2"]["/etc/kubernetes/pki/ca.crt"]["content"] = stranger.cert_pem
    assert changed(built.converge()) == {"w2": [("kubernetes-ca", PM.WRITE, ("ca-changed",))]}
    # a leaf signed by another CA is reissued
    leaf = C.issue_leaf(next(s for s in built.specs("w2") if s.name == "kubelet"), stranger, "ecdsa-p256", 365, NOW)
    built.disks["w2"]["/etc/kubernetes/pki/kubelet.crt"]["content"] = leaf.cert_pem
    built.disks["w2"]["/etc/kubernetes/pki/kubelet.key"]["content"] = leaf.key_pem
    assert changed(built.converge()) == {"w2": [("kubelet", PM.ISSUE, ("ca-changed",))]}


def test_reissue_all_changes_every_leaf_serial_and_keeps_the_cas(built):
    serials = {}
    for host in HOSTS:
        for spec in built.specs(host):
            if spec.kind == PM.LEAF:
                serials[spec.id] = built.cert(host, spec.kubeconfig_path or spec.cert_path).serial_number
    cas = {host: dict(built.disks[host]) for host in HOSTS}
    result = built.converge(reissue=["all"])
    assert {reasons for actions in result.values() for _, _, reasons in actions} == {("forced",)}
    for host in HOSTS:
        for spec in built.specs(host):
            if spec.kind == PM.LEAF:
                assert built.cert(host, spec.kubeconfig_path or spec.cert_path).serial_number != serials[spec.id]
            elif spec.kind == PM.CA_COPY:
                assert built.disks[host][spec.cert_path] == cas[host][spec.cert_path]


def test_stale_chain_file_is_removed(built):
    built.disks["w1"]["/etc/kubernetes/pki/ca-chain.crt"] = {
        "exists": True,
        "content": "old",
        "mode": "0644",
        "owner": "root",
        "group": "root",
    }
    actions, existing = built.plan("w1")
    assert [(a.spec.name, a.reasons) for a in actions] == [("kubernetes-ca", ("ca-changed",))]
    outcome = E.materialize(actions, existing, built.material, built.settings, built.disks["w1"], NOW)
    assert {"path": "/etc/kubernetes/pki/ca-chain.crt", "state": "absent"} in outcome.entries


# --------------------------------------------------------------------------- reporting


def test_check_mode_description_and_diff_hold_no_key_material():
    cluster = Cluster()
    cluster.ca()
    actions, existing = cluster.plan("cp1")
    items = PR.describe_plan(actions, None, cluster.material, cluster.settings, NOW)
    apiserver = next(i for i in items if i["name"] == "apiserver")
    assert apiserver["operation"] == "issue" and apiserver["fingerprint"] == "(new)"
    assert apiserver["subject"] == "CN=kube-apiserver" and "IP:10.96.0.1" in apiserver["sans"]
    diff = PR.diff(actions, items, cluster.disks["cp1"], existing, "cp1", NOW)
    text = diff["before"] + diff["after"] + repr(items)
    secrets = [ca.key_pem for ca in cluster.material.cas.values()] + [cluster.material.sa.key_pem]
    assert "PRIVATE KEY" not in text and not any(s.strip().splitlines()[1] in text for s in secrets)
    assert "apiserver@cp1 /etc/kubernetes/pki/apiserver.crt:" in diff["after"]


def test_real_run_description_and_diff(built):
    built.settings = replace(built.settings, apiserver_extra_sans=("extra.example.org",))
    actions, existing = built.plan("cp1")
    old = existing["apiserver@cp1"].cert
    outcome = E.materialize(actions, existing, built.material, built.settings, built.disks["cp1"], NOW)
    items = PR.describe_plan(actions, outcome, built.material, built.settings, NOW)
    new = outcome.issued["apiserver@cp1"]
    assert items[0]["serial"] == "%X" % new.serial_number and items[0]["fingerprint"] == C.fingerprint(new)
    diff = PR.diff(actions, items, built.disks["cp1"], existing, "cp1", NOW)
    assert C.fingerprint(old) in diff["before"] and C.fingerprint(new) in diff["after"]
    assert "DNS:extra.example.org" in diff["after"] and "DNS:extra.example.org" not in diff["before"]
    assert "reasons: san-changed" in diff["after"]
    keys = [e["content"] for e in outcome.entries if e["path"].endswith(".key")]
    assert keys and not any(k.splitlines()[1] in diff["before"] + diff["after"] + repr(items) for k in keys)


def test_inventory_certificates(built):
    specs = built.specs("w1")
    certs, issuers, missing = PR.inventory_certificates(specs, built.disks["w1"], NOW)
    assert issuers == ["kubernetes-ca"] and missing == []
    assert [c["name"] for c in certs] == ["kubernetes-ca", "kubelet", "kubelet-client", "kube-proxy"]
    kubelet = certs[1]
    assert (
        kubelet["issuer_ok"] is True
        and kubelet["days_left"] == 365
        and kubelet["subject"].startswith("CN=system:node:w1")
    )
    assert E.public_paths(specs) == [
        "/etc/kubernetes/pki/ca.crt",
        "/etc/kubernetes/pki/kubelet.crt",
        "/etc/kubernetes/kubelet.conf",
        "/etc/kubernetes/kube-proxy.conf",
    ]
    empty = Cluster()
    certs, issuers, missing = PR.inventory_certificates(empty.specs("cp3"), {}, NOW)
    assert (
        certs == [] and issuers == [] and missing == ["etcd-ca", "etcd-server", "etcd-peer", "etcd-healthcheck-client"]
    )


@pytest.mark.parametrize(
    "value, expected",
    [
        (True, {"kubernetes-ca", "etcd-ca", "front-proxy-ca", "sa"}),
        (False, set()),
        (None, set()),
        ("etcd-ca", {"etcd-ca"}),
        (["front-proxy-ca", "sa"], {"front-proxy-ca", "sa"}),
    ],
)
def test_force_set(value, expected):
    assert E.force_set(value) == expected


def test_force_set_refuses_unknown_ids():
    with pytest.raises(PkiError, match="unknown CA id"):
        E.force_set(["apiserver"])


def test_force_one_ca_keeps_the_others(built):
    keep = C.fingerprint(built.material.cas["kubernetes-ca"].cert)
    changes, _, _ = built.ca(force=["front-proxy-ca"])
    assert changes == {"kubernetes-ca": "existing", "etcd-ca": "existing", "front-proxy-ca": "forced", "sa": "existing"}
    assert C.fingerprint(built.material.cas["kubernetes-ca"].cert) == keep
    result = changed(built.converge())
    assert result == {
        # state=ca already wrote the new CA on the primary
        "cp1": [("front-proxy-client", PM.ISSUE, ("ca-changed",))],
        "cp2": [("front-proxy-ca", PM.WRITE, ("ca-changed",)), ("front-proxy-client", PM.ISSUE, ("ca-changed",))],
    }


def test_provided_ca_against_the_files_on_the_primary():
    spec = PS.CertSpec("etcd-ca", "cp1", PM.CA_COPY, "etcd-ca", cert_path="/pki/ca.crt")
    mine = E.create_ca("etcd-ca", "ecdsa-p256", 3650, NOW)
    other = E.create_ca("etcd-ca", "ecdsa-p256", 3650, NOW)
    entry = {"cert": mine.cert_pem, "key": mine.key_pem}

    def decide(texts, force=False):
        return E._provided_ca("etcd-ca", spec, entry, texts, force, "cp1", NOW)[1]

    assert decide((None, None, "")) == "provided"
    assert decide((mine.cert_pem, mine.key_pem, "")) == "existing"
    assert decide((mine.cert_pem, other.key_pem, "")) == "provided"  # the key on disk is rewritten
    assert decide((other.cert_pem, other.key_pem, ""), force=True) == "forced"
    with pytest.raises(PkiError, match=r"pki_byo_ca.etcd-ca is not the CA on cp1 \(/pki/ca.crt\)"):
        decide((other.cert_pem, other.key_pem, ""))
    with pytest.raises(PkiError, match="pki_byo_ca.etcd-ca needs 'cert' and 'key'"):
        E._provided_ca("etcd-ca", spec, {"cert": mine.cert_pem}, (None, None, ""), False, "cp1", NOW)
