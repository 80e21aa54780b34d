"""nexcage_containers: many containers in one task on a simulated node.

Check mode and diff, create then converged (no simulated-tool call), partial failure, fail_fast,
bad input, secrets, and two ansible-playbook runs at once allocating VMIDs without a clash.
"""

import json
import os
import subprocess
import sys

from integration_conftest import ANSIBLE_PLAYBOOK, BASE, PVESIM, TEMPLATE, TOP

MODULE = "nexcage_containers"
MISSING_TEMPLATE = "local:vztmpl/nothere-1.0_amd64.tar.zst"


def _tools(result):
    return [" ".join(call["argv"][:2]) for call in result["_calls"]]


def _by_host(result):
    return {entry["hostname"]: entry for entry in result["containers"]}


def test_check_mode_predicts_what_the_run_does_and_second_run_is_free(fresh_node):
    node = fresh_node
    args = {
        "defaults": BASE,
        "containers": [{"hostname": "b1"}, {"hostname": "b2", "memory": 300}, {"vmid": 100, "hostname": "b0"}],
    }
    check = node.run_task(MODULE, args, check=True, diff=True)
    assert not node.exists("/etc/pve/lxc/101.conf") and not node.exists("/etc/pve/lxc/100.conf")
    real, again, again_check = node.run_tasks(MODULE, [(args, False, False), (args, False, False), (args, True, False)])
    # check mode: every create planned, distinct VMIDs predicted (the batch's own vmid 100 is not given away)
    assert check["changed"] is True and check["_calls"] == []
    predicted = {name: entry["vmid"] for name, entry in _by_host(check).items()}
    assert predicted == {"b1": 101, "b2": 102, "b0": 100}
    assert all(entry["steps"] == ["create"] for entry in check["containers"])
    assert "--memory 300" in _by_host(check)["b2"]["commands"][0]
    assert [d["before_header"] for d in check["diff"]] == [
        "containers[0] (b1)",
        "containers[1] (b2)",
        "containers[2] (b0)",
    ]
    assert check["diff"][1]["before"] == {"status": "absent"} and check["diff"][1]["after"]["config"]["memory"] == 300
    # the real run does exactly that
    assert real["changed"] is True and not real.get("failed"), real.get("msg")
    assert {name: entry["vmid"] for name, entry in _by_host(real).items()} == predicted
    assert [e["commands"] for e in real["containers"]] == [e["commands"] for e in check["containers"]]
    assert sorted(_tools(real)) == ["pct create"] * 3
    assert real["totals"] == {"containers": 3, "changed": 3, "unchanged": 0, "failed": 0, "skipped": 0, "commands": 3}
    assert "memory: 300" in node.conf(102)
    # converged: nothing to do, no simulated-tool call, in normal and in check mode
    for result in (again, again_check):
        assert result["changed"] is False and result["_calls"] == [] and result["commands"] == []
        assert result["totals"]["unchanged"] == 3
        assert all(entry["container"]["vmid"] == predicted[entry["hostname"]] for entry in result["containers"])


def test_diff_shows_only_the_changed_entry_and_its_change(fresh_node):
    node = fresh_node
    containers = [{"vmid": 100, "hostname": "d0"}, {"vmid": 101, "hostname": "d1"}]
    first = node.run_task(MODULE, {"defaults": BASE, "containers": containers})
    assert first["changed"] is True
    containers[1]["memory"] = 640
    check, real = node.run_tasks(
        MODULE,
        [
            ({"defaults": BASE, "containers": containers}, True, True),
            ({"defaults": BASE, "containers": containers}, False, True),
        ],
    )
    for result in (check, real):
        assert result["totals"]["changed"] == 1 and result["totals"]["unchanged"] == 1
        assert [d["before_header"] for d in result["diff"]] == ["containers[1] (d1)"]
        assert result["diff"][0]["after"]["config"]["memory"] == 640
        assert result["containers"][1]["changes"][0]["key"] == "memory"
        assert result["containers"][1]["commands"] == ["pct set 101 --memory 640"]
    assert check["_calls"] == [] and _tools(real) == ["pct set"]
    assert "memory: 640" in node.conf(101)


def test_one_bad_entry_fails_alone(fresh_node):
    node = fresh_node
    containers = [{"vmid": 100, "hostname": "p0"}, {"vmid": 101, "hostname": "p1", "image": MISSING_TEMPLATE}]
    containers.append({"vmid": 102, "hostname": "p2"})
    result = node.run_task(MODULE, {"defaults": BASE, "containers": containers})
    assert result["failed"] is True
    assert "1 of 3 containers failed" in result["msg"] and "containers[1] (p1)" in result["msg"]
    assert "nothere-1.0_amd64.tar.zst" in result["msg"]
    bad = result["containers"][1]
    assert bad["failed"] is True and bad["error"]["category"] == "not_found" and bad["commands"] == []
    for index in (0, 2):
        assert result["containers"][index]["changed"] is True and result["containers"][index]["error"] is None
    assert node.conf(100) is not None and node.conf(102) is not None and node.conf(101) is None
    assert result["totals"] == {"containers": 3, "changed": 2, "unchanged": 0, "failed": 1, "skipped": 0, "commands": 2}


def test_a_failing_command_fails_its_entry_only(fresh_node):
    node = fresh_node
    node.fault("pct create 101", stderr="unable to create CT 101 - no space left on device", rc=255)
    containers = [{"vmid": vmid, "hostname": "f%d" % vmid} for vmid in (100, 101, 102)]
    result = node.run_task(MODULE, {"defaults": BASE, "containers": containers, "parallel": 2})
    assert result["failed"] is True and result["totals"]["failed"] == 1 and result["totals"]["changed"] == 2
    assert result["containers"][1]["error"]["cmd"].startswith("pct create 101")
    assert node.conf(100) is not None and node.conf(102) is not None


def test_fail_fast_skips_what_did_not_start(fresh_node):
    node = fresh_node
    node.fault("pct create 100", stderr="unable to create CT 100 - no space left on device", rc=255)
    containers = [{"vmid": vmid, "hostname": "ff%d" % vmid} for vmid in (100, 101, 102)]
    result = node.run_task(MODULE, {"defaults": BASE, "containers": containers, "parallel": 1, "fail_fast": True})
    assert result["failed"] is True
    assert [(e["failed"], e["skipped"]) for e in result["containers"]] == [(True, False), (False, True), (False, True)]
    assert result["totals"]["skipped"] == 2 and _tools(result) == ["pct create"]
    assert node.conf(101) is None and node.conf(102) is None
    # without fail_fast the others run
    node.clear_calls()
    result = node.run_task(MODULE, {"defaults": BASE, "containers": containers, "parallel": 1})
    assert [e["failed"] for e in result["containers"]] == [True, False, False]
    assert node.conf(101) is not None and node.conf(102) is not None


def test_fail_fast_on_a_planning_error_runs_nothing_after_it(fresh_node):
    node = fresh_node
    containers = [{"vmid": 100, "hostname": "pe0", "image": MISSING_TEMPLATE}, {"vmid": 101, "hostname": "pe1"}]
    result = node.run_task(MODULE, {"defaults": BASE, "containers": containers, "fail_fast": True})
    assert result["failed"] is True and result["containers"][1]["skipped"] is True
    assert result["_calls"] == [] and node.conf(101) is None


def test_bad_input_is_refused_naming_it(fresh_node):
    node = fresh_node
    duplicate = node.run_task(
        MODULE, {"defaults": BASE, "containers": [{"vmid": 100, "hostname": "a"}, {"vmid": 100, "hostname": "b"}]}
    )
    assert duplicate["failed"] is True
    assert "containers[1] (b): vmid 100 is also given by containers[0] (a)" in duplicate["msg"]
    assert node.conf(100) is not None  # the first one still ran
    unknown = node.run_task(MODULE, {"defaults": {"memroy": 512}, "containers": [{"vmid": 101}]})
    assert unknown["failed"] is True and unknown["error"]["option"] == "defaults.memroy"
    badtype = node.run_task(MODULE, {"defaults": {"memory": "lots"}, "containers": [{"vmid": 101}]})
    assert badtype["failed"] is True and "memory" in badtype["msg"] and "Traceback" not in badtype["msg"]
    badhost = node.run_task(MODULE, {"defaults": BASE, "containers": [{"vmid": 101, "hostname": "bad_name!"}]})
    assert badhost["failed"] is True and badhost["containers"][0]["error"]["category"] == "invalid_argument"
    parallel = node.run_task(MODULE, {"containers": [{"vmid": 101}], "parallel": 0})
    assert parallel["failed"] is True and parallel["error"]["option"] == "parallel"
    assert node.conf(101) is None


def test_a_password_in_defaults_never_shows(fresh_node):
    node = fresh_node
    secret = "s3cret-Batch-pw"
    args = {"defaults": dict(BASE, password=secret), "containers": [{"vmid": 100, "hostname": "pw0"}]}
    for check in (True, False):
        result = node.run_task(MODULE, args, check=check, diff=True)
        text = json.dumps({k: v for k, v in result.items() if not k.startswith("_")})
        assert secret not in text
        assert "--password ********" in result["commands"][0]


def test_two_playbooks_at_once_allocate_distinct_vmids(fresh_node):
    node = fresh_node
    runs, per_run = 2, 3
    procs = []
    for run in range(runs):
        play = os.path.join(node.work, "batch%d.yml" % run)
        task = {
            "cageforge.nexcage.nexcage_containers": {
                "defaults": BASE,
                "containers": [{"hostname": "bat%d-%d" % (run, i)} for i in range(per_run)],
                "parallel": 3,
            }
        }
        with open(play, "w", encoding="utf-8") as f:
            json.dump([{"hosts": "localhost", "gather_facts": False, "tasks": [task]}], f)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(TOP, "build", "collections"))
        env["ANSIBLE_CONFIG"] = os.path.join(TOP, "ansible.cfg")
        env.pop("PVESIM_LATENCY_MS", None)
        argv = [PVESIM, "run", "--root", node.root, "--", ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local"]
        argv += ["-e", "ansible_python_interpreter=%s" % sys.executable, play]
        procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env))
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    for proc, out in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out
    vmlist = json.loads(node.read("/etc/pve/.vmlist"))["ids"]
    hostnames = {}
    for vmid in vmlist:
        conf = node.conf(vmid)
        hostnames[[line[10:] for line in conf.splitlines() if line.startswith("hostname: ")][0]] = int(vmid)
    assert set(hostnames) == {"bat%d-%d" % (r, i) for r in range(runs) for i in range(per_run)}
    assert sorted(hostnames.values()) == list(range(100, 100 + runs * per_run))
    creates = [c for c in node.calls() if c["argv"][:2] == ["pct", "create"]]
    assert len(creates) == runs * per_run and all(c["rc"] == 0 for c in creates)
    # and a second run of both is converged without any call
    node.clear_calls()
    for run in range(runs):
        proc = node.run_playbook(os.path.join(node.work, "batch%d.yml" % run))
        assert proc.returncode == 0 and "changed=0" in proc.stdout, proc.stdout
    assert node.calls() == []


def test_hostile_scalars_in_an_entry_are_refused_before_anything_runs(fresh_node):
    """ansible-core would read "1e3" as 1000: the raw value is refused, naming the entry's option."""
    node = fresh_node
    args = {"containers": [{"vmid": "1e3", "hostname": "web-x", "image": TEMPLATE}]}
    result = node.run_task(MODULE, args)
    assert result.get("failed") is True
    assert "containers[0].vmid" in result["msg"] and "1e3" in result["msg"], result["msg"]
    assert "Traceback" not in result.get("_stderr", "")
    assert result["_calls"] == [], "nothing may run for a refused task"
    # in defaults too, and an entry's numbers have nexcage_container's limits
    entry = {"vmid": 101, "hostname": "web-x", "image": TEMPLATE}
    for args, option in (
        ({"defaults": {"memory": "1e3"}, "containers": [entry]}, "defaults.memory"),
        ({"containers": [dict(entry, stop_timeout=10**13)]}, "containers[0].stop_timeout"),
    ):
        result = node.run_task(MODULE, args)
        assert result.get("failed") is True and result["error"]["option"] == option, result
        assert result["_calls"] == [], "nothing may run for a refused task"
