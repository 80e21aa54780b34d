# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nexcage_container's OCI support: bundle images and the runc/crun backends, the call into _oci. PRIVATE.

The lifecycle (_container.lifecycle) reaches _oci only through this module, which the modules
hand it (``oci=bundle``): nexcage_container and nexcage_containers do; their _core twins, which
their action plugins run for tasks that need no OCI support, do not, so Ansible leaves the OCI
chain out of their payload. _oci itself is imported inside the functions, so even a full module's
task on a template never loads the OCI chain or jsonschema.
"""

from __future__ import annotations

from ansible_collections.cageforge.nexcage.plugins.module_utils._node import ctconf


def load_bundle(params):
    """The BundleImage of params["image"] (an OCI bundle directory), validated and mapped."""
    return BundleImage.load(params)


def environment_secrets(bundle):
    """The bundle's NAME=value environment entries (from its raw lxc.* lines), never to be shown."""
    from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import secrets

    return secrets.lxc_entries(bundle.deployment.lxc)


def protect(module, entries):
    from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import secrets

    secrets.protect(module, entries)


def hide(value, entries):
    """value with the entries' values masked."""
    from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import secrets

    return secrets.hide(value, entries)


def run_backend(params, runner, diff, warn):
    """The task on the runc or crun backend (an OCI container without Proxmox): its result."""
    from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.runtime import RuntimeBackend

    return RuntimeBackend(params, runner, diff=diff, warn=warn).execute()


class BundleImage:
    """nexcage_container with image: <OCI bundle directory> (the call into _oci.deploy).

    load() validates and maps the bundle and writes nothing; merged_params() puts its typed options
    into the task's parameters (the task's own values win); pack() is the apply step right before
    a create; sync_lines() writes its raw lxc.* lines through the node layer after create/update.
    """

    # nexcage_container options a bundle fills in when the task does not set them.
    PARAM_KEYS = ("hostname", "memory", "swap", "cpulimit", "cpuunits", "ostype", "unprivileged")

    def __init__(self, deployment):
        self.deployment = deployment
        self.directory = deployment.bundle
        self.template = deployment.template

    @classmethod
    def load(cls, params):
        from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import deploy

        return cls(deploy.prepare(params["image"], params["template_storage"]))

    def merged_params(self, params):
        """(params for the task, warnings): image is the bundle's template, its options fill the gaps."""
        out = dict(params, image=self.template)
        warnings = list(self.deployment.warnings)
        for key in self.PARAM_KEYS:
            if key not in self.deployment.options:
                continue
            value = self.deployment.options[key]
            if params.get(key) is None:
                out[key] = value
            elif params[key] != value:
                warnings.append("%s: the task's %r is used instead of the bundle's %r" % (key, params[key], value))
        out["mounts"] = self._mounts(params.get("mounts"))
        return out, warnings

    def _mounts(self, task_mounts):
        """The task's mounts, then the bundle's bind mounts with the next free ids."""
        mounts = list(task_mounts or [])
        used = {mount.get("id") for mount in mounts}
        next_id = 0
        for mount in self.deployment.mounts:
            while next_id in used:
                next_id += 1
            mounts.append(dict(mount, id=next_id))
            used.add(next_id)
        return mounts or task_mounts

    def create_options(self):
        """pct create options the bundle needs that the module has no option for (cmode)."""
        return list(self.deployment.pct)

    def pack(self, runner):
        from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import deploy

        return deploy.pack(runner, self.deployment)

    def sync_lines(self, vmid, check_mode):
        return ctconf.set_raw_lxc_lines(vmid, self.deployment.lxc, check_mode=check_mode)

    def to_dict(self):
        return self.deployment.to_dict()
