# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The argument spec of nexcage_container (data). PRIVATE to the collection."""

from __future__ import annotations

from ansible_collections.cageforge.nexcage.plugins.module_utils._common import common_argument_spec


def argument_spec():
    spec = dict(
        vmid=dict(type="int"),
        hostname=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "started", "stopped", "restarted", "absent"]),
        image=dict(type="str"),
        download=dict(type="bool", default=False),
        memory=dict(type="int"),
        swap=dict(type="int"),
        cores=dict(type="int"),
        cpulimit=dict(type="float"),
        cpuunits=dict(type="int"),
        rootfs=dict(type="dict", options=dict(storage=dict(type="str"), size=dict(type="raw"))),
        netif=dict(
            type="list",
            elements="dict",
            options=dict(
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
            ),
        ),
        mounts=dict(
            type="list",
            elements="dict",
            options=dict(
                id=dict(type="int", required=True),
                host_path=dict(type="path"),
                storage=dict(type="str"),
                size=dict(type="raw"),
                mountpoint=dict(type="str", required=True),
                read_only=dict(type="bool"),
                backup=dict(type="bool"),
            ),
        ),
        features=dict(
            type="dict",
            options=dict(
                nesting=dict(type="bool"),
                keyctl=dict(type="bool"),
                fuse=dict(type="bool"),
                mount=dict(type="list", elements="str"),
            ),
        ),
        unprivileged=dict(type="bool"),
        onboot=dict(type="bool"),
        startup=dict(type="dict", options=dict(order=dict(type="int"), up=dict(type="int"), down=dict(type="int"))),
        tags=dict(type="list", elements="str"),
        description=dict(type="str"),
        nameserver=dict(type="list", elements="str"),
        searchdomain=dict(type="list", elements="str"),
        timezone=dict(type="str"),
        ostype=dict(type="str"),
        arch=dict(type="str"),
        pool=dict(type="str"),
        password=dict(type="str", no_log=True),
        ssh_public_keys=dict(type="str", no_log=False),
        force=dict(type="bool", default=False),
        purge=dict(type="bool", default=False),
        recreate=dict(type="bool", default=False),
        restart_on_change=dict(type="bool", default=False),
        keep_on_failure=dict(type="bool", default=False),
        stop_mode=dict(type="str", default="shutdown", choices=["shutdown", "stop"]),
        stop_timeout=dict(type="int", default=60),
        wait_timeout=dict(type="int", default=60),
        backend=dict(type="str", default="proxmox_lxc", choices=["proxmox_lxc", "runc", "crun"]),
        runtime_wrapper=dict(type="list", elements="str"),
        template_storage=dict(type="str", default="local"),
    )
    spec.update(common_argument_spec())
    return spec
