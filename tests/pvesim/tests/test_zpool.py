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
