"""nexcage_container's state: template and clone against the volume names Proxmox VE gives them
(issue 12): `pct template` renames a ZFS volume `subvol-<vmid>-disk-<n>` to `basevol-<vmid>-disk-<n>`,
and a linked clone's volume is `<storage>:basevol-<src>-disk-<n>/subvol-<vmid>-disk-<n>`. The tasks
naming the root disk and a storage-backed mount point by storage and size still converge (second
run and check mode changed=false), and the health checks see those volumes as whole."""

from integration_conftest import MOD, TEMPLATE, ok

ROOTFS = {"storage": "local-zfs", "size": 1}
MOUNTS = [{"id": 0, "storage": "local-zfs", "size": 1, "mountpoint": "/data"}]


def converges(node, args):
    """apply, then the same task again and in check mode: nothing to do, no command run."""
    apply, again, check = node.run_tasks(MOD, [(args, False, True), (args, False, True), (args, True, True)])
    ok(apply)
    for result in (again, check):
        assert ok(result)["changed"] is False, result["changes"]
        assert result["_calls"] == [], result["_calls"]
    return apply


def volumes(node, vmid):
    conf = node.conf(vmid)
    return {
        key: value.split(",", 1)[0]
        for key, value in (line.split(": ", 1) for line in conf.splitlines() if ": " in line)
        if key in ("rootfs", "mp0")
    }


def test_template_and_linked_clone_converge_on_renamed_volumes(fresh_node):
    node = fresh_node
    base = dict(image=TEMPLATE, ostype="unmanaged", rootfs=ROOTFS, mounts=MOUNTS, memory=256)
    ok(node.run_task(MOD, dict(base, vmid=430, hostname="tmpl30")))
    apply = converges(node, dict(base, vmid=430, hostname="tmpl30", state="template"))
    assert apply["commands"] == ["pct template 430"]
    assert volumes(node, 430) == {"rootfs": "local-zfs:basevol-430-disk-0", "mp0": "local-zfs:basevol-430-disk-1"}

    linked = dict(vmid=431, clone=430, hostname="linked31", rootfs=ROOTFS, mounts=MOUNTS, memory=256)
    apply = converges(node, linked)
    assert apply["commands"] == ["pct clone 430 431 --hostname linked31 --full 0"]
    assert volumes(node, 431) == {
        "rootfs": "local-zfs:basevol-430-disk-0/subvol-431-disk-0",
        "mp0": "local-zfs:basevol-430-disk-1/subvol-431-disk-1",
    }
    assert apply["container"]["rootfs"]["volume"] == "local-zfs:basevol-430-disk-0/subvol-431-disk-0"
    # the clone's own settings on top, then grown: its volumes are managed like any other
    apply = converges(node, dict(linked, memory=512, mounts=[dict(MOUNTS[0], size=2)]))
    assert apply["commands"] == ["pct set 431 --memory 512", "pct resize 431 mp0 2G"]

    health = ok(node.run_task("nexcage_health", {"checks": ["half_made", "orphan_volumes"]}))
    assert [check["status"] for check in health["checks"]] == ["ok", "ok"], health["checks"]

    # the template goes only after its linked clone (Proxmox refuses to free a base volume in use)
    refused = node.run_task(MOD, {"vmid": 430, "state": "absent"})
    assert refused["failed"] and "still in use by linked clones" in refused["msg"], refused["msg"]
    assert node.conf(430) is not None
    converges(node, {"vmid": 431, "state": "absent"})
    converges(node, {"vmid": 430, "state": "absent"})
    assert node.conf(430) is None and node.conf(431) is None
