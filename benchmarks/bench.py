"""`make bench`: every speed comparison of nexcage side by side, interleaved, medians; writes RESULTS.md.

All on one simulated node (`pvesim init`, real LXC when available), PVESIM_LATENCY_MS=400 (every
simulated PVE tool sleeps that long first, standing in for a Perl start-up on a real node):

A. one task, as ansible-playbook runs it: a converged nexcage_container vs ansible.builtin.ping vs
   `command: pct config`; nexcage_container_info of one container; a converged nexcage_zfs_dataset vs
   community.general.zfs (installed into build/bench-collections from the Ansible release's wheel when
   missing); a no-op nexcage_bundle. Each playbook holds the task 3 times; a task's cost is
   (playbook - empty playbook) / 3, wall and CPU (the process tree).
B. 200 converged containers in one nexcage_containers task vs one ping task.
C. 20 creates + starts in one nexcage_containers task, parallel 1 vs 4 (the module's own time), each with
   and without the Perl latency: the difference is the Perl part, the run without latency the rest.
D. the container role for 20 converged containers vs a plain loop over nexcage_container.
E. nexcage_bundle from a directory vs `cp -a`, from a one-layer OCI layout vs `tar xzf` of the layer
   (the bundle manager's own time in this process, wall and CPU incl. children).

Usage: .venv/bin/python benchmarks/bench.py [--reps 9] [--big-reps 5] [--quick] [--out benchmarks/RESULTS.md]
       [--sections ABCDE] [--only ping,nexcage_container]   (some sections, some rows of A)
"""

import argparse
import datetime
import glob
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
sys.path.insert(0, os.path.join(TOP, "tests", "fixtures", "oci"))
sys.path.insert(0, os.path.join(TOP, "build", "collections"))

from conftest import ANSIBLE_PLAYBOOK, PVESIM, TEMPLATE, lxc_available, make_node  # noqa: E402

LATENCY = "400"
PERL_TOOLS = {"pct", "pvesm", "pveam", "pvesh", "qm", "pvecm"}
BENCH_COLLECTIONS = os.path.join(TOP, "build", "bench-collections")
CG_DIR = "ansible_collections/community/general"
CG_RELEASE = ">=12,<13"  # the Ansible release that goes with ansible-core 2.19 (requirements/dev.txt)
COLLECTIONS = os.path.join(TOP, "build", "collections")
COPIES = 3
LONG_COPIES = 10
LONG_SUFFIX = ", each further task of a playbook"
FURTHER = ("ansible.builtin.ping", "nexcage_container (converged)")
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
        self.has_cg = os.path.isdir(os.path.join(BENCH_COLLECTIONS, CG_DIR))

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

    def task(self, name, args, env=None, timeout=3600, node=None):
        result = (node or self.node).run_task(name, args, env=env, timeout=timeout)
        if result.get("failed"):
            raise RuntimeError("%s failed: %s" % (name, result.get("msg")))
        return result

    def add(self, section, name, wall, cpu, calls, note=""):
        self.rows.append((section, name, wall, cpu, calls, note))

    # ------------------------------------------------------------------ A: one task

    def section_a(self):
        reps = self.options.reps
        tasks = {name: task for name, task in self.tasks_a().items() if name == "empty playbook" or self.wanted(name)}
        playbooks = {
            name: self.playbook("a-%d" % i, task * COPIES if task else [])
            for i, (name, task) in enumerate(tasks.items())
        }
        # The same task LONG_COPIES times: what each further task of a playbook costs, apart from
        # what a playbook pays once per module (Ansible builds the module's payload once per run).
        further = [name for name in FURTHER if name in tasks]
        for i, name in enumerate(further):
            playbooks[name + LONG_SUFFIX] = self.playbook("a-long-%d" % i, tasks[name] * LONG_COPIES)
        seen = self.interleaved(playbooks, reps)
        base_wall = med([w for w, _c, _n in seen["empty playbook"]])
        base_cpu = med([c for _w, c, _n in seen["empty playbook"]])
        self.add("A", "empty playbook (subtracted below)", base_wall, base_cpu, 0, "whole playbook")
        per_task = {}
        for name, runs in seen.items():
            if name == "empty playbook" or name.endswith(LONG_SUFFIX):
                continue
            wall = (med([w for w, _c, _n in runs]) - base_wall) / COPIES
            cpu = (med([c for _w, c, _n in runs]) - base_cpu) / COPIES
            calls = med([n for _w, _c, n in runs]) / COPIES
            per_task[name] = (wall, cpu)
            self.add("A", name, wall, cpu, calls, "per task")
        for name in further:
            long_runs, runs = seen[name + LONG_SUFFIX], seen[name]
            wall = (med([w for w, _c, _n in long_runs]) - med([w for w, _c, _n in runs])) / (LONG_COPIES - COPIES)
            cpu = (med([c for _w, c, _n in long_runs]) - med([c for _w, c, _n in runs])) / (LONG_COPIES - COPIES)
            per_task[name + LONG_SUFFIX] = (wall, cpu)
            note = "(playbook of %d - playbook of %d) / %d" % (LONG_COPIES, COPIES, LONG_COPIES - COPIES)
            self.add("A", name + LONG_SUFFIX, wall, cpu, 0, note)
        self.ratios_a = per_task
        self.notes.append(
            "A: nexcage's byte-code cache on the node (_node/bytecode.py) is filled by the first run of a"
            " nexcage task; the medians are of runs with it (the first run of a new nexcage version on a node"
            " compiles, see the imports table)."
        )

    def wanted(self, name):
        """Whether a row of A is measured (--only: the rows whose name contains one of the words)."""
        return not self.options.only or any(word in name for word in self.options.only.split(","))

    def tasks_a(self):
        """{row: tasks} of section A, each row's setup done (an unwanted row's is skipped)."""
        converged = dict(OPTIONS, vmid=100, hostname="bench-one", memory=256)
        tasks = {
            "empty playbook": [],
            "ansible.builtin.ping": [{"ansible.builtin.ping": {}}],
            "nexcage_container (converged)": [{"cageforge.nexcage.nexcage_container": converged}],
            "nexcage_container_info (one container)": [{"cageforge.nexcage.nexcage_container_info": {"vmid": 100}}],
            "command: pct config": [
                {"ansible.builtin.command": {"argv": ["pct", "config", "100"]}, "changed_when": False}
            ],
            "nexcage_zfs_dataset (converged, 3 properties)": [
                {"cageforge.nexcage.nexcage_zfs_dataset": {"name": "rpool/data/bench-nx", "properties": ZFS_PROPS}}
            ],
        }
        self.task("nexcage_container", converged)
        if self.wanted("nexcage_zfs_dataset"):
            self.task("nexcage_zfs_dataset", {"name": "rpool/data/bench-nx", "properties": ZFS_PROPS})
        if self.wanted("nexcage_bundle"):
            src = self.small_tree()
            bundle = {"path": os.path.join(self.work, "bundles", "noop"), "source": src, "args": ["/bin/sh"]}
            bundle["bundle_roots"] = [os.path.join(self.work, "bundles")]
            self.task("nexcage_bundle", bundle)
            tasks["nexcage_bundle (no-op re-run)"] = [{"cageforge.nexcage.nexcage_bundle": bundle}]
        if self.wanted("community.general.zfs"):
            tasks.update(self.tasks_cg())
        return tasks

    def tasks_cg(self):
        """community.general.zfs's row (its collection installed into build/bench-collections first)."""
        problem = install_community_general()
        if problem:
            self.notes.append("community.general could not be installed (%s): its zfs row is left out." % problem)
            return {}
        self.has_cg = True
        cg = {"name": "rpool/data/bench-cg", "state": "present", "extra_zfs_properties": ZFS_PROPS}
        try:
            self.run_playbook(self.playbook("cg-setup", [{"community.general.zfs": cg}]))
        except RuntimeError as exc:
            reason = [line.strip() for line in str(exc).splitlines() if "cmd:" in line or "unrecognized" in line]
            self.notes.append(
                "community.general.zfs fails on the simulated node (%s): its row is left out." % "; ".join(reason[:2])
            )
            return {}
        self.notes.append(
            "community.general %s: from the wheel of the ansible package (ansible%s, the release of ansible-core"
            " 2.19), installed into build/bench-collections." % (_cg_version(), CG_RELEASE)
        )
        return {"community.general.zfs (converged, 3 properties)": [{"community.general.zfs": cg}]}

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
            if name == "empty playbook" or name.endswith(LONG_SUFFIX):
                continue
            wall = med([w for w, _c, _n in runs]) - base_wall
            cpu = med([c for _w, c, _n in runs]) - base_cpu
            self.ratios_b[name] = (wall, cpu)
            self.add("B", name, wall, cpu, med([n for _w, _c, n in runs]), "per task")
        self.batch_args = args

    # ------------------------------------------------------------------ C: 20 creates + starts

    def section_c(self):
        """Each parallel level with the Perl latency and without it: the difference is the part of the
        time that is Perl start-up (what parallel runs can overlap), the run without latency the rest
        (the tools' own work, LXC starts, the module), which 2 CPUs can at best halve."""
        lxc = lxc_available()
        state = "started" if lxc else "present"
        if not lxc:
            self.notes.append("C: no LXC here, so creates only (state: present), no starts.")
        entries = [{"vmid": 2000 + i, "hostname": "par%02d" % i} for i in range(20)]
        gone = {"defaults": {"state": "absent", "force": True}, "containers": entries, "parallel": 8}
        seen = {(latency, parallel): [] for latency in (LATENCY, "0") for parallel in (1, 4)}
        scratch = _scratch_dir()
        base = tempfile.mkdtemp(prefix="nexcage-bench-c-", dir=scratch)
        node = make_node(base)
        if scratch != tempfile.gettempdir():
            self.notes.append(
                "C runs on a node in %s (tmpfs): on this machine's disk a template extraction waits on the disk"
                " (a discard per file), which no parallel run overlaps and a real node's storage does not do." % scratch
            )
        try:
            for _rep in range(self.options.create_reps):
                for latency, parallel in seen:
                    args = {"defaults": dict(OPTIONS, state=state), "containers": entries, "parallel": parallel}
                    node.clear_calls()
                    cpu = children_cpu()
                    result = self.task("nexcage_containers", args, env={"PVESIM_LATENCY_MS": latency}, node=node)
                    cpu = children_cpu() - cpu
                    calls = [c for c in node.calls() if c["argv"][0] in PERL_TOOLS]
                    seen[(latency, parallel)].append((result["_elapsed"], cpu, len(calls)))
                    self.task("nexcage_containers", gone, node=node)
        finally:
            node.run_task("nexcage_containers", gone)
            shutil.rmtree(base, ignore_errors=True)
        what = "20 creates%s" % (" + starts" if lxc else "")
        walls = {}
        for (latency, parallel), runs in seen.items():
            walls[(latency, parallel)] = med([w for w, _c, _n in runs])
            self.add(
                "C",
                "%s, parallel %d%s" % (what, parallel, "" if latency == LATENCY else ", no latency"),
                walls[(latency, parallel)],
                med([c for _w, c, _n in runs]),
                med([n for _w, _c, n in runs]),
                "the module's own time, %d runs; CPU of the process tree" % len(runs),
            )
        calls = med([n for _w, _c, n in seen[(LATENCY, 1)]])
        self.ratio_c = {
            "all": walls[(LATENCY, 4)] / walls[(LATENCY, 1)],
            "perl": calls * int(LATENCY) / 1000.0,
            "latency": {p: walls[(LATENCY, p)] - walls[("0", p)] for p in (1, 4)},
            "rest": {p: walls[("0", p)] for p in (1, 4)},
        }

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
        """benchmarks/importtime.py's summary of each module's converged task, as Ansible runs it."""
        out = [
            "| module | payload (bytes) | the collection's files shipped: count, source bytes, syntax-tree nodes |"
            " imported by the task: count, source bytes | import self-time (ms): all, the collection's |"
            " without the byte-code cache (ms): all, the collection's | payload build on the controller (ms CPU):"
            " the module the task runs, without garbage collections (nexcage's action plugins), the full"
            " module, ansible.builtin.ping | OCI chain / jsonschema |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for module in ("nexcage_container", "nexcage_containers", "nexcage_container_info"):
            proc = subprocess.run(
                [sys.executable, os.path.join(TOP, "benchmarks", "importtime.py"), "--module", module, "--json"],
                capture_output=True,
                text=True,
                check=False,
            )
            try:
                data = json.loads(proc.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                failure = (proc.stderr or proc.stdout)[-200:].replace("\n", " ")
                out.append("| %s | failed: %s | | | | | | |" % (module, failure))
                continue
            out.append(
                "| %s | %d | %d, %d, %d | %d, %d | %.0f, %.0f | %.0f, %.0f | %.0f, %.0f, %.0f, %.0f | %s |"
                % (
                    module if data["runs_as"] == module else "%s (runs %s)" % (module, data["runs_as"]),
                    data["payload_bytes"],
                    data["shipped"],
                    data["shipped_bytes"],
                    data["shipped_nodes"],
                    data["imported"],
                    data["imported_bytes"],
                    data["total_ms"],
                    data["ours_ms"],
                    data["cold_total_ms"],
                    data["cold_ours_ms"],
                    data["build_ms"],
                    data["nogc_build_ms"],
                    data["full_build_ms"],
                    data["ping_build_ms"],
                    ", ".join(data["heavy"]) or "none",
                )
            )
        out.append("")
        out.append(
            "The controller parses every module_util a payload ships (once per playbook run, to build the payload:"
            " the build column, Ansible's recursive_finder timed in one process); for a task without a bundle or"
            " an OCI runtime the action plugins of nexcage_container and nexcage_containers run their _core"
            " module, which ships none of the OCI support, and build its payload without garbage collections;"
            " the node runs the payload from a zip, where Python keeps no byte code: without"
            " nexcage's cache (`_node/bytecode.py`, kept in /var/lib/nexcage/bytecode) every run compiles the"
            " module_utils it imports. `python -X importtime`, medians of 5 runs: `benchmarks/importtime.py`."
        )
        return out

    def goal_lines_a(self, ratio):
        """The goals of section A whose rows were measured (--only may leave some out)."""
        rows, out = self.ratios_a, []
        ping = rows.get("ansible.builtin.ping")
        nx_name = "nexcage_container (converged)"
        nx, pct = rows.get(nx_name), rows.get("command: pct config")
        if ping and nx:
            versus = (
                " vs `pct config`: %.2fx wall, %.2fx CPU" % (ratio(nx[0], pct[0]), ratio(nx[1], pct[1])) if pct else ""
            )
            out.append(
                "| converged nexcage_container <= 1.15x a ping task | %.2fx wall, %.2fx CPU |%s |"
                % (ratio(nx[0], ping[0]), ratio(nx[1], ping[1]), versus)
            )
        ping_more, nx_more = rows.get("ansible.builtin.ping" + LONG_SUFFIX), rows.get(nx_name + LONG_SUFFIX)
        if ping_more and nx_more:
            out.append(
                "| the same, each further task of a playbook (the payload is built once per playbook run) |"
                " %.2fx wall, %.2fx CPU | what a playbook pays once for the module: see Imports |"
                % (ratio(nx_more[0], ping_more[0]), ratio(nx_more[1], ping_more[1]))
            )
        info = rows.get("nexcage_container_info (one container)")
        if ping and info:
            out.append(
                "| nexcage_container_info (one container) vs a ping task | %.2fx wall, %.2fx CPU | |"
                % (ratio(info[0], ping[0]), ratio(info[1], ping[1]))
            )
        noop = rows.get("nexcage_bundle (no-op re-run)")
        if ping and noop:
            out.append(
                "| no-op bundle re-run <= ping + 10%% | %.2fx wall, %.2fx CPU of a ping task | |"
                % (ratio(noop[0], ping[0]), ratio(noop[1], ping[1]))
            )
        zfs = rows.get("nexcage_zfs_dataset (converged, 3 properties)")
        cg = rows.get("community.general.zfs (converged, 3 properties)")
        if zfs and cg:
            out.append(
                "| nexcage_zfs_dataset vs community.general.zfs | %.2fx wall, %.2fx CPU | |"
                % (ratio(zfs[0], cg[0]), ratio(zfs[1], cg[1]))
            )
        return out

    def goal_lines(self):
        out = []

        def ratio(a, b):
            return a / b if b else float("nan")

        if hasattr(self, "ratios_a"):
            out += self.goal_lines_a(ratio)
        if hasattr(self, "ratios_b"):
            ping = self.ratios_b["ansible.builtin.ping"]
            name = [n for n in self.ratios_b if n.startswith("nexcage_containers")][0]
            batch = self.ratios_b[name]
            out.append(
                "| %s within 2x a ping task | %.2fx wall, %.2fx CPU | |"
                % (name, ratio(batch[0], ping[0]), ratio(batch[1], ping[1]))
            )
        if hasattr(self, "ratio_c"):
            c = self.ratio_c
            out.append(
                "| 20 creates+starts, parallel 4 close to 1/4 of the serial Perl time | the Perl part: %.1f s serial "
                "(%.0f calls x %s ms: %.1f s), %.1f s at parallel 4: %.2f of it | the rest (the tools' own work, LXC "
                "starts, the module): %.1f s serial, %.1f s at parallel 4 (%.2f, on %d CPUs); all in: %.2f of the "
                "serial time |"
                % (
                    c["latency"][1],
                    c["perl"] / (int(LATENCY) / 1000.0),
                    LATENCY,
                    c["perl"],
                    c["latency"][4],
                    ratio(c["latency"][4], c["latency"][1]),
                    c["rest"][1],
                    c["rest"][4],
                    ratio(c["rest"][4], c["rest"][1]),
                    os.cpu_count(),
                    c["all"],
                )
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


def _scratch_dir():
    """/dev/shm when it is there (tmpfs), else the temporary directory."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()


def install_community_general():
    """community.general into build/bench-collections from the Ansible release's wheel (PyPI) unless it is
    there; returns None, or why it could not be installed."""
    if os.path.isdir(os.path.join(BENCH_COLLECTIONS, CG_DIR)):
        return None
    with tempfile.TemporaryDirectory() as download:
        argv = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", download]
        proc = subprocess.run(argv + ["ansible%s" % CG_RELEASE], capture_output=True, text=True, check=False)
        wheels = glob.glob(os.path.join(download, "ansible-*.whl"))
        if proc.returncode != 0 or not wheels:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            return lines[-1] if lines else "pip download failed"
        with zipfile.ZipFile(wheels[0]) as wheel:
            members = [name for name in wheel.namelist() if name.startswith(CG_DIR + "/")]
            wheel.extractall(BENCH_COLLECTIONS, members)
    return None


def _cg_version():
    try:
        with open(os.path.join(BENCH_COLLECTIONS, CG_DIR, "MANIFEST.json"), encoding="utf-8") as handle:
            return json.load(handle)["collection_info"]["version"]
    except (OSError, ValueError, KeyError):
        return "?"


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
    parser.add_argument("--reps", type=int, default=9, help="runs of each row (E: as many as its time box allows)")
    parser.add_argument("--big-reps", type=int, default=5, help="runs of the 200-container and role rows")
    parser.add_argument("--create-reps", type=int, default=1, help="runs of the 20-create rows")
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--e-budget", type=int, default=240, help="seconds after which E stops adding runs (>= 3)")
    parser.add_argument("--sections", default="ABCDE")
    parser.add_argument("--only", help="rows of A to measure: comma-separated parts of their names (ping,_container)")
    parser.add_argument("--tree", help="source directory for E (default: a copy of Python's standard library)")
    parser.add_argument("--quick", action="store_true", help="1 run each, 20-container batch (a smoke test)")
    parser.add_argument("--out", default=os.path.join(TOP, "benchmarks", "RESULTS.md"))
    options = parser.parse_args()
    if options.quick:
        options.reps = options.big_reps = options.create_reps = 1
        options.batch = 20
    # The simulated tools are Python run from source: let Python keep their byte code, as an installed
    # program has it, so that a simulated call costs its latency and its own work, not a recompile of the
    # simulator (about 1 s of CPU and disk per call on a 2-CPU machine, which hides what parallel runs overlap).
    bytecode_off = os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    bench = Bench(options)
    if bytecode_off:
        bench.notes.append(
            "PYTHONDONTWRITEBYTECODE was set: the benchmark unsets it, so the simulated tools (Python run from"
            " source) keep their byte code as an installed program does, instead of compiling the simulator again"
            " on every call."
        )
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
