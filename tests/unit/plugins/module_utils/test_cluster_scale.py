import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import scale as cluster_scale

GROUPS = {
    "etcd": ["cp1", "cp2", "cp3"],
    "control_plane": ["cp1", "cp2", "cp3"],
    "workers": ["w1"],
}
EVERY = ["cp1", "cp2", "cp3", "w1"]


def _plan(groups=None, registered=EVERY, members=("cp1", "cp2", "cp3"), play=None, lbs=("cp1", "cp2", "cp3"), **kw):
    groups = groups or GROUPS
    hosts = sorted(set(h for g in groups.values() for h in g))
    return cluster_scale.plan(
        groups,
        kw.get("node_names", {}),
        registered,
        kw.get("etcd_names", {}),
        None if members is None else list(members),
        play if play is not None else hosts,
        lbs,
    )


def test_nothing_new_is_nothing_to_do():
    result = _plan()
    assert result["new"] == [] and not result["roll"] and result["errors"] == []
    assert result["summary"].startswith("nothing to add")


def test_a_new_worker_adds_only_itself_and_rolls_nothing():
    groups = dict(GROUPS, workers=["w1", "w2"])
    result = _plan(groups)
    assert result["new"] == ["w2"] and result["new_nodes"] == ["w2"]
    assert result["new_control_plane"] == [] and result["new_etcd"] == []
    assert not result["roll"] and result["roll_hosts"] == []
    assert result["errors"] == []


def test_limit_to_a_new_worker_is_enough():
    groups = dict(GROUPS, workers=["w1", "w2"])
    assert _plan(groups, play=["w2"])["errors"] == []


def test_a_new_control_plane_host_rolls_the_control_plane_and_the_load_balancers():
    groups = dict(GROUPS, control_plane=["cp1", "cp2", "cp3", "cp4"])
    result = _plan(groups, lbs=["cp1", "cp2", "cp3", "cp4", "lb9"])
    assert result["new"] == ["cp4"] and result["new_control_plane"] == ["cp4"]
    assert result["roll"] and result["roll_hosts"] == ["cp1", "cp2", "cp3", "lb9"]
    assert "updated one host at a time" in result["summary"]


def test_a_new_control_plane_host_under_a_limit_that_leaves_out_the_others_is_refused():
    groups = dict(GROUPS, control_plane=["cp1", "cp2", "cp3", "cp4"])
    (error,) = _plan(groups, play=["cp4"])["errors"]
    assert "adding cp4" in error and "leaves out cp1, cp2, cp3" in error and "without --limit" in error


def test_a_new_etcd_member_rolls_the_control_plane():
    groups = dict(GROUPS, etcd=["cp1", "cp2", "cp3", "e4", "e5"])
    result = _plan(groups)
    assert result["new"] == ["e4", "e5"] and result["new_etcd"] == ["e4", "e5"] and result["new_nodes"] == []
    assert result["roll"]


def test_member_and_node_names_come_from_the_inventory_variables():
    result = _plan(
        registered=["node-a", "cp2", "cp3", "w1"],
        members=["etcd-a", "cp2", "cp3"],
        node_names={"cp1": "node-a"},
        etcd_names={"cp1": "etcd-a"},
    )
    assert result["new"] == []


def test_a_new_first_control_plane_host_is_refused_it_keeps_the_cas():
    groups = dict(GROUPS, control_plane=["cp0", "cp1", "cp2", "cp3"])
    errors = _plan(groups)["errors"]
    assert any("cp0 is first in group control_plane" in e and "CAs" in e for e in errors)


def test_an_empty_cluster_is_site_yml_business():
    errors = _plan(registered=[], members=[])["errors"]
    assert any("build it with site.yml" in e for e in errors)
    assert any("no host of the etcd group is an etcd member" in e for e in errors)


def test_no_etcd_group_means_no_etcd_check():
    groups = {"control_plane": ["cp1"], "workers": ["w1", "w2"]}
    result = _plan(groups, registered=["cp1", "w1"], members=None, lbs=())
    assert result["new"] == ["w2"] and result["new_etcd"] == [] and result["errors"] == []


def test_new_hosts_outside_the_limit_are_named_in_the_summary():
    groups = dict(GROUPS, workers=["w1", "w2", "w3"])
    result = _plan(groups, play=["w2"])
    assert result["new"] == ["w2", "w3"]
    assert "not in this run: w3" in result["summary"]


def test_a_host_in_several_groups_is_listed_once_in_inventory_order():
    groups = {
        "etcd": ["cp1", "cp2", "cp3", "cp4", "cp5"],
        "control_plane": ["cp1", "cp2", "cp3", "cp4", "cp5"],
        "workers": ["w1", "cp5"],
    }
    result = _plan(groups)
    assert result["new"] == ["cp4", "cp5"]
    assert result["new_control_plane"] == ["cp4", "cp5"] and result["new_etcd"] == ["cp4", "cp5"]


@pytest.mark.parametrize("lbs", [(), ("lb1",)])
def test_roll_hosts_are_the_control_plane_then_the_other_load_balancers(lbs):
    groups = dict(GROUPS, control_plane=["cp1", "cp2", "cp3", "cp4"])
    assert _plan(groups, lbs=lbs)["roll_hosts"] == ["cp1", "cp2", "cp3"] + list(lbs)


def test_new_hosts_are_never_roll_hosts_even_between_existing_ones():
    """The existing load balancers learn a new VRRP peer before the new host starts keepalived."""
    groups = dict(GROUPS, etcd=["cp1", "cp2", "cp3", "w1", "cpx"], control_plane=["cp1", "cpx", "cp2", "cp3"])
    result = _plan(groups, lbs=["cp1", "cpx", "cp2", "cp3"])
    assert result["new"] == ["w1", "cpx"] and result["new_etcd"] == ["w1", "cpx"]
    assert result["roll_hosts"] == ["cp1", "cp2", "cp3"]
