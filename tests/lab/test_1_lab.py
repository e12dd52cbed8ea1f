"""The lab the README's main command built (`tools/lab up`), checked as a newcomer would: with the kubectl it
prints (`.lab/kubectl`: the venv's kubectl from requirements-lab.txt with `.lab/admin.conf`).

Run by `tools/test lab` right after `tools/lab up`, before `tools/lab down`.
"""

import json
import os
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KUBECTL = os.path.join(ROOT, ".lab", "kubectl")
POD = "ks-lab-check"
IMAGE = "localhost/kubesmith/busybox:1.35"  # preloaded by the lab inventory (no registry here)


def kubectl(*args, check=True, timeout=60):
    proc = subprocess.run([KUBECTL, *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        pytest.fail("kubectl %s failed (%d): %s" % (" ".join(args), proc.returncode, proc.stderr.strip()))
    return proc


def ready(node):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])


def test_admin_kubeconfig_is_private():
    conf = os.path.join(ROOT, ".lab", "admin.conf")
    assert os.stat(conf).st_mode & 0o777 == 0o600, "the admin kubeconfig is readable by others"
    assert os.stat(os.path.dirname(conf)).st_mode & 0o777 == 0o700


def test_every_node_ready():
    deadline = time.monotonic() + 120
    while True:
        nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
        if nodes and all(ready(n) for n in nodes):
            break
        if time.monotonic() > deadline:
            pytest.fail("nodes not Ready after 120 s: %s" % {n["metadata"]["name"]: ready(n) for n in nodes})
        time.sleep(2)  # poll interval of the readiness check above
    assert [n["metadata"]["name"] for n in nodes] == ["ks-lab-1"]
    assert nodes[0]["status"]["nodeInfo"]["kubeletVersion"] == "v1.20.2"


def test_a_pod_runs_and_answers_exec():
    kubectl("delete", "pod", POD, "--ignore-not-found", "--wait=true")
    kubectl("run", POD, "--image=" + IMAGE, "--image-pull-policy=Never", "--restart=Never", "--", "sleep", "3600")
    try:
        kubectl("wait", "--for=condition=Ready", "pod/" + POD, "--timeout=120s", timeout=150)
        pod = json.loads(kubectl("get", "pod", POD, "-o", "json").stdout)
        assert pod["status"]["phase"] == "Running"
        assert pod["spec"]["nodeName"] == "ks-lab-1"
        # exec goes apiserver -> kubelet -> containerd: the whole path a user's kubectl takes
        out = kubectl("exec", POD, "--", "sh", "-c", "echo hello-from-$(hostname)").stdout.strip()
        assert out == "hello-from-" + POD
    finally:
        kubectl("delete", "pod", POD, "--ignore-not-found", "--wait=false", check=False)
