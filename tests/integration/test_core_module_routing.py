"""nexcage_container and nexcage_containers through ansible-playbook: a task without bundles or OCI
runtimes runs the _core module (a payload without the OCI support), the others the full module; the
_core module called directly with OCI needs fails naming the option."""

import json
import os
import sys

import pytest
from integration_conftest import TEMPLATE, ok

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

VERBOSE = {"ANSIBLE_VERBOSITY": "3"}  # -vvv shows the payload's file name (AnsiballZ_<module>.py)
ROOTFS = {"storage": "local-zfs", "size": 1}


def payloads(result):
    out = result["_stdout"]
    return {name for name in ("nexcage_container", "nexcage_containers") if "AnsiballZ_%s.py" % name in out} | {
        name + "_core" for name in ("nexcage_container", "nexcage_containers") if "AnsiballZ_%s_core.py" % name in out
    }


def test_a_template_task_runs_the_core_module_check_apply_converged(fresh_node, new_vmid):
    node, vmid = fresh_node, new_vmid()
    args = {"vmid": vmid, "hostname": "core-route", "image": TEMPLATE, "rootfs": ROOTFS, "ostype": "unmanaged"}
    check = ok(node.run_play("nexcage_container", args, check=True, diff=True, env=VERBOSE))
    assert check["changed"] is True and not node.exists("/etc/pve/lxc/%d.conf" % vmid)
    apply = ok(node.run_play("nexcage_container", args, diff=True, env=VERBOSE))
    assert apply["changed"] is True and node.exists("/etc/pve/lxc/%d.conf" % vmid)
    assert apply["steps"] == check["steps"]
    again = ok(node.run_play("nexcage_container", args, env=VERBOSE))
    assert again["changed"] is False
    for result in (check, apply, again):
        assert payloads(result) == {"nexcage_container_core"}
        assert result["invocation"]["module_args"]["image"] == TEMPLATE


def test_a_bundle_task_runs_the_full_module(fresh_node, tmp_path):
    from test_oci_deploy_lxc import make_bundle

    hostdata = tmp_path / "hostdata"
    hostdata.mkdir()
    bundle, _config = make_bundle(str(tmp_path), str(hostdata))
    args = {"hostname": "full-route", "image": bundle, "rootfs": ROOTFS}
    result = ok(fresh_node.run_play("nexcage_container", args, check=True, env=VERBOSE))
    assert result["changed"] is True and result["bundle"]["template"].startswith("local:vztmpl/nexcage-bundle-")
    assert payloads(result) == {"nexcage_container"}


def test_a_batch_runs_the_core_module_unless_an_entry_needs_oci(fresh_node):
    node = fresh_node
    defaults = {"image": TEMPLATE, "rootfs": ROOTFS, "ostype": "unmanaged"}
    args = {"defaults": defaults, "containers": [{"hostname": "core-a"}, {"hostname": "core-b"}]}
    result = ok(node.run_play("nexcage_containers", args, check=True, env=VERBOSE))
    assert result["changed"] is True and [e["changed"] for e in result["containers"]] == [True, True]
    assert payloads(result) == {"nexcage_containers_core"}
    args["containers"].append({"hostname": "oci-c", "backend": "runc", "image": "/nowhere/bundle"})
    result = node.run_play("nexcage_containers", args, check=True, env=VERBOSE)
    assert payloads(result) == {"nexcage_containers"}
    assert [e["changed"] for e in result["containers"][:2]] == [True, True]


@pytest.mark.parametrize("option", ["backend", "image"])
def test_the_core_module_called_directly_with_oci_needs_fails_naming_the_option(fresh_node, tmp_path, option):
    from test_oci_deploy_lxc import make_bundle

    hostdata = tmp_path / "hostdata"
    hostdata.mkdir()
    bundle, _config = make_bundle(str(tmp_path), str(hostdata))
    args = {"hostname": "direct", "image": bundle, "rootfs": ROOTFS}
    if option == "backend":
        args["backend"] = "runc"
    result = fresh_node.run_task("nexcage_container_core", args)
    assert result["failed"] is True and "Traceback" not in result["_stderr"]
    assert result["error"]["option"] == option and "cageforge.nexcage.nexcage_container" in result["error"]["hint"]


def test_an_async_task_runs_through_the_action_plugin(fresh_node, tmp_path):
    args = {"vmid": 150, "hostname": "async-core", "image": TEMPLATE, "rootfs": ROOTFS, "ostype": "unmanaged"}
    task = {"cageforge.nexcage.nexcage_container": args, "async": 120, "poll": 1}
    tasks = [
        dict(task, register="created"),
        dict(task, register="again"),
        {
            "ansible.builtin.assert": {
                "that": [
                    "created is changed and created.vmid == 150 and created.finished == 1",
                    "again is not changed and again.vmid == 150 and again.finished == 1",
                ]
            }
        },
    ]
    play = tmp_path / "async.yml"
    play.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    proc = fresh_node.run_playbook(str(play), env=VERBOSE)
    assert proc.returncode == 0, proc.stdout[-3000:]
    shown = proc.stdout + proc.stderr
    assert "AnsiballZ_nexcage_container_core.py" in shown and "async_wrapper.py" in shown
    assert fresh_node.exists("/etc/pve/lxc/150.conf")
