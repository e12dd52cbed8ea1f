"""Misspelt kubesmith variables (issue 18, point 10): warned about with the closest declared names."""

from ansible_collections.kubesmith.cluster.plugins.filter import cluster_network
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster.preflight_host import unknown_variables

KNOWN = {"cluster_pod_cidr", "cluster_node_cidr", "containerd_version", "etcd_version"}


def test_typos_named_with_the_closest_names():
    warnings = unknown_variables(["cluster_pod_cdir", "containerd_verison", "cluster_pod_cidr"], KNOWN)
    assert warnings == [
        "cluster_pod_cdir is not a kubesmith variable, so it changes nothing: did you mean cluster_pod_cidr or "
        "cluster_node_cidr?",
        "containerd_verison is not a kubesmith variable, so it changes nothing: did you mean containerd_version?",
    ]


def test_other_names_and_known_names_pass():
    # ansible's own, the user's own (no kubesmith prefix), declared ones
    names = ["ansible_host", "my_team", "ks_gateway", "etcd_version", "inventory_hostname"]
    assert unknown_variables(names, KNOWN) == []


def test_no_close_name_points_to_the_specs():
    (warning,) = unknown_variables(["node_zzz_qqq"], KNOWN)
    assert warning.endswith("(see the roles' meta/argument_specs.yml)")


def test_the_collection_declares_what_its_docs_name():
    known = cluster_network._known_variables()
    # role defaults, argument specs, survey questions, per-host and run-time names
    for name in ("cluster_pod_cidr", "kube_version", "load_balancer_mode", "node_ip", "node_name", "reset_confirm",
                 "backup_fetch_dir", "containerd_preload_images", "control_plane_fetch_admin_kubeconfig",
                 "worker_node_labels", "addons_extra", "node_ntp_servers", "etcd_snapshot_result"):  # fmt: skip
        assert name in known, name
    assert "cluster_pod_cdir" not in known


def test_filter_reads_the_hosts_variables():
    hostvars = {"a": {"cluster_pod_cdir": "x", "ansible_host": "1.2.3.4"}, "b": {"etcd_version": "3.5.16"}}
    (warning,) = cluster_network.unknown_variables(hostvars, ["a", "b"])
    assert warning.startswith("cluster_pod_cdir is not a kubesmith variable") and "cluster_pod_cidr" in warning
