"""Where the simulated node keeps things, and the cluster-wide guest list.

These are the real paths of a Proxmox VE node. `pvesim run` bind-mounts the
simulated node's directories onto them, so every tool here reads and writes
the same places the real tools do.
"""

import contextlib
import fcntl
import json
import os
import socket

ETC_PVE = "/etc/pve"
VMLIST = "/etc/pve/.vmlist"
STORAGE_CFG = "/etc/pve/storage.cfg"
LXC_ROOT = "/var/lib/lxc"
LOCK_DIR = "/run/lock/lxc"
RUN_PVE = "/run/pve"
# Simulator-only state: node name, call log, faults, ZFS database, catalogue.
SIM_STATE = "/var/lib/pvesim"
CALL_LOG = os.path.join(SIM_STATE, "calls.jsonl")
FAULTS = os.path.join(SIM_STATE, "faults.json")
NODE_FILE = os.path.join(SIM_STATE, "node")
# A random id per node: names the node's cgroup parent, so two nodes never share a cgroup.
NODE_ID_FILE = os.path.join(SIM_STATE, "node-id")
VMLIST_STATE = os.path.join(SIM_STATE, "vmlist.json")
CLUSTER_LOCK = os.path.join(SIM_STATE, "pmxcfs.lock")

# A node's own data directories (bind-mount sources such as /srv/www, ZFS mountpoints below them):
# the node's, not the host's.
DATA_DIRS = ("/srv", "/mnt")
# Directories of DIR that `pvesim run` mounts over the real paths.
MOUNTED_DIRS = (
    "/etc/pve",
    "/var/lib/vz",
    "/var/lib/lxc",
    "/run/lock/lxc",
    "/run/pve",
    "/run/lxc",
    "/run/nexcage",
    # the OCI runtimes' state (their default --root): a node's runc/crun containers are its own
    "/run/runc",
    "/run/crun",
    "/var/lib/pvesim",
    "/var/lib/nexcage",
    "/rpool",
) + DATA_DIRS


def node_name():
    try:
        with open(NODE_FILE, encoding="utf-8") as f:
            return f.read().strip() or "pve"
    except FileNotFoundError:
        return socket.gethostname().split(".")[0]


# Besides the node, the only places a simulated tool writes to: `pct pull` destinations and
# bind-mount sources may be the machine's temporary directories (where tests keep their files).
SCRATCH_DIRS = ("/tmp", "/var/tmp")


def _below(path, base):
    return path == base or path.startswith(base.rstrip("/") + "/")


def in_node(path, root="", scratch=False):
    """Whether path (symlinks resolved) lies in the simulated node: one of its directories inside
    `pvesim run`, or below root from outside; scratch=True also accepts SCRATCH_DIRS."""
    real = os.path.realpath(path)
    bases = [os.path.realpath(root)] if root else [os.path.realpath(d) for d in MOUNTED_DIRS]
    if scratch:
        bases += [os.path.realpath(d) for d in SCRATCH_DIRS]
    return any(_below(real, base) for base in bases)


def outside_message(path):
    return "pvesim: refusing to use '%s': outside the simulated node" % path


def node_id(root=""):
    """The node's random id (made on first use for nodes older than the id)."""
    path = os.path.join(root, NODE_ID_FILE.lstrip("/")) if root else NODE_ID_FILE
    try:
        with open(path, encoding="utf-8") as f:
            value = f.read().strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    value = os.urandom(6).hex()
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(value + "\n")
    try:
        os.link(tmp, path)  # first writer wins
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def lxc_conf_dir(node=None):
    return os.path.join(ETC_PVE, "nodes", node or node_name(), "lxc")


def qemu_conf_dir(node=None):
    return os.path.join(ETC_PVE, "nodes", node or node_name(), "qemu-server")


def ct_conf_path(vmid, node=None):
    return os.path.join(lxc_conf_dir(node), "%s.conf" % vmid)


def ct_conf_relpath(vmid, node=None):
    """The cluster-relative path PVE puts in its error messages."""
    return "nodes/%s/lxc/%s.conf" % (node or node_name(), vmid)


@contextlib.contextmanager
def cluster_lock():
    """Serialise changes to the guest list, as pmxcfs does for its files."""
    os.makedirs(SIM_STATE, exist_ok=True)
    with open(CLUSTER_LOCK, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _load_state():
    try:
        with open(VMLIST_STATE, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {"version": 1, "ids": {}}


def read_vmlist():
    """{vmid(str): {"node", "type", "version"}} as /etc/pve/.vmlist has it."""
    return _load_state()["ids"]


def render_vmlist(state):
    """The exact bytes pmxcfs serves as /etc/pve/.vmlist (pve-cli-facts §5)."""
    out = '{\n"version": %d' % state["version"]
    if state["ids"]:
        entries = [
            '"%s": { "node": "%s", "type": "%s", "version": %d }' % (vmid, e["node"], e["type"], e["version"])
            for vmid, e in state["ids"].items()
        ]
        out += ',\n"ids": {\n' + ",\n".join(entries) + "}"
    return out + "\n\n}\n"


def _write_state(state):
    tmp = VMLIST_STATE + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(state, f)
    os.replace(tmp, VMLIST_STATE)
    tmp = VMLIST + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(render_vmlist(state))
    os.chmod(tmp, 0o440)
    os.replace(tmp, VMLIST)


class GuestExists(Exception):
    """pmxcfs refuses (EEXIST) a second guest with a registered VMID."""

    def __init__(self, vmid, entry):
        super().__init__(vmid)
        self.vmid = vmid
        self.entry = entry


def register_guest(vmid, gtype, node=None):
    """Add vmid to the guest list; raise GuestExists if any guest has it.

    Call with cluster_lock() held when the check and the config file creation
    must be one step (pct create).
    """
    state = _load_state()
    key = str(vmid)
    if key in state["ids"]:
        raise GuestExists(key, state["ids"][key])
    state["version"] += 1
    state["ids"][key] = {"node": node or node_name(), "type": gtype, "version": state["version"]}
    _write_state(state)


def unregister_guest(vmid):
    state = _load_state()
    if state["ids"].pop(str(vmid), None) is not None:
        state["version"] += 1
        _write_state(state)


def write_empty_vmlist():
    _write_state({"version": 1, "ids": {}})
