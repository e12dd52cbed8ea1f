# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Node pools: what to change on a Node object so it carries the labels and taints the inventory asks for.

Pure functions, standard library only. The worker role reads the Node through the API, asks
:func:`pool_changes` what differs and runs ``kubectl label`` / ``kubectl taint`` only for that, so a converged
node reports no change.

Public interface::

    pool_changes(node, labels, taints) -> {"labels": {key: value}, "taints": [{key, value?, effect}],
                                           "label_args": ["k=v", ...], "taint_args": ["k=v:Effect", ...]}

Labels or taints on the Node that the inventory does not mention are left alone (removing the ones kubesmith
set earlier needs a record of what it set: day-2 work).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kubesmith.cluster.plugins.module_utils import kube_config


class KubeNodeError(ValueError):
    """Labels, taints or a Node object that cannot be used; the message says which."""


def _label_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _labels(labels):
    if not isinstance(labels, dict):
        raise KubeNodeError("node labels must be a dict of name -> value (got %r)" % (labels,))
    out = {}
    for key, value in labels.items():
        text = _label_value(value)
        if (
            not isinstance(key, str)
            or not kube_config._LABEL_KEY_RE.match(key)
            or not kube_config._LABEL_VALUE_RE.match(text)
            or len(text) > 63
        ):
            raise KubeNodeError("node label %r=%r is not a valid Kubernetes label" % (key, text))
        out[key] = text
    return out


def _taint_arg(taint):
    return "%s%s:%s" % (taint["key"], "=" + taint["value"] if taint.get("value") else "", taint["effect"])


def pool_changes(node, labels, taints):
    """What to add or change on ``node`` (a Node object as a dict, e.g. ``kubectl get node -o json``) so it has
    every label in ``labels`` and every taint in ``taints`` (``key[=value]:Effect`` strings or dicts)."""
    if not isinstance(node, dict) or not isinstance(node.get("metadata"), dict):
        raise KubeNodeError("expected a Node object with metadata (got %r)" % (type(node).__name__,))
    wanted_labels = _labels(labels)
    try:
        wanted_taints = kube_config._taints(taints)
    except kube_config.KubeConfigError as e:
        raise KubeNodeError(str(e)) from None
    current_labels = node["metadata"].get("labels") or {}
    current_taints = {
        (t.get("key"), t.get("effect")): t.get("value") or "" for t in (node.get("spec") or {}).get("taints") or []
    }
    label_changes = {k: v for k, v in sorted(wanted_labels.items()) if current_labels.get(k) != v}
    taint_changes = [
        t for t in wanted_taints if current_taints.get((t["key"], t["effect"])) != t.get("value", "")
    ]
    return {
        "labels": label_changes,
        "taints": taint_changes,
        "label_args": ["%s=%s" % item for item in label_changes.items()],
        "taint_args": [_taint_arg(t) for t in taint_changes],
    }
