#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

import errno
import grp
import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubesmith.cluster.plugins.module_utils.host.files import HostFilesError, ids, parse_mode
from ansible_collections.kubesmith.cluster.plugins.module_utils.host.files import write_atomic as _write_atomic

DOCUMENTATION = r"""
---
module: pki_files
short_description: Read or write a set of PKI files in one round trip (helper of kube_pki)
description:
  - The host side of M(kubesmith.cluster.kube_pki), which runs on the controller. It reads the certificate, key and
    kubeconfig files of a host in one call (O(state=read)) and writes the new ones in one call (O(state=write)).
  - Writes are atomic (temporary file in the same directory, mode and owner set before any byte is written,
    fsync, rename); missing parent directories are created with mode 0755.
  - A file whose content is already right is not rewritten; only its mode and owner are corrected.
  - B(Its read results carry private keys.) It is meant to be called by M(kubesmith.cluster.kube_pki), which keeps
    them on the controller. If you call it yourself with O(state=read) and O(content=true), use C(no_log) on the task.
  - Runs on the managed host with the Python standard library only.
version_added: 0.1.0
author:
  - kubesmith maintainers
options:
  state:
    description:
      - V(read) returns what exists at O(paths); V(write) applies O(files).
    type: str
    choices: [read, write]
    required: true
  paths:
    description:
      - Absolute paths to read (O(state=read)). Missing files are reported as such, not as errors.
    type: list
    elements: path
    default: []
  content:
    description:
      - With O(state=read), return the text of each regular file (at most 1 MiB each).
    type: bool
    default: true
  files:
    description:
      - Files to write or remove (O(state=write)).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      content:
        description:
          - Text to write. Omit it to only correct mode and owner of an existing file.
        type: str
      mode:
        description: Octal mode as a string, for example V('0600').
        type: str
        default: '0600'
      state:
        description: V(absent) removes the file.
        type: str
        choices: [present, absent]
        default: present
  owner:
    description: Owner of written files.
    type: str
    default: root
  group:
    description: Group of written files.
    type: str
    default: root
notes:
  - Supports check mode; with O(state=write) it then reports what would change without touching anything.
"""

EXAMPLES = r"""
- name: PKI | read certificates (public parts only)
  kubesmith.cluster.pki_files:
    state: read
    paths: [/etc/kubernetes/pki/ca.crt, /etc/kubernetes/pki/apiserver.crt]

- name: PKI | tighten permissions of a key
  kubesmith.cluster.pki_files:
    state: write
    files:
      - path: /etc/kubernetes/pki/apiserver.key
        mode: '0600'
"""

RETURN = r"""
files:
  description: O(state=read) - for each requested path, what exists there.
  returned: state=read
  type: dict
  sample:
    /etc/kubernetes/pki/ca.crt: {exists: true, is_file: true, mode: '0644', owner: root, group: root, size: 1123,
                                 content: "-----BEGIN CERTIFICATE-----..."}
    /etc/kubernetes/pki/ca.key: {exists: false}
written:
  description: O(state=write) - paths whose content was (or would be) written.
  returned: state=write
  type: list
  elements: str
permissions_fixed:
  description: O(state=write) - paths whose content was right but mode or owner was (or would be) corrected.
  returned: state=write
  type: list
  elements: str
removed:
  description: O(state=write) - paths that were (or would be) removed.
  returned: state=write
  type: list
  elements: str
"""

MAX_SIZE = 1024 * 1024


PkiFilesError = HostFilesError  # one error type with the shared file helpers


def _mode_text(st_mode):
    return "%04o" % stat.S_IMODE(st_mode)


def _name(lookup, ident):
    try:
        return lookup(ident)[0]
    except KeyError:
        return str(ident)


def read_paths(paths, content=True):
    """What exists at each path: mode, owner, size and (for regular files up to 1 MiB) the text."""
    out = {}
    for path in paths:
        try:
            st = os.stat(path)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                out[path] = {"exists": False}
                continue
            raise PkiFilesError("cannot read %s: %s" % (path, exc.strerror)) from None
        info = {
            "exists": True,
            "is_file": stat.S_ISREG(st.st_mode),
            "mode": _mode_text(st.st_mode),
            "owner": _name(pwd.getpwuid, st.st_uid),
            "group": _name(grp.getgrgid, st.st_gid),
            "size": st.st_size,
        }
        if content and info["is_file"]:
            if st.st_size > MAX_SIZE:
                raise PkiFilesError("%s is %d bytes: too large for PKI material" % (path, st.st_size))
            with open(path, "rb") as handle:
                info["content"] = handle.read().decode("utf-8", "replace")
        out[path] = info
    return out


def apply_files(entries, owner="root", group="root", check_mode=False):
    """Write/remove ``entries`` (dicts: path, content, mode, state). Returns (written, permissions_fixed, removed)."""
    uid, gid = ids(owner, group)
    written, fixed, removed = [], [], []
    for entry in entries:
        path = entry["path"]
        if not os.path.isabs(path):
            raise PkiFilesError("%s is not an absolute path" % path)
        if entry.get("state", "present") == "absent":
            if os.path.lexists(path):
                removed.append(path)
                if not check_mode:
                    os.unlink(path)
            continue
        what, mode, data = _present_change(path, entry, uid, gid)
        if what == "write":
            written.append(path)
            if not check_mode:
                _write_atomic(path, data, mode, uid, gid)
        elif what == "fix":
            fixed.append(path)
            if not check_mode:
                os.chown(path, uid, gid)
                os.chmod(path, mode)
    return written, fixed, removed


def _present_change(path, entry, uid, gid):
    """What a present entry needs: ``("write", mode, data)`` for other content, ``("fix", mode, None)`` for the
    right content with another mode or owner, ``(None, mode, None)`` when it is as wanted. An entry without
    content only sets the mode of an existing file."""
    mode = parse_mode(entry.get("mode") or "0600")
    content = entry.get("content")
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise PkiFilesError("cannot read %s: %s" % (path, exc.strerror)) from None
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise PkiFilesError("%s exists and is not a regular file; move it away" % path)
    if content is None:
        if st is None:
            raise PkiFilesError("%s does not exist, cannot set its mode without content" % path)
    else:
        data = content.encode("utf-8")
        same = False
        if st is not None and st.st_size == len(data):
            with open(path, "rb") as handle:
                same = handle.read() == data
        if not same:
            return "write", mode, data
    if stat.S_IMODE(st.st_mode) != mode or (st.st_uid, st.st_gid) != (uid, gid):
        return "fix", mode, None
    return None, mode, None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", choices=["read", "write"], required=True),
            paths=dict(type="list", elements="path", default=[]),
            content=dict(type="bool", default=True),
            files=dict(
                type="list",
                elements="dict",
                default=[],
                options=dict(
                    path=dict(type="path", required=True),
                    content=dict(type="str", no_log=True),
                    mode=dict(type="str", default="0600"),
                    state=dict(type="str", choices=["present", "absent"], default="present"),
                ),
            ),
            owner=dict(type="str", default="root"),
            group=dict(type="str", default="root"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        if params["state"] == "read":
            module.exit_json(changed=False, files=read_paths(params["paths"], params["content"]))
        written, fixed, removed = apply_files(params["files"], params["owner"], params["group"], module.check_mode)
    except PkiFilesError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        hint = " (run the task with become: true)" if exc.errno in (errno.EPERM, errno.EACCES) else ""
        module.fail_json(msg="cannot write PKI files: %s%s" % (exc, hint))
    module.exit_json(
        changed=bool(written or fixed or removed), written=written, permissions_fixed=fixed, removed=removed
    )


if __name__ == "__main__":
    main()
