


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

The pieces: ``spec.py`` validates the specs, ``plan.py`` is step 1, ``archive.py`` lists and extracts archives,
``cache.py`` verifies the files kept as they are; this module stages, commits and runs the whole.
"""

from __future__ import absolute_import, annotations, division, print_function

import binascii
import contextlib
import os
import shutil
import tempfile

from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts.archive import extract_archive
from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts.cache import (
    check_cache_file,
    parse_cache_files,
    write_stamp,
)
from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts.plan import (
    ArtifactPlan,
    LinkPlan,
    _link_target_error,
    _missing_link_targets,
    _versions_targeted,
    check_contents,
    installed_versions,
    plan_artifact,
    select_prune,
)
from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts.spec import (
    _OLD_TAG,
    _TMP_TAG,
    MARKER,
    ArtifactError,
    parse_artifacts,
)

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
