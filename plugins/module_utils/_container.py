# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Container state reading and lifecycle for nexcage_container. PRIVATE to the collection.

Reading is free of tool calls: the config comes from ``/etc/pve/lxc/<vmid>.conf``,
the guest list from ``/etc/pve/.vmlist``, storages from ``/etc/pve/storage.cfg``,
the run state from ``/proc/net/unix`` (the abstract LXC command socket
``@/var/lib/lxc/<vmid>/command``, which is what PVE checks too) and the init
pid from the container's cgroup (``lxc-info`` only as a fallback). So a task
on a converged container runs no ``pct``/``pvesh``/``pvesm``/``qm`` at all.

Changes go through ``pct`` (create, set, resize, start, stop, shutdown,
reboot, destroy) and ``pveam download``, each through the Runner.

Failure policy (documented in the module): a failed ``pct create`` leaves
nothing behind (PVE removes the disks and config of a failed create task; a
VMID taken meanwhile by someone else is retried with the next free one when
nexcage chose it). Once ``pct create`` succeeded the container is kept even if
a later step (start, wait) fails; the error says so and the next run
continues from there.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import re
import socket
import tempfile
import time

from ansible_collections.cageforge.nexcage.plugins.module_utils import _errors as E
from ansible_collections.cageforge.nexcage.plugins.module_utils import _module
from ansible_collections.cageforge.nexcage.plugins.module_utils import _plan as P
from ansible_collections.cageforge.nexcage.plugins.module_utils import _pveconfig as C
from ansible_collections.cageforge.nexcage.plugins.module_utils import _validation as V
from ansible_collections.cageforge.nexcage.plugins.module_utils._common import common_argument_spec, runner_for
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import ctconf
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import is_bundle
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import state as oci_state
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import CommandFailed, Runner

ETC_PVE = "/etc/pve"
LXC_CONF_DIR = "/etc/pve/lxc"
VMLIST = "/etc/pve/.vmlist"
STORAGE_CFG = "/etc/pve/storage.cfg"
DATACENTER_CFG = "/etc/pve/datacenter.cfg"
PROC_NET_UNIX = "/proc/net/unix"
LXC_PATH = "/var/lib/lxc"
VMID_LOCK = "/run/lock/lxc/nexcage-vmid.lock"
RECORD_DIR = "/var/lib/nexcage/containers"
CGROUP_ROOT = "/sys/fs/cgroup"
PATH_STORAGE_TYPES = ("dir", "nfs", "cifs", "cephfs", "btrfs", "glusterfs")
CREATE_RETRIES = 5
SECRET_MASK = "********"


# --------------------------------------------------------------------------- reading the node


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def conf_path(vmid):
    return os.path.join(LXC_CONF_DIR, "%s.conf" % vmid)


def read_config(vmid):
    """The parsed config of a container on this node, or None."""
    text = _read(conf_path(vmid))
    return None if text is None else C.parse_config(text)


def read_vmlist():
    text = _read(VMLIST)
    return C.parse_vmlist(text) if text else {}


def read_storages():
    text = _read(STORAGE_CFG)
    return C.parse_storage_cfg(text) if text else {}


def local_node():
    try:
        return os.path.basename(os.readlink(os.path.join(ETC_PVE, "local")))
    except OSError:
        return socket.gethostname().split(".")[0]


def running_vmids():
    """VMIDs whose LXC command socket exists (one read of /proc/net/unix)."""
    text = _read(PROC_NET_UNIX) or ""
    found = set()
    for match in re.finditer(r"@%s/(\d+)/command$" % re.escape(LXC_PATH), text, re.MULTILINE):
        found.add(int(match.group(1)))
    return found


def is_running(vmid):
    return int(vmid) in running_vmids()


def _cgroup_candidates(vmid):
    names = ("lxc/%s/ns" % vmid, "lxc/%s" % vmid, "lxc.payload.%s" % vmid)
    for name in names:
        yield os.path.join(CGROUP_ROOT, name, "cgroup.procs")
        for ctrl in ("unified", "pids", "systemd", "memory", "cpu"):
            yield os.path.join(CGROUP_ROOT, ctrl, name, "cgroup.procs")


def _init_pid_from_cgroup(vmid):
    for path in _cgroup_candidates(vmid):
        text = _read(path)
        if not text:
            continue
        pids = [int(p) for p in text.split() if p.isdigit()]
        for pid in pids:
            status = _read("/proc/%d/status" % pid) or ""
            match = re.search(r"^NSpid:\s+(.*)$", status, re.MULTILINE)
            if match and match.group(1).split()[-1] == "1":
                return pid
        if pids:
            return min(pids)
    return None


def container_pid(vmid, runner=None):
    """The container's init pid: from its cgroup, else `lxc-info -p -H` (not a pct call).

    The lxc-info fallback is a read-only lookup: it runs through its own Runner so that it does
    not appear in the task's `commands` (which lists what changes, or would change, the node).
    """
    pid = _init_pid_from_cgroup(vmid)
    if pid is not None:
        return pid
    reader = runner if runner is not None else Runner(timeout=10)
    try:
        result = reader.run(["lxc-info", "-n", str(vmid), "-p", "-H"], check=False, timeout=10)
    except OSError:
        return None
    text = (result.stdout or "").strip()
    return int(text) if result.rc == 0 and text.isdigit() else None


def find_by_hostname(hostname):
    """VMIDs of the containers on this node whose config has this hostname (or CT<vmid> default)."""
    found = []
    for path in glob.glob(os.path.join(LXC_CONF_DIR, "*.conf")):
        name = os.path.basename(path)[: -len(".conf")]
        if not name.isdigit():
            continue
        text = _read(path) or ""
        head = re.split(r"^\[", text, maxsplit=1, flags=re.MULTILINE)[0]
        match = re.search(r"^hostname:\s*(\S+)\s*$", head, re.MULTILINE)
        current = match.group(1) if match else "CT%s" % name
        if current.lower() == hostname.lower():
            found.append(int(name))
    return sorted(found)


def _record_path(vmid):
    return os.path.join(RECORD_DIR, "%s.json" % vmid)


def read_record(vmid):
    text = _read(_record_path(vmid))
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


def write_record(vmid, data):
    os.makedirs(RECORD_DIR, exist_ok=True)
    tmp = _record_path(vmid) + ".tmp%d" % os.getpid()
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, sort_keys=True)
    os.replace(tmp, _record_path(vmid))


def remove_record(vmid):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_record_path(vmid))


def vmid_range():
    """[lower, upper) from datacenter.cfg next-id (defaults 100, 1000000), as pvesh /cluster/nextid uses."""
    lower, upper = 100, 1000000
    text = _read(DATACENTER_CFG) or ""
    match = re.search(r"^next-id:\s*(.*)$", text, re.MULTILINE)
    if match:
        for part in match.group(1).split(","):
            key, _sep, value = part.partition("=")
            if key.strip() == "lower" and value.strip().isdigit():
                lower = int(value)
            elif key.strip() == "upper" and value.strip().isdigit():
                upper = int(value)
    return lower, upper


def next_free_vmid(exclude=()):
    used = set(read_vmlist()) | set(exclude)
    lower, upper = vmid_range()
    for vmid in range(lower, upper):
        if vmid in used:
            continue
        if os.path.exists(conf_path(vmid)):
            continue
        return vmid
    raise E.NexcageError(
        E.RESOURCE_EXHAUSTED,
        "Cannot allocate a VMID: unable to get any free VMID in range [%d, %d]" % (lower, upper),
    )


@contextlib.contextmanager
def vmid_lock(timeout):
    """Node-local exclusive lock held while a VMID is picked and `pct create` runs."""
    os.makedirs(os.path.dirname(VMID_LOCK), exist_ok=True)
    with open(VMID_LOCK, "a+") as handle:
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise E.NexcageError(
                        E.LOCKED,
                        "Cannot allocate a VMID: the nexcage VMID lock %s is held for more than %ss"
                        % (VMID_LOCK, timeout),
                        hint="Another nexcage task is creating a container; retry, or raise command_timeout.",
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- argument spec


def argument_spec():
    spec = dict(
        vmid=dict(type="int"),
        hostname=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "started", "stopped", "restarted", "absent"]),
        image=dict(type="str"),
        download=dict(type="bool", default=False),
        memory=dict(type="int"),
        swap=dict(type="int"),
        cores=dict(type="int"),
        cpulimit=dict(type="float"),
        cpuunits=dict(type="int"),
        rootfs=dict(type="dict", options=dict(storage=dict(type="str"), size=dict(type="raw"))),
        netif=dict(
            type="list",
            elements="dict",
            options=dict(
                name=dict(type="str", required=True),
                bridge=dict(type="str"),
                ip=dict(type="str"),
                gw=dict(type="str"),
                ip6=dict(type="str"),
                gw6=dict(type="str"),
                hwaddr=dict(type="str"),
                tag=dict(type="int"),
                firewall=dict(type="bool"),
                mtu=dict(type="int"),
                rate=dict(type="float"),
            ),
        ),
        mounts=dict(
            type="list",
            elements="dict",
            options=dict(
                id=dict(type="int", required=True),
                host_path=dict(type="path"),
                storage=dict(type="str"),
                size=dict(type="raw"),
                mountpoint=dict(type="str", required=True),
                read_only=dict(type="bool"),
                backup=dict(type="bool"),
            ),
        ),
        features=dict(
            type="dict",
            options=dict(
                nesting=dict(type="bool"),
                keyctl=dict(type="bool"),
                fuse=dict(type="bool"),
                mount=dict(type="list", elements="str"),
            ),
        ),
        unprivileged=dict(type="bool"),
        onboot=dict(type="bool"),
        startup=dict(type="dict", options=dict(order=dict(type="int"), up=dict(type="int"), down=dict(type="int"))),
        tags=dict(type="list", elements="str"),
        description=dict(type="str"),
        nameserver=dict(type="list", elements="str"),
        searchdomain=dict(type="list", elements="str"),
        timezone=dict(type="str"),
        ostype=dict(type="str"),
        arch=dict(type="str"),
        pool=dict(type="str"),
        password=dict(type="str", no_log=True),
        ssh_public_keys=dict(type="str", no_log=False),
        force=dict(type="bool", default=False),
        purge=dict(type="bool", default=False),
        recreate=dict(type="bool", default=False),
        restart_on_change=dict(type="bool", default=False),
        stop_mode=dict(type="str", default="shutdown", choices=["shutdown", "stop"]),
        stop_timeout=dict(type="int", default=60),
        wait_timeout=dict(type="int", default=60),
        backend=dict(type="str", default="proxmox_lxc", choices=["proxmox_lxc", "runc", "crun"]),
        runtime_wrapper=dict(type="list", elements="str"),
        template_storage=dict(type="str", default="local"),
    )
    spec.update(common_argument_spec())
    return spec


# --------------------------------------------------------------------------- the task


class BundleImage:
    """nexcage_container with image: <OCI bundle directory> (the call into _oci.deploy).

    load() validates and maps the bundle and writes nothing; merged_params() puts its typed options
    into the task's parameters (the task's own values win); pack() is the apply step right before
    a create; sync_lines() writes its raw lxc.* lines through the node layer after create/update.
    """

    # nexcage_container options a bundle fills in when the task does not set them.
    PARAM_KEYS = ("hostname", "memory", "swap", "cpulimit", "cpuunits", "ostype", "unprivileged")

    def __init__(self, deployment):
        self.deployment = deployment
        self.directory = deployment.bundle
        self.template = deployment.template

    @classmethod
    def load(cls, params):
        from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import deploy

        return cls(deploy.prepare(params["image"], params["template_storage"]))

    def merged_params(self, params):
        """(params for the task, warnings): image is the bundle's template, its options fill the gaps."""
        out = dict(params, image=self.template)
        warnings = list(self.deployment.warnings)
        for key in self.PARAM_KEYS:
            if key not in self.deployment.options:
                continue
            value = self.deployment.options[key]
            if params.get(key) is None:
                out[key] = value
            elif params[key] != value:
                warnings.append("%s: the task's %r is used instead of the bundle's %r" % (key, params[key], value))
        out["mounts"] = self._mounts(params.get("mounts"))
        return out, warnings

    def _mounts(self, task_mounts):
        """The task's mounts, then the bundle's bind mounts with the next free ids."""
        mounts = list(task_mounts or [])
        used = {mount.get("id") for mount in mounts}
        next_id = 0
        for mount in self.deployment.mounts:
            while next_id in used:
                next_id += 1
            mounts.append(dict(mount, id=next_id))
            used.add(next_id)
        return mounts or task_mounts

    def create_options(self):
        """pct create options the bundle needs that the module has no option for (cmode)."""
        return list(self.deployment.pct)

    def pack(self, runner):
        from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import deploy

        return deploy.pack(runner, self.deployment)

    def sync_lines(self, vmid, check_mode):
        return ctconf.set_raw_lxc_lines(vmid, self.deployment.lxc, check_mode=check_mode)

    def to_dict(self):
        return self.deployment.to_dict()


class ContainerTask:
    """One run of nexcage_container: resolve, plan, act, report."""

    def __init__(self, module, runner=None):
        self.module = module
        self.params = module.params
        self.check = module.check_mode
        self.runner = runner or runner_for(module)
        self.changed = False
        self.vmid = None
        self.name = self.params.get("hostname")
        self.created = False
        self.steps = []  # human-readable summary of what was (or would be) done
        self.pending = []
        self.changes = []
        self._keyfile = None
        self._pid = None
        self._was_running = False
        self.pid_reader = None  # a Runner for the read-only lxc-info fallback (None: a fresh one)
        self.bundle = None  # a BundleImage when image is an OCI bundle directory

    # ---------------------------------------------------------------- helpers

    def fail(self, category, message, hint=None, **kw):
        raise E.NexcageError(category, message, hint=hint, **kw)

    def run(self, argv, action, mutating=True, timeout=None, hint=None):
        try:
            return self.runner.run(argv, mutating=mutating, timeout=timeout)
        except CommandFailed as exc:
            err = E.error_from_result(exc.result, action, self.vmid, self.name, hint=hint)
            if self.created and action != "create":
                err.message += " (the container was created by this task and is kept)"
            err.cmd = self._mask(err.cmd)
            raise err from None

    def _mask(self, text):
        secret = self.params.get("password")
        if secret and text:
            return text.replace(secret, SECRET_MASK)
        return text

    def commands(self):
        return [self._mask(c) for c in self.runner.commands]

    def pid(self):
        if self._pid is None:
            self._pid = container_pid(self.vmid, self.pid_reader)
        return self._pid

    def what(self):
        return E.describe_container(self.vmid, self.name)

    # ---------------------------------------------------------------- state

    def status_of(self, vmid):
        return "running" if is_running(vmid) else "stopped"

    def wait_for(self, want, timeout):
        """Wait until the container's status is `want`, with backoff; fail with the last state seen."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            seen = self.status_of(self.vmid)
            if seen == want:
                return seen
            if time.monotonic() >= deadline:
                self.fail(
                    E.TIMEOUT,
                    "Timed out after %ss waiting for %s to be %s; last state seen: %s"
                    % (timeout, self.what(), want, seen),
                    hint="Raise wait_timeout, or look at /run/pve/ct-%s.stderr and the container's init." % self.vmid,
                )
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 1.0)

    # ---------------------------------------------------------------- identity

    def resolve(self):
        """Set self.vmid (or None if a new container is needed) and return its parsed config or None."""
        vmid = self.params.get("vmid")
        if vmid is not None:
            self.vmid = V.validate_vmid(vmid)
            config = read_config(self.vmid)
            if config is not None:
                return config
            entry = read_vmlist().get(self.vmid)
            if entry is not None and self.params["state"] != "absent":
                kind = "VM" if entry.get("type") == "qemu" else "CT"
                node = entry.get("node")
                if entry.get("type") == "qemu":
                    detail = "VMID %s is held by a QEMU virtual machine on node '%s'" % (self.vmid, node)
                else:
                    detail = "VMID %s is a container on node '%s', not on this node (%s)" % (
                        self.vmid,
                        node,
                        local_node(),
                    )
                self.fail(
                    E.ALREADY_EXISTS,
                    "Cannot use %s: %s (%s %s already exists on node '%s')"
                    % (self.what(), detail, kind, self.vmid, node),
                    hint="Choose another vmid, or omit vmid so that nexcage allocates a free one."
                    if entry.get("type") == "qemu"
                    else "Run the task on node '%s', or choose another vmid." % node,
                )
            return None
        hostname = self.params.get("hostname")
        if not hostname:
            self.fail(
                E.INVALID_ARGUMENT,
                "Cannot identify the container: give vmid or hostname",
                hint="Set vmid: <number>, or hostname: <name> to find (or create) the container by name.",
            )
        V.validate_hostname(hostname)
        matches = find_by_hostname(hostname)
        if len(matches) > 1:
            self.fail(
                E.INVALID_ARGUMENT,
                "Cannot identify the container: hostname %s is used by several containers: VMIDs %s"
                % (hostname, ", ".join(str(m) for m in matches)),
                hint="Set vmid to the one you mean, or give the containers unique hostnames.",
                vmids=matches,
            )
        if matches:
            self.vmid = matches[0]
            return read_config(self.vmid)
        return None

    # ---------------------------------------------------------------- pre-checks

    def check_template(self, desired):
        if self.bundle is not None:
            return  # the template packed from the bundle (planned only, in check mode)
        image = desired.image
        storage_id, filename = V.validate_template_volid(image, "image")
        storages = read_storages()
        storage = storages.get(storage_id)
        if storage is None:
            self.fail(
                E.NOT_FOUND,
                "Cannot create %s: image %s: storage '%s' does not exist (storages: %s)"
                % (self.what(), image, storage_id, ", ".join(sorted(storages)) or "none"),
                hint="Use a storage ID from /etc/pve/storage.cfg that has content 'vztmpl'.",
            )
        if storage.get("disable"):
            self.fail(E.UNSUPPORTED, "Cannot create %s: storage '%s' is disabled" % (self.what(), storage_id))
        if "vztmpl" not in storage.get("content", []):
            self.fail(
                E.UNSUPPORTED,
                "Cannot create %s: storage '%s' does not support templates (content: %s)"
                % (self.what(), storage_id, ",".join(storage.get("content", [])) or "none"),
                hint="Put templates on a storage with content 'vztmpl' (e.g. local).",
            )
        if storage.get("type") not in PATH_STORAGE_TYPES or not isinstance(storage.get("path"), str):
            return  # cannot stat it: pct will check
        cache = os.path.join(storage["path"], "template", "cache")
        if os.path.isfile(os.path.join(cache, filename)):
            return
        if self.params.get("download"):
            self.run(["pveam", "download", storage_id, filename], "download the template for")
            self.steps.append("download %s" % image)
            self.changed = True
            if not self.check and not os.path.isfile(os.path.join(cache, filename)):
                self.fail(
                    E.NOT_FOUND,
                    "Cannot create %s: `pveam download %s %s` did not produce %s"
                    % (self.what(), storage_id, filename, os.path.join(cache, filename)),
                    hint="Check the name with `pveam available`, and `pveam update`.",
                )
            return
        try:
            have = sorted(
                "%s:vztmpl/%s" % (storage_id, f)
                for f in os.listdir(cache)
                if f.endswith(V.TEMPLATE_EXTENSIONS) and os.path.isfile(os.path.join(cache, f))
            )
        except OSError:
            have = []
        self.fail(
            E.NOT_FOUND,
            "Cannot create %s: template %s does not exist (volume '%s' does not exist). Templates on storage '%s': %s"
            % (self.what(), image, image, storage_id, ", ".join(have) if have else "none"),
            hint="Use one of the listed templates, or set download: true to fetch it with pveam.",
            available=have,
        )

    def check_storages(self, desired):
        storages = read_storages()
        wanted = []
        if desired.rootfs and desired.rootfs.get("storage"):
            wanted.append(("rootfs.storage", desired.rootfs["storage"]))
        for i, entry in enumerate(desired.mounts or []):
            if "storage" in entry:
                wanted.append(("mounts[%d].storage" % i, entry["storage"]))
        for option, storage_id in wanted:
            storage = storages.get(storage_id)
            if storage is None:
                self.fail(
                    E.NOT_FOUND,
                    "Cannot create %s: %s: storage '%s' does not exist (storages: %s)"
                    % (self.what(), option, storage_id, ", ".join(sorted(storages)) or "none"),
                    hint="Use a storage ID from /etc/pve/storage.cfg with content 'rootdir'.",
                )
            if storage.get("disable"):
                self.fail(E.UNSUPPORTED, "Cannot create %s: storage '%s' is disabled" % (self.what(), storage_id))
            if "rootdir" not in storage.get("content", []):
                self.fail(
                    E.UNSUPPORTED,
                    "Cannot create %s: %s: storage '%s' does not support container directories (content: %s)"
                    % (self.what(), option, storage_id, ",".join(storage.get("content", [])) or "none"),
                    hint="Use a storage with content 'rootdir' (e.g. local-zfs, local-lvm).",
                )

    def check_unlocked(self, config, action, allow=()):
        lock = config.get("lock")
        if lock and lock not in allow:
            self.fail(
                E.LOCKED,
                "Cannot %s %s: CT is locked (%s)" % (action, self.what(), lock),
                hint="Wait for the '%s' operation to finish; if none runs any more, remove the stale lock with "
                "`pct unlock %s`." % (lock, self.vmid),
            )

    # ---------------------------------------------------------------- create / destroy

    def _keyfile_path(self):
        keys = self.params.get("ssh_public_keys")
        if not keys:
            return None
        if self.check:
            return "<temporary file with ssh_public_keys>"
        tmpdir = getattr(self.module, "tmpdir", None)
        fd, path = tempfile.mkstemp(prefix="nexcage-keys-", suffix=".pub", dir=tmpdir)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(keys if keys.endswith("\n") else keys + "\n")
        self._keyfile = path
        return path

    def _cleanup_keyfile(self):
        if self._keyfile:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._keyfile)
            self._keyfile = None

    def create_argv(self, vmid, desired):
        argv = ["pct", "create", str(vmid), desired.image]
        for key, value in P.create_options(desired):
            argv += ["--" + key, value]
        if self.bundle is not None:
            for key, value in self.bundle.create_options():
                argv += ["--" + key, value]
        if self.params.get("password"):
            argv += ["--password", self.params["password"]]
        keyfile = self._keyfile_path()
        if keyfile:
            argv += ["--ssh-public-keys", keyfile]
        return argv

    def create(self, desired):
        if desired.image is None:
            self.fail(
                E.INVALID_ARGUMENT,
                "Cannot create %s: it does not exist and image is not set" % self.what(),
                hint="Set image to a template volume ID such as local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst.",
            )
        self.check_template(desired)
        self.check_storages(desired)
        self.pack_bundle()
        try:
            if self.vmid is not None:
                self._create_once(self.vmid, desired)
            else:
                self._create_allocating(desired)
        finally:
            self._cleanup_keyfile()
        self.created = True
        self.changed = True
        self.steps.append("create")
        if not self.check:
            write_record(self.vmid, {"vmid": self.vmid, "image": desired.image, "created": int(time.time())})
            self.sync_oci("created")

    def _create_once(self, vmid, desired):
        self.run(self.create_argv(vmid, desired), "create", timeout=max(self.runner.timeout, 600))

    def _create_allocating(self, desired):
        tried = []
        with vmid_lock(timeout=max(self.runner.timeout, 600)):
            hostname = self.params.get("hostname")
            if hostname:
                # another task may have created it while we waited for the lock
                matches = find_by_hostname(hostname)
                if matches:
                    self.vmid = matches[0]
                    self.created = False
                    raise _Retarget()
            for _attempt in range(CREATE_RETRIES):
                self.vmid = next_free_vmid(exclude=tried)
                try:
                    self._create_once(self.vmid, desired)
                    return
                except E.NexcageError as err:
                    if err.category != E.ALREADY_EXISTS:
                        raise
                    tried.append(self.vmid)  # someone outside nexcage took it: next one
            self.fail(
                E.ALREADY_EXISTS,
                "Cannot create %s: VMIDs %s were all taken while creating" % (self.what(), ", ".join(map(str, tried))),
                hint="Retry; or set vmid explicitly.",
            )

    def destroy(self, running):
        argv = ["pct", "destroy", str(self.vmid)]
        if running:
            argv += ["--force", "1"]
        if self.params.get("purge"):
            argv += ["--purge", "1"]
        self.run(argv, "destroy")
        self.changed = True
        self.steps.append("destroy")
        if not self.check:
            oci_state.remove_state(self.vmid)
            remove_record(self.vmid)

    # ---------------------------------------------------------------- run state

    def start(self):
        self.run(
            ["pct", "start", str(self.vmid)], "start", timeout=max(self.runner.timeout, self.params["wait_timeout"])
        )
        self.changed = True
        self.steps.append("start")
        if not self.check:
            self.wait_for("running", self.params["wait_timeout"])
            self._pid = None
            self.sync_oci("running")

    def stop(self):
        if self.params["stop_mode"] == "shutdown":
            timeout = self.params["stop_timeout"]
            argv = ["pct", "shutdown", str(self.vmid), "--timeout", str(timeout), "--forceStop", "1"]
            self.run(argv, "shut down", timeout=max(self.runner.timeout, timeout + 30))
        else:
            self.run(["pct", "stop", str(self.vmid)], "stop")
        self.changed = True
        self.steps.append(self.params["stop_mode"])
        if not self.check:
            self.wait_for("stopped", self.params["wait_timeout"])
            self.sync_oci("stopped")

    def reboot(self):
        timeout = self.params["stop_timeout"]
        self.run(
            ["pct", "reboot", str(self.vmid), "--timeout", str(timeout)],
            "restart",
            timeout=max(self.runner.timeout, timeout + self.params["wait_timeout"] + 30),
        )
        self.changed = True
        self.steps.append("restart")
        if not self.check:
            self.wait_for("running", self.params["wait_timeout"])
            self._pid = None
            self.sync_oci("running")

    def sync_oci(self, status, config=None):
        """Bring /run/nexcage/<vmid>/state.json in line with the container (not a reported change)."""
        if self.check or self.vmid is None:
            return
        pid = self.pid() if status == "running" else None
        config = config if config is not None else (read_config(self.vmid) or {})
        record = read_record(self.vmid)
        annotations = {"org.cageforge.nexcage.vmid": str(self.vmid), "org.cageforge.nexcage.backend": "pct"}
        if config.get("hostname"):
            annotations["org.cageforge.nexcage.hostname"] = config["hostname"]
        if record.get("image"):
            annotations["org.cageforge.nexcage.image"] = record["image"]
        want = oci_state.build_state(self.vmid, status, pid, os.path.join(LXC_PATH, str(self.vmid)), annotations)
        if oci_state.read_state(self.vmid) != want:
            oci_state.write_state(self.vmid, status, pid, want["bundle"], annotations)

    # ---------------------------------------------------------------- main flow

    def use_bundle(self):
        """image is an OCI bundle directory: validate and map it (nothing is written yet)."""
        self.bundle = BundleImage.load(self.params)
        self.params, warnings = self.bundle.merged_params(self.params)
        for warning in warnings:
            self.module.warn("bundle %s: %s" % (self.bundle.directory, warning))

    def pack_bundle(self):
        """Before a create from a bundle: its content-addressed template (planned only, in check mode)."""
        if self.bundle is not None and self.bundle.pack(self.runner):
            self.changed = True
            self.steps.append("pack %s" % self.bundle.template)

    def sync_bundle_lines(self, running):
        """Raw lxc.* lines of the bundle into the CT config, under the config lock (not settable by pct)."""
        changed, before, after = self.bundle.sync_lines(self.vmid, self.check)
        if not changed:
            return
        self.changed = True
        self.steps.append("lxc")
        self.changes.append({"key": "lxc", "before": [list(kv) for kv in before], "after": [list(kv) for kv in after]})
        if running:
            self.pending = sorted(set(self.pending) | {"lxc"})

    def execute(self):
        state = self.params["state"]
        if self.params.get("backend", "proxmox_lxc") != "proxmox_lxc":
            from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.runtime import RuntimeBackend

            result = RuntimeBackend(self.params, self.runner, diff=self.module._diff).execute()
            self.changed, self.steps = result["changed"], result["steps"]
            return result
        if state != "absent" and is_bundle(self.params.get("image")):
            self.use_bundle()
        try:
            desired = P.desired_from_params(self.params) if state != "absent" else None
            config = self.resolve()
        except V.ValidationError as exc:
            raise E.from_validation(exc, self.params.get("vmid"), self.name) from None
        if self.name is None and config is not None:
            self.name = config.get("hostname")
        before = self.snapshot(config)

        if state == "absent":
            return self.do_absent(config, before)

        running = False
        if config is None:
            try:
                self.create(desired)
            except _Retarget:
                config = read_config(self.vmid)
        if config is not None:
            running = is_running(self.vmid)
            self.converge(desired, config, running)
        if self.created:
            running = False
        if self.bundle is not None:
            self.sync_bundle_lines(running)

        if state == "started":
            if not running:
                self.start()
            elif self.pending and self.params["restart_on_change"]:
                self.reboot()
        elif state == "stopped":
            if running:
                self.stop()
        elif state == "restarted":
            if running:
                if self.params["stop_mode"] == "stop":
                    self.run(["pct", "stop", str(self.vmid)], "stop")
                    self.steps.append("stop")
                    if not self.check:
                        self.wait_for("stopped", self.params["wait_timeout"])
                    self.start()
                else:
                    self.reboot()
            else:
                self.start()
        elif state == "present":
            if self.created and self._was_running:
                self.start()
            elif running and self.pending and self.params["restart_on_change"]:
                self.reboot()
        return self.finish(before, desired)

    def converge(self, desired, config, running):
        effective = C.effective_config(config)
        record = read_record(self.vmid)
        try:
            plan = P.plan_update(desired, effective, running, record.get("image"))
        except V.ValidationError as exc:
            raise E.from_validation(exc, self.vmid, self.name) from None
        if plan.create_only:
            fields = ", ".join(
                "%s (%s -> %s: %s)" % (c.key, _show(c.before), _show(c.after), c.reason) for c in plan.create_only
            )
            if not self.params["recreate"]:
                self.fail(
                    E.INVALID_ARGUMENT,
                    "Cannot update %s: create-only settings differ: %s" % (self.what(), fields),
                    hint="Change the playbook back to the current values, or set recreate: true to destroy and "
                    "recreate the container (this DESTROYS its data).",
                    fields=[c.to_dict() for c in plan.create_only],
                )
            self.check_unlocked(config, "recreate")
            if desired.image is None:
                self.fail(
                    E.INVALID_ARGUMENT,
                    "Cannot recreate %s: image is not set" % self.what(),
                    hint="Set image to recreate the container from a template.",
                )
            self.check_template(desired)
            self.check_storages(desired)
            self.pack_bundle()
            self.destroy(running)
            self._was_running = running
            try:
                self._create_once(self.vmid, desired)
            finally:
                self._cleanup_keyfile()
            self.created = True
            self.steps.append("create")
            self.changes = [c.to_dict() for c in plan.create_only]
            if not self.check:
                write_record(self.vmid, {"vmid": self.vmid, "image": desired.image, "created": int(time.time())})
                self.sync_oci("created")
            return
        self.changes = [c.to_dict() for c in plan.changes]
        set_argv = plan.set_argv(self.vmid)
        resizes = plan.resize_argvs(self.vmid)
        if set_argv or resizes:
            self.check_unlocked(config, "update")
        if set_argv:
            self.run(set_argv, "update")
            self.changed = True
            self.steps.append("update")
        for argv in resizes:
            self.run(argv, "resize a disk of")
            self.changed = True
            self.steps.append("resize %s" % argv[3])
        self.pending = sorted(set(plan.pending_keys(running)) | set(_pending_keys(config)))

    def do_absent(self, config, before):
        if config is None:
            return self.finish(before, None)
        running = is_running(self.vmid)
        if running and not self.params["force"]:
            self.fail(
                E.ALREADY_RUNNING,
                "Cannot remove %s: it is running (unable to destroy CT %s - container is running)"
                % (self.what(), self.vmid),
                hint="Stop it first (state: stopped), or set force: true to stop and destroy it.",
            )
        self.check_unlocked(config, "remove")
        self.destroy(running)
        return self.finish(before, None)

    # ---------------------------------------------------------------- reporting

    def snapshot(self, config, status=None):
        """The structured view used for diff: {'status', 'config'}."""
        if config is None:
            return {"status": "absent"}
        effective = C.effective_config(config)
        if status is None:
            status = self.status_of(self.vmid)
        return {"vmid": self.vmid, "status": status, "config": _jsonable(C.config_keys(effective))}

    def finish(self, before, desired):
        container = None
        if self.check:
            after = self.predict_after(before, desired)
            if after.get("status") != "absent":
                container = dict(after.get("config", {}), vmid=self.vmid, status=after["status"], pid=None)
                container["pending"] = self.pending
        else:
            config = read_config(self.vmid) if self.vmid is not None else None
            after = self.snapshot(config)
            if config is not None:
                status = after["status"]
                pid = self.pid() if status == "running" else None
                container = dict(_jsonable(C.config_keys(config)))
                container.update(
                    vmid=self.vmid,
                    node=local_node(),
                    status=status,
                    pid=pid,
                    lock=config.get("lock"),
                    pending=_jsonable(config.get("pending") or {}),
                    pending_keys=sorted(_pending_keys(config)),
                    snapshots=sorted(config.get("snapshots") or {}),
                )
                existing = oci_state.read_state(self.vmid)
                if status == "running":
                    oci_status = "running"
                elif existing is not None and existing.get("status") == "created":
                    oci_status = "created"
                else:
                    oci_status = "stopped"
                self.sync_oci(oci_status, config)
        result = {
            "changed": self.changed,
            "vmid": self.vmid,
            "container": container,
            "commands": self.commands(),
            "steps": self.steps,
            "changes": self.changes,
            "pending": self.pending,
        }
        if self.bundle is not None:
            result["bundle"] = self.bundle.to_dict()
        if self.module._diff:
            result["diff"] = {"before": before, "after": after}
        return result

    def predict_after(self, before, desired):
        state = self.params["state"]
        if state == "absent":
            return {"status": "absent"}
        if self.created:
            config = P.predicted_config(desired, self.vmid)
            status = "running" if state in ("started", "restarted") else "stopped"
            return {"vmid": self.vmid, "status": status, "config": _jsonable(config)}
        config = dict(before.get("config", {}))
        for change in self.changes:
            key = change["key"]
            if "." in key:
                base, _dot, field = key.partition(".")
                if field == "size" and isinstance(config.get(base), dict):
                    config[base] = dict(config[base], size=change["after"])
                continue
            if change["after"] is None:
                config.pop(key, None)
            else:
                config[key] = change["after"]
        status = before.get("status")
        if state in ("started", "restarted"):
            status = "running"
        elif state == "stopped":
            status = "stopped"
        return {"vmid": self.vmid, "status": status, "config": _jsonable(config)}


class _Retarget(Exception):
    """The container appeared (by hostname) while waiting for the VMID lock."""


def _pending_keys(config):
    pending = config.get("pending") or {}
    keys = [k for k in pending if k != "delete"]
    keys += [k.lstrip("!") for k in pending.get("delete", [])]
    return keys


def _show(value):
    if isinstance(value, dict):
        return C.format_property_string("rootfs", value) if "volume" in value else json.dumps(value, sort_keys=True)
    if value is None:
        return "unset"
    return str(value)


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def run_module(module):
    """Entry point used by the module: exit_json or fail_json, never a traceback."""
    task = ContainerTask(module)

    def context(_error):
        return dict(vmid=task.vmid, changed=task.changed, commands=task.commands(), steps=task.steps)

    _module.run(module, task.execute, name="nexcage_container", what=task.what, context=context)
