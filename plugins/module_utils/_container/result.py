# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The result of nexcage_container: the container as it is (or would be), diff, changes. PRIVATE."""

from __future__ import annotations

import json

from ansible_collections.cageforge.nexcage.plugins.module_utils import _pveconfig
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.plan import predicted_config
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.view import container_view, jsonable
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import ocistate, readers


class Reporting:
    """ContainerTask's snapshot of the container and the result it returns."""

    def snapshot(self, config, status=None):
        """The structured view used for diff: {'status', 'config'}."""
        if config is None:
            return {"status": "absent"}
        effective = _pveconfig.effective_config(config)
        if status is None:
            status = self.status_of(self.vmid)
        return {"vmid": self.vmid, "status": status, "config": jsonable(_pveconfig.config_keys(effective))}

    def finish(self, before, desired):
        container = None
        if self.check:
            after = self.predict_after(before, desired)
            if after.get("status") != "absent":
                container = dict(after.get("config", {}), vmid=self.vmid, status=after["status"], pid=None)
                container["pending"] = self.pending
        else:
            config = readers.ct_config(self.vmid) if self.vmid is not None else None
            after = self.snapshot(config)
            if config is not None:
                status = after["status"]
                pid = self.pid() if status == "running" else None
                container = container_view(self.vmid, config, status, pid, readers.local_node())
                existing = ocistate.read_state(self.vmid)
                if status == "running":
                    oci_status = "running"
                elif existing is not None and existing.get("status") == "created":
                    oci_status = "created"
                else:
                    oci_status = "stopped"
                self.sync_oci(oci_status, config)
        result = {
            "changed": self.changed,
            "vmid": self.vmid,
            "container": container,
            "commands": self.commands(),
            "steps": self.steps,
            "changes": self.changes,
            "pending": self.pending,
        }
        if self.bundle is not None:
            result["bundle"] = self.bundle.to_dict()
        if self.module._diff:
            result["diff"] = {"before": before, "after": after}
        return result

    def predict_after(self, before, desired):
        state = self.params["state"]
        if state == "absent":
            return {"status": "absent"}
        if self.created and self.clone_config is None:
            config = predicted_config(desired, self.vmid)
            status = "running" if state in ("started", "restarted") else "stopped"
            return {"vmid": self.vmid, "status": status, "config": jsonable(config)}
        config = dict(jsonable(self.clone_config) if self.created else before.get("config", {}))
        for change in self.changes:
            key = change["key"]
            if "." in key:
                base, _dot, field = key.partition(".")
                if field == "size" and isinstance(config.get(base), dict):
                    config[base] = dict(config[base], size=change["after"])
                continue
            if change["after"] is None:
                config.pop(key, None)
            elif key == "template":
                config[key] = True
            else:
                config[key] = change["after"]
        status = "stopped" if self.created else before.get("status")
        if state in ("started", "restarted"):
            status = "running"
        elif state == "stopped":
            status = "stopped"
        return {"vmid": self.vmid, "status": status, "config": jsonable(config)}


def show(value):
    if isinstance(value, dict):
        return (
            _pveconfig.format_property_string("rootfs", value)
            if "volume" in value
            else json.dumps(value, sort_keys=True)
        )
    if value is None:
        return "unset"
    return str(value)
