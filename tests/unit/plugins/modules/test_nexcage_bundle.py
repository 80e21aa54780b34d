"""nexcage_bundle as a module: argument handling, results, failures, docs matching the argspec."""

import json
import os
import sys

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import bundle as oci_bundle
from ansible_collections.cageforge.nexcage.plugins.modules import nexcage_bundle

pytest.importorskip("jsonschema", reason="jsonschema is not installed in this Python")


def call(args, capsys, check_mode=False, diff=False):
    args = dict(args)
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args), pytest.raises(SystemExit) as exc:
        nexcage_bundle.main()
    out = json.loads(capsys.readouterr().out)
    out["_rc"] = exc.value.code
    return out


@pytest.fixture
def setup(tmp_path):
    roots = tmp_path / "bundles"
    roots.mkdir()
    src = tmp_path / "src"
    (src / "bin").mkdir(parents=True)
    (src / "bin" / "sh").write_text("#!/bin/true\n")
    (src / "bin" / "sh").chmod(0o755)
    base = dict(path=str(roots / "app"), bundle_roots=[str(roots)], source=str(src), args=["/bin/sh"], terminal=False)
    return dict(roots=roots, src=src, base=base)


def test_present_check_apply_idempotent(setup, capsys):
    out = call(setup["base"], capsys, check_mode=True, diff=True)
    assert out["_rc"] == 0 and out["changed"] is True and not os.path.exists(setup["base"]["path"])
    assert out["diff"]["before"] == "" and json.loads(out["diff"]["after"]) == out["config"]
    predicted = out["digest"]
    out = call(setup["base"], capsys)
    assert out["changed"] is True and out["validation"] == [] and out["path"] == setup["base"]["path"]
    assert out["commands"] == []  # rootfs_mode copy: the module copies, no cp
    digest = out["digest"]
    assert digest == predicted
    out = call(setup["base"], capsys)
    assert out["changed"] is False and out["digest"] == digest and out["commands"] == []
    out = call(setup["base"], capsys, check_mode=True)
    assert out["changed"] is False


def test_a_source_an_earlier_task_makes_is_a_predicted_build_in_check_mode(setup, capsys, monkeypatch, tmp_path):
    """Check mode only plans the task that makes the source: the bundle is predicted, with a warning;
    the real run still fails on a source that is missing."""
    seen = []
    monkeypatch.setattr(nexcage_bundle.AnsibleModule, "warn", lambda self, msg: seen.append(msg))
    args = dict(setup["base"], source=str(tmp_path / "made-later"))
    out = call(args, capsys, check_mode=True, diff=True)
    assert out["_rc"] == 0 and out["changed"] is True and out["rootfs_changed"] is True, out
    assert any("made-later does not exist" in w and "check mode" in w for w in seen), seen
    assert not os.path.exists(args["path"]) and not os.path.exists(args["source"])
    out = call(args, capsys)
    assert out["failed"] is True and "made-later does not exist" in out["msg"]
    assert out["error"]["category"] == "not_found" and not os.path.exists(args["path"])
    # a missing template volume is the node's answer, not something a play makes: still a failure
    missing = call(dict(setup["base"], source="local:vztmpl/nope.tar.zst"), capsys, check_mode=True)
    assert missing["failed"] is True


def test_path_outside_bundle_roots(setup, capsys, tmp_path):
    args = dict(setup["base"], path=str(tmp_path / "elsewhere" / "app"))
    out = call(args, capsys)
    assert out["_rc"] == 1 and out["failed"] is True
    assert "not inside any of bundle_roots" in out["msg"]
    assert out["error"]["category"] == "permission_denied" and out["validation"] == []
    assert not os.path.exists(tmp_path / "elsewhere")


def test_invalid_config_fails_with_problems(setup, capsys):
    out = call(dict(setup["base"], cwd="rel", env=["NOEQUALS"]), capsys)
    assert out["failed"] is True
    paths = {p["path"] for p in out["validation"]}
    assert {"$.process.cwd", "$.process.env[2]"} <= paths
    assert all({"path", "value", "level", "check", "message", "fix"} <= set(p) for p in out["validation"])
    assert os.listdir(setup["roots"]) == []


def test_validated_reports_and_fails(setup, capsys):
    call(setup["base"], capsys)
    cfg_path = os.path.join(setup["base"]["path"], "config.json")
    with open(cfg_path) as fh:
        cfg = json.load(fh)
    cfg["linux"]["namespaces"].append({"type": "pid"})
    with open(cfg_path, "w") as fh:
        json.dump(cfg, fh)
    out = call(dict(path=setup["base"]["path"], bundle_roots=setup["base"]["bundle_roots"], state="validated"), capsys)
    assert out["failed"] is True and out["valid"] is False and out["changed"] is False
    assert [p["path"] for p in out["validation"]] == ["$.linux.namespaces[5].type"]
    assert "namespace pid is listed twice" in out["msg"]


def test_warnings_surface(setup, capsys, monkeypatch):
    seen = []
    monkeypatch.setattr(nexcage_bundle.AnsibleModule, "warn", lambda self, msg: seen.append(msg))
    out = call(dict(setup["base"], annotations={"plainkey": "x"}), capsys)
    assert out["changed"] is True
    assert [p["level"] for p in out["validation"]] == ["warning"]
    assert any("$.annotations.plainkey" in w and "reverse-domain" in w for w in seen)


def test_absent(setup, capsys):
    call(setup["base"], capsys)
    args = dict(path=setup["base"]["path"], bundle_roots=setup["base"]["bundle_roots"], state="absent")
    out = call(args, capsys)
    assert out["changed"] is True and not os.path.exists(setup["base"]["path"])
    out = call(args, capsys)
    assert out["changed"] is False


def test_missing_jsonschema(setup, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "jsonschema", None)  # import jsonschema raises ImportError
    out = call(setup["base"], capsys)
    assert out["failed"] is True and out["error"]["category"] == "unsupported"
    assert "jsonschema" in out["msg"] and "python3-jsonschema" in out["msg"] and "Internal error" not in out["msg"]
    assert not os.path.exists(setup["base"]["path"])
    # absent needs no jsonschema
    out = call(dict(path=setup["base"]["path"], bundle_roots=setup["base"]["bundle_roots"], state="absent"), capsys)
    assert out["_rc"] == 0


def _doc_options(doc):
    return yaml.safe_load(doc)["options"]


def test_documentation_matches_argspec():
    doc = _doc_options(nexcage_bundle.DOCUMENTATION)
    yaml.safe_load(nexcage_bundle.EXAMPLES)
    ret = yaml.safe_load(nexcage_bundle.RETURN)
    assert {"path", "config", "digest", "validation", "commands"} <= set(ret)
    spec = {k: v for k, v in nexcage_bundle.argument_spec().items() if k != "command_timeout"}
    assert set(doc) == set(spec)
    for name, opt in spec.items():
        assert doc[name]["type"] == opt["type"], name
        assert doc[name].get("default") == opt.get("default"), name
        assert doc[name].get("choices") == opt.get("choices"), name
        if opt.get("options"):
            assert set(doc[name]["suboptions"]) == set(opt["options"]), name
    assert spec["bundle_roots"]["default"] == list(oci_bundle.DEFAULT_BUNDLE_ROOTS)
