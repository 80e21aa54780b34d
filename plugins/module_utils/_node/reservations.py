# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""VMID reservations: the VMIDs that nexcage tasks of this node are creating containers with. PRIVATE.

A task that allocates a VMID picks it under the VMID lock and leaves a reservation
(/run/nexcage/vmid-reserved/<vmid>) while its `pct create` runs, so that the next task
picks another VMID at once instead of waiting for that create (Proxmox VE keeps the
ports it hands out the same way: PVE::Tools::next_unused_port). `pct create` writes the
config (and the .vmlist entry) early, and refuses a VMID that has one: the reservation
covers the time before that, and a missed one costs a retry, never a container.

A reservation names its writer (pid and that process's start time, so that a later
process given the same pid does not keep it alive) and when it expires; once the writer
is gone or it has expired it is stale: ignored, and removed by the next allocation.
"""

from __future__ import annotations

import json
import os
import time

from ansible_collections.cageforge.nexcage.plugins.module_utils._node import files, paths


def reserve(vmid, hostname, seconds):
    """Reserve vmid for this process for at most seconds (call it under the VMID lock)."""
    record = {
        "pid": os.getpid(),
        "start": files.process_start(os.getpid()),
        "hostname": hostname,
        "expires": time.time() + seconds,
    }
    files.atomic_write(paths.vmid_reservation(vmid), json.dumps(record, sort_keys=True), 0o644, makedirs=True)


def release(vmid):
    files.remove(paths.vmid_reservation(vmid))


def held(sweep=False):
    """{vmid: hostname or None} of the live reservations; sweep=True (under the VMID lock) removes stale ones."""
    try:
        names = os.listdir(paths.vmid_reservation_dir())
    except (FileNotFoundError, NotADirectoryError):
        return {}
    found = {}
    for name in names:
        vmid = paths.name_vmid(name)  # only VMID-named files (not atomic_write's temporary ones)
        if vmid is None:
            continue
        record = _live(files.read_text(paths.vmid_reservation(vmid)))
        if record is not None:
            found[vmid] = record.get("hostname") if isinstance(record.get("hostname"), str) else None
        elif sweep:
            release(vmid)
    return found


def _live(text):
    """The reservation record in text, or None when it is stale (or unreadable: no writer to wait for)."""
    try:
        record = json.loads(text or "")
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    pid, start, expires = record.get("pid"), record.get("start"), record.get("expires")
    if not (_number(pid, int) and pid > 0 and _number(start, int) and _number(expires, (int, float))):
        return None
    if expires <= time.time() or files.process_start(pid) != start:
        return None
    return record


def _number(value, kinds):
    return isinstance(value, kinds) and not isinstance(value, bool)  # JSON true is no pid
