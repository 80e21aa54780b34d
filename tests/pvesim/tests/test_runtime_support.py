"""Helpers for the runtime and namespace tests: a node, commands in it, VMIDs for real containers.

(Holds no tests itself; the test_runtime_* files and test_namespace.py import it.)
"""

import itertools
import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PVESIM_DIR = os.path.dirname(HERE)
PVESIM = os.path.join(PVESIM_DIR, "bin", "pvesim")
SYSTEM_PYTHON = "/usr/bin/python3"
BUSYBOX = "local:vztmpl/busybox-1.35_amd64.tar.zst"

if PVESIM_DIR not in sys.path:
    sys.path.insert(0, PVESIM_DIR)

from pvesim import namespace, runtime  # noqa: E402
from pvesim.node import node_id  # noqa: E402

real_lxc = pytest.mark.skipif(
    not runtime.lxc_available(), reason="LXC is missing (lxc-start not on PATH) or not running as root"
)

# Runs one pvesim.runtime function inside the node's namespace; prints its JSON result last.
DRIVER = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from pvesim import cli, runtime
fn, args = sys.argv[2], json.loads(sys.argv[3])
try:
    result = getattr(runtime, fn)(*args)
except (cli.TaskFailed, cli.PveError) as e:
    sys.stdout.flush()
    print("\n" + json.dumps({"error": type(e).__name__, "message": e.message}))
    sys.exit(1)
sys.stdout.flush()
print("\n" + json.dumps({"result": result}))
"""


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def value(self):
        """The JSON object the driver printed last."""
        return json.loads(self.out.rstrip("\n").rsplit("\n", 1)[-1])


class Node:
    """A node made by `pvesim init`; commands run through `pvesim run`."""

    def __init__(self, root):
        self.root = root

    @classmethod
    def init(cls, path):
        root = str(path)
        subprocess.run([PVESIM, "init", root], check=True, capture_output=True)
        return cls(root)

    def run(self, *argv, stdin=None, timeout=90, env=None):
        env = dict(os.environ, **(env or {}))
        if os.path.exists(SYSTEM_PYTHON):
            # The launchers run `python3`; a pyenv shim first on PATH costs ~0.5 s per call.
            env["PATH"] = os.path.dirname(SYSTEM_PYTHON) + os.pathsep + env.get("PATH", "")
        p = subprocess.run(
            [PVESIM, "run", "--root", self.root, "--"] + [str(a) for a in argv],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
        return Result(p.returncode, p.stdout, p.stderr)

    def pct(self, *args, **kw):
        return self.run("pct", *args, **kw)

    def rt(self, fn, *args, env=None):
        """Call pvesim.runtime.<fn>(*args) inside the node."""
        python = SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else sys.executable
        return self.run(python, "-c", DRIVER, PVESIM_DIR, fn, json.dumps(list(args)), env=env)

    def path(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def running(self, vmid):
        """PVE's check, from outside: the LXC command socket in the node's network namespace."""
        return ("@/var/lib/lxc/%s/command\n" % vmid) in namespace.proc_net_unix(self.root)

    def leftover_cgroups(self, vmid):
        return runtime.leftover_cgroups(vmid, "pvesim-%s" % node_id(self.root))


_counter = itertools.count()


def fresh_vmid():
    """The next VMID of this test process (100, 101, ...): distinct on a node shared by the tests
    of a module; other nodes, whatever they run, do not matter (each node is its own world)."""
    return 100 + next(_counter)


def host_mounts_mentioning(text):
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return [line for line in f if text in line]


def node_template(node):
    return node.path("/var/lib/vz/template/cache/busybox-1.35_amd64.tar.zst")


def make_rootfs(node, path, unprivileged=True):
    os.makedirs(path)
    subprocess.run(["tar", "--zstd", "-xpf", node_template(node), "-C", path], check=True)
    if unprivileged:
        subprocess.run(["chown", "-R", "-h", "100000:100000", path], check=True)
    return path


class Guests:
    """Tracks the CTs a test starts and always removes them (pct destroy, then the runtime's own cleanup)."""

    def __init__(self):
        self.items = []

    def add(self, node, vmid):
        self.items.append((node, vmid))
        return vmid

    def cleanup(self):
        for node, vmid in self.items:
            r = node.pct("destroy", vmid, "--force", timeout=60)
            if r.rc != 0 or node.running(vmid) or os.path.exists(node.path("/var/lib/lxc/%s" % vmid)):
                node.rt("destroy_runtime", str(vmid))
