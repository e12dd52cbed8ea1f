"""What the install_artifacts tests install: a small etcd release archive and the module arguments for it."""

import io
import tarfile


def etcd_archive(tmp_path):
    """``tmp_path/downloads/etcd-v3.5.9-linux-amd64.tar.gz`` with ``etcd`` and ``etcdctl`` under one top directory."""
    src = tmp_path / "downloads" / "etcd-v3.5.9-linux-amd64.tar.gz"
    src.parent.mkdir()
    with tarfile.open(str(src), "w:gz") as tar:
        for name, payload in (("etcd-v3.5.9-linux-amd64/etcd", b"etcd"), ("etcd-v3.5.9-linux-amd64/etcdctl", b"ctl")):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(payload))
    return str(src)


def module_args(tmp_path, src, **extra):
    artifact = {
        "name": "etcd",
        "version": "3.5.9",
        "src": src,
        "strip_components": 1,
        "links": {str(tmp_path / "bin" / "etcd"): "etcd", str(tmp_path / "bin" / "etcdctl"): "etcdctl"},
    }
    artifact.update(extra)
    return {"root": str(tmp_path / "opt"), "artifacts": [artifact]}
