"""A fake node for the _node tests: every path of _node.paths points into tmp_path."""

import pytest


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
