"""`make bench`: every speed comparison of nexcage side by side, interleaved, medians; writes RESULTS.md.

All on one simulated node (`pvesim init`, real LXC when available), PVESIM_LATENCY_MS=400 (every
simulated PVE tool sleeps that long first, standing in for a Perl start-up on a real node):

A. one task, as ansible-playbook runs it: a converged nexcage_container vs ansible.builtin.ping vs
   `command: pct config`; a converged nexcage_zfs_dataset vs community.general.zfs (when that
   collection is installed in build/bench-collections); a no-op nexcage_bundle. Each playbook holds
   the task 3 times; a task's cost is (playbook - empty playbook) / 3, wall and CPU (the process tree).
B. 200 converged containers in one nexcage_containers task vs one ping task.
C. 20 creates + starts in one nexcage_containers task, parallel 1 vs 4 (the module's own time).
D. the container role for 20 converged containers vs a plain loop over nexcage_container.
E. nexcage_bundle from a directory vs `cp -a`, from a one-layer OCI layout vs `tar xzf` of the layer
   (the bundle manager's own time in this process, wall and CPU incl. children).

Usage: .venv/bin/python benchmarks/bench.py [--reps 5] [--big-reps 3] [--quick] [--out benchmarks/RESULTS.md]
       [--sections ABCDE] [--only TEXT]   (e.g. --sections AE --only bundle: the bundle rows alone)
"""

import argparse
import datetime
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
sys.path.insert(0, os.path.join(TOP, "tests", "fixtures", "oci"))
sys.path.insert(0, os.path.join(TOP, "build", "collections"))

from conftest import ANSIBLE_PLAYBOOK, PVESIM, TEMPLATE, lxc_available, make_node  # noqa: E402

LATENCY = "400"
PERL_TOOLS = {"pct", "pvesm", "pveam", "pvesh", "qm", "pvecm"}
BENCH_COLLECTIONS = os.path.join(TOP, "build", "bench-collections")
COLLECTIONS = os.path.join(TOP, "build", "collections")
COPIES = 3
OPTIONS = {"image": TEMPLATE, "ostype": "unmanaged", "rootfs": {"storage": "local-zfs", "size": 1}}
ZFS_PROPS = {"quota": "1G", "compression": "lz4", "atime": "off"}


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def med(values):
    return statistics.median(values) if values else float("nan")


class Bench:
    def __init__(self, options):
        self.options = options
        self.base = tempfile.mkdtemp(prefix="nexcage-bench-")
        self.node = make_node(self.base)
        self.work = os.path.join(self.base, "work")
        os.makedirs(self.work)
        self.rows = []  # (section, name, wall, cpu, calls, note)
        self.notes = []
        self.loads = [os.getloadavg()]
        self.has_cg = os.path.isdir(os.path.join(BENCH_COLLECTIONS, "ansible_collections", "community", "general"))

    # ------------------------------------------------------------------ helpers

    def playbook(self, name, tasks, roles=None):
        path = os.path.join(self.work, name + ".yml")
        play = {"hosts": "localhost", "gather_facts": False, "tasks": tasks}
        if roles:
            play["roles"] = roles
        with open(path, "w", encoding="utf-8") as handle:
            json.dump([play], handle)
        return path

    def run_playbook(self, path):
        """(wall s, cpu s of the process tree, Perl calls) of one ansible-playbook run under the node."""
        env = dict(os.environ, PVESIM_LATENCY_MS=LATENCY, ANSIBLE_CONFIG=os.path.join(TOP, "ansible.cfg"))
        env["ANSIBLE_COLLECTIONS_PATH"] = COLLECTIONS + (":" + BENCH_COLLECTIONS if self.has_cg else "")
        argv = [PVESIM, "run", "--root", self.node.root, "--", ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local"]
        argv += ["-e", "ansible_python_interpreter=%s" % sys.executable, path]
        self.node.clear_calls()
        cpu = children_cpu()
        started = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        wall = time.perf_counter() - started
        cpu = children_cpu() - cpu
        if proc.returncode != 0:
            raise RuntimeError("%s failed:\n%s\n%s" % (path, proc.stdout[-3000:], proc.stderr[-2000:]))
        calls = [c for c in self.node.calls() if c["argv"][0] in PERL_TOOLS]
        return wall, cpu, len(calls)

    def interleaved(self, playbooks, reps):
        """{name: [(wall, cpu, calls)]}: the playbooks run round-robin, reps times."""
        seen = {name: [] for name in playbooks}
        for _rep in range(reps):
            for name, path in playbooks.items():
                seen[name].append(self.run_playbook(path))
        return seen

    def task(self, name, args, env=None, timeout=3600):
        result = self.node.run_task(name, args, env=env, timeout=timeout)
        if result.get("failed"):
            raise RuntimeError("%s failed: %s" % (name, result.get("msg")))
        return result

    def add(self, section, name, wall, cpu, calls, note=""):
        self.rows.append((section, name, wall, cpu, calls, note))

    # ------------------------------------------------------------------ A: one task

    def wanted_a(self, name):
        """Whether A measures the row name (--only; the empty playbook and ping are always measured)."""
        only = self.options.only
        return not only or only in name or name in ("empty playbook", "ansible.builtin.ping")

    def section_a(self):
        reps = self.options.reps
        if self.wanted_a("nexcage_container (converged)") or self.wanted_a("command: pct config"):
            self.task("nexcage_container", dict(OPTIONS, vmid=100, hostname="bench-one", memory=256))
        if self.wanted_a("nexcage_zfs_dataset (converged, 3 properties)"):
            self.task("nexcage_zfs_dataset", {"name": "rpool/data/bench-nx", "properties": ZFS_PROPS})
        bundle = {"path": os.path.join(self.work, "bundles", "noop"), "args": ["/bin/sh"]}
        bundle["bundle_roots"] = [os.path.join(self.work, "bundles")]
        if self.wanted_a("nexcage_bundle (no-op re-run)"):
            bundle["source"] = self.small_tree()
            self.task("nexcage_bundle", bundle)
        converged = {"cageforge.nexcage.nexcage_container": dict(OPTIONS, vmid=100, hostname="bench-one", memory=256)}
        tasks = {
            "empty playbook": [],
            "ansible.builtin.ping": [{"ansible.builtin.ping": {}}],
            "nexcage_container (converged)": [converged],
            "command: pct config": [
                {"ansible.builtin.command": {"argv": ["pct", "config", "100"]}, "changed_when": False}
            ],
            "nexcage_zfs_dataset (converged, 3 properties)": [
                {"cageforge.nexcage.nexcage_zfs_dataset": {"name": "rpool/data/bench-nx", "properties": ZFS_PROPS}}
            ],
            "nexcage_bundle (no-op re-run)": [{"cageforge.nexcage.nexcage_bundle": bundle}],
        }
        if self.has_cg and self.wanted_a("community.general.zfs (converged, 3 properties)"):
            cg = {"name": "rpool/data/bench-cg", "state": "present", "extra_zfs_properties": ZFS_PROPS}
            try:
                self.run_playbook(self.playbook("cg-setup", [{"community.general.zfs": cg}]))
                tasks["community.general.zfs (converged, 3 properties)"] = [{"community.general.zfs": cg}]
            except RuntimeError as exc:
                reason = [line.strip() for line in str(exc).splitlines() if "cmd:" in line or "unrecognized" in line]
                self.notes.append(
                    "community.general.zfs (from build/bench-collections) fails on the simulated node (%s): "
                    "the community.general.zfs row is left out." % "; ".join(reason[:2])
                )
        elif not self.has_cg:
            self.notes.append(
                "community.general is not installed in build/bench-collections: "
                "the community.general.zfs row is left out."
            )
        tasks = {name: task for name, task in tasks.items() if self.wanted_a(name)}
        playbooks = {
            name: self.playbook("a-%d" % i, task * COPIES if task else [])
            for i, (name, task) in enumerate(tasks.items())
        }
        seen = self.interleaved(playbooks, reps)
        base_wall = med([w for w, _c, _n in seen["empty playbook"]])
        base_cpu = med([c for _w, c, _n in seen["empty playbook"]])
        self.add("A", "empty playbook (subtracted below)", base_wall, base_cpu, 0, "whole playbook")
        per_task = {}
        for name, runs in seen.items():
            if name == "empty playbook":
                continue
            wall = (med([w for w, _c, _n in runs]) - base_wall) / COPIES
            cpu = (med([c for _w, c, _n in runs]) - base_cpu) / COPIES
            calls = med([n for _w, _c, n in runs]) / COPIES
            per_task[name] = (wall, cpu)
            self.add("A", name, wall, cpu, calls, "per task")
        self.ratios_a = per_task

    def small_tree(self):
        """The source directory of the bundle rows: a copy of Python's standard library with a /bin/sh
        (the tests' rootfs builder, ocifix.make_sh_rootfs)."""
        import ocifix

        src = os.path.join(self.work, "tree")
        if not os.path.isdir(src):
            ocifix.make_sh_rootfs(src, copy_of=os.path.dirname(os.__file__))
        return src

    # ------------------------------------------------------------------ B: 200 converged in one task

    def section_b(self):
        count = self.options.batch
        entries = [{"vmid": 1000 + i, "hostname": "fleet%03d" % i} for i in range(count)]
        args = {"defaults": dict(OPTIONS, memory=128), "containers": entries, "parallel": 8}
        started = time.perf_counter()
        result = self.task("nexcage_containers", args)  # no latency: setup
        self.notes.append(
            "B setup: %d containers created in one nexcage_containers task (parallel 8, no latency) in %.0f s."
            % (result["totals"]["changed"], time.perf_counter() - started)
        )
        playbooks = {
            "empty playbook": self.playbook("b-empty", []),
            "ansible.builtin.ping": self.playbook("b-ping", [{"ansible.builtin.ping": {}}]),
            "nexcage_containers, %d converged" % count: self.playbook(
                "b-batch", [{"cageforge.nexcage.nexcage_containers": args}]
            ),
        }
        seen = self.interleaved(playbooks, self.options.big_reps)
        base_wall = med([w for w, _c, _n in seen["empty playbook"]])
        base_cpu = med([c for _w, c, _n in seen["empty playbook"]])
        self.ratios_b = {}
        for name, runs in seen.items():
            if name == "empty playbook":
                continue
            wall = med([w for w, _c, _n in runs]) - base_wall
            cpu = med([c for _w, c, _n in runs]) - base_cpu
            self.ratios_b[name] = (wall, cpu)
            self.add("B", name, wall, cpu, med([n for _w, _c, n in runs]), "per task")
        self.batch_args = args

    # ------------------------------------------------------------------ C: 20 creates + starts

    def section_c(self):
        lxc = lxc_available()
        state = "started" if lxc else "present"
        if not lxc:
            self.notes.append("C: no LXC here, so creates only (state: present), no starts.")
        entries = [{"vmid": 2000 + i, "hostname": "par%02d" % i} for i in range(20)]
        gone = {"defaults": {"state": "absent", "force": True}, "containers": entries, "parallel": 8}
        seen = {1: [], 4: []}
        try:
            for _rep in range(self.options.create_reps):
                for parallel in (1, 4):
                    args = {"defaults": dict(OPTIONS, state=state), "containers": entries, "parallel": parallel}
                    self.node.clear_calls()
                    result = self.task("nexcage_containers", args, env={"PVESIM_LATENCY_MS": LATENCY})
                    calls = [c for c in self.node.calls() if c["argv"][0] in PERL_TOOLS]
                    seen[parallel].append((result["_elapsed"], len(calls)))
                    self.task("nexcage_containers", gone)
        finally:
            self.node.run_task("nexcage_containers", gone)
        for parallel, runs in seen.items():
            self.add(
                "C",
                "20 creates%s, parallel %d" % (" + starts" if lxc else "", parallel),
                med([w for w, _n in runs]),
                None,
                med([n for _w, n in runs]),
                "the module's own time, %d runs" % len(runs),
            )
        self.ratio_c = med([w for w, _n in seen[4]]) / med([w for w, _n in seen[1]])

    # ------------------------------------------------------------------ D: role vs loop

    def section_d(self):
        options = {"rootfs": OPTIONS["rootfs"], "ostype": "unmanaged", "memory": 128}
        specs = [
            {"name": "fleet%03d" % i, "vmid": 1000 + i, "image": TEMPLATE, "state": "present", "options": options}
            for i in range(20)
        ]
        loop_task = {
            "cageforge.nexcage.nexcage_container": {
                "vmid": "{{ item.vmid }}",
                "hostname": "{{ item.name }}",
                "image": TEMPLATE,
                "ostype": "unmanaged",
                "memory": 128,
                "rootfs": OPTIONS["rootfs"],
            },
            "loop": specs,
        }
        playbooks = {
            "plain loop over nexcage_container (20)": self.playbook("d-loop", [loop_task]),
            "container role (20 specs, batch)": self.playbook(
                "d-role", [], roles=[{"role": "cageforge.nexcage.container", "vars": {"container_specs": specs}}]
            ),
        }
        seen = self.interleaved(playbooks, self.options.big_reps)
        self.ratios_d = {}
        for name, runs in seen.items():
            wall, cpu = med([w for w, _c, _n in runs]), med([c for _w, c, _n in runs])
            self.ratios_d[name] = (wall, cpu)
            self.add("D", name, wall, cpu, med([n for _w, _c, n in runs]), "whole playbook")

    # ------------------------------------------------------------------ E: bundles vs cp -a / tar x

    def section_e(self):
        scratch = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else self.work
        ework = tempfile.mkdtemp(prefix="nexcage-bench-e-", dir=scratch)
        try:
            self._section_e(ework, scratch)
        finally:
            shutil.rmtree(ework, ignore_errors=True)

    def _section_e(self, ework, scratch):
        import ocifix

        from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import bundle as oci_bundle
        from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import image as oci_image
        from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import Runner

        if scratch != self.work:
            self.notes.append(
                "E runs in %s (tmpfs): this machine's disk frees blocks with a discard per file, which makes"
                " every copy and removal there take minutes; both sides of each E ratio run on the same tmpfs."
                % scratch
            )
        src = self.options.tree or os.path.join(ework, "tree")
        if not self.options.tree:
            shutil.copytree(self.small_tree(), src, symlinks=True)
        entries = sum(len(d) + len(f) for _p, d, f in os.walk(src))
        layer_tar = os.path.join(ework, "layer.tar")
        ocifix.tar_directory(src, layer_tar)
        layout = os.path.join(ework, "layout")
        ocifix.make_oci_layout_from_tars(layout, [layer_tar], {"config": {"Cmd": ["/bin/sh"]}})
        os.unlink(layer_tar)
        blob = oci_image.read_image_layout(layout)["layers"][0]["path"]

        def timed(fn):
            cpu, child, started = self_cpu(), children_cpu(), time.perf_counter()
            fn()
            return time.perf_counter() - started, (self_cpu() - cpu) + (children_cpu() - child)

        def bundle(source, path):
            params = ocifix.bundle_params(source=source, args=["/bin/sh"])
            return lambda: oci_bundle.BundleManager(Runner(), params).present(path)

        dest = os.path.join(ework, "copy")
        rows = {
            name: []
            for name in (
                "cp -a",
                "bundle from the directory",
                "bundle no-op re-run (manager only)",
                "tar xzf of the layer",
                "bundle from the OCI layout",
            )
        }
        deadline = time.monotonic() + self.options.e_budget
        for rep in range(self.options.reps):
            if rep >= 3 and time.monotonic() > deadline:
                self.notes.append(
                    "E: %d runs instead of %d (time box of %d s)." % (rep, self.options.reps, self.options.e_budget)
                )
                break
            shutil.rmtree(dest, ignore_errors=True)
            rows["cp -a"].append(timed(lambda: subprocess.run(["cp", "-a", src, dest], check=True)))
            shutil.rmtree(dest, ignore_errors=True)
            path = os.path.join(ework, "bundles", "dir%d" % rep)
            rows["bundle from the directory"].append(timed(bundle(src, path)))
            rows["bundle no-op re-run (manager only)"].append(timed(bundle(src, path)))
            shutil.rmtree(path, ignore_errors=True)
            os.makedirs(dest)
            rows["tar xzf of the layer"].append(
                timed(lambda: subprocess.run(["tar", "xzf", blob, "-C", dest], check=True))
            )
            shutil.rmtree(dest, ignore_errors=True)
            path = os.path.join(ework, "bundles", "oci%d" % rep)
            rows["bundle from the OCI layout"].append(timed(bundle(layout, path)))
            shutil.rmtree(path, ignore_errors=True)
        self.ratios_e = {}
        for name, runs in rows.items():
            wall, cpu = med([w for w, _c in runs]), med([c for _w, c in runs])
            self.ratios_e[name] = (wall, cpu)
            self.add("E", name, wall, cpu, 0, "%d entries, %d runs" % (entries, len(runs)))

    # ------------------------------------------------------------------ report

    def report(self, final=True):
        self.loads.append(os.getloadavg())
        lines = [
            "# nexcage benchmarks",
            "",
            "Written by `make bench` (`benchmarks/bench.py`) on %s UTC, commit %s."
            % (datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), _commit()),
            "",
            "Machine: %d CPUs; load average (1, 5, 15 min) %s at the start, %s at the end. The machine is shared"
            " with other work, so the seconds move from run to run: read the ratios, and those only as"
            " approximate." % (os.cpu_count(), _load(self.loads[0]), _load(self.loads[-1])),
            "",
            "Simulated node (`pvesim`), `PVESIM_LATENCY_MS=%s` (every simulated PVE tool sleeps 400 ms first, as a"
            " Perl start-up on a real node). Medians of %d interleaved runs (%d for the 200-container and role rows,"
            ' %d for the create rows). CPU is that of the whole process tree. "Perl calls" are calls of pct, pvesm,'
            " pveam, pvesh, qm and pvecm in the node's call log."
            % (LATENCY, self.options.reps, self.options.big_reps, self.options.create_reps),
            "",
            "## Goals",
            "",
            "| goal | measured | |",
            "| --- | --- | --- |",
        ]
        lines += self.goal_lines()
        lines += [
            "",
            "## All rows",
            "",
            "| | what | wall (s) | CPU (s) | Perl calls | note |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for section, name, wall, cpu, calls, note in self.rows:
            lines.append(
                "| %s | %s | %.3f | %s | %s | %s |"
                % (section, name, wall, "-" if cpu is None else "%.3f" % cpu, _calls(calls), note)
            )
        if final:
            lines += ["", "## Imports of a converged task", ""] + self.import_lines()
        lines += ["", "## Notes", ""] + ["- " + note for note in self.notes]
        lines += [
            "- A: each playbook holds the task %d times; per task = (median playbook - median empty playbook) / %d."
            % (COPIES, COPIES),
            "- B: per task = median playbook - median empty playbook (one task).",
            "- Per-scenario call counts of nexcage_container (create, update, start, stop, destroy):"
            " `benchmarks/container_bench.py`.",
            "- E: the bundle manager runs in the benchmark's process (module start-up not included; that is row A's"
            " no-op bundle task); `cp -a` and `tar xzf` are timed as processes.",
        ]
        text = "\n".join(lines) + "\n"
        with open(self.options.out, "w", encoding="utf-8") as handle:
            handle.write(text)
        if final:
            print(text)

    def import_lines(self):
        """benchmarks/importtime.py's summary for nexcage_container and nexcage_containers."""
        out = [
            "| module | all imports (ms, self) | the collection's (ms, self) | OCI chain / jsonschema |",
            "| --- | --- | --- | --- |",
        ]
        for module in ("nexcage_container", "nexcage_containers"):
            proc = subprocess.run(
                [sys.executable, os.path.join(TOP, "benchmarks", "importtime.py"), "--module", module, "--json"],
                capture_output=True,
                text=True,
                check=False,
            )
            try:
                data = json.loads(proc.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                out.append("| %s | failed: %s | | |" % (module, (proc.stderr or proc.stdout)[-200:].replace("\n", " ")))
                continue
            heavy = ", ".join(data["heavy"]) or "none"
            out.append("| %s | %.0f | %.0f | %s |" % (module, data["total_ms"], data["ours_ms"], heavy))
        out.append("")
        out.append(
            "Ansible runs a module from its zipped payload without byte-code caches: every run compiles the"
            " collection's module_utils it imports. `python -X importtime` per module: `benchmarks/importtime.py`."
        )
        return out

    def goal_lines(self):
        out = []

        def ratio(a, b):
            return a / b if b else float("nan")

        if hasattr(self, "ratios_a") and "nexcage_container (converged)" in self.ratios_a:
            ping = self.ratios_a["ansible.builtin.ping"]
            nx = self.ratios_a["nexcage_container (converged)"]
            pct = self.ratios_a["command: pct config"]
            out.append(
                "| converged nexcage_container <= 1.15x a ping task | %.2fx wall, %.2fx CPU |"
                " vs `pct config`: %.2fx wall, %.2fx CPU |"
                % (ratio(nx[0], ping[0]), ratio(nx[1], ping[1]), ratio(nx[0], pct[0]), ratio(nx[1], pct[1]))
            )
        if hasattr(self, "ratios_a") and "nexcage_bundle (no-op re-run)" in self.ratios_a:
            ping = self.ratios_a["ansible.builtin.ping"]
            noop = self.ratios_a["nexcage_bundle (no-op re-run)"]
            out.append(
                "| no-op bundle re-run <= ping + 10%% | %.2fx wall, %.2fx CPU of a ping task | |"
                % (ratio(noop[0], ping[0]), ratio(noop[1], ping[1]))
            )
        if hasattr(self, "ratios_a") and "nexcage_zfs_dataset (converged, 3 properties)" in self.ratios_a:
            zfs = self.ratios_a["nexcage_zfs_dataset (converged, 3 properties)"]
            cg = self.ratios_a.get("community.general.zfs (converged, 3 properties)")
            if cg:
                out.append(
                    "| nexcage_zfs_dataset vs community.general.zfs | %.2fx wall, %.2fx CPU | |"
                    % (ratio(zfs[0], cg[0]), ratio(zfs[1], cg[1]))
                )
        if hasattr(self, "ratios_b"):
            ping = self.ratios_b["ansible.builtin.ping"]
            name = [n for n in self.ratios_b if n.startswith("nexcage_containers")][0]
            batch = self.ratios_b[name]
            out.append(
                "| %s within 2x a ping task | %.2fx wall, %.2fx CPU | |"
                % (name, ratio(batch[0], ping[0]), ratio(batch[1], ping[1]))
            )
        if hasattr(self, "ratio_c"):
            out.append(
                "| 20 creates+starts, parallel 4 close to 1/4 of serial | %.2f of the serial time | |" % self.ratio_c
            )
        if hasattr(self, "ratios_d"):
            role = self.ratios_d["container role (20 specs, batch)"]
            loop = self.ratios_d["plain loop over nexcage_container (20)"]
            out.append(
                "| container role (20) <= 1.1x a plain loop | %.2fx wall, %.2fx CPU | |"
                % (ratio(role[0], loop[0]), ratio(role[1], loop[1]))
            )
        if hasattr(self, "ratios_e"):
            e = self.ratios_e
            out.append(
                "| bundle from a directory <= 1.1x `cp -a` | %.2fx wall, %.2fx CPU | |"
                % (
                    ratio(e["bundle from the directory"][0], e["cp -a"][0]),
                    ratio(e["bundle from the directory"][1], e["cp -a"][1]),
                )
            )
            out.append(
                "| bundle from an OCI layout <= 1.2x `tar x` | %.2fx wall, %.2fx CPU | |"
                % (
                    ratio(e["bundle from the OCI layout"][0], e["tar xzf of the layer"][0]),
                    ratio(e["bundle from the OCI layout"][1], e["tar xzf of the layer"][1]),
                )
            )
        return out

    def close(self):
        shutil.rmtree(self.base, ignore_errors=True)


def _commit():
    proc = subprocess.run(
        ["git", "-C", TOP, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return proc.stdout.strip() or "?"


def _load(values):
    return ", ".join("%.2f" % v for v in values)


def _calls(calls):
    if calls is None:
        return "-"
    return "%g" % calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--big-reps", type=int, default=3, help="runs of the 200-container and role rows")
    parser.add_argument("--create-reps", type=int, default=1, help="runs of the 20-create rows")
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--e-budget", type=int, default=240, help="seconds after which E stops adding runs (>= 3)")
    parser.add_argument("--sections", default="ABCDE")
    parser.add_argument("--only", help="A: only the rows whose name holds this text (with the empty playbook and ping)")
    parser.add_argument("--tree", help="source directory for E (default: a copy of Python's standard library)")
    parser.add_argument("--quick", action="store_true", help="1 run each, 20-container batch (a smoke test)")
    parser.add_argument("--out", default=os.path.join(TOP, "benchmarks", "RESULTS.md"))
    options = parser.parse_args()
    if options.quick:
        options.reps = options.big_reps = options.create_reps = 1
        options.batch = 20
    bench = Bench(options)
    try:
        for section in options.sections:
            started = time.perf_counter()
            getattr(bench, "section_" + section.lower())()
            print("section %s: %.0f s" % (section, time.perf_counter() - started), file=sys.stderr, flush=True)
            bench.report(final=False)  # what is measured so far is kept if a later section is cut short
        bench.report()
    finally:
        bench.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
