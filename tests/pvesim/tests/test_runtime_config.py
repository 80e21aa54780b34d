"""The runtime's pure parts: the generated LXC config (pve-cli-facts §8), mount plans, bridge checks."""

import os

import pytest

from pvesim import cli, namespace, runtime


@pytest.fixture
def node_net(tmp_path, monkeypatch):
    """A /sys/class/net with a vmbr0 that is not a kernel bridge here, no vmbr9."""
    net = tmp_path / "class-net"
    (net / "vmbr0" / "bridge").mkdir(parents=True)
    monkeypatch.setattr(namespace, "SYS_CLASS_NET", str(net))
    return net


def _lines(text):
    return text.splitlines()


def test_unprivileged_config_has_idmap_userns_include_and_pve_keys(node_net):
    conf = {"hostname": "web01", "rootfs": "local-zfs:subvol-100-disk-0,size=1G", "unprivileged": "1"}
    lines = _lines(runtime.lxc_config(100, conf))
    assert "lxc.uts.name = web01" in lines
    assert "lxc.rootfs.path = /var/lib/lxc/100/rootfs" in lines
    assert "lxc.init.cmd = /sbin/init" in lines
    assert "lxc.idmap = u 0 100000 65536" in lines
    assert "lxc.idmap = g 0 100000 65536" in lines
    assert "lxc.include = /usr/share/lxc/config/userns.conf" in lines
    assert "lxc.tty.max = 2" in lines
    assert "lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed:force" in lines
    # Mount points are mounted by the runtime (PVE's pre-start hook), never lxc.mount.entry.
    assert not [line for line in lines if line.startswith("lxc.mount.entry")]


def test_privileged_config_has_no_idmap_and_default_hostname(node_net):
    lines = _lines(runtime.lxc_config(101, {"rootfs": "x:y", "unprivileged": "0"}))
    assert "lxc.uts.name = CT101" in lines
    assert not [line for line in lines if line.startswith("lxc.idmap")]
    assert "lxc.include = /usr/share/lxc/config/userns.conf" not in lines


def test_raw_lxc_entries_come_after_generated_keys_and_replace_the_default_idmap(node_net):
    conf = {"rootfs": "x:y", "unprivileged": "1", "lxc": [["lxc.idmap", "u 0 200000 65536"], ["lxc.cap.drop", ""]]}
    lines = _lines(runtime.lxc_config(102, conf))
    assert [line for line in lines if line.startswith("lxc.idmap")] == ["lxc.idmap = u 0 200000 65536"]
    assert lines.index("lxc.cap.drop = ") > lines.index("lxc.init.cmd = /sbin/init")


def test_entrypoint_env_and_fuse(node_net):
    conf = {"rootfs": "x:y", "entrypoint": "/usr/bin/app --serve", "env": "A=1\0B=two", "features": "nesting=1,fuse=1"}
    lines = _lines(runtime.lxc_config(103, conf))
    assert "lxc.init.cmd = /usr/bin/app --serve" in lines
    assert "lxc.environment = A=1" in lines
    assert "lxc.environment = B=two" in lines
    assert "lxc.mount.entry = /dev/fuse dev/fuse none bind,create=file 0 0" in lines


def test_limits_follow_this_hosts_cgroups(node_net):
    conf = {"rootfs": "x:y", "memory": "256", "swap": "128", "cores": "1", "cpulimit": "0.5", "cpuunits": "512"}
    lines = _lines(runtime.lxc_config(104, conf))
    if "memory" in runtime._v2_controllers():
        assert "lxc.cgroup2.memory.max = %d" % (256 * 1048576) in lines
    elif runtime._v1_has("memory", "memory.limit_in_bytes"):
        assert "lxc.cgroup.memory.limit_in_bytes = %d" % (256 * 1048576) in lines
        if runtime._v1_has("memory", "memory.memsw.limit_in_bytes"):
            assert "lxc.cgroup.memory.memsw.limit_in_bytes = %d" % (384 * 1048576) in lines
    else:
        pytest.skip("no memory cgroup controller on this host")
    if runtime._v1_has("cpu", "cpu.cfs_quota_us") and "cpu" not in runtime._v2_controllers():
        assert "lxc.cgroup.cpu.cfs_quota_us = 50000" in lines
        assert "lxc.cgroup.cpu.shares = 512" in lines
    # cores: the cpuset comes last, as in PVE's config
    assert lines[-1].endswith("cpuset.cpus = 0")


def test_net_on_a_declared_bridge_is_an_empty_device(node_net):
    conf = {"rootfs": "x:y", "net0": "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=dhcp,type=veth"}
    assert "lxc.net.0.type = empty" in _lines(runtime.lxc_config(105, conf))
    runtime.check_bridges(conf)  # declared bridges exist for pct start


def test_net_on_a_real_bridge_is_a_veth(node_net, monkeypatch):
    monkeypatch.setattr(namespace, "is_real_bridge", lambda name: name == "vmbr0")
    conf = {"rootfs": "x:y", "net0": "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=10.0.0.5/24,gw=10.0.0.1"}
    lines = _lines(runtime.lxc_config(106, conf))
    for expected in (
        "lxc.net.0.type = veth",
        "lxc.net.0.veth.pair = veth106i0",
        "lxc.net.0.hwaddr = bc:24:11:00:00:01",
        "lxc.net.0.name = eth0",
        "lxc.net.0.link = vmbr0",
        "lxc.net.0.ipv4.address = 10.0.0.5/24",
        "lxc.net.0.ipv4.gateway = 10.0.0.1",
    ):
        assert expected in lines


def test_missing_bridge_is_pve_message(node_net):
    with pytest.raises(cli.TaskFailed) as e:
        runtime.check_bridges({"net0": "name=eth0,bridge=vmbr0", "net1": "name=eth1,bridge=vmbr9"})
    assert e.value.message == "bridge 'vmbr9' does not exist"
    assert e.value.rc == 255


def test_mount_plan_orders_mount_points_and_checks_bind_sources(tmp_path):
    root = tmp_path / "root"
    a = tmp_path / "a"
    b = tmp_path / "b"
    for d in (root, a, b):
        d.mkdir()
    conf = {"rootfs": str(root), "mp1": "%s,mp=/srv/x/y,ro=1" % b, "mp0": "%s,mp=/srv" % a}
    plan = runtime.mount_plan(100, conf)
    assert plan == [
        (str(root), "/", False, "volume"),
        (str(a), "/srv", False, "bind"),
        (str(b), "/srv/x/y", True, "bind"),
    ]
    conf["mp2"] = "%s,mp=/gone" % (tmp_path / "gone")
    with pytest.raises(cli.TaskFailed) as e:
        runtime.mount_plan(100, conf)
    assert e.value.message == "directory '%s' does not exist" % (tmp_path / "gone")


def test_perms_are_octal_or_hex():
    assert runtime.parse_perms("0644") == 0o644
    assert runtime.parse_perms("600") == 0o600
    assert runtime.parse_perms("0x1ff") == 0o777
    assert runtime.parse_perms(None) is None


def test_split_property():
    assert runtime.split_property("/host,mp=/data,ro=1", "volume") == {"volume": "/host", "mp": "/data", "ro": "1"}
    assert runtime.split_property("name=eth0,bridge=vmbr0", "name") == {"name": "eth0", "bridge": "vmbr0"}


def test_is_running_reads_proc_net_unix_only(monkeypatch):
    monkeypatch.setenv("PVESIM_RUNTIME", "lxc")
    assert runtime.is_running(999999999) is False
    assert runtime._socket_name(123) == "@/var/lib/lxc/123/command"


def test_mode_override(monkeypatch):
    monkeypatch.setenv("PVESIM_RUNTIME", "sim")
    assert runtime.mode() == "sim"
    monkeypatch.setenv("PVESIM_RUNTIME", "auto")
    expected = "lxc" if os.geteuid() == 0 and runtime.lxc_available() else "sim"
    assert runtime.mode() == expected
