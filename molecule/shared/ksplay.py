"""Run the collection's playbooks from scenario tests, against the scenario's own hosts.

The inventory: KS_INVENTORY when set (tools/test lab sets it to the lab's .lab/hosts.yml), else the directory of
MOLECULE_INVENTORY_FILE, which Molecule sets for the verifier. Extra inventory files add hosts to groups (inventory
sources are merged), which is how a test grows a cluster.
"""

import os
import re
import signal
import subprocess
import sys

ROOT = os.environ.get("MOLECULE_PROJECT_DIRECTORY") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..")
)


class PlaybookTimeout(AssertionError):
    pass


def inventory_source():
    """The inventory the tests run playbooks against: KS_INVENTORY, else Molecule's inventory directory."""
    if os.environ.get("KS_INVENTORY"):
        return os.environ["KS_INVENTORY"]
    if os.environ.get("MOLECULE_INVENTORY_FILE"):
        return os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
    raise RuntimeError("run through molecule (verify) or tools/test lab: neither KS_INVENTORY nor "
                       "MOLECULE_INVENTORY_FILE is set")


def run_playbook(playbook, *args, inventories=(), inventories_first=(), timeout=600):
    """ansible-playbook ROOT/playbooks/<playbook> -> (return code, output). Output is printed for pytest.
    ``inventories`` are read after the scenario's inventory, ``inventories_first`` before it: hosts they put in a
    group come first in it."""
    inventory = inventory_source()
    # a guard against a hung run, not a measure: two scenarios side by side (tools/test's lanes) share the cores
    timeout = int(timeout * float(os.environ.get("KS_TIMEOUT_FACTOR", "1")))
    env = dict(os.environ)
    env.setdefault("ANSIBLE_CONFIG", os.path.join(ROOT, "ansible.cfg"))
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, ".collections"))
    env.update(ANSIBLE_FORCE_COLOR="False", ANSIBLE_NOCOLOR="True")
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook")]
    for extra in inventories_first:
        command += ["-i", extra]
    command += ["-i", inventory]
    for extra in inventories:
        command += ["-i", extra]
    command += [os.path.join(ROOT, "playbooks", playbook), *args]
    # own process group: on a timeout the forked workers (which hold the pipe) are killed too
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        raise PlaybookTimeout("%s: no result after %d s\n%s" % (" ".join(command), timeout, output)) from None
    print("$ %s\n%s" % (" ".join(command), output))  # pytest shows it when a step fails
    return proc.returncode, output


def recap(output, prefix="ks-"):
    """host -> {ok, changed, failed} from the PLAY RECAP. Strict: an output without a recap line for a host
    (the playbook did not run, or the format changed) fails here, so that no assertion runs over an empty dict."""
    pattern = r"^(%s\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)" % re.escape(prefix)
    stats = {
        m.group(1): {"ok": int(m.group(2)), "changed": int(m.group(3)), "failed": int(m.group(5))}
        for m in re.finditer(pattern, output, re.M)
    }
    if not stats:
        raise AssertionError("no PLAY RECAP line for a %s* host in the output:\n%s" % (prefix, output[-2000:]))
    return stats


def task_results(output, task):
    """The result lines ("ok: [host]", "changed: [host] => ...", "fatal: ...") of the first task whose header
    contains ``task``, whatever a callback prints between them (profile_tasks adds a timestamp line). Strict: a
    task that is not in the output, or that printed no result line, fails here."""
    start = output.find("TASK [")
    while start != -1:
        header_end = output.find("\n", start)
        if task in output[start:header_end]:
            following = output.find("\nTASK [", header_end)
            block = output[header_end : following if following != -1 else len(output)]
            lines = [line for line in block.splitlines() if re.match(r"(ok|changed|fatal|failed|skipping): \[", line)]
            if not lines:
                raise AssertionError("task %r printed no result line:\n%s" % (task, block[:2000]))
            return lines
        start = output.find("TASK [", header_end)
    raise AssertionError("no task %r in the output:\n%s" % (task, output[-2000:]))


def report_figure(text):
    """A measured figure (e.g. failed reads during a roll) for tools/test to print after the scenarios."""
    path = os.path.join(os.environ.get("KS_CACHE", "/var/cache/kubesmith"), "run", "figures.txt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("%s: %s\n" % (os.environ.get("MOLECULE_SCENARIO_NAME", "lab"), text))
    print(text)


def one_at_a_time(windows, reads=None):
    """What breaks "one host at a time" in a restart timeline, as a list of sentences (empty: nothing).

    ``windows``: (stop began, running again) per restarted service, any order; ``reads``: (time, ok) of a client
    polling through the load balancer meanwhile, or None. Two windows must not overlap, and with ``reads`` the
    client must have had an answer between the end of one window and the start of the next."""
    problems = []
    ordered = sorted(windows)
    for (down, up), (next_down, next_up) in zip(ordered, ordered[1:]):
        if next_down <= up:
            problems.append("down together: (%.1f, %.1f) and (%.1f, %.1f)" % (down, up, next_down, next_up))
        elif reads is not None and not any(ok and up < at < next_down for at, ok in reads):
            problems.append("no answer between %.1f and %.1f" % (up, next_down))
    return problems
