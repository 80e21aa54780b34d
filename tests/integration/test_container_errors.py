"""nexcage_container error paths on a simulated node: each gives its category and an actionable
message, leaves nothing half-made, and produces no traceback."""

import pytest
from integration_conftest import BASE, MOD, TEMPLATE


def failed(result, category):
    assert result.get("failed") is True, result
    assert "Traceback" not in result.get("_stderr", "") and "Traceback" not in result.get("msg", "")
    err = result["error"]
    assert err["category"] == category, err
    assert err["message"] and err["hint"]
    assert set(err) >= {"category", "message", "hint", "cmd", "rc", "stdout", "stderr"}
    return err


def nothing_made(node, vmid):
    assert node.conf(vmid) is None
    assert '"%s"' % vmid not in node.read("/etc/pve/.vmlist")
    assert not node.exists("/run/nexcage/%s" % vmid)


def test_vmid_held_by_vm(node):
    node.seed_vm(150)
    for result in node.run_tasks(MOD, [(dict(BASE, vmid=150), True, False), (dict(BASE, vmid=150), False, False)]):
        err = failed(result, "already_exists")
        assert "QEMU virtual machine" in err["message"] and "VMID 150" in err["message"]
        assert result["_calls"] == []
    assert node.conf(150) is None


def test_duplicate_vmid_race_explicit(node):
    """Someone else created the VMID between our read and pct create."""
    node.fault("pct create 160 *", stderr="CT 160 already exists on node 'pve'", rc=2, times=1)
    result = node.run_task(MOD, dict(BASE, vmid=160))
    err = failed(result, "already_exists")
    assert "CT 160 already exists on node 'pve'" in err["message"]
    assert err["cmd"].startswith("pct create 160 ") and err["rc"] == 2
    nothing_made(node, 160)


def test_duplicate_vmid_race_allocated_is_retried(fresh_node):
    node = fresh_node
    node.fault("pct create 100 *", stderr="CT 100 already exists on node 'pve'", rc=2, times=1)
    result = node.run_task(MOD, dict(BASE, hostname="retry01"))
    assert not result.get("failed"), result["msg"]
    assert result["vmid"] == 101
    assert [c["argv"][2] for c in result["_calls"]] == ["100", "101"]


def test_missing_template_lists_available(node):
    args = dict(BASE, vmid=170, image="local:vztmpl/nope-1.0_amd64.tar.zst")
    for result in node.run_tasks(MOD, [(args, True, False), (args, False, False)]):
        err = failed(result, "not_found")
        assert "local:vztmpl/nope-1.0_amd64.tar.zst" in err["message"]
        assert TEMPLATE in err["message"], "the error lists the templates the storage has"
        assert "download: true" in err["hint"]
        assert result["_calls"] == []
    nothing_made(node, 170)


def test_download_template(fresh_node):
    node = fresh_node
    image = "local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz"
    args = dict(BASE, vmid=171, image=image, download=True)
    node.sh("pveam", "update")
    check, apply, again = node.run_tasks(MOD, [(args, True, False), (args, False, False), (args, False, False)])
    assert check["commands"][0] == "pveam download local alpine-3.22-default_20250617_amd64.tar.xz"
    assert not check.get("failed") and not apply.get("failed"), apply.get("msg")
    assert apply["commands"][0] == check["commands"][0]
    assert apply["commands"][1].startswith("pct create 171 " + image)
    assert node.exists("/var/lib/vz/template/cache/alpine-3.22-default_20250617_amd64.tar.xz")
    assert again["changed"] is False and again["_calls"] == []


def test_download_of_unknown_template_fails(fresh_node):
    node = fresh_node
    node.sh("pveam", "update")
    result = node.run_task(MOD, dict(BASE, vmid=172, image="local:vztmpl/nope-9_amd64.tar.zst", download=True))
    failed(result, "not_found")
    nothing_made(node, 172)


@pytest.mark.parametrize(
    "args,option",
    [
        ({"hostname": "bad_name"}, "hostname"),
        ({"vmid": 99}, "vmid"),
        ({"memory": 4}, "memory"),
        ({"netif": [{"name": "eth0", "ip": "10.0.0.1"}]}, "netif[0].ip"),
        ({"mounts": [{"id": 0, "host_path": "/srv/../etc", "mountpoint": "/x"}]}, "mounts[0].host_path"),
        ({"image": "debian.tar.zst"}, "image"),
    ],
)
def test_invalid_arguments(node, args, option):
    full = dict(BASE, vmid=180, **args) if "vmid" not in args else dict(BASE, **args)
    result = node.run_task(MOD, full)
    err = failed(result, "invalid_argument")
    assert option in err["message"]
    assert result["_calls"] == []
    nothing_made(node, 180)


def test_missing_storage(node):
    result = node.run_task(MOD, dict(BASE, vmid=190, rootfs={"storage": "nope", "size": 1}))
    err = failed(result, "not_found")
    assert "storage 'nope' does not exist" in err["message"] and "local-zfs" in err["message"]
    assert result["_calls"] == []
    nothing_made(node, 190)


def test_storage_without_rootdir(node):
    result = node.run_task(MOD, dict(BASE, vmid=191, rootfs={"storage": "local", "size": 1}))
    err = failed(result, "unsupported")
    assert "does not support container directories" in err["message"]
    nothing_made(node, 191)


def test_failed_create_leaves_nothing(node):
    node.fault("pct create 192 *", stderr="unable to create CT 192 - No space left on device", rc=255, times=1)
    result = node.run_task(MOD, dict(BASE, vmid=192, hostname="full01"))
    err = failed(result, "resource_exhausted")
    assert "container full01 (VMID 192)" in err["message"]
    nothing_made(node, 192)


def test_unknown_os_fails_in_task_and_leaves_nothing(node):
    args = dict(BASE, vmid=193)
    del args["ostype"]
    err = failed(node.run_task(MOD, args), "invalid_argument")
    assert "unable to detect OS distribution" in err["message"] and "ostype: unmanaged" in err["hint"]
    nothing_made(node, 193)


def test_locked_container(node):
    assert not node.run_task(MOD, dict(BASE, vmid=194)).get("failed")
    node.write("/etc/pve/lxc/194.conf", node.conf(194) + "lock: backup\n")
    before = node.conf(194)
    upd, absent = node.run_tasks(
        MOD, [(dict(BASE, vmid=194, memory=1024), False, False), ({"vmid": 194, "state": "absent"}, False, False)]
    )
    for result in (upd, absent):
        err = failed(result, "locked")
        assert "CT is locked (backup)" in err["message"] and "VMID 194" in err["message"]
        assert "pct unlock 194" in err["hint"]
        assert result["_calls"] == []
    assert node.conf(194) == before
    # converged tasks do not care about the lock
    same = node.run_task(MOD, dict(BASE, vmid=194))
    assert same["changed"] is False and not same.get("failed")


def test_locked_by_pct(node):
    """The lock appears between our read and pct set: pct's own error is mapped."""
    assert not node.run_task(MOD, dict(BASE, vmid=195)).get("failed")
    node.fault("pct set 195 *", stderr="CT is locked (snapshot)", rc=255, times=1)
    result = node.run_task(MOD, dict(BASE, vmid=195, memory=777))
    err = failed(result, "locked")
    assert (
        err["cmd"] == "pct set 195 --memory 777" and err["rc"] == 255 and err["stderr"] == "CT is locked (snapshot)\n"
    )
    assert "memory: 777" not in node.conf(195)


def test_start_failure_keeps_created_container(node):
    # keep_on_failure: without it the container is destroyed again (test_container_checks_first.py)
    args = dict(BASE, vmid=196, state="started", netif=[{"name": "eth0", "bridge": "vmbr0"}], keep_on_failure=True)
    node.fault("pct start 196*", stderr="bridge 'vmbr9' does not exist", rc=255, times=1)
    result = node.run_task(MOD, args)
    err = failed(result, "not_found")
    assert "bridge 'vmbr9' does not exist" in err["message"]
    assert "kept" in err["message"]
    assert result["commands"][0].startswith("pct create 196 ") and result["commands"][1] == "pct start 196"
    assert node.conf(196) is not None, "create succeeded: the container is kept"
    assert result["changed"] is True


def test_command_timeout(node):
    assert not node.run_task(MOD, dict(BASE, vmid=197)).get("failed")
    node.fault("pct set 197 *", hang=20, times=1)
    result = node.run_task(MOD, dict(BASE, vmid=197, memory=700, command_timeout=2))
    err = failed(result, "timeout")
    assert "pct set 197 --memory 700" in err["message"]


def test_absent_needs_identity(node):
    result = node.run_task(MOD, {"state": "absent"})
    assert result["failed"] is True and "vmid" in result["msg"]


def test_missing_pool(node):
    result = node.run_task(MOD, dict(BASE, vmid=198, pool="nopool"))
    err = failed(result, "not_found")
    assert "nopool" in err["message"]
    nothing_made(node, 198)


def test_bad_ssh_key(node):
    result = node.run_task(MOD, dict(BASE, vmid=199, ssh_public_keys="this is not a key"))
    err = failed(result, "invalid_argument")
    assert "SSH public key validation error" in err["message"]
    nothing_made(node, 199)
