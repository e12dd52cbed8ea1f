# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The one table of what differs between the supported Kubernetes minors, and version parsing/comparison.

Pure Python (standard library only, Python 3.9+): usable from modules on target hosts, from filters and from
action plugins. Templates never test versions themselves: they call the renderers in ``kube_config`` (through the
``kubesmith.cluster.kube_*`` filters), which read :data:`TABLE`.

Supported minors: :data:`SUPPORTED_MINORS` (``1.20`` -- the only server version that can be built on the test
machines, so the end-to-end suite runs it -- and the three newest upstream minors ``1.35``, ``1.36``, ``1.37``).
:data:`DEFAULT_MINOR` is the newest.

Public interface::

    SUPPORTED_MINORS, DEFAULT_MINOR, TABLE {minor: MinorInfo}, COMPONENTS, REMOVED_SINCE_1_20
    parse_version(value, require_patch=True) -> KubeVersion(major, minor, patch, prerelease, build)
    compare(a, b) -> -1 | 0 | 1          minor(value) -> "1.20"          minor_distance(a, b) -> int
    supported(value, allow_prerelease=False) -> bool
    lookup(value, allow_prerelease=False) -> MinorInfo      (KubeVersionError when unsupported)
    removed_flags(value, component) -> tuple                as_dict(value) -> dict (the row)
    containerd_supported(kube_version, containerd_version) -> bool

Version strings accepted by :func:`parse_version`::

    v1.20.2   1.20.2   1.20.2+kubesmith.1   v1.37.0-rc.1   1.35.4-beta.0+build.7

* a leading ``v`` is optional;
* ``+<build>`` is build metadata: ``1.20.2+kubesmith.1`` is the same version (same line, same patch) as
  ``v1.20.2`` -- it compares equal and is :func:`supported` like it;
* ``-<pre-release>`` (``alpha.N``, ``beta.N``, ``rc.N``) parses and sorts before the release
  (``1.37.0-rc.1 < 1.37.0``), but :func:`supported` refuses it unless ``allow_prerelease=True``: we do not
  deploy pre-releases by accident;
* ``1.35`` (no patch) is accepted where only the minor matters (:func:`lookup`, :func:`minor`) and refused by
  :func:`parse_version` unless ``require_patch=False``.

How sure the table is (stated per minor in :attr:`MinorInfo.notes`):

* **1.20** -- checked against the v1.20.2 binaries built here and the reference single-host cluster
  (``--container-runtime=remote``, ``--insecure-port=0``, CRI v1alpha2, scheduler config v1beta1, kubelet
  refuses a loopback ``--node-ip``).
* **1.35** -- from upstream documentation: KubeletConfiguration still ``kubelet.config.k8s.io/v1beta1``,
  KubeProxyConfiguration still ``kubeproxy.config.k8s.io/v1alpha1``, scheduler config ``v1`` (GA since 1.25),
  ``apiserver.config.k8s.io/v1`` AuthenticationConfiguration with anonymous ``conditions``; kubelet refuses
  cgroup v1 hosts by default (``failCgroupV1: true``); the last minor that supports containerd 1.x.
* **1.36 / 1.37** -- NOT confirmed against their release notes (no source here showed a change to the
  fields below). The entries carry 1.35's values forward; the one thing confirmed from secondary sources is
  that containerd 2.0+ is required from 1.36. Re-check the flags listed in :data:`REMOVED_FLAGS` and the config
  apiVersions when an upstream changelog is at hand.
"""

from __future__ import absolute_import, annotations, division, print_function

__metaclass__ = type

import re
from collections import namedtuple

SUPPORTED_MINORS = ("1.20", "1.35", "1.36", "1.37")
DEFAULT_MINOR = "1.37"

COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy")


class KubeVersionError(ValueError):
    """A version string that cannot be parsed or is not supported; the message says what to use instead."""


# --------------------------------------------------------------------------------------------------------------
# Parsing and comparison
# --------------------------------------------------------------------------------------------------------------

_VERSION_RE = re.compile(
    r"^v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)(?:\.(?P<patch>0|[1-9]\d*))?"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)


class KubeVersion(namedtuple("KubeVersion", "major minor patch prerelease build")):
    """A parsed version. ``patch`` is None for a bare ``1.35``; ``prerelease`` is a tuple (empty for a release);
    ``build`` is the ``+`` metadata or ''. Use :func:`compare` to order versions (build metadata is ignored)."""

    __slots__ = ()

    @property
    def minor_str(self):
        return "%d.%d" % (self.major, self.minor)

    @property
    def is_prerelease(self):
        return bool(self.prerelease)

    def __str__(self):
        text = "v%d.%d" % (self.major, self.minor)
        if self.patch is not None:
            text += ".%d" % self.patch
        if self.prerelease:
            text += "-" + ".".join(str(p) for p in self.prerelease)
        if self.build:
            text += "+" + self.build
        return text


def parse_version(value, require_patch: bool = True) -> KubeVersion:
    """Parse ``v1.20.2``, ``1.20.2+kubesmith.1``, ``v1.37.0-rc.1`` (and ``1.35`` when ``require_patch`` is
    false) into a :class:`KubeVersion`; raise :class:`KubeVersionError` otherwise."""
    if isinstance(value, KubeVersion):
        if require_patch and value.patch is None:
            raise KubeVersionError("Kubernetes version %s has no patch number: use for example %s.0" % (value, value))
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise KubeVersionError("Kubernetes version %r is not a string such as v1.20.2" % (value,))
    if isinstance(value, float):
        raise KubeVersionError(
            "Kubernetes version %r is a number (YAML reads 1.20 as 1.2): quote it, for example '1.20' or 'v1.20.2'"
            % (value,)
        )
    text = str(value).strip()
    match = _VERSION_RE.match(text)
    if not match:
        raise KubeVersionError(
            "%r is not a Kubernetes version: use v<major>.<minor>.<patch>, for example v1.20.2 or 1.20.2+kubesmith.1"
            % (value,)
        )
    patch = match.group("patch")
    if patch is None and require_patch:
        raise KubeVersionError(
            "Kubernetes version %r has no patch number: use a full release such as %s.0" % (value, text)
        )
    pre = match.group("pre")
    prerelease = tuple(int(p) if p.isdigit() else p for p in pre.split(".")) if pre else ()
    return KubeVersion(
        int(match.group("major")),
        int(match.group("minor")),
        None if patch is None else int(patch),
        prerelease,
        match.group("build") or "",
    )


def _pre_key(prerelease):
    # SemVer 2.0 precedence: a release sorts after its pre-releases; numeric identifiers sort before alphanumeric.
    if not prerelease:
        return (1,)
    return (0,) + tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in prerelease)


def _key(version):
    return (version.major, version.minor, version.patch or 0, _pre_key(version.prerelease))


def compare(a: str | KubeVersion, b: str | KubeVersion) -> int:
    """-1, 0 or 1 as version ``a`` is older than, the same as, or newer than ``b`` (build metadata ignored;
    a missing patch counts as 0)."""
    ka, kb = _key(parse_version(a, require_patch=False)), _key(parse_version(b, require_patch=False))
    return (ka > kb) - (ka < kb)


def minor(value: str | KubeVersion) -> str:
    """``'v1.20.2+kubesmith.1'`` -> ``'1.20'``."""
    return parse_version(value, require_patch=False).minor_str


def minor_distance(a: str | KubeVersion, b: str | KubeVersion) -> int:
    """How many minors ``b`` is ahead of ``a`` (negative when behind); majors must match."""
    va, vb = parse_version(a, require_patch=False), parse_version(b, require_patch=False)
    if va.major != vb.major:
        raise KubeVersionError("cannot compare minors across major versions (%s, %s)" % (va, vb))
    return vb.minor - va.minor


def supported(value, allow_prerelease: bool = False) -> bool:
    """True when ``value`` parses, is on a supported minor and (unless allowed) is not a pre-release."""
    try:
        version = parse_version(value, require_patch=False)
    except KubeVersionError:
        return False
    if version.is_prerelease and not allow_prerelease:
        return False
    return version.minor_str in TABLE


def lookup(value: str | KubeVersion, allow_prerelease: bool = False) -> MinorInfo:
    """The :class:`MinorInfo` for ``value`` (a full version or a bare minor such as ``'1.35'``).

    Raises :class:`KubeVersionError` naming the supported minors when the version is not supported."""
    version = parse_version(value, require_patch=False)
    if version.is_prerelease and not allow_prerelease:
        raise KubeVersionError(
            "Kubernetes %s is a pre-release; kubesmith deploys releases only (supported minors: %s)"
            % (version, ", ".join(SUPPORTED_MINORS))
        )
    info = TABLE.get(version.minor_str)
    if info is None:
        raise KubeVersionError(
            "Kubernetes %s is not supported: kubesmith supports the minors %s (newest: %s); "
            "set kube_version to a release of one of them" % (version, ", ".join(SUPPORTED_MINORS), DEFAULT_MINOR)
        )
    return info


# --------------------------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------------------------

# Flags the renderers must never emit for a minor, per component: present in 1.20, gone by 1.35.
# (Removal release in the comment; only 1.20 and 1.35+ are supported, so the exact minor in between does not
# change what is rendered.)
_KLOG_FLAGS = (
    # klog flags removed from every component in 1.26 (KEP-2845); use --v and journald.
    "--logtostderr",
    "--alsologtostderr",
    "--log-dir",
    "--log-file",
    "--log-file-max-size",
    "--one-output",
    "--skip-headers",
    "--skip-log-headers",
    "--stderrthreshold",
    "--add-dir-header",
)

REMOVED_SINCE_1_20 = {
    "kube-apiserver": (
        "--insecure-port",  # removed 1.24 (insecure serving)
        "--insecure-bind-address",  # removed 1.24
        "--port",  # removed 1.24 (alias of --insecure-port)
        "--address",  # removed 1.24 (alias of --insecure-bind-address)
        "--kubelet-https",  # removed 1.22
    )
    + _KLOG_FLAGS,
    "kube-controller-manager": (
        "--port",  # insecure serving, removed by 1.24
        "--address",
    )
    + _KLOG_FLAGS,
    "kube-scheduler": (
        "--port",  # insecure serving, removed by 1.24
        "--address",
    )
    + _KLOG_FLAGS,
    "kubelet": (
        "--container-runtime",  # removed 1.27 (only 'remote' was left after dockershim went in 1.24)
        "--network-plugin",  # dockershim flags, removed 1.24
        "--cni-bin-dir",
        "--cni-conf-dir",
        "--cni-cache-dir",
        "--network-plugin-mtu",
        "--docker-endpoint",
    )
    + _KLOG_FLAGS,
    "kube-proxy": _KLOG_FLAGS,
}

_NO_REMOVED = {component: () for component in COMPONENTS}


class MinorInfo(
    namedtuple(
        "MinorInfo",
        [
            "minor",
            # config API versions
            "kubelet_config_api",  # KubeletConfiguration
            "kube_proxy_config_api",  # KubeProxyConfiguration
            "scheduler_config_api",  # KubeSchedulerConfiguration
            "encryption_config_api",  # EncryptionConfiguration
            "audit_policy_api",  # audit Policy
            "authentication_config_api",  # AuthenticationConfiguration with anonymous.conditions, None: n/a
            # container runtime
            "cri_api",  # CRI API the kubelet speaks: v1alpha2 (<=1.22 only) or v1
            "containerd_versions",  # containerd version prefixes that work with this kubelet ("1.7.", "2.")
            "kubelet_container_runtime_flag",  # --container-runtime=remote must be given (1.20)
            "kubelet_runtime_endpoint_in_config",  # containerRuntimeEndpoint in KubeletConfiguration (1.27+)
            "kubelet_taints_in_config",  # registerWithTaints in KubeletConfiguration (else --register-with-taints)
            "kubelet_fail_cgroup_v1_default",  # kubelet refuses cgroup v1 hosts unless failCgroupV1: false
            # control plane
            "apiserver_insecure_port_flag",  # --insecure-port exists (and must be 0)
            "component_insecure_port_flag",  # kube-controller-manager/kube-scheduler --port exists (must be 0)
            "scheduler_uses_config_file",  # kube-scheduler runs from --config (else from flags, see 1.20 notes)
            "encryption_config_automatic_reload",  # --encryption-provider-config-automatic-reload exists
            "removed_flags",  # {component: flags that must never be rendered for this minor}
            "feature_gates",  # feature gates the renderers set explicitly ({} : defaults are relied on)
            "confirmed",  # True: checked against binaries/docs; False: carried forward, see notes
            "notes",
        ],
    )
):
    """One row of :data:`TABLE`. Fields are documented where the namedtuple is declared."""

    __slots__ = ()


_V1_20 = MinorInfo(
    minor="1.20",
    kubelet_config_api="kubelet.config.k8s.io/v1beta1",
    kube_proxy_config_api="kubeproxy.config.k8s.io/v1alpha1",
    scheduler_config_api="kubescheduler.config.k8s.io/v1beta1",
    encryption_config_api="apiserver.config.k8s.io/v1",
    audit_policy_api="audit.k8s.io/v1",
    authentication_config_api=None,
    cri_api="v1alpha2",
    containerd_versions=("1.5.", "1.6.", "1.7."),  # containerd 2.x dropped CRI v1alpha2
    kubelet_container_runtime_flag=True,
    kubelet_runtime_endpoint_in_config=False,
    kubelet_taints_in_config=False,
    kubelet_fail_cgroup_v1_default=False,
    apiserver_insecure_port_flag=True,
    component_insecure_port_flag=True,
    scheduler_uses_config_file=False,
    encryption_config_automatic_reload=False,
    removed_flags=_NO_REMOVED,
    feature_gates={},
    confirmed=True,
    notes=(
        "v1.20.2 built from Debian bookworm's kubernetes source; the end-to-end suite runs it.",
        "kubelet: --container-runtime=remote --container-runtime-endpoint=<socket> (flags; no config field).",
        "kube-apiserver: --insecure-port=0; kube-controller-manager/kube-scheduler: --port=0 (insecure ports "
        "default to on in 1.20).",
        "kubelet refuses a loopback --node-ip: use the host's real address.",
        "kube-scheduler runs from flags (--kubeconfig, --leader-elect, --port=0): with --config, 1.20 takes its "
        "insecure port from the file's healthzBindAddress/metricsBindAddress and ignores --port, and v1beta1 "
        "defaulting turns an empty address back into 0.0.0.0:10251 (cmd/kube-scheduler/app/options, "
        "pkg/scheduler/apis/config/v1beta1/defaults.go), so the insecure port cannot be closed with a file.",
        "CRI v1alpha2 only: containerd 1.5-1.7, never 2.x.",
        "Service-account tokens: --service-account-issuer and --service-account-signing-key-file are required.",
        "Feature gates relied on: none set. Defaults seen in the v1.20.2 --help: BoundServiceAccountTokenVolume "
        "alpha/off (pods get secret-based service-account tokens), ServiceAccountIssuerDiscovery beta/on, "
        "RotateKubeletServerCertificate beta/on (unused: serverTLSBootstrap is false).",
    ),
)

_V1_35 = MinorInfo(
    minor="1.35",
    kubelet_config_api="kubelet.config.k8s.io/v1beta1",
    kube_proxy_config_api="kubeproxy.config.k8s.io/v1alpha1",
    scheduler_config_api="kubescheduler.config.k8s.io/v1",
    encryption_config_api="apiserver.config.k8s.io/v1",
    audit_policy_api="audit.k8s.io/v1",
    authentication_config_api="apiserver.config.k8s.io/v1",
    cri_api="v1",
    containerd_versions=("1.7.", "2."),  # 1.35 is the last minor supporting containerd 1.x
    kubelet_container_runtime_flag=False,
    kubelet_runtime_endpoint_in_config=True,
    kubelet_taints_in_config=True,
    kubelet_fail_cgroup_v1_default=True,
    apiserver_insecure_port_flag=False,
    component_insecure_port_flag=False,
    scheduler_uses_config_file=True,
    encryption_config_automatic_reload=True,
    removed_flags=REMOVED_SINCE_1_20,
    feature_gates={},
    confirmed=True,
    notes=(
        "kubelet refuses to start on a cgroup v1 host unless KubeletConfiguration failCgroupV1 is false.",
        "Last minor that supports containerd 1.x (1.7); upgrade containerd to 2.x before going to 1.36.",
        "AuthenticationConfiguration (apiserver.config.k8s.io/v1) can allow anonymous requests to health "
        "endpoints only (anonymous.conditions, KEP-4633, stable since 1.34); it replaces --anonymous-auth.",
        "--encryption-provider-config-automatic-reload (since 1.26): key rotation without restarting.",
        "kube-proxy: IPVS mode deprecated (nftables is the successor); kubesmith uses iptables.",
    ),
)

_CARRIED = (
    "NOT confirmed against the upstream changelog of this minor: values carried forward from 1.35 "
    "(config apiVersions, flags).",
)

_V1_36 = _V1_35._replace(
    minor="1.36",
    containerd_versions=("2.",),  # containerd 1.x no longer supported (secondary sources)
    confirmed=False,
    notes=_CARRIED
    + (
        "containerd 2.0+ required (containerd 1.x support ended with 1.35).",
        "kube-apiserver /readyz waits for the watch cache to initialise (reported for 1.36, secondary source): "
        "allow readiness waits and load-balancer checks a longer start.",
        "kubelet refuses cgroup v1 hosts by default (since 1.35).",
    ),
)

_V1_37 = _V1_36._replace(minor="1.37")

TABLE = {info.minor: info for info in (_V1_20, _V1_35, _V1_36, _V1_37)}

if tuple(TABLE) != SUPPORTED_MINORS:  # pragma: no cover - a table edit must keep the two in step
    raise RuntimeError("kube_versions.TABLE and SUPPORTED_MINORS disagree")


def containerd_supported(kube_version: str | KubeVersion, containerd_version: str) -> bool:
    """True when ``containerd_version`` (``1.7.24``, ``v2.0.1``, ``1.6.20~ds1-1``) is on a containerd line that
    works with ``kube_version``'s kubelet (see ``containerd_versions`` in the table)."""
    text = str(containerd_version).strip().lstrip("v")
    if not re.match(r"^\d+\.\d+\.", text):
        raise KubeVersionError("%r is not a containerd version such as 1.7.24" % (containerd_version,))
    return text.startswith(lookup(kube_version).containerd_versions)


def removed_flags(value: str | KubeVersion, component: str) -> tuple[str, ...]:
    """The flags of ``component`` that do not exist in ``value``'s minor (tuple, possibly empty)."""
    if component not in COMPONENTS:
        raise KubeVersionError("unknown component %r (one of %s)" % (component, ", ".join(COMPONENTS)))
    return lookup(value).removed_flags.get(component, ())


def as_dict(value: str | KubeVersion) -> dict:
    """The table row of ``value`` as a plain dict (for templates and ``debug`` output)."""
    info = lookup(value)
    out = info._asdict()
    out["removed_flags"] = {k: list(v) for k, v in info.removed_flags.items()}
    out["containerd_versions"] = list(info.containerd_versions)
    out["notes"] = list(info.notes)
    out["feature_gates"] = dict(info.feature_gates)
    return out
