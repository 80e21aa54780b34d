"""playbooks/deploy.yml end to end under the simulated node with real LXC: the container role creates
a Debian 12 container and hands it over (container_add_hosts), then the second play configures it from
inside through the cageforge.nexcage.pct connection (a file, a config from a template, a handler) and
verifies it; the inventory plugin's host vars reach the same container; a second run and a check-mode
run change nothing."""

import hashlib
import json
import os
import re
import sys

import pytest
from integration_conftest import TOP, VENV_BIN, lxc_available

DEBIAN = "local:vztmpl/debian-12-nexcage_12_amd64.tar.zst"

pytestmark = [
    pytest.mark.real_lxc,
    pytest.mark.slow,
    pytest.mark.skipif(not lxc_available(), reason="LXC is missing (lxc-start not on PATH) or not running as root"),
]


def deploy(node, inventory, *extra):
    # No -e ansible_python_interpreter: it would be forced onto the container too; the node's
    # interpreter is a host var of the node only.
    return node.sh(
        os.path.join(VENV_BIN, "ansible-playbook"),
        "-i",
        inventory,
        os.path.join(TOP, "playbooks", "deploy.yml"),
        *extra,
        env=node._env({"ANSIBLE_CONFIG": os.path.join(TOP, "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}),
        timeout=900,
    )


def recap(output):
    """{host: {ok, changed, unreachable, failed, ...}} from the PLAY RECAP."""
    found = {}
    for host, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", output, re.MULTILINE):
        found[host] = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counts)}
    return found


def inside(node, vmid, path):
    proc = node.sh("pct", "exec", vmid, "--", "cat", path)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_deploy_creates_then_configures_inside(fresh_node, tmp_path, new_vmid):
    node = fresh_node
    if not node.exists("/var/lib/vz/template/cache/debian-12-nexcage_12_amd64.tar.zst"):
        from test_pct_connection import require_debian_template

        require_debian_template()  # fails, or skips without network
    vmid = new_vmid()
    specs = [
        {
            "name": "deb-app",
            "vmid": vmid,
            "image": DEBIAN,
            "options": {"rootfs": {"storage": "local-zfs", "size": 1}, "memory": 256},
        }
    ]
    group_vars = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "nexcage_containers": specs,
        "nexcage_add_hosts": True,
    }
    inventory = tmp_path / "inventory.json"
    inventory.write_text(
        json.dumps(
            {
                "proxmox": {"hosts": {"pve-sim": {}}, "vars": group_vars},
                "nexcage_deployed": {"vars": {"nexcage_app_settings": {"greeting": "hello from deploy.yml"}}},
            }
        )
    )
    try:
        first = deploy(node, str(inventory))
        out = first.stdout + first.stderr
        assert first.returncode == 0, out[-6000:]
        counts = recap(first.stdout)
        assert counts["deb-app"]["failed"] == 0 and counts["deb-app"]["unreachable"] == 0
        assert counts["deb-app"]["changed"] >= 4, out[-4000:]  # file, directory, template, handler
        assert "RUNNING HANDLER [Record the config that was applied]" in first.stdout

        conf = inside(node, vmid, "/etc/nexcage-app/app.conf")
        assert "name = deb-app" in conf and "vmid = %s" % vmid in conf
        assert "greeting = hello from deploy.yml" in conf
        assert inside(node, vmid, "/etc/nexcage-app/applied").strip() == hashlib.sha1(conf.encode()).hexdigest()
        assert "on Debian" in inside(node, vmid, "/etc/nexcage-deployed")

        # The inventory plugin finds the same container, and its host vars take the pct connection inside.
        source = tmp_path / "node.nexcage.yml"
        source.write_text("plugin: cageforge.nexcage.containers\nstatus: [running]\n")
        adhoc = node.sh(
            os.path.join(VENV_BIN, "ansible"),
            "-i",
            str(source),
            "nexcage_running",
            "-m",
            "ansible.builtin.command",
            "-a",
            "cat /etc/nexcage-deployed",
            env=node._env({"ANSIBLE_CONFIG": os.path.join(TOP, "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}),
            timeout=300,
        )
        assert adhoc.returncode == 0, adhoc.stdout + adhoc.stderr
        assert "deb-app | CHANGED" in adhoc.stdout and "deployed by nexcage as deb-app" in adhoc.stdout

        again = deploy(node, str(inventory))
        assert again.returncode == 0, (again.stdout + again.stderr)[-6000:]
        assert {host: c["changed"] for host, c in recap(again.stdout).items()} == {"pve-sim": 0, "deb-app": 0}
        assert "RUNNING HANDLER" not in again.stdout

        checked = deploy(node, str(inventory), "--check", "--diff")
        assert checked.returncode == 0, (checked.stdout + checked.stderr)[-6000:]
        assert {host: c["changed"] for host, c in recap(checked.stdout).items()} == {"pve-sim": 0, "deb-app": 0}
    finally:
        node.sh("pct", "stop", vmid, timeout=60)
        node.sh("pct", "destroy", vmid, "--force", "1", timeout=60)
