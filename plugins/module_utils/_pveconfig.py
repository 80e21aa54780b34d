# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser and serialiser of Proxmox VE container configs. PRIVATE to the collection.

Reads the files pct itself reads (``/etc/pve/lxc/<vmid>.conf``,
``/etc/pve/storage.cfg``, ``/etc/pve/.vmlist``) and turns them into typed,
normalised Python values, so that comparisons never look at raw PVE strings:

* sizes become bytes (``8G`` -> 8589934592),
* booleans become ``True``/``False`` (PVE writes 1/0),
* property strings (``rootfs``, ``mpN``, ``netN``, ``features``, ``startup``,
  ``devN``, ``unusedN``) become dicts with typed fields; MAC addresses are
  upper-cased; ``mountoptions``/``trunks``/``mount`` become lists,
* ``tags`` become a sorted, de-duplicated, lower-case list; ``nameserver`` and
  ``searchdomain`` become lists,
* the ``#`` comment lines become ``description`` (URI-unescaped, one string),
* raw ``lxc.*`` entries are kept in order as ``lxc: [[key, value], ...]``,
* ``[pve:pending]`` becomes ``pending`` (same typing, plus ``delete``: list of
  keys), and every ``[snapshot]`` section becomes ``snapshots[name]``.

Public API (kept stable, other modules import it):
``parse_config(text) -> dict``, ``parse_property_string(key, value) -> dict``,
``format_property_string(key, dict) -> str``, ``parse_size(str) -> int``,
``format_size(int) -> str``, ``parse_value(key, str)``, ``format_value(key, value) -> str``,
``parse_storage_cfg(text) -> dict``, ``parse_vmlist(text) -> dict``.
"""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import unquote

from ansible_collections.cageforge.nexcage.plugins.module_utils._node import sizes

# size_to_gib is re-exported: part of this module's public API.
from ansible_collections.cageforge.nexcage.plugins.module_utils._node.sizes import (  # noqa: F401 pylint: disable=unused-import
    format_size,
    size_to_gib,
)

KIB = 1024
UNITS = {"": 1, "K": KIB, "M": KIB**2, "G": KIB**3, "T": KIB**4}

# Scalar keys and their types. Anything not listed stays a string.
INT_KEYS = frozenset({"memory", "swap", "cores", "cpuunits", "tty", "snaptime"})
FLOAT_KEYS = frozenset({"cpulimit"})
BOOL_KEYS = frozenset({"onboot", "unprivileged", "protection", "template", "console", "debug"})
LIST_KEYS = {"tags": ";", "nameserver": " ", "searchdomain": " "}

# Property-string formats: default key (printed bare), required keys (printed
# right after it), and the type of each field.
_MOUNT_FIELDS = {
    "volume": "str",
    "size": "size",
    "acl": "bool",
    "mountoptions": "list",
    "quota": "bool",
    "replicate": "bool",
    "ro": "bool",
    "shared": "bool",
}
FORMATS = {
    "rootfs": {"default": "volume", "required": (), "fields": _MOUNT_FIELDS},
    "mp": {
        "default": "volume",
        "required": ("mp",),
        "fields": dict(_MOUNT_FIELDS, mp="str", backup="bool", keepattrs="bool"),
    },
    "net": {
        "default": None,
        "required": ("name",),
        "fields": {
            "name": "str",
            "bridge": "str",
            "firewall": "bool",
            "gw": "str",
            "gw6": "str",
            "hwaddr": "mac",
            "ip": "str",
            "ip6": "str",
            "mtu": "int",
            "rate": "float",
            "tag": "int",
            "trunks": "intlist",
            "link_down": "bool",
            "host-managed": "bool",
            "type": "str",
        },
    },
    "features": {
        "default": None,
        "required": (),
        "fields": {
            "nesting": "bool",
            "keyctl": "bool",
            "fuse": "bool",
            "mknod": "bool",
            "force_rw_sys": "bool",
            "mount": "list",
        },
    },
    "startup": {"default": None, "required": (), "fields": {"order": "int", "up": "int", "down": "int"}},
    "dev": {
        "default": "path",
        "required": (),
        "fields": {"path": "str", "mode": "str", "uid": "int", "gid": "int", "deny-write": "bool"},
    },
    "unused": {"default": "volume", "required": (), "fields": {"volume": "str"}},
}
_INDEXED_RE = re.compile(r"^(mp|net|dev|unused)(\d+)$")
_TRUE = frozenset({"1", "yes", "on", "true"})
_FALSE = frozenset({"0", "no", "off", "false"})


class ConfigError(ValueError):
    """A value that cannot be parsed as the format its key requires."""


# --------------------------------------------------------------------------- sizes


def parse_size(value):
    """'8G' -> 8589934592; '512M'; '1.5G'; '100' (bytes); an int is returned as is.

    Units are binary (K = 1024) as in Proxmox VE; a trailing 'B'/'iB' is accepted.
    The parser is _node.sizes.parse_size; this keeps ConfigError for this module's callers.
    """
    try:
        return sizes.parse_size(value, units=sizes.PVE_UNITS)
    except sizes.SizeError:
        raise ConfigError("invalid size %r (use a number with an optional unit K, M, G or T)" % (value,)) from None


# --------------------------------------------------------------------------- scalars


def parse_bool(value):
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError("invalid boolean %r" % (value,))


def _format_bool(value):
    return "1" if value else "0"


def _format_number(value):
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    return str(value)


def normalise_tags(value):
    """'b;A, a c' or a list -> ['a', 'b', 'c'] (lower-case, de-duplicated, sorted)."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else re.split(r"[;,\s]+", str(value))
    return sorted({str(t).strip().lower() for t in items if str(t).strip()})


def split_list(value):
    """A PVE list (space, comma or semicolon separated) or a Python list -> list of str."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else re.split(r"[;,\s]+", str(value))
    return [str(t).strip() for t in items if str(t).strip()]


def format_type_of(key):
    """The FORMATS entry for key ('net0' -> 'net'), or None for scalar keys."""
    match = _INDEXED_RE.match(key)
    if match:
        return match.group(1)
    if key in FORMATS:
        return key
    return None


def parse_value(key, value):
    """Type one config value according to its key."""
    kind = format_type_of(key)
    if kind is not None:
        return parse_property_string(key, value)
    if key in INT_KEYS:
        return int(value)
    if key in FLOAT_KEYS:
        number = float(value)
        return int(number) if number == int(number) else number
    if key in BOOL_KEYS:
        return parse_bool(value)
    if key == "tags":
        return normalise_tags(value)
    if key in LIST_KEYS:
        return split_list(value)
    return value


def format_value(key, value):
    """The inverse of parse_value: the string pct takes for --key / writes in the file."""
    kind = format_type_of(key)
    if kind is not None:
        return format_property_string(key, value) if isinstance(value, dict) else str(value)
    if key in BOOL_KEYS or isinstance(value, bool):
        return _format_bool(value)
    if key == "tags":
        return ";".join(normalise_tags(value))
    if key in LIST_KEYS:
        return " ".join(split_list(value))
    if isinstance(value, float):
        return _format_number(value)
    return str(value)


# --------------------------------------------------------------------------- property strings


def _parse_field(kind, name, ftype, raw):
    try:
        if ftype == "bool":
            return parse_bool(raw)
        if ftype == "int":
            return int(raw)
        if ftype == "float":
            number = float(raw)
            return int(number) if number == int(number) else number
        if ftype == "size":
            return parse_size(raw)
        if ftype == "mac":
            return raw.upper()
        if ftype == "list":
            return [p for p in raw.split(";") if p]
        if ftype == "intlist":
            return [int(p) for p in raw.split(";") if p]
    except (ValueError, ConfigError) as exc:
        raise ConfigError("%s.%s: invalid value %r (%s)" % (kind, name, raw, exc)) from None
    return raw


def parse_property_string(key, value):
    """Parse 'local-zfs:subvol-100-disk-0,size=8G,mp=/data' for key (rootfs, mp0, net0, ...).

    Returns a dict of typed fields; keys PVE does not know are kept as strings.
    """
    kind = format_type_of(key)
    if kind is None:
        raise ConfigError("%s is not a property-string key" % key)
    spec = FORMATS[kind]
    result = {}
    for part in str(value).split(","):
        if part == "":
            continue
        if "=" in part:
            name, _sep, raw = part.partition("=")
        elif spec["default"] is not None and spec["default"] not in result:
            name, raw = spec["default"], part
        else:
            raise ConfigError("%s: invalid format - missing key in comma-separated list property: %r" % (key, part))
        name = name.strip()
        ftype = spec["fields"].get(name, "str")
        result[name] = _parse_field(kind, name, ftype, raw)
    return result


def _format_field(ftype, value):
    if ftype == "bool" or isinstance(value, bool):
        return _format_bool(value)
    if ftype == "size":
        return format_size(value)
    if ftype in ("list", "intlist"):
        return ";".join(str(v) for v in value)
    if isinstance(value, float):
        return _format_number(value)
    return str(value)


def format_property_string(key, fields):
    """Print fields as PVE does: default key bare first, then required keys, then the rest sorted.

    Fields whose value is None are left out.
    """
    kind = format_type_of(key)
    if kind is None:
        raise ConfigError("%s is not a property-string key" % key)
    spec = FORMATS[kind]
    present = {k: v for k, v in fields.items() if v is not None}
    parts = []
    default = spec["default"]
    if default is not None and default in present:
        parts.append(_format_field(spec["fields"].get(default, "str"), present.pop(default)))
    for name in spec["required"]:
        if name in present:
            parts.append("%s=%s" % (name, _format_field(spec["fields"].get(name, "str"), present.pop(name))))
    for name in sorted(present):
        parts.append("%s=%s" % (name, _format_field(spec["fields"].get(name, "str"), present[name])))
    return ",".join(parts)


def volume_storage(volume):
    """'local-zfs:subvol-100-disk-0' -> 'local-zfs'; a host path (bind/device mount) -> None."""
    if not volume or volume.startswith("/") or ":" not in volume:
        return None
    return volume.split(":", 1)[0]


# --------------------------------------------------------------------------- config files


def _unescape_description(line):
    return unquote(line)


def escape_description_line(line):
    """PVE's encoding of one description line in the config file: control chars, non-ASCII, ':' and '%'."""
    out = []
    for char in line:
        if char in ":%" or not 32 <= ord(char) <= 126:
            out.extend("%%%02X" % b for b in char.encode("utf-8"))
        else:
            out.append(char)
    return "".join(out)


def _new_section():
    return {"_description": [], "_lxc": [], "_raw": {}}


def parse_config(text):
    """Parse a /etc/pve/lxc/<vmid>.conf file into a typed dict.

    The result holds every key of the current section (typed, see the module
    docstring) plus: ``description`` (if any), ``lxc`` (raw entries),
    ``pending`` (dict, with ``delete`` list, empty if none), ``snapshots``
    ({name: dict}), ``digest`` (SHA-1 of the text) and ``warnings`` (lines that
    did not parse; PVE only warns about them too).
    """
    if isinstance(text, bytes):
        raw_bytes = text
        text = text.decode("utf-8", "replace")
    else:
        raw_bytes = text.encode("utf-8")
    sections = {"": _new_section()}
    order = [""]
    current = ""
    warnings = []
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        match = re.match(r"^\[([^\]]+)\]\s*$", stripped)
        if match:
            current = match.group(1)
            sections.setdefault(current, _new_section())
            order.append(current)
            continue
        section = sections[current]
        if stripped.startswith("#"):
            section["_description"].append(_unescape_description(line.strip()[1:]))
            continue
        match = re.match(r"^(lxc\.[a-zA-Z0-9_.\-]+)\s*(?:[:=])\s*(.*?)\s*$", line)
        if match:
            section["_lxc"].append([match.group(1), match.group(2)])
            continue
        match = re.match(r"^([a-z][a-z0-9_\-]*)\s*:\s*(.*?)\s*$", line)
        if not match:
            warnings.append("unable to parse config line %d: %s" % (lineno, line))
            continue
        section["_raw"][match.group(1)] = match.group(2)

    def build(section, is_pending=False):
        out = {}
        for key, value in section["_raw"].items():
            if is_pending and key == "delete":
                out["delete"] = [k for k in re.split(r"[,;\s]+", value) if k]
                continue
            try:
                out[key] = parse_value(key, value)
            except (ValueError, ConfigError) as exc:
                warnings.append("unable to parse value of '%s' - %s" % (key, exc))
                out[key] = value
        if section["_description"]:
            out["description"] = "\n".join(section["_description"])
        if section["_lxc"]:
            out["lxc"] = section["_lxc"]
        return out

    result = build(sections[""])
    result.setdefault("lxc", [])
    result["pending"] = build(sections["pve:pending"], True) if "pve:pending" in sections else {}
    result["snapshots"] = {name: build(sections[name]) for name in order if name not in ("", "pve:pending")}
    result["digest"] = hashlib.sha1(raw_bytes).hexdigest()
    result["warnings"] = warnings
    return result


META_KEYS = frozenset({"pending", "snapshots", "digest", "warnings", "lxc", "description"})


def effective_config(parsed):
    """The config as it will be after the next start (like ``pct config``): pending merged, deletions applied."""
    result = {k: v for k, v in parsed.items() if k not in ("pending", "snapshots", "warnings", "digest")}
    pending = parsed.get("pending") or {}
    for key, value in pending.items():
        if key == "delete":
            continue
        result[key] = value
    for key in pending.get("delete", []):
        result.pop(key.lstrip("!"), None)
    return result


def config_keys(parsed):
    """The plain config keys of a parsed config (no meta keys)."""
    return {k: v for k, v in parsed.items() if k not in META_KEYS}


def format_config(parsed):
    """Serialise a parsed config back to file text (description, sorted keys, lxc, pending, snapshots)."""

    def section(data, pending=False):
        lines = []
        if data.get("description"):
            lines.extend("#" + escape_description_line(d) for d in data["description"].split("\n"))
        for key in sorted(k for k in data if k not in META_KEYS and k != "delete"):
            lines.append("%s: %s" % (key, format_value(key, data[key])))
        for key, value in data.get("lxc", []):
            lines.append("%s: %s" % (key, value))
        if pending and data.get("delete"):
            lines.append("delete: %s" % ",".join(data["delete"]))
        return lines

    lines = section(parsed)
    if parsed.get("pending"):
        lines += ["", "[pve:pending]"] + section(parsed["pending"], True)
    for name in sorted(parsed.get("snapshots") or {}):
        lines += ["", "[%s]" % name] + section(parsed["snapshots"][name])
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- storage.cfg, .vmlist


def parse_storage_cfg(text):
    """/etc/pve/storage.cfg -> {storage_id: {'type': ..., 'content': [...], 'disable': bool, 'path': ..., ...}}.

    Section headers are ``<type>: <id>``; properties are indented ``key value``
    lines; a key without a value (e.g. ``sparse``) is True.
    """
    storages = {}
    current = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            match = re.match(r"^([a-z0-9]+):\s*(\S+)\s*$", line.strip())
            if match:
                current = {"type": match.group(1), "content": [], "disable": False}
                storages[match.group(2)] = current
            else:
                current = None
            continue
        if current is None:
            continue
        key, _sep, value = line.strip().partition(" ")
        value = value.strip()
        if key == "content":
            current["content"] = split_list(value)
        elif key in ("disable", "sparse", "shared"):
            current[key] = parse_bool(value) if value else True
        else:
            current[key] = value if value else True
    return storages


def parse_vmlist(text):
    """/etc/pve/.vmlist -> {vmid(int): {'node': ..., 'type': 'lxc'|'qemu', 'version': n}}."""
    if not text.strip():
        return {}
    data = json.loads(text)
    return {int(k): v for k, v in (data.get("ids") or {}).items()}
