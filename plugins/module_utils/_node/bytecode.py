# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The compiled code of the collection's module_utils, kept on the node between runs. PRIVATE.

Ansible runs a module from a zip (its AnsiballZ payload), and Python keeps no byte code for a
module it imports from a zip: every run compiles every module_util the task imports from source
(Python 3.11's zipimport even twice: once to name the file, once to run it), which is most of what
a converged task costs on the node. ``install()`` (called by a module before it imports its
module_utils) serves the collection's module_utils imported from such a zip from
``paths.BYTECODE_DIR``: one file per module, holding the SHA-256 of Python's magic number and the
source, then the marshalled code. A file whose key does not match (another version of nexcage or
of Python) is compiled again and replaced, as Python's own __pycache__ does for an installed module.

Root runs that code, so only a file owned by the user running the module, in a directory that
only this user can write, is used; anything else is compiled from source as before. A failed read
or write costs only the compilation. Imports outside a zip (unit tests, the controller) are left
alone. The cache is a build artefact, not node state: check mode writes it too.
"""

from __future__ import annotations

import _imp
import hashlib
import importlib.util
import marshal
import os
import stat
import sys
import zipimport
from importlib.machinery import PathFinder

from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths

PACKAGE = "ansible_collections.cageforge.nexcage.plugins.module_utils."
KEY_BYTES = 32


def cache_key(source):
    """What a cached file must start with to hold the code of source for this Python."""
    return hashlib.sha256(importlib.util.MAGIC_NUMBER + source).digest()


def cache_file(fullname):
    return os.path.join(paths.BYTECODE_DIR, fullname[len(PACKAGE) :] + ".code")


def _trusted(stats):
    """Owned by the user running the module, and writable by nobody else."""
    return stats.st_uid == os.geteuid() and not stats.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def load(fullname, source):
    """The cached code of fullname when it was compiled from source, else None."""
    try:
        if not _trusted(os.stat(paths.BYTECODE_DIR)):
            return None
        descriptor = os.open(cache_file(fullname), os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as handle:
        if not _trusted(os.fstat(handle.fileno())) or handle.read(KEY_BYTES) != cache_key(source):
            return None
        try:
            return marshal.loads(handle.read())
        except (EOFError, ValueError, TypeError):
            return None


def store(fullname, source, code):
    """Keep code for the next run (a temporary file renamed over the old one); failures are ignored."""
    path = cache_file(fullname)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    try:
        os.makedirs(paths.BYTECODE_DIR, mode=0o700, exist_ok=True)
        if not _trusted(os.stat(paths.BYTECODE_DIR)):
            return
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        with os.fdopen(os.open(tmp, flags, 0o600), "wb") as handle:
            handle.write(cache_key(source) + marshal.dumps(code))
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


class CachingLoader:
    """The zip's own loader, with exec_module going through the cache."""

    def __init__(self, loader, fullname):
        self.loader = loader
        self.fullname = fullname

    def __getattr__(self, name):
        return getattr(self.loader, name)

    def create_module(self, spec):  # pylint: disable=unused-argument
        return None  # the default module object

    def is_package(self, fullname):
        return self.loader.is_package(fullname)

    def get_source(self, fullname):
        return self.loader.get_source(fullname)

    def exec_module(self, module):
        origin = module.__spec__.origin
        source = self.loader.get_data(origin)
        code = load(self.fullname, source)
        if code is None:
            code = compile(source, origin, "exec", dont_inherit=True)
            store(self.fullname, source, code)
        else:
            _imp._fix_co_filename(code, origin)  # this run's zip, in tracebacks (as importlib does for a .pyc)
        exec(code, module.__dict__)  # pylint: disable=exec-used


class ZipFinder:
    """Finds the collection's module_utils in a zip itself, and loads them through the cache.

    zipimport's own find_spec compiles a module's source to name its file (Python 3.11's
    zipimporter.get_filename), and its loader compiles it again: this finder asks the zip only
    whether the module is there and is a package.
    """

    def find_spec(self, fullname, path=None, target=None):  # pylint: disable=unused-argument
        if not fullname.startswith(PACKAGE) or not path:
            return None
        name = fullname.rpartition(".")[2]
        for entry in path:
            importer = _zip_importer(entry)
            if importer is None:
                continue
            try:
                is_package = importer.is_package(fullname)
            except zipimport.ZipImportError:
                continue  # not in this zip
            origin = os.path.join(entry, name, "__init__.py") if is_package else os.path.join(entry, name + ".py")
            spec = importlib.util.spec_from_loader(
                fullname, CachingLoader(importer, fullname), origin=origin, is_package=is_package
            )
            spec.has_location = True  # __file__ is origin
            if is_package:
                spec.submodule_search_locations = [os.path.join(entry, name)]
            return spec
        return None


def _zip_importer(entry):
    """The zipimporter of a package path entry inside a zip, else None."""
    if ".zip" + os.sep not in entry + os.sep:
        return None
    importer = sys.path_importer_cache.get(entry)
    if isinstance(importer, zipimport.zipimporter):
        return importer
    try:
        return zipimport.zipimporter(entry)
    except zipimport.ZipImportError:
        return None


def install():
    """Serve the collection's module_utils imported from this module's zip from the cache (once).

    The finder goes right before the path finder (which would find them in the zip): the finders
    before it only know built-in and frozen modules, and stay first.
    """
    if any(isinstance(finder, ZipFinder) for finder in sys.meta_path):
        return
    where = next((i for i, finder in enumerate(sys.meta_path) if finder is PathFinder), len(sys.meta_path))
    sys.meta_path.insert(where, ZipFinder())
