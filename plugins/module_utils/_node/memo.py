# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A thread's snapshot of what the node layer reads (readers.snapshot). PRIVATE.

Apart from readers so that storagecfg, which does not bring the container config parser, keeps what it
read in the same snapshot as the other readers.
"""

from __future__ import annotations

import contextlib
import threading

_local = threading.local()


@contextlib.contextmanager
def snapshot():
    """Within the block, this thread reads each node file (and the run state) once.

    For planning many containers in one task: nothing may change the node inside the
    block except through forget() (call it after a write, to read fresh again).
    """
    _local.memo = {}
    try:
        yield
    finally:
        _local.memo = None


def current():
    """The current snapshot's {key: value} (None outside a snapshot)."""
    return getattr(_local, "memo", None)


def forget(keep=()):
    """Drop what the current snapshot has read, but the keys in keep (the next read goes to the node again)."""
    memo = current()
    if memo is not None:
        _local.memo = {key: memo[key] for key in keep if memo.get(key)}


def remembered(key, compute):
    """compute(), once per snapshot for key (every time outside a snapshot)."""
    memo = current()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]
