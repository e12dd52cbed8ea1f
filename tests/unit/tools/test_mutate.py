"""Unit tests for tools/mutate.py: the mutants it makes (one change each, only inside the functions named) and
that a run tells killed from surviving mutants."""

import ast
import importlib.util
import os
import textwrap

_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tools", "mutate.py")
_spec = importlib.util.spec_from_file_location("kubesmith_mutate", _PATH)
mutate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mutate)

SOURCE = textwrap.dedent(
    '''
    """Doc 1."""
    LIMIT = 3


    def quorum(members, healthy):
        """How many may fail."""
        if not members:
            return 0
        return healthy - (members // 2 + 1) if healthy >= 1 and members > 0 else min(0, healthy)


    def untouched(x):
        return x == 1
    '''
)


def _descriptions(found):
    return sorted(description for _line, description, _source in found)


def test_mutants_are_one_change_each_inside_the_named_functions_only():
    found = mutate.mutants(SOURCE, ["quorum"])
    assert _descriptions(found) == sorted(
        [
            "not dropped",
            "0 -> 1",  # return 0
            "Sub -> Add",
            "Add -> Sub",
            "2 -> 3",
            "1 -> 2",  # members // 2 + 1
            "GtE -> Gt",
            "1 -> 2",  # healthy >= 1
            "And -> Or",
            "Gt -> GtE",
            "0 -> 1",  # members > 0
            "min -> max",
            "0 -> 1",  # min(0, ...)
        ]
    )
    original = ast.dump(ast.parse(SOURCE))
    for _line, _description, source in found:
        mutated = ast.parse(source)
        assert ast.dump(mutated) != original
        # the module-level constant and the other function are never touched
        assert "LIMIT = 3" in source and "return x == 1" in source


def test_every_function_when_none_is_named():
    assert "Eq -> NotEq" in _descriptions(mutate.mutants(SOURCE))


def test_a_run_counts_killed_and_surviving_mutants(tmp_path, monkeypatch):
    """A tiny checkout: one function, a test that pins one of its two decisions."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "decide.py").write_text("def ok(a, b):\n    return a >= 2 and b\n")
    (tmp_path / "test_decide.py").write_text(
        "import sys, os\nsys.path.insert(0, os.path.dirname(__file__))\nfrom pkg.decide import ok\n\n"
        "def test_threshold():\n    assert ok(2, True) and not ok(1, False)\n"
    )
    monkeypatch.setattr(mutate, "ROOT", str(tmp_path))
    killed, total, survivors = mutate.run("pkg/decide.py", [], ["test_decide.py"], timeout=60)
    # GtE -> Gt and 2 -> 3 are caught; And -> Or is not (no case where a alone decides)
    assert (killed, total) == (2, 3)
    assert [description for _line, description in survivors] == ["And -> Or"]
    assert (tmp_path / "pkg" / "decide.py").read_text() == "def ok(a, b):\n    return a >= 2 and b\n"
