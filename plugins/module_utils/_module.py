# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one exit/fail path of every nexcage module. PRIVATE to the collection.

``run(module, task, name=..., context=...)`` calls ``task()`` and ends the module:
a result dict goes to ``exit_json`` (to ``fail_json`` when it carries
``failed: true``), a ``NexcageError`` to ``fail_json`` with ``msg`` and the
structured ``error``, anything else to ``fail_json`` as an internal error of
category ``unknown`` with the trace in ``error.exception``: never a traceback.
``context(error)`` gives the keys every result of the module carries (for
example ``commands``), read at the moment the module ends.
"""

from __future__ import annotations

import traceback

from ansible.module_utils import basic

from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import UNKNOWN, NexcageError
from ansible_collections.cageforge.nexcage.plugins.module_utils._validation import raw_option_problems

INTERNAL_HINT = "This is a bug in nexcage; please report it with the error.exception text."


def internal_error(name, exc, what=None):
    """The NexcageError reported for an exception nexcage did not expect."""
    target = " for %s" % what if what else ""
    return NexcageError(
        UNKNOWN,
        "Internal error in %s%s: %s: %s" % (name, target, type(exc).__name__, exc),
        hint=INTERNAL_HINT,
        exception=traceback.format_exc(),
    )


def run(module, task, *, name, context=None, what=None):
    """End the module with the result of task(): exit_json, or fail_json for any failure.

    task: callable returning the result dict. context: callable(error or None)
    returning the keys added to every result. what: callable naming the object
    of the task in an internal-error message (e.g. "container web01 (VMID 101)").
    """

    def extra(error):
        return context(error) if context else {}

    try:
        result = task()
    except NexcageError as err:
        msg, error = err.failure()
        module.fail_json(msg=msg, error=error, **extra(err))
    except Exception as exc:  # noqa: BLE001 - the internal-error catch-all: no traceback reaches the user
        err = internal_error(name, exc, what() if what else None)
        module.fail_json(msg=err.message, error=err.to_dict(), **extra(err))
    if result is None:
        return
    result = dict(result, **extra(None))
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


def check_raw_params(argument_spec):
    """Fail the task when a raw value would make ansible-core misread it or crash; call before AnsibleModule.

    ansible-core reads "1e3" as the integer 1000, crashes on "inf" for an int option and on a
    list given for a dict option with suboptions. The values as given (basic._load_params, the
    loader AnsibleModule itself uses) are checked here; a bad one fails the task with a message
    naming the option, through a module whose options are all typed raw (it cannot crash).
    """
    problems = raw_option_problems(argument_spec, basic._load_params() or {})
    if problems:
        raw_spec = {name: dict(type="raw", no_log=bool(spec.get("no_log"))) for name, spec in argument_spec.items()}
        raw = basic.AnsibleModule(argument_spec=raw_spec, supports_check_mode=True)
        _msg, error = problems[0].failure()
        raw.fail_json(msg="; ".join(str(problem) for problem in problems), error=error)
