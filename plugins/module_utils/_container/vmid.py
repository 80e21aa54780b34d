# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Finding a container by hostname and allocating a VMID: picked under the node lock, then reserved
(_node.reservations) while `pct create` runs, so concurrent creates do not wait for each other. PRIVATE."""

from __future__ import annotations

import json
import time

from ansible_collections.cageforge.nexcage.plugins.module_utils import _errors
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import files, paths, readers, reservations


def find_by_hostname(hostname):
    """VMIDs of the containers on this node whose config has this hostname (or CT<vmid> default)."""
    return readers.with_hostname(readers.ct_hostnames(), hostname)


def next_free_vmid(exclude=(), held=None):
    """The lowest VMID of datacenter.cfg's next-id range that no guest (nor config file) uses and no live
    task has reserved (held: the reservations when the caller has read them already)."""
    if held is None:
        held = reservations.held()
    used = set(readers.read_vmlist()) | set(exclude) | set(held)
    lower, upper = readers.vmid_range()
    for vmid in range(lower, upper):
        if vmid not in used and not readers.ct_exists(vmid):
            return vmid
    raise _errors.NexcageError(
        _errors.RESOURCE_EXHAUSTED,
        "Cannot allocate a VMID: unable to get any free VMID in range [%d, %d]" % (lower, upper),
    )


def vmid_lock(timeout):
    """Node-local exclusive lock held while a VMID is picked and reserved (not while `pct create` runs)."""
    return files.locked(
        paths.VMID_LOCK,
        timeout,
        "Cannot allocate a VMID: the nexcage VMID lock %s is held for more than %ss" % (paths.VMID_LOCK, timeout),
        category=_errors.LOCKED,
        hint="Another nexcage task is picking a VMID; retry, or raise command_timeout.",
    )


def reserve_free_vmid(hostname, wait, lifetime, exclude=()):
    """Pick the lowest free VMID under the VMID lock and reserve it for this process (lifetime seconds at most).

    Returns (vmid, False); or (vmid, True) when a container named hostname exists (another task made it).
    While another live task is creating a container of that name, waits for it. wait bounds each wait (also
    for the lock, which an older nexcage holds through its whole `pct create`).
    """
    deadline = time.monotonic() + wait
    delay = 0.05
    while True:
        with vmid_lock(wait):
            matches = find_by_hostname(hostname) if hostname else []
            if matches:
                return matches[0], True
            held = reservations.held(sweep=True)
            creating = _being_created(held, hostname)
            if not creating:
                vmid = next_free_vmid(exclude, held)
                reservations.reserve(vmid, hostname, lifetime)
                return vmid, False
        if time.monotonic() >= deadline:
            raise _errors.NexcageError(
                _errors.LOCKED,
                "Cannot create %s: another nexcage task has been creating it as CT %s for more than %ss"
                % (_errors.describe_container(None, hostname), creating[0], wait),
                hint="Retry when that task has ended, or raise create_timeout.",
            )
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def _being_created(held, hostname):
    """The reserved VMIDs (held: {vmid: hostname or None}) that a task is creating a container named hostname with."""
    if not hostname:
        return []
    return readers.with_hostname({vmid: name for vmid, name in held.items() if name}, hostname)


def release_vmid(vmid):
    """Drop this task's reservation of vmid (its create has ended)."""
    reservations.release(vmid)


def read_record(vmid):
    """What nexcage remembers of a container it made ({} when nothing)."""
    record = readers.read_json(paths.record(vmid), {})
    return record if isinstance(record, dict) else {}


def write_record(vmid, data):
    files.atomic_write(paths.record(vmid), json.dumps(data, sort_keys=True), 0o644, makedirs=True)


def remove_record(vmid):
    files.remove(paths.record(vmid))
