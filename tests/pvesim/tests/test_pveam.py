"""`pveam` contract (pve-cli-facts §1, §6): list, available, download, remove, update."""

import hashlib
import os

import pytest
from test_storage_support import Node

from pvesim import setup

DEBIAN = "debian-12-standard_12.7-1_amd64.tar.zst"
URL = "http://download.proxmox.com/images/system/" + DEBIAN
DEST = "/var/lib/vz/template/cache/" + DEBIAN


@pytest.fixture
def node(tmp_path):
    return Node.init(tmp_path)


def _expected_sha512(node, name):
    for entry in setup.parse_aplinfo(node.read(setup.PVEAM_INDEX)):
        if entry["Location"].endswith("/" + name):
            return entry["sha512sum"]
    raise AssertionError(name)


def only_busybox(node):
    """The listing tests expect the busybox template alone: drop the Debian template that nodes get
    once scripts/build-debian-template.sh has built it (a link in this node; build/ is untouched)."""
    path = node.path("/var/lib/vz/template/cache/" + setup.DEBIAN_TEMPLATE)
    if os.path.exists(path):
        os.unlink(path)


def test_s6_pveam_list_layout(node):
    only_busybox(node)
    r = node.run("pveam", "list", "local")
    size = os.path.getsize(node.path("/var/lib/vz/template/cache/busybox-1.35_amd64.tar.zst"))
    assert (r.rc, r.err) == (0, "")
    assert r.out == "%-60s %s\n%-60s %4.2fMB\n" % (
        "NAME",
        "SIZE",
        "local:vztmpl/busybox-1.35_amd64.tar.zst",
        size / 1048576.0,
    )


def test_s6_pveam_list_errors(node):
    r = node.batch(["pveam", "list", "nope"], ["pveam", "list", "local-zfs"])
    assert (r[0].rc, r[0].out, r[0].err) == (255, "", "storage 'nope' does not exist\n")
    assert (r[1].rc, r[1].err) == (255, "Storage does not support templates!\n")


def test_s6_pveam_available_layout_and_section(node):
    r = node.batch(
        ["pveam", "available"],
        ["pveam", "available", "--section", "system"],
        ["pveam", "available", "--section", "mail"],
        ["pveam", "available", "--section", "bogus"],
    )
    names = sorted(t[0] for t in setup.TEMPLATES)
    assert r[0].out == "".join("%-15s %-60s %s\n" % ("system", n, "amd64") for n in names)
    assert r[0].out.startswith("system          alpine-3.22-default_20250617_amd64.tar.xz ")
    assert r[1].out == r[0].out
    assert (r[2].rc, r[2].out) == (0, "")
    assert (r[3].rc, r[3].out) == (255, "")
    assert r[3].err == (
        "400 Parameter verification failed.\n"
        "section: value 'bogus' does not have a value in the enumeration 'system, mail, turnkeylinux'\n"
        "pveam available [OPTIONS]\n"
    )


def test_s6_pveam_download_prints_the_task_lines_and_verifies(node):
    r = node.run("pveam", "download", "local", DEBIAN)
    assert (r.rc, r.err) == (0, "")
    assert r.out == (
        "downloading %s to %s\n"
        "calculating checksum...OK, checksum verified\n"
        "download of '%s' to '%s' finished\n" % (URL, DEST, URL, DEST)
    )
    with open(node.path(DEST), "rb") as f:
        assert hashlib.sha512(f.read()).hexdigest() == _expected_sha512(node, DEBIAN)
    assert not [n for n in os.listdir(node.path("/var/lib/vz/template/cache")) if ".tmp_dwnl." in n]


def test_s6_pveam_download_is_idempotent(node):
    r = node.batch(["pveam", "download", "local", DEBIAN], ["pveam", "download", "local", DEBIAN])
    assert (r[1].rc, r[1].err) == (0, "")
    assert r[1].out == (
        "downloading %s to %s\n"
        "calculating checksum of existing file...OK, got correct file already, no need to download\n" % (URL, DEST)
    )


def test_s6_pveam_download_unknown_template_is_a_400(node):
    r = node.run("pveam", "download", "local", "nope.tar.zst")
    assert (r.rc, r.out) == (255, "")
    assert r.err == (
        "400 Parameter verification failed.\ntemplate: no such template\npveam download <storage> <template>\n"
    )


def test_s6_pveam_download_storage_without_templates(node):
    r = node.batch(["pveam", "download", "local-zfs", DEBIAN], ["pveam", "download", "nope", DEBIAN])
    assert (r[0].rc, r[0].out, r[0].err) == (255, "", "storage 'local-zfs' does not support templates\n")
    assert (r[1].rc, r[1].err) == (255, "storage 'nope' does not exist\n")


def test_s6_pveam_download_checksum_mismatch_fails_the_task_but_exits_0(node):
    node.write(DEST, "not the template")
    r = node.run("pveam", "download", "local", DEBIAN)
    got = hashlib.sha512(b"not the template").hexdigest()
    assert r.rc == 0
    assert r.out == "downloading %s to %s\ncalculating checksum of existing file...\n" % (URL, DEST)
    assert r.err == "checksum mismatch: got '%s' != expect '%s', aborting\n" % (got, _expected_sha512(node, DEBIAN))


def test_s6_pveam_download_corrupt_source_leaves_no_file(node):
    node.write("/var/lib/pvesim/catalogue/system/" + DEBIAN, "corrupt")
    r = node.run("pveam", "download", "local", DEBIAN)
    assert r.rc == 0
    assert r.out == "downloading %s to %s\ncalculating checksum...\n" % (URL, DEST)
    assert r.err.startswith("checksum mismatch: got '%s' != expect '" % hashlib.sha512(b"corrupt").hexdigest())
    assert not os.path.exists(node.path(DEST))
    assert not [n for n in os.listdir(node.path("/var/lib/vz/template/cache")) if ".tmp_dwnl." in n]


def test_s6_pveam_remove_deletes_without_output(node):
    r = node.batch(
        ["pveam", "download", "local", DEBIAN],
        ["pveam", "remove", "local:vztmpl/" + DEBIAN],
        ["pveam", "list", "local"],
    )
    assert (r[1].rc, r[1].out, r[1].err) == (0, "", "")
    assert not os.path.exists(node.path(DEST))
    assert DEBIAN not in r[2].out


def test_s6_pveam_update_success_and_failure_both_exit_0(node):
    r = node.run("pveam", "update")
    assert (r.rc, r.out, r.err) == (0, "update successful\n", "")
    os.unlink(node.path("/var/lib/pvesim/catalogue/aplinfo.dat"))
    r = node.run("pveam", "update")
    assert (r.rc, r.out, r.err) == (0, "", "update failed - see /var/log/pveam.log for details\n")
