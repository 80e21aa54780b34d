# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one size parser and printer. PRIVATE to the collection.

Units are binary (K = 1024), as in Proxmox VE and OpenZFS; a trailing ``B`` or
``iB`` after a unit is accepted (``8G``, ``8GB``, ``8GiB``), a bare number is
counted in ``default_unit``. Callers turn ``SizeError`` into their own message.
"""

from __future__ import annotations

import math
import re

KIB = 1024
UNIT_ORDER = "KMGTPEZ"
UNITS = {"": 1}
UNITS.update({unit: KIB ** (index + 1) for index, unit in enumerate(UNIT_ORDER)})
PVE_UNITS = "KMGT"

_SIZE_PATTERN = r"(?i)^\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMGTPEZ]?)(i?B)?\s*$"


class SizeError(ValueError):
    """Not a size."""


def parse_size(value, *, default_unit="", units=UNIT_ORDER):
    """A size in bytes from an int, a float or text such as '8G', '1.5T', '512', '64KiB'.

    A bare number (int, float or digits) is counted in default_unit. units
    limits the unit letters accepted (Proxmox VE knows K, M, G and T).
    Negative, NaN and infinite values are refused.
    """
    if isinstance(value, bool):
        raise SizeError("not a size: %r" % (value,))
    if isinstance(value, (int, float)):
        if value < 0 or (isinstance(value, float) and not math.isfinite(value)):
            raise SizeError("not a size: %r" % (value,))
        return _scaled(str(value) if isinstance(value, int) else repr(float(value)), default_unit, value)
    match = re.match(_SIZE_PATTERN, str(value))
    if not match:
        raise SizeError("not a size: %r" % (value,))
    number, unit, suffix = match.groups()
    unit = unit.upper()
    if (unit and unit not in units.upper()) or (suffix and suffix.lower() == "ib" and not unit):
        raise SizeError("not a size: %r" % (value,))
    return _scaled(number, unit or default_unit, value)


def _scaled(number, unit, original):
    factor = UNITS[unit.upper()]
    if "e" in number.lower():
        raise SizeError("not a size: %r" % (original,))
    whole, _dot, fraction = number.partition(".")
    if not fraction.strip("0"):
        return int(whole or "0") * factor
    return int(float(number) * factor)


def format_size(size):
    """Bytes as Proxmox VE prints them (PVE::JSONSchema::format_size): the largest exact unit, 0 is '0T'."""
    size = int(size)
    for unit in ("", "K", "M", "G"):
        if size % UNITS["K"]:
            return "%d%s" % (size, unit)
        size //= UNITS["K"]
    return "%dT" % size


def size_to_gib(size):
    """Bytes as the GiB number pct wants for new volumes (``local-zfs:8``, ``local:0.5``)."""
    gib = size / UNITS["G"]
    if gib == int(gib):
        return str(int(gib))
    return ("%.6f" % gib).rstrip("0").rstrip(".")
