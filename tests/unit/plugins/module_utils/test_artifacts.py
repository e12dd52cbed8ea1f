"""Tests of module_utils/artifacts/ (spec, plan, archive, cache, installer) with real tar archives built in tmp_path."""

import gzip
import hashlib
import io
import os
import shutil
import stat
import tarfile

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts import archive as art_archive
from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts import cache as art_cache
from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts import plan as art_plan
from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts import spec as art_spec
from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts.installer import Installer
from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts.spec import MARKER, ArtifactError

# --------------------------------------------------------------------------- helpers

# member: (name, kind, payload, mode); kind: file | dir | symlink | hardlink | fifo
CONTAINERD = [
    ("bin", "dir", None, 0o755),
    ("bin/containerd", "file", b"containerd 1\n", 0o755),
    ("bin/ctr", "file", b"ctr 1\n", 0o755),
    ("bin/containerd-shim", "file", b"shim\n", 0o4755),
]
ETCD = [
    ("etcd-v3.5.9-linux-amd64", "dir", None, 0o755),
    ("etcd-v3.5.9-linux-amd64/etcd", "file", b"etcd\n", 0o755),
    ("etcd-v3.5.9-linux-amd64/etcdctl", "file", b"etcdctl\n", 0o755),
    ("etcd-v3.5.9-linux-amd64/Documentation/README.md", "file", b"docs\n", 0o644),
]


def patch_sha256_file(monkeypatch, fake):
    """Replace the file hashing where it is called: cache files' stamps and artifact sources' plans."""
    monkeypatch.setattr(art_cache, "sha256_file", fake)
    monkeypatch.setattr(art_plan, "sha256_file", fake)


def make_tar(path, members, compression="gz"):
    """Write a tar archive with exactly the given members (no implicit parents).

    The same members give the same bytes, whenever written: a test that writes a source again (same version, same
    members) means the same archive. gzip's header holds the time of writing unless it is given (xz and bzip2 hold
    none), so .tar.gz is written with mtime 0: two writes one second apart would otherwise differ in sha256.
    """
    if compression == "gz":
        with gzip.GzipFile(str(path), "wb", mtime=0) as stream, tarfile.open(fileobj=stream, mode="w") as tar:
            _add_members(tar, members)
    else:
        with tarfile.open(str(path), "w:" + compression if compression else "w") as tar:
            _add_members(tar, members)
    return str(path)


def _add_members(tar, members):
    for name, kind, payload, mode in members:
        info = tarfile.TarInfo(name)
        info.mode = mode
        info.mtime = 1_600_000_000
        data = None
        if kind == "file":
            info.type = tarfile.REGTYPE
            info.size = len(payload)
            data = io.BytesIO(payload)
        elif kind == "dir":
            info.type = tarfile.DIRTYPE
        elif kind == "symlink":
            info.type = tarfile.SYMTYPE
            info.linkname = payload
        elif kind == "hardlink":
            info.type = tarfile.LNKTYPE
            info.linkname = payload
        elif kind == "fifo":
            info.type = tarfile.FIFOTYPE
        tar.addfile(info, data)


def sha(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def snapshot(top, strict=False):
    """Every path under ``top`` with type, mode, content/link target, inode and mtime.

    Directory mtimes only count when ``strict``: a failed run may create and remove its
    temp dir (which bumps the parent's mtime) but check mode must not even do that.
    """
    state = {}
    for dirpath, dirnames, filenames in os.walk(str(top)):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                detail = os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                detail = sha(path)
            else:
                detail = None
            mtime = st.st_mtime_ns if strict or not stat.S_ISDIR(st.st_mode) else None
            state[os.path.relpath(path, str(top))] = (stat.S_IFMT(st.st_mode), st.st_mode & 0o7777, detail, mtime,
                                                       st.st_ino)
    return state


@pytest.fixture
def env(tmp_path):
    """tmp_path with downloads/, root/ and bin/ directories."""
    for sub in ("downloads", "root", "bin"):
        (tmp_path / sub).mkdir()

    class Env(object):
        top = tmp_path
        downloads = tmp_path / "downloads"
        root = str(tmp_path / "root")
        bindir = str(tmp_path / "bin")

        def archive(self, name, members, compression="gz"):
            return make_tar(self.downloads / name, members, compression)

        def run(self, specs, check_mode=False, keep_versions=2):
            return Installer(self.root, specs, keep_versions=keep_versions, check_mode=check_mode).run()

        def link(self, name):
            return os.path.join(self.bindir, name)

    return Env()


def containerd_spec(env, version="1.6.20", members=None, **extra):
    src = env.archive("containerd-%s.tar.gz" % version, members or CONTAINERD)
    spec = {
        "name": "containerd",
        "version": version,
        "src": src,
        "links": {env.link("containerd"): "bin/containerd", env.link("ctr"): "bin/ctr"},
    }
    spec.update(extra)
    return spec


def leftovers(top):
    """Temp or old paths the installer must never leave behind."""
    return sorted(p for p in snapshot(top) if ".kubesmith-tmp-" in p or ".kubesmith-old-" in p)


# --------------------------------------------------------------------------- extraction


@pytest.mark.parametrize("compression, filename", [("gz", "a.tar.gz"), ("xz", "a.tar.xz"), ("bz2", "a.tbz2"),
                                                   ("", "a.tar"), ("gz", "a.tgz")])
def test_extracts_every_tar_flavour(env, compression, filename):
    src = env.archive(filename, CONTAINERD, compression)
    result = env.run([{"name": "containerd", "version": "1.6.20", "src": src}])
    vdir = os.path.join(env.root, "containerd", "1.6.20")
    assert result["changed"] is True
    assert result["artifacts"][0]["extracted"] is True
    assert result["artifacts"][0]["path"] == vdir
    with open(os.path.join(vdir, "bin", "containerd"), "rb") as handle:
        assert handle.read() == b"containerd 1\n"
    assert stat.S_IMODE(os.stat(os.path.join(vdir, "bin", "ctr")).st_mode) == 0o755
    # setuid is dropped, the permission bits are kept; the version dir is readable by everyone
    assert stat.S_IMODE(os.stat(os.path.join(vdir, "bin", "containerd-shim")).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(vdir).st_mode) == 0o755
    assert os.stat(os.path.join(vdir, "bin", "ctr")).st_mtime == 1_600_000_000
    with open(os.path.join(vdir, MARKER)) as handle:
        assert handle.read() == "sha256=%s\nlayout=tar strip_components=0\n" % sha(src)
    assert leftovers(env.top) == []


@pytest.mark.parametrize("strip, expected, absent", [
    (0, ["etcd-v3.5.9-linux-amd64/etcd", "etcd-v3.5.9-linux-amd64/Documentation/README.md"], ["etcd"]),
    (1, ["etcd", "etcdctl", "Documentation/README.md"], ["etcd-v3.5.9-linux-amd64"]),
    (2, ["README.md"], ["etcd", "Documentation"]),
])
def test_strip_components(env, strip, expected, absent):
    src = env.archive("etcd.tar.gz", ETCD)
    env.run([{"name": "etcd", "version": "3.5.9", "src": src, "strip_components": strip}])
    vdir = os.path.join(env.root, "etcd", "3.5.9")
    for rel in expected:
        assert os.path.isfile(os.path.join(vdir, rel)), rel
    for rel in absent:
        assert not os.path.lexists(os.path.join(vdir, rel)), rel


def test_archive_without_directory_members_gets_parents(env):
    src = env.archive("flat.tar.gz", [("a/b/c/tool", "file", b"x", 0o700)])
    env.run([{"name": "flat", "version": "1", "src": src}])
    assert os.path.isfile(os.path.join(env.root, "flat", "1", "a", "b", "c", "tool"))


def test_symlinks_and_hardlinks_inside_the_archive(env):
    members = [
        ("bin/real", "file", b"real", 0o755),
        ("bin/alias", "symlink", "real", 0o777),
        ("bin/hard", "hardlink", "bin/real", 0o755),
        ("current", "symlink", "bin", 0o777),
    ]
    src = env.archive("links.tar.gz", members)
    env.run([{"name": "x", "version": "1", "src": src, "links": {env.link("tool"): "current/alias"}}])
    vdir = os.path.join(env.root, "x", "1")
    assert os.readlink(os.path.join(vdir, "bin", "alias")) == "real"
    assert os.stat(os.path.join(vdir, "bin", "hard")).st_ino == os.stat(os.path.join(vdir, "bin", "real")).st_ino
    with open(env.link("tool"), "rb") as handle:
        assert handle.read() == b"real"


@pytest.mark.parametrize("spec_extra, filename, mode", [
    ({}, "kubectl", 0o755),
    ({"mode": "0700"}, "kubectl", 0o700),
    ({"mode": "750", "filename": "kctl"}, "kctl", 0o750),
])
def test_single_file(env, spec_extra, filename, mode):
    src = str(env.downloads / "kubectl")
    with open(src, "wb") as handle:
        handle.write(b"\x7fELF kubectl")
    spec = {"name": "kubectl", "version": "1.20.2", "src": src, "links": {env.link("kubectl"): filename}}
    spec.update(spec_extra)
    result = env.run([spec])
    dest = os.path.join(env.root, "kubectl", "1.20.2", filename)
    assert result["artifacts"][0]["extracted"] is True
    assert stat.S_IMODE(os.stat(dest).st_mode) == mode
    assert os.readlink(env.link("kubectl")) == dest
    with open(env.link("kubectl"), "rb") as handle:
        assert handle.read() == b"\x7fELF kubectl"
    assert sorted(os.listdir(os.path.dirname(dest))) == sorted([MARKER, filename])


@pytest.mark.parametrize("name, expected", [
    ("containerd-1.6.20-linux-amd64.tar.gz", True),
    ("cni-plugins-linux-amd64-v1.3.0.tgz", True),
    ("x.tar.xz", True),
    ("x.TAR", True),
    ("x.tbz2", True),
    ("runc.amd64", False),
    ("kubectl", False),
    ("image.tar.zst", False),
])
def test_unpack_default_follows_the_file_name(env, name, expected):
    art = art_spec.Artifact(env.root, "n", "1", "/x/" + name)
    assert art.unpack is expected
    assert art_spec.Artifact(env.root, "n", "1", "/x/" + name, unpack=not expected).unpack is (not expected)


# --------------------------------------------------------------------------- idempotence and markers


@pytest.mark.parametrize("with_sha", [True, False])
def test_second_run_changes_nothing(env, with_sha):
    spec = containerd_spec(env)
    if with_sha:
        spec["sha256"] = sha(spec["src"])
    first = env.run([spec])
    assert first["changed"] is True
    before = snapshot(env.top)
    second = env.run([spec])
    assert second["changed"] is False
    assert second["artifacts"][0]["extracted"] is False
    assert second["artifacts"][0]["links_changed"] == []
    assert second["artifacts"][0]["reason"] is None
    assert snapshot(env.top) == before  # same inodes, same mtimes: nothing re-extracted or relinked


def test_declared_sha_means_the_source_is_not_needed_once_installed(env):
    spec = containerd_spec(env)
    spec["sha256"] = "sha256:" + sha(spec["src"]).upper()
    env.run([spec])
    os.unlink(spec["src"])
    result = env.run([spec])
    assert result["changed"] is False
    assert result["warnings"] == []


def test_no_sha_and_source_gone_keeps_installed_version_with_warning(env):
    spec = containerd_spec(env)
    env.run([spec])
    os.unlink(spec["src"])
    result = env.run([spec])
    assert result["changed"] is False
    assert "missing and no sha256" in result["warnings"][0]


@pytest.mark.parametrize("change", ["other archive", "strip_components"])
def test_marker_mismatch_reinstalls(env, change):
    spec = containerd_spec(env)
    env.run([spec])
    vdir = os.path.join(env.root, "containerd", "1.6.20")
    open(os.path.join(vdir, "stray"), "w").close()
    if change == "other archive":
        members = [m if m[0] != "bin/containerd" else ("bin/containerd", "file", b"containerd 2\n", 0o755)
                   for m in CONTAINERD]
        spec = containerd_spec(env, members=members)
    else:
        spec = containerd_spec(env, members=[("top", "dir", None, 0o755)] + [
            ("top/" + m[0],) + m[1:] for m in CONTAINERD], strip_components=1)
    result = env.run([spec])
    art = result["artifacts"][0]
    assert result["changed"] is True and art["extracted"] is True
    assert "marker mismatch" in art["reason"]
    assert not os.path.exists(os.path.join(vdir, "stray"))  # the whole dir was replaced
    with open(os.path.join(vdir, MARKER)) as handle:
        assert sha(spec["src"]) in handle.read()
    assert art["links_changed"] == []  # same paths inside the same version dir
    assert leftovers(env.top) == []


def test_version_dir_without_marker_is_reinstalled(env):
    spec = containerd_spec(env)
    vdir = os.path.join(env.root, "containerd", "1.6.20")
    os.makedirs(os.path.join(vdir, "bin"))
    open(os.path.join(vdir, "bin", "partial"), "w").close()
    result = env.run([spec])
    assert result["artifacts"][0]["reason"] == "present without a complete-install marker"
    assert sorted(os.listdir(os.path.join(vdir, "bin"))) == ["containerd", "containerd-shim", "ctr"]


def test_damaged_install_is_repaired(env):
    spec = containerd_spec(env)
    env.run([spec])
    vdir = os.path.join(env.root, "containerd", "1.6.20")
    os.unlink(os.path.join(vdir, "bin", "ctr"))
    result = env.run([spec])
    assert result["artifacts"][0]["reason"] == "link target(s) bin/ctr missing from the installed version"
    assert os.path.isfile(os.path.join(vdir, "bin", "ctr"))
    assert env.run([spec])["changed"] is False


def test_single_file_mode_change_reinstalls(env):
    src = str(env.downloads / "runc")
    with open(src, "wb") as handle:
        handle.write(b"runc")
    spec = {"name": "runc", "version": "1.1.7", "src": src}
    env.run([spec])
    spec["mode"] = "0700"
    result = env.run([spec])
    assert result["artifacts"][0]["extracted"] is True
    assert stat.S_IMODE(os.stat(os.path.join(env.root, "runc", "1.1.7", "runc")).st_mode) == 0o700


# --------------------------------------------------------------------------- links


def test_links_create_retarget_and_stay(env):
    old = containerd_spec(env, "1.6.19")
    result = env.run([old])
    assert result["artifacts"][0]["links_changed"] == [env.link("containerd"), env.link("ctr")]
    assert os.readlink(env.link("ctr")) == os.path.join(env.root, "containerd", "1.6.19", "bin", "ctr")

    new = containerd_spec(env, "1.6.20")
    result = env.run([new])
    art = result["artifacts"][0]
    assert art["extracted"] is True
    assert art["links_changed"] == [env.link("containerd"), env.link("ctr")]
    assert os.readlink(env.link("ctr")) == os.path.join(env.root, "containerd", "1.6.20", "bin", "ctr")
    assert os.path.isdir(os.path.join(env.root, "containerd", "1.6.19"))  # old version kept
    assert "%s -> %s" % (env.link("ctr"), os.path.join(env.root, "containerd", "1.6.19", "bin", "ctr")) in (
        result["diff"]["before"])
    assert "%s -> %s" % (env.link("ctr"), art["links"][env.link("ctr")]) in result["diff"]["after"]

    again = env.run([new])
    assert again["changed"] is False


def test_foreign_symlink_is_retargeted(env):
    os.symlink("/usr/bin/true", env.link("ctr"))
    spec = containerd_spec(env)
    result = env.run([spec])
    assert env.link("ctr") in result["artifacts"][0]["links_changed"]
    assert os.readlink(env.link("ctr")).endswith("/containerd/1.6.20/bin/ctr")


def test_directory_link_and_missing_parents(env):
    src = env.archive("cni.tgz", [("bridge", "file", b"b", 0o755), ("loopback", "file", b"l", 0o755)])
    link = str(env.top / "opt" / "cni" / "bin")
    result = env.run([{"name": "cni-plugins", "version": "1.3.0", "src": src, "links": {link: "."}}])
    assert result["artifacts"][0]["links_changed"] == [link]
    assert os.readlink(link) == os.path.join(env.root, "cni-plugins", "1.3.0")
    assert sorted(os.listdir(link)) == sorted([MARKER, "bridge", "loopback"])


def test_directory_link_switches_on_upgrade(env):
    link = str(env.top / "opt" / "cni" / "bin")
    for version, plugin in (("1.3.0", "bridge"), ("1.4.0", "bridge-new")):
        src = env.archive("cni-%s.tgz" % version, [(plugin, "file", b"b", 0o755)])
        result = env.run([{"name": "cni-plugins", "version": version, "src": src, "links": {link: "."}}])
        assert result["artifacts"][0]["links_changed"] == [link]
    assert os.readlink(link) == os.path.join(env.root, "cni-plugins", "1.4.0")
    # the rename replaced the link itself, nothing was written into the old version
    assert sorted(os.listdir(os.path.join(env.root, "cni-plugins", "1.3.0"))) == [MARKER, "bridge"]


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_refuses_to_replace_non_symlink(env, kind):
    path = env.link("ctr")
    if kind == "file":
        with open(path, "w") as handle:
            handle.write("package-owned")
    else:
        os.mkdir(path)
    spec = containerd_spec(env)
    before = snapshot(env.top)
    with pytest.raises(ArtifactError, match=r"is a %s, not a symlink; refusing.*force: true" % kind):
        env.run([spec])
    assert snapshot(env.top) == before  # nothing installed, not even the version dir


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_force_moves_it_aside(env, kind):
    path = env.link("ctr")
    if kind == "file":
        with open(path, "w") as handle:
            handle.write("package-owned")
    else:
        os.mkdir(path)
    result = env.run([containerd_spec(env, force=True)])
    backup = path + ".kubesmith-backup"
    assert result["artifacts"][0]["backups"] == [backup]
    assert os.path.islink(path)
    assert (os.path.isfile if kind == "file" else os.path.isdir)(backup)
    assert "%s -> <%s>" % (path, kind) in result["diff"]["before"]
    assert env.run([containerd_spec(env, force=True)])["changed"] is False


def test_force_refuses_to_overwrite_an_existing_backup(env):
    path = env.link("ctr")
    open(path, "w").close()
    open(path + ".kubesmith-backup", "w").close()
    with pytest.raises(ArtifactError, match="backup path .* already exists"):
        env.run([containerd_spec(env, force=True)])


@pytest.mark.parametrize("links, strip, message", [
    ({"/x/tool": "bin/nope"}, 0, "bin/nope not found in .*check strip_components"),
    ({"/x/tool": "bin/containerd"}, 1, "bin/containerd not found"),
])
def test_missing_link_target_fails_before_any_change(env, links, strip, message):
    links = {env.link("tool"): rel for rel in links.values()}
    spec = containerd_spec(env, links=links, strip_components=strip)
    before = snapshot(env.top)
    for check_mode in (True, False):
        with pytest.raises(ArtifactError, match=message):
            env.run([spec], check_mode=check_mode)
        assert snapshot(env.top) == before


def test_single_file_link_target_hint_names_the_installed_file(env):
    src = str(env.downloads / "runc-1.1.7-runc.amd64")  # the download cache prefixes name and version
    with open(src, "w") as handle:
        handle.write("runc")
    spec = {"name": "runc", "version": "1.1.7", "src": src, "links": {env.link("runc"): "runc.amd64"}}
    with pytest.raises(ArtifactError, match="installed as runc-1.1.7-runc.amd64; set filename"):
        env.run([spec])
    spec["filename"] = "runc.amd64"
    assert env.run([spec])["changed"] is True


def test_a_failing_artifact_leaves_the_others_untouched(env):
    good = containerd_spec(env)
    bad = {"name": "etcd", "version": "3.5.9", "src": env.archive("etcd.tar.gz", ETCD), "strip_components": 1,
           "links": {env.link("etcd"): "etcd", env.link("etcdctl"): "bin/etcdctl"}}
    before = snapshot(env.top)
    with pytest.raises(ArtifactError, match="etcd 3.5.9: link target"):
        env.run([good, bad])
    assert snapshot(env.top) == before


# --------------------------------------------------------------------------- archive safety

UNSAFE = [
    ("absolute path", [("/etc/evil", "file", b"x", 0o644)], "absolute path"),
    ("dot dot", [("../evil", "file", b"x", 0o644)], "contains '..'"),
    ("dot dot inside", [("bin/../../evil", "file", b"x", 0o644)], "contains '..'"),
    ("absolute symlink", [("bin/sh", "symlink", "/bin/sh", 0o777)], "absolute path"),
    ("escaping symlink", [("bin/up", "symlink", "../../../etc", 0o777)], "outside the version directory"),
    ("symlink chain escape", [("a", "symlink", ".", 0o777), ("b", "symlink", "a/..", 0o777),
                              ("b/evil", "file", b"x", 0o644)], "outside the version directory"),
    ("write through dir symlink", [("d", "symlink", "sub/..", 0o777), ("sub", "symlink", ".", 0o777),
                                   ("d/evil", "file", b"x", 0o644)], "outside the version directory"),
    ("hard link out", [("bin/h", "hardlink", "../etc/passwd", 0o644)], "contains '..'"),
    ("hard link absolute", [("bin/h", "hardlink", "/etc/passwd", 0o644)], "absolute path"),
    ("fifo", [("bin/pipe", "fifo", None, 0o644)], "FIFO"),
]


@pytest.mark.parametrize("members, message", [case[1:] for case in UNSAFE], ids=[case[0] for case in UNSAFE])
@pytest.mark.parametrize("check_mode", [False, True], ids=["apply", "check"])
def test_unsafe_archives_are_refused(env, members, message, check_mode):
    src = env.archive("evil.tar.gz", [("bin", "dir", None, 0o755)] + members)
    before = snapshot(env.top)
    with pytest.raises(ArtifactError, match=message):
        env.run([{"name": "evil", "version": "1", "src": src}], check_mode=check_mode)
    assert snapshot(env.top) == before
    assert not os.path.exists(str(env.top / "evil"))


def test_not_a_tar_archive(env):
    src = str(env.downloads / "broken.tar.gz")
    with open(src, "wb") as handle:
        handle.write(b"not a tar")
    with pytest.raises(ArtifactError, match="not a readable tar archive .*; set unpack: false"):
        env.run([{"name": "b", "version": "1", "src": src}])
    assert leftovers(env.top) == []


@pytest.mark.parametrize("rel, expected", [
    ("bin/real", True),
    ("bin", True),
    (".", True),
    ("current/real", True),
    ("current/../bin/real", True),
    ("loop/x", False),
    ("bin/none", False),
    ("up/x", False),
])
def test_tree_has_follows_listed_symlinks(rel, expected):
    tree = art_archive.Tree([
        art_archive.Entry("file", "bin/real", None),
        art_archive.Entry("symlink", "current", None, "bin"),
        art_archive.Entry("symlink", "loop", None, "loop"),
        art_archive.Entry("symlink", "up", None, ".."),
    ])
    assert art_archive.tree_has(tree, rel) is expected


# --------------------------------------------------------------------------- checksum


def test_sha256_mismatch_fails_and_changes_nothing(env):
    spec = containerd_spec(env, sha256="0" * 64)
    before = snapshot(env.top)
    for check_mode in (True, False):
        with pytest.raises(ArtifactError, match="has sha256 %s but 0{64} was expected" % sha(spec["src"])):
            env.run([spec], check_mode=check_mode)
    assert snapshot(env.top) == before


def test_missing_source(env):
    spec = containerd_spec(env)
    os.unlink(spec["src"])
    with pytest.raises(ArtifactError, match="does not exist on the host"):
        env.run([spec])


def test_missing_source_in_check_mode_is_a_pending_install(env):
    """A new version in check mode: the download role's copy did not run for real, so the source is absent."""
    env.run([containerd_spec(env, "1.6.20")])
    spec = containerd_spec(env, "1.7.24", sha256="a" * 64)
    os.unlink(spec["src"])
    before = snapshot(env.top, strict=True)
    result = env.run([spec], check_mode=True)
    assert snapshot(env.top, strict=True) == before
    assert result["changed"] is True
    assert "not placed yet" in result["artifacts"][0]["reason"]


# --------------------------------------------------------------------------- check mode


@pytest.mark.parametrize("scenario", ["fresh", "upgrade", "idempotent", "force", "prune"])
def test_check_mode_touches_nothing_and_predicts_the_real_run(env, scenario):
    specs = [containerd_spec(env, "1.6.19")]
    keep = 2
    if scenario in ("upgrade", "idempotent", "prune"):
        env.run(specs)
    if scenario == "upgrade":
        specs = [containerd_spec(env, "1.6.20")]
    if scenario == "force":
        open(env.link("ctr"), "w").close()
        specs[0]["force"] = True
    if scenario == "prune":
        env.run([containerd_spec(env, "1.6.20")])
        specs = [containerd_spec(env, "1.6.21")]
        keep = 1
    before = snapshot(env.top, strict=True)
    predicted = env.run(specs, check_mode=True, keep_versions=keep)
    assert snapshot(env.top, strict=True) == before
    real = env.run(specs, keep_versions=keep)
    assert predicted == real
    assert real["changed"] is (scenario != "idempotent")


# --------------------------------------------------------------------------- pruning


@pytest.mark.parametrize("versions, protected, keep, removed", [
    (["1.0", "1.1", "1.2", "1.3"], {"1.3"}, 2, ["1.0", "1.1"]),
    (["1.0", "1.1", "1.2", "1.3"], {"1.3"}, 0, []),
    (["1.0", "1.1", "1.2", "1.3"], {"1.3", "1.0"}, 2, ["1.1", "1.2"]),
    (["1.0", "1.1", "1.2", "1.3"], {"1.3", "1.0", "1.1"}, 2, ["1.2"]),
    (["1.9", "1.10", "1.8"], {"1.8"}, 2, ["1.9"]),  # a downgrade keeps the newest as rollback target
    (["v3.4.1", "v3.5.0-rc.1", "v3.5.0"], {"v3.5.0"}, 2, ["v3.4.1"]),
    (["1.0"], {"1.0"}, 1, []),
])
def test_select_prune(versions, protected, keep, removed):
    assert art_plan.select_prune(versions, protected, keep) == removed


@pytest.mark.parametrize("low, high", [
    ("1.9", "1.10"),
    ("1.30.0-rc.1", "1.30.0"),
    ("v1.20.2", "1.21.0"),
    ("3.5.9", "3.5.10"),
    ("1.0-alpha", "1.0-beta"),
    ("1.0", "1.0.1"),
])
def test_version_key_orders(low, high):
    assert art_plan.version_key(low) < art_plan.version_key(high)


def test_prune_keeps_current_and_linked_versions(env):
    for version in ("1.6.17", "1.6.18", "1.6.19"):
        env.run([containerd_spec(env, version)], keep_versions=0)
    base = os.path.join(env.root, "containerd")
    os.symlink("1.6.17", os.path.join(base, "pinned"))  # an unmanaged link protects 1.6.17
    os.makedirs(os.path.join(base, "1.0.0"))  # no marker: not ours, never pruned
    # keep 3: 1.6.20 (this run) and 1.6.17 (linked) count, the newest other one (1.6.19) fills up
    result = env.run([containerd_spec(env, "1.6.20")], keep_versions=3)
    art = result["artifacts"][0]
    assert art["pruned"] == [os.path.join(base, "1.6.18")]
    assert sorted(os.listdir(base)) == ["1.0.0", "1.6.17", "1.6.19", "1.6.20", "pinned"]
    assert "%s: (removed)" % os.path.join(base, "1.6.18") in result["diff"]["after"]
    assert env.run([containerd_spec(env, "1.6.20")], keep_versions=3)["changed"] is False
    # keep 2: linked and current fill the quota
    result = env.run([containerd_spec(env, "1.6.20")], keep_versions=2)
    assert result["artifacts"][0]["pruned"] == [os.path.join(base, "1.6.19")]
    assert sorted(os.listdir(base)) == ["1.0.0", "1.6.17", "1.6.20", "pinned"]
    assert leftovers(env.top) == []


def test_prune_keeps_versions_linked_by_another_artifact_of_the_run(env):
    # two versions of one tool side by side (e.g. kubectl for two API versions)
    def spec(version, link):
        src = str(env.downloads / ("kubectl-" + version))
        with open(src, "w") as handle:
            handle.write(version)
        return {"name": "kubectl", "version": version, "src": src, "filename": "kubectl",
                "links": {env.link(link): "kubectl"}}

    env.run([spec("1.19.0", "k-old")], keep_versions=0)
    result = env.run([spec("1.20.2", "kubectl"), spec("1.21.0", "kubectl-next")], keep_versions=1)
    assert result["artifacts"][0]["pruned"] == [os.path.join(env.root, "kubectl", "1.19.0")]
    assert sorted(os.listdir(os.path.join(env.root, "kubectl"))) == ["1.20.2", "1.21.0"]


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("change, message", [
    ({"name": "a/b"}, "must not contain '/'"),
    ({"name": ".hidden"}, "start with '.'"),
    ({"version": ".."}, "version of containerd"),
    ({"version": ""}, "version is required"),
    ({"src": "relative.tar.gz"}, "must be an absolute path"),
    ({"sha256": "abc"}, "not a 64-digit"),
    ({"mode": "rwx"}, "not an octal permission"),
    ({"mode": "17777"}, "out of range"),
    ({"strip_components": -1}, "strip_components must be"),
    ({"filename": MARKER}, "start with '.'"),
    ({"links": {"relative/link": "bin/ctr"}}, "must be an absolute path"),
    ({"links": {"/usr/local/bin/ctr": "/opt/bin/ctr"}}, "must be relative"),
    ({"links": {"/usr/local/bin/ctr": "bin/../../x"}}, "leaves the version directory"),
    ({"links": {"/": "."}}, "cannot be the root"),
    ({"bogus": 1}, "unknown option"),
])
def test_invalid_specs(env, change, message):
    spec = {"name": "containerd", "version": "1.6.20", "src": "/downloads/c.tar.gz"}
    spec.update(change)
    with pytest.raises(ArtifactError, match=message):
        art_spec.parse_artifacts(env.root, [spec])


def test_link_inside_the_version_dir_is_refused(env):
    spec = {"name": "c", "version": "1", "src": "/d/c.tar", "links": {os.path.join(env.root, "c", "1", "x"): "."}}
    with pytest.raises(ArtifactError, match="inside the version directory"):
        art_spec.parse_artifacts(env.root, [spec])


@pytest.mark.parametrize("specs, message", [
    ([{"name": "c", "version": "1", "src": "/d/a"}, {"name": "c", "version": "1", "src": "/d/b"}], "listed twice"),
    ([{"name": "c", "version": "1", "src": "/d/a", "links": {"/usr/bin/x": "x"}},
      {"name": "d", "version": "1", "src": "/d/b", "links": {"/usr/bin/x": "x"}}], "claimed by both c 1 and d 1"),
    ([{"name": "c", "version": "1", "src": "/d/a", "links": {"/opt/cni/bin": "."}},
      {"name": "d", "version": "1", "src": "/d/b", "links": {"/opt/cni/bin/extra": "x"}}], "lies below link"),
])
def test_conflicting_specs(env, specs, message):
    with pytest.raises(ArtifactError, match=message):
        art_spec.parse_artifacts(env.root, specs)


@pytest.mark.parametrize("root, keep, message", [
    ("relative", 2, "must be an absolute path"),
    ("/", 2, "root cannot be /"),
    ("/opt/kubesmith", "2", "keep_versions must be a whole number"),
    ("/opt/kubesmith", -1, "keep_versions must be a whole number >= 0"),
])
def test_invalid_run_options(root, keep, message):
    with pytest.raises(ArtifactError, match=message):
        Installer(root, [], keep_versions=keep)


def test_version_path_that_is_a_file_is_refused(env):
    spec = containerd_spec(env)
    os.makedirs(os.path.join(env.root, "containerd"))
    open(os.path.join(env.root, "containerd", "1.6.20"), "w").close()
    with pytest.raises(ArtifactError, match="exists but is not a directory"):
        env.run([spec])


# --------------------------------------------------------------------------- report_missing and cache files


def run_reporting(env, specs, check_mode=False, cache_files=None):
    return Installer(env.root, specs, check_mode=check_mode, report_missing=True, cache_files=cache_files).run()


def image_file(env, name="pause-3.2.tar", payload=b"image layers\n"):
    path = env.downloads / name
    path.write_bytes(payload)
    return str(path)


def test_report_missing_everything_installed_is_one_quiet_run_without_reading_sources(env, monkeypatch):
    spec = containerd_spec(env)
    spec["sha256"] = sha(spec["src"])
    env.run([spec])
    os.unlink(spec["src"])  # the host cache may be emptied: the marker decides
    before = snapshot(env.top, strict=True)
    patch_sha256_file(monkeypatch, lambda path: pytest.fail("hashed %s" % path))
    result = run_reporting(env, [spec])
    assert (result["changed"], result["missing"]) == (False, [])
    assert snapshot(env.top, strict=True) == before


@pytest.mark.parametrize("check_mode", [False, True])
def test_report_missing_lists_absent_sources_and_changes_nothing(env, check_mode):
    """An upgrade whose new archive is not pushed yet: no link switched, nothing pruned, nothing of the other
    artifacts repaired either (all or nothing: the second call does the whole run)."""
    old = containerd_spec(env, "1.6.19")
    other = dict(containerd_spec(env, "1.0", members=ETCD, strip_components=1), name="etcd",
                 links={env.link("etcd"): "etcd"})
    env.run([old, other])
    os.unlink(env.link("etcd"))  # would be repaired by a full run
    new = containerd_spec(env, "1.6.20", sha256="b" * 64)
    os.unlink(new["src"])
    before = snapshot(env.top, strict=True)
    result = run_reporting(env, [new, other], check_mode=check_mode)
    assert snapshot(env.top, strict=True) == before
    assert result["changed"] is False
    assert result["missing"] == [{"name": "containerd", "version": "1.6.20", "src": new["src"],
                                  "reason": "%s is not on the host" % new["src"]}]
    assert [a["links_changed"] for a in result["artifacts"]] == [[], []]
    assert result["diff"] == {"before": "", "after": ""}


def test_report_missing_lists_a_source_with_another_sha256(env):
    spec = containerd_spec(env, sha256="0" * 64)
    before = snapshot(env.top)
    result = run_reporting(env, [spec])
    assert snapshot(env.top) == before
    [entry] = result["missing"]
    assert entry["reason"] == "%s has sha256 %s, not %s" % (spec["src"], sha(spec["src"]), "0" * 64)


def test_report_missing_installs_from_a_cached_source_in_the_same_call(env):
    """Version dir removed by hand, archive still in the host cache: nothing to push, installed right away."""
    spec = containerd_spec(env)
    spec["sha256"] = sha(spec["src"])
    env.run([spec])
    shutil.rmtree(os.path.join(env.root, "containerd", "1.6.20"))
    result = run_reporting(env, [spec])
    assert result["changed"] is True
    assert result["missing"] == []
    assert result["artifacts"][0]["reason"] == "not installed"
    assert os.path.isfile(os.path.join(env.root, "containerd", "1.6.20", MARKER))


def test_report_missing_without_sha_and_without_marker_is_missing(env):
    spec = containerd_spec(env)
    os.unlink(spec["src"])
    result = run_reporting(env, [spec])
    assert [m["src"] for m in result["missing"]] == [spec["src"]]


def test_cache_file_is_verified_once_then_trusted_by_its_stamp(env, monkeypatch):
    path = image_file(env)
    cache = [{"path": path, "sha256": sha(path), "name": "image-pause 3.2"}]
    result = run_reporting(env, [], cache_files=cache)
    assert (result["changed"], result["missing"]) == (False, [])
    stamp = path + art_cache.STAMP_SUFFIX
    st = os.stat(path)
    with open(stamp) as handle:
        assert handle.read() == "sha256=%s size=%d mtime_ns=%d\n" % (sha(path), st.st_size, st.st_mtime_ns)
    assert leftovers(env.top) == []
    hashed = []
    real = art_archive.sha256_file
    patch_sha256_file(monkeypatch, lambda p: hashed.append(p) or real(p))
    assert run_reporting(env, [], cache_files=cache)["missing"] == []
    assert hashed == []  # stamp matches: not read again
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # rewritten (a new push): hashed again
    assert run_reporting(env, [], cache_files=cache)["missing"] == []
    assert hashed == [path]


def test_cache_file_replaced_by_other_content_is_hashed_again_and_reported(env):
    path = image_file(env)
    cache = [{"path": path, "sha256": sha(path)}]
    run_reporting(env, [], cache_files=cache)
    with open(path, "wb") as handle:
        handle.write(b"damaged layers\n")  # same size, new mtime
    [entry] = run_reporting(env, [], cache_files=cache)["missing"]
    assert entry == {"name": "pause-3.2.tar", "version": None, "src": path,
                     "reason": "%s has sha256 %s, not %s" % (path, sha(path), cache[0]["sha256"])}
    with pytest.raises(ArtifactError, match="cache file pause-3.2.tar: .* has sha256"):
        Installer(env.root, [], cache_files=cache).run()


def test_absent_cache_file(env):
    path = str(env.downloads / "busybox-1.35.tar")
    cache = [{"path": path, "sha256": "c" * 64, "name": "image-busybox 1.35"}]
    spec = containerd_spec(env)
    result = run_reporting(env, [spec], cache_files=cache)
    assert result["missing"] == [{"name": "image-busybox 1.35", "version": None, "src": path,
                                  "reason": "%s is not on the host" % path}]
    assert not os.path.exists(os.path.join(env.root, "containerd"))  # deferred with the rest
    with pytest.raises(ArtifactError, match="cache file image-busybox 1.35: .* is not on the host"):
        Installer(env.root, [spec], cache_files=cache).run()
    # check mode: the copy did not run for real; the install is still predicted
    result = Installer(env.root, [spec], cache_files=cache, check_mode=True).run()
    assert result["changed"] is True


def test_cache_file_without_sha_is_checked_for_presence_only(env):
    path = image_file(env)
    cache = [{"path": path}]
    assert run_reporting(env, [], cache_files=cache)["missing"] == []
    assert not os.path.exists(path + art_cache.STAMP_SUFFIX)
    os.unlink(path)
    assert [m["src"] for m in run_reporting(env, [], cache_files=cache)["missing"]] == [path]


def test_cache_file_stamp_not_written_in_check_mode_and_write_failures_ignored(env, monkeypatch):
    path = image_file(env)
    cache = [{"path": path, "sha256": sha(path)}]
    Installer(env.root, [], cache_files=cache, check_mode=True).run()
    assert not os.path.exists(path + art_cache.STAMP_SUFFIX)

    def refuse(src, dst):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(os, "rename", refuse)
    assert Installer(env.root, [], cache_files=cache).run()["changed"] is False
    assert not os.path.exists(path + art_cache.STAMP_SUFFIX)
    assert leftovers(env.top) == []


@pytest.mark.parametrize(
    ("cache", "message"),
    [
        ([{"path": "relative.tar"}], "must be an absolute path"),
        ([{"path": "/a.tar"}, {"path": "/a.tar"}], "listed twice"),
        ([{"path": "/a.tar", "sha256": "xyz"}], "not a 64-digit"),
        ([{"path": "/a.tar", "mode": "0644"}], "unknown option"),
        (["/a.tar"], "must be a dictionary"),
    ],
)
def test_invalid_cache_files(env, cache, message):
    with pytest.raises(ArtifactError, match=message):
        Installer(env.root, [], cache_files=cache)


def test_source_without_sha_is_hashed_once_then_known_from_its_stamp(env, monkeypatch):
    """Checksum-URL artifacts: the marker holds the source's sha256; re-runs compare it without reading the file."""
    spec = containerd_spec(env)
    assert env.run([spec])["changed"] is True
    assert os.path.isfile(spec["src"] + art_cache.STAMP_SUFFIX)
    hashed = []
    real = art_archive.sha256_file
    patch_sha256_file(monkeypatch, lambda p: hashed.append(p) or real(p))
    for _ in range(2):
        assert run_reporting(env, [spec])["changed"] is False
    assert hashed == []
    # another archive for the same version pushed into the cache: new mtime, hashed, marker mismatch, reinstalled
    containerd_spec(env, members=CONTAINERD[:3])
    result = run_reporting(env, [spec])
    assert hashed == [spec["src"]]
    assert result["artifacts"][0]["reason"].startswith("installed from a different archive")


def test_a_stale_stamp_is_not_trusted(env):
    spec = containerd_spec(env)
    env.run([spec])
    st = os.stat(spec["src"])
    with open(spec["src"] + art_cache.STAMP_SUFFIX, "w") as handle:  # claims another sha256 for another mtime
        handle.write("sha256=%s size=%d mtime_ns=%d\n" % ("e" * 64, st.st_size, st.st_mtime_ns - 1))
    assert env.run([spec])["changed"] is False  # hashed: still the installed archive
    with open(spec["src"] + art_cache.STAMP_SUFFIX) as handle:
        assert handle.read().startswith("sha256=%s " % sha(spec["src"]))


def test_check_link_layout():
    art = art_spec.Artifact("/opt/k", "tool", "1.0", "/d/a")
    art_spec._check_link_layout([art], {"/usr/bin/tool": "tool 1.0", "/usr/local/bin/tool": "tool 1.0"})
    with pytest.raises(art_spec.ArtifactError, match="link /usr/bin/x lies below link /usr/bin: it would be written"):
        art_spec._check_link_layout([art], {"/usr/bin": "a 1", "/usr/bin/x": "b 1"})
    with pytest.raises(
        art_spec.ArtifactError, match=r"link /opt/k/tool/1.0/bin \(b 1\) lies inside the version directory of tool 1.0"
    ):
        art_spec._check_link_layout([art], {"/opt/k/tool/1.0/bin": "b 1"})
