"""The scenarios' recap parser (molecule/shared/ksplay.py) is strict: no recap line, no result - so that no
'nothing changed' assertion passes over an empty dict."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "molecule", "shared"))
from ksplay import recap  # noqa: E402  (shared scenario helper, not a package)

OUTPUT = """
PLAY RECAP *********************************************************************
ks-cl-1                    : ok=138  changed=0    unreachable=0    failed=0    skipped=41   rescued=0    ignored=0
ks-cl-4                    : ok=57   changed=2    unreachable=0    failed=1    skipped=3    rescued=0    ignored=0
localhost                  : ok=2    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0
"""


def test_recap_reads_every_matching_host():
    assert recap(OUTPUT) == {
        "ks-cl-1": {"ok": 138, "changed": 0, "failed": 0},
        "ks-cl-4": {"ok": 57, "changed": 2, "failed": 1},
    }
    assert list(recap(OUTPUT, "local")) == ["localhost"]


@pytest.mark.parametrize("output", ["", "ERROR! the playbook could not be found", OUTPUT.replace("ks-", "xx-")])
def test_recap_without_a_host_line_fails(output):
    with pytest.raises(AssertionError, match="no PLAY RECAP line"):
        recap(output)


# one_at_a_time: the timeline check of the rolling restarts (scale.yml, site.yml) in Molecule `cluster`
from ksplay import one_at_a_time  # noqa: E402


def test_one_at_a_time_accepts_a_roll_with_answers_between_the_restarts():
    windows = [(30.0, 40.0), (10.0, 20.0), (50.0, 60.0)]  # any order
    reads = [(25.0, True), (45.0, True), (55.0, False)]
    assert one_at_a_time(windows, reads) == []
    assert one_at_a_time(windows) == []


def test_one_at_a_time_reports_overlapping_windows():
    assert one_at_a_time([(10.0, 20.0), (15.0, 30.0)], [(12.0, True)]) == [
        "down together: (10.0, 20.0) and (15.0, 30.0)"
    ]
    assert one_at_a_time([(10.0, 20.0), (20.0, 30.0)]) != []  # back-to-back: the second stopped as the first rose


def test_one_at_a_time_reports_a_gap_without_an_answer():
    reads = [(22.0, False), (25.0, False), (45.0, True), (5.0, True)]  # only failed reads between the first two
    assert one_at_a_time([(10.0, 20.0), (30.0, 40.0), (50.0, 60.0)], reads) == ["no answer between 20.0 and 30.0"]


from ksplay import task_results  # noqa: E402

PROFILED = """TASK [role : Rotation | refuse to go on while an object is stored under another key] ***
Monday 07 December 2026  19:54:44 +0000 (0:00:00.139)       0:03:48.758 *******
ok: [ks-up-1]

TASK [role : Rotation | remove the old key] ***
Monday 07 December 2026  19:54:45 +0000 (0:00:00.139)       0:03:48.900 *******
changed: [ks-up-1]
changed: [ks-up-2]
"""


def test_task_results_skips_what_a_callback_prints_after_the_header():
    assert task_results(PROFILED, "stored under another key") == ["ok: [ks-up-1]"]
    assert task_results(PROFILED, "remove the old key") == ["changed: [ks-up-1]", "changed: [ks-up-2]"]


@pytest.mark.parametrize("task", ["not a task of this run", "Rotation | absent"])
def test_task_results_fails_for_a_task_that_did_not_run(task):
    with pytest.raises(AssertionError):
        task_results(PROFILED, task)


def test_task_results_fails_for_a_task_without_a_result_line():
    with pytest.raises(AssertionError):
        task_results("TASK [x : a task] ***\nMonday 07 December\n\nTASK [x : b] ***\nok: [h]\n", "a task")
