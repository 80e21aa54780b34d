"""Validators: table-driven, valid values normalised, invalid values raise with option/value/fix."""

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils import _validation as V

VALID = [
    (V.validate_vmid, 100, 100),
    (V.validate_vmid, "101", 101),
    (V.validate_vmid, 999999999, 999999999),
    (V.validate_hostname, "web01", "web01"),
    (V.validate_hostname, "web-01.example.com", "web-01.example.com"),
    (V.validate_hostname, "a", "a"),
    (V.validate_storage_id, "local", "local"),
    (V.validate_storage_id, "local-zfs", "local-zfs"),
    (V.validate_storage_id, "nfs_1.b", "nfs_1.b"),
    (
        V.validate_template_volid,
        "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
        ("local", "debian-12-standard_12.7-1_amd64.tar.zst"),
    ),
    (V.validate_template_volid, "nfs1:vztmpl/alpine.tar.xz", ("nfs1", "alpine.tar.xz")),
    (V.validate_template_volid, "local:vztmpl/oci-image.tar", ("local", "oci-image.tar")),
    (V.validate_abs_path, "/srv/data", "/srv/data"),
    (V.validate_abs_path, "/srv/data/", "/srv/data"),
    (V.validate_abs_path, "/", "/"),
    (V.validate_env, "FOO=bar", ("FOO", "bar")),
    (V.validate_env, "_X1=a=b", ("_X1", "a=b")),
    (V.validate_env, "EMPTY=", ("EMPTY", "")),
    (V.validate_mac, "bc:24:11:aa:bb:cc", "BC:24:11:AA:BB:CC"),
    (V.validate_ipv4_config, "dhcp", "dhcp"),
    (V.validate_ipv4_config, "10.0.0.5/24", "10.0.0.5/24"),
    (V.validate_ipv6_config, "auto", "auto"),
    (V.validate_ipv6_config, "fd00::5/64", "fd00::5/64"),
    (V.validate_ipv4, "10.0.0.1", "10.0.0.1"),
    (V.validate_ip, "fd00::1", "fd00::1"),
    (V.validate_tag, "Prod", "prod"),
    (V.validate_ifname, "eth0", "eth0"),
    (V.validate_bridge, "vmbr0", "vmbr0"),
]


@pytest.mark.parametrize("func,value,expected", VALID, ids=[f"{f.__name__}-{v}" for f, v, _e in VALID])
def test_valid(func, value, expected):
    assert func(value) == expected
    assert V.check(func, value) is None


INVALID = [
    (V.validate_vmid, 99, "valid VM ID"),
    (V.validate_vmid, 1000000000, "valid VM ID"),
    (V.validate_vmid, "0100", "valid VM ID"),
    (V.validate_vmid, "abc", "integer"),
    (V.validate_vmid, True, "integer"),
    (V.validate_vmid, -5, "valid VM ID"),
    (V.validate_hostname, "web_01", "valid DNS name"),
    (V.validate_hostname, "-web", "valid DNS name"),
    (V.validate_hostname, "web-", "valid DNS name"),
    (V.validate_hostname, "a..b", "valid DNS name"),
    (V.validate_hostname, "", "non-empty"),
    (V.validate_hostname, "a" * 64, "valid DNS name"),
    (V.validate_hostname, "web 01", "valid DNS name"),
    (V.validate_storage_id, "1local", "illegal characters"),
    (V.validate_storage_id, "local-", "illegal characters"),
    (V.validate_storage_id, "lo cal", "illegal characters"),
    (V.validate_template_volid, "debian.tar.zst", "missing '<storage>:'"),
    (V.validate_template_volid, "local:iso/x.iso", "vztmpl"),
    (V.validate_template_volid, "local:vztmpl/x.zip", "file name must end"),
    (V.validate_template_volid, "local:vztmpl/sub/x.tar.gz", "file name must end"),
    (V.validate_template_volid, "bad id:vztmpl/x.tar", "illegal characters"),
    (V.validate_abs_path, "relative/path", "absolute"),
    (V.validate_abs_path, "/srv/../etc", "illegal character sequences"),
    (V.validate_abs_path, "/srv/./x", "illegal character sequences"),
    (V.validate_abs_path, "/srv//x", "illegal character sequences"),
    (V.validate_abs_path, "/srv/a,b", "','"),
    (V.validate_abs_path, "/srv/a\nb", "newline"),
    (V.validate_env, "NOEQUALS", "KEY=value"),
    (V.validate_env, "1X=a", "invalid variable name"),
    (V.validate_env, "A-B=a", "invalid variable name"),
    (V.validate_env, "A=b\0c", "NUL"),
    (V.validate_mac, "01:00:00:00:00:01", "unicast"),
    (V.validate_mac, "zz:24:11:aa:bb:cc", "unicast"),
    (V.validate_ipv4_config, "10.0.0.5", "ipv4"),
    (V.validate_ipv4_config, "300.0.0.1/24", "ipv4"),
    (V.validate_ipv6_config, "fd00::zz/64", "ipv6"),
    (V.validate_ipv4, "fd00::1", "IPv4"),
    (V.validate_ip, "nope", "IP address"),
    (V.validate_tag, "-x", "invalid characters"),
    (V.validate_ifname, "a-very-long-interface-name", "interface"),
]


@pytest.mark.parametrize("func,value,text", INVALID, ids=[f"{f.__name__}-{v!r}" for f, v, _t in INVALID])
def test_invalid(func, value, text):
    with pytest.raises(V.ValidationError) as info:
        func(value)
    assert text in info.value.message
    assert info.value.value == value
    assert info.value.option
    err = V.check(func, value)
    assert isinstance(err, V.ValidationError)


def test_error_carries_option_and_fix():
    with pytest.raises(V.ValidationError) as info:
        V.validate_vmid(42, option="vmid")
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
        assert V.validate_int_range(value, low, high, "cores") == int(value)
    else:
        with pytest.raises(V.ValidationError):
            V.validate_int_range(value, low, high, "cores")


def test_number_range():
    assert V.validate_number_range("1.5", 0, 8192, "cpulimit") == 1.5
    with pytest.raises(V.ValidationError):
        V.validate_number_range(9000, 0, 8192, "cpulimit")
