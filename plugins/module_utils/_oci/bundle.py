# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OCI runtime bundles: nexcage_bundle's states. PRIVATE to the collection.

* ``BundleManager``: ``present`` / ``absent`` / ``validated`` for one bundle
  path under one of ``bundle_roots``. A digest of the inputs is stored in
  ``.nexcage-digest.json`` beside config.json: an unchanged re-run copies
  nothing, a config-only change rewrites config.json only, and a new rootfs
  is built in a temporary directory beside the target and renamed into place.
* ``inspect_bundle(path)``: config, problems and stored digests of an existing
  bundle, for modules that deploy bundles.
* ``run_module(module, runner)``: the whole of nexcage_bundle.

config.json is built by ``config``, sources are found by ``sources``, directory
trees are copied and digested by ``tree``, image layouts read by ``image``,
archives and layers unpacked by ``extract``. The last two and the checks (with
the schema and jsonschema) are imported only when a run needs them: a no-op run
on a directory source needs none of them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

from ansible_collections.cageforge.nexcage.plugins.module_utils import _module
from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import (
    INVALID_ARGUMENT,
    NOT_FOUND,
    UNKNOWN,
    NexcageError,
)
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import configline
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import secrets, sources, tree
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.config import (
    build_config,
    canonical,
    config_text,
    env_list,
    load_config,
    load_config_text,
    sha256_text,
)
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.problems import errors_of, format_problem

DIGEST_FILE = ".nexcage-digest.json"
DIGEST_FORMAT = 1
DEFAULT_BUNDLE_ROOTS = ("/var/lib/nexcage/bundles",)
TMP_MARK = ".nexcage-tmp-"
OLD_MARK = ".nexcage-old-"


class BundleError(NexcageError):
    pass


def _checks():
    """The config checks (they load the schema): imported when a config is checked."""
    from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import checks

    return checks


def _read_json(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _write_file(path, text, mode=0o600):
    from ansible_collections.cageforge.nexcage.plugins.module_utils._node import files  # a no-op writes nothing

    files.atomic_write(path, text, mode)


# Kept in a source record but not digested: where the source is and how it looked when last read.
_NOT_DIGESTED = ("source", "stamp", "allow_devices")


def _rootfs_digest(record):
    """The rootfs digest of a source record: its kind, content digest and how it is copied."""
    digest_input = {key: value for key, value in record.items() if key not in _NOT_DIGESTED}
    if "file" in digest_input:
        digest_input["file"] = digest_input["file"]["sha256"]
    return sha256_text(canonical(digest_input))


def _old_config(path):
    """(config or None, text) of the bundle's config.json as it is."""
    try:
        with open(os.path.join(path, "config.json"), "rb") as fh:
            data = fh.read()
    except OSError:
        return None, ""
    try:
        return load_config_text(data.decode("utf-8"))[0], data.decode("utf-8")
    except UnicodeDecodeError:
        return None, data.decode("utf-8", "replace")


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

    def _source_state(self, stored, rebuilt):
        """(kind, host path, source record) of the source option.

        The record holds what the rootfs digest is made of (see _rootfs_digest) and how the source
        looked when that was computed. With source_check: stamp, a directory whose stamp is the
        recorded one keeps its recorded tree digest, a tarball or template whose stat is the recorded
        one keeps its SHA-256, and an image layout is named by its manifest digest (a content
        address); with full, the tree is walked, the file hashed and the layer blobs checked again.
        rebuilt: the rootfs is made anew whatever the digest, so a directory copied by this run is
        digested by the copy itself (tree None until then).
        """
        params = self.params
        kind, host = sources.detect_source(params["source"], params.get("source_type") or "auto")
        full = params.get("source_check") == "full"
        prev = ((stored or {}).get("rootfs") or {}).get("source") or {}
        if prev.get("kind") != kind or prev.get("source") != params["source"]:
            prev = {}
        record = {"kind": kind, "source": params["source"]}
        if kind == "directory":
            mode = params.get("rootfs_mode") or "copy"
            allow_devices = bool(params.get("allow_devices"))
            record.update(mode=mode, stamp=tree.tree_stamp(host), allow_devices=allow_devices)
            trusted = prev.get("stamp") == record["stamp"] and prev.get("tree") and prev.get("mode") == mode
            if not full and trusted and (allow_devices or not prev.get("allow_devices")):
                record.update(tree=prev["tree"], entries=prev.get("entries"))
            elif rebuilt and mode == "copy" and not self.check_mode:
                record.update(tree=None, entries=None)
            else:
                record["tree"], record["entries"] = tree.tree_digest(host, allow_devices)
        elif kind in ("tarball", "template"):
            record["file"] = sources.file_sha256(host, None if full else prev.get("file"))
        else:
            from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import image as oci_image

            try:
                image = oci_image.read_image_layout(host, params.get("image_ref"), verify_layers=full)
            except oci_image.ImageError as exc:
                raise BundleError(INVALID_ARGUMENT, str(exc), hint="Check the OCI image layout and image_ref.") from exc
            record["manifest"] = image["manifest_digest"]
            record["image_ref"] = params.get("image_ref")
            self._image = image
        return kind, host, record

    def _scratch(self, path):
        parent = os.path.dirname(path)
        os.makedirs(parent, mode=0o755, exist_ok=True)
        return tempfile.mkdtemp(prefix=".%s%s" % (os.path.basename(path), TMP_MARK), dir=parent)

    def _overlay(self, rootfs):
        image = getattr(self, "_image", None)
        if image is None:
            return None
        from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import image as oci_image

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

    def _build_rootfs(self, kind, host, dest, scratch, record):
        """Make the rootfs at dest from the source; a directory copied here gets its digest in record."""
        from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import build

        copied = build.build_rootfs(
            self.runner,
            (kind, host, self.params["source"]),
            dest,
            scratch,
            mode=record.get("mode", "copy"),
            allow_devices=bool(self.params.get("allow_devices")),
            layers=self._image["layers"] if kind == "oci_layout" else None,
        )
        if copied:
            record["tree"], record["entries"] = copied

    # -- states ------------------------------------------------------------

    def _rootfs_plan(self, path, exists, stored):
        """(kind, host path, source record, whether the rootfs is (re)built)."""
        rootfs_path = os.path.join(path, "rootfs")
        stored_rootfs = (stored or {}).get("rootfs") or {}
        if self.params.get("source"):
            rebuilt = not (exists and os.path.isdir(rootfs_path) and stored_rootfs.get("digest"))
            try:
                kind, host, record = self._source_state(stored, rebuilt)
            except NexcageError as exc:
                if not self._source_made_earlier(exc):
                    raise
                # An earlier task of the same play (only planned in check mode) may make it: the real
                # run builds the rootfs from it, or fails with this message if it is still missing.
                self.warnings.append(
                    "check mode: %s; the bundle is predicted as built from it (an earlier task may make it)"
                    % exc.message
                )
                return "missing", None, {"kind": "missing", "source": self.params["source"]}, True
            rootfs_changed = rebuilt or stored_rootfs["digest"] != _rootfs_digest(record)
            return kind, host, record, rootfs_changed
        if not (exists and os.path.isdir(rootfs_path)):
            raise BundleError(
                INVALID_ARGUMENT,
                "source is required to create the bundle %s (it has no rootfs yet)" % path,
                hint="Set source to a rootfs directory, a tarball, a template volume or an OCI image layout.",
            )
        return None, None, stored_rootfs.get("source") or {"kind": "existing"}, False

    def _source_made_earlier(self, error):
        """In check mode, a source path (not a template volume) that does not exist yet."""
        source = self.params["source"]
        return (
            self.check_mode
            and error.category == NOT_FOUND
            and not sources.is_template_volid(source)
            and os.path.isabs(source)
            and not os.path.lexists(source)
        )

    def _generated_config(self, path, new_rootfs):
        """(config, problems) of the config.json the options make; a BundleError if it is not valid."""
        config = build_config(self.params, self._overlay(new_rootfs))
        checks = _checks()
        problems = checks.schema_problems(config) + checks.semantic_problems(
            config,
            bundle_dir=path,
            rootfs=new_rootfs,
            rootfs_known=new_rootfs is not None,
        )
        problems += checks.hook_problems(config, self.params.get("allow_hooks"))
        errors = errors_of(problems)
        if errors:
            raise BundleError(
                INVALID_ARGUMENT,
                "the generated config.json is not valid (%d problem%s): %s"
                % (len(errors), "" if len(errors) == 1 else "s", "; ".join(map(format_problem, errors))),
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
            if old_config == config and stored.get("config") == sha256_text(canonical(config)):
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
        old_config, old_text = _old_config(path) if exists else (None, "")
        kind, host, record, rootfs_changed = self._rootfs_plan(path, exists, stored)
        scratch = None
        try:
            new_rootfs = os.path.join(path, "rootfs")
            if rootfs_changed:
                if self.check_mode:
                    new_rootfs = host if kind == "directory" else None
                else:
                    _checks().import_jsonschema()  # the new rootfs is checked: fail before building it
                    scratch = self._scratch(path)
                    new_rootfs = os.path.join(scratch, "rootfs")
                    self._build_rootfs(kind, host, new_rootfs, scratch, record)
            config, problems = self._checked_config(path, new_rootfs, stored, rootfs_changed, old_config)
            text = config_text(config)
            config_digest = sha256_text(canonical(config))
            if kind is None:  # no source: the rootfs stays as it is
                rootfs_digest = ((stored or {}).get("rootfs") or {}).get("digest") or "sha256:unmanaged"
            else:
                rootfs_digest = _rootfs_digest(record)
            digest = sha256_text(rootfs_digest + "\n" + config_digest)
            config_changed = old_config != config or (stored or {}).get("config") != config_digest
            result.update(config=config, digest=digest, validation=problems)
            result.update(rootfs_changed=rootfs_changed, config_changed=config_changed)
            result["diff"] = self._diff(path, old_text, text, rootfs_changed, kind)
            stored_doc = {
                "format": DIGEST_FORMAT,
                "digest": digest,
                "config": config_digest,
                "rootfs": {"digest": rootfs_digest, "source": record},
                "validation": problems,
            }
            if not (rootfs_changed or config_changed):
                if stored_doc != stored and not self.check_mode:
                    # The same bundle, but the source's stamp was taken again (it was touched, or the
                    # digest file predates stamps): keep the new stamp so the next run trusts it.
                    _write_file(os.path.join(path, DIGEST_FILE), json.dumps(stored_doc, indent=2) + "\n")
                return result
            result["changed"] = True
            if self.check_mode:
                return result
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
            checks = _checks()
            problems = checks.schema_problems(config) + checks.semantic_problems(config, bundle_dir=path)
        stored = self._stored(path)
        result.update(
            config=config,
            digest=(stored or {}).get("digest"),
            validation=problems,
            valid=not errors_of(problems),
        )
        return result


def inspect_bundle(path):
    """Read and validate an existing bundle, for modules that consume bundles.

    Returns dict(config (None if unreadable), validation (problems), valid,
    digest and rootfs_digest (from .nexcage-digest.json, None for bundles made
    elsewhere), rootfs (absolute rootfs dir or None)).
    """
    checks = _checks()
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
        "valid": not errors_of(problems),
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
    # jsonschema is imported when a config is checked, and before a rootfs is built: a no-op run
    # checks nothing, so it needs neither.
    manager = BundleManager(runner, params)
    try:
        path, _root = sources.check_bundle_path(params["path"], params["bundle_roots"])
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
            module.warn(secrets.hide(format_problem(item), hidden))
    if state == "validated" and not result["valid"]:
        errors = errors_of(result["validation"])
        result["failed"] = True
        result["msg"] = "bundle %s is not valid (%d problem%s): %s" % (
            path,
            len(errors),
            "" if len(errors) == 1 else "s",
            "; ".join(map(format_problem, errors)),
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
