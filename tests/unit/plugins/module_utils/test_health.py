"""Unit tests of _health: every check against a made-up node (files in a dict,
commands from a table), the summary/fail_on logic, and the repairs."""

import posixpath

import pytest
from scripted_runner import ScriptedRunner

from ansible_collections.cageforge.nexcage.plugins.module_utils._health import checks
from ansible_collections.cageforge.nexcage.plugins.module_utils._health.node import NodeView, mount_at
from ansible_collections.cageforge.nexcage.plugins.module_utils._health.run import run_health

MOUNTINFO_V2 = (
    "22 1 0:21 / / rw,relatime - ext4 /dev/sda1 rw\n"
    "30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw\n"
    "50 22 0:45 / /etc/pve rw,nosuid,nodev,relatime - fuse /dev/fuse rw,user_id=0,group_id=0\n"
)
MOUNTINFO_HYBRID = (
    "22 1 0:21 / / rw,relatime - ext4 /dev/sda1 rw\n"
    "30 22 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755\n"
    "31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw\n"
    "32 30 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,memory\n"
    "50 22 0:45 / /etc/pve rw,relatime - ext4 /dev/sda1 rw\n"
)
STORAGE_CFG = """dir: local
\tpath /var/lib/vz
\tcontent iso,vztmpl,backup

zfspool: local-zfs
\tpool rpool/data
\tcontent images,rootdir
"""
PVESM_OK = (
    "Name             Type     Status     Total (KiB)      Used (KiB) Available (KiB)        %\n"
    "local             dir     active        98497780        12345678        81098736   12.53%\n"
    "local-zfs     zfspool     active        90000000         9000000        81000000   10.00%\n"
)
PVESM_BAD = (
    "Name             Type     Status     Total (KiB)      Used (KiB) Available (KiB)        %\n"
    "local             dir     active        98497780        95000000         3497780   96.45%\n"
    "local-zfs     zfspool   inactive               0               0               0    0.00%\n"
    "nfs1              nfs   disabled               0               0               0      N/A\n"
)


class FakeNode(NodeView):
    """A node whose files live in a dict and whose commands come from a table."""

    def __init__(self, files=None, answers=None, tools=("pct", "lxc-start", "pvesm", "zfs", "zpool"), check_mode=False):
        super().__init__(
            ScriptedRunner(answers or {}, check_mode, default=(0, "", "")),
            which=lambda t: "/usr/sbin/" + t if t in tools else None,
        )
        self.files = dict(files or {})
        self.readonly = set()
        self.procs = []
        self.held = set()
        self.removed = []

    def read(self, path):
        return self.files.get(path)

    def _children(self, path):
        prefix = path.rstrip("/") + "/"
        return {p[len(prefix) :].split("/")[0] for p in self.files if p.startswith(prefix)}

    def listdir(self, path):
        return sorted(self._children(path))

    def exists(self, path):
        return path in self.files or bool(self._children(path))

    def isdir(self, path):
        return bool(self._children(path)) or self.files.get(path) == "<dir>"

    def writable(self, path):
        return self.exists(path) and path not in self.readonly

    def lock_held(self, path):
        return path in self.held

    def processes(self):
        return self.procs

    def remove_runtime_dir(self, path):
        for p in [p for p in self.files if p == path or p.startswith(path + "/")]:
            del self.files[p]
        self.removed.append(path)
        return []

    def node_name(self):
        return "pve"

    def add_ct(self, vmid, text, node="pve"):
        self.files["/etc/pve/nodes/%s/lxc/%s.conf" % (node, vmid)] = text


def healthy_files():
    return {
        "/proc/self/mountinfo": MOUNTINFO_V2,
        "/etc/pve/storage.cfg": STORAGE_CFG,
        "/etc/pve/.vmlist": '{\n"version": 1\n\n}\n',
        "/etc/pve/nodes/pve/lxc": "<dir>",
        "/run/nexcage": "<dir>",
        "/run": "<dir>",
        "/sys/class/net/vmbr0/bridge": "<dir>",
        "/etc/subuid": "root:100000:65536\n",
        "/etc/subgid": "root:100000:65536\n",
    }


def healthy_answers():
    return {
        "pvesm status": (0, PVESM_OK, ""),
        "zpool list -H -o name,health": (0, "rpool\tONLINE\n", ""),
        "zpool status -x": (0, "all pools are healthy\n", ""),
        "zfs list -H -o name -t filesystem,volume -d 1 rpool/data": (
            0,
            "rpool/data\nrpool/data/subvol-100-disk-0\n",
            "",
        ),
    }


def results(node, **params):
    params.setdefault("checks", list(checks.CHECKS))
    params.setdefault("fail_on", "fail")
    params.setdefault("min_free_percent", 10)
    return run_health(node, params, node.runner.check_mode)


def by_name(out):
    return {c["name"]: c for c in out["checks"]}


def test_healthy_node_all_ok():
    node = FakeNode(healthy_files(), healthy_answers())
    node.add_ct(100, "net0: name=eth0,bridge=vmbr0\nunprivileged: 1\nrootfs: local-zfs:subvol-100-disk-0,size=8G\n")
    node.files["/etc/pve/.vmlist"] = (
        '{\n"version": 2,\n"ids": {\n"100": { "node": "pve", "type": "lxc", "version": 2 }}\n\n}\n'
    )
    out, failed = results(node)
    assert failed is None
    assert {c["name"]: c["status"] for c in out["checks"]} == dict.fromkeys(checks.CHECKS, "ok")
    assert out["changed"] is False
    assert out["summary"] == {
        "status": "ok",
        "total": len(checks.CHECKS),
        "ok": len(checks.CHECKS),
        "warn": 0,
        "fail": 0,
        "failing": [],
    }
    assert node.runner.commands == [
        "pvesm status",
        "zpool list -H -o name,health",
        "zpool status -x",
        "zfs list -H -o name -t filesystem,volume -d 1 rpool/data",
    ]


def test_tools_missing():
    node = FakeNode(healthy_files(), tools=("pct", "pvesm", "zfs"))
    res = checks.check_tools(node, {})
    assert res.status == "fail" and "missing: lxc-start" in res.detail
    node = FakeNode(healthy_files(), tools=("pct", "pvesm", "lxc-start"))
    res = checks.check_tools(node, {})
    assert res.status == "warn" and "missing: zfs" in res.detail and "zfsutils-linux" in res.remedy


def test_pve_filesystem():
    node = FakeNode(healthy_files())
    assert checks.check_pve_filesystem(node, {}).detail == "/etc/pve is mounted (fuse) and writable"
    node._cache.clear()
    node.files["/proc/self/mountinfo"] = MOUNTINFO_V2.replace(" /etc/pve ", " /etc/other ")
    res = checks.check_pve_filesystem(node, {})
    assert res.status == "fail" and "not a mount point" in res.detail and "pve-cluster" in res.remedy
    node = FakeNode(healthy_files())
    node.readonly.add("/etc/pve")
    assert checks.check_pve_filesystem(node, {}).status == "fail"


def test_quorum():
    node = FakeNode(healthy_files())
    assert checks.check_quorum(node, {}).detail.startswith("standalone node")
    node.files["/etc/pve/corosync.conf"] = "totem {}\n"
    members = '{"nodename": "pve", "version": 3, "cluster": {"name": "c", "version": 2, "nodes": 2, "quorate": %d}, '
    members += '"nodelist": {"pve": {"id": 1, "online": 1}, "pve2": {"id": 2, "online": %d}}}'
    node.files["/etc/pve/.members"] = members % (1, 1)
    res = checks.check_quorum(node, {})
    assert res.status == "ok" and "2 of 2 nodes online" in res.detail
    node.files["/etc/pve/.members"] = members % (0, 0)
    res = checks.check_quorum(node, {})
    assert res.status == "fail" and "NOT quorate (1 of 2 nodes online)" in res.detail and "pvecm" in res.remedy


def test_quorum_falls_back_to_pvecm():
    node = FakeNode(
        healthy_files(), {"pvecm status": (0, "Quorum information\nQuorate:          Yes\n", "")}, tools=("pvecm",)
    )
    node.files["/etc/pve/corosync.conf"] = "totem {}\n"
    assert checks.check_quorum(node, {}).status == "ok"
    assert node.runner.commands == ["pvecm status"]


def test_storage_inactive_full_and_threshold():
    node = FakeNode(healthy_files(), {"pvesm status": (0, PVESM_BAD, "storage 'local-zfs' is not online\n")})
    res = checks.check_storage(node, {"min_free_percent": 10})
    assert res.status == "fail"
    assert res.detail == (
        "local has 3.6% free (below 10%); local-zfs is inactive; pvesm: storage 'local-zfs' is not online"
    )
    assert "pvesm status --storage" in res.remedy and "min_free_percent" in res.remedy
    node = FakeNode(healthy_files(), {"pvesm status": (0, PVESM_OK, "")})
    res = checks.check_storage(node, {"min_free_percent": 85})
    assert res.status == "warn" and res.items == ["local has 82.3% free (below 85%)"]


def test_storage_command_fails():
    node = FakeNode(healthy_files(), {"pvesm status": (255, "", "ipcc_send_rec[1] failed: Connection refused\n")})
    res = checks.check_storage(node, {"min_free_percent": 10})
    assert res.status == "fail" and "Connection refused" in res.detail


def test_template_storage():
    node = FakeNode(healthy_files(), healthy_answers())
    assert checks.check_template_storage(node, {}).detail == "vztmpl content on: local"
    node._cache.clear()
    node.files["/etc/pve/storage.cfg"] = STORAGE_CFG.replace("iso,vztmpl,backup", "iso,backup")
    res = checks.check_template_storage(node, {})
    assert res.status == "fail" and "pvesm set local --content iso,vztmpl,backup" in res.remedy
    node = FakeNode(healthy_files(), {"pvesm status": (0, PVESM_OK.replace("dir     active", "dir   inactive"), "")})
    assert checks.check_template_storage(node, {}).status == "fail"


@pytest.mark.parametrize(
    "listing,status_x,expected",
    [
        ("rpool\tONLINE\n", "all pools are healthy\n", "ok"),
        ("rpool\tDEGRADED\n", "  pool: rpool\n state: DEGRADED\n", "warn"),
        ("rpool\tONLINE\ntank\tFAULTED\n", "  pool: tank\n state: FAULTED\n", "fail"),
        ("rpool\tONLINE\n", "  pool: rpool\n errors: 2 data errors\n", "warn"),
        ("", "no pools available\n", "ok"),
    ],
)
def test_zfs_pools(listing, status_x, expected):
    answers = {"zpool list -H -o name,health": (0, listing, ""), "zpool status -x": (0, status_x, "")}
    res = checks.check_zfs_pools(FakeNode(healthy_files(), answers), {})
    assert res.status == expected
    if expected != "ok":
        assert "zpool status -v" in res.remedy


def test_bridges():
    node = FakeNode(healthy_files())
    node.add_ct(100, "net0: name=eth0,bridge=vmbr0\n")
    node.add_ct(101, "net0: name=eth0,bridge=vmbr0\nnet1: name=eth1,bridge=vmbr9\n")
    res = checks.check_bridges(node, {})
    assert res.status == "fail" and res.detail == "CT 101 net1: bridge vmbr9 does not exist"
    assert "ifreload -a" in res.remedy
    node = FakeNode(healthy_files())
    node.files["/sys/class/net/ovsbr0/type"] = "1"
    node.add_ct(102, "net0: name=eth0,bridge=ovsbr0\n")
    assert checks.check_bridges(node, {}).status == "warn"


def test_cgroup_layouts():
    node = FakeNode(healthy_files())
    assert checks.check_cgroup(node, {}).detail == "unified (cgroup v2 on /sys/fs/cgroup)"
    node._cache.clear()
    node.files["/proc/self/mountinfo"] = MOUNTINFO_HYBRID
    res = checks.check_cgroup(node, {})
    assert res.status == "ok" and res.detail.startswith("hybrid (cgroup v1 controllers memory under")
    node._cache.clear()
    node.files["/proc/self/mountinfo"] = "\n".join(
        line for line in MOUNTINFO_HYBRID.splitlines() if "unified" not in line
    )
    res = checks.check_cgroup(node, {})
    assert res.status == "warn" and res.detail.startswith("legacy (cgroup v1 only: memory)")
    node._cache.clear()
    node.files["/proc/self/mountinfo"] = "22 1 0:21 / / rw - ext4 /dev/sda1 rw\n"
    assert checks.check_cgroup(node, {}).status == "fail"


def test_subids():
    assert checks.covered((100000, 65536), [(100000, 65536)])
    assert checks.covered((100000, 65536), [(100000, 1000), (101000, 64536)])
    assert not checks.covered((100000, 65536), [(100000, 65535)])
    node = FakeNode(healthy_files())
    node.add_ct(100, "unprivileged: 1\n")
    node.add_ct(101, "unprivileged: 0\n")
    assert checks.check_subids(node, {}).status == "ok"
    node.files["/etc/subgid"] = ""
    node._cache.clear()
    res = checks.check_subids(node, {})
    assert res.status == "fail" and res.detail == "CT 100 needs root:100000:65536 in /etc/subgid"
    node.add_ct(102, "unprivileged: 1\nlxc.idmap: u 0 200000 65536\nlxc.idmap: g 0 100000 65536\n")
    node.files["/etc/subgid"] = "root:100000:65536\n"
    node._cache.clear()
    res = checks.check_subids(node, {})
    assert res.detail == "CT 102 needs root:200000:65536 in /etc/subuid"


def test_run_dir():
    node = FakeNode(healthy_files())
    assert checks.check_run_dir(node, {}).status == "ok"
    node.readonly.add("/run/nexcage")
    assert checks.check_run_dir(node, {}).status == "fail"
    node = FakeNode(healthy_files())
    del node.files["/run/nexcage"]
    assert "does not exist yet" in checks.check_run_dir(node, {}).detail


def test_duplicate_vmid():
    node = FakeNode(healthy_files())
    node.add_ct(100, "arch: amd64\n")
    node.files["/etc/pve/nodes/pve2/qemu-server/100.conf"] = "memory: 512\n"
    node.files["/etc/pve/.vmlist"] = '{"version": 3, "ids": {"100": {"node": "pve", "type": "lxc", "version": 2}}}'
    res = checks.check_duplicate_vmid(node, {})
    assert res.status == "fail"
    assert res.detail == "duplicated VMID(s): VMID 100: nodes/pve/lxc/100.conf, nodes/pve2/qemu-server/100.conf"
    node = FakeNode(healthy_files())
    node.add_ct(101, "arch: amd64\n")
    res = checks.check_duplicate_vmid(node, {})
    assert res.status == "warn" and res.detail == "VMID 101 has a config but is not in .vmlist"


def test_names_that_are_no_vmid_name_no_guest():
    """A leading zero or Arabic-Indic digits: int() reads "0100" and "\u0661\u0660\u0660" as 100, but Proxmox VE
    names no guest so; such a file or directory is no one's (the real 100's findings are not its)."""
    node = FakeNode(healthy_files())
    node.add_ct(100, "arch: amd64\n")
    node.files["/etc/pve/.vmlist"] = '{"version": 3, "ids": {"100": {"node": "pve", "type": "lxc", "version": 2}}}'
    node.add_ct("0100", "memory: 512\n", node="pve2")
    node.files["/etc/pve/nodes/pve2/qemu-server/\u0661\u0660\u0660.conf"] = "memory: 512\n"
    node.add_ct("0101", "lock: create\n")
    node.add_ct("\u0661\u0660\u0662", "lock: destroyed\n")
    node.files["/run/nexcage/0900/state.json"] = "{}"
    node.files["/run/nexcage/\u0669\u0660\u0660/state.json"] = "{}"
    assert checks.check_duplicate_vmid(node, {}).status == "ok"
    assert checks.check_stale_locks(node, {}).status == "ok"
    assert checks.check_stale_state(node, {}).status == "ok"
    assert list(node.local_cts()) == ["100"]


# ---------------------------------------------------------------- stale items and repair


def stale_node(check_mode=False):
    answers = {"pct status 105": (0, "status: stopped\n", ""), "pct status 106": (0, "status: stopped\n", "")}
    node = FakeNode(healthy_files(), answers, check_mode=check_mode)
    node.add_ct(100, "arch: amd64\n")
    node.add_ct(105, "lock: create\n")
    node.add_ct(106, "lock: destroyed\nrootfs: local-zfs:subvol-106-disk-0\n")
    node.add_ct(107, "lock: backup\n")
    node.files["/run/nexcage/100/state.json"] = "{}"
    node.files["/run/nexcage/900/state.json"] = "{}"
    node.files["/run/nexcage/901/other"] = "x"
    return node


def test_stale_findings():
    node = stale_node()
    state = checks.check_stale_state(node, {})
    assert state.status == "warn" and [f["vmid"] for f in state.items] == [900]
    assert "/run/nexcage/900/state.json" in state.detail and "repair: [stale_state]" in state.remedy
    locks = checks.check_stale_locks(node, {})
    assert locks.status == "warn" and [(f["vmid"], f["lock"]) for f in locks.items] == [
        (105, "create"),
        (106, "destroyed"),
    ]
    assert "pct unlock <vmid>" in locks.remedy


def test_live_task_protects():
    node = stale_node()
    node.procs = [
        (4242, ["/usr/bin/python3", "/usr/sbin/pct", "create", "105", "local:vztmpl/x.tar.zst"]),
        (4243, ["task UPID:pve:00001093:0000A1B2:65F0A1B2:vzdestroy:106:root@pam:"]),
    ]
    node.held.add("/run/lock/lxc/pve-config-900.lock")
    assert checks.check_stale_locks(node, {}).status == "ok"
    assert checks.check_stale_state(node, {}).status == "ok"
    assert "pid 4242" in checks.check_stale_locks(node, {}).detail


def test_running_ct_is_not_stale():
    node = stale_node()
    node.files["/proc/net/unix"] = "0000: 00000002 0 10000 0001 01 1234 @/var/lib/lxc/105/command\n"
    assert [f["vmid"] for f in checks.check_stale_locks(node, {}).items] == [106]


def test_repair_check_mode_plans_and_predicts():
    node = stale_node(check_mode=True)
    out, failed = results(node, checks=["stale_state", "stale_locks"], repair=["stale_state", "stale_locks"])
    assert failed is None and out["changed"] is True
    assert by_name(out)["stale_locks"]["status"] == "ok"
    assert by_name(out)["stale_locks"]["detail"] == "would be repaired: 105, 106"
    assert node.runner.commands == [
        "pct unlock 105",
        "pct destroy 105 --destroy-unreferenced-disks 1",
        "pct unlock 106",
        "pct destroy 106 --destroy-unreferenced-disks 1",
    ]
    assert node.removed == [] and "/run/nexcage/900/state.json" in node.files


def test_repair_applies_only_what_is_named():
    node = stale_node()

    def destroy(argv):
        del node.files["/etc/pve/nodes/pve/lxc/%s.conf" % argv[2]]
        return (0, "", "")

    node.runner.answers["pct destroy 105 --destroy-unreferenced-disks 1"] = destroy
    node.runner.answers["pct destroy 106 --destroy-unreferenced-disks 1"] = destroy
    out, failed = results(node, checks=["stale_state", "stale_locks"], repair=["stale_locks"])
    assert failed is None and out["changed"]
    assert node.runner.commands == [
        "pct status 105",
        "pct unlock 105",
        "pct destroy 105 --destroy-unreferenced-disks 1",
        "pct status 106",
        "pct unlock 106",
        "pct destroy 106 --destroy-unreferenced-disks 1",
    ]
    assert by_name(out)["stale_locks"]["status"] == "ok"
    assert by_name(out)["stale_state"]["status"] == "warn"  # not named, not touched
    assert node.removed == []
    assert "/etc/pve/nodes/pve/lxc/107.conf" in node.files  # lock: backup is not stale-create/destroy


def test_repair_stale_state_and_protected_lock():
    node = stale_node()
    node.add_ct(105, "lock: create\nprotection: 1\n")
    node.files.pop("/etc/pve/nodes/pve/lxc/106.conf")
    out, failed = results(node, checks=[], repair=["stale_state", "stale_locks"])
    assert node.removed == ["/run/nexcage/900"]
    assert "/run/nexcage/901/other" in node.files and "/run/nexcage/100/state.json" in node.files
    assert failed.startswith("node health: 1 repair(s) failed: stale_locks 105: skipped: protection is set")
    assert by_name(out)["stale_state"]["status"] == "ok"


def test_fail_on_levels():
    node = FakeNode(healthy_files(), healthy_answers(), tools=("pct", "lxc-start", "pvesm"))
    out, failed = results(node, checks=["tools", "run_dir"], fail_on="fail")
    assert failed is None and out["summary"]["failing"] == []
    out, failed = results(node, checks=["tools", "run_dir"], fail_on="warn")
    assert out["summary"]["failing"] == ["tools"]
    assert failed.startswith("node health: 1 check(s) at or above 'warn': tools (warn): found:")
    out, failed = results(node, checks=["tools"], fail_on="never")
    assert failed is None and out["summary"]["status"] == "warn"


def test_mountinfo_unescapes_and_last_mount_wins():
    node = FakeNode({"/proc/self/mountinfo": MOUNTINFO_V2 + "60 22 0:50 / /etc/pve ro,relatime - fuse x ro\n"})
    assert mount_at(node, "/etc/pve")[2][0] == "ro"
    node = FakeNode({"/proc/self/mountinfo": "61 22 0:50 / /mnt/a\\040b rw - ext4 x rw\n"})
    assert mount_at(node, "/mnt/a b") is not None


def test_real_remove_runtime_dir_stays_on_filesystem(tmp_path):
    top = tmp_path / "900"
    (top / "sub").mkdir(parents=True)
    (top / "state.json").write_text("{}")
    (top / "sub" / "f").write_text("x")
    (top / "link").symlink_to(tmp_path)
    node = NodeView(ScriptedRunner({}), which=lambda t: None)
    assert node.remove_runtime_dir(str(top)) == []
    assert not top.exists() and tmp_path.exists()
    assert posixpath.isdir(str(tmp_path))


def test_state_of_a_live_process_is_not_stale():
    node = stale_node()
    node.files["/run/nexcage/900/state.json"] = '{"ociVersion": "1.0.2", "id": "900", "status": "running", "pid": 4321}'
    node.files["/proc/4321/cmdline"] = "runc"
    res = checks.check_stale_state(node, {})
    assert res.status == "ok" and "900 (its state.json names live pid 4321)" in res.detail
    node.files["/run/nexcage/900/state.json"] = '{"ociVersion": "1.0.2", "id": "900", "status": "stopped", "pid": 4321}'
    assert checks.check_stale_state(node, {}).status == "warn"
