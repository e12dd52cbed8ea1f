"""etcd_snapshot against a real local etcd (fixtures in tests/integration/conftest.py), the module run in its own
interpreter. Its check of an unreachable endpoint, which needs no etcd process, is in
tests/unit/plugins/modules/test_etcd_snapshot.py."""

import hashlib
import os

import pytest
from support.modules import REPO, run_module_file

pytestmark = pytest.mark.integration

MODULE = os.path.join(REPO, "plugins", "modules", "etcd_snapshot.py")


def run_module(tmp_path, args, check_mode=False):
    return run_module_file(MODULE, tmp_path, args, check_mode=check_mode)[1]


@pytest.fixture(scope="module")
def solo(etcd_lab_module):
    """One TLS member shared by the tests that only read from it or write their own keys."""
    (node,) = etcd_lab_module.cluster("snap1")
    return node


def save_args(lab, node, dest, **extra):
    args = dict(lab.pki.client_args(), endpoints=[node.client_url], dest_dir=str(dest))
    args.update(extra)
    return args


def tool_args(lab):
    """etcdutl where the release has it (3.5+), else etcdctl (3.4)."""
    if lab.binaries.get("etcdutl"):
        return {"etcdutl_path": lab.binaries["etcdutl"]}
    return {"etcdctl_path": lab.binaries["etcdctl"]}


def sha256_of(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_save_restore_roundtrip(tmp_path, etcd_lab_module, solo):
    lab = etcd_lab_module
    lab.etcdctl([solo.client_url], "put", "/roundtrip/before", "kept")
    dest = tmp_path / "backups"
    saved = run_module(tmp_path, save_args(lab, solo, dest, **tool_args(lab)))
    assert saved.get("failed") is not True, saved.get("msg")
    assert saved["changed"] is True and saved["endpoint"] == solo.client_url
    path = saved["path"]
    assert os.path.dirname(path) == str(dest) and os.path.basename(path).startswith("etcd-snapshot-")
    assert os.stat(path).st_mode & 0o777 == 0o600 and os.stat(str(dest)).st_mode & 0o777 == 0o700
    assert saved["size"] == os.path.getsize(path) and saved["size"] % 512 == 32
    assert saved["sha256"] == sha256_of(path)
    assert saved["tool_status"]["revision"] == saved["revision"] > 1  # etcdctl snapshot status agrees
    with open(saved["checksum_file"]) as handle:
        assert handle.read() == "%s  %s\n" % (saved["sha256"], os.path.basename(path))
    lab.etcdctl([solo.client_url], "put", "/roundtrip/after", "lost")

    restored_node = lab.node("snap1", data_dir=tmp_path / "restored")
    restore = {
        "state": "restored",
        "src": path,
        "data_dir": restored_node.data_dir,
        "name": "snap1",
        "initial_cluster": "snap1=%s" % restored_node.peer_url,
        "initial_cluster_token": "restore-1",
        "initial_advertise_peer_urls": [restored_node.peer_url],
        **tool_args(lab),
    }
    planned = run_module(tmp_path, restore, check_mode=True)
    assert planned["changed"] is True and planned["revision"] == saved["revision"], planned
    assert not os.path.exists(restored_node.data_dir)
    result = run_module(tmp_path, restore)
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is True and result["previous_data_dir"] == ""
    assert os.stat(restored_node.data_dir).st_mode & 0o777 == 0o700
    assert os.path.isdir(os.path.join(restored_node.data_dir, "member", "wal"))
    assert not [n for n in os.listdir(str(tmp_path)) if ".restore-" in n]  # the work directory is gone

    restored_node.start()  # a restored data dir: etcd takes the cluster from it, not from the flags
    restored_node.wait_healthy()
    get = lab.etcdctl([restored_node.client_url], "get", "--prefix", "/roundtrip/", "--print-value-only")
    assert get.stdout.split() == ["kept"]
    members = lab.member_list(restored_node.client_url)
    assert [(m["name"], m["peer_urls"]) for m in members] == [("snap1", [restored_node.peer_url])]

    # The restored member runs: a second restore needs force, which moves its data aside.
    restored_node.stop()
    refused = run_module(tmp_path, restore)
    assert refused["failed"] is True and "is not empty" in refused["msg"] and "force=true" in refused["msg"]
    forced = run_module(tmp_path, dict(restore, force=True))
    assert forced["changed"] is True and forced["previous_data_dir"].startswith(
        restored_node.data_dir + ".pre-restore-"
    )
    assert os.path.isdir(os.path.join(forced["previous_data_dir"], "member"))


def test_retention_keeps_the_newest(tmp_path, etcd_lab_module, solo):
    lab = etcd_lab_module
    dest = tmp_path / "backups"
    dest.mkdir()
    (dest / "notes.txt").write_text("not a snapshot")
    (dest / "other-20200101T000000.000Z.db").write_text("another prefix")
    paths = []
    for _ in range(3):
        result = run_module(tmp_path, save_args(lab, solo, dest, keep=2))
        assert result.get("failed") is not True, result.get("msg")
        paths.append(result["path"])
    assert result["pruned"] == [paths[0]]
    names = sorted(os.listdir(str(dest)))
    expected = [os.path.basename(p) + suffix for p in paths[1:] for suffix in ("", ".sha256")]
    assert names == sorted(expected + ["notes.txt", "other-20200101T000000.000Z.db"])


def test_check_mode_writes_nothing(tmp_path, etcd_lab_module, solo):
    dest = tmp_path / "new-dir"
    result = run_module(tmp_path, save_args(etcd_lab_module, solo, dest, keep=1), check_mode=True)
    assert result["changed"] is True and result["path"].startswith(str(dest)), result
    assert result["pruned"] == [] and not dest.exists()


def test_restore_refuses_a_corrupt_snapshot_and_bad_flags(tmp_path, etcd_lab_module, solo):
    lab = etcd_lab_module
    saved = run_module(tmp_path, save_args(lab, solo, tmp_path / "b"))
    with open(saved["path"], "rb") as handle:
        data = bytearray(handle.read())
    data[5000] ^= 0x01
    broken = tmp_path / "broken.db"
    broken.write_bytes(bytes(data))
    restore = {
        "state": "restored",
        "src": str(broken),
        "data_dir": str(tmp_path / "data"),
        "name": "a",
        "initial_cluster": "a=https://127.0.0.1:2380",
        "initial_cluster_token": "t",
        "initial_advertise_peer_urls": ["https://127.0.0.1:2380"],
        **tool_args(lab),
    }
    result = run_module(tmp_path, restore)
    assert result["failed"] is True and "trailer does not match" in result["msg"], result
    result = run_module(tmp_path, dict(restore, src=saved["path"], initial_advertise_peer_urls=["https://x:1"]))
    assert result["failed"] is True and "must be the same" in result["msg"], result
    result = run_module(tmp_path, dict(restore, src=saved["path"], name="b"))
    assert result["failed"] is True and "name b is not in initial_cluster" in result["msg"], result
    result = run_module(tmp_path, dict(restore, src=saved["path"], etcdctl_path=None, etcdutl_path=None))
    assert result["failed"] is True and "needs etcdutl_path" in result["msg"], result
    assert not (tmp_path / "data").exists()
