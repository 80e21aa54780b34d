"""Shared fixtures for integration tests against a simulated Proxmox VE node.

Fixtures
- ``node``: a fresh simulated node per test MODULE (``pvesim init``), as a ``Node``.
- ``fresh_node``: a fresh node per TEST, for tests that need a clean guest list.
- ``new_vmid``: a factory of plain VMIDs for one test (100, 101, ...). Each node is its own
  world (its own network and PID namespaces, cgroup parent and /var/lib/lxc): running state,
  LXC sockets, cgroups and the processes a check scans are per node, so any VMID works on a
  fresh node whatever other nodes on the machine run.

``Node`` helpers (all commands run inside ``pvesim run --root <node> --``)
- ``run_task(module, args, check=False, diff=False, env=None)``: run one module
  the way Ansible runs it (``python <module>.py <args.json>``) and return its
  parsed JSON result. Fast (no ansible-playbook start-up); the module name may
  be short (``nexcage_container``) or the FQCN.
- ``run_play(module, args, check=False, diff=False, env=None)``: the same task
  through a real ``ansible-playbook`` single-task play; returns the task result
  (read with the ``ansible.builtin.tree`` callback).
- ``run_playbook(path, extra_args=(), env=None, timeout=...)``: run a playbook
  file; returns the ``CompletedProcess``.
- ``sh(*argv)``: any command (the simulated ``pct``, ``pvesm``...), a CompletedProcess.
- ``path(p)``: the host path of the node's ``p``; ``read(p)`` / ``write(p, text)`` / ``exists(p)``.
- ``calls()``: the simulated-tool call log (``pvesim calls --json``); ``clear_calls()``.
- ``fault(match, stderr=None, rc=None, hang=None, times=None)`` / ``clear_faults()``.
- ``seed_vm(vmid)``: register a QEMU VM (``pvesim seed-vm``).
"""

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

# The test modules import this file's names as `integration_conftest`: the plain name `conftest`
# belongs to whichever conftest.py pytest loaded last (tests/conftest.py, tests/security/...).
sys.modules["integration_conftest"] = sys.modules[__name__]

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PVESIM = os.path.join(TOP, "tests", "pvesim", "bin", "pvesim")
COLLECTIONS = os.path.join(TOP, "build", "collections")
MODULES = os.path.join(TOP, "plugins", "modules")
VENV_BIN = os.path.dirname(sys.executable)
ANSIBLE_PLAYBOOK = os.path.join(VENV_BIN, "ansible-playbook")
TEMPLATE = "local:vztmpl/busybox-1.35_amd64.tar.zst"
# The module most tests run, and the options every container of theirs shares (extend with dict(BASE, ...)).
MOD = "nexcage_container"
BASE = {"image": TEMPLATE, "ostype": "unmanaged", "rootfs": {"storage": "local-zfs", "size": 1}}

_counter = itertools.count()

# Runs inside the node's namespace: executes the module file once per spec, in-process,
# capturing its JSON output and the simulated-tool calls it made.
_DRIVER = r"""
import contextlib, io, json, runpy, sys, time
from ansible.module_utils import basic

CALLS = "/var/lib/pvesim/calls.jsonl"


def calls():
    try:
        with open(CALLS, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


spec = json.load(open(sys.argv[1], encoding="utf-8"))
results = []
for args in spec["runs"]:
    basic._ANSIBLE_ARGS = json.dumps(args).encode()
    basic._ANSIBLE_PROFILE = "legacy"
    before = len(calls())
    out = io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(out):
        try:
            runpy.run_path(spec["module"], run_name="__main__")
        except SystemExit:
            pass
    text = out.getvalue().strip()
    try:
        result = json.loads(text[text.index("{"):])
    except ValueError:
        result = {"failed": True, "msg": "no JSON from module", "_raw": text}
    result["_elapsed"] = time.monotonic() - started
    result["_calls"] = calls()[before:]
    results.append(result)
print(json.dumps(results))
"""


def _short(module):
    return module.rsplit(".", 1)[-1]


class Node:
    def __init__(self, root):
        self.root = str(root)
        self.work = tempfile.mkdtemp(prefix="nexcage-it-", dir=os.path.dirname(self.root))

    # -- commands inside the node
    def sh(self, *argv, env=None, timeout=120, input=None):
        return subprocess.run(
            [PVESIM, "run", "--root", self.root, "--"] + [str(a) for a in argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            input=input,
            check=False,
        )

    def _env(self, env):
        base = dict(os.environ)
        base["PYTHONPATH"] = COLLECTIONS
        base["ANSIBLE_COLLECTIONS_PATH"] = COLLECTIONS
        base.pop("PVESIM_LATENCY_MS", None)
        if env:
            base.update(env)
        return base

    def run_task(self, module, args, check=False, diff=False, env=None, timeout=300):
        """Run one module inside the node as Ansible would; return its parsed JSON result.

        The result also carries ``_calls`` (the simulated-tool calls made during the
        task) and ``_stderr``.
        """
        return self.run_tasks(module, [(args, check, diff)], env=env, timeout=timeout)[0]

    def run_tasks(self, module, runs, env=None, timeout=600):
        """Run the module several times in ONE ``pvesim run`` (one Python process, the module
        executed as ``__main__`` per run with fresh arguments), in order.

        runs: list of (args, check, diff). Returns one result per run, each with ``_calls`` and
        ``_elapsed`` (seconds the module itself took, without process start-up).
        Much faster than one process per run; each run still goes through AnsibleModule.
        """
        path = os.path.join(MODULES, _short(module) + ".py")
        specs = [
            {"ANSIBLE_MODULE_ARGS": dict(a, _ansible_check_mode=c, _ansible_diff=d, _ansible_tmpdir=self.work)}
            for a, c, d in runs
        ]
        specfile = os.path.join(self.work, "runs-%d-%d.json" % (os.getpid(), next(_counter)))
        with open(specfile, "w", encoding="utf-8") as f:
            json.dump({"module": path, "runs": specs}, f)
        driver = os.path.join(self.work, "driver.py")
        if not os.path.exists(driver):
            with open(driver, "w", encoding="utf-8") as f:
                f.write(_DRIVER)
        proc = self.sh(sys.executable, driver, specfile, env=self._env(env), timeout=timeout)
        os.unlink(specfile)
        try:
            results = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AssertionError(
                "module printed no JSON (rc %s):\nstdout: %s\nstderr: %s" % (proc.returncode, proc.stdout, proc.stderr)
            ) from None
        for result in results:
            result["_stderr"] = proc.stderr
        return results

    def run_play(self, module, args, check=False, diff=False, env=None, timeout=300):
        """The same task through ansible-playbook (single-task play); returns the task result."""
        fqcn = module if "." in module else "cageforge.nexcage." + module
        tree = tempfile.mkdtemp(prefix="tree-", dir=self.work)
        play = os.path.join(tree, "play.yml")
        with open(play, "w", encoding="utf-8") as f:
            json.dump([{"hosts": "localhost", "gather_facts": False, "tasks": [{fqcn: args}]}], f)
        extra = ["--check"] if check else []
        extra += ["--diff"] if diff else []
        environ = {"ANSIBLE_CALLBACKS_ENABLED": "ansible.builtin.tree", "ANSIBLE_CALLBACK_TREE_DIR": tree}
        environ.update(env or {})
        proc = self.run_playbook(play, extra, env=environ, timeout=timeout)
        try:
            with open(os.path.join(tree, "localhost"), encoding="utf-8") as f:
                result = json.load(f)
        except (OSError, ValueError):
            raise AssertionError(
                "no task result (rc %s): %s %s" % (proc.returncode, proc.stdout, proc.stderr)
            ) from None
        finally:
            shutil.rmtree(tree, ignore_errors=True)
        result["_stdout"] = proc.stdout
        return result

    def run_playbook(self, path, extra_args=(), env=None, timeout=600):
        environ = self._env(env)
        environ.setdefault("ANSIBLE_CONFIG", os.path.join(TOP, "ansible.cfg"))
        argv = [
            ANSIBLE_PLAYBOOK,
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            "ansible_python_interpreter=%s" % sys.executable,
            str(path),
        ] + list(extra_args)
        return self.sh(*argv, env=environ, timeout=timeout)

    # -- files of the node
    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def read(self, p):
        with open(self.path(p), encoding="utf-8") as f:
            return f.read()

    def write(self, p, text):
        full = self.path(p)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(text)

    def exists(self, p):
        return os.path.lexists(self.path(p))

    def conf(self, vmid):
        """The container's config text, or None."""
        return self.read("/etc/pve/lxc/%s.conf" % vmid) if self.exists("/etc/pve/lxc/%s.conf" % vmid) else None

    # -- simulator controls
    def calls(self):
        proc = subprocess.run(
            [PVESIM, "calls", "--root", self.root, "--json"], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout or "[]")

    def clear_calls(self):
        log = self.path("/var/lib/pvesim/calls.jsonl")
        if os.path.exists(log):
            open(log, "w").close()

    def fault(self, match, stderr=None, rc=None, hang=None, times=None):
        argv = [PVESIM, "fault", "--root", self.root, "add", "--match", match]
        for flag, value in (("--stderr", stderr), ("--rc", rc), ("--hang", hang), ("--times", times)):
            if value is not None:
                argv += [flag, str(value)]
        subprocess.run(argv, check=True, capture_output=True)

    def clear_faults(self):
        subprocess.run([PVESIM, "fault", "--root", self.root, "clear"], check=True, capture_output=True)

    def seed_vm(self, vmid):
        proc = subprocess.run(
            [PVESIM, "seed-vm", "--root", self.root, str(vmid)], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, proc.stderr


def make_node(base):
    root = os.path.join(str(base), "node")
    proc = subprocess.run([PVESIM, "init", root], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return Node(root)


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A fresh simulated node shared by the tests of one module."""
    return make_node(tmp_path_factory.mktemp("pvenode"))


@pytest.fixture
def fresh_node(tmp_path):
    """A fresh simulated node for one test."""
    return make_node(tmp_path)


@pytest.fixture
def new_vmid():
    """Factory of plain VMIDs for one test: 100, 101, ... (see the module docstring)."""
    counter = itertools.count(100)
    return lambda: next(counter)


@pytest.fixture
def ct(fresh_node, new_vmid):
    """A VMID on a fresh node; the container is stopped and destroyed afterwards, whatever happened."""
    vmid = new_vmid()
    yield fresh_node, vmid
    fresh_node.sh("pct", "stop", vmid, timeout=60)
    fresh_node.sh("pct", "destroy", vmid, "--force", "1", timeout=60)


def lxc_available():
    return shutil.which("lxc-start") is not None and os.geteuid() == 0


def pytest_collection_modifyitems(items):
    """Long tests first, for the whole run: test modules with a `slow` test, then those with a
    `real_lxc` test, then the rest, each kept whole and in collection order (module fixtures are
    made as often as before). Under `-n 2 --dist worksteal` (pyproject.toml), a worker runs its tests
    from the front and an idle worker steals from the back of the other's queue, so the long tests
    start at once and the short ones even out the end: no worker waits alone on a long test."""
    rank = {}
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        mark = 0 if item.get_closest_marker("slow") else 1 if item.get_closest_marker("real_lxc") else 2
        rank[module] = min(rank.get(module, 2), mark)
    order = {id(item): index for index, item in enumerate(items)}
    items.sort(key=lambda item: (rank[item.nodeid.split("::", 1)[0]], order[id(item)]))


def pytest_terminal_summary(terminalreporter):
    """The fault matrix's totals (test_fault_matrix.py records one JSON per part), also under xdist."""
    parts = []
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            parts += [
                json.loads(value) for name, value in getattr(report, "user_properties", ()) if name == "fault_matrix"
            ]
    if not parts:
        return
    total = {
        key: sum(p[key] for p in parts) for key in ("cells", "phases", "failed", "killed", "consistent", "seconds")
    }
    commands = sorted({c for p in parts for c in p["commands"]})
    terminalreporter.write_line(
        "fault matrix: %d cells over %d commands (%s); %d at a phase; %d failed, %d killed: %d consistent and "
        "converging, %d not; %d s in the modules"
        % (
            total["cells"],
            len(commands),
            ", ".join(commands),
            total["phases"],
            total["failed"],
            total["killed"],
            total["consistent"],
            total["cells"] - total["consistent"],
            total["seconds"],
        )
    )
    for part in parts:
        for skipped in part["skipped"]:
            terminalreporter.write_line("fault matrix [%s]: not run: %s" % (part["part"], skipped))


def ok(result):
    """A module result that did not fail and printed no traceback (the message shown when it did)."""
    assert not result.get("failed"), result.get("msg")
    assert "Traceback" not in result.get("_stderr", "")
    return result
