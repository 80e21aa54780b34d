"""Simulated `zfs` (OpenZFS 2.x behaviour on the fake pool of pvesim.zfsdb).

Subcommands: list, get, set, inherit, create, destroy, snapshot, rollback,
mount, unmount (mount/unmount only list or toggle). No volumes (zvols), no
`zfs clone`/`rename`/`promote`/send/receive subcommands (clones and renames are made by
`pct template`/`pct clone` through pvesim.storage; `get origin` shows them). Errors print OpenZFS's text on
stderr and exit 1; usage errors print `usage:` and the subcommand's synopsis
and exit 2 (the property table OpenZFS appends is left out).
"""

import getopt
import sys

from pvesim import zfsdb

USAGE = {
    "list": "\tlist [-Hp] [-r|-d max] [-o property[,...]] [-s property]...\n"
    "\t    [-S property]... [-t type[,...]] [filesystem|volume|snapshot] ...",
    "get": '\tget [-rHp] [-d max] [-o "all" | field[,...]]\n'
    "\t    [-t type[,...]] [-s source[,...]]\n"
    '\t    <"all" | property[,...]> [filesystem|volume|snapshot|bookmark] ...',
    "set": "\tset <property=value> ... <filesystem|volume|snapshot> ...",
    "inherit": "\tinherit [-rS] <property> <filesystem|volume|snapshot> ...",
    "create": "\tcreate [-Pnpuv] [-o property=value] ... <filesystem>\n"
    "\tcreate [-Pnpsv] [-b blocksize] [-o property=value] ... -V <size> <volume>",
    "destroy": "\tdestroy [-fnpRrv] <filesystem|volume>\n"
    "\tdestroy [-dnpRrv] <filesystem|volume>@<snap>[%<snap>][,...]\n"
    "\tdestroy <filesystem|volume>#<bookmark>",
    "snapshot": "\tsnapshot [-r] [-o property=value] ... <filesystem|volume>@<snap> ...",
    "rollback": "\trollback [-rRf] <snapshot>",
    "mount": "\tmount [-j]\n\tmount [-flvO] [-o opts] <-a | filesystem>",
    "unmount": "\tunmount [-fu] <-a | filesystem|mountpoint>",
}
TYPES = ("filesystem", "volume", "snapshot", "bookmark", "all")
DEFAULT_LIST = ["name", "used", "available", "referenced", "mountpoint"]
MIN_WIDTH = {"referenced": 8}  # OpenZFS 2.x prints REFER 8 wide
INDEX_WIDTH = {p: max(len(v) for v in spec[2]) for p, spec in zfsdb.NATIVE.items() if isinstance(spec[2], tuple)}


class Usage(Exception):
    def __init__(self, sub, message=None):
        super().__init__(message)
        self.sub = sub
        self.message = message


def _out(text):
    sys.stdout.write(text)


def _err(text):
    sys.stderr.write(text if text.endswith("\n") else text + "\n")


def main(argv):
    if not argv:
        _err("usage: zfs command args ...\nwhere 'command' is one of the following:\n")
        for sub in USAGE.values():
            _err(sub)
        return 2
    sub, args = argv[0], argv[1:]
    aliases = {"umount": "unmount", "snap": "snapshot"}
    sub = aliases.get(sub, sub)
    handlers = {
        "list": do_list,
        "get": do_get,
        "set": do_set,
        "inherit": do_inherit,
        "create": do_create,
        "destroy": do_destroy,
        "snapshot": do_snapshot,
        "rollback": do_rollback,
        "mount": do_mount,
        "unmount": do_unmount,
    }
    if sub not in handlers:
        _err("unrecognized command '%s'" % sub)
        _err("usage: zfs command args ...")
        return 2
    try:
        return handlers[sub](args)
    except Usage as e:
        if e.message:
            _err(e.message)
        _err("usage:\n" + USAGE[e.sub] + "\n")
        return 2
    except zfsdb.ZfsError as e:
        _err(e.message)
        return e.rc


def _getopt(sub, args, spec):
    try:
        return getopt.gnu_getopt(args, spec)
    except getopt.GetoptError as e:
        if "requires argument" in e.msg:
            raise Usage(sub, "missing argument for '%s' option" % e.opt) from None
        raise Usage(sub, "invalid option '%s'" % e.opt) from None


def _prop_list(sub, text, allow_all=False, for_list=False):
    props = []
    for p in text.split(","):
        if not p:
            continue
        if p == "all" and allow_all:
            return ["all"]
        if p == "name" and for_list:
            props.append("name")
            continue
        c = zfsdb.canonical_prop(p)
        if zfsdb.is_user_prop(p):
            props.append(p)
        elif c in zfsdb.NATIVE or c in zfsdb.READONLY_SNAPSHOT_EXTRA or (c == "name" and for_list):
            props.append(c)
        else:
            raise Usage(sub, "bad property list: invalid property '%s'" % p)
    return props


def _types(sub, text):
    out = set()
    for t in text.split(","):
        if t in ("fs",):
            t = "filesystem"
        if t in ("snap",):
            t = "snapshot"
        if t in ("vol",):
            t = "volume"
        if t not in TYPES:
            raise Usage(sub, "invalid type '%s'" % t)
        if t == "all":
            out |= {"filesystem", "volume", "snapshot", "bookmark"}
        else:
            out.add(t)
    return out


def _sort_key(d, name):
    fs, _ignored, _snap = name.partition("@")
    return (fs, 1 if "@" in name else 0, d.datasets[name]["createtxg"])


def _select(d, names, recursive, depth, types, explicit_ok=True):
    """Datasets to show: names (or all pools) and, with -r/-d, their descendants."""
    out = []
    if not names:
        roots = sorted(d.pools)
        recursive = True if depth is None else recursive
    else:
        roots = names
    for root in roots:
        if root not in d.datasets:
            raise zfsdb.ZfsError("cannot open '%s': dataset does not exist" % root)
        rtype = d.datasets[root]["type"]
        if names and types == {"snapshot"} and rtype != "snapshot" and not recursive and depth is None:
            out.extend(d.snapshots(root))  # `zfs list -t snapshot fs`: the snapshots of fs
            continue
        if names and explicit_ok and not recursive and depth is None:
            # A dataset named on the command line is shown whatever -t says
            # only when no -t was given (types None).
            if types is None or rtype in types:
                out.append(root)
            continue
        wanted = types or {"filesystem", "volume"}
        if rtype in wanted:
            out.append(root)
        base_depth = root.count("/")
        for n in d.descendants(root) if "@" not in root else []:
            if n == root:
                continue
            level = n.split("@")[0].count("/") - base_depth + (1 if "@" in n else 0)
            if depth is not None and level > depth:
                continue
            if d.datasets[n]["type"] in wanted:
                out.append(n)
    seen = set()
    result = []
    for n in out:
        if n not in seen:
            seen.add(n)
            result.append(n)
    return result


def _is_right(prop):
    """OpenZFS right-aligns number and index columns, left-aligns strings."""
    if prop in ("name", "mountpoint", "type", "creation") or zfsdb.is_user_prop(prop):
        return False
    if prop in ("defer_destroy", "userrefs", "mounted") or prop in zfsdb.NUMERIC:
        return True
    spec = zfsdb.NATIVE.get(prop)
    return spec is not None and isinstance(spec[2], tuple)


def _column(prop):
    if prop == "name":
        return "NAME"
    if zfsdb.is_user_prop(prop):
        return prop.upper()
    return zfsdb.COLUMN_NAMES.get(prop, prop.upper())


def _table(header, rows, right, scripted, min_widths):
    if scripted:
        return "".join("\t".join(r) + "\n" for r in rows)
    widths = [max([len(h), min_widths[i]] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    lines = []
    for r in [header] + rows:
        cells = []
        for i, cell in enumerate(r):
            last = i == len(r) - 1
            if right[i]:
                cells.append(cell.rjust(widths[i]))
            elif last:
                cells.append(cell)
            else:
                cells.append(cell.ljust(widths[i]))
        lines.append("  ".join(cells) + "\n")
    return "".join(lines)


def do_list(args):
    opts, names = _getopt("list", args, "Hpro:t:d:s:S:")
    scripted = parsable = recursive = False
    props, types, depth, sorts = list(DEFAULT_LIST), None, None, []
    for o, v in opts:
        if o == "-H":
            scripted = True
        elif o == "-p":
            parsable = True
        elif o == "-r":
            recursive = True
        elif o == "-o":
            props = _prop_list("list", v, for_list=True)
        elif o == "-t":
            types = _types("list", v)
        elif o == "-d":
            if not v.isdigit():
                raise Usage("list", "invalid depth '%s'" % v)
            depth = int(v)
        elif o in ("-s", "-S"):
            prop = _prop_list("list", v, for_list=True)[0]
            sorts.append((prop, o == "-S"))
    with zfsdb.db() as d:
        selected = _select(d, names, recursive, depth, types)
        selected.sort(key=lambda n: _sort_key(d, n))
        for prop, reverse in reversed(sorts):
            selected.sort(key=lambda n, p=prop: _sort_value(d, n, p), reverse=reverse)
        rows = []
        for n in selected:
            row = []
            for p in props:
                if p == "name":
                    row.append(n)
                    continue
                value, _source = d.get(n, p)
                row.append(zfsdb.display(n, p, value, parsable))
            rows.append(row)
    if not rows:
        if not scripted:
            _err("no datasets available")
        return 0
    header = [_column(p) for p in props]
    right = [_is_right(p) for p in props]
    mins = [
        max(MIN_WIDTH.get(p, 0), 5 if _is_right(p) and p in zfsdb.NUMERIC else 0, INDEX_WIDTH.get(p, 0)) for p in props
    ]
    _out(_table(header, rows, right, scripted, mins))
    return 0


def _sort_value(d, name, prop):
    if prop == "name":
        return name
    value = d.get(name, prop)[0]
    if prop in zfsdb.NUMERIC and value not in (None, "-", "none"):
        try:
            return (0, float(value), "")
        except ValueError:
            pass
    return (1, 0, value or "")


SOURCES = ("local", "default", "inherited", "temporary", "received", "none")


def do_get(args):
    opts, rest = _getopt("get", args, "rHpo:t:s:d:")
    scripted = parsable = recursive = False
    fields = ["name", "property", "value", "source"]
    types, depth, sources = None, None, None
    for o, v in opts:
        if o == "-H":
            scripted = True
        elif o == "-p":
            parsable = True
        elif o == "-r":
            recursive = True
        elif o == "-d":
            if not v.isdigit():
                raise Usage("get", "invalid depth '%s'" % v)
            depth = int(v)
        elif o == "-o":
            fields = []
            for f in v.split(","):
                if f == "all":
                    fields = ["name", "property", "value", "received", "source"]
                    break
                if f not in ("name", "property", "value", "received", "source"):
                    raise Usage("get", "invalid field '%s'" % f)
                fields.append(f)
        elif o == "-t":
            types = _types("get", v)
        elif o == "-s":
            sources = set()
            for s in v.split(","):
                if s not in SOURCES:
                    raise Usage("get", "invalid source '%s'" % s)
                sources.add(s)
    if not rest:
        raise Usage("get", "missing property argument")
    props = _prop_list("get", rest[0], allow_all=True)
    names = rest[1:]
    with zfsdb.db() as d:
        if names:
            selected = _select(d, names, recursive, depth, types or {"filesystem", "volume", "snapshot"})
        else:
            selected = _select(d, [], True, depth, types or {"filesystem", "volume", "snapshot"})
            selected.sort(key=lambda n: _sort_key(d, n))
        rows = []
        for n in selected:
            ds = d.datasets[n]
            if props == ["all"]:
                plist = list(zfsdb.SNAPSHOT_PROPS) if ds["type"] == "snapshot" else list(zfsdb.NATIVE)
                plist += sorted(p for p in _user_props(d, n))
            else:
                plist = props
            for p in plist:
                value, source = d.get(n, p)
                if source is None:
                    if props == ["all"]:
                        continue
                    value, source = None, "-"
                kind = _source_kind(source)
                if sources is not None and kind not in sources:
                    continue
                row = []
                for f in fields:
                    if f == "name":
                        row.append(n)
                    elif f == "property":
                        row.append(p)
                    elif f == "value":
                        row.append(zfsdb.display(n, p, value, parsable) if value != "-" else "-")
                    elif f == "received":
                        row.append("-")
                    else:
                        row.append(source)
                rows.append(row)
    header = [f.upper() for f in fields]
    _out(_table(header, rows, [False] * len(fields), scripted, [0] * len(fields)))
    return 0


def _user_props(d, name):
    out = set()
    cur = name.split("@")[0]
    out |= {k for k in d.datasets[name]["props"] if zfsdb.is_user_prop(k)}
    while cur is not None:
        out |= {k for k in d.datasets[cur]["props"] if zfsdb.is_user_prop(k)}
        cur = d.parent_of(cur)
    return out


def _source_kind(source):
    if source == "-":
        return "none"
    if source.startswith("inherited"):
        return "inherited"
    return source


def _assignments(sub, items):
    out = []
    for item in items:
        if "=" not in item:
            raise Usage(sub, "missing '=' for property=value argument")
        k, v = item.split("=", 1)
        out.append((k, v))
    return out


def do_set(args):
    if args and args[0].startswith("-") and args[0] != "-":
        raise Usage("set", "invalid option '%s'" % args[0][1:2])
    if len(args) < 1:
        raise Usage("set", "missing arguments")
    assigns = [a for a in args if "=" in a]
    names = [a for a in args if "=" not in a]
    if not assigns:
        raise Usage("set", "missing property=value argument(s)")
    if not names:
        raise Usage("set", "missing dataset name(s)")
    pairs = _assignments("set", assigns)
    rc = 0
    for name in names:
        try:
            zfsdb.set_props(name, pairs)
        except zfsdb.ZfsError as e:
            _err(e.message)
            rc = 1
    return rc


def do_inherit(args):
    opts, rest = _getopt("inherit", args, "rS")
    recursive = any(o == "-r" for o, _ignored in opts)
    if not rest:
        raise Usage("inherit", "missing property argument")
    if len(rest) < 2:
        raise Usage("inherit", "missing dataset argument")
    prop = zfsdb.canonical_prop(rest[0])
    if not zfsdb.is_user_prop(prop) and prop not in zfsdb.NATIVE:
        raise Usage("inherit", "invalid property '%s'" % rest[0])
    zfsdb.inherit(prop, rest[1:], recursive=recursive)
    return 0


def do_create(args):
    opts, rest = _getopt("create", args, "po:V:sb:nPuv")
    parents = False
    props = {}
    for o, v in opts:
        if o == "-p":
            parents = True
        elif o == "-o":
            [(k, val)] = _assignments("create", [v])
            k = zfsdb.canonical_prop(k)
            if k in props:
                raise Usage("create", "property '%s' specified multiple times" % k)
            props[k] = val
        elif o == "-V":
            raise zfsdb.ZfsError("cannot create volumes: pvesim's fake ZFS has filesystems only")
    if not rest:
        raise Usage("create", "missing filesystem argument")
    if len(rest) > 1:
        raise Usage("create", "too many arguments")
    zfsdb.create(rest[0], props=props, parents=parents)
    return 0


def do_destroy(args):
    opts, rest = _getopt("destroy", args, "vpndfrR")
    flags = {o for o, _ignored in opts}
    if not rest:
        raise Usage("destroy", "missing dataset argument")
    if len(rest) > 1:
        raise Usage("destroy", "too many arguments")
    out = zfsdb.destroy(
        rest[0],
        recursive=bool(flags & {"-r", "-R"}),
        dry_run="-n" in flags,
        verbose=bool(flags & {"-v", "-p"}),
    )
    if "-p" in flags:
        out = "".join(
            "destroy\t%s\n" % line.split(" ", 2)[2] if line.startswith(("would destroy", "will destroy")) else ""
            for line in out.splitlines()
        )
    _out(out)
    return 0


def do_snapshot(args):
    opts, rest = _getopt("snapshot", args, "ro:")
    recursive = False
    props = {}
    for o, v in opts:
        if o == "-r":
            recursive = True
        elif o == "-o":
            [(k, val)] = _assignments("snapshot", [v])
            props[k] = val
    if not rest:
        raise Usage("snapshot", "missing snapshot argument")
    zfsdb.snapshot(rest, recursive=recursive, props=props)
    return 0


def do_rollback(args):
    opts, rest = _getopt("rollback", args, "rRf")
    if not rest:
        raise Usage("rollback", "missing dataset argument")
    if len(rest) > 1:
        raise Usage("rollback", "too many arguments")
    zfsdb.rollback(rest[0], recursive=any(o in ("-r", "-R") for o, _ignored in opts))
    return 0


def do_mount(args):
    opts, rest = _getopt("mount", args, "ajflvOo:")
    if not rest and not opts:
        with zfsdb.db() as d:
            for n in sorted(d.datasets):
                if d.datasets[n].get("mounted"):
                    _out("%-*s  %s\n" % (0, n, d.mountpoint(n)[0]))
        return 0
    if any(o == "-a" for o, _ignored in opts):
        return 0
    name = rest[0]
    with zfsdb.db() as d:
        d.require(name)
        if d.datasets[name].get("mounted"):
            raise zfsdb.ZfsError("cannot mount '%s': filesystem already mounted" % name)
        before = {name: None}
        if not d.should_mount(name):
            raise zfsdb.ZfsError("cannot mount '%s': 'canmount' property is set to 'off'" % name)
        d.apply_mounts(before)
    return 0


def do_unmount(args):
    opts, rest = _getopt("unmount", args, "afu")
    if any(o == "-a" for o, _ignored in opts) or not rest:
        if not rest and not any(o == "-a" for o, _ignored in opts):
            raise Usage("unmount", "missing filesystem argument")
        return 0
    name = rest[0]
    with zfsdb.db() as d:
        d.require(name)
        ds = d.datasets[name]
        if not ds.get("mounted"):
            raise zfsdb.ZfsError("cannot unmount '%s': not currently mounted" % name)
        if d.busy(name) and not any(o == "-f" for o, _ignored in opts):
            raise zfsdb.ZfsError("cannot unmount '%s': pool or dataset is busy" % d.mountpoint(name)[0])
        zfsdb._move_tree(d.real(d.mountpoint(name)[0]), d.stash(name))
        ds["mounted"] = False
        d.dirty = True
    return 0
