"""_node.reservations: a VMID reservation is live while its writer runs and it has not expired; a stale
one (writer gone, pid reused by another process, expired, unreadable) is ignored and swept."""

import json
import os
import subprocess
import sys

from ansible_collections.cageforge.nexcage.plugins.module_utils._node import files, paths, reservations


def _plant(vmid, **record):
    path = paths.vmid_reservation(vmid)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(record.pop("text", None) or json.dumps(record))
    return path


def _dead_pid():
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    return int(proc.stdout)


def test_a_reservation_is_held_until_released(node_root):
    reservations.reserve(105, "web01", 60)
    assert reservations.held() == {105: "web01"}
    record = json.loads(open(paths.vmid_reservation(105), encoding="utf-8").read())
    assert record["pid"] == os.getpid() and record["start"] == files.process_start(os.getpid())
    reservations.release(105)
    assert reservations.held() == {}
    reservations.release(105)  # twice is harmless


def test_nothing_reserved_without_the_directory(node_root):
    assert not os.path.exists(paths.vmid_reservation_dir())
    assert reservations.held() == {}


def test_stale_reservations_are_ignored_and_swept_only_when_asked(node_root):
    me, start = os.getpid(), files.process_start(os.getpid())
    live = _plant(100, pid=me, start=start, hostname="a", expires=4e9)
    stale = [
        _plant(101, pid=_dead_pid(), start=start, hostname="b", expires=4e9),  # its writer is gone
        _plant(102, pid=me, start=start - 1, hostname="c", expires=4e9),  # the pid now names another process
        _plant(103, pid=me, start=start, hostname="d", expires=1.0),  # expired (a hung writer)
        _plant(104, text="{not json"),
        _plant(106, pid=True, start=start, hostname="e", expires=4e9),
        _plant(107, text="[]"),
    ]
    assert reservations.held() == {100: "a"}
    assert all(os.path.exists(path) for path in stale)  # a reader alone removes nothing
    assert reservations.held(sweep=True) == {100: "a"}
    assert not any(os.path.exists(path) for path in stale) and os.path.exists(live)


def test_only_vmid_named_files_count(node_root):
    start = files.process_start(os.getpid())
    record = dict(pid=os.getpid(), start=start, hostname=None, expires=4e9)
    for name in ("0100", "99", ".101.tmp.5", "101.conf", "abc"):
        _plant(name, **record)
    _plant(108, **record)
    assert reservations.held(sweep=True) == {108: None}
    assert len(os.listdir(paths.vmid_reservation_dir())) == 6


def test_process_start_names_one_process():
    start = files.process_start(os.getpid())
    assert start is not None and files.process_start(os.getpid()) == start
    assert files.process_start(_dead_pid()) is None
