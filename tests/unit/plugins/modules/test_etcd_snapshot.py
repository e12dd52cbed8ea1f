"""etcd_snapshot with an endpoint nobody listens on, the module run in its own interpreter: it fails naming the
endpoint (client certificates from the in-process ``etcd_pki`` fixture, no etcd process). The tests against a real
local etcd are in tests/integration/test_etcd_snapshot_cluster.py. The steps of a restore run here against a fake
AnsibleModule and a stand-in for etcdutl."""

import os

import pytest
from ansible_collections.kubesmith.cluster.plugins.modules import etcd_snapshot as M
from support.modules import REPO, free_ports, run_module_file

MODULE = os.path.join(REPO, "plugins", "modules", "etcd_snapshot.py")


def run_module(tmp_path, args, check_mode=False):
    return run_module_file(MODULE, tmp_path, args, check_mode=check_mode)[1]


def test_unreachable_endpoint_is_named(tmp_path, etcd_pki):
    dead = "https://127.0.0.1:%d" % free_ports(1)[0]
    args = dict(etcd_pki.client_args(), endpoints=[dead], dest_dir=str(tmp_path / "b"))
    result = run_module(tmp_path, args)
    assert result["failed"] is True and dead in result["msg"] and "connection refused" in result["msg"], result
    assert not (tmp_path / "b").exists()


# ---------------------------------------------------------------- the steps of state=restored (a fake module)


class Failed(Exception):
    pass


class FakeModule(object):
    """The AnsibleModule methods the restore steps call; ``run`` stands in for etcdutl (gets the target directory)."""

    def __init__(self, run=None, owner=None, group=None):
        self.params = {
            "src": "/backups/s.db",
            "name": "etcd1",
            "initial_cluster": "etcd1=https://10.0.0.1:2380",
            "initial_cluster_token": "cluster-1",
            "owner": owner,
            "group": group,
        }
        self.run = run
        self.owned = []

    def run_command(self, cmd, environ_update=None):
        assert environ_update == {"ETCDCTL_API": "3"}
        target = [a for a in cmd if a.startswith("--data-dir=")][0].split("=", 1)[1]
        return self.run(target)

    def fail_json(self, msg, **result):
        raise Failed(msg)

    def set_owner_if_different(self, path, owner, changed):
        self.owned.append((path, owner))

    def set_group_if_different(self, path, group, changed):
        pass


def _made_member(target):
    os.makedirs(os.path.join(target, "member", "snap"))
    return 0, "", ""


def test_run_restore_checks_the_tool_made_a_member_directory(tmp_path):
    result = {}
    M._run_restore(FakeModule(_made_member), result, "/bin/etcdutl", str(tmp_path / "t"), ["https://10.0.0.1:2380"])
    assert result["command"][:3] == ["/bin/etcdutl", "snapshot", "restore"]
    with pytest.raises(Failed, match=r"snapshot restore failed \(rc=2\): bad snapshot"):
        M._run_restore(FakeModule(lambda t: (2, "", "bad snapshot\n")), {}, "/bin/etcdutl", str(tmp_path / "u"), [])
    with pytest.raises(Failed, match="did not create .*/v/member/snap"):
        M._run_restore(FakeModule(lambda t: (0, "", "")), {}, "/bin/etcdutl", str(tmp_path / "v"), [])


@pytest.mark.parametrize("before", ["missing", "empty", "occupied"])
def test_replace_data_dir(tmp_path, before):
    target, data_dir = tmp_path / "work" / "data", tmp_path / "etcd"
    (target / "member" / "snap").mkdir(parents=True)
    if before != "missing":
        data_dir.mkdir()
    if before == "occupied":
        (data_dir / "member").mkdir()
    module, result = FakeModule(owner="etcd"), {"previous_data_dir": ""}
    M._replace_data_dir(module, result, str(target), str(data_dir), before == "occupied")
    assert os.path.isdir(data_dir / "member" / "snap") and not target.exists()
    assert os.stat(data_dir).st_mode & 0o777 == 0o700
    assert (str(data_dir), "etcd") in module.owned and (str(data_dir / "member" / "snap"), "etcd") in module.owned
    if before == "occupied":
        assert result["previous_data_dir"].startswith(str(data_dir) + ".pre-restore-")
        assert os.path.isdir(os.path.join(result["previous_data_dir"], "member"))
    else:
        assert result["previous_data_dir"] == ""
