"""Check mode checks what the real run would refuse (issue 14 item 3), and a real run refuses it
before any change: bridges, bind-mount sources, storages, templates; a failed start after this
task's create leaves nothing behind unless keep_on_failure."""

import json

from integration_conftest import BASE, MOD, ok


def refused(node, args, *words):
    """Refused in check mode and in a real run, naming words, with no tool call and no container."""
    for check in (True, False):
        result = node.run_task(MOD, args, check=check)
        assert result.get("failed") and result["_calls"] == [], result
        for word in words:
            assert word in result["msg"], (word, result["msg"])
        assert "Traceback" not in result.get("_stderr", "")
    return result


def test_a_missing_bridge_is_refused_before_create(node):
    args = dict(BASE, vmid=320, state="started", netif=[{"name": "eth0", "bridge": "vmbr9", "ip": "dhcp"}])
    result = refused(node, args, "netif[0].bridge", "'vmbr9' does not exist", "vmbr0")
    assert result["error"]["category"] == "not_found"
    assert node.conf(320) is None


def test_a_missing_bridge_is_refused_before_update(node):
    ok(node.run_task(MOD, dict(BASE, vmid=321)))
    args = dict(BASE, vmid=321, state="restarted", netif=[{"name": "eth0", "bridge": "vmbr7"}])
    refused(node, args, "netif[0].bridge", "'vmbr7'")
    assert "net0" not in node.conf(321)


def test_a_missing_bridge_in_a_container_that_stays_stopped_is_a_warning(node):
    # PVE stores it and refuses only at start: so does nexcage, with a warning
    args = dict(BASE, vmid=326, netif=[{"name": "eth0", "bridge": "vmbr6"}])
    result = ok(node.run_task(MOD, args))
    assert "'vmbr6' does not exist" in json.dumps(result.get("warnings"))
    assert "bridge=vmbr6" in node.conf(326)


def test_a_missing_template_or_storage_is_refused_in_check_mode(node):
    refused(node, dict(BASE, vmid=322, image="local:vztmpl/nope_1.0_amd64.tar.zst"), "does not exist")
    refused(node, dict(BASE, vmid=322, rootfs={"storage": "nosuch", "size": 1}), "rootfs.storage", "'nosuch'")
    refused(node, dict(BASE, vmid=322, rootfs={"storage": "local", "size": 1}), "rootfs.storage", "local")
    mounts = [{"id": 0, "storage": "local", "size": 1, "mountpoint": "/data"}]
    refused(node, dict(BASE, vmid=322, mounts=mounts), "mounts[0].storage", "'local'")


def test_a_missing_bind_mount_source(node, tmp_path):
    source = str(tmp_path / "www")  # the node sees the host's file system outside /etc/pve and co.
    args = dict(BASE, vmid=323, state="started", mounts=[{"id": 0, "host_path": source, "mountpoint": "/var/www"}])
    real = node.run_task(MOD, args)
    assert real["failed"] and real["_calls"] == [] and node.conf(323) is None
    assert "mounts[0].host_path" in real["msg"] and "'%s' does not exist" % source in real["msg"]
    assert "ansible.builtin.file" in real["error"]["hint"]
    # check mode: an earlier task of the play (a dataset, a directory) may create it: a warning
    check = ok(node.run_task(MOD, args, check=True))
    assert check["changed"] is True and check["_calls"] == []
    assert "'%s' does not exist" % source in json.dumps(check.get("warnings"))
    # pct create refuses a missing bind-mount source as well (Proxmox's own answer, tests/golden)
    created = node.run_task(MOD, dict(args, state="present"))
    assert created["failed"] and created["_calls"] == [] and node.conf(323) is None
    # an existing container that stays stopped: PVE stores the mount point, nexcage warns
    ok(node.run_task(MOD, dict(BASE, vmid=323, state="present")))
    present = ok(node.run_task(MOD, dict(args, state="present")))
    assert "'%s' does not exist" % source in json.dumps(present.get("warnings"))
    assert "mp0: %s,mp=/var/www" % source in node.conf(323)
    node.sh("pct", "destroy", "323")


def test_a_failed_start_after_create_leaves_nothing_behind(node):
    args = dict(BASE, vmid=324, state="started")
    node.fault("pct start 324*", stderr="startup for container '324' failed", rc=255, times=1)
    result = node.run_task(MOD, args)
    assert result["failed"] and "destroyed again" in result["msg"], result["msg"]
    assert result["commands"][-1] == "pct destroy 324 --force 1"
    assert node.conf(324) is None and not node.exists("/var/lib/nexcage/containers/324.json")


def test_keep_on_failure_keeps_the_container_a_failed_start_leaves(node):
    args = dict(BASE, vmid=325, state="started", keep_on_failure=True)
    node.fault("pct start 325*", stderr="startup for container '325' failed", rc=255, times=1)
    result = node.run_task(MOD, args)
    assert result["failed"] and "is kept" in result["msg"], result["msg"]
    assert node.conf(325) is not None
    node.sh("pct", "destroy", "325")


def test_check_mode_assumes_an_earlier_task_made_what_is_missing(node):
    """A play that creates (or templates) a container and then changes (or clones) it: in check mode the
    first task only plans, so the second warns and predicts; a real run without it fails."""
    for args, step in (({"vmid": 327, "memory": 256}, "update"), ({"vmid": 328, "clone": 329}, "clone 329")):
        check = ok(node.run_task(MOD, args, check=True))
        assert check["changed"] is True and check["steps"][0] == step and check["_calls"] == []
        assert "check mode assumes an earlier task" in json.dumps(check.get("warnings"))
        real = node.run_task(MOD, args)
        assert real["failed"] and real["_calls"] == [] and node.conf(args["vmid"]) is None
