"""_node.ctconf: nexcage's raw lxc.* lines are rewritten under the config lock; every other byte stays."""

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import NOT_FOUND, TIMEOUT, NexcageError
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import ctconf, files, paths
from ansible_collections.cageforge.nexcage.plugins.module_utils._validation import ValidationError

CONF = (
    "#my note\n"
    "arch: amd64\n"
    "hostname: web\n"
    "lxc.apparmor.profile: unconfined\n"
    "lxc.init.cmd: /bin/old\n"
    "lxc.hook.autodev: /usr/share/lxc/hooks/admin-owned\n"
    "memory: 512\n"
    "\n"
    "[snap1]\n"
    "lxc.init.cmd: /bin/snapshot\n"
    "memory: 256\n"
)


def write(node_root, text, vmid=101):
    path = node_root / ("etc/pve/lxc/%d.conf" % vmid)
    path.write_bytes(text.encode())
    return path


def test_replaces_owned_lines_in_place(node_root):
    path = write(node_root, CONF)
    changed, before, after = ctconf.set_raw_lxc_lines(101, [("lxc.init.cmd", "/bin/new"), ("lxc.init.cwd", "/srv")])
    assert changed
    assert before == [("lxc.apparmor.profile", "unconfined"), ("lxc.init.cmd", "/bin/old")]
    assert after == [("lxc.init.cmd", "/bin/new"), ("lxc.init.cwd", "/srv")]
    assert path.read_text() == (
        "#my note\n"
        "arch: amd64\n"
        "hostname: web\n"
        "lxc.init.cmd: /bin/new\n"
        "lxc.init.cwd: /srv\n"
        "lxc.hook.autodev: /usr/share/lxc/hooks/admin-owned\n"
        "memory: 512\n"
        "\n"
        "[snap1]\n"
        "lxc.init.cmd: /bin/snapshot\n"
        "memory: 256\n"
    )


def test_converged_file_is_not_written(node_root):
    path = write(node_root, CONF)
    before = path.stat().st_mtime_ns, path.stat().st_ino
    changed, _before, _after = ctconf.set_raw_lxc_lines(
        101, [("lxc.apparmor.profile", "unconfined"), ("lxc.init.cmd", "/bin/old")]
    )
    assert not changed
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before


def test_lines_are_added_at_the_end_of_the_main_section(node_root):
    path = write(node_root, "arch: amd64\r\nmemory: 512\n\n\n[snap]\nmemory: 1\n")
    ctconf.set_raw_lxc_lines(101, [("lxc.init.cmd", "/bin/sh")])
    assert path.read_bytes() == b"arch: amd64\r\nmemory: 512\nlxc.init.cmd: /bin/sh\n\n\n[snap]\nmemory: 1\n"


def test_a_file_without_final_newline(node_root):
    path = write(node_root, "memory: 512")
    ctconf.set_raw_lxc_lines(101, [("lxc.init.cmd", "/bin/sh")])
    assert path.read_text() == "memory: 512\nlxc.init.cmd: /bin/sh\n"


def test_removing_every_owned_line_keeps_the_rest_byte_for_byte(node_root):
    path = write(node_root, CONF)
    ctconf.set_raw_lxc_lines(101, [])
    assert path.read_text() == CONF.replace("lxc.apparmor.profile: unconfined\nlxc.init.cmd: /bin/old\n", "")


def test_check_mode_writes_nothing(node_root):
    path = write(node_root, CONF)
    changed, _before, _after = ctconf.set_raw_lxc_lines(101, [("lxc.init.cmd", "/bin/new")], check_mode=True)
    assert changed and path.read_text() == CONF


def test_missing_config(node_root):
    with pytest.raises(NexcageError) as info:
        ctconf.set_raw_lxc_lines(999, [("lxc.init.cmd", "/bin/sh")])
    assert info.value.category == NOT_FOUND
    assert ctconf.set_raw_lxc_lines(999, [("lxc.init.cmd", "/bin/sh")], check_mode=True)[0] is True


@pytest.mark.parametrize(
    "line",
    [
        ("lxc.init.cwd", "/srv\nlxc.hook.pre-start: /tmp/evil"),
        ("lxc.init.cwd", "/srv\rlxc.hook.pre-start: /tmp/evil"),
        ("lxc.environment", "A=\0"),
        ("lxc.environment", "A=\x1b[31m"),
        ("lxc.environment", "A=\x7f"),
        ("lxc.init.cmd\nlxc.hook.pre-start", "/tmp/evil"),
        ("lxc.hook.pre-start", "/tmp/evil"),
        ("lxc.include", "/tmp/evil.conf"),
        ("lxc.rootfs.path", "/"),
    ],
)
def test_hostile_lines_are_refused_before_the_file_is_touched(node_root, line):
    path = write(node_root, CONF)
    with pytest.raises(ValidationError):
        ctconf.set_raw_lxc_lines(101, [("lxc.init.cmd", "/bin/ok"), line])
    assert path.read_text() == CONF
    assert "lxc.hook.pre-start" not in path.read_text()


def test_lock_timeout(node_root):
    write(node_root, CONF)
    with files.locked(paths.config_lock(101), 1, "held"):
        with pytest.raises(NexcageError) as info:
            ctconf.set_raw_lxc_lines(101, [("lxc.init.cmd", "/bin/new")], timeout=0.1)
    assert info.value.category == TIMEOUT
    assert info.value.message == "can't lock file '%s' - got timeout" % paths.config_lock(101)
