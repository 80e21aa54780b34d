# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Differ and planner for containers: desired options against the parsed config. PRIVATE to the collection.

``desired_from_params(params)`` validates and normalises the module options
into a ``Desired`` (typed like ``_pveconfig.parse_config``). ``plan_update(desired,
current, running)`` compares it with the effective current config (pending
changes merged, as ``pct config`` shows it) and returns a ``Plan``:

* ``changes``: one ``Change`` per differing key with ``key``, ``before``,
  ``after``, ``kind`` and ``reason``. ``kind`` is

  - ``live``: ``pct set`` applies it at once, also on a running container
    (PVE hot-plug list: description, onboot, startup, hostname, cores, tags,
    cpulimit, cpuunits, memory, swap, netN, a new mpN; disk growth via
    ``pct resize``);
  - ``restart``: on a running container PVE keeps it in ``[pve:pending]``
    until the next start (features, nameserver, searchdomain, timezone,
    changed/removed mpN, ...); on a stopped one it applies at once;
  - ``create_only``: cannot be changed on an existing container
    (unprivileged, ostype, arch, rootfs/mount storage, image, shrinking);
    needs ``recreate: true``.

* ``set_options`` / ``delete`` / ``resizes``: what the single ``pct set`` and
  the ``pct resize`` calls must carry.

Convergence rules (documented in the module): an option left out (None) is
not managed; a list option given (``netif``, ``mounts``) is authoritative for
its entries (unlisted ``netN``/``mpN`` are removed); inside an entry or a dict
option (``features``, ``startup``, ``rootfs``) a field left out keeps its
current value, and a string field set to ``""`` removes it.

Raises ``_validation.ValidationError`` for invalid input.
"""

from __future__ import annotations

import re

from ansible_collections.cageforge.nexcage.plugins.module_utils import _pveconfig, _runner
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.desired import MAX_NET

LIVE = "live"
RESTART = "restart"
CREATE_ONLY = "create_only"

LIVE_KEYS = frozenset(
    {"description", "onboot", "startup", "protection", "hostname", "cores", "tags", "cpulimit", "cpuunits"}
    | {"memory", "swap", "hookscript"}
)
CREATE_ONLY_KEYS = frozenset({"unprivileged", "ostype", "arch"})
SCALAR_OPTIONS = (
    "hostname",
    "memory",
    "swap",
    "cores",
    "cpulimit",
    "cpuunits",
    "onboot",
    "unprivileged",
    "ostype",
    "arch",
    "tags",
    "description",
    "nameserver",
    "searchdomain",
    "timezone",
    "protection",
    "cmode",
    "console",
    "tty",
    "hookscript",
)
# The root disk pct create makes when given none (its --storage default is 'local').
DEFAULT_ROOTFS = "local:4"
# Fields of a mount point / root disk the user manages besides where it lives.
VOLUME_FIELDS = ("ro", "backup", "acl", "quota", "replicate", "shared", "mountoptions")
ROOTFS_FIELDS = ("acl", "quota", "replicate", "shared", "mountoptions")
# What an absent key means in a PVE config.
DEFAULTS = {
    "onboot": False,
    "unprivileged": False,
    "cpulimit": 0,
    "tags": [],
    "nameserver": [],
    "searchdomain": [],
    "description": "",
    "arch": "amd64",
    "protection": False,
    "console": True,
    "cmode": "tty",
    "tty": 2,
}


class Change:
    def __init__(self, key, before, after, kind, reason):
        self.key = key
        self.before = before
        self.after = after
        self.kind = kind
        self.reason = reason

    def to_dict(self):
        return {"key": self.key, "before": self.before, "after": self.after, "kind": self.kind, "reason": self.reason}

    def __repr__(self):
        return "Change(%r, %r -> %r, %s)" % (self.key, self.before, self.after, self.kind)


class Plan:
    def __init__(self):
        self.changes = []
        self.set_options = {}  # key -> typed value for `pct set --key`
        self.delete = []  # keys for `pct set --delete`
        self.resizes = []  # (disk, size_bytes)

    @property
    def create_only(self):
        return [c for c in self.changes if c.kind == CREATE_ONLY]

    @property
    def changed(self):
        return bool(self.changes)

    def pending_keys(self, running):
        """Keys PVE will leave pending (only on a running container)."""
        if not running:
            return []
        return [c.key for c in self.changes if c.kind == RESTART]

    def add(self, key, before, after, kind, reason, value=None, delete=False):
        self.changes.append(Change(key, before, after, kind, reason))
        if kind == CREATE_ONLY:
            return
        if delete:
            self.delete.append(key)
        elif value is not None:
            self.set_options[key] = value

    def set_argv(self, vmid):
        """The argv of the one `pct set` (None if nothing to set)."""
        if not self.set_options and not self.delete:
            return None
        options = [
            (key, _pveconfig.format_value(key, self.set_options[key]))
            for key in sorted(self.set_options, key=_key_order)
        ]
        if self.delete:
            options.append(("delete", ",".join(sorted(self.delete, key=_key_order))))
        return _runner.pct("set", vmid, options=options)

    def resize_argvs(self, vmid):
        return [_runner.pct("resize", vmid, disk, _pveconfig.format_size(size)) for disk, size in self.resizes]

    def apply_to(self, config):
        """A copy of config with the non-create-only changes applied (the predicted result)."""
        result = dict(config)
        for change in self.changes:
            if change.kind == CREATE_ONLY:
                continue
            if change.after is None:
                result.pop(change.key, None)
            else:
                result[change.key] = change.after
        return result


def _key_order(key):
    match = re.match(r"^([a-z_\-]+?)(\d+)$", key)
    if match:
        return (match.group(1), int(match.group(2)))
    return (key, -1)


# --------------------------------------------------------------------------- comparing


def _norm(key, value):
    """Normalise a value for comparison; None/absent means the PVE default."""
    if value is None:
        value = DEFAULTS.get(key)
    if key == "description" and isinstance(value, str):
        return value.rstrip("\n")
    if key == "tags":
        return _pveconfig.unique_tags(value)
    if isinstance(value, float) and value == int(value):
        return int(value)
    return value


def _is_default(key, value):
    return key in DEFAULTS and _norm(key, value) == _norm(key, None)


def _norm_features(features):
    out = {}
    for key, value in (features or {}).items():
        if value is False or value == [] or value is None:
            continue
        out[key] = value
    return out


def _merge_fields(current, given):
    """current fields updated with the given ones; '' removes a field."""
    result = dict(current or {})
    for key, value in given.items():
        if value == "":
            result.pop(key, None)
        elif value is not None:
            result[key] = value
    return result


def plan_update(desired, current, running=False, current_image=None):
    """Compare desired with the effective current config; return a Plan.

    current: parsed config with pending changes merged (_pveconfig.effective_config).
    current_image: the image nexcage recorded at create (None = unknown, not compared).
    """
    plan = Plan()
    for key, value in desired.scalars.items():
        before = current.get(key)
        if _norm(key, before) == _norm(key, value):
            continue
        if key in CREATE_ONLY_KEYS:
            if key in ("ostype",) and before is None:
                continue  # not recorded: nothing to compare against
            plan.add(key, before, value, CREATE_ONLY, "%s can only be set when the container is created" % key)
            continue
        kind = LIVE if key in LIVE_KEYS else RESTART
        reason = "hot-pluggable" if kind == LIVE else "PVE applies %s at the next start" % key
        if _is_default(key, value):
            if key in current:
                plan.add(key, before, None, kind, reason + " (back to the default: key removed)", delete=True)
            continue
        plan.add(key, before, value, kind, reason, value=value)

    if desired.image is not None and current_image is not None and desired.image != current_image:
        plan.add("image", current_image, desired.image, CREATE_ONLY, "the OS template is only used at create")

    if desired.features is not None:
        before = current.get("features") or {}
        after = _norm_features(_merge_fields(before, desired.features))
        if _norm_features(before) != after:
            reason = "PVE applies features at the next start"
            if after:
                plan.add("features", before or None, after, RESTART, reason, value=after)
            else:
                plan.add("features", before or None, None, RESTART, reason + " (all off: key removed)", delete=True)

    if desired.startup is not None:
        before = current.get("startup") if isinstance(current.get("startup"), dict) else {}
        after = _merge_fields(before, desired.startup)
        if before != after:
            if after:
                plan.add("startup", before or None, after, LIVE, "hot-pluggable", value=after)
            else:
                plan.add("startup", before or None, None, LIVE, "hot-pluggable (key removed)", delete=True)

    if desired.rootfs is not None:
        _plan_rootfs(plan, desired.rootfs, current.get("rootfs"))
    if desired.netif is not None:
        _plan_netif(plan, desired.netif, current)
    if desired.mounts is not None:
        _plan_mounts(plan, desired.mounts, current)
    if desired.devices is not None:
        _plan_devices(plan, desired.devices, current)
    return plan


def _plan_devices(plan, wanted, current):
    """devN passthrough, authoritative when given; PVE applies a device change at the next start."""
    cur = _indexed(current, "dev")
    wanted_ids = set()
    for entry in wanted:
        wanted_ids.add(entry["id"])
        key = "dev%d" % entry["id"]
        after = {k: v for k, v in entry.items() if k != "id"}
        before = cur.get(entry["id"])
        if before != after:
            plan.add(key, before, after, RESTART, "device %s (applied at next start)" % entry["path"], value=after)
    for n in sorted(cur):
        if n not in wanted_ids:
            reason = "device %s is not in devices (the list is authoritative)" % cur[n].get("path")
            plan.add("dev%d" % n, cur[n], None, RESTART, reason, delete=True)


def _plan_rootfs(plan, want, cur):
    cur = cur or {}
    given = {key: want[key] for key in ROOTFS_FIELDS if key in want}
    after = _merge_fields(cur, given)
    if cur.get("volume") and after != cur:
        reason = "PVE applies the root disk's mount options at the next start"
        plan.add("rootfs", cur, after, RESTART, reason, value=after)
    storage = want.get("storage")
    cur_storage = _pveconfig.volume_storage(cur.get("volume"))
    if storage is not None and cur_storage is not None and storage != cur_storage:
        plan.add(
            "rootfs.storage",
            cur_storage,
            storage,
            CREATE_ONLY,
            "the root disk cannot change storage in place (pct move-volume is not managed)",
        )
    size = want.get("size")
    if size is not None and cur.get("size") != size:
        if cur.get("size") is not None and size < cur["size"]:
            plan.add("rootfs.size", cur["size"], size, CREATE_ONLY, "disks can only grow (unable to shrink disk size)")
        else:
            plan.changes.append(Change("rootfs.size", cur.get("size"), size, LIVE, "grown with pct resize"))
            plan.resizes.append(("rootfs", size))


def _indexed(current, prefix):
    """{N: value} of the indexed keys <prefix>N (net0, mp1, ...) whose value is parsed."""
    found = {}
    for key, value in current.items():
        match = re.match(r"^%s(\d+)$" % prefix, key)
        if match and isinstance(value, dict):
            found[int(match.group(1))] = value
    return found


def _plan_netif(plan, wanted, current):
    cur_nets = _indexed(current, "net")
    by_name = {v.get("name"): n for n, v in cur_nets.items()}
    used = set()
    slots = {}
    for entry in wanted:
        if entry["name"] in by_name:
            slots[entry["name"]] = by_name[entry["name"]]
            used.add(by_name[entry["name"]])
    free = (n for n in range(MAX_NET) if n not in cur_nets and n not in used)
    for entry in wanted:
        if entry["name"] not in slots:
            slots[entry["name"]] = next(free)
    for entry in wanted:
        n = slots[entry["name"]]
        key = "net%d" % n
        before = cur_nets.get(n)
        after = _merge_fields(before, entry)
        if before is None:
            after.setdefault("type", "veth")
            plan.add(key, None, after, LIVE, "new interface %s (hot-plugged)" % entry["name"], value=after)
        elif after != before:
            plan.add(key, before, after, LIVE, "interface %s changed (hot-plugged)" % entry["name"], value=after)
    for n in sorted(cur_nets):
        if n not in used:
            key = "net%d" % n
            plan.add(
                key,
                cur_nets[n],
                None,
                LIVE,
                "interface %s is not in netif (the list is authoritative)" % cur_nets[n].get("name"),
                delete=True,
            )


def _plan_attach(plan, key, entry, before, fields):
    """Attach an existing volume at a mount point (a volume that was there is kept as unusedN by PVE)."""
    after = _merge_fields({"volume": entry["volume"]}, fields)
    if before is None:
        plan.add(key, None, after, LIVE, "attach volume %s at %s" % (entry["volume"], entry["mp"]), value=after)
    else:
        reason = "mount point %s now uses %s (applied at next start)" % (entry["mp"], entry["volume"])
        plan.add(key, before, after, RESTART, reason, value=after)


def _plan_mounts(plan, wanted, current):
    cur_mps = _indexed(current, "mp")
    wanted_ids = set()
    for entry in wanted:
        n = entry["id"]
        wanted_ids.add(n)
        key = "mp%d" % n
        before = cur_mps.get(n)
        # a path written with a trailing '/' mounts the same directory: keep it as written
        same_mp = before is not None and _pveconfig.same_host_path(before.get("mp"), entry["mp"])
        fields = dict({f: entry.get(f) for f in VOLUME_FIELDS}, mp=before["mp"] if same_mp else entry["mp"])
        if "volume" in entry and (before is None or before.get("volume") != entry["volume"]):
            _plan_attach(plan, key, entry, before, fields)
            continue
        if before is None:
            if "host_path" in entry:
                after = _merge_fields({"volume": entry["host_path"]}, fields)
                value = after
            else:
                after = _merge_fields(
                    {"volume": "%s:%s" % (entry["storage"], _pveconfig.size_to_gib(entry["size"]))}, fields
                )
                value = dict(after)
                after = dict(after, volume=entry["storage"] + ":(new)", size=entry["size"])
            plan.add(key, None, after, LIVE, "new mount point %s (hot-plugged)" % entry["mp"], value=value)
            continue
        cur_volume = before.get("volume", "")
        cur_storage = _pveconfig.volume_storage(cur_volume)
        if "host_path" in entry:
            same = _pveconfig.same_host_path(cur_volume, entry["host_path"])
            after = _merge_fields(before, dict(fields, volume=cur_volume if same else entry["host_path"]))
            after.pop("size", None)
        elif cur_storage is None:
            # a bind mount becomes a new volume: allocated by pct set, applied at next start
            value = _merge_fields(
                {"volume": "%s:%s" % (entry["storage"], _pveconfig.size_to_gib(entry["size"]))}, fields
            )
            after = dict(value, volume=entry["storage"] + ":(new)", size=entry["size"])
            plan.add(key, before, after, RESTART, "mount point %s becomes a new volume" % entry["mp"], value=value)
            continue
        elif cur_storage != entry["storage"]:
            plan.add(
                key + ".storage",
                cur_storage,
                entry["storage"],
                CREATE_ONLY,
                "mount point %s lives on storage %s; moving it to %s is not done in place"
                % (entry["mp"], cur_storage, entry["storage"]),
            )
            continue
        else:
            after = _merge_fields(before, fields)
            size = entry.get("size", before.get("size"))
            if size is not None and before.get("size") != size:
                if before.get("size") is not None and size < before["size"]:
                    plan.add(key + ".size", before["size"], size, CREATE_ONLY, "disks can only grow")
                else:
                    plan.changes.append(Change(key + ".size", before.get("size"), size, LIVE, "grown with pct resize"))
                    plan.resizes.append((key, size))
            if "size" in before:
                after["size"] = before["size"]
        if after != before:
            plan.add(
                key, before, after, RESTART, "mount point %s changed (applied at next start)" % entry["mp"], value=after
            )
    for n in sorted(cur_mps):
        if n not in wanted_ids:
            plan.add(
                "mp%d" % n,
                cur_mps[n],
                None,
                RESTART,
                "mount point %s is not in mounts (the list is authoritative; a volume is kept as unusedN)"
                % cur_mps[n].get("mp"),
                delete=True,
            )


# --------------------------------------------------------------------------- create


def create_options(desired):
    """The `--key value` pairs for `pct create` (ordered list of (key, str)), without image/vmid/secrets."""
    opts = []
    for key in SCALAR_OPTIONS:
        if key in desired.scalars:
            value = desired.scalars[key]
            if key in ("tags", "nameserver", "searchdomain", "description") and _is_default(key, value):
                continue
            opts.append((key, _pveconfig.format_value(key, value)))
    if desired.rootfs:
        storage = desired.rootfs.get("storage")
        size = desired.rootfs.get("size")
        extra = {key: desired.rootfs[key] for key in ROOTFS_FIELDS if key in desired.rootfs}
        if storage is not None or extra:
            gib = _pveconfig.size_to_gib(size if size is not None else 4 * _pveconfig.UNITS["G"])
            volume = "%s:%s" % (storage, gib) if storage is not None else gib
            opts.append(("rootfs", _pveconfig.format_property_string("rootfs", dict(extra, volume=volume))))
        elif size is not None:
            opts.append(("rootfs", _pveconfig.size_to_gib(size)))
    elif desired.mounts:
        # pct refuses mount points without rootfs ("mount points configured, but 'rootfs' not set"):
        # spell out the root disk pct would make by itself (4 GiB on its default storage).
        opts.append(("rootfs", DEFAULT_ROOTFS))
    for n, entry in enumerate(desired.netif or []):
        fields = {k: v for k, v in entry.items() if v != ""}
        opts.append(("net%d" % n, _pveconfig.format_property_string("net%d" % n, fields)))
    for entry in desired.mounts or []:
        key = "mp%d" % entry["id"]
        fields = dict({f: entry.get(f) for f in VOLUME_FIELDS}, volume=_create_volume(entry), mp=entry["mp"])
        opts.append((key, _pveconfig.format_property_string(key, fields)))
    for entry in desired.devices or []:
        key = "dev%d" % entry["id"]
        opts.append((key, _pveconfig.format_property_string(key, {k: v for k, v in entry.items() if k != "id"})))
    if desired.features:
        features = _norm_features(desired.features)
        if features:
            opts.append(("features", _pveconfig.format_property_string("features", features)))
    if desired.startup:
        opts.append(("startup", _pveconfig.format_property_string("startup", desired.startup)))
    if desired.pool:
        opts.append(("pool", desired.pool))
    return opts


def _create_volume(entry):
    if "host_path" in entry:
        return entry["host_path"]
    if "volume" in entry:
        return entry["volume"]
    return "%s:%s" % (entry["storage"], _pveconfig.size_to_gib(entry["size"]))


def predicted_config(desired, vmid):
    """What the config will roughly look like after `pct create` (for check/diff mode)."""
    cfg = {}
    for key, value in desired.scalars.items():
        if not _is_default(key, value) or key in ("unprivileged", "onboot"):
            cfg[key] = value
    if desired.rootfs:
        storage = desired.rootfs.get("storage") or "local"
        cfg["rootfs"] = {"volume": "%s:(new)" % storage, "size": desired.rootfs.get("size", 4 * _pveconfig.UNITS["G"])}
        cfg["rootfs"].update({key: desired.rootfs[key] for key in ROOTFS_FIELDS if key in desired.rootfs})
    for entry in desired.devices or []:
        cfg["dev%d" % entry["id"]] = {k: v for k, v in entry.items() if k != "id"}
    for n, entry in enumerate(desired.netif or []):
        cfg["net%d" % n] = dict({k: v for k, v in entry.items() if v != ""}, type="veth")
    for entry in desired.mounts or []:
        volume = entry.get("host_path") or entry.get("volume") or "%s:(new)" % entry["storage"]
        fields = dict({f: entry.get(f) for f in VOLUME_FIELDS}, volume=volume, mp=entry["mp"])
        if "size" in entry:
            fields["size"] = entry["size"]
        cfg["mp%d" % entry["id"]] = {k: v for k, v in fields.items() if v is not None}
    if desired.features and _norm_features(desired.features):
        cfg["features"] = _norm_features(desired.features)
    if desired.startup:
        cfg["startup"] = desired.startup
    cfg.setdefault("hostname", "CT%s" % vmid)
    return cfg
