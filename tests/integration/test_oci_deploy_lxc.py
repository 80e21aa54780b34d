"""Deploying an OCI bundle as a Proxmox VE container on a simulated node with real LXC, through
nexcage_container (image: <bundle directory>).

A busybox bundle (runc spec defaults + entrypoint, env, cwd, a directory bind mount, a file bind
mount, a tmpfs) is deployed inside ``pvesim run``: one ``pct create`` from the packed template, raw
``lxc.*`` lines written into the CT config under the config lock, ``pct start``. Inside the running
container: the entrypoint ran, the environment is set, the host file shows through the mount, and a
file written inside appears on the host. A second run changes nothing; a change to config.json
converges the container's config.
"""

import json
import os
import sys

import pytest
from integration_conftest import MOD, lxc_available

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "oci"))
import ocifix  # noqa: E402

pytestmark = [
    pytest.mark.real_lxc,
    pytest.mark.skipif(not lxc_available(), reason="LXC is missing (lxc-start not on PATH) or not running as root"),
    pytest.mark.skipif(not ocifix.have_busybox(), reason="busybox-static not installed (/bin/busybox)"),
]

ROOTFS = {"storage": "local-zfs", "size": 1}


def make_bundle(base, hostdata):
    from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.defaults import default_config

    bundle = os.path.join(base, "bundle")
    ocifix.make_busybox_rootfs(os.path.join(bundle, "rootfs"))
    config = default_config()
    config["hostname"] = "bundle-ct"
    config["process"]["terminal"] = False
    config["process"]["cwd"] = "/data"
    config["process"]["env"] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello from the bundle", "MODE=test"]
    config["process"]["args"] = [
        "/bin/sh",
        "-c",
        "echo ran > /entrypoint-ran; pwd > /cwd; cat /etc/motd-host > /motd-seen; exec sleep 100000",
    ]
    config["mounts"] += [
        {"destination": "/data", "type": "bind", "source": hostdata, "options": ["rbind", "rw"]},
        {
            "destination": "/etc/motd-host",
            "type": "bind",
            "source": os.path.join(base, "motd"),
            "options": ["bind", "ro"],
        },
        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m"]},
    ]
    config["linux"]["resources"] = {"memory": {"limit": 256 * 1048576}, "cpu": {"quota": 50000, "period": 100000}}
    with open(os.path.join(base, "motd"), "w") as f:
        f.write("motd from the host\n")
    write_config(bundle, config)
    return bundle, config


def write_config(bundle, config):
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def deploy(node, check=False, **args):
    """One nexcage_container run inside the node; commands of the reading kind are not counted."""
    result = node.run_task(MOD, args, check=check)
    assert "Traceback" not in result.get("_stderr", ""), result["_stderr"]
    return result


def test_bundle_deploys_and_runs_with_mounts_env_and_entrypoint(ct, tmp_path):
    node, vmid = ct
    hostdata = tmp_path / "hostdata"
    hostdata.mkdir()
    (hostdata / "from-host").write_text("written on the host\n")
    bundle, config = make_bundle(str(tmp_path), str(hostdata))
    args = dict(vmid=vmid, image=bundle, state="started", rootfs=ROOTFS, restart_on_change=True, stop_timeout=2)

    check = deploy(node, check=True, **args)
    assert not check.get("failed"), check
    assert check["changed"] is True and node.conf(vmid) is None

    first = deploy(node, **args)
    assert not first.get("failed"), first
    assert first["changed"] is True
    assert [step.split(" ")[0] for step in first["steps"]] == ["pack", "create", "lxc", "start"]
    create = [c for c in first["commands"] if c.startswith("pct create")]
    assert len(create) == 1 and "--hostname bundle-ct" in create[0] and "--memory 256" in create[0]
    assert "--cpulimit 0.5" in create[0] and ("--mp0 %s,mp=/data" % hostdata) in create[0]
    template = first["bundle"]["template"]
    assert template.startswith("local:vztmpl/nexcage-bundle-") and template.endswith(".tar.zst")
    assert node.exists("/var/lib/vz/template/cache/" + template.split("/", 1)[1])

    conf = node.conf(vmid)
    assert "lxc.init.cmd: /bin/sh -c " in conf
    assert "lxc.environment: GREETING=hello from the bundle" in conf
    assert "lxc.init.cwd: /data" in conf
    assert "lxc.mount.entry: %s etc/motd-host none bind,create=file,ro 0 0" % (tmp_path / "motd") in conf
    assert "lxc.mount.entry: tmpfs scratch tmpfs nosuid,size=1m,create=dir 0 0" in conf

    def inside(*argv):
        proc = node.sh("pct", "exec", vmid, "--", *argv, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert inside("cat", "/entrypoint-ran") == "ran\n"  # the entrypoint ran
    assert inside("cat", "/cwd") == "/data\n"  # in its cwd
    environ = inside("cat", "/proc/1/environ").split("\0")
    assert "GREETING=hello from the bundle" in environ and "MODE=test" in environ
    assert inside("cat", "/data/from-host") == "written on the host\n"  # host file through the mount
    assert inside("cat", "/motd-seen") == "motd from the host\n"  # file bind mount (lxc.mount.entry)
    inside("sh", "-c", "echo written inside > /data/from-ct")
    assert (hostdata / "from-ct").read_text() == "written inside\n"  # and back to the host
    assert "tmpfs" in inside("sh", "-c", "grep ' /scratch ' /proc/mounts")

    again = deploy(node, **args)
    assert not again.get("failed"), again
    assert again["changed"] is False and again["steps"] == []
    assert again["commands"] == [] and again["_calls"] == []
    again_check = deploy(node, check=True, **args)
    assert again_check["changed"] is False and again_check["steps"] == []

    # A change to config.json converges the container's config (no new template: rootfs unchanged).
    config["process"]["env"] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "MODE=changed"]
    config["linux"]["resources"]["memory"]["limit"] = 128 * 1048576
    config["mounts"] = [m for m in config["mounts"] if m["destination"] != "/scratch"]
    write_config(bundle, config)
    changed = deploy(node, **args)
    assert not changed.get("failed"), changed
    assert changed["changed"] is True and "pack" not in changed["steps"]
    assert "update" in changed["steps"] and "lxc" in changed["steps"] and "restart" in changed["steps"]
    conf = node.conf(vmid)
    assert "memory: 128" in conf and "lxc.environment: MODE=changed" in conf
    assert "GREETING" not in conf and "scratch" not in conf
    environ = inside("cat", "/proc/1/environ").split("\0")
    assert "MODE=changed" in environ and not any(e.startswith("GREETING=") for e in environ)
    assert deploy(node, **args)["changed"] is False

    gone = deploy(node, vmid=vmid, image=bundle, state="absent", force=True)
    assert gone["changed"] is True and node.conf(vmid) is None


def test_unmappable_settings_are_listed_in_one_error(fresh_node, new_vmid, tmp_path):
    node = fresh_node
    hostdata = tmp_path / "hostdata"
    hostdata.mkdir()
    bundle, config = make_bundle(str(tmp_path), str(hostdata))
    config["hooks"] = {"prestart": [{"path": "/bin/true"}]}
    config["mounts"].append({"destination": "/nfs", "type": "nfs", "source": "srv:/x", "options": []})
    write_config(bundle, config)
    vmid = new_vmid()
    result = deploy(node, vmid=vmid, image=bundle, state="started", rootfs=ROOTFS)
    assert result["failed"] is True and "Internal error" not in result["msg"]
    message = result["error"]["message"]
    assert "$.hooks.prestart" in message and "type 'nfs'" in message
    assert result["commands"] == [] and node.conf(vmid) is None
