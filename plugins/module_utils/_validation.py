# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Validators shared by every nexcage module. PRIVATE to the collection.

Convention: every ``validate_*`` function RETURNS THE NORMALISED VALUE when the
input is valid (for example ``validate_vmid("101") == 101``) and RAISES
``ValidationError`` when it is not. ``ValidationError`` carries ``option`` (the
option name as the user wrote it, e.g. ``netif[0].hwaddr``), ``value``, a
one-line ``message`` and a ``fix`` telling the user what to write instead.
Modules turn it into a ``invalid_argument`` failure with ``_errors.from_validation``.

The rules follow what Proxmox VE itself accepts (pve-common JSONSchema.pm,
pve-storage Storage.pm; see docs/errors.md), so that a value that passes here
does not fail later inside ``pct``.

No function here touches the node: they are pure and cheap (guard_host_path reads the
host's file system, to resolve symlinks and recognise device nodes).
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import stat

from ansible.module_utils.common.validation import check_type_dict

from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import ValidationError
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths

VMID_MIN = 100
VMID_MAX = 999999999

_DNS_LABEL_PATTERN = r"^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$"
_STORAGE_ID_PATTERN = r"(?i)^[a-z][a-z0-9\-_.]*[a-z0-9]$"
# pve-storage VZTMPL_EXT_RE_1: .tar, .tar.gz, .tar.xz, .tar.zst, .tar.bz2
TEMPLATE_EXTENSIONS = (".tar", ".tar.gz", ".tar.xz", ".tar.zst", ".tar.bz2")
_TEMPLATE_FILE_PATTERN = r"^[^/\s,]+\.tar(\.(gz|xz|zst|bz2))?$"
_ENV_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_MAC_PATTERN = r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$"
_TAG_PATTERN = r"^[a-z0-9_][a-z0-9_+.\-]*$"
_IFNAME_PATTERN = r"^[A-Za-z0-9_.\-]{1,15}$"
_BRIDGE_PATTERN = r"^[A-Za-z0-9_.\-]{1,15}$"
_POOL_PATTERN = r"^[A-Za-z0-9\-_.]+$"


def check(validator, value, *args, **kwargs):
    """Run validator; return None when valid, else the ValidationError (never raises it)."""
    try:
        validator(value, *args, **kwargs)
    except ValidationError as exc:
        return exc
    return None


def validate_vmid(value, option="vmid"):
    """A Proxmox guest ID: integer 100..999999999 (regex ^[1-9][0-9]{2,8}$). Returns int."""
    if isinstance(value, bool):
        raise ValidationError(option, value, "must be an integer", "Use a number from 100 to 999999999")
    text = str(value).strip()
    if paths.name_vmid(text) is None:
        if not text.lstrip("-").isdigit():
            raise ValidationError(option, value, "must be an integer", "Use a number from 100 to 999999999")
        raise ValidationError(
            option,
            value,
            "value does not look like a valid VM ID",
            "Use a number from %d to %d" % (VMID_MIN, VMID_MAX),
        )
    return int(text)


def validate_hostname(value, option="hostname"):
    """A DNS name as pct accepts it (labels of letters, digits, '-', dot-separated, max 255)."""
    if not isinstance(value, str) or not value:
        raise ValidationError(option, value, "must be a non-empty DNS name", "Use e.g. web01 or web01.example.com")
    if len(value) > 255:
        raise ValidationError(option, value, "may only be 255 characters long", "Use a shorter name")
    for label in value.split("."):
        if not re.match(_DNS_LABEL_PATTERN, label) or len(label) > 63:
            raise ValidationError(
                option,
                value,
                "value does not look like a valid DNS name",
                "Use letters, digits and '-' in dot-separated labels of at most 63 characters, "
                "not starting or ending with '-' (no '_' or spaces)",
            )
    return value


def validate_storage_id(value, option="storage"):
    """A Proxmox storage ID such as local, local-zfs, nfs_1 (returns it unchanged)."""
    if not isinstance(value, str) or not re.match(_STORAGE_ID_PATTERN, value):
        raise ValidationError(
            option,
            value,
            "storage ID %r contains illegal characters" % (value,),
            "A storage ID starts with a letter, ends with a letter or digit, and has only letters, digits, '-', "
            "'_' and '.' (see /etc/pve/storage.cfg)",
        )
    return value


def validate_template_volid(value, option="image"):
    """A container template volume ID ``<storage>:vztmpl/<file>.tar[.gz|.xz|.zst|.bz2]``.

    Returns (storage, file_name).
    """
    fix = "Use a template volume ID like local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
    if not isinstance(value, str) or ":" not in value:
        raise ValidationError(option, value, "is not a template volume ID (missing '<storage>:')", fix)
    storage, _sep, rest = value.partition(":")
    if not re.match(_STORAGE_ID_PATTERN, storage):
        raise ValidationError(option, value, "storage ID %r contains illegal characters" % storage, fix)
    if not rest.startswith("vztmpl/"):
        raise ValidationError(option, value, "the volume is not in the template area 'vztmpl/'", fix)
    name = rest[len("vztmpl/") :]
    if not re.match(_TEMPLATE_FILE_PATTERN, name):
        raise ValidationError(
            option,
            value,
            "file name must end in one of %s and contain no '/', ',' or spaces" % ", ".join(TEMPLATE_EXTENSIONS),
            fix,
        )
    return storage, name


def validate_abs_path(value, option="path"):
    """A safe absolute path: starts with '/', no '.'/'..' components, no '//' , ',' , NUL or newline.

    Returns the path without a trailing '/' (except for '/' itself).
    """
    fix = "Use a normalised absolute path such as /srv/data"
    if not isinstance(value, str) or not value.startswith("/"):
        raise ValidationError(option, value, "must be an absolute path", fix)
    if any(c in value for c in ("\0", "\n", "\r", ",")):
        raise ValidationError(option, value, "contains a NUL, newline or ',' character", fix)
    if value == "/":
        return value
    parts = value.split("/")[1:]
    if value.endswith("/"):
        parts = parts[:-1]
    if any(p in (".", "..") for p in parts) or "" in parts:
        raise ValidationError(option, value, "contains illegal character sequences ('.', '..' or '//')", fix)
    return value.rstrip("/") or "/"


def validate_env(value, option="env"):
    """One environment entry ``KEY=value`` (KEY: [A-Za-z_][A-Za-z0-9_]*, no NUL). Returns (key, value)."""
    fix = "Write it as KEY=value with KEY made of letters, digits and '_', not starting with a digit"
    if not isinstance(value, str) or "=" not in value:
        raise ValidationError(option, value, "is not of the form KEY=value", fix)
    key, _sep, val = value.partition("=")
    if not re.match(_ENV_KEY_PATTERN, key):
        raise ValidationError(option, value, "invalid variable name %r" % key, fix)
    if "\0" in val or "\n" in val:
        raise ValidationError(option, value, "the value contains a NUL or newline", fix)
    return key, val


def validate_mac(value, option="hwaddr"):
    """A unicast MAC address; returned upper-case as PVE prints it."""
    if not isinstance(value, str) or not re.match(_MAC_PATTERN, value) or int(value[:2], 16) & 1:
        raise ValidationError(
            option,
            value,
            "value does not look like a valid unicast MAC address",
            "Use six ':'-separated hex pairs with an even first byte, e.g. BC:24:11:AA:BB:CC",
        )
    return value.upper()


def validate_ipv4_config(value, option="ip"):
    """net ip=: 'dhcp', 'manual' or an IPv4 address with /prefix. Returns it normalised."""
    if value in ("dhcp", "manual"):
        return value
    try:
        iface = ipaddress.IPv4Interface(value)
    except (ValueError, TypeError):
        iface = None
    if iface is None or "/" not in str(value):
        raise ValidationError(
            option, value, "value does not look like a valid ipv4 network configuration", "Use dhcp or e.g. 10.0.0.5/24"
        )
    return str(iface)


def validate_ipv6_config(value, option="ip6"):
    """net ip6=: 'auto', 'dhcp', 'manual' or an IPv6 address with /prefix."""
    if value in ("auto", "dhcp", "manual"):
        return value
    try:
        iface = ipaddress.IPv6Interface(value)
    except (ValueError, TypeError):
        iface = None
    if iface is None or "/" not in str(value):
        raise ValidationError(
            option,
            value,
            "value does not look like a valid ipv6 network configuration",
            "Use auto, dhcp or e.g. fd00::5/64",
        )
    return str(iface)


def validate_ipv4(value, option="gw"):
    try:
        return str(ipaddress.IPv4Address(value))
    except (ValueError, TypeError):
        raise ValidationError(option, value, "is not an IPv4 address", "Use e.g. 10.0.0.1") from None


def validate_ipv6(value, option="gw6"):
    try:
        return str(ipaddress.IPv6Address(value))
    except (ValueError, TypeError):
        raise ValidationError(option, value, "is not an IPv6 address", "Use e.g. fd00::1") from None


def validate_ip(value, option="nameserver"):
    """An IPv4 or IPv6 address."""
    try:
        return str(ipaddress.ip_address(value))
    except (ValueError, TypeError):
        raise ValidationError(option, value, "is not an IP address", "Use e.g. 10.0.0.1 or fd00::1") from None


def validate_tag(value, option="tags"):
    """One guest tag; returned lower-cased as PVE stores it."""
    text = str(value).lower()
    if not re.match(_TAG_PATTERN, text):
        raise ValidationError(
            option, value, "invalid characters in tag", "Tags use a-z, 0-9, '_', '+', '.', '-' and start with a-z0-9_"
        )
    return text


def validate_ifname(value, option="name"):
    if not isinstance(value, str) or not re.match(_IFNAME_PATTERN, value):
        raise ValidationError(option, value, "is not a valid interface name", "Use at most 15 characters, e.g. eth0")
    return value


def validate_bridge(value, option="bridge"):
    if not isinstance(value, str) or not re.match(_BRIDGE_PATTERN, value):
        raise ValidationError(option, value, "is not a valid bridge name", "Use e.g. vmbr0")
    return value


def validate_pool(value, option="pool"):
    if not isinstance(value, str) or not re.match(_POOL_PATTERN, value):
        raise ValidationError(option, value, "is not a valid pool name", "Use letters, digits, '-', '_' and '.'")
    return value


def validate_int_range(value, low, high, option):
    """An integer in [low, high] (either bound may be None)."""
    if isinstance(value, bool):
        raise ValidationError(option, value, "must be an integer", None)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError(option, value, "type check ('integer') failed", "Use a whole number") from None
    if low is not None and number < low:
        raise ValidationError(option, value, "value must have a minimum value of %s" % low, "Use at least %s" % low)
    if high is not None and number > high:
        raise ValidationError(option, value, "value must have a maximum value of %s" % high, "Use at most %s" % high)
    return number


def validate_number_range(value, low, high, option):
    """A number (int or float) in [low, high]."""
    if isinstance(value, bool):
        raise ValidationError(option, value, "must be a number", None)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError(option, value, "type check ('number') failed", "Use a number") from None
    if low is not None and number < low:
        raise ValidationError(option, value, "value must have a minimum value of %s" % low, "Use at least %s" % low)
    if high is not None and number > high:
        raise ValidationError(option, value, "value must have a maximum value of %s" % high, "Use at most %s" % high)
    return number


# --------------------------------------------------------------------------- raw option values (issue 10)
# Checked on the values as they arrive, before ansible-core converts them: its int conversion
# reads "1e3" as 1000 and crashes on "inf", and a list given for a dict option with suboptions
# crashes its suboption handling.

TIMEOUT_MAX = 86400
# option -> (lowest, highest) for the numbers of every module; a number outside is refused with
# the limit named. Options not listed get NUMBER_DEFAULT_LIMITS.
NUMBER_LIMITS = {
    "vmid": (VMID_MIN, VMID_MAX),
    "command_timeout": (1, TIMEOUT_MAX),
    "stop_timeout": (1, TIMEOUT_MAX),
    "wait_timeout": (1, TIMEOUT_MAX),
    "memory": (16, 2**40),
    "swap": (0, 2**40),
    "cores": (1, 8192),
    "cpulimit": (0, 8192),
    "cpuunits": (0, 500000),
    "netif.tag": (1, 4094),
    "netif.mtu": (64, 65535),
    "netif.rate": (0, 2**31),
    "mounts.id": (0, 255),
    "user.uid": (0, 2**32 - 1),
    "user.gid": (0, 2**32 - 1),
    "user.additional_gids": (0, 2**32 - 1),
    "rlimits.soft": (0, 2**64 - 1),  # OCI rlimits are uint64; the maximum means unlimited
    "rlimits.hard": (0, 2**64 - 1),
}
NUMBER_DEFAULT_LIMITS = (-(2**63), 2**63 - 1)
# list options whose elements are whole tasks of a module (nexcage_containers' containers): an element's
# options have that module's limits, so they are looked up under their own names ("stop_timeout")
TASK_LISTS = ("containers",)
_INTEGER_TEXT_PATTERN = r"-?[0-9]+"
_DECIMAL_TEXT_PATTERN = r"-?[0-9]+(\.[0-9]+)?"


def _limits(key):
    return NUMBER_LIMITS.get(key, NUMBER_DEFAULT_LIMITS)


def _in_limits(option, key, value, number):
    low, high = _limits(key)
    if number < low:
        raise ValidationError(
            option, value, "is below the limit of %s" % low, "Use a number from %s to %s" % (low, high)
        )
    if number > high:
        raise ValidationError(
            option, value, "is above the limit of %s" % high, "Use a number from %s to %s" % (low, high)
        )


def raw_integer(value, option, key=None):
    """An integer as Proxmox VE accepts it: an int, or a string of digits (no 1e3, 0x10, ' 1', 1.5, inf)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValidationError(option, value, "must be an integer", "Write a whole number such as 60")
    if isinstance(value, str) and not re.fullmatch(_INTEGER_TEXT_PATTERN, value):
        raise ValidationError(option, value, "must be an integer written with digits only", "Write e.g. 60")
    if isinstance(value, str) and len(value) > 40:  # int() of thousands of digits is refused by Python itself
        low, high = _limits(key or option)
        raise ValidationError(option, value[:40] + "...", "is out of range", "Use a number from %s to %s" % (low, high))
    _in_limits(option, key or option, value, int(value))
    return int(value)


def raw_number(value, option, key=None):
    """A finite number (int, float, or a plain decimal string): NaN and infinities are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValidationError(option, value, "must be a number", "Write a number such as 1.5")
    if isinstance(value, str) and not re.fullmatch(_DECIMAL_TEXT_PATTERN, value):
        raise ValidationError(
            option, value, "must be a plain decimal number (no nan, inf or exponent)", "Write e.g. 1.5"
        )
    number = float(value)
    if not math.isfinite(number):
        raise ValidationError(option, value, "must be a finite number", "Write e.g. 1.5")
    _in_limits(option, key or option, value, number)
    return number


def _raw_dict(value, option):
    """A dict option's value as a dict (a string in key=value or JSON form is parsed as ansible-core does)."""
    if isinstance(value, str):
        try:
            value = check_type_dict(value)
        except TypeError:
            pass
    if not isinstance(value, dict):
        raise ValidationError(
            option, value, "must be a dictionary", "Give it as a mapping of its fields (or key=value,key=value)"
        )
    return value


def raw_option_problems(argument_spec, params, prefix="", key_prefix=""):
    """ValidationErrors for the raw values ansible-core would misread or crash on (see above)."""
    problems = []
    for name, spec in argument_spec.items():
        value = params.get(name) if isinstance(params, dict) else None
        if value is None:
            continue
        option = prefix + name
        key = key_prefix + name
        kind = spec.get("type", "str")
        try:
            if kind == "int":
                raw_integer(value, option, key)
                if key == "vmid":
                    validate_vmid(value, option)  # also no leading zero, as Proxmox VE's VMID pattern
            elif kind == "float":
                raw_number(value, option, key)
            elif kind == "dict" and spec.get("options"):
                value = _raw_dict(value, option)
                if isinstance(value, dict):
                    problems += raw_option_problems(spec["options"], value, option + ".", key + ".")
            elif kind == "list":
                if not isinstance(value, (list, str)) or (isinstance(value, str) and spec.get("elements") == "dict"):
                    raise ValidationError(option, value, "must be a list", "Give it as a list")
                if isinstance(value, list) and spec.get("elements") == "dict":
                    item_keys = "" if key in TASK_LISTS else key + "."
                    for index, item in enumerate(value):
                        where = "%s[%d]" % (option, index)
                        item = _raw_dict(item, where)
                        problems += raw_option_problems(spec.get("options") or {}, item, where + ".", item_keys)
                elif isinstance(value, list) and spec.get("elements") in ("int", "float"):
                    for index, item in enumerate(value):
                        where = "%s[%d]" % (option, index)
                        (raw_integer if spec["elements"] == "int" else raw_number)(item, where, key)
            elif kind == "dict":
                _raw_dict(value, option)
        except ValidationError as exc:
            problems.append(exc)
    return problems


# --------------------------------------------------------------------------- host paths and mount points

# Host paths a bind mount (or a ZFS mountpoint) may not use without allow_sensitive_host_paths:
# the container could read or change the host through them.
SENSITIVE_HOST_PATHS = (
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/root",
    "/run",
    "/var/lib/lxc",
    "/var/lib/vz",
    "/var/lib/nexcage",  # nexcage's records and the default bundle roots
)
# Container-side mount points refused whatever the opt-in: the container needs its own.
FORBIDDEN_MOUNTPOINTS = ("/", "/proc", "/sys", "/dev")
SENSITIVE_FIX = "Bind-mount a dedicated directory (e.g. under /srv), or set allow_sensitive_host_paths: true"


def guard_host_path(path, option, allow=False, extra=()):
    """path unchanged, unless it is (after resolving symlinks) the host's root, a device or under a
    guarded directory (SENSITIVE_HOST_PATHS or extra) and allow is false."""
    if allow:
        return path
    resolved = os.path.realpath(path)
    for candidate in (os.path.normpath(path), resolved):
        if candidate == "/":
            raise ValidationError(option, path, "is the host's root directory", SENSITIVE_FIX)
        for guarded in SENSITIVE_HOST_PATHS + tuple(extra):
            if candidate == guarded or candidate.startswith(guarded.rstrip("/") + "/"):
                shown = "" if candidate == path else " (%s)" % candidate
                raise ValidationError(
                    option, path, "is a sensitive host path%s under %s" % (shown, guarded), SENSITIVE_FIX
                )
    try:
        mode = os.stat(resolved).st_mode
    except OSError:
        return path
    if stat.S_ISBLK(mode) or stat.S_ISCHR(mode):
        raise ValidationError(option, path, "is a device node of the host", SENSITIVE_FIX)
    return path


def validate_container_mountpoint(value, option):
    """A container-side mount point: an absolute path as written (no ~ or $VAR expansion), not /, /proc,
    /sys or /dev. Returns it without a trailing '/'."""
    if isinstance(value, str) and value[:1] in ("~", "$"):
        raise ValidationError(
            option,
            value,
            "must be an absolute path (~ and $VAR are not expanded in a container path)",
            "Write the full path, e.g. /root/data",
        )
    path = validate_abs_path(value, option)
    if path in FORBIDDEN_MOUNTPOINTS:
        raise ValidationError(
            option,
            value,
            "is not allowed as a container mount point (the container needs its own %s)" % path,
            "Mount it below, e.g. /data",
        )
    return path


# --------------------------------------------------------------------------- ZFS names

ZFS_NAME_MAX = 255
_ZFS_COMPONENT_PATTERN = r"^[A-Za-z0-9_.:\-]+$"
_ZFS_NAME_FIX = (
    "A dataset name is pool/component/...: each component made of letters, digits, '_', '-', '.' and ':', "
    "not '.' or '..', not starting with '-'; the pool name starts with a letter; at most 255 characters"
)


def validate_zfs_name(value, option="name", snapshot=False):
    """A ZFS dataset name (or dataset@snapshot when snapshot) by OpenZFS's rules."""
    if not isinstance(value, str) or not value:
        raise ValidationError(option, value, "must be a dataset name", _ZFS_NAME_FIX)
    if len(value) > ZFS_NAME_MAX:
        raise ValidationError(option, value[:40] + "...", "is longer than %d characters" % ZFS_NAME_MAX, _ZFS_NAME_FIX)
    dataset, at, snap = value.partition("@")
    if at and not snapshot:
        raise ValidationError(option, value, "is a snapshot name, not a dataset", _ZFS_NAME_FIX)
    parts = dataset.split("/")
    if not re.match(r"^[A-Za-z]", parts[0]):
        raise ValidationError(option, value, "the pool name must begin with a letter", _ZFS_NAME_FIX)
    for part in parts + ([snap] if at else []):
        if part in ("", ".", ".."):
            raise ValidationError(option, value, "has an empty, '.' or '..' component", _ZFS_NAME_FIX)
        if part.startswith("-"):
            raise ValidationError(option, value, "has a component starting with '-'", _ZFS_NAME_FIX)
        if not re.match(_ZFS_COMPONENT_PATTERN, part):
            raise ValidationError(option, value, "has an invalid character in component %r" % part, _ZFS_NAME_FIX)
    return value
