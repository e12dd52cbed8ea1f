# -*- coding: utf-8 -*-
"""Add-ons from the inventory: pure decisions, no I/O (runs on the controller inside the ``addons`` filters).

An add-on of type ``manifests`` or ``kustomize`` renders to a stream of Kubernetes objects. kubesmith applies them
server-side and keeps, per add-on, a *record* of what it applied: the ConfigMap ``kubesmith-addon-<name>`` in
``kube-system`` whose ``data.objects`` is a JSON list of object references::

    {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "web", "name": "api"}

(``group`` "" for the core API, ``namespace`` "" for cluster-scoped kinds). On the next run every recorded object the
add-on no longer renders is deleted (pruned); ``state: absent`` deletes every recorded object, then the record.

Why a record and not a label on the objects: finding labelled objects means listing every kind the cluster serves
(slow, and partial when an aggregated API is down); the record names exactly what to delete, survives a kind that
is no longer rendered at all, costs one object, and lets check mode say what a run would prune.

Identity of an object: (group, kind, namespace, name). The version is kept only to address the object; a new
version of the same kind (``apps/v1beta2`` -> ``apps/v1``) is the same object and is not pruned. A kind that moves to
another group with the same name (``extensions`` -> ``networking.k8s.io`` Ingress) is the same stored object served
under two groups: it is not pruned either. A kind rename (a Deployment becomes a StatefulSet of the same name) is a
different object: the old one is pruned.

Functions:

- ``validate_addons(items)``: the inventory's ``addons_extra`` -> ``(normalized items, errors)``.
- ``manifest_texts(path)``: a ``manifests`` directory's files (sorted) -> ``[(file, text)]``.
- ``parse_stream(texts)``: YAML/JSON texts (one or many documents each) -> list of object dicts; empty documents
  dropped, ``List`` kinds (``v1/List``, ``*List``) expanded.
- ``parse_scopes(text)``: ``kubectl api-resources --no-headers`` -> ``{(group, kind): namespaced}``.
- ``object_refs(objects, scopes, default_namespace)``: the references of the rendered objects (CRDs of the same
  stream declare the scope of their kinds).
- ``parse_record(doc)`` / ``record_data(refs)``: read / write the record ConfigMap's ``data``.
- ``plan(objects, record, scopes, ...)``: what one run does: ``refs``, ``prune`` (in delete order), the record
  contents before applying (old + new, so an interrupted run still knows everything it may have created) and after
  pruning (new only), and whether each record write changes anything.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import json
import os
import re

RECORD_NAMESPACE = "kube-system"
RECORD_PREFIX = "kubesmith-addon-"
RECORD_KEY = "objects"
TYPES = ("manifests", "kustomize", "helm")
STATES = ("present", "absent")
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# DNS-1123 label, short enough for the record's ConfigMap name and a Helm release name (53 characters)
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NAME_MAX = 53
# Deleted last (objects inside them go with them anyway); then everything else in reverse render order.
_DELETE_LAST = {("", "Namespace"): 2, ("apiextensions.k8s.io", "CustomResourceDefinition"): 1}


class AddonError(ValueError):
    """Input that cannot be turned into a plan (the message says what to fix)."""


# --------------------------------------------------------------------------------------------------------------
# the inventory's list

def _is_bool(value):
    return isinstance(value, bool)


def validate_addons(items, path_exists=os.path.exists, is_dir=os.path.isdir) -> tuple[list[dict], list[str]]:
    """``addons_extra`` -> ``(items, errors)``: items with their defaults filled in, every problem in ``errors``.

    ``path_exists`` / ``is_dir`` look at the controller's file system (injected for tests).
    """
    errors = []
    result = []
    if items is None:
        return [], []
    if not isinstance(items, list):
        return [], ["addons_extra must be a list of add-ons (got %s)" % type(items).__name__]
    seen = {}
    releases = {}
    for index, item in enumerate(items):
        out = _validate_item(index, item, seen, releases, (path_exists, is_dir), errors)
        if out is not None:
            result.append(out)
    return result, errors


def _validate_item(index, item, seen, releases, files, errors):
    """``addons_extra[index]`` with its defaults filled in, or ``None`` when it is not an add-on at all; problems are
    appended to ``errors``. ``seen`` (name -> first index) and ``releases`` ((namespace, release) -> add-on name)
    collect what earlier items took; ``files`` is ``(path_exists, is_dir)``."""
    where = "addons_extra[%d]" % index
    if not isinstance(item, dict):
        errors.append("%s must be a dict (got %s)" % (where, type(item).__name__))
        return None
    name = item.get("name")
    if not isinstance(name, str) or not name:
        errors.append("%s: name is required" % where)
        return None
    where = "add-on %s" % name
    if not _NAME_RE.match(name) or len(name) > _NAME_MAX:
        errors.append(
            "%s: the name must be lower-case letters, digits and '-', start and end with a letter or digit, "
            "at most %d characters (it names the record ConfigMap %s<name>)" % (where, _NAME_MAX, RECORD_PREFIX)
        )
    if name in seen:
        errors.append("%s: listed twice (addons_extra[%d] and addons_extra[%d])" % (where, seen[name], index))
    seen.setdefault(name, index)
    state = item.get("state", "present")
    if state not in STATES:
        errors.append("%s: state must be present or absent (got %r)" % (where, state))
    kind = item.get("type")
    if kind not in TYPES:
        errors.append("%s: type must be one of %s (got %r)" % (where, ", ".join(TYPES), kind))
        return None
    out = dict(item, state=state)
    if kind in ("manifests", "kustomize"):
        errors.extend(_directory_errors(where, item, kind, state, *files))
    else:
        out.update(_helm_settings(where, name, item, state, releases, files, errors))
    return out


def _directory_errors(where, item, kind, state, path_exists, is_dir):
    """The problems of a ``manifests`` or ``kustomize`` add-on: helm options, a missing directory or kustomization."""
    errors = []
    for key in ("chart", "release_name", "namespace", "values", "create_namespace"):
        if key in item:
            errors.append("%s: %s is a helm option, not one of type %s" % (where, key, kind))
    path = item.get("path")
    if state == "present":
        if not isinstance(path, str) or not path:
            errors.append("%s: path (a directory on the controller) is required for type %s" % (where, kind))
        elif not is_dir(path):
            errors.append("%s: path %s is not a directory on the controller" % (where, path))
        elif kind == "kustomize" and not any(path_exists(os.path.join(path, f)) for f in KUSTOMIZATION_FILES):
            errors.append("%s: %s has no kustomization.yaml (type kustomize)" % (where, path))
    return errors


def _chart_error(where, chart, path_exists, is_dir):
    """What is wrong with ``chart`` (a chart directory or .tgz on the controller), else ``None``."""
    if not isinstance(chart, str) or not chart:
        return "%s: chart (a chart directory or .tgz on the controller) is required" % where
    if not path_exists(chart):
        return "%s: chart %s does not exist on the controller" % (where, chart)
    if not is_dir(chart) and not chart.endswith((".tgz", ".tar.gz")):
        return "%s: chart %s must be a chart directory or a .tgz archive" % (where, chart)
    if is_dir(chart) and not path_exists(os.path.join(chart, "Chart.yaml")):
        return "%s: chart directory %s has no Chart.yaml" % (where, chart)
    return None


def _helm_settings(where, name, item, state, releases, files, errors):
    """A ``helm`` add-on's settings with their defaults (release_name, namespace, values, create_namespace, wait,
    timeout); problems are appended to ``errors`` and the release is claimed in ``releases``."""
    if "path" in item:
        errors.append("%s: type helm takes chart (a chart directory or .tgz), not path" % where)
    if state == "present":
        problem = _chart_error(where, item.get("chart"), *files)
        if problem:
            errors.append(problem)
    values = item.get("values", {})
    if not isinstance(values, dict):
        errors.append("%s: values must be a dict (got %s)" % (where, type(values).__name__))
    for key in ("create_namespace", "wait"):
        if key in item and not _is_bool(item[key]):
            errors.append("%s: %s must be true or false" % (where, key))
    timeout = item.get("timeout", 300)
    if _is_bool(timeout) or not isinstance(timeout, int) or timeout <= 0:
        errors.append("%s: timeout must be a positive number of seconds (got %r)" % (where, timeout))
    namespace = item.get("namespace", "default")
    if not isinstance(namespace, str) or not _NAME_RE.match(namespace):
        errors.append("%s: namespace must be a namespace name (got %r)" % (where, namespace))
    release = item.get("release_name", name)
    if not isinstance(release, str) or not _NAME_RE.match(release) or len(release) > _NAME_MAX:
        errors.append("%s: release_name %r is not a valid Helm release name" % (where, release))
    elif (namespace, release) in releases:
        errors.append(
            "%s: release %s in namespace %s is also add-on %s"
            % (where, release, namespace, releases[(namespace, release)])
        )
    else:
        releases[(namespace, release)] = name
    return {
        "release_name": release,
        "namespace": namespace,
        "values": values if isinstance(values, dict) else {},
        "create_namespace": item.get("create_namespace", False),
        "wait": item.get("wait", True),
        "timeout": timeout,
    }


# --------------------------------------------------------------------------------------------------------------
# rendered objects

def _load_documents(text):
    import yaml  # the controller always has PyYAML (Ansible needs it); imported here to keep the module light

    try:
        return list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise AddonError("not valid YAML: %s" % exc) from None


def _expand(doc, where):
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise AddonError("%s: a document is not an object (got %s)" % (where, type(doc).__name__))
    kind = doc.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
        out = []
        for item in doc["items"]:
            out.extend(_expand(item, where))
        return out
    if not doc:
        return []
    return [doc]


def manifest_texts(path: str, listdir=os.listdir, read=None) -> list[tuple[str, str]]:
    """Type ``manifests``: every ``*.yaml``/``*.yml``/``*.json`` file directly in ``path`` (sorted by name, as
    ``kubectl apply -f DIR`` takes them) -> ``[(file, text)]``. Sub-directories are not read."""
    if read is None:
        def read(name):
            with open(name, "rb") as handle:
                return handle.read().decode("utf-8")
    try:
        names = sorted(listdir(path))
    except OSError as exc:
        raise AddonError("cannot list %s: %s" % (path, exc)) from None
    files = [os.path.join(path, n) for n in names if n.endswith(MANIFEST_SUFFIXES) and not n.startswith(".")]
    if not files:
        raise AddonError("%s holds no *.yaml, *.yml or *.json file" % path)
    out = []
    for name in files:
        try:
            out.append((name, read(name)))
        except (OSError, UnicodeDecodeError) as exc:
            raise AddonError("cannot read %s: %s" % (name, exc)) from None
    return out


def parse_stream(texts) -> list[dict]:
    """Texts (each a YAML or JSON stream; a ``(label, text)`` pair names it in errors) -> object dicts in order."""
    if isinstance(texts, (str, bytes)):
        texts = [texts]
    objects = []
    for entry in texts:
        label, text = entry if isinstance(entry, (list, tuple)) else ("the rendered stream", entry)
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        try:
            docs = _load_documents(text)
        except AddonError as exc:
            raise AddonError("%s: %s" % (label, exc)) from None
        for doc in docs:
            objects.extend(_expand(doc, label))
    for obj in objects:
        _check_object(obj)
    return objects


def _check_object(obj):
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    name = (obj.get("metadata") or {}).get("name")
    if not isinstance(api_version, str) or not api_version or not isinstance(kind, str) or not kind:
        raise AddonError("an object has no apiVersion or kind: %s" % json.dumps(obj, sort_keys=True)[:200])
    if not isinstance(name, str) or not name:
        if (obj.get("metadata") or {}).get("generateName"):
            raise AddonError("%s %s: generateName is not supported (every apply would create another object)" % (
                api_version, kind))
        raise AddonError("%s %s without metadata.name" % (api_version, kind))


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` -> ``("apps", "v1")``; ``v1`` -> ``("", "v1")``."""
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


def parse_scopes(text: str) -> dict[tuple[str, str], bool]:
    """``kubectl api-resources --no-headers`` (columns NAME [SHORTNAMES] APIVERSION NAMESPACED KIND) ->
    ``{(group, kind): namespaced}``. Lines that do not fit are skipped (kubectl prints partial lists when an
    aggregated API is down)."""
    scopes = {}
    for line in (text or "").splitlines():
        cols = line.split()
        if len(cols) < 4 or cols[-2] not in ("true", "false"):
            continue
        group, _version = split_api_version(cols[-3])
        scopes[(group, cols[-1])] = cols[-2] == "true"
    return scopes


def _stream_scopes(objects):
    """Scopes declared by CustomResourceDefinitions of the stream itself (applied before their objects)."""
    scopes = {}
    for obj in objects:
        group, _version = split_api_version(obj["apiVersion"])
        if group == "apiextensions.k8s.io" and obj["kind"] == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind")
            if spec.get("group") and kind:
                scopes[(spec["group"], kind)] = spec.get("scope", "Namespaced") == "Namespaced"
    return scopes


def object_refs(objects: list[dict], scopes: dict, default_namespace: str = "default") -> list[dict]:
    """References of the rendered objects, in render order, duplicates refused."""
    known = dict(scopes or {})
    known.update(_stream_scopes(objects))
    refs = []
    seen = set()
    for obj in objects:
        group, version = split_api_version(obj["apiVersion"])
        kind = obj["kind"]
        meta = obj.get("metadata") or {}
        if (group, kind) not in known:
            raise AddonError(
                "%s %s/%s: the API serves no kind %s in group %s (is its CustomResourceDefinition installed, or in "
                "this add-on?)" % (obj["apiVersion"], kind, meta["name"], kind, group or "core")
            )
        namespace = (meta.get("namespace") or default_namespace) if known[(group, kind)] else ""
        ref = {"group": group, "version": version, "kind": kind, "namespace": namespace, "name": meta["name"]}
        if identity(ref) in seen:
            raise AddonError("%s is rendered twice" % describe(ref))
        seen.add(identity(ref))
        refs.append(ref)
    return refs


def identity(ref: dict) -> tuple[str, str, str, str]:
    return (ref["group"], ref["kind"], ref["namespace"], ref["name"])


def describe(ref: dict) -> str:
    kind = "%s.%s" % (ref["kind"], ref["group"]) if ref["group"] else ref["kind"]
    where = "%s/%s" % (ref["namespace"], ref["name"]) if ref["namespace"] else ref["name"]
    return "%s %s" % (kind, where)


def kubectl_resource(ref: dict) -> str:
    """What ``kubectl delete`` takes: ``Kind.version.group/name``; ``Kind/name`` in the core group (kubectl would
    read ``Kind.v1`` as a group named v1)."""
    if not ref["group"]:
        return "%s/%s" % (ref["kind"], ref["name"])
    return "%s.%s.%s/%s" % (ref["kind"], ref["version"], ref["group"], ref["name"])


# --------------------------------------------------------------------------------------------------------------
# the record

def record_name(addon: str) -> str:
    return RECORD_PREFIX + addon


def _clean_ref(ref, where):
    if not isinstance(ref, dict):
        raise AddonError("%s: an entry is not an object reference" % where)
    out = {}
    for key in ("group", "version", "kind", "namespace", "name"):
        value = ref.get(key, "")
        if not isinstance(value, str):
            raise AddonError("%s: %s of an entry is not a string" % (where, key))
        out[key] = value
    if not out["version"] or not out["kind"] or not out["name"]:
        raise AddonError("%s: an entry lacks version, kind or name" % where)
    return out


def parse_record(doc, addon: str | None = None) -> list[dict]:
    """The record ConfigMap (dict or ``kubectl get -o json`` text; empty when absent) -> list of refs."""
    where = "record ConfigMap %s/%s" % (RECORD_NAMESPACE, record_name(addon) if addon else RECORD_PREFIX + "*")
    if doc in (None, "", {}):
        return []
    if isinstance(doc, (str, bytes)):
        if not doc.strip():
            return []
        try:
            doc = json.loads(doc)
        except ValueError as exc:
            raise AddonError("%s: not JSON: %s" % (where, exc)) from None
    data = (doc or {}).get("data") or {}
    raw = data.get(RECORD_KEY)
    if not raw:
        return []
    try:
        entries = json.loads(raw)
    except ValueError as exc:
        raise AddonError("%s: data.%s is not JSON (%s); delete the ConfigMap to start over" % (
            where, RECORD_KEY, exc)) from None
    if not isinstance(entries, list):
        raise AddonError("%s: data.%s is not a list" % (where, RECORD_KEY))
    return [_clean_ref(ref, where) for ref in entries]


def _sorted(refs):
    return sorted(refs, key=lambda r: (r["group"], r["kind"], r["namespace"], r["name"], r["version"]))


def record_data(refs: list[dict]) -> dict[str, str]:
    """The record's ``data``: one JSON list, sorted, one object per line (readable with kubectl get -o yaml)."""
    lines = [json.dumps(ref, sort_keys=True, separators=(",", ":")) for ref in _sorted(refs)]
    return {RECORD_KEY: "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"}


def record_manifest(addon: str, refs: list[dict]) -> dict:
    """The record ConfigMap as an object for ``kubectl apply --server-side``."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": record_name(addon),
            "namespace": RECORD_NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "kubesmith", "kubesmith.io/addon": addon},
        },
        "data": record_data(refs),
    }


# --------------------------------------------------------------------------------------------------------------
# one run

def _merge(old, new):
    """Old refs replaced by new ones of the same identity (newer version), plus the new ones."""
    merged = {identity(r): r for r in old}
    merged.update({identity(r): r for r in new})
    return list(merged.values())


def prune_set(recorded: list[dict], rendered: list[dict]) -> list[dict]:
    """Recorded refs the add-on no longer renders, in delete order (Namespaces and CRDs last, else reverse record
    order). A kind served under another group with the same namespace and name is the same object: kept."""
    current = {identity(r) for r in rendered}
    moved = {(r["kind"], r["namespace"], r["name"]) for r in rendered}
    gone = [
        r for r in recorded
        if identity(r) not in current and (r["kind"], r["namespace"], r["name"]) not in moved
    ]
    ordered = list(reversed(gone))
    return sorted(ordered, key=lambda r: _DELETE_LAST.get((r["group"], r["kind"]), 0))


def plan(addon: str, objects: list[dict], record, scopes: dict, state="present", default_namespace="default") -> dict:
    """One add-on's run.

    Returns ``{"name", "state", "objects", "refs", "prune", "record_before", "record_after", "write_before",
    "write_after", "delete_record", "apply"}``:

    - ``objects``: what to apply (empty when absent); ``apply``: whether there is anything to apply;
    - ``prune``: refs to delete, in order, each with ``resource`` (for kubectl) and ``describe``;
    - ``record_before``: the record ConfigMap to write before applying (old + new refs) when ``write_before``;
    - ``record_after``: the record to write after pruning (new refs) when ``write_after``;
    - ``delete_record``: state absent and a record exists.
    """
    if state not in STATES:
        raise AddonError("add-on %s: state must be present or absent (got %r)" % (addon, state))
    recorded = parse_record(record, addon)
    record_exists = record not in (None, "", {}) and not (isinstance(record, (str, bytes)) and not record.strip())
    if state == "absent":
        objects = []
    refs = object_refs(objects, scopes, default_namespace)
    prune = prune_set(recorded, refs)
    before = _merge(recorded, refs)
    same = record_data(recorded) if record_exists else None
    out = {
        "name": addon,
        "state": state,
        "objects": objects,
        "apply": bool(objects),
        "refs": refs,
        "prune": [dict(r, resource=kubectl_resource(r), describe=describe(r)) for r in prune],
        "record_before": record_manifest(addon, before),
        "write_before": state == "present" and record_data(before) != same,
        "record_after": record_manifest(addon, refs),
        "write_after": state == "present" and record_data(refs) != record_data(before),
        "delete_record": state == "absent" and record_exists,
    }
    return out


def apply_document(objects: list[dict]) -> str:
    """The objects as one ``v1/List`` JSON text for ``kubectl apply -f -`` (kubectl applies the items in order)."""
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, sort_keys=True)
