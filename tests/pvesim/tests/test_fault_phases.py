"""Faults inside an operation (`pvesim fault add --at PHASE`): each phase leaves the state a real
node leaves when the command is killed (--kill) or fails there (PVE/API2/LXC.pm create_vm and
destroy_vm, PVE/LXC.pm destroy_lxc_container, OpenZFS's one-by-one `zfs destroy -r`)."""

import subprocess
import time

import pytest
from test_pct_support import BUSYBOX, PVESIM, Node
from test_runtime_support import real_lxc

KILLED = -9  # the command's own process was SIGKILLed (Popen's view through `pvesim run`'s exec chain)


@pytest.fixture
def node(tmp_path):
    n = Node.init(tmp_path)
    n.add_template(BUSYBOX)
    return n


def fault(node, match, *args):
    subprocess.run([PVESIM, "fault", "--root", node.root, "add", "--match", match, *args], check=True)


def create(node, vmid=100, *extra):
    return node.pct("create", str(vmid), BUSYBOX, "--rootfs", "local-zfs:1", "--ostype", "unmanaged", *extra)


def conf_or_none(node, vmid=100):
    try:
        return node.conf(vmid)
    except FileNotFoundError:
        return None


def files_of(node, dataset):
    out = subprocess.run(["find", node.path("/rpool/" + dataset)], capture_output=True, text=True, check=True)
    return len(out.stdout.splitlines())


def assert_rolled_back(node, r, phase):
    """A failed create: PVE's error path frees the volumes and removes the config (new CT)."""
    assert r.rc == 255
    assert r.err == "unable to create CT 100 - pvesim: injected failure at %s\n" % phase
    assert conf_or_none(node) is None
    assert "100" not in node.vmlist()
    assert node.datasets() == []


@pytest.mark.parametrize("phase", ["after-lock", "after-alloc", "during-extract", "after-config-write"])
def test_create_failing_at_a_phase_rolls_back(node, phase):
    fault(node, "pct create *", "--at", phase, "--times", "1")
    assert_rolled_back(node, create(node), phase)
    assert create(node).rc == 0  # the fault was used up
    assert node.pct("destroy", "100").rc == 0


def test_create_killed_after_lock_leaves_the_placeholder(node):
    fault(node, "pct create *", "--at", "after-lock", "--kill")
    assert create(node).rc == KILLED
    assert node.conf(100) == "lock: create\n"
    assert "100" in node.vmlist()
    assert node.datasets() == []


def test_create_killed_after_alloc_leaves_an_orphan_volume(node):
    fault(node, "pct create *", "--at", "after-alloc", "--kill", "--times", "1")
    assert create(node).rc == KILLED
    assert node.conf(100) == "lock: create\n"
    assert node.datasets() == ["rpool/data/subvol-100-disk-0"]
    assert files_of(node, "data/subvol-100-disk-0") == 1  # empty: nothing extracted yet


def test_create_killed_during_extract_leaves_a_half_extracted_volume(node):
    assert create(node, 101).rc == 0
    full = files_of(node, "data/subvol-101-disk-0")
    fault(node, "pct create 100 *", "--at", "during-extract", "--kill")
    r = create(node)
    assert r.rc == KILLED
    assert r.out.startswith("extracting archive '/var/lib/vz/template/cache/busybox-1.35_amd64.tar.zst'\n")
    assert node.conf(100) == "lock: create\n"
    assert 1 < files_of(node, "data/subvol-100-disk-0") < full


def test_create_killed_after_config_write_leaves_the_config_without_lock_and_defaults(node):
    fault(node, "pct create *", "--at", "after-config-write", "--kill")
    assert create(node, 100, "--memory", "256").rc == KILLED
    conf = node.conf(100)
    # PVE's "safe config (after OS detection)": rootfs, arch, ostype, the given options; the
    # placeholder's lock is not in the in-memory config; hostname/swap defaults come later
    assert "rootfs: local-zfs:subvol-100-disk-0,size=1G\n" in conf
    assert "arch: amd64\n" in conf and "ostype: unmanaged\n" in conf and "memory: 256\n" in conf
    assert "lock:" not in conf and "hostname:" not in conf and "swap:" not in conf
    assert node.datasets() == ["rpool/data/subvol-100-disk-0"]


def test_destroy_killed_after_the_first_volume_keeps_the_config_naming_both(node):
    assert create(node, 100, "--mp0", "local-zfs:1,mp=/data").rc == 0
    before = node.conf(100)
    fault(node, "pct destroy *", "--at", "after-volume", "--kill")
    assert node.pct("destroy", "100").rc == KILLED
    assert node.conf(100) == before  # no lock yet: PVE frees the volumes first
    assert node.datasets() == ["rpool/data/subvol-100-disk-0"]  # mp0 (sorted first) is gone, rootfs stays


def test_destroy_failing_after_the_second_volume(node):
    assert create(node, 100, "--mp0", "local-zfs:1,mp=/data").rc == 0
    fault(node, "pct destroy *", "--at", "after-volume", "--nth", "2", "--stderr", "storage went away")
    r = node.pct("destroy", "100")
    assert (r.rc, r.err) == (255, "storage went away\n")
    assert node.datasets() == []
    assert "rootfs: local-zfs:subvol-100-disk-0" in node.conf(100)


@pytest.mark.parametrize("kill", [True, False])
def test_destroy_after_lock_leaves_lock_destroyed(node, kill):
    assert create(node).rc == 0
    fault(node, "pct destroy *", "--at", "after-lock", "--times", "1", *(["--kill"] if kill else []))
    r = node.pct("destroy", "100")
    assert r.rc == (KILLED if kill else 255)
    assert node.conf(100) == "lock: destroyed\n"
    assert "100" in node.vmlist()
    assert node.datasets() == []
    # the way out a real node has: unlock, destroy again
    assert node.pct("unlock", "100").rc == 0
    assert node.pct("destroy", "100").rc == 0
    assert conf_or_none(node) is None


@pytest.mark.parametrize("kill", [True, False])
def test_zfs_destroy_between_children_keeps_what_is_gone_gone(node, kill):
    for name in ("p", "p/c1", "p/c2", "p/c3"):
        assert node.run("zfs", "create", "rpool/data/" + name).rc == 0
    fault(
        node,
        "zfs destroy *",
        "--at",
        "between-children",
        "--times",
        "1",
        *(["--kill"] if kill else ["--stderr", "I/O error"]),
    )
    r = node.run("zfs", "destroy", "-r", "rpool/data/p")
    assert r.rc == (KILLED if kill else 1)
    if not kill:
        assert r.err == "I/O error\n"
    left = node.run("zfs", "list", "-H", "-o", "name", "-r", "rpool/data/p").out.split()
    assert left == ["rpool/data/p", "rpool/data/p/c2", "rpool/data/p/c3"]  # c1 went first
    assert [n for n in ("c1", "c2", "c3") if not node.run("test", "-d", "/rpool/data/p/" + n).rc] == ["c2", "c3"]
    assert node.run("zfs", "destroy", "-r", "rpool/data/p").rc == 0


def test_kill_and_nth_need_at(node):
    r = subprocess.run(
        [PVESIM, "fault", "--root", node.root, "add", "--match", "pct create *", "--kill"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (r.returncode, r.stderr) == (2, "pvesim: --kill and --nth need --at PHASE\n")


@real_lxc
def test_start_failing_after_lxc_start_leaves_the_ct_running(node):
    assert create(node).rc == 0
    fault(node, "pct start *", "--at", "after-lxc-start", "--stderr", "hookscript post-start failed")
    r = node.pct("start", "100")
    assert (r.rc, r.err) == (255, "hookscript post-start failed\n")
    assert node.pct("status", "100").out == "status: running\n"
    assert node.pct("stop", "100").rc == 0


@real_lxc
def test_start_failing_before_the_hooks_finish_does_not_start(node):
    assert create(node).rc == 0
    fault(node, "pct start *", "--at", "before-hooks-finish", "--stderr", "hook: mount failed", "--times", "1")
    r = node.pct("start", "100")
    assert (r.rc, r.out, r.err) == (255, "hook: mount failed\n", "startup for container '100' failed\n")
    assert node.pct("status", "100").out == "status: stopped\n"
    assert node.pct("start", "100").rc == 0  # the fault was used up
    assert node.pct("stop", "100").rc == 0


@real_lxc
def test_start_killed_before_the_hooks_finish_still_starts_the_ct(node):
    assert create(node).rc == 0
    fault(node, "pct start *", "--at", "before-hooks-finish", "--kill")
    assert node.pct("start", "100").rc == KILLED
    deadline = time.monotonic() + 10
    while node.pct("status", "100").out != "status: running\n" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert node.pct("status", "100").out == "status: running\n"  # as systemd's unit goes on
    assert node.pct("stop", "100").rc == 0
