#!/usr/bin/env python3
"""Build a single-layer container image (docker-archive tarball) from a directory.

No daemon, no registry, standard library only. The output is deterministic: the same
directory tree (contents, modes, symlinks, hard links) and the same options give a
byte-identical tarball, whatever the files' owners and timestamps on disk.

Usage:
  mkimage.py build --ref REF --rootfs DIR --out OUT.tar --entrypoint PATH [--cmd ARG]...
                   [--env KEY=VALUE]... [--workdir DIR] [--user USER] [--arch ARCH]
  mkimage.py inspect OUT.tar      # verify digests, print the image's metadata as JSON

Load the result with ``ctr -n k8s.io images import OUT.tar`` (or ``docker load``).

Archive layout (the "docker save" format):
  manifest.json           [{"Config": "<sha256>.json", "RepoTags": [REF], "Layers": ["<diff sha256>/layer.tar"]}]
  <sha256>.json           image config; its name is the sha256 of its bytes
  <diff sha256>/layer.tar uncompressed layer; its sha256 is the config's rootfs.diff_ids[0]
"""

import argparse
import datetime
import hashlib
import io
import json
import os
import re
import sys
import tarfile
import tempfile

DEFAULT_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)
CREATED_BY = "kubesmith tools/mkimage.py"
_CHUNK = 1024 * 1024

# name[:port]/path:tag — the subset of the reference grammar we accept; a tag is required
# so that the imported name is exactly what the caller asked for (no implicit ":latest").
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REF_RE = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?" + _COMPONENT + r"(?:/" + _COMPONENT + r")*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
)


class ImageError(Exception):
    """Invalid input or an archive whose digests do not match."""


def validate_ref(ref):
    """Return ``ref`` if it is ``[registry/]name:tag``, else raise ImageError."""
    if not _REF_RE.match(ref or ""):
        raise ImageError(
            "invalid image reference %r: expected [registry[:port]/]name[/name...]:tag "
            "(lowercase name, explicit tag), e.g. registry.k8s.io/pause:3.2" % (ref,)
        )
    return ref


def _sha256_file(fileobj):
    digest = hashlib.sha256()
    fileobj.seek(0)
    for chunk in iter(lambda: fileobj.read(_CHUNK), b""):
        digest.update(chunk)
    fileobj.seek(0)
    return digest.hexdigest()


def _walk_sorted(rootfs):
    """Every path under rootfs (relative, '/'-separated), parents before children, sorted."""
    paths = []
    for top, dirs, files in os.walk(rootfs):
        rel_top = os.path.relpath(top, rootfs)
        for name in dirs + files:
            rel = name if rel_top == "." else os.path.join(rel_top, name)
            paths.append(rel.replace(os.sep, "/"))
    paths.sort(key=lambda p: p.split("/"))
    return paths


def write_layer(rootfs, fileobj, mtime=0):
    """Write ``rootfs`` as a deterministic uncompressed tar to ``fileobj``.

    Owners become 0:0 with no names, every mtime becomes ``mtime``; modes, symlink
    targets and hard links are kept. Sockets cannot be archived and raise ImageError.
    """
    if not os.path.isdir(rootfs):
        raise ImageError("rootfs %r is not a directory" % (rootfs,))
    with tarfile.open(fileobj=fileobj, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in _walk_sorted(rootfs):
            path = os.path.join(rootfs, rel)
            info = tar.gettarinfo(path, arcname=rel)
            if info is None:
                raise ImageError("cannot put %r into an image layer (socket or unsupported file type)" % (path,))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = int(mtime)
            info.pax_headers = {}
            if info.isreg():
                with open(path, "rb") as src:
                    tar.addfile(info, src)
            else:
                tar.addfile(info)


def image_config(diff_ids, entrypoint, cmd=None, env=None, workdir="/", user="", arch="amd64", mtime=0):
    """The image config document (a dict) for the given layers and runtime settings."""
    created = datetime.datetime.fromtimestamp(int(mtime), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    runtime = {"Entrypoint": list(entrypoint), "Env": _merge_env(env), "WorkingDir": workdir or "/"}
    if cmd:
        runtime["Cmd"] = list(cmd)
    if user:
        runtime["User"] = user
    return {
        "architecture": arch,
        "os": "linux",
        "created": created,
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": [{"created": created, "created_by": CREATED_BY}],
    }


def _merge_env(env):
    """DEFAULT_ENV overridden/extended by ``KEY=VALUE`` items, keeping first-seen order."""
    merged = {}
    for item in list(DEFAULT_ENV) + list(env or ()):
        key, sep, _value = item.partition("=")
        if not key or not sep:
            raise ImageError("invalid environment entry %r: expected KEY=VALUE" % (item,))
        merged[key] = item
    return list(merged.values())


def _check_entrypoint(rootfs, entrypoint):
    if not entrypoint:
        raise ImageError("an entrypoint is required (e.g. --entrypoint /pause)")
    program = entrypoint[0]
    if program.startswith("/") and not os.path.lexists(os.path.join(rootfs, program.lstrip("/"))):
        raise ImageError("entrypoint %s does not exist in rootfs %s: copy the program there first" % (program, rootfs))


def _add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def build_image(rootfs, ref, out, entrypoint, cmd=None, env=None, workdir="/", user="", arch="amd64", mtime=0):
    """Build the image tarball ``out`` from ``rootfs``; return a summary dict.

    The summary has ``ref``, ``out``, ``config_digest`` and ``diff_id`` (both
    ``sha256:<hex>``) and ``size`` (bytes of ``out``). ``out`` is replaced atomically.
    """
    validate_ref(ref)
    if not os.path.isdir(rootfs):
        raise ImageError("rootfs %r is not a directory" % (rootfs,))
    _check_entrypoint(rootfs, entrypoint)
    out_dir = os.path.dirname(os.path.abspath(out))
    with tempfile.TemporaryFile(dir=out_dir) as layer:
        write_layer(rootfs, layer, mtime=mtime)
        layer_size = layer.tell()
        diff_hex = _sha256_file(layer)
        config = image_config(
            ["sha256:" + diff_hex], entrypoint, cmd=cmd, env=env, workdir=workdir, user=user, arch=arch, mtime=mtime
        )
        config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
        config_hex = hashlib.sha256(config_bytes).hexdigest()
        layer_name = diff_hex + "/layer.tar"
        manifest = [{"Config": config_hex + ".json", "RepoTags": [ref], "Layers": [layer_name]}]
        manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()

        fd, tmp_out = tempfile.mkstemp(dir=out_dir, prefix=".mkimage-", suffix=".tar")
        try:
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                _add_bytes(tar, config_hex + ".json", config_bytes)
                folder = tarfile.TarInfo(diff_hex)
                folder.type = tarfile.DIRTYPE
                folder.mode = 0o755
                tar.addfile(folder)
                info = tarfile.TarInfo(layer_name)
                info.size = layer_size
                info.mode = 0o644
                tar.addfile(info, layer)
                _add_bytes(tar, "manifest.json", manifest_bytes)
            os.chmod(tmp_out, 0o644)
            os.replace(tmp_out, out)
        except BaseException:
            if os.path.exists(tmp_out):
                os.unlink(tmp_out)
            raise
    return {
        "ref": ref,
        "out": out,
        "config_digest": "sha256:" + config_hex,
        "diff_id": "sha256:" + diff_hex,
        "size": os.path.getsize(out),
    }


def _member_bytes(tar, name):
    try:
        member = tar.getmember(name)
    except KeyError:
        raise ImageError("%s is missing from the archive" % (name,)) from None
    src = tar.extractfile(member)
    if src is None:
        raise ImageError("%s in the archive is not a regular file" % (name,))
    return src


def inspect_image(path):
    """Check a docker-archive tarball's digests; return its metadata as a dict.

    Raises ImageError when manifest.json, the config or a layer is missing, or when
    the config's name or a layer's sha256 does not match what the archive declares.
    """
    try:
        with tarfile.open(path, "r") as tar:
            return _inspect_open(tar)
    except (OSError, tarfile.TarError, ValueError) as exc:  # ValueError: manifest or config is not JSON
        raise ImageError("cannot read %s as an image archive: %s" % (path, exc)) from None


def _inspect_open(tar):
    manifest = json.load(_member_bytes(tar, "manifest.json"))
    if not isinstance(manifest, list) or len(manifest) != 1:
        raise ImageError("manifest.json must describe exactly one image, found %r" % (manifest,))
    entry = manifest[0]
    config_name = entry.get("Config", "")
    config_bytes = _member_bytes(tar, config_name).read()
    config_hex = hashlib.sha256(config_bytes).hexdigest()
    if config_name != config_hex + ".json":
        raise ImageError("config %s has sha256 %s: the archive is corrupt" % (config_name, config_hex))
    config = json.loads(config_bytes)
    diff_ids = config.get("rootfs", {}).get("diff_ids", [])
    layers = entry.get("Layers", [])
    if len(diff_ids) != len(layers) or not layers:
        raise ImageError("config lists %d diff_ids but manifest.json lists %d layers" % (len(diff_ids), len(layers)))
    for layer_name, diff_id in zip(layers, diff_ids):
        digest = hashlib.sha256()
        src = _member_bytes(tar, layer_name)
        for chunk in iter(lambda src=src: src.read(_CHUNK), b""):
            digest.update(chunk)
        if "sha256:" + digest.hexdigest() != diff_id:
            raise ImageError(
                "layer %s has sha256:%s but the config says %s: the archive is corrupt"
                % (layer_name, digest.hexdigest(), diff_id)
            )
    runtime = config.get("config", {})
    return {
        "repo_tags": entry.get("RepoTags", []),
        "config_digest": "sha256:" + config_hex,
        "diff_ids": diff_ids,
        "architecture": config.get("architecture"),
        "os": config.get("os"),
        "entrypoint": runtime.get("Entrypoint"),
        "cmd": runtime.get("Cmd"),
        "env": runtime.get("Env"),
    }


def _parser():
    parser = argparse.ArgumentParser(description="Build or check a single-layer docker-archive image tarball.")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build OUT from a directory")
    build.add_argument("--ref", required=True, help="image name with tag, e.g. registry.k8s.io/pause:3.2")
    build.add_argument("--rootfs", required=True, help="directory that becomes the image's filesystem")
    build.add_argument("--out", required=True, help="output tarball (replaced atomically)")
    build.add_argument("--entrypoint", required=True, help="program to run, absolute path inside the rootfs")
    build.add_argument(
        "--cmd", action="append", default=[], help="default argument (repeat; write --cmd=-c for one starting with -)"
    )
    build.add_argument("--env", action="append", default=[], help="KEY=VALUE (repeat); PATH has a default")
    build.add_argument("--workdir", default="/")
    build.add_argument("--user", default="", help="user[:group] the process runs as (default: root)")
    build.add_argument("--arch", default="amd64")
    check = sub.add_parser("inspect", help="verify an image tarball's digests and print its metadata")
    check.add_argument("path")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        if args.command == "build":
            result = build_image(
                args.rootfs,
                args.ref,
                args.out,
                [args.entrypoint],
                cmd=args.cmd,
                env=args.env,
                workdir=args.workdir,
                user=args.user,
                arch=args.arch,
            )
        else:
            result = inspect_image(args.path)
    except (ImageError, OSError, ValueError) as exc:
        print("mkimage.py: error: %s" % (exc,), file=sys.stderr)
        return 2
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
