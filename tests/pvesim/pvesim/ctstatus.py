"""Container status as PVE's LXC.pm vmstatus computes it (pve-cli-facts §2, §9).

vmstatus(vmid) -> dict with the keys `pct status --verbose` prints and the
API returns: bytes throughout, maxmem/maxswap = MiB * 1048576, maxdisk from
the rootfs `size` (4 GiB if none), cpus = cores, else cpulimit, else the host
CPU count; running CTs add pid and the pressure* keys.
"""

import contextlib
import os
import re

from pvesim import ctconfig, node

PRESSURE_KEYS = (
    "pressurecpusome",
    "pressurecpufull",
    "pressureiosome",
    "pressureiofull",
    "pressurememorysome",
    "pressurememoryfull",
)


def _runtime():
    try:
        from pvesim import runtime
    except ImportError:
        return None
    return runtime


def is_running(vmid):
    rt = _runtime()
    if rt is not None and hasattr(rt, "is_running"):
        return bool(rt.is_running(vmid))
    return _socket_listed(vmid)


def _socket_listed(vmid):
    """What PVE checks: the LXC command socket in /proc/net/unix."""
    needle = "@/var/lib/lxc/%s/command" % vmid
    try:
        with open("/proc/net/unix", encoding="utf-8") as f:
            return any(line.rstrip("\n").endswith(needle) for line in f)
    except OSError:
        return False


def ct_pid(vmid):
    rt = _runtime()
    if rt is not None and hasattr(rt, "pid"):
        return rt.pid(vmid)
    return None


def local_vmids():
    """VMIDs of the CTs whose config is on this node, sorted numerically."""
    out = []
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(node.lxc_conf_dir()):
            m = re.fullmatch(r"(\d+)\.conf", name)
            if m:
                out.append(int(m.group(1)))
    return sorted(out)


def ct_name(vmid, conf):
    return re.sub(r"\s", "", conf.get("hostname") or "CT%s" % vmid)


def _number(value):
    try:
        f = float(value)
    except (TypeError, ValueError):
        return 0
    return int(f) if f == int(f) else f


def _uptime(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="utf-8") as f:
            boot_up = float(f.read().split()[0])
        return max(0, int(boot_up - start_ticks / os.sysconf("SC_CLK_TCK")))
    except (OSError, ValueError, IndexError):
        return 0


def _dir_usage(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


def _rootfs_path(conf):
    try:
        from pvesim import storage

        volume = ctconfig.parse_rootfs(conf["rootfs"])["volume"]
        return storage.volume_path(volume)
    except Exception:  # noqa: BLE001 - no path, no usage figure
        return None


def vmstatus(vmid, conf=None):
    """The status dict of one CT (raises PveError, exit 2, if it has no config)."""
    if conf is None:
        conf = ctconfig.read_conf(vmid)
    d = {
        "vmid": int(vmid),
        "type": "lxc",
        "name": ct_name(vmid, conf),
        "status": "stopped",
        "cpus": 0,
        "cpu": 0,
        "mem": 0,
        "swap": 0,
        "disk": 0,
        "maxmem": int(conf.get("memory") or 512) * 1048576,
        "maxswap": int(conf.get("swap") or 0) * 1048576,
        "uptime": 0,
        "netin": 0,
        "netout": 0,
        "diskread": 0,
        "diskwrite": 0,
    }
    cpus = _number(conf.get("cores")) or _number(conf.get("cpulimit")) or (os.cpu_count() or 1)
    d["cpus"] = cpus
    maxdisk = 4 * 1024**3
    if conf.get("rootfs"):
        try:
            size = ctconfig.parse_rootfs(conf["rootfs"]).get("size")
            if size:
                maxdisk = ctconfig.parse_size(size) or maxdisk
        except ctconfig.FormatError:
            pass
    d["maxdisk"] = maxdisk
    if conf.get("lock"):
        d["lock"] = conf["lock"]
    if conf.get("tags"):
        d["tags"] = conf["tags"]
    if str(conf.get("template") or "0") == "1":
        d["template"] = 1
    if is_running(vmid):
        d["status"] = "running"
        pid = ct_pid(vmid)
        if pid:
            d["pid"] = int(pid)
            d["uptime"] = _uptime(int(pid))
        for key in PRESSURE_KEYS:
            d[key] = 0
        stats = {}
        rt = _runtime()
        if rt is not None and hasattr(rt, "stats"):
            with contextlib.suppress(Exception):
                stats = rt.stats(vmid) or {}
        for key, value in stats.items():
            if key in d or key in PRESSURE_KEYS:
                d[key] = value
        if "disk" not in stats:
            path = _rootfs_path(conf)
            if path and os.path.isdir(path):
                d["disk"] = _dir_usage(path)
    return d


def status_lines(status):
    """`pct status --verbose`: sorted `key: value` lines, `cpu` omitted."""
    out = ""
    for key in sorted(status):
        if key == "cpu" or status[key] is None:
            continue
        out += "%s: %s\n" % (key, status[key])
    return out
