"""The suite's own statement of the rules (issue 10), used to judge what a module ACCEPTED.

Written from the rules, not from the collection's code: a value the collection lets through must
satisfy these, or the case counts as an escape.
"""

import ipaddress
import math
import os
import posixpath
import re

# Host paths that a bind mount (or a ZFS mountpoint) may not use without allow_sensitive_host_paths.
SENSITIVE_HOST = (
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/root",
    "/run",
    "/var/lib/lxc",
    "/var/lib/vz",
    "/var/lib/nexcage",
)
# Container-side mount points that are refused whatever the opt-in.
FORBIDDEN_CT_MOUNTPOINTS = ("/", "/proc", "/sys", "/dev")
ZFS_COMPONENT = re.compile(r"^[A-Za-z0-9_.:\-]+$")
ZFS_MAX_NAME = 255


def sensitive_host_path(path, extra=()):
    """Why path (a host path) is guarded, or None."""
    if not isinstance(path, str) or not path.startswith("/"):
        return None
    candidates = {posixpath.normpath(path)}
    try:
        candidates.add(os.path.realpath(path))
    except (OSError, ValueError):
        pass
    for candidate in candidates:
        if candidate == "/" or candidate.startswith("//"):
            return "%s is the host's root" % path
        for guarded in SENSITIVE_HOST + tuple(extra):
            if candidate == guarded or candidate.startswith(guarded + "/"):
                return "%s is under %s" % (path, guarded)
        if candidate.startswith("/dev/") or _is_device(candidate):
            return "%s is a device" % path
    return None


def _is_device(path):
    try:
        import stat

        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISBLK(mode) or stat.S_ISCHR(mode)


def bad_container_mountpoint(path):
    """Why path is not acceptable as a container-side mount point, or None."""
    if not isinstance(path, str) or not path.startswith("/"):
        return "%r is not an absolute path (no ~ or $VAR expansion)" % (path,)
    if posixpath.normpath(path) in FORBIDDEN_CT_MOUNTPOINTS or path.startswith("//"):
        return "%r is a forbidden container mount point" % path
    return None


def zfs_name_problem(name):
    """Why name breaks OpenZFS's dataset naming rules, or None."""
    if not isinstance(name, str) or not name:
        return "empty"
    if len(name) > ZFS_MAX_NAME:
        return "longer than %d" % ZFS_MAX_NAME
    if "@" in name or "#" in name:
        return "snapshot or bookmark name where a dataset is expected"
    parts = name.split("/")
    if not re.match(r"^[A-Za-z]", parts[0]):
        return "pool name must begin with a letter"
    for part in parts:
        if part in ("", ".", ".."):
            return "empty, '.' or '..' component"
        if not ZFS_COMPONENT.match(part):
            return "invalid character in component %r" % part
        if part.startswith("-"):
            return "component starting with '-'"
    return None


def strict_int(value, low, high):
    """Why value is not an integer in [low, high] as Proxmox accepts it (digits only), or None."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return None if low <= value <= high else "out of range"
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            return "not an integer"
        return None if low <= value <= high else "out of range"
    if isinstance(value, str):
        if not re.fullmatch(r"[0-9]+", value):
            return "not digits only"
        return None if low <= int(value) <= high else "out of range"
    return "not a number"


def strict_float(value, low, high):
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", value):
            return "not a plain decimal"
        value = float(value)
    if not isinstance(value, (int, float)):
        return "not a number"
    if not math.isfinite(value):
        return "NaN or infinite"
    return None if low <= value <= high else "out of range"


DNS_NAME = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")


def hostname_problem(value):
    """Why value is not a DNS name as Proxmox VE accepts a hostname (format dns-name), or None."""
    if not isinstance(value, str) or not value.isascii() or not DNS_NAME.match(value):
        return "not a DNS name"
    if len(value) > 255 or any(len(label) > 63 for label in value.split(".")):
        return "too long for a DNS name"
    return None


def node_address_problem(value):
    """Why value is neither a DNS name nor an IP address (an SSH destination), or None."""
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        return hostname_problem(value)


def vmid_problem(value):
    """Why value is not a VMID as Proxmox VE accepts it (digits only, 100..999999999), or None."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return None if 100 <= value <= 999999999 else "out of range"
    if isinstance(value, str) and re.fullmatch(r"[1-9][0-9]{2,8}", value):
        return None
    return "not digits 100..999999999"
