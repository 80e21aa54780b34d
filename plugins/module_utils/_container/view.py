# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The `container` structure a result carries, and the init pid of a running container. PRIVATE.

Shared by nexcage_container (result.py) and nexcage_container_info (info.py), which imports
nothing else of the container lifecycle: its payload and its run stay small.
"""

from __future__ import annotations

import json

from ansible_collections.cageforge.nexcage.plugins.module_utils import _pveconfig, _runner
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import readers


def container_pid(vmid, runner=None):
    """The container's init pid: from its cgroup, else `lxc-info -p -H` (not a pct call).

    The lxc-info fallback is a read-only lookup: it runs through its own Runner so that it does
    not appear in the task's `commands` (which lists what changes, or would change, the node).
    """
    pid = readers.init_pid_from_cgroup(vmid)
    if pid is not None:
        return pid
    reader = runner if runner is not None else _runner.Runner(timeout=10)
    try:
        result = reader.run(_runner.lxc_info("-n", vmid, "-p", "-H"), check=False, timeout=10)
    except OSError:
        return None
    text = (result.stdout or "").strip()
    return int(text) if result.rc == 0 and text.isdigit() else None


def container_view(vmid, config, status, pid, node):
    """The `container` structure of a result: the config keys, plus vmid, node, status, pid, lock,
    pending changes and snapshot names (nexcage_container and nexcage_container_info return it)."""
    container = dict(jsonable(_pveconfig.config_keys(config)))
    container.update(
        vmid=vmid,
        node=node,
        status=status,
        pid=pid,
        lock=config.get("lock"),
        pending=jsonable(config.get("pending") or {}),
        pending_keys=sorted(pending_keys(config)),
        snapshots=sorted(config.get("snapshots") or {}),
    )
    return container


def pending_keys(config):
    pending = config.get("pending") or {}
    keys = [k for k in pending if k != "delete"]
    keys += [k.lstrip("!") for k in pending.get("delete", [])]
    return keys


def jsonable(value):
    return json.loads(json.dumps(value, default=str))
