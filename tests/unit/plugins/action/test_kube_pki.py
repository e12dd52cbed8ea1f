"""Tests of the kube_pki action plugin with its remote boundary faked.

``_execute_module`` is replaced by a fake that runs the real ``pki_files`` functions against ``tmp_path/<host>``,
so the files read and written are real (``openssl verify`` runs on them); only the transport is fake. The real
proof on hosts is a Molecule scenario.
"""

import json
import os
import pwd
import re
import subprocess
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

try:  # ansible-core >= 2.19 templates only strings marked as coming from trusted sources (inventory, vars files)
    from ansible.template import trust_as_template
except ImportError:  # pragma: no cover - older ansible-core templates every string

    def trust_as_template(value):
        return value


from ansible_collections.kubesmith.cluster.plugins.action.kube_pki import ActionModule
from ansible_collections.kubesmith.cluster.plugins.module_utils.pki import crypto as C
from ansible_collections.kubesmith.cluster.plugins.modules import pki_files

GROUPS = {
    "all": ["cp1", "cp2", "cp3", "w1", "lb1"],
    "control_plane": ["cp1", "cp2", "cp3"],
    "etcd": ["cp1", "cp2", "cp3"],
    "workers": ["w1"],
    "load_balancers": ["lb1"],
}
HOSTVARS = {
    "cp1": {"ansible_host": "10.1.0.11"},
    "cp2": {"ansible_host": "10.1.0.12"},
    "cp3": {"ansible_host": "10.1.0.13"},
    "w1": {"ansible_host": "10.1.0.21", "node_name": "worker-1"},
    "lb1": {"ansible_host": "10.1.0.5"},
}
PKI_HOSTS = ["cp1", "cp2", "cp3", "w1"]
ME = pwd.getpwuid(os.geteuid()).pw_name
MY_GROUP = __import__("grp").getgrgid(os.getegid()).gr_name


class Hosts:
    """The hosts' side: pki_files on ``root/<host>/...``, every call recorded."""

    def __init__(self, root):
        self.root = root
        self.calls = []
        self.fail_next = None

    def path(self, host, path):
        return str(self.root / host) + path

    def executor(self, host):
        def _execute_module(module_name=None, module_args=None, task_vars=None, **_kw):
            assert module_name == "kubesmith.cluster.pki_files"
            self.calls.append((host, module_args["state"]))
            if self.fail_next:
                msg, self.fail_next = self.fail_next, None
                return {"failed": True, "msg": msg}
            base = str(self.root / host)
            if module_args["state"] == "read":
                found = pki_files.read_paths([base + p for p in module_args["paths"]], module_args["content"])
                out = {}
                for real, info in found.items():
                    # files belong to whoever runs the tests; the plugin expects root
                    if info.get("owner") == ME and info.get("group") == MY_GROUP:
                        info.update(owner="root", group="root")
                    out[real[len(base) :]] = info
                return {"changed": False, "files": out}
            entries = [dict(e, path=base + e["path"]) for e in module_args["files"]]
            written, fixed, removed = pki_files.apply_files(entries, ME, MY_GROUP)
            strip = [[p[len(base) :] for p in paths] for paths in (written, fixed, removed)]
            return {"changed": any(strip), "written": strip[0], "permissions_fixed": strip[1], "removed": strip[2]}

        return _execute_module

    def count(self, state):
        return sum(1 for _host, s in self.calls if s == state)


def task_vars_for(host, extra=None, hostvars=None):
    hv = {h: dict(v) for h, v in (hostvars or HOSTVARS).items()}
    tv = {"inventory_hostname": host, "groups": GROUPS, "hostvars": hv}
    tv.update(extra or {})
    return tv


def run(hosts, host, args, extra=None, check=False, diff=False, delegate_to=None, hostvars=None, search=None):
    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = check
    task.diff = diff
    task.delegate_to = delegate_to
    task.action = "kubesmith.cluster.kube_pki"
    task.get_search_path.return_value = [str(search or hosts.root)]
    connection = MagicMock()
    connection._shell.tmpdir = None
    loader = DataLoader()
    task_vars = task_vars_for(host, extra, hostvars)
    action = ActionModule(task, connection, MagicMock(), loader, Templar(loader=loader, variables=task_vars), None)
    action._execute_module = hosts.executor(delegate_to or host)
    return action.run(task_vars=task_vars)


def converge(hosts, extra=None, check=False, diff=False, reissue=None, byo=None):
    """What the role does: inspect everywhere, ca once on the primary, present everywhere."""
    inspect = {h: run(hosts, h, {"state": "inspect"}, extra, check=check) for h in PKI_HOSTS}
    for h, res in inspect.items():
        assert not res.get("failed"), (h, res)
    args = {"state": "ca", "existing_leaves": {h: r["leaf_issuers"] for h, r in inspect.items()}}
    if byo:
        args["byo_ca"] = byo
    ca = run(hosts, "cp1", args, extra, check=check, delegate_to="cp1")
    if ca.get("failed"):
        return inspect, ca, {}
    present = {}
    for h in PKI_HOSTS + ["lb1"]:
        args = {"state": "present", "ca": ca["ca"]}
        if reissue:
            args["reissue"] = reissue
        present[h] = run(hosts, h, args, extra, check=check, diff=diff)
        assert not present[h].get("failed"), (h, present[h])
    return inspect, ca, present


def read(path):
    with open(path) as handle:
        return handle.read()


def on_disk(hosts):
    return sorted(
        os.path.relpath(os.path.join(d, f), hosts.root) for d, _dirs, files in os.walk(hosts.root) for f in files
    )


def openssl_verify(ca_file, cert_file):
    proc = subprocess.run(["openssl", "verify", "-CAfile", ca_file, cert_file], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture
def hosts(tmp_path):
    return Hosts(tmp_path)


@pytest.fixture
def built(hosts):
    converge(hosts)
    hosts.calls.clear()
    return hosts


# --------------------------------------------------------------------------- the three steps


def test_first_run_builds_everything(hosts):
    inspect, ca, present = converge(hosts)
    assert inspect["cp1"]["leaf_issuers"] == [] and "apiserver" in inspect["cp1"]["missing"]
    assert ca["changed"] is True and ca["_ansible_no_log"] is True
    assert {k: v["change"] for k, v in ca["cas"].items()} == {
        "kubernetes-ca": "generated",
        "etcd-ca": "generated",
        "front-proxy-ca": "generated",
        "sa": "generated",
    }
    assert "BEGIN PRIVATE KEY" in ca["ca"]["kubernetes-ca"]["key"]
    assert all(present[h]["changed"] for h in PKI_HOSTS + ["lb1"])
    # a load-balancer host: the cluster CA certificate (no key) and the /readyz health-check client
    assert present["lb1"]["issued"] == ["apiserver-health-client"]
    assert present["w1"]["issued"] == ["kubelet", "kubelet-client", "kube-proxy"]
    assert present["cp2"]["msg"].startswith("issue 14, write 4")  # control-plane hosts are nodes too
    assert present["cp1"]["msg"].startswith("issue 14, write 0")  # state=ca wrote the CAs there already
    # one read and one write per host for present; one read + one write for ca; one read per inspect
    assert hosts.count("read") == 4 + 1 + 5 and hosts.count("write") == 1 + 5
    root = str(hosts.root)
    assert os.stat(root + "/cp2/etc/kubernetes/pki/apiserver.key").st_mode & 0o777 == 0o600
    assert os.stat(root + "/cp2/etc/kubernetes/pki/apiserver.crt").st_mode & 0o777 == 0o644
    assert os.stat(root + "/w1/etc/kubernetes/kubelet.conf").st_mode & 0o777 == 0o600
    assert not os.path.exists(root + "/w1/etc/kubernetes/pki/ca.key")
    openssl_verify(root + "/cp3/etc/kubernetes/pki/ca.crt", root + "/cp3/etc/kubernetes/pki/apiserver.crt")
    openssl_verify(root + "/cp3/etc/etcd/pki/ca.crt", root + "/cp3/etc/etcd/pki/peer.crt")
    openssl_verify(
        root + "/cp2/etc/kubernetes/pki/front-proxy-ca.crt", root + "/cp2/etc/kubernetes/pki/front-proxy-client.crt"
    )
    openssl_verify(root + "/w1/etc/kubernetes/pki/ca.crt", root + "/w1/etc/kubernetes/pki/kubelet.crt")
    openssl_verify(
        root + "/lb1/etc/kubernetes/pki/ca.crt", root + "/lb1/etc/kubernetes/pki/apiserver-health-client.crt"
    )
    openssl_verify(
        root + "/cp2/etc/kubernetes/pki/ca.crt", root + "/cp2/etc/kubernetes/pki/apiserver-health-client.crt"
    )
    assert os.stat(root + "/lb1/etc/kubernetes/pki/apiserver-health-client.key").st_mode & 0o777 == 0o600
    assert not os.path.exists(root + "/lb1/etc/kubernetes/pki/ca.key")
    assert sorted(os.listdir(root + "/lb1/etc/kubernetes/pki")) == [
        "apiserver-health-client.crt",
        "apiserver-health-client.key",
        "ca.crt",
    ]
    # the same CA everywhere
    cas = {read(root + "/%s/etc/kubernetes/pki/ca.crt" % h) for h in PKI_HOSTS}
    assert len(cas) == 1


def test_second_run_changes_nothing(built):
    inspect, ca, present = converge(built)
    assert ca["changed"] is False and {v["change"] for v in ca["cas"].values()} == {"existing"}
    assert not any(r["changed"] for r in present.values())
    assert {r["msg"] for r in present.values()} == {"PKI up to date"}
    assert built.count("write") == 0
    assert inspect["cp1"]["leaf_issuers"] == ["etcd-ca", "front-proxy-ca", "kubernetes-ca"]
    assert inspect["w1"]["leaf_issuers"] == ["kubernetes-ca"]
    kubelet = next(c for c in inspect["w1"]["certificates"] if c["name"] == "kubelet")
    assert kubelet["issuer_ok"] is True and kubelet["days_left"] in (364, 365)


def test_check_mode_on_an_empty_cluster_writes_nothing(hosts):
    _inspect, ca, present = converge(hosts, check=True, diff=True)
    assert ca["changed"] is True
    assert on_disk(hosts) == [] and hosts.count("write") == 0
    assert all(present[h]["changed"] for h in PKI_HOSTS)
    apiserver = next(c for c in present["cp1"]["changes"] if c["name"] == "apiserver")
    assert apiserver["operation"] == "issue" and apiserver["fingerprint"] == "(new)"
    assert "IP:10.96.0.1" in apiserver["sans"] and "DNS:kubernetes.default.svc.cluster.local" in apiserver["sans"]
    assert present["cp1"]["written"] == []
    assert "PRIVATE KEY" not in json.dumps(present)


def test_check_mode_reports_exactly_the_san_change(built):
    before = read(built.path("cp1", "/etc/kubernetes/pki/apiserver.crt"))
    extra = {"pki_apiserver_extra_sans": ["api.example.org", "10.1.0.100"]}
    _inspect, _ca, present = converge(built, extra, check=True, diff=True)
    assert {h: r["issued"] for h, r in present.items() if r["changed"]} == {
        "cp1": ["apiserver"],
        "cp2": ["apiserver"],
        "cp3": ["apiserver"],
    }
    assert present["cp2"]["changes"][0]["reasons"] == ["san-changed"]
    diff = present["cp2"]["diff"]
    assert "DNS:api.example.org" in diff["after"] and "DNS:api.example.org" not in diff["before"]
    assert "IP:10.1.0.100" in diff["after"]
    assert built.count("write") == 0
    assert read(built.path("cp1", "/etc/kubernetes/pki/apiserver.crt")) == before
    # the real run does what check mode said, and only that
    _inspect, _ca, present = converge(built, extra, diff=True)
    assert {h: r["issued"] for h, r in present.items() if r["changed"]} == {
        "cp1": ["apiserver"],
        "cp2": ["apiserver"],
        "cp3": ["apiserver"],
    }
    assert read(built.path("cp1", "/etc/kubernetes/pki/apiserver.crt")) != before
    assert present["cp1"]["written"] == ["/etc/kubernetes/pki/apiserver.crt", "/etc/kubernetes/pki/apiserver.key"]


def test_results_and_diff_never_hold_key_material(built):
    secrets = []
    for host in PKI_HOSTS:
        for d, _dirs, files in os.walk(str(built.root / host)):
            for f in files:
                if f.endswith((".key", ".conf")):
                    text = read(os.path.join(d, f))
                    secrets.append(
                        text.splitlines()[1] if f.endswith(".key") else text.split("client-key-data: ")[1][:40]
                    )
    _inspect, _ca, present = converge(built, reissue=["all"], diff=True)
    dumped = json.dumps(present)
    assert "PRIVATE KEY" not in dumped and "client-key-data" not in dumped
    assert not any(secret in dumped for secret in secrets)
    assert "fingerprint:" in present["cp1"]["diff"]["after"]


def test_renew_all_changes_every_leaf_and_keeps_every_ca(built):
    root = str(built.root)
    ca_before = {h: read(root + "/%s/etc/kubernetes/pki/ca.crt" % h) for h in PKI_HOSTS}
    crt_before = read(root + "/cp2/etc/etcd/pki/server.crt")
    inspect_before = run(built, "w1", {"state": "inspect"})
    _inspect, ca, present = converge(built, reissue=["all"])
    assert ca["changed"] is False
    assert all(set(c["reasons"]) == {"forced"} for h in PKI_HOSTS for c in present[h]["changes"])
    assert {h: read(root + "/%s/etc/kubernetes/pki/ca.crt" % h) for h in PKI_HOSTS} == ca_before
    assert read(root + "/cp2/etc/etcd/pki/server.crt") != crt_before
    inspect_after = run(built, "w1", {"state": "inspect"})
    serials = [{c["name"]: c["serial"] for c in r["certificates"]} for r in (inspect_before, inspect_after)]
    assert serials[0]["kubernetes-ca"] == serials[1]["kubernetes-ca"]
    assert all(serials[0][n] != serials[1][n] for n in ("kubelet", "kubelet-client", "kube-proxy"))


# --------------------------------------------------------------------------- refusals


def test_missing_ca_with_leaves_on_hosts_is_refused_and_nothing_is_written(built):
    os.unlink(built.path("cp1", "/etc/kubernetes/pki/ca.crt"))
    os.unlink(built.path("cp1", "/etc/kubernetes/pki/ca.key"))
    _inspect, ca, present = converge(built)
    assert ca["failed"] is True and present == {}
    assert "the kubernetes-ca CA is missing on the primary control-plane host cp1" in ca["msg"]
    assert "cp1, cp2, cp3, w1" in ca["msg"]
    assert built.count("write") == 0


def test_existing_leaves_as_a_plain_host_list(hosts):
    os.makedirs(hosts.path("w1", "/etc/kubernetes"))
    res = run(hosts, "cp1", {"state": "ca", "existing_leaves": ["w1"]}, delegate_to="cp1")
    assert res["failed"] is True and "certificates it signed exist on w1" in res["msg"]


def test_state_ca_only_runs_on_the_primary(hosts):
    res = run(hosts, "cp2", {"state": "ca"})
    assert res["failed"] is True and "must run against the primary control-plane host cp1" in res["msg"]
    assert hosts.calls == []


def test_present_needs_the_ca_material(hosts):
    res = run(hosts, "w1", {"state": "present"})
    assert res["failed"] is True and "register the result of a state=ca task" in res["msg"]


def test_host_errors_are_reported(hosts):
    hosts.fail_next = "Permission denied: /etc/kubernetes/pki (run the task with become: true)"
    res = run(hosts, "w1", {"state": "inspect"})
    assert res["failed"] is True
    assert (
        res["msg"] == "reading the PKI files: Permission denied: /etc/kubernetes/pki (run the task with become: true)"
    )


@pytest.mark.parametrize(
    "args, extra, message",
    [
        ({"state": "inspect"}, {"pki_key_algorithm": "ed25519"}, "key_algorithm"),
        ({"state": "inspect"}, {"pki_leaf_validity_days": "a year"}, "leaf_validity_days"),
        ({"state": "inspect"}, {"pki_renew_before_days": 400}, "smaller than pki_leaf_validity_days"),
        ({"state": "inspect"}, {"cluster_api_endpoint": "10.0.0.1"}, "cluster_api_endpoint|api_endpoint"),
        ({"state": "present", "ca": {"x": 1}, "reissue": ["kubernetes-ca"]}, {}, "unknown certificate name"),
        ({"state": "ca", "force_ca": ["apiserver"]}, {}, "pki_force_ca: unknown CA id"),
    ],
)
def test_option_refusals(hosts, args, extra, message):
    res = run(hosts, "cp1", args, extra, delegate_to="cp1" if args["state"] == "ca" else None)
    assert res.get("failed") is True and re.search(message, res["msg"]), res


def test_unknown_options_are_refused_before_anything_runs(hosts):
    with pytest.raises(AnsibleActionFail, match="Invalid options for kubesmith.cluster.kube_pki: bogus"):
        run(hosts, "w1", {"state": "present", "bogus": 1})
    assert hosts.calls == []


# --------------------------------------------------------------------------- options and variables


def test_variables_feed_unset_options_and_are_templated(hosts):
    extra = {
        "pki_key_algorithm": "rsa-2048",
        "leaf_days": 100,
        "pki_leaf_validity_days": trust_as_template("{{ leaf_days * 2 }}"),
        "cluster_domain": "corp.internal",
        "cluster_service_cidr": "10.32.0.0/16",
        "cluster_api_endpoint": {"host": "vip.example.org", "port": 8443},
    }
    _inspect, _ca, present = converge(hosts, extra, check=True)
    api = next(c for c in present["cp1"]["changes"] if c["name"] == "apiserver")
    assert api["key_algorithm"] == "rsa-2048" and api["days_left"] == 200
    assert {"DNS:kubernetes.default.svc.corp.internal", "IP:10.32.0.1", "DNS:vip.example.org"} <= set(api["sans"])
    # an option on the task wins over the variable
    ca = run(hosts, "cp1", {"state": "ca"}, extra, check=True, delegate_to="cp1")
    res = run(hosts, "w1", {"state": "present", "ca": ca["ca"], "key_algorithm": "ecdsa-p256"}, extra, check=True)
    assert {c["key_algorithm"] for c in res["changes"] if c["operation"] == "issue"} == {"ecdsa-p256"}
    assert next(c for c in res["changes"] if c["name"] == "kubernetes-ca")["key_algorithm"] == "rsa-2048"  # the CA


def test_real_files_follow_the_endpoint_and_directories(hosts):
    extra = {
        "cluster_api_endpoint": {"host": "vip.example.org"},
        "pki_dir": "/srv/k8s/pki",
        "pki_kubeconfig_dir": "/srv/k8s",
        "pki_etcd_dir": "/srv/etcd",
    }
    converge(hosts, extra)
    kubeconfig = read(hosts.path("w1", "/srv/k8s/kubelet.conf"))
    assert 'server: "https://vip.example.org:6443"' in kubeconfig
    assert 'server: "https://127.0.0.1:6443"' in read(hosts.path("cp2", "/srv/k8s/scheduler.conf"))
    assert os.path.exists(hosts.path("cp3", "/srv/etcd/peer.key"))


def test_local_load_balancer_mode_points_kubeconfigs_at_the_nodes_own_haproxy(hosts):
    converge(hosts, {"load_balancer_mode": "local"})
    assert 'server: "https://127.0.0.1:6444"' in read(hosts.path("w1", "/etc/kubernetes/kubelet.conf"))
    # haproxy runs on the worker too: it checks every apiserver's /readyz with the health-check client certificate
    assert os.path.exists(hosts.path("w1", "/etc/kubernetes/pki/apiserver-health-client.key"))
    converge(hosts, {"load_balancer_mode": "local", "cluster_api_endpoint": {"port": 7443}})
    assert 'server: "https://127.0.0.1:7443"' in read(hosts.path("w1", "/etc/kubernetes/kubelet.conf"))


def test_byo_ca_from_controller_files(hosts, tmp_path):
    mine = C.create_ca("kubernetes-ca", "ecdsa-p256", 3000)
    files = tmp_path / "controller"
    files.mkdir()
    (files / "k8s-ca.crt").write_text(mine.cert_pem)
    (files / "k8s-ca.key").write_text(mine.key_pem)
    byo = {"kubernetes-ca": {"cert_file": str(files / "k8s-ca.crt"), "key_file": str(files / "k8s-ca.key")}}
    _inspect, ca, present = converge(hosts, byo=byo)
    assert ca["cas"]["kubernetes-ca"]["change"] == "provided"
    assert ca["cas"]["kubernetes-ca"]["fingerprint"] == C.fingerprint(mine.cert)
    assert read(hosts.path("w1", "/etc/kubernetes/pki/ca.crt")) == mine.cert_pem
    res = run(
        hosts,
        "cp1",
        {"state": "ca", "byo_ca": {"kubernetes-ca": {"cert_file": str(files / "nope")}}},
        delegate_to="cp1",
    )
    assert res["failed"] is True and "cannot read" in res["msg"]
