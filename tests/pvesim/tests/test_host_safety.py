"""The simulator never touches the host (issue 10 item 6): a hostile corpus of simulator commands
runs in a node, and a fingerprint of /etc, /usr, /var/lib and /'s top level is the same after.

Fingerprint: path, type, mode, owner, size, mtime and symlink target of every entry, plus the
content hash of every regular file under /etc. Excluded, because other processes of this shared
machine change them while the test runs (nothing here writes to them, and each is listed with the
reason): see VOLATILE.
"""

import hashlib
import os
import stat

import pytest
from test_pct_support import BUSYBOX, Node

TREES = ("/etc", "/usr", "/var/lib")
VOLATILE = (
    # apt/dpkg state: other sessions on this machine may install packages meanwhile
    "/var/lib/apt",
    "/var/lib/dpkg",
    # systemd's timer stamps and journal catalog, logrotate's state
    "/var/lib/systemd",
    "/var/lib/logrotate",
    # the mount points `pvesim run` uses: other nodes' namespaces mount over them; the host's
    # directories themselves stay empty (checked below)
    "/var/lib/lxc",
    "/var/lib/vz",
    "/var/lib/pvesim",
    "/var/lib/nexcage",
    "/etc/pve",
    # written on this shared machine by another session's tests (bind-mount sources of
    # docs examples); no command of the corpus names it
    "/etc/nexcage",
    # Python byte-code caches written by other test runs importing from /usr
    "__pycache__",
)


def _volatile(path):
    return any(path == v or path.startswith(v + "/") for v in VOLATILE) or "/__pycache__" in path


def _fingerprint():
    out = {"/": sorted(os.listdir("/"))}
    for top in TREES:
        for root, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if not _volatile(os.path.join(root, d))]
            for name in dirs + files:
                path = os.path.join(root, name)
                if _volatile(path):
                    continue
                try:
                    st = os.lstat(path)
                except FileNotFoundError:
                    continue
                entry = (stat.S_IFMT(st.st_mode), st.st_mode, st.st_uid, st.st_gid)
                if stat.S_ISLNK(st.st_mode):
                    entry += (os.readlink(path),)
                elif stat.S_ISREG(st.st_mode):
                    entry += (st.st_size, st.st_mtime_ns)
                    if top == "/etc":
                        try:
                            with open(path, "rb") as f:
                                entry += (hashlib.sha256(f.read()).hexdigest(),)
                        except OSError:
                            entry += ("unreadable",)
                out[path] = entry
    return out


def _mount_points_empty():
    return {
        d: os.listdir(d)
        for d in ("/var/lib/lxc", "/var/lib/vz", "/var/lib/pvesim", "/etc/pve", "/rpool")
        if os.path.isdir(d)
    }


@pytest.fixture
def node(tmp_path):
    n = Node.init(tmp_path)
    n.add_template(BUSYBOX)
    assert n.run("true").rc == 0  # mount points made, keeper started: the documented footprint
    return n


def _zfs(node, *args):
    return node.run("zfs", *args)


def _corpus(node):
    """(what, result) of every hostile command; each must fail cleanly or stay inside the node."""
    results = []

    def run(what, *argv, **kw):
        results.append((what, node.run(*argv, **kw)))

    sim = {"timeout": 60}
    # ZFS mountpoints outside the node: mapped below the node, moved there and back, destroyed
    run("zfs create", "zfs", "create", "rpool/data/evil")
    with open(node.path("/rpool/data/evil/payload"), "w", encoding="utf-8") as f:
        f.write("data that moves with the dataset")
    for mp in ("/etc", "/", "/rpool/../..", "/usr/lib", "/var/lib", "/etc/../etc/ssh"):
        run("zfs set mountpoint=%s" % mp, "zfs", "set", "mountpoint=%s" % mp, "rpool/data/evil")
    run("zfs create -o mountpoint=/etc/cron.d", "zfs", "create", "-o", "mountpoint=/etc/cron.d", "rpool/data/evil2")
    run("zfs destroy -r", "zfs", "destroy", "-r", "rpool/data/evil2")
    run("zfs destroy", "zfs", "destroy", "-r", "rpool/data/evil")
    run("zfs create -p -o mountpoint=/", "zfs", "create", "-p", "-o", "mountpoint=/", "rpool/data/a/b")
    run("zfs destroy -r pool", "zfs", "destroy", "-r", "rpool/data/a")
    # names with . and ..
    for name in ("rpool/data/..", "rpool/../etc", "rpool/./x", "rpool/data/../../etc"):
        run("zfs create %s" % name, "zfs", "create", name)
    # a symlink in a dataset pointing at the host, then a child dataset through it
    run("zfs create rpool/data/s", "zfs", "create", "rpool/data/s")
    run("symlink", "ln", "-s", "/etc", "/rpool/data/s/link")
    run("zfs create through symlink", "zfs", "create", "rpool/data/s/link")
    run("zfs destroy symlink ds", "zfs", "destroy", "-r", "rpool/data/s")
    # pct with hostile paths
    run("pct create rootfs /etc", "pct", "create", "900", BUSYBOX, "--rootfs", "/etc", "--ostype", "unmanaged")
    run(
        "pct create mp0 /etc",
        "pct",
        "create",
        "901",
        BUSYBOX,
        "--rootfs",
        "local-zfs:1",
        "--ostype",
        "unmanaged",
        "--mp0",
        "/etc,mp=/x",
    )
    run("pct start bind /etc", "env", "PVESIM_RUNTIME=sim", "pct", "start", "901", **sim)
    run("pct destroy 901", "pct", "destroy", "901", "--purge", "1")
    run("pct create 902", "pct", "create", "902", BUSYBOX, "--rootfs", "local-zfs:1", "--ostype", "unmanaged")
    run("pct start 902", "env", "PVESIM_RUNTIME=sim", "pct", "start", "902", **sim)
    for dst in ("/etc/pvesim-evil", "/usr/lib/../../etc/evil2", "/var/lib/evil"):
        run("pct pull %s" % dst, "env", "PVESIM_RUNTIME=sim", "pct", "pull", "902", "/bin/busybox", dst, **sim)
    run("pct stop 902", "env", "PVESIM_RUNTIME=sim", "pct", "stop", "902", **sim)
    run("config rootfs /etc", "sh", "-c", "sed -i 's#^rootfs: .*#rootfs: /etc#' /etc/pve/lxc/902.conf")
    run("pct start rootfs /etc", "env", "PVESIM_RUNTIME=sim", "pct", "start", "902", **sim)
    run("pct destroy rootfs /etc", "pct", "destroy", "902", "--destroy-unreferenced-disks", "1")
    # storages and templates with traversal and host paths
    run(
        "dir storage at /etc",
        "sh",
        "-c",
        "printf '\\ndir: evil\\n\\tpath /etc\\n\\tcontent rootdir,images,vztmpl\\n' >> /etc/pve/storage.cfg",
    )
    run("pct create on evil", "pct", "create", "903", BUSYBOX, "--rootfs", "evil:1", "--ostype", "unmanaged")
    run("pvesm status", "pvesm", "status")
    run("pvesm list evil", "pvesm", "list", "evil")
    run("pvesm path traversal", "pvesm", "path", "local:vztmpl/../../../../etc/shadow.tar.gz")
    run("pveam download to evil", "pveam", "download", "evil", "busybox-1.35_amd64.tar.zst")
    run("pveam remove traversal", "pveam", "remove", "local:vztmpl/../../../../etc/hostname.tar.gz")
    run("pveam remove on evil", "pveam", "remove", "evil:vztmpl/hostname.tar.gz")
    run(
        "pct create ostemplate traversal",
        "pct",
        "create",
        "904",
        "local:vztmpl/../../../../etc/passwd.tar",
        "--rootfs",
        "local-zfs:1",
    )
    return results


def test_hostile_simulator_commands_leave_the_host_untouched(node):
    before = _fingerprint()
    mount_points = _mount_points_empty()
    results = _corpus(node)
    after = _fingerprint()
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    assert changed == [], "host changed by the simulator: %s\n%s" % (
        changed[:20],
        "\n".join("%s: rc=%s %s" % (w, r.rc, r.err.strip()) for w, r in results),
    )
    assert _mount_points_empty() == mount_points
    outcome = dict(results)
    # what was refused, and how
    assert outcome["zfs create rpool/data/.."].err == (
        "cannot create 'rpool/data/..': parent reference, '..' is found in name\n"
    )
    assert outcome["zfs create rpool/./x"].err == "cannot create 'rpool/./x': self reference, '.' is found in name\n"
    assert "resolves outside the simulated node" in outcome["zfs create through symlink"].err
    assert outcome["pct create rootfs /etc"].rc != 0
    assert "outside the simulated node" in outcome["pct start bind /etc"].err
    assert "outside the simulated node" in outcome["pct start rootfs /etc"].err
    assert outcome["pct create on evil"].rc != 0  # `storage 'evil' is not online`: a path outside is no storage
    assert "outside the simulated node" in outcome["pveam remove on evil"].err
    assert "outside the simulated node" in outcome["pvesm list evil"].err
    for dst in ("/etc/pvesim-evil", "/usr/lib/../../etc/evil2", "/var/lib/evil"):
        assert "outside the simulated node" in outcome["pct pull %s" % dst].err
    # mountpoints outside the node were mapped below it, and the property says what was asked
    assert outcome["zfs set mountpoint=/etc"].rc == 0
    assert outcome["zfs create -o mountpoint=/etc/cron.d"].rc == 0
    assert outcome["zfs destroy"].rc == 0


def test_mapped_mountpoint_keeps_the_property_and_the_data(node):
    assert node.run("zfs", "create", "-o", "mountpoint=/tank/data", "rpool/data/share").rc == 0
    r = node.run("zfs", "get", "-H", "-o", "value", "mountpoint", "rpool/data/share")
    assert r.out == "/tank/data\n"
    mapped = node.path("/var/lib/pvesim/zfs-mnt/tank/data")
    assert os.path.isdir(mapped)
    with open(os.path.join(mapped, "f"), "w", encoding="utf-8") as f:
        f.write("kept")
    assert node.run("zfs", "set", "mountpoint=/rpool/share", "rpool/data/share").rc == 0
    with open(node.path("/rpool/share/f"), encoding="utf-8") as f:
        assert f.read() == "kept"
    assert not os.path.exists(mapped)
    assert not os.path.exists("/tank")


def test_mountpoint_below_the_nodes_data_dirs_is_at_its_real_path(node):
    """/srv and /mnt are the node's: a dataset mounted below them is where a real node has it, so
    `ls`, a bind mount of the mountpoint and Ansible inside the node find its files there."""
    host_srv = sorted(os.listdir("/srv")) if os.path.isdir("/srv") else None
    assert node.run("zfs", "create", "-o", "mountpoint=/srv/data", "rpool/data/share").rc == 0
    assert node.run("sh", "-c", "echo kept > /srv/data/f").rc == 0
    with open(node.path("/srv/data/f"), encoding="utf-8") as f:
        assert f.read() == "kept\n"
    assert not os.path.exists(node.path("/var/lib/pvesim/zfs-mnt/srv/data"))
    r = node.run("zfs", "get", "-H", "-o", "value", "mountpoint,mounted", "rpool/data/share")
    assert r.out == "/srv/data\nyes\n"
    # moved with the property, as ZFS moves a mount
    assert node.run("zfs", "set", "mountpoint=/mnt/tank/share", "rpool/data/share").rc == 0
    assert node.run("cat", "/mnt/tank/share/f").out == "kept\n"
    assert node.run("test", "-e", "/srv/data").rc != 0
    assert (sorted(os.listdir("/srv")) if os.path.isdir("/srv") else None) == host_srv  # the host's /srv untouched
    # a symlink out of the node below /srv is refused as any other escape
    os.symlink("/etc", node.path("/srv/out"))
    r = node.run("zfs", "create", "-o", "mountpoint=/srv/out/evil", "rpool/data/evil")
    assert "resolves outside the simulated node" in r.err
    assert not os.path.exists("/etc/evil")
