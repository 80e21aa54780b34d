"""_pveconfig answers every recorded golden case as Proxmox VE's own code did.

tests/golden/propstrings.jsonl and configs.jsonl hold requests and Proxmox's answers
(recorded by `make golden` from ../shared/pve-oracle; no Perl is needed here). For each case
_pveconfig parses, checks or prints the same input; a disagreement names the case id and
both outputs. Deliberate exceptions are data (pveconfig_golden_exceptions.json: case id ->
reason; none today); an exception that agrees again, or is not in the corpus, fails.

How the answers compare (PVE's form -> nexcage's):
- a parse that PVE refuses must raise ConfigError with the same first line and the same
  per-field errors; a parse PVE accepts is compared as typed values (PVE keeps strings,
  nexcage types them by the same schema), without the keys PVE's op adds itself
  (parse_volume: type, rootfs mp; parse_net: type, a random hwaddr);
- printing compares the text, or the refusal as for a parse;
- a config compares each value as written, description, lxc lines (PVE keeps
  lxc.environment.runtime apart as env), warnings, pending, snapshots and the digest;
  a roundtrip compares format_config's text with write_pct_config's.
"""

import json
import pathlib

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils import _pveconfig as C

REPO = pathlib.Path(__file__).resolve().parents[4]
GOLDEN = REPO / "tests" / "golden"
EXCEPTIONS_FILE = pathlib.Path(__file__).with_name("pveconfig_golden_exceptions.json")
EXCEPTIONS = json.loads(EXCEPTIONS_FILE.read_text(encoding="utf-8"))


def load(kind):
    path = GOLDEN / ("%s.jsonl" % kind)
    if not path.exists():
        pytest.skip("no %s (recorded by make golden)" % path.relative_to(REPO))
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _message(text):
    """PVE's message without the Perl location and the trailing newlines."""
    first = text.split("\n")[0]
    return first.split(" at /")[0].rstrip()


def _errors(errors):
    return {k: v.rstrip("\n") for k, v in (errors or {}).items()}


def _refusal(exc):
    return {"error": _message(str(exc)), "errors": _errors(exc.errors)}


def _pve_refusal(result):
    return {"error": _message(result["error"]), "errors": _errors(result.get("errors"))}


def _typed(key, fields):
    """PVE's parsed fields typed as nexcage types them (same schema, same views)."""
    fields = dict(fields)
    if isinstance(fields.get("idmap"), list):  # parse_volume splits it up
        fields["idmap"] = ";".join(":".join(entry) for entry in fields["idmap"])
    return C.typed_fields(key, fields)


def _ours(call):
    try:
        return {"value": call()}
    except C.ConfigError as exc:
        return _refusal(exc)


def answer_propstring(request, result):
    """(ours, theirs) in one comparable form for one propstrings case."""
    op = request["op"]
    if op in ("parse_prop", "parse_volume", "parse_net", "parse_features"):
        key = {"parse_net": "net0", "parse_features": "features"}.get(op, request.get("key"))
        ours = _ours(lambda: C.parse_property_string(key, request["value"]))
        if "error" in result:
            return ours, _pve_refusal(result)
        parsed = dict(result.get("parsed") or result.get("volume") or result.get("net") or result.get("features") or {})
        if op == "parse_volume":
            parsed.pop("type", None)
            if key == "rootfs":
                parsed.pop("mp", None)
        if op == "parse_net":
            given = C.split_list(request["value"].replace("=", " "))
            parsed.pop("type", None) if "type" not in given else None
            parsed.pop("hwaddr", None) if "hwaddr" not in given else None
        return ours, {"value": _typed(key, parsed)}
    if op in ("print_prop", "print_volume", "print_net"):
        key = "net0" if op == "print_net" else request["key"]
        fields = request.get("parsed") or request.get("volume") or request.get("net") or {}
        printer = C.print_volume if op == "print_volume" else C.print_property_string
        ours = _ours(lambda: printer(key, fields))
        if "error" in result:
            return ours, _pve_refusal(result)
        return ours, {"value": result["value"]}
    if op == "check_type":
        ours = _ours(lambda: C.check_type(request["key"], request["value"]))
        if "error" in result:
            return ours, _pve_refusal(result)
        return ours, {"value": str(result["value"])}
    raise AssertionError("unknown op %s" % op)


def _pve_section(section):
    return {
        k: str(v)
        for k, v in section.items()
        if k not in ("description", "lxc", "env", "pending", "snapshots", "digest", "snapstate")
    }


def _our_section(parsed, raw):
    lxc = [kv for kv in parsed.get("lxc") or [] if kv[0] != "lxc.environment.runtime"]
    out = {"values": dict(raw), "description": parsed.get("description"), "lxc": lxc, "env": parsed.get("env")}
    if parsed.get("snapstate"):
        out["snapstate"] = parsed["snapstate"]
    return out


def _their_section(section):
    out = {
        "values": _pve_section(section),
        "description": section.get("description"),
        "lxc": section.get("lxc") or [],
        "env": section.get("env"),
    }
    if section.get("snapstate"):
        out["snapstate"] = section["snapstate"]
    return out


def _warning(text):
    """PVE lists a format error's fields in hash order, with blank lines: compare them as a set."""
    first, _sep, rest = text.rstrip("\n").partition("\n")
    return [first] + sorted(line for line in rest.split("\n") if line)


def answer_config(request, result):
    op = request["op"]
    if op == "roundtrip":
        return {"raw": C.format_config(C.parse_config(request["raw"]))}, {"raw": result.get("raw", result.get("error"))}
    parsed = C.parse_config(request["raw"], vmid=request.get("vmid", 100))
    if request.get("strict"):
        try:
            C.parse_config(request["raw"], vmid=request.get("vmid", 100), strict=True)
            ours = {"error": None}
        except C.ConfigError as exc:
            ours = {"error": _warning(str(exc))}
        return ours, {"error": _warning(result["error"]) if "error" in result else None}
    conf = result["conf"]
    ours = {
        "main": _our_section(parsed, parsed["raw"][""]),
        "pending": _our_section(parsed["pending"], parsed["raw"].get("pve:pending", {})),
        "snapshots": {n: _our_section(s, parsed["raw"][n]) for n, s in parsed["snapshots"].items()},
        "digest": parsed["digest"],
        "warnings": [_warning(w) for w in parsed["warnings"]],
    }
    theirs = {
        "main": _their_section(conf),
        "pending": _their_section(conf["pending"]),
        "snapshots": {n: _their_section(s) for n, s in conf["snapshots"].items()},
        "digest": conf["digest"],
        "warnings": [_warning(w) for w in result.get("warnings") or []],
    }
    return ours, theirs


KIND_PREFIX = {"propstrings": "prop/", "configs": "config/"}


def _check(kind, answer):
    cases = load(kind)
    disagreements = []
    agreeing_exceptions = []
    for case in cases:
        ours, theirs = answer(case["request"], case["result"])
        if case["id"] in EXCEPTIONS:
            assert len(EXCEPTIONS[case["id"]]) > 20, "exception %s needs its reason" % case["id"]
            if ours == theirs:
                agreeing_exceptions.append(case["id"])
            continue
        if ours != theirs:
            disagreements.append(
                "%s %s\n  proxmox: %s\n  nexcage: %s"
                % (
                    case["id"],
                    json.dumps(case["request"], ensure_ascii=False)[:300],
                    json.dumps(theirs, ensure_ascii=False, default=str)[:600],
                    json.dumps(ours, ensure_ascii=False, default=str)[:600],
                )
            )
    assert not disagreements, "%d of %d cases disagree:\n%s" % (
        len(disagreements),
        len(cases),
        "\n".join(disagreements[:40]),
    )
    assert not agreeing_exceptions, "listed as exceptions but agree now (drop them): %s" % agreeing_exceptions
    ids = {case["id"] for case in cases}
    stale = [case_id for case_id in EXCEPTIONS if case_id.startswith(KIND_PREFIX[kind]) and case_id not in ids]
    assert not stale, "listed as exceptions but not in the corpus (drop them): %s" % stale
    return len(cases)


def test_property_strings_agree_with_proxmox():
    assert _check("propstrings", answer_propstring) > 0


def test_configs_agree_with_proxmox():
    assert _check("configs", answer_config) > 0
