# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one writer of Proxmox config lines and raw lxc.* lines. PRIVATE to the collection.

Every value that reaches a container config, a pct argument, a raw lxc.* line or
a property string passes ``check_value``: a control character (C0, DEL, or a
character Python treats as a line break) could start a line of its own, for
example an ``lxc.hook.pre-start`` that runs on the host when the container
starts. Raw lxc.* keys come from an allow-list (data below); ``lxc.hook.*``,
``lxc.include`` and every key not on it are refused whatever their source.
"""

from __future__ import annotations

import re

from ansible_collections.cageforge.nexcage.plugins.module_utils._validation import ValidationError

# Raw LXC keys nexcage writes (the OCI mapping needs them), exact names.
LXC_RAW_KEYS = frozenset(
    {
        "lxc.apparmor.profile",
        "lxc.cap.drop",
        "lxc.cap.keep",
        "lxc.cgroup2.cpuset.cpus",
        "lxc.cgroup2.cpuset.mems",
        "lxc.cgroup2.devices.allow",
        "lxc.cgroup2.devices.deny",
        "lxc.cgroup2.pids.max",
        "lxc.environment",
        "lxc.idmap",
        "lxc.init.cmd",
        "lxc.init.cwd",
        "lxc.init.gid",
        "lxc.init.groups",
        "lxc.init.uid",
        "lxc.mount.entry",
        "lxc.selinux.context",
        "lxc.signal.halt",
    }
)
# Families of raw LXC keys with a name after the prefix (lxc.prlimit.nofile, lxc.sysctl.net.ipv4.ip_forward).
LXC_RAW_PREFIXES = ("lxc.prlimit.", "lxc.sysctl.")
# Never written, whatever the source: they make the host run programs or read other files.
LXC_REFUSED_PREFIXES = ("lxc.hook.", "lxc.include")

# C0 controls, DEL, and what str.splitlines() also breaks on (NEL, LINE/PARAGRAPH SEPARATOR).
_CONTROL_PATTERN = "[\\x00-\\x1f\\x7f\\x85\\u2028\\u2029]"
_KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9_.\-]*$"
_SUFFIX_PATTERN = r"^[a-z0-9_][a-z0-9_.\-]*$"
CONTROL_FIX = (
    "Remove the control character: a config value is one line of printable text "
    "(no newline, carriage return, NUL, escape or DEL)"
)


def check_value(value, *, option):
    """value as a str, refused (ValidationError naming option and value) if it holds a control character."""
    text = value if isinstance(value, str) else str(value)
    found = re.search(_CONTROL_PATTERN, text)
    if found:
        raise ValidationError(
            option,
            value,
            "contains the control character %r at position %d" % (found.group(0), found.start()),
            CONTROL_FIX,
        )
    return text


def check_key(key, *, option):
    """A config key: printable, starts with a letter, letters, digits, '_', '.', '-' only."""
    text = check_value(key, option=option)
    if not re.match(_KEY_PATTERN, text):
        raise ValidationError(
            option, key, "is not a valid config key", "Use letters, digits, '_', '.' and '-', starting with a letter"
        )
    return text


def config_line(key, value, *, option):
    """'key: value' for a Proxmox config file: always exactly one line (no line break inside)."""
    return "%s: %s" % (check_key(key, option=option), check_value(value, option=option))


def check_raw_lxc_key(key, *, option):
    """key if nexcage may write it as a raw lxc.* line, else ValidationError."""
    text = check_key(key, option=option)
    if text.startswith(LXC_REFUSED_PREFIXES):
        raise ValidationError(
            option,
            key,
            "is refused: it would make the host run a program or read another file",
            "Remove it; nexcage never writes lxc.hook.* or lxc.include lines",
        )
    if text in LXC_RAW_KEYS:
        return text
    for prefix in LXC_RAW_PREFIXES:
        if text.startswith(prefix) and re.match(_SUFFIX_PATTERN, text[len(prefix) :]):
            return text
    raise ValidationError(
        option,
        key,
        "is not a raw LXC key nexcage writes",
        "Use one of %s or %s<name>" % (", ".join(sorted(LXC_RAW_KEYS)), "<name>, ".join(LXC_RAW_PREFIXES)),
    )


def raw_lxc_line(key, value, *, option):
    """'lxc.key: value' for an allowed raw LXC key; control characters and refused keys raise ValidationError."""
    return "%s: %s" % (check_raw_lxc_key(key, option=option), check_value(value, option=option))
