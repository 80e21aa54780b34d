"""Shared set-up of the hostile-input suite: a container to update, a bundle to deploy, helpers."""

import copy
import json
import os
import shutil

TEMPLATE = "local:vztmpl/busybox-1.35_amd64.tar.zst"
BASE_NEW = {
    "hostname": "new01",
    "image": TEMPLATE,
    "ostype": "unmanaged",
    "rootfs": {"storage": "local-zfs", "size": 1},
}


# Stands in for pct and ssh in the connection cases: appends its argv to $NEXCAGE_RECORDER_LOG as
# the argument count and the arguments, each ended by a NUL (worker.recorded reads it back).
RECORDER = """#!/bin/sh
printf '%s\\0' "$(($# + 1))" "$0" "$@" >> "$NEXCAGE_RECORDER_LOG"
"""
INVENTORY_SOURCE = """plugin: cageforge.nexcage.containers
connection: ansible.builtin.local
compose:
  described: nexcage_config.description | default('')
keyed_groups:
  - key: nexcage_tags
    prefix: tagged
"""
# What a play sees of a host of the inventory (rendered with its variables, as JSON).
HOST_VIEW = (
    "{{ {'vmid': nexcage_vmid, 'hostname': nexcage_hostname, 'tags': nexcage_tags, 'pool': nexcage_pool, "
    "'ostype': nexcage_ostype, 'lock': nexcage_lock, 'config': nexcage_config, 'described': described | default(None), "
    "'groups': group_names} | to_json }}"
)


class Scene:
    """A container that exists (for the update path), a free VMID (create path), bundle dirs."""

    def __init__(self, sim, base_dir):
        self.sim = sim
        pid = os.getpid()
        self.existing = 200000 + (pid * 13) % 700000
        self.new = self.existing + 1
        self.base_dir = base_dir
        self.roots = os.path.join(base_dir, "bundles")
        self.source = os.path.join(base_dir, "rootfs-src")
        self.hostdir = os.path.join(base_dir, "hostdata")
        for path in (self.roots, os.path.join(self.source, "bin"), self.hostdir):
            os.makedirs(path, exist_ok=True)
        with open(os.path.join(self.source, "bin", "sh"), "w") as handle:
            handle.write("#!/bin/true\n")
        os.chmod(os.path.join(self.source, "bin", "sh"), 0o755)
        answer = sim.run(
            "nexcage_container",
            dict(BASE_NEW, vmid=self.existing, hostname="sec01"),
            track=False,
        )
        assert answer["result"] and not answer["result"].get("failed"), answer
        answer = sim.run("nexcage_bundle", self.bundle_args("base"), track=False)
        assert answer["result"] and not answer["result"].get("failed"), answer
        self.bundle = os.path.join(self.roots, "base")
        with open(os.path.join(self.bundle, "config.json"), encoding="utf-8") as handle:
            self.base_config = json.load(handle)
        # The bundle whose config.json each deploy case rewrites (same rootfs, read in place).
        self.deploy_bundle = os.path.join(self.roots, "deploy")
        shutil.copytree(self.bundle, self.deploy_bundle, symlinks=True)
        # Node data cases: a VMID for a hostile config, the inventory source, the pct/ssh recorder.
        self.hostile = self.existing + 20
        self.inventory_source = os.path.join(base_dir, "hostile.nexcage.yml")
        with open(self.inventory_source, "w", encoding="utf-8") as handle:
            handle.write(INVENTORY_SOURCE)
        self.recorder = os.path.join(base_dir, "recorder")
        with open(self.recorder, "w", encoding="utf-8") as handle:
            handle.write(RECORDER)
        os.chmod(self.recorder, 0o755)
        self.recorder_log = os.path.join(base_dir, "recorder.log")

    def bundle_args(self, name, **more):
        args = {
            "path": os.path.join(self.roots, name),
            "bundle_roots": [self.roots],
            "source": self.source,
            "args": ["/bin/sh"],
            "terminal": False,
        }
        args.update(more)
        return args

    def deploy_args(self, bundle=None, vmid=None):
        """nexcage_container arguments that deploy a bundle as a new container."""
        return {
            "vmid": vmid or self.new,
            "image": bundle or self.deploy_bundle,
            "rootfs": {"storage": "local-zfs", "size": 1},
        }

    def connection_vars(self, **more):
        """Variables of a host reached with the pct connection: pct and ssh are the recorder."""
        variables = {
            "inventory_hostname": "sec01",
            "nexcage_pct_executable": self.recorder,
            "ansible_ssh_executable": self.recorder,
            "ansible_control_path_dir": os.path.join(self.base_dir, "cp"),
        }
        variables.update(more)
        return variables

    def write_node_file(self, path, text):
        """Write a node file as bytes (text encoded with surrogateescape, so it may hold invalid UTF-8);
        None removes it."""
        full = self.sim.node_path(path)
        if text is None:
            if os.path.lexists(full):
                os.unlink(full)
            return
        with open(full, "wb") as handle:
            handle.write(text.encode("utf-8", "surrogateescape"))

    def config_with(self, mutate):
        config = copy.deepcopy(self.base_config)
        mutate(config)
        return config

    def write_deploy_config(self, config):
        with open(os.path.join(self.deploy_bundle, "config.json"), "w", encoding="utf-8") as handle:
            json.dump(config, handle)

    def teardown(self):
        self.sim.run("nexcage_container", {"vmid": self.existing, "state": "absent", "force": True}, track=False)


def set_path(config, path, value):
    """Set config[path] where path is a list of keys/indexes, creating dicts on the way."""
    node = config
    for key in path[:-1]:
        node = node[key] if isinstance(key, int) else node.setdefault(key, {})
    node[path[-1]] = value
