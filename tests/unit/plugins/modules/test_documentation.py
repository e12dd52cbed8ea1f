"""Every module's DOCUMENTATION, EXAMPLES and RETURN is YAML that ansible-doc can read (a ': ' in a plain
description line is enough to break it, and ansible-doc only prints an error)."""

import ast
import glob
import os

import pytest
import yaml

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
MODULES = sorted(glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py")))


def _docs(path):
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    return {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in ("DOCUMENTATION", "EXAMPLES", "RETURN")
    }


def test_modules_are_found():
    assert len(MODULES) >= 8


@pytest.mark.parametrize("path", MODULES, ids=os.path.basename)
def test_module_documentation_is_yaml(path):
    docs = _docs(path)
    assert set(docs) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}, sorted(docs)
    documentation = yaml.safe_load(docs["DOCUMENTATION"])
    assert documentation["module"] == os.path.basename(path)[:-3]
    assert documentation.get("short_description"), path
    yaml.safe_load(docs["EXAMPLES"])
    yaml.safe_load(docs["RETURN"])


def _fragment_options(name):
    """Options of a kubesmith.cluster doc fragment, read from plugins/doc_fragments/<name>.py."""
    assert name.startswith("kubesmith.cluster."), name
    path = os.path.join(ROOT, "plugins", "doc_fragments", name.split(".")[-1] + ".py")
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "DOCUMENTATION":
            return yaml.safe_load(node.value.value)["options"]
    raise AssertionError("no DOCUMENTATION in %s" % path)


def _shared_spec(name):
    """The keys of a spec dict shared through module_utils (``**NAME`` in an argument_spec)."""
    for path in glob.glob(os.path.join(ROOT, "plugins", "module_utils", "**", "*.py"), recursive=True):
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        for node in tree.body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
                return {k.arg for k in node.value.keywords}
    raise AssertionError("%s is not defined in module_utils" % name)


def _dict_keys(node):
    """Keys of a dict(...) call or a {...} literal."""
    if isinstance(node, ast.Call):
        keys = set()
        for keyword in node.keywords:
            keys |= {keyword.arg} if keyword.arg else _shared_spec(keyword.value.id)
        return keys
    assert isinstance(node, ast.Dict), ast.dump(node)[:200]
    return {key.value for key in node.keys}


def _module_level(tree, name):
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return node.value
    return None


def _spec_keys(path):
    """Top-level option names of the module's argument spec: argument_spec=dict(...) or =NAME in the module, or
    the ARGUMENT_SPEC of the action plugin of the same name (modules that only document an action)."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "argument_spec":
            value = node.value
            if isinstance(value, ast.Name):
                value = _module_level(tree, value.id)
            return _dict_keys(value)
    action = os.path.join(ROOT, "plugins", "action", os.path.basename(path))
    with open(action, encoding="utf-8") as handle:
        value = _module_level(ast.parse(handle.read()), "ARGUMENT_SPEC")
    assert value is not None, "no argument spec in %s nor in %s" % (path, action)
    return _dict_keys(value)


@pytest.mark.parametrize("path", MODULES, ids=os.path.basename)
def test_documented_options_are_the_argument_spec(path):
    """Every option of the argument spec is documented (in the module or a fragment it extends) and nothing
    else is: a shared spec and its shared documentation cannot drift apart."""
    keys = _spec_keys(path)
    documentation = yaml.safe_load(_docs(path)["DOCUMENTATION"])
    documented = set(documentation.get("options") or {})
    for fragment in documentation.get("extends_documentation_fragment") or []:
        documented |= set(_fragment_options(fragment))
    assert documented == keys, (sorted(documented - keys), sorted(keys - documented))
