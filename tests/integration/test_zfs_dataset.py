"""nexcage_zfs_dataset against a simulated node (pvesim run): check, apply, idempotent and
idempotent-check for creation and for each property change; destroy guards; missing pool."""

import json
import pathlib

import pytest

MODULE = "nexcage_zfs_dataset"
TEMPLATE = "local:vztmpl/busybox-1.35_amd64.tar.zst"


@pytest.fixture
def node(fresh_node):
    """Every test here changes datasets: a fresh node per test (tests/integration/conftest.py)."""
    return fresh_node


def run_task(node, args, check=False, diff=False):
    return node.run_task(MODULE, args, check=check, diff=diff)


def sh(node, *argv):
    return node.sh(*argv)


def zget(node, name, prop):
    res = sh(node, "zfs", "get", "-H", "-p", "-o", "value", prop, name)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def exists(node, name):
    return sh(node, "zfs", "list", "-H", "-o", "name", name).returncode == 0


def four_phases(node, args):
    """check -> apply -> idempotent -> idempotent-check; returns the four results."""
    check = run_task(node, args, check=True, diff=True)
    assert not check.get("failed"), check["msg"]
    assert check["changed"] is True
    apply = run_task(node, args, diff=True)
    assert not apply.get("failed"), apply["msg"]
    assert apply["changed"] is True
    again = run_task(node, args, diff=True)
    assert again["changed"] is False, again
    again_check = run_task(node, args, check=True, diff=True)
    assert again_check["changed"] is False, again_check
    return check, apply, again, again_check


def test_create_four_phases(node):
    args = {"name": "rpool/data/ct-web", "properties": {"quota": "10G", "compression": "lz4", "atime": False}}
    check, apply, again, again_check = four_phases(node, args)
    planned = "zfs create -p -o atime=off -o compression=lz4 -o quota=10737418240 rpool/data/ct-web"
    assert check["created"] is True and check["commands"][-1] == planned
    assert check["diff"] == {
        "before": {"state": "absent"},
        "after": {"state": "present", "properties": {"atime": "off", "compression": "lz4", "quota": "10737418240"}},
    }
    assert apply["created"] is True and planned in apply["commands"]
    assert apply["properties"]["quota"] == 10737418240
    assert apply["properties"]["compression"] == "lz4"
    assert apply["property_sources"]["quota"] == "local"
    assert apply["properties"]["mountpoint"] == "/rpool/data/ct-web"
    assert zget(node, "rpool/data/ct-web", "quota") == "10737418240"
    assert again["created"] is False and not any(c.startswith(("zfs set", "zfs create")) for c in again["commands"])
    assert again_check["diff"]["before"] == again_check["diff"]["after"]


def test_check_mode_changes_nothing(node):
    res = run_task(node, {"name": "rpool/data/a/b", "properties": {"quota": "1G"}}, check=True)
    assert res["changed"] is True and res["properties"] == {"quota": 1073741824}
    assert not exists(node, "rpool/data/a")


PROPERTY_CHANGES = [
    ("quota", "10G", "20G", "21474836480"),
    ("refquota", "1G", "none", "0"),
    ("reservation", "none", "512M", "536870912"),
    ("refreservation", "256M", "128M", "134217728"),
    ("compression", "lz4", "zstd", "zstd"),
    ("recordsize", "128K", "16K", "16384"),
    ("mountpoint", "/srv/ct-web", "/srv/other", "/srv/other"),
    ("atime", True, False, "off"),
    ("acltype", "off", "posixacl", "posix"),
    ("xattr", "on", "sa", "sa"),
    ("org.nexcage:owner", "alice", "bob", "bob"),
]


@pytest.mark.parametrize("prop,first,second,stored", PROPERTY_CHANGES, ids=[p[0] for p in PROPERTY_CHANGES])
def test_property_change_four_phases(node, prop, first, second, stored):
    name = "rpool/data/ct-prop"
    created = run_task(
        node, {"name": name, "properties": {prop: first, "quota": "30G"} if prop != "quota" else {prop: first}}
    )
    assert created["changed"] and created["created"], created
    args = {"name": name, "properties": {prop: second}}
    check, apply, _again, _again_check = four_phases(node, args)
    expected_set = "zfs set %s=%s %s" % (prop, stored, name)
    assert check["commands"][-1] == expected_set
    assert check["diff"]["after"] == {"state": "present", "properties": {prop: stored}}
    assert check["diff"]["before"]["properties"][prop] != stored
    assert [c for c in apply["commands"] if c.startswith("zfs set")] == [expected_set]
    assert zget(node, name, prop) == stored
    assert apply["properties"][prop] == (int(stored) if stored.isdigit() else stored)


def test_equivalent_spellings_are_no_change(node):
    name = "rpool/data/ct-eq"
    run_task(node, {"name": name, "properties": {"quota": 10737418240, "atime": "off", "recordsize": 131072}})
    res = run_task(node, {"name": name, "properties": {"quota": "10G", "atime": False, "recordsize": "128K"}})
    assert res["changed"] is False, res
    res = run_task(node, {"name": name, "properties": {"quota": "10240M", "atime": "no", "acltype": "off"}}, check=True)
    assert res["changed"] is False, res


def test_only_given_properties_are_managed(node):
    name = "rpool/data/ct-keep"
    run_task(node, {"name": name, "properties": {"quota": "5G", "compression": "zstd"}})
    res = run_task(node, {"name": name, "properties": {"quota": "6G"}})
    assert res["changed"] is True
    assert [c for c in res["commands"] if c.startswith("zfs set")] == ["zfs set quota=6442450944 %s" % name]
    assert zget(node, name, "compression") == "zstd"


def test_missing_pool_lists_real_pools_and_touches_nothing(node):
    res = run_task(node, {"name": "tank/ct-1", "properties": {"quota": "1G"}})
    assert res["failed"] is True
    assert (
        res["msg"] == "pool 'tank' does not exist on this node, so tank/ct-1 cannot be created; existing pools: rpool"
    )
    assert res["commands"] == ["zpool list -H -o name"]
    assert res["error"]["category"] == "not_found"
    assert not [c for c in node.calls() if any("tank" in a for a in c["argv"])]


def test_without_create_parents_missing_parent_fails(node):
    res = run_task(node, {"name": "rpool/data/x/y", "create_parents": False})
    assert res["failed"] is True
    assert res["msg"] == "parent dataset rpool/data/x does not exist; create it first or set create_parents: true"
    assert not exists(node, "rpool/data/x")


def test_invalid_size_fails_before_any_change(node):
    res = run_task(node, {"name": "rpool/data/z", "properties": {"quota": "lots"}})
    assert res["failed"] is True and "'quota': 'lots' is not a size" in res["msg"]
    assert res["commands"] == []


# ---------------------------------------------------------------- destroy


def test_destroy_four_phases(node):
    run_task(node, {"name": "rpool/data/gone"})
    args = {"name": "rpool/data/gone", "state": "absent"}
    check = run_task(node, args, check=True, diff=True)
    assert check["changed"] is True and check["commands"][-1] == "zfs destroy rpool/data/gone"
    assert check["diff"]["after"] == {"state": "absent"}
    assert exists(node, "rpool/data/gone")
    apply = run_task(node, args)
    assert apply["changed"] is True and not exists(node, "rpool/data/gone")
    again = run_task(node, dict(args, properties={"quota": "1G"}))
    assert again["changed"] is False
    assert "properties are ignored with state: absent" in json.dumps(again["warnings"])
    assert run_task(node, args, check=True)["changed"] is False


def test_destroy_with_children_and_snapshots_needs_recursive(node):
    run_task(node, {"name": "rpool/data/tree/child"})
    snap = sh(node, "zfs", "snapshot", "rpool/data/tree@before")
    assert snap.returncode == 0, snap.stderr
    res = run_task(node, {"name": "rpool/data/tree", "state": "absent"})
    assert res["failed"] is True
    assert res["msg"] == (
        "refusing to destroy rpool/data/tree: it has 1 child dataset(s) and 1 snapshot(s)/bookmark(s) "
        "(rpool/data/tree/child, rpool/data/tree@before); set recursive: true to destroy them with it (zfs destroy -r)"
    )
    assert res["error"]["category"] == "permission_denied"
    assert exists(node, "rpool/data/tree/child")
    res = run_task(node, {"name": "rpool/data/tree", "state": "absent", "recursive": True})
    assert res["changed"] is True, res
    assert res["commands"][-1] == "zfs destroy -r rpool/data/tree"
    assert not any(" -R" in c for c in res["commands"])
    assert not exists(node, "rpool/data/tree")


def pct_create(node, vmid, *extra):
    res = sh(node, "pct", "create", str(vmid), TEMPLATE, "--rootfs", "local-zfs:1", "--ostype", "unmanaged", *extra)
    assert res.returncode == 0, res.stderr
    return res


def test_destroy_refuses_dataset_of_a_container_rootfs(node):
    pct_create(node, 100)
    dataset = "rpool/data/subvol-100-disk-0"
    assert exists(node, dataset)
    res = run_task(node, {"name": dataset, "state": "absent"})
    assert res["failed"] is True
    assert res["msg"] == (
        "refusing to destroy %s: it is in use by CT 100 rootfs (local-zfs:subvol-100-disk-0 = %s). Remove it from "
        "those configs (pct set <vmid> --delete <key>, or destroy the guest), or set force: true to destroy it anyway"
        % (dataset, dataset)
    )
    assert exists(node, dataset)
    # the parent holds it too (and it is the storage's pool)
    res = run_task(node, {"name": "rpool/data", "state": "absent", "recursive": True})
    assert res["failed"] is True
    assert "storage 'local-zfs' (zfspool on rpool/data, /etc/pve/storage.cfg)" in res["msg"]
    assert "CT 100 rootfs" in res["msg"]
    res = run_task(node, {"name": dataset, "state": "absent", "force": True})
    assert res["changed"] is True, res
    assert not exists(node, dataset)


def test_destroy_refuses_dataset_under_a_bind_mount(node):
    run_task(node, {"name": "rpool/shared", "properties": {"mountpoint": "/rpool/shared"}})
    pathlib.Path(node.path("/rpool/shared/www")).mkdir(parents=True, exist_ok=True)
    pct_create(node, 101, "--mp0", "/rpool/shared/www,mp=/var/www")
    res = run_task(node, {"name": "rpool/shared", "state": "absent"})
    assert res["failed"] is True
    assert "in use by CT 101 mp0 (bind mount of /rpool/shared/www)" in res["msg"]
    assert exists(node, "rpool/shared")


def test_destroy_pool_root_is_refused(node):
    res = run_task(node, {"name": "rpool", "state": "absent", "recursive": True, "force": True})
    assert res["failed"] is True and "root dataset of pool rpool" in res["msg"]


def test_through_ansible_playbook_check_and_diff(node):
    """The module as a real play runs it (--check --diff): the planned command, the diff, nothing changed."""
    res = node.run_play(MODULE, {"name": "rpool/data/play", "properties": {"quota": "2G"}}, check=True, diff=True)
    assert res["changed"] is True and not res.get("failed"), res
    assert res["commands"][-1] == "zfs create -p -o quota=2147483648 rpool/data/play"
    # the callback shows the diff (the tree callback's copy of the result drops it)
    assert "+++ after" in res["_stdout"] and "+        quota: '2147483648'" in res["_stdout"], res["_stdout"]
    assert not exists(node, "rpool/data/play")


def test_shrinking_quota_and_reservation_together(node):
    """zfs refuses a quota below the current reservation: the smaller reservation must be set first."""
    name = "rpool/data/ct-shrink"
    run_task(node, {"name": name, "properties": {"quota": "20G", "reservation": "15G"}})
    res = run_task(node, {"name": name, "properties": {"quota": "10G", "reservation": "5G"}})
    assert res["changed"] is True and not res.get("failed"), res
    assert [c for c in res["commands"] if c.startswith("zfs set")] == [
        "zfs set reservation=5368709120 %s" % name,
        "zfs set quota=10737418240 %s" % name,
    ]
    assert zget(node, name, "quota") == "10737418240" and zget(node, name, "reservation") == "5368709120"
