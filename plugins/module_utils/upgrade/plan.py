# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The rolling-upgrade planner (pure: no I/O, standard library only, Python 3.9+).

The caller (the ``kube_upgrade_plan`` module/action) reads what runs now -- from the API and the hosts -- and
passes it here with the targets and the inventory; :func:`plan` checks everything against the version-skew policy
and returns the ordered steps, or raises :class:`UpgradePlanError` saying why and what to do. Nothing has changed
when it raises: the playbook calls it before its first change.

Interface::

    plan(current, target, settings) -> dict

    current  = {"apiservers": {"cp1": "v1.20.2", ...},   # every control-plane host (kube-apiserver /version)
                "kubelets":   {"cp1": "v1.20.2", "w1": ...},  # every node (status.nodeInfo.kubeletVersion);
                                                          # every worker must be there, control-plane hosts
                                                          # only when they are nodes
                "etcd":       {"cp1": "3.4.23", ...},    # every etcd host
                "containerd": {"cp1": "1.6.20", ...}}    # every node (optional when no containerd target)
    target   = {"kube_version": "1.20.2+kubesmith.1",    # required
                "etcd_version": "3.5.16",                # optional: omitted = etcd is not upgraded
                "containerd_version": "1.7.24"}          # optional: omitted = containerd is not upgraded
    settings = {"etcd_hosts": [...], "control_plane_hosts": [...], "worker_hosts": [...],  # inventory order
                "worker_batch": 1 | "1" | "25%",         # upgrade_worker_batch (default 1)
                "allow_downgrade": False,                # patch-level downgrades only, see below
                "unhealthy": {"cp2": ["apiserver"]}}     # optional: steps to redo, see below

    returns  = {"steps": [{"phase": "etcd" | "control_plane" | "workers",
                           "hosts": ["cp1"],
                           "components": ["apiserver", "kubelet", "containerd"],   # union over the hosts
                           "drain": True,                 # kubelet or containerd restarts under pods
                           "from": {"cp1": {"apiserver": "v1.20.2", ...}},        # per host, what changes
                           "to": {"apiserver": "v1.20.2+kubesmith.1", ...}}, ...],
                "skipped": ["w2"],                        # hosts already at every target version
                "summary": "etcd: 3 members one at a time (...); ..."}

Components: ``etcd``; ``apiserver`` stands for kube-apiserver, kube-controller-manager and kube-scheduler (one
release, the apiserver's version is the one read); ``kubelet`` for kubelet and kube-proxy; ``containerd``.

Order: etcd members one at a time (inventory order) -> control-plane hosts one at a time -> workers in batches of
``worker_batch`` (a count, or a percentage of *all* workers in the inventory, rounded down, at least 1 -- so the
batch size does not change when a re-run resumes). A host in both ``control_plane_hosts`` and ``worker_hosts``
is handled as a control-plane host. containerd rides with its host's kubelet step (one drain).

Control-plane hosts that are nodes: their kubelet and containerd ride with the apiserver step when the minor does
not change (one drain per host). When the minor changes, an upgraded kubelet on cp1 would be newer than the
apiservers still waiting on cp2/cp3 (the skew policy forbids a kubelet newer than *any* apiserver), so the
control-plane hosts' kubelet/containerd steps follow in the same phase after every apiserver is at the target.

Unhealthy components (``settings["unhealthy"]``, optional): inventory host -> list of ``apiserver``, ``kubelet``,
``containerd``. Each is planned for that host even when it already reports the target version: a resumed roll
redoes a step that failed its health gate (an apiserver that no longer answers after its binaries were swapped, a
node that stayed NotReady). The step's ``from`` is still the version read; the forced step takes its usual place
(a kubelet rides with its host's step). A component the host does not have (an ``apiserver`` on a host outside
``control_plane_hosts``, a ``kubelet``/``containerd`` on a host that is not a node, ``containerd`` without a
``containerd_version`` target) is refused.

When is a host at the target:

* Kubernetes: the exact version, build tag included. ``kube_versions.compare`` treats ``v1.20.2+kubesmith.1`` as
  equal to ``v1.20.2`` (SemVer: build metadata has no precedence), but the binaries differ, so a different build
  tag (added, changed or removed) is a *rebuild*: an upgrade within the same minor, never a downgrade. ``v`` and
  surrounding spaces do not matter.
* etcd and containerd: major.minor.patch. Suffixes (``1.6.20~ds1-1``, ``3.4.23+dfsg``: distribution packaging)
  are ignored, because the hosts may report the package version where the target names the upstream release.

Refusals (:class:`UpgradePlanError`, before anything changes):

* a version that does not parse; a target Kubernetes minor kubesmith does not support (``kube_versions.lookup``);
* an apiserver more than one minor behind the target (no skipping a minor), or newer than it (control-plane
  minor downgrades are never done; patch downgrades only with ``allow_downgrade``);
* current apiservers more than one minor apart (a half-finished earlier upgrade -- some at the target, the rest
  one minor behind -- is fine and resumes);
* a kubelet newer than the target apiserver (a newer minor always; a newer patch unless ``allow_downgrade``).
  A target kubelet newer than the *current* apiservers is fine: the control plane goes first;
* a kubelet further behind the target than the skew policy allows (3 minors since 1.28, 2 before): every kubelet
  not at the target runs against upgraded apiservers for a while, so this applies to all of them -- not only to
  hosts left out of the plan (none are, today);
* etcd: a minor skipped (3.4 -> 3.6), a minor/major downgrade, a patch downgrade without ``allow_downgrade``; the
  target etcd minor not supported by the target Kubernetes minor, or by a current apiserver minor the table knows
  (the apiservers still at the old version talk to the new etcd first);
* containerd: the target (or, with no target, the current) version not supported by the target Kubernetes minor
  (``kube_versions.containerd_supported``); minor/major downgrades; patch downgrades without ``allow_downgrade``;
* inventory mismatches: empty ``etcd_hosts``/``control_plane_hosts``, duplicate hosts, a host in ``current`` that
  is not in the inventory group it belongs to, an inventory host missing from ``current``.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re

from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import versions as kv


class UpgradePlanError(ValueError):
    """The upgrade is unsafe or impossible; the message says why and what to do. Nothing has been changed."""


# etcd minors each Kubernetes minor works with, from upstream: 1.20 was released with etcd 3.4 and works with 3.5;
# 1.35 ships etcd 3.6 (build/dependencies.yaml of v1.35.0) and still supports 3.5. Only the 3.6 pin of 1.35 was
# seen here (through a distribution's changelog quoting dependencies.yaml); the rest is as the upstream docs state
# it, not re-checked against them. 1.36 and 1.37 carry 1.35's row forward (not confirmed, like kube_versions).
SUPPORTED_ETCD = {
    "1.20": ("3.4", "3.5"),
    "1.35": ("3.5", "3.6"),
    "1.36": ("3.5", "3.6"),
    "1.37": ("3.5", "3.6"),
}

# How many minors a kubelet may be older than the apiserver (upstream version-skew policy: 3 since 1.28, 2 before).
_KUBELET_SKEW_SINCE_1_28 = 3
_KUBELET_SKEW_BEFORE_1_28 = 2

COMPONENT_ORDER = ("etcd", "apiserver", "kubelet", "containerd")

_TRIPLE_RE = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:[-+~.][0-9A-Za-z.+~:-]*)?$")
_PERCENT_RE = re.compile(r"^\s*([0-9]+)\s*%\s*$")


def kubelet_skew(kube_version: str) -> int:
    """How many minors a kubelet may lag behind an apiserver of ``kube_version``."""
    version = kv.parse_version(kube_version, require_patch=False)
    return _KUBELET_SKEW_SINCE_1_28 if (version.major, version.minor) >= (1, 28) else _KUBELET_SKEW_BEFORE_1_28


def parse_triple(value: str, what: str) -> tuple[int, int, int]:
    """``'3.4.23'``, ``'v1.7.24'``, ``'1.6.20~ds1-1'`` -> ``(3, 4, 23)``; :class:`UpgradePlanError` otherwise."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise UpgradePlanError("%s version %r is not a string such as 3.5.16: quote it" % (what, value))
    match = _TRIPLE_RE.match(value.strip())
    if not match:
        raise UpgradePlanError(
            "%r is not a %s version: use <major>.<minor>.<patch>, for example 3.5.16" % (value, what)
        )
    return tuple(int(part) for part in match.groups())


def normalize_kube(value: str, what: str) -> str:
    """The canonical form (``v1.20.2+kubesmith.1``) of a Kubernetes version, as :class:`UpgradePlanError`."""
    try:
        return str(kv.parse_version(value))
    except kv.KubeVersionError as exc:
        raise UpgradePlanError("%s: %s" % (what, exc)) from None


def worker_batch_size(batch: int | str, workers: int) -> int:
    """Hosts per worker batch: ``batch`` is a count (int or digit string) or ``'N%'`` of ``workers`` (the number of
    workers in the inventory; rounded down, at least 1)."""
    if isinstance(batch, bool):
        batch = repr(batch)
    if isinstance(batch, int):
        count = batch
    elif isinstance(batch, str) and batch.strip().isdigit():
        count = int(batch.strip())
    elif isinstance(batch, str) and _PERCENT_RE.match(batch):
        percent = int(_PERCENT_RE.match(batch).group(1))
        if not 0 < percent <= 100:
            raise UpgradePlanError("upgrade_worker_batch %r: a percentage must be between 1%% and 100%%" % (batch,))
        return max(1, workers * percent // 100)
    else:
        raise UpgradePlanError(
            "upgrade_worker_batch %r is neither a host count (1, 2, ...) nor a percentage of the workers ('25%%')"
            % (batch,)
        )
    if count < 1:
        raise UpgradePlanError("upgrade_worker_batch %r: upgrade at least 1 worker per batch" % (batch,))
    return count


# ---------------------------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------------------------


def _host_list(settings, key, required):
    hosts = settings.get(key)
    if hosts is None:
        hosts = []
    if isinstance(hosts, str) or not isinstance(hosts, (list, tuple)):
        raise UpgradePlanError("settings %s must be a list of inventory host names, got %r" % (key, hosts))
    if required and not hosts:
        raise UpgradePlanError("settings %s is empty: the inventory group has no hosts to upgrade" % key)
    bad = [h for h in hosts if not isinstance(h, str) or not h]
    if bad:
        raise UpgradePlanError("settings %s has invalid host names %r" % (key, bad))
    seen = set()
    dups = [h for h in hosts if h in seen or seen.add(h)]
    if dups:
        raise UpgradePlanError("settings %s lists %s more than once" % (key, ", ".join(sorted(set(dups)))))
    return list(hosts)


def _versions(current, key, required):
    versions = current.get(key)
    if versions is None:
        if required:
            raise UpgradePlanError("current %s is missing: read the running versions before planning" % key)
        return {}
    if not isinstance(versions, dict):
        raise UpgradePlanError("current %s must map inventory host names to versions, got %r" % (key, versions))
    return dict(versions)


def _match_hosts(versions, key, expected, allowed, group):
    """Every host in ``expected`` has a version; every host with a version is in ``allowed``."""
    extra = [h for h in versions if h not in allowed]
    if extra:
        raise UpgradePlanError(
            "current %s lists %s, not in %s: fix the inventory or the versions read"
            % (key, ", ".join(sorted(extra)), group)
        )
    missing = [h for h in expected if h not in versions]
    if missing:
        raise UpgradePlanError(
            "no %s version for %s: every host of %s must report one (is it running?)" % (key, ", ".join(missing), group)
        )


def _check_patch_move(host, what, cur, tgt, allow_downgrade, minor_jump_allowed):
    """Compare two (major, minor, patch) triples; return True when the host needs the target, raise if unsafe."""
    if cur == tgt:
        return False
    if cur[0] != tgt[0]:
        if cur[0] < tgt[0] and minor_jump_allowed:
            return True
        raise UpgradePlanError(
            "%s on %s runs %d.%d.%d; the target %d.%d.%d is another major version: %s"
            % (
                what,
                host,
                cur[0],
                cur[1],
                cur[2],
                tgt[0],
                tgt[1],
                tgt[2],
                "downgrades are not supported" if cur > tgt else "upgrade one minor at a time",
            )
        )
    if cur[1] > tgt[1]:
        raise UpgradePlanError(
            "%s on %s runs %d.%d.%d, a newer minor than the target %d.%d.%d: minor downgrades are not supported "
            "(restore a backup taken before the upgrade instead)" % ((what, host) + cur + tgt)
        )
    if cur[1] == tgt[1] and cur[2] > tgt[2] and not allow_downgrade:
        raise UpgradePlanError(
            "%s on %s runs %d.%d.%d, newer than the target %d.%d.%d: set allow_downgrade to go down a patch "
            "release, or set the target to the running version" % ((what, host) + cur + tgt)
        )
    if tgt[1] - cur[1] > 1 and not minor_jump_allowed:
        raise UpgradePlanError(
            "%s on %s runs %d.%d.%d; the target %d.%d.%d skips a minor: upgrade one minor at a time "
            "(first to %d.%d)" % ((what, host) + cur + tgt + (cur[0], cur[1] + 1))
        )
    return True


# ---------------------------------------------------------------------------------------------------------------
# The planner
# ---------------------------------------------------------------------------------------------------------------


def plan(current: dict, target: dict, settings: dict) -> dict:
    """The ordered upgrade plan (see the module docstring); raises :class:`UpgradePlanError` when unsafe."""
    try:
        return _plan(current, target, settings)
    except kv.KubeVersionError as exc:  # e.g. versions of different majors: say it in the planner's terms
        raise UpgradePlanError(str(exc)) from None


def _plan(current, target, settings):
    if not isinstance(current, dict) or not isinstance(target, dict) or not isinstance(settings, dict):
        raise UpgradePlanError("current, target and settings must be dictionaries")
    allow_downgrade = bool(settings.get("allow_downgrade", False))
    hosts, read = _read_current(current, target, settings)
    to = _read_target(target)
    read["apiserver"] = _check_apiservers(hosts["control_plane"], read["apiserver"], to["apiserver"], allow_downgrade)
    read["kubelet"] = _check_kubelets(hosts["nodes"], read["kubelet"], to["apiserver"], allow_downgrade)
    triples = {
        "etcd": _check_etcd(hosts["etcd"], read, to),
        "containerd": _check_containerd(hosts["nodes"], read["containerd"], to),
    }
    work = _work(hosts, read, triples, to, allow_downgrade)
    forced = _unhealthy(settings, hosts["control_plane"], hosts["nodes"], to["containerd"])
    for host, components in forced.items():
        for component in components:
            work.setdefault(host, {})[component] = read[component][host]
    minor_changes = any(kv.minor(v) != kv.minor(to["apiserver"]) for v in read["apiserver"].values())
    steps = _steps(hosts, work, to, minor_changes, settings.get("worker_batch", 1))
    all_hosts = []
    for host in hosts["etcd"] + hosts["control_plane"] + hosts["workers"]:
        if host not in all_hosts:
            all_hosts.append(host)
    skipped = [h for h in all_hosts if h not in work]
    return {"steps": steps, "skipped": skipped, "summary": _summary(steps, skipped, to, minor_changes, forced)}


def _read_current(current, target, settings):
    """The inventory groups (``etcd``, ``control_plane``, ``workers``, ``nodes``) and the versions read, by
    component (``etcd``, ``apiserver``, ``kubelet``, ``containerd``), checked against each other."""
    etcd_hosts = _host_list(settings, "etcd_hosts", required=True)
    cp_hosts = _host_list(settings, "control_plane_hosts", required=True)
    worker_hosts = [h for h in _host_list(settings, "worker_hosts", required=False) if h not in cp_hosts]
    node_candidates = cp_hosts + worker_hosts

    apiservers = _versions(current, "apiservers", required=True)
    kubelets = _versions(current, "kubelets", required=True)
    etcd = _versions(current, "etcd", required=True)
    _match_hosts(apiservers, "apiservers", cp_hosts, cp_hosts, "control_plane_hosts")
    _match_hosts(kubelets, "kubelets", worker_hosts, node_candidates, "control_plane_hosts or worker_hosts")
    _match_hosts(etcd, "etcd", etcd_hosts, etcd_hosts, "etcd_hosts")
    nodes = [h for h in node_candidates if h in kubelets]
    containerd = _versions(current, "containerd", required=target.get("containerd_version") is not None)
    _match_hosts(
        containerd,
        "containerd",
        nodes if containerd or target.get("containerd_version") else [],
        nodes,
        "the nodes (hosts with a kubelet)",
    )
    hosts = {"etcd": etcd_hosts, "control_plane": cp_hosts, "workers": worker_hosts, "nodes": nodes}
    return hosts, {"etcd": etcd, "apiserver": apiservers, "kubelet": kubelets, "containerd": containerd}


def _read_target(target):
    """The target version of each component (``apiserver`` and ``kubelet``: kube_version, normalized; ``etcd`` and
    ``containerd``: as given, ``None`` when not upgraded), after checking that they parse and are supported."""
    if target.get("kube_version") is None:
        raise UpgradePlanError("target kube_version is required (for example v1.20.2)")
    kube_target = normalize_kube(target["kube_version"], "target kube_version")
    try:
        kv.lookup(kube_target)
    except kv.KubeVersionError as exc:
        raise UpgradePlanError(str(exc)) from None
    for name, what in (("etcd_version", "etcd"), ("containerd_version", "containerd")):
        if target.get(name) is not None:
            parse_triple(target[name], what)
    return {
        "etcd": target.get("etcd_version"),
        "apiserver": kube_target,
        "kubelet": kube_target,
        "containerd": target.get("containerd_version"),
    }


def _check_apiservers(cp_hosts, apiservers, kube_target, allow_downgrade):
    """The apiservers' versions, normalized; raises unless ``kube_target`` is a safe step from every one."""
    api_norm = {h: normalize_kube(v, "apiserver on %s" % h) for h, v in apiservers.items()}
    api_minors = sorted({kv.parse_version(v).minor for v in api_norm.values()})
    if api_minors[-1] - api_minors[0] > 1:
        raise UpgradePlanError(
            "the apiservers run minors more than one apart (%s): finish the earlier upgrade first"
            % ", ".join("%s=%s" % (h, api_norm[h]) for h in cp_hosts)
        )
    for host in cp_hosts:
        _check_apiserver_move(host, api_norm[host], kube_target, allow_downgrade)
    return api_norm


def _check_apiserver_move(host, version, kube_target, allow_downgrade):
    """Raise unless the apiserver on ``host`` may go from ``version`` to ``kube_target`` (one minor up at most)."""
    distance = kv.minor_distance(version, kube_target)
    if distance > 1:
        raise UpgradePlanError(
            "the apiserver on %s runs %s; %s would skip %s: the control plane upgrades one minor at a time "
            "(first to 1.%d)"
            % (
                host,
                version,
                kube_target,
                "a minor" if distance == 2 else "%d minors" % (distance - 1),
                kv.parse_version(version).minor + 1,
            )
        )
    if distance < 0:
        raise UpgradePlanError(
            "the apiserver on %s runs %s, a newer minor than the target %s: control-plane minor downgrades are "
            "not supported (restore an etcd snapshot taken before the upgrade instead)" % (host, version, kube_target)
        )
    if kv.compare(version, kube_target) > 0 and not allow_downgrade:
        raise UpgradePlanError(
            "the apiserver on %s runs %s, newer than the target %s: set allow_downgrade to go down a patch "
            "release, or set kube_version to the running version" % (host, version, kube_target)
        )


def _check_kubelets(nodes, kubelets, kube_target, allow_downgrade):
    """The kubelets' versions, normalized; raises when one is newer than the target or lags it beyond the skew."""
    kubelet_norm = {h: normalize_kube(v, "kubelet on %s" % h) for h, v in kubelets.items()}
    skew = kubelet_skew(kube_target)
    for host in nodes:
        version = kubelet_norm[host]
        if kv.compare(version, kube_target) > 0 and (
            kv.minor_distance(version, kube_target) < 0 or not allow_downgrade
        ):
            raise UpgradePlanError(
                "the kubelet on %s runs %s, newer than the target apiserver %s: a kubelet must never be newer than "
                "the apiservers; set kube_version to at least %s" % (host, version, kube_target, version)
            )
        distance = kv.minor_distance(version, kube_target)
        if distance > skew:
            raise UpgradePlanError(
                "the kubelet on %s runs %s, %d minors older than the target %s; kubelets may lag the apiserver by %d "
                "minors at most: upgrade the cluster one minor at a time so the kubelets follow"
                % (host, version, distance, kube_target, skew)
            )
    return kubelet_norm


def _check_etcd(etcd_hosts, read, to):
    """The etcd versions as triples; raises when the target etcd (else the running one) does not work with the
    target Kubernetes, or the target etcd with an apiserver still at its running version."""
    etcd = read["etcd"]
    etcd_t = {h: parse_triple(v, "etcd") for h, v in etcd.items()}
    if to["etcd"] is not None:
        target_t = parse_triple(to["etcd"], "etcd")
        _check_etcd_supported(to["etcd"], target_t, to["apiserver"], "target kube_version")
        for version in sorted(set(read["apiserver"].values())):
            if kv.minor(version) in SUPPORTED_ETCD:
                _check_etcd_supported(to["etcd"], target_t, version, "the apiservers still at")
    else:
        for host in etcd_hosts:
            _check_etcd_supported(etcd[host], etcd_t[host], to["apiserver"], "target kube_version", host)
    return etcd_t


def _check_containerd(nodes, containerd, to):
    """The containerd versions as triples; raises when the target containerd (else the running one on a node)
    does not work with the target Kubernetes."""
    kube_target, ctd_target = to["apiserver"], to["containerd"]
    ctd_t = {h: parse_triple(v, "containerd") for h, v in containerd.items()}
    if ctd_target is not None:
        if not kv.containerd_supported(kube_target, ctd_target):
            raise UpgradePlanError(
                "containerd %s does not work with Kubernetes %s (supported lines: %s): choose a supported "
                "containerd_version" % (ctd_target, kube_target, ", ".join(kv.lookup(kube_target).containerd_versions))
            )
    else:
        for host in nodes:
            if host in containerd and not kv.containerd_supported(kube_target, containerd[host]):
                raise UpgradePlanError(
                    "containerd %s on %s does not work with Kubernetes %s (supported lines: %s): set a "
                    "containerd_version target to upgrade it in the same roll"
                    % (containerd[host], host, kube_target, ", ".join(kv.lookup(kube_target).containerd_versions))
                )
    return ctd_t


def _work(hosts, read, triples, to, allow_downgrade):
    """What each host needs: ``{host: {component: version read}}`` for the components not at their target; raises
    on an unsafe etcd or containerd move."""
    work = {}

    def need(host, component):
        work.setdefault(host, {})[component] = read[component][host]

    if to["etcd"] is not None:
        etcd_target_t = parse_triple(to["etcd"], "etcd")
        for host in hosts["etcd"]:
            if _check_patch_move(host, "etcd", triples["etcd"][host], etcd_target_t, allow_downgrade, False):
                need(host, "etcd")
    ctd_target_t = parse_triple(to["containerd"], "containerd") if to["containerd"] is not None else None
    for host in hosts["control_plane"]:
        if read["apiserver"][host] != to["apiserver"]:
            need(host, "apiserver")
    for host in hosts["nodes"]:
        if read["kubelet"][host] != to["kubelet"]:
            need(host, "kubelet")
        if ctd_target_t is not None and _check_patch_move(
            host, "containerd", triples["containerd"][host], ctd_target_t, allow_downgrade, True
        ):
            need(host, "containerd")
    return work


def _step(work, to, phase, hosts, components):
    """One step of ``phase`` for ``hosts``: the ``components`` some of them need, ``None`` when none does."""
    comps = [c for c in COMPONENT_ORDER if c in components and any(c in work.get(h, {}) for h in hosts)]
    if not comps:
        return None
    return {
        "phase": phase,
        "hosts": list(hosts),
        "components": comps,
        "drain": "kubelet" in comps or "containerd" in comps,
        "from": {h: {c: work[h][c] for c in comps if c in work.get(h, {})} for h in hosts},
        "to": {c: to[c] for c in comps},
    }


def _steps(hosts, work, to, minor_changes, worker_batch):
    """The steps in order: etcd members one at a time, control-plane hosts one at a time (their kubelets after every
    apiserver when the minor changes), then the workers that need work in batches of ``worker_batch``."""
    steps = [_step(work, to, "etcd", [host], ("etcd",)) for host in hosts["etcd"]]
    if minor_changes:
        # kubelets on control-plane hosts wait until no apiserver is left at the older minor
        for components in (("apiserver",), ("kubelet", "containerd")):
            steps.extend(_step(work, to, "control_plane", [host], components) for host in hosts["control_plane"])
    else:
        for host in hosts["control_plane"]:
            steps.append(_step(work, to, "control_plane", [host], ("apiserver", "kubelet", "containerd")))
    pending_workers = [h for h in hosts["workers"] if h in work]
    size = worker_batch_size(worker_batch, len(hosts["workers"])) if hosts["workers"] else 1
    for start in range(0, len(pending_workers), size):
        steps.append(_step(work, to, "workers", pending_workers[start : start + size], ("kubelet", "containerd")))
    return [s for s in steps if s is not None]


UNHEALTHY_COMPONENTS = ("apiserver", "kubelet", "containerd")


def _unhealthy(settings, cp_hosts, nodes, ctd_target):
    """``settings["unhealthy"]`` checked: ``{host: [component, ...]}`` in component order."""
    unhealthy = settings.get("unhealthy") or {}
    if not isinstance(unhealthy, dict):
        raise UpgradePlanError(
            "settings unhealthy must map inventory host names to component lists, got %r" % (unhealthy,)
        )
    out = {}
    for host, components in unhealthy.items():
        if isinstance(components, str) or not isinstance(components, (list, tuple)):
            raise UpgradePlanError("settings unhealthy %s must be a list of components, got %r" % (host, components))
        unknown = [c for c in components if c not in UNHEALTHY_COMPONENTS]
        if unknown:
            raise UpgradePlanError(
                "settings unhealthy %s names %r: the components that can be planned again are %s"
                % (host, unknown, ", ".join(UNHEALTHY_COMPONENTS))
            )
        for component in components:
            if component == "apiserver" and host not in cp_hosts:
                why = "it is not in control_plane_hosts"
            elif component != "apiserver" and host not in nodes:
                why = "it is not a node (no kubelet version read; not in control_plane_hosts or worker_hosts?)"
            elif component == "containerd" and ctd_target is None:
                why = "no containerd_version target is set (set it to the version the nodes should run)"
            else:
                continue
            raise UpgradePlanError("cannot plan %s again on %s (marked unhealthy): %s" % (component, host, why))
        if components:
            out[host] = [c for c in UNHEALTHY_COMPONENTS if c in components]
    order = cp_hosts + [h for h in nodes if h not in cp_hosts]
    return {h: out[h] for h in order if h in out}


def _check_etcd_supported(text, triple, kube_version, label, host=None):
    etcd_minor = "%d.%d" % triple[:2]
    kube_minor = kv.minor(kube_version)
    supported = SUPPORTED_ETCD.get(kube_minor, ())
    if etcd_minor not in supported:
        raise UpgradePlanError(
            "etcd %s%s does not work with Kubernetes %s (%s %s; supported etcd minors: %s): choose an etcd_version "
            "on one of them"
            % (text, " on %s" % host if host else "", kube_minor, label, kube_version, ", ".join(supported) or "none")
        )


def _summary(steps, skipped, to, minor_changes, forced):
    if not steps:
        return "nothing to do: every host runs the target versions"
    parts = []
    for phase, label in (("etcd", "etcd"), ("control_plane", "control plane"), ("workers", "workers")):
        mine = [s for s in steps if s["phase"] == phase]
        if not mine:
            continue
        hosts = []
        for s in mine:
            hosts.extend(h for h in s["hosts"] if h not in hosts)
        comps = [c for c in COMPONENT_ORDER if any(c in s["components"] for s in mine)]
        parts.append(
            "%s: %d step%s (%s) -> %s"
            % (
                label,
                len(mine),
                "" if len(mine) == 1 else "s",
                ", ".join(hosts),
                ", ".join("%s %s" % (c, to[c]) for c in comps),
            )
        )
    if minor_changes:
        parts.append("control-plane kubelets after every apiserver (minor upgrade)")
    if forced:
        parts.append(
            "planned again (unhealthy): %s"
            % ", ".join("%s %s" % (host, "+".join(components)) for host, components in forced.items())
        )
    if skipped:
        parts.append("already at target: %s" % ", ".join(skipped))
    return "; ".join(parts)
