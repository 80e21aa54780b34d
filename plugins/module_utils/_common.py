# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Options every nexcage module shares. PRIVATE to the collection.

The documentation of these options lives in the doc fragment
cageforge.nexcage.common; keep the two in step.
"""

from __future__ import annotations

from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import DEFAULT_TIMEOUT, Runner


def common_argument_spec():
    return dict(
        command_timeout=dict(type="int", default=DEFAULT_TIMEOUT),
    )


def runner_for(module):
    """The Runner a module uses: its check mode and its command_timeout."""
    return Runner(check_mode=module.check_mode, timeout=module.params["command_timeout"])
