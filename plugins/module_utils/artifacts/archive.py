# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Files and archives for ``install_artifacts`` (standard library only): checksums, version markers, and tar
archives listed and extracted without following anything outside the destination.
"""

from __future__ import absolute_import, annotations, division, print_function

import hashlib
import os
import shutil
import tarfile
from collections.abc import Iterator

from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts.spec import (
    _MAX_SYMLINK_HOPS,
    MARKER,
    ArtifactError,
    _inside,
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
