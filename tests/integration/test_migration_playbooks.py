"""docs/migrating-from-community-proxmox.md's three before/after playbooks under the simulated node.

Each "after" playbook (hosts pointed at the simulated node) runs with --check --diff, then for real, then
again with changed=0. Each "before" playbook runs translated as the guide says: the module name changed and
the API options removed (nothing else). The node looks like the one the playbooks assume (a `local-lvm`
storage that makes linked clones, as LVM-thin does; bridge vmbr0)."""

import json
import os
import re

import pytest
import yaml
from integration_conftest import lxc_available
from test_community_proxmox_examples import use_example_storages

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUIDE = os.path.join(TOP, "docs", "migrating-from-community-proxmox.md")
API_OPTIONS = {"api_host", "api_port", "api_user", "api_password", "api_token_id", "api_token_secret"}
API_OPTIONS |= {"validate_certs", "node"}

pytestmark = [
    pytest.mark.real_lxc,
    pytest.mark.skipif(not lxc_available(), reason="the web playbook starts a container: needs LXC and root"),
]


def blocks():
    """{(kind, name): playbook} of the guide's <!-- before|after: NAME --> yaml blocks."""
    with open(GUIDE, encoding="utf-8") as handle:
        text = handle.read()
    found = {}
    for kind, name, body in re.findall(r"<!-- (before|after): (\S+) -->\s*```yaml\n(.*?)```", text, re.DOTALL):
        found[(kind, name)] = yaml.safe_load(body)
    return found


def translated(play_list):
    """A before playbook as the guide says to translate it: module renamed, API options removed."""
    out = []
    for play in play_list:
        play = dict(play, hosts="localhost")
        tasks = []
        for task in play["tasks"]:
            task = dict(task)
            args = task.pop("community.proxmox.proxmox")
            task["cageforge.nexcage.nexcage_container"] = {k: v for k, v in args.items() if k not in API_OPTIONS}
            tasks.append(task)
        play["tasks"] = tasks
        out.append(play)
    return out


def runnable(play_list):
    return [dict(play, hosts="localhost") for play in play_list]


def run(node, tmp_path, name, plays, *extra):
    path = tmp_path / name
    path.write_text(json.dumps(plays))
    proc = node.run_playbook(path, list(extra))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Traceback" not in out
    return out


def clean(node):
    for vmid in (120, 130, 9101, 9102, 9000):
        node.sh("pct", "stop", vmid)
        node.sh("pct", "destroy", vmid, "--force", "1")


def test_the_guide_has_three_before_after_pairs():
    found = blocks()
    names = sorted({name for _kind, name in found})
    assert names == ["change.yml", "clones.yml", "web.yml"]
    assert all(("before", n) in found and ("after", n) in found for n in names)


@pytest.mark.parametrize("name", ["web.yml", "clones.yml", "change.yml"])
def test_after_playbook_check_apply_idempotent(fresh_node, tmp_path, name):
    use_example_storages(fresh_node)
    plays = runnable(blocks()[("after", name)])
    try:
        run(fresh_node, tmp_path, name, plays, "--check", "--diff")
        first = run(fresh_node, tmp_path, name, plays)
        assert "changed=0" not in first, first
        again = run(fresh_node, tmp_path, name, plays)
        if name != "change.yml":  # change.yml removes its container at the end: its second run re-creates it
            assert "changed=0" in again, again
    finally:
        clean(fresh_node)


@pytest.mark.parametrize("name", ["web.yml", "clones.yml", "change.yml"])
def test_before_playbook_translated(fresh_node, tmp_path, name):
    use_example_storages(fresh_node)
    proc = fresh_node.sh("pveam", "download", "local", "debian-12-standard_12.7-1_amd64.tar.zst")
    assert proc.returncode == 0, proc.stderr
    plays = translated(blocks()[("before", name)])
    try:
        out = run(fresh_node, tmp_path, name, plays, "-e", "vault_root_password=changeme-123")
        assert "changed=0" not in out, out
        if name != "change.yml":
            again = run(fresh_node, tmp_path, name, plays, "-e", "vault_root_password=changeme-123")
            assert "changed=0" in again, again
    finally:
        clean(fresh_node)
