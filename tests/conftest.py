"""Shared pytest set-up: the collection importable as ansible_collections.cageforge.nexcage,
and the simulated node's package importable as pvesim."""

import os
import runpy
import sys

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(TOP, "build", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "cageforge", "nexcage")

# Cheap, and picks up top-level entries added since the last run.
runpy.run_path(os.path.join(TOP, "scripts", "link-collection.py"))["link_collection"](TOP)
for path in (COLLECTIONS, os.path.join(TOP, "tests", "pvesim")):
    if path not in sys.path:
        sys.path.insert(0, path)


# The unit tests of _node use it. It lives here, not in a conftest.py of their own: the integration
# tests import names from their conftest module, and a second conftest module would shadow it.
@pytest.fixture
def node_root(tmp_path, monkeypatch):
    # Imported here: a conftest is loaded before the collection loader is ready.
    from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths

    etc = tmp_path / "etc/pve"
    (etc / "lxc").mkdir(parents=True)
    for name, value in {
        "ETC_PVE": etc,
        "LXC_CONF_DIR": etc / "lxc",
        "VMLIST": etc / ".vmlist",
        "STORAGE_CFG": etc / "storage.cfg",
        "DATACENTER_CFG": etc / "datacenter.cfg",
        "LOCAL_NODE_LINK": etc / "local",
        "PROC_NET_UNIX": tmp_path / "proc_net_unix",
        "CGROUP_ROOT": tmp_path / "cgroup",
        "LOCK_DIR": tmp_path / "lock",
        "VMID_LOCK": tmp_path / "lock/nexcage-vmid.lock",
        "RUN_NEXCAGE": tmp_path / "run",
        "RECORD_DIR": tmp_path / "records",
    }.items():
        monkeypatch.setattr(paths, name, str(value))
    return tmp_path
