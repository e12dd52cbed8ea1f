"""Add-ons from the inventory: rendered streams -> object refs, the prune set, the record, the validation."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.addons import objects as ao

SCOPES = {
    ("", "ConfigMap"): True,
    ("", "Service"): True,
    ("", "ServiceAccount"): True,
    ("", "Namespace"): False,
    ("apps", "Deployment"): True,
    ("apps", "StatefulSet"): True,
    ("rbac.authorization.k8s.io", "ClusterRole"): False,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): False,
    ("networking.k8s.io", "Ingress"): True,
    ("extensions", "Ingress"): True,
}

STREAM = """
---
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
# only a comment
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: demo}
data: {color: blue}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader, namespace: ignored-for-cluster-scope}
rules: []
"""


def ref(group, version, kind, namespace, name):
    return {"group": group, "version": version, "kind": kind, "namespace": namespace, "name": name}


def record_of(refs):
    return {"data": ao.record_data(refs)}


# ---------------------------------------------------------------- parsing the stream

def test_stream_drops_empty_documents_and_keeps_order():
    objects = ao.parse_stream(STREAM)
    assert [o["kind"] for o in objects] == ["Namespace", "ConfigMap", "Service", "ClusterRole"]


def test_refs_namespaced_cluster_scoped_and_default_namespace():
    refs = ao.object_refs(ao.parse_stream(STREAM), SCOPES)
    assert refs == [
        ref("", "v1", "Namespace", "", "demo"),
        ref("", "v1", "ConfigMap", "demo", "settings"),
        ref("", "v1", "Service", "default", "web"),  # no namespace: kubectl's context namespace
        ref("rbac.authorization.k8s.io", "v1", "ClusterRole", "", "reader"),  # namespace ignored
    ]


def test_default_namespace_can_be_another():
    refs = ao.object_refs(ao.parse_stream(STREAM), SCOPES, default_namespace="apps")
    assert refs[2]["namespace"] == "apps"


def test_list_objects_are_expanded_also_nested_and_typed_lists():
    doc = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
            {"apiVersion": "v1", "kind": "ConfigMapList", "items": [
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}]},
        ],
    }
    objects = ao.parse_stream([("list.json", json.dumps(doc))])
    assert [o["metadata"]["name"] for o in objects] == ["a", "b"]


def test_empty_list_and_empty_stream_give_nothing():
    assert ao.parse_stream("apiVersion: v1\nkind: List\nitems: []\n") == []
    assert ao.parse_stream("") == []
    assert ao.parse_stream("---\n---\n") == []


def test_json_file_and_yaml_files_mix():
    texts = [("a.json", '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}'),
             ("b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n")]
    assert [o["metadata"]["name"] for o in ao.parse_stream(texts)] == ["j", "y"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("a: [1", "b.yaml: not valid YAML"),
        ("- 1\n- 2\n", "not an object"),
        ("kind: ConfigMap\nmetadata: {name: x}\n", "no apiVersion or kind"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "without metadata.name"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {generateName: x-}\n", "generateName is not supported"),
    ],
)
def test_bad_documents_are_refused_with_the_reason(text, message):
    with pytest.raises(ao.AddonError, match=message):
        ao.parse_stream([("b.yaml", text)])


def test_unknown_kind_is_refused_unless_its_crd_is_in_the_stream():
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(ao.AddonError, match="serves no kind Widget in group example.com"):
        ao.object_refs([widget], SCOPES)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "names": {"kind": "Widget"}, "scope": "Namespaced"},
    }
    cluster_crd = json.loads(json.dumps(crd))
    cluster_crd["metadata"]["name"] = "gadgets.example.com"
    cluster_crd["spec"].update(names={"kind": "Gadget"}, scope="Cluster")
    gadget = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g", "namespace": "x"}}
    refs = ao.object_refs([crd, cluster_crd, widget, gadget], SCOPES)
    assert refs[2] == ref("example.com", "v1", "Widget", "default", "w")
    assert refs[3] == ref("example.com", "v1", "Gadget", "", "g")


def test_an_object_rendered_twice_is_refused():
    again = "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\n"
    objects = ao.parse_stream(STREAM + again)
    with pytest.raises(ao.AddonError, match="Service default/web is rendered twice"):
        ao.object_refs(objects, SCOPES)


def test_api_resources_output_with_and_without_short_names():
    text = (
        "configmaps        cm     v1                             true   ConfigMap\n"
        "namespaces        ns     v1                             false  Namespace\n"
        "deployments       deploy apps/v1                        true   Deployment\n"
        "clusterroles             rbac.authorization.k8s.io/v1   false  ClusterRole\n"
        "error: unable to retrieve the complete list of server APIs\n"
    )
    assert ao.parse_scopes(text) == {
        ("", "ConfigMap"): True,
        ("", "Namespace"): False,
        ("apps", "Deployment"): True,
        ("rbac.authorization.k8s.io", "ClusterRole"): False,
    }


# ---------------------------------------------------------------- record and prune

def test_record_round_trip_is_sorted_and_stable():
    refs = ao.object_refs(ao.parse_stream(STREAM), SCOPES)
    data = ao.record_data(refs)
    assert data == ao.record_data(list(reversed(refs)))
    assert ao.parse_record({"data": data}) == sorted(refs, key=lambda r: (r["group"], r["kind"], r["namespace"],
                                                                          r["name"]))
    assert ao.parse_record(json.dumps({"data": data})) == ao.parse_record({"data": data})
    assert ao.record_data([]) == {"objects": "[]\n"}


def test_missing_record_is_empty():
    assert ao.parse_record("") == []
    assert ao.parse_record("  \n") == []
    assert ao.parse_record(None) == []
    assert ao.parse_record({"data": {}}) == []


@pytest.mark.parametrize("raw, message", [("{oops", "is not JSON"), ('{"a": 1}', "is not a list"),
                                           ('[{"kind": "ConfigMap"}]', "lacks version, kind or name"),
                                           ('[{"kind": "ConfigMap", "version": "v1", "name": 3}]', "not a string")])
def test_a_damaged_record_is_refused(raw, message):
    with pytest.raises(ao.AddonError, match=message):
        ao.parse_record({"data": {"objects": raw}}, "demo")


def test_record_manifest_names_and_labels():
    manifest = ao.record_manifest("demo", [])
    assert manifest["metadata"]["name"] == "kubesmith-addon-demo"
    assert manifest["metadata"]["namespace"] == "kube-system"
    assert manifest["metadata"]["labels"]["kubesmith.io/addon"] == "demo"


def test_first_run_applies_and_records_everything():
    objects = ao.parse_stream(STREAM)
    plan = ao.plan("demo", objects, "", SCOPES)
    assert plan["apply"] and plan["prune"] == []
    assert plan["write_before"] and not plan["write_after"]  # the record written once, before applying
    assert ao.parse_record(plan["record_before"]) == ao.parse_record(plan["record_after"])
    assert not plan["delete_record"]


def test_steady_state_writes_nothing():
    objects = ao.parse_stream(STREAM)
    record = record_of(ao.object_refs(objects, SCOPES))
    plan = ao.plan("demo", objects, json.dumps(record), SCOPES)
    assert plan["prune"] == [] and not plan["write_before"] and not plan["write_after"]


def test_an_object_removed_from_the_addon_is_pruned_and_dropped_from_the_record():
    full = ao.parse_stream(STREAM)
    record = record_of(ao.object_refs(full, SCOPES))
    fewer = [o for o in full if o["kind"] != "ConfigMap"]
    plan = ao.plan("demo", fewer, record, SCOPES)
    assert [(p["kind"], p["namespace"], p["name"]) for p in plan["prune"]] == [("ConfigMap", "demo", "settings")]
    assert plan["prune"][0]["resource"] == "ConfigMap/settings"
    assert plan["prune"][0]["describe"] == "ConfigMap demo/settings"
    assert not plan["write_before"]  # nothing new to remember
    assert plan["write_after"]
    assert len(ao.parse_record(plan["record_after"])) == 3


def test_prune_order_namespaces_and_crds_last_rest_reversed():
    recorded = [
        ref("", "v1", "Namespace", "", "demo"),
        ref("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "", "widgets.example.com"),
        ref("", "v1", "ConfigMap", "demo", "a"),
        ref("apps", "v1", "Deployment", "demo", "b"),
    ]
    order = [r["name"] for r in ao.prune_set(recorded, [])]
    assert order == ["b", "a", "widgets.example.com", "demo"]


def test_new_version_of_a_kind_is_the_same_object_not_pruned():
    recorded = [ref("apps", "v1beta2", "Deployment", "demo", "api")]
    objects = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "demo"}}]
    plan = ao.plan("demo", objects, record_of(recorded), SCOPES)
    assert plan["prune"] == []
    assert ao.parse_record(plan["record_before"]) == [ref("apps", "v1", "Deployment", "demo", "api")]
    assert plan["write_before"] and not plan["write_after"]


def test_kind_moved_to_another_group_is_not_pruned():
    recorded = [ref("extensions", "v1beta1", "Ingress", "demo", "web")]
    objects = [{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web",
                                                                                       "namespace": "demo"}}]
    plan = ao.plan("demo", objects, record_of(recorded), SCOPES)
    assert plan["prune"] == []
    assert plan["write_after"]  # the old group's entry leaves the record
    assert ao.parse_record(plan["record_after"]) == [ref("networking.k8s.io", "v1", "Ingress", "demo", "web")]


def test_kind_renamed_under_the_same_name_prunes_the_old_kind():
    recorded = [ref("apps", "v1", "Deployment", "demo", "db")]
    objects = [{"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "demo"}}]
    plan = ao.plan("demo", objects, record_of(recorded), SCOPES)
    assert [p["resource"] for p in plan["prune"]] == ["Deployment.v1.apps/db"]
    assert len(ao.parse_record(plan["record_before"])) == 2  # both known while the run is under way
    assert ao.parse_record(plan["record_after"]) == [ref("apps", "v1", "StatefulSet", "demo", "db")]


def test_same_name_in_another_namespace_is_another_object():
    recorded = [ref("", "v1", "ConfigMap", "one", "c")]
    objects = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "two"}}]
    plan = ao.plan("demo", objects, record_of(recorded), SCOPES)
    assert [p["describe"] for p in plan["prune"]] == ["ConfigMap one/c"]


def test_absent_deletes_everything_then_the_record():
    objects = ao.parse_stream(STREAM)
    record = record_of(ao.object_refs(objects, SCOPES))
    plan = ao.plan("demo", objects, record, SCOPES, state="absent")
    assert not plan["apply"] and plan["objects"] == []
    assert [p["kind"] for p in plan["prune"]] == ["ClusterRole", "Service", "ConfigMap", "Namespace"]
    assert plan["delete_record"] and not plan["write_before"] and not plan["write_after"]


def test_absent_without_record_does_nothing():
    plan = ao.plan("demo", [], "", SCOPES, state="absent")
    assert plan["prune"] == [] and not plan["delete_record"] and not plan["apply"]


def test_plan_refuses_unknown_state():
    with pytest.raises(ao.AddonError, match="state must be present or absent"):
        ao.plan("demo", [], "", SCOPES, state="gone")


def test_kubectl_resource_forms():
    assert ao.kubectl_resource(ref("", "v1", "Service", "x", "web")) == "Service/web"
    assert ao.kubectl_resource(ref("networking.k8s.io", "v1", "Ingress", "x", "w")) == "Ingress.v1.networking.k8s.io/w"


def test_apply_document_is_a_list_in_render_order():
    objects = ao.parse_stream(STREAM)
    doc = json.loads(ao.apply_document(objects))
    assert doc["kind"] == "List" and [o["kind"] for o in doc["items"]][0] == "Namespace"


# ---------------------------------------------------------------- the manifests directory

def test_manifest_texts_reads_yaml_yml_json_sorted(tmp_path):
    (tmp_path / "b.yml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
    (tmp_path / "a.json").write_text('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}')
    (tmp_path / "c.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    (tmp_path / "README.md").write_text("not a manifest")
    (tmp_path / "sub").mkdir()
    texts = ao.manifest_texts(str(tmp_path))
    assert [name.rsplit("/", 1)[1] for name, _ in texts] == ["a.json", "b.yml", "c.yaml"]
    assert [o["metadata"]["name"] for o in ao.parse_stream(texts)] == ["a", "b", "c"]


def test_manifest_texts_refuses_an_empty_or_missing_directory(tmp_path):
    with pytest.raises(ao.AddonError, match="holds no"):
        ao.manifest_texts(str(tmp_path))
    with pytest.raises(ao.AddonError, match="cannot list"):
        ao.manifest_texts(str(tmp_path / "missing"))


# ---------------------------------------------------------------- the inventory's list

def _fs(tmp_path):
    manifests = tmp_path / "m"
    manifests.mkdir()
    kustom = tmp_path / "k"
    kustom.mkdir()
    (kustom / "kustomization.yaml").write_text("resources: []\n")
    chart = tmp_path / "chart"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("name: c\n")
    tgz = tmp_path / "c-1.0.0.tgz"
    tgz.write_bytes(b"")
    return str(manifests), str(kustom), str(chart), str(tgz)


def test_valid_list_gets_its_defaults(tmp_path):
    manifests, kustom, chart, tgz = _fs(tmp_path)
    items, errors = ao.validate_addons([
        {"name": "m", "type": "manifests", "path": manifests},
        {"name": "k", "type": "kustomize", "path": kustom, "state": "present"},
        {"name": "h", "type": "helm", "chart": chart},
        {"name": "t", "type": "helm", "chart": tgz, "namespace": "x", "release_name": "rel", "values": {"a": 1},
         "create_namespace": True, "wait": False, "timeout": 60},
        {"name": "gone", "type": "kustomize", "state": "absent"},
    ])
    assert errors == []
    assert items[0]["state"] == "present"
    assert items[2]["release_name"] == "h" and items[2]["namespace"] == "default" and items[2]["wait"] is True
    assert items[2]["timeout"] == 300 and items[2]["values"] == {} and items[2]["create_namespace"] is False
    assert items[3]["release_name"] == "rel" and items[3]["values"] == {"a": 1}


@pytest.mark.parametrize(
    "item, message",
    [
        ({"type": "manifests", "path": "/x"}, "addons_extra\\[0\\]: name is required"),
        ({"name": "Bad_Name", "type": "manifests", "path": "M"}, "lower-case letters"),
        ({"name": "x", "type": "chart"}, "type must be one of manifests, kustomize, helm"),
        ({"name": "x", "type": "manifests", "state": "gone", "path": "M"}, "state must be present or absent"),
        ({"name": "x", "type": "manifests"}, "path \\(a directory on the controller\\) is required"),
        ({"name": "x", "type": "manifests", "path": "/nowhere/at/all"}, "is not a directory on the controller"),
        ({"name": "x", "type": "kustomize", "path": "M"}, "has no kustomization.yaml"),
        ({"name": "x", "type": "manifests", "path": "M", "chart": "C"}, "chart is a helm option"),
        ({"name": "x", "type": "helm"}, "chart .* is required"),
        ({"name": "x", "type": "helm", "chart": "/nowhere.tgz"}, "does not exist on the controller"),
        ({"name": "x", "type": "helm", "chart": "M"}, "has no Chart.yaml"),
        ({"name": "x", "type": "helm", "chart": "C", "path": "M"}, "takes chart .* not path"),
        ({"name": "x", "type": "helm", "chart": "C", "values": [1]}, "values must be a dict"),
        ({"name": "x", "type": "helm", "chart": "C", "wait": "yes"}, "wait must be true or false"),
        ({"name": "x", "type": "helm", "chart": "C", "timeout": 0}, "timeout must be a positive"),
        ({"name": "x", "type": "helm", "chart": "C", "namespace": "Not Valid"}, "namespace must be"),
        ({"name": "x", "type": "helm", "chart": "C", "release_name": "a_b"}, "not a valid Helm release name"),
        ("just-a-string", "must be a dict"),
    ],
)
def test_bad_items_are_reported(tmp_path, item, message):
    manifests, _kustom, chart, _tgz = _fs(tmp_path)
    if isinstance(item, dict):
        item = {k: {"M": manifests, "C": chart}.get(v, v) if isinstance(v, str) else v for k, v in item.items()}
    _items, errors = ao.validate_addons([item])
    assert any(__import__("re").search(message, e) for e in errors), errors


def test_duplicate_names_and_releases_are_reported(tmp_path):
    manifests, _kustom, chart, _tgz = _fs(tmp_path)
    _items, errors = ao.validate_addons([
        {"name": "a", "type": "manifests", "path": manifests},
        {"name": "a", "type": "manifests", "path": manifests},
        {"name": "h1", "type": "helm", "chart": chart, "release_name": "r"},
        {"name": "h2", "type": "helm", "chart": chart, "release_name": "r"},
    ])
    assert "add-on a: listed twice (addons_extra[0] and addons_extra[1])" in errors
    assert "add-on h2: release r in namespace default is also add-on h1" in errors


def test_not_a_list_and_empty():
    assert ao.validate_addons(None) == ([], [])
    assert ao.validate_addons([]) == ([], [])
    assert ao.validate_addons({"name": "x"})[1] == ["addons_extra must be a list of add-ons (got dict)"]


_FILES = {"/charts/web", "/charts/web/Chart.yaml", "/charts/empty", "/charts/db.tgz", "/charts/notes.txt"}
_DIRS = {"/charts/web", "/charts/empty"}


@pytest.mark.parametrize(
    "chart, problem",
    [
        ("/charts/web", None),
        ("/charts/db.tgz", None),
        (None, "chart (a chart directory or .tgz on the controller) is required"),
        ("", "chart (a chart directory or .tgz on the controller) is required"),
        ("/charts/gone.tgz", "chart /charts/gone.tgz does not exist on the controller"),
        ("/charts/notes.txt", "chart /charts/notes.txt must be a chart directory or a .tgz archive"),
        ("/charts/empty", "chart directory /charts/empty has no Chart.yaml"),
    ],
)
def test_chart_error(chart, problem):
    found = ao._chart_error("add-on web", chart, _FILES.__contains__, _DIRS.__contains__)
    assert found == (None if problem is None else "add-on web: " + problem)


def test_directory_errors_name_helm_options_and_skip_the_path_when_absent():
    files = (_FILES.__contains__, _DIRS.__contains__)
    item = {"namespace": "web", "values": {}, "path": "/nowhere"}
    assert ao._directory_errors("add-on web", item, "manifests", "absent", *files) == [
        "add-on web: namespace is a helm option, not one of type manifests",
        "add-on web: values is a helm option, not one of type manifests",
    ]
    assert ao._directory_errors("add-on web", {"path": "/charts/web"}, "kustomize", "present", *files) == [
        "add-on web: /charts/web has no kustomization.yaml (type kustomize)"
    ]
