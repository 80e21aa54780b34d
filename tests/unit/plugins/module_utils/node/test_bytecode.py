"""_node.bytecode: module_utils imported from a zip (as from an AnsiballZ payload) load the code an
earlier run compiled, when it was compiled from the same source, from a directory only root can write.

Each run is a fresh Python whose only import path for the collection is the zip, as on a node; it
counts the compilations of the probe module's source and prints what the probe computed."""

import ast
import json
import os
import pathlib
import subprocess
import sys
import zipfile

COLLECTION = pathlib.Path(__file__).resolve().parents[5] / "plugins"
PACKAGE = "ansible_collections/cageforge/nexcage/plugins/module_utils"

RUN = r"""
import builtins, json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import bytecode, paths
paths.BYTECODE_DIR = sys.argv[2]
compiled = []
real_compile = builtins.compile
def counting_compile(source, filename, *args, **kwargs):
    if filename.endswith("probe.py"):
        compiled.append(filename)
    return real_compile(source, filename, *args, **kwargs)
builtins.compile = counting_compile
bytecode.install()
from ansible_collections.cageforge.nexcage.plugins.module_utils import probe
print(json.dumps({"value": probe.VALUE, "compiled": len(compiled), "file": probe.where(),
                  "loader": type(probe.__spec__.loader).__name__}))
"""

PROBE = "VALUE = %r\n\n\ndef where():\n    return where.__code__.co_filename\n"


def make_zip(path, value):
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("ansible_collections", "ansible_collections/cageforge", "ansible_collections/cageforge/nexcage"):
            archive.writestr(name + "/__init__.py", "")
        archive.writestr("ansible_collections/cageforge/nexcage/plugins/__init__.py", "")
        archive.writestr(PACKAGE + "/__init__.py", "")
        for name in ("__init__.py", "bytecode.py", "paths.py"):
            archive.write(COLLECTION / "module_utils" / "_node" / name, PACKAGE + "/_node/" + name)
        archive.writestr(PACKAGE + "/probe.py", PROBE % value)
    return str(path)


def run(payload, cache):
    proc = subprocess.run(
        [sys.executable, "-S", "-c", RUN, payload, str(cache)],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"),
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_second_run_loads_the_code_the_first_compiled(tmp_path):
    cache = tmp_path / "cache"
    first = run(make_zip(tmp_path / "one.zip", 1), cache)
    assert (first["value"], first["compiled"], first["loader"]) == (1, 1, "CachingLoader")
    stored = cache / "probe.code"
    assert stored.stat().st_mode & 0o777 == 0o600 and cache.stat().st_mode & 0o777 == 0o700
    second = run(make_zip(tmp_path / "two.zip", 1), cache)  # another payload of the same source
    assert (second["value"], second["compiled"]) == (1, 0)
    assert second["file"].startswith(str(tmp_path / "two.zip"))  # tracebacks name this run's zip


def test_changed_source_is_compiled_again_and_replaces_the_cache(tmp_path):
    cache = tmp_path / "cache"
    run(make_zip(tmp_path / "one.zip", 1), cache)
    changed = run(make_zip(tmp_path / "two.zip", 2), cache)
    assert (changed["value"], changed["compiled"]) == (2, 1)
    again = run(make_zip(tmp_path / "three.zip", 2), cache)
    assert (again["value"], again["compiled"]) == (2, 0)


def test_a_damaged_cache_file_is_compiled_again(tmp_path):
    cache = tmp_path / "cache"
    payload = make_zip(tmp_path / "one.zip", 1)
    run(payload, cache)
    stored = cache / "probe.code"
    stored.write_bytes(stored.read_bytes()[:40])
    assert run(payload, cache)["compiled"] == 1
    assert run(payload, cache)["compiled"] == 0


def test_a_directory_others_can_write_is_not_trusted(tmp_path):
    cache = tmp_path / "cache"
    payload = make_zip(tmp_path / "one.zip", 1)
    run(payload, cache)
    cache.chmod(0o777)
    assert run(payload, cache)["compiled"] == 1
    cache.chmod(0o700)
    (cache / "probe.code").chmod(0o666)
    assert run(payload, cache)["compiled"] == 1


def test_a_symlinked_cache_file_is_not_followed(tmp_path):
    cache = tmp_path / "cache"
    payload = make_zip(tmp_path / "one.zip", 1)
    run(payload, cache)
    stored = cache / "probe.code"
    planted = tmp_path / "planted"
    planted.write_bytes(stored.read_bytes())
    stored.unlink()
    stored.symlink_to(planted)
    assert run(payload, cache)["compiled"] == 1


def test_imports_outside_a_zip_are_left_to_the_other_finders():
    from ansible_collections.cageforge.nexcage.plugins import module_utils
    from ansible_collections.cageforge.nexcage.plugins.module_utils._node import bytecode

    name = "ansible_collections.cageforge.nexcage.plugins.module_utils._errors"
    assert bytecode.ZipFinder().find_spec(name, list(module_utils.__path__)) is None
    assert bytecode.ZipFinder().find_spec("json") is None


# nexcage_health runs rarely (a node check, not a converged task per container): it compiles as before.
WITHOUT_CACHE = {"nexcage_health"}


def test_each_module_installs_the_cache_before_it_imports_the_collection():
    """A module's top level imports only _node.bytecode of the collection, and main() calls
    bytecode.install() first: an import of the collection before it would be compiled on every run."""
    checked = []
    for path in sorted((COLLECTION / "modules").glob("nexcage_*.py")):
        if path.stem in WITHOUT_CACHE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = [node.module for node in tree.body if isinstance(node, ast.ImportFrom) and "cageforge" in node.module]
        assert top == ["ansible_collections.cageforge.nexcage.plugins.module_utils._node"], (path.name, top)
        main = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "main")
        assert ast.unparse(main.body[0]) == "bytecode.install()", path.name
        checked.append(path.stem)
    assert "nexcage_bundle" in checked and "nexcage_container" in checked
