"""Several ansible-playbook runs in parallel, each creating containers without a vmid, end with
every container created and no VMID clash (a VMID picked under the node-local lock and reserved
while its pct create runs, + retry); the creates themselves run at the same time."""

import json
import os
import subprocess
import sys
import threading
import time

from integration_conftest import ANSIBLE_PLAYBOOK, BASE, MOD, PVESIM, TEMPLATE, TOP

RUNS = 4
PER_RUN = 3


def test_parallel_playbooks_allocate_distinct_vmids(fresh_node):
    node = fresh_node
    procs = []
    for run in range(RUNS):
        play = os.path.join(node.work, "play%d.yml" % run)
        tasks = [
            {
                "cageforge.nexcage.nexcage_container": {
                    "hostname": "par%d-{{ item }}" % run,
                    "image": TEMPLATE,
                    "ostype": "unmanaged",
                    "rootfs": {"storage": "local-zfs", "size": 1},
                },
                "loop": list(range(PER_RUN)),
            }
        ]
        with open(play, "w", encoding="utf-8") as f:
            json.dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}], f)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(TOP, "build", "collections"))
        env["ANSIBLE_CONFIG"] = os.path.join(TOP, "ansible.cfg")
        argv = [PVESIM, "run", "--root", node.root, "--", ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local"]
        argv += ["-e", "ansible_python_interpreter=%s" % sys.executable, play]
        procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env))
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    for proc, out in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out
        assert "Traceback" not in out
    vmlist = json.loads(node.read("/etc/pve/.vmlist"))["ids"]
    assert len(vmlist) == RUNS * PER_RUN, vmlist
    hostnames = {}
    for vmid in vmlist:
        conf = node.conf(vmid)
        assert conf is not None, vmid
        name = [line.split(": ", 1)[1] for line in conf.splitlines() if line.startswith("hostname: ")][0]
        hostnames[name] = int(vmid)
    expected = {"par%d-%d" % (r, i) for r in range(RUNS) for i in range(PER_RUN)}
    assert set(hostnames) == expected
    assert sorted(hostnames.values()) == list(range(100, 100 + RUNS * PER_RUN))
    # every create succeeded first time: the reservations kept them apart, nobody hit "already exists"
    creates = [c for c in node.calls() if c["argv"][:2] == ["pct", "create"]]
    assert len(creates) == RUNS * PER_RUN and all(c["rc"] == 0 for c in creates)


HANG = 20  # seconds the first pct create waits before it writes anything (the window a reservation covers)


def _wait_for(node, path):
    """Until the node has path (a task got that far); fails after two minutes."""
    for _attempt in range(1200):
        if node.exists(path):
            return
        time.sleep(0.1)
    raise AssertionError("%s never appeared on the node" % path)


def _creates(node):
    """{vmid: call} of the node's pct create calls."""
    return {int(c["argv"][2]): c for c in node.calls() if c["argv"][:2] == ["pct", "create"]}


def _did_not_wait_for(first, other):
    """other began before first ended (the call log's start and duration): it did not queue behind first.
    (On a loaded machine other may even end before first's process gets going, so no stricter overlap.)"""
    return other["start"] < first["start"] + first["duration"]


def test_a_second_allocating_create_runs_while_the_first_one_does(fresh_node):
    node = fresh_node
    node.fault("pct create 100 *", hang=HANG)
    results = []
    first = threading.Thread(target=lambda: results.append(node.run_task(MOD, dict(BASE, hostname="ovl-a"))))
    first.start()
    try:
        _wait_for(node, "/run/nexcage/vmid-reserved/100")  # the first task holds 100, its create hangs
        second = node.run_task(MOD, dict(BASE, hostname="ovl-b"))
    finally:
        first.join()
    assert not second.get("failed") and second["vmid"] == 101, second.get("msg")
    assert not results[0].get("failed") and results[0]["vmid"] == 100, results[0].get("msg")
    creates = _creates(node)
    assert sorted(creates) == [100, 101] and all(c["rc"] == 0 for c in creates.values())
    assert _did_not_wait_for(creates[100], creates[101]), creates
    assert os.listdir(node.path("/run/nexcage/vmid-reserved")) == []


def test_batch_entries_take_vmids_in_list_order_and_create_in_parallel(fresh_node):
    node = fresh_node
    node.fault("pct create 100 *", hang=HANG)
    names = ["par-a", "par-b", "par-c"]
    args = {"defaults": BASE, "containers": [{"hostname": name} for name in names], "parallel": 3}
    result = node.run_task("nexcage_containers", args)
    assert not result.get("failed"), result.get("msg")
    assert [entry["vmid"] for entry in result["containers"]] == [100, 101, 102]
    creates = _creates(node)
    assert _did_not_wait_for(creates[100], creates[101]) and _did_not_wait_for(creates[100], creates[102]), creates
    assert os.listdir(node.path("/run/nexcage/vmid-reserved")) == []
