"""`pvesim run`: put a simulated node where a real node's files are.

The command runs in a private mount namespace in which each directory of
node.MOUNTED_DIRS is bind-mounted from ROOT, and the simulated tools come
first on PATH. Besides those directories the namespace shows:

- `/etc/subuid` and `/etc/subgid` from ROOT/etc (`root:100000:65536`, as on a
  Proxmox host), so that LXC's newuidmap/newgidmap accept the idmap of
  unprivileged containers; the host's files are not changed;
- `/etc/network/interfaces` from ROOT/etc/network (the node's bridges);
- the node's own network namespace (one per node, held by a keeper process,
  see below): LXC's abstract command sockets, so the running state, are per
  node; every bridge declared in ROOT/etc/network/interfaces is a kernel
  bridge there, and /sys is a sysfs of that namespace (the host's cgroup
  hierarchies moved back onto /sys/fs/cgroup);
- the node's own PID namespace (the keeper is its init): the command runs
  there and /proc is a procfs of that namespace, so a process scan inside
  the node (`ps`, the health check's live tasks) sees the node's processes
  only.

Nothing on the host is changed but empty mount-point directories (and an
empty /etc/network directory if the host has none); the collection's code
sees a Proxmox VE node and needs no switch.
"""

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

from pvesim import node

BIN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "bin")
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
SYS_CLASS_NET = "/sys/class/net"
HOST_NET_DEVICES = "/sys/devices/virtual/net"
INTERFACES = "/etc/network/interfaces"
SUBID_FILES = ("/etc/subuid", "/etc/subgid")
SUBID_LINE = "root:100000:65536"
SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
OPEN_TREE_CLONE = 1
AT_RECURSIVE = 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOVE_MOUNT_T_EMPTY_PATH = 0x40
AT_FDCWD = -100
CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
SI_KERNEL = 0x80
# The keeper's host pid and start time, and the ids of the node's network and PID namespaces.
NS_STATE = "/var/lib/pvesim/namespaces.json"
NS_LOCK = "/var/lib/pvesim/namespaces.lock"
KEEPER_IDLE = 20  # seconds without any process in the node's namespaces
# Signals `pvesim run` passes on to the command (it waits for it outside the node's PID namespace).
FORWARDED_SIGNALS = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
)

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def syscall(number, *args):
    ret = _libc.syscall(number, *args)
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


def open_tree_clone(path, recursive=False):
    """A detached copy of the mount at path (an fd for move_mount), as a bind mount would be."""
    flags = OPEN_TREE_CLONE | os.O_CLOEXEC | (AT_RECURSIVE if recursive else 0)
    return syscall(SYS_OPEN_TREE, AT_FDCWD, path.encode(), flags)


def replace_mount(src, mountpoint):
    """Put a bind mount of src at mountpoint instead of the mount there (not on top of it: the
    mount table then lists one mount there, as the OCI runtimes expect)."""
    tree = open_tree_clone(src)
    try:
        umount(mountpoint)
        syscall(SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, mountpoint.encode(), MOVE_MOUNT_F_EMPTY_PATH)
    finally:
        os.close(tree)


def _mount(src, dst, fstype, flags, data):
    if (
        _libc.mount(
            src.encode() if src else None,
            dst.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        )
        != 0
    ):
        err = ctypes.get_errno()
        raise OSError(err, "mounting %s on %s: %s" % (src, dst, os.strerror(err)))


def bind(src, dst, readonly=False, recursive=True):
    _mount(src, dst, None, MS_BIND | (MS_REC if recursive else 0), None)
    if readonly:
        # A bind mount only becomes read-only by a remount of the bind itself.
        _mount(None, dst, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)


def mount_tmpfs(dst, options="mode=0755,size=1m"):
    _mount("tmpfs", dst, "tmpfs", 0, options)


def umount(path, detach=True):
    if _libc.umount2(path.encode(), MNT_DETACH if detach else 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "unmounting %s: %s" % (path, os.strerror(err)))


def run(root, argv):
    """Run argv with the node at root; its exit status (a signal that killed it kills us too).

    As root: in the node's network namespace, a private mount namespace that shows the node
    (setup_node_view) and, for argv itself, the node's PID namespace with a procfs of its own
    on /proc. `pvesim run` stays outside that PID namespace, waits for argv and passes signals
    on; argv is killed if `pvesim run` dies."""
    root = os.path.realpath(root)
    if not os.path.isdir(os.path.join(root, node.SIM_STATE.lstrip("/"))):
        sys.stderr.write("pvesim: %s is not a simulated node (run `pvesim init %s` first)\n" % (root, root))
        return 2
    if not argv:
        argv = [os.environ.get("SHELL", "/bin/sh")]
    try:
        if os.geteuid() == 0:
            join_node(root)
        enter_private_mounts()
        setup_node_view(root)
    except OSError as e:
        sys.stderr.write("pvesim: %s\n" % e.strerror)
        return 2
    env = dict(os.environ)
    env["PATH"] = BIN_DIR + os.pathsep + env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    env["PVESIM_ROOT"] = root
    return _run_in_node(argv, env)


def enter_private_mounts():
    """A mount namespace of this process's own, whose mounts propagate nowhere."""
    _unshare(CLONE_NEWNS)
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)


def _unshare(flags):
    if _libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "unshare(%#x): %s" % (flags, os.strerror(err)))


def _exec_child(argv, env, watch, mask, sigchld):
    """The forked command: in the node's PID namespace (set by join_node), so /proc gets a procfs
    of that namespace; dies with `pvesim run` (watch: a pipe whose writer is `pvesim run`). The
    signal mask and SIGCHLD's disposition are the caller's again."""
    try:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if select.select([watch], [], [], 0)[0]:
            os._exit(128 + signal.SIGKILL)  # `pvesim run` died before the death signal was set
        os.close(watch)
        if os.getppid() == 0:  # the parent is outside: this is the node's PID namespace
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
        signal.signal(signal.SIGCHLD, sigchld)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.execvpe(argv[0], argv, env)
    except OSError as e:
        sys.stderr.write("pvesim: %s: %s\n" % (argv[0], e.strerror))
        os._exit(127 if e.errno == errno.ENOENT else 126)
    except BaseException:  # noqa: BLE001 - never return into the caller's code in the child
        os._exit(126)


def _run_in_node(argv, env):
    watch_r, watch_w = os.pipe()
    waited = set(FORWARDED_SIGNALS) | {signal.SIGCHLD}
    # An ignored SIGCHLD (inherited from the caller) would reap the child unseen: wait for it.
    sigchld = signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        child = os.fork()
    except OSError as e:  # ENOMEM: the node's PID namespace ended (its keeper was killed)
        sys.stderr.write("pvesim: cannot start %s in the node: %s\n" % (argv[0], e.strerror))
        return 2
    if child == 0:
        os.close(watch_w)
        _exec_child(argv, env, watch_r, mask, sigchld)
    os.close(watch_r)
    while True:
        info = signal.sigwaitinfo(waited)
        if info.si_signo == signal.SIGCHLD:
            done, status = os.waitpid(child, os.WNOHANG)
            if done:
                break
        elif info.si_code != SI_KERNEL:  # a terminal's ^C reaches the command itself
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, info.si_signo)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig != signal.SIGKILL:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
        os.kill(os.getpid(), sig)
        return 128 + sig  # a signal whose default is not to terminate
    return os.waitstatus_to_exitcode(status)


# ---------------------------------------------------------------- node files over host files


def declared_bridges(text):
    """Bridge names of an ifupdown2 `interfaces` file: stanzas with bridge-ports, or vmbrN."""
    bridges, current = [], None
    for raw in text.splitlines():
        line = raw.strip()
        m = re.match(r"iface\s+(\S+)", line)
        if m:
            current = m.group(1)
            if re.fullmatch(r"vmbr\d+", current) and current not in bridges:
                bridges.append(current)
            continue
        if re.match(r"(auto|allow-\S+|source|source-directory|mapping)\b", line):
            current = None
            continue
        if current and re.match(r"bridge[-_]ports\b", line) and current not in bridges:
            bridges.append(current)
    return bridges


def _subid_text(host_path):
    """The host's lines plus `root:100000:65536` if root has no range yet."""
    try:
        with open(host_path, encoding="utf-8") as f:
            lines = [line.rstrip("\n") for line in f if line.strip()]
    except FileNotFoundError:
        lines = []
    if not any(line.split(":")[0] in ("root", "0") for line in lines):
        lines.append(SUBID_LINE)
    return "\n".join(lines) + "\n"


def _bind_subids(root):
    for path in SUBID_FILES:
        if not os.path.isfile(path):
            continue  # nothing to mount over; creating host files is not ours to do
        src = os.path.join(root, path.lstrip("/"))
        if not os.path.isfile(src):
            os.makedirs(os.path.dirname(src), exist_ok=True)
            with open(src, "w", encoding="utf-8") as f:
                f.write(_subid_text(path))
        bind(src, path, recursive=False)


def _bind_interfaces(root):
    src = os.path.join(root, INTERFACES.lstrip("/"))
    if not os.path.isfile(src):
        return
    if os.path.isfile(INTERFACES):
        bind(src, INTERFACES, recursive=False)
    else:
        # No ifupdown on the host: show the node's whole /etc/network.
        os.makedirs(os.path.dirname(INTERFACES), exist_ok=True)
        bind(os.path.dirname(src), os.path.dirname(INTERFACES))


def _write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


# ---------------------------------------------------------------- the node's network and PID namespaces
#
# Each node has a network namespace of its own: LXC's command sockets are abstract unix
# sockets, which belong to a network namespace, so a CT "runs" (PVE's check, facts §9) only
# on the node that started it, and two nodes can run the same VMID. And a PID namespace of its
# own: a process scan inside the node (ps, the health check's live tasks, `zfs destroy`'s busy
# check) sees the node's processes only. Both are held by a small keeper process, the init of
# the PID namespace (its host pid, start time and the namespace ids in NS_STATE); `pvesim run`
# joins them, or starts a keeper when there is none. The keeper exits once nothing else has
# been in the namespaces for KEEPER_IDLE seconds (no `pvesim run`, no LXC monitor, i.e. no
# running CT) or when the node directory is gone (then it kills what still runs in the node),
# and then removes the node's empty cgroup directories.


def _proc_stat_field(pid, index):
    """Field index (0 = the state) after the command of /proc/<pid>/stat, as an int; None when gone."""
    try:
        with open("/proc/%s/stat" % pid, encoding="utf-8") as f:
            return int(f.read().rsplit(")", 1)[1].split()[index])
    except (OSError, ValueError, IndexError):
        return None


def _proc_start_time(pid):
    return _proc_stat_field(pid, 19)


def _under(root, path):
    return os.path.join(root, path.lstrip("/"))


def _ns_state(root):
    try:
        with open(_under(root, NS_STATE), encoding="utf-8") as f:
            info = json.load(f)
        int(info["pid"]), int(info["start"]), info["pidns"], info["host_pidns"]  # noqa: B018 - all there
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info


def keeper_pid(root):
    """The host pid of the process holding the node's namespaces, or None."""
    info = _ns_state(root)
    if info is None:
        return None
    pid = int(info["pid"])
    return pid if _proc_start_time(pid) == int(info["start"]) else None


def proc_net_unix(root=""):
    """The node's /proc/net/unix: inside the node (root "") the caller's own, else the keeper's."""
    path = "/proc/net/unix"
    if root:
        pid = keeper_pid(root)
        if pid is None:
            return ""
        path = "/proc/%d/net/unix" % pid
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _setns(path, nstype):
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, nstype) != 0:
            err = ctypes.get_errno()
            raise OSError(err, "setns(%s): %s" % (path, os.strerror(err)))
    finally:
        os.close(fd)


def join_node(root):
    """Enter the node's network namespace and make its PID namespace the one of the caller's
    children (starting its keeper if needed). Inside the node already: nothing to do."""
    with open(_under(root, NS_LOCK), "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        info = _ns_state(root)
        mine = os.readlink("/proc/self/ns/pid")
        if info is not None and mine == info["pidns"]:
            return
        if info is not None and mine != info["host_pidns"]:
            raise OSError(0, "cannot enter the node at %s from inside another node" % root)
        pid = keeper_pid(root)
        if pid is None:
            pid = _start_keeper(root)
        _setns("/proc/%d/ns/net" % pid, CLONE_NEWNET)
        _setns("/proc/%d/ns/pid" % pid, CLONE_NEWPID)


def _start_keeper(root):
    rfd, wfd = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(rfd)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.closerange(3, wfd)
            os.closerange(wfd + 1, 65536)
            os.set_inheritable(wfd, True)
            os.chdir("/")
            code = (
                "import sys; sys.path.insert(0, %r); from pvesim import namespace; "
                "namespace.keeper(sys.argv[1], int(sys.argv[2]))" % os.path.dirname(BIN_DIR)
            )
            os.execv(sys.executable, [sys.executable, "-S", "-c", code, root, str(wfd)])
        except BaseException:  # noqa: BLE001 - the parent sees the closed pipe
            os._exit(1)
    os.close(wfd)
    os.waitpid(child, 0)
    with os.fdopen(rfd, "rb") as f:
        answer = f.read().decode("utf-8", "replace")
    if not answer.isdigit():
        raise OSError(0, "cannot make the node's namespaces: %s" % (answer or "keeper died"))
    return int(answer)


def keeper(root, wfd):
    """New network and PID namespaces; the first process in them (pid 1 there) is the keeper.

    This process reports the keeper's host pid (NS_STATE and the pipe wfd) and exits."""
    try:
        _unshare(CLONE_NEWNET | CLONE_NEWPID)
        init = os.fork()
    except BaseException as e:  # noqa: BLE001 - reported to `pvesim run` through the pipe
        os.write(wfd, str(e).encode("utf-8", "replace"))
        os._exit(1)
    if init == 0:
        os.close(wfd)
        _keeper_init(root)
    try:
        info = {
            "pid": init,
            "start": _proc_start_time(init),
            "netns": os.readlink("/proc/%d/ns/net" % init),
            "pidns": os.readlink("/proc/%d/ns/pid" % init),
            "host_pidns": os.readlink("/proc/self/ns/pid"),
        }
        state = _under(root, NS_STATE)
        _write(state + ".tmp", json.dumps(info))
        os.replace(state + ".tmp", state)
        os.write(wfd, str(init).encode())
    except BaseException as e:  # noqa: BLE001 - reported to `pvesim run` through the pipe
        with contextlib.suppress(OSError):
            os.kill(init, signal.SIGKILL)
        os.write(wfd, str(e).encode("utf-8", "replace"))
        os._exit(1)
    os._exit(0)


def _parent_pid(pid):
    return _proc_stat_field(pid, 1)


def _others_in_node(me, netns, pidns):
    """Whether any process but the keeper is in the node's network or PID namespace, or is the
    keeper's child: an OCI container's init (namespaces of its own) whose runtime has exited."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        if _parent_pid(entry) == me:
            return True
        for kind, mine in (("net", netns), ("pid", pidns)):
            try:
                if os.readlink("/proc/%s/ns/%s" % (entry, kind)) == mine:
                    return True
            except OSError:
                continue
    return False


def _reap():
    """As the init of the node's PID namespace: collect every exited child (orphans come here)."""
    while True:
        try:
            done, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if not done:
            return


def _keeper_init(root):
    """The keeper: pid 1 of the node's PID namespace (/proc here is still the host's)."""
    me = int(os.readlink("/proc/self"))  # the host pid
    netns, pidns = os.readlink("/proc/self/ns/net"), os.readlink("/proc/self/ns/pid")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the node's init ends only as _keeper_init decides
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    state_dir = _under(root, node.SIM_STATE)
    idle_since = next_check = time.monotonic()
    while True:
        signal.sigtimedwait({signal.SIGCHLD}, 2)
        _reap()
        now = time.monotonic()
        if now < next_check:
            continue
        next_check = now + 2
        if not os.path.isdir(state_dir):
            break
        if _others_in_node(me, netns, pidns):
            idle_since = now
            continue
        if now - idle_since < KEEPER_IDLE:
            continue
        with open(_under(root, NS_LOCK), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if _others_in_node(me, netns, pidns):
                idle_since = now
                continue
            if keeper_pid(root) == me:
                with contextlib.suppress(OSError):
                    os.unlink(_under(root, NS_STATE))
        break
    _end_node(root)


def _end_node(root):
    """Kill what still runs in the node (its directory is gone), then remove its cgroups."""
    if os.getpid() == 1:  # only ever as the init of the node's own PID namespace
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                done, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if not done:
                time.sleep(0.05)
    with contextlib.suppress(Exception):
        from pvesim import runtime

        runtime.remove_node_cgroups(node.node_id(root))
    os._exit(0)


def _ip(*argv):
    ip = shutil.which("ip") or next((p for p in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip") if os.path.exists(p)), "ip")
    try:
        subprocess.run([ip] + list(argv), stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        pass  # no iproute2: the node has no bridges, and `pct start` says which one is missing


def _show_node_sysfs():
    """A sysfs of the node's network namespace on /sys (so /sys/class/net lists the node's
    interfaces), with the host's cgroup hierarchies moved (not copied: each is listed once in
    mountinfo, as the runtimes expect) onto /sys/fs/cgroup."""
    cgroup_fd = os.open("/sys/fs/cgroup", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
        syscall(SYS_MOVE_MOUNT, cgroup_fd, b"", AT_FDCWD, b"/sys/fs/cgroup", MOVE_MOUNT_F_EMPTY_PATH)
    finally:
        os.close(cgroup_fd)


def _node_bridges(root):
    """lo up and every bridge declared in the node's interfaces file, as kernel bridges."""
    try:
        with open(_under(root, INTERFACES), encoding="utf-8") as f:
            bridges = declared_bridges(f.read())
    except FileNotFoundError:
        bridges = []
    try:
        with open(os.path.join(SYS_CLASS_NET, "lo", "flags"), encoding="utf-8") as f:
            lo_up = int(f.read(), 16) & 1
    except (OSError, ValueError):
        lo_up = False
    if not lo_up:
        _ip("link", "set", "lo", "up")
    for name in bridges:
        if not os.path.isdir(os.path.join(SYS_CLASS_NET, name)):
            _ip("link", "add", "name", name, "type", "bridge")
            _ip("link", "set", name, "up")


def is_real_bridge(name):
    """True for a bridge the kernel has in this (the node's) network namespace."""
    return os.path.isdir(os.path.join(HOST_NET_DEVICES, name, "bridge"))


def setup_node_view(root):
    """Mount everything that makes this namespace look like the node at root."""
    for target in node.MOUNTED_DIRS:
        src = os.path.join(root, target.lstrip("/"))
        os.makedirs(src, exist_ok=True)
        os.makedirs(target, exist_ok=True)
        bind(src, target)
    _bind_subids(root)
    _bind_interfaces(root)
    if os.geteuid() == 0:  # `run` joined the node's network namespace
        _show_node_sysfs()
        _node_bridges(root)
