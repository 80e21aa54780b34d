"""The project's config.json schema against the upstream runtime-spec schema (oracle), and the semantic checks."""

import copy
import json
import os
import pathlib

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import checks, schema
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import config as oci_config
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import problems as oci_problems
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.defaults import default_config

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed in this Python")

REPO = pathlib.Path(__file__).resolve().parents[4]
UPSTREAM = (REPO / ".." / "shared" / "oci-runtime-spec").resolve()
needs_upstream = pytest.mark.skipif(
    not UPSTREAM.is_dir(),
    reason="upstream runtime-spec schemas not found at %s (../shared/oci-runtime-spec)" % UPSTREAM,
)


@pytest.fixture(scope="module")
def upstream():
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    registry = Registry().with_resources(
        (p.name, Resource.from_contents(json.loads(p.read_text()), default_specification=DRAFT4))
        for p in UPSTREAM.glob("*.json")
    )
    return jsonschema.Draft4Validator(json.loads((UPSTREAM / "config-schema.json").read_text()), registry=registry)


MINE = jsonschema.Draft4Validator(schema.CONFIG_SCHEMA)


def fixtures(kind):
    if not UPSTREAM.is_dir():
        return []
    return sorted((UPSTREAM / "test" / "config" / kind).glob("*.json"), key=lambda p: p.name)


def _load(path):
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def test_schema_is_a_valid_draft4_schema():
    jsonschema.Draft4Validator.check_schema(schema.CONFIG_SCHEMA)


def test_schema_has_no_external_refs():
    refs = []

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema.CONFIG_SCHEMA)
    assert refs and all(r.startswith("#/definitions/") for r in refs)


@needs_upstream
def test_upstream_fixture_sets_are_not_empty():
    assert len(fixtures("good")) >= 5
    assert len(fixtures("bad")) >= 4


@needs_upstream
@pytest.mark.parametrize("path", fixtures("good"), ids=lambda p: "good/" + p.name)
def test_agrees_with_upstream_on_good_fixture(upstream, path):
    doc = _load(path)
    assert doc is not None
    assert upstream.is_valid(doc) is True
    assert MINE.is_valid(doc) is True


@needs_upstream
@pytest.mark.parametrize("path", fixtures("bad"), ids=lambda p: "bad/" + p.name)
def test_agrees_with_upstream_on_bad_fixture(upstream, path):
    doc = _load(path)
    if doc is None:
        # invalid-json.json: neither schema can even be applied; the bundle loader reports it
        problems = oci_config.load_config_text(path.read_text())[1]
        assert [p["check"] for p in problems] == ["load"]
        return
    assert upstream.is_valid(doc) is False
    assert MINE.is_valid(doc) is False
    assert checks.schema_problems(doc)


@needs_upstream
@pytest.mark.parametrize("name", ["runc-spec-default.json", "runc-spec-rootless.json"])
def test_agrees_on_runc_examples(upstream, name):
    doc = json.loads((UPSTREAM / "examples" / name).read_text())
    assert upstream.is_valid(doc) and MINE.is_valid(doc)


def _base():
    return json.loads((UPSTREAM / "examples" / "runc-spec-default.json").read_text())


# The mutations of oci-facts §3 plus a few more; each must get the same verdict from both schemas.
MUTATIONS = {
    "drop ociVersion": lambda c: c.pop("ociVersion"),
    "ociVersion banana": lambda c: c.update(ociVersion="banana"),
    "drop root": lambda c: c.pop("root"),
    "drop root.path": lambda c: c["root"].pop("path"),
    "drop cwd": lambda c: c["process"].pop("cwd"),
    "relative cwd": lambda c: c["process"].update(cwd="tmp"),
    "empty args": lambda c: c["process"].update(args=[]),
    "drop user": lambda c: c["process"].pop("user"),
    "uid -1": lambda c: c["process"]["user"].update(uid=-1),
    "uid too big": lambda c: c["process"]["user"].update(uid=4294967296),
    "env no equals": lambda c: c["process"]["env"].append("NOEQUALS"),
    "env not string": lambda c: c["process"]["env"].append(5),
    "rlimit without soft": lambda c: c["process"]["rlimits"][0].pop("soft"),
    "rlimit bogus type": lambda c: c["process"]["rlimits"][0].update(type="RLIMIT_BOGUS"),
    "rlimit lowercase type": lambda c: c["process"]["rlimits"][0].update(type="nofile"),
    "cap bogus": lambda c: c["process"]["capabilities"]["bounding"].append("CAP_BOGUS"),
    "mount without destination": lambda c: c["mounts"][0].pop("destination"),
    "mount relative destination": lambda c: c["mounts"][0].update(destination="data"),
    "namespace bogus": lambda c: c["linux"]["namespaces"].append({"type": "bogus"}),
    "namespace duplicate": lambda c: c["linux"]["namespaces"].append({"type": "pid"}),
    "uidMappings without size": lambda c: c["linux"].update(uidMappings=[{"containerID": 0, "hostID": 1}]),
    "maskedPaths relative": lambda c: c["linux"]["maskedPaths"].append("proc/kcore"),
    "annotations empty key": lambda c: c.update(annotations={"": "x"}),
    "annotations int value": lambda c: c.update(annotations={"com.example.k": 1}),
    "hook without path": lambda c: c.update(hooks={"poststop": [{"args": []}]}),
    "hook relative path": lambda c: c.update(hooks={"poststop": [{"path": "x"}]}),
    "hook timeout 0": lambda c: c.update(hooks={"poststop": [{"path": "/x", "timeout": 0}]}),
    "unknown top-level key": lambda c: c.update(bogus=1),
    "hostname int": lambda c: c.update(hostname=123),
    "root.readonly string": lambda c: c["root"].update(readonly="yes"),
    "terminal string": lambda c: c["process"].update(terminal="yes"),
    "memory limit string": lambda c: c["linux"]["resources"].update(memory={"limit": "x"}),
    "pids empty": lambda c: c["linux"]["resources"].update(pids={}),
    "device cgroup without allow": lambda c: c["linux"]["resources"]["devices"].append({"access": "rwm"}),
    "device type x": lambda c: c["linux"].update(devices=[{"type": "x", "path": "/dev/x"}]),
    "seccomp without defaultAction": lambda c: c["linux"].update(seccomp={}),
    "rootfsPropagation bogus": lambda c: c["linux"].update(rootfsPropagation="bogus"),
    "hugepage 64kB": lambda c: c["linux"]["resources"].update(hugepageLimits=[{"pageSize": "64kB", "limit": 1}]),
    "windows without layerFolders": lambda c: c.update(windows={}),
    "vm without kernel": lambda c: c.update(vm={}),
    "scheduler without policy": lambda c: c["process"].update(scheduler={}),
    "ioPriority bad class": lambda c: c["process"].update(ioPriority={"class": "X"}),
    "consoleSize partial": lambda c: c["process"].update(consoleSize={"height": 1}),
    "process not object": lambda c: c.update(process=[]),
    "config not object": None,
}


@needs_upstream
@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_agrees_with_upstream_on_mutations(upstream, name):
    config = _base() if MUTATIONS[name] else []
    if MUTATIONS[name]:
        MUTATIONS[name](config)
    assert MINE.is_valid(config) == upstream.is_valid(config)


GENERATED = {
    "defaults": {},
    "full options": dict(
        args=["/bin/sh", "-c", "echo hi"],
        env={"A": "1", "PATH": "/bin"},
        cwd="/tmp",
        user=dict(uid=1000, gid=1000, additional_gids=[10, 20]),
        hostname="web-1",
        terminal=False,
        readonly_rootfs=False,
        mounts=[
            dict(destination="/data", source="/srv/data", type=None, options=["ro"]),
            dict(destination="/run", source=None, type="tmpfs", options=["nosuid", "size=1m"]),
            dict(destination="/dev/shm", source="shm", type="tmpfs", options=["size=128m"]),
        ],
        annotations={"com.example.key": "v"},
        memory_limit="256M",
        cpu_quota=50000,
        cpu_period=100000,
        cpu_shares=512,
        capabilities=["chown", "CAP_KILL", "net_bind_service"],
        rlimits=[dict(type="nproc", soft=100, hard=200), dict(type="RLIMIT_NOFILE", soft=4096, hard=4096)],
    ),
    "raw config": dict(
        config={
            "ociVersion": "1.3.0",
            "linux": {"resources": {"pids": {"limit": 64}}, "sysctl": {"kernel.shmmax": "1000"}},
            "process": {"noNewPrivileges": None, "oomScoreAdj": 10},
            "hooks": {"poststop": [{"path": "/bin/true", "timeout": 3}]},
        }
    ),
    "user namespace": dict(
        config={
            "linux": {
                "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "user")],
                "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
            }
        }
    ),
}


@needs_upstream
@pytest.mark.parametrize("name", sorted(GENERATED))
def test_agrees_with_upstream_on_generated_configs(upstream, name):
    config = oci_config.build_config(GENERATED[name])
    assert upstream.is_valid(config) is True
    assert MINE.is_valid(config) is True
    assert oci_problems.errors_of(checks.semantic_problems(config)) == []


# --------------------------------------------------------------------------- schema problem format


def test_schema_problem_names_path_value_and_fix():
    config = default_config()
    config["process"]["user"]["uid"] = -1
    del config["process"]["cwd"]
    problems = checks.schema_problems(config)
    by_path = {p["path"]: p for p in problems}
    assert by_path["$.process.user.uid"]["value"] == -1
    assert "minimum" in by_path["$.process.user.uid"]["fix"]
    assert "$.process.cwd" in by_path
    assert by_path["$.process.cwd"]["fix"] == "add the missing property"
    assert all(p["check"] == "schema" and p["level"] == "error" for p in problems)


def test_json_path_quotes_odd_keys():
    assert oci_problems.json_path(["annotations", "com.example.k", 0]) == '$.annotations["com.example.k"][0]'


# --------------------------------------------------------------------------- semantic checks


def _checks(config, **kw):
    return {(p["path"], p["check"], p["level"]) for p in checks.semantic_problems(config, **kw)}


def test_default_config_has_no_semantic_problem():
    assert checks.semantic_problems(default_config()) == []


@pytest.mark.parametrize(
    "mutate, path, check, level",
    [
        (lambda c: c["process"].update(cwd="tmp"), "$.process.cwd", "cwd", "error"),
        (lambda c: c["process"].update(args=[]), "$.process.args", "args", "error"),
        (lambda c: c["process"].pop("args"), "$.process.args", "args", "error"),
        (lambda c: c["process"]["env"].append("NOEQUALS"), "$.process.env[2]", "env", "error"),
        (lambda c: c["process"]["env"].append("BAD-NAME=1"), "$.process.env[2]", "env", "error"),
        (lambda c: c["process"]["env"].append("1ABC=1"), "$.process.env[2]", "env", "warning"),
        (
            lambda c: c["process"]["rlimits"].append(dict(c["process"]["rlimits"][0])),
            "$.process.rlimits[1].type",
            "rlimits",
            "error",
        ),
        (
            lambda c: c["process"]["rlimits"][0].update(type="RLIMIT_BOGUS"),
            "$.process.rlimits[0].type",
            "rlimits",
            "error",
        ),
        (lambda c: c["process"]["rlimits"][0].update(soft=2048), "$.process.rlimits[0]", "rlimits", "error"),
        (
            lambda c: c["process"]["capabilities"]["bounding"].append("CAP_BOGUS"),
            "$.process.capabilities.bounding[3]",
            "capabilities",
            "error",
        ),
        (
            lambda c: c["process"]["capabilities"]["effective"].append("CAP_CHOWN"),
            "$.process.capabilities.effective[3]",
            "capabilities",
            "error",
        ),
        (
            lambda c: c["process"]["capabilities"].update(ambient=["CAP_KILL"]),
            "$.process.capabilities.ambient[0]",
            "capabilities",
            "error",
        ),
        (lambda c: c["mounts"][0].update(destination="proc"), "$.mounts[0].destination", "mounts", "error"),
        (
            lambda c: c["mounts"].append({"destination": "/x", "type": "bind", "options": ["rbind"]}),
            "$.mounts[7].source",
            "mounts",
            "error",
        ),
        (
            lambda c: c["mounts"].append({"destination": "/dev", "type": "tmpfs"}),
            "$.mounts[7].destination",
            "mounts",
            "warning",
        ),
        (
            lambda c: c["linux"]["namespaces"].append({"type": "pid"}),
            "$.linux.namespaces[5].type",
            "namespaces",
            "error",
        ),
        (
            lambda c: c["linux"]["namespaces"].append({"type": "user", "path": "proc/1/ns/user"}),
            "$.linux.namespaces[5].path",
            "namespaces",
            "error",
        ),
        (lambda c: c["linux"].update(namespaces=[{"type": "pid"}]), "$.hostname", "namespaces", "error"),
        (
            lambda c: c["linux"].update(uidMappings=[{"containerID": 0, "hostID": 1, "size": 1}]),
            "$.linux.uidMappings",
            "namespaces",
            "error",
        ),
        (
            lambda c: (
                c["linux"].update(sysctl={"net.ipv4.ip_forward": "1"})
                or c["linux"].update(namespaces=[{"type": "uts"}])
            ),
            '$.linux.sysctl["net.ipv4.ip_forward"]',
            "sysctl",
            "error",
        ),
        (lambda c: c["linux"]["maskedPaths"].append("proc/x"), "$.linux.maskedPaths[10]", "paths", "error"),
        (lambda c: c["linux"]["readonlyPaths"].append("sys"), "$.linux.readonlyPaths[5]", "paths", "error"),
        (
            lambda c: c["linux"]["resources"].update(memory={"limit": 200, "swap": 100}),
            "$.linux.resources.memory.swap",
            "resources",
            "error",
        ),
        (
            lambda c: c["linux"]["resources"].update(memory={"limit": 100, "reservation": 200}),
            "$.linux.resources.memory.reservation",
            "resources",
            "error",
        ),
        (
            lambda c: c["linux"]["resources"]["devices"].append({"allow": True, "access": "rwx"}),
            "$.linux.resources.devices[1].access",
            "resources",
            "error",
        ),
        (
            lambda c: c.update(annotations={"org.opencontainers.foo": "x"}),
            '$.annotations["org.opencontainers.foo"]',
            "annotations",
            "error",
        ),
        (lambda c: c.update(annotations={"": "x"}), '$.annotations[""]', "annotations", "error"),
        (lambda c: c.update(annotations={"foo": "x"}), "$.annotations.foo", "annotations", "warning"),
        (lambda c: c.update(hooks={"poststop": [{"path": "rel"}]}), "$.hooks.poststop[0].path", "hooks", "error"),
        (
            lambda c: c.update(hooks={"poststop": [{"path": "/x", "env": ["X"]}]}),
            "$.hooks.poststop[0].env[0]",
            "env",
            "error",
        ),
        (lambda c: c.update(ociVersion="banana"), "$.ociVersion", "version", "error"),
        (lambda c: c.update(hostname="bad_host!"), "$.hostname", "hostname", "error"),
        (lambda c: c.pop("root"), "$.root", "root", "error"),
        (lambda c: c["root"].update(path="other"), "$.root.path", "root", "warning"),
        (lambda c: c.pop("process"), "$.process", "process", "error"),
    ],
)
def test_semantic_check_finds(mutate, path, check, level):
    config = default_config()
    mutate(config)
    found = checks.semantic_problems(config)
    match = [p for p in found if p["path"] == path and p["check"] == check and p["level"] == level]
    assert match, found
    assert all(p["message"] and p["fix"] for p in found)


def test_allowed_oci_annotation_passes():
    config = default_config()
    config["annotations"] = {"org.opencontainers.image.os": "linux", "com.example.x": ""}
    assert checks.semantic_problems(config) == []


def test_root_checks_need_rootfs_inside_bundle(tmp_path):
    config = default_config()
    config["process"]["args"] = ["/bin/true"]
    assert ("$.root.path", "root", "error") in _checks(config, bundle_dir=str(tmp_path))
    (tmp_path / "rootfs").mkdir()
    config["root"]["path"] = "/elsewhere/rootfs"
    assert ("$.root.path", "root", "error") in _checks(config, bundle_dir=str(tmp_path))
    config["root"]["path"] = str(tmp_path / "rootfs")  # absolute but a child of the bundle: fine
    assert ("$.root.path", "root", "error") not in _checks(config, bundle_dir=str(tmp_path))


def _rootfs(tmp_path):
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "busybox").write_text("#!/bin/sh\n")
    (root / "bin" / "busybox").chmod(0o755)
    os.symlink("/bin/busybox", root / "bin" / "sh")
    (root / "bin" / "data").write_text("x")
    (root / "etc").mkdir()
    return root


def test_args0_lookup_in_rootfs(tmp_path):
    _rootfs(tmp_path)
    config = default_config()
    for arg0, ok in (
        ("sh", True),
        ("/bin/sh", True),
        ("/bin/busybox", True),
        ("nope", False),
        ("/bin", False),
        ("/bin/data", False),
        ("/usr/bin/nope", False),
    ):
        config["process"]["args"] = [arg0]
        found = [p for p in checks.semantic_problems(config, bundle_dir=str(tmp_path)) if p["check"] == "args"]
        assert (found == []) is ok, (arg0, found)


def test_args0_absolute_symlink_resolves_inside_rootfs(tmp_path):
    root = _rootfs(tmp_path)
    os.symlink("/etc/passwd", root / "bin" / "escape")  # the host's /etc/passwd must not be looked at
    config = default_config()
    config["process"]["args"] = ["/bin/escape"]
    found = [p for p in checks.semantic_problems(config, bundle_dir=str(tmp_path)) if p["check"] == "args"]
    assert found and "not found" in found[0]["message"]


def test_rootfs_unknown_skips_rootfs_checks(tmp_path):
    config = default_config()
    config["process"]["args"] = ["/nothing/here"]
    assert checks.semantic_problems(config, bundle_dir=str(tmp_path), rootfs_known=False) == []


def test_validate_config_combines_schema_and_semantic():
    config = default_config()
    config["process"]["user"]["uid"] = "0"
    config["process"]["cwd"] = "rel"
    found = {p["check"] for p in checks.validate_config(config)}
    assert {"schema", "cwd"} <= found


def test_format_problem():
    p = oci_problems.problem(["process", "cwd"], "x", "must be absolute", "use /x")
    assert oci_problems.format_problem(p) == "$.process.cwd: must be absolute (value: 'x'). Fix: use /x"


def test_mutations_do_not_share_state():
    a = default_config()
    b = copy.deepcopy(a)
    a["process"]["env"].append("X=1")
    assert default_config() == b
