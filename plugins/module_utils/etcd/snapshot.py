# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""etcd snapshot files and restores (standard library only).

- :func:`verify_snapshot`: the sha256 trailer etcd appends, plus a bbolt read (``etcd/bbolt.py``) for the revision;
- :func:`snapshot_name`, :func:`snapshots_to_prune`: time-ordered names in a backup directory;
- :func:`restore_plan_errors`, :func:`restore_command`: the ``etcdutl``/``etcdctl snapshot restore`` flags.
"""

from __future__ import absolute_import, annotations, division, print_function

import binascii
import datetime
import hashlib
import os
import re
import struct

from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.bbolt import Bolt, SnapshotError

SNAPSHOT_SHA_SIZE = 32


def verify_snapshot(path: str, chunk_size: int = 1 << 20) -> dict:
    """Check an etcd snapshot file; return ``{"size", "sha256", "db_sha256", "revision", "has_hash"}``.

    A snapshot saved from the v3 API (this module or ``etcdctl snapshot save``) is the bbolt database followed
    by the sha256 of the database (32 bytes; the database itself is a multiple of 512 bytes). The trailer is
    checked, and the database's meta pages (magic and FNV checksum) are read to find the revision: the newest key
    of the ``key`` bucket or the finished compaction revision, whichever is newer. The file is read in chunks,
    never whole into memory. Raises :class:`SnapshotError`.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed in the finally below
    except OSError as exc:
        raise SnapshotError("cannot read %s: %s" % (path, exc.strerror or exc)) from exc
    try:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise SnapshotError("%s is empty" % path)
        has_hash = size % 512 == SNAPSHOT_SHA_SIZE
        db_size = size - SNAPSHOT_SHA_SIZE if has_hash else size
        file_hash, db_hash = hashlib.sha256(), hashlib.sha256()
        done = 0
        while True:
            chunk = handle.read(chunk_size)
            if not chunk:
                break
            file_hash.update(chunk)
            if done < db_size:
                db_hash.update(chunk[: db_size - done])
            done += len(chunk)
        db_sha = db_hash.hexdigest()
        if has_hash:
            handle.seek(db_size)
            trailer = binascii.hexlify(handle.read(SNAPSHOT_SHA_SIZE)).decode()
            if trailer != db_sha:
                raise SnapshotError(
                    "%s: the sha256 trailer does not match the database (%s != %s): the snapshot is corrupt"
                    % (path, trailer, db_sha)
                )

        def read(offset, length):
            length = max(0, min(length, db_size - offset))
            handle.seek(offset)
            return handle.read(length)

        try:
            bolt = Bolt(read, db_size)
            keys = bolt.bucket(b"key")
            if keys is None:
                raise SnapshotError("no 'key' bucket: not an etcd v3 database")
            last = bolt.last_key(keys)
            meta = bolt.bucket(b"meta")
            compacted = bolt.get(meta, b"finishedCompactRev") if meta is not None else None
        except (struct.error, IndexError) as exc:
            raise SnapshotError("%s: the database structure is damaged (%s)" % (path, exc)) from exc
        except SnapshotError as exc:
            raise SnapshotError("%s: %s" % (path, exc)) from exc
    finally:
        handle.close()
    revision = 0
    for raw in (last, compacted):
        if raw and len(raw) >= 8:
            revision = max(revision, struct.unpack(">Q", raw[:8])[0])
    return {
        "size": size,
        "sha256": file_hash.hexdigest(),
        "db_sha256": db_sha,
        "revision": revision,
        "has_hash": has_hash,
    }


SNAPSHOT_TIME_FORMAT = "%Y%m%dT%H%M%S"


def snapshot_name(prefix: str, now: datetime.datetime | None = None) -> str:
    """``<prefix>-YYYYmmddTHHMMSS.mmmZ.db`` in UTC: names sort in time order."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return "%s-%s.%03dZ.db" % (prefix, now.strftime(SNAPSHOT_TIME_FORMAT), now.microsecond // 1000)


def snapshot_pattern(prefix: str) -> re.Pattern:
    return re.compile(r"^%s-[0-9]{8}T[0-9]{6}\.[0-9]{3}Z\.db$" % re.escape(prefix))


def snapshots_to_prune(names: list[str], prefix: str, keep: int) -> list[str]:
    """Of the file ``names`` in a directory, the snapshots of ``prefix`` beyond the newest ``keep`` (0: none)."""
    if not keep or keep < 0:
        return []
    pattern = snapshot_pattern(prefix)
    ours = sorted(n for n in names if pattern.match(n))
    return ours[: max(0, len(ours) - keep)]


def parse_initial_cluster(value: str) -> list[tuple[str, str]]:
    """``"a=https://h1:2380,b=https://h2:2380"`` -> ``[("a", url), ...]``; raises ``ValueError`` on bad entries."""
    pairs = []
    for part in (value or "").split(","):
        name, sep, url = part.strip().partition("=")
        if not sep or not name or not re.match(r"^https?://\S+$", url):
            raise ValueError("initial_cluster entry %r is not name=scheme://host:port" % part.strip())
        pairs.append((name, url))
    if not pairs:
        raise ValueError("initial_cluster is empty")
    return pairs


def restore_plan_errors(name: str, initial_cluster: str, peer_urls: list[str]) -> list[str]:
    """Why a restore with these flags would produce a member that cannot start (empty list when consistent)."""
    try:
        pairs = parse_initial_cluster(initial_cluster)
    except ValueError as exc:
        return [str(exc)]
    errors = []
    mine = sorted(url for n, url in pairs if n == name)
    if not mine:
        errors.append("name %s is not in initial_cluster (%s)" % (name, ", ".join(sorted({n for n, _ in pairs}))))
    elif mine != sorted(set(peer_urls)):
        errors.append(
            "initial_cluster gives %s the peer URLs %s but initial_advertise_peer_urls is %s: they must be the same"
            % (name, ", ".join(mine), ", ".join(sorted(set(peer_urls))))
        )
    owners = {}
    for n, url in pairs:
        owners.setdefault(url, set()).add(n)
    shared = sorted(url for url, names in owners.items() if len(names) > 1)
    if shared:
        errors.append("peer URL(s) %s appear under more than one name in initial_cluster" % ", ".join(shared))
    return errors


def restore_command(
    tool: str, src: str, data_dir: str, name: str, initial_cluster: str, token: str, peer_urls: list[str]
) -> list[str]:
    """The ``etcdutl``/``etcdctl snapshot restore`` command line (same flags in 3.4 etcdctl and 3.5+ etcdutl)."""
    return [
        tool,
        "snapshot",
        "restore",
        src,
        "--name=" + name,
        "--initial-cluster=" + initial_cluster,
        "--initial-cluster-token=" + token,
        "--initial-advertise-peer-urls=" + ",".join(peer_urls),
        "--data-dir=" + data_dir,
    ]
