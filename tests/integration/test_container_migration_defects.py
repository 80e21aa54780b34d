"""The four defects a user coming from community.proxmox hit (issue 12), each pinned by a test:
restart_on_change leaving features pending, the teardown role under --check, image naming a
bundle directory that does not exist, and a root disk left on a storage without rootdir content."""

import json

import pytest
from integration_conftest import BASE, MOD, TEMPLATE, lxc_available, ok


@pytest.mark.real_lxc
@pytest.mark.skipif(not lxc_available(), reason="LXC is missing (lxc-start not on PATH) or not running as root")
def test_restart_on_change_leaves_no_feature_pending(ct):
    node, vmid = ct
    ok(node.run_task(MOD, dict(BASE, vmid=vmid, state="started")))
    args = dict(BASE, vmid=vmid, state="started", features={"nesting": True}, restart_on_change=True)
    check, apply, again = node.run_tasks(MOD, [(args, True, True), (args, False, True), (args, False, True)])
    assert ok(check)["pending"] == [], "check mode predicts the restart applies what was pending"
    assert ok(apply)["commands"] == ["pct set %s --features nesting=1" % vmid, "pct reboot %s --timeout 60" % vmid]
    assert apply["pending"] == [] and apply["container"]["pending_keys"] == []
    assert apply["container"]["features"] == {"nesting": True}
    assert ok(again)["changed"] is False and again["pending"] == []


@pytest.mark.real_lxc
@pytest.mark.skipif(not lxc_available(), reason="LXC is missing (lxc-start not on PATH) or not running as root")
def test_teardown_role_predicts_the_whole_chain_in_check_mode(ct, tmp_path):
    node, vmid = ct
    ok(node.run_task(MOD, dict(BASE, vmid=vmid, hostname="td-check", state="started")))
    specs = [{"name": "td-check", "vmid": vmid, "image": TEMPLATE}]
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "roles": [{"role": "cageforge.nexcage.teardown", "vars": {"teardown_specs": specs}}],
            "tasks": [
                {
                    "ansible.builtin.copy": {
                        "content": "{{ teardown_summary | to_json }}",
                        "dest": str(tmp_path / "s"),
                    },
                    "check_mode": False,
                    "changed_when": False,
                }
            ],
        }
    ]
    path = tmp_path / "teardown.yml"
    path.write_text(json.dumps(play))
    check = node.run_playbook(path, ["--check", "--diff"])
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads((tmp_path / "s").read_text())["containers_removed"] == ["td-check"]
    assert node.conf(vmid) is not None and "running" in node.sh("pct", "status", vmid).stdout
    real = node.run_playbook(path)
    assert real.returncode == 0, real.stdout + real.stderr
    assert json.loads((tmp_path / "s").read_text())["containers_removed"] == ["td-check"]
    assert node.conf(vmid) is None
    again = node.run_playbook(path, ["--check"])
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout


def test_image_naming_a_missing_bundle_directory(node):
    args = dict(vmid=310, image="/var/lib/nexcage/bundles/nope", rootfs={"storage": "local-zfs", "size": 1})
    real = node.run_task(MOD, args)
    assert real["failed"] and real["_calls"] == []
    assert "image" in real["msg"] and "/var/lib/nexcage/bundles/nope" in real["msg"]
    assert "no such bundle directory" in real["msg"] and "template volume ID" not in real["msg"]
    assert "nexcage_bundle" in real["error"]["hint"]
    # In check mode the bundle may be built by an earlier task of the same play: a warning, a change.
    check = ok(node.run_task(MOD, args, check=True, diff=True))
    assert check["changed"] is True and check["_calls"] == []
    assert "no such bundle directory" in json.dumps(check.get("warnings"))  # str or WarningSummary (core 2.19+)
    assert check["steps"] == ["deploy bundle /var/lib/nexcage/bundles/nope"]
    assert node.conf(310) is None


def test_root_disk_left_out_is_not_put_on_a_storage_without_rootdir(node):
    args = dict(vmid=311, image=TEMPLATE, ostype="unmanaged")
    for check in (True, False):
        result = node.run_task(MOD, args, check=check)
        assert result["failed"] and result["_calls"] == [], result
        msg = result["msg"]
        assert "rootfs" in msg and "'local'" in msg and "local-zfs" in msg, msg
        assert "rootfs" in result["error"]["hint"] and "local-zfs" in result["error"]["hint"]
    assert node.conf(311) is None
