"""Shared pytest set-up: the collection importable as ansible_collections.cageforge.nexcage,
and the simulated node's package importable as pvesim."""

import os
import runpy
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(TOP, "build", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "cageforge", "nexcage")

# Cheap, and picks up top-level entries added since the last run.
runpy.run_path(os.path.join(TOP, "scripts", "link-collection.py"))["link_collection"](TOP)
for path in (COLLECTIONS, os.path.join(TOP, "tests", "pvesim")):
    if path not in sys.path:
        sys.path.insert(0, path)
