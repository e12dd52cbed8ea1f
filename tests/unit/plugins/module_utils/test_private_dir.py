import os
import stat

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils import private_dir


@pytest.mark.parametrize(
    ("mode", "ok"),
    [(0o700, True), (0o500, True), (0o750, False), (0o755, False), (0o701, False), (0o1777, False), (0o2700, True)],
)
def test_problem_by_mode(mode, ok):
    assert (private_dir.problem(stat.S_IFDIR | mode) == "") is ok


def test_problem_of_a_file():
    assert private_dir.problem(stat.S_IFREG | 0o600, is_dir=False) == "is not a directory"


def test_prepare_makes_a_missing_directory_0700_despite_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        created, error = private_dir.prepare(str(tmp_path / "a" / "b"))
    finally:
        os.umask(old)
    assert (created, error) == (True, "")
    assert stat.S_IMODE(os.stat(tmp_path / "a" / "b").st_mode) == 0o700


def test_prepare_accepts_a_private_directory_and_never_chmods_a_shared_one(tmp_path):
    private = tmp_path / "p"
    private.mkdir(mode=0o700)
    os.chmod(private, 0o700)
    assert private_dir.prepare(str(private)) == (False, "")
    shared = tmp_path / "s"
    shared.mkdir()
    os.chmod(shared, 0o755)  # noqa: S103 - a shared directory is what the test needs
    created, error = private_dir.prepare(str(shared))
    assert not created and "open to group or others (mode 0755)" in error
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o755


def test_prepare_in_check_mode_creates_nothing(tmp_path):
    assert private_dir.prepare(str(tmp_path / "n"), check_mode=True) == (True, "")
    assert not (tmp_path / "n").exists()


@pytest.mark.parametrize("path", ["", "relative/dir"])
def test_prepare_wants_an_absolute_path(path):
    created, error = private_dir.prepare(path)
    assert not created and "not an absolute path" in error


def test_prepare_refuses_a_file(tmp_path):
    target = tmp_path / "f"
    target.write_text("x")
    os.chmod(target, 0o600)
    assert "is not a directory" in private_dir.prepare(str(target))[1]
