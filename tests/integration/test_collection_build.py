"""The collection builds, installs, and every module's documentation renders."""

import glob
import json
import os
import subprocess
import sys

import pytest

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
