# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OCI runtime bundles: generation, digest, rootfs sources and the Proxmox mapping.
PRIVATE to the collection.

* ``default_config()``: what ``runc spec`` writes (oci-facts §5).
* ``build_config(params, overlay)``: config.json from the module options, on
  top of the defaults and the image config overlay; ``deep_merge`` applies the
  raw ``config`` option last.
* ``BundleManager``: ``present`` / ``absent`` / ``validated`` for one bundle
  path under one of ``bundle_roots``. A digest of the inputs is stored in
  ``.nexcage-digest.json`` beside config.json: an unchanged re-run copies
  nothing, a config-only change rewrites config.json only, and a new rootfs
  is built in a temporary directory beside the target and renamed into place.
* ``inspect_bundle(path)``: config, problems and stored digests of an existing
  bundle, for modules that deploy bundles.
* ``pve_settings(config, bundle_dir)``: maps a validated config.json to
  Proxmox VE container settings (oci-facts §10); returns
  ``(settings, warnings, errors)``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile

from ansible_collections.cageforge.nexcage.plugins.module_utils import _module
from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import (
    INVALID_ARGUMENT,
    NOT_FOUND,
    PERMISSION_DENIED,
    UNKNOWN,
    UNSUPPORTED,
    NexcageError,
)
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import configline, files, paths, readers, sizes
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import checks, secrets
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import image as oci_image
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.defaults import default_config
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import CommandFailed

DIGEST_FILE = ".nexcage-digest.json"
DIGEST_FORMAT = 1
DEFAULT_BUNDLE_ROOTS = ("/var/lib/nexcage/bundles",)
TMP_MARK = ".nexcage-tmp-"
OLD_MARK = ".nexcage-old-"

# ---------------------------------------------------------------------------
# config.json
# ---------------------------------------------------------------------------


def deep_merge(base, overlay):
    """Merge overlay into a copy of base: dicts recursively, anything else replaced;
    a None value in overlay removes the key."""
    result = copy.deepcopy(base)
    for key, value in overlay.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def parse_size(value, option="memory_limit"):
    """'512M', '1G', '1.5GiB', '536870912' (bytes) or -1 (unlimited) -> bytes."""
    if value in (-1, "-1"):
        return -1
    try:
        return sizes.parse_size(value)
    except sizes.SizeError:
        if str(value).strip().startswith("-"):
            raise NexcageError(INVALID_ARGUMENT, "%s: %r: only -1 may be negative" % (option, value)) from None
        raise NexcageError(
            INVALID_ARGUMENT,
            "%s: %r is not a size" % (option, value),
            hint="Give bytes (536870912), a size with a binary unit (512M, 1G, 1.5GiB) or -1 for no limit.",
        ) from None


def _env_name(entry):
    return entry.split("=", 1)[0]


def merge_env(base, overlay):
    """Entries of overlay replace same-named entries of base; new names are appended."""
    out = list(base)
    for entry in overlay:
        name = _env_name(entry)
        for i, old in enumerate(out):
            if _env_name(old) == name:
                out[i] = entry
                break
        else:
            out.append(entry)
    return out


def env_list(value, option="env"):
    """env option: a list of KEY=value strings or a dict -> list of strings."""
    if value is None:
        return None
    if isinstance(value, dict):
        return ["%s=%s" % (k, "" if v is None else v) for k, v in value.items()]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise NexcageError(INVALID_ARGUMENT, "%s must be a list of KEY=value strings or a dict" % option)
    return [str(v) for v in value]


def _cap_name(name):
    name = str(name).strip().upper()
    return name if name.startswith("CAP_") else "CAP_" + name


def _rlimit_name(name):
    name = str(name).strip().upper()
    return name if name.startswith("RLIMIT_") else "RLIMIT_" + name


def _mount_entry(m):
    entry = {"destination": m["destination"]}
    mtype = m.get("type")
    source = m.get("source")
    options = list(m.get("options") or [])
    if mtype is None and source is not None:
        mtype = "bind"
    if mtype == "bind" and not ({"bind", "rbind"} & set(options)):
        options.insert(0, "rbind")
    if mtype is not None:
        entry["type"] = mtype
    if source is not None:
        entry["source"] = source
    if options:
        entry["options"] = options
    return entry


def _replace_or_append(entries, entry, key):
    """Put entry in place of the entry with the same key, or at the end."""
    for index, old in enumerate(entries):
        if old.get(key) == entry[key]:
            entries[index] = entry
            return
    entries.append(entry)


def build_config(params, overlay=None):
    """config.json from the module options (see the module's DOCUMENTATION)."""
    cfg = default_config()
    proc = cfg["process"]
    overlay = overlay or {}
    if overlay.get("args"):
        proc["args"] = list(overlay["args"])
    if overlay.get("env"):
        proc["env"] = merge_env(proc["env"], overlay["env"])
    if overlay.get("cwd"):
        proc["cwd"] = overlay["cwd"]
    if overlay.get("user"):
        proc["user"] = dict(overlay["user"])
    if overlay.get("annotations"):
        cfg["annotations"] = dict(overlay["annotations"])

    if params.get("args") is not None:
        proc["args"] = [str(a) for a in params["args"]]
    env = env_list(params.get("env"))
    if env is not None:
        proc["env"] = merge_env(proc["env"], env)
    if params.get("cwd") is not None:
        proc["cwd"] = params["cwd"]
    user = params.get("user")
    if user:
        if user.get("uid") is not None:
            proc["user"]["uid"] = user["uid"]
        if user.get("gid") is not None:
            proc["user"]["gid"] = user["gid"]
        if user.get("additional_gids") is not None:
            if user["additional_gids"]:
                proc["user"]["additionalGids"] = list(user["additional_gids"])
            else:
                proc["user"].pop("additionalGids", None)
    if params.get("hostname") is not None:
        cfg["hostname"] = params["hostname"]
    if params.get("terminal") is not None:
        proc["terminal"] = params["terminal"]
    if params.get("readonly_rootfs") is not None:
        cfg["root"]["readonly"] = params["readonly_rootfs"]
    for m in params.get("mounts") or []:
        _replace_or_append(cfg["mounts"], _mount_entry(m), "destination")
    if params.get("annotations"):
        cfg.setdefault("annotations", {}).update({str(k): str(v) for k, v in params["annotations"].items()})
    resources = cfg["linux"].setdefault("resources", {})
    if params.get("memory_limit") is not None:
        resources.setdefault("memory", {})["limit"] = parse_size(params["memory_limit"])
    for opt, key in (("cpu_quota", "quota"), ("cpu_period", "period"), ("cpu_shares", "shares")):
        if params.get(opt) is not None:
            resources.setdefault("cpu", {})[key] = params[opt]
    if params.get("capabilities") is not None:
        caps = [_cap_name(c) for c in params["capabilities"]]
        for name in ("bounding", "effective", "permitted"):
            proc["capabilities"][name] = list(caps)
    for rl in params.get("rlimits") or []:
        entry = {"type": _rlimit_name(rl["type"]), "hard": rl["hard"], "soft": rl["soft"]}
        _replace_or_append(proc["rlimits"], entry, "type")
    if params.get("config"):
        cfg = deep_merge(cfg, params["config"])
    return cfg


def config_text(config):
    return json.dumps(config, indent=2) + "\n"


def sha256_text(text):
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(data):
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


# ---------------------------------------------------------------------------
# Paths, storage, sources
# ---------------------------------------------------------------------------


def _real(path):
    return os.path.realpath(os.path.abspath(path))


def check_bundle_path(path, roots):
    """The bundle path must be absolute and strictly below one of roots (after
    resolving symlinks in the part that exists). Returns (path, root)."""
    if not path or not os.path.isabs(path):
        raise NexcageError(INVALID_ARGUMENT, "path must be an absolute directory path, got %r" % (path,))
    norm = os.path.normpath(path)
    real = _real(norm)
    for root in roots or ():
        if not os.path.isabs(root):
            raise NexcageError(INVALID_ARGUMENT, "bundle_roots entries must be absolute, got %r" % (root,))
        rroot = _real(root)
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
    storage_cfg = paths.STORAGE_CFG
    storages = readers.read_storage_cfg()
    if not storages and storage == "local" and not os.path.exists(storage_cfg):
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


TARBALL_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.zst", ".tzst", ".tar.bz2")


def detect_source(source, source_type="auto"):
    """(kind, host_path) for the source option."""
    kind = source_type
    if kind == "auto":
        if is_template_volid(source):
            kind = "template"
        elif os.path.isdir(source):
            kind = "oci_layout" if oci_image.is_image_layout(source) else "directory"
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
    if kind == "oci_layout" and not oci_image.is_image_layout(source):
        raise NexcageError(INVALID_ARGUMENT, "%s is not an OCI image layout (oci-layout and index.json)" % source)
    if kind == "tarball" and not os.path.isfile(source):
        raise NexcageError(NOT_FOUND, "source tarball %s does not exist" % source)
    return kind, source


def file_sha256(path, cached=None):
    """sha256 of a file; cached is an earlier {'path','size','mtime_ns','sha256'} to reuse if unchanged."""
    st = os.stat(path)
    if (
        cached
        and cached.get("path") == path
        and cached.get("size") == st.st_size
        and cached.get("mtime_ns") == st.st_mtime_ns
        and cached.get("sha256")
    ):
        return dict(cached)
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            h.update(chunk)
    return {"path": path, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": "sha256:" + h.hexdigest()}


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


# ---------------------------------------------------------------------------
# The bundle
# ---------------------------------------------------------------------------


class BundleError(NexcageError):
    pass


def _read_json(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def load_config(bundle):
    """(config, problems): problems has one 'load' error when config.json is missing or malformed."""
    path = os.path.join(bundle, "config.json")
    if not os.path.isfile(path):
        return None, [
            checks.problem(
                "$",
                None,
                "config.json not found at the bundle root %s" % bundle,
                "generate the bundle (state: present) or add config.json",
                check="load",
            )
        ]
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [checks.problem("$", str(exc), "config.json is not UTF-8", "re-save it as UTF-8", check="load")]
    return load_config_text(text)


# Deeper than any real config.json (the spec's deepest field is 5 levels down); the checks walk it recursively.
MAX_CONFIG_DEPTH = 64


def _depth(value):
    """The nesting depth of a JSON value (iterative: it must not overflow the stack itself)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_CONFIG_DEPTH:
                break
            todo.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _too_deep():
    return checks.problem(
        "$",
        None,
        "config.json is nested more than %d levels deep" % MAX_CONFIG_DEPTH,
        "flatten the configuration (a real config.json is a few levels deep)",
        check="load",
    )


def load_config_text(text):
    """(config, problems) for the text of a config.json."""
    try:
        config = json.loads(text)
    except RecursionError:
        return None, [_too_deep()]
    except ValueError as exc:
        return None, [
            checks.problem(
                "$",
                str(exc),
                "config.json is not valid JSON: %s" % exc,
                "fix the JSON syntax at the position shown",
                check="load",
            )
        ]
    if _depth(config) > MAX_CONFIG_DEPTH:
        return None, [_too_deep()]
    return config, []


def _write_file(path, text, mode=0o600):
    files.atomic_write(path, text, mode)


class BundleManager:
    def __init__(self, runner, params):
        self.runner = runner
        self.params = params
        self.check_mode = runner.check_mode
        self.warnings = []

    # -- helpers -----------------------------------------------------------

    def _stored(self, path):
        try:
            data = _read_json(os.path.join(path, DIGEST_FILE))
            return data if isinstance(data, dict) and data.get("format") == DIGEST_FORMAT else None
        except (OSError, ValueError):
            return None

    def _source_state(self, stored):
        """(kind, host_path, rootfs_digest, record) for the source option."""
        params = self.params
        kind, host = detect_source(params["source"], params.get("source_type") or "auto")
        record = {"kind": kind, "source": params["source"]}
        prev = (stored or {}).get("rootfs", {}).get("source") or {}
        if kind == "directory":
            record["tree"], record["entries"] = tree_digest(host, params.get("allow_devices"))
            record["mode"] = params.get("rootfs_mode") or "copy"
        elif kind in ("tarball", "template"):
            record["file"] = file_sha256(host, prev.get("file"))
        else:
            try:
                image = oci_image.read_image_layout(host, params.get("image_ref"))
            except oci_image.ImageError as exc:
                raise BundleError(INVALID_ARGUMENT, str(exc), hint="Check the OCI image layout and image_ref.") from exc
            record["manifest"] = image["manifest_digest"]
            record["image_ref"] = params.get("image_ref")
            self._image = image
        digest_input = {k: v for k, v in record.items() if k not in ("source",)}
        if "file" in digest_input:
            digest_input["file"] = digest_input["file"]["sha256"]
        return kind, host, sha256_text(_canonical(digest_input)), record

    def _scratch(self, path):
        parent = os.path.dirname(path)
        os.makedirs(parent, mode=0o755, exist_ok=True)
        return tempfile.mkdtemp(prefix=".%s%s" % (os.path.basename(path), TMP_MARK), dir=parent)

    def _build_rootfs(self, kind, host, dest, scratch):
        mode = self.params.get("rootfs_mode") or "copy"
        allow_devices = bool(self.params.get("allow_devices"))
        try:
            if kind == "directory":
                src_real, dest_real = _real(host), _real(dest)
                if dest_real.startswith(src_real.rstrip("/") + "/"):
                    raise BundleError(INVALID_ARGUMENT, "the bundle lies inside its source directory %s" % host)
                argv = {
                    "copy": ["cp", "-a", "--no-target-directory", host, dest],
                    "hardlink": ["cp", "-a", "-l", "--no-target-directory", host, dest],
                    "reflink": ["cp", "-a", "--reflink=always", "--no-target-directory", host, dest],
                }[mode]
                try:
                    self.runner.run(argv, mutating=True)
                except CommandFailed as exc:
                    hint = "Check the source and free space."
                    if mode == "reflink":
                        hint = "The filesystem does not support reflinks (btrfs and XFS do); use rootfs_mode: copy."
                    elif mode == "hardlink":
                        hint = "Hard links need source and bundle on the same filesystem; use rootfs_mode: copy."
                    raise BundleError(
                        UNSUPPORTED if mode != "copy" else UNKNOWN,
                        "copying the rootfs with rootfs_mode=%s failed: %s" % (mode, exc.result.stderr.strip()),
                        hint=hint,
                        cmd=exc.result.cmd,
                        rc=exc.result.rc,
                        stderr=exc.result.stderr,
                    ) from exc
                return
            os.mkdir(dest, 0o755)
            if kind in ("tarball", "template"):
                oci_image.extract_tar(host, dest, self.runner, scratch, allow_devices=allow_devices)
            else:
                oci_image.extract_layers(self._image["layers"], dest, self.runner, scratch, allow_devices=allow_devices)
        except oci_image.ExtractError as exc:
            raise BundleError(
                INVALID_ARGUMENT,
                "refusing the rootfs source %s: %s" % (self.params["source"], exc),
                hint="Use a trusted archive; nothing was written to the bundle.",
            ) from exc
        except CommandFailed as exc:
            raise BundleError(
                UNKNOWN,
                "unpacking %s failed: %s" % (host, exc.result.stderr.strip()),
                cmd=exc.result.cmd,
                rc=exc.result.rc,
                stderr=exc.result.stderr,
            ) from exc

    def _overlay(self, rootfs):
        image = getattr(self, "_image", None)
        if image is None:
            return None
        try:
            overlay, dropped = oci_image.image_runtime_overlay(image["config"], rootfs)
        except oci_image.ImageError as exc:
            if rootfs is None:
                # check mode before unpacking: user names cannot be resolved yet
                cfg = dict(image["config"])
                cfg["config"] = dict(cfg.get("config") or {}, User=None)
                overlay, dropped = oci_image.image_runtime_overlay(cfg, None)
                self.warnings.append("check mode: image user not resolved before unpacking (%s)" % exc)
            else:
                raise BundleError(INVALID_ARGUMENT, str(exc)) from exc
        for label in dropped:
            self.warnings.append(
                "image label %s not copied to annotations: runtime-spec reserves the org.opencontainers namespace"
                % label
            )
        return overlay

    # -- states ------------------------------------------------------------

    def _rootfs_plan(self, path, exists, stored):
        """(kind, host path, rootfs digest, source record, whether the rootfs is (re)built)."""
        rootfs_path = os.path.join(path, "rootfs")
        if self.params.get("source"):
            try:
                kind, host, rootfs_digest, record = self._source_state(stored)
            except NexcageError as exc:
                if not self._source_made_earlier(exc):
                    raise
                # An earlier task of the same play (only planned in check mode) may make it: the real
                # run builds the rootfs from it, or fails with this message if it is still missing.
                self.warnings.append(
                    "check mode: %s; the bundle is predicted as built from it (an earlier task may make it)"
                    % exc.message
                )
                return "missing", None, "sha256:missing", {"kind": "missing", "source": self.params["source"]}, True
        else:
            if not (exists and os.path.isdir(rootfs_path)):
                raise BundleError(
                    INVALID_ARGUMENT,
                    "source is required to create the bundle %s (it has no rootfs yet)" % path,
                    hint="Set source to a rootfs directory, a tarball, a template volume or an OCI image layout.",
                )
            kind = host = None
            rootfs_digest = (stored or {}).get("rootfs", {}).get("digest") or "sha256:unmanaged"
            record = (stored or {}).get("rootfs", {}).get("source") or {"kind": "existing"}
        rootfs_changed = kind is not None and (
            not exists
            or not os.path.isdir(rootfs_path)
            or stored is None
            or stored.get("rootfs", {}).get("digest") != rootfs_digest
        )
        return kind, host, rootfs_digest, record, rootfs_changed

    def _source_made_earlier(self, error):
        """In check mode, a source path (not a template volume) that does not exist yet."""
        source = self.params["source"]
        return (
            self.check_mode
            and error.category == NOT_FOUND
            and not is_template_volid(source)
            and os.path.isabs(source)
            and not os.path.lexists(source)
        )

    def _generated_config(self, path, new_rootfs):
        """(config, problems) of the config.json the options make; a BundleError if it is not valid."""
        config = build_config(self.params, self._overlay(new_rootfs))
        problems = checks.schema_problems(config) + checks.semantic_problems(
            config,
            bundle_dir=path,
            rootfs=new_rootfs,
            rootfs_known=new_rootfs is not None,
        )
        problems += checks.hook_problems(config, self.params.get("allow_hooks"))
        errors = checks.errors_of(problems)
        if errors:
            raise BundleError(
                INVALID_ARGUMENT,
                "the generated config.json is not valid (%d problem%s): %s"
                % (len(errors), "" if len(errors) == 1 else "s", "; ".join(map(checks.format_problem, errors))),
                hint="Fix the options named in the problems; nothing was written.",
                validation=problems,
            )
        return config, problems

    def _checked_config(self, path, new_rootfs, stored, rootfs_changed, old_config):
        """(config, problems); an unchanged config on an unchanged rootfs is not checked again.

        The digest file keeps the problems found when that config.json was written: the same
        config on the same rootfs (same digests) gives the same problems, so a no-op run neither
        validates again nor imports jsonschema.
        """
        if not rootfs_changed and stored and isinstance(stored.get("validation"), list):
            config = build_config(self.params, self._overlay(new_rootfs))
            if old_config == config and stored.get("config") == sha256_text(_canonical(config)):
                return config, stored["validation"]
        return self._generated_config(path, new_rootfs)

    def _diff(self, path, old_text, text, rootfs_changed, kind):
        config_path = os.path.join(path, "config.json")
        diff = {"before": old_text, "after": text, "before_header": config_path, "after_header": config_path}
        if rootfs_changed:
            diff["prepared"] = "%s/rootfs: %s from %s (%s)" % (
                path,
                "rebuilt" if os.path.isdir(os.path.join(path, "rootfs")) else "created",
                self.params["source"],
                kind,
            )
        return diff

    def present(self, path):
        result = {"changed": False, "path": path}
        stored = self._stored(path)
        exists = os.path.isdir(path)
        old_config = load_config(path)[0] if exists else None
        old_text = ""
        if exists and os.path.isfile(os.path.join(path, "config.json")):
            with open(os.path.join(path, "config.json"), encoding="utf-8", errors="replace") as fh:
                old_text = fh.read()
        kind, host, rootfs_digest, record, rootfs_changed = self._rootfs_plan(path, exists, stored)
        scratch = None
        try:
            new_rootfs = os.path.join(path, "rootfs")
            if rootfs_changed:
                if self.check_mode:
                    new_rootfs = host if kind == "directory" else None
                else:
                    scratch = self._scratch(path)
                    new_rootfs = os.path.join(scratch, "rootfs")
                    self._build_rootfs(kind, host, new_rootfs, scratch)
            config, problems = self._checked_config(path, new_rootfs, stored, rootfs_changed, old_config)
            text = config_text(config)
            config_digest = sha256_text(_canonical(config))
            digest = sha256_text(rootfs_digest + "\n" + config_digest)
            config_changed = old_config != config or (stored or {}).get("config") != config_digest
            result.update(config=config, digest=digest, validation=problems)
            result.update(rootfs_changed=rootfs_changed, config_changed=config_changed)
            result["diff"] = self._diff(path, old_text, text, rootfs_changed, kind)
            if not (rootfs_changed or config_changed):
                return result
            result["changed"] = True
            if self.check_mode:
                return result
            stored_doc = {
                "format": DIGEST_FORMAT,
                "digest": digest,
                "config": config_digest,
                "rootfs": {"digest": rootfs_digest, "source": record},
                "validation": problems,
            }
            if rootfs_changed:
                self._commit_rootfs(path, scratch, text, stored_doc)
            else:
                _write_file(os.path.join(path, "config.json"), text)
                _write_file(os.path.join(path, DIGEST_FILE), json.dumps(stored_doc, indent=2) + "\n")
            return result
        finally:
            if scratch and os.path.isdir(scratch):
                shutil.rmtree(scratch, ignore_errors=True)

    def _commit_rootfs(self, path, scratch, text, stored_doc):
        digest_text = json.dumps(stored_doc, indent=2) + "\n"
        if not os.path.isdir(path):
            os.chmod(scratch, 0o700)
            _write_file(os.path.join(scratch, "config.json"), text)
            _write_file(os.path.join(scratch, DIGEST_FILE), digest_text)
            os.rename(scratch, path)
            return
        # Existing bundle (it may hold other files, e.g. bind-mount sources): swap the rootfs only.
        stale = os.path.join(path, DIGEST_FILE)
        if os.path.exists(stale):
            os.unlink(stale)  # a crash from here on leaves no digest, so the next run rebuilds
        old = os.path.join(path, "rootfs")
        parked = None
        if os.path.lexists(old):
            parked = tempfile.mkdtemp(prefix=".rootfs" + OLD_MARK, dir=path)
            os.rename(old, os.path.join(parked, "rootfs"))
        os.rename(os.path.join(scratch, "rootfs"), old)
        _write_file(os.path.join(path, "config.json"), text)
        _write_file(os.path.join(path, DIGEST_FILE), digest_text)
        if parked:
            shutil.rmtree(parked, ignore_errors=True)
        for name in os.listdir(path):  # parked rootfs of an earlier run that was killed mid-swap
            if name.startswith(".rootfs" + OLD_MARK):
                shutil.rmtree(os.path.join(path, name), ignore_errors=True)

    def absent(self, path):
        result = {"changed": False, "path": path}
        leftovers = self._leftovers(path)
        if not os.path.lexists(path):
            if leftovers and not self.check_mode:
                for item in leftovers:
                    shutil.rmtree(item, ignore_errors=True)
            return result
        if os.path.islink(path) or not os.path.isdir(path):
            raise BundleError(INVALID_ARGUMENT, "%s is not a directory; refusing to remove it" % path)
        entries = os.listdir(path)
        if entries and not ({"config.json", DIGEST_FILE} & set(entries)):
            raise BundleError(
                INVALID_ARGUMENT,
                "%s does not look like a bundle (no config.json); refusing to remove it" % path,
                hint="Remove it by hand if it really is meant to go.",
            )
        old_config = load_config(path)[0]
        result["config"] = old_config
        result["changed"] = True
        result["diff"] = {"before": {"path": path, "state": "present"}, "after": {"path": path, "state": "absent"}}
        if not self.check_mode:
            shutil.rmtree(path)
            for item in leftovers:
                shutil.rmtree(item, ignore_errors=True)
        return result

    def _leftovers(self, path):
        parent, base = os.path.split(path)
        prefix = ".%s%s" % (base, TMP_MARK)
        try:
            return [os.path.join(parent, n) for n in os.listdir(parent) if n.startswith(prefix)]
        except OSError:
            return []

    def validated(self, path):
        result = {"changed": False, "path": path}
        if not os.path.isdir(path):
            raise BundleError(NOT_FOUND, "bundle %s does not exist" % path, validation=[])
        config, problems = load_config(path)
        if config is not None:
            problems = checks.schema_problems(config) + checks.semantic_problems(config, bundle_dir=path)
        stored = self._stored(path)
        result.update(
            config=config,
            digest=(stored or {}).get("digest"),
            validation=problems,
            valid=not checks.errors_of(problems),
        )
        return result


def inspect_bundle(path):
    """Read and validate an existing bundle, for modules that consume bundles.

    Returns dict(config (None if unreadable), validation (problems), valid,
    digest and rootfs_digest (from .nexcage-digest.json, None for bundles made
    elsewhere), rootfs (absolute rootfs dir or None)).
    """
    config, problems = load_config(path)
    if config is not None:
        problems = checks.schema_problems(config) + checks.semantic_problems(config, bundle_dir=path)
    try:
        stored = _read_json(os.path.join(path, DIGEST_FILE))
    except (OSError, ValueError):
        stored = None
    stored = stored if isinstance(stored, dict) else {}
    rootfs = checks.root_dir(config, path) if isinstance(config, dict) else None
    return {
        "config": config,
        "validation": problems,
        "valid": not checks.errors_of(problems),
        "digest": stored.get("digest"),
        "rootfs_digest": (stored.get("rootfs") or {}).get("digest"),
        "rootfs": rootfs,
    }


def _given_env(params):
    """The environment entries of the task's options (env and config), before any check."""
    try:
        entries = env_list(params.get("env")) or []
    except NexcageError:
        entries = []
    return secrets.secret_entries(entries + secrets.config_entries(params.get("config")))


def _shown_params(params, entries):
    """env and config as the module invocation shows them: values masked, names kept."""
    env = params.get("env")
    if isinstance(env, dict):
        env = dict.fromkeys(env, secrets.MASK)
    return {"env": secrets.hide(env, entries), "config": secrets.hide(params.get("config"), entries)}


def _bundle_task(module, runner, out):
    """nexcage_bundle's work: the result dict (with failed and msg when a validated bundle is not valid)."""
    params = dict(module.params)
    given = _given_env(params)
    secrets.protect(module, given)
    module.params.update(_shown_params(params, given))
    result = _bundle_result(module, params, runner, out)
    shown = secrets.secret_entries(given + secrets.config_entries(result.get("config")))
    secrets.protect(module, shown)
    return secrets.hide(result, shown)


# Options naming files and directories on the host: one printable line each.
PATH_OPTIONS = ("path", "bundle_roots", "source", "image_ref")


def _bundle_result(module, params, runner, out):
    state = params["state"]
    for option in PATH_OPTIONS:
        values = params.get(option)
        for value in values if isinstance(values, list) else [values]:
            if value is not None:
                configline.check_value(value, option=option)
    if state != "absent":
        checks.import_jsonschema()  # fails cleanly, before anything is touched, when it is missing
    manager = BundleManager(runner, params)
    try:
        path, _root = check_bundle_path(params["path"], params["bundle_roots"])
        out["path"] = path
        if state == "present":
            result = manager.present(path)
        elif state == "absent":
            result = manager.absent(path)
        else:
            result = manager.validated(path)
    except OSError as exc:
        raise NexcageError(UNKNOWN, "bundle %s: %s" % (out["path"], exc)) from None
    diff = result.pop("diff", None)
    result.setdefault("validation", [])
    hidden = secrets.secret_entries(_given_env(params) + secrets.config_entries(result.get("config")))
    for warning in manager.warnings:
        module.warn(secrets.hide(warning, hidden))
    for item in result["validation"]:
        if item["level"] == "warning":
            module.warn(secrets.hide(checks.format_problem(item), hidden))
    if state == "validated" and not result["valid"]:
        errors = checks.errors_of(result["validation"])
        result["failed"] = True
        result["msg"] = "bundle %s is not valid (%d problem%s): %s" % (
            path,
            len(errors),
            "" if len(errors) == 1 else "s",
            "; ".join(map(checks.format_problem, errors)),
        )
    elif module._diff and diff is not None:
        result["diff"] = diff
    return result


def run_module(module, runner):
    """The whole of nexcage_bundle: module is an AnsibleModule, runner its Runner."""
    out = {"path": module.params["path"]}

    def context(error):
        extra = {"commands": runner.commands}
        if error is not None:
            extra.update(out, validation=error.extra.get("validation") or [])
        return extra

    _module.run(module, lambda: _bundle_task(module, runner, out), name="nexcage_bundle", context=context)
