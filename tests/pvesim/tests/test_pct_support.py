"""Helpers for the pct contract tests: a fresh simulated node and a way to run commands in it.

(Holds no tests itself; the test_pct_* files import it.)
"""

import contextlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
PVESIM = os.path.join(os.path.dirname(HERE), "bin", "pvesim")
BUSYBOX = "local:vztmpl/busybox-1.35_amd64.tar.zst"
DEBIAN = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
MAC_RE = r"BC:24:11(:[0-9A-F]{2}){3}"
TOTALS_RE = r"Total bytes read: \d+ \([^)]*\)\n"


@dataclass
class Result:
    rc: int
    out: str
    err: str


class Node:
    """A node made by `pvesim init`, commands run through `pvesim run`."""

    def __init__(self, root):
        self.root = root

    @classmethod
    def init(cls, tmp_path):
        root = str(tmp_path / "node")
        subprocess.run([PVESIM, "init", root], check=True, capture_output=True)
        node = cls(root)
        node.add_template(DEBIAN)
        return node

    def run(self, *argv, stdin=None, timeout=60, sim=False):
        """Run argv in the node; sim=True uses the runtime's simulated mode (no LXC)."""
        env = dict(os.environ, PVESIM_RUNTIME="sim") if sim else None
        p = subprocess.run(
            [PVESIM, "run", "--root", self.root, "--"] + list(argv),
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

    def popen(self, *argv, text=False):
        return subprocess.Popen(
            [PVESIM, "run", "--root", self.root, "--"] + list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=text,
        )

    def path(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def conf_path(self, vmid):
        return self.path("/etc/pve/nodes/pve/lxc/%s.conf" % vmid)

    def conf(self, vmid):
        with open(self.conf_path(vmid), encoding="utf-8") as f:
            return f.read()

    def write_conf(self, vmid, text, register=True):
        """Put a config file in place (and in .vmlist), as an admin editing it would."""
        with open(self.conf_path(vmid), "w", encoding="utf-8") as f:
            f.write(text)
        if register:
            state_path = self.path("/var/lib/pvesim/vmlist.json")
            with open(state_path, encoding="utf-8") as f:
                state = json.load(f)
            state["version"] += 1
            state["ids"][str(vmid)] = {"node": "pve", "type": "lxc", "version": state["version"]}
            with open(state_path, "w", encoding="utf-8") as f:
                json.dump(state, f)

    def vmlist(self):
        with open(self.path("/var/lib/pvesim/vmlist.json"), encoding="utf-8") as f:
            return json.load(f)["ids"]

    def add_template(self, volid):
        """Put a catalogue template into local's template cache (what `pveam download` does)."""
        name = volid.split("/", 1)[1]
        target = self.path("/var/lib/vz/template/cache/" + name)
        if not os.path.exists(target):
            shutil.copyfile(self.path("/var/lib/pvesim/catalogue/system/" + name), target)

    def create(self, vmid, *extra, template=BUSYBOX):
        self.add_template(template)
        args = ["create", str(vmid), template, "--rootfs", "local-zfs:1"]
        if "--ostype" not in extra and template == BUSYBOX:
            args += ["--ostype", "unmanaged"]
        r = self.pct(*args, *extra)
        assert r.rc == 0, r
        return r

    def datasets(self):
        with open(self.path("/var/lib/pvesim/zfs.json"), encoding="utf-8") as f:
            db = json.load(f)
        names = db.get("datasets", db)
        return sorted(n for n in names if isinstance(n, str) and n.startswith("rpool/data/"))


@contextlib.contextmanager
def fake_running(node, vmid):
    """Make CT <vmid> look running on node the way PVE checks it: a listening abstract socket
    `@/var/lib/lxc/<vmid>/command` in the node's /proc/net/unix (its network namespace), held
    by a process inside the node for the duration of the block."""
    code = (
        "import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind('\\0/var/lib/lxc/%s/command'); "
        "s.listen(1); print('ready', flush=True); sys.stdin.read()" % vmid
    )
    holder = subprocess.Popen(
        [PVESIM, "run", "--root", node.root, "--", "/usr/bin/python3", "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "ready\n"
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def conf_matches(pattern, text):
    return re.fullmatch(pattern, text) is not None
