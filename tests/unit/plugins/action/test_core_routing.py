"""The action plugins of nexcage_container and nexcage_containers: which module a task runs, that the
_core modules ship nothing of the OCI support, and the payload build without garbage collections."""

import ast
import gc
import multiprocessing
import os

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils._container.argspec import argument_spec
from ansible_collections.cageforge.nexcage.plugins.plugin_utils import _module_action as routing

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
PREFIX = "ansible_collections.cageforge.nexcage."
TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


@pytest.mark.parametrize(
    "args, oci",
    [
        ({"vmid": 100, "image": TEMPLATE}, False),
        ({"vmid": 100, "image": TEMPLATE, "backend": "proxmox_lxc"}, False),
        ({"vmid": 100, "state": "absent"}, False),
        ({"vmid": 100, "image": None}, False),
        ({"vmid": 100, "image": "/var/lib/nexcage/bundles/web"}, True),
        ({"vmid": 100, "ostemplate": "/var/lib/nexcage/bundles/web"}, True),
        ({"vmid": 100, "image": "/srv/missing", "state": "absent"}, True),  # the full module handles it all
        ({"hostname": "web", "image": "/b", "backend": "runc"}, True),
        ({"hostname": "web", "backend": "crun"}, True),
        ({"hostname": "web", "backend": "RUNC"}, True),  # not a plain backend: the full module's error
        ({"vmid": 100, "image": ["a list"]}, True),  # not readable as a template: the full module decides
    ],
)
def test_a_task_runs_the_core_module_only_without_oci_needs(args, oci):
    assert routing.container_needs_oci(args) is oci


@pytest.mark.parametrize(
    "args, oci",
    [
        ({"defaults": {"image": TEMPLATE}, "containers": [{"hostname": "a"}, {"hostname": "b", "vmid": 7}]}, False),
        ({"containers": [{"hostname": "a", "image": TEMPLATE}]}, False),
        ({"defaults": None, "containers": [{"hostname": "a", "image": TEMPLATE}]}, False),
        ({"defaults": {"image": "/bundles/web"}, "containers": [{"hostname": "a"}]}, True),
        (
            {"defaults": {"image": TEMPLATE}, "containers": [{"hostname": "a"}, {"hostname": "b", "backend": "crun"}]},
            True,
        ),
        ({"defaults": {"image": TEMPLATE}, "containers": [{"hostname": "a", "image": "/bundles/web"}]}, True),
        # every entry overrides the bundle of the defaults: still the full module (it errs that way)
        ({"defaults": {"image": "/bundles/web"}, "containers": [{"hostname": "a", "image": TEMPLATE}]}, True),
        ({"defaults": "not a dict", "containers": []}, True),
        ({"containers": "not a list"}, True),
        ({"containers": ["not a dict"]}, True),
    ],
)
def test_a_batch_runs_the_core_module_only_when_no_entry_needs_oci(args, oci):
    assert routing.batch_needs_oci(args) is oci


def test_the_image_options_are_the_modules_image_option_and_its_aliases():
    image = argument_spec()["image"]
    assert set(routing.IMAGE_OPTIONS) == {"image", *image.get("aliases", [])}
    assert set(argument_spec()["backend"]["choices"]) - set(routing.PLAIN_BACKENDS) == {"runc", "crun"}


def shipped(module):
    """The collection's module_utils a module's payload ships: every import of ours, at any depth and
    inside functions too, as Ansible's payload builder follows them."""
    seen, todo = set(), [os.path.join(TOP, "plugins", "modules", module + ".py")]
    while todo:
        path = todo.pop()
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
                names = [node.module] + ["%s.%s" % (node.module, alias.name) for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names if alias.name.startswith(PREFIX)]
            for name in names:
                relative = name[len(PREFIX) :].replace(".", os.sep)
                for candidate in (relative + ".py", os.path.join(relative, "__init__.py")):
                    found = os.path.join(TOP, candidate)
                    if os.path.isfile(found) and found not in seen:
                        seen.add(found)
                        todo.append(found)
    return {os.path.relpath(path, os.path.join(TOP, "plugins", "module_utils")) for path in seen}


@pytest.mark.parametrize("module", ["nexcage_container", "nexcage_containers"])
def test_the_core_modules_ship_none_of_the_oci_support(module):
    full, core = shipped(module), shipped(module + "_core")
    oci = {path for path in full if path.startswith("_oci") or path == os.path.join("_container", "bundle.py")}
    assert len(oci) > 10 and os.path.join("_oci", "schema.py") in oci  # the full module ships it
    assert not core & oci and core < full  # (some node readers only the OCI support uses go too)


def run_in_worker(queue):
    with routing.payload_build_gc():
        during = gc.isenabled()
    queue.put((during, gc.isenabled(), gc.get_freeze_count() > 0))


def test_the_payload_build_runs_without_collections_in_a_worker_and_leaves_the_main_process_alone():
    queue = multiprocessing.get_context("fork").Queue()
    worker = multiprocessing.get_context("fork").Process(target=run_in_worker, args=(queue,))
    worker.start()
    during, after, frozen = queue.get(timeout=30)
    worker.join(30)
    assert (during, after, frozen) == (False, True, True)
    if multiprocessing.current_process().name == "MainProcess":
        frozen_before = gc.get_freeze_count()
        with routing.payload_build_gc():
            assert gc.isenabled()
        assert gc.get_freeze_count() == frozen_before


def test_the_core_module_documentation_is_generated_from_the_full_modules():
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, os.path.join(TOP, "scripts", "sync-core-modules.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_every_module_has_an_action_plugin_that_runs_it_with_its_payload_built_without_collections():
    import importlib

    modules = sorted(name[: -len(".py")] for name in os.listdir(os.path.join(TOP, "plugins", "modules")))
    assert "nexcage_container" in modules and "nexcage_container_core" in modules
    for module in modules:
        plugin = importlib.import_module(PREFIX + "plugins.action." + module).ActionModule
        runs = (issubclass(plugin, routing.ModuleAction), plugin.FULL)
        assert runs == (True, "cageforge.nexcage." + module), module
        routed = issubclass(plugin, routing.CoreRouting)
        assert routed == (module in ("nexcage_container", "nexcage_containers")), module
