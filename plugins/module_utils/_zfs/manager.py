# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""DatasetManager: reads a dataset through the Runner and applies the plan; the module's run. PRIVATE."""

from __future__ import annotations

from ansible_collections.cageforge.nexcage.plugins.module_utils import _errors, _module, _runner
from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import ValidationError
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import configline, readers
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import CommandFailed
from ansible_collections.cageforge.nexcage.plugins.module_utils._validation import (
    guard_host_path,
    validate_abs_path,
    validate_zfs_name,
)
from ansible_collections.cageforge.nexcage.plugins.module_utils._zfs.holders import find_holders, is_inside
from ansible_collections.cageforge.nexcage.plugins.module_utils._zfs.properties import (
    ZfsError,
    desired_properties,
    normalize_value,
    parent_of,
    parse_get,
    plan_present,
    typed_value,
    validate_name,
)


def zfs_get(*args):
    """`zfs get` in the parseable form parse_get reads (name, property, value, source; exact numbers)."""
    return _runner.zfs("get", "-H", "-p", "-o", "name,property,value,source", *args)


class DatasetManager:
    """Reads and changes one dataset through the Runner."""

    def __init__(self, runner, read_configs=readers.guest_configs, read_storage=readers.read_storage_cfg):
        self.runner = runner
        self.read_configs = read_configs
        self.read_storage = read_storage
        self.warnings = []

    def _run(self, argv, mutating=False):
        try:
            return self.runner.run(argv, mutating=mutating)
        except CommandFailed as exc:
            raise _errors.error_from_result(exc.result, patterns=ZFS_PATTERNS) from None

    def pools(self):
        res = self._run(_runner.zpool("list", "-H", "-o", "name"))
        return [
            line.strip() for line in res.stdout.splitlines() if line.strip() and line.strip() != "no pools available"
        ]

    def get(self, name, props="all"):
        """{prop: (value, source)} of name, or None when it does not exist."""
        res = self.runner.run(zfs_get(props, name), check=False)
        if res.rc != 0:
            if "does not exist" in res.stderr:
                return None
            raise _errors.error_from_result(
                res,
                message="reading the properties of %s failed (rc %s): %s" % (name, res.rc, res.stderr.strip()),
                patterns=ZFS_PATTERNS,
            )
        return parse_get(res.stdout).get(name, {})

    def get_with(self, name, wanted):
        """All properties plus requested ones `zfs get all` leaves out (unset user props, userquota@...)."""
        current = self.get(name)
        if current is None:
            return None
        missing = [p for p in wanted if p not in current]
        if missing:
            try:
                extra = self.get(name, ",".join(sorted(missing)))
            except _errors.NexcageError as exc:
                first = (exc.stderr or "").strip().splitlines()
                raise ZfsError(
                    "zfs does not know the property %s: %s"
                    % (" or ".join("'%s'" % p for p in sorted(missing)), first[0] if first else exc.message),
                    _errors.INVALID_ARGUMENT,
                    "Check the spelling; user properties need a colon (module:property).",
                    cmd=exc.cmd,
                    rc=exc.rc,
                    stdout=exc.stdout,
                    stderr=exc.stderr,
                ) from None
            current.update(extra or {})
        return current

    def exists(self, name):
        res = self.runner.run(_runner.zfs("list", "-H", "-o", "name", name), check=False)
        return res.rc == 0

    def descendants(self, name):
        """Every dataset, snapshot and bookmark below name (name itself excluded)."""
        res = self._run(_runner.zfs("list", "-H", "-o", "name", "-t", "all", "-r", name))
        return [n.strip() for n in res.stdout.splitlines() if n.strip() and n.strip() != name]

    def mountpoints(self, names):
        res = self._run(zfs_get("-r", "mountpoint", names[0]))
        parsed = parse_get(res.stdout)
        return {n: props.get("mountpoint", ("-", "-"))[0] for n, props in parsed.items() if "@" not in n}

    def check_pool(self, name):
        pool = validate_name(name)
        pools = self.pools()
        if pool not in pools:
            return pool, pools, False
        return pool, pools, True

    # ------------------------------------------------------------ states

    def present(self, name, properties, create_parents=True):
        desired = desired_properties(properties)
        pool, pools, ok = self.check_pool(name)
        if not ok:
            raise ZfsError(
                "pool '%s' does not exist on this node, so %s cannot be created; existing pools: %s"
                % (pool, name, ", ".join(pools) if pools else "none"),
                _errors.NOT_FOUND,
                "Use one of the existing pools in name, or create the pool first (zpool create).",
                pools=pools,
            )
        current = self.get_with(name, desired)
        created = current is None
        if created:
            parent = parent_of(name)
            if parent and not create_parents and not self.exists(parent):
                raise ZfsError(
                    "parent dataset %s does not exist; create it first or set create_parents: true" % parent,
                    _errors.NOT_FOUND,
                )
        plan = plan_present(name, desired, current, create_parents)
        before = {} if created else {p: normalize_value(p, current[p][0]) for p in desired if p in current}
        for argv in plan:
            self._run(argv, mutating=True)
        changed = bool(plan)
        if changed and not self.runner.check_mode:
            final = self.get_with(name, desired)
            if final is None:
                raise ZfsError("%s is missing after `zfs create` reported success" % name)
            for prop, want in desired.items():
                have = final.get(prop, ("-", "-"))[0]
                if normalize_value(prop, have) != want:
                    self.warnings.append("zfs accepted %s=%s on %s but now reports %s" % (prop, want, name, have))
        else:
            final = current
        if final is None:  # check mode, would be created
            props = {p: typed_value(v) for p, v in desired.items()}
            sources = dict.fromkeys(desired, "local")
        else:
            props = {p: typed_value(v[0]) for p, v in final.items()}
            sources = {p: v[1] for p, v in final.items()}
            if self.runner.check_mode:
                for prop in desired:
                    props[prop] = typed_value(desired[prop])
                    sources[prop] = "local"
        after = {p: desired[p] for p in desired}
        return dict(
            changed=changed,
            created=created,
            properties=props,
            property_sources=sources,
            diff=dict(
                before=dict(state="absent") if created else dict(state="present", properties=before),
                after=dict(state="present", properties=after),
            ),
        )

    def absent(self, name, recursive=False, force=False):
        pool, pools, ok = self.check_pool(name)
        result = dict(changed=False, created=False, properties={}, property_sources={})
        if not ok:
            self.warnings.append(
                "pool '%s' does not exist on this node, so %s is absent; existing pools: %s"
                % (pool, name, ", ".join(pools) if pools else "none")
            )
            result["diff"] = dict(before=dict(state="absent"), after=dict(state="absent"))
            return result
        current = self.get(name)
        if current is None:
            result["diff"] = dict(before=dict(state="absent"), after=dict(state="absent"))
            return result
        if "/" not in name:
            raise ZfsError(
                "%s is the root dataset of pool %s; zfs cannot destroy it (that is `zpool destroy`, "
                "which this module never runs)" % (name, pool),
                _errors.UNSUPPORTED,
            )
        below = self.descendants(name)
        if below and not recursive:
            children = [n for n in below if "@" not in n and "#" not in n]
            snaps = [n for n in below if n not in children]
            listed = (children + snaps)[:10]
            raise ZfsError(
                "refusing to destroy %s: it has %d child dataset(s) and %d snapshot(s)/bookmark(s) (%s%s); "
                "set recursive: true to destroy them with it (zfs destroy -r)"
                % (name, len(children), len(snaps), ", ".join(listed), ", ..." if len(below) > 10 else ""),
                _errors.PERMISSION_DENIED,
                children=children,
                snapshots=snaps,
            )
        clones = self.outside_clones(name, below)
        if clones:
            raise ZfsError(
                "refusing to destroy %s: snapshots below it have clones outside it (%s); nexcage never uses "
                "`zfs destroy -R`. Destroy those clones, or `zfs promote` them, first" % (name, ", ".join(clones)),
                _errors.PERMISSION_DENIED,
                clones=clones,
            )
        if not force:
            mountpoints = self.mountpoints([name])
            holders = find_holders(name, mountpoints, self.read_storage(), self.read_configs())
            if holders:
                raise ZfsError(
                    "refusing to destroy %s: it is in use by %s. Remove it from those configs (pct set "
                    "<vmid> --delete <key>, or destroy the guest), or set force: true to destroy it anyway"
                    % (name, "; ".join(holders)),
                    _errors.PERMISSION_DENIED,
                    holders=holders,
                )
        self._run(_runner.zfs("destroy", "-r", name) if below else _runner.zfs("destroy", name), mutating=True)
        result["changed"] = True
        before = {p: typed_value(v[0]) for p, v in current.items()}
        result["diff"] = dict(before=dict(state="present", children=below), after=dict(state="absent"))
        result["before_properties"] = before
        return result

    def outside_clones(self, name, below):
        snaps = [n for n in below if "@" in n]
        if not snaps:
            return []
        res = self.runner.run(zfs_get("-r", "clones", name), check=False)
        if res.rc != 0:
            return []
        clones = []
        for props in parse_get(res.stdout).values():
            value = props.get("clones", ("-", "-"))[0]
            if value in ("-", ""):
                continue
            clones += [c for c in value.split(",") if c and not is_inside(c, name)]
        return sorted(set(clones))


ZFS_PATTERNS = (
    (r"dataset is busy|pool or dataset is busy", _errors.LOCKED, "A process, a mount or a running container uses it."),
    (
        r"out of space|less than current used or reserved space|exceeds quota",
        _errors.RESOURCE_EXHAUSTED,
        "Free space in the pool or dataset, or choose a larger quota / smaller reservation.",
    ),
    (r"permission denied", _errors.PERMISSION_DENIED, None),
    (r"dataset does not exist|no such pool", _errors.NOT_FOUND, None),
    (
        r"invalid property|bad property|invalid option|is not a valid|must be|is readonly",
        _errors.INVALID_ARGUMENT,
        None,
    ),
    (r"dataset already exists", _errors.ALREADY_EXISTS, None),
)


# Besides the guarded host paths of bind mounts: a dataset mounted over these hides the host's programs.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64")


def check_properties(properties, allow_sensitive=False):
    """Refuse, before any command, property names and values that are not one printable line, and a
    mountpoint on a guarded host path (unless allow_sensitive)."""
    for prop, value in (properties or {}).items():
        configline.check_value(prop, option="properties")
        option = "properties.%s" % prop
        if isinstance(value, (dict, list)):
            raise ValidationError(option, value, "must be a single value", "Give a string, number or boolean")
        text = configline.check_value(value, option=option)
        if str(prop).strip().lower() == "mountpoint" and text.strip().lower() not in ("none", "legacy"):
            path = validate_abs_path(text.strip(), option)
            guard_host_path(path, option, allow_sensitive, extra=SYSTEM_DIRS)


def run_task(module, runner):
    """The whole of nexcage_zfs_dataset as a result dict: module is an AnsibleModule, runner its Runner."""
    params = module.params
    name = validate_zfs_name(params["name"], "name")
    check_properties(params["properties"], params["allow_sensitive_host_paths"])
    manager = DatasetManager(runner)
    if params["state"] == "present":
        result = manager.present(name, params["properties"], params["create_parents"])
    else:
        if params["properties"]:
            manager.warnings.append("properties are ignored with state: absent")
        result = manager.absent(name, recursive=params["recursive"], force=params["force"])
    diff = result.pop("diff")
    result.pop("before_properties", None)
    out = dict(result, name=name, commands=runner.commands)
    for warning in manager.warnings:
        module.warn(warning)
    if module._diff:
        out["diff"] = diff
    return out


def run_module(module, runner):
    """End nexcage_zfs_dataset: exit_json with the result, fail_json on any failure."""

    def context(error):
        details = {k: v for k, v in getattr(error, "extra", {}).items() if k != "exception"}
        return dict(details, name=module.params["name"], commands=runner.commands)

    _module.run(module, lambda: run_task(module, runner), name="nexcage_zfs_dataset", context=context)
