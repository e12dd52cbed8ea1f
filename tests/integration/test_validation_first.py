"""Every playbook that changes hosts validates the inventory first, whatever --tags are given (issue 18, point 9).

The inventory has an even etcd group on unreachable TEST-NET hosts (see test_preflight_negative.py): a playbook that
got as far as a connection would report UNREACHABLE; a refused one prints preflight's message and contacts nobody.
"""

import json
import os
import subprocess

import pytest
from test_preflight_negative import ANSIBLE_PLAYBOOK, ROOT, _ssh_inventory

pytestmark = pytest.mark.integration

EVEN_ETCD = "group etcd has 2 hosts (e1, e2)"


@pytest.mark.parametrize(
    "command",
    [
        ["site.yml", "--tags", "pki"],
        ["site.yml", "--skip-tags", "preflight"],
        ["etcd.yml"],
        ["kubernetes.yml", "--tags", "control_plane"],
        ["renew_certs.yml"],
        ["remove_node.yml", "-e", "node=w1"],
        ["etcd_replace.yml", "-e", "node=e1"],
        ["backup.yml"],
        ["addons.yml"],
        ["rotate_encryption_key.yml"],
        ["validate.yml"],
    ],
    ids=lambda command: " ".join(command),
)
def test_bad_inventory_refused_before_any_connection(tmp_path, command):
    inventory = tmp_path / "inventory.json"
    groups = {"etcd": ["e1", "e2"], "control_plane": ["cp1"], "workers": ["w1"]}
    inventory.write_text(json.dumps(_ssh_inventory(groups)))
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
    )
    playbook = os.path.join(ROOT, "playbooks", command[0])
    result = subprocess.run(
        [ANSIBLE_PLAYBOOK, "-i", str(inventory), playbook, *command[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert EVEN_ETCD in output, output[-3000:]
    assert "UNREACHABLE" not in output, "a host was contacted:\n" + output[-3000:]
