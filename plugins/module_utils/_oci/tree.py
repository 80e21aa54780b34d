# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A rootfs directory tree: its stamp, the digest of its metadata, paths inside it.
PRIVATE to the collection.

* ``tree_digest(root)``: SHA-256 over one line per entry below root (path, mode, owner, size,
  mtime, link target, device number), directories in sorted depth-first order; file contents are
  not read. Refuses device nodes unless allow_devices.
* ``tree_stamp(root)``: a cheap signature of a directory source, the inode number, modification
  and change times of root and of every entry directly in it. What it catches and misses is in
  nexcage_bundle's documentation (``source_check``).
* ``resolve_in_root(root, path)``: a path inside a rootfs with chroot semantics.

The walks (here and build.copy_tree's) open every directory relative to its parent with
``O_NOFOLLOW``: a symlink in the tree is never followed, even if the tree changes during the walk.
"""

from __future__ import annotations

import hashlib
import os
import stat

from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import INVALID_ARGUMENT, NexcageError

# A directory below the one walked: opened relative to it, never through a symlink.
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FORMAT = "%s\0%o\0%d\0%d\0%d\0%d\0%s\0%d\n"


def device_refused(root, rel):
    return NexcageError(
        INVALID_ARGUMENT,
        "source directory %s contains the device node %s; refusing it" % (root, rel),
        hint="Remove the device node from the source, or set allow_devices: true.",
    )


def is_device(mode):
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode)


def entry_line(path, st, link):
    """An entry's line of the digest."""
    return _FORMAT % (path, st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, link, st.st_rdev)


def listing(fd):
    """The entries of the directory open as fd, sorted by name, each with its lstat."""
    with os.scandir(fd) as found:
        entries = sorted(found, key=lambda entry: entry.name)
    return [(entry.name, entry.stat(follow_symlinks=False)) for entry in entries]


def tree_digest(root, allow_devices=False):
    """(digest, entries) of the tree below root; see the module docstring."""
    digest = hashlib.sha256()
    count = 0
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    frames = [[fd, "", None]]  # an open directory, its path, its subdirectories still to walk (last first)
    try:
        while frames:
            frame = frames[-1]
            fd, rel, todo = frame
            if todo is None:
                lines = []
                todo = frame[2] = []
                for name, st in listing(fd):
                    mode = st.st_mode
                    link = ""
                    if stat.S_ISDIR(mode):
                        todo.append(name)
                    elif stat.S_ISLNK(mode):
                        link = os.readlink(name, dir_fd=fd)
                    elif is_device(mode) and not allow_devices:
                        raise device_refused(root, rel + name)
                    lines.append(entry_line(rel + name, st, link))
                digest.update("".join(lines).encode("utf-8", "surrogateescape"))
                count += len(lines)
                todo.reverse()
            if todo:
                name = todo.pop()
                frames.append([os.open(name, DIR_FLAGS, dir_fd=fd), rel + name + "/", None])
                continue
            frames.pop()
            os.close(fd)
    finally:
        for frame in frames:
            os.close(frame[0])
    return "sha256:" + digest.hexdigest(), count


def tree_stamp(root):
    """The stamp of root: inode, mtime and ctime of root and of each entry directly in it."""
    st = os.stat(root)
    parts = ["%d:%d:%d:%d" % (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)]
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for name, entry in listing(fd):
            parts.append("%s\0%d:%d:%d" % (name, entry.st_ino, entry.st_mtime_ns, entry.st_ctime_ns))
    finally:
        os.close(fd)
    return "sha256:" + hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


# --------------------------------------------------------------------------- paths inside a rootfs


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
