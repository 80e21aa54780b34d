"""nexcage_container_info under the simulated node: one container (vmid or hostname) or all, the same
`container` structure nexcage_container returns, pools, runtime figures of a real running LXC
container, check mode, and not one simulated-tool call (the pvesim call log stays empty)."""

import pytest
from integration_conftest import BASE, lxc_available, ok

INFO = "nexcage_container_info"

HANDWRITTEN = """arch: amd64
hostname: db01
memory: 1024
ostype: debian
rootfs: local-zfs:subvol-{vmid}-disk-0,size=4G
tags: db;prod
unprivileged: 1
"""


def without_calls(result):
    assert result["_calls"] == [], "nexcage_container_info ran simulated tools: %s" % result["_calls"]
    assert result["commands"] == [] and result["changed"] is False
    return result


def comparable(container):
    """A container entry without what changes between two reads."""
    return {key: value for key, value in container.items() if key not in ("runtime", "pool")}


def test_one_or_all_without_any_tool_call(fresh_node, new_vmid):
    node = fresh_node
    made_vmid, hand_vmid = new_vmid(), new_vmid()
    made = ok(node.run_task("nexcage_container", dict(BASE, vmid=made_vmid, hostname="web01", state="present")))
    node.write("/etc/pve/lxc/%s.conf" % hand_vmid, HANDWRITTEN.format(vmid=hand_vmid))
    node.write("/etc/pve/user.cfg", "user:root@pam:1:0::::::\npool:prod:Production:%s::\n" % hand_vmid)
    node.clear_calls()

    everything, by_vmid, by_name, missing, checked = node.run_tasks(
        INFO,
        [
            ({}, False, False),
            ({"vmid": made_vmid}, False, False),
            ({"hostname": "DB01"}, False, False),
            ({"vmid": 999999999}, False, False),
            ({"hostname": "web01"}, True, False),
        ],
    )
    for result in (everything, by_vmid, by_name, missing, checked):
        without_calls(ok(result))
    assert node.calls() == []

    assert [c["vmid"] for c in everything["containers"]] == sorted([made_vmid, hand_vmid])
    assert "container" not in everything
    # The same structure nexcage_container returned for the container it made.
    assert comparable(by_vmid["container"]) == made["container"]
    assert by_vmid["containers"] == [by_vmid["container"]]
    assert by_vmid["container"]["status"] == "stopped" and by_vmid["container"]["runtime"] is None

    db = by_name["container"]
    assert db["vmid"] == hand_vmid and db["hostname"] == "db01" and db["pool"] == "prod"
    assert db["memory"] == 1024 and db["unprivileged"] is True and db["ostype"] == "debian"
    assert db["status"] == "stopped" and db["pid"] is None and db["node"] == made["container"]["node"]
    assert by_vmid["container"]["pool"] is None

    assert missing["container"] is None and missing["containers"] == []
    assert checked["container"]["vmid"] == made_vmid


def test_bad_input_is_named(fresh_node, new_vmid):
    node = fresh_node
    for vmid in (new_vmid(), new_vmid()):
        node.write("/etc/pve/lxc/%s.conf" % vmid, "hostname: twin\nmemory: 512\n")
    bad_vmid, twin, bad_name, both = node.run_tasks(
        INFO,
        [
            ({"vmid": 5}, False, False),
            ({"hostname": "twin"}, False, False),
            ({"hostname": "no_underscores"}, False, False),
            ({"vmid": 100, "hostname": "twin"}, False, False),
        ],
    )
    assert bad_vmid["failed"] and "vmid" in bad_vmid["msg"] and "5" in bad_vmid["msg"]
    assert twin["failed"] and "several containers" in twin["msg"] and "Set vmid" in twin["error"]["hint"]
    assert bad_name["failed"] and "hostname" in bad_name["msg"]
    assert both["failed"] and "mutually exclusive" in both["msg"]
    for result in (bad_vmid, twin, bad_name, both):
        assert "Traceback" not in result.get("_stderr", "") and result["_calls"] == []


@pytest.mark.real_lxc
@pytest.mark.skipif(not lxc_available(), reason="LXC is missing (lxc-start not on PATH) or not running as root")
def test_runtime_facts_of_a_running_container(ct):
    node, vmid = ct
    started = ok(
        node.run_task("nexcage_container", dict(BASE, vmid=vmid, hostname="run01", memory=256, state="started"))
    )
    assert started["container"]["status"] == "running"
    node.clear_calls()

    one, everything = node.run_tasks(INFO, [({"vmid": vmid}, False, False), ({}, True, False)])
    without_calls(ok(one))
    without_calls(ok(everything))
    assert node.calls() == []

    info = one["container"]
    assert comparable(info) == started["container"]
    assert info["status"] == "running" and info["pid"] == started["container"]["pid"] > 1
    runtime = info["runtime"]
    assert isinstance(runtime["uptime"], int) and 0 <= runtime["uptime"] < 600
    assert runtime["memory"]["used"] > 0
    assert runtime["memory"]["limit"] == 256 * 1024 * 1024
    assert runtime["cpu"]["usage_ms"] >= runtime["cpu"]["user_ms"] >= 0
    assert everything["containers"][0]["status"] == "running"
