# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""A role's systemd services on a host, in one round trip: read their state once, decide, then act.

Used by the ``host_services`` module. Standard library only: it runs on the managed host.

``systemctl show`` reports every unit's state in one call; ``plan`` turns the wanted states into systemctl steps
(no side effects, so check mode reports exactly what a real run does). systemd is reloaded only when it says a unit
file changed on disk (``NeedDaemonReload``) or a unit is not loaded yet, so a unit written by an earlier,
interrupted run is still picked up.
"""

from __future__ import absolute_import, annotations, division, print_function

PROPERTIES = ("Id", "LoadState", "ActiveState", "UnitFileState", "NeedDaemonReload")
STATES = ("started", "restarted", "reloaded", "stopped")
RUNNING = ("active", "activating", "reloading")  # as ansible.builtin.systemd_service counts "running"
ENABLED = ("enabled", "enabled-runtime", "static", "generated", "indirect", "alias", "linked", "linked-runtime")
VERBS = ("enable", "start", "restart", "reload", "stop")  # the order steps run in


class HostServicesError(Exception):
    pass


def show_command(names: list[str]) -> list[str]:
    return ["systemctl", "show", "--property=" + ",".join(PROPERTIES), "--"] + [_unit(n) for n in names]


def _unit(name):
    name = str(name)
    if not name or "/" in name or name.startswith("-"):
        raise HostServicesError("%r is not a systemd unit name" % name)
    return name if "." in name else name + ".service"


def parse_show(text: str, names: list[str]) -> dict[str, dict[str, str]]:
    """``systemctl show`` output (one block per unit, in the order asked) -> {name: {property: value}}."""
    blocks, current = [], {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, _, value = line.partition("=")
        current[key] = value
    if current:
        blocks.append(current)
    if len(blocks) != len(names):
        raise HostServicesError("systemctl show answered %d block(s) for %d unit(s): %r"
                                % (len(blocks), len(names), text[:300]))
    return dict(zip(names, blocks))


def needs_daemon_reload(states: dict[str, dict[str, str]]) -> bool:
    return any(s.get("NeedDaemonReload") == "yes" or s.get("LoadState") == "not-found" for s in states.values())


def plan(units: list[dict], states: dict[str, dict[str, str]], check_mode: bool = False) -> list[tuple[str, str]]:
    """The steps that bring ``units`` (dicts: name, state, enabled) to what is asked, as (verb, unit name) pairs.

    A unit systemd does not know is refused, except in check mode (a unit file the same run would write first):
    there it is reported as enabled and started.
    """
    steps = []
    for entry in units:
        name, state, enabled = entry["name"], entry.get("state") or "started", entry.get("enabled")
        if state not in STATES:
            raise HostServicesError("%s: state %r is not one of %s" % (name, state, ", ".join(STATES)))
        current = states.get(name) or {}
        load = current.get("LoadState", "not-found")
        if load == "masked":
            if state != "stopped" or enabled:
                raise HostServicesError("%s is masked: unmask it (systemctl unmask %s) or leave it out"
                                        % (name, _unit(name)))
            continue
        if load != "loaded":
            if not check_mode:
                raise HostServicesError("%s: systemd has no such unit (LoadState=%s): is its unit file in "
                                        "/etc/systemd/system?" % (name, load))
            current = {"ActiveState": "inactive", "UnitFileState": "disabled"}
        unit_file, active = current.get("UnitFileState", ""), current.get("ActiveState", "")
        if enabled is True and unit_file not in ENABLED:
            steps.append(("enable", name))
        elif enabled is False and unit_file in ("enabled", "enabled-runtime"):
            raise HostServicesError("%s: disabling is not supported by this module" % name)
        if state == "restarted":
            steps.append(("restart", name))
        elif state == "stopped":
            if active in RUNNING:
                steps.append(("stop", name))
        elif active not in RUNNING:
            steps.append(("start", name))
        elif state == "reloaded":
            steps.append(("reload", name))
    return steps


def commands(steps: list[tuple[str, str]]) -> list[list[str]]:
    """One systemctl command per verb (units in the order given), verbs in VERBS order."""
    out = []
    for verb in VERBS:
        names = [_unit(name) for v, name in steps if v == verb]
        if names:
            out.append(["systemctl", verb, "--"] + names)
    return out


def result(steps: list[tuple[str, str]], daemon_reloaded: bool) -> dict:
    out = dict(changed=bool(steps) or daemon_reloaded, daemon_reloaded=daemon_reloaded)
    for verb, key in (("enable", "enabled"), ("start", "started"), ("restart", "restarted"), ("reload", "reloaded"),
                      ("stop", "stopped")):
        out[key] = [name for v, name in steps if v == verb]
    return out
