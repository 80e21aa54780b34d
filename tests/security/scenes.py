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
