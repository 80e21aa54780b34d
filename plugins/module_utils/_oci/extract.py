# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Safe tar extraction: rootfs tarballs, templates and OCI image layers. PRIVATE to the collection.

``extract_tar`` applies one tar archive (a rootfs tarball, or one image layer)
onto a root directory without ever leaving it:

* member names that are absolute or contain ``..`` are refused;
* nothing is written through an absolute symlink (on the host such a link
  points outside the rootfs), and relative symlinks or hard links whose target
  climbs out of the rootfs are refused;
* character and block device nodes are refused unless allow_devices is set;
* an existing entry is unlinked before it is replaced, never opened.

Absolute symlink *targets* themselves are kept: inside the container they
resolve against its own root (``/bin/sh -> /bin/busybox`` is normal).

With ``whiteouts=True`` (image layers) ``.wh.<name>`` removes ``<name>`` from
the lower layers and ``.wh..wh..opq`` hides everything the lower layers put in
that directory, as ``umoci unpack`` does.
"""

from __future__ import annotations

import lzma
import os
import shutil
import stat
import tarfile
import zlib


class ExtractError(Exception):
    """A tar member that may not be extracted (hostile or unsupported)."""


# ---------------------------------------------------------------------------
# Compression
# ---------------------------------------------------------------------------

MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
)


def compression_of(path):
    with open(path, "rb") as fh:
        head = fh.read(6)
    for magic, name in MAGIC:
        if head.startswith(magic):
            return name
    return None


def _zstd_module():
    try:
        from compression import zstd  # Python >= 3.14

        return ("stdlib", zstd)
    except ImportError:
        pass
    try:
        import zstandard

        return ("zstandard", zstandard)
    except ImportError:
        return None


class _TarSource:
    """An uncompressed tar stream for path, plus cleanup."""

    def __init__(self, path, runner, scratch_dir):
        self.path = path
        self._cleanup = []
        kind = compression_of(path)
        if kind == "zstd":
            mod = _zstd_module()
            if mod and mod[0] == "stdlib":
                self.fileobj = mod[1].open(path, "rb")
            elif mod:
                raw = open(path, "rb")  # noqa: SIM115 - closed in close()
                self._cleanup.append(raw.close)
                self.fileobj = mod[1].ZstdDecompressor().stream_reader(raw)
            else:
                out = os.path.join(scratch_dir, ".nexcage-unzstd-%d.tar" % os.getpid())
                runner.run(["zstd", "-d", "-q", "-f", "-o", out, path])
                self._cleanup.append(lambda: os.path.exists(out) and os.unlink(out))
                self.fileobj = open(out, "rb")  # noqa: SIM115 - closed in close()
            self.mode = "r|"
        else:
            self.fileobj = open(path, "rb")  # noqa: SIM115 - closed in close()
            self.mode = "r|*"

    def open(self):
        return tarfile.open(fileobj=self.fileobj, mode=self.mode)

    def close(self):
        try:
            self.fileobj.close()
        finally:
            for fn in reversed(self._cleanup):
                fn()


# ---------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------


def _member_parts(name, what="member"):
    if name.startswith("/"):
        raise ExtractError("%s %r has an absolute path; refusing to extract it" % (what, name))
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ExtractError("%s %r contains '..' (path traversal); refusing to extract it" % (what, name))
    return parts


def _secure_dir(root, parts, member, create=True):
    """Host path of the directory root/parts, following only symlinks that stay
    inside root (relative ones); creates missing directories when create."""
    todo = list(parts)
    done = []
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if not done:
                raise ExtractError("member %r: a symlink on its path leads out of the rootfs" % member)
            done.pop()
            continue
        cand = os.path.join(root, *done, part)
        if os.path.islink(cand):
            target = os.readlink(cand)
            link = "/".join(done + [part])
            if target.startswith("/"):
                raise ExtractError(
                    "member %r would be written through the absolute symlink %s -> %s, which points "
                    "outside the rootfs on the host; refusing to extract it" % (member, link, target)
                )
            hops += 1
            if hops > 40:
                raise ExtractError("member %r: too many levels of symbolic links" % member)
            todo = [p for p in target.split("/") if p not in ("", ".")] + todo
            continue
        if not os.path.lexists(cand):
            if not create:
                return None
            os.mkdir(cand, 0o755)
        elif not os.path.isdir(cand):
            raise ExtractError("member %r: %s is not a directory" % (member, "/".join(done + [part])))
        done.append(part)
    return os.path.join(root, *done)


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _check_link_target(parts, target, member):
    """A relative symlink target must stay inside the rootfs (lexically)."""
    if target.startswith("/"):
        return
    depth = len(parts) - 1
    for comp in target.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            depth -= 1
            if depth < 0:
                raise ExtractError(
                    "symlink %r -> %r points outside the rootfs; refusing to extract it" % (member, target)
                )
        else:
            depth += 1


class _Extractor:
    def __init__(self, root, allow_devices=False, whiteouts=False):
        self.root = root
        self.allow_devices = allow_devices
        self.whiteouts = whiteouts
        self.is_root = os.geteuid() == 0
        self.dirs = []
        self.layer_paths = set()
        self.count = 0
        # Parent directories already resolved by _secure_dir in this extraction: (parts) -> host path.
        # Only this extraction writes to root (a private scratch directory), and every removal clears
        # it, so a cached directory is still the real directory it was checked to be.
        self.safe_dirs = {}

    def _parent(self, parts, member):
        key = tuple(parts)
        found = self.safe_dirs.get(key)
        if found is None:
            found = _secure_dir(self.root, parts, member)
            self.safe_dirs[key] = found
        return found

    def _remove(self, path):
        if os.path.lexists(path):
            _remove(path)
            self.safe_dirs.clear()

    def run(self, tar):
        for member in tar:
            self.member(tar, member)
        for host, member in reversed(self.dirs):
            self._attrs(host, member, is_dir=True)

    def member(self, tar, m):
        parts = _member_parts(m.name)
        if not parts:
            if m.isdir():
                self.dirs.append((self.root, m))
            return
        base = parts[-1]
        if self.whiteouts and base.startswith(".wh."):
            self._whiteout(parts, m)
            return
        if (m.ischr() or m.isblk()) and not self.allow_devices:
            raise ExtractError(
                "member %r is a device node (%s %d:%d); refusing it (set allow_devices: true to permit)"
                % (m.name, "char" if m.ischr() else "block", m.devmajor, m.devminor)
            )
        parent = self._parent(parts[:-1], m.name)
        target = os.path.join(parent, base)
        self.layer_paths.add("/".join(parts))
        self.count += 1
        if m.isdir():
            if os.path.lexists(target) and not (os.path.isdir(target) and not os.path.islink(target)):
                os.unlink(target)
                self.safe_dirs.clear()
            if not os.path.exists(target):
                os.mkdir(target, 0o700)
            self.dirs.append((target, m))
            return
        if m.issym():
            _check_link_target(parts, m.linkname, m.name)
            self._remove(target)
            os.symlink(m.linkname, target)
            self._attrs(target, m, is_link=True)
            return
        if m.islnk():
            lparts = _member_parts(m.linkname, what="hard link target of %r:" % m.name)
            if not lparts:
                raise ExtractError("hard link %r has an empty target" % m.name)
            lparent = _secure_dir(self.root, lparts[:-1], m.name, create=False)
            source = os.path.join(lparent, lparts[-1]) if lparent else None
            if source is None or not os.path.lexists(source):
                raise ExtractError("hard link %r -> %r: target not found in the rootfs" % (m.name, m.linkname))
            if os.path.isdir(source) and not os.path.islink(source):
                raise ExtractError("hard link %r -> %r: target is a directory" % (m.name, m.linkname))
            self._remove(target)
            os.link(source, target, follow_symlinks=False)
            return
        self._remove(target)
        if m.isreg():
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                src = tar.extractfile(m)
                if src is not None:
                    shutil.copyfileobj(src, out, 1024 * 1024)
        elif m.ischr() or m.isblk():
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
            os.mknod(target, kind | 0o600, os.makedev(m.devmajor, m.devminor))
        elif m.isfifo():
            os.mkfifo(target, 0o600)
        else:
            raise ExtractError("member %r has an unsupported type %r" % (m.name, m.type))
        self._attrs(target, m)

    def _attrs(self, path, m, is_dir=False, is_link=False):
        if self.is_root:
            try:
                os.chown(path, m.uid, m.gid, follow_symlinks=False)
            except OSError:
                pass
        if not is_link:
            os.chmod(path, m.mode & 0o7777)
        for key, value in (m.pax_headers or {}).items():
            if key.startswith("SCHILY.xattr."):
                try:
                    os.setxattr(path, key[13:], value.encode("utf-8", "surrogateescape"), follow_symlinks=not is_link)
                except OSError:
                    pass
        try:
            os.utime(path, (m.mtime, m.mtime), follow_symlinks=False)
        except (OSError, NotImplementedError):
            pass

    def _whiteout(self, parts, m):
        parent = _secure_dir(self.root, parts[:-1], m.name, create=False)
        if parent is None:
            return
        base = parts[-1]
        if base == ".wh..wh..opq":
            self._opaque(parent, "/".join(parts[:-1]))
            return
        name = base[4:]
        if name in ("", ".", ".."):
            raise ExtractError("whiteout %r names %r; refusing it" % (m.name, name))
        self._remove(os.path.join(parent, name))

    def _opaque(self, host_dir, rel):
        for entry in os.listdir(host_dir):
            child_rel = (rel + "/" + entry) if rel else entry
            child = os.path.join(host_dir, entry)
            if child_rel in self.layer_paths:
                if os.path.isdir(child) and not os.path.islink(child):
                    self._opaque(child, child_rel)
                continue
            self._remove(child)


def extract_tar(path, root, runner, scratch_dir, allow_devices=False, whiteouts=False):
    """Apply the tar archive at path (any supported compression) onto root.

    Returns the number of entries written. Raises ExtractError for hostile
    members; the caller discards root then.
    """
    source = _TarSource(path, runner, scratch_dir)
    try:
        ex = _Extractor(root, allow_devices=allow_devices, whiteouts=whiteouts)
        try:
            with source.open() as tar:
                ex.run(tar)
        except (tarfile.TarError, EOFError, lzma.LZMAError, zlib.error) as exc:
            raise ExtractError("%s is not a readable tar archive: %s" % (path, exc)) from exc
        except OSError as exc:
            raise ExtractError("%s: %s" % (path, exc)) from exc
        return ex.count
    finally:
        source.close()


def extract_layers(layers, root, runner, scratch_dir, allow_devices=False):
    """Apply image layers (blob paths, bottom first) onto root with whiteouts."""
    total = 0
    for path in layers:
        total += extract_tar(path, root, runner, scratch_dir, allow_devices=allow_devices, whiteouts=True)
    return total
