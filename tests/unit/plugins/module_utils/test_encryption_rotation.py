"""Tests of module_utils/cluster/encryption_rotation.py: the rotation phase read from every apiserver's keys, including
interrupted runs, and the refusals of states no rotation produces."""

import base64

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster import encryption_rotation as R
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster.encryption_rotation import RotationError
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import control_plane as kube_control_plane

SECRETS = {n: base64.b64encode(bytes([i]) * 32).decode() for i, n in enumerate(["key1", "key2", "key3", "old"], 1)}
NEW = base64.b64encode(b"n" * 32).decode()
HOSTS = ["cp1", "cp2", "cp3"]


def doc(names, provider="aescbc", secrets=None):
    keys = [{"name": n, "secret": (secrets or SECRETS)[n]} for n in names]
    return kube_control_plane.encryption_config(keys, provider=provider, version="1.20")


def states(*per_host, provider="aescbc"):
    return [R.parse_config(h, doc(names, provider)) for h, names in zip(HOSTS, per_host)]


def names(keys):
    return [k["name"] for k in keys] if keys is not None else None


def run(*per_host, **kw):
    kw.setdefault("secret", NEW)
    return R.plan(states(*per_host), **kw)


def test_parse_config_reads_provider_keys_resources_and_identity():
    state = R.parse_config("cp1", doc(["key2", "key1"]))
    assert state == {
        "host": "cp1",
        "provider": "aescbc",
        "keys": [
            {"name": "key2", "secret": SECRETS["key2"], "provider": "aescbc"},
            {"name": "key1", "secret": SECRETS["key1"], "provider": "aescbc"},
        ],
        "resources": ["secrets"],
        "identity_fallback": True,
    }


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (None, "missing or not an EncryptionConfiguration"),
        ({"kind": "EncryptionConfiguration", "resources": []}, "one resources entry"),
        (
            {
                "kind": "EncryptionConfiguration",
                "resources": [{"resources": ["secrets"], "providers": [{"identity": {}}]}],
            },
            "nothing is encrypted",
        ),
        (
            {
                "kind": "EncryptionConfiguration",
                "resources": [{"resources": ["secrets"], "providers": [{"aescbc": {"keys": []}}]}],
            },
            "has no keys",
        ),
        (
            {
                "kind": "EncryptionConfiguration",
                "resources": [
                    {
                        "resources": ["secrets"],
                        "providers": [
                            {"aescbc": {"keys": [{"name": "a", "secret": "x"}]}},
                            {"secretbox": {"keys": []}},
                        ],
                    }
                ],
            },
            "provider secretbox has no keys",
        ),
        (
            {
                "kind": "EncryptionConfiguration",
                "resources": [
                    {"resources": ["secrets"], "providers": [{"kms": {"name": "x"}}, {"identity": {}}]},
                ],
            },
            "providers kms, identity: kubesmith writes aescbc or secretbox or aesgcm, then identity last",
        ),
        (
            {
                "kind": "EncryptionConfiguration",
                "resources": [
                    {
                        "resources": ["secrets"],
                        "providers": [
                            {"aescbc": {"keys": [{"name": "a", "secret": "x"}]}},
                            {"identity": {}},
                            {"secretbox": {"keys": [{"name": "b", "secret": "y"}]}},
                        ],
                    }
                ],
            },
            "then identity last",
        ),
    ],
)
def test_parse_config_refuses_what_kubesmith_does_not_write(config, message):
    with pytest.raises(RotationError, match=message):
        R.parse_config("cp1", config)


def test_all_on_one_key_starts_a_rotation_with_a_new_random_key():
    result = R.plan(states(["key1"], ["key1"], ["key1"]))
    assert result["phase"] == "add"
    assert result["old"]["name"] == "key1" and result["new"]["name"] == "key2"
    assert len(base64.b64decode(result["new"]["secret"], validate=True)) == 32
    assert result["new"]["secret"] != R.plan(states(["key1"], ["key1"], ["key1"]))["new"]["secret"]
    assert result["stage_names"] == ["add", "primary", "rewrite", "remove"]
    assert [names(s["keys"]) for s in result["stages"]] == [["key1", "key2"], ["key2", "key1"], None, ["key2"]]
    # each stage's key list renders as the role renders it
    kube_control_plane.encryption_config(result["stages"][0]["keys"], provider=result["provider"], version="1.20")
    assert result["new"]["secret"] not in result["summary"]


def test_new_key_name_is_the_next_free_key_number():
    assert R.new_key_name(["key1"]) == "key2"
    assert R.new_key_name(["key9", "key10"]) == "key11"
    assert R.new_key_name(["primary"]) == "key1"
    assert R.plan(states(["old"], ["old"], ["old"]), secret=NEW)["new"]["name"] == "key1"


@pytest.mark.parametrize(
    ("per_host", "phase", "old", "new"),
    [
        ((["key1", "key2"], ["key1"], ["key1"]), "add", "key1", "key2"),  # add interrupted after the first host
        ((["key1", "key2"], ["key1", "key2"], ["key1"]), "add", "key1", "key2"),
        ((["key1", "key2"],) * 3, "primary", "key1", "key2"),  # add done
        ((["key2", "key1"], ["key1", "key2"], ["key1", "key2"]), "primary", "key1", "key2"),  # primary interrupted
        ((["key2", "key1"], ["key2", "key1"], ["key1", "key2"]), "primary", "key1", "key2"),
        ((["key2", "key1"],) * 3, "rewrite", "key1", "key2"),  # primary done (or rewrite interrupted)
        ((["key2"], ["key2", "key1"], ["key2", "key1"]), "remove", "key1", "key2"),  # remove interrupted
        ((["key2"], ["key2"], ["key2", "key1"]), "remove", "key1", "key2"),
    ],
)
def test_an_interrupted_rotation_resumes_where_it_stopped(per_host, phase, old, new):
    result = run(*per_host)
    assert (result["phase"], result["old"]["name"], result["new"]["name"]) == (phase, old, new)
    assert result["old"]["secret"] == SECRETS[old] and result["new"]["secret"] == SECRETS[new]
    assert result["stage_names"] == list(R.PHASES[R.PHASES.index(phase) :])
    assert "resuming at phase %s" % phase in result["summary"]


def test_a_finished_rotation_starts_the_next_one():
    result = run(["key2"], ["key2"], ["key2"])
    assert (result["phase"], result["old"]["name"], result["new"]["name"]) == ("add", "key2", "key3")


@pytest.mark.parametrize(
    ("per_host", "phase", "new"),
    [
        # names that are not keyN: the first host (always updated first) tells the direction
        ((["old", "key1"], ["old"], ["old"]), "add", "key1"),
        ((["old"], ["old", "key1"], ["old", "key1"]), "add", "key1"),  # only keyN is new
        ((["key1", "old"], ["old", "key1"], ["old", "key1"]), "primary", "key1"),
        ((["key1"], ["key1", "old"], ["key1", "old"]), "remove", "key1"),
    ],
)
def test_direction_without_key_numbers(per_host, phase, new):
    result = run(*per_host)
    assert (result["phase"], result["new"]["name"]) == (phase, new)


@pytest.mark.parametrize("stop", ["add", "primary", "rewrite"])
def test_stop_after_ends_the_run_after_that_phase(stop):
    result = run(["key1"], ["key1"], ["key1"], stop_after=stop)
    assert result["stage_names"] == list(R.PHASES[: R.PHASES.index(stop) + 1])
    assert "stopping after phase %s" % stop in result["summary"]


def test_stop_after_a_phase_already_passed_runs_the_rest():
    assert run(["key2", "key1"], ["key2", "key1"], ["key2", "key1"], stop_after="add")["stage_names"] == [
        "rewrite",
        "remove",
    ]


def test_stop_after_must_be_a_phase():
    with pytest.raises(RotationError, match="stop after 'middle'"):
        run(["key1"], ["key1"], ["key1"], stop_after="middle")


@pytest.mark.parametrize(
    ("per_host", "message"),
    [
        ((["key1"], ["key2"], ["key2"]), "know only key1 and some only key2"),
        ((["key1"], ["key2", "key1"], ["key2", "key1"]), "know only key1 while others already encrypt with key2"),
        ((["key1"], ["key1", "key2"], ["key2", "key1"]), "know only key1"),
        ((["key1", "key2"], ["key3"], ["key1"]), "know 3 keys"),
        ((["key1", "key2", "key3"],) * 3, "know 3 keys"),
    ],
)
def test_inconsistent_key_lists_are_refused(per_host, message):
    with pytest.raises(RotationError, match=message):
        run(*per_host)


def test_one_name_with_two_secrets_is_refused_without_showing_them():
    other = dict(SECRETS, key1=base64.b64encode(b"z" * 32).decode())
    configs = [R.parse_config("cp1", doc(["key1"])), R.parse_config("cp2", doc(["key1"], secrets=other))]
    with pytest.raises(RotationError, match="key key1 has a different secret on cp2 than on cp1") as info:
        R.plan(configs)
    assert SECRETS["key1"] not in str(info.value) and other["key1"] not in str(info.value)


def test_one_name_under_two_providers_is_refused():
    configs = [R.parse_config("cp1", doc(["key1"])), R.parse_config("cp2", doc(["key1"], provider="secretbox"))]
    with pytest.raises(RotationError, match="key key1 is listed under aescbc on cp1 but under secretbox on cp2"):
        R.plan(configs)


def _providers(keys):
    return [(k["name"], k["provider"]) for k in keys]


def test_a_rotation_moves_the_cluster_to_the_inventorys_provider():
    result = run(["key1"], ["key1"], ["key1"], expected_provider="secretbox")
    assert result["phase"] == "add" and result["provider"] == "secretbox"
    assert "the provider changes from aescbc to secretbox" in result["summary"]
    assert [_providers(s["keys"]) if s["keys"] else None for s in result["stages"]] == [
        [("key1", "aescbc"), ("key2", "secretbox")],
        [("key2", "secretbox"), ("key1", "aescbc")],
        None,
        [("key2", "secretbox")],
    ]
    # every stage renders (each key under its provider) and reads back as the same state
    for stage in (s for s in result["stages"] if s["keys"]):
        config = kube_control_plane.encryption_config(stage["keys"], provider=result["provider"], version="1.20")
        assert R.parse_config("cp1", config)["keys"] == stage["keys"]


def test_an_interrupted_provider_change_resumes_where_it_stopped():
    moved = {"name": "key2", "secret": NEW, "provider": "secretbox"}
    old = {"name": "key1", "secret": SECRETS["key1"], "provider": "aescbc"}
    pair = kube_control_plane.encryption_config([old, moved], version="1.20")
    primary = kube_control_plane.encryption_config([moved, old], version="1.20")
    # cp1 got the pair, cp2 and cp3 not yet: the add phase goes on, toward secretbox
    configs = [R.parse_config("cp1", pair)] + states(["key1"], ["key1"])[1:]
    result = R.plan(configs, expected_provider="secretbox")
    assert result["phase"] == "add" and result["provider"] == "secretbox" and result["new"] == moved
    # cp1 already writes with key2 (secretbox), the others still with key1 (aescbc)
    configs = [R.parse_config("cp1", primary), R.parse_config("cp2", pair), R.parse_config("cp3", pair)]
    result = R.plan(configs, expected_provider="secretbox")
    assert result["phase"] == "primary" and result["stage_names"] == ["primary", "rewrite", "remove"]
    # an inventory that says aescbc meanwhile: the rotation in progress finishes first, and says so
    result = R.plan(configs, expected_provider="aescbc")
    assert result["provider"] == "secretbox" and "run the rotation again" in result["summary"]


def test_without_an_inventory_provider_the_provider_in_use_is_kept():
    assert run(["key1"], ["key1"], ["key1"], expected_provider="aescbc")["provider"] == "aescbc"
    assert run(["key1"], ["key1"], ["key1"])["provider"] == "aescbc"
    with pytest.raises(RotationError, match="control_plane_encryption_provider 'kms' is not one of"):
        run(["key1"], ["key1"], ["key1"], expected_provider="kms")


def test_a_key_name_twice_on_a_host_is_refused():
    configs = [R.parse_config("cp1", doc(["key1"]))]
    configs[0]["keys"].append(dict(configs[0]["keys"][0]))
    with pytest.raises(RotationError, match="used twice"):
        R.plan(configs)


def test_no_host_is_refused():
    with pytest.raises(RotationError, match="no control-plane host"):
        R.plan([])


CSV = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight\n"
    "kube-apiserver,FRONTEND,,,0,1,4000,3,0,0,0,0,0,,,,,OPEN,\n"
    "kube-apiserver,ks-up-1,0,0,0,1,,3,0,0,,0,,0,0,0,0,UP,1\n"
    "kube-apiserver,ks-up-2,0,0,0,1,,3,0,0,,0,,0,0,0,0,DOWN,1\n"
    "kube-apiserver,ks-up-3,0,0,0,1,,3,0,0,,0,,0,0,0,0,UP 1/2,1\n"
)


def test_haproxy_server_status_from_the_stats_csv():
    assert R.haproxy_server_status(CSV, "kube-apiserver", "ks-up-1") == "UP"
    assert R.haproxy_server_status(CSV, "kube-apiserver", "ks-up-2") == "DOWN"
    assert R.haproxy_server_status(CSV, "kube-apiserver", "ks-up-3") == "UP 1/2"
    assert R.haproxy_server_status(CSV, "kube-apiserver", "nope") is None
    assert R.haproxy_server_status("", "kube-apiserver", "ks-up-1") is None


def _kv(key, value):
    return {"key": base64.b64encode(key.encode()).decode(), "value": base64.b64encode(value).decode()}


def test_leftovers_are_the_objects_under_another_key():
    ranges = [
        {
            "kvs": [
                _kv("/registry/secrets/default/a", b"k8s:enc:aescbc:v1:key2:\x00\x01"),
                _kv("/registry/secrets/default/b", b"k8s:enc:aescbc:v1:key1:\x00\x01"),
                _kv("/registry/secrets/default/c", b"k8s\x00\n\x0c\n\x02v1\x12\x06Secret"),  # identity (plain)
                _kv("/registry/secrets/default/d", b"k8s:enc:aescbc:v1:key22:\x00"),  # a longer name
            ],
            "count": "4",
        },
        {"count": "0"},  # a resource without objects: no kvs
    ]
    assert R.leftovers(ranges, "aescbc", "key2") == [
        "/registry/secrets/default/b",
        "/registry/secrets/default/c",
        "/registry/secrets/default/d",
    ]
    assert R.leftovers([], "aescbc", "key2") == []
