# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OCI runtime state files ``/run/nexcage/<vmid>/state.json`` (a node file). PRIVATE to the collection.

The file follows the OCI runtime-spec state (``ociVersion``, ``id``,
``status`` of creating/created/running/stopped, ``pid``, ``bundle``,
``annotations``) and is valid against its ``state-schema.json``. It is written
atomically (``_node.files.atomic_write``) so that a reader never sees half a file.

API (small on purpose; the runc/crun backend reuses it):
``write_state(vmid, status, pid, bundle, annotations) -> dict``,
``remove_state(vmid) -> bool``, ``read_state(vmid) -> dict | None``.
"""

from __future__ import annotations

import json
import os

from ansible_collections.cageforge.nexcage.plugins.module_utils._node import files, paths, readers

OCI_VERSION = "1.0.2"
STATUSES = ("creating", "created", "running", "stopped")


def state_dir(vmid):
    return paths.run_dir(vmid)


def state_path(vmid):
    return os.path.join(state_dir(vmid), "state.json")


def build_state(vmid, status, pid=None, bundle="", annotations=None):
    """The state dict; pid is included when it is an integer >= 0 (omit it when no process exists)."""
    if status not in STATUSES:
        raise ValueError("invalid OCI status %r (one of %s)" % (status, ", ".join(STATUSES)))
    state = {"ociVersion": OCI_VERSION, "id": str(vmid), "status": status, "bundle": str(bundle or "")}
    if pid is not None:
        pid = int(pid)
        if pid < 0:
            raise ValueError("pid must be >= 0")
        state["pid"] = pid
    if annotations:
        state["annotations"] = {str(k): str(v) for k, v in annotations.items()}
    return state


def write_state(vmid, status, pid=None, bundle="", annotations=None):
    """Write /run/nexcage/<vmid>/state.json atomically; return the state dict."""
    state = build_state(vmid, status, pid, bundle, annotations)
    text = json.dumps(state, sort_keys=True, indent=2) + "\n"
    files.atomic_write(state_path(vmid), text, 0o644, makedirs=True)
    return state


def read_state(vmid):
    """The state dict, or None if there is no (readable) state file."""
    state = readers.read_json(state_path(vmid))
    return state if isinstance(state, dict) else None


def remove_state(vmid):
    """Remove /run/nexcage/<vmid>/ (state.json and anything else there); True if it existed."""
    directory = state_dir(vmid)
    if not os.path.lexists(directory):
        return False
    files.remove_tree(directory)
    return True
