"""Pure logic of the ``download`` role: from artifact descriptions to fetch plans.

An artifact is described once, by the role that owns it, with its upstream URL.
A mirror (``http(s)://`` or ``file://``) holds the same files under
``<mirror>/<upstream host>/<upstream path>``, so one variable switches a whole
cluster to an offline source.
"""

import posixpath
import re

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_REQUIRED = ("name", "version", "url")


class ArtifactError(ValueError):
    """An artifact description that cannot be fetched safely."""


def mirror_url(url: str, mirror: str) -> str:
    """Map an upstream URL onto ``mirror`` (scheme dropped, host kept as first path element)."""
    if not mirror:
        return url
    match = re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://(.+)$", url)
    if not match:
        raise ArtifactError("artifact URL %r has no scheme (expected https://...)" % url)
    return mirror.rstrip("/") + "/" + match.group(1)


def pin_key(url: str) -> str:
    """The key of ``download_pins`` for an artifact URL: the URL without scheme and query (``dl.k8s.io/release/...``),
    which is also the file's path in a mirror of the upstream layout."""
    match = re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://([^?#]+)", str(url))
    if not match:
        raise ArtifactError("artifact URL %r has no scheme (expected https://...)" % url)
    return match.group(1)


def _pinned(artifact, pins):
    """The artifact's sha256 from its own ``sha256`` or from ``pins``; '' when neither has one. Refuses a
    malformed sum and an artifact whose two sums differ."""
    own = str(artifact.get("sha256") or "").strip()
    if own and not _SHA256.match(own):
        raise ArtifactError("artifact %s: sha256 %r is not 64 hex characters" % (artifact["name"], own))
    key = pin_key(artifact["url"])
    pin = str((pins or {}).get(key) or "").strip()
    if pin and not _SHA256.match(pin):
        raise ArtifactError("download_pins[%s]: %r is not a sha256 (64 hex characters)" % (key, pin))
    if own and pin and own.lower() != pin.lower():
        raise ArtifactError(
            "artifact %s %s: its sha256 %s differs from download_pins[%s] %s: one of them is wrong"
            % (artifact["name"], artifact["version"], own.lower(), key, pin.lower())
        )
    return (own or pin).lower()


def _checksum(artifact, mirror, pins=None, require_pins=False):
    sha256 = _pinned(artifact, pins)
    if sha256:
        return "sha256:" + sha256
    if require_pins:
        raise ArtifactError(
            "artifact %s %s has no pinned sha256 and download_require_pins is true: add '%s: <sha256>' to "
            "download_pins (tools/build-artifacts.sh pins prints them for a mirror it built), or set "
            "download_require_pins: false to trust the mirror's checksum file"
            % (artifact["name"], artifact["version"], pin_key(artifact["url"]))
        )
    checksum_url = artifact.get("checksum_url")
    if not checksum_url:
        raise ArtifactError(
            "artifact %s: give either sha256 or checksum_url - nothing is installed unverified" % artifact["name"]
        )
    return "sha256:" + mirror_url(checksum_url, mirror)


def resolve(
    artifacts, mirror="", host_cache="/var/cache/kubesmith/downloads", controller_cache="", pins=None,
    require_pins=False,
) -> list[dict]:
    """Return one fetch plan per artifact.

    Each plan keeps the description and adds ``fetch_url``, ``checksum`` (the
    form ``ansible.builtin.get_url`` takes), ``filename``, ``host_path`` and,
    when ``controller_cache`` is set, ``controller_path``. An artifact with
    ``mirrored: false`` keeps its own URL (it already points at a private store). Paths carry name and
    version so two versions of one artifact live side by side (upgrades).

    The checksum is the artifact's ``sha256`` or its entry in ``pins`` (``download_pins``: :func:`pin_key` ->
    sha256): then a mirror that serves another file is refused even when its checksum file matches that file.
    Without either, the sha256 is read from ``checksum_url`` on the mirror; ``require_pins`` refuses that.
    """
    plans = []
    seen = set()
    for artifact in artifacts or []:
        missing = [key for key in _REQUIRED if not artifact.get(key)]
        if missing:
            raise ArtifactError("artifact %r lacks %s" % (artifact.get("name", artifact), ", ".join(missing)))
        name, version = str(artifact["name"]), str(artifact["version"])
        if not _NAME.match(name) or "/" in version or version in (".", ".."):
            raise ArtifactError("artifact name %r / version %r must be plain path components" % (name, version))
        if (name, version) in seen:
            raise ArtifactError("artifact %s %s is listed twice" % (name, version))
        seen.add((name, version))
        filename = posixpath.basename(artifact["url"].split("?", 1)[0])
        if not filename:
            raise ArtifactError("artifact %s: URL %r does not end in a file name" % (name, artifact["url"]))
        local_name = "%s-%s-%s" % (name, version, filename)
        plan = dict(artifact)
        plan.update(
            version=version,
            fetch_url=mirror_url(artifact["url"], mirror if artifact.get("mirrored", True) else ""),
            checksum=_checksum(artifact, mirror if artifact.get("mirrored", True) else "", pins, require_pins),
            filename=filename,
            host_path=posixpath.join(host_cache, local_name),
        )
        if controller_cache:
            plan["controller_path"] = posixpath.join(controller_cache, local_name)
        plans.append(plan)
    return plans


def install_spec(plans: list[dict]) -> list[dict]:
    """What ``kubesmith.cluster.install_artifacts`` needs from each plan."""
    keys = ("name", "version", "filename", "unpack", "strip_components", "mode", "links", "force")
    specs = []
    for plan in plans:
        if not plan.get("install", True):
            continue  # used from the download cache as it is (e.g. image tarballs to import)
        spec = {key: plan[key] for key in keys if key in plan}
        spec["src"] = plan["host_path"]
        if plan["checksum"].startswith("sha256:") and _SHA256.match(plan["checksum"][7:]):
            spec["sha256"] = plan["checksum"][7:]
        specs.append(spec)
    return specs


def cache_spec(plans: list[dict]) -> list[dict]:
    """The ``cache_files`` option of ``kubesmith.cluster.install_artifacts``: plans used from the cache as they are."""
    specs = []
    for plan in plans:
        if plan.get("install", True):
            continue
        spec = {"name": "%s %s" % (plan["name"], plan["version"]), "path": plan["host_path"]}
        if plan["checksum"].startswith("sha256:") and _SHA256.match(plan["checksum"][7:]):
            spec["sha256"] = plan["checksum"][7:]
        specs.append(spec)
    return specs


def missing_plans(plans: list[dict], results) -> list[dict]:
    """The plans whose host file an ``install_artifacts`` run (``report_missing``) listed in ``missing``.

    ``results`` is one registered result or a list of them (one per host: the union is taken, each plan once, in
    the order of ``plans``). Entries that are not results (a host that did not run the task: undefined, skipped or
    failed) add nothing. Files are matched by their cache file name (``<name>-<version>-<file name>``), so hosts
    with another ``download_host_cache`` still share one fetch.
    """
    if isinstance(results, dict) or not isinstance(results, (list, tuple)):
        results = [results]
    wanted = set()
    for result in results:
        try:
            missing = result.get("missing") or []
        except AttributeError:  # undefined, None
            continue
        for entry in missing:
            if isinstance(entry, dict) and entry.get("src"):
                wanted.add(posixpath.basename(entry["src"]))
    return [plan for plan in plans if posixpath.basename(plan["host_path"]) in wanted]


def listing(plans: list[dict]) -> list[dict]:
    """Every distinct file a set of fetch plans downloads, for filling a mirror (playbooks/artifacts.yml).

    One entry per fetched URL (hosts asking for the same artifact share it), sorted by name and version:
    ``name``, ``version``, ``url`` (upstream), ``fetch_url``, ``checksum_url`` (the file its sha256 is
    read from, '' when pinned), ``sha256`` (pinned, else '') and ``line``, a one-line summary.
    Two plans fetching one URL with different pinned sums are refused: one of them is wrong.
    """
    entries = {}
    for plan in plans or []:
        checksum = plan["checksum"][len("sha256:") :]
        pinned = checksum if _SHA256.match(checksum) else ""
        entry = {
            "name": plan["name"],
            "version": plan["version"],
            "url": plan["url"],
            "fetch_url": plan["fetch_url"],
            "checksum_url": "" if pinned else checksum,
            "sha256": pinned,
        }
        known = entries.setdefault(plan["fetch_url"], entry)
        if known != entry:
            raise ArtifactError(
                "%s is listed twice with different checksums (%s, %s)"
                % (plan["fetch_url"], known["sha256"] or known["checksum_url"], pinned or checksum)
            )
    result = []
    for entry in sorted(entries.values(), key=lambda e: (e["name"], e["version"], e["fetch_url"])):
        entry["line"] = "%s %s %s (sha256 %s)" % (
            entry["name"],
            entry["version"],
            entry["fetch_url"],
            entry["sha256"] or "from " + entry["checksum_url"],
        )
        result.append(entry)
    return result
