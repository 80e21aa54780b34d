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
import ipaddress
import os
import re
import sys
import time

from pvesim import cli, node

# ---------------------------------------------------------------- errors


class FormatError(Exception):
    """A format validator failed; message ends in a newline (as PVE's die does)."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message if message.endswith("\n") else message + "\n"


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


# ---------------------------------------------------------------- format validators

_LABEL = r"[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?"
DNS_NAME_RE = re.compile(r"(%s\.)*%s" % (_LABEL, _LABEL))
VMID_RE = re.compile(r"[1-9][0-9]{2,8}")
STORAGE_ID_RE = re.compile(r"[a-z][a-z0-9\-_.]*[a-z0-9]", re.I)
CONFIGID_RE = re.compile(r"[a-z][a-z0-9_]+", re.I)
TAG_RE = re.compile(r"[a-z0-9_][a-z0-9_+.\-]*", re.I)
MAC_RE = re.compile(r"[a-f0-9]{2}(:[a-f0-9]{2}){5}", re.I)
BOOL_TRUE = ("1", "yes", "on", "true")
BOOL_FALSE = ("0", "no", "off", "false")


def split_list(text):
    return [p for p in re.split(r"[,;\s\0]+", text or "") if p]


def _v_vmid(v):
    if not VMID_RE.fullmatch(str(v)):
        raise FormatError("value does not look like a valid VM ID")


def _v_dns_name(v):
    if not DNS_NAME_RE.fullmatch(v):
        raise FormatError("value does not look like a valid DNS name")


def _v_dns_name_list(v):
    for part in split_list(v):
        _v_dns_name(part)


def _v_address(v):
    try:
        ipaddress.ip_address(v)
    except ValueError:
        raise FormatError("value does not look like a valid address: %s" % v) from None


def _v_address_list(v):
    for part in split_list(v):
        _v_address(part)


def _v_mac(v):
    if not MAC_RE.fullmatch(v) or int(v[:2], 16) & 1:
        raise FormatError("value does not look like a valid unicast MAC address")


def _v_ipv4(v):
    try:
        ipaddress.IPv4Address(v)
    except ValueError:
        raise FormatError("value does not look like a valid IPv4 address") from None


def _v_ipv6(v):
    try:
        ipaddress.IPv6Address(v)
    except ValueError:
        raise FormatError("value does not look like a valid IPv6 address") from None


def _v_ipv4_config(v):
    if v in ("dhcp", "manual"):
        return
    try:
        ipaddress.IPv4Interface(v)
        if "/" not in v:
            raise ValueError(v)
    except ValueError:
        raise FormatError("value does not look like a valid ipv4 network configuration") from None


def _v_ipv6_config(v):
    if v in ("auto", "dhcp", "manual"):
        return
    try:
        ipaddress.IPv6Interface(v)
        if "/" not in v:
            raise ValueError(v)
    except ValueError:
        raise FormatError("value does not look like a valid ipv6 network configuration") from None


def _v_bridge(v):
    if not re.fullmatch(r"[-_.\w\d]+", v):
        raise FormatError("invalid bridge ID '%s'" % v)


def _v_storage_id(v):
    if not STORAGE_ID_RE.fullmatch(v):
        raise FormatError("storage ID '%s' contains illegal characters" % v)


def _v_configid(v):
    if not CONFIGID_RE.fullmatch(v):
        raise FormatError("invalid configuration ID '%s'" % v)


def _v_volume_id(v):
    if not re.fullmatch(r"[a-z][a-z0-9\-_.]*[a-z0-9]:.+", v, re.I):
        raise FormatError("unable to parse volume ID '%s'" % v)


def _v_tag_list(v):
    for tag in split_list(v):
        if not TAG_RE.fullmatch(tag):
            raise FormatError("invalid characters in tag")


def _v_timezone(v):
    if v in ("host", "UTC"):
        return
    try:
        with open("/usr/share/zoneinfo/zone.tab", encoding="utf-8") as f:
            zones = {line.split("\t")[2].strip() for line in f if line.strip() and not line.startswith("#")}
    except (OSError, IndexError):
        zones = set()
    if v not in zones:
        raise FormatError("invalid time zone '%s'" % v)


def _v_mp_string(v):
    if re.search(r"/\.\.?/", v) or re.search(r"/\.\.?$", v) or re.match(r"\.\.?/", v):
        raise FormatError("%s contains illegal character sequences" % v)


def _v_disk_size(v):
    if parse_size(v) is None:
        raise FormatError("unable to parse size '%s'" % v)


def _v_startup(v):
    if parse_startup(v) is None:
        raise FormatError("unable to parse startup options")


def _v_poolid(v):
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", v):
        raise FormatError("invalid pool ID '%s'" % v)


NAMED_FORMATS = {
    "pve-vmid": _v_vmid,
    "dns-name": _v_dns_name,
    "dns-name-list": _v_dns_name_list,
    "address-list": _v_address_list,
    "mac-addr": _v_mac,
    "ipv4": _v_ipv4,
    "ipv6": _v_ipv6,
    "pve-ipv4-config": _v_ipv4_config,
    "pve-ipv6-config": _v_ipv6_config,
    "pve-bridge-id": _v_bridge,
    "pve-storage-id": _v_storage_id,
    "pve-configid": _v_configid,
    "pve-volume-id": _v_volume_id,
    "pve-tag-list": _v_tag_list,
    "pve-ct-timezone": _v_timezone,
    "pve-lxc-mp-string": _v_mp_string,
    "disk-size": _v_disk_size,
    "pve-startup-order": _v_startup,
    "pve-poolid": _v_poolid,
}


# ---------------------------------------------------------------- sizes, startup, text


def parse_size(text):
    """`8G` -> bytes (PVE JSONSchema parse_size); None if unparsable."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT])?", str(text))
    if not m:
        return None
    shift = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m.group(2) or ""]
    return int(float(m.group(1)) * (1 << shift))


def format_size(size):
    """Bytes -> the largest exact unit: `512M`, `8G`, `1T` (JSONSchema format_size)."""
    size = int(size)
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
    res = {}
    for part in split_list(text):
        m = re.fullmatch(r"(?:(order)=)?(\d+)|(up|down)=(\d+)", part)
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

_MOUNTOPT = r"(noatime|lazytime|nodev|nosuid|noexec)"

ROOTFS_DESC = {
    "volume": Prop(fmt="pve-lxc-mp-string", optional=False, default_key=True),
    "size": Prop(fmt="disk-size"),
    "acl": Prop("boolean"),
    "mountoptions": Prop(pattern=r"%s(;%s)*" % (_MOUNTOPT, _MOUNTOPT)),
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
    "bridge": Prop(fmt="pve-bridge-id"),
    "hwaddr": Prop(fmt="mac-addr"),
    "mtu": Prop("integer", minimum=64, maximum=65535),
    "ip": Prop(fmt="pve-ipv4-config"),
    "gw": Prop(fmt="ipv4"),
    "ip6": Prop(fmt="pve-ipv6-config"),
    "gw6": Prop(fmt="ipv6"),
    "firewall": Prop("boolean"),
    "tag": Prop("integer", minimum=1, maximum=4094),
    "trunks": Prop(pattern=r"\d+(?:-\d+)?(?:;\d+(?:-\d+)?)*"),
    "rate": Prop("number", minimum=0),
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
DEV_DESC = {
    "path": Prop(pattern=r"/dev/.+", optional=False, default_key=True),
    "mode": Prop(pattern=r"0?[0-7]{3,4}"),
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
    "nameserver": Prop(fmt="address-list"),
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
    "env": Prop(pattern=r"\w+=[^\x00-\x1f\x7f]*(\x00\w+=[^\x00-\x1f\x7f]*)*"),
}
for _i in range(MAX_NETS):
    CONFDESC["net%d" % _i] = Prop(fmt=NET_DESC)
for _i in range(MAX_MPS):
    CONFDESC["mp%d" % _i] = Prop(fmt=MP_DESC)
    CONFDESC["unused%d" % _i] = Prop(fmt="pve-volume-id")
for _i in range(MAX_DEVS):
    CONFDESC["dev%d" % _i] = Prop(fmt=DEV_DESC)

# Options that apply to a running CT at once (Config.pm vmconfig_hotplug_pending).
FASTPLUG = {"description", "onboot", "startup", "protection", "hostname", "hookscript", "cores", "tags", "lock"}
HOTPLUG = FASTPLUG | {"cpulimit", "cpuunits", "memory", "swap"}


def is_hotpluggable(key, conf):
    if key in HOTPLUG or re.fullmatch(r"net\d+|dev\d+", key):
        return True
    return bool(re.fullmatch(r"mp\d+", key)) and key not in conf


# ---------------------------------------------------------------- validation


def parse_boolean(value):
    low = str(value).lower()
    if low in BOOL_TRUE:
        return 1
    if low in BOOL_FALSE:
        return 0
    return None


def check_value(prop, value, path):
    """JSONSchema check_prop for one value. Returns (normalised, errors dict)."""
    errors = {}
    raw = value
    if prop.type == "integer":
        if not re.fullmatch(r"[+-]?\d+", str(value)):
            return value, {path: "type check ('integer') failed - got '%s'" % value}
        value = int(value)
    elif prop.type == "number":
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", str(value)):
            return value, {path: "type check ('number') failed - got '%s'" % value}
    elif prop.type == "boolean":
        b = parse_boolean(value)
        if b is None:
            return value, {path: "type check ('boolean') failed - got '%s'" % value}
        value = b
    fmt = prop.fmt
    if isinstance(fmt, dict):
        try:
            parse_property_string(fmt, value, path)
        except FormatError as e:
            return value, {path: "invalid format - " + e.message}
    elif fmt:
        try:
            NAMED_FORMATS[fmt](str(raw))
        except FormatError as e:
            return value, {path: "invalid format - " + e.message}
    if prop.type == "string":
        if prop.maxlen is not None and len(value) > prop.maxlen:
            errors[path] = "value may only be %d characters long" % prop.maxlen
        elif prop.minlen is not None and len(value) < prop.minlen:
            errors[path] = "value must be at least %d characters long" % prop.minlen
        elif prop.pattern and not re.fullmatch(prop.pattern, value):
            errors[path] = "value does not match the regex pattern"
    if prop.type in ("integer", "number") and not errors:
        num = float(value)
        if prop.minimum is not None and num < prop.minimum:
            errors[path] = "value must have a minimum value of %s" % prop.minimum
        elif prop.maximum is not None and num > prop.maximum:
            errors[path] = "value must have a maximum value of %s" % prop.maximum
    if prop.enum is not None and not errors and str(value) not in prop.enum:
        errors[path] = "value '%s' does not have a value in the enumeration '%s'" % (value, ", ".join(prop.enum))
    return value, errors


def parse_property_string(desc, data, path=None):
    """JSONSchema parse_property_string: a dict, booleans as 1/0.
    Raises FormatError with PVE's message (nested key errors included)."""
    res = {}
    default_key = None
    for part in str(data).split(","):
        if not part.strip():
            continue
        m = re.fullmatch(r"([^=]+)=(.+)", part, re.S)
        if m:
            k, v = m.group(1), m.group(2)
            if k in res:
                raise FormatError("duplicate key in comma-separated list property: %s" % k)
            prop = desc.get(k)
            if prop is None:
                raise FormatError("invalid key in comma-separated list property: %s" % k)
            if prop.type == "boolean":
                b = parse_boolean(v)
                v = v if b is None else b
            res[k] = v
        elif "=" not in part:
            if default_key:
                raise FormatError("duplicate key in comma-separated list property: %s" % default_key)
            for k, prop in desc.items():
                if prop.default_key:
                    default_key = k
                    if k in res:
                        raise FormatError("duplicate key in comma-separated list property: %s" % k)
                    res[k] = part
                    break
            if not default_key:
                raise FormatError("value without key, but schema does not define a default key")
        else:
            raise FormatError("missing key in comma-separated list property")
    errors = {}
    for k, prop in desc.items():
        sub = "%s.%s" % (path, k) if path else k
        if k not in res:
            if not prop.optional:
                errors[sub] = "property is missing and it is not optional"
            continue
        value, errs = check_value(prop, res[k], sub)
        if errs:
            errors.update(errs)
        else:
            res[k] = value
    if errors:
        raise FormatError("format error\n" + "".join("%s: %s\n" % (k, v) for k, v in errors.items()))
    return res


def print_property_string(data, desc, skip=()):
    """Default key first (bare), then required keys, then the rest alphabetically."""
    parts, done = [], set(skip)
    for k, prop in desc.items():
        if prop.default_key and data.get(k) is not None and k not in done:
            parts.append(str(data[k]))
            done.add(k)
    for k in sorted(desc):
        if not desc[k].optional and data.get(k) is not None and k not in done:
            parts.append("%s=%s" % (k, _prop_text(k, data[k])))
            done.add(k)
    for k in sorted(data):
        if k not in done and data[k] is not None and (k in desc):
            parts.append("%s=%s" % (k, _prop_text(k, data[k])))
    return ",".join(parts)


def _prop_text(key, value):
    if key == "size":
        size = parse_size(value)
        return format_size(size) if size is not None else str(value)
    return str(value)


def parse_rootfs(value):
    res = parse_property_string(ROOTFS_DESC, value)
    res["mp"] = "/"
    res["type"] = classify_mountpoint(res["volume"])
    return res


def parse_mountpoint(value):
    res = parse_property_string(MP_DESC, value)
    res["type"] = classify_mountpoint(res["volume"])
    return res


def parse_volume(key, value):
    return parse_rootfs(value) if key == "rootfs" else parse_mountpoint(value)


def print_mountpoint(mp, is_rootfs=False):
    data = {k: v for k, v in mp.items() if k != "type" and not (is_rootfs and k == "mp")}
    return print_property_string(data, ROOTFS_DESC if is_rootfs else MP_DESC)


def parse_net(value):
    return parse_property_string(NET_DESC, value)


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
    """Config.pm check_type (used when reading a file). Raises FormatError."""
    prop = CONFDESC.get(key)
    if prop is None:
        raise FormatError("unknown setting '%s'" % key)
    if re.search(r"[\n\r]", value):
        raise FormatError("property contains a line feed")
    if prop.type == "boolean":
        b = parse_boolean(value)
        if b is None:
            raise FormatError("type check ('boolean') failed - got '%s'" % value)
        return str(b)
    if prop.type == "integer":
        if not re.fullmatch(r"\d+", value):
            raise FormatError("type check ('integer') failed - got '%s'" % value)
        return str(int(value))
    if prop.type == "number":
        if not re.fullmatch(r"\d+(\.\d+)?", value):
            raise FormatError("type check ('number') failed - got '%s'" % value)
        return value
    if prop.fmt:
        if isinstance(prop.fmt, dict):
            parse_property_string(prop.fmt, value)
        else:
            NAMED_FORMATS[prop.fmt](value)
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
        m = re.fullmatch(r"snapstate:\s*(prepare|delete)\s*", line)
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
        with open(conf_path(vmid), encoding="utf-8") as f:
            raw = f.read()
    except FileNotFoundError:
        raise config_missing(vmid) from None
    return parse_conf(raw, vmid, warn)


def write_conf(vmid, conf):
    path = conf_path(vmid)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
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
