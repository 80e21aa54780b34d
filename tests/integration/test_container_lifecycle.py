"""nexcage_container on a simulated node (no running containers needed): create, every option's
update with check -> apply -> idempotent -> idempotent-check, create-only fields, recreate,
identity by hostname, secrets, absent."""

import glob
import json
import os

import pytest
from integration_conftest import BASE, MOD, ok


def four_phases(node, args, expect_cmds=None):
    """check -> apply -> idempotent -> idempotent-check (one pvesim run); returns (check, apply)."""
    check, apply, again, again_check = node.run_tasks(
        MOD, [(args, True, True), (args, False, True), (args, False, True), (args, True, True)]
    )
    for result in (check, apply, again, again_check):
        ok(result)
    assert check["changed"] is True, check
    assert check["_calls"] == [], "check mode ran a simulated tool"
    assert apply["changed"] is True
    assert apply["commands"] == check["commands"], "check mode must predict the exact commands"
    if expect_cmds is not None:
        assert apply["commands"] == expect_cmds
    assert [c["argv"] for c in apply["_calls"]] == [_split(c) for c in apply["commands"]]
    assert again["changed"] is False, again["changes"]
    assert again["commands"] == []
    assert again_check["changed"] is False
    assert again_check["diff"]["before"] == again_check["diff"]["after"]
    assert again["_calls"] == [] and again_check["_calls"] == [], "a converged task must not call any tool"
    return check, apply


def _split(cmd):
    import shlex

    return shlex.split(cmd)


@pytest.fixture(scope="module")
def ct(node):
    """One container (VMID 200) that the option tests update in turn."""
    args = dict(BASE, vmid=200, hostname="opt01", memory=256)
    result = ok(node.run_task(MOD, args))
    assert result["changed"] is True
    return 200


def test_create_four_phases(node):
    args = dict(
        BASE,
        vmid=101,
        hostname="web01",
        memory=512,
        swap=128,
        cores=2,
        netif=[{"name": "eth0", "bridge": "vmbr0", "ip": "10.0.0.5/24", "gw": "10.0.0.1"}],
        features={"nesting": True},
        onboot=True,
        tags=["Web", "prod"],
        description="front end\nsecond line",
        unprivileged=True,
    )
    check, apply = four_phases(
        node,
        args,
        expect_cmds=[
            "pct create 101 local:vztmpl/busybox-1.35_amd64.tar.zst --hostname web01 --memory 512 --swap 128 "
            "--cores 2 --onboot 1 --unprivileged 1 --ostype unmanaged --tags 'prod;web' "
            "--description 'front end\nsecond line' --rootfs local-zfs:1 "
            "--net0 name=eth0,bridge=vmbr0,gw=10.0.0.1,ip=10.0.0.5/24 --features nesting=1"
        ],
    )
    assert check["diff"]["before"] == {"status": "absent"}
    assert check["diff"]["after"]["config"]["hostname"] == "web01"
    assert apply["vmid"] == 101
    c = apply["container"]
    assert c["status"] == "stopped" and c["pid"] is None
    assert c["memory"] == 512 and c["cores"] == 2 and c["onboot"] is True
    assert c["rootfs"]["size"] == 1024**3 and c["rootfs"]["volume"].startswith("local-zfs:")
    assert c["net0"]["ip"] == "10.0.0.5/24" and c["net0"]["hwaddr"]
    assert c["tags"] == ["prod", "web"]
    assert c["features"] == {"nesting": True}
    state = json.loads(node.read("/run/nexcage/101/state.json"))
    assert state["id"] == "101" and state["status"] == "created"


# (name, args delta, commands)
OPTIONS = [
    ("memory", {"memory": 384}, ["pct set 200 --memory 384"]),
    ("swap", {"swap": 64}, ["pct set 200 --swap 64"]),
    ("cores", {"cores": 1}, ["pct set 200 --cores 1"]),
    ("cpulimit", {"cpulimit": 1.5}, ["pct set 200 --cpulimit 1.5"]),
    ("cpuunits", {"cpuunits": 200}, ["pct set 200 --cpuunits 200"]),
    ("hostname", {"hostname": "opt02"}, ["pct set 200 --hostname opt02"]),
    ("onboot", {"onboot": True}, ["pct set 200 --onboot 1"]),
    ("onboot-off", {"onboot": False}, ["pct set 200 --delete onboot"]),
    ("startup", {"startup": {"order": 3, "up": 10}}, ["pct set 200 --startup order=3,up=10"]),
    ("tags", {"tags": ["a", "B"]}, ["pct set 200 --tags 'a;b'"]),
    ("tags-clear", {"tags": []}, ["pct set 200 --delete tags"]),
    ("description", {"description": "hello"}, ["pct set 200 --description hello"]),
    ("nameserver", {"nameserver": ["10.0.0.53"]}, ["pct set 200 --nameserver 10.0.0.53"]),
    ("searchdomain", {"searchdomain": ["example.com"]}, ["pct set 200 --searchdomain example.com"]),
    ("timezone", {"timezone": "UTC"}, ["pct set 200 --timezone UTC"]),
    ("features", {"features": {"nesting": True, "keyctl": True}}, ["pct set 200 --features keyctl=1,nesting=1"]),
    ("features-off", {"features": {"keyctl": False}}, ["pct set 200 --features nesting=1"]),
    ("netif-add", {"netif": [{"name": "eth0", "bridge": "vmbr0", "ip": "dhcp"}]}, None),
    (
        "netif-change",
        {"netif": [{"name": "eth0", "bridge": "vmbr0", "ip": "10.1.0.2/24", "tag": 5, "mtu": 1400}]},
        None,
    ),
    ("netif-second", {"netif": [{"name": "eth0"}, {"name": "eth1", "bridge": "vmbr1", "firewall": True}]}, None),
    ("netif-remove", {"netif": [{"name": "eth1"}]}, ["pct set 200 --delete net0"]),
    (
        "mounts-bind",
        {"mounts": [{"id": 0, "host_path": "/srv/share", "mountpoint": "/share", "read_only": True}]},
        ["pct set 200 --mp0 /srv/share,mp=/share,ro=1"],
    ),
    (
        "mounts-volume",
        {
            "mounts": [
                {"id": 0, "host_path": "/srv/share", "mountpoint": "/share", "read_only": True},
                {"id": 1, "storage": "local-zfs", "size": "512M", "mountpoint": "/data", "backup": True},
            ]
        },
        ["pct set 200 --mp1 local-zfs:0.5,mp=/data,backup=1"],
    ),
    (
        "mounts-grow",
        {
            "mounts": [
                {"id": 0, "host_path": "/srv/share", "mountpoint": "/share", "read_only": True},
                {"id": 1, "storage": "local-zfs", "size": 1, "mountpoint": "/data", "backup": True},
            ]
        },
        ["pct resize 200 mp1 1G"],
    ),
    ("mounts-remove", {"mounts": []}, ["pct set 200 --delete mp0,mp1"]),
    ("rootfs-grow", {"rootfs": {"storage": "local-zfs", "size": 2}}, ["pct resize 200 rootfs 2G"]),
]


@pytest.mark.parametrize("name,delta,cmds", OPTIONS, ids=[o[0] for o in OPTIONS])
def test_option_four_phases(node, ct, name, delta, cmds):
    args = dict(BASE, vmid=ct, **delta)
    check, apply = four_phases(node, args, expect_cmds=cmds)
    assert apply["changes"], "changes must say what differed"
    for change in apply["changes"]:
        assert change["kind"] in ("live", "restart") and change["reason"]
    # the config really has it
    c = apply["container"]
    for key, value in delta.items():
        if key in ("memory", "swap", "cores", "cpuunits", "hostname"):
            assert c[key] == value
    if name == "netif-second":
        assert sorted(k for k in c if k.startswith("net")) == ["net0", "net1"]
        assert c["net1"]["firewall"] is True
    if name == "netif-remove":
        assert [k for k in c if k.startswith("net")] == ["net1"]
    if name == "mounts-remove":
        assert not [k for k in c if k.startswith("mp")]
        assert any(k.startswith("unused") for k in c), "a removed volume mount point is kept as unusedN"
    assert check["diff"]["after"] != check["diff"]["before"]


CREATE_ONLY = [
    ("unprivileged", {"unprivileged": False}),
    ("arch", {"arch": "arm64"}),
    ("rootfs.storage", {"rootfs": {"storage": "local", "size": 1}}),
    ("image", {"image": "local:vztmpl/other-1.0_amd64.tar.zst"}),
    ("rootfs.size", {"rootfs": {"storage": "local-zfs", "size": "512M"}}),
]


@pytest.mark.parametrize("field,delta", CREATE_ONLY, ids=[c[0] for c in CREATE_ONLY])
def test_create_only_fails_without_recreate(node, field, delta):
    vmid = 300
    ok(node.run_task(MOD, dict(BASE, vmid=vmid, hostname="co01")))
    before = node.conf(vmid)
    args = dict(BASE, vmid=vmid, **delta)
    for result in node.run_tasks(MOD, [(args, True, False), (args, False, False)]):
        assert result["failed"] is True
        assert result["_calls"] == []
        assert result["error"]["category"] == "invalid_argument"
        assert field in result["error"]["message"]
        assert "recreate: true" in result["error"]["hint"]
    assert node.conf(vmid) == before


def test_recreate(fresh_node):
    node = fresh_node
    first = dict(BASE, vmid=310, hostname="re01", memory=300)
    args = dict(first, arch="arm64", recreate=True)
    created, check, result, again = node.run_tasks(
        MOD, [(first, False, False), (args, True, False), (args, False, False), (args, False, False)]
    )
    ok(created)
    ok(check)
    assert check["commands"][0] == "pct destroy 310"
    assert check["commands"][1].startswith("pct create 310 ")
    assert ok(result)["changed"] is True
    assert result["container"]["arch"] == "arm64"
    assert result["steps"] == ["destroy", "create"]
    assert [c["kind"] for c in result["changes"]] == ["create_only"]
    assert ok(again)["changed"] is False


def test_identity_by_hostname(fresh_node):
    node = fresh_node
    args = dict(BASE, hostname="byname")
    first, second, other, amb = node.run_tasks(
        MOD,
        [
            (args, False, False),
            (dict(args, memory=600), False, False),
            (dict(BASE, vmid=105, hostname="byname"), False, False),
            (args, False, False),
        ],
    )
    assert ok(first)["changed"] is True and first["vmid"] == 100
    assert ok(second)["vmid"] == 100 and second["commands"] == ["pct set 100 --memory 600"]
    ok(other)
    # a second container with the same hostname makes the name ambiguous
    assert amb["failed"] is True
    assert amb["error"]["category"] == "invalid_argument"
    assert "100, 105" in amb["error"]["message"]
    assert amb["_calls"] == []


def test_vmid_allocation_skips_vms_and_containers(fresh_node):
    node = fresh_node
    node.seed_vm(100)
    first, second = node.run_tasks(
        MOD, [(dict(BASE, vmid=101, hostname="a1"), False, False), (dict(BASE, hostname="a2"), False, False)]
    )
    ok(first)
    assert ok(second)["vmid"] == 102


def test_check_mode_create_without_vmid_names_the_vmid(fresh_node):
    result = ok(fresh_node.run_task(MOD, dict(BASE, hostname="planned"), check=True, diff=True))
    assert result["vmid"] == 100
    assert result["commands"][0].startswith("pct create 100 ")
    assert not fresh_node.exists("/etc/pve/lxc/100.conf")


def test_secrets_masked_and_keyfile_removed(fresh_node):
    node = fresh_node
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test@example"
    args = dict(BASE, vmid=120, password="s3cretpass", ssh_public_keys=key)
    result = ok(node.run_task(MOD, args))
    cmd = result["commands"][0]
    assert "s3cretpass" not in json.dumps({k: v for k, v in result.items() if k != "_calls"})
    assert "--password ********" in cmd
    keyfile = cmd.split("--ssh-public-keys ")[1].split()[0]
    assert not os.path.exists(keyfile)
    assert not glob.glob(os.path.join(node.work, "nexcage-keys-*"))
    check = ok(node.run_task(MOD, dict(args, vmid=121), check=True))
    assert "<temporary file with ssh_public_keys>" in check["commands"][0]


def test_absent_four_phases(fresh_node):
    node = fresh_node
    ok(node.run_task(MOD, dict(BASE, vmid=130)))
    assert node.exists("/run/nexcage/130/state.json")
    check, apply = four_phases(node, {"vmid": 130, "state": "absent", "purge": True}, ["pct destroy 130 --purge 1"])
    assert apply["container"] is None
    assert check["diff"]["after"] == {"status": "absent"}
    assert node.conf(130) is None
    assert not node.exists("/run/nexcage/130")
    assert "130" not in node.read("/etc/pve/.vmlist")


def test_absent_by_missing_hostname_is_ok(fresh_node):
    result = ok(fresh_node.run_task(MOD, {"hostname": "nothere", "state": "absent"}))
    assert result["changed"] is False and result["vmid"] is None


def test_through_ansible_playbook(fresh_node):
    """The same module through a real ansible-playbook run (check, apply, idempotent)."""
    node = fresh_node
    args = dict(BASE, vmid=140, hostname="play01", password="hunter22x")
    check = node.run_play(MOD, args, check=True, diff=True)
    assert check["changed"] is True and not check.get("failed")
    apply = node.run_play(MOD, args, diff=True)
    assert apply["changed"] is True and apply["vmid"] == 140
    assert "hunter22x" not in apply["_stdout"]
    again = node.run_play(MOD, args)
    assert again["changed"] is False
