# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A rootfs directory tree: paths resolved inside it, the digest of its metadata. PRIVATE to the collection."""

from __future__ import annotations

import hashlib
import os
import stat

from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import INVALID_ARGUMENT, NexcageError


def tree_digest(root, allow_devices=False):
    """Digest of a directory tree's metadata (names, types, modes, owners, sizes,
    mtimes, link targets). Refuses device nodes unless allow_devices."""
    h = hashlib.sha256()
    count = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) and not allow_devices:
                raise NexcageError(
                    INVALID_ARGUMENT,
                    "source directory %s contains the device node %s; refusing it" % (root, rel),
                    hint="Remove the device node from the source, or set allow_devices: true.",
                )
            link = os.readlink(full) if stat.S_ISLNK(st.st_mode) else ""
            h.update(
                (
                    "%s\0%o\0%d\0%d\0%d\0%d\0%s\0%d\n"
                    % (rel, st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, link, st.st_rdev)
                ).encode("utf-8", "surrogateescape")
            )
            count += 1
    return "sha256:" + h.hexdigest(), count


def resolve_in_root(root, path, follow_last=True):
    """Resolve path inside root with chroot semantics (absolute symlinks and '..'
    stay inside root). Returns the host path; never leaves root."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if os.path.islink(candidate) and (parts or follow_last):
            hops += 1
            if hops > 40:
                raise OSError("too many levels of symbolic links: %s" % path)
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)
