#!/usr/bin/env bash
# ansible-test bootstraps pip in its sanity venvs from a URL this machine cannot
# reach. Put an offline stand-in where ansible-test caches that script.
set -euo pipefail
cache="${HOME}/.ansible/test/cache"
mkdir -p "$cache"
for version in 24.2 25.0.1 25.1.1; do
  target="$cache/get_pip_${version//./_}.py"
  [ -f "$target" ] && continue
  cat > "$target" <<'PY'
# Offline stand-in for get-pip.py: ensurepip in a child process (in-process
# ensurepip would hide the machine's pip.conf), then upgrade to what was asked.
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade"] + args)
PY
done
