# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""A role's directories and files on a host, in one round trip: decide what differs, then write it.

Used by the ``host_files`` module (configuration files, units, scripts) and the ``pki_files`` module (keys and
certificates). Standard library only: it runs on the managed host.

``plan(directories, files)`` reads the host and returns the actions a run would take, without side effects;
``apply(actions, run_command)`` performs them. Check mode is ``plan`` alone, so it reports exactly what a real run
does (``validate`` commands run only in a real run, before the file replaces the old one).
"""

from __future__ import absolute_import, annotations, division, print_function

import errno
import grp
import os
import pwd
import stat
import tempfile

DIFF_MAX = 256 * 1024  # larger files are reported as changed without their text


class HostFilesError(Exception):
    pass


def parse_mode(text: str) -> int:
    """'0644' -> 0o644; anything that is not an octal permission mode is refused. (An unquoted YAML 0644 is the
    number 420: the action plugin refuses numbers before they get here.)"""
    text = str(text)
    if not text or any(c not in "01234567" for c in text):
        raise HostFilesError("mode %r is not an octal mode such as '0644'" % (text,))
    mode = int(text, 8)
    if mode & ~0o7777:
        raise HostFilesError("mode %r is out of range" % (text,))
    return mode


def ids(owner: str, group: str) -> tuple[int, int]:
    try:
        uid = pwd.getpwnam(owner).pw_uid
    except KeyError:
        raise HostFilesError("owner %r does not exist on this host" % owner) from None
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        raise HostFilesError("group %r does not exist on this host" % group) from None
    return uid, gid


def _ids(entry, check_mode):
    """:func:`ids` of an entry's owner and group. In check mode a user or group that does not exist yet (an earlier
    task of the same run creates it) gives (None, None): the attributes are reported as changing."""
    try:
        return ids(entry.get("owner") or "root", entry.get("group") or "root")
    except HostFilesError:
        if check_mode:
            return None, None
        raise


def _stat(path):
    try:
        return os.lstat(path)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise HostFilesError("cannot read %s: %s" % (path, exc.strerror)) from None


def _absolute(path):
    """The normalised path; relative paths and the root directory (however written: /, //, /./) are refused."""
    if not path or not os.path.isabs(path):
        raise HostFilesError("%r is not an absolute path below /" % (path,))
    path = os.path.normpath("/" + path.lstrip("/"))  # normpath keeps a leading '//'
    if path == "/":
        raise HostFilesError("%r is the root directory" % (path,))
    return path


def _read(path, size_hint):
    with open(path, "rb") as handle:
        return handle.read(size_hint + 1)


def _sources(path, sources, check_mode):
    """The bytes of a file made of other files of the host (e.g. a certificate and its key): None in check mode
    when one is missing (a file the same run would write first)."""
    chunks = []
    for source in sources:
        source = _absolute(source)
        st = _stat(source)
        if st is None or not stat.S_ISREG(st.st_mode):
            if check_mode:
                return None
            raise HostFilesError("%s: its source %s is missing on this host" % (path, source))
        with open(source, "rb") as handle:
            chunks.append(handle.read())
    return b"".join(chunks)


def plan(directories=(), files=(), required=(), required_hint: str = "", check_mode: bool = False) -> list[dict]:
    """What a run would do, as a list of action dicts, in order (directories first, then files).

    directories: dicts with path, mode, owner, group. files: dicts with path, content (text) or sources (paths on
    the host whose bytes are joined, as they are before this call writes anything), mode, owner, group, validate
    (command with %s), state ('present' or 'absent').
    required: paths that must exist first (not checked in check mode, where the same run may write them first).
    Each action: {kind, path, what, ...} where what is 'create', 'write', 'attributes' or 'remove'.
    """
    if not check_mode:
        missing = [p for p in required if _stat(_absolute(p)) is None]
        if missing:
            raise HostFilesError(
                "%s missing on this host%s" % (", ".join(missing), ": " + required_hint if required_hint else "")
            )
    actions = [a for a in (_directory_action(entry, check_mode) for entry in directories) if a is not None]
    seen = set()
    for entry in files:
        path = _absolute(entry["path"])
        if path in seen:
            raise HostFilesError("%s is listed twice" % path)
        seen.add(path)
        action = _file_action(path, entry, check_mode)
        if action is not None:
            actions.append(action)
    return actions


def _directory_action(entry, check_mode=False):
    """The action for one directory entry (create, or fix mode and owner), ``None`` when it is as wanted."""
    path = _absolute(entry["path"])
    mode = parse_mode(entry.get("mode") or "0755")
    uid, gid = _ids(entry, check_mode)
    st = _stat(path)
    if st is None:
        return dict(kind="directory", path=path, what="create", mode=mode, uid=uid, gid=gid)
    if not stat.S_ISDIR(st.st_mode):
        raise HostFilesError("%s exists and is not a directory; move it away" % path)
    if stat.S_IMODE(st.st_mode) != mode or (st.st_uid, st.st_gid) != (uid, gid):
        return dict(kind="directory", path=path, what="attributes", mode=mode, uid=uid, gid=gid)
    return None


def _file_action(path, entry, check_mode):
    """The action for the file entry at ``path`` (create, write, attributes or remove), ``None`` when it is as
    wanted. In check mode, sources not there yet plan a write without data."""
    st = _stat(path)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise HostFilesError("%s exists and is not a regular file; move it away" % path)
    if entry.get("state", "present") == "absent":
        return dict(kind="file", path=path, what="remove") if st is not None else None
    content, sources = entry.get("content"), entry.get("sources")
    if (content is None) == (not sources):
        raise HostFilesError("%s: give either content or sources for a file that should be present" % path)
    data = content.encode("utf-8") if content is not None else _sources(path, sources, check_mode)
    mode = parse_mode(entry.get("mode") or "0644")
    uid, gid = _ids(entry, check_mode)
    validate = entry.get("validate")
    if validate and "%s" not in validate:
        raise HostFilesError("validate command for %s must contain %%s (the new file): %s" % (path, validate))
    action = dict(kind="file", path=path, mode=mode, uid=uid, gid=gid, data=data, validate=validate, before=None)
    if data is None:  # check mode, sources not there yet
        return dict(action, what="write" if st is not None else "create")
    if st is None:
        return dict(action, what="create", before="")
    old = _read(path, len(data)) if st.st_size == len(data) else None
    if old != data:
        if st.st_size <= DIFF_MAX:
            action["before"] = _read(path, DIFF_MAX).decode("utf-8", "replace")
        return dict(action, what="write")
    if stat.S_IMODE(st.st_mode) != mode or (st.st_uid, st.st_gid) != (uid, gid):
        return dict(action, what="attributes")
    return None


def probe(paths: list[str], limit: int = 65536) -> dict[str, str | None]:
    """{path: its text (at most ``limit`` bytes), or None when it does not exist} - read before anything is written.
    For small state files such as /proc/sys values."""
    out = {}
    for path in paths:
        path = _absolute(path)
        try:
            with open(path, "rb") as handle:
                out[path] = handle.read(limit).decode("utf-8", "replace")
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                raise HostFilesError("cannot read %s: %s" % (path, exc.strerror)) from None
            out[path] = None
    return out


def write_atomic(path: str, data: bytes, mode: int, uid: int, gid: int, validate=None, run_command=None) -> None:
    """Temporary file beside ``path`` (mode and owner set before any byte), fsync, optional validation, rename."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path))
    try:
        os.fchmod(fd, mode)
        if (uid, gid) != (os.geteuid(), os.getegid()):
            os.fchown(fd, uid, gid)
        with os.fdopen(fd, "wb") as handle:
            fd = None
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if validate:
            if "%s" not in validate:
                raise HostFilesError("validate command for %s must contain %%s: %s" % (path, validate))
            rc, out, err = run_command(validate % tmp)
            if rc != 0:
                raise HostFilesError(
                    "%s was not replaced: `%s` failed (rc %d): %s"
                    % (path, validate % "<new file>", rc, (err or out).strip())
                )
        os.rename(tmp, path)
        tmp = None
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def apply(actions: list[dict], run_command=None) -> None:
    """Perform the planned actions, in order."""
    for action in actions:
        path, what = action["path"], action["what"]
        if what == "remove":
            os.unlink(path)
        elif action["kind"] == "directory":
            if what == "create":  # exist_ok: an earlier directory of the list may have been below this one
                os.makedirs(path, action["mode"], exist_ok=True)
            os.chown(path, action["uid"], action["gid"])
            os.chmod(path, action["mode"])  # makedirs applies the umask
        elif what in ("create", "write"):
            write_atomic(
                path, action["data"], action["mode"], action["uid"], action["gid"], action.get("validate"), run_command
            )
        else:
            os.chown(path, action["uid"], action["gid"])
            os.chmod(path, action["mode"])


def summary(actions: list[dict], diff: bool = False, secret_paths=()) -> dict:
    """The module result: changed, the paths by kind of change, and (diff mode) a before/after per written file."""
    result = dict(
        changed=bool(actions),
        changed_paths=[a["path"] for a in actions],
        written=[a["path"] for a in actions if a["kind"] == "file" and a["what"] in ("create", "write")],
        removed=[a["path"] for a in actions if a["what"] == "remove"],
    )
    if diff:
        diffs = []
        for a in actions:
            header = dict(before_header=a["path"], after_header=a["path"])
            if a["path"] in secret_paths:
                diffs.append(dict(header, prepared="%s: %s (content not shown)" % (a["path"], a["what"])))
            elif a["what"] in ("create", "write") and a["kind"] == "file":
                if a["data"] is None:
                    diffs.append(dict(header, prepared="%s: made from files this run writes first" % a["path"]))
                elif a["before"] is None or len(a["data"]) > DIFF_MAX:
                    diffs.append(dict(header, prepared="%s: content changed (too large to show)" % a["path"]))
                else:
                    diffs.append(dict(header, before=a["before"], after=a["data"].decode("utf-8", "replace")))
            elif a["what"] == "remove":
                diffs.append(dict(header, prepared="%s: removed" % a["path"]))
            else:
                diffs.append(
                    dict(header, prepared="%s: %s %s mode %04o" % (a["path"], a["what"], a["kind"], a["mode"]))
                )
        result["diff"] = diffs
    return result


def unit_path(name: str, directory: str = "/etc/systemd/system") -> str:
    return "%s/%s.service" % (directory.rstrip("/"), name)


def component_restarts(
    names: list[str],
    config_files: list[dict],
    changed_paths: list[str],
    binaries_changed: bool = False,
    unit_dir: str = "/etc/systemd/system",
) -> list[str]:
    """Which components restart after a ``host_files`` run (controller side).

    names: the components (systemd units) in order; config_files: dicts with path and component; changed_paths: the
    module's result. All of them when the binaries changed; otherwise each whose unit or one of whose configuration
    files changed, in the order of ``names``.
    """
    if binaries_changed:
        return list(names)
    changed = set(changed_paths or ())
    hit = {entry["component"] for entry in config_files or () if entry["path"] in changed}
    return [name for name in names if name in hit or unit_path(name, unit_dir) in changed]


def sysctl_path(name: str) -> str:
    return "/proc/sys/" + str(name).replace(".", "/")


def sysctl_drift(wanted: dict, probed: dict[str, str | None]) -> list[str]:
    """Names of kernel parameters whose running value (``probed``: /proc/sys path -> text or None) is not the wanted
    one; whitespace between fields does not count (the kernel separates them with tabs). A parameter the kernel
    does not have counts as drift, so loading the file reports it."""
    drift = []
    for name, value in wanted.items():
        current = probed.get(sysctl_path(name))
        if current is None or current.split() != str(value).split():
            drift.append(name)
    return drift
