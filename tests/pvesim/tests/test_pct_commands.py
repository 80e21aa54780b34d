"""pct contract tests, pve-cli-facts §2 (subcommands: list, status, destroy, mount, lifecycle
pre-checks, exec/push/pull pre-checks) and §7 (locks). Running CTs use the runtime's simulated
mode or a fake LXC command socket (what PVE's check_running looks at)."""

import os

import pytest
from test_pct_support import Node, fake_running

BASE = (
    "arch: amd64\n"
    "hostname: web\n"
    "memory: 512\n"
    "ostype: unmanaged\n"
    "rootfs: local-zfs:subvol-100-disk-0,size=1G\n"
    "swap: 512\n"
    "unprivileged: 1\n"
)

FAKE = 200  # any VMID: running state belongs to the node (its network namespace)


@pytest.fixture
def node(tmp_path):
    return Node.init(tmp_path)


def test_s2_list_prints_nothing_without_cts(node):
    r = node.pct("list")
    assert (r.rc, r.out, r.err) == (0, "", "")


def test_s2_list_exact_padded_layout_sorted_numerically(node):
    node.write_conf(FAKE + 1000, BASE.replace("hostname: web\n", ""))
    node.write_conf(101, BASE.replace("hostname: web\n", "lock: mounted\n"))
    node.write_conf(FAKE, BASE.replace("hostname: web", "hostname: web 01"))
    with fake_running(node, FAKE):
        r = node.pct("list")
    assert r.rc == 0
    assert r.err == "vm %d - unable to parse value of 'hostname' - value does not look like a valid DNS name\n" % FAKE
    assert r.out == (
        "VMID       Status     Lock         Name                \n"
        "101        stopped    mounted      CT101               \n"
        "%-10d running                 web01               \n"
        "%-10d stopped                 CT%-18d\n" % (FAKE, FAKE + 1000, FAKE + 1000)
    )


def test_s2_status_plain_and_missing_config(node):
    node.write_conf(FAKE, BASE)
    assert node.pct("status", str(FAKE)).out == "status: stopped\n"
    with fake_running(node, FAKE):
        assert node.pct("status", str(FAKE)).out == "status: running\n"
    r = node.pct("status", "101")
    assert (r.rc, r.out, r.err) == (2, "", "Configuration file 'nodes/pve/lxc/101.conf' does not exist\n")


def test_s2_status_verbose_stopped_exact_keys(node):
    node.write_conf(100, BASE + "lock: backup\ntags: a;b\n")
    r = node.pct("status", "100", "--verbose")
    assert (r.rc, r.err) == (0, "")
    assert r.out == (
        "cpus: %d\n"
        "disk: 0\n"
        "diskread: 0\n"
        "diskwrite: 0\n"
        "lock: backup\n"
        "maxdisk: 1073741824\n"
        "maxmem: 536870912\n"
        "maxswap: 536870912\n"
        "mem: 0\n"
        "name: web\n"
        "netin: 0\n"
        "netout: 0\n"
        "status: stopped\n"
        "swap: 0\n"
        "tags: a;b\n"
        "type: lxc\n"
        "uptime: 0\n"
        "vmid: 100\n" % os.cpu_count()
    )


def test_s2_status_verbose_cpus_rule_and_default_maxdisk(node):
    node.write_conf(
        100, "cores: 3\ncpulimit: 1.5\nmemory: 64\nostype: unmanaged\nrootfs: local-zfs:subvol-100-disk-0\n"
    )
    out = node.pct("status", "100", "--verbose").out
    assert "cpus: 3\n" in out and "maxdisk: 4294967296\n" in out and "maxmem: 67108864\n" in out
    assert "maxswap: 0\n" in out and "name: CT100\n" in out
    node.write_conf(100, BASE + "cpulimit: 1.5\ntemplate: 1\n")
    out = node.pct("status", "100", "--verbose").out
    assert "cpus: 1.5\n" in out and "template: 1\n" in out


def test_s2_status_verbose_running_adds_pid_and_pressure(node):
    node.create(100)
    assert node.pct("start", "100", sim=True).rc == 0
    out = node.pct("status", "100", "--verbose", sim=True).out
    keys = [line.split(":")[0] for line in out.splitlines()]
    assert keys == sorted(keys)
    for key in (
        "pid",
        "pressurecpufull",
        "pressurecpusome",
        "pressureiofull",
        "pressureiosome",
        "pressurememoryfull",
        "pressurememorysome",
    ):
        assert key in keys
    assert "status: running\n" in out
    assert "cpu" not in keys


def test_s2_destroy_frees_volume_config_and_vmlist(node):
    node.create(100)
    r = node.pct("destroy", "100", "--purge")
    assert (r.rc, r.out, r.err) == (0, "purging CT 100 from related configurations..\n", "")
    assert not os.path.exists(node.conf_path(100))
    assert node.vmlist() == {}
    assert node.datasets() == []


def test_s2_destroy_running_needs_force(node):
    node.create(100)
    assert node.pct("start", "100", sim=True).rc == 0
    r = node.pct("destroy", "100", sim=True)
    assert (r.rc, r.out, r.err) == (255, "", "unable to destroy CT 100 - container is running\n")
    r = node.pct("destroy", "100", "--force", sim=True)
    assert (r.rc, r.out, r.err) == (0, "forced to stop CT 100 before destroying!\n", "")
    assert node.vmlist() == {} and node.datasets() == []


def test_s2_s7_destroy_refuses_lock_protection_and_missing(node):
    node.write_conf(100, BASE + "lock: mounted\n")
    r = node.pct("destroy", "100")
    assert (r.rc, r.err) == (255, "CT is locked (mounted)\n")
    node.write_conf(100, BASE + "protection: 1\n")
    r = node.pct("destroy", "100")
    assert (r.rc, r.err) == (255, "can't remove CT 100 - protection mode enabled\n")
    r = node.pct("destroy", "101")
    assert (r.rc, r.err) == (2, "Configuration file 'nodes/pve/lxc/101.conf' does not exist\n")


def test_s7_unlock_removes_any_lock(node):
    node.write_conf(100, BASE)
    r = node.pct("unlock", "100")
    assert (r.rc, r.err) == (255, "no lock found trying to remove any lock\n")
    node.write_conf(100, BASE + "lock: backup\n")
    r = node.pct("unlock", "100")
    assert (r.rc, r.out, r.err) == (0, "", "")
    assert node.conf(100) == BASE


def test_s2_s7_mount_sets_lock_mounted_unmount_removes_it(node):
    node.write_conf(100, BASE)
    r = node.pct("mount", "100")
    assert (r.rc, r.out, r.err) == (0, "mounted CT 100 in '/var/lib/lxc/100/rootfs'\n", "")
    assert "lock: mounted\n" in node.conf(100)
    r = node.pct("mount", "100")
    assert (r.rc, r.err) == (255, "CT is locked (mounted)\n")
    r = node.pct("unmount", "100")
    assert (r.rc, r.out, r.err) == (0, "", "")
    assert node.conf(100) == BASE
    r = node.pct("unmount", "100")
    assert (r.rc, r.err) == (255, "no lock found trying to remove 'mounted' lock\n")
    node.write_conf(100, BASE + "lock: backup\n")
    r = node.pct("unmount", "100")
    assert (r.rc, r.err) == (255, "found lock 'backup' trying to remove 'mounted' lock\n")


def test_s2_lifecycle_prechecks_on_stopped_ct(node):
    node.write_conf(100, BASE)
    assert node.pct("stop", "100").err == "CT 100 not running\n"
    assert node.pct("shutdown", "100").err == "CT 100 not running\n"
    r = node.pct("reboot", "100")
    assert (r.rc, r.out, r.err) == (255, "", "VM 100 not running\n")
    r = node.pct("exec", "100", "--", "true")
    assert (r.rc, r.err) == (255, "container '100' not running!\n")
    r = node.pct("push", "100", "/etc/hostname", "/tmp/x")
    assert (r.rc, r.err) == (255, "can only push files to a running CT\n")
    r = node.pct("pull", "100", "/etc/hostname", "/tmp/x")
    assert r.err == "can only pull files from a running VM at /usr/share/perl5/PVE/CLI/pct.pm line 455.\n"


def test_s2_start_already_running_and_missing_config_in_task(node):
    node.write_conf(FAKE, BASE)
    with fake_running(node, FAKE):
        r = node.pct("start", str(FAKE))
    assert (r.rc, r.out, r.err) == (255, "", "CT %d already running\n" % FAKE)
    r = node.pct("start", "101")
    assert (r.rc, r.out, r.err) == (255, "", "Configuration file 'nodes/pve/lxc/101.conf' does not exist\n")


def test_s7_start_checks_lock_unless_skiplock_mounted_tolerated(node):
    node.create(100)
    conf = node.conf(100)
    node.write_conf(100, conf + "lock: backup\n")
    r = node.pct("start", "100", sim=True)
    assert (r.rc, r.out, r.err) == (255, "", "CT is locked (backup)\n")
    r = node.pct("start", "100", "--skiplock", sim=True)
    assert (r.rc, r.out, r.err) == (0, "", "")
    r = node.pct("stop", "100", sim=True)
    assert (r.rc, r.err) == (255, "CT is locked (backup)\n")
    r = node.pct("shutdown", "100", "--skiplock", sim=True)
    assert r.err == "Unknown option: skiplock\n400 unable to parse option\npct shutdown <vmid> [OPTIONS]\n"
    r = node.pct("shutdown", "100", sim=True)
    assert (r.rc, r.err) == (255, "CT is locked (backup)\n")
    assert node.pct("stop", "100", "--skiplock", sim=True).rc == 0
    node.write_conf(100, conf + "lock: mounted\n")
    assert node.pct("start", "100", sim=True).rc == 0
    assert node.pct("stop", "100", sim=True).rc == 0


def test_s2_start_template_refused(node):
    node.create(100)
    node.write_conf(100, node.conf(100) + "template: 1\n")
    r = node.pct("start", "100", sim=True)
    assert (r.rc, r.err) == (255, "you can't start a CT if it's a template\n")


def test_s4_start_and_reboot_apply_pending_changes(node):
    node.create(100)
    assert node.pct("start", "100", sim=True).rc == 0
    assert node.pct("set", "100", "--arch", "arm64", sim=True).rc == 0
    assert "[pve:pending]\narch: arm64\n" in node.conf(100)
    r = node.pct("reboot", "100", sim=True)
    assert (r.rc, r.err) == (0, "")
    assert "pending" not in node.conf(100) and "arch: arm64\n" in node.conf(100)
    assert node.pct("status", "100", sim=True).out == "status: running\n"


def test_s2_exec_status_is_the_commands_and_missing_command(node):
    node.create(100)
    assert node.pct("start", "100", sim=True).rc == 0
    r = node.pct("exec", "100", "--", "/bin/sh", "-c", "echo hi; exit 7", sim=True)
    assert (r.rc, r.out) == (7, "hi\n")
    r = node.pct("exec", "100", sim=True)
    assert (r.rc, r.err) == (255, "missing command at /usr/share/perl5/PVE/CLI/pct.pm line 189.\n")
    r = node.pct("exec", "101", "--", "true", sim=True)
    assert (r.rc, r.err) == (2, "Configuration file 'nodes/pve/lxc/101.conf' does not exist\n")


def test_s1_push_task_failure_still_exits_0(node):
    node.create(100)
    assert node.pct("start", "100", sim=True).rc == 0
    r = node.pct("push", "100", "/nonexistent", "/tmp/x", sim=True)
    assert (r.rc, r.out, r.err) == (0, "", "failed to open /nonexistent for reading\n")


def test_s2_resize_grows_volume_and_config_refuses_shrink_and_same(node):
    node.create(100)
    r = node.pct("resize", "100", "rootfs", "2G")
    assert (r.rc, r.out, r.err) == (0, "", "")
    assert "rootfs: local-zfs:subvol-100-disk-0,size=2G\n" in node.conf(100)
    assert node.pct("resize", "100", "rootfs", "+512M").rc == 0
    assert "rootfs: local-zfs:subvol-100-disk-0,size=2560M\n" in node.conf(100)
    r = node.run("zfs", "get", "-H", "-p", "-o", "value", "refquota", "rpool/data/subvol-100-disk-0")
    assert r.out == "%d\n" % (2560 * 1024**2)
    r = node.pct("resize", "100", "rootfs", "1G")
    assert (r.rc, r.err) == (255, "unable to shrink disk size\n")
    r = node.pct("resize", "100", "rootfs", "2560M")
    assert (r.rc, r.err) == (255, "disk is already at specified size\n")
    r = node.pct("resize", "100", "rootfs", "1X")
    assert r.err == (
        "400 Parameter verification failed.\nsize: value does not match the regex pattern\n"
        "pct resize <vmid> <disk> <size> [OPTIONS]\n"
    )


def test_s2_snapshot_listsnapshot_rollback_delsnapshot(node):
    node.create(100)
    assert node.pct("snapshot", "100", "s1", "--description", "first\nsecond line").rc == 0
    assert node.pct("set", "100", "--memory", "1024").rc == 0
    assert node.pct("snapshot", "100", "s2").rc == 0
    conf = node.conf(100)
    assert "parent: s2\n" in conf and "\n[s1]\n#first\n#second line\narch: amd64\n" in conf
    assert "\n[s2]\narch: amd64\n" in conf and "parent: s1\n" in conf.split("[s2]")[1]
    r = node.pct("snapshot", "100", "s2")
    assert (r.rc, r.err) == (255, "snapshot name 's2' already used\n")
    r = node.pct("snapshot", "100", "current")
    assert (r.rc, r.out, r.err) == (255, "", "unable to use snapshot name 'current' (reserved name)\n")
    lines = node.pct("listsnapshot", "100").out.splitlines()
    assert [line[:33] for line in lines] == [
        "`-> s1                          2",
        " `-> s2                         2",
        "  `-> current                    ",
    ]
    assert lines[0].endswith("     second line") and lines[1].endswith("     no-description")
    assert lines[2] == "  `-> current" + " " * 43 + "You are here!"
    r = node.pct("rollback", "100", "s1")
    assert (r.rc, r.err) == (255, "can't rollback, 's1' is not most recent snapshot on 'subvol-100-disk-0'\n")
    assert node.pct("delsnapshot", "100", "s2").rc == 0
    assert node.pct("rollback", "100", "s1").rc == 0
    conf = node.conf(100)
    assert "memory: 512\n" in conf and "parent: s1\n" in conf and "[s2]" not in conf
    r = node.pct("delsnapshot", "100", "s9")
    assert (r.rc, r.err) == (255, "snapshot 's9' does not exist\n")
    assert node.pct("delsnapshot", "100", "s1").rc == 0
    assert "parent" not in node.conf(100) and "[s1]" not in node.conf(100)
    assert node.run("zfs", "list", "-H", "-t", "snapshot").out == ""
