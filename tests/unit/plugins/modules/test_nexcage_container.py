"""nexcage_container unit tests: pure (no subprocess). The node's files live in tmp_path (the
module_utils path constants are pointed there) and a fake Runner records the exact argv of each
command and returns canned results; each scenario asserts the ordered command list."""

import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

from ansible_collections.cageforge.nexcage.plugins.module_utils import _errors
from ansible_collections.cageforge.nexcage.plugins.module_utils._container import vmid as allocation
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.argspec import argument_spec
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.lifecycle import ContainerTask
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import files, ocistate, reservations
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths as node_paths
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import CommandFailed, CommandResult, Runner

TEMPLATE = "local:vztmpl/busybox-1.35_amd64.tar.zst"
CONF = """arch: amd64
hostname: web01
memory: 512
ostype: unmanaged
rootfs: local-zfs:subvol-100-disk-0,size=1G
swap: 512
unprivileged: 1
"""


class FakeNode:
    def __init__(self, tmp_path, monkeypatch):
        self.tmp = tmp_path
        self.conf_dir = tmp_path / "etc/pve/lxc"
        self.conf_dir.mkdir(parents=True)
        (tmp_path / "etc/pve/local").symlink_to("nodes/pve")
        (tmp_path / "vz/template/cache").mkdir(parents=True)
        (tmp_path / "vz/template/cache/busybox-1.35_amd64.tar.zst").write_bytes(b"x")
        (tmp_path / "etc/pve/storage.cfg").write_text(
            "dir: local\n\tpath %s\n\tcontent iso,vztmpl,backup\n\n"
            "zfspool: local-zfs\n\tpool rpool/data\n\tcontent images,rootdir\n" % (tmp_path / "vz")
        )
        self.vmlist = {}
        self.write_vmlist()
        self.unix = tmp_path / "proc_net_unix"
        self.unix.write_text("Num       RefCount Protocol Flags    Type St Inode Path\n")
        for name, value in {
            "ETC_PVE": tmp_path / "etc/pve",
            "LOCAL_NODE_LINK": tmp_path / "etc/pve/local",
            "LXC_CONF_DIR": self.conf_dir,
            "VMLIST": tmp_path / "etc/pve/.vmlist",
            "STORAGE_CFG": tmp_path / "etc/pve/storage.cfg",
            "DATACENTER_CFG": tmp_path / "etc/pve/datacenter.cfg",
            "PROC_NET_UNIX": self.unix,
            "VMID_LOCK": tmp_path / "lock/nexcage-vmid.lock",
            "RECORD_DIR": tmp_path / "nexcage",
            "CGROUP_ROOT": tmp_path / "cgroup",
        }.items():
            monkeypatch.setattr(node_paths, name, str(value))
        monkeypatch.setattr(node_paths, "RUN_NEXCAGE", str(tmp_path / "run"))

    def write_vmlist(self):
        ids = {str(k): {"node": "pve", "type": t, "version": 1} for k, t in self.vmlist.items()}
        (self.tmp / "etc/pve/.vmlist").write_text(json.dumps({"version": 1, "ids": ids}))

    def add_ct(self, vmid, text=CONF, running=False):
        (self.conf_dir / ("%d.conf" % vmid)).write_text(text)
        self.vmlist[vmid] = "lxc"
        self.write_vmlist()
        if running:
            self.set_running(vmid, True)

    def set_running(self, vmid, running):
        lines = [ln for ln in self.unix.read_text().splitlines() if not ln.endswith("/%d/command" % vmid)]
        if running:
            lines.append("0000: 00000002 00000000 00010000 0001 01 1234 @/var/lib/lxc/%d/command" % vmid)
        self.unix.write_text("\n".join(lines) + "\n")


class FakeRunner(Runner):
    """Records argv; simulates the effect of pct on the fake node; canned failures by argv prefix."""

    def __init__(self, node, check_mode=False, failures=None):
        super().__init__(check_mode=check_mode, timeout=10, environ={})
        self.node = node
        self.failures = failures or {}

    def run(self, argv, mutating=False, timeout=None, data=None, check=True):
        argv = [str(a) for a in argv]
        if mutating and self.check_mode:
            res = CommandResult(argv, 0, "", "", 0.0, planned=True)
            self.history.append(res)
            return res
        for prefix, (rc, err) in self.failures.items():
            if " ".join(argv).startswith(prefix):
                res = CommandResult(argv, rc, "", err, 0.0)
                self.history.append(res)
                if check:
                    raise CommandFailed(res)
                return res
        res = CommandResult(argv, 0, "4242\n" if argv[0] == "lxc-info" else "", "", 0.0)
        self.history.append(res)
        self.effect(argv)
        return res

    def effect(self, argv):
        if argv[:2] == ["pct", "create"]:
            self.node.add_ct(int(argv[2]), "hostname: %s\nmemory: 512\n" % _opt(argv, "--hostname", "CT" + argv[2]))
        elif argv[:2] == ["pct", "start"] or argv[:2] == ["pct", "reboot"]:
            self.node.set_running(int(argv[2]), True)
        elif argv[:2] in (["pct", "stop"], ["pct", "shutdown"]):
            self.node.set_running(int(argv[2]), False)
        elif argv[:2] == ["pct", "destroy"]:
            (self.node.conf_dir / ("%s.conf" % argv[2])).unlink()
            self.node.set_running(int(argv[2]), False)


def _opt(argv, flag, default):
    return argv[argv.index(flag) + 1] if flag in argv else default


class FakeModule:
    def __init__(self, params, check_mode=False, diff=False, tmpdir=None):
        spec = argument_spec()
        self.params = {k: v.get("default") for k, v in spec.items()}
        self.params.update(params)
        self.check_mode = check_mode
        self._diff = diff
        self.tmpdir = tmpdir


@pytest.fixture
def fake(tmp_path, monkeypatch):
    return FakeNode(tmp_path, monkeypatch)


def run(fake, params, check=False, diff=False, failures=None):
    module = FakeModule(params, check, diff, str(fake.tmp))
    runner = FakeRunner(fake, check, failures)
    task = ContainerTask(module, runner)
    task.pid_reader = FakeRunner(fake)  # lxc-info fallback (the fake cgroup tree is empty)
    return task.execute(), runner


BASE = {"image": TEMPLATE, "ostype": "unmanaged", "rootfs": {"storage": "local-zfs", "size": 1}}

SCENARIOS = yaml.safe_load((pathlib.Path(__file__).parent / "nexcage_container_scenarios.yml").read_text())


@pytest.mark.parametrize("case", SCENARIOS, ids=[case["id"] for case in SCENARIOS])
def test_scenarios(fake, case):
    for vmid, state in case["existing"].items():
        fake.add_ct(vmid, running=state == "running")
    check = case["check"]
    result, runner = run(fake, case["params"], check=check, diff=True)
    assert result["commands"] == case["commands"]
    assert result["changed"] is case["changed"]
    assert set(result["diff"]) == {"before", "after"}
    if check:
        assert all(r.planned for r in runner.history)
        assert not list(fake.conf_dir.iterdir())


def test_pending_without_restart_is_reported(fake):
    fake.add_ct(100, running=True)
    result, _runner = run(fake, {"vmid": 100, "timezone": "UTC", "memory": 600})
    assert result["commands"][0] == "pct set 100 --memory 600 --timezone UTC"
    assert result["pending"] == ["timezone"]
    assert {c["key"]: c["kind"] for c in result["changes"]} == {"memory": "live", "timezone": "restart"}


def test_vmid_allocation_skips_vmlist(fake):
    fake.vmlist = {100: "qemu", 101: "lxc"}
    fake.write_vmlist()
    (fake.tmp / "etc/pve/datacenter.cfg").write_text("next-id: lower=100,upper=200\n")
    result, _runner = run(fake, dict(BASE, hostname="new"))
    assert result["vmid"] == 102
    assert result["commands"][0].startswith("pct create 102 ")


def test_allocation_retries_when_taken(fake):
    failures = {"pct create 100 ": (2, "CT 100 already exists on node 'pve'\n")}
    result, _runner = run(fake, dict(BASE, hostname="new"), failures=failures)
    assert result["vmid"] == 101
    assert [c.split()[2] for c in result["commands"]] == ["100", "101"]


def test_pct_failure_is_categorised(fake):
    fake.add_ct(100)
    with pytest.raises(_errors.NexcageError) as info:
        run(fake, {"vmid": 100, "memory": 900}, failures={"pct set": (255, "CT is locked (backup)\n")})
    err = info.value.to_dict()
    assert err["category"] == "locked" and err["cmd"] == "pct set 100 --memory 900" and err["rc"] == 255


def test_lock_line_refuses_before_pct(fake):
    fake.add_ct(100, CONF + "lock: snapshot\n")
    with pytest.raises(_errors.NexcageError) as info:
        run(fake, {"vmid": 100, "memory": 900})
    assert info.value.category == "locked" and info.value.cmd is None


def test_absent_running_without_force(fake):
    fake.add_ct(100, running=True)
    with pytest.raises(_errors.NexcageError) as info:
        run(fake, {"vmid": 100, "state": "absent"})
    assert info.value.category == "already_running"


def test_vm_holds_vmid(fake):
    fake.vmlist = {100: "qemu"}
    fake.write_vmlist()
    with pytest.raises(_errors.NexcageError) as info:
        run(fake, dict(BASE, vmid=100))
    assert info.value.category == "already_exists" and "QEMU" in info.value.message


def test_missing_template_lists_available(fake):
    with pytest.raises(_errors.NexcageError) as info:
        run(fake, dict(BASE, vmid=100, image="local:vztmpl/other.tar.xz"))
    assert info.value.category == "not_found" and TEMPLATE in info.value.message


def test_ambiguous_hostname(fake):
    fake.add_ct(100)
    fake.add_ct(101)
    with pytest.raises(_errors.NexcageError) as info:
        run(fake, {"hostname": "web01"})
    assert "100, 101" in info.value.message


def test_password_masked_and_keyfile_removed(fake):
    result, runner = run(fake, dict(BASE, vmid=100, password="topsecret1", ssh_public_keys="ssh-ed25519 AAAA x"))
    assert "topsecret1" not in json.dumps(result)
    assert "--password ********" in result["commands"][0]
    assert "topsecret1" in runner.history[0].argv  # pct itself got it
    keyfile = runner.history[0].argv[runner.history[0].argv.index("--ssh-public-keys") + 1]
    assert not (fake.tmp / keyfile).exists()


def test_oci_state_written_and_removed(fake):
    run(fake, dict(BASE, vmid=100, state="started"))
    state = ocistate.read_state(100)
    assert state["status"] == "running" and state["pid"] == 4242 and state["id"] == "100"
    run(fake, {"vmid": 100, "state": "absent", "force": True})
    assert ocistate.read_state(100) is None


def test_wait_timeout_names_last_state(fake):
    class NoStart(FakeRunner):
        def effect(self, argv):
            if argv[:2] != ["pct", "start"]:
                super().effect(argv)

    fake.add_ct(100)
    module = FakeModule({"vmid": 100, "state": "started", "wait_timeout": 0}, tmpdir=str(fake.tmp))
    task = ContainerTask(module, NoStart(fake))
    with pytest.raises(_errors.NexcageError) as info:
        task.execute()
    assert info.value.category == "timeout"
    assert "last state seen: stopped" in info.value.message


def test_recreate_running_restarts_it(fake):
    fake.add_ct(100, running=True)
    result, _runner = run(fake, dict(BASE, vmid=100, arch="arm64", recreate=True))
    assert result["commands"] == [
        "pct destroy 100 --force 1",
        "pct create 100 %s --ostype unmanaged --arch arm64 --rootfs local-zfs:1" % TEMPLATE,
        "pct start 100",
    ]
    assert result["steps"] == ["destroy", "create", "start"]


def test_restarted_with_stop_mode_stop(fake):
    fake.add_ct(100, running=True)
    result, _runner = run(fake, {"vmid": 100, "state": "restarted", "stop_mode": "stop"})
    assert result["commands"] == ["pct stop 100", "pct start 100"]


def _reservations(fake):
    directory = fake.tmp / "run/vmid-reserved"
    return sorted(os.listdir(directory)) if directory.is_dir() else []


class ReservationWatcher(FakeRunner):
    """Records, at each `pct create`, which VMIDs are reserved on the node."""

    def run(self, argv, mutating=False, timeout=None, data=None, check=True):
        if argv[:2] == ["pct", "create"]:
            self.seen = reservations.held()
        return super().run(argv, mutating=mutating, timeout=timeout, data=data, check=check)


def test_allocation_reserves_the_vmid_while_pct_create_runs_and_releases_it(fake):
    module = FakeModule(dict(BASE, hostname="new"), tmpdir=str(fake.tmp))
    runner = ReservationWatcher(fake)
    result = ContainerTask(module, runner).execute()
    assert result["vmid"] == 100 and runner.seen == {100: "new"}
    assert _reservations(fake) == []


def test_a_live_reservation_of_another_task_is_skipped_and_a_stale_one_reused(fake):
    start = files.process_start(os.getpid())
    (fake.tmp / "run/vmid-reserved").mkdir(parents=True)
    # 100: a live task creates "other"; 101: its task was killed (its pid names no process now)
    (fake.tmp / "run/vmid-reserved/100").write_text(json.dumps(dict(pid=os.getpid(), start=start, expires=4e9)))
    argv = [sys.executable, "-c", "import os; print(os.getpid())"]
    dead = subprocess.run(argv, capture_output=True, text=True, check=True)
    (fake.tmp / "run/vmid-reserved/101").write_text(json.dumps(dict(pid=int(dead.stdout), start=1, expires=4e9)))
    result, _runner = run(fake, dict(BASE, hostname="new"))
    assert result["vmid"] == 101 and result["commands"][0].startswith("pct create 101 ")
    assert _reservations(fake) == ["100"]  # the stale one was swept, the live one stays


def test_check_mode_reserves_nothing_and_skips_live_reservations(fake):
    reservations.reserve(100, "other", 60)
    result, _runner = run(fake, dict(BASE, hostname="new"), check=True)
    assert result["vmid"] == 101 and result["changed"] is True
    assert _reservations(fake) == ["100"] and not (fake.tmp / "lock").exists()


def test_a_failed_create_releases_its_reservation(fake):
    failures = {"pct create 100 ": (255, "unable to create CT 100 - no space left on device\n")}
    with pytest.raises(_errors.NexcageError):
        run(fake, dict(BASE, hostname="new"), failures=failures)
    assert _reservations(fake) == []


def test_a_retried_create_releases_each_reservation(fake):
    failures = {"pct create 100 ": (2, "CT 100 already exists on node 'pve'\n")}
    result, _runner = run(fake, dict(BASE, hostname="new"), failures=failures)
    assert result["vmid"] == 101 and _reservations(fake) == []


def test_a_task_for_a_hostname_another_task_is_creating_waits_and_then_converges_it(fake, monkeypatch):
    reservations.reserve(100, "New", 60)  # another task (a live process) is creating "new" as CT 100
    waits = []

    def the_other_create_ends(seconds):
        waits.append(seconds)
        fake.add_ct(100, "hostname: New\nmemory: 512\nostype: unmanaged\n")
        reservations.release(100)

    monkeypatch.setattr(allocation.time, "sleep", the_other_create_ends)
    result, runner = run(fake, dict(BASE, hostname="new", memory=512))
    # it waited once, then converges the other task's container (no second create, no reservation of its own)
    assert len(waits) == 1 and result["vmid"] == 100 and "create" not in result["steps"]
    assert not any(r.argv[:2] == ["pct", "create"] for r in runner.history) and _reservations(fake) == []


def test_a_task_for_a_hostname_another_task_keeps_creating_gives_up_after_its_wait(fake, monkeypatch):
    reservations.reserve(100, "new", 60)
    clock = iter(range(0, 10000, 100))
    monkeypatch.setattr(allocation.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(allocation.time, "sleep", lambda _seconds: None)
    with pytest.raises(_errors.NexcageError) as info:
        run(fake, dict(BASE, hostname="new", create_timeout=150))
    assert info.value.category == "locked" and "creating it as CT 100" in info.value.message
    assert _reservations(fake) == ["100"]
