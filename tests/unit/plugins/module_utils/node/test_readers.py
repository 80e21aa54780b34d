"""_node.readers: node files as data, without a tool call."""

import json
import os

from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths, readers


def test_missing_files_read_as_empty(node_root):
    assert readers.read_vmlist() == {}
    assert readers.read_storage_cfg() == {}
    assert readers.read_ct_config(100) is None
    assert readers.ct_config(100) is None
    assert readers.ct_exists(100) is False
    assert readers.running_vmids() == set()
    assert readers.vmid_range() == (100, 1000000)


def test_vmlist_and_storage(node_root):
    etc = node_root / "etc/pve"
    (etc / ".vmlist").write_text(
        json.dumps({"version": 3, "ids": {"101": {"node": "pve", "type": "lxc", "version": 1}}})
    )
    (etc / "storage.cfg").write_text(
        "dir: local\n\tpath /var/lib/vz\n\tcontent vztmpl\n\nzfspool: tank\n\tpool rpool\n"
    )
    assert readers.read_vmlist() == {101: {"node": "pve", "type": "lxc", "version": 1}}
    assert readers.storage_path("local") == "/var/lib/vz"
    assert readers.storage_path("tank") is None
    assert readers.storage_path("nope") is None
    assert readers.storage_path("x", {"x": {"path": "/x"}}) == "/x"


def test_ct_config_and_hostnames(node_root):
    lxc = node_root / "etc/pve/lxc"
    (lxc / "101.conf").write_text("hostname: web\nmemory: 512\n\n[snap]\nhostname: old\n")
    (lxc / "102.conf").write_text("memory: 256\n")
    (lxc / "notes.conf").write_text("hostname: nope\n")
    assert readers.read_ct_config(101).startswith("hostname: web")
    assert readers.ct_config(101)["memory"] == 512
    assert readers.ct_exists(101)
    assert readers.ct_hostnames() == {101: "web", 102: "CT102"}


def test_only_config_files_named_by_a_vmid_are_containers(node_root):
    """'0101.conf' and '<101 in Arabic-Indic digits>.conf' are no containers (int() reads both as 101)."""
    lxc = node_root / "etc/pve/lxc"
    (lxc / "101.conf").write_text("hostname: web\n")
    (lxc / "0101.conf").write_text("hostname: zero\n")
    (lxc / "\u0661\u0660\u0661.conf").write_text("hostname: spoof\n")
    (lxc / "99.conf").write_text("hostname: low\n")
    assert readers.ct_hostnames() == {101: "web"}


def test_conf_vmid():
    assert paths.conf_vmid("/etc/pve/lxc/101.conf") == 101
    assert paths.conf_vmid("999999999.conf") == 999999999
    for name in ("0101.conf", "99.conf", "1000000000.conf", "\u0661\u0660\u0661.conf", "+101.conf", "101.conf.tmp",
                 "101.conf\n", " 101.conf", "101", "notes.conf"):  # fmt: skip
        assert paths.conf_vmid(name) is None, name


def test_name_and_volume_vmid():
    """The one rule of a VMID in a name (pve-vmid: ASCII, 100..999999999, no leading zero) and the volume
    names PVE's storage plugins take an owner from."""
    assert paths.name_vmid("101") == 101 and paths.name_vmid("999999999") == 999999999
    for name in ("0101", "99", "1000000000", "\u0661\u0660\u0661", "+101", "101 ", "101\n", "", "abc"):
        assert paths.name_vmid(name) is None, name
    named = {"subvol-100-disk-0": 100, "vm-101-disk-1.qcow2": 101, "basevol-102-disk-0": 102,
             "base-103-disk-0.raw": 103, "vm-104-cloudinit": 104, "vm-105-state-suspend": 105}  # fmt: skip
    for name, vmid in named.items():
        assert paths.volume_vmid(name) == vmid, name
    for name in ("subvol-0100-disk-0", "vm-\u0661\u0660\u0661-disk-0", "vm-99-disk-0", "vm-100-", "ct-100-disk-0",
                 "base-100-disk-0/vm-101-disk-0", "vm-100-disk 0", "xvm-100-disk-0", "vm-100"):  # fmt: skip
        assert paths.volume_vmid(name) is None, name


def test_vmid_range_from_datacenter_cfg(node_root):
    (node_root / "etc/pve/datacenter.cfg").write_text("keyboard: en-us\nnext-id: lower=5000,upper=6000\n")
    assert readers.vmid_range() == (5000, 6000)


def test_running_vmids(node_root):
    (node_root / "proc_net_unix").write_text(
        "Num RefCount Protocol Flags Type St Inode Path\n"
        "0000: 00000002 00000000 00010000 0001 01 1 @/var/lib/lxc/101/command\n"
        "0000: 00000002 00000000 00010000 0001 01 2 @/var/lib/lxc/102/command.x\n"
        "0000: 00000002 00000000 00010000 0001 01 3 /run/other.sock\n"
    )
    assert readers.running_vmids() == {101}
    assert readers.is_running("101") and not readers.is_running(102)


def test_init_pid_from_cgroup(node_root):
    procs = node_root / "cgroup/lxc/101/ns"
    procs.mkdir(parents=True)
    (procs / "cgroup.procs").write_text("%d\n" % os.getpid())
    assert readers.init_pid_from_cgroup(101) == os.getpid()
    assert readers.init_pid_from_cgroup(102) is None


def test_local_node(node_root):
    (node_root / "etc/pve/local").symlink_to("nodes/pve1")
    assert readers.local_node() == "pve1"


def test_read_json(node_root):
    path = node_root / "x.json"
    assert readers.read_json(str(path), {}) == {}
    path.write_text("{bad")
    assert readers.read_json(str(path), {}) == {}
    path.write_text('{"a": 1}')
    assert readers.read_json(str(path)) == {"a": 1}


def test_template_files(tmp_path):
    cache = tmp_path / "template/cache"
    cache.mkdir(parents=True)
    for name in ("b.tar.zst", "a.tar.gz", "notes.txt"):
        (cache / name).write_text("")
    (cache / "dir.tar").mkdir()
    assert readers.template_files(str(cache), (".tar", ".tar.gz", ".tar.zst")) == ["a.tar.gz", "b.tar.zst"]
    assert readers.template_files(str(tmp_path / "missing"), (".tar",)) == []
    assert readers.has_file(str(cache / "a.tar.gz")) and not readers.has_file(str(cache / "dir.tar"))
