"""The hand corpus of issue 10: every case the issue names, each with its expected end.

Each case runs through the module's public entry point inside the simulated node. Cases that must
be refused run in check mode first; the refusal must be clean and name the option or JSON path.
Then (for the cases marked real) the same task runs for real, and the node must be unchanged
(before/after listing of the node's files). A case that is NOT refused in check mode is never run
for real: some of them would change the host (a ZFS mountpoint on /etc).
"""

import contextlib
import json
import os

import pytest
from hostile import INJECT_CR, INJECT_LF, judge, judge_plugin
from scenes import BASE_NEW, HOST_VIEW

INJECT = "\nlxc.hook.pre-start = /tmp/nexcage-pwned"
SECRET = "S3cr3t-Api-Key-7f1d"


def _ids(cases):
    return [c[0] for c in cases]


def refused(sim, label, module, args, names, real=False, secrets=()):
    """The task must fail cleanly (check mode, then for real when real=True) and change nothing."""
    answer = sim.run(module, args, check=True, diff=True)
    problems = judge(label + " [check]", answer, names, must_fail=True, secrets=secrets)
    failed_in_check = bool((answer.get("result") or {}).get("failed"))
    if real:
        if not failed_in_check:
            problems.append("%s: not refused in check mode, so the real run was not attempted" % label)
        else:
            answer = sim.run(module, args, check=False, diff=True)
            problems += judge(label + " [real]", answer, names, must_fail=True, secrets=secrets)
    return problems


def accepted(sim, label, module, args, check=True, secrets=()):
    """The task must succeed (no refusal), with no injection, and hide the secrets."""
    answer = sim.run(module, args, check=check, diff=True)
    problems = judge(label, answer, ["-"], secrets=secrets)
    result = answer.get("result") or {}
    if result.get("failed"):
        problems.append("%s: must be accepted, failed: %s" % (label, str(result.get("msg"))[:300]))
    return problems


# --------------------------------------------------------------------------- config.json -> lxc.hook

INJECTED_FIELDS = [
    ("$.process.cwd", ["process", "cwd"], "/app" + INJECT),
    ("$.process.cwd", ["process", "cwd"], "/app" + INJECT_CR),
    ("$.process.apparmorProfile", ["process", "apparmorProfile"], "unconfined" + INJECT),
    ("$.process.selinuxLabel", ["process", "selinuxLabel"], "system_u:system_r:container_t:s0" + INJECT),
    ("$.linux.resources.cpu.cpus", ["linux", "resources", "cpu", "cpus"], "0" + INJECT),
    ("$.linux.resources.cpu.mems", ["linux", "resources", "cpu", "mems"], "0" + INJECT),
    ("$.linux.sysctl", ["linux", "sysctl", "kernel.msgmax"], "65536" + INJECT),
    ("$.linux.sysctl", ["linux", "sysctl", "kernel.msgmax" + INJECT], "1"),
    ("$.mounts[1].options", ["mounts", 1, "options"], ["nosuid" + INJECT]),
    ("$.annotations", ["annotations", "org.opencontainers.image.stopSignal"], "SIGTERM" + INJECT),
    ("$.process.env", ["process", "env"], ["A=1" + INJECT_LF]),
    ("$.process.args", ["process", "args"], ["/bin/sh" + INJECT]),
    ("$.hostname", ["hostname"], "app" + INJECT),
]


def _mutated(scene, path, value):
    config = scene.config_with(lambda c: None)
    if path[0] == "mounts":
        config["mounts"] = list(config.get("mounts") or [])[:1] or [
            {"destination": "/proc", "type": "proc", "source": "proc"}
        ]
        config["mounts"].append({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]})
    node = config
    for key in path[:-1]:
        node = node[key] if isinstance(key, int) else node.setdefault(key, {})
    node[path[-1]] = value
    return config


@pytest.mark.parametrize(
    "label,path,value", INJECTED_FIELDS, ids=[f[0] + str(i) for i, f in enumerate(INJECTED_FIELDS)]
)
def test_injected_config_field_refused(sim, scene, label, path, value):
    config = _mutated(scene, path, value)
    names = [label, label[2:].split("[")[0]]
    scene.write_deploy_config(config)
    problems = refused(
        sim,
        "deploy %s=%r" % (label, value),
        "nexcage_container",
        scene.deploy_args(),
        names,
        real=True,
    )
    problems += refused(
        sim,
        "nexcage_bundle config %s=%r" % (label, value),
        "nexcage_bundle",
        scene.bundle_args("inj", config=config),
        names,
        real=True,
    )
    assert not problems, "\n".join(problems)
    assert not os.path.exists(os.path.join(scene.roots, "inj"))
    assert sim.read("/etc/pve/lxc/%d.conf" % scene.new) is None


HOOKS = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "touch /tmp/nexcage-pwned"]}]}


def test_oci_hooks_need_allow_hooks(sim, scene):
    config = scene.config_with(lambda c: c.update(hooks=HOOKS))
    problems = refused(
        sim, "nexcage_bundle hooks", "nexcage_bundle", scene.bundle_args("hooks", config=config), ["hooks"], real=True
    )
    scene.write_deploy_config(config)
    problems += refused(sim, "deploy hooks", "nexcage_container", scene.deploy_args(), ["hooks"], real=True)
    problems += accepted(
        sim,
        "nexcage_bundle hooks allow_hooks=true",
        "nexcage_bundle",
        scene.bundle_args("hooks", config=config, allow_hooks=True),
    )
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- mounts

SENSITIVE = [
    "/",
    "/etc",
    "/etc/pve",
    "/proc",
    "/sys",
    "/dev",
    "/root",
    "/var/lib/lxc",
    "/boot",
    "/run",
    "/var/lib/vz",
    "/dev/loop0",
    "/srv/../etc",
    "/etc/",
]


@pytest.mark.parametrize("host_path", SENSITIVE)
def test_bind_mount_of_sensitive_host_path(sim, scene, host_path):
    mounts = [{"id": 0, "host_path": host_path, "mountpoint": "/data"}]
    problems = refused(
        sim,
        "bind mount %s" % host_path,
        "nexcage_container",
        {"vmid": scene.existing, "mounts": mounts},
        ["host_path", "mounts"],
        real=True,
    )
    if ".." in host_path:
        assert not problems, "\n".join(problems)
        return  # not a normalised path: refused whatever the opt-in
    problems += accepted(
        sim,
        "bind mount %s with allow_sensitive_host_paths" % host_path,
        "nexcage_container",
        {"vmid": scene.existing, "mounts": mounts, "allow_sensitive_host_paths": True},
    )
    assert not problems, "\n".join(problems)


def test_bind_mount_through_symlink(sim, scene):
    link = os.path.join(scene.base_dir, "innocent")
    if not os.path.islink(link):
        os.symlink("/etc", link)
    mounts = [{"id": 0, "host_path": link, "mountpoint": "/data"}]
    problems = refused(
        sim,
        "bind mount symlink to /etc",
        "nexcage_container",
        {"vmid": scene.existing, "mounts": mounts},
        ["host_path", "mounts"],
        real=True,
    )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("source", ["/etc", "/", "/var/lib/lxc"])
def test_bundle_bind_mount_of_sensitive_host_path(sim, scene, source):
    config = scene.config_with(
        lambda c: c.update(mounts=[{"destination": "/data", "source": source, "type": "bind", "options": ["bind"]}])
    )
    scene.write_deploy_config(config)
    problems = refused(
        sim,
        "deploy bind mount %s" % source,
        "nexcage_container",
        scene.deploy_args(),
        ["$.mounts", "mounts[0]"],
        real=True,
    )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("mountpoint", ["/", "/proc", "/sys", "/dev", "/proc/", "//", "~/x", "$HOME/x", "data"])
def test_container_side_mountpoint(sim, scene, mountpoint):
    mounts = [{"id": 0, "host_path": scene.hostdir, "mountpoint": mountpoint}]
    problems = refused(
        sim,
        "container mountpoint %s" % mountpoint,
        "nexcage_container",
        {"vmid": scene.existing, "mounts": mounts},
        ["mountpoint"],
        real=True,
    )
    problems += refused(
        sim,
        "container mountpoint %s even with the opt-in" % mountpoint,
        "nexcage_container",
        {"vmid": scene.existing, "mounts": mounts, "allow_sensitive_host_paths": True},
        ["mountpoint"],
    )
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- ZFS


@pytest.mark.parametrize("mountpoint", ["/etc", "/", "/usr", "/var/lib/lxc", "/x\nY", "/root/.ssh", "/rpool/../etc"])
def test_zfs_mountpoint_on_host_paths(sim, mountpoint):
    # Real runs only after a clean refusal in check mode: the simulator would move the host's /etc.
    args = {"name": "rpool/data/secmp", "properties": {"mountpoint": mountpoint}}
    problems = refused(sim, "zfs mountpoint %r" % mountpoint, "nexcage_zfs_dataset", args, ["mountpoint"], real=True)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "name",
    [
        "rpool/data/..",
        "rpool/./x",
        "rpool/-x",
        "-rpool",
        "rpool//x",
        "rpool/data/x@snap",
        "rpool/data/x#b",
        "rpool/" + "x" * 300,
        "rpool/data/x\ny",
        "rpool/data/ x",
        "rpool/data/x/",
        "/rpool/data",
    ],
)
def test_zfs_names(sim, name):
    answer = sim.run("nexcage_zfs_dataset", {"name": name}, check=False)
    problems = judge("zfs name %r" % name, answer, ["name"], must_fail=True)
    if answer.get("calls"):
        problems.append("zfs name %r: commands ran before the refusal: %s" % (name, answer["calls"]))
    assert not problems, "\n".join(problems)


def test_zfs_property_value_with_nul(sim):
    args = {"name": "rpool/data/secnul", "properties": {"org.example:note": "a\x00b", "compression": "lz4"}}
    problems = refused(sim, "zfs property NUL", "nexcage_zfs_dataset", args, ["org.example:note"], real=True)
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- scalars and types


@pytest.mark.parametrize(
    "option,value",
    [
        ("rootfs", [1]),
        ("rootfs", 5),
        ("features", [1]),
        ("features", 5),
        # ("startup", [1]) is community.proxmox's list form of a bare order (startup: 1), which Proxmox accepts
        ("startup", [[1]]),
        ("startup", 5),
        ("netif", [5]),
        ("mounts", "x"),
    ],
)
def test_dict_options_with_wrong_types(sim, scene, option, value):
    problems = refused(
        sim, "%s=%r" % (option, value), "nexcage_container", {"vmid": scene.existing, option: value}, [option]
    )
    assert not problems, "\n".join(problems)


TIMEOUT_MODULES = [
    ("nexcage_container", lambda scene: {"vmid": scene.existing}),
    ("nexcage_zfs_dataset", lambda scene: {"name": "rpool/data"}),
    ("nexcage_bundle", lambda scene: {"path": scene.bundle, "bundle_roots": [scene.roots], "state": "validated"}),
    ("nexcage_health", lambda scene: {}),
]


@pytest.mark.parametrize(
    "value", [100000000000000000000, 0, -1, "1e3", "inf", "nan", 1.5, pytest.param("9" * 5000, id="5000-digits")]
)
@pytest.mark.parametrize("module,base", TIMEOUT_MODULES, ids=[m for m, _b in TIMEOUT_MODULES])
def test_command_timeout(sim, scene, module, base, value):
    args = dict(base(scene), command_timeout=value)
    problems = refused(sim, "%s command_timeout=%r" % (module, value), module, args, ["command_timeout"])
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", -1, 100000])
def test_cpulimit(sim, scene, value):
    problems = refused(
        sim,
        "cpulimit=%r" % value,
        "nexcage_container",
        {"vmid": scene.existing, "cpulimit": value},
        ["cpulimit"],
        real=True,
    )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "value", ["1e3", "1E3", "0x3e8", " 1000", "1000.0", 1000.5, "+1000", "01000", "\u0661\u0660\u0660\u0660"]
)
def test_vmid_digits_only(sim, scene, value):
    args = dict(BASE_NEW, vmid=value)
    vmlist = sim.read("/etc/pve/.vmlist")
    problems = refused(sim, "vmid=%r" % value, "nexcage_container", args, ["vmid"], real=True)
    assert sim.read("/etc/pve/lxc/1000.conf") is None
    assert sim.read("/etc/pve/.vmlist") == vmlist, "a refused create changed .vmlist"
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("value", ["1e3", "1_000", " 1000", "+1000", "0x3e8", "1000.0", "-inf", "nan"])
def test_container_info_vmid_digits_only(sim, value):
    """nexcage_container_info reads the raw vmid as the other modules do (no CT 1000 for '1e3', no traceback)."""
    problems = refused(
        sim, "nexcage_container_info vmid=%r" % value, "nexcage_container_info", {"vmid": value}, ["vmid"]
    )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("option", ["description", "password", "hostname", "ssh_public_keys", "timezone"])
def test_nul_in_string_options(sim, scene, option):
    vmlist = sim.read("/etc/pve/.vmlist")
    args = dict(BASE_NEW, vmid=scene.new)
    args[option] = "abcsecret\x00def"
    problems = refused(
        sim,
        "%s with NUL on create" % option,
        "nexcage_container",
        args,
        [option],
        real=True,
        secrets=["abcsecret"] if option == "password" else (),
    )
    problems += refused(
        sim,
        "%s with NUL on update" % option,
        "nexcage_container",
        {"vmid": scene.existing, option: "abcsecret\x00def"},
        [option],
        real=True,
    )
    assert sim.read("/etc/pve/.vmlist") == vmlist, "a failed create changed .vmlist"
    assert not problems, "\n".join(problems)


def test_deeply_nested_config_json(sim, scene):
    config = scene.config_with(lambda c: c.update(annotations={"org.example.deep": "NESTED"}))
    text = json.dumps(config).replace('"NESTED"', '{"x": ' * 5000 + "{}" + "}" * 5000)
    path = os.path.join(scene.roots, "deep")
    os.makedirs(os.path.join(path, "rootfs"), exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as handle:
        handle.write(text)
    os.chmod(path, 0o700)
    problems = refused(
        sim,
        "nested config.json (validated)",
        "nexcage_bundle",
        {"path": path, "bundle_roots": [scene.roots], "state": "validated"},
        ["config.json", "$"],
    )
    problems += refused(
        sim,
        "nested config.json (deploy)",
        "nexcage_container",
        scene.deploy_args(path),
        ["config.json", "$"],
        real=True,
    )
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- secrets


def test_env_secrets_hidden_in_results(sim, scene):
    args = scene.bundle_args("secret", env=["API_KEY=%s" % SECRET, "MODE=prod"])
    problems = accepted(sim, "nexcage_bundle env secret (check)", "nexcage_bundle", args, secrets=[SECRET])
    problems += accepted(sim, "nexcage_bundle env secret", "nexcage_bundle", args, check=False, secrets=[SECRET])
    answer = sim.run("nexcage_bundle", dict(args, cwd="/srv"), check=False, diff=True)
    problems += judge("nexcage_bundle env secret (update)", answer, ["-"], secrets=[SECRET])
    shown = json.dumps(answer.get("result") or {})
    if "API_KEY" not in shown:
        problems.append("env names must still be shown (API_KEY is missing from the result)")
    bundle = os.path.join(scene.roots, "secret")
    problems += accepted(
        sim, "deploy env secret (check)", "nexcage_container", scene.deploy_args(bundle), secrets=[SECRET]
    )
    assert not problems, "\n".join(problems)


def test_password_hidden(sim, scene):
    args = dict(BASE_NEW, vmid=scene.new, password="Pw-" + SECRET)
    problems = accepted(sim, "password on create (check)", "nexcage_container", args, secrets=["Pw-" + SECRET])
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- node files not named by a VMID


@contextlib.contextmanager
def config_files_not_named_by_a_vmid(scene):
    """Container configs whose file names are digits but not a VMID as Proxmox VE writes it: the
    existing container's VMID in Arabic-Indic digits (int() reads it as that VMID) and a free VMID
    with a leading zero."""
    arabic = "".join(chr(0x660 + int(digit)) for digit in str(scene.existing))
    files = {
        "/etc/pve/lxc/%s.conf" % arabic: "hostname: spoof\nmemory: 4096\n",
        "/etc/pve/lxc/0%d.conf" % scene.hostile: "hostname: zero\nmemory: 16\n",
    }
    try:
        for path, text in files.items():
            scene.write_node_file(path, text)
        yield
    finally:
        for path in files:
            scene.write_node_file(path, None)


def test_info_lists_only_files_named_by_a_vmid(sim, scene):
    with config_files_not_named_by_a_vmid(scene):
        answer = sim.run("nexcage_container_info", {}, track=False)
    problems = judge("nexcage_container_info, config files not named by a VMID", answer, ["-"], skip=(".container",))
    assert not problems, "\n".join(problems)
    listed = {entry["vmid"]: entry.get("hostname") for entry in answer["result"]["containers"]}
    assert listed.get(scene.existing) == "sec01", listed
    assert scene.hostile not in listed, listed


def test_inventory_lists_only_files_named_by_a_vmid(plugins, scene):
    with config_files_not_named_by_a_vmid(scene):
        answer = plugins.inventory(scene.inventory_source, HOST_VIEW)
    problems = judge_plugin("inventory, config files not named by a VMID", answer)
    assert not problems, "\n".join(problems)
    vmids = sorted(view["vmid"] for view in answer["hosts"].values())
    assert vmids.count(scene.existing) == 1 and scene.hostile not in vmids, answer["hosts"].keys()


def test_connection_finds_only_files_named_by_a_vmid(plugins, scene):
    with config_files_not_named_by_a_vmid(scene):
        answer = plugins.connection(scene.connection_vars(inventory_hostname="spoof"), "true", scene.recorder_log)
    problems = judge_plugin("pct connection to 'spoof', config files not named by a VMID", answer)
    assert not problems, "\n".join(problems)
    assert answer["error"] and answer["calls"] == [], answer
