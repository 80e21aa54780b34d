"""_node.files: atomic writes (no symlink followed, nothing left behind), reads, the one lock helper."""

import os
import threading
import time

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import LOCKED, TIMEOUT, NexcageError
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import files


def test_atomic_write_replaces_and_sets_mode(tmp_path):
    target = tmp_path / "a.conf"
    target.write_text("old\n")
    files.atomic_write(str(target), "new\n", 0o640)
    assert target.read_text() == "new\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["a.conf"]


def test_atomic_write_bytes_and_makedirs(tmp_path):
    target = tmp_path / "sub/dir/state.json"
    files.atomic_write(str(target), b"{}", makedirs=True)
    assert target.read_bytes() == b"{}"


def test_atomic_write_replaces_a_symlink_and_does_not_follow_it(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    link = tmp_path / "a.conf"
    link.symlink_to(victim)
    files.atomic_write(str(link), "new")
    assert victim.read_text() == "keep"
    assert not link.is_symlink() and link.read_text() == "new"


def test_atomic_write_refuses_a_planted_temp_symlink(tmp_path, monkeypatch):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    monkeypatch.setattr(os, "unlink", lambda path: None)  # the planted link survives the clean-up
    (tmp_path / (".a.conf.tmp.%d" % os.getpid())).symlink_to(victim)
    with pytest.raises(FileExistsError):
        files.atomic_write(str(tmp_path / "a.conf"), "new")
    assert victim.read_text() == "keep"


def test_atomic_write_failure_leaves_no_temp(tmp_path, monkeypatch):
    def broken(src, dst):
        raise OSError("no")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        files.atomic_write(str(tmp_path / "a.conf"), "x")
    assert os.listdir(tmp_path) == []


def test_read_text(tmp_path):
    path = tmp_path / "f"
    assert files.read_text(str(path)) is None
    assert files.read_text(str(path), "") == ""
    path.write_bytes(b"a\r\nb\xff")
    assert files.read_text(str(path)) == "a\r\nb\ufffd"
    assert files.read_text(str(tmp_path / "f/x")) is None


def test_locked_times_out_with_the_callers_message(tmp_path):
    lock = str(tmp_path / "locks/x.lock")
    with files.locked(lock, 1, "first"):
        assert files.is_locked(lock) is True
        with pytest.raises(NexcageError) as info:
            with files.locked(lock, 0.1, "the lock is held", category=LOCKED, hint="retry"):
                pass
    assert (info.value.category, info.value.message, info.value.hint) == (LOCKED, "the lock is held", "retry")
    assert files.is_locked(lock) is False
    assert files.is_locked(str(tmp_path / "missing.lock")) is False
    with files.locked(lock, 0.1, "free again"):
        pass


def test_locked_default_category_is_timeout(tmp_path):
    lock = str(tmp_path / "x.lock")
    with files.locked(lock, 1, "first"):
        with pytest.raises(NexcageError) as info:
            with files.locked(lock, 0, "held"):
                pass
    assert info.value.category == TIMEOUT


def test_locked_waits_for_release(tmp_path):
    lock = str(tmp_path / "x.lock")
    entered = threading.Event()

    def holder():
        with files.locked(lock, 1, "holder"):
            entered.set()
            time.sleep(0.2)

    thread = threading.Thread(target=holder)
    thread.start()
    entered.wait()
    with files.locked(lock, 5, "waiter"):
        pass
    thread.join()


def test_locked_does_not_follow_a_symlink(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "x.lock").symlink_to(victim)
    with pytest.raises(OSError):
        with files.locked(str(tmp_path / "x.lock"), 0.1, "x"):
            pass


def test_remove(tmp_path):
    path = tmp_path / "f"
    path.write_text("")
    assert files.remove(str(path)) is True
    assert files.remove(str(path)) is False


def test_remove_tree_removes_and_never_follows_a_link(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    top = tmp_path / "run/101"
    (top / "sub").mkdir(parents=True)
    (top / "state.json").write_text("{}")
    (top / "sub/log").write_text("")
    (top / "link").symlink_to(outside)
    assert files.remove_tree(str(top)) == []
    assert not top.exists() and (outside / "keep").read_text() == "x"
