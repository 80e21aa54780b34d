"""What a nexcage task imports: `python -X importtime` of one module run on a simulated node.

It makes a fresh simulated node, creates one template container, then runs the module once more
(converged: no tool call) under `python -X importtime`, exactly as Ansible runs a module file
(`python <module>.py <args.json>`). It prints the collection's own imports with their cumulative
times, the heaviest imports outside the collection, and whether the OCI chain or jsonschema was
imported (a converged template task must import neither).

Usage: .venv/bin/python benchmarks/importtime.py [--module nexcage_container] [--top 15]
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

from conftest import COLLECTIONS, MODULES, TEMPLATE, make_node  # noqa: E402

COLLECTION_PREFIX = "ansible_collections.cageforge.nexcage"
HEAVY = ("ansible_collections.cageforge.nexcage.plugins.module_utils._oci", "jsonschema")

CONVERGED_ARGS = {
    "nexcage_container": lambda vmid: {
        "vmid": vmid,
        "hostname": "imports01",
        "image": TEMPLATE,
        "ostype": "unmanaged",
        "memory": 256,
        "rootfs": {"storage": "local-zfs", "size": 1},
    },
    "nexcage_containers": lambda vmid: {
        "defaults": {"image": TEMPLATE, "ostype": "unmanaged", "rootfs": {"storage": "local-zfs", "size": 1}},
        "containers": [{"vmid": vmid, "hostname": "imports01", "memory": 256}],
    },
}


def parse_importtime(stderr):
    """[(module, self_us, cumulative_us)] from `-X importtime` output."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        head, cumulative, name = line.split("|", 2)
        rows.append((name.strip(), int(head.split(":", 1)[1]), int(cumulative)))
    return rows


def measure(node, module, args):
    """Run module once converged under -X importtime; return ([(name, self, cumulative)], result)."""
    argfile = os.path.join(node.work, "importtime-args.json")
    with open(argfile, "w", encoding="utf-8") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_tmpdir=node.work)}, handle)
    env = node._env({})
    proc = node.sh(sys.executable, "-X", "importtime", os.path.join(MODULES, module + ".py"), argfile, env=env)
    result = json.loads(proc.stdout[proc.stdout.index("{") :])
    return parse_importtime(proc.stderr), result


def report(rows, result, module, top):
    total = sum(self_us for _n, self_us, _c in rows)
    ours = [(n, s, c) for n, s, c in rows if n.startswith(COLLECTION_PREFIX)]
    ours_self = sum(s for _n, s, _c in ours)
    heavy = sorted({n for n, _s, _c in rows if n.startswith(HEAVY)})
    lines = [
        "%s, converged (changed=%s, commands=%s):" % (module, result.get("changed"), result.get("commands")),
        "  all imports: %.1f ms (sum of self times), %d modules" % (total / 1000.0, len(rows)),
        "  the collection's modules: %.1f ms self, %d modules" % (ours_self / 1000.0, len(ours)),
        "  OCI chain / jsonschema imported: %s" % (", ".join(heavy) if heavy else "none"),
        "  the collection's imports (cumulative ms):",
    ]
    for name, _s, cumulative in sorted(ours, key=lambda row: -row[2])[:top]:
        lines.append("    %7.1f  %s" % (cumulative / 1000.0, name[len(COLLECTION_PREFIX) + 1 :]))
    lines.append("  heaviest top-level imports outside the collection (cumulative ms):")
    outside = [(n, c) for n, _s, c in rows if "." not in n and not n.startswith("ansible_collections")]
    for name, cumulative in sorted(outside, key=lambda row: -row[1])[:top]:
        lines.append("    %7.1f  %s" % (cumulative / 1000.0, name))
    return "\n".join(lines), heavy, total, ours_self


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--module", default="nexcage_container", choices=sorted(CONVERGED_ARGS))
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead")
    options = parser.parse_args()
    base_dir = tempfile.mkdtemp(prefix="nexcage-imports-")
    try:
        node = make_node(base_dir)
        args = CONVERGED_ARGS[options.module](100)
        first = node.run_task(options.module, args)
        if first.get("failed"):
            print("setup failed: %s" % first.get("msg"))
            return 1
        rows, result = measure(node, options.module, args)
    finally:
        shutil.rmtree(base_dir, ignore_errors=True)
    text, heavy, total, ours = report(rows, result, options.module, options.top)
    if options.json:
        print(
            json.dumps({"module": options.module, "heavy": heavy, "total_ms": total / 1000.0, "ours_ms": ours / 1000.0})
        )
    else:
        print(text)
    return 1 if heavy else 0


if __name__ == "__main__":
    sys.path.insert(0, COLLECTIONS)
    sys.exit(main())
