# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Half-made containers: what an interrupted create or destroy leaves, and the way out. PRIVATE.

Shared by nexcage_health (which reports and repairs them) and nexcage_container (which refuses
to "update" them and names the same repair). Pure functions of a parsed config; no imports
beyond the standard library, so the container task pays nothing for it.

What Proxmox VE leaves (pve-container API2/LXC.pm create_vm, LXC.pm destroy_lxc_container):
a create killed before its config write leaves the placeholder config ``lock: create`` (and the
volumes it allocated, unreferenced); a destroy killed after freeing the volumes leaves
``lock: destroyed``. A bare ``pct unlock`` of the first leaves an EMPTY config whose volumes no
config names: the next ``pct set`` makes it look like a container that has no root filesystem.
"""

from __future__ import annotations

STALE_LOCKS = ("create", "destroyed")
KEYS_NOT_CONTENT = ("lxc", "pending", "snapshots", "raw", "digest", "warnings")


def settings(config):
    """The config's own keys (no parse bookkeeping, no snapshots)."""
    return sorted(k for k in config if k not in KEYS_NOT_CONTENT)


def half_made(config):
    """Why config is not a whole container (a short phrase), or None when it is one."""
    lock = config.get("lock")
    keys = settings(config)
    if lock in STALE_LOCKS:
        if keys == ["lock"]:
            return "its config holds only `lock: %s` (an interrupted %s)" % (lock, _verb(lock))
        return "it is locked `%s` (an interrupted %s)" % (lock, _verb(lock))
    if "rootfs" not in config:
        if keys == ["lock"]:
            return "its config holds only `lock: %s` and no rootfs" % lock
        if not keys:
            return "its config is empty (no rootfs)"
        return "its config has no rootfs (keys: %s)" % ", ".join(keys)
    return None


def _verb(lock):
    return "create" if lock == "create" else "destroy"


def repair_hint(vmid, config):
    """The way out of a half-made container: the nexcage_health repair that heals it, then re-run."""
    if config.get("lock") in STALE_LOCKS:
        return (
            "Repair it with nexcage_health and repair: [stale_locks] (it runs what Proxmox VE's own failure "
            "path would: `pct unlock %s; pct destroy %s --destroy-unreferenced-disks 1`, removing the config "
            "and the volumes named for VMID %s), then run this task again to create the container. Do not run "
            "a bare `pct unlock %s`: it leaves a config without rootfs and orphan volumes." % (vmid, vmid, vmid, vmid)
        )
    return (
        "It cannot be updated or started. If it is a leftover, remove the config with nexcage_health and "
        "repair: [half_made] (`pct destroy %s`), check the volumes named for VMID %s that nexcage_health's "
        "orphan_volumes check then reports (repair: [orphan_volumes] destroys them), and run this task "
        "again. To keep it, give it its root filesystem back: `pct set %s --rootfs <volume>`." % (vmid, vmid, vmid)
    )
