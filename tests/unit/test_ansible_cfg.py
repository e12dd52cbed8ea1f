"""The shipped ansible.cfg trusts no host key silently (issue 18, point 4): only the project's throwaway test
hosts turn checking off, in their own inventories."""

import configparser
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cfg():
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, "ansible.cfg"))
    return parser


def test_host_keys_are_checked():
    cfg = _cfg()
    assert cfg.getboolean("defaults", "host_key_checking", fallback=True) is True
    ssh_args = cfg.get("ssh_connection", "ssh_args", fallback="")
    assert "StrictHostKeyChecking" not in ssh_args
    assert "UserKnownHostsFile" not in ssh_args


def test_only_test_inventories_skip_the_check():
    # the lab and Molecule make their hosts anew each time: they say so in their own inventories
    for path in ("tools/lab", ".config/molecule/config.yml"):
        with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
            assert "ansible_ssh_common_args: -o StrictHostKeyChecking=no" in handle.read(), path
