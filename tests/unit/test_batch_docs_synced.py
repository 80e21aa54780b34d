"""nexcage_containers documents its entries with nexcage_container's option documentation (generated)."""

import os
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_entry_options_documented_as_nexcage_container_documents_them():
    proc = subprocess.run(
        [sys.executable, os.path.join(TOP, "scripts", "sync-batch-docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
