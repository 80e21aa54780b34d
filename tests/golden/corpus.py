"""Reading the golden corpus (tests/golden/*.jsonl) and the normalisations both sides share.

Pure Python, no Perl, no pvesim: the collection's tests can use it as well.
"""

import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
KINDS = ("propstrings", "configs", "validate", "pct")

MAC_RE = re.compile(r"hwaddr=([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})")
PARAM_ERROR = "400 Parameter verification failed.\n"


def load(kind):
    """The recorded cases of one kind, in id order."""
    with open(os.path.join(HERE, "%s.jsonl" % kind), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def bases():
    """The named file sets (storage.cfg, config files) the pct cases start from."""
    with open(os.path.join(HERE, "bases.json"), encoding="utf-8") as f:
        return json.load(f)


def case_files(case, base_sets):
    files = dict(base_sets[case["base"]]) if case.get("base") else {}
    files.update(case.get("files") or {})
    return files


def given_macs(case):
    return {m.upper() for m in MAC_RE.findall(json.dumps(case, ensure_ascii=False))}


def mask_random_macs(text, given):
    """MACs that were not in the request are random (generated): they become @MAC@."""
    return MAC_RE.sub(lambda m: m.group(0) if m.group(1).upper() in given else "hwaddr=@MAC@", text)


def changed_files(files_in, files_out, given):
    """{relpath: new content or None (removed)} of the config files under nodes/ that changed."""
    changed = {}
    for rel in sorted(set(files_in) | set(files_out)):
        if rel.startswith("nodes/") and files_in.get(rel) != files_out.get(rel):
            changed[rel] = None if rel not in files_out else mask_random_macs(files_out[rel], given)
    return changed


def comparable_stderr(text):
    """Parameter errors come in hash order on a real node: compare them as a sorted list of lines."""
    if text.startswith(PARAM_ERROR):
        return PARAM_ERROR + "".join(sorted(text[len(PARAM_ERROR) :].splitlines(keepends=True)))
    return text
