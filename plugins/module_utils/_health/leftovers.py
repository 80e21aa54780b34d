# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks for what interrupted operations leave behind: half-made configs, orphan volumes,
leftover LXC cgroups. PRIVATE to the collection.

Each finding carries what its repair needs (repairs.py). Nothing here destroys anything.
"""

from __future__ import annotations

import os
import re

from ansible_collections.cageforge.nexcage.plugins.module_utils._health import halfmade
from ansible_collections.cageforge.nexcage.plugins.module_utils._health.checks import (
    OK,
    WARN,
    Result,
    ct_running,
    findings_result,
    live_tasks,
)
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import CommandFailed

# The image formats of a directory storage: PVE lists only files with these endings (Plugin.pm list_images)
DIR_IMAGE_FORMATS = (".raw", ".qcow2", ".vmdk", ".subvol")
VOLUME_KEY = re.compile(r"^(rootfs|mp\d+|unused\d+)$")


def config_volumes(config):
    """The storage volumes (storage:name) config names in rootfs, mpN and unusedN (bind mounts left out)."""
    found = []
    for key in sorted(config):
        value = config[key]
        if VOLUME_KEY.match(key) and isinstance(value, dict):
            volume = value.get("volume") or ""
            if ":" in volume and not volume.startswith("/"):
                found.append(volume)
    return found


def volume_exists(node, volid):
    """Whether the storage volume volid exists: True, False, or None when this check cannot tell."""
    sid, _sep, name = volid.partition(":")
    cfg = node.storages().get(sid)
    if not cfg or cfg.get("disable"):
        return None
    if cfg.get("type") == "zfspool" and cfg.get("pool") and node.which("zfs"):
        children = node.zfs_children(cfg["pool"])
        # a linked clone's volume is <base>/<name>; its dataset is <pool>/<name>
        return None if children is None else "%s/%s" % (cfg["pool"], name.rsplit("/", 1)[-1]) in children
    dir_image = "/" in name and paths.volume_vmid(name.split("/")[-1]) is not None
    if cfg.get("type") == "dir" and isinstance(cfg.get("path"), str) and dir_image:
        return node.exists(os.path.join(cfg["path"], "images", name))
    return None


def _why_half_made(node, cfg):
    why = halfmade.half_made(cfg)
    if why is not None or cfg.get("template"):
        return why
    missing = [volid for volid in config_volumes(cfg) if volume_exists(node, volid) is False]
    if missing:
        return "its config names volume(s) that do not exist: %s" % ", ".join(missing)
    return None


def check_half_made(node, params):
    """Configs that are not whole containers and not stale_locks' (no rootfs, only a lock line, or
    volumes that are gone: an interrupted pct destroy frees the volumes before it touches the config)."""
    findings, busy = [], []
    for vmid, cfg in sorted(node.local_cts().items(), key=lambda kv: int(kv[0])):
        if cfg.get("lock") in halfmade.STALE_LOCKS:
            continue
        why = _why_half_made(node, cfg)
        if why is None:
            continue
        tasks = live_tasks(node, vmid)
        if tasks:
            busy.append("CT %s (%s)" % (vmid, ", ".join(tasks)))
            continue
        findings.append(
            dict(
                vmid=int(vmid),
                why=why,
                lock=cfg.get("lock"),
                volumes=config_volumes(cfg),
                protected=bool(cfg.get("protection")),
                action="remove the config (pct destroy); its volumes are then orphan_volumes' to report",
            )
        )
    return findings_result(
        "half_made",
        findings,
        busy,
        "container(s) that cannot start or be updated: %s"
        % "; ".join("CT %s: %s" % (f["vmid"], f["why"]) for f in findings),
        "a config without rootfs is a leftover of an interrupted create whose lock was removed by hand: "
        "repair: [half_made] removes the config (`pct destroy <vmid>`, only when it names no volume), then "
        "the orphan_volumes check reports its volumes; to keep it, set its root filesystem back: `pct set "
        "<vmid> --rootfs <volume>`. A config naming volumes that are gone is an interrupted destroy: run the "
        "destroy again (nexcage_container state: absent, or `pct destroy <vmid>`); to keep it, restore the "
        "volume or drop the mount point (`pct set <vmid> --delete mpN`)",
        "being worked on",
        "every container config has a rootfs and its volumes exist",
    )


def _guests(node):
    """{vmid(int): (node, type)} from .vmlist and this node's configs."""
    guests = {}
    for vmid, entry in node.vmlist().items():
        guests[int(vmid)] = (entry.get("node"), entry.get("type"))
    for vmid in node.local_cts():
        guests.setdefault(int(vmid), (node.node_name(), "lxc"))
    return guests


def _volumes_on_storages(node):
    """[(volid, vmid, dataset or None)] of the volumes named for a guest, on this node's storages."""
    found = []
    for sid, cfg in sorted(node.storages().items()):
        if cfg.get("disable"):
            continue
        if cfg.get("type") == "zfspool" and cfg.get("pool") and node.which("zfs"):
            pool = cfg["pool"]
            for dataset in node.zfs_children(pool) or []:
                name = dataset[len(pool) + 1 :]
                vmid = paths.volume_vmid(name)
                if vmid is not None:
                    found.append(("%s:%s" % (sid, name), vmid, dataset))
        elif cfg.get("type") == "dir" and isinstance(cfg.get("path"), str):
            images = os.path.join(cfg["path"], "images")
            for owner in node.listdir(images):
                vmid = paths.name_vmid(owner)
                if vmid is None:
                    continue
                for name in node.listdir(os.path.join(images, owner)):
                    if paths.volume_vmid(name) == vmid and name.endswith(DIR_IMAGE_FORMATS):
                        found.append(("%s:%s/%s" % (sid, owner, name), vmid, None))
    return found


def check_orphan_volumes(node, params):
    guests = _guests(node)
    try:
        volumes = _volumes_on_storages(node)
    except CommandFailed as exc:
        return Result("orphan_volumes", WARN, "cannot list volumes: %s" % exc, "check `zfs list`")
    findings = []
    for volid, vmid, dataset in volumes:
        name = volid.split(":", 1)[1].split("/")[-1]
        where = guests.get(vmid)
        if where is None:
            owner = "VMID %d does not exist" % vmid
        else:
            text = node.guest_config_text(vmid, *where) or ""
            if name in text or re.search(r"^lock: (create|destroyed)$", text, re.MULTILINE):
                continue  # referenced, or a stale create/destroy (stale_locks' repair frees it)
            owner = "%s %d's config does not name it" % ("CT" if where[1] == "lxc" else "VM", vmid)
        if live_tasks(node, vmid):
            continue
        findings.append(dict(vmid=vmid, volid=volid, dataset=dataset, guest=where is not None, why=owner))
    if findings:
        return Result(
            "orphan_volumes",
            WARN,
            "volume(s) no config uses: %s" % "; ".join("%s (%s)" % (f["volid"], f["why"]) for f in findings),
            "they may hold data: look before removing. To keep one, attach it to its container (`pct rescan "
            "--vmid <vmid>` adds it as unusedN; then `pct set <vmid> --mpN <volume>,mp=<path>`). To remove one, "
            "`pvesm free <volume>`; repair: [orphan_volumes] destroys those on ZFS storages whose VMID does not "
            "exist (`zfs destroy <dataset>`, never recursive): opt in only when they hold nothing you need",
            items=findings,
        )
    return Result("orphan_volumes", OK, "%d guest volume(s), each named by its guest's config" % len(volumes))


def cgroup_hierarchies(node):
    """The unified root and every v1 controller mount below it (directories; extra ones are harmless)."""
    root = paths.CGROUP_ROOT
    return [root] + [os.path.join(root, d) for d in node.listdir(root) if node.isdir(os.path.join(root, d))]


def check_leftover_cgroups(node, params):
    text = node.read(paths.PROC_NET_UNIX) or ""
    found = {}
    for hierarchy in cgroup_hierarchies(node):
        candidates = ["lxc/%s" % v for v in node.listdir(os.path.join(hierarchy, "lxc"))]
        candidates += ["lxc.monitor/%s" % v for v in node.listdir(os.path.join(hierarchy, "lxc.monitor"))]
        candidates += [d for d in node.listdir(hierarchy) if re.match(r"^lxc\.(payload|monitor)\.\d+$", d)]
        for name in candidates:
            vmid = paths.name_vmid(re.split(r"[/.]", name)[-1])
            path = os.path.join(hierarchy, name)
            if vmid is not None and paths.lxc_command_socket(vmid) not in text and not node.cgroup_processes(path):
                found.setdefault(vmid, []).append(path)
    findings, busy = [], []
    for vmid in sorted(found):
        if live_tasks(node, vmid) or ct_running(node, vmid):
            busy.append(str(vmid))
            continue
        findings.append(dict(vmid=vmid, paths=sorted(found[vmid]), action="rmdir the empty cgroup directories"))
    if findings:
        return Result(
            "leftover_cgroups",
            WARN,
            "empty cgroups of stopped container(s): %s"
            % "; ".join("CT %d: %s" % (f["vmid"], ", ".join(f["paths"])) for f in findings),
            "a crashed start or stop left them (a cgroup that still holds processes is not reported: it may be "
            "another LXC instance's container of that name). repair: [leftover_cgroups] removes them (rmdir, "
            "deepest first), or rmdir them by hand",
            items=findings,
        )
    return Result("leftover_cgroups", OK, "no empty LXC cgroup of a container that is not running")


CHECK_FUNCTIONS = {
    "half_made": check_half_made,
    "orphan_volumes": check_orphan_volumes,
    "leftover_cgroups": check_leftover_cgroups,
}
