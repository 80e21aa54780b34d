# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The action plugins of nexcage's modules: ansible.builtin.normal's run, with the payload built without
garbage collections, and for nexcage_container and nexcage_containers the choice of the full module or
its _core twin. PRIVATE.

Ansible builds a module's payload on the controller once per playbook run by parsing every module_util
the module can import. The OCI support (bundle images, runc/crun) is about 40% of what
nexcage_container would ship; a task without it runs the _core module, whose payload leaves it out.
The choice is made from the task's arguments (module_defaults already applied) and errs towards the
full module: anything it cannot read as "no OCI" runs the full module, which handles every task.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

IMAGE_OPTIONS = ("image", "ostemplate")  # nexcage_container's image option and its alias
PLAIN_BACKENDS = (None, "proxmox_lxc")


def container_needs_oci(args):
    """Whether nexcage_container's arguments (or one entry merged with defaults) may need OCI support:
    a bundle image (the module takes every absolute path as one) or an OCI runtime backend."""
    if not isinstance(args, dict):
        return True
    for option in IMAGE_OPTIONS:
        image = args.get(option)
        if image is not None and (not isinstance(image, str) or image.startswith("/")):
            return True
    return args.get("backend") not in PLAIN_BACKENDS


def batch_needs_oci(args):
    """Whether any entry of nexcage_containers, with the defaults filled in, may need OCI support."""
    defaults = args.get("defaults") or {}
    entries = args.get("containers")
    if not isinstance(defaults, dict) or not isinstance(entries, list):
        return True
    if container_needs_oci(defaults):
        return True
    return any(container_needs_oci(entry) for entry in entries)


@contextlib.contextmanager
def payload_build_gc():
    """Python's garbage collector left out of the payload build in a worker process.

    The builder parses each shipped module_util into a syntax tree and links its import nodes to their
    parents: a few hundred thousand objects in reference cycles that the collector walks again and again
    while they pile up (about half of the build's time). The build runs without collections and what it
    left is frozen (never collected): the worker process ends with its task, which frees it all (a few
    tens of MB). In the controller's main process the collector is left alone.
    """
    if not gc.isenabled() or multiprocessing.current_process().name == "MainProcess":
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


class ModuleAction(ActionBase):
    """ansible.builtin.normal's run of self.FULL (or of the module module_for picks), its payload built
    without garbage collections."""

    FULL = None  # the module's FQCN
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True

    def module_for(self, args):
        return self.FULL

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        module = self.module_for(self._task.args)
        wrap_async = self._task.async_val and not self._connection.has_native_async
        done = self._execute_module(module_name=module, task_vars=task_vars, wrap_async=wrap_async)
        result = merge_hash(result, done)
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _configure_module(self, *args, **kwargs):
        with payload_build_gc():
            return super()._configure_module(*args, **kwargs)


class CoreRouting(ModuleAction):
    """The full module (self.FULL) for a task that may need OCI support, else its _core twin."""

    def needs_oci(self, args):
        raise NotImplementedError

    def module_for(self, args):
        return self.FULL if self.needs_oci(args) else self.FULL + "_core"
