"""Simulated `pvesh` (pve-cli-facts §5, §9): `get` of a few API paths.

Paths: /cluster/nextid [--vmid N], /nodes/<node>/lxc,
/nodes/<node>/lxc/<vmid>/status/current (node: `localhost` or this node's
name). Formats: json (compact, sorted keys), json-pretty (Perl JSON's
pretty+canonical: 3-space indent, `"key" : value`), yaml, and text (a
bordered table like CLIFormatter's; its exact column choice is approximate).
Anything else: `No '<cmd>' handler defined for '<path>'`, exit 1.
"""

import json
import os
import re
import sys

from pvesim import cli, node

GET_USAGE = "pvesh get <api_path> [OPTIONS] [FORMAT_OPTIONS]"
FORMATS = ("json", "json-pretty", "text", "yaml")
FORMAT_OPTS = {"output-format": "string", "noborder": "boolean", "noheader": "boolean", "human-readable": "boolean"}
VMID_RE = re.compile(r"[1-9][0-9]{2,8}")


def _parse(args):
    """pvesh's own option parsing: path, then --key value pairs (booleans may be bare)."""
    pos, opts = [], {}
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("-") and len(a) > 1 and not re.fullmatch(r"-\d+", a):
            name = a.lstrip("-")
            value = None
            if "=" in name:
                name, value = name.split("=", 1)
            if value is None:
                if FORMAT_OPTS.get(name) == "boolean":
                    if i + 1 < len(args) and args[i + 1].lower() in cli.BOOL_TRUE + cli.BOOL_FALSE:
                        i += 1
                        value = args[i]
                    else:
                        value = "1"
                elif i + 1 < len(args):
                    i += 1
                    value = args[i]
                else:
                    raise cli.UsageError(
                        "400 unable to parse option", GET_USAGE, prefix="Option %s requires an argument" % name
                    )
            opts[name] = value
        else:
            pos.append(a)
        i += 1
    return pos, opts


def _check_vmid(value, errors, key="vmid"):
    if not re.fullmatch(r"[+-]?\d+", value):
        errors[key] = "type check ('integer') failed - got '%s'" % value
        return None
    if not VMID_RE.fullmatch(value.lstrip("+")):
        errors[key] = "invalid format - value does not look like a valid VM ID\n"
        return None
    return int(value)


def _check_node(name):
    if name not in ("localhost", node.node_name()):
        raise cli.PveError(
            "hostname lookup '%s' failed - failed to get address info for: %s: Name or service not known" % (name, name)
        )


def _next_id_range():
    lower, upper = 100, 1000000
    try:
        with open(os.path.join(node.ETC_PVE, "datacenter.cfg"), encoding="utf-8") as f:
            for line in f:
                m = re.match(r"^next-id:\s*(.*)$", line.strip())
                if m:
                    for part in m.group(1).split(","):
                        k, _ignored, v = part.partition("=")
                        if k.strip() == "lower" and v.strip().isdigit():
                            lower = int(v)
                        elif k.strip() == "upper" and v.strip().isdigit():
                            upper = int(v)
    except FileNotFoundError:
        pass
    return lower, upper


def get_nextid(params):
    errors = {}
    used = node.read_vmlist()
    if "vmid" in params:
        vmid = _check_vmid(params["vmid"], errors)
        if errors:
            raise cli.ParamError(errors, GET_USAGE)
        if str(vmid) in used:
            raise cli.ParamError({"vmid": "VM %d already exists" % vmid}, GET_USAGE)
        return vmid
    lower, upper = _next_id_range()
    for vmid in range(lower, upper):
        if str(vmid) not in used:
            return vmid
    raise cli.PveError("unable to get any free VMID in range [%d, %d]" % (lower, upper))


def get_lxc_list(_params):
    from pvesim import ctstatus

    return [ctstatus.vmstatus(vmid) for vmid in ctstatus.local_vmids()]


def get_lxc_status(vmid):
    from pvesim import ctstatus

    status = ctstatus.vmstatus(vmid)
    status["ha"] = {"managed": 0}
    return status


# ---------------------------------------------------------------- output


def _perl_pretty(value, indent=0):
    pad = "   " * (indent + 1)
    end = "   " * indent
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = ["%s%s : %s" % (pad, json.dumps(k), _perl_pretty(value[k], indent + 1)) for k in sorted(value)]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(pad + _perl_pretty(v, indent + 1) for v in value) + "\n" + end + "]"
    return json.dumps(value)


def _yaml(value, indent=0):
    pad = "  " * indent
    if isinstance(value, dict):
        out = ""
        for k in sorted(value):
            v = value[k]
            if isinstance(v, (dict, list)) and v:
                out += "%s%s:\n%s" % (pad, k, _yaml(v, indent + 1))
            else:
                out += "%s%s: %s\n" % (pad, k, _yaml_scalar(v))
        return out
    if isinstance(value, list):
        out = ""
        for v in value:
            if isinstance(v, dict) and v:
                body = _yaml(v, indent + 1)
                out += "%s- %s" % (pad, body.lstrip())
            else:
                out += "%s- %s\n" % (pad, _yaml_scalar(v))
        return out or "%s[]\n" % pad
    return "%s%s\n" % (pad, _yaml_scalar(value))


def _yaml_scalar(v):
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, list):
        return "[]"
    return str(v)


def _text_cell(v):
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True, separators=(",", ":"))
    return "" if v is None else str(v)


def _text_table(header, rows, border, noheader):
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    if not border:
        lines = [] if noheader else [" ".join(h.ljust(widths[i]) for i, h in enumerate(header)).rstrip()]
        lines += [" ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]
        return "".join(line + "\n" for line in lines)

    def rule(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + right + "\n"

    def line(cells):
        return "│" + "│".join(" %s " % c.ljust(widths[i]) for i, c in enumerate(cells)) + "│\n"

    out = rule("┌", "┬", "┐", "─")
    if not noheader:
        out += line(header) + rule("╞", "╪", "╡", "═")
    for i, r in enumerate(rows):
        if i:
            out += rule("├", "┼", "┤", "─")
        out += line(r)
    return out + rule("└", "┴", "┘", "─")


def render(data, fmt, border=True, noheader=False):
    if fmt == "json":
        return json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n"
    if fmt == "json-pretty":
        return _perl_pretty(data) + "\n"
    if fmt == "yaml":
        return "---\n" + _yaml(data)
    if isinstance(data, list):
        if not data:
            return ""
        keys = sorted({k for row in data for k in row})
        if "vmid" in keys:
            keys.remove("vmid")
            keys.insert(0, "vmid")
        rows = [[_text_cell(row.get(k)) for k in keys] for row in sorted(data, key=lambda r: str(r.get("vmid", "")))]
        return _text_table(keys, rows, border, noheader)
    if isinstance(data, dict):
        rows = [[k, _text_cell(data[k])] for k in sorted(data)]
        return _text_table(["key", "value"], rows, border, noheader)
    return "%s\n" % data


# ---------------------------------------------------------------- get


def cmd_get(args):
    pos, opts = _parse(args)
    if not pos:
        raise cli.UsageError("400 not enough arguments", GET_USAGE)
    if len(pos) > 1:
        raise cli.UsageError("400 too many arguments", GET_USAGE)
    path = "/" + pos[0].strip("/")
    fmt = opts.pop("output-format", "text")
    errors = {}
    if fmt not in FORMATS:
        errors["output-format"] = "value '%s' does not have a value in the enumeration '%s'" % (fmt, ", ".join(FORMATS))
    border = True
    noheader = False
    for k in ("noborder", "noheader", "human-readable"):
        if k in opts:
            v = opts.pop(k)
            if v.lower() not in cli.BOOL_TRUE + cli.BOOL_FALSE:
                raise cli.UsageError("400 unable to parse boolean option", GET_USAGE)
            if k == "noborder":
                border = v.lower() not in cli.BOOL_TRUE
            elif k == "noheader":
                noheader = v.lower() in cli.BOOL_TRUE
    parts = path.strip("/").split("/") if path != "/" else []
    handler = None
    allowed = set()
    if parts == ["cluster", "nextid"]:
        handler, allowed = get_nextid, {"vmid"}
    elif len(parts) == 3 and parts[0] == "nodes" and parts[2] == "lxc":
        handler = get_lxc_list
    elif len(parts) == 6 and parts[0] == "nodes" and parts[2] == "lxc" and parts[4:] == ["status", "current"]:
        vmid = _check_vmid(parts[3], errors)

        def handler(_params, vmid=vmid):
            return get_lxc_status(vmid)

    if handler is None:
        raise cli.PveError("No 'get' handler defined for '%s'" % path, rc=1)
    for k in opts:
        if k not in allowed:
            errors[k] = "property is not defined in schema and the schema does not allow additional properties"
    if errors:
        raise cli.ParamError(errors, GET_USAGE)
    if parts[0] == "nodes":
        _check_node(parts[1])
    data = handler(opts)
    sys.stdout.write(render(data, fmt, border, noheader))
    return 0


def main(argv):
    if not argv:
        sys.stderr.write("USAGE: pvesh <COMMAND> [ARGS] [OPTIONS]\n")
        return 255
    cmd = argv[0]
    if cmd == "get":
        return cmd_get(argv[1:])
    if cmd in ("create", "set", "delete"):
        pos, _opts = _parse(argv[1:])
        path = "/" + pos[0].strip("/") if pos else "/"
        raise cli.PveError("No '%s' handler defined for '%s'" % (cmd, path), rc=1)
    raise cli.UsageError(
        "ERROR: unknown command 'pvesh %s'" % cmd, "USAGE: pvesh <COMMAND> [ARGS] [OPTIONS]", prefix=None
    )
