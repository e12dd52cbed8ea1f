import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.filter.reset import reset_unsafe_paths
from ansible_collections.kubesmith.cluster.plugins.module_utils.host.reset_paths import problem, unsafe


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("/var/lib/containerd", ""),
        ("/var/lib/containerd/", ""),
        ("/opt/kubesmith", ""),
        ("/etc/kubernetes", ""),
        ("", "is empty"),
        ("   ", "is empty"),
        (None, "is empty"),
        (["/var/lib/x"], "is empty"),
        ("/", "is the root directory, a system directory"),
        ("//", "is not written plainly (no '.', '..' or '//' parts)"),
        ("/var", "is a top-level directory, a system directory"),
        ("/opt/", "is a top-level directory, a system directory"),
        ("var/lib/containerd", "is not an absolute path"),
        ("./containerd", "is not an absolute path"),
        ("/var/lib/../..", "is not written plainly (no '.', '..' or '//' parts)"),
        ("/var/lib/./containerd", "is not written plainly (no '.', '..' or '//' parts)"),
        ("/var//lib", "is not written plainly (no '.', '..' or '//' parts)"),
    ],
)
def test_problem(value, why):
    assert problem(value) == why


def test_unsafe_names_each_variable_in_order():
    messages = unsafe({"containerd_root_dir": "", "etcd_data_dir": "/var/lib/etcd", "download_install_root": "/opt"})
    assert len(messages) == 2
    assert messages[0].startswith("containerd_root_dir is empty ('')")
    assert messages[1].startswith("download_install_root is a top-level directory, a system directory ('/opt')")


def test_unsafe_accepts_the_defaults():
    assert unsafe({"containerd_root_dir": "/var/lib/containerd", "containerd_state_dir": "/run/containerd"}) == []


def test_filter_wants_a_dict():
    with pytest.raises(AnsibleFilterError):
        reset_unsafe_paths(["/var/lib/containerd"])
    assert reset_unsafe_paths({"x": "/"}) != []
