"""pct contract tests, pve-cli-facts §1: how every PVE CLI parses, fails and locks."""

import fcntl
import os
import time

import pytest
from test_pct_support import Node


@pytest.fixture
def node(tmp_path):
    return Node.init(tmp_path)


def test_s1_unknown_command_prints_usage_and_exits_255(node):
    r = node.pct("foo")
    assert r.rc == 255
    assert r.out == ""
    lines = r.err.split("\n")
    assert lines[:3] == ["ERROR: unknown command 'pct foo'", "USAGE: pct <COMMAND> [ARGS] [OPTIONS]", ""]
    assert "       pct create <vmid> <ostemplate> [OPTIONS]" in lines
    assert "       pct list" in lines


def test_s1_unique_prefix_abbreviates_a_subcommand(node):
    node.create(100)
    full = node.pct("config", "100")
    short = node.pct("conf", "100")
    assert full.rc == short.rc == 0
    assert short.out == full.out
    assert "hostname: CT100\n" in short.out


def test_s1_ambiguous_prefix_is_an_unknown_command(node):
    r = node.pct("s", "100")
    assert r.rc == 255
    assert r.err.startswith("ERROR: unknown command 'pct s'\nUSAGE: pct <COMMAND> [ARGS] [OPTIONS]\n\n")


def test_s1_unknown_option_getopt_line_then_400_and_usage(node):
    r = node.pct("stop", "100", "--timeout", "5")
    assert (r.rc, r.out) == (255, "")
    assert r.err == "Unknown option: timeout\n400 unable to parse option\npct stop <vmid> [OPTIONS]\n"


def test_s1_bad_boolean_value(node):
    r = node.pct("status", "100", "--verbose=maybe")
    assert r.rc == 255
    assert r.err == "400 unable to parse boolean option\npct status <vmid> [OPTIONS]\n"


def test_s1_missing_and_extra_positionals(node):
    r = node.pct("status")
    assert (r.rc, r.err) == (255, "400 not enough arguments\npct status <vmid> [OPTIONS]\n")
    r = node.pct("status", "100", "101")
    assert (r.rc, r.err) == (255, "400 too many arguments\npct status <vmid> [OPTIONS]\n")


def test_s1_option_forms_double_dash_equals_and_single_dash(node):
    node.create(100)
    assert node.pct("set", "100", "--memory=1024").rc == 0
    assert "memory: 1024\n" in node.conf(100)
    assert node.pct("set", "-memory", "2048", "100").rc == 0
    assert "memory: 2048\n" in node.conf(100)
    assert node.pct("set", "100", "--onboot").rc == 0
    assert "onboot: 1\n" in node.conf(100)
    assert node.pct("set", "100", "--onboot", "no").rc == 0
    assert "onboot: 0\n" in node.conf(100)


def test_s1_parameter_errors_one_line_each_format_errors_add_empty_line(node):
    r = node.pct("set", "100", "--memory", "abc", "--hostname", "bad_name")
    assert r.rc == 255
    assert r.out == ""
    assert r.err == (
        "400 Parameter verification failed.\n"
        "memory: type check ('integer') failed - got 'abc'\n"
        "hostname: invalid format - value does not look like a valid DNS name\n"
        "\n"
        "pct set <vmid> [OPTIONS]\n"
    )


def test_s1_config_lock_wait_prints_trying_then_ok(node):
    node.create(100)
    lockfile = node.path("/run/lock/lxc/pve-config-100.lock")
    with open(lockfile, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        p = node.popen("pct", "set", "100", "--memory", "1024")
        seen = b""
        while not seen.endswith(b"trying to acquire lock..."):
            chunk = os.read(p.stderr.fileno(), 100)
            assert chunk, seen
            seen += chunk
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0
    assert (seen + err).decode() == "trying to acquire lock... OK\n"
    assert "memory: 1024\n" in node.conf(100)


@pytest.mark.slow
def test_s1_config_lock_timeout_message_create_waits_5s(node):
    lockfile = node.path("/run/lock/lxc/pve-config-100.lock")
    with open(lockfile, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        t0 = time.monotonic()
        r = node.pct("create", "100", "local:vztmpl/busybox-1.35_amd64.tar.zst", "--rootfs", "local-zfs:1")
        waited = time.monotonic() - t0
    assert r.rc != 0
    assert r.err == (
        "trying to acquire lock... failed\n"
        "unable to create CT 100 - can't lock file '/run/lock/lxc/pve-config-100.lock' - got timeout\n"
    )
    assert 5 <= waited < 9
    assert node.vmlist() == {}


def test_s1_calls_are_logged_with_their_exit_code(node):
    node.pct("status", "123")
    r = node.run("cat", "/var/lib/pvesim/calls.jsonl")
    assert '"argv": ["pct", "status", "123"], "rc": 2' in r.out
