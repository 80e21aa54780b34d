"""Simulated `pvesm` (pve-cli-facts §6): status, list, path.

Also home of `dispatch()`, the PVE CLIHandler subcommand lookup shared by the
storage-side tools (unique-prefix abbreviations, `ERROR: unknown command`).
"""

import sys

from pvesim import cli, storage


def dispatch(tool, argv, commands):
    """Run the subcommand named by argv[0]; commands = {name: (handler(args), usage)}."""
    name = argv[0] if argv else None
    if name in commands:
        chosen = name
    else:
        matches = [c for c in commands if name and c.startswith(name)]
        chosen = matches[0] if len(matches) == 1 else None
    if chosen is None:
        err = ""
        if name is not None:
            err += "ERROR: unknown command '%s %s'\n" % (tool, name)
        err += "USAGE: %s <COMMAND> [ARGS] [OPTIONS]\n\n" % tool
        for c in sorted(commands):
            err += "       %s\n" % commands[c][1]
        sys.stdout.flush()
        sys.stderr.write(err)
        return 255
    return commands[chosen][0](argv[1:])


# ---------------------------------------------------------------- status

STATUS_USAGE = "pvesm status [OPTIONS]"
STATUS_SPEC = {
    "storage": cli.Opt(),
    "content": cli.Opt(),
    "enabled": cli.Opt("boolean"),
    "target": cli.Opt(),
    "format": cli.Opt("boolean"),
}


def cmd_status(args):
    _pos, raw = cli.parse_args(args, STATUS_SPEC, 0, STATUS_USAGE)
    opts, errors = cli.check_types(raw, STATUS_SPEC)
    if errors:
        raise cli.ParamError(errors, STATUS_USAGE)
    cfg = storage.storages()
    if opts.get("storage") and opts["storage"] not in cfg:
        raise cli.ParamError({"storage": "No such storage."}, STATUS_USAGE)
    rows = []
    for sid in sorted(cfg):
        scfg = cfg[sid]
        if opts.get("storage") and sid != opts["storage"]:
            continue
        if opts.get("content") and not set(opts["content"].split(",")) & scfg["content"]:
            continue
        if opts.get("enabled") and scfg.get("disable"):
            continue
        state, total, used, avail, warning = storage.status(sid, scfg)
        if warning:
            sys.stderr.write(warning + "\n")
        rows.append((sid, scfg["type"], state, total, used, avail))
    width = max([len(r[0]) for r in rows] + [0]) + 1
    out = "%-*s %10s %10s %15s %15s %15s %8s\n" % (
        width,
        "Name",
        "Type",
        "Status",
        "Total (KiB)",
        "Used (KiB)",
        "Available (KiB)",
        "%",
    )
    for sid, stype, state, total, used, avail in rows:
        per = "%8s" % "N/A" if state == "disabled" else "% 7.2f%%" % (used * 100.0 / total if total > 0 else 0)
        out += "%-*s %10s %10s %15d %15d %15d %s\n" % (
            width,
            sid,
            stype,
            state,
            total // 1024,
            used // 1024,
            avail // 1024,
            per,
        )
    sys.stdout.write(out)
    return 0


# ---------------------------------------------------------------- list

LIST_USAGE = "pvesm list <storage> [OPTIONS]"
LIST_SPEC = {"content": cli.Opt(), "vmid": cli.Opt("integer", minimum=100, maximum=999999999)}


def format_content(volumes):
    """pvesm.pm $print_content: owned volumes first (sorted by volid), then the rest by format."""
    maxname = max([len(v["volid"]) for v in volumes] + [0])
    maxsize = max([v["size"] or 0 for v in volumes] + [0])
    sizew = len(str(maxsize))
    base = "%%-%ds %%-7s %%-9s %%%ds" % (maxname, sizew)
    out = (base + " %s\n") % ("Volid", "Format", "Type", "Size", "VMID")
    for v in volumes:
        if v["vmid"]:
            out += (base + " %d\n") % (v["volid"], v["format"], v["content"], v["size"], v["vmid"])
    for v in sorted((v for v in volumes if not v["vmid"]), key=lambda v: v["format"]):
        out += (base + "\n") % (v["volid"], v["format"], v["content"], v["size"])
    return out


def cmd_list(args):
    pos, raw = cli.parse_args(args, LIST_SPEC, 1, LIST_USAGE)
    opts, errors = cli.check_types(raw, LIST_SPEC)
    if errors:
        raise cli.ParamError(errors, LIST_USAGE)
    sid = pos[0]
    scfg = storage.get_storage(sid)
    if scfg.get("disable"):
        raise cli.PveError("storage '%s' is disabled" % sid)
    volumes = storage.list_content(sid, content=opts.get("content"), vmid=opts.get("vmid"))
    sys.stdout.write(format_content(volumes))
    return 0


# ---------------------------------------------------------------- path

PATH_USAGE = "pvesm path <volume>"


def cmd_path(args):
    pos, _raw = cli.parse_args(args, {}, 1, PATH_USAGE)
    print(storage.volume_path(pos[0]))
    return 0


COMMANDS = {
    "status": (cmd_status, STATUS_USAGE),
    "list": (cmd_list, LIST_USAGE),
    "path": (cmd_path, PATH_USAGE),
}


def main(argv):
    return dispatch("pvesm", argv, COMMANDS)
