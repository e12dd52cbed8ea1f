# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Files kept as they are in the host's cache (``install_artifacts``'s ``cache_files``): their checksum is verified
once, then trusted while a stamp file next to them matches the file's size and modification time.
"""

from __future__ import absolute_import, annotations, division, print_function

import contextlib
import os
import stat
import tempfile

from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts.archive import sha256_file
from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts.spec import (
    _TMP_TAG,
    ArtifactError,
    normalize_sha256,
)

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
