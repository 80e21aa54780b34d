"""`pvesim run`: put a simulated node where a real node's files are.

The command runs in a private mount namespace in which each directory of
node.MOUNTED_DIRS is bind-mounted from ROOT, and the simulated tools come
first on PATH. Besides those directories the namespace shows:

- `/etc/subuid` and `/etc/subgid` from ROOT/etc (`root:100000:65536`, as on a
  Proxmox host), so that LXC's newuidmap/newgidmap accept the idmap of
  unprivileged containers; the host's files are not changed;
- `/etc/network/interfaces` from ROOT/etc/network (the node's bridges);
- `/sys/class/net` as a tmpfs holding a symlink to the host's real entry for
  every host interface, plus a directory `<bridge>/` with a `bridge/`
  subdirectory (and the usual attribute files) for every bridge declared in
  ROOT/etc/network/interfaces that the host does not have. A real node knows
  a bridge by `/sys/class/net/<name>/bridge/`; so do `pct start` and the
  collection. The list is taken when the namespace is entered.

Nothing on the host is changed but empty mount-point directories (and an
empty /etc/network directory if the host has none); the collection's code
sees a Proxmox VE node and needs no switch.
"""

import ctypes
import ctypes.util
import os
import re
import sys
import zlib

from pvesim import node

BIN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "bin")
MS_RDONLY = 1
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MNT_DETACH = 2
SYS_CLASS_NET = "/sys/class/net"
HOST_NET_DEVICES = "/sys/devices/virtual/net"
INTERFACES = "/etc/network/interfaces"
SUBID_FILES = ("/etc/subuid", "/etc/subgid")
SUBID_LINE = "root:100000:65536"

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


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
    """Exec argv inside a new private mount namespace showing the node at root."""
    root = os.path.realpath(root)
    if not os.path.isdir(os.path.join(root, node.SIM_STATE.lstrip("/"))):
        sys.stderr.write("pvesim: %s is not a simulated node (run `pvesim init %s` first)\n" % (root, root))
        return 2
    if not argv:
        argv = [os.environ.get("SHELL", "/bin/sh")]
    child = [
        sys.executable,
        "-S",
        "-c",
        "import sys; sys.path.insert(0, %r); from pvesim import namespace; "
        "namespace.enter(sys.argv[1], sys.argv[2:])" % os.path.dirname(BIN_DIR),
        root,
    ] + list(argv)
    os.execvp("unshare", ["unshare", "--mount", "--propagation", "private", "--"] + child)


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


def _fake_mac(name):
    h = zlib.crc32(name.encode()) & 0xFFFFFFFF
    return "02:%02x:%02x:%02x:%02x:%02x" % (0x50, (h >> 24) & 255, (h >> 16) & 255, (h >> 8) & 255, h & 255)


def _write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _make_fake_bridge(base, name):
    d = os.path.join(base, name)
    os.makedirs(os.path.join(d, "bridge"))
    os.makedirs(os.path.join(d, "brif"))
    for fname, value in (
        ("address", _fake_mac(name)),
        ("mtu", "1500"),
        ("operstate", "up"),
        ("carrier", "1"),
        ("type", "1"),
        ("flags", "0x1003"),
        ("tx_queue_len", "1000"),
        ("bridge/bridge_id", "8000.%s" % _fake_mac(name).replace(":", "")),
        ("bridge/stp_state", "0"),
        ("bridge/forward_delay", "0"),
        ("bridge/vlan_filtering", "0"),
        ("bridge/pvesim_fake", "1"),
    ):
        _write(os.path.join(d, fname), value + "\n")


def _show_bridges(root):
    """/sys/class/net as on the node: the host's interfaces plus the declared bridges."""
    try:
        with open(os.path.join(root, INTERFACES.lstrip("/")), encoding="utf-8") as f:
            bridges = declared_bridges(f.read())
    except FileNotFoundError:
        bridges = []
    entries = {}
    for name in os.listdir(SYS_CLASS_NET):
        path = os.path.join(SYS_CLASS_NET, name)
        target = os.readlink(path) if os.path.islink(path) else None
        if target is not None:
            entries[name] = os.path.normpath(os.path.join(SYS_CLASS_NET, target))
    try:
        mount_tmpfs(SYS_CLASS_NET)
    except OSError:
        return  # e.g. not allowed to mount over sysfs: the host's view stays
    for name, target in sorted(entries.items()):
        os.symlink(target, os.path.join(SYS_CLASS_NET, name))
    for name in bridges:
        if name not in entries:
            _make_fake_bridge(SYS_CLASS_NET, name)


def is_fake_bridge(name):
    """True for a bridge that exists only in this namespace's /sys/class/net."""
    return os.path.isfile(os.path.join(SYS_CLASS_NET, name, "bridge", "pvesim_fake"))


def is_real_bridge(name):
    """True for a bridge the kernel really has (one a veth can be attached to)."""
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
    _show_bridges(root)


def enter(root, argv):
    """Inside the new namespace: mount, set PATH, exec."""
    setup_node_view(root)
    env = dict(os.environ)
    env["PATH"] = BIN_DIR + os.pathsep + env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    env["PVESIM_ROOT"] = root
    os.execvpe(argv[0], argv, env)
