"""pct contract tests, pve-cli-facts §4 (config file, pct set/config/pending) and §2 (set errors)."""

import hashlib
import re

import pytest
from test_pct_support import MAC_RE, Node

SET_USAGE = "pct set <vmid> [OPTIONS]\n"

BASE = (
    "arch: amd64\n"
    "hostname: web\n"
    "memory: 512\n"
    "ostype: unmanaged\n"
    "rootfs: local-zfs:subvol-100-disk-0,size=1G\n"
    "swap: 512\n"
    "unprivileged: 1\n"
)


@pytest.fixture
def node(tmp_path):
    return Node.init(tmp_path)


def test_s4_file_rewritten_in_pve_order(node):
    node.write_conf(
        100,
        "memory: 512\n"
        "lxc.cgroup2.devices.allow: c 10:200 rwm\n"
        "hostname: web\n"
        "# my desc\n"
        "arch: amd64\n"
        "mp10: local-zfs:subvol-100-disk-2,mp=/b,size=1G\n"
        "mp2: local-zfs:subvol-100-disk-1,mp=/a,size=1G\n"
        "lxc.mount.entry = /dev/net dev/net none bind,create=dir\n"
        "rootfs: local-zfs:subvol-100-disk-0,size=1G\n"
        "\n"
        "ostype: unmanaged\n"
        "lxc.environment.runtime: A=1\n"
        "onboot: yes\n"
        "[snap2]\n"
        "memory: 256\n"
        "snaptime: 1700000000\n"
        "[snap1]\n"
        "#snap%3A desc\n"
        "memory: 128\n",
    )
    r = node.pct("set", "100", "--swap", "256")
    assert (r.rc, r.out, r.err) == (0, "", "")
    assert node.conf(100) == (
        "# my desc\n"
        "arch: amd64\n"
        "hostname: web\n"
        "memory: 512\n"
        "mp10: local-zfs:subvol-100-disk-2,mp=/b,size=1G\n"
        "mp2: local-zfs:subvol-100-disk-1,mp=/a,size=1G\n"
        "onboot: 1\n"
        "ostype: unmanaged\n"
        "rootfs: local-zfs:subvol-100-disk-0,size=1G\n"
        "swap: 256\n"
        "lxc.environment.runtime: A=1\n"
        "lxc.cgroup2.devices.allow: c 10:200 rwm\n"
        "lxc.mount.entry: /dev/net dev/net none bind,create=dir\n"
        "\n"
        "[snap1]\n"
        "#snap%3A desc\n"
        "memory: 128\n"
        "\n"
        "[snap2]\n"
        "memory: 256\n"
        "snaptime: 1700000000\n"
    )


def test_s4_config_merges_pending_by_default_raw_lxc_last_description_escaped(node):
    node.write_conf(
        100,
        "#first line\n#second: 50%\n"
        + BASE
        + "lxc.apparmor.profile: unconfined\n"
        + "\n[pve:pending]\nmemory: 1024\ncores: 2\ndelete: swap\n",
    )
    r = node.pct("config", "100")
    assert (r.rc, r.err) == (0, "")
    assert r.out == (
        "arch: amd64\n"
        "cores: 2\n"
        "description: first line%0Asecond%3A 50%25%0A\n"
        "hostname: web\n"
        "memory: 1024\n"
        "ostype: unmanaged\n"
        "rootfs: local-zfs:subvol-100-disk-0,size=1G\n"
        "unprivileged: 1\n"
        "lxc.apparmor.profile: unconfined\n"
    )
    r = node.pct("config", "100", "--current")
    assert "memory: 512\n" in r.out and "swap: 512\n" in r.out and "cores" not in r.out


def test_s4_config_snapshot_and_errors(node):
    node.write_conf(100, BASE + "parent: s1\n\n[s1]\nmemory: 256\nsnaptime: 1700000000\n")
    r = node.pct("config", "100", "--snapshot", "s1")
    assert (r.rc, r.out) == (0, "memory: 256\nsnaptime: 1700000000\n")
    assert "parent: s1\n" in node.pct("config", "100").out
    r = node.pct("config", "100", "--snapshot", "s9")
    assert (r.rc, r.err) == (255, "snapshot 's9' does not exist\n")
    r = node.pct("config", "100", "--current", "--snapshot", "s1")
    assert r.rc == 255
    assert r.err.startswith("400 Parameter verification failed.\n")
    assert "snapshot: cannot use 'snapshot' parameter with 'current'\n" in r.err
    assert r.err.endswith("pct config <vmid> [OPTIONS]\n")


def test_s4_bad_lines_only_warn_on_stderr(node):
    node.write_conf(100, BASE + "foo: bar\nthis is junk\nlxc.rootfs.path: /x\nlxc.bogus.key: 1\n", register=True)
    r = node.pct("config", "100")
    assert r.rc == 0
    assert r.err == (
        "vm 100 - unable to parse value of 'foo' - unknown setting 'foo'\n"
        "vm 100 - unable to parse config: this is junk\n"
        "vm 100 - lxc.rootfs.path: lxc.rootfs.path is auto generated from rootfs\n"
        "vm 100 - unable to parse config: lxc.bogus.key: 1\n"
    )
    assert "foo: bar\n" in r.out


def test_s4_config_checks_its_result_against_the_schema(node):
    """A value the schema refuses only warns while parsing, but the API's result check fails
    (golden corpus pct/config-corpus: `memory: abc`)."""
    node.write_conf(100, BASE.replace("memory: 512", "memory: lots"), register=True)
    r = node.pct("config", "100")
    assert (r.rc, r.out) == (255, "")
    assert r.err == (
        "vm 100 - unable to parse value of 'memory' - type check ('integer') failed - got 'lots'\n"
        "400 Result verification failed\n"
        "memory: type check ('integer') failed - got 'lots'\n"
        "pct config <vmid> [OPTIONS]\n"
    )


def test_s4_set_on_stopped_ct_applies_at_once(node):
    node.write_conf(100, BASE)
    r = node.pct("set", "100", "--cores", "2", "--arch", "arm64", "--delete", "swap")
    assert (r.rc, r.out, r.err) == (0, "", "")
    assert node.conf(100) == BASE.replace("arch: amd64\n", "arch: arm64\ncores: 2\n").replace("swap: 512\n", "")


def test_s4_set_on_running_ct_hotplugs_or_queues_pending(node):
    node.create(100, "--features", "nesting=1", "--hostname", "web")
    assert node.pct("start", "100", sim=True).rc == 0
    r = node.pct(
        "set", "100", "--memory", "1024", "--arch", "arm64", "--hostname", "h1", "--delete", "features,swap", sim=True
    )
    assert (r.rc, r.out, r.err) == (0, "", "")
    assert node.conf(100) == (
        "arch: amd64\n"
        "features: nesting=1\n"
        "hostname: h1\n"
        "memory: 1024\n"
        "ostype: unmanaged\n"
        "rootfs: local-zfs:subvol-100-disk-0,size=1G\n"
        "unprivileged: 1\n"
        "\n"
        "[pve:pending]\n"
        "arch: arm64\n"
        "delete: features\n"
    )
    r = node.pct("pending", "100", sim=True)
    assert r.out == (
        "cur arch: amd64\n"
        "new arch: arm64\n"
        "del features: nesting=1\n"
        "cur hostname: h1\n"
        "cur memory: 1024\n"
        "cur ostype: unmanaged\n"
        "cur rootfs: local-zfs:subvol-100-disk-0,size=1G\n"
        "cur unprivileged: 1\n"
    )
    r = node.pct("set", "100", "--revert", "arch", sim=True)
    assert r.rc == 0
    assert node.conf(100).endswith("[pve:pending]\ndelete: features\n")
    assert node.pct("stop", "100", sim=True).rc == 0


BROKEN_POOL = "\nzfspool: tank\n\tpool tank/data\n\tcontent rootdir\n"  # its pool does not exist
MP_ON_BROKEN_POOL = "tank:1,mp=/data"
HOTPLUG_MP0_FAILS = (
    "400 Parameter verification failed.\n"
    "mp0: unable to hotplug mp0: zfs error: cannot create 'tank/data/subvol-100-disk-0': no such pool 'tank'\n"
    + SET_USAGE
)


def _running_with_broken_pool(node, *create_args):
    node.create(100, *create_args)
    with open(node.path("/etc/pve/storage.cfg"), "a", encoding="utf-8") as f:
        f.write(BROKEN_POOL)
    assert node.pct("start", "100", sim=True).rc == 0


def test_s4_failed_hotplug_writes_nothing_and_a_later_set_does_not_retry_it(node):
    """update_vm raises the hot-plug errors before write_config: nothing of that call is kept
    (not the failed key, not the keys that did apply), so no later `pct set` sees it."""
    _running_with_broken_pool(node)
    before = node.conf(100)
    r = node.pct("set", "100", "--mp0", MP_ON_BROKEN_POOL, "--hostname", "h1", sim=True)
    assert (r.rc, r.out, r.err) == (255, "", HOTPLUG_MP0_FAILS)
    assert node.conf(100) == before
    r = node.pct("set", "100", "--cores", "2", sim=True)
    assert (r.rc, r.out, r.err) == (0, "", "")
    assert node.conf(100) == before.replace("arch: amd64\n", "arch: amd64\ncores: 2\n")
    # the same key again is a new attempt, and fails again
    r = node.pct("set", "100", "--mp0", MP_ON_BROKEN_POOL, sim=True)
    assert (r.rc, r.out, r.err) == (255, "", HOTPLUG_MP0_FAILS)
    assert node.conf(100) == before.replace("arch: amd64\n", "arch: amd64\ncores: 2\n")
    assert node.pct("stop", "100", sim=True).rc == 0


def test_s4_set_on_running_ct_hotplugs_only_its_own_keys(node):
    """vmconfig_hotplug_pending's $selection: keys already pending (here written by hand, as a
    config copied from elsewhere could have them) are neither tried nor reported until a
    `pct set` names them again."""
    _running_with_broken_pool(node, "--dev0", "/dev/null", "--cpulimit", "1")
    current = node.conf(100)
    node.write_conf(
        100,
        current + "\n[pve:pending]\ncpulimit: 2\ndelete: swap\nmemory: 1024\nmp0: %s\nonboot: 1\n" % MP_ON_BROKEN_POOL,
    )
    r = node.pct("set", "100", "--cores", "2", sim=True)
    assert (r.rc, r.out, r.err) == (0, "", "")
    current = current.replace("arch: amd64\n", "arch: amd64\ncores: 2\n")
    pending = {"cpulimit: 2\n", "delete: swap\n", "memory: 1024\n", "mp0: %s\n" % MP_ON_BROKEN_POOL, "onboot: 1\n"}

    def assert_conf():
        assert node.conf(100) == current + "\n[pve:pending]\n" + "".join(sorted(pending))

    assert_conf()
    # each named key applies on its own: a fast-plug option, a limit, a deletion
    for args, old, new, done in (
        (["--onboot", "1"], "ostype:", "onboot: 1\nostype:", "onboot: 1\n"),
        (["--memory", "1024"], "memory: 512\n", "memory: 1024\n", "memory: 1024\n"),
        (["--delete", "swap"], "swap: 512\n", "", "delete: swap\n"),
    ):
        r = node.pct("set", "100", *args, sim=True)
        assert (r.rc, r.out, r.err) == (0, "", ""), args
        current = current.replace(old, new)
        pending.discard(done)
        assert_conf()
    # a devN that would replace an existing one waits for the next start, as a changed mpN does
    r = node.pct("set", "100", "--dev0", "/dev/zero", sim=True)
    assert (r.rc, r.out, r.err) == (0, "", "")
    pending.add("dev0: /dev/zero\n")
    assert_conf()
    # naming the failing key again tries it again: the error, and the file stays as it was
    r = node.pct("set", "100", "--mp0", MP_ON_BROKEN_POOL, sim=True)
    assert (r.rc, r.out, r.err) == (255, "", HOTPLUG_MP0_FAILS)
    assert_conf()
    assert node.pct("stop", "100", sim=True).rc == 0


def test_s4_pending_lists_new_keys(node):
    node.write_conf(100, BASE + "\n[pve:pending]\ncores: 4\n")
    r = node.pct("pending", "100")
    assert "cur arch: amd64\nnew cores: 4\ncur hostname: web\n" in r.out


def test_s4_set_net_normalised_hwaddr_generated_type_veth(node):
    node.write_conf(100, BASE)
    r = node.pct(
        "set",
        "100",
        "--net0",
        "ip=10.0.0.5/24,tag=10,bridge=vmbr0,firewall=1,name=eth0,gw=10.0.0.1,hwaddr=BC:24:11:AA:BB:CC",
        "--net1",
        "name=eth1,bridge=vmbr0",
    )
    assert r.rc == 0, r
    conf = node.conf(100)
    assert (
        "net0: name=eth0,bridge=vmbr0,firewall=1,gw=10.0.0.1,hwaddr=BC:24:11:AA:BB:CC,ip=10.0.0.5/24,tag=10,type=veth\n"
        in conf
    )
    assert re.search("^net1: name=eth1,bridge=vmbr0,hwaddr=" + MAC_RE + ",type=veth$", conf, re.M), conf


def test_s4_set_mountpoint_reprinted_volume_first_then_mp(node):
    node.write_conf(100, BASE)
    r = node.pct("set", "100", "--mp1", "ro=1,mp=/shared,/mnt/bindmounts/shared")
    assert r.rc == 0, r
    assert "mp1: /mnt/bindmounts/shared,mp=/shared,ro=1\n" in node.conf(100)


def test_s4_set_digest_must_match(node):
    node.write_conf(100, BASE)
    digest = hashlib.sha1(node.conf(100).encode()).hexdigest()
    r = node.pct("set", "100", "--digest", "0" * 40, "--cores", "1")
    assert (r.rc, r.err) == (255, "detected modified configuration - file changed by other user? Try again.\n")
    assert node.pct("set", "100", "--digest", digest, "--cores", "1").rc == 0


def test_s2_set_no_options_specified(node):
    r = node.pct("set", "100")
    assert (r.rc, r.out, r.err) == (255, "", "no options specified\n")


def test_s2_s7_set_refuses_locked_ct(node):
    node.write_conf(100, BASE + "lock: backup\n")
    r = node.pct("set", "100", "--cores", "1")
    assert (r.rc, r.err) == (255, "CT is locked (backup)\n")


def test_s2_set_read_only_and_required_options(node):
    node.write_conf(100, BASE)
    r = node.pct("set", "100", "--unprivileged", "0")
    assert (r.rc, r.err) == (255, "unable to modify read-only option: 'unprivileged'\n")
    for key in ("memory", "rootfs", "ostype"):
        r = node.pct("set", "100", "--delete", key)
        assert (r.rc, r.err) == (255, "unable to delete required option '%s'\n" % key)
    assert node.conf(100) == BASE


def test_s2_set_delete_unset_key_only_warns(node):
    node.write_conf(100, BASE)
    r = node.pct("set", "100", "--delete", "cores")
    assert (r.rc, r.out, r.err) == (0, "", "cannot delete 'cores' - not set in current configuration!\n")


def test_s2_set_missing_config_exit_2(node):
    r = node.pct("set", "100", "--cores", "1")
    assert (r.rc, r.err) == (2, "Configuration file 'nodes/pve/lxc/100.conf' does not exist\n")


def test_s4_set_tags_and_description(node):
    node.write_conf(100, BASE)
    assert node.pct("set", "100", "--tags", "Zeta b,a;b", "--description", "hi\nthere").rc == 0
    conf = node.conf(100)
    assert conf.startswith("#hi\n#there\narch: amd64\n")
    assert "tags: a;b;zeta\n" in conf
    assert "description: hi%0Athere%0A\n" in node.pct("config", "100").out
