"""The guards of issue 10 as pure functions: raw option values, host paths and mount points, ZFS
names, control characters in config.json, OCI hooks, and the masking of environment values.
(tests/security runs the same rules end to end through the modules.)"""

import json
import os

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils import _validation as V
from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import ValidationError
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import checks, secrets
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.config import MAX_CONFIG_DEPTH, load_config_text

SPEC = {
    "vmid": {"type": "int"},
    "command_timeout": {"type": "int"},
    "cpulimit": {"type": "float"},
    "rootfs": {"type": "dict", "options": {"size": {"type": "raw"}}},
    "netif": {"type": "list", "elements": "dict", "options": {"mtu": {"type": "int"}}},
    "tags": {"type": "list", "elements": "str"},
}


def problems(params):
    return [(p.option, p.message) for p in V.raw_option_problems(SPEC, params)]


@pytest.mark.parametrize("value", [100, "100", 999999999, None])
def test_raw_vmid_accepted(value):
    assert problems({"vmid": value}) == []


@pytest.mark.parametrize(
    "value", ["1e3", "0x64", " 100", "100\n", "100.0", 100.0, True, "inf", [], "+100", "0100", "\u0661\u0660\u0660"]
)
def test_raw_vmid_refused(value):
    assert [option for option, _message in problems({"vmid": value})] == ["vmid"]


@pytest.mark.parametrize(
    "value,message",
    [
        (0, "is below the limit of 1"),
        (-1, "is below the limit of 1"),
        (10**20, "is above the limit of 86400"),
        ("9" * 5000, "is out of range"),
        ("-" + "9" * 50, "is out of range"),
    ],
)
def test_raw_timeout_limits_named(value, message):
    assert problems({"command_timeout": value}) == [("command_timeout", message)]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "1e3", float("nan"), float("inf"), 9000])
def test_raw_cpulimit_refused(value):
    assert [option for option, _m in problems({"cpulimit": value})] == ["cpulimit"]


def test_raw_dict_and_list_types():
    assert problems({"rootfs": [1]})[0][0] == "rootfs"
    assert problems({"rootfs": 5})[0][0] == "rootfs"
    assert problems({"rootfs": "x"})[0][0] == "rootfs"
    assert problems({"rootfs": "size=8"}) == []  # key=value, as ansible-core parses it
    assert problems({"netif": [5]})[0][0] == "netif[0]"
    assert problems({"netif": [{"mtu": "1e3"}]})[0][0] == "netif[0].mtu"
    assert problems({"netif": "x"})[0][0] == "netif"
    assert problems({"tags": 5})[0][0] == "tags"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/etc",
        "/etc/pve",
        "/etc/",
        "/proc/1",
        "/sys",
        "/dev",
        "/root/.ssh",
        "/boot",
        "/run",
        "/var/lib/lxc/100",
        "/var/lib/vz",
        "/var/lib/nexcage/bundles",
        "/dev/null",
    ],
)
def test_guard_host_path_refuses(path):
    with pytest.raises(ValidationError) as exc:
        V.guard_host_path(path, "mounts[0].host_path")
    assert exc.value.option == "mounts[0].host_path"
    assert V.guard_host_path(path, "mounts[0].host_path", allow=True) == path


def test_guard_host_path_resolves_symlinks(tmp_path):
    link = tmp_path / "innocent"
    link.symlink_to("/etc")
    with pytest.raises(ValidationError, match="under /etc"):
        V.guard_host_path(str(link), "host_path")
    (tmp_path / "data").mkdir()
    assert V.guard_host_path(str(tmp_path / "data"), "host_path") == str(tmp_path / "data")


@pytest.mark.parametrize("path", ["/", "/proc", "/sys", "/dev", "/proc/", "~/x", "$HOME/x", "data", "//", "/a/../proc"])
def test_container_mountpoint_refused(path):
    with pytest.raises(ValidationError):
        V.validate_container_mountpoint(path, "mounts[0].mountpoint")


def test_container_mountpoint_plain():
    assert V.validate_container_mountpoint("/data/", "mp") == "/data"
    assert V.validate_container_mountpoint("/dev/shm/x", "mp") == "/dev/shm/x"


@pytest.mark.parametrize("name", ["rpool", "rpool/data", "rpool/data/ct-100_x.y:z", "tank"])
def test_zfs_name_ok(name):
    assert V.validate_zfs_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "rpool/data/..",
        "rpool/./x",
        "rpool/-x",
        "-rpool",
        "1pool",
        "rpool//x",
        "rpool/x/",
        "rpool/x@s",
        "rpool/x#b",
        "rpool/x y",
        "rpool/x\ny",
        "rpool/" + "x" * 300,
    ],
)
def test_zfs_name_refused(name):
    with pytest.raises(ValidationError):
        V.validate_zfs_name(name)


def test_zfs_snapshot_name():
    assert V.validate_zfs_name("rpool/x@snap", snapshot=True) == "rpool/x@snap"
    with pytest.raises(ValidationError):
        V.validate_zfs_name("rpool/x@-s", snapshot=True)


def test_control_characters_in_mapped_fields_only():
    config = {
        "process": {"cwd": "/a\nlxc.hook.pre-start: /x", "args": ["sh", "-c", "a\nb"], "env": ["A=1\n"]},
        "hooks": {"prestart": [{"path": "/bin/x", "args": ["x", "a\nb"]}]},
        "annotations": {"com.example.note": "a\nb", "org.opencontainers.image.stopSignal": "TERM\r"},
        "linux": {"sysctl": {"kernel.msgmax\n": "1"}},
    }
    paths = sorted(p["path"] for p in checks.control_character_problems(config))
    assert paths == [
        '$.annotations["org.opencontainers.image.stopSignal"]',
        '$.linux.sysctl["kernel.msgmax\n"]',
        "$.process.cwd",
        "$.process.env[0]",
    ]


def test_hooks_need_allow_hooks():
    config = {"hooks": {"prestart": [{"path": "/bin/x"}], "poststop": []}}
    assert [p["path"] for p in checks.hook_problems(config)] == ["$.hooks.prestart"]
    assert checks.hook_problems(config, allow_hooks=True) == []
    assert checks.hook_problems({"process": {}}) == []


def test_deeply_nested_config_is_refused():
    text = '{"a": ' * 5000 + "1" + "}" * 5000
    config, problems = load_config_text(text)
    assert config is None and "nested" in problems[0]["message"]
    text = '{"a": ' * (MAX_CONFIG_DEPTH + 1) + "1" + "}" * (MAX_CONFIG_DEPTH + 1)
    assert load_config_text(text)[0] is None
    assert load_config_text('{"a": {"b": [1]}}') == ({"a": {"b": [1]}}, [])


def test_env_values_masked_names_kept():
    entries = secrets.config_entries({"process": {"env": ["API_KEY=s3cret", "EMPTY=", "PATH=/bin"]}})
    assert entries == ["API_KEY=s3cret", "PATH=/bin"]
    result = {"config": {"process": {"env": ["API_KEY=s3cret"]}}, "diff": {"after": json.dumps(["API_KEY=s3cret"])}}
    shown = json.dumps(secrets.hide(result, entries))
    assert "s3cret" not in shown and "API_KEY=********" in shown
    lines = [("lxc.environment", "TOKEN=abc"), ("lxc.environment", "NEXCAGE_ENTRYPOINT=exec x"), ("lxc.init.cwd", "/")]
    assert secrets.lxc_entries(lines) == ["TOKEN=abc"]


def test_guard_host_path_device_node():
    assert os.path.exists("/dev/null")
    with pytest.raises(ValidationError):
        V.guard_host_path("/dev/null", "host_path", extra=())
