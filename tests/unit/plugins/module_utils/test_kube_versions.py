"""Unit tests for plugins/module_utils/kube/versions.py (the version table, parsing and comparison)."""

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.kube import versions as kv

# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    "text, expected",
    [
        ("v1.20.2", (1, 20, 2, (), "")),
        ("1.20.2", (1, 20, 2, (), "")),
        ("1.20.2+kubesmith.1", (1, 20, 2, (), "kubesmith.1")),
        ("v1.20.2+kubesmith.1", (1, 20, 2, (), "kubesmith.1")),
        (" v1.37.0 ", (1, 37, 0, (), "")),
        ("v1.37.0-rc.1", (1, 37, 0, ("rc", 1), "")),
        ("1.36.0-alpha.3+build-7.x", (1, 36, 0, ("alpha", 3), "build-7.x")),
        ("v1.35.10", (1, 35, 10, (), "")),
    ],
)
def test_parse_version(text, expected):
    version = kv.parse_version(text)
    assert tuple(version) == expected
    assert version.minor_str == "%d.%d" % expected[:2]


@pytest.mark.parametrize(
    "value, match",
    [
        ("1.20", "has no patch number"),
        ("v1", "is not a Kubernetes version"),
        ("1.20.2.1", "is not a Kubernetes version"),
        ("1.020.2", "is not a Kubernetes version"),
        ("latest", "is not a Kubernetes version"),
        ("", "is not a Kubernetes version"),
        ("v1.20.2+", "is not a Kubernetes version"),
        ("v1.20.2-", "is not a Kubernetes version"),
        ("V1.20.2", "is not a Kubernetes version"),
        (1.2, "YAML reads 1.20 as 1.2"),
        (None, "is not a string"),
        (True, "is not a string"),
        (["1.20.2"], "is not a string"),
    ],
)
def test_parse_version_refuses(value, match):
    with pytest.raises(kv.KubeVersionError, match=match):
        kv.parse_version(value)


def test_parse_version_without_patch_when_allowed():
    version = kv.parse_version("1.35", require_patch=False)
    assert (version.major, version.minor, version.patch) == (1, 35, None)
    assert str(version) == "v1.35"
    with pytest.raises(kv.KubeVersionError, match="no patch number"):
        kv.parse_version(version)  # a parsed bare minor is still not a full version


def test_str_round_trip():
    for text in ("v1.20.2", "v1.20.2+kubesmith.1", "v1.37.0-rc.1", "v1.36.0-alpha.3+b.7"):
        assert str(kv.parse_version(text)) == text
        assert kv.parse_version(str(kv.parse_version(text))) == kv.parse_version(text)


# --------------------------------------------------------------------------- comparison


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("v1.20.2", "1.20.2", 0),
        ("v1.20.2", "1.20.2+kubesmith.1", 0),  # a build tag is the same version
        ("1.20.2+kubesmith.1", "1.20.2+kubesmith.2", 0),
        ("v1.20.2", "v1.20.10", -1),  # numeric, not lexical
        ("v1.35.0", "v1.20.9", 1),
        ("v1.37.0-rc.1", "v1.37.0", -1),  # a pre-release comes before its release
        ("v1.37.0-alpha.2", "v1.37.0-beta.0", -1),
        ("v1.37.0-beta.2", "v1.37.0-beta.10", -1),
        ("v1.37.0-rc.0", "v1.36.9", 1),
        ("1.35", "1.35.0", 0),  # a missing patch counts as 0
        ("1.35", "1.35.1", -1),
    ],
)
def test_compare(a, b, expected):
    assert kv.compare(a, b) == expected
    assert kv.compare(b, a) == -expected


def test_minor_and_distance():
    assert kv.minor("v1.20.2+kubesmith.1") == "1.20"
    assert kv.minor("1.37") == "1.37"
    assert kv.minor_distance("v1.35.3", "1.36.0") == 1
    assert kv.minor_distance("1.37.0", "1.35.0") == -2
    with pytest.raises(kv.KubeVersionError, match="across major versions"):
        kv.minor_distance("1.35.0", "2.0.0")


# --------------------------------------------------------------------------- supported / lookup


@pytest.mark.parametrize(
    "value",
    ["v1.20.2", "1.20.2+kubesmith.1", "v1.35.0", "1.36.4", "v1.37.1", "1.37", "1.20"],
)
def test_supported(value):
    assert kv.supported(value)
    assert kv.lookup(value).minor == kv.minor(value)


@pytest.mark.parametrize(
    "value",
    ["v1.19.16", "v1.21.0", "v1.34.9", "v1.38.0", "2.0.0", "v1.37.0-rc.1", "garbage", None, 1.2],
)
def test_not_supported(value):
    assert not kv.supported(value)


def test_prerelease_only_when_allowed():
    assert kv.supported("v1.37.0-rc.1", allow_prerelease=True)
    assert kv.lookup("v1.37.0-rc.1", allow_prerelease=True).minor == "1.37"
    with pytest.raises(kv.KubeVersionError, match="v1.37.0-rc.1 is a pre-release; kubesmith deploys releases only"):
        kv.lookup("v1.37.0-rc.1")


def test_unsupported_error_names_the_supported_minors():
    with pytest.raises(kv.KubeVersionError) as err:
        kv.lookup("v1.30.2")
    message = str(err.value)
    assert "Kubernetes v1.30.2 is not supported" in message
    assert "1.20, 1.35, 1.36, 1.37" in message
    assert "kube_version" in message


# --------------------------------------------------------------------------- the table itself


def test_supported_minors_and_default():
    assert kv.SUPPORTED_MINORS == ("1.20", "1.35", "1.36", "1.37")
    assert tuple(kv.TABLE) == kv.SUPPORTED_MINORS
    assert max(kv.SUPPORTED_MINORS, key=lambda m: kv.parse_version(m, require_patch=False)[:2]) == kv.DEFAULT_MINOR
    # the three newest minors are consecutive
    newest = [kv.parse_version(m, require_patch=False).minor for m in kv.SUPPORTED_MINORS[1:]]
    assert newest == list(range(newest[0], newest[0] + 3))


def test_every_row_is_complete():
    for minor, info in kv.TABLE.items():
        assert info.minor == minor
        for field in info._fields:
            if field not in ("authentication_config_api",):
                assert getattr(info, field) is not None, (minor, field)
        assert set(info.removed_flags) == set(kv.COMPONENTS), minor
        assert info.notes, minor
        if not info.confirmed:
            assert any("NOT confirmed" in n for n in info.notes), minor


def test_1_20_row_matches_what_was_seen_on_the_built_binaries():
    info = kv.lookup("v1.20.2")
    assert info.cri_api == "v1alpha2"
    assert info.kubelet_container_runtime_flag is True
    assert info.kubelet_runtime_endpoint_in_config is False
    assert info.apiserver_insecure_port_flag is True
    assert info.component_insecure_port_flag is True
    assert info.scheduler_config_api == "kubescheduler.config.k8s.io/v1beta1"
    assert info.scheduler_uses_config_file is False
    assert info.kubelet_config_api == "kubelet.config.k8s.io/v1beta1"
    assert info.kube_proxy_config_api == "kubeproxy.config.k8s.io/v1alpha1"
    assert info.authentication_config_api is None
    assert info.kubelet_fail_cgroup_v1_default is False
    assert not any(v.startswith("2.") for v in info.containerd_versions)  # containerd 2 dropped v1alpha2
    assert all(flags == () for flags in info.removed_flags.values())


@pytest.mark.parametrize("minor", ["1.35", "1.36", "1.37"])
def test_newest_rows(minor):
    info = kv.lookup(minor)
    assert info.cri_api == "v1"
    assert info.kubelet_container_runtime_flag is False
    assert info.kubelet_runtime_endpoint_in_config is True
    assert info.apiserver_insecure_port_flag is False
    assert info.component_insecure_port_flag is False
    assert info.scheduler_uses_config_file is True
    assert info.scheduler_config_api == "kubescheduler.config.k8s.io/v1"
    assert info.kubelet_config_api == "kubelet.config.k8s.io/v1beta1"
    assert info.kube_proxy_config_api == "kubeproxy.config.k8s.io/v1alpha1"
    assert info.authentication_config_api == "apiserver.config.k8s.io/v1"
    assert info.kubelet_fail_cgroup_v1_default is True
    assert info.encryption_config_automatic_reload is True
    assert "--insecure-port" in info.removed_flags["kube-apiserver"]
    assert "--container-runtime" in info.removed_flags["kubelet"]
    assert "--port" in info.removed_flags["kube-scheduler"]
    assert "--port" in info.removed_flags["kube-controller-manager"]
    assert "--logtostderr" in info.removed_flags["kube-proxy"]


def test_containerd_lines():
    assert "1.7." in kv.lookup("1.35").containerd_versions  # last minor with containerd 1.x
    for minor in ("1.36", "1.37"):
        assert all(v.startswith("2.") for v in kv.lookup(minor).containerd_versions)


@pytest.mark.parametrize(
    "kube, containerd, expected",
    [
        ("v1.20.2", "1.6.20~ds1-1+deb12u3", True),  # bookworm's containerd
        ("v1.20.2", "1.7.24", True),  # trixie's
        ("v1.20.2", "v2.0.1", False),  # no CRI v1alpha2
        ("v1.20.2", "1.4.13", False),
        ("v1.35.0", "1.7.24", True),
        ("v1.35.0", "2.1.4", True),
        ("v1.35.0", "1.6.20", False),
        ("v1.36.1", "1.7.24", False),
        ("v1.37.0", "v2.2.0", True),
        ("v1.37.0", "12.0.0", False),  # a prefix match must not be fooled by more digits
    ],
)
def test_containerd_supported(kube, containerd, expected):
    assert kv.containerd_supported(kube, containerd) is expected


def test_containerd_supported_refuses_garbage():
    with pytest.raises(kv.KubeVersionError, match="is not a containerd version"):
        kv.containerd_supported("v1.37.0", "latest")


def test_same_apis_everywhere_for_encryption_and_audit():
    assert {i.encryption_config_api for i in kv.TABLE.values()} == {"apiserver.config.k8s.io/v1"}
    assert {i.audit_policy_api for i in kv.TABLE.values()} == {"audit.k8s.io/v1"}


def test_removed_flags_helper():
    assert kv.removed_flags("v1.20.2", "kube-apiserver") == ()
    assert "--insecure-bind-address" in kv.removed_flags("v1.37.0", "kube-apiserver")
    with pytest.raises(kv.KubeVersionError, match="unknown component 'etcd'"):
        kv.removed_flags("v1.37.0", "etcd")


def test_as_dict_is_plain():
    row = kv.as_dict("v1.20.2+kubesmith.1")
    assert row["minor"] == "1.20"
    assert row["cri_api"] == "v1alpha2"
    assert isinstance(row["notes"], list) and isinstance(row["containerd_versions"], list)
    assert isinstance(row["removed_flags"]["kubelet"], list)
    assert row["feature_gates"] == {}
