# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Node files as data, without any tool call. PRIVATE to the collection.

The run state comes from /proc/net/unix (the abstract LXC command socket
``@/var/lib/lxc/<vmid>/command``, which is what PVE checks too) and the init pid
from the container's cgroup, so a converged task runs no pct at all.

``snapshot()`` makes the node-wide reads (guest list, storages, container
configs, hostnames, run state) happen once for a whole batch of containers
(nexcage_containers): inside it, in the calling thread only, each is read on
first use and then served from memory.
"""

from __future__ import annotations

import glob
import json
import os
import re
import socket
import string

from ansible_collections.cageforge.nexcage.plugins.module_utils import _pveconfig
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import memo, paths, storagecfg
from ansible_collections.cageforge.nexcage.plugins.module_utils._node.files import read_text

DEFAULT_VMID_RANGE = (100, 1000000)


def snapshot():
    """Within the block, this thread reads each node file (and the run state) once (_node/memo.py).

    For planning many containers in one task: nothing may change the node inside the
    block except through forget() (call it after a write, to read fresh again).
    assume_taken() marks a VMID as taken for next_free_vmid's view (check mode
    predicts distinct VMIDs for several new containers).
    """
    return memo.snapshot()


def forget():
    """Drop what the current snapshot has read (the next read goes to the node again); the VMIDs
    assumed taken stay."""
    memo.forget(keep=("reserved",))


def assume_taken(vmid):
    """Inside a snapshot: ct_exists(vmid) is True from now on (a planned create holds it).

    Memory only, for planning: the node-wide reservation of a real create is _node.reservations."""
    remembered = memo.current()
    if remembered is not None:
        remembered.setdefault("reserved", set()).add(int(vmid))


def read_ct_config(vmid):
    """The text of this node's config of CT vmid, or None."""
    return memo.remembered(("conf", int(vmid)), lambda: read_text(paths.ct_conf(vmid)))


def ct_config(vmid):
    """The parsed config of CT vmid on this node (_pveconfig.parse_config), or None."""
    text = read_ct_config(vmid)
    return None if text is None else _pveconfig.parse_config(text)


def ct_exists(vmid):
    remembered = memo.current()
    if remembered is not None and int(vmid) in remembered.get("reserved", ()):
        return True
    return read_ct_config(vmid) is not None if remembered is not None else os.path.exists(paths.ct_conf(vmid))


def read_vmlist():
    """/etc/pve/.vmlist as {vmid: {'node', 'type', 'version'}} ({} when missing or empty)."""
    return dict(memo.remembered("vmlist", _read_vmlist))


def _read_vmlist():
    text = read_text(paths.VMLIST)
    return _pveconfig.parse_vmlist(text) if text else {}


def read_storage_cfg():
    """/etc/pve/storage.cfg as {storage_id: {...}} ({} when missing)."""
    return storagecfg.read_storage_cfg()


def storage_path(storage_id, storages=None):
    """The directory of a path-based storage, or None (unknown storage or no path)."""
    info = (storages if storages is not None else read_storage_cfg()).get(storage_id) or {}
    path = info.get("path")
    return path if isinstance(path, str) else None


def template_files(directory, extensions):
    """Sorted names of the regular files in directory that end with one of extensions ([] if unreadable)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(n for n in names if n.endswith(extensions) and os.path.isfile(os.path.join(directory, n)))


def has_file(path):
    """Whether path is a regular file (a template, a config.json)."""
    return os.path.isfile(path)


def local_node():
    """This node's name: the target of /etc/pve/local, else the short host name."""
    return memo.remembered("node", _local_node)


def _local_node():
    try:
        return os.path.basename(os.readlink(paths.LOCAL_NODE_LINK))
    except OSError:
        return socket.gethostname().split(".")[0]


def vmid_range():
    """[lower, upper) from datacenter.cfg next-id (defaults 100, 1000000), as pvesh /cluster/nextid uses."""
    return memo.remembered("vmid_range", _vmid_range)


def _vmid_range():
    lower, upper = DEFAULT_VMID_RANGE
    match = re.search(r"^next-id:\s*(.*)$", read_text(paths.DATACENTER_CFG) or "", re.MULTILINE)
    if match:
        for part in match.group(1).split(","):
            key, _sep, value = part.partition("=")
            if key.strip() == "lower" and value.strip().isdigit():
                lower = int(value)
            elif key.strip() == "upper" and value.strip().isdigit():
                upper = int(value)
    return lower, upper


def ct_hostnames():
    """{vmid: hostname} of this node's containers (CT<vmid> when the config names none)."""
    return dict(memo.remembered("hostnames", _ct_hostnames))


def _ct_hostnames():
    found = {}
    for path in glob.glob(paths.ct_conf_glob()):
        vmid = paths.conf_vmid(path)
        if vmid is not None:
            found[vmid] = config_hostname(read_ct_config(vmid), vmid)
    return found


def config_hostname(text, vmid):
    """The hostname of a container config's main section (snapshot sections start with "["), CT<vmid>
    when it names none (as Proxmox VE shows such a container)."""
    head = re.split(r"^\[", text or "", maxsplit=1, flags=re.MULTILINE)[0]
    match = re.search(r"^hostname:\s*(\S+)\s*$", head, re.MULTILINE)
    return match.group(1) if match else "CT%s" % vmid


# DNS names compare without letter case, ASCII letters only (RFC 4343): str.lower() would also fold
# U+212A KELVIN SIGN to "k", so a hand-written config could answer for another container's name.
_DNS_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def with_hostname(hostnames, name):
    """The VMIDs, sorted, whose hostname in hostnames ({vmid: hostname}) is name (a DNS name: case does not count)."""
    wanted = name.translate(_DNS_LOWER)
    return sorted(vmid for vmid, host in hostnames.items() if host.translate(_DNS_LOWER) == wanted)


def guest_configs():
    """[(kind, vmid, text)] of this node's guests ("lxc" or "qemu"), read from /etc/pve directly."""
    configs = []
    for kind, pattern in (("lxc", paths.ct_conf_glob()), ("qemu", paths.qemu_conf_glob())):
        for path in sorted(glob.glob(pattern)):
            text = read_text(path)
            if text is not None:
                configs.append((kind, os.path.basename(path)[: -len(".conf")], text))
    return configs


def is_bundle_dir(image):
    """True when image names an OCI bundle directory (an absolute directory holding config.json)."""
    return bool(image) and os.path.isabs(image) and os.path.isfile(os.path.join(image, "config.json"))


def running_vmids():
    """VMIDs whose LXC command socket exists (one read of /proc/net/unix)."""
    return memo.remembered("running", lambda: running_from_unix(read_text(paths.PROC_NET_UNIX) or ""))


def running_from_unix(text):
    """The VMIDs whose LXC command socket a /proc/net/unix text lists."""
    pattern = r"@%s/(\d+)/command$" % re.escape(paths.LXC_PATH)
    return {int(match.group(1)) for match in re.finditer(pattern, text, re.MULTILINE)}


_ASCII_DIGITS_RE = re.compile(r"[0-9]+")


def parse_pools(text):
    """{vmid: pool} from user.cfg's ``pool:<id>:<comment>:<vmids>:<storages>:`` lines.

    As PVE::AccessControl parse_user_config reads them: fields trimmed, VMIDs split like
    PVE's split_list, a VMID already in an earlier pool keeps that pool. A VMID is what its
    ``m/^\\d+$/`` takes on the file's bytes, then int(): ASCII digits only (str.isdigit() would take
    Arabic-Indic ones), a leading zero and a number outside 100..999999999 included.
    """
    pools = {}
    for line in (text or "").splitlines():
        fields = [field.strip() for field in line.strip().split(":")]
        if len(fields) < 4 or fields[0] != "pool" or not fields[1]:
            continue
        for vmid in _pveconfig.split_list(fields[3]):
            if _ASCII_DIGITS_RE.fullmatch(vmid):
                pools.setdefault(int(vmid), fields[1])
    return pools


def read_pools():
    """{vmid: pool} of the cluster's resource pools (/etc/pve/user.cfg; {} when missing)."""
    return parse_pools(read_text(paths.USER_CFG) or "")


def is_running(vmid):
    return int(vmid) in running_vmids()


def _cgroup_candidates(vmid):
    for name in ("lxc/%s/ns" % vmid, "lxc/%s" % vmid, "lxc.payload.%s" % vmid):
        yield os.path.join(paths.CGROUP_ROOT, name, "cgroup.procs")
        for controller in ("unified", "pids", "systemd", "memory", "cpu"):
            yield os.path.join(paths.CGROUP_ROOT, controller, name, "cgroup.procs")


def init_pid_from_cgroup(vmid):
    """The init pid of CT vmid from its cgroup (the process that is pid 1 inside), or None."""
    for path in _cgroup_candidates(vmid):
        text = read_text(path)
        if not text:
            continue
        pids = [int(pid) for pid in text.split() if pid.isdigit()]
        for pid in pids:
            status = read_text("/proc/%d/status" % pid) or ""
            match = re.search(r"^NSpid:\s+(.*)$", status, re.MULTILINE)
            if match and match.group(1).split()[-1] == "1":
                return pid
        if pids:
            return min(pids)
    return None


def read_json(path, default=None):
    """A JSON file as data; default when it is missing or not JSON."""
    text = read_text(path)
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default


_zones = {}


def zone_names():
    """The time zones PVE accepts: the third column of the node's zone.tab (read once per process)."""
    if "names" not in _zones:
        lines = (read_text(paths.ZONE_TAB) or "").splitlines()
        _zones["names"] = frozenset(
            line.split("\t")[2] for line in lines if not re.match(r"^\s*#", line) and line.count("\t") >= 2
        )
    return _zones["names"]


def bridges():
    """Names of the node's network bridges (interfaces with /sys/class/net/<name>/bridge), sorted."""
    try:
        names = os.listdir(paths.SYS_CLASS_NET)
    except OSError:
        return []
    return sorted(n for n in names if os.path.isdir(os.path.join(paths.SYS_CLASS_NET, n, "bridge")))


def host_path_exists(path):
    """Whether a bind-mount source (a host directory or file) exists."""
    return os.path.exists(path)
