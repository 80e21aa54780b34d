"""Container config files as Proxmox VE reads and writes them (pve-cli-facts §3, §4, §7).

A parsed config is a dict like PVE's `$conf`: plain keys with string values,
plus `description` (text, newline-terminated lines), `lxc` (list of [key, value]
raw entries), `env` (NUL-separated, from `lxc.environment.runtime` lines),
`pending` (a dict of the same kind, may hold `delete`), `snapshots`
({name: dict}) and `digest` (SHA-1 of the file bytes).

Also here: the option schema ($confdesc), the format validators, property
strings (parse and print in PVE's order), sizes, and the config file lock.
"""

import contextlib
import fcntl
import hashlib
import os
import re
import sys
import time

from pvesim import cli, node

# ---------------------------------------------------------------- errors


class FormatError(Exception):
    """A format validator failed; message ends in a newline (as PVE's die does)."""

    def __init__(self, message, errors=None):
        super().__init__(message)
        self.message = message if message.endswith("\n") else message + "\n"
        self.errors = errors or {}


class Prop:
    """One JSON-schema property: type, ranges, enum, pattern, format."""

    def __init__(
        self,
        ptype="string",
        minimum=None,
        maximum=None,
        enum=None,
        maxlen=None,
        minlen=None,
        fmt=None,
        pattern=None,
        optional=True,
        default_key=False,
        requires=None,
    ):
        self.type = ptype
        self.minimum = minimum
        self.maximum = maximum
        self.enum = enum
        self.maxlen = maxlen
        self.minlen = minlen
        self.fmt = fmt
        self.pattern = pattern
        self.optional = optional
        self.default_key = default_key
        self.requires = requires


# ---------------------------------------------------------------- format validators (JSONSchema.pm)

_LABEL = r"[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?"
DNS_NAME_RE = re.compile(r"(%s\.)*%s" % (_LABEL, _LABEL))
VMID_RE = re.compile(r"[1-9][0-9]{2,8}")
STORAGE_ID_RE = re.compile(r"[a-z][a-z0-9\-_.]*[a-z0-9]", re.I)
CONFIGID_RE = re.compile(r"[a-z][a-z0-9_]+", re.I)
TAG_RE = re.compile(r"[a-z0-9_][a-z0-9_+.\-]*", re.I)
MAC_RE = re.compile(r"[a-f0-9][02468ace](:[a-f0-9]{2}){5}", re.I)
BOOL_TRUE = ("1", "yes", "on", "true")
BOOL_FALSE = ("0", "no", "off", "false")

# ParseUtils.pm $IPV4RE / $IPV6RE, verbatim.
_IPV4OCTET = r"(?:25[0-5]|(?:2[0-4]|1[0-9]|[1-9])?[0-9])"
IPV4RE = r"(?:(?:%s\.){3}%s)" % (_IPV4OCTET, _IPV4OCTET)
_H16 = r"(?:[0-9a-fA-F]{1,4})"
_LS32 = r"(?:(?:%s|%s:%s))" % (IPV4RE, _H16, _H16)
IPV6RE = (
    "(?:"
    + "(?:(?:(?:%s:){6})%s)|" % (_H16, _LS32)
    + "(?:(?:::(?:%s:){5})%s)|" % (_H16, _LS32)
    + "(?:(?:(?:%s)?::(?:%s:){4})%s)|" % (_H16, _H16, _LS32)
    + "(?:(?:(?:(?:%s:){0,1}%s)?::(?:%s:){3})%s)|" % (_H16, _H16, _H16, _LS32)
    + "(?:(?:(?:(?:%s:){0,2}%s)?::(?:%s:){2})%s)|" % (_H16, _H16, _H16, _LS32)
    + "(?:(?:(?:(?:%s:){0,3}%s)?::(?:%s:){1})%s)|" % (_H16, _H16, _H16, _LS32)
    + "(?:(?:(?:(?:%s:){0,4}%s)?::)%s)|" % (_H16, _H16, _LS32)
    + "(?:(?:(?:(?:%s:){0,5}%s)?::)%s)|" % (_H16, _H16, _H16)
    + "(?:(?:(?:(?:%s:){0,6}%s)?::)))" % (_H16, _H16)
)


def _perl_match(pattern, value, flags=0):
    """Perl's m/^...$/: `$` also matches before a final newline."""
    return re.fullmatch(pattern, value[:-1] if value.endswith("\n") else value, flags) is not None


def split_list(text):
    """ParseUtils split_list: NUL-separated, else by `,`, `;` and whitespace."""
    text = text or ""
    if "\0" in text:
        parts = text.split("\0")
        while parts and parts[-1] == "":
            parts.pop()
        return parts
    return [p for p in re.split(r"\s+", re.sub(r"[,;]", " ", text).lstrip()) if p != ""]


def _v_vmid(v):
    if not _perl_match(VMID_RE.pattern, v):
        raise FormatError("value does not look like a valid VM ID")


def _is_dns_name(v):
    return _perl_match(DNS_NAME_RE.pattern, v)


def _v_dns_name(v):
    if not _is_dns_name(v):
        raise FormatError("value does not look like a valid DNS name")


def _is_ip(v):
    return _perl_match(r"(?:(?:%s)|(?:%s))" % (IPV4RE, IPV6RE), v)


def _v_ip_ll_iface(v):
    """Config.pm verify_ip_with_ll_iface (nameserver entries)."""
    m = re.fullmatch(r"(fe80:[^%]+)%(.*)", v, re.S)
    if m and _is_ip(m.group(1)) and _perl_match(r"[a-z][a-z0-9_]{1,20}([:.]\d+)?", m.group(2), re.I):
        return
    if not _is_ip(v):
        raise FormatError("value does not look like a valid IP address")


def _v_mac(v):
    if not _perl_match(MAC_RE.pattern, v, re.I):
        raise FormatError("value does not look like a valid unicast MAC address")


def _v_ipv4(v):
    if not _perl_match(IPV4RE, v):
        raise FormatError("value does not look like a valid IPv4 address")


def _v_ipv6(v):
    if not _perl_match(IPV6RE, v):
        raise FormatError("value does not look like a valid IPv6 address")


def _is_cidr(v, addr_re, low, high):
    m = re.fullmatch(r"(?:%s)(?:/(\d+))" % addr_re, v[:-1] if v.endswith("\n") else v)
    return bool(m) and low < int(m.group(1)) <= high


def _v_ipv4_config(v):
    if not (_perl_match(r"(?:dhcp|manual)", v) or _is_cidr(v, IPV4RE, 7, 32)):
        raise FormatError("value does not look like a valid ipv4 network configuration")


def _v_ipv6_config(v):
    if not (_perl_match(r"(?:auto|dhcp|manual)", v) or _is_cidr(v, IPV6RE, 7, 128)):
        raise FormatError("value does not look like a valid ipv6 network configuration")


def _v_bridge(v):
    if not _perl_match(r"[-_.\w\d]+", v, re.A):
        raise FormatError("invalid bridge ID '%s'" % v)


def _v_storage_id(v):
    if len(v) < 2:
        raise FormatError("storage ID '%s' cannot be shorter than 2 characters" % v)
    if not _perl_match(STORAGE_ID_RE.pattern, v, re.I):
        raise FormatError("storage ID '%s' contains illegal characters" % v)


def _v_configid(v):
    if not _perl_match(CONFIGID_RE.pattern, v, re.I):
        raise FormatError("invalid configuration ID '%s'" % v)


def _v_volume_id(v):
    if not re.fullmatch(r"[a-z][a-z0-9\-_.]*[a-z0-9]:.+", v[:-1] if v.endswith("\n") else v, re.I):
        raise FormatError("unable to parse volume ID '%s'" % v)


def _v_tag(v):
    if not _perl_match(TAG_RE.pattern, v, re.I):
        raise FormatError("invalid characters in tag")


def _v_timezone(v):
    """Config.pm verify_ct_timezone: `host`, else JSONSchema pve_verify_timezone (zone.tab)."""
    if v in ("host", "UTC"):
        return
    try:
        with open("/usr/share/zoneinfo/zone.tab", encoding="utf-8") as f:
            for line in f:
                if re.match(r"\s*#", line):
                    continue
                fields = line.rstrip("\n").split("\t")
                if len(fields) > 2 and fields[2] == v:
                    return
    except OSError:
        pass
    raise FormatError("invalid time zone '%s'" % v)


def _v_mp_string(v):
    if re.search(r"/\.\.?/", v) or re.search(r"/\.\.?(\n)?\Z", v) or re.match(r"\.\./", v):
        raise FormatError("%s contains illegal character sequences" % v)


def _v_dev_string(v):
    if re.search(r"/\.\.?(?:/|(\n)?\Z)", v) or not v.startswith("/dev/"):
        raise FormatError("%s is not a valid device path" % v)


def _v_disk_size(v):
    if parse_size(v) is None:
        raise FormatError("value does not look like a valid disk size: %s" % v)


def _v_startup(v):
    if not parse_startup(v):
        raise FormatError("unable to parse startup options")


def _v_poolid(v):
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", v):
        raise FormatError("invalid pool ID '%s'" % v)


NAMED_FORMATS = {
    "pve-vmid": _v_vmid,
    "dns-name": _v_dns_name,
    "lxc-ip-with-ll-iface": _v_ip_ll_iface,
    "mac-addr": _v_mac,
    "ipv4": _v_ipv4,
    "ipv6": _v_ipv6,
    "pve-ipv4-config": _v_ipv4_config,
    "pve-ipv6-config": _v_ipv6_config,
    "pve-bridge-id": _v_bridge,
    "pve-storage-id": _v_storage_id,
    "pve-configid": _v_configid,
    "pve-volume-id": _v_volume_id,
    "pve-tag": _v_tag,
    "pve-ct-timezone": _v_timezone,
    "pve-lxc-mp-string": _v_mp_string,
    "pve-lxc-dev-string": _v_dev_string,
    "disk-size": _v_disk_size,
    "pve-startup-order": _v_startup,
    "pve-poolid": _v_poolid,
}


def check_format(fmt, value, path=None):
    """JSONSchema check_format: property-string formats, named formats, `-list` and `-opt` forms."""
    if isinstance(fmt, dict):
        return parse_property_string(fmt, value, path)
    m = re.fullmatch(r"(.*?)(?:-(list|opt))?", fmt)
    name, kind = m.group(1), m.group(2)
    validator = NAMED_FORMATS[name]
    if kind == "list":
        for item in split_list(value):
            validator(item)
    elif kind == "opt":
        if value:
            validator(value)
    else:
        validator(value)
    return value


# ---------------------------------------------------------------- sizes, startup, text


def parse_size(text):
    """`8G` -> bytes (PVE JSONSchema parse_size); None if unparsable."""
    text = str(text)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT](?:iB)?)?", text[:-1] if text.endswith("\n") else text)
    if not m:
        return None
    shift = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[(m.group(2) or "")[:1]]
    return int(float(m.group(1)) * (1 << shift))


def perl_int(value):
    """Perl's int() of a scalar: the leading number of a string (`8G` -> 8), else 0."""
    m = re.match(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)", str(value))
    return int(float(m.group(1))) if m else 0


def format_size(size):
    """Bytes -> the largest exact unit: `512M`, `8G`, `1T` (JSONSchema format_size)."""
    size = perl_int(size)
    kb = size // 1024
    if kb * 1024 != size:
        return str(size)
    mb = kb // 1024
    if mb * 1024 != kb:
        return "%dK" % kb
    gb = mb // 1024
    if gb * 1024 != mb:
        return "%dM" % mb
    tb = gb // 1024
    if tb * 1024 != gb:
        return "%dG" % gb
    return "%dT" % tb


def parse_startup(text):
    """JSONSchema pve_parse_startup_order: None if unparsable (or empty / `0`)."""
    if not _perl_true(text):
        return None
    res = {}
    for part in _perl_split(str(text), ","):
        if re.fullmatch(r"\s*", part):
            continue
        m = re.fullmatch(r"(?:(order)=)?(\d+)|(up|down)=(\d+)", part[:-1] if part.endswith("\n") else part)
        if not m:
            return None
        if m.group(2) is not None:
            res["order"] = int(m.group(2))
        else:
            res[m.group(3)] = int(m.group(4))
    return res


def encode_text(text):
    """PVE::Tools::encode_text as the facts describe it: control chars, non-ASCII,
    `:` and `%` become %XX (UTF-8 bytes); space and the rest of ASCII stay."""
    out = []
    for byte in text.encode("utf-8"):
        if byte < 0x20 or byte > 0x7E or byte in (0x3A, 0x25):
            out.append("%%%02X" % byte)
        else:
            out.append(chr(byte))
    return "".join(out)


def decode_text(text):
    raw = re.sub(rb"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8"))
    return raw.decode("utf-8", "replace")


# ---------------------------------------------------------------- property-string formats

_MOUNTOPT = r"(discard|lazytime|noatime|nodev|noexec|nosuid)"

ROOTFS_DESC = {
    "volume": Prop(fmt="pve-lxc-mp-string", optional=False, default_key=True),
    "size": Prop(fmt="disk-size"),
    "acl": Prop("boolean"),
    "mountoptions": Prop(pattern=r"%s(;%s)*" % (_MOUNTOPT, _MOUNTOPT)),
    "idmap": Prop(pattern=r"(?:passthrough|[ug]:[0-9]+:[0-9]+:[1-9][0-9]*(?:;[ug]:[0-9]+:[0-9]+:[1-9][0-9]*)*)"),
    "ro": Prop("boolean"),
    "quota": Prop("boolean"),
    "replicate": Prop("boolean"),
    "shared": Prop("boolean"),
}
MP_DESC = dict(ROOTFS_DESC)
MP_DESC.update(
    {
        "mp": Prop(fmt="pve-lxc-mp-string", optional=False),
        "backup": Prop("boolean"),
        "keepattrs": Prop("boolean"),
    }
)
NET_DESC = {
    "type": Prop(enum=["veth"]),
    "name": Prop(pattern=r"[-_.\w\d]+", optional=False),
    "bridge": Prop(pattern=r"[-_.\w\d]+"),
    "hwaddr": Prop(fmt="mac-addr"),
    "mtu": Prop("integer", minimum=64, maximum=65535),
    "ip": Prop(fmt="pve-ipv4-config"),
    "gw": Prop(fmt="ipv4"),
    "ip6": Prop(fmt="pve-ipv6-config"),
    "gw6": Prop(fmt="ipv6"),
    "firewall": Prop("boolean"),
    "tag": Prop("integer", minimum=1, maximum=4094),
    "trunks": Prop(pattern=r"\d+(?:;\d+)*"),
    "rate": Prop("number"),
    "link_down": Prop("boolean"),
    "host-managed": Prop("boolean"),
}
FEATURES_DESC = {
    "mount": Prop(pattern=r"[a-zA-Z0-9_; ]+"),
    "nesting": Prop("boolean"),
    "keyctl": Prop("boolean"),
    "fuse": Prop("boolean"),
    "mknod": Prop("boolean"),
    "force_rw_sys": Prop("boolean"),
}
UNUSED_DESC = {"volume": Prop(fmt="pve-volume-id", optional=False, default_key=True)}
DEV_DESC = {
    "path": Prop(fmt="pve-lxc-dev-string", default_key=True),
    "mode": Prop(pattern=r"0[0-7]{3}"),
    "uid": Prop("integer", minimum=0),
    "gid": Prop("integer", minimum=0),
    "deny-write": Prop("boolean"),
}

# ---------------------------------------------------------------- $confdesc

LOCKS = [
    "backup",
    "create",
    "destroyed",
    "disk",
    "fstrim",
    "migrate",
    "mounted",
    "rollback",
    "snapshot",
    "snapshot-delete",
]
OSTYPES = [
    "debian",
    "devuan",
    "ubuntu",
    "centos",
    "fedora",
    "opensuse",
    "archlinux",
    "alpine",
    "gentoo",
    "nixos",
    "unmanaged",
]
ARCHES = ["amd64", "i386", "arm64", "armhf", "riscv32", "riscv64"]
MAX_NETS = 32
MAX_MPS = 256
MAX_DEVS = 256

CONFDESC = {
    "lock": Prop(enum=LOCKS),
    "onboot": Prop("boolean"),
    "startup": Prop(fmt="pve-startup-order"),
    "template": Prop("boolean"),
    "arch": Prop(enum=ARCHES),
    "ostype": Prop(enum=OSTYPES),
    "console": Prop("boolean"),
    "tty": Prop("integer", minimum=0, maximum=6),
    "cores": Prop("integer", minimum=1, maximum=8192),
    "cpulimit": Prop("number", minimum=0, maximum=8192),
    "cpuunits": Prop("integer", minimum=0, maximum=500000),
    "memory": Prop("integer", minimum=16),
    "swap": Prop("integer", minimum=0),
    "hostname": Prop(fmt="dns-name", maxlen=255),
    "description": Prop(maxlen=8192),
    "searchdomain": Prop(fmt="dns-name-list"),
    "nameserver": Prop(fmt="lxc-ip-with-ll-iface-list"),
    "timezone": Prop(fmt="pve-ct-timezone"),
    "rootfs": Prop(fmt=ROOTFS_DESC),
    "parent": Prop(fmt="pve-configid", maxlen=40),
    "snaptime": Prop("integer", minimum=0),
    "cmode": Prop(enum=["shell", "console", "tty"]),
    "protection": Prop("boolean"),
    "unprivileged": Prop("boolean"),
    "features": Prop(fmt=FEATURES_DESC),
    "hookscript": Prop(fmt="pve-volume-id"),
    "tags": Prop(fmt="pve-tag-list"),
    "debug": Prop("boolean"),
    "entrypoint": Prop(pattern=r"[^\x00-\x08\x0a-\x1f\x7f]+"),
    "env": Prop(pattern=r"(?:\w+=[^\x00-\x08\x0a-\x1f\x7f]*)(?:\x00\w+=[^\x00-\x08\x0a-\x1f\x7f]*)*"),
}
for _i in range(MAX_NETS):
    CONFDESC["net%d" % _i] = Prop(fmt=NET_DESC)
for _i in range(MAX_MPS):
    CONFDESC["mp%d" % _i] = Prop(fmt=MP_DESC)
    CONFDESC["unused%d" % _i] = Prop(fmt=UNUSED_DESC)
for _i in range(MAX_DEVS):
    CONFDESC["dev%d" % _i] = Prop(fmt=DEV_DESC)

# Options that apply to a running CT at once (Config.pm vmconfig_hotplug_pending).
FASTPLUG = {"description", "onboot", "startup", "protection", "hostname", "hookscript", "cores", "tags", "lock"}
HOTPLUG = FASTPLUG | {"cpulimit", "cpuunits", "memory", "swap"}


def is_hotpluggable(key, conf):
    """A new mpN/devN is plugged in; one that replaces an existing entry waits for the next start."""
    if key in HOTPLUG or re.fullmatch(r"net\d+", key):
        return True
    return bool(re.fullmatch(r"mp\d+|dev\d+", key)) and key not in conf


# ---------------------------------------------------------------- validation


def parse_boolean(value):
    low = str(value).lower()
    if low in BOOL_TRUE:
        return 1
    if low in BOOL_FALSE:
        return 0
    return None


def is_number(value):
    return _perl_match(r"[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?", str(value))


def is_integer(value):
    return _perl_match(r"[+-]?\d+", str(value))


def _add_error(errors, path, message):
    path = path or "_root"
    errors[path] = errors[path] + "\\n" + message if errors.get(path) else message


def _num_text(n):
    return str(int(n)) if float(n).is_integer() else str(n)


def check_prop(prop, value, path, errors):
    """JSONSchema check_prop for a defined scalar: type, format, pattern, lengths, range, enum
    (in that order, the first failure only). Booleans must already be 1/0."""
    text = str(value)
    if prop.type == "boolean" and text not in ("0", "1"):
        return _add_error(errors, path, "type check ('boolean') failed - got '%s'" % text)
    if prop.type == "integer" and not is_integer(text):
        return _add_error(errors, path, "type check ('integer') failed - got '%s'" % text)
    if prop.type == "number" and not is_number(text):
        return _add_error(errors, path, "type check ('number') failed - got '%s'" % text)
    if prop.fmt:
        try:
            check_format(prop.fmt, text, path)
        except FormatError as e:
            return _add_error(errors, path, "invalid format - " + e.message)
    if prop.pattern and not _perl_match(prop.pattern, text):
        return _add_error(errors, path, "value does not match the regex pattern")
    if prop.maxlen is not None and len(text) > prop.maxlen:
        return _add_error(errors, path, "value may only be %d characters long" % prop.maxlen)
    if prop.minlen is not None and len(text) < prop.minlen:
        return _add_error(errors, path, "value must be at least %d characters long" % prop.minlen)
    if is_number(text):
        if prop.maximum is not None and float(text) > prop.maximum:
            return _add_error(errors, path, "value must have a maximum value of %s" % _num_text(prop.maximum))
        if prop.minimum is not None and float(text) < prop.minimum:
            return _add_error(errors, path, "value must have a minimum value of %s" % _num_text(prop.minimum))
    if prop.enum is not None and text not in prop.enum:
        _add_error(
            errors, path, "value '%s' does not have a value in the enumeration '%s'" % (text, ", ".join(prop.enum))
        )
    return None


def check_value(prop, value, path):
    """check_prop for one parameter value. Returns (value, errors dict); a valid boolean or
    integer comes back as int, for the callers that use it as a number or a flag."""
    errors = {}
    check_prop(prop, value, path, errors)
    if not errors and prop.type in ("boolean", "integer"):
        value = int(value)
    return value, errors


def parse_property_string(desc, data, path=None):
    """JSONSchema parse_property_string: {key: text}, booleans as 1/0, unknown keys reported
    by the schema check. Raises FormatError with PVE's message (key errors included)."""
    res = {}
    default_key = None
    for part in _perl_split(str(data), ","):
        if re.fullmatch(r"\s*", part):
            continue
        m = re.fullmatch(r"([^=]+)=(.+)", part[:-1] if part.endswith("\n") else part)
        if m:
            k, v = m.group(1), m.group(2)
            if res.get(k) is not None:
                raise FormatError("duplicate key in comma-separated list property: %s" % k)
            prop = desc.get(k)
            if prop is not None and prop.type == "boolean":
                b = parse_boolean(v)
                v = v if b is None else b
            res[k] = v
        elif "=" not in part:
            if default_key:
                raise FormatError("duplicate key in comma-separated list property: %s" % default_key)
            for k, prop in desc.items():
                if prop.default_key:
                    default_key = k
                    if not _perl_true(res.get(k)):
                        res[k] = part
                        break
                    raise FormatError("duplicate key in comma-separated list property: %s" % k)
            if not default_key:
                raise FormatError("value without key, but schema does not define a default key")
        else:
            raise FormatError("missing key in comma-separated list property")
    errors = check_object(desc, res, path)
    if errors:
        raise FormatError("format error\n" + "".join("%s: %s\n" % (k, v) for k, v in errors.items()), errors)
    return res


def check_object(desc, data, path=None, additional=False):
    """JSONSchema check_object: {path: message}; unknown keys are errors unless additional."""
    errors = {}
    for k, prop in desc.items():
        sub = "%s.%s" % (path, k) if path else k
        if data.get(k) is None:
            if not prop.optional:
                _add_error(errors, sub, "property is missing and it is not optional")
            continue
        check_prop(prop, data[k], sub, errors)
    for k in data:
        if k not in desc and not additional:
            _add_error(
                errors,
                "%s.%s" % (path, k) if path else k,
                "property is not defined in schema and the schema does not allow additional properties",
            )
    return errors


def _perl_true(value):
    return value is not None and str(value) not in ("", "0")


def _perl_split(text, sep):
    """Perl split: trailing empty fields dropped."""
    parts = text.split(sep)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def print_property_string(data, desc, skip=()):
    """JSONSchema print_property_string: checked first, then the default key (bare), the
    required keys, the rest; sizes formatted."""
    errors = check_object(desc, {k: v for k, v in data.items() if v is not None}, additional=True)
    if errors:
        raise FormatError("format error\n" + "".join("%s: %s\n" % (k, v) for k, v in errors.items()), errors)
    parts, done = [], set(skip)

    def add(key, bare=False):
        if key in done:
            return
        done.add(key)
        value = data.get(key)
        if value is None:
            return
        if key not in desc:
            raise FormatError("invalid key '%s'" % key)
        text = format_size(value) if desc[key].fmt == "disk-size" else str(value)
        if "," in text and desc[key].fmt != "disk-size":
            raise FormatError("illegal value with commas for %s" % key)
        parts.append(text if bare else "%s=%s" % (key, text))

    for k, prop in desc.items():
        if prop.default_key:
            add(k, bare=True)
    for k in sorted(data):
        if k in desc and not desc[k].optional:
            add(k)
    for k in sorted(data):
        add(k)
    return ",".join(parts)


def _parse_mountpoint(desc, value):
    """Config.pm parse_ct_mountpoint_full: size in bytes, type, idmap entries split."""
    res = parse_property_string(desc, value or "")
    if res.get("size") is not None:
        res["size"] = parse_size(res["size"])
    res["type"] = classify_mountpoint(res["volume"])
    if res.get("idmap") is not None and res["idmap"] != "passthrough":
        res["idmap"] = [entry.split(":") for entry in res["idmap"].split(";")]
    return res


def parse_rootfs(value):
    res = _parse_mountpoint(ROOTFS_DESC, value)
    res["mp"] = "/"
    return res


def parse_mountpoint(value):
    return _parse_mountpoint(MP_DESC, value)


def parse_volume(key, value):
    if key == "rootfs":
        return parse_rootfs(value)
    return _parse_mountpoint(UNUSED_DESC if key.startswith("unused") else MP_DESC, value)


def print_mountpoint(mp, is_rootfs=False):
    """print_ct_mountpoint: the mp format (rootfs: without mp), idmap entries joined."""
    data = dict(mp)
    if is_rootfs:
        data.setdefault("mp", "/")
    if isinstance(data.get("idmap"), list):
        data["idmap"] = ";".join(":".join(str(x) for x in entry) for entry in data["idmap"])
    return print_property_string(data, MP_DESC, skip=("type", "mp") if is_rootfs else ("type",))


def parse_net(value):
    return parse_property_string(NET_DESC, value)


def parse_lxc_network(value):
    """Config.pm parse_lxc_network: the property string, type=veth, a random MAC if none."""
    if not value:
        return {}
    net = parse_net(value)
    net["type"] = "veth"
    if not net.get("hwaddr"):
        net["hwaddr"] = random_mac()
    return net


def print_net(net):
    return print_property_string(net, NET_DESC)


def parse_features(value):
    return parse_property_string(FEATURES_DESC, value)


def classify_mountpoint(volume):
    if volume.startswith("/"):
        return "device" if volume.startswith("/dev/") else "bind"
    return "volume"


def random_mac(prefix="BC:24:11"):
    """PVE::Tools::random_ether_addr: the prefix, then random bytes up to six."""
    parts = prefix.split(":") if prefix else []
    tail = os.urandom(6 - len(parts))
    if not parts:
        tail = bytes([(tail[0] & 0xFE) | 0x02]) + tail[1:]  # unicast, locally administered
    return ":".join(parts + ["%02X" % b for b in tail])


def unique_tags(value):
    """GuestHelpers get_unique_tags as the facts describe: lower-cased, de-duplicated, sorted, `;`."""
    return ";".join(sorted({t.lower() for t in split_list(value)}))


def check_type(key, value):
    """Config.pm check_type (used when reading a file): booleans and integers normalised,
    string formats checked (not patterns or enums). Raises FormatError."""
    prop = CONFDESC.get(key)
    if prop is None:
        raise FormatError("unknown setting '%s'" % key)
    if re.search(r"[\n\r]", value):
        raise FormatError("property contains a line feed")
    if prop.type == "boolean":
        if value == "1" or re.fullmatch(r"(on|yes|true)", value, re.I):
            return "1"
        if value == "0" or re.fullmatch(r"(off|no|false)", value, re.I):
            return "0"
        raise FormatError("type check ('boolean') failed - got '%s'" % value)
    if prop.type == "integer":
        if not re.fullmatch(r"\d+", value):
            raise FormatError("type check ('integer') failed - got '%s'" % value)
        return str(int(value))
    if prop.type == "number":
        if not re.fullmatch(r"\d+(\.\d+)?", value):
            raise FormatError("type check ('number') failed - got '%s'" % value)
        return value
    if prop.fmt:
        check_format(prop.fmt, value)
    return value


# ---------------------------------------------------------------- raw lxc keys

VALID_LXC_KEYS = {
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
    "lxc.uts.domain",
    "lxc.keyring.session",
}
INVALID_LXC_KEYS = {
    "lxc.rootfs.path": "lxc.rootfs.path is auto generated from rootfs",
    "lxc.rootfs.options": 'lxc.rootfs.options is not supported, please use mount point options in the "rootfs" key',
}
LXC_KEY_PREFIXES = ("lxc.cgroup.", "lxc.cgroup2.", "lxc.prlimit.", "lxc.net.", "lxc.sysctl.")
ENV_KEY = "lxc.environment.runtime"

# ---------------------------------------------------------------- parse / write


def parse_conf(raw, vmid, warn=None):
    """parse_pct_config: bad lines only warn (on stderr by default)."""
    if warn is None:

        def warn(msg):
            sys.stderr.write(msg)

    res = {"digest": hashlib.sha1(raw.encode("utf-8")).hexdigest(), "snapshots": {}, "pending": {}}
    conf = res
    descr = ""
    section = ""
    env = []

    def close_section():
        if descr:
            conf["description"] = descr
        if env:
            conf["env"] = "\0".join(env)

    for line in raw.split("\n"):
        if not line.strip():
            continue
        m = re.fullmatch(r"\[pve:pending\]\s*", line, re.I)
        m2 = re.fullmatch(r"\[([a-z][a-z0-9_\-]+)\]\s*", line, re.I)
        if m or m2:
            close_section()
            descr, env = "", []
            if m:
                section = "pending"
                conf = res["pending"] = {}
            else:
                section = m2.group(1)
                conf = res["snapshots"][section] = {}
            continue
        m = re.fullmatch(r"#(.*)", line)
        if m:
            descr += decode_text(m.group(1)) + "\n"
            continue
        m = re.fullmatch(r"(lxc\.[a-z0-9_\-.]+)(:|\s*=)\s*(.*?)\s*", line)
        if m:
            key, value = m.group(1), m.group(3)
            if key == ENV_KEY:
                env.append(value)
            elif key in VALID_LXC_KEYS or key.startswith(LXC_KEY_PREFIXES):
                conf.setdefault("lxc", []).append([key, value])
            elif key in INVALID_LXC_KEYS:
                warn("vm %s - %s: %s\n" % (vmid, key, INVALID_LXC_KEYS[key]))
            else:
                warn("vm %s - unable to parse config: %s\n" % (vmid, line))
            continue
        m = re.fullmatch(r"description:\s*(.*\S)\s*", line)
        if m:
            descr += decode_text(m.group(1))
            continue
        m = re.search(r"snapstate:\s*(prepare|delete)\s*\Z", line)
        if m:
            conf["snapstate"] = m.group(1)
            continue
        m = re.fullmatch(r"delete:\s*(.*\S)\s*", line)
        if m:
            if section == "pending":
                conf["delete"] = m.group(1)
            else:
                warn("vm %s - property 'delete' is only allowed in [pve:pending]\n" % vmid)
            continue
        m = re.fullmatch(r"([a-z][a-z_]*\d*):\s*(.+?)\s*", line)
        if m:
            key, value = m.group(1), m.group(2)
            try:
                value = check_type(key, value)
            except FormatError as e:
                warn("vm %s - unable to parse value of '%s' - %s" % (vmid, key, e.message))
            conf[key] = value
            continue
        warn("vm %s - unable to parse config: %s\n" % (vmid, line))
    close_section()
    res.pop("snapstate", None)  # only snapshots have one ("just to be sure")
    return res


SPECIAL_KEYS = ("digest", "description", "pending", "snapshots", "snapname", "lxc", "env")


def _section_text(conf):
    raw = ""
    lines = (conf.get("description") or "").split("\n")
    while lines and lines[-1] == "":
        lines.pop()  # Perl's split drops trailing empty fields
    for line in lines:
        raw += "#" + encode_text(line) + "\n"
    for key in sorted(conf):
        if key in SPECIAL_KEYS:
            continue
        value = conf[key]
        if value is None:
            continue
        if "\n" in str(value):
            raise cli.PveError("detected invalid newline inside property '%s'" % key)
        raw += "%s: %s\n" % (key, value)
    for var in (conf.get("env") or "").split("\0"):
        if var:
            raw += "%s: %s\n" % (ENV_KEY, var)
    for k, v in conf.get("lxc") or []:
        raw += "%s: %s\n" % (k, v)
    return raw


def conf_text(conf):
    """write_pct_config: the file bytes for a parsed config."""
    raw = _section_text(conf)
    pending = conf.get("pending") or {}
    if pending:
        raw += "\n[pve:pending]\n" + _section_text(pending)
    for name in sorted(conf.get("snapshots") or {}):
        raw += "\n[%s]\n" % name + _section_text(conf["snapshots"][name])
    return raw


def conf_path(vmid):
    return node.ct_conf_path(vmid)


def config_missing(vmid):
    return cli.PveError("Configuration file '%s' does not exist" % node.ct_conf_relpath(vmid), rc=2)


def conf_exists(vmid):
    return os.path.isfile(conf_path(vmid))


def read_conf(vmid, warn=None):
    """Load nodes/<node>/lxc/<vmid>.conf; PveError (exit 2) if missing."""
    try:
        with open(conf_path(vmid), encoding="utf-8", newline="") as f:
            raw = f.read()
    except FileNotFoundError:
        raise config_missing(vmid) from None
    return parse_conf(raw, vmid, warn)


def write_conf(vmid, conf):
    path = conf_path(vmid)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(conf_text(conf))
    os.replace(tmp, path)


def destroy_conf(vmid):
    """Remove the config file and the .vmlist entry together."""
    with node.cluster_lock():
        with contextlib.suppress(FileNotFoundError):
            os.unlink(conf_path(vmid))
        node.unregister_guest(vmid)


def parse_pending_delete(text):
    res = {}
    for item in split_list(text):
        force = item.startswith("!")
        res[item.lstrip("!")] = force
    return res


def print_pending_delete(d):
    return ",".join(("!" if force else "") + k for k, force in d.items())


def add_to_pending_delete(conf, key, force=False):
    pending = conf.setdefault("pending", {})
    d = parse_pending_delete(pending.get("delete"))
    d[key] = force
    pending["delete"] = print_pending_delete(d)


def remove_from_pending_delete(conf, key):
    pending = conf.setdefault("pending", {})
    d = parse_pending_delete(pending.get("delete"))
    d.pop(key, None)
    if d:
        pending["delete"] = print_pending_delete(d)
    else:
        pending.pop("delete", None)


def current_view(conf, current=False):
    """load_current_config: pending values merged and deletions applied unless current."""
    res = {k: v for k, v in conf.items() if k not in ("pending", "snapshots")}
    if not current:
        pending = conf.get("pending") or {}
        for k, v in pending.items():
            if k != "delete":
                res[k] = v
        for k in parse_pending_delete(pending.get("delete")):
            res.pop(k, None)
    return res


# ---------------------------------------------------------------- locks


_held = {}


@contextlib.contextmanager
def conf_lock(vmid, timeout=10):
    """flock /run/lock/lxc/pve-config-<vmid>.lock as PVE's lock_file_full does."""
    path = os.path.join(node.LOCK_DIR, "pve-config-%s.lock" % vmid)
    if path in _held:
        _held[path][1] += 1
        try:
            yield
        finally:
            _held[path][1] -= 1
        return
    os.makedirs(node.LOCK_DIR, exist_ok=True)
    f = open(path, "a")
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            sys.stdout.flush()
            sys.stderr.write("trying to acquire lock...")
            sys.stderr.flush()
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        sys.stderr.write(" failed\n")
                        raise cli.PveError("can't lock file '%s' - got timeout" % path) from None
                    time.sleep(0.02)
            sys.stderr.write(" OK\n")
        _held[path] = [f, 1]
        try:
            yield
        finally:
            del _held[path]
            fcntl.flock(f, fcntl.LOCK_UN)
    finally:
        f.close()


def check_lock(conf):
    if conf.get("lock"):
        raise cli.PveError("CT is locked (%s)" % conf["lock"])


def remove_lock(vmid, lock=None):
    with conf_lock(vmid):
        conf = read_conf(vmid)
        if not conf.get("lock"):
            raise cli.PveError("no lock found trying to remove %s lock" % ("'%s'" % lock if lock else "any"))
        if lock and conf["lock"] != lock:
            raise cli.PveError("found lock '%s' trying to remove '%s' lock" % (conf["lock"], lock))
        del conf["lock"]
        write_conf(vmid, conf)


def set_lock(vmid, lock):
    with conf_lock(vmid):
        conf = read_conf(vmid)
        check_lock(conf)
        conf["lock"] = lock
        write_conf(vmid, conf)
    return conf
