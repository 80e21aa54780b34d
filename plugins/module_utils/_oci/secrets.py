# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Environment values of a bundle are secrets (API keys, passwords). PRIVATE to the collection.

Results, diffs, warnings and the module invocation show ``NAME=********``: ``hide`` rewrites
every ``NAME=value`` entry inside a result (also inside text such as a config.json diff), and
``protect`` hands the whole entries to ansible-core's no_log masking as the fallback for any
other place (error messages).
"""

from __future__ import annotations

MASK = "********"
# Not a secret: nexcage's own variable holding the bundle's entrypoint (see _oci.deploy.process).
NOT_SECRET = ("NEXCAGE_ENTRYPOINT=",)


def masked(entry):
    name, _sep, _value = entry.partition("=")
    return "%s=%s" % (name, MASK)


def secret_entries(entries):
    """The NAME=value strings (with a non-empty value) among entries, longest first."""
    found = {
        entry
        for entry in entries or []
        if isinstance(entry, str) and entry.partition("=")[2] and not entry.startswith(NOT_SECRET)
    }
    return sorted(found, key=len, reverse=True)


def config_entries(config):
    """The environment entries of a config.json: process.env and every hook's env."""
    if not isinstance(config, dict):
        return []
    process = config.get("process") if isinstance(config.get("process"), dict) else {}
    entries = list(process.get("env") or []) if isinstance(process.get("env"), list) else []
    hooks = config.get("hooks") if isinstance(config.get("hooks"), dict) else {}
    for hook_list in hooks.values():
        for hook in hook_list if isinstance(hook_list, list) else []:
            if isinstance(hook, dict) and isinstance(hook.get("env"), list):
                entries += hook["env"]
    return secret_entries(entries)


def lxc_entries(lines):
    """The environment entries of raw lxc.environment lines [(key, value)]."""
    return secret_entries(value for key, value in lines if key == "lxc.environment")


def hide(value, entries):
    """value (str, dict, list, nested) with every entry replaced by NAME=********."""
    if not entries:
        return value
    if isinstance(value, str):
        for entry in entries:
            if entry in value:
                value = value.replace(entry, masked(entry))
        return value
    if isinstance(value, dict):
        return {key: hide(item, entries) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [hide(item, entries) for item in value]
    return value


def protect(module, entries):
    """ansible-core masks these whole entries wherever they still appear (errors, warnings)."""
    module.no_log_values.update(entries)
