# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""config.json ``mounts`` -> nexcage_container mount points and lxc.mount.entry lines. PRIVATE to the collection.

A bind mount of a directory becomes a typed mount point of the module (``mpN``); a bind mount of a
file and a tmpfs become ``lxc.mount.entry`` lines; the runtime's default mounts (/proc, /sys, /dev,
...) are LXC's own and are left out.
"""

from __future__ import annotations

import os

from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.defaults import default_config

FILE_MOUNT_OPTIONS = ("nodev", "noexec", "nosuid")
_IMPLIED_BIND_OPTIONS = ("bind", "rbind", "rw", "private", "rprivate", "slave", "rslave", "shared", "rshared")
# Options a PVE mount point could carry (mountoptions); nexcage_container's mounts have no such option.
_MP_OPTIONS = ("nodev", "noexec", "nosuid", "noatime")


def fstab_escape(path):
    return path.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012")


def _is_default(mount):
    """runc spec's default mounts (/proc, /sys, /dev, ...): LXC provides them itself."""
    defaults = {entry["destination"]: entry["type"] for entry in default_config()["mounts"]}
    return mount.get("destination") in defaults and mount.get("type") == defaults[mount["destination"]]


def _map_bind(where, mount, dest, bundle_dir, found):
    options = list(mount.get("options") or [])
    source = mount.get("source") or ""
    if not source.startswith("/"):
        source = os.path.normpath(os.path.join(bundle_dir, source))
    if not os.path.exists(source):
        found.error(where, "bind mount source %s does not exist" % source)
        return
    read_only = "ro" in options
    extra = [option for option in options if option not in _IMPLIED_BIND_OPTIONS + _MP_OPTIONS + ("ro",)]
    if extra:
        found.warn(where, "mount options %s not mapped" % ", ".join(extra))
    if os.path.isdir(source):
        if "," in source or "," in dest or "=" in source:
            found.error(where, "paths with ',' or '=' cannot be written as a PVE mount point")
            return
        dropped = [option for option in options if option in _MP_OPTIONS]
        if dropped:
            found.warn(
                where, "mount options %s not applied (a mount point of the container has none)" % ", ".join(dropped)
            )
        found.mounts.append({"host_path": source, "mountpoint": dest, "read_only": read_only})
        return
    entry_options = ["bind", "create=file"] + (["ro"] if read_only else [])
    entry_options += [option for option in options if option in FILE_MOUNT_OPTIONS]
    entry = "%s %s none %s 0 0" % (fstab_escape(source), fstab_escape(dest.lstrip("/")), ",".join(entry_options))
    found.raw(where, "lxc.mount.entry", entry)


def map_mounts(config, bundle_dir, found):
    """Fill found (a Mapped) from config.json's mounts."""
    for index, mount in enumerate(config.get("mounts") or []):
        where = "$.mounts[%d]" % index
        if _is_default(mount):
            continue
        dest = mount.get("destination") or ""
        if not dest.startswith("/"):
            found.warn(where, "relative destination %r taken relative to /" % dest)
            dest = "/" + dest
        dest = os.path.normpath(dest)
        options = list(mount.get("options") or [])
        if "bind" in options or "rbind" in options:
            _map_bind(where, mount, dest, bundle_dir, found)
        elif mount.get("type") == "tmpfs":
            entry_options = [option for option in options if option] + ["create=dir"]
            entry = "tmpfs %s tmpfs %s 0 0" % (fstab_escape(dest.lstrip("/")), ",".join(entry_options))
            found.raw(where, "lxc.mount.entry", entry)
        else:
            found.error(
                where, "mount of type %r at %s cannot be mapped to a Proxmox VE container" % (mount.get("type"), dest)
            )
