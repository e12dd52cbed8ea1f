"""site.yml's choice of the encryption keys (module_utils/cluster/encryption_rotation.site_keys and the filter
kube_encryption_site_keys): a key in use is never dropped or replaced, whichever host lost its file or comes first."""

import base64

import pytest
import yaml
from ansible_collections.kubesmith.cluster.plugins.filter.encryption_rotation import kube_encryption_site_keys
from ansible_collections.kubesmith.cluster.plugins.module_utils.cluster.encryption_rotation import site_keys
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import control_plane as kube_control_plane

K1 = {"name": "key1", "secret": base64.b64encode(b"1" * 32).decode()}
K2 = {"name": "key2", "secret": base64.b64encode(b"2" * 32).decode()}


def aescbc(*keys):
    """The keys as read back from a host: each with the provider it is listed under."""
    return [dict(k, provider="aescbc") for k in keys]


FRESH = base64.b64encode(b"f" * 32).decode()


def doc(*keys, provider="aescbc"):
    return kube_control_plane.encryption_config(list(keys), provider=provider, version="1.20")


def reads(*configs):
    return [{"host": "cp%d" % i, "config": c} for i, c in enumerate(configs, 1)]


def choose(*configs, **kw):
    kw.setdefault("expected_provider", "aescbc")
    kw.setdefault("secret", FRESH)
    return site_keys(reads(*configs), **kw)


def test_every_host_agrees_keys_kept():
    out = choose(doc(K1), doc(K1), doc(K1))
    assert out["error"] == "" and out["keys"] == aescbc(K1) and out["source"] == "cp1" and out["restore"] == []


@pytest.mark.parametrize("missing", [0, 1, 2])
def test_a_host_without_the_file_gets_the_peers_keys(missing):
    # the reported data loss: the first host (or any other) lost its file -> the keys of the others, not a new key
    configs = [doc(K2, K1)] * 3
    configs[missing] = None
    out = choose(*configs, secrets_stored=None)
    assert out["error"] == ""
    assert out["keys"] == aescbc(K2, K1)
    assert out["restore"] == ["cp%d" % (missing + 1)]
    assert out["source"] == ("cp2" if missing == 0 else "cp1")
    assert FRESH not in str(out)


def test_configs_that_differ_are_refused_naming_hosts_and_keys_not_secrets():
    out = choose(doc(K2, K1), doc(K1), None)
    assert out["keys"] == []
    assert "differ" in out["error"] and "cp1: aescbc key2, key1" in out["error"] and "cp2: aescbc key1" in out["error"]
    assert "rotate_encryption_key.yml" in out["error"]
    assert K1["secret"] not in out["error"] and K2["secret"] not in out["error"]


def test_same_names_other_secret_is_refused():
    other = {"name": "key1", "secret": base64.b64encode(b"x" * 32).decode()}
    assert "differ" in choose(doc(K1), doc(other))["error"]


def test_no_file_anywhere_and_secrets_in_etcd_is_refused():
    out = choose(None, None, None, secrets_stored=12)
    assert out["keys"] == []
    assert "etcd holds 12 Secret(s)" in out["error"] and "cp1, cp2, cp3" in out["error"]


def test_no_file_anywhere_and_etcd_unknown_is_refused():
    out = choose(None, None, secrets_stored=None)
    assert out["keys"] == [] and "could not be asked" in out["error"]


def test_no_file_anywhere_and_etcd_unknown_in_check_mode_plans_a_key():
    out = choose(None, secrets_stored=None, check_mode=True)
    assert out["error"] == "" and out["source"] == "new"


def test_new_cluster_gets_one_new_key_with_the_wanted_provider():
    out = choose(None, None, secrets_stored=0, expected_provider="secretbox")
    assert out == {
        "keys": [{"name": "key1", "secret": FRESH}],
        "provider": "secretbox",
        "source": "new",
        "restore": [],
        "notice": "",
        "error": "",
    }


def test_new_key_is_random_when_none_given():
    one = site_keys(reads(None), secrets_stored=0)["keys"][0]["secret"]
    two = site_keys(reads(None), secrets_stored=0)["keys"][0]["secret"]
    assert one != two and len(base64.b64decode(one)) == 32


def test_provider_in_use_is_kept_with_a_notice():
    out = choose(doc(K1), doc(K1), expected_provider="secretbox")
    assert out["provider"] == "aescbc" and out["error"] == ""
    assert "encrypts with aescbc: kept" in out["notice"]


def test_pinned_keys_sharing_a_key_with_the_hosts():
    out = choose(doc(K1), None, pinned=[K2, K1])
    assert out["error"] == "" and out["keys"] == [K2, K1] and out["source"] == "inventory"
    assert out["restore"] == ["cp2"]


def test_pinned_keys_sharing_no_key_with_a_host_are_refused():
    out = choose(doc(K1), doc(K1), pinned=[K2])
    assert out["keys"] == [] and "shares no key" in out["error"] and "cp1: aescbc key1" in out["error"]
    assert K1["secret"] not in out["error"]


def test_pinned_keys_on_a_new_cluster():
    assert choose(None, pinned=[K2], secrets_stored=None)["keys"] == [K2]


def test_unparsable_config_is_refused():
    out = choose({"kind": "Something"}, doc(K1))
    assert out["keys"] == [] and "cp1" in out["error"]


# the filter: slurp results in, the same decision out


def slurped(host, config=None, msg=None):
    if config is not None:
        return {"item": host, "content": base64.b64encode(yaml.safe_dump(config).encode()).decode()}
    return {"item": host, "failed": True, "msg": msg or "File not found: /etc/kubernetes/encryption-config.yaml"}


def test_filter_reads_slurp_results():
    out = kube_encryption_site_keys([slurped("a"), slurped("b", doc(K1))], [], "aescbc", "", False)
    assert out["error"] == "" and out["keys"] == aescbc(K1) and out["restore"] == ["a"]


def test_filter_other_read_failures_are_refused():
    out = kube_encryption_site_keys([slurped("a", msg="Permission denied"), slurped("b", doc(K1))], [], "aescbc")
    assert out["keys"] == [] and "cannot use the encryption configuration on a: Permission denied" in out["error"]


def test_filter_counts_from_etcd():
    out = kube_encryption_site_keys([slurped("a")], [], "aescbc", "3", False)
    assert "etcd holds 3 Secret(s)" in out["error"]
    assert kube_encryption_site_keys([slurped("a")], [], "aescbc", 0, False)["source"] == "new"


def test_a_provider_change_in_progress_is_kept_key_by_key():
    moving = [dict(K2, provider="secretbox"), dict(K1, provider="aescbc")]
    config = kube_control_plane.encryption_config(moving, version="1.20")
    out = choose(config, None, config, expected_provider="secretbox")
    assert out["error"] == "" and out["keys"] == moving and out["restore"] == ["cp2"]
    rendered = kube_control_plane.encryption_config(out["keys"], provider=out["provider"], version="1.20")
    assert rendered == config  # the host that lost its file gets exactly its peers' two providers back


def test_a_running_cluster_keeps_its_provider_and_new_clusters_get_the_inventorys():
    kept = choose(doc(K1), doc(K1), doc(K1), expected_provider="secretbox")
    assert kept["provider"] == "aescbc" and kept["keys"] == aescbc(K1)
    assert "rotate_encryption_key.yml moves a running cluster to it" in kept["notice"]
    new = choose(None, None, None, expected_provider="secretbox", secrets_stored=0)
    assert new["source"] == "new" and new["provider"] == "secretbox"
