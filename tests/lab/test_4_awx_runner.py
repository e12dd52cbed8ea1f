"""The playbooks as AWX / Automation Controller runs them: through ansible_runner.run() with a private data
directory laid out like an AWX job's (inventory/, env/extravars, env/envvars, env/ssh_key, project/), each job on
a throwaway controller directory (own HOME, own download cache) - against the lab `tools/lab up` built.

site.yml as a job from a fresh directory (not the one tools/lab built the cluster from): successful, no failed
event, zero changed, no download, and the cluster is the same one (CA and node identity unchanged): the controller
keeps no state a later job would need.
"""

import json
import os
import pathlib
import shutil
import sys
import tempfile

import ansible_runner
import pytest
from support.lab import first_host, inventory

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "molecule", "shared"))
from kscluster import KUBECTL, ssh_host  # noqa: E402  (shared scenario helpers, not a package)
from ksplay import ROOT  # noqa: E402

NAME, ADDRESS = first_host()
FAILED_EVENTS = ("runner_on_failed", "runner_on_unreachable", "runner_item_on_failed")


@pytest.fixture
def jobs_dir():
    # short: ssh's control sockets live below it and a unix socket path has ~100 characters at most
    path = tempfile.mkdtemp(prefix="ks-awx-", dir="/tmp")
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


def _job(jobs_dir, name, playbook, extravars=None):
    """One AWX-like job: a new private data directory, a new HOME, a new download cache."""
    data = jobs_dir / name
    (data / "inventory").mkdir(parents=True)
    shutil.copyfile(inventory(), data / "inventory" / "hosts.yml")
    (data / "env").mkdir()
    home = data / "home"
    home.mkdir()
    extra = {"download_controller_cache": str(data / "downloads")}
    extra.update(extravars or {})
    (data / "env" / "extravars").write_text(json.dumps(extra))
    # as an execution environment would: the collection installed, the project's ansible.cfg in the job's cwd
    envvars = {
        "HOME": str(home),
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".collections"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(data / "cp"),  # as AWX does (/runner/cp)
    }
    (data / "env" / "envvars").write_text(json.dumps(envvars))
    key = os.environ.get("KS_SSH_KEY", "/var/cache/kubesmith/ssh/id_ed25519")
    shutil.copyfile(key, data / "env" / "ssh_key")  # the machine credential; runner loads it into an ssh-agent
    os.symlink(ROOT, data / "project")  # the project: a checkout of this repository
    result = ansible_runner.run(private_data_dir=str(data), playbook=playbook, quiet=True, timeout=1200)
    failed = [
        "%s %s: %s"
        % (
            e["event_data"].get("host"),
            e["event_data"].get("task"),
            str(e["event_data"].get("res", {}).get("msg", ""))[:300],
        )
        for e in result.events
        if e.get("event") in FAILED_EVENTS and not e["event_data"].get("ignore_errors")
    ]
    return result, failed


def _identity():
    host = ssh_host(ADDRESS)
    ca = host.check_output("openssl x509 -noout -fingerprint -sha256 -in /etc/kubernetes/pki/ca.crt")
    uid = host.check_output("%s get node %s -o jsonpath={.metadata.uid}" % (KUBECTL, NAME))
    return ca, uid


@pytest.mark.parametrize("playbook", ["playbooks/check_certs.yml", "playbooks/summary.yml"])
def test_day2_playbooks_run_as_jobs_without_prompts(jobs_dir, playbook):
    result, failed = _job(jobs_dir, "day2", playbook)
    assert result.status == "successful", (result.rc, failed)
    assert not failed
    assert sum(result.stats.get("changed", {}).values()) == 0, result.stats


def test_site_from_a_throwaway_controller_directory_changes_nothing(jobs_dir):
    before = _identity()
    result, failed = _job(jobs_dir, "job", "playbooks/site.yml")
    assert result.status == "successful", (result.rc, failed)
    assert not failed, failed
    assert sum(result.stats.get("changed", {}).values()) == 0, result.stats
    assert result.stats.get("ok"), result.stats
    # the hosts have every artifact installed: the job's own (empty) controller cache is never needed
    downloads = jobs_dir / "job" / "downloads"
    assert not downloads.exists() or not os.listdir(downloads), "a converged cluster needs no download"
    assert _identity() == before
