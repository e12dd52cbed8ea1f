"""host_files, host_ready and fetch_private through ansible-playbook on localhost (connection local).

host_files: templates rendered by the action plugin on the controller (a playbook's templates/ directory, with
per-file vars), files joined on the host, check mode that writes nothing, a diff with before and after, a second run
with nothing changed, a failed validation that keeps the old file, a secret file never in the output, an unquoted
mode refused. host_ready: a real HTTP server and TCP port, and a closed port that fails the task within its timeout.
fetch_private: an option it does not know is refused by name. (host_services needs systemd: its decisions are
unit-tested and it runs on the Molecule and lab hosts.)
"""

import http.server
import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from support.modules import REPO

SECRET = "kubesmith-test-secret-3f9a"  # noqa: S105 - a marker to find in the output, not a credential


def _play(tmp_path, body, *extra, ok=True):
    (tmp_path / "play.yml").write_text(textwrap.dedent(body))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".collections"))
    inventory = "localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable
    (tmp_path / "hosts").write_text(inventory)
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    proc = subprocess.run([playbook, "-i", str(tmp_path / "hosts"), str(tmp_path / "play.yml")] + list(extra),
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    if not ok:
        return proc.returncode, proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr
    out = json.loads(proc.stdout)
    results = {}
    for play in out["plays"]:
        for task in play["tasks"]:
            results[task["task"]["name"]] = task["hosts"]["localhost"]
    return results, proc.stdout


FILES_PLAY = """
- hosts: localhost
  gather_facts: false
  vars:
    top: {top}
  tasks:
    - name: files
      kubesmith.cluster.host_files:
        directories:
          - {{path: "{{{{ top }}}}/etc/app", mode: "0750"}}
          - "{{{{ top }}}}/var/lib/app"
        files:
          - {{path: "{{{{ top }}}}/etc/app/a.conf", template: unit.j2, vars: {{item: {{name: kubelet}}}}}}
          - {{path: "{{{{ top }}}}/etc/app/b.conf", content: "b={{{{ value }}}}\\n", mode: "0600"}}
          - {{path: "{{{{ top }}}}/etc/app/key.pem", content: "{SECRET}\\n", mode: "0600", secret: true}}
          - {{path: "{{{{ top }}}}/etc/app/bundle.pem", sources: ["{{{{ top }}}}/src", "{{{{ top }}}}/src2"],
             mode: "0600"}}
        absent: ["{{{{ top }}}}/etc/app/stale.conf"]
      register: files
"""


@pytest.fixture
def top(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "unit.j2").write_text("name={{ item.name }} value={{ value }}\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "src").write_text("from the host\n")
    (root / "src2").write_text("and its key\n")
    return root


def _files(tmp_path, top, value, *extra):
    return _play(tmp_path, FILES_PLAY.format(top=top, SECRET=SECRET), "-e", "value=%s" % value, *extra)


def test_host_files_writes_renders_joins_and_reports_nothing_the_second_time(tmp_path, top):
    (top / "etc" / "app").mkdir(parents=True)
    (top / "etc" / "app" / "stale.conf").write_text("old\n")

    results, output = _files(tmp_path, top, "1", "--check", "--diff")
    assert results["files"]["changed"] is True
    assert not (top / "etc" / "app" / "a.conf").exists(), "check mode wrote a file"
    assert (top / "etc" / "app" / "stale.conf").exists(), "check mode removed a file"
    assert SECRET not in output, "a secret file's content reached the output"

    results, output = _files(tmp_path, top, "1", "--diff")
    assert results["files"]["changed"] is True
    assert (top / "etc" / "app" / "a.conf").read_text() == "name=kubelet value=1\n"
    assert (top / "etc" / "app" / "b.conf").read_text() == "b=1\n"
    assert (top / "etc" / "app" / "bundle.pem").read_text() == "from the host\nand its key\n"
    assert not (top / "etc" / "app" / "stale.conf").exists()
    assert stat.S_IMODE(os.stat(top / "etc" / "app").st_mode) == 0o750
    assert stat.S_IMODE(os.stat(top / "etc" / "app" / "b.conf").st_mode) == 0o600
    assert (top / "var" / "lib" / "app").is_dir()
    assert SECRET not in output, "a secret file's content reached the output"
    assert (top / "etc" / "app" / "key.pem").read_text() == SECRET + "\n"

    results, _ = _files(tmp_path, top, "1")
    assert results["files"]["changed"] is False, results["files"]
    assert results["files"]["changed_paths"] == []

    (top / "src2").write_text("and its new key\n")
    results, output = _files(tmp_path, top, "2", "--diff")
    assert results["files"]["written"] == [str(top / "etc" / "app" / "a.conf"), str(top / "etc" / "app" / "b.conf"),
                                           str(top / "etc" / "app" / "bundle.pem")]
    diffs = {d["before_header"]: d for d in results["files"]["diff"]}
    b_conf = diffs[str(top / "etc" / "app" / "b.conf")]
    assert (b_conf["before"], b_conf["after"]) == ("b=1\n", "b=2\n")


def test_host_files_validation_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "app.conf"
    target.write_text("good\n")
    rc, output = _play(tmp_path, """
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: files
              kubesmith.cluster.host_files:
                files:
                  - {path: %s, content: "bad\\n", validate: "grep -q good %%s"}
        """ % target, ok=False)
    assert rc != 0
    assert "%s was not replaced" % target in output, output[-3000:]
    assert target.read_text() == "good\n"
    assert sorted(os.listdir(tmp_path)) == ["app.conf", "hosts", "play.yml"], "a temporary file was left behind"


def test_host_files_refuses_an_unquoted_mode(tmp_path):
    rc, output = _play(tmp_path, """
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: files
              kubesmith.cluster.host_files:
                files:
                  - {path: %s/x, content: "x", mode: 0644}
        """ % tmp_path, ok=False)
    assert rc != 0 and "quote it" in output, output[-3000:]
    assert not (tmp_path / "x").exists()


@pytest.fixture
def server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()


def _closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_host_ready_waits_for_real_endpoints_and_fails_on_a_closed_port_within_its_timeout(tmp_path, server):
    results, _ = _play(tmp_path, """
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: ready
              kubesmith.cluster.host_ready:
                checks:
                  - {url: "http://127.0.0.1:%d/healthz"}
                  - {host: 127.0.0.1, port: %d}
                timeout: 10
        """ % (server, server))
    assert [c["ready"] for c in results["ready"]["checks"]] == [True, True]

    closed = _closed_port()
    start = time.monotonic()
    rc, output = _play(tmp_path, """
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: ready
              kubesmith.cluster.host_ready:
                checks:
                  - {url: "http://127.0.0.1:%d/healthz"}
                  - {name: closed, host: 127.0.0.1, port: %d}
                timeout: 3
        """ % (server, closed), ok=False)
    assert rc != 0
    assert "not ready after 3s: closed (" in output, output[-3000:]
    assert time.monotonic() - start < 60


def test_fetch_private_refuses_an_option_it_does_not_know(tmp_path):
    (tmp_path / "src").write_text("x\n")
    rc, output = _play(tmp_path, """
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: fetch
              kubesmith.cluster.fetch_private:
                src: %s/src
                dest: %s/out/copy
                flat: true
                mode: "0644"
        """ % (tmp_path, tmp_path), ok=False)
    assert rc != 0 and "mode" in output and "Unsupported parameters" in output, output[-3000:]
    assert not (tmp_path / "out").exists()
