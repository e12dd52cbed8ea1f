import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts.download import (
    ArtifactError,
    install_spec,
    listing,
    mirror_url,
    pin_key,
    resolve,
)

URL = "https://github.com/containerd/containerd/releases/download/v1.6.20/containerd-1.6.20-linux-amd64.tar.gz"
SHA = "a" * 64


@pytest.mark.parametrize(
    ("url", "mirror", "expected"),
    [
        (URL, "", URL),
        (
            URL,
            "http://10.0.0.1:8080",
            "http://10.0.0.1:8080/github.com/containerd/containerd/releases/download/"
            "v1.6.20/containerd-1.6.20-linux-amd64.tar.gz",
        ),
        (
            URL,
            "file:///srv/mirror/",
            "file:///srv/mirror/github.com/containerd/containerd/releases/download/"
            "v1.6.20/containerd-1.6.20-linux-amd64.tar.gz",
        ),
        (
            "https://dl.k8s.io/release/v1.20.2/bin/linux/amd64/kubelet",
            "http://m",
            "http://m/dl.k8s.io/release/v1.20.2/bin/linux/amd64/kubelet",
        ),
    ],
)
def test_mirror_url(url, mirror, expected):
    assert mirror_url(url, mirror) == expected


def test_mirror_url_needs_scheme():
    with pytest.raises(ArtifactError, match="no scheme"):
        mirror_url("github.com/x", "http://m")


def test_resolve_checksum_url_is_mirrored_and_paths_carry_version():
    [plan] = resolve(
        [{"name": "containerd", "version": "1.6.20", "url": URL, "checksum_url": URL + ".sha256sum", "unpack": True}],
        mirror="http://m",
        host_cache="/var/cache/k",
        controller_cache="/tmp/c",
    )
    assert (
        plan["checksum"] == "sha256:http://m/github.com/containerd/containerd/releases/download/v1.6.20/"
        "containerd-1.6.20-linux-amd64.tar.gz.sha256sum"
    )
    assert plan["fetch_url"].startswith("http://m/github.com/")
    assert plan["filename"] == "containerd-1.6.20-linux-amd64.tar.gz"
    assert plan["host_path"] == "/var/cache/k/containerd-1.6.20-containerd-1.6.20-linux-amd64.tar.gz"
    assert plan["controller_path"] == "/tmp/c/containerd-1.6.20-containerd-1.6.20-linux-amd64.tar.gz"
    assert plan["unpack"] is True


def test_inline_sha256_wins_and_reaches_install_spec():
    plans = resolve(
        [
            {
                "name": "runc",
                "version": "1.1.5",
                "url": "https://h/runc.amd64",
                "sha256": SHA.upper(),
                "checksum_url": "https://h/runc.sha256sum",
                "mode": "0755",
                "links": {"/usr/local/bin/runc": "runc.amd64"},
            }
        ]
    )
    assert plans[0]["checksum"] == "sha256:" + SHA
    assert "controller_path" not in plans[0]
    [spec] = install_spec(plans)
    assert spec == {
        "name": "runc",
        "version": "1.1.5",
        "mode": "0755",
        "links": {"/usr/local/bin/runc": "runc.amd64"},
        "src": plans[0]["host_path"],
        "filename": "runc.amd64",
        "sha256": SHA,
    }


def test_install_spec_without_inline_sha_omits_it():
    [spec] = install_spec(
        resolve([{"name": "a", "version": "1", "url": "https://h/a.tgz", "checksum_url": "https://h/s"}])
    )
    assert "sha256" not in spec


@pytest.mark.parametrize(
    ("artifact", "message"),
    [
        ({"name": "a", "version": "1", "url": "https://h/a"}, "give either sha256 or checksum_url"),
        ({"name": "a", "version": "1", "url": "https://h/a", "sha256": "abc"}, "not 64 hex"),
        ({"name": "a", "url": "https://h/a", "sha256": SHA}, "lacks version"),
        ({"name": "A/b", "version": "1", "url": "https://h/a", "sha256": SHA}, "plain path components"),
        ({"name": "a", "version": "..", "url": "https://h/a", "sha256": SHA}, "plain path components"),
        ({"name": "a", "version": "1", "url": "https://h/", "sha256": SHA}, "does not end in a file name"),
    ],
)
def test_resolve_refuses_bad_descriptions(artifact, message):
    with pytest.raises(ArtifactError, match=message):
        resolve([artifact])


def test_resolve_refuses_duplicates():
    item = {"name": "a", "version": "1", "url": "https://h/a", "sha256": SHA}
    with pytest.raises(ArtifactError, match="listed twice"):
        resolve([item, dict(item)])


def test_two_versions_side_by_side():
    plans = resolve(
        [{"name": "etcd", "version": v, "url": "https://h/etcd.tgz", "sha256": SHA} for v in ("3.4", "3.5")]
    )
    assert plans[0]["host_path"] != plans[1]["host_path"]


def test_unmirrored_artifact_keeps_url_and_uninstalled_one_has_no_install_spec():
    plans = resolve(
        [
            {
                "name": "img",
                "version": "1",
                "url": "http://store/img.tar",
                "checksum_url": "http://store/img.sha",
                "mirrored": False,
                "install": False,
            }
        ],
        mirror="http://m",
    )
    assert plans[0]["fetch_url"] == "http://store/img.tar"
    assert plans[0]["checksum"] == "sha256:http://store/img.sha"
    assert install_spec(plans) == []


# --------------------------------------------------------------------------- what a host lacks


def _plans():
    return resolve(
        [
            {"name": "runc", "version": "1.1.5", "url": "https://h/runc.amd64", "sha256": SHA},
            {"name": "etcd", "version": "3.4.23", "url": "https://h/etcd.tar.gz", "sha256": "b" * 64},
            {"name": "image-pause", "version": "3.2", "url": "https://h/pause-3.2.tar",
             "checksum_url": "https://h/pause-3.2.tar.sha256", "install": False},
            {"name": "image-busybox", "version": "1.35", "url": "https://h/busybox.tar", "sha256": "c" * 64,
             "install": False},
        ],
        host_cache="/var/cache/k",
        controller_cache="/tmp/c",
    )


def test_cache_spec_lists_only_files_used_as_they_are():
    from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts.download import cache_spec

    assert cache_spec(_plans()) == [
        {"name": "image-pause 3.2", "path": "/var/cache/k/image-pause-3.2-pause-3.2.tar"},  # checksum URL: presence
        {"name": "image-busybox 1.35", "path": "/var/cache/k/image-busybox-1.35-busybox.tar", "sha256": "c" * 64},
    ]
    assert [s["name"] for s in install_spec(_plans())] == ["runc", "etcd"]


def _missing(*paths):
    return {"changed": False, "missing": [{"name": "x", "version": None, "src": p, "reason": "absent"} for p in paths]}


def test_missing_plans_of_one_host():
    from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts.download import missing_plans

    plans = _plans()
    assert missing_plans(plans, {"changed": False, "missing": []}) == []
    got = missing_plans(plans, _missing(plans[3]["host_path"], plans[1]["host_path"]))
    assert [p["name"] for p in got] == ["etcd", "image-busybox"]  # the order of the plans


def test_missing_plans_union_over_hosts_ignores_non_results_and_foreign_files():
    from ansible_collections.kubesmith.cluster.plugins.module_utils.artifacts.download import missing_plans

    plans = _plans()
    results = [
        _missing(plans[0]["host_path"]),
        _missing(plans[0]["host_path"], plans[2]["host_path"]),  # each plan once
        _missing("/var/cache/k/containerd-1.6.20-x.tar.gz"),  # an earlier download call's leftover
        _missing("/srv/other-cache/etcd-3.4.23-etcd.tar.gz"),  # a host with another download_host_cache
        {"skipped": True, "changed": False},
        None,
        "undefined",
    ]
    assert [p["name"] for p in missing_plans(plans, results)] == ["runc", "etcd", "image-pause"]
    assert missing_plans(plans, None) == []
    assert missing_plans(plans, []) == []


def _listed(mirror="http://m", **extra):
    artifact = {"name": "containerd", "version": "1.6.20", "url": URL, "checksum_url": URL + ".sha256sum"}
    artifact.update(extra)
    return resolve([artifact], mirror)


def test_listing_merges_hosts_and_names_the_checksum_source():
    # two hosts asking for the same file: listed once; the checksum file is read from the mirror
    (entry,) = listing(_listed() + _listed())
    assert entry["fetch_url"] == "http://m/" + URL[len("https://") :]
    assert entry["checksum_url"] == "http://m/" + URL[len("https://") :] + ".sha256sum"
    assert entry["sha256"] == ""
    assert entry["url"] == URL
    assert entry["line"] == "containerd 1.6.20 %s (sha256 from %s)" % (entry["fetch_url"], entry["checksum_url"])


def test_listing_pinned_sum_and_sorting():
    other = resolve([{"name": "cni", "version": "1", "url": "https://x.io/cni.tgz", "sha256": SHA}], "")
    entries = listing(_listed() + other)
    assert [e["name"] for e in entries] == ["cni", "containerd"]
    assert entries[0]["sha256"] == SHA
    assert entries[0]["checksum_url"] == ""
    assert entries[0]["fetch_url"] == "https://x.io/cni.tgz"


def test_listing_refuses_one_file_with_two_sums():
    with pytest.raises(ArtifactError, match="listed twice with different checksums"):
        listing(_listed(sha256=SHA) + _listed(sha256="b" * 64))


def test_listing_of_nothing():
    assert listing([]) == []


# --------------------------------------------------------------------------- pins (download_pins)

KEY = "github.com/containerd/containerd/releases/download/v1.6.20/containerd-1.6.20-linux-amd64.tar.gz"
CHECKED = {"name": "containerd", "version": "1.6.20", "url": URL, "checksum_url": URL + ".sha256sum"}


def test_pin_key_is_the_url_without_scheme_and_query():
    assert pin_key(URL) == KEY
    assert pin_key("http://10.127.0.1:8080/images/pause-3.2.tar?x=1") == "10.127.0.1:8080/images/pause-3.2.tar"
    with pytest.raises(ArtifactError, match="has no scheme"):
        pin_key("dl.k8s.io/x")


def test_a_pin_replaces_the_mirrors_checksum_file():
    (plan,) = resolve([CHECKED], "http://m", pins={KEY: SHA.upper()})
    assert plan["checksum"] == "sha256:" + SHA  # get_url checks the file itself against the pin
    (plan,) = resolve([CHECKED], "http://m", pins={"other/path": SHA})
    assert plan["checksum"] == "sha256:http://m/" + KEY + ".sha256sum"  # not pinned: the mirror's checksum file


def test_an_artifacts_own_sha256_and_its_pin_must_agree():
    own = dict(CHECKED, sha256=SHA)
    assert resolve([own], pins={KEY: SHA})[0]["checksum"] == "sha256:" + SHA
    with pytest.raises(ArtifactError, match="its sha256 a{64} differs from download_pins\\[%s\\] b{64}" % KEY):
        resolve([own], pins={KEY: "b" * 64})


def test_a_malformed_pin_is_refused():
    with pytest.raises(ArtifactError, match=r"download_pins\[%s\]: 'abc' is not a sha256" % KEY):
        resolve([CHECKED], pins={KEY: "abc"})


def test_require_pins_refuses_an_unpinned_artifact_and_names_the_key():
    with pytest.raises(ArtifactError) as caught:
        resolve([CHECKED], "http://m", require_pins=True)
    assert str(caught.value) == (
        "artifact containerd 1.6.20 has no pinned sha256 and download_require_pins is true: add '%s: <sha256>' to "
        "download_pins (tools/build-artifacts.sh pins prints them for a mirror it built), or set "
        "download_require_pins: false to trust the mirror's checksum file" % KEY
    )
    assert resolve([CHECKED], "http://m", pins={KEY: SHA}, require_pins=True)[0]["checksum"] == "sha256:" + SHA
    assert resolve([dict(CHECKED, sha256=SHA)], require_pins=True)[0]["checksum"] == "sha256:" + SHA


def test_pinned_artifacts_are_listed_with_their_pin_and_installed_with_it():
    plans = resolve([CHECKED], "http://m", pins={KEY: SHA})
    assert listing(plans)[0]["sha256"] == SHA and listing(plans)[0]["checksum_url"] == ""
    assert install_spec(plans)[0]["sha256"] == SHA
