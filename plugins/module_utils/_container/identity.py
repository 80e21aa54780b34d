# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which container a task means: by vmid or by hostname, from the node's files. PRIVATE."""

from __future__ import annotations

from ansible_collections.cageforge.nexcage.plugins.module_utils import _errors, _validation
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.vmid import find_by_hostname
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import readers


class Identity:
    """ContainerTask's part that sets self.vmid and reads the current config."""

    def resolve(self):
        """Set self.vmid (or None if a new container is needed) and return its parsed config or None."""
        vmid = self.params.get("vmid")
        if vmid is not None:
            self.vmid = _validation.validate_vmid(vmid)
            config = readers.ct_config(self.vmid)
            if config is not None:
                return config
            entry = readers.read_vmlist().get(self.vmid)
            if entry is not None and self.params["state"] != "absent":
                kind = "VM" if entry.get("type") == "qemu" else "CT"
                node = entry.get("node")
                if entry.get("type") == "qemu":
                    detail = "VMID %s is held by a QEMU virtual machine on node '%s'" % (self.vmid, node)
                else:
                    detail = "VMID %s is a container on node '%s', not on this node (%s)" % (
                        self.vmid,
                        node,
                        readers.local_node(),
                    )
                self.fail(
                    _errors.ALREADY_EXISTS,
                    "Cannot use %s: %s (%s %s already exists on node '%s')"
                    % (self.what(), detail, kind, self.vmid, node),
                    hint="Choose another vmid, or omit vmid so that nexcage allocates a free one."
                    if entry.get("type") == "qemu"
                    else "Run the task on node '%s', or choose another vmid." % node,
                )
            return None
        hostname = self.params.get("hostname")
        if not hostname:
            self.fail(
                _errors.INVALID_ARGUMENT,
                "Cannot identify the container: give vmid or hostname",
                hint="Set vmid: <number>, or hostname: <name> to find (or create) the container by name.",
            )
        _validation.validate_hostname(hostname)
        matches = find_by_hostname(hostname)
        if len(matches) > 1:
            self.fail(
                _errors.INVALID_ARGUMENT,
                "Cannot identify the container: hostname %s is used by several containers: VMIDs %s"
                % (hostname, ", ".join(str(m) for m in matches)),
                hint="Set vmid to the one you mean, or give the containers unique hostnames.",
                vmids=matches,
            )
        if matches:
            self.vmid = matches[0]
            return readers.ct_config(self.vmid)
        return None
