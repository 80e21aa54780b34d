# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The opt-in repairs of nexcage_health (stale_state, stale_locks). PRIVATE to the collection."""

from __future__ import annotations

from ansible_collections.cageforge.nexcage.plugins.module_utils import _runner
from ansible_collections.cageforge.nexcage.plugins.module_utils._health.checks import ct_running, live_tasks
from ansible_collections.cageforge.nexcage.plugins.module_utils._health.node import command_error
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import CommandFailed


def repair_stale_state(node, finding, check_mode):
    if check_mode:
        return dict(finding, changed=True, result="would remove")
    left = node.remove_runtime_dir(finding["path"])
    if left:
        return dict(finding, changed=True, failed=True, result="left behind (mount points?): %s" % ", ".join(left))
    return dict(finding, changed=True, result="removed")


def repair_stale_locks(node, finding, check_mode):
    vmid = str(finding["vmid"])
    if finding.get("protected"):
        return dict(
            finding,
            changed=False,
            failed=True,
            result="skipped: protection is set; run `pct set %s --protection 0` first if it should go" % vmid,
        )
    argvs = [_runner.pct("unlock", vmid), _runner.pct("destroy", vmid, options=[("destroy-unreferenced-disks", 1)])]
    if check_mode:
        for argv in argvs:
            node.run(argv, mutating=True)
        return dict(finding, changed=True, result="would run: " + "; ".join(" ".join(a) for a in argvs))
    # Look again right before touching it: a task may have started since the check.
    tasks = live_tasks(node, vmid)
    if tasks or ct_running(node, vmid):
        return dict(finding, changed=False, result="skipped: now busy (%s)" % (", ".join(tasks) or "running"))
    try:
        res = node.run(_runner.pct("status", vmid))
        if "status: stopped" not in res.stdout:
            return dict(finding, changed=False, result="skipped: pct status says %s" % res.stdout.strip())
        for argv in argvs:
            node.run(argv, mutating=True)
    except CommandFailed as exc:
        return dict(finding, changed=True, failed=True, result=command_error(exc))
    return dict(finding, changed=True, result="removed")


def _busy(node, vmid):
    """Why vmid must not be touched now (a task works on it, or it runs), or None."""
    tasks = live_tasks(node, vmid)
    if tasks or ct_running(node, vmid):
        return "skipped: now busy (%s)" % (", ".join(tasks) or "running")
    return None


def _run_all(node, finding, argvs, check_mode, done):
    if check_mode:
        for argv in argvs:
            node.run(argv, mutating=True)
        return dict(finding, changed=True, result="would run: " + "; ".join(" ".join(a) for a in argvs))
    try:
        for argv in argvs:
            node.run(argv, mutating=True)
    except CommandFailed as exc:
        return dict(finding, changed=True, failed=True, result=command_error(exc))
    return dict(finding, changed=True, result=done)


def repair_half_made(node, finding, check_mode):
    """Remove a config that is not a container; never one that names volumes (they may be data)."""
    vmid = str(finding["vmid"])
    if finding.get("protected") or finding.get("volumes"):
        why = (
            "protection is set" if finding.get("protected") else "it names volume(s) %s" % ", ".join(finding["volumes"])
        )
        return dict(finding, changed=False, failed=True, result="skipped: %s; remove it by hand if it should go" % why)
    busy = None if check_mode else _busy(node, vmid)
    if busy:
        return dict(finding, changed=False, result=busy)
    argvs = ([_runner.pct("unlock", vmid)] if finding.get("lock") else []) + [_runner.pct("destroy", vmid)]
    return _run_all(node, finding, argvs, check_mode, "removed")


def repair_orphan_volumes(node, finding, check_mode):
    """Destroy an orphan ZFS volume of a VMID that does not exist (explicit opt-in: it may be data)."""
    if finding.get("guest") or not finding.get("dataset"):
        how = (
            "VMID %s exists: attach it (`pct rescan --vmid %s`) or free it by hand (`pvesm free %s`)"
            % (finding["vmid"], finding["vmid"], finding["volid"])
            if finding.get("guest")
            else "not on a ZFS storage: free it by hand (`pvesm free %s`)" % finding["volid"]
        )
        return dict(finding, changed=False, result="skipped: " + how)
    busy = None if check_mode else _busy(node, finding["vmid"])
    if busy:
        return dict(finding, changed=False, result=busy)
    return _run_all(node, finding, [_runner.zfs("destroy", finding["dataset"])], check_mode, "destroyed")


def repair_leftover_cgroups(node, finding, check_mode):
    if check_mode:
        return dict(finding, changed=True, result="would remove %s" % ", ".join(finding["paths"]))
    busy = _busy(node, finding["vmid"])
    if busy:
        return dict(finding, changed=False, result=busy)
    left = []
    for path in sorted(finding["paths"], key=len, reverse=True):
        left += node.remove_cgroup(path)
    if left:
        return dict(finding, changed=True, failed=True, result="left (processes in them?): %s" % ", ".join(left))
    return dict(finding, changed=True, result="removed")


REPAIR_FUNCTIONS = {
    "stale_state": repair_stale_state,
    "stale_locks": repair_stale_locks,
    "half_made": repair_half_made,
    "orphan_volumes": repair_orphan_volumes,
    "leftover_cgroups": repair_leftover_cgroups,
}
