"""Check mode predicts the real run, for every playbook in playbooks/ and every role in roles/ (issue 12).

Each playbook, and each role through a small playbook that sets the variables its README documents,
on a fresh simulated node:

1. ``--check --diff`` passes and leaves no trace on the node: the files under the node's directories
   (``/etc/pve``, the storages, the datasets, the bundles, the run state) are as they were, and the
   simulator's call log shows only commands that read;
2. the real run passes, and every task's changed status (each loop item's too) is the one check mode
   predicted;
3. on the converged node, ``--check --diff`` predicts changed=false for every task, and a second real
   run is changed=false too (again without a trace from the check run).

The per-task results are recorded by a small callback (``task_record`` below; ansible.posix's json
callback is not installed). A task that cannot predict exactly is listed in UNPREDICTABLE with the
reason, and the test checks that it still differs as listed, so the list cannot go stale silently.
"""

import contextlib
import glob
import json
import os
import sys

import pytest
from integration_conftest import ANSIBLE_PLAYBOOK, TEMPLATE, TOP, lxc_available

NEEDS_LXC = pytest.mark.skipif(
    not lxc_available(), reason="LXC is missing (lxc-start not on PATH) or not running as root"
)

PLAYBOOKS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(TOP, "playbooks", "*.yml")))
ROLES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(TOP, "roles", "*")) if os.path.isdir(p))
COVERED_PLAYBOOKS = {"health.yml", "deploy.yml", "teardown.yml", "demo.yml"}
COVERED_ROLES = {"node", "container", "teardown"}

OPTIONS = {"rootfs": {"storage": "local-zfs", "size": 1}, "ostype": "unmanaged"}
ALPINE = "local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz"  # in the simulated pveam catalogue

# (playbook or role scenario, task name) -> why check mode cannot predict that task's change.
# Each entry must still differ as described (check: skipped or unchanged, real: changed).
UNPREDICTABLE = {
    ("demo.yml", "Step 5, look inside the template container (the dataset at /data)"): (
        "pct exec in a container that check mode only planned: nothing to run it in"
    ),
    ("demo.yml", "Step 5, look inside the bundle container (entrypoint, environment, bind mount, dataset)"): (
        "pct exec in a container that check mode only planned: nothing to run it in"
    ),
    ("demo.yml", "Add a service user inside the container"): (
        "runs inside the Debian container through the pct connection; check mode only planned the container"
    ),
    ("demo.yml", "Install a config file owned by the service user"): (
        "runs inside the Debian container through the pct connection; check mode only planned the container"
    ),
    ("demo.yml", "cageforge.nexcage.teardown : Stop the containers"): (
        "the demo tears down what it made in the same play; in check mode nothing was made, so nothing to stop"
    ),
    ("demo.yml", "cageforge.nexcage.teardown : Remove the containers"): (
        "the demo tears down what it made in the same play; in check mode nothing was made, so nothing to remove"
    ),
    ("demo.yml", "cageforge.nexcage.teardown : Remove the OCI bundles"): (
        "the demo tears down what it made in the same play; in check mode nothing was made, so nothing to remove"
    ),
    ("demo.yml", "cageforge.nexcage.teardown : Remove the ZFS datasets"): (
        "the demo tears down what it made in the same play; in check mode nothing was made, so nothing to remove"
    ),
}

# Scenarios whose converged run is not a no-op, with the reason (instead of the converged runs).
NOT_CONVERGING = {
    "demo.yml": "the demo is a whole lifecycle: it tears down what it made, so a second run makes it all again "
    "(its own step 6 asserts that the redeploy on the converged node changes nothing)",
}

# Commands check mode may run: they only read (the simulator's call log is compared).
READ_ONLY = {
    ("pct", "config"),
    ("pct", "list"),
    ("pct", "pending"),
    ("pct", "status"),
    ("pveam", "available"),
    ("pveam", "list"),
    ("pvesm", "list"),
    ("pvesm", "path"),
    ("pvesm", "status"),
    ("zfs", "get"),
    ("zfs", "list"),
    ("zpool", "get"),
    ("zpool", "list"),
    ("zpool", "status"),
}

# What is under the node's directories but is not node state (left out of the comparison), and why.
NOT_NODE_STATE = {
    "var/lib/pvesim/calls.jsonl": "the simulator's call log (checked on its own: only reading commands)",
    "var/lib/pvesim/namespaces.json": "the simulator's record of the node's namespace keeper",
    "var/lib/pvesim/namespaces.lock": "the simulator's lock of that record",
    "var/lib/nexcage/bytecode": "nexcage's byte-code cache: a build artefact check mode writes too (docs/security.md)",
}
NODE_DIRS = ("etc/pve", "var/lib/vz", "var/lib/lxc", "run", "var/lib/pvesim", "var/lib/nexcage", "rpool", "srv", "mnt")

# Every task result as one JSON line in $TASK_RECORD.
RECORDER = r"""
import json
import os

from ansible.playbook.handler import Handler
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_record"
    CALLBACK_NEEDS_ENABLED = True

    def _emit(self, result, status):
        data = result._result
        items = data.get("results") if isinstance(data.get("results"), list) else None
        record = {
            "host": result._host.get_name(),
            "path": result._task.get_path(),
            "name": result._task.get_name(),
            "handler": isinstance(result._task, Handler),  # shown in the messages
            "status": status,
            "changed": bool(data.get("changed")) and status != "skipped",
            "items": None if items is None else [bool(i.get("changed")) for i in items if isinstance(i, dict)],
            "msg": str(data.get("msg", ""))[:500] if status == "failed" else "",
        }
        with open(os.environ["TASK_RECORD"], "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")

    def v2_runner_on_ok(self, result):
        self._emit(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._emit(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_unreachable(self, result):
        self._emit(result, "unreachable")

    def v2_runner_on_skipped(self, result):
        self._emit(result, "skipped")
"""


class Scenario:
    """Runs one playbook on one node, recording each task's result."""

    def __init__(self, node, tmp_path, name, playbook, extra=()):
        self.node = node
        self.name = name
        self.playbook = str(playbook)
        self.extra = list(extra)
        self.dir = tmp_path / ("run-" + name.replace("/", "-"))
        self.dir.mkdir()
        plugins = tmp_path / "callback_plugins"
        plugins.mkdir(exist_ok=True)
        (plugins / "task_record.py").write_text(RECORDER)
        self.plugins = str(plugins)
        self.runs = 0

    def run(self, check):
        self.runs += 1
        record = self.dir / ("%d-%s.jsonl" % (self.runs, "check" if check else "real"))
        env = self.node._env(
            {
                "ANSIBLE_CONFIG": os.path.join(TOP, "ansible.cfg"),
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_CALLBACK_PLUGINS": self.plugins,
                "ANSIBLE_CALLBACKS_ENABLED": "task_record",
                "TASK_RECORD": str(record),
            }
        )
        argv = [ANSIBLE_PLAYBOOK, self.playbook] + self.extra + (["--check", "--diff"] if check else [])
        proc = self.node.sh(*argv, env=env, timeout=1200)
        out = proc.stdout + proc.stderr
        tasks = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
        failed = [t for t in tasks if t["status"] in ("failed", "unreachable")]
        assert proc.returncode == 0 and not failed, "%s%s failed: %s\n%s" % (
            self.name,
            " --check --diff" if check else "",
            [(t["name"], t["msg"]) for t in failed],
            out[-6000:],
        )
        return tasks

    def check_leaves_no_trace(self):
        """--check --diff; asserts nothing on the node changed and only reading commands ran."""
        before, calls = snapshot(self.node), len(self.node.calls())
        tasks = self.run(check=True)
        after = snapshot(self.node)
        changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
        assert not changed, "%s --check changed the node: %s" % (self.name, changed[:20])
        writes = [" ".join(c["argv"]) for c in self.node.calls()[calls:] if tuple(c["argv"][:2]) not in READ_ONLY]
        assert not writes, "%s --check ran commands that change the node: %s" % (self.name, writes)
        return tasks


def snapshot(node):
    """{path: (kind, mode, uid, gid, size, mtime_ns, link)} of everything under the node's directories."""
    found = {}
    for top in NODE_DIRS:
        for root, dirs, files in os.walk(node.path("/" + top)):
            for entry in dirs + files:
                full = os.path.join(root, entry)
                rel = os.path.relpath(full, node.root)
                if any(rel == path or rel.startswith(path + "/") for path in NOT_NODE_STATE):
                    continue
                st = os.lstat(full)
                link = os.readlink(full) if os.path.islink(full) else None
                kind = "d" if entry in dirs else "f"
                found[rel] = (kind, st.st_mode, st.st_uid, st.st_gid, 0 if kind == "d" else st.st_size,
                              st.st_mtime_ns, link)  # fmt: skip
    return found


def _label(task):
    where = os.path.relpath(task["path"], TOP) if task["path"] else "?"
    return "%s%s (%s)" % ("handler " if task["handler"] else "", task["name"], where)


def _keyed(tasks):
    """{(host, task path, n-th time the task ran): task}; handlers are keyed the same way."""
    seen, keyed = {}, {}
    for task in tasks:
        base = (task["host"], task["path"] or task["name"])
        seen[base] = seen.get(base, 0) + 1
        keyed[base + (seen[base],)] = task
    return keyed


def _changes(task):
    """(changed, per-item changes) of one result; a task that did not run changed nothing."""
    if task is None:
        return False, []
    return task["changed"], task["items"] or []


def compare(scenario, predicted, real):
    """Every task's change, as check mode predicted it, equals the real run's; the listed exceptions
    (UNPREDICTABLE) are reported and must still differ as listed."""
    check_keyed, real_keyed = _keyed(predicted), _keyed(real)
    wrong, expected_misses = [], set()
    for key in list(real_keyed) + [k for k in check_keyed if k not in real_keyed]:
        want_task, got_task = real_keyed.get(key), check_keyed.get(key)
        want, got = _changes(want_task), _changes(got_task)
        items_differ = want[1] and got[1] and len(want[1]) == len(got[1]) and want[1] != got[1]
        if want[0] == got[0] and not items_differ:
            continue
        task = want_task or got_task
        reason = UNPREDICTABLE.get((scenario, task["name"]))
        if reason and want[0] and not got[0]:
            expected_misses.add(task["name"])
            continue
        wrong.append(
            "%s: check mode predicted changed=%s%s, the real run changed=%s%s"
            % (_label(task), got[0], got[1] or "", want[0], want[1] or "")
        )
    assert not wrong, "%s: check mode mispredicted:\n  %s" % (scenario, "\n  ".join(wrong))
    listed = {name for (where, name) in UNPREDICTABLE if where == scenario}
    assert listed == expected_misses, "%s: UNPREDICTABLE lists tasks that no longer differ: %s" % (
        scenario,
        sorted(listed - expected_misses),
    )


def changed_tasks(tasks):
    return [_label(t) for t in tasks if t["changed"] or any(t["items"] or [])]


def check_then_apply(scenario):
    """Steps 1-3 of the module docstring on the scenario's node; returns the real run's tasks."""
    predicted = scenario.check_leaves_no_trace()
    real = scenario.run(check=False)
    compare(scenario.name, predicted, real)
    if scenario.name in NOT_CONVERGING:
        return real
    again_predicted = scenario.check_leaves_no_trace()
    assert changed_tasks(again_predicted) == [], "%s: --check on the converged node predicts changes" % scenario.name
    again = scenario.run(check=False)
    assert changed_tasks(again) == [], "%s: the second run changed" % scenario.name
    return real


@contextlib.contextmanager
def removed_afterwards(node, vmids, runc_ids=()):
    """Whatever happened, the scenario's containers do not outlive the test (a failed run would leave
    them running on the machine)."""
    try:
        yield
    finally:
        for cid in runc_ids:
            node.sh("runc", "delete", "--force", cid)
        for vmid in vmids:
            node.sh("pct", "stop", vmid, timeout=60)
            node.sh("pct", "destroy", vmid, "--force", "1", timeout=60)


def _inventory(tmp_path, specs, **group_vars):
    """The inventory of playbooks/*.yml (group proxmox) for the simulated node."""
    group_vars.update(
        ansible_connection="local", ansible_python_interpreter=sys.executable, nexcage_containers=specs
    )  # fmt: skip
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps({"proxmox": {"hosts": {"pve-sim": {}}, "vars": group_vars}}))
    return str(path)


def _role_play(tmp_path, name, role, role_vars):
    path = tmp_path / ("%s.yml" % name)
    play = {
        "name": "The %s role" % role,
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
        "roles": [{"role": "cageforge.nexcage." + role, "vars": role_vars}],
    }
    path.write_text(json.dumps([play], indent=1))
    return path


def test_every_playbook_and_role_is_covered():
    assert set(PLAYBOOKS) == COVERED_PLAYBOOKS, "a playbook without a check-mode scenario here (or a stale one)"
    assert set(ROLES) == COVERED_ROLES, "a role without a check-mode scenario here (or a stale one)"
    for scenario, name in UNPREDICTABLE:
        assert scenario in COVERED_PLAYBOOKS or scenario in COVERED_ROLES, (scenario, name)


@pytest.mark.real_lxc
@pytest.mark.slow
@NEEDS_LXC
def test_health_deploy_and_teardown_playbooks(fresh_node, tmp_path, new_vmid):
    node = fresh_node
    web, app = new_vmid(), new_vmid()
    specs = [
        {
            "name": "cp-web",
            "vmid": web,
            "image": TEMPLATE,
            "dataset": {"name": "rpool/data/cp-web-%d" % web, "properties": {"quota": "64M"}},
            "options": dict(OPTIONS, memory=256),
        },
        {
            "name": "cp-app",
            "vmid": app,
            "bundle": {"path": "/var/lib/nexcage/bundles/cp-app-%d" % app, "source": TEMPLATE, "env": {"MODE": "t"}},
            "state": "stopped",
            "options": OPTIONS,
        },
    ]
    inventory = _inventory(tmp_path, specs, nexcage_storages=["local", "local-zfs"])

    def playbook(name, *extra):
        return Scenario(node, tmp_path, name, os.path.join(TOP, "playbooks", name), ["-i", inventory, *extra])

    health = playbook("health.yml")
    predicted = health.check_leaves_no_trace()
    real = health.run(check=False)
    compare("health.yml", predicted, real)
    assert changed_tasks(real) == [], "health.yml changes nothing, so its first run is also its converged run"

    with removed_afterwards(node, (web, app)):
        real = check_then_apply(playbook("deploy.yml"))
        assert "cageforge.nexcage.container : Converge the Proxmox containers in one task" in [
            t["name"] for t in real if t["changed"]
        ]
        assert node.conf(web) and node.conf(app)
        assert "running" in node.sh("pct", "status", web).stdout

        check_then_apply(playbook("teardown.yml"))
        assert node.conf(web) is None and node.conf(app) is None
        assert node.exists("/rpool/data/cp-web-%d" % web), "kept without nexcage_purge"


@pytest.mark.real_lxc
@pytest.mark.slow
@NEEDS_LXC
def test_demo_playbook(fresh_node, tmp_path, new_vmid):
    node = fresh_node
    if not node.exists("/var/lib/vz/template/cache/debian-12-nexcage_12_amd64.tar.zst"):
        from test_pct_connection import require_debian_template

        require_debian_template()  # fails, or skips without network
    base = new_vmid()  # the demo's containers are base, base + 1, base + 2
    demo = Scenario(node, tmp_path, "demo.yml", os.path.join(TOP, "playbooks", "demo.yml"),
                    ["-e", "demo_vmid_base=%d" % base])  # fmt: skip
    with removed_afterwards(node, (base, base + 1, base + 2)):
        real = check_then_apply(demo)
    assert "Step 8, summary" in [t["name"] for t in real if t["status"] == "ok"]
    for vmid in (base, base + 1, base + 2):
        assert node.conf(vmid) is None


@pytest.mark.real_lxc
@pytest.mark.slow
@NEEDS_LXC
def test_node_container_and_teardown_roles(fresh_node, tmp_path, new_vmid):
    node = fresh_node
    one, two, three = new_vmid(), new_vmid(), new_vmid()
    assert node.sh("mkdir", "-p", "/srv/cp-share").returncode == 0
    specs = [
        {
            "name": "cr-data",
            "vmid": one,
            "image": TEMPLATE,
            "dataset": {
                "name": "rpool/data/cr-data-%d" % one,
                "properties": {"quota": "32M", "compression": "lz4"},
                "mountpoint": "/srv/data",
                "owner": 1000,
                "mode": "0750",
            },
            "mounts": [{"id": 0, "host_path": "/srv/cp-share", "mountpoint": "/share", "read_only": True}],
            "options": dict(OPTIONS, cores=1, tags=["check", "predicts"]),
        },
        {"name": "cr-idle", "vmid": two, "image": TEMPLATE, "state": "present", "options": OPTIONS},
        {
            "name": "cr-oci",
            "vmid": three,
            "backend": "runc",
            "bundle": {
                "path": "/var/lib/nexcage/bundles/cr-oci-%d" % three,
                "source": TEMPLATE,
                "args": ["/bin/sh", "-c", "exec sleep 600"],
                "terminal": False,
            },
            "dataset": {"name": "rpool/data/cr-oci-%d" % three},
        },
    ]
    roles = [
        (
            "node",
            {
                "node_container_specs": specs,
                "node_templates": [ALPINE],
                "node_templates_download": True,
                "node_storages": ["local", "local-zfs"],
            },
        ),
        ("container", {"container_specs": specs, "container_batch": False, "container_dataset_mountpoint": "/data"}),
        ("teardown", {"teardown_specs": specs, "teardown_purge": True, "teardown_stop_mode": "stop"}),
    ]
    with removed_afterwards(node, (one, two), runc_ids=(specs[2]["name"],)):
        for role, role_vars in roles:
            check_then_apply(Scenario(node, tmp_path, role, _role_play(tmp_path, role, role, role_vars)))
            if role == "node":
                assert node.exists("/var/lib/vz/template/cache/" + ALPINE.split("/", 1)[1])
            if role == "container":
                assert "running" in node.sh("pct", "status", one).stdout
                assert node.conf(two) is not None
                assert node.sh("runc", "state", specs[2]["name"]).returncode == 0, "the runc container runs"
    for vmid in (one, two, three):
        assert node.conf(vmid) is None
    assert not node.exists("/rpool/data/cr-data-%d" % one) and not node.exists(
        "/var/lib/nexcage/bundles/cr-oci-%d" % three
    )
