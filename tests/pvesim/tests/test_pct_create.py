"""pct contract tests, pve-cli-facts §3 (pct create) and §5 (VMID, .vmlist)."""

import os
import re

import pytest
from test_pct_support import BUSYBOX, DEBIAN, MAC_RE, TOTALS_RE, Node

CREATE_USAGE = "pct create <vmid> <ostemplate> [OPTIONS]\n"


@pytest.fixture
def node(tmp_path):
    return Node.init(tmp_path)


def assert_no_leftovers(node, vmid):
    assert not os.path.exists(node.conf_path(vmid))
    assert str(vmid) not in node.vmlist()
    assert [d for d in node.datasets() if "-%s-disk-" % vmid in d] == []


def test_s3_create_result_config_in_pve_order_and_forms(node):
    r = node.pct(
        "create",
        "100",
        DEBIAN,
        "--hostname",
        "web01",
        "--memory",
        "1024",
        "--cores",
        "2",
        "--net0",
        "name=eth0,bridge=vmbr0,ip=dhcp",
        "--rootfs",
        "local-zfs:8",
        "--features",
        "nesting=1",
    )
    assert (r.rc, r.err) == (0, "")
    assert re.fullmatch(
        "extracting archive '/var/lib/vz/template/cache/debian-12-standard_12.7-1_amd64.tar.zst'\n"
        + TOTALS_RE
        + "Detected container architecture: amd64\n",
        r.out,
    ), r.out
    assert re.fullmatch(
        "arch: amd64\n"
        "cores: 2\n"
        "features: nesting=1\n"
        "hostname: web01\n"
        "memory: 1024\n"
        "net0: name=eth0,bridge=vmbr0,hwaddr=" + MAC_RE + ",ip=dhcp,type=veth\n"
        "ostype: debian\n"
        "rootfs: local-zfs:subvol-100-disk-0,size=8G\n"
        "swap: 512\n"
        "unprivileged: 1\n",
        node.conf(100),
    ), node.conf(100)


def test_s3_create_defaults_hostname_memory_swap_4g_rootfs_from_storage(node):
    r = node.pct("create", "100", BUSYBOX, "--storage", "local-zfs", "--ostype", "unmanaged", "--arch", "amd64")
    assert (r.rc, r.err) == (0, "")
    assert "Detected container architecture" not in r.out
    assert node.conf(100) == (
        "arch: amd64\n"
        "hostname: CT100\n"
        "memory: 512\n"
        "ostype: unmanaged\n"
        "rootfs: local-zfs:subvol-100-disk-0,size=4G\n"
        "swap: 512\n"
        "unprivileged: 1\n"
    )
    assert node.datasets() == ["rpool/data/subvol-100-disk-0"]


def test_s3_create_bare_number_rootfs_uses_storage_and_mp_gets_next_disk(node):
    r = node.pct(
        "create",
        "100",
        BUSYBOX,
        "--storage",
        "local-zfs",
        "--rootfs",
        "2",
        "--mp0",
        "local-zfs:0.5,mp=/data,backup=1",
        "--ostype",
        "unmanaged",
    )
    assert r.rc == 0, r
    conf = node.conf(100)
    assert "rootfs: local-zfs:subvol-100-disk-0,size=2G\n" in conf
    assert "mp0: local-zfs:subvol-100-disk-1,mp=/data,backup=1,size=512M\n" in conf
    assert r.err == ""


def test_s3_create_without_rootfs_on_default_local_is_400_storage(node):
    r = node.pct("create", "100", BUSYBOX)
    assert (r.rc, r.out) == (255, "")
    assert r.err == (
        "400 Parameter verification failed.\n"
        "storage: storage 'local' does not support container directories\n" + CREATE_USAGE
    )
    assert_no_leftovers(node, 100)


def test_s3_create_rootfs_storage_without_rootdir_reports_key_storage(node):
    r = node.pct("create", "100", BUSYBOX, "--rootfs", "local:4")
    assert r.rc == 255
    assert r.err == (
        "400 Parameter verification failed.\n"
        "storage: storage 'local' does not support container directories\n" + CREATE_USAGE
    )


def test_s3_create_schema_errors_one_line_per_key(node):
    r = node.pct(
        "create",
        "99",
        BUSYBOX,
        "--memory",
        "8",
        "--swap",
        "-1",
        "--cores",
        "8193",
        "--hostname",
        "a_b",
        "--net0",
        "bridge=vmbr0",
        "--ostype",
        "windows",
        "--tags",
        "a b!",
        "--timezone",
        "Mars/Base",
    )
    assert (r.rc, r.out) == (255, "")
    assert r.err == (
        "400 Parameter verification failed.\n"
        "vmid: invalid format - value does not look like a valid VM ID\n\n"
        "memory: value must have a minimum value of 16\n"
        "swap: value must have a minimum value of 0\n"
        "cores: value must have a maximum value of 8192\n"
        "hostname: invalid format - value does not look like a valid DNS name\n\n"
        "net0: invalid format - format error\n"
        "net0.name: property is missing and it is not optional\n\n"
        "ostype: value 'windows' does not have a value in the enumeration "
        "'debian, devuan, ubuntu, centos, fedora, opensuse, archlinux, alpine, gentoo, nixos, unmanaged'\n"
        "tags: invalid format - invalid characters in tag\n\n"
        "timezone: invalid format - invalid time zone 'Mars/Base'\n\n" + CREATE_USAGE
    )


def test_s5_create_vmid_not_an_integer(node):
    r = node.pct("create", "abc", BUSYBOX)
    assert (
        r.err == "400 Parameter verification failed.\nvmid: type check ('integer') failed - got 'abc'\n" + CREATE_USAGE
    )
    r = node.pct("create", "1000000000", BUSYBOX)
    assert r.err == (
        "400 Parameter verification failed.\nvmid: invalid format - value does not look like a valid VM ID\n\n"
        + CREATE_USAGE
    )


def test_s3_create_property_string_invalid_key(node):
    r = node.pct("create", "100", BUSYBOX, "--rootfs", "local-zfs:1,foo=1")
    assert r.err == (
        "400 Parameter verification failed.\n"
        "rootfs: invalid format - format error\n"
        "rootfs.foo: property is not defined in schema and the schema does not allow additional properties\n\n"
        + CREATE_USAGE
    )


def test_s3_s5_create_existing_ct_or_vm(node):
    node.create(100)
    r = node.pct("create", "100", BUSYBOX, "--rootfs", "local-zfs:1")
    assert (r.rc, r.out, r.err) == (255, "", "CT 100 already exists on node 'pve'\n")
    os.system("%s seed-vm --root %s 105" % (os.path.join(os.path.dirname(__file__), "..", "bin", "pvesim"), node.root))
    r = node.pct("create", "105", BUSYBOX, "--rootfs", "local-zfs:1")
    assert (r.rc, r.err) == (255, "VM 105 already exists on node 'pve'\n")
    assert node.datasets() == ["rpool/data/subvol-100-disk-0"]


@pytest.mark.parametrize(
    "template,message",
    [
        ("nope:vztmpl/x.tar.zst", "storage 'nope' does not exist"),
        ("local:iso/x.iso", "unable to use volume local:iso/x.iso - content type needs to be 'vztmpl'"),
        ("local:vztmpl/x.zip", "unable to parse directory volume name 'vztmpl/x.zip'"),
        ("-", "pipe can only be used with restore tasks"),
    ],
)
def test_s3_create_template_errors_before_the_task(node, template, message):
    r = node.pct("create", "100", template, "--rootfs", "local-zfs:1")
    assert (r.rc, r.out, r.err) == (255, "", message + "\n")
    assert_no_leftovers(node, 100)


def test_s3_create_missing_template_fails_inside_task(node):
    r = node.pct("create", "101", "local:vztmpl/nope.tar.zst", "--rootfs", "local-zfs:1")
    assert r.rc == 255
    assert r.out == "volume 'local:vztmpl/nope.tar.zst' does not exist\n"
    assert r.err == "unable to create CT 101 - volume 'local:vztmpl/nope.tar.zst' does not exist\n"
    assert_no_leftovers(node, 101)


def test_s3_create_missing_absolute_path_template(node):
    r = node.pct("create", "101", "/tmp/none.tar.gz", "--rootfs", "local-zfs:1")
    assert (r.rc, r.err) == (255, "unable to create CT 101 - can't find file '/tmp/none.tar.gz'\n")
    assert_no_leftovers(node, 101)


def test_s3_create_mount_points_without_rootfs(node):
    r = node.pct("create", "100", BUSYBOX, "--storage", "local-zfs", "--mp0", "local-zfs:1,mp=/data")
    assert (r.rc, r.err) == (255, "mount points configured, but 'rootfs' not set - aborting\n")


def test_s3_create_os_detection_failure_cleans_up(node):
    r = node.pct("create", "100", BUSYBOX, "--rootfs", "local-zfs:1")
    assert r.rc == 255
    assert r.err == "unable to create CT 100 - unable to detect OS distribution\n"
    assert r.out.startswith("extracting archive '/var/lib/vz/template/cache/busybox-1.35_amd64.tar.zst'\n")
    assert_no_leftovers(node, 100)


def test_s3_create_unprivileged_shifts_ids_by_100000(node):
    node.create(100)
    st = os.lstat(node.path("/rpool/data/subvol-100-disk-0/bin/busybox"))
    assert (st.st_uid, st.st_gid) == (100000, 100000)
    st = os.lstat(node.path("/rpool/data/subvol-100-disk-0"))
    assert (st.st_uid, st.st_gid) == (100000, 100000)


def test_s3_create_privileged_keeps_ids_and_writes_no_unprivileged_line(node):
    node.create(100, "--unprivileged", "0")
    st = os.lstat(node.path("/rpool/data/subvol-100-disk-0/bin/busybox"))
    assert (st.st_uid, st.st_gid) == (0, 0)
    assert "unprivileged" not in node.conf(100)


def test_s3_create_description_tags_nameserver_normalised(node):
    node.create(
        100,
        "--description",
        "line one\nline: two 100%",
        "--tags",
        "Web,db;web",
        "--nameserver",
        "1.1.1.1,8.8.8.8",
        "--searchdomain",
        "example.com",
        "--onboot",
        "yes",
    )
    conf = node.conf(100)
    assert conf.startswith("#line one\n#line%3A two 100%25\narch: amd64\n")
    assert "nameserver: 1.1.1.1 8.8.8.8\n" in conf
    assert "tags: db;web\n" in conf
    assert "onboot: 1\n" in conf
    assert "searchdomain: example.com\n" in conf


def test_s3_create_ssh_public_keys_is_a_file_path(node, tmp_path):
    r = node.pct("create", "100", BUSYBOX, "--rootfs", "local-zfs:1", "--ssh-public-keys", "/nonexistent")
    assert (r.rc, r.err) == (2, "can't open '/nonexistent' - No such file or directory\n")
    keys = tmp_path / "keys.pub"
    keys.write_text("not a key\n")
    r = node.pct("create", "100", BUSYBOX, "--rootfs", "local-zfs:1", "--ssh-public-keys", str(keys))
    assert (r.rc, r.err) == (255, "SSH public key validation error\n")
    keys.write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBaW5vdGFyZWFsa2V5b25seWZvcnRlc3Rz user@host\n")
    node.create(100, "--ssh-public-keys", str(keys), template=DEBIAN)
    with open(node.path("/rpool/data/subvol-100-disk-0/root/.ssh/authorized_keys")) as f:
        assert f.read() == keys.read_text()
    assert "ssh" not in node.conf(100)


def test_s3_create_pool_must_exist(node):
    r = node.pct("create", "100", BUSYBOX, "--rootfs", "local-zfs:1", "--pool", "p1")
    assert (r.rc, r.err) == (255, "403 Permission check failed (pool 'p1' does not exist)\n")


def test_s3_create_start_runs_the_ct_at_the_end(node):
    r = node.pct("create", "100", BUSYBOX, "--rootfs", "local-zfs:1", "--ostype", "unmanaged", "--start", "1", sim=True)
    assert (r.rc, r.err) == (0, "")
    assert node.pct("status", "100", sim=True).out == "status: running\n"


def test_s5_create_registers_in_vmlist_with_pve_layout(node):
    node.create(100)
    assert node.vmlist()["100"]["node"] == "pve"
    assert node.vmlist()["100"]["type"] == "lxc"
    r = node.run("cat", "/etc/pve/.vmlist")
    assert re.fullmatch(
        r'\{\n"version": \d+,\n"ids": \{\n"100": \{ "node": "pve", "type": "lxc", "version": \d+ \}\}\n\n\}\n', r.out
    ), r.out


def test_s3_s5_concurrent_create_same_vmid_exactly_one_wins(node):
    args = ("pct", "create", "100", DEBIAN, "--rootfs", "local-zfs:1")
    procs = [node.popen(*args, text=True) for _ignored in range(2)]
    results = [(p.wait(timeout=60), p.stdout.read(), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert sorted(rc == 0 for rc, _o, _e in results) == [False, True], results
    loser = next(r for r in results if r[0] != 0)
    assert re.fullmatch(
        r"(trying to acquire lock\.\.\. OK\n)?(unable to create CT 100 - )?"
        r"(CT 100 already exists on node 'pve'|CT is locked \(create\))\n",
        loser[2],
    ), loser
    assert list(node.vmlist()) == ["100"]
    assert node.datasets() == ["rpool/data/subvol-100-disk-0"]
    assert "lock" not in node.conf(100)
    assert "rootfs: local-zfs:subvol-100-disk-0,size=1G\n" in node.conf(100)


def test_s3_create_env_and_entrypoint(node):
    r = node.pct("create", "100", BUSYBOX, "--rootfs", "local-zfs:1", "--env", "A-B=1")
    assert r.err == ("400 Parameter verification failed.\nenv: value does not match the regex pattern\n" + CREATE_USAGE)
    node.create(100, "--env", "FOO=bar baz", "--entrypoint", "/bin/sh -c 'sleep 1'")
    conf = node.conf(100)
    assert "entrypoint: /bin/sh -c 'sleep 1'\n" in conf
    assert conf.endswith("unprivileged: 1\nlxc.environment.runtime: FOO=bar baz\n")
    assert "env: FOO=bar baz\n" in node.pct("config", "100").out


def test_s2_destroy_unreferenced_disks_only_with_the_flag(node):
    for vmid in (100, 101):
        node.create(vmid, "--mp0", "local-zfs:1,mp=/data")
        node.write_conf(vmid, "".join(line for line in node.conf(vmid).splitlines(True) if "mp0" not in line))
    assert node.pct("destroy", "100").rc == 0
    assert node.pct("destroy", "101", "--destroy-unreferenced-disks", "1").rc == 0
    assert node.datasets() == ["rpool/data/subvol-100-disk-1"]
