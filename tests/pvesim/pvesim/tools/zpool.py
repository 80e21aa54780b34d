"""Simulated `zpool` (OpenZFS 2.x): list, status and get of the fake pools in pvesim.zfsdb.

A pool is shown as a mirror of sda3 and sdb3 (a PVE RAID1 install); its size
is fixed at `pvesim init` (the size of the node directory's file system);
its health is ONLINE unless a test changes it with
`zfsdb.set_pool_health(pool, "DEGRADED")`.

`zpool get` knows the pool properties of GET_PROPS (OpenZFS's zpool_prop_t order, which
`get all` follows): a feature-flags pool (`version` is `-`, as on every pool PVE makes),
ashift 12 set at creation, everything else at its default. Not simulated: the feature@
properties, load_guid, the dedup-table statistics of OpenZFS 2.3, user properties, and vdev
properties (`zpool get all rpool sda3`).
"""

import getopt
import sys

from pvesim import zfsdb
from pvesim.tools.zfs import _table

USAGE = {
    "list": "\tlist [-gHLpPv] [-o property[,...]] [-T d|u] [pool] ...\n\t    [interval [count]]",
    "status": "\tstatus [-c [script1,script2,...]] [-igLpPstvxD]  [-T d|u] [pool] ...\n\t    [interval [count]]",
    "get": '\tget [-Hp] [-o "all" | field[,...]] <"all" | property[,...]> <pool> ...',
}
DEFAULT_LIST = [
    "name",
    "size",
    "allocated",
    "free",
    "checkpoint",
    "expandsize",
    "fragmentation",
    "capacity",
    "dedupratio",
    "health",
    "altroot",
]
ALIASES = {
    "alloc": "allocated",
    "cap": "capacity",
    "frag": "fragmentation",
    "dedup": "dedupratio",
    "ckpoint": "checkpoint",
    "expandsz": "expandsize",
}
COLUMNS = {
    "name": "NAME",
    "size": "SIZE",
    "allocated": "ALLOC",
    "free": "FREE",
    "checkpoint": "CKPOINT",
    "expandsize": "EXPANDSZ",
    "fragmentation": "FRAG",
    "capacity": "CAP",
    "dedupratio": "DEDUP",
    "health": "HEALTH",
    "altroot": "ALTROOT",
    "guid": "GUID",
    "readonly": "RO",
    "autotrim": "AUTOTRIM",
    "ashift": "ASHIFT",
    "version": "VERSION",
}
LEFT = {"name", "altroot"}


class Usage(Exception):
    def __init__(self, sub, message=None):
        super().__init__(message)
        self.sub = sub
        self.message = message


def _err(text):
    sys.stderr.write(text if text.endswith("\n") else text + "\n")


def main(argv):
    if not argv:
        _err("usage: zpool command args ...")
        return 2
    sub, args = argv[0], argv[1:]
    try:
        if sub == "list":
            return do_list(args)
        if sub == "status":
            return do_status(args)
        if sub == "get":
            return do_get(args)
        _err("unrecognized command '%s'" % sub)
        _err("usage: zpool command args ...")
        return 2
    except Usage as e:
        if e.message:
            _err(e.message)
        _err("usage:\n" + USAGE[e.sub] + "\n")
        return 2
    except zfsdb.ZfsError as e:
        _err(e.message)
        return e.rc


def _pool_values(d, pool, parsable):
    size = d.pool_size(pool)
    alloc = d.pool_alloc(pool)
    free = max(0, size - alloc)
    cap = (alloc * 100) // size if size else 0
    p = d.pools[pool]
    nb = str if parsable else zfsdb.nicebytes
    return {
        "name": pool,
        "size": nb(size),
        "allocated": nb(alloc),
        "free": nb(free),
        "checkpoint": "-",
        "expandsize": "-",
        "fragmentation": "0" if parsable else "0%",
        "capacity": str(cap) if parsable else "%d%%" % cap,
        "dedupratio": "1.00" if parsable else "1.00x",
        "health": p["health"],
        "altroot": "-",
        "guid": str(p["guid"]),
        "readonly": "off",
        "autotrim": "off",
        "ashift": "12",
        "version": "-",
    }


def do_list(args):
    try:
        opts, pools = getopt.gnu_getopt(args, "gHLpPvo:T:")
    except getopt.GetoptError as e:
        raise Usage("list", "invalid option '%s'" % e.opt) from None
    scripted = parsable = False
    props = list(DEFAULT_LIST)
    for o, v in opts:
        if o == "-H":
            scripted = True
        elif o == "-p":
            parsable = True
        elif o == "-o":
            props = []
            for p in v.split(","):
                p = ALIASES.get(p, p)
                if p not in COLUMNS:
                    raise Usage("list", "property '%s' is not a valid pool property" % p)
                props.append(p)
    with zfsdb.db() as d:
        for pool in pools:
            if pool not in d.pools:
                raise zfsdb.ZfsError("cannot open '%s': no such pool" % pool)
        selected = pools or sorted(d.pools)
        if not selected:
            print("no pools available")
            return 0
        rows = []
        for pool in selected:
            values = _pool_values(d, pool, parsable)
            rows.append([values[p] for p in props])
    header = [COLUMNS[p] for p in props]
    right = [p not in LEFT for p in props]
    mins = [8 if p == "health" else (0 if p in LEFT else 5) for p in props]
    sys.stdout.write(_table(header, rows, right, scripted, mins))
    return 0


def _status_text(d, pool):
    p = d.pools[pool]
    health = p["health"]
    out = "  pool: %s\n state: %s\n" % (pool, health)
    if health != "ONLINE":
        out += (
            "status: One or more devices could not be used because the label is missing or\n"
            "\tinvalid.  Sufficient replicas exist for the pool to continue\n"
            "\tfunctioning in a degraded state.\n"
            "action: Replace the device using 'zpool replace'.\n"
            "   see: https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-4J\n"
        )
    out += "  scan: none requested\nconfig:\n\n"
    vdev_state = "ONLINE" if health == "ONLINE" else "UNAVAIL"
    rows = [
        ("NAME", "STATE", "READ", "WRITE", "CKSUM"),
        (pool, health, "0", "0", "0"),
        ("  mirror-0", health, "0", "0", "0"),
        ("    sda3", "ONLINE", "0", "0", "0"),
        ("    sdb3", vdev_state, "0", "0", "0"),
    ]
    for r in rows:
        out += "\t%-10s  %-8s %5s %5s %5s\n" % r
    out += "\nerrors: No known data errors\n"
    return out


def do_status(args):
    try:
        opts, pools = getopt.gnu_getopt(args, "c:igLpPstvxDT:")
    except getopt.GetoptError as e:
        raise Usage("status", "invalid option '%s'" % e.opt) from None
    only_bad = any(o == "-x" for o, _ignored in opts)
    with zfsdb.db() as d:
        for pool in pools:
            if pool not in d.pools:
                raise zfsdb.ZfsError("cannot open '%s': no such pool" % pool)
        selected = pools or sorted(d.pools)
        if not selected:
            print("no pools available")
            return 0
        shown = [pl for pl in selected if not only_bad or d.pools[pl]["health"] != "ONLINE"]
        if not shown:
            if pools and len(pools) == 1:
                print("pool '%s' is healthy" % pools[0])
            else:
                print("all pools are healthy")
            return 0
        sys.stdout.write("\n".join(_status_text(d, pl) for pl in shown))
    return 0


# name -> (column title, kind, source). The kind sets the VALUE column's minimum width as
# zprop_width() does: number 5, index the longest of its values, health 8, string only its title.
GET_PROPS = {
    "size": ("SIZE", "number", "-"),
    "capacity": ("CAP", "number", "-"),
    "altroot": ("ALTROOT", "string", "default"),
    "health": ("HEALTH", "health", "-"),
    "guid": ("GUID", "number", "-"),
    "version": ("VERSION", "number", "default"),
    "bootfs": ("BOOTFS", "string", "default"),
    "delegation": ("DELEGATION", ("on", "off"), "default"),
    "autoreplace": ("REPLACE", ("on", "off"), "default"),
    "cachefile": ("CACHEFILE", "string", "default"),
    "failmode": ("FAILMODE", ("wait", "continue", "panic"), "default"),
    "listsnapshots": ("LISTSNAPS", ("on", "off"), "default"),
    "autoexpand": ("EXPAND", ("on", "off"), "default"),
    "dedupratio": ("DEDUP", "number", "-"),
    "free": ("FREE", "number", "-"),
    "allocated": ("ALLOC", "number", "-"),
    "readonly": ("RO", ("on", "off"), "-"),
    "ashift": ("ASHIFT", "number", "local"),
    "comment": ("COMMENT", "string", "default"),
    "expandsize": ("EXPANDSZ", "number", "-"),
    "freeing": ("FREEING", "number", "-"),
    "fragmentation": ("FRAG", "number", "-"),
    "leaked": ("LEAKED", "number", "-"),
    "multihost": ("MULTIHOST", ("on", "off"), "default"),
    "checkpoint": ("CKPOINT", "number", "-"),
    "autotrim": ("AUTOTRIM", ("on", "off"), "default"),
    "compatibility": ("COMPATIBILITY", "string", "default"),
    "bcloneused": ("BCLONE_USED", "number", "-"),
    "bclonesaved": ("BCLONE_SAVED", "number", "-"),
    "bcloneratio": ("BCLONE_RATIO", "number", "-"),
}
GET_FIELDS = ("name", "property", "value", "source")
FIXED_VALUES = {
    "bootfs": "-",
    "delegation": "on",
    "autoreplace": "off",
    "cachefile": "-",
    "failmode": "wait",
    "listsnapshots": "off",
    "autoexpand": "off",
    "comment": "-",
    "freeing": "0",
    "leaked": "0",
    "multihost": "off",
    "compatibility": "off",
    "bcloneused": "0",
    "bclonesaved": "0",
}


def _get_value(values, prop, parsable):
    if prop in values:
        return values[prop]
    if prop == "bcloneratio":
        return "1.00" if parsable else "1.00x"
    return FIXED_VALUES[prop]


def _get_fields(text):
    fields = []
    for field in text.split(","):
        if field == "all":
            if fields:
                raise Usage("get", '"all" conflicts with specific fields given to -o option')
            return list(GET_FIELDS)
        if field not in GET_FIELDS:
            raise Usage("get", "invalid column name '%s'" % field)
        fields.append(field)
    return fields


def _get_props(text):
    if text == "all":
        return list(GET_PROPS)
    props = []
    for prop in text.split(","):
        if not prop:
            raise Usage("get", "bad property list: empty property name")
        prop = ALIASES.get(prop, prop)
        if prop not in GET_PROPS:
            raise Usage("get", "bad property list: invalid property '%s'" % prop)
        props.append(prop)
    return props


def _value_width(props, values_by_pool, parsable):
    """zpool get's VALUE column: the widest of each property's zprop_width and, where the width is
    not fixed (strings, or any property with -p), of its values."""
    width = len("VALUE")
    for prop in props:
        title, kind, _source = GET_PROPS[prop]
        if kind == "health":
            base = 8
        elif kind == "number":
            base = max(len(title), 5)
        elif isinstance(kind, tuple):
            base = max([len(title)] + [len(v) for v in kind])
        else:
            base = len(title)
        if kind == "string" or parsable:
            base = max([base] + [len(values[prop]) for values in values_by_pool])
        width = max(width, base)
    return width


def do_get(args):
    try:
        opts, rest = getopt.gnu_getopt(args, "Hpo:")
    except getopt.GetoptError as e:
        raise Usage("get", "invalid option '%s'" % e.opt) from None
    scripted = any(o == "-H" for o, _v in opts)
    parsable = any(o == "-p" for o, _v in opts)
    fields = list(GET_FIELDS)
    for o, v in opts:
        if o == "-o":
            fields = _get_fields(v)
    if not rest:
        raise Usage("get", "missing property argument")
    with zfsdb.db() as d:
        pools = rest[1:] or sorted(d.pools)
        if any(pool not in d.pools for pool in pools):
            raise Usage("get", "missing pool name.\n\n")
        props = _get_props(rest[0])
        values_by_pool = []
        for pool in pools:
            values = _pool_values(d, pool, parsable)
            values_by_pool.append({prop: _get_value(values, prop, parsable) for prop in props})
    rows = []
    for pool, values in zip(pools, values_by_pool, strict=True):
        for prop in props:
            cells = {"name": pool, "property": prop, "value": values[prop], "source": GET_PROPS[prop][2]}
            rows.append([cells[field] for field in fields])
    widths = {
        "name": max([4] + [len(pool) for pool in pools]),
        "property": max([8] + [len(prop) for prop in props]),
        "value": _value_width(props, values_by_pool, parsable),
        "source": 0,
    }
    lines = [] if scripted or not rows else [[field.upper() for field in fields]]
    out = []
    for cells in lines + rows:
        last = len(cells) - 1
        if scripted:
            out.append("\t".join(cells))
        else:
            out.append("".join(c if i == last else c.ljust(widths[fields[i]]) + "  " for i, c in enumerate(cells)))
    sys.stdout.write("".join(line + "\n" for line in out))
    return 0
