# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An OCI runtime bundle as a Proxmox VE container (oci-facts §9/§10). PRIVATE to the collection.

Two steps, in this order, with nothing written by the first:

1. ``prepare(bundle, storage) -> Deployment``: read and validate the bundle (schema and semantic
   checks), map ``config.json`` section by section (``process``, ``mounts``, ``resources``,
   ``linux``) to nexcage_container's typed options, its pct-only options and raw ``lxc.*`` lines,
   check every raw line against the node layer's writer (allow-list, no control characters), and
   name the content-addressed template ``<storage>:vztmpl/nexcage-bundle-<digest>.tar.zst``. Every
   problem is raised together in one ``NexcageError``.
2. ``pack(runner, deployment) -> bool``: the apply step, only when a container is created from the
   template: packs the rootfs into the archive unless it exists already (in check mode the ``tar``
   command is planned, not run).

``Deployment.options`` / ``.mounts`` / ``.pct`` / ``.lxc`` are what nexcage_container uses.
"""

from __future__ import annotations

import os

from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import (
    INVALID_ARGUMENT,
    NOT_FOUND,
    NexcageError,
    ValidationError,
)
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import configline, files
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import bundle as oci_bundle
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import sources, tree
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.deploy.linux import (
    map_hooks_and_annotations,
    map_identity,
    map_linux,
    rootfs_dir,
)
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.deploy.mapped import Mapped
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.deploy.mounts import map_mounts
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.deploy.process import map_process
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.deploy.resources import map_resources
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.problems import errors_of
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import CommandFailed

TEMPLATE_PREFIX = "nexcage-bundle-"
TEMPLATE_SUFFIX = ".tar.zst"
DIGEST_CHARS = 16
PACK_TIMEOUT = 600
# An application bundle: no distribution setup scripts in its rootfs (facts §9.4).
BUNDLE_OSTYPE = "unmanaged"


class Deployment:
    """What a bundle deploys as: the template it is packed into, module options, raw lxc lines."""

    def __init__(self, bundle, rootfs, digest, storage, found):
        self.bundle = bundle
        self.rootfs = rootfs
        self.digest = digest
        self.storage = storage
        self.template = "%s:vztmpl/%s" % (storage, template_name(digest))
        self.options = dict(found.options, ostype=BUNDLE_OSTYPE)
        self.mounts = list(found.mounts)
        self.pct = list(found.pct)
        self.lxc = [(key, value) for key, value, _path in found.lxc]
        self.warnings = list(found.warnings)
        self.packed = False

    def to_dict(self):
        return {
            "bundle": self.bundle,
            "template": self.template,
            "packed": self.packed,
            "options": dict(self.options, mounts=self.mounts),
            "pct": [list(pair) for pair in self.pct],
            "lxc": [list(pair) for pair in self.lxc],
            "warnings": list(self.warnings),
            "rootfs_digest": self.digest,
        }


# --------------------------------------------------------------------------- validate and map


def _problem_text(problem):
    return "%s: %s" % (problem.get("path", "$"), problem.get("message", problem))


def _validated_config(bundle):
    info = oci_bundle.inspect_bundle(bundle)
    if not info["valid"]:
        problems = errors_of(info["validation"]) or info["validation"]
        raise NexcageError(
            INVALID_ARGUMENT,
            "The bundle %s is not valid: %s" % (bundle, "; ".join(_problem_text(p) for p in problems)),
            hint="Fix config.json (nexcage_bundle state=validated lists every problem with its fix).",
            validation=info["validation"],
        )
    return info


def map_config(config, bundle_dir):
    """config.json -> a Mapped (options, mounts, pct, lxc, warnings, errors); no file is written."""
    found = Mapped()
    map_identity(config, bundle_dir, found)
    map_process(config, rootfs_dir(config, bundle_dir), found)
    map_mounts(config, bundle_dir, found)
    map_resources(config, found)
    map_linux(config, found)
    map_hooks_and_annotations(config, found)
    for key, value, path in found.lxc:
        try:
            configline.raw_lxc_line(key, value, option=path)
        except ValidationError as exc:
            found.error(path, "%s %r %s" % (key, value, exc.message))
    return found


def prepare(bundle, storage="local"):
    """Validate and map the bundle (nothing is written); return a Deployment."""
    bundle = os.path.abspath(bundle)
    info = _validated_config(bundle)
    found = map_config(info["config"], bundle)
    if found.errors:
        raise NexcageError(
            INVALID_ARGUMENT,
            "The bundle %s cannot be deployed as a Proxmox VE container: %s" % (bundle, "; ".join(found.errors)),
            hint="Change or remove these settings in config.json; each one has no Proxmox VE equivalent.",
            unmapped=found.errors,
            warnings=found.warnings,
        )
    rootfs = rootfs_dir(info["config"], bundle)
    if not os.path.isdir(rootfs):
        raise NexcageError(NOT_FOUND, "The bundle rootfs %s is not a directory" % rootfs)
    template_dir(storage)
    digest = info.get("rootfs_digest") or tree.tree_digest(rootfs, allow_devices=True)[0]
    return Deployment(bundle, rootfs, digest, storage, found)


# --------------------------------------------------------------------------- the template


def template_dir(storage="local"):
    """The vztmpl directory of the template storage (template_storage), read from storage.cfg."""
    return sources.template_cache_dir(storage, "template_storage %r" % storage)


def template_name(digest):
    hexdigest = digest.split(":", 1)[-1]
    return "%s%s%s" % (TEMPLATE_PREFIX, hexdigest[:DIGEST_CHARS], TEMPLATE_SUFFIX)


def pack(runner, deployment):
    """Pack the rootfs into the deployment's template archive unless it exists; return whether it packed."""
    directory = template_dir(deployment.storage)
    name = template_name(deployment.digest)
    path = os.path.join(directory, name)
    if os.path.isfile(path):
        return False
    tmp = os.path.join(directory, ".%s.tmp.%d" % (name, os.getpid()))
    argv = ["tar", "--numeric-owner", "--zstd", "-C", deployment.rootfs, "-cf", tmp, "."]
    if not runner.check_mode:
        os.makedirs(directory, exist_ok=True)
    try:
        runner.run(argv, mutating=True, timeout=max(runner.timeout, PACK_TIMEOUT))
    except CommandFailed as exc:
        files.remove(tmp)
        raise NexcageError(
            INVALID_ARGUMENT,
            "Cannot pack the bundle rootfs %s into %s: %s" % (deployment.rootfs, path, exc.result.stderr.strip()),
            hint="Check that the rootfs is readable and the storage has free space.",
            cmd=exc.result.cmd,
            rc=exc.result.rc,
            stderr=exc.result.stderr,
        ) from None
    if not runner.check_mode:
        os.replace(tmp, path)
    deployment.packed = True
    return True
