# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Error categories, the mapping from node-tool output to them, and actionable messages.

PRIVATE to the collection.

* ``CATEGORIES``: the fixed set of categories (catalogue in docs/errors.md).
* ``classify(stderr, rc) -> category`` maps the stderr and exit code of
  ``pct``/``pvesm``/``pveam``/``pvesh`` (and the runner's timeout) to a category;
  ``match(stderr, rc)`` returns the whole ``Match`` (category, pattern hint,
  the matched line). The patterns are the verbatim PVE strings of
  pve-cli-facts.md; the exit code is only used for the runner's timeout (PVE
  exit codes are not reliable, see facts §1).
* ``NexcageError`` is what module_utils raise; ``to_dict()`` gives the
  ``error`` return value {category, message, hint, cmd, rc, stdout, stderr}.
* ``ValidationError(option, value, message, fix)`` is the NexcageError of a
  refused option value.
* ``error_from_result(result, action, vmid, name)`` builds the ``NexcageError`` for
  every failed command (with a message naming the container, the VMID, the step
  and the fix when an action is given).
"""

from __future__ import annotations

import re

TIMEOUT_RC = 124

ALREADY_EXISTS = "already_exists"
NOT_FOUND = "not_found"
INVALID_ARGUMENT = "invalid_argument"
LOCKED = "locked"
NOT_RUNNING = "not_running"
ALREADY_RUNNING = "already_running"
RESOURCE_EXHAUSTED = "resource_exhausted"
PERMISSION_DENIED = "permission_denied"
TIMEOUT = "timeout"
UNSUPPORTED = "unsupported"
UNKNOWN = "unknown"

CATEGORIES = (
    ALREADY_EXISTS,
    NOT_FOUND,
    INVALID_ARGUMENT,
    LOCKED,
    NOT_RUNNING,
    ALREADY_RUNNING,
    RESOURCE_EXHAUSTED,
    PERMISSION_DENIED,
    TIMEOUT,
    UNSUPPORTED,
    UNKNOWN,
)

# What to do, per category, when no more specific hint is known.
CATEGORY_HINTS = {
    ALREADY_EXISTS: "Choose another vmid, omit vmid so that nexcage allocates a free one, "
    "or remove the existing guest.",
    NOT_FOUND: "Check the name in the message: create the missing object, or fix the option that refers to it.",
    INVALID_ARGUMENT: "Fix the option named in the message; the PVE rule it broke is quoted there.",
    LOCKED: "Wait for the operation that holds the lock (backup, snapshot, migrate, ...) to finish; "
    "if nothing is running any more, remove a stale lock with `pct unlock <vmid>`, except for lock 'create' or "
    "'destroyed' (an interrupted create or destroy): repair those with nexcage_health and repair: [stale_locks].",
    NOT_RUNNING: "Start the container first (state: started), or run the step only while it is running.",
    ALREADY_RUNNING: "Stop the container first (state: stopped), or set force: true where the module offers it.",
    RESOURCE_EXHAUSTED: "Free space, memory or VMIDs on the node (or pick another storage), then retry.",
    PERMISSION_DENIED: "Run the task as root on the Proxmox VE node (become: true) and check the guard named in "
    "the message.",
    TIMEOUT: "Raise the bound named in the message (command_timeout, create_timeout, wait_timeout, stop_timeout), "
    "or find out why the node is slow (see the command's output).",
    UNSUPPORTED: "This node, storage or container cannot do that; choose another storage or option.",
    UNKNOWN: "Read stderr below; run the command by hand on the node to see the full task log.",
}


class Pattern:
    """A known error text; compiled on first use (only a failed command needs it, not every task)."""

    def __init__(self, regex, category, hint=None):
        self.source = regex
        self.category = category
        self.hint = hint
        self._regex = None

    @property
    def regex(self):
        if self._regex is None:
            self._regex = re.compile(self.source, re.MULTILINE)
        return self._regex


# Order matters: the first match wins. Specific before general.
PATTERNS = (
    # -- locks (before 'timeout': a lock wait times out with "got timeout")
    Pattern(r"CT is locked \((?P<lock>[a-z\-]+)\)", LOCKED),
    Pattern(r"can't lock file '[^']*' - got timeout", LOCKED, "Another pct command holds the config lock; retry."),
    Pattern(r"trying to acquire lock\.\.\.\s*failed", LOCKED, "Another pct command holds the config lock; retry."),
    Pattern(
        r"detected modified configuration - file changed by other user",
        LOCKED,
        "The config changed while nexcage was working on it; run the task again.",
    ),
    Pattern(r"no lock found trying to remove", NOT_FOUND, "There is no lock to remove."),
    # -- already exists
    Pattern(r"(CT|VM) \d+ already exists on node '[^']*'", ALREADY_EXISTS),
    Pattern(r"vmid: VM \d+ already exists", ALREADY_EXISTS),
    Pattern(r"snapshot name '[^']*' already used", ALREADY_EXISTS, "Use another snapshot name."),
    # -- running / not running
    Pattern(r"CT \d+ already running", ALREADY_RUNNING),
    Pattern(r"can't overwrite running container", ALREADY_RUNNING, "Stop the container before restoring over it."),
    Pattern(r"unable to destroy CT \d+ - container is running", ALREADY_RUNNING, "Stop it first or set force: true."),
    Pattern(r"you can't convert a CT to template if the CT is running", ALREADY_RUNNING),
    Pattern(r"(CT|VM) \d+ not running", NOT_RUNNING),
    Pattern(r"container '\d+' not running!", NOT_RUNNING),
    Pattern(r"can only (push files to|pull files from) a running (CT|VM)", NOT_RUNNING),
    # -- not found
    Pattern(
        r"Configuration file '[^']*' does not exist",
        NOT_FOUND,
        "The container does not exist on this node (it may live on another cluster node).",
    ),
    Pattern(r"pool '[^']*' does not exist", NOT_FOUND, "Create the pool (pveum pool add <pool>) or fix pool."),
    Pattern(r"storage '[^']*' does not exist", NOT_FOUND, "Use a storage ID from /etc/pve/storage.cfg."),
    Pattern(r"No such storage", NOT_FOUND, "Use a storage ID from /etc/pve/storage.cfg."),
    Pattern(
        r"volume '[^']*' does not exist",
        NOT_FOUND,
        "The template or volume is missing: download it (download: true) or fix image.",
    ),
    Pattern(r"can't find file '[^']*'", NOT_FOUND),
    Pattern(r"snapshot '[^']*' does not exist", NOT_FOUND),
    Pattern(r"template: no such template", NOT_FOUND, "List the names with `pveam available`; run `pveam update`."),
    Pattern(r"bridge '[^']*' does not exist", NOT_FOUND, "Create the bridge on the node or fix netif[].bridge."),
    Pattern(r"directory '[^']*' does not exist", NOT_FOUND, "Create the host directory of the bind mount first."),
    Pattern(r"can't open '[^']*' - No such file or directory", NOT_FOUND),
    Pattern(r"No '[a-z]+' handler defined for", NOT_FOUND),
    # -- permission
    Pattern(r"please run as root", PERMISSION_DENIED, "Run the task as root (become: true)."),
    Pattern(r"Only root can pass arbitrary filesystem paths", PERMISSION_DENIED, "Run the task as root."),
    Pattern(r"ipcc_send_rec\[\d+\] failed", PERMISSION_DENIED, "Run as root, and check that pve-cluster runs."),
    Pattern(r"Permission check failed", PERMISSION_DENIED),
    Pattern(
        r"protection mode enabled",
        PERMISSION_DENIED,
        "The container has protection: 1; clear it (`pct set <vmid> --protection 0`) before removing it.",
    ),
    Pattern(r"Permission denied", PERMISSION_DENIED),
    # -- unsupported
    Pattern(
        r"does not support container directories",
        UNSUPPORTED,
        "That storage has no 'rootdir' content: put rootfs/mounts on a storage that has (e.g. local-zfs, local-lvm).",
    ),
    Pattern(r"(Storage does not support templates!|does not support templates)", UNSUPPORTED),
    Pattern(r"storage '[^']*' is disabled", UNSUPPORTED, "Enable the storage or use another one."),
    Pattern(r"storage '[^']*' is not available on node", UNSUPPORTED, "Use a storage available on this node."),
    Pattern(r"storage '[^']*' is not online", UNSUPPORTED, "Bring the storage online or use another one."),
    Pattern(r"(snapshot|Template) feature is not available", UNSUPPORTED),
    Pattern(r"Quotas are not supported by unprivileged containers", UNSUPPORTED, "Drop quota=1 or use privileged."),
    Pattern(r"SLAAC is not supported", UNSUPPORTED),
    Pattern(r"you can't (start a CT if it's a template|convert a template to a template)", UNSUPPORTED),
    Pattern(r"unable to create template, because CT contains snapshots", UNSUPPORTED),
    Pattern(r"ERROR: unknown command", UNSUPPORTED, "This PVE version does not have that subcommand."),
    Pattern(r"cluster not ready - no quorum\?", UNSUPPORTED, "The cluster has no quorum; restore it first."),
    # -- resources
    Pattern(r"unable to get any free VMID", RESOURCE_EXHAUSTED, "Widen next-id in datacenter.cfg or remove guests."),
    Pattern(r"No space left on device|out of space|Disk quota exceeded", RESOURCE_EXHAUSTED),
    Pattern(r"Cannot allocate memory|Out of memory", RESOURCE_EXHAUSTED),
    # -- timeouts
    Pattern(r"container did not stop", TIMEOUT, "Use stop_mode: stop, or a longer timeout."),
    Pattern(r"^timed out after \d+", TIMEOUT),
    # -- invalid arguments (PVE 400s and pre-checks)
    Pattern(r"400 Parameter verification failed\.", INVALID_ARGUMENT),
    Pattern(r"400 unable to parse (boolean )?option", INVALID_ARGUMENT),
    Pattern(r"Unknown option: ", INVALID_ARGUMENT),
    Pattern(r"400 (not enough|too many) arguments", INVALID_ARGUMENT),
    Pattern(r"unable to modify read-only option: '[^']*'", INVALID_ARGUMENT, "That option is create-only."),
    Pattern(r"unable to delete required option '[^']*'", INVALID_ARGUMENT),
    Pattern(r"content type needs to be 'vztmpl'", INVALID_ARGUMENT, "image must be a <storage>:vztmpl/<file> volume."),
    Pattern(r"unable to parse directory volume name", INVALID_ARGUMENT),
    Pattern(r"file does not look like a template archive|unrecognized compression format", INVALID_ARGUMENT),
    Pattern(r"contains illegal character sequences", INVALID_ARGUMENT),
    Pattern(r"SSH public key validation error", INVALID_ARGUMENT, "ssh_public_keys holds a line that is not a key."),
    Pattern(r"unable to shrink disk size", INVALID_ARGUMENT, "Volumes can only grow; recreate to shrink."),
    Pattern(r"disk is already at specified size", INVALID_ARGUMENT),
    Pattern(r"unable to use snapshot name 'current'", INVALID_ARGUMENT),
    Pattern(r"used in HA resources and purge parameter not set", INVALID_ARGUMENT, "Set purge: true."),
    Pattern(r"mount points configured, but 'rootfs' not set", INVALID_ARGUMENT, "Set rootfs."),
    Pattern(r"missing command at ", INVALID_ARGUMENT),
    Pattern(
        r"unable to detect OS distribution",
        INVALID_ARGUMENT,
        "The template's OS is not one PVE knows: set ostype: unmanaged (or the right ostype).",
    ),
    Pattern(r"no options specified", INVALID_ARGUMENT),
    Pattern(r"checksum mismatch: got", UNKNOWN, "The downloaded template is corrupt; run the task again."),
    Pattern(
        r"startup for container '\d+' failed",
        UNKNOWN,
        "The container's init failed to start; read /run/pve/ct-<vmid>.stderr on the node.",
    ),
)


class Match:
    def __init__(self, category, hint=None, line=None, groups=None):
        self.category = category
        self.hint = hint
        self.line = line
        self.groups = groups or {}


def match(stderr, rc=None, stdout=None):
    """Return the Match for a failed command's output (stderr first, then stdout)."""
    for text in (stderr or "", stdout or ""):
        for pattern in PATTERNS:
            found = pattern.regex.search(text)
            if found:
                line = text[text.rfind("\n", 0, found.start()) + 1 :].split("\n", 1)[0]
                return Match(pattern.category, pattern.hint, line.strip(), found.groupdict())
    if rc == TIMEOUT_RC:
        return Match(TIMEOUT, None, None)
    return Match(UNKNOWN, None, _first_line(stderr) or _first_line(stdout))


def classify(stderr, rc=None):
    """The category for a failed command's stderr and exit code."""
    return match(stderr, rc).category


def _first_line(text):
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return None


_PARAM_LINE_PATTERN = r"^([A-Za-z0-9_.\-\[\]]+): (.+)$"


def parameter_errors(stderr):
    """The per-parameter lines of a '400 Parameter verification failed.' block: {name: message}."""
    text = stderr or ""
    if "400 Parameter verification failed." not in text:
        return {}
    result = {}
    block = text.split("400 Parameter verification failed.", 1)[1]
    for line in block.splitlines():
        found = re.match(_PARAM_LINE_PATTERN, line.strip())
        if found:
            result[found.group(1)] = found.group(2)
    return result


def describe_container(vmid=None, name=None):
    if vmid is not None and name:
        return "container %s (VMID %s)" % (name, vmid)
    if vmid is not None:
        return "container VMID %s" % vmid
    if name:
        return "container %s" % name
    return "the container"


class NexcageError(Exception):
    """A failure with a category, an actionable message and the evidence (base of every nexcage error)."""

    def __init__(self, category, message, hint=None, cmd=None, rc=None, stdout=None, stderr=None, **extra):
        if category not in CATEGORIES:
            category = UNKNOWN
        super().__init__(message)
        self.category = category
        self.message = message
        self.hint = hint if hint is not None else CATEGORY_HINTS[category]
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.extra = extra

    def to_dict(self):
        data = {
            "category": self.category,
            "message": self.message,
            "hint": self.hint,
            "cmd": self.cmd,
            "rc": self.rc,
            "stdout": self.stdout,
            "stderr": self.stderr,
        }
        data.update(self.extra)
        return data

    def failure(self):
        """(msg, error) as a module's fail_json reports them."""
        return self.message, self.to_dict()


class ValidationError(NexcageError, ValueError):
    """An option value that Proxmox VE (or nexcage) would refuse.

    option is the option as the user wrote it (``netif[0].hwaddr``, or a JSON path
    ``$.process.cwd``), value what was given, message one line, fix what to write instead.
    """

    def __init__(self, option, value, message, fix=None):
        text = "%s: %s (got %r)" % (option, message, value)
        if fix:
            text += ". " + fix
        super().__init__(INVALID_ARGUMENT, text, hint=fix, option=option)
        self.option = option
        self.value = value
        self.message = message
        self.fix = fix

    def to_dict(self):
        return {"option": self.option, "value": self.value, "message": self.message, "fix": self.fix}

    def failure(self):
        text = str(self)
        error = {"category": self.category, "message": text, "hint": self.hint, "cmd": None, "rc": None}
        error.update(stdout=None, stderr=None, option=self.option)
        return text, error


def _output(result):
    return (result.stderr or result.stdout or "").strip() or "no output"


def error_from_result(result, action=None, vmid=None, name=None, hint=None, message=None, patterns=()):
    """The NexcageError for a failed CommandResult: the one place a failed command becomes an error.

    The category and hint come from the first of patterns [(regex, category, hint)]
    (a tool's own, e.g. zfs) that matches the output, else from the PVE patterns.
    The message is message when given; with an action (a container step such as
    'create', 'start') it names the container and the step; otherwise it is
    "`<command>` failed (rc N): <output>".
    """
    found = _match_tool(result, patterns) or match(result.stderr, result.rc, result.stdout)
    if message is None:
        message = _container_message(result, found, action, vmid, name) if action else None
    if message is None:
        message = "`%s` failed (rc %s): %s" % (result.cmd, result.rc, _output(result))
    fix = hint or found.hint or CATEGORY_HINTS[found.category]
    if vmid is not None:
        fix = fix.replace("<vmid>", str(vmid))
    return NexcageError(
        found.category,
        message,
        hint=fix,
        cmd=result.cmd,
        rc=result.rc,
        stdout=result.stdout,
        stderr=result.stderr,
    )


def _match_tool(result, patterns):
    if not patterns:
        return None
    if result.timed_out:
        return Match(TIMEOUT)
    text = (result.stderr or "") + (result.stdout or "")
    for regex, category, hint in patterns:
        if re.search(regex, text, re.IGNORECASE):
            return Match(category, hint)
    return Match(classify(result.stderr, result.rc))


def _container_message(result, found, action, vmid, name):
    detail = found.line or "exit code %s" % result.rc
    params = parameter_errors(result.stderr)
    if params:
        detail = "; ".join("%s: %s" % (k, v) for k, v in sorted(params.items()))
    if found.category == TIMEOUT and result.rc == TIMEOUT_RC:
        detail = "`%s` did not finish: %s" % (result.cmd, (result.stderr or "").strip())
    return "Cannot %s %s: %s [%s]" % (action, describe_container(vmid, name), detail, found.category)


def from_validation(exc, vmid=None, name=None):
    """NexcageError (invalid_argument) for a ValidationError about a container's option."""
    message = "Invalid option for %s: %s: %s (got %r)" % (
        describe_container(vmid, name),
        exc.option,
        exc.message,
        exc.value,
    )
    return NexcageError(INVALID_ARGUMENT, message, hint=exc.fix or CATEGORY_HINTS[INVALID_ARGUMENT], option=exc.option)
