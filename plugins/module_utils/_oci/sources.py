# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where a bundle is and where its rootfs comes from. PRIVATE to the collection.

* ``check_bundle_path(path, roots)``: the bundle must lie strictly below one of ``bundle_roots``.
* ``template_path(volid)`` / ``template_cache_dir(storage)``: a ``<storage>:vztmpl/<file>`` volume on
  the host, from storage.cfg (no pvesm).
* ``detect_source(source, source_type)``: ``(kind, host path)`` of the ``source`` option: a
  directory, a tarball, a template volume or an OCI image layout.
* ``file_sha256(path, cached)``: the SHA-256 of a tarball or template, reused while its stat is unchanged.
"""

from __future__ import annotations

import hashlib
import os
import re

from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import (
    INVALID_ARGUMENT,
    NOT_FOUND,
    PERMISSION_DENIED,
    UNSUPPORTED,
    NexcageError,
)


def real_path(path):
    return os.path.realpath(os.path.abspath(path))


def check_bundle_path(path, roots):
    """The bundle path must be absolute and strictly below one of roots (after
    resolving symlinks in the part that exists). Returns (path, root)."""
    if not path or not os.path.isabs(path):
        raise NexcageError(INVALID_ARGUMENT, "path must be an absolute directory path, got %r" % (path,))
    norm = os.path.normpath(path)
    real = real_path(norm)
    for root in roots or ():
        if not os.path.isabs(root):
            raise NexcageError(INVALID_ARGUMENT, "bundle_roots entries must be absolute, got %r" % (root,))
        rroot = real_path(root)
        if real != rroot and real.startswith(rroot.rstrip("/") + "/"):
            return norm, root
    raise NexcageError(
        PERMISSION_DENIED,
        "bundle path %s is not inside any of bundle_roots (%s)" % (path, ", ".join(roots or ())),
        hint="Put the bundle below one of bundle_roots, or add its parent directory to bundle_roots.",
    )


_VOLID = re.compile(r"^([A-Za-z][A-Za-z0-9\-_.]*):vztmpl/([^/]+)$")


def is_template_volid(value):
    return bool(_VOLID.match(value or ""))


def template_cache_dir(storage, what):
    """The ``template/cache`` directory of a storage that can hold container templates (from storage.cfg).

    what names the storage's role in messages (``storage 'x' of template local:vztmpl/y``,
    ``template_storage 'x'``).
    """
    from ansible_collections.cageforge.nexcage.plugins.module_utils._node import entries, paths, storagecfg

    storage_cfg = paths.STORAGE_CFG
    storages = storagecfg.read_storage_cfg()
    if not storages and storage == "local" and not entries.exists(storage_cfg):
        storages = {"local": {"type": "dir", "path": "/var/lib/vz"}}
    conf = storages.get(storage)
    if conf is None:
        raise NexcageError(
            NOT_FOUND,
            "%s is not defined in %s (storages: %s)" % (what, storage_cfg, ", ".join(sorted(storages)) or "none"),
            hint="Use a storage that exists and has content type vztmpl.",
        )
    if not conf.get("path"):
        raise NexcageError(
            UNSUPPORTED,
            "%s (type %s) has no path, so it cannot hold templates" % (what, conf.get("type")),
            hint="Use a directory-based storage (dir, nfs, cifs, cephfs) with content type vztmpl.",
        )
    content = conf.get("content") or []
    if content and "vztmpl" not in content:
        raise NexcageError(
            UNSUPPORTED,
            "%s does not have content type vztmpl (content: %s)" % (what, ",".join(content)),
            hint="Enable vztmpl on the storage (pvesm set %s --content %s,vztmpl) or use another storage."
            % (storage, ",".join(content)),
        )
    if conf.get("disable"):
        raise NexcageError(UNSUPPORTED, "%s is disabled" % what, hint="Enable it, or use another storage.")
    return paths.template_cache(conf["path"])


def template_path(volid):
    """Host path of a `<storage>:vztmpl/<file>` volume, from storage.cfg (no pvesm)."""
    match = _VOLID.match(volid)
    if not match:
        raise NexcageError(INVALID_ARGUMENT, "%r is not a template volume (<storage>:vztmpl/<file>)" % volid)
    storage, filename = match.groups()
    path = os.path.join(template_cache_dir(storage, "storage %r of template %s" % (storage, volid)), filename)
    if not os.path.isfile(path):
        raise NexcageError(NOT_FOUND, "template %s not found: %s does not exist" % (volid, path))
    return path


def is_image_layout(path):
    """An OCI image layout directory: its ``oci-layout`` marker and ``index.json``."""
    return os.path.isfile(os.path.join(path, "oci-layout")) and os.path.isfile(os.path.join(path, "index.json"))


def detect_source(source, source_type="auto"):
    """(kind, host_path) for the source option."""
    kind = source_type
    if kind == "auto":
        if is_template_volid(source):
            kind = "template"
        elif os.path.isdir(source):
            kind = "oci_layout" if is_image_layout(source) else "directory"
        elif os.path.isfile(source):
            kind = "tarball"
        else:
            raise NexcageError(NOT_FOUND, "source %s does not exist" % source)
    if kind == "template":
        return kind, template_path(source)
    if not os.path.isabs(source):
        raise NexcageError(INVALID_ARGUMENT, "source must be an absolute path or a template volume, got %r" % source)
    if kind in ("directory", "oci_layout") and not os.path.isdir(source):
        raise NexcageError(NOT_FOUND, "source directory %s does not exist" % source)
    if kind == "oci_layout" and not is_image_layout(source):
        raise NexcageError(INVALID_ARGUMENT, "%s is not an OCI image layout (oci-layout and index.json)" % source)
    if kind == "tarball" and not os.path.isfile(source):
        raise NexcageError(NOT_FOUND, "source tarball %s does not exist" % source)
    return kind, source


def file_sha256(path, cached=None):
    """{'path', 'size', 'mtime_ns', 'ctime_ns', 'ino', 'sha256'} of a file.

    cached is the record of an earlier run: its sha256 is reused while the file keeps its path,
    size, inode number, modification and change time (any write or replacement changes the change
    time, which cannot be set back); without cached the file is read.
    """
    st = os.stat(path)
    record = {"path": path, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns}
    record["ino"] = st.st_ino
    if cached and cached.get("sha256") and all(cached.get(key) == value for key, value in record.items()):
        return dict(cached)
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            h.update(chunk)
    record["sha256"] = "sha256:" + h.hexdigest()
    return record
