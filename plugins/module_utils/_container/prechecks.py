# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks before a create: the template volume and the storages exist and fit. PRIVATE."""

from __future__ import annotations

import os

from ansible_collections.cageforge.nexcage.plugins.module_utils import _errors, _runner, _validation
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.vmid import find_by_hostname
from ansible_collections.cageforge.nexcage.plugins.module_utils._health import halfmade
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths, readers

# Where pct create puts the root disk when neither --rootfs nor --storage names one.
DEFAULT_ROOT_STORAGE = "local"
PATH_STORAGE_TYPES = ("dir", "nfs", "cifs", "cephfs", "btrfs", "glusterfs")
# failures that may strike in the middle of a pct create/destroy (the others are refusals before it starts)
LEFTOVER_CATEGORIES = (_errors.TIMEOUT, _errors.UNKNOWN, _errors.RESOURCE_EXHAUSTED, _errors.NOT_FOUND)
# content -> (what it holds, hint for a missing storage, hint for a storage without that content)
STORAGE_USES = {
    "vztmpl": (
        "templates",
        "Use a storage ID from /etc/pve/storage.cfg that has content 'vztmpl'.",
        "Put templates on a storage with content 'vztmpl' (e.g. local).",
    ),
    "rootdir": (
        "container directories",
        "Use a storage ID from /etc/pve/storage.cfg with content 'rootdir'.",
        "Use a storage with content 'rootdir' (e.g. local-zfs, local-lvm).",
    ),
}


class PreChecks:
    """ContainerTask's checks of the template and the storages, and of a CT lock."""

    def check_template(self, desired):
        if self.bundle is not None:
            return  # the template packed from the bundle (planned only, in check mode)
        image = desired.image
        storage_id, filename = _validation.validate_template_volid(image, "image")
        storage = self.usable_storage(readers.read_storage_cfg(), storage_id, "vztmpl", "image %s" % image)
        if storage.get("type") not in PATH_STORAGE_TYPES or not isinstance(storage.get("path"), str):
            return  # cannot stat it: pct will check
        cache = paths.template_cache(storage["path"])
        if readers.has_file(os.path.join(cache, filename)):
            return
        if self.params.get("download"):
            self.run(
                _runner.pveam("download", storage_id, filename),
                "download the template for",
                bound=self.create_bound(),
            )
            self.steps.append("download %s" % image)
            self.changed = True
            if not self.check and not readers.has_file(os.path.join(cache, filename)):
                self.fail(
                    _errors.NOT_FOUND,
                    "Cannot create %s: `pveam download %s %s` did not produce %s"
                    % (self.what(), storage_id, filename, os.path.join(cache, filename)),
                    hint="Check the name with `pveam available`, and `pveam update`.",
                )
            return
        have = [
            "%s:vztmpl/%s" % (storage_id, f) for f in readers.template_files(cache, _validation.TEMPLATE_EXTENSIONS)
        ]
        self.fail(
            _errors.NOT_FOUND,
            "Cannot create %s: template %s does not exist (volume '%s' does not exist). Templates on storage '%s': %s"
            % (self.what(), image, image, storage_id, ", ".join(have) if have else "none"),
            hint="Use one of the listed templates, or set download: true to fetch it with pveam.",
            available=have,
        )

    def check_storages(self, desired):
        storages = readers.read_storage_cfg()
        wanted = []
        if desired.rootfs and desired.rootfs.get("storage"):
            wanted.append(("rootfs.storage", desired.rootfs["storage"]))
        for i, entry in enumerate(desired.mounts or []):
            if "storage" in entry:
                wanted.append(("mounts[%d].storage" % i, entry["storage"]))
        for option, storage_id in wanted:
            self.usable_storage(storages, storage_id, "rootdir", option, option + ": ")
        if not (desired.rootfs and desired.rootfs.get("storage")):
            self.check_default_root_storage(storages)

    def check_references(self, desired, keys=None, running=False):
        """What pct would refuse only at start: bridges and bind-mount sources; mount storages.

        keys: the netN/mpN slots this task sets on an existing container (None: a create, all of them).
        PVE accepts a missing bridge or bind-mount source in a stopped container's config and refuses
        it when the container starts (or hot-plugs it while running); pct create refuses a missing
        bind-mount source too. So when this task creates or starts the container, or it runs, the
        task fails before any change; otherwise it warns. In check mode a missing bind-mount source
        only warns: an earlier task of the play (a dataset, a directory) may create it and was only
        planned.
        """
        if desired.scalars.get("hookscript") and (keys is None or "hookscript" in keys):
            self.check_hookscript(desired.scalars["hookscript"])
        starts = running or self.params["state"] in ("started", "restarted")
        bridges = None
        for key, (option, entry) in sorted(_slot_keys(desired).items()):
            if keys is not None and key not in keys:
                continue
            if entry.get("bridge"):
                bridges = readers.bridges() if bridges is None else bridges
                if entry["bridge"] not in bridges:
                    self.refuse_or_warn(
                        starts,
                        "%s.bridge: bridge '%s' does not exist on this node (bridges: %s)"
                        % (option, entry["bridge"], ", ".join(bridges) or "none"),
                        "Use one of the node's bridges, or create the bridge first (/etc/network/interfaces).",
                    )
            if entry.get("host_path") and not readers.host_path_exists(entry["host_path"]):
                self.refuse_or_warn(
                    (starts or keys is None) and not self.check,
                    "%s.host_path: directory '%s' does not exist on the node" % (option, entry["host_path"]),
                    "Create it first (nexcage_zfs_dataset, or ansible.builtin.file with state: directory).",
                )
            if entry.get("storage") and keys is not None:
                self.usable_storage(
                    readers.read_storage_cfg(), entry["storage"], "rootdir", option + ".storage", option + ".storage: "
                )

    def check_hookscript(self, volid):
        """PVE's check_hookscript: a file in the storage's snippets directory that is executable."""
        storage_id, _sep, name = volid.partition(":")
        storages = readers.read_storage_cfg()
        if storage_id not in storages:
            self.fail(
                _errors.NOT_FOUND,
                "Cannot configure %s: hookscript: storage '%s' does not exist" % (self.what(), storage_id),
                hint="Use a storage from /etc/pve/storage.cfg (e.g. local:snippets/hook.sh).",
            )
        base = readers.storage_path(storage_id, storages)
        if base is None:
            return  # not a path-based storage: pct checks it
        path = os.path.join(base, name)
        if not readers.has_file(path):
            self.fail(
                _errors.NOT_FOUND,
                "Cannot configure %s: hookscript: script '%s' does not exist (%s)" % (self.what(), volid, path),
                hint="Put the script there first (ansible.builtin.copy with mode: '0755'), then set hookscript.",
            )
        if not os.access(path, os.X_OK):
            self.fail(
                _errors.INVALID_ARGUMENT,
                "Cannot configure %s: hookscript: script '%s' is not executable" % (self.what(), volid),
                hint="chmod 0755 %s" % path,
            )

    def refuse_or_warn(self, refuse, problem, hint):
        if refuse:
            self.fail(
                _errors.NOT_FOUND,
                "Cannot configure %s: %s (the container could not start)" % (self.what(), problem),
                hint=hint,
            )
        self.module.warn(
            "%s: the container cannot start until it exists%s"
            % (problem, " (check mode assumes an earlier task of the play creates it)" if self.check else "")
        )

    def resolve_clone_source(self):
        """(vmid, parsed config) of clone: a VMID or a hostname of a container on this node."""
        given = str(self.params["clone"])
        if given.isdigit():
            vmid = _validation.validate_vmid(int(given), "clone")
            matches = [vmid] if readers.ct_config(vmid) is not None else []
        else:
            _validation.validate_hostname(given, "clone")
            matches = find_by_hostname(given)
        if len(matches) != 1:
            self.fail(
                _errors.NOT_FOUND,
                "Cannot clone into %s: clone: %s"
                % (
                    self.what(),
                    "no container %s on this node" % given
                    if not matches
                    else "hostname %s is used by VMIDs %s" % (given, ", ".join(map(str, matches))),
                ),
                hint="Name the source container by its VMID (it must be on the node the task runs on).",
            )
        return matches[0], readers.ct_config(matches[0])

    def clone_full(self, source):
        """Whether the clone copies the disks: clone_type (or full) as asked; opportunistic: full unless a template."""
        if self.params.get("full") is not None:
            return bool(self.params["full"])
        kind = self.params.get("clone_type") or "opportunistic"
        if kind == "opportunistic":
            return not source.get("template") or self.params.get("storage") is not None
        return kind == "full"

    def check_clone(self, source):
        """What pct clone refuses, before it runs (also in check mode)."""
        full = self.clone_full(source)
        where = "clone %s into %s" % (self.clone_source, self.what())
        if not full and not source.get("template"):
            self.fail(
                _errors.INVALID_ARGUMENT,
                "Cannot %s: a linked clone needs a template as source (Linked clone feature is not available)" % where,
                hint="Convert the source first (state: template), or set clone_type: full.",
            )
        if not full and self.params.get("storage") is not None:
            self.fail(
                _errors.INVALID_ARGUMENT,
                "Cannot %s: parameter 'storage' not allowed for linked clones" % where,
                hint="Drop storage (a linked clone stays on the template's storage), or set clone_type: full.",
            )
        if full and readers.is_running(self.clone_source):
            self.fail(
                _errors.ALREADY_RUNNING,
                "Cannot %s: Full clone of a running container is only possible from a snapshot" % where,
                hint="Stop the source first, or clone a template.",
            )
        if self.params.get("storage") is not None:
            self.usable_storage(readers.read_storage_cfg(), self.params["storage"], "rootdir", "storage", "storage: ")

    def clone_argv(self, vmid):
        options = [(key, self.params[key]) for key in ("hostname", "description", "pool") if self.params.get(key)]
        options.append(("full", "1" if self.clone_full(readers.ct_config(self.clone_source) or {}) else "0"))
        if self.params.get("storage") is not None:
            options.append(("storage", self.params["storage"]))
        return _runner.pct("clone", self.clone_source, vmid, options=options)

    def check_default_root_storage(self, storages):
        """rootfs.storage left out: pct puts the root disk on 'local'; refuse when 'local' cannot hold it."""
        default = storages.get(DEFAULT_ROOT_STORAGE) or {}
        if "rootdir" in default.get("content", []) and not default.get("disable"):
            return
        fitting = sorted(
            sid for sid, info in storages.items() if "rootdir" in info.get("content", []) and not info.get("disable")
        )
        self.fail(
            _errors.UNSUPPORTED,
            "Cannot create %s: rootfs.storage is not set, so pct would put the root disk on storage '%s', which "
            "does not hold container directories (content: %s); storages that do: %s"
            % (
                self.what(),
                DEFAULT_ROOT_STORAGE,
                ",".join(default.get("content", [])) or "none",
                ", ".join(fitting) or "none",
            ),
            hint="Set rootfs: {storage: %s, size: 8} (a storage with content 'rootdir')."
            % (fitting[0] if fitting else "<storage>"),
            storages=fitting,
        )

    def usable_storage(self, storages, storage_id, content, where, content_where=""):
        """storages[storage_id] if it exists, is enabled and holds content; else fail naming where."""
        label, missing_hint, content_hint = STORAGE_USES[content]
        storage = storages.get(storage_id)
        if storage is None:
            self.fail(
                _errors.NOT_FOUND,
                "Cannot create %s: %s: storage '%s' does not exist (storages: %s)"
                % (self.what(), where, storage_id, ", ".join(sorted(storages)) or "none"),
                hint=missing_hint,
            )
        if storage.get("disable"):
            self.fail(_errors.UNSUPPORTED, "Cannot create %s: storage '%s' is disabled" % (self.what(), storage_id))
        if content not in storage.get("content", []):
            self.fail(
                _errors.UNSUPPORTED,
                "Cannot create %s: %sstorage '%s' does not support %s (content: %s)"
                % (self.what(), content_where, storage_id, label, ",".join(storage.get("content", [])) or "none"),
                hint=content_hint,
            )
        return storage

    def check_unlocked(self, config, action, allow=()):
        lock = config.get("lock")
        if not lock or lock in allow:
            return
        if lock in halfmade.STALE_LOCKS:
            self.refuse_half_made(config, action)
        self.fail(
            _errors.LOCKED,
            "Cannot %s %s: CT is locked (%s)" % (action, self.what(), lock),
            hint="Wait for the '%s' operation to finish; if none runs any more, remove the stale lock with "
            "`pct unlock %s` (the config is whole: the next run goes on from there)." % (lock, self.vmid),
        )

    def refuse_half_made(self, config, action):
        """Fail when config is not a whole container (interrupted create/destroy, no rootfs)."""
        why = halfmade.half_made(config)
        if why is None:
            return
        locked = config.get("lock") in halfmade.STALE_LOCKS
        self.fail(
            _errors.LOCKED if locked else _errors.UNSUPPORTED,
            "Cannot %s %s: it is half-made: %s" % (action, self.what(), why),
            hint=halfmade.repair_hint(self.vmid, config),
        )

    def explain_leftover(self, err, action="create"):
        """After a failed or killed pct create/destroy: say what it left on the node and the way out."""
        if self.vmid is None or err.category not in LEFTOVER_CATEGORIES:
            return  # refused before it started (or another guest's VMID): nothing of ours changed
        config = readers.ct_config(self.vmid)
        if config is None:
            return  # nothing left: Proxmox VE's failure path ran (create), or the destroy got through
        why = halfmade.half_made(config)
        if why is not None:
            hint = halfmade.repair_hint(self.vmid, config)
        elif action == "create":
            why = "its config is there, but the create did not finish (hostname, SSH keys, password)"
            hint = (
                "Remove it (state: absent, or `pct destroy %s`) and run this task again; or run this task "
                "again to finish its settings (SSH keys and the password are only set by a create)." % self.vmid
            )
        else:
            why = "its config is still there, its volumes may be partly freed"
            hint = (
                "Run this task again to finish the destroy (nexcage_health's half_made check names the volumes "
                "the config still names but that are gone)."
            )
        err.message += "; the interrupted %s left CT %s half-made: %s" % (action, self.vmid, why)
        err.hint = "%s %s" % (err.hint, hint) if err.category == _errors.TIMEOUT else hint


def _slot_keys(desired):
    """{netN/mpN key: (option as the user wrote it, entry)} of the desired interfaces and mounts."""
    slots = {}
    for i, entry in enumerate(desired.netif or []):
        slots["netif:%s" % entry["name"]] = ("netif[%d]" % i, entry)
    for i, entry in enumerate(desired.mounts or []):
        slots["mp%d" % entry["id"]] = ("mounts[%d]" % i, entry)
    return slots
