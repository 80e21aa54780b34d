"""The simulated runtime (PVESIM_RUNTIME=sim, or no LXC/not root): a state file, a fake pid,
exec via chroot, push/pull on the rootfs directory."""

import json
import os

import pytest
from test_runtime_support import BUSYBOX, Node

SIM = {"PVESIM_RUNTIME": "sim"}


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    return Node.init(tmp_path_factory.mktemp("sim") / "node")


def _pct(node, *args, **kw):
    return node.pct(*args, env=SIM, **kw)


@pytest.fixture
def ct(node):
    vmid = 4242
    r = _pct(node, "create", vmid, BUSYBOX, "--rootfs", "local-zfs:1", "--ostype", "unmanaged", "--unprivileged", "0")
    assert r.rc == 0, r.err
    yield vmid
    _pct(node, "destroy", vmid, "--force")


def test_start_status_stop_keep_state_in_run_pve(node, ct):
    assert _pct(node, "start", ct).rc == 0
    assert _pct(node, "status", ct).out == "status: running\n"
    with open(node.path("/run/pve/ct-%s.sim" % ct), encoding="utf-8") as f:
        fake_pid = json.load(f)["pid"]
    assert node.rt("pid", str(ct), env=SIM).value == {"result": fake_pid}
    assert _pct(node, "stop", ct).rc == 0
    assert _pct(node, "status", ct).out == "status: stopped\n"
    assert not os.path.exists(node.path("/run/pve/ct-%s.sim" % ct))


def test_exec_push_pull_work_on_the_rootfs_directory(node, ct, tmp_path):
    assert _pct(node, "start", ct).rc == 0
    src = tmp_path / "f"
    src.write_text("simulated\n")
    assert _pct(node, "push", ct, src, "/root/f", "--perms", "0600").rc == 0
    if os.geteuid() == 0:
        r = _pct(node, "exec", ct, "--", "sh", "-c", "cat /root/f; exit 4")
        assert (r.rc, r.out) == (4, "simulated\n")
    else:
        r = _pct(node, "exec", ct, "--", "true")
        assert r.rc != 0
        assert "chroot needs root" in r.err
    dst = tmp_path / "back"
    assert _pct(node, "pull", ct, "/root/f", dst).rc == 0
    assert dst.read_text() == "simulated\n"
    r = _pct(node, "shutdown", ct)
    assert r.rc == 0
    assert _pct(node, "status", ct).out == "status: stopped\n"


def test_missing_bridge_fails_in_sim_mode_too(node):
    vmid = 4343
    r = _pct(
        node,
        "create",
        vmid,
        BUSYBOX,
        "--rootfs",
        "local-zfs:1",
        "--ostype",
        "unmanaged",
        "--net0",
        "name=eth0,bridge=vmbr9",
    )
    assert r.rc == 0, r.err
    try:
        r = _pct(node, "start", vmid)
        assert (r.rc, r.err) == (255, "bridge 'vmbr9' does not exist\n")
    finally:
        _pct(node, "destroy", vmid, "--force")
