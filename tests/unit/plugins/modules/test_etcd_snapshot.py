"""etcd_snapshot with an endpoint nobody listens on, the module run in its own interpreter: it fails naming the
endpoint (client certificates from the in-process ``etcd_pki`` fixture, no etcd process). The tests against a real
local etcd are in tests/integration/test_etcd_snapshot_cluster.py."""

import os

from support.modules import REPO, free_ports, run_module_file

MODULE = os.path.join(REPO, "plugins", "modules", "etcd_snapshot.py")


def run_module(tmp_path, args, check_mode=False):
    return run_module_file(MODULE, tmp_path, args, check_mode=check_mode)[1]


def test_unreachable_endpoint_is_named(tmp_path, etcd_pki):
    dead = "https://127.0.0.1:%d" % free_ports(1)[0]
    args = dict(etcd_pki.client_args(), endpoints=[dead], dest_dir=str(tmp_path / "b"))
    result = run_module(tmp_path, args)
    assert result["failed"] is True and dead in result["msg"] and "connection refused" in result["msg"], result
    assert not (tmp_path / "b").exists()
