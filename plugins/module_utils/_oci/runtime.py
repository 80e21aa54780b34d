# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Running an OCI bundle directly through runc or crun. PRIVATE to the collection.

``converge(runner, container_id, bundle, state, runtime="runc", wrapper=None, ...)``
brings one container to ``present`` (created), ``started``, ``stopped``,
``restarted`` or ``absent`` with the runtime's own operations (``create``,
``start``, ``kill``, ``delete``, ``state``), and keeps the OCI state file
``/run/nexcage/<id>/state.json`` (``state``) in line with ``<runtime> state``.

``wrapper`` is an argv prefix for ``create`` only, a documented opt-in for hosts
where the runtime cannot create containers as installed. Example (crun 1.8 on a
hybrid cgroup host, env-notes §3):
``["unshare", "-m", "sh", "-c", "umount /sys/fs/cgroup/unified && exec \\"$@\\"", "wrap"]``.
``state``, ``start``, ``kill`` and ``delete`` never need it.

The container's stdio: ``<runtime> create`` hands its own stdin/stdout/stderr to
the container process, which keeps them open for its whole life, so ``create``
runs with stdin from /dev/null and stdout+stderr appended to
``/run/nexcage/<id>/console.log`` (``run_detached``); the runtime's own error
messages are read back from that log.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import (
    INVALID_ARGUMENT,
    NOT_FOUND,
    TIMEOUT,
    UNKNOWN,
    NexcageError,
)
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import ocistate, readers

RUNTIMES = ("runc", "crun")
STATES = ("present", "started", "stopped", "restarted", "absent")
CONFIG_ANNOTATION = "org.cageforge.nexcage.config-digest"
BACKEND_ANNOTATION = "org.cageforge.nexcage.backend"
NOT_EXIST = ("does not exist", "not exist", "No such file or directory")


def console_log(container_id):
    return os.path.join(ocistate.state_dir(container_id), "console.log")


def config_digest(bundle):
    with open(os.path.join(bundle, "config.json"), "rb") as handle:
        return "sha256:" + hashlib.sha256(handle.read()).hexdigest()


def _has_config(bundle):
    return bool(bundle) and os.path.isfile(os.path.join(bundle, "config.json"))


def run_detached(runner, argv, log_path, timeout=None):
    """Run a mutating argv whose child keeps its stdio: output goes to log_path (see Runner.run)."""
    return runner.run(argv, mutating=True, timeout=timeout, check=False, log_path=log_path)


class OciRuntime:
    """The runtime's operations for one container id."""

    def __init__(self, runner, runtime="runc", wrapper=None, root=None):
        if runtime not in RUNTIMES:
            raise NexcageError(
                INVALID_ARGUMENT, "backend %r is not an OCI runtime (%s)" % (runtime, ", ".join(RUNTIMES))
            )
        self.runner = runner
        self.runtime = runtime
        self.wrapper = list(wrapper or [])
        self.root = root

    def base(self):
        return [self.runtime] + (["--root", self.root] if self.root else [])

    def _fail(self, result, action, cid):
        detail = (result.stderr or result.stdout or "").strip().splitlines()
        category = TIMEOUT if result.rc == 124 else UNKNOWN
        raise NexcageError(
            category,
            "Cannot %s OCI container '%s' with %s: %s"
            % (action, cid, self.runtime, detail[-1] if detail else result.rc),
            hint="Read %s; run '%s state %s' on the host." % (console_log(cid), self.runtime, cid),
            cmd=result.cmd,
            rc=result.rc,
            stdout=result.stdout,
            stderr=result.stderr,
        )

    def state(self, cid):
        """The runtime's state dict, or None if the container does not exist."""
        result = self.runner.run(self.base() + ["state", cid], check=False)
        if result.rc != 0:
            if any(s in result.stderr for s in NOT_EXIST):
                return None
            self._fail(result, "read the state of", cid)
        return json.loads(result.stdout)

    def create(self, cid, bundle):
        argv = self.wrapper + self.base() + ["create", "--bundle", bundle, cid]
        result = run_detached(self.runner, argv, console_log(cid))
        if result.rc != 0:
            self._fail(result, "create", cid)

    def start(self, cid):
        result = self.runner.run(self.base() + ["start", cid], mutating=True, check=False)
        if result.rc != 0:
            self._fail(result, "start", cid)

    def kill(self, cid, signal):
        result = self.runner.run(self.base() + ["kill", cid, signal], mutating=True, check=False)
        if result.rc != 0 and "not running" not in result.stderr and "process already finished" not in result.stderr:
            self._fail(result, "send %s to" % signal, cid)

    def delete(self, cid, force=True):
        argv = self.base() + ["delete"] + (["-f"] if force else []) + [cid]
        result = self.runner.run(argv, mutating=True, check=False)
        if result.rc != 0 and not any(s in result.stderr for s in NOT_EXIST):
            self._fail(result, "delete", cid)

    def wait_status(self, cid, want, timeout):
        deadline = time.monotonic() + timeout
        while True:
            st = self.state(cid)
            status = st.get("status") if st else None
            if status in want:
                return st
            if time.monotonic() >= deadline:
                return st
            time.sleep(0.05)


def _oci_status(status):
    return status if status in ocistate.STATUSES else "running"  # paused: the process exists


def sync_state(runtime, cid, bundle, st):
    """Write /run/nexcage/<id>/state.json from the runtime's state (or remove it when st is None)."""
    if runtime.runner.check_mode:
        return
    if st is None:
        ocistate.remove_state(cid)
        return
    annotations = dict(st.get("annotations") or {})
    annotations[BACKEND_ANNOTATION] = runtime.runtime
    if _has_config(bundle):
        annotations[CONFIG_ANNOTATION] = config_digest(bundle)
    else:  # stopped by name: the bundle the runtime names may be gone; the recorded digest stays
        recorded = ((ocistate.read_state(cid) or {}).get("annotations") or {}).get(CONFIG_ANNOTATION)
        if recorded:
            annotations[CONFIG_ANNOTATION] = recorded
    status = _oci_status(st.get("status"))
    pid = st.get("pid") if status in ("created", "running") and st.get("pid") else None
    want = ocistate.build_state(cid, status, pid, os.path.abspath(bundle), annotations)
    if ocistate.read_state(cid) != want:
        ocistate.write_state(cid, status, pid, want["bundle"], annotations)


class _Transition:
    """The runtime operations one converge run makes, recorded as steps."""

    def __init__(self, engine, cid, bundle, stop_timeout):
        self.engine = engine
        self.cid = cid
        self.bundle = bundle
        self.stop_timeout = stop_timeout
        self.steps = []
        self.current = engine.state(cid)
        self.status = self.current.get("status") if self.current else None

    def recreate_needed(self):
        if self.current is not None and not _has_config(self.bundle):
            return True  # check mode: a bundle an earlier task of the play builds is a new config.json
        recorded = (ocistate.read_state(self.cid) or {}).get("annotations", {}).get(CONFIG_ANNOTATION)
        return self.current is not None and recorded is not None and recorded != config_digest(self.bundle)

    def stop(self):
        self.engine.kill(self.cid, "TERM")
        self.steps.append("kill")
        if not self.engine.runner.check_mode:
            after = self.engine.wait_status(self.cid, ("stopped",), self.stop_timeout)
            if after and after.get("status") != "stopped":
                self.engine.kill(self.cid, "KILL")
                self.engine.wait_status(self.cid, ("stopped",), 5)

    def remove(self):
        self.engine.delete(self.cid, force=True)
        self.steps.append("delete")

    def start(self):
        self.engine.start(self.cid)
        self.steps.append("start")

    def create(self, start):
        self.engine.create(self.cid, self.bundle)
        self.steps.append("create")
        if start:
            self.start()

    def present(self):
        if self.current is None:
            self.create(False)
        elif self.recreate_needed():
            self.remove()
            self.create(self.status == "running")

    def started(self):
        if self.current is None:
            self.create(True)
        elif self.status == "created" and not self.recreate_needed():
            self.start()
        elif self.status in ("stopped", "created") or self.recreate_needed():
            self.remove()
            self.create(True)

    def stopped(self):
        status = self.status
        if self.current is None and self.bundle is None:
            raise NexcageError(
                NOT_FOUND,
                "OCI container '%s' does not exist: nothing to stop" % self.cid,
                hint="Set image to its bundle directory to create it stopped.",
            )
        if self.current is None:
            self.create(False)
            status = "created"
        if status in ("running", "paused", "created"):
            self.stop()

    def restarted(self):
        if self.status in ("running", "paused"):
            self.stop()
        if self.current is not None:
            self.remove()
        self.create(True)

    def absent(self):
        if self.current is not None:
            self.remove()


def converge(runner, container_id, bundle, state="started", runtime="runc", wrapper=None, root=None, stop_timeout=10):
    """Bring container_id to state.

    Returns dict(changed, steps, before (the status found, None when absent), status, state (the OCI
    state), commands).
    """
    if state not in STATES:
        raise NexcageError(INVALID_ARGUMENT, "state must be one of %s" % ", ".join(STATES))
    engine = OciRuntime(runner, runtime, wrapper, root)
    cid = str(container_id)
    bundle = os.path.abspath(bundle) if bundle else bundle
    # Stopping an existing container needs no bundle (the teardown role gives none).
    needs_bundle = state not in ("absent", "stopped") or bundle is not None
    if needs_bundle and not _has_config(bundle) and not (bundle and runner.check_mode):
        raise NexcageError(NOT_FOUND, "The bundle %s has no config.json" % bundle)
    transition = _Transition(engine, cid, bundle, stop_timeout)
    getattr(transition, state)()
    bundle = bundle or (transition.current or {}).get("bundle")
    final = None if runner.check_mode else engine.state(cid)
    if state == "absent" and not runner.check_mode:
        ocistate.remove_state(cid)
    else:
        sync_state(engine, cid, bundle, final)
    return {
        "changed": bool(transition.steps),
        "steps": transition.steps,
        "before": transition.status,
        "status": (final or {}).get("status") if not runner.check_mode else None,
        "state": ocistate.read_state(cid) if not runner.check_mode and state != "absent" else None,
        "commands": runner.commands,
    }


class RuntimeBackend:
    """nexcage_container's backend runc or crun: the bundle runs directly on the host through that runtime.

    The module picks it by ``backend`` (as community.docker picks an engine driver); ``execute()``
    returns the module result (the same keys as the proxmox_lxc backend's).
    """

    def __init__(self, params, runner, diff=False, warn=None):
        self.params = params
        self.runner = runner
        self.diff = diff
        self.warn = warn or (lambda message: None)
        self.runtime = params["backend"]

    def container_id(self):
        cid = self.params.get("hostname")
        if not cid and self.params.get("vmid") is not None:
            cid = str(self.params["vmid"])
        if not cid:
            raise NexcageError(
                INVALID_ARGUMENT, "backend %s needs hostname (or vmid) as the OCI container ID" % self.runtime
            )
        return cid

    def check_image(self, state):
        image = self.params.get("image")
        if state == "stopped" and image is None:
            return None  # stops the container if it exists; without a bundle it cannot be created
        if state != "absent" and not readers.is_bundle_dir(image) and self.bundle_planned(image):
            self.warn(
                "image: no such bundle directory (%s has no config.json); check mode assumes a nexcage_bundle "
                "task of this play builds it (a real run without it fails)" % image
            )
            return image
        if state != "absent" and not readers.is_bundle_dir(image):
            raise NexcageError(
                INVALID_ARGUMENT,
                "backend %s runs OCI bundles: image must be an absolute bundle directory with a config.json (got %r)"
                % (self.runtime, image),
                hint="Make the bundle with cageforge.nexcage.nexcage_bundle and pass its path as image.",
            )
        if state != "absent":
            from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import checks
            from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.config import load_config

            hooks = checks.hook_problems(load_config(image)[0], self.params.get("allow_hooks"))
            if hooks:
                raise NexcageError(
                    INVALID_ARGUMENT,
                    "The bundle %s has OCI hooks (%s), which %s runs on the host as root"
                    % (image, ", ".join(problem["path"] for problem in hooks), self.runtime),
                    hint="Remove the hooks from config.json, or set allow_hooks: true if the host is to run them.",
                )
        return image

    def bundle_planned(self, image):
        """Check mode, and image a bundle directory still to be made: the nexcage_bundle task of the same
        play that would build it only plans (as for the proxmox_lxc backend)."""
        return (
            self.runner.check_mode
            and os.path.isabs(image or "")
            and not os.path.lexists(os.path.join(image, "config.json"))
        )

    def execute(self):
        state = self.params["state"]
        cid = self.container_id()
        image = self.check_image(state)
        result = converge(
            self.runner,
            cid,
            image,
            state,
            runtime=self.runtime,
            wrapper=self.params.get("runtime_wrapper"),
            stop_timeout=self.params["stop_timeout"],
        )
        container = None
        if state != "absent":
            container = {"id": cid, "backend": self.runtime, "bundle": image, "status": result["status"]}
            container["oci_state"] = result["state"]
        out = {
            "changed": result["changed"],
            "vmid": None,
            "container": container,
            "commands": list(self.runner.commands),
            "steps": result["steps"],
            "changes": [],
            "pending": [],
        }
        if self.diff:
            out["diff"] = {
                "before": {"status": result["before"] or "absent"},
                "after": {"status": _after(state, result["before"])},
            }
        return out


def _after(state, before):
    """The status the diff predicts for state."""
    if state == "absent":
        return "absent"
    if state in ("started", "restarted"):
        return "running"
    if state == "stopped":
        return "stopped"
    return before or "created"
