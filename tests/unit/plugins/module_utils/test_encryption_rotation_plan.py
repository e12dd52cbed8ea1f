"""Tests of the helpers ``encryption_rotation.plan`` is made of, for the decisions the plan() tests in
test_encryption_rotation.py do not reach: a layout that differs between hosts, a key list longer than two, and the
stage lists (each its own key dicts, cut after ``stop_after``)."""

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import encryption_rotation as R
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster.encryption_rotation import RotationError

SECRETS = {"key1": ("c2VjcmV0MQ==", "aescbc", "cp1"), "key2": ("c2VjcmV0Mg==", "secretbox", None)}


def state(host, names, resources=("secrets",), identity_fallback=True):
    return {
        "host": host,
        "provider": "aescbc",
        "keys": [{"name": n, "secret": SECRETS[n][0], "provider": SECRETS[n][1]} for n in names],
        "resources": list(resources),
        "identity_fallback": identity_fallback,
    }


@pytest.mark.parametrize(
    "other",
    [
        state("cp2", ["key1"], resources=("secrets", "configmaps")),
        state("cp2", ["key1"], identity_fallback=False),
    ],
)
def test_hosts_whose_layouts_differ_are_refused(other):
    with pytest.raises(RotationError, match="list different resources or identity fallbacks: run site.yml"):
        R._check_plan_request([state("cp1", ["key1"]), other], None, "")
    with pytest.raises(RotationError, match="different resources or identity fallbacks"):
        R.plan([state("cp1", ["key1"]), other])


def test_the_same_layout_everywhere_passes():
    assert R._check_plan_request([state("cp1", ["key1"]), state("cp2", ["key1", "key2"])], "secretbox", None) is None


def test_known_keys_are_read_from_every_host_with_where_they_were_first_seen():
    known = R._known_keys([state("cp1", ["key1"]), state("cp2", ["key2", "key1"])])
    assert known == {"key1": ("c2VjcmV0MQ==", "aescbc", "cp1"), "key2": ("c2VjcmV0Mg==", "secretbox", "cp2")}


def test_a_key_list_longer_than_two_is_refused():
    # plan() refuses such a list earlier (a name twice on one host); the helper does not rely on that
    with pytest.raises(RotationError, match=r"unexpected key lists \(cp1=\[\]\): at most two keys during a rotation"):
        R._resume_point([("key1", "key2", "key1"), ("key1",)], ["key1", "key2"], "cp1=[]")


@pytest.mark.parametrize(
    ("lists", "expected"),
    [
        ([("key1", "key2"), ("key1",)], ("key1", "key2", "add")),
        ([("key2",), ("key2", "key1")], ("key1", "key2", "remove")),
        ([("key1", "key2"), ("key1", "key2")], ("key1", "key2", "primary")),
        ([("key2", "key1"), ("key1", "key2")], ("key1", "key2", "primary")),
        ([("key2", "key1"), ("key2", "key1")], ("key1", "key2", "rewrite")),
    ],
)
def test_resume_point_reads_old_new_and_phase(lists, expected):
    assert R._resume_point(lists, ["key1", "key2"], "described") == expected


@pytest.mark.parametrize(
    ("phase", "stop_after", "names"),
    [
        ("add", "", ["add", "primary", "rewrite", "remove"]),
        ("add", None, ["add", "primary", "rewrite", "remove"]),
        ("add", "primary", ["add", "primary"]),
        ("primary", "primary", ["primary"]),
        ("rewrite", "add", ["rewrite", "remove"]),  # a phase already passed: the rest runs
        ("remove", "remove", ["remove"]),
    ],
)
def test_stages_run_from_the_phase_through_stop_after(phase, stop_after, names):
    assert [s["name"] for s in R._stages(phase, "key1", "key2", SECRETS, stop_after)] == names


def test_every_stage_gets_its_own_key_dicts():
    stages = {s["name"]: s["keys"] for s in R._stages("add", "key1", "key2", SECRETS, "")}
    old = {"name": "key1", "secret": "c2VjcmV0MQ==", "provider": "aescbc"}
    new = {"name": "key2", "secret": "c2VjcmV0Mg==", "provider": "secretbox"}
    assert stages == {"add": [old, new], "primary": [new, old], "rewrite": None, "remove": [new]}
    dicts = [key for keys in stages.values() if keys for key in keys]
    assert len({id(key) for key in dicts}) == len(dicts) == 5
