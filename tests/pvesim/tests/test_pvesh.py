"""`pvesh get` contract (pve-cli-facts §5 nextid, §9 state reads)."""

import json

import pytest
from test_storage_support import Node

USAGE = "pvesh get <api_path> [OPTIONS] [FORMAT_OPTIONS]\n"
CT_CONF = (
    "arch: amd64\n"
    "cores: 2\n"
    "hostname: web01\n"
    "memory: 1024\n"
    "ostype: debian\n"
    "rootfs: local-zfs:subvol-100-disk-0,size=8G\n"
    "swap: 512\n"
    "tags: a;b\n"
)


@pytest.fixture
def node(tmp_path):
    return Node.init(tmp_path)


def _add_ct(node, vmid=100, conf=CT_CONF):
    """A stopped CT: its config on this node and its .vmlist entry (what pct create leaves)."""
    r = node.run(
        "python3",
        "-c",
        "import sys; sys.path.insert(0, sys.argv[1]); from pvesim import node; node.register_guest(sys.argv[2], 'lxc')",
        _pvesim_dir(),
        str(vmid),
    )
    assert r.rc == 0, r
    node.write("/etc/pve/nodes/%s/lxc/%d.conf" % (node.name, vmid), conf)


def _pvesim_dir():
    from test_storage_support import PVESIM_DIR

    return PVESIM_DIR


def _compact(data):
    return json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n"


# ---------------------------------------------------------------- nextid (§5)


def test_s5_pvesh_nextid_text_and_json(node):
    r = node.batch(
        ["pvesh", "get", "/cluster/nextid"],
        ["pvesh", "get", "/cluster/nextid", "--output-format", "json"],
        ["pvesh", "get", "cluster/nextid/", "--output-format=json-pretty"],
    )
    assert [(x.rc, x.out, x.err) for x in r] == [(0, "100\n", "")] * 3


def test_s5_pvesh_nextid_skips_guests_of_both_types(node):
    _add_ct(node, 100)
    assert node.pvesim("seed-vm", "--root", node.root, "101").rc == 0
    r = node.run("pvesh", "get", "/cluster/nextid")
    assert r.out == "102\n"


def test_s5_pvesh_nextid_with_vmid(node):
    _add_ct(node, 100)
    r = node.batch(
        ["pvesh", "get", "/cluster/nextid", "--vmid", "105"],
        ["pvesh", "get", "/cluster/nextid", "--vmid", "100"],
        ["pvesh", "get", "/cluster/nextid", "--vmid", "abc"],
        ["pvesh", "get", "/cluster/nextid", "--vmid", "99"],
    )
    assert (r[0].rc, r[0].out) == (0, "105\n")
    assert (r[1].rc, r[1].out) == (255, "")
    assert r[1].err == "400 Parameter verification failed.\nvmid: VM 100 already exists\n" + USAGE
    assert r[2].err == "400 Parameter verification failed.\nvmid: type check ('integer') failed - got 'abc'\n" + USAGE
    assert r[3].err == (
        "400 Parameter verification failed.\nvmid: invalid format - value does not look like a valid VM ID\n\n" + USAGE
    )


def test_s5_pvesh_nextid_honours_datacenter_next_id(node):
    node.write("/etc/pve/datacenter.cfg", "keyboard: en-us\nnext-id: lower=5000,upper=5002\n")
    _add_ct(node, 5000)
    r = node.run("pvesh", "get", "/cluster/nextid")
    assert r.out == "5001\n"
    _add_ct(node, 5001)
    r = node.run("pvesh", "get", "/cluster/nextid")
    assert (r.rc, r.err) == (255, "unable to get any free VMID in range [5000, 5002]\n")


# ---------------------------------------------------------------- /nodes/<node>/lxc (§9)


def test_s9_pvesh_lxc_list_json_is_compact_sorted_and_newline_terminated(node):
    r = node.run("pvesh", "get", "/nodes/localhost/lxc", "--output-format", "json")
    assert (r.rc, r.out, r.err) == (0, "[]\n", "")
    _add_ct(node, 100)
    _add_ct(node, 101, "hostname: db\nmemory: 512\nrootfs: local-zfs:subvol-101-disk-0,size=4G\n")
    r = node.batch(
        ["pvesh", "get", "/nodes/localhost/lxc", "--output-format", "json"],
        ["pvesh", "get", "/nodes/pve/lxc", "--output-format", "json"],
    )
    data = json.loads(r[0].out)
    assert r[0].out == _compact(data)
    assert r[1].out == r[0].out
    by_id = {d["vmid"]: d for d in data}
    assert sorted(by_id) == [100, 101]
    ct = by_id[100]
    for key in (
        "vmid",
        "status",
        "name",
        "type",
        "cpus",
        "cpu",
        "mem",
        "maxmem",
        "swap",
        "maxswap",
        "disk",
        "maxdisk",
        "netin",
        "netout",
        "diskread",
        "diskwrite",
        "uptime",
    ):
        assert key in ct, key
    assert (ct["status"], ct["name"], ct["type"], ct["cpu"]) == ("stopped", "web01", "lxc", 0)
    assert (ct["maxmem"], ct["maxswap"], ct["maxdisk"], ct["cpus"]) == (1073741824, 536870912, 8589934592, 2)
    assert ct["tags"] == "a;b"
    assert "pid" not in ct and "ha" not in ct


def test_s9_pvesh_status_current_adds_ha(node):
    _add_ct(node, 100)
    r = node.batch(
        ["pvesh", "get", "/nodes/localhost/lxc/100/status/current", "--output-format", "json"],
        ["pvesh", "get", "/nodes/localhost/lxc/100/status/current", "--output-format", "json-pretty"],
    )
    data = json.loads(r[0].out)
    assert r[0].out == _compact(data)
    assert data["ha"] == {"managed": 0}
    assert (data["vmid"], data["status"], data["name"]) == (100, "stopped", "web01")
    pretty = r[1].out
    assert json.loads(pretty) == data
    assert pretty.startswith('{\n   "cpu" : 0,\n   "cpus" : 2,\n')
    assert '   "ha" : {\n      "managed" : 0\n   },\n' in pretty
    assert pretty.endswith('   "vmid" : 100\n}\n')


def test_s9_pvesh_status_current_of_a_missing_ct(node):
    r = node.run("pvesh", "get", "/nodes/localhost/lxc/999/status/current", "--output-format", "json")
    assert r.rc != 0 and r.out == ""
    assert r.err == "Configuration file 'nodes/pve/lxc/999.conf' does not exist\n"


def test_s9_pvesh_text_output_is_a_table(node):
    _add_ct(node, 100)
    r = node.batch(
        ["pvesh", "get", "/nodes/localhost/lxc"],
        ["pvesh", "get", "/nodes/localhost/lxc", "--noborder"],
    )
    assert r[0].rc == 0
    lines = r[0].out.split("\n")
    assert lines[0].startswith("┌") and lines[-2].startswith("└")
    assert "│ vmid " in lines[1] and "│ web01 " in r[0].out
    assert r[1].out.split("\n")[0].startswith("vmid ")
    assert "web01" in r[1].out.split("\n")[1]


# ---------------------------------------------------------------- errors (§9, §1)


def test_s9_pvesh_unknown_path_exits_1(node):
    r = node.run("pvesh", "get", "/foo/bar")
    assert (r.rc, r.out, r.err) == (1, "", "No 'get' handler defined for '/foo/bar'\n")


def test_s9_pvesh_other_node_hostname_lookup_fails(node):
    r = node.run("pvesh", "get", "/nodes/pve9/lxc", "--output-format", "json")
    assert r.rc != 0 and r.out == ""
    assert r.err.startswith("hostname lookup 'pve9' failed - ")


def test_s1_pvesh_parameter_errors_use_the_pvesh_usage(node):
    r = node.batch(
        ["pvesh", "get", "/nodes/localhost/lxc", "--output-format", "xml"],
        ["pvesh", "get", "/nodes/localhost/lxc", "--bogus", "1"],
        ["pvesh", "get"],
    )
    assert (r[0].rc, r[0].out) == (255, "")
    assert r[0].err == (
        "400 Parameter verification failed.\n"
        "output-format: value 'xml' does not have a value in the enumeration 'json, json-pretty, text, yaml'\n" + USAGE
    )
    assert r[1].err == (
        "400 Parameter verification failed.\n"
        "bogus: property is not defined in schema and the schema does not allow additional properties\n" + USAGE
    )
    assert (r[2].rc, r[2].err) == (255, "400 not enough arguments\n" + USAGE)
