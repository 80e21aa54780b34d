"""A fake OpenZFS 2.x: pools and datasets kept in a JSON database.

There is no ZFS in this kernel (env-notes §6), so `zfs`/`zpool` are simulated.
Datasets are plain directories at their mountpoint when it lies below the node's
/rpool, /srv or /mnt (so they are where a real node has them), else in the node
below /var/lib/pvesim/zfs-mnt (node_dir_of: the host is never touched); the
database holds what ZFS itself keeps:
types, properties (local values, inheritance, defaults), snapshots, pools.

Space accounting: `referenced` of a mounted filesystem is 96K (an empty
dataset, ashift=12) plus the disk usage (st_blocks) of the files in its
directory, not counting directories where other datasets are mounted;
`used` adds the children; `available` is the pool's free space minus
ZFS's slop space, limited by quota (ancestors and self) and refquota.
A pool's size is fixed when it is created (pvesim init: the free space of
the file system that holds the node directory, in whole GiB), so figures do
not move with unrelated disk use.

A dataset that is not mounted (mountpoint=none|legacy, canmount=off|noauto)
keeps its files in /var/lib/pvesim/zfs-data/<guid>; they move back when it is
mounted again. A snapshot is a full copy (`cp -a`, without nested datasets)
in /var/lib/pvesim/zfs-snapshots/<guid>, which `zfs rollback` copies back.

"Busy" (zfs destroy): a dataset is busy while a process has its cwd or root
at or below its mountpoint, while something is mounted at or below it, or
while a running container (pvesim.ctstatus.is_running: the LXC command socket
@/var/lib/lxc/<vmid>/command, or the sim runtime's state) has its volume as
rootfs or mount point in its config.

Degrading a pool for tests: `zfsdb.set_pool_health("rpool", "DEGRADED")`
(inside the node's namespace, or `set_pool_health(..., root=DIR)` outside).

Every function takes an optional `root`: the prefix of all real paths (""
inside `pvesim run`, the node directory when called from outside).
"""

import contextlib
import fcntl
import json
import os
import random
import re
import shutil
import subprocess
import time

from pvesim import node

DB_PATH = "/var/lib/pvesim/zfs.json"
DATA_STASH = "/var/lib/pvesim/zfs-data"
SNAP_STORE = "/var/lib/pvesim/zfs-snapshots"
EMPTY_FS_BYTES = 98304  # 96K: what an empty filesystem references on an ashift=12 pool
SNAPSHOT_NAME_MAX = 255
NODE_POOL_DIR = "/rpool"  # a node directory: mountpoints below it are used as they are
MAPPED_MOUNTS = "/var/lib/pvesim/zfs-mnt"  # where every other mountpoint's files are


def node_dir_of(mountpoint):
    """Where the files of a dataset mounted at mountpoint live in the node (see Db.mount_dir): at
    the mountpoint itself below /rpool and below the node's data directories (/srv/data, /mnt/tank;
    so a bind mount of the mountpoint finds them), else mapped below MAPPED_MOUNTS."""
    path = os.path.normpath("/" + mountpoint.lstrip("/"))
    if path == NODE_POOL_DIR or path.startswith(NODE_POOL_DIR + "/"):
        return path
    if any(path.startswith(base + "/") for base in node.DATA_DIRS):
        return path
    return MAPPED_MOUNTS + ("" if path == "/" else path)


class ZfsError(Exception):
    """What the zfs/zpool command prints on stderr (full text) and its exit code."""

    def __init__(self, message, rc=1):
        super().__init__(message)
        self.message = message
        self.rc = rc


# ---------------------------------------------------------------- properties

SIZE_PROPS = ("quota", "refquota", "reservation", "refreservation")
ONOFF = ("on", "off")


def _choices(*values):
    return values


# name: (default, inheritable, allowed values or a kind, settable)
#   kind "size": bytes, 0 = none; "str": free text; "path": mountpoint
NATIVE = {
    "type": (None, False, None, False),
    "creation": (None, False, None, False),
    "used": (None, False, None, False),
    "available": (None, False, None, False),
    "referenced": (None, False, None, False),
    "compressratio": (None, False, None, False),
    "mounted": (None, False, None, False),
    "origin": (None, False, None, False),
    "quota": ("0", False, "size", True),
    "reservation": ("0", False, "size", True),
    "recordsize": ("131072", True, "recordsize", True),
    "volsize": (None, False, None, False),
    "volblocksize": (None, False, None, False),
    "mountpoint": (None, True, "path", True),
    "sharenfs": ("off", True, "str", True),
    "checksum": (
        "on",
        True,
        _choices("on", "off", "fletcher2", "fletcher4", "sha256", "noparity", "sha512", "skein", "edonr", "blake3"),
        True,
    ),
    "compression": (
        "off",
        True,
        _choices(
            "on",
            "off",
            "lzjb",
            "gzip",
            "zle",
            "lz4",
            "zstd",
            "zstd-fast",
            *["gzip-%d" % i for i in range(1, 10)],
            *["zstd-%d" % i for i in range(1, 20)],
            *["zstd-fast-%d" % i for i in list(range(1, 11)) + [20, 30, 40, 50, 60, 70, 80, 90, 100, 500, 1000]],
        ),
        True,
    ),
    "atime": ("on", True, ONOFF, True),
    "devices": ("on", True, ONOFF, True),
    "exec": ("on", True, ONOFF, True),
    "setuid": ("on", True, ONOFF, True),
    "readonly": ("off", True, ONOFF, True),
    "zoned": ("off", True, ONOFF, True),
    "snapdir": ("hidden", True, _choices("hidden", "visible"), True),
    "aclmode": ("discard", True, _choices("discard", "groupmask", "passthrough", "restricted"), True),
    "aclinherit": (
        "restricted",
        True,
        _choices("discard", "noallow", "restricted", "passthrough", "passthrough-x"),
        True,
    ),
    "createtxg": (None, False, None, False),
    "canmount": ("on", False, _choices("on", "off", "noauto"), True),
    "xattr": ("on", True, _choices("on", "off", "dir", "sa"), True),
    "copies": ("1", True, _choices("1", "2", "3"), True),
    "version": ("5", False, None, False),
    "utf8only": ("off", False, None, False),
    "normalization": ("none", False, None, False),
    "casesensitivity": ("sensitive", False, None, False),
    "vscan": ("off", True, ONOFF, True),
    "nbmand": ("off", True, ONOFF, True),
    "sharesmb": ("off", True, "str", True),
    "refquota": ("0", False, "size", True),
    "refreservation": ("0", False, "size", True),
    "guid": (None, False, None, False),
    "primarycache": ("all", True, _choices("all", "none", "metadata"), True),
    "secondarycache": ("all", True, _choices("all", "none", "metadata"), True),
    "usedbysnapshots": (None, False, None, False),
    "usedbydataset": (None, False, None, False),
    "usedbychildren": (None, False, None, False),
    "usedbyrefreservation": (None, False, None, False),
    "logbias": ("latency", True, _choices("latency", "throughput"), True),
    "objsetid": (None, False, None, False),
    "dedup": ("off", True, _choices("on", "off", "verify", "sha256", "sha256,verify"), True),
    "mlslabel": ("none", True, "str", True),
    "sync": ("standard", True, _choices("standard", "always", "disabled"), True),
    "dnodesize": ("legacy", True, _choices("legacy", "auto", "1k", "2k", "4k", "8k", "16k"), True),
    "refcompressratio": (None, False, None, False),
    "written": (None, False, None, False),
    "logicalused": (None, False, None, False),
    "logicalreferenced": (None, False, None, False),
    "volmode": ("default", True, _choices("default", "full", "geom", "dev", "none"), True),
    "filesystem_limit": ("none", False, "limit", True),
    "snapshot_limit": ("none", False, "limit", True),
    "filesystem_count": ("none", False, None, False),
    "snapshot_count": ("none", False, None, False),
    "snapdev": ("hidden", True, _choices("hidden", "visible"), True),
    "acltype": ("off", True, _choices("off", "nfsv4", "posix"), True),
    "context": ("none", False, "str", True),
    "fscontext": ("none", False, "str", True),
    "defcontext": ("none", False, "str", True),
    "rootcontext": ("none", False, "str", True),
    "relatime": ("off", True, ONOFF, True),
    "redundant_metadata": ("all", True, _choices("all", "most", "some", "none"), True),
    "overlay": ("on", True, ONOFF, True),
    "encryption": ("off", False, None, False),
    "keylocation": ("none", False, None, False),
    "keyformat": ("none", False, None, False),
    "pbkdf2iters": ("0", False, None, False),
    "special_small_blocks": ("0", True, "smallblocks", True),
}
# `zfs get all` order for filesystems is NATIVE's order; snapshots show these.
SNAPSHOT_PROPS = [
    "type",
    "creation",
    "used",
    "referenced",
    "compressratio",
    "devices",
    "exec",
    "setuid",
    "createtxg",
    "xattr",
    "version",
    "utf8only",
    "normalization",
    "casesensitivity",
    "nbmand",
    "guid",
    "primarycache",
    "secondarycache",
    "defer_destroy",
    "userrefs",
    "clones",
    "objsetid",
    "mlslabel",
    "refcompressratio",
    "written",
    "logicalreferenced",
    "acltype",
    "context",
    "fscontext",
    "defcontext",
    "rootcontext",
    "encryption",
]
READONLY_SNAPSHOT_EXTRA = {"defer_destroy": "off", "userrefs": "0", "clones": ""}
# Properties that show "-" as source even though they have a value.
NO_SOURCE = {
    "type",
    "creation",
    "used",
    "available",
    "referenced",
    "compressratio",
    "mounted",
    "createtxg",
    "version",
    "utf8only",
    "normalization",
    "casesensitivity",
    "guid",
    "usedbysnapshots",
    "usedbydataset",
    "usedbychildren",
    "usedbyrefreservation",
    "objsetid",
    "refcompressratio",
    "written",
    "logicalused",
    "logicalreferenced",
    "filesystem_count",
    "snapshot_count",
    "encryption",
    "defer_destroy",
    "userrefs",
}
ALIASES = {
    "avail": "available",
    "refer": "referenced",
    "ratio": "compressratio",
    "compress": "compression",
    "recsize": "recordsize",
    "reserv": "reservation",
    "refreserv": "refreservation",
    "refratio": "refcompressratio",
    "lused": "logicalused",
    "lrefer": "logicalreferenced",
}
VALUE_ALIASES = {"acltype": {"posixacl": "posix", "noacl": "off", "disabled": "off"}}
COLUMN_NAMES = {
    "available": "AVAIL",
    "referenced": "REFER",
    "compressratio": "RATIO",
    "compression": "COMPRESS",
    "recordsize": "RECSIZE",
    "reservation": "RESERV",
    "refreservation": "REFRESERV",
    "refcompressratio": "REFRATIO",
    "logicalused": "LUSED",
    "logicalreferenced": "LREFER",
    "usedbysnapshots": "USEDSNAP",
    "usedbydataset": "USEDDS",
    "usedbychildren": "USEDCHILD",
    "usedbyrefreservation": "USEDREFRESERV",
    "filesystem_limit": "FSLIMIT",
    "snapshot_limit": "SSLIMIT",
    "filesystem_count": "FSCOUNT",
    "snapshot_count": "SSCOUNT",
    "redundant_metadata": "REDUND_MD",
    "special_small_blocks": "SPECIAL_SMALL_BLOCKS",
    "primarycache": "PRIMARYCACHE",
    "secondarycache": "SECONDARYCACHE",
}
NUMERIC = {
    "used",
    "available",
    "referenced",
    "quota",
    "reservation",
    "recordsize",
    "refquota",
    "refreservation",
    "usedbysnapshots",
    "usedbydataset",
    "usedbychildren",
    "usedbyrefreservation",
    "written",
    "logicalused",
    "logicalreferenced",
    "creation",
    "createtxg",
    "guid",
    "objsetid",
    "compressratio",
    "refcompressratio",
    "copies",
    "filesystem_limit",
    "snapshot_limit",
    "filesystem_count",
    "snapshot_count",
    "special_small_blocks",
    "userrefs",
    "pbkdf2iters",
    "version",
}


# zprop_values(): how OpenZFS lists the allowed values in "must be one of" errors.
VALUES_TEXT = {
    "compression": "on | off | lzjb | gzip | gzip-[1-9] | zle | lz4 | zstd | zstd-[1-19] | zstd-fast | "
    "zstd-fast-[1-10,20,30,40,50,60,70,80,90,100,500,1000]",
    "checksum": "on | off | fletcher2 | fletcher4 | sha256 | sha512 | skein | edonr | blake3",
    "dedup": "on | off | verify | sha256[,verify] | sha512[,verify] | skein[,verify] | edonr,verify | blake3[,verify]",
}


def canonical_prop(name):
    return ALIASES.get(name, name)


def is_user_prop(name):
    return ":" in name


def valid_user_prop_name(name):
    return bool(re.fullmatch(r"[a-z0-9_.:+-]+", name)) and not name.startswith(":") and len(name) <= 256


# ---------------------------------------------------------------- numbers

UNITS = "BKMGTPE"


def nicebytes(num):
    """zfs_nicebytes(): 0B, 96K, 1.50G, 12.5G, 123G (at most 5 characters when inexact)."""
    n, index = num, 0
    while n >= 1024 and index < len(UNITS) - 1:
        n //= 1024
        index += 1
    unit = UNITS[index]
    if index == 0 or num % (1024**index) == 0:
        return "%d%s" % (n, unit)
    value = num / (1024**index)
    for precision in (2, 1, 0):
        text = "%.*f%s" % (precision, value, unit)
        if len(text) <= 5:
            break
    return text


def nicestrtonum(value):
    """zfs_nicestrtonum(): (bytes, None) or (None, OpenZFS error text). 10G, 1.5M, 64k, 10GB, 1KiB."""
    if not value or not (value[0].isdigit() or value[0] == "."):
        return None, "bad numeric value '%s'" % value
    m = re.match(r"\d*(\.\d*)?", value)
    number, rest = m.group(0), value[m.end() :]
    shift = _str2shift(rest)
    if shift is None:
        return None, "invalid numeric suffix '%s'" % rest
    if "." in number:
        try:
            return int(float(number) * (1 << shift)), None
        except ValueError:
            return None, "bad numeric value '%s'" % value
    n = int(number or "0") << shift
    if n >= 1 << 64:
        return None, "numeric value is too large"
    return n, None


def _str2shift(suffix):
    if not suffix:
        return 0
    i = "BKMGTPEZ".find(suffix[0].upper())
    if i < 0:
        return None
    rest = suffix[1:].upper()
    if rest in ("", "B" if suffix[0].upper() != "B" else "") or (rest == "IB" and i > 0):
        return 10 * i
    return None


def parse_size(text):
    return nicestrtonum(text)[0]


# ---------------------------------------------------------------- the database


def _real(root, path):
    return os.path.join(root, path.lstrip("/")) if root else path


class Db:
    """One locked view of the database. Use through `zfsdb.db(root)`."""

    def __init__(self, root, data):
        self.root = root
        self.data = data
        self._dirty = False
        self._cache = {}
        self.path = _real(root, DB_PATH)

    @property
    def dirty(self):
        return self._dirty

    @dirty.setter
    def dirty(self, value):
        self._dirty = value
        self._cache.clear()  # any change invalidates the space figures

    def save(self):
        """Write the database now (the lock is held by db())."""
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.data, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    # -- basics

    @property
    def pools(self):
        return self.data["pools"]

    @property
    def datasets(self):
        return self.data["datasets"]

    def real(self, path):
        return _real(self.root, path)

    def exists(self, name):
        return name in self.datasets

    def next_txg(self):
        self.data["txg"] = self.data.get("txg", 1) + 1
        return self.data["txg"]

    def pool_of(self, name):
        return re.split(r"[/@]", name, maxsplit=1)[0]

    def parent_of(self, name):
        if "@" in name:
            return name.split("@", 1)[0]
        return name.rsplit("/", 1)[0] if "/" in name else None

    def children(self, name):
        """Direct child filesystems/volumes (sorted)."""
        prefix = name + "/"
        return sorted(n for n in self.datasets if n.startswith(prefix) and "/" not in n[len(prefix) :] and "@" not in n)

    def snapshots(self, name):
        prefix = name + "@"
        snaps = [n for n in self.datasets if n.startswith(prefix)]
        return sorted(snaps, key=lambda n: self.datasets[n]["createtxg"])

    def descendants(self, name):
        """All descendants (filesystems and snapshots), depth first, children before parents' siblings."""
        out = []
        for snap in self.snapshots(name):
            out.append(snap)
        for child in self.children(name):
            out.append(child)
            out.extend(self.descendants(child))
        return out

    def clones_of(self, names):
        """The filesystems cloned from a snapshot of (or below) any of names, sorted."""
        snaps = {n for n in names if "@" in n}
        return sorted(c for c, ds in self.datasets.items() if ds.get("origin") in snaps)

    def open_error(self, name):
        return ZfsError("cannot open '%s': dataset does not exist" % name)

    def require(self, name):
        if name not in self.datasets:
            raise self.open_error(name)
        return self.datasets[name]

    # -- property values

    def local(self, name, prop):
        return self.datasets[name]["props"].get(prop)

    def inherited(self, name, prop):
        """(value, source name or None) for an inheritable property, None if only the default applies."""
        if "@" in name:
            fs = name.split("@", 1)[0]
            v = self.local(fs, prop)
            if v is not None:
                return v, fs
            cur = self.parent_of(fs)
        else:
            cur = self.parent_of(name)
        while cur is not None:
            v = self.local(cur, prop)
            if v is not None:
                return v, cur
            cur = self.parent_of(cur)
        return None

    def mountpoint(self, name):
        """(mountpoint value, source kind, source dataset) for a filesystem."""
        v = self.local(name, "mountpoint")
        if v is not None:
            return v, "local", name
        cur = self.parent_of(name)
        while cur is not None:
            v = self.local(cur, "mountpoint")
            if v is not None:
                if v in ("none", "legacy"):
                    return v, "inherited", cur
                return v.rstrip("/") + "/" + name[len(cur) + 1 :], "inherited", cur
            cur = self.parent_of(cur)
        return "/" + name, "default", None

    def get(self, name, prop):
        """(raw value, source) of one property; raw values are canonical strings.

        source: "local", "default", "-", "inherited from X", or None if the
        property does not apply to this dataset's type (shown as "-" "-").
        """
        ds = self.datasets[name]
        is_snap = ds["type"] == "snapshot"
        if is_user_prop(prop):
            v = ds["props"].get(prop)
            if v is not None:
                return v, "local"
            inh = self.inherited(name, prop)
            if inh:
                return inh[0], "inherited from %s" % inh[1]
            return "-", "-"
        if prop == "origin":
            return (ds["origin"], "-") if ds.get("origin") else (None, None)
        if prop in ("volsize", "volblocksize"):
            return None, None  # no volumes in this fake ZFS
        if prop in READONLY_SNAPSHOT_EXTRA:
            return (READONLY_SNAPSHOT_EXTRA[prop], "-") if is_snap else (None, None)
        if prop not in NATIVE:
            return None, None
        if is_snap and prop not in SNAPSHOT_PROPS:
            return None, None
        stat = self._stat(name, prop)
        if stat is not None:
            return stat, "-"
        default, inheritable, _kind, settable = NATIVE[prop]
        if prop == "mountpoint":
            value, kind, src = self.mountpoint(name)
            if kind == "inherited":
                return value, "inherited from %s" % src
            return value, kind
        v = ds["props"].get(prop)
        if v is not None:
            return v, "local"
        if inheritable:
            inh = self.inherited(name, prop)
            if inh:
                return inh[0], "inherited from %s" % inh[1]
        if prop in NO_SOURCE or not settable:
            return default, "-"
        return default, "default"

    def _stat(self, name, prop):
        ds = self.datasets[name]
        if prop == "type":
            return ds["type"]
        if prop == "creation":
            return str(ds["creation"])
        if prop == "createtxg":
            return str(ds["createtxg"])
        if prop in ("guid", "objsetid"):
            return str(ds[prop])
        if prop in ("compressratio", "refcompressratio"):
            return "1.00"
        if prop == "mounted":
            return "yes" if ds.get("mounted") else "no"
        if prop in ("referenced", "logicalreferenced"):
            return str(self.referenced(name))
        if prop in ("used", "logicalused"):
            return str(self.used(name))
        if prop == "available":
            return str(self.available(name))
        if prop == "usedbydataset":
            return str(self.referenced(name)) if ds["type"] != "snapshot" else None
        if prop == "usedbychildren":
            return str(sum(self.charged(c) for c in self.children(name)))
        if prop == "usedbysnapshots":
            return "0"
        if prop == "usedbyrefreservation":
            return str(max(0, int(self.get_local_or_default(name, "refreservation")) - self.referenced(name)))
        if prop == "written":
            return "0" if ds["type"] == "snapshot" else str(self.referenced(name))
        return None

    def get_local_or_default(self, name, prop):
        v = self.datasets[name]["props"].get(prop)
        return v if v is not None else NATIVE[prop][0]

    # -- space

    def other_mountpoints(self, name):
        out = set()
        for other, ds in self.datasets.items():
            if other != name and ds["type"] == "filesystem" and ds.get("mounted"):
                out.add(self.mount_dir(other))
        return out

    def referenced(self, name):
        key = ("referenced", name)
        if key not in self._cache:
            self._cache[key] = self._referenced(name)
        return self._cache[key]

    def _referenced(self, name):
        ds = self.datasets[name]
        if ds["type"] == "snapshot":
            return ds.get("referenced", EMPTY_FS_BYTES)
        path = self.mount_dir(name) if ds.get("mounted") else self.stash(name)
        return EMPTY_FS_BYTES + _disk_usage(path, self.other_mountpoints(name))

    def used(self, name):
        ds = self.datasets[name]
        if ds["type"] == "snapshot":
            return 0
        refres = int(self.get_local_or_default(name, "refreservation"))
        ref = self.referenced(name)
        return ref + max(0, refres - ref) + sum(self.charged(c) for c in self.children(name))

    def charged(self, name):
        """What a dataset takes from its parent: used, or its reservation if larger."""
        return max(self.used(name), int(self.get_local_or_default(name, "reservation")))

    def pool_alloc(self, pool):
        return self.used(pool)

    def pool_size(self, pool):
        return self.pools[pool]["size"]

    def slop(self, pool):
        size = self.pool_size(pool)
        return min(max(size >> 5, 128 << 20), 128 << 30) if size > (256 << 20) else size >> 1

    def available(self, name):
        if "@" in name:
            return 0
        pool = self.pool_of(name)
        if name == pool:
            free = self.pool_size(pool) - self.slop(pool) - self.used(pool)
            return max(0, free)
        avail = self.available(self.parent_of(name))
        # An unused part of our own reservation is ours on top of the parent's free space.
        reservation = int(self.get_local_or_default(name, "reservation"))
        avail += max(0, reservation - self.used(name))
        quota = int(self.get_local_or_default(name, "quota"))
        if quota:
            avail = min(avail, max(0, quota - self.used(name)))
        refquota = int(self.get_local_or_default(name, "refquota"))
        if refquota:
            avail = min(avail, max(0, refquota - self.referenced(name)))
        return avail

    # -- mounting

    def should_mount(self, name):
        ds = self.datasets[name]
        if ds["type"] != "filesystem":
            return False
        if self.get_local_or_default(name, "canmount") != "on":
            return False
        return self.mountpoint(name)[0] not in ("none", "legacy")

    def mount_dir(self, name):
        """The real directory of a filesystem's mountpoint: below the node's /rpool, /srv and /mnt
        as it is, anywhere else mapped below /var/lib/pvesim/zfs-mnt (the node's); never a host path."""
        path = self.real(node_dir_of(self.mountpoint(name)[0]))
        real = os.path.realpath(path)
        bases = (NODE_POOL_DIR, MAPPED_MOUNTS) + node.DATA_DIRS
        if not any(
            real == base or real.startswith(base + "/") for base in (os.path.realpath(self.real(b)) for b in bases)
        ):
            raise ZfsError(
                "cannot mount '%s': mountpoint '%s' resolves outside the simulated node"
                % (name, self.mountpoint(name)[0])
            )
        return path

    def data_path(self, name):
        """Where a filesystem's files are now: its mountpoint, or the stash when unmounted."""
        if self.datasets[name].get("mounted"):
            return self.mount_dir(name)
        return self.stash(name)

    def snap_path(self, name):
        return self.real(os.path.join(SNAP_STORE, str(self.datasets[name]["guid"])))

    def stash(self, name):
        return self.real(os.path.join(DATA_STASH, str(self.datasets[name]["guid"])))

    def mount_paths(self, names):
        return {n: (self.mount_dir(n) if self.datasets[n].get("mounted") else None) for n in names}

    def apply_mounts(self, before):
        """After a property change: move each dataset's data to its new place.

        `before` maps names to their old mounted paths (mount_paths()). Like
        ZFS: unmount what changed (deepest first, so nested children are out
        of the way), then mount it at its new place (parents first).
        """
        changed = {}
        for name, old in before.items():
            if name not in self.datasets:
                continue
            new = self.mount_dir(name) if self.should_mount(name) else None
            if old != new:
                changed[name] = (old, new)
        for name in sorted(changed, key=lambda n: -n.count("/")):
            old = changed[name][0]
            if old is not None:
                _move_tree(old, self.stash(name))
                self.datasets[name]["mounted"] = False
        for name in sorted(changed, key=lambda n: n.count("/")):
            new = changed[name][1]
            if new is not None:
                _move_tree(self.stash(name), new)
                self.datasets[name]["mounted"] = True
        if changed:
            self.dirty = True

    def make_mounted(self, name):
        ds = self.datasets[name]
        if self.should_mount(name):
            path = self.mount_dir(name)
            os.makedirs(path, exist_ok=True)
            ds["mounted"] = True
        else:
            os.makedirs(self.stash(name), exist_ok=True)
            ds["mounted"] = False

    # -- busy

    def busy(self, name):
        ds = self.datasets[name]
        if ds["type"] != "filesystem" or not ds.get("mounted"):
            return False
        path = os.path.realpath(self.mount_dir(name))
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            for link in ("cwd", "root"):
                try:
                    target = os.readlink("/proc/%s/%s" % (pid, link))
                except OSError:
                    continue
                if target == path or target.startswith(path + "/"):
                    return True
        try:
            with open("/proc/self/mountinfo", encoding="utf-8") as f:
                for line in f:
                    mnt = line.split()[4].encode().decode("unicode_escape")
                    if mnt == path or mnt.startswith(path + "/"):
                        return True
        except OSError:
            pass
        return self._used_by_running_ct(name)

    def _used_by_running_ct(self, name):
        """A running CT has this dataset's volume as rootfs or mpN (current config section)."""
        from pvesim import storage

        volid = storage.volid_for_dataset(name, root=self.root)
        if volid is None:
            return False
        conf_dir = self.real("/etc/pve/lxc")
        storage_id, volname = volid.split(":", 1)
        pattern = re.compile(r"^(rootfs|mp\d+):\s*(volume=)?%s:%s(,|$)" % (re.escape(storage_id), re.escape(volname)))
        try:
            confs = [c for c in os.listdir(conf_dir) if re.fullmatch(r"\d+\.conf", c)]
        except OSError:
            return False
        for conf in confs:
            try:
                with open(os.path.join(conf_dir, conf), encoding="utf-8") as f:
                    uses = any(pattern.match(line) for line in _current_section(f))
            except OSError:
                continue
            if uses and self._ct_running(conf[:-5]):
                return True
        return False

    def _ct_running(self, vmid):
        if not self.root:
            try:
                from pvesim import ctstatus

                return bool(ctstatus.is_running(vmid))
            except Exception:  # noqa: BLE001 - fall back to PVE's own check
                pass
        return vmid in running_ct_ids(self.root)


def _current_section(lines):
    for line in lines:
        if line.startswith("["):
            return
        yield line


def running_ct_ids(root=""):
    """VMIDs whose LXC command socket exists in the node's network namespace (facts §9)."""
    from pvesim import namespace

    return set(re.findall(r"@/var/lib/lxc/(\d+)/command$", namespace.proc_net_unix(root), re.M))


def _disk_usage(path, skip):
    total = 0
    seen = set()
    stack = [path]
    while stack:
        cur = stack.pop()
        try:
            entries = os.scandir(cur)
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    continue
                seen.add(key)
                if entry.is_dir(follow_symlinks=False):
                    if entry.path in skip:
                        continue
                    stack.append(entry.path)
                total += st.st_blocks * 512
    return total


def _move_tree(src, dst):
    """Move directory src to dst (merging into dst if it exists); src may be missing."""
    if not os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
        return
    if os.path.isdir(dst):
        for entry in os.listdir(src):
            target = os.path.join(dst, entry)
            if os.path.isdir(target) and not os.path.islink(target) and not os.listdir(target):
                os.rmdir(target)
            shutil.move(os.path.join(src, entry), target)
        os.rmdir(src)
        return
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.move(src, dst)


def _empty():
    return {"pools": {}, "datasets": {}, "txg": 1}


@contextlib.contextmanager
def db(root=""):
    """Lock the database, yield a Db, save it if changed."""
    path = _real(root, DB_PATH)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            data = _empty()
        d = Db(root, data)
        d.path = path
        yield d
        if d.dirty:
            d.save()


def _new_guid():
    return random.getrandbits(63) | 1


# ---------------------------------------------------------------- validation


def check_name(name, action="create"):
    """OpenZFS name checks; returns an error message or None."""
    base = name.split("@", 1)[0]
    if not base:
        return "cannot %s '%s': empty component or misplaced '@' or '#' delimiter in name" % (action, name)
    if len(name) >= 256:
        return "cannot %s '%s': name is too long" % (action, name)
    if name.startswith("/"):
        return "cannot %s '%s': leading slash in name" % (action, name)
    if name.endswith("/") or "//" in name:
        return (
            "cannot %s '%s': trailing slash in name" % (action, name)
            if name.endswith("/")
            else ("cannot %s '%s': empty component or misplaced '@' or '#' delimiter in name" % (action, name))
        )
    if name.count("@") > 1:
        return "cannot %s '%s': multiple '@' and/or '#' delimiters in name" % (action, name)
    for component in re.split(r"[/@]", name):
        if component == ".":
            return "cannot %s '%s': self reference, '.' is found in name" % (action, name)
        if component == "..":
            return "cannot %s '%s': parent reference, '..' is found in name" % (action, name)
    for ch in name:
        if not (ch.isalnum() or ch in "-_.: /@"):
            return "cannot %s '%s': invalid character '%s' in name" % (action, name, ch)
    return None


def validate_value(name, prop, value, action="set"):
    """Canonical stored value of `prop=value`, or raise ZfsError with OpenZFS's text."""
    where = "cannot set property for '%s'" % name if action == "set" else "cannot create '%s'" % name
    if is_user_prop(prop):
        if not valid_user_prop_name(prop):
            raise ZfsError("%s: invalid property '%s'" % (where, prop))
        if len(value) > 8191:
            raise ZfsError("%s: property value too long" % where)
        return value
    if prop not in NATIVE:
        raise ZfsError("%s: invalid property '%s'" % (where, prop))
    default, _inh, kind, settable = NATIVE[prop]
    if not settable:
        raise ZfsError("%s: '%s' is readonly" % (where, prop))
    if kind == "size":
        if value == "none":
            return "0"
        n, err = nicestrtonum(value)
        if err:
            raise ZfsError("%s: %s" % (where, err))
        return str(n)
    if kind == "limit":
        if value == "none":
            return "none"
        if not value.isdigit():
            raise ZfsError("%s: bad numeric value '%s'" % (where, value))
        return value
    if kind == "recordsize":
        n, err = nicestrtonum(value)
        if err:
            raise ZfsError("%s: %s" % (where, err))
        if n < 512 or n > (1 << 24) or n & (n - 1):
            raise ZfsError("%s: '%s' must be power of 2 from 512B to 16M" % (where, prop))
        return str(n)
    if kind == "smallblocks":
        n, err = nicestrtonum(value)
        if err:
            raise ZfsError("%s: %s" % (where, err))
        return str(n)
    if kind == "path":
        if value in ("none", "legacy"):
            return value
        if not value.startswith("/"):
            raise ZfsError("%s: '%s' must be an absolute path, 'none', or 'legacy'" % (where, prop))
        return os.path.normpath(value) if value != "/" else "/"
    if kind == "str":
        return value
    value = VALUE_ALIASES.get(prop, {}).get(value, value)
    if value not in kind:
        raise ZfsError("%s: '%s' must be one of '%s'" % (where, prop, VALUES_TEXT.get(prop, " | ".join(kind))))
    return value


# ---------------------------------------------------------------- operations


def create_pool(pool, size, mountpoint=None, props=None, root=""):
    with db(root) as d:
        if pool in d.pools:
            raise ZfsError("cannot create '%s': pool already exists" % pool)
        d.pools[pool] = {"health": "ONLINE", "size": int(size), "guid": _new_guid(), "created": int(time.time())}
        d.datasets[pool] = {
            "type": "filesystem",
            "creation": int(time.time()),
            "createtxg": 1,
            "guid": _new_guid(),
            "objsetid": 54,
            "props": {},
        }
        if mountpoint:
            d.datasets[pool]["props"]["mountpoint"] = mountpoint
        for k, v in (props or {}).items():
            d.datasets[pool]["props"][k] = validate_value(pool, k, v, "create")
        d.make_mounted(pool)
        d.dirty = True


def set_pool_health(pool, health, root=""):
    """Test hook: make `zpool status -x`/`zpool list` report a pool as e.g. DEGRADED."""
    with db(root) as d:
        if pool not in d.pools:
            raise ZfsError("cannot open '%s': no such pool" % pool)
        d.pools[pool]["health"] = health
        d.dirty = True


def create(name, props=None, parents=False, root=""):
    """zfs create [-p] [-o k=v]... name"""
    props = props or {}
    err = check_name(name)
    if err:
        raise ZfsError(err)
    if "@" in name:
        raise ZfsError("cannot create '%s': snapshot delimiter '@' is not expected here" % name)
    with db(root) as d:
        pool = d.pool_of(name)
        if pool not in d.pools:
            raise ZfsError("cannot create '%s': no such pool '%s'" % (name, pool))
        if name in d.datasets:
            if parents:
                return
            raise ZfsError("cannot create '%s': dataset already exists" % name)
        stored = {k: validate_value(name, k, v, "create") for k, v in props.items()}
        parent = d.parent_of(name)
        missing = []
        while parent is not None and parent not in d.datasets:
            missing.append(parent)
            parent = d.parent_of(parent)
        if missing and not parents:
            raise ZfsError("cannot create '%s': parent does not exist" % name)
        for ancestor in reversed(missing):
            _add_fs(d, ancestor, {})
        _add_fs(d, name, stored)


def _add_fs(d, name, props):
    txg = d.next_txg()
    d.datasets[name] = {
        "type": "filesystem",
        "creation": int(time.time()),
        "createtxg": txg,
        "guid": _new_guid(),
        "objsetid": 256 + txg,
        "props": dict(props),
    }
    d.make_mounted(name)
    d.dirty = True


def snapshot(names, recursive=False, props=None, root=""):
    with db(root) as d:
        todo = []
        for full in names:
            if "@" not in full:
                raise ZfsError("cannot create snapshot '%s': missing '@' delimiter in snapshot name" % full)
            err = check_name(full, "create snapshot")
            if err:
                raise ZfsError(err)
            fs, snap = full.split("@", 1)
            if not snap:
                raise ZfsError(
                    "cannot create snapshot '%s': empty component or misplaced '@' or '#' delimiter in name" % full
                )
            if fs not in d.datasets or d.datasets[fs]["type"] == "snapshot":
                raise ZfsError("cannot open '%s': dataset does not exist" % fs)
            targets = [fs] + ([n for n in d.descendants(fs) if "@" not in n] if recursive else [])
            for t in targets:
                sname = "%s@%s" % (t, snap)
                if sname in d.datasets:
                    raise ZfsError("cannot create snapshot '%s': dataset already exists" % sname)
                todo.append((t, sname))
        txg = d.next_txg()
        for fs, sname in todo:
            d.datasets[sname] = {
                "type": "snapshot",
                "creation": int(time.time()),
                "createtxg": txg,
                "guid": _new_guid(),
                "objsetid": 256 + txg,
                "props": dict(props or {}),
                "referenced": d.referenced(fs),
            }
            _copy_data(d, d.data_path(fs), d.snap_path(sname), fs)
        d.dirty = True


def rollback(name, recursive=False, root=""):
    """zfs rollback [-r] fs@snap: the filesystem's files become the snapshot's again."""
    with db(root) as d:
        if "@" not in name:
            raise ZfsError("cannot open '%s': operation only applies to snapshots" % name)
        fs = name.split("@", 1)[0]
        if name not in d.datasets:
            raise ZfsError("cannot open '%s': dataset does not exist" % name)
        snaps = d.snapshots(fs)
        later = snaps[snaps.index(name) + 1 :]
        if later and not recursive:
            raise ZfsError(
                "cannot rollback to '%s': more recent snapshots or bookmarks exist\n"
                "use '-r' to force deletion of the following snapshots and bookmarks:\n%s" % (name, "\n".join(later))
            )
        for s in later:
            _remove_fs(d, s)
        target = d.data_path(fs)
        nested = _nested_paths(d, fs, target)
        for entry in os.listdir(target) if os.path.isdir(target) else []:
            path = os.path.join(target, entry)
            if path in nested:
                continue
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        _copy_data(d, d.snap_path(name), target, None)
        d.dirty = True


def rename(name, new, root=""):
    """zfs rename fs new: the filesystem, its children and snapshots get the new name; its files move
    with its mountpoint when that follows the name (the existing mount handling moves them)."""
    with db(root) as d:
        for candidate in (name, new):
            err = check_name(candidate, "rename to" if candidate == new else "open")
            if err:
                raise ZfsError(err)
        ds = d.require(name)
        if "@" in name or "@" in new or ds["type"] != "filesystem" or "/" not in name:
            raise ZfsError("cannot rename '%s': pvesim renames filesystems only" % name)
        if d.pool_of(new) != d.pool_of(name):
            raise ZfsError("cannot rename to '%s': datasets must be within same pool" % new)
        if new in d.datasets:
            raise ZfsError("cannot rename to '%s': dataset already exists" % new)
        if d.parent_of(new) not in d.datasets:
            raise ZfsError("cannot rename to '%s': parent does not exist" % new)
        if new.startswith(name + "/"):
            raise ZfsError(
                "cannot rename to '%s': New dataset name cannot be a descendant of current dataset name" % new
            )
        moved = [name] + d.descendants(name)
        renamed = {old: new + old[len(name) :] for old in moved}
        before = d.mount_paths([n for n in moved if d.datasets[n]["type"] == "filesystem"])
        for old in moved:
            d.datasets[renamed[old]] = d.datasets.pop(old)
        for other in d.datasets.values():
            if other.get("origin") in renamed:
                other["origin"] = renamed[other["origin"]]
        d.dirty = True
        d.apply_mounts({renamed[old]: path for old, path in before.items()})


def clone(snapshot, name, props=None, root=""):
    """zfs clone [-o k=v]... fs@snap name: a filesystem with the snapshot's files (a copy: this fake ZFS
    has no copy-on-write) and the snapshot as its origin."""
    with db(root) as d:
        err = check_name(name)
        if err:
            raise ZfsError(err)
        if "@" not in snapshot:
            raise ZfsError("cannot open '%s': operation only applies to snapshots" % snapshot)
        if snapshot not in d.datasets:
            raise ZfsError("cannot open '%s': dataset does not exist" % snapshot)
        if d.pool_of(name) != d.pool_of(snapshot):
            raise ZfsError("cannot create '%s': source and target pools differ" % name)
        if name in d.datasets:
            raise ZfsError("cannot create '%s': dataset already exists" % name)
        if d.parent_of(name) not in d.datasets:
            raise ZfsError("cannot create '%s': parent does not exist" % name)
        stored = {k: validate_value(name, k, v, "create") for k, v in (props or {}).items()}
        _add_fs(d, name, stored)
        d.datasets[name]["origin"] = snapshot
        _copy_data(d, d.snap_path(snapshot), d.data_path(name), None)


def _nested_paths(d, fs, base):
    """Directories below `base` where other datasets are mounted."""
    return {p for p in d.other_mountpoints(fs) if p.startswith(base.rstrip("/") + "/")}


def _copy_data(d, src, dst, fs):
    """cp -a src/. dst/ ; nested dataset mountpoints (when fs is given) become empty directories."""
    os.makedirs(dst, exist_ok=True)
    if os.path.isdir(src) and os.listdir(src):
        subprocess.run(["cp", "-a", "--", src.rstrip("/") + "/.", dst], check=True, capture_output=True)
    if fs is not None:
        for path in _nested_paths(d, fs, src):
            copy = os.path.join(dst, os.path.relpath(path, src))
            shutil.rmtree(copy, ignore_errors=True)
            os.makedirs(copy, exist_ok=True)


def destroy(name, recursive=False, dry_run=False, verbose=False, root=""):
    """zfs destroy [-r] [-n] [-v]: returns stdout text; raises ZfsError."""
    with db(root) as d:
        if "@" in name:
            fs, snap = name.split("@", 1)
            if fs not in d.datasets:
                raise d.open_error(fs)
            targets = [n for n in [fs] + (d.descendants(fs) if recursive else []) if "@" not in n]
            snaps = ["%s@%s" % (t, snap) for t in targets if "%s@%s" % (t, snap) in d.datasets]
            if not snaps:
                raise ZfsError("could not find any snapshots to destroy; check snapshot names.")
            clones = d.clones_of(snaps)
            if clones:
                raise ZfsError(
                    "cannot destroy '%s': snapshot has dependent clones\nuse '-R' to destroy the following "
                    "datasets:\n%s" % (snaps[0], "\n".join(clones))
                )
            out = ""
            if verbose:
                out += "".join(("would destroy %s\n" if dry_run else "will destroy %s\n") % s for s in snaps)
                out += ("would reclaim %s\n" if dry_run else "will reclaim %s\n") % nicebytes(0)
            if not dry_run:
                for s in snaps:
                    _remove_fs(d, s)
                d.dirty = True
            return out
        ds = d.require(name)
        if "/" not in name and not recursive:
            raise ZfsError(
                "cannot destroy '%s': operation does not apply to pools\n"
                "use 'zfs destroy -r %s' to destroy all datasets in the pool\n"
                "use 'zpool destroy %s' to destroy the pool itself" % (name, name, name)
            )
        deps = d.descendants(name)
        if deps and not recursive:
            raise ZfsError(
                "cannot destroy '%s': %s has children\nuse '-r' to destroy the following datasets:\n%s"
                % (name, ds["type"], "\n".join(deps))
            )
        clones = d.clones_of(deps)
        if clones:
            raise ZfsError(
                "cannot destroy '%s': %s has dependent clones\nuse '-R' to destroy the following datasets:\n%s"
                % (name, ds["type"], "\n".join(clones))
            )
        # Children first (deepest first), then the dataset itself.
        order = sorted(deps, key=lambda n: (-n.count("/"), "@" not in n)) + [name]
        out = ""
        if verbose:
            # zfs prints dependents in iteration order, then the target.
            out = "".join(("would destroy %s\n" if dry_run else "will destroy %s\n") % n for n in deps + [name])
        if dry_run:
            return out
        for n in order:
            if d.datasets[n]["type"] == "filesystem" and d.busy(n):
                raise ZfsError("cannot destroy '%s': dataset is busy" % n)
        removed = 0
        for n in order:
            if "/" not in n and "@" not in n:
                continue  # the pool's root dataset stays (zfs destroy -r pool)
            if removed:
                # `zfs destroy -r` destroys one dataset after another: what is gone stays gone
                from pvesim import cli

                cli.phase("between-children", error=ZfsError, flush=d.save, rc=1)
            _remove_fs(d, n)
            removed += 1
        return out


def _remove_fs(d, name):
    ds = d.datasets[name]
    if ds["type"] == "filesystem":
        if ds.get("mounted"):
            path = d.mount_dir(name)
            shutil.rmtree(path, ignore_errors=True)
            # Re-create the directory if a parent dataset's mountpoint is it (never for ours).
        shutil.rmtree(d.stash(name), ignore_errors=True)
    else:
        shutil.rmtree(d.snap_path(name), ignore_errors=True)
    del d.datasets[name]
    d.dirty = True


def set_props(name, assignments, root=""):
    """zfs set k=v [k=v]... name"""
    with db(root) as d:
        ds = d.require(name)
        stored = {}
        for prop, value in assignments:
            prop = canonical_prop(prop)
            if ds["type"] == "snapshot" and not is_user_prop(prop) and prop in NATIVE and NATIVE[prop][3]:
                raise ZfsError("cannot set property for '%s': this property can not be modified for snapshots" % name)
            stored[prop] = validate_value(name, prop, value)
            if prop in ("quota", "refquota") and stored[prop] != "0":
                current = d.used(name) if prop == "quota" else d.referenced(name)
                if int(stored[prop]) < current:
                    raise ZfsError(
                        "cannot set property for '%s': size is less than current used or reserved space" % name
                    )
        before = d.mount_paths([name] + [n for n in d.descendants(name) if "@" not in n])
        ds["props"].update(stored)
        d.dirty = True
        d.apply_mounts(before)


def inherit(prop, names, recursive=False, root=""):
    prop = canonical_prop(prop)
    with db(root) as d:
        for name in names:
            d.require(name)
        if not is_user_prop(prop):
            if prop not in NATIVE:
                raise ZfsError("invalid property '%s'" % prop)
            if not NATIVE[prop][3]:
                raise ZfsError("%s property is read-only" % prop)
            if not NATIVE[prop][1]:
                msg = "'%s' property cannot be inherited" % prop
                if prop in SIZE_PROPS:
                    msg += "\nuse 'zfs set %s=none' to clear" % prop
                    msg += "\nuse 'zfs inherit -S %s' to revert to received value" % prop
                raise ZfsError(msg)
        for name in names:
            targets = [name] + (d.descendants(name) if recursive else [])
            before = d.mount_paths([n for n in [name] + d.descendants(name) if "@" not in n])
            for t in targets:
                d.datasets[t]["props"].pop(prop, None)
            d.dirty = True
            d.apply_mounts(before)


def list_names(root=""):
    with db(root) as d:
        return sorted(d.datasets)


def dataset_exists(name, root=""):
    with db(root) as d:
        return name in d.datasets


def get_value(name, prop, root=""):
    """Raw (parsable) value of one property, or None if the dataset does not exist."""
    with db(root) as d:
        if name not in d.datasets:
            return None
        return d.get(name, canonical_prop(prop))[0]


def mountpoint_path(name, root=""):
    """Real directory of a mounted filesystem, or None."""
    with db(root) as d:
        if name not in d.datasets or not d.datasets[name].get("mounted"):
            return None
        return d.mount_dir(name)


# ---------------------------------------------------------------- display


def display(name, prop, value, parsable):
    """How `zfs get`/`zfs list` show a raw value."""
    if value is None:
        return "-"
    if is_user_prop(prop):
        return value
    if prop == "creation":
        if parsable:
            return value
        return time.strftime("%a %b %e %H:%M %Y", time.localtime(int(value)))
    if prop in ("compressratio", "refcompressratio"):
        return value if parsable else value + "x"
    if prop in SIZE_PROPS:
        if value == "0":
            return "0" if parsable else "none"
        return value if parsable else nicebytes(int(value))
    if prop in (
        "used",
        "available",
        "referenced",
        "recordsize",
        "usedbysnapshots",
        "usedbydataset",
        "usedbychildren",
        "usedbyrefreservation",
        "written",
        "logicalused",
        "logicalreferenced",
        "special_small_blocks",
    ):
        return value if parsable else nicebytes(int(value))
    if prop in ("filesystem_limit", "snapshot_limit", "filesystem_count", "snapshot_count"):
        if value == "none" and parsable:
            return "18446744073709551615"
        return value
    return value
