"""nexcage_container with image: <bundle directory> (and backend runc/crun) on a simulated node with
real LXC: check -> apply -> idempotent -> idempotent check, the container runs the bundle's
entrypoint with its environment and mounts, and a config.json change converges the config."""

import json
import os
import subprocess
import sys

import pytest
from integration_conftest import MOD, lxc_available, ok

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_oci_deploy_lxc import make_bundle, write_config  # noqa: E402

CRUN_WRAPPER = ["unshare", "-m", "sh", "-c", 'umount /sys/fs/cgroup/unified && exec "$@"', "crun-wrap"]

pytestmark = [
    pytest.mark.real_lxc,
    pytest.mark.skipif(not lxc_available(), reason="LXC is missing (lxc-start not on PATH) or not running as root"),
    pytest.mark.skipif(not os.path.isfile("/bin/busybox"), reason="busybox-static not installed (/bin/busybox)"),
]


def test_bundle_image_four_phases_and_converge(ct, tmp_path):
    node, vmid = ct
    hostdata = tmp_path / "hostdata"
    hostdata.mkdir()
    (hostdata / "from-host").write_text("host file\n")
    bundle, config = make_bundle(str(tmp_path), str(hostdata))
    args = {"vmid": vmid, "image": bundle, "rootfs": {"storage": "local-zfs", "size": 1}, "state": "started"}
    check, apply, again, again_check = node.run_tasks(
        MOD, [(args, True, True), (args, False, True), (args, False, True), (args, True, True)]
    )
    for r in (check, apply, again, again_check):
        ok(r)
    assert check["changed"] is True and check["_calls"] == []
    assert apply["changed"] is True and apply["commands"] == check["commands"]
    creates = [c for c in apply["commands"] if c.startswith("pct create")]
    assert len(creates) == 1 and "--cmode console" in creates[0] and "--hostname bundle-ct" in creates[0]
    assert apply["steps"][0].startswith("pack local:vztmpl/nexcage-bundle-") and "lxc" in apply["steps"]
    assert apply["bundle"]["template"] in creates[0]
    assert again["changed"] is False and again["_calls"] == []
    assert again_check["changed"] is False and again_check["_calls"] == []

    def inside(*argv):
        proc = node.sh("pct", "exec", vmid, "--", *argv, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert inside("cat", "/entrypoint-ran") == "ran\n"
    assert "GREETING=hello from the bundle" in inside("cat", "/proc/1/environ").split("\0")
    assert inside("cat", "/data/from-host") == "host file\n"
    inside("sh", "-c", "echo inside > /data/from-ct")
    assert (hostdata / "from-ct").read_text() == "inside\n"

    config["process"]["env"] = ["PATH=/bin", "MODE=changed"]
    write_config(bundle, config)
    changed = ok(node.run_task(MOD, dict(args, restart_on_change=True, stop_timeout=2)))
    # the restart applied the new lxc.* lines: nothing is pending any more
    assert changed["changed"] is True and "lxc" in changed["steps"] and changed["pending"] == []
    assert "MODE=changed" in inside("cat", "/proc/1/environ").split("\0")
    assert ok(node.run_task(MOD, args))["changed"] is False


@pytest.mark.parametrize("backend", ["runc", "crun"])
def test_runtime_backend_through_the_module(fresh_node, tmp_path, backend):
    node = fresh_node
    if subprocess.run(["which", backend], capture_output=True, check=False).returncode != 0:
        pytest.skip("%s is not installed" % backend)
    hostdata = tmp_path / "hostdata"
    hostdata.mkdir()
    bundle, config = make_bundle(str(tmp_path), str(hostdata))
    config["process"]["args"] = ["/bin/sh", "-c", "echo $GREETING > /data/env; exec sleep 100000"]
    config["mounts"] = [m for m in config["mounts"] if m["type"] != "tmpfs" and m["destination"] != "/etc/motd-host"]
    write_config(bundle, config)
    cid = "nexcage-mod-%s" % backend
    args = {"hostname": cid, "image": bundle, "backend": backend, "state": "started", "stop_timeout": 1}
    if backend == "crun":
        args["runtime_wrapper"] = CRUN_WRAPPER
    try:
        check, apply, again = node.run_tasks(MOD, [(args, True, True), (args, False, True), (args, False, True)])
        for r in (check, apply, again):
            ok(r)
        assert check["changed"] is True and check["steps"] == ["create", "start"]
        assert apply["changed"] is True and apply["container"]["status"] == "running"
        assert apply["diff"] == {"before": {"status": "absent"}, "after": {"status": "running"}}
        state = json.loads(node.read("/run/nexcage/%s/state.json" % cid))
        assert state["status"] == "running" and state["id"] == cid and state["bundle"] == bundle
        assert (hostdata / "env").read_text() == "hello from the bundle\n"
        assert again["changed"] is False
        stopped = ok(node.run_task(MOD, dict(args, state="stopped")))
        assert stopped["steps"] == ["kill"] and stopped["container"]["status"] == "stopped"
        gone = ok(node.run_task(MOD, dict(args, state="absent")))
        assert gone["changed"] is True and gone["container"] is None
        assert not node.exists("/run/nexcage/%s" % cid)
    finally:
        node.sh(backend, "delete", "-f", cid)
