# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ZFS dataset lifecycle for nexcage_zfs_dataset. PRIVATE to the collection.

Layers, each testable on its own:

- value normalisation (`normalize_value`): the requested value and the value
  `zfs get -H -p` prints are brought to one canonical string (sizes in bytes,
  on/off, `none` quotas as 0, acltype aliases);
- parsers for `zfs get`, `zfs list` and `zpool list` output;
- the planner (`plan_present`, `order_updates`): which `zfs` argv lists bring a
  dataset to the requested state;
- the in-use guard (`find_holders`): which guest configs or storages use a
  dataset, read from /etc/pve directly;
- `DatasetManager`: reads the node through the Runner and applies the plan.
"""

from __future__ import annotations

import glob
import os
import re

from ansible_collections.cageforge.nexcage.plugins.module_utils import _errors, _module
from ansible_collections.cageforge.nexcage.plugins.module_utils._node.sizes import parse_size
from ansible_collections.cageforge.nexcage.plugins.module_utils._pveconfig import parse_config, parse_storage_cfg
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import CommandFailed

ZFS = "zfs"
ZPOOL = "zpool"
STORAGE_CFG = "/etc/pve/storage.cfg"
LOCAL_LXC_GLOB = "/etc/pve/lxc/*.conf"
LOCAL_QEMU_GLOB = "/etc/pve/qemu-server/*.conf"

# Properties whose values are sizes (bytes in `zfs get -p`).
SIZE_PROPERTIES = frozenset(
    (
        "quota",
        "refquota",
        "reservation",
        "refreservation",
        "recordsize",
        "volsize",
        "volblocksize",
        "special_small_blocks",
    )
)
SIZE_PREFIXES = ("userquota@", "groupquota@", "projectquota@")
# Object-count quotas: plain numbers, `none` is 0.
COUNT_PREFIXES = ("userobjquota@", "groupobjquota@", "projectobjquota@")
# Quotas and reservations for which `none` is printed as 0 with -p.
NONE_IS_ZERO = frozenset(("quota", "refquota", "reservation", "refreservation"))
# Native properties that take on/off (some take more values, which are kept as they are).
ONOFF_PROPERTIES = frozenset(
    (
        "atime",
        "relatime",
        "readonly",
        "exec",
        "setuid",
        "devices",
        "zoned",
        "nbmand",
        "overlay",
        "vscan",
        "utf8only",
        "canmount",
        "xattr",
        "compression",
        "dedup",
        "checksum",
        "jailed",
    )
)
ALIASES = {
    "acltype": {"posixacl": "posix", "noacl": "off"},
}
# Properties that cannot be changed after creation (only given with `zfs create -o`).
CREATE_ONLY = frozenset(("casesensitivity", "normalization", "utf8only", "volblocksize", "encryption", "keyformat"))
# Statistics and identities zfs computes; `zfs set` refuses them.
READ_ONLY = frozenset(
    (
        "available",
        "avail",
        "clones",
        "compressratio",
        "createtxg",
        "creation",
        "encryptionroot",
        "filesystem_count",
        "guid",
        "keystatus",
        "logicalreferenced",
        "logicalused",
        "mounted",
        "objsetid",
        "origin",
        "receive_resume_token",
        "redact_snaps",
        "refcompressratio",
        "referenced",
        "snapshot_count",
        "type",
        "used",
        "usedbychildren",
        "usedbydataset",
        "usedbyrefreservation",
        "usedbysnapshots",
        "version",
        "written",
    )
)
TRUE_WORDS = ("on", "yes", "true", "1")
FALSE_WORDS = ("off", "no", "false", "0")

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*(/[A-Za-z0-9_.:\-]+)*$")


class ZfsError(_errors.NexcageError):
    """A dataset failure: the message first, the category defaults to invalid_argument."""

    def __init__(self, msg, category=_errors.INVALID_ARGUMENT, hint=None, **details):
        super().__init__(category, msg, hint=hint, **details)

    @property
    def msg(self):
        return self.message


# ---------------------------------------------------------------- values


def is_user_property(prop):
    return ":" in prop


def is_size_property(prop):
    return prop in SIZE_PROPERTIES or prop.startswith(SIZE_PREFIXES)


def normalize_value(prop, value):
    """The canonical string of a property value, as `zfs get -H -p` prints it.

    Used on both the requested and the current value, so that `10G` equals
    `10737418240`, `true` equals `on`, and a `none` quota equals `0`.
    """
    if isinstance(value, bool):
        if is_user_property(prop):
            return "true" if value else "false"
        return "on" if value else "off"
    text = str(value)
    if is_user_property(prop):
        return text
    lowered = text.strip().lower()
    if is_size_property(prop):
        if lowered in ("none", "-") and (prop in NONE_IS_ZERO or prop.startswith(SIZE_PREFIXES)):
            return "0"
        try:
            return str(parse_size(lowered))
        except ValueError:
            return lowered  # `auto` (refreservation), `-`: left to zfs to judge
    if prop.startswith(COUNT_PREFIXES) and lowered == "none":
        return "0"
    if prop in ONOFF_PROPERTIES:
        if lowered in TRUE_WORDS:
            return "on"
        if lowered in FALSE_WORDS:
            return "off"
        return lowered
    if prop in ALIASES:
        return ALIASES[prop].get(lowered, lowered)
    if prop == "mountpoint":
        stripped = text.strip()
        if stripped.startswith("/"):
            return stripped.rstrip("/") or "/"
        return lowered
    return text.strip()


def typed_value(text):
    """A value of `zfs get -p` for the module result: integers as int, the rest as text."""
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


def command_value(prop, value):
    """The value written on the `zfs` command line (canonical form, sizes in bytes)."""
    return normalize_value(prop, value)


# ---------------------------------------------------------------- parsers


def parse_get(text):
    """`zfs get -H -p -o name,property,value,source` output -> {dataset: {prop: (value, source)}}."""
    result = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 4:
            continue
        name, prop, value, source = parts[0], parts[1], "\t".join(parts[2:-1]), parts[-1]
        result.setdefault(name, {})[prop] = (value, source)
    return result


def validate_name(name):
    """Raise ZfsError unless name is a filesystem or volume name (pool or pool/path)."""
    if not name or not _NAME_RE.match(name) or "@" in name or "#" in name:
        raise ZfsError(
            "'%s' is not a valid dataset name: use pool or pool/path (letters, digits, '_', '-', '.', ':'), "
            "without '@' (snapshots) or '#' (bookmarks)" % name
        )
    return name.split("/", 1)[0]


def parent_of(name):
    return name.rsplit("/", 1)[0] if "/" in name else None


# ---------------------------------------------------------------- planner


def desired_properties(properties):
    """{prop: canonical requested value}; raises ZfsError for values that are no sizes."""
    result = {}
    for prop, value in (properties or {}).items():
        if value is None:
            raise ZfsError(
                "property '%s' has no value; give the value to set (properties not given are not managed)" % prop
            )
        prop = str(prop).strip()
        if not prop or "=" in prop or any(c.isspace() for c in prop):
            raise ZfsError("'%s' is not a property name" % prop)
        if not is_user_property(prop):
            prop = prop.lower()
        if prop in READ_ONLY:
            raise ZfsError("property '%s' is read-only (zfs computes it); remove it from properties" % prop)
        canonical = normalize_value(prop, value)
        if (
            is_size_property(prop)
            and not re.fullmatch(r"\d+", canonical)
            and not (prop == "refreservation" and canonical == "auto")
        ):
            raise ZfsError("property '%s': '%s' is not a size (examples: 10G, 512M, 131072, none)" % (prop, value))
        result[prop] = canonical
    return result


def diff_properties(desired, current):
    """The requested properties whose canonical value differs from the current one.

    current: {prop: (value, source)} from parse_get. A property zfs does not
    report (an unset user property) counts as different.
    """
    changes = {}
    for prop, want in desired.items():
        have = current.get(prop)
        if have is None or normalize_value(prop, have[0]) != want:
            changes[prop] = want
    return changes


def order_updates(changes, current):
    """Order property updates so that zfs accepts each one on its own.

    A smaller reservation goes first (it may be what a smaller quota would
    collide with), a larger reservation goes last (it may need the larger quota
    set first); everything else in name order between them.
    """
    first, middle, last = [], [], []
    for prop in sorted(changes):
        if prop in ("reservation", "refreservation") and re.fullmatch(r"\d+", changes[prop]):
            old = current.get(prop, ("0", ""))[0]
            old = int(old) if re.fullmatch(r"\d+", old) else 0
            (first if int(changes[prop]) < old else last).append(prop)
        else:
            middle.append(prop)
    return first + middle + last


def create_argv(name, desired, create_parents):
    argv = [ZFS, "create"]
    if create_parents:
        argv.append("-p")
    props = dict(desired)
    if "volsize" in props:
        argv += ["-V", props.pop("volsize")]
    for prop in sorted(props):
        argv += ["-o", "%s=%s" % (prop, props[prop])]
    argv.append(name)
    return argv


def set_argv(name, prop, value):
    return [ZFS, "set", "%s=%s" % (prop, value), name]


def plan_present(name, desired, current, create_parents=True):
    """argv lists that make name present with desired; current is None when it does not exist."""
    if current is None:
        return [create_argv(name, desired, create_parents)]
    changes = diff_properties(desired, current)
    blocked = sorted(p for p in changes if p in CREATE_ONLY)
    if blocked:
        raise ZfsError(
            "%s cannot be changed on the existing dataset %s (zfs sets %s only at creation); "
            "current: %s, requested: %s"
            % (
                ", ".join(blocked),
                name,
                "it" if len(blocked) == 1 else "them",
                ", ".join("%s=%s" % (p, current[p][0]) for p in blocked),
                ", ".join("%s=%s" % (p, changes[p]) for p in blocked),
            ),
            _errors.UNSUPPORTED,
            "Create a new dataset with the wanted value and move the data (zfs send | zfs receive), "
            "or drop the property from properties.",
        )
    return [set_argv(name, prop, changes[prop]) for prop in order_updates(changes, current)]


# ---------------------------------------------------------------- in-use guard


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


def _inside(path, top):
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
        if cfg.get("type") == "zfspool" and cfg.get("pool") and _inside(cfg["pool"], name):
            holders.append("storage '%s' (zfspool on %s, /etc/pve/storage.cfg)" % (storeid, cfg["pool"]))
        elif cfg.get("path") and cfg.get("type") in ("dir", "btrfs") and any(_inside(cfg["path"], p) for p in paths):
            holders.append("storage '%s' (%s at %s, /etc/pve/storage.cfg)" % (storeid, cfg["type"], cfg["path"]))
    for kind, vmid, text in guest_configs:
        label = "CT" if kind == "lxc" else "VM"
        for section, key, volume in config_volumes(text, kind):
            where = key if not section else "%s in [%s]" % (key, section)
            if volume.startswith("/"):
                if volume.startswith("/dev/"):
                    continue
                if any(_inside(volume, p) for p in paths):
                    holders.append("%s %s %s (bind mount of %s)" % (label, vmid, where, volume))
                continue
            if ":" not in volume:
                continue
            storeid, volname = volume.split(":", 1)
            cfg = storages.get(storeid)
            if not cfg:
                continue
            if cfg.get("type") == "zfspool" and cfg.get("pool"):
                dataset = "%s/%s" % (cfg["pool"].rstrip("/"), volname)
                if _inside(dataset, name):
                    holders.append("%s %s %s (%s = %s)" % (label, vmid, where, volume, dataset))
            elif (
                cfg.get("type") in ("dir", "btrfs") and cfg.get("path") and any(_inside(cfg["path"], p) for p in paths)
            ):
                holders.append("%s %s %s (%s, a file under %s)" % (label, vmid, where, volume, cfg["path"]))
    return holders


def read_guest_configs():
    """[(kind, vmid, text)] of this node's guests, read from /etc/pve directly."""
    configs = []
    for kind, pattern in (("lxc", LOCAL_LXC_GLOB), ("qemu", LOCAL_QEMU_GLOB)):
        for path in sorted(glob.glob(pattern)):
            vmid = os.path.basename(path)[: -len(".conf")]
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    configs.append((kind, vmid, f.read()))
            except OSError:
                continue
    return configs


def read_storages():
    try:
        with open(STORAGE_CFG, encoding="utf-8", errors="replace") as f:
            return parse_storage_cfg(f.read())
    except OSError:
        return {}


# ---------------------------------------------------------------- manager


class DatasetManager:
    """Reads and changes one dataset through the Runner."""

    def __init__(self, runner, read_configs=read_guest_configs, read_storage=read_storages):
        self.runner = runner
        self.read_configs = read_configs
        self.read_storage = read_storage
        self.warnings = []

    def _run(self, argv, mutating=False):
        try:
            return self.runner.run(argv, mutating=mutating)
        except CommandFailed as exc:
            raise _errors.error_from_result(exc.result, patterns=ZFS_PATTERNS) from None

    def pools(self):
        res = self._run([ZPOOL, "list", "-H", "-o", "name"])
        return [
            line.strip() for line in res.stdout.splitlines() if line.strip() and line.strip() != "no pools available"
        ]

    def get(self, name, props="all"):
        """{prop: (value, source)} of name, or None when it does not exist."""
        res = self.runner.run([ZFS, "get", "-H", "-p", "-o", "name,property,value,source", props, name], check=False)
        if res.rc != 0:
            if "does not exist" in res.stderr:
                return None
            raise _errors.error_from_result(
                res,
                message="reading the properties of %s failed (rc %s): %s" % (name, res.rc, res.stderr.strip()),
                patterns=ZFS_PATTERNS,
            )
        return parse_get(res.stdout).get(name, {})

    def get_with(self, name, wanted):
        """All properties plus requested ones `zfs get all` leaves out (unset user props, userquota@...)."""
        current = self.get(name)
        if current is None:
            return None
        missing = [p for p in wanted if p not in current]
        if missing:
            try:
                extra = self.get(name, ",".join(sorted(missing)))
            except _errors.NexcageError as exc:
                first = (exc.stderr or "").strip().splitlines()
                raise ZfsError(
                    "zfs does not know the property %s: %s"
                    % (" or ".join("'%s'" % p for p in sorted(missing)), first[0] if first else exc.message),
                    _errors.INVALID_ARGUMENT,
                    "Check the spelling; user properties need a colon (module:property).",
                    cmd=exc.cmd,
                    rc=exc.rc,
                    stdout=exc.stdout,
                    stderr=exc.stderr,
                ) from None
            current.update(extra or {})
        return current

    def exists(self, name):
        res = self.runner.run([ZFS, "list", "-H", "-o", "name", name], check=False)
        return res.rc == 0

    def descendants(self, name):
        """Every dataset, snapshot and bookmark below name (name itself excluded)."""
        res = self._run([ZFS, "list", "-H", "-o", "name", "-t", "all", "-r", name])
        return [n.strip() for n in res.stdout.splitlines() if n.strip() and n.strip() != name]

    def mountpoints(self, names):
        res = self._run([ZFS, "get", "-H", "-p", "-o", "name,property,value,source", "-r", "mountpoint", names[0]])
        parsed = parse_get(res.stdout)
        return {n: props.get("mountpoint", ("-", "-"))[0] for n, props in parsed.items() if "@" not in n}

    def check_pool(self, name):
        pool = validate_name(name)
        pools = self.pools()
        if pool not in pools:
            return pool, pools, False
        return pool, pools, True

    # ------------------------------------------------------------ states

    def present(self, name, properties, create_parents=True):
        desired = desired_properties(properties)
        pool, pools, ok = self.check_pool(name)
        if not ok:
            raise ZfsError(
                "pool '%s' does not exist on this node, so %s cannot be created; existing pools: %s"
                % (pool, name, ", ".join(pools) if pools else "none"),
                _errors.NOT_FOUND,
                "Use one of the existing pools in name, or create the pool first (zpool create).",
                pools=pools,
            )
        current = self.get_with(name, desired)
        created = current is None
        if created:
            parent = parent_of(name)
            if parent and not create_parents and not self.exists(parent):
                raise ZfsError(
                    "parent dataset %s does not exist; create it first or set create_parents: true" % parent,
                    _errors.NOT_FOUND,
                )
        plan = plan_present(name, desired, current, create_parents)
        before = {} if created else {p: normalize_value(p, current[p][0]) for p in desired if p in current}
        for argv in plan:
            self._run(argv, mutating=True)
        changed = bool(plan)
        if changed and not self.runner.check_mode:
            final = self.get_with(name, desired)
            if final is None:
                raise ZfsError("%s is missing after `zfs create` reported success" % name)
            for prop, want in desired.items():
                have = final.get(prop, ("-", "-"))[0]
                if normalize_value(prop, have) != want:
                    self.warnings.append("zfs accepted %s=%s on %s but now reports %s" % (prop, want, name, have))
        else:
            final = current
        if final is None:  # check mode, would be created
            props = {p: typed_value(v) for p, v in desired.items()}
            sources = dict.fromkeys(desired, "local")
        else:
            props = {p: typed_value(v[0]) for p, v in final.items()}
            sources = {p: v[1] for p, v in final.items()}
            if self.runner.check_mode:
                for prop in desired:
                    props[prop] = typed_value(desired[prop])
                    sources[prop] = "local"
        after = {p: desired[p] for p in desired}
        return dict(
            changed=changed,
            created=created,
            properties=props,
            property_sources=sources,
            diff=dict(
                before=dict(state="absent") if created else dict(state="present", properties=before),
                after=dict(state="present", properties=after),
            ),
        )

    def absent(self, name, recursive=False, force=False):
        pool, pools, ok = self.check_pool(name)
        result = dict(changed=False, created=False, properties={}, property_sources={})
        if not ok:
            self.warnings.append(
                "pool '%s' does not exist on this node, so %s is absent; existing pools: %s"
                % (pool, name, ", ".join(pools) if pools else "none")
            )
            result["diff"] = dict(before=dict(state="absent"), after=dict(state="absent"))
            return result
        current = self.get(name)
        if current is None:
            result["diff"] = dict(before=dict(state="absent"), after=dict(state="absent"))
            return result
        if "/" not in name:
            raise ZfsError(
                "%s is the root dataset of pool %s; zfs cannot destroy it (that is `zpool destroy`, "
                "which this module never runs)" % (name, pool),
                _errors.UNSUPPORTED,
            )
        below = self.descendants(name)
        if below and not recursive:
            children = [n for n in below if "@" not in n and "#" not in n]
            snaps = [n for n in below if n not in children]
            listed = (children + snaps)[:10]
            raise ZfsError(
                "refusing to destroy %s: it has %d child dataset(s) and %d snapshot(s)/bookmark(s) (%s%s); "
                "set recursive: true to destroy them with it (zfs destroy -r)"
                % (name, len(children), len(snaps), ", ".join(listed), ", ..." if len(below) > 10 else ""),
                _errors.PERMISSION_DENIED,
                children=children,
                snapshots=snaps,
            )
        clones = self.outside_clones(name, below)
        if clones:
            raise ZfsError(
                "refusing to destroy %s: snapshots below it have clones outside it (%s); nexcage never uses "
                "`zfs destroy -R`. Destroy those clones, or `zfs promote` them, first" % (name, ", ".join(clones)),
                _errors.PERMISSION_DENIED,
                clones=clones,
            )
        if not force:
            mountpoints = self.mountpoints([name])
            holders = find_holders(name, mountpoints, self.read_storage(), self.read_configs())
            if holders:
                raise ZfsError(
                    "refusing to destroy %s: it is in use by %s. Remove it from those configs (pct set "
                    "<vmid> --delete <key>, or destroy the guest), or set force: true to destroy it anyway"
                    % (name, "; ".join(holders)),
                    _errors.PERMISSION_DENIED,
                    holders=holders,
                )
        argv = [ZFS, "destroy"]
        if below:
            argv.append("-r")
        argv.append(name)
        self._run(argv, mutating=True)
        result["changed"] = True
        before = {p: typed_value(v[0]) for p, v in current.items()}
        result["diff"] = dict(before=dict(state="present", children=below), after=dict(state="absent"))
        result["before_properties"] = before
        return result

    def outside_clones(self, name, below):
        snaps = [n for n in below if "@" in n]
        if not snaps:
            return []
        res = self.runner.run(
            [ZFS, "get", "-H", "-p", "-o", "name,property,value,source", "-r", "clones", name], check=False
        )
        if res.rc != 0:
            return []
        clones = []
        for props in parse_get(res.stdout).values():
            value = props.get("clones", ("-", "-"))[0]
            if value in ("-", ""):
                continue
            clones += [c for c in value.split(",") if c and not _inside(c, name)]
        return sorted(set(clones))


ZFS_PATTERNS = (
    (r"dataset is busy|pool or dataset is busy", _errors.LOCKED, "A process, a mount or a running container uses it."),
    (
        r"out of space|less than current used or reserved space|exceeds quota",
        _errors.RESOURCE_EXHAUSTED,
        "Free space in the pool or dataset, or choose a larger quota / smaller reservation.",
    ),
    (r"permission denied", _errors.PERMISSION_DENIED, None),
    (r"dataset does not exist|no such pool", _errors.NOT_FOUND, None),
    (
        r"invalid property|bad property|invalid option|is not a valid|must be|is readonly",
        _errors.INVALID_ARGUMENT,
        None,
    ),
    (r"dataset already exists", _errors.ALREADY_EXISTS, None),
)


def run_task(module, runner):
    """The whole of nexcage_zfs_dataset as a result dict: module is an AnsibleModule, runner its Runner."""
    params = module.params
    name = params["name"]
    manager = DatasetManager(runner)
    if params["state"] == "present":
        result = manager.present(name, params["properties"], params["create_parents"])
    else:
        if params["properties"]:
            manager.warnings.append("properties are ignored with state: absent")
        result = manager.absent(name, recursive=params["recursive"], force=params["force"])
    diff = result.pop("diff")
    result.pop("before_properties", None)
    out = dict(result, name=name, commands=runner.commands)
    for warning in manager.warnings:
        module.warn(warning)
    if module._diff:
        out["diff"] = diff
    return out


def run_module(module, runner):
    """End nexcage_zfs_dataset: exit_json with the result, fail_json on any failure."""

    def context(error):
        details = {k: v for k, v in getattr(error, "extra", {}).items() if k != "exception"}
        return dict(details, name=module.params["name"], commands=runner.commands)

    _module.run(module, lambda: run_task(module, runner), name="nexcage_zfs_dataset", context=context)
