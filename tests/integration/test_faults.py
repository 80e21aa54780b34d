"""Faults in the middle of an operation (issue 16): timeouts that name their bound, hints that heal,
and nexcage_health seeing what an interrupted create leaves.

Each test follows nexcage's own words: the error's hint is what the test does next, and the run
after it must converge (then report changed=false)."""

import subprocess

from integration_conftest import BASE, MOD, PVESIM, TEMPLATE

HEALTH = "nexcage_health"


def phase_fault(node, match, phase, *extra):
    argv = [PVESIM, "fault", "--root", node.root, "add", "--match", match, "--at", phase]
    subprocess.run(argv + [str(a) for a in extra], check=True, capture_output=True)


def failed(result, category):
    assert result.get("failed") is True, result
    assert "Traceback" not in result.get("_stderr", "") and "Traceback" not in result.get("msg", "")
    assert result["error"]["category"] == category, result["error"]
    return result["error"]


def datasets(node, vmid):
    out = node.sh("zfs", "list", "-H", "-o", "name").stdout.split()
    return [name for name in out if "-%s-disk-" % vmid in name]


def health(node, repair=(), check=False):
    args = {"checks": ["stale_locks", "half_made", "orphan_volumes", "stale_state"], "fail_on": "never"}
    if repair:
        args["repair"] = list(repair)
    return node.run_task(HEALTH, args, check=check)


def statuses(result):
    return {c["name"]: c["status"] for c in result["checks"]}


def converges(node, args):
    """The task succeeds now and a further run changes nothing."""
    first, second = node.run_tasks(MOD, [(args, False, False), (args, False, False)])
    assert not first.get("failed"), first.get("msg")
    assert second["changed"] is False and not second.get("failed"), second
    return first


def test_create_timeout_bounds_pct_create(fresh_node):
    node = fresh_node
    node.fault("pct create *", hang=20, times=1)
    args = dict(BASE, vmid=120, create_timeout=3)
    result = node.run_task(MOD, args)
    err = failed(result, "timeout")
    assert result["_elapsed"] < 15, "killed at the bound, not after the hang"
    assert "`pct create 120 %s" % TEMPLATE in err["message"]
    assert "ran longer than create_timeout (3 s) and was killed" in err["message"]
    assert err["cmd"].startswith("pct create 120 ") and err["rc"] == 124
    assert "Raise create_timeout" in err["hint"]
    # the hang struck before pct did anything: nothing is left, the re-run converges
    assert node.conf(120) is None and datasets(node, 120) == []
    assert converges(node, args)["changed"] is True


def test_command_timeout_bounds_other_commands(fresh_node):
    node = fresh_node
    assert not node.run_task(MOD, dict(BASE, vmid=121)).get("failed")
    node.fault("pct set 121 *", hang=20, times=1)
    result = node.run_task(MOD, dict(BASE, vmid=121, memory=700, command_timeout=2, create_timeout=600))
    err = failed(result, "timeout")
    assert "`pct set 121 --memory 700` ran longer than command_timeout (2 s)" in err["message"]
    converges(node, dict(BASE, vmid=121, memory=700))


def test_create_killed_by_its_bound_mid_extraction_heals_by_the_hint(fresh_node):
    """The issue's reproduction: pct create dies while `lock: create` is on disk. The error names the
    half-made state and the repair; health flags it; following the hint ends converged and clean."""
    node = fresh_node
    phase_fault(node, "pct create 130 *", "during-extract", "--hang", 30, "--times", 1)
    args = dict(BASE, vmid=130, hostname="heal01")
    result = node.run_task(MOD, dict(args, create_timeout=3))
    err = failed(result, "timeout")
    assert "ran longer than create_timeout (3 s)" in err["message"]
    assert "left CT 130 half-made: its config holds only `lock: create`" in err["message"]
    assert "repair: [stale_locks]" in err["hint"] and "Do not run a bare `pct unlock 130`" in err["hint"]
    assert node.conf(130) == "lock: create\n" and datasets(node, 130) == ["rpool/data/subvol-130-disk-0"]

    # the module refuses to build on it, with the same way out
    again = node.run_task(MOD, args)
    err = failed(again, "locked")
    assert "half-made" in err["message"] and "repair: [stale_locks]" in err["hint"]
    assert again["_calls"] == [] and node.conf(130) == "lock: create\n"

    seen = health(node)
    assert statuses(seen)["stale_locks"] == "warn"
    assert "CT 130 (lock: create" in {c["name"]: c for c in seen["checks"]}["stale_locks"]["detail"]

    repaired = health(node, repair=["stale_locks"])
    assert repaired["changed"] is True and [r["result"] for r in repaired["repairs"]] == ["removed"]
    assert node.conf(130) is None and datasets(node, 130) == []
    assert set(statuses(repaired).values()) == {"ok"}, repaired["checks"]

    made = converges(node, args)
    assert made["changed"] is True and "hostname: heal01" in node.conf(130)


def test_bare_unlock_then_update_is_refused_with_the_way_out(fresh_node):
    """What the old hint produced: `pct unlock` of a placeholder, then a `pct set`. nexcage no longer
    'updates' it; health names the config without rootfs and the orphan volume; the repairs heal."""
    node = fresh_node
    phase_fault(node, "pct create 140 *", "after-alloc", "--kill", "--times", 1)
    args = dict(BASE, vmid=140, hostname="heal02")
    err = failed(node.run_task(MOD, args), "unknown")
    assert "left CT 140 half-made: its config holds only `lock: create`" in err["message"]
    assert node.conf(140) == "lock: create\n"
    assert node.sh("pct", "unlock", "140").returncode == 0
    assert node.sh("pct", "set", "140", "--hostname", "heal02").returncode == 0

    result = node.run_task(MOD, args)
    err = failed(result, "unsupported")
    assert "it is half-made: its config has no rootfs (keys: hostname)" in err["message"]
    assert "repair: [half_made]" in err["hint"] and result["_calls"] == []

    seen = {c["name"]: c for c in health(node)["checks"]}
    assert seen["half_made"]["status"] == "warn" and "CT 140: its config has no rootfs" in seen["half_made"]["detail"]
    orphans = seen["orphan_volumes"]
    assert orphans["status"] == "warn"
    assert "local-zfs:subvol-140-disk-0 (CT 140's config does not name it)" in orphans["detail"]

    alone = health(node, repair=["half_made"], check=True)
    assert [c for c in alone["commands"] if c.startswith("pct ")] == ["pct destroy 140"]
    assert node.conf(140) is not None, "check mode changes nothing"

    healed = health(node, repair=["half_made", "orphan_volumes"])
    assert [(r["check"], r["result"]) for r in healed["repairs"]] == [
        ("half_made", "removed"),
        ("orphan_volumes", "destroyed"),
    ]
    assert node.conf(140) is None and datasets(node, 140) == []
    assert set(statuses(healed).values()) == {"ok"}, healed["checks"]
    converges(node, args)


def test_orphan_volume_is_reported_not_destroyed_unasked(fresh_node):
    node = fresh_node
    assert node.sh("zfs", "create", "rpool/data/subvol-150-disk-0").returncode == 0
    assert node.sh("zfs", "create", "rpool/data/keepme").returncode == 0
    for repair in ((), ("stale_locks", "half_made")):
        result = health(node, repair=repair)
        orphans = {c["name"]: c for c in result["checks"]}["orphan_volumes"]
        assert (
            orphans["status"] == "warn" and "local-zfs:subvol-150-disk-0 (VMID 150 does not exist)" in orphans["detail"]
        )
        assert "pct rescan" in orphans["remedy"] and result["changed"] is False
    assert datasets(node, 150) == ["rpool/data/subvol-150-disk-0"]
    planned = health(node, repair=["orphan_volumes"], check=True)
    assert "zfs destroy rpool/data/subvol-150-disk-0" in planned["commands"] and datasets(node, 150)
    done = health(node, repair=["orphan_volumes"])
    assert [r["result"] for r in done["repairs"]] == ["destroyed"] and datasets(node, 150) == []
    assert "rpool/data/keepme" in node.sh("zfs", "list", "-H", "-o", "name").stdout, "not a guest volume: untouched"
    assert health(node, repair=["orphan_volumes"])["changed"] is False
