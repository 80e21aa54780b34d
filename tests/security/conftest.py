"""Fixtures of the hostile-input suite.

- ``sim``: one simulated node for the session and one long-lived worker process inside it
  (``pvesim run``) that executes the modules in-process, case after case (worker.py).
- ``host_guard``: a before/after signature of the host's /etc, /usr, /var/lib (top levels) and /,
  taken around the whole session; any difference is counted as an escape.

The totals line (``N cases, 0 tracebacks, 0 injections, 0 escapes``) is printed at the end of the
session, summed over xdist workers.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
from hostile import TALLY
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
    seen = {}
    for top in HOST_TREES:
        try:
            names = os.listdir(top)
        except OSError:
            continue
        for name in names:
            path = os.path.join(top, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            seen[path] = (info.st_mode >> 12, info.st_ino)
    return seen


class Worker:
    """A module runner inside the simulated node (see worker.py)."""

    def __init__(self, root, work):
        self.root = root
        self.work = work
        env = dict(os.environ, PYTHONPATH=COLLECTIONS, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
        env.pop("PVESIM_LATENCY_MS", None)
        self.proc = subprocess.Popen(
            [PVESIM, "run", "--root", root, "--", sys.executable, WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def request(self, request):
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("the module worker died (rc %s)" % self.proc.poll())
        return json.loads(line)

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

    def node_path(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def read(self, path):
        try:
            with open(self.node_path(path), encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def sh(self, *argv):
        return subprocess.run(
            [PVESIM, "run", "--root", self.root, "--"] + [str(a) for a in argv],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def playbook(self, path, *extra):
        """ansible-playbook on the node (localhost, local connection); the CompletedProcess."""
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, PYTHONPATH=COLLECTIONS)
        env.setdefault("ANSIBLE_CONFIG", os.path.join(TOP, "ansible.cfg"))
        env.pop("PVESIM_LATENCY_MS", None)
        argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local"]
        argv += ["-e", "ansible_python_interpreter=%s" % sys.executable, path] + list(extra)
        return subprocess.run(
            [PVESIM, "run", "--root", self.root, "--"] + argv,
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            check=False,
        )

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
    shutil.rmtree(str(base), ignore_errors=True)


@pytest.fixture(scope="session")
def scene(sim, tmp_path_factory):
    """A container to update, a free VMID, bundles (see cases.Scene)."""
    made = Scene(sim, str(tmp_path_factory.mktemp("secscene")))
    yield made
    made.teardown()


@pytest.fixture(scope="session", autouse=True)
def host_guard():
    before = host_signature()
    yield
    after = host_signature()
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    if changed:
        TALLY.counts["escapes"] += len(changed)
        print("\nhost paths changed during the hostile-input suite: %s" % changed[:20])


def pytest_sessionfinish(session):
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["nexcage_security_tally"] = dict(TALLY.counts)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    TALLY.add(getattr(node, "workeroutput", {}).get("nexcage_security_tally", {}))


def pytest_terminal_summary(terminalreporter):
    if TALLY.counts["cases"]:
        terminalreporter.write_sep("=", "nexcage hostile-input suite")
        terminalreporter.write_line(TALLY.line())
