"""Tests of the install_artifacts module through AnsibleModule (patch_module_args) and its module file in its own
interpreter. The run through ansible-playbook is in tests/integration/test_install_artifacts_playbook.py."""

import hashlib
import json
import os
import re

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args
from ansible_collections.kubesmith.cluster.plugins.modules import install_artifacts
from support.artifacts import etcd_archive, module_args
from support.modules import run_module_file


def run_module(capsys, args, check_mode=False, diff=False):
    """Run main() like Ansible does; return (exit code, parsed JSON result)."""
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args), pytest.raises(SystemExit) as exc:
        install_artifacts.main()
    return exc.value.code, json.loads(capsys.readouterr().out)


@pytest.fixture
def archive(tmp_path):
    return etcd_archive(tmp_path)


def test_install_then_idempotent(capsys, tmp_path, archive):
    with open(archive, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    args = module_args(tmp_path, archive, sha256=digest)
    code, result = run_module(capsys, args)
    assert code == 0, result
    assert result["changed"] is True
    art = result["artifacts"][0]
    assert art["path"] == str(tmp_path / "opt" / "etcd" / "3.5.9")
    assert art["extracted"] is True
    assert art["sha256"] == digest
    assert sorted(art["links_changed"]) == [str(tmp_path / "bin" / "etcd"), str(tmp_path / "bin" / "etcdctl")]
    assert os.readlink(str(tmp_path / "bin" / "etcd")) == os.path.join(art["path"], "etcd")
    assert "diff" in result and "(absent)" in result["diff"]["before"]

    code, again = run_module(capsys, args)
    assert code == 0
    assert again["changed"] is False
    assert again["artifacts"][0]["extracted"] is False


def test_check_mode_writes_nothing(capsys, tmp_path, archive):
    code, result = run_module(capsys, module_args(tmp_path, archive), check_mode=True)
    assert code == 0, result
    assert result["changed"] is True
    assert result["artifacts"][0]["extracted"] is True
    assert not os.path.exists(str(tmp_path / "opt"))
    assert not os.path.exists(str(tmp_path / "bin"))


def _run_module_process(tmp_path, args):
    """Run the module file in its own interpreter, as Ansible does (no controller state in the process)."""
    return run_module_file(install_artifacts.__file__, tmp_path, args)


def test_warnings_reach_ansible(tmp_path, archive):
    # A separate process: with controller code imported (other test files do), ansible-core
    # routes module warnings to its display instead of the result.
    args = module_args(tmp_path, archive)
    assert _run_module_process(tmp_path, args)[0] == 0
    os.unlink(archive)
    code, result = _run_module_process(tmp_path, args)
    assert code == 0
    assert result["changed"] is False
    assert any("no sha256 is given" in str(w) for w in result["warnings"])


@pytest.mark.parametrize("extra, message", [
    ({"sha256": "f" * 64}, "but f{64} was expected"),
    ({"strip_components": 0}, r"link target\(s\) etcd, etcdctl not found .*check strip_components"),
    ({"links": {"bin/etcd": "etcd"}}, "must be an absolute path"),
])
def test_failures_are_actionable_and_change_nothing(capsys, tmp_path, archive, extra, message):
    code, result = run_module(capsys, module_args(tmp_path, archive, **extra))
    assert code == 1
    assert result["failed"] is True
    assert re.search(message, result["msg"]), result["msg"]
    assert not os.path.exists(str(tmp_path / "opt" / "etcd" / "3.5.9"))
    assert not os.path.exists(str(tmp_path / "bin"))


def test_argument_spec_rejects_missing_required_suboption(capsys, tmp_path, archive):
    args = module_args(tmp_path, archive)
    del args["artifacts"][0]["version"]
    code, result = run_module(capsys, args)
    assert code == 1
    assert "version" in result["msg"]


def _doc_options(options):
    out = {}
    for name, spec in options.items():
        entry = {"type": spec.get("type", "str"), "required": spec.get("required", False),
                 "default": spec.get("default")}
        if spec.get("elements"):
            entry["elements"] = spec["elements"]
        if spec.get("suboptions"):
            entry["options"] = _doc_options(spec["suboptions"])
        out[name] = entry
    return out


def _spec_options(options):
    out = {}
    for name, spec in options.items():
        entry = {"type": spec.get("type", "str"), "required": spec.get("required", False),
                 "default": spec.get("default")}
        if spec.get("elements"):
            entry["elements"] = spec["elements"]
        if spec.get("options"):
            entry["options"] = _spec_options(spec["options"])
        out[name] = entry
    return out


def test_documentation_matches_argument_spec():
    doc = yaml.safe_load(install_artifacts.DOCUMENTATION)
    assert _doc_options(doc["options"]) == _spec_options(install_artifacts.ARGUMENT_SPEC)
    yaml.safe_load(install_artifacts.EXAMPLES)
    returned = yaml.safe_load(install_artifacts.RETURN)
    assert set(returned["artifacts"]["contains"]) == {
        "name", "version", "path", "sha256", "extracted", "reason", "links", "links_changed", "backups", "pruned"}
