"""Soak: `pytest -n 2` N times in a row while another simulated node runs CT 100.

    .venv/bin/python scripts/soak.py [N] [PYTEST ARGS...]        (as root, from anywhere; N defaults to 10)

Starts a bystander node (build/soak/bystander-node, tests/pvesim/pvesim/bystander.py: CT 100
from the busybox template with a NIC and a bind mount, as the tests make theirs), then runs
`.venv/bin/pytest -n 2 PYTEST ARGS...` N times, stopping at the first failed run or as soon as the
bystander's CT is disturbed (stopped, restarted, its config changed). Writes build/soak/run-NN.log
(pytest's output), build/soak/summary.txt and summary.json (per run: result, duration, pytest's
last line; at the end: whether the bystander still ran CT 100). The bystander is removed at the
end whatever happened. Exit status 0 only if all N runs passed and the bystander ran throughout.

Examples: `.venv/bin/python scripts/soak.py` (the whole suite 10 times, what issue 11 asks),
`.venv/bin/python scripts/soak.py 2 tests/pvesim/tests` (a quick check of the script).
"""

import json
import os
import signal
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(TOP, "build", "soak")
PYTEST = os.path.join(TOP, ".venv", "bin", "pytest")
sys.path.insert(0, os.path.join(TOP, "tests", "pvesim"))

from pvesim.bystander import Bystander, BystanderError  # noqa: E402


class Stopped(Exception):
    """SIGTERM/SIGHUP: end the soak, the bystander is removed on the way out."""


def _stop(signum, _frame):
    raise Stopped("stopped by signal %d" % signum)


def _last_line(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [line.strip() for line in f if line.strip()]
    return lines[-1] if lines else ""


def _env():
    env = dict(os.environ)
    env["PATH"] = os.path.join(TOP, ".venv", "bin") + os.pathsep + env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    env["ANSIBLE_COLLECTIONS_PATH"] = os.path.join(TOP, "build", "collections")
    env["ANSIBLE_CONFIG"] = os.path.join(TOP, "ansible.cfg")
    return env


def _write_summary(summary):
    with open(os.path.join(OUT, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    lines = [
        "soak: %d x `%s` while %s" % (summary["runs_wanted"], " ".join(summary["command"]), summary["bystander"]),
        "",
    ]
    for run in summary["runs"]:
        lines.append(
            "run %2d  %-6s  %7.1f s  %s  (%s)" % (run["run"], run["result"], run["seconds"], run["pytest"], run["log"])
        )
    lines += ["", "result: %s" % summary["result"], "bystander at the end: %s" % summary["bystander_at_end"]]
    with open(os.path.join(OUT, "summary.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return lines


def soak(runs, pytest_args):
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        if name.startswith("run-") or name.startswith("summary."):
            os.unlink(os.path.join(OUT, name))
    command = [PYTEST, "-n", "2"] + pytest_args
    bystander = Bystander(os.path.join(OUT, "bystander-node"))
    bystander.stop()  # a node left by an earlier soak that was killed
    summary = {
        "runs_wanted": runs,
        "command": [os.path.relpath(PYTEST, TOP), "-n", "2"] + pytest_args,
        "bystander": "(not started)",
        "runs": [],
    }
    passed = 0
    try:
        bystander.start()
        summary["bystander"] = bystander.describe()
        for number in range(1, runs + 1):
            log = os.path.join(OUT, "run-%02d.log" % number)
            started = time.monotonic()
            with open(log, "w", encoding="utf-8") as f:
                rc = subprocess.run(
                    command, cwd=TOP, env=_env(), stdout=f, stderr=subprocess.STDOUT, check=False
                ).returncode
            problem = bystander.problem()
            summary["runs"].append(
                {
                    "run": number,
                    "result": "passed" if rc == 0 else "FAILED",
                    "rc": rc,
                    "seconds": round(time.monotonic() - started, 1),
                    "pytest": _last_line(log),
                    "log": os.path.relpath(log, TOP),
                    "bystander": problem or "CT %s runs, same init pid and config" % bystander.vmid,
                }
            )
            print(
                "soak: run %d/%d %s in %.0f s"
                % (number, runs, summary["runs"][-1]["result"], summary["runs"][-1]["seconds"])
            )
            if rc != 0 or problem:
                break
            passed += 1
        problem = bystander.problem()
        summary["bystander_at_end"] = problem or "CT %s still running (same init pid %s, same config)" % (
            bystander.vmid,
            bystander.init_pid,
        )
    except BystanderError as e:
        problem = str(e)
        summary["bystander_at_end"] = problem
    except (Stopped, KeyboardInterrupt) as e:
        problem = str(e) or "interrupted"
        summary["bystander_at_end"] = "not checked: the soak was %s" % problem
    finally:
        bystander.stop()
    ok = passed == runs and problem is None
    summary["result"] = "%d/%d runs passed%s" % (passed, runs, "" if ok else "; stopped early")
    print("\n".join(_write_summary(summary)))
    return 0 if ok else 1


def main(argv):
    runs = 10
    if argv and argv[0].isdigit():
        runs, argv = int(argv[0]), argv[1:]
    if runs < 1:
        sys.stderr.write("soak: N must be 1 or more\n")
        return 2
    if os.geteuid() != 0:
        sys.stderr.write("soak: run as root (the bystander runs a real LXC container)\n")
        return 2
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    return soak(runs, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
