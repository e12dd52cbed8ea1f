"""etcd_member's argument checks, the module run in its own interpreter: they fail before any endpoint is asked,
so no cluster is needed. The tests against real local etcd clusters: tests/integration/test_etcd_member_cluster.py."""

import os

import pytest
from support.modules import REPO, run_module_file

MODULE = os.path.join(REPO, "plugins", "modules", "etcd_member.py")


def run_module(tmp_path, args, check_mode=False, diff=True):
    """Run the module file the way Ansible does (JSON arguments file); return its JSON result."""
    return run_module_file(MODULE, tmp_path, args, check_mode=check_mode, diff=diff)[1]


# ---------------------------------------------------------------- argument errors (no cluster needed)


@pytest.mark.parametrize(
    "args, words",
    [
        ({"state": "present", "name": "etcd4"}, "missing: peer_urls"),
        ({"state": "absent"}, "name, peer_urls, member_id"),
        ({"state": "absent", "member_id": "not-an-id"}, "member_id: member ID 'not-an-id' is neither decimal"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"client_cert": "/x.crt"}, "client_cert|client_key"),
        ({"endpoints": ["127.0.0.1:2379"]}, "is not an http(s)://host:port URL"),
    ],
)
def test_argument_errors(tmp_path, args, words):
    result = run_module(tmp_path, args)
    assert result["failed"] is True, result
    assert any(w in result["msg"] for w in words.split("|")), result["msg"]
