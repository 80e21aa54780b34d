"""_node.entries: the names, kinds and writability of node paths, a cgroup tree's processes and its removal."""

import os

from ansible_collections.cageforge.nexcage.plugins.module_utils._node import entries


def test_names_sorted_and_empty_when_unreadable(tmp_path):
    for name in ("b", "a", "c.conf"):
        (tmp_path / name).write_text("")
    assert entries.names(str(tmp_path)) == ["a", "b", "c.conf"]
    assert entries.names(str(tmp_path / "missing")) == []
    assert entries.names(str(tmp_path / "a")) == []  # a file, not a directory


def test_exists_counts_a_dangling_link_and_is_dir_does_not_follow_to_nothing(tmp_path):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "dir").mkdir()
    assert entries.exists(str(tmp_path / "dangling")) and not entries.exists(str(tmp_path / "nowhere"))
    assert entries.is_dir(str(tmp_path / "dir")) and not entries.is_dir(str(tmp_path / "dangling"))


def test_writable(tmp_path):
    assert entries.writable(str(tmp_path))
    assert not entries.writable(str(tmp_path / "missing"))
    if os.geteuid() != 0:  # root may write anything access(2) is asked about
        (tmp_path / "ro").mkdir(mode=0o500)
        assert not entries.writable(str(tmp_path / "ro"))


def test_cgroup_process_count_and_removal(tmp_path):
    tree = tmp_path / "lxc" / "101"
    (tree / "ns").mkdir(parents=True)
    (tree / "cgroup.procs").write_text("")
    (tree / "ns" / "cgroup.procs").write_text("4242\n4243\n")
    assert entries.cgroup_process_count(str(tree)) == 2
    assert entries.cgroup_process_count(str(tmp_path / "missing")) == 0
    busy = tmp_path / "lxc" / "102"
    (busy / "sub").mkdir(parents=True)
    (busy / "keep").write_text("")  # a directory holding a file cannot be rmdir'ed (a busy cgroup cannot)
    assert entries.remove_cgroup(str(busy)) == [str(busy)]
    assert not (busy / "sub").exists() and busy.exists()
    (tree / "cgroup.procs").unlink()
    (tree / "ns" / "cgroup.procs").unlink()
    assert entries.remove_cgroup(str(tree)) == [] and not tree.exists()
