# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the sections of a config.json map to. PRIVATE to the collection."""

from __future__ import annotations


class Mapped:
    """The result of mapping a config.json, filled in by the section mappers.

    options: nexcage_container options, typed as the module takes them (hostname str, memory and
    swap int MiB, cpulimit float, cpuunits int, unprivileged bool, ostype str).
    mounts: bind mounts as the module's typed mount dicts (host_path, mountpoint, read_only), without id.
    pct: pct create options nexcage_container has no option for, [(key, value)] (cmode).
    lxc: raw LXC lines [(key, value, json_path)] in the order they are written.
    warnings, errors: "json path: message" texts; any error means the bundle cannot be deployed.
    """

    def __init__(self):
        self.options = {}
        self.mounts = []
        self.pct = []
        self.lxc = []
        self.warnings = []
        self.errors = []

    def warn(self, path, message):
        self.warnings.append("%s: %s" % (path, message))

    def error(self, path, message):
        self.errors.append("%s: %s" % (path, message))

    def raw(self, path, key, value):
        self.lxc.append((key, str(value), path))

    def unmapped(self, path, source, keys, when_present=False):
        """Warn for each of keys that is set in the dict source (or merely present) and has no equivalent."""
        for key in keys:
            if (key in source) if when_present else source.get(key):
                self.warn("%s.%s" % (path, key), "not mapped")
