"""Real local etcd clusters for the etcd module tests (moved here from tests/unit: they start etcd processes and
may build the etcd tarball).

Fixtures (all lazy: nothing starts unless a test asks for it):

- ``etcd_binaries`` (session): etcd/etcdctl(/etcdutl) unpacked from the offline mirror tarball
  ``$KS_MIRROR_DIR/github.com/etcd-io/etcd/releases/download/v<V>/etcd-v<V>-linux-amd64.tar.gz`` (V: the newest
  3.4.x there, or ``$KS_ETCD_TEST_VERSION``). ``tools/test integration`` builds it first
  (``tools/build-artifacts.sh etcd kubernetes``); run on its own, a missing tarball is built with
  ``bash tools/build-artifacts.sh etcd`` (once per session); if that fails the tests fail, they are never skipped.
- ``etcd_pki`` (session): :class:`support.etcd_pki.EtcdPki` (CA, server/peer, client and a rogue client certificate).
- ``etcd_lab`` (function) / ``etcd_lab_module`` (module): an :class:`EtcdLab` that starts TLS members on
  127.0.0.1 with free ports (``--client-cert-auth``, ``--peer-client-cert-auth``) and kills every process group
  it started at teardown.

Waiting is always a poll against a deadline, never a fixed sleep.
"""

import contextlib
import ctypes
import glob
import json
import os
import re
import signal
import socket
import subprocess
import tarfile
import time
import urllib.request

import pytest
from support.etcd_pki import EtcdPki
from support.modules import REPO, free_ports

START_TIMEOUT = 30.0


def etcd_tarball(mirror_dir, version):
    return os.path.join(
        mirror_dir,
        "github.com/etcd-io/etcd/releases/download/v%s/etcd-v%s-linux-amd64.tar.gz" % (version, version),
    )


def _find_tarball(mirror_dir, version):
    """The tarball of ``version``, or (``version`` empty) of the newest 3.4.x in the mirror; ``None`` if missing."""
    if version:
        path = etcd_tarball(mirror_dir, version)
        return path if os.path.isfile(path) else None
    found = []
    for path in glob.glob(etcd_tarball(mirror_dir, "3.4.*")):
        match = re.search(r"/v(3\.4\.[0-9]+)/", path)
        if match:
            found.append((tuple(int(x) for x in match.group(1).split(".")), path))
    return max(found)[1] if found else None


# ---------------------------------------------------------------- binaries


@pytest.fixture(scope="session")
def etcd_binaries(tmp_path_factory):
    """``{"etcd", "etcdctl", "etcdutl" (3.5+ only, else None), "version"}`` unpacked from the mirror tarball.

    The version is ``$KS_ETCD_TEST_VERSION`` when set, else the newest 3.4.x in the mirror (``3.4.23`` from
    Debian bookworm today). A missing tarball is built with ``bash tools/build-artifacts.sh etcd``.
    """
    mirror = os.environ.get("KS_MIRROR_DIR", "/var/cache/kubesmith/mirror")
    version = os.environ.get("KS_ETCD_TEST_VERSION", "")
    tarball = _find_tarball(mirror, version)
    if tarball is None:
        env = dict(os.environ, KS_MIRROR_DIR=mirror)
        proc = subprocess.run(
            ["bash", os.path.join(REPO, "tools", "build-artifacts.sh"), "etcd"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        tarball = _find_tarball(mirror, version)
        if proc.returncode != 0 or tarball is None:
            pytest.fail(
                "no etcd %s tarball under %s and 'bash tools/build-artifacts.sh etcd' did not build it (rc=%d):\n%s\n%s"
                % (version or "3.4.x", mirror, proc.returncode, proc.stdout[-2000:], proc.stderr[-4000:])
            )
    dest = tmp_path_factory.mktemp("etcd-bin")
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            base = os.path.basename(member.name)
            if member.isfile() and base in ("etcd", "etcdctl", "etcdutl"):
                member.name = base
                tar.extract(member, str(dest))  # noqa: S202 - our own mirror artifact, names reduced to basenames
    paths = {name: str(dest / name) for name in ("etcd", "etcdctl", "etcdutl")}
    for name in ("etcd", "etcdctl"):
        assert os.access(paths[name], os.X_OK), "%s not executable after unpacking %s" % (paths[name], tarball)
    if not os.path.exists(paths["etcdutl"]):
        paths["etcdutl"] = None
    return dict(paths, version=re.search(r"/v([0-9.]+)/", tarball).group(1))


# ---------------------------------------------------------------- PKI


@pytest.fixture(scope="session")
def etcd_pki(tmp_path_factory):
    return EtcdPki(tmp_path_factory.mktemp("etcd-pki"))


# ---------------------------------------------------------------- processes


def _die_with_parent():
    """In the child before exec: SIGKILL it when pytest dies (even by SIGKILL), so no etcd outlives the run."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the fixtures' teardown still stops every process
        pass


class EtcdNode:
    """One etcd member process: ``name``, ``client_url``, ``peer_url``, ``data_dir``; started in its own session."""

    def __init__(self, lab, name, data_dir=None):
        self.lab = lab
        self.name = name
        self.client_port, self.peer_port = free_ports(2)
        self.client_url = "https://127.0.0.1:%d" % self.client_port
        self.peer_url = "https://127.0.0.1:%d" % self.peer_port
        self.data_dir = str(data_dir or lab.directory / ("%s.data" % name))
        self.log_path = lab.directory / ("%s.log" % name)
        self.proc = None

    def command(self, initial_cluster, state, token):
        pki = self.lab.pki
        return [
            self.lab.binaries["etcd"],
            "--name=" + self.name,
            "--data-dir=" + self.data_dir,
            "--listen-client-urls=" + self.client_url,
            "--advertise-client-urls=" + self.client_url,
            "--listen-peer-urls=" + self.peer_url,
            "--initial-advertise-peer-urls=" + self.peer_url,
            "--initial-cluster=" + initial_cluster,
            "--initial-cluster-state=" + state,
            "--initial-cluster-token=" + token,
            "--cert-file=%s" % pki.server_cert,
            "--key-file=%s" % pki.server_key,
            "--trusted-ca-file=%s" % pki.ca,
            "--client-cert-auth",
            "--peer-cert-file=%s" % pki.server_cert,
            "--peer-key-file=%s" % pki.server_key,
            "--peer-trusted-ca-file=%s" % pki.ca,
            "--peer-client-cert-auth",
            # Short timers: elections and health converge in well under a second on loopback.
            "--heartbeat-interval=50",
            "--election-timeout=500",
            "--logger=zap",
            "--log-outputs=stderr",
        ]

    def start(self, initial_cluster=None, state="new", token="kubesmith-test"):  # noqa: S107 - a cluster token
        """Start the process (``initial_cluster`` defaults to this member alone); does not wait."""
        assert self.proc is None or self.proc.poll() is not None, "%s is already running" % self.name
        initial_cluster = initial_cluster or "%s=%s" % (self.name, self.peer_url)
        log = open(str(self.log_path), "ab")  # noqa: SIM115 - handed to the child, closed right after
        try:
            self.proc = subprocess.Popen(
                self.command(initial_cluster, state, token),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # runs between fork and exec: only prctl
            )
        finally:
            log.close()
        self.lab.started.append(self)
        return self

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines=30):
        try:
            with open(str(self.log_path), "rb") as handle:
                return b"\n".join(handle.read().splitlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return "(no log)"

    def health(self, timeout=1.0):
        """``True`` when ``/health`` answers ``{"health": "true"}``."""
        try:
            with urllib.request.urlopen(  # noqa: S310 - https to our own test member
                self.client_url + "/health", timeout=timeout, context=self.lab.pki.ssl_context()
            ) as response:
                return json.loads(response.read().decode()).get("health") == "true"
        except (OSError, ValueError):
            return False

    def wait_healthy(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise AssertionError("etcd %s exited (rc=%s):\n%s" % (self.name, self.proc.returncode, self.log_tail()))
            if self.health():
                return self
            time.sleep(0.05)  # poll interval of the readiness check (bounded by its deadline)
        raise AssertionError("etcd %s not healthy after %.0fs:\n%s" % (self.name, timeout, self.log_tail()))

    def wait_listening(self, timeout=START_TIMEOUT):
        """Wait until the client port accepts TCP connections (a learner or a member without quorum)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise AssertionError("etcd %s exited (rc=%s):\n%s" % (self.name, self.proc.returncode, self.log_tail()))
            try:
                socket.create_connection(("127.0.0.1", self.client_port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)  # poll interval of the readiness check (bounded by its deadline)
        raise AssertionError("etcd %s does not listen after %.0fs:\n%s" % (self.name, timeout, self.log_tail()))

    def stop(self):
        """Kill the process group (SIGTERM, then SIGKILL after 5 s) and reap it."""
        if self.proc is None or self.proc.returncode is not None:
            return
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                continue


class EtcdLab:
    """Starts TLS etcd members under ``directory`` and stops all of them in :meth:`close`."""

    def __init__(self, directory, binaries, pki):
        self.directory = directory
        self.binaries = binaries
        self.pki = pki
        self.started = []
        self.token_counter = 0

    def node(self, name, data_dir=None):
        return EtcdNode(self, name, data_dir=data_dir)

    def cluster(self, *names):
        """Start a new cluster of the named members and wait until every member is healthy."""
        nodes = [self.node(name) for name in names]
        self.token_counter += 1
        token = "kubesmith-test-%d" % self.token_counter
        initial = ",".join("%s=%s" % (n.name, n.peer_url) for n in nodes)
        for n in nodes:
            n.start(initial, "new", token)
        for n in nodes:
            n.wait_healthy()
        return nodes

    def etcdctl(self, endpoints, *args, check=True, timeout=20):
        """Run etcdctl (API v3) with the client certificate; returns the CompletedProcess."""
        pki = self.pki
        cmd = [
            self.binaries["etcdctl"],
            "--endpoints=" + ",".join(endpoints),
            "--cacert=%s" % pki.ca,
            "--cert=%s" % pki.client_cert,
            "--key=%s" % pki.client_key,
            "--dial-timeout=3s",
            "--command-timeout=10s",
        ] + list(args)
        proc = subprocess.run(
            cmd, capture_output=True, text=True, check=False, timeout=timeout, env=dict(os.environ, ETCDCTL_API="3")
        )
        if check and proc.returncode != 0:
            raise AssertionError("etcdctl %s failed (rc=%d): %s" % (" ".join(args), proc.returncode, proc.stderr))
        return proc

    def member_list(self, endpoint):
        """Members as etcdctl sees them: ``[{"name", "id", "peer_urls", "client_urls", "is_learner"}]``."""
        data = json.loads(self.etcdctl([endpoint], "member", "list", "-w", "json").stdout)
        return [
            {
                "name": m.get("name", ""),
                "id": str(m["ID"]),
                "peer_urls": m.get("peerURLs", []),
                "client_urls": m.get("clientURLs", []),
                "is_learner": bool(m.get("isLearner", False)),
            }
            for m in data.get("members", [])
        ]

    def close(self):
        for n in self.started:
            n.stop()


@pytest.fixture
def etcd_lab(tmp_path, etcd_binaries, etcd_pki):
    lab = EtcdLab(tmp_path / "etcd", etcd_binaries, etcd_pki)
    lab.directory.mkdir()
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="module")
def etcd_lab_module(tmp_path_factory, etcd_binaries, etcd_pki):
    lab = EtcdLab(tmp_path_factory.mktemp("etcd-lab"), etcd_binaries, etcd_pki)
    try:
        yield lab
    finally:
        lab.close()
