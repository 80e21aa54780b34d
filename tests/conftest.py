"""Shared pytest set-up: the collection importable as ansible_collections.cageforge.nexcage,
and the simulated node's package importable as pvesim."""

import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(TOP, "build", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "cageforge", "nexcage")

if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(TOP, LINK)
for path in (COLLECTIONS, os.path.join(TOP, "tests", "pvesim")):
    if path not in sys.path:
        sys.path.insert(0, path)
