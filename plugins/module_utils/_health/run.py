# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The whole nexcage_health run: checks, repairs, summary, and the module's end. PRIVATE."""

from __future__ import annotations

from ansible_collections.cageforge.nexcage.plugins.module_utils import _errors, _module
from ansible_collections.cageforge.nexcage.plugins.module_utils._health import checks, leftovers
from ansible_collections.cageforge.nexcage.plugins.module_utils._health.checks import (
    CHECKS,
    FAIL,
    OK,
    RANK,
    REPAIRS,
    WARN,
    Result,
    worst,
)
from ansible_collections.cageforge.nexcage.plugins.module_utils._health.node import NodeView
from ansible_collections.cageforge.nexcage.plugins.module_utils._health.repairs import REPAIR_FUNCTIONS

CHECK_FUNCTIONS = dict(checks.CHECK_FUNCTIONS, **leftovers.CHECK_FUNCTIONS)


def run_checks(node, selected, params):
    results = []
    for name in CHECKS:
        if name in selected:
            results.append(CHECK_FUNCTIONS[name](node, params))
    return results


def summarize(results, fail_on):
    counts = {OK: 0, WARN: 0, FAIL: 0}
    for r in results:
        counts[r.status] += 1
    limit = {"warn": RANK[WARN], "fail": RANK[FAIL]}.get(fail_on)
    failing = [r.name for r in results if limit is not None and RANK[r.status] >= limit]
    return dict(
        status=worst(r.status for r in results),
        total=len(results),
        ok=counts[OK],
        warn=counts[WARN],
        fail=counts[FAIL],
        failing=failing,
    )


def run_health(node, params, check_mode):
    """Returns (result dict, failed message or None)."""
    selected = set(CHECKS if params.get("checks") is None else params["checks"])
    repair = list(params.get("repair") or [])
    selected.update(repair)
    results = run_checks(node, selected, params)
    repairs = _repair(node, results, repair, params, check_mode)
    changed = any(r.get("changed") for r in repairs)
    if repairs:
        _forget(node)
        fresh = []
        for r in results:
            if check_mode and r.name in repair:
                r = _predicted(r, [x for x in repairs if x["check"] == r.name and not x.get("failed")])
            elif not check_mode and changed:
                r = CHECK_FUNCTIONS[r.name](node, params)  # a repair may change what another check sees
            fresh.append(r)
        results = fresh
    summary = summarize(results, params.get("fail_on", "fail"))
    out = dict(changed=changed, checks=[r.to_dict() for r in results], summary=summary, repairs=repairs)
    failed = None
    broken = [r for r in results if r.name in summary["failing"]]
    failed_repairs = [r for r in repairs if r.get("failed")]
    if broken:
        failed = "node health: %d check(s) at or above '%s': %s" % (
            len(broken),
            params.get("fail_on", "fail"),
            "; ".join("%s (%s): %s" % (r.name, r.status, r.detail) for r in broken),
        )
    elif failed_repairs:
        failed = "node health: %d repair(s) failed: %s" % (
            len(failed_repairs),
            "; ".join("%s %s: %s" % (r["check"], r.get("vmid"), r["result"]) for r in failed_repairs),
        )
    return out, failed


def _repair(node, results, repair, params, check_mode):
    """Run the requested repairs in REPAIRS order; a check runs again when an earlier repair changed
    the node (removing a half-made config makes its volumes orphans of a VMID that no longer exists)."""
    repairs = []
    for name in REPAIRS:
        if name not in repair:
            continue
        result = next(r for r in results if r.name == name)
        if not check_mode and any(r.get("changed") for r in repairs):
            _forget(node)
            result = CHECK_FUNCTIONS[name](node, params)
        for finding in result.items:
            repairs.append(dict(REPAIR_FUNCTIONS[name](node, dict(finding), check_mode), check=name))
    return repairs


def _forget(node):
    """Drop what the node view cached about guests and processes (a repair changed them)."""
    for key in [k for k in node._cache if k in ("cts", "processes", "vmlist") or k.startswith("zfs:")]:
        node._cache.pop(key, None)


def _predicted(result, done):
    """A stale_* result as it will be once the planned repairs ran (check mode)."""
    fixed = {d["vmid"] for d in done}
    left = [f for f in result.items if f["vmid"] not in fixed]
    if left:
        return Result(result.name, result.status, result.detail, result.remedy, items=left)
    return Result(
        result.name,
        OK,
        "would be repaired: %s" % ", ".join(str(v) for v in sorted(fixed)),
        "",
    )


def run_task(module, runner):
    """The whole of nexcage_health as a result dict (failed: true when a check or repair fails)."""
    if not 0 <= module.params["min_free_percent"] <= 100:
        raise _errors.NexcageError(
            _errors.INVALID_ARGUMENT,
            "min_free_percent must be between 0 and 100, got %s" % module.params["min_free_percent"],
        )
    node = NodeView(runner, which=lambda name: module.get_bin_path(name, required=False))
    out, failed = run_health(node, module.params, module.check_mode)
    out["commands"] = runner.commands
    summary = out["summary"]
    out["msg"] = "%d check(s): %d ok, %d warn, %d fail" % (
        summary["total"],
        summary["ok"],
        summary["warn"],
        summary["fail"],
    )
    if failed:
        out.update(msg=failed, failed=True)
    return out


def run_module(module, runner):
    """End nexcage_health: exit_json with the result, fail_json when it failed."""
    _module.run(
        module,
        lambda: run_task(module, runner),
        name="nexcage_health",
        context=lambda _error: {"commands": runner.commands},
    )
