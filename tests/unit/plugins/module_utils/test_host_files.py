"""Unit tests for plugins/module_utils/host/files.py (plan, apply, summary, component_restarts).

Real files under ``tmp_path``; owner and group are the current user's, so no test needs root.
"""

import grp
import os
import pwd
import signal
import stat

import pytest
from ansible_collections.kubesmith.cluster.plugins.module_utils.host.files import (
    DIFF_MAX,
    HostFilesError,
    _directory_action,
    _file_action,
    apply,
    component_restarts,
    ids,
    parse_mode,
    plan,
    probe,
    summary,
    sysctl_drift,
    unit_path,
    write_atomic,
)

ME = pwd.getpwuid(os.geteuid()).pw_name
MY_GROUP = grp.getgrgid(os.getegid()).gr_name
UID, GID = os.geteuid(), os.getegid()
NO_SUCH_USER = "kubesmith-no-such-user"
NO_SUCH_GROUP = "kubesmith-no-such-group"


def d(path, mode="0755", **kw):
    return dict(dict(path=str(path), mode=mode, owner=ME, group=MY_GROUP), **kw)


def f(path, content="", mode="0644", **kw):
    return dict(dict(path=str(path), content=content, mode=mode, owner=ME, group=MY_GROUP), **kw)


def put(path, data, mode=0o644):
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    os.chmod(path, mode)
    return path


def mkdir(path, mode=0o755):
    path.mkdir()
    os.chmod(path, mode)  # mkdir applies the umask
    return path


def read(path):
    with open(path, "rb") as handle:
        return handle.read()


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def snapshot(root):
    """Everything plan() could touch below root: names, types, modes, owners, contents, mtimes."""
    seen = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            data = read(p) if stat.S_ISREG(st.st_mode) else None
            seen[p] = (st.st_mode, st.st_uid, st.st_gid, st.st_ino, st.st_mtime_ns, data)
    return seen


class Runner:
    """A fake run_command: records each command and what the file named in it held at that moment."""

    def __init__(self, rc=0, out="", err=""):
        self.rc, self.out, self.err = rc, out, err
        self.calls = []

    def __call__(self, cmd):
        tmp = cmd.split()[-1]
        self.calls.append((cmd, tmp, read(tmp), mode_of(tmp)))
        return self.rc, self.out, self.err


@pytest.fixture
def deadline():
    """A FIFO opened for reading blocks: if the code under test ever reads one, fail instead of hanging."""

    def expired(signum, frame):
        raise TimeoutError("blocked, probably reading a FIFO")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(10)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def umask_077():
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


# --- parse_mode / ids ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mode"),
    [("0644", 0o644), ("644", 0o644), ("0755", 0o755), ("0600", 0o600), ("4755", 0o4755), ("7777", 0o7777), ("0", 0)],
)
def test_parse_mode_accepts_octal_modes(text, mode):
    assert parse_mode(text) == mode


@pytest.mark.parametrize("text", ["999", "abc", "17777", "0o17777", "-1", "8", "", "rw-r--r--", None])
def test_parse_mode_refuses_what_is_not_a_permission_mode(text):
    with pytest.raises(HostFilesError, match="mode"):
        parse_mode(text)


def test_ids_of_the_current_user():
    assert ids(ME, MY_GROUP) == (UID, GID)


@pytest.mark.parametrize(
    ("owner", "group", "named"),
    [(NO_SUCH_USER, MY_GROUP, NO_SUCH_USER), (ME, NO_SUCH_GROUP, NO_SUCH_GROUP)],
)
def test_ids_refuses_unknown_names(owner, group, named):
    with pytest.raises(HostFilesError, match=named):
        ids(owner, group)


# --- plan(): directories ---------------------------------------------------------------------------------------


def test_plan_creates_a_missing_directory(tmp_path):
    target = tmp_path / "a" / "b"
    assert plan([d(target, "0750")]) == [
        dict(kind="directory", path=str(target), what="create", mode=0o750, uid=UID, gid=GID)
    ]


def test_plan_leaves_a_right_directory_alone(tmp_path):
    target = mkdir(tmp_path / "etc", 0o750)
    assert plan([d(target, "0750")]) == []


def test_plan_directory_mode_defaults_to_0755(tmp_path):
    target = mkdir(tmp_path / "etc", 0o755)
    assert plan([dict(path=str(target), owner=ME, group=MY_GROUP)]) == []
    target.chmod(0o700)
    assert [a["mode"] for a in plan([dict(path=str(target), owner=ME, group=MY_GROUP)])] == [0o755]


def test_plan_corrects_the_mode_of_a_directory(tmp_path):
    target = mkdir(tmp_path / "etc", 0o755)
    assert plan([d(target, "0700")]) == [
        dict(kind="directory", path=str(target), what="attributes", mode=0o700, uid=UID, gid=GID)
    ]
    assert mode_of(target) == 0o755  # only planned


@pytest.mark.parametrize("kind", ["file", "symlink to a directory", "fifo"])
def test_plan_refuses_a_non_directory_at_a_directory_path(tmp_path, kind, deadline):
    target = tmp_path / "etc"
    if kind == "file":
        put(target, "x")
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        (tmp_path / "real").mkdir()
        target.symlink_to(tmp_path / "real")
    with pytest.raises(HostFilesError, match="%s exists and is not a directory" % target):
        plan([d(target)])


# --- plan(): files ---------------------------------------------------------------------------------------------

# (what is on disk: None or (bytes, mode), wanted content, wanted mode, expected what or None)
FILE_CASES = [
    ("missing", None, "new\n", "0644", "create"),
    ("missing empty", None, "", "0644", "create"),
    ("same", (b"same\n", 0o644), "same\n", "0644", None),
    ("same empty", (b"", 0o600), "", "0600", None),
    ("same non-ascii", ("caf\u00e9\n".encode(), 0o644), "caf\u00e9\n", "0644", None),
    ("same content, wrong mode", (b"same\n", 0o644), "same\n", "0600", "attributes"),
    ("same content, setuid wanted", (b"#!/bin/sh\n", 0o755), "#!/bin/sh\n", "4755", "attributes"),
    ("longer", (b"old\n", 0o644), "old\nmore\n", "0644", "write"),
    ("shorter", (b"old\nmore\n", 0o644), "old\n", "0644", "write"),
    ("emptied", (b"old\n", 0o644), "", "0644", "write"),
    ("same length, other bytes", (b"abcd", 0o644), "abce", "0644", "write"),
    ("same length, other bytes and mode", (b"abcd", 0o600), "abce", "0644", "write"),
]


@pytest.mark.parametrize(
    ("on_disk", "content", "mode", "what"), [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES]
)
def test_plan_file_decisions(tmp_path, on_disk, content, mode, what):
    target = tmp_path / "config.yaml"
    if on_disk is not None:
        put(target, *on_disk)
    actions = plan([], [f(target, content, mode)])
    if what is None:
        assert actions == []
        return
    (action,) = actions
    assert action["kind"] == "file"
    assert action["path"] == str(target)
    assert action["what"] == what
    assert action["data"] == content.encode("utf-8")
    assert (action["mode"], action["uid"], action["gid"]) == (parse_mode(mode), UID, GID)
    if what == "create":
        assert action["before"] == ""
    elif what == "write":
        assert action["before"] == on_disk[0].decode("utf-8")


def test_plan_write_keeps_the_old_text_as_before(tmp_path):
    target = put(tmp_path / "kubelet.conf", "port: 10250\n")
    (action,) = plan([], [f(target, "port: 10251\n")])
    assert (action["what"], action["before"]) == ("write", "port: 10250\n")


def test_plan_before_of_a_binary_file_is_decoded_with_replacement(tmp_path):
    target = put(tmp_path / "blob", b"\xff\xfeold")
    (action,) = plan([], [f(target, "new")])
    assert action["what"] == "write"
    assert action["before"] == "\ufffd\ufffdold"


def test_plan_before_of_a_too_large_file_is_none(tmp_path):
    target = put(tmp_path / "big", b"x" * (DIFF_MAX + 1))
    (action,) = plan([], [f(target, "small")])
    assert (action["what"], action["before"]) == ("write", None)


def test_plan_file_mode_defaults_to_0644(tmp_path):
    target = put(tmp_path / "f", "x", 0o644)
    assert plan([], [dict(path=str(target), content="x", owner=ME, group=MY_GROUP)]) == []


def test_plan_keeps_validate_for_apply(tmp_path):
    (action,) = plan([], [f(tmp_path / "f", "x", validate="check %s")])
    assert action["validate"] == "check %s"


@pytest.mark.parametrize(
    ("on_disk", "expected"),
    [(True, [("file", "remove")]), (False, [])],
    ids=["existing is removed", "missing is left alone"],
)
def test_plan_state_absent(tmp_path, on_disk, expected):
    target = tmp_path / "old.conf"
    if on_disk:
        put(target, "old")
    actions = plan([], [dict(path=str(target), state="absent")])  # no content needed
    assert [(a["kind"], a["what"]) for a in actions] == expected
    assert all(a["path"] == str(target) for a in actions)


@pytest.mark.parametrize("kind", ["directory", "symlink to a file", "fifo"])
@pytest.mark.parametrize("state", ["present", "absent"])
def test_plan_refuses_a_non_regular_file_at_a_file_path(tmp_path, kind, state, deadline):
    target = tmp_path / "thing"
    if kind == "directory":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        put(tmp_path / "real", "same")
        target.symlink_to(tmp_path / "real")
    with pytest.raises(HostFilesError, match="%s exists and is not a regular file" % target):
        plan([], [f(target, "same", state=state)])


@pytest.mark.parametrize("second", ["{0}", "{0}/", "{1}//x/../name"], ids=["same", "trailing slash", "unnormalized"])
def test_plan_refuses_a_path_listed_twice(tmp_path, second):
    first = str(tmp_path / "name")
    with pytest.raises(HostFilesError, match="%s is listed twice" % first):
        plan([], [f(first, "a"), f(second.format(first, tmp_path), "b")])


def test_plan_refuses_a_path_listed_twice_even_as_absent(tmp_path):
    first = str(tmp_path / "name")
    with pytest.raises(HostFilesError, match="listed twice"):
        plan([], [f(first, "a"), dict(path=first, state="absent")])


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "'' is not an absolute path below /"),
        (None, "None is not an absolute path below /"),
        ("relative/path", "'relative/path' is not an absolute path below /"),
        ("./x", "'./x' is not an absolute path below /"),
        ("/", "'/' is the root directory"),
        ("//", "'/' is the root directory"),
        ("///", "'/' is the root directory"),
        ("/.", "'/' is the root directory"),
        ("//./", "'/' is the root directory"),
        ("/tmp/..", "'/' is the root directory"),
    ],
)
@pytest.mark.parametrize("where", ["directory", "file", "source", "required"])
def test_plan_refuses_relative_paths_and_the_root(tmp_path, path, message, where):
    with pytest.raises(HostFilesError) as raised:
        if where == "directory":
            plan([dict(path=path, owner=ME, group=MY_GROUP)])
        elif where == "file":
            plan([], [dict(path=path, content="x", owner=ME, group=MY_GROUP)])
        elif where == "source":
            plan([], [dict(path=str(tmp_path / "bundle"), sources=[path], owner=ME, group=MY_GROUP)])
        else:
            plan([], [], [path])
    assert str(raised.value) == message


def test_plan_never_touches_the_root_written_with_two_slashes():
    """'//' is the root directory; normpath keeps it as '//', so a naive check would plan a chmod of /."""
    with pytest.raises(HostFilesError, match="is the root directory"):
        plan([d("//", "0700")])


def test_plan_normalizes_paths(tmp_path):
    (action,) = plan([], [f(str(tmp_path) + "//sub/./x/../name", "x")])
    assert action["path"] == str(tmp_path / "sub" / "name")


@pytest.mark.parametrize(
    "entry",
    [
        {},
        {"content": None},
        {"sources": []},
        {"content": None, "sources": None},
        {"content": "x", "sources": ["/etc/x"]},
    ],
    ids=["no content", "content None", "no sources", "both None", "both"],
)
def test_plan_refuses_a_present_file_without_exactly_one_of_content_and_sources(tmp_path, entry):
    target = tmp_path / "f"
    with pytest.raises(HostFilesError, match="%s: give either content or sources" % target):
        plan([], [dict(dict(path=str(target), owner=ME, group=MY_GROUP), **entry)])


def test_plan_joins_the_sources_in_order(tmp_path):
    cert, key = put(tmp_path / "cert.pem", "CERT\n"), put(tmp_path / "key.pem", "KEY\n")
    bundle = tmp_path / "bundle.pem"
    entry = dict(path=str(bundle), sources=[str(key), str(cert)], mode="0600", owner=ME, group=MY_GROUP)
    (action,) = plan([], [entry])
    assert (action["what"], action["data"], action["before"]) == ("create", b"KEY\nCERT\n", "")
    put(bundle, "KEY\nCERT\n", 0o600)
    assert plan([], [entry]) == []
    put(bundle, "CERT\nKEY\n", 0o600)
    assert [(a["what"], a["data"]) for a in plan([], [entry])] == [("write", b"KEY\nCERT\n")]


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_plan_refuses_a_missing_source_outside_check_mode(tmp_path, kind):
    source = tmp_path / "cert.pem"
    if kind == "directory":
        source.mkdir()
    target = tmp_path / "bundle.pem"
    entry = dict(path=str(target), sources=[str(source)], owner=ME, group=MY_GROUP)
    with pytest.raises(HostFilesError, match="%s: its source %s is missing" % (target, source)):
        plan([], [entry])


@pytest.mark.parametrize("on_disk", [False, True], ids=["create", "write"])
def test_plan_in_check_mode_reports_a_file_whose_source_is_missing_as_changed(tmp_path, on_disk):
    target = tmp_path / "bundle.pem"
    if on_disk:
        put(target, "old")
    entry = dict(path=str(target), sources=[str(tmp_path / "later.pem")], owner=ME, group=MY_GROUP)
    (action,) = plan([], [entry], check_mode=True)
    assert (action["what"], action["data"]) == ("write" if on_disk else "create", None)
    result = summary([action], diff=True)
    assert result["written"] == [str(target)]
    assert "after" not in result["diff"][0]


def test_plan_refuses_a_relative_source_even_in_check_mode(tmp_path):
    entry = dict(path=str(tmp_path / "bundle"), sources=["cert.pem"], owner=ME, group=MY_GROUP)
    with pytest.raises(HostFilesError, match="'cert.pem' is not an absolute path"):
        plan([], [entry], check_mode=True)


def test_plan_refuses_missing_required_paths_with_the_hint(tmp_path):
    there = put(tmp_path / "ca.crt", "ca")
    first, second = tmp_path / "ca.key", tmp_path / "sa.key"
    with pytest.raises(HostFilesError) as raised:
        plan([d(tmp_path / "dir")], [], [str(there), str(first), str(second)], "run the pki role first")
    assert str(raised.value) == "%s, %s missing on this host: run the pki role first" % (first, second)
    with pytest.raises(HostFilesError) as raised:
        plan([], [], [str(first)])
    assert str(raised.value) == "%s missing on this host" % first


def test_plan_checks_required_paths_only_outside_check_mode(tmp_path):
    required = [str(tmp_path / "ca.key")]
    assert [a["what"] for a in plan([d(tmp_path / "dir")], [], required, "hint", check_mode=True)] == ["create"]
    put(tmp_path / "ca.key", "key")
    assert [a["what"] for a in plan([d(tmp_path / "dir")], [], required, "hint")] == ["create"]


@pytest.mark.parametrize("mode", ["999", "abc", "17777"])
@pytest.mark.parametrize("where", ["directory", "file"])
def test_plan_refuses_bad_modes(tmp_path, mode, where):
    with pytest.raises(HostFilesError, match="mode %r" % mode):
        if where == "directory":
            plan([d(tmp_path / "x", mode)])
        else:
            plan([], [f(tmp_path / "x", "x", mode)])


@pytest.mark.parametrize(
    ("owner", "group", "named"),
    [(NO_SUCH_USER, None, NO_SUCH_USER), (None, NO_SUCH_GROUP, NO_SUCH_GROUP)],
    ids=["owner", "group"],
)
@pytest.mark.parametrize("where", ["directory", "file"])
def test_plan_refuses_unknown_owner_or_group(tmp_path, owner, group, named, where):
    names = dict(owner=owner or ME, group=group or MY_GROUP)
    with pytest.raises(HostFilesError, match="%r does not exist" % named):
        if where == "directory":
            plan([d(tmp_path / "x", **names)])
        else:
            plan([], [f(tmp_path / "x", "x", **names)])


def test_check_mode_reports_an_owner_that_an_earlier_task_creates_as_a_change(tmp_path):
    """etcd's data directory belongs to a user the same run creates first: check mode cannot resolve the name yet,
    and says the directory would be created or get new attributes instead of failing."""
    (tmp_path / "kept").mkdir(mode=0o700)
    actions = plan(
        [d(tmp_path / "new", owner=NO_SUCH_USER), d(tmp_path / "kept", "0700", owner=NO_SUCH_USER)],
        [f(tmp_path / "file", "x", owner=NO_SUCH_USER)],
        check_mode=True,
    )
    assert [(a["path"].split("/")[-1], a["what"]) for a in actions] == [
        ("new", "create"),
        ("kept", "attributes"),
        ("file", "create"),
    ]
    with pytest.raises(HostFilesError, match="%r does not exist" % NO_SUCH_USER):
        plan([d(tmp_path / "new", owner=NO_SUCH_USER)])  # a real run still refuses


def test_plan_has_no_side_effects(tmp_path):
    """Check mode is plan() alone: it must leave the host exactly as it was."""
    put(tmp_path / "same", "same")
    put(tmp_path / "other", "old")
    put(tmp_path / "mode", "m", 0o600)
    put(tmp_path / "gone", "bye")
    mkdir(tmp_path / "dir", 0o700)
    before = snapshot(tmp_path)
    directories = [d(tmp_path / "dir", "0755"), d(tmp_path / "new" / "deep", "0750")]
    files = [
        f(tmp_path / "same", "same"),
        f(tmp_path / "other", "new", validate="false %s"),
        f(tmp_path / "mode", "m", "0640"),
        dict(path=str(tmp_path / "gone"), state="absent"),
        f(tmp_path / "new" / "deep" / "file", "x"),
        dict(path=str(tmp_path / "bundle"), sources=[str(tmp_path / "same"), str(tmp_path / "other")]),
    ]
    expected = ["attributes", "create", "write", "attributes", "remove", "create", "create"]
    assert [a["what"] for a in plan(directories, files)] == expected
    assert [a["what"] for a in plan(directories, files, check_mode=True)] == expected
    assert snapshot(tmp_path) == before


# --- apply() ---------------------------------------------------------------------------------------------------


def test_apply_creates_directories_with_their_exact_mode_despite_the_umask(tmp_path, umask_077):
    target = tmp_path / "a" / "b"
    apply(plan([d(target, "0775")]))
    assert target.is_dir()
    assert mode_of(target) == 0o775
    assert (os.stat(target).st_uid, os.stat(target).st_gid) == (UID, GID)


def test_apply_corrects_a_directory_mode(tmp_path):
    target = tmp_path / "etc"
    mkdir(target, 0o755)
    put(target / "keep", "keep")
    apply(plan([d(target, "0710")]))
    assert mode_of(target) == 0o710
    assert (target / "keep").read_text() == "keep"


@pytest.mark.parametrize("mode", ["0644", "0600", "0666", "0755"])
def test_apply_writes_files_with_their_mode_and_leaves_no_temporary_file(tmp_path, umask_077, mode):
    put(tmp_path / "old", "old\n", 0o600)
    actions = plan([], [f(tmp_path / "new", "new\n", mode), f(tmp_path / "old", "rewritten\n", mode)])
    assert [a["what"] for a in actions] == ["create", "write"]
    apply(actions)
    assert (tmp_path / "new").read_text() == "new\n"
    assert (tmp_path / "old").read_text() == "rewritten\n"
    assert mode_of(tmp_path / "new") == mode_of(tmp_path / "old") == parse_mode(mode)
    assert sorted(os.listdir(tmp_path)) == ["new", "old"]


def test_apply_replaces_a_file_by_rename_not_in_place(tmp_path):
    target = put(tmp_path / "f", "old")
    inode = os.stat(target).st_ino
    hard_link = tmp_path / "link"
    os.link(target, hard_link)
    apply(plan([], [f(target, "new")]))
    assert target.read_text() == "new"
    assert os.stat(target).st_ino != inode
    assert hard_link.read_text() == "old"  # the old inode was never opened for writing


def test_apply_attributes_only_keeps_the_file(tmp_path):
    target = put(tmp_path / "f", "same", 0o644)
    inode = os.stat(target).st_ino
    actions = plan([], [f(target, "same", "0600")])
    assert [a["what"] for a in actions] == ["attributes"]
    apply(actions)
    assert mode_of(target) == 0o600
    assert os.stat(target).st_ino == inode
    assert target.read_text() == "same"


def test_apply_removes_files(tmp_path):
    target = put(tmp_path / "f", "x")
    apply(plan([], [dict(path=str(target), state="absent")]))
    assert not target.exists()


def test_apply_creates_the_directory_before_its_files(tmp_path, umask_077):
    directory = tmp_path / "etc" / "kubernetes"
    apply(plan([d(directory, "0750")], [f(directory / "a.yaml", "a: 1\n", "0640")]))
    assert mode_of(directory) == 0o750
    assert mode_of(directory / "a.yaml") == 0o640
    assert (directory / "a.yaml").read_text() == "a: 1\n"


def test_apply_then_plan_is_empty(tmp_path):
    """After a run, a second run changes nothing (idempotence)."""
    put(tmp_path / "gone", "x")
    put(tmp_path / "same", "s", 0o600)
    directories = [d(tmp_path / "d1", "0700"), d(tmp_path / "d1" / "d2", "0751")]
    files = [
        f(tmp_path / "d1" / "d2" / "a", "a", "0640"),
        f(tmp_path / "same", "s", "0644"),
        dict(path=str(tmp_path / "gone"), state="absent"),
    ]
    first = plan(directories, files)
    assert len(first) == 5
    apply(first)
    assert plan(directories, files) == []


def test_apply_directories_listed_child_before_parent(tmp_path, umask_077):
    """makedirs of the child creates the parent, whose planned 'create' must still succeed and set its mode."""
    parent, child = tmp_path / "a", tmp_path / "a" / "b"
    actions = plan([d(child, "0755"), d(parent, "0700")])
    assert [a["what"] for a in actions] == ["create", "create"]
    apply(actions)
    assert mode_of(parent) == 0o700
    assert mode_of(child) == 0o755


def test_apply_validate_failure_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = put(tmp_path / "sudoers", "old\n", 0o440)
    before = snapshot(tmp_path)
    runner = Runner(rc=1, err="  syntax error near line 1\n")
    actions = plan([], [f(target, "broken\n", "0440", validate="visudo -cf %s")])
    with pytest.raises(HostFilesError) as raised:
        apply(actions, runner)
    message = str(raised.value)
    assert message.startswith("%s was not replaced" % target)
    assert "visudo -cf <new file>" in message
    assert "rc 1" in message
    assert "syntax error near line 1" in message
    assert snapshot(tmp_path) == before  # the old file untouched, no temporary file left
    ((cmd, tmp, data, mode),) = runner.calls
    assert cmd == "visudo -cf %s" % tmp
    assert os.path.dirname(tmp) == str(tmp_path)  # beside the target, so the rename is atomic
    assert os.path.basename(tmp).startswith(".sudoers.")
    assert (data, mode) == (b"broken\n", 0o440)  # validated what would have been installed


def test_apply_validate_failure_reports_stdout_when_stderr_is_empty(tmp_path):
    target = put(tmp_path / "f", "old")
    with pytest.raises(HostFilesError, match="rc 2.*bad on stdout"):
        apply(plan([], [f(target, "new", validate="check %s")]), Runner(rc=2, out="bad on stdout\n"))


def test_apply_validate_failure_stops_before_later_actions(tmp_path):
    target = put(tmp_path / "a", "old")
    later = tmp_path / "b"
    with pytest.raises(HostFilesError):
        apply(plan([], [f(target, "new", validate="check %s"), f(later, "b")]), Runner(rc=1))
    assert not later.exists()


def test_apply_refuses_validate_without_placeholder(tmp_path):
    target = put(tmp_path / "f", "old\n")
    before = snapshot(tmp_path)
    runner = Runner()
    with pytest.raises(HostFilesError, match="validate command for %s must contain %%s" % target):
        apply(plan([], [f(target, "new\n", validate="visudo -c")]), runner)
    assert runner.calls == []
    assert snapshot(tmp_path) == before


def test_apply_validate_success_replaces_the_file(tmp_path):
    target = put(tmp_path / "f", "old\n", 0o644)
    runner = Runner(rc=0)
    apply(plan([], [f(target, "new\n", "0600", validate="check %s")]), runner)
    assert target.read_text() == "new\n"
    assert mode_of(target) == 0o600
    assert len(runner.calls) == 1
    assert runner.calls[0][2] == b"new\n"
    assert os.listdir(tmp_path) == ["f"]


def test_apply_validates_a_new_file_too(tmp_path):
    target = tmp_path / "f"
    with pytest.raises(HostFilesError, match="was not replaced"):
        apply(plan([], [f(target, "new", validate="check %s")]), Runner(rc=1))
    assert os.listdir(tmp_path) == []


def test_write_atomic_creates_a_missing_parent(tmp_path):
    target = tmp_path / "missing" / "f"
    write_atomic(str(target), b"data", 0o600, UID, GID)
    assert target.read_bytes() == b"data"
    assert mode_of(target) == 0o600


# --- summary() -------------------------------------------------------------------------------------------------


def test_summary_of_nothing():
    assert summary([], diff=True) == dict(changed=False, changed_paths=[], written=[], removed=[], diff=[])
    assert summary([]) == dict(changed=False, changed_paths=[], written=[], removed=[])


@pytest.fixture
def mixed(tmp_path):
    """A plan with one action of each kind, the files listed in a different order than they sort."""
    put(tmp_path / "write", "old\n")
    put(tmp_path / "attributes", "same\n", 0o644)
    put(tmp_path / "remove", "bye\n")
    mkdir(tmp_path / "dir_attr", 0o700)
    p = {name: str(tmp_path / name) for name in ("write", "attributes", "remove", "dir_attr", "dir_new", "create")}
    actions = plan(
        [d(p["dir_new"], "0750"), d(p["dir_attr"], "0755")],
        [
            f(p["write"], "new\n"),
            dict(path=p["remove"], state="absent"),
            f(p["create"], "created\n"),
            f(p["attributes"], "same\n", "0600"),
        ],
    )
    return p, actions


def test_summary_lists_paths_by_kind_of_change_in_order(mixed):
    p, actions = mixed
    result = summary(actions)
    assert result["changed"] is True
    assert result["changed_paths"] == [
        p["dir_new"],
        p["dir_attr"],
        p["write"],
        p["remove"],
        p["create"],
        p["attributes"],
    ]
    assert result["written"] == [p["write"], p["create"]]
    assert result["removed"] == [p["remove"]]
    assert "diff" not in result


def test_summary_directories_come_before_files_whatever_the_argument_order(tmp_path):
    result = summary(plan([d(tmp_path / "z")], [f(tmp_path / "a", "a")]))
    assert result["changed_paths"] == [str(tmp_path / "z"), str(tmp_path / "a")]


def test_summary_diff_per_action(mixed):
    p, actions = mixed
    diffs = {x["before_header"]: x for x in summary(actions, diff=True)["diff"]}
    assert all(x["after_header"] == x["before_header"] for x in diffs.values())
    assert list(diffs) == summary(actions)["changed_paths"]
    assert (diffs[p["write"]]["before"], diffs[p["write"]]["after"]) == ("old\n", "new\n")
    assert (diffs[p["create"]]["before"], diffs[p["create"]]["after"]) == ("", "created\n")
    assert diffs[p["remove"]]["prepared"] == "%s: removed" % p["remove"]
    assert diffs[p["attributes"]]["prepared"] == "%s: attributes file mode 0600" % p["attributes"]
    assert diffs[p["dir_attr"]]["prepared"] == "%s: attributes directory mode 0755" % p["dir_attr"]
    assert diffs[p["dir_new"]]["prepared"] == "%s: create directory mode 0750" % p["dir_new"]
    for path in (p["remove"], p["attributes"], p["dir_attr"], p["dir_new"]):
        assert "before" not in diffs[path] and "after" not in diffs[path]


@pytest.mark.parametrize("on_disk", [None, "OLD-SECRET-VALUE\n"], ids=["create", "write"])
def test_summary_never_shows_a_secret(tmp_path, on_disk):
    secret, public = tmp_path / "token.csv", tmp_path / "public"
    if on_disk is not None:
        put(secret, on_disk, 0o600)
    actions = plan([], [f(secret, "NEW-SECRET-VALUE\n", "0600"), f(public, "public text\n")])
    result = summary(actions, diff=True, secret_paths={str(secret)})
    assert "SECRET-VALUE" not in repr(result)
    by_path = {x["before_header"]: x for x in result["diff"]}
    assert by_path[str(secret)]["prepared"] == "%s: %s (content not shown)" % (secret, actions[0]["what"])
    assert by_path[str(public)]["after"] == "public text\n"
    assert result["written"] == [str(secret), str(public)]


def test_summary_of_a_too_large_file(tmp_path):
    big = put(tmp_path / "big", b"x" * (DIFF_MAX + 10))
    grown = tmp_path / "grown"
    actions = plan([], [f(big, "small"), f(grown, "y" * (DIFF_MAX + 1))])
    (one, two) = summary(actions, diff=True)["diff"]
    assert one["prepared"] == "%s: content changed (too large to show)" % big
    assert two["prepared"] == "%s: content changed (too large to show)" % grown
    assert "x" * 100 not in repr(one) and "y" * 100 not in repr(two)


# --- unit_path() / component_restarts() ------------------------------------------------------------------------

NAMES = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]
CONFIG_FILES = [
    {"path": "/etc/kubernetes/encryption-config.yaml", "component": "kube-apiserver"},
    {"path": "/etc/kubernetes/scheduler.yaml", "component": "kube-scheduler"},
    {"path": "/etc/kubernetes/audit-policy.yaml", "component": "kube-apiserver"},
]


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (("kubelet",), "/etc/systemd/system/kubelet.service"),
        (("etcd", "/run/systemd/system/"), "/run/systemd/system/etcd.service"),
        (("{}",), "/etc/systemd/system/{}.service"),
    ],
)
def test_unit_path(args, path):
    assert unit_path(*args) == path


@pytest.mark.parametrize(
    ("changed_paths", "binaries_changed", "restarts"),
    [
        ([], True, NAMES),
        (None, True, NAMES),
        (["/etc/systemd/system/kube-controller-manager.service"], False, ["kube-controller-manager"]),
        (["/etc/kubernetes/scheduler.yaml"], False, ["kube-scheduler"]),
        (["/etc/kubernetes/audit-policy.yaml"], False, ["kube-apiserver"]),
        ([], False, []),
        (None, False, []),
        (["/etc/kubernetes", "/etc/kubernetes/other.yaml", "/etc/systemd/system/kubelet.service"], False, []),
        (
            ["/etc/systemd/system/kube-scheduler.service", "/etc/kubernetes/encryption-config.yaml"],
            False,
            ["kube-apiserver", "kube-scheduler"],
        ),
        (
            [
                "/etc/kubernetes/audit-policy.yaml",
                "/etc/systemd/system/kube-apiserver.service",
                "/etc/kubernetes/encryption-config.yaml",
            ],
            False,
            ["kube-apiserver"],
        ),
    ],
    ids=[
        "binaries: all in order",
        "binaries, no result",
        "unit",
        "config file",
        "second config file of a component",
        "nothing",
        "no result",
        "unrelated paths",
        "order follows names",
        "once per component",
    ],
)
def test_component_restarts(changed_paths, binaries_changed, restarts):
    assert component_restarts(NAMES, CONFIG_FILES, changed_paths, binaries_changed) == restarts


def test_component_restarts_order_follows_names_not_config_files():
    names = list(reversed(NAMES))
    changed = [e["path"] for e in CONFIG_FILES] + ["/etc/systemd/system/kube-controller-manager.service"]
    assert component_restarts(names, CONFIG_FILES, changed) == names
    assert component_restarts(names, None, changed) == ["kube-controller-manager"]


def test_component_restarts_in_another_unit_directory():
    changed = ["/usr/lib/systemd/system/etcd.service"]
    assert component_restarts(["etcd"], [], changed) == []
    assert component_restarts(["etcd"], [], changed, unit_dir="/usr/lib/systemd/system") == ["etcd"]


def test_plan_refuses_validate_without_placeholder_even_in_check_mode(tmp_path):
    """Check mode must not report a change that the real run then refuses."""
    with pytest.raises(HostFilesError, match="must contain %s"):
        plan([], [f(tmp_path / "f", "new\n", validate="visudo -c")], check_mode=True)


def test_summary_in_check_mode_names_a_file_made_from_sources_this_run_writes_first(tmp_path):
    entry = {"path": str(tmp_path / "bundle.pem"), "sources": [str(tmp_path / "missing.crt")], "mode": "0600",
             "owner": pwd.getpwuid(os.geteuid()).pw_name, "group": grp.getgrgid(os.getegid()).gr_name}
    out = summary(plan([], [entry], check_mode=True), diff=True)
    assert out["written"] == [entry["path"]]
    assert out["diff"][0]["prepared"] == "%s: made from files this run writes first" % entry["path"]


def test_probe_reads_files_before_anything_and_reports_missing_ones_as_none(tmp_path):
    put(tmp_path / "value", "1\n")
    out = probe([str(tmp_path / "value"), str(tmp_path / "nothing")])
    assert out == {str(tmp_path / "value"): "1\n", str(tmp_path / "nothing"): None}
    with pytest.raises(HostFilesError):
        probe(["relative"])


@pytest.mark.parametrize("probed, drift", [
    ({"/proc/sys/net/ipv4/ip_forward": "1\n", "/proc/sys/net/ipv4/tcp_rmem": "4096\t87380\t6291456\n"}, []),
    ({"/proc/sys/net/ipv4/ip_forward": "0\n", "/proc/sys/net/ipv4/tcp_rmem": "4096\t87380\t6291456\n"},
     ["net.ipv4.ip_forward"]),
    ({"/proc/sys/net/ipv4/ip_forward": "1\n"}, ["net.ipv4.tcp_rmem"]),  # unknown to the kernel: sysctl -p says so
    ({"/proc/sys/net/ipv4/ip_forward": None, "/proc/sys/net/ipv4/tcp_rmem": "4096 87380 1\n"},
     ["net.ipv4.ip_forward", "net.ipv4.tcp_rmem"]),
])
def test_sysctl_drift_compares_fields_not_whitespace(probed, drift):
    wanted = {"net.ipv4.ip_forward": 1, "net.ipv4.tcp_rmem": "4096 87380 6291456"}
    assert sysctl_drift(wanted, probed) == drift


def test_entry_actions_are_none_when_the_entry_is_as_wanted(tmp_path):
    (tmp_path / "dir").mkdir()
    os.chmod(tmp_path / "dir", 0o700)
    (tmp_path / "file").write_text("same")
    os.chmod(tmp_path / "file", 0o600)
    assert _directory_action(d(tmp_path / "dir", "0700")) is None
    assert _directory_action(d(tmp_path / "dir", "0755"))["what"] == "attributes"
    path = str(tmp_path / "file")
    assert _file_action(path, f(path, "same", "0600"), False) is None
    assert _file_action(path, f(path, "other", "0600"), False)["before"] == "same"
    assert _file_action(str(tmp_path / "gone"), f(tmp_path / "gone", state="absent"), False) is None
