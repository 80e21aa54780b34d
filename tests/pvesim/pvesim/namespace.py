"""`pvesim run`: put a simulated node where a real node's files are.

The command runs in a private mount namespace in which each directory of
node.MOUNTED_DIRS is bind-mounted from ROOT, and the simulated tools come
first on PATH. Nothing on the host is changed but empty mount-point
directories; the collection's code sees a Proxmox VE node and needs no switch.
"""

import ctypes
import ctypes.util
import os
import sys

from pvesim import node

BIN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "bin")
MS_BIND = 4096
MS_REC = 16384

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def bind(src, dst):
    if _libc.mount(src.encode(), dst.encode(), None, MS_BIND | MS_REC, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "bind-mounting %s on %s: %s" % (src, dst, os.strerror(err)))


def run(root, argv):
    """Exec argv inside a new private mount namespace showing the node at root."""
    root = os.path.realpath(root)
    if not os.path.isdir(os.path.join(root, node.SIM_STATE.lstrip("/"))):
        sys.stderr.write("pvesim: %s is not a simulated node (run `pvesim init %s` first)\n" % (root, root))
        return 2
    if not argv:
        argv = [os.environ.get("SHELL", "/bin/sh")]
    child = [sys.executable, "-c", "import sys; sys.path.insert(0, %r); from pvesim import namespace; "
             "namespace.enter(sys.argv[1], sys.argv[2:])" % os.path.dirname(BIN_DIR), root] + list(argv)
    os.execvp("unshare", ["unshare", "--mount", "--propagation", "private", "--"] + child)


def enter(root, argv):
    """Inside the new namespace: mount, set PATH, exec."""
    for target in node.MOUNTED_DIRS:
        src = os.path.join(root, target.lstrip("/"))
        os.makedirs(src, exist_ok=True)
        os.makedirs(target, exist_ok=True)
        bind(src, target)
    env = dict(os.environ)
    env["PATH"] = BIN_DIR + os.pathsep + env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    env["PVESIM_ROOT"] = root
    os.execvpe(argv[0], argv, env)
