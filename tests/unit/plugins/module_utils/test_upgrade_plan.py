"""Unit tests for plugins/module_utils/upgrade/plan.py (the rolling-upgrade planner: order, skew policy, refusals)."""

import copy

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.upgrade import plan as upgrade_plan
from ansible_collections.kubesmith.cluster.plugins.module_utils.upgrade.plan import (
    SUPPORTED_ETCD,
    UpgradePlanError,
    kubelet_skew,
    parse_triple,
    plan,
    worker_batch_size,
)

CPS = ["cp1", "cp2", "cp3"]


def cluster(kube="v1.20.2", etcd="3.4.23", containerd="1.6.20", workers=("w1",), cps=CPS):
    """current/target/settings of a stacked HA cluster: the issue's scenario by default."""
    nodes = list(cps) + list(workers)
    current = {
        "apiservers": {h: kube for h in cps},
        "kubelets": {h: kube for h in nodes},
        "etcd": {h: etcd for h in cps},
        "containerd": {h: containerd for h in nodes},
    }
    target = {"kube_version": "1.20.2+kubesmith.1", "etcd_version": "3.5.16", "containerd_version": "1.7.24"}
    settings = {"etcd_hosts": list(cps), "control_plane_hosts": list(cps), "worker_hosts": list(workers)}
    return current, target, settings


def shape(result):
    """The steps as (phase, hosts, components) tuples: what the order tests compare."""
    return [(s["phase"], s["hosts"], s["components"]) for s in result["steps"]]


def refused(current, target, settings, match):
    with pytest.raises(UpgradePlanError, match=match):
        plan(current, target, settings)


# --------------------------------------------------------------------------- the issue's scenario


def test_issue_scenario_full_plan():
    current, target, settings = cluster()
    result = plan(current, target, settings)
    assert shape(result) == [
        ("etcd", ["cp1"], ["etcd"]),
        ("etcd", ["cp2"], ["etcd"]),
        ("etcd", ["cp3"], ["etcd"]),
        ("control_plane", ["cp1"], ["apiserver", "kubelet", "containerd"]),
        ("control_plane", ["cp2"], ["apiserver", "kubelet", "containerd"]),
        ("control_plane", ["cp3"], ["apiserver", "kubelet", "containerd"]),
        ("workers", ["w1"], ["kubelet", "containerd"]),
    ]
    assert result["skipped"] == []
    first_cp = result["steps"][3]
    assert first_cp["drain"] is True
    assert first_cp["from"] == {"cp1": {"apiserver": "v1.20.2", "kubelet": "v1.20.2", "containerd": "1.6.20"}}
    assert first_cp["to"] == {
        "apiserver": "v1.20.2+kubesmith.1",
        "kubelet": "v1.20.2+kubesmith.1",
        "containerd": "1.7.24",
    }
    assert result["steps"][0]["drain"] is False
    assert result["steps"][0]["from"] == {"cp1": {"etcd": "3.4.23"}}
    assert result["steps"][0]["to"] == {"etcd": "3.5.16"}
    assert "etcd: 3 steps (cp1, cp2, cp3) -> etcd 3.5.16" in result["summary"]
    assert "workers: 1 step (w1)" in result["summary"]


def test_resume_after_cp1_done():
    current, target, settings = cluster()
    current["etcd"] = {"cp1": "3.5.16", "cp2": "3.5.16", "cp3": "3.5.16"}
    current["apiservers"]["cp1"] = "v1.20.2+kubesmith.1"
    current["kubelets"]["cp1"] = "1.20.2+kubesmith.1"
    current["containerd"]["cp1"] = "1.7.24"
    result = plan(current, target, settings)
    assert shape(result) == [
        ("control_plane", ["cp2"], ["apiserver", "kubelet", "containerd"]),
        ("control_plane", ["cp3"], ["apiserver", "kubelet", "containerd"]),
        ("workers", ["w1"], ["kubelet", "containerd"]),
    ]
    assert result["skipped"] == ["cp1"]
    assert "already at target: cp1" in result["summary"]


def test_everything_at_target_is_a_noop():
    current, target, settings = cluster(kube="v1.20.2+kubesmith.1", etcd="3.5.16", containerd="1.7.24")
    result = plan(current, target, settings)
    assert result["steps"] == []
    assert result["skipped"] == ["cp1", "cp2", "cp3", "w1"]
    assert result["summary"].startswith("nothing to do")


def test_half_done_host_only_gets_what_it_lacks():
    current, target, settings = cluster(kube="v1.20.2+kubesmith.1", etcd="3.5.16", containerd="1.7.24")
    current["containerd"]["w1"] = "1.6.20"  # stopped between the containerd swap and the end of the host
    result = plan(current, target, settings)
    assert shape(result) == [("workers", ["w1"], ["containerd"])]
    assert result["steps"][0]["drain"] is True
    assert result["skipped"] == ["cp1", "cp2", "cp3"]


# --------------------------------------------------------------------------- build tags


@pytest.mark.parametrize(
    "running, wanted, upgrade",
    [
        ("v1.20.2", "v1.20.2+kubesmith.1", True),  # tag added: new binaries
        ("v1.20.2+kubesmith.1", "v1.20.2+kubesmith.2", True),  # tag changed
        ("v1.20.2+kubesmith.2", "v1.20.2+kubesmith.1", True),  # tags have no order: a rebuild, not a downgrade
        ("v1.20.2+kubesmith.1", "v1.20.2", True),  # tag removed
        ("1.20.2+kubesmith.1", "v1.20.2+kubesmith.1", False),  # the leading v does not matter
        ("v1.20.2", "1.20.2", False),
    ],
)
def test_build_tag_only_change_counts_as_upgrade(running, wanted, upgrade):
    current, target, settings = cluster(kube=running, etcd="3.5.16", containerd="1.7.24")
    target["kube_version"] = wanted
    result = plan(current, target, settings)
    assert bool(result["steps"]) is upgrade
    if upgrade:
        assert all(c in result["steps"][0]["components"] for c in ("apiserver", "kubelet"))


# --------------------------------------------------------------------------- order and batches


@pytest.mark.parametrize(
    "batch, expected",
    [
        (1, [["w1"], ["w2"], ["w3"], ["w4"], ["w5"]]),
        (2, [["w1", "w2"], ["w3", "w4"], ["w5"]]),
        ("2", [["w1", "w2"], ["w3", "w4"], ["w5"]]),
        ("40%", [["w1", "w2"], ["w3", "w4"], ["w5"]]),
        ("25%", [["w1"], ["w2"], ["w3"], ["w4"], ["w5"]]),  # 1.25 rounds down to 1
        ("10%", [["w1"], ["w2"], ["w3"], ["w4"], ["w5"]]),  # at least 1
        ("100%", [["w1", "w2", "w3", "w4", "w5"]]),
        (10, [["w1", "w2", "w3", "w4", "w5"]]),
    ],
)
def test_worker_batches(batch, expected):
    workers = ("w1", "w2", "w3", "w4", "w5")
    current, target, settings = cluster(workers=workers)
    settings["worker_batch"] = batch
    result = plan(current, target, settings)
    assert [s["hosts"] for s in result["steps"] if s["phase"] == "workers"] == expected


def test_batch_size_counts_all_workers_on_resume():
    workers = ("w1", "w2", "w3", "w4")
    current, target, settings = cluster(workers=workers)
    for host in ("w1", "w2"):
        current["kubelets"][host] = "v1.20.2+kubesmith.1"
        current["containerd"][host] = "1.7.24"
    settings["worker_batch"] = "50%"
    result = plan(current, target, settings)
    assert [s["hosts"] for s in result["steps"] if s["phase"] == "workers"] == [["w3", "w4"]]


def test_mixed_batch_from_lists_only_what_changes():
    current, target, settings = cluster(workers=("w1", "w2"))
    current["kubelets"]["w2"] = "v1.20.2+kubesmith.1"
    settings["worker_batch"] = 2
    step = plan(current, target, settings)["steps"][-1]
    assert step["components"] == ["kubelet", "containerd"]
    assert step["from"] == {"w1": {"kubelet": "v1.20.2", "containerd": "1.6.20"}, "w2": {"containerd": "1.6.20"}}


@pytest.mark.parametrize("batch", [0, -1, "0", "0%", "150%", "half", "", None, True, 1.5])
def test_bad_worker_batch(batch):
    current, target, settings = cluster()
    settings["worker_batch"] = batch
    refused(current, target, settings, "upgrade_worker_batch")


def test_worker_batch_size_direct():
    assert worker_batch_size("33%", 10) == 3
    assert worker_batch_size(" 50 % ", 3) == 1
    assert worker_batch_size(3, 1) == 3


def test_minor_upgrade_defers_control_plane_kubelets():
    current, target, settings = cluster(kube="v1.35.4", etcd="3.5.21", containerd="2.0.5")
    target.update(kube_version="v1.36.1", etcd_version="3.6.5", containerd_version="2.1.4")
    result = plan(current, target, settings)
    assert shape(result) == [
        ("etcd", ["cp1"], ["etcd"]),
        ("etcd", ["cp2"], ["etcd"]),
        ("etcd", ["cp3"], ["etcd"]),
        ("control_plane", ["cp1"], ["apiserver"]),
        ("control_plane", ["cp2"], ["apiserver"]),
        ("control_plane", ["cp3"], ["apiserver"]),
        ("control_plane", ["cp1"], ["kubelet", "containerd"]),
        ("control_plane", ["cp2"], ["kubelet", "containerd"]),
        ("control_plane", ["cp3"], ["kubelet", "containerd"]),
        ("workers", ["w1"], ["kubelet", "containerd"]),
    ]
    assert [s["drain"] for s in result["steps"][3:6]] == [False, False, False]
    assert "after every apiserver" in result["summary"]


def test_minor_upgrade_resumes_half_finished_control_plane():
    current, target, settings = cluster(kube="v1.35.4", etcd="3.6.5", containerd="2.1.4")
    target.update(kube_version="v1.36.1", etcd_version="3.6.5", containerd_version="2.1.4")
    current["apiservers"]["cp1"] = "v1.36.1"
    result = plan(current, target, settings)
    assert shape(result)[:2] == [("control_plane", ["cp2"], ["apiserver"]), ("control_plane", ["cp3"], ["apiserver"])]
    assert ("control_plane", ["cp1"], ["kubelet"]) in shape(result)


def test_external_etcd_and_control_plane_not_a_node():
    current, target, settings = cluster()
    current["etcd"] = {"e1": "3.4.23", "e2": "3.4.23", "e3": "3.4.23"}
    settings["etcd_hosts"] = ["e1", "e2", "e3"]
    del current["kubelets"]["cp3"]
    del current["containerd"]["cp3"]
    result = plan(current, target, settings)
    assert shape(result)[:3] == [("etcd", [h], ["etcd"]) for h in ("e1", "e2", "e3")]
    assert ("control_plane", ["cp3"], ["apiserver"]) in shape(result)
    assert [s["drain"] for s in result["steps"] if s["hosts"] == ["cp3"]] == [False]


def test_single_host_in_every_group():
    current, target, settings = cluster(cps=["n1"], workers=())
    settings["worker_hosts"] = ["n1"]  # also a worker: handled as a control-plane host
    assert shape(plan(current, target, settings)) == [
        ("etcd", ["n1"], ["etcd"]),
        ("control_plane", ["n1"], ["apiserver", "kubelet", "containerd"]),
    ]


def test_optional_targets_leave_components_alone():
    current, target, settings = cluster()
    del target["etcd_version"]
    del target["containerd_version"]
    result = plan(current, target, settings)
    assert all(s["phase"] != "etcd" for s in result["steps"])
    assert all("containerd" not in s["components"] for s in result["steps"])


def test_patch_downgrade_with_allow_downgrade():
    current, target, settings = cluster(kube="v1.20.3", etcd="3.5.17", containerd="1.7.25")
    refused(current, target, settings, "allow_downgrade")
    settings["allow_downgrade"] = True
    result = plan(current, target, settings)
    assert result["steps"][0]["from"] == {"cp1": {"etcd": "3.5.17"}}
    assert result["steps"][-1]["to"]["kubelet"] == "v1.20.2+kubesmith.1"


# --------------------------------------------------------------------------- refusals: Kubernetes skew


@pytest.mark.parametrize(
    "running, wanted, match",
    [
        ("v1.35.4", "v1.37.0", r"would skip a minor.*first to 1\.36"),
        ("v1.20.2", "v1.35.0", r"would skip 14 minors"),
        ("v1.36.1", "v1.35.4", r"newer minor than the target.*minor downgrades are not supported"),
        ("v1.20.3", "v1.20.2", r"newer than the target.*allow_downgrade"),
    ],
)
def test_control_plane_skew_refused(running, wanted, match):
    current, target, settings = cluster(kube=running, etcd="3.5.16", containerd="1.7.24")
    target["kube_version"] = wanted
    target["containerd_version"] = "2.1.4" if wanted.startswith("v1.3") else "1.7.24"
    target["etcd_version"] = "3.5.16"
    refused(current, target, settings, match)


def test_minor_downgrade_refused_even_with_allow_downgrade():
    current, target, settings = cluster(kube="v1.36.0", etcd="3.5.16", containerd="2.1.4")
    target.update(kube_version="v1.35.4", containerd_version="2.1.4")
    settings["allow_downgrade"] = True
    refused(current, target, settings, "minor downgrades are not supported")


def test_mixed_apiservers_more_than_one_minor_apart():
    current, target, settings = cluster(kube="v1.35.4", etcd="3.5.16", containerd="2.1.4")
    target.update(kube_version="v1.36.0", containerd_version="2.1.4")
    current["apiservers"]["cp1"] = "v1.37.0"
    current["apiservers"]["cp3"] = "v1.35.0"
    refused(current, target, settings, "more than one apart.*cp1=v1.37.0.*finish the earlier upgrade")


@pytest.mark.parametrize("kubelet", ["v1.20.3", "v1.21.0"])
def test_kubelet_newer_than_target_apiserver(kubelet):
    current, target, settings = cluster()
    current["kubelets"]["w1"] = kubelet
    refused(current, target, settings, "kubelet on w1 runs %s, newer than the target apiserver" % kubelet)


def test_kubelet_newer_minor_refused_even_with_allow_downgrade():
    current, target, settings = cluster()
    current["kubelets"]["w1"] = "v1.21.0"
    settings["allow_downgrade"] = True
    refused(current, target, settings, "newer than the target apiserver")


def test_target_kubelet_newer_than_current_apiservers_is_fine():
    # the apiservers run v1.35.4, the target is v1.36.1: kubelets go to v1.36.1 after the control plane
    current, target, settings = cluster(kube="v1.35.4", etcd="3.5.21", containerd="2.1.4")
    target.update(kube_version="v1.36.1", etcd_version="3.5.21", containerd_version="2.1.4")
    current["kubelets"]["w1"] = "v1.36.1"  # already upgraded (a re-run after a manual fix)
    result = plan(current, target, settings)
    assert "w1" in result["skipped"]


@pytest.mark.parametrize(
    "apiserver, kubelet, wanted, ok",
    [
        ("v1.35.4", "v1.32.9", "v1.35.5", True),  # 3 minors since 1.28
        ("v1.35.4", "v1.32.9", "v1.36.0", False),  # would be 4
        ("v1.36.0", "v1.33.0", "v1.36.0", True),  # a kubelet left behind: 3 minors
        ("v1.20.2", "v1.18.20", "v1.20.2+kubesmith.1", True),  # 2 minors before 1.28
        ("v1.20.2", "v1.17.17", "v1.20.2+kubesmith.1", False),
    ],
)
def test_kubelet_skew(apiserver, kubelet, wanted, ok):
    containerd = "1.7.24" if wanted.startswith("v1.20") else "2.1.4"
    etcd = "3.5.16"
    current, target, settings = cluster(kube=apiserver, etcd=etcd, containerd=containerd)
    target.update(kube_version=wanted, etcd_version=etcd, containerd_version=containerd)
    current["kubelets"]["w1"] = kubelet
    if ok:
        assert plan(current, target, settings)["steps"][-1]["hosts"] == ["w1"]
    else:
        refused(current, target, settings, r"kubelet on w1 runs .* minors older.*lag the apiserver by [23] minors")


def test_kubelet_skew_table():
    assert kubelet_skew("v1.20.2") == 2
    assert kubelet_skew("1.27.0") == 2
    assert kubelet_skew("1.28.0") == 3
    assert kubelet_skew("v1.37.1") == 3


# --------------------------------------------------------------------------- refusals: etcd and containerd


@pytest.mark.parametrize(
    "kube, containerd, etcd, match",
    [
        ("v1.20.2+kubesmith.1", "1.7.24", "3.6.5", r"etcd 3.6.5 does not work with Kubernetes 1.20"),
        ("v1.35.4", "2.1.4", "3.4.23", r"etcd 3.4.23 does not work with Kubernetes 1.35"),
        ("v1.20.2+kubesmith.1", "2.0.1", "3.5.16", r"containerd 2.0.1 does not work with Kubernetes"),
        ("v1.36.0", "1.7.24", "3.5.16", r"containerd 1.7.24 does not work with Kubernetes v1.36.0.*2\."),
    ],
)
def test_unsupported_etcd_or_containerd_target(kube, containerd, etcd, match):
    running = "v1.35.4" if kube.startswith("v1.3") else "v1.20.2"
    current, target, settings = cluster(kube=running, etcd="3.5.16" if etcd != "3.4.23" else "3.4.23")
    target.update(kube_version=kube, etcd_version=etcd, containerd_version=containerd)
    refused(current, target, settings, match)


def test_new_etcd_must_suit_the_apiservers_still_running():
    # 1.35 -> 1.36 with etcd 3.4 would be refused for the target; a 3.6 target with 1.20 apiservers too
    current, target, settings = cluster()
    target["etcd_version"] = "3.6.0"
    refused(current, target, settings, "etcd 3.6.0 does not work with Kubernetes 1.20")


def test_current_etcd_checked_when_not_upgraded():
    current, target, settings = cluster(kube="v1.35.4", etcd="3.4.23", containerd="2.1.4")
    target.update(kube_version="v1.35.5", containerd_version="2.1.4")
    del target["etcd_version"]
    refused(current, target, settings, "etcd 3.4.23 on cp1 does not work with Kubernetes 1.35")


def test_current_containerd_checked_when_not_upgraded():
    current, target, settings = cluster(kube="v1.35.4", etcd="3.5.16", containerd="1.7.24")
    target.update(kube_version="v1.36.0", etcd_version="3.5.16")
    del target["containerd_version"]
    refused(current, target, settings, "containerd 1.7.24 on cp1 does not work.*set a containerd_version target")


@pytest.mark.parametrize(
    "running, wanted, allow, match",
    [
        ("3.4.23", "3.6.5", False, r"skips a minor.*first to 3\.5"),
        ("3.5.16", "3.4.23", True, "minor downgrades are not supported"),
        ("3.5.17", "3.5.16", False, "allow_downgrade"),
        ("2.3.8", "3.5.16", False, "another major version"),
    ],
)
def test_etcd_moves_refused(running, wanted, allow, match):
    current, target, settings = cluster(etcd=running)
    target["etcd_version"] = wanted
    settings["allow_downgrade"] = allow
    if wanted.startswith("3.6"):
        target["kube_version"] = "v1.35.4"
        current = cluster(kube="v1.35.1", etcd=running, containerd="2.1.4")[0]
        target["containerd_version"] = "2.1.4"
    refused(current, target, settings, match)


@pytest.mark.parametrize(
    "running, wanted, allow, match",
    [
        ("2.0.1", "1.7.24", True, "another major version: downgrades are not supported"),
        ("1.7.24", "1.6.20", True, "minor downgrades are not supported"),
        ("1.7.25", "1.7.24", False, "allow_downgrade"),
    ],
)
def test_containerd_moves_refused(running, wanted, allow, match):
    current, target, settings = cluster(containerd=running)
    target["containerd_version"] = wanted
    settings["allow_downgrade"] = allow
    refused(current, target, settings, match)


def test_containerd_major_upgrade_allowed():
    current, target, settings = cluster(kube="v1.35.4", etcd="3.5.21", containerd="1.7.24")
    target.update(kube_version="v1.35.5", etcd_version="3.5.21", containerd_version="2.1.4")
    assert plan(current, target, settings)["steps"][0]["to"]["containerd"] == "2.1.4"


@pytest.mark.parametrize(
    "text, expected",
    [("3.4.23", (3, 4, 23)), ("v1.7.24", (1, 7, 24)), ("1.6.20~ds1-1", (1, 6, 20)), (" 3.5.16+dfsg ", (3, 5, 16))],
)
def test_parse_triple(text, expected):
    assert parse_triple(text, "etcd") == expected


def test_package_suffix_counts_as_at_target():
    current, target, settings = cluster(kube="v1.20.2+kubesmith.1", etcd="3.5.16", containerd="1.7.24~ds1-1")
    assert plan(current, target, settings)["steps"] == []


def test_supported_etcd_covers_the_supported_minors():
    from ansible_collections.kubesmith.cluster.plugins.module_utils.kube.versions import SUPPORTED_MINORS

    assert tuple(SUPPORTED_ETCD) == SUPPORTED_MINORS


# --------------------------------------------------------------------------- refusals: bad input


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda c, t, s: t.update(kube_version="latest"), "target kube_version: 'latest' is not a Kubernetes version"),
        (lambda c, t, s: t.update(kube_version="1.20"), "has no patch number"),
        (lambda c, t, s: t.update(kube_version=1.2), "YAML reads 1.20 as 1.2"),
        (lambda c, t, s: t.update(kube_version="v1.34.2"), "not supported: kubesmith supports the minors"),
        (lambda c, t, s: t.update(kube_version="v1.37.0-rc.1"), "pre-release"),
        (lambda c, t, s: t.pop("kube_version"), "target kube_version is required"),
        (lambda c, t, s: t.update(etcd_version="3.5"), "not a etcd version"),
        (lambda c, t, s: t.update(etcd_version=3.5), "quote it"),
        (lambda c, t, s: t.update(containerd_version="stable"), "not a containerd version"),
        (lambda c, t, s: c["apiservers"].update(cp2="garbage"), "apiserver on cp2: 'garbage' is not a Kubernetes"),
        (lambda c, t, s: c["kubelets"].update(w1="v2.0.0"), "across major versions"),
        (lambda c, t, s: c["etcd"].update(cp3="3.4"), "'3.4' is not a etcd version"),
        (lambda c, t, s: c["containerd"].update(w1=None), "containerd version None is not a string"),
    ],
)
def test_bad_versions(edit, match):
    current, target, settings = cluster()
    edit(current, target, settings)
    refused(current, target, settings, match)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda c, s: s.update(etcd_hosts=[]), "etcd_hosts is empty"),
        (lambda c, s: s.pop("control_plane_hosts"), "control_plane_hosts is empty"),
        (lambda c, s: s.update(worker_hosts="w1"), "worker_hosts must be a list"),
        (lambda c, s: s.update(worker_hosts=["w1", "w1"]), "worker_hosts lists w1 more than once"),
        (lambda c, s: s.update(etcd_hosts=["cp1", ""]), "invalid host names"),
        (lambda c, s: c.pop("apiservers"), "current apiservers is missing"),
        (lambda c, s: c.update(etcd=["3.4.23"]), "current etcd must map inventory host names"),
        (lambda c, s: c["apiservers"].update(w1="v1.20.2"), "current apiservers lists w1, not in control_plane_hosts"),
        (lambda c, s: c["apiservers"].pop("cp2"), "no apiservers version for cp2"),
        (lambda c, s: c["kubelets"].update(x9="v1.20.2"), "current kubelets lists x9, not in control_plane_hosts or"),
        (lambda c, s: c["kubelets"].pop("w1"), "no kubelets version for w1"),
        (lambda c, s: c["etcd"].update(w1="3.4.23"), "current etcd lists w1, not in etcd_hosts"),
        (lambda c, s: c["etcd"].pop("cp1"), "no etcd version for cp1"),
        (lambda c, s: c["containerd"].pop("w1"), "no containerd version for w1"),
        (lambda c, s: c.pop("containerd"), "current containerd is missing"),
        (lambda c, s: c["containerd"].update(e9="1.6.20"), "containerd lists e9, not in the nodes"),
    ],
)
def test_inventory_mismatches(edit, match):
    current, target, settings = cluster()
    edit(current, settings)
    refused(current, target, settings, match)


@pytest.mark.parametrize("args", [(None, {}, {}), ({}, [], {}), ({}, {}, "x")])
def test_arguments_must_be_dicts(args):
    with pytest.raises(UpgradePlanError, match="must be dictionaries"):
        plan(*args)


def test_plan_does_not_modify_its_inputs():
    current, target, settings = cluster()
    before = copy.deepcopy((current, target, settings))
    plan(current, target, settings)
    assert (current, target, settings) == before


# --------------------------------------------------------------------------- unhealthy components (resumed rolls)


def at_target():
    return cluster(kube="v1.20.2+kubesmith.1", etcd="3.5.16", containerd="1.7.24", workers=("w1", "w2"))


def test_unhealthy_apiserver_at_target_is_planned_again():
    current, target, settings = at_target()
    settings["unhealthy"] = {"cp2": ["apiserver"]}
    result = plan(current, target, settings)
    assert shape(result) == [("control_plane", ["cp2"], ["apiserver"])]
    step = result["steps"][0]
    assert step["from"] == {"cp2": {"apiserver": "v1.20.2+kubesmith.1"}}  # what was read, not invented
    assert step["to"] == {"apiserver": "v1.20.2+kubesmith.1"}
    assert step["drain"] is False
    assert result["skipped"] == ["cp1", "cp3", "w1", "w2"]
    assert result["summary"] == (
        "control plane: 1 step (cp2) -> apiserver v1.20.2+kubesmith.1; planned again (unhealthy): cp2 apiserver; "
        "already at target: cp1, cp3, w1, w2"
    )


def test_unhealthy_kubelet_rides_with_its_hosts_normal_step():
    current, target, settings = at_target()
    current["apiservers"]["cp1"] = "v1.20.2"  # cp1 still to do; its kubelet is at the target but NotReady
    settings["unhealthy"] = {"cp1": ["kubelet"], "w2": ["kubelet"]}
    settings["worker_batch"] = 2
    result = plan(current, target, settings)
    assert shape(result) == [
        ("control_plane", ["cp1"], ["apiserver", "kubelet"]),  # one step, one drain
        ("workers", ["w2"], ["kubelet"]),
    ]
    assert result["steps"][0]["drain"] is True
    assert result["steps"][0]["from"] == {"cp1": {"apiserver": "v1.20.2", "kubelet": "v1.20.2+kubesmith.1"}}
    assert "planned again (unhealthy): cp1 kubelet, w2 kubelet" in result["summary"]


def test_unhealthy_worker_joins_the_batch_of_pending_workers():
    current, target, settings = at_target()
    current["kubelets"]["w1"] = "v1.20.2"
    settings.update(unhealthy={"w2": ["kubelet", "containerd"]}, worker_batch=2)
    result = plan(current, target, settings)
    assert shape(result) == [("workers", ["w1", "w2"], ["kubelet", "containerd"])]
    assert result["steps"][0]["from"] == {
        "w1": {"kubelet": "v1.20.2"},
        "w2": {"kubelet": "v1.20.2+kubesmith.1", "containerd": "1.7.24"},
    }


def test_unhealthy_kubelet_on_control_plane_in_a_minor_upgrade_waits_for_every_apiserver():
    current, target, settings = cluster(kube="v1.35.4", etcd="3.6.5", containerd="2.1.4")
    target.update(kube_version="v1.36.1", etcd_version="3.6.5", containerd_version="2.1.4")
    current["apiservers"]["cp1"] = current["kubelets"]["cp1"] = "v1.36.1"
    settings["unhealthy"] = {"cp1": ["kubelet"]}
    steps = shape(plan(current, target, settings))
    assert steps.index(("control_plane", ["cp1"], ["kubelet"])) > steps.index(("control_plane", ["cp3"], ["apiserver"]))


def test_unhealthy_listed_in_inventory_order_and_empty_lists_ignored():
    current, target, settings = at_target()
    settings["unhealthy"] = {"w1": ["kubelet"], "cp3": ["apiserver"], "cp1": []}
    result = plan(current, target, settings)
    assert "planned again (unhealthy): cp3 apiserver, w1 kubelet" in result["summary"]
    assert result["skipped"] == ["cp1", "cp2", "w2"]


@pytest.mark.parametrize(
    "unhealthy, match",
    [
        ({"cp1": ["etcd"]}, r"cp1 names \['etcd'\]: the components that can be planned again are apiserver, kubelet"),
        ({"cp1": ["kube-proxy"]}, r"names \['kube-proxy'\]"),
        ({"w1": ["apiserver"]}, r"cannot plan apiserver again on w1 \(marked unhealthy\): it is not in control_plane"),
        ({"nowhere": ["kubelet"]}, r"cannot plan kubelet again on nowhere .*: it is not a node"),
        ({"cp1": "apiserver"}, r"unhealthy cp1 must be a list of components"),
        (["cp1"], r"settings unhealthy must map inventory host names"),
    ],
)
def test_unhealthy_bad_input_refused(unhealthy, match):
    current, target, settings = at_target()
    settings["unhealthy"] = unhealthy
    refused(current, target, settings, match)


def test_unhealthy_containerd_needs_a_target_and_kubelet_a_node():
    current, target, settings = at_target()
    del target["containerd_version"]
    settings["unhealthy"] = {"w1": ["containerd"]}
    refused(current, target, settings, r"containerd again on w1 .*: no containerd_version target is set")
    current, target, settings = at_target()
    del current["kubelets"]["cp3"], current["containerd"]["cp3"]  # cp3 is not a node
    settings["unhealthy"] = {"cp3": ["kubelet"]}
    refused(current, target, settings, r"kubelet again on cp3 .*: it is not a node")


# --------------------------------------------------------------------------- the planner's parts


@pytest.mark.parametrize(
    "version, target, allow_downgrade, match",
    [
        ("v1.20.2", "v1.20.2", False, None),
        ("v1.35.0", "v1.36.0", False, None),  # one minor up
        ("v1.36.2", "v1.36.1", True, None),  # a patch down, allowed
        ("v1.34.0", "v1.36.1", False, "would skip a minor"),
        ("v1.33.0", "v1.36.1", False, "would skip 2 minors"),
        ("v1.36.2", "v1.36.1", False, "set allow_downgrade"),
        ("v1.37.0", "v1.36.1", True, "minor downgrades are not supported"),
    ],
)
def test_check_apiserver_move(version, target, allow_downgrade, match):
    if match is None:
        upgrade_plan._check_apiserver_move("cp1", version, target, allow_downgrade)
    else:
        with pytest.raises(UpgradePlanError, match=match):
            upgrade_plan._check_apiserver_move("cp1", version, target, allow_downgrade)


def test_steps_put_control_plane_kubelets_after_every_apiserver_when_the_minor_changes():
    hosts = {"etcd": ["cp1"], "control_plane": ["cp1", "cp2"], "workers": ["w1", "w2", "w3"]}
    work = {h: {"apiserver": "v1.35.0", "kubelet": "v1.35.0"} for h in ("cp1", "cp2")}
    work.update({h: {"kubelet": "v1.35.0"} for h in ("w1", "w3")})
    to = {"etcd": None, "apiserver": "v1.36.1", "kubelet": "v1.36.1", "containerd": None}
    rows = [(s["phase"], s["hosts"], s["components"]) for s in upgrade_plan._steps(hosts, work, to, True, "50%")]
    assert rows == [
        ("control_plane", ["cp1"], ["apiserver"]),
        ("control_plane", ["cp2"], ["apiserver"]),
        ("control_plane", ["cp1"], ["kubelet"]),
        ("control_plane", ["cp2"], ["kubelet"]),
        ("workers", ["w1"], ["kubelet"]),  # 50% of 3 workers: 1 a batch; w2 needs nothing
        ("workers", ["w3"], ["kubelet"]),
    ]
    same_minor = upgrade_plan._steps(hosts, work, to, False, 2)
    assert [(s["hosts"], s["components"]) for s in same_minor] == [
        (["cp1"], ["apiserver", "kubelet"]),
        (["cp2"], ["apiserver", "kubelet"]),
        (["w1", "w3"], ["kubelet"]),
    ]
    assert same_minor[0]["drain"] is True and same_minor[0]["from"] == {"cp1": work["cp1"]}
