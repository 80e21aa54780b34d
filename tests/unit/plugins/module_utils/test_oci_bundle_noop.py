"""A no-op re-run of nexcage_bundle: the source's stamp decides before any walk or hash, a change the
stamp catches is rebuilt, source_check: full compares everything, and the config is not checked again."""

import json
import os
import pathlib
import shutil

import pytest
from test_oci_bundle import GOOD_MEMBERS, env, ocifix, run  # noqa: F401 pylint: disable=unused-import

from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import NexcageError
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import build, checks, sources, tree
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import image as oci_image
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.bundle import DIGEST_FILE

OPTIONS = {"args": ["/bin/sh"], "terminal": False}


def _refuse(monkeypatch, module, *names):
    def refuse(*_args, **_kwargs):
        raise AssertionError("%s was called" % ", ".join(names))

    for name in names:
        monkeypatch.setattr(module, name, refuse)


def _counted(monkeypatch, module, name):
    calls = []
    real = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def present(env, **kw):  # noqa: F811
    return run("present", env["path"], source=str(env["src"]), **dict(OPTIONS, **kw))


def rootfs(env):  # noqa: F811
    return pathlib.Path(env["path"]) / "rootfs"


def stored(env):  # noqa: F811
    return json.loads((pathlib.Path(env["path"]) / DIGEST_FILE).read_text())


# --------------------------------------------------------------------------- directory sources


def test_an_unchanged_bundle_is_neither_walked_nor_checked_again(env, monkeypatch):  # noqa: F811
    first, _runner, _manager = present(env)
    _refuse(monkeypatch, checks, "schema_problems", "semantic_problems", "import_jsonschema")
    _refuse(monkeypatch, tree, "tree_digest")
    _refuse(monkeypatch, build, "build_rootfs")
    again, runner, _manager = present(env)
    assert again["changed"] is False and runner.commands == []
    assert again["validation"] == first["validation"] and again["digest"] == first["digest"]


def test_a_new_bundle_walks_its_source_once(env, monkeypatch):  # noqa: F811
    _refuse(monkeypatch, tree, "tree_digest")  # the copy digests what it copies
    result, runner, _manager = present(env)
    assert result["changed"] and runner.commands == [] and (rootfs(env) / "bin" / "sh").is_file()
    monkeypatch.undo()
    assert stored(env)["rootfs"]["source"]["tree"] == tree.tree_digest(str(env["src"]))[0]


@pytest.mark.parametrize(
    "change",
    [
        "file added at the top",
        "file added in a top-level directory",
        "top-level file written",
        "top-level directory chmod",
        "source replaced by a new build",
    ],
)
def test_a_change_the_stamp_catches_is_rebuilt(env, change):  # noqa: F811
    present(env)
    src = env["src"]
    if change == "file added at the top":
        (src / "new").write_text("n")
        expect = ("new", "n")
    elif change == "file added in a top-level directory":
        (src / "etc" / "motd").write_text("hello")
        expect = ("etc/motd", "hello")
    elif change == "top-level file written":
        (src / "top").write_text("1")
        present(env)
        (src / "top").write_text("2")
        expect = ("top", "2")
    elif change == "top-level directory chmod":
        os.chmod(src / "etc", 0o700)
        expect = None
    else:
        build = env["tmp"] / "build"
        shutil.copytree(src, build, symlinks=True)
        (build / "bin" / "tool").write_text("t")
        shutil.rmtree(src)
        os.rename(build, src)
        expect = ("bin/tool", "t")
    result, _runner, _manager = present(env)
    assert result["changed"] and result["rootfs_changed"] and not result["config_changed"]
    if expect:
        assert (rootfs(env) / expect[0]).read_text() == expect[1]
    else:
        assert os.stat(rootfs(env) / "etc").st_mode & 0o777 == 0o700


def _edit_passwd_in_place(env):  # noqa: F811
    """Rewrite etc/passwd in place: below the top level, so the stamp does not change."""
    passwd = env["src"] / "etc" / "passwd"
    with open(passwd, "a", encoding="utf-8") as fh:
        fh.write("extra:x:1001:1001::/:/bin/sh\n")


def test_an_edit_in_place_below_the_top_is_missed_by_the_stamp_and_found_by_full(env, monkeypatch):  # noqa: F811
    present(env)
    _edit_passwd_in_place(env)
    missed, _runner, _manager = present(env)
    assert missed["changed"] is False  # documented: the stamp does not see it
    walks = _counted(monkeypatch, tree, "tree_digest")
    found, _runner, _manager = present(env, source_check="full")
    assert walks and found["changed"] and found["rootfs_changed"]
    assert "extra:x" in (rootfs(env) / "etc" / "passwd").read_text()


def test_touching_the_source_after_an_edit_in_place_is_enough(env):  # noqa: F811
    present(env)
    _edit_passwd_in_place(env)
    os.utime(env["src"])
    result, _runner, _manager = present(env)
    assert result["changed"] and result["rootfs_changed"]
    assert "extra:x" in (rootfs(env) / "etc" / "passwd").read_text()


def test_full_on_an_unchanged_source_walks_and_changes_nothing(env, monkeypatch):  # noqa: F811
    first, _runner, _manager = present(env)
    inode = os.stat(rootfs(env) / "bin" / "sh").st_ino
    walks = _counted(monkeypatch, tree, "tree_digest")
    again, runner, _manager = present(env, source_check="full")
    assert len(walks) == 1 and again["changed"] is False and again["digest"] == first["digest"]
    assert runner.commands == [] and os.stat(rootfs(env) / "bin" / "sh").st_ino == inode


def test_a_touched_but_unchanged_source_is_not_rebuilt_and_its_stamp_is_kept(env, monkeypatch):  # noqa: F811
    first, _runner, _manager = present(env)
    inode = os.stat(rootfs(env) / "bin" / "sh").st_ino
    os.utime(env["src"])
    walks = _counted(monkeypatch, tree, "tree_digest")
    again, _runner, _manager = present(env)
    assert len(walks) == 1 and again["changed"] is False and again["digest"] == first["digest"]
    assert os.stat(rootfs(env) / "bin" / "sh").st_ino == inode
    assert stored(env)["rootfs"]["source"]["stamp"] == tree.tree_stamp(str(env["src"]))
    third, _runner, _manager = present(env)
    assert len(walks) == 1 and third["changed"] is False  # the new stamp is trusted


def test_check_mode_keeps_the_old_stamp(env):  # noqa: F811
    present(env)
    before = stored(env)
    os.utime(env["src"])
    result, _runner, _manager = run("present", env["path"], check_mode=True, source=str(env["src"]), **OPTIONS)
    assert result["changed"] is False and stored(env) == before


def test_a_digest_file_without_a_stamp_is_compared_once(env, monkeypatch):  # noqa: F811
    first, _runner, _manager = present(env)
    doc = stored(env)
    for key in ("stamp", "allow_devices"):
        del doc["rootfs"]["source"][key]  # as written before stamps
    (pathlib.Path(env["path"]) / DIGEST_FILE).write_text(json.dumps(doc))
    walks = _counted(monkeypatch, tree, "tree_digest")
    again, _runner, _manager = present(env)
    assert len(walks) == 1 and again["changed"] is False and again["digest"] == first["digest"]
    assert "stamp" in stored(env)["rootfs"]["source"]


def test_a_device_node_is_refused_once_allow_devices_is_off_again(env):  # noqa: F811
    if os.geteuid() != 0:
        pytest.skip("mknod needs root")
    os.mknod(str(env["src"] / "etc" / "null"), 0o20666, os.makedev(1, 3))
    present(env, allow_devices=True)  # the stamp is the same on the next run
    with pytest.raises(NexcageError, match="device node"):
        present(env)


# --------------------------------------------------------------------------- tarballs and image layouts


def test_a_tarball_is_hashed_again_only_when_its_stat_changes(env, monkeypatch):  # noqa: F811
    tar = ocifix.make_tar(str(env["tmp"] / "src.tar"), GOOD_MEMBERS)
    run("present", env["path"], source=tar, **OPTIONS)
    hashed = []

    def counted_open(path, *args, **kwargs):
        hashed.append(path)
        return open(path, *args, **kwargs)

    monkeypatch.setattr(sources, "open", counted_open, raising=False)  # file_sha256 reads the file
    again, _runner, _manager = run("present", env["path"], source=tar, **OPTIONS)
    assert again["changed"] is False and not hashed
    # same size and modification time, other content: the change time gives it away
    before = os.stat(tar)
    ocifix.make_tar(tar, [dict(m, data="#!/bin/false\n") if m.get("data") else m for m in GOOD_MEMBERS])
    os.utime(tar, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(tar).st_size == before.st_size
    changed, _runner, _manager = run("present", env["path"], source=tar, **OPTIONS)
    assert hashed and changed["rootfs_changed"]
    assert (rootfs(env) / "bin" / "busybox").read_text() == "#!/bin/false\n"
    hashed.clear()
    full, _runner, _manager = run("present", env["path"], source=tar, source_check="full", **OPTIONS)
    assert hashed and full["changed"] is False


def _layout(env):  # noqa: F811
    return ocifix.make_oci_layout(str(env["tmp"] / "layout"), [GOOD_MEMBERS], {"config": {"Cmd": ["/bin/sh"]}})


def _layer_blob(layout):
    return oci_image.read_image_layout(layout)["layers"][0]["path"]


def test_an_image_layout_is_trusted_by_its_manifest_digest_and_full_checks_the_layers(env):  # noqa: F811
    layout = _layout(env)
    run("present", env["path"], source=layout, terminal=False)
    blob = _layer_blob(layout)
    os.chmod(blob, 0o644)
    with open(blob, "r+b") as fh:  # the blob no longer matches its digest
        fh.seek(20)
        fh.write(b"\0\0\0\0")
    again, _runner, _manager = run("present", env["path"], source=layout, terminal=False)
    assert again["changed"] is False
    with pytest.raises(NexcageError, match="does not match its digest"):
        run("present", env["path"], source=layout, terminal=False, source_check="full")


def test_a_layer_that_does_not_match_its_digest_is_refused_when_unpacked(env):  # noqa: F811
    layout = _layout(env)
    blob = _layer_blob(layout)
    data = pathlib.Path(blob).read_bytes()
    members = GOOD_MEMBERS + [{"name": "./evil", "data": "x"}]
    other = ocifix.make_tar(str(env["tmp"] / "other.tar"), members, mode="w:gz")
    pathlib.Path(blob).write_bytes(pathlib.Path(other).read_bytes())  # a valid layer, but not this digest
    assert pathlib.Path(blob).read_bytes() != data
    with pytest.raises(NexcageError, match="does not match its digest"):
        run("present", env["path"], source=layout, terminal=False)
    assert os.listdir(env["roots"]) == []


# --------------------------------------------------------------------------- the config


def test_a_changed_config_is_checked(env, monkeypatch):  # noqa: F811
    present(env)
    _refuse(monkeypatch, checks, "schema_problems", "semantic_problems")
    with pytest.raises(AssertionError, match="was called"):
        present(env, args=["/bin/sh", "-x"])
