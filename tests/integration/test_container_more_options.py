"""The options community.proxmox users have (issue 12), each proved end to end under the simulated node
with check -> apply -> idempotent -> idempotent-check: protection, cmode/console/tty, hookscript,
mount options, storage-backed mount points (create, grow, detach, attach), devN, raw lxc.* lines,
clone (full and linked) and state: template; and community.proxmox's string forms and aliases."""

import json
import os

import pytest
from integration_conftest import BASE, MOD, TEMPLATE, ok


def four_phases(node, args):
    check, apply, again, again_check = node.run_tasks(
        MOD, [(args, True, True), (args, False, True), (args, False, True), (args, True, True)]
    )
    for result in (check, apply, again, again_check):
        ok(result)
    assert check["changed"] is True and check["_calls"] == []
    assert apply["changed"] is True
    assert apply["commands"] == check["commands"], "check mode must predict the exact commands"
    assert again["changed"] is False, again["changes"]
    assert again_check["changed"] is False and again_check["diff"]["before"] == again_check["diff"]["after"]
    assert again["_calls"] == [] and again_check["_calls"] == []
    return check, apply


TUN = {"id": 0, "path": "/dev/net/tun", "mode": "0666", "deny_write": False}
# The state a removing case starts from, and what an adding case takes back (a protected CT can't be
# removed when the node goes).
GIVEN = {"devices-removed": {"devices": [TUN]}, "protection-off": {"protection": True}}
UNDO = {"devices": {"devices": []}, "protection": {"protection": False}}


@pytest.fixture(scope="module")
def ct(node):
    ok(node.run_task(MOD, dict(BASE, vmid=400, hostname="more01")))
    return 400


@pytest.mark.parametrize(
    "name, options, command",
    [
        (
            "rootfs-options",
            {"rootfs": {"storage": "local-zfs", "size": 1, "acl": True, "mountoptions": ["noatime"]}},
            "pct set 400 --rootfs local-zfs:subvol-400-disk-0,acl=1,mountoptions=noatime,size=1G",
        ),
        ("console", {"cmode": "shell", "console": False, "tty": 4}, "pct set 400 --cmode shell --console 0 --tty 4"),
        ("protection", {"protection": True}, "pct set 400 --protection 1"),
        (
            "devices",
            {"devices": [TUN]},
            "pct set 400 --dev0 /dev/net/tun,deny-write=0,mode=0666",
        ),
        ("devices-removed", {"devices": []}, "pct set 400 --delete dev0"),
        ("protection-off", {"protection": False}, "pct set 400 --delete protection"),
    ],
)
def test_scalar_and_device_options(node, ct, name, options, command):
    # Each case first makes the state it changes (cases may run on different xdist workers, each with its CT).
    if name in GIVEN:
        ok(node.run_task(MOD, dict(BASE, vmid=ct, **GIVEN[name])))
    check, apply = four_phases(node, dict(BASE, vmid=ct, **options))
    if name in UNDO:
        ok(node.run_task(MOD, dict(BASE, vmid=ct, **UNDO[name])))
    if command:
        assert apply["commands"] == [command]


def test_storage_backed_mount_point_created_grown_detached_and_attached(node, ct):
    mount = {"id": 1, "storage": "local-zfs", "size": 1, "mountpoint": "/data", "acl": True, "backup": True}
    check, apply = four_phases(node, dict(BASE, vmid=ct, mounts=[mount]))
    assert apply["commands"] == ["pct set 400 --mp1 local-zfs:1,mp=/data,acl=1,backup=1"]
    conf = node.conf(ct)
    volume = [line for line in conf.splitlines() if line.startswith("mp1:")][0].split(" ", 1)[1].split(",")[0]
    check, apply = four_phases(node, dict(BASE, vmid=ct, mounts=[dict(mount, size="2G")]))
    assert apply["commands"] == ["pct resize 400 mp1 2G"]
    shrink = node.run_task(MOD, dict(BASE, vmid=ct, mounts=[dict(mount, size=1)]))
    assert shrink["failed"] and "only grow" in shrink["msg"]
    check, apply = four_phases(node, dict(BASE, vmid=ct, mounts=[]))
    assert apply["commands"] == ["pct set 400 --delete mp1"]
    assert "unused0: %s" % volume in node.conf(ct), "a detached volume is kept as unusedN"
    attach = {"id": 2, "volume": volume, "mountpoint": "/again", "quota": False}
    check, apply = four_phases(node, dict(BASE, vmid=ct, mounts=[attach]))
    assert apply["commands"] == ["pct set 400 --mp2 %s,mp=/again,quota=0" % volume]


def test_hookscript_is_refused_when_missing_and_set_when_there(node, ct):
    refused = node.run_task(MOD, dict(BASE, vmid=ct, hookscript="local:snippets/nope.sh"), check=True)
    assert refused["failed"] and "does not exist" in refused["msg"] and refused["_calls"] == []
    os.makedirs(node.path("/var/lib/vz/snippets"), exist_ok=True)
    with open(node.path("/var/lib/vz/snippets/hook.sh"), "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(node.path("/var/lib/vz/snippets/hook.sh"), 0o644)
    refused = node.run_task(MOD, dict(BASE, vmid=ct, hookscript="local:snippets/hook.sh"))
    assert refused["failed"] and "not executable" in refused["msg"]
    os.chmod(node.path("/var/lib/vz/snippets/hook.sh"), 0o755)
    check, apply = four_phases(node, dict(BASE, vmid=ct, hookscript="local:snippets/hook.sh"))
    assert apply["commands"] == ["pct set 400 --hookscript local:snippets/hook.sh"]


def test_raw_lxc_lines_allow_listed(node, ct):
    lines = [["lxc.cgroup2.devices.allow", "c 10:200 rwm"], "lxc.apparmor.profile: unconfined"]
    check, apply = four_phases(node, dict(BASE, vmid=ct, lxc=lines))
    assert "lxc.cgroup2.devices.allow: c 10:200 rwm" in node.conf(ct)
    assert apply["commands"] == [] and "lxc" in apply["steps"]
    for bad in (["lxc.hook.pre-start", "/tmp/x"], "lxc.include: /etc/x", ["lxc.apparmor.profile", "a\nb"]):
        refused = node.run_task(MOD, dict(BASE, vmid=ct, lxc=[bad]))
        assert refused["failed"] and "lxc[0]" in refused["msg"], refused["msg"]


def test_state_template_then_linked_and_full_clones(node):
    ok(node.run_task(MOD, dict(BASE, vmid=410, hostname="tmpl01")))
    check, apply = four_phases(node, {"vmid": 410, "state": "template"})
    assert apply["commands"] == ["pct template 410"]
    assert "template: 1" in node.conf(410)
    linked = {"vmid": 411, "clone": 410, "hostname": "linked01", "memory": 256}
    check, apply = four_phases(node, linked)
    assert apply["commands"] == ["pct clone 410 411 --hostname linked01 --full 0", "pct set 411 --memory 256"]
    full = {"vmid": 412, "clone": "tmpl01", "clone_type": "full", "storage": "local-zfs", "hostname": "full01"}
    check, apply = four_phases(node, full)
    assert apply["commands"] == ["pct clone 410 412 --hostname full01 --full 1 --storage local-zfs"]
    assert "template" not in node.conf(412)
    # a linked clone needs a template: refused before anything (also in check mode)
    refused = node.run_task(MOD, {"vmid": 413, "clone": 412, "clone_type": "linked"}, check=True)
    assert refused["failed"] and "template" in refused["msg"] and refused["_calls"] == []


def test_community_proxmox_string_forms_and_aliases(node):
    args = {
        "vmid": 420,
        "hostname": "forms01",
        "ostemplate": TEMPLATE,
        "ostype": "unmanaged",
        "disk": "local-zfs:1",
        "netif": {"net0": "name=eth0,ip=dhcp,bridge=vmbr0,firewall=1,tag=934,mtu=1500"},
        "mounts": {"mp0": "local-zfs:1,mp=/mnt/test/"},
        "features": ["nesting=1", "mount=cifs,nfs"],
        "startup": ["order=1", "up=30"],
        "cpus": 2,
        "timeout": 90,
        "update": True,
    }
    check, apply = four_phases(node, args)
    conf = node.conf(420)
    for line in ("cpulimit: 2", "features: mount=cifs;nfs,nesting=1", "startup: order=1,up=30", "mp=/mnt/test"):
        assert line in conf, (line, conf)
    assert "update" in json.dumps(apply.get("warnings"))
    # pubkey is ssh_public_keys (a temporary key file: its name differs between check and apply)
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBn5kBYMfyH3g6bWm3PgnkN2rwZ/W5K6mY6jqVZX7Qk8 a@b"
    keyed = ok(node.run_task(MOD, dict(BASE, vmid=421, pubkey=key)))
    assert "--ssh-public-keys" in keyed["commands"][0]


@pytest.mark.parametrize(
    "args, words",
    [
        ({"netif": {"net0": "name=eth0,bogus=1"}}, ["netif.net0", "bogus"]),
        ({"netif": {"eth0": "name=eth0"}}, ["netif.eth0", "net0"]),
        ({"netif": [{"name": "eth0", "tag": "x"}]}, ["netif[0]", "tag"]),
        ({"netif": "name=eth0"}, ["netif", "list"]),
        ({"features": ["nesting=maybe"]}, ["features[0]"]),
        ({"mounts": {"mp0": 5}}, ["mounts.mp0", "property string"]),
        ({"startup": "order=x"}, ["startup"]),
        ({"disk": "local-zfs:1", "rootfs": {"storage": "local-zfs"}}, ["disk", "rootfs"]),
        (
            {"api_host": "pve1", "api_user": "root@pam", "api_password": "s3cret", "node": "pve1"},
            ["api_host", "runs on the Proxmox VE node", "inventory"],
        ),
    ],
)
def test_wrong_forms_never_trace_back(node, args, words):
    result = node.run_task(MOD, dict(BASE, vmid=430, **args), check=True)
    assert result["failed"] and result["_calls"] == []
    assert "Traceback" not in result.get("_stderr", "") and result["error"]["category"] == "invalid_argument"
    text = result["msg"] + " " + (result["error"]["hint"] or "")
    for word in words:
        assert word in text, (word, text)
    assert "s3cret" not in json.dumps(result)
