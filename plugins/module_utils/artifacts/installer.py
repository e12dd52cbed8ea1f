# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Install downloaded release artifacts into versioned directories and point symlinks at them.

Used by the ``install_artifacts`` module on the target hosts: standard library only,
Python 3.9 compatible.

Layout::

    <root>/<name>/<version>/                  extracted archive or the single file
    <root>/<name>/<version>/.kubesmith-artifact   marker: source sha256 + layout options
    <link path> -> <root>/<name>/<version>/<relative path>

The work is split in three steps so that nothing visible changes before every artifact
of the run is known to be installable:

1. ``Installer.plan()`` reads the disk only: validates the specs, compares markers,
   looks at every link path and decides what to do (this is all check mode does,
   plus listing archives to validate them).
2. ``Installer.stage()`` extracts/copies each version that needs it into a hidden temp
   directory next to its destination and checks that every link target exists there.
3. ``Installer.commit()`` renames the staged directories into place, switches links
   (temp link + rename) and prunes old versions.
"""

from __future__ import absolute_import, annotations, division, print_function

import binascii
import contextlib
import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterator

MARKER = ".kubesmith-artifact"
BACKUP_SUFFIX = ".kubesmith-backup"
_TMP_TAG = ".kubesmith-tmp-"
_OLD_TAG = ".kubesmith-old-"
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tbz")
_HEX = frozenset("0123456789abcdef")
_MAX_SYMLINK_HOPS = 40


class ArtifactError(Exception):
    """A problem a person has to fix; the message says what and where."""


# --------------------------------------------------------------------------- validation


def _check_component(label, value):
    """Validate a value used as one directory name under the install root."""
    if not isinstance(value, str) or not value:
        raise ArtifactError("%s must be a non-empty string, got %r" % (label, value))
    if "/" in value or "\0" in value or value.startswith("."):
        raise ArtifactError(
            "%s %r cannot be used as a directory name: it must not contain '/' or start with '.'" % (label, value)
        )
    return value


def parse_mode(value) -> int:
    """Return an octal permission string such as ``"0755"`` or ``"755"`` as an int."""
    text = str(value).strip()
    try:
        mode = int(text, 8)
    except ValueError:
        raise ArtifactError("mode %r is not an octal permission such as \"0755\"" % (value,)) from None
    if mode < 0 or mode > 0o7777:
        raise ArtifactError("mode %r is out of range (0000-7777)" % (value,))
    return mode


def normalize_sha256(value: str | None) -> str | None:
    """Return a lower-case 64-digit hex digest; accepts an optional ``sha256:`` prefix; None stays None."""
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if text.startswith("sha256:"):
        text = text[len("sha256:") :]
    if len(text) != 64 or not set(text) <= _HEX:
        raise ArtifactError("sha256 %r is not a 64-digit hexadecimal SHA-256 digest" % (value,))
    return text


def is_archive_name(path: str) -> bool:
    """True if the file name looks like a tar archive this module can unpack."""
    return path.lower().endswith(ARCHIVE_SUFFIXES)


def _normalize_link_value(link_path, rel):
    """Validate a link value (relative to the version dir); return it normalised ('.' for the dir itself)."""
    if not isinstance(rel, str) or not rel:
        raise ArtifactError("link %s: the target must be a path relative to the version directory, got %r" % (
            link_path, rel))
    if rel.startswith("/"):
        raise ArtifactError(
            "link %s: target %r must be relative to the version directory (for example bin/tool, or '.')" % (
                link_path, rel)
        )
    norm = os.path.normpath(rel)
    if norm == ".." or norm.startswith("../"):
        raise ArtifactError("link %s: target %r leaves the version directory" % (link_path, rel))
    return norm


def _normalize_link_path(path):
    if not isinstance(path, str) or not path.startswith("/"):
        raise ArtifactError("link path %r must be an absolute path such as /usr/local/bin/tool" % (path,))
    norm = os.path.normpath(path)
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    if norm == "/":
        raise ArtifactError("link path %r cannot be the root directory" % (path,))
    return norm


def _inside(path, directory):
    """True if ``path`` is ``directory`` or below it (both already normalised/real)."""
    return path == directory or path.startswith(directory.rstrip("/") + "/")


class Artifact(object):
    """One validated artifact specification."""

    def __init__(self, root, name, version, src, sha256=None, unpack=None, strip_components=0, mode="0755",
                 filename=None, links=None, force=False):
        self.root = root
        self.name = _check_component("name", name)
        self.version = _check_component("version of %s" % name, version)
        label = "%s %s" % (self.name, self.version)
        if not isinstance(src, str) or not src.startswith("/"):
            raise ArtifactError("%s: src %r must be an absolute path to the file on the host" % (label, src))
        self.src = os.path.normpath(src)
        self.sha256 = normalize_sha256(sha256)
        self.unpack = is_archive_name(self.src) if unpack is None else bool(unpack)
        if strip_components is None:
            strip_components = 0
        if isinstance(strip_components, bool) or not isinstance(strip_components, int) or strip_components < 0:
            raise ArtifactError("%s: strip_components must be a whole number >= 0, got %r" % (label, strip_components))
        self.strip_components = strip_components
        self.mode = parse_mode("0755" if mode is None else mode)
        if filename is None or filename == "":
            filename = os.path.basename(self.src)
        self.filename = _check_component("%s: filename" % label, filename)  # never clashes with the marker
        self.force = bool(force)
        self.version_dir = os.path.join(root, self.name, self.version)
        self.links = {}
        for path, rel in sorted((links or {}).items()):
            link_path = _normalize_link_path(path)
            if link_path in self.links:
                raise ArtifactError("%s: link %s is listed twice" % (label, link_path))
            if _inside(link_path, self.version_dir):
                raise ArtifactError("%s: link %s would live inside the version directory %s" % (
                    label, link_path, self.version_dir))
            self.links[link_path] = _normalize_link_value(link_path, rel)

    @property
    def label(self):
        return "%s %s" % (self.name, self.version)

    def link_target(self, rel):
        """Absolute symlink target for a link value."""
        return self.version_dir if rel == "." else os.path.join(self.version_dir, rel)

    def marker_text(self, sha256):
        """Marker contents: anything that changes what ends up in the version directory."""
        if self.unpack:
            layout = "layout=tar strip_components=%d" % self.strip_components
        else:
            layout = "layout=file filename=%s mode=%04o" % (self.filename, self.mode)
        return "sha256=%s\n%s\n" % (sha256, layout)


_ARTIFACT_OPTIONS = frozenset(
    ("name", "version", "src", "sha256", "unpack", "strip_components", "mode", "filename", "links", "force")
)


def parse_artifacts(root: str, specs: list[dict] | None) -> list[Artifact]:
    """Validate the module's ``artifacts`` list; return ``Artifact`` objects. Raises ``ArtifactError``."""
    if not isinstance(root, str) or not root.startswith("/"):
        raise ArtifactError("root %r must be an absolute path" % (root,))
    root = os.path.normpath(root)
    if root == "/":
        raise ArtifactError("root cannot be / (use a dedicated directory such as /opt/kubesmith)")
    artifacts = []
    seen = {}
    link_owner = {}
    for index, spec in enumerate(specs or []):
        art = _parse_artifact(root, index, spec)
        key = (art.name, art.version)
        if key in seen:
            raise ArtifactError(
                "artifact %s is listed twice (artifacts[%d] and artifacts[%d]); list each name and "
                "version once" % (art.label, seen[key], index)
            )
        seen[key] = index
        for link_path in art.links:
            if link_path in link_owner:
                raise ArtifactError(
                    "link %s is claimed by both %s and %s" % (link_path, link_owner[link_path], art.label)
                )
            link_owner[link_path] = art.label
        artifacts.append(art)
    _check_link_layout(artifacts, link_owner)
    return artifacts


def _parse_artifact(root, index, spec):
    """``artifacts[index]`` as an ``Artifact`` under ``root``: a dictionary of known options with name, version
    and src."""
    if not isinstance(spec, dict):
        raise ArtifactError("artifacts[%d] must be a dictionary, got %r" % (index, spec))
    unknown = sorted(set(spec) - _ARTIFACT_OPTIONS)
    if unknown:
        raise ArtifactError("artifacts[%d]: unknown option(s) %s" % (index, ", ".join(unknown)))
    for key in ("name", "version", "src"):
        if spec.get(key) in (None, ""):
            raise ArtifactError("artifacts[%d]: %s is required" % (index, key))
    return Artifact(root, **{k: v for k, v in spec.items() if k in _ARTIFACT_OPTIONS})


def _check_link_layout(artifacts, link_owner):
    """No link below another link, none inside a version directory (``link_owner``: link path -> artifact label)."""
    paths = sorted(link_owner)
    for i, path in enumerate(paths[:-1]):
        nxt = paths[i + 1]
        if _inside(nxt, path):
            raise ArtifactError(
                "link %s lies below link %s: it would be written through the other symlink" % (nxt, path)
            )
    for art in artifacts:
        for path in paths:
            if _inside(path, art.version_dir):
                raise ArtifactError(
                    "link %s (%s) lies inside the version directory of %s" % (path, link_owner[path], art.label)
                )


# --------------------------------------------------------------------------- files and archives


def sha256_file(path: str, chunk_size: int = 1024 * 1024) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(chunk_size)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def read_marker(version_dir: str) -> str | None:
    """Marker text of an installed version, or None when there is none."""
    try:
        with open(os.path.join(version_dir, MARKER)) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def marker_sha256(text: str | None) -> str | None:
    """The sha256 recorded in a marker text, or None."""
    for line in (text or "").splitlines():
        if line.startswith("sha256="):
            return line[len("sha256=") :].strip() or None
    return None


# --------------------------------------------------------------------------- files kept as they are


STAMP_SUFFIX = ".kubesmith-verified"


class CacheFile(object):
    """A downloaded file used from the host's cache as it is (e.g. an image tarball to import)."""

    def __init__(self, path, sha256=None, name=None):
        if not isinstance(path, str) or not path.startswith("/"):
            raise ArtifactError("cache file %r: path must be an absolute path to the file on the host" % (path,))
        self.path = os.path.normpath(path)
        self.sha256 = normalize_sha256(sha256)
        self.name = name or os.path.basename(self.path)


def parse_cache_files(specs: list[dict] | None) -> list[CacheFile]:
    """Validate the module's ``cache_files`` list; return ``CacheFile`` objects. Raises ``ArtifactError``."""
    files = []
    seen = set()
    for index, spec in enumerate(specs or []):
        if not isinstance(spec, dict):
            raise ArtifactError("cache_files[%d] must be a dictionary, got %r" % (index, spec))
        unknown = sorted(set(spec) - {"path", "sha256", "name"})
        if unknown:
            raise ArtifactError("cache_files[%d]: unknown option(s) %s" % (index, ", ".join(unknown)))
        cache_file = CacheFile(spec.get("path"), spec.get("sha256"), spec.get("name"))
        if cache_file.path in seen:
            raise ArtifactError("cache file %s is listed twice" % cache_file.path)
        seen.add(cache_file.path)
        files.append(cache_file)
    return files


def _stamp_text(sha256, st):
    return "sha256=%s size=%d mtime_ns=%d\n" % (sha256, st.st_size, st.st_mtime_ns)


class CacheCheck(object):
    """State of one cache file: ``problem`` is None when it is usable; ``stamp`` is text still to be written."""

    def __init__(self, cache_file, problem=None, absent=False, stamp=None):
        self.cache_file = cache_file
        self.problem = problem
        self.absent = absent
        self.stamp = stamp


def stamped_sha256(path: str) -> tuple[str, str | None]:
    """``(sha256, stamp)`` of a file: from its stamp ``<path>.kubesmith-verified`` while the size and modification
    time recorded there still match (``stamp`` None), else hashed (``stamp``: the text to record)."""
    st = os.stat(path)
    try:
        with open(path + STAMP_SUFFIX) as handle:
            text = handle.read()
    except (IOError, OSError):
        text = ""
    recorded = text[len("sha256="):].split(" ", 1)[0] if text.startswith("sha256=") else ""
    if recorded and text == _stamp_text(recorded, st):
        return recorded, None
    computed = sha256_file(path)
    return computed, _stamp_text(computed, st)


def check_cache_file(cache_file: CacheFile) -> CacheCheck:
    """Is the file there with the declared sha256? Hashes it only when its stamp does not match its size+mtime.

    The stamp (``<path>.kubesmith-verified``) records the sha256 a file had when it was last hashed, with its size
    and modification time; a file replaced or rewritten since (new mtime) is hashed again. Without a declared
    sha256 only presence is checked (the controller verified it against its checksum URL when it fetched it)."""
    try:
        st = os.stat(cache_file.path)
    except OSError:
        return CacheCheck(cache_file, "%s is not on the host" % cache_file.path, absent=True)
    if not stat.S_ISREG(st.st_mode):
        return CacheCheck(cache_file, "%s is not a regular file" % cache_file.path)
    if cache_file.sha256 is None:
        return CacheCheck(cache_file)
    computed, stamp = stamped_sha256(cache_file.path)
    if computed != cache_file.sha256:
        return CacheCheck(cache_file, "%s has sha256 %s, not %s" % (cache_file.path, computed, cache_file.sha256))
    return CacheCheck(cache_file, stamp=stamp)


def write_stamp(path: str, text: str) -> bool:
    """Record the sha256 of a hashed file next to it (temp file + rename). Only saves hashing next time:
    failures are ignored (False)."""
    stamp_path = path + STAMP_SUFFIX
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + _TMP_TAG, dir=os.path.dirname(path))
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.chmod(tmp, 0o644)
            os.rename(tmp, stamp_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        return False
    return True


class Entry(object):
    """One archive member after strip_components: kind is dir, file, symlink or hardlink."""

    __slots__ = ("kind", "rel", "member", "link")

    def __init__(self, kind, rel, member, link=None):
        self.kind = kind
        self.rel = rel
        self.member = member
        self.link = link


def _member_parts(name, what):
    """Split an archive path into components; refuse absolute paths and '..'."""
    if name.startswith("/"):
        raise ArtifactError("%s %r has an absolute path" % (what, name))
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArtifactError("%s %r contains '..'" % (what, name))
    return parts


def iter_entries(tar: tarfile.TarFile, strip_components: int, archive: str = "archive") -> Iterator[Entry]:
    """Yield ``Entry`` objects for the members of an open tarfile, refusing anything unsafe.

    Members with ``strip_components`` or fewer path components are skipped (like
    ``tar --strip-components``). Refused: absolute paths, ``..``, absolute symlink
    targets, symlinks or hard links pointing outside the extraction directory, devices
    and FIFOs.
    """
    for member in tar:
        what = "%s: member" % archive
        parts = _member_parts(member.name, what)
        if len(parts) <= strip_components:
            continue
        rel = "/".join(parts[strip_components:])
        if member.isdir():
            yield Entry("dir", rel, member)
        elif member.isreg():
            yield Entry("file", rel, member)
        elif member.issym():
            target = member.linkname
            if not target or target.startswith("/"):
                raise ArtifactError("%s %r is a symlink to the absolute path %r" % (what, member.name, target))
            resolved = os.path.normpath(os.path.join(os.path.dirname(rel), target))
            if resolved == ".." or resolved.startswith("../"):
                raise ArtifactError("%s %r is a symlink to %r, outside the version directory" % (
                    what, member.name, target))
            yield Entry("symlink", rel, member, target)
        elif member.islnk():
            tparts = _member_parts(member.linkname, "%s: hard link target of %r:" % (archive, member.name))
            if len(tparts) <= strip_components:
                raise ArtifactError("%s %r is a hard link to %r, which strip_components=%d removes" % (
                    what, member.name, member.linkname, strip_components))
            yield Entry("hardlink", rel, member, "/".join(tparts[strip_components:]))
        else:
            raise ArtifactError("%s %r is a device, FIFO or other special file; refusing to unpack it" % (
                what, member.name))


def _not_a_tar(path, exc):
    return ArtifactError("%s is not a readable tar archive (%s); set unpack: false for a single file" % (
        path, " ".join(str(exc).split())))


def list_archive(path: str, strip_components: int) -> Tree:
    """Validate an archive without writing anything; return a ``Tree`` (later members win).

    Besides the per-member checks of ``iter_entries`` this resolves every member's parent
    directory and every symlink through the symlinks of the archive, so chains such as
    ``a -> .`` plus ``b -> a/..`` are refused here as extraction would refuse them.
    """
    try:
        with tarfile.open(path, "r:*") as tar:
            tree = Tree(iter_entries(tar, strip_components, archive=path))
    except tarfile.TarError as exc:
        raise _not_a_tar(path, exc) from None
    for rel, entry in tree.items():
        try:
            _virtual_resolve(tree, os.path.dirname(rel))
            if entry.kind == "symlink":
                _virtual_resolve(tree, rel)
        except ArtifactError as exc:
            raise ArtifactError("%s: member %r: %s" % (path, entry.member.name, exc)) from None
    return tree


def _split(rel):
    return [p for p in rel.split("/") if p not in ("", ".")]


def _virtual_resolve(tree, rel):
    """Resolve ``rel`` inside a listed archive like realpath() would after extraction.

    Returns the resolved relative path ("" for the top) and whether every component exists;
    raises ``ArtifactError`` when the path leaves the tree or loops.
    """
    parts = _split(rel)
    resolved = []
    exists = True
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if not resolved:
                raise ArtifactError("%r resolves outside the version directory" % rel)
            resolved.pop()
            continue
        current = "/".join(resolved + [part])
        entry = tree.get(current)
        if entry is not None and entry.kind == "symlink":
            hops += 1
            if hops > _MAX_SYMLINK_HOPS:
                raise ArtifactError("%r runs into a symlink loop" % rel)
            parts = _split(entry.link) + parts
            continue
        if entry is None and current not in tree.implied:
            exists = False
        resolved.append(part)
    return "/".join(resolved), exists


class Tree(dict):
    """``{rel: Entry}`` of a listed archive plus the directories its paths imply."""

    def __init__(self, entries=()):
        super(Tree, self).__init__()
        self.implied = set()
        for entry in entries:
            self[entry.rel] = entry
            parts = entry.rel.split("/")
            for i in range(1, len(parts)):
                self.implied.add("/".join(parts[:i]))


def tree_has(tree: Tree, rel: str) -> bool:
    """True if ``rel`` exists in a listed archive, following symlinks inside the listing."""
    if not isinstance(tree, Tree):
        tree = Tree(tree.values())
    try:
        return _virtual_resolve(tree, rel)[1]
    except ArtifactError:
        return False


def _real_inside(path, real_root, what):
    real = os.path.realpath(path)
    if not _inside(real, real_root):
        raise ArtifactError("%s resolves to %s, outside the version directory" % (what, real))
    return real


def _clear_path(path):
    """Remove whatever a later archive member replaces (files and symlinks only)."""
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.lexists(path):
        raise ArtifactError("archive member %s would replace a directory with a file" % path)


def extract_archive(src: str, dest: str, strip_components: int) -> None:
    """Extract ``src`` into the existing empty directory ``dest`` safely.

    Files are owned by the running user; modes keep the permission bits (no setuid/setgid/
    sticky); directories always get u+rwx so the tree can be replaced or pruned later;
    modification times are kept.
    """
    real_root = os.path.realpath(dest)
    directories = []
    symlinks = []
    try:
        with tarfile.open(src, "r:*") as tar:
            for entry in iter_entries(tar, strip_components, archive=src):
                member = entry.member
                target = os.path.join(dest, entry.rel)
                what = "%s: member %r" % (src, member.name)
                parent = os.path.dirname(target)
                _real_inside(parent, real_root, what)
                if not os.path.isdir(parent):
                    os.makedirs(parent, 0o755)
                if entry.kind == "dir":
                    if os.path.islink(target) or (os.path.lexists(target) and not os.path.isdir(target)):
                        os.unlink(target)
                    if not os.path.isdir(target):
                        os.mkdir(target, 0o700)
                    directories.append((target, member))
                    continue
                _clear_path(target)
                if entry.kind == "file":
                    source = tar.extractfile(member)
                    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                    fd = os.open(target, flags, 0o600)
                    with os.fdopen(fd, "wb") as out:
                        shutil.copyfileobj(source, out, 1024 * 1024)
                        os.fchmod(out.fileno(), member.mode & 0o777)
                    os.utime(target, (member.mtime, member.mtime))
                elif entry.kind == "symlink":
                    os.symlink(entry.link, target)
                    _real_inside(target, real_root, what)
                    symlinks.append((target, what))
                else:
                    source_path = os.path.join(dest, entry.link)
                    _real_inside(source_path, real_root, what)
                    if os.path.islink(source_path) or not os.path.isfile(source_path):
                        raise ArtifactError("%s is a hard link to %r, which is not a regular file extracted "
                                            "before it" % (what, member.linkname))
                    os.link(source_path, target)
    except tarfile.TarError as exc:
        raise _not_a_tar(src, exc) from None
    for target, what in symlinks:
        _real_inside(target, real_root, what)
    for target, member in reversed(directories):
        os.chmod(target, (member.mode & 0o777) | 0o700)
        os.utime(target, (member.mtime, member.mtime))


# --------------------------------------------------------------------------- versions and pruning


def version_key(version: str) -> tuple:
    """Sort key for version strings: 1.9 < 1.10, 1.30.0-rc.1 < 1.30.0, a leading 'v' is ignored."""
    text = version[1:] if version[:1] in ("v", "V") and version[1:2].isdigit() else version
    text = text.split("+", 1)[0]
    release, _sep, pre = text.partition("-")

    def _chunks(value):
        out = []
        for part in value.split("."):
            out.append((0, int(part), "") if part.isdigit() else (1, 0, part))
        return tuple(out)

    return (_chunks(release), 0 if pre else 1, _chunks(pre) if pre else ())


def installed_versions(root: str, name: str) -> list[str]:
    """Versions of ``name`` installed under ``root`` by this module (real directories with a marker)."""
    base = os.path.join(root, name)
    try:
        entries = os.listdir(base)
    except OSError:
        return []
    found = []
    for entry in entries:
        if entry.startswith("."):
            continue
        path = os.path.join(base, entry)
        if os.path.isdir(path) and not os.path.islink(path) and os.path.isfile(os.path.join(path, MARKER)):
            found.append(entry)
    return found


def select_prune(versions: list[str], protected, keep_versions: int) -> list[str]:
    """Versions to remove: keep every protected one, then the newest others up to ``keep_versions`` in total.

    ``keep_versions`` of 0 (or less) disables pruning.
    """
    if keep_versions is None or keep_versions <= 0:
        return []
    kept = [v for v in versions if v in protected]
    remove = []
    for version in sorted((v for v in versions if v not in protected), key=version_key, reverse=True):
        if len(kept) < keep_versions:
            kept.append(version)
        else:
            remove.append(version)
    return sorted(remove, key=version_key)


def _versions_targeted(root, name, targets):
    """Versions of ``name`` that any of the given absolute symlink targets points into."""
    base = os.path.join(root, name) + "/"
    found = set()
    for target in targets:
        if target and target.startswith(base):
            found.add(target[len(base) :].split("/", 1)[0])
    return found


# --------------------------------------------------------------------------- planning


class LinkPlan(object):
    """What happens to one symlink."""

    def __init__(self, path, target, before, action, backup=None, create_parent=None):
        self.path = path
        self.target = target
        self.before = before  # readlink() text, "<file>", "<directory>", "<other>" or None (absent)
        self.action = action  # "none", "create", "retarget" or "replace" (move aside, then link)
        self.backup = backup
        self.create_parent = create_parent  # first missing parent directory, if any

    @property
    def changed(self):
        return self.action != "none"


class ArtifactPlan(object):
    """Decisions for one artifact."""

    def __init__(self, artifact):
        self.artifact = artifact
        self.sha256 = None  # known sha256 of the wanted content (declared or computed)
        self.current_marker = None
        self.install = False
        self.reason = None
        self.replace_existing = False  # the version dir exists and is swapped out
        self.links = []
        self.prune = []
        self.staged = None
        self.created_parent = None  # <root>/<name> made by stage(), removed again if the run is abandoned
        self.warnings = []
        self.unchecked = False  # check mode, source not there yet: the contents could not be checked
        self.missing = None  # report_missing: why the source cannot be used (absent, other sha256)
        self.src_stamp = None  # the source was hashed: stamp text to record next to it

    @property
    def changed(self):
        return self.install or bool(self.prune) or any(link.changed for link in self.links)


def _describe(path):
    """State of a link path: readlink() text for a symlink, a placeholder for anything else, None if absent."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return os.readlink(path)
    if stat.S_ISDIR(st.st_mode):
        return "<directory>"
    if stat.S_ISREG(st.st_mode):
        return "<file>"
    return "<other>"


def _first_missing_parent(path):
    parent = os.path.dirname(path)
    missing = None
    while parent and parent != "/" and not os.path.lexists(parent):
        missing = parent
        parent = os.path.dirname(parent)
    if os.path.lexists(parent) and not os.path.isdir(parent):
        raise ArtifactError("cannot create link %s: %s exists and is not a directory" % (path, parent))
    return missing


def plan_link(artifact: Artifact, path: str, rel: str) -> LinkPlan:
    """Decide what to do with one link path. Raises when a non-symlink is in the way and force is off."""
    target = artifact.link_target(rel)
    before = _describe(path)
    missing = _first_missing_parent(path)
    if before is None:
        return LinkPlan(path, target, None, "create", create_parent=missing)
    if not before.startswith("<"):
        if before == target:
            return LinkPlan(path, target, before, "none")
        return LinkPlan(path, target, before, "retarget")
    kind = before.strip("<>")
    if not artifact.force:
        raise ArtifactError(
            "%s: %s is a %s, not a symlink; refusing to replace it. Remove it, or set force: true on this "
            "artifact to move it aside to %s%s" % (artifact.label, path, kind, path, BACKUP_SUFFIX)
        )
    backup = path + BACKUP_SUFFIX
    if os.path.lexists(backup):
        raise ArtifactError(
            "%s: %s is a %s and force is set, but the backup path %s already exists; move one of them away" % (
                artifact.label, path, kind, backup)
        )
    return LinkPlan(path, target, before, "replace", backup=backup)


def plan_artifact(artifact: Artifact, check_mode: bool = False, report_missing: bool = False) -> ArtifactPlan:
    """Read-only decisions for one artifact (no pruning: that needs the whole run).

    In check mode a missing source is not an error: the download role's copy did not run for real either (a new
    version in check mode), so the install is reported as pending, unchecked.
    With ``report_missing`` a source that an install needs but that is absent or does not match the declared
    sha256 is recorded in ``plan.missing`` instead of failing: the caller places it and runs again."""
    plan = ArtifactPlan(artifact)
    vdir = artifact.version_dir
    if os.path.lexists(vdir) and (os.path.islink(vdir) or not os.path.isdir(vdir)):
        raise ArtifactError("%s: %s exists but is not a directory; remove it so the version can be installed" % (
            artifact.label, vdir))
    plan.current_marker = read_marker(vdir) if os.path.isdir(vdir) else None
    src_exists = os.path.isfile(artifact.src)
    computed = None
    if artifact.sha256:
        plan.sha256 = artifact.sha256
    elif src_exists:  # no declared sha256 (a checksum URL): hashed once, then known from its stamp
        computed, plan.src_stamp = stamped_sha256(artifact.src)
        plan.sha256 = computed
    if plan.current_marker is not None and plan.sha256 is None:
        # no checksum given and the source is gone: trust the complete installed version
        plan.sha256 = marker_sha256(plan.current_marker)
        plan.warnings.append(
            "%s: %s is missing and no sha256 is given; keeping the installed version unchecked" % (
                artifact.label, artifact.src)
        )
    wanted = artifact.marker_text(plan.sha256) if plan.sha256 else None
    if plan.current_marker is None:
        plan.install = True
        plan.reason = "not installed" if not os.path.lexists(vdir) else "present without a complete-install marker"
        plan.replace_existing = os.path.lexists(vdir)
    elif plan.current_marker != wanted:
        plan.install = True
        plan.reason = "installed from a different archive or with other options (marker mismatch)"
        plan.replace_existing = True
    else:
        damaged = sorted(rel for rel in artifact.links.values() if not os.path.exists(artifact.link_target(rel)))
        if damaged:  # files removed by hand: repair from the source (stage() fails if the archive lacks them)
            plan.install = True
            plan.reason = "link target(s) %s missing from the installed version" % ", ".join(damaged)
            plan.replace_existing = True
    if plan.install and not src_exists and report_missing:
        plan.missing = "%s is not on the host" % artifact.src
    elif plan.install and not src_exists and check_mode:
        plan.unchecked = True
        plan.reason += " (check mode: %s is not placed yet, contents unchecked)" % artifact.src
    elif plan.install:
        if not src_exists:
            raise ArtifactError("%s: source %s does not exist on the host (the download role puts it there); "
                                "cannot install %s" % (artifact.label, artifact.src, vdir))
        if artifact.sha256:
            computed = sha256_file(artifact.src) if computed is None else computed
            if computed != artifact.sha256 and report_missing:
                plan.missing = "%s has sha256 %s, not %s" % (artifact.src, computed, artifact.sha256)
            elif computed != artifact.sha256:
                raise ArtifactError(
                    "%s: %s has sha256 %s but %s was expected; the file is damaged or the checksum in the "
                    "artifact list is wrong. Delete the file and run the download again" % (
                        artifact.label, artifact.src, computed, artifact.sha256)
                )
    plan.links = [plan_link(artifact, path, rel) for path, rel in sorted(artifact.links.items())]
    return plan


def _missing_link_targets(artifact, exists):
    return sorted(rel for rel in artifact.links.values() if not exists(rel))


def _link_target_error(artifact, missing, where):
    if artifact.unpack:
        hint = " (check strip_components and the paths in links)"
    else:
        hint = " (the file is installed as %s; set filename to name it otherwise)" % artifact.filename
    return ArtifactError("%s: link target(s) %s not found in %s%s" % (
        artifact.label, ", ".join(missing), where, hint))


def check_contents(plan: ArtifactPlan) -> None:
    """Check mode: validate what would be installed (archive safety, link targets) without writing."""
    art = plan.artifact
    if art.unpack:
        tree = list_archive(art.src, art.strip_components)
        missing = _missing_link_targets(art, lambda rel: tree_has(tree, rel))
    else:
        missing = _missing_link_targets(art, lambda rel: rel in (".", art.filename))
    if missing:
        raise _link_target_error(art, missing, art.src)


# --------------------------------------------------------------------------- acting


def stage(plan: ArtifactPlan) -> str:
    """Put the wanted content into a hidden temp dir next to the version dir; return its path."""
    art = plan.artifact
    parent = os.path.dirname(art.version_dir)
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755)
        plan.created_parent = parent
    tmp = tempfile.mkdtemp(prefix="." + art.version + _TMP_TAG, dir=parent)
    try:
        if art.unpack:
            extract_archive(art.src, tmp, art.strip_components)
        else:
            dest = os.path.join(tmp, art.filename)
            shutil.copyfile(art.src, dest)
            os.chmod(dest, art.mode)
        missing = _missing_link_targets(art, lambda rel: os.path.exists(os.path.join(tmp, rel)))
        if missing:
            raise _link_target_error(art, missing, art.src)
        with open(os.path.join(tmp, MARKER), "w") as handle:
            handle.write(art.marker_text(plan.sha256))
        os.chmod(os.path.join(tmp, MARKER), 0o644)
        os.chmod(tmp, 0o755)  # noqa: S103 - binaries for every user/service; mkdtemp made it 0700
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_if_empty(plan.created_parent)
        raise
    plan.staged = tmp
    return tmp


def _remove_if_empty(directory):
    if directory:
        with contextlib.suppress(OSError):  # not empty or already gone: leave it
            os.rmdir(directory)


def _unused_name(directory, prefix):
    """A path in ``directory`` that does not exist right now (for a temp link or a rename target)."""
    while True:
        path = os.path.join(directory, prefix + binascii.hexlify(os.urandom(6)).decode("ascii"))
        if not os.path.lexists(path):
            return path


def _swap_into_place(staged, version_dir):
    """Rename ``staged`` to ``version_dir``; an existing version dir is renamed away first, then deleted."""
    if not os.path.lexists(version_dir):
        os.rename(staged, version_dir)
        return
    old = _unused_name(os.path.dirname(version_dir), "." + os.path.basename(version_dir) + _OLD_TAG)
    os.rename(version_dir, old)
    try:
        os.rename(staged, version_dir)
    except OSError:
        os.rename(old, version_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def apply_link(link: LinkPlan) -> None:
    """Create or retarget one symlink atomically (temp link in the same directory + rename)."""
    parent = os.path.dirname(link.path)
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755)
    if link.action == "replace":
        os.rename(link.path, link.backup)
    tmp = _unused_name(parent, "." + os.path.basename(link.path) + _TMP_TAG)
    os.symlink(link.target, tmp)  # raises rather than following anything if the name was taken meanwhile
    try:
        os.rename(tmp, link.path)
    except OSError:
        os.unlink(tmp)
        raise


def _remove_version(path):
    """Remove a pruned version dir: rename it away first so it never looks half-deleted."""
    old = _unused_name(os.path.dirname(path), "." + os.path.basename(path) + _OLD_TAG)
    os.rename(path, old)
    shutil.rmtree(old)


# --------------------------------------------------------------------------- the whole run


class Installer(object):
    """Plan, stage and commit a list of artifacts. ``run()`` returns the module result."""

    def __init__(self, root, artifacts, keep_versions=2, check_mode=False, report_missing=False, cache_files=None):
        self.artifacts = parse_artifacts(root, artifacts)
        self.cache_files = parse_cache_files(cache_files)
        self.report_missing = bool(report_missing)
        self.cache_checks = []
        self.deferred = False  # report_missing and a source is missing: nothing was done
        self.root = os.path.normpath(root)
        if isinstance(keep_versions, bool) or not isinstance(keep_versions, int) or keep_versions < 0:
            raise ArtifactError("keep_versions must be a whole number >= 0 (0 keeps everything), got %r" % (
                keep_versions,))
        self.keep_versions = keep_versions
        self.check_mode = check_mode
        self.plans = []

    def plan(self):
        self.plans = [plan_artifact(art, self.check_mode, self.report_missing) for art in self.artifacts]
        self.cache_checks = [check_cache_file(cache_file) for cache_file in self.cache_files]
        after_targets = [link.target for plan in self.plans for link in plan.links]
        managed = {link.path for plan in self.plans for link in plan.links}
        by_name = {}
        for plan in self.plans:
            by_name.setdefault(plan.artifact.name, []).append(plan)
        for name, plans in by_name.items():
            versions = set(installed_versions(self.root, name))
            protected = {p.artifact.version for p in plans}
            protected |= _versions_targeted(self.root, name, after_targets)
            unmanaged = self._symlinks_in(os.path.join(self.root, name), skip=managed)
            protected |= _versions_targeted(self.root, name, unmanaged)
            versions |= {p.artifact.version for p in plans}
            remove = select_prune(sorted(versions), protected, self.keep_versions)
            plans[0].prune = [os.path.join(self.root, name, v) for v in remove]
        return self.plans

    @staticmethod
    def _symlinks_in(directory, skip=()):
        """Absolute targets of symlinks directly inside ``directory`` (e.g. a 'current' link), except ``skip``."""
        targets = []
        try:
            entries = os.listdir(directory)
        except OSError:
            return targets
        for entry in entries:
            path = os.path.join(directory, entry)
            if path not in skip and os.path.islink(path):
                targets.append(os.path.normpath(os.path.join(directory, os.readlink(path))))
        return targets

    def stage(self):
        """Stage every install; on any failure remove what was staged and re-raise."""
        try:
            for plan in self.plans:
                if plan.install:
                    stage(plan)
        except BaseException:
            self.discard()
            raise

    def discard(self):
        for plan in self.plans:
            if plan.staged:
                shutil.rmtree(plan.staged, ignore_errors=True)
                plan.staged = None
                _remove_if_empty(plan.created_parent)

    def commit(self):
        for plan in self.plans:
            if plan.staged:
                _swap_into_place(plan.staged, plan.artifact.version_dir)
                plan.staged = None
        for plan in self.plans:
            for link in plan.links:
                if link.changed:
                    apply_link(link)
        for plan in self.plans:
            for path in plan.prune:
                _remove_version(path)

    def missing(self):
        """Sources this run cannot use: ``{name, version, src, reason}`` (version is None for a cache file)."""
        found = [{"name": p.artifact.name, "version": p.artifact.version, "src": p.artifact.src, "reason": p.missing}
                 for p in self.plans if p.missing]
        found.extend({"name": c.cache_file.name, "version": None, "src": c.cache_file.path, "reason": c.problem}
                     for c in self.cache_checks if c.problem)
        return found

    def _write_stamps(self):
        stamps = [(p.artifact.src, p.src_stamp) for p in self.plans if p.src_stamp]
        stamps.extend((c.cache_file.path, c.stamp) for c in self.cache_checks if c.stamp)
        for path, text in stamps:
            write_stamp(path, text)

    def _check_cache_files(self):
        for check in self.cache_checks:
            if check.problem and not (check.absent and self.check_mode):  # check mode: its copy did not run
                raise ArtifactError("cache file %s: %s (the download role puts it there)" % (
                    check.cache_file.name, check.problem))

    def run(self):
        try:
            self.plan()
            if self.report_missing and self.missing():
                self.deferred = True
                return self.result()
            self._check_cache_files()
            if self.check_mode:
                for plan in self.plans:
                    if plan.install and not plan.unchecked:
                        check_contents(plan)
            else:
                self.stage()
                try:
                    self.commit()
                finally:
                    self.discard()
                self._write_stamps()
        except OSError as exc:
            raise ArtifactError("installing artifacts under %s failed: %s" % (self.root, exc)) from None
        return self.result()

    def result(self):
        if self.deferred:
            return self._deferred_result()
        items = []
        warnings = []
        before = []
        after = []
        for plan in self.plans:
            art = plan.artifact
            warnings.extend(plan.warnings)
            items.append({
                "name": art.name,
                "version": art.version,
                "path": art.version_dir,
                "sha256": plan.sha256,
                "extracted": plan.install,
                "reason": plan.reason,
                "links": {link.path: link.target for link in plan.links},
                "links_changed": [link.path for link in plan.links if link.changed],
                "backups": [link.backup for link in plan.links if link.backup],
                "pruned": list(plan.prune),
            })
            if plan.current_marker is None and plan.replace_existing:
                before.append("%s: (present, no marker)" % art.version_dir)
            else:
                before.append("%s: %s" % (art.version_dir, _marker_summary(plan.current_marker)))
            after.append("%s: %s" % (art.version_dir, _marker_summary(art.marker_text(plan.sha256))))
            for link in plan.links:
                before.append("%s -> %s" % (link.path, link.before if link.before is not None else "(absent)"))
                after.append("%s -> %s" % (link.path, link.target))
                if link.backup:
                    after.append("%s -> %s" % (link.backup, link.before))
            for path in plan.prune:
                before.append("%s: installed" % path)
                after.append("%s: (removed)" % path)
        return {
            "changed": any(plan.changed for plan in self.plans),
            "artifacts": items,
            "diff": {"before": "\n".join(before) + "\n", "after": "\n".join(after) + "\n"},
            "warnings": warnings,
            "missing": [],
        }

    def _deferred_result(self):
        """report_missing and some source is missing: nothing was done; each artifact as it is now."""
        items = [{
            "name": plan.artifact.name,
            "version": plan.artifact.version,
            "path": plan.artifact.version_dir,
            "sha256": plan.sha256,
            "extracted": False,
            "reason": plan.reason,
            "links": {link.path: link.target for link in plan.links},
            "links_changed": [],
            "backups": [],
            "pruned": [],
        } for plan in self.plans]
        return {
            "changed": False,
            "artifacts": items,
            "diff": {"before": "", "after": ""},
            "warnings": [w for plan in self.plans for w in plan.warnings],
            "missing": self.missing(),
        }


def _marker_summary(marker):
    if marker is None:
        return "(absent)"
    return " ".join(line for line in marker.splitlines() if line)
