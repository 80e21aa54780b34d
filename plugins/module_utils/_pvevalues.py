# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Proxmox VE's plain value forms (booleans, lists) and the error of a value it refuses. PRIVATE.

Shared by _pveconfig (container configs) and _pvestorage (storage.cfg), so that what reads only the
storage list does not ship the container config parser.
"""

from __future__ import annotations

import re

_TRUE = frozenset({"1", "yes", "on", "true"})
_FALSE = frozenset({"0", "no", "off", "false"})


class ConfigError(ValueError):
    """A value Proxmox VE refuses; the message is Proxmox's own.

    ``errors`` maps a property-string field to its message, as PVE's ``format error`` does.
    """

    def __init__(self, message, errors=None):
        self.errors = dict(errors or {})
        if self.errors:
            message = "\n".join([message] + ["%s: %s" % (k, self.errors[k]) for k in sorted(self.errors)])
        super().__init__(message)


def parse_bool(value):
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError("invalid boolean %r" % (value,))


def split_list(value):
    """A PVE list (space, comma or semicolon separated) or a Python list -> list of str."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else re.split(r"[;,\s]+", str(value))
    return [str(t).strip() for t in items if str(t).strip()]
