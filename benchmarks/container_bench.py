"""Benchmark of nexcage_container on a simulated node.

For each scenario it runs one task (the module as Ansible runs it, inside `pvesim run`), then
reads the node's call log (`pvesim calls --json`) and prints the simulated-tool calls the task
made and its wall time. PVESIM_LATENCY_MS (default 400 here) makes every PVE tool sleep that
long before it starts, to stand in for Perl start-up on a real node.

Usage: .venv/bin/python benchmarks/container_bench.py [--latency-ms 400] [--markdown]
Scenarios that start containers need LXC (real containers); without it they are skipped.
"""

import argparse
import os
import shutil
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
sys.path.insert(0, os.path.join(TOP, "build", "collections"))

from conftest import TEMPLATE, lxc_available, make_node  # noqa: E402

MOD = "nexcage_container"


def scenarios(vmid, lxc):
    base = {"vmid": vmid, "image": TEMPLATE, "ostype": "unmanaged", "rootfs": {"storage": "local-zfs", "size": 1}}
    rows = [
        ("create (state: present)", dict(base, hostname="bench01", memory=256), False),
        ("converged present", dict(base, hostname="bench01", memory=256), False),
        ("converged present, check mode", dict(base, hostname="bench01", memory=256), True),
        ("update 3 options (one pct set)", dict(base, hostname="bench01", memory=512, cores=1, tags=["b"]), False),
        ("converged after update", dict(base, hostname="bench01", memory=512, cores=1, tags=["b"]), False),
        ("find by hostname, converged", {"hostname": "bench01", "memory": 512}, False),
    ]
    if lxc:
        rows += [
            ("start (state: started)", dict(base, state="started"), False),
            ("converged started", dict(base, state="started"), False),
            ("stop (stop_mode: stop)", dict(base, state="stopped", stop_mode="stop"), False),
            ("converged stopped", dict(base, state="stopped"), False),
        ]
    rows.append(("destroy (state: absent)", {"vmid": vmid, "state": "absent", "force": True}, False))
    rows.append(("converged absent", {"vmid": vmid, "state": "absent"}, False))
    if lxc:
        rows.append(("create + start from nothing", dict(base, vmid=vmid + 1, state="started"), False))
        rows.append(("converged started (new CT)", dict(base, vmid=vmid + 1, state="started"), False))
        rows.append(("destroy running (force)", {"vmid": vmid + 1, "state": "absent", "force": True}, False))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--latency-ms", type=int, default=400)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    lxc = lxc_available()
    base_dir = tempfile.mkdtemp(prefix="nexcage-bench-")
    vmid = 100000 + (os.getpid() * 37) % 800000
    try:
        node = make_node(base_dir)
        rows = scenarios(vmid, lxc)
        results = node.run_tasks(
            MOD,
            [(a, check, False) for _name, a, check in rows],
            env={"PVESIM_LATENCY_MS": str(args.latency_ms)},
            timeout=1800,
        )
        calls_log = node.calls()
    finally:
        # never leave a real container running
        if lxc:
            for v in (vmid, vmid + 1):
                node.sh("pct", "destroy", v, "--force", "1", timeout=120)
        shutil.rmtree(base_dir, ignore_errors=True)
    out = []
    if args.markdown:
        out.append("| scenario | changed | # calls | simulated-tool calls | wall time (s) |")
        out.append("| --- | --- | --- | --- | --- |")
    for (name, _a, check), res in zip(rows, results, strict=True):
        calls = [" ".join(c["argv"][:2]) for c in res["_calls"]]
        failed = " FAILED: %s" % res.get("msg") if res.get("failed") else ""
        label = name + (" [check]" if check else "")
        if args.markdown:
            shown = ", ".join("`%s`" % c for c in calls) or "none"
            out.append(
                "| %s%s | %s | %d | %s | %.3f |"
                % (label, failed, res.get("changed"), len(calls), shown, res["_elapsed"])
            )
        else:
            out.append(
                "%-40s changed=%-5s calls=%d %-40s %7.3fs%s"
                % (label, res.get("changed"), len(calls), ",".join(calls), res["_elapsed"], failed)
            )
    print("\n".join(out))
    print(
        "\nPVESIM_LATENCY_MS=%d; %d simulated-tool calls in total; LXC %s"
        % (args.latency_ms, len(calls_log), "used" if lxc else "not available (start scenarios skipped)")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
