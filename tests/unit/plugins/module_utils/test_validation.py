"""Validators: table-driven, valid values normalised, invalid values raise with option/value/fix."""

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils import _validation

VALID = [
    (_validation.validate_vmid, 100, 100),
    (_validation.validate_vmid, "101", 101),
    (_validation.validate_vmid, 999999999, 999999999),
    (_validation.validate_hostname, "web01", "web01"),
    (_validation.validate_hostname, "web-01.example.com", "web-01.example.com"),
    (_validation.validate_hostname, "a", "a"),
    (_validation.validate_storage_id, "local", "local"),
    (_validation.validate_storage_id, "local-zfs", "local-zfs"),
    (_validation.validate_storage_id, "nfs_1.b", "nfs_1.b"),
    (
        _validation.validate_template_volid,
        "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
        ("local", "debian-12-standard_12.7-1_amd64.tar.zst"),
    ),
    (_validation.validate_template_volid, "nfs1:vztmpl/alpine.tar.xz", ("nfs1", "alpine.tar.xz")),
    (_validation.validate_template_volid, "local:vztmpl/oci-image.tar", ("local", "oci-image.tar")),
    (_validation.validate_abs_path, "/srv/data", "/srv/data"),
    (_validation.validate_abs_path, "/srv/data/", "/srv/data"),
    (_validation.validate_abs_path, "/", "/"),
    (_validation.validate_env, "FOO=bar", ("FOO", "bar")),
    (_validation.validate_env, "_X1=a=b", ("_X1", "a=b")),
    (_validation.validate_env, "EMPTY=", ("EMPTY", "")),
    (_validation.validate_mac, "bc:24:11:aa:bb:cc", "BC:24:11:AA:BB:CC"),
    (_validation.validate_ipv4_config, "dhcp", "dhcp"),
    (_validation.validate_ipv4_config, "10.0.0.5/24", "10.0.0.5/24"),
    (_validation.validate_ipv6_config, "auto", "auto"),
    (_validation.validate_ipv6_config, "fd00::5/64", "fd00::5/64"),
    (_validation.validate_ipv4, "10.0.0.1", "10.0.0.1"),
    (_validation.validate_ip, "fd00::1", "fd00::1"),
    (_validation.validate_tag, "Prod", "prod"),
    (_validation.validate_ifname, "eth0", "eth0"),
    (_validation.validate_bridge, "vmbr0", "vmbr0"),
]


@pytest.mark.parametrize("func,value,expected", VALID, ids=[f"{f.__name__}-{v}" for f, v, _e in VALID])
def test_valid(func, value, expected):
    assert func(value) == expected
    assert _validation.check(func, value) is None


INVALID = [
    (_validation.validate_vmid, 99, "valid VM ID"),
    (_validation.validate_vmid, 1000000000, "valid VM ID"),
    (_validation.validate_vmid, "0100", "valid VM ID"),
    (_validation.validate_vmid, "abc", "integer"),
    (_validation.validate_vmid, True, "integer"),
    (_validation.validate_vmid, -5, "valid VM ID"),
    (_validation.validate_hostname, "web_01", "valid DNS name"),
    (_validation.validate_hostname, "-web", "valid DNS name"),
    (_validation.validate_hostname, "web-", "valid DNS name"),
    (_validation.validate_hostname, "a..b", "valid DNS name"),
    (_validation.validate_hostname, "", "non-empty"),
    (_validation.validate_hostname, "a" * 64, "valid DNS name"),
    (_validation.validate_hostname, "web 01", "valid DNS name"),
    (_validation.validate_storage_id, "1local", "illegal characters"),
    (_validation.validate_storage_id, "local-", "illegal characters"),
    (_validation.validate_storage_id, "lo cal", "illegal characters"),
    (_validation.validate_template_volid, "debian.tar.zst", "missing '<storage>:'"),
    (_validation.validate_template_volid, "local:iso/x.iso", "vztmpl"),
    (_validation.validate_template_volid, "local:vztmpl/x.zip", "file name must end"),
    (_validation.validate_template_volid, "local:vztmpl/sub/x.tar.gz", "file name must end"),
    (_validation.validate_template_volid, "bad id:vztmpl/x.tar", "illegal characters"),
    (_validation.validate_abs_path, "relative/path", "absolute"),
    (_validation.validate_abs_path, "/srv/../etc", "illegal character sequences"),
    (_validation.validate_abs_path, "/srv/./x", "illegal character sequences"),
    (_validation.validate_abs_path, "/srv//x", "illegal character sequences"),
    (_validation.validate_abs_path, "/srv/a,b", "','"),
    (_validation.validate_abs_path, "/srv/a\nb", "newline"),
    (_validation.validate_env, "NOEQUALS", "KEY=value"),
    (_validation.validate_env, "1X=a", "invalid variable name"),
    (_validation.validate_env, "A-B=a", "invalid variable name"),
    (_validation.validate_env, "A=b\0c", "NUL"),
    (_validation.validate_mac, "01:00:00:00:00:01", "unicast"),
    (_validation.validate_mac, "zz:24:11:aa:bb:cc", "unicast"),
    (_validation.validate_ipv4_config, "10.0.0.5", "ipv4"),
    (_validation.validate_ipv4_config, "300.0.0.1/24", "ipv4"),
    (_validation.validate_ipv6_config, "fd00::zz/64", "ipv6"),
    (_validation.validate_ipv4, "fd00::1", "IPv4"),
    (_validation.validate_ip, "nope", "IP address"),
    (_validation.validate_tag, "-x", "invalid characters"),
    (_validation.validate_ifname, "a-very-long-interface-name", "interface"),
]


@pytest.mark.parametrize("func,value,text", INVALID, ids=[f"{f.__name__}-{v!r}" for f, v, _t in INVALID])
def test_invalid(func, value, text):
    with pytest.raises(_validation.ValidationError) as info:
        func(value)
    assert text in info.value.message
    assert info.value.value == value
    assert info.value.option
    err = _validation.check(func, value)
    assert isinstance(err, _validation.ValidationError)


def test_error_carries_option_and_fix():
    with pytest.raises(_validation.ValidationError) as info:
        _validation.validate_vmid(42, option="vmid")
    exc = info.value
    assert exc.option == "vmid"
    assert "100" in exc.fix and "999999999" in exc.fix
    assert exc.to_dict() == {"option": "vmid", "value": 42, "message": exc.message, "fix": exc.fix}
    assert "vmid" in str(exc)


@pytest.mark.parametrize(
    "value,low,high,ok",
    [(5, 1, 10, True), (0, 1, 10, False), (11, 1, 10, False), ("7", 1, None, True), ("x", 1, 2, False)],
)
def test_int_range(value, low, high, ok):
    if ok:
        assert _validation.validate_int_range(value, low, high, "cores") == int(value)
    else:
        with pytest.raises(_validation.ValidationError):
            _validation.validate_int_range(value, low, high, "cores")


def test_number_range():
    assert _validation.validate_number_range("1.5", 0, 8192, "cpulimit") == 1.5
    with pytest.raises(_validation.ValidationError):
        _validation.validate_number_range(9000, 0, 8192, "cpulimit")


def test_raw_values_of_a_batch_entry_have_the_module_limits():
    """An entry of nexcage_containers is a nexcage_container task: its numbers have that module's limits."""
    entry = {
        "stop_timeout": dict(type="int"),
        "netif": dict(type="list", elements="dict", options={"tag": dict(type="int")}),
    }
    spec = {"containers": dict(type="list", elements="dict", options=entry)}
    params = {"containers": [{"stop_timeout": 10**13, "netif": [{"tag": 4095}]}, {"stop_timeout": "1e3"}]}
    problems = _validation.raw_option_problems(spec, params)
    assert [problem.option for problem in problems] == [
        "containers[0].stop_timeout",
        "containers[0].netif[0].tag",
        "containers[1].stop_timeout",
    ]
    assert _validation.raw_option_problems(spec, {"containers": [{"stop_timeout": 600, "netif": [{"tag": 10}]}]}) == []
