#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

import datetime
import hashlib
import json
import os
import shutil
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.api import EtcdError
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.args import ETCD_TLS_SPEC
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.client import EtcdClient
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.snapshot import (
    SnapshotError,
    restore_command,
    restore_plan_errors,
    snapshot_name,
    snapshots_to_prune,
    verify_snapshot,
)
from ansible_collections.kubesmith.cluster.plugins.module_utils.etcd.transport import TlsConfig

DOCUMENTATION = r"""
---
module: etcd_snapshot
short_description: Save verified etcd snapshots with retention, and prepare a member's data directory from one
description:
  - Runs on an etcd host (or any host that reaches a client URL) with the Python standard library only.
  - "O(state=saved) streams a snapshot from one member through the v3 gateway (C(POST /v3/maintenance/snapshot))
    into O(dest_dir)/<O(name_prefix)>-<UTC time>.db (mode O(mode)), checks it and applies the retention O(keep).
    Why the gateway and not C(etcdctl snapshot save): it needs no client binary of a matching version on the host
    (C(etcdctl snapshot save) moved to C(etcdutl) in 3.5 and works differently across 3.4 to 3.6), uses the same
    TLS options as M(kubesmith.cluster.etcd_member), and gives the module every byte of the stream to hash and
    check. The saved file has the same format as C(etcdctl snapshot save) writes: the bbolt database followed by
    the sha256 of the database that etcd appends to the stream."
  - "Integrity check of a saved snapshot, before it gets its final name: the number of bytes and the sha256 of
    the file on disk equal those of the streamed bytes; the trailing sha256 equals the sha256 of the database;
    the bbolt meta pages are valid and the database has etcd's C(key) bucket, from which the revision is read.
    With O(etcdctl_path) or O(etcdutl_path), C(snapshot status) is run on it as well. A snapshot that fails any
    check is deleted and the task fails; older snapshots are only pruned after a new one passed."
  - "O(state=restored) prepares O(data_dir) for one member from a snapshot with C(etcdutl snapshot restore)
    (etcd 3.5+, O(etcdutl_path)) or C(etcdctl snapshot restore) (3.4, O(etcdctl_path)) and the member's
    O(name), O(initial_cluster), O(initial_cluster_token) and O(initial_advertise_peer_urls). The snapshot is
    verified first. The restore goes to a temporary directory next to O(data_dir) and is renamed into place.
    An existing non-empty O(data_dir) is refused unless O(force=true), which moves it aside to
    C(<data_dir>.pre-restore-<UTC time>) (returned as RV(previous_data_dir); remove it once the cluster is
    healthy). Stop etcd on the host first; restore every member from the same snapshot with the same new
    O(initial_cluster_token), then start them all."
version_added: 0.1.0
author:
  - kubesmith maintainers
extends_documentation_fragment:
  - kubesmith.cluster.etcd_tls
options:
  state:
    description:
      - V(saved) takes a new snapshot (every run, so it always reports a change).
      - V(restored) writes a new O(data_dir) from O(src).
    type: str
    choices: [saved, restored]
    default: saved
  endpoints:
    description:
      - Client URLs; the snapshot is taken from the first one that answers with a leader and without errors
        (see O(require_leader)). Point it at the local member to keep the transfer on the host.
    type: list
    elements: str
    default: [https://127.0.0.1:2379]
  timeout:
    description:
      - Seconds to wait for the connection and for each read of the stream (not for the whole snapshot).
    type: float
    default: 30
  require_leader:
    description:
      - Take the snapshot only from a member that has a leader and reports no errors (alarms).
      - V(false) allows a snapshot from a member of a cluster that lost quorum, to recover from the last
        surviving member; its data may miss the latest writes.
    type: bool
    default: true
  dest_dir:
    description:
      - Directory for the snapshots (created with mode 0700 when missing). Required for O(state=saved).
    type: path
  name_prefix:
    description:
      - File names are C(<name_prefix>-YYYYmmddTHHMMSS.mmmZ.db) in UTC, so they sort in time order.
    type: str
    default: etcd-snapshot
  keep:
    description:
      - Keep this many snapshots of O(name_prefix) in O(dest_dir), counting the new one; older ones (and their
        C(.sha256) files) are removed. V(0) keeps all. Other files are never touched.
    type: int
    default: 0
  mode:
    description:
      - Permissions of the snapshot file. Snapshots contain every secret of the cluster.
    type: str
    default: "0600"
  checksum_file:
    description:
      - Also write C(<snapshot>.sha256) in C(sha256sum) format, to check copies taken off the host.
    type: bool
    default: true
  etcdctl_path:
    description:
      - Path of C(etcdctl). Used for C(snapshot status) after saving (etcd 3.4; 3.5 prints a deprecation warning)
        and for restoring when O(etcdutl_path) is not given (3.4 only, removed in 3.6).
    type: path
  etcdutl_path:
    description:
      - Path of C(etcdutl) (etcd 3.5+). Preferred over O(etcdctl_path) for C(snapshot status) and restore.
    type: path
  src:
    description:
      - Snapshot file to restore from. Required for O(state=restored).
    type: path
  data_dir:
    description:
      - etcd C(--data-dir) to create. Required for O(state=restored).
    type: path
  name:
    description:
      - Member name (etcd C(--name)) of this host. Required for O(state=restored).
    type: str
  initial_cluster:
    description:
      - etcd C(--initial-cluster) of the restored cluster, C(name=peer URL) pairs separated by commas; must contain
        O(name) with O(initial_advertise_peer_urls). Required for O(state=restored).
    type: str
  initial_cluster_token:
    description:
      - etcd C(--initial-cluster-token) of the restored cluster; use a new token per restore, the same on every
        member. Required for O(state=restored).
    type: str
  initial_advertise_peer_urls:
    description:
      - This member's peer URLs (etcd C(--initial-advertise-peer-urls)). Required for O(state=restored).
    type: list
    elements: str
  force:
    description:
      - With O(state=restored), move an existing non-empty O(data_dir) aside instead of failing.
    type: bool
    default: false
  owner:
    description:
      - With O(state=restored), owner of the restored O(data_dir) and everything in it (the user etcd runs as).
    type: str
  group:
    description:
      - With O(state=restored), group of the restored O(data_dir) and everything in it.
    type: str
notes:
  - Check mode reports what would be done. For O(state=saved) it checks that an endpoint answers and lists the
    snapshots that would be pruned; for O(state=restored) it verifies the snapshot and the flags and returns the
    command.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
seealso:
  - module: kubesmith.cluster.etcd_member
"""

EXAMPLES = r"""
- name: Etcd | snapshot the local member, keep the last 7
  kubesmith.cluster.etcd_snapshot:
    ca_cert: /etc/etcd/pki/ca.crt
    client_cert: /etc/etcd/pki/healthcheck-client.crt
    client_key: /etc/etcd/pki/healthcheck-client.key
    dest_dir: /var/backups/etcd
    keep: 7
  register: __etcd_snapshot

- name: Etcd | fetch it to the controller
  ansible.builtin.fetch:
    src: "{{ __etcd_snapshot.path }}"
    dest: "backups/{{ inventory_hostname }}/"
    flat: true

- name: Etcd | prepare the data dir from the snapshot (etcd stopped)
  kubesmith.cluster.etcd_snapshot:
    state: restored
    src: /var/backups/etcd/etcd-snapshot-20260102T030405.678Z.db
    etcdutl_path: /usr/local/bin/etcdutl
    data_dir: /var/lib/etcd
    name: "{{ inventory_hostname }}"
    initial_cluster: etcd1=https://10.0.0.11:2380,etcd2=https://10.0.0.12:2380,etcd3=https://10.0.0.13:2380
    initial_cluster_token: "restore-{{ restore_id }}"
    initial_advertise_peer_urls: ["https://{{ etcd_address }}:2380"]
    owner: etcd
    group: etcd
    force: true
"""

RETURN = r"""
path:
  description: The saved snapshot (O(state=saved); the planned path in check mode) or the restored O(src).
  returned: success
  type: str
  sample: /var/backups/etcd/etcd-snapshot-20260102T030405.678Z.db
size:
  description: Snapshot size in bytes (database plus the 32-byte sha256 trailer).
  returned: success, not in check mode for state=saved
  type: int
sha256:
  description: sha256 of the whole snapshot file.
  returned: success, not in check mode for state=saved
  type: str
db_sha256:
  description: sha256 of the database part (what the trailer holds).
  returned: success, not in check mode for state=saved
  type: str
revision:
  description: etcd revision contained in the snapshot, read from the database.
  returned: success, not in check mode for state=saved
  type: int
endpoint:
  description: Endpoint the snapshot was taken from.
  returned: state=saved
  type: str
member_id:
  description: ID (decimal) of the member the snapshot was taken from.
  returned: state=saved
  type: str
checksum_file:
  description: Path of the C(.sha256) file.
  returned: state=saved and checksum_file=true
  type: str
pruned:
  description: Snapshot files removed by the retention (would be removed, in check mode).
  returned: state=saved
  type: list
  elements: str
tool_status:
  description: C(snapshot status -w json) of etcdutl/etcdctl (hash, revision, totalKey, totalSize).
  returned: state=saved with etcdctl_path or etcdutl_path
  type: dict
data_dir:
  description: The restored data directory.
  returned: state=restored
  type: str
previous_data_dir:
  description: Where the former O(data_dir) was moved (O(force=true)); empty when there was none.
  returned: state=restored
  type: str
command:
  description: The restore command line.
  returned: state=restored
  type: list
  elements: str
"""


def _utc_stamp():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _tool(params, module):
    """``(path, kind)`` of the snapshot tool, or ``(None, None)``."""
    for option in ("etcdutl_path", "etcdctl_path"):
        path = params[option]
        if path:
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                module.fail_json(msg="%s %s is not an executable file" % (option, path))
            return path, option.split("_")[0]
    return None, None


def _tool_status(module, tool, path):
    rc, out, err = module.run_command(
        [tool, "snapshot", "status", path, "-w", "json"], environ_update={"ETCDCTL_API": "3"}
    )
    if rc != 0:
        raise SnapshotError("%s snapshot status failed on the new snapshot (rc=%d): %s" % (tool, rc, err.strip()))
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise SnapshotError("%s snapshot status printed no JSON: %r" % (tool, out[:300])) from exc


def _pick_endpoint(params, tls):
    """The first endpoint whose member answers status (with a leader and no errors when require_leader)."""
    errors = []
    for endpoint in params["endpoints"]:
        client = EtcdClient(endpoint, tls, params["timeout"])
        try:
            status = client.status(timeout=min(params["timeout"], 5.0))
        except EtcdError as exc:
            if exc.kind == "config":
                raise
            errors.append(str(exc))
            continue
        if params["require_leader"] and (status["errors"] or not status["leader"]):
            errors.append(
                "%s: %s (require_leader=false takes the snapshot anyway)"
                % (endpoint, "; ".join(status["errors"]) or "no leader")
            )
            continue
        return client, status
    raise EtcdError("no endpoint to take the snapshot from: %s" % "; ".join(errors), kind="unavailable")


def _save(module, result):
    p = module.params
    dest = p["dest_dir"]
    try:
        mode = int(p["mode"], 8)
    except ValueError:
        module.fail_json(msg="mode %r is not an octal permission string like 0600" % p["mode"])
    if os.path.exists(dest) and not os.path.isdir(dest):
        module.fail_json(msg="dest_dir %s exists and is not a directory" % dest)
    tls = TlsConfig(p["ca_cert"], p["client_cert"], p["client_key"])
    tls.context()  # certificate problems fail here, once, before any endpoint is tried
    client, status = _pick_endpoint(p, tls)
    name = snapshot_name(p["name_prefix"])
    final = os.path.join(dest, name)
    existing = os.listdir(dest) if os.path.isdir(dest) else []
    result.update(endpoint=client.endpoint, member_id=status["member_id"], path=final, changed=module.check_mode)
    result["pruned"] = [
        os.path.join(dest, n) for n in snapshots_to_prune(existing + [name], p["name_prefix"], p["keep"])
    ]
    if module.check_mode:
        return
    tool, _kind = _tool(p, module)
    if not os.path.isdir(dest):
        os.makedirs(dest, 0o700)
    partial = os.path.join(dest, ".%s.partial" % name)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    streamed = hashlib.sha256()
    started = time.monotonic()
    try:
        with os.fdopen(fd, "wb") as handle:

            def write(blob):
                streamed.update(blob)
                handle.write(blob)

            count = client.snapshot(write)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(partial, mode)
        info = verify_snapshot(partial)
        if info["size"] != count or info["sha256"] != streamed.hexdigest():
            raise SnapshotError(
                "the file on disk (%d bytes, sha256 %s) differs from the %d bytes streamed (sha256 %s)"
                % (info["size"], info["sha256"], count, streamed.hexdigest())
            )
        if not info["has_hash"]:
            raise SnapshotError("the stream carried no sha256 trailer (%d bytes): not an etcd v3 snapshot" % count)
        if tool:
            result["tool_status"] = _tool_status(module, tool, partial)
        os.rename(partial, final)
        result["changed"] = True
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise
    _fsync_dir(dest)
    result.update(
        size=info["size"],
        sha256=info["sha256"],
        db_sha256=info["db_sha256"],
        revision=info["revision"],
        seconds=round(time.monotonic() - started, 3),
    )
    if p["checksum_file"]:
        sidecar = final + ".sha256"
        with open(sidecar, "w") as handle:
            handle.write("%s  %s\n" % (info["sha256"], name))
        os.chmod(sidecar, 0o644)
        result["checksum_file"] = sidecar
    for path in result["pruned"]:
        for victim in (path, path + ".sha256"):
            if os.path.lexists(victim):
                os.unlink(victim)


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _restore(module, result):
    p = module.params
    src, data_dir = p["src"], os.path.normpath(p["data_dir"])
    try:
        info = verify_snapshot(src)
    except SnapshotError as exc:
        module.fail_json(msg="refusing to restore: %s" % exc)
    peer_urls = sorted(set(p["initial_advertise_peer_urls"]))
    errors = restore_plan_errors(p["name"], p["initial_cluster"], peer_urls)
    if errors:
        module.fail_json(msg="inconsistent restore flags: %s" % "; ".join(errors))
    tool, _kind = _tool(p, module)
    if not tool:
        module.fail_json(msg="state=restored needs etcdutl_path (etcd 3.5+) or etcdctl_path (etcd 3.4)")
    result.update(path=src, size=info["size"], sha256=info["sha256"], db_sha256=info["db_sha256"])
    result.update(revision=info["revision"], data_dir=data_dir, previous_data_dir="")
    if os.path.lexists(data_dir) and not os.path.isdir(data_dir):
        module.fail_json(msg="data_dir %s exists and is not a directory" % data_dir)
    occupied = os.path.isdir(data_dir) and bool(os.listdir(data_dir))
    if occupied and not p["force"]:
        module.fail_json(
            msg="data_dir %s is not empty (the data of an etcd member): stop etcd and set force=true to move it "
            "aside to %s.pre-restore-<time>, or remove it yourself" % (data_dir, data_dir),
            **result,
        )
    parent = os.path.dirname(data_dir) or "."
    cmd = restore_command(
        tool,
        src,
        os.path.join(parent, ".<tmp>", "data"),
        p["name"],
        p["initial_cluster"],
        p["initial_cluster_token"],
        peer_urls,
    )
    result.update(command=cmd, changed=module.check_mode)
    if module.check_mode:
        if occupied:
            result["previous_data_dir"] = "%s.pre-restore-<time>" % data_dir
        return
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755)
    work = tempfile.mkdtemp(prefix=".%s.restore-" % os.path.basename(data_dir), dir=parent)
    try:
        target = os.path.join(work, "data")
        _run_restore(module, result, tool, target, peer_urls)
        result["changed"] = True
        _replace_data_dir(module, result, target, data_dir, occupied)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_restore(module, result, tool, target, peer_urls):
    """Restore the snapshot ``src`` into ``target`` with ``tool``; fail unless it made an etcd member directory."""
    p = module.params
    cmd = restore_command(
        tool, p["src"], target, p["name"], p["initial_cluster"], p["initial_cluster_token"], peer_urls
    )
    result["command"] = cmd
    rc, out, err = module.run_command(cmd, environ_update={"ETCDCTL_API": "3"})
    if rc != 0:
        module.fail_json(msg="%s failed (rc=%d): %s" % (" ".join(cmd[:3]), rc, (err or out).strip()), **result)
    if not os.path.isdir(os.path.join(target, "member", "snap")):
        module.fail_json(msg="%s did not create %s/member/snap" % (tool, target), **result)


def _replace_data_dir(module, result, target, data_dir, occupied):
    """Put the restored ``target`` at ``data_dir`` (an ``occupied`` one moved aside to ``.pre-restore-<time>``, an
    empty one removed), mode 0700 and, when asked, the owner and group all through."""
    p = module.params
    if os.path.isdir(data_dir):
        if occupied:
            aside = "%s.pre-restore-%s" % (data_dir, _utc_stamp())
            os.rename(data_dir, aside)
            result["previous_data_dir"] = aside
        else:
            os.rmdir(data_dir)
    os.rename(target, data_dir)
    os.chmod(data_dir, 0o700)
    if p["owner"] or p["group"]:
        for root, dirs, files in os.walk(data_dir):
            for path in [root] + [os.path.join(root, n) for n in dirs + files]:
                module.set_owner_if_different(path, p["owner"], False)
                module.set_group_if_different(path, p["group"], False)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", default="saved", choices=["saved", "restored"]),
            endpoints=dict(type="list", elements="str", default=["https://127.0.0.1:2379"]),
            **ETCD_TLS_SPEC,
            timeout=dict(type="float", default=30.0),
            require_leader=dict(type="bool", default=True),
            dest_dir=dict(type="path"),
            name_prefix=dict(type="str", default="etcd-snapshot"),
            keep=dict(type="int", default=0),
            mode=dict(type="str", default="0600"),
            checksum_file=dict(type="bool", default=True),
            etcdctl_path=dict(type="path"),
            etcdutl_path=dict(type="path"),
            src=dict(type="path"),
            data_dir=dict(type="path"),
            name=dict(type="str"),
            initial_cluster=dict(type="str"),
            initial_cluster_token=dict(type="str", no_log=False),
            initial_advertise_peer_urls=dict(type="list", elements="str"),
            force=dict(type="bool", default=False),
            owner=dict(type="str"),
            group=dict(type="str"),
        ),
        required_if=[
            ("state", "saved", ("dest_dir",)),
            (
                "state",
                "restored",
                ("src", "data_dir", "name", "initial_cluster", "initial_cluster_token", "initial_advertise_peer_urls"),
            ),
        ],
        required_together=[("client_cert", "client_key")],
        supports_check_mode=True,
    )
    p = module.params
    if p["keep"] < 0:
        module.fail_json(msg="keep must be 0 (keep all) or a positive number, got %d" % p["keep"])
    if p["timeout"] <= 0:
        module.fail_json(msg="timeout must be a positive number of seconds, got %s" % p["timeout"])
    if "/" in p["name_prefix"] or not p["name_prefix"]:
        module.fail_json(msg="name_prefix %r must be a non-empty file name prefix without '/'" % p["name_prefix"])
    result = dict(changed=False)
    try:
        if p["state"] == "saved":
            _save(module, result)
        else:
            _restore(module, result)
    except EtcdError as exc:
        module.fail_json(msg=str(exc), error_kind=exc.kind, **result)
    except SnapshotError as exc:
        module.fail_json(msg="snapshot check failed, nothing kept: %s" % exc, **result)
    except OSError as exc:
        module.fail_json(msg="%s: %s" % (getattr(exc, "filename", "") or "I/O error", exc.strerror or exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
