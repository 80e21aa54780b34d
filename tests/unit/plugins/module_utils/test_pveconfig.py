"""Parser/serialiser of container configs and property strings: table-driven, pure."""

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils import _pveconfig as C
from ansible_collections.cageforge.nexcage.plugins.module_utils._pvestorage import parse_storage_cfg

G = 1024**3
M = 1024**2

SIZES = [
    ("8G", 8 * G),
    ("512M", 512 * M),
    ("1T", 1024 * G),
    ("4K", 4096),
    ("1000", 1000),
    ("1.5G", int(1.5 * G)),
    ("8GiB", 8 * G),
    ("8g", 8 * G),
    (1234, 1234),
]


@pytest.mark.parametrize("text,value", SIZES)
def test_parse_size(text, value):
    assert C.parse_size(text) == value


@pytest.mark.parametrize("bad", ["", "8X", "-1G", "G", True, -3])
def test_parse_size_bad(bad):
    with pytest.raises(C.ConfigError):
        C.parse_size(bad)


@pytest.mark.parametrize(
    "value,text",
    [
        (8 * G, "8G"),
        (512 * M, "512M"),
        (1024 * G, "1T"),
        (1536 * M, "1536M"),
        (1000, "1000"),
        (0, "0T"),
        (1536, "1536"),
    ],
)
def test_format_size(value, text):
    assert C.format_size(value) == text


@pytest.mark.parametrize("value,text", [(8 * G, "8"), (G // 2, "0.5"), (int(1.25 * G), "1.25")])
def test_size_to_gib(value, text):
    assert C.size_to_gib(value) == text


PROPS = [
    (
        "rootfs",
        "local-lvm:vm-100-disk-0,size=8G",
        {"volume": "local-lvm:vm-100-disk-0", "size": 8 * G},
        "local-lvm:vm-100-disk-0,size=8G",
    ),
    (
        "rootfs",
        "volume=local-zfs:subvol-100-disk-0,size=4G,mountoptions=noatime;nodev,acl=1",
        {"volume": "local-zfs:subvol-100-disk-0", "size": 4 * G, "mountoptions": ["noatime", "nodev"], "acl": True},
        "local-zfs:subvol-100-disk-0,acl=1,mountoptions=noatime;nodev,size=4G",
    ),
    (
        "mp0",
        "local-lvm:vm-100-disk-1,mp=/data,backup=1,size=16G",
        {"volume": "local-lvm:vm-100-disk-1", "mp": "/data", "backup": True, "size": 16 * G},
        "local-lvm:vm-100-disk-1,mp=/data,backup=1,size=16G",
    ),
    (
        "mp1",
        "/mnt/bindmounts/shared,mp=/shared,ro=1",
        {"volume": "/mnt/bindmounts/shared", "mp": "/shared", "ro": True},
        "/mnt/bindmounts/shared,mp=/shared,ro=1",
    ),
    (
        "net0",
        "name=eth0,bridge=vmbr0,firewall=1,gw=10.0.0.1,hwaddr=BC:24:11:AA:BB:CC,ip=10.0.0.5/24,tag=10,type=veth",
        {
            "name": "eth0",
            "bridge": "vmbr0",
            "firewall": True,
            "gw": "10.0.0.1",
            "hwaddr": "BC:24:11:AA:BB:CC",
            "ip": "10.0.0.5/24",
            "tag": 10,
            "type": "veth",
        },
        "name=eth0,bridge=vmbr0,firewall=1,gw=10.0.0.1,hwaddr=BC:24:11:AA:BB:CC,ip=10.0.0.5/24,tag=10,type=veth",
    ),
    (
        "net1",
        "bridge=vmbr1,name=eth1,hwaddr=bc:24:11:aa:bb:cd,mtu=9000,rate=12.5,trunks=10;20,link_down=0",
        {
            "name": "eth1",
            "bridge": "vmbr1",
            "hwaddr": "BC:24:11:AA:BB:CD",
            "mtu": 9000,
            "rate": 12.5,
            "trunks": [10, 20],
            "link_down": False,
        },
        "name=eth1,bridge=vmbr1,hwaddr=BC:24:11:AA:BB:CD,link_down=0,mtu=9000,rate=12.5,trunks=10;20",
    ),
    (
        "features",
        "nesting=1,keyctl=0,mount=nfs;cifs",
        {"nesting": True, "keyctl": False, "mount": ["nfs", "cifs"]},
        "keyctl=0,mount=nfs;cifs,nesting=1",
    ),
    ("startup", "order=2,up=30,down=60", {"order": 2, "up": 30, "down": 60}, "down=60,order=2,up=30"),
    ("dev0", "/dev/ttyUSB0,mode=0660,uid=0", {"path": "/dev/ttyUSB0", "mode": "0660", "uid": 0}, None),
    ("unused0", "local-lvm:vm-100-disk-2", {"volume": "local-lvm:vm-100-disk-2"}, "local-lvm:vm-100-disk-2"),
]


@pytest.mark.parametrize("key,text,parsed,printed", PROPS, ids=[p[0] + "-" + p[1][:30] for p in PROPS])
def test_property_strings(key, text, parsed, printed):
    assert C.parse_property_string(key, text) == parsed
    out = C.format_property_string(key, parsed)
    if printed is not None:
        assert out == printed
    # round trip is stable
    assert C.parse_property_string(key, out) == parsed


def test_property_string_errors():
    with pytest.raises(C.ConfigError):
        C.parse_property_string("net0", "eth0,bridge=vmbr0")  # net has no default key
    with pytest.raises(C.ConfigError):
        C.parse_property_string("rootfs", "local:1,size=big")
    with pytest.raises(C.ConfigError):
        C.parse_property_string("memory", "512")
    with pytest.raises(C.ConfigError):
        C.format_property_string("hostname", {})


def test_format_skips_none():
    assert C.format_property_string("net0", {"name": "eth0", "ip": None, "bridge": "vmbr0"}) == "name=eth0,bridge=vmbr0"


SCALARS = [
    ("memory", "1024", 1024),
    ("cpulimit", "1.5", 1.5),
    ("cpulimit", "2", 2),
    ("onboot", "1", True),
    ("unprivileged", "0", False),
    ("tags", "web;Prod;web", ["web", "Prod", "web"]),  # as written: PVE keeps the string
    ("nameserver", "10.0.0.1 10.0.0.2", ["10.0.0.1", "10.0.0.2"]),
    ("hostname", "web01", "web01"),
    ("arch", "amd64", "amd64"),
]


@pytest.mark.parametrize("key,text,value", SCALARS)
def test_scalars(key, text, value):
    assert C.parse_value(key, text) == value


@pytest.mark.parametrize(
    "key,value,text",
    [
        ("onboot", True, "1"),
        ("tags", ["b", "A"], "b;A"),  # pct set normalises by the node's tag style
        ("nameserver", ["1.1.1.1", "8.8.8.8"], "1.1.1.1 8.8.8.8"),
        ("cpulimit", 2.0, "2"),
        ("memory", 512, "512"),
        ("net0", {"name": "eth0", "bridge": "vmbr0"}, "name=eth0,bridge=vmbr0"),
    ],
)
def test_format_value(key, value, text):
    assert C.format_value(key, value) == text


CONFIG = """#web server%3A front
#second line 100%25
arch: amd64
cores: 2
features: nesting=1
hostname: web01
memory: 1024
mp0: local-zfs:subvol-100-disk-1,mp=/data,backup=1,size=16G
net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:5E:7A:01,ip=dhcp,type=veth
onboot: 1
ostype: debian
parent: snap1
rootfs: local-zfs:subvol-100-disk-0,size=8G
swap: 512
tags: a;b
unprivileged: 1
lxc.environment.runtime: FOO=bar
lxc.apparmor.profile = unconfined

[pve:pending]
memory: 2048
delete: tags,!swap

[snap1]
#snap description
arch: amd64
hostname: web01
memory: 512
snaptime: 1700000000
"""


def test_parse_config():
    cfg = C.parse_config(CONFIG)
    assert cfg["description"] == "web server: front\nsecond line 100%\n"
    assert cfg["cores"] == 2 and cfg["memory"] == 1024 and cfg["onboot"] is True and cfg["unprivileged"] is True
    assert cfg["features"] == {"nesting": True}
    assert cfg["rootfs"] == {"volume": "local-zfs:subvol-100-disk-0", "size": 8 * G}
    assert cfg["mp0"] == {"volume": "local-zfs:subvol-100-disk-1", "mp": "/data", "backup": True, "size": 16 * G}
    assert cfg["net0"]["hwaddr"] == "BC:24:11:5E:7A:01" and cfg["net0"]["ip"] == "dhcp"
    assert cfg["tags"] == ["a", "b"]
    assert cfg["lxc"] == [["lxc.environment.runtime", "FOO=bar"], ["lxc.apparmor.profile", "unconfined"]]
    assert cfg["pending"] == {"memory": 2048, "delete": ["tags", "!swap"]}
    assert cfg["snapshots"]["snap1"]["memory"] == 512
    assert cfg["snapshots"]["snap1"]["snaptime"] == 1700000000
    assert cfg["snapshots"]["snap1"]["description"] == "snap description\n"
    assert len(cfg["digest"]) == 40
    assert cfg["warnings"] == []


def test_effective_config_merges_pending():
    eff = C.effective_config(C.parse_config(CONFIG))
    assert eff["memory"] == 2048
    assert "tags" not in eff and "swap" not in eff
    assert "pending" not in eff and "snapshots" not in eff


def test_parse_config_empty_and_garbage():
    cfg = C.parse_config("")
    assert cfg["pending"] == {} and cfg["snapshots"] == {} and cfg["lxc"] == []
    cfg = C.parse_config("memory: lots\nthis is not a line\n")
    assert cfg["memory"] == "lots"
    assert len(cfg["warnings"]) == 2


def test_format_config_round_trip():
    cfg = C.parse_config(CONFIG)
    text = C.format_config(cfg)
    again = C.parse_config(text)
    for key in ("description", "memory", "mp0", "net0", "features", "lxc", "pending", "snapshots", "tags"):
        assert again[key] == cfg[key], key
    assert text.startswith("#web server%3A front\n#second line 100%25\narch: amd64\n")


def test_escape_description():
    assert C.escape_description_line("a: b 50% ü") == "a%3A b 50%25 %C3%BC"


STORAGE_CFG = """dir: local
\tpath /var/lib/vz
\tcontent iso,vztmpl,backup

zfspool: local-zfs
\tpool rpool/data
\tsparse
\tcontent images,rootdir

nfs: nfs1
\tpath /mnt/pve/nfs1
\tserver 10.0.0.9
\texport /export
\tcontent vztmpl
\tdisable
"""


def test_parse_storage_cfg():
    st = parse_storage_cfg(STORAGE_CFG)
    assert st["local"] == {
        "type": "dir",
        "path": "/var/lib/vz",
        "content": ["iso", "vztmpl", "backup"],
        "disable": False,
    }
    assert st["local-zfs"]["sparse"] is True and st["local-zfs"]["pool"] == "rpool/data"
    assert st["local-zfs"]["content"] == ["images", "rootdir"]
    assert st["nfs1"]["disable"] is True


VMLIST = """{
"version": 5,
"ids": {
"100": { "node": "pve", "type": "lxc", "version": 3 },
"101": { "node": "pve", "type": "qemu", "version": 4 }}

}
"""


def test_parse_vmlist():
    assert C.parse_vmlist(VMLIST) == {
        100: {"node": "pve", "type": "lxc", "version": 3},
        101: {"node": "pve", "type": "qemu", "version": 4},
    }
    assert C.parse_vmlist('{\n"version": 1\n\n}\n') == {}
    assert C.parse_vmlist("") == {}


def test_volume_storage():
    assert C.volume_storage("local-zfs:subvol-100-disk-0") == "local-zfs"
    assert C.volume_storage("/mnt/x") is None
    assert C.volume_storage(None) is None
