# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Cordon, drain (evict through the Eviction API, honouring PodDisruptionBudgets) and uncordon a node.

Standard library only. The API client is a parameter (``kube_api.KubeClient`` in the module, a fake in the unit
tests), and so are the clock and the sleep, so waits are tested without waiting.

Public interface::

    opts = DrainOptions(timeout=300, retry_interval=5, force=False, delete_emptydir_data=False,
                        ignore_daemonsets=True, grace_period=None, eviction_api="auto",
                        keep_cordoned_on_failure=False)
    result = run(client, node, state, opts, check_mode=False, clock=time.monotonic, sleep=time.sleep)
    # state: "drained" | "cordoned" | "uncordoned"
    # result: {"changed", "node", "state", "cordoned" (node unschedulable at the end), "evicted": ["ns/name"],
    #          "skipped": [{"pod", "reason"}], "eviction_api": "policy/v1" | "policy/v1beta1" | ""}
    classify(pods, opts) -> (evict, wait, skipped, refused)      pure: what drain would do with each pod
    eviction_api_version(client) -> "policy/v1" | "policy/v1beta1" | None   from discovery of /api/v1

Failures raise :class:`DrainError` with ``result`` (the same keys, plus ``blocked``: ``[{"pod", "reason",
"pdb"}]`` and ``uncordoned``: whether the node was made schedulable again).

What drain does with each pod on the node (listed with ``fieldSelector=spec.nodeName=<node>``):

- mirror pods (annotation ``kubernetes.io/config.mirror``: static pods) are skipped: the kubelet owns them;
- DaemonSet pods are skipped (their controller would recreate them on the node at once); with
  ``ignore_daemonsets=False`` they make the drain fail, as ``kubectl drain`` does;
- finished pods (phase Succeeded or Failed) are evicted whatever they are;
- pods without a controller (no ownerReference with ``controller: true``) are lost for good once evicted: refused
  unless ``force``;
- pods with an ``emptyDir`` volume lose its data: refused unless ``delete_emptydir_data``;
- pods already terminating (``deletionTimestamp`` set) are not evicted again, only waited for;
- every other pod is evicted.

Refusals are found before the node is cordoned, so a refused drain changes nothing. The pods are listed again
after cordoning (new ones may have been scheduled meanwhile).

Eviction: ``POST /api/v1/namespaces/<ns>/pods/<name>/eviction`` with an ``Eviction`` object of ``policy/v1``
(Kubernetes 1.22+) or ``policy/v1beta1`` (up to 1.21; 1.20 has only this one, 1.25 removed it). With
``eviction_api="auto"`` the version comes from the discovery of ``/api/v1`` (the ``pods/eviction`` subresource
names its group and version there, which is how ``kubectl`` chooses too); when discovery does not say, ``policy/v1``
is tried first and ``policy/v1beta1`` used when the server does not know v1 (400/404 about the kind, not the pod).
An answer 429 (TooManyRequests) means a PodDisruptionBudget does not allow the disruption now: the pod is tried
again every ``retry_interval`` seconds until ``timeout``. A 404 about the pod (``details.kind`` ``pods``) means it
is gone already.

Then drain waits until each evicted pod is gone (404, or the name now belongs to a pod with another UID), within
the same ``timeout`` counted from the start. On timeout, or any error after cordoning, the node is made
schedulable again if this run cordoned it (unless ``keep_cordoned_on_failure``), and the error names the pods and
the PodDisruptionBudgets that blocked. A node that was cordoned already when the run started is left cordoned.

Idempotence and check mode: cordoning a cordoned node and uncordoning a schedulable one report no change; a
drained node (cordoned, nothing left to evict) reports no change. In check mode nothing is written: the result
says what would be cordoned and evicted, refusals fail as they would for real.
"""

from __future__ import absolute_import, annotations, division, print_function

import re
import time

from ansible_collections.kubesmith.cluster.plugins.module_utils.kube.api import KubeApiError, path_quote

STATES = ("drained", "cordoned", "uncordoned")
EVICTION_APIS = ("auto", "policy/v1", "policy/v1beta1")
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
_PDB_RE = re.compile(r"disruption budget ([A-Za-z0-9.\-]+)", re.IGNORECASE)


class DrainError(Exception):
    """A drain that could not be done; ``result`` holds what was done and what blocked."""

    def __init__(self, message, result=None):
        super(DrainError, self).__init__(message)
        self.result = result if result is not None else {}


class DrainOptions(object):
    """The knobs of a drain (see the module docstring)."""

    def __init__(
        self,
        timeout=300.0,
        retry_interval=5.0,
        force=False,
        delete_emptydir_data=False,
        ignore_daemonsets=True,
        grace_period=None,
        eviction_api="auto",
        keep_cordoned_on_failure=False,
    ):
        if float(timeout) <= 0:
            raise DrainError("timeout must be a positive number of seconds, got %s" % timeout)
        if float(retry_interval) <= 0:
            raise DrainError("retry_interval must be a positive number of seconds, got %s" % retry_interval)
        if grace_period is not None and int(grace_period) < 0:
            raise DrainError("grace_period must be 0 or more seconds, got %s" % grace_period)
        if eviction_api not in EVICTION_APIS:
            raise DrainError("eviction_api must be one of %s, got %r" % (", ".join(EVICTION_APIS), eviction_api))
        self.timeout = float(timeout)
        self.retry_interval = float(retry_interval)
        self.force = bool(force)
        self.delete_emptydir_data = bool(delete_emptydir_data)
        self.ignore_daemonsets = bool(ignore_daemonsets)
        self.grace_period = None if grace_period is None else int(grace_period)
        self.eviction_api = eviction_api
        self.keep_cordoned_on_failure = bool(keep_cordoned_on_failure)


# ---------------------------------------------------------------- pods


def pod_key(pod: dict) -> str:
    meta = pod.get("metadata") or {}
    return "%s/%s" % (meta.get("namespace", "default"), meta.get("name", ""))


def _controller(pod):
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def classify(pods: list[dict], opts: DrainOptions) -> tuple[list, list, list, list]:
    """Split the node's pods: ``(evict, wait, skipped, refused)``.

    ``evict``: pods to evict; ``wait``: pods already terminating (waited for only); ``skipped`` and ``refused``:
    ``[{"pod": "ns/name", "reason": text}]``.
    """
    evict, wait, skipped, refused = [], [], [], []
    for pod in sorted(pods, key=pod_key):
        key = pod_key(pod)
        meta = pod.get("metadata") or {}
        phase = (pod.get("status") or {}).get("phase", "")
        owner = _controller(pod)
        if MIRROR_ANNOTATION in (meta.get("annotations") or {}):
            skipped.append({"pod": key, "reason": "mirror pod (static pod managed by the kubelet)"})
            continue
        if owner is not None and owner.get("kind") == "DaemonSet":
            if opts.ignore_daemonsets:
                skipped.append({"pod": key, "reason": "DaemonSet pod (DaemonSet %s)" % owner.get("name", "")})
            else:
                refused.append(
                    {"pod": key, "reason": "DaemonSet pod (DaemonSet %s): set ignore_daemonsets" % owner.get("name")}
                )
            continue
        if meta.get("deletionTimestamp"):
            wait.append(pod)
            continue
        if phase in ("Succeeded", "Failed"):
            evict.append(pod)
            continue
        if owner is None and not opts.force:
            refused.append(
                {
                    "pod": key,
                    "reason": "not managed by a controller (it would be lost for good): set force to evict it",
                }
            )
            continue
        volumes = (pod.get("spec") or {}).get("volumes") or []
        if any("emptyDir" in v for v in volumes) and not opts.delete_emptydir_data:
            refused.append(
                {"pod": key, "reason": "has emptyDir volumes (their data is lost): set delete_emptydir_data"}
            )
            continue
        evict.append(pod)
    return evict, wait, skipped, refused


def _list_pods(client, node):
    return client.list_all("/api/v1/pods", {"fieldSelector": "spec.nodeName=%s" % node})


# ---------------------------------------------------------------- node


def _get_node(client, node):
    try:
        return client.get("/api/v1/nodes/%s" % path_quote(node))
    except KubeApiError as exc:
        if exc.not_found:
            raise DrainError("node %s does not exist in the cluster (no Node object of that name)" % node) from exc
        raise


def _unschedulable(node_obj):
    return bool((node_obj.get("spec") or {}).get("unschedulable"))


def _set_unschedulable(client, node, value):
    client.patch("/api/v1/nodes/%s" % path_quote(node), {"spec": {"unschedulable": bool(value)}})


# ---------------------------------------------------------------- eviction


def eviction_api_version(client) -> str | None:
    """``policy/v1`` or ``policy/v1beta1`` as discovery of ``/api/v1`` names it for ``pods/eviction``, else None."""
    try:
        discovery = client.get("/api/v1")
    except KubeApiError:
        return None
    for resource in discovery.get("resources") or []:
        if resource.get("name") == "pods/eviction":
            group, version = resource.get("group"), resource.get("version")
            if group == "policy" and version in ("v1", "v1beta1"):
                return "policy/" + version
    return None


def _eviction_body(pod, api_version, grace_period):
    meta = pod["metadata"]
    body = {
        "apiVersion": api_version,
        "kind": "Eviction",
        "metadata": {"name": meta["name"], "namespace": meta.get("namespace", "default")},
    }
    if grace_period is not None:
        body["deleteOptions"] = {"gracePeriodSeconds": grace_period}
    return body


def _version_unknown(exc):
    """The server does not know the Eviction kind of this version (not: the pod is missing)."""
    if exc.status == 404:
        return (exc.details or {}).get("kind") not in ("pods", "pod") and "pods" not in exc.api_message
    return exc.status == 400 and "policy/v1" in exc.api_message


def _blocking_pdb(exc):
    texts = [c.get("message", "") for c in (exc.details or {}).get("causes") or []] + [exc.api_message]
    for text in texts:
        match = _PDB_RE.search(text or "")
        if match:
            return match.group(1)
    return ""


class _Evictor(object):
    """Posts evictions with the chosen (or discovered, or fallen-back) Eviction version."""

    def __init__(self, client, opts):
        self.client = client
        self.opts = opts
        self.version = None if opts.eviction_api == "auto" else opts.eviction_api
        self.may_fall_back = False

    def resolve(self):
        if self.version is None:
            self.version = eviction_api_version(self.client)
            if self.version is None:
                self.version = "policy/v1"
                self.may_fall_back = True
        return self.version

    def evict(self, pod):
        """``"evicted"``, ``"gone"`` or ``("blocked", reason, pdb)``; other API errors raise."""
        meta = pod["metadata"]
        path = "/api/v1/namespaces/%s/pods/%s/eviction" % (
            path_quote(meta.get("namespace", "default")),
            path_quote(meta["name"]),
        )
        self.resolve()
        while True:
            try:
                self.client.post(path, _eviction_body(pod, self.version, self.opts.grace_period))
                self.may_fall_back = False
                return "evicted"
            except KubeApiError as exc:
                if self.may_fall_back and self.version == "policy/v1" and _version_unknown(exc):
                    self.version = "policy/v1beta1"
                    self.may_fall_back = False
                    continue
                if exc.status == 404 and (exc.details or {}).get("kind") in ("pods", "pod"):
                    return "gone"
                if exc.status == 429:
                    return ("blocked", exc.api_message or "TooManyRequests", _blocking_pdb(exc))
                raise


def _still_there(client, pod):
    meta = pod["metadata"]
    try:
        now = client.get(
            "/api/v1/namespaces/%s/pods/%s" % (path_quote(meta.get("namespace", "default")), path_quote(meta["name"]))
        )
    except KubeApiError as exc:
        if exc.not_found:
            return False
        raise
    return (now.get("metadata") or {}).get("uid") == meta.get("uid")


# ---------------------------------------------------------------- states


def _new_result(node, state):
    return {
        "changed": False,
        "node": node,
        "state": state,
        "cordoned": False,
        "evicted": [],
        "skipped": [],
        "eviction_api": "",
    }


def _refusal(node, refused):
    return "cannot drain %s: %s" % (node, "; ".join("%s %s" % (r["pod"], r["reason"]) for r in refused))


def _set_state(client, node, state, check_mode):
    result = _new_result(node, state)
    was = _unschedulable(_get_node(client, node))
    want = state == "cordoned"
    result["cordoned"] = want
    if was != want:
        result["changed"] = True
        if not check_mode:
            _set_unschedulable(client, node, want)
    return result


def drain(client, node: str, opts: DrainOptions, check_mode=False, clock=time.monotonic, sleep=time.sleep) -> dict:
    """Cordon ``node`` and evict its pods; see the module docstring. Returns the result dict."""
    start = clock()
    deadline = start + opts.timeout
    result = _new_result(node, "drained")
    was_cordoned = _unschedulable(_get_node(client, node))
    evict, wait, skipped, refused = classify(_list_pods(client, node), opts)
    result["skipped"] = skipped
    if refused:
        result["cordoned"] = was_cordoned
        raise DrainError(_refusal(node, refused), dict(result, refused=refused))
    result["cordoned"] = True
    if check_mode:
        result["evicted"] = [pod_key(p) for p in evict]
        result["changed"] = not was_cordoned or bool(evict)
        return result

    cordoned_here = False
    try:
        if not was_cordoned:
            _set_unschedulable(client, node, True)
            cordoned_here = result["changed"] = True
            # Pods scheduled between the first listing and the cordon: list again.
            evict, wait, skipped, refused = classify(_list_pods(client, node), opts)
            result["skipped"] = skipped
            if refused:
                raise DrainError(_refusal(node, refused), dict(result, refused=refused))
        run = _DrainRun(client, node, opts, result, deadline, clock, sleep)
        run.evict_all(evict, wait)
        run.wait_terminated(wait)
        return result
    except (DrainError, KubeApiError) as exc:
        raise _drain_failure(client, node, opts, exc, result, cordoned_here) from exc


class _DrainRun(object):
    """The evictions and waits of one drain: retried every ``opts.retry_interval`` until ``deadline``."""

    def __init__(self, client, node, opts, result, deadline, clock, sleep):
        self.client, self.node, self.opts, self.result = client, node, opts, result
        self.deadline, self.clock, self.sleep = deadline, clock, sleep

    def _pause(self):
        self.sleep(min(self.opts.retry_interval, max(self.deadline - self.clock(), 0)))

    def evict_all(self, evict, wait):
        """Evict the pods of ``evict`` (appended to ``wait`` once evicted), again and again while a
        PodDisruptionBudget refuses some; DrainError naming them at the deadline."""
        evictor = _Evictor(self.client, self.opts)
        pending = list(evict)
        blocked = {}
        while pending:
            still = []
            for pod in pending:
                outcome = evictor.evict(pod)
                if outcome == "evicted":
                    self.result["changed"] = True
                    self.result["evicted"].append(pod_key(pod))
                    wait.append(pod)
                    blocked.pop(pod_key(pod), None)
                elif outcome == "gone":
                    blocked.pop(pod_key(pod), None)
                else:
                    blocked[pod_key(pod)] = {"pod": pod_key(pod), "reason": outcome[1], "pdb": outcome[2]}
                    still.append(pod)
            self.result["eviction_api"] = evictor.version or ""
            pending = still
            if pending:
                if self.clock() >= self.deadline:
                    raise self._blocked(sorted(blocked.values(), key=lambda b: b["pod"]))
                self._pause()

    def _blocked(self, listed):
        return DrainError(
            "draining %s timed out after %gs: eviction of %s is still refused: %s"
            % (
                self.node,
                self.opts.timeout,
                ", ".join(b["pod"] for b in listed),
                "; ".join(
                    "%s: %s" % (b["pod"], "PodDisruptionBudget %s" % b["pdb"] if b["pdb"] else b["reason"])
                    for b in listed
                ),
            ),
            dict(self.result, blocked=listed),
        )

    def wait_terminated(self, wait):
        """Wait until every pod of ``wait`` is gone (or replaced by another of the same name); DrainError at the
        deadline."""
        while True:
            wait = [pod for pod in wait if _still_there(self.client, pod)]
            if not wait:
                return
            if self.clock() >= self.deadline:
                names = sorted(pod_key(p) for p in wait)
                raise DrainError(
                    "draining %s timed out after %gs waiting for evicted pods to terminate: %s"
                    % (self.node, self.opts.timeout, ", ".join(names)),
                    dict(self.result, blocked=[{"pod": n, "reason": "still terminating", "pdb": ""} for n in names]),
                )
            self._pause()


def _drain_failure(client, node, opts, exc, result, cordoned_here):
    """The DrainError for a drain that failed with ``exc``, after uncordoning the node if this run cordoned it
    (unless ``opts.keep_cordoned_on_failure``); its message says what was done."""
    failed = exc.result if isinstance(exc, DrainError) else dict(result)
    failed.setdefault("blocked", [])
    failed["uncordoned"] = False
    message = str(exc)
    if cordoned_here and not opts.keep_cordoned_on_failure:
        try:
            _set_unschedulable(client, node, False)
            failed["uncordoned"] = True
            failed["cordoned"] = False
            message += "; %s was uncordoned again" % node
        except KubeApiError as undo:
            message += "; uncordoning %s failed too: %s" % (node, undo)
    elif cordoned_here:
        message += "; %s is left cordoned (keep_cordoned_on_failure)" % node
    else:
        message += "; %s was cordoned before this run and is left cordoned" % node
    return DrainError(message, failed)


def run(
    client, node: str, state: str, opts: DrainOptions, check_mode=False, clock=time.monotonic, sleep=time.sleep
) -> dict:
    """Bring ``node`` to ``state`` (``drained``, ``cordoned`` or ``uncordoned``); returns the result dict."""
    if not node:
        raise DrainError("node must be a node name")
    if state not in STATES:
        raise DrainError("state must be one of %s, got %r" % (", ".join(STATES), state))
    if state == "drained":
        return drain(client, node, opts, check_mode, clock, sleep)
    return _set_state(client, node, state, check_mode)
