"""Error mapping: every pattern checked against the verbatim PVE strings of pve-cli-facts.md."""

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils import _errors
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import CommandResult

PARAM_BLOCK = """400 Parameter verification failed.
rootfs: invalid format - format error
rootfs.volume: property is missing and it is not optional

memory: type check ('integer') failed - got ''
vmid: type check ('integer') failed - got ''
net0: invalid format - missing key in comma-separated list property

storage: invalid format - storage ID '' contains illegal characters

pct create <vmid> <ostemplate> [OPTIONS]
"""

# (stderr, rc, expected category): verbatim strings from pve-cli-facts.md §1-§7
CASES = [
    (PARAM_BLOCK, 255, _errors.INVALID_ARGUMENT),
    ("Unknown option: foo\n400 unable to parse option\npct set <vmid> [OPTIONS]\n", 255, _errors.INVALID_ARGUMENT),
    ("400 unable to parse boolean option\n", 255, _errors.INVALID_ARGUMENT),
    ("400 not enough arguments\npct stop <vmid> [OPTIONS]\n", 255, _errors.INVALID_ARGUMENT),
    ("400 too many arguments\n", 255, _errors.INVALID_ARGUMENT),
    ("unable to modify read-only option: 'unprivileged'\n", 2, _errors.INVALID_ARGUMENT),
    ("unable to delete required option 'memory'\n", 2, _errors.INVALID_ARGUMENT),
    ("unable to use volume local:iso/x.iso - content type needs to be 'vztmpl'\n", 255, _errors.INVALID_ARGUMENT),
    ("unable to parse directory volume name 'vztmpl/x.zip'\n", 255, _errors.INVALID_ARGUMENT),
    ("file does not look like a template archive: /tmp/x.zip\n", 255, _errors.INVALID_ARGUMENT),
    ("unrecognized compression format: .xyz\n", 255, _errors.INVALID_ARGUMENT),
    ("/srv/../etc contains illegal character sequences\n", 255, _errors.INVALID_ARGUMENT),
    ("SSH public key validation error\n", 255, _errors.INVALID_ARGUMENT),
    ("unable to shrink disk size\n", 255, _errors.INVALID_ARGUMENT),
    ("disk is already at specified size\n", 255, _errors.INVALID_ARGUMENT),
    ("unable to use snapshot name 'current' (reserved name)\n", 255, _errors.INVALID_ARGUMENT),
    ("unable to remove CT 100 - used in HA resources and purge parameter not set.\n", 255, _errors.INVALID_ARGUMENT),
    ("mount points configured, but 'rootfs' not set - aborting\n", 255, _errors.INVALID_ARGUMENT),
    ("missing command at /usr/share/perl5/PVE/CLI/pct.pm line 230.\n", 255, _errors.INVALID_ARGUMENT),
    ("no options specified\n", 255, _errors.INVALID_ARGUMENT),
    ("unable to create CT 100 - unable to detect OS distribution\n", 255, _errors.INVALID_ARGUMENT),
    ("CT 100 already exists on node 'pve'\n", 2, _errors.ALREADY_EXISTS),
    ("VM 100 already exists on node 'pve'\n", 2, _errors.ALREADY_EXISTS),
    ("400 Parameter verification failed.\nvmid: VM 105 already exists\n", 255, _errors.ALREADY_EXISTS),
    ("snapshot name 'snap1' already used\n", 255, _errors.ALREADY_EXISTS),
    ("Configuration file 'nodes/pve/lxc/100.conf' does not exist\n", 2, _errors.NOT_FOUND),
    ("storage 'nope' does not exist\n", 255, _errors.NOT_FOUND),
    ("unable to create CT 100 - volume 'local:vztmpl/x.tar.zst' does not exist\n", 255, _errors.NOT_FOUND),
    ("can't find file '/tmp/missing.tar.zst'\n", 255, _errors.NOT_FOUND),
    ("snapshot 'snap9' does not exist\n", 255, _errors.NOT_FOUND),
    ("400 Parameter verification failed.\ntemplate: no such template\n", 255, _errors.NOT_FOUND),
    ("bridge 'vmbr9' does not exist\n", 255, _errors.NOT_FOUND),
    ("directory '/srv/missing' does not exist\n", 255, _errors.NOT_FOUND),
    ("can't open '/tmp/keys' - No such file or directory\n", 255, _errors.NOT_FOUND),
    ("No 'get' handler defined for '/nodes/pve/foo'\n", 1, _errors.NOT_FOUND),
    ("400 Parameter verification failed.\nstorage: No such storage.\n", 255, _errors.NOT_FOUND),
    ("403 Permission check failed (pool 'x' does not exist)\n", 255, _errors.NOT_FOUND),
    ("no lock found trying to remove any lock\n", 255, _errors.NOT_FOUND),
    ("CT is locked (backup)\n", 255, _errors.LOCKED),
    ("unable to create CT 100 - CT is locked (create)\n", 255, _errors.LOCKED),
    (
        "trying to acquire lock...\ncan't lock file '/run/lock/lxc/pve-config-100.lock' - got timeout\n",
        255,
        _errors.LOCKED,
    ),
    ("detected modified configuration - file changed by other user? Try again.\n", 255, _errors.LOCKED),
    ("CT 100 not running\n", 255, _errors.NOT_RUNNING),
    ("VM 100 not running\n", 255, _errors.NOT_RUNNING),
    ("container '100' not running!\n", 255, _errors.NOT_RUNNING),
    ("can only push files to a running CT\n", 255, _errors.NOT_RUNNING),
    ("can only pull files from a running VM at /usr/share/perl5/PVE/CLI/pct.pm line 99.", 255, _errors.NOT_RUNNING),
    ("CT 100 already running\n", 255, _errors.ALREADY_RUNNING),
    ("can't overwrite running container\n", 255, _errors.ALREADY_RUNNING),
    ("unable to destroy CT 100 - container is running\n", 255, _errors.ALREADY_RUNNING),
    ("you can't convert a CT to template if the CT is running\n", 255, _errors.ALREADY_RUNNING),
    ("please run as root\n", 255, _errors.PERMISSION_DENIED),
    ("ipcc_send_rec[1] failed: Unknown error -1\n", 255, _errors.PERMISSION_DENIED),
    ("Only root can pass arbitrary filesystem paths.\n", 255, _errors.PERMISSION_DENIED),
    ("can't remove CT 100 - protection mode enabled\n", 255, _errors.PERMISSION_DENIED),
    (
        "400 Parameter verification failed.\nstorage: storage 'local' does not support container directories\n",
        255,
        _errors.UNSUPPORTED,
    ),
    ("Storage does not support templates!\n", 255, _errors.UNSUPPORTED),
    ("storage 'x' does not support templates\n", 255, _errors.UNSUPPORTED),
    ("storage 'nfs1' is disabled\n", 255, _errors.UNSUPPORTED),
    ("storage 'nfs1' is not available on node 'pve'\n", 255, _errors.UNSUPPORTED),
    ("storage 'nfs1' is not online\n", 255, _errors.UNSUPPORTED),
    ("snapshot feature is not available\n", 255, _errors.UNSUPPORTED),
    ("Template feature is not available for 'local:100/vm-100-disk-0.raw'\n", 255, _errors.UNSUPPORTED),
    ("Quotas are not supported by unprivileged containers.\n", 255, _errors.UNSUPPORTED),
    ("net0: SLAAC is not supported for host-managed network configuration.\n", 255, _errors.UNSUPPORTED),
    ("you can't start a CT if it's a template\n", 255, _errors.UNSUPPORTED),
    ("you can't convert a template to a template\n", 255, _errors.UNSUPPORTED),
    ("unable to create template, because CT contains snapshots\n", 255, _errors.UNSUPPORTED),
    ("ERROR: unknown command 'pct foo'\nUSAGE: pct <COMMAND> [ARGS] [OPTIONS]\n", 255, _errors.UNSUPPORTED),
    ("cluster not ready - no quorum?\n", 255, _errors.UNSUPPORTED),
    ("unable to get any free VMID in range [100, 1000000]\n", 255, _errors.RESOURCE_EXHAUSTED),
    ("unable to create CT 100 - No space left on device\n", 255, _errors.RESOURCE_EXHAUSTED),
    ("container did not stop\n", 255, _errors.TIMEOUT),
    ("timed out after 5 seconds", 124, _errors.TIMEOUT),
    ("", 124, _errors.TIMEOUT),
    ("startup for container '100' failed\n", 255, _errors.UNKNOWN),
    ("checksum mismatch: got 'ab' != expect 'cd'\n", 255, _errors.UNKNOWN),
    ("something nobody has seen before\n", 1, _errors.UNKNOWN),
    ("", 1, _errors.UNKNOWN),
]


@pytest.mark.parametrize("stderr,rc,category", CASES, ids=[c[0][:50] or "rc%d" % c[1] for c in CASES])
def test_classify(stderr, rc, category):
    assert _errors.classify(stderr, rc) == category


def test_every_category_is_reachable_and_hinted():
    reached = {c for _s, _r, c in CASES}
    assert reached == set(_errors.CATEGORIES)
    assert set(_errors.CATEGORY_HINTS) == set(_errors.CATEGORIES)


def test_parameter_errors():
    params = _errors.parameter_errors(PARAM_BLOCK)
    assert params["memory"] == "type check ('integer') failed - got ''"
    assert params["net0"] == "invalid format - missing key in comma-separated list property"
    assert params["rootfs.volume"] == "property is missing and it is not optional"
    assert "pct create <vmid> <ostemplate> [OPTIONS]" not in params
    assert _errors.parameter_errors("CT 100 not running") == {}


def test_match_lock_group_and_line():
    found = _errors.match("trying to acquire lock...\nCT is locked (backup)\n", 255)
    assert found.category == _errors.LOCKED
    assert found.groups["lock"] == "backup"
    assert found.line == "CT is locked (backup)"


def test_from_result_message_names_container_vmid_and_fix():
    res = CommandResult(["pct", "start", "100"], 255, "", "CT is locked (backup)\n", 0.1)
    err = _errors.error_from_result(res, "start", vmid=100, name="web01")
    data = err.to_dict()
    assert data["category"] == "locked"
    assert "web01" in data["message"] and "VMID 100" in data["message"]
    assert "CT is locked (backup)" in data["message"]
    assert "pct unlock 100" in data["hint"]
    assert data["cmd"] == "pct start 100" and data["rc"] == 255
    assert data["stderr"] == "CT is locked (backup)\n"


def test_from_result_parameter_block_lists_params():
    res = CommandResult(["pct", "create", "100", "x"], 255, "", PARAM_BLOCK, 0.1)
    err = _errors.error_from_result(res, "create", vmid=100)
    assert err.category == _errors.INVALID_ARGUMENT
    assert "memory: type check ('integer') failed - got ''" in err.message


def test_from_result_timeout():
    res = CommandResult(["pct", "start", "100"], 124, "", "timed out after 3 seconds", 3.0)
    err = _errors.error_from_result(res, "start", vmid=100)
    assert err.category == _errors.TIMEOUT
    assert "pct start 100" in err.message


def test_unknown_category_is_coerced():
    assert _errors.NexcageError("bogus", "m").category == _errors.UNKNOWN


def test_docs_catalogue_lists_every_category():
    import os

    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
    with open(os.path.join(top, "docs", "errors.md"), encoding="utf-8") as f:
        text = f.read()
    for category in _errors.CATEGORIES:
        assert "\n## %s\n" % category in text, category
