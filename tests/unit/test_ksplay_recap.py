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
