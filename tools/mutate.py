#!/usr/bin/env python3
"""Mutation testing of kubesmith's decision code: would the unit tests notice if a decision changed?

    python3 tools/mutate.py MODULE [--functions F,G] [--tests PATH ...] [--timeout S] [--limit N]
    tools/test mutate        every target in TARGETS below (not part of `tools/test` / CI: see the README)

Each mutant changes one thing in MODULE, inside the named functions (all functions when none are named): a
comparison flipped (< and <=, == and !=, in and not in, is and is not), ``and``/``or`` swapped, a ``not``
dropped, an integer moved by one, True/False swapped, ``+``/``-`` swapped, ``min``/``max`` swapped. The module's
tests then run against it (``pytest -x``, in a scratch copy of the checkout, the real files untouched). A mutant
the tests fail is *killed*; one they pass *survived*: a decision no test pins down. Prints every survivor with
its line, and the kill rate per module; exits 1 when a rate is below ``--min-rate``.
"""

import argparse
import ast
import copy
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UTILS = "plugins/module_utils"
TESTS = "tests/unit/plugins/module_utils"
# The decision code the issue names, with the tests that pin it down.
TARGETS = [
    (UTILS + "/etcd/quorum.py", [], [TESTS + "/test_etcd_quorum.py"]),
    (UTILS + "/upgrade/plan.py", [], [TESTS + "/test_upgrade_plan.py"]),
    (UTILS + "/pki/plan.py", ["leaf_reasons", "plan"], [TESTS + "/test_pki.py"]),
    (UTILS + "/pki/specs.py", ["validate_reissue"], [TESTS + "/test_pki.py"]),
    (
        UTILS + "/net/address.py",
        ["parse_cidr"],
        [
            "tests/unit/plugins/module_utils/test_preflight.py",
            "tests/unit/plugins/module_utils/test_preflight_endpoint.py",
        ],
    ),
    (
        UTILS + "/cluster/preflight.py",
        [
            "network_errors",
            "_overlap",
            "_service_cidr_errors",
            "_pod_capacity_errors",
            "node_network_errors",
        ],
        [
            "tests/unit/plugins/module_utils/test_preflight.py",
            "tests/unit/plugins/module_utils/test_preflight_endpoint.py",
        ],
    ),
]
_COMPARE_SWAPS = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_COPY_SKIP = {".git", ".lab", ".collections", ".pytest_cache", "__pycache__", ".venv"}


def _function_spans(tree, names):
    """Line ranges (first, last) of the named top-level functions and methods; every function when none named."""
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (not names or node.name in names):
            spans.append((node.lineno, node.end_lineno))
    return spans


def _docstring_nodes(tree):
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def _mutations(node):
    """The one-change mutations of ``node`` itself: a list of (description, apply(node))."""
    out = []
    if isinstance(node, ast.Compare):
        for index, op in enumerate(node.ops):
            if type(op) in _COMPARE_SWAPS:
                new = _COMPARE_SWAPS[type(op)]

                def swap(n, index=index, new=new):
                    n.ops[index] = new()

                out.append(("%s -> %s" % (type(op).__name__, new.__name__), swap))
    elif isinstance(node, ast.BoolOp):
        other = ast.Or if isinstance(node.op, ast.And) else ast.And

        def flip(n, other=other):
            n.op = other()

        out.append(("%s -> %s" % (type(node.op).__name__, other.__name__), flip))
    elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        other = ast.Sub if isinstance(node.op, ast.Add) else ast.Add

        def arith(n, other=other):
            n.op = other()

        out.append(("%s -> %s" % (type(node.op).__name__, other.__name__), arith))
    elif isinstance(node, ast.Constant) and type(node.value) is bool:

        def negate(n):
            n.value = not n.value

        out.append(("%s -> %s" % (node.value, not node.value), negate))
    elif isinstance(node, ast.Constant) and type(node.value) is int:

        def bump(n):
            n.value = n.value + 1

        out.append(("%d -> %d" % (node.value, node.value + 1), bump))
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
        other = "max" if node.func.id == "min" else "min"

        def minmax(n, other=other):
            n.func.id = other

        out.append(("%s -> %s" % (node.func.id, other), minmax))
    return out


def mutants(source, functions=()):
    """Every mutant of ``source`` inside ``functions``: a list of (line, description, mutated source)."""
    tree = ast.parse(source)
    spans = _function_spans(tree, set(functions))
    skip = _docstring_nodes(tree)
    points = []
    for index, node in enumerate(ast.walk(tree)):
        line = getattr(node, "lineno", None)
        if line is None or id(node) in skip or not any(a <= line <= b for a, b in spans):
            continue
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            points.append((index, line, "not dropped", None))
            continue
        for description, apply in _mutations(node):
            points.append((index, line, description, apply))
    out = []
    for index, line, description, apply in points:
        mutated = copy.deepcopy(tree)
        parents = {}
        for parent in ast.walk(mutated):
            for child in ast.iter_child_nodes(parent):
                parents[id(child)] = parent
        target = list(ast.walk(mutated))[index]
        if apply is None:  # `not x` -> `x`: put the operand where the UnaryOp was
            _replace(parents[id(target)], target, target.operand)
        else:
            apply(target)
        out.append((line, description, ast.unparse(ast.fix_missing_locations(mutated)) + "\n"))
    return out


def _replace(parent, old, new):
    for field, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, field, new)
            return
        if isinstance(value, list):
            for position, item in enumerate(value):
                if item is old:
                    value[position] = new
                    return
    raise ValueError("node not found in its parent")


def _scratch_copy():
    scratch = tempfile.mkdtemp(prefix="ks-mutate-")
    shutil.copytree(ROOT, os.path.join(scratch, "repo"), ignore=shutil.ignore_patterns(*_COPY_SKIP), symlinks=True)
    return os.path.join(scratch, "repo")


def _pytest(repo, tests, timeout):
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", *tests]
    try:
        result = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return "timeout"
    return "passed" if result.returncode == 0 else "failed"


def run(module, functions, tests, timeout=120, limit=0, out=sys.stdout):
    """Mutate ``module`` (path from the checkout root); returns (killed, total, survivors)."""
    repo = _scratch_copy()
    try:
        path = os.path.join(repo, module)
        with open(path, encoding="utf-8") as handle:
            original = handle.read()
        if _pytest(repo, tests, timeout) != "passed":
            raise SystemExit("%s: the tests fail before any mutation; fix them first" % module)
        found = mutants(original, functions)
        if limit:
            found = found[:limit]
        survivors, killed = [], 0
        for line, description, source in found:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(source)
            if _pytest(repo, tests, timeout) == "passed":
                survivors.append((line, description))
                print("  survived  %s:%d  %s" % (module, line, description), file=out, flush=True)
            else:
                killed += 1
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(original)
        return killed, len(found), survivors
    finally:
        shutil.rmtree(os.path.dirname(repo), ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module", nargs="?", help="a module path from the checkout root (default: every target)")
    parser.add_argument("--functions", default="", help="comma-separated function names to mutate (default: all)")
    parser.add_argument("--tests", nargs="*", default=None, help="test paths (default: the target's)")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per test run (a hang counts as killed)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many mutants per module (0: all)")
    parser.add_argument("--min-rate", type=float, default=0.0, help="exit 1 when a kill rate is below this (0-100)")
    args = parser.parse_args(argv)
    if args.module:
        known = {t[0]: t for t in TARGETS}.get(args.module, (args.module, [], []))
        functions = [f for f in args.functions.split(",") if f] or known[1]
        targets = [(args.module, functions, args.tests if args.tests is not None else known[2])]
    else:
        targets = TARGETS
    below = False
    for module, functions, tests in targets:
        if not tests:
            raise SystemExit("%s: name its tests with --tests" % module)
        start = time.monotonic()
        killed, total, _survivors = run(module, functions, tests, args.timeout, args.limit)
        rate = 100.0 * killed / total if total else 100.0
        below = below or rate < args.min_rate
        print(
            "%s%s: %d of %d mutants killed (%.0f %%) in %.0f s"
            % (
                module,
                " (%s)" % ", ".join(functions) if functions else "",
                killed,
                total,
                rate,
                time.monotonic() - start,
            ),
            flush=True,
        )
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
