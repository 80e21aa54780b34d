# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Options shared by every nexcage module (see module_utils/_common.py).
    DOCUMENTATION = r"""
options:
  command_timeout:
    description:
      - Seconds that a single node command (C(pct), C(pvesm), C(zfs), ...) may run before
        it is killed and the task fails with error category C(timeout).
      - C(nexcage_container) gives the commands whose run time depends on the container its
        own bounds (C(create_timeout) for C(pct create) and
        C(pveam download), C(wait_timeout) for C(pct start),
        C(stop_timeout) added for C(pct shutdown) and C(pct reboot));
        see its notes.
    type: int
    default: 120
notes:
  - Runs on the Proxmox VE node itself, as root, through the node's own command-line tools.
    No HTTP API and no API token are used.
  - Every command runs in the C locale with UTF-8 (C(LANG=C.UTF-8)), so that messages are untranslated
    and non-ASCII values reach Proxmox intact, from an argument list, never through a shell.
"""
