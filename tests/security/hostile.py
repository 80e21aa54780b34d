"""Hostile values (hypothesis strategies) and the oracle that judges one module run.

A case ends well in exactly two ways:
- refused: the module failed with a message that names the option (or JSON path), without a
  traceback or an "Internal error", and the node did not change;
- accepted: no control character of the value reached a planned command, a config line or a raw
  lxc.* line, no lxc.hook/lxc.include key appeared, and no guarded host path was let through;
and either way the host outside the simulated node did not change (the worker's host guard).

Every judged case is counted in TALLY; the suite prints the totals at the end of the session.
"""

import json
import re

from hypothesis import strategies as st

MARKER = "/tmp/nexcage-pwned"
INJECT_LF = "\nlxc.hook.pre-start: " + MARKER
INJECT_CR = "\rlxc.hook.pre-start = " + MARKER
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
FORBIDDEN_LXC_KEY = re.compile(r"^\s*lxc\.(hook|include)", re.IGNORECASE)

# C0 controls and DEL, one each, so every one of them is thrown at every option sooner or later.
CONTROLS = [chr(code) for code in range(0x20)] + ["\x7f"]
PIECES = CONTROLS + [
    INJECT_LF,
    INJECT_CR,
    "\x00" + INJECT_LF,
    "--delete",
    "--force",
    "-rf",
    "--x=1",
    "=",
    ",",
    ";",
    "#",
    ":",
    ",mp=/",
    ";rm -rf /",
    "../",
    "/..",
    "/../../etc",
    "..",
    ".",
    "~",
    "~/x",
    "$HOME",
    "${PATH}",
    "$(id)",
    "`id`",
    "'",
    '"',
    " ",
    "\\",
    "%00",
    "\u00e9",
    "\u2028",
    "\u202e",
    "\ufeff",
    "\u0085",
    "\U0001d518",
    "\u00a0",
    "L" * 5000,
    "9" * 40,
]

_PIECE = st.sampled_from(PIECES)
_FREE = st.text(st.characters(exclude_categories=("Cs",)), max_size=16)
_COMBO = st.lists(st.one_of(_PIECE, _PIECE, _FREE), min_size=1, max_size=5).map("".join)


def hostile_text(base=""):
    """Strings an attacker would try, alone or glued to a valid value (base)."""
    choices = [_COMBO, _PIECE]
    if base:
        choices += [
            _PIECE.map(lambda piece: base + piece),
            _COMBO.map(lambda text: base + text),
            _COMBO.map(lambda text: text + base),
        ]
    return st.one_of(*choices)


def has_control(text):
    return isinstance(text, str) and CONTROL_RE.search(text) is not None


class Tally:
    FIELDS = ("cases", "tracebacks", "injections", "escapes", "changes_on_failure", "unclear", "leaks", "loose")

    def __init__(self):
        self.counts = dict.fromkeys(self.FIELDS, 0)

    def add(self, other):
        for key in self.FIELDS:
            self.counts[key] += int(other.get(key, 0))

    def record(self, problems):
        """Count one case and each kind of problem it had; the problem texts."""
        self.counts["cases"] += 1
        for kind in {kind for kind, _text in problems}:
            self.counts[kind] += 1
        return [text for _kind, text in problems]

    def line(self):
        counts = self.counts
        return (
            "%(cases)d cases, %(tracebacks)d tracebacks, %(injections)d injections, %(escapes)d escapes "
            "(%(changes_on_failure)d node changes on failure, %(unclear)d unclear refusals, %(leaks)d secret leaks, "
            "%(loose)d loosely parsed values accepted)" % counts
        )


TALLY = Tally()
# Host changes a judged case has reported (its test fails on them): host_guard does not report them again.
HOST_REPORTED = set()


def host_changes(before, after):
    """What changed between two host signatures (conftest.host_signature), one string per path."""
    changes = []
    for path in sorted(set(before) | set(after)):
        if path not in before:
            changes.append("%s appeared" % path)
        elif path not in after:
            changes.append("%s disappeared" % path)
        elif before[path] != after[path]:
            changes.append("%s was replaced" % path)
    return changes


def _strings(value, path=""):
    """(path, string) for every string (keys too) inside a JSON-like value."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield "%s.%s" % (path, key), str(key)
            yield from _strings(item, "%s.%s" % (path, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _strings(item, "%s[%d]" % (path, index))


def _newline_allowed(path):
    # Proxmox stores a multi-line description as '#' comment lines: pct encodes it, no injection.
    return path.endswith(".description") or "--description" in path


def planned_output(result):
    """The parts of a module result that describe what reaches the node."""
    parts = {}
    for key in ("commands", "changes", "container", "diff", "config", "lxc"):
        if key in result:
            parts[key] = result[key]
    diff = parts.get("diff")
    if isinstance(diff, dict):
        # nexcage_bundle's diff is config.json text: judge the JSON values, not its layout.
        parts["diff"] = {side: _json_or_text(text) for side, text in diff.items()}
    bundle = result.get("bundle")
    if isinstance(bundle, dict):
        parts["bundle"] = {"options": bundle.get("options"), "lxc": bundle.get("lxc")}
    return parts


def _json_or_text(value):
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def injections_in(result, skip=()):
    """Descriptions of control characters or forbidden lxc keys in what a result plans for the node."""
    found = []
    for path, text in _strings(planned_output(result)):
        if any(path.startswith(prefix) for prefix in skip):
            continue
        bad = set(CONTROL_RE.findall(text))
        multiline_description = "\n" in bad and (_newline_allowed(path) or _description_argv(text))
        if multiline_description:
            bad.discard("\n")
        if bad:
            found.append("control character(s) %r in %s: %r" % (sorted(bad), path, text[:200]))
        if multiline_description:
            continue  # pct stores each line of a description as a '#' comment (checked in real runs)
        for line in text.splitlines() or [text]:
            if FORBIDDEN_LXC_KEY.match(line) or line.strip().startswith("lxc.hook"):
                found.append("forbidden lxc key line in %s: %r" % (path, line[:200]))
    return found


def _description_argv(command):
    """A planned pct command whose only newlines are inside the --description value."""
    if "--description" not in command:
        return False
    head, _sep, tail = command.partition("--description ")
    if "\n" in head:
        return False
    quoted = re.match(r"'([^']*)'", tail)
    rest = tail[quoted.end() :] if quoted else tail.split(" ", 1)[-1]
    return "\n" not in rest


def tracebacks_in(answer):
    found = []
    if answer.get("harness_error"):
        found.append("harness error: %s" % answer["harness_error"][-500:])
        return found
    if answer.get("exception"):
        found.append("uncaught exception: %s" % answer["exception"].strip().splitlines()[-1][:300])
    result = answer.get("result")
    if result is None and not answer.get("exception"):
        found.append(
            "no JSON result (exit %r): %r %r"
            % (answer.get("exit_code"), answer.get("stdout", "")[-300:], answer.get("stderr", "")[-300:])
        )
    if "Traceback (most recent call last)" in answer.get("stderr", ""):
        found.append("traceback on stderr: %s" % answer["stderr"].strip().splitlines()[-1][:300])
    if isinstance(result, dict):
        text = json.dumps(result)
        if "Traceback (most recent call last)" in text:
            found.append("traceback in the result")
        msg = str(result.get("msg", ""))
        if "Internal error" in msg or "bug in nexcage" in msg or "MODULE FAILURE" in msg:
            found.append("internal error: %s" % msg[:300])
    return found


class Verdict:
    def __init__(self, label, answer):
        self.label = label
        self.answer = answer
        self.result = answer.get("result") or {}
        self.problems = []

    @property
    def failed(self):
        return bool(self.result.get("failed"))

    @property
    def msg(self):
        return str(self.result.get("msg", ""))

    def add(self, kind, text):
        self.problems.append((kind, "%s: %s" % (self.label, text)))


def judge(label, answer, names, *, escape=None, loose=None, secrets=(), skip=(), must_fail=False, tally=TALLY):
    """Judge one module run; count it; return the list of problem strings (empty when it ended well).

    names: option names / JSON paths, any of which a refusal message must mention.
    escape: None, or a function(result) -> description when an accepted run let a guarded path through.
    loose: None, or a description of why the value must be refused (a loosely parsed scalar).
    secrets: strings that must not appear anywhere in the module's output.
    must_fail: the case is one the collection must refuse (a hand-corpus expectation).
    tally: where the case is counted.
    """
    verdict = Verdict(label, answer)
    for text in tracebacks_in(answer):
        verdict.add("tracebacks", text)
    for change in answer.get("host_changed") or ():
        verdict.add("escapes", "the run changed the host: %s" % change)
        HOST_REPORTED.add(change)
    result = verdict.result
    if verdict.failed:
        if not any(name.lower() in verdict.msg.lower() for name in names):
            verdict.add("unclear", "refusal does not name %s: %r" % (" or ".join(names), verdict.msg[:300]))
        if answer.get("changed"):
            verdict.add("changes_on_failure", "node changed on failure: %s" % answer["changed"][:5])
    elif result:
        for text in injections_in(result, skip):
            verdict.add("injections", text)
        if escape is not None:
            text = escape(result)
            if text:
                verdict.add("escapes", text)
        if loose:
            verdict.add("loose", "accepted a value that must be refused (%s)" % loose)
        if must_fail:
            verdict.add("escapes", "accepted, but must be refused (changed=%s)" % result.get("changed"))
    output = answer.get("stdout", "") + answer.get("stderr", "")
    for secret in secrets:
        if secret and secret in output:
            verdict.add("leaks", "secret %r visible in the module output" % secret)
    return tally.record(verdict.problems)
