"""Molecule, as docs/testing.md says to run it.

`default`: the block of docs/testing.md that runs `molecule test -s default`, as written, in a shell
with a bare PATH (the block puts .venv/bin on it) and an empty HOME. The scenario
(extensions/molecule/default) runs syntax, converge (node + container roles, then a play inside the
Debian container the container role hands over, through the cageforge.nexcage.pct connection),
idempotence, verify (pct status/config, the OCI state files, pct exec inside the running containers,
then commands, become and the installed files inside the Debian container through the pct
connection) and cleanup (the teardown role). Real LXC containers are started, with the scenario's own
VMIDs: the block makes a fresh node, and each node is its own world.
molecule's prerun is off in the scenario, so no copy of the collection is installed into
~/.ansible/collections (a stale copy there would shadow the checkout); the test checks that too.

`proxmox` (a real Proxmox VE VM): without NEXCAGE_PVE_HOST it must fail loudly and run nothing;
with it, the whole scenario runs. Under `make test` without a VM that test is reported skipped,
with the reason.
"""

import os
import re
import subprocess
import sys

import pytest
from docblocks import blocks
from integration_conftest import COLLECTIONS, TOP, lxc_available

VENV_BIN = os.path.dirname(sys.executable)
BARE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SETTINGS = ("NEXCAGE_PVE_HOST", "NEXCAGE_PVE_SSH_KEY", "NEXCAGE_PVE_STORAGE", "NEXCAGE_PVE_DATASET")
STEPS = ("syntax", "converge", "idempotence", "verify", "cleanup")


def _doc_block(command):
    found = [b for b in blocks(os.path.join(TOP, "docs", "testing.md"), "docs/testing.md") if command in b.text]
    assert len(found) == 1, "docs/testing.md should have one block that runs %r" % command
    return found[0]


def _steps_passed(out):
    return [step for step in STEPS if "%s: Executed: Successful" % step in out]


def _recaps(out, host):
    """The PLAY RECAP counts of one host, one dict per ansible-playbook run that had it."""
    lines = re.findall(r"^%s\s+:\s+(ok=.*)$" % re.escape(host), out, re.MULTILINE)
    return [{key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line)} for line in lines]


@pytest.mark.real_lxc
@pytest.mark.slow
@pytest.mark.skipif(not lxc_available(), reason="needs LXC (lxc-start) and root")
@pytest.mark.skipif(not os.path.exists(os.path.join(VENV_BIN, "molecule")), reason="molecule is not installed")
def test_molecule_default_scenario_as_documented(tmp_path):
    block = _doc_block("molecule test -s default")
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": BARE_PATH,
        "HOME": str(home),
        "TMPDIR": str(tmp_path),
        "LANG": "C.UTF-8",
        "MOLECULE_NO_LOG": "false",
        "NO_COLOR": "1",
        "ANSIBLE_NOCOLOR": "1",
    }
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.text],
        cwd=TOP,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert _steps_passed(out) == list(STEPS), out[-4000:]
    assert "/build/collections/ansible_collections/cageforge/nexcage/roles/" in out or "cageforge.nexcage.node" in out
    # The in-container phase: converge's play inside mol-inside (through the pct connection, after the
    # container role's hand-over) changed the file, the directory, the config and ran its handler;
    # idempotence changed nothing there; verify ran its checks inside.
    inside = _recaps(out, "mol-inside")
    assert [(r["changed"], r["failed"], r["unreachable"]) for r in inside] == [(4, 0, 0), (0, 0, 0), (0, 0, 0)], inside
    assert inside[2]["ok"] >= 4, inside
    copy = home / ".ansible" / "collections" / "ansible_collections" / "cageforge" / "nexcage"
    assert not copy.exists(), "molecule installed a copy of the collection into ~/.ansible/collections"


def _molecule_proxmox(tmp_path, env):
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[defaults]\ncollections_path = %s\n" % COLLECTIONS)
    env = dict(env, PATH=VENV_BIN + os.pathsep + env.get("PATH", ""), ANSIBLE_CONFIG=str(cfg), NO_COLOR="1")
    env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1")
    return subprocess.run(
        [os.path.join(VENV_BIN, "molecule"), "test", "-s", "proxmox"],
        cwd=TOP,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )


@pytest.mark.skipif(not os.path.exists(os.path.join(VENV_BIN, "molecule")), reason="molecule is not installed")
def test_proxmox_scenario_fails_loudly_without_settings(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXCAGE_PVE_")}
    proc = _molecule_proxmox(tmp_path, env)
    out = proc.stdout + proc.stderr
    flat = " ".join(out.split())
    assert proc.returncode != 0, out[-4000:]
    assert "The proxmox scenario needs a real Proxmox VE VM and is not configured" in flat, out[-4000:]
    for name in SETTINGS:
        assert name in flat, name
    assert "Nothing was run" in flat
    assert not any(step in _steps_passed(out) for step in ("converge", "idempotence", "verify")), out[-4000:]
    assert "UNREACHABLE" not in out


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("NEXCAGE_PVE_HOST"),
    reason="NEXCAGE_PVE_HOST is not set: the proxmox scenario needs a real Proxmox VE VM (docs/testing.md)",
)
@pytest.mark.skipif(not os.path.exists(os.path.join(VENV_BIN, "molecule")), reason="molecule is not installed")
def test_proxmox_scenario_on_a_real_vm(tmp_path):
    proc = _molecule_proxmox(tmp_path, dict(os.environ))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert [step for step in ("converge", "idempotence", "verify", "cleanup") if step in _steps_passed(out)] == [
        "converge",
        "idempotence",
        "verify",
        "cleanup",
    ], out[-4000:]
