"""preflight.primary_ca_errors and its filter: a first control-plane host without the cluster CA while another has
it (a new host listed first) is refused by preflight, before the node step changes any host."""

import pytest
from ansible_collections.kubesmith.cluster.plugins.filter import cluster_network as cn
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import preflight_host as pf

CP = ["new-1", "cp-1", "cp-2"]


def test_a_new_host_listed_first_is_refused_with_the_cause_and_the_fix():
    errors = pf.primary_ca_errors(CP, {"new-1": False, "cp-1": True, "cp-2": True})
    assert errors == [
        "the cluster CA is missing on the primary control-plane host new-1 (the first host of group control_plane), "
        "but cp-1, cp-2 have it. If new-1 is a new host, list a control-plane host that already runs first in group "
        "control_plane: the first host keeps the CAs. Nothing was changed."
    ]
    assert "but cp-2 has it" in pf.primary_ca_errors(CP, {"new-1": False, "cp-1": False, "cp-2": True})[0]


@pytest.mark.parametrize(
    "has_ca",
    [
        {"new-1": False, "cp-1": False, "cp-2": False},  # a new cluster: nobody has a CA yet
        {"new-1": True, "cp-1": False, "cp-2": True},  # the first host keeps the CAs (a new host listed later)
        {"new-1": True, "cp-1": True, "cp-2": True},
        {"cp-1": True, "cp-2": True},  # the first host was left out by --limit: nothing to decide
        {},
    ],
)
def test_nothing_refused_while_the_first_host_has_the_ca_or_nobody_does(has_ca):
    assert pf.primary_ca_errors(CP, has_ca) == []


def test_no_control_plane_group_refuses_nothing():
    assert pf.primary_ca_errors([], {"etcd-1": True}) == []


def _stat(exists):
    return {"changed": False, "stat": {"exists": exists}}


def test_filter_reads_the_registered_stat_results_of_the_control_plane_hosts():
    groups = {"control_plane": CP, "workers": ["w-1"]}
    hostvars = {
        "new-1": {"ks_ca": _stat(False)},
        "cp-1": {"ks_ca": _stat(True)},
        "cp-2": {"ks_ca": {"skipped": True, "changed": False}},  # a skipped task decides nothing
        "w-1": {"ks_ca": _stat(True)},  # not a control-plane host: not read
    }
    errors = cn.primary_ca_errors(groups, hostvars, "ks_ca")
    assert len(errors) == 1 and "but cp-1 has it" in errors[0]
    hostvars["cp-1"] = {}  # not probed (e.g. --limit)
    assert cn.primary_ca_errors(groups, hostvars, "ks_ca") == []
    assert cn.primary_ca_errors({"etcd": ["e-1"]}, {"e-1": {"ks_ca": _stat(True)}}, "ks_ca") == []
