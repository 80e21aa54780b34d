"""Benchmark of the pct connection plugin: a 20-task play inside one container vs on the host.

Makes a simulated node (`pvesim init`) with a running container from the Debian 12 test template,
then runs the SAME 20-task play (command, copy, file, stat, template, lineinfile, ...):
- inside the container through `cageforge.nexcage.pct` (nexcage_node_host: localhost), with and
  without pipelining;
- on the host through `ansible.builtin.local`,
each with `ansible-playbook` inside `pvesim run`, and reports the wall time, the per-task
overhead over `local` and the ratio. PVESIM_LATENCY_MS (here --latency-ms, list) makes every
simulated PVE tool sleep that long first, standing in for Perl start-up of `pct` on a real node.

Usage: .venv/bin/python benchmarks/pct_connection_bench.py [--runs 2] [--latency-ms 0,200] [--markdown]
Needs LXC, root and the Debian template (make setup builds it).
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

from conftest import ANSIBLE_PLAYBOOK, lxc_available, make_node  # noqa: E402

DEBIAN = "local:vztmpl/debian-12-nexcage_12_amd64.tar.zst"
DEBIAN_FILE = os.path.join(TOP, "build", "templates", "debian-12-nexcage_12_amd64.tar.zst")


def play(dest):
    """20 ordinary tasks, all writing under `dest`."""
    tasks = [
        {"ansible.builtin.file": {"path": dest, "state": "directory", "mode": "0755"}},
        {"ansible.builtin.command": "uname -r", "changed_when": False},
        {"ansible.builtin.copy": {"dest": dest + "/a.txt", "content": "alpha\n", "mode": "0644"}},
        {"ansible.builtin.copy": {"dest": dest + "/b.txt", "content": "beta\n", "mode": "0644"}},
        {"ansible.builtin.stat": {"path": dest + "/a.txt"}},
        {"ansible.builtin.lineinfile": {"path": dest + "/a.txt", "line": "gamma"}},
        {"ansible.builtin.template": {"src": "t.j2", "dest": dest + "/t.conf", "mode": "0644"}},
        {"ansible.builtin.file": {"path": dest + "/sub", "state": "directory", "mode": "0700"}},
        {"ansible.builtin.file": {"path": dest + "/sub/x", "state": "touch", "mode": "0600"}},
        {"ansible.builtin.shell": "ls {{ bench_dir }} | wc -l", "changed_when": False},
        {"ansible.builtin.slurp": {"src": dest + "/b.txt"}},
        {"ansible.builtin.replace": {"path": dest + "/b.txt", "regexp": "beta", "replace": "BETA"}},
        {"ansible.builtin.blockinfile": {"path": dest + "/t.conf", "block": "k=v"}},
        {"ansible.builtin.find": {"paths": dest}},
        {"ansible.builtin.command": "cat {{ bench_dir }}/a.txt", "changed_when": False},
        {"ansible.builtin.copy": {"dest": dest + "/c.txt", "content": "{{ range(100) | list }}", "mode": "0644"}},
        {"ansible.builtin.stat": {"path": dest + "/c.txt", "checksum_algorithm": "sha256"}},
        {"ansible.builtin.file": {"path": dest + "/c.txt", "state": "absent"}},
        {"ansible.builtin.getent": {"database": "passwd", "key": "root"}},
        {"ansible.builtin.file": {"path": dest, "state": "absent"}},
    ]
    assert len(tasks) == 20
    return [{"hosts": "target", "gather_facts": False, "tasks": tasks}]


def run(node, work, inventory, latency):
    env = node._env({"PVESIM_LATENCY_MS": str(latency), "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.minimal"})
    started = time.monotonic()
    proc = node.sh(ANSIBLE_PLAYBOOK, "-i", inventory, os.path.join(work, "play.yml"), env=env, timeout=900)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit("play failed:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--latency-ms", default="0,200", help="comma-separated PVESIM_LATENCY_MS values")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if not lxc_available() or not os.path.isfile(DEBIAN_FILE):
        raise SystemExit("needs LXC, root and the Debian template (make setup / scripts/build-debian-template.sh)")
    base = tempfile.mkdtemp(prefix="nexcage-pctbench-")
    node = make_node(base)
    vmid = 100000 + (os.getpid() * 41) % 800000
    work = os.path.join(base, "work")
    os.makedirs(work)
    try:
        for argv in (
            ["pct", "create", vmid, DEBIAN, "--rootfs", "local-zfs:1", "--hostname", "bench-ct"],
            ["pct", "start", vmid],
        ):
            proc = node.sh(*argv, timeout=300)
            if proc.returncode != 0:
                raise SystemExit(proc.stdout + proc.stderr)
        with open(os.path.join(work, "t.j2"), "w", encoding="utf-8") as handle:
            handle.write("name={{ inventory_hostname }}\n")
        with open(os.path.join(work, "play.yml"), "w", encoding="utf-8") as handle:
            json.dump(play("{{ bench_dir }}"), handle)
        inventories = {}
        for label, host_vars in (
            ("pct, pipelining", {"ansible_connection": "cageforge.nexcage.pct", "nexcage_vmid": vmid,
                                 "ansible_pipelining": True, "bench_dir": "/root/bench"}),
            ("pct, no pipelining", {"ansible_connection": "cageforge.nexcage.pct", "nexcage_vmid": vmid,
                                    "ansible_pipelining": False, "bench_dir": "/root/bench"}),
            ("local (host)", {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                              "ansible_pipelining": True, "bench_dir": os.path.join(base, "local-bench")}),
        ):  # fmt: skip
            path = os.path.join(work, "inv-%d.json" % len(inventories))
            with open(path, "w", encoding="utf-8") as handle:
                json.dump({"all": {"hosts": {"target": host_vars}}}, handle)
            inventories[label] = path
        rows = []
        for latency in [int(value) for value in args.latency_ms.split(",")]:
            times = {
                label: [run(node, work, path, latency) for _round in range(args.runs)]
                for label, path in inventories.items()
            }
            local = statistics.median(times["local (host)"])
            for label, values in times.items():
                median = statistics.median(values)
                rows.append((latency, label, median, (median - local) / 20, median / local))
        header = ("PVESIM_LATENCY_MS", "connection", "20 tasks, median (s)", "overhead per task (s)", "ratio to local")
        if args.markdown:
            print("| " + " | ".join(header) + " |")
            print("|" + " --- |" * len(header))
            for row in rows:
                print("| %d | %s | %.2f | %.3f | %.2f |" % row)
        else:
            for row in rows:
                print("latency %4d ms  %-20s %7.2f s  %+.3f s/task  x%.2f" % row)
    finally:
        node.sh("pct", "stop", vmid, timeout=60)
        node.sh("pct", "destroy", vmid, "--force", "1", timeout=120)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
