# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nexcage_containers: many containers in one task, each through the one lifecycle. PRIVATE.

Every entry is what one nexcage_container task would be (``defaults`` merged
with the entry, validated with nexcage_container's argument spec) and runs
through the same ContainerTask; there is no second lifecycle.

1. plan: every entry runs once, in order, in this thread, inside
   ``readers.snapshot()``, so the node's files (guest list, storages, configs,
   hostnames, run state) are read once for the whole batch. In check mode that
   is the whole run. Otherwise the entry's runner stops it at its first command
   that would change the node (nothing has been changed then): an entry that
   needs no command is finished, exactly as one task would finish it, with no
   tool call.
2. apply: the entries that were stopped run again, from the start (they re-read
   the node and re-plan, as one task does), in ``parallel`` worker threads:
   first those whose VMID is known, then those that need one allocated (the
   VMID reservation and retry of nexcage_container, so VMIDs never clash with
   each other, with the batch's own VMIDs, or with another play): they pick
   their VMIDs in list order, one after the other, and create in parallel.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.cageforge.nexcage.plugins.module_utils import _errors, _module, _runner, _validation
from ansible_collections.cageforge.nexcage.plugins.module_utils._common import common_argument_spec
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.argspec import argument_spec
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.lifecycle import ContainerTask
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import ocistate, readers

MAX_PARALLEL = 32
TASK_WIDE = ("command_timeout",)  # options of the batch task itself, not of an entry


def entry_argument_spec():
    """nexcage_container's options for one entry, without defaults (a missing option is None, so
    that ``defaults`` can fill it) and without the task-wide ones."""
    spec = {}
    for name, option in argument_spec().items():
        if name not in TASK_WIDE:
            spec[name] = {key: value for key, value in option.items() if key != "default"}
    return spec


def batch_argument_spec():
    spec = dict(
        containers=dict(type="list", elements="dict", required=True, options=entry_argument_spec()),
        defaults=dict(type="dict"),  # the entries' options: checked by Batch (checked_defaults)
        parallel=dict(type="int", default=4),
        fail_fast=dict(type="bool", default=False),
    )
    spec.update(common_argument_spec())
    return spec


class EntryModule:
    """What ContainerTask uses of an AnsibleModule, for one entry of the batch."""

    def __init__(self, module, params, tmpdir):
        self.params = params
        self.check_mode = module.check_mode
        self._diff = module._diff
        self.tmpdir = tmpdir
        self.warnings = []
        # the task's own set: a bundle's environment values registered here are masked in its output
        self.no_log_values = module.no_log_values

    def warn(self, message):
        self.warnings.append(message)


class _Stopped(BaseException):
    """Raised by PlanningRunner at the first command that would change the node.

    A BaseException so that no handler of the lifecycle mistakes it for a failure.
    """


class PlanningRunner(_runner.Runner):
    """A Runner that stops the task before its first command that would change the node."""

    def run(self, argv, mutating=False, **kwargs):
        if mutating:
            raise _Stopped()
        return super().run(argv, mutating=mutating, **kwargs)


class Entry:
    """One container of the batch: its params, its result, and how far it got."""

    def __init__(self, index, params, error=None):
        self.index = index
        self.params = params
        self.result = None
        self.error = error
        self.warnings = []
        self.skipped = False
        self.needs_vmid = False
        self.carried = None  # (changed, steps, commands) of the plan run, before it was stopped

    @property
    def label(self):
        params = self.params or {}
        name = params.get("hostname") or ("vmid %s" % params["vmid"] if params.get("vmid") is not None else None)
        return "containers[%d]%s" % (self.index, " (%s)" % name if name else "")

    def to_dict(self, check):
        data = dict(self.result or {})
        data.pop("diff", None)
        data.setdefault("vmid", (self.params or {}).get("vmid"))
        data.setdefault("changed", False)
        for key in ("changes", "commands", "steps", "pending"):
            data.setdefault(key, [])
        data.update(
            index=self.index,
            hostname=(self.params or {}).get("hostname"),
            failed=self.error is not None,
            skipped=self.skipped,
            error=self.error,
            warnings=self.warnings,
        )
        # what the container's OCI state file says now (a role verifies it without reading the file itself)
        vmid = data["vmid"]
        data["oci_state"] = ocistate.read_state(vmid) if vmid is not None and not check and not self.skipped else None
        return data


class Batch:
    """One run of nexcage_containers."""

    def __init__(self, module, oci=None):
        self.module = module
        self.oci = oci  # the entries' OCI support (_container.bundle), as for nexcage_container
        self.params = module.params
        self.check = module.check_mode
        parallel = self.params["parallel"]
        if not 1 <= parallel <= MAX_PARALLEL:
            raise _errors.ValidationError(
                "parallel",
                parallel,
                "must be between 1 and %d" % MAX_PARALLEL,
                "Use a few (each pct call is a process).",
            )
        self.defaults = checked_defaults(module)
        self.entries = [self._entry(index, raw) for index, raw in enumerate(self.params["containers"])]
        self._refuse_duplicates()
        self._tmpdir = (
            module.tmpdir if any(e.params and e.params.get("ssh_public_keys") for e in self.entries) else None
        )
        self._stop = threading.Event()

    # ---------------------------------------------------------------- params

    def _entry(self, index, raw):
        defaults = self.defaults
        merged = {}
        for key in entry_argument_spec():
            value = raw.get(key)
            if value is None:
                value = defaults.get(key)
            if value is not None:
                merged[key] = value
        merged["command_timeout"] = self.params["command_timeout"]
        validated = ArgumentSpecValidator(argument_spec()).validate(merged)
        if validated.error_messages:
            message = "containers[%d]: %s" % (index, "; ".join(validated.error_messages))
            return Entry(index, merged, _errors.NexcageError(_errors.INVALID_ARGUMENT, message).to_dict())
        return Entry(index, validated.validated_parameters)

    def _refuse_duplicates(self):
        seen = {}
        for entry in self.entries:
            if entry.error is not None:
                continue
            vmid = entry.params.get("vmid")
            key = ("vmid", vmid) if vmid is not None else ("hostname", (entry.params.get("hostname") or "").lower())
            if key[1] in (None, ""):
                continue
            if key in seen:
                message = "%s: %s %s is also given by %s" % (entry.label, key[0], key[1], seen[key].label)
                hint = "Give each container once in containers (merge the two entries)."
                entry.error = _errors.NexcageError(_errors.INVALID_ARGUMENT, message, hint=hint).to_dict()
            else:
                seen[key] = entry

    # ---------------------------------------------------------------- running one entry

    def _run_entry(self, entry, runner=None, vmid_reserved=None):
        """Run entry through ContainerTask; its result or error is stored on entry.

        Returns (task, stopped): stopped when a PlanningRunner stopped it before a change.
        """
        module = EntryModule(self.module, entry.params, self._tmpdir)
        task = ContainerTask(module, runner, vmid_reserved, oci=self.oci)
        try:
            entry.result = task.execute()
        except _Stopped:
            entry.carried = (task.changed, list(task.steps), task.commands())
            return task, True
        except _errors.NexcageError as err:
            _msg, entry.error = err.failure()
        except Exception as exc:  # noqa: BLE001 - one entry's internal error must not end the others
            entry.error = _module.internal_error("nexcage_containers", exc, task.what()).to_dict()
        if entry.error is not None:
            entry.result = dict(vmid=task.vmid, changed=task.changed, commands=task.commands(), steps=task.steps)
            if self.params["fail_fast"]:
                self._stop.set()
        entry.warnings = module.warnings
        if entry.carried is not None:
            changed, steps, commands = entry.carried
            entry.result["changed"] = entry.result.get("changed") or changed
            entry.result["steps"] = steps + list(entry.result.get("steps") or [])
            entry.result["commands"] = commands + list(entry.result.get("commands") or [])
        return task, False

    def _plan(self, entry):
        """Step 1 for one entry (inside the snapshot); True when it still has commands to run."""
        if self.check:
            task, _stopped = self._run_entry(entry)
            if task.created and entry.params.get("vmid") is None and task.vmid is not None:
                readers.assume_taken(task.vmid)  # the next new container of the batch gets another one
            return False
        task, stopped = self._run_entry(entry, PlanningRunner(timeout=self.params["command_timeout"]))
        if task.changed:
            readers.forget()  # it wrote to the node (a bundle's lxc lines): read fresh from here on
        if stopped:
            entry.needs_vmid = entry.params.get("vmid") is None and _new(entry.params)
        return stopped

    def _apply(self, entry):
        if self._stop.is_set():
            entry.skipped = True
            return
        self._run_entry(entry)

    def _apply_allocating(self, job):
        """Entries that need a VMID pick it in their order (as check mode predicted): each starts when the
        one before it has reserved its VMID (or ended without one); their creates and starts overlap."""
        entry, turn, reserved = job
        turn.wait()
        try:
            if self._stop.is_set():
                entry.skipped = True
                return
            self._run_entry(entry, vmid_reserved=reserved.set)
        finally:
            reserved.set()

    # ---------------------------------------------------------------- the run

    def execute(self):
        pending = []
        with readers.snapshot():
            for entry in self.entries:
                if entry.params.get("vmid") is not None:
                    readers.assume_taken(entry.params["vmid"])  # never allocated to another entry
            for entry in self.entries:
                if entry.error is not None:
                    continue
                if self._stop.is_set():
                    entry.skipped = True
                elif self._plan(entry):
                    pending.append(entry)
        known = [e for e in pending if not e.needs_vmid]
        allocating = [e for e in pending if e.needs_vmid]
        if known:
            with ThreadPoolExecutor(max_workers=min(self.params["parallel"], len(known))) as pool:
                list(pool.map(self._apply, known))
        if allocating:
            turns = [threading.Event() for _entry in allocating] + [threading.Event()]
            turns[0].set()
            jobs = [(entry, turns[i], turns[i + 1]) for i, entry in enumerate(allocating)]
            with ThreadPoolExecutor(max_workers=min(self.params["parallel"], len(jobs))) as pool:
                list(pool.map(self._apply_allocating, jobs))
        return self.result()

    def result(self):
        containers = [entry.to_dict(self.check) for entry in self.entries]
        failed = [entry for entry in self.entries if entry.error is not None]
        totals = {
            "containers": len(containers),
            "changed": sum(1 for c in containers if c["changed"]),
            "failed": len(failed),
            "skipped": sum(1 for c in containers if c["skipped"]),
            "commands": sum(len(c["commands"]) for c in containers),
        }
        totals["unchanged"] = totals["containers"] - totals["changed"] - totals["failed"] - totals["skipped"]
        result = {
            "changed": totals["changed"] > 0,
            "containers": containers,
            "totals": totals,
            "commands": [command for c in containers for command in c["commands"]],
        }
        if self.module._diff:
            result["diff"] = [
                dict(entry.result["diff"], before_header=entry.label, after_header=entry.label)
                for entry in self.entries
                if entry.result and entry.result.get("diff") and entry.result.get("changed")
            ]
        for entry in self.entries:
            for warning in entry.warnings:
                self.module.warn("%s: %s" % (entry.label, warning))
        if failed:
            result["failed"] = True
            result["msg"] = "%d of %d containers failed: %s" % (
                len(failed),
                len(containers),
                "; ".join("%s: %s" % (entry.label, entry.error["message"]) for entry in failed),
            )
        return result


def checked_defaults(module):
    """The task's defaults, typed by the entries' argument spec; a bad one fails the task naming it."""
    defaults = module.params.get("defaults") or {}
    spec = entry_argument_spec()
    secret = defaults.get("password")
    if isinstance(secret, str) and secret:
        module.no_log_values.add(secret)  # free-form dict: Ansible does not know it is a secret
    for key in defaults:
        if key not in spec:
            raise _errors.ValidationError(
                "defaults.%s" % key,
                defaults[key],
                "unknown option",
                "Use options of nexcage_container (%s)." % ", ".join(sorted(spec)),
            )
    problems = _validation.raw_option_problems(spec, defaults, "defaults.")  # before ansible-core reads 1e3 as 1000
    if problems:
        raise problems[0]
    validated = ArgumentSpecValidator(spec).validate(dict(defaults))
    if validated.error_messages:
        raise _errors.ValidationError(
            "defaults", "(not shown)", "; ".join(validated.error_messages), "Fix the value of that option in defaults."
        )
    return {key: value for key, value in validated.validated_parameters.items() if value is not None}


def _new(params):
    """Whether an entry without vmid names no existing container (so a create allocates a VMID)."""
    hostname = params.get("hostname") or ""
    return not any(name.lower() == hostname.lower() for name in readers.ct_hostnames().values())


def run_module(module, oci=None):
    """Entry point of nexcage_containers (oci: its OCI support, _container.bundle) and of its _core twin
    (none): exit_json or fail_json, never a traceback."""

    def task():
        return Batch(module, oci).execute()

    _module.run(module, task, name="nexcage_containers")
