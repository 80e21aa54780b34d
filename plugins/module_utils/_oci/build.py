# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Making a bundle's rootfs from its source, in the scratch directory it is built in. PRIVATE to the
collection; imported only when a rootfs is built.

* ``build_rootfs(...)``: a directory copied (``copy_tree``, or ``cp -al`` / ``cp --reflink=always``
  through the runner for rootfs_mode hardlink and reflink), a tarball or template unpacked, image
  layers applied (``extract``).
* ``copy_tree(src, dest)``: copies src to the new directory dest as ``cp -a`` does (modes, owners
  when root, times, extended attributes and ACLs, hard links within the tree, holes of sparse
  files) and returns the digest of src as it was read (``tree.tree_digest``'s), so a copy walks the
  source once. Data is copied by the kernel (``copy_file_range``: block cloning where the
  filesystem offers it, else ``sendfile``); never a hard link to the source.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat

from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import (
    INVALID_ARGUMENT,
    UNKNOWN,
    UNSUPPORTED,
    NexcageError,
)
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import extract, sources, tree
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import CommandFailed

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# copy_file_range cannot serve this pair of files (another filesystem, an old kernel): sendfile can.
_NO_COPY_RANGE = (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.ETXTBSY)
_SETID = stat.S_ISUID | stat.S_ISGID
_CP = {
    "hardlink": ["cp", "-a", "-l", "--no-target-directory"],
    "reflink": ["cp", "-a", "--reflink=always", "--no-target-directory"],
}


def build_rootfs(runner, source, dest, scratch, mode="copy", allow_devices=False, layers=None):
    """Make the rootfs dest from source = (kind, host path, the source option as given).

    Returns (tree digest, entries) of a directory copied with mode copy, else None. layers: the
    image's layers for an image layout. Raises NexcageError; the caller removes scratch.
    """
    kind, host, given = source
    try:
        if kind == "directory":
            src_real, dest_real = sources.real_path(host), sources.real_path(dest)
            if dest_real.startswith(src_real.rstrip("/") + "/"):
                raise NexcageError(INVALID_ARGUMENT, "the bundle lies inside its source directory %s" % host)
            if mode == "copy":
                return _copy(host, dest, allow_devices)
            _cp(runner, mode, host, dest)
            return None
        os.mkdir(dest, 0o755)
        if kind in ("tarball", "template"):
            extract.extract_tar(host, dest, runner, scratch, allow_devices=allow_devices)
        else:
            extract.extract_layers(layers, dest, runner, scratch, allow_devices=allow_devices)
        return None
    except extract.ExtractError as exc:
        raise NexcageError(
            INVALID_ARGUMENT,
            "refusing the rootfs source %s: %s" % (given, exc),
            hint="Use a trusted archive; nothing was written to the bundle.",
        ) from exc
    except CommandFailed as exc:
        raise NexcageError(
            UNKNOWN,
            "unpacking %s failed: %s" % (host, exc.result.stderr.strip()),
            cmd=exc.result.cmd,
            rc=exc.result.rc,
            stderr=exc.result.stderr,
        ) from exc


def _copy(host, dest, allow_devices):
    """rootfs_mode copy: (tree digest, entries) of what was copied."""
    try:
        return copy_tree(host, dest, allow_devices)
    except OSError as exc:
        raise NexcageError(
            UNKNOWN,
            "copying the rootfs from %s failed: %s" % (host, exc),
            hint="Check the source (every file readable) and free space; nothing was written to the bundle.",
        ) from exc


def _cp(runner, mode, host, dest):
    """rootfs_mode hardlink or reflink: cp -a, which makes the links or clones."""
    try:
        runner.run(_CP[mode] + [host, dest], mutating=True)
    except CommandFailed as exc:
        if mode == "reflink":
            hint = "The filesystem does not support reflinks (btrfs and XFS do); use rootfs_mode: copy."
        else:
            hint = "Hard links need source and bundle on the same filesystem; use rootfs_mode: copy."
        raise NexcageError(
            UNSUPPORTED,
            "copying the rootfs with rootfs_mode=%s failed: %s" % (mode, exc.result.stderr.strip()),
            hint=hint,
            cmd=exc.result.cmd,
            rc=exc.result.rc,
            stderr=exc.result.stderr,
        ) from exc


# --------------------------------------------------------------------------- the copy


def _fd_path(dir_fd, name):
    return "/proc/self/fd/%d/%s" % (dir_fd, name)


class _Copier:
    """One copy of a tree; see copy_tree."""

    def __init__(self, src, allow_devices):
        self.src = src
        self.allow_devices = allow_devices
        self.is_root = os.geteuid() == 0
        self.ids = (os.geteuid(), os.getegid())
        self.copy_range = hasattr(os, "copy_file_range")
        self.root_dfd = None
        self.linked = {}  # (st_dev, st_ino) of a file with several links -> its path in the copy
        self.digest = hashlib.sha256()
        self.count = 0

    # -- data

    def _send(self, fin, fout, offset, count):
        """Copy count bytes at offset from fin to the same offset in fout; return the bytes copied."""
        done = 0
        while done < count:
            if self.copy_range:
                try:
                    sent = os.copy_file_range(fin, fout, count - done, offset + done, offset + done)
                except OSError as exc:
                    if exc.errno not in _NO_COPY_RANGE:
                        raise
                    self.copy_range = False
                    continue
            else:
                os.lseek(fout, offset + done, os.SEEK_SET)
                sent = os.sendfile(fout, fin, offset + done, count - done)
            if not sent:  # the file shrank while it was copied
                break
            done += sent
        return done

    def _data(self, fin, fout, st):
        size = st.st_size
        if not size:
            return
        if st.st_blocks * 512 >= size:
            self._send(fin, fout, 0, size)
            return
        # Sparse: copy the data extents only, then set the size (cp's --sparse=auto).
        offset = 0
        while offset < size:
            try:
                start = os.lseek(fin, offset, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # no data after offset
                    break
                raise
            end = min(os.lseek(fin, start, os.SEEK_HOLE), size)
            self._send(fin, fout, start, end - start)
            offset = end
        os.ftruncate(fout, size)

    # -- attributes

    @staticmethod
    def _xattrs(source, target, follow=True):
        """Copy the extended attributes (ACLs, file capabilities, labels) of source onto target
        (paths or file descriptors); those the target filesystem refuses are left out, as cp -a does."""
        for name in os.listxattr(source, follow_symlinks=follow):
            try:
                os.setxattr(target, name, os.getxattr(source, name, follow_symlinks=follow), follow_symlinks=follow)
            except OSError:
                pass

    def _owner_mode_fd(self, fd, st, mode_set):
        """Owner (when root) and, if that is not done yet or chown cleared set-id bits, the mode."""
        chowned = self.is_root and (st.st_uid, st.st_gid) != self.ids
        if chowned:
            os.fchown(fd, st.st_uid, st.st_gid)
        if not mode_set or (chowned and st.st_mode & _SETID):
            os.fchmod(fd, stat.S_IMODE(st.st_mode))

    # -- entries

    def _file(self, sfd, dfd, name, st):
        fin = os.open(name, _READ_FLAGS, dir_fd=sfd)
        try:
            fout = os.open(name, _CREATE_FLAGS, stat.S_IMODE(st.st_mode), dir_fd=dfd)
            try:
                self._data(fin, fout, st)
                self._owner_mode_fd(fout, st, mode_set=True)
                self._xattrs(fin, fout)
                os.utime(fout, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(fout)
        finally:
            os.close(fin)

    def _other(self, sfd, dfd, name, st, link):
        """A symlink, FIFO, socket or (allowed) device node."""
        if link is not None:
            os.symlink(link, name, dir_fd=dfd)
        else:
            os.mknod(name, st.st_mode, st.st_rdev, dir_fd=dfd)
        if self.is_root and (st.st_uid, st.st_gid) != self.ids:
            os.chown(name, st.st_uid, st.st_gid, dir_fd=dfd, follow_symlinks=False)
        if link is None:
            os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=dfd)
        # no fd for a symlink or a device node: its path through the directory's fd
        self._xattrs(_fd_path(sfd, name), _fd_path(dfd, name), follow=False)
        os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dfd, follow_symlinks=False)

    def directory(self, sfd, dfd, rel):
        """Copy the entries of one directory; return the names of its subdirectories (created, empty)."""
        lines = []
        subdirs = []
        for name, st in tree.listing(sfd):
            mode = st.st_mode
            path = rel + name
            link = ""
            if stat.S_ISDIR(mode):
                os.mkdir(name, 0o700, dir_fd=dfd)
                subdirs.append((name, st))
            else:
                if stat.S_ISLNK(mode):
                    link = os.readlink(name, dir_fd=sfd)
                elif tree.is_device(mode) and not self.allow_devices:
                    raise tree.device_refused(self.src, path)
                first = None
                if st.st_nlink > 1:
                    key = (st.st_dev, st.st_ino)
                    first = self.linked.get(key)
                    if first is None:
                        self.linked[key] = path
                if first is not None:
                    os.link(first, name, src_dir_fd=self.root_dfd, dst_dir_fd=dfd, follow_symlinks=False)
                elif stat.S_ISREG(mode):
                    self._file(sfd, dfd, name, st)
                else:
                    self._other(sfd, dfd, name, st, link if stat.S_ISLNK(mode) else None)
            lines.append(tree.entry_line(path, st, link))
        self.digest.update("".join(lines).encode("utf-8", "surrogateescape"))
        self.count += len(lines)
        return subdirs

    def finish_dir(self, sfd, dfd, st):
        """A directory's own attributes, once everything in it is written."""
        self._owner_mode_fd(dfd, st, mode_set=False)
        self._xattrs(sfd, dfd)
        os.utime(dfd, ns=(st.st_atime_ns, st.st_mtime_ns))

    def run(self, dest):
        sfd = os.open(self.src, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.mkdir(dest, 0o700)
            dfd = self.root_dfd = os.open(dest, tree.DIR_FLAGS)
        except OSError:
            os.close(sfd)
            raise
        # A frame per open directory: its fds, path, stat and subdirectories still to copy (last first).
        frames = [[sfd, dfd, "", os.fstat(sfd), None]]
        try:
            while frames:
                frame = frames[-1]
                sfd, dfd, rel, st, todo = frame
                if todo is None:
                    todo = frame[4] = self.directory(sfd, dfd, rel)
                    todo.reverse()
                if todo:
                    name, sub_st = todo.pop()
                    sub_sfd = os.open(name, tree.DIR_FLAGS, dir_fd=sfd)
                    try:
                        sub_dfd = os.open(name, tree.DIR_FLAGS, dir_fd=dfd)
                    except OSError:
                        os.close(sub_sfd)
                        raise
                    frames.append([sub_sfd, sub_dfd, rel + name + "/", sub_st, None])
                    continue
                self.finish_dir(sfd, dfd, st)
                frames.pop()
                os.close(sfd)
                os.close(dfd)
        finally:
            for frame in frames:
                os.close(frame[0])
                os.close(frame[1])
        return "sha256:" + self.digest.hexdigest(), self.count


def copy_tree(src, dest, allow_devices=False):
    """Copy the tree src to dest (which must not exist); return (digest, entries) as tree_digest of src.

    Raises NexcageError for a device node in src unless allow_devices, OSError when the copy fails;
    the caller removes dest then.
    """
    umask = os.umask(0)  # files are created with their final mode
    try:
        return _Copier(src, allow_devices).run(dest)
    finally:
        os.umask(umask)
