"""runc and crun inside simulated nodes: each node has its own runtime state (/run/runc,
/run/crun) and its own cgroups for the containers (pvesim/ociruntime.py), so two nodes run the
same OCI container id at once, as two machines would."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from test_runtime_support import Node

from pvesim import namespace, ociruntime
from pvesim.node import node_id

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "oci"))
import ocifix  # noqa: E402

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (pvesim run, runc/crun)"),
    pytest.mark.skipif(not ocifix.have_busybox(), reason="busybox-static not installed (/bin/busybox)"),
]

CID = "same-id"
# crun 1.8 refuses the hybrid cgroup layout (env-notes §3): the collection's documented wrapper.
CRUN_WRAPPER = ["unshare", "-m", "sh", "-c", 'umount /sys/fs/cgroup/unified && exec "$@"', "crun-wrap"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A busybox bundle whose process sleeps; config.json from the runtime's own `spec`."""
    spec_tool = shutil.which("runc") or shutil.which("crun")
    if spec_tool is None:
        pytest.skip("neither runc nor crun is installed")
    path = tmp_path_factory.mktemp("oci") / "bundle"
    ocifix.make_busybox_rootfs(str(path / "rootfs"))
    subprocess.run([spec_tool, "spec"], cwd=str(path), check=True, capture_output=True, timeout=30)
    config = json.loads((path / "config.json").read_text())
    config["process"].update(terminal=False, args=["/bin/sleep", "100000"])
    (path / "config.json").write_text(json.dumps(config))
    return str(path)


def _runtime(name):
    if shutil.which(name) is None:
        pytest.skip("%s is not installed" % name)
    hybrid = os.path.ismount("/sys/fs/cgroup/unified")
    return (CRUN_WRAPPER if name == "crun" and hybrid else []) + [name]


def _run_detached(node, runtime, bundle):
    """`<runtime> run --detach` in node; the container keeps the runtime's stdio: a log file."""
    log = os.path.join(node.root, "oci.log")
    r = node.run(
        "sh", "-c", 'exec "$@" </dev/null >"$0" 2>&1', log, *runtime, "run", "--detach", "--bundle", bundle, CID
    )
    with open(log, encoding="utf-8") as f:
        assert r.rc == 0, f.read()


def _listed(node, name):
    r = node.run(name, "list", "--quiet")
    assert r.rc == 0, r.err
    return r.out.split()


def _status(node, name):
    r = node.run(name, "state", CID)
    return json.loads(r.out)["status"] if r.rc == 0 else None


def _cgroup_procs(node):
    """The pids in the container's cgroup of the node (first hierarchy), or None if it has none."""
    path = os.path.join(ociruntime.node_cgroups(node_id(node.root))[0][0], CID, "cgroup.procs")
    try:
        with open(path, encoding="utf-8") as f:
            return set(f.read().split())
    except FileNotFoundError:
        return None


@pytest.mark.parametrize("name", ["runc", "crun"])
def test_two_nodes_run_the_same_oci_id_and_each_sees_only_its_own(tmp_path, bundle, name):
    runtime = _runtime(name)
    nodes = [Node.init(tmp_path / n) for n in ("a", "b")]
    first, second = nodes
    try:
        for n in nodes:
            _run_detached(n, runtime, bundle)
        for n in nodes:
            assert _listed(n, name) == [CID]
            assert _status(n, name) == "running"
        host = subprocess.run([name, "list", "--quiet"], capture_output=True, text=True, timeout=30, check=False)
        assert CID not in host.stdout.split()  # nothing in the machine's own state
        procs = [_cgroup_procs(n) for n in nodes]
        assert procs[0] and procs[1] and procs[0].isdisjoint(procs[1])  # a cgroup of each node's own

        assert first.run(name, "pause", CID).rc == 0  # freezes the first node's cgroup only
        assert (_status(first, name), _status(second, name)) == ("paused", "running")
        assert first.run(name, "resume", CID).rc == 0

        r = first.run(name, "delete", "--force", CID)
        assert r.rc == 0, r.err
        assert _listed(first, name) == [] and _cgroup_procs(first) is None
        assert _status(second, name) == "running" and _cgroup_procs(second) == procs[1]
        assert second.run(name, "exec", CID, "true").rc == 0
    finally:
        for n in nodes:
            n.run(name, "delete", "--force", CID)
    assert _listed(second, name) == [] and _cgroup_procs(second) is None


def test_a_running_oci_container_keeps_its_node(tmp_path, bundle):
    """Its init has namespaces of its own and its runtime has exited: the keeper must still count
    it, or it would end the node (and kill the container) once no `pvesim run` is left."""
    runtime = _runtime("runc")
    node = Node.init(tmp_path / "node")
    try:
        _run_detached(node, runtime, bundle)
        info = namespace._ns_state(node.root)
        assert namespace._others_in_node(int(info["pid"]), info["netns"], info["pidns"])
    finally:
        node.run("runc", "delete", "--force", CID)
