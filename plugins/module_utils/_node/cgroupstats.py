# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runtime facts of a running container from its cgroup and /proc, no tool call. PRIVATE.

The figures are the ones Proxmox VE shows (PVE::CGroup get_memory_stat / get_cpu_stat
and PVE::LXC vmstatus): memory used is the usage minus the page cache, CPU time is user
and system time in milliseconds, uptime is the node's uptime minus the start time of the
container's init. PVE asks the LXC command socket for the cgroup directory; nexcage
looks in the directories PVE (``lxc/<vmid>``) and plain LXC (``lxc.payload.<vmid>``) use,
in the unified (v2) tree first, as LXC and PVE do.
"""

from __future__ import annotations

import os

from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths
from ansible_collections.cageforge.nexcage.plugins.module_utils._node.files import process_start, read_text

UNLIMITED_V1 = 1 << 62  # cgroup v1 prints about 2^63 rounded to the page size for "no limit"


def _cgroup_dirs(vmid, pid=None):
    """The cgroup directories (relative to a hierarchy's root) where CT vmid's figures may be.

    With the init pid, first the container's cgroup as /proc/<pid>/cgroup names it (the part up to
    lxc/<vmid> or lxc.payload.<vmid>): right whatever parent the node's LXC cgroups have.
    """
    names = ("lxc/%s" % vmid, "lxc.payload.%s" % vmid)
    found = []
    for line in (read_text("/proc/%d/cgroup" % pid) or "").splitlines() if pid else ():
        path = line.split(":", 2)[-1].strip("/")
        for name in names:
            index = ("/" + path + "/").find("/" + name + "/")
            if index >= 0:
                found.append(path[: index + len(name)])
    return tuple(dict.fromkeys(found)) + names


def _unified_root():
    """The cgroup v2 tree: /sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified on a hybrid one."""
    hybrid = os.path.join(paths.CGROUP_ROOT, "unified")
    return hybrid if os.path.isdir(hybrid) else paths.CGROUP_ROOT


def _find(vmid, v2_file, v1_controllers, v1_file, pid=None):
    """(directory, version) of the first cgroup of vmid holding the file, or (None, None)."""
    for name in _cgroup_dirs(vmid, pid):
        directory = os.path.join(_unified_root(), name)
        if os.path.isfile(os.path.join(directory, v2_file)):
            return directory, 2
    for controller in v1_controllers:
        for name in _cgroup_dirs(vmid, pid):
            directory = os.path.join(paths.CGROUP_ROOT, controller, name)
            if os.path.isfile(os.path.join(directory, v1_file)):
                return directory, 1
    return None, None


def flat_keyed(text):
    """A cgroup 'flat keyed' file ("key value" lines) as {key: int}; values that are not numbers are left out."""
    values = {}
    for line in (text or "").splitlines():
        key, _sep, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            values[key] = int(value)
    return values


def _number(directory, name):
    text = (read_text(os.path.join(directory, name)) or "").strip()
    return int(text) if text.isdigit() else None


def memory(vmid, pid=None):
    """{'used', 'swap_used', 'limit'} in bytes (limit None when unlimited), or None when not found."""
    directory, version = _find(vmid, "memory.current", ("memory",), "memory.usage_in_bytes", pid)
    if directory is None:
        return None
    stat = flat_keyed(read_text(os.path.join(directory, "memory.stat")))
    if version == 2:
        current = _number(directory, "memory.current") or 0
        limit_text = (read_text(os.path.join(directory, "memory.max")) or "").strip()
        return {
            "used": max(current - stat.get("file", 0), 0),
            "swap_used": _number(directory, "memory.swap.current"),
            "limit": int(limit_text) if limit_text.isdigit() else None,
        }
    usage = _number(directory, "memory.usage_in_bytes") or 0
    memsw = _number(directory, "memory.memsw.usage_in_bytes")
    limit = _number(directory, "memory.limit_in_bytes")
    return {
        "used": max(usage - stat.get("total_cache", 0), 0),
        "swap_used": max(memsw - usage, 0) if memsw is not None else None,
        "limit": limit if limit is not None and limit < UNLIMITED_V1 else None,
    }


def cpu(vmid, pid=None):
    """{'user_ms', 'system_ms', 'usage_ms'} of CPU time used, or None when not found."""
    directory, version = _find(vmid, "cpu.stat", ("cpuacct", "cpu,cpuacct", "cpu"), "cpuacct.stat", pid)
    if directory is None:
        return None
    if version == 2:
        stat = flat_keyed(read_text(os.path.join(directory, "cpu.stat")))
        if "usage_usec" not in stat:
            return None
        return {
            "user_ms": stat.get("user_usec", 0) // 1000,
            "system_ms": stat.get("system_usec", 0) // 1000,
            "usage_ms": stat["usage_usec"] // 1000,
        }
    ticks = os.sysconf("SC_CLK_TCK")
    stat = flat_keyed(read_text(os.path.join(directory, "cpuacct.stat")))
    user_ms = stat.get("user", 0) * 1000 // ticks
    system_ms = stat.get("system", 0) * 1000 // ticks
    usage_ns = _number(directory, "cpuacct.usage")
    return {
        "user_ms": user_ms,
        "system_ms": system_ms,
        "usage_ms": usage_ns // 1000000 if usage_ns is not None else user_ms + system_ms,
    }


def uptime(pid):
    """Seconds since the process pid started (PVE: node uptime minus the init's start time), or None."""
    start = process_start(pid)
    node_uptime = read_text("/proc/uptime")
    if start is None or not node_uptime:
        return None
    started = start // os.sysconf("SC_CLK_TCK")
    return max(int(float(node_uptime.split()[0])) - started, 0)
