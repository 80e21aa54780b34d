# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OCI image layouts: the manifest, the image config and its runtime values. PRIVATE to the collection.

``read_image_layout`` picks a manifest from an OCI image layout (``oci-layout``,
``index.json``, ``blobs/``) and ``image_runtime_overlay`` turns the image config
into config.json values (image-spec conversion.md). The layers are unpacked by
``extract``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re

from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.config import ALLOWED_OCI_ANNOTATIONS
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.tree import resolve_in_root


class ImageError(Exception):
    """The OCI image layout is unusable."""


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


def read_image_layout(layout, ref=None, arch=None, verify_layers=False):
    """Return dict(manifest_digest, manifest, config (image config JSON), layers).

    layers: {path, digest} of each layer blob, bottom first. The index, manifest and config blobs
    are checked against their digests; the layer blobs too with verify_layers (else extraction
    checks each layer as it reads it).
    """
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
        layers.append({"path": blob_path(layout, layer.get("digest"), verify=verify_layers), "digest": layer["digest"]})
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
