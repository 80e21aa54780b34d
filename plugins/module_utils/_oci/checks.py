# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks of an OCI runtime config.json: the schema, then semantics. PRIVATE to the collection.

``schema_problems`` validates against ``schema.CONFIG_SCHEMA`` with jsonschema, which is imported
only here and only when a task validates (``import_jsonschema`` turns its absence into a clean
error with the install hint). The schema alone lets through much of what runtimes refuse
(oci-runtime-tool ``validate`` catches it), so ``semantic_problems`` adds those checks.

Each problem is a dict as ``problems`` describes it.
"""

from __future__ import annotations

import os
import re
import stat

from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import (
    UNSUPPORTED,
    NexcageError,
    ValidationError,
)
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import configline
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.config import ALLOWED_OCI_ANNOTATIONS
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.problems import Problems, json_path, problem, short
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.schema import CONFIG_SCHEMA
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.tree import resolve_in_root

JSONSCHEMA_HINT = "On Debian and Proxmox VE install it with: apt-get install python3-jsonschema"

# ---------------------------------------------------------------------------
# The schema (jsonschema is optional: imported only when a task validates)
# ---------------------------------------------------------------------------


def import_jsonschema():
    """The jsonschema module, or a NexcageError naming the library and how to install it."""
    try:
        import jsonschema
    except ImportError as exc:
        from ansible.module_utils.basic import missing_required_lib

        raise NexcageError(
            UNSUPPORTED,
            "%s %s" % (missing_required_lib("jsonschema"), JSONSCHEMA_HINT),
            hint=JSONSCHEMA_HINT,
            exception=str(exc),
        ) from None
    return jsonschema


_SCHEMA_FIXES = {
    "required": "add the missing property",
    "type": "use a value of the type the schema names",
    "enum": "use one of the allowed values",
    "minimum": "use a larger value",
    "maximum": "use a smaller value",
    "pattern": "use a value matching the pattern",
    "minItems": "add at least one entry",
    "anyOf": "use one of the allowed forms",
    "allOf": "satisfy every part of the definition",
}


def schema_problems(config):
    """Validate against CONFIG_SCHEMA; one problem per (leaf) schema error."""
    jsonschema = import_jsonschema()
    validator = jsonschema.Draft4Validator(CONFIG_SCHEMA)
    out = []
    for err in sorted(validator.iter_errors(config), key=lambda e: [str(x) for x in e.absolute_path]):
        for leaf in _leaf_errors(jsonschema, err):
            parts = list(leaf.absolute_path)
            value = leaf.instance
            if leaf.validator == "required":
                missing = re.findall(r"'([^']*)' is a required property", leaf.message)
                if missing:
                    parts = parts + [missing[0]]
                    value = None
            fix = _SCHEMA_FIXES.get(leaf.validator, "correct the value")
            if leaf.validator in ("type", "enum", "pattern", "minimum", "maximum"):
                fix = "%s (%s: %s)" % (fix, leaf.validator, short(leaf.validator_value))
            out.append(problem(parts, value, "schema: " + leaf.message, fix, check="schema"))
    return out


def _leaf_errors(jsonschema, err):
    if not err.context:
        return [err]
    best = jsonschema.exceptions.best_match(err.context)
    return _leaf_errors(jsonschema, best) if best is not None else [err]


# ---------------------------------------------------------------------------
# Tables (oci-runtime-tool validate, runc's own checks)
# ---------------------------------------------------------------------------

POSIX_RLIMITS = (
    "RLIMIT_AS",
    "RLIMIT_CORE",
    "RLIMIT_CPU",
    "RLIMIT_DATA",
    "RLIMIT_FSIZE",
    "RLIMIT_NOFILE",
    "RLIMIT_STACK",
)
LINUX_RLIMITS = POSIX_RLIMITS + (
    "RLIMIT_MEMLOCK",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_NPROC",
    "RLIMIT_RSS",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
    "RLIMIT_SIGPENDING",
)

# moby/sys/capability ListKnown() (Linux 6.x: CAP_CHECKPOINT_RESTORE is the last, 40).
KNOWN_CAPABILITIES = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
CAPABILITY_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_REVERSE_DOMAIN = re.compile(r"^[A-Za-z]{2,6}(\.[A-Za-z0-9-]{1,63})+$")
_ENV_NAME = re.compile(r"^[A-Za-z0-9_]+$")
HOSTNAME = re.compile(r"^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$")
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def is_valid_hostname(hostname):
    return len(hostname) <= 255 and bool(HOSTNAME.match(hostname))


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _is_abs(value):
    return isinstance(value, str) and value.startswith("/")


def _absolute_fix(value):
    return 'use "/%s"' % value.lstrip("./")


def _positive(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _dicts(values):
    """(index, entry) for the dict entries of a list (anything else: the schema reports it)."""
    if not isinstance(values, list):
        return []
    return [(index, entry) for index, entry in enumerate(values) if isinstance(entry, dict)]


def _duplicate(seen, key, index):
    """The index key was first seen at, or None (and remember it)."""
    if key in seen:
        return seen[key]
    seen[key] = index
    return None


def root_dir(config, bundle_dir):
    """The host path of the bundle's root filesystem, or None."""
    root = config.get("root")
    if not isinstance(root, dict) or not isinstance(root.get("path"), str) or bundle_dir is None:
        return None
    path = root["path"]
    return os.path.normpath(path if path.startswith("/") else os.path.join(bundle_dir, path))


# ---------------------------------------------------------------------------
# Semantic checks, by section
# ---------------------------------------------------------------------------


def _check_env(entries, parts, out):
    if not isinstance(entries, list):
        return
    for index, entry in enumerate(entries):
        if not isinstance(entry, str):
            continue
        where = parts + [index]
        if "=" not in entry:
            out.error(
                "env",
                where,
                entry,
                "environment entry is not KEY=value",
                "write it as NAME=value (an empty value is written NAME=)",
            )
            continue
        name = entry.split("=", 1)[0].strip()
        if not name or not _ENV_NAME.match(name):
            out.error(
                "env",
                where,
                entry,
                "environment variable name %s may contain only letters, digits and '_'" % short(name),
                "rename the variable, e.g. %s" % (re.sub(r"[^A-Za-z0-9_]", "_", name) or "NAME"),
            )
        elif name[0].isdigit():
            out.warning(
                "env",
                where,
                entry,
                "environment variable name starts with a digit",
                "start the name with a letter or '_'",
            )


def _check_root(config, bundle_dir, out, rootfs=None, rootfs_known=True):
    root = config.get("root")
    if root is None:
        out.error("root", ["root"], None, "root is REQUIRED on Linux", 'set "root": {"path": "rootfs"}')
        return
    if not isinstance(root, dict) or not isinstance(root.get("path"), str):
        return
    path = root["path"]
    where = ["root", "path"]
    if os.path.basename(path.rstrip("/")) != "rootfs":
        out.warning("root", where, path, "the root filesystem directory SHOULD be named rootfs", 'use "rootfs"')
    if bundle_dir is None:
        return
    full = root_dir(config, bundle_dir)
    if os.path.dirname(full) != os.path.normpath(os.path.abspath(bundle_dir)):
        out.error(
            "root",
            where,
            path,
            "the root filesystem must be a directory directly inside the bundle",
            'use "rootfs" (relative to the bundle)',
        )
    elif rootfs_known and not os.path.isdir(rootfs if rootfs is not None else full):
        out.error(
            "root",
            where,
            path,
            "the root filesystem directory %s does not exist" % full,
            "create it, or point root.path at the bundle's rootfs directory",
        )


def _check_process(config, rootfs, out):
    proc = config.get("process")
    if proc is None:
        out.error(
            "process",
            ["process"],
            None,
            "process is missing; runtimes need it to start the container",
            'add "process" with at least "cwd" and "args"',
        )
        return
    if not isinstance(proc, dict):
        return
    cwd = proc.get("cwd")
    if isinstance(cwd, str) and not cwd.startswith("/"):
        out.error("cwd", ["process", "cwd"], cwd, "process.cwd must be an absolute path", _absolute_fix(cwd))
    _check_env(proc.get("env"), ["process", "env"], out)
    args = proc.get("args")
    if args is None or (isinstance(args, list) and not args):
        out.error(
            "args",
            ["process", "args"],
            args,
            "process.args must have at least one entry (the program to run)",
            'set args, e.g. ["/bin/sh", "-c", "..."]',
        )
    elif isinstance(args, list) and isinstance(args[0], str):
        _check_executable(args[0], rootfs, proc.get("env"), out)
    _check_rlimits(proc.get("rlimits"), out)
    if isinstance(proc.get("capabilities"), dict):
        _check_capabilities(proc["capabilities"], out)
    _check_apparmor(proc.get("apparmorProfile"), rootfs, out)


def _check_rlimits(rlimits, out):
    seen = {}
    for index, rlimit in _dicts(rlimits):
        where = ["process", "rlimits", index]
        rtype = rlimit.get("type")
        if isinstance(rtype, str):
            first = _duplicate(seen, rtype, index)
            if first is not None:
                message = "rlimit %s is listed twice (also at index %d)" % (rtype, first)
                out.error("rlimits", where + ["type"], rtype, message, "keep one entry per rlimit type")
            if rtype not in LINUX_RLIMITS:
                fix = "use one of: %s" % ", ".join(LINUX_RLIMITS)
                out.error("rlimits", where + ["type"], rtype, "unknown rlimit type", fix)
        soft, hard = rlimit.get("soft"), rlimit.get("hard")
        if isinstance(soft, int) and isinstance(hard, int) and hard < soft:
            message = "hard limit %d is below soft limit %d" % (hard, soft)
            out.error("rlimits", where, rlimit, message, "raise hard to at least soft, or lower soft")


def _capability_fix(cap):
    name = "CAP_" + cap.upper().removeprefix("CAP_")
    if cap.upper() in KNOWN_CAPABILITIES or "CAP_" + cap.upper() in KNOWN_CAPABILITIES:
        return "write it as %s" % name
    return "use a known capability name such as %s" % name


def _check_capabilities(caps, out):
    sets = {}
    for name in CAPABILITY_SETS:
        values = caps.get(name)
        if not isinstance(values, list):
            continue
        sets[name] = {value for value in values if isinstance(value, str)}
        for index, cap in enumerate(values):
            if isinstance(cap, str) and cap not in KNOWN_CAPABILITIES:
                out.error(
                    "capabilities",
                    ["process", "capabilities", name, index],
                    cap,
                    "unknown capability",
                    _capability_fix(cap),
                )
    permitted = sets.get("permitted", set())
    for index, cap in enumerate(caps.get("effective") or []):
        if isinstance(cap, str) and cap not in permitted:
            out.error(
                "capabilities",
                ["process", "capabilities", "effective", index],
                cap,
                "effective capability is not in the permitted set",
                "add %s to capabilities.permitted" % cap,
            )
    inheritable = sets.get("inheritable", set())
    for index, cap in enumerate(caps.get("ambient") or []):
        if isinstance(cap, str) and (cap not in permitted or cap not in inheritable):
            out.error(
                "capabilities",
                ["process", "capabilities", "ambient", index],
                cap,
                "ambient capability must be both permitted and inheritable",
                "add %s to capabilities.permitted and capabilities.inheritable" % cap,
            )


def _check_apparmor(profile, rootfs, out):
    if not isinstance(profile, str) or not profile or not rootfs or profile == "unconfined":
        return
    if not os.path.exists(os.path.join(rootfs, "etc", "apparmor.d", profile)):
        out.warning(
            "apparmor",
            ["process", "apparmorProfile"],
            profile,
            "AppArmor profile not found under the rootfs /etc/apparmor.d",
            "add the profile to the rootfs, or remove apparmorProfile",
        )


def _program_candidates(arg0, env):
    if arg0.startswith("/"):
        return [arg0]
    path_value = DEFAULT_PATH
    for entry in env or []:
        if isinstance(entry, str) and entry.startswith("PATH="):
            path_value = entry[5:]
    return [d.rstrip("/") + "/" + arg0 for d in path_value.split(":") if d.startswith("/")]


def _check_executable(arg0, rootfs, env, out):
    if rootfs is None or not os.path.isdir(rootfs):
        return
    if "/" in arg0 and not arg0.startswith("/"):
        return  # relative to cwd: cannot be judged without the runtime's cwd handling
    candidates = _program_candidates(arg0, env)
    where = ["process", "args", 0]
    for candidate in candidates:
        try:
            host = resolve_in_root(rootfs, candidate)
        except OSError:
            continue
        if not os.path.lexists(host):
            continue
        try:
            mode = os.stat(host).st_mode
        except OSError:
            continue
        if stat.S_ISDIR(mode) or not mode & 0o111:
            what = "a directory" if stat.S_ISDIR(mode) else "not executable"
            fix = "point args[0] at an executable file, or chmod +x it"
            out.error("args", where, arg0, "%s in the rootfs is %s" % (candidate, what), fix)
        return
    shown = arg0 if arg0.startswith("/") else "%s (searched PATH: %s)" % (arg0, ", ".join(candidates))
    out.error(
        "args",
        where,
        arg0,
        "program %s not found in the rootfs" % shown,
        "install it in the rootfs or use the path of an existing program",
    )


def _check_mount_destination(index, dest, earlier, out):
    where = ["mounts", index, "destination"]
    if not dest.startswith("/"):
        out.error("mounts", where, dest, "mount destination must be an absolute path", _absolute_fix(dest))
    norm = os.path.normpath("/" + dest)
    for first, other in earlier:
        if other == norm:
            message = "this mount covers the earlier mount at index %d (same destination)" % first
            out.warning("mounts", where, dest, message, "remove one of the two mounts")
        elif other.startswith(norm.rstrip("/") + "/"):
            message = "%s (index %d) will be covered by this mount" % (other, first)
            out.warning("mounts", where, dest, message, "order mounts from outer to inner directories")
    earlier.append((index, norm))


def _check_mount_source(index, mount, bundle_dir, out):
    options = mount.get("options") or []
    if not (isinstance(options, list) and ("bind" in options or "rbind" in options)):
        return
    source = mount.get("source")
    where = ["mounts", index, "source"]
    if not source:
        out.error("mounts", where, source, "a bind mount needs a source", "set source to the host path to bind")
    elif isinstance(source, str) and bundle_dir is not None:
        host = source if source.startswith("/") else os.path.join(bundle_dir, source)
        if not os.path.exists(host):
            out.warning(
                "mounts",
                where,
                source,
                "bind mount source %s does not exist on this host (yet)" % host,
                "create it before the container starts, or fix the path",
            )


def _check_mounts(config, out, bundle_dir=None):
    earlier = []
    for index, mount in _dicts(config.get("mounts")):
        if isinstance(mount.get("destination"), str):
            _check_mount_destination(index, mount["destination"], earlier, out)
        _check_mount_source(index, mount, bundle_dir, out)
        if ("uidMappings" in mount) != ("gidMappings" in mount):
            message = "uidMappings and gidMappings must be given together"
            out.error("mounts", ["mounts", index], mount, message, "add the missing one")


def _new_namespaces(linux):
    """The namespace types the container gets new (the last entry of a type has no path)."""
    has_path = {}
    for _index, ns in _dicts(linux.get("namespaces")):
        if isinstance(ns.get("type"), str):
            has_path[ns["type"]] = bool(ns.get("path"))
    return {kind for kind, joined in has_path.items() if not joined}


def _check_namespace_list(linux, out):
    seen = {}
    for index, ns in _dicts(linux.get("namespaces")):
        ntype = ns.get("type")
        where = ["linux", "namespaces", index]
        first = _duplicate(seen, ntype, index)
        if first is not None:
            message = "namespace %s is listed twice (also at index %d)" % (ntype, first)
            out.error("namespaces", where + ["type"], ntype, message, "keep one entry per namespace type")
        path = ns.get("path")
        if path and not _is_abs(path):
            fix = "use the absolute path, e.g. /proc/<pid>/ns/%s" % ntype
            out.error("namespaces", where + ["path"], path, "namespace path must be absolute", fix)


def _check_namespace_needs(config, linux, out):
    new = _new_namespaces(linux)
    mappings = linux.get("uidMappings") or linux.get("gidMappings")
    if mappings and "user" not in new:
        key = "uidMappings" if linux.get("uidMappings") else "gidMappings"
        fix = 'add {"type": "user"} (without path) to linux.namespaces'
        out.error("namespaces", ["linux", key], mappings, "id mappings need a new user namespace", fix)
    if config.get("hostname") and "uts" not in new:
        fix = 'add {"type": "uts"} to linux.namespaces, or remove hostname'
        out.error("namespaces", ["hostname"], config["hostname"], "hostname needs a new uts namespace", fix)
    if linux.get("timeOffsets") and "time" not in new:
        fix = 'add {"type": "time"} to linux.namespaces'
        out.error(
            "namespaces", ["linux", "timeOffsets"], linux["timeOffsets"], "timeOffsets need a new time namespace", fix
        )
    sysctl = linux.get("sysctl")
    if not isinstance(sysctl, dict):
        return
    for key, value in sysctl.items():
        where = ["linux", "sysctl", key]
        if key.startswith("net.") and "network" not in new:
            fix = 'add {"type": "network"} to linux.namespaces'
            out.error("sysctl", where, value, "net.* sysctls need a new network namespace", fix)
        if key.startswith("fs.mqueue.") and not {"ipc", "mount"} <= new:
            fix = 'add {"type": "ipc"} and {"type": "mount"} to linux.namespaces'
            out.error("sysctl", where, value, "fs.mqueue.* sysctls need new ipc and mount namespaces", fix)


def _check_paths(linux, out):
    for key in ("maskedPaths", "readonlyPaths"):
        values = linux.get(key)
        if not isinstance(values, list):
            continue
        for index, value in enumerate(values):
            if isinstance(value, str) and not value.startswith("/"):
                out.error("paths", ["linux", key, index], value, "path must be absolute", _absolute_fix(value))


def _check_devices(linux, out):
    seen = {}
    for index, dev in _dicts(linux.get("devices")):
        where = ["linux", "devices", index]
        dpath = dev.get("path")
        first = _duplicate(seen, dpath, index)
        if first is not None:
            message = "device path listed twice (also at index %d)" % first
            out.error("devices", where + ["path"], dpath, message, "keep one entry per device path")
        if isinstance(dpath, str) and not dpath.startswith("/"):
            out.error("devices", where + ["path"], dpath, "device path must be absolute", _absolute_fix(dpath))
        if dev.get("type") in ("b", "c", "u") and ("major" not in dev or "minor" not in dev):
            message = "block and character devices need major and minor numbers"
            out.error("devices", where, dev, message, "add major and minor")


def _check_memory(mem, out):
    where = ["linux", "resources", "memory"]
    limit, swap, reservation = mem.get("limit"), mem.get("swap"), mem.get("reservation")
    if _positive(limit) and _positive(swap) and swap < limit:
        message = "memory.swap (memory plus swap) %d is below memory.limit %d" % (swap, limit)
        fix = "set swap to at least the limit (swap = limit means no swap)"
        out.error("resources", where + ["swap"], swap, message, fix)
    if _positive(limit) and _positive(reservation) and reservation > limit:
        message = "memory.reservation %d is above memory.limit %d" % (reservation, limit)
        out.error(
            "resources", where + ["reservation"], reservation, message, "lower the reservation or raise the limit"
        )


def _check_cpu(cpu, out):
    where = ["linux", "resources", "cpu"]
    quota, burst, period = cpu.get("quota"), cpu.get("burst"), cpu.get("period")
    if _positive(quota) and isinstance(burst, int) and burst > quota:
        message = "cpu.burst %d is above cpu.quota %d" % (burst, quota)
        out.error("resources", where + ["burst"], burst, message, "lower burst to at most the quota")
    if _positive(quota) and period == 0:
        fix = "use a period such as 100000 (microseconds)"
        out.error("resources", where + ["period"], period, "cpu.period 0 with a quota", fix)


def _check_device_rules(resources, out):
    for index, dev in _dicts(resources.get("devices") or []):
        where = ["linux", "resources", "devices", index]
        if dev.get("type") not in (None, "", "a", "b", "c"):
            fix = 'use "a" (all), "b" (block) or "c" (character)'
            out.error("resources", where + ["type"], dev.get("type"), "device cgroup type must be a, b or c", fix)
        access = dev.get("access")
        if isinstance(access, str) and set(access) - set("rwm"):
            message = "device cgroup access may only contain r, w and m"
            out.error("resources", where + ["access"], access, message, "use a combination of r, w, m")
    for index, weight in _dicts((resources.get("blockIO") or {}).get("weightDevice") or []):
        if "weight" not in weight and "leafWeight" not in weight:
            where = ["linux", "resources", "blockIO", "weightDevice", index]
            out.error("resources", where, weight, "weightDevice entry needs weight or leafWeight", "add weight")


def _check_resources(linux, out):
    resources = linux.get("resources")
    if not isinstance(resources, dict):
        return
    if isinstance(resources.get("memory"), dict):
        _check_memory(resources["memory"], out)
    if isinstance(resources.get("cpu"), dict):
        _check_cpu(resources["cpu"], out)
    _check_device_rules(resources, out)


def _check_linux(config, out):
    linux = config.get("linux")
    if not isinstance(linux, dict):
        if config.get("hostname"):
            out.error(
                "namespaces",
                ["hostname"],
                config.get("hostname"),
                "hostname needs a new uts namespace, and linux.namespaces is missing",
                'add {"type": "uts"} to linux.namespaces',
            )
        return
    _check_namespace_list(linux, out)
    _check_namespace_needs(config, linux, out)
    _check_paths(linux, out)
    _check_devices(linux, out)
    _check_resources(linux, out)


def _check_annotations(config, out):
    annotations = config.get("annotations")
    if not isinstance(annotations, dict):
        return
    for key, value in annotations.items():
        where = ["annotations", key]
        if key == "":
            fix = "use a reverse-domain key such as com.example.key"
            out.error("annotations", where, value, "annotation keys must not be empty", fix)
        elif key.startswith("org.opencontainers"):
            if key not in ALLOWED_OCI_ANNOTATIONS:
                fix = "use your own reverse-domain prefix, or one of: %s" % ", ".join(ALLOWED_OCI_ANNOTATIONS)
                out.error("annotations", where, value, "the org.opencontainers namespace is reserved", fix)
        elif not _REVERSE_DOMAIN.match(key):
            fix = "rename it, e.g. com.example.%s" % re.sub(r"[^A-Za-z0-9-]", "-", key)
            out.warning("annotations", where, value, "annotation key should use reverse-domain notation", fix)


def _check_hooks(config, out):
    hooks = config.get("hooks")
    if not isinstance(hooks, dict):
        return
    for kind, entries in hooks.items():
        if not isinstance(entries, list):
            continue
        for index, hook in _dicts(entries):
            where = ["hooks", kind, index]
            if isinstance(hook.get("path"), str) and not hook["path"].startswith("/"):
                fix = "use the absolute path of the hook program"
                out.error("hooks", where + ["path"], hook["path"], "hook path must be absolute", fix)
            _check_env(hook.get("env"), where + ["env"], out)
        if kind == "prestart" and entries:
            out.warning(
                "hooks", ["hooks", "prestart"], entries, "prestart hooks are deprecated", "use createRuntime hooks"
            )


def _check_version(config, out):
    version = config.get("ociVersion")
    if isinstance(version, str) and not _SEMVER.match(version):
        fix = 'use the spec version, e.g. "1.3.0"'
        out.error("version", ["ociVersion"], version, "ociVersion is not a SemVer 2.0.0 version", fix)


def _check_hostname(config, out):
    hostname = config.get("hostname")
    if isinstance(hostname, str) and hostname and not is_valid_hostname(hostname):
        fix = "use letters, digits and '-' in dot-separated labels"
        out.error("hostname", ["hostname"], hostname, "hostname is not a valid DNS name", fix)


def semantic_problems(config, bundle_dir=None, rootfs=None, rootfs_known=True):
    """The checks oci-runtime-tool validate (and runc) make beyond the schema.

    bundle_dir: the bundle directory, for the root checks (None skips them).
    rootfs: the root filesystem to look programs up in (None skips that check;
    defaults to the bundle's root when bundle_dir is given); it may differ from
    the bundle's root while a new rootfs is being built beside the bundle.
    rootfs_known: False when the rootfs content is not available yet (check
    mode before unpacking): the checks that look into it are skipped.
    """
    if not isinstance(config, dict):
        return [problem([], config, "config.json must hold a JSON object", "write a JSON object", check="load")]
    out = Problems()
    if rootfs is None and bundle_dir is not None and rootfs_known:
        rootfs = root_dir(config, bundle_dir)
    _check_version(config, out)
    _check_root(config, bundle_dir, out, rootfs=rootfs, rootfs_known=rootfs_known)
    _check_process(config, rootfs, out)
    _check_mounts(config, out, bundle_dir=bundle_dir)
    _check_linux(config, out)
    _check_annotations(config, out)
    _check_hooks(config, out)
    _check_hostname(config, out)
    return out.items + control_character_problems(config)


def validate_config(config, bundle_dir=None, rootfs=None, rootfs_known=True):
    """Schema problems, then semantic problems."""
    return schema_problems(config) + semantic_problems(
        config, bundle_dir=bundle_dir, rootfs=rootfs, rootfs_known=rootfs_known
    )


HOOKS_FIX = (
    "remove hooks from config.json, or set allow_hooks: true if the host really is to run them "
    "(OCI hooks run programs on the host as root)"
)


def hook_problems(config, allow_hooks=False):
    """Errors for OCI hooks (programs the runtime runs on the host, as root) unless allow_hooks."""
    hooks = config.get("hooks") if isinstance(config, dict) else None
    if allow_hooks or not isinstance(hooks, dict):
        return []
    return [
        problem(["hooks", kind], entries, "OCI hooks run programs on the host as root", HOOKS_FIX, check="hooks")
        for kind, entries in sorted(hooks.items())
        if entries
    ]


# Fields not mapped to a Proxmox VE config line: argv and environment of host-side hooks (gated by
# allow_hooks), the container's argv (mapped, and checked, by the deployment), free annotations.
_LINE_FREE = (("process", "args"), ("hooks",), ("annotations",))
_MAPPED_ANNOTATIONS = ("org.opencontainers.image.stopSignal",)


def _line_free(parts):
    if parts == ["annotations"] or (parts[:1] == ["annotations"] and parts[1] in _MAPPED_ANNOTATIONS):
        return False
    return any(tuple(parts[: len(prefix)]) == prefix for prefix in _LINE_FREE)


def control_character_problems(config, parts=None):
    """Errors for control characters in the fields a deployment writes into a Proxmox VE config line:
    a newline there would start a line of its own (e.g. an lxc.hook that runs on the host)."""
    parts = parts or []
    found = []
    if _line_free(parts):
        return found
    if isinstance(config, dict):
        for key, value in config.items():
            found += control_character_problems(key, parts + [key]) if isinstance(key, str) else []
            found += control_character_problems(value, parts + [key])
    elif isinstance(config, list):
        for index, value in enumerate(config):
            found += control_character_problems(value, parts + [index])
    elif isinstance(config, str):
        try:
            configline.check_value(config, option=json_path(parts))
        except ValidationError as exc:
            found.append(problem(parts, config, exc.message, configline.CONTROL_FIX, check="line"))
    return found
