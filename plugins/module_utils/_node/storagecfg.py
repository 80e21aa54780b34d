# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""/etc/pve/storage.cfg read from the node. PRIVATE.

readers.read_storage_cfg is this; this module alone does not bring the container config parser, for what
needs only the storage list (a bundle's template source). Read once per snapshot (_node/memo.py), as
the other readers.
"""

from __future__ import annotations

from ansible_collections.cageforge.nexcage.plugins.module_utils._node import memo, paths
from ansible_collections.cageforge.nexcage.plugins.module_utils._node.files import read_text
from ansible_collections.cageforge.nexcage.plugins.module_utils._pvestorage import parse_storage_cfg


def read_storage_cfg():
    """/etc/pve/storage.cfg as {storage_id: {...}} ({} when missing)."""
    return memo.remembered("storage", _read_storage_cfg)


def _read_storage_cfg():
    text = read_text(paths.STORAGE_CFG)
    return parse_storage_cfg(text) if text else {}
