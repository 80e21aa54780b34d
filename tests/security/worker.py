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

Started with ``--plugins``, it runs the controller-side plugins instead (the collection loader
installed, as ansible-core's CLIs do), against the node it runs in:
  {"op": "inventory", "source": PATH, "template": TEXT}
      -> {"hosts": {name: <TEXT templated with the host's variables, parsed as JSON>}, "stderr": text}
  {"op": "connection", "vars": {...}, "command": TEXT, "log": PATH}
      -> {"error": "<exception type>: <message>" or null, "rc": N, "calls": [argv, ...]}
      (the vars name a recorder as pct and ssh: it appends each argv to the log, as JSON)
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


def inventory(request):
    """The inventory plugin's hosts, each with the request's template rendered as a play would."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar
    from ansible.vars.manager import VariableManager

    template = request["template"]
    try:
        from ansible.template import trust_as_template  # ansible-core 2.19+: only trusted text is a template

        template = trust_as_template(template)
    except ImportError:
        pass
    loader = DataLoader()
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        manager = InventoryManager(loader=loader, sources=[request["source"]])
        variables = VariableManager(loader=loader, inventory=manager)
        hosts = {
            host.name: json.loads(Templar(loader=loader, variables=variables.get_vars(host=host)).template(template))
            for host in manager.get_hosts()
        }
    return {"hosts": hosts, "stderr": stderr.getvalue()}


def connection(request):
    """One command through the pct connection plugin with the request's variables."""
    from ansible.playbook.play_context import PlayContext
    from ansible.plugins.loader import connection_loader

    with open(request["log"], "w", encoding="utf-8"):
        pass
    os.environ["NEXCAGE_RECORDER_LOG"] = request["log"]  # the recorder standing in for pct and ssh
    error, rc = None, None
    try:
        plugin = connection_loader.get("cageforge.nexcage.pct", PlayContext(), os.devnull)
        plugin.set_options(var_options=request["vars"])
        plugin._connect()
        rc, _stdout, _stderr = plugin.exec_command(request["command"])
    except Exception as exc:  # noqa: BLE001 - a refusal is an exception: the suite judges which
        error = "%s: %s" % (type(exc).__name__, exc)
    return {"error": error, "rc": rc, "calls": recorded(request["log"])}


def recorded(log):
    """The argv lists the recorder logged (see scenes.RECORDER)."""
    with open(log, "rb") as handle:
        fields = handle.read().decode("utf-8", "surrogateescape").split("\0")[:-1]
    calls = []
    while fields:
        count = int(fields[0])
        calls.append(fields[1 : 1 + count])
        fields = fields[1 + count :]
    return calls


OPS = {"inventory": inventory, "connection": connection}


def main():
    if "--plugins" in sys.argv:
        from ansible.plugins.loader import init_plugin_loader

        init_plugin_loader([os.environ["ANSIBLE_COLLECTIONS_PATH"]])
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
            elif request["op"] in OPS:
                try:
                    answer = OPS[request["op"]](request)
                except Exception:  # noqa: BLE001 - the plugin crashed: the suite counts the traceback
                    answer = {"exception": traceback.format_exc()}
                os.write(out_fd, (json.dumps(answer) + "\n").encode())
        except Exception:  # noqa: BLE001 - the harness itself failed: say so, keep serving
            os.write(out_fd, (json.dumps({"harness_error": traceback.format_exc()}) + "\n").encode())


if __name__ == "__main__":
    main()
