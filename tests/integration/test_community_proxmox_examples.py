"""Each of community.proxmox's `proxmox` EXAMPLES for LXC containers (stored as data, only the module name
changed and the API options removed) runs under the simulated node: success, then a second run with
changed=false (restarted always restarts, as there). The node is made to look like the one the examples
assume: `local` holds container disks and snippets, a `local-lvm` storage exists, the Ubuntu template and
the hook script are there. On a real node `local-lvm` is LVM-thin, which the simulator does not have: here
it is a ZFS pool storage, the simulator's storage type that, like LVM-thin, makes linked clones.

An example that fails on Proxmox VE itself says so in the data (`fails`: Proxmox's message, `why`): the
linked clone of CT 100, whose disk the minimal example puts on `local`, a dir storage (Proxmox refuses
linked clones there: pve-storage Plugin.pm clones only into qcow2, which a container cannot use)."""

import os
import subprocess

import pytest
import yaml
from integration_conftest import MOD, lxc_available

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(TOP, "tests", "fixtures", "community_proxmox", "proxmox_lxc_examples.yml")) as handle:
    EXAMPLES = yaml.safe_load(handle)
STORAGE_CFG = """dir: local
\tpath /var/lib/vz
\tcontent iso,vztmpl,backup,rootdir,images,snippets

zfspool: local-lvm
\tpool rpool/lvm
\tcontent rootdir,images

zfspool: local-zfs
\tpool rpool/data
\tsparse
\tcontent images,rootdir
"""
UBUNTU = "ubuntu-24.04-standard_24.04-2_amd64.tar.zst"


def use_example_storages(node):
    """The storages the examples assume (STORAGE_CFG), with local-lvm's pool dataset."""
    node.write("/etc/pve/storage.cfg", STORAGE_CFG)
    proc = node.sh("zfs", "create", "-p", "rpool/lvm")
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def example_node(node):
    use_example_storages(node)
    cache = node.path("/var/lib/vz/template/cache")
    if not os.path.exists(os.path.join(cache, UBUNTU)):
        proc = node.sh("pveam", "download", "local", UBUNTU)
        assert proc.returncode == 0, proc.stderr
    with open(os.path.join(cache, "ubuntu-14.04-x86_64.tar.gz"), "wb") as out:
        unpacked = subprocess.run(["zstd", "-dc", os.path.join(cache, UBUNTU)], capture_output=True, check=True)
        out.write(subprocess.run(["gzip", "-c"], input=unpacked.stdout, capture_output=True, check=True).stdout)
    node.write("/var/lib/vz/snippets/vm_hook.sh", "#!/bin/sh\nexit 0\n")
    os.chmod(node.path("/var/lib/vz/snippets/vm_hook.sh"), 0o755)
    return node


def run_twice(node, example):
    first, second = node.run_tasks(MOD, [(example["args"], False, False), (example["args"], False, False)])
    if example.get("fails"):  # as on Proxmox VE: both runs fail with its message, nothing is left
        for result in (first, second):
            assert result.get("failed") and example["fails"] in result.get("msg", ""), (example["name"], result)
        assert node.conf(example["args"]["vmid"]) is None
        return first
    for result in (first, second):
        assert not result.get("failed"), (example["name"], result.get("msg"))
        assert "Traceback" not in result.get("_stderr", "")
    if example.get("then") == "changed":
        assert second["changed"] is True, example["name"]
    else:
        assert second["changed"] is False, (example["name"], second["changes"], second["commands"])
    return first


def remove(node, vmid):
    node.sh("pct", "stop", vmid)
    node.sh("pct", "destroy", vmid, "--force", "1")


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e["group"] == "create"], ids=lambda e: e["name"][:60])
def test_create_example(example_node, example):
    first = run_twice(example_node, example)
    assert first["changed"] is True and first["commands"][0].startswith("pct create %s " % first["vmid"])
    assert example_node.conf(first["vmid"]) is not None
    remove(example_node, first["vmid"])


def test_lifecycle_examples_in_order(example_node):
    base = EXAMPLES[0]
    assert run_twice(example_node, base)["changed"] is True
    try:
        for example in (e for e in EXAMPLES if e["group"] == "lifecycle"):
            if example.get("lxc") and not lxc_available():
                continue  # starting needs real LXC (and root); the rest still runs
            run_twice(example_node, example)
            if example.get("cleanup"):
                remove(example_node, example["cleanup"])
        assert example_node.conf(100) is None
    finally:
        remove(example_node, 201)
        remove(example_node, 100)
