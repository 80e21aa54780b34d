"""Runs nexcage modules for the hostile-input suite, inside `pvesim run` (the simulated node).

One long-lived process: the test sends one JSON request per line on stdin and reads one JSON
answer per line. Each ``run`` request executes a module file as Ansible does (``__main__`` with
the arguments in ``basic._ANSIBLE_ARGS``), in this process, so thousands of cases stay fast while
each still goes through AnsibleModule and the module's public entry point. Only the module file
names are known here, nothing of module_utils.

Requests:
  {"op": "run", "module": PATH, "args": {...}, "check": bool, "diff": bool, "verbosity": N}
      -> {"result": <parsed JSON or null>, "stdout": text, "stderr": text, "exception": text|null,
          "calls": [argv, ...], "changed": [node paths changed by the run]}
  {"op": "digest"} -> {"digest": {path: signature}}
"""

import contextlib
import io
import json
import os
import runpy
import sys
import traceback

from ansible.module_utils import basic
from ansible.module_utils.common import warnings as ansible_warnings

CALLS = "/var/lib/pvesim/calls.jsonl"
# The node's state: the directories `pvesim run` shows from the node root, with the depth that
# shows a change (a dataset's or a container root's contents are not walked).
NODE_DIRS = (
    ("/etc/pve", 9),
    ("/var/lib/lxc", 2),
    ("/var/lib/nexcage", 9),
    ("/run/nexcage", 9),
    ("/var/lib/pvesim", 9),
    ("/rpool", 4),
    ("/var/lib/vz", 4),
)
IGNORED = (CALLS,)


def _calls_count():
    try:
        with open(CALLS, "rb") as handle:
            return sum(1 for _line in handle)
    except FileNotFoundError:
        return 0


def _calls_since(count):
    try:
        with open(CALLS, encoding="utf-8") as handle:
            lines = handle.readlines()[count:]
    except FileNotFoundError:
        return []
    return [json.loads(line).get("argv") for line in lines if line.strip()]


def digest():
    """path -> (mode, size, mtime_ns, link target) for every file under the node's directories."""
    seen = {}
    for top, depth in NODE_DIRS:
        for base, dirs, files in os.walk(top):
            if base.count("/") - top.count("/") >= depth - 1:
                dirs[:] = []
            for name in dirs + files:
                path = os.path.join(base, name)
                if path in IGNORED:
                    continue
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                target = os.readlink(path) if os.path.islink(path) else None
                size = None if name in dirs else info.st_size
                seen[path] = [info.st_mode, size, None if name in dirs else info.st_mtime_ns, target]
    return seen


def _diff(before, after):
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


def run(request, out_fd):
    args = dict(request["args"])
    args["_ansible_check_mode"] = bool(request.get("check"))
    args["_ansible_diff"] = bool(request.get("diff"))
    args["_ansible_verbosity"] = int(request.get("verbosity", 0))
    args["_ansible_tmpdir"] = request.get("tmpdir") or "/tmp"
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()
    basic._ANSIBLE_PROFILE = "legacy"
    ansible_warnings._global_warnings.clear()
    ansible_warnings._global_deprecations.clear()
    before = digest() if request.get("track", True) else None
    count = _calls_count()
    stdout, stderr = io.StringIO(), io.StringIO()
    exception = exit_code = None
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            runpy.run_path(request["module"], run_name="__main__")
        except SystemExit as exc:
            exit_code = exc.code
        except BaseException:  # noqa: BLE001 - a traceback is what the suite counts
            exception = traceback.format_exc()
    text = stdout.getvalue()
    try:
        result = json.loads(text[text.index("{") :])
    except ValueError:
        result = None
    answer = {
        "result": result,
        "stdout": text,
        "stderr": stderr.getvalue(),
        "exception": exception,
        "exit_code": exit_code,
        "calls": _calls_since(count),
        "changed": _diff(before, digest()) if before is not None else None,
    }
    os.write(out_fd, (json.dumps(answer) + "\n").encode())


def main():
    out_fd = os.dup(1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            if request["op"] == "run":
                run(request, out_fd)
            elif request["op"] == "digest":
                os.write(out_fd, (json.dumps({"digest": digest()}) + "\n").encode())
        except Exception:  # noqa: BLE001 - the harness itself failed: say so, keep serving
            os.write(out_fd, (json.dumps({"harness_error": traceback.format_exc()}) + "\n").encode())


if __name__ == "__main__":
    main()
