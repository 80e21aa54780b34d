# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The argument spec of nexcage_container (data). PRIVATE to the collection."""

from __future__ import annotations

from ansible_collections.cageforge.nexcage.plugins.module_utils._common import common_argument_spec

# Mount options a root disk and a mount point share (PVE's mount-point format).
VOLUME_OPTION_FIELDS = dict(
    acl=dict(type="bool"),
    quota=dict(type="bool"),
    replicate=dict(type="bool"),
    shared=dict(type="bool"),
    mountoptions=dict(type="list", elements="str"),
)
ROOTFS_OPTIONS = dict(VOLUME_OPTION_FIELDS, storage=dict(type="str"), size=dict(type="raw"))
NETIF_OPTIONS = dict(
    name=dict(type="str", required=True),
    bridge=dict(type="str"),
    ip=dict(type="str"),
    gw=dict(type="str"),
    ip6=dict(type="str"),
    gw6=dict(type="str"),
    hwaddr=dict(type="str"),
    tag=dict(type="int"),
    firewall=dict(type="bool"),
    mtu=dict(type="int"),
    rate=dict(type="float"),
)
MOUNT_OPTIONS = dict(
    VOLUME_OPTION_FIELDS,
    id=dict(type="int", required=True),
    host_path=dict(type="path"),
    storage=dict(type="str"),
    volume=dict(type="str"),
    size=dict(type="raw"),
    mountpoint=dict(type="str", required=True),
    read_only=dict(type="bool"),
    backup=dict(type="bool"),
)
FEATURES_OPTIONS = dict(
    nesting=dict(type="bool"),
    keyctl=dict(type="bool"),
    fuse=dict(type="bool"),
    mknod=dict(type="bool"),
    force_rw_sys=dict(type="bool"),
    mount=dict(type="list", elements="str"),
)
STARTUP_OPTIONS = dict(order=dict(type="int"), up=dict(type="int"), down=dict(type="int"))
DEVICE_OPTIONS = dict(
    id=dict(type="int", required=True),
    path=dict(type="path", required=True),
    mode=dict(type="str"),
    uid=dict(type="int"),
    gid=dict(type="int"),
    deny_write=dict(type="bool"),
)
# community.proxmox's options that only its HTTP API client has (refused with one message).
API_ONLY = dict(
    api_host=dict(type="str"),
    api_port=dict(type="int"),
    api_user=dict(type="str"),
    api_password=dict(type="str", no_log=True),
    api_token_id=dict(type="str"),
    api_token_secret=dict(type="str", no_log=True),
    validate_certs=dict(type="bool"),
    node=dict(type="str"),
)


def argument_spec():
    # netif, mounts, features, startup and rootfs are raw: besides the typed form they take
    # community.proxmox's property-string forms (_container/forms.py checks both).
    spec = dict(
        vmid=dict(type="int"),
        hostname=dict(type="str"),
        state=dict(
            type="str",
            default="present",
            choices=["present", "started", "stopped", "restarted", "absent", "template"],
        ),
        image=dict(type="str", aliases=["ostemplate"]),
        clone=dict(type="str"),
        clone_type=dict(type="str", choices=["full", "linked", "opportunistic"], default="opportunistic"),
        full=dict(type="bool"),
        storage=dict(type="str"),
        download=dict(type="bool", default=False),
        memory=dict(type="int"),
        swap=dict(type="int"),
        cores=dict(type="int"),
        cpulimit=dict(type="float", aliases=["cpus"]),
        cpuunits=dict(type="int"),
        rootfs=dict(type="raw"),
        disk=dict(type="str"),
        disk_volume=dict(type="dict"),
        netif=dict(type="raw"),
        mounts=dict(type="raw"),
        mount_volumes=dict(type="list", elements="dict"),
        devices=dict(type="list", elements="dict", options=DEVICE_OPTIONS),
        features=dict(type="raw"),
        unprivileged=dict(type="bool"),
        onboot=dict(type="bool"),
        protection=dict(type="bool"),
        startup=dict(type="raw"),
        tags=dict(type="list", elements="str"),
        description=dict(type="str"),
        nameserver=dict(type="list", elements="str"),
        searchdomain=dict(type="list", elements="str"),
        timezone=dict(type="str"),
        ostype=dict(type="str"),
        arch=dict(type="str"),
        cmode=dict(type="str", choices=["shell", "console", "tty"]),
        console=dict(type="bool"),
        tty=dict(type="int"),
        hookscript=dict(type="str"),
        lxc=dict(type="list", elements="raw"),
        pool=dict(type="str"),
        password=dict(type="str", no_log=True),
        ssh_public_keys=dict(type="str", no_log=False, aliases=["pubkey"]),
        force=dict(type="bool", default=False),
        purge=dict(type="bool", default=False),
        recreate=dict(type="bool", default=False),
        restart_on_change=dict(type="bool", default=False),
        keep_on_failure=dict(type="bool", default=False),
        update=dict(type="bool"),
        stop_mode=dict(type="str", default="shutdown", choices=["shutdown", "stop"]),
        stop_timeout=dict(type="int", default=60),
        wait_timeout=dict(type="int", default=60, aliases=["timeout"]),
        create_timeout=dict(type="int", default=600),
        backend=dict(type="str", default="proxmox_lxc", choices=["proxmox_lxc", "runc", "crun"]),
        runtime_wrapper=dict(type="list", elements="str"),
        template_storage=dict(type="str", default="local"),
        allow_sensitive_host_paths=dict(type="bool", default=False),
        allow_hooks=dict(type="bool", default=False),
    )
    spec.update(API_ONLY)
    spec.update(common_argument_spec())
    return spec
