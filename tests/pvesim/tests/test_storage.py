"""Storage: `pvesm` contract (pve-cli-facts §1, §6) and the pvesim.storage API (§3, §6)."""

import os
import re

import pytest
from test_storage_support import Node

from pvesim import cli, setup, storage, zfsdb

HEADER = "Name             Type     Status     Total (KiB)      Used (KiB) Available (KiB)        %\n"
BUSYBOX = "local:vztmpl/busybox-1.35_amd64.tar.zst"


@pytest.fixture
def node(tmp_path):
    return Node.init(tmp_path)


def _row_numbers(line):
    m = re.fullmatch(r"(\S+) +(\S+) +(\S+) +(\d+) +(\d+) +(\d+) +(\S+)", line)
    assert m, line
    return m.groups()


# ---------------------------------------------------------------- pvesm status


def only_busybox(node):
    """The listing tests expect the busybox template alone: drop the Debian template that nodes get
    once scripts/build-debian-template.sh has built it (a link in this node; build/ is untouched)."""
    path = node.path("/var/lib/vz/template/cache/" + setup.DEBIAN_TEMPLATE)
    if os.path.exists(path):
        os.unlink(path)


def test_s6_pvesm_status_layout(node):
    r = node.batch(["pvesm", "status"], ["zfs", "get", "-Hp", "-o", "value", "used,available", "rpool/data"])
    assert (r[0].rc, r[0].err) == (0, "")
    lines = r[0].out.split("\n")
    assert lines[0] + "\n" == HEADER
    assert len(lines) == 4 and lines[3] == ""
    # local: statvfs of /var/lib/vz, KiB, % with two decimals
    assert lines[1].startswith("local             dir     active ")
    _n, _t, _s, total, used, avail, pct = _row_numbers(lines[1])
    st = os.statvfs(node.path("/var/lib/vz"))
    assert int(total) == st.f_blocks * st.f_frsize // 1024
    assert abs(int(avail) - st.f_bavail * st.f_frsize // 1024) < int(total) // 50
    assert re.fullmatch(r"\d+\.\d\d%", pct)
    assert abs(float(pct[:-1]) - int(used) * 100 / int(total)) < 0.01
    assert len(lines[1]) == len(lines[0])
    # local-zfs: zfs used + available of its pool dataset
    zused, zavail = (int(x) for x in r[1].out.split())
    expect = "local-zfs     zfspool     active %15d %15d %15d % 7.2f%%" % (
        (zused + zavail) // 1024,
        zused // 1024,
        zavail // 1024,
        zused * 100.0 / (zused + zavail),
    )
    assert lines[2] == expect


def test_s6_pvesm_status_disabled_and_inactive(node):
    node.append(
        "/etc/pve/storage.cfg",
        "\nnfs: nfs1\n\tserver 10.0.0.1\n\texport /export\n\tpath /mnt/pve/nfs1\n\tcontent images\n\tdisable\n"
        "\nzfspool: tank\n\tpool tank/data\n\tcontent rootdir\n",
    )
    r = node.run("pvesm", "status")
    assert r.rc == 0
    lines = r.out.split("\n")
    assert lines[0] + "\n" == HEADER
    assert "nfs1              nfs   disabled               0               0               0      N/A" in lines
    assert "tank          zfspool   inactive               0               0               0    0.00%" in lines
    assert r.err == "zfs error: cannot open 'tank/data': dataset does not exist\n"
    assert [line.split()[0] for line in lines[1:-1]] == ["local", "local-zfs", "nfs1", "tank"]


def test_s6_pvesm_status_filters(node):
    node.append("/etc/pve/storage.cfg", "\ndir: off\n\tpath /srv/off\n\tcontent rootdir\n\tdisable\n")
    r = node.batch(
        ["pvesm", "status", "--storage", "local"],
        ["pvesm", "status", "--content", "rootdir"],
        ["pvesm", "status", "--content", "rootdir", "--enabled", "1"],
    )
    assert [line.split()[0] for line in r[0].out.split("\n")[1:-1]] == ["local"]
    assert r[0].out.startswith("Name   ")  # width = longest shown name + 1
    assert [line.split()[0] for line in r[1].out.split("\n")[1:-1]] == ["local-zfs", "off"]
    assert [line.split()[0] for line in r[2].out.split("\n")[1:-1]] == ["local-zfs"]


def test_s6_pvesm_status_unknown_storage_is_a_400(node):
    r = node.run("pvesm", "status", "--storage", "nope")
    assert (r.rc, r.out) == (255, "")
    assert r.err == "400 Parameter verification failed.\nstorage: No such storage.\npvesm status [OPTIONS]\n"


# ---------------------------------------------------------------- pvesm list / path


def test_s6_pvesm_list_templates_layout(node):
    only_busybox(node)
    node.run("pveam", "download", "local", "alpine-3.22-default_20250617_amd64.tar.xz")
    r = node.run("pvesm", "list", "local")
    sizes = {
        name: os.path.getsize(node.path("/var/lib/vz/template/cache/" + name))
        for name in ("busybox-1.35_amd64.tar.zst", "alpine-3.22-default_20250617_amd64.tar.xz")
    }
    w = len(str(max(sizes.values())))
    volw = len("local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz")
    assert r.rc == 0
    alpine = "local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz"

    def row(*cells):  # volid, format, type, size[, vmid]: rows without an owner have no VMID column
        volid, fmt, vtype, size = cells[:4]
        return " ".join([volid.ljust(volw), fmt.ljust(7), vtype.ljust(9), str(size).rjust(w), *cells[4:]])

    assert r.out == (
        row("Volid", "Format", "Type", "Size", "VMID")
        + "\n"
        + row(alpine, "txz", "vztmpl", sizes["alpine-3.22-default_20250617_amd64.tar.xz"])
        + "\n"
        + row(BUSYBOX, "tzst", "vztmpl", sizes["busybox-1.35_amd64.tar.zst"])
        + "\n"
    )
    # the facts' rendering: formats left-aligned in 7, types in 9
    assert " txz     vztmpl " in r.out and " tzst    vztmpl " in r.out


def test_s6_pvesm_list_header_even_when_empty(node):
    r = node.run("pvesm", "list", "local-zfs")
    assert (r.rc, r.out, r.err) == (0, "Volid Format  Type      Size VMID\n", "")


def test_s6_pvesm_list_owned_volumes_first_with_vmid_and_filters(node):
    a = storage.alloc_ct_volume("local-zfs", 101, 8, root=node.root)
    b = storage.alloc_ct_volume("local-zfs", 100, 0.5, root=node.root)
    assert (a, b) == ("local-zfs:subvol-101-disk-0", "local-zfs:subvol-100-disk-0")
    r = node.batch(
        ["pvesm", "list", "local-zfs"],
        ["pvesm", "list", "local-zfs", "--vmid", "101"],
        ["pvesm", "list", "local-zfs", "--content", "images"],
        ["pvesm", "list", "nope"],
    )
    assert r[0].out == (
        "Volid                       Format  Type            Size VMID\n"
        "local-zfs:subvol-100-disk-0 subvol  rootdir    536870912 100\n"
        "local-zfs:subvol-101-disk-0 subvol  rootdir   8589934592 101\n"
    )
    assert r[1].out == (
        "Volid                       Format  Type            Size VMID\n"
        "local-zfs:subvol-101-disk-0 subvol  rootdir   8589934592 101\n"
    )
    assert r[2].out == "Volid Format  Type      Size VMID\n"
    assert (r[3].rc, r[3].err) == (255, "storage 'nope' does not exist\n")


def test_s6_pvesm_path_for_templates_and_volumes(node):
    z = storage.alloc_ct_volume("local-zfs", 100, 4, root=node.root)
    d = storage.alloc_ct_volume("local", 101, 4, root=node.root)
    r = node.batch(
        ["pvesm", "path", BUSYBOX], ["pvesm", "path", z], ["pvesm", "path", d], ["pvesm", "path", "local:vztmpl/x.zip"]
    )
    assert r[0].out == "/var/lib/vz/template/cache/busybox-1.35_amd64.tar.zst\n"
    assert r[1].out == "/rpool/data/subvol-100-disk-0\n"
    assert r[2].out == "/var/lib/vz/images/101/subvol-101-disk-0.subvol\n"
    assert (r[3].rc, r[3].err) == (255, "unable to parse directory volume name 'vztmpl/x.zip'\n")


def test_s1_pvesm_unknown_command_and_prefix(node):
    r = node.batch(["pvesm", "foo"], ["pvesm", "stat"])
    assert r[0].rc == 255
    assert r[0].err.startswith("ERROR: unknown command 'pvesm foo'\nUSAGE: pvesm <COMMAND> [ARGS] [OPTIONS]\n\n")
    assert "       pvesm status [OPTIONS]\n" in r[0].err
    assert (r[1].rc, r[1].out.split("\n")[0] + "\n") == (0, HEADER)


def test_s1_pvesm_list_missing_argument(node):
    r = node.run("pvesm", "list")
    assert (r.rc, r.err) == (255, "400 not enough arguments\npvesm list <storage> [OPTIONS]\n")


# ---------------------------------------------------------------- API: storages, templates


def test_storage_storages_parses_storage_cfg(node):
    node.append(
        "/etc/pve/storage.cfg",
        "\ndir: other\n\tpath /srv/other\n\tcontent rootdir,images\n\tnodes pve2,pve3\n\tdisable\n",
    )
    cfg = storage.storages(root=node.root)
    assert cfg["local"] == {
        "type": "dir",
        "path": "/var/lib/vz",
        "content": {"iso", "vztmpl", "backup"},
        "disable": False,
    }
    assert cfg["local-zfs"] == {
        "type": "zfspool",
        "pool": "rpool/data",
        "sparse": True,
        "content": {"images", "rootdir"},
        "disable": False,
    }
    assert cfg["other"]["disable"] is True and cfg["other"]["nodes"] == {"pve2", "pve3"}


def test_s3_resolve_template_paths_and_errors(node):
    assert storage.resolve_template(BUSYBOX, root=node.root) == node.path(
        "/var/lib/vz/template/cache/busybox-1.35_amd64.tar.zst"
    )
    assert storage.resolve_template("local:vztmpl/missing.tar.gz", root=node.root).endswith("/missing.tar.gz")
    assert storage.resolve_template("/tmp/x.tar.zst", root=node.root) == "/tmp/x.tar.zst"
    cases = {
        "nope:vztmpl/x.tar.zst": "storage 'nope' does not exist",
        "local:iso/x.iso": "unable to use volume local:iso/x.iso - content type needs to be 'vztmpl'",
        "local:vztmpl/x.zip": "unable to parse directory volume name 'vztmpl/x.zip'",
        "local-zfs:vztmpl/x.tar.zst": "unable to parse zfs volume name 'vztmpl/x.tar.zst'",
        "junk": "unable to parse volume ID 'junk'",
    }
    for volid, message in cases.items():
        with pytest.raises(cli.PveError) as e:
            storage.resolve_template(volid, root=node.root)
        assert e.value.message == message


def test_s3_check_rootdir_messages_in_order(node):
    node.append(
        "/etc/pve/storage.cfg",
        "\ndir: off\n\tpath /srv/off\n\tcontent rootdir\n\tdisable\n"
        "\ndir: elsewhere\n\tpath /srv/elsewhere\n\tcontent rootdir\n\tnodes pve2\n"
        "\nzfspool: tank\n\tpool tank/data\n\tcontent rootdir\n",
    )
    assert storage.check_rootdir("local-zfs", root=node.root)["pool"] == "rpool/data"
    for sid, message in (
        ("nope", "storage 'nope' does not exist"),
        ("off", "storage 'off' is disabled"),
        ("elsewhere", "storage 'elsewhere' is not available on node 'pve'"),
        ("tank", "storage 'tank' is not online"),
    ):
        with pytest.raises(cli.PveError) as e:
            storage.check_rootdir(sid, root=node.root)
        assert e.value.message == message
    with pytest.raises(cli.ParamError) as e:
        storage.check_rootdir("local", root=node.root)
    assert e.value.errors == {"storage": "storage 'local' does not support container directories"}
    assert e.value.usage == "pct create <vmid> <ostemplate> [OPTIONS]"
    assert cli.format_param_error(e.value.errors, e.value.usage) == (
        "400 Parameter verification failed.\n"
        "storage: storage 'local' does not support container directories\n"
        "pct create <vmid> <ostemplate> [OPTIONS]\n"
    )


# ---------------------------------------------------------------- API: volumes


def test_s3_alloc_ct_volume_on_zfs_numbers_disks_and_sets_refquota(node):
    v0 = storage.alloc_ct_volume("local-zfs", 100, 8, root=node.root)
    v1 = storage.alloc_ct_volume("local-zfs", 100, 0.5, root=node.root)
    v2 = storage.alloc_ct_volume("local-zfs", 100, 0, root=node.root)
    assert (v0, v1, v2) == ("local-zfs:subvol-100-disk-0", "local-zfs:subvol-100-disk-1", "local-zfs:subvol-100-disk-2")
    assert storage.volume_path(v0, root=node.root) == node.path("/rpool/data/subvol-100-disk-0")
    assert os.path.isdir(node.path("/rpool/data/subvol-100-disk-0"))
    assert storage.volume_size_bytes(v0, root=node.root) == 8 << 30
    assert storage.volume_size_bytes(v1, root=node.root) == 512 << 20
    assert storage.volume_size_bytes(v2, root=node.root) == 0
    assert zfsdb.get_value("rpool/data/subvol-100-disk-0", "acltype", root=node.root) == "posix"
    assert zfsdb.get_value("rpool/data/subvol-100-disk-0", "xattr", root=node.root) == "sa"
    storage.resize_volume(v0, 10 << 30, root=node.root)
    assert storage.volume_size_bytes(v0, root=node.root) == 10 << 30
    storage.free_volume(v1, root=node.root)
    assert not os.path.exists(node.path("/rpool/data/subvol-100-disk-1"))
    assert storage.alloc_ct_volume("local-zfs", 100, 1, root=node.root) == "local-zfs:subvol-100-disk-1"
    r = node.run("zfs", "get", "-H", "-o", "value", "refquota", "rpool/data/subvol-100-disk-0")
    assert r.out == "10G\n"


def test_s3_alloc_ct_volume_on_dir_storage_is_a_subvol_directory(node):
    node.append("/etc/pve/storage.cfg", "\ndir: data\n\tpath /var/lib/vz\n\tcontent rootdir,images\n")
    v = storage.alloc_ct_volume("data", 105, 4, root=node.root)
    assert v == "data:105/subvol-105-disk-0.subvol"
    path = storage.volume_path(v, root=node.root)
    assert path == node.path("/var/lib/vz/images/105/subvol-105-disk-0.subvol") and os.path.isdir(path)
    assert storage.volume_size_bytes(v, root=node.root) == 4 << 30
    assert storage.alloc_ct_volume("data", 105, 1, root=node.root) == "data:105/subvol-105-disk-1.subvol"
    storage.free_volume(v, root=node.root)
    assert not os.path.exists(path)


def test_s3_format_size_uses_the_largest_exact_unit():
    assert [storage.format_size(n) for n in (512 << 20, 8 << 30, 1 << 40, 1536 << 10, 1000, 4 << 30)] == [
        "512M",
        "8G",
        "1T",
        "1536K",
        "1000",
        "4G",
    ]


def test_s6_list_content_reports_dir_and_zfs_volumes(node):
    only_busybox(node)
    storage.alloc_ct_volume("local-zfs", 100, 8, root=node.root)
    vols = storage.list_content("local-zfs", root=node.root)
    assert vols == [
        {"volid": "local-zfs:subvol-100-disk-0", "format": "subvol", "content": "rootdir", "size": 8 << 30, "vmid": 100}
    ]
    tmpl = storage.list_content("local", root=node.root, content="vztmpl")
    assert [v["volid"] for v in tmpl] == [BUSYBOX]
    assert tmpl[0]["format"] == "tzst" and tmpl[0]["vmid"] is None
