"""Differ/planner: desired options against a parsed config; table-driven, pure."""

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils import _pveconfig, _validation
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.desired import desired_from_params
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.plan import (
    CREATE_ONLY,
    LIVE,
    RESTART,
    create_options,
    plan_update,
    predicted_config,
)

G = 1024**3

CURRENT = _pveconfig.effective_config(
    _pveconfig.parse_config(
        """arch: amd64
cores: 2
features: nesting=1
hostname: web01
memory: 1024
mp0: local-zfs:subvol-100-disk-1,mp=/data,backup=1,size=16G
mp1: /srv/shared,mp=/shared,ro=1
net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:5E:7A:01,ip=dhcp,type=veth
onboot: 1
ostype: debian
rootfs: local-zfs:subvol-100-disk-0,size=8G
swap: 512
tags: a;b
unprivileged: 1
"""
    )
)

SAME = {
    "hostname": "web01",
    "memory": 1024,
    "swap": 512,
    "cores": 2,
    "onboot": True,
    "unprivileged": True,
    "ostype": "debian",
    "arch": "amd64",
    "tags": ["b", "A"],
    "features": {"nesting": True},
    "rootfs": {"storage": "local-zfs", "size": "8G"},
    "netif": [{"name": "eth0", "bridge": "vmbr0", "ip": "dhcp"}],
    "mounts": [
        {"id": 0, "storage": "local-zfs", "size": 16, "mountpoint": "/data", "backup": True},
        {"id": 1, "host_path": "/srv/shared", "mountpoint": "/shared", "read_only": True},
    ],
}


def plan(params, running=False, current=None, image=None):
    return plan_update(desired_from_params(params), current or CURRENT, running, image)


def test_converged_is_empty():
    p = plan(SAME)
    assert p.changes == []
    assert p.set_argv(100) is None and p.resize_argvs(100) == []


def test_omitted_options_are_not_managed():
    assert plan({}).changes == []
    assert plan({"memory": 1024}).changes == []


# (params, key, kind, set argv)
CASES = [
    ({"memory": 2048}, "memory", LIVE, ["pct", "set", "100", "--memory", "2048"]),
    ({"hostname": "web02"}, "hostname", LIVE, ["pct", "set", "100", "--hostname", "web02"]),
    ({"cpulimit": 1.5}, "cpulimit", LIVE, ["pct", "set", "100", "--cpulimit", "1.5"]),
    ({"onboot": False}, "onboot", LIVE, ["pct", "set", "100", "--delete", "onboot"]),
    ({"tags": ["c"]}, "tags", LIVE, ["pct", "set", "100", "--tags", "c"]),
    ({"tags": []}, "tags", LIVE, ["pct", "set", "100", "--delete", "tags"]),
    ({"description": "hello\nworld"}, "description", LIVE, ["pct", "set", "100", "--description", "hello\nworld"]),
    ({"timezone": "UTC"}, "timezone", RESTART, ["pct", "set", "100", "--timezone", "UTC"]),
    (
        {"nameserver": "10.0.0.1 10.0.0.2"},
        "nameserver",
        RESTART,
        ["pct", "set", "100", "--nameserver", "10.0.0.1 10.0.0.2"],
    ),
    (
        {"features": {"keyctl": True}},
        "features",
        RESTART,
        ["pct", "set", "100", "--features", "keyctl=1,nesting=1"],
    ),
    ({"features": {"nesting": False}}, "features", RESTART, ["pct", "set", "100", "--delete", "features"]),
    ({"startup": {"order": 2}}, "startup", LIVE, ["pct", "set", "100", "--startup", "order=2"]),
    (
        {"netif": [{"name": "eth0", "bridge": "vmbr1", "ip": "dhcp"}]},
        "net0",
        LIVE,
        ["pct", "set", "100", "--net0", "name=eth0,bridge=vmbr1,hwaddr=BC:24:11:5E:7A:01,ip=dhcp,type=veth"],
    ),
    (
        {"netif": [{"name": "eth0", "ip": ""}]},
        "net0",
        LIVE,
        ["pct", "set", "100", "--net0", "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:5E:7A:01,type=veth"],
    ),
    ({"netif": []}, "net0", LIVE, ["pct", "set", "100", "--delete", "net0"]),
]


@pytest.mark.parametrize("params,key,kind,argv", CASES, ids=[c[1] + "-" + str(i) for i, c in enumerate(CASES)])
def test_single_changes(params, key, kind, argv):
    p = plan(params)
    assert [c.key for c in p.changes] == [key]
    assert p.changes[0].kind == kind
    assert p.changes[0].reason
    assert p.set_argv(100) == argv


def test_add_second_interface_takes_free_slot():
    p = plan({"netif": [{"name": "eth0"}, {"name": "eth1", "bridge": "vmbr1", "ip": "10.0.0.5/24", "gw": "10.0.0.1"}]})
    assert [c.key for c in p.changes] == ["net1"]
    assert p.set_argv(100)[-1] == "name=eth1,bridge=vmbr1,gw=10.0.0.1,ip=10.0.0.5/24,type=veth"


def test_mount_list_is_authoritative():
    p = plan({"mounts": [SAME["mounts"][0]]})
    assert [(c.key, c.kind) for c in p.changes] == [("mp1", RESTART)]
    assert p.delete == ["mp1"]
    assert p.pending_keys(running=True) == ["mp1"]
    assert p.pending_keys(running=False) == []


def test_new_storage_mount_and_bind_mount():
    p = plan(
        {
            "mounts": SAME["mounts"]
            + [
                {"id": 2, "storage": "local-zfs", "size": "512M", "mountpoint": "/cache"},
                {"id": 3, "host_path": "/srv/logs", "mountpoint": "/logs", "read_only": False},
            ]
        }
    )
    assert [(c.key, c.kind) for c in p.changes] == [("mp2", LIVE), ("mp3", LIVE)]
    argv = p.set_argv(100)
    assert argv[argv.index("--mp2") + 1] == "local-zfs:0.5,mp=/cache"
    assert argv[argv.index("--mp3") + 1] == "/srv/logs,mp=/logs,ro=0"


def test_mount_options_change_is_restart():
    mounts = [dict(SAME["mounts"][0]), dict(SAME["mounts"][1], read_only=False)]
    p = plan({"mounts": mounts})
    assert [(c.key, c.kind) for c in p.changes] == [("mp1", RESTART)]
    assert p.set_argv(100) == ["pct", "set", "100", "--mp1", "/srv/shared,mp=/shared,ro=0"]


def test_mount_grow_is_resize_and_shrink_is_create_only():
    grow = plan({"mounts": [dict(SAME["mounts"][0], size=32), SAME["mounts"][1]]})
    assert grow.resize_argvs(100) == [["pct", "resize", "100", "mp0", "32G"]]
    assert grow.set_argv(100) is None
    shrink = plan({"mounts": [dict(SAME["mounts"][0], size=8), SAME["mounts"][1]]})
    assert [c.kind for c in shrink.changes] == [CREATE_ONLY]


def test_mount_storage_change_is_create_only():
    p = plan({"mounts": [dict(SAME["mounts"][0], storage="other"), SAME["mounts"][1]]})
    assert [(c.key, c.kind) for c in p.changes] == [("mp0.storage", CREATE_ONLY)]
    assert p.set_argv(100) is None


@pytest.mark.parametrize(
    "params,key",
    [
        ({"unprivileged": False}, "unprivileged"),
        ({"ostype": "alpine"}, "ostype"),
        ({"arch": "arm64"}, "arch"),
        ({"rootfs": {"storage": "local"}}, "rootfs.storage"),
        ({"rootfs": {"size": 4}}, "rootfs.size"),
    ],
)
def test_create_only(params, key):
    p = plan(params)
    assert [c.key for c in p.create_only] == [key]
    assert p.set_argv(100) is None


def test_image_compared_only_when_recorded():
    assert plan({"image": "local:vztmpl/a.tar.zst"}).changes == []
    p = plan({"image": "local:vztmpl/a.tar.zst"}, image="local:vztmpl/b.tar.zst")
    assert [c.key for c in p.create_only] == ["image"]
    assert plan({"image": "local:vztmpl/a.tar.zst"}, image="local:vztmpl/a.tar.zst").changes == []


def test_rootfs_grow():
    p = plan({"rootfs": {"size": 10}})
    assert p.resize_argvs(100) == [["pct", "resize", "100", "rootfs", "10G"]]


def test_several_changes_make_one_set():
    p = plan({"memory": 2048, "cores": 4, "timezone": "UTC", "netif": []})
    assert p.set_argv(100) == [
        "pct",
        "set",
        "100",
        "--cores",
        "4",
        "--memory",
        "2048",
        "--timezone",
        "UTC",
        "--delete",
        "net0",
    ]
    assert p.pending_keys(running=True) == ["timezone"]
    after = p.apply_to(CURRENT)
    assert after["memory"] == 2048 and "net0" not in after


@pytest.mark.parametrize(
    "params,option",
    [
        ({"hostname": "bad_name"}, "hostname"),
        ({"memory": 8}, "memory"),
        ({"cores": 0}, "cores"),
        ({"ostype": "windows"}, "ostype"),
        ({"tags": ["-x"]}, "tags"),
        ({"netif": [{"name": "eth0"}, {"name": "eth0"}]}, "netif[1].name"),
        ({"netif": [{"name": "eth0", "ip": "10.0.0.1"}]}, "netif[0].ip"),
        ({"netif": [{"name": "eth0", "tag": 5000}]}, "netif[0].tag"),
        ({"mounts": [{"id": 0, "mountpoint": "/x"}]}, "mounts[0]"),
        ({"mounts": [{"id": 0, "mountpoint": "/x", "storage": "local-zfs"}]}, "mounts[0].size"),
        ({"mounts": [{"id": 0, "mountpoint": "x", "host_path": "/a"}]}, "mounts[0].mountpoint"),
        ({"mounts": [{"id": 0, "mountpoint": "/x", "host_path": "/a/../b"}]}, "mounts[0].host_path"),
        ({"mounts": [{"id": 300, "mountpoint": "/x", "host_path": "/a"}]}, "mounts[0].id"),
        ({"rootfs": {"size": "huge"}}, "rootfs.size"),
        ({"image": "debian.tar.zst"}, "image"),
        ({"nameserver": "not-an-ip"}, "nameserver"),
    ],
)
def test_invalid_params(params, option):
    with pytest.raises(_validation.ValidationError) as info:
        desired_from_params(params)
    assert info.value.option == option


def test_create_options():
    d = desired_from_params(
        dict(
            SAME,
            tags=["web"],
            startup={"order": 1},
            pool="prod",
            mounts=[
                {"id": 0, "storage": "local-zfs", "size": 16, "mountpoint": "/data", "backup": True},
                {"id": 1, "host_path": "/srv/shared", "mountpoint": "/shared", "read_only": True},
            ],
        )
    )
    opts = dict(create_options(d))
    assert opts["rootfs"] == "local-zfs:8"
    assert opts["net0"] == "name=eth0,bridge=vmbr0,ip=dhcp"
    assert opts["mp0"] == "local-zfs:16,mp=/data,backup=1"
    assert opts["mp1"] == "/srv/shared,mp=/shared,ro=1"
    assert opts["features"] == "nesting=1"
    assert opts["unprivileged"] == "1" and opts["onboot"] == "1"
    assert opts["tags"] == "web" and opts["pool"] == "prod" and opts["startup"] == "order=1"
    cfg = predicted_config(d, 100)
    assert cfg["hostname"] == "web01" and cfg["rootfs"]["size"] == 8 * G
