"""The `pvesim` admin commands: calls, fault, seed-vm, and PVESIM_LATENCY_MS."""

import json
import time

import pytest
from test_storage_support import Node


@pytest.fixture
def node(tmp_path):
    return Node.init(tmp_path)


def _calls(node):
    r = node.pvesim("calls", "--root", node.root, "--json")
    assert r.rc == 0, r
    return json.loads(r.out)


# ---------------------------------------------------------------- calls


def test_admin_calls_empty_then_logged_with_argv_rc_and_duration(node):
    assert _calls(node) == []
    node.batch(
        ["pvesm", "status", "--storage", "local"], ["pvesm", "status", "--storage", "nope"], ["zfs", "list", "-H"]
    )
    calls = _calls(node)
    assert [c["argv"] for c in calls] == [
        ["pvesm", "status", "--storage", "local"],
        ["pvesm", "status", "--storage", "nope"],
        ["zfs", "list", "-H"],
    ]
    assert [c["rc"] for c in calls] == [0, 255, 0]
    assert [c["tool"] for c in calls] == ["pvesm", "pvesm", "zfs"]
    for c in calls:
        assert c["duration"] >= 0 and c["start"] > 1e9
    assert calls[0]["start"] <= calls[1]["start"] <= calls[2]["start"]


def test_admin_calls_text_format(node):
    node.run("pvesm", "status", "--storage", "nope")
    r = node.pvesim("calls", "--root", node.root)
    assert r.rc == 0
    line = r.out.rstrip("\n")
    assert line.endswith("s rc=255 pvesm status --storage nope")
    assert float(line.split("s rc=")[0]) >= 0


# ---------------------------------------------------------------- fault


def test_admin_fault_rc_and_stderr_then_clear(node):
    r = node.pvesim("fault", "--root", node.root, "add", "--match", "pvesm status", "--stderr", "boom", "--rc", "5")
    assert r.rc == 0
    r = node.batch(["pvesm", "status"], ["pvesm", "status", "--storage", "local"], ["pvesm", "list", "local"])
    assert (r[0].rc, r[0].out, r[0].err) == (5, "", "boom\n")
    assert (r[1].rc, r[1].err) == (5, "boom\n")  # a prefix of the command line matches
    assert r[2].rc == 0
    assert [c["rc"] for c in _calls(node)] == [5, 5, 0]
    assert node.pvesim("fault", "--root", node.root, "clear").rc == 0
    r = node.run("pvesm", "status")
    assert r.rc == 0 and r.out.startswith("Name ")


def test_admin_fault_times_and_glob(node):
    node.pvesim(
        "fault", "--root", node.root, "add", "--match", "zfs destroy *", "--stderr", "nope", "--rc", "1", "--times", "1"
    )
    r = node.batch(
        ["zfs", "create", "rpool/data/x"],
        ["zfs", "destroy", "rpool/data/x"],
        ["zfs", "destroy", "rpool/data/x"],
    )
    assert (r[1].rc, r[1].err) == (1, "nope\n")
    assert (r[2].rc, r[2].err) == (0, "")


def test_admin_fault_default_rc_is_255(node):
    node.pvesim("fault", "--root", node.root, "add", "--match", "pveam update", "--stderr", "down")
    r = node.run("pveam", "update")
    assert (r.rc, r.out, r.err) == (255, "", "down\n")


def test_admin_fault_hang_delays_then_runs(node):
    node.pvesim("fault", "--root", node.root, "add", "--match", "pvesh get /cluster/nextid", "--hang", "0.6")
    t0 = time.monotonic()
    r = node.run("pvesh", "get", "/cluster/nextid")
    assert time.monotonic() - t0 >= 0.6
    assert (r.rc, r.out) == (0, "100\n")
    assert _calls(node)[0]["duration"] >= 0.6


# ---------------------------------------------------------------- seed-vm


def test_admin_seed_vm_registers_a_qemu_guest(node):
    r = node.pvesim("seed-vm", "--root", node.root, "101")
    assert (r.rc, r.err) == (0, "")
    vmlist = node.read("/etc/pve/.vmlist")
    assert '"101": { "node": "pve", "type": "qemu", "version": 2 }' in vmlist
    assert "name: vm101\n" in node.read("/etc/pve/nodes/pve/qemu-server/101.conf")
    r = node.run("pvesh", "get", "/cluster/nextid", "--vmid", "101")
    assert "vmid: VM 101 already exists\n" in r.err


def test_admin_seed_vm_ids_are_unique_across_cts_and_vms(node):
    assert node.pvesim("seed-vm", "--root", node.root, "101").rc == 0
    r = node.pvesim("seed-vm", "--root", node.root, "101")
    assert (r.rc, r.err) == (1, "pvesim: VMID 101 is already taken\n")
    # a CT's VMID (registered as pct create does) cannot be seeded either
    r = node.run(
        "python3",
        "-c",
        "import sys; sys.path.insert(0, sys.argv[1]); from pvesim import node; node.register_guest(102, 'lxc')",
        _pvesim_dir(),
    )
    assert r.rc == 0
    r = node.pvesim("seed-vm", "--root", node.root, "102")
    assert (r.rc, r.err) == (1, "pvesim: VMID 102 is already taken\n")


def test_admin_seeded_vm_blocks_pct_create(node):
    assert node.pvesim("seed-vm", "--root", node.root, "101").rc == 0
    r = node.run("pct", "create", "101", "local:vztmpl/busybox-1.35_amd64.tar.zst", "--rootfs", "local-zfs:1")
    assert r.rc != 0
    assert "VM 101 already exists on node 'pve'" in r.err


def _pvesim_dir():
    from test_storage_support import PVESIM_DIR

    return PVESIM_DIR


# ---------------------------------------------------------------- latency


def test_admin_latency_env_delays_pve_tools_only(node):
    env = {"PVESIM_LATENCY_MS": "400"}
    node.batch(["pvesm", "status"], ["zfs", "list", "-H"], env=env)
    pvesm, zfs = _calls(node)
    assert pvesm["duration"] >= 0.4
    assert zfs["argv"] == ["zfs", "list", "-H"]
    env = {"PVESIM_LATENCY_MS": "3000"}
    t0 = time.monotonic()
    node.run("zfs", "list", "-H", env=env)
    assert time.monotonic() - t0 < 3.0  # zfs/zpool are not PVE tools: no start-up latency
    assert _calls(node)[-1]["duration"] < 3.0


def test_admin_latency_applies_to_each_pve_tool(node):
    node.batch(
        ["pvesm", "status"],
        ["pveam", "available"],
        ["pvesh", "get", "/cluster/nextid"],
        ["qm", "list"],
        env={"PVESIM_LATENCY_MS": "300"},
    )
    calls = _calls(node)
    assert [c["tool"] for c in calls] == ["pvesm", "pveam", "pvesh", "qm"]
    assert all(c["duration"] >= 0.3 for c in calls)


# ---------------------------------------------------------------- misuse gives a message, not a traceback


def test_admin_init_on_an_existing_node_refuses_without_traceback(node):
    r = node.pvesim("init", node.root)
    assert r.rc == 1
    assert "already a simulated node" in r.err
    assert "Traceback" not in r.err


def test_admin_fault_times_must_be_positive(node):
    r = node.pvesim("fault", "--root", node.root, "add", "--match", "pvesm status", "--rc", "3", "--times", "0")
    assert r.rc == 2 and "must be 1 or more" in r.err
    assert node.run("pvesm", "status").rc == 0  # nothing was added


def test_admin_seed_vm_refuses_a_vmid_out_of_range(node):
    r = node.pvesim("seed-vm", "--root", node.root, "5")
    assert r.rc == 2 and "outside 100..999999999" in r.err
    assert '"5"' not in node.read("/etc/pve/.vmlist")


def test_admin_bad_latency_value_is_ignored_with_a_warning(node):
    r = node.run("pvesm", "status", "--storage", "local", env={"PVESIM_LATENCY_MS": "abc"})
    assert r.rc == 0
    assert "ignoring PVESIM_LATENCY_MS='abc'" in r.err
    assert "Traceback" not in r.err
