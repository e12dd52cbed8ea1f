# -*- coding: utf-8 -*-
"""Add-ons of type ``helm``: the arguments of ``kubernetes.core.helm`` (pure, no I/O).

The chart (a directory or a ``.tgz`` on the controller) is copied to the first control-plane host, which runs helm
with the admin kubeconfig; ``chart_dest`` is where the copy lies there.

- ``chart_dest(item, chart_dir)``: the path of the chart's copy on the host.
- ``helm_args(item, kubeconfig, binary_path, chart_dir)``: the module's arguments, exactly as the role passes them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import posixpath


class HelmAddonError(ValueError):
    """An add-on that cannot be turned into helm arguments."""


def _basename(path):
    return posixpath.basename(path.rstrip("/"))


def chart_dest(item: dict, chart_dir: str) -> str:
    """``<chart_dir>/<add-on name>/<chart file or directory name>``."""
    chart = item.get("chart")
    if not chart:
        raise HelmAddonError("add-on %s: chart is required" % item.get("name"))
    return posixpath.join(chart_dir, item["name"], _basename(chart))


def _duration(seconds):
    """Seconds -> a Go duration (``300`` -> ``5m0s``), what ``helm --timeout`` takes."""
    minutes, rest = divmod(int(seconds), 60)
    return "%dm%ds" % (minutes, rest) if minutes else "%ds" % rest


def helm_args(item: dict, kubeconfig: str, binary_path: str, chart_dir: str) -> dict:
    """The arguments of ``kubernetes.core.helm`` for one validated add-on (``validate_addons`` filled defaults).

    ``present``: install or upgrade ``release_name`` in ``namespace`` from the chart's copy with ``values``;
    ``absent``: uninstall the release (no chart needed). ``wait`` waits for the release's resources; ``timeout``
    (seconds) bounds every helm operation (module option ``timeout``, a Go duration; ``wait_timeout`` is
    deprecated upstream).
    """
    if item.get("type") != "helm":
        raise HelmAddonError("add-on %s is of type %s, not helm" % (item.get("name"), item.get("type")))
    state = item.get("state", "present")
    args = {
        "release_name": item.get("release_name") or item["name"],
        "release_namespace": item.get("namespace") or "default",
        "release_state": state,
        "kubeconfig": kubeconfig,
        "binary_path": binary_path,
        "wait": bool(item.get("wait", True)),
        "timeout": _duration(item.get("timeout", 300)),
    }
    if state == "present":
        args.update(
            chart_ref=chart_dest(item, chart_dir),
            release_values=copy.deepcopy(item.get("values") or {}),
            create_namespace=bool(item.get("create_namespace", False)),
        )
    else:
        args.update(chart_ref=None, release_values={}, create_namespace=False)
    return args
