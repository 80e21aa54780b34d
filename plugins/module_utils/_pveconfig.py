# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parser, checker and printer of Proxmox VE container configs, as Proxmox reads them. PRIVATE to the collection.

Proxmox's own code is the model (pve-container 6.1.10 / pve-common 9.2.1: parse_pct_config,
check_type, parse_property_string, print_property_string, write_pct_config); its schema is
kept here as data (CONFIG_KEYS, FORMATS, LXC_CONF_KEYS) and every refusal carries
Proxmox's message. The typed view turns PVE's strings into Python values so comparisons
never look at raw strings:

* sizes become bytes (``8G`` -> 8589934592), booleans ``True``/``False``,
* property strings (``rootfs``, ``mpN``, ``netN``, ``features``, ``devN``, ``unusedN``)
  and ``startup`` (also the bare ``startup: 3``) become dicts of typed fields; MAC
  addresses are upper-cased; ``mountoptions``/``trunks``/``mount`` become lists,
* ``tags``, ``nameserver`` and ``searchdomain`` become lists as written (case and order
  kept, as PVE keeps the line); ``unique_tags`` is how ``pct set`` stores tags,
* ``description`` is decoded as PVE decodes it (``#`` lines, each with its newline, and a
  ``description:`` key line), byte for byte,
* raw ``lxc.*`` entries PVE keeps stay in order as ``lxc: [[key, value], ...]``,
* ``[pve:pending]`` becomes ``pending`` (plus ``delete``: list of keys), every
  ``[snapshot]`` section ``snapshots[name]``, and ``raw`` holds the value strings PVE keeps.

Printing never rewrites a value nobody changed: ``format_config`` is PVE's writer (keys
sorted, unchanged values as read), ``edit_config_text`` changes only the given lines.
Bind-mount paths keep their trailing '/' (``same_host_path`` compares them as mounts do).

Public API: ``parse_config(text, vmid=None, strict=False)``, ``check_type(key, value)``,
``parse_value(key, str)``, ``format_value(key, value)``, ``parse_property_string(key, str)``,
``format_property_string(key, dict)``, ``print_property_string(key, dict)``,
``format_config(parsed)``, ``edit_config_text(text, lines, section)``, ``parse_size``,
``format_size``, ``unique_tags``, ``same_host_path``, ``parse_vmlist`` (storage.cfg: _pvestorage).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from urllib.parse import quote, unquote

from ansible_collections.cageforge.nexcage.plugins.module_utils._node import sizes

# format_size and size_to_gib are re-exported: part of this module's public API.
from ansible_collections.cageforge.nexcage.plugins.module_utils._node.sizes import (  # noqa: F401 pylint: disable=unused-import
    format_size,
    size_to_gib,
)
from ansible_collections.cageforge.nexcage.plugins.module_utils._pvevalues import ConfigError, split_list

KIB = 1024
UNITS = {"": 1, "K": KIB, "M": KIB**2, "G": KIB**3, "T": KIB**4}
# PVE::JSONSchema::parse_size: what a disk-size field accepts.
_PVE_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)([KMGT](?:iB)?)?$")

# --------------------------------------------------------------------------- schema (data)
#
# Proxmox VE's own schema of a container config (PVE::LXC::Config $confdesc and the
# property-string formats; pve-container 6.1.10), as data. ``type``/``format``/``pattern``/
# ``enum``/``minimum``/``maximum``/``optional``/``default_key`` mean what they mean there;
# ``view`` is how nexcage types a validated value (bool, int, number, size, list, intlist,
# mac, str).

_IPV4_OCTET = r"(?:25[0-5]|(?:2[0-4]|1[0-9]|[1-9])?[0-9])"
_IPV4 = r"(?:(?:%s\.){3}%s)" % (_IPV4_OCTET, _IPV4_OCTET)
_H16 = r"(?:[0-9a-fA-F]{1,4})"
_LS32 = r"(?:(?:%s|%s:%s))" % (_IPV4, _H16, _H16)
_IPV6 = (
    (
        "(?:"
        "(?:(?:(?:H:){6})L)|"
        "(?:(?:::(?:H:){5})L)|"
        "(?:(?:(?:H)?::(?:H:){4})L)|"
        "(?:(?:(?:(?:H:){0,1}H)?::(?:H:){3})L)|"
        "(?:(?:(?:(?:H:){0,2}H)?::(?:H:){2})L)|"
        "(?:(?:(?:(?:H:){0,3}H)?::(?:H:){1})L)|"
        "(?:(?:(?:(?:H:){0,4}H)?::)L)|"
        "(?:(?:(?:(?:H:){0,5}H)?::)H)|"
        "(?:(?:(?:(?:H:){0,6}H)?::)))"
    )
    .replace("H", _H16)
    .replace("L", _LS32)
)
# Patterns as text: re compiles each on its first use (and keeps it), so a config without IPv6
# addresses never pays for the IPv6 pattern.
_IPV4_PATTERN = r"^(?:%s)$" % _IPV4
_IPV6_PATTERN = r"^(?:%s)$" % _IPV6
_IP_PATTERN = r"^(?:%s|%s)$" % (_IPV4, _IPV6)
_MOUNT_OPTION = "(discard|lazytime|noatime|nodev|noexec|nosuid)"
_IDMAP = r"^(?:passthrough|[ug]:[0-9]+:[0-9]+:[1-9][0-9]*(?:;[ug]:[0-9]+:[0-9]+:[1-9][0-9]*)*)$"
_PVE_TAG = r"[a-z0-9_][a-z0-9_\-\+\.]*"


def _f(type_, view=None, optional=True, **schema):
    field = dict(
        schema,
        type=type_,
        view=view or {"boolean": "bool", "integer": "int", "number": "number"}.get(type_, "str"),
        optional=optional,
    )
    return field


_MOUNT_FIELDS = {
    "volume": _f("string", optional=False, default_key=True, format="pve-lxc-mp-string"),
    "size": _f("string", "size", format="disk-size"),
    "acl": _f("boolean"),
    "idmap": _f("string", pattern=_IDMAP),
    "mountoptions": _f("string", "list", pattern="%s(;%s)*" % (_MOUNT_OPTION, _MOUNT_OPTION)),
    "quota": _f("boolean"),
    "replicate": _f("boolean"),
    "ro": _f("boolean"),
    "shared": _f("boolean"),
}
FORMATS = {
    "rootfs": _MOUNT_FIELDS,
    "mp": dict(
        _MOUNT_FIELDS,
        mp=_f("string", optional=False, format="pve-lxc-mp-string"),
        backup=_f("boolean"),
        keepattrs=_f("boolean"),
    ),
    "net": {
        "name": _f("string", optional=False, pattern=r"[-_.\w\d]+"),
        "bridge": _f("string", pattern=r"[-_.\w\d]+"),
        "firewall": _f("boolean"),
        "gw": _f("string", "ip", format="ipv4"),
        "gw6": _f("string", "ip", format="ipv6"),
        "hwaddr": _f("string", "mac", format="mac-addr"),
        "ip": _f("string", "ip", format="pve-ipv4-config"),
        "ip6": _f("string", "ip", format="pve-ipv6-config"),
        "mtu": _f("integer", minimum=64, maximum=65535),
        "rate": _f("number"),
        "tag": _f("integer", minimum=1, maximum=4094),
        "trunks": _f("string", "intlist", pattern=r"\d+(?:;\d+)*"),
        "link_down": _f("boolean"),
        "host-managed": _f("boolean"),
        "type": _f("string", enum=("veth",)),
    },
    "features": {
        "nesting": _f("boolean"),
        "keyctl": _f("boolean"),
        "fuse": _f("boolean"),
        "mknod": _f("boolean"),
        "force_rw_sys": _f("boolean"),
        "mount": _f("string", "list", pattern=r"[a-zA-Z0-9_; ]+"),
    },
    "dev": {
        "path": _f("string", default_key=True, format="pve-lxc-dev-string"),
        "mode": _f("string", pattern=r"0[0-7]{3}"),
        "uid": _f("integer", minimum=0),
        "gid": _f("integer", minimum=0),
        "deny-write": _f("boolean"),
    },
    "unused": {"volume": _f("string", optional=False, default_key=True, format="pve-volume-id")},
    # not a property-string format in PVE (pve_parse_startup_order), typed like one here
    "startup": {"order": _f("integer"), "up": _f("integer"), "down": _f("integer")},
}
# Scalar keys: type and format as PVE::LXC::Config->check_type checks them when it reads a config.
CONFIG_KEYS = {
    "arch": _f("string"),
    "cmode": _f("string"),
    "console": _f("boolean"),
    "cores": _f("integer"),
    "cpulimit": _f("number"),
    "cpuunits": _f("integer"),
    "debug": _f("boolean"),
    "description": _f("string"),
    "entrypoint": _f("string"),
    "env": _f("string"),
    "hookscript": _f("string", format="pve-volume-id"),
    "hostname": _f("string", format="dns-name"),
    "lock": _f("string"),
    "memory": _f("integer"),
    "nameserver": _f("string", "iplist", format="lxc-ip-with-ll-iface-list"),
    "onboot": _f("boolean"),
    "ostype": _f("string"),
    "parent": _f("string"),
    "protection": _f("boolean"),
    "searchdomain": _f("string", "list", format="dns-name-list"),
    "snaptime": _f("integer"),
    "startup": _f("string", "startup", format="pve-startup-order"),
    "swap": _f("integer"),
    "tags": _f("string", "list", format="pve-tag-list"),
    "template": _f("boolean"),
    "timezone": _f("string", format="pve-ct-timezone"),
    "tty": _f("integer"),
    "unprivileged": _f("boolean"),
}
# Raw lxc.* keys PVE keeps in a config (PVE::LXC::Config $valid_lxc_conf_keys); a string is
# the reason PVE refuses the key. lxc.cgroup2.*, lxc.prlimit.* and lxc.net.* are all kept.
LXC_CONF_KEYS = dict.fromkeys(
    [
        "lxc.apparmor.profile",
        "lxc.apparmor.allow_incomplete",
        "lxc.apparmor.allow_nesting",
        "lxc.apparmor.raw",
        "lxc.selinux.context",
        "lxc.include",
        "lxc.arch",
        "lxc.uts.name",
        "lxc.signal.halt",
        "lxc.signal.reboot",
        "lxc.signal.stop",
        "lxc.init.cmd",
        "lxc.init.cwd",
        "lxc.init.uid",
        "lxc.init.gid",
        "lxc.init.groups",
        "lxc.pty.max",
        "lxc.console.logfile",
        "lxc.console.path",
        "lxc.tty.max",
        "lxc.devtty.dir",
        "lxc.hook.autodev",
        "lxc.autodev",
        "lxc.kmsg",
        "lxc.mount.fstab",
        "lxc.mount.entry",
        "lxc.mount.auto",
        "lxc.rootfs.mount",
        "lxc.cap.drop",
        "lxc.cap.keep",
        "lxc.seccomp.profile",
        "lxc.seccomp.notify.proxy",
        "lxc.seccomp.notify.cookie",
        "lxc.idmap",
        "lxc.hook.pre-start",
        "lxc.hook.pre-mount",
        "lxc.hook.mount",
        "lxc.hook.start",
        "lxc.hook.stop",
        "lxc.hook.post-stop",
        "lxc.hook.clone",
        "lxc.hook.destroy",
        "lxc.hook.version",
        "lxc.log.level",
        "lxc.log.file",
        "lxc.start.auto",
        "lxc.start.delay",
        "lxc.start.order",
        "lxc.group",
        "lxc.environment",
        "lxc.environment.runtime",
        "lxc.environment.hooks",
        "lxc.sysctl.fs.mqueue",
        "lxc.sysctl.kernel.msgmax",
        "lxc.sysctl.kernel.msgmnb",
        "lxc.sysctl.kernel.msgmni",
        "lxc.sysctl.kernel.sem",
        "lxc.sysctl.kernel.shmall",
        "lxc.sysctl.kernel.shmmax",
        "lxc.sysctl.kernel.shmmni",
        "lxc.sysctl.kernel.shm_rmid_forced",
    ],
    True,
)
LXC_CONF_KEYS.update(
    {
        "lxc.rootfs.path": "lxc.rootfs.path is auto generated from rootfs",
        "lxc.rootfs.options": 'lxc.rootfs.options is not supported, please use mount point options in the "rootfs" key',
    }
)
# Keys lxc 3.0 renamed: kept, with a warning naming the new key.
LXC_DEPRECATED_KEYS = {
    "lxc.aa_profile": "lxc.apparmor.profile",
    "lxc.aa_allow_incomplete": "lxc.apparmor.allow_incomplete",
    "lxc.console": "lxc.console.path",
    "lxc.devttydir": "lxc.tty.dir",
    "lxc.haltsignal": "lxc.signal.halt",
    "lxc.rebootsignal": "lxc.signal.reboot",
    "lxc.stopsignal": "lxc.signal.stop",
    "lxc.id_map": "lxc.idmap",
    "lxc.init_cmd": "lxc.init.cmd",
    "lxc.loglevel": "lxc.log.level",
    "lxc.logfile": "lxc.log.file",
    "lxc.mount": "lxc.mount.fstab",
    "lxc.network.type": "lxc.net.INDEX.type",
    "lxc.network.flags": "lxc.net.INDEX.flags",
    "lxc.network.link": "lxc.net.INDEX.link",
    "lxc.network.mtu": "lxc.net.INDEX.mtu",
    "lxc.network.name": "lxc.net.INDEX.name",
    "lxc.network.hwaddr": "lxc.net.INDEX.hwaddr",
    "lxc.network.ipv4": "lxc.net.INDEX.ipv4.address",
    "lxc.network.ipv4.gateway": "lxc.net.INDEX.ipv4.gateway",
    "lxc.network.ipv6": "lxc.net.INDEX.ipv6.address",
    "lxc.network.ipv6.gateway": "lxc.net.INDEX.ipv6.gateway",
    "lxc.network.script.up": "lxc.net.INDEX.script.up",
    "lxc.network.script.down": "lxc.net.INDEX.script.down",
    "lxc.pts": "lxc.pty.max",
    "lxc.se_context": "lxc.selinux.context",
    "lxc.seccomp": "lxc.seccomp.profile",
    "lxc.tty": "lxc.tty.max",
    "lxc.utsname": "lxc.uts.name",
}
_INDEXED_RE = re.compile(r"^(mp|net|dev|unused)(\d+)$")
_INDEX_LIMIT = {"mp": 255, "net": 31, "dev": 255, "unused": 255}
BOOL_KEYS = frozenset(k for k, v in CONFIG_KEYS.items() if v["type"] == "boolean")
LIST_KEYS = {"tags": ";", "nameserver": " ", "searchdomain": " "}


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


# --------------------------------------------------------------------------- PVE's format checks


_INTEGER_RE = re.compile(r"^[+-]?\d+$")
_NUMBER_RE = re.compile(r"^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$")


def _is_integer(text):
    return _INTEGER_RE.match(text) is not None


def _is_number(text):
    return _NUMBER_RE.match(text) is not None


def split_pve_list(text):
    """PVE::Tools::split_list: NUL-separated, else ',', ';' and white space separate."""
    text = text or ""
    if "\0" in text:
        return text.split("\0")
    return re.split(r"\s+", re.sub(r"[,;]", " ", text).lstrip()) if text.strip() else []


def _cidr(text, address, highest):
    match = re.match(r"^(?:%s)/(\d+)$" % address, text)
    return match is not None and 7 < int(match.group(1)) <= highest


def _check_ipv4(value):
    if not re.match(_IPV4_PATTERN, value):
        raise ConfigError("value does not look like a valid IPv4 address")


def _check_ipv6(value):
    if not re.match(_IPV6_PATTERN, value):
        raise ConfigError("value does not look like a valid IPv6 address")


def _check_ip(value):
    if not re.match(_IP_PATTERN, value):
        raise ConfigError("value does not look like a valid IP address")


def _check_ip_with_ll_iface(value):
    match = re.match(r"^(fe80:[^%]+)%(.*)$", value)
    if (
        match
        and re.match(_IP_PATTERN, match.group(1))
        and re.match(r"^[a-z][a-z0-9_]{1,20}([:.]\d+)?$", match.group(2), re.IGNORECASE)
    ):
        return
    _check_ip(value)


def _check_ipv4_config(value):
    if value not in ("dhcp", "manual") and not _cidr(value, _IPV4, 32):
        raise ConfigError("value does not look like a valid ipv4 network configuration")


def _check_ipv6_config(value):
    if value not in ("auto", "dhcp", "manual") and not _cidr(value, _IPV6, 128):
        raise ConfigError("value does not look like a valid ipv6 network configuration")


def _check_mac(value):
    if not re.match(r"^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$", value, re.IGNORECASE):
        raise ConfigError("value does not look like a valid unicast MAC address")


def _check_mp_string(value):
    if re.search(r"/\.\.?/", value) or re.search(r"/\.\.?$", value) or value.startswith("../"):
        raise ConfigError("%s contains illegal character sequences" % value)


def _check_dev_string(value):
    if re.search(r"/\.\.?(?:/|$)", value) or not value.startswith("/dev/"):
        raise ConfigError("%s is not a valid device path" % value)


def _check_disk_size(value):
    if not _PVE_SIZE_RE.match(value):
        raise ConfigError("value does not look like a valid disk size: %s" % value)


def _check_volume_id(value):
    if not re.match(r"^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$", value, re.IGNORECASE | re.DOTALL):
        raise ConfigError("unable to parse volume ID '%s'" % value)


def _check_dns_name(value):
    name = r"([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)"
    if not re.match(r"^(%s\.)*%s$" % (name, name), value):
        raise ConfigError("value does not look like a valid DNS name")


def _check_tag(value):
    if not re.match(r"^%s$" % _PVE_TAG, value, re.IGNORECASE):
        raise ConfigError("invalid characters in tag")


def _check_timezone(value):
    # pve-ct-timezone: 'host', 'UTC' or a zone of the node's zone.tab (pve_verify_timezone)
    if value in ("host", "UTC"):
        return
    # the node layer reads zone.tab; imported here, as it imports this module
    from ansible_collections.cageforge.nexcage.plugins.module_utils._node import readers

    if value not in readers.zone_names():
        raise ConfigError("invalid time zone '%s'" % value)


def _check_startup(value):
    if parse_startup(value) is None:
        raise ConfigError("unable to parse startup options")


_FORMAT_CHECKS = {
    "ipv4": _check_ipv4,
    "ipv6": _check_ipv6,
    "pve-ipv4-config": _check_ipv4_config,
    "pve-ipv6-config": _check_ipv6_config,
    "mac-addr": _check_mac,
    "pve-lxc-mp-string": _check_mp_string,
    "pve-lxc-dev-string": _check_dev_string,
    "disk-size": _check_disk_size,
    "pve-volume-id": _check_volume_id,
    "dns-name": _check_dns_name,
    "pve-tag": _check_tag,
    "lxc-ip-with-ll-iface": _check_ip_with_ll_iface,
    "pve-ct-timezone": _check_timezone,
    "pve-startup-order": _check_startup,
}


def check_format(name, value):
    """PVE::JSONSchema::check_format for the formats a container config uses; '-list' splits first."""
    if name.endswith("-list"):
        for item in split_pve_list(value):
            _FORMAT_CHECKS[name[: -len("-list")]](item)
        return
    _FORMAT_CHECKS[name](value)


def _check_field(schema, value):
    """PVE::JSONSchema::check_prop for one string value: the message PVE gives, or None."""
    type_ = schema["type"]
    if type_ == "boolean" and value not in ("1", "0"):
        return "type check ('boolean') failed - got '%s'" % value
    if type_ == "integer" and not _is_integer(value):
        return "type check ('integer') failed - got '%s'" % value
    if type_ == "number" and not _is_number(value):
        return "type check ('number') failed - got '%s'" % value
    if schema.get("format"):
        try:
            check_format(schema["format"], value)
        except ConfigError as exc:
            return "invalid format - %s" % exc
    if "pattern" in schema and not re.match(r"^(?:%s)$" % schema["pattern"], value):  # PVE matches ^pattern$
        return "value does not match the regex pattern"
    if _is_number(value):
        if "maximum" in schema and float(value) > schema["maximum"]:
            return "value must have a maximum value of %s" % schema["maximum"]
        if "minimum" in schema and float(value) < schema["minimum"]:
            return "value must have a minimum value of %s" % schema["minimum"]
    if "enum" in schema and value not in schema["enum"]:
        return "value '%s' does not have a value in the enumeration '%s'" % (value, ", ".join(schema["enum"]))
    return None


# --------------------------------------------------------------------------- scalars


def _pve_boolean(text):
    """PVE::JSONSchema::parse_boolean: '1'/'0' for the accepted spellings, else the text unchanged."""
    if re.match(r"^(1|on|yes|true)$", text, re.IGNORECASE):
        return "1"
    if re.match(r"^(0|off|no|false)$", text, re.IGNORECASE):
        return "0"
    return text


def _format_bool(value):
    return "1" if value else "0"


def _format_number(value):
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    return str(value)


def unique_tags(value, case_sensitive=False, ordering=None):
    """The tags PVE writes for a tag list (PVE::GuestHelpers::get_unique_tags).

    With the default datacenter tag-style: lower-cased, de-duplicated, sorted. With
    ``case_sensitive`` the case is kept (sorted case-sensitively); with ``ordering='config'``
    the given order is kept. Reading a config keeps the tags as written (``parse_value``).
    """
    items = split_list(value)
    if ordering != "config":
        items = sorted(items, key=(lambda t: t) if case_sensitive else str.lower)
    result = []
    for tag in items:
        tag = tag if case_sensitive else tag.lower()
        if tag not in result:
            result.append(tag)
    return result


def tag_style(datacenter_cfg):
    """The tag-style of /etc/pve/datacenter.cfg as unique_tags' keyword arguments.

    ``tag-style: case-sensitive=1,ordering=config`` -> {'case_sensitive': True, 'ordering': 'config'};
    PVE's defaults (case-insensitive, alphabetical) when the line is missing or not valid.
    """
    for line in (datacenter_cfg or "").split("\n"):
        match = re.match(r"^tag-style:\s*(.*\S)\s*$", line)
        if not match:
            continue
        fields = dict(part.partition("=")[::2] for part in match.group(1).split(",") if "=" in part)
        case = _pve_boolean(fields.get("case-sensitive", "0"))
        ordering = fields.get("ordering", "alphabetical")
        if case in ("1", "0") and ordering in ("config", "alphabetical"):
            return {"case_sensitive": case == "1", "ordering": ordering}
    return {"case_sensitive": False, "ordering": "alphabetical"}


def parse_startup(value):
    """PVE::JSONSchema::pve_parse_startup_order: '3', 'order=3,up=30,down=60' -> dict of ints; None if invalid."""
    if not value:
        return None
    result = {}
    for part in str(value).split(","):
        if re.match(r"^\s*$", part):
            continue
        match = re.match(r"^(?:(order)=)?(\d+)$|^(up|down)=(\d+)$", part)
        if not match:
            return None
        if match.group(2) is not None:
            result["order"] = int(match.group(2))
        else:
            result[match.group(3)] = int(match.group(4))
    return result


def canonical_ip(text):
    """An address (or address/prefix) in its one canonical spelling ('FD00:0::1' -> 'fd00::1'), so
    that an address written differently compares equal; 'dhcp', 'auto', ... stay as they are."""
    try:
        return str(ipaddress.ip_interface(text) if "/" in text else ipaddress.ip_address(text))
    except ValueError:
        return text


def same_host_path(first, second):
    """Whether two bind-mount host paths name the same directory for PVE's mount.

    PVE keeps the path as written and bind-mounts it as is; ``/a/b/`` and ``/a//b``
    mount the same directory as ``/a/b``.
    """
    if not (isinstance(first, str) and isinstance(second, str)):
        return first == second
    if not (first.startswith("/") and second.startswith("/")):
        return first == second
    return (re.sub(r"/+", "/", first).rstrip("/") or "/") == (re.sub(r"/+", "/", second).rstrip("/") or "/")


def format_type_of(key):
    """The FORMATS entry for key ('net0' -> 'net'), or None for scalar keys."""
    match = _INDEXED_RE.match(key)
    if match and int(match.group(2)) <= _INDEX_LIMIT[match.group(1)]:
        return match.group(1)
    if key in FORMATS:
        return key
    return None


def check_type(key, value):
    """PVE::LXC::Config->check_type: what reading a config line checks; raises ConfigError with PVE's message.

    Returns the value PVE keeps: booleans as '1'/'0', integers without leading zeros, else as written.
    """
    return _checked(key, value)[0]


def _checked(key, value):
    """(the value PVE keeps, nexcage's typed value) of one config value; ConfigError as check_type."""
    kind = format_type_of(key)
    if kind is None and key not in CONFIG_KEYS:
        raise ConfigError("unknown setting '%s'" % key)
    value = str(value)
    if re.search(r"[\n\r]", value):
        raise ConfigError("property contains a line feed")
    if kind is not None and kind != "startup":
        return value, parse_property_string(key, value)
    schema = CONFIG_KEYS[key]
    if schema["type"] == "boolean":
        if _pve_boolean(value) not in ("1", "0"):
            raise ConfigError("type check ('boolean') failed - got '%s'" % value)
        value = _pve_boolean(value)
    elif schema["type"] == "integer":
        if not re.match(r"^\d+$", value):
            raise ConfigError("type check ('integer') failed - got '%s'" % value)
        value = str(int(value))
    elif schema["type"] == "number" and not re.match(r"^\d+(\.\d+)?$", value):
        raise ConfigError("type check ('number') failed - got '%s'" % value)
    if schema.get("format"):
        check_format(schema["format"], value)
    return value, _view(schema["view"], value)


def parse_value(key, value):
    """Type one config value according to its key, after checking it as PVE does (ConfigError if refused).

    Tags, nameserver and searchdomain become lists as written (case and order kept).
    """
    return _checked(key, value)[1]


def _view(view, raw):
    if view == "bool":
        return _pve_boolean(raw) == "1"
    if view == "int":
        return int(raw)
    if view == "number":
        number = float(raw)
        return int(number) if number == int(number) else number
    if view == "size":
        return parse_size(raw)
    if view == "mac":
        return raw.upper()
    if view == "ip":
        return canonical_ip(raw)
    if view == "iplist":
        return [canonical_ip(item) for item in split_list(raw)]
    if view == "list":
        return split_list(raw)
    if view == "intlist":
        return [int(p) for p in raw.split(";") if p]
    if view == "startup":
        return parse_startup(raw)
    return raw


def format_value(key, value):
    """The inverse of parse_value: the string pct takes for --key / writes in the file."""
    kind = format_type_of(key)
    if kind is not None:
        return format_property_string(key, value) if isinstance(value, dict) else str(value)
    if key in BOOL_KEYS or isinstance(value, bool):
        return _format_bool(value)
    if key in LIST_KEYS:
        return LIST_KEYS[key].join(split_list(value))
    if isinstance(value, float):
        return _format_number(value)
    return str(value)


# --------------------------------------------------------------------------- property strings


def parse_property_string(key, value):
    """Parse 'local-zfs:subvol-100-disk-0,size=8G,mp=/data' for key (rootfs, mp0, net0, ...).

    Checks it as PVE::JSONSchema::parse_property_string does (ConfigError with PVE's
    message and per-field ``errors``) and returns a dict of typed fields.
    """
    kind = format_type_of(key)
    if kind is None:
        raise ConfigError("%s is not a property-string key" % key)
    text = str(value)
    if kind == "startup":
        parsed = parse_startup(text)
        if parsed is None:
            raise ConfigError("unable to parse startup options")
        return parsed
    spec = FORMATS[kind]
    default_key = next((name for name, field in spec.items() if field.get("default_key")), None)
    raw = {}
    seen_default = False
    for part in text.split(","):
        if re.match(r"^\s*$", part):
            continue
        match = re.match(r"^([^=]+)=(.+)$", part, re.DOTALL)
        if match:
            name, item = match.groups()
            if name in raw:
                raise ConfigError("duplicate key in comma-separated list property: %s" % name)
            if spec.get(name, {}).get("type") == "boolean":
                item = _pve_boolean(item)
            raw[name] = item
        elif "=" not in part:
            if seen_default or default_key is None:
                if default_key is None:
                    raise ConfigError("value without key, but schema does not define a default key")
                raise ConfigError("duplicate key in comma-separated list property: %s" % default_key)
            seen_default = True
            if raw.get(default_key):
                raise ConfigError("duplicate key in comma-separated list property: %s" % default_key)
            raw[default_key] = part
        else:
            raise ConfigError("missing key in comma-separated list property")
    errors = {}
    for name, field in spec.items():
        if name not in raw and not field["optional"]:
            errors[name] = "property is missing and it is not optional"
    for name, item in raw.items():
        if name not in spec:
            errors[name] = "property is not defined in schema and the schema does not allow additional properties"
            continue
        message = _check_field(spec[name], item)
        if message:
            errors[name] = message
    if errors:
        raise ConfigError("format error", errors)
    return {name: _view(spec[name]["view"], item) for name, item in raw.items()}


def typed_fields(key, fields):
    """Fields as PVE holds them (strings, 1/0, bytes) typed as parse_property_string types them."""
    spec = FORMATS[format_type_of(key)]
    out = {}
    for name, value in fields.items():
        text = _pve_text(spec.get(name), value)
        out[name] = _view(spec[name]["view"], text) if name in spec else text
    return out


def _format_field(field, value):
    view = field.get("view") if field else None
    if view == "bool" or isinstance(value, bool):
        return _format_bool(value)
    if view == "size":
        return format_size(value)
    if view in ("list", "intlist"):
        return ";".join(str(v) for v in value)
    if isinstance(value, float):
        return _format_number(value)
    return str(value)


def format_property_string(key, fields):
    """Print fields as PVE does: the default key bare first, then the required keys, then the rest, sorted.

    Fields whose value is None are left out.
    """
    kind = format_type_of(key)
    if kind is None:
        raise ConfigError("%s is not a property-string key" % key)
    spec = FORMATS[kind]
    present = {k: v for k, v in fields.items() if v is not None}
    parts = []
    for name, field in spec.items():
        if field.get("default_key") and name in present:
            parts.append(_format_field(field, present.pop(name)))
    for name in sorted(present):
        if name in spec and not spec[name]["optional"]:
            parts.append("%s=%s" % (name, _format_field(spec[name], present.pop(name))))
    for name in sorted(present):
        parts.append("%s=%s" % (name, _format_field(spec.get(name), present[name])))
    return ",".join(parts)


def _perl_int(text):
    match = re.match(r"^\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else 0


def _pve_text(field, value):
    """A typed value as the string PVE's schema checks (booleans 1/0, sizes in bytes, lists joined)."""
    if isinstance(value, bool):
        return _format_bool(value)
    if isinstance(value, (list, tuple)):
        # idmap as parse_volume splits it ([[type, ct, host, count], ...]); other lists with ';'
        return ";".join(":".join(v) if isinstance(v, (list, tuple)) else str(v) for v in value)
    if isinstance(value, float):
        return _format_number(value)
    return str(value)


def print_property_string(key, fields, skip=(), schema_key=None):
    """Print fields as PVE::JSONSchema::print_property_string does with key's format, refusing what it
    refuses (ConfigError, PVE's message): default key bare, required keys, the rest sorted; sizes
    with PVE's format_size. ``schema_key``/``skip``: check against another key's format and leave
    keys out (PVE's print_volume)."""
    kind = format_type_of(schema_key or key)
    if kind is None or kind == "startup":
        raise ConfigError("%s is not a property-string key" % key)
    spec = FORMATS[kind]
    raw = {k: _pve_text(spec.get(k), v) for k, v in fields.items() if v is not None}
    errors = {}
    for name, field in spec.items():
        if name not in raw and not field["optional"]:
            errors[name] = "property is missing and it is not optional"
    for name, item in raw.items():
        message = _check_field(spec[name], item) if name in spec else None
        if message:
            errors[name] = message
    if errors:
        raise ConfigError("format error", errors)
    parts = []
    done = set(skip)

    def add(name, bare=False):
        if name in done or name not in raw:
            return
        done.add(name)
        if name not in spec:
            raise ConfigError("invalid key '%s'" % name)
        text = raw[name]
        if spec[name].get("format") == "disk-size":
            text = format_size(int(text) if _is_integer(text) else _perl_int(text))
        elif "," in text:
            raise ConfigError("illegal value with commas for %s" % name)
        parts.append(text if bare else "%s=%s" % (name, text))

    for name, field in spec.items():
        if field.get("default_key"):
            add(name, bare=True)
    for name in sorted(raw):
        if name in spec and not spec[name]["optional"]:
            add(name)
    for name in sorted(raw):
        add(name)
    return ",".join(parts)


def print_volume(key, fields):
    """PVE::LXC::Config->print_volume: rootfs and mpN are checked as a mount point (rootfs carries
    mp '/' from its parse) and printed without 'type' (rootfs without mp); unusedN likewise."""
    kind = format_type_of(key)
    if kind == "rootfs":
        return print_property_string(key, fields, skip=("type", "mp"), schema_key="mp0")
    return print_property_string(key, fields, skip=("type",))


def volume_storage(volume):
    """'local-zfs:subvol-100-disk-0' -> 'local-zfs'; a host path (bind/device mount) -> None."""
    if not volume or volume.startswith("/") or ":" not in volume:
        return None
    return volume.split(":", 1)[0]


# --------------------------------------------------------------------------- config files


def decode_text(data):
    """PVE::Tools::decode_text: URI-unescape, then UTF-8."""
    return unquote(data, encoding="utf-8", errors="replace")


def escape_description_line(line):
    """PVE::Tools::encode_text: control and non-ASCII characters, ':' and '%' as %XX (UTF-8)."""
    return quote(line.encode("utf-8"), safe=bytes(c for c in range(0x20, 0x7F) if c not in b":%"))


def _new_section():
    return {"description": "", "lxc": [], "raw": {}, "typed": {}}


_SECTION_RE = re.compile(r"^\[([a-z][a-z0-9_\-]+)\]\s*$", re.IGNORECASE)
_PENDING_RE = re.compile(r"^\[pve:pending\]\s*$", re.IGNORECASE)
_LXC_RE = re.compile(r"^(lxc\.[a-z0-9_\-.]+)(:|\s*=)\s*(.*?)\s*$")
_DESCRIPTION_KEY_RE = re.compile(r"^(description):\s*(.*\S)\s*$")
_SNAPSTATE_RE = re.compile(r"snapstate:\s*(prepare|delete)\s*$")
_DELETE_RE = re.compile(r"^delete:\s*(.*\S)\s*$")
_KEY_RE = re.compile(r"^([a-z][a-z_]*\d*):\s*(.+?)\s*$")


def _config_lines(text):
    """Yield (section, kind, data) per line as PVE::LXC::Config::parse_pct_config reads them.

    kind: 'section', 'comment' (its text), 'lxc' ((key, value, line)), 'description'
    (decoded text), 'snapstate', 'delete', 'key' ((key, value)), 'bad' (the line), None (blank).
    """
    section = ""
    for line in text.split("\n"):
        if re.match(r"^\s*$", line):
            yield section, None, line
            continue
        if _PENDING_RE.match(line):
            section = "pve:pending"
            yield section, "section", line
            continue
        match = _SECTION_RE.match(line)
        if match:
            section = match.group(1)
            yield section, "section", line
            continue
        if line.startswith("#"):
            yield section, "comment", line[1:]
            continue
        match = _LXC_RE.match(line)
        if match:
            yield section, "lxc", (match.group(1), match.group(3), line)
            continue
        match = _DESCRIPTION_KEY_RE.match(line)
        if match:
            yield section, "description", match.group(2)
            continue
        match = _SNAPSTATE_RE.search(line)
        if match:
            yield section, "snapstate", match.group(1)
            continue
        match = _DELETE_RE.match(line)
        if match:
            yield section, "delete", match.group(1)
            continue
        match = _KEY_RE.match(line)
        if match:
            yield section, "key", (match.group(1), match.group(2))
            continue
        yield section, "bad", line


def _lxc_key_problem(key, prefix):
    """PVE::LXC::Config::is_valid_lxc_conf_key: (keep?, warning or None, refusal or None)."""
    if key.startswith("lxc.limit."):
        return True, "%s%s: lxc.limit.* was renamed to lxc.prlimit.*" % (prefix, key), None
    if key in LXC_DEPRECATED_KEYS:
        return True, "%s%s is deprecated and was renamed to %s" % (prefix, key, LXC_DEPRECATED_KEYS[key]), None
    validity = LXC_CONF_KEYS.get(key)
    if validity is True:
        return True, None, None
    if validity:
        return False, None, "%s%s: %s" % (prefix, key, validity)
    if key.startswith("lxc.cgroup."):
        return True, "%s%s is deprecated, this will be a hard error in the future!" % (prefix, key), None
    if key.startswith(("lxc.cgroup2.", "lxc.prlimit.", "lxc.net.")):
        return True, None, None
    return False, None, ""


def _read_lxc_line(current, data, prefix, warnings, refuse):
    key, value, line = data
    keep, warning, refusal = _lxc_key_problem(key, prefix)
    if warning:
        warnings.append(warning)
    if key == "lxc.environment.runtime":
        current["env"] = value if current.get("env") is None else current["env"] + "\0" + value
    if keep:
        current["lxc"].append([key, value])
    else:
        refuse(refusal or "%sunable to parse config: %s" % (prefix, line))


def _read_key_line(current, data, prefix, refuse):
    key, value = data
    try:
        value, current["typed"][key] = _checked(key, value)
    except ConfigError as exc:
        refuse("%sunable to parse value of '%s' - %s" % (prefix, key, exc))
        current["typed"][key] = value
    if key == "description":
        current["description_value"] = value
    elif key == "env":
        current["env"] = value
    else:
        current["raw"][key] = value


def _read_line(section, current, kind, data, prefix, warnings, refuse):
    """One parsed line of ``section`` into its accumulator ``current`` (PVE's parse_pct_config)."""
    if kind == "comment":
        current["description"] += decode_text(data) + "\n"
    elif kind == "description":
        current["description"] += decode_text(data)
    elif kind == "lxc":
        _read_lxc_line(current, data, prefix, warnings, refuse)
    elif kind == "snapstate":
        current["snapstate"] = data
    elif kind == "delete":
        if section == "pve:pending":
            current["raw"]["delete"] = data
        else:
            refuse("%sproperty 'delete' is only allowed in [pve:pending]" % prefix)
    elif kind == "key":
        _read_key_line(current, data, prefix, refuse)
    elif kind == "bad":
        refuse("%sunable to parse config: %s" % (prefix, data))


def _build_section(section, is_pending=False):
    out = {}
    for key in section["raw"]:
        if key != "delete":
            out[key] = section["typed"][key]
    if is_pending and "delete" in section["raw"]:
        out["delete"] = _split_delete(section["raw"]["delete"])
    if section.get("snapstate"):
        out["snapstate"] = section["snapstate"]
    description = section["description"] or section.get("description_value")
    if description:
        out["description"] = description
    if section.get("env") is not None:
        out["env"] = section["env"]
    if section["lxc"]:
        out["lxc"] = section["lxc"]
    return out


def parse_config(text, vmid=None, strict=False):
    """Parse a /etc/pve/lxc/<vmid>.conf file as PVE does (parse_pct_config), into a typed dict.

    The result holds every key of the current section (typed, see the module
    docstring) plus: ``description`` (decoded as PVE decodes it: each ``#`` line
    with its newline, a ``description:`` line without), ``lxc`` (the raw entries PVE
    keeps, in order, lxc.environment.runtime included), ``env`` (PVE's NUL-joined
    runtime environment, if any), ``raw`` ({section: {key: the value PVE keeps}}:
    booleans as 1/0, integers without leading zeros, everything else as written;
    section ``""``, ``pve:pending`` or a snapshot name), ``pending`` (dict, with
    ``delete`` list, empty if none), ``snapshots`` ({name: dict}), ``digest`` (SHA-1
    of the text) and ``warnings`` (PVE's own warnings; a value PVE refuses stays the
    string as written). With ``strict`` the first line PVE refuses raises ConfigError.
    """
    if isinstance(text, bytes):
        raw_bytes = text
        text = text.decode("utf-8", "replace")
    else:
        raw_bytes = text.encode("utf-8")
    prefix = "vm %s - " % vmid if vmid is not None else ""
    sections = {"": _new_section()}
    order = [""]
    warnings = []

    def refuse(message):
        if strict:
            raise ConfigError(message)
        warnings.append(message)

    for section, kind, data in _config_lines(text):
        if kind == "section":
            if section not in sections:
                order.append(section)
            sections[section] = _new_section()
        else:
            _read_line(section, sections[section], kind, data, prefix, warnings, refuse)

    result = _build_section(sections[""])
    result.pop("snapstate", None)
    result.setdefault("lxc", [])
    result["pending"] = _build_section(sections["pve:pending"], True) if "pve:pending" in sections else {}
    result["snapshots"] = {name: _build_section(sections[name]) for name in order if name not in ("", "pve:pending")}
    result["raw"] = {name: dict(sections[name]["raw"]) for name in order}
    result["digest"] = hashlib.sha1(raw_bytes).hexdigest()
    result["warnings"] = warnings
    return result


META_KEYS = frozenset({"pending", "snapshots", "digest", "warnings", "lxc", "description", "raw"})


def effective_config(parsed):
    """The config as it will be after the next start (like ``pct config``): pending merged, deletions applied."""
    result = {k: v for k, v in parsed.items() if k not in ("pending", "snapshots", "warnings", "digest", "raw")}
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


def _split_delete(text):
    return [k for k in re.split(r"[,;\s]+", text) if k]


def _value_text(key, data, raw_section):
    """The value text of key: as written in the file when its typed value is unchanged, else printed."""
    raw = raw_section.get(key)
    if key == "delete":
        return raw if raw is not None and _split_delete(raw) == data[key] else ",".join(data[key])
    if raw is not None:
        try:
            unchanged = parse_value(key, raw) == data[key]
        except ConfigError:
            unchanged = raw == data[key]
        if unchanged:
            return raw
    return format_value(key, data[key])


def _perl_split(pattern, text):
    """Perl's split: trailing empty fields dropped."""
    fields = re.split(pattern, text)
    while fields and fields[-1] == "":
        fields.pop()
    return fields


def _description_lines(description):
    return ["#" + escape_description_line(line) for line in _perl_split("\n", description)]


def format_config(parsed):
    """Serialise a parsed config as PVE::LXC::Config::write_pct_config does.

    Description lines first, keys sorted, lxc.* entries, then [pve:pending] and the
    snapshots sorted by name. A value whose typed value did not change keeps the text
    it was read with (PVE never rewrites a value it did not change).
    """

    raw = parsed.get("raw") or {}

    def section(data, name, pending=False):
        lines = _description_lines(data.get("description") or "")
        for key in sorted(k for k in data if k not in META_KEYS and k != "env"):
            if key == "delete" and not (pending and data[key]):
                continue
            lines.append("%s: %s" % (key, _value_text(key, data, raw.get(name) or {})))
        lines.extend("lxc.environment.runtime: %s" % v for v in _perl_split(r"\0+", data.get("env") or ""))
        for key, value in data.get("lxc", []):
            if key != "lxc.environment.runtime":
                lines.append("%s: %s" % (key, value))
        return lines

    lines = section(parsed, "")
    if parsed.get("pending"):
        lines += ["", "[pve:pending]"] + section(parsed["pending"], "pve:pending", True)
    for name in sorted(parsed.get("snapshots") or {}):
        lines += ["", "[%s]" % name] + section(parsed["snapshots"][name], name)
    return "".join(line + "\n" for line in lines)


def edit_config_text(text, lines, section=""):
    """Replace, add or remove key lines of one section of a config file; every other byte stays.

    lines: {key: the complete new line ('key: value', made by the node layer's config-line
    writer) or None to remove the key}. A changed key keeps its place; a new key goes after
    the section's last key line (before its lxc.* lines). This is how nexcage writes a file
    itself without touching what it does not own (PVE's own writer re-sorts the whole file).
    """
    for key, line in lines.items():
        if line is not None and (not line.startswith(key + ":") or re.search(r"[\n\r]", line)):
            raise ConfigError("%s: %r is not one config line of that key" % (key, line))
    todo = dict(lines)
    out = []
    in_section = section == ""
    insert_at = 0 if in_section else None
    text_lines = text.split("\n")
    for index, (name, kind, data) in enumerate(_config_lines(text)):
        line = text_lines[index]
        if kind == "section":
            in_section = name == section
            out.append(line)
            if in_section:
                insert_at = len(out)
            continue
        if in_section and kind == "key" and data[0] in todo:
            line = todo.pop(data[0])
            if line is None:
                continue
        out.append(line)
        if in_section and kind in ("key", "delete", "description", "comment", "snapstate"):
            insert_at = len(out)
    new = [line for _key, line in sorted(todo.items()) if line is not None]
    if new:
        if insert_at is None:
            raise ConfigError("the config has no [%s] section" % section)
        out[insert_at:insert_at] = new
    return "\n".join(out)


# --------------------------------------------------------------------------- .vmlist


def parse_vmlist(text):
    """/etc/pve/.vmlist -> {vmid(int): {'node': ..., 'type': 'lxc'|'qemu', 'version': n}}."""
    if not text.strip():
        return {}
    data = json.loads(text)
    return {int(k): v for k, v in (data.get("ids") or {}).items()}
