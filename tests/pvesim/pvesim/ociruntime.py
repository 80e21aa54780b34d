"""`runc` and `crun` inside `pvesim run`: the real runtime, in the node's own cgroups.

Their state (/run/runc, /run/crun) is one of the node's directories (node.MOUNTED_DIRS). Their
cgroups are not: without a cgroupsPath in config.json runc puts a container in the cgroup `<id>`
below its own cgroup and crun in `/<id>`, at the top of every hierarchy, so the containers of
two nodes with the same id would share one cgroup (`pause` on one node freezes the other's
container, `delete` cannot remove the cgroup). The launchers bin/runc and bin/crun run the real
runtime (the next one on PATH) from the node's cgroup `pvesim-<node id>/oci` of every
hierarchy that is mounted, in a private mount namespace where each hierarchy's mount shows that
cgroup as its top: the runtime's `<id>` is then `pvesim-<node id>/oci/<id>`, the node's own, and
what it records (paths below /sys/fs/cgroup) means the same in the next call. LXC's cgroups
(runtime.cgroup_base) are below the same `pvesim-<node id>`, so the node's keeper removes both.
"""

import os
import sys

from pvesim import namespace, node

CGROUP_ROOT = "/sys/fs/cgroup"
NODE_CGROUP = "pvesim-%s/oci"


def real_runtime(name):
    """The first `name` on PATH that is not a pvesim launcher."""
    own = os.path.realpath(namespace.BIN_DIR)
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or os.path.realpath(directory) == own:
            continue
        path = os.path.join(directory, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def _own_cgroups():
    """[(controllers or None for the unified tree, path)] from /proc/self/cgroup."""
    out = []
    with open("/proc/self/cgroup", encoding="utf-8") as f:
        for line in f:
            _hid, controllers, path = line.rstrip("\n").split(":", 2)
            out.append((set(controllers.split(",")) if controllers else None, path))
    return out


def cgroup_mounts():
    """[(mount point, mount root, super options or None for cgroup2)] below CGROUP_ROOT: the
    mount that is visible at each point (inside `pvesim run` the host's are listed too, under
    the node's /sys)."""
    out = {}
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, options = fields[sep + 1], fields[sep + 3]
            mountpoint = fields[4].replace("\\040", " ")
            if not mountpoint.startswith(CGROUP_ROOT + "/") and mountpoint != CGROUP_ROOT:
                continue
            if fstype == "cgroup":
                out[mountpoint] = (mountpoint, fields[3], set(options.split(",")))
            elif fstype == "cgroup2":
                out[mountpoint] = (mountpoint, fields[3], None)
            else:
                out.pop(mountpoint, None)
    return list(out.values())


def _join(path, pid):
    """Make path (copying cpuset's cpus and mems down, which a v1 cpuset cgroup needs before it
    takes a task) and move pid into it."""
    parts = []
    probe = path
    while not os.path.isdir(probe):
        parts.append(os.path.basename(probe))
        probe = os.path.dirname(probe)
    for name in reversed(parts):
        child = os.path.join(probe, name)
        os.makedirs(child, exist_ok=True)
        for key in ("cpuset.cpus", "cpuset.mems"):
            mine = os.path.join(child, key)
            if os.path.exists(mine):
                with open(mine, encoding="utf-8") as f:
                    if f.read().strip():
                        continue
                with open(os.path.join(probe, key), encoding="utf-8") as f:
                    value = f.read().strip()
                with open(mine, "w", encoding="utf-8") as f:
                    f.write(value)
        probe = child
    with open(os.path.join(path, "cgroup.procs"), "w", encoding="utf-8") as f:
        f.write(str(pid))


def node_cgroups(node_id):
    """[(the node's OCI cgroup dir, mount point)] of every mounted hierarchy, below this
    process's own cgroup there (where LXC puts the node's CTs too)."""
    base = NODE_CGROUP % node_id
    own = _own_cgroups()
    out = []
    for mountpoint, mount_root, options in cgroup_mounts():
        mine = next(
            (path for controllers, path in own if (controllers is None) == (options is None)
             and (options is None or controllers <= options)),
            None,
        )  # fmt: skip
        if mine is None or not (mine == mount_root or mine.startswith(mount_root.rstrip("/") + "/")):
            continue  # this mount does not show our cgroup
        out.append((os.path.normpath(os.path.join(mountpoint, os.path.relpath(mine, mount_root), base)), mountpoint))
    return out


def enter_node_cgroups():
    """Move this process into the node's OCI cgroup of every mounted hierarchy, then show that
    cgroup at each hierarchy's mount point (in a new mount namespace of this process)."""
    shown = node_cgroups(node.node_id())
    for target, _mountpoint in shown:
        _join(target, os.getpid())
    namespace.enter_private_mounts()
    for target, mountpoint in shown:
        namespace.replace_mount(target, mountpoint)


def main(name, argv):
    real = real_runtime(name)
    if real is None:
        sys.stderr.write("%s: command not found\n" % name)
        return 127
    if os.geteuid() == 0 and os.path.isfile(node.NODE_ID_FILE):  # inside `pvesim run`
        try:
            enter_node_cgroups()
        except OSError as e:
            sys.stderr.write("pvesim: cannot put %s in the node's cgroups: %s\n" % (name, e.strerror or e))
            return 125
    os.execv(real, [name] + argv)
    return 126  # not reached
