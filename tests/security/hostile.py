"""Hostile values (hypothesis strategies) and the oracle that judges one module run.

A case ends well in exactly two ways:
- refused: the module failed with a message that names the option (or JSON path), without a
  traceback or an "Internal error", and the node did not change;
- accepted: no control character of the value reached a planned command, a config line or a raw
  lxc.* line, no lxc.hook/lxc.include key appeared, and no guarded host path was let through;
and either way the host outside the simulated node did not change (the worker's host guard).

Every judged case is counted in TALLY (in KNOWN for a test marked xfail: a known defect, handed
over); the suite prints the totals at the end of the session.
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


# Node data: what an attacker may have put into a container config (the API's free-text fields, a
# file written by other means) that nexcage_container_info, the inventory plugin and the pct
# connection read. TEMPLATED is what the templates below print when something evaluates them; the
# lookup touches the injection marker (the host guard sees it).
TEMPLATED = "nexcage-templated"
JINJA = [
    "{{ 'nexcage' ~ '-templated' }}",
    "{% if true %}{{ 'nexcage' ~ '-templated' }}{% endif %}",
    "{{ lookup('pipe', 'touch %s') }}" % MARKER,
    "{{ lookup('env', 'HOME') }}",
    "{{ no_such_variable }}",
    "{# a comment #}",
    "{{",
]
NODE_SECRET = "N0de-Env-Secret-5e1a"
HUGE = "H" * (1 << 17)  # a 128 KiB line (Proxmox VE caps a description at 8 KiB)
INVALID_UTF8 = "\udcff\udcfe"  # written with surrogateescape: the bytes ff fe
# The line kinds of a hostile config: a key (followed by the value), "[" (a section header), "#"
# (a description line), "pool" (a pool of /etc/pve/user.cfg holding the container), "key" (the
# value as a key).
NODE_LINES = [
    "#",
    "description: ",
    "hostname: ",
    "tags: ",
    "searchdomain: ",
    "nameserver: ",
    "ostype: ",
    "lock: ",
    "memory: ",
    "net0: ",
    "mp0: ",
    "lxc.environment: ",
    "lxc.init.cmd: ",
    "lxc.mount.entry: ",
    "lxc.hook.pre-start: ",
    "lxc.include: ",
    "[",
    "pool",
    "key",
]
_JINJA = st.sampled_from(JINJA)
NODE_VALUE = st.one_of(
    hostile_text(),
    _JINJA,
    st.tuples(_JINJA, hostile_text()).map("".join),
    st.sampled_from([HUGE, INVALID_UTF8, "web01" + INVALID_UTF8, ""]),
)
NODE_DATA = st.lists(st.tuples(st.sampled_from(NODE_LINES), NODE_VALUE), min_size=1, max_size=4)


def node_config(vmid, data):
    """(config text, pool line or None) of a container whose config carries the hostile data
    [(line kind, value)], and the environment secret NODE_SECRET nexcage writes for a bundle."""
    lines = ["arch: amd64", "ostype: debian", "memory: 512", "rootfs: local-zfs:subvol-%d-disk-0,size=1G" % vmid]
    pool = None
    for kind, value in data:
        if kind == "[":
            lines.append("[%s]" % value)
        elif kind == "pool":
            pool = "pool:%s::%d::" % (value, vmid)
        elif kind == "key":
            lines.append("%s: x" % value)
        else:
            lines.append(kind + value)
    lines.insert(4, "lxc.environment: NODE_SECRET=%s" % NODE_SECRET)
    return "\n".join(lines) + "\n", pool


def has_control(text):
    return isinstance(text, str) and CONTROL_RE.search(text) is not None


class Tally:
    FIELDS = (
        "cases",
        "tracebacks",
        "injections",
        "escapes",
        "changes_on_failure",
        "unclear",
        "leaks",
        "loose",
        "dropped",
    )

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
            "%(loose)d loosely parsed values accepted, %(dropped)d listings broken by node data)" % counts
        )


TALLY = Tally()
KNOWN = Tally()  # the cases of tests marked xfail (known defects, handed over), counted apart
ACTIVE = {"tally": TALLY}  # where the running test counts its cases (conftest switches it)
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


def judge(label, answer, names, *, escape=None, loose=None, secrets=(), skip=(), must_fail=False, tally=None):
    """Judge one module run; count it; return the list of problem strings (empty when it ended well).

    names: option names / JSON paths, any of which a refusal message must mention.
    escape: None, or a function(result) -> description when an accepted run let a guarded path through.
    loose: None, or a description of why the value must be refused (a loosely parsed scalar).
    secrets: strings that must not appear anywhere in the module's output.
    must_fail: the case is one the collection must refuse (a hand-corpus expectation).
    tally: where the case is counted (default: the running test's, see ACTIVE).
    """
    verdict = Verdict(label, answer)
    for text in tracebacks_in(answer):
        verdict.add("tracebacks", text)
    _host_and_secrets(verdict, answer, secrets)
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
    return (tally or ACTIVE["tally"]).record(verdict.problems)


def _host_and_secrets(verdict, answer, secrets):
    """The host changes of a run (an escape), and secrets visible in what it printed or answered."""
    for change in answer.get("host_changed") or ():
        verdict.add("escapes", "the run changed the host: %s" % change)
        HOST_REPORTED.add(change)
    output = answer.get("stdout", "") + answer.get("stderr", "")
    if "result" not in answer:  # a plugin's answer: everything it returned
        output += json.dumps({key: value for key, value in answer.items() if key != "host_changed"})
    for secret in secrets:
        if secret and secret in output:
            verdict.add("leaks", "secret %r visible in the output" % secret)


def judge_plugin(label, answer, problems=(), *, secrets=(), tally=None):
    """Judge one run of a controller-side plugin (inventory, connection) and count it.

    problems: (kind, text) the caller found in the answer (kind one of Tally.FIELDS).
    """
    verdict = Verdict(label, answer)
    if answer.get("harness_error"):
        verdict.add("tracebacks", "harness error: %s" % answer["harness_error"][-500:])
    if answer.get("exception"):
        verdict.add("tracebacks", "uncaught exception: %s" % answer["exception"].strip().splitlines()[-1][:300])
    if "Traceback (most recent call last)" in answer.get("stderr", ""):
        verdict.add("tracebacks", "traceback on stderr: %s" % answer["stderr"].strip().splitlines()[-1][:300])
    _host_and_secrets(verdict, answer, secrets)
    for kind, text in problems:
        verdict.add(kind, text)
    return (tally or ACTIVE["tally"]).record(verdict.problems)
