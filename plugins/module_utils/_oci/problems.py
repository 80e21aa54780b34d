# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Problems found in a config.json, as nexcage_bundle returns them. PRIVATE to the collection.

Every problem is a dict: ``path`` (JSON path such as ``$.process.args[0]``), ``value``, ``level``
(``error`` or ``warning``), ``check`` (a short id), ``message`` and ``fix``. Kept apart from the
checks themselves (``checks``, which load the schema) so that reading stored problems is cheap.
"""

from __future__ import annotations

import re


def json_path(parts):
    """['process', 'args', 0] -> '$.process.args[0]'."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += "[%d]" % part
        elif re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", part):
            out += "." + part
        else:
            out += "[%s]" % _quote(part)
    return out


def _quote(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def problem(parts, value, message, fix, level="error", check="semantic"):
    return {
        "path": json_path(parts) if not isinstance(parts, str) else parts,
        "value": value,
        "level": level,
        "check": check,
        "message": message,
        "fix": fix,
    }


def errors_of(problems):
    return [item for item in problems if item["level"] == "error"]


def format_problem(item):
    return "%s: %s (value: %s). Fix: %s" % (item["path"], item["message"], short(item["value"]), item["fix"])


def short(value):
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


class Problems:
    """Collects the problems of one check run, each tagged with the check that found it."""

    def __init__(self):
        self.items = []

    def error(self, check, parts, value, message, fix):
        self.items.append(problem(parts, value, message, fix, check=check))

    def warning(self, check, parts, value, message, fix):
        self.items.append(problem(parts, value, message, fix, level="warning", check=check))
