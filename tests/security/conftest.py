"""Fixtures of the hostile-input suite.

- ``sim``: one simulated node for the session and one long-lived worker process inside it
  (``pvesim run``) that executes the modules in-process, case after case (worker.py).
- ``plugins``: a second worker on the same node that runs the controller-side plugins (the
  inventory plugin and the pct connection) in-process.
- host guard: a signature of the host's /, /etc, /usr, /root, /boot, /var/lib (top levels), the
  host's /etc/pve, /var/lib/lxc and /var/lib/vz, and the injection marker /tmp/nexcage-pwned, taken
  around every call into the simulated node (a module run, a command, a playbook): a run that changed
  it is reported by the judge as an escape naming the case and the changed paths. ``host_guard``
  takes it around every test too and fails the test on a change no judged case reported (a set-up run,
  a playbook). Every escape is counted in the totals.

The totals line (``N cases, 0 tracebacks, 0 injections, 0 escapes``) is printed at the end of the
session, summed over xdist workers; the cases of tests marked xfail (known defects, handed over)
are counted on a line of their own.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
from hostile import ACTIVE, HOST_REPORTED, KNOWN, MARKER, TALLY, host_changes
from scenes import Scene

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PVESIM = os.path.join(TOP, "tests", "pvesim", "bin", "pvesim")
COLLECTIONS = os.path.join(TOP, "build", "collections")
MODULES = os.path.join(TOP, "plugins", "modules")
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
# Host trees whose change would mean that a case escaped the simulated node (the entries, by
# inode and type: a moved, deleted or replaced entry shows, ordinary writes by others do not).
HOST_TREES = ("/", "/etc", "/etc/pve", "/usr", "/root", "/boot", "/var/lib", "/var/lib/lxc", "/var/lib/vz")


def host_signature():
    """{path: (kind, inode)} of the entries of HOST_TREES, and the injection marker if it exists."""
    seen = {}
    for top in HOST_TREES:
        try:
            with os.scandir(top) as entries:
                for entry in entries:
                    seen[entry.path] = (_kind(entry), entry.inode())
        except OSError:
            continue
    if os.path.lexists(MARKER):
        seen[MARKER] = ("marker", 0)
    return seen


def _kind(entry):
    if entry.is_symlink():
        return "link"
    return "dir" if entry.is_dir(follow_symlinks=False) else "file" if entry.is_file(follow_symlinks=False) else "other"


class Worker:
    """A module runner inside the simulated node (see worker.py)."""

    def __init__(self, root, work, plugins=False):
        self.root = root
        self.work = work
        self.host_log = []  # (what ran, [host changes]) of every call that changed the host
        env = dict(os.environ, PYTHONPATH=COLLECTIONS, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
        env.pop("PVESIM_LATENCY_MS", None)
        self.proc = subprocess.Popen(
            [PVESIM, "run", "--root", root, "--", sys.executable, WORKER] + (["--plugins"] if plugins else []),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def guarded(self, what, call):
        """call(), with the host changes it made logged (and returned)."""
        before = host_signature()
        outcome = call()
        changes = host_changes(before, host_signature())
        if changes:
            self.host_log.append((what, changes))
        return outcome, changes

    def take_host_log(self):
        """The calls that changed the host since the last take: [(what ran, [changes])]."""
        log, self.host_log = self.host_log, []
        return log

    def request(self, request):
        def ask():
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            return self.proc.stdout.readline()

        shown = {key: value for key, value in request.items() if key in ("args", "vars", "source")}
        what = "%s %s" % (os.path.basename(request.get("module", request["op"])), json.dumps(shown)[:300])
        line, changes = self.guarded(what, ask)
        if not line:
            raise AssertionError("the module worker died (rc %s)" % self.proc.poll())
        answer = json.loads(line)
        answer["host_changed"] = changes  # the judge reports them as an escape of the case
        return answer

    def run(self, module, args, check=False, diff=True, verbosity=3, track=True):
        return self.request(
            {
                "op": "run",
                "module": os.path.join(MODULES, module + ".py"),
                "args": args,
                "check": check,
                "diff": diff,
                "verbosity": verbosity,
                "tmpdir": self.work,
                "track": track,
            }
        )

    def inventory(self, source, template):
        """The inventory plugin on this node (a worker started with plugins=True)."""
        return self.request({"op": "inventory", "source": source, "template": template})

    def connection(self, variables, command, log):
        """One command through the pct connection plugin (a worker started with plugins=True)."""
        return self.request({"op": "connection", "vars": variables, "command": command, "log": log})

    def node_path(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def read(self, path):
        try:
            with open(self.node_path(path), encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def sh(self, *argv):
        return self.in_node("command", [str(a) for a in argv], timeout=120)

    def playbook(self, path, *extra):
        """ansible-playbook on the node (localhost, local connection); the CompletedProcess."""
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, PYTHONPATH=COLLECTIONS)
        env.setdefault("ANSIBLE_CONFIG", os.path.join(TOP, "ansible.cfg"))
        env.pop("PVESIM_LATENCY_MS", None)
        argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local"]
        argv += ["-e", "ansible_python_interpreter=%s" % sys.executable, path] + list(extra)
        return self.in_node("playbook", argv, timeout=300, env=env)

    def in_node(self, what, argv, timeout, env=None):
        """argv run in the simulated node (host guarded); the CompletedProcess."""
        run = [PVESIM, "run", "--root", self.root, "--"] + argv
        proc, _changes = self.guarded(
            "%s %s" % (what, argv),
            lambda: subprocess.run(run, capture_output=True, text=True, timeout=timeout, env=env, check=False),
        )
        return proc

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="session")
def sim(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the hostile-input suite runs modules in a simulated node, which needs root")
    base = tmp_path_factory.mktemp("secnode")
    root = str(base / "node")
    proc = subprocess.run([PVESIM, "init", root], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    work = tempfile.mkdtemp(prefix="work-", dir=str(base))
    worker = Worker(root, work)
    yield worker
    worker.close()
    HOST_REPORTED.clear()
    ACTIVE["tally"] = TALLY
    fail_on_unreported("the session's last calls (the scene's teardown)", [], worker.take_host_log())
    shutil.rmtree(str(base), ignore_errors=True)


@pytest.fixture(scope="session")
def plugins(sim):
    """A second worker on the same node that runs the controller-side plugins (inventory, connection)."""
    worker = Worker(sim.root, sim.work, plugins=True)
    yield worker
    worker.close()


@pytest.fixture(scope="session")
def scene(sim, tmp_path_factory):
    """A container to update, a free VMID, bundles (see cases.Scene)."""
    made = Scene(sim, str(tmp_path_factory.mktemp("secscene")))
    yield made
    made.teardown()


def fail_on_unreported(where, changes, calls):
    """Fail (and count an escape) for host changes no judged case reported: changes seen around a
    test, and those of the calls into the simulated node [(what ran, [changes])] made since the last check."""
    unreported = [change for change in changes if change not in HOST_REPORTED]
    for _what, made in calls:
        unreported += [change for change in made if change not in HOST_REPORTED and change not in unreported]
    if unreported:
        ACTIVE["tally"].counts["escapes"] += 1
        shown = ["%s: %s" % (what, "; ".join(made)) for what, made in calls]
        pytest.fail(
            "the host changed during %s: %s\ncalls into the simulated node that changed it:\n%s"
            % (where, "; ".join(unreported[:20]), "\n".join(shown[:20]) or "none (it changed between calls)"),
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def host_guard(request):
    """Fail the test when the host changed during it (or during the set-up of its fixtures) and no
    judged case reported it (see hostile.judge)."""
    HOST_REPORTED.clear()
    ACTIVE["tally"] = KNOWN if request.node.get_closest_marker("xfail") else TALLY
    workers = [request.getfixturevalue(name) for name in ("sim", "plugins") if name in request.fixturenames]
    before = host_signature()
    yield
    calls = [call for worker in workers for call in worker.take_host_log()]
    fail_on_unreported(request.node.nodeid, host_changes(before, host_signature()), calls)


def pytest_sessionfinish(session):
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["nexcage_security_tally"] = dict(TALLY.counts)
        output["nexcage_security_known"] = dict(KNOWN.counts)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    TALLY.add(getattr(node, "workeroutput", {}).get("nexcage_security_tally", {}))
    KNOWN.add(getattr(node, "workeroutput", {}).get("nexcage_security_known", {}))


def pytest_terminal_summary(terminalreporter):
    if TALLY.counts["cases"]:
        terminalreporter.write_sep("=", "nexcage hostile-input suite")
        terminalreporter.write_line(TALLY.line())
    if KNOWN.counts["cases"]:
        terminalreporter.write_line("known defects, handed over (tests marked xfail): " + KNOWN.line())
