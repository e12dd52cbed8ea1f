# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""What runs now, and is it healthy enough to upgrade: the reading half of ``kube_upgrade_plan``.

Standard library only (Python 3.9+). Nothing here builds a connection: the caller passes factories, so unit tests
inject fakes and the module passes the real clients::

    api_client(url)  -> object with get(path) -> dict, raising KubeApiError   (url None: the kubeconfig's server)
    etcd_client(url) -> object with status() -> {"version": ...} and health() -> (ok, reason), raising EtcdError

:func:`collect` reads everything, plans (:func:`upgrade_plan.plan`) and returns the module's result; any refusal
is an :class:`UpgradeStateError` whose ``result`` holds as much as was read. The steps, each usable alone:

- :func:`read_apiservers`: ``GET /version`` on every control-plane host's own apiserver. One that does not answer
  (refused, timed out, HTTP 5xx) is replaced by the version its installed binary reports
  (``kube-apiserver --version``) and marked unhealthy, so the planner swaps it again;
- :func:`read_nodes`: one Node list: kubelet and containerd versions per inventory host, and the NotReady nodes;
- :func:`check_ready`: refuses NotReady nodes the user did not list; the listed ones mark their kubelet unhealthy;
- :func:`read_etcd`: version and health of every member; any member down or unhealthy refuses the upgrade;
- :func:`host_actions`: the plan turned into per-host booleans for the playbook.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re

from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.api import EtcdError
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import versions as kv
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube.api import KubeApiError
from ansible_collections.kubesmith.cluster.plugins.module_utils.upgrade import plan as upgrade_plan

CONTAINERD_PREFIX = "containerd://"
ETCD_UNHEALTHY = "etcd must be healthy on every member before an upgrade (quorum is at stake while members restart): %s"
NOT_READY_TAIL = (
    "an upgrade drains nodes one after another and needs the others healthy; fix it, or list it in "
    "upgrade_ignore_not_ready"
)

_INSTALLED_RE = re.compile(r"^\s*(?:Kubernetes\s+)?(\S+)\s*$")


class UpgradeStateError(Exception):
    """Reading the cluster refused the upgrade; ``result`` holds what was read until then."""

    def __init__(self, message, result=None):
        super(UpgradeStateError, self).__init__(message)
        self.result = result if result is not None else {}


def _url_map(value, option):
    """``{inventory host: URL}`` checked: a dict of non-empty strings."""
    if not isinstance(value, dict):
        raise UpgradeStateError("%s must map inventory host names to URLs, got %r" % (option, value))
    for host, url in value.items():
        if not isinstance(host, str) or not host or not isinstance(url, str) or not url.strip():
            raise UpgradeStateError("%s: %r -> %r is not an inventory host name and a URL" % (option, host, url))
    return value


# ---------------------------------------------------------------------------------------------------------------
# apiservers
# ---------------------------------------------------------------------------------------------------------------


def _no_answer(exc):
    """True when ``exc`` means the apiserver is not serving (so its installed binary may stand in)."""
    return exc.kind in ("unavailable", "timeout") or (exc.status is not None and exc.status >= 500)


def installed_version(text: str, host: str) -> str:
    """``'Kubernetes v1.20.2'`` (``kube-apiserver --version``) or ``'v1.20.2'`` -> ``'v1.20.2'``."""
    match = _INSTALLED_RE.match(text) if isinstance(text, str) else None
    try:
        if not match:
            raise kv.KubeVersionError("not a version")
        return str(kv.parse_version(match.group(1)))
    except kv.KubeVersionError:
        raise UpgradeStateError(
            "apiserver_installed %s is %r: expected the output of kube-apiserver --version (Kubernetes v1.20.2) "
            "or a version" % (host, text)
        ) from None


def read_apiservers(apiservers: dict, api_client, installed: dict | None = None) -> tuple[dict, list[str]]:
    """``(versions, unhealthy hosts)``: each host's apiserver ``gitVersion``, or its installed version when it
    does not answer (then the host is in ``unhealthy``)."""
    _url_map(apiservers, "apiservers")
    installed = installed or {}
    if not isinstance(installed, dict):
        raise UpgradeStateError("apiserver_installed must map inventory host names to versions, got %r" % installed)
    versions, unhealthy = {}, []
    for host, url in apiservers.items():
        try:
            answer = api_client(url).get("/version")
        except KubeApiError as exc:
            if not _no_answer(exc):
                raise UpgradeStateError(
                    "cannot read the apiserver version on %s (%s): %s" % (host, url, exc), {"apiservers": versions}
                ) from None
            if not installed.get(host):
                raise UpgradeStateError(
                    "the apiserver on %s (%s) does not answer /version (%s) and no installed kube-apiserver version "
                    "was given for it (apiserver_installed): start it, or pass what its binary reports so the upgrade "
                    "can install it again" % (host, url, exc),
                    {"apiservers": versions},
                ) from None
            versions[host] = installed_version(installed[host], host)
            unhealthy.append(host)
            continue
        version = answer.get("gitVersion") if isinstance(answer, dict) else None
        if not isinstance(version, str) or not version:
            raise UpgradeStateError(
                "the apiserver on %s (%s) answered /version without a gitVersion: %r" % (host, url, answer),
                {"apiservers": versions},
            )
        versions[host] = version
    return versions, unhealthy


# ---------------------------------------------------------------------------------------------------------------
# nodes
# ---------------------------------------------------------------------------------------------------------------


def runtime_version(runtime: str | None, node: str, containerd_required: bool) -> str | None:
    """``'containerd://1.6.20~ds1'`` -> ``'1.6.20~ds1'``; another runtime -> ``None``, or an error when a
    containerd target is set (kubesmith upgrades containerd only)."""
    if isinstance(runtime, str) and runtime.startswith(CONTAINERD_PREFIX) and runtime[len(CONTAINERD_PREFIX) :]:
        return runtime[len(CONTAINERD_PREFIX) :]
    if containerd_required:
        raise UpgradeStateError(
            "node %s runs the container runtime %r, not containerd: containerd_version upgrades containerd only; "
            "leave containerd_version unset, or move the node to containerd first" % (node, runtime or "")
        )
    return None


def ready_condition(node: dict) -> tuple[bool, str]:
    """``(ready, reason)`` from the Node's ``Ready`` condition (``Unknown`` and a missing condition are not Ready)."""
    conditions = (node.get("status") or {}).get("conditions") or []
    for cond in conditions:
        if isinstance(cond, dict) and cond.get("type") == "Ready":
            if cond.get("status") == "True":
                return True, ""
            text = ": ".join(p for p in (cond.get("reason"), cond.get("message")) if p)
            return False, "Ready=%s%s" % (cond.get("status") or "?", ", " + text if text else "")
    return False, "no Ready condition"


def read_nodes(items: list[dict], nodes: dict, containerd_required: bool, marker: str | None = None) -> dict:
    """From a Node list: ``{"kubelets": {host: v}, "containerd": {host: v}, "not_ready": {node: reason},
    "marked": [host]}``.

    ``nodes`` maps inventory hosts to Node names; a host whose Node is absent is left out. ``not_ready`` covers
    every Node of the list, in the inventory or not. ``marked``: hosts whose Node carries the annotation ``marker``
    (set by the upgrade playbook while it has a node drained; still there = that node's step did not finish).
    """
    if not isinstance(nodes, dict):
        raise UpgradeStateError("nodes must map inventory host names to Node names, got %r" % (nodes,))
    by_name = {}
    for host, name in nodes.items():
        if not isinstance(name, str) or not name:
            raise UpgradeStateError("nodes: %r -> %r is not an inventory host name and a Node name" % (host, name))
        if name in by_name:
            raise UpgradeStateError("nodes: %s and %s both name the Node %s" % (by_name[name], host, name))
        by_name[name] = host
    kubelets, containerd, not_ready, marked = {}, {}, {}, []
    for node in items:
        name = (node.get("metadata") or {}).get("name", "")
        ready, reason = ready_condition(node)
        if not ready:
            not_ready[name] = reason
        host = by_name.get(name)
        if host is None:
            continue
        info = (node.get("status") or {}).get("nodeInfo") or {}
        if not info.get("kubeletVersion"):
            raise UpgradeStateError("node %s (%s) reports no status.nodeInfo.kubeletVersion" % (name, host))
        kubelets[host] = info["kubeletVersion"]
        version = runtime_version(info.get("containerRuntimeVersion"), name, containerd_required)
        if version is not None:
            containerd[host] = version
        if marker and marker in ((node.get("metadata") or {}).get("annotations") or {}):
            marked.append(host)
    return {"kubelets": kubelets, "containerd": containerd, "not_ready": not_ready, "marked": sorted(marked)}


def check_ready(not_ready: dict, ignore, nodes: dict) -> list[str]:
    """Hosts whose kubelet is to be redone (NotReady nodes in ``ignore``); any other NotReady node refuses."""
    blocking = [n for n in sorted(not_ready) if n not in ignore]
    if blocking:
        raise UpgradeStateError(
            "%s: %s" % (", ".join("node %s is not Ready (%s)" % (n, not_ready[n]) for n in blocking), NOT_READY_TAIL)
        )
    hosts = {name: host for host, name in nodes.items()}
    return [hosts[n] for n in sorted(not_ready) if n in hosts]


# ---------------------------------------------------------------------------------------------------------------
# etcd
# ---------------------------------------------------------------------------------------------------------------


def read_etcd(members: dict, etcd_client) -> dict:
    """``{host: version}`` of every member; refuses when one does not answer or is unhealthy (all are named)."""
    _url_map(members, "etcd_members")
    versions, problems = {}, []
    for host, url in members.items():
        try:
            client = etcd_client(url)
            version = client.status().get("version")
            if not version:
                problems.append("%s: %s answered its status without a version" % (host, url))
                continue
            versions[host] = version
            ok, reason = client.health()
        except EtcdError as exc:
            if exc.kind == "config":
                raise UpgradeStateError("etcd client for %s (%s): %s" % (host, url, exc), {"etcd": versions}) from None
            problems.append("%s: %s" % (host, exc if url in str(exc) else "%s: %s" % (url, exc)))
            continue
        if not ok:
            problems.append("%s: %s: %s" % (host, url, reason))
    if problems:
        raise UpgradeStateError(ETCD_UNHEALTHY % "; ".join(problems), {"etcd": versions})
    return versions


# ---------------------------------------------------------------------------------------------------------------
# the plan, per host
# ---------------------------------------------------------------------------------------------------------------


def host_actions(plan: dict, all_hosts: list[str]) -> dict[str, dict[str, bool]]:
    """``{host: {"etcd", "apiserver", "node", "containerd", "drain"}}`` (booleans) for every host of ``all_hosts``.

    ``node``: the host's kubelet and/or containerd is swapped; ``drain``: it is drained first (same thing today: a
    kubelet or containerd restart happens under the pods).
    """
    out = {h: dict.fromkeys(("etcd", "apiserver", "node", "containerd", "drain"), False) for h in all_hosts}
    for step in plan["steps"]:
        for host, changes in step["from"].items():
            actions = out[host]
            node = "kubelet" in changes or "containerd" in changes
            actions["etcd"] |= "etcd" in changes
            actions["apiserver"] |= "apiserver" in changes
            actions["node"] |= node
            actions["containerd"] |= "containerd" in changes
            actions["drain"] |= node and step["drain"]
    return out


def node_after_apiservers(plan: dict, apiservers: dict, kube_version: str) -> bool:
    """True when control-plane kubelets wait for every apiserver: a minor upgrade with control-plane node steps."""
    try:
        minor_changes = any(kv.minor(v) != kv.minor(kube_version) for v in apiservers.values())
    except kv.KubeVersionError:
        return False
    return minor_changes and any(
        s["phase"] == "control_plane" and "apiserver" not in s["components"] for s in plan["steps"]
    )


# ---------------------------------------------------------------------------------------------------------------
# everything
# ---------------------------------------------------------------------------------------------------------------


def empty_result() -> dict:
    return {
        "changed": False,
        "current": {"apiservers": {}, "kubelets": {}, "etcd": {}, "containerd": {}},
        "unhealthy": {},
        "not_ready": [],
        "plan": {},
        "summary": "",
        "pending": [],
        "hosts": {},
        "node_after_apiservers": False,
    }


def inventory_hosts(settings: dict) -> list[str]:
    """Every host of etcd_hosts, control_plane_hosts, worker_hosts once, in that order."""
    hosts = []
    for key in ("etcd_hosts", "control_plane_hosts", "worker_hosts"):
        for host in settings.get(key) or ():
            if host not in hosts:
                hosts.append(host)
    return hosts


def collect(params: dict, api_client, etcd_client) -> dict:
    """Read, check and plan; the module's result. ``params`` holds the module options (see the module)."""
    result = empty_result()
    current = result["current"]
    unhealthy = result["unhealthy"]
    try:
        # apiservers: each host's own
        current["apiservers"], down = read_apiservers(
            params["apiservers"], api_client, params.get("apiserver_installed")
        )
        for host in down:
            unhealthy[host] = ["apiserver"]

        # nodes: one list through the kubeconfig's server
        try:
            items = (api_client(None).get("/api/v1/nodes") or {}).get("items") or []
        except KubeApiError as exc:
            raise UpgradeStateError("cannot list the Nodes: %s" % exc) from None
        nodes = params.get("nodes") or {}
        read = read_nodes(items, nodes, bool(params.get("containerd_version")), params.get("resume_annotation"))
        current["kubelets"], current["containerd"] = read["kubelets"], read["containerd"]
        result["not_ready"] = sorted(read["not_ready"])
        redo = check_ready(read["not_ready"], params.get("ignore_not_ready") or [], nodes) + read["marked"]
        for host in redo:
            if "kubelet" not in unhealthy.setdefault(host, []):
                unhealthy[host].append("kubelet")

        # etcd: every member answers and is healthy
        current["etcd"] = read_etcd(params["etcd_members"], etcd_client)
    except UpgradeStateError as exc:
        current.update(exc.result)  # what a reader had got before it refused
        raise UpgradeStateError(str(exc), result) from None

    settings = {
        "etcd_hosts": params.get("etcd_hosts") or [],
        "control_plane_hosts": params.get("control_plane_hosts") or [],
        "worker_hosts": params.get("worker_hosts") or [],
        "worker_batch": params.get("worker_batch", 1),
        "allow_downgrade": bool(params.get("allow_downgrade")),
        "unhealthy": result["unhealthy"],
    }
    target = {"kube_version": params.get("kube_version")}
    for key in ("etcd_version", "containerd_version"):
        if params.get(key):
            target[key] = params[key]
    planned_current = dict(current)
    if not target.get("containerd_version") and set(current["containerd"]) != set(current["kubelets"]):
        # some node runs another runtime and containerd is not upgraded: nothing to check containerd against
        del planned_current["containerd"]
    try:
        plan = upgrade_plan.plan(planned_current, target, settings)
    except upgrade_plan.UpgradePlanError as exc:
        raise UpgradeStateError(str(exc), result) from None

    all_hosts = inventory_hosts(settings)
    result["plan"] = plan
    result["summary"] = plan["summary"]
    result["hosts"] = host_actions(plan, all_hosts)
    result["pending"] = [h for h in all_hosts if h not in plan["skipped"]]
    result["node_after_apiservers"] = node_after_apiservers(plan, current["apiservers"], params.get("kube_version"))
    return result
