#!/usr/bin/env python3
"""Functions longer than a limit (default 80 lines, ``def`` to last line) in the Python files under the given paths.

    tools/metrics/long_functions.py [--max 80] [PATH ...]     (default PATH: plugins)

Prints ``path:line name lines`` for each, longest first, then ``N functions over MAX lines``.
"""

import argparse
import ast
import os
import sys


def long_functions(source, limit):
    """``(line, qualified name, length)`` of every function in ``source`` (text) longer than ``limit`` lines."""
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            name = prefix
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                length = child.end_lineno - child.lineno + 1
                if not isinstance(child, ast.ClassDef) and length > limit:
                    found.append((child.lineno, name, length))
                name += "."
            visit(child, name)

    visit(ast.parse(source), "")
    return found


def python_files(paths):
    for path in paths:
        if os.path.isfile(path):
            yield path
        for root, dirs, files in os.walk(path):
            dirs.sort()
            yield from (os.path.join(root, name) for name in sorted(files) if name.endswith(".py"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=80, help="longest allowed function, in lines")
    parser.add_argument("paths", nargs="*", default=["plugins"])
    args = parser.parse_args(argv)
    rows = []
    for path in python_files(args.paths):
        with open(path, encoding="utf-8") as handle:
            rows.extend((length, path, line, name) for line, name, length in long_functions(handle.read(), args.max))
    for length, path, line, name in sorted(rows, key=lambda row: (-row[0], row[1], row[2])):
        print("%s:%d %s %d" % (path, line, name, length))
    print("%d functions over %d lines" % (len(rows), args.max))
    return 0


if __name__ == "__main__":
    sys.exit(main())
