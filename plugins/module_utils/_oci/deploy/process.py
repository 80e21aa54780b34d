# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""config.json ``process`` -> LXC init, environment, limits and capabilities. PRIVATE to the collection."""

from __future__ import annotations

import os
import re
import shlex

UINT64_MAX = 18446744073709551615
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_PVE_ENV_NAME = re.compile(r"^\w+$")

ENTRYPOINT_VAR = "NEXCAGE_ENTRYPOINT"
# One word (no whitespace) that makes sh run the command in $NEXCAGE_ENTRYPOINT: ${IFS%??} is a
# single space, which field splitting turns into a word break, so sh runs: eval "$NEXCAGE_ENTRYPOINT".
_EVAL_WORD = 'eval${IFS%%??}"$%s"' % ENTRYPOINT_VAR

# LXC itself needs these in the bounding set to set up and start the container (tested with
# LXC 5.0: runc's default bounding set audit_write/kill/net_bind_service, even plus setuid/setgid,
# makes "pct start" fail; adding sys_admin and setpcap makes it start).
LXC_NEEDS_CAPS = ("setpcap", "sys_admin")
UNMAPPED = ("oomScoreAdj", "scheduler", "ioPriority", "execCPUAffinity", "consoleSize")


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
        if arg == "" or CONTROL.search(arg):
            raise ValueError("argument %r is empty or contains a control character" % arg)
    if not any(re.search(r"[\s'\"]", arg) for arg in args):
        return [("lxc.init.cmd", " ".join(args))]
    if not os.path.lexists(os.path.join(rootfs, "bin", "sh")):
        raise ValueError(
            "arguments with whitespace or quotes need /bin/sh in the rootfs (LXC splits lxc.init.cmd on spaces)"
        )
    command = "unset %s; exec %s" % (ENTRYPOINT_VAR, shlex.join(args))
    return [("lxc.init.cmd", "/bin/sh -c %s" % _EVAL_WORD), ("lxc.environment", "%s=%s" % (ENTRYPOINT_VAR, command))]


def capability_lines(bounding):
    """The raw lines for the bounding set, and a warning when LXC could not start with it.

    LXC refuses ``lxc.cap.keep`` while a drop list is set ("Keeping and dropping capabilities are
    mutually exclusive"), and the common.conf every PVE container includes sets ``lxc.cap.drop``:
    an empty ``lxc.cap.drop`` before it clears that list. A bounding set without the capabilities
    LXC needs to start cannot be applied: it is left out with a warning (the container gets PVE's
    default set, common.conf's drop list).
    """
    keep = [cap.lower().removeprefix("cap_") for cap in bounding]
    missing = [cap for cap in LXC_NEEDS_CAPS if cap not in keep]
    if missing:
        return [], (
            "not applied: LXC cannot start a container whose bounding set lacks %s; the container gets "
            "Proxmox VE's default capabilities" % ", ".join(missing)
        )
    return [("lxc.cap.drop", ""), ("lxc.cap.keep", " ".join(keep))], None


def _map_args(proc, rootfs, found):
    try:
        lines = init_cmd_lines(proc.get("args") or [], rootfs or "")
    except ValueError as exc:
        found.error("$.process.args", str(exc))
        return
    for key, value in lines:
        found.raw("$.process.args", key, value)
    found.pct.append(("cmode", "console"))


def _map_user(proc, found):
    user = proc.get("user") or {}
    for field, key in (("uid", "lxc.init.uid"), ("gid", "lxc.init.gid")):
        if field in user:
            found.raw("$.process.user." + field, key, user[field])
    if user.get("additionalGids"):
        groups = ",".join(str(gid) for gid in user["additionalGids"])
        found.raw("$.process.user.additionalGids", "lxc.init.groups", groups)
    if user.get("umask") is not None:
        found.warn("$.process.user.umask", "not mapped (LXC has no init umask setting)")


def _map_env(proc, found):
    for index, entry in enumerate(proc.get("env") or []):
        path = "$.process.env[%d]" % index
        if CONTROL.search(entry):
            found.error(path, "contains a control character")
            continue
        if not _PVE_ENV_NAME.match(entry.split("=", 1)[0]):
            found.warn(path, "name is not accepted by PVE's env option; written as raw lxc.environment")
        found.raw(path, "lxc.environment", entry)


def _limit(value):
    return "unlimited" if value >= UINT64_MAX else str(value)


def _map_rlimits(proc, found):
    for index, rlimit in enumerate(proc.get("rlimits") or []):
        name = rlimit["type"].lower().removeprefix("rlimit_")
        value = "%s:%s" % (_limit(rlimit["soft"]), _limit(rlimit["hard"]))
        found.raw("$.process.rlimits[%d]" % index, "lxc.prlimit.%s" % name, value)


def _map_capabilities(proc, found):
    caps = proc.get("capabilities")
    if caps is None:
        return
    bounding = caps.get("bounding") or []
    lines, warning = capability_lines(bounding)
    if warning:
        found.warn("$.process.capabilities.bounding", warning)
    for key, value in lines:
        found.raw("$.process.capabilities.bounding", key, value)
    others = {key: sorted(value or []) for key, value in caps.items() if key in ("effective", "permitted")}
    if any(value != sorted(bounding) for value in others.values()):
        found.warn("$.process.capabilities", "LXC models one capability set; the bounding set is kept")


def map_process(config, rootfs, found):
    """Fill found (a Mapped) from config.json's process; rootfs is the bundle's root directory."""
    proc = config.get("process") or {}
    _map_args(proc, rootfs, found)
    if proc.get("cwd"):
        found.raw("$.process.cwd", "lxc.init.cwd", proc["cwd"])
    _map_user(proc, found)
    _map_env(proc, found)
    if proc.get("terminal"):
        found.warn("$.process.terminal", "no exact equivalent; the entrypoint runs with cmode console")
    _map_rlimits(proc, found)
    _map_capabilities(proc, found)
    if proc.get("noNewPrivileges"):
        found.warn("$.process.noNewPrivileges", "not mapped (PVE rejects lxc.no_new_privs)")
    if proc.get("apparmorProfile"):
        found.raw("$.process.apparmorProfile", "lxc.apparmor.profile", proc["apparmorProfile"])
    if proc.get("selinuxLabel"):
        found.raw("$.process.selinuxLabel", "lxc.selinux.context", proc["selinuxLabel"])
    found.unmapped("$.process", proc, UNMAPPED, when_present=True)
