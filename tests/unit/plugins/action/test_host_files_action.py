"""Unit tests for plugins/action/host_files.py: the pure helpers, and run() with the module call faked."""

import copy
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import lookup_loader
from ansible.template import Templar
from ansible_collections.kubesmith.cluster.plugins.action import host_files as action_plugin
from ansible_collections.kubesmith.cluster.plugins.action.host_files import (
    HIDDEN,
    MODULE,
    ActionModule,
    directory_entries,
    hide_secrets,
    render_files,
)


class Render:
    """A fake render(name, vars): records its calls, returns a text naming them."""

    def __init__(self):
        self.calls = []

    def __call__(self, name, variables):
        self.calls.append((name, copy.deepcopy(variables)))
        return "rendered %s with %s" % (name, sorted(variables.items()))


# --- render_files ----------------------------------------------------------------------------------------------


def test_render_files_replaces_each_template_with_its_rendered_content():
    render = Render()
    files = [
        {
            "path": "/etc/systemd/system/etcd.service",
            "template": "unit.j2",
            "vars": {"item": {"name": "etcd"}},
            "mode": "0644",
        },
        {"path": "/etc/etcd/etcd.env", "content": "ETCD_NAME=cp1\n", "mode": "0600", "secret": True},
        {"path": "/etc/old.conf", "state": "absent"},
        {"path": "/etc/plain", "template": "plain.j2"},
        {"path": "/etc/none", "template": "none.j2", "vars": None, "content": None},
    ]
    before = copy.deepcopy(files)
    out = render_files(files, render)
    assert render.calls == [("unit.j2", {"item": {"name": "etcd"}}), ("plain.j2", {}), ("none.j2", {})]
    assert out == [
        {
            "path": "/etc/systemd/system/etcd.service",
            "mode": "0644",
            "content": "rendered unit.j2 with [('item', {'name': 'etcd'})]",
        },
        {"path": "/etc/etcd/etcd.env", "content": "ETCD_NAME=cp1\n", "mode": "0600", "secret": True},
        {"path": "/etc/old.conf", "state": "absent"},
        {"path": "/etc/plain", "content": "rendered plain.j2 with []"},
        {"path": "/etc/none", "content": "rendered none.j2 with []"},
    ]
    assert files == before  # the task's arguments are not changed


def test_render_files_of_nothing():
    render = Render()
    assert render_files([], render) == []
    assert render.calls == []


@pytest.mark.parametrize("content", ["x", ""], ids=["content", "empty content"])
def test_render_files_refuses_content_and_template_together(content):
    render = Render()
    with pytest.raises(AnsibleActionFail, match="/etc/x: give content or template, not both"):
        render_files([{"path": "/etc/x", "content": content, "template": "t.j2"}], render)
    assert render.calls == []


def test_render_files_refuses_vars_without_template():
    with pytest.raises(AnsibleActionFail, match="/etc/x: vars are for a template"):
        render_files([{"path": "/etc/x", "content": "x", "vars": {"item": 1}}], Render())


def test_render_files_takes_empty_vars_without_template():
    assert render_files([{"path": "/etc/x", "content": "x", "vars": {}}], Render()) == [
        {"path": "/etc/x", "content": "x"}
    ]


@pytest.mark.parametrize(
    "entry",
    [{"content": "x"}, {"path": "", "content": "x"}, {"path": None, "template": "t.j2"}, "/etc/x", None, ["/etc/x"]],
    ids=["no path", "empty path", "path None", "a string", "None", "a list"],
)
def test_render_files_refuses_an_item_without_path(entry):
    with pytest.raises(AnsibleActionFail, match="every item of files needs a path"):
        render_files([{"path": "/etc/ok", "content": "ok"}, entry], Render())


@pytest.mark.parametrize(("files", "kind"), [({"path": "/x"}, "dict"), ("/x", "str"), (None, "NoneType")])
def test_render_files_refuses_a_non_list(files, kind):
    with pytest.raises(AnsibleActionFail, match="files must be a list, got %s" % kind):
        render_files(files, Render())


def test_render_files_passes_render_errors_on():
    def render(name, variables):
        raise AnsibleActionFail("the template %s was not found" % name)

    with pytest.raises(AnsibleActionFail, match="the template missing.j2 was not found"):
        render_files([{"path": "/etc/x", "template": "missing.j2"}], render)


# --- directory_entries -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("directories", "expected"),
    [
        ([], []),
        (["/etc/kubernetes"], [{"path": "/etc/kubernetes"}]),
        (
            ["/etc/a", {"path": "/etc/b", "mode": "0700", "owner": "etcd"}, "/etc/c"],
            [{"path": "/etc/a"}, {"path": "/etc/b", "mode": "0700", "owner": "etcd"}, {"path": "/etc/c"}],
        ),
    ],
    ids=["none", "a string", "strings and dicts in order"],
)
def test_directory_entries(directories, expected):
    assert directory_entries(directories) == expected


def test_directory_entries_keeps_dicts_as_they_are():
    entry = {"path": "/etc/b", "mode": "0700"}
    assert directory_entries([entry])[0] is entry


@pytest.mark.parametrize(("directories", "kind"), [("/etc/x", "str"), ({"path": "/x"}, "dict"), (None, "NoneType")])
def test_directory_entries_refuses_a_non_list(directories, kind):
    with pytest.raises(AnsibleActionFail, match="directories must be a list, got %s" % kind):
        directory_entries(directories)


# --- hide_secrets ----------------------------------------------------------------------------------------------


def test_hide_secrets_replaces_the_content_of_secret_paths_only():
    invocation = {
        "module_args": {
            "directories": [{"path": "/etc/kubernetes/pki"}],
            "files": [
                {"path": "/etc/kubernetes/pki/sa.key", "content": "PRIVATE-KEY-MATERIAL", "mode": "0600"},
                {"path": "/etc/kubernetes/config.yaml", "content": "public: yes\n"},
                {"path": "/etc/kubernetes/token.csv", "content": "TOKEN-MATERIAL"},
                {"path": "/etc/kubernetes/gone", "content": None, "state": "absent"},
            ],
        }
    }
    hide_secrets(invocation, {"/etc/kubernetes/pki/sa.key", "/etc/kubernetes/token.csv", "/etc/kubernetes/gone"})
    assert "KEY-MATERIAL" not in repr(invocation) and "TOKEN-MATERIAL" not in repr(invocation)
    assert invocation["module_args"]["files"] == [
        {"path": "/etc/kubernetes/pki/sa.key", "content": HIDDEN, "mode": "0600"},
        {"path": "/etc/kubernetes/config.yaml", "content": "public: yes\n"},
        {"path": "/etc/kubernetes/token.csv", "content": HIDDEN},
        {"path": "/etc/kubernetes/gone", "content": None, "state": "absent"},
    ]
    assert invocation["module_args"]["directories"] == [{"path": "/etc/kubernetes/pki"}]


@pytest.mark.parametrize(
    "invocation",
    [
        None,
        {},
        {"module_args": None},
        {"module_args": {}},
        {"module_args": {"files": None}},
        {"module_args": {"files": ["/etc/x", None]}},
    ],
    ids=["None", "empty", "module_args None", "no files", "files None", "files not dicts"],
)
def test_hide_secrets_tolerates_what_is_not_there(invocation):
    before = copy.deepcopy(invocation)
    hide_secrets(invocation, {"/etc/x"})
    assert invocation == before


def test_hide_secrets_without_secret_paths_changes_nothing():
    invocation = {"module_args": {"files": [{"path": "/etc/x", "content": "x"}]}}
    hide_secrets(invocation, set())
    assert invocation == {"module_args": {"files": [{"path": "/etc/x", "content": "x"}]}}


# --- run(), with the module call faked -------------------------------------------------------------------------


class BuiltinLookups:
    """lookup_loader for a process without Ansible's collection finder: ansible.builtin.X is the real lookup X."""

    def get(self, name, *args, **kwargs):
        assert name.startswith("ansible.builtin."), name
        return lookup_loader.get(name[len("ansible.builtin.") :], *args, **kwargs)


def run_action(tmp_path, args, module_result, monkeypatch):
    """ActionModule.run with the task's templates in tmp_path/templates; returns (result, the module's arguments)."""
    monkeypatch.setattr(action_plugin, "lookup_loader", BuiltinLookups())
    calls = []

    def execute_module(module_name=None, module_args=None, task_vars=None, **_kw):
        calls.append((module_name, copy.deepcopy(module_args)))
        return dict(module_result, invocation={"module_args": copy.deepcopy(module_args)})

    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = False
    task.diff = False
    task.action = MODULE
    connection = MagicMock()
    connection._shell.tmpdir = None
    loader = DataLoader()
    task_vars = {"ansible_search_path": [str(tmp_path)], "cluster_name": "lab"}
    action = ActionModule(task, connection, MagicMock(), loader, Templar(loader=loader, variables=task_vars), None)
    action._execute_module = execute_module
    result = action.run(task_vars=task_vars)
    ((module_name, module_args),) = calls
    assert module_name == MODULE
    return result, module_args


def test_run_renders_templates_and_hides_secrets(tmp_path, monkeypatch):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "unit.j2").write_text(
        "[Unit]\nDescription={{ item.description }} of {{ cluster_name }}\n"
    )
    args = {
        "directories": ["/etc/kubernetes", {"path": "/etc/kubernetes/pki", "mode": "0700"}],
        "files": [
            {
                "path": "/etc/systemd/system/etcd.service",
                "template": "unit.j2",
                "vars": {"item": {"description": "etcd"}},
            },
            {"path": "/etc/kubernetes/pki/sa.key", "content": "PRIVATE-KEY-MATERIAL", "secret": True},
        ],
    }
    result, module_args = run_action(
        tmp_path, args, {"changed": True, "changed_paths": ["/etc/kubernetes"]}, monkeypatch
    )
    assert module_args["directories"] == [{"path": "/etc/kubernetes"}, {"path": "/etc/kubernetes/pki", "mode": "0700"}]
    assert module_args["files"][0] == {
        "path": "/etc/systemd/system/etcd.service",
        "content": "[Unit]\nDescription=etcd of lab\n",
    }
    assert module_args["files"][1]["content"] == "PRIVATE-KEY-MATERIAL"  # the host needs it
    assert result["changed"] is True
    assert result["changed_paths"] == ["/etc/kubernetes"]
    assert "PRIVATE-KEY-MATERIAL" not in repr(result)
    assert result["invocation"]["module_args"]["files"][1]["content"] == HIDDEN
    assert result["invocation"]["module_args"]["files"][0]["content"] == "[Unit]\nDescription=etcd of lab\n"


def test_run_fails_before_the_module_call_on_bad_files(tmp_path, monkeypatch):
    with pytest.raises(AnsibleActionFail, match="give content or template, not both"):
        run_action(tmp_path, {"files": [{"path": "/etc/x", "content": "x", "template": "t.j2"}]}, {}, monkeypatch)


@pytest.mark.parametrize("call", [
    lambda: render_files([{"path": "/etc/a", "content": "x", "mode": 420}], lambda name, variables: ""),
    lambda: directory_entries([{"path": "/etc/a", "mode": 493}]),
])
def test_an_unquoted_mode_is_refused_before_it_becomes_the_wrong_octal(call):
    with pytest.raises(AnsibleActionFail, match="quote it"):
        call()


def test_quoted_modes_pass():
    assert render_files([{"path": "/etc/a", "content": "x", "mode": "0644"}], None)[0]["mode"] == "0644"
    assert directory_entries([{"path": "/etc/a", "mode": "0700"}]) == [{"path": "/etc/a", "mode": "0700"}]
