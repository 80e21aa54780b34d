"""pvesim.ctconfig against pve-cli-facts §3/§4: property strings, sizes, text escaping and the
config file round trip (pure functions, no node needed)."""

import pytest

from pvesim import ctconfig


@pytest.mark.parametrize(
    "size,text",
    [(512 * 1024**2, "512M"), (8 * 1024**3, "8G"), (1024**4, "1T"), (1536 * 1024**2, "1536M"), (1000, "1000")],
)
def test_s3_size_printed_with_largest_exact_unit(size, text):
    assert ctconfig.format_size(size) == text
    assert ctconfig.parse_size(text) == size


def test_s4_mountpoint_printed_volume_first_then_mp_then_alphabetical():
    mp = ctconfig.parse_mountpoint("size=16G,backup=1,mp=/data,local-lvm:vm-100-disk-1")
    assert ctconfig.print_mountpoint(mp) == "local-lvm:vm-100-disk-1,mp=/data,backup=1,size=16G"
    rootfs = ctconfig.parse_rootfs("volume=local-zfs:subvol-100-disk-0,size=8192M,ro=yes")
    assert ctconfig.print_mountpoint(rootfs, is_rootfs=True) == "local-zfs:subvol-100-disk-0,ro=1,size=8G"


def test_s4_net_printed_name_first_then_alphabetical():
    net = ctconfig.parse_net(
        "type=veth,tag=10,ip=10.0.0.5/24,hwaddr=BC:24:11:AA:BB:CC,name=eth0,bridge=vmbr0,firewall=on"
    )
    assert ctconfig.print_net(net) == (
        "name=eth0,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:AA:BB:CC,ip=10.0.0.5/24,tag=10,type=veth"
    )


@pytest.mark.parametrize(
    "value,message",
    [
        ("bridge=vmbr0", "format error\nnet0.name: property is missing and it is not optional\n"),
        (
            "name=eth0,foo=1",
            "format error\nnet0.foo: property is not defined in schema"
            " and the schema does not allow additional properties\n",
        ),
        ("eth0", "value without key, but schema does not define a default key\n"),
        ("name=eth0,name=eth1", "duplicate key in comma-separated list property: name\n"),
        ("name=eth0,tag=0", "format error\nnet0.tag: value must have a minimum value of 1\n"),
        (
            "name=eth0,hwaddr=01:00:00:00:00:01",
            "format error\nnet0.hwaddr: invalid format - value does not look like a valid unicast MAC address\n\n",
        ),
        (
            "name=eth0,ip=10.0.0.5",
            "format error\nnet0.ip: invalid format - value does not look like a valid ipv4 network configuration\n\n",
        ),
    ],
)
def test_s1_property_string_errors(value, message):
    with pytest.raises(ctconfig.FormatError) as e:
        ctconfig.parse_property_string(ctconfig.NET_DESC, value, "net0")
    assert e.value.message == message


def test_s4_description_escaping():
    assert ctconfig.encode_text("a: b 100%\nü") == "a%3A b 100%25%0A%C3%BC"
    assert ctconfig.decode_text("a%3A b 100%25%0A%C3%BC") == "a: b 100%\nü"


def test_s4_round_trip_keeps_order_pending_snapshots_env_and_raw_lxc():
    text = (
        "#desc\n"
        "arch: amd64\n"
        "memory: 512\n"
        "mp10: local-zfs:subvol-100-disk-2,mp=/b,size=1G\n"
        "mp2: local-zfs:subvol-100-disk-1,mp=/a,size=1G\n"
        "parent: s1\n"
        "rootfs: local-zfs:subvol-100-disk-0,size=1G\n"
        "lxc.environment.runtime: A=1\n"
        "lxc.environment.runtime: B=2\n"
        "lxc.mount.entry: /a b none bind 0 0\n"
        "\n"
        "[pve:pending]\n"
        "cores: 2\n"
        "delete: swap,!onboot\n"
        "\n"
        "[s1]\n"
        "memory: 256\n"
        "snaptime: 1700000000\n"
    )
    warnings = []
    conf = ctconfig.parse_conf(text, 100, warnings.append)
    assert warnings == []
    assert conf["env"] == "A=1\0B=2"
    assert conf["lxc"] == [["lxc.mount.entry", "/a b none bind 0 0"]]
    assert conf["pending"] == {"cores": "2", "delete": "swap,!onboot"}
    assert ctconfig.parse_pending_delete(conf["pending"]["delete"]) == {"swap": False, "onboot": True}
    assert conf["snapshots"]["s1"]["snaptime"] == "1700000000"
    assert conf["description"] == "desc\n"
    assert ctconfig.conf_text(conf) == text


def test_s4_current_view_merges_pending_and_applies_deletions():
    conf = ctconfig.parse_conf("memory: 512\nswap: 512\n\n[pve:pending]\nmemory: 1024\ndelete: swap\n", 100)
    assert ctconfig.current_view(conf) == {"digest": conf["digest"], "memory": "1024"}
    assert ctconfig.current_view(conf, current=True)["memory"] == "512"


def test_s3_tags_lower_cased_deduplicated_sorted():
    assert ctconfig.unique_tags("Web;db web,DB prod") == "db;prod;web"


def test_s3_random_mac_has_proxmox_prefix():
    mac = ctconfig.random_mac()
    assert mac.startswith("BC:24:11:") and len(mac) == 17
