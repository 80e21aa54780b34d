"""Benchmark of the cageforge.nexcage.containers inventory plugin on a simulated node.

Writes N container configs (default 200: varied tags, pools, ostypes, memory) into a fresh
simulated node, then times `ansible-inventory --list` under `pvesim run` (median of --runs):
with no container (the start-up of ansible-inventory and pvesim run, the floor), with N
containers read locally (`nodes: [localhost]`), read through the remote path (one `ssh node
python3 -` per node, through a stand-in ssh client that runs the command here, so SSH's own
connection time is not in it), and served from the inventory cache; then the inventory alone
(InventoryManager in-process: plugin loading and parse, without ansible-inventory's output).

Usage: .venv/bin/python benchmarks/inventory_bench.py [--containers 200] [--runs 5] [--markdown]
"""

import argparse
import os
import shutil
import stat
import statistics
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

from conftest import VENV_BIN, make_node  # noqa: E402

# The inventory alone (InventoryManager: plugin loading and parse), without ansible-inventory's output.
PARSE_ONLY = """
import sys, time
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader()
started = time.monotonic()
inventory = InventoryManager(loader=DataLoader(), sources=[sys.argv[1]])
print("%f %d" % (time.monotonic() - started, len(inventory.hosts)))
"""

FAKE_SSH = """#!/bin/sh
# Stands in for ssh: drops the options up to --, the destination, then runs the command line.
while [ "$1" != "--" ]; do shift; done
shift 2
exec sh -c "$*"
"""


def write_node(node, count):
    tags = ("web", "db", "cache", "edge")
    for index in range(count):
        vmid = 1000 + index
        lines = [
            "arch: amd64",
            "hostname: ct%04d" % index,
            "memory: %d" % (256 * (1 + index % 8)),
            "ostype: %s" % ("debian", "ubuntu", "alpine")[index % 3],
            "rootfs: local-zfs:subvol-%s-disk-0,size=8G" % vmid,
            "net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:%02X:%02X,ip=dhcp,type=veth" % (index // 256, index % 256),
            "tags: %s;%s" % (tags[index % 4], tags[(index + 1) % 4]),
            "unprivileged: 1",
        ]
        node.write("/etc/pve/lxc/%s.conf" % vmid, "\n".join(lines) + "\n")
    pools = ",".join(str(1000 + index) for index in range(0, count, 2))
    node.write("/etc/pve/user.cfg", "user:root@pam:1:0::::::\npool:prod::%s::\n" % pools)


def timed(node, source, runs, env=None):
    times = []
    for _round in range(runs):
        started = time.monotonic()
        proc = node.sh(os.path.join(VENV_BIN, "ansible-inventory"), "-i", source, "--list", env=node._env(env))
        times.append(time.monotonic() - started)
        if proc.returncode != 0:
            raise SystemExit("ansible-inventory failed: %s" % proc.stderr)
    return statistics.median(times), proc.stdout.count('"nexcage_vmid"')


def parse_only(node, source, runs, script):
    times = []
    for _round in range(runs):
        proc = node.sh(sys.executable, script, source, env=node._env(None))
        if proc.returncode != 0:
            raise SystemExit("InventoryManager failed: %s" % proc.stderr)
        seconds, hosts = proc.stdout.split()
        times.append(float(seconds))
    return statistics.median(times), int(hosts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--containers", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="nexcage-inv-bench-")
    try:
        empty = make_node(os.path.join(work, "empty"))
        node = make_node(os.path.join(work, "full"))
        write_node(node, args.containers)
        ssh = os.path.join(work, "fake-ssh")
        with open(ssh, "w", encoding="utf-8") as handle:
            handle.write(FAKE_SSH)
        os.chmod(ssh, os.stat(ssh).st_mode | stat.S_IXUSR)
        head = "plugin: cageforge.nexcage.containers\n"
        sources = {}
        for name, text in (
            ("local", ""),
            ("remote", "nodes: [pve-bench]\nssh_executable: %s\n" % ssh),
            ("cached", "cache: true\ncache_plugin: ansible.builtin.jsonfile\ncache_connection: %s/cache\n" % work),
        ):
            sources[name] = os.path.join(work, "%s.nexcage.yml" % name)
            with open(sources[name], "w", encoding="utf-8") as handle:
                handle.write(head + text)
        timed(node, sources["cached"], 1)  # fills the cache
        script = os.path.join(work, "parse_only.py")
        with open(script, "w", encoding="utf-8") as handle:
            handle.write(PARSE_ONLY)
        rows = [
            ("no container (floor: ansible-inventory + pvesim run)", timed(empty, sources["local"], args.runs)),
            ("%d containers, localhost" % args.containers, timed(node, sources["local"], args.runs)),
            ("%d containers, one ssh command (stand-in)" % args.containers, timed(node, sources["remote"], args.runs)),
            ("%d containers, from the cache" % args.containers, timed(node, sources["cached"], args.runs)),
        ]
        parsed = parse_only(node, sources["local"], args.runs, script)
        parsed_floor = parse_only(empty, sources["local"], args.runs, script)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    floor = rows[0][1][0]
    if args.markdown:
        print("| scenario | hosts | wall time (median) | above the floor |\n| --- | ---: | ---: | ---: |")
        for label, (seconds, hosts) in rows:
            print("| %s | %d | %.2f s | %+.2f s |" % (label, hosts, seconds, seconds - floor))
    else:
        for label, (seconds, hosts) in rows:
            print("%-60s %4d hosts %6.2f s  (%+.2f s)" % (label, hosts, seconds, seconds - floor))
    print(
        "\nThe inventory alone (InventoryManager in-process, no --list output): %.2f s for %d hosts, %.2f s for %d"
        % (parsed + parsed_floor)
    )


if __name__ == "__main__":
    main()
