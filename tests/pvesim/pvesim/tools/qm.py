"""Simulated `qm` (pve-cli-facts §9): only `qm list`.

The node runs no VMs; VMs exist only as configs that `pvesim seed-vm`
registers (/etc/pve/nodes/<node>/qemu-server/<vmid>.conf), all stopped.
"""

import os
import re
import sys

from pvesim import cli, node
from pvesim.tools.pvesm import dispatch

LIST_USAGE = "qm list [OPTIONS]"
LIST_SPEC = {"full": cli.Opt("boolean")}
DISK_RE = re.compile(r"^(scsi|virtio|sata|ide)\d+$")


def _read_conf(path):
    conf = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("["):
                break
            m = re.match(r"^([a-z][a-z0-9_-]*):\s*(.*)$", line.rstrip("\n"))
            if m:
                conf[m.group(1)] = m.group(2)
    return conf


def _bootdisk_size(conf):
    disks = []
    boot = conf.get("boot", "")
    m = re.search(r"order=([^,]+)", boot)
    if m:
        disks = [d for d in m.group(1).split(";") if DISK_RE.match(d)]
    if not disks and conf.get("bootdisk"):
        disks = [conf["bootdisk"]]
    if not disks:
        disks = sorted(k for k in conf if DISK_RE.match(k))
    for disk in disks:
        value = conf.get(disk, "")
        if "media=cdrom" in value:
            continue
        sm = re.search(r"(?:^|,)size=(\d+(?:\.\d+)?)([KMGT]?)", value)
        if sm:
            shift = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[sm.group(2)]
            return int(float(sm.group(1)) * (1 << shift))
    return 0


def cmd_list(args):
    _pos, raw = cli.parse_args(args, LIST_SPEC, 0, LIST_USAGE)
    _opts, errors = cli.check_types(raw, LIST_SPEC)
    if errors:
        raise cli.ParamError(errors, LIST_USAGE)
    conf_dir = node.qemu_conf_dir()
    try:
        names = os.listdir(conf_dir)
    except FileNotFoundError:
        names = []
    vmids = sorted(int(m.group(1)) for m in (re.fullmatch(r"(\d+)\.conf", n) for n in names) if m)
    if not vmids:
        return 0
    out = "%10s %-20s %-10s %-10s %12s %-10s\n" % ("VMID", "NAME", "STATUS", "MEM(MB)", "BOOTDISK(GB)", "PID")
    for vmid in vmids:
        conf = _read_conf(os.path.join(conf_dir, "%d.conf" % vmid))
        name = conf.get("name") or "VM %d" % vmid
        mem = int(conf.get("memory") or 512)
        disk = _bootdisk_size(conf) / (1024**3)
        out += "%10s %-20s %-10s %-10s %12.2f %-10s\n" % (vmid, name[:20], "stopped", mem, disk, 0)
    sys.stdout.write(out)
    return 0


def main(argv):
    return dispatch("qm", argv, {"list": (cmd_list, LIST_USAGE)})
