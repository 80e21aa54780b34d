"""`pvesim init`: the fresh node's files, pool, templates and catalogue."""

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import time

import pytest
from test_storage_support import PVESIM, Node, tool_env

from pvesim import node as pnode
from pvesim import setup


@pytest.fixture
def node(tmp_path):
    return Node.init(tmp_path)


def _template_members(path):
    data = subprocess.run(["zstd", "-q", "-d", "-c", path], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: (m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()}


def test_init_makes_every_mounted_dir_and_the_node_name(node):
    for d in pnode.MOUNTED_DIRS:
        assert os.path.isdir(node.path(d)), d
    assert node.read("/var/lib/pvesim/node") == "pve\n"


def test_s5_init_vmlist_is_empty_with_pmxcfs_bytes_and_mode(node):
    assert node.read("/etc/pve/.vmlist") == '{\n"version": 1\n\n}\n'
    assert os.stat(node.path("/etc/pve/.vmlist")).st_mode & 0o777 == 0o440
    r = node.run("cat", "/etc/pve/.vmlist")
    assert (r.rc, r.out) == (0, '{\n"version": 1\n\n}\n')


def test_s4_init_node_dirs_and_relative_symlinks(tmp_path):
    node = Node.init(tmp_path, name="node7")
    assert node.read("/var/lib/pvesim/node") == "node7\n"
    for sub in ("lxc", "qemu-server"):
        assert os.path.isdir(node.path("/etc/pve/nodes/node7/" + sub))
        assert os.readlink(node.path("/etc/pve/" + sub)) == "nodes/node7/" + sub
    assert os.readlink(node.path("/etc/pve/local")) == "nodes/node7"
    r = node.sh("touch /etc/pve/lxc/x && ls /etc/pve/nodes/node7/lxc")
    assert (r.rc, r.out) == (0, "x\n")


def test_s6_init_storage_cfg_is_a_zfs_install(node):
    assert node.read("/etc/pve/storage.cfg") == (
        "dir: local\n"
        "\tpath /var/lib/vz\n"
        "\tcontent iso,vztmpl,backup\n"
        "\n"
        "zfspool: local-zfs\n"
        "\tpool rpool/data\n"
        "\tsparse\n"
        "\tcontent images,rootdir\n"
    )
    for sub in ("template/cache", "template/iso", "dump", "images", "snippets"):
        assert os.path.isdir(node.path("/var/lib/vz/" + sub)), sub


def test_init_network_interfaces_declares_vmbr0_and_subids(node):
    text = node.read("/etc/network/interfaces")
    assert "auto vmbr0\niface vmbr0 inet static\n" in text
    assert "\tbridge-ports none\n" in text
    assert node.read("/etc/subuid") == "root:100000:65536\n"
    assert node.read("/etc/subgid") == "root:100000:65536\n"


def test_init_zfs_pool_rpool_with_data_mounted_under_node_rpool(node):
    assert os.path.isdir(node.path("/rpool/data"))
    r = node.run("zfs", "list", "-H", "-o", "name,mountpoint,mounted")
    assert (r.rc, r.out) == (0, "rpool\t/rpool\tyes\nrpool/data\t/rpool/data\tyes\n")
    r = node.run("zfs", "get", "-H", "-o", "name,property,value,source", "compression", "rpool/data")
    assert r.out == "rpool/data\tcompression\ton\tinherited from rpool\n"


def test_init_busybox_template_is_a_runnable_busybox_rootfs(node):
    assert setup.BUSYBOX_VOLID == "local:vztmpl/busybox-1.35_amd64.tar.zst"
    path = node.path("/var/lib/vz/template/cache/busybox-1.35_amd64.tar.zst")
    members = _template_members(path)
    inittab = members["./etc/inittab"][1].decode()
    assert "::sysinit:/bin/true\n" in inittab
    assert "::shutdown:" in inittab
    assert "respawn" not in inittab and "askfirst" not in inittab
    assert b"ID=busybox\n" in members["./etc/os-release"][1]
    assert members["./sbin/init"][0].issym() and members["./sbin/init"][0].linkname == "/bin/busybox"
    assert members["./bin/sh"][0].issym()
    assert members["./tmp"][0].mode == 0o1777
    assert all(m.uid == 0 and m.gid == 0 for m, _ignored in members.values())
    if setup.busybox_runnable():
        assert members["./bin/busybox"][0].size > 100000
        assert members["./bin/busybox"][1][:4] == b"\x7fELF"


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("chroot"), reason="needs root and chroot")
def test_init_busybox_template_runs_in_a_chroot(node, tmp_path):
    if not setup.busybox_runnable():
        pytest.skip("busybox-static is not installed")
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    src = node.path("/var/lib/vz/template/cache/busybox-1.35_amd64.tar.zst")
    subprocess.run(["tar", "--zstd", "-xpf", src, "-C", str(rootfs)], check=True)
    r = subprocess.run(
        ["chroot", str(rootfs), "/bin/sh", "-c", "echo hello; cat /etc/hostname"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (r.returncode, r.stdout) == (0, "hello\nct\n")


def test_s6_init_catalogue_lists_templates_with_checksums(node):
    index = setup.parse_aplinfo(node.read(setup.PVEAM_INDEX))
    names = {os.path.basename(e["Location"]): e for e in index}
    assert "busybox-1.35_amd64.tar.zst" in names
    assert "debian-12-standard_12.7-1_amd64.tar.zst" in names
    for name, entry in names.items():
        assert entry["Section"] == "system"
        with open(node.path("/var/lib/pvesim/catalogue/system/" + name), "rb") as f:
            data = f.read()
        assert hashlib.sha512(data).hexdigest() == entry["sha512sum"]
        assert hashlib.md5(data).hexdigest() == entry["md5sum"]
    # the local template is the catalogue's busybox file
    with open(node.path("/var/lib/vz/template/cache/busybox-1.35_amd64.tar.zst"), "rb") as f:
        assert hashlib.sha512(f.read()).hexdigest() == names["busybox-1.35_amd64.tar.zst"]["sha512sum"]


def test_init_is_fast_once_the_template_cache_is_warm(tmp_path):
    Node.init(tmp_path / "a")  # warms the cache if needed
    t0 = time.monotonic()
    Node.init(tmp_path / "b")
    elapsed = time.monotonic() - t0
    assert elapsed < 3.0  # the CLI start-up included; init_node itself is ~0.1 s
    t0 = time.monotonic()
    setup.init_node(str(tmp_path / "c"), "pve")
    assert time.monotonic() - t0 < 1.0


def test_init_refuses_an_existing_node(node):
    with pytest.raises(setup.NodeExists):
        setup.init_node(node.root, "pve")
    r = subprocess.run([PVESIM, "init", node.root], capture_output=True, text=True, env=tool_env(), check=False)
    assert r.returncode != 0


def test_init_run_refuses_a_directory_that_is_not_a_node(tmp_path):
    r = subprocess.run(
        [PVESIM, "run", "--root", str(tmp_path), "--", "true"],
        capture_output=True,
        text=True,
        env=tool_env(),
        check=False,
    )
    assert r.returncode == 2
    assert "is not a simulated node" in r.stderr
