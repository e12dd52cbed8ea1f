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
    groups = {"etcd": ["e1", "e2"], "control_plane": ["cp1"], "workers": ["w1"]}
    result, output = _run(tmp_path, _ssh_inventory(groups), command)
    assert result.returncode != 0, output
    assert EVEN_ETCD in output, output[-3000:]
    assert "UNREACHABLE" not in output, "a host was contacted:\n" + output[-3000:]


TYPE_ERRORS = [
    "argument 'cluster_node_pod_cidr_prefix' is of type str and we were unable to convert to int",
    "value of load_balancer_mode must be one of: none, vip, local, got: haproxy",
]


@pytest.mark.parametrize(
    "command", [["site.yml"], ["scale.yml"], ["etcd.yml"], ["validate.yml"]], ids=lambda command: command[0]
)
def test_wrong_types_are_one_line_each_before_any_role_validates(tmp_path, command):
    groups = {"etcd": ["e1"], "control_plane": ["cp1"], "workers": ["w1", "w2"]}
    cluster_vars = {"cluster_node_pod_cidr_prefix": "abc", "load_balancer_mode": "haproxy"}
    result, output = _run(tmp_path, _ssh_inventory(groups, cluster_vars=cluster_vars), command)
    assert result.returncode != 0, output
    for message in TYPE_ERRORS:
        assert output.count(message) == 2, (message, output[-3000:])  # the error, and the failed assertion's msg
    assert "argument_spec_data" not in output and "Validation of arguments failed" not in output, output[-3000:]
    assert "UNREACHABLE" not in output, "a host was contacted:\n" + output[-3000:]


def _run(tmp_path, inventory_data, command):
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps(inventory_data))
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
    return result, result.stdout + result.stderr
