"""community.proxmox's `force: true` with `state: stopped` (or `restarted`) is a forced stop: nexcage
runs it as `stop_mode: stop` (`pct stop`, no clean shutdown first), in check mode too (issue 12)."""

import pytest
from integration_conftest import BASE, MOD, lxc_available, ok


@pytest.mark.real_lxc
@pytest.mark.skipif(not lxc_available(), reason="LXC is missing (lxc-start not on PATH) or not running as root")
def test_force_with_stopped_and_restarted_stops_at_once(ct):
    node, vmid = ct
    ok(node.run_task(MOD, dict(BASE, vmid=vmid, state="started")))
    restart = {"vmid": vmid, "state": "restarted", "force": True}
    check, apply = node.run_tasks(MOD, [(restart, True, True), (restart, False, True)])
    assert ok(check)["commands"] == ok(apply)["commands"] == ["pct stop %s" % vmid, "pct start %s" % vmid]
    stop = {"vmid": vmid, "state": "stopped", "force": True}
    check, apply, again = node.run_tasks(MOD, [(stop, True, True), (stop, False, True), (stop, False, True)])
    assert ok(check)["commands"] == ok(apply)["commands"] == ["pct stop %s" % vmid]
    assert "status: stopped" in node.sh("pct", "status", vmid).stdout
    assert ok(again)["changed"] is False
    assert [c["argv"][:2] for c in apply["_calls"]] == [["pct", "stop"]], "no clean shutdown first"
