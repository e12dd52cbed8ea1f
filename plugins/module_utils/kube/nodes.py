# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Node pools: what to change on a Node object so it carries the labels and taints the inventory asks for.

Pure functions, standard library only. The worker role reads the Node through the API, asks
:func:`pool_changes` what differs and runs ``kubectl label`` / ``kubectl taint`` only for that, so a converged
node reports no change.

Public interface::

    pool_changes(node, labels, taints) -> {"labels": {key: value}, "taints": [{key, value?, effect}],
                                           "remove_labels": [key], "remove_taints": ["key:Effect"],
                                           "label_args": ["k=v", "gone-", ...],
                                           "taint_args": ["k=v:Effect", "gone:NoSchedule-", ...],
                                           "annotate_args": ["kubesmith.io/pool=<json>"] or []}

What kubesmith manages is recorded on the Node itself, in the annotation ``kubesmith.io/pool`` (JSON: the label
keys and ``key:Effect`` taints it set). A label or taint recorded there that the inventory no longer asks for is
removed; labels and taints somebody else set (never recorded) are left alone. The record is the only state: a
new controller (an AWX job) decides the same way.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import config as kube_config
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import node_components as kube_node_components


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
            or not kube_node_components._LABEL_KEY_RE.match(key)
            or not kube_node_components._LABEL_VALUE_RE.match(text)
            or len(text) > 63
        ):
            raise KubeNodeError("node label %r=%r is not a valid Kubernetes label" % (key, text))
        out[key] = text
    return out


def _taint_arg(taint):
    return "%s%s:%s" % (taint["key"], "=" + taint["value"] if taint.get("value") else "", taint["effect"])


POOL_ANNOTATION = "kubesmith.io/pool"


def _recorded(node):
    """The label keys and ``key:Effect`` taints kubesmith recorded on the Node (empty when none or unreadable)."""
    text = ((node.get("metadata") or {}).get("annotations") or {}).get(POOL_ANNOTATION)
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    labels = [k for k in data.get("labels") or () if isinstance(k, str)]
    taints = [t for t in data.get("taints") or () if isinstance(t, str) and ":" in t]
    return labels, taints, text


def pool_changes(node: dict, labels: dict, taints: list) -> dict:
    """What to add, change or remove on ``node`` (a Node object as a dict, e.g. ``kubectl get node -o json``) so it
    has every label in ``labels`` and every taint in ``taints`` (``key[=value]:Effect`` strings or dicts), and no
    longer the ones kubesmith recorded earlier that are not asked for any more."""
    if not isinstance(node, dict) or not isinstance(node.get("metadata"), dict):
        raise KubeNodeError("expected a Node object with metadata (got %r)" % (type(node).__name__,))
    wanted_labels = _labels(labels)
    try:
        wanted_taints = kube_node_components._taints(taints)
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
    old_labels, old_taints, old_text = _recorded(node)
    wanted_taint_ids = ["%s:%s" % (t["key"], t["effect"]) for t in wanted_taints]
    remove_labels = sorted(k for k in set(old_labels) if k not in wanted_labels and k in current_labels)
    current_taint_ids = {"%s:%s" % key for key in current_taints}
    remove_taints = sorted(t for t in set(old_taints) if t not in wanted_taint_ids and t in current_taint_ids)
    record = json.dumps({"labels": sorted(wanted_labels), "taints": sorted(wanted_taint_ids)}, sort_keys=True)
    if wanted_labels or wanted_taint_ids:
        annotate = [] if old_text == record else ["%s=%s" % (POOL_ANNOTATION, record)]
    else:
        annotate = ["%s-" % POOL_ANNOTATION] if old_text is not None else []
    return {
        "labels": label_changes,
        "taints": taint_changes,
        "remove_labels": remove_labels,
        "remove_taints": remove_taints,
        "label_args": ["%s=%s" % item for item in label_changes.items()] + ["%s-" % k for k in remove_labels],
        "taint_args": [_taint_arg(t) for t in taint_changes] + ["%s-" % t for t in remove_taints],
        "annotate_args": annotate,
    }
