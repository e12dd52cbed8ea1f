"""host_services: systemctl show parsed, the steps decided from the states, one command per verb."""

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.host.services import (
    HostServicesError,
    commands,
    needs_daemon_reload,
    parse_show,
    plan,
    result,
    show_command,
)


def _state(active="active", unit_file="enabled", load="loaded", reload="no"):
    return {"LoadState": load, "ActiveState": active, "UnitFileState": unit_file, "NeedDaemonReload": reload}


SHOW = """Id=kubelet.service
LoadState=loaded
ActiveState=active
UnitFileState=enabled
NeedDaemonReload=no

Id=kube-proxy.service
LoadState=loaded
ActiveState=inactive
UnitFileState=disabled
NeedDaemonReload=yes
"""


def test_show_command_adds_the_service_suffix_and_ends_options():
    assert show_command(["kubelet", "swap.target"]) == [
        "systemctl", "show", "--property=Id,LoadState,ActiveState,UnitFileState,NeedDaemonReload", "--",
        "kubelet.service", "swap.target"]


@pytest.mark.parametrize("name", ["", "../etc/passwd", "-x"])
def test_unit_names_that_are_not_names_are_refused(name):
    with pytest.raises(HostServicesError):
        show_command([name])


def test_parse_show_one_block_per_unit_in_order():
    states = parse_show(SHOW, ["kubelet", "kube-proxy"])
    assert states["kubelet"]["ActiveState"] == "active"
    assert states["kube-proxy"]["UnitFileState"] == "disabled"
    assert states["kube-proxy"]["NeedDaemonReload"] == "yes"


def test_parse_show_refuses_a_block_count_that_does_not_match():
    with pytest.raises(HostServicesError, match="2 block"):
        parse_show(SHOW, ["kubelet"])


@pytest.mark.parametrize("states, expected", [
    ({"a": _state()}, False),
    ({"a": _state(), "b": _state(reload="yes")}, True),
    ({"a": _state(load="not-found")}, True),
])
def test_daemon_reload_only_when_systemd_asks_for_it(states, expected):
    assert needs_daemon_reload(states) is expected


@pytest.mark.parametrize("wanted, current, steps", [
    ({"state": "started"}, _state(), []),
    ({"state": "started"}, _state(active="activating"), []),
    ({"state": "started"}, _state(active="failed"), [("start", "a")]),
    ({"state": "started"}, _state(active="inactive", unit_file="disabled"), [("enable", "a"), ("start", "a")]),
    ({"state": "started", "enabled": None}, _state(active="active", unit_file="disabled"), []),
    ({"state": "started"}, _state(unit_file="static"), []),
    ({"state": "restarted"}, _state(), [("restart", "a")]),
    ({"state": "restarted"}, _state(active="inactive"), [("restart", "a")]),
    ({"state": "reloaded"}, _state(), [("reload", "a")]),
    ({"state": "reloaded"}, _state(active="inactive"), [("start", "a")]),
    ({"state": "stopped", "enabled": None}, _state(), [("stop", "a")]),
    ({"state": "stopped", "enabled": None}, _state(active="inactive"), []),
])
def test_plan_steps(wanted, current, steps):
    unit = dict({"name": "a", "enabled": True}, **wanted)
    assert plan([unit], {"a": current}) == steps


def test_an_unknown_unit_is_refused_in_a_real_run_and_reported_as_started_in_check_mode():
    unit = {"name": "a", "state": "started", "enabled": True}
    with pytest.raises(HostServicesError, match="no such unit"):
        plan([unit], {"a": _state(load="not-found")})
    assert plan([unit], {"a": _state(load="not-found")}, check_mode=True) == [("enable", "a"), ("start", "a")]


def test_a_masked_unit_is_refused_unless_it_should_stay_stopped():
    with pytest.raises(HostServicesError, match="masked"):
        plan([{"name": "a", "state": "started", "enabled": True}], {"a": _state(load="masked")})
    assert plan([{"name": "a", "state": "stopped", "enabled": None}], {"a": _state(load="masked")}) == []


def test_disabling_and_unknown_states_are_refused():
    with pytest.raises(HostServicesError, match="disabling"):
        plan([{"name": "a", "state": "started", "enabled": False}], {"a": _state()})
    with pytest.raises(HostServicesError, match="state"):
        plan([{"name": "a", "state": "bounced", "enabled": True}], {"a": _state()})


def test_commands_group_units_by_verb_in_a_fixed_verb_order():
    steps = [("restart", "b"), ("enable", "a"), ("start", "a"), ("restart", "c"), ("enable", "d")]
    assert commands(steps) == [
        ["systemctl", "enable", "--", "a.service", "d.service"],
        ["systemctl", "start", "--", "a.service"],
        ["systemctl", "restart", "--", "b.service", "c.service"],
    ]
    assert commands([]) == []


def test_result_lists_what_changed_and_is_unchanged_without_steps():
    assert result([], False) == dict(changed=False, daemon_reloaded=False, enabled=[], started=[], restarted=[],
                                     reloaded=[], stopped=[])
    out = result([("start", "a"), ("reload", "b")], False)
    assert out["changed"] and out["started"] == ["a"] and out["reloaded"] == ["b"]
    assert result([], True)["changed"] is True
