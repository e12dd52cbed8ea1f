"""Unit tests for tools/mkimage.py (the single-layer docker-archive image builder)."""

import hashlib
import importlib.util
import io
import json
import os
import tarfile

import pytest

_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tools", "mkimage.py")
_spec = importlib.util.spec_from_file_location("kubesmith_mkimage", _PATH)
mkimage = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mkimage)

REF = "localhost/kubesmith/test:1.0"


def _make_rootfs(base, reverse=False, mtime=1_700_000_000):
    """A small tree with a directory, an executable, a symlink, a hard link and an empty dir."""
    root = base / "rootfs"
    steps = [
        lambda: (root / "bin").mkdir(parents=True, exist_ok=True),
        lambda: (root / "tmp").mkdir(parents=True, exist_ok=True),
        lambda: (root / "etc").mkdir(parents=True, exist_ok=True),
    ]
    for step in reversed(steps) if reverse else steps:
        step()
    (root / "bin" / "tool").write_bytes(b"#!/bin/tool\n" + b"x" * 5000)
    os.chmod(root / "bin" / "tool", 0o755)  # noqa: S103 - the layer must keep an executable mode
    (root / "etc" / "motd").write_text("hello\n")
    os.chmod(root / "etc" / "motd", 0o600)
    os.chmod(root / "tmp", 0o1777)  # noqa: S103 - sticky world-writable /tmp is what images ship
    os.symlink("tool", root / "bin" / "sh")
    os.link(root / "bin" / "tool", root / "bin" / "tool-hardlink")
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (mtime, mtime), follow_symlinks=False)
    return root


def _build(tmp_path, root, name="out.tar", **kwargs):
    out = tmp_path / name
    kwargs.setdefault("cmd", ["--help"])
    result = mkimage.build_image(str(root), REF, str(out), ["/bin/tool"], **kwargs)
    return out, result


def _members(path):
    with tarfile.open(path) as tar:
        return {m.name: (m, tar.extractfile(m).read() if m.isreg() else None) for m in tar.getmembers()}


def test_archive_has_manifest_config_and_layer_with_matching_digests(tmp_path):
    root = _make_rootfs(tmp_path)
    out, result = _build(tmp_path, root)
    members = _members(out)

    manifest = json.loads(members["manifest.json"][1])
    assert len(manifest) == 1
    assert manifest[0]["RepoTags"] == [REF]

    config_name = manifest[0]["Config"]
    config_bytes = members[config_name][1]
    assert config_name == hashlib.sha256(config_bytes).hexdigest() + ".json"
    assert result["config_digest"] == "sha256:" + hashlib.sha256(config_bytes).hexdigest()

    config = json.loads(config_bytes)
    (layer_name,) = manifest[0]["Layers"]
    layer_bytes = members[layer_name][1]
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    assert config["rootfs"] == {"type": "layers", "diff_ids": [diff_id]}
    assert result["diff_id"] == diff_id
    assert result["size"] == os.path.getsize(out)


def test_config_carries_runtime_settings(tmp_path):
    root = _make_rootfs(tmp_path)
    out, _ = _build(tmp_path, root, env=["PATH=/bin", "FOO=bar"], workdir="/tmp", user="65535:65535")
    info = mkimage.inspect_image(str(out))
    assert info["entrypoint"] == ["/bin/tool"]
    assert info["cmd"] == ["--help"]
    assert info["env"] == ["PATH=/bin", "FOO=bar"]  # PATH overrides the default in place
    assert (info["architecture"], info["os"]) == ("amd64", "linux")
    members = _members(out)
    config = json.loads(members[json.loads(members["manifest.json"][1])[0]["Config"]][1])
    assert config["config"]["WorkingDir"] == "/tmp"
    assert config["config"]["User"] == "65535:65535"
    assert config["created"] == "1970-01-01T00:00:00Z"


def test_layer_normalises_owner_and_time_but_keeps_modes_and_links(tmp_path):
    root = _make_rootfs(tmp_path)
    out, _ = _build(tmp_path, root)
    members = _members(out)
    layer_name = json.loads(members["manifest.json"][1])[0]["Layers"][0]
    with tarfile.open(fileobj=io.BytesIO(members[layer_name][1])) as layer:
        entries = {m.name: m for m in layer.getmembers()}
        names = [m.name for m in layer.getmembers()]
    assert names == ["bin", "bin/sh", "bin/tool", "bin/tool-hardlink", "etc", "etc/motd", "tmp"]
    for member in entries.values():
        assert (member.uid, member.gid, member.uname, member.gname, member.mtime) == (0, 0, "", "", 0)
    assert entries["bin/tool"].mode == 0o755
    assert entries["etc/motd"].mode == 0o600
    assert entries["tmp"].isdir() and entries["tmp"].mode == 0o1777
    assert entries["bin/sh"].issym() and entries["bin/sh"].linkname == "tool"
    assert entries["bin/tool-hardlink"].islnk() and entries["bin/tool-hardlink"].linkname == "bin/tool"


def test_same_input_gives_byte_identical_output(tmp_path):
    first_dir = tmp_path / "a"
    second_dir = tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    # Same content, created in another order with other timestamps: the image must not change.
    first, first_result = _build(first_dir, _make_rootfs(first_dir))
    second, second_result = _build(second_dir, _make_rootfs(second_dir, reverse=True, mtime=1_600_000_000))
    again, _ = _build(first_dir, first_dir / "rootfs", name="again.tar")
    assert first.read_bytes() == second.read_bytes() == again.read_bytes()
    assert first_result["diff_id"] == second_result["diff_id"]


def test_different_content_gives_different_digests(tmp_path):
    root = _make_rootfs(tmp_path)
    _, before = _build(tmp_path, root)
    (root / "etc" / "motd").write_text("changed\n")
    _, after = _build(tmp_path, root)
    assert before["diff_id"] != after["diff_id"]
    assert before["config_digest"] != after["config_digest"]


def test_inspect_detects_a_corrupt_layer(tmp_path):
    root = _make_rootfs(tmp_path)
    out, _ = _build(tmp_path, root)
    members = _members(out)
    layer_name = json.loads(members["manifest.json"][1])[0]["Layers"][0]
    tampered = tmp_path / "tampered.tar"
    with tarfile.open(tampered, "w") as tar:
        for name, (member, data) in members.items():
            if name == layer_name:
                data = data[:-1] + b"\x01"
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    with pytest.raises(mkimage.ImageError, match="archive is corrupt"):
        mkimage.inspect_image(str(tampered))


def test_inspect_rejects_a_non_image(tmp_path):
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(mkimage.ImageError, match="manifest.json is missing"):
        mkimage.inspect_image(str(plain))


@pytest.mark.parametrize(
    "ref",
    ["registry.k8s.io/pause:3.2", "localhost/kubesmith/busybox:1.35", "localhost:5000/a/b-c_d:v1.0-rc.1", "pause:3.2"],
)
def test_valid_refs(ref):
    assert mkimage.validate_ref(ref) == ref


@pytest.mark.parametrize("ref", ["", "pause", "Registry.k8s.io/Pause:3.2", "a//b:1", "pause:", "pause:-x"])
def test_invalid_refs(ref):
    with pytest.raises(mkimage.ImageError, match="invalid image reference"):
        mkimage.validate_ref(ref)


def test_missing_entrypoint_is_refused_before_writing(tmp_path):
    root = _make_rootfs(tmp_path)
    out = tmp_path / "out.tar"
    with pytest.raises(mkimage.ImageError, match="entrypoint /pause does not exist"):
        mkimage.build_image(str(root), REF, str(out), ["/pause"])
    assert not out.exists()


def test_bad_env_entry_is_refused(tmp_path):
    root = _make_rootfs(tmp_path)
    with pytest.raises(mkimage.ImageError, match="KEY=VALUE"):
        _build(tmp_path, root, env=["NOEQUALS"])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".mkimage-")] == []


def test_cli_build_then_inspect(tmp_path, capsys):
    root = _make_rootfs(tmp_path)
    out = tmp_path / "cli.tar"
    argv = ["build", "--ref", REF, "--rootfs", str(root), "--out", str(out), "--entrypoint", "/bin/tool"]
    assert mkimage.main(argv + ["--cmd", "sh", "--cmd=-c"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert mkimage.main(["inspect", str(out)]) == 0
    inspected = json.loads(capsys.readouterr().out)
    assert inspected["repo_tags"] == [REF]
    assert inspected["diff_ids"] == [built["diff_id"]]
    assert inspected["cmd"] == ["sh", "-c"]


def test_cli_reports_errors_with_exit_code_2(tmp_path, capsys):
    assert mkimage.main(["build", "--ref", REF, "--rootfs", str(tmp_path / "nope"), "--out",
                         str(tmp_path / "x.tar"), "--entrypoint", "/x"]) == 2  # fmt: skip
    assert "mkimage.py: error:" in capsys.readouterr().err
