"""Each role's defaults, argument specs and README agree (pure file checks, no subprocess)."""

import glob
import os

import pytest
import yaml

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(TOP, "roles", "*")) if os.path.isdir(p))
TASK_KEYWORDS = {
    "name", "vars", "when", "register", "loop", "loop_control", "changed_when", "failed_when", "check_mode",
    "block", "always", "rescue", "tags", "notify", "delegate_to", "become", "ignore_errors", "no_log",
}  # fmt: skip


def _load(role, *parts):
    with open(os.path.join(TOP, "roles", role, *parts), encoding="utf-8") as f:
        return yaml.safe_load(f)


def _tasks(role):
    for path in sorted(glob.glob(os.path.join(TOP, "roles", role, "tasks", "*.yml"))):
        with open(path, encoding="utf-8") as f:
            yield from _flatten(yaml.safe_load(f) or [])


def _flatten(tasks):
    for task in tasks:
        yield task
        for key in ("block", "always", "rescue"):
            yield from _flatten(task.get(key, []))


def test_the_three_roles_exist():
    assert set(ROLES) >= {"node", "container", "teardown"}


@pytest.mark.parametrize("role", ROLES)
def test_defaults_match_the_argument_spec(role):
    defaults = _load(role, "defaults", "main.yml")
    options = _load(role, "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert set(defaults) == set(options), "defaults and argument spec name different variables"
    for name, spec in options.items():
        assert name.startswith(role + "_"), "%s: variables carry the role's prefix" % name
        assert spec.get("description"), name
        if "default" in spec:
            assert defaults[name] == spec["default"], name
        else:
            assert defaults[name] is None, "%s: no default in the spec, so null in defaults/main.yml" % name


@pytest.mark.parametrize("role", ROLES)
def test_defaults_are_commented(role):
    with open(os.path.join(TOP, "roles", role, "defaults", "main.yml"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith((" ", "#", "-")) and ":" in line:
            assert lines[i - 1].startswith("#"), "%s is not documented by a comment above it" % line


@pytest.mark.parametrize("role", ROLES)
def test_readme_names_every_variable(role):
    with open(os.path.join(TOP, "roles", role, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert readme.startswith("# cageforge.nexcage.%s" % role)
    for name in _load(role, "defaults", "main.yml"):
        assert "`%s`" % name in readme, name


@pytest.mark.parametrize("role", ROLES)
def test_meta_main_has_galaxy_info(role):
    info = _load(role, "meta", "main.yml")["galaxy_info"]
    assert info["description"] and info["license"] == "GPL-3.0-or-later"


@pytest.mark.parametrize("role", ROLES)
def test_every_task_is_named_and_uses_fqcn(role):
    for task in _tasks(role):
        assert task.get("name"), task
        actions = [k for k in task if k not in TASK_KEYWORDS]
        if "block" in task:
            continue
        assert len(actions) == 1, task
        assert actions[0].startswith(("ansible.builtin.", "cageforge.nexcage.")), actions[0]
