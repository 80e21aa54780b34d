# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ZFS property values, dataset names and the planner of nexcage_zfs_dataset. PRIVATE to the collection.

- value normalisation (`normalize_value`): the requested value and the value
  `zfs get -H -p` prints are brought to one canonical string (sizes in bytes,
  on/off, `none` quotas as 0, acltype aliases);
- the parser of `zfs get` output;
- the planner (`plan_present`, `order_updates`): which `zfs` argv lists bring a
  dataset to the requested state. Pure: no command runs here.
"""

from __future__ import annotations

import re

from ansible_collections.cageforge.nexcage.plugins.module_utils import _errors, _runner
from ansible_collections.cageforge.nexcage.plugins.module_utils._node.sizes import parse_size

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
    args = ["create"]
    if create_parents:
        args.append("-p")
    props = dict(desired)
    if "volsize" in props:
        args += ["-V", props.pop("volsize")]
    for prop in sorted(props):
        args += ["-o", "%s=%s" % (prop, props[prop])]
    args.append(name)
    return _runner.zfs(*args)


def set_argv(name, prop, value):
    return _runner.zfs("set", "%s=%s" % (prop, value), name)


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
