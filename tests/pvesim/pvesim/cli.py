"""What every simulated tool shares: the call log, faults, start-up latency,
PVE's option parsing and its error formats (pve-cli-facts §1).

A tool is a function handler(argv) -> exit code, run through run_tool().
Handlers write their own stdout; they report errors by raising the
exceptions below, which print exactly what the real tools print.
"""

import fcntl
import fnmatch
import json
import os
import re
import shlex
import signal
import sys
import time

from pvesim import node

PVE_TOOLS = ("pct", "pvesm", "pveam", "pvesh", "qm")
BOOL_TRUE = ("1", "yes", "on", "true")
BOOL_FALSE = ("0", "no", "off", "false")


class PveError(Exception):
    """An error raised in the CLI process itself (facts §1, case 2): the
    message on stderr, exit per Perl's die rule (errno or 255)."""

    def __init__(self, message, rc=255):
        super().__init__(message)
        self.message = message
        self.rc = rc


class ParamError(Exception):
    """`400 Parameter verification failed.` plus one `name: message` line each,
    then the short usage line. A message that ends in a newline (format
    validators) leaves an empty line after it, as PVE does."""

    def __init__(self, errors, usage):
        super().__init__("400 Parameter verification failed.")
        self.errors = errors
        self.usage = usage


class UsageError(Exception):
    """Other 400-class CLI errors: `400 not enough arguments` and friends,
    optionally preceded by Getopt's own line (`Unknown option: foo`)."""

    def __init__(self, message, usage, prefix=None):
        super().__init__(message)
        self.message = message
        self.usage = usage
        self.prefix = prefix


class TaskFailed(Exception):
    """A worker task failed: the message, newlines collapsed, on stderr.
    rc is 255 for commands with an exit hook, 0 for those without."""

    def __init__(self, message, rc=255):
        super().__init__(message)
        self.message = message
        self.rc = rc


def format_param_error(errors, usage):
    out = "400 Parameter verification failed.\n"
    for name, message in errors.items():
        out += "%s: %s\n" % (name, message)
    return out + usage + "\n"


# ---------------------------------------------------------------- options


class Opt:
    """One option of a PVE command: type is string, integer, number or boolean."""

    def __init__(self, otype="string", minimum=None, maximum=None, enum=None, maxlen=None, check=None):
        self.type = otype
        self.minimum = minimum
        self.maximum = maximum
        self.enum = enum
        self.maxlen = maxlen
        self.check = check  # callable(value) -> error message or None


def _find_spec(name, spec):
    if name in spec:
        return name, spec[name]
    for pattern, opt in spec.items():
        if pattern.endswith("[n]") and re.fullmatch(re.escape(pattern[:-3]) + r"\d+", name):
            return name, opt
    return None, None


def _resolve_option(name, spec):
    """Getopt::Long as PVE configures it: case-insensitive, unique abbreviations accepted.
    Returns (key, opt, None) or (None, None, Getopt's warning)."""
    low = name.lower()
    by_lower = {k.lower(): k for k in spec}  # Getopt::Long matches option names case-insensitively
    key, opt = _find_spec(low, {k.lower(): v for k, v in spec.items()})
    if opt is not None:
        return by_lower.get(key, key), opt, None
    hits = sorted(k for k in spec if not k.endswith("[n]") and k.lower().startswith(low))
    if len(hits) == 1:
        return hits[0], spec[hits[0]], None
    if hits:
        return None, None, "Option %s is ambiguous (%s)" % (low, ", ".join(hits))
    return None, None, "Unknown option: %s" % low


OPTION_LIKE = re.compile(r"(--|-).+", re.S)


def locale_is_utf8():
    for var in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = os.environ.get(var)
        if value:
            return bool(re.search(r"utf-?8", value, re.I))
    return False


def decode_locale(text):
    """get_options decodes every argument with decode('locale'): under a non-UTF-8 locale
    (LANG=C) each byte of a non-ASCII character becomes U+FFFD, as a real node stores it."""
    if locale_is_utf8() or text.isascii():
        return text
    return "".join(c if ord(c) < 0x80 else "\ufffd" * len(c.encode("utf-8", "surrogateescape")) for c in text)


def parse_args(argv, spec, npos, usage, max_pos=None, list_opts=()):
    """Parse argv as PVE's JSONSchema::get_options does. Returns (positionals, {name: raw value}).

    Getopt::Long with prefix `--` or `-`: `--opt value`, `--opt=value`, `-opt value`; names are
    case-insensitive and may be abbreviated; a string option takes the next argument whatever it
    is, a boolean (`opt:s`) only if it does not look like an option, and a missing boolean value
    means 1; a repeated option keeps the last value (list_opts: joined with commas); options and
    positionals may be mixed, everything after `--` is positional. Raises UsageError as PVE would.
    """
    positionals, opts, problems = [], {}, []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            positionals.extend(args[i:])
            break
        m = re.fullmatch(r"(?:--|-)([^=]+)(?:=(.*))?", arg, re.S) if OPTION_LIKE.fullmatch(arg) else None
        if m is None:
            positionals.append(arg)
            continue
        key, opt, problem = _resolve_option(m.group(1), spec)
        if problem:
            problems.append(problem)
            continue
        value = m.group(2)
        if opt.type == "boolean":
            if value is None and i < len(args) and args[i] != "--" and not OPTION_LIKE.fullmatch(args[i]):
                value = args[i]
                i += 1
        elif value == "" or (value is None and i >= len(args)):
            problems.append("Option %s requires an argument" % key)
            continue
        elif value is None:
            value = args[i]
            i += 1
        if key in list_opts and key in opts:
            opts[key] += "," + value
        else:
            opts[key] = "" if value is None else value
    if problems:
        raise UsageError("400 unable to parse option", usage, prefix="\n".join(problems))
    positionals = [decode_locale(p) for p in positionals]
    opts = {k: decode_locale(v) for k, v in opts.items()}
    if len(positionals) < npos:
        raise UsageError("400 not enough arguments", usage)
    if len(positionals) > (npos if max_pos is None else max_pos):
        raise UsageError("400 too many arguments", usage)
    for key, value in opts.items():
        opt = _find_spec(key, spec)[1]
        if opt.type == "boolean":
            if value == "" or value.lower() in BOOL_TRUE:
                opts[key] = "1"
            elif value.lower() in BOOL_FALSE:
                opts[key] = "0"
            else:
                raise UsageError("400 unable to parse boolean option", usage)
    return positionals, opts


def check_types(opts, spec):
    """Type, range and enum checks (JSONSchema.pm messages). Returns
    ({name: typed value}, {name: error message})."""
    typed, errors = {}, {}
    for name, raw in opts.items():
        opt = _find_spec(name, spec)[1]
        value = raw
        if opt.type == "integer":
            if not re.fullmatch(r"[+-]?\d+", raw):
                errors[name] = "type check ('integer') failed - got '%s'" % raw
                continue
            value = int(raw)
        elif opt.type == "number":
            if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", raw):
                errors[name] = "type check ('number') failed - got '%s'" % raw
                continue
            value = float(raw)
        elif opt.type == "boolean":
            value = 1 if raw.lower() in BOOL_TRUE else 0
        if opt.minimum is not None and value < opt.minimum:
            errors[name] = "value must have a minimum value of %s" % opt.minimum
        elif opt.maximum is not None and value > opt.maximum:
            errors[name] = "value must have a maximum value of %s" % opt.maximum
        elif opt.maxlen is not None and len(raw) > opt.maxlen:
            errors[name] = "value may only be %d characters long" % opt.maxlen
        elif opt.enum is not None and raw not in opt.enum:
            errors[name] = "value '%s' does not have a value in the enumeration '%s'" % (raw, ", ".join(opt.enum))
        elif opt.check is not None:
            message = opt.check(value)
            if message:
                errors[name] = message
        if name not in errors:
            typed[name] = value
    return typed, errors


# ---------------------------------------------------------------- call log and faults


def _log_call(tool, argv, rc, started, duration):
    entry = {"tool": tool, "argv": [tool] + list(argv), "rc": rc, "start": started, "duration": round(duration, 6)}
    try:
        os.makedirs(node.SIM_STATE, exist_ok=True)
        with open(node.CALL_LOG, "a", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.write(json.dumps(entry) + "\n")
    except OSError:
        pass  # outside a simulated node (e.g. --help in a bare shell): nothing to log to


def fault_matches(pattern, cmdline):
    return cmdline == pattern or cmdline.startswith(pattern + " ") or fnmatch.fnmatchcase(cmdline, pattern)


def _take_fault(cmdline):
    """The first fault (without --at) matching cmdline, counting down its --times."""
    try:
        f = open(node.FAULTS, "r+", encoding="utf-8")
    except FileNotFoundError:
        return None
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)
        faults = json.loads(f.read() or "[]")
        for fault in faults:
            if not fault.get("at") and fault_matches(fault["match"], cmdline):
                if fault.get("times") is not None:
                    fault["times"] -= 1
                    if fault["times"] <= 0:
                        faults.remove(fault)
                    f.seek(0)
                    f.truncate()
                    f.write(json.dumps(faults))
                return fault
    return None


# ---------------------------------------------------------------- faults inside an operation
#
# A fault with `--at PHASE` strikes when the running command reaches that point of its work
# (cli.phase(PHASE)), at the --nth time it does (default 1): it hangs (--hang), then either kills
# the command (--kill: SIGKILL, nothing of the command's own failure path runs) or makes the step
# fail there (the default; --stderr TEXT is the error, --rc N the exit status where the command
# has no fixed one), so the command's failure path runs as the real tool's does.

PHASES = {
    "pct create": ("after-lock", "after-alloc", "during-extract", "after-config-write"),
    "pct destroy": ("after-volume", "after-lock"),
    "pct start": ("before-hooks-finish", "after-lxc-start"),
    "zfs destroy": ("between-children",),
}
_armed = {"cmdline": None, "faults": []}


def _arm_phase_faults(cmdline):
    _armed["cmdline"] = cmdline
    _armed["faults"] = []
    try:
        with open(node.FAULTS, encoding="utf-8") as f:
            faults = json.loads(f.read() or "[]")
    except (FileNotFoundError, ValueError):
        return
    for index, fault in enumerate(faults):
        if fault.get("at") and fault_matches(fault["match"], cmdline):
            _armed["faults"].append(dict(fault, _index=index, _seen=0))


def phase_armed(name):
    """Whether a fault waits at phase name in this command (to split work only when needed)."""
    return any(f["at"] == name for f in _armed["faults"])


def _consume(fault):
    """Count down the fired fault's --times in the faults file."""
    if fault.get("times") is None:
        return
    with open(node.FAULTS, "r+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        faults = json.loads(f.read() or "[]")
        for stored in faults:
            if stored.get("at") == fault["at"] and stored["match"] == fault["match"]:
                stored["times"] -= 1
                if stored["times"] <= 0:
                    faults.remove(stored)
                break
        f.seek(0)
        f.truncate()
        f.write(json.dumps(faults))


def phase(name, error=None, flush=None, rc=255):
    """A point inside an operation where an armed fault may strike (see above).

    error(message, rc) makes the exception of a failing step (default PveError; rc the exit
    status when the fault names none); flush()
    writes what the command keeps in memory so far (the ZFS database), as the real tool has it
    on disk at this point."""
    for fault in _armed["faults"]:
        if fault["at"] != name:
            continue
        fault["_seen"] += 1
        if fault["_seen"] != (fault.get("nth") or 1):
            continue
        _consume(fault)
        if flush is not None:
            flush()
        if fault.get("hang"):
            time.sleep(float(fault["hang"]))
        if fault.get("kill"):
            sys.stdout.flush()
            sys.stderr.flush()
            _log_call(_armed["cmdline"].split(" ", 1)[0], shlex.split(_armed["cmdline"])[1:], 137, time.time(), 0)
            os.kill(os.getpid(), signal.SIGKILL)
        if fault.get("hang") and fault.get("stderr") is None and fault.get("rc") is None:
            continue  # a hang alone: the command goes on
        message = fault.get("stderr") or "pvesim: injected failure at %s" % name
        raise (error or PveError)(message.rstrip("\n"), fault["rc"] if fault.get("rc") is not None else rc)


def _latency_ms():
    try:
        return int(os.environ.get("PVESIM_LATENCY_MS", "0") or 0)
    except ValueError:
        value = os.environ["PVESIM_LATENCY_MS"]
        sys.stderr.write("pvesim: ignoring PVESIM_LATENCY_MS=%r (not a whole number)\n" % value)
        return 0


def run_tool(tool, argv, handler):
    """Run one simulated tool invocation; returns its exit code."""
    started = time.time()
    t0 = time.monotonic()
    rc = 255
    try:
        if tool in PVE_TOOLS:
            latency = _latency_ms()
            if latency > 0:
                time.sleep(latency / 1000.0)
        fault = _take_fault(shlex.join([tool] + list(argv)))
        _arm_phase_faults(shlex.join([tool] + list(argv)))
        if fault and fault.get("hang"):
            time.sleep(float(fault["hang"]))
        if fault and (fault.get("stderr") is not None or fault.get("rc") is not None):
            if fault.get("stderr"):
                sys.stderr.write(fault["stderr"].rstrip("\n") + "\n")
            rc = fault["rc"] if fault.get("rc") is not None else 255
            return rc
        rc = _dispatch(handler, argv)
        return rc
    finally:
        sys.stdout.flush()
        _log_call(tool, argv, rc, started, time.monotonic() - t0)


def _dispatch(handler, argv):
    try:
        return handler(argv) or 0
    except ParamError as e:
        sys.stdout.flush()
        sys.stderr.write(format_param_error(e.errors, e.usage))
        return 255
    except UsageError as e:
        sys.stdout.flush()
        if e.prefix:
            sys.stderr.write(e.prefix + "\n")
        sys.stderr.write("%s\n%s\n" % (e.message, e.usage))
        return 255
    except PveError as e:
        sys.stdout.flush()
        sys.stderr.write(e.message if e.message.endswith("\n") else e.message + "\n")
        return e.rc
    except TaskFailed as e:
        sys.stdout.flush()
        sys.stderr.write(" ".join(e.message.splitlines()).rstrip() + "\n")
        return e.rc


def tool_main(tool, handler):
    """Entry point for bin/<tool>."""
    sys.exit(run_tool(tool, sys.argv[1:], handler))
