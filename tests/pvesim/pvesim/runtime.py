"""How the simulated node runs containers (pve-cli-facts §2, §8, §9).

Two modes, chosen per call by `mode()`:

- `lxc` (LXC installed, `lxc-start` on PATH, running as root): real LXC
  containers named by their VMID. `start` writes /var/lib/lxc/<vmid>/config as
  PVE's update_lxc_config does, mounts the rootfs volume and every mpN under
  /var/lib/lxc/<vmid>/rootfs (as PVE's pre-start hook does; read-only when
  ro=1) in a mount namespace of its own, and runs `lxc-start -n <vmid> -d`.
  That namespace is kept alive by the LXC monitor and dies with it, so no
  mount outlives the container. A CT runs when the abstract socket
  `@/var/lib/lxc/<vmid>/command` is listed in /proc/net/unix (what PVE
  checks); abstract sockets belong to the node's network namespace.
- `sim` (no LXC or not root; or PVESIM_RUNTIME=sim): the run state is a file
  /run/pve/ct-<vmid>.sim holding a fake pid; exec runs the command chrooted
  into the rootfs directory (needs root), push/pull work on that directory.

PVESIM_RUNTIME=lxc|sim|auto (default auto) overrides the choice.
"""

import contextlib
import ctypes
import ctypes.util
import errno
import grp
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time

from pvesim import cli, namespace, node

LXC_ROOT = node.LXC_ROOT
RUN_PVE = node.RUN_PVE
CGROUP_ROOT = "/sys/fs/cgroup"
LXC_CONFIG_DIR = "/usr/share/lxc/config"
START_TIMEOUT = 30  # lxc-start -d itself waits for RUNNING; this only guards against a hang
UNPRIV_BASE = 100000
UNPRIV_COUNT = 65536
CLONE_NEWNS = 0x00020000
SYS_OPENAT2 = 437
RESOLVE_IN_ROOT = 0x10
RESOLVE_NO_MAGICLINKS = 0x02
PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.syscall.restype = ctypes.c_long


# ---------------------------------------------------------------- mode and small helpers


def mode():
    """`lxc` or `sim` (see the module docstring)."""
    wanted = os.environ.get("PVESIM_RUNTIME", "auto")
    if wanted in ("lxc", "sim"):
        return wanted
    if os.geteuid() == 0 and shutil.which("lxc-start") and shutil.which("lxc-attach"):
        return "lxc"
    return "sim"


def lxc_available():
    return os.geteuid() == 0 and bool(shutil.which("lxc-start"))


def ct_dir(vmid):
    return os.path.join(LXC_ROOT, str(vmid))


def config_path(vmid):
    return os.path.join(ct_dir(vmid), "config")


def rootfs_mountpoint(vmid):
    return os.path.join(ct_dir(vmid), "rootfs")


def stderr_path(vmid):
    """Where PVE's pve-container@<vmid> unit sends lxc-start's stderr."""
    return os.path.join(RUN_PVE, "ct-%s.stderr" % vmid)


def state_path(vmid):
    """What the runtime remembers about a started CT (its config, the mode)."""
    return os.path.join(RUN_PVE, "ct-%s.runtime.json" % vmid)


def sim_path(vmid):
    return os.path.join(RUN_PVE, "ct-%s.sim" % vmid)


def split_property(value, default_key):
    """`a,k=v,...` -> dict; the part without `=` goes to default_key."""
    out = {}
    for part in str(value).split(","):
        if not part:
            continue
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v
        else:
            out[default_key] = part
    return out


def _bool(value):
    return str(value).strip().lower() in ("1", "yes", "on", "true")


def _mp_keys(conf):
    return sorted((k for k in conf if re.fullmatch(r"mp\d+", k)), key=lambda k: int(k[2:]))


def _net_keys(conf):
    return sorted((k for k in conf if re.fullmatch(r"net\d+", k)), key=lambda k: int(k[3:]))


def _raw_lxc(conf):
    """Raw `lxc.*` entries as [(key, value)], in their order."""
    out = []
    raw = conf.get("lxc")
    if isinstance(raw, (list, tuple)):
        out.extend((str(k), str(v)) for k, v in raw)
    for key, value in conf.items():
        if key.startswith("lxc."):
            for v in value if isinstance(value, (list, tuple)) else [value]:
                out.append((key, str(v)))
    return out


def _write_atomic(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _unlink(path):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _save_state(vmid, conf, how):
    state = {"mode": how, "conf": {k: v for k, v in conf.items() if k != "pending"}, "started": time.time()}
    _write_atomic(state_path(vmid), json.dumps(state, default=str))


def _load_state(vmid):
    try:
        with open(state_path(vmid), encoding="utf-8") as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return None


# ---------------------------------------------------------------- cgroups


def _cgroup_dirs():
    """Every cgroup hierarchy root on this host (v1 controllers, the unified tree)."""
    out = []
    try:
        names = os.listdir(CGROUP_ROOT)
    except FileNotFoundError:
        return out
    if os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers")):
        return [CGROUP_ROOT]  # pure cgroup v2
    for name in names:
        path = os.path.join(CGROUP_ROOT, name)
        if os.path.isdir(path) and not os.path.islink(path):
            out.append(path)
    return out


def _v2_controllers():
    for path in (
        os.path.join(CGROUP_ROOT, "cgroup.controllers"),
        os.path.join(CGROUP_ROOT, "unified", "cgroup.controllers"),
    ):
        try:
            with open(path, encoding="utf-8") as f:
                return set(f.read().split())
        except FileNotFoundError:
            continue
    return set()


def _v1_has(controller, filename):
    return os.path.exists(os.path.join(CGROUP_ROOT, controller, filename))


def cgroup_base():
    """The node's cgroup parent: every CT of this node lives below it (pvesim-<node id>)."""
    return "pvesim-%s" % node.node_id()


def _ct_cgroups(vmid, base=None):
    """The CT's payload and monitor cgroups, as PVE names them (lxc/<vmid>, lxc.monitor/<vmid>)."""
    base = base or cgroup_base()
    return ("%s/lxc/%s" % (base, vmid), "%s/lxc.monitor/%s" % (base, vmid))


def leftover_cgroups(vmid, base=None):
    """The CT's cgroup dirs that exist in any hierarchy."""
    out = []
    for hierarchy in _cgroup_dirs():
        for name in _ct_cgroups(vmid, base):
            path = os.path.join(hierarchy, name)
            if os.path.isdir(path):
                out.append(path)
    return out


def _rmdir_tree(path):
    """rmdir a cgroup dir bottom-up (cgroupfs allows only rmdir of empty groups)."""
    for root, dirs, _files in os.walk(path, topdown=False):
        for d in dirs:
            with contextlib.suppress(OSError):
                os.rmdir(os.path.join(root, d))
    with contextlib.suppress(OSError):
        os.rmdir(path)


def cleanup_cgroups(vmid):
    """Remove empty leftover cgroup dirs of a CT (a failed start leaves its monitor cgroup)."""
    for path in leftover_cgroups(vmid):
        _rmdir_tree(path)


def remove_node_cgroups(node_id):
    """Remove the node's (empty) cgroup parent everywhere: called when nothing runs on it."""
    for hierarchy in _cgroup_dirs():
        path = os.path.join(hierarchy, "pvesim-%s" % node_id)
        if os.path.isdir(path):
            _rmdir_tree(path)


# ---------------------------------------------------------------- state


def _socket_name(vmid):
    return "@%s/command" % ct_dir(vmid)


def _socket_listed(vmid):
    needle = _socket_name(vmid)
    try:
        with open("/proc/net/unix", encoding="utf-8", errors="replace") as f:
            return any(line.rstrip("\n").endswith(" " + needle) for line in f)
    except OSError:
        return False


def is_running(vmid):
    """PVE's check_running: the LXC command socket exists (or the sim state file)."""
    if _socket_listed(vmid):
        return True
    return mode() == "sim" and os.path.exists(sim_path(vmid))


def _payload_procs(vmid):
    """Pids in the CT's payload cgroup (and its children) of the first hierarchy that has it."""
    for base in _cgroup_dirs():
        top = os.path.join(base, _ct_cgroups(vmid)[0])
        if not os.path.isdir(top):
            continue
        procs = set()
        for root, _dirs, _files in os.walk(top):
            with contextlib.suppress(OSError):
                with open(os.path.join(root, "cgroup.procs"), encoding="utf-8") as f:
                    procs.update(int(p) for p in f.read().split())
        if procs:
            return procs
    return set()


def _ppid(p):
    with open("/proc/%d/stat" % p, encoding="utf-8") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _init_pid_from_cgroup(vmid):
    """The CT's init: the one payload process whose parent (the LXC monitor) is outside the payload."""
    procs = _payload_procs(vmid)
    roots = []
    for p in procs:
        with contextlib.suppress(OSError, ValueError, IndexError):
            if _ppid(p) not in procs:
                roots.append(p)
    return roots[0] if len(roots) == 1 else None


def pid(vmid):
    """The CT's init pid as the caller sees it (inside the node: in its PID namespace), or None when stopped.

    Read from the payload cgroup (a few file reads); `lxc-info -p` when that is ambiguous.
    """
    if _socket_listed(vmid):
        found = _init_pid_from_cgroup(vmid)
        if found is not None:
            return found
        try:
            out = subprocess.run(
                ["lxc-info", "-n", str(vmid), "-p", "-H"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return None
        return int(out) if out.isdigit() else None
    if mode() == "sim":
        try:
            with open(sim_path(vmid), encoding="utf-8") as f:
                return int(json.load(f)["pid"])
        except (FileNotFoundError, ValueError, KeyError):
            return None
    return None


# ---------------------------------------------------------------- volumes and mount points


def _volume_path(volume):
    from pvesim import storage

    return storage.volume_path(volume)


def _volume_dir(key, volume):
    """Host path of a rootfs/mpN volume: bind source, device, or storage volume."""
    if volume.startswith("/"):
        return volume
    try:
        return _volume_path(volume)
    except cli.PveError as e:
        raise cli.TaskFailed(e.message) from None


def _check_host_dir(path):
    """A CT sees (and writes) a bind-mounted host directory: only the node's own directories and
    the machine's temporary directories are allowed, so the simulator never touches the host."""
    if not node.in_node(path, scratch=True):
        raise cli.TaskFailed(node.outside_message(path))


def mount_plan(vmid, conf):
    """[(source, target in CT, readonly, kind)] for rootfs and every mpN, in mount order.

    Raises TaskFailed with PVE's message for a bind source that does not exist.
    """
    if not conf.get("rootfs"):
        raise cli.TaskFailed("unable to start CT %s - no rootfs configured" % vmid)
    rootfs = split_property(conf["rootfs"], "volume")
    root_src = _volume_dir("rootfs", rootfs.get("volume", ""))
    _check_host_dir(root_src)
    if not os.path.isdir(root_src):
        raise cli.TaskFailed("startup for container '%s' failed" % vmid)
    plan = [(root_src, "/", _bool(rootfs.get("ro", 0)), "volume")]
    mps = []
    for key in _mp_keys(conf):
        mp = split_property(conf[key], "volume")
        volume, target = mp.get("volume", ""), mp.get("mp", "")
        if not target.startswith("/"):
            continue
        if volume.startswith("/dev/"):
            kind = "device"
            src = volume
            if not os.path.exists(src):
                raise cli.TaskFailed("device '%s' does not exist" % src)
        elif volume.startswith("/"):
            kind = "bind"
            src = volume
            if not os.path.isdir(src):
                raise cli.TaskFailed("directory '%s' does not exist" % src)
            _check_host_dir(src)
        else:
            kind = "volume"
            src = _volume_dir(key, volume)
            if not os.path.isdir(src):
                raise cli.TaskFailed("volume '%s' does not exist" % volume)
        mps.append((src, os.path.normpath(target), _bool(mp.get("ro", 0)), kind))
    # Parents before children, as PVE sorts mount points by path depth.
    mps.sort(key=lambda m: (m[1].count("/"), m[1]))
    return plan + mps


class MountError(Exception):
    """A mount target that PVE refuses (its text), raised in the start or hot-plug child."""


def walk_nofollow(start, subdir, owner):
    """PVE's walk_tree_nofollow (LXC.pm): open each component of subdir below the directory start
    without following symlinks, creating missing ones (mode 0755, then owned by owner, the CT's
    root (uid, gid) on the host), and return an O_PATH descriptor of the last. A symlink (or a
    non-directory) on the way fails `symlink encountered at: <start>/<components so far>`, so a
    mount target is always inside the CT's root, never where a symlink in the CT points."""
    flags = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(start, flags)
    where = start
    try:
        for component in [c for c in subdir.split("/") if c]:
            where += "/" + component
            try:
                nxt = os.open(component, flags, dir_fd=fd)
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise MountError("symlink encountered at: %s" % where) from None
                if e.errno != errno.ENOENT:
                    raise MountError("cannot open directory %s: %s" % (where, e.strerror)) from None
                with contextlib.suppress(FileExistsError):  # another start made it meanwhile
                    os.mkdir(component, 0o755, dir_fd=fd)
                try:
                    nxt = os.open(component, flags, dir_fd=fd)
                except OSError as e2:
                    raise MountError("failed to create path: %s: %s" % (where, e2.strerror)) from None
                os.chown(component, owner[0], owner[1], dir_fd=fd, follow_symlinks=False)
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def _ct_root_owner(unprivileged):
    return (UNPRIV_BASE, UNPRIV_BASE) if unprivileged else (0, 0)


def _mount_all(vmid, plan, unprivileged):
    """In the start namespace: rootfs at /var/lib/lxc/<vmid>/rootfs, then the mpN below it. Each
    target is walked inside the rootfs as PVE does (walk_nofollow), not through symlinks."""
    target_root = rootfs_mountpoint(vmid)
    os.makedirs(target_root, exist_ok=True)
    for src, target, readonly, kind in plan:
        if target == "/":
            namespace.bind(src, target_root, readonly=readonly)
            continue
        if kind == "device":
            raise OSError(95, "device mount points are not simulated: %s" % src)
        os.close(walk_nofollow(target_root, target, _ct_root_owner(unprivileged)))
        # Nothing runs in the CT yet: the path just walked still leads to the same directory.
        namespace.bind(src, os.path.join(target_root, target.lstrip("/")), readonly=readonly)


# ---------------------------------------------------------------- the LXC config


def _include(ostype, suffix):
    specific = os.path.join(LXC_CONFIG_DIR, "%s.%s.conf" % (ostype, suffix))
    if os.path.exists(specific):
        return specific
    return os.path.join(LXC_CONFIG_DIR, "%s.conf" % suffix)


def _bridge_state(bridge):
    """`real` (a kernel bridge), `declared` (only in the node's /sys/class/net) or None."""
    if namespace.is_real_bridge(bridge):
        return "real"
    if os.path.isdir(os.path.join(namespace.SYS_CLASS_NET, bridge, "bridge")):
        return "declared"
    return None


def check_bridges(conf):
    """`bridge 'vmbr9' does not exist` for the first netN whose bridge the node lacks."""
    for key in _net_keys(conf):
        bridge = split_property(conf[key], "name").get("bridge")
        if bridge and _bridge_state(bridge) is None:
            raise cli.TaskFailed("bridge '%s' does not exist" % bridge)


def _limits(conf):
    """Memory and CPU limits in the form this host's cgroups accept."""
    lines = []
    v2 = _v2_controllers()
    memory = int(conf.get("memory") or 512)
    swap = int(conf.get("swap") if conf.get("swap") not in (None, "") else 512)
    if "memory" in v2:
        lines.append(("lxc.cgroup2.memory.max", str(memory * 1048576)))
        lines.append(("lxc.cgroup2.memory.high", str(int(memory * 1048576 * 0.9921875))))  # 1016/1024 like PVE
        lines.append(("lxc.cgroup2.memory.swap.max", str(swap * 1048576)))
    elif _v1_has("memory", "memory.limit_in_bytes"):
        lines.append(("lxc.cgroup.memory.limit_in_bytes", str(memory * 1048576)))
        if _v1_has("memory", "memory.memsw.limit_in_bytes"):
            lines.append(("lxc.cgroup.memory.memsw.limit_in_bytes", str((memory + swap) * 1048576)))
    cpulimit = float(conf.get("cpulimit") or 0)
    if cpulimit > 0:
        quota = int(cpulimit * 100000)
        if "cpu" in v2:
            lines.append(("lxc.cgroup2.cpu.max", "%d 100000" % quota))
        elif _v1_has("cpu", "cpu.cfs_quota_us"):
            lines.append(("lxc.cgroup.cpu.cfs_period_us", "100000"))
            lines.append(("lxc.cgroup.cpu.cfs_quota_us", str(quota)))
    if conf.get("cpuunits") not in (None, ""):
        units = int(conf["cpuunits"])
        if "cpu" in v2:
            lines.append(("lxc.cgroup2.cpu.weight", str(min(max(units, 1), 10000))))
        elif _v1_has("cpu", "cpu.shares"):
            lines.append(("lxc.cgroup.cpu.shares", str(max(units, 2))))
    return lines


def _cpuset(conf):
    if not conf.get("cores"):
        return []
    cores = min(int(conf["cores"]), os.cpu_count() or 1)
    cpus = "0" if cores == 1 else "0-%d" % (cores - 1)
    if "cpuset" in _v2_controllers():
        return [("lxc.cgroup2.cpuset.cpus", cpus)]
    if _v1_has("cpuset", "cpuset.cpus"):
        return [("lxc.cgroup.cpuset.cpus", cpus)]
    return []


def _net_lines(vmid, conf):
    lines = []
    for key in _net_keys(conf):
        n = key[3:]
        net = split_property(conf[key], "name")
        bridge = net.get("bridge")
        pre = "lxc.net.%s." % n
        if not bridge or _bridge_state(bridge) != "real" or _bool(net.get("link_down", 0)):
            # No kernel bridge to plug into: the CT gets the device slot but no link.
            lines.append((pre + "type", "empty"))
            continue
        lines.append((pre + "type", "veth"))
        lines.append((pre + "veth.pair", "veth%si%s" % (vmid, n)))
        if net.get("hwaddr"):
            lines.append((pre + "hwaddr", net["hwaddr"].lower()))
        lines.append((pre + "name", net.get("name", "eth%s" % n)))
        if net.get("mtu"):
            lines.append((pre + "mtu", net["mtu"]))
        lines.append((pre + "link", bridge))
        lines.append((pre + "flags", "up"))
        ip = net.get("ip", "")
        if "/" in ip:
            lines.append((pre + "ipv4.address", ip))
            if net.get("gw"):
                lines.append((pre + "ipv4.gateway", net["gw"]))
        ip6 = net.get("ip6", "")
        if "/" in ip6:
            lines.append((pre + "ipv6.address", ip6))
            if net.get("gw6"):
                lines.append((pre + "ipv6.gateway", net["gw6"]))
    return lines


def lxc_config(vmid, conf):
    """The text of /var/lib/lxc/<vmid>/config for conf (PVE's update_lxc_config, §8)."""
    raw = _raw_lxc(conf)
    raw_keys = {k for k, _v in raw}
    ostype = conf.get("ostype") or "unmanaged"
    unprivileged = _bool(conf.get("unprivileged", 0))
    lines = [
        (
            "lxc.arch",
            {"amd64": "amd64", "i386": "i386", "arm64": "arm64", "armhf": "armhf"}.get(
                conf.get("arch") or "amd64", "amd64"
            ),
        )
    ]
    lines.append(("lxc.include", _include(ostype, "common")))
    if unprivileged:
        lines.append(("lxc.include", _include(ostype, "userns")))
    # No AppArmor in this kernel; on an AppArmor host `unconfined` keeps the double simple.
    lines.append(("lxc.apparmor.profile", "unconfined"))
    # Settings this machine needs for /proc, /sys, cgroups and /dev inside (env-notes §4).
    lines.append(("lxc.mount.auto", "proc:mixed sys:mixed cgroup:mixed:force"))
    lines.append(("lxc.autodev", "1"))
    if unprivileged and "lxc.idmap" not in raw_keys:
        lines.append(("lxc.idmap", "u 0 %d %d" % (UNPRIV_BASE, UNPRIV_COUNT)))
        lines.append(("lxc.idmap", "g 0 %d %d" % (UNPRIV_BASE, UNPRIV_COUNT)))
    features = split_property(conf.get("features") or "", "nesting")
    if _bool(features.get("fuse", 0)):
        lines.append(("lxc.mount.entry", "/dev/fuse dev/fuse none bind,create=file 0 0"))
    lines.append(("lxc.tty.max", str(conf.get("tty") if conf.get("tty") not in (None, "") else 2)))
    lines.append(("lxc.pty.max", "16"))
    lines.append(("lxc.uts.name", conf.get("hostname") or "CT%s" % vmid))
    lines.extend(_limits(conf))
    lines.append(("lxc.rootfs.path", rootfs_mountpoint(vmid)))
    # PVE's cgroup layout (lxc/<vmid>, lxc.monitor/<vmid>) below the node's own parent.
    payload, monitor = _ct_cgroups(vmid)
    lines.append(("lxc.cgroup.dir.monitor", monitor))
    lines.append(("lxc.cgroup.dir.container", payload))
    lines.append(("lxc.init.cmd", conf.get("entrypoint") or "/sbin/init"))
    for item in (conf.get("env") or "").split("\0"):
        if "=" in item:
            lines.append(("lxc.environment", item))
    lines.extend(_net_lines(vmid, conf))
    lines.extend(raw)
    lines.extend(_cpuset(conf))
    return "".join("%s = %s\n" % kv for kv in lines)


# ---------------------------------------------------------------- start


def _exec_start_child(vmid, plan, unprivileged, errpipe, gate=None):
    """In the forked child: own mount namespace, mounts, then exec lxc-start -d.

    gate: a pipe the parent answers when a fault waits at before-hooks-finish: `stop` fails
    the start there (as a failing PVE pre-start hook does); `go` or EOF (the task was killed;
    a real node's systemd unit goes on) continues."""
    try:
        if _libc.unshare(CLONE_NEWNS) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "unshare(CLONE_NEWNS): %s" % os.strerror(err))
        _mount_all(vmid, plan, unprivileged)
        if gate is not None and os.read(gate, 4) == b"stop":
            os._exit(3)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.execvp(
            "lxc-start",
            ["lxc-start", "-n", str(vmid), "-d", "-o", stderr_path(vmid), "-l", "ERROR"],
        )
    except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
        with contextlib.suppress(OSError):
            os.write(errpipe, str(e).encode("utf-8", "replace"))
        os._exit(3)


def _print_stderr_file(vmid):
    """What PVE does on a failed start: the lines of /run/pve/ct-<vmid>.stderr in the task log."""
    try:
        with open(stderr_path(vmid), encoding="utf-8", errors="replace") as f:
            for line in f:
                sys.stdout.write(line if line.endswith("\n") else line + "\n")
    except FileNotFoundError:
        pass
    sys.stdout.flush()


def start(vmid, conf):
    """pct start's vm_start: config, mounts, lxc-start, wait for RUNNING."""
    vmid = str(vmid)
    if is_running(vmid):
        raise cli.PveError("CT %s already running" % vmid)
    check_bridges(conf)
    plan = mount_plan(vmid, conf)
    if mode() == "sim":
        return _sim_start(vmid, conf)
    unprivileged = _bool(conf.get("unprivileged", 0))
    os.makedirs(ct_dir(vmid), exist_ok=True)
    os.makedirs(rootfs_mountpoint(vmid), exist_ok=True)
    _write_atomic(config_path(vmid), lxc_config(vmid, conf))
    os.makedirs(RUN_PVE, exist_ok=True)
    _unlink(stderr_path(vmid))
    cleanup_cgroups(vmid)
    _save_state(vmid, conf, "lxc")
    sys.stdout.flush()
    sys.stderr.flush()
    rfd, wfd = os.pipe()
    gate_r, gate_w = os.pipe() if cli.phase_armed("before-hooks-finish") else (None, None)
    child = os.fork()
    if child == 0:
        os.close(rfd)
        if gate_w is not None:
            os.close(gate_w)
        _exec_start_child(vmid, plan, unprivileged, wfd, gate_r)
    os.close(wfd)
    if gate_r is not None:
        os.close(gate_r)
        # PVE's pre-start hook (the mounts) runs inside lxc-start: a failure there fails the
        # start; a kill of the task does not stop it (systemd's unit goes on; here: the child).
        try:
            cli.phase("before-hooks-finish", error=cli.TaskFailed)
        except cli.TaskFailed as e:
            os.write(gate_w, b"stop")
            os.close(gate_w)
            os.waitpid(child, 0)
            os.close(rfd)
            print(e.message)
            cleanup_cgroups(vmid)
            _unlink(state_path(vmid))
            raise cli.TaskFailed("startup for container '%s' failed" % vmid) from None
        os.write(gate_w, b"go")
        os.close(gate_w)
    deadline = time.monotonic() + START_TIMEOUT
    status = None
    while time.monotonic() < deadline:
        done, status = os.waitpid(child, os.WNOHANG)
        if done:
            break
        time.sleep(0.005)
    else:
        with contextlib.suppress(OSError):
            os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        status = None
    with os.fdopen(rfd, "rb") as f:
        child_error = f.read().decode("utf-8", "replace")
    rc = os.waitstatus_to_exitcode(status) if status is not None else -1
    if rc == 0 and _wait_running(vmid, 2):
        # After lxc-start, before the post-start hookscript: a failure fails the task, the CT runs.
        cli.phase("after-lxc-start", error=cli.TaskFailed)
        return None
    if child_error:
        print(child_error)
    _print_stderr_file(vmid)
    with contextlib.suppress(Exception):
        subprocess.run(["lxc-stop", "-n", vmid, "--kill"], capture_output=True, timeout=10, check=False)
    cleanup_cgroups(vmid)
    _unlink(state_path(vmid))
    raise cli.TaskFailed("startup for container '%s' failed" % vmid)


def _wait_running(vmid, timeout):
    """After `lxc-start -d` returned 0 (it waits for RUNNING itself): the monitor socket is there."""
    deadline = time.monotonic() + timeout
    while not _socket_listed(vmid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _wait_stopped(vmid, timeout):
    deadline = time.monotonic() + timeout
    while _socket_listed(vmid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# ---------------------------------------------------------------- stop / shutdown / reboot


def _after_stop(vmid):
    _wait_stopped(vmid, 5)
    cleanup_cgroups(vmid)
    _unlink(sim_path(vmid))


def stop(vmid):
    """pct stop: `lxc-stop -n <vmid> --kill`."""
    vmid = str(vmid)
    if mode() == "sim" and not _socket_listed(vmid):
        _unlink(sim_path(vmid))
        return
    argv = ["lxc-stop", "-n", vmid, "--kill"]
    rc = _run_lxc_stop(argv, 30)
    if rc != 0 and _socket_listed(vmid):
        raise cli.TaskFailed("command '%s' failed: exit code %d" % (" ".join(argv), rc))
    _after_stop(vmid)


def _run_lxc_stop(argv, timeout):
    sys.stdout.flush()
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, timeout=timeout, check=False).returncode
    except subprocess.TimeoutExpired:
        return 1


def shutdown(vmid, timeout=60, force_stop=False):
    """pct shutdown: `lxc-stop -n <vmid> [--nokill] --timeout <t>` run with timeout t+5 s."""
    vmid = str(vmid)
    timeout = int(60 if timeout is None else timeout)
    if mode() == "sim" and not _socket_listed(vmid):
        _unlink(sim_path(vmid))
        return
    argv = ["lxc-stop", "-n", vmid]
    if not force_stop:
        argv.append("--nokill")
    argv += ["--timeout", str(timeout)]
    rc = _run_lxc_stop(argv, timeout + 5)
    if rc != 0:
        if _socket_listed(vmid) and not force_stop:
            print("command '%s' failed: exit code %d" % (" ".join(argv), rc))
            sys.stdout.flush()
            raise cli.TaskFailed("container did not stop")
        if _socket_listed(vmid):
            stop(vmid)
    _after_stop(vmid)


def reboot(vmid, timeout=60, conf=None):
    """pct reboot: shutdown, killing after timeout, then start with conf (default: the last one)."""
    vmid = str(vmid)
    if conf is None:
        state = _load_state(vmid)
        if not state:
            raise cli.TaskFailed("unable to reboot CT %s - no start configuration known" % vmid)
        conf = state["conf"]
    shutdown(vmid, timeout, True)
    start(vmid, conf)


# ---------------------------------------------------------------- exec


def _exec_env(keep_env):
    if not keep_env:
        return None
    env = {k: v for k, v in os.environ.items() if not k.startswith("PVESIM_")}
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and os.path.realpath(p) != namespace.BIN_DIR]
    env["PATH"] = os.pathsep.join(path) or "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return env


def _die_with_parent():
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _run_forwarding(cmd, env):
    """Run cmd as PVE's exec() would: signals to pct reach it, and it dies if pct is killed."""
    child = subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent)
    forwarded = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
    previous = {}
    for sig in forwarded:
        previous[sig] = signal.signal(sig, lambda signum, _frame: child.send_signal(signum))
    try:
        rc = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - rc if rc < 0 else rc


def exec_cmd(vmid, argv, keep_env=True):
    """pct exec: `lxc-attach -n <vmid> --keep-env|--clear-env -- argv`; returns its exit status."""
    vmid = str(vmid)
    if not argv:
        raise cli.PveError("missing command")
    sys.stdout.flush()
    sys.stderr.flush()
    if _socket_listed(vmid):
        cmd = ["lxc-attach", "-n", vmid, "--keep-env" if keep_env else "--clear-env", "--"] + list(argv)
        return _run_forwarding(cmd, _exec_env(keep_env))
    if mode() == "sim" and os.path.exists(sim_path(vmid)):
        return _sim_exec(vmid, argv, keep_env)
    raise cli.PveError("container '%s' not running!" % vmid)


# ---------------------------------------------------------------- push / pull


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def open_in_root(root_fd, path, flags, mode_bits=0o644):
    """openat2(RESOLVE_IN_ROOT): resolve path (symlinks, `..`) as if root_fd were `/`."""
    how = _OpenHow(
        flags | os.O_CLOEXEC, mode_bits if flags & os.O_CREAT else 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS
    )
    fd = _libc.syscall(SYS_OPENAT2, root_fd, path.encode(), ctypes.byref(how), ctypes.sizeof(how))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return fd


def parse_perms(perms):
    """`--perms`: octal by default, `0x` prefix for hexadecimal (pct.pm)."""
    if perms in (None, ""):
        return None
    text = str(perms)
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text, 8)
    except ValueError:
        raise cli.TaskFailed("invalid perms '%s'" % perms) from None


def _ct_root(vmid):
    """(host path of the CT's `/`, uid_map, gid_map) of a running CT."""
    if _socket_listed(vmid):
        ct_pid = pid(vmid)
        if ct_pid is None:
            raise cli.TaskFailed("unable to get PID of CT %s" % vmid)
        return "/proc/%d/root" % ct_pid, _read_map(ct_pid, "uid_map"), _read_map(ct_pid, "gid_map")
    state = _load_state(vmid) or {}
    conf = state.get("conf") or {}
    root = _volume_dir("rootfs", split_property(conf.get("rootfs", ""), "volume").get("volume", ""))
    _check_host_dir(root)
    idmap = [(0, UNPRIV_BASE, UNPRIV_COUNT)] if _bool(conf.get("unprivileged", 0)) else [(0, 0, 4294967295)]
    return root, idmap, idmap


def _read_map(ct_pid, name):
    out = []
    with open("/proc/%d/%s" % (ct_pid, name), encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3:
                out.append(tuple(int(p) for p in parts))
    return out


def _to_host(idmap, ct_id):
    for inside, outside, count in idmap:
        if inside <= ct_id < inside + count:
            return outside + ct_id - inside
    return None


def _ct_lookup(root_fd, filename, name):
    """A user/group name -> id from the CT's own /etc/passwd or /etc/group."""
    if name is None:
        return 0
    if str(name).isdigit():
        return int(name)
    try:
        fd = open_in_root(root_fd, filename, os.O_RDONLY)
    except OSError:
        fd = None
    if fd is not None:
        with os.fdopen(fd, encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split(":")
                if len(parts) > 2 and parts[0] == name and parts[2].isdigit():
                    return int(parts[2])
    what = "user" if filename.endswith("passwd") else "group"
    raise cli.TaskFailed("unable to resolve %s '%s' in CT" % (what, name), rc=0)


def push(vmid, src, dst, user=None, group=None, perms=None):
    """pct push: copy a host file into the running CT, owned by user/group (CT ids), mode perms."""
    vmid = str(vmid)
    try:
        src_f = open(src, "rb")
    except OSError:
        raise cli.TaskFailed("failed to open %s for reading" % src, rc=0) from None
    mode_bits = parse_perms(perms)
    root, uid_map, gid_map = _ct_root(vmid)
    with src_f, contextlib.ExitStack() as stack:
        root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        stack.callback(os.close, root_fd)
        uid = _ct_lookup(root_fd, "/etc/passwd", user)
        gid = _ct_lookup(root_fd, "/etc/group", group)
        try:
            fd = open_in_root(
                root_fd, dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644 if mode_bits is None else 0o600
            )
        except OSError as e:
            raise cli.TaskFailed("failed to create file: %s: %s" % (dst, e.strerror), rc=0) from None
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(src_f, out)
            host_uid, host_gid = _to_host(uid_map, uid), _to_host(gid_map, gid)
            if host_uid is not None and host_gid is not None:
                with contextlib.suppress(PermissionError):
                    os.fchown(out.fileno(), host_uid, host_gid)
            if mode_bits is not None:
                os.fchmod(out.fileno(), mode_bits)


def _host_id(name, lookup):
    if name is None:
        return None
    if str(name).isdigit():
        return int(name)
    try:
        return lookup(name)
    except KeyError:
        raise cli.TaskFailed("unable to resolve '%s' on the host" % name, rc=0) from None


def pull(vmid, src, dst, user=None, group=None, perms=None):
    """pct pull: copy a file out of the running CT to the host; user/group/perms apply on the host."""
    vmid = str(vmid)
    mode_bits = parse_perms(perms)
    root, _uid_map, _gid_map = _ct_root(vmid)
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fd = open_in_root(root_fd, src, os.O_RDONLY)
        except OSError as e:
            raise cli.TaskFailed("failed to open %s for reading: %s" % (src, e.strerror), rc=0) from None
    finally:
        os.close(root_fd)
    with os.fdopen(fd, "rb") as src_f:
        if not node.in_node(dst, scratch=True):
            raise cli.TaskFailed("failed to open %s for writing: %s" % (dst, node.outside_message(dst)), rc=0)
        try:
            out = open(dst, "wb")
        except OSError as e:
            raise cli.TaskFailed("failed to open %s for writing: %s" % (dst, e.strerror), rc=0) from None
        with out:
            shutil.copyfileobj(src_f, out)
            uid = _host_id(user, lambda n: pwd.getpwnam(n).pw_uid)
            gid = _host_id(group, lambda n: grp.getgrnam(n).gr_gid)
            if uid is not None or gid is not None:
                os.fchown(out.fileno(), -1 if uid is None else uid, -1 if gid is None else gid)
            if mode_bits is not None:
                os.fchmod(out.fileno(), mode_bits)


# ---------------------------------------------------------------- hot-plug


SYS_MOUNT_SETATTR = 442
AT_RECURSIVE = 0x8000
AT_EMPTY_PATH = 0x1000
MOUNT_ATTR_RDONLY = 1


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def _hotplug_child(ct_pid, src, target, readonly, unprivileged):
    """In a forked child: clone src as a detached mount, enter the CT's mount namespace and
    attach it at target (PVE's mountpoint_hotplug: stage, open_tree, move_mount)."""
    tree = namespace.open_tree_clone(src, recursive=True)
    if readonly:
        attr = _MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0)
        namespace.syscall(
            SYS_MOUNT_SETATTR, tree, b"", AT_EMPTY_PATH | AT_RECURSIVE, ctypes.byref(attr), ctypes.sizeof(attr)
        )
    namespace_fd = os.open("/proc/%d/ns/mnt" % ct_pid, os.O_RDONLY | os.O_CLOEXEC)
    if _libc.setns(namespace_fd, CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns: %s" % os.strerror(err))
    # Now `/` is the CT's root; the target is walked from there as PVE's mountpoint_insert_staged
    # does (no symlinks), and the mount goes onto the directory the walk opened.
    target_fd = walk_nofollow("/", target, _ct_root_owner(unprivileged))
    namespace.syscall(
        namespace.SYS_MOVE_MOUNT,
        tree,
        b"",
        target_fd,
        b"",
        namespace.MOVE_MOUNT_F_EMPTY_PATH | namespace.MOVE_MOUNT_T_EMPTY_PATH,
    )


def _hotplug_mountpoint(vmid, conf, key, value):
    """A new mpN of a running CT appears inside at once, as PVE hot-plugs mount points."""
    plan = mount_plan(vmid, {"rootfs": conf.get("rootfs"), key: value})[1:]
    if not plan:
        return
    src, target, readonly, kind = plan[0]
    if kind == "device":
        raise cli.TaskFailed("device mount points are not simulated: %s" % src)
    ct_pid = pid(vmid)
    if ct_pid is None:
        raise cli.TaskFailed("failed to open pidfd of container %s's init process" % vmid)
    rfd, wfd = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(rfd)
        try:
            _hotplug_child(ct_pid, src, target, readonly, _bool(conf.get("unprivileged", 0)))
        except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
            with contextlib.suppress(OSError):
                os.write(wfd, str(e).encode("utf-8", "replace"))
            os._exit(1)
        os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as f:
        error = f.read().decode("utf-8", "replace")
    _pid, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise cli.TaskFailed(error or "mount failed")
    state = _load_state(vmid)
    if state:
        state["conf"][key] = value
        _write_atomic(state_path(vmid), json.dumps(state, default=str))


def hotplug(vmid, conf, key, value):
    """Apply a hot-pluggable change to a running CT where the host allows it: limits, and new
    mount points (bind mounts and volumes; mode lxc only)."""
    vmid = str(vmid)
    if not _socket_listed(vmid):
        return
    if re.fullmatch(r"mp\d+", key):
        _hotplug_mountpoint(vmid, conf, key, value)
        return
    if key not in ("memory", "swap", "cpulimit", "cpuunits", "cores"):
        return
    new = dict(conf)
    new[key] = value
    todo = _limits(new) + _cpuset(new)
    # v1 needs memsw >= memory at every step: a failed write is retried once the others are done.
    for _round in range(2):
        failed = []
        for cg_key, cg_value in todo:
            r = subprocess.run(
                ["lxc-cgroup", "-n", vmid, cg_key.split(".", 2)[2], cg_value],
                capture_output=True,
                timeout=10,
                check=False,
            )
            if r.returncode != 0:
                failed.append((cg_key, cg_value))
        todo = failed
        if not todo:
            return
    raise cli.TaskFailed("unable to set %s" % ", ".join(k.split(".", 2)[2] for k, _v in todo))


# ---------------------------------------------------------------- destroy


def destroy_runtime(vmid):
    """Everything the runtime keeps for a CT goes: the container (stopped first), its
    /var/lib/lxc/<vmid> directory, its cgroup dirs, its /run/pve files."""
    vmid = str(vmid)
    if _socket_listed(vmid):
        stop(vmid)
    mnt = rootfs_mountpoint(vmid)
    if os.path.ismount(mnt):
        namespace.umount(mnt)
    if os.path.isdir(mnt) and not os.path.ismount(mnt):
        # Never recurse through a volume: the rootfs dir is only a mount point.
        try:
            os.rmdir(mnt)
        except OSError:
            if os.listdir(mnt):
                raise cli.TaskFailed("unable to remove '%s' - directory not empty" % mnt) from None
    d = ct_dir(vmid)
    if os.path.isdir(d):
        for name in os.listdir(d):
            path = os.path.join(d, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        os.rmdir(d)
    for path in (stderr_path(vmid), state_path(vmid), sim_path(vmid)):
        _unlink(path)
    cleanup_cgroups(vmid)


# ---------------------------------------------------------------- simulated mode


def _sim_start(vmid, conf):
    os.makedirs(RUN_PVE, exist_ok=True)
    _save_state(vmid, conf, "sim")
    fake_pid = 100000 + int(vmid) % 800000
    _write_atomic(sim_path(vmid), json.dumps({"pid": fake_pid, "started": time.time()}))


def _sim_exec(vmid, argv, keep_env):
    root, _u, _g = _ct_root(vmid)
    if os.geteuid() != 0 or not shutil.which("chroot"):
        raise cli.PveError("pvesim: cannot run commands in CT %s: LXC is not available and chroot needs root" % vmid)
    env = _exec_env(keep_env) or {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "container": "lxc",
    }
    return subprocess.run(["chroot", root] + list(argv), env=env, check=False).returncode
