"""A converged nexcage_container task on a template imports nothing of the OCI chain and no
jsonschema: checked in a fresh interpreter (sys.modules) after the module's run function ended."""

import json
import pathlib
import subprocess
import sys

COLLECTIONS = pathlib.Path(__file__).resolve().parents[4] / "build" / "collections"

SCRIPT = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
root = sys.argv[2]
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths
for name, rel in {"ETC_PVE": "etc/pve", "LXC_CONF_DIR": "etc/pve/lxc", "VMLIST": "etc/pve/.vmlist",
                  "STORAGE_CFG": "etc/pve/storage.cfg", "DATACENTER_CFG": "etc/pve/datacenter.cfg",
                  "LOCAL_NODE_LINK": "etc/pve/local", "PROC_NET_UNIX": "proc_net_unix",
                  "VMID_LOCK": "lock/vmid.lock", "RECORD_DIR": "records", "CGROUP_ROOT": "cgroup",
                  "RUN_NEXCAGE": "run"}.items():
    setattr(paths, name, os.path.join(root, rel))
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.argspec import argument_spec
from ansible_collections.cageforge.nexcage.plugins.module_utils._container.lifecycle import run_module

class Ended(SystemExit):
    pass

class Module:
    check_mode = False
    _diff = False
    tmpdir = root
    def __init__(self, params):
        self.params = {key: spec.get("default") for key, spec in argument_spec().items()}
        self.params.update(params)
    def warn(self, msg):
        pass
    def exit_json(self, **result):
        self.result = result
        raise Ended()
    fail_json = exit_json

module = Module({"vmid": 100, "hostname": "web01", "memory": 512, "state": "stopped",
                 "image": "local:vztmpl/busybox-1.35_amd64.tar.zst"})
try:
    run_module(module)
except Ended:
    pass
loaded = sorted(name for name in sys.modules if "._oci" in name or name.split(".")[0] == "jsonschema")
print(json.dumps({"result": module.result, "loaded": loaded}, default=str))
"""


def test_converged_template_task_imports_no_oci_module(tmp_path):
    etc = tmp_path / "etc/pve"
    (etc / "lxc").mkdir(parents=True)
    (etc / "lxc/100.conf").write_text("arch: amd64\nhostname: web01\nmemory: 512\nostype: unmanaged\n")
    (etc / ".vmlist").write_text(json.dumps({"version": 1, "ids": {"100": {"node": "pve", "type": "lxc"}}}))
    (etc / "storage.cfg").write_text("dir: local\n\tpath %s\n\tcontent vztmpl\n" % (tmp_path / "vz"))
    (tmp_path / "proc_net_unix").write_text("Num RefCount Protocol Flags Type St Inode Path\n")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(COLLECTIONS), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["result"].get("failed") is None, out["result"]
    assert out["result"]["changed"] is False and out["result"]["commands"] == []
    assert out["loaded"] == []
