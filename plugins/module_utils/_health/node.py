# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""NodeView: what the health checks read from the node, through _node and the Runner. PRIVATE.

One instance per module run (it caches); unit tests hand in a view of a made-up node.
"""

from __future__ import annotations

import os
import re

from ansible_collections.cageforge.nexcage.plugins.module_utils import _errors, _runner
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import entries, files, paths, readers
from ansible_collections.cageforge.nexcage.plugins.module_utils._pveconfig import parse_config, parse_vmlist
from ansible_collections.cageforge.nexcage.plugins.module_utils._pvestorage import parse_storage_cfg


class NodeView:
    """What the checks read from the node; one instance per module run (it caches)."""

    def __init__(self, runner, which):
        self.runner = runner
        self.which = which
        self._cache = {}

    # files
    def read(self, path):
        try:
            return files.read_text(path)
        except OSError:
            return None

    def listdir(self, path):
        return entries.names(path)

    def exists(self, path):
        return entries.exists(path)

    def isdir(self, path):
        return entries.is_dir(path)

    def writable(self, path):
        """Writable for us: access(2) and the filesystem not mounted read-only."""
        return entries.writable(path)

    def lock_held(self, path):
        """Whether another process holds the flock on path (PVE's config lock)."""
        return files.is_locked(path)

    def processes(self):
        """[(pid, argv)] of every process but this one."""
        if "processes" not in self._cache:
            procs = []
            me = os.getpid()
            for entry in self.listdir("/proc"):
                if not entry.isdigit() or int(entry) == me:
                    continue
                try:
                    raw = files.read_bytes("/proc/%s/cmdline" % entry, b"")
                except OSError:
                    continue
                argv = [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]
                if argv:
                    procs.append((int(entry), argv))
            self._cache["processes"] = procs
        return self._cache["processes"]

    def cgroup_processes(self, path):
        """How many processes are in the cgroup path and the cgroups below it."""
        return entries.cgroup_process_count(path)

    def remove_cgroup(self, path):
        """rmdir a cgroup directory and the cgroups below it, deepest first; the ones left (busy)."""
        return entries.remove_cgroup(path)

    def remove_runtime_dir(self, path):
        """Remove path and what is in it, never crossing into another filesystem; the paths left behind."""
        return files.remove_tree(path)

    # commands
    def run(self, argv, mutating=False):
        return self.runner.run(argv, mutating=mutating)

    # PVE things, read once
    def node_name(self):
        if "node" not in self._cache:
            self._cache["node"] = readers.local_node()
        return self._cache["node"]

    def local_cts(self):
        """{vmid(str): parsed config} of this node's containers."""
        if "cts" not in self._cache:
            cts = {}
            conf_dir = os.path.join(paths.NODES_DIR, self.node_name(), "lxc")
            for entry in self.listdir(conf_dir):
                vmid = paths.conf_vmid(entry)
                if vmid is None:
                    continue
                text = self.read(os.path.join(conf_dir, entry))
                if text is not None:
                    cts[str(vmid)] = parse_config(text)
            self._cache["cts"] = cts
        return self._cache["cts"]

    def vmlist(self):
        """{vmid(int): {'node', 'type'}} of /etc/pve/.vmlist ({} when missing or broken)."""
        if "vmlist" not in self._cache:
            try:
                self._cache["vmlist"] = parse_vmlist(self.read(paths.VMLIST) or "{}")
            except ValueError:
                self._cache["vmlist"] = {}
        return self._cache["vmlist"]

    def guest_config_text(self, vmid, nodename, kind):
        """The config text of guest vmid on nodename (kind lxc or qemu), or None."""
        sub = "lxc" if kind == "lxc" else "qemu-server"
        return self.read(os.path.join(paths.NODES_DIR, nodename or self.node_name(), sub, "%s.conf" % vmid))

    def zfs_children(self, dataset):
        """The datasets and zvols directly below dataset (`zfs list -d 1`); None when zfs cannot list it."""
        key = "zfs:" + dataset
        if key not in self._cache:
            argv = _runner.zfs("list", "-H", "-o", "name", "-t", "filesystem,volume", "-d", "1", dataset)
            res = self.runner.run(argv, check=False)
            names = res.stdout.split("\n") if res.rc == 0 else None
            self._cache[key] = None if names is None else [name for name in names if name.startswith(dataset + "/")]
        return self._cache[key]

    def storages(self):
        if "storages" not in self._cache:
            self._cache["storages"] = parse_storage_cfg(self.read(paths.STORAGE_CFG) or "")
        return self._cache["storages"]

    def mountinfo(self):
        """[(mount point, fstype, per-mount options, super options)] from /proc/self/mountinfo."""
        if "mountinfo" not in self._cache:
            mounts = []
            for line in (self.read(paths.PROC_MOUNTINFO) or "").splitlines():
                left, sep, right = line.partition(" - ")
                fields = left.split()
                if not sep or len(fields) < 6:
                    continue
                point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
                tail = right.split()
                mounts.append(
                    (
                        point,
                        tail[0] if tail else "",
                        fields[5].split(","),
                        tail[2].split(",") if len(tail) > 2 else [],
                    )
                )
            self._cache["mountinfo"] = mounts
        return self._cache["mountinfo"]

    def pvesm_status(self):
        """(rows, stderr) of `pvesm status`; raises CommandFailed."""
        if "pvesm" not in self._cache:
            res = self.run(_runner.pvesm("status"))
            self._cache["pvesm"] = (parse_pvesm_status(res.stdout), res.stderr)
        return self._cache["pvesm"]


def mount_at(node, point):
    """The last mount on point (the one that is visible), or None."""
    found = None
    for mount in node.mountinfo():
        if mount[0] == point:
            found = mount
    return found


def parse_pvesm_status(text):
    """`pvesm status` -> [{name, type, status, total, used, available}] (KiB integers)."""
    rows = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 6:
            continue
        try:
            total, used, avail = (int(x) for x in parts[3:6])
        except ValueError:
            continue
        rows.append(dict(name=parts[0], type=parts[1], status=parts[2], total=total, used=used, available=avail))
    return rows


def command_error(exc):
    return _errors.error_from_result(exc.result).message
