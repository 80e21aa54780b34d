# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The in-use guard of nexcage_zfs_dataset: which guest configs or storages use a dataset. PRIVATE.

Pure: the configs and storages are passed in (read through _node.readers by the manager).
"""

from __future__ import annotations

import re

from ansible_collections.cageforge.nexcage.plugins.module_utils._pveconfig import parse_config

_CT_VOLUME_KEY = re.compile(r"^(rootfs|mp\d+|unused\d+)$")
_VM_VOLUME_KEY = re.compile(r"^(scsi|virtio|sata|ide|efidisk|tpmstate|unused)\d+$")


def config_volumes(text, kind="lxc"):
    """[(section, key, volume)] for every volume a guest config names, in every section.

    section is "" for the current config, "pending", or a snapshot name.
    Container configs go through _pveconfig.parse_config; VM configs are read
    line by line (only their disk keys matter here).
    """
    if kind == "lxc":
        parsed = parse_config(text)
        sections = [("", parsed), ("pending", parsed.get("pending") or {})]
        sections += sorted((parsed.get("snapshots") or {}).items())
        result = []
        for section, data in sections:
            for key in sorted(data, key=_key_order):
                value = data[key]
                if _CT_VOLUME_KEY.match(key) and isinstance(value, dict) and value.get("volume"):
                    result.append((section, key, value["volume"]))
        return result
    result, section = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"^\[(.+)\]$", line)
        if match:
            section = "pending" if match.group(1) == "pve:pending" else match.group(1)
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or not _VM_VOLUME_KEY.match(key):
            continue
        volume = value.strip().split(",", 1)[0]
        if volume in ("none", "cdrom") or "media=cdrom" in value:
            continue
        if volume.startswith("file="):
            volume = volume[len("file=") :]
        result.append((section, key, volume))
    return result


def _key_order(key):
    """rootfs first, then mp0, mp1, ..., mp10, then unused0, ... (numeric order)."""
    match = re.match(r"^([a-z]+)(\d*)$", key)
    if not match:
        return (9, key, 0)
    rank = {"rootfs": 0, "mp": 1, "unused": 2}.get(match.group(1), 9)
    return (rank, match.group(1), int(match.group(2) or 0))


def is_inside(path, top):
    return path == top or path.startswith(top.rstrip("/") + "/")


def find_holders(name, mountpoints, storages, guest_configs):
    """Who uses dataset name or any dataset below it.

    mountpoints: {dataset: mountpoint} for name and its descendants (only real
    paths). storages: parse_storage_cfg result. guest_configs: [(kind, vmid,
    text)], kind "lxc" or "qemu". Returns a list of messages.
    """
    holders = []
    paths = [mp for mp in mountpoints.values() if mp and mp.startswith("/")]
    for storeid, cfg in sorted(storages.items()):
        if cfg.get("type") == "zfspool" and cfg.get("pool") and is_inside(cfg["pool"], name):
            holders.append("storage '%s' (zfspool on %s, /etc/pve/storage.cfg)" % (storeid, cfg["pool"]))
        elif cfg.get("path") and cfg.get("type") in ("dir", "btrfs") and any(is_inside(cfg["path"], p) for p in paths):
            holders.append("storage '%s' (%s at %s, /etc/pve/storage.cfg)" % (storeid, cfg["type"], cfg["path"]))
    for kind, vmid, text in guest_configs:
        label = "CT" if kind == "lxc" else "VM"
        for section, key, volume in config_volumes(text, kind):
            where = key if not section else "%s in [%s]" % (key, section)
            if volume.startswith("/"):
                if volume.startswith("/dev/"):
                    continue
                if any(is_inside(volume, p) for p in paths):
                    holders.append("%s %s %s (bind mount of %s)" % (label, vmid, where, volume))
                continue
            if ":" not in volume:
                continue
            storeid, volname = volume.split(":", 1)
            cfg = storages.get(storeid)
            if not cfg:
                continue
            if cfg.get("type") == "zfspool" and cfg.get("pool"):
                # a linked clone's volume is <base>/<name>; its dataset is <pool>/<name>
                dataset = "%s/%s" % (cfg["pool"].rstrip("/"), volname.rsplit("/", 1)[-1])
                if is_inside(dataset, name):
                    holders.append("%s %s %s (%s = %s)" % (label, vmid, where, volume, dataset))
            elif (
                cfg.get("type") in ("dir", "btrfs")
                and cfg.get("path")
                and any(is_inside(cfg["path"], p) for p in paths)
            ):
                holders.append("%s %s %s (%s, a file under %s)" % (label, vmid, where, volume, cfg["path"]))
    return holders
