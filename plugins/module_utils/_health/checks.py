# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The node integrity checks of nexcage_health. PRIVATE to the collection.

Every check is a function check_<name>(node, params) -> Result. Two checks find
items that a repair can fix (stale_state, stale_locks); their findings carry what
the repair needs. Status words: ok, warn, fail. A check that cannot run (its
command failed) reports fail with the command's error in its detail.
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.cageforge.nexcage.plugins.module_utils import _runner
from ansible_collections.cageforge.nexcage.plugins.module_utils._health.node import command_error, mount_at
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths
from ansible_collections.cageforge.nexcage.plugins.module_utils._pveconfig import parse_vmlist
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import CommandFailed

OK, WARN, FAIL = "ok", "warn", "fail"
RANK = {OK: 0, WARN: 1, FAIL: 2}

REQUIRED_TOOLS = ("pct", "lxc-start", "pvesm")
OPTIONAL_TOOLS = ("zfs",)
STALE_LOCKS = ("create", "destroyed")
DEFAULT_IDMAP = (100000, 65536)

CHECKS = (
    "tools",
    "pve_filesystem",
    "quorum",
    "storage",
    "template_storage",
    "zfs_pools",
    "bridges",
    "cgroup",
    "subids",
    "run_dir",
    "stale_state",
    "stale_locks",
    "half_made",
    "orphan_volumes",
    "leftover_cgroups",
    "duplicate_vmid",
)
REPAIRS = ("stale_state", "stale_locks", "half_made", "orphan_volumes", "leftover_cgroups")


class Result:
    def __init__(self, name, status, detail, remedy="", items=None):
        self.name = name
        self.status = status
        self.detail = detail
        self.remedy = remedy
        self.items = items or []

    def to_dict(self):
        return dict(name=self.name, status=self.status, detail=self.detail, remedy=self.remedy)


def findings_result(name, findings, busy, found, remedy, busy_ok, clean_ok):
    """WARN with found (and what was left alone as busy), else OK naming what is busy, else OK."""
    if findings:
        return Result(name, WARN, found + ("; busy: %s" % ", ".join(busy) if busy else ""), remedy, items=findings)
    if busy:
        return Result(name, OK, "%s: %s" % (busy_ok, ", ".join(busy)))
    return Result(name, OK, clean_ok)


def worst(statuses):
    result = OK
    for status in statuses:
        if RANK[status] > RANK[result]:
            result = status
    return result


def check_tools(node, params):
    found, missing, optional_missing = [], [], []
    for tool in REQUIRED_TOOLS + OPTIONAL_TOOLS:
        path = node.which(tool)
        if path:
            found.append("%s (%s)" % (tool, path))
        elif tool in OPTIONAL_TOOLS:
            optional_missing.append(tool)
        else:
            missing.append(tool)
    if missing:
        return Result(
            "tools",
            FAIL,
            "missing: %s; found: %s" % (", ".join(missing), ", ".join(found) or "none"),
            "run nexcage on a Proxmox VE node (packages pve-container, lxc-pve, libpve-storage-perl); "
            "check PATH includes /usr/sbin",
        )
    if optional_missing:
        return Result(
            "tools",
            WARN,
            "found: %s; missing: %s (ZFS datasets cannot be managed)" % (", ".join(found), ", ".join(optional_missing)),
            "install zfsutils-linux to use nexcage_zfs_dataset and zfspool storages",
        )
    return Result("tools", OK, "found: %s" % ", ".join(found))


def check_pve_filesystem(node, params):
    mount = mount_at(node, paths.ETC_PVE)
    if mount is None:
        return Result(
            "pve_filesystem",
            FAIL,
            "%s is not a mount point: the cluster filesystem (pmxcfs) is not running" % paths.ETC_PVE,
            "systemctl status pve-cluster; start it with `systemctl start pve-cluster` and read "
            "`journalctl -u pve-cluster` if it fails",
        )
    fstype, options = mount[1], mount[2]
    if "ro" in options or not node.writable(paths.ETC_PVE):
        return Result(
            "pve_filesystem",
            FAIL,
            "%s is mounted (%s) but not writable" % (paths.ETC_PVE, fstype),
            "pmxcfs refuses writes without quorum: check the quorum check and `pvecm status`; "
            "restart pve-cluster if the node is quorate",
        )
    return Result("pve_filesystem", OK, "%s is mounted (%s) and writable" % (paths.ETC_PVE, fstype))


def check_quorum(node, params):
    if not node.exists(paths.ETC_PVE + "/corosync.conf"):
        return Result("quorum", OK, "standalone node (no %s/corosync.conf): no quorum needed" % paths.ETC_PVE)
    members = node.read(paths.MEMBERS)
    quorate, nodes, how = None, None, paths.MEMBERS
    try:
        data = json.loads(members) if members else None
    except ValueError:
        data = None
    if data and isinstance(data.get("cluster"), dict) and "quorate" in data["cluster"]:
        quorate = bool(data["cluster"]["quorate"])
        nodelist = data.get("nodelist") or {}
        nodes = "%d of %d nodes online" % (
            sum(1 for n in nodelist.values() if isinstance(n, dict) and n.get("online")),
            len(nodelist),
        )
    else:
        how = "pvecm status"
        if not node.which("pvecm"):
            return Result(
                "quorum",
                WARN,
                "clustered (corosync.conf present) but neither %s/.members nor pvecm can tell the quorum"
                % paths.ETC_PVE,
                "check `systemctl status corosync pve-cluster`",
            )
        try:
            res = node.run(_runner.pvecm("status"))
        except CommandFailed as exc:
            return Result("quorum", FAIL, command_error(exc), "check `systemctl status corosync pve-cluster`")
        match = re.search(r"^\s*Quorate:\s*(\S+)", res.stdout, re.MULTILINE)
        if match:
            quorate = match.group(1).lower() == "yes"
    if quorate is None:
        return Result(
            "quorum", WARN, "clustered, but the quorum state could not be read from %s" % how, "run `pvecm status`"
        )
    if quorate:
        return Result("quorum", OK, "cluster is quorate (%s)" % (nodes or how))
    return Result(
        "quorum",
        FAIL,
        "cluster is NOT quorate (%s): /etc/pve is read-only and no guest can be created or changed" % (nodes or how),
        "bring the other nodes or the corosync links back (`pvecm status`, `journalctl -u corosync`); "
        "only as a last resort on a node you know is alone: `pvecm expected 1`",
    )


def check_storage(node, params):
    threshold = params.get("min_free_percent", 10)
    try:
        rows, stderr = node.pvesm_status()
    except CommandFailed as exc:
        return Result("storage", FAIL, command_error(exc), "check /etc/pve/storage.cfg and `pvesm status`")
    problems, fails, notes = [], False, []
    for row in rows:
        if row["status"] == "disabled":
            notes.append("%s disabled" % row["name"])
            continue
        if row["status"] != "active":
            problems.append("%s is %s" % (row["name"], row["status"]))
            fails = True
            continue
        if row["total"] <= 0:
            continue
        free = 100.0 * row["available"] / row["total"]
        if row["available"] <= 0:
            problems.append("%s is full (0 KiB available)" % row["name"])
            fails = True
        elif free < threshold:
            problems.append("%s has %.1f%% free (below %s%%)" % (row["name"], free, threshold))
        else:
            notes.append("%s %.1f%% free" % (row["name"], free))
    warning = " ".join(line.strip() for line in stderr.splitlines() if line.strip())
    if problems:
        return Result(
            "storage",
            FAIL if fails else WARN,
            "; ".join(problems) + ("; pvesm: %s" % warning if warning else ""),
            "for an inactive storage check its backend (mount, pool, network) and `pvesm status --storage <id>`; "
            "for a full one free space (old backups, unused volumes: `pvesm list <id>`) or lower min_free_percent",
            items=problems,
        )
    if not rows:
        return Result(
            "storage", WARN, "pvesm status lists no storage", "add a storage: pvesm add dir local --path /var/lib/vz"
        )
    return Result("storage", OK, "; ".join(notes) or "all storages active")


def check_template_storage(node, params):
    storages = node.storages()
    local = node.node_name()
    candidates = [
        sid
        for sid, cfg in sorted(storages.items())
        if "vztmpl" in (cfg.get("content") or [])
        and not cfg.get("disable")
        and (not cfg.get("nodes") or local in re.split(r"[,;\s]+", str(cfg["nodes"])))
    ]
    if not candidates:
        return Result(
            "template_storage",
            FAIL,
            "no enabled storage on this node has content type vztmpl (container templates)",
            "allow templates on a storage, e.g. `pvesm set local --content iso,vztmpl,backup`",
        )
    active = None
    try:
        rows, _stderr = node.pvesm_status()
        active = {r["name"] for r in rows if r["status"] == "active"}
    except CommandFailed:
        active = None
    if active is not None:
        usable = [sid for sid in candidates if sid in active]
        if not usable:
            return Result(
                "template_storage",
                FAIL,
                "template storage(s) %s are not active" % ", ".join(candidates),
                "check the storage backend and `pvesm status`",
            )
        candidates = usable
    return Result("template_storage", OK, "vztmpl content on: %s" % ", ".join(candidates))


def check_zfs_pools(node, params):
    if not node.which("zpool"):
        return Result("zfs_pools", OK, "zpool is not installed: no ZFS pools to check")
    try:
        res = node.run(_runner.zpool("list", "-H", "-o", "name,health"))
        status_x = node.run(_runner.zpool("status", "-x"))
    except CommandFailed as exc:
        return Result("zfs_pools", FAIL, command_error(exc), "check the ZFS module and `zpool status`")
    pools, failed, degraded = [], [], []
    for line in res.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) < 2:
            continue
        name, health = parts[0].strip(), parts[1].strip()
        pools.append("%s %s" % (name, health))
        if health == "DEGRADED":
            degraded.append("%s is DEGRADED" % name)
        elif health != "ONLINE":
            failed.append("%s is %s" % (name, health))
    text = (status_x.stdout + status_x.stderr).strip()
    healthy = text in ("all pools are healthy", "no pools available", "")
    if not failed and not degraded and healthy:
        return Result("zfs_pools", OK, ("; ".join(pools) or "no pools") + "; zpool status -x: " + (text or "no output"))
    detail = "; ".join(failed + degraded) or "every pool is ONLINE but zpool status -x reports problems"
    if not healthy:
        detail += "; zpool status -x: " + " ".join(line.strip() for line in text.splitlines()[:8] if line.strip())
    return Result(
        "zfs_pools",
        FAIL if failed else WARN,
        detail,
        "run `zpool status -v`; replace or bring back the failed device (`zpool replace`, `zpool online`), "
        "then `zpool clear <pool>`",
        items=failed + degraded,
    )


def _bridges_in(config):
    result = []
    for key, value in config.items():
        if re.match(r"^net\d+$", key) and isinstance(value, dict) and value.get("bridge"):
            result.append((key, value["bridge"]))
    return result


def check_bridges(node, params):
    missing, not_bridge, seen = [], [], set()
    for vmid, config in sorted(node.local_cts().items(), key=lambda kv: int(kv[0])):
        for key, bridge in sorted(_bridges_in(config)):
            seen.add(bridge)
            base = "/sys/class/net/%s" % bridge
            if node.exists(base + "/bridge"):
                continue
            if node.exists(base):
                not_bridge.append("CT %s %s: %s is not a Linux bridge" % (vmid, key, bridge))
            else:
                missing.append("CT %s %s: bridge %s does not exist" % (vmid, key, bridge))
    if missing:
        return Result(
            "bridges",
            FAIL,
            "; ".join(missing + not_bridge),
            "create the bridge (/etc/network/interfaces, then `ifreload -a`) or move the container to an existing "
            "one: pct set <vmid> --netN name=eth0,bridge=<bridge>,...",
            items=missing,
        )
    if not_bridge:
        return Result(
            "bridges",
            WARN,
            "; ".join(not_bridge),
            "fine if it is an Open vSwitch bridge; otherwise point the container at a Linux bridge",
        )
    if not seen:
        return Result("bridges", OK, "no container references a bridge")
    return Result("bridges", OK, "bridges in use exist: %s" % ", ".join(sorted(seen)))


def check_cgroup(node, params):
    top = mount_at(node, "/sys/fs/cgroup")
    if top is None:
        return Result(
            "cgroup",
            FAIL,
            "nothing is mounted on /sys/fs/cgroup",
            "boot with systemd's default (unified) cgroup layout; containers cannot start without cgroups",
        )
    if top[1] == "cgroup2":
        return Result("cgroup", OK, "unified (cgroup v2 on /sys/fs/cgroup)")
    unified = mount_at(node, "/sys/fs/cgroup/unified")
    controllers = sorted(
        {
            opt
            for m in node.mountinfo()
            if m[1] == "cgroup" and m[0].startswith("/sys/fs/cgroup/")
            for opt in m[3]
            if opt not in ("rw", "ro") and "=" not in opt
        }
    )
    if unified is not None and unified[1] == "cgroup2":
        return Result(
            "cgroup",
            OK,
            "hybrid (cgroup v1 controllers%s under /sys/fs/cgroup, cgroup2 at /sys/fs/cgroup/unified); LXC runs on "
            "it, but Proxmox VE 8 deprecates v1 controllers and 9 drops them: plan the unified layout"
            % (" " + ", ".join(controllers) if controllers else ""),
        )
    return Result(
        "cgroup",
        WARN,
        "legacy (cgroup v1 only%s); Proxmox VE 9 needs the unified cgroup v2 layout"
        % (": " + ", ".join(controllers) if controllers else ""),
        "boot with the unified layout (remove systemd.unified_cgroup_hierarchy=0 from the kernel command line)",
    )


def parse_subid(text, user="root"):
    """[(start, count)] of user's lines in /etc/subuid or /etc/subgid (by name or uid 0 for root)."""
    ranges = []
    for line in (text or "").splitlines():
        parts = line.strip().split(":")
        if len(parts) != 3 or parts[0] not in (user, "0" if user == "root" else user):
            continue
        try:
            ranges.append((int(parts[1]), int(parts[2])))
        except ValueError:
            continue
    return ranges


def covered(needed, ranges):
    """Whether [start, start+count) lies within the union of ranges."""
    start, count = needed
    end = start + count
    pos = start
    for rstart, rcount in sorted(ranges):
        if rstart <= pos < rstart + rcount:
            pos = rstart + rcount
            if pos >= end:
                return True
    return pos >= end


def needed_subids(config):
    """{'u': [(host, count)], 'g': [...]} an unprivileged container needs in /etc/subuid and /etc/subgid."""
    maps = {"u": [], "g": []}
    custom = False
    for key, value in config.get("lxc") or []:
        if key == "lxc.idmap":
            parts = value.split()
            if len(parts) == 4 and parts[0] in maps:
                custom = True
                try:
                    maps[parts[0]].append((int(parts[2]), int(parts[3])))
                except ValueError:
                    continue
    if not custom:
        maps = {"u": [DEFAULT_IDMAP], "g": [DEFAULT_IDMAP]}
    return maps


def check_subids(node, params):
    unpriv = {
        vmid: cfg
        for vmid, cfg in node.local_cts().items()
        if cfg.get("unprivileged") is True and not cfg.get("template")
    }
    if not unpriv:
        return Result("subids", OK, "no unprivileged containers on this node: no mappings needed")
    files = {"u": "/etc/subuid", "g": "/etc/subgid"}
    ranges = {k: parse_subid(node.read(path)) for k, path in files.items()}
    problems = []
    for vmid in sorted(unpriv, key=int):
        for kind, needs in needed_subids(unpriv[vmid]).items():
            for start, count in needs:
                if not covered((start, count), ranges[kind]):
                    problems.append("CT %s needs root:%s:%s in %s" % (vmid, start, count, files[kind]))
    if problems:
        return Result(
            "subids",
            FAIL,
            "; ".join(problems),
            "add the ranges for root, e.g. `echo root:100000:65536 >> /etc/subuid; echo root:100000:65536 >> "
            "/etc/subgid` (Proxmox VE ships exactly these)",
            items=problems,
        )
    return Result(
        "subids", OK, "root's mappings in /etc/subuid and /etc/subgid cover %d unprivileged CT(s)" % len(unpriv)
    )


def check_run_dir(node, params):
    if not node.isdir(paths.RUN_NEXCAGE):
        if node.exists(paths.RUN_NEXCAGE):
            return Result(
                "run_dir",
                FAIL,
                "%s exists but is not a directory" % paths.RUN_NEXCAGE,
                "remove it; nexcage recreates it",
            )
        if node.writable("/run"):
            return Result(
                "run_dir", OK, "%s does not exist yet; /run is writable, so it can be created" % paths.RUN_NEXCAGE
            )
        return Result(
            "run_dir", FAIL, "%s is missing and /run is not writable" % paths.RUN_NEXCAGE, "check the /run tmpfs"
        )
    if not node.writable(paths.RUN_NEXCAGE):
        return Result(
            "run_dir",
            FAIL,
            "%s is not writable" % paths.RUN_NEXCAGE,
            "check its permissions and that /run is not mounted read-only",
        )
    return Result("run_dir", OK, "%s is writable" % paths.RUN_NEXCAGE)


# ------------------------------------------------ stale state and locks


def live_tasks(node, vmid):
    """Processes working on vmid: pct/qm/vzdump/lxc-* commands naming it, PVE task workers, a held config lock."""
    vmid = str(vmid)
    found = []
    for pid, argv in node.processes():
        first = argv[0]
        if first.startswith("task UPID:"):
            fields = first[len("task ") :].split(":")
            if len(fields) > 6 and fields[6] == vmid:
                found.append("pid %d (%s)" % (pid, first))
            continue
        for i, arg in enumerate(argv):
            base = os.path.basename(arg)
            if base in ("pct", "vzdump", "lxc-pve-prestart-hook", "lxc-pve-poststop-hook") or base.startswith("lxc-"):
                if vmid in argv[i + 1 :]:
                    found.append("pid %d (%s)" % (pid, " ".join(argv[i:])[:120]))
                break
    if node.lock_held(paths.config_lock(vmid)):
        found.append("%s is held" % paths.config_lock(vmid))
    return found


def ct_running(node, vmid):
    """Whether the container runs: its LXC command socket is listening (what PVE checks)."""
    text = node.read(paths.PROC_NET_UNIX) or ""
    return paths.lxc_command_socket(vmid) in text


def state_process(node, path):
    """The live process an OCI state file names (status created/running with a pid that exists)."""
    try:
        state = json.loads(node.read(path) or "{}")
    except ValueError:
        return []
    if not isinstance(state, dict):
        return []
    pid = state.get("pid")
    live = state.get("status") in ("created", "running") and isinstance(pid, int) and pid > 0
    if live and node.exists("/proc/%d" % pid):
        return ["its state.json names live pid %d" % pid]
    return []


def check_stale_state(node, params):
    cts = node.local_cts()
    findings, busy = [], []
    for entry in node.listdir(paths.RUN_NEXCAGE):
        if paths.name_vmid(entry) is None:
            continue
        path = os.path.join(paths.RUN_NEXCAGE, entry)
        if not node.exists(os.path.join(path, "state.json")) or entry in cts:
            continue
        tasks = live_tasks(node, entry) + state_process(node, os.path.join(path, "state.json"))
        if tasks or ct_running(node, entry):
            busy.append("%s (%s)" % (entry, ", ".join(tasks) or "running"))
            continue
        findings.append(dict(vmid=int(entry), path=path, action="remove %s" % path))
    return findings_result(
        "stale_state",
        findings,
        busy,
        "state of vanished container(s): %s" % ", ".join("%s/state.json" % f["path"] for f in findings),
        "repair: [stale_state] removes these directories, or remove them by hand",
        "state without a config, but a task works on it",
        "every state.json under %s belongs to a container of this node" % paths.RUN_NEXCAGE,
    )


def check_stale_locks(node, params):
    findings, busy = [], []
    for vmid, cfg in sorted(node.local_cts().items(), key=lambda kv: int(kv[0])):
        lock = cfg.get("lock")
        if lock not in STALE_LOCKS:
            continue
        tasks = live_tasks(node, vmid)
        if tasks or ct_running(node, vmid):
            busy.append("CT %s lock %s (%s)" % (vmid, lock, ", ".join(tasks) or "running"))
            continue
        finding = dict(vmid=int(vmid), lock=lock, protected=bool(cfg.get("protection")))
        if lock == "create":
            finding["action"] = (
                "roll back the interrupted create: pct unlock, then pct destroy --destroy-unreferenced-disks"
            )
        else:
            finding["action"] = (
                "finish the interrupted destroy: pct unlock, then pct destroy --destroy-unreferenced-disks"
            )
        findings.append(finding)
    return findings_result(
        "stale_locks",
        findings,
        busy,
        "container(s) stuck with no task running: %s"
        % ", ".join("CT %s (lock: %s)" % (f["vmid"], f["lock"]) for f in findings),
        "an interrupted create left a half-made container and an interrupted destroy a half-removed one: "
        "repair: [stale_locks] removes them as Proxmox VE's own failure path would (pct unlock <vmid>; pct "
        "destroy <vmid> --destroy-unreferenced-disks 1), then the task that made it can run again. A bare "
        "`pct unlock <vmid>` is no repair: it leaves a config without rootfs, or one naming freed volumes",
        "locked by running tasks",
        "no container is stuck in a create or destroy lock",
    )


def check_duplicate_vmid(node, params):
    seen = {}
    for nodename in node.listdir(paths.ETC_PVE + "/nodes"):
        for kind, sub in (("lxc", "lxc"), ("qemu", "qemu-server")):
            for entry in node.listdir("%s/nodes/%s/%s" % (paths.ETC_PVE, nodename, sub)):
                vmid = paths.conf_vmid(entry)
                if vmid is not None:
                    seen.setdefault(vmid, []).append((nodename, kind))
    dups = {vmid: where for vmid, where in seen.items() if len(where) > 1}
    text = node.read(paths.VMLIST)
    mismatch = []
    if text is not None:
        try:
            vmlist = parse_vmlist(text)
        except ValueError:
            vmlist = None
            mismatch.append("%s/.vmlist is not valid JSON" % paths.ETC_PVE)
        if vmlist is not None:
            for vmid in sorted(set(vmlist) | set(seen)):
                entry = vmlist.get(vmid)
                files = seen.get(vmid, [])
                if entry is None:
                    mismatch.append("VMID %d has a config but is not in .vmlist" % vmid)
                elif not files:
                    mismatch.append(
                        "VMID %d is in .vmlist (%s on %s) but has no config"
                        % (vmid, entry.get("type"), entry.get("node"))
                    )
                elif len(files) == 1 and (entry.get("node"), entry.get("type")) != files[0]:
                    mismatch.append(
                        "VMID %d: .vmlist says %s on %s, the config is %s on %s"
                        % (vmid, entry.get("type"), entry.get("node"), files[0][1], files[0][0])
                    )
    if dups:
        where = "; ".join(
            "VMID %d: %s"
            % (
                vmid,
                ", ".join("nodes/%s/%s/%d.conf" % (n, "lxc" if k == "lxc" else "qemu-server", vmid) for n, k in where),
            )
            for vmid, where in sorted(dups.items())
        )
        return Result(
            "duplicate_vmid",
            FAIL,
            "duplicated VMID(s): " + where,
            "keep one config per VMID: move the other guest to a free VMID (backup and restore with a new VMID) "
            "and remove the duplicate config",
            items=sorted(dups),
        )
    if mismatch:
        return Result(
            "duplicate_vmid",
            WARN,
            "; ".join(mismatch),
            "the guest list and the config files disagree: restart the cluster filesystem "
            "(`systemctl restart pve-cluster`) and check again",
        )
    return Result("duplicate_vmid", OK, "%d guest(s), every VMID once, .vmlist matches the configs" % len(seen))


# the checks of leftovers (leftovers.py) join these in run.py
CHECK_FUNCTIONS = {name: globals()["check_" + name] for name in CHECKS if "check_" + name in globals()}
