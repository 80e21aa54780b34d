# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which entries a node path has, and what they are, without reading them. PRIVATE to the collection.

The health checks ask these questions of node paths (a storage's images, the cgroup trees,
/run/nexcage, /proc): the names in a directory, whether a path exists, is a directory or is
writable, how many processes a cgroup tree holds; and they remove the empty cgroups a
stopped container left behind. A path that cannot be read is an empty answer, never an error.
"""

from __future__ import annotations

import os

from ansible_collections.cageforge.nexcage.plugins.module_utils._node.files import read_text


def names(path):
    """The sorted names in directory path ([] when it cannot be listed)."""
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def exists(path):
    """Whether path exists (a dangling symlink does)."""
    return os.path.lexists(path)


def is_dir(path):
    return os.path.isdir(path)


def writable(path):
    """Writable for this process: access(2), and the filesystem not mounted read-only."""
    try:
        return os.access(path, os.W_OK) and not os.statvfs(path).f_flag & os.ST_RDONLY
    except OSError:
        return False


def cgroup_process_count(path):
    """How many processes are in the cgroup path and the cgroups below it."""
    count = 0
    for root, _dirs, _names in os.walk(path):
        try:
            count += len((read_text(os.path.join(root, "cgroup.procs")) or "").split())
        except OSError:
            continue
    return count


def remove_cgroup(path):
    """rmdir the cgroup path and the cgroups below it, deepest first; the ones left (busy)."""
    left = []
    for root, _dirs, _names in sorted(os.walk(path), key=lambda entry: -entry[0].count("/")):
        try:
            os.rmdir(root)
        except OSError:
            left.append(root)
    return left
