"""Tests of module_utils/pki/ (model, specs, plan):
inventory conventions, the certificate set, and the plan (pure, no crypto)."""

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import model as PM
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import plan as P
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import specs as PS
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.model import (
    CA_COPY,
    ETCD_CA,
    FRONT_PROXY_CA,
    ISSUE,
    KEYPAIR,
    KUBERNETES_CA,
    LEAF,
    PERMISSIONS,
    WRITE,
    PkiError,
    Settings,
)
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki.plan import CertFacts, Observed

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)

HA = {
    "control_plane": ["cp1", "cp2", "cp3"],
    "etcd": ["cp1", "cp2", "cp3"],
    "workers": ["w1", "w2"],
}
HA_VARS = {
    "cp1": {"ansible_host": "192.168.10.11"},
    "cp2": {"ansible_host": "192.168.10.12"},
    "cp3": {"ansible_host": "192.168.10.13"},
    "w1": {"ansible_host": "192.168.10.21", "node_name": "worker-1"},
    "w2": {"node_ip": "192.168.10.22", "ansible_host": "w2.mgmt.example.org"},
}


def view(groups=None, hostvars=None, node_groups=("workers",)):
    return PM.inventory_view(groups or HA, HA_VARS if hostvars is None else hostvars, node_groups)


def by_id(specs):
    return {s.id: s for s in specs}


# --------------------------------------------------------------------------- inventory


def test_nodes_take_names_and_addresses_from_the_conventions():
    v = view()
    nodes = {n.host: n for n in v.all_nodes()}
    assert nodes["cp1"] == PM.Node("cp1", "cp1", ("cp1",), ("192.168.10.11",))
    # node_name wins for the name, inventory_hostname stays a DNS SAN
    assert nodes["w1"] == PM.Node("w1", "worker-1", ("worker-1", "w1"), ("192.168.10.21",))
    # node_ip wins over ansible_host; a DNS ansible_host is not an address
    assert nodes["w2"].ip_addresses == ("192.168.10.22",)
    assert v.primary.host == "cp1"
    assert [n.host for n in v.nodes] == ["w1", "w2"]


@pytest.mark.parametrize(
    "hostvars, ips",
    [
        ({"ansible_host": "127.0.0.1"}, ()),  # loopback (ssh port forward) is not a node address
        ({"ansible_host": "node1.example.org"}, ()),
        ({"node_ip": ["10.0.0.5", "fd00::5", "10.0.0.5"]}, ("10.0.0.5", "fd00::5")),
        ({"node_ip": "fd00:0:0::7"}, ("fd00::7",)),
        ({}, ()),
    ],
)
def test_node_addresses(hostvars, ips):
    v = PM.inventory_view({"control_plane": ["n1"], "etcd": ["n1"]}, {"n1": hostvars})
    assert v.primary.ip_addresses == ips


@pytest.mark.parametrize(
    "groups, hostvars, message",
    [
        ({"etcd": ["e1"]}, {}, "no host in group 'control_plane'"),
        ({"control_plane": ["c1"]}, {}, "no host in group 'etcd'"),
        ({"control_plane": ["c1"], "etcd": ["c1"]}, {"c1": {"node_ip": "nope"}}, "node_ip 'nope' is not an IP"),
        ({"control_plane": ["c1"], "etcd": ["c1"]}, {"c1": {"node_name": "10.0.0.1"}}, "must be a host name"),
        (
            {"control_plane": ["c1"], "etcd": ["c1"], "workers": ["w1"]},
            {"w1": {"node_name": "c1"}},
            "both use node name 'c1'",
        ),
    ],
)
def test_inventory_refusals(groups, hostvars, message):
    with pytest.raises(PkiError, match=message):
        PM.inventory_view(groups, hostvars)


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"key_algorithm": "dsa-1024"}, "use one of ecdsa-p256, rsa-2048, rsa-4096"),
        ({"renew_before_days": 365}, "smaller than pki_leaf_validity_days"),
        ({"renew_before_days": -1}, "must be >= 0"),
        ({"leaf_validity_days": 0}, "at least 1"),
        ({"leaf_validity_days": 4000}, "longer than pki_ca_validity_days"),
        ({"service_cidr": "10.96.0.0/33"}, "is not a network"),
        ({"service_cidr": "10.96.0.0/31"}, "too small"),
        ({"pki_dir": "etc/pki"}, "absolute path"),
        ({"api_endpoint_port": 70000}, "TCP port"),
        ({"apiserver_extra_sans": ("ok", "")}, "pki_apiserver_extra_sans"),
    ],
)
def test_settings_refusals(changes, message):
    with pytest.raises(PkiError, match=message):
        Settings(**changes)


@pytest.mark.parametrize(
    "cidr, ip", [("10.96.0.0/12", "10.96.0.1"), ("10.32.0.0/24", "10.32.0.1"), ("fd00:10:96::/112", "fd00:10:96::1")]
)
def test_service_ip_is_the_first_address(cidr, ip):
    assert PM.service_ip(cidr) == ip


# --------------------------------------------------------------------------- certificate set

CP_NAMES = [
    "kubernetes-ca",
    "etcd-ca",
    "front-proxy-ca",
    "sa",
    "apiserver",
    "apiserver-kubelet-client",
    "front-proxy-client",
    "apiserver-etcd-client",
    "controller-manager",
    "scheduler",
    "admin",
    "apiserver-health-client",
]
ETCD_NAMES = ["etcd-server", "etcd-peer", "etcd-healthcheck-client"]
NODE_NAMES = ["kubelet", "kubelet-client", "kube-proxy"]
LB_NAMES = ["kubernetes-ca", "apiserver-health-client"]


@pytest.mark.parametrize(
    "groups, expected",
    [
        # HA, stacked etcd
        (HA, {"cp1": CP_NAMES + ETCD_NAMES, "w1": ["kubernetes-ca"] + NODE_NAMES}),
        # single node: everything on one host, each CA copy once
        (
            {"control_plane": ["lab1"], "etcd": ["lab1"], "workers": ["lab1"]},
            {"lab1": CP_NAMES + ETCD_NAMES + NODE_NAMES},
        ),
        # external etcd: etcd members get the etcd CA certificate only
        (
            {"control_plane": ["cp1"], "etcd": ["e1", "e2", "e3"], "workers": ["w1"], "load_balancers": ["lb1"]},
            {"cp1": CP_NAMES, "e1": ["etcd-ca"] + ETCD_NAMES, "w1": ["kubernetes-ca"] + NODE_NAMES, "lb1": LB_NAMES},
        ),
    ],
)
def test_certificate_set_per_topology(groups, expected):
    v = PM.inventory_view(groups, {})
    for host, names in expected.items():
        assert [s.name for s in PS.required_certificates(v, Settings(), host=host)] == names


@pytest.mark.parametrize(
    "groups, expected",
    [
        # load balancers on dedicated hosts: CA certificate + health client there, and on every control-plane host
        (
            {
                "control_plane": ["cp1", "cp2"],
                "etcd": ["cp1", "cp2"],
                "workers": ["w1"],
                "load_balancers": ["lb1", "lb2"],
            },
            ["cp1", "cp2", "lb1", "lb2"],
        ),
        # no load_balancers group (VIP on the control-plane hosts, or a local proxy): the control-plane hosts only
        ({"control_plane": ["cp1"], "etcd": ["e1"], "workers": ["w1", "w2"]}, ["cp1"]),
        # a load balancer that is also a worker gets both sets, the CA copy once
        ({"control_plane": ["cp1"], "etcd": ["cp1"], "workers": ["w1"], "load_balancers": ["w1"]}, ["cp1", "w1"]),
    ],
)
def test_health_client_hosts(groups, expected):
    specs = PS.required_certificates(PM.inventory_view(groups, {}), Settings(pki_dir="/srv/pki"))
    health = [s for s in specs if s.name == "apiserver-health-client"]
    assert [s.host for s in health] == expected
    for spec in health:
        assert spec.paths == ("/srv/pki/apiserver-health-client.crt", "/srv/pki/apiserver-health-client.key")
        assert spec.file_modes()["/srv/pki/apiserver-health-client.key"] == "0600"
        assert (spec.profile, spec.issuer, spec.organizations, spec.dns_names, spec.ip_addresses) == (
            PM.CLIENT,
            KUBERNETES_CA,
            (),
            (),
            (),
        )
        ca = [s for s in specs if s.host == spec.host and s.name == KUBERNETES_CA]
        assert len(ca) == 1 and ca[0].cert_path == "/srv/pki/ca.crt"
        assert (ca[0].key_path is not None) == (spec.host in groups["control_plane"])
    assert "apiserver-health-client" in PS.leaf_names()
    assert PS.validate_reissue(["apiserver-health-client"]) == ("apiserver-health-client",)


def test_ca_keys_only_on_control_plane_hosts():
    specs = PS.required_certificates(
        PM.inventory_view({"control_plane": ["cp1"], "etcd": ["e1"], "workers": ["w1"]}, {}), Settings()
    )
    copies = {s.id: s for s in specs if s.kind == CA_COPY}
    assert copies["kubernetes-ca@cp1"].key_path == "/etc/kubernetes/pki/ca.key"
    assert copies["etcd-ca@cp1"].key_path == "/etc/etcd/pki/ca.key"
    assert copies["front-proxy-ca@cp1"].key_path == "/etc/kubernetes/pki/front-proxy-ca.key"
    assert copies["kubernetes-ca@w1"].key_path is None
    assert copies["etcd-ca@e1"].key_path is None
    assert copies["etcd-ca@e1"].cert_path == "/etc/etcd/pki/ca.crt"


# (name, issuer, profile, CN, O) -- the Kubernetes conventions
IDENTITIES = [
    ("apiserver", KUBERNETES_CA, PM.SERVER, "kube-apiserver", ()),
    ("apiserver-kubelet-client", KUBERNETES_CA, PM.CLIENT, "kube-apiserver-kubelet-client", ()),
    ("front-proxy-client", FRONT_PROXY_CA, PM.CLIENT, "front-proxy-client", ()),
    ("apiserver-etcd-client", ETCD_CA, PM.CLIENT, "kube-apiserver-etcd-client", ()),
    ("controller-manager", KUBERNETES_CA, PM.CLIENT, "system:kube-controller-manager", ()),
    ("scheduler", KUBERNETES_CA, PM.CLIENT, "system:kube-scheduler", ()),
    ("admin", KUBERNETES_CA, PM.CLIENT, "kubernetes-admin", ("system:masters",)),
    # /readyz for the load balancer: any authenticated user may read it (system:public-info-viewer), so no group
    ("apiserver-health-client", KUBERNETES_CA, PM.CLIENT, "kubesmith:apiserver-health", ()),
    ("etcd-server", ETCD_CA, PM.PEER, "cp1", ()),
    ("etcd-peer", ETCD_CA, PM.PEER, "cp1", ()),
    ("etcd-healthcheck-client", ETCD_CA, PM.CLIENT, "kube-etcd-healthcheck-client", ()),
    ("kubelet", KUBERNETES_CA, PM.SERVER, "system:node:worker-1", ("system:nodes",)),
    ("kubelet-client", KUBERNETES_CA, PM.CLIENT, "system:node:worker-1", ("system:nodes",)),
    ("kube-proxy", KUBERNETES_CA, PM.CLIENT, "system:kube-proxy", ()),
]


@pytest.mark.parametrize("name, issuer, profile, cn, orgs", IDENTITIES)
def test_identities(name, issuer, profile, cn, orgs):
    specs = {s.name: s for s in PS.required_certificates(view(), Settings()) if s.host in ("cp1", "w1")}
    spec = specs[name]
    assert (spec.kind, spec.issuer, spec.profile, spec.common_name, spec.organizations) == (
        LEAF,
        issuer,
        profile,
        cn,
        orgs,
    )


def test_apiserver_sans():
    settings = Settings(
        cluster_domain="corp.internal",
        service_cidr="10.32.0.0/16",
        api_endpoint_host="k8s.example.org",
        apiserver_extra_sans=("10.0.0.100", "API.Example.org"),
    )
    spec = by_id(PS.required_certificates(view(), settings))["apiserver@cp2"]
    assert spec.dns_names == (
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.corp.internal",
        "localhost",
        "cp1",
        "cp2",
        "cp3",
        "k8s.example.org",
        "api.example.org",
    )
    assert spec.ip_addresses == (
        "10.32.0.1",
        "127.0.0.1",
        "192.168.10.11",
        "192.168.10.12",
        "192.168.10.13",
        "10.0.0.100",
    )


def test_endpoint_defaults_to_the_primary_and_urls_bracket_ipv6():
    v = view()
    assert PM.endpoint_url(v, Settings()) == "https://192.168.10.11:6443"
    assert PM.endpoint_url(v, Settings(api_endpoint_host="fd00::10", api_endpoint_port=443)) == "https://[fd00::10]:443"
    specs = by_id(PS.required_certificates(v, Settings(api_endpoint_host="vip.example.org")))
    assert specs["admin@cp1"].kubeconfig_server == "https://vip.example.org:6443"
    assert specs["kubelet-client@w1"].kubeconfig_server == "https://vip.example.org:6443"
    assert specs["controller-manager@cp1"].kubeconfig_server == "https://127.0.0.1:6443"
    local = by_id(PS.required_certificates(v, Settings(api_endpoint_host="vip.example.org", control_plane_server=None)))
    assert local["scheduler@cp1"].kubeconfig_server == "https://vip.example.org:6443"


def test_etcd_and_kubelet_sans():
    specs = by_id(PS.required_certificates(view(), Settings()))
    assert specs["etcd-peer@cp3"].dns_names == ("cp3", "localhost")
    assert specs["etcd-peer@cp3"].ip_addresses == ("192.168.10.13", "127.0.0.1")
    assert specs["etcd-server@cp3"].ip_addresses == ("192.168.10.13", "127.0.0.1")
    assert specs["kubelet@w1"].dns_names == ("worker-1", "w1")
    assert specs["kubelet@w1"].ip_addresses == ("192.168.10.21",)


def test_paths_and_modes_follow_the_settings():
    settings = Settings(pki_dir="/srv/pki", etcd_pki_dir="/srv/etcd", kubeconfig_dir="/srv/conf")
    specs = by_id(PS.required_certificates(view(), settings))
    assert specs["apiserver@cp1"].file_modes() == {"/srv/pki/apiserver.crt": "0644", "/srv/pki/apiserver.key": "0600"}
    assert specs["etcd-peer@cp1"].paths == ("/srv/etcd/peer.crt", "/srv/etcd/peer.key")
    assert specs["admin@cp1"].file_modes() == {"/srv/conf/admin.conf": "0600"}
    assert specs["sa@cp1"].file_modes() == {"/srv/pki/sa.key": "0600", "/srv/pki/sa.pub": "0644"}
    assert specs["kubernetes-ca@w1"].file_modes() == {"/srv/pki/ca.crt": "0644", "/srv/pki/ca-chain.crt": "0644"}


def test_node_groups_decide_who_gets_node_certificates():
    v = view(node_groups=("workers", "control_plane"))
    assert "kubelet" in [s.name for s in PS.required_certificates(v, Settings(), host="cp1")]
    assert "kubelet" not in [s.name for s in PS.required_certificates(view(), Settings(), host="cp1")]


def test_spec_ids_are_unique():
    specs = PS.required_certificates(
        PM.inventory_view({"control_plane": ["a"], "etcd": ["a"], "workers": ["a"]}, {}), Settings()
    )
    assert len({s.id for s in specs}) == len(specs)


@pytest.mark.parametrize(
    "profile, algorithm, ku, eku",
    [
        (PM.SERVER, "ecdsa-p256", {"digitalSignature"}, {"serverAuth"}),
        (PM.SERVER, "rsa-2048", {"digitalSignature", "keyEncipherment"}, {"serverAuth"}),
        (PM.CLIENT, "rsa-4096", {"digitalSignature"}, {"clientAuth"}),
        (PM.CLIENT, "ecdsa-p256", {"digitalSignature"}, {"clientAuth"}),
        (PM.PEER, "ecdsa-p256", {"digitalSignature"}, {"serverAuth", "clientAuth"}),
        (PM.PEER, "rsa-2048", {"digitalSignature", "keyEncipherment"}, {"serverAuth", "clientAuth"}),
    ],
)
def test_key_usages(profile, algorithm, ku, eku):
    assert PS.key_usage(profile, algorithm) == ku
    assert PS.extended_key_usage(profile) == eku


# --------------------------------------------------------------------------- plan

SETTINGS = Settings()
SPEC = by_id(PS.required_certificates(view(), SETTINGS))["apiserver@cp1"]


def facts(spec=SPEC, **changes):
    """Facts of a certificate that matches ``spec`` perfectly, then ``changes``."""
    base = CertFacts(
        common_name=spec.common_name,
        organizations=spec.organizations,
        dns_names=spec.dns_names,
        ip_addresses=spec.ip_addresses,
        not_before=NOW - timedelta(days=10),
        not_after=NOW + timedelta(days=355),
        serial=1,
        fingerprint="AA",
        issuer="CN=kubernetes-ca",
        subject="CN=" + spec.common_name,
        key_usage=PS.key_usage(spec.profile, SETTINGS.key_algorithm),
        extended_key_usage=PS.extended_key_usage(spec.profile),
        key_algorithm=SETTINGS.key_algorithm,
        signed_by_issuer=True,
    )
    return replace(base, **changes)


GOOD = Observed(cert=facts(), key_matches=True, present=True)


@pytest.mark.parametrize(
    "observed, reasons",
    [
        (GOOD, ()),
        (Observed(), ("missing",)),
        (replace(GOOD, key_matches=None), ("key-missing",)),
        (replace(GOOD, key_matches=False), ("key-mismatch",)),
        (replace(GOOD, cert=facts(key_algorithm="rsa-2048")), ("key-algorithm-changed",)),
        (replace(GOOD, cert=facts(signed_by_issuer=False)), ("ca-changed",)),
        (replace(GOOD, cert=facts(common_name="apiserver")), ("subject-changed",)),
        (replace(GOOD, cert=facts(organizations=("system:masters",))), ("subject-changed",)),
        (replace(GOOD, cert=facts(dns_names=SPEC.dns_names[:-1])), ("san-changed",)),
        (replace(GOOD, cert=facts(ip_addresses=SPEC.ip_addresses + ("10.9.9.9",))), ("san-changed",)),
        (replace(GOOD, cert=facts(extended_key_usage=frozenset({"clientAuth"}))), ("usage-changed",)),
        (replace(GOOD, cert=facts(key_usage=frozenset({"digitalSignature", "keyEncipherment"}))), ("usage-changed",)),
        (replace(GOOD, cert=facts(is_ca=True)), ("usage-changed",)),
        (replace(GOOD, cert=facts(not_after=NOW + timedelta(days=30))), ("expiring",)),
        (replace(GOOD, cert=facts(not_after=NOW - timedelta(days=1))), ("expiring",)),
        (replace(GOOD, cert=facts(not_after=NOW + timedelta(days=31))), ()),
        (
            replace(GOOD, key_matches=False, cert=facts(common_name="x", signed_by_issuer=False)),
            ("key-mismatch", "ca-changed", "subject-changed"),
        ),
    ],
)
def test_leaf_reasons(observed, reasons):
    actions = P.plan([SPEC], {SPEC.id: observed}, NOW, SETTINGS)
    assert [(a.operation, a.reasons) for a in actions] == ([(ISSUE, reasons)] if reasons else [])


def test_names_and_addresses_compare_normalised():
    cert = facts(dns_names=tuple(reversed([d.upper() for d in SPEC.dns_names])), ip_addresses=SPEC.ip_addresses[::-1])
    assert P.plan([SPEC], {SPEC.id: replace(GOOD, cert=cert)}, NOW, SETTINGS) == []


def test_expiry_does_not_loop_when_the_ca_ends_first():
    observed = {SPEC.id: replace(GOOD, cert=facts(not_after=NOW + timedelta(days=10)))}
    # the CA ends on the same day as the leaf: a new leaf would not last longer
    assert P.plan([SPEC], observed, NOW, SETTINGS, {KUBERNETES_CA: NOW + timedelta(days=10)}) == []
    # the CA has 20 more days: reissuing gains something
    actions = P.plan([SPEC], observed, NOW, SETTINGS, {KUBERNETES_CA: NOW + timedelta(days=30)})
    assert actions[0].reasons == ("expiring",)


@pytest.mark.parametrize("reissue, issued", [(["all"], True), (["apiserver"], True), (["kubelet"], False), ([], False)])
def test_reissue_forces(reissue, issued):
    actions = P.plan([SPEC], {SPEC.id: GOOD}, NOW, SETTINGS, reissue=reissue)
    assert [a.reasons for a in actions] == ([("forced",)] if issued else [])


@pytest.mark.parametrize("names", [["kubernetes-ca"], ["sa"], ["apiserver", "nope"]])
def test_reissue_refuses_unknown_names_and_cas(names):
    with pytest.raises(PkiError, match="unknown certificate name"):
        P.plan([SPEC], {}, NOW, SETTINGS, reissue=names)


def test_file_level_operations():
    specs = by_id(PS.required_certificates(view(), SETTINGS))
    copy, sa, admin = specs["kubernetes-ca@w1"], specs["sa@cp1"], specs["admin@cp1"]
    admin_ok = Observed(cert=facts(admin), key_matches=True, present=True)
    cases = [
        (copy, Observed(), WRITE, ("missing",)),
        (copy, Observed(present=True, content_current=False), WRITE, ("ca-changed",)),
        (copy, Observed(present=True, permissions_ok=False), PERMISSIONS, ("permissions",)),
        (sa, Observed(present=True, content_current=False), WRITE, ("content-changed",)),
        (admin, replace(admin_ok, content_current=False), WRITE, ("content-changed",)),
        (admin, replace(admin_ok, permissions_ok=False), PERMISSIONS, ("permissions",)),
        # a reissue rewrites everything anyway: no separate permission action
        (admin, replace(admin_ok, permissions_ok=False, key_matches=False), ISSUE, ("key-mismatch",)),
    ]
    for spec, observed, operation, reasons in cases:
        actions = P.plan([spec], {spec.id: observed}, NOW, SETTINGS)
        assert [(a.operation, a.reasons) for a in actions] == [(operation, reasons)], spec.id
    assert P.plan([copy, sa], {copy.id: Observed(present=True), sa.id: Observed(present=True)}, NOW, SETTINGS) == []


def test_kinds_cover_every_spec():
    kinds = {s.kind for s in PS.required_certificates(view(), SETTINGS)}
    assert kinds == {LEAF, CA_COPY, KEYPAIR}


def test_summary_message():
    specs = PS.required_certificates(view(), SETTINGS, host="w1")
    actions = P.plan(specs, {}, NOW, SETTINGS)
    assert (
        P.Summary.of(actions).message() == "issue 3, write 1, fix permissions of 0: kubernetes-ca, kubelet, "
        "kubelet-client, kube-proxy"
    )
    assert P.Summary.of([]).message() == "PKI up to date"


def test_in_local_mode_every_node_gets_the_health_client_certificate_etcd_only_hosts_not():
    groups = {"control_plane": ["cp1"], "etcd": ["e1"], "workers": ["w1"]}
    v = PM.inventory_view(groups, {})
    local = Settings(health_client_on_nodes=True, node_groups=("control_plane", "workers"))
    vip = Settings(node_groups=("control_plane", "workers"))
    assert "apiserver-health-client" in [s.name for s in PS.required_certificates(v, local, host="w1")]
    assert "apiserver-health-client" not in [s.name for s in PS.required_certificates(v, vip, host="w1")]
    assert "apiserver-health-client" not in [s.name for s in PS.required_certificates(v, local, host="e1")]
