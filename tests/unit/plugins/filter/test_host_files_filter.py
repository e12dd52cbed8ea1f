"""Unit tests for plugins/filter/host_files.py (component_files, template_files, component_restarts, service_states)."""

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.filter import host_files as F

FILTERS = F.FilterModule().filters()

APISERVER = {"name": "kube-apiserver", "description": "Kubernetes API server", "args": ["--v=2"]}
SCHEDULER = {"name": "kube-scheduler", "description": "Kubernetes scheduler", "args": []}
SCHEDULER_CONFIG = {
    "apiVersion": "kubescheduler.config.k8s.io/v1",
    "kind": "KubeSchedulerConfiguration",
    "clientConnection": {"kubeconfig": "/etc/kubernetes/scheduler.kubeconfig"},
    "profiles": [{"schedulerName": "default-scheduler"}],
}
AUDIT_POLICY_TEXT = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"


def test_filter_names():
    assert set(FILTERS) == {"component_files", "template_files", "component_restarts", "service_states",
                            "sysctl_paths", "sysctl_drift"}
    assert FILTERS["component_restarts"] is F.component_restarts_filter


# --- component_files -------------------------------------------------------------------------------------------


def test_component_files_one_unit_per_component_then_the_config_files():
    config_files = [
        {"path": "/etc/kubernetes/audit-policy.yaml", "content": AUDIT_POLICY_TEXT, "component": "kube-apiserver"},
        {"path": "/etc/kubernetes/scheduler.yaml", "content": SCHEDULER_CONFIG, "component": "kube-scheduler"},
        {"path": "/etc/kubernetes/authentication.yaml", "content": None, "component": "kube-apiserver"},
        {"path": "/etc/kubernetes/no-content.yaml", "component": "kube-apiserver"},
    ]
    files = FILTERS["component_files"]([APISERVER, SCHEDULER], "component.service.j2", config_files)
    assert files == [
        {
            "path": "/etc/systemd/system/kube-apiserver.service",
            "template": "component.service.j2",
            "vars": {"item": APISERVER},
            "mode": "0644",
        },
        {
            "path": "/etc/systemd/system/kube-scheduler.service",
            "template": "component.service.j2",
            "vars": {"item": SCHEDULER},
            "mode": "0644",
        },
        {"path": "/etc/kubernetes/audit-policy.yaml", "mode": "0644", "content": AUDIT_POLICY_TEXT},
        {
            "path": "/etc/kubernetes/scheduler.yaml",
            "mode": "0644",
            "content": "apiVersion: kubescheduler.config.k8s.io/v1\n"
            "clientConnection:\n"
            "  kubeconfig: /etc/kubernetes/scheduler.kubeconfig\n"
            "kind: KubeSchedulerConfiguration\n"
            "profiles:\n"
            "- schedulerName: default-scheduler\n",
        },
    ]
    assert yaml.safe_load(files[3]["content"]) == SCHEDULER_CONFIG


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"a": {"b": 1}}, "a:\n  b: 1\n"),
        (["x", "y"], "- x\n- y\n"),
        ("kept: as is\n  even: odd indentation\n", "kept: as is\n  even: odd indentation\n"),
        ("", ""),
        ({}, "{}\n"),
    ],
    ids=["dict as YAML", "list as YAML", "string kept", "empty string kept", "empty dict"],
)
def test_component_files_config_content(content, expected):
    files = FILTERS["component_files"]([APISERVER], "t.j2", [{"path": "/etc/x.yaml", "content": content}])
    assert files[1:] == [{"path": "/etc/x.yaml", "mode": "0644", "content": expected}]


def test_component_files_modes():
    files = FILTERS["component_files"](
        [APISERVER], "t.j2", [{"path": "/etc/x.yaml", "content": "x"}], mode="0640", config_mode="0600"
    )
    assert [(e["path"], e["mode"]) for e in files] == [
        ("/etc/systemd/system/kube-apiserver.service", "0640"),
        ("/etc/x.yaml", "0600"),
    ]
    only_config_mode = FILTERS["component_files"](
        [APISERVER], "t.j2", [{"path": "/x", "content": "x"}], config_mode="0600"
    )
    assert [e["mode"] for e in only_config_mode] == ["0644", "0600"]


@pytest.mark.parametrize("config_files", [None, [], ()])
def test_component_files_without_config_files(config_files):
    files = FILTERS["component_files"]([APISERVER, SCHEDULER], "t.j2", config_files)
    assert [e["path"] for e in files] == [
        "/etc/systemd/system/kube-apiserver.service",
        "/etc/systemd/system/kube-scheduler.service",
    ]
    assert FILTERS["component_files"]([SCHEDULER], "t.j2") == files[1:]


def test_component_files_does_not_change_its_input():
    components = [dict(APISERVER)]
    config_files = [{"path": "/etc/x.yaml", "content": {"a": 1}, "component": "kube-apiserver"}]
    FILTERS["component_files"](components, "t.j2", config_files)
    assert components == [APISERVER]
    assert config_files == [{"path": "/etc/x.yaml", "content": {"a": 1}, "component": "kube-apiserver"}]


@pytest.mark.parametrize(
    "components",
    [
        None,
        "kube-apiserver",
        {"name": "kube-apiserver"},
        ["kube-apiserver"],
        [{"description": "x"}],
        [{"name": ""}],
        [APISERVER, None],
    ],
    ids=["None", "string", "dict", "list of strings", "no name", "empty name", "one not a dict"],
)
def test_component_files_refuses_bad_components(components):
    with pytest.raises(AnsibleFilterError, match="components must be a list of dicts with a name"):
        FILTERS["component_files"](components, "t.j2", [])


# --- template_files --------------------------------------------------------------------------------------------

MIRRORS = [
    {"key": "docker.io", "endpoints": ["http://mirror:5000"]},
    {"key": "registry.k8s.io", "endpoints": ["http://mirror:5001"]},
]


def test_template_files_one_entry_per_item():
    files = FILTERS["template_files"](MIRRORS, "hosts.toml.j2", "/etc/containerd/certs.d/{}/hosts.toml", key="key")
    assert files == [
        {
            "path": "/etc/containerd/certs.d/docker.io/hosts.toml",
            "template": "hosts.toml.j2",
            "vars": {"item": MIRRORS[0]},
            "mode": "0644",
        },
        {
            "path": "/etc/containerd/certs.d/registry.k8s.io/hosts.toml",
            "template": "hosts.toml.j2",
            "vars": {"item": MIRRORS[1]},
            "mode": "0644",
        },
    ]


def test_template_files_defaults_to_the_name_and_takes_a_mode():
    files = FILTERS["template_files"]([{"name": "etcd"}], "env.j2", "/etc/{}/{}.env", mode="0600")
    assert files == [
        {"path": "/etc/etcd/etcd.env", "template": "env.j2", "vars": {"item": {"name": "etcd"}}, "mode": "0600"}
    ]


def test_template_files_of_no_items():
    assert FILTERS["template_files"]([], "t.j2", "/etc/{}") == []


@pytest.mark.parametrize(
    ("items", "path", "key", "message"),
    [
        (None, "/etc/{}", "name", "a list of items and a path with {} are needed"),
        ({"name": "x"}, "/etc/{}", "name", "a list of items and a path with {} are needed"),
        ("x", "/etc/{}", "name", "a list of items and a path with {} are needed"),
        ([{"name": "x"}], "/etc/x", "name", "a list of items and a path with {} are needed"),
        ([{"name": "x"}], None, "name", "a list of items and a path with {} are needed"),
        (["x"], "/etc/{}", "name", "every item needs 'name'"),
        ([{"key": "x"}], "/etc/{}", "name", "every item needs 'name'"),
        ([{"name": "x"}], "/etc/{}", "key", "every item needs 'key'"),
        ([{"name": ""}], "/etc/{}", "name", "every item needs 'name'"),
        ([{"name": "x"}, None], "/etc/{}", "name", "every item needs 'name'"),
    ],
    ids=[
        "None",
        "dict",
        "string",
        "path without {}",
        "no path",
        "item not a dict",
        "no name",
        "no key",
        "empty name",
        "one None",
    ],
)
def test_template_files_refuses_bad_input(items, path, key, message):
    with pytest.raises(AnsibleFilterError, match="kubesmith.cluster.template_files: " + message.replace("{}", r"\{\}")):
        FILTERS["template_files"](items, "t.j2", path, key=key)


# --- component_restarts ----------------------------------------------------------------------------------------

COMPONENTS = [APISERVER, {"name": "kube-controller-manager"}, SCHEDULER]
CONFIG_FILES = [
    {"path": "/etc/kubernetes/audit-policy.yaml", "component": "kube-apiserver", "content": "x"},
    {"path": "/etc/kubernetes/scheduler.yaml", "component": "kube-scheduler", "content": {"a": 1}},
]


@pytest.mark.parametrize(
    ("result", "binaries_changed", "restarts"),
    [
        ({"changed": True, "changed_paths": ["/etc/kubernetes/scheduler.yaml"]}, False, ["kube-scheduler"]),
        (
            {
                "changed_paths": [
                    "/etc/systemd/system/kube-controller-manager.service",
                    "/etc/kubernetes/audit-policy.yaml",
                ]
            },
            False,
            ["kube-apiserver", "kube-controller-manager"],
        ),
        ({"changed": False, "changed_paths": []}, False, []),
        (
            {"changed": False, "changed_paths": []},
            True,
            ["kube-apiserver", "kube-controller-manager", "kube-scheduler"],
        ),
        (None, False, []),
        (None, True, ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]),
        ({}, False, []),
        ({"changed_paths": None}, False, []),
        ({"skipped": True, "changed": False}, False, []),
        ({"changed_paths": ["/etc/kubernetes/scheduler.yaml"]}, None, ["kube-scheduler"]),
        ({"changed_paths": []}, 1, ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]),
    ],
    ids=[
        "config file",
        "unit and config, in component order",
        "nothing",
        "binaries",
        "no result",
        "no result, binaries",
        "empty result",
        "changed_paths None",
        "skipped task",
        "binaries None",
        "binaries truthy",
    ],
)
def test_component_restarts_filter(result, binaries_changed, restarts):
    assert FILTERS["component_restarts"](COMPONENTS, CONFIG_FILES, result, binaries_changed) == restarts


def test_component_restarts_filter_binaries_default_to_unchanged():
    assert FILTERS["component_restarts"](COMPONENTS, CONFIG_FILES, {"changed_paths": []}) == []


def test_component_restarts_filter_without_config_files():
    result = {"changed_paths": ["/etc/kubernetes/scheduler.yaml", "/etc/systemd/system/kube-scheduler.service"]}
    assert FILTERS["component_restarts"](COMPONENTS, None, result) == ["kube-scheduler"]


def test_component_restarts_filter_refuses_bad_components():
    with pytest.raises(AnsibleFilterError, match="components must be a list of dicts with a name"):
        FILTERS["component_restarts"](["kube-apiserver"], CONFIG_FILES, {"changed_paths": []})


# --- service_states --------------------------------------------------------------------------------------------


def test_service_states():
    names = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]
    assert FILTERS["service_states"](names, ["kube-scheduler"]) == [
        {"name": "kube-apiserver", "state": "started"},
        {"name": "kube-controller-manager", "state": "started"},
        {"name": "kube-scheduler", "state": "restarted"},
    ]
    assert [s["state"] for s in FILTERS["service_states"](names)] == ["started"] * 3
    assert [s["state"] for s in FILTERS["service_states"](names, None)] == ["started"] * 3
    with pytest.raises(AnsibleFilterError, match="names must be unit names"):
        FILTERS["service_states"](["kubelet", ""])


def test_template_files_without_a_template_takes_each_items_own():
    manifests = [{"name": "coredns", "template": "coredns.yaml.j2"}, {"name": "metrics", "template": "m.yaml.j2"}]
    out = F.template_files(manifests, None, "/etc/kubernetes/addons/{}.yaml", mode="0640")
    assert [(e["path"], e["template"], e["mode"]) for e in out] == [
        ("/etc/kubernetes/addons/coredns.yaml", "coredns.yaml.j2", "0640"),
        ("/etc/kubernetes/addons/metrics.yaml", "m.yaml.j2", "0640"),
    ]
    with pytest.raises(AnsibleFilterError, match="no template for 'x'"):
        F.template_files([{"name": "x"}], None, "/a/{}")


def test_sysctl_paths_and_drift_filter():
    assert F.sysctl_paths(["net.ipv4.ip_forward"]) == ["/proc/sys/net/ipv4/ip_forward"]
    assert FILTERS["sysctl_drift"]({"net.ipv4.ip_forward": 1}, {"/proc/sys/net/ipv4/ip_forward": "0\n"}) == [
        "net.ipv4.ip_forward"]
    with pytest.raises(AnsibleFilterError):
        FILTERS["sysctl_drift"]([], {})
