"""_module.run: the one exit/fail path (results, nexcage errors, validation errors, the internal-error catch-all)."""

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils import _module
from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import (
    INVALID_ARGUMENT,
    NOT_FOUND,
    UNKNOWN,
    NexcageError,
    ValidationError,
)


class Ended(SystemExit):
    pass


class FakeModule:
    def __init__(self):
        self.ended = None

    def exit_json(self, **kw):
        self.ended = ("exit", kw)
        raise Ended()

    def fail_json(self, **kw):
        self.ended = ("fail", kw)
        raise Ended()


def end(task, **kw):
    module = FakeModule()
    with pytest.raises(Ended):
        _module.run(module, task, name="nexcage_test", **kw)
    return module.ended


def test_result_goes_to_exit_json():
    assert end(lambda: {"changed": True, "commands": []}) == ("exit", {"changed": True, "commands": []})


def test_failed_result_goes_to_fail_json():
    kind, out = end(lambda: {"changed": False, "msg": "2 checks fail", "failed": True})
    assert kind == "fail" and out == {"changed": False, "msg": "2 checks fail"}


def test_nexcage_error_with_context():
    def task():
        raise NexcageError(NOT_FOUND, "no such thing", hint="create it", pools=["a"])

    kind, out = end(task, context=lambda error: {"commands": ["x"], "seen": error.category})
    assert kind == "fail"
    assert out["msg"] == "no such thing" and out["commands"] == ["x"] and out["seen"] == NOT_FOUND
    assert out["error"]["category"] == NOT_FOUND and out["error"]["hint"] == "create it"
    assert out["error"]["pools"] == ["a"]


def test_validation_error():
    def task():
        raise ValidationError("memory", "lots", "must be an integer", "Use e.g. 512")

    kind, out = end(task)
    assert kind == "fail"
    assert out["msg"] == "memory: must be an integer (got 'lots'). Use e.g. 512"
    assert out["error"]["category"] == INVALID_ARGUMENT and out["error"]["option"] == "memory"
    assert out["error"]["hint"] == "Use e.g. 512"


def test_internal_error_is_caught_without_traceback_in_msg():
    def task():
        return {}["missing"]

    kind, out = end(task, what=lambda: "dataset tank/x", context=lambda error: {"commands": []})
    assert kind == "fail"
    assert out["msg"] == "Internal error in nexcage_test for dataset tank/x: KeyError: 'missing'"
    assert out["error"]["category"] == UNKNOWN
    assert "Traceback" in out["error"]["exception"] and "Traceback" not in out["msg"]
    assert out["commands"] == []


def test_a_task_that_ended_the_module_itself():
    module = FakeModule()
    _module.run(module, lambda: None, name="nexcage_test")
    assert module.ended is None
