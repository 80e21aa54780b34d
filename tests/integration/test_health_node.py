"""nexcage_health against a simulated node (pvesim run): every check ok on a fresh node,
warn/fail with the right remedy when broken, and repairs that fix what they name and nothing else."""

import pathlib
import subprocess
import sys

import pytest
from integration_conftest import PVESIM

from ansible_collections.cageforge.nexcage.plugins.module_utils._health.checks import CHECKS
from pvesim import zfsdb

MODULE = "nexcage_health"
TEMPLATE = "local:vztmpl/busybox-1.35_amd64.tar.zst"


@pytest.fixture
def node(fresh_node):
    """Tests here break the node on purpose: a fresh node per test (tests/integration/conftest.py)."""
    return fresh_node


@pytest.fixture
def vmids():
    # Plain VMIDs: the stale checks look at the node's processes (a pct naming the VMID is a live task)
    # and LXC sockets, and each simulated node has its own PID and network namespaces.
    return [100, 101, 102, 103]


def run_task(node, args=None, check=False):
    return node.run_task(MODULE, args or {}, check=check)


def sh(node, *argv):
    return node.sh(*argv)


def host(node, path):
    """The host path of the node's path."""
    return pathlib.Path(node.path(path))


def checks(result):
    return {c["name"]: c for c in result["checks"]}


def conf_path(node, vmid):
    return host(node, "/etc/pve/nodes/pve/lxc/%s.conf" % vmid)


def pct_create(node, vmid, *extra):
    res = sh(node, "pct", "create", str(vmid), TEMPLATE, "--rootfs", "local-zfs:1", "--ostype", "unmanaged", *extra)
    assert res.returncode == 0, res.stderr


def add_line(node, vmid, line):
    path = conf_path(node, vmid)
    path.write_text(path.read_text() + line + "\n")


def zfs_exists(node, name):
    return sh(node, "zfs", "list", "-H", "-o", "name", name).returncode == 0


def test_fresh_node_every_check_ok(node):
    res = run_task(node)
    assert not res.get("failed"), res["msg"]
    assert [(c["name"], c["status"]) for c in res["checks"]] == [(n, "ok") for n in CHECKS], res["checks"]
    assert res["changed"] is False
    assert res["summary"] == {
        "status": "ok",
        "total": len(CHECKS),
        "ok": len(CHECKS),
        "warn": 0,
        "fail": 0,
        "failing": [],
    }
    assert res["commands"] == [
        "pvesm status",
        "zpool list -H -o name,health",
        "zpool status -x",
        "zfs list -H -o name -t filesystem,volume -d 1 rpool/data",
    ]
    assert res["repairs"] == []
    assert checks(res)["quorum"]["detail"].startswith("standalone node")
    check = run_task(node, check=True)
    assert check["changed"] is False and check["summary"]["ok"] == len(CHECKS)


def test_checks_selects_a_subset(node):
    res = run_task(node, {"checks": ["tools", "cgroup"]})
    assert [c["name"] for c in res["checks"]] == ["tools", "cgroup"]
    assert res["commands"] == []


def test_degraded_pool_warns_and_gates_with_fail_on_warn(node):
    zfsdb.set_pool_health("rpool", "DEGRADED", root=node.root)
    res = run_task(node, {"checks": ["zfs_pools"]})
    assert not res.get("failed")
    pools = checks(res)["zfs_pools"]
    assert pools["status"] == "warn"
    assert pools["detail"].startswith("rpool is DEGRADED; zpool status -x:")
    assert "zpool status -v" in pools["remedy"] and "zpool replace" in pools["remedy"]
    gate = run_task(node, {"fail_on": "warn"})
    assert gate["failed"] is True
    assert gate["summary"]["failing"] == ["zfs_pools"]
    assert gate["msg"].startswith("node health: 1 check(s) at or above 'warn': zfs_pools (warn): rpool is DEGRADED")


def test_faulted_pool_fails(node):
    zfsdb.set_pool_health("rpool", "FAULTED", root=node.root)
    res = run_task(node, {"checks": ["zfs_pools", "tools"]})
    assert res["failed"] is True
    assert checks(res)["zfs_pools"]["status"] == "fail"
    assert res["summary"]["failing"] == ["zfs_pools"]


def test_inactive_storage_fails(node):
    cfg = host(node, "/etc/pve/storage.cfg")
    cfg.write_text(cfg.read_text() + "\ndir: backups\n\tpath /mnt/nexcage-test-gone\n\tcontent backup\n")
    res = run_task(node, {"checks": ["storage", "template_storage"]})
    assert res["failed"] is True
    storage = checks(res)["storage"]
    assert storage["status"] == "fail" and storage["detail"] == "backups is inactive"
    assert "pvesm status --storage <id>" in storage["remedy"]
    assert checks(res)["template_storage"]["status"] == "ok"
    assert res["msg"] == "node health: 1 check(s) at or above 'fail': storage (fail): backups is inactive"


def test_low_and_full_storage(node):
    host(node, "/rpool/data/fill.bin").write_bytes(b"\1" * 900000)
    assert sh(node, "zfs", "set", "quota=1M", "rpool/data").returncode == 0
    res = run_task(node, {"checks": ["storage"], "min_free_percent": 10})
    storage = checks(res)["storage"]
    assert storage["status"] == "warn", storage
    assert storage["detail"].startswith("local-zfs has ") and storage["detail"].endswith("% free (below 10%)")
    assert "min_free_percent" in storage["remedy"]
    used = sh(node, "zfs", "get", "-H", "-p", "-o", "value", "used", "rpool/data").stdout.strip()
    assert sh(node, "zfs", "set", "quota=%s" % used, "rpool/data").returncode == 0
    res = run_task(node, {"checks": ["storage"]})
    assert res["failed"] is True
    assert checks(res)["storage"]["detail"] == "local-zfs is full (0 KiB available)"


def test_pvesm_failure_is_reported(node):
    node.fault("pvesm status", stderr="ipcc_send_rec[1] failed: Connection refused", rc=255)
    res = run_task(node, {"checks": ["storage"]})
    storage = checks(res)["storage"]
    assert storage["status"] == "fail"
    assert storage["detail"] == "`pvesm status` failed (rc 255): ipcc_send_rec[1] failed: Connection refused"


def test_no_template_storage(node):
    cfg = host(node, "/etc/pve/storage.cfg")
    cfg.write_text(cfg.read_text().replace("iso,vztmpl,backup", "iso,backup"))
    res = run_task(node, {"checks": ["template_storage"]})
    result = checks(res)["template_storage"]
    assert result["status"] == "fail" and "pvesm set local --content iso,vztmpl,backup" in result["remedy"]


def test_missing_bridge_fails(node, vmids):
    pct_create(node, vmids[0], "--net0", "name=eth0,bridge=vmbr0")
    pct_create(node, vmids[1], "--net0", "name=eth0,bridge=vmbr9")
    res = run_task(node, {"checks": ["bridges"]})
    assert res["failed"] is True
    bridges = checks(res)["bridges"]
    assert bridges["detail"] == "CT %s net0: bridge vmbr9 does not exist" % vmids[1]
    assert "ifreload -a" in bridges["remedy"] and "pct set <vmid> --netN" in bridges["remedy"]


def test_subid_mappings_for_unprivileged(node, vmids):
    pct_create(node, vmids[0])  # unprivileged by default
    assert checks(run_task(node, {"checks": ["subids"]}))["subids"]["status"] == "ok"
    host(node, "/etc/subgid").write_text("")
    res = run_task(node, {"checks": ["subids"]})
    subids = checks(res)["subids"]
    assert subids["status"] == "fail"
    assert subids["detail"] == "CT %s needs root:100000:65536 in /etc/subgid" % vmids[0]
    assert "root:100000:65536" in subids["remedy"]


def test_duplicate_vmid_fails(node, vmids):
    pct_create(node, vmids[0])
    other = host(node, "/etc/pve/nodes/pve2/qemu-server")
    other.mkdir(parents=True)
    (other / ("%s.conf" % vmids[0])).write_text("memory: 512\n")
    res = run_task(node, {"checks": ["duplicate_vmid"]})
    dup = checks(res)["duplicate_vmid"]
    assert dup["status"] == "fail"
    assert dup["detail"] == "duplicated VMID(s): VMID %d: nodes/pve/lxc/%d.conf, nodes/pve2/qemu-server/%d.conf" % (
        vmids[0],
        vmids[0],
        vmids[0],
    )


# ---------------------------------------------------------------- stale state and locks, repair


def stale_setup(node, vmids):
    """vmids[0]: CT stuck in lock create; vmids[1]: CT stuck in lock destroyed (placeholder only);
    vmids[2]: CT in lock backup (not stale-able); vmids[3]: a state.json without a CT."""
    pct_create(node, vmids[0])
    add_line(node, vmids[0], "lock: create")
    pct_create(node, vmids[1])
    conf_path(node, vmids[1]).write_text("lock: destroyed\n")
    pct_create(node, vmids[2])
    add_line(node, vmids[2], "lock: backup")
    state = host(node, "/run/nexcage/%d" % vmids[3])
    state.mkdir(parents=True)
    (state / "state.json").write_text("{}")
    kept = host(node, "/run/nexcage/%d" % vmids[2])
    kept.mkdir(parents=True)
    (kept / "state.json").write_text("{}")


def test_stale_items_warn_with_remedy(node, vmids):
    stale_setup(node, vmids)
    res = run_task(node, {"checks": ["stale_state", "stale_locks"]})
    assert not res.get("failed")
    locks, state = checks(res)["stale_locks"], checks(res)["stale_state"]
    assert locks["status"] == "warn"
    assert locks[
        "detail"
    ] == "container(s) stuck with no task running: CT %d (lock: create), CT %d (lock: destroyed)" % (
        vmids[0],
        vmids[1],
    )
    assert "repair: [stale_locks]" in locks["remedy"] and "pct unlock <vmid>" in locks["remedy"]
    assert state["status"] == "warn"
    assert state["detail"] == "state of vanished container(s): /run/nexcage/%d/state.json" % vmids[3]
    assert "repair: [stale_state]" in state["remedy"]
    assert res["changed"] is False


def test_repair_stale_locks_check_mode_then_apply(node, vmids):
    stale_setup(node, vmids)
    disk1 = "rpool/data/subvol-%d-disk-0" % vmids[1]
    assert zfs_exists(node, disk1)
    args = {"checks": ["stale_state", "stale_locks"], "repair": ["stale_locks"]}
    check = run_task(node, args, check=True)
    assert check["changed"] is True and not check.get("failed")
    planned = [c for c in check["commands"] if c.startswith("pct ")]
    assert planned == [
        "pct unlock %d" % vmids[0],
        "pct destroy %d --destroy-unreferenced-disks 1" % vmids[0],
        "pct unlock %d" % vmids[1],
        "pct destroy %d --destroy-unreferenced-disks 1" % vmids[1],
    ]
    assert checks(check)["stale_locks"]["status"] == "ok"
    assert conf_path(node, vmids[0]).exists() and conf_path(node, vmids[1]).exists()

    apply = run_task(node, args)
    assert apply["changed"] is True and not apply.get("failed"), apply
    assert [r["result"] for r in apply["repairs"]] == ["removed", "removed"]
    assert not conf_path(node, vmids[0]).exists() and not conf_path(node, vmids[1]).exists()
    assert not zfs_exists(node, disk1)  # the placeholder config no longer named it: unreferenced disk
    # not named: untouched
    assert conf_path(node, vmids[2]).exists() and "lock: backup" in conf_path(node, vmids[2]).read_text()
    assert host(node, "/run/nexcage/%d/state.json" % vmids[3]).exists()
    assert checks(apply)["stale_locks"]["status"] == "ok"
    assert checks(apply)["stale_state"]["status"] == "warn"

    again = run_task(node, args)
    assert again["changed"] is False and again["repairs"] == []


def test_repair_stale_state_only(node, vmids):
    stale_setup(node, vmids)
    args = {"checks": [], "repair": ["stale_state"]}
    check = run_task(node, args, check=True)
    assert check["changed"] is True
    assert host(node, "/run/nexcage/%d" % vmids[3]).exists()
    res = run_task(node, args)
    assert res["changed"] is True
    assert [c["name"] for c in res["checks"]] == ["stale_state"]
    assert checks(res)["stale_state"]["status"] == "ok"
    assert not host(node, "/run/nexcage/%d" % vmids[3]).exists()
    assert host(node, "/run/nexcage/%d/state.json" % vmids[2]).exists()
    assert "lock: create" in conf_path(node, vmids[0]).read_text()
    assert res["commands"] == []
    assert run_task(node, args)["changed"] is False


def test_live_task_is_never_touched(node, vmids):
    stale_setup(node, vmids)
    # a process in the node whose command line is a pct command naming the VMID: PVE's own tasks look
    # like this; the same command line elsewhere on the machine (the host, another node) is not the node's
    task = [sys.executable, "-c", "import os, time; print(os.getpid(), flush=True); time.sleep(60)", "pct", "create"]
    worker = subprocess.Popen([PVESIM, "run", "--root", node.root, "--", *task, str(vmids[0])], stdout=subprocess.PIPE)
    elsewhere = subprocess.Popen([*task, str(vmids[1])], stdout=subprocess.PIPE)
    try:
        worker_pid = int(worker.stdout.readline())  # its pid in the node's PID namespace
        elsewhere.stdout.readline()
        res = run_task(node, {"checks": ["stale_locks"], "repair": ["stale_locks"]})
    finally:
        for proc in (worker, elsewhere):
            proc.kill()
            proc.wait()
    assert not res.get("failed"), res["msg"]
    assert [r["vmid"] for r in res["repairs"]] == [vmids[1]]
    assert "lock: create" in conf_path(node, vmids[0]).read_text()
    assert not conf_path(node, vmids[1]).exists()
    assert checks(res)["stale_locks"]["detail"].startswith(
        "locked by running tasks: CT %d lock create (pid %d (pct create %d))" % (vmids[0], worker_pid, vmids[0])
    )


def test_protected_container_is_skipped_and_reported(node, vmids):
    pct_create(node, vmids[0])
    add_line(node, vmids[0], "lock: create")
    add_line(node, vmids[0], "protection: 1")
    res = run_task(node, {"checks": [], "repair": ["stale_locks"]})
    assert res["failed"] is True
    assert "skipped: protection is set" in res["msg"]
    assert conf_path(node, vmids[0]).exists()
    assert res["changed"] is False


def test_through_ansible_playbook_as_a_gate(node):
    zfsdb.set_pool_health("rpool", "DEGRADED", root=node.root)
    ok = node.run_play(MODULE, {"checks": ["zfs_pools", "tools"]}, check=True)
    assert not ok.get("failed") and ok["changed"] is False, ok
    gate = node.run_play(MODULE, {"checks": ["zfs_pools", "tools"], "fail_on": "warn"})
    # the tree callback's copy of a failed result has no `failed` key: the recap says it
    assert "failed=1" in gate["_stdout"]
    assert gate["msg"].startswith("node health: 1 check(s) at or above 'warn': zfs_pools (warn): rpool is DEGRADED")


def test_min_free_percent_out_of_range(node):
    res = run_task(node, {"min_free_percent": 150})
    assert res["failed"] is True and res["msg"] == "min_free_percent must be between 0 and 100, got 150"
