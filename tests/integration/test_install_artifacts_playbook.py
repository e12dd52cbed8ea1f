"""The install_artifacts module through ansible-playbook (moved from the unit tier: it runs ansible-playbook)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from support.artifacts import etcd_archive, module_args
from support.modules import REPO


@pytest.fixture
def archive(tmp_path):
    return etcd_archive(tmp_path)


@pytest.mark.integration
def test_runs_through_ansible_playbook(tmp_path, archive):
    """The real path: AnsiballZ packaging of module_utils, argument parsing, check mode, idempotence."""
    playbook = tmp_path / "play.yml"
    args = module_args(tmp_path, archive)
    playbook.write_text(textwrap.dedent("""\
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: Artifacts | check mode first
              kubesmith.cluster.install_artifacts: %(args)s
              check_mode: true
              register: planned
            - name: Artifacts | install
              kubesmith.cluster.install_artifacts: %(args)s
              register: first
            - name: Artifacts | install again
              kubesmith.cluster.install_artifacts: %(args)s
              register: second
            - name: Artifacts | assert
              ansible.builtin.assert:
                that:
                  - planned is changed
                  - first is changed
                  - second is not changed
                  - planned.artifacts == first.artifacts
        """) % {"args": json.dumps(args)})
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [ansible_playbook, "-i", "localhost,", "-c", "local", str(playbook)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert os.readlink(str(tmp_path / "bin" / "etcdctl")) == str(tmp_path / "opt" / "etcd" / "3.5.9" / "etcdctl")
