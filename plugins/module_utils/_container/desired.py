# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The task's options as a Desired (typed like _pveconfig.parse_config), validated. PRIVATE.

``desired_from_params(params)`` validates and normalises the module options; it
raises ``ValidationError`` for invalid input. Pure: it reads nothing from the node.
"""

from __future__ import annotations

import re

from ansible_collections.cageforge.nexcage.plugins.module_utils import _pveconfig, _validation
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import configline, sizes

OSTYPES = (
    "alpine",
    "archlinux",
    "centos",
    "debian",
    "devuan",
    "fedora",
    "gentoo",
    "nixos",
    "opensuse",
    "ubuntu",
    "unmanaged",
)
CMODES = ("shell", "console", "tty")
MOUNT_OPTIONS = ("discard", "lazytime", "noatime", "nodev", "noexec", "nosuid")
MAX_DEV = 256
ARCHES = ("amd64", "i386", "arm64", "armhf", "riscv32", "riscv64")
MAX_NET = 32
MAX_MP = 256


class Desired:
    """Validated, normalised desired state (None = not managed)."""

    def __init__(self):
        self.scalars = {}
        self.features = None
        self.startup = None
        self.rootfs = None
        self.netif = None
        self.mounts = None
        self.image = None
        self.pool = None
        self.devices = None
        self.lxc = None


def _opt(name, index=None, field=None):
    if index is None:
        return name if field is None else "%s.%s" % (name, field)
    return "%s[%d].%s" % (name, index, field) if field else "%s[%d]" % (name, index)


def _size(value, option, default_unit="G"):
    """A size from the user: a number means GiB (as for pct), a string may carry a unit."""
    try:
        size = sizes.parse_size(value, default_unit=default_unit, units=sizes.PVE_UNITS)
    except sizes.SizeError:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0:
            raise _validation.ValidationError(
                option, value, "must be greater than 0", "Use e.g. 8 (GiB) or '512M'"
            ) from None
        raise _validation.ValidationError(option, value, "is not a size", "Use e.g. 8 (GiB), '8G' or '512M'") from None
    if size <= 0:
        raise _validation.ValidationError(option, value, "must be greater than 0", "Use e.g. 8 (GiB) or '512M'")
    return size


# Text options that may hold several lines: pct stores a description as '#' comment lines and the
# keys as a file; every other control character is refused, as for every other option.
MULTILINE_OPTIONS = ("description", "ssh_public_keys")
SECRET_OPTIONS = ("password",)


def check_text_params(value, option=""):
    """Every string inside the parameters passes the one config-line check (configline.check_value)."""
    if isinstance(value, dict):
        for key, item in value.items():
            check_text_params(item, "%s.%s" % (option, key) if option else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_text_params(item, "%s[%d]" % (option, index))
    elif isinstance(value, str):
        for line in value.split("\n") if option in MULTILINE_OPTIONS else [value]:
            try:
                configline.check_value(line, option=option)
            except _validation.ValidationError as exc:
                if option in SECRET_OPTIONS:
                    raise _validation.ValidationError(
                        option, "********", "contains a control character", exc.fix
                    ) from None
                raise


def desired_from_params(params):
    """Validate and normalise the module parameters (dict) into a Desired."""
    check_text_params(params)
    d = Desired()
    p = params
    d.scalars = _desired_scalars(p)
    if p.get("pool") is not None:
        d.pool = _validation.validate_pool(p["pool"])
    if p.get("image") is not None:
        _validation.validate_template_volid(p["image"], "image")
        d.image = p["image"]
    if p.get("devices") is not None:
        d.devices = _desired_devices(p["devices"])
    if p.get("lxc") is not None:
        d.lxc = _desired_lxc(p["lxc"])
    if p.get("features") is not None:
        d.features = _desired_features(p["features"])
    if p.get("startup") is not None:
        s = p["startup"]
        d.startup = {}
        for key in ("order", "up", "down"):
            if s.get(key) is not None:
                d.startup[key] = _validation.validate_int_range(s[key], 0, None, _opt("startup", field=key))
    if p.get("rootfs") is not None:
        r = p["rootfs"]
        d.rootfs = {}
        if r.get("storage") is not None:
            d.rootfs["storage"] = _validation.validate_storage_id(r["storage"], "rootfs.storage")
        if r.get("size") is not None:
            d.rootfs["size"] = _size(r["size"], "rootfs.size")
        d.rootfs.update(_volume_options(r, "rootfs"))
    if p.get("netif") is not None:
        d.netif = _desired_netif(p["netif"])
    if p.get("mounts") is not None:
        d.mounts = _desired_mounts(p["mounts"], bool(p.get("allow_sensitive_host_paths")))
    return d


def _desired_features(f):
    features = {}
    for key in ("nesting", "keyctl", "fuse", "mknod", "force_rw_sys"):
        if f.get(key) is not None:
            features[key] = bool(f[key])
    if f.get("mount") is not None:
        mounts = f["mount"] if isinstance(f["mount"], list) else _pveconfig.split_list(f["mount"])
        for fs in mounts:
            if not re.match(r"^[a-z0-9]+$", fs):
                raise _validation.ValidationError(
                    "features.mount", fs, "is not a file system type", "Use e.g. nfs or cifs"
                )
        features["mount"] = list(mounts)
    return features


def _desired_scalars(p):
    """The plain options (hostname, memory, ..., timezone), validated: {key: value}."""
    scalars = {}
    if p.get("hostname") is not None:
        scalars["hostname"] = _validation.validate_hostname(p["hostname"])
    for key, low, high in (("memory", 16, None), ("swap", 0, None), ("cores", 1, 8192), ("cpuunits", 0, 500000)):
        if p.get(key) is not None:
            scalars[key] = _validation.validate_int_range(p[key], low, high, key)
    if p.get("cpulimit") is not None:
        number = _validation.validate_number_range(p["cpulimit"], 0, 8192, "cpulimit")
        scalars["cpulimit"] = int(number) if number == int(number) else number
    for key in ("onboot", "unprivileged", "protection", "console"):
        if p.get(key) is not None:
            scalars[key] = bool(p[key])
    if p.get("cmode") is not None:
        if p["cmode"] not in CMODES:
            raise _validation.ValidationError("cmode", p["cmode"], "is not a console mode", "Use " + ", ".join(CMODES))
        scalars["cmode"] = p["cmode"]
    if p.get("tty") is not None:
        scalars["tty"] = _validation.validate_int_range(p["tty"], 0, 6, "tty")
    if p.get("hookscript") is not None:
        scalars["hookscript"] = _hookscript(p["hookscript"])
    if p.get("ostype") is not None:
        if p["ostype"] not in OSTYPES:
            raise _validation.ValidationError(
                "ostype", p["ostype"], "is not a PVE ostype", "Use one of " + ", ".join(OSTYPES)
            )
        scalars["ostype"] = p["ostype"]
    if p.get("arch") is not None:
        if p["arch"] not in ARCHES:
            raise _validation.ValidationError("arch", p["arch"], "is not a PVE arch", "Use one of " + ", ".join(ARCHES))
        scalars["arch"] = p["arch"]
    if p.get("tags") is not None:
        tags = p["tags"] if isinstance(p["tags"], list) else _pveconfig.split_list(p["tags"])
        for tag in tags:
            _validation.validate_tag(tag)
        # as pct set stores them with PVE's default tag style (lower-case, sorted, unique)
        scalars["tags"] = _pveconfig.unique_tags(tags)
    if p.get("description") is not None:
        text = str(p["description"]).rstrip("\n")
        if len(text.encode("utf-8")) > 8192:
            raise _validation.ValidationError("description", "...", "may only be 8 KiB long", "Shorten the description")
        scalars["description"] = text
    if p.get("nameserver") is not None:
        scalars["nameserver"] = [
            _validation.validate_ip(n, "nameserver") for n in _pveconfig.split_list(p["nameserver"])
        ]
    if p.get("searchdomain") is not None:
        scalars["searchdomain"] = [
            _validation.validate_hostname(n, "searchdomain") for n in _pveconfig.split_list(p["searchdomain"])
        ]
    if p.get("timezone") is not None:
        tz = p["timezone"]
        if not re.match(r"^[A-Za-z0-9_+\-/]+$", tz):
            raise _validation.ValidationError(
                "timezone", tz, "invalid time zone", "Use host, UTC or a zone like Europe/Berlin"
            )
        scalars["timezone"] = tz
    return scalars


def _desired_netif(entries):
    result = []
    names = set()
    if len(entries) > MAX_NET:
        raise _validation.ValidationError("netif", len(entries), "too many interfaces", "Use at most %d" % MAX_NET)
    for i, entry in enumerate(entries):
        name = _validation.validate_ifname(entry.get("name"), _opt("netif", i, "name"))
        if name in names:
            raise _validation.ValidationError(
                _opt("netif", i, "name"), name, "is listed twice", "Give each interface once"
            )
        names.add(name)
        out = {"name": name}
        checks = {
            "bridge": _validation.validate_bridge,
            "ip": _validation.validate_ipv4_config,
            "gw": _validation.validate_ipv4,
            "ip6": _validation.validate_ipv6_config,
            "gw6": _validation.validate_ipv6,
            "hwaddr": _validation.validate_mac,
        }
        for field, check in checks.items():
            value = entry.get(field)
            if value is None:
                continue
            out[field] = "" if value == "" else check(value, _opt("netif", i, field))
        if entry.get("tag") is not None:
            out["tag"] = _validation.validate_int_range(entry["tag"], 1, 4094, _opt("netif", i, "tag"))
        if entry.get("mtu") is not None:
            out["mtu"] = _validation.validate_int_range(entry["mtu"], 64, 65535, _opt("netif", i, "mtu"))
        if entry.get("rate") is not None:
            rate = _validation.validate_number_range(entry["rate"], 0, None, _opt("netif", i, "rate"))
            out["rate"] = int(rate) if rate == int(rate) else rate
        if entry.get("firewall") is not None:
            out["firewall"] = bool(entry["firewall"])
        result.append(out)
    return result


def _desired_mounts(entries, allow_sensitive=False):
    result = []
    ids = set()
    points = set()
    for i, entry in enumerate(entries):
        mid = _validation.validate_int_range(entry.get("id"), 0, MAX_MP - 1, _opt("mounts", i, "id"))
        if mid in ids:
            raise _validation.ValidationError(
                _opt("mounts", i, "id"), mid, "is listed twice", "Give each mount point id once"
            )
        ids.add(mid)
        mountpoint = _validation.validate_container_mountpoint(entry.get("mountpoint"), _opt("mounts", i, "mountpoint"))
        if mountpoint in points:
            raise _validation.ValidationError(
                _opt("mounts", i, "mountpoint"), mountpoint, "is used twice", "Mount once"
            )
        points.add(mountpoint)
        out = {"id": mid, "mp": mountpoint}
        host_path = entry.get("host_path")
        storage = entry.get("storage")
        if entry.get("volume") is not None:
            volume = _volume_id(entry["volume"], _opt("mounts", i, "volume"))
            if host_path is not None or (storage is not None and storage != _pveconfig.volume_storage(volume)):
                raise _validation.ValidationError(
                    _opt("mounts", i, "volume"),
                    volume,
                    "names an existing volume: host_path or another storage cannot go with it",
                    "Drop host_path/storage, or drop volume to allocate a new one",
                )
            out["volume"] = volume
            out["storage"] = _pveconfig.volume_storage(volume)
            if entry.get("size") is not None:
                out["size"] = _size(entry["size"], _opt("mounts", i, "size"))
        elif (host_path is None) == (storage is None):
            raise _validation.ValidationError(
                _opt("mounts", i),
                entry,
                "needs exactly one of host_path (bind mount) or storage (+ size, new volume)",
                "Set host_path: /srv/data, or storage: local-zfs with size: 8",
            )
        if "volume" in out:
            pass
        elif host_path is not None:
            option = _opt("mounts", i, "host_path")
            host_path = _validation.validate_abs_path(host_path, option)
            out["host_path"] = _validation.guard_host_path(host_path, option, allow_sensitive)
            if entry.get("size") is not None:
                raise _validation.ValidationError(
                    _opt("mounts", i, "size"), entry["size"], "only applies to storage volumes", "Drop size"
                )
        else:
            out["storage"] = _validation.validate_storage_id(storage, _opt("mounts", i, "storage"))
            if entry.get("size") is None:
                raise _validation.ValidationError(
                    _opt("mounts", i, "size"), None, "is required with storage", "Set size, e.g. 8 (GiB)"
                )
            out["size"] = _size(entry["size"], _opt("mounts", i, "size"))
        if entry.get("read_only") is not None:
            out["ro"] = bool(entry["read_only"])
        if entry.get("backup") is not None:
            out["backup"] = bool(entry["backup"])
        out.update(_volume_options(entry, _opt("mounts", i)))
        result.append(out)
    return result


def _volume_options(entry, option):
    """The mount options of a root disk or mount point: acl, quota, replicate, shared, mountoptions."""
    out = {}
    for key in ("acl", "quota", "replicate", "shared"):
        if entry.get(key) is not None:
            out[key] = bool(entry[key])
    if entry.get("mountoptions") is not None:
        given = entry["mountoptions"]
        items = given if isinstance(given, list) else _pveconfig.split_list(given)
        for item in items:
            if item not in MOUNT_OPTIONS:
                raise _validation.ValidationError(
                    option + ".mountoptions",
                    item,
                    "is not a mount option PVE allows",
                    "Use " + ", ".join(MOUNT_OPTIONS),
                )
        out["mountoptions"] = list(items)
    return out


def _volume_id(value, option):
    """An existing volume '<storage>:<name>' as PVE parses it (no ',' : it goes into a property string)."""
    text = str(value)
    try:
        _pveconfig.check_format("pve-volume-id", text)
    except _pveconfig.ConfigError as exc:
        raise _validation.ValidationError(
            option, value, str(exc), "Use <storage>:<volume>, e.g. local-zfs:subvol-120-disk-1"
        ) from None
    if "," in text or "=" in text:
        raise _validation.ValidationError(
            option, value, "may not contain ',' or '='", "Use the volume ID as pvesm list shows it"
        )
    return text


def _hookscript(value):
    """A snippet volume ID '<storage>:snippets/<file>' (PVE runs it on the host at each phase)."""
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9\-_.]*):snippets/([^/\s]+)$", str(value))
    if not match or match.group(2) in (".", ".."):
        raise _validation.ValidationError(
            "hookscript",
            value,
            "is not a snippet volume ID",
            "Use <storage>:snippets/<file>, e.g. local:snippets/hook.sh",
        )
    return str(value)


def _desired_devices(entries):
    result = []
    ids = set()
    for i, entry in enumerate(entries):
        did = _validation.validate_int_range(entry.get("id"), 0, MAX_DEV - 1, _opt("devices", i, "id"))
        if did in ids:
            raise _validation.ValidationError(_opt("devices", i, "id"), did, "is listed twice", "Give each id once")
        ids.add(did)
        path = _validation.validate_abs_path(entry.get("path"), _opt("devices", i, "path"))
        if not path.startswith("/dev/"):
            raise _validation.ValidationError(
                _opt("devices", i, "path"), path, "is not a device under /dev", "Use e.g. /dev/net/tun"
            )
        out = {"id": did, "path": path}
        if entry.get("mode") is not None:
            if not re.match(r"^0[0-7]{3}$", str(entry["mode"])):
                raise _validation.ValidationError(
                    _opt("devices", i, "mode"), entry["mode"], "is not an octal access mode", "Use e.g. '0666' (quoted)"
                )
            out["mode"] = str(entry["mode"])
        for key in ("uid", "gid"):
            if entry.get(key) is not None:
                out[key] = _validation.validate_int_range(entry[key], 0, None, _opt("devices", i, key))
        if entry.get("deny_write") is not None:
            out["deny-write"] = bool(entry["deny_write"])
        result.append(out)
    return result


def _desired_lxc(entries):
    """Raw lxc.* lines [(key, value)]: each through the node layer's allow-listed writer."""
    from ansible_collections.cageforge.nexcage.plugins.module_utils._node import configline

    lines = []
    for i, entry in enumerate(entries):
        option = "lxc[%d]" % i
        if isinstance(entry, (list, tuple)) and len(entry) == 2:
            key, value = entry
        elif isinstance(entry, str) and re.match(r"^\s*lxc\.[^:=\s]+\s*[:=]", entry):
            key, _sep, value = re.split(r"(\s*[:=]\s*)", entry.strip(), maxsplit=1)
        else:
            raise _validation.ValidationError(
                option,
                entry,
                "is not an lxc.* line",
                "Write ['lxc.cgroup2.devices.allow', 'c 10:200 rwm'] or 'lxc.key: value'",
            )
        configline.raw_lxc_line(str(key), str(value), option=option)
        lines.append((str(key), str(value)))
    return lines
