"""Helm add-ons: exactly what the role passes to kubernetes.core.helm."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.addons import helm as addon_helm

KUBECONFIG = "/etc/kubernetes/admin.conf"
HELM = "/usr/local/bin/helm"
SCRATCH = "/tmp/x.kubesmith-addons"


def item(**kwargs):
    base = {"name": "ingress", "type": "helm", "state": "present", "chart": "/srv/charts/ingress-nginx-4.11.3.tgz",
            "release_name": "ingress", "namespace": "default", "values": {}, "create_namespace": False,
            "wait": True, "timeout": 300}
    base.update(kwargs)
    return base


def test_present_from_a_tgz_with_values():
    values = {"controller": {"replicaCount": 2, "service": {"type": "NodePort"}}}
    args = addon_helm.helm_args(item(values=values, namespace="ingress", create_namespace=True, release_name="edge"),
                                KUBECONFIG, HELM, SCRATCH)
    assert args == {
        "chart_ref": SCRATCH + "/ingress/ingress-nginx-4.11.3.tgz",
        "release_name": "edge",
        "release_namespace": "ingress",
        "release_state": "present",
        "release_values": values,
        "create_namespace": True,
        "wait": True,
        "timeout": "5m0s",
        "kubeconfig": KUBECONFIG,
        "binary_path": HELM,
    }
    assert args["release_values"] is not values  # a copy: the inventory's dict is never modified


def test_present_from_a_chart_directory_trailing_slash():
    args = addon_helm.helm_args(item(chart="/srv/charts/mychart/", wait=False, timeout=45), KUBECONFIG, HELM, SCRATCH)
    assert args["chart_ref"] == SCRATCH + "/ingress/mychart"
    assert args["wait"] is False and args["timeout"] == "45s"


def test_absent_uninstalls_without_a_chart():
    args = addon_helm.helm_args(item(state="absent", chart=None, values={"a": 1}, create_namespace=True),
                                KUBECONFIG, HELM, SCRATCH)
    assert args["release_state"] == "absent"
    assert args["chart_ref"] is None and args["release_values"] == {} and args["create_namespace"] is False
    assert args["release_name"] == "ingress" and args["kubeconfig"] == KUBECONFIG and args["binary_path"] == HELM


def test_defaults_when_validation_did_not_fill_them():
    args = addon_helm.helm_args({"name": "x", "type": "helm", "chart": "/c.tgz"}, KUBECONFIG, HELM, SCRATCH)
    assert args["release_name"] == "x" and args["release_namespace"] == "default"
    assert args["wait"] is True and args["timeout"] == "5m0s" and args["create_namespace"] is False


@pytest.mark.parametrize("seconds, duration", [(1, "1s"), (59, "59s"), (60, "1m0s"), (61, "1m1s"), (600, "10m0s")])
def test_timeout_is_a_go_duration(seconds, duration):
    assert addon_helm.helm_args(item(timeout=seconds), KUBECONFIG, HELM, SCRATCH)["timeout"] == duration


def test_not_a_helm_addon_or_no_chart():
    with pytest.raises(addon_helm.HelmAddonError, match="of type kustomize, not helm"):
        addon_helm.helm_args({"name": "k", "type": "kustomize"}, KUBECONFIG, HELM, SCRATCH)
    with pytest.raises(addon_helm.HelmAddonError, match="chart is required"):
        addon_helm.chart_dest({"name": "k"}, SCRATCH)
