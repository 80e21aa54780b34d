# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading, writing and locking node files. PRIVATE to the collection.

``atomic_write`` is the one writer: a temporary file beside the target
(opened with O_EXCL and O_NOFOLLOW), fsync, rename over the target, so a reader
sees the old or the new file, never half of one. ``locked`` is the one lock
helper: an exclusive flock with a timeout, as PVE takes its config locks.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time

from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import TIMEOUT, NexcageError
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths

_FIRST_DELAY = 0.02
_MAX_DELAY = 0.5


def read_text(path, default=None):
    """The text of path (undecodable bytes replaced), or default when it does not exist."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError):
        return default


def read_bytes(path, default=None):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError):
        return default


def atomic_write(path, data, mode=0o644, *, makedirs=False):
    """Replace path with data (str is written as UTF-8): temp file, fsync, rename.

    The temporary file is created with O_EXCL | O_NOFOLLOW beside the target, so
    a planted symlink is never followed; it is removed when anything fails.
    """
    directory = os.path.dirname(path) or "."
    if makedirs:
        os.makedirs(directory, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    tmp = os.path.join(directory, ".%s.tmp.%d" % (os.path.basename(path), os.getpid()))
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(tmp, flags, mode)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def file_mode(path, default=0o644):
    """The permission bits of path, or default when it does not exist."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return default


def process_start(pid):
    """When process pid started (clock ticks after boot, /proc/<pid>/stat field 22), or None when there is no
    such process. A pid and its start time name one process: a later process given the same pid differs."""
    stat = read_text(paths.proc_stat(pid))
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = (stat or "").rpartition(")")[2].split()
    return int(fields[19]) if len(fields) > 19 and fields[19].isdigit() else None


def _open_lock_file(path):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    return os.open(path, flags, 0o644)


@contextlib.contextmanager
def locked(path, timeout, what, *, category=TIMEOUT, hint=None):
    """Hold an exclusive flock on path; raise NexcageError(category, what, hint) after timeout seconds.

    what is the whole message given when the lock is not had in time.
    """
    descriptor = _open_lock_file(path)
    try:
        deadline = time.monotonic() + timeout
        delay = _FIRST_DELAY
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise NexcageError(category, what, hint=hint) from None
                time.sleep(delay)
                delay = min(delay * 2, _MAX_DELAY)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def is_locked(path):
    """Whether another process holds a flock on path (a missing file is not locked)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
    else:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return False
    finally:
        os.close(descriptor)


def remove(path):
    """Unlink path; True if it existed."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def _remove_entry(full, top_dev, is_dir):
    """Remove one entry of a tree on the filesystem top_dev; False when it must stay."""
    info = os.lstat(full)
    if is_dir and not stat.S_ISLNK(info.st_mode):
        if info.st_dev != top_dev or os.path.ismount(full):
            return False
        os.rmdir(full)
        return True
    if not is_dir and info.st_dev != top_dev:
        return False
    os.unlink(full)
    return True


def remove_tree(path):
    """Remove path and what is in it, never crossing into another filesystem (or following a link).

    Returns the paths left behind (mount points and what is under them).
    """
    left = []
    top_dev = os.lstat(path).st_dev
    for root, dirs, names in os.walk(path, topdown=False):
        for name, is_dir in [(name, False) for name in names] + [(name, True) for name in dirs]:
            full = os.path.join(root, name)
            try:
                if not _remove_entry(full, top_dev, is_dir):
                    left.append(full)
            except OSError:
                left.append(full)
    try:
        os.rmdir(path)
    except OSError:
        left.append(path)
    return left
