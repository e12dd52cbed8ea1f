# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""What ``install_artifacts`` will do, decided from the disk only: installed versions and pruning, each link's
and artifact's plan, and the contents check (standard library only).
"""

from __future__ import absolute_import, annotations, division, print_function

import os
import stat

from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts.archive import (
    list_archive,
    marker_sha256,
    read_marker,
    sha256_file,
    tree_has,
)
from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts.cache import stamped_sha256
from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts.spec import (
    BACKUP_SUFFIX,
    MARKER,
    Artifact,
    ArtifactError,
)

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
