"""Unit tests for tools/metrics/long_functions.py (functions over a line limit)."""

import importlib.util
import os

_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tools", "metrics", "long_functions.py")
_spec = importlib.util.spec_from_file_location("kubesmith_long_functions", _PATH)
long_functions = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(long_functions)


def _function(name, body_lines, indent=""):
    return "".join(
        indent + line + "\n" for line in ["def %s():" % name] + ["    x = %d" % n for n in range(body_lines)]
    )


def test_counts_from_def_to_last_line_and_names_methods_and_nested_functions():
    source = _function("short", 3) + "class C:\n" + _function("method", 5, "    ")
    source += "def outer():\n" + _function("inner", 4, "    ") + "    return inner\n"
    assert long_functions.long_functions(source, 4) == [(6, "C.method", 6), (12, "outer", 7), (13, "outer.inner", 5)]
    assert long_functions.long_functions(source, 6) == [(12, "outer", 7)]
    assert long_functions.long_functions(source, 80) == []


def test_async_functions_count_classes_do_not():
    source = "class Big:\n" + "    a = 1\n" * 10 + "async def run():\n" + "    await x\n" * 3
    assert long_functions.long_functions(source, 3) == [(12, "run", 4)]


def test_main_prints_longest_first_and_a_total(tmp_path, capsys):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text(_function("two", 2) + _function("four", 4))
    (tmp_path / "pkg" / "notes.txt").write_text(_function("ignored", 9))
    (tmp_path / "b.py").write_text(_function("six", 6))
    assert long_functions.main(["--max", "3", str(tmp_path / "pkg"), str(tmp_path / "b.py")]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "%s:1 six 7" % (tmp_path / "b.py"),
        "%s:4 four 5" % (tmp_path / "pkg" / "a.py"),
        "2 functions over 3 lines",
    ]
