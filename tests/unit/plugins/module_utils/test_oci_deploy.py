"""Unit tests of _oci.deploy: config.json mapped section by section to nexcage_container's typed
options and raw lxc lines, validation before anything is written, the content-addressed template
(packed only by pack()), entrypoint encoding, the bounding set LXC can start with."""

import json
import os
import shlex
import subprocess

import pytest
from test_oci_bundle import params

from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import NexcageError
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths as node_paths
from ansible_collections.cageforge.nexcage.plugins.module_utils._node.readers import is_bundle_dir
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import config as oci_config
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import deploy
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.defaults import default_config
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.deploy import process, resources
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.deploy.linux import rootfs_dir
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import CommandResult, Runner

pytest.importorskip("jsonschema", reason="jsonschema is not installed in this Python")

STORAGE_CFG = """dir: local
\tpath {path}
\tcontent iso,vztmpl,backup

zfspool: local-zfs
\tpool rpool/data
\tcontent images,rootdir
"""


class FakeRunner(Runner):
    """Records argv; runs nothing."""

    def run(self, argv, mutating=False, timeout=None, data=None, check=True, log_path=None):
        result = CommandResult(argv, 0, "", "", 0.0, planned=mutating and self.check_mode)
        if argv[0] == "tar" and not result.planned:
            open(argv[argv.index("-cf") + 1], "w").close()  # what tar would write
        self.history.append(result)
        return result


@pytest.fixture
def node(tmp_path, monkeypatch):
    cfg = tmp_path / "storage.cfg"
    cfg.write_text(STORAGE_CFG.format(path=tmp_path / "vz"))
    monkeypatch.setattr(node_paths, "STORAGE_CFG", str(cfg))
    return tmp_path


def make_bundle(base, **process_fields):
    bundle = base / "bundle"
    rootfs = bundle / "rootfs" / "bin"
    rootfs.mkdir(parents=True)
    (rootfs / "sh").write_text("#!fake\n")
    os.chmod(rootfs / "sh", 0o755)
    config = default_config()
    config["process"]["terminal"] = False
    config["process"].update(process_fields)
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle, config


def lxc_of(found):
    return [(key, value) for key, value, _path in found.lxc]


# --------------------------------------------------------------------------- the template


def test_template_dir_is_read_from_storage_cfg(node):
    assert deploy.template_dir("local") == str(node / "vz" / "template" / "cache")
    with pytest.raises(NexcageError, match="template_storage 'local-zfs' .* has no path, so it cannot hold templates"):
        deploy.template_dir("local-zfs")
    with pytest.raises(NexcageError, match="template_storage 'nope' is not defined in .*storage.cfg"):
        deploy.template_dir("nope")


def test_template_name_is_content_addressed():
    assert deploy.template_name("sha256:" + "ab" * 32) == "nexcage-bundle-abababababababab.tar.zst"


def test_prepare_writes_nothing_and_pack_runs_tar_once(node):
    bundle, _config = make_bundle(node, args=["/bin/sh"])
    dep = deploy.prepare(str(bundle))
    assert dep.template.startswith("local:vztmpl/nexcage-bundle-") and dep.packed is False
    assert not (node / "vz").exists()  # nothing written by prepare
    runner = FakeRunner()
    assert deploy.pack(runner, dep) is True and dep.packed is True
    assert runner.history[0].argv[:4] == ["tar", "--numeric-owner", "--zstd", "-C"]
    path = node / "vz" / "template" / "cache" / dep.template.split("/", 1)[1]
    assert path.is_file()
    again = FakeRunner()
    assert deploy.pack(again, deploy.prepare(str(bundle))) is False and again.history == []


def test_pack_in_check_mode_only_plans(node):
    bundle, _config = make_bundle(node, args=["/bin/sh"])
    dep = deploy.prepare(str(bundle))
    runner = FakeRunner(check_mode=True)
    assert deploy.pack(runner, dep) is True and runner.history[0].planned is True
    assert not (node / "vz").exists()


def test_pack_with_real_tar_gives_a_listable_archive(node):
    bundle, _config = make_bundle(node, args=["/bin/sh"])
    (bundle / "rootfs" / "etc").mkdir()
    (bundle / "rootfs" / "etc" / "hostname").write_text("x\n")
    dep = deploy.prepare(str(bundle))
    assert deploy.pack(Runner(), dep) is True
    path = os.path.join(str(node / "vz" / "template" / "cache"), dep.template.split("/", 1)[1])
    listing = subprocess.run(["tar", "--zstd", "-tf", path], capture_output=True, text=True, check=True).stdout
    assert "./etc/hostname" in listing.split()
    assert [n for n in os.listdir(os.path.dirname(path)) if n.startswith(".")] == []


# --------------------------------------------------------------------------- prepare: validate and map


def test_prepare_maps_to_typed_options(node):
    bundle, _config = make_bundle(node, args=["/bin/sh", "-c", "echo hi"], env=["A=1"], cwd="/")
    dep = deploy.prepare(str(bundle))
    keys = [key for key, _value in dep.lxc]
    assert keys[:2] == ["lxc.init.cmd", "lxc.environment"] and ("lxc.environment", "A=1") in dep.lxc
    assert ("lxc.init.cwd", "/") in dep.lxc and "lxc.cap.keep" not in keys
    assert any("capabilities" in warning for warning in dep.warnings)
    assert dep.options["ostype"] == "unmanaged" and dep.options["unprivileged"] is False
    assert dep.options["hostname"] == "runc" and dep.pct == [("cmode", "console")]
    assert any(warning.startswith("$.root.readonly: not applied") for warning in dep.warnings)


def test_prepare_lists_every_unmappable_setting(node):
    bundle, config = make_bundle(node, args=["/bin/sh"])
    config["hooks"] = {"poststart": [{"path": "/bin/true"}]}
    config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    (bundle / "config.json").write_text(json.dumps(config))
    with pytest.raises(NexcageError) as err:
        deploy.prepare(str(bundle))
    assert "$.hooks.poststart" in err.value.message and "net.ipv4.ip_forward" in err.value.message
    assert not (node / "vz").exists()  # nothing packed


def test_prepare_refuses_an_invalid_bundle(node):
    bundle, config = make_bundle(node)
    config["process"]["cwd"] = "relative"
    (bundle / "config.json").write_text(json.dumps(config))
    with pytest.raises(NexcageError, match="is not valid"):
        deploy.prepare(str(bundle))


def test_prepare_refuses_control_characters_in_raw_lines(node):
    bundle, config = make_bundle(node, args=["/bin/sh"])
    config["process"]["apparmorProfile"] = "x\nlxc.hook.pre-start: /bin/evil"
    (bundle / "config.json").write_text(json.dumps(config))
    with pytest.raises(NexcageError) as err:
        deploy.prepare(str(bundle))
    assert "$.process.apparmorProfile" in err.value.message and "control character" in err.value.message


def test_is_bundle(node):
    bundle, _config = make_bundle(node)
    assert is_bundle_dir(str(bundle)) is True
    assert is_bundle_dir("local:vztmpl/x.tar.zst") is False and is_bundle_dir(str(node)) is False


# --------------------------------------------------------------------------- the sections


@pytest.mark.parametrize(
    "args, cmd, env",
    [
        (["/bin/sleep", "100"], "/bin/sleep 100", None),
        (
            ["/bin/sh", "-c", "echo it's; x"],
            '/bin/sh -c eval${IFS%??}"$NEXCAGE_ENTRYPOINT"',
            "NEXCAGE_ENTRYPOINT=unset NEXCAGE_ENTRYPOINT; exec /bin/sh -c 'echo it'\"'\"'s; x'",
        ),
    ],
)
def test_init_cmd_lines(args, cmd, env, tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "sh").write_text("")
    lines = process.init_cmd_lines(args, str(tmp_path))
    assert lines[0] == ("lxc.init.cmd", cmd) and " " not in cmd.split(" ", 2)[-1]
    if env:
        assert lines[1] == ("lxc.environment", env)
        # sh runs exactly the original argv: check it with a real sh
        script = cmd.split(" ", 2)[2]
        out = subprocess.run(
            ["sh", "-c", script],
            env={"NEXCAGE_ENTRYPOINT": "unset NEXCAGE_ENTRYPOINT; exec printf '[%s]' " + shlex.join(args)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.stdout == "".join("[%s]" % a for a in args)


def test_init_cmd_needs_sh_for_quoted_args(tmp_path):
    with pytest.raises(ValueError, match="need /bin/sh"):
        process.init_cmd_lines(["/app", "a b"], str(tmp_path))
    with pytest.raises(ValueError, match="control character"):
        process.init_cmd_lines(["/app", "a\nb"], str(tmp_path))


def test_capability_lines():
    lines, warning = process.capability_lines(["CAP_KILL", "CAP_NET_BIND_SERVICE"])
    assert lines == [] and "lacks setpcap, sys_admin" in warning
    lines, warning = process.capability_lines(["CAP_SETPCAP", "CAP_SYS_ADMIN", "CAP_KILL"])
    assert lines == [("lxc.cap.drop", ""), ("lxc.cap.keep", "setpcap sys_admin kill")] and warning is None


def test_shares_to_weight():
    assert resources.shares_to_weight(1024) == 100
    assert resources.shares_to_weight(2) == 1
    assert resources.shares_to_weight(262144) == 10000


def test_map_config_full(tmp_path):
    (tmp_path / "rootfs" / "bin").mkdir(parents=True)
    (tmp_path / "rootfs" / "bin" / "sh").write_text("")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text("x")
    (tmp_path / "rel").mkdir()
    cfg = oci_config.build_config(
        params(
            args=["/bin/sh", "-c", "echo hi"],
            env=["A=1", "BAD.NAME=2"],
            cwd="/srv",
            user=dict(uid=1000, gid=1000, additional_gids=[10, 20]),
            hostname="web-1",
            terminal=False,
            mounts=[
                dict(destination="/data", source=str(data_dir), type=None, options=["ro", "nosuid"]),
                dict(destination="/etc/hosts2", source=str(hosts_file), type=None, options=None),
                dict(destination="/cache", source=None, type="tmpfs", options=["size=64m"]),
                dict(destination="/rel", source="rel", type="bind", options=None),
            ],
            memory_limit="512M",
            cpu_quota=50000,
            cpu_period=100000,
            cpu_shares=1024,
            rlimits=[dict(type="nproc", soft=100, hard=18446744073709551615)],
            annotations={"org.opencontainers.image.stopSignal": "SIGTERM"},
            config={"linux": {"resources": {"memory": {"swap": 1024 * 1024 * 1024}, "pids": {"limit": 50}}}},
        )
    )
    found = deploy.map_config(cfg, str(tmp_path))
    assert found.errors == []
    assert found.options == {
        "hostname": "web-1",
        "memory": 512,
        "swap": 512,
        "cpulimit": 0.5,
        "cpuunits": 100,
        "unprivileged": False,
    }
    assert found.mounts == [
        {"host_path": str(data_dir), "mountpoint": "/data", "read_only": True},
        {"host_path": str(tmp_path / "rel"), "mountpoint": "/rel", "read_only": False},
    ]
    assert any(w.startswith("$.mounts[7]: mount options nosuid not applied") for w in found.warnings)
    lxc = lxc_of(found)
    assert ("lxc.init.cmd", '/bin/sh -c eval${IFS%??}"$NEXCAGE_ENTRYPOINT"') in lxc
    assert ("lxc.init.cwd", "/srv") in lxc
    assert ("lxc.init.uid", "1000") in lxc and ("lxc.init.gid", "1000") in lxc
    assert ("lxc.init.groups", "10,20") in lxc
    assert ("lxc.environment", "A=1") in lxc and ("lxc.environment", "BAD.NAME=2") in lxc
    assert ("lxc.mount.entry", "%s etc/hosts2 none bind,create=file 0 0" % hosts_file) in lxc
    assert ("lxc.mount.entry", "tmpfs cache tmpfs size=64m,create=dir 0 0") in lxc
    assert ("lxc.prlimit.nproc", "100:unlimited") in lxc
    assert not [pair for pair in lxc if pair[0] == "lxc.cap.keep"]  # LXC could not start with it: warned
    assert any("lacks setpcap, sys_admin" in w for w in found.warnings)
    assert ("lxc.cgroup2.pids.max", "50") in lxc
    assert ("lxc.signal.halt", "SIGTERM") in lxc
    assert not [e for e in lxc if e[0] == "lxc.mount.entry" and "proc" in e[1]]  # defaults are LXC's job
    assert any("BAD.NAME" in w or "env[3]" in w for w in found.warnings)
    assert any("noNewPrivileges" in w for w in found.warnings)
    assert any(w.startswith("$.root.readonly") for w in found.warnings)


def test_map_config_errors(tmp_path):
    cfg = oci_config.build_config(
        params(
            args=["a'b\"c"],
            mounts=[
                dict(destination="/gone", source=str(tmp_path / "missing"), type=None, options=None),
                dict(destination="/x", source="nfs:/x", type="nfs", options=None),
            ],
            memory_limit="1M",
            config={
                "hostname": "bad_host",
                "hooks": {"poststop": [{"path": "/bin/true"}]},
                "linux": {"sysctl": {"net.ipv4.ip_forward": "1"}, "devices": [{"type": "c", "path": "/dev/x"}]},
            },
        )
    )
    found = deploy.map_config(cfg, str(tmp_path))
    text = "\n".join(found.errors)
    for words in (
        "$.hostname",
        "$.process.args",
        "does not exist",
        "'nfs'",
        "16 MiB",
        "$.hooks.poststop",
        "only IPC sysctls",
        "$.linux.devices",
    ):
        assert words in text, words
    assert "hostname" not in found.options and "memory" not in found.options


def test_map_config_user_namespace(tmp_path):
    namespaces = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "user")]
    default_map = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cfg = oci_config.build_config(
        params(
            args=["/bin/sh"],
            config={"linux": {"namespaces": namespaces, "uidMappings": default_map, "gidMappings": default_map}},
        )
    )
    found = deploy.map_config(cfg, str(tmp_path))
    assert found.options["unprivileged"] is True and not [e for e in lxc_of(found) if e[0] == "lxc.idmap"]
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    found = deploy.map_config(cfg, str(tmp_path))
    assert ("lxc.idmap", "u 0 200000 65536") in lxc_of(found) and found.errors == []


def test_map_config_of_a_generated_config(tmp_path):
    from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import checks

    cfg = oci_config.build_config(params(args=["/bin/sh"]))
    assert checks.schema_problems(cfg) == []
    found = deploy.map_config(cfg, str(tmp_path))
    assert found.errors == [] and lxc_of(found)[0] == ("lxc.init.cmd", "/bin/sh")


def test_rootfs_and_foreign_platform(tmp_path):
    cfg = oci_config.build_config(params(args=["/bin/sh"], config={"windows": {"layerFolders": ["C:\\x"]}}))
    found = deploy.map_config(cfg, str(tmp_path))
    assert rootfs_dir(cfg, str(tmp_path)) == str(tmp_path / "rootfs")
    assert any(e.startswith("$.windows") for e in found.errors)
