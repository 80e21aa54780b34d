# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nexcage_container_info: the node's containers as nexcage_container reports one. PRIVATE.

Everything comes from files: the configs in /etc/pve/lxc, the pools in user.cfg, the run
state from /proc/net/unix, and the runtime figures from the container's cgroup and /proc.
No command runs, so check mode is the same run.
"""

from __future__ import annotations

from ansible_collections.cageforge.nexcage.plugins.module_utils import _errors, _module, _pveconfig, _validation
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.view import container_pid, container_view
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.vmid import find_by_hostname
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import cgroupstats, paths, readers


def runtime_facts(vmid, pid):
    """Uptime, memory and CPU use of a running container (None for a figure that cannot be read)."""
    return {
        "uptime": cgroupstats.uptime(pid) if pid else None,
        "memory": cgroupstats.memory(vmid, pid),
        "cpu": cgroupstats.cpu(vmid, pid),
    }


def describe(vmid, config, running, node, pools):
    """One entry of `containers`: nexcage_container's `container` structure, pool and runtime facts."""
    status = "running" if vmid in running else "stopped"
    # from the cgroup, else lxc-info (a read of LXC's command socket, not a Perl CLI call)
    pid = container_pid(vmid) if status == "running" else None
    entry = container_view(vmid, config, status, pid, node)
    entry["pool"] = pools.get(vmid)
    entry["runtime"] = runtime_facts(vmid, pid) if status == "running" else None
    return entry


def selected_vmids(params):
    """The VMIDs the task asks about: [vmid], the hostname's, or None for all."""
    if params.get("vmid") is not None:
        return [_validation.validate_vmid(params["vmid"])]
    hostname = params.get("hostname")
    if hostname is None:
        return None
    _validation.validate_hostname(hostname)
    matches = find_by_hostname(hostname)
    if len(matches) > 1:
        raise _errors.NexcageError(
            _errors.INVALID_ARGUMENT,
            "Cannot identify the container: hostname %s is used by several containers: VMIDs %s"
            % (hostname, ", ".join(str(vmid) for vmid in matches)),
            hint="Set vmid to the one you mean, or leave out hostname and vmid to list all containers.",
            vmids=matches,
        )
    return matches


def gather(params):
    wanted = selected_vmids(params)
    if wanted is None:
        texts = {}
        for kind, name, text in readers.guest_configs():
            vmid = paths.conf_vmid(name + ".conf") if kind == "lxc" else None
            if vmid is not None:  # only a config file named by a VMID is a container
                texts[vmid] = text
    else:
        texts = {vmid: readers.read_ct_config(vmid) for vmid in wanted}
    running = readers.running_vmids()
    node = readers.local_node()
    pools = readers.read_pools()
    containers = [
        describe(vmid, _pveconfig.parse_config(text, vmid=vmid), running, node, pools)
        for vmid, text in sorted(texts.items())
        if text is not None
    ]
    result = {"changed": False, "containers": containers, "commands": []}
    if wanted is not None:
        result["container"] = containers[0] if containers else None
    return result


def run_module(module):
    _module.run(module, lambda: gather(module.params), name="nexcage_container_info")
