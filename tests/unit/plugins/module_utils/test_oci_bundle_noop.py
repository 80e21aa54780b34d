"""A no-op re-run of nexcage_bundle: the config is not checked again (no jsonschema), a changed file still counts."""

import os
import pathlib

from test_oci_bundle import env, run  # noqa: F401 pylint: disable=unused-import

from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import checks


def _refuse_checks(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("the unchanged config was checked again")

    monkeypatch.setattr(checks, "schema_problems", refuse)
    monkeypatch.setattr(checks, "semantic_problems", refuse)


def test_an_unchanged_bundle_is_not_checked_again(env, monkeypatch):  # noqa: F811
    first, _runner, _manager = run("present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False)
    _refuse_checks(monkeypatch)
    again, runner, _manager = run("present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False)
    assert again["changed"] is False and runner.commands == []
    assert again["validation"] == first["validation"] and again["digest"] == first["digest"]


def test_a_file_changed_in_place_is_still_detected(env, monkeypatch):  # noqa: F811
    run("present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False)
    passwd = env["src"] / "etc" / "passwd"
    before = os.stat(passwd)
    passwd.write_text(passwd.read_text() + "extra:x:1001:1001::/:/bin/sh\n")
    os.utime(passwd, ns=(before.st_atime_ns, before.st_mtime_ns + 1000))
    result, runner, _manager = run("present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False)
    assert result["changed"] and result["rootfs_changed"]
    assert "extra:x" in (pathlib.Path(env["path"]) / "rootfs" / "etc" / "passwd").read_text()


def test_a_changed_config_is_checked(env, monkeypatch):  # noqa: F811
    run("present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False)
    _refuse_checks(monkeypatch)
    try:
        run("present", env["path"], source=str(env["src"]), args=["/bin/sh", "-x"], terminal=False)
    except AssertionError as exc:
        assert "checked again" in str(exc)
    else:
        raise AssertionError("a changed config must be checked")
