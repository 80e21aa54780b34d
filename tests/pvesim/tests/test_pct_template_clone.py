"""pct template and pct clone as Proxmox VE does them (pve-container PVE/LXC.pm template_create,
PVE/API2/LXC.pm template and clone_vm; pve-storage create_base, clone_image, volume_has_feature):

- `pct template` makes every volume a base volume: on a ZFS pool `subvol-<vmid>-disk-<n>` is renamed
  `basevol-<vmid>-disk-<n>` with a snapshot `@__base__`; on a dir storage a `.subvol` directory keeps
  its name (Plugin.pm renames only `vm-` to `base-`). A bind mount has no template feature.
- `pct clone` of a template is linked by default: on ZFS `zfs clone <base>@__base__
  subvol-<newid>-disk-<n>` (refquota of the base), volume `<storage>:<base>/subvol-<newid>-disk-<n>`;
  a dir storage has no linked clone of a container volume (only `--full 1`), nor has a volume that
  is not a base volume. A base volume with linked clones cannot be freed.
"""

import json
import os

import pytest
from test_pct_support import BUSYBOX, Node, fake_running

DIR_STORAGE = "\ndir: ctdir\n\tpath /var/lib/vz/ctdir\n\tcontent rootdir,images\n"


@pytest.fixture
def node(tmp_path):
    return Node.init(tmp_path)


def pct(node, *args, **kw):
    return node.pct(*[str(a) for a in args], **kw)


def _zfs(node, name):
    with open(node.path("/var/lib/pvesim/zfs.json"), encoding="utf-8") as f:
        return json.load(f)["datasets"].get(name)


def _config(node, vmid):
    return dict(line.split(": ", 1) for line in node.conf(vmid).splitlines() if ": " in line)


def _template(node, vmid=100):
    node.create(vmid, "--mp0", "local-zfs:1,mp=/data", "--hostname", "tmpl")
    with open(node.path("/rpool/data/subvol-%d-disk-1/marker" % vmid), "w", encoding="utf-8") as f:
        f.write("data of the template\n")
    r = pct(node, "template", vmid)
    assert (r.rc, r.err) == (0, ""), r
    return r


def test_template_renames_zfs_volumes_to_base_volumes(node):
    _template(node)
    conf = _config(node, 100)
    assert conf["template"] == "1"
    assert conf["rootfs"] == "local-zfs:basevol-100-disk-0,size=1G"
    assert conf["mp0"] == "local-zfs:basevol-100-disk-1,mp=/data,size=1G"
    assert node.datasets() == [
        "rpool/data/basevol-100-disk-0",
        "rpool/data/basevol-100-disk-0@__base__",
        "rpool/data/basevol-100-disk-1",
        "rpool/data/basevol-100-disk-1@__base__",
    ]
    with open(node.path("/rpool/data/basevol-100-disk-1/marker"), encoding="utf-8") as f:
        assert f.read() == "data of the template\n", "the data moves with the rename"
    assert node.run("pvesm", "path", "local-zfs:basevol-100-disk-0").out.strip() == "/rpool/data/basevol-100-disk-0"
    r = pct(node, "template", 100)
    assert r.rc != 0 and r.err.endswith("you can't convert a template to a template\n"), r
    r = pct(node, "start", 100)
    assert r.rc != 0 and "you can't start a CT if it's a template" in r.err


def test_template_refusals_in_proxmox_order(node):
    node.create(100)
    with fake_running(node, 100):
        r = pct(node, "template", 100)
    assert r.rc != 0 and r.err.endswith("you can't convert a CT to template if the CT is running\n"), r
    node.create(102)
    # a bind mount has no template feature: the task fails (stderr), pct template exits 0, nothing renamed
    node.write_conf(102, node.conf(102) + "mp0: /srv,mp=/srv\n")
    r = pct(node, "template", 102)
    assert (r.rc, r.err) == (0, "Template feature is not available for '/srv'\n"), r
    assert "template" not in _config(node, 102) and "rpool/data/subvol-102-disk-0" in node.datasets()


def test_linked_clone_of_a_zfs_template(node):
    _template(node)
    r = pct(node, "clone", 100, 101, "--hostname", "linked")
    assert r.rc == 0, r
    assert r.out.splitlines() == [
        "creating a clone of container 100 with ID 101",
        "create linked clone of mount point rootfs (local-zfs:basevol-100-disk-0)",
        "create linked clone of mount point mp0 (local-zfs:basevol-100-disk-1)",
    ], r.out
    conf = _config(node, 101)
    assert conf["rootfs"] == "local-zfs:basevol-100-disk-0/subvol-101-disk-0,size=1G"
    assert conf["mp0"] == "local-zfs:basevol-100-disk-1/subvol-101-disk-1,mp=/data,size=1G"
    assert "template" not in conf and conf["hostname"] == "linked"
    clone = _zfs(node, "rpool/data/subvol-101-disk-1")
    assert clone["origin"] == "rpool/data/basevol-100-disk-1@__base__"
    assert clone["props"]["refquota"] == str(1 << 30)
    zfs = node.run("zfs", "get", "-H", "-o", "value", "origin", "rpool/data/subvol-101-disk-1")
    assert zfs.out == "rpool/data/basevol-100-disk-1@__base__\n", zfs
    with open(node.path("/rpool/data/subvol-101-disk-1/marker"), encoding="utf-8") as f:
        assert f.read() == "data of the template\n"
    listed = node.run("pvesm", "list", "local-zfs", "--vmid", "101").out
    assert "local-zfs:basevol-100-disk-0/subvol-101-disk-0 subvol" in listed, listed
    path = node.run("pvesm", "path", "local-zfs:basevol-100-disk-0/subvol-101-disk-0").out.strip()
    assert path == "/rpool/data/subvol-101-disk-0"
    r = pct(node, "start", 101, sim=True)
    assert r.rc == 0 and "running" in pct(node, "status", 101, sim=True).out, r
    assert pct(node, "stop", 101, sim=True).rc == 0

    # the base is in use: the template cannot go before its linked clone
    r = pct(node, "destroy", 100)
    assert r.rc != 0 and "base volume 'basevol-100-disk-" in r.err and "still in use by linked clones" in r.err, r
    assert node.conf(100) and "rpool/data/basevol-100-disk-0" in node.datasets()
    assert pct(node, "destroy", 101).rc == 0
    assert "rpool/data/subvol-101-disk-0" not in node.datasets()
    assert pct(node, "destroy", 100).rc == 0
    assert node.datasets() == []


def test_full_clone_of_a_template_and_no_linked_clone_of_a_plain_ct(node):
    _template(node)
    r = pct(node, "clone", 100, 102, "--full", "1", "--storage", "local-zfs")
    assert r.rc == 0, r
    assert "create full clone of mountpoint rootfs (local-zfs:basevol-100-disk-0)" in r.out
    conf = _config(node, 102)
    assert conf["rootfs"] == "local-zfs:subvol-102-disk-0,size=1G"
    assert "origin" not in _zfs(node, "rpool/data/subvol-102-disk-0")
    r = pct(node, "clone", 102, 103, "--full", "0")
    # clone_vm checks the keys in sorted order: mp0 before rootfs
    assert r.rc != 0 and r.err == "Linked clone feature for 'local-zfs:subvol-102-disk-1' is not available\n", r
    assert not node.vmlist().get("103") and "rpool/data/subvol-103-disk-0" not in node.datasets()


def test_dir_storage_template_keeps_its_subvol_name_and_has_no_linked_clone(node):
    with open(node.path("/etc/pve/storage.cfg"), "a", encoding="utf-8") as f:
        f.write(DIR_STORAGE)
    os.makedirs(node.path("/var/lib/vz/ctdir"))
    node.add_template(BUSYBOX)
    r = pct(node, "create", 100, BUSYBOX, "--rootfs", "ctdir:0", "--ostype", "unmanaged")
    assert r.rc == 0, r
    assert pct(node, "template", 100).rc == 0
    conf = _config(node, 100)
    assert conf["template"] == "1" and conf["rootfs"].startswith("ctdir:100/subvol-100-disk-0.subvol"), conf
    r = pct(node, "clone", 100, 101)
    assert r.rc != 0 and r.err == "Linked clone feature for 'ctdir:100/subvol-100-disk-0.subvol' is not available\n"
    assert pct(node, "clone", 100, 101, "--full", "1").rc == 0
    assert _config(node, 101)["rootfs"].startswith("ctdir:101/subvol-101-disk-0.subvol")
