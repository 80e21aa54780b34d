# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nexcage_zfs_dataset: ansible.builtin.normal's run, its payload built without garbage collections
(plugin_utils/_module_action.py says why)."""

from __future__ import annotations

from ansible_collections.cageforge.nexcage.plugins.plugin_utils._module_action import ModuleAction


class ActionModule(ModuleAction):
    FULL = "cageforge.nexcage.nexcage_zfs_dataset"
