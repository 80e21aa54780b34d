# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""/etc/pve/storage.cfg as Proxmox VE writes it, parsed. PRIVATE.

Apart from _pveconfig (the container config parser, the largest module_util) so that a task that reads
only the storage list (nexcage_bundle with a template volume as source) ships without it.
"""

from __future__ import annotations

import re

from ansible_collections.cageforge.nexcage.plugins.module_utils._pvevalues import parse_bool, split_list


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
