# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""config.json ``linux.resources`` -> memory, swap, cpulimit, cpuunits and cgroup lines. PRIVATE to the collection."""

from __future__ import annotations

import math

MIB = 1024 * 1024
MIN_MEMORY_MIB = 16
DEFAULT_CPU_PERIOD = 100000
# What has no Proxmox VE equivalent (a warning each).
UNMAPPED_MEMORY = ("reservation", "kernel", "kernelTCP", "swappiness", "disableOOMKiller")
UNMAPPED_CPU = ("burst", "realtimePeriod", "realtimeRuntime", "idle")
UNMAPPED_RESOURCES = ("blockIO", "hugepageLimits", "network", "rdma", "unified")
# runc's deny-all default; PVE has its own device allow-list.
_DENY_ALL = {"allow": False, "access": "rwm"}


def shares_to_weight(shares):
    """cgroup v1 cpu.shares -> v2 cpu.weight, as current runc converts it."""
    if shares <= 0:
        return 0
    if shares <= 2:
        return 1
    if shares >= 262144:
        return 10000
    log = math.log2(shares)
    exponent = (log * log + 125 * log) / 612.0 - 7.0 / 34.0
    return int(math.ceil(10**exponent))


def _map_memory(memory, found):
    where = "$.linux.resources.memory"
    limit = memory.get("limit")
    if isinstance(limit, int) and limit > 0:
        mib = -(-limit // MIB)
        if mib < MIN_MEMORY_MIB:
            found.error(where + ".limit", "%d bytes is below PVE's minimum of 16 MiB" % limit)
        else:
            found.options["memory"] = mib
            if limit % MIB:
                found.warn(where + ".limit", "rounded up to %d MiB" % mib)
        swap = memory.get("swap")
        if isinstance(swap, int) and swap >= limit:
            found.options["swap"] = (swap - limit) // MIB
        elif swap == -1:
            found.warn(where + ".swap", "unlimited swap has no PVE equivalent; PVE's default applies")
    elif limit == -1:
        found.warn(where + ".limit", "unlimited memory has no PVE equivalent; PVE's default applies")
    if "swap" in memory and not (isinstance(limit, int) and limit > 0):
        found.warn(where + ".swap", "not mapped without a memory limit (OCI swap is memory plus swap)")
    found.unmapped(where, memory, UNMAPPED_MEMORY, when_present=True)


def _map_cpu(cpu, found):
    quota = cpu.get("quota")
    if isinstance(quota, int) and quota > 0:
        found.options["cpulimit"] = round(quota / float(cpu.get("period") or DEFAULT_CPU_PERIOD), 2)
    if cpu.get("shares"):
        found.options["cpuunits"] = max(1, min(10000, shares_to_weight(cpu["shares"])))
    for field in ("cpus", "mems"):
        if cpu.get(field):
            found.raw("$.linux.resources.cpu." + field, "lxc.cgroup2.cpuset." + field, cpu[field])
    found.unmapped("$.linux.resources.cpu", cpu, UNMAPPED_CPU)


def _device_rule(device):
    major, minor = device.get("major"), device.get("minor")
    return "%s %s:%s %s" % (
        device.get("type") or "a",
        "*" if major is None else major,
        "*" if minor is None else minor,
        device.get("access") or "rwm",
    )


def map_resources(config, found):
    """Fill found (a Mapped) from config.json's linux.resources."""
    resources = (config.get("linux") or {}).get("resources") or {}
    _map_memory(resources.get("memory") or {}, found)
    _map_cpu(resources.get("cpu") or {}, found)
    pids = resources.get("pids")
    if pids and isinstance(pids.get("limit"), int):
        limit = pids["limit"]
        found.raw("$.linux.resources.pids.limit", "lxc.cgroup2.pids.max", "max" if limit < 0 else limit)
    for index, device in enumerate(resources.get("devices") or []):
        if device != _DENY_ALL:
            key = "lxc.cgroup2.devices.%s" % ("allow" if device.get("allow") else "deny")
            found.raw("$.linux.resources.devices[%d]" % index, key, _device_rule(device))
    found.unmapped("$.linux.resources", resources, UNMAPPED_RESOURCES)
