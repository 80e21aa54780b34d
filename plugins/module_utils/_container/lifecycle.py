# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The LXC container lifecycle of nexcage_container: the state machine. PRIVATE to the collection.

Reading is free of tool calls (_node.readers): the config, the guest list,
the storages and the run state come from the node's files, so a task on a
converged container runs no pct at all. Changes go through pct (create, set,
resize, start, stop, shutdown, reboot, destroy) and pveam download, each
through the Runner.

Failure policy (documented in the module): a failed ``pct create`` leaves
nothing behind (PVE removes the disks and config of a failed create task; a
VMID taken meanwhile by someone else is retried with the next free one when
nexcage chose it). When the start (or the wait for it) after this task's create
fails, the new container is destroyed again unless ``keep_on_failure`` is set;
a failure of any other later step keeps it, the error says so and the next
run continues from there.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time

from ansible_collections.cageforge.nexcage.plugins.module_utils import _errors, _module, _pveconfig, _runner
from ansible_collections.cageforge.nexcage.plugins.module_utils._common import runner_for
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.desired import desired_from_params
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.forms import typed_params
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.identity import Identity
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.plan import create_options, plan_update
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.prechecks import PreChecks
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.result import Reporting, show
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.view import container_pid, pending_keys
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.vmid import (
    next_free_vmid,
    read_record,
    release_vmid,
    remove_record,
    reserve_free_vmid,
    write_record,
)
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import ctconf, ocistate, paths, readers
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import CommandFailed

CREATE_RETRIES = 5
# A VMID reservation outlives its `pct create` (bounded by create_timeout) by at most this, after which
# it is stale even if its task still runs (a hung task must not hold a VMID forever).
RESERVATION_SLACK = 60
SECRET_MASK = "********"


class Bound:
    """The time limit of one command and the option(s) that set it (named in a timeout error)."""

    def __init__(self, option, seconds, why=""):
        self.option = option
        self.seconds = seconds
        self.why = why

    def overrun(self, result, action, what):
        """(message, hint) of a command killed at this bound."""
        message = "Cannot %s %s: `%s` ran longer than %s (%s s) and was killed [timeout]" % (
            action,
            what,
            result.cmd,
            self.option,
            self.seconds,
        )
        hint = "Raise %s if the node is only slow%s; otherwise find out what %s waits for." % (
            self.option,
            self.why,
            result.argv[0],
        )
        return message, hint


class ContainerTask(Identity, PreChecks, Reporting):
    """One run of nexcage_container: resolve, plan, act, report."""

    def __init__(self, module, runner=None, vmid_reserved=None, oci=None):
        self.module = module
        self.oci = oci  # the OCI support (_container.bundle), or None: a _core module ships without it
        self.vmid_reserved = vmid_reserved  # called once a VMID is reserved for the create (nexcage_containers)
        self.params = module.params
        self.check = module.check_mode
        self.runner = runner or runner_for(module)
        self.changed = False
        self.vmid = None
        self.name = self.params.get("hostname")
        self.created = False
        self.steps = []  # human-readable summary of what was (or would be) done
        self.pending = []
        self.changes = []
        self._keyfile = None
        self._pid = None
        self._was_running = False
        self.pid_reader = None  # a Runner for the read-only lxc-info fallback (None: a fresh one)
        self.bundle = None  # a BundleImage when image is an OCI bundle directory
        self.secret_env = []  # the bundle's NAME=value environment entries, never shown
        self.clone_source = None  # the VMID cloned from (clone)
        self.clone_config = None  # check mode: the predicted config of the clone

    # ---------------------------------------------------------------- helpers

    def fail(self, category, message, hint=None, **kw):
        raise _errors.NexcageError(category, message, hint=hint, **kw)

    def run(self, argv, action, mutating=True, bound=None, hint=None):
        """Run one command; bound is its Bound (default: command_timeout)."""
        bound = bound or Bound("command_timeout", self.runner.timeout)
        try:
            return self.runner.run(argv, mutating=mutating, timeout=bound.seconds)
        except CommandFailed as exc:
            err = _errors.error_from_result(exc.result, action, self.vmid, self.name, hint=hint)
            if exc.result.timed_out:
                err.message, err.hint = bound.overrun(exc.result, action, self.what())
            if self.created and action != "create":
                err.message += " (the container was created by this task and is kept)"
            err.cmd = self._mask(err.cmd)
            raise err from None

    def _mask(self, text):
        secret = self.params.get("password")
        if secret and text:
            return text.replace(secret, SECRET_MASK)
        return text

    def commands(self):
        return [self._mask(c) for c in self.runner.commands]

    def pid(self):
        if self._pid is None:
            self._pid = container_pid(self.vmid, self.pid_reader)
        return self._pid

    def what(self):
        return _errors.describe_container(self.vmid, self.name)

    # ---------------------------------------------------------------- state

    def status_of(self, vmid):
        return "running" if readers.is_running(vmid) else "stopped"

    def wait_for(self, want, timeout):
        """Wait until the container's status is `want`, with backoff; fail with the last state seen."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            seen = self.status_of(self.vmid)
            if seen == want:
                return seen
            if time.monotonic() >= deadline:
                self.fail(
                    _errors.TIMEOUT,
                    "Timed out after %ss waiting for %s to be %s; last state seen: %s"
                    % (timeout, self.what(), want, seen),
                    hint="Raise wait_timeout, or look at /run/pve/ct-%s.stderr and the container's init." % self.vmid,
                )
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 1.0)

    # ---------------------------------------------------------------- create / destroy

    def _keyfile_path(self):
        keys = self.params.get("ssh_public_keys")
        if not keys:
            return None
        if self.check:
            return "<temporary file with ssh_public_keys>"
        tmpdir = getattr(self.module, "tmpdir", None)
        fd, path = tempfile.mkstemp(prefix="nexcage-keys-", suffix=".pub", dir=tmpdir)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(keys if keys.endswith("\n") else keys + "\n")
        self._keyfile = path
        return path

    def _cleanup_keyfile(self):
        if self._keyfile:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._keyfile)
            self._keyfile = None

    def create_argv(self, vmid, desired):
        if self.clone_source is not None:
            return self.clone_argv(vmid)
        options = list(create_options(desired))
        if self.bundle is not None:
            options += self.bundle.create_options()
        if self.params.get("password"):
            options.append(("password", self.params["password"]))
        keyfile = self._keyfile_path()
        if keyfile:
            options.append(("ssh-public-keys", keyfile))
        return _runner.pct("create", vmid, desired.image, options=options)

    def create(self, desired):
        if self.params.get("clone") is not None:
            return self.create_by_clone(desired)
        if desired.image is None and self.check and _sets_options(desired):
            # an earlier task of the play may create it, and in check mode it only planned that (a task
            # that only names the container and a state, as a teardown does, fails as in a real run)
            self.assume_made_earlier("%s does not exist and image is not set" % self.what(), "update")
            return None
        if desired.image is None:
            self.fail(
                _errors.INVALID_ARGUMENT,
                "Cannot create %s: it does not exist and image is not set" % self.what(),
                hint="Set image to a template volume ID such as local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst.",
            )
        self.prepare_create(desired)
        try:
            if self.vmid is not None:
                self._create_once(self.vmid, desired)
            else:
                self._create_allocating(desired)
        finally:
            self._cleanup_keyfile()
        self.record_created(desired)

    def assume_made_earlier(self, problem, step):
        """Check mode: what the task needs is missing, as after an earlier task that only planned to make it."""
        self.module.warn("%s; check mode assumes an earlier task of this play makes it (a real run fails)" % problem)
        self.changed = True
        self.steps.append(step)

    def create_by_clone(self, desired):
        """pct clone of the source (full or linked), then the task's other options as for any container."""
        try:
            self.clone_source, source = self.resolve_clone_source()
        except _errors.NexcageError as err:
            if not self.check or err.category != _errors.NOT_FOUND:
                raise
            self.assume_made_earlier(err.message, "clone %s" % self.params["clone"])
            self.created = True
            if self.vmid is None:
                self.vmid = next_free_vmid()
            return
        self.check_clone(source)
        self.check_references(desired)
        if self.vmid is not None:
            self._create_once(self.vmid, desired)
        else:
            self._create_allocating(desired)
        self.record_created(desired)
        if self.check:
            overrides = {k: self.params[k] for k in ("hostname", "description") if self.params.get(k)}
            config = dict(source, **overrides)
            config.pop("template", None)
            self.clone_config = _pveconfig.config_keys(_pveconfig.effective_config(config))
        else:
            config = readers.ct_config(self.vmid)
        self.converge(desired, config, False)

    def prepare_create(self, desired):
        """Before any create: the template and storages are usable; a bundle's template is packed."""
        self.check_template(desired)
        self.check_storages(desired)
        self.check_references(desired)
        self.pack_bundle()

    def record_created(self, desired):
        self.created = True
        self.changed = True
        self.steps.append("create")
        if not self.check:
            record = {"vmid": self.vmid, "image": desired.image, "created": int(time.time())}
            if self.clone_source is not None:
                record["clone"] = self.clone_source
            write_record(self.vmid, record)
            self.sync_oci("created")

    def create_bound(self):
        return Bound("create_timeout", self.params["create_timeout"], " (a large template, a slow storage)")

    def _create_once(self, vmid, desired):
        try:
            self.run(self.create_argv(vmid, desired), "create", bound=self.create_bound())
        except _errors.NexcageError as err:
            if not self.check:
                self.explain_leftover(err)
            raise

    def _create_allocating(self, desired):
        if self.check:  # only planned: no lock, no reservation
            self.vmid = next_free_vmid()
            self._create_once(self.vmid, desired)
            return
        tried = []
        for _attempt in range(CREATE_RETRIES):
            self.vmid = self._reserve_vmid(tried)
            try:
                self._create_once(self.vmid, desired)
                return
            except _errors.NexcageError as err:
                if err.category != _errors.ALREADY_EXISTS:
                    raise
                tried.append(self.vmid)  # someone outside nexcage took it: next one
            finally:
                release_vmid(self.vmid)  # from here its config (or what a failed create left) holds the VMID
        self.fail(
            _errors.ALREADY_EXISTS,
            "Cannot create %s: VMIDs %s were all taken while creating" % (self.what(), ", ".join(map(str, tried))),
            hint="Retry; or set vmid explicitly.",
        )

    def _reserve_vmid(self, tried):
        """A free VMID reserved for this task's `pct create`; _Retarget when another task made the container."""
        create_timeout = self.params["create_timeout"]
        vmid, exists = reserve_free_vmid(
            self.params.get("hostname"),
            wait=max(self.runner.timeout, create_timeout),
            lifetime=create_timeout + RESERVATION_SLACK,
            exclude=tried,
        )
        if exists:
            self.vmid = vmid
            self.created = False
            raise _Retarget()
        if self.vmid_reserved is not None:
            self.vmid_reserved()
        return vmid

    def destroy(self, running):
        options = [("force", "1")] if running else []
        if self.params.get("purge"):
            options.append(("purge", "1"))
        try:
            self.run(_runner.pct("destroy", self.vmid, options=options), "destroy")
        except _errors.NexcageError as err:
            if not self.check:
                self.explain_leftover(err, "destroy")
            raise
        self.changed = True
        self.steps.append("destroy")
        if not self.check:
            ocistate.remove_state(self.vmid)
            remove_record(self.vmid)

    # ---------------------------------------------------------------- run state

    def start(self):
        self.run(_runner.pct("start", self.vmid), "start", bound=Bound("wait_timeout", self.params["wait_timeout"]))
        self.changed = True
        self.steps.append("start")
        self.pending = []  # PVE applies [pve:pending] at start
        if not self.check:
            self.wait_for("running", self.params["wait_timeout"])
            self._pid = None
            self.sync_oci("running")

    def make_template(self, running):
        """state: template: convert once (pct template); a running container is stopped first only with force."""
        config = readers.ct_config(self.vmid) if not self.check or not self.created else {}
        if (config or {}).get("template"):
            return
        if running:
            if not self.params["force"]:
                self.fail(
                    _errors.ALREADY_RUNNING,
                    "Cannot convert %s to a template: it is running (you can't convert a CT to template if the CT "
                    "is running)" % self.what(),
                    hint="Stop it first (state: stopped), or set force: true to stop it and convert it.",
                )
            self.stop()
        self.run(_runner.pct("template", self.vmid), "convert to a template")
        self.changed = True
        self.steps.append("template")
        self.changes.append(
            {"key": "template", "before": None, "after": True, "kind": "create_only", "reason": "pct template"}
        )

    def start_or_undo(self):
        """Start; when this task created the container and the start fails, destroy it again
        (pct destroy frees its volumes) unless keep_on_failure: a retry then starts clean."""
        try:
            self.start()
        except _errors.NexcageError as err:
            if not self.created or self.check or self.params.get("keep_on_failure"):
                raise
            try:
                self.runner.run(_runner.pct("destroy", self.vmid, options=[("force", "1")]), mutating=True)
            except CommandFailed as undo:
                err.message += "; removing it again failed too: %s" % (undo.result.stderr or "").strip()
                raise err from None
            remove_record(self.vmid)
            ocistate.remove_state(self.vmid)
            self.steps.append("destroy (undo the create)")
            kept = " (the container was created by this task and is kept)"
            err.message = err.message.replace(kept, "") + (
                " (the container created by this task was destroyed again; keep_on_failure: true keeps it)"
            )
            raise

    def stop(self):
        if self.params["stop_mode"] == "shutdown":
            timeout = self.params["stop_timeout"]
            argv = _runner.pct("shutdown", self.vmid, options=[("timeout", timeout), ("forceStop", "1")])
            bound = Bound(
                "stop_timeout + command_timeout",
                timeout + self.runner.timeout,
                " (stop_timeout for the clean shutdown, command_timeout for the forced stop after it)",
            )
            self.run(argv, "shut down", bound=bound)
        else:
            self.run(_runner.pct("stop", self.vmid), "stop")
        self.changed = True
        self.steps.append(self.params["stop_mode"])
        if not self.check:
            self.wait_for("stopped", self.params["wait_timeout"])
            self.sync_oci("stopped")

    def reboot(self):
        timeout = self.params["stop_timeout"]
        bound = Bound(
            "stop_timeout + wait_timeout",
            timeout + self.params["wait_timeout"],
            " (stop_timeout for the shutdown, wait_timeout for the start)",
        )
        self.run(_runner.pct("reboot", self.vmid, options=[("timeout", timeout)]), "restart", bound=bound)
        self.changed = True
        self.steps.append("restart")
        self.pending = []  # PVE applies [pve:pending] at the restart
        if not self.check:
            self.wait_for("running", self.params["wait_timeout"])
            self._pid = None
            self.sync_oci("running")

    def sync_oci(self, status, config=None):
        """Bring /run/nexcage/<vmid>/state.json in line with the container (not a reported change)."""
        if self.check or self.vmid is None:
            return
        pid = self.pid() if status == "running" else None
        config = config if config is not None else (readers.ct_config(self.vmid) or {})
        record = read_record(self.vmid)
        annotations = {"org.cageforge.nexcage.vmid": str(self.vmid), "org.cageforge.nexcage.backend": "pct"}
        if config.get("hostname"):
            annotations["org.cageforge.nexcage.hostname"] = config["hostname"]
        if record.get("image"):
            annotations["org.cageforge.nexcage.image"] = record["image"]
        want = ocistate.build_state(self.vmid, status, pid, os.path.join(paths.LXC_PATH, str(self.vmid)), annotations)
        if ocistate.read_state(self.vmid) != want:
            ocistate.write_state(self.vmid, status, pid, want["bundle"], annotations)

    # ---------------------------------------------------------------- main flow

    def shown(self, result):
        """result with the bundle's environment values masked (a template task has none)."""
        if not self.secret_env:
            return result
        return self.oci.hide(result, self.secret_env)

    def oci_support(self, option):
        """The OCI support for a task whose option needs it; a _core module (no OCI support) fails."""
        if self.oci is None:
            problem = _errors.ValidationError(
                option,
                self.params.get(option),
                "needs OCI support, which this module leaves out of its payload (the template-only core that"
                " nexcage_container's action plugin runs for tasks without bundles or OCI runtimes)",
                "Run the task as cageforge.nexcage.nexcage_container (or nexcage_containers), which choose for you",
            )
            raise _errors.from_validation(problem, self.params.get("vmid"), self.name)
        return self.oci

    def use_bundle(self):
        """image is an OCI bundle directory: validate and map it (nothing is written yet)."""
        if self.params.get("lxc") is not None:
            problem = _errors.ValidationError(
                "lxc",
                self.params["lxc"],
                "cannot go with a bundle image (its raw lxc.* lines come from its config.json)",
                "Put the settings into the bundle's config.json, or drop lxc",
            )
            raise _errors.from_validation(problem, self.params.get("vmid"), self.name)
        # Only here: a task on a template never imports the OCI chain (nor jsonschema).
        oci = self.oci_support("image")
        self.bundle = oci.load_bundle(self.params)
        self.secret_env = oci.environment_secrets(self.bundle)
        oci.protect(self.module, self.secret_env)
        self.params, warnings = self.bundle.merged_params(self.params)
        for warning in warnings:
            self.module.warn(oci.hide("bundle %s: %s" % (self.bundle.directory, warning), self.secret_env))

    def pack_bundle(self):
        """Before a create from a bundle: its content-addressed template (planned only, in check mode)."""
        if self.bundle is not None and self.bundle.pack(self.runner):
            self.changed = True
            self.steps.append("pack %s" % self.bundle.template)

    def sync_raw_lines(self, lines, running):
        """The task's raw lxc.* lines (allow-listed by the node layer) into the CT config."""
        changed, before, after = ctconf.set_raw_lxc_lines(self.vmid, lines, check_mode=self.check)
        if not changed:
            return
        self.changed = True
        self.steps.append("lxc")
        self.changes.append(
            {
                "key": "lxc",
                "before": [list(kv) for kv in before],
                "after": [list(kv) for kv in after],
                "kind": "restart",
                "reason": "LXC reads raw lxc.* lines at the next start",
            }
        )
        if running:
            self.pending = sorted(set(self.pending) | {"lxc"})

    def sync_bundle_lines(self, running):
        """Raw lxc.* lines of the bundle into the CT config, under the config lock (not settable by pct)."""
        changed, before, after = self.bundle.sync_lines(self.vmid, self.check)
        if not changed:
            return
        self.changed = True
        self.steps.append("lxc")
        self.changes.append({"key": "lxc", "before": [list(kv) for kv in before], "after": [list(kv) for kv in after]})
        if running:
            self.pending = sorted(set(self.pending) | {"lxc"})

    def execute(self):
        try:
            self.params, notes = typed_params(self.params)
        except _errors.ValidationError as exc:
            raise _errors.from_validation(exc, self.params.get("vmid"), self.name) from None
        for note in notes:
            self.module.warn(note)
        state = self.params["state"]
        if self.params.get("backend", "proxmox_lxc") != "proxmox_lxc":
            run_backend = self.oci_support("backend").run_backend
            result = run_backend(self.params, self.runner, diff=self.module._diff, warn=self.module.warn)
            self.changed, self.steps = result["changed"], result["steps"]
            return result
        if state != "absent" and readers.is_bundle_dir(self.params.get("image")):
            self.use_bundle()
        elif state != "absent" and os.path.isabs(self.params.get("image") or ""):
            return self.bundle_not_built()
        try:
            desired = desired_from_params(self.params) if state != "absent" else None
            config = self.resolve()
        except _errors.ValidationError as exc:
            raise _errors.from_validation(exc, self.params.get("vmid"), self.name) from None
        if self.name is None and config is not None:
            self.name = config.get("hostname")
        before = self.snapshot(config)

        if state == "absent":
            return self.do_absent(config, before)

        running = False
        if config is not None:
            self.refuse_half_made(config, "update")
        if config is None:
            try:
                self.create(desired)
            except _Retarget:
                config = readers.ct_config(self.vmid)
        if config is not None:
            running = readers.is_running(self.vmid)
            self.converge(desired, config, running)
        if self.created:
            running = False
        if self.bundle is not None:
            self.sync_bundle_lines(running)
        elif desired.lxc is not None:
            self.sync_raw_lines(desired.lxc, running)

        if state == "started":
            if not running:
                self.start_or_undo()
            elif self.pending and self.params["restart_on_change"]:
                self.reboot()
        elif state == "stopped":
            if running:
                self.stop()
        elif state == "restarted":
            if running:
                if self.params["stop_mode"] == "stop":
                    self.run(_runner.pct("stop", self.vmid), "stop")
                    self.steps.append("stop")
                    if not self.check:
                        self.wait_for("stopped", self.params["wait_timeout"])
                    self.start()
                else:
                    self.reboot()
            else:
                self.start_or_undo()
        elif state == "template":
            self.make_template(running)
        elif state == "present":
            if self.created and self._was_running:
                self.start()
            elif running and self.pending and self.params["restart_on_change"]:
                self.reboot()
        return self.finish(before, desired)

    def bundle_not_built(self):
        """image is an absolute path without a bundle: an error; in check mode a predicted deploy.

        In check mode the nexcage_bundle task of the same play that would build the bundle only
        plans, so the directory may legitimately be missing: warn and report the deploy as a change.
        """
        directory = self.params["image"]
        problem = "no such bundle directory (%s has no config.json)" % directory
        fix = (
            "Build the bundle first (cageforge.nexcage.nexcage_bundle with path: %s, state: present), or set "
            "image to a template volume ID such as local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst" % directory
        )
        try:
            if not self.check:
                raise _errors.ValidationError("image", directory, problem, fix)
            desired = desired_from_params(dict(self.params, image=None))
            config = self.resolve()
        except _errors.ValidationError as exc:
            raise _errors.from_validation(exc, self.params.get("vmid"), self.name) from None
        self.module.warn(
            "image: %s; check mode assumes a nexcage_bundle task of this play builds it (a real run "
            "without it fails)" % problem
        )
        before = self.snapshot(config)
        if config is None:
            self.created = True
            if self.vmid is None:
                self.vmid = next_free_vmid()
        self.changed = True
        self.steps.append("deploy bundle %s" % directory)
        return self.finish(before, desired)

    def converge(self, desired, config, running):
        effective = _pveconfig.effective_config(config)
        record = read_record(self.vmid)
        try:
            plan = plan_update(desired, effective, running, record.get("image"))
        except _errors.ValidationError as exc:
            raise _errors.from_validation(exc, self.vmid, self.name) from None
        if plan.create_only:
            fields = ", ".join(
                "%s (%s -> %s: %s)" % (c.key, show(c.before), show(c.after), c.reason) for c in plan.create_only
            )
            if not self.params["recreate"]:
                self.fail(
                    _errors.INVALID_ARGUMENT,
                    "Cannot update %s: create-only settings differ: %s" % (self.what(), fields),
                    hint="Change the playbook back to the current values, or set recreate: true to destroy and "
                    "recreate the container (this DESTROYS its data).",
                    fields=[c.to_dict() for c in plan.create_only],
                )
            self.check_unlocked(config, "recreate")
            if desired.image is None:
                self.fail(
                    _errors.INVALID_ARGUMENT,
                    "Cannot recreate %s: image is not set" % self.what(),
                    hint="Set image to recreate the container from a template.",
                )
            self.prepare_create(desired)
            self.destroy(running)
            self._was_running = running
            try:
                self._create_once(self.vmid, desired)
            finally:
                self._cleanup_keyfile()
            self.record_created(desired)
            self.changes = [c.to_dict() for c in plan.create_only]
            return
        self.changes = [c.to_dict() for c in plan.changes]
        self.check_references(desired, _set_slots(plan.set_options), running)
        set_argv = plan.set_argv(self.vmid)
        resizes = plan.resize_argvs(self.vmid)
        if set_argv or resizes:
            self.check_unlocked(config, "update")
        if set_argv:
            self.run(set_argv, "update")
            self.changed = True
            self.steps.append("update")
        for argv in resizes:
            self.run(argv, "resize a disk of")
            self.changed = True
            self.steps.append("resize %s" % argv[3])
        self.pending = sorted(set(plan.pending_keys(running)) | set(pending_keys(config)))

    def do_absent(self, config, before):
        if config is None:
            if self.vmid is not None and not self.check:
                # nexcage's own files of a container that is gone (an interrupted destroy, or one removed
                # by a repair or by hand): housekeeping, not a change of the node's containers
                state = ocistate.read_state(self.vmid) or {}
                if (state.get("annotations") or {}).get("org.cageforge.nexcage.backend") == "pct":
                    ocistate.remove_state(self.vmid)  # never a runc/crun container's state named like it
                remove_record(self.vmid)
            return self.finish(before, None)
        running = readers.is_running(self.vmid)
        if running and not self.params["force"]:
            self.fail(
                _errors.ALREADY_RUNNING,
                "Cannot remove %s: it is running (unable to destroy CT %s - container is running)"
                % (self.what(), self.vmid),
                hint="Stop it first (state: stopped), or set force: true to stop and destroy it.",
            )
        self.check_unlocked(config, "remove")
        self.destroy(running)
        return self.finish(before, None)


def _sets_options(desired):
    """Whether the task sets any container option besides its identity (hostname) and state."""
    scalars = {key for key in desired.scalars if key != "hostname"}
    typed = (desired.features, desired.startup, desired.rootfs, desired.netif, desired.mounts, desired.devices)
    return bool(scalars) or any(value is not None for value in typed + (desired.lxc, desired.pool))


def _set_slots(set_options):
    """The netif/mount slots a pct set carries, keyed as PreChecks.check_references expects."""
    slots = set()
    for key, value in set_options.items():
        if key.startswith("net") and isinstance(value, dict):
            slots.add("netif:%s" % value.get("name"))
        elif key.startswith("mp") or key == "hookscript":
            slots.add(key)
    return slots


class _Retarget(Exception):
    """The container appeared (by hostname) while waiting for the VMID lock or for its creator."""


def run_module(module, oci=None):
    """Entry point of nexcage_container (oci: its OCI support, _container.bundle) and of its _core
    twin (none): exit_json or fail_json, never a traceback."""
    task = ContainerTask(module, oci=oci)

    def context(_error):
        return dict(vmid=task.vmid, changed=task.changed, commands=task.commands(), steps=task.steps)

    def execute():
        return task.shown(task.execute())

    _module.run(module, execute, name="nexcage_container", what=task.what, context=context)
