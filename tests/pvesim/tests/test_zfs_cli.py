"""Simulated `zfs` (OpenZFS 2.x): list, get, set, inherit, create, destroy, snapshot."""

import os

import pytest
from test_storage_support import Node

from pvesim import zfsdb


@pytest.fixture
def node(tmp_path):
    return Node.init(tmp_path)


def zfs(*args):
    return ["zfs"] + list(args)


# ---------------------------------------------------------------- list


def test_zfs_list_default_layout(node):
    avail, listing = node.batch(zfs("get", "-H", "-o", "value", "available", "rpool"), zfs("list"))
    a = avail.out.strip()
    assert listing.rc == 0 and listing.err == ""
    assert listing.out == (
        "NAME         USED  AVAIL     REFER  MOUNTPOINT\n"
        "rpool        192K  %5s       96K  /rpool\n"
        "rpool/data    96K  %5s       96K  /rpool/data\n" % (a, a)
    )


def test_zfs_list_scripted_parsable(node):
    avail, listing = node.batch(zfs("get", "-Hp", "-o", "value", "available", "rpool"), zfs("list", "-H", "-p"))
    a = avail.out.strip()
    assert int(a) > 0
    assert listing.out == "rpool\t196608\t%s\t98304\t/rpool\nrpool/data\t98304\t%s\t98304\t/rpool/data\n" % (a, a)


def test_zfs_list_columns_types_depth_and_sort(node):
    r = node.batch(
        zfs("create", "-o", "quota=1G", "rpool/data/b"),
        zfs("create", "rpool/data/a"),
        zfs("create", "rpool/data/a/deep"),
        zfs("snapshot", "rpool/data/a@s1"),
        zfs("list", "-H", "-o", "name,quota", "-r", "rpool/data"),
        zfs("list", "-H", "-o", "name", "-d", "1", "rpool/data"),
        zfs("list", "-H", "-o", "name", "-t", "all", "-r", "rpool/data"),
        zfs("list", "-H", "-o", "name", "-t", "snapshot"),
        zfs("list", "-H", "-o", "name", "-t", "snapshot", "rpool/data/a"),
        zfs("list", "-H", "-o", "name", "-S", "name", "-r", "rpool/data"),
        zfs("list", "-o", "name,quota", "rpool/data/b"),
        zfs("list", "-H", "-o", "name,bogus"),
    )
    assert [x.rc for x in r[:4]] == [0, 0, 0, 0]
    assert r[4].out == "rpool/data\tnone\nrpool/data/a\tnone\nrpool/data/a/deep\tnone\nrpool/data/b\t1G\n"
    assert r[5].out == "rpool/data\nrpool/data/a\nrpool/data/b\n"
    assert r[6].out == "rpool/data\nrpool/data/a\nrpool/data/a@s1\nrpool/data/a/deep\nrpool/data/b\n"
    assert r[7].out == "rpool/data/a@s1\n"
    assert r[8].out == "rpool/data/a@s1\n"
    assert r[9].out == "rpool/data/b\nrpool/data/a/deep\nrpool/data/a\nrpool/data\n"
    assert r[10].out == "NAME          QUOTA\nrpool/data/b     1G\n"
    assert r[11].rc == 2
    assert r[11].err.startswith("bad property list: invalid property 'bogus'\nusage:\n\tlist ")


def test_zfs_list_missing_dataset_and_missing_pool(node):
    r = node.batch(zfs("list", "rpool/nope"), zfs("list", "nopool/x"), zfs("list", "-H", "-t", "snapshot"))
    assert (r[0].rc, r[0].out, r[0].err) == (1, "", "cannot open 'rpool/nope': dataset does not exist\n")
    assert (r[1].rc, r[1].err) == (1, "cannot open 'nopool/x': dataset does not exist\n")
    assert (r[2].rc, r[2].out) == (0, "")


def test_zfs_list_no_datasets_message(node):
    r = node.run("zfs", "list", "-t", "snapshot")
    assert (r.rc, r.out, r.err) == (0, "", "no datasets available\n")


# ---------------------------------------------------------------- get


def test_zfs_get_native_defaults_and_sources(node):
    r = node.batch(
        zfs("create", "rpool/data/x"),
        zfs(
            "get",
            "-H",
            "-p",
            "-o",
            "name,property,value,source",
            "type,quota,refquota,reservation,refreservation,compression,recordsize,mountpoint,mounted,atime,"
            "acltype,xattr,canmount,relatime,compressratio,referenced",
            "rpool/data/x",
        ),
    )
    assert r[1].rc == 0
    assert r[1].out == (
        "rpool/data/x\ttype\tfilesystem\t-\n"
        "rpool/data/x\tquota\t0\tdefault\n"
        "rpool/data/x\trefquota\t0\tdefault\n"
        "rpool/data/x\treservation\t0\tdefault\n"
        "rpool/data/x\trefreservation\t0\tdefault\n"
        "rpool/data/x\tcompression\ton\tinherited from rpool\n"
        "rpool/data/x\trecordsize\t131072\tdefault\n"
        "rpool/data/x\tmountpoint\t/rpool/data/x\tdefault\n"
        "rpool/data/x\tmounted\tyes\t-\n"
        "rpool/data/x\tatime\ton\tinherited from rpool\n"
        "rpool/data/x\tacltype\toff\tdefault\n"
        "rpool/data/x\txattr\ton\tdefault\n"
        "rpool/data/x\tcanmount\ton\tdefault\n"
        "rpool/data/x\trelatime\ton\tinherited from rpool\n"
        "rpool/data/x\tcompressratio\t1.00\t-\n"
        "rpool/data/x\treferenced\t98304\t-\n"
    )


def test_zfs_get_human_values_and_header(node):
    r = node.batch(
        zfs("create", "-o", "refquota=8G", "rpool/data/x"),
        zfs("get", "refquota,recordsize,quota", "rpool/data/x"),
    )
    assert r[1].out == (
        "NAME          PROPERTY    VALUE  SOURCE\n"
        "rpool/data/x  refquota    8G     local\n"
        "rpool/data/x  recordsize  128K   default\n"
        "rpool/data/x  quota       none   default\n"
    )


def test_zfs_get_all_lists_native_then_user_properties(node):
    r = node.batch(
        zfs("set", "org.test:tag=blue", "rpool/data"),
        zfs("get", "-H", "-o", "property", "all", "rpool/data"),
    )
    props = r[1].out.split("\n")[:-1]
    assert props[:5] == ["type", "creation", "used", "available", "referenced"]
    assert props[-1] == "org.test:tag"
    for p in ("recordsize", "mountpoint", "acltype", "xattr", "canmount", "refquota", "compression"):
        assert p in props


def test_zfs_get_missing_dataset_and_bad_property(node):
    r = node.batch(zfs("get", "quota", "rpool/nope"), zfs("get", "bogus", "rpool"))
    assert (r[0].rc, r[0].err) == (1, "cannot open 'rpool/nope': dataset does not exist\n")
    assert r[1].rc == 2
    assert r[1].err.startswith("bad property list: invalid property 'bogus'\nusage:\n\tget ")


def test_zfs_get_source_filter_and_recursion(node):
    r = node.batch(
        zfs("create", "-o", "quota=1G", "rpool/data/x"),
        zfs("get", "-H", "-r", "-s", "local", "-o", "name,property,value", "quota", "rpool"),
    )
    assert r[1].out == "rpool/data/x\tquota\t1G\n"


def test_zfs_get_clones_origin_and_volume_properties(node):
    r = node.batch(
        zfs("create", "rpool/data/x"),
        zfs("snapshot", "rpool/data/x@s"),
        zfs("get", "-H", "-p", "-o", "name,property,value,source", "-r", "clones", "rpool/data/x"),
        zfs("get", "-H", "-o", "property,value,source", "origin,volsize,volblocksize", "rpool/data/x"),
    )
    assert r[2].out == "rpool/data/x\tclones\t-\t-\nrpool/data/x@s\tclones\t\t-\n"
    assert r[3].out == "origin\t-\t-\nvolsize\t-\t-\nvolblocksize\t-\t-\n"


# ---------------------------------------------------------------- inheritance, user properties


def test_zfs_inheritance_set_and_inherit(node):
    g = zfs("get", "-H", "-o", "value,source", "compression", "rpool/data/x")
    r = node.batch(
        zfs("create", "rpool/data/x"),
        g,
        zfs("set", "compression=lz4", "rpool/data"),
        g,
        zfs("set", "compression=zstd", "rpool/data/x"),
        g,
        zfs("inherit", "compression", "rpool/data/x"),
        g,
        zfs("inherit", "-r", "compression", "rpool/data"),
        g,
    )
    assert [x.out for x in r[1::2]] == [
        "on\tinherited from rpool\n",
        "lz4\tinherited from rpool/data\n",
        "zstd\tlocal\n",
        "lz4\tinherited from rpool/data\n",
        "on\tinherited from rpool\n",
    ]


def test_zfs_user_properties_inherit_and_unset(node):
    r = node.batch(
        zfs("create", "-p", "rpool/data/x/y"),
        zfs("set", "nexcage:owner=ct100", "rpool/data/x"),
        zfs("get", "-H", "-o", "name,value,source", "nexcage:owner", "rpool/data/x", "rpool/data/x/y", "rpool/data"),
        zfs("inherit", "nexcage:owner", "rpool/data/x"),
        zfs("get", "-H", "-o", "value,source", "nexcage:owner", "rpool/data/x"),
        zfs("list", "-H", "-o", "name,nexcage:owner", "rpool/data"),
    )
    assert r[2].out == (
        "rpool/data/x\tct100\tlocal\nrpool/data/x/y\tct100\tinherited from rpool/data/x\nrpool/data\t-\t-\n"
    )
    assert r[4].out == "-\t-\n"
    assert r[5].out == "rpool/data\t-\n"


def test_zfs_inherit_refuses_non_inheritable_and_readonly(node):
    r = node.batch(
        zfs("inherit", "quota", "rpool/data"),
        zfs("inherit", "canmount", "rpool/data"),
        zfs("inherit", "used", "rpool/data"),
        zfs("inherit", "bogus", "rpool/data"),
    )
    assert (r[0].rc, r[0].err) == (
        1,
        "'quota' property cannot be inherited\nuse 'zfs set quota=none' to clear\n"
        "use 'zfs inherit -S quota' to revert to received value\n",
    )
    assert (r[1].rc, r[1].err) == (1, "'canmount' property cannot be inherited\n")
    assert (r[2].rc, r[2].err) == (1, "used property is read-only\n")
    assert r[3].rc == 2 and r[3].err.startswith("invalid property 'bogus'\n")


# ---------------------------------------------------------------- create


def test_zfs_create_missing_parent_then_with_p(node):
    r = node.batch(
        zfs("create", "rpool/a/b"),
        zfs("create", "-p", "rpool/a/b"),
        zfs("list", "-H", "-o", "name", "-r", "rpool/a"),
        zfs("create", "rpool/a"),
        zfs("create", "nopool/x"),
        zfs("create", "rpool/bad*name"),
    )
    assert (r[0].rc, r[0].out, r[0].err) == (1, "", "cannot create 'rpool/a/b': parent does not exist\n")
    assert r[1].rc == 0
    assert r[2].out == "rpool/a\nrpool/a/b\n"
    assert os.path.isdir(node.path("/rpool/a/b"))
    assert (r[3].rc, r[3].err) == (1, "cannot create 'rpool/a': dataset already exists\n")
    assert (r[4].rc, r[4].err) == (1, "cannot create 'nopool/x': no such pool 'nopool'\n")
    assert (r[5].rc, r[5].err) == (1, "cannot create 'rpool/bad*name': invalid character '*' in name\n")


def test_zfs_create_with_properties_and_invalid_ones(node):
    r = node.batch(
        zfs("create", "-o", "refquota=10G", "-o", "acltype=posixacl", "-o", "xattr=sa", "rpool/data/subvol-100-disk-0"),
        zfs("get", "-Hp", "-o", "property,value,source", "refquota,acltype,xattr", "rpool/data/subvol-100-disk-0"),
        zfs("create", "-o", "compression=fast", "rpool/data/y"),
        zfs("create", "-o", "nosuch=1", "rpool/data/y"),
        zfs("list", "rpool/data/y"),
    )
    assert r[0].rc == 0
    assert r[1].out == "refquota\t10737418240\tlocal\nacltype\tposix\tlocal\nxattr\tsa\tlocal\n"
    assert r[2].rc == 1
    assert r[2].err.startswith("cannot create 'rpool/data/y': 'compression' must be one of 'on | off | lzjb | gzip")
    assert (r[3].rc, r[3].err) == (1, "cannot create 'rpool/data/y': invalid property 'nosuch'\n")
    assert r[4].rc == 1  # nothing was created by the failed attempts


# ---------------------------------------------------------------- set


def test_zfs_set_sizes_and_errors(node):
    g = zfs("get", "-Hp", "-o", "value", "quota", "rpool/data")
    r = node.batch(
        zfs("set", "quota=10G", "rpool/data"),
        g,
        zfs("set", "quota=1.5M", "rpool/data"),
        g,
        zfs("set", "quota=none", "rpool/data"),
        g,
        zfs("set", "quota=abc", "rpool/data"),
        zfs("set", "quota=10X", "rpool/data"),
        zfs("set", "recordsize=1000", "rpool/data"),
        zfs("set", "mountpoint=relative", "rpool/data"),
        zfs("set", "used=1", "rpool/data"),
        zfs("set", "bogus=1", "rpool/data"),
        zfs("set", "quota=1G", "rpool/nope"),
        zfs("set", "quota", "rpool/data"),
    )
    assert [x.out for x in (r[1], r[3], r[5])] == ["10737418240\n", "1572864\n", "0\n"]
    assert (r[6].rc, r[6].err) == (1, "cannot set property for 'rpool/data': bad numeric value 'abc'\n")
    assert (r[7].rc, r[7].err) == (1, "cannot set property for 'rpool/data': invalid numeric suffix 'X'\n")
    assert r[8].err == "cannot set property for 'rpool/data': 'recordsize' must be power of 2 from 512B to 16M\n"
    assert r[9].err == (
        "cannot set property for 'rpool/data': 'mountpoint' must be an absolute path, 'none', or 'legacy'\n"
    )
    assert (r[10].rc, r[10].err) == (1, "cannot set property for 'rpool/data': 'used' is readonly\n")
    assert (r[11].rc, r[11].err) == (1, "cannot set property for 'rpool/data': invalid property 'bogus'\n")
    assert (r[12].rc, r[12].err) == (1, "cannot open 'rpool/nope': dataset does not exist\n")
    assert r[13].rc == 2


def test_zfs_refquota_limits_available_and_referenced_counts_files(node):
    ds = "rpool/data/subvol-100-disk-0"
    r = node.batch(
        zfs("create", "-o", "refquota=1G", ds),
        zfs("get", "-Hp", "-o", "value", "available,referenced", ds),
        ["dd", "if=/dev/zero", "of=/rpool/data/subvol-100-disk-0/f", "bs=1M", "count=2", "status=none"],
        ["sync"],
        zfs("get", "-Hp", "-o", "value", "available,referenced,used", ds),
        zfs("get", "-Hp", "-o", "value", "used", "rpool/data"),
    )
    avail, ref = (int(x) for x in r[1].out.split())
    assert (avail, ref) == (1073741824 - 98304, 98304)
    avail2, ref2, used2 = (int(x) for x in r[4].out.split())
    assert ref2 >= 98304 + 2 * 1048576
    assert avail2 == 1073741824 - ref2
    assert used2 == ref2
    assert int(r[5].out) == 98304 + used2


def test_zfs_mountpoint_change_moves_the_data_and_none_unmounts(node):
    r = node.batch(
        zfs("create", "rpool/data/x"),
        ["sh", "-c", "echo hi > /rpool/data/x/file"],
        zfs("set", "mountpoint=/rpool/elsewhere", "rpool/data/x"),
        ["cat", "/rpool/elsewhere/file"],
        zfs("get", "-H", "-o", "value,source", "mountpoint", "rpool/data/x"),
        zfs("set", "mountpoint=none", "rpool/data/x"),
        zfs("get", "-H", "-o", "value", "mountpoint,mounted", "rpool/data/x"),
        ["ls", "/rpool/elsewhere"],
        zfs("inherit", "mountpoint", "rpool/data/x"),
        ["cat", "/rpool/data/x/file"],
        zfs("get", "-H", "-o", "value", "mounted", "rpool/data/x"),
    )
    assert r[3].out == "hi\n"
    assert r[4].out == "/rpool/elsewhere\tlocal\n"
    assert r[6].out == "none\nno\n"
    assert r[7].rc != 0
    assert (r[9].rc, r[9].out) == (0, "hi\n")
    assert r[10].out == "yes\n"


# ---------------------------------------------------------------- destroy


def test_zfs_destroy_refuses_children_without_r(node):
    r = node.batch(
        zfs("create", "-p", "rpool/data/x/y"),
        zfs("snapshot", "rpool/data/x@s"),
        zfs("destroy", "rpool/data/x"),
        zfs("destroy", "-n", "-v", "-r", "rpool/data/x"),
        zfs("list", "-H", "-o", "name", "-t", "all", "-r", "rpool/data/x"),
        zfs("destroy", "-r", "rpool/data/x"),
        zfs("list", "-H", "-o", "name", "-r", "rpool/data"),
    )
    assert (r[2].rc, r[2].out) == (1, "")
    assert r[2].err == (
        "cannot destroy 'rpool/data/x': filesystem has children\n"
        "use '-r' to destroy the following datasets:\n"
        "rpool/data/x@s\n"
        "rpool/data/x/y\n"
    )
    assert (r[3].rc, r[3].out) == (
        0,
        "would destroy rpool/data/x@s\nwould destroy rpool/data/x/y\nwould destroy rpool/data/x\n",
    )
    assert r[4].out == "rpool/data/x\nrpool/data/x@s\nrpool/data/x/y\n"
    assert (r[5].rc, r[5].out, r[5].err) == (0, "", "")
    assert r[6].out == "rpool/data\n"
    assert not os.path.exists(node.path("/rpool/data/x"))


def test_zfs_destroy_snapshot_pool_and_missing(node):
    r = node.batch(
        zfs("create", "rpool/data/x"),
        zfs("snapshot", "rpool/data/x@s1"),
        zfs("destroy", "rpool/data/x@s1"),
        zfs("destroy", "rpool/data/x@s1"),
        zfs("destroy", "rpool"),
        zfs("destroy", "rpool/nope"),
        zfs("destroy", "nopool/x"),
    )
    assert (r[2].rc, r[2].err) == (0, "")
    assert (r[3].rc, r[3].err) == (1, "could not find any snapshots to destroy; check snapshot names.\n")
    assert (r[4].rc, r[4].err) == (
        1,
        "cannot destroy 'rpool': operation does not apply to pools\n"
        "use 'zfs destroy -r rpool' to destroy all datasets in the pool\n"
        "use 'zpool destroy rpool' to destroy the pool itself\n",
    )
    assert (r[5].rc, r[5].err) == (1, "cannot open 'rpool/nope': dataset does not exist\n")
    assert (r[6].rc, r[6].err) == (1, "cannot open 'nopool/x': dataset does not exist\n")


def test_zfs_destroy_busy_then_free_again(node):
    script = (
        "zfs create rpool/data/busy\n"
        "(cd /rpool/data/busy && exec sleep 30) &\n"
        "pid=$!\n"
        "sleep 0.3\n"
        "zfs destroy rpool/data/busy; echo rc=$?\n"
        "kill $pid; wait $pid 2>/dev/null\n"
        "zfs destroy rpool/data/busy; echo rc=$?\n"
    )
    r = node.sh(script)
    assert r.out == "rc=1\nrc=0\n"
    assert r.err == "cannot destroy 'rpool/data/busy': dataset is busy\n"


def test_zfs_destroy_refused_while_a_running_ct_uses_the_volume(node):
    env = {"PVESIM_RUNTIME": "sim"}
    r = node.batch(
        [
            "pct",
            "create",
            "100",
            "local:vztmpl/busybox-1.35_amd64.tar.zst",
            "--rootfs",
            "local-zfs:1",
            "--ostype",
            "unmanaged",
        ],
        ["pct", "start", "100"],
        zfs("destroy", "rpool/data/subvol-100-disk-0"),
        ["pct", "stop", "100"],
        zfs("destroy", "rpool/data/subvol-100-disk-0"),
        env=env,
    )
    assert [x.rc for x in r[:2]] == [0, 0], r
    assert (r[2].rc, r[2].err) == (1, "cannot destroy 'rpool/data/subvol-100-disk-0': dataset is busy\n")
    assert (r[4].rc, r[4].err) == (0, "")


# ---------------------------------------------------------------- snapshot


def test_zfs_snapshot_list_and_errors(node):
    r = node.batch(
        zfs("create", "-p", "rpool/data/x/y"),
        zfs("snapshot", "-r", "rpool/data/x@a"),
        zfs("snapshot", "rpool/data/x@a"),
        zfs("snapshot", "rpool/data/x"),
        zfs("snapshot", "rpool/nope@a"),
        zfs("list", "-t", "snapshot"),
        zfs("get", "-H", "-o", "value", "type,mountpoint", "rpool/data/x@a"),
    )
    assert r[1].rc == 0
    assert (r[2].rc, r[2].err) == (1, "cannot create snapshot 'rpool/data/x@a': dataset already exists\n")
    assert (r[3].rc, r[3].err) == (
        1,
        "cannot create snapshot 'rpool/data/x': missing '@' delimiter in snapshot name\n",
    )
    assert (r[4].rc, r[4].err) == (1, "cannot open 'rpool/nope': dataset does not exist\n")
    assert r[5].out == (
        "NAME               USED  AVAIL     REFER  MOUNTPOINT\n"
        "rpool/data/x@a       0B      -       96K  -\n"
        "rpool/data/x/y@a     0B      -       96K  -\n"
    )
    assert r[6].out == "snapshot\n-\n"


def test_zfs_rollback_restores_files_and_needs_r_for_later_snapshots(node):
    r = node.batch(
        zfs("create", "-p", "rpool/data/x/child"),
        ["sh", "-c", "echo one > /rpool/data/x/f; echo kid > /rpool/data/x/child/k"],
        zfs("snapshot", "rpool/data/x@a"),
        ["sh", "-c", "echo two > /rpool/data/x/f; echo new > /rpool/data/x/g; rm /rpool/data/x/child/k"],
        zfs("snapshot", "rpool/data/x@b"),
        zfs("rollback", "rpool/data/x@a"),
        zfs("rollback", "-r", "rpool/data/x@a"),
        ["sh", "-c", "cat /rpool/data/x/f; ls /rpool/data/x; ls /rpool/data/x/child"],
        zfs("list", "-H", "-o", "name", "-t", "snapshot"),
        zfs("rollback", "rpool/data/x@nope"),
        zfs("rollback", "rpool/data/x"),
    )
    assert (r[5].rc, r[5].err) == (
        1,
        "cannot rollback to 'rpool/data/x@a': more recent snapshots or bookmarks exist\n"
        "use '-r' to force deletion of the following snapshots and bookmarks:\nrpool/data/x@b\n",
    )
    assert (r[6].rc, r[6].err) == (0, "")
    # the file content comes back, g goes away, the child dataset is not touched
    assert r[7].out == "one\nchild\nf\n"
    assert r[8].out == "rpool/data/x@a\n"
    assert (r[9].rc, r[9].err) == (1, "cannot open 'rpool/data/x@nope': dataset does not exist\n")
    assert r[10].rc == 1


def test_zfs_snapshot_copies_are_removed_with_the_snapshot(node):
    r = node.batch(
        zfs("create", "rpool/data/x"),
        ["sh", "-c", "echo one > /rpool/data/x/f"],
        zfs("snapshot", "rpool/data/x@a"),
    )
    assert r[2].rc == 0
    store = node.path(zfsdb.SNAP_STORE)
    (copy,) = os.listdir(store)
    with open(os.path.join(store, copy, "f")) as f:
        assert f.read() == "one\n"
    assert node.run("zfs", "destroy", "-r", "rpool/data/x").rc == 0
    assert os.listdir(store) == []


# ---------------------------------------------------------------- API


def test_zfsdb_nicebytes_and_nicestrtonum():
    assert [zfsdb.nicebytes(n) for n in (0, 512, 98304, 1536 * 1048576, 8 << 30, 131072)] == [
        "0B",
        "512B",
        "96K",
        "1.50G",
        "8G",
        "128K",
    ]
    assert zfsdb.nicestrtonum("10G") == (10737418240, None)
    assert zfsdb.nicestrtonum("64k") == (65536, None)
    assert zfsdb.nicestrtonum("1KiB") == (1024, None)
    assert zfsdb.nicestrtonum("abc") == (None, "bad numeric value 'abc'")
    assert zfsdb.nicestrtonum("5Q") == (None, "invalid numeric suffix 'Q'")


def test_zfsdb_api_from_outside_the_namespace(node):
    zfsdb.create("rpool/data/api", props={"refquota": "1G"}, root=node.root)
    assert zfsdb.get_value("rpool/data/api", "refquota", root=node.root) == "1073741824"
    assert zfsdb.mountpoint_path("rpool/data/api", root=node.root) == node.path("/rpool/data/api")
    assert os.path.isdir(node.path("/rpool/data/api"))
    assert zfsdb.get_value("rpool/nope", "used", root=node.root) is None
    zfsdb.destroy("rpool/data/api", root=node.root)
    assert not os.path.exists(node.path("/rpool/data/api"))
