"""Runs golden `pct` cases through the simulated pct, many cases in one process.

Started by test_pvesim_agrees.py as `pvesim run --root NODE -- python3 pvesim_runner.py`: reads
one case a line ({"id", "args", "files"}) on stdin, puts the files in place on the node (config
files also registered in the guest list), runs `pct ARGS` in this process with file descriptors
1 and 2 captured, and writes {"id", "rc", "stdout", "stderr", "files"} a line, where files are the
node's config files after the call (nodes/...).

Every case is a stopped CT: is_running() is false here whatever else runs on the machine.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pvesim"))

from pvesim import cli, node  # noqa: E402
from pvesim.tools import pct  # noqa: E402

NODES = os.path.join(node.ETC_PVE, "nodes")
# The corpus's storages live below this directory (tests/golden/cases.py STORAGE_CFG): on a tmpfs
# in this private mount namespace, emptied before every case.
STORAGE_ROOT = "/var/tmp/nexcage-golden"
VOLSIZES = "/var/lib/pvesim/volsizes.json"


def on_tmpfs(path):
    """The node's directory again, on a tmpfs (thousands of small writes per run)."""
    keep = tempfile.mkdtemp()
    shutil.copytree(path, os.path.join(keep, "d"), symlinks=True)
    subprocess.run(["mount", "-t", "tmpfs", "golden-node", path], check=True)
    shutil.copytree(os.path.join(keep, "d"), path, symlinks=True, dirs_exist_ok=True)
    shutil.rmtree(keep)


def reset(files):
    for name in os.listdir(STORAGE_ROOT):
        shutil.rmtree(os.path.join(STORAGE_ROOT, name), ignore_errors=True)
    for name in ("vz", "iso"):  # the storages' directories (PVE creates them on activation)
        os.makedirs(os.path.join(STORAGE_ROOT, name))
    if os.path.exists(VOLSIZES):
        os.unlink(VOLSIZES)
    shutil.rmtree(NODES, ignore_errors=True)
    for sub in ("lxc", "qemu-server"):
        os.makedirs(os.path.join(NODES, node.node_name(), sub), exist_ok=True)
    node.write_empty_vmlist()
    for rel, content in sorted(files.items()):
        path = os.path.join(node.ETC_PVE, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(content)
        parts = rel.split("/")
        if len(parts) == 4 and parts[0] == "nodes" and parts[2] == "lxc" and parts[3].endswith(".conf"):
            node.register_guest(int(parts[3][:-5]), "lxc", parts[1])


def node_files():
    out = {}
    for dirpath, _dirs, names in os.walk(NODES):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
                out[os.path.relpath(path, node.ETC_PVE)] = f.read()
    return out


def run_captured(args):
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            rc = cli.run_tool("pct", args, pct.main)
        except BaseException:  # a simulator bug: report it as the case's output
            sys.stderr.write(traceback.format_exc())
            rc = "exception"
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        out.seek(0)
        err.seek(0)
        return rc, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")


def main():
    pct.is_running = lambda vmid: False
    # A tmpfs over its parent: the host's directory of that name may come and go (make golden).
    subprocess.run(["mount", "-t", "tmpfs", "golden-storage", os.path.dirname(STORAGE_ROOT)], check=True)
    os.makedirs(STORAGE_ROOT)
    for path in (node.ETC_PVE, node.SIM_STATE, node.LOCK_DIR):
        on_tmpfs(path)
    results = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # stray output between cases must not reach the result stream
    for line in sys.stdin:
        case = json.loads(line)
        reset(case["files"])
        rc, out, err = run_captured(case["args"])
        res = {"id": case["id"], "rc": rc, "stdout": out, "stderr": err, "files": node_files()}
        results.write(json.dumps(res) + "\n")
        results.flush()


if __name__ == "__main__":
    main()
