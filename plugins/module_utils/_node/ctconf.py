# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nexcage's raw lxc.* lines in a container config. PRIVATE to the collection.

Raw lxc.* keys cannot be passed to pct create/set; PVE allows them in
/etc/pve/lxc/<vmid>.conf, so nexcage writes them there under PVE's config lock.
nexcage owns the lines of the current (main) section whose key is one it
writes (configline's allow-list); every other byte of the file, including
lxc.* lines someone else wrote and the snapshot sections, stays as it was.
"""

from __future__ import annotations

import re

from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import NOT_FOUND, NexcageError
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import configline, files, paths
from ansible_collections.cageforge.nexcage.plugins.module_utils._validation import ValidationError

LOCK_TIMEOUT = 10
_RAW_PATTERN = r"^(lxc\.[a-zA-Z0-9_.\-]+)\s*[:=]\s*(.*?)\s*$"
_SECTION_PATTERN = r"^\s*\[[^\]]+\]\s*$"


def _owned(key):
    try:
        configline.check_raw_lxc_key(key, option=key)
    except ValidationError:
        return False
    return True


def split_lines(text):
    """Lines with their endings; only '\\n' ends a line, as in PVE's parser."""
    pieces = text.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines


def owned_lines(text):
    """[(index, key, value)] of nexcage's lxc.* lines in the main section of a config text."""
    found = []
    for index, line in enumerate(split_lines(text)):
        if re.match(_SECTION_PATTERN, line.rstrip("\n")):
            break
        match = re.match(_RAW_PATTERN, line.rstrip("\n"))
        if match and _owned(match.group(1)):
            found.append((index, match.group(1), match.group(2)))
    return found


def _main_end(lines):
    """Index after the last non-blank line of the main section."""
    end = len(lines)
    for index, line in enumerate(lines):
        if re.match(_SECTION_PATTERN, line.rstrip("\n")):
            end = index
            break
    while end and not lines[end - 1].strip():
        end -= 1
    return end


def replace_owned(text, new_lines):
    """text with its owned lxc.* lines replaced by new_lines (already rendered, without endings)."""
    lines = split_lines(text)
    owned = owned_lines(text)
    if owned:
        at = owned[0][0]
        skip = {index for index, _key, _value in owned}
        kept = [line for index, line in enumerate(lines) if index not in skip]
        at -= sum(1 for index in skip if index < at)
    else:
        kept = lines
        at = _main_end(lines)
    if at and not kept[at - 1].endswith("\n"):
        kept[at - 1] += "\n"
    return "".join(kept[:at] + [line + "\n" for line in new_lines] + kept[at:])


def set_raw_lxc_lines(vmid, lines, *, check_mode=False, timeout=LOCK_TIMEOUT):
    """Make nexcage's raw lxc.* lines of CT vmid exactly lines [(key, value)].

    Each line passes configline.raw_lxc_line (allow-list, no control character)
    before the file is touched. Returns (changed, before, after) as [(key, value)].
    """
    wanted = [(str(key), str(value)) for key, value in lines]
    rendered = [configline.raw_lxc_line(key, value, option=key) for key, value in wanted]
    path = paths.ct_conf(vmid)
    lock = paths.config_lock(vmid)
    message = "can't lock file '%s' - got timeout" % lock
    hint = "Another task is changing the config of CT %s; retry when it has finished." % vmid
    with files.locked(lock, timeout, message, hint=hint):
        text = files.read_text(path)
        if text is None:
            if check_mode:
                return True, [], wanted
            raise NexcageError(NOT_FOUND, "Configuration file '%s' does not exist" % path)
        before = [(key, value) for _index, key, value in owned_lines(text)]
        if before == wanted:
            return False, before, wanted
        if not check_mode:
            files.atomic_write(path, replace_owned(text, rendered), files.file_mode(path))
    return True, before, wanted
