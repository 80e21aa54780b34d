"""playbooks/*.yml and inventory/example.yml, run through ansible-playbook under a simulated node."""

import glob
import json
import os
import re
import subprocess
import sys

import pytest
from integration_conftest import COLLECTIONS, TEMPLATE, TOP, lxc_available

PLAYBOOKS = sorted(glob.glob(os.path.join(TOP, "playbooks", "*.yml")))
VENV_BIN = os.path.dirname(sys.executable)


def _env():
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1")


def _inventory(tmp_path, containers, **extra):
    """An inventory like inventory/example.yml, for the local (simulated) node."""
    group_vars = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "nexcage_containers": containers,
    }
    group_vars.update(extra)
    inv = {"proxmox": {"hosts": {"pve-sim": {}}, "vars": group_vars}}
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(inv))
    return str(path)


def _playbook(node, name, inventory, *extra):
    """Run playbooks/<name> on the node with an inventory file (-i given twice: ours wins for proxmox)."""
    return node.sh(
        os.path.join(VENV_BIN, "ansible-playbook"),
        "-i",
        inventory,
        os.path.join(TOP, "playbooks", name),
        *extra,
        env=_env(),
        timeout=600,
    )


def test_every_playbook_passes_syntax_check():
    proc = subprocess.run(
        [os.path.join(VENV_BIN, "ansible-playbook"), "--syntax-check", "-i", "localhost,", *PLAYBOOKS],
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
        cwd=TOP,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {os.path.basename(p) for p in PLAYBOOKS} >= {"health.yml", "deploy.yml", "teardown.yml", "demo.yml"}


def test_example_inventory_is_a_root_ssh_node_with_valid_specs():
    proc = subprocess.run(
        [os.path.join(VENV_BIN, "ansible-inventory"), "-i", os.path.join(TOP, "inventory", "example.yml"), "--list"],
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    inv = json.loads(proc.stdout)
    hosts = inv["proxmox"]["hosts"]
    assert hosts
    hostvars = inv["_meta"]["hostvars"][hosts[0]]
    assert hostvars["ansible_user"] == "root" and hostvars["ansible_connection"] == "ssh"
    specs = hostvars["nexcage_containers"]
    assert specs and all("name" in s for s in specs)
    for spec in specs:
        assert ("image" in spec) != ("bundle" in spec), spec


def test_health_playbook_on_a_fresh_node(node, tmp_path):
    inv = _inventory(tmp_path, [{"name": "a", "image": TEMPLATE}], nexcage_storages=["local", "local-zfs"])
    proc = _playbook(node, "health.yml", inv)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "changed=0" in proc.stdout and "failed=0" in proc.stdout


def test_deploy_in_check_mode_changes_nothing(fresh_node, tmp_path):
    specs = [
        {
            "name": "pb-check",
            "vmid": 4545,
            "image": TEMPLATE,
            "dataset": {"name": "rpool/data/pb-check"},
            "options": {"rootfs": {"storage": "local-zfs", "size": 1}, "ostype": "unmanaged"},
        }
    ]
    proc = _playbook(fresh_node, "deploy.yml", _inventory(tmp_path, specs), "--check", "--diff")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert int(re.search(r"changed=(\d+)", proc.stdout).group(1)) >= 2, proc.stdout  # dataset + container, planned
    assert fresh_node.conf(4545) is None
    assert not fresh_node.exists("/rpool/data/pb-check")


@pytest.mark.real_lxc
@pytest.mark.slow
@pytest.mark.skipif(not lxc_available(), reason="needs LXC (lxc-start) and root")
def test_deploy_then_teardown_playbooks(fresh_node, tmp_path, new_vmid):
    vmid = new_vmid()
    specs = [
        {
            "name": "pb-web",
            "vmid": vmid,
            "image": TEMPLATE,
            "dataset": {"name": "rpool/data/pb-web-%d" % vmid},
            "options": {"rootfs": {"storage": "local-zfs", "size": 1}, "ostype": "unmanaged"},
        }
    ]
    inv = _inventory(tmp_path, specs)
    try:
        proc = _playbook(fresh_node, "deploy.yml", inv)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "status: running" in fresh_node.sh("pct", "status", vmid).stdout
        again = _playbook(fresh_node, "deploy.yml", inv)
        assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout

        proc = _playbook(fresh_node, "teardown.yml", inv)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert fresh_node.conf(vmid) is None
        assert fresh_node.exists("/rpool/data/pb-web-%d" % vmid), "kept without nexcage_purge"
    finally:
        proc = _playbook(fresh_node, "teardown.yml", inv, "-e", "nexcage_purge=true")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not fresh_node.exists("/rpool/data/pb-web-%d" % vmid)


@pytest.mark.real_lxc
@pytest.mark.slow
@pytest.mark.skipif(not lxc_available(), reason="needs LXC (lxc-start) and root")
def test_demo_runs_to_its_summary(fresh_node, new_vmid):
    if not fresh_node.exists("/var/lib/vz/template/cache/debian-12-nexcage_12_amd64.tar.zst"):
        from test_pct_connection import require_debian_template

        require_debian_template()  # fails, or skips without network
    base = new_vmid()
    # as `make demo` runs it: the harness's -e ansible_python_interpreter would also force the
    # controller's Python onto the Debian container the demo configures through the pct connection
    proc = fresh_node.sh(
        os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
        os.path.join(TOP, "playbooks", "demo.yml"),
        "-e",
        "demo_vmid_base=%d" % base,
        env=fresh_node._env({"ANSIBLE_CONFIG": os.path.join(TOP, "ansible.cfg")}),
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert "nexcage demo: done. What was made, and where" in out
    assert "Second deploy: changed=0" in out
    assert "as demo-svc: greeting = hello from demo-deb" in out  # configured inside through the pct connection
    for vmid in (base, base + 1, base + 2):
        assert fresh_node.conf(vmid) is None
    assert not fresh_node.exists("/rpool/data/demo-web")
