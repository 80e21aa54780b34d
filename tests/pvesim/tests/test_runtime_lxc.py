"""Real LXC containers under pct start/stop/shutdown/reboot/exec/push/pull (pve-cli-facts §2, §8, §9).

Every test starts real containers with VMIDs from fresh_vmid() and removes them in teardown.
"""

import os
import re
import shutil
import subprocess
import time

import pytest
from test_runtime_support import (
    BUSYBOX,
    PVESIM,
    Guests,
    Node,
    fresh_vmid,
    host_mounts_mentioning,
    make_rootfs,
    real_lxc,
)

from pvesim.node import node_id

pytestmark = [pytest.mark.real_lxc, real_lxc]


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    return Node.init(tmp_path_factory.mktemp("rt") / "node")


@pytest.fixture
def guests():
    g = Guests()
    yield g
    g.cleanup()


def _hostdir(tmp_path, name="share", owner=100000):
    d = tmp_path / name
    d.mkdir()
    (d / "in.txt").write_text("from the host\n")
    os.chown(d, owner, owner)
    return str(d)


def _create(node, guests, *opts):
    vmid = guests.add(node, fresh_vmid())
    r = node.pct("create", vmid, BUSYBOX, "--rootfs", "local-zfs:1", "--ostype", "unmanaged", *opts)
    assert r.rc == 0, r.err
    return vmid


def _started(node, guests, *opts):
    vmid = _create(node, guests, *opts)
    r = node.pct("start", vmid)
    assert (r.rc, r.err) == (0, ""), r.out
    return vmid


def _no_trace_left(node, vmid):
    """No container, cgroup dir, monitor socket, mount or runtime file of vmid anywhere."""
    assert not node.running(vmid)
    inside = node.run("lxc-ls", "-1")
    assert inside.rc == 0
    assert str(vmid) not in inside.out.split()
    host = subprocess.run(["lxc-ls", "-1"], capture_output=True, text=True, check=False)
    assert str(vmid) not in host.stdout.split()
    assert node.leftover_cgroups(vmid) == []
    assert host_mounts_mentioning("/%s/" % vmid) == []
    fresh_ns = node.run("grep", "-c", "lxc/%s" % vmid, "/proc/self/mountinfo")
    assert fresh_ns.out.strip() == "0"
    assert not os.path.exists(node.path("/var/lib/lxc/%s" % vmid))
    assert [f for f in os.listdir(node.path("/run/pve")) if str(vmid) in f] == []


def test_acceptance_bind_mount_exec_stop_destroy_leaves_nothing(node, guests, tmp_path):
    share = _hostdir(tmp_path)
    vmid = _create(node, guests, "--mp0", "%s,mp=/data" % share, "--hostname", "acc")
    assert node.pct("status", vmid).out == "status: stopped\n"
    assert not node.running(vmid)

    r = node.pct("start", vmid)
    assert (r.rc, r.out, r.err) == (0, "", "")
    assert node.pct("status", vmid).out == "status: running\n"
    # The monitor socket is in the node's network namespace only, not in the host's.
    assert node.running(vmid)
    with open("/proc/net/unix", encoding="utf-8") as f:
        assert not any(line.rstrip().endswith(" @/var/lib/lxc/%s/command" % vmid) for line in f)

    r = node.pct("exec", vmid, "--", "cat", "/data/in.txt")
    assert (r.rc, r.out) == (0, "from the host\n")
    r = node.pct("exec", vmid, "--", "sh", "-c", "echo from the CT > /data/out.txt; hostname")
    assert (r.rc, r.out) == (0, "acc\n")
    with open(os.path.join(share, "out.txt"), encoding="utf-8") as f:
        assert f.read() == "from the CT\n"
    assert os.stat(os.path.join(share, "out.txt")).st_uid == 100000  # unprivileged: CT root is 100000

    r = node.pct("stop", vmid)
    assert (r.rc, r.out, r.err) == (0, "", "")
    assert node.pct("status", vmid).out == "status: stopped\n"
    r = node.pct("destroy", vmid)
    assert r.rc == 0, r.err
    _no_trace_left(node, vmid)
    assert os.listdir(share) == ["in.txt", "out.txt"] or sorted(os.listdir(share)) == ["in.txt", "out.txt"]


def test_lxc_config_as_pve_writes_it(node, guests):
    vmid = _started(node, guests, "--hostname", "cfg1", "--memory", "256", "--net0", "name=eth0,bridge=vmbr0,ip=dhcp")
    with open(node.path("/var/lib/lxc/%s/config" % vmid), encoding="utf-8") as f:
        config = f.read()
    assert "lxc.uts.name = cfg1\n" in config
    assert "lxc.rootfs.path = /var/lib/lxc/%s/rootfs\n" % vmid in config
    assert "lxc.idmap = u 0 100000 65536\nlxc.idmap = g 0 100000 65536\n" in config
    assert "lxc.init.cmd = /sbin/init\n" in config
    # vmbr0, declared in the node's interfaces file, is a kernel bridge in the node's network namespace.
    assert "lxc.net.0.type = veth\nlxc.net.0.veth.pair = veth%s" % vmid in config
    assert "lxc.net.0.link = vmbr0\n" in config
    assert "lxc.cgroup.dir.container = pvesim-%s/lxc/%s\n" % (node_id(node.root), vmid) in config
    r = node.pct("exec", vmid, "--", "cat", "/proc/self/uid_map", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
    assert r.rc == 0
    assert r.out.split() == ["0", "100000", "65536", str(256 * 1048576)]


def test_shutdown_of_busybox_init_completes(node, guests):
    vmid = _started(node, guests)
    t0 = time.monotonic()
    r = node.pct("shutdown", vmid, "--timeout", "20")
    assert (r.rc, r.out, r.err) == (0, "", "")
    assert time.monotonic() - t0 < 20
    assert node.pct("status", vmid).out == "status: stopped\n"
    assert node.leftover_cgroups(vmid) == []


def test_exec_passes_exit_status_stdin_and_env_mode(node, guests):
    vmid = _started(node, guests)
    r = node.pct("exec", vmid, "--", "sh", "-c", "cat > /tmp/x; exit 7", stdin="piped in\n")
    assert r.rc == 7
    r = node.pct("exec", vmid, "--", "cat", "/tmp/x")
    assert (r.rc, r.out) == (0, "piped in\n")
    r = node.pct("exec", vmid, "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.rc, r.out, r.err) == (3, "out\n", "err\n")
    r = node.pct("exec", vmid, "--keep-env", "0", "--", "env")
    assert r.rc == 0
    assert "container=lxc" in r.out.split("\n")
    assert "PVESIM_ROOT" not in r.out
    r = node.pct("exec", vmid, "--", "env")
    assert "PVESIM_ROOT" not in r.out  # the simulator's own variables are not passed on


def test_push_and_pull(node, guests, tmp_path):
    vmid = _started(node, guests)
    src = tmp_path / "payload"
    src.write_bytes(b"line 1\nline 2\n")
    r = node.pct("push", vmid, src, "/root/payload", "--perms", "0600", "--user", "nobody")
    assert (r.rc, r.out, r.err) == (0, "", "")
    r = node.pct("exec", vmid, "--", "sh", "-c", "stat -c '%a %u %g' /root/payload; cat /root/payload")
    assert (r.rc, r.out) == (0, "600 65534 0\nline 1\nline 2\n")
    dst = tmp_path / "back"
    r = node.pct("pull", vmid, "/root/payload", dst, "--perms", "0640")
    assert (r.rc, r.err) == (0, "")
    assert dst.read_bytes() == b"line 1\nline 2\n"
    assert oct(dst.stat().st_mode & 0o7777) == "0o640"
    # pull resolves paths inside the CT: /bin/sh is a symlink to /bin/busybox there.
    r = node.pct("pull", vmid, "/etc/hostname", tmp_path / "hn")
    assert r.rc == 0
    # A file missing inside fails in the task; pct pull has no exit hook, so the exit status stays 0.
    r = node.pct("pull", vmid, "/nonexistent", tmp_path / "nx")
    assert r.rc == 0
    assert "/nonexistent" in r.err
    assert not (tmp_path / "nx").exists()


def test_read_only_mount_point(node, guests, tmp_path):
    share = _hostdir(tmp_path)
    vmid = _started(node, guests, "--mp0", "%s,mp=/ro,ro=1" % share)
    assert node.pct("exec", vmid, "--", "cat", "/ro/in.txt").out == "from the host\n"
    r = node.pct("exec", vmid, "--", "sh", "-c", "echo x > /ro/new")
    assert r.rc != 0
    assert "Read-only file system" in r.err
    assert not os.path.exists(os.path.join(share, "new"))


def test_root_owned_bind_dir_is_read_only_inside_unprivileged_ct(node, guests, tmp_path):
    share = _hostdir(tmp_path, owner=0)
    vmid = _started(node, guests, "--mp0", "%s,mp=/data" % share)
    assert node.pct("exec", vmid, "--", "cat", "/data/in.txt").out == "from the host\n"
    r = node.pct("exec", vmid, "--", "sh", "-c", "echo x > /data/new")
    assert r.rc != 0
    assert "Permission denied" in r.err


def test_missing_bridge_fails_start(node, guests):
    vmid = _create(node, guests, "--net0", "name=eth0,bridge=vmbr9")
    r = node.pct("start", vmid)
    assert r.rc == 255
    assert r.err == "bridge 'vmbr9' does not exist\n"
    assert not node.running(vmid)
    assert node.leftover_cgroups(vmid) == []


def test_missing_bind_source_fails_start(node, guests, tmp_path):
    share = _hostdir(tmp_path)
    vmid = _create(node, guests, "--mp0", "%s,mp=/data" % share)
    os.unlink(os.path.join(share, "in.txt"))
    os.rmdir(share)
    r = node.pct("start", vmid)
    assert r.rc == 255
    assert r.err == "directory '%s' does not exist\n" % share
    assert not node.running(vmid)
    assert node.leftover_cgroups(vmid) == []


def test_reboot_restarts_the_container(node, guests):
    vmid = _started(node, guests)
    pid_before = node.rt("pid", str(vmid)).value["result"]
    r = node.pct("reboot", vmid, "--timeout", "20")
    assert (r.rc, r.err) == (0, "")
    assert node.pct("status", vmid).out == "status: running\n"
    pid_after = node.rt("pid", str(vmid)).value["result"]
    assert isinstance(pid_after, int)
    assert pid_after != pid_before


# ---------------------------------------------------------------- the runtime API directly


def _conf(rootfs, **extra):
    conf = {"rootfs": "%s,size=1G" % rootfs, "hostname": "direct", "unprivileged": "1", "memory": "128"}
    conf.update(extra)
    return conf


def test_shutdown_timeout_without_force_stop_reports_pve_messages(node, guests, tmp_path):
    rootfs = make_rootfs(node, str(tmp_path / "rootfs"), unprivileged=True)
    stubborn = os.path.join(rootfs, "sbin", "stubborn")
    with open(stubborn, "w", encoding="utf-8") as f:
        f.write("#!/bin/sh\ntrap '' PWR TERM INT\nwhile :; do sleep 1; done\n")
    os.chmod(stubborn, 0o755)
    os.chown(stubborn, 100000, 100000)
    vmid = guests.add(node, fresh_vmid())
    r = node.rt("start", str(vmid), _conf(rootfs, entrypoint="/sbin/stubborn"))
    assert r.value == {"result": None}, r.out + r.err
    r = node.rt("shutdown", str(vmid), 1, False)
    assert r.rc == 1
    assert "command 'lxc-stop -n %s --nokill --timeout 1' failed: exit code 1\n" % vmid in r.out
    assert r.value == {"error": "TaskFailed", "message": "container did not stop"}
    assert node.running(vmid)
    r = node.rt("shutdown", str(vmid), 1, True)
    assert r.value == {"result": None}
    assert not node.running(vmid)
    assert node.leftover_cgroups(vmid) == []


def test_privileged_container_has_identity_map(node, guests, tmp_path):
    rootfs = make_rootfs(node, str(tmp_path / "rootfs"), unprivileged=False)
    vmid = guests.add(node, fresh_vmid())
    r = node.rt("start", str(vmid), _conf(rootfs, unprivileged="0"))
    assert r.value == {"result": None}, r.out + r.err
    r = node.run("lxc-attach", "-n", vmid, "--", "cat", "/proc/self/uid_map")
    assert r.out.split() == ["0", "0", "4294967295"]
    assert node.rt("destroy_runtime", str(vmid)).value == {"result": None}
    _no_trace_left(node, vmid)
    assert os.path.exists(os.path.join(rootfs, "bin", "busybox"))  # destroy never touches the volume


def test_failed_start_prints_lxc_errors_and_cleans_up(node, guests, tmp_path):
    rootfs = make_rootfs(node, str(tmp_path / "rootfs"))
    vmid = guests.add(node, fresh_vmid())
    r = node.rt(
        "start", str(vmid), _conf(rootfs, lxc=[["lxc.idmap", "u 0 300000 65536"], ["lxc.idmap", "g 0 300000 65536"]])
    )
    assert r.rc == 1
    assert r.value == {"error": "TaskFailed", "message": "startup for container '%s' failed" % vmid}
    assert re.search(r"lxc-start %s \d+\.\d+ ERROR" % vmid, r.out)  # /run/pve/ct-<vmid>.stderr in the task log
    assert not node.running(vmid)
    assert node.leftover_cgroups(vmid) == []


def test_real_bridge_gives_a_veth_with_the_static_ip(node, guests):
    if not shutil.which("ip"):
        pytest.skip("iproute2 (ip) is missing")
    # A bridge declared in the node's interfaces file is a kernel bridge in the node's network namespace.
    with open(node.path("/etc/network/interfaces"), "a", encoding="utf-8") as f:
        f.write("\nauto vmbr7\niface vmbr7 inet static\n\tbridge-ports none\n")
    assert node.run("ip", "addr", "replace", "10.251.9.1/24", "dev", "vmbr7").rc == 0
    vmid = _started(node, guests, "--net0", "name=eth0,bridge=vmbr7,ip=10.251.9.2/24,gw=10.251.9.1")
    assert node.run("ls", "/sys/class/net/vmbr7/brif").out.split() == ["veth%si0" % vmid]
    assert not os.path.exists("/sys/class/net/vmbr7")  # nothing on the host
    r = node.pct("exec", vmid, "--", "sh", "-c", "ip -o -4 addr show eth0; ping -c1 -W2 10.251.9.1 >/dev/null")
    assert r.rc == 0, r.err
    assert "inet 10.251.9.2/24" in r.out
    assert node.pct("stop", vmid).rc == 0
    assert node.run("test", "-e", "/sys/class/net/veth%si0" % vmid).rc == 1


def test_two_nodes_run_the_same_vmid_and_each_sees_only_its_own(tmp_path, guests):
    nodes = [Node.init(tmp_path / name) for name in ("a", "b")]
    for n, hostname in zip(nodes, ("on-a", "on-b"), strict=True):
        guests.add(n, 100)
        r = n.pct("create", 100, BUSYBOX, "--rootfs", "local-zfs:1", "--ostype", "unmanaged", "--hostname", hostname)
        assert r.rc == 0, r.err
    first, second = nodes
    assert first.pct("start", 100).rc == 0
    assert (first.running(100), second.running(100)) == (True, False)
    assert second.pct("status", 100).out == "status: stopped\n"
    r = second.pct("start", 100)
    assert (r.rc, r.err) == (0, ""), r.out
    for n, hostname in zip(nodes, ("on-a", "on-b"), strict=True):
        assert n.pct("status", 100).out == "status: running\n"
        assert n.pct("exec", 100, "--", "hostname").out == hostname + "\n"
        assert n.run("lxc-ls", "-1", "--running").out.split() == ["100"]
        # its own cgroups (pvesim-<node id>/lxc/100), one payload process tree per node
        assert n.leftover_cgroups(100)
    assert set(first.leftover_cgroups(100)).isdisjoint(second.leftover_cgroups(100))
    with open("/proc/net/unix", encoding="utf-8") as f:
        assert "@/var/lib/lxc/100/command" not in f.read()  # nothing in the host's namespace
    assert first.pct("stop", 100).rc == 0
    assert (first.running(100), second.running(100)) == (False, True)
    assert second.pct("exec", 100, "--", "hostname").out == "on-b\n"
    assert first.pct("status", 100).out == "status: stopped\n"
    assert second.pct("stop", 100).rc == 0
    assert first.leftover_cgroups(100) == second.leftover_cgroups(100) == []


def test_hotplug_memory_of_a_running_ct(node, guests):
    vmid = _started(node, guests, "--memory", "128", "--swap", "0")
    limit = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    if not os.path.exists(limit):
        pytest.skip("no cgroup v1 memory controller on this host")
    r = node.pct("set", vmid, "--memory", "300", "--swap", "64")
    assert (r.rc, r.err) == (0, "")
    r = node.pct("exec", vmid, "--", "cat", limit, "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
    assert r.out.split() == [str(300 * 1048576), str(364 * 1048576)]


def test_pid_is_the_init_that_lxc_info_reports(node, guests):
    vmid = _started(node, guests)
    pid = node.rt("pid", str(vmid)).value["result"]
    inside = node.run("lxc-info", "-n", vmid, "-p", "-H")  # the node's lxcpath is /var/lib/lxc
    assert inside.out.strip() == str(pid)
    # the pid is the node's (its own PID namespace): /proc inside the node names the CT's init
    assert node.run("cat", "/proc/%d/comm" % pid).out == "init\n"  # busybox init (argv[0] rewritten)


def test_killing_pct_exec_kills_the_command_in_the_ct(node, guests):
    vmid = _started(node, guests)
    p = subprocess.Popen(
        ["timeout", "-s", "KILL", "2", PVESIM, "run", "--root", node.root, "--", "pct", "exec", str(vmid), "--"]
        + ["sleep", "37"],
        stdout=subprocess.PIPE,
    )
    t0 = time.monotonic()
    p.communicate(timeout=30)  # EOF on stdout: nothing in the CT holds the pipe
    assert time.monotonic() - t0 < 20
    time.sleep(0.3)
    r = node.pct("exec", vmid, "--", "ps")
    assert "sleep 37" not in r.out


def test_new_bind_mount_is_hot_plugged_into_a_running_ct_and_delete_waits_for_restart(node, guests, tmp_path):
    share = _hostdir(tmp_path)
    ro_share = _hostdir(tmp_path, "ro-share")
    vmid = _started(node, guests)
    init = node.pct("exec", vmid, "--", "cat", "/proc/1/stat").out
    r = node.pct("set", vmid, "--mp0", "%s,mp=/data" % share, "--mp1", "%s,mp=/ro/deep,ro=1" % ro_share)
    assert (r.rc, r.out, r.err) == (0, "", "")
    conf = node.pct("config", vmid).out
    assert "mp0: %s,mp=/data\n" % share in conf and "mp1: %s,mp=/ro/deep,ro=1\n" % ro_share in conf
    assert node.pct("pending", vmid).out.count("cur mp") == 2  # applied, nothing pending
    r = node.pct("exec", vmid, "--", "sh", "-c", "cat /data/in.txt /ro/deep/in.txt; echo new > /data/new")
    assert (r.rc, r.out) == (0, "from the host\nfrom the host\n")
    with open(os.path.join(share, "new"), encoding="utf-8") as f:
        assert f.read() == "new\n"
    r = node.pct("exec", vmid, "--", "sh", "-c", "echo x > /ro/deep/x")
    assert r.rc != 0 and "Read-only file system" in r.err
    assert node.pct("exec", vmid, "--", "cat", "/proc/1/stat").out == init  # no restart
    # Proxmox does not hot-unplug: `--delete mp0` on a running CT stays pending (Config.pm
    # vmconfig_hotplug_pending: "skip" for mpN), the mount stays until the next start.
    assert node.pct("set", vmid, "--delete", "mp0").rc == 0
    assert "del mp0: %s,mp=/data\n" % share in node.pct("pending", vmid).out
    assert node.pct("exec", vmid, "--", "cat", "/data/in.txt").rc == 0
    r = node.pct("reboot", vmid)
    assert r.rc == 0, r.err
    assert "mp0" not in node.pct("config", vmid).out
    assert node.pct("exec", vmid, "--", "test", "-e", "/data/in.txt").rc == 1
    assert node.pct("exec", vmid, "--", "cat", "/ro/deep/in.txt").out == "from the host\n"
    # nothing of the hot-plug is left in the host's mount table
    assert host_mounts_mentioning(share) == []


def _rootfs_of(node, vmid):
    return node.path("/rpool/data/subvol-%s-disk-0" % vmid)


def test_mount_targets_are_walked_inside_the_ct_never_through_a_symlink(node, guests, tmp_path):
    """PVE's walk_tree_nofollow: a symlink in a mount target's path (here one pointing at the host's
    /etc, as a CT's own /etc looks from the host) fails the start; nothing is made outside the rootfs."""
    share = _hostdir(tmp_path)
    vmid = _create(node, guests, "--mp0", "%s,mp=/link/sub" % share)
    os.symlink("/etc", os.path.join(_rootfs_of(node, vmid), "link"))
    r = node.pct("start", vmid)
    assert r.rc == 255 and r.err == "startup for container '%s' failed\n" % vmid
    assert "symlink encountered at: /var/lib/lxc/%s/rootfs/link\n" % vmid in r.out
    assert not os.path.exists("/etc/sub")
    assert not node.running(vmid)
    assert node.leftover_cgroups(vmid) == []
    # a path the CT does not have yet is made inside its root, every new directory owned by its root
    os.unlink(os.path.join(_rootfs_of(node, vmid), "link"))
    assert node.pct("set", vmid, "--mp0", "%s,mp=/new/deep/data" % share).rc == 0
    r = node.pct("start", vmid)
    assert (r.rc, r.err) == (0, ""), r.out
    r = node.pct("exec", vmid, "--", "sh", "-c", "cat /new/deep/data/in.txt; stat -c '%u %a' /new /new/deep")
    assert r.out == "from the host\n0 755\n0 755\n"
    assert os.stat(os.path.join(_rootfs_of(node, vmid), "new")).st_uid == 100000


def test_hot_plug_target_is_walked_inside_the_ct_never_through_a_symlink(node, guests, tmp_path):
    share = _hostdir(tmp_path)
    vmid = _started(node, guests)
    assert node.pct("exec", vmid, "--", "ln", "-s", "/etc", "/hot").rc == 0
    before = node.pct("pending", vmid).out
    r = node.pct("set", vmid, "--mp0", "%s,mp=/hot/sub" % share)
    assert r.rc != 0
    assert "unable to hotplug mp0: symlink encountered at: //hot" in r.err
    assert node.pct("exec", vmid, "--", "test", "-e", "/etc/sub").rc == 1
    assert not os.path.exists("/etc/sub")
    assert node.pct("pending", vmid).out == before  # a `pct set` with errors writes nothing (update_vm)
    # a volume made for a mount point that then fails to hot-plug is destroyed again
    volumes = node.run("pvesm", "list", "local-zfs", "--vmid", vmid).out
    r = node.pct("set", vmid, "--mp2", "local-zfs:1,mp=/hot/vol")
    assert "unable to hotplug mp2: symlink encountered at: //hot" in r.err
    assert node.run("pvesm", "list", "local-zfs", "--vmid", vmid).out == volumes
    # a later `pct set` hot-plugs only its own keys: mp0 is not tried again
    r = node.pct("set", vmid, "--mp1", "%s,mp=/plugged/deep" % share)
    assert (r.rc, r.err) == (0, ""), r
    r = node.pct("exec", vmid, "--", "sh", "-c", "cat /plugged/deep/in.txt; stat -c '%u' /plugged")
    assert r.out == "from the host\n0\n"
