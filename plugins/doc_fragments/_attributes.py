# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to this collection: it may change at any time. Do not use it from other collections.

from __future__ import annotations


class ModuleDocFragment:
    # The attributes every nexcage module has. A module states its own support level for
    # check_mode, diff_mode and idempotent (here or with one of the fragments below), and adds
    # details where the support is partial.
    DOCUMENTATION = r"""
options: {}
requirements:
  - On the managed node (the Proxmox VE node itself), Python 3.11 or later (Proxmox VE 8 ships 3.11,
    Proxmox VE 9 ships 3.13) and the node's own tools.
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: [proxmox node, posix]
    details:
      - Runs on a Proxmox VE node (or one that answers C(pct), C(pvesm), C(pvesh) and C(zfs) as Proxmox VE does),
        as root, through the node's own command-line tools. No HTTP API is used.
  action_group:
    description: Use C(group/cageforge.nexcage.nexcage) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - cageforge.nexcage.nexcage
"""

    # A module that changes the node and fully supports check mode, diff mode and idempotency.
    CHANGES_STATE = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
"""
