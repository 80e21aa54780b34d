"""The runc and crun backends (_oci.runtime) with the real runtimes: a busybox bundle is created,
started, stopped, restarted and removed; each step checks the runtime's own state and the OCI
state file /run/nexcage/<id>/state.json against the upstream state schema. Container ids are
unique per test run, and every container is removed with ``<runtime> delete -f`` afterwards.

crun 1.8 refuses the hybrid cgroup layout of these machines (env-notes §3); its tests pass the
documented ``wrapper`` argv prefix (a private mount namespace without the cgroup2 mount).
"""

import itertools
import json
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "oci"))
import ocifix  # noqa: E402

# The upstream schemas in ../shared, beside the checkout (an oracle; never copied in).
SCHEMA_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "..", "shared", "oci-runtime-spec"
)
NO_SCHEMAS = "upstream OCI schemas missing: %s (defs.json, state-schema.json)" % os.path.normpath(SCHEMA_DIR)
CRUN_WRAPPER = ["unshare", "-m", "sh", "-c", 'umount /sys/fs/cgroup/unified && exec "$@"', "crun-wrap"]
_ids = itertools.count()

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (runc/crun)"),
    pytest.mark.skipif(not ocifix.have_busybox(), reason="busybox-static not installed (/bin/busybox)"),
]


def runtime_available(name):
    return shutil.which(name) is not None


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.defaults import default_config

    base = tmp_path_factory.mktemp("ocibundle")
    path = base / "bundle"
    ocifix.make_busybox_rootfs(str(path / "rootfs"))
    hostdata = base / "hostdata"
    hostdata.mkdir()
    (hostdata / "x").write_text("from the host\n")
    config = default_config()
    config["process"]["terminal"] = False
    config["process"]["args"] = [
        "/bin/sh",
        "-c",
        "cat /data/x > /data/seen; echo $GREETING > /data/env; exec sleep 100000",
    ]
    config["process"]["env"].append("GREETING=hello runtime")
    config["mounts"].append(
        {"destination": "/data", "type": "bind", "source": str(hostdata), "options": ["rbind", "rw"]}
    )
    (path / "config.json").write_text(json.dumps(config, indent=2))
    return path, hostdata, config


@pytest.fixture
def rundir(tmp_path, monkeypatch):
    from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths as node_paths

    monkeypatch.setattr(node_paths, "RUN_NEXCAGE", str(tmp_path / "run-nexcage"))
    return tmp_path / "run-nexcage"


def check_state(state):
    """The required keys and types of the runtime-spec state (state-schema.json)."""
    assert {"ociVersion", "id", "status", "bundle"} <= set(state)
    assert state["status"] in ("creating", "created", "running", "stopped")
    assert isinstance(state["id"], str) and isinstance(state["bundle"], str)
    if "pid" in state:
        assert isinstance(state["pid"], int) and state["pid"] >= 0


def validate_state(state):
    """Against the upstream schema itself (only where ../shared is beside the checkout)."""
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    def load(name):
        with open(os.path.join(SCHEMA_DIR, name), encoding="utf-8") as f:
            return Resource.from_contents(json.load(f), default_specification=DRAFT4)

    registry = Registry().with_resources([(n, load(n)) for n in ("defs.json", "state-schema.json")])
    jsonschema.Draft4Validator(registry["state-schema.json"].contents, registry=registry).validate(state)


@pytest.fixture(params=["runc", "crun"])
def runtime(request):
    name = request.param
    if not runtime_available(name):
        pytest.skip("%s is not installed" % name)
    cid = "nexcage-it-%s-%d-%d" % (name, os.getpid(), next(_ids))
    yield name, cid, (CRUN_WRAPPER if name == "crun" else None)
    subprocess.run([name, "delete", "-f", cid], capture_output=True, check=False)


def test_lifecycle(runtime, bundle, rundir):
    from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import runtime as oci_runtime
    from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import Runner

    name, cid, wrapper = runtime
    path, hostdata, _config = bundle

    def converge(state, check=False):
        return oci_runtime.converge(
            Runner(check_mode=check), cid, str(path), state, runtime=name, wrapper=wrapper, stop_timeout=1
        )

    planned = converge("started", check=True)
    assert planned["changed"] is True and planned["steps"] == ["create", "start"]
    assert not (rundir / cid).exists()

    started = converge("started")
    assert started["changed"] is True and started["steps"] == ["create", "start"]
    assert started["status"] == "running"
    state = json.loads((rundir / cid / "state.json").read_text())
    check_state(state)
    assert state["id"] == cid and state["status"] == "running" and state["bundle"] == str(path)
    assert os.path.exists("/proc/%d" % state["pid"])
    proc = subprocess.run([name, "exec", cid, "cat", "/data/seen"], capture_output=True, text=True, check=False)
    assert proc.stdout == "from the host\n", proc.stderr  # read through the bind mount
    assert (hostdata / "env").read_text() == "hello runtime\n"

    again = converge("started")
    assert again["changed"] is False and again["steps"] == []

    stopped = converge("stopped")
    assert stopped["changed"] is True and stopped["steps"] == ["kill"] and stopped["status"] == "stopped"
    state = json.loads((rundir / cid / "state.json").read_text())
    check_state(state)
    assert state["status"] == "stopped" and "pid" not in state
    assert converge("stopped")["changed"] is False

    restarted = converge("restarted")
    assert restarted["steps"] == ["delete", "create", "start"] and restarted["status"] == "running"

    gone = converge("absent")
    assert gone["changed"] is True and gone["steps"] == ["delete"]
    assert not (rundir / cid).exists()
    assert subprocess.run([name, "state", cid], capture_output=True, check=False).returncode != 0
    assert converge("absent")["changed"] is False


@pytest.mark.skipif(not os.path.isdir(SCHEMA_DIR), reason=NO_SCHEMAS)
def test_state_files_valid_against_upstream_schema(runtime, bundle, rundir):
    from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import runtime as oci_runtime
    from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import Runner

    name, cid, wrapper = runtime
    path, _hostdata, _config = bundle

    def converge(state):
        return oci_runtime.converge(Runner(), cid, str(path), state, runtime=name, wrapper=wrapper, stop_timeout=1)

    assert converge("started")["status"] == "running"
    validate_state(json.loads((rundir / cid / "state.json").read_text()))
    assert converge("stopped")["status"] == "stopped"
    validate_state(json.loads((rundir / cid / "state.json").read_text()))
    converge("absent")


def test_config_change_recreates_running_container(runtime, bundle, rundir, tmp_path):
    from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import runtime as oci_runtime
    from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import Runner

    name, cid, wrapper = runtime
    src, _hostdata, config = bundle
    path = tmp_path / "bundle"
    path.mkdir()
    config = dict(config, root={"path": str(src / "rootfs")})  # an absolute root.path outside the bundle
    (path / "config.json").write_text(json.dumps(config))

    def converge(state):
        return oci_runtime.converge(Runner(), cid, str(path), state, runtime=name, wrapper=wrapper)

    assert converge("started")["steps"] == ["create", "start"]
    changed = dict(config, hostname="changed")
    (path / "config.json").write_text(json.dumps(changed))
    result = converge("started")
    assert result["steps"] == ["delete", "create", "start"] and result["status"] == "running"
    assert converge("started")["changed"] is False
    converge("absent")


def test_create_failure_is_reported_with_the_runtime_message(runtime, tmp_path, rundir):
    from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import NexcageError
    from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import runtime as oci_runtime
    from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import Runner

    name, cid, wrapper = runtime
    path = tmp_path / "broken"
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"ociVersion": "1.0.2", "root": {"path": "missing"}}))
    with pytest.raises(NexcageError) as err:
        oci_runtime.converge(Runner(), cid, str(path), "started", runtime=name, wrapper=wrapper)
    assert "Cannot create OCI container '%s' with %s" % (cid, name) in err.value.message
    assert err.value.cmd.startswith(" ".join(wrapper or [name])[:4])
