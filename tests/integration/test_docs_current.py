"""docs/modules/ is generated from the modules' documentation and must be current.

Regenerate with: .venv/bin/python scripts/gen-module-docs.py
"""

import glob
import importlib.util
import os

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(TOP, "docs", "modules")


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_module_docs", os.path.join(TOP, "scripts", "gen-module-docs.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def gen():
    return _load_generator()


@pytest.fixture(scope="module")
def pages(gen):
    return gen.expected_pages()


def test_every_module_has_a_page(gen, pages):
    names = gen.modules()
    assert names, "no modules found under plugins/modules"
    for name in names:
        assert name + ".md" in pages
        text = pages[name + ".md"]
        assert text.startswith(gen.HEADER)
        assert "# cageforge.nexcage." + name in text
        assert "## Parameters" in text
        assert "## Examples" in text
        assert "## Return values" in text
    assert "index.md" in pages


def test_generated_pages_are_current(gen, pages):
    problems = gen.stale_pages(OUT, pages)
    assert not problems, "docs/modules is stale (run: .venv/bin/python scripts/gen-module-docs.py): %s" % problems


def test_check_detects_stale_missing_and_orphan_pages(gen, pages, tmp_path):
    gen.write_pages(str(tmp_path), pages)
    assert gen.stale_pages(str(tmp_path), pages) == []
    first = sorted(p for p in pages if p != "index.md")[0]
    (tmp_path / first).write_text(pages[first].replace("## Parameters", "## Params"))
    (tmp_path / "index.md").unlink()
    (tmp_path / "nexcage_gone.md").write_text(gen.HEADER + "\n# old\n")
    (tmp_path / "handwritten.md").write_text("# not generated\n")
    problems = gen.stale_pages(str(tmp_path), pages)
    assert "%s: stale" % first in problems
    assert "index.md: missing" in problems
    assert "nexcage_gone.md: generated for a module that no longer exists" in problems
    assert not any(p.startswith("handwritten.md") for p in problems)
    gen.write_pages(str(tmp_path), pages)
    assert gen.stale_pages(str(tmp_path), pages) == []
    assert (tmp_path / "handwritten.md").exists()
    assert not (tmp_path / "nexcage_gone.md").exists()


def test_markup_is_converted(gen):
    text = gen.markup(
        "O(state=absent) V(true) C(zfs -p) RV(commands) B(data loss) I(it) L(PVE,https://pve.proxmox.com)"
    )
    assert text == "`state=absent` `true` `zfs -p` `commands` **data loss** *it* [PVE](https://pve.proxmox.com)"
    assert gen.markup("M(cageforge.nexcage.nexcage_health)") == "[cageforge.nexcage.nexcage_health](nexcage_health.md)"
    assert gen.markup("M(community.general.zfs)") == "`community.general.zfs`"


def test_no_unconverted_markup_in_pages():
    for path in glob.glob(os.path.join(OUT, "*.md")):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for token in ("O(", "V(", "RV(", "C(", "M("):
            outside_examples = text.split("```yaml")[0]
            assert token not in outside_examples, "%s: %s left in %s" % (os.path.basename(path), token, path)
