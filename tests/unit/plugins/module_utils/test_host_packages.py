import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.host.packages import (
    HostPackagesError,
    changes,
    install_command,
    installed,
    missing,
    needs_update,
    query_command,
    validate,
)

QUERY = "chrony\tii \nconntrack\trc \nsocat\tiU \niptables\tii \n"


def test_only_ii_counts_as_installed():
    # rc: removed with its configuration left; iU: unpacked, not configured
    assert installed(QUERY) == {"chrony", "iptables"}


def test_missing_keeps_the_order_asked_and_hands_every_versioned_name_to_apt():
    names = ["socat", "chrony", "conntrack", "iptables=1.8*", "haproxy:amd64", "iptables:amd64"]
    assert missing(names, installed(QUERY)) == ["socat", "conntrack", "iptables=1.8*", "haproxy:amd64"]


def test_nothing_missing_when_every_name_is_installed():
    assert missing(["chrony", "iptables"], installed(QUERY)) == []


def test_query_asks_for_base_names_once():
    argv = query_command(["iptables=1.8*", "iptables:amd64", "chrony"])
    assert argv[:3] == ["dpkg-query", "-W", "-f=${Package}\\t${db:Status-Abbrev}\\n"]
    assert argv[3:] == ["chrony", "iptables"]


@pytest.mark.parametrize("names", [[], ["-o Dpkg::Options::=x"], ["foo bar"], ["Foo"], ["foo;rm"], [3]])
def test_names_that_are_no_package_are_refused(names):
    with pytest.raises(HostPackagesError):
        validate(names)


@pytest.mark.parametrize("age, valid, update", [(None, 3600, True), (3601, 3600, True), (10, 3600, False)])
def test_lists_are_updated_when_absent_or_old(age, valid, update):
    assert needs_update(age, valid) is update


def test_check_mode_simulates_the_same_install():
    assert install_command(["socat"], simulate=False) == ["apt-get", "install", "-y", "-q", "socat"]
    assert install_command(["socat"], simulate=True) == ["apt-get", "install", "-y", "-q", "--simulate", "socat"]


@pytest.mark.parametrize(
    "summary, count",
    [
        ("0 upgraded, 0 newly installed, 0 to remove and 3 not upgraded.", 0),
        ("0 upgraded, 2 newly installed, 0 to remove and 3 not upgraded.", 2),
        ("1 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.", 1),
        ("0 upgraded, 0 newly installed, 1 downgraded, 0 to remove and 0 not upgraded.", 1),
        ("0 upgraded, 1 newly installed, 1 to remove and 0 not upgraded.", 2),
    ],
)
def test_changes_come_from_apt_summary_line(summary, count):
    assert changes("Reading package lists...\nBuilding dependency tree...\n%s\n" % summary) == count


def test_output_without_a_summary_is_an_error_not_no_change():
    with pytest.raises(HostPackagesError):
        changes("E: Unable to locate package nosuch\n")
