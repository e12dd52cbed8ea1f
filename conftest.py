"""Test order for every pytest run in this checkout (pyproject.toml makes it the rootdir, so this file is loaded for
tests/ and for the Molecule verifiers alike).

pytest-randomly (requirements-dev.txt) runs the tests in a random order; the seed is printed in the header and, here,
at the end of the run (also with ``-q``, as tools/test runs pytest): ``--randomly-seed=N`` repeats that order.
The unit and integration tiers (tests/unit, tests/integration) must pass in any order. The other suites are steps
that build on each other in file order on purpose (the Molecule verifiers, tests/lab after ``tools/lab up``): their
tests are put back in the order they were collected in.
"""

import os

import pytest

ROOT = os.path.dirname(os.path.realpath(__file__))
ANY_ORDER = tuple(os.path.join(ROOT, "tests", tier) + os.sep for tier in ("unit", "integration"))
_COLLECTED = pytest.StashKey[dict]()
_SHUFFLED = pytest.StashKey[bool]()


def _any_order(item):
    return os.path.realpath(str(item.path)).startswith(ANY_ORDER)


def pytest_configure(config):
    config.stash[_COLLECTED] = {}
    config.stash[_SHUFFLED] = False


def pytest_itemcollected(item):
    collected = item.config.stash[_COLLECTED]
    collected.setdefault(item.nodeid, len(collected))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Tests outside tests/unit and tests/integration take back their collection order (in the slots they hold)."""
    collected = config.stash[_COLLECTED]
    slots = [n for n, item in enumerate(items) if not _any_order(item)]
    in_order = sorted((items[n] for n in slots), key=lambda item: collected.get(item.nodeid, len(collected)))
    for n, item in zip(slots, in_order):
        items[n] = item
    config.stash[_SHUFFLED] = len(slots) < len(items) and config.getoption("randomly_reorganize", False)


def pytest_terminal_summary(terminalreporter, config):
    if config.stash.get(_SHUFFLED, False):
        seed = config.getoption("randomly_seed")
        terminalreporter.write_line("random test order: --randomly-seed=%s repeats it" % seed)
