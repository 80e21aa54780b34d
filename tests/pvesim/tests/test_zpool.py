"""Simulated `zpool` (OpenZFS 2.x): list and status, and degrading a pool for tests."""

import pytest
from test_storage_support import Node

from pvesim import zfsdb


@pytest.fixture
def node(tmp_path):
    return Node.init(tmp_path)


def test_zpool_list_scripted_columns(node):
    r = node.batch(
        ["zpool", "list", "-H", "-o", "name,health,size,alloc,free"],
        ["zpool", "list", "-H", "-p", "-o", "name,health,size,alloc,free"],
    )
    size = zfsdb.nicebytes(_pool_size(node))
    assert (r[0].rc, r[0].err) == (0, "")
    name, health, hsize, alloc, free = r[0].out.rstrip("\n").split("\t")
    assert (name, health, hsize, alloc) == ("rpool", "ONLINE", size, "192K")
    assert free == zfsdb.nicebytes(_pool_size(node) - 196608)
    assert r[1].out == "rpool\tONLINE\t%d\t196608\t%d\n" % (_pool_size(node), _pool_size(node) - 196608)


def _pool_size(node):
    with zfsdb.db(node.root) as d:
        return d.pool_size("rpool")


def test_zpool_list_default_layout(node):
    r = node.run("zpool", "list")
    size = zfsdb.nicebytes(_pool_size(node))
    free = zfsdb.nicebytes(_pool_size(node) - 196608)
    assert r.out == (
        "NAME    SIZE  ALLOC   FREE  CKPOINT  EXPANDSZ   FRAG    CAP  DEDUP    HEALTH  ALTROOT\n"
        "rpool  %5s   192K  %5s        -         -     0%%     0%%  1.00x    ONLINE  -\n" % (size, free)
    )


def test_zpool_pool_size_is_fixed_at_init_in_whole_gib(node):
    assert _pool_size(node) % (1 << 30) == 0
    assert _pool_size(node) > 0


def test_zpool_status_x_healthy_then_degraded(node):
    r = node.batch(["zpool", "status", "-x"], ["zpool", "status", "-x", "rpool"])
    assert (r[0].rc, r[0].out, r[0].err) == (0, "all pools are healthy\n", "")
    assert r[1].out == "pool 'rpool' is healthy\n"
    zfsdb.set_pool_health("rpool", "DEGRADED", root=node.root)
    r = node.batch(["zpool", "status", "-x"], ["zpool", "list", "-H", "-o", "health"])
    assert r[0].rc == 0
    assert r[0].out.startswith("  pool: rpool\n state: DEGRADED\nstatus: One or more devices could not be used")
    assert "errors: No known data errors\n" in r[0].out
    assert r[1].out == "DEGRADED\n"


def test_zpool_status_full_and_missing_pool(node):
    r = node.batch(["zpool", "status"], ["zpool", "status", "nopool"], ["zpool", "list", "nopool"])
    assert r[0].out.startswith("  pool: rpool\n state: ONLINE\n")
    assert "\trpool       ONLINE       0     0     0\n" in r[0].out
    assert (r[1].rc, r[1].err) == (1, "cannot open 'nopool': no such pool\n")
    assert (r[2].rc, r[2].err) == (1, "cannot open 'nopool': no such pool\n")


def test_zpool_bad_property_is_a_usage_error(node):
    r = node.run("zpool", "list", "-o", "bogus")
    assert r.rc == 2
    assert r.err.startswith("property 'bogus' is not a valid pool property\nusage:\n")


def test_zfsdb_set_pool_health_unknown_pool(node):
    with pytest.raises(zfsdb.ZfsError) as e:
        zfsdb.set_pool_health("nopool", "DEGRADED", root=node.root)
    assert e.value.message == "cannot open 'nopool': no such pool"


def test_zpool_get_version_as_community_general_zfs_reads_it(node):
    """community.general.zfs runs `zpool get version <pool>` and takes the last line's third word:
    '-' on a feature-flags pool (every pool OpenZFS 2.x and PVE make)."""
    r = node.batch(
        ["zpool", "get", "version", "rpool"],
        ["zpool", "get", "-H", "-p", "-o", "value", "version", "rpool"],
    )
    assert (r[0].rc, r[0].err) == (0, "")
    assert r[0].out == "NAME   PROPERTY  VALUE    SOURCE\nrpool  version   -        default\n"
    assert r[0].out.splitlines()[-1].split()[2] == "-"
    assert r[1].out == "-\n"


def test_zpool_get_several_properties_scripted_and_parsable(node):
    size = _pool_size(node)
    r = node.batch(
        ["zpool", "get", "-H", "size,health,ashift,cap", "rpool"],
        ["zpool", "get", "-Hp", "-o", "property,value,source", "size,free,allocated,fragmentation", "rpool"],
    )
    assert r[0].out.splitlines() == [
        "rpool\tsize\t%s\t-" % zfsdb.nicebytes(size),
        "rpool\thealth\tONLINE\t-",
        "rpool\tashift\t12\tlocal",
        "rpool\tcapacity\t0%\t-",
    ]
    assert r[1].out == "size\t%d\t-\nfree\t%d\t-\nallocated\t196608\t-\nfragmentation\t0\t-\n" % (
        size,
        size - 196608,
    )


def test_zpool_get_column_widths_follow_the_widest_property(node):
    r = node.run("zpool", "get", "health,delegation,failmode", "rpool")
    assert r.out == (
        "NAME   PROPERTY    VALUE       SOURCE\n"
        "rpool  health      ONLINE      -\n"
        "rpool  delegation  on          default\n"
        "rpool  failmode    wait        default\n"
    )


def test_zpool_get_all_in_openzfs_order(node):
    r = node.run("zpool", "get", "-H", "-o", "property,source", "all", "rpool")
    props = [line.split("\t")[0] for line in r.out.splitlines()]
    assert props[:7] == ["size", "capacity", "altroot", "health", "guid", "version", "bootfs"]
    assert "autotrim\tdefault" in r.out.splitlines() and "readonly\t-" in r.out.splitlines()
    assert len(props) == len(set(props)) > 20


def test_zpool_get_refusals(node):
    r = node.batch(
        ["zpool", "get", "version", "nopool"],
        ["zpool", "get", "bogus", "rpool"],
        ["zpool", "get"],
        ["zpool", "get", "-o", "name,bogus", "version", "rpool"],
    )
    assert r[0].rc == 2 and r[0].err.startswith("missing pool name.\n\nusage:\n\tget [-Hp]")
    assert r[1].rc == 2 and r[1].err.startswith("bad property list: invalid property 'bogus'\nusage:\n")
    assert r[2].rc == 2 and r[2].err.startswith("missing property argument\nusage:\n")
    assert r[3].rc == 2 and r[3].err.startswith("invalid column name 'bogus'\nusage:\n")
