# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One read of the files that list a node's containers. PRIVATE to the collection.

The inventory plugin needs, per node: the container configs, the pools of user.cfg,
the LXC command sockets of /proc/net/unix (which containers run) and the node's name.
``collect`` reads them in one go and returns plain JSON-able data.

This file is also a program: apart from ``node_spec`` (which imports the node paths
lazily, on the controller only) it uses the standard library alone, so the inventory
sends its source to a remote node as ``ssh root@node python3 -`` (one SSH command per
node, nothing to install there) and runs ``collect`` in-process for ``localhost``.
"""

from __future__ import annotations

import glob
import json
import os
import socket
import sys  # noqa: F401 pylint: disable=unused-import

# sys above: used by the last line that program() adds to this source.


def node_spec():
    """What to read: the node paths of _node.paths (imported here, so the remote program needs none)."""
    from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths

    return {
        "globs": [paths.ct_conf_glob()],
        "files": [paths.USER_CFG],
        "grep": {paths.PROC_NET_UNIX: "%s/" % paths.LXC_PATH},
        "local_link": paths.LOCAL_NODE_LINK,
    }


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as handle:
            return handle.read()
    except OSError:
        return None


def _node_name(local_link):
    try:
        return os.path.basename(os.readlink(local_link))
    except OSError:
        return socket.gethostname().split(".")[0]


def collect(spec):
    """{'node': name, 'files': {path: text or None}} for the spec's globs, files and grep'd files.

    grep: {path: needle} keeps only the lines holding needle (/proc/net/unix can be long).
    """
    files = {}
    for pattern in spec["globs"]:
        for path in sorted(glob.glob(pattern)):
            files[path] = _read(path)
    for path in spec["files"]:
        files[path] = _read(path)
    for path, needle in spec["grep"].items():
        text = _read(path)
        files[path] = None if text is None else "".join(line for line in text.splitlines(True) if needle in line)
    return {"node": _node_name(spec["local_link"]), "files": files}


def program(spec):
    """The Python program a remote node runs (on stdin) to print collect(spec) as JSON."""
    with open(__file__, encoding="utf-8") as handle:
        source = handle.read()
    return source + "\n\nsys.stdout.write(json.dumps(collect(json.loads(%r))))\n" % json.dumps(spec)
