"""The golden cases: hand-picked edge cases plus generated ones (fixed seed).

scripts/record-golden.py sends each case to Proxmox's own code (pve-oracle) and stores the
answers beside the case in tests/golden/<kind>.jsonl. This module is data and builders only.

Kinds:
- propstrings: one property string parsed (parse_prop/parse_volume/parse_net/parse_features),
  printed (print_prop/print_volume/print_net), or one config value type-checked (check_type).
- configs: whole config files parsed (parse_config: the $conf PVE builds, warnings) and
  rewritten (roundtrip: write_pct_config of the parse).
- validate: API parameter validation of create_vm / update_vm (validate_create/validate_update).
- pct: the real `pct` CLI (set, create, config, pending) against a node's files: rc, stdout,
  stderr and the config files it changed.
"""

import random

SEED = 20261202

STORAGE_ROOT = "/var/tmp/nexcage-golden"  # emptied before every recorded case
STORAGE_CFG = (
    "dir: tstore\n"
    "\tpath /var/tmp/nexcage-golden/vz\n"
    "\tcontent iso,vztmpl,backup,rootdir,snippets\n"
    "\n"
    "dir: isos\n"
    "\tpath /var/tmp/nexcage-golden/iso\n"
    "\tcontent iso,vztmpl\n"
)
CONF = "nodes/pve/lxc/100.conf"

PLAIN = (
    "arch: amd64\nhostname: ct1\nmemory: 512\nostype: debian\nrootfs: tstore:100/vm-100-disk-0.raw,size=8G\nswap: 512\n"
)
FULL = (
    "#first line\n"
    "#  second: with 100%25 and trailing spaces  \n"
    "arch: amd64\n"
    "cores: 2\n"
    "cpulimit: 1.5\n"
    "cpuunits: 200\n"
    "dev0: /dev/null,mode=0660,uid=1000\n"
    "features: keyctl=1,nesting=1\n"
    "hostname: web.example.com\n"
    "memory: 1024\n"
    "mp0: /mnt/host/data,mp=/data,ro=1\n"
    "mp1: tstore:100/vm-100-disk-1.raw,mp=/srv,backup=1,size=4G\n"
    "nameserver: 10.0.0.1 10.0.0.2\n"
    "net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=dhcp,type=veth\n"
    "net1: name=eth1,bridge=vmbr1,firewall=1,hwaddr=BC:24:11:00:00:02,ip=10.1.0.5/24,gw=10.1.0.1,tag=5,type=veth\n"
    "onboot: 1\n"
    "ostype: debian\n"
    "protection: 0\n"
    "rootfs: tstore:100/vm-100-disk-0.raw,size=8G\n"
    "searchdomain: example.com\n"
    "startup: order=2,up=30\n"
    "swap: 256\n"
    "tags: GPU;ai;Prod\n"
    "timezone: Europe/Berlin\n"
    "unprivileged: 1\n"
    "unused0: tstore:100/vm-100-disk-2.raw\n"
    "lxc.cgroup2.devices.allow: c 10:200 rwm\n"
    "lxc.mount.entry: /dev/net dev/net none bind,create=dir\n"
)
SNAP = (
    PLAIN.replace("memory: 512\n", "memory: 512\nparent: s2\n")
    + "\n[s1]\n#snap one\narch: amd64\nhostname: ct1\nmemory: 256\nostype: debian\n"
    "rootfs: tstore:100/vm-100-disk-0.raw,size=8G\nsnaptime: 1700000000\nswap: 512\n"
    "\n[s2]\narch: amd64\nhostname: ct1\nmemory: 384\nostype: debian\nparent: s1\n"
    "rootfs: tstore:100/vm-100-disk-0.raw,size=8G\nsnaptime: 1700000100\nswap: 512\n"
)
PENDING = PLAIN + "\n[pve:pending]\ncores: 4\ndelete: swap\nmemory: 1024\n"
PROTECTED = PLAIN + "mp0: /mnt/x,mp=/x\nprotection: 1\nunused0: tstore:100/vm-100-disk-5.raw\n"
UNPRIV = PLAIN + "unprivileged: 1\n"
TEMPLATE = PLAIN + "template: 1\n"

LOCKS = [
    "backup",
    "create",
    "destroyed",
    "disk",
    "fstrim",
    "migrate",
    "mounted",
    "rollback",
    "snapshot",
    "snapshot-delete",
]


def _base(conf):
    return {"storage.cfg": STORAGE_CFG, CONF: conf}


BASES = {
    "plain": _base(PLAIN),
    "full": _base(FULL),
    "snap": _base(SNAP),
    "pending": _base(PENDING),
    "protected": _base(PROTECTED),
    "unpriv": _base(UNPRIV),
    "template": _base(TEMPLATE),
    "none": {"storage.cfg": STORAGE_CFG},
}
for _lock in LOCKS:
    BASES["lock-" + _lock] = _base(PLAIN + "lock: %s\n" % _lock)

# ---------------------------------------------------------------- values per option

BOOL_OK = ["1", "0", "yes", "no", "on", "off", "true", "false", "TRUE", "Yes"]
BOOL_BAD = ["maybe", "2", "-1", "", "y", "enable"]

OPTION_VALUES = {
    "hostname": [
        "ct1",
        "web.example.com",
        "a",
        "A1-b2",
        "x" * 63,
        "a" * 64,
        "bad_name",
        "-a",
        "a-",
        "a..b",
        "",
        "ct 1",
        "höst",
        "1abc",
        "123",
        "a.b-.c",
        ".a",
        "a.",
        "x" * 300,
        "UPPER.Case",
    ],
    "memory": [
        "16",
        "512",
        "1024",
        "65536",
        "15",
        "8",
        "0",
        "-1",
        "abc",
        "1.5",
        "",
        "+512",
        "0x10",
        "1e3",
        "99999999999",
        "512M",
        " 512",
    ],
    "swap": ["0", "512", "-1", "abc", "1.5", "", "1048576", "+0"],
    "cores": ["1", "2", "8192", "0", "8193", "a", "2.0", "", "-2", "64"],
    "cpulimit": [
        "0",
        "0.5",
        "1",
        "8192",
        "8193",
        "-1",
        "1e2",
        ".5",
        "abc",
        "1.",
        "+1",
        "",
        "2.25",
        "0.01",
        "8192.1",
        "1,5",
    ],
    "cpuunits": ["0", "1", "2", "100", "1024", "10000", "10001", "262144", "500000", "500001", "-1", "a", "", "1.5"],
    "onboot": BOOL_OK + BOOL_BAD,
    "protection": BOOL_OK + BOOL_BAD,
    "unprivileged": ["1", "0", "maybe"],
    "console": ["1", "0", "x"],
    "template": ["1", "0", "x"],
    "debug": ["1", "0", "x"],
    "tty": ["0", "2", "6", "7", "-1", "x"],
    "cmode": ["shell", "console", "tty", "bad", ""],
    "timezone": [
        "host",
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Etc/UTC",
        "Europe/Nowhere",
        "",
        "europe/berlin",
        "GMT",
        "Asia/Kolkata",
        "../etc/passwd",
    ],
    "nameserver": [
        "10.0.0.1",
        "10.0.0.1 10.0.0.2",
        "10.0.0.1,10.0.0.2",
        "10.0.0.1;10.0.0.2",
        "2001:db8::1",
        "fe80::1%eth0",
        "bad",
        "10.0.0.256",
        "",
        "10.0.0.1 bad",
        " 10.0.0.1",
        "1.2.3.4/24",
        "::1 127.0.0.1",
    ],
    "searchdomain": [
        "example.com",
        "a.example.com b.example.org",
        "a.com,b.com",
        "a.com;b.com",
        "bad_domain",
        "",
        "-bad.com",
        "x" * 64 + ".com",
        "Example.COM",
    ],
    "ostype": [
        "debian",
        "devuan",
        "ubuntu",
        "centos",
        "fedora",
        "opensuse",
        "archlinux",
        "alpine",
        "gentoo",
        "nixos",
        "unmanaged",
        "windows",
        "Debian",
        "",
    ],
    "arch": ["amd64", "i386", "arm64", "armhf", "riscv32", "riscv64", "x86_64", "AMD64", ""],
    "tags": [
        "a",
        "GPU;ai;Prod",
        "b;a;c",
        "a,b",
        "a b",
        "a;a;A",
        "bad tag!",
        "",
        "x.y-z_1+2",
        "-x",
        "+x",
        "_x",
        "a;;b",
        "tag/slash",
        "é",
    ],
    "description": [
        "hello",
        "line1\nline2",
        "100% sure",
        "ümlaut ✓",
        "trailing  ",
        "  leading",
        "a:b",
        "%0A",
        "multi\n\nblank",
        "tab\there",
        "x" * 8192,
        "x" * 8193,
        "",
        "\n",
        "#hash",
        "cr\r\nlf",
    ],
    "startup": [
        "1",
        "order=1",
        "order=1,up=30",
        "up=30",
        "down=60",
        "order=3,up=10,down=20",
        "up=30,order=1",
        "order=-1",
        "order=a",
        "bad",
        "",
        "order=1;up=2",
        "order=1 up=2",
        "3,4",
        "foo=1",
        "up=-5",
        "order=1,order=2",
    ],
    "hookscript": [
        "tstore:snippets/hook.sh",
        "local:snippets/hook.sh",
        "isos:snippets/hook.sh",
        "bad",
        "/var/lib/vz/snippets/hook.sh",
        "",
        "tstore:snippets/../x",
    ],
    "entrypoint": ["/sbin/init", "/bin/sh -c 'sleep 1'", "", "bad\x01"],
    "env": ["A=1", "A=1\x00B=2", "=x", "bad", "A=has space"],
}

NET_SUB = {
    "name": (["eth0", "eth1", "e-1.x_y", "net0"], ["", "eth 0", "eth/0", "ä"]),
    "bridge": (["vmbr0", "vmbr1", "vmbr9", "br-x.1_y"], ["", "vm br0", "br/0"]),
    "hwaddr": (
        ["BC:24:11:00:00:01", "bc:24:11:aa:bb:cc", "02:00:00:00:00:01"],
        ["01:00:00:00:00:01", "BC:24:11:00:00", "zz:24:11:00:00:01", "BC-24-11-00-00-01", ""],
    ),
    "ip": (
        ["dhcp", "manual", "10.0.0.5/24", "192.168.1.1/32", "10.0.0.5/0"],
        ["10.0.0.5", "auto", "10.0.0.256/24", "10.0.0.5/33", "bad", "", "2001:db8::1/64"],
    ),
    "gw": (["10.0.0.1", "192.168.1.254"], ["10.0.0.256", "bad", "", "2001:db8::1", "10.0.0.1/24"]),
    "ip6": (
        ["auto", "dhcp", "manual", "2001:db8::5/64", "fe80::1/64", "::1/128"],
        ["2001:db8::5", "zz::1/64", "10.0.0.5/24", "", "2001:db8::5/129"],
    ),
    "gw6": (["2001:db8::1", "fe80::1", "::1", "fe80::1%eth0"], ["zz::1", "10.0.0.1", "", "2001:db8::1/64"]),
    "firewall": (["1", "0", "yes", "off"], ["maybe", ""]),
    "tag": (["1", "5", "4094"], ["0", "4095", "-1", "x", ""]),
    "trunks": (["5", "5;6;7", "10-20", "1;2-3"], ["a", "5,6", "", ";5"]),
    "rate": (["0", "12.5", "100", "0.5"], ["-1", "x", ""]),
    "mtu": (["64", "1500", "9000", "65535"], ["63", "65536", "x", ""]),
    "link_down": (["1", "0"], ["x"]),
    "host-managed": (["1", "0"], ["x"]),
    "type": (["veth"], ["macvlan", ""]),
}
MP_SUB = {
    "mp": (["/data", "/srv/x", "/mnt/a b", "/"], ["relative", "/a/../b", "/a/.", "", "/a/./b"]),
    "size": (["8G", "0T", "1024", "512M", "1.5G", "100K", "0"], ["8X", "G", "-1G", "", "8 G"]),
    "acl": (["1", "0"], ["x"]),
    "backup": (["1", "0"], ["x"]),
    "ro": (["1", "0", "yes"], ["x"]),
    "quota": (["1", "0"], ["x"]),
    "replicate": (["1", "0"], ["x"]),
    "shared": (["1", "0"], ["x"]),
    "keepattrs": (["1", "0"], ["x"]),
    "mountoptions": (
        ["noatime", "noatime;nodev", "nosuid;noexec;lazytime", "discard"],
        ["bad", "noatime,nodev", "", "noatime;"],
    ),
    "idmap": (["passthrough", "u:0:1000:1", "u:0:1000:1;g:0:1000:1"], ["u:0:1000:0", "x", ""]),
}
MP_VOLUMES = (
    [
        "/mnt/host",
        "/mnt/host/",
        "/mnt/lxc_jellyfin/jellyfin/",
        "/dev/sdb1",
        "tstore:100/vm-100-disk-1.raw",
        "tstore:8",
        "tstore:0",
        "tstore:subvol-100-disk-1",
        "nosuch:100/vm-100-disk-1.raw",
        "/mnt/a,b",
    ],
    ["relative/path", "/mnt/../etc", "../x", "", "/mnt/.", "bad:"],
)
FEATURES_SUB = {
    "nesting": (["1", "0", "yes"], ["x", ""]),
    "keyctl": (["1", "0"], ["x"]),
    "fuse": (["1", "0"], ["x"]),
    "mknod": (["1", "0"], ["x"]),
    "force_rw_sys": (["1", "0"], ["x"]),
    "mount": (["nfs", "nfs;cifs", "ext4;nfs;cifs", "a b"], ["nfs,cifs", "", "nfs/x"]),
}
DEV_SUB = {
    "mode": (["0660", "0600", "0777"], ["660", "0999", "06600", "rw", ""]),
    "uid": (["0", "1000", "100000"], ["-1", "x", ""]),
    "gid": (["0", "1000"], ["-1", "x"]),
    "deny-write": (["1", "0"], ["x"]),
}
# Proxmox checks that the device exists on the node: the valid ones exist on every Linux host.
DEV_PATHS = (
    ["/dev/null", "/dev/zero", "/dev/full", "/dev/urandom", "/dev/ttyUSB9"],
    ["/tmp/x", "/dev/../etc/passwd", "/dev/.", "ttyUSB0", ""],
)


def _subkeys(rng, table, n_min, n_max, bad_rate):
    parts, bad = [], False
    keys = sorted(table)
    for key in rng.sample(keys, rng.randint(n_min, min(n_max, len(keys)))):
        good, wrong = table[key]
        if wrong and rng.random() < bad_rate:
            value, bad = rng.choice(wrong), True
        else:
            value = rng.choice(good)
        parts.append("%s=%s" % (key, value))
    return parts, bad


def gen_net(rng, bad_rate=0.15):
    table = dict(NET_SUB)
    name = rng.choice(table.pop("name")[0])
    parts, _unused = _subkeys(rng, table, 0, 6, bad_rate)
    if rng.random() < 0.92:
        parts.insert(rng.randint(0, len(parts)), "name=" + name)
    if rng.random() < 0.05:
        parts.append(rng.choice(["foo=1", "Name=eth0", "name=eth9", "ip"]))
    return ",".join(parts)


def gen_mp(rng, rootfs=False, bad_rate=0.15):
    table = dict(MP_SUB)
    mp = table.pop("mp")
    if rootfs:
        for key in ("backup", "keepattrs"):
            table.pop(key)
    parts, _unused = _subkeys(rng, table, 0, 4, bad_rate)
    if not rootfs and rng.random() < 0.93:
        value = rng.choice(mp[1]) if rng.random() < bad_rate else rng.choice(mp[0])
        parts.insert(rng.randint(0, len(parts)), "mp=" + value)
    vol = rng.choice(MP_VOLUMES[1]) if rng.random() < bad_rate / 2 else rng.choice(MP_VOLUMES[0])
    if rng.random() < 0.9:
        parts.insert(0, vol)
    else:
        parts.insert(rng.randint(0, len(parts)), "volume=" + vol)
    if rng.random() < 0.05:
        parts.append(rng.choice(["foo=1", "size", "mp=/dup"]))
    return ",".join(parts)


def gen_features(rng, bad_rate=0.15):
    parts, _unused = _subkeys(rng, FEATURES_SUB, 1, 4, bad_rate)
    if rng.random() < 0.05:
        parts.append("bogus=1")
    return ",".join(parts)


def gen_dev(rng, bad_rate=0.15):
    parts, _unused = _subkeys(rng, DEV_SUB, 0, 3, bad_rate)
    path = rng.choice(DEV_PATHS[1]) if rng.random() < bad_rate else rng.choice(DEV_PATHS[0])
    if rng.random() < 0.85:
        parts.insert(0, path)
    else:
        parts.insert(rng.randint(0, len(parts)), "path=" + path)
    return ",".join(parts)


def gen_startup(rng):
    parts = []
    for key in rng.sample(["order", "up", "down"], rng.randint(1, 3)):
        value = rng.choice(["0", "1", "10", "300", "-1", "x"])
        parts.append(value if key == "order" and rng.random() < 0.3 else "%s=%s" % (key, value))
    return rng.choice([",", ";", " "]).join(parts)


# ---------------------------------------------------------------- propstrings


PROP_EDGE = {
    "net0": [
        "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=dhcp,type=veth",
        "hwaddr=BC:24:11:00:00:01,name=eth0,bridge=vmbr1",
        "name=eth0",
        "bridge=vmbr0",
        "eth0",
        "name=eth0,name=eth1",
        "name=eth0,,bridge=vmbr0",
        "name=eth0,bridge=vmbr0,",
        "name=eth0, bridge=vmbr0",
        "name=eth0,bridge=vmbr0,ip=10.0.0.5/24,gw=10.0.0.1,ip6=2001:db8::5/64,gw6=2001:db8::1",
        "name=eth0,gw6=zz::1",
        "name=eth0,firewall=yes",
        "name=eth0,firewall=YES",
        "name=eth0,tag=05",
        "name=eth0,rate=1e2",
        "name=eth0,mtu=1500.0",
        "name=eth0,host-managed=1,ip6=auto",
        "name=eth0,host-managed=1,ip6=auto,link_down=1",
        "name=eth0,foo=1",
        "",
        "name=",
        "=eth0",
    ],
    "rootfs": [
        "tstore:100/vm-100-disk-0.raw,size=8G",
        "local-lvm:vm-100-disk-0,size=8G,acl=1,mountoptions=noatime;nodev",
        "tstore:8",
        "tstore:0",
        "/mnt/rootdir",
        "volume=tstore:100/vm-100-disk-0.raw",
        "tstore:100/vm-100-disk-0.raw,size=0T",
        "tstore:100/vm-100-disk-0.raw,size=1024M",
        "tstore:100/vm-100-disk-0.raw,size=1.5G",
        "tstore:100/vm-100-disk-0.raw,mp=/x",
        "tstore:100/vm-100-disk-0.raw,backup=1",
        "",
    ],
    "mp0": [
        "/mnt/lxc_jellyfin/jellyfin/,mp=/mnt/jellyfin",
        "/mnt/host,mp=/data,ro=1,backup=0",
        "local:10,mp=/data,size=1T",
        "tstore:100/vm-100-disk-1.raw,mp=/data,size=4G,backup=1",
        "/mnt/host",
        "mp=/data",
        "/mnt/host,mp=/data,foo=1",
        "/mnt/host,mp=/data/",
        "/mnt/host,mp=data",
        "/dev/sdb1,mp=/mnt/disk",
        "tstore:8,mp=/data,size=2G",
    ],
    "features": [
        "nesting=1",
        "nesting=1,keyctl=1",
        "nesting=yes,bogus=1",
        "mount=nfs;cifs,fuse=1",
        "",
        "nesting",
        "nesting=1,nesting=0",
        "force_rw_sys=1,mknod=1",
    ],
    "dev0": [
        "/dev/ttyUSB0,mode=0660,uid=1000",
        "/dev/ttyUSB0",
        "path=/dev/ttyUSB0,gid=5",
        "mode=0660",
        "/dev/ttyUSB0,mode=660",
        "/tmp/x",
        "/dev/ttyUSB0,deny-write=1",
        "",
    ],
    "unused0": ["tstore:100/vm-100-disk-2.raw", "bad", "/mnt/x", "volume=tstore:x"],
}

CHECK_TYPE_KEYS = [
    "onboot",
    "memory",
    "swap",
    "cores",
    "cpulimit",
    "cpuunits",
    "hostname",
    "tags",
    "startup",
    "nameserver",
    "searchdomain",
    "timezone",
    "ostype",
    "arch",
    "protection",
    "unprivileged",
    "hookscript",
    "tty",
    "cmode",
    "template",
    "lock",
]


def propstring_cases(rng):
    cases = []

    def add(group, request):
        cases.append(
            {
                "id": "prop/%s/%04d" % (group, sum(1 for c in cases if c["group"] == group)),
                "group": group,
                "request": request,
            }
        )

    for key, values in sorted(PROP_EDGE.items()):
        for value in values:
            add("parse-%s-edge" % key.rstrip("0"), {"op": "parse_prop", "key": key, "value": value})
    gens = {
        "net0": gen_net,
        "rootfs": lambda r: gen_mp(r, rootfs=True),
        "mp0": gen_mp,
        "features": gen_features,
        "dev0": gen_dev,
    }
    counts = {"net0": 220, "rootfs": 120, "mp0": 220, "features": 80, "dev0": 80}
    for key in sorted(gens):
        for _round in range(counts[key]):
            add("parse-%s" % key.rstrip("0"), {"op": "parse_prop", "key": key, "value": gens[key](rng)})
    # The collection-facing helpers: parse_volume / parse_net (random MAC seeded) / parse_features.
    for _round in range(60):
        add("parse_volume", {"op": "parse_volume", "key": "mp1", "value": gen_mp(rng)})
    for _round in range(30):
        add("parse_volume", {"op": "parse_volume", "key": "rootfs", "value": gen_mp(rng, rootfs=True)})
    for _round in range(60):
        add("parse_net", {"op": "parse_net", "value": gen_net(rng), "seed": 7})
    for _round in range(20):
        add("parse_features", {"op": "parse_features", "value": gen_features(rng)})
    # Printing: print_cases() derives them from Proxmox's own parse results (parse, then print).
    for key in CHECK_TYPE_KEYS:
        values = OPTION_VALUES.get(key) or (LOCKS + ["bad"] if key == "lock" else ["1"])
        for value in values:
            if "\n" in value or len(value) > 300:
                continue
            add("check_type", {"op": "check_type", "key": key, "value": value})
    return cases


PRINT_OPS = {
    "parse_prop": ("print_prop", "parsed"),
    "parse_volume": ("print_volume", "volume"),
    "parse_net": ("print_net", "net"),
}


def print_cases(recorded):
    """Print requests made of every successful parse: Proxmox's parse result, printed again."""
    cases = []
    for case in recorded:
        req, res = case["request"], case["result"]
        if req["op"] not in PRINT_OPS or "error" in res:
            continue
        op, field = PRINT_OPS[req["op"]]
        value = res[field]
        if isinstance(value, dict) and value.get("hwaddr") == "@MAC@":
            value = dict(value, hwaddr="BC:24:11:00:00:AA")  # the generated (masked) MAC, fixed
        request = {"op": op, field: value}
        if "key" in req:
            request["key"] = req["key"]
        cases.append({"id": case["id"].replace("/parse", "/print", 1), "group": "print", "request": request})
    return cases


# ---------------------------------------------------------------- configs

CONFIG_EDGE = [
    PLAIN,
    FULL,
    SNAP,
    PENDING,
    PROTECTED,
    UNPRIV,
    TEMPLATE,
    "mp0: /mnt/lxc_jellyfin/jellyfin/,mp=/mnt/jellyfin\n",
    "startup: 3\n",
    "startup: order=3\n",
    "startup: up=30,order=1\n",
    "startup: bad\n",
    "tags: GPU;ai;Prod\n",
    "tags: b a,c\n",
    "#line one  \n#line two\t\narch: amd64\n",
    "description: first%0Asecond%3A third\narch: amd64\n",
    "description: only key\n#and comment\n",
    "#a\ndescription: b\n#c\n",
    "#%\n#%ZZ\n#%25\n#ünï\n",
    "net0: hwaddr=BC:24:11:00:00:01,name=eth0,bridge=vmbr1\n",
    "net0: name=eth0,bridge=vmbr0,firewall=yes,hwaddr=BC:24:11:00:00:01,type=veth\n",
    "rootfs: tstore:100/vm-100-disk-0.raw,size=0T\n",
    "net0: name=eth0,gw6=zz::1\n",
    "memory: abc\nfoo: bar\nhostname: x\n",
    "delete: swap\n",
    "onboot: yes\nprotection: on\nconsole: off\n",
    "memory:512\nswap:   256   \n",
    "lxc.apparmor.profile: unconfined\nlxc.cgroup2.devices.allow: a\nlxc.mount.auto: proc:rw sys:rw\n",
    "lxc.apparmor.profile = unconfined\nlxc.idmap = u 0 100000 65536\n",
    "lxc.rootfs.path: /x\nlxc.bogus.key: 1\n",
    "lxc.environment.runtime: A=1\nlxc.environment.runtime: B=2\narch: amd64\n",
    "entrypoint: /sbin/init\nenv: A=1\n",
    "unused0: tstore:100/vm-100-disk-2.raw\nunused3: tstore:100/vm-100-disk-3.raw\n",
    "dev0: /dev/ttyUSB0,mode=0660\ndev1: path=/dev/dri/renderD128,gid=44\n",
    "arch: arm64\nostype: alpine\n",
    "template: 1\n",
    "lock: backup\n",
    "lock: bogus\n",
    "snapstate: prepare\n",
    "parent: s1\n\n[s1]\nsnapstate: delete\nsnaptime: 1\n",
    "[s1]\nmemory: 256\n",
    "[pve:pending]\nmemory: 1024\n",
    "arch: amd64\n[PVE:PENDING]\nmemory: 1024\n",
    "arch: amd64\n\n[pve:pending]\ndelete: swap,!cores\n",
    "arch: amd64\n\n[s1]\n\n[s2]\narch: i386\n",
    "arch: amd64\n\n[1bad]\nmemory: 5\n",
    "arch: amd64\n\n[s1]\nlxc.cgroup2.cpu.max: 1000\n#snapdesc\n",
    "hostname: ct1\nhostname: ct2\n",
    "   \n\n\narch: amd64\n\n",
    "arch: amd64",
    "Memory: 512\n",
    "mp0: /a,mp=/b\nmp10: /c,mp=/d\nmp2: /e,mp=/f\n",
    "net0: name=eth0\nnet10: name=eth10\nnet2: name=eth2\n",
    "searchdomain: a.com b.com\nnameserver: 1.1.1.1 8.8.8.8\n",
    "cpuunits: 0\ncpulimit: 0\n",
    "hookscript: tstore:snippets/hook.sh\n",
    "timezone: host\n",
    "features: nesting=1,keyctl=1,fuse=1,mount=nfs;cifs\n",
    "description: \n",
    "#\n#\n",
    "arch: amd64\r\nmemory: 512\r\n",
    "memory: 512 # comment\n",
]

CONFIG_KEYS_VALUES = {
    "arch": ["amd64", "arm64", "i386"],
    "cores": ["1", "2", "4"],
    "cpulimit": ["0", "1.5", "2"],
    "cpuunits": ["100", "1024"],
    "hostname": ["ct1", "web.example.com"],
    "memory": ["256", "512", "2048"],
    "swap": ["0", "512"],
    "onboot": ["0", "1"],
    "protection": ["0", "1"],
    "ostype": ["debian", "ubuntu", "alpine", "unmanaged"],
    "unprivileged": ["0", "1"],
    "tags": ["a;b", "GPU;ai;Prod", "prod"],
    "timezone": ["host", "Europe/Berlin"],
    "nameserver": ["10.0.0.1", "1.1.1.1 8.8.8.8"],
    "searchdomain": ["example.com"],
    "startup": ["order=1", "3", "up=30,order=2", "order=1,up=10,down=20"],
    "lock": LOCKS,
    "template": ["1"],
    "hookscript": ["tstore:snippets/hook.sh"],
}


def gen_config(rng, with_sections=True):
    lines = []
    if rng.random() < 0.3:
        lines.append("#" + rng.choice(["desc", "with %25 percent", "ünï %3A", "trailing  ", ""]))
    keys = rng.sample(sorted(CONFIG_KEYS_VALUES), rng.randint(2, 9))
    for key in keys:
        lines.append("%s: %s" % (key, rng.choice(CONFIG_KEYS_VALUES[key])))
    lines.append("rootfs: " + gen_mp(rng, rootfs=True, bad_rate=0.05))
    for i in rng.sample(range(12), rng.randint(0, 3)):
        lines.append("mp%d: %s" % (i, gen_mp(rng, bad_rate=0.05)))
    for i in rng.sample(range(6), rng.randint(0, 2)):
        lines.append("net%d: %s" % (i, gen_net(rng, bad_rate=0.05)))
    if rng.random() < 0.3:
        lines.append("features: " + gen_features(rng, bad_rate=0.05))
    if rng.random() < 0.2:
        lines.append("dev0: " + gen_dev(rng, bad_rate=0.05))
    if rng.random() < 0.2:
        lines.append("lxc.cgroup2.devices.allow: c 10:200 rwm")
    rng.shuffle(lines)
    text = "\n".join(lines) + "\n"
    if with_sections and rng.random() < 0.3:
        text += "\n[pve:pending]\nmemory: 1024\n" + rng.choice(["", "delete: swap\n", "delete: cores,!mp0\n"])
    if with_sections and rng.random() < 0.3:
        text += "\n[snap%d]\n" % rng.randint(1, 9) + gen_config(rng, with_sections=False) + "snaptime: 1700000000\n"
    return text


def config_texts(rng):
    return CONFIG_EDGE + [gen_config(rng) for _round in range(140)]


def config_cases(rng):
    cases = []
    for i, raw in enumerate(config_texts(rng)):
        cases.append({"id": "config/parse/%04d" % i, "group": "parse", "request": {"op": "parse_config", "raw": raw}})
        cases.append(
            {"id": "config/roundtrip/%04d" % i, "group": "roundtrip", "request": {"op": "roundtrip", "raw": raw}}
        )
    for i, raw in enumerate(CONFIG_EDGE[:12]):
        cases.append(
            {
                "id": "config/strict/%04d" % i,
                "group": "strict",
                "request": {"op": "parse_config", "raw": raw, "strict": 1},
            }
        )
    return cases


# ---------------------------------------------------------------- API validation

CREATE_FIXED = {"node": "pve", "vmid": 200, "ostemplate": "tstore:vztmpl/debian-12.tar.zst"}


def _option_samples(rng):
    """(option, value) pairs: every listed value of every option, plus generated property strings."""
    pairs = [(key, value) for key in sorted(OPTION_VALUES) for value in OPTION_VALUES[key]]
    for _round in range(70):
        pairs.append(("net%d" % rng.choice([0, 1, 3, 31]), gen_net(rng)))
    for _round in range(60):
        pairs.append(("mp%d" % rng.choice([0, 1, 9, 255]), gen_mp(rng)))
    for _round in range(25):
        pairs.append(("rootfs", gen_mp(rng, rootfs=True)))
    for _round in range(25):
        pairs.append(("features", gen_features(rng)))
    for _round in range(25):
        pairs.append(("dev%d" % rng.choice([0, 5]), gen_dev(rng)))
    for _round in range(15):
        pairs.append(("startup", gen_startup(rng)))
    pairs += [
        ("net32", "name=eth0"),
        ("mp256", "/a,mp=/b"),
        ("dev256", "/dev/null"),
        ("Memory", "512"),
        ("bogus", "1"),
        ("unused0", "tstore:100/vm-100-disk-2.raw"),
        ("lock", "backup"),
    ]
    return pairs


def validate_cases(rng):
    cases = []
    for i, (key, value) in enumerate(_option_samples(rng)):
        cases.append(
            {
                "id": "validate/update/%04d" % i,
                "group": "update",
                "request": {"op": "validate_update", "params": {"node": "pve", "vmid": 100, key: value}},
            }
        )
        params = dict(CREATE_FIXED)
        params[key] = value
        cases.append(
            {
                "id": "validate/create/%04d" % i,
                "group": "create",
                "request": {"op": "validate_create", "params": params},
            }
        )
    extra = [
        {"delete": "memory,foo bar"},
        {"delete": "swap"},
        {"delete": "swap,cores;net0 mp0"},
        {"delete": ""},
        {"revert": "memory"},
        {"digest": "x" * 41},
        {"digest": "abc"},
        {"delete": "swap", "swap": "1"},
        {"vmid": "99"},
        {"vmid": "1000000000"},
        {"vmid": "abc"},
    ]
    for i, more in enumerate(extra):
        params = {"node": "pve", "vmid": 100}
        params.update(more)
        cases.append(
            {
                "id": "validate/update-extra/%04d" % i,
                "group": "update-extra",
                "request": {"op": "validate_update", "params": params},
            }
        )
    for i in range(80):
        params = {"node": "pve", "vmid": 100}
        for key, value in rng.sample(_option_samples(rng), rng.randint(2, 5)):
            params[key] = value
        cases.append(
            {
                "id": "validate/update-multi/%04d" % i,
                "group": "update-multi",
                "request": {"op": "validate_update", "params": params},
            }
        )
    return cases


# ---------------------------------------------------------------- the pct CLI


def pct_cases(rng):
    cases = []

    def add(group, base, args, files=None):
        case = {
            "id": "pct/%s/%04d" % (group, sum(1 for c in cases if c["group"] == group)),
            "group": group,
            "base": base,
            "args": args,
        }
        if files:
            case["files"] = files
        cases.append(case)

    # One option at a time, against a plain CT: per-parameter error text, exit code, the file written.
    for key in sorted(OPTION_VALUES):
        for value in OPTION_VALUES[key]:
            if len(value) > 300:
                continue
            add("set-" + key, "plain", ["set", "100", "--" + key, value])
    for _round in range(90):
        add("set-net", "plain", ["set", "100", "--net%d" % rng.choice([0, 1, 7]), gen_net(rng)])
    for _round in range(90):
        add("set-mp", "plain", ["set", "100", "--mp%d" % rng.choice([0, 1, 12]), gen_mp(rng)])
    for _round in range(20):
        add("set-rootfs", "plain", ["set", "100", "--rootfs", gen_mp(rng, rootfs=True)])
    for _round in range(35):
        add("set-features", "plain", ["set", "100", "--features", gen_features(rng)])
    for _round in range(35):
        add("set-dev", "plain", ["set", "100", "--dev%d" % rng.choice([0, 3]), gen_dev(rng)])
    for _round in range(20):
        add("set-startup", "plain", ["set", "100", "--startup", gen_startup(rng)])
    # The same against a full config (existing keys replaced, order kept), and the other bases.
    for key in ("memory", "tags", "description", "startup", "nameserver", "onboot", "cpuunits", "hostname"):
        for value in OPTION_VALUES[key][:6]:
            add("set-full", "full", ["set", "100", "--" + key, value])
    for _round in range(40):
        add("set-full", "full", ["set", "100", "--net%d" % rng.choice([0, 1, 2]), gen_net(rng, bad_rate=0.05)])
    for _round in range(30):
        add("set-full", "full", ["set", "100", "--mp%d" % rng.choice([0, 1, 2]), gen_mp(rng, bad_rate=0.05)])
    # CLI spellings: getopt forms, case, booleans without value, repeated options, positionals.
    cli_forms = [
        ["--memory=1024"],
        ["-memory", "1024"],
        ["--Memory", "1"],
        ["--MEMORY", "1024"],
        ["--memory"],
        ["--onboot"],
        ["--onboot", "--protection"],
        ["--onboot", "0"],
        ["--onboot="],
        ["--memory", "600", "--memory", "700"],
        ["--mem", "1024"],
        ["--nosuch", "1"],
        ["extra"],
        ["--delete"],
        ["--"],
        ["--memory", "1024", "--", "x"],
        ["--protection", "maybe"],
        ["--protection", "maybe", "--memory", "8"],
        ["--description", "a", "--description", "b"],
        ["--net0", "name=eth0,bridge=vmbr0", "--net0", "x"],
        ["--swap", "-1"],
        ["--cores", "-1"],
        ["--memory", "-5"],
    ]
    for form in cli_forms:
        add("set-cli", "plain", ["set", "100"] + form)
    add("set-cli", "plain", ["set", "100"])
    add("set-cli", "plain", ["set", "abc", "--memory", "600"])
    add("set-cli", "plain", ["set", "99", "--memory", "600"])
    add("set-cli", "plain", ["set", "101", "--memory", "600"])
    add("set-cli", "plain", ["set", "100", "101", "--memory", "600"])
    # Multi-option sets, some with an error among them.
    samples = _option_samples(rng)
    for _round in range(160):
        args = ["set", "100"]
        for key, value in rng.sample(samples, rng.randint(2, 4)):
            if key in ("Memory", "bogus") or len(value) > 300:
                continue
            args += ["--" + key, value]
        add("set-multi", rng.choice(["plain", "full", "unpriv"]), args)
    # --delete lists and --revert.
    delete_lists = [
        "swap",
        "cores",
        "memory",
        "rootfs",
        "ostype",
        "unprivileged",
        "nosuch",
        "swap,cores",
        "swap;cores",
        "swap cores",
        "net0",
        "mp0",
        "mp1",
        "unused0",
        "description",
        "tags",
        "startup,onboot",
        "nameserver,searchdomain",
        "dev0",
        "features",
        "net1,net0",
        "swap,swap",
        "lxc",
        "digest",
        "lock",
        "hostname",
        "cpulimit,cpuunits",
        "timezone",
        "",
        ",",
        "mp0,unused0",
        "protection",
        "parent",
        "snaptime",
        "Swap",
    ]
    for base in ("plain", "full", "pending", "protected", "snap", "lock-backup", "lock-mounted", "template"):
        for value in delete_lists:
            add("delete-" + base, base, ["set", "100", "--delete", value])
    for base in ("plain", "full", "lock-backup"):
        for args in (
            ["--delete", "swap", "--swap", "256"],
            ["--delete", "swap", "--memory", "1024"],
            ["--delete", "nosuch", "--memory", "8"],
            ["--delete", "cores", "--cores", "x"],
            ["--delete", "bogus key"],
            ["--delete", "memory", "--hostname", "bad_name"],
        ):
            add("delete-mixed", base, ["set", "100"] + args)
    for value in ["memory", "cores", "swap", "memory,cores", "nosuch", "delete", "hostname", ""]:
        add("revert", "pending", ["set", "100", "--revert", value])
        add("revert", "plain", ["set", "100", "--revert", value])
    add("revert", "pending", ["set", "100", "--revert", "memory", "--memory", "2048"])
    add("revert", "pending", ["set", "100", "--revert", "cores", "--swap", "64"])
    # Locks: every lock value, with a good and a bad option / delete.
    for lock in LOCKS:
        for args in (["--memory", "1024"], ["--memory", "8"], ["--delete", "nosuch"], ["--delete", "swap"]):
            add("lock", "lock-" + lock, ["set", "100"] + args)
    # Snapshots, pending, protection, template, unprivileged.
    for base in ("snap", "pending", "protected", "template", "unpriv"):
        for args in (
            ["--memory", "2048"],
            ["--cores", "4"],
            ["--swap", "512"],
            ["--mp3", "/mnt/new,mp=/new"],
            ["--mp0", "/mnt/y,mp=/y"],
            ["--unprivileged", "0"],
            ["--unprivileged", "1"],
            ["--description", "new\ndesc"],
            ["--hostname", "renamed"],
            ["--net0", "name=eth0"],
            ["--rootfs", "tstore:100/vm-100-disk-0.raw,size=16G"],
            ["--protection", "0"],
            ["--template", "0"],
            ["--memory", "1024"],
        ):
            add("set-" + base, base, ["set", "100"] + args)
    # Volume mount points: storage checks.
    for value in [
        "tstore:100/vm-100-disk-1.raw,mp=/d",
        "isos:100/vm-100-disk-1.raw,mp=/d",
        "nosuch:100/vm-100-disk-1.raw,mp=/d",
        "tstore:vm-100-disk-1,mp=/d",
        "tstore:101/vm-101-disk-1.raw,mp=/d",
        "/dev/sdb1,mp=/d",
        "tstore:iso/x.iso,mp=/d",
    ]:
        add("set-volume", "plain", ["set", "100", "--mp4", value])
    # pct config / pct pending on every base and on the config corpus.
    for base in sorted(BASES):
        if base == "none":
            continue
        add("config", base, ["config", "100"])
        add("config", base, ["config", "100", "--current"])
        add("pending", base, ["pending", "100"])
    add("config", "snap", ["config", "100", "--snapshot", "s1"])
    add("config", "snap", ["config", "100", "--snapshot", "nosuch"])
    add("config", "snap", ["config", "100", "--snapshot", "s1", "--current"])
    add("config", "none", ["config", "100"])
    add("pending", "none", ["pending", "100"])
    for raw in CONFIG_EDGE:
        add("config-corpus", "none", ["config", "100"], {CONF: raw})
        add("pending-corpus", "none", ["pending", "100"], {CONF: raw})
    # pct create: parameter validation (the template does not exist, so valid values end there).
    create_base = ["create", "200", "tstore:vztmpl/none.tar.gz", "--rootfs", "tstore:0"]
    for key in sorted(OPTION_VALUES):
        for value in OPTION_VALUES[key][:: 2 if len(OPTION_VALUES[key]) > 10 else 1]:
            if len(value) > 300:
                continue
            add("create-" + key, "none", create_base + ["--" + key, value])
    for _round in range(40):
        add("create-net", "none", create_base + ["--net0", gen_net(rng)])
    for _round in range(25):
        add("create-mp", "none", create_base + ["--mp0", gen_mp(rng)])
    for args in (
        ["create", "100", "tstore:vztmpl/none.tar.gz"],
        ["create", "200"],
        ["create", "200", "tstore:vztmpl/none.tar.gz", "--mp0", "/a,mp=/b"],
        ["create", "200", "tstore:vztmpl/none.tar.gz", "--storage", "isos"],
        ["create", "200", "tstore:vztmpl/none.tar.gz", "--rootfs", "isos:1"],
        ["create", "200", "tstore:vztmpl/none.tar.gz", "--storage", "nosuch"],
        ["create", "99", "tstore:vztmpl/none.tar.gz"],
        ["create", "200", "tstore:vztmpl/none.tar.gz", "--delete", "swap"],
        ["create", "200", "tstore:vztmpl/none.tar.gz", "--unused0", "tstore:200/vm-200-disk-1.raw"],
        ["create", "200", "tstore:vztmpl/none.tar.gz", "--password", "abc"],
    ):
        add("create-misc", "plain", args)
    return cases


def all_cases():
    """{kind: [case]} from the fixed seed; the same every time."""
    rng = random.Random(SEED)
    return {
        "propstrings": propstring_cases(rng),
        "configs": config_cases(rng),
        "validate": validate_cases(rng),
        "pct": pct_cases(rng),
    }
