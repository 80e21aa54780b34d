"""Helpers for the storage/zfs/init/admin tests of the simulated node (no tests here)."""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PVESIM_DIR = os.path.dirname(HERE)
PVESIM = os.path.join(PVESIM_DIR, "bin", "pvesim")
if PVESIM_DIR not in sys.path:
    sys.path.insert(0, PVESIM_DIR)


def _fast_python_dir():
    """A PATH entry whose `python3` is Debian's /usr/bin/python3 (3.11, stdlib only).

    The bin/ launchers run `python3` from PATH; on this machine that is a pyenv
    shim costing about 0.6 s per start, against 0.06 s for /usr/bin/python3.
    The simulator is stdlib-only Python 3.11, so both run it the same way.
    """
    system = "/usr/bin/python3"
    if not os.path.exists(system):
        return None
    try:
        out = subprocess.run(
            [system, "-c", "import sys; print(sys.version_info >= (3, 11))"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if out != "True":
        return None
    d = tempfile.mkdtemp(prefix="pvesim-py-")
    os.symlink(system, os.path.join(d, "python3"))
    return d


FAST_PY = _fast_python_dir()


def tool_env(extra=None):
    env = dict(os.environ)
    env.pop("PVESIM_LATENCY_MS", None)
    if FAST_PY:
        env["PATH"] = FAST_PY + os.pathsep + env.get("PATH", "")
    env.update(extra or {})
    return env


class Result:
    def __init__(self, proc, duration=None):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.duration = duration

    def __repr__(self):
        return "Result(rc=%r, out=%r, err=%r)" % (self.rc, self.out, self.err)


class _Raw(Result):
    def __init__(self, rc, out, err):  # noqa: D107 - plain record
        self.rc, self.out, self.err, self.duration = rc, out, err, None


class Node:
    """A fresh simulated node made by `pvesim init`, and ways to run commands in it."""

    def __init__(self, root, name="pve"):
        self.root = root
        self.name = name

    @classmethod
    def init(cls, tmp_path, name=None):
        root = str(tmp_path / "node")
        argv = [PVESIM, "init", root] + (["--node", name] if name else [])
        subprocess.run(argv, check=True, capture_output=True, text=True, env=tool_env())
        return cls(root, name or "pve")

    def path(self, real_path):
        """Where a node path (e.g. /etc/pve/storage.cfg) lives under the node directory."""
        return os.path.join(self.root, real_path.lstrip("/"))

    def run(self, *argv, env=None, input=None, timeout=60):
        full_env = tool_env(env)
        proc = subprocess.run(
            [PVESIM, "run", "--root", self.root, "--"] + list(argv),
            capture_output=True,
            text=True,
            env=full_env,
            input=input,
            timeout=timeout,
            check=False,
        )
        return Result(proc)

    def batch(self, *commands, env=None):
        """Run several commands (argv lists) in ONE `pvesim run`, one after the other.

        Returns one Result per command (rc, out, err), as if each had been run alone.
        """
        script = (
            "import json, subprocess, sys\n"
            "res = []\n"
            "for argv in json.loads(sys.argv[1]):\n"
            "    p = subprocess.run(argv, capture_output=True, text=True)\n"
            "    res.append([p.returncode, p.stdout, p.stderr])\n"
            "print(json.dumps(res))\n"
        )
        r = self.run("python3", "-c", script, json.dumps([list(c) for c in commands]), env=env)
        if r.rc != 0:
            raise AssertionError("batch failed: %r" % r)
        return [_Raw(rc, out, err) for rc, out, err in json.loads(r.out)]

    def sh(self, script, **kw):
        return self.run("sh", "-c", script, **kw)

    def pvesim(self, *args, env=None, timeout=60):
        full_env = tool_env(env)
        proc = subprocess.run(
            [PVESIM] + list(args), capture_output=True, text=True, env=full_env, timeout=timeout, check=False
        )
        return Result(proc)

    def read(self, real_path):
        with open(self.path(real_path), encoding="utf-8") as f:
            return f.read()

    def write(self, real_path, text):
        path = self.path(real_path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    def append(self, real_path, text):
        with open(self.path(real_path), "a", encoding="utf-8") as f:
            f.write(text)
