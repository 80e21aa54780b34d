"""The fenced code blocks of a Markdown document, with the doc-test markers that precede them.

A marker is an HTML comment (invisible when the page is rendered) on the lines just before a fence:

  <!-- doc-test: skip: <reason> -->   the block is not run; the reason says why (a real Proxmox VE VM, ...)
  <!-- doc-test: node -->             a shell block whose commands target the Proxmox VE node of
                                      inventory/example.yml: the simulated node stands in for it
  <!-- doc-test: save <file> -->      the block is the file <file> the next blocks use

tests/integration/test_docs_literal.py runs the blocks; test_molecule.py runs the molecule one.
"""

import re

FENCE = re.compile(r"^```(\w*)\s*$")
MARKER = re.compile(r"^<!--\s*doc-test:\s*(skip|node|save)\b:?\s*(.*?)\s*-->\s*$")


class Block:
    def __init__(self, doc, line, lang, text, markers):
        self.doc = doc
        self.line = line
        self.lang = lang
        self.text = text
        self.markers = markers

    @property
    def skip_reason(self):
        return self.markers.get("skip")

    @property
    def on_node(self):
        return "node" in self.markers

    @property
    def save_as(self):
        return self.markers.get("save")

    @property
    def ident(self):
        return "%s:%d" % (self.doc, self.line)

    def __repr__(self):
        return "<Block %s %s %s>" % (self.ident, self.lang, self.markers)


def blocks(path, name=None):
    """Every fenced block of the document at path, in order."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    found = []
    markers = {}
    index = 0
    while index < len(lines):
        line = lines[index]
        marker = MARKER.match(line)
        fence = FENCE.match(line)
        if marker:
            markers[marker.group(1)] = marker.group(2)
        elif fence:
            start = index + 1
            end = start
            while end < len(lines) and not lines[end].startswith("```"):
                end += 1
            text = "\n".join(lines[start:end]) + "\n"
            found.append(Block(name or path, start, fence.group(1), text, markers))
            markers = {}
            index = end
        elif line.strip():
            markers = {}
        index += 1
    return found
