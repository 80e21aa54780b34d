"""OCI state files: atomic write, read, remove; valid against the runtime-spec state schema."""

import json
import os

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils._node import ocistate
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths as node_paths

# The upstream schemas in ../shared, beside the checkout (an oracle; never copied in).
SCHEMA_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))),
    "..",
    "shared",
    "oci-runtime-spec",
)


@pytest.fixture(autouse=True)
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(node_paths, "RUN_NEXCAGE", str(tmp_path / "run"))
    return tmp_path / "run"


def _validate(state):
    """Required keys and types of state-schema.json (the schema itself: test_upstream_schema)."""
    assert {"ociVersion", "id", "status", "bundle"} <= set(state)
    assert state["status"] in ocistate.STATUSES and isinstance(state["id"], str) and isinstance(state["bundle"], str)
    if "pid" in state:
        assert isinstance(state["pid"], int) and state["pid"] >= 0


STATES = [("created", None, None), ("running", 4242, {"org.cageforge.nexcage.vmid": "100"}), ("stopped", None, {})]


@pytest.mark.skipif(
    not os.path.isdir(SCHEMA_DIR),
    reason="upstream OCI schemas missing: %s (defs.json, state-schema.json)" % os.path.normpath(SCHEMA_DIR),
)
@pytest.mark.parametrize("status,pid,annotations", STATES)
def test_upstream_schema(run_dir, status, pid, annotations):  # noqa: ARG001 (run_dir: state written under tmp)
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    def load(name):
        with open(os.path.join(SCHEMA_DIR, name), encoding="utf-8") as f:
            return Resource.from_contents(json.load(f), default_specification=DRAFT4)

    state = ocistate.write_state(100, status, pid, "/var/lib/lxc/100", annotations)
    registry = Registry().with_resources([(n, load(n)) for n in ("defs.json", "state-schema.json")])
    jsonschema.Draft4Validator(registry["state-schema.json"].contents, registry=registry).validate(state)


@pytest.mark.parametrize("status,pid,annotations", STATES)
def test_write_read_remove(run_dir, status, pid, annotations):
    state = ocistate.write_state(100, status, pid, "/var/lib/lxc/100", annotations)
    _validate(state)
    assert ocistate.read_state(100) == state
    assert (run_dir / "100" / "state.json").exists()
    assert [p.name for p in (run_dir / "100").iterdir()] == ["state.json"], "no temporary file left"
    assert ocistate.remove_state(100) is True
    assert ocistate.read_state(100) is None
    assert ocistate.remove_state(100) is False


def test_invalid_values():
    with pytest.raises(ValueError):
        ocistate.build_state(100, "paused")
    with pytest.raises(ValueError):
        ocistate.build_state(100, "running", pid=-1)


def test_unreadable_state_is_none(run_dir):
    (run_dir / "101").mkdir(parents=True)
    (run_dir / "101" / "state.json").write_text("{not json")
    assert ocistate.read_state(101) is None
