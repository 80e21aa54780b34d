"""Shared pytest set-up: the collection importable as ansible_collections.cageforge.nexcage,
and the simulated node's package importable as pvesim."""

import os
import runpy
import sys

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(TOP, "build", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "cageforge", "nexcage")

# Cheap, and picks up top-level entries added since the last run.
runpy.run_path(os.path.join(TOP, "scripts", "link-collection.py"))["link_collection"](TOP)
for path in (COLLECTIONS, os.path.join(TOP, "tests", "pvesim")):
    if path not in sys.path:
        sys.path.insert(0, path)


# The unit tests of _node use it. It lives here, not in a conftest.py of their own: the integration
# tests import names from their conftest module, and a second conftest module would shadow it.
@pytest.fixture
def node_root(tmp_path, monkeypatch):
    # Imported here: a conftest is loaded before the collection loader is ready.
    from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths

    etc = tmp_path / "etc/pve"
    (etc / "lxc").mkdir(parents=True)
    for name, value in {
        "ETC_PVE": etc,
        "LXC_CONF_DIR": etc / "lxc",
        "VMLIST": etc / ".vmlist",
        "STORAGE_CFG": etc / "storage.cfg",
        "DATACENTER_CFG": etc / "datacenter.cfg",
        "LOCAL_NODE_LINK": etc / "local",
        "PROC_NET_UNIX": tmp_path / "proc_net_unix",
        "CGROUP_ROOT": tmp_path / "cgroup",
        "LOCK_DIR": tmp_path / "lock",
        "VMID_LOCK": tmp_path / "lock/nexcage-vmid.lock",
        "RUN_NEXCAGE": tmp_path / "run",
        "RECORD_DIR": tmp_path / "records",
    }.items():
        monkeypatch.setattr(paths, name, str(value))
    return tmp_path


# ---------------------------------------------------------------- the bystander node
#
# When the whole suite runs (no paths given, e.g. `make test`), or with --bystander, the session runs
# while another simulated node runs CT 100 (pvesim.bystander), and fails if that CT did not run
# throughout: each node is its own world, so neither the tests' nodes nor their VMIDs may touch it.
# Exactly one per session: started by the controller (under xdist, before any worker starts), checked
# and removed at the end. Its node lives in BYSTANDERS/<pid>, whose owner.lock the session holds; a
# node left by a killed session is removed by the next one (its keeper then ends its CT).

BYSTANDERS = "/tmp/nexcage-bystanders"
_BYSTANDER = pytest.StashKey()


class _BystanderRun:
    def __init__(self, home):
        self.home = home
        self.lock = None
        self.bystander = None
        self.outcome = None  # a line for the summary
        self.failed = False


def pytest_addoption(parser):
    group = parser.getgroup("nexcage")
    group.addoption(
        "--bystander",
        dest="bystander",
        action="store_true",
        default=None,
        help="run the session while another simulated node runs CT 100, and fail if it was disturbed "
        "(the default when the whole suite runs)",
    )
    group.addoption("--no-bystander", dest="bystander", action="store_false", help="no bystander node")


def _bystander_wanted(config):
    if hasattr(config, "workerinput"):  # an xdist worker: the controller has the session's bystander
        return False
    if config.option.collectonly or config.option.showfixtures or config.option.show_fixtures_per_test:
        return False
    wanted = config.getoption("bystander")
    return config.args_source == pytest.Config.ArgsSource.TESTPATHS if wanted is None else wanted


def _remove_stale_bystanders():
    import fcntl
    import shutil

    from pvesim.bystander import Bystander

    for name in os.listdir(BYSTANDERS):
        home = os.path.join(BYSTANDERS, name)
        try:
            with open(os.path.join(home, "owner.lock"), "a+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                Bystander(os.path.join(home, "node")).stop()
        except BlockingIOError:
            continue  # its session still runs
        except OSError:
            pass
        shutil.rmtree(home, ignore_errors=True)


def pytest_sessionstart(session):
    config = session.config
    if not _bystander_wanted(config):
        return
    import fcntl

    from pvesim import runtime, setup
    from pvesim.bystander import Bystander, BystanderError

    run = _BystanderRun(os.path.join(BYSTANDERS, str(os.getpid())))
    config.stash[_BYSTANDER] = run
    if not runtime.lxc_available() or not setup.busybox_runnable():
        run.outcome = "bystander: not started: it needs LXC, root and busybox-static"
        return
    os.makedirs(BYSTANDERS, exist_ok=True)
    _remove_stale_bystanders()
    os.makedirs(run.home)
    run.lock = open(os.path.join(run.home, "owner.lock"), "a+")  # noqa: SIM115 - held for the session
    fcntl.flock(run.lock, fcntl.LOCK_EX)
    run.bystander = Bystander(os.path.join(run.home, "node"))
    try:
        run.bystander.start()
    except BystanderError as e:
        run.outcome, run.failed = str(e), True


def _end_bystander(run):
    import shutil

    if run.bystander is None:
        return
    if not run.failed:
        problem = run.bystander.problem()
        run.outcome = problem or "bystander: %s ran throughout the session" % run.bystander.describe()
        run.failed = problem is not None
    run.bystander.stop()
    run.bystander = None
    shutil.rmtree(run.home, ignore_errors=True)
    run.lock.close()


def pytest_sessionfinish(session):
    run = session.config.stash.get(_BYSTANDER, None)
    if run is None:
        return
    _end_bystander(run)
    if run.failed and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, config):
    run = config.stash.get(_BYSTANDER, None)
    if run is not None and run.outcome:
        terminalreporter.write_line(("FAILED " if run.failed else "") + run.outcome, red=run.failed, bold=run.failed)


def pytest_unconfigure(config):
    run = config.stash.get(_BYSTANDER, None)
    if run is not None:
        _end_bystander(run)  # the session ended early (an interrupted run)
