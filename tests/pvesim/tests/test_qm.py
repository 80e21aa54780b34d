"""`qm list` contract (pve-cli-facts §9); VMs come from `pvesim seed-vm`."""

import pytest
from test_storage_support import Node

HEADER = "      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       \n"


@pytest.fixture
def node(tmp_path):
    return Node.init(tmp_path)


def test_s9_qm_list_prints_nothing_without_vms(node):
    r = node.run("qm", "list")
    assert (r.rc, r.out, r.err) == (0, "", "")


def test_s9_qm_list_layout_sorted_by_vmid(node):
    for vmid in ("205", "101"):
        assert node.pvesim("seed-vm", "--root", node.root, vmid).rc == 0
    node.write(
        "/etc/pve/nodes/pve/qemu-server/300.conf",
        "boot: order=virtio0;net0\nmemory: 4096\nname: a-very-long-virtual-machine-name\n"
        "virtio0: local-zfs:vm-300-disk-0,size=1536M\n",
    )
    r = node.run("qm", "list")
    assert (r.rc, r.err) == (0, "")
    assert r.out == (
        HEADER
        + "       101 vm101                stopped    2048              32.00 0         \n"
        + "       205 vm205                stopped    2048              32.00 0         \n"
        + "       300 a-very-long-virtual- stopped    4096               1.50 0         \n"
    )


def test_s1_qm_unknown_command(node):
    r = node.run("qm", "start", "100")
    assert r.rc == 255
    assert r.err.startswith("ERROR: unknown command 'qm start'\nUSAGE: qm <COMMAND> [ARGS] [OPTIONS]\n\n")
