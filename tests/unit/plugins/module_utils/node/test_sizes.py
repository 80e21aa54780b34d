"""_node.sizes: the one size parser (Proxmox VE, ZFS and OCI sizes) and printer."""

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils._node import sizes

G = 1024**3


@pytest.mark.parametrize(
    "text,expected",
    [
        ("8G", 8 * G),
        ("8g", 8 * G),
        ("8GB", 8 * G),
        ("8GiB", 8 * G),
        ("1.5T", int(1.5 * 1024**4)),
        ("128K", 131072),
        ("512", 512),
        ("512b", 512),
        ("10.", 10),
        (".5K", 512),
        ("0", 0),
        (4096, 4096),
        (1.0, 1),
        ("18446744073709551616", 2**64),
    ],
)
def test_parse_size(text, expected):
    assert sizes.parse_size(text) == expected


@pytest.mark.parametrize(
    "value,unit,expected", [(8, "G", 8 * G), ("8", "G", 8 * G), (0.5, "G", G // 2), ("512M", "G", 512 * 1024**2)]
)
def test_bare_number_counts_in_default_unit(value, unit, expected):
    assert sizes.parse_size(value, default_unit=unit) == expected


@pytest.mark.parametrize(
    "bad", ["", "ten", "10X", "10i", "10iB", "G", "-1", "-1G", "1e3", True, -3, float("nan"), float("inf")]
)
def test_parse_size_refuses(bad):
    with pytest.raises(sizes.SizeError):
        sizes.parse_size(bad)


def test_units_limit():
    assert sizes.parse_size("1P") == 1024**5
    with pytest.raises(sizes.SizeError):
        sizes.parse_size("1P", units=sizes.PVE_UNITS)


def test_size_error_is_a_value_error():
    assert issubclass(sizes.SizeError, ValueError)


@pytest.mark.parametrize(
    "value,text", [(8 * G, "8G"), (512 * 1024**2, "512M"), (1024 * G, "1T"), (1000, "1000"), (0, "0T")]
)
def test_format_size(value, text):
    assert sizes.format_size(value) == text


@pytest.mark.parametrize("value,text", [(8 * G, "8"), (G // 2, "0.5"), (int(1.25 * G), "1.25")])
def test_size_to_gib(value, text):
    assert sizes.size_to_gib(value) == text
