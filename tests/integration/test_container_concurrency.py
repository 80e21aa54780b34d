"""Several ansible-playbook runs in parallel, each creating containers without a vmid, end with
every container created and no VMID clash (node-local VMID lock + retry)."""

import json
import os
import subprocess
import sys

from integration_conftest import ANSIBLE_PLAYBOOK, PVESIM, TEMPLATE, TOP

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
    # every create succeeded first time: the lock serialised them, nobody hit "already exists"
    creates = [c for c in node.calls() if c["argv"][:2] == ["pct", "create"]]
    assert len(creates) == RUNS * PER_RUN and all(c["rc"] == 0 for c in creates)
