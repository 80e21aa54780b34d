"""Unit tests of the leftover checks of _health (half_made, orphan_volumes, leftover_cgroups) and
their repairs, against a made-up node (test_health.FakeNode) or a temporary cgroup tree."""

from scripted_runner import ScriptedRunner
from test_health import FakeNode, by_name, healthy_answers, healthy_files, results

from ansible_collections.cageforge.nexcage.plugins.module_utils._health import halfmade
from ansible_collections.cageforge.nexcage.plugins.module_utils._health.node import NodeView
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths
from ansible_collections.cageforge.nexcage.plugins.module_utils._pveconfig import parse_config

ZFS_LIST = "zfs list -H -o name -t filesystem,volume -d 1 rpool/data"
VMLIST = '{\n"version": 2,\n"ids": {\n%s}\n\n}\n'


def vmlist(**guests):
    return VMLIST % ",\n".join(
        '"%s": { "node": "pve", "type": "%s", "version": 2 }' % (vmid[1:], kind) for vmid, kind in guests.items()
    )


def test_half_made_words():
    assert halfmade.half_made(parse_config("lock: create\n")) == (
        "its config holds only `lock: create` (an interrupted create)"
    )
    assert halfmade.half_made(parse_config("lock: destroyed\n")).endswith("(an interrupted destroy)")
    assert halfmade.half_made(parse_config("")) == "its config is empty (no rootfs)"
    assert halfmade.half_made(parse_config("lock: backup\n")) == "its config holds only `lock: backup` and no rootfs"
    assert halfmade.half_made(parse_config("hostname: a\nmemory: 9\n")) == (
        "its config has no rootfs (keys: hostname, memory)"
    )
    assert halfmade.half_made(parse_config("rootfs: local-zfs:subvol-1-disk-0\nlock: backup\n")) is None
    hint = halfmade.repair_hint(7, parse_config("lock: create\n"))
    assert "repair: [stale_locks]" in hint and "pct destroy 7 --destroy-unreferenced-disks 1" in hint
    assert "repair: [half_made]" in halfmade.repair_hint(7, parse_config("hostname: a\n"))


def test_half_made_reports_and_repairs_only_configs_without_volumes():
    node = FakeNode(healthy_files(), healthy_answers())
    node.add_ct(101, "hostname: x\n")
    node.add_ct(102, "lock: create\n")  # stale_locks' business
    node.add_ct(103, "lock: backup\n")
    node.add_ct(104, "hostname: y\nmp0: local-zfs:subvol-104-disk-1,mp=/d\n")
    node.add_ct(105, "rootfs: local-zfs:subvol-105-disk-0,size=1G\n")
    node.runner.answers[ZFS_LIST] = (0, "rpool/data\nrpool/data/subvol-105-disk-0\n", "")
    out, _failed = results(node, checks=["half_made"], repair=["half_made"])
    found = by_name(out)["half_made"]
    assert found["status"] == "warn"
    assert found["detail"] == (
        "container(s) that cannot start or be updated: CT 101: its config has no rootfs (keys: hostname); "
        "CT 103: its config holds only `lock: backup` and no rootfs; CT 104: its config has no rootfs "
        "(keys: hostname, mp0)"
    )
    assert [c for c in node.runner.commands if c.startswith("pct")] == [
        "pct destroy 101",
        "pct unlock 103",
        "pct destroy 103",
    ]
    skipped = [r for r in out["repairs"] if r["vmid"] == 104][0]
    assert skipped["failed"] and "names volume(s) local-zfs:subvol-104-disk-1" in skipped["result"]


def test_half_made_names_volumes_that_are_gone():
    node = FakeNode(healthy_files(), healthy_answers())
    node.add_ct(106, "rootfs: local-zfs:subvol-106-disk-0,size=1G\nmp0: local-zfs:subvol-106-disk-1,mp=/d\n")
    node.runner.answers[ZFS_LIST] = (0, "rpool/data\nrpool/data/subvol-106-disk-0\n", "")
    out, _failed = results(node, checks=["half_made"], repair=["half_made"])
    found = by_name(out)["half_made"]
    assert found["detail"].endswith("CT 106: its config names volume(s) that do not exist: local-zfs:subvol-106-disk-1")
    assert "an interrupted destroy: run the destroy again" in found["remedy"]
    assert out["repairs"][0]["failed"] and "names volume(s)" in out["repairs"][0]["result"]
    node.runner.answers[ZFS_LIST] = (1, "", "cannot open 'rpool/data': dataset does not exist\n")
    out, _failed = results(FakeNode(node.files, node.runner.answers), checks=["half_made"])
    assert by_name(out)["half_made"]["status"] == "ok", "cannot tell: not reported"


def test_half_made_knows_linked_clone_and_template_volumes():
    """pct template renames subvol- to basevol-; a linked clone's volume is <base>/<name> on <pool>/<name>."""
    node = FakeNode(healthy_files(), healthy_answers())
    node.add_ct(110, "rootfs: local-zfs:basevol-110-disk-0,size=1G\ntemplate: 1\n")
    node.add_ct(111, "rootfs: local-zfs:basevol-110-disk-0/subvol-111-disk-0,size=1G\n")
    listing = "rpool/data\nrpool/data/basevol-110-disk-0\nrpool/data/subvol-111-disk-0\n"
    node.runner.answers[ZFS_LIST] = (0, listing, "")
    out, _failed = results(node, checks=["half_made", "orphan_volumes"])
    assert by_name(out)["half_made"]["status"] == "ok", by_name(out)["half_made"]["detail"]
    assert by_name(out)["orphan_volumes"]["status"] == "ok", by_name(out)["orphan_volumes"]["detail"]


def test_half_made_check_mode_only_plans():
    node = FakeNode(healthy_files(), healthy_answers(), check_mode=True)
    node.add_ct(101, "hostname: x\n")
    out, _failed = results(node, checks=["half_made"], repair=["half_made"])
    assert out["changed"] is True and by_name(out)["half_made"]["status"] == "ok"
    assert node.runner.commands == ["pct destroy 101"] and node.runner.history[0].planned


def orphan_node(check_mode=False):
    answers = healthy_answers()
    answers[ZFS_LIST] = (
        0,
        "rpool/data\nrpool/data/subvol-100-disk-0\nrpool/data/subvol-100-disk-1\nrpool/data/subvol-200-disk-0\n"
        "rpool/data/vm-300-disk-0\nrpool/data/subvol-400-disk-0\nrpool/data/web\n",
        "",
    )
    files = healthy_files()
    files["/etc/pve/storage.cfg"] += "\ndir: images\n\tpath /srv/img\n\tcontent images,rootdir\n"
    files["/srv/img/images/100/vm-100-disk-2.raw"] = "x"
    files["/srv/img/images/100/notes.txt"] = "x"
    files["/etc/pve/.vmlist"] = vmlist(_100="lxc", _300="qemu", _400="lxc")
    files["/etc/pve/nodes/pve/qemu-server/300.conf"] = "scsi0: local-zfs:vm-300-disk-0,size=4G\n"
    node = FakeNode(files, answers, check_mode=check_mode)
    node.add_ct(100, "rootfs: local-zfs:subvol-100-disk-0,size=1G\n")
    node.add_ct(400, "lock: create\n")  # a create's allocation: stale_locks frees it
    return node


def test_orphan_volumes_found_and_only_vmid_less_zfs_ones_destroyed():
    node = orphan_node()
    out, _failed = results(node, checks=["orphan_volumes"], repair=["orphan_volumes"])
    assert [(r["volid"], r["result"]) for r in out["repairs"]] == [
        (
            "images:100/vm-100-disk-2.raw",
            "skipped: VMID 100 exists: attach it (`pct rescan --vmid 100`) or "
            "free it by hand (`pvesm free images:100/vm-100-disk-2.raw`)",
        ),
        (
            "local-zfs:subvol-100-disk-1",
            "skipped: VMID 100 exists: attach it (`pct rescan --vmid 100`) or "
            "free it by hand (`pvesm free local-zfs:subvol-100-disk-1`)",
        ),
        ("local-zfs:subvol-200-disk-0", "destroyed"),
    ]
    assert "zfs destroy rpool/data/subvol-200-disk-0" in node.runner.commands
    assert not [c for c in node.runner.commands if "destroy" in c and "200" not in c]


def test_orphan_volumes_detail_and_remedy():
    node = orphan_node()
    out, _failed = results(node, checks=["orphan_volumes"])
    found = by_name(out)["orphan_volumes"]
    assert found["status"] == "warn" and out["changed"] is False
    assert found["detail"] == (
        "volume(s) no config uses: images:100/vm-100-disk-2.raw (CT 100's config does not name it); "
        "local-zfs:subvol-100-disk-1 (CT 100's config does not name it); "
        "local-zfs:subvol-200-disk-0 (VMID 200 does not exist)"
    )
    assert "pct rescan" in found["remedy"] and "opt in only" in found["remedy"]


def test_orphan_volume_of_a_live_task_is_left_alone():
    node = orphan_node()
    node.procs = [(4242, ["/usr/bin/perl", "/usr/sbin/pct", "create", "200", "local:vztmpl/x.tar.zst"])]
    out, _failed = results(node, checks=["orphan_volumes"])
    assert "subvol-200" not in by_name(out)["orphan_volumes"]["detail"]


def test_orphan_volumes_only_of_names_as_proxmox_makes_them():
    """Any volume name PVE takes an owner from counts (a vmstate, a cloud-init disk); a VMID with a leading
    zero or in Arabic-Indic digits is no guest's (int() reads both as 200), so it is neither reported nor
    destroyed; nor is a dataset below a volume, or a file a directory storage does not list."""
    node = orphan_node()
    node.runner.answers[ZFS_LIST] = (
        0,
        "rpool/data\nrpool/data/subvol-100-disk-0\nrpool/data/vm-500-state-suspend\nrpool/data/vm-500-cloudinit\n"
        "rpool/data/subvol-0200-disk-0\nrpool/data/subvol-\u0662\u0660\u0660-disk-0\nrpool/data/subvol-99-disk-0\n"
        "rpool/data/subvol-100-disk-0/child\n",
        "",
    )
    node.files["/srv/img/images/100/vm-100-disk-3.raw.bak"] = "x"
    node.files["/srv/img/images/0100/vm-100-disk-4.raw"] = "x"
    out, _failed = results(node, checks=["orphan_volumes"], repair=["orphan_volumes"])
    assert by_name(out)["orphan_volumes"]["detail"] == (
        "volume(s) no config uses: images:100/vm-100-disk-2.raw (CT 100's config does not name it); "
        "local-zfs:vm-500-state-suspend (VMID 500 does not exist); local-zfs:vm-500-cloudinit (VMID 500 does "
        "not exist)"
    )
    assert [c for c in node.runner.commands if "destroy" in c] == [
        "zfs destroy rpool/data/vm-500-state-suspend",
        "zfs destroy rpool/data/vm-500-cloudinit",
    ]


def cgroup_tree(tmp_path, monkeypatch, running=()):
    root = tmp_path / "cgroup"
    for rel in ("lxc/987601/ns/init", "lxc.monitor/987601", "memory/lxc/987601", "lxc.payload.987602", "lxc/987603"):
        (root / rel).mkdir(parents=True)
    (root / "system.slice").mkdir()
    for not_a_vmid in ("lxc/0987601", "lxc.payload.\u0669\u0668\u0667\u0666\u0660\u0662", "lxc/99"):
        (root / not_a_vmid).mkdir()  # int() reads the first two as 987601 and 987602: no container's
    (root / "lxc.payload.987604").mkdir()  # holds a process: another LXC's, not a leftover
    (root / "lxc.payload.987604" / "cgroup.procs").write_text("4242\n")
    unix = tmp_path / "unix"
    unix.write_text("".join("00000000: 0002 0 @/var/lib/lxc/%s/command\n" % v for v in running))
    monkeypatch.setattr(paths, "CGROUP_ROOT", str(root))
    monkeypatch.setattr(paths, "PROC_NET_UNIX", str(unix))
    return root


def test_leftover_cgroups_found_and_removed(tmp_path, monkeypatch):
    root = cgroup_tree(tmp_path, monkeypatch, running=["987603"])
    node = NodeView(ScriptedRunner({}, default=(0, "", "")), which=lambda _name: None)
    params = {"checks": ["leftover_cgroups"], "fail_on": "fail", "min_free_percent": 10}
    from ansible_collections.cageforge.nexcage.plugins.module_utils._health.run import run_health

    out, _failed = run_health(node, dict(params), False)
    found = by_name(out)["leftover_cgroups"]
    assert found["status"] == "warn"
    assert found["detail"] == "empty cgroups of stopped container(s): CT 987601: %s, %s, %s; CT 987602: %s" % (
        root / "lxc.monitor" / "987601",
        root / "lxc" / "987601",
        root / "memory" / "lxc" / "987601",
        root / "lxc.payload.987602",
    )
    out, _failed = run_health(node, dict(params, repair=["leftover_cgroups"]), False)
    assert [r["result"] for r in out["repairs"]] == ["removed", "removed"]
    assert by_name(out)["leftover_cgroups"]["status"] == "ok"
    assert (root / "lxc" / "987603").is_dir() and (root / "system.slice").is_dir(), "running / not LXC: kept"
    assert (root / "lxc.payload.987604").is_dir(), "a cgroup with processes is kept"
    assert (root / "lxc" / "0987601").is_dir() and (root / "lxc" / "99").is_dir(), "no VMID: kept"
    assert not (root / "lxc" / "987601").exists() and not (root / "lxc.payload.987602").exists()
