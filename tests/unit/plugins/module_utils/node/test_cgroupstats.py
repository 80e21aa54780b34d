"""cgroupstats: the figures Proxmox VE shows, from a cgroup v2 (unified) and a v1 (hybrid) layout,
and readers.parse_pools as PVE reads user.cfg."""

import os

from ansible_collections.cageforge.nexcage.plugins.module_utils._node import cgroupstats, readers


def write(base, relative, text):
    path = base / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_unified_layout_pve_directory(node_root):
    cgroup = node_root / "cgroup"
    write(cgroup, "lxc/101/memory.current", "300000\n")
    write(cgroup, "lxc/101/memory.stat", "anon 200000\nfile 100000\n")
    write(cgroup, "lxc/101/memory.swap.current", "4096\n")
    write(cgroup, "lxc/101/memory.max", "max\n")
    write(cgroup, "lxc/101/cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
    assert cgroupstats.memory(101) == {"used": 200000, "swap_used": 4096, "limit": None}
    assert cgroupstats.cpu(101) == {"user_ms": 2000, "system_ms": 500, "usage_ms": 2500}
    write(cgroup, "lxc/101/memory.max", "536870912\n")
    assert cgroupstats.memory(101)["limit"] == 536870912
    assert cgroupstats.memory(102) is None and cgroupstats.cpu(102) is None


def test_hybrid_layout_v1_controllers(node_root):
    cgroup = node_root / "cgroup"
    (cgroup / "unified/lxc.payload.105").mkdir(parents=True)
    write(cgroup, "memory/lxc.payload.105/memory.usage_in_bytes", "500000\n")
    write(cgroup, "memory/lxc.payload.105/memory.memsw.usage_in_bytes", "600000\n")
    write(cgroup, "memory/lxc.payload.105/memory.limit_in_bytes", "9223372036854771712\n")
    write(cgroup, "memory/lxc.payload.105/memory.stat", "cache 1\ntotal_cache 100000\n")
    ticks = os.sysconf("SC_CLK_TCK")
    write(cgroup, "cpuacct/lxc.payload.105/cpuacct.stat", "user %d\nsystem %d\n" % (3 * ticks, ticks))
    write(cgroup, "cpuacct/lxc.payload.105/cpuacct.usage", "4500000000\n")
    assert cgroupstats.memory(105) == {"used": 400000, "swap_used": 100000, "limit": None}
    assert cgroupstats.cpu(105) == {"user_ms": 3000, "system_ms": 1000, "usage_ms": 4500}


def test_uptime_of_this_process():
    assert 0 <= cgroupstats.uptime(os.getpid()) < 3600
    assert cgroupstats.uptime(2**22 + 12345) is None


def test_pools_as_pve_reads_user_cfg():
    text = (
        "user:root@pam:1:0::::::\n"
        "pool:prod:Production: 101, 102 ;103:local-zfs:\n"
        "pool:dev::102,abc,104::\n"
        "pool::empty:105::\n"
    )
    assert readers.parse_pools(text) == {101: "prod", 102: "prod", 103: "prod", 104: "dev"}
    assert readers.parse_pools("") == {}
    assert readers.running_from_unix("0000: 00000002 0 10000 0001 01 1 @/var/lib/lxc/123/command\n") == {123}


def test_pool_vmids_as_pve_checks_them():
    """parse_user_config takes m/^\\d+$/ on bytes, then int(): pve-access-control's own answer for this line
    is {0, 99, 101, 102, 106, 1000000000} (Arabic-Indic digits and a sign are ignored, with a warning)."""
    line = "pool:prod::101, 0102 ;\u0661\u0660\u0663,99,0,1000000000,+105,106 ::\n"
    assert readers.parse_pools(line) == dict.fromkeys((0, 99, 101, 102, 106, 1000000000), "prod")
