"""Entry point behind tests/pvesim/bin/*: `python3 entry.py TOOL ARGS...`."""

import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))

from pvesim.cli import tool_main  # noqa: E402


def main():
    tool = sys.argv.pop(1)
    if tool == "pvesim":
        from pvesim.admin import main as admin_main

        sys.exit(admin_main(sys.argv[1:]))
    if tool in ("runc", "crun"):
        from pvesim import ociruntime

        sys.exit(ociruntime.main(tool, sys.argv[1:]))
    tool_main(tool, importlib.import_module("pvesim.tools." + tool).main)


main()
