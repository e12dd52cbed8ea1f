"""The download role through ansible-playbook on two local hosts (connection local, a file:// mirror).

Each host has its own host cache, install root and link directory; the controller cache is shared. Proves:
one install_artifacts call per host when everything is installed (no fetch, no push, controller cache not even
read), only the missing artifact fetched and pushed to the host that lacks it, check mode reporting a missing
artifact as a pending change without writing, and the include's tags reaching the fetch tasks.
"""

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap

import pytest
from support.modules import REPO

HOSTS = ("h1", "h2")


def _sha(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


@pytest.fixture
def lab(tmp_path):
    mirror = tmp_path / "mirror" / "dl.example" / "v1"
    mirror.mkdir(parents=True)
    etcd = mirror / "etcd-v3.4.23.tar.gz"
    with tarfile.open(str(etcd), "w:gz") as tar:
        for name, payload in (("etcd-v3.4.23/etcd", b"etcd\n"), ("etcd-v3.4.23/etcdctl", b"ctl\n")):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(payload))
    runc = mirror / "runc.amd64"
    runc.write_bytes(b"runc\n")
    (mirror / "runc.amd64.sha256sum").write_text("%s  runc.amd64\n" % _sha(str(runc)))
    image = mirror / "pause-3.2.tar"
    image.write_bytes(b"pause image\n")

    inventory = {"all": {"vars": {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "download_mirror": "file://%s" % (tmp_path / "mirror"),
        "download_controller_cache": str(tmp_path / "controller"),
    }, "hosts": {}}}
    for host in HOSTS:
        top = tmp_path / host
        inventory["all"]["hosts"][host] = {
            "download_host_cache": str(top / "cache"),
            "download_install_root": str(top / "opt"),
            "lab_items": [
                {"name": "etcd", "version": "3.4.23", "url": "https://dl.example/v1/etcd-v3.4.23.tar.gz",
                 "sha256": _sha(str(etcd)), "strip_components": 1,
                 "links": {str(top / "bin" / "etcd"): "etcd"}},
                {"name": "runc", "version": "1.1.5", "url": "https://dl.example/v1/runc.amd64",
                 "checksum_url": "https://dl.example/v1/runc.amd64.sha256sum",
                 "links": {str(top / "bin" / "runc"): "runc.amd64"}},
                {"name": "image-pause", "version": "3.2", "url": "https://dl.example/v1/pause-3.2.tar",
                 "sha256": _sha(str(image)), "install": False},
            ],
        }
    (tmp_path / "hosts.yml").write_text(json.dumps(inventory))
    (tmp_path / "play.yml").write_text(textwrap.dedent("""\
        - name: Download role test
          hosts: all
          gather_facts: false
          tasks:
            - name: Test | artifacts
              ansible.builtin.include_role:
                name: kubesmith.cluster.download
                apply:
                  tags: [etcd]
              vars:
                download_items: "{{ lab_items }}"
              tags: [etcd]
            - name: Test | what the callers see
              ansible.builtin.debug:
                msg: "installed changed={{ __download_installed is changed }}"
              tags: [etcd]
        """))

    class Lab(object):
        top = tmp_path

        def run(self, *extra, ok=True):
            """Run the play (tags etcd); return {task name: {host: result}} and the stats (with ``ok=False``: the
            return code and the output of a run expected to fail)."""
            env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
                       ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".collections"))
            playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
            proc = subprocess.run(
                [playbook, "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "play.yml"), "--tags", "etcd"]
                + list(extra),
                cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
            )
            if not ok:
                return proc.returncode, proc.stdout + proc.stderr
            assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
            out = json.loads(proc.stdout)
            tasks = {}
            for play in out["plays"]:
                for task in play["tasks"]:
                    name = task["task"]["name"].split(" : ", 1)[-1]  # without the role prefix
                    tasks.setdefault(name, {}).update(task["hosts"])
            return tasks, out["stats"]

        def path(self, host, *parts):
            return str(tmp_path.joinpath(host, *parts))

    return Lab()


def _ran(tasks, name):
    """Hosts on which the task ran (not skipped)."""
    return sorted(h for h, r in tasks.get(name, {}).items() if not r.get("skipped"))


def _pushed(tasks, host):
    results = tasks["Download | push to hosts"].get(host, {}).get("results", [])
    return sorted(r["item"]["name"] for r in results if not r.get("skipped"))


@pytest.mark.integration
def test_download_role_fetches_and_pushes_only_what_a_host_lacks(lab):
    # from nothing: every artifact fetched once, pushed to both hosts, installed
    tasks, stats = lab.run()
    assert _pushed(tasks, "h1") == _pushed(tasks, "h2") == ["etcd", "image-pause", "runc"]
    assert sorted(os.listdir(str(lab.top / "controller"))) == [
        "etcd-3.4.23-etcd-v3.4.23.tar.gz", "image-pause-3.2-pause-3.2.tar", "runc-1.1.5-runc.amd64"]
    for host in HOSTS:
        assert os.readlink(lab.path(host, "bin", "runc")) == lab.path(host, "opt", "runc", "1.1.5", "runc.amd64")
        assert stats[host]["changed"] > 0
    assert tasks["Test | what the callers see"]["h1"]["msg"] == "installed changed=True"

    # re-run: one module call per host, no fetch, no push, and the controller cache is not needed
    shutil.rmtree(str(lab.top / "controller"))
    tasks, stats = lab.run()
    assert [stats[h]["changed"] for h in HOSTS] == [0, 0]
    assert _ran(tasks, "Download | install from the host cache, or list the files it lacks") == ["h1", "h2"]
    assert _ran(tasks, "Download | fetch, push and install the missing files") == []
    assert "Download | push to hosts" not in tasks
    assert not os.path.exists(str(lab.top / "controller"))
    assert tasks["Test | what the callers see"]["h1"]["msg"] == "installed changed=False"

    # one artifact gone from one host (installed version and its cached archive): only that one comes back
    shutil.rmtree(lab.path("h2", "opt", "runc"))
    os.unlink(lab.path("h2", "cache", "runc-1.1.5-runc.amd64"))
    etcd_marker = lab.path("h2", "opt", "etcd", "3.4.23", ".kubesmith-artifact")
    etcd_before = os.stat(etcd_marker).st_ino
    tasks, stats = lab.run()
    assert _ran(tasks, "Download | fetch, push and install the missing files") == ["h2"]
    assert sorted(os.listdir(str(lab.top / "controller"))) == ["runc-1.1.5-runc.amd64"]
    assert _pushed(tasks, "h2") == ["runc"]
    assert (stats["h1"]["changed"], stats["h2"]["changed"] > 0) == (0, True)
    assert os.readlink(lab.path("h2", "bin", "runc")) == lab.path("h2", "opt", "runc", "1.1.5", "runc.amd64")
    assert os.stat(etcd_marker).st_ino == etcd_before  # etcd left alone
    assert tasks["Test | what the callers see"]["h2"]["msg"] == "installed changed=True"

    # check mode: a missing artifact is a pending change, nothing is written on the host
    shutil.rmtree(lab.path("h1", "opt", "etcd"))
    os.unlink(lab.path("h1", "cache", "etcd-3.4.23-etcd-v3.4.23.tar.gz"))
    tasks, stats = lab.run("--check")
    assert (stats["h1"]["changed"] > 0, stats["h2"]["changed"]) == (True, 0)
    assert tasks["Download | unpack and link"]["h1"]["changed"] is True
    assert not os.path.exists(lab.path("h1", "opt", "etcd"))
    assert not os.path.exists(lab.path("h1", "cache", "etcd-3.4.23-etcd-v3.4.23.tar.gz"))

    # a damaged cache-only file is replaced by a push
    with open(lab.path("h2", "cache", "image-pause-3.2-pause-3.2.tar"), "wb") as handle:
        handle.write(b"damaged\n")
    tasks, stats = lab.run()
    assert _pushed(tasks, "h1") == ["etcd"]
    assert _pushed(tasks, "h2") == ["image-pause"]
    with open(lab.path("h2", "cache", "image-pause-3.2-pause-3.2.tar"), "rb") as handle:
        assert handle.read() == b"pause image\n"
    assert [lab.run()[1][h]["changed"] for h in HOSTS] == [0, 0]


@pytest.mark.integration
def test_a_pinned_artifact_is_refused_when_the_mirror_serves_another_file_with_a_matching_checksum(lab):
    mirror = lab.top / "mirror" / "dl.example" / "v1"
    good = _sha(str(mirror / "runc.amd64"))
    # the mirror is tampered with: another runc, and a checksum file that matches it
    (mirror / "runc.amd64").write_bytes(b"not runc\n")
    (mirror / "runc.amd64.sha256sum").write_text("%s  runc.amd64\n" % _sha(str(mirror / "runc.amd64")))
    pins = json.dumps({"download_pins": {"dl.example/v1/runc.amd64": good}})
    rc, output = lab.run("-e", pins, ok=False)
    assert rc != 0 and "did not match %s" % good in output, output[-3000:]  # get_url's verdict on the pin
    for host in HOSTS:
        assert not os.path.exists(lab.path(host, "opt", "runc")), "the tampered runc was installed"
    # without the pin, the mirror's own checksum file vouches for its file: that is what pins are for
    tasks, _stats = lab.run()
    with open(lab.path("h1", "opt", "runc", "1.1.5", "runc.amd64"), "rb") as handle:
        assert handle.read() == b"not runc\n"
    # and download_require_pins refuses the unpinned artifact before anything is fetched
    rc, output = lab.run("-e", '{"download_require_pins": true}', ok=False)
    assert rc != 0 and "runc 1.1.5 has no pinned sha256 and download_require_pins is true" in output, output[-3000:]
