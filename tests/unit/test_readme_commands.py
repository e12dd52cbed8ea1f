"""The README's two commands are what CI runs, as printed: no drift, no sudo, runnable from a clone.

README "## The two commands" holds one fenced block: the main command (the lab) and the test command.
`.ci/run` must exec the test command; `tools/test`'s lab tier (LAB_UP) must run the main command.
"""

import os
import re
import shlex

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _read(*path):
    with open(os.path.join(ROOT, *path), encoding="utf-8") as handle:
        return handle.read()


def readme_commands():
    text = _read("README.md")
    section = re.search(r"^## The two commands[^\n]*\n(.*?)^## ", text, re.S | re.M)
    assert section, "README has no '## The two commands' section"
    block = re.search(r"```sh\n(.*?)```", section.group(1), re.S)
    assert block, "the two-commands section has no ```sh block"
    commands = [shlex.split(line, comments=True) for line in block.group(1).splitlines()]
    return [c for c in commands if c]


def test_two_commands_as_root_without_sudo():
    commands = readme_commands()
    assert len(commands) == 2, commands
    for command in commands:
        assert command[0] != "sudo", "a fresh Debian as root has no sudo: %s" % command
        # runnable as printed from the clone: an executable file the clone carries
        assert os.access(os.path.join(ROOT, command[0]), os.X_OK), "%s is not executable" % command[0]


def test_ci_runs_the_test_command_as_printed():
    ci = [line for line in _read(".ci", "run").splitlines() if line.startswith("exec ")]
    assert len(ci) == 1, ".ci/run must end in one exec of the test command"
    assert shlex.split(ci[0])[1:] == readme_commands()[1]


def test_lab_tier_runs_the_main_command_as_printed():
    match = re.search(r"^LAB_UP=\((.*)\)$", _read("tools", "test"), re.M)
    assert match, "tools/test has no LAB_UP=(...)"
    assert shlex.split(match.group(1)) == readme_commands()[0]
    assert re.search(r'^\s+"\$\{LAB_UP\[@\]\}"', _read("tools", "test"), re.M), "the lab tier does not run LAB_UP"
    # and CI's test command (all: the lanes) runs the lab tier
    text = _read("tools", "test")
    assert re.search(r"^lane_a\(\) \{ tier lab lab;", text, re.M), "lane A does not start with the lab tier"
    assert re.search(r"^\s+run_lane A lane_a;", text, re.M)
    assert re.search(r"^\s+all\)\n(\s+.*\n)*?\s+lanes\n", text, re.M), "tools/test all does not run the lanes"
