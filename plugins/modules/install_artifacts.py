#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts.installer import Installer
from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts.spec import ArtifactError

DOCUMENTATION = r"""
---
module: install_artifacts
short_description: Install downloaded release archives and binaries into versioned directories and link them
description:
  - Makes artifacts that the C(download) role placed on the host usable, all of them in one module run.
  - Each artifact is installed into O(root)/<name>/<version>/. Archives are extracted (C(tar), C(.tar.gz)/C(.tgz),
    C(.tar.xz)/C(.txz), C(.tar.bz2)), single files are copied with O(artifacts[].mode).
  - The content is prepared in a hidden temporary directory next to the destination and renamed into place, with
    a marker file C(.kubesmith-artifact) recording the source SHA-256 and layout options. A version directory whose
    marker matches is left alone; a different archive (or other O(artifacts[].strip_components)/O(artifacts[].mode)/
    O(artifacts[].filename)) for the same version is installed again.
  - Symlinks are created or switched atomically (temporary link, then rename). Upgrades install the new version next
    to the old one and switch the links; older versions are pruned according to O(keep_versions).
  - Every artifact is validated, and every new version extracted and checked, before any version directory is
    renamed into place or any link is changed.
  - Archive members with absolute paths, C(..), symlinks or hard links that leave the version directory, devices
    and FIFOs are refused. Extracted files belong to the user running the module; setuid/setgid/sticky bits are
    dropped.
  - Runs on the managed host with the Python standard library only.
version_added: 0.1.0
author:
  - kubesmith maintainers
options:
  root:
    description:
      - Versioned install root. Artifacts go to O(root)/<name>/<version>/.
    type: path
    default: /opt/kubesmith
  report_missing:
    description:
      - What to do when a version has to be installed but its O(artifacts[].src) is not on the host or does not
        match O(artifacts[].sha256), or a file of O(cache_files) is absent or does not match its sha256.
      - V(false) fails (in check mode an absent source is a pending install instead).
      - V(true) changes nothing at all and returns those files in RV(missing), with C(changed=false); a run where
        nothing is missing does everything as usual. The C(download) role calls the module like this first, so
        that a host with everything installed is done in one call, and only the missing files are fetched and
        pushed before the second call.
    type: bool
    default: false
  cache_files:
    description:
      - Files that stay in the host's download cache as they are, not installed (for example image tarballs to
        import). Each must be present and, when O(cache_files[].sha256) is given, have that SHA-256.
      - A verified file gets a stamp C(<path>.kubesmith-verified) with its sha256, size and modification time;
        while they still match, later runs do not read the file again.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the file on the host.
        type: path
        required: true
      sha256:
        description: Expected SHA-256 (hex, optional C(sha256:) prefix). Without it only presence is checked.
        type: str
      name:
        description: Name used in messages and in RV(missing). Defaults to the file name.
        type: str
  keep_versions:
    description:
      - Number of installed versions of each artifact name to keep, counting the version(s) of this run.
      - Versions a managed link points to, and versions targeted by a symlink directly inside O(root)/<name>/, are
        always kept. Among the others, the newest by version order are kept; the rest is removed.
      - Only directories carrying the install marker are ever removed. V(0) disables pruning.
    type: int
    default: 2
  artifacts:
    description:
      - The artifacts to install. Each O(artifacts[].name)/O(artifacts[].version) pair may appear once.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Artifact name, used as a directory name (no C(/), must not start with C(.)).
        type: str
        required: true
      version:
        description:
          - Version, used as a directory name. Quote it in YAML (V("1.30") not V(1.30)).
        type: str
        required: true
      src:
        description:
          - Absolute path of the downloaded file on the host.
          - May be gone on later runs if O(artifacts[].sha256) is given and the version is already installed.
        type: path
        required: true
      sha256:
        description:
          - Expected SHA-256 of O(artifacts[].src) (hex, optional C(sha256:) prefix), verified before the file is used.
            A mismatch fails the run and changes nothing.
          - When given, a run where the installed marker already matches does not read O(artifacts[].src) at all.
            When omitted, O(artifacts[].src) is hashed to compare with the marker, and its sha256 recorded in a
            stamp C(<src>.kubesmith-verified) with its size and modification time; while they match, later runs
            take the sha256 from the stamp instead of reading the file.
        type: str
      unpack:
        description:
          - V(true) to extract a tar archive into the version directory, V(false) to copy the single file there.
          - Default is V(true) when the file name ends like a tar archive (C(.tar), C(.tar.gz), C(.tgz), C(.tar.xz),
            C(.txz), C(.tar.bz2), C(.tbz2)), otherwise V(false).
        type: bool
      strip_components:
        description:
          - Remove this many leading path components from archive members, like C(tar --strip-components).
            Members with no more components than that are skipped.
        type: int
        default: 0
      mode:
        description:
          - Permissions of a single file (O(artifacts[].unpack=false)), as an octal string. Ignored for archives,
            which keep their members' permission bits.
        type: str
        default: "0755"
      filename:
        description:
          - Name of a single file inside the version directory. Defaults to the base name of O(artifacts[].src).
        type: str
      links:
        description:
          - Symlinks to manage, as a mapping of absolute link path to a path relative to the version directory.
            V(.) links the version directory itself (for example C(/opt/cni/bin) to the CNI plugins).
          - Parent directories of a link are created when missing. Every target must exist in the installed
            version, otherwise the run fails before anything changes. A target removed by hand from an installed
            version is repaired by installing that version again from O(artifacts[].src).
        type: dict
        default: {}
      force:
        description:
          - Allow a link to replace an existing regular file or directory. It is moved aside to
            C(<link path>.kubesmith-backup) (which must not exist yet). Without it the run fails and changes nothing.
        type: bool
        default: false
notes:
  - Supports check mode, which reports the same result without writing anything. In check mode archives that would
    be installed are still read to verify the checksum, the members and the link targets.
  - Returns C(diff) with the version directories, links and pruned versions before and after.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

EXAMPLES = r"""
- name: Download | install containerd, runc and the CNI plugins
  kubesmith.cluster.install_artifacts:
    root: /opt/kubesmith
    artifacts:
      - name: containerd
        version: "1.6.20"
        src: /var/cache/kubesmith/downloads/containerd/1.6.20/containerd-1.6.20-linux-amd64.tar.gz
        sha256: "{{ containerd_sha256 }}"
        links:
          /usr/local/bin/containerd: bin/containerd
          /usr/local/bin/containerd-shim-runc-v2: bin/containerd-shim-runc-v2
          /usr/local/bin/ctr: bin/ctr
      - name: runc
        version: "1.1.7"
        src: /var/cache/kubesmith/downloads/runc/1.1.7/runc.amd64
        mode: "0755"
        filename: runc
        links:
          /usr/local/sbin/runc: runc
      - name: cni-plugins
        version: "1.3.0"
        src: /var/cache/kubesmith/downloads/cni-plugins/1.3.0/cni-plugins-linux-amd64-v1.3.0.tgz
        links:
          /opt/cni/bin: .
        force: true  # a distribution package may have created /opt/cni/bin as a directory

- name: Download | install etcd (the archive has a top-level directory)
  kubesmith.cluster.install_artifacts:
    keep_versions: 3
    artifacts:
      - name: etcd
        version: "{{ etcd_version }}"
        src: "{{ download_host_cache }}/etcd/{{ etcd_version }}/etcd-v{{ etcd_version }}-linux-amd64.tar.gz"
        sha256: "{{ etcd_sha256 }}"
        strip_components: 1
        links:
          /usr/local/bin/etcd: etcd
          /usr/local/bin/etcdctl: etcdctl
"""

RETURN = r"""
changed:
  description: Whether a version was installed, a link created/switched or an old version removed (or would be).
  returned: always
  type: bool
artifacts:
  description: One entry per artifact, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Artifact name.
      returned: always
      type: str
      sample: containerd
    version:
      description: Artifact version.
      returned: always
      type: str
      sample: 1.6.20
    path:
      description: The version directory.
      returned: always
      type: str
      sample: /opt/kubesmith/containerd/1.6.20
    sha256:
      description: SHA-256 of the installed source file.
      returned: always
      type: str
    extracted:
      description: Whether the version was (or in check mode would be) installed in this run.
      returned: always
      type: bool
    reason:
      description: Why it was installed; null when it was already in place.
      returned: always
      type: str
      sample: not installed
    links:
      description: Managed link path to its (new) absolute target.
      returned: always
      type: dict
      sample: {"/usr/local/bin/ctr": "/opt/kubesmith/containerd/1.6.20/bin/ctr"}
    links_changed:
      description: Link paths created or switched in this run.
      returned: always
      type: list
      elements: str
    backups:
      description: Backup paths of files or directories moved aside because of O(artifacts[].force).
      returned: always
      type: list
      elements: str
    pruned:
      description: Old version directories of this artifact name removed in this run.
      returned: always
      type: list
      elements: str
      sample: ["/opt/kubesmith/containerd/1.6.18"]
missing:
  description:
    - With O(report_missing=true), the sources (and cache files) the run could not use; when this is not empty
      nothing was changed. Always empty otherwise.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Artifact name (for a cache file O(cache_files[].name)).
      returned: always
      type: str
    version:
      description: Artifact version; null for a cache file.
      returned: always
      type: str
    src:
      description: The file that has to be placed on the host.
      returned: always
      type: str
    reason:
      description: Absent, or the sha256 it has instead.
      returned: always
      type: str
diff:
  description: Version directories (marker summary), links and pruned versions before and after, one per line.
  returned: always
  type: dict
"""

_ARTIFACT_OPTIONS = {
    "name": {"type": "str", "required": True},
    "version": {"type": "str", "required": True},
    "src": {"type": "path", "required": True},
    "sha256": {"type": "str"},
    "unpack": {"type": "bool"},
    "strip_components": {"type": "int", "default": 0},
    "mode": {"type": "str", "default": "0755"},
    "filename": {"type": "str"},
    "links": {"type": "dict", "default": {}},
    "force": {"type": "bool", "default": False},
}

_CACHE_FILE_OPTIONS = {
    "path": {"type": "path", "required": True},
    "sha256": {"type": "str"},
    "name": {"type": "str"},
}

ARGUMENT_SPEC = {
    "root": {"type": "path", "default": "/opt/kubesmith"},
    "report_missing": {"type": "bool", "default": False},
    "cache_files": {"type": "list", "elements": "dict", "default": [], "options": _CACHE_FILE_OPTIONS},
    "keep_versions": {"type": "int", "default": 2},
    "artifacts": {"type": "list", "elements": "dict", "required": True, "options": _ARTIFACT_OPTIONS},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        installer = Installer(
            root=module.params["root"],
            artifacts=module.params["artifacts"],
            keep_versions=module.params["keep_versions"],
            check_mode=module.check_mode,
            report_missing=module.params["report_missing"],
            cache_files=module.params["cache_files"],
        )
        result = installer.run()
    except ArtifactError as exc:
        module.fail_json(msg=str(exc))
    for warning in result.pop("warnings"):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
