# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Command runner shared by every nexcage module. PRIVATE to the collection.

Every external command goes through Runner.run: an argv list (never a shell),
the C locale so that error strings can be matched (C.UTF-8: Proxmox decodes its
arguments by the locale, and under plain C a non-ASCII description would be stored
as replacement characters), a timeout, and a record of what
ran (or, in check mode, what would have run) for the module result.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time

DEFAULT_TIMEOUT = 120
TIMEOUT_RC = 124  # what coreutils timeout(1) uses; the error mapper knows it


# --------------------------------------------------------------------------- tool argv builders
# The only place an argv of a node tool is spelled out: every other module calls these.


def _tool(name, args, options=()):
    argv = [name] + [str(arg) for arg in args]
    for key, value in options:
        argv += ["--" + key, str(value)]
    return argv


def pct(*args, options=()):
    """["pct", *args, "--key", "value", ...]; options are (key, value) pairs, passed in order."""
    return _tool("pct", args, options)


def pveam(*args):
    return _tool("pveam", args)


def pvesm(*args):
    return _tool("pvesm", args)


def pvecm(*args):
    return _tool("pvecm", args)


def lxc_info(*args):
    return _tool("lxc-info", args)


def zfs(*args):
    return _tool("zfs", args)


def zpool(*args):
    return _tool("zpool", args)


class CommandResult:
    def __init__(self, argv, rc, stdout, stderr, duration, planned=False):
        self.argv = list(argv)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.duration = duration
        self.planned = planned

    @property
    def cmd(self):
        return shlex.join(self.argv)

    @property
    def timed_out(self):
        return self.rc == TIMEOUT_RC and self.stderr.startswith("timed out after")


class CommandFailed(Exception):
    """A command exited non-zero; carries the whole result for error mapping."""

    def __init__(self, result):
        super().__init__("command '%s' failed with exit code %s" % (result.cmd, result.rc))
        self.result = result


class Runner:
    """Runs commands for one module invocation and remembers them.

    check_mode: commands marked mutating are recorded as planned and not run.
    """

    def __init__(self, check_mode=False, timeout=DEFAULT_TIMEOUT, environ=None):
        self.check_mode = check_mode
        self.timeout = timeout
        self.history = []
        env = dict(os.environ if environ is None else environ)
        env.update({"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "LANGUAGE": "C"})
        self._env = env

    @property
    def commands(self):
        """The commands as shell-quoted strings, in order, for the module result."""
        return [r.cmd for r in self.history]

    def run(self, argv, mutating=False, timeout=None, data=None, check=True, log_path=None):
        """Run argv; return a CommandResult.

        mutating: the command changes the node, so check mode only records it.
        check: raise CommandFailed on a non-zero exit.
        log_path: for commands whose children keep the stdio they inherit (an OCI
        runtime's `create`): stdin is /dev/null and stdout and stderr are appended to
        this file instead of captured; the result's stderr is what a failing command
        added to it.
        """
        argv = [str(a) for a in argv]
        if mutating and self.check_mode:
            result = CommandResult(argv, 0, "", "", 0.0, planned=True)
            self.history.append(result)
            return result
        limit = self.timeout if timeout is None else timeout
        started = time.monotonic()
        if log_path is None:
            rc, out, err = self._captured(argv, data, limit)
        else:
            rc, out, err = self._logged(argv, log_path, limit)
        result = CommandResult(argv, rc, out, err, time.monotonic() - started)
        self.history.append(result)
        if check and rc != 0:
            raise CommandFailed(result)
        return result

    def _captured(self, argv, data, limit):
        try:
            proc = subprocess.run(
                argv,
                input=data,
                capture_output=True,
                text=True,
                env=self._env,
                timeout=limit,
                check=False,
            )
            return proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            return TIMEOUT_RC, _text(exc.stdout), "timed out after %s seconds" % limit
        except OSError as exc:
            return 127, "", "%s: %s" % (argv[0], exc.strerror)

    def _logged(self, argv, log_path, limit):
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        with open(log_path, "ab") as log:
            offset = log.tell()
            try:
                proc = subprocess.run(
                    argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self._env, timeout=limit, check=False
                )
            except subprocess.TimeoutExpired:
                return TIMEOUT_RC, "", "timed out after %s seconds" % limit
            except OSError as exc:
                return 127, "", "%s: %s" % (argv[0], exc.strerror)
        if proc.returncode == 0:
            return 0, "", ""
        with open(log_path, "rb") as log:
            log.seek(offset)
            return proc.returncode, "", log.read().decode("utf-8", "replace")


def _text(value):
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value
