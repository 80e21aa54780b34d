"""_node.configline: the one writer of config lines refuses control characters and unlisted raw LXC keys."""

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils._node import configline
from ansible_collections.cageforge.nexcage.plugins.module_utils._validation import ValidationError

CONTROL = ["\n", "\r", "\0", "\x1b", "\x7f", "\t", "\x85", "\u2028"]


@pytest.mark.parametrize("char", CONTROL)
def test_value_with_control_character_is_refused(char):
    value = "/srv" + char + "lxc.hook.pre-start: /tmp/x"
    with pytest.raises(ValidationError) as info:
        configline.check_value(value, option="$.process.cwd")
    text = str(info.value)
    assert "$.process.cwd" in text
    assert repr(value) in text
    assert "control character" in text and "Remove the control character" in text
    assert info.value.option == "$.process.cwd"


@pytest.mark.parametrize("char", CONTROL)
def test_key_with_control_character_is_refused(char):
    with pytest.raises(ValidationError, match="control character"):
        configline.config_line("memory" + char + "x", "512", option="memory")


@pytest.mark.parametrize("value", ["plain", "a=b,c=d", "ünïcødé", "spaces inside", "#not a comment", 42])
def test_printable_values_pass(value):
    assert configline.check_value(value, option="x") == str(value)


def test_config_line_is_one_line():
    assert configline.config_line("hostname", "web01", option="hostname") == "hostname: web01"


@pytest.mark.parametrize("key", ["", "1abc", "a b", "a:b", "-x"])
def test_bad_keys_are_refused(key):
    with pytest.raises(ValidationError, match="not a valid config key"):
        configline.config_line(key, "1", option="key")


@pytest.mark.parametrize(
    "key",
    ["lxc.init.cmd", "lxc.mount.entry", "lxc.environment", "lxc.prlimit.nofile", "lxc.sysctl.net.ipv4.ip_forward"],
)
def test_allowed_raw_keys(key):
    assert configline.raw_lxc_line(key, "v", option="$.x") == "%s: v" % key


@pytest.mark.parametrize(
    "key,reason",
    [
        ("lxc.hook.pre-start", "host run a program"),
        ("lxc.hook.mount", "host run a program"),
        ("lxc.include", "host run a program"),
        ("lxc.includeall", "host run a program"),
        ("lxc.rootfs.path", "not a raw LXC key nexcage writes"),
        ("lxc.prlimit.", "not a raw LXC key nexcage writes"),
        ("lxc.sysctl.Bad Key", "not a valid config key"),
        ("hostname", "not a raw LXC key nexcage writes"),
    ],
)
def test_refused_raw_keys(key, reason):
    with pytest.raises(ValidationError, match=reason):
        configline.raw_lxc_line(key, "/bin/true", option="$.annotations")


@pytest.mark.parametrize("char", CONTROL)
def test_raw_value_with_control_character_is_refused(char):
    with pytest.raises(ValidationError, match="control character"):
        configline.raw_lxc_line("lxc.init.cwd", "/srv" + char + "lxc.hook.pre-start: /x", option="$.process.cwd")
