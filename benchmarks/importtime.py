"""What a converged nexcage task costs in imports, measured the way Ansible runs it.

Ansible does not run the module file: the controller builds an AnsiballZ payload (the module and
every module_util it can import, found by parsing each one, once per playbook run) and the target
runs it from that zip, where Python has no byte-code cache: every module_util the task imports is
compiled from source on every run.

This script makes a fresh simulated node, creates one template container, then runs one converged
task through ansible-playbook with ANSIBLE_KEEP_REMOTE_FILES=1 and keeps its AnsiballZ payload. It
reports what the payload ships (the collection's module_utils, their source size and syntax-tree
nodes: the controller's parsing work) and, from `python -X importtime` runs of that payload on the
node (medians of --runs), the import self-times with the node's byte-code cache (_node/bytecode.py)
and without it (compilation included), which of the shipped module_utils the converged task
imports, and whether it imports the OCI chain or jsonschema (a converged template task must import
neither).

Usage: .venv/bin/python benchmarks/importtime.py [--module nexcage_container] [--runs 5] [--top 15] [--json]
"""

import argparse
import ast
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

from conftest import TEMPLATE, make_node  # noqa: E402

COLLECTION_PREFIX = "ansible_collections.cageforge.nexcage"
BYTECODE_DIR = "/var/lib/nexcage/bytecode"  # _node/paths.py BYTECODE_DIR, on the simulated node
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
    "nexcage_container_info": lambda vmid: {"vmid": vmid},
}
# The module the action plugin runs for these (template) tasks: its payload is the one measured.
RUNS_AS = {"nexcage_container": "nexcage_container_core", "nexcage_containers": "nexcage_containers_core"}


def parse_importtime(stderr):
    """[(module, self_us, cumulative_us)] from `-X importtime` output."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        head, cumulative, name = line.split("|", 2)
        rows.append((name.strip(), int(head.split(":", 1)[1]), int(cumulative)))
    return rows


def keep_payload(node, module, args, work):
    """The AnsiballZ file of one run of the task through ansible-playbook (ANSIBLE_KEEP_REMOTE_FILES)."""
    keep = os.path.join(work, "remote-tmp")
    play = os.path.join(work, "play.json")
    with open(play, "w", encoding="utf-8") as handle:
        json.dump(
            [{"hosts": "localhost", "gather_facts": False, "tasks": [{"cageforge.nexcage." + module: args}]}], handle
        )
    env = {"ANSIBLE_KEEP_REMOTE_FILES": "1", "ANSIBLE_REMOTE_TMP": keep}
    proc = node.run_playbook(play, env=env)
    found = glob.glob(os.path.join(keep, "*", "AnsiballZ_%s.py" % RUNS_AS.get(module, module)))
    if proc.returncode != 0 or not found:
        raise RuntimeError("ansible-playbook failed or kept no payload:\n%s\n%s" % (proc.stdout[-2000:], proc.stderr))
    return found[0]


def shipped(payload):
    """{module name: (source bytes, syntax-tree nodes)} of the collection's files in the payload."""
    work = tempfile.mkdtemp(prefix="nexcage-payload-")
    try:
        copy = shutil.copy(payload, work)
        subprocess.run([sys.executable, copy, "explode"], cwd=work, capture_output=True, check=True)
        root = os.path.join(work, "debug_dir")
        out = {}
        for path in glob.glob(os.path.join(root, "ansible_collections", "**", "*.py"), recursive=True):
            name = os.path.relpath(path, root)[: -len(".py")].replace(os.sep, ".")
            name = name[: -len(".__init__")] if name.endswith(".__init__") else name
            with open(path, "rb") as handle:
                source = handle.read()
            out[name] = (len(source), sum(1 for _node in ast.walk(ast.parse(source))))
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(node, payload, runs):
    """[(rows, total_us, ours_us)] of `python -X importtime payload` runs on the node."""
    seen = []
    for _run in range(runs):
        proc = node.sh(sys.executable, "-X", "importtime", payload, env=node._env({}))
        result = json.loads(proc.stdout[proc.stdout.index("{") :])
        if result.get("failed") or result.get("changed"):
            raise RuntimeError("the task is not converged: %s" % (result.get("msg") or result))
        rows = parse_importtime(proc.stderr)
        ours = sum(s for n, s, _c in rows if n.startswith(COLLECTION_PREFIX))
        seen.append((rows, sum(s for _n, s, _c in rows), ours))
    return seen


def measure_cold(node, payload, runs):
    """measure() with the node's byte-code cache removed before each run (_node/bytecode.py): the first
    run of a nexcage version on a node."""
    seen = []
    for _run in range(runs):
        shutil.rmtree(node.path(BYTECODE_DIR), ignore_errors=True)
        seen += measure(node, payload, 1)
    return seen


def payload_build_ms(module, runs):
    """CPU ms the controller spends finding and parsing what a payload ships (Ansible's recursive_finder,
    which a playbook run does once per module), best of runs: {build_ms: the module the task runs, as
    Ansible builds it; nogc_build_ms: the same without garbage collections, as nexcage's action plugins
    build it; full_build_ms: the full module, which a task with OCI needs runs; ping_build_ms:
    ansible.builtin.ping}. Uses ansible-core's internals (2.19): a benchmark of the dev environment."""
    import datetime
    import gc
    import io
    import time
    import zipfile

    from ansible._internal._ansiballz import _builder
    from ansible._internal._datatag import _tags
    from ansible.executor import module_common
    from ansible.modules import ping
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    _AnsibleCollectionFinder(paths=[os.path.join(TOP, "build", "collections")])._install()
    plugins = os.path.join(TOP, "build", "collections", "ansible_collections", "cageforge", "nexcage", "plugins")

    def best(path, collector=True):
        with open(path, "rb") as handle:
            source = _tags.Origin(path=path).tag(handle.read())
        fqn = module_common._get_ansible_module_fqn(path)
        name = os.path.basename(path)[: -len(".py")]
        times = []
        for _run in range(runs):
            gc.collect()
            if not collector:
                gc.disable()
            started = time.process_time()
            with zipfile.ZipFile(io.BytesIO(), "w", compression=zipfile.ZIP_DEFLATED) as payload:
                extensions = _builder.ExtensionManager.create(task_vars={})
                module_common.recursive_finder(name, fqn, source, payload, datetime.datetime.now(), extensions)
            times.append(time.process_time() - started)
            gc.enable()
        return min(times) * 1000.0

    runs_as = os.path.join(plugins, "modules", RUNS_AS.get(module, module) + ".py")
    return {
        "build_ms": best(runs_as),
        "nogc_build_ms": best(runs_as, collector=False),
        "full_build_ms": best(os.path.join(plugins, "modules", module + ".py")),
        "ping_build_ms": best(ping.__file__),
    }


def summary(module, payload, ships, seen, cold):
    rows = sorted(seen, key=lambda run: run[1])[len(seen) // 2][0]  # the median run by total
    imported = sorted({n for n, _s, _c in rows if n.startswith(COLLECTION_PREFIX)})
    return {
        "module": module,
        "payload_bytes": os.path.getsize(payload),
        "shipped": len(ships),
        "shipped_bytes": sum(b for b, _n in ships.values()),
        "shipped_nodes": sum(n for _b, n in ships.values()),
        "imported": len([n for n in imported if n in ships]),
        "imported_bytes": sum(ships[n][0] for n in imported if n in ships),
        "total_ms": statistics.median(t for _r, t, _o in seen) / 1000.0,
        "ours_ms": statistics.median(o for _r, _t, o in seen) / 1000.0,
        "cold_total_ms": statistics.median(t for _r, t, _o in cold) / 1000.0,
        "cold_ours_ms": statistics.median(o for _r, _t, o in cold) / 1000.0,
        "heavy": sorted({n for n, _s, _c in rows if n.startswith(HEAVY)}),
        "rows": rows,
        "runs": len(seen),
    }


def report(data, top):
    short = len(COLLECTION_PREFIX) + 1
    rows = data["rows"]
    lines = [
        "%s, converged, as Ansible runs it (median of %d runs):" % (data["module"], data["runs"]),
        "  payload: %d bytes; the collection's files in it: %d, %d bytes of source, %d syntax-tree nodes"
        % (data["payload_bytes"], data["shipped"], data["shipped_bytes"], data["shipped_nodes"]),
        "  imported by the converged task: %d of them, %d bytes of source" % (data["imported"], data["imported_bytes"]),
        "  all imports: %.1f ms (sum of self times), the collection's %.1f ms, with the node's byte-code cache"
        % (data["total_ms"], data["ours_ms"]),
        "  without it (the first run of this version on a node: every module_util compiled): %.1f ms, the"
        " collection's %.1f ms" % (data["cold_total_ms"], data["cold_ours_ms"]),
        "  the controller's payload build (finding and parsing what it ships, once per playbook run):"
        " %.0f ms CPU (%.0f ms without garbage collections, as nexcage's action plugins build it; the full"
        " module %s: %.0f ms), ansible.builtin.ping's %.0f ms"
        % (data["build_ms"], data["nogc_build_ms"], data["module"], data["full_build_ms"], data["ping_build_ms"]),
        "  OCI chain / jsonschema imported: %s" % (", ".join(data["heavy"]) or "none"),
        "  the collection's imports (self ms, with the cache):",
    ]
    ours = [(n, s) for n, s, _c in rows if n.startswith(COLLECTION_PREFIX)]
    for name, self_us in sorted(ours, key=lambda row: -row[1])[:top]:
        lines.append("    %7.1f  %s" % (self_us / 1000.0, name[short:]))
    lines.append("  heaviest top-level imports outside the collection (cumulative ms):")
    outside = [(n, c) for n, _s, c in rows if "." not in n and not n.startswith("ansible_collections")]
    for name, cumulative in sorted(outside, key=lambda row: -row[1])[:top]:
        lines.append("    %7.1f  %s" % (cumulative / 1000.0, name))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--module", default="nexcage_container", choices=sorted(CONVERGED_ARGS))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead")
    options = parser.parse_args()
    base_dir = tempfile.mkdtemp(prefix="nexcage-imports-")
    try:
        node = make_node(base_dir)
        setup = node.run_task("nexcage_container", CONVERGED_ARGS["nexcage_container"](100))
        if setup.get("failed"):
            print("setup failed: %s" % setup.get("msg"))
            return 1
        payload = keep_payload(node, options.module, CONVERGED_ARGS[options.module](100), node.work)
        cold = measure_cold(node, payload, options.runs)
        warm = measure(node, payload, options.runs)
        data = summary(options.module, payload, shipped(payload), warm, cold)
        data.update(payload_build_ms(options.module, options.runs))
        data["runs_as"] = RUNS_AS.get(options.module, options.module)
    finally:
        shutil.rmtree(base_dir, ignore_errors=True)
    if options.json:
        print(json.dumps({key: value for key, value in data.items() if key != "rows"}))
    else:
        print(report(data, options.top))
    return 1 if data["heavy"] else 0


if __name__ == "__main__":
    sys.exit(main())
