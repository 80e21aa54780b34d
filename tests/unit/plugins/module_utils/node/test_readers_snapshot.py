"""_node.readers.snapshot(): inside it each node file is read once (for a batch of containers)."""

import threading

from ansible_collections.cageforge.nexcage.plugins.module_utils._node import readers


def _conf(node_root, vmid, hostname):
    (node_root / "etc/pve/lxc" / ("%d.conf" % vmid)).write_text("hostname: %s\nmemory: 512\n" % hostname)


def test_inside_a_snapshot_each_file_is_read_once(node_root):
    _conf(node_root, 100, "a")
    with readers.snapshot():
        assert readers.ct_hostnames() == {100: "a"}
        _conf(node_root, 100, "b")  # a change behind its back is not seen ...
        _conf(node_root, 101, "c")
        assert readers.ct_hostnames() == {100: "a"}
        assert readers.ct_config(100)["hostname"] == "a"
        readers.forget()  # ... until it forgets
        assert readers.ct_hostnames() == {100: "b", 101: "c"}
    assert readers.read_vmlist() == {}


def test_outside_a_snapshot_and_in_other_threads_reads_are_fresh(node_root):
    _conf(node_root, 100, "a")
    seen = []
    with readers.snapshot():
        readers.ct_config(100)
        _conf(node_root, 100, "b")
        worker = threading.Thread(target=lambda: seen.append(readers.ct_config(100)["hostname"]))
        worker.start()
        worker.join()
    assert seen == ["b"]
    assert readers.ct_config(100)["hostname"] == "b"


def test_reserved_vmids_count_as_taken_only_inside_the_snapshot(node_root):
    with readers.snapshot():
        readers.assume_taken(100)
        assert readers.ct_exists(100) is True and readers.ct_exists(101) is False
        readers.forget()
        assert readers.ct_exists(100) is True  # a reservation survives forget()
        assert readers.read_vmlist() == {}  # and is not a guest
    assert readers.ct_exists(100) is False


def test_storage_cfg_is_read_once_per_snapshot_through_either_reader(node_root):
    from ansible_collections.cageforge.nexcage.plugins.module_utils._node import storagecfg

    (node_root / "etc/pve/storage.cfg").write_text("dir: local\n\tpath /var/lib/vz\n")
    with readers.snapshot():
        assert set(readers.read_storage_cfg()) == {"local"}
        (node_root / "etc/pve/storage.cfg").write_text("dir: other\n\tpath /srv\n")
        # what a bundle's template source reads (without the container config parser): the same snapshot
        assert set(storagecfg.read_storage_cfg()) == {"local"}
        readers.forget()
        assert set(storagecfg.read_storage_cfg()) == {"other"}
    assert set(readers.read_storage_cfg()) == {"other"}
