# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Debian packages a role needs, in one round trip when they are there already.

Used by the ``host_packages`` module. Standard library only: it runs on the managed host.

``dpkg-query`` answers in milliseconds which of the names are installed; apt (the cache, an update, an install)
is only started for what is missing. A name with a version (``foo=1.2*``) is always handed to apt, which knows
whether that version is installed: whether anything changed is read from apt's own summary line, so check mode
(``apt-get --simulate``) and a real run report the same thing.
"""

from __future__ import absolute_import, annotations, division, print_function

import re

NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]*(:[a-z0-9-]+)?(=[A-Za-z0-9.+:~*-]+)?$")
SUMMARY = re.compile(r"^(\d+) upgraded, (\d+) newly installed(?:, (\d+) downgraded)?, (\d+) to remove", re.M)
QUERY_FORMAT = "${Package}\\t${db:Status-Abbrev}\\n"


class HostPackagesError(Exception):
    pass


def validate(names: list[str]) -> list[str]:
    bad = [n for n in names if not isinstance(n, str) or not NAME.match(n)]
    if bad:
        raise HostPackagesError("not a Debian package name (name, name:arch or name=version): %s"
                                % ", ".join(repr(n) for n in bad))
    if not names:
        raise HostPackagesError("no package named")
    return list(names)


def _base(name: str) -> str:
    return name.split("=", 1)[0].split(":", 1)[0]


def query_command(names: list[str]) -> list[str]:
    return ["dpkg-query", "-W", "-f=" + QUERY_FORMAT] + sorted({_base(n) for n in names})


def installed(query_output: str) -> set[str]:
    """dpkg-query's lines ``name<TAB>status`` -> the names whose status is "ii" (installed, no error). Names dpkg
    never heard of are absent from the output (dpkg-query says so on stderr and exits 1)."""
    found = set()
    for line in query_output.splitlines():
        name, _, status = line.partition("\t")
        if status[:2] == "ii":
            found.add(name.strip())
    return found


def missing(names: list[str], present: set[str]) -> list[str]:
    """What apt must look at, in the order asked: names not installed, and every name with a version."""
    return [n for n in names if "=" in n or _base(n) not in present]


def needs_update(cache_age: float | None, cache_valid_time: int) -> bool:
    """``cache_age``: seconds since apt's lists were last read, None when there are none."""
    return cache_age is None or cache_age > cache_valid_time


def install_command(names: list[str], simulate: bool) -> list[str]:
    return ["apt-get", "install", "-y", "-q"] + (["--simulate"] if simulate else []) + list(names)


def changes(apt_output: str) -> int:
    """Packages apt installed, upgraded, downgraded or removed, from its summary line. Strict: output without the
    line (apt failed before deciding, or its wording changed) raises, so "no change" is never guessed."""
    match = SUMMARY.search(apt_output)
    if not match:
        raise HostPackagesError("apt-get printed no summary line: %r" % apt_output[-500:])
    numbers = [int(g) for g in match.groups() if g is not None]
    return sum(numbers)
