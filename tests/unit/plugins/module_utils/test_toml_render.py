import pytest
import tomllib
from ansible_collections.kubesmith.cluster.plugins.module_utils.toml_render import TomlError, to_toml

CONTAINERD = {
    "version": 2,
    "root": "/var/lib/containerd",
    "grpc": {"address": "/run/containerd/containerd.sock", "max_recv_message_size": 16777216},
    "plugins": {
        "io.containerd.grpc.v1.cri": {
            "sandbox_image": "registry.k8s.io/pause:3.10",
            "restrict_oom_score_adj": True,
            "containerd": {
                "default_runtime_name": "runc",
                "runtimes": {"runc": {"runtime_type": "io.containerd.runc.v2", "options": {"SystemdCgroup": True}}},
            },
            "registry": {"config_path": "/etc/containerd/certs.d"},
        }
    },
}


@pytest.mark.parametrize(
    "data",
    [
        CONTAINERD,
        {},
        {"a": [1, 2, 3], "b": ["x", 'quote " and \\ backslash', "tab\tnew\nline"], "c": 1.5, "d": False},
        {"inline": {"x": {"y": [{"k": "v"}]}}, "empty": {}},
        {"weird key": {"also.dotted": "v"}, "ctl\x01": "\x7f"},
    ],
)
def test_round_trip(data):
    assert tomllib.loads(to_toml(data)) == data


def test_dotted_plugin_names_are_quoted_and_output_is_stable():
    text = to_toml(CONTAINERD)
    assert '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]' in text
    assert text == to_toml(dict(reversed(list(CONTAINERD.items()))))
    assert text.startswith("root = ")


@pytest.mark.parametrize(("data", "message"), [({"a": None}, "a: TOML has no null"), ([1], "top level"),
                                               ({"a": {"b": object()}}, "a.b: cannot render")])
def test_refusals(data, message):
    with pytest.raises(TomlError, match=message):
        to_toml(data)
