"""The real-format config corpus (tests/fixtures/pve-configs) read and printed as Proxmox VE does.

The corpus is hand-written in the shapes real nodes have (pve-container's own test fixtures,
the PVE docs): snapshots, [pve:pending], raw lxc.* lines, unusedN, devN, mount options,
lock values, template: 1, arm64, markdown descriptions, tags with case. The oracle tests ask
Proxmox's own code (../shared/pve-oracle) and skip when it is not beside the checkout.
"""

import json
import pathlib
import shutil
import subprocess

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils import _pveconfig as C

REPO = pathlib.Path(__file__).resolve().parents[4]
CORPUS = sorted((REPO / "tests" / "fixtures" / "pve-configs").glob("*.conf"))
ORACLE = (REPO / ".." / "shared" / "pve-oracle" / "oracle.pl").resolve()
IDS = [path.stem for path in CORPUS]


def test_corpus_present():
    assert len(CORPUS) >= 12, CORPUS


@pytest.mark.parametrize("path", CORPUS, ids=IDS)
def test_corpus_parses_without_warnings(path):
    text = path.read_text(encoding="utf-8")
    cfg = C.parse_config(text, vmid=100)
    assert cfg["warnings"] == []
    assert cfg["hostname"]


@pytest.mark.parametrize("path", CORPUS, ids=IDS)
def test_corpus_printed_unchanged_keeps_every_value_text(path):
    """Printing a config nothing changed rewrites no value (PVE's writer only re-sorts keys)."""
    cfg = C.parse_config(path.read_text(encoding="utf-8"))
    again = C.parse_config(C.format_config(cfg))
    assert again["raw"] == cfg["raw"]
    # a description: key line comes back as # lines, which PVE reads with a final newline
    assert (again.get("description") or "").rstrip("\n") == (cfg.get("description") or "").rstrip("\n")


@pytest.fixture(scope="module")
def oracle():
    """Answers of Proxmox's own code for every corpus file (parse strict + write)."""
    if not ORACLE.exists():
        pytest.skip("no ../shared/pve-oracle beside the checkout")
    if shutil.which("perl") is None:
        pytest.skip("no perl for ../shared/pve-oracle")
    requests = []
    for path in CORPUS:
        text = path.read_text(encoding="utf-8")
        requests += [{"op": "parse_config", "raw": text, "strict": 1}, {"op": "roundtrip", "raw": text}]
    proc = subprocess.run(
        ["perl", str(ORACLE)],
        input="".join(json.dumps(r) + "\n" for r in requests),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if "Can't locate" in proc.stderr:
        pytest.skip("the Perl packages of ../shared/pve-oracle/README.md are not installed")
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(answers) == len(requests), proc.stderr
    return {path.stem: (answers[2 * i], answers[2 * i + 1]) for i, path in enumerate(CORPUS)}


def _pve_view(section):
    """PVE's parsed section as plain strings (PVE keeps each value as written)."""
    return {
        k: str(v)
        for k, v in section.items()
        if k not in ("description", "lxc", "pending", "snapshots", "digest", "delete")
    }


@pytest.mark.parametrize("path", CORPUS, ids=IDS)
def test_corpus_parse_agrees_with_proxmox(path, oracle):
    parsed, _written = oracle[path.stem]
    assert "error" not in parsed, parsed  # strict: PVE refuses nothing in the corpus
    pve = parsed["conf"]
    ours = C.parse_config(path.read_text(encoding="utf-8"))
    assert ours["raw"][""] == _pve_view(pve)
    assert ours.get("description") == pve.get("description")
    assert ours["lxc"] == pve.get("lxc", [])
    assert ours["digest"] == pve["digest"]
    assert ours["raw"].get("pve:pending", {}) == {k: str(v) for k, v in pve["pending"].items()}
    for name, snapshot in pve["snapshots"].items():
        assert ours["raw"][name] == _pve_view(snapshot)
        assert ours["snapshots"][name].get("description") == snapshot.get("description")
    assert sorted(ours["snapshots"]) == sorted(pve["snapshots"])


@pytest.mark.parametrize("path", CORPUS, ids=IDS)
def test_corpus_printed_as_proxmox_writes_it(path, oracle):
    _parsed, written = oracle[path.stem]
    assert C.format_config(C.parse_config(path.read_text(encoding="utf-8"))) == written["raw"]
