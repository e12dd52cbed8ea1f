# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""What ``install_artifacts`` is asked to install: the artifact specs, validated (standard library only).

:func:`parse_artifacts` turns the module's ``artifacts`` option into :class:`Artifact` objects and refuses
anything unsafe or ambiguous (names, versions, link paths, layouts) with an :class:`ArtifactError` that says what
to fix. The markers and suffixes every step shares are defined here too.
"""

from __future__ import absolute_import, annotations, division, print_function

import os

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
