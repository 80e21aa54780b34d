"""The simulated node answers every golden case as Proxmox VE's own code did (tests/golden/*.jsonl).

- pct: the simulated `pct` (set, create, config, pending) runs every case against a node dir
  (one `pvesim run` for all of them, see pvesim_runner.py): rc, stdout, stderr and the config
  files written must be Proxmox's.
- validate, propstrings, configs: pvesim's own schema checks, property-string parser/printer
  and config parser/writer (pvesim.ctconfig, pvesim.tools.pct.validate), in this process.

A disagreement names the case id and both outputs. Deliberate exceptions (what the simulator
cannot do, e.g. storage back ends it lacks) are listed case by case in pvesim_exceptions.json
and explained in tests/pvesim/README.md; an exception that agrees again fails, so the list
stays honest. No Perl is needed: the corpus is recorded by `make golden`.
"""

import functools
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import corpus  # noqa: E402

PVESIM = os.path.join(os.path.dirname(HERE), "pvesim", "bin", "pvesim")
RUNNER = os.path.join(HERE, "pvesim_runner.py")

with open(os.path.join(HERE, "pvesim_exceptions.json"), encoding="utf-8") as _f:
    EXCEPTIONS = json.load(_f)

SECOND_BRIDGE = "\nauto vmbr1\niface vmbr1 inet manual\n\tbridge-ports none\n\tbridge-stp off\n\tbridge-fd 0\n"
NOT_ROOT = "pvesim needs root (mount namespaces) to run the golden pct cases"


def _sim():
    from pvesim import ctconfig  # tests/pvesim is on sys.path (tests/conftest.py)
    from pvesim.tools import pct

    return ctconfig, pct


@functools.cache
def _cases(kind):
    return corpus.load(kind)


# ---------------------------------------------------------------- pct cases through the simulator


@pytest.fixture(scope="module")
def pct_answers(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip(NOT_ROOT)
    root = str(tmp_path_factory.mktemp("golden") / "node")
    subprocess.run([PVESIM, "init", root], check=True, capture_output=True, timeout=120)
    with open(os.path.join(root, "etc", "network", "interfaces"), "a", encoding="utf-8") as f:
        f.write(SECOND_BRIDGE)  # the recording's network namespace had vmbr0 and vmbr1
    base_sets = corpus.bases()
    lines = "".join(
        json.dumps({"id": c["id"], "args": c["args"], "files": corpus.case_files(c, base_sets)}) + "\n"
        for c in _cases("pct")
    )
    with open(os.path.join(HERE, "meta.json"), encoding="utf-8") as f:
        recorded_on = json.load(f)
    # cpuunits are clamped by the cgroup mode of the host: the one the corpus was recorded on.
    env = dict(os.environ, PVESIM_RUNTIME="sim", PVESIM_CGROUP_MODE=str(recorded_on["cgroup_mode"]))
    env.update(LANG="C", PYTHONCOERCECLOCALE="0")  # as recorded; Python must not turn C into C.UTF-8
    env.pop("LC_ALL", None)
    env.pop("LC_CTYPE", None)
    proc = subprocess.run(
        [PVESIM, "run", "--root", root, "--", sys.executable, "-S", RUNNER],
        input=lines,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    answers = {}
    for line in proc.stdout.splitlines():
        res = json.loads(line)
        answers[res.pop("id")] = res
    assert proc.returncode == 0, proc.stderr[-3000:]
    return answers, base_sets


def pct_outputs(case, answer, base_sets):
    given = corpus.given_macs(case)
    exp = dict(case["result"])
    got = {
        "rc": answer["rc"],
        "stdout": corpus.mask_random_macs(answer["stdout"], given),
        "stderr": corpus.mask_random_macs(answer["stderr"], given),
        "files": corpus.changed_files(corpus.case_files(case, base_sets), answer["files"], given),
    }
    exp["stderr"] = corpus.comparable_stderr(exp["stderr"])
    got["stderr"] = corpus.comparable_stderr(got["stderr"])
    if exp["rc"] == 255 and got["rc"] not in (0, "exception"):
        # The oracle's child exits 255 on every die; real pct exits with Perl's die rule (errno,
        # else 255), which the simulator follows (pve-cli-facts §1): compare failure as failure.
        got["rc"] = 255
    return exp, got


# ---------------------------------------------------------------- in-process adapters


def _text(value):
    """Perl's JSON gives numbers or strings depending on use; compare the printed form."""
    if isinstance(value, dict):
        return {k: _text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text(v) for v in value]
    return None if value is None else str(value)


def _error(message, errors=None):
    lines = sorted(message.splitlines())
    return {"error": lines}


def _oracle_view(result):
    if "error" in result:
        return _error(result["error"])
    return _text(result)


PROP_DESCS = {
    "net0": "NET_DESC",
    "rootfs": "ROOTFS_DESC",
    "mp0": "MP_DESC",
    "features": "FEATURES_DESC",
    "dev0": "DEV_DESC",
    "unused0": "UNUSED_DESC",
}


def sim_propstring(req):
    ctconfig, _pct = _sim()
    op = req["op"]
    try:
        if op == "parse_prop":
            return {"parsed": ctconfig.parse_property_string(getattr(ctconfig, PROP_DESCS[req["key"]]), req["value"])}
        if op == "print_prop":
            return {"value": ctconfig.print_property_string(req["parsed"], getattr(ctconfig, PROP_DESCS[req["key"]]))}
        if op == "parse_volume":
            return {"volume": ctconfig.parse_volume(req["key"], req["value"])}
        if op == "print_volume":
            return {"value": ctconfig.print_mountpoint(req["volume"], req["key"] == "rootfs")}
        if op == "parse_net":
            net = ctconfig.parse_lxc_network(req["value"])
            return {"net": net}
        if op == "print_net":
            return {"value": ctconfig.print_net(req["net"])}
        if op == "parse_features":
            return {"features": ctconfig.parse_features(req["value"])}
        if op == "check_type":
            return {"value": ctconfig.check_type(req["key"], req["value"])}
    except ctconfig.FormatError as e:
        return {"error": e.message}
    raise AssertionError("unknown op %s" % op)


def propstring_outputs(case):
    exp = _oracle_view(case["result"])
    got = _oracle_view(sim_propstring(case["request"]))
    if case["request"]["op"] == "parse_net" and "hwaddr=" not in case["request"]["value"]:
        for view in (exp, got):
            if "net" in view:
                view["net"]["hwaddr"] = "@MAC@"  # random (seeded in Perl, not reproducible in Python)
    return exp, got


def sim_config(req):
    ctconfig, _pct = _sim()
    warnings = []
    conf = ctconfig.parse_conf(req["raw"], req.get("vmid", 100), warnings.append)
    if req.get("strict") and warnings:
        return {"error": warnings[0]}
    res = {"conf": conf} if req["op"] == "parse_config" else {"raw": ctconfig.conf_text(conf)}
    if warnings:
        res["warnings"] = warnings
    return res


def config_outputs(case):
    exp, got = case["result"], sim_config(case["request"])
    if "error" in exp:
        return _oracle_view(exp), _oracle_view(got)
    exp, got = _text(exp), _text(got)
    for view in (exp, got):  # a warning listing several key errors lists them in hash order
        view["warnings"] = [sorted(w.split("\n")) for w in view.get("warnings") or []]
    return exp, got


def sim_validate(req):
    """Schema checks as the simulated pct runs them (None: a parameter the pct CLI has no option for)."""
    ctconfig, pct = _sim()
    params = dict(req["params"])
    schema = pct.CREATE_SCHEMA if req["op"] == "validate_create" else pct.SET_SCHEMA
    params.pop("node", None)
    errors = {}
    vmid = params.pop("vmid")
    errors.update(ctconfig.check_value(pct.VMID_PROP, str(vmid), "vmid")[1])
    if req["op"] == "validate_create":
        ostemplate = params.pop("ostemplate")
        if len(ostemplate) > 255:
            errors["ostemplate"] = "value may only be 255 characters long"
    if any(k not in schema for k in params):
        return None
    pct.validate(params, schema, errors)
    return {"errors": errors} if errors else {"ok": 1}


def validate_outputs(case):
    got = sim_validate(case["request"])
    if got is None:
        return None
    exp = case["result"]
    exp = {"errors": exp["errors"]} if "errors" in exp else ({"ok": 1} if exp.get("ok") else exp)
    return _errors_view(exp), _errors_view(got)


def _errors_view(res):
    """Nested property-string errors come in hash order: compare each message as sorted lines."""
    if "errors" not in res:
        return res
    return {"errors": {k: sorted(v.split("\n")) for k, v in res["errors"].items()}}


# ---------------------------------------------------------------- the tests


def _groups(kind):
    return sorted({c["id"].rsplit("/", 1)[0] for c in _cases(kind)})


def _report(disagreements, total):
    lines = ["%d of %d golden cases disagree (first 15 shown):" % (len(disagreements), total)]
    for case_id, exp, got in disagreements[:15]:
        lines.append(
            "- %s\n  proxmox: %s\n  pvesim:  %s"
            % (case_id, json.dumps(exp, ensure_ascii=False), json.dumps(got, ensure_ascii=False))
        )
    return "\n".join(lines)


def check_cases(cases, outputs):
    disagreements, stale, total = [], [], 0
    for case in cases:
        pair = outputs(case)
        if pair is None:
            continue
        total += 1
        exp, got = pair
        if case["id"] in EXCEPTIONS:
            if exp == got:
                stale.append(case["id"])
            continue
        if exp != got:
            disagreements.append((case["id"], exp, got))
    assert not stale, "listed as deliberate exceptions but now agree (remove them): %s" % stale
    assert not disagreements, _report(disagreements, total)
    assert total, "no case compared"


@pytest.mark.parametrize("group", _groups("pct"))
def test_pct(group, pct_answers):
    answers, base_sets = pct_answers
    cases = [c for c in _cases("pct") if c["id"].startswith(group + "/")]
    check_cases(cases, lambda c: pct_outputs(c, answers[c["id"]], base_sets))


@pytest.mark.parametrize("group", _groups("propstrings"))
def test_propstrings(group):
    cases = [c for c in _cases("propstrings") if c["id"].startswith(group + "/")]
    check_cases(cases, propstring_outputs)


@pytest.mark.parametrize("group", _groups("configs"))
def test_configs(group):
    cases = [c for c in _cases("configs") if c["id"].startswith(group + "/")]
    check_cases(cases, config_outputs)


@pytest.mark.parametrize("group", _groups("validate"))
def test_validate(group):
    cases = [c for c in _cases("validate") if c["id"].startswith(group + "/")]
    check_cases(cases, validate_outputs)


def test_exceptions_name_real_cases():
    ids = {c["id"] for kind in corpus.KINDS for c in _cases(kind)}
    assert sorted(set(EXCEPTIONS) - ids) == []
    assert all(reason.strip() for reason in EXCEPTIONS.values())
