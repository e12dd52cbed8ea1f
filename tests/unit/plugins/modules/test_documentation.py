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
