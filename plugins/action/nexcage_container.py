# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nexcage_container: runs nexcage_container_core for a task without a bundle or OCI runtime, else the
full module (plugin_utils/_module_action.py says why)."""

from __future__ import annotations

from ansible_collections.cageforge.nexcage.plugins.plugin_utils._module_action import CoreRouting, container_needs_oci


class ActionModule(CoreRouting):
    FULL = "cageforge.nexcage.nexcage_container"

    def needs_oci(self, args):
        return container_needs_oci(args)
