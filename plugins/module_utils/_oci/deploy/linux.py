# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""config.json ``hostname``, ``root``, ``linux`` (but resources), ``hooks`` and ``annotations`` ->
hostname, unprivileged, id maps, sysctls. PRIVATE to the collection."""

from __future__ import annotations

import os

from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.checks import is_valid_hostname
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.defaults import default_config

PVE_DEFAULT_IDMAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]
IPC_SYSCTLS = (
    "fs.mqueue.",
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
)
OTHER_PLATFORMS = ("solaris", "windows", "vm", "zos", "freebsd")
UNMAPPED = ("cgroupsPath", "rootfsPropagation", "mountLabel", "intelRdt", "memoryPolicy", "personality", "timeOffsets")


def rootfs_dir(config, bundle_dir):
    """The bundle's root filesystem directory on the host, or None."""
    root = config.get("root") or {}
    if not isinstance(root.get("path"), str):
        return None
    path = root["path"]
    return os.path.normpath(path if path.startswith("/") else os.path.join(bundle_dir, path))


def map_identity(config, bundle_dir, found):
    """hostname, domainname, root and the other platforms' sections."""
    hostname = config.get("hostname")
    if hostname:
        if is_valid_hostname(hostname):
            found.options["hostname"] = hostname
        else:
            found.error("$.hostname", "%r is not a valid PVE hostname (dns-name)" % hostname)
    if config.get("domainname"):
        found.warn("$.domainname", "not mapped (PVE sets the search domain with the searchdomain option)")
    if rootfs_dir(config, bundle_dir) is None:
        found.error("$.root.path", "the bundle has no root filesystem")
    if (config.get("root") or {}).get("readonly"):
        found.warn("$.root.readonly", "not applied (a PVE container's root disk is always writable)")
    for key in OTHER_PLATFORMS:
        if config.get(key):
            found.error("$." + key, "settings for another platform cannot be mapped to a Linux container")


def _map_user_namespace(linux, found):
    types = {ns.get("type") for ns in linux.get("namespaces") or []}
    found.options["unprivileged"] = "user" in types
    if "user" not in types:
        return
    uid_map, gid_map = linux.get("uidMappings") or [], linux.get("gidMappings") or []
    if (uid_map or gid_map) and (uid_map != PVE_DEFAULT_IDMAP or gid_map != PVE_DEFAULT_IDMAP):
        for kind, mapping, path in (("u", uid_map, "uidMappings"), ("g", gid_map, "gidMappings")):
            for entry in mapping:
                value = "%s %d %d %d" % (kind, entry["containerID"], entry["hostID"], entry["size"])
                found.raw("$.linux." + path, "lxc.idmap", value)
        found.warn(
            "$.linux.uidMappings", "custom id map written as lxc.idmap; /etc/subuid and /etc/subgid must allow it"
        )


def map_linux(config, found):
    """Namespaces, id maps, sysctls and what has no equivalent."""
    linux = config.get("linux") or {}
    for index, ns in enumerate(linux.get("namespaces") or []):
        if ns.get("path"):
            message = "joining an existing %s namespace is not possible in PVE" % ns["type"]
            found.error("$.linux.namespaces[%d]" % index, message)
    _map_user_namespace(linux, found)
    for key, value in (linux.get("sysctl") or {}).items():
        if key.startswith(IPC_SYSCTLS):
            found.raw("$.linux.sysctl[%s]" % key, "lxc.sysctl.%s" % key, value)
        else:
            found.error("$.linux.sysctl[%s]" % key, "only IPC sysctls can be set for a PVE container")
    if linux.get("devices"):
        found.error("$.linux.devices", "device nodes cannot be mapped; use PVE's devN option")
    if linux.get("seccomp"):
        found.warn("$.linux.seccomp", "not mapped (PVE applies its own seccomp profile)")
    defaults = default_config()["linux"]
    if linux.get("maskedPaths") not in (None, defaults["maskedPaths"]) or linux.get("readonlyPaths") not in (
        None,
        defaults["readonlyPaths"],
    ):
        found.warn(
            "$.linux.maskedPaths", "masked and read-only paths are not mapped (PVE uses its own AppArmor profile)"
        )
    found.unmapped("$.linux", linux, UNMAPPED)


def map_hooks_and_annotations(config, found):
    for kind, entries in (config.get("hooks") or {}).items():
        if entries:
            found.error("$.hooks.%s" % kind, "OCI hooks cannot be mapped (LXC hooks have another calling convention)")
    stop = (config.get("annotations") or {}).get("org.opencontainers.image.stopSignal")
    if stop:
        found.raw("$.annotations", "lxc.signal.halt", stop)
