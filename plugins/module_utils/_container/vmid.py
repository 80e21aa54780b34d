# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Finding a container by hostname and allocating a VMID under the node lock. PRIVATE."""

from __future__ import annotations

import json

from ansible_collections.cageforge.nexcage.plugins.module_utils import _errors
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import files, paths, readers


def find_by_hostname(hostname):
    """VMIDs of the containers on this node whose config has this hostname (or CT<vmid> default)."""
    return readers.with_hostname(readers.ct_hostnames(), hostname)


def next_free_vmid(exclude=()):
    """The lowest VMID of datacenter.cfg's next-id range that no guest (nor config file) uses."""
    used = set(readers.read_vmlist()) | set(exclude)
    lower, upper = readers.vmid_range()
    for vmid in range(lower, upper):
        if vmid not in used and not readers.ct_exists(vmid):
            return vmid
    raise _errors.NexcageError(
        _errors.RESOURCE_EXHAUSTED,
        "Cannot allocate a VMID: unable to get any free VMID in range [%d, %d]" % (lower, upper),
    )


def vmid_lock(timeout):
    """Node-local exclusive lock held while a VMID is picked and `pct create` runs."""
    return files.locked(
        paths.VMID_LOCK,
        timeout,
        "Cannot allocate a VMID: the nexcage VMID lock %s is held for more than %ss" % (paths.VMID_LOCK, timeout),
        category=_errors.LOCKED,
        hint="Another nexcage task is creating a container; retry, or raise command_timeout.",
    )


def read_record(vmid):
    """What nexcage remembers of a container it made ({} when nothing)."""
    record = readers.read_json(paths.record(vmid), {})
    return record if isinstance(record, dict) else {}


def write_record(vmid, data):
    files.atomic_write(paths.record(vmid), json.dumps(data, sort_keys=True), 0o644, makedirs=True)


def remove_record(vmid):
    files.remove(paths.record(vmid))
