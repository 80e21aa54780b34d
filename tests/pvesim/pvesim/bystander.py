"""A bystander: a simulated node that runs a container while something else uses the machine.

Each simulated node is its own world (network and PID namespaces, cgroup parent, /var/lib/lxc):
what the tests do on their nodes must not touch another node's CT 100, and what another node
runs must not change the tests' results. tests/conftest.py starts a bystander for a whole test
session and scripts/soak.py for many sessions in a row; at the end each checks that the
bystander's CT ran throughout: still running, the same init process, the same config.

The container is made as the tests make theirs (the busybox template, rootfs on local-zfs,
`--ostype unmanaged`), with a NIC on vmbr0 and a bind mount from the node's /srv, so its
`veth<vmid>i0`, LXC socket, cgroups and mounts are there to collide with.

Used from outside any node (it calls `pvesim` like a user does); stdlib only.
"""

import os
import shutil
import subprocess

from pvesim import namespace, node
from pvesim.setup import BUSYBOX_VOLID

PVESIM = os.path.join(namespace.BIN_DIR, "pvesim")
VMID = 100
STEP_TIMEOUT = 180


class BystanderError(Exception):
    """A step failed; the message names it and what the command printed."""


class Bystander:
    """A node at root (made by start(), removed by stop()) running CT vmid."""

    def __init__(self, root, vmid=VMID):
        self.root = os.path.realpath(root)
        self.vmid = str(vmid)
        self.init_pid = None
        self.config = None

    def _call(self, what, argv, timeout=STEP_TIMEOUT):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise BystanderError("bystander: %s: no answer within %d s" % (what, timeout)) from None
        if p.returncode != 0:
            raise BystanderError(
                "bystander: %s failed (exit %d): %s" % (what, p.returncode, (p.stderr or p.stdout).strip())
            )
        return p.stdout

    def _in_node(self, what, *argv, timeout=STEP_TIMEOUT):
        return self._call(what, [PVESIM, "run", "--root", self.root, "--", *argv], timeout=timeout)

    def _conf_path(self):
        return os.path.join(self.root, "etc/pve/nodes/pve/lxc/%s.conf" % self.vmid)

    def _read_conf(self):
        try:
            with open(self._conf_path(), encoding="utf-8") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def start(self):
        """Make a fresh node at root and start CT vmid there. Raises BystanderError."""
        self._call("pvesim init", [PVESIM, "init", self.root])
        os.makedirs(os.path.join(self.root, "srv/bystander"))
        self._in_node(
            "pct create %s" % self.vmid,
            "pct",
            "create",
            self.vmid,
            BUSYBOX_VOLID,
            "--rootfs",
            "local-zfs:1",
            "--ostype",
            "unmanaged",
            "--hostname",
            "bystander",
            "--net0",
            "name=eth0,bridge=vmbr0",
            "--mp0",
            "/srv/bystander,mp=/shared",
        )
        self._in_node("pct start %s" % self.vmid, "pct", "start", self.vmid)
        self.init_pid = self.current_init_pid()
        self.config = self._read_conf()
        if self.init_pid is None:
            raise BystanderError("bystander: CT %s does not run after pct start" % self.vmid)

    def running(self):
        """PVE's check from outside: the LXC command socket in the node's network namespace."""
        return ("@/var/lib/lxc/%s/command\n" % self.vmid) in namespace.proc_net_unix(self.root)

    def current_init_pid(self):
        """The CT's init pid (in the node's PID namespace), or None when it does not run."""
        if not self.running():
            return None
        try:
            out = self._in_node("lxc-info", "lxc-info", "-n", self.vmid, "-p", "-H", timeout=60).strip()
        except BystanderError:
            return None
        return int(out) if out.isdigit() else None

    def problem(self):
        """None if CT vmid ran throughout since start(); else what is wrong."""
        if not self.running():
            return "bystander: CT %s of %s no longer runs" % (self.vmid, self.root)
        pid = self.current_init_pid()
        if pid != self.init_pid:
            return "bystander: CT %s of %s was restarted (init pid %s, was %s)" % (
                self.vmid,
                self.root,
                pid,
                self.init_pid,
            )
        if self._read_conf() != self.config:
            return "bystander: the config of CT %s of %s changed" % (self.vmid, self.root)
        return None

    def describe(self):
        return "node %s, CT %s (init pid %s in the node)" % (self.root, self.vmid, self.init_pid)

    def stop(self):
        """Stop and destroy the CT, then remove the node (its keeper ends what might still run)."""
        if os.path.isdir(os.path.join(self.root, node.SIM_STATE.lstrip("/"))):
            for argv in (["pct", "stop", self.vmid], ["pct", "destroy", self.vmid, "--force", "1"]):
                try:
                    self._in_node(" ".join(argv), *argv, timeout=120)
                except BystanderError:
                    pass  # the node is removed below whatever state the CT is in
        shutil.rmtree(self.root, ignore_errors=True)
