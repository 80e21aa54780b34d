"""Unit tests of _zfs: value normalisation, parsers, planner, in-use guard, and the
manager against a scripted runner (no subprocess)."""

import pytest
from scripted_runner import ScriptedRunner

from ansible_collections.cageforge.nexcage.plugins.module_utils import _errors
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import sizes
from ansible_collections.cageforge.nexcage.plugins.module_utils._pvestorage import parse_storage_cfg
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import CommandResult
from ansible_collections.cageforge.nexcage.plugins.module_utils._zfs import manager, properties
from ansible_collections.cageforge.nexcage.plugins.module_utils._zfs.holders import config_volumes, find_holders
from ansible_collections.cageforge.nexcage.plugins.module_utils._zfs.properties import desired_properties, plan_present

# ---------------------------------------------------------------- values


@pytest.mark.parametrize(
    "text,expected",
    [
        ("10G", 10737418240),
        ("10g", 10737418240),
        ("10GB", 10737418240),
        ("10GiB", 10737418240),
        ("1.5T", 1649267441664),
        ("128K", 131072),
        ("512", 512),
        ("0", 0),
        (4096, 4096),
    ],
)
def test_parse_size(text, expected):
    assert sizes.parse_size(text) == expected


@pytest.mark.parametrize("text", ["ten", "10X", "10i", "", "G", True])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError):
        sizes.parse_size(text)


@pytest.mark.parametrize(
    "prop,value,expected",
    [
        ("quota", "10G", "10737418240"),
        ("quota", "10737418240", "10737418240"),
        ("quota", "none", "0"),
        ("quota", 0, "0"),
        ("refreservation", "none", "0"),
        ("recordsize", "128K", "131072"),
        ("userquota@alice", "1G", "1073741824"),
        ("userquota@alice", "none", "0"),
        ("userobjquota@alice", "none", "0"),
        ("atime", False, "off"),
        ("atime", True, "on"),
        ("atime", "yes", "on"),
        ("atime", "OFF", "off"),
        ("xattr", "sa", "sa"),
        ("canmount", "noauto", "noauto"),
        ("compression", "LZ4", "lz4"),
        ("acltype", "posixacl", "posix"),
        ("acltype", "noacl", "off"),
        ("acltype", "posix", "posix"),
        ("mountpoint", "/srv/data/", "/srv/data"),
        ("mountpoint", "/", "/"),
        ("mountpoint", "none", "none"),
        ("com.example:owner", "Alice", "Alice"),
        ("com.example:flag", True, "true"),
        ("copies", 2, "2"),
        ("refreservation", "auto", "auto"),
    ],
)
def test_normalize_value(prop, value, expected):
    assert properties.normalize_value(prop, value) == expected


def test_desired_properties_rejects_bad_size_and_none_value():
    with pytest.raises(properties.ZfsError, match="'quota': 'lots' is not a size"):
        desired_properties({"quota": "lots"})
    with pytest.raises(properties.ZfsError, match="has no value"):
        desired_properties({"quota": None})
    assert desired_properties({"Quota": "1G", "org:Key": "V"}) == {"quota": "1073741824", "org:Key": "V"}


@pytest.mark.parametrize("name", ["rpool/data/ct-1", "rpool", "tank/a.b:c_d-e"])
def test_validate_name_ok(name):
    assert properties.validate_name(name) == name.split("/")[0]


@pytest.mark.parametrize("name", ["", "/rpool", "rpool/", "rpool//x", "rpool/x@snap", "rpool/x#bm", "rp ool"])
def test_validate_name_rejects(name):
    with pytest.raises(properties.ZfsError, match="not a valid dataset name"):
        properties.validate_name(name)


def test_parse_get():
    text = (
        "rpool/a\tquota\t1073741824\tlocal\n"
        "rpool/a\tmountpoint\t/rpool/a\tdefault\n"
        "rpool/a\tcom.x:note\ta\tb\tlocal\n"
        "rpool/a@s\tclones\trpool/c\t-\n"
    )
    parsed = properties.parse_get(text)
    assert parsed["rpool/a"]["quota"] == ("1073741824", "local")
    assert parsed["rpool/a"]["com.x:note"] == ("a\tb", "local")
    assert parsed["rpool/a@s"]["clones"] == ("rpool/c", "-")


# ---------------------------------------------------------------- planner


def current(**props):
    return {k: (v, "local") for k, v in props.items()}


def test_plan_create_with_parents_and_properties():
    desired = desired_properties({"quota": "10G", "atime": False, "compression": "lz4"})
    assert plan_present("rpool/data/x", desired, None, create_parents=True) == [
        ["zfs", "create", "-p", "-o", "atime=off", "-o", "compression=lz4", "-o", "quota=10737418240", "rpool/data/x"]
    ]


def test_plan_create_volume_without_parents():
    desired = desired_properties({"volsize": "1G", "volblocksize": "16K"})
    assert plan_present("rpool/v", desired, None, create_parents=False) == [
        ["zfs", "create", "-V", "1073741824", "-o", "volblocksize=16384", "rpool/v"]
    ]


def test_plan_only_differing_properties():
    desired = desired_properties({"quota": "10G", "atime": "off", "compression": "zstd", "acltype": "posixacl"})
    have = current(quota="10737418240", atime="off", compression="lz4", acltype="posix")
    assert plan_present("rpool/x", desired, have) == [["zfs", "set", "compression=zstd", "rpool/x"]]


def test_plan_nothing_when_equal():
    desired = desired_properties({"quota": "none", "recordsize": "128K", "mountpoint": "/srv/x/"})
    have = current(quota="0", recordsize="131072", mountpoint="/srv/x")
    assert plan_present("rpool/x", desired, have) == []


def test_plan_unset_user_property_is_set():
    desired = desired_properties({"org.nexcage:vmid": 100})
    have = current(quota="0")
    have["org.nexcage:vmid"] = ("-", "-")
    assert plan_present("rpool/x", desired, have) == [["zfs", "set", "org.nexcage:vmid=100", "rpool/x"]]


def test_plan_orders_reservation_around_quota():
    have = current(quota="21474836480", reservation="16106127360", refquota="0")
    shrink = desired_properties({"quota": "10G", "reservation": "5G"})
    assert [a[2] for a in plan_present("p/x", shrink, have)] == [
        "reservation=5368709120",
        "quota=10737418240",
    ]
    grow = desired_properties({"quota": "40G", "reservation": "30G", "refquota": "40G"})
    assert [a[2].split("=")[0] for a in plan_present("p/x", grow, have)] == [
        "quota",
        "refquota",
        "reservation",
    ]


def test_plan_create_only_property_differs():
    have = current(casesensitivity="sensitive")
    with pytest.raises(properties.ZfsError, match="casesensitivity cannot be changed .* only at creation"):
        plan_present("p/x", {"casesensitivity": "insensitive"}, have)


# ---------------------------------------------------------------- in-use guard

STORAGE_CFG = """dir: local
\tpath /var/lib/vz
\tcontent iso,vztmpl,backup

zfspool: local-zfs
\tpool rpool/data
\tsparse
\tcontent images,rootdir

dir: tankdir
\tpath /tank/pve
\tcontent rootdir
"""


def test_parse_storage_cfg():
    # the shared parser (_pveconfig) is what the guard reads storage.cfg with
    storages = parse_storage_cfg(STORAGE_CFG)
    assert storages["local-zfs"]["pool"] == "rpool/data"
    assert storages["tankdir"]["path"] == "/tank/pve"


def test_config_volumes_all_sections():
    text = (
        "arch: amd64\nrootfs: local-zfs:subvol-100-disk-0,size=8G\nmp0: /srv/share,mp=/share\n"
        "unused0: local-zfs:subvol-100-disk-1\n\n[pve:pending]\nmp1: local-zfs:subvol-100-disk-2,mp=/x\n"
        "\n[snap1]\nmp2: local-zfs:subvol-100-disk-3,mp=/y\n"
    )
    assert config_volumes(text) == [
        ("", "rootfs", "local-zfs:subvol-100-disk-0"),
        ("", "mp0", "/srv/share"),
        ("", "unused0", "local-zfs:subvol-100-disk-1"),
        ("pending", "mp1", "local-zfs:subvol-100-disk-2"),
        ("snap1", "mp2", "local-zfs:subvol-100-disk-3"),
    ]


def test_config_volumes_qemu_skips_cdrom():
    text = "ide2: local:iso/x.iso,media=cdrom\nscsi0: local-zfs:vm-101-disk-0,size=32G\nide0: none\n"
    assert config_volumes(text, "qemu") == [("", "scsi0", "local-zfs:vm-101-disk-0")]


def holders(name, mountpoints, configs):
    return find_holders(name, mountpoints, parse_storage_cfg(STORAGE_CFG), configs)


def test_holders_rootfs_on_zfspool():
    configs = [("lxc", "100", "rootfs: local-zfs:subvol-100-disk-0,size=8G\n")]
    found = holders("rpool/data/subvol-100-disk-0", {"rpool/data/subvol-100-disk-0": "/rpool/data/x"}, configs)
    assert found == ["CT 100 rootfs (local-zfs:subvol-100-disk-0 = rpool/data/subvol-100-disk-0)"]
    assert holders("rpool/data/subvol-100-disk-9", {}, configs) == []


def test_holders_linked_clone_volume_is_its_own_dataset():
    """A linked clone's volume is <base>/<name> (pve-storage ZFSPoolPlugin): its dataset is <pool>/<name>."""
    configs = [("lxc", "101", "rootfs: local-zfs:basevol-100-disk-0/subvol-101-disk-0,size=8G\n")]
    found = holders("rpool/data/subvol-101-disk-0", {"rpool/data/subvol-101-disk-0": "/rpool/data/x"}, configs)
    assert found == ["CT 101 rootfs (local-zfs:basevol-100-disk-0/subvol-101-disk-0 = rpool/data/subvol-101-disk-0)"]
    assert holders("rpool/data/basevol-100-disk-0", {}, configs) == [], "the base is held through its clone's origin"


def test_holders_parent_dataset_and_storage():
    configs = [("qemu", "101", "scsi0: local-zfs:vm-101-disk-0,size=32G\n")]
    found = holders("rpool/data", {"rpool/data": "/rpool/data"}, configs)
    assert found == [
        "storage 'local-zfs' (zfspool on rpool/data, /etc/pve/storage.cfg)",
        "VM 101 scsi0 (local-zfs:vm-101-disk-0 = rpool/data/vm-101-disk-0)",
    ]


def test_holders_bind_mount_inside_mountpoint():
    configs = [("lxc", "102", "mp0: /srv/ct/web/data,mp=/data\nmp1: /srvx,mp=/x\nmp2: /dev/sdb1,mp=/d\n")]
    found = holders("tank/ct", {"tank/ct": "/srv/ct", "tank/ct/web": "/srv/ct/web"}, configs)
    assert found == ["CT 102 mp0 (bind mount of /srv/ct/web/data)"]
    assert holders("tank/ct", {"tank/ct": "none"}, configs) == []


def test_holders_dir_storage_inside_mountpoint():
    configs = [("lxc", "103", "rootfs: tankdir:103/vm-103-disk-0.raw,size=4G\n")]
    found = holders("tank/pvestore", {"tank/pvestore": "/tank"}, configs)
    assert found == [
        "storage 'tankdir' (dir at /tank/pve, /etc/pve/storage.cfg)",
        "CT 103 rootfs (tankdir:103/vm-103-disk-0.raw, a file under /tank/pve)",
    ]


# ---------------------------------------------------------------- manager with a scripted runner


GET = "zfs get -H -p -o name,property,value,source"
MISSING = (1, "", "cannot open 'tank/x': dataset does not exist\n")


def test_manager_missing_pool_lists_pools_and_runs_nothing_on_it():
    runner = ScriptedRunner({"zpool list -H -o name": (0, "rpool\nbackup\n", "")})
    mgr = manager.DatasetManager(runner, read_configs=list, read_storage=dict)
    with pytest.raises(properties.ZfsError) as err:
        mgr.present("tank/x", {"quota": "1G"})
    assert err.value.msg == (
        "pool 'tank' does not exist on this node, so tank/x cannot be created; existing pools: rpool, backup"
    )
    assert runner.commands == ["zpool list -H -o name"]


def test_manager_create_check_mode_then_apply():
    answers = {
        "zpool list -H -o name": (0, "tank\n", ""),
        GET + " all tank/x": MISSING,
    }
    runner = ScriptedRunner(answers, check_mode=True)
    res = manager.DatasetManager(runner, list, dict).present("tank/x", {"quota": "1G"})
    assert res["changed"] and res["created"]
    assert res["properties"] == {"quota": 1073741824}
    assert runner.commands[-1] == "zfs create -p -o quota=1073741824 tank/x"
    after = {"state": "present", "properties": {"quota": "1073741824"}}
    assert res["diff"] == {"before": {"state": "absent"}, "after": after}

    state = {"created": False}

    def get_all(_argv):
        out = "tank/x\tquota\t1073741824\tlocal\ntank/x\tatime\ton\tdefault\n"
        return (0, out, "") if state["created"] else MISSING

    def create(_argv):
        state["created"] = True
        return (0, "", "")

    answers[GET + " all tank/x"] = get_all
    answers["zfs create -p -o quota=1073741824 tank/x"] = create
    runner = ScriptedRunner(answers)
    res = manager.DatasetManager(runner, list, dict).present("tank/x", {"quota": "1G"})
    assert res["changed"] and res["created"]
    assert res["properties"] == {"quota": 1073741824, "atime": "on"}
    assert res["property_sources"]["atime"] == "default"


def test_manager_create_without_parents_needs_parent():
    answers = {
        "zpool list -H -o name": (0, "tank\n", ""),
        GET + " all tank/a/b": MISSING,
        "zfs list -H -o name tank/a": (1, "", "cannot open 'tank/a': dataset does not exist\n"),
    }
    with pytest.raises(properties.ZfsError, match="parent dataset tank/a does not exist; .*create_parents: true"):
        manager.DatasetManager(ScriptedRunner(answers), list, dict).present("tank/a/b", {}, create_parents=False)


def test_manager_user_property_not_in_all_is_read_explicitly():
    answers = {
        "zpool list -H -o name": (0, "tank\n", ""),
        GET + " all tank/x": (0, "tank/x\tquota\t0\tdefault\n", ""),
        GET + " org:a tank/x": (0, "tank/x\torg:a\t-\t-\n", ""),
    }
    runner = ScriptedRunner(answers, check_mode=True)
    res = manager.DatasetManager(runner, list, dict).present("tank/x", {"org:a": "b"})
    assert res["changed"] and not res["created"]
    assert runner.commands[-1] == "zfs set org:a=b tank/x"
    assert res["diff"]["before"] == {"state": "present", "properties": {"org:a": "-"}}


def destroy_answers(below="", clones=None):
    answers = {
        "zpool list -H -o name": (0, "tank\n", ""),
        GET + " all tank/x": (0, "tank/x\tquota\t0\tdefault\n", ""),
        "zfs list -H -o name -t all -r tank/x": (0, "tank/x\n" + below, ""),
        GET + " -r mountpoint tank/x": (0, "tank/x\tmountpoint\t/tank/x\tdefault\n", ""),
    }
    if clones is not None:
        answers[GET + " -r clones tank/x"] = (0, clones, "")
    return answers


def test_destroy_refuses_children_without_recursive():
    runner = ScriptedRunner(destroy_answers("tank/x/a\ntank/x@s1\n"))
    with pytest.raises(properties.ZfsError) as err:
        manager.DatasetManager(runner, list, dict).absent("tank/x")
    assert err.value.msg == (
        "refusing to destroy tank/x: it has 1 child dataset(s) and 1 snapshot(s)/bookmark(s) (tank/x/a, tank/x@s1); "
        "set recursive: true to destroy them with it (zfs destroy -r)"
    )
    assert not any(c.startswith("zfs destroy") for c in runner.commands)


def test_destroy_recursive_uses_r_never_capital_r():
    answers = destroy_answers("tank/x@s1\n", clones="tank/x@s1\tclones\t\t-\n")
    answers["zfs destroy -r tank/x"] = (0, "", "")
    runner = ScriptedRunner(answers)
    res = manager.DatasetManager(runner, list, dict).absent("tank/x", recursive=True)
    assert res["changed"]
    assert runner.commands[-1] == "zfs destroy -r tank/x"
    assert not any("-R" in c for c in runner.commands)


def test_destroy_refuses_outside_clones():
    answers = destroy_answers("tank/x@s1\n", clones="tank/x@s1\tclones\ttank/y,tank/x/inner\t-\n")
    with pytest.raises(properties.ZfsError, match=r"clones outside it \(tank/y\); nexcage never uses `zfs destroy -R`"):
        manager.DatasetManager(ScriptedRunner(answers), list, dict).absent("tank/x", recursive=True)


def test_destroy_refuses_in_use_unless_force():
    storages = {"tz": {"type": "zfspool", "pool": "tank"}}
    configs = [("lxc", "100", "rootfs: tz:x,size=1G\n")]
    answers = destroy_answers()
    answers["zfs destroy tank/x"] = (0, "", "")
    mgr = manager.DatasetManager(ScriptedRunner(answers), lambda: configs, lambda: storages)
    with pytest.raises(properties.ZfsError) as err:
        mgr.absent("tank/x")
    assert "in use by CT 100 rootfs (tz:x = tank/x)" in err.value.msg
    assert "set force: true" in err.value.msg
    runner = ScriptedRunner(answers)
    res = manager.DatasetManager(runner, lambda: configs, lambda: storages).absent("tank/x", force=True)
    assert res["changed"] and runner.commands[-1] == "zfs destroy tank/x"


def test_destroy_absent_and_pool_root():
    answers = {"zpool list -H -o name": (0, "tank\n", ""), GET + " all tank/x": MISSING}
    res = manager.DatasetManager(ScriptedRunner(answers), list, dict).absent("tank/x")
    assert res["changed"] is False
    answers[GET + " all tank"] = (0, "tank\tquota\t0\tdefault\n", "")
    with pytest.raises(properties.ZfsError, match="root dataset of pool tank"):
        manager.DatasetManager(ScriptedRunner(answers), list, dict).absent("tank")
    mgr = manager.DatasetManager(ScriptedRunner(answers), list, dict)
    res = mgr.absent("gone/x")
    assert res["changed"] is False and "existing pools: tank" in mgr.warnings[0]


def test_error_categories():
    res = CommandResult(["zfs", "destroy", "p/x"], 1, "", "cannot destroy 'p/x': dataset is busy\n", 0.0)
    assert _errors.error_from_result(res, patterns=manager.ZFS_PATTERNS).category == "locked"
    res = CommandResult(
        ["zfs", "set", "quota=1", "p/x"], 1, "", "size is less than current used or reserved space\n", 0
    )
    assert _errors.error_from_result(res, patterns=manager.ZFS_PATTERNS).category == "resource_exhausted"
    res = CommandResult(["zfs", "list"], 124, "", "timed out after 5 seconds", 5.0)
    assert _errors.error_from_result(res, patterns=manager.ZFS_PATTERNS).category == "timeout"
    err = properties.ZfsError("pool 'tank' does not exist", "not_found", pools=["rpool"])
    assert err.to_dict()["category"] == "not_found" and err.to_dict()["message"] == "pool 'tank' does not exist"
    assert err.to_dict()["hint"]  # the category's default hint


def test_read_only_property_is_refused_before_any_command():
    with pytest.raises(properties.ZfsError, match="property 'used' is read-only"):
        desired_properties({"used": "1G"})


def test_unknown_property_is_named():
    answers = {
        "zpool list -H -o name": (0, "tank\n", ""),
        GET + " all tank/x": (0, "tank/x\tquota\t0\tdefault\n", ""),
        GET + " compresion tank/x": (2, "", "bad property list: invalid property 'compresion'\nusage:\n\tget ...\n"),
    }
    with pytest.raises(properties.ZfsError) as err:
        manager.DatasetManager(ScriptedRunner(answers), list, dict).present("tank/x", {"compresion": "lz4"})
    assert (
        err.value.msg == "zfs does not know the property 'compresion': bad property list: invalid property 'compresion'"
    )
    assert err.value.category == "invalid_argument"
