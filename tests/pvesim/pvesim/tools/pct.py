"""Simulated `pct` (pve-cli-facts §1-5, §7).

Argument parsing, schema checks, pre-checks, config handling, locks and the
create/destroy tasks live here; running processes (start, stop, exec, push,
pull) is delegated to pvesim.runtime.
"""

import os
import re
import shlex
import subprocess
import sys
import time

from pvesim import cli, ctconfig, ctstatus, node
from pvesim.ctconfig import CONFDESC, FormatError, Prop

USAGES = {
    "clone": "pct clone <vmid> <newid> [OPTIONS]",
    "config": "pct config <vmid> [OPTIONS]",
    "console": "pct console <vmid> [OPTIONS]",
    "cpusets": "pct cpusets",
    "create": "pct create <vmid> <ostemplate> [OPTIONS]",
    "delsnapshot": "pct delsnapshot <vmid> <snapname> [OPTIONS]",
    "destroy": "pct destroy <vmid> [OPTIONS]",
    "df": "pct df <vmid>",
    "enter": "pct enter <vmid> [OPTIONS]",
    "exec": "pct exec <vmid> [<extra-args>] [OPTIONS]",
    "fsck": "pct fsck <vmid> [OPTIONS]",
    "fstrim": "pct fstrim <vmid> [OPTIONS]",
    "help": "pct help [<extra-args>] [OPTIONS]",
    "list": "pct list",
    "listsnapshot": "pct listsnapshot <vmid>",
    "migrate": "pct migrate <vmid> <target> [OPTIONS]",
    "mount": "pct mount <vmid>",
    "move-volume": "pct move-volume <vmid> <volume> [<storage>] [<target-vmid>] [<target-volume>] [OPTIONS]",
    "pending": "pct pending <vmid>",
    "pull": "pct pull <vmid> <path> <destination> [OPTIONS]",
    "push": "pct push <vmid> <file> <destination> [OPTIONS]",
    "reboot": "pct reboot <vmid> [OPTIONS]",
    "remote-migrate": "pct remote-migrate <vmid> [<target-vmid>] <target-endpoint> --target-bridge <string> "
    "--target-storage <string> [OPTIONS]",
    "rescan": "pct rescan  [OPTIONS]",
    "resize": "pct resize <vmid> <disk> <size> [OPTIONS]",
    "restore": "pct restore <vmid> <ostemplate> [OPTIONS]",
    "resume": "pct resume <vmid>",
    "rollback": "pct rollback <vmid> <snapname> [OPTIONS]",
    "set": "pct set <vmid> [OPTIONS]",
    "shutdown": "pct shutdown <vmid> [OPTIONS]",
    "snapshot": "pct snapshot <vmid> <snapname> [OPTIONS]",
    "start": "pct start <vmid> [OPTIONS]",
    "status": "pct status <vmid> [OPTIONS]",
    "stop": "pct stop <vmid> [OPTIONS]",
    "suspend": "pct suspend <vmid>",
    "template": "pct template <vmid>",
    "unlock": "pct unlock <vmid>",
    "unmount": "pct unmount <vmid>",
}

VMID_PROP = Prop("integer", fmt="pve-vmid")
PULL_DIE_LINE = 455  # `die` without newline in pct.pm: Perl appends " at FILE line N."
EXEC_DIE_LINE = 189  # seen in QwenLM/qwen-code#1568

CREATE_ONLY = {
    "password": Prop(minlen=5),
    "ssh-public-keys": Prop(),
    "storage": Prop(fmt="pve-storage-id"),
    "start": Prop("boolean"),
    "restore": Prop("boolean"),
    "force": Prop("boolean"),
    "unique": Prop("boolean", requires="restore"),
    "pool": Prop(fmt="pve-poolid"),
    "bwlimit": Prop("number", minimum=0),
    "ignore-unpack-errors": Prop("boolean"),
    "ha-managed": Prop("boolean"),
}
SET_ONLY = {
    "delete": Prop(),
    "revert": Prop(),
    "digest": Prop(maxlen=40),
}
CREATE_SCHEMA = {k: v for k, v in CONFDESC.items() if k not in ("parent", "snaptime")}
CREATE_SCHEMA.update(CREATE_ONLY)
SET_SCHEMA = {k: v for k, v in CONFDESC.items() if k not in ("parent", "snaptime")}
SET_SCHEMA.update(SET_ONLY)


# Options of a `-list` format (delete and revert are pve-configid-list): Getopt collects a
# repeated option and get_options joins the values with commas.
LIST_OPTIONS = ("delete", "revert") + tuple(
    k for k, p in CONFDESC.items() if isinstance(p.fmt, str) and p.fmt.endswith("-list")
)


def _getopt(schema):
    return {k: cli.Opt(p.type) for k, p in schema.items()}


def _runtime():
    from pvesim import runtime

    return runtime


def _runtime_optional():
    """The runtime module if it is there (mount/unmount/destroy work without it)."""
    try:
        return _runtime()
    except ImportError:
        return None


def _storage():
    from pvesim import storage

    return storage


# ---------------------------------------------------------------- helpers


def validate(params, schema, errors):
    """Schema checks of raw option values; typed values returned, errors collected."""
    typed = {}
    for key, raw in params.items():
        value, errs = ctconfig.check_value(schema[key], raw, key)
        if errs:
            errors.update(errs)
        else:  # a config option keeps the text given (`--memory +512` is stored as `+512`)
            typed[key] = raw if key in CONFDESC and schema[key].type == "integer" else value
    for key, prop in schema.items():
        if prop.requires and key in params and prop.requires not in params:
            errors[prop.requires] = "missing property required by '%s'" % key
    return typed


def parse(argv, cmd, schema=None, npos=1, max_pos=None):
    """Getopt + schema: (vmid or None, other positionals, typed options)."""
    usage = USAGES[cmd]
    schema = schema or {}
    pos, opts = cli.parse_args(argv, _getopt(schema), npos, usage, max_pos=max_pos, list_opts=LIST_OPTIONS)
    errors = {}
    vmid = None
    if npos >= 1 and "<vmid>" in usage:
        value, errs = ctconfig.check_value(VMID_PROP, pos[0], "vmid")
        errors.update(errs)
        vmid = value
        pos = pos[1:]
    typed = validate(opts, schema, errors)
    if errors:
        raise cli.ParamError(errors, usage)
    return vmid, pos, typed


def check_vmid_unused(vmid):
    entry = node.read_vmlist().get(str(vmid))
    if entry:
        kind = "VM" if entry["type"] == "qemu" else "CT"
        raise cli.PveError("%s %s already exists on node '%s'" % (kind, vmid, entry["node"]))


def conf_value(value):
    return str(value)


class Task:
    """A worker task in CLI mode: output (stdout and stderr merged) streams to stdout."""

    def __init__(self):
        self.warnings = 0

    def warn(self, message):
        print("WARN: " + message.rstrip("\n"))
        self.warnings += 1


def run_task(func, exit_hook=True):
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(1, 2)
    task = Task()
    error = None
    try:
        func(task)
    except (cli.PveError, cli.TaskFailed) as e:
        error = e.message
    except FormatError as e:
        error = e.message
    except cli.ParamError as e:
        error = cli.format_param_error(e.errors, "").rstrip("\n")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
    if error is not None:
        raise cli.TaskFailed(error, rc=255 if exit_hook else 0)
    if task.warnings:
        sys.stderr.write("Task finished with %d warning(s)!\n" % task.warnings)
    return 0


def is_running(vmid):
    return ctstatus.is_running(vmid)


def _mp_keys(conf):
    keys = ["rootfs"] if "rootfs" in conf else []
    return keys + sorted((k for k in conf if re.fullmatch(r"mp\d+", k)), key=lambda k: int(k[2:]))


def _volume_owner(volid, vmid):
    try:
        st = _storage()
        sid, volname = st.parse_volume_id(volid)
        _vtype, _name, owner, _fmt = st.parse_volname(st.get_storage(sid), volname)
        return owner == int(vmid)
    except cli.PveError:
        return False


def mac_prefix():
    """datacenter.cfg `mac_prefix` (default BC:24:11, Proxmox's OUI)."""
    try:
        with open(os.path.join(node.ETC_PVE, "datacenter.cfg"), encoding="utf-8") as f:
            for line in f:
                m = re.fullmatch(r"mac_prefix:\s*([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){0,4})\s*", line.strip())
                if m:
                    return m.group(1).upper()
    except FileNotFoundError:
        pass
    return "BC:24:11"


def normalise_net(value):
    """parse_lxc_network + print_lxc_network: type=veth, hwaddr generated if absent."""
    net = ctconfig.parse_net(value)
    net["type"] = "veth"
    if not net.get("hwaddr"):
        net["hwaddr"] = ctconfig.random_mac(mac_prefix())
    return ctconfig.print_net(net)


def cgroup_mode():
    """PVE::CGroup::cgroup_mode: 2 when /sys/fs/cgroup is cgroup2, else 1 (PVESIM_CGROUP_MODE
    overrides, so a node can stand for a host of the other kind)."""
    forced = os.environ.get("PVESIM_CGROUP_MODE")
    if forced in ("1", "2"):
        return int(forced)
    with open("/proc/mounts", encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and fields[1] == "/sys/fs/cgroup":
                return 2 if fields[2] == "cgroup2" else 1
    return 1


def clamp_cpu_shares(shares):
    """PVE::CGroup::clamp_cpu_shares, applied by the API to create/set values."""
    if cgroup_mode() == 2:
        return min(shares, 10000)
    return max(shares, 2)


def check_hookscript(volid):
    """GuestHelpers::check_hookscript: a snippet that exists and is executable."""
    st = _storage()
    sid, volname = st.parse_volume_id(volid)
    scfg = st.get_storage(sid)
    m = re.fullmatch(r"snippets/([^/]+)", volname)
    if scfg.get("type") != "dir" or not m:
        if scfg.get("type") == "dir" and volname.startswith("snippets/"):
            raise cli.PveError("unable to parse directory volume name '%s'" % volname)
        raise cli.PveError("'%s' is not in the snippets directory" % volid)
    path = os.path.join(scfg.get("path", ""), "snippets", m.group(1))
    if not os.path.isfile(path):
        raise cli.PveError("script '%s' does not exist" % volid)
    if not os.access(path, os.X_OK):
        raise cli.PveError("script '%s' is not executable" % volid)


def check_net_option(key, value):
    """update_pct_config for netN: the MTU fits the bridge's, no SLAAC when host-managed."""
    net = ctconfig.parse_net(value)
    if net.get("mtu"):
        bridge = net.get("bridge") or ""
        try:
            with open("/sys/class/net/%s/mtu" % bridge, encoding="utf-8") as f:
                bridge_mtu = int(f.read().strip() or 0)
        except (OSError, ValueError):
            bridge_mtu = 0
        if not bridge_mtu or not bridge:
            raise cli.PveError("bridge '%s' does not exist" % bridge)
        if int(net["mtu"]) > bridge_mtu:
            raise cli.PveError("%s: MTU size '%s' is bigger than bridge MTU '%s'" % (key, net["mtu"], bridge_mtu))
    if str(net.get("link_down")) != "1" and str(net.get("host-managed")) == "1" and net.get("ip6") == "auto":
        raise cli.PveError("%s: SLAAC is not supported for host-managed network configuration." % key)


def check_device_option(key, value):
    """update_pct_config for devN: a path, and it is a device on this node."""
    dev = ctconfig.parse_property_string(ctconfig.DEV_DESC, value)
    if dev.get("path") is None:
        raise cli.PveError("Path has to be defined")
    path = dev["path"]
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise cli.PveError("Device %s does not exist" % path) from None
    except OSError:
        raise cli.PveError("Error accessing device %s" % path) from None
    import stat as statmod

    if not (statmod.S_ISBLK(st.st_mode) or statmod.S_ISCHR(st.st_mode)):
        raise cli.PveError("%s is not a device" % path)


def normalise_value(key, value):
    """What update_pct_config stores for a set/create option."""
    if key == "cpuunits":
        return str(clamp_cpu_shares(int(value)))
    if key == "tags":
        return ctconfig.unique_tags(value)
    if key in ("nameserver", "searchdomain"):
        return " ".join(ctconfig.split_list(value))
    return conf_value(value)


# ---------------------------------------------------------------- pending / apply


def cleanup_pending(conf):
    pending = conf.get("pending") or {}
    for key in list(pending):
        if key != "delete" and key in conf and str(pending[key]) == str(conf[key]):
            del pending[key]
    deletes = ctconfig.parse_pending_delete(pending.get("delete"))
    keep = {k: f for k, f in deletes.items() if k in conf}
    if keep:
        pending["delete"] = ctconfig.print_pending_delete(keep)
    else:
        pending.pop("delete", None)
    if not pending:
        conf.pop("pending", None)


def _add_unused(conf, volid):
    for i in range(ctconfig.MAX_MPS):
        if conf.get("unused%d" % i) == volid:
            return
    for i in range(ctconfig.MAX_MPS):
        if "unused%d" % i not in conf:
            conf["unused%d" % i] = volid
            return


def _create_disk(vmid, key, value, conf):
    """create_disks for one rootfs/mpN value: allocate `STORAGE:SIZE`, re-print the rest."""
    mp = ctconfig.parse_volume(key, value)
    m = re.fullmatch(r"([A-Za-z0-9\-_.]+):(\d+(?:\.\d+)?)", mp["volume"]) if mp["type"] == "volume" else None
    allocated = None
    if m:
        storage_id, size_gib = m.group(1), m.group(2)
        size_kb = int(float(size_gib) * 1024 * 1024)
        allocated = _storage().alloc_ct_volume(storage_id, vmid, float(size_gib))
        mp["volume"] = allocated
        mp["size"] = size_kb * 1024
    elif mp.get("size") is not None:
        mp["size"] = ctconfig.parse_size(mp["size"])
    data = dict(mp)
    if key == "rootfs":
        data.pop("mp", None)
    conf[key] = ctconfig.print_mountpoint(data, key == "rootfs")
    return allocated


NEW_DISK_RE = r"([A-Za-z0-9\-_.]+):(\d+(?:\.\d+)?)"


def _rescan_volume(mp):
    """apply_pending_mountpoint's rescan of an existing volume: its size from the storage."""
    st = _storage()
    try:
        sid, volname = st.parse_volume_id(mp["volume"])
        st.parse_volname(st.get_storage(sid), volname)
        path = st.volume_path(mp["volume"])
        if not os.path.exists(path):
            sys.stderr.write("failed to stat '%s'\n" % path)
            mp["size"] = None
        else:
            mp["size"] = st.volume_size_bytes(mp["volume"])
    except cli.PveError as e:
        sys.stderr.write("Could not rescan volume size - %s\n\n" % e.message.rstrip("\n"))


def apply_pending(vmid, conf, errors=None, selection=None):
    """vmconfig_apply_pending (stopped CT): deletions, then new values; with a selection
    (the options this call changed) only those, the rest stays pending."""
    errors = {} if errors is None else errors
    pending = conf.get("pending") or {}
    for key in sorted(ctconfig.parse_pending_delete(pending.get("delete"))):
        if selection is not None and key not in selection:
            continue
        old = conf.get(key)
        if old is not None and re.fullmatch(r"mp\d+", key):
            try:
                mp = ctconfig.parse_mountpoint(old)
                if mp["type"] == "volume":
                    _add_unused(conf, mp["volume"])
            except FormatError:
                pass
        elif old is not None and re.fullmatch(r"unused\d+", key) and _volume_owner(old, vmid):
            _storage().free_volume(old)
        conf.pop(key, None)
        ctconfig.remove_from_pending_delete(conf, key)
    cleanup_pending(conf)
    pending = conf.get("pending") or {}
    for key in sorted(pending):
        if key == "delete" or (selection is not None and key not in selection):
            continue
        value = pending[key]
        try:
            if re.fullmatch(r"mp\d+", key):
                old = conf.get(key)
                mp = ctconfig.parse_volume(key, value)
                if mp["type"] == "volume" and not re.fullmatch(NEW_DISK_RE, mp["volume"]):
                    _rescan_volume(mp)
                    conf[key] = ctconfig.print_mountpoint(mp)
                else:
                    _create_disk(vmid, key, value, conf)
                if old:
                    oldmp = ctconfig.parse_volume(key, old)
                    newmp = ctconfig.parse_volume(key, conf[key])
                    if oldmp["type"] == "volume" and oldmp["volume"] != newmp["volume"]:
                        _add_unused(conf, oldmp["volume"])
            elif re.fullmatch(r"net\d+", key):
                conf[key] = normalise_net(value)
            else:
                conf[key] = value
        except (cli.PveError, FormatError) as e:
            msg = "unable to apply pending change %s : %s" % (key, e.message)
            errors[key] = msg
            sys.stderr.write(msg if msg.endswith("\n") else msg + "\n")
            continue
        del pending[key]
    if not pending:
        conf.pop("pending", None)
    return errors


HOTPLUG_ERRORS = (cli.PveError, cli.TaskFailed, FormatError)


def hotplug_pending(vmid, conf, errors, selection):
    """vmconfig_hotplug_pending (running CT), limited to `selection` (the keys this `pct set`
    changed): fast-plug options first, then deletions, then hot-pluggable values; what is not
    hot-pluggable stays pending. Pending keys of earlier calls are neither tried nor reported."""
    pending = conf.get("pending") or {}
    rt = _runtime_optional()
    for key in sorted(pending):
        if key in selection and key in ctconfig.FASTPLUG:
            if key == "cores":  # the CPU set of a running CT follows at once (pvestatd's rebalance)
                try:
                    _hotplug_runtime(rt, vmid, conf, key, pending[key])
                except HOTPLUG_ERRORS as e:
                    errors[key] = "unable to hotplug %s: %s" % (key, e.message)
                    continue
            conf[key] = pending.pop(key)
    for key in sorted(ctconfig.parse_pending_delete(pending.get("delete"))):
        if key not in selection:
            continue
        if key in ctconfig.FASTPLUG or key in ("swap", "cpulimit", "cpuunits") or re.fullmatch(r"net\d+", key):
            pass
        elif re.fullmatch(r"unused\d+", key):
            if conf.get(key) and _volume_owner(conf[key], vmid):
                _storage().free_volume(conf[key])
        else:
            continue
        conf.pop(key, None)
        ctconfig.remove_from_pending_delete(conf, key)
    for key in sorted(pending):
        if key == "delete" or key not in selection or not ctconfig.is_hotpluggable(key, conf):
            continue
        value = pending[key]
        allocated = None
        try:
            if re.fullmatch(r"net\d+", key):
                value = normalise_net(value)
            elif re.fullmatch(r"mp\d+", key):
                scratch = {}
                allocated = _create_disk(vmid, key, value, scratch)
                value = scratch[key]
            _hotplug_runtime(rt, vmid, conf, key, value)
        except HOTPLUG_ERRORS as e:
            if allocated:  # apply_pending_mountpoint destroys the disk it made for a failed hot-plug
                _storage().free_volume(allocated)
            errors[key] = "unable to hotplug %s: %s" % (key, e.message)
            continue
        conf[key] = value
        del pending[key]
    if not pending:
        conf.pop("pending", None)


def _hotplug_runtime(rt, vmid, conf, key, value):
    if rt is not None and hasattr(rt, "hotplug"):
        rt.hotplug(vmid, conf, key, value)


def update_config(vmid, conf, running, params, delete, revert):
    """update_pct_config: revert, queue deletions and values, then apply or hot-plug."""
    for key in revert:
        (conf.get("pending") or {}).pop(key, None)
        ctconfig.remove_from_pending_delete(conf, key)
    modified = set()
    for key in delete:
        if key not in conf and key not in (conf.get("pending") or {}):
            sys.stderr.write("cannot delete '%s' - not set in current configuration!\n" % key)
            continue
        modified.add(key)
        if key in ("memory", "rootfs", "ostype"):
            raise cli.PveError("unable to delete required option '%s'" % key)
        if re.fullmatch(r"mp\d+|unused\d+", key) and str(conf.get("protection", "0")) == "1":
            raise cli.PveError("can't remove CT %s drive '%s' - protection mode enabled" % (vmid, key))
        if key == "unprivileged":
            raise cli.PveError("unable to delete read-only option: '%s'" % key)
        ctconfig.add_to_pending_delete(conf, key)  # a pending value of key stays (as in PVE)
    for key in sorted(params):
        modified.add(key)
        value = params[key]
        if re.fullmatch(r"mp\d+", key) or key == "rootfs":
            if str(conf.get("protection", "0")) == "1":
                raise cli.PveError("can't update CT %s drive '%s' - protection mode enabled" % (vmid, key))
            mp = ctconfig.parse_volume(key, value)
            if mp["type"] == "volume":
                sid = _storage().parse_volume_id(mp["volume"])[0]
                if "rootdir" not in _storage().get_storage(sid)["content"]:
                    raise cli.PveError("storage '%s' does not allow content type 'rootdir' (Container)" % sid)
        elif key == "hookscript":
            check_hookscript(value)
        elif key == "unprivileged":
            raise cli.PveError("unable to modify read-only option: '%s'" % key)
        elif re.fullmatch(r"net\d+", key):
            check_net_option(key, value)
        elif re.fullmatch(r"dev\d+", key):
            check_device_option(key, value)
        conf.setdefault("pending", {})[key] = normalise_value(key, value)
        ctconfig.remove_from_pending_delete(conf, key)
    cleanup_pending(conf)
    errors = {}
    if conf.get("pending"):
        if running:
            hotplug_pending(vmid, conf, errors, modified)
        else:
            apply_pending(vmid, conf, errors, selection=modified)
    return errors


# ---------------------------------------------------------------- create


def _read_ssh_keys(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise cli.PveError("can't open '%s' - %s" % (path, e.strerror), rc=e.errno or 255) from None


def _validate_ssh_keys(text):
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not re.search(r"(^|\s)(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-\S+)\s+[A-Za-z0-9+/]+=*(\s|$)", line):
            raise cli.PveError("SSH public key validation error")


def _check_pool(pool):
    try:
        with open(os.path.join(node.ETC_PVE, "user.cfg"), encoding="utf-8") as f:
            pools = {line.split(":")[1] for line in f if line.startswith("pool:") and line.count(":") >= 2}
    except FileNotFoundError:
        pools = set()
    if pool not in pools:
        raise cli.PveError("403 Permission check failed (pool '%s' does not exist)" % pool)


COMPRESSION = {
    ".tar": None,
    ".tar.gz": "--gzip",
    ".tar.bz2": "--bzip2",
    ".tar.xz": "--xz",
    ".tar.lzo": "--lzop",
    ".tar.zst": "--zstd",
}


def _archive_compression(path):
    name = os.path.basename(path)
    for ext, flag in COMPRESSION.items():
        if name.endswith(ext):
            return flag
    m = re.search(r"\.tar(\.[^.]+)$", name)
    if m:
        raise cli.PveError("unrecognized compression format: %s" % m.group(1))
    raise cli.PveError("file does not look like a template archive: %s" % path)


def _shift_ids(rootdir, offset=100000):
    """What lxc-usernsexec does for an unprivileged CT: host ids = CT ids + 100000."""

    def shift(path):
        st = os.lstat(path)
        if st.st_uid >= 65536 and st.st_gid >= 65536:
            return
        os.lchown(
            path,
            st.st_uid + offset if st.st_uid < 65536 else st.st_uid,
            st.st_gid + offset if st.st_gid < 65536 else st.st_gid,
        )
        if not os.path.islink(path) and st.st_mode & 0o6000:
            os.chmod(path, st.st_mode & 0o7777)

    shift(rootdir)
    for root, dirs, files in os.walk(rootdir):
        for name in dirs + files:
            shift(os.path.join(root, name))


def _resolve_in_root(rootdir, path, depth=0):
    """Follow symlinks of path as if rootdir were / (PVE chroots for this)."""
    if depth > 40:
        raise cli.PveError("too many levels of symbolic links")
    parts = [p for p in path.split("/") if p and p != "."]
    cur = "/"
    for i, part in enumerate(parts):
        if part == "..":
            cur = os.path.dirname(cur.rstrip("/")) or "/"
            continue
        nxt = os.path.join(cur, part)
        real = os.path.join(rootdir, nxt.lstrip("/"))
        if os.path.islink(real):
            target = os.readlink(real)
            base = target if target.startswith("/") else os.path.join(cur, target)
            rest = "/".join(parts[i + 1 :])
            return _resolve_in_root(rootdir, os.path.join(base, rest) if rest else base, depth + 1)
        cur = nxt
    return os.path.join(rootdir, cur.lstrip("/"))


ELF_MACHINES = {0x03: "i386", 0x3E: "amd64", 0x28: "armhf", 0xB7: "arm64", 0xF3: "riscv"}


def detect_architecture(rootdir):
    path = _resolve_in_root(rootdir, "/bin/sh")
    try:
        with open(path, "rb") as f:
            data = f.read(20)
    except OSError as e:
        raise cli.PveError("open '/bin/sh' failed: %s" % e.strerror) from None
    if len(data) < 20 or data[:4] != b"\x7fELF":
        raise cli.PveError("'/bin/sh' does not resolve to an ELF!")
    machine = int.from_bytes(data[18:20], "little" if data[5] == 1 else "big")
    arch = ELF_MACHINES.get(machine)
    if arch is None:
        raise cli.PveError("'/bin/sh' has unknown ELF machine '%d'!" % machine)
    if arch == "riscv":
        arch = "riscv32" if data[4] == 1 else "riscv64"
    return arch


OS_RELEASE_IDS = {
    "debian": "debian",
    "devuan": "devuan",
    "ubuntu": "ubuntu",
    "centos": "centos",
    "rocky": "centos",
    "almalinux": "centos",
    "rhel": "centos",
    "fedora": "fedora",
    "arch": "archlinux",
    "archlinux": "archlinux",
    "alpine": "alpine",
    "gentoo": "gentoo",
    "nixos": "nixos",
}


def _read_in_root(rootdir, path):
    try:
        with open(_resolve_in_root(rootdir, path), encoding="utf-8", errors="replace") as f:
            return f.read()
    except (OSError, cli.PveError):
        return None


def detect_ostype(rootdir):
    """Setup.pm: os-release ID first, then the distributions' marker files."""
    text = _read_in_root(rootdir, "/etc/os-release") or _read_in_root(rootdir, "/usr/lib/os-release")
    if text:
        m = re.search(r'^ID="?([^"\n]*)"?\s*$', text, re.M)
        if m:
            osid = m.group(1)
            if osid.startswith("opensuse") or osid == "sles":
                return "opensuse"
            if osid in OS_RELEASE_IDS:
                return OS_RELEASE_IDS[osid]

    def exists(p):
        return os.path.lexists(os.path.join(rootdir, p))

    if exists("etc/debian_version"):
        if exists("etc/devuan_version"):
            return "devuan"
        lsb = _read_in_root(rootdir, "/etc/lsb-release") or ""
        return "ubuntu" if re.search(r"^DISTRIB_ID=\"?Ubuntu", lsb, re.M) else "debian"
    for marker, ostype in (
        ("etc/SuSE-brand", "opensuse"),
        ("etc/SuSE-release", "opensuse"),
        ("etc/arch-release", "archlinux"),
        ("etc/alpine-release", "alpine"),
        ("etc/gentoo-release", "gentoo"),
        ("etc/fedora-release", "fedora"),
        ("etc/centos-release", "centos"),
        ("etc/redhat-release", "centos"),
    ):
        if exists(marker):
            return ostype
    raise cli.PveError("unable to detect OS distribution")


def _write_in_ct(rootdir, rel, text, mode, unprivileged):
    path = os.path.join(rootdir, rel)
    if os.path.islink(path):
        os.unlink(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)
    if unprivileged:
        os.lchown(path, 100000, 100000)


def post_create(rootdir, conf, ssh_keys):
    """The parts of Setup.pm post_create_hook the simulator does: hostname, root's SSH keys."""
    if conf.get("ostype") == "unmanaged":
        return
    unpriv = str(conf.get("unprivileged", "0")) == "1"
    hostname = conf.get("hostname") or "localhost"
    _write_in_ct(rootdir, "etc/hostname", hostname.split(".")[0] + "\n", 0o644, unpriv)
    if ssh_keys:
        _write_in_ct(rootdir, "root/.ssh/authorized_keys", ssh_keys.rstrip("\n") + "\n", 0o600, unpriv)


def _extract_half(cmd, archive, flag):
    """For a fault --at during-extract: extract the first half of the archive's members, then
    the fault strikes; the full run afterwards skips what is there (--skip-old-files)."""
    listing = subprocess.run(
        ["tar", "tf", archive] + ([flag] if flag else []), capture_output=True, text=True, check=False
    ).stdout.splitlines()
    first = [m for m in listing[: len(listing) // 2] if not m.startswith("./dev/")]
    subprocess.run(
        cmd[:-3] + ["--no-recursion", "--"] + first, stdin=subprocess.DEVNULL, capture_output=True, check=False
    )
    cli.phase("during-extract")


def extract_template(archive, rootdir, unprivileged):
    flag = _archive_compression(archive)
    print("extracting archive '%s'" % archive)
    sys.stdout.flush()
    cmd = ["tar", "xpf", archive]
    if flag:
        cmd.append(flag)
    cmd += ["--totals", "--numeric-owner", "--sparse", "-C", rootdir, "--skip-old-files", "--anchored"]
    cmd += ["--exclude", "./dev/*"]
    if cli.phase_armed("during-extract"):
        _extract_half(cmd, archive, flag)
    rc = subprocess.call(cmd, stdin=subprocess.DEVNULL)
    if rc != 0:
        raise cli.PveError("command '%s' failed: exit code %d" % (shlex.join(cmd), rc))
    if unprivileged:
        _shift_ids(rootdir)


def cmd_create(argv):
    usage = USAGES["create"]
    pos, opts = cli.parse_args(argv, _getopt(CREATE_SCHEMA), 2, usage, list_opts=LIST_OPTIONS)
    if "ssh-public-keys" in opts:
        opts["ssh-public-keys"] = _read_ssh_keys(opts["ssh-public-keys"])
    errors = {}
    vmid, errs = ctconfig.check_value(VMID_PROP, pos[0], "vmid")
    errors.update(errs)
    ostemplate = pos[1]
    if len(ostemplate) > 255:
        errors["ostemplate"] = "value may only be 255 characters long"
    params = validate(opts, CREATE_SCHEMA, errors)
    if errors:
        raise cli.ParamError(errors, usage)

    storage_id = params.pop("storage", "local")
    unprivileged = params.pop("unprivileged", 1)
    start = params.pop("start", 0)
    restore = params.pop("restore", 0)
    force = params.pop("force", 0)
    params.pop("unique", None)
    params.pop("bwlimit", None)
    params.pop("ignore-unpack-errors", None)
    params.pop("ha-managed", None)
    password = params.pop("password", None)
    ssh_keys = params.pop("ssh-public-keys", None)
    pool = params.pop("pool", None)
    if restore:
        raise cli.PveError("pvesim: 'pct create --restore' is not simulated")
    del force, password

    check_vmid_unused(vmid)
    if ssh_keys is not None:
        _validate_ssh_keys(ssh_keys)
    if pool is not None:
        _check_pool(pool)
    st = _storage()
    if ostemplate == "-":
        raise cli.PveError("pipe can only be used with restore tasks")
    archive = st.resolve_template(ostemplate)

    mp_param, no_disk = {}, {}
    for key, value in params.items():
        if key == "rootfs" or re.fullmatch(r"mp\d+", key):
            value = str(value)
            mp_param[key] = "%s:%s" % (storage_id, value) if re.fullmatch(r"\d+(\.\d+)?", value) else value
        elif re.fullmatch(r"unused\d+", key):
            sys.stderr.write("ignoring '%s', cannot create/restore with unused volume\n" % key)
        else:
            no_disk[key] = value
    if mp_param and "rootfs" not in mp_param:
        raise cli.PveError("mount points configured, but 'rootfs' not set - aborting")
    for key in _mp_keys(mp_param):
        mp = ctconfig.parse_volume(key, mp_param[key])
        if mp["type"] == "volume":
            sid, _volname = st.parse_volume_id(mp["volume"])
            st.check_rootdir(sid, usage=usage)
    if "rootfs" not in mp_param:
        st.check_rootdir(storage_id, usage=usage)
        mp_param["rootfs"] = "%s:4" % storage_id

    conf = {}
    update_config(vmid, conf, False, no_disk, [], [])
    if unprivileged:
        conf["unprivileged"] = "1"

    emsg = "unable to create CT %s - " % vmid
    try:
        with ctconfig.conf_lock(vmid, 5):
            with node.cluster_lock():
                try:
                    node.register_guest(vmid, "lxc")
                except node.GuestExists as e:
                    kind = "VM" if e.entry["type"] == "qemu" else "CT"
                    raise cli.PveError("%s %s already exists on node '%s'" % (kind, vmid, e.entry["node"])) from None
                ctconfig.write_conf(vmid, {"lock": "create"})
    except cli.PveError as e:
        raise cli.PveError(emsg + e.message) from None

    def worker(task):
        vollist = []
        try:
            with ctconfig.conf_lock(vmid, 10):
                cli.phase("after-lock")  # the config is the placeholder `lock: create`
                for key in _mp_keys(mp_param):
                    allocated = _create_disk(vmid, key, mp_param[key], conf)
                    if allocated:
                        vollist.append(allocated)
                        cli.phase("after-alloc")  # volumes exist, the config is still the placeholder
                rootfs = ctconfig.parse_rootfs(conf["rootfs"])
                for key in _mp_keys(conf):  # the container is mounted before the archive is read
                    mp = ctconfig.parse_volume(key, conf[key])
                    if mp["type"] == "bind" and not os.path.isdir(mp["volume"]):
                        print("mounting container failed")
                        raise cli.PveError("directory '%s' does not exist" % mp["volume"])
                if not os.path.exists(archive):
                    if ostemplate.startswith("/"):
                        raise cli.PveError("can't find file '%s'" % ostemplate)
                    print("volume '%s' does not exist" % ostemplate)
                    raise cli.PveError("volume '%s' does not exist" % ostemplate)
                rootdir = st.volume_path(rootfs["volume"]) if rootfs["type"] == "volume" else rootfs["volume"]
                if not node.in_node(rootdir):
                    raise cli.PveError(node.outside_message(rootdir))
                extract_template(archive, rootdir, unprivileged)
                if "arch" not in conf:
                    try:
                        arch = detect_architecture(rootdir)
                        print("Detected container architecture: %s" % arch)
                    except cli.PveError as e:
                        arch = "amd64"
                        print("Architecture detection failed: %s" % e.message)
                        print("Falling back to amd64.")
                        print("Use `pct set VMID --arch ARCH` to change.")
                    conf["arch"] = arch
                given = conf.get("ostype")
                if given != "unmanaged":
                    detected = detect_ostype(rootdir)
                    if given and given != detected:
                        print("got unexpected ostype (%s != %s)" % (detected, given))
                    conf["ostype"] = given or detected
                # PVE's "safe config (after OS detection)": the in-memory config, which has no
                # `lock:` (the placeholder's lock is not in it), no default hostname/memory/swap yet.
                ctconfig.write_conf(vmid, conf)
                cli.phase("after-config-write")
                post_create(rootdir, conf, ssh_keys)  # before the default: Setup writes `localhost`
                conf.setdefault("hostname", "CT%s" % vmid)
                if not conf.get("memory"):
                    conf["memory"] = "512"
                conf.setdefault("swap", "512")
                ctconfig.write_conf(vmid, conf)
        except BaseException as e:
            for volid in vollist:
                try:
                    st.free_volume(volid)
                except cli.PveError as fe:
                    print(fe.message)
            ctconfig.destroy_conf(vmid)
            if isinstance(e, (cli.PveError, cli.TaskFailed, FormatError)):
                raise cli.PveError(emsg + e.message) from None
            raise
        if start:
            try:
                _runtime().start(vmid, conf)
            except (cli.TaskFailed, cli.PveError) as e:
                print(e.message)

    return run_task(worker)


# ---------------------------------------------------------------- set / config / pending


def check_delete_revert(delete, revert, params, usage):
    """update_vm's checks of --revert and --delete (after the config lock and check_lock)."""
    for key in revert:
        if key not in CONFDESC:
            raise cli.ParamError({"revert": "unknown option '%s'" % key}, usage)
        if key in params:
            raise cli.ParamError(
                {"revert": "you can't use '-%s' and '-revert %s' at the same time" % (key, key)}, usage
            )
    for key in delete:
        if key not in CONFDESC:
            raise cli.ParamError({"delete": "unknown option '%s'" % key}, usage)
        if key in params:
            raise cli.ParamError({"delete": "you can't use '-%s' and -delete %s' at the same time" % (key, key)}, usage)
        if key in revert:
            raise cli.ParamError(
                {"delete": "you can't use '-delete %s' and '-revert %s' at the same time" % (key, key)}, usage
            )


def cmd_set(argv):
    usage = USAGES["set"]
    vmid, _pos, params = parse(argv, "set", SET_SCHEMA)
    digest = params.pop("digest", None)
    if not params:
        raise cli.PveError("no options specified")
    delete = ctconfig.split_list(params.pop("delete", ""))
    revert = ctconfig.split_list(params.pop("revert", ""))
    with ctconfig.conf_lock(vmid):
        conf = ctconfig.read_conf(vmid)
        ctconfig.check_lock(conf)
        if digest is not None and digest != conf["digest"]:
            raise cli.PveError("detected modified configuration - file changed by other user? Try again.")
        check_delete_revert(delete, revert, params, usage)
        errors = update_config(vmid, conf, is_running(vmid), params, delete, revert)
        if errors:  # update_vm: nothing of a call with errors is written, not even its pending keys
            raise cli.ParamError(errors, usage)
        ctconfig.write_conf(vmid, conf)
    return 0


def cmd_config(argv):
    schema = {"current": Prop("boolean"), "snapshot": Prop(fmt="pve-configid")}
    vmid, _pos, opts = parse(argv, "config", schema)
    if opts.get("current") and "snapshot" in opts:
        raise cli.ParamError(
            {
                "snapshot": "cannot use 'snapshot' parameter with 'current'",
                "current": "cannot use 'snapshot' parameter with 'current'",
            },
            USAGES["config"],
        )
    conf = ctconfig.read_conf(vmid)
    if "snapshot" in opts:
        snap = conf["snapshots"].get(opts["snapshot"])
        if snap is None:
            raise cli.PveError("snapshot '%s' does not exist" % opts["snapshot"])
        view = dict(snap)
    else:
        view = ctconfig.current_view(conf, bool(opts.get("current")))
    errors = {}
    for key in sorted(view):
        if key in CONFDESC and view[key] is not None:
            ctconfig.check_prop(CONFDESC[key], view[key], key, errors)
    if errors:  # the API checks its result against the returns schema
        sys.stderr.write("400 Result verification failed\n")
        sys.stderr.write("".join("%s: %s\n" % (k, v) for k, v in errors.items()) + USAGES["config"] + "\n")
        return 255
    out = ""
    for key in sorted(view):
        if key in ("digest", "lxc", "pending", "snapshots"):
            continue
        value = view[key]
        if key == "description":
            value = ctconfig.encode_text(value)
        out += "%s: %s\n" % (key, value)
    for k, v in view.get("lxc") or []:
        out += "%s: %s\n" % (k, v)
    sys.stdout.write(out)
    return 0


def cmd_pending(argv):
    vmid, _pos, _opts = parse(argv, "pending")
    conf = ctconfig.read_conf(vmid)
    pending = conf.get("pending") or {}
    deletes = ctconfig.parse_pending_delete(pending.get("delete"))
    items = {}
    for key, value in conf.items():
        if key in ("digest", "lxc", "pending", "snapshots"):
            continue
        item = {"value": value}
        if key in pending:
            item["pending"] = pending[key]
        if key in deletes:
            item["delete"] = True
        items[key] = item
    for key, value in pending.items():
        if key != "delete" and key not in conf:
            items[key] = {"pending": value}
    for key in deletes:
        if key not in pending and key not in conf:
            items[key] = {"delete": True}
    out = ""
    for key in sorted(items):
        item = items[key]
        v, p = item.get("value"), item.get("pending")
        if key == "description":
            v = ctconfig.encode_text(v) if v is not None else None
            p = ctconfig.encode_text(p) if p is not None else None
        if v is not None:
            if item.get("delete"):
                out += "del %s: %s\n" % (key, v)
            elif p is not None:
                out += "cur %s: %s\nnew %s: %s\n" % (key, v, key, p)
            else:
                out += "cur %s: %s\n" % (key, v)
        elif p is not None:
            out += "new %s: %s\n" % (key, p)
    sys.stdout.write(out)
    return 0


# ---------------------------------------------------------------- list / status


def cmd_list(argv):
    cli.parse_args(argv, {}, 0, USAGES["list"])
    rows = []
    for vmid in ctstatus.local_vmids():
        try:
            conf = ctconfig.read_conf(vmid)
        except cli.PveError:
            continue
        rows.append(
            (vmid, "running" if is_running(vmid) else "stopped", conf.get("lock") or "", ctstatus.ct_name(vmid, conf))
        )
    if not rows:
        return 0
    fmt = "%-10s %-10s %-12s %-20s\n"
    out = fmt % ("VMID", "Status", "Lock", "Name")
    for row in rows:
        out += fmt % row
    sys.stdout.write(out)
    return 0


def cmd_status(argv):
    vmid, _pos, opts = parse(argv, "status", {"verbose": Prop("boolean")})
    if opts.get("verbose"):
        sys.stdout.write(ctstatus.status_lines(ctstatus.vmstatus(vmid)))
    else:
        ctconfig.read_conf(vmid)
        sys.stdout.write("status: %s\n" % ("running" if is_running(vmid) else "stopped"))
    return 0


# ---------------------------------------------------------------- destroy / locks / mount


def destroy_volumes(vmid, conf, purge_unreferenced=False):
    st = _storage()
    seen = set()
    sections = [conf] + list((conf.get("snapshots") or {}).values())
    for section in sections:
        for key in sorted(section):
            if key != "rootfs" and not re.fullmatch(r"mp\d+|unused\d+", key):
                continue
            try:
                volid = section[key] if key.startswith("unused") else ctconfig.parse_volume(key, section[key])["volume"]
            except FormatError:
                continue
            if volid in seen or ctconfig.classify_mountpoint(volid) != "volume" or not _volume_owner(volid, vmid):
                continue
            seen.add(volid)
            try:
                st.free_volume(volid)
            except cli.PveError as e:
                if "dataset does not exist" not in e.message:  # ZFSPoolPlugin ignores this one
                    raise
            cli.phase("after-volume")  # freed; the config still names it
    if purge_unreferenced:
        for sid, scfg in st.storages().items():
            if scfg.get("disable") or not {"rootdir", "images"} & set(scfg.get("content", ())):
                continue
            try:
                rows = st.list_content(sid)
            except cli.PveError:
                continue
            for row in rows:
                volid = row.get("volid")
                if row.get("vmid") == int(vmid) and row.get("content") in ("images", "rootdir") and volid not in seen:
                    seen.add(volid)
                    st.free_volume(volid)


def cmd_destroy(argv):
    schema = {"force": Prop("boolean"), "purge": Prop("boolean"), "destroy-unreferenced-disks": Prop("boolean")}
    vmid, _pos, opts = parse(argv, "destroy", schema)
    conf = ctconfig.read_conf(vmid)

    def early_checks(conf):
        if str(conf.get("protection", "0")) == "1":
            raise cli.PveError("can't remove CT %s - protection mode enabled" % vmid)
        ctconfig.check_lock(conf)

    early_checks(conf)
    running_msg = "unable to destroy CT %s - container is running" % vmid
    if not opts.get("force") and is_running(vmid):
        raise cli.PveError(running_msg)

    def worker(task):
        with ctconfig.conf_lock(vmid):
            conf = ctconfig.read_conf(vmid)
            early_checks(conf)
            rt = _runtime_optional()
            if is_running(vmid):
                if not opts.get("force"):
                    raise cli.PveError(running_msg)
                print("forced to stop CT %s before destroying!" % vmid)
                rt.stop(vmid)
            destroy_volumes(vmid, conf, bool(opts.get("destroy-unreferenced-disks")))
            if rt is not None:
                rt.destroy_runtime(vmid)
            ctconfig.write_conf(vmid, {"lock": "destroyed"})
            cli.phase("after-lock")  # volumes gone, the config is `lock: destroyed`
            if opts.get("purge"):
                print("purging CT %s from related configurations.." % vmid)
            ctconfig.destroy_conf(vmid)

    return run_task(worker)


def cmd_unlock(argv):
    vmid, _pos, _opts = parse(argv, "unlock")
    ctconfig.remove_lock(vmid)
    return 0


def cmd_mount(argv):
    vmid, _pos, _opts = parse(argv, "mount")
    with ctconfig.conf_lock(vmid):
        conf = ctconfig.set_lock(vmid, "mounted")
        rt = _runtime_optional()
        if rt is not None and hasattr(rt, "mount_rootfs"):
            rt.mount_rootfs(vmid, conf)
    print("mounted CT %s in '/var/lib/lxc/%s/rootfs'" % (vmid, vmid))
    return 0


def cmd_unmount(argv):
    vmid, _pos, _opts = parse(argv, "unmount")
    with ctconfig.conf_lock(vmid):
        conf = ctconfig.read_conf(vmid)
        rt = _runtime_optional()
        if rt is not None and hasattr(rt, "umount_rootfs"):
            rt.umount_rootfs(vmid, conf)
        ctconfig.remove_lock(vmid, "mounted")
    return 0


# ---------------------------------------------------------------- start / stop / shutdown / reboot


def _check_start_lock(conf, skiplock):
    if not skiplock and conf.get("lock") != "mounted":
        ctconfig.check_lock(conf)


def _start_locked(vmid, skiplock=False, check_lock=True):
    """vm_start inside the config lock: template/lock/quota checks, pending changes applied."""
    conf = ctconfig.read_conf(vmid)
    if str(conf.get("template", "0")) == "1":
        raise cli.PveError("you can't start a CT if it's a template")
    if check_lock:
        _check_start_lock(conf, skiplock)
    if str(conf.get("unprivileged", "0")) == "1":
        for key in _mp_keys(conf):
            try:
                if str(ctconfig.parse_volume(key, conf[key]).get("quota", 0)) == "1":
                    raise cli.PveError("Quotas are not supported by unprivileged containers.")
            except FormatError:
                pass
    if conf.get("pending"):
        apply_pending(vmid, conf)
        ctconfig.write_conf(vmid, conf)
        conf = ctconfig.read_conf(vmid)
    _runtime().start(vmid, conf)


def cmd_start(argv):
    vmid, _pos, opts = parse(argv, "start", {"skiplock": Prop("boolean"), "debug": Prop("boolean")})
    if is_running(vmid):
        raise cli.PveError("CT %s already running" % vmid)

    def worker(task):
        with ctconfig.conf_lock(vmid):
            _start_locked(vmid, bool(opts.get("skiplock")))

    return run_task(worker)


def cmd_stop(argv):
    schema = {"skiplock": Prop("boolean"), "overrule-shutdown": Prop("boolean")}
    vmid, _pos, opts = parse(argv, "stop", schema)
    if not is_running(vmid):
        raise cli.PveError("CT %s not running" % vmid)

    def worker(task):
        with ctconfig.conf_lock(vmid):
            conf = ctconfig.read_conf(vmid)
            _check_start_lock(conf, bool(opts.get("skiplock")))
            _runtime().stop(vmid)

    return run_task(worker)


def cmd_shutdown(argv):
    schema = {"timeout": Prop("integer", minimum=0), "forceStop": Prop("boolean")}
    vmid, _pos, opts = parse(argv, "shutdown", schema)
    if not is_running(vmid):
        raise cli.PveError("CT %s not running" % vmid)

    def worker(task):
        conf = ctconfig.read_conf(vmid)
        ctconfig.check_lock(conf)
        _runtime().shutdown(vmid, opts.get("timeout", 60), bool(opts.get("forceStop")))

    return run_task(worker)


def cmd_reboot(argv):
    vmid, _pos, opts = parse(argv, "reboot", {"timeout": Prop("integer", minimum=0)})
    if not is_running(vmid):
        raise cli.PveError("VM %s not running" % vmid)

    def worker(task):
        with ctconfig.conf_lock(vmid):
            conf = ctconfig.read_conf(vmid)
            ctconfig.check_lock(conf)
            _runtime().shutdown(vmid, opts.get("timeout", 60), True)
            _start_locked(vmid, check_lock=False)

    return run_task(worker)


# ---------------------------------------------------------------- resize


def _resize_checks(vmid, disk, grow, newsize, digest):
    """resize_vm's load_and_check: lock, digest, owner, current size, no shrinking."""
    st = _storage()
    conf = ctconfig.read_conf(vmid)
    ctconfig.check_lock(conf)
    if digest is not None and digest != conf["digest"]:
        raise cli.PveError("detected modified configuration - file changed by other user? Try again.")
    try:
        mp = ctconfig.parse_volume(disk, conf.get(disk) or "")
    except FormatError as e:
        raise cli.PveError(e.message) from None
    volid = mp["volume"]
    if mp["type"] != "volume":
        raise cli.PveError("unable to parse volume ID '%s'" % volid)
    sid, volname = st.parse_volume_id(volid)
    _vtype, _name, owner, _fmt = st.parse_volname(st.get_storage(sid), volname)
    if owner != int(vmid):
        raise cli.PveError("can't resize mount point owned by another container (%s)" % owner)
    size = st.volume_size_bytes(volid)
    if grow:
        newsize += size
    if newsize < size:
        raise cli.PveError("unable to shrink disk size")
    if newsize == size:
        raise cli.PveError("disk is already at specified size")
    return conf, mp, volid, newsize


def cmd_resize(argv):
    disks = ["rootfs"] + ["mp%d" % i for i in range(ctconfig.MAX_MPS)]
    vmid, pos, opts = parse(argv, "resize", {"digest": Prop(maxlen=40)}, npos=3)
    disk, sizestr = pos
    errors = {}
    errors.update(ctconfig.check_value(Prop(enum=disks), disk, "disk")[1])
    if not re.fullmatch(r"\+?\d+(\.\d+)?[KMGT]?", sizestr):
        errors["size"] = "value does not match the regex pattern"
    if errors:
        raise cli.ParamError(errors, USAGES["resize"])
    grow = sizestr.startswith("+")
    newsize = ctconfig.parse_size(sizestr.lstrip("+"))
    digest = opts.get("digest")
    _resize_checks(vmid, disk, grow, newsize, digest)

    def worker(task):
        with ctconfig.conf_lock(vmid):
            conf, mp, volid, size = _resize_checks(vmid, disk, grow, newsize, digest)
            _storage().resize_volume(volid, size)
            mp["size"] = size
            if disk == "rootfs":
                mp.pop("mp", None)
            conf[disk] = ctconfig.print_mountpoint(mp, disk == "rootfs")
            ctconfig.write_conf(vmid, conf)

    return run_task(worker, exit_hook=False)


# ---------------------------------------------------------------- snapshots


def _zfs_volume(volid):
    """(dataset) of a zfspool volume, or raise `snapshot feature is not available`."""
    st = _storage()
    sid, volname = st.parse_volume_id(volid)
    scfg = st.get_storage(sid)
    if scfg["type"] != "zfspool":
        raise cli.PveError("snapshot feature is not available")
    return "%s/%s" % (scfg["pool"], volname)


def _snap_volumes(conf):
    """[(key, volid)] of the volume mount points of a config section."""
    out = []
    for key in _mp_keys(conf):
        try:
            mp = ctconfig.parse_volume(key, conf[key])
        except FormatError:
            continue
        if mp["type"] == "volume":
            out.append((key, mp["volume"]))
    return out


SNAP_SKIP = {"snapshots", "snapstate", "snaptime", "vmstate", "lock", "digest", "description", "pending"}


def _copy_config(source, dest):
    for key, value in source.items():
        if key in SNAP_SKIP or re.fullmatch(r"unused\d+", key):
            continue
        dest[key] = value


def _check_snapname(snapname, usage):
    errs = ctconfig.check_value(Prop(fmt="pve-configid", maxlen=40), snapname, "snapname")[1]
    if errs:
        raise cli.ParamError(errs, usage)
    if snapname in ("current", "vzdump"):
        raise cli.PveError("unable to use snapshot name '%s' (reserved name)" % snapname)


def cmd_snapshot(argv):
    vmid, pos, opts = parse(argv, "snapshot", {"description": Prop(maxlen=8192)}, npos=2)
    snapname = pos[0]
    _check_snapname(snapname, USAGES["snapshot"])
    from pvesim import zfsdb

    def worker(task):
        with ctconfig.conf_lock(vmid):
            conf = ctconfig.read_conf(vmid)
            if str(conf.get("template", "0")) == "1":
                raise cli.PveError("you can't take a snapshot if it's a template")
            ctconfig.check_lock(conf)
            if snapname in conf["snapshots"]:
                raise cli.PveError("snapshot name '%s' already used" % snapname)
            datasets = [_zfs_volume(volid) for _key, volid in _snap_volumes(conf)]
            snap = {}
            _copy_config(conf, snap)
            snap["snapstate"] = "prepare"
            snap["snaptime"] = str(int(time.time()))
            if opts.get("description"):
                snap["description"] = opts["description"]
            conf["snapshots"][snapname] = snap
            conf["lock"] = "snapshot"
            ctconfig.write_conf(vmid, conf)
            done = []
            try:
                for ds in datasets:
                    zfsdb.snapshot(["%s@%s" % (ds, snapname)])
                    done.append(ds)
            except zfsdb.ZfsError as e:
                print("snapshot create failed: starting cleanup")
                for ds in done:
                    zfsdb.destroy("%s@%s" % (ds, snapname))
                conf = ctconfig.read_conf(vmid)
                conf["snapshots"].pop(snapname, None)
                conf.pop("lock", None)
                ctconfig.write_conf(vmid, conf)
                raise cli.PveError("zfs error: %s" % e.message) from None
            conf = ctconfig.read_conf(vmid)
            conf["snapshots"][snapname].pop("snapstate", None)
            conf.pop("lock", None)
            conf["parent"] = snapname
            ctconfig.write_conf(vmid, conf)

    return run_task(worker)


def cmd_delsnapshot(argv):
    vmid, pos, opts = parse(argv, "delsnapshot", {"force": Prop("boolean")}, npos=2)
    snapname = pos[0]
    from pvesim import zfsdb

    def worker(task):
        with ctconfig.conf_lock(vmid):
            conf = ctconfig.read_conf(vmid)
            snap = conf["snapshots"].get(snapname)
            if snap is None:
                raise cli.PveError("snapshot '%s' does not exist" % snapname)
            ctconfig.check_lock(conf)
            conf["lock"] = "snapshot-delete"
            snap["snapstate"] = "delete"
            ctconfig.write_conf(vmid, conf)
            for _key, volid in _snap_volumes(snap):
                try:
                    zfsdb.destroy("%s@%s" % (_zfs_volume(volid), snapname))
                except (zfsdb.ZfsError, cli.PveError) as e:
                    if not opts.get("force"):
                        raise cli.PveError(getattr(e, "message", str(e))) from None
                    print(getattr(e, "message", str(e)))
            conf = ctconfig.read_conf(vmid)
            parent = conf["snapshots"][snapname].get("parent")
            for section in [conf] + [v for k, v in conf["snapshots"].items() if k != snapname]:
                if section.get("parent") == snapname:
                    if parent:
                        section["parent"] = parent
                    else:
                        section.pop("parent")
            del conf["snapshots"][snapname]
            conf.pop("lock", None)
            ctconfig.write_conf(vmid, conf)

    return run_task(worker)


def cmd_rollback(argv):
    vmid, pos, opts = parse(argv, "rollback", {"start": Prop("boolean")}, npos=2)
    snapname = pos[0]
    from pvesim import zfsdb

    def snapshot_of(conf):
        if str(conf.get("template", "0")) == "1":
            raise cli.PveError("you can't rollback if vm is a template")
        snap = conf["snapshots"].get(snapname)
        if snap is None:
            raise cli.PveError("snapshot '%s' does not exist" % snapname)
        return snap

    def worker(task):
        conf = ctconfig.read_conf(vmid)
        snap = snapshot_of(conf)
        datasets = [_zfs_volume(volid) for _key, volid in _snap_volumes(snap)]
        for ds in datasets:
            snaps = [n for n in zfsdb.list_names() if n.startswith(ds + "@")]
            latest = max(snaps, key=lambda n: int(zfsdb.get_value(n, "createtxg") or 0), default=None)
            if latest is None:
                raise cli.PveError("can't rollback, no snapshots exist at all")
            if latest != "%s@%s" % (ds, snapname):
                raise cli.PveError(
                    "can't rollback, '%s' is not most recent snapshot on '%s'" % (snapname, ds.rsplit("/", 1)[-1])
                )
        with ctconfig.conf_lock(vmid):
            conf = ctconfig.read_conf(vmid)
            snap = snapshot_of(conf)
            if snap.get("snapstate"):
                raise cli.PveError("unable to rollback to incomplete snapshot (snapstate = %s)" % snap["snapstate"])
            ctconfig.check_lock(conf)
            if is_running(vmid):
                _runtime().stop(vmid)
            conf["lock"] = "rollback"
            ctconfig.write_conf(vmid, conf)
            for ds in datasets:
                zfsdb.rollback("%s@%s" % (ds, snapname))
            conf = ctconfig.read_conf(vmid)
            snap = conf["snapshots"][snapname]
            new = {"snapshots": conf["snapshots"]}
            for key, value in conf.items():
                if re.fullmatch(r"unused\d+", key) or key == "description":
                    new[key] = value
            _copy_config(snap, new)
            new["parent"] = snapname
            ctconfig.write_conf(vmid, new)
            if opts.get("start"):
                _start_locked(vmid)

    return run_task(worker)


def cmd_listsnapshot(argv):
    vmid, _pos, _opts = parse(argv, "listsnapshot")
    conf = ctconfig.read_conf(vmid)
    entries = {}
    for name, snap in conf["snapshots"].items():
        entries[name] = {
            "snaptime": int(snap.get("snaptime") or 0),
            "description": snap.get("description") or "",
            "parent": snap.get("parent"),
        }
    entries["current"] = {"snaptime": None, "description": "You are here!", "parent": conf.get("parent")}
    roots, children = [], {}
    for name, e in entries.items():
        if e["parent"] and e["parent"] in entries:
            children.setdefault(e["parent"], []).append(name)
        else:
            roots.append(name)

    def order(name):
        t = entries[name]["snaptime"]
        return (1, 0) if t is None else (0, t)

    out = []

    def walk(prefix, name):
        e = entries[name]
        description = (e["description"] or "no-description").rstrip("\n").split("\n")[-1]
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["snaptime"])) if e["snaptime"] is not None else ""
        width = max(0, 30 - len(prefix))
        out.append("%s %-*s %-23s %s\n" % (prefix, width, name, stamp, description))
        for child in sorted(children.get(name, []), key=order):
            walk(" " + prefix, child)

    for root in sorted(roots, key=order):
        walk("`->", root)
    sys.stdout.write("".join(out))
    return 0


# ---------------------------------------------------------------- exec / push / pull


def cmd_exec(argv):
    usage = USAGES["exec"]
    pos, opts = cli.parse_args(argv, {"keep-env": cli.Opt("boolean")}, 1, usage, max_pos=len(argv))
    errors = {}
    vmid, errs = ctconfig.check_value(VMID_PROP, pos[0], "vmid")
    errors.update(errs)
    typed = validate(opts, {"keep-env": Prop("boolean")}, errors)
    if errors:
        raise cli.ParamError(errors, usage)
    ctconfig.read_conf(vmid)
    if not is_running(vmid):
        raise cli.PveError("container '%s' not running!" % vmid)
    command = pos[1:]
    if not command:
        raise cli.PveError("missing command at /usr/share/perl5/PVE/CLI/pct.pm line %d." % EXEC_DIE_LINE)
    sys.stdout.flush()
    return _runtime().exec_cmd(vmid, command, bool(typed.get("keep-env", 1)))


FILE_OPTS = {"user": Prop(), "group": Prop(), "perms": Prop()}


def _file_cmd(argv, cmd):
    vmid, pos, opts = parse(argv, cmd, FILE_OPTS, npos=3)
    src, dst = pos
    perms = opts.get("perms")
    if perms is not None and not perms.startswith("0"):
        perms = "0" + perms
    return vmid, src, dst, opts.get("user"), opts.get("group"), perms


def cmd_push(argv):
    vmid, src, dst, user, group, perms = _file_cmd(argv, "push")
    with ctconfig.conf_lock(vmid):
        if not is_running(vmid):
            raise cli.PveError("can only push files to a running CT")

        def worker(task):
            try:
                with open(src, "rb"):
                    pass
            except OSError:
                raise cli.PveError("failed to open %s for reading" % src) from None
            ctconfig.read_conf(vmid)
            _runtime().push(vmid, src, dst, user, group, perms)

        return run_task(worker, exit_hook=False)


def cmd_pull(argv):
    vmid, src, dst, user, group, perms = _file_cmd(argv, "pull")
    with ctconfig.conf_lock(vmid):
        if not is_running(vmid):
            raise cli.PveError(
                "can only pull files from a running VM at /usr/share/perl5/PVE/CLI/pct.pm line %d." % PULL_DIE_LINE
            )

        def worker(task):
            ctconfig.read_conf(vmid)
            _runtime().pull(vmid, src, dst, user, group, perms)

        return run_task(worker, exit_hook=False)


# ---------------------------------------------------------------- clone / template

CLONE_SCHEMA = {
    "hostname": Prop(fmt="dns-name"),
    "description": Prop(maxlen=8192),
    "pool": Prop(fmt="pve-poolid"),
    "snapname": Prop(),
    "storage": Prop(fmt="pve-storage-id"),
    "full": Prop("boolean"),
    "target": Prop(),
    "bwlimit": Prop("number", minimum=0),
}


def _copy_volume(source, target):
    """The content of one volume into another (a directory tree or an image file)."""
    import shutil

    if os.path.isdir(source):
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    elif os.path.exists(source):
        shutil.copyfile(source, target)


def _clone_mountpoints(src, full, st):
    """The volumes to clone, {key: parsed mount point}, checked as PVE clone_vm does before its task
    (keys in sorted order): no bind or device mount point, and a linked clone needs the storage's
    clone feature (a base volume on a ZFS pool; never on a dir storage)."""
    out = {}
    for key in sorted(k for k in src if k == "rootfs" or re.fullmatch(r"mp\d+", k)):
        mp = ctconfig.parse_volume(key, src[key])
        if mp["type"] != "volume":
            raise cli.PveError("unable to clone mountpoint '%s' (type %s)" % (key, mp["type"]))
        if not full and not st.has_feature(mp["volume"], "clone"):
            raise cli.PveError("Linked clone feature for '%s' is not available" % mp["volume"])
        out[key] = mp
    return out


def _clone_volumes(newid, mountpoints, full, storage, st):
    """rootfs/mpN of the source as new volumes of newid: {key: printed value}. A full clone allocates
    and copies; a linked clone is the storage's clone of the base volume (PVE vdisk_clone). PVE walks
    its mount points in Perl hash order (so disk numbers vary); here rootfs first, then mpN, as create."""
    out, allocated = {}, []
    for key in _mp_keys(mountpoints):
        mp = mountpoints[key]
        if full:
            print("create full clone of mountpoint %s (%s)" % (key, mp["volume"]))
            sid, _name = st.parse_volume_id(mp["volume"])
            size = st.volume_size_bytes(mp["volume"]) or 0
            volid = st.alloc_ct_volume(storage or sid, newid, size / float(1 << 30))
            allocated.append(volid)
            _copy_volume(st.volume_path(mp["volume"]), st.volume_path(volid))
        else:
            print("create linked clone of mount point %s (%s)" % (key, mp["volume"]))
            volid = st.clone_volume(mp["volume"], newid)
            allocated.append(volid)
        data = dict(mp, volume=volid)
        if key == "rootfs":
            data.pop("mp", None)
        out[key] = ctconfig.print_mountpoint(data, key == "rootfs")
    return out, allocated


def cmd_clone(argv):
    usage = USAGES["clone"]
    pos, opts = cli.parse_args(argv, _getopt(CLONE_SCHEMA), 2, usage)
    errors = {}
    vmid, errs = ctconfig.check_value(VMID_PROP, pos[0], "vmid")
    errors.update(errs)
    newid, errs = ctconfig.check_value(VMID_PROP, pos[1], "newid")
    errors.update(errs)
    params = validate(opts, CLONE_SCHEMA, errors)
    if errors:
        raise cli.ParamError(errors, usage)
    if params.get("target"):
        raise cli.PveError("pvesim: 'pct clone --target' is not simulated")
    if params.get("snapname"):
        raise cli.PveError("pvesim: 'pct clone --snapname' is not simulated")
    src = ctconfig.read_conf(vmid)
    check_vmid_unused(newid)
    storage = params.get("storage")
    st = _storage()
    if storage:
        st.check_enabled(storage)
    full = params.get("full")
    if full is None:
        full = str(src.get("template", "0")) != "1"
    if storage and not full:
        raise cli.PveError("parameter 'storage' not allowed for linked clones")
    if full and is_running(vmid):
        raise cli.PveError("Full clone of a running container is only possible from a snapshot")
    mountpoints = _clone_mountpoints(src, full, st)
    if params.get("pool"):
        _check_pool(params["pool"])
    with ctconfig.conf_lock(vmid):
        ctconfig.check_lock(src)
        with node.cluster_lock():
            node.register_guest(newid, "lxc")
        ctconfig.write_conf(newid, {"lock": "create"})

    def worker(task):
        allocated = []
        try:
            print("creating a clone of container %s with ID %s" % (vmid, newid))
            with ctconfig.conf_lock(newid, 10):
                volumes, allocated = _clone_volumes(newid, mountpoints, full, storage, st)
                conf = {}
                for key, value in src.items():
                    if key in ("snapshots", "parent", "snaptime", "snapstate", "pending", "template", "lock"):
                        continue
                    if re.fullmatch(r"unused\d+", key):
                        continue
                    if re.fullmatch(r"net\d+", key):
                        net = ctconfig.parse_net(value)
                        net["hwaddr"] = ctconfig.random_mac(mac_prefix())
                        value = ctconfig.print_net(net)
                    conf[key] = value
                conf.update(volumes)
                for key in ("hostname", "description"):
                    if params.get(key):
                        conf[key] = params[key]
                ctconfig.write_conf(newid, conf)
        except BaseException as e:
            for volid in allocated:
                try:
                    st.free_volume(volid)
                except cli.PveError as fe:
                    print(fe.message)
            ctconfig.destroy_conf(newid)
            if isinstance(e, (cli.PveError, cli.TaskFailed, FormatError)):
                raise cli.PveError(e.message) from None
            raise

    return run_task(worker)


def cmd_template(argv):
    """PVE API2 template + LXC template_create: under the config lock, each volume becomes a base
    volume (the storage renames it: subvol- -> basevol- on ZFS) and the config gets template: 1.
    The conversion is a task without exit hook: its failure is on stderr, the exit status 0."""
    vmid, _pos, _opts = parse(argv, "template", {})
    st = _storage()
    with ctconfig.conf_lock(vmid):
        conf = ctconfig.read_conf(vmid)
        ctconfig.check_lock(conf)
        if conf.get("snapshots"):
            raise cli.PveError("unable to create template, because CT contains snapshots")
        if str(conf.get("template", "0")) == "1":
            raise cli.PveError("you can't convert a template to a template")
        if is_running(vmid):
            raise cli.PveError("you can't convert a CT to template if the CT is running")

        def worker(task):
            keys = _mp_keys(conf)
            for key in keys:
                volume = ctconfig.parse_volume(key, conf[key])["volume"]
                if not st.has_feature(volume, "template"):
                    raise cli.PveError("Template feature is not available for '%s'" % volume)
            for key in keys:
                mp = ctconfig.parse_volume(key, conf[key])
                mp["volume"] = st.create_base(mp["volume"])
                if key == "rootfs":
                    mp.pop("mp", None)
                conf[key] = ctconfig.print_mountpoint(mp, key == "rootfs")
            conf["template"] = "1"
            ctconfig.write_conf(vmid, conf)

        return run_task(worker, exit_hook=False)


# ---------------------------------------------------------------- dispatch

HANDLERS = {
    "create": cmd_create,
    "set": cmd_set,
    "config": cmd_config,
    "pending": cmd_pending,
    "list": cmd_list,
    "status": cmd_status,
    "destroy": cmd_destroy,
    "unlock": cmd_unlock,
    "mount": cmd_mount,
    "unmount": cmd_unmount,
    "start": cmd_start,
    "stop": cmd_stop,
    "shutdown": cmd_shutdown,
    "reboot": cmd_reboot,
    "exec": cmd_exec,
    "push": cmd_push,
    "pull": cmd_pull,
    "resize": cmd_resize,
    "snapshot": cmd_snapshot,
    "delsnapshot": cmd_delsnapshot,
    "rollback": cmd_rollback,
    "listsnapshot": cmd_listsnapshot,
    "clone": cmd_clone,
    "template": cmd_template,
}


def usage_all(error=None):
    out = "ERROR: %s\n" % error if error else ""
    out += "USAGE: pct <COMMAND> [ARGS] [OPTIONS]\n\n"
    for name in sorted(USAGES):
        out += "       %s\n" % USAGES[name]
    return out


def resolve_command(name):
    if name in USAGES:
        return name
    matches = [c for c in USAGES if c.startswith(name)]
    return matches[0] if len(matches) == 1 else None


def main(argv):
    if not argv:
        sys.stderr.write(usage_all("no command specified"))
        return 255
    cmd = resolve_command(argv[0])
    if cmd is None:
        sys.stderr.write(usage_all("unknown command 'pct %s'" % argv[0]))
        return 255
    if cmd == "help":
        sys.stdout.write(usage_all())
        return 0
    handler = HANDLERS.get(cmd)
    if handler is None:
        sys.stderr.write("pvesim: 'pct %s' is not simulated\n" % cmd)
        return 255
    return handler(argv[1:])
