"""Which paths the reset role may delete or unmount below (pure logic; filter kubesmith.cluster.reset_unsafe_paths).

The reset role removes directories recursively and unmounts everything below some of them. A path taken from a
variable is used only when it is absolute, written plainly (no ``.``/``..`` parts, no doubled slashes) and at
least two levels deep: a blank ``containerd_root_dir`` must stop the reset, not unmount the whole tree or empty the
working directory, and ``/var`` or ``/opt`` is never a kubesmith directory.
"""

from __future__ import annotations

import posixpath

MIN_DEPTH = 2


def problem(value: object) -> str:
    """Why ``value`` is not a path the reset may remove or unmount below ('' when it is)."""
    if not isinstance(value, str) or not value.strip():
        return "is empty"
    if not value.startswith("/"):
        return "is not an absolute path"
    plain = value.rstrip("/") or "/"
    if posixpath.normpath(plain) != plain or "//" in value:
        return "is not written plainly (no '.', '..' or '//' parts)"
    depth = len([part for part in plain.split("/") if part])
    if depth < MIN_DEPTH:
        return "is %s, a system directory" % ("the root directory" if depth == 0 else "a top-level directory")
    return ""


def unsafe(paths: dict) -> list[str]:
    """One message per variable whose path the reset must not use, in the variables' order."""
    messages = []
    for name, value in paths.items():
        why = problem(value)
        if why:
            messages.append(
                "%s %s (%r): the reset removes or unmounts everything below it, so it must be an absolute path at "
                "least %d levels deep, e.g. /var/lib/containerd" % (name, why, value, MIN_DEPTH)
            )
    return messages
