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

import bz2
import fcntl
import hashlib
import lzma
import os
import shutil
import stat
import tarfile
import threading
import zlib


class ExtractError(Exception):
    """A tar member that may not be extracted (hostile or unsupported)."""


# ---------------------------------------------------------------------------
# The tar stream: decompressed beside the extraction, its digest checked
# ---------------------------------------------------------------------------

MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
)
CHUNK = 1 << 20
RAW_CHUNK = 2 << 20  # compressed bytes read at once by the decompressing thread
PUMP_CHUNK = 8 << 20  # uncompressed bytes it writes into the pipe at once


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


class _Hashed:
    """The raw archive file, read through a digest of everything read (when a digest is expected)."""

    def __init__(self, path, digest):
        self.file = open(path, "rb")  # noqa: SIM115 - closed in close()
        self.expected = digest
        self.hash = hashlib.new(digest.split(":", 1)[0]) if digest else None

    def read(self, size=-1):
        data = self.file.read(size)
        if self.hash is not None:
            self.hash.update(data)
        return data

    def finish(self):
        """Whether the whole file matches the expected digest (read to its end first)."""
        if self.hash is None:
            return True
        for chunk in iter(lambda: self.file.read(CHUNK), b""):
            self.hash.update(chunk)
        return "%s:%s" % (self.hash.name, self.hash.hexdigest()) == self.expected

    def close(self):
        self.file.close()


class _Gunzip:
    """A gzip file inflated in large pieces, for the decompressing thread.

    Each read is a few calls that let go of the interpreter lock (read, digest, inflate), where
    GzipFile makes many small ones that the extracting thread must hand the lock over for.
    Members follow one another as with ``gzip -d``; zeros and other bytes after the last member
    are ignored (a layer's digest still covers them). No CRC check, as tarfile's own gzip stream.
    """

    def __init__(self, raw):
        self.raw = raw
        self.inflate = zlib.decompressobj(31)
        self.pending = b""
        self.done = False

    def read(self, size):
        while not self.done:
            data = self.pending or self.raw.read(RAW_CHUNK)
            self.pending = b""
            if not data:
                if not self.inflate.eof:
                    raise EOFError("compressed file ended before the end-of-stream marker was reached")
                return b""
            if self.inflate.eof:  # after a member: another one, or the end
                data = data.lstrip(b"\0")
                if len(data) < 2:
                    data += self.raw.read(RAW_CHUNK)
                if not data:
                    continue
                if not data.startswith(b"\x1f\x8b"):
                    self.done = True
                    break
                self.inflate = zlib.decompressobj(31)
            out = self.inflate.decompress(data, size)
            self.pending = self.inflate.unused_data if self.inflate.eof else self.inflate.unconsumed_tail
            if out:
                return out
        return b""


class _Forward:
    """The pipe as tarfile's random-access mode reads it.

    Reading an archive member by member, tarfile only ever seeks forward (over padding and data not
    read), so read, tell and a forward seek are all it needs; its stream mode would add a buffer
    copy per 10 KiB read.
    """

    def __init__(self, fileobj):
        self.file = fileobj
        self.pos = 0

    def read(self, size=-1):
        data = self.file.read(size)
        self.pos += len(data)
        return data

    def tell(self):
        return self.pos

    def seek(self, pos, whence=os.SEEK_SET):
        if whence != os.SEEK_SET or pos < self.pos:
            raise OSError("the tar stream can only be read forward")
        while self.pos < pos and self.read(min(pos - self.pos, CHUNK)):
            pass
        return self.pos


class _TarStream:
    """The uncompressed tar stream of an archive, as a pipe that a thread fills.

    The thread reads the archive (hashing it when a digest is expected), decompresses it and
    writes the tar stream into the pipe while the extraction reads from the other end: both run at
    once, as ``tar xzf`` runs gzip beside tar. zlib, lzma, bz2, hashlib and the pipe's writes let
    go of the interpreter lock while they work, and gzip (layers, most tarballs) is read in large
    pieces so that the lock changes hands seldom. Without a Python zstd module a .zst archive is
    first decompressed to scratch_dir by the zstd command.
    """

    def __init__(self, path, runner, scratch_dir, digest=None):
        self.path = path
        self.error = None
        self.stopped = False
        self.digest_ok = None
        self._cleanup = []
        self.raw = _Hashed(path, digest)
        self._cleanup.append(self.raw.close)
        kind = compression_of(path)
        if kind == "gzip":
            self.source = _Gunzip(self.raw)
        elif kind == "xz":
            self.source = lzma.LZMAFile(self.raw)
        elif kind == "bzip2":
            self.source = bz2.BZ2File(self.raw)
        elif kind == "zstd":
            self.source = self._zstd(path, runner, scratch_dir)
        else:
            self.source = self.raw
        read_fd, self._write_fd = os.pipe()
        self.fileobj = os.fdopen(read_fd, "rb", buffering=CHUNK)
        try:
            fcntl.fcntl(self._write_fd, fcntl.F_SETPIPE_SZ, CHUNK)
        except OSError:
            pass  # above the system's pipe size limit: the default size works too
        self._thread = threading.Thread(target=self._pump, name="nexcage-untar", daemon=True)
        self._thread.start()

    def _zstd(self, path, runner, scratch_dir):
        mod = _zstd_module()
        if mod and mod[0] == "stdlib":
            return mod[1].ZstdFile(self.raw)
        if mod:
            return mod[1].ZstdDecompressor().stream_reader(self.raw)
        out = os.path.join(scratch_dir, ".nexcage-unzstd-%d.tar" % os.getpid())
        runner.run(["zstd", "-d", "-q", "-f", "-o", out, path])
        self._cleanup.append(lambda: os.path.exists(out) and os.unlink(out))
        plain = open(out, "rb")  # noqa: SIM115 - closed in close()
        self._cleanup.append(plain.close)
        return plain

    def _pump(self):
        try:
            while not self.stopped:
                data = self.source.read(PUMP_CHUNK)
                if not data:
                    break
                view = memoryview(data)
                while view:
                    view = view[os.write(self._write_fd, view) :]
        except BrokenPipeError:
            pass  # the tar stream ended before the archive did (padding after the end marker)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            self.error = exc  # re-raised by close() in the extracting thread
        finally:
            os.close(self._write_fd)
        if not self.stopped and self.error is None:
            try:
                self.digest_ok = self.raw.finish()
            except OSError as exc:
                self.error = exc

    def open(self):
        return tarfile.open(fileobj=_Forward(self.fileobj), mode="r:")

    def close(self, completed):
        """Stop the thread; raise what it met. completed: the whole tar stream was extracted."""
        self.stopped = not completed
        self.fileobj.close()  # a thread blocked on a full pipe gets EPIPE
        self._thread.join()
        try:
            for fn in reversed(self._cleanup):
                fn()
        finally:
            if self.error is not None:
                raise ExtractError("%s is not a readable tar archive: %s" % (self.path, self.error))
        if completed and self.digest_ok is False:
            raise ExtractError("%s does not match its digest %s" % (self.path, self.raw.expected))


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


def _secure_dir(root, parts, member, create=True, done=()):
    """(host path, resolved components) of the directory root/parts, following only symlinks that
    stay inside root (relative ones); creates missing directories when create, else returns None for
    a missing one. done: the resolved components of a directory parts starts from (already checked)."""
    todo = list(parts)
    done = list(done)
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
    return os.path.join(root, *done), done


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


_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_SETID = stat.S_ISUID | stat.S_ISGID


class _Extractor:
    def __init__(self, root, allow_devices=False, whiteouts=False):
        self.root = root
        self.allow_devices = allow_devices
        self.whiteouts = whiteouts
        self.is_root = os.geteuid() == 0
        self.dirs = []
        self.layer_paths = set()
        self.count = 0
        # Directories resolved in this extraction: (member path parts) -> (host path, resolved parts),
        # from _secure_dir or made here as directory members. Only this extraction writes to root (a
        # private scratch directory), and every removal clears it, so a cached directory is still the
        # real directory it was checked to be.
        self.safe_dirs = {(): (root, [])}

    def _parent(self, parts, member):
        """(host path, resolved parts) of the directory parts, resolved from its cached parent if any."""
        key = tuple(parts)
        found = self.safe_dirs.get(key)
        if found is None:
            above = self.safe_dirs.get(key[:-1])
            if above is None:
                found = _secure_dir(self.root, parts, member)
            else:
                found = _secure_dir(self.root, key[-1:], member, done=above[1])
            self.safe_dirs[key] = found
        return found

    def _remove(self, path):
        if os.path.lexists(path):
            _remove(path)
            self.safe_dirs.clear()
            self.safe_dirs[()] = (self.root, [])

    def run(self, tar):
        for member in tar:
            self.member(tar, member)
        for host, member in reversed(self.dirs):
            self._attrs(host, member)

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
        parent, resolved = self._parent(parts[:-1], m.name)
        target = parent + "/" + base
        if self.whiteouts:
            self.layer_paths.add("/".join(parts))
        self.count += 1
        # Each kind is first created as if the name were free (O_EXCL, mkdir, symlink fail if it is
        # not); only then is the entry in the way looked at and removed.
        if m.isreg():
            self._file(tar, m, target)
        elif m.isdir():
            try:
                os.mkdir(target, 0o700)
            except FileExistsError:
                if not stat.S_ISDIR(os.lstat(target).st_mode):
                    self._remove(target)
                    os.mkdir(target, 0o700)
            self.dirs.append((target, m))
            self.safe_dirs[tuple(parts)] = (target, resolved + [base])
        elif m.issym():
            _check_link_target(parts, m.linkname, m.name)
            try:
                os.symlink(m.linkname, target)
            except FileExistsError:
                self._remove(target)
                os.symlink(m.linkname, target)
            self._attrs(target, m, is_link=True)
        elif m.islnk():
            self._hard_link(m, target)
        else:
            self._remove(target)
            if m.ischr() or m.isblk():
                kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
                os.mknod(target, kind | 0o600, os.makedev(m.devmajor, m.devminor))
            elif m.isfifo():
                os.mkfifo(target, 0o600)
            else:
                raise ExtractError("member %r has an unsupported type %r" % (m.name, m.type))
            self._attrs(target, m)

    def _file(self, tar, m, target):
        mode = m.mode & 0o7777
        try:
            fd = os.open(target, _CREATE_FLAGS, mode)
        except FileExistsError:
            self._remove(target)
            fd = os.open(target, _CREATE_FLAGS, mode)
        try:
            # A plain member's data follows its header: read it as extractfile() does, without the
            # file object extractfile() makes for each member.
            read = tar.fileobj.read if m.sparse is None else tar.extractfile(m).read
            left = m.size
            while left:
                data = read(min(left, CHUNK))
                if not data:
                    raise tarfile.ReadError("unexpected end of data in %r" % m.name)
                left -= len(data)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            if self.is_root:
                try:
                    os.fchown(fd, m.uid, m.gid)
                except OSError:
                    pass
                if mode & _SETID:  # chown cleared them
                    os.fchmod(fd, mode)
            self._xattrs(fd, m, follow=True)
            os.utime(fd, (m.mtime, m.mtime))
        finally:
            os.close(fd)

    def _hard_link(self, m, target):
        lparts = _member_parts(m.linkname, what="hard link target of %r:" % m.name)
        if not lparts:
            raise ExtractError("hard link %r has an empty target" % m.name)
        lparent = _secure_dir(self.root, lparts[:-1], m.name, create=False)
        source = os.path.join(lparent[0], lparts[-1]) if lparent else None
        if source is None or not os.path.lexists(source):
            raise ExtractError("hard link %r -> %r: target not found in the rootfs" % (m.name, m.linkname))
        if os.path.isdir(source) and not os.path.islink(source):
            raise ExtractError("hard link %r -> %r: target is a directory" % (m.name, m.linkname))
        self._remove(target)
        os.link(source, target, follow_symlinks=False)

    @staticmethod
    def _xattrs(path, m, follow):
        for key, value in (m.pax_headers or {}).items():
            if key.startswith("SCHILY.xattr."):
                try:
                    os.setxattr(path, key[13:], value.encode("utf-8", "surrogateescape"), follow_symlinks=follow)
                except OSError:
                    pass

    def _attrs(self, path, m, is_link=False):
        """Owner, mode, extended attributes and times of an entry made by path (not a regular file)."""
        if self.is_root:
            try:
                os.chown(path, m.uid, m.gid, follow_symlinks=False)
            except OSError:
                pass
        if not is_link:
            os.chmod(path, m.mode & 0o7777)
        self._xattrs(path, m, follow=not is_link)
        try:
            os.utime(path, (m.mtime, m.mtime), follow_symlinks=False)
        except (OSError, NotImplementedError):
            pass

    def _whiteout(self, parts, m):
        found = _secure_dir(self.root, parts[:-1], m.name, create=False)
        if found is None:
            return
        parent = found[0]
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


def extract_tar(path, root, runner, scratch_dir, allow_devices=False, whiteouts=False, digest=None):
    """Apply the tar archive at path (any supported compression) onto root.

    Returns the number of entries written. Raises ExtractError for hostile members, an unreadable
    archive, or one that does not match digest (``sha256:...``, checked over the whole file); the
    caller discards root then.
    """
    stream = _TarStream(path, runner, scratch_dir, digest)
    completed = False
    umask = os.umask(0)  # files are created with their final mode
    try:
        ex = _Extractor(root, allow_devices=allow_devices, whiteouts=whiteouts)
        try:
            with stream.open() as tar:
                ex.run(tar)
        except (tarfile.TarError, EOFError) as exc:
            raise ExtractError("%s is not a readable tar archive: %s" % (path, exc)) from exc
        except OSError as exc:
            raise ExtractError("%s: %s" % (path, exc)) from exc
        completed = True
    finally:
        os.umask(umask)
        stream.close(completed)
    return ex.count


def extract_layers(layers, root, runner, scratch_dir, allow_devices=False):
    """Apply image layers ({path, digest} of each blob, bottom first) onto root with whiteouts; each
    layer must match its digest."""
    total = 0
    for layer in layers:
        total += extract_tar(
            layer["path"],
            root,
            runner,
            scratch_dir,
            allow_devices=allow_devices,
            whiteouts=True,
            digest=layer["digest"],
        )
    return total
