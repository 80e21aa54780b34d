"""jsonschema is optional: every module that may need it fails cleanly without it, with the same
message and install hint (never an internal error), and imports it only when it validates."""

import json
import sys

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cageforge.nexcage.plugins.modules import nexcage_bundle, nexcage_container

HINT = "apt-get install python3-jsonschema"


def call(module, args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def no_jsonschema(monkeypatch):
    monkeypatch.delitem(sys.modules, "jsonschema", raising=False)
    monkeypatch.setitem(sys.modules, "jsonschema", None)  # import jsonschema raises ImportError


@pytest.fixture
def bundle_dir(tmp_path):
    bundle = tmp_path / "bundles" / "app"
    (bundle / "rootfs").mkdir(parents=True)
    (bundle / "config.json").write_text(json.dumps({"ociVersion": "1.0.2", "root": {"path": "rootfs"}}))
    return bundle


def check_clean_failure(out):
    assert out["failed"] is True
    assert out["error"]["category"] == "unsupported"
    assert "jsonschema" in out["msg"] and HINT in out["msg"]
    assert "Internal error" not in out["msg"] and "Traceback" not in json.dumps(out)
    return out["msg"]


def test_both_modules_fail_with_the_same_message(no_jsonschema, bundle_dir, capsys):
    bundle_msg = check_clean_failure(
        call(
            nexcage_bundle,
            {"path": str(bundle_dir), "bundle_roots": [str(bundle_dir.parent)], "state": "validated"},
            capsys,
        )
    )
    container_msg = check_clean_failure(call(nexcage_container, {"vmid": 100, "image": str(bundle_dir)}, capsys))
    assert bundle_msg == container_msg


def test_requirements_are_documented():
    import yaml

    for module in (nexcage_bundle, nexcage_container):
        requirements = " ".join(yaml.safe_load(module.DOCUMENTATION).get("requirements") or [])
        assert "jsonschema" in requirements and "python3-jsonschema" in requirements, module.__name__
