"""nexcage_container run states with real LXC containers under pvesim (marker real_lxc):
started/stopped/restarted/absent with check -> apply -> idempotent -> idempotent-check, pending
changes and restart_on_change, the OCI state file, and a host_path mount read with pct exec."""

import json
import os

import pytest
from integration_conftest import BASE, MOD, lxc_available, ok

# The upstream schemas in ../shared, beside the checkout (an oracle; never copied in).
SCHEMA_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "..", "shared", "oci-runtime-spec"
)

pytestmark = [
    pytest.mark.real_lxc,
    pytest.mark.skipif(not lxc_available(), reason="LXC is missing (lxc-start not on PATH) or not running as root"),
]


def phases(node, args):
    return node.run_tasks(MOD, [(args, True, True), (args, False, True), (args, False, True), (args, True, True)])


def assert_four(check, apply, again, again_check):
    for r in (check, apply, again, again_check):
        ok(r)
    assert check["changed"] is True and check["_calls"] == []
    assert apply["changed"] is True and apply["commands"] == check["commands"]
    assert again["changed"] is False and again["_calls"] == []
    assert again_check["changed"] is False and again_check["_calls"] == []


def oci_state(node, vmid):
    state = json.loads(node.read("/run/nexcage/%s/state.json" % vmid))
    schema_path = os.path.join(SCHEMA_DIR, "state-schema.json")
    if os.path.exists(schema_path):
        import jsonschema
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        def load(name):
            with open(os.path.join(SCHEMA_DIR, name), encoding="utf-8") as f:
                return Resource.from_contents(json.load(f), default_specification=DRAFT4)

        registry = Registry().with_resources([(n, load(n)) for n in ("defs.json", "state-schema.json")])
        schema = registry["state-schema.json"].contents
        jsonschema.Draft4Validator(schema, registry=registry).validate(state)
    assert state["ociVersion"] and state["id"] == str(vmid)
    return state


def test_started_stopped_restarted_absent(ct):
    node, vmid = ct
    started = dict(BASE, vmid=vmid, state="started")
    check, apply, again, again_check = phases(node, started)
    assert_four(check, apply, again, again_check)
    assert apply["commands"][0].startswith("pct create %s " % vmid)
    assert apply["commands"][1:] == ["pct start %s" % vmid], "create + start = exactly two pct calls"
    assert check["diff"]["after"]["status"] == "running"
    c = again["container"]
    assert c["status"] == "running" and isinstance(c["pid"], int)
    assert node.sh("test", "-d", "/proc/%d" % c["pid"]).returncode == 0  # the node's pid: its own PID namespace
    state = oci_state(node, vmid)
    assert state["status"] == "running" and state["pid"] == c["pid"]

    stopped = dict(BASE, vmid=vmid, state="stopped", stop_mode="stop")
    check, apply, again, again_check = phases(node, stopped)
    assert_four(check, apply, again, again_check)
    assert apply["commands"] == ["pct stop %s" % vmid]
    assert again["container"]["status"] == "stopped" and again["container"]["pid"] is None
    assert oci_state(node, vmid)["status"] == "stopped"

    # restarted on a stopped CT starts it; on a running one it reboots; always changed
    restarted = dict(BASE, vmid=vmid, state="restarted")
    check, first, second = node.run_tasks(
        MOD, [(restarted, True, False), (restarted, False, False), (restarted, False, False)]
    )
    assert ok(check)["commands"] == ["pct start %s" % vmid] and check["_calls"] == []
    assert ok(first)["commands"] == ["pct start %s" % vmid]
    assert ok(second)["commands"] == ["pct reboot %s --timeout 60" % vmid] and second["changed"] is True
    assert second["container"]["status"] == "running"

    # absent refuses a running container unless force
    refused = node.run_task(MOD, {"vmid": vmid, "state": "absent"})
    assert refused["failed"] and refused["error"]["category"] == "already_running"
    assert "force: true" in refused["error"]["hint"] and refused["_calls"] == []
    absent = {"vmid": vmid, "state": "absent", "force": True}
    check, apply, again, again_check = phases(node, absent)
    assert_four(check, apply, again, again_check)
    assert apply["commands"] == ["pct destroy %s --force 1" % vmid]
    assert node.conf(vmid) is None and not node.exists("/run/nexcage/%s" % vmid)


def test_graceful_shutdown(ct):
    node, vmid = ct
    ok(node.run_task(MOD, dict(BASE, vmid=vmid, state="started")))
    result = ok(node.run_task(MOD, dict(BASE, vmid=vmid, state="stopped", stop_timeout=20)))
    assert result["commands"] == ["pct shutdown %s --timeout 20 --forceStop 1" % vmid]
    assert result["container"]["status"] == "stopped"


def test_pending_changes_and_restart_on_change(ct):
    node, vmid = ct
    ok(node.run_task(MOD, dict(BASE, vmid=vmid, state="started")))
    args = dict(BASE, vmid=vmid, state="started", timezone="UTC", memory=256)
    check, apply, again, again_check = phases(node, args)
    assert_four(check, apply, again, again_check)
    assert apply["commands"] == ["pct set %s --memory 256 --timezone UTC" % vmid]
    kinds = {c["key"]: c["kind"] for c in apply["changes"]}
    assert kinds == {"memory": "live", "timezone": "restart"}
    assert apply["pending"] == ["timezone"]
    assert again["pending"] == ["timezone"], "a converged task still reports what is pending"
    assert again["container"]["pending_keys"] == ["timezone"]
    assert again["container"]["memory"] == 256
    restart = ok(node.run_task(MOD, dict(args, restart_on_change=True)))
    assert restart["commands"] == ["pct reboot %s --timeout 60" % vmid]
    assert restart["container"]["pending_keys"] == [] and restart["container"]["timezone"] == "UTC"
    assert restart["container"]["status"] == "running"
    settled = ok(node.run_task(MOD, dict(args, restart_on_change=True)))
    assert settled["changed"] is False and settled["_calls"] == []


def test_host_path_mount_readable_with_pct_exec(ct, tmp_path):
    node, vmid = ct
    share = tmp_path / "share"
    share.mkdir()
    (share / "hello.txt").write_text("hello from the host\n")
    os.chmod(share, 0o755)
    os.chmod(share / "hello.txt", 0o644)
    args = dict(
        BASE,
        vmid=vmid,
        state="started",
        mounts=[{"id": 0, "host_path": str(share), "mountpoint": "/mnt/share", "read_only": True}],
    )
    result = ok(node.run_task(MOD, args))
    assert result["container"]["status"] == "running"
    out = node.sh("pct", "exec", vmid, "--", "cat", "/mnt/share/hello.txt", timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "hello from the host\n"


def test_mount_added_to_a_running_container_is_visible_without_restart(ct, tmp_path):
    node, vmid = ct
    share = tmp_path / "hot"
    share.mkdir()
    (share / "hello.txt").write_text("plugged in while running\n")
    os.chmod(share, 0o755)
    os.chmod(share / "hello.txt", 0o644)
    ok(node.run_task(MOD, dict(BASE, vmid=vmid, state="started")))
    pid_before = node.sh("pct", "exec", vmid, "--", "cat", "/proc/1/stat", timeout=60).stdout
    args = dict(
        BASE,
        vmid=vmid,
        state="started",
        mounts=[{"id": 0, "host_path": str(share), "mountpoint": "/mnt/hot", "read_only": True}],
    )
    result = ok(node.run_task(MOD, args))
    assert result["changed"] is True
    assert result["container"]["status"] == "running"
    assert result["container"]["pending_keys"] == []  # hot-plugged, as Proxmox does for a new mount point
    out = node.sh("pct", "exec", vmid, "--", "cat", "/mnt/hot/hello.txt", timeout=60)
    assert (out.returncode, out.stdout) == (0, "plugged in while running\n"), out.stderr
    # the same init: no restart happened
    assert node.sh("pct", "exec", vmid, "--", "cat", "/proc/1/stat", timeout=60).stdout == pid_before
    again = ok(node.run_task(MOD, args))
    assert again["changed"] is False and again["_calls"] == []
