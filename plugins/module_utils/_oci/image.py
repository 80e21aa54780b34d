# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Safe tar extraction and OCI image-layout unpacking. PRIVATE to the collection.

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
that directory, as ``umoci unpack`` does. ``read_image_layout`` picks a
manifest from an OCI image layout (``oci-layout``, ``index.json``, ``blobs/``)
and ``image_runtime_overlay`` turns the image config into config.json values
(image-spec conversion.md).
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import platform
import re
import shutil
import stat
import tarfile
import zlib

from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.checks import (
    ALLOWED_OCI_ANNOTATIONS,
    resolve_in_root,
)


class ExtractError(Exception):
    """A tar member that may not be extracted (hostile or unsupported)."""


class ImageError(Exception):
    """The OCI image layout is unusable."""


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


# ---------------------------------------------------------------------------
# OCI image layout
# ---------------------------------------------------------------------------

_DIGEST = re.compile(r"^(sha256):([a-f0-9]{64})$|^(sha512):([a-f0-9]{128})$")
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json")
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x"}


def blob_path(layout, digest, verify=False):
    match = _DIGEST.match(digest or "") if isinstance(digest, str) else None
    if not match:
        raise ImageError("invalid blob digest %r in the image layout" % (digest,))
    alg, hexd = digest.split(":", 1)
    path = os.path.join(layout, "blobs", alg, hexd)
    if not os.path.isfile(path):
        raise ImageError("blob %s is missing from %s" % (digest, layout))
    if verify:
        h = hashlib.new(alg)
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1024 * 1024), b""):
                h.update(chunk)
        if h.hexdigest() != hexd:
            raise ImageError("blob %s in %s does not match its digest" % (digest, layout))
    return path


def _load_json_blob(layout, digest):
    with open(blob_path(layout, digest, verify=True), "rb") as fh:
        try:
            return json.loads(fh.read().decode("utf-8"))
        except ValueError as exc:
            raise ImageError("blob %s is not valid JSON: %s" % (digest, exc)) from exc


def _pick(manifests, ref, arch):
    if ref:
        found = [
            m
            for m in manifests
            if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name") == ref
            or (m.get("annotations") or {}).get("io.containerd.image.name", "").endswith(":" + ref)
            or (m.get("annotations") or {}).get("io.containerd.image.name") == ref
        ]
        if not found:
            names = sorted(
                {
                    (m.get("annotations") or {}).get("org.opencontainers.image.ref.name", "")
                    for m in manifests
                    if (m.get("annotations") or {}).get("org.opencontainers.image.ref.name")
                }
            )
            raise ImageError("no manifest named %r in the image layout (names: %s)" % (ref, ", ".join(names) or "none"))
        manifests = found
    if len(manifests) > 1:
        wanted = arch or _ARCH.get(platform.machine(), platform.machine())
        same = [
            m
            for m in manifests
            if (m.get("platform") or {}).get("architecture") == wanted
            and (m.get("platform") or {}).get("os", "linux") == "linux"
        ]
        if same:
            manifests = same
    if not manifests:
        raise ImageError("the image layout's index lists no manifest")
    return manifests[0]


def read_image_layout(layout, ref=None, arch=None):
    """Return dict(manifest_digest, manifest, config (image config JSON), layers (blob paths, bottom first))."""
    try:
        with open(os.path.join(layout, "oci-layout"), encoding="utf-8") as fh:
            marker = json.load(fh)
        with open(os.path.join(layout, "index.json"), encoding="utf-8") as fh:
            index = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ImageError("%s is not a readable OCI image layout: %s" % (layout, exc)) from exc
    if not isinstance(marker, dict) or "imageLayoutVersion" not in marker:
        raise ImageError("%s/oci-layout has no imageLayoutVersion" % layout)
    desc = _pick(index.get("manifests") or [], ref, arch)
    for _depth in range(4):
        if desc.get("mediaType") in INDEX_TYPES:
            nested = _load_json_blob(layout, desc.get("digest"))
            desc = _pick(nested.get("manifests") or [], None, arch)
            continue
        break
    manifest = _load_json_blob(layout, desc.get("digest"))
    if manifest.get("mediaType") not in (None,) + MANIFEST_TYPES:
        raise ImageError("unsupported manifest media type %r" % manifest.get("mediaType"))
    config_desc = manifest.get("config") or {}
    config = _load_json_blob(layout, config_desc.get("digest"))
    if config.get("os") not in (None, "linux"):
        raise ImageError("the image is for os %r; only linux images can be unpacked" % config.get("os"))
    layers = []
    for layer in manifest.get("layers") or []:
        mtype = layer.get("mediaType") or ""
        if "tar" not in mtype:
            raise ImageError("layer %s has unsupported media type %r" % (layer.get("digest"), mtype))
        layers.append(blob_path(layout, layer.get("digest")))
    return {"manifest_digest": desc["digest"], "manifest": manifest, "config": config, "layers": layers}


# ---------------------------------------------------------------------------
# Image config -> runtime config (image-spec conversion.md)
# ---------------------------------------------------------------------------


def _read_db(rootfs, name):
    """Entries of /etc/passwd or /etc/group in the rootfs (split on ':')."""
    if rootfs is None:
        return None
    try:
        with open(resolve_in_root(rootfs, "/etc/" + name), encoding="utf-8", errors="replace") as fh:
            return [line.rstrip("\n").split(":") for line in fh if line.strip() and not line.startswith("#")]
    except OSError:
        return []


def resolve_user(spec, rootfs):
    """Image config User ("user", "uid", "user:group", "uid:gid") -> (uid, gid, additional_gids, home).

    Raises ImageError when a name cannot be resolved (the converter MUST error).
    """
    spec = (spec or "").strip()
    if not spec:
        spec = "0"
    user, _sep, group = spec.partition(":")
    passwd = _read_db(rootfs, "passwd") or []
    groups = _read_db(rootfs, "group") or []
    entry = None
    if user.isdigit():
        uid = int(user)
        entry = next((e for e in passwd if len(e) >= 4 and e[2] == user), None)
    else:
        entry = next((e for e in passwd if e and e[0] == user and len(e) >= 4), None)
        if entry is None:
            raise ImageError("image user %r not found in the rootfs /etc/passwd" % user)
        uid = int(entry[2])
    gid = int(entry[3]) if entry and entry[3].isdigit() else 0
    home = entry[5] if entry and len(entry) >= 6 and entry[5] else None
    extra = []
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            gentry = next((g for g in groups if g and g[0] == group and len(g) >= 3), None)
            if gentry is None:
                raise ImageError("image group %r not found in the rootfs /etc/group" % group)
            gid = int(gentry[2])
    elif entry is not None:
        name = entry[0]
        for g in groups:
            if len(g) >= 4 and name in g[3].split(",") and g[2].isdigit() and int(g[2]) != gid:
                extra.append(int(g[2]))
    return uid, gid, sorted(set(extra)), home


def image_runtime_overlay(image_config, rootfs):
    """Runtime config values seeded from an OCI image config.

    Returns (overlay, dropped): overlay has the optional keys args, env (list),
    cwd, user (dict) and annotations (dict); dropped lists image labels in the
    reserved org.opencontainers namespace that runtime-spec forbids as
    annotations. rootfs (may be None) is used to resolve user names.
    """
    cfg = image_config.get("config") or {}
    out = {}
    entrypoint = cfg.get("Entrypoint") or []
    cmd = cfg.get("Cmd") or []
    if entrypoint or cmd:
        out["args"] = list(entrypoint) + list(cmd)
    if cfg.get("Env"):
        out["env"] = list(cfg["Env"])
    if cfg.get("WorkingDir"):
        out["cwd"] = cfg["WorkingDir"]
    if cfg.get("User") is not None or rootfs is not None:
        uid, gid, extra, home = resolve_user(cfg.get("User"), rootfs)
        user = {"uid": uid, "gid": gid}
        if extra:
            user["additionalGids"] = extra
        out["user"] = user
        if home and not any(e.startswith("HOME=") for e in out.get("env", [])):
            out.setdefault("env", []).append("HOME=" + home)
    annotations = {}
    for key, name in (
        ("os", "os"),
        ("architecture", "architecture"),
        ("variant", "variant"),
        ("os.version", "os.version"),
        ("author", "author"),
        ("created", "created"),
    ):
        if image_config.get(key):
            annotations["org.opencontainers.image." + name] = str(image_config[key])
    if image_config.get("os.features"):
        annotations["org.opencontainers.image.os.features"] = ",".join(image_config["os.features"])
    if cfg.get("StopSignal"):
        annotations["org.opencontainers.image.stopSignal"] = cfg["StopSignal"]
    dropped = []
    for key, value in (cfg.get("Labels") or {}).items():
        if key.startswith("org.opencontainers") and key not in ALLOWED_OCI_ANNOTATIONS:
            # runtime-spec reserves this namespace for a fixed list of keys
            dropped.append(key)
            continue
        annotations[key] = str(value)
    if annotations:
        out["annotations"] = annotations
    return out, dropped
