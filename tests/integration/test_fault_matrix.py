"""The fault matrix (issue 16): every mutating command nexcage runs, failed and killed, plain and at
every phase the simulator knows (`pvesim fault add --at PHASE`).

For each cell: the task fails with a category; nexcage_health names what is wrong (exactly the
checks the cell expects: a half-made container is named, a clean failure leaves nothing to name);
when the task's error points to a repair, its hint names it; the documented repair (if any) and a
re-run converge; a further run reports changed=false; and health is clean again.

A "kill" of a command without phases is a hang that the command's bound (command_timeout,
create_timeout, wait_timeout, stop_timeout + command_timeout) cuts: the runner SIGKILLs it.
All cells run on one simulated node in one module process (one `pvesim run`), faults armed
beforehand, one per cell (VMIDs and dataset names per cell). The totals go to the terminal
summary (tests/integration/conftest.py) and to the assertion message when a cell fails.
"""

import json
import os
import subprocess
import sys

import pytest
from integration_conftest import BASE, COLLECTIONS, MODULES, PVESIM, lxc_available

CHECKS = ["stale_locks", "half_made", "orphan_volumes", "stale_state"]
CT = "nexcage_container"
ZFS = "nexcage_zfs_dataset"
HEALTH = "nexcage_health"
FAIL_TEXT = "pvesim: injected failure"
HANG = 40  # longer than any bound below: the bound is what ends it

# Runs inside the node: the steps in order, each a module run (as __main__) or a pause.
DRIVER = r"""
import contextlib, io, json, runpy, sys, time
from ansible.module_utils import basic

spec = json.load(open(sys.argv[1], encoding="utf-8"))
results = []
for step in spec["steps"]:
    if "sleep" in step:
        time.sleep(step["sleep"])
        results.append({})
        continue
    args = dict(step["args"], _ansible_check_mode=False, _ansible_diff=False, _ansible_tmpdir=spec["tmp"])
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()
    basic._ANSIBLE_PROFILE = "legacy"
    out = io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(out):
        try:
            runpy.run_path(spec["modules"] + "/" + step["module"] + ".py", run_name="__main__")
        except SystemExit:
            pass
    text = out.getvalue().strip()
    try:
        result = json.loads(text[text.index("{"):])
    except ValueError:
        result = {"failed": True, "msg": "no JSON from module", "_raw": text}
    result["_elapsed"] = time.monotonic() - started
    results.append(result)
print(json.dumps(results))
"""


class Cell:
    """One cell: a command, a phase (None: plain), fail or kill, and what it must leave."""

    def __init__(self, command, phase, mode, key, task, setup=(), fault=(), named=(), repair=(), category=None):
        self.command, self.phase, self.mode, self.key = command, phase, mode, key
        self.task = task  # (module, args) of the faulted task; re-runs drop the small bound
        self.setup = list(setup)
        self.fault = list(fault)  # pvesim fault add arguments
        self.named = set(named)  # health checks that must be non-ok after the fault
        self.repair = list(repair)  # the nexcage_health repairs the hint names
        self.category = category  # the error category, when it is certain
        self.steps = {}

    @property
    def name(self):
        return "%s%s %s" % (self.command, " @" + self.phase if self.phase else "", self.mode)


def ct(vmid, **extra):
    return dict(BASE, vmid=vmid, hostname="m%d" % vmid, **extra)


def fault_args(mode, phase, bound_free=False):
    """pvesim fault arguments for a fail or a kill, at a phase or plain."""
    args = ["--times", "1"]
    if phase:
        args += ["--at", phase] + (["--kill"] if mode == "kill" else ["--stderr", FAIL_TEXT])
    elif mode == "kill":
        args += ["--hang", str(HANG)]
    else:
        args += ["--stderr", FAIL_TEXT, "--rc", "255"]
    return args


def create_cells(vmids):
    """pct create at every phase, and pveam download. vmids: an iterator of fresh VMIDs."""
    cells = []
    create_named = {"after-lock": ("stale_locks",), "after-alloc": ("stale_locks",), "during-extract": ("stale_locks",)}
    for phase in (None, "after-lock", "after-alloc", "during-extract", "after-config-write"):
        for mode in ("fail", "kill"):
            vmid = next(vmids)
            named = create_named.get(phase, ()) if mode == "kill" else ()
            bound = {"create_timeout": 1} if mode == "kill" and not phase else {}
            cells.append(
                Cell(
                    "pct create",
                    phase,
                    mode,
                    "pct create %d *" % vmid,
                    (CT, dict(ct(vmid), **bound)),
                    named=named,
                    repair=named,
                    category="timeout" if bound else None,
                )
            )
    return cells + download_cells(vmids)


def pct_cells(vmids):
    """The other pct commands: set, resize, stop, shutdown, start (and its phases), destroy (and its)."""
    cells = []
    plain = [
        ("pct set", {}, {"memory": 300}, "command_timeout"),
        ("pct resize", {}, {"rootfs": {"storage": "local-zfs", "size": 2}}, "command_timeout"),
        ("pct stop", {"state": "started"}, {"state": "stopped", "stop_mode": "stop"}, "command_timeout"),
        ("pct shutdown", {"state": "started"}, {"state": "stopped", "stop_timeout": 1}, "command_timeout"),
        ("pct start", {}, {"state": "started"}, "wait_timeout"),
        ("pct destroy", {}, {"state": "absent"}, "command_timeout"),
    ]
    for command, setup, change, bound_option in plain:
        if command in ("pct stop", "pct shutdown") and not lxc_available():
            continue
        for mode in ("fail", "kill"):
            vmid = next(vmids)
            bound = {bound_option: 1} if mode == "kill" else {}
            cells.append(
                Cell(
                    command,
                    None,
                    mode,
                    "%s %d*" % (command, vmid),
                    (CT, dict(ct(vmid), **dict(change, **bound))),
                    setup=[(CT, dict(ct(vmid), **setup))],
                    category="timeout" if bound else None,
                )
            )
    start_phases = ("before-hooks-finish", "after-lxc-start") if lxc_available() else ()
    for phase in start_phases:
        for mode in ("fail", "kill"):
            vmid = next(vmids)
            cells.append(
                Cell(
                    "pct start",
                    phase,
                    mode,
                    "pct start %d" % vmid,
                    (CT, ct(vmid, state="started")),
                    setup=[(CT, ct(vmid))],
                )
            )
    mounts = [{"id": 0, "storage": "local-zfs", "size": 1, "mountpoint": "/data"}]
    destroy_named = {"after-volume": ("half_made",), "after-lock": ("stale_locks",)}
    for phase in ("after-volume", "after-lock"):
        for mode in ("fail", "kill"):
            vmid = next(vmids)
            named = destroy_named[phase]
            cells.append(
                Cell(
                    "pct destroy",
                    phase,
                    mode,
                    "pct destroy %d" % vmid,
                    (CT, dict(ct(vmid), state="absent")),
                    setup=[(CT, ct(vmid, mounts=mounts))],
                    named=named,
                    repair=[r for r in named if r == "stale_locks"],
                )
            )
    return cells


def download_cells(vmids):
    cells = []
    for mode, template in (
        ("fail", "alpine-3.22-default_20250617_amd64.tar.xz"),
        ("kill", "debian-12-standard_12.7-1_amd64.tar.zst"),
    ):
        vmid = next(vmids)
        bound = {"create_timeout": 1} if mode == "kill" else {}
        args = dict(ct(vmid), image="local:vztmpl/" + template, download=True, **bound)
        cells.append(
            Cell(
                "pveam download",
                None,
                mode,
                "pveam download local %s" % template,
                (CT, args),
                category="timeout" if bound else None,
            )
        )
    return cells


def zfs_cells(_vmids):
    """nexcage_zfs_dataset's commands: zfs create, set, destroy, and destroy -r between children."""
    cells = []
    for mode in ("fail", "kill"):
        bound = {"command_timeout": 1} if mode == "kill" else {}
        timeout = "timeout" if bound else None
        name = "rpool/data/mx-create-%s" % mode
        cells.append(
            Cell("zfs create", None, mode, "zfs create*%s" % name, (ZFS, dict(name=name, **bound)), category=timeout)
        )
        name = "rpool/data/mx-set-%s" % mode
        cells.append(
            Cell(
                "zfs set",
                None,
                mode,
                "zfs set*%s" % name,
                (ZFS, dict(name=name, properties={"compression": "lz4"}, **bound)),
                setup=[(ZFS, {"name": name})],
                category=timeout,
            )
        )
        name = "rpool/data/mx-destroy-%s" % mode
        cells.append(
            Cell(
                "zfs destroy",
                None,
                mode,
                "zfs destroy %s" % name,
                (ZFS, dict(name=name, state="absent", **bound)),
                setup=[(ZFS, {"name": name})],
                category=timeout,
            )
        )
        name = "rpool/data/mx-tree-%s" % mode
        cells.append(
            Cell(
                "zfs destroy -r",
                "between-children",
                mode,
                "zfs destroy -r %s" % name,
                (ZFS, dict(name=name, state="absent", recursive=True)),
                setup=[(ZFS, {"name": name + "/c1"})],  # the parent too: destroy -r goes c1, then it
            )
        )
    return cells


def without_bounds(args):
    return {k: v for k, v in args.items() if k not in ("create_timeout", "command_timeout", "wait_timeout")}


def plan(cells):
    """The steps of all cells, in order; each cell remembers the index of each of its steps."""
    steps = []

    def add(cell, tag, module, args):
        cell.steps[tag] = len(steps)
        steps.append({"module": module, "args": args})

    for cell in cells:
        for i, (module, args) in enumerate(cell.setup):
            add(cell, "setup%d" % i, module, args)
    for cell in cells:
        module, args = cell.task
        add(cell, "fault", module, args)
        if cell.command == "pct start" and cell.mode == "kill":
            steps.append({"sleep": 3})  # the killed start goes on (systemd's unit on a real node)
        add(cell, "seen", HEALTH, {"checks": CHECKS, "fail_on": "never"})
        if cell.repair:
            add(cell, "repair", HEALTH, {"checks": CHECKS, "repair": cell.repair, "fail_on": "never"})
        add(cell, "again", module, without_bounds(args))
        add(cell, "still", module, without_bounds(args))
    # clean after all: each cell's "seen" also shows what an earlier cell left
    steps.append({"module": HEALTH, "args": {"checks": CHECKS, "fail_on": "never"}})
    # leave no container running
    for cell in cells:
        if cell.task[0] == CT:
            steps.append({"module": CT, "args": {"vmid": cell.task[1]["vmid"], "state": "absent", "force": True}})
    return steps


def bound_named(cell):
    """What a container task's timeout error must say: the command ran longer than which bound."""
    args = cell.task[1]
    option = next(k for k in ("create_timeout", "wait_timeout", "command_timeout") if k in args)
    if cell.command == "pct shutdown":
        return "ran longer than stop_timeout + command_timeout (%d s)" % (args["stop_timeout"] + args[option])
    return "ran longer than %s (%d s)" % (option, args[option])


def problems_of(cell, results):
    """What is wrong with one cell's results (empty: the cell is consistent and converges)."""
    got = {tag: results[i] for tag, i in cell.steps.items()}
    wrong = ["setup failed: %s" % r.get("msg") for tag, r in got.items() if tag.startswith("setup") and r.get("failed")]
    fault = got["fault"]
    error = fault.get("error") or {}
    if not fault.get("failed") or not error.get("category"):
        wrong.append("the faulted task did not fail with a category: %s" % fault.get("msg"))
    elif cell.category and error["category"] != cell.category:
        wrong.append("category %s, expected %s: %s" % (error["category"], cell.category, fault.get("msg")))
    elif cell.category == "timeout" and cell.task[0] == CT and bound_named(cell) not in error.get("message", ""):
        wrong.append("the timeout does not name `%s` and its bound: %s" % (bound_named(cell), error.get("message")))
    if "Traceback" in json.dumps(fault):
        wrong.append("a traceback in the result")
    named = {c["name"] for c in got["seen"]["checks"] if c["status"] != "ok"}
    if named != cell.named:
        wrong.append("health named %s, expected %s: %s" % (sorted(named), sorted(cell.named), got["seen"]["checks"]))
    for repair in cell.repair:
        if "repair: [%s]" % repair not in (error.get("hint") or ""):
            wrong.append("the hint does not name repair: [%s]: %s" % (repair, error.get("hint")))
    if "repair" in got and [r for r in got["repair"]["repairs"] if r.get("failed")]:
        wrong.append("the repair failed: %s" % got["repair"]["repairs"])
    if got["again"].get("failed"):
        wrong.append("the re-run failed: %s" % got["again"].get("msg"))
    if got["still"].get("failed") or got["still"].get("changed"):
        wrong.append("a further run is not changed=false: %s" % (got["still"].get("msg") or got["still"].get("steps")))
    return wrong


def run_steps(node, steps):
    spec = os.path.join(node.work, "matrix.json")
    driver = os.path.join(node.work, "matrix-driver.py")
    with open(spec, "w", encoding="utf-8") as f:
        json.dump({"steps": steps, "modules": MODULES, "tmp": node.work}, f)
    with open(driver, "w", encoding="utf-8") as f:
        f.write(DRIVER)
    env = dict(os.environ, PYTHONPATH=COLLECTIONS, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
    env.pop("PVESIM_LATENCY_MS", None)
    proc = node.sh(sys.executable, driver, spec, env=env, timeout=900)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AssertionError("the driver printed no JSON: %s %s" % (proc.stdout[-2000:], proc.stderr[-2000:])) from None


PARTS = {"pct create, pveam download": create_cells, "pct": pct_cells, "zfs": zfs_cells}


@pytest.mark.parametrize("part", list(PARTS))
def test_fault_matrix(fresh_node, record_property, part):
    """One part of the matrix on its own node, all its cells in one module process."""
    node = fresh_node
    assert node.sh("pveam", "update").returncode == 0
    cells = PARTS[part](iter(range(200, 400)))
    for cell in cells:
        argv = [PVESIM, "fault", "--root", node.root, "add", "--match", cell.key] + fault_args(cell.mode, cell.phase)
        subprocess.run(argv, check=True, capture_output=True)
    steps = plan(cells)
    results = run_steps(node, steps)
    problems = {cell.name: problems_of(cell, results) for cell in cells}
    final = results[len(steps) - 1 - sum(1 for c in cells if c.task[0] == CT)]
    dirty = [c for c in final["checks"] if c["status"] != "ok"]
    bad = {name: wrong for name, wrong in problems.items() if wrong}
    totals = {
        "part": part,
        "cells": len(cells),
        "commands": sorted({cell.command for cell in cells}),
        "phases": sum(1 for c in cells if c.phase),
        "failed": sum(1 for c in cells if c.mode == "fail"),
        "killed": sum(1 for c in cells if c.mode == "kill"),
        "consistent": len(cells) - len(bad),
        "seconds": round(sum(r.get("_elapsed", 0) for r in results)),
        "skipped": []
        if lxc_available() or part != "pct"
        else ["pct start phases, pct stop, pct shutdown: no LXC here"],
    }
    record_property("fault_matrix", json.dumps(totals))
    if dirty:
        bad["(after all cells)"] = ["health is not clean: %s" % dirty]
    assert not bad, json.dumps(totals) + "\n" + "\n".join("%s: %s" % (n, "; ".join(w)) for n, w in bad.items())
