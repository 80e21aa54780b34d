"""Unit tests of _oci_deploy: template storage, content-addressed packing, option mapping,
pct argv, the raw lxc.* lines in the CT config (under the config lock), entrypoint encoding."""

import fcntl
import json
import os
import shlex
import subprocess

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils import _oci_bundle
from ansible_collections.cageforge.nexcage.plugins.module_utils import _oci_deploy as D
from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import NexcageError
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import CommandResult, Runner

STORAGE_CFG = """dir: local
\tpath {path}
\tcontent iso,vztmpl,backup

zfspool: local-zfs
\tpool rpool/data
\tcontent images,rootdir
"""


class FakeRunner(Runner):
    """Records argv; runs nothing."""

    def __init__(self, check_mode=False):
        super().__init__(check_mode=check_mode)

    def run(self, argv, mutating=False, timeout=None, data=None, check=True):
        result = CommandResult(argv, 0, "", "", 0.0, planned=mutating and self.check_mode)
        if argv[0] == "tar" and not result.planned:
            open(argv[argv.index("-cf") + 1], "w").close()  # what tar would write
        self.history.append(result)
        return result


@pytest.fixture
def node(tmp_path, monkeypatch):
    vz = tmp_path / "vz"
    cfg = tmp_path / "storage.cfg"
    cfg.write_text(STORAGE_CFG.format(path=vz))
    monkeypatch.setattr(D, "STORAGE_CFG", str(cfg))
    monkeypatch.setattr(D, "LXC_CONF_DIR", str(tmp_path / "lxc"))
    monkeypatch.setattr(D, "LOCK_DIR", str(tmp_path / "lock"))
    monkeypatch.setattr(D.template_dir, "__defaults__", ("local", str(cfg)))
    (tmp_path / "lxc").mkdir()
    return tmp_path


def make_bundle(base, **process):
    bundle = base / "bundle"
    rootfs = bundle / "rootfs" / "bin"
    rootfs.mkdir(parents=True)
    (rootfs / "sh").write_text("#!fake\n")
    os.chmod(rootfs / "sh", 0o755)
    config = _oci_bundle.default_config()
    config["process"]["terminal"] = False
    config["process"].update(process)
    (bundle / "config.json").write_text(json.dumps(config))
    return bundle, config


def test_template_dir_is_read_from_storage_cfg(node):
    assert D.template_dir("local") == str(node / "vz" / "template" / "cache")
    with pytest.raises(NexcageError, match="cannot hold container templates"):
        D.template_dir("local-zfs")
    with pytest.raises(NexcageError, match="'nope' does not exist"):
        D.template_dir("nope")


def test_template_name_is_content_addressed():
    assert D.template_name("sha256:" + "ab" * 32) == "nexcage-bundle-abababababababab.tar.zst"


def test_pack_runs_tar_once_and_reuses_the_archive(node):
    rootfs = node / "rootfs"
    rootfs.mkdir()
    runner = FakeRunner()
    volid, path, packed = D.pack_rootfs(runner, str(rootfs), "sha256:" + "1" * 64)
    assert volid == "local:vztmpl/nexcage-bundle-1111111111111111.tar.zst" and packed is True
    assert runner.history[0].argv[:4] == ["tar", "--numeric-owner", "--zstd", "-C"]
    assert os.path.isfile(path)
    again = FakeRunner()
    assert D.pack_rootfs(again, str(rootfs), "sha256:" + "1" * 64) == (volid, path, False)
    assert again.history == []


def test_pack_in_check_mode_only_plans(node):
    rootfs = node / "rootfs"
    rootfs.mkdir()
    runner = FakeRunner(check_mode=True)
    volid, path, packed = D.pack_rootfs(runner, str(rootfs), "sha256:" + "2" * 64)
    assert packed is True and runner.history[0].planned is True and not os.path.exists(path)


def test_pack_with_real_tar_gives_a_listable_archive(node):
    rootfs = node / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "hostname").write_text("x\n")
    _volid, path, packed = D.pack_rootfs(Runner(), str(rootfs), "sha256:" + "3" * 64)
    assert packed is True
    listing = subprocess.run(["tar", "--zstd", "-tf", path], capture_output=True, text=True, check=True).stdout
    assert "./etc/hostname" in listing.split()
    assert [n for n in os.listdir(os.path.dirname(path)) if n.startswith(".")] == []


def test_options_from_settings():
    settings = {
        "hostname": "web",
        "memory": 256,
        "swap": 0,
        "cpulimit": 0.5,
        "cpuunits": 100,
        "cmode": "console",
        "unprivileged": True,
        "rootfs_readonly": True,
        "mounts": [
            {"host_path": "/srv/a", "mountpoint": "/a", "read_only": True, "mount_options": ["nodev"]},
            {"host_path": "/srv/b", "mountpoint": "/b", "read_only": False, "mount_options": []},
        ],
    }
    options, warnings = D.options_from_settings(settings)
    assert options == [
        ("hostname", "web"),
        ("memory", "256"),
        ("swap", "0"),
        ("cpulimit", "0.5"),
        ("cpuunits", "100"),
        ("cmode", "console"),
        ("ostype", "unmanaged"),
        ("unprivileged", "1"),
        ("mp0", "/srv/a,mp=/a,ro=1,mountoptions=nodev"),
        ("mp1", "/srv/b,mp=/b"),
    ]
    assert warnings == ["$.root.readonly: not applied (a PVE container's root disk is always writable)"]


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
    lines = D.init_cmd_lines(args, str(tmp_path))
    assert lines[0] == ("lxc.init.cmd", cmd) and " " not in cmd.split(" ", 2)[-1]
    if env:
        assert lines[1] == ("lxc.environment", env)
        # sh runs exactly the original argv: check it with a real sh
        script = cmd.split(" ", 2)[2]
        out = subprocess.run(
            ["sh", "-c", script.replace("exec", "exec")],
            env={"NEXCAGE_ENTRYPOINT": "unset NEXCAGE_ENTRYPOINT; exec printf '[%s]' " + shlex.join(args)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.stdout == "".join("[%s]" % a for a in args)


def test_init_cmd_needs_sh_for_quoted_args(tmp_path):
    with pytest.raises(ValueError, match="need /bin/sh"):
        D.init_cmd_lines(["/app", "a b"], str(tmp_path))
    with pytest.raises(ValueError, match="control character"):
        D.init_cmd_lines(["/app", "a\nb"], str(tmp_path))


def test_capability_lines():
    lines, warnings = D.capability_lines([("lxc.cap.keep", "kill net_bind_service"), ("lxc.init.uid", "0")])
    assert lines == [("lxc.init.uid", "0")] and "lacks setpcap, sys_admin" in warnings[0]
    lines, warnings = D.capability_lines([("lxc.cap.keep", "setpcap sys_admin kill")])
    assert lines == [("lxc.cap.drop", ""), ("lxc.cap.keep", "setpcap sys_admin kill")] and warnings == []


CONF = """#a description
arch: amd64
hostname: old
memory: 512
mp0: /srv/a,mp=/a
mp1: local-zfs:subvol-1-disk-1,mp=/vol,size=1G
lxc.init.cmd: /old
lxc.environment: OLD=1

[snap1]
hostname: old
lxc.init.cmd: /snap
"""


def test_write_raw_lines_replaces_only_the_current_section(node):
    path = node / "lxc" / "101.conf"
    path.write_text(CONF)
    changed, before, after = D.write_raw_lines(101, [("lxc.init.cmd", "/new"), ("lxc.environment", "A=b c")])
    assert changed is True and before == [("lxc.init.cmd", "/old"), ("lxc.environment", "OLD=1")]
    text = path.read_text()
    assert "lxc.init.cmd: /new\nlxc.environment: A=b c\n\n[snap1]\n" in text
    assert "lxc.init.cmd: /snap" in text and "OLD=1" not in text and text.startswith("#a description\n")
    assert D.write_raw_lines(101, after)[0] is False
    # check mode reports without writing
    assert D.write_raw_lines(101, [], check_mode=True)[0] is True and path.read_text() == text


def test_write_raw_lines_waits_for_the_config_lock(node, monkeypatch):
    (node / "lxc" / "102.conf").write_text("hostname: x\n")
    os.makedirs(D.LOCK_DIR, exist_ok=True)
    monkeypatch.setattr(D, "LOCK_TIMEOUT", 0.2)
    with open(D.lock_path(102), "a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(NexcageError, match="pve-config-102.lock' - got timeout"):
            with D.config_lock(102, timeout=0.2):
                pass


def test_config_changes_and_set_argv(node):
    from ansible_collections.cageforge.nexcage.plugins.module_utils import _pveconfig as C

    config = C.effective_config(C.parse_config(CONF))
    dep = D.Deployment(
        "/b",
        "local:vztmpl/t.tar.zst",
        "/t",
        False,
        [("hostname", "new"), ("memory", "512"), ("unprivileged", "0")],
        [],
        [],
        "d",
    )
    changes, deletes = D.config_changes(101, dep, config)
    assert changes == [("hostname", "old", "new")]
    assert deletes == ["mp0"]  # a bind mount the bundle no longer has; the storage volume mp1 stays
    assert D.set_argv(101, changes, deletes) == ["pct", "set", "101", "--hostname", "new", "--delete", "mp0"]
    assert D.set_argv(101, [], []) is None
    assert D.create_argv(101, dep, "local-zfs:1") == [
        "pct", "create", "101", "local:vztmpl/t.tar.zst",
        "--hostname", "new", "--memory", "512", "--unprivileged", "0", "--rootfs", "local-zfs:1",
    ]  # fmt: skip


def test_prepare_maps_and_packs(node):
    bundle, _config = make_bundle(node, args=["/bin/sh", "-c", "echo hi"], env=["A=1"], cwd="/")
    runner = FakeRunner()
    dep = D.prepare(runner, str(bundle))
    assert dep.template.startswith("local:vztmpl/nexcage-bundle-") and dep.packed is True
    keys = [k for k, _v in dep.lxc]
    assert keys[:2] == ["lxc.init.cmd", "lxc.environment"] and ("lxc.environment", "A=1") in dep.lxc
    assert ("lxc.init.cwd", "/") in dep.lxc and "lxc.cap.keep" not in keys
    assert any("capabilities" in w for w in dep.warnings)
    assert dict(dep.options)["ostype"] == "unmanaged" and dict(dep.options)["unprivileged"] == "0"


def test_prepare_lists_every_unmappable_setting(node):
    bundle, config = make_bundle(node, args=["/bin/sh"])
    config["hooks"] = {"poststart": [{"path": "/bin/true"}]}
    config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    (bundle / "config.json").write_text(json.dumps(config))
    runner = FakeRunner()
    with pytest.raises(NexcageError) as err:
        D.prepare(runner, str(bundle))
    assert "$.hooks.poststart" in err.value.message and "net.ipv4.ip_forward" in err.value.message
    assert runner.history == []  # nothing packed


def test_prepare_refuses_an_invalid_bundle(node):
    bundle, config = make_bundle(node)
    config["process"]["cwd"] = "relative"
    (bundle / "config.json").write_text(json.dumps(config))
    with pytest.raises(NexcageError, match="is not valid"):
        D.prepare(FakeRunner(), str(bundle))


def test_is_bundle(node):
    bundle, _config = make_bundle(node)
    assert D.is_bundle(str(bundle)) is True
    assert D.is_bundle("local:vztmpl/x.tar.zst") is False and D.is_bundle(str(node)) is False


def test_merge_params_for_nexcage_container():
    dep = D.Deployment(
        "/b",
        "local:vztmpl/nexcage-bundle-x.tar.zst",
        "/t",
        False,
        [
            ("hostname", "web"),
            ("memory", "256"),
            ("cpulimit", "0.5"),
            ("cmode", "console"),
            ("ostype", "unmanaged"),
            ("unprivileged", "0"),
            ("mp0", "/srv/a,mp=/a,ro=1"),
        ],
        [],
        [],
        "d",
    )
    params = {"vmid": 1, "image": "/b", "memory": 512, "hostname": None, "mounts": [{"id": 0, "mountpoint": "/v"}]}
    merged, warnings = D.merge_params(params, dep)
    assert merged["image"] == "local:vztmpl/nexcage-bundle-x.tar.zst"
    assert merged["hostname"] == "web" and merged["memory"] == 512 and merged["cpulimit"] == 0.5
    assert merged["unprivileged"] is False and merged["ostype"] == "unmanaged"
    assert merged["mounts"][1] == {"id": 1, "host_path": "/srv/a", "mountpoint": "/a", "read_only": True}
    assert warnings == ["memory: the task's 512 is used instead of the bundle's 256"]
    assert D.extra_options(dep) == [("cmode", "console")]
