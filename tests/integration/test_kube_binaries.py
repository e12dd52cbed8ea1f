"""The rendered 1.20 command lines against the real v1.20.2 binaries of the offline mirror.

`<binary> <our flags> --help` exits 0 only when every flag exists (an unknown flag exits 1).
The binaries come from `tools/build-artifacts.sh kubernetes`, which tools/test runs in its
artifacts tier before this one; without them these tests fail, they are never skipped.
"""

import os
import subprocess

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import control_plane as kcp
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import node_components as knc

MIRROR = os.environ.get("KS_MIRROR_DIR", "/var/cache/kubesmith/mirror")
BIN_DIR = os.environ.get("KS_KUBE_BIN_DIR", os.path.join(MIRROR, "dl.k8s.io/release/v1.20.2/bin/linux/amd64"))
ARGS = {
    "kube-apiserver": kcp.apiserver_args,
    "kube-controller-manager": kcp.controller_manager_args,
    "kube-scheduler": kcp.scheduler_args,
    "kubelet": knc.kubelet_args,
    "kube-proxy": knc.kube_proxy_args,
}
EVERY_OPTION = {
    "advertise_address": "10.0.0.11",
    "etcd_servers": ["https://10.0.0.11:2379", "https://10.0.0.12:2379", "https://10.0.0.13:2379"],
    "node_name": "cp1",
    "node_ip": "10.0.0.11",
    "node_labels": {"pool": "apps"},
    "node_taints": ["dedicated=ops:NoSchedule"],
    "kubelet_root_dir": "/var/lib/kubelet",
    "feature_gates": {"RotateKubeletServerCertificate": True},
    "cluster_signing_duration": "8760h",
    "service_node_port_range": "30000-32767",
}


@pytest.mark.integration
@pytest.mark.parametrize("component", sorted(ARGS))
def test_every_rendered_flag_parses_in_the_real_1_20_binary(component):
    binary = os.path.join(BIN_DIR, component)
    assert os.path.isfile(binary), "%s missing: run `bash tools/build-artifacts.sh kubernetes` first" % binary
    args = ARGS[component]("v1.20.2", EVERY_OPTION)
    result = subprocess.run([binary, *args, "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
