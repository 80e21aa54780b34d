"""The collection builds, installs, and every module's documentation renders."""

import glob
import importlib.util
import json
import os
import re
import subprocess
import sys

import pytest
import yaml

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(TOP, "plugins", "modules", "*.py")))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    subprocess.run(
        [os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(out), TOP],
        check=True,
        capture_output=True,
    )
    tarballs = glob.glob(str(out / "cageforge-nexcage-*.tar.gz"))
    assert len(tarballs) == 1
    dest = out / "collections"
    subprocess.run(
        [os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--force", "-p", str(dest), tarballs[0]],
        check=True,
        capture_output=True,
    )
    return dest, tarballs[0]


def test_built_tarball_leaves_out_development_files(installed):
    root = installed[0] / "ansible_collections" / "cageforge" / "nexcage"
    assert (root / "galaxy.yml").exists() or (root / "MANIFEST.json").exists()
    for unwanted in (".venv", "benchmarks", ".ci", "build", "requirements"):
        assert not (root / unwanted).exists(), unwanted


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders_installed_module(installed, module):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed[0]))
    proc = subprocess.run(
        [os.path.join(BIN, "ansible-doc"), "--json", "cageforge.nexcage." + module],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)["cageforge.nexcage." + module]
    assert doc["doc"]["short_description"]
    assert doc["examples"].strip()
    assert doc["return"]


def _compat():
    spec = importlib.util.spec_from_file_location("compat", os.path.join(TOP, "scripts", "compat.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _version(text):
    return tuple(int(part) for part in text.split("."))


def test_compat_range_starts_at_the_declared_lowest_version():
    with open(os.path.join(TOP, "meta", "runtime.yml"), encoding="utf-8") as f:
        declared = yaml.safe_load(f)["requires_ansible"]
    lowest = re.fullmatch(r">=\s*([0-9.]+)", declared)
    assert lowest, "requires_ansible %r: scripts/compat.py proves a '>=X' range" % declared
    cores = _compat().CORES
    assert cores == sorted(cores, key=_version) and len(cores) >= 3
    assert cores[0] == lowest.group(1), "make compat must test the lowest declared ansible-core"


def test_make_test_runs_the_lowest_and_the_highest():
    with open(os.path.join(TOP, "Makefile"), encoding="utf-8") as f:
        makefile = f.read()
    test_rule = re.search(r"^test:(.*)$", makefile, re.M).group(1).split()
    assert "compat-ends" in test_rule
    assert re.search(r"^compat-ends:.*\n\t.*scripts/compat.py --ends$", makefile, re.M)
    with open(os.path.join(TOP, ".ci", "run"), encoding="utf-8") as f:
        assert f.read().strip().endswith("make test")


def test_dev_requirements_are_compiled_from_the_direct_ones():
    with open(os.path.join(TOP, "requirements", "dev.in"), encoding="utf-8") as f:
        direct = [re.split(r"[<>=!~ ;\[]", line.strip())[0].lower() for line in f if line.strip()[:1].isalnum()]
    with open(os.path.join(TOP, "requirements", "dev.txt"), encoding="utf-8") as f:
        pins = [line for line in f if line.strip() and not line.startswith("#")]
    names = {line.split("==")[0].lower(): line for line in pins}
    for name in direct:
        assert name in names and "-r requirements/dev.in" in names[name], "%s is not compiled into dev.txt" % name
    for line in pins:
        assert "# via" in line, "%s is pinned but nothing needs it (compile with make requirements)" % line.strip()
    # The module reference is scripts/gen-module-docs.py: no second documentation tool chain.
    assert not {"antsibull-docs", "sphinx", "pytest-ansible"} & set(names)
