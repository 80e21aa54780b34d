"""`molecule test -s default` from the collection root, inside a fresh simulated node.

The scenario (extensions/molecule/default) runs syntax, converge (node + container roles),
idempotence, verify (pct status/config, the OCI state files, pct exec inside the running
container) and cleanup (the teardown role). Real LXC containers are started, so the VMIDs
are unique to this process.

molecule's prerun is off in the scenario, so no copy of the collection is installed into
~/.ansible/collections (a stale copy there would shadow the checkout); the roles come from
build/collections, a link to this checkout. The test checks that too.
"""

import os
import subprocess
import sys

import pytest
from conftest import COLLECTIONS, PVESIM, TOP, lxc_available

VENV_BIN = os.path.dirname(sys.executable)


@pytest.mark.real_lxc
@pytest.mark.slow
@pytest.mark.skipif(not lxc_available(), reason="needs LXC (lxc-start) and root")
@pytest.mark.skipif(not os.path.exists(os.path.join(VENV_BIN, "molecule")), reason="molecule is not installed")
def test_molecule_default_scenario(tmp_path, unique_vmid):
    root = str(tmp_path / "node")
    subprocess.run([PVESIM, "init", root], check=True, capture_output=True)
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[defaults]\ncollections_path = %s\ninterpreter_python = auto_silent\n" % COLLECTIONS)
    env = dict(os.environ)
    env.update(
        PATH=VENV_BIN + os.pathsep + env.get("PATH", ""),
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_CONFIG=str(cfg),
        NEXCAGE_MOLECULE_VMID=str(unique_vmid()),
        MOLECULE_NO_LOG="false",
        NO_COLOR="1",
        ANSIBLE_NOCOLOR="1",
    )
    stale = os.path.expanduser("~/.ansible/collections/ansible_collections/cageforge/nexcage")
    had_copy = os.path.exists(stale)
    proc = subprocess.run(
        [PVESIM, "run", "--root", root, "--", os.path.join(VENV_BIN, "molecule"), "test", "-s", "default"],
        cwd=TOP,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    for step in ("syntax", "converge", "idempotence", "verify", "cleanup"):
        assert "default ➜ %s: Executed: Successful" % step in out or ("%s: Executed: Successful" % step in out), (
            "molecule step %s did not succeed:\n%s" % (step, out[-4000:])
        )
    assert "/build/collections/ansible_collections/cageforge/nexcage/roles/" in out or "cageforge.nexcage.node" in out
    if not had_copy:
        assert not os.path.exists(stale), "molecule installed a copy of the collection into ~/.ansible/collections"


@pytest.mark.skipif(not os.path.exists(os.path.join(VENV_BIN, "molecule")), reason="molecule is not installed")
def test_proxmox_scenario_is_skipped_with_a_message_without_a_node(tmp_path):
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[defaults]\ncollections_path = %s\n" % COLLECTIONS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXCAGE_PVE_")}
    env.update(PATH=VENV_BIN + os.pathsep + env.get("PATH", ""), ANSIBLE_CONFIG=str(cfg), NO_COLOR="1")
    env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(
        [os.path.join(VENV_BIN, "molecule"), "test", "-s", "proxmox"],
        cwd=TOP,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "SKIPPED: the proxmox scenario needs a real Proxmox VE VM. Set NEXCAGE_PVE_HOST" in " ".join(out.split())
    assert "UNREACHABLE" not in out
