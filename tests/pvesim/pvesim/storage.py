"""Storage of the simulated node: /etc/pve/storage.cfg, volumes, templates.

pve-cli-facts §3 (template volids, volume names, checks) and §6 (layouts).
Supported storage types: `dir` (a directory tree, volumes are directories:
`<path>/images/<vmid>/subvol-<vmid>-disk-<n>.subvol`, whatever the size; the
size is remembered in /var/lib/pvesim/volsizes.json, not enforced) and
`zfspool` (volumes are datasets `<pool>/subvol-<vmid>-disk-<n>` of the fake
ZFS in zfsdb, with refquota = size). Other types parse but cannot allocate.

Templates and linked clones (pve-storage `create_base`, `clone_image`, `volume_has_feature`):
`pct template` makes each volume a base volume. On `zfspool` the dataset is renamed `subvol-` ->
`basevol-` (`vm-` -> `base-`) and snapshot `@__base__` taken; a linked clone is `zfs clone
<pool>/<base>@__base__ <pool>/subvol-<newid>-disk-<n> -o refquota=<the base's>`, volume ID
`<storage>:<base>/subvol-<newid>-disk-<n>`, and a base volume with linked clones cannot be freed.
On `dir` only `vm-` names become `base-` (a `.subvol` directory keeps its name: Plugin.pm's
create_base), and a container volume has no linked clone there: the plugin clones only into qcow2,
which a container cannot use. PVE also makes a dir base volume read-only (chmod 0444, chattr +i);
the simulator does not.

Every function takes an optional `root`, the prefix of all real paths (""
inside `pvesim run`, the node directory from outside).
"""

import contextlib
import fcntl
import json
import os
import re
import shutil

from pvesim import cli, ctconfig, node, zfsdb

# Part of the storage API; one implementation, in ctconfig.
format_size = ctconfig.format_size

CREATE_USAGE = "pct create <vmid> <ostemplate> [OPTIONS]"
VOLSIZES = "/var/lib/pvesim/volsizes.json"
STORAGE_LOCK = "/var/lib/pvesim/storage.lock"

# pve-storage Storage.pm
VZTMPL_EXT_RE = r"\.(?:tar|tar\.gz|tar\.xz|tar\.zst|tar\.bz2)"
ISO_EXT_RE = r"\.(?:iso|img)"
BACKUP_EXT_RE = r"\.(?:tgz|(?:tar|vma)(?:\.(?:gz|lzo|zst|bz2|xz))?)"
STORAGE_ID_RE = r"[a-z][a-z0-9\-_.]*[a-z0-9]"
TEMPLATE_FORMATS = (
    (".tar.zst", "tzst"),
    (".tar.gz", "tgz"),
    (".tar.xz", "txz"),
    (".tar.bz2", "tbz2"),
    (".tar", "tar"),
)
CONTENT_BY_TYPE = {
    "dir": {"images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import"},
    "zfspool": {"images", "rootdir"},
}


def _real(root, path):
    """The real path of a storage path; a path outside the simulated node and the machine's
    temporary directories is refused (a dir storage at /etc, a volume name with `..`): the
    simulator never touches the host."""
    real = os.path.join(root, path.lstrip("/")) if root else path
    if not node.in_node(real, root, scratch=True):
        raise cli.PveError(node.outside_message(path))
    return real


def _inside(root, path):
    try:
        return _real(root, path)
    except cli.PveError:
        return None


# ---------------------------------------------------------------- storage.cfg


def parse_storage_cfg(text):
    """PVE's section config: `<type>: <id>` then tab-indented `key value` lines."""
    out = {}
    current = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            if not line.strip():
                current = None
            continue
        m = re.match(r"^(\S+):\s*(\S+)\s*$", line)
        if m and not line[0].isspace():
            stype, sid = m.groups()
            current = {"type": stype, "content": set(), "disable": False}
            out[sid] = current
            continue
        if current is None:
            continue
        parts = line.strip().split(None, 1)
        key = parts[0]
        value = parts[1] if len(parts) > 1 else "1"
        if key == "content":
            current["content"] = {c for c in re.split(r"[,\s]+", value) if c and c != "none"}
        elif key == "disable":
            current["disable"] = value not in ("0", "")
        elif key == "nodes":
            current["nodes"] = {n for n in re.split(r"[,\s]+", value) if n}
        elif key == "sparse":
            current["sparse"] = value not in ("0", "")
        else:
            current[key] = value
    return out


def render_storage_cfg(cfg):
    """Write back in PVE's format (content in the order given by the caller's list)."""
    blocks = []
    for sid, s in cfg.items():
        lines = ["%s: %s" % (s["type"], sid)]
        for key, value in s.items():
            if key in ("type",):
                continue
            if key == "content":
                value = ",".join(value) if value else "none"
            elif key in ("disable", "sparse"):
                if not value:
                    continue
                lines.append("\t%s" % key)
                continue
            elif key == "nodes":
                value = ",".join(sorted(value))
            lines.append("\t%s %s" % (key, value))
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def storages(root=""):
    """{id: {"type", "path"|"pool", "content": set, "disable": bool, ...}} from storage.cfg."""
    try:
        with open(_real(root, node.STORAGE_CFG), encoding="utf-8") as f:
            return parse_storage_cfg(f.read())
    except FileNotFoundError:
        return {}


def get_storage(storage_id, root=""):
    cfg = storages(root)
    if storage_id not in cfg:
        raise cli.PveError("storage '%s' does not exist" % storage_id)
    return cfg[storage_id]


# ---------------------------------------------------------------- volume ids


def parse_volume_id(volid):
    m = re.fullmatch(r"(%s):(.+)" % STORAGE_ID_RE, volid, re.IGNORECASE | re.DOTALL)
    if not m:
        raise cli.PveError("unable to parse volume ID '%s'" % volid)
    return m.group(1), m.group(2)


def parse_volname(scfg, volname):
    """(vtype, name, owner vmid or None, format) as the storage plugin parses it."""
    if scfg["type"] == "zfspool":
        m = re.fullmatch(r"(((base|basevol)-(\d+)-\S+)/)?((base|basevol|vm|subvol)-(\d+)-\S+)", volname)
        if not m:
            raise cli.PveError("unable to parse zfs volume name '%s'" % volname)
        kind = m.group(6)
        fmt = "subvol" if kind in ("subvol", "basevol") else "raw"
        return ("rootdir" if fmt == "subvol" else "images"), m.group(5), int(m.group(7)), fmt
    m = re.fullmatch(r"(\d+)/(\S+)", volname)
    if m:
        vmid, name = m.groups()
        fm = re.fullmatch(r"(?:base|vm|subvol)-\d+-\S+\.(raw|qcow2|vmdk|subvol)", name)
        if not fm:
            raise cli.PveError("unable to parse volume filename '%s'" % name)
        fmt = fm.group(1)
        return ("rootdir" if fmt == "subvol" else "images"), name, int(vmid), fmt
    m = re.fullmatch(r"iso/([^/]+%s)" % ISO_EXT_RE, volname, re.IGNORECASE)
    if m:
        return "iso", m.group(1), None, "iso"
    m = re.fullmatch(r"vztmpl/([^/]+%s)" % VZTMPL_EXT_RE, volname, re.IGNORECASE)
    if m:
        return "vztmpl", m.group(1), None, template_format(m.group(1))
    m = re.fullmatch(r"rootdir/(\d+)", volname)
    if m:
        return "rootdir", m.group(1), int(m.group(1)), "subvol"
    m = re.fullmatch(r"backup/([^/]+%s)" % BACKUP_EXT_RE, volname)
    if m:
        owner = re.match(r"vzdump-(?:lxc|qemu|openvz)-(\d+)-", m.group(1))
        return "backup", m.group(1), int(owner.group(1)) if owner else None, "backup"
    m = re.fullmatch(r"snippets/([^/]+)", volname)
    if m:
        return "snippets", m.group(1), None, "snippet"
    raise cli.PveError("unable to parse directory volume name '%s'" % volname)


def template_format(filename):
    for ext, fmt in TEMPLATE_FORMATS:
        if filename.endswith(ext):
            return fmt
    return "tar"


def _dir_path(scfg, vtype, name, vmid):
    base = scfg.get("path", "")
    sub = {
        "vztmpl": "template/cache",
        "iso": "template/iso",
        "backup": "dump",
        "snippets": "snippets",
    }
    if vtype in sub:
        return os.path.join(base, sub[vtype], name)
    if vtype == "rootdir" and name.isdigit():
        return os.path.join(base, "private", name)
    return os.path.join(base, "images", str(vmid), name)


def resolve_template(volid, root=""):
    """Absolute path of a `storage:vztmpl/<file>` volume (not checked for existence).

    An absolute path is returned as given (the caller checks it). Raises
    cli.PveError with PVE's messages for unknown storages, other content
    types and unparsable names.
    """
    if volid.startswith("/"):
        return volid
    storage_id, volname = parse_volume_id(volid)
    scfg = get_storage(storage_id, root)
    vtype, name, _vmid, _fmt = parse_volname(scfg, volname)
    if vtype != "vztmpl":
        raise cli.PveError("unable to use volume %s - content type needs to be 'vztmpl'" % volid)
    return _real(root, _dir_path(scfg, vtype, name, None))


# ---------------------------------------------------------------- state checks


def storage_active(storage_id, scfg, root=""):
    if scfg["type"] == "zfspool":
        return zfsdb.dataset_exists(scfg.get("pool", ""), root=root)
    if scfg["type"] == "dir":
        path = _inside(root, scfg.get("path", "/nonexistent"))
        return path is not None and os.path.isdir(path)
    return False


def check_enabled(storage_id, root="", node_name=None):
    """storage_check_enabled + activation: the messages of pct create's storage checks."""
    scfg = get_storage(storage_id, root)
    if scfg.get("disable"):
        raise cli.PveError("storage '%s' is disabled" % storage_id)
    here = node_name or _node_name(root)
    if scfg.get("nodes") and here not in scfg["nodes"]:
        raise cli.PveError("storage '%s' is not available on node '%s'" % (storage_id, here))
    if not storage_active(storage_id, scfg, root):
        raise cli.PveError("storage '%s' is not online" % storage_id)
    return scfg


def check_rootdir(storage_id, root="", usage=CREATE_USAGE):
    """pct create's storage checks for a rootfs/mp storage (facts §3, order of checks)."""
    scfg = check_enabled(storage_id, root)
    if "rootdir" not in scfg["content"]:
        raise cli.ParamError(
            {"storage": "storage '%s' does not support container directories" % storage_id},
            usage,
        )
    return scfg


def _node_name(root):
    try:
        with open(_real(root, node.NODE_FILE), encoding="utf-8") as f:
            return f.read().strip() or "pve"
    except FileNotFoundError:
        return node.node_name()


# ---------------------------------------------------------------- volumes


@contextlib.contextmanager
def _storage_lock(root):
    path = _real(root, STORAGE_LOCK)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _load_sizes(root):
    try:
        with open(_real(root, VOLSIZES), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def _save_sizes(root, sizes):
    path = _real(root, VOLSIZES)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(sizes, f, sort_keys=True)
    os.replace(tmp, path)


def _existing_names(storage_id, scfg, vmid, root):
    if scfg["type"] == "zfspool":
        pool = scfg["pool"]
        return {n[len(pool) + 1 :] for n in zfsdb.list_names(root) if n.startswith(pool + "/") and "@" not in n}
    try:
        return set(os.listdir(_real(root, os.path.join(scfg["path"], "images", str(vmid)))))
    except FileNotFoundError:
        return set()


def _free_diskname(existing, vmid, fmt):
    """pve-storage get_next_vm_diskname: the first disk number no (vm|base|subvol|basevol)-<vmid>-disk-<n>
    volume uses (a base volume keeps its number taken)."""
    taken = set()
    for name in existing:
        m = re.match(r"(?:vm|base|subvol|basevol)-%s-disk-(\d+)(?:\.|$)" % vmid, name)
        if m:
            taken.add(int(m.group(1)))
    n = 0
    while n in taken:
        n += 1
    return "%s-%s-disk-%d" % ("subvol" if fmt == "subvol" else "vm", vmid, n)


def alloc_ct_volume(storage_id, vmid, size_gib, root=""):
    """Allocate a container volume; returns its volid (e.g. `local-zfs:subvol-100-disk-0`).

    size_gib may be a float; 0 means no size limit.
    """
    scfg = get_storage(storage_id, root)
    size = int(float(size_gib) * (1 << 30))
    with _storage_lock(root):
        base = _free_diskname(_existing_names(storage_id, scfg, vmid, root), vmid, "subvol")
        if scfg["type"] == "zfspool":
            props = {"acltype": "posixacl", "xattr": "sa"}
            if size:
                props["refquota"] = str(size)
            try:
                zfsdb.create("%s/%s" % (scfg["pool"], base), props=props, root=root)
            except zfsdb.ZfsError as e:
                raise cli.PveError("zfs error: %s" % e.message) from None
            return "%s:%s" % (storage_id, base)
        if scfg["type"] == "dir":
            volname = "%s/%s.subvol" % (vmid, base)
            path = _real(root, _dir_path(scfg, "rootdir", base + ".subvol", vmid))
            os.makedirs(path)
            volid = "%s:%s" % (storage_id, volname)
            sizes = _load_sizes(root)
            sizes[volid] = size
            _save_sizes(root, sizes)
            return volid
        raise cli.PveError("unable to allocate a container volume on storage type '%s'" % scfg["type"])


def _zfs_dataset(scfg, name):
    """The dataset of a zfspool volume: its name without the base part of a linked clone's volname."""
    return "%s/%s" % (scfg["pool"], parse_volname(scfg, name)[1])


def _is_base(scfg, volname):
    """A base volume (after `pct template`): pve-storage's isBase."""
    if scfg["type"] == "zfspool":
        return re.match(r"(base|basevol)-", parse_volname(scfg, volname)[1]) is not None
    return re.fullmatch(r"\d+/base-\S+", volname) is not None


def has_feature(volid, feature, root=""):
    """pve-storage volume_has_feature for 'template' and 'clone' (a linked clone of a container volume:
    valid target formats raw and subvol). A path (bind mount) has none."""
    try:
        storage_id, volname = parse_volume_id(volid)
    except cli.PveError:
        return False
    scfg = get_storage(storage_id, root)
    vtype, _name, _vmid, fmt = parse_volname(scfg, volname)
    if vtype not in ("images", "rootdir"):
        return False
    base = _is_base(scfg, volname)
    if scfg["type"] == "zfspool":
        return {"template": not base, "clone": base}.get(feature, False)
    if feature == "template":
        return not base and fmt in ("qcow2", "raw", "vmdk", "subvol")
    return False  # dir: clone_image makes qcow2 only, not a valid target for a container


def create_base(volid, root=""):
    """pve-storage vdisk_create_base: the volume becomes a base volume; returns its new volid."""
    storage_id, volname = parse_volume_id(volid)
    scfg = get_storage(storage_id, root)
    if _is_base(scfg, volname):
        raise cli.PveError("create_base not possible with base image")
    if scfg["type"] == "zfspool":
        name = parse_volname(scfg, volname)[1]
        new = re.sub(r"^subvol-", "basevol-", name) if name.startswith("subvol-") else re.sub(r"^vm-", "base-", name)
        try:
            zfsdb.rename(_zfs_dataset(scfg, volname), "%s/%s" % (scfg["pool"], new), root=root)
            zfsdb.snapshot(["%s/%s@__base__" % (scfg["pool"], new)], root=root)
        except zfsdb.ZfsError as e:
            raise cli.PveError("zfs error: %s" % e.message) from None
        return "%s:%s" % (storage_id, new)
    owner, name = volname.split("/", 1)
    new = re.sub(r"^vm-", "base-", name)
    if new != name:
        vtype, _n, vmid, _fmt = parse_volname(scfg, volname)
        path = _real(root, _dir_path(scfg, vtype, name, vmid))
        target = _real(root, _dir_path(scfg, vtype, new, vmid))
        if os.path.isfile(target):
            raise cli.PveError("file '%s' already exists" % target)
        os.rename(path, target)
    return "%s:%s/%s" % (storage_id, owner, new)


def clone_volume(volid, newid, root=""):
    """pve-storage vdisk_clone of a base volume (linked clone) for newid; returns the new volid."""
    storage_id, volname = parse_volume_id(volid)
    scfg = get_storage(storage_id, root)
    if not _is_base(scfg, volname):
        raise cli.PveError("clone_image only works on base images")
    if scfg["type"] != "zfspool":
        raise cli.PveError("this storage type does not support clone_image on subvolumes")
    base = parse_volname(scfg, volname)[1]
    fmt = parse_volname(scfg, volname)[3]
    with _storage_lock(root):
        name = _free_diskname(_existing_names(storage_id, scfg, newid, root), newid, fmt)
        refquota = zfsdb.get_value("%s/%s" % (scfg["pool"], base), "refquota", root=root) or "0"
        props = {"refquota": refquota if refquota != "0" else "none"} if fmt == "subvol" else {}
        try:
            zfsdb.clone("%s/%s@__base__" % (scfg["pool"], base), "%s/%s" % (scfg["pool"], name), props, root=root)
        except zfsdb.ZfsError as e:
            raise cli.PveError("zfs error: %s" % e.message) from None
    return "%s:%s/%s" % (storage_id, base, name)


def _linked_clones(storage_id, scfg, volname, root):
    """The volumes cloned from a base volume (pve-storage volume_is_base_and_used)."""
    if scfg["type"] != "zfspool" or not _is_base(scfg, volname):
        return []
    prefix = "%s:%s/" % (storage_id, parse_volname(scfg, volname)[1])
    return [v["volid"] for v in list_content(storage_id, root) if v["volid"].startswith(prefix)]


def volume_path(volid, root=""):
    """The directory (or file) of a volume, as `pvesm path` prints it (a real path)."""
    storage_id, volname = parse_volume_id(volid)
    scfg = get_storage(storage_id, root)
    vtype, name, vmid, _fmt = parse_volname(scfg, volname)
    if scfg["type"] == "zfspool":
        ds = _zfs_dataset(scfg, volname)
        mp = zfsdb.get_value(ds, "mountpoint", root=root)
        if mp is None or mp in ("none", "legacy"):
            mp = "/%s" % ds
        return _real(root, zfsdb.node_dir_of(mp))
    return _real(root, _dir_path(scfg, vtype, name, vmid))


def free_volume(volid, root=""):
    storage_id, volname = parse_volume_id(volid)
    scfg = get_storage(storage_id, root)
    vtype, name, vmid, _fmt = parse_volname(scfg, volname)
    if _linked_clones(storage_id, scfg, volname, root):
        raise cli.PveError("base volume '%s' is still in use by linked clones" % volname)
    with _storage_lock(root):
        if scfg["type"] == "zfspool":
            try:
                zfsdb.destroy(_zfs_dataset(scfg, volname), recursive=True, root=root)
            except zfsdb.ZfsError as e:
                raise cli.PveError("zfs error: %s" % e.message) from None
        else:
            path = _real(root, _dir_path(scfg, vtype, name, vmid))
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.unlink(path)
        sizes = _load_sizes(root)
        if sizes.pop(volid, None) is not None:
            _save_sizes(root, sizes)


def volume_size_bytes(volid, root=""):
    """The size of a volume: refquota for ZFS subvols, the allocated size for dir subvols, file size otherwise."""
    storage_id, volname = parse_volume_id(volid)
    scfg = get_storage(storage_id, root)
    vtype, name, vmid, _fmt = parse_volname(scfg, volname)
    if scfg["type"] == "zfspool":
        value = zfsdb.get_value(_zfs_dataset(scfg, volname), "refquota", root=root)
        if value is None:
            raise cli.PveError("zfs error: cannot open '%s': dataset does not exist" % _zfs_dataset(scfg, volname))
        return int(value)
    sizes = _load_sizes(root)
    if volid in sizes:
        return sizes[volid]
    path = _real(root, _dir_path(scfg, vtype, name, vmid))
    if os.path.isfile(path):
        return os.path.getsize(path)
    return 0


def resize_volume(volid, size_bytes, root=""):
    """Set a container volume's size (refquota on ZFS)."""
    storage_id, volname = parse_volume_id(volid)
    scfg = get_storage(storage_id, root)
    if scfg["type"] == "zfspool":
        try:
            zfsdb.set_props(_zfs_dataset(scfg, volname), [("refquota", str(int(size_bytes)))], root=root)
        except zfsdb.ZfsError as e:
            raise cli.PveError("zfs error: %s" % e.message) from None
        return
    with _storage_lock(root):
        sizes = _load_sizes(root)
        sizes[volid] = int(size_bytes)
        _save_sizes(root, sizes)


def volid_for_dataset(dataset, root=""):
    """`storage:name` of a zfspool volume dataset, or None."""
    for sid, scfg in storages(root).items():
        pool = scfg.get("pool")
        if scfg["type"] == "zfspool" and pool and dataset.startswith(pool + "/"):
            return "%s:%s" % (sid, dataset[len(pool) + 1 :])
    return None


# ---------------------------------------------------------------- status and content


def status(storage_id, scfg, root=""):
    """(state, total, used, avail) in bytes; state active|inactive|disabled; warning text or None."""
    if scfg.get("disable"):
        return "disabled", 0, 0, 0, None
    if scfg["type"] == "zfspool":
        pool = scfg.get("pool", "")
        used = zfsdb.get_value(pool, "used", root=root)
        if used is None:
            return "inactive", 0, 0, 0, "zfs error: cannot open '%s': dataset does not exist" % pool
        avail = int(zfsdb.get_value(pool, "available", root=root))
        return "active", int(used) + avail, int(used), avail, None
    if scfg["type"] == "dir":
        path = _inside(root, scfg.get("path", "/nonexistent"))
        try:
            st = os.statvfs(path or "/nonexistent")
        except OSError:
            return "inactive", 0, 0, 0, None
        total = st.f_blocks * st.f_frsize
        return "active", total, (st.f_blocks - st.f_bfree) * st.f_frsize, st.f_bavail * st.f_frsize, None
    return "inactive", 0, 0, 0, None


def list_content(storage_id, root="", content=None, vmid=None):
    """[{"volid", "format", "content", "size", "vmid"}] of one storage."""
    scfg = get_storage(storage_id, root)
    out = []
    if scfg["type"] == "zfspool":
        pool = scfg.get("pool", "")
        for ds in zfsdb.list_names(root):
            if not ds.startswith(pool + "/") or "@" in ds or "/" in ds[len(pool) + 1 :]:
                continue
            volname = ds[len(pool) + 1 :]
            origin = zfsdb.get_value(ds, "origin", root=root) or ""
            if origin.startswith(pool + "/") and origin.endswith("@__base__"):
                volname = "%s/%s" % (origin[len(pool) + 1 : -len("@__base__")], volname)
            try:
                vtype, _name, owner, fmt = parse_volname(scfg, volname)
            except cli.PveError:
                continue
            size = int(zfsdb.get_value(ds, "refquota", root=root) or 0)
            out.append(
                {"volid": "%s:%s" % (storage_id, volname), "format": fmt, "content": vtype, "size": size, "vmid": owner}
            )
    elif scfg["type"] == "dir":
        base = _real(root, scfg.get("path", ""))
        sizes = _load_sizes(root)
        for sub, vtype in (
            ("template/cache", "vztmpl"),
            ("template/iso", "iso"),
            ("dump", "backup"),
            ("snippets", "snippets"),
        ):
            try:
                names = sorted(os.listdir(os.path.join(base, sub)))
            except FileNotFoundError:
                continue
            for name in names:
                path = os.path.join(base, sub, name)
                if not os.path.isfile(path):
                    continue
                volid = "%s:%s/%s" % (storage_id, vtype, name)
                try:
                    ptype, _n, owner, fmt = parse_volname(scfg, "%s/%s" % (vtype, name))
                except cli.PveError:
                    continue
                if ptype == "backup":
                    fmt = name.split(".", 1)[1] if "." in name else "raw"
                out.append(
                    {"volid": volid, "format": fmt, "content": ptype, "size": os.path.getsize(path), "vmid": owner}
                )
        try:
            owners = sorted(os.listdir(os.path.join(base, "images")))
        except FileNotFoundError:
            owners = []
        for owner in owners:
            if not owner.isdigit():
                continue
            for name in sorted(os.listdir(os.path.join(base, "images", owner))):
                volname = "%s/%s" % (owner, name)
                try:
                    vtype, _n, ovmid, fmt = parse_volname(scfg, volname)
                except cli.PveError:
                    continue
                volid = "%s:%s" % (storage_id, volname)
                path = os.path.join(base, "images", owner, name)
                size = sizes.get(volid, os.path.getsize(path) if os.path.isfile(path) else 0)
                out.append({"volid": volid, "format": fmt, "content": vtype, "size": size, "vmid": ovmid})
    if content:
        wanted = set(content.split(","))
        out = [v for v in out if v["content"] in wanted]
    if vmid is not None:
        out = [v for v in out if v["vmid"] == int(vmid)]
    return sorted(out, key=lambda v: v["volid"])
