"""`pvesim init DIR [--node NAME]`: make a fresh simulated node in DIR.

What a fresh node has (all under DIR):
- every directory of node.MOUNTED_DIRS;
- /var/lib/pvesim/node (the node name), an empty guest list (/etc/pve/.vmlist);
- /etc/pve/nodes/<node>/{lxc,qemu-server}, and the relative symlinks
  /etc/pve/{local,lxc,qemu-server} -> nodes/<node>[/...], as pmxcfs shows them;
- /etc/pve/storage.cfg: `local` (dir, /var/lib/vz, iso,vztmpl,backup) and
  `local-zfs` (zfspool, rpool/data, sparse, images,rootdir), like a ZFS install;
- etc/network/interfaces with bridge vmbr0, etc/subuid and etc/subgid
  (`root:100000:65536`; the runtime bind-mounts them);
- the fake ZFS pool `rpool` (datasets rpool, rpool/data; directories under
  DIR/rpool; size = the free space of DIR's file system in whole GiB;
  compression=on, atime=on, relatime=on on rpool, as the PVE installer sets);
- the template local:vztmpl/busybox-1.35_amd64.tar.zst (BUSYBOX_VOLID): a real,
  runnable busybox-static rootfs (env-notes §2) with /etc/inittab
  (`::sysinit:/bin/true`, `::shutdown:/bin/true`, so busybox init idles quietly
  and halts on SIGPWR, i.e. a plain `lxc-stop` works), /etc/os-release
  (ID=busybox) and /etc/pvesim-template;
- local:vztmpl/debian-12-nexcage_12_amd64.tar.zst (DEBIAN_VOLID), a real Debian 12 minimal
  rootfs with python3, when scripts/build-debian-template.sh has built it into build/templates/;
- a local pveam catalogue (/var/lib/pvesim/catalogue: aplinfo.dat plus the
  files) and its index already "updated" (/var/lib/pvesim/pveam/aplinfo.dat).
  Catalogue, section `system`: busybox-1.35_amd64.tar.zst and busybox-based
  STAND-INS named like real templates (debian-12-standard_12.7-1_amd64.tar.zst,
  ubuntu-24.04-standard_24.04-2_amd64.tar.zst, alpine-3.22-default_20250617_amd64.tar.xz):
  the same busybox rootfs with that distribution's /etc/os-release (and
  /etc/debian_version or /etc/alpine-release), so OS detection has something
  real to read. They are not the real distributions.

Templates are built once per machine and cached in ~/.cache/pvesim/
($XDG_CACHE_HOME honoured), keyed by the busybox binary's hash and the
recipe version; `pvesim init` then only copies files.
Without busybox-static (/bin/busybox not static), the templates hold the same
tree without the busybox binary: they unpack, but nothing in them runs.
"""

import hashlib
import io
import json
import lzma
import os
import shutil
import subprocess
import tarfile
import tempfile
import time

from pvesim import node, storage, zfsdb

BUSYBOX_TEMPLATE = "busybox-1.35_amd64.tar.zst"
BUSYBOX_VOLID = "local:vztmpl/" + BUSYBOX_TEMPLATE
RECIPE_VERSION = "1"
BUSYBOX = "/bin/busybox"
# The real Debian 12 test template built by scripts/build-debian-template.sh (cached in the checkout's
# build/templates/); offered on `local` beside busybox when it has been built.
DEBIAN_TEMPLATE = "debian-12-nexcage_12_amd64.tar.zst"
DEBIAN_VOLID = "local:vztmpl/" + DEBIAN_TEMPLATE
DEBIAN_BUILT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
    "build",
    "templates",
    DEBIAN_TEMPLATE,
)
CATALOGUE_DIR = "/var/lib/pvesim/catalogue"
PVEAM_INDEX = "/var/lib/pvesim/pveam/aplinfo.dat"
CATALOGUE_URL = "http://download.proxmox.com/images"
TEMPLATE_MTIME = 1735689600  # 2025-01-01, fixed so that builds are reproducible

STORAGE_CFG = """dir: local
\tpath /var/lib/vz
\tcontent iso,vztmpl,backup

zfspool: local-zfs
\tpool rpool/data
\tsparse
\tcontent images,rootdir
"""

INTERFACES = """auto lo
iface lo inet loopback

auto vmbr0
iface vmbr0 inet static
\taddress 10.10.10.2/24
\tgateway 10.10.10.1
\tbridge-ports none
\tbridge-stp off
\tbridge-fd 0

source /etc/network/interfaces.d/*
"""

# (file name, package, version, os, description, os-release, extra files)
TEMPLATES = (
    (
        BUSYBOX_TEMPLATE,
        "busybox",
        "1.35",
        "busybox",
        "BusyBox 1.35 (pvesim test template)",
        'NAME="BusyBox"\nID=busybox\nVERSION_ID=1.35\nPRETTY_NAME="BusyBox 1.35 (pvesim)"\n',
        {},
    ),
    (
        "debian-12-standard_12.7-1_amd64.tar.zst",
        "debian-12-standard",
        "12.7-1",
        "debian-12",
        "Debian 12 Bookworm (standard) - pvesim busybox stand-in",
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
        'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n',
        {"etc/debian_version": "12.7\n"},
    ),
    (
        "ubuntu-24.04-standard_24.04-2_amd64.tar.zst",
        "ubuntu-24.04-standard",
        "24.04-2",
        "ubuntu-24.04",
        "Ubuntu 24.04 Noble (standard) - pvesim busybox stand-in",
        'PRETTY_NAME="Ubuntu 24.04 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION="24.04 LTS (Noble Numbat)"\n'
        "VERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\n",
        {"etc/debian_version": "trixie/sid\n"},
    ),
    (
        "alpine-3.22-default_20250617_amd64.tar.xz",
        "alpine-3.22-default",
        "20250617",
        "alpine-3.22",
        "Alpine Linux 3.22 (default) - pvesim busybox stand-in",
        'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.22.0\nPRETTY_NAME="Alpine Linux v3.22"\n',
        {"etc/alpine-release": "3.22.0\n"},
    ),
)


class NodeExists(Exception):
    pass


# ---------------------------------------------------------------- templates


def cache_dir():
    """~/.cache/pvesim ($XDG_CACHE_HOME honoured); a per-user /tmp directory if that is not writable."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "pvesim")
    try:
        os.makedirs(path, exist_ok=True)
        if os.access(path, os.W_OK):
            return path
    except OSError:
        pass
    path = os.path.join(tempfile.gettempdir(), "pvesim-cache-%d" % os.getuid())
    os.makedirs(path, exist_ok=True)
    return path


def _busybox_key():
    h = hashlib.sha256()
    h.update(RECIPE_VERSION.encode())
    try:
        with open(BUSYBOX, "rb") as f:
            h.update(f.read())
    except OSError:
        h.update(b"no-busybox")
    return h.hexdigest()[:16]


def busybox_runnable():
    """True if /bin/busybox exists and is statically linked (busybox-static)."""
    try:
        with open(BUSYBOX, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    if head != b"\x7fELF":
        return False
    try:
        out = subprocess.run(["file", "-L", BUSYBOX], capture_output=True, text=True, timeout=10, check=False).stdout
        if out:
            return "statically linked" in out or "static-pie" in out
    except (OSError, subprocess.SubprocessError):
        pass
    # No `file`: a dynamic ELF has a PT_INTERP naming the loader.
    with open(BUSYBOX, "rb") as f:
        return b"/lib64/ld-linux" not in f.read(1 << 16)


def _applets():
    try:
        out = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def _tar_bytes(os_release, extra, runnable):
    """An uncompressed template tar (members ./..., owned by 0:0)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:

        def add(name, kind, data=b"", mode=0o755, target=None):
            info = tarfile.TarInfo("./" + name if name else ".")
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = TEMPLATE_MTIME
            info.mode = mode
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "link":
                info.type = tarfile.SYMTYPE
                info.linkname = target
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))

        dirs = [
            "",
            "bin",
            "sbin",
            "usr",
            "usr/bin",
            "usr/sbin",
            "etc",
            "etc/network",
            "proc",
            "sys",
            "dev",
            "root",
            "run",
            "var",
            "var/log",
            "data",
            "mnt",
            "home",
        ]
        for d in dirs:
            add(d, "dir", mode=0o700 if d == "root" else 0o755)
        add("tmp", "dir", mode=0o1777)
        if runnable:
            with open(BUSYBOX, "rb") as f:
                add("bin/busybox", "file", f.read(), 0o755)
            links = set()
            for path in _applets():
                rel = path.lstrip("/")
                if rel in ("bin/busybox",) or rel in links:
                    continue
                parent = os.path.dirname(rel)
                if parent and parent not in dirs:
                    continue
                links.add(rel)
            links.add("sbin/init")
            for rel in sorted(links):
                add(rel, "link", target="/bin/busybox")
        files = {
            "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            "etc/group": "root:x:0:\nnogroup:x:65534:\n",
            "etc/shadow": "root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n",
            "etc/hostname": "ct\n",
            "etc/hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
            "etc/resolv.conf": "",
            "etc/network/interfaces": "auto lo\niface lo inet loopback\n",
            # Quiet busybox init: no getty/askfirst shells; halts on SIGPWR (lxc-stop) after ::shutdown.
            "etc/inittab": "::sysinit:/bin/true\n::shutdown:/bin/true\n",
            "etc/os-release": os_release,
            "etc/pvesim-template": "built by pvesim (tests/pvesim/pvesim/setup.py) from busybox-static%s\n"
            % ("" if runnable else "; NOT RUNNABLE: busybox-static was missing"),
        }
        files.update(extra)
        for name, text in sorted(files.items()):
            add(name, "file", text.encode(), 0o640 if name == "etc/shadow" else 0o644)
    return buf.getvalue()


def _compress(data, filename):
    if filename.endswith(".tar.xz"):
        return lzma.compress(data, preset=6)
    if filename.endswith(".tar.zst"):
        return subprocess.run(["zstd", "-q", "-c", "-10"], input=data, capture_output=True, check=True).stdout
    if filename.endswith(".tar"):
        return data
    raise ValueError(filename)


def ensure_templates():
    """Build the catalogue templates into the cache if needed; returns the cache directory."""
    runnable = busybox_runnable()
    key = _busybox_key() + ("" if runnable else "-norun")
    target = os.path.join(cache_dir(), "templates-" + key)
    if os.path.isfile(os.path.join(target, "aplinfo.dat")):
        return target
    os.makedirs(cache_dir(), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="templates-", dir=cache_dir())
    try:
        entries = []
        for filename, package, version, osname, description, os_release, extra in TEMPLATES:
            data = _compress(_tar_bytes(os_release, extra, runnable), filename)
            with open(os.path.join(tmp, filename), "wb") as f:
                f.write(data)
            entries.append(
                "Package: %s\nVersion: %s\nType: lxc\nOS: %s\nSection: system\n"
                "Maintainer: pvesim <pvesim@localhost>\nArchitecture: amd64\nLocation: system/%s\n"
                "md5sum: %s\nsha512sum: %s\nInfopage: https://pve.proxmox.com/wiki/Linux_Container\n"
                "Description: %s\n"
                % (
                    package,
                    version,
                    osname,
                    filename,
                    hashlib.md5(data).hexdigest(),
                    hashlib.sha512(data).hexdigest(),
                    description,
                )
            )
        with open(os.path.join(tmp, "aplinfo.dat"), "w", encoding="utf-8") as f:
            f.write("\n".join(entries))
        try:
            os.rename(tmp, target)
        except OSError:  # another process won the race
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def parse_aplinfo(text):
    """[{field: value}] from an aplinfo.dat (Debian control style paragraphs)."""
    out = []
    for para in text.split("\n\n"):
        entry = {}
        key = None
        for line in para.splitlines():
            if line.startswith((" ", "\t")) and key:
                entry[key] += "\n" + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                entry[key.strip()] = value.strip()
        if entry.get("Package"):
            out.append(entry)
    return out


# ---------------------------------------------------------------- the node


def _under(root, path):
    return os.path.join(root, path.lstrip("/"))


def _write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)


def init_node(root, node_name="pve"):
    """Make a fresh simulated node in the directory `root`."""
    t0 = time.monotonic()
    root = os.path.realpath(root)
    node_name = node_name or "pve"
    if os.path.exists(_under(root, node.NODE_FILE)):
        raise NodeExists("%s is already a simulated node" % root)
    for d in node.MOUNTED_DIRS:
        os.makedirs(_under(root, d), exist_ok=True)
    _write(_under(root, node.NODE_FILE), node_name + "\n")
    node.node_id(root)

    # /etc/pve: guest list, node directories, symlinks, storage.cfg
    state = {"version": 1, "ids": {}}
    _write(_under(root, node.VMLIST_STATE), json.dumps(state))
    _write(_under(root, node.VMLIST), node.render_vmlist(state), 0o440)
    for sub in ("lxc", "qemu-server"):
        os.makedirs(_under(root, "/etc/pve/nodes/%s/%s" % (node_name, sub)), exist_ok=True)
    for link, target in (
        ("local", "nodes/%s" % node_name),
        ("lxc", "nodes/%s/lxc" % node_name),
        ("qemu-server", "nodes/%s/qemu-server" % node_name),
    ):
        path = _under(root, "/etc/pve/" + link)
        if not os.path.lexists(path):
            os.symlink(target, path)
    _write(_under(root, node.STORAGE_CFG), STORAGE_CFG, 0o640)

    # host files the runtime uses
    _write(_under(root, "/etc/network/interfaces"), INTERFACES)
    _write(_under(root, "/etc/subuid"), "root:100000:65536\n")
    _write(_under(root, "/etc/subgid"), "root:100000:65536\n")

    # `local`: the directory layout of a dir storage
    for sub in ("template/cache", "template/iso", "dump", "images", "snippets", "private"):
        os.makedirs(_under(root, "/var/lib/vz/" + sub), exist_ok=True)

    # ZFS: rpool and rpool/data
    st = os.statvfs(root)
    size = max(1, (st.f_bavail * st.f_frsize) >> 30) << 30
    zfsdb.create_pool("rpool", size, props={"compression": "on", "atime": "on", "relatime": "on"}, root=root)
    zfsdb.create("rpool/data", root=root)

    # templates: the local catalogue, its index, and the busybox template on `local`
    cache = ensure_templates()
    catalogue = _under(root, CATALOGUE_DIR)
    os.makedirs(os.path.join(catalogue, "system"), exist_ok=True)
    for entry in TEMPLATES:
        shutil.copyfile(os.path.join(cache, entry[0]), os.path.join(catalogue, "system", entry[0]))
    shutil.copyfile(os.path.join(cache, "aplinfo.dat"), os.path.join(catalogue, "aplinfo.dat"))
    index = _under(root, PVEAM_INDEX)
    os.makedirs(os.path.dirname(index), exist_ok=True)
    shutil.copyfile(os.path.join(cache, "aplinfo.dat"), index)
    tmpl = storage.resolve_template(BUSYBOX_VOLID, root=root)
    shutil.copyfile(os.path.join(cache, BUSYBOX_TEMPLATE), tmpl)
    if os.path.isfile(DEBIAN_BUILT):
        debian = storage.resolve_template(DEBIAN_VOLID, root=root)
        try:
            os.link(DEBIAN_BUILT, debian)  # 20+ MB: a hard link when on the same file system
        except OSError:
            shutil.copyfile(DEBIAN_BUILT, debian)
    return time.monotonic() - t0
