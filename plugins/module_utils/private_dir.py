"""Where the controller may keep a copy of a secret (admin kubeconfig, etcd snapshot): a directory nobody else can
read. Used by the action plugin kubesmith.cluster.fetch_private on the controller.

``problem(mode)`` is the decision (pure, unit-tested); ``prepare(path)`` applies it: a missing directory is made
0700, an existing one is accepted only when group and others have no access - it is never chmod-ed, because it may
be shared (``/tmp``, a home directory) and narrowing it could break someone else.
"""

from __future__ import annotations

import os
import stat

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def problem(mode: int, is_dir: bool = True) -> str:
    """Why a directory of this st_mode may not hold a secret ('' when it may)."""
    if not is_dir:
        return "is not a directory"
    loose = stat.S_IMODE(mode) & 0o077
    if loose:
        return "is open to group or others (mode %04o): chmod 0700 it, or name a directory of its own" % (
            stat.S_IMODE(mode)
        )
    return ""


def prepare(path: str, check_mode: bool = False) -> tuple[bool, str]:
    """Make ``path`` a private directory: (created, error). Missing parents are made with the default mode."""
    if not path or not os.path.isabs(path):
        return False, "%r is not an absolute path" % path
    if os.path.lexists(path):
        info = os.stat(path)
        why = problem(info.st_mode, stat.S_ISDIR(info.st_mode))
        return False, ("%s %s" % (path, why)) if why else ""
    if not check_mode:
        os.makedirs(path, mode=PRIVATE_DIR_MODE)
        os.chmod(path, PRIVATE_DIR_MODE)  # makedirs' mode is filtered by the umask
    return True, ""
