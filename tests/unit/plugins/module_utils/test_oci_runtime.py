"""Unit tests of _oci.runtime with a scripted runner: the exact runtime commands per state and
starting status, the wrapper only on create, error messages, and the OCI state file."""

import json

import pytest
from scripted_runner import ScriptedRunner

from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import NexcageError
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import ocistate
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths as node_paths
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import runtime as oci_runtime
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import CommandResult, Runner

CID = "app1"
WRAP = ["unshare", "-m", "sh", "-c", 'umount /sys/fs/cgroup/unified && exec "$@"', "w"]


class FakeRuntime(ScriptedRunner):
    """A runner that plays runc: keeps one container's status and answers state/create/start/kill/delete."""

    def __init__(self, status=None, check_mode=False, stubborn=False):
        super().__init__({}, check_mode=check_mode, default=self.answer)
        self.status = status
        self.stubborn = stubborn  # ignores TERM

    def answer(self, argv):
        op = argv[1]
        if op == "state":
            if self.status is None:
                return 1, "", 'time="x" level=error msg="container does not exist"\n'
            state = {"ociVersion": "1.0.2", "id": CID, "status": self.status, "bundle": "/b", "pid": 0}
            if self.status in ("created", "running"):
                state["pid"] = 4242
            return 0, json.dumps(state), ""
        if op == "start":
            self.status = "running"
        elif op == "kill":
            if argv[-1] == "KILL" or not self.stubborn:
                self.status = "stopped"
        elif op == "delete":
            self.status = None
        return 0, "", ""


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setattr(node_paths, "RUN_NEXCAGE", str(tmp_path / "run"))
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text('{"ociVersion": "1.0.2"}')

    def fake_detached(runner, argv, log_path, timeout=None):
        runner.history.append(CommandResult(argv, 0, "", "", 0.0, planned=runner.check_mode))
        if not runner.check_mode:
            runner.status = "created"
        return runner.history[-1]

    monkeypatch.setattr(oci_runtime, "run_detached", fake_detached)
    return bundle


@pytest.mark.parametrize(
    "state, status, steps, final",
    [
        ("started", None, ["create", "start"], "running"),
        ("started", "created", ["start"], "running"),
        ("started", "running", [], "running"),
        ("started", "stopped", ["delete", "create", "start"], "running"),
        ("present", None, ["create"], "created"),
        ("present", "running", [], "running"),
        ("stopped", "running", ["kill"], "stopped"),
        ("stopped", "stopped", [], "stopped"),
        ("stopped", None, ["create", "kill"], "stopped"),
        ("restarted", "running", ["kill", "delete", "create", "start"], "running"),
        ("restarted", None, ["create", "start"], "running"),
        ("absent", "running", ["delete"], None),
        ("absent", None, [], None),
    ],
)
def test_states(env, state, status, steps, final):
    runner = FakeRuntime(status)
    result = oci_runtime.converge(runner, CID, str(env), state, stop_timeout=1)
    assert result["steps"] == steps and result["changed"] is bool(steps)
    assert runner.status == final
    saved = ocistate.read_state(CID)
    if final is None:
        assert saved is None
    else:
        assert saved["status"] == final and saved["bundle"] == str(env)
        assert ("pid" in saved) is (final in ("created", "running"))
        assert saved["annotations"][oci_runtime.BACKEND_ANNOTATION] == "runc"


def test_check_mode_runs_only_state(env):
    runner = FakeRuntime(None, check_mode=True)
    result = oci_runtime.converge(runner, CID, str(env), "started")
    assert result["steps"] == ["create", "start"] and result["changed"] is True
    assert [r.planned for r in runner.history] == [False, True, True]
    assert ocistate.read_state(CID) is None


def test_stubborn_process_gets_kill_after_the_timeout(env):
    runner = FakeRuntime("running", stubborn=True)
    result = oci_runtime.converge(runner, CID, str(env), "stopped", stop_timeout=0.1)
    assert result["status"] == "stopped"
    kills = [r.argv[-1] for r in runner.history if r.argv[1] == "kill"]
    assert kills == ["TERM", "KILL"]


def test_changed_config_recreates(env):
    runner = FakeRuntime(None)
    oci_runtime.converge(runner, CID, str(env), "started")
    (env / "config.json").write_text('{"ociVersion": "1.0.2", "hostname": "x"}')
    result = oci_runtime.converge(FakeRuntime("running"), CID, str(env), "started")
    assert result["steps"] == ["delete", "create", "start"]


def test_wrapper_goes_only_in_front_of_create(env, monkeypatch):
    seen = []
    monkeypatch.setattr(
        oci_runtime, "run_detached", lambda runner, argv, log, timeout=None: seen.append(argv) or _ok(runner)
    )
    runner = FakeRuntime(None)
    oci_runtime.converge(runner, CID, str(env), "started", runtime="crun", wrapper=WRAP)
    assert seen == [WRAP + ["crun", "create", "--bundle", str(env), CID]]
    assert all(r.argv[0] == "crun" for r in runner.history)


def _ok(runner):
    runner.status = "created"
    return CommandResult(["x"], 0, "", "", 0.0)


def test_unknown_runtime_and_missing_bundle(env, tmp_path):
    with pytest.raises(NexcageError, match="not an OCI runtime"):
        oci_runtime.OciRuntime(Runner(), "docker")
    with pytest.raises(NexcageError, match="has no config.json"):
        oci_runtime.converge(FakeRuntime(), CID, str(tmp_path / "nope"), "started")


def test_run_detached_sends_output_to_the_log_and_reports_errors(tmp_path):
    runner = Runner()
    log = tmp_path / "d" / "console.log"
    ok = oci_runtime.run_detached(runner, ["sh", "-c", "echo out; echo err >&2"], str(log))
    assert ok.rc == 0 and log.read_text() == "out\nerr\n" and runner.history == [ok]
    bad = oci_runtime.run_detached(runner, ["sh", "-c", "echo boom >&2; exit 3"], str(log))
    assert bad.rc == 3 and bad.stderr == "boom\n"
    planned = oci_runtime.run_detached(Runner(check_mode=True), ["false"], str(log))
    assert planned.planned is True and planned.rc == 0


def test_failure_message_names_the_runtime_error(env, monkeypatch):
    def failing(runner, argv, log, timeout=None):
        result = CommandResult(argv, 1, "", 'level=error msg="runc create failed: invalid rootfs"\n', 0.0)
        runner.history.append(result)
        return result

    monkeypatch.setattr(oci_runtime, "run_detached", failing)
    with pytest.raises(NexcageError) as err:
        oci_runtime.converge(FakeRuntime(None), CID, str(env), "started")
    assert err.value.message.startswith("Cannot create OCI container 'app1' with runc: ")
    assert "invalid rootfs" in err.value.message and err.value.rc == 1


def backend_params(bundle, **extra):
    params = {"backend": "runc", "hostname": CID, "vmid": None, "image": str(bundle), "state": "started"}
    params.update(stop_timeout=1, runtime_wrapper=None)
    params.update(extra)
    return params


def test_backend_result_and_diff(env):
    runner = FakeRuntime(None)
    result = oci_runtime.RuntimeBackend(backend_params(env), runner, diff=True).execute()
    assert result["changed"] is True and result["steps"] == ["create", "start"] and result["vmid"] is None
    assert result["container"]["id"] == CID and result["container"]["backend"] == "runc"
    assert result["container"]["status"] == "running" and result["container"]["oci_state"]["status"] == "running"
    assert result["diff"] == {"before": {"status": "absent"}, "after": {"status": "running"}}
    assert [c.split()[1] for c in result["commands"]] == ["state", "create", "start", "state"]
    again = oci_runtime.RuntimeBackend(backend_params(env, state="stopped"), runner, diff=True).execute()
    assert again["diff"] == {"before": {"status": "running"}, "after": {"status": "stopped"}}
    gone = oci_runtime.RuntimeBackend(backend_params(env, state="absent", image=None), runner).execute()
    assert gone["container"] is None and "diff" not in gone


def test_backend_needs_an_id_and_a_bundle(env, tmp_path):
    with pytest.raises(NexcageError, match="needs hostname"):
        oci_runtime.RuntimeBackend(backend_params(env, hostname=None), FakeRuntime()).execute()
    with pytest.raises(NexcageError, match="image must be an absolute bundle directory"):
        oci_runtime.RuntimeBackend(backend_params(env, image="local:vztmpl/x.tar.zst"), FakeRuntime()).execute()
    result = oci_runtime.RuntimeBackend(backend_params(env, hostname=None, vmid=7), FakeRuntime(), diff=False)
    assert result.container_id() == "7"


@pytest.mark.parametrize(
    "status, steps",
    [
        (None, ["create", "start"]),
        ("running", ["delete", "create", "start"]),
        ("created", ["delete", "create", "start"]),
    ],
)
def test_check_mode_predicts_the_deploy_of_a_bundle_an_earlier_task_builds(env, tmp_path, status, steps):
    """In check mode the nexcage_bundle task before only plans: a warning and the deploy as a change,
    the new bundle counting as a new config.json; a real run still fails on it."""
    missing = str(tmp_path / "bundles" / "later")
    warned = []
    runner = FakeRuntime(status, check_mode=True)
    result = oci_runtime.RuntimeBackend(backend_params(missing), runner, warn=warned.append).execute()
    assert result["changed"] is True and result["steps"] == steps, result
    assert all(r.planned for r in runner.history if r.argv[1] != "state")
    assert len(warned) == 1 and "no such bundle directory" in warned[0] and "check mode" in warned[0]
    with pytest.raises(NexcageError, match="image must be an absolute bundle directory"):
        oci_runtime.RuntimeBackend(backend_params(missing), FakeRuntime(status)).execute()
    assert ocistate.read_state(CID) is None


def test_stopped_without_image_stops_an_existing_container_and_creates_none(env):
    """The teardown role stops by name only: no bundle is needed to stop, and a missing container is
    not_found (nothing to create it from)."""
    runner = FakeRuntime("running")
    result = oci_runtime.RuntimeBackend(backend_params(env, state="stopped", image=None), runner).execute()
    assert result["steps"] == ["kill"] and runner.status == "stopped"
    assert ocistate.read_state(CID)["bundle"] == "/b"  # the bundle the runtime reports
    with pytest.raises(NexcageError) as err:
        oci_runtime.RuntimeBackend(backend_params(env, state="stopped", image=None), FakeRuntime(None)).execute()
    assert err.value.category == "not_found" and "does not exist" in err.value.message
    with pytest.raises(NexcageError, match="image must be an absolute bundle directory"):
        oci_runtime.RuntimeBackend(backend_params(env, state="started", image=None), FakeRuntime("running")).execute()
