# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Deploying an OCI runtime bundle as a Proxmox VE container. PRIVATE to the collection.

Steps (issue 4, oci-facts §9/§10):

1. ``prepare(runner, bundle, storage)``: read and validate the bundle
   (``_oci_bundle.inspect_bundle``), map ``config.json`` to PVE settings
   (``_oci_bundle.pve_settings``), and pack the rootfs into a template archive
   ``<storage dir>/template/cache/nexcage-bundle-<digest prefix>.tar.zst``.
   The name is content-addressed: while the rootfs is unchanged the archive is
   reused (no tar runs). The storage directory is read from
   ``/etc/pve/storage.cfg`` (no ``pvesm`` call). Returns a ``Deployment``:
   ``template`` (volume ID), ``options`` (``pct create``/``pct set`` options as
   ordered ``(key, value)``), ``lxc`` (raw ``lxc.*`` lines), ``warnings``.
   Every mapping error is raised together in one ``NexcageError``.
2. ``pct create <vmid> <template> --opt value ...`` in one command
   (``create_argv``), or ``pct set`` of the options that differ (``set_argv``).
3. ``write_raw_lines(vmid, lines)``: raw ``lxc.*`` keys cannot be passed to
   ``pct create/set``; they are written into ``/etc/pve/lxc/<vmid>.conf``
   directly (PVE allows them there, facts §9.5), under the config lock
   ``/run/lock/lxc/pve-config-<vmid>.lock``. The bundle owns every raw
   ``lxc.*`` line of the current section: lines it no longer maps are removed,
   so a change to ``config.json`` converges.

``deploy(runner, vmid, bundle, state, ...)`` does all of it (and ``pct start``/
``pct stop``) for one container and returns a result dict; ``nexcage_container``
with ``image: <bundle dir>`` uses the same pieces.
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import time

from ansible_collections.cageforge.nexcage.plugins.module_utils import _oci_bundle
from ansible_collections.cageforge.nexcage.plugins.module_utils import _pveconfig as C
from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import (
    INVALID_ARGUMENT,
    NOT_FOUND,
    TIMEOUT,
    NexcageError,
    from_result,
)
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import CommandFailed

STORAGE_CFG = "/etc/pve/storage.cfg"
LXC_CONF_DIR = "/etc/pve/lxc"
LOCK_DIR = "/run/lock/lxc"
TEMPLATE_PREFIX = "nexcage-bundle-"
TEMPLATE_SUFFIX = ".tar.zst"
DIGEST_CHARS = 16
LOCK_TIMEOUT = 10

# pct options the deployment sets, in the order they are passed.
OPTION_KEYS = ("hostname", "memory", "swap", "cpulimit", "cpuunits", "cmode", "ostype", "unprivileged")


def is_bundle(image):
    """True when image names a bundle directory (a directory holding config.json)."""
    return bool(image) and os.path.isabs(image) and os.path.isfile(os.path.join(image, "config.json"))


# --------------------------------------------------------------------------- template storage


def template_dir(storage="local", storage_cfg=STORAGE_CFG):
    """The vztmpl directory of a file-based storage, read from storage.cfg."""
    try:
        with open(storage_cfg, encoding="utf-8") as handle:
            storages = C.parse_storage_cfg(handle.read())
    except OSError as exc:
        raise NexcageError(
            NOT_FOUND,
            "Cannot read %s: %s" % (storage_cfg, exc.strerror),
            hint="Run the task on a Proxmox VE node.",
        ) from None
    info = storages.get(storage)
    if info is None:
        raise NexcageError(
            NOT_FOUND,
            "Template storage '%s' does not exist in %s" % (storage, storage_cfg),
            hint="Set template_storage to a file-based storage with content vztmpl (e.g. local).",
        )
    if info.get("disable") or "vztmpl" not in info.get("content", []) or not isinstance(info.get("path"), str):
        raise NexcageError(
            INVALID_ARGUMENT,
            "Storage '%s' cannot hold container templates (needs a path and content vztmpl)" % storage,
            hint="Add vztmpl to the storage's content, or use another storage such as local.",
        )
    return os.path.join(info["path"], "template", "cache")


def template_name(digest):
    hexdigest = digest.split(":", 1)[-1]
    return "%s%s%s" % (TEMPLATE_PREFIX, hexdigest[:DIGEST_CHARS], TEMPLATE_SUFFIX)


def pack_rootfs(runner, rootfs, digest, storage="local"):
    """Pack rootfs into the content-addressed template archive; return (volid, path, packed).

    packed is False when the archive for this digest already exists (reused).
    """
    directory = template_dir(storage)
    name = template_name(digest)
    path = os.path.join(directory, name)
    volid = "%s:vztmpl/%s" % (storage, name)
    if os.path.isfile(path):
        return volid, path, False
    tmp = os.path.join(directory, ".%s.tmp.%d" % (name, os.getpid()))
    argv = ["tar", "--numeric-owner", "--zstd", "-C", rootfs, "-cf", tmp, "."]
    if not runner.check_mode:
        os.makedirs(directory, exist_ok=True)
    try:
        runner.run(argv, mutating=True, timeout=max(runner.timeout, 600))
    except CommandFailed as exc:
        _unlink(tmp)
        raise NexcageError(
            INVALID_ARGUMENT,
            "Cannot pack the bundle rootfs %s into %s: %s" % (rootfs, path, exc.result.stderr.strip()),
            hint="Check that the rootfs is readable and the storage has free space.",
            cmd=exc.result.cmd,
            rc=exc.result.rc,
            stderr=exc.result.stderr,
        ) from None
    if not runner.check_mode:
        os.replace(tmp, path)
    return volid, path, True


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


# --------------------------------------------------------------------------- mapping


class Deployment:
    """What a bundle deploys as: template, pct options, raw lxc lines, warnings."""

    def __init__(self, bundle, template, template_path, packed, options, lxc, warnings, digest):
        self.bundle = bundle
        self.template = template
        self.template_path = template_path
        self.packed = packed
        self.options = options
        self.lxc = lxc
        self.warnings = warnings
        self.digest = digest

    def to_dict(self):
        return {
            "bundle": self.bundle,
            "template": self.template,
            "packed": self.packed,
            "options": [[k, v] for k, v in self.options],
            "lxc": [list(kv) for kv in self.lxc],
            "warnings": list(self.warnings),
            "rootfs_digest": self.digest,
        }


def mount_value(mount):
    value = "%s,mp=%s" % (mount["host_path"], mount["mountpoint"])
    if mount.get("read_only"):
        value += ",ro=1"
    if mount.get("mount_options"):
        value += ",mountoptions=%s" % ";".join(mount["mount_options"])
    return value


def options_from_settings(settings):
    """PVE settings of pve_settings() -> ordered [(pct option, string value)] and warnings."""
    out, warnings = [], []
    for key in OPTION_KEYS:
        if key == "ostype":
            # An application bundle: no distribution setup scripts in its rootfs (facts §9.4).
            out.append(("ostype", "unmanaged"))
            continue
        if key == "unprivileged":
            out.append(("unprivileged", "1" if settings.get("unprivileged") else "0"))
            continue
        if key in settings and settings[key] is not None:
            value = settings[key]
            if isinstance(value, float):
                value = ("%.2f" % value).rstrip("0").rstrip(".")
            out.append((key, str(value)))
    for i, mount in enumerate(settings.get("mounts") or []):
        out.append(("mp%d" % i, mount_value(mount)))
    if settings.get("rootfs_readonly"):
        warnings.append("$.root.readonly: not applied (a PVE container's root disk is always writable)")
    return out, warnings


def prepare(runner, bundle, storage="local"):
    """Validate and map the bundle and pack its rootfs; return a Deployment."""
    bundle = os.path.abspath(bundle)
    info = _oci_bundle.inspect_bundle(bundle)
    if not info["valid"]:
        problems = [p for p in info["validation"] if p.get("severity", "error") == "error"] or info["validation"]
        raise NexcageError(
            INVALID_ARGUMENT,
            "The bundle %s is not valid: %s" % (bundle, "; ".join(_problem_text(p) for p in problems)),
            hint="Fix config.json (nexcage_bundle state=validated lists every problem with its fix).",
            validation=info["validation"],
        )
    settings, warnings, errors = _oci_bundle.pve_settings(info["config"], bundle)
    if errors:
        raise NexcageError(
            INVALID_ARGUMENT,
            "The bundle %s cannot be deployed as a Proxmox VE container: %s" % (bundle, "; ".join(errors)),
            hint="Change or remove these settings in config.json; each one has no Proxmox VE equivalent.",
            unmapped=errors,
            warnings=warnings,
        )
    rootfs = settings["rootfs_dir"]
    if not os.path.isdir(rootfs):
        raise NexcageError(NOT_FOUND, "The bundle rootfs %s is not a directory" % rootfs)
    digest = info.get("rootfs_digest") or _oci_bundle.tree_digest(rootfs, allow_devices=True)[0]
    options, more = options_from_settings(settings)
    template, path, packed = pack_rootfs(runner, rootfs, digest, storage)
    try:
        init_lines = init_cmd_lines(info["config"]["process"]["args"], rootfs)
    except ValueError as exc:
        raise NexcageError(
            INVALID_ARGUMENT,
            "The bundle %s cannot be deployed as a Proxmox VE container: $.process.args: %s" % (bundle, exc),
            hint="Use arguments without whitespace or quotes, or add /bin/sh to the rootfs.",
        ) from None
    settings["lxc"] = [kv for kv in settings.get("lxc") or [] if kv[0] != "lxc.init.cmd"]
    lxc, cap_warnings = capability_lines(init_lines + [(str(k), str(v)) for k, v in settings.get("lxc") or []])
    more += cap_warnings
    return Deployment(bundle, template, path, packed, options, lxc, warnings + more, digest)


ENTRYPOINT_VAR = "NEXCAGE_ENTRYPOINT"
# One word (no whitespace) that makes sh run the command in $NEXCAGE_ENTRYPOINT: ${IFS%??} is a
# single space, which field splitting turns into a word break, so sh runs: eval "$NEXCAGE_ENTRYPOINT".
_EVAL_WORD = 'eval${IFS%%??}"$%s"' % ENTRYPOINT_VAR


def init_cmd_lines(args, rootfs):
    """process.args -> raw lines that make LXC run exactly these args as init.

    LXC 5.0 splits ``lxc.init.cmd`` on spaces and does not honour quotes (tested:
    ``touch '/data/a b'`` creates nothing, ``sh -c 'x; y'`` gets ``'x;`` as its script).
    Args without whitespace or quotes are written as they are. Otherwise the command is
    shell-quoted into the variable NEXCAGE_ENTRYPOINT (``lxc.environment``), and init is
    ``/bin/sh -c eval${IFS%??}"$NEXCAGE_ENTRYPOINT"``, which unsets the variable and execs the
    args: the process gets exactly its argv. That needs /bin/sh in the rootfs.
    """
    if not args:
        raise ValueError("no program to run")
    for arg in args:
        if arg == "" or re.search(r"[\x00-\x08\x0a-\x1f\x7f]", arg):
            raise ValueError("argument %r is empty or contains a control character" % arg)
    if not any(re.search(r"[\s'\"]", arg) for arg in args):
        return [("lxc.init.cmd", " ".join(args))]
    if not os.path.lexists(os.path.join(rootfs, "bin", "sh")):
        raise ValueError(
            "arguments with whitespace or quotes need /bin/sh in the rootfs (LXC splits lxc.init.cmd on spaces)"
        )
    command = "unset %s; exec %s" % (ENTRYPOINT_VAR, shlex.join(args))
    return [("lxc.init.cmd", "/bin/sh -c %s" % _EVAL_WORD), ("lxc.environment", "%s=%s" % (ENTRYPOINT_VAR, command))]


# LXC itself needs these in the bounding set to set up and start the container (tested with
# LXC 5.0: runc's default bounding set audit_write/kill/net_bind_service, even plus setuid/setgid,
# makes "pct start" fail; adding sys_admin and setpcap makes it start).
LXC_NEEDS_CAPS = ("setpcap", "sys_admin")


def capability_lines(lines):
    """Make the mapped ``lxc.cap.keep`` line startable; return (lines, warnings).

    * LXC refuses ``lxc.cap.keep`` while a drop list is set ("Keeping and dropping
      capabilities are mutually exclusive"), and the common.conf every PVE container
      includes sets ``lxc.cap.drop``: an empty ``lxc.cap.drop`` before it clears that list.
    * A bounding set without the capabilities LXC needs to start cannot be applied: it is
      left out with a warning (the container gets PVE's default set, common.conf's drop list).
    """
    out, warnings = [], []
    for key, value in lines:
        if key == "lxc.cap.keep":
            keep = value.split()
            missing = [c for c in LXC_NEEDS_CAPS if c not in keep]
            if missing:
                warnings.append(
                    "$.process.capabilities.bounding: not applied: LXC cannot start a container whose bounding "
                    "set lacks %s; the container gets Proxmox VE's default capabilities" % ", ".join(missing)
                )
                continue
            out.append(("lxc.cap.drop", ""))
        out.append((key, value))
    return out, warnings


def _problem_text(problem):
    if isinstance(problem, dict):
        return "%s: %s" % (problem.get("path", "$"), problem.get("message", problem))
    return str(problem)


# --------------------------------------------------------------------------- pct argv


def create_argv(vmid, deployment, rootfs=None, extra=()):
    argv = ["pct", "create", str(vmid), deployment.template]
    for key, value in list(deployment.options) + list(extra):
        argv += ["--" + key, value]
    if rootfs:
        argv += ["--rootfs", rootfs]
    return argv


def _current(config, key):
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, dict):
        return C.format_value(key, value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return ("%.2f" % value).rstrip("0").rstrip(".")
    return str(value)


def _normalise_mp(value):
    fields = sorted(value.split(","))
    return ",".join(f for f in fields if f not in ("ro=0",))


def config_changes(vmid, deployment, config):
    """[(key, before, after)] for the options that differ from the current config, and keys to delete."""
    changes = []
    wanted = dict(deployment.options)
    for key, value in deployment.options:
        if key == "unprivileged":
            continue  # create-only; compared by the caller
        before = _current(config, key)
        if re.fullmatch(r"mp\d+", key):
            if before is None or _normalise_mp(before) != _normalise_mp(value):
                changes.append((key, before, value))
        elif before != value:
            changes.append((key, before, value))
    deletes = []
    for key in sorted(config):
        if re.fullmatch(r"mp\d+", key) and key not in wanted:
            value = _current(config, key) or ""
            if not value.split(",")[0].startswith("/"):
                continue  # a storage volume: not the bundle's to remove
            deletes.append(key)
    return changes, deletes


def set_argv(vmid, changes, deletes):
    if not changes and not deletes:
        return None
    argv = ["pct", "set", str(vmid)]
    for key, _before, after in changes:
        argv += ["--" + key, after]
    if deletes:
        argv += ["--delete", ",".join(deletes)]
    return argv


# --------------------------------------------------------------------------- raw lxc lines


def conf_path(vmid):
    return os.path.join(LXC_CONF_DIR, "%s.conf" % vmid)


def lock_path(vmid):
    return os.path.join(LOCK_DIR, "pve-config-%s.lock" % vmid)


class config_lock:
    """flock of /run/lock/lxc/pve-config-<vmid>.lock, as PVE takes it for config changes."""

    def __init__(self, vmid, timeout=LOCK_TIMEOUT):
        self.vmid = vmid
        self.timeout = timeout
        self.handle = None

    def __enter__(self):
        os.makedirs(LOCK_DIR, exist_ok=True)
        self.handle = open(lock_path(self.vmid), "a+")
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self.handle.close()
                    raise NexcageError(
                        TIMEOUT,
                        "can't lock file '%s' - got timeout" % lock_path(self.vmid),
                        hint="Another task is changing the config of CT %s; retry when it has finished." % self.vmid,
                    ) from None
                time.sleep(0.05)

    def __exit__(self, *exc):
        fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
        self.handle.close()
        return False


def split_main_section(text):
    """(main lines without raw lxc.* lines, raw [(key, value)] of the main section, rest lines)."""
    main, raw, rest = [], [], []
    in_main = True
    for line in text.splitlines():
        if in_main and re.match(r"^\s*\[[^\]]+\]\s*$", line):
            in_main = False
        if not in_main:
            rest.append(line)
            continue
        match = re.match(r"^(lxc\.[a-zA-Z0-9_.\-]+)\s*[:=]\s*(.*?)\s*$", line)
        if match:
            raw.append((match.group(1), match.group(2)))
        else:
            main.append(line)
    while main and not main[-1].strip():
        main.pop()
    return main, raw, rest


def render_conf(main, lines, rest):
    out = list(main) + ["%s: %s" % (k, v) for k, v in lines]
    if rest:
        out += [""] + rest
    return "\n".join(out) + "\n"


def write_raw_lines(vmid, lines, check_mode=False):
    """Make the raw lxc.* lines of CT vmid's current section exactly lines; return (changed, before, after)."""
    lines = [(str(k), str(v)) for k, v in lines]
    path = conf_path(vmid)
    with config_lock(vmid):
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            if check_mode:
                return True, [], lines
            raise NexcageError(NOT_FOUND, "Configuration file '%s' does not exist" % path) from None
        main, before, rest = split_main_section(text)
        if before == lines:
            return False, before, lines
        if not check_mode:
            tmp = "%s.tmp.%d" % (path, os.getpid())
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(render_conf(main, lines, rest))
            os.replace(tmp, path)
    return True, before, lines


# --------------------------------------------------------------------------- the whole deploy


def _status(runner, vmid):
    result = runner.run(["pct", "status", str(vmid)], check=False)
    if result.rc != 0:
        return None
    return result.stdout.strip().split(":", 1)[-1].strip()


def _run(runner, argv, action, vmid):
    try:
        return runner.run(argv, mutating=True, timeout=max(runner.timeout, 600))
    except CommandFailed as exc:
        raise from_result(exc.result, action, vmid) from None


def deploy(runner, vmid, bundle, state="started", storage="local", rootfs=None, recreate=False):
    """Converge CT vmid to the bundle; state present|started|stopped|absent. Returns a result dict."""
    vmid = int(vmid)
    path = conf_path(vmid)
    exists = os.path.isfile(path)
    result = {"changed": False, "vmid": vmid, "steps": [], "warnings": []}
    if state == "absent":
        if exists:
            if _status(runner, vmid) == "running":
                _run(runner, ["pct", "stop", str(vmid)], "stop", vmid)
            _run(runner, ["pct", "destroy", str(vmid)], "destroy", vmid)
            result.update(changed=True, steps=["destroy"])
        return result
    dep = prepare(runner, bundle, storage)
    result["deployment"] = dep.to_dict()
    result["warnings"] = list(dep.warnings)
    if dep.packed:
        result["changed"] = True
        result["steps"].append("pack")
    running = False
    if exists:
        with open(path, encoding="utf-8") as handle:
            config = C.effective_config(C.parse_config(handle.read()))
        recorded = config.get("unprivileged")
        want_unpriv = dict(dep.options).get("unprivileged") == "1"
        if bool(recorded) != want_unpriv or (dep.packed and recreate):
            if not recreate:
                raise NexcageError(
                    INVALID_ARGUMENT,
                    "CT %s: the bundle needs a new container (unprivileged %s -> %s)"
                    % (vmid, bool(recorded), want_unpriv),
                    hint="Set recreate: true to destroy and recreate the container (this DESTROYS its data).",
                )
            running = _status(runner, vmid) == "running"
            if running:
                _run(runner, ["pct", "stop", str(vmid)], "stop", vmid)
            _run(runner, ["pct", "destroy", str(vmid)], "destroy", vmid)
            result["steps"].append("destroy")
            exists = False
        else:
            if dep.packed:
                result["warnings"].append(
                    "the bundle rootfs changed; the existing container keeps its root disk (set recreate: true "
                    "to redeploy it from %s)" % dep.template
                )
            changes, deletes = config_changes(vmid, dep, config)
            argv = set_argv(vmid, changes, deletes)
            if argv:
                _run(runner, argv, "update", vmid)
                result["changed"] = True
                result["steps"].append("update")
                result["changes"] = [{"key": k, "before": b, "after": a} for k, b, a in changes]
    if not exists:
        _run(runner, create_argv(vmid, dep, rootfs), "create", vmid)
        result["changed"] = True
        result["steps"].append("create")
    raw_changed, before, after = write_raw_lines(vmid, dep.lxc, check_mode=runner.check_mode)
    if raw_changed:
        result["changed"] = True
        result["steps"].append("lxc")
        result["lxc"] = {"before": [list(kv) for kv in before], "after": [list(kv) for kv in after]}
    status = None if runner.check_mode and not exists else _status(runner, vmid)
    running = status == "running"
    changed_config = any(s in result["steps"] for s in ("update", "lxc")) and exists
    if state == "started":
        if running and changed_config:
            # The bundle's process is PID 1 and usually has no SIGPWR handler, so a clean
            # reboot would only wait for its timeout: restart it with stop + start.
            _run(runner, ["pct", "stop", str(vmid)], "stop", vmid)
            _run(runner, ["pct", "start", str(vmid)], "start", vmid)
            result["steps"].append("restart")
        elif not running:
            _run(runner, ["pct", "start", str(vmid)], "start", vmid)
            result["changed"] = True
            result["steps"].append("start")
    elif state == "stopped" and running:
        _run(runner, ["pct", "stop", str(vmid)], "stop", vmid)
        result["changed"] = True
        result["steps"].append("stop")
    result["commands"] = runner.commands
    return result


# --------------------------------------------------------------------------- nexcage_container wiring

# nexcage_container parameters the bundle's settings fill in (when the task does not set them).
PARAM_KEYS = ("hostname", "memory", "swap", "cpulimit", "cpuunits", "ostype", "unprivileged")


def merge_params(params, deployment):
    """nexcage_container params for a bundle deployment; return (params, warnings).

    image becomes the packed template volume; hostname, memory, swap, cpulimit,
    cpuunits, ostype and unprivileged come from the bundle unless the task sets
    them (the task wins, with a warning when it differs); the bundle's bind mounts
    are appended to ``mounts`` with ids after the task's own. ``cmode`` and the raw
    ``lxc.*`` lines are not nexcage_container parameters: pass ``extra_options``
    and ``deployment.lxc`` on (``write_raw_lines`` after create/update).
    """
    out = dict(params)
    warnings = []
    out["image"] = deployment.template
    options = dict(deployment.options)
    for key in PARAM_KEYS:
        if key not in options:
            continue
        value = options[key]
        typed = (
            value == "1"
            if key == "unprivileged"
            else float(value)
            if key == "cpulimit"
            else int(value)
            if key in ("memory", "swap", "cpuunits")
            else value
        )
        if params.get(key) is None:
            out[key] = typed
        elif params[key] != typed:
            warnings.append("%s: the task's %r is used instead of the bundle's %r" % (key, params[key], typed))
    mounts = list(params.get("mounts") or [])
    used = {m.get("id") for m in mounts}
    next_id = 0
    for key, value in deployment.options:
        if not re.fullmatch(r"mp\d+", key):
            continue
        while next_id in used:
            next_id += 1
        fields = value.split(",")
        props = dict(f.split("=", 1) for f in fields[1:])
        mounts.append(
            {
                "id": next_id,
                "host_path": fields[0],
                "mountpoint": props["mp"],
                "read_only": props.get("ro") == "1",
            }
        )
        used.add(next_id)
    out["mounts"] = mounts or params.get("mounts")
    return out, warnings


def extra_options(deployment):
    """The pct options a bundle needs that nexcage_container has no parameter for (cmode)."""
    return [(k, v) for k, v in deployment.options if k == "cmode"]
