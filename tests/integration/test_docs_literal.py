"""The docs work when followed literally.

For README.md, docs/getting-started.md and docs/testing.md, in a fresh copy of the tree (the files a
clone has: tracked, plus untracked and not ignored; `.venv` linked to this one, and the Debian template
this checkout's set-up built linked into build/templates, where the set-up finds it current), with a
bare PATH and an empty HOME, every block runs in the document's order:
- a `sh` block as written, with bash (-e -u -o pipefail) in the copy's root;
- a `sh` block marked `<!-- doc-test: node -->` the same way, under `pvesim run`: its commands target
  the node of inventory/example.yml, and the simulated node stands in for it (the copy's
  inventory/example.yml connects locally, with this environment's Python standing in for the node's
  python3 and python3-jsonschema);
- a playbook block under the simulated node with --check, then for real;
- a block marked `<!-- doc-test: save <file> -->` is written to <file> for the blocks after it (one of
  which must use it).
Blocks marked `<!-- doc-test: skip: <reason> -->` do not run; each is listed as a skipped test with
its reason.

One reader follows the docs of a reading (READINGS) one after the other in the same copy, each doc
with a simulated node and a HOME of its own. README.md opens with the command docs/getting-started.md
opens with (`make demo`): in their reading it runs once, and the test asserts that both documents
still open with that same command.

What a real node would already have for inventory/example.yml (getting-started says so) is put on
the simulated node first: the OCI image layout of `app01` and its bind-mount source.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from docblocks import blocks
from integration_conftest import PVESIM, TOP, lxc_available

sys.path.insert(0, os.path.join(TOP, "tests", "fixtures", "oci"))
import ocifix  # noqa: E402

DOCS = ["README.md", "docs/getting-started.md", "docs/testing.md"]
# The docs one reader follows in one fresh copy, in this order. The docs of a reading after the first
# open with the first doc's opening command, which ran already (in this copy, with its result there).
# getting-started comes first: its `make build` packs the tree, where README's blocks leave files.
READINGS = [("docs/getting-started.md", "README.md"), ("docs/testing.md",)]
BARE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
APP01_LAYOUT = "var/lib/nexcage/images/app01-layout"
APP01_MOUNT = "srv/nexcage/app01"  # in the node: /srv is a directory of the simulated node
BLOCK_TIMEOUT = 1500
# Failures the docs-as-tests found that are not the docs' fault, with the bug they show. A doc whose
# only problems are these is reported as an expected failure; once it passes, the entry must go.


def _all_blocks():
    return [block for doc in DOCS for block in blocks(os.path.join(TOP, doc), doc)]


def _skipped():
    return [block for block in _all_blocks() if block.skip_reason is not None]


def _runnable(doc):
    return [block for block in blocks(os.path.join(TOP, doc), doc) if block.skip_reason is None]


def _command(block):
    """The block's commands as a shell runs them: comments and blank lines aside."""
    lines = (re.sub(r"(^|\s)#.*$", "", line).strip() for line in block.text.splitlines())
    return [line for line in lines if line]


def _is_playbook(data):
    return isinstance(data, list) and data and all(isinstance(play, dict) and "hosts" in play for play in data)


def fresh_copy(dest):
    """The tree as a clone has it, with .venv linked to this checkout's environment."""
    names = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=TOP, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in names)):
        src = os.path.join(TOP, name)
        if not os.path.lexists(src) or name == ".venv":
            continue
        target = os.path.join(dest, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(src, target, follow_symlinks=False)
    venv = os.path.realpath(os.path.join(TOP, ".venv"))
    os.symlink(venv, os.path.join(dest, ".venv"))
    # The Debian template (scripts/build-debian-template.sh) as this checkout's set-up built it: the
    # copy's set-up finds it current (same recipe) instead of building it again. Building it from
    # scratch is what `make setup` does in every fresh clone, CI's included. The template is linked
    # (the script replaces it with mv, never writes into it); its recipe stamp is copied.
    built = os.path.join(TOP, "build", "templates")
    if os.path.isdir(built):
        os.makedirs(os.path.join(dest, "build", "templates"), exist_ok=True)
        for name in os.listdir(built):
            src = os.path.realpath(os.path.join(built, name))
            target = os.path.join(dest, "build", "templates", name)
            if name.startswith(".") or not os.path.isfile(src):
                continue
            if name.endswith(".tar.zst"):
                try:
                    os.link(src, target)
                    continue
                except OSError:  # another file system than the checkout's: copied
                    pass
            shutil.copy2(src, target)
    # The linked environment is already installed: keep `make` from reinstalling it into a shared venv.
    marker = os.path.join(venv, ".installed")
    if os.path.exists(marker):
        stamp = os.stat(marker).st_mtime - 1
        os.utime(os.path.join(dest, "requirements", "dev.txt"), (stamp, stamp))
    # The stand-in for the real node: the same inventory, connected locally.
    inventory = os.path.join(dest, "inventory", "example.yml")
    with open(inventory, encoding="utf-8") as f:
        text = f.read()
    for old, new in (
        ("ansible_connection: ssh", "ansible_connection: local"),
        ("ansible_python_interpreter: /usr/bin/python3", "ansible_python_interpreter: %s" % sys.executable),
    ):
        assert old in text, "inventory/example.yml changed: update the stand-in (%s)" % old
        text = text.replace(old, new)
    with open(inventory, "w", encoding="utf-8") as f:
        f.write(text)


def prepare_node(root, work):
    """What inventory/example.yml expects on a real node besides Proxmox VE itself."""
    rootfs = os.path.join(work, "app01-rootfs")
    ocifix.make_busybox_rootfs(rootfs)
    layer = ocifix.tar_directory(rootfs, os.path.join(work, "app01-layer.tar"))
    ocifix.make_oci_layout_from_tars(os.path.join(root, APP01_LAYOUT), [layer], {"config": {"Cmd": ["/sbin/init"]}})
    os.makedirs(os.path.join(root, APP01_MOUNT), exist_ok=True)


def remove_containers(root):
    listing = subprocess.run(
        [PVESIM, "run", "--root", root, "--", "pct", "list"], capture_output=True, text=True, check=False
    )
    for line in listing.stdout.splitlines()[1:]:
        vmid = line.split()[0]
        for argv in (["pct", "stop", vmid], ["pct", "destroy", vmid]):
            subprocess.run([PVESIM, "run", "--root", root, "--"] + argv, capture_output=True, check=False)


class Reader:
    """Follows the docs of one reading in a fresh copy of the tree."""

    def __init__(self, tmp_path):
        self.work = tmp_path
        self.tree = str(tmp_path / "tree")
        os.makedirs(self.tree)
        fresh_copy(self.tree)
        self.env = {
            "PATH": BARE_PATH,
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            "NO_COLOR": "1",
            "ANSIBLE_NOCOLOR": "1",
        }
        self.nodes = []
        self.saved = {}
        self.log = []

    def start(self, doc):
        """A simulated node with what the doc's node has (prepare_node) and an empty HOME, for the doc."""
        work = self.work / re.sub(r"\W", "-", doc)
        self.node = str(work / "node")
        self.home = str(work / "home")
        os.makedirs(self.home)
        subprocess.run([PVESIM, "init", self.node], check=True, capture_output=True)
        self.nodes.append(self.node)
        prepare_node(self.node, str(work))
        self.env["HOME"] = self.home

    def sh(self, text, on_node):
        argv = ["bash", "-euo", "pipefail", "-c", text]
        if on_node:
            argv = [PVESIM, "run", "--root", self.node, "--"] + argv
        proc = subprocess.run(
            argv, cwd=self.tree, env=self.env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT, check=False
        )
        return proc.returncode, proc.stdout + proc.stderr

    @staticmethod
    def tail(text, out):
        """The last command of the block that ran (ansible prints no command line), and the output's end."""
        return "block:\n%s\noutput (end):\n%s" % (text, out[-4000:])

    def playbook(self, path, *extra):
        playbook = os.path.join(self.tree, ".venv", "bin", "ansible-playbook")
        return self.sh(" ".join([playbook, "-i", "inventory/example.yml", path] + list(extra)), on_node=True)

    def follow(self, block):
        """Run one block; return a problem, or None."""
        if block.lang == "sh":
            rc, out = self.sh(block.text, block.on_node)
            self.log.append((block.ident, out))
            if rc != 0:
                return "%s: exit %d\n%s" % (block.ident, rc, self.tail(block.text, out))
            if "Nothing to do" in out:
                return "%s: a command did nothing ('Nothing to do')\n%s" % (block.ident, out[-2000:])
            return None
        if block.lang != "yaml":
            return None
        data = yaml.safe_load(block.text)
        if block.save_as:
            with open(os.path.join(self.tree, block.save_as), "w", encoding="utf-8") as f:
                f.write(block.text)
            self.saved[block.save_as] = block
            return None
        if not _is_playbook(data):
            return None
        path = "doc-block-%d.yml" % block.line
        with open(os.path.join(self.tree, path), "w", encoding="utf-8") as f:
            f.write(block.text)
        for extra in (("--check",), ()):
            rc, out = self.playbook(path, *extra)
            self.log.append(("%s %s" % (block.ident, " ".join(extra)), out))
            if rc != 0:
                return "%s (playbook %s): exit %d\n%s" % (block.ident, " ".join(extra) or "real run", rc, out[-4000:])
        return None


@pytest.mark.real_lxc
@pytest.mark.slow
@pytest.mark.skipif(not lxc_available(), reason="needs LXC (lxc-start) and root")
@pytest.mark.skipif(not ocifix.have_busybox(), reason="busybox-static not installed (/bin/busybox)")
@pytest.mark.parametrize("reading", READINGS, ids="+".join)
def test_docs_work_as_written(reading, tmp_path):
    opening = _runnable(reading[0])[0]
    for doc in reading[1:]:
        first = _runnable(doc)[0]
        assert first.lang == opening.lang == "sh" and _command(first) == _command(opening), (
            "%s no longer opens with the command %s opens with (%s): give it a reading of its own in READINGS"
            % (first.ident, opening.ident, _command(opening))
        )
    reader = Reader(tmp_path)  # fresh nodes: `make demo`'s own VMIDs
    problems = []
    homes = {}
    try:
        for doc in reading:
            reader.start(doc)
            homes[doc] = reader.home
            runnable = _runnable(doc)
            # After the first doc, the opening command ran already (asserted the same above).
            for block in runnable[1:] if doc != reading[0] else runnable:
                problem = reader.follow(block)
                if problem:
                    problems.append(problem)
    finally:
        for node in reader.nodes:
            remove_containers(node)
    assert not problems, "\n\n".join(problems)
    for name, block in reader.saved.items():
        assert name in "".join(b.text for b in blocks(os.path.join(TOP, block.doc), block.doc) if b.lang == "sh"), (
            "%s saves %s, but no block runs it" % (block.ident, name)
        )
    for doc in reading:
        ran = "\n".join(text for ident, text in reader.log if ident.split()[0].startswith(doc))
        if doc == "README.md":
            # The README's claim: with -v, the check run shows the pct commands it would run.
            assert re.search(r"- pct create \d+ local:vztmpl/debian-12-standard", ran), ran[-4000:]
        if doc == "docs/getting-started.md":
            installed = os.path.join(
                homes[doc], ".ansible", "collections", "ansible_collections", "cageforge", "nexcage"
            )
            assert os.path.exists(os.path.join(installed, "MANIFEST.json")), (
                "the install put no copy in ~/.ansible\n" + ran
            )


@pytest.mark.parametrize("block", _skipped(), ids=lambda block: block.ident)
def test_blocks_not_run_here(block):
    assert block.skip_reason.strip(), "%s is marked skip without a reason" % block.ident
    pytest.skip("%s is not run here: %s" % (block.ident, block.skip_reason))


def test_markers_are_understood():
    """Every block the docs mark is one the runner handles, each doc has runnable blocks, and each doc is
    in one reading."""
    assert sorted(doc for reading in READINGS for doc in reading) == sorted(DOCS)
    for doc in DOCS:
        found = blocks(os.path.join(TOP, doc), doc)
        assert any(b.lang == "sh" and b.skip_reason is None for b in found), doc
        for block in found:
            if block.on_node or block.skip_reason is not None:
                assert block.lang == "sh", "%s: only sh blocks run on the node or are skipped" % block.ident
            if block.save_as:
                assert block.lang == "yaml", block.ident
