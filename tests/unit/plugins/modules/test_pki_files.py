"""Tests of modules/pki_files.py (the host side of kube_pki) on a real file system under tmp_path."""

import json
import os
import pwd
import stat

import pytest
from ansible_collections.kubesmith.cluster.plugins.modules import pki_files as M
from support.modules import run_module_file

ME = pwd.getpwuid(os.geteuid()).pw_name
MY_GROUP = __import__("grp").getgrgid(os.getegid()).gr_name
MODULE = M.__file__
COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".collections"))


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def apply(entries, check_mode=False):
    return M.apply_files(entries, ME, MY_GROUP, check_mode)


def test_read_reports_what_exists(tmp_path):
    cert = tmp_path / "ca.crt"
    cert.write_text("CERT")
    cert.chmod(0o644)
    (tmp_path / "dir").mkdir()
    out = M.read_paths([str(cert), str(tmp_path / "missing.key"), str(tmp_path / "dir"), str(cert / "x")])
    assert out[str(cert)] == {
        "exists": True,
        "is_file": True,
        "mode": "0644",
        "owner": ME,
        "group": MY_GROUP,
        "size": 4,
        "content": "CERT",
    }
    assert out[str(tmp_path / "missing.key")] == {"exists": False}
    assert out[str(cert / "x")] == {"exists": False}  # parent is a file: ENOTDIR is "missing" too
    assert out[str(tmp_path / "dir")]["is_file"] is False and "content" not in out[str(tmp_path / "dir")]
    assert "content" not in M.read_paths([str(cert)], content=False)[str(cert)]


def test_read_refuses_huge_files(tmp_path):
    big = tmp_path / "big.crt"
    big.write_bytes(b"x" * (M.MAX_SIZE + 1))
    with pytest.raises(M.PkiFilesError, match="too large"):
        M.read_paths([str(big)])


def test_write_creates_parents_modes_and_content(tmp_path):
    key = tmp_path / "etc" / "kubernetes" / "pki" / "apiserver.key"
    crt = key.with_suffix(".crt")
    written, fixed, removed = apply(
        [{"path": str(key), "content": "KEY", "mode": "0600"}, {"path": str(crt), "content": "CRT", "mode": "0644"}]
    )
    assert written == [str(key), str(crt)] and fixed == [] and removed == []
    assert key.read_text() == "KEY" and mode_of(key) == 0o600
    assert crt.read_text() == "CRT" and mode_of(crt) == 0o644
    assert mode_of(key.parent) == 0o755
    assert [p for p in os.listdir(key.parent) if p.startswith(".")] == []  # no temporary file left behind
    # same content again: nothing
    assert apply([{"path": str(key), "content": "KEY", "mode": "0600"}]) == ([], [], [])


def test_write_replaces_content_atomically_and_fixes_modes(tmp_path):
    key = tmp_path / "a.key"
    key.write_text("OLD")
    key.chmod(0o644)
    inode = os.stat(key).st_ino
    assert apply([{"path": str(key), "content": "NEW", "mode": "0600"}])[0] == [str(key)]
    assert key.read_text() == "NEW" and mode_of(key) == 0o600
    assert os.stat(key).st_ino != inode  # renamed into place, not rewritten in place
    key.chmod(0o640)
    assert apply([{"path": str(key), "content": "NEW", "mode": "0600"}]) == ([], [str(key)], [])
    assert mode_of(key) == 0o600
    key.chmod(0o666)
    assert apply([{"path": str(key), "mode": "0600"}]) == ([], [str(key)], [])  # no content: permissions only
    assert mode_of(key) == 0o600 and key.read_text() == "NEW"


def test_absent_and_check_mode(tmp_path):
    chain = tmp_path / "ca-chain.crt"
    chain.write_text("OLD")
    new = tmp_path / "new.crt"
    entries = [{"path": str(chain), "state": "absent"}, {"path": str(new), "content": "C", "mode": "0644"}]
    assert apply(entries, check_mode=True) == ([str(new)], [], [str(chain)])
    assert chain.exists() and not new.exists()
    assert apply(entries) == ([str(new)], [], [str(chain)])
    assert not chain.exists() and new.exists()
    assert apply([{"path": str(chain), "state": "absent"}]) == ([], [], [])


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"path": "relative.key", "content": "x"}, "not an absolute path"),
        ({"path": "{tmp}/missing.key"}, "cannot set its mode without content"),
        ({"path": "{tmp}/x.key", "content": "x", "mode": "rw-"}, "not an octal mode"),
        ({"path": "{tmp}/x.key", "content": "x", "mode": "17777"}, "out of range"),
        ({"path": "{tmp}/dir", "content": "x"}, "not a regular file"),
    ],
)
def test_write_refusals(tmp_path, entry, message):
    (tmp_path / "dir").mkdir()
    entry = dict(entry, path=entry["path"].format(tmp=tmp_path))
    with pytest.raises(M.PkiFilesError, match=message):
        apply([entry])


def test_unknown_owner_is_refused(tmp_path):
    with pytest.raises(M.PkiFilesError, match="owner 'no-such-user-x' does not exist"):
        M.apply_files([{"path": str(tmp_path / "a"), "content": "x"}], "no-such-user-x", MY_GROUP)
    with pytest.raises(M.PkiFilesError, match="group 'no-such-group-x' does not exist"):
        M.apply_files([{"path": str(tmp_path / "a"), "content": "x"}], ME, "no-such-group-x")


def run_module(tmp_path, args):
    """Run the module file the way Ansible does (JSON arguments), returning its JSON result."""
    return run_module_file(MODULE, tmp_path, args)[1]


def test_module_entry_point_hides_content_and_reads_back(tmp_path):
    key = tmp_path / "pki" / "sa.key"
    secret = "-----BEGIN PRIVATE KEY-----\nSECRET\n-----END PRIVATE KEY-----\n"  # noqa: S105 - test data
    result = run_module(
        tmp_path,
        {
            "state": "write",
            "owner": ME,
            "group": MY_GROUP,
            "files": [{"path": str(key), "content": secret, "mode": "0600"}],
        },
    )
    assert result["changed"] is True and result["written"] == [str(key)]
    assert "SECRET" not in json.dumps(result)  # no_log on content: not even in the invocation echo
    assert mode_of(key) == 0o600
    result = run_module(tmp_path, {"state": "read", "paths": [str(key), str(tmp_path / "nope")]})
    assert result["changed"] is False
    assert result["files"][str(key)]["content"] == secret
    assert result["files"][str(tmp_path / "nope")] == {"exists": False}


def test_module_reports_errors_as_failures(tmp_path):
    result = run_module(tmp_path, {"state": "write", "files": [{"path": str(tmp_path / "x"), "mode": "0600"}]})
    assert result["failed"] is True and "cannot set its mode without content" in result["msg"]


def test_present_change(tmp_path):
    uid, gid = os.geteuid(), os.getegid()
    path = tmp_path / "a.crt"
    path.write_text("CRT")
    path.chmod(0o644)
    assert M._present_change(str(path), {"content": "CRT", "mode": "0644"}, uid, gid) == (None, 0o644, None)
    assert M._present_change(str(path), {"content": "CRT"}, uid, gid) == ("fix", 0o600, None)
    assert M._present_change(str(path), {"content": "NEW", "mode": "0644"}, uid, gid) == ("write", 0o644, b"NEW")
    assert M._present_change(str(path), {"mode": "0640"}, uid, gid) == ("fix", 0o640, None)
    with pytest.raises(M.PkiFilesError, match="does not exist, cannot set its mode without content"):
        M._present_change(str(tmp_path / "missing"), {"mode": "0600"}, uid, gid)
    with pytest.raises(M.PkiFilesError, match="exists and is not a regular file"):
        M._present_change(str(tmp_path), {"content": "x"}, uid, gid)
