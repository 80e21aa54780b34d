# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every node path nexcage reads or writes. PRIVATE to the collection.

The names are module attributes read at call time, so unit tests point them at
a temporary directory (monkeypatch.setattr(paths, "LXC_CONF_DIR", ...)).
"""

from __future__ import annotations

import os
import re

ETC_PVE = "/etc/pve"
LXC_CONF_DIR = "/etc/pve/lxc"
QEMU_CONF_DIR = "/etc/pve/qemu-server"
NODES_DIR = "/etc/pve/nodes"
VMLIST = "/etc/pve/.vmlist"
MEMBERS = "/etc/pve/.members"
STORAGE_CFG = "/etc/pve/storage.cfg"
DATACENTER_CFG = "/etc/pve/datacenter.cfg"
USER_CFG = "/etc/pve/user.cfg"
LOCAL_NODE_LINK = "/etc/pve/local"
PROC_NET_UNIX = "/proc/net/unix"
PROC_MOUNTINFO = "/proc/self/mountinfo"
CGROUP_ROOT = "/sys/fs/cgroup"
SYS_CLASS_NET = "/sys/class/net"
LXC_PATH = "/var/lib/lxc"
LOCK_DIR = "/run/lock/lxc"
VMID_LOCK = "/run/lock/lxc/nexcage-vmid.lock"
RUN_NEXCAGE = "/run/nexcage"
RECORD_DIR = "/var/lib/nexcage/containers"
BYTECODE_DIR = "/var/lib/nexcage/bytecode"  # the compiled module_utils of earlier runs (bytecode.py)
ZONE_TAB = "/usr/share/zoneinfo/zone.tab"  # the time zones PVE accepts (pve_verify_timezone)


def ct_conf(vmid):
    """/etc/pve/lxc/<vmid>.conf (this node's container config)."""
    return os.path.join(LXC_CONF_DIR, "%s.conf" % vmid)


# A VMID as Proxmox VE writes it in a name (pve-vmid): ASCII digits, 100..999999999 without a leading
# zero. str.isdigit() and re's \d would also take "0101" and Arabic-Indic digits, which int() reads as
# the VMID of another guest, so a stray name would speak for a real one.
_VMID = r"[1-9][0-9]{2,8}"
_VMID_RE = re.compile(_VMID)
_CONF_NAME_RE = re.compile(r"(%s)\.conf" % _VMID)
# A guest volume's name as PVE's storage plugins take its owner from it (ZFSPoolPlugin list_images:
# (vm|base|subvol|basevol)-(\d+)-\S+; Plugin.pm parse_name_dir: no "/"). One name, not a <base>/<name> pair.
_VOLUME_NAME_RE = re.compile(r"(?:vm|base|subvol|basevol)-(%s)-[^/\s]+" % _VMID)


def name_vmid(name):
    """The VMID that a name made of one (an LXC cgroup or a /run/nexcage directory) is, or None."""
    return int(name) if _VMID_RE.fullmatch(name) else None


def conf_vmid(path):
    """The VMID that a guest config file (its path or its name, ``<vmid>.conf``) is named by, or None
    when the name is not a VMID as Proxmox VE writes it: such a file is no guest of the node."""
    match = _CONF_NAME_RE.fullmatch(os.path.basename(path))
    return int(match.group(1)) if match else None


def volume_vmid(name):
    """The VMID of the guest that a volume or dataset name (``subvol-100-disk-0``, ``vm-100-disk-1.qcow2``,
    ``basevol-100-disk-0``) belongs to, or None when it is no guest volume name as Proxmox VE makes them."""
    match = _VOLUME_NAME_RE.fullmatch(name)
    return int(match.group(1)) if match else None


def ct_conf_glob():
    return os.path.join(LXC_CONF_DIR, "*.conf")


def qemu_conf_glob():
    return os.path.join(QEMU_CONF_DIR, "*.conf")


def template_cache(storage_dir):
    """The directory of a path-based storage that holds container templates (vztmpl)."""
    return os.path.join(storage_dir, "template", "cache")


def config_lock(vmid):
    """The flock file PVE takes for config changes of CT vmid."""
    return os.path.join(LOCK_DIR, "pve-config-%s.lock" % vmid)


def run_dir(vmid):
    """/run/nexcage/<vmid>: the OCI runtime state of a container."""
    return os.path.join(RUN_NEXCAGE, str(vmid))


def vmid_reservation_dir():
    """/run/nexcage/vmid-reserved: the VMIDs that nexcage tasks are creating containers with (reservations.py)."""
    return os.path.join(RUN_NEXCAGE, "vmid-reserved")


def vmid_reservation(vmid):
    return os.path.join(vmid_reservation_dir(), str(vmid))


def proc_stat(pid):
    """/proc/<pid>/stat: a process's status line (its start time is field 22)."""
    return "/proc/%d/stat" % pid


def record(vmid):
    """/var/lib/nexcage/containers/<vmid>.json: what nexcage remembers of a container it made."""
    return os.path.join(RECORD_DIR, "%s.json" % vmid)


def lxc_command_socket(vmid):
    """The abstract LXC command socket of a running container, as /proc/net/unix shows it."""
    return "@%s/%s/command" % (LXC_PATH, vmid)
