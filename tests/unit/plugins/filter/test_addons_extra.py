"""Add-on filters (plugins/filter/addons.py) and the role's wiring of them: the helm task passes exactly the
filter's arguments to kubernetes.core.helm; the download of helm is described for the download role."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.kubesmith.cluster.plugins.filter import addons

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ROLE = os.path.join(ROOT, "roles", "addons")
API_RESOURCES = (
    "configmaps   cm   v1        true   ConfigMap\n"
    "namespaces   ns   v1        false  Namespace\n"
    "services     svc  v1        true   Service\n"
)
STREAM = """apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: demo}
data: {color: blue}
"""


def _yaml(*parts):
    with open(os.path.join(ROLE, *parts)) as handle:
        return yaml.safe_load(handle)


def test_filters_are_registered():
    assert set(addons.FilterModule().filters()) >= {
        "addons_extra_check", "addon_manifest_objects", "addon_objects", "addon_scopes", "addon_plan",
        "addon_apply_document", "addon_helm_args", "addon_chart_dest",
    }


def test_scopes_keys_survive_ansible_round_trip():
    scopes = addons.addon_scopes(API_RESOURCES)
    assert scopes == {"/ConfigMap": True, "/Namespace": False, "/Service": True}
    assert json.loads(json.dumps(scopes)) == scopes  # a fact must be JSON


def test_plan_through_the_filters_from_kubectl_texts():
    objects = addons.addon_objects_filter(STREAM, "k")
    scopes = addons.addon_scopes(API_RESOURCES)
    first = addons.addon_plan(objects, "demo", "", scopes)
    assert first["write_before"] and first["prune"] == []
    live = json.dumps(first["record_before"])  # what `kubectl get configmap ... -o json` returns afterwards
    second = addons.addon_plan(objects, "demo", live, scopes)
    assert not second["write_before"] and not second["write_after"] and second["prune"] == []
    third = addons.addon_plan(objects[:1], "demo", live, scopes)
    assert [p["resource"] for p in third["prune"]] == ["ConfigMap/settings"]
    gone = addons.addon_plan(objects, "demo", live, scopes, "absent")
    assert [p["describe"] for p in gone["prune"]] == ["ConfigMap demo/settings", "Namespace demo"]
    assert gone["delete_record"]


def test_filter_errors_name_the_filter():
    with pytest.raises(AnsibleFilterError, match="kubesmith.cluster.addon_objects: k: not valid YAML"):
        addons.addon_objects_filter("a: [", "k")
    with pytest.raises(AnsibleFilterError, match="kubesmith.cluster.addon_plan: .* serves no kind"):
        addons.addon_plan(addons.addon_objects_filter(STREAM), "demo", "", {})


def test_manifest_objects_from_a_directory(tmp_path):
    (tmp_path / "10-ns.yaml").write_text(STREAM.split("---")[0])
    (tmp_path / "20-cm.yaml").write_text(STREAM.split("---")[1])
    objects = addons.addon_manifest_objects(str(tmp_path))
    assert [o["kind"] for o in objects] == ["Namespace", "ConfigMap"]
    with pytest.raises(AnsibleFilterError, match="addon_manifest_objects: .* holds no"):
        empty = tmp_path / "empty"
        empty.mkdir()
        addons.addon_manifest_objects(str(empty))


def test_extra_check_reports_errors_as_data():
    result = addons.addons_extra_check([{"name": "x", "type": "nope"}])
    assert result["items"] == [] and "type must be one of" in result["errors"][0]


def test_helm_args_and_chart_dest():
    item = {"name": "h", "type": "helm", "state": "present", "chart": "/c/h-1.tgz", "values": {"a": {"b": 1}}}
    args = addons.addon_helm_args(item, "/etc/kubernetes/admin.conf", "/usr/local/bin/helm", "/tmp/s")
    assert args["chart_ref"] == "/tmp/s/h/h-1.tgz" == addons.addon_chart_dest(item, "/tmp/s")
    assert args["release_values"] == {"a": {"b": 1}}


def test_the_helm_task_passes_every_argument_of_the_filter_and_nothing_else():
    tasks = _yaml("tasks", "extra_helm.yml")
    block = next(t for t in tasks if "block" in t)
    task = next(t for t in block["block"] if "kubernetes.core.helm" in t)
    module_args = task["kubernetes.core.helm"]
    # its values may hold Secrets: logged only when asked, and a failure reported without them
    assert task["no_log"] == "{{ not addons_unsafe_show_logs }}"
    assert "ansible_failed_result" in block["rescue"][0]["ansible.builtin.fail"]["msg"]
    item = {"name": "h", "type": "helm", "state": "present", "chart": "/c/h-1.tgz"}
    expected = addons.addon_helm_args(item, "k", "b", "s")
    assert set(module_args) == set(expected)
    for key, value in module_args.items():
        assert re.fullmatch(r"\{\{ __addons_helm\.%s \}\}" % key, value), (key, value)
    assert "addon_helm_args(_addons_kubeconfig, _addons_helm_binary" in task["vars"]["__addons_helm"]


def test_helm_is_downloaded_only_for_helm_addons_and_described_for_the_download_role():
    extra = _yaml("tasks", "extra.yml")
    block = next(t for t in extra if "block" in t)["block"]
    include = next(t for t in block if t.get("ansible.builtin.include_tasks") == "extra_helm.yml")
    assert include["when"] == "_addons_extra_helm | length > 0"
    helm_tasks = _yaml("tasks", "extra_helm.yml")
    download = next(t for t in helm_tasks if "ansible.builtin.include_role" in t)
    assert download["ansible.builtin.include_role"]["name"] == "kubesmith.cluster.download"
    assert download["vars"]["download_items"] == "{{ _addons_helm_artifacts }}"
    role_vars = _yaml("vars", "main.yml")
    (artifact,) = role_vars["_addons_helm_artifacts"]
    assert artifact["links"] == {"/usr/local/bin/helm": "linux-{{ addons_helm_arch }}/helm"}
    assert role_vars["_addons_helm_url"] == "https://get.helm.sh/{{ _addons_helm_file }}"
    assert role_vars["_addons_helm_file"] == "helm-v{{ addons_helm_version }}-linux-{{ addons_helm_arch }}.tar.gz"
    defaults = _yaml("defaults", "main.yml")
    assert set(defaults["addons_helm_sha256"]) == {"amd64", "arm64"}


def test_every_new_variable_is_in_the_argument_specs_and_the_readme():
    specs = _yaml("meta", "argument_specs.yml")["argument_specs"]
    defaults = _yaml("defaults", "main.yml")
    with open(os.path.join(ROLE, "README.md")) as handle:
        readme = handle.read()
    for name in ("addons_extra", "addons_extra_delete_timeout", "addons_helm_version", "addons_helm_arch",
                 "addons_helm_sha256", "addons_unsafe_show_logs"):
        assert name in defaults
        assert name in specs["main"]["options"] and name in specs["extra"]["options"]
        assert name in readme, name
    for option in specs["main"]["options"]["addons_extra"]["options"]:
        assert "`%s`" % option in readme, option
