"""Safe tar extraction (hostile inputs), layers with whiteouts, OCI image layouts and the image config overlay."""

import gzip
import hashlib
import json
import lzma
import os
import pathlib
import shutil
import stat
import subprocess
import sys
import threading

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import extract as oci_extract
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import image as oci_image
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import Runner

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "oci"))
import ocifix  # noqa: E402


def extract(tmp_path, members, **kw):
    tar = ocifix.make_tar(str(tmp_path / "in.tar"), members)
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    runner = Runner()
    oci_extract.extract_tar(tar, str(root), runner, str(tmp_path), **kw)
    return root


def test_plain_members_extracted_with_modes_and_links(tmp_path):
    root = extract(
        tmp_path,
        [
            {"name": "./", "type": "dir", "mode": 0o755},
            {"name": "./bin/", "type": "dir"},
            {"name": "./bin/busybox", "data": "BB", "mode": 0o4755},
            {"name": "./bin/sh", "type": "symlink", "linkname": "/bin/busybox"},
            {"name": "./bin/ls", "type": "hardlink", "linkname": "./bin/busybox"},
            {"name": "./tmp", "type": "dir", "mode": 0o1777},
            {"name": "./etc/deep/file", "data": "x"},
            {"name": "./run/fifo", "type": "fifo"},
            {"name": "./usr/lib/rel", "type": "symlink", "linkname": "../../bin/busybox"},
        ],
    )
    assert (root / "bin" / "busybox").read_text() == "BB"
    assert stat.S_IMODE(os.lstat(root / "bin" / "busybox").st_mode) == 0o4755
    assert os.readlink(root / "bin" / "sh") == "/bin/busybox"
    assert os.lstat(root / "bin" / "ls").st_ino == os.lstat(root / "bin" / "busybox").st_ino
    assert stat.S_IMODE(os.lstat(root / "tmp").st_mode) == 0o1777
    assert (root / "etc" / "deep" / "file").read_text() == "x"
    assert stat.S_ISFIFO(os.lstat(root / "run" / "fifo").st_mode)
    assert os.path.realpath(root / "usr" / "lib" / "rel") == str(root / "bin" / "busybox")


@pytest.mark.parametrize(
    "members, words",
    [
        ([{"name": "../../etc/passwd", "data": "pwned"}], "'..'"),
        ([{"name": "a/../../etc/passwd", "data": "pwned"}], "'..'"),
        ([{"name": "/etc/passwd", "data": "pwned"}], "absolute path"),
        ([{"name": "esc", "type": "symlink", "linkname": "../../outside"}], "points outside the rootfs"),
        ([{"name": "a/b/esc", "type": "symlink", "linkname": "../../../x"}], "points outside the rootfs"),
        ([{"name": "hl", "type": "hardlink", "linkname": "/etc/passwd"}], "absolute path"),
        ([{"name": "hl", "type": "hardlink", "linkname": "../../etc/passwd"}], "'..'"),
        ([{"name": "dev/sda", "type": "blk", "major": 8, "minor": 0}], "device node"),
        ([{"name": "dev/mem", "type": "chr", "major": 1, "minor": 1}], "device node"),
    ],
)
def test_hostile_members_refused(tmp_path, members, words):
    with pytest.raises(oci_extract.ExtractError, match=words.replace("(", r"\(")):
        extract(tmp_path, members)


def test_absolute_symlink_out_of_rootfs_is_never_written_through(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    members = [
        {"name": "escape", "type": "symlink", "linkname": str(outside)},
        {"name": "escape/pwned", "data": "pwned"},
    ]
    with pytest.raises(oci_extract.ExtractError, match="absolute symlink escape -> .*outside the rootfs on the host"):
        extract(tmp_path, members)
    assert os.listdir(outside) == []


def test_symlink_then_file_replaces_link_not_target(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("safe")
    root = extract(
        tmp_path,
        [
            {"name": "f", "type": "symlink", "linkname": str(victim)},
            {"name": "f", "data": "new"},
        ],
    )
    assert victim.read_text() == "safe"
    assert (root / "f").read_text() == "new" and not os.path.islink(root / "f")


def test_relative_symlink_inside_rootfs_is_followed_for_parents(tmp_path):
    root = extract(
        tmp_path,
        [
            {"name": "usr/lib/", "type": "dir"},
            {"name": "lib", "type": "symlink", "linkname": "usr/lib"},
            {"name": "lib/libx.so", "data": "so"},
        ],
    )
    assert (root / "usr" / "lib" / "libx.so").read_text() == "so"


def test_device_nodes_allowed_with_allow_devices(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mknod of a device needs root")
    root = extract(
        tmp_path, [{"name": "dev/null", "type": "chr", "major": 1, "minor": 3, "mode": 0o666}], allow_devices=True
    )
    st = os.lstat(root / "dev" / "null")
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3


def test_not_a_tar(tmp_path):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"this is not a tar archive at all" * 100)
    (tmp_path / "root").mkdir()
    with pytest.raises(oci_extract.ExtractError, match="not a readable tar archive"):
        oci_extract.extract_tar(str(bad), str(tmp_path / "root"), Runner(), str(tmp_path))


@pytest.mark.parametrize("kind", ["gzip", "xz", "zstd"])
def test_compressed_tarballs(tmp_path, kind):
    raw = ocifix.make_tar(str(tmp_path / "raw.tar"), [{"name": "etc/os-release", "data": "ID=test\n"}])
    data = pathlib.Path(raw).read_bytes()
    path = tmp_path / ("t.tar." + {"gzip": "gz", "xz": "xz", "zstd": "zst"}[kind])
    if kind == "gzip":
        path.write_bytes(gzip.compress(data))
    elif kind == "xz":
        path.write_bytes(lzma.compress(data))
    else:
        if not shutil.which("zstd"):
            pytest.skip("zstd command not installed")
        subprocess.run(["zstd", "-q", "-o", str(path), raw], check=True)
    assert oci_extract.compression_of(str(path)) == kind
    root = tmp_path / "root"
    root.mkdir()
    runner = Runner()
    oci_extract.extract_tar(str(path), str(root), runner, str(tmp_path))
    assert (root / "etc" / "os-release").read_text() == "ID=test\n"
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".nexcage-unzstd")]


def _archive(tmp_path, members, compress):
    raw = pathlib.Path(ocifix.make_tar(str(tmp_path / "raw.tar"), members))
    path = tmp_path / ("a.tar.gz" if compress else "a.tar")
    path.write_bytes(gzip.compress(raw.read_bytes()) if compress else raw.read_bytes())
    return str(path)


@pytest.mark.parametrize("compress", [True, False])
def test_a_digest_is_checked_over_the_whole_archive(tmp_path, compress):
    path = _archive(tmp_path, [{"name": "etc/os-release", "data": "ID=test\n"}], compress)
    digest = "sha256:" + hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()
    root = tmp_path / "root"
    root.mkdir()
    oci_extract.extract_tar(path, str(root), Runner(), str(tmp_path), digest=digest)
    assert (root / "etc" / "os-release").read_text() == "ID=test\n"
    with open(path, "ab") as fh:  # bytes after the tar stream still count
        fh.write(b"\0" * 512)
    again = tmp_path / "again"
    again.mkdir()
    with pytest.raises(oci_extract.ExtractError, match="does not match its digest"):
        oci_extract.extract_tar(path, str(again), Runner(), str(tmp_path), digest=digest)


@pytest.mark.parametrize("shape", ["two members", "zero padding", "trailing bytes"])
def test_gzip_as_gzip_d_reads_it(tmp_path, shape):
    members = [{"name": "a", "data": os.urandom(3 * 1024 * 1024)}, {"name": "b", "data": "b"}]
    raw = pathlib.Path(ocifix.make_tar(str(tmp_path / "raw.tar"), members)).read_bytes()
    if shape == "two members":  # the tar stream split across two gzip members (cat a.gz b.gz)
        data = gzip.compress(raw[: len(raw) // 3]) + gzip.compress(raw[len(raw) // 3 :])
    elif shape == "zero padding":
        data = gzip.compress(raw) + b"\0" * 4096
    else:
        data = gzip.compress(raw) + b"not gzip"
    path = tmp_path / "t.tar.gz"
    path.write_bytes(data)
    (tmp_path / "root").mkdir()
    oci_extract.extract_tar(str(path), str(tmp_path / "root"), Runner(), str(tmp_path))
    assert (tmp_path / "root" / "b").read_text() == "b" and (tmp_path / "root" / "a").stat().st_size == 3 * 1024 * 1024


def test_a_truncated_archive_is_not_readable(tmp_path):
    members = [{"name": "big", "data": os.urandom(256 * 1024)}, {"name": "after", "data": "x"}]
    path = pathlib.Path(_archive(tmp_path, members, compress=True))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    (tmp_path / "root").mkdir()
    with pytest.raises(oci_extract.ExtractError, match="not a readable tar archive"):
        oci_extract.extract_tar(str(path), str(tmp_path / "root"), Runner(), str(tmp_path))


def test_a_refused_member_stops_the_decompressing_thread(tmp_path):
    members = [{"name": "dev/sda", "type": "blk", "major": 8, "minor": 0}]
    members += [{"name": "pad%d" % i, "data": os.urandom(64 * 1024)} for i in range(64)]  # more than a pipe holds
    path = _archive(tmp_path, members, compress=True)
    (tmp_path / "root").mkdir()
    before = threading.active_count()
    with pytest.raises(oci_extract.ExtractError, match="device node"):
        oci_extract.extract_tar(path, str(tmp_path / "root"), Runner(), str(tmp_path))
    assert threading.active_count() == before


def test_files_keep_set_id_bits_owner_and_times(tmp_path):
    members = [{"name": "bin/su", "data": "x", "mode": 0o4755}, {"name": "bin/wall", "data": "y", "mode": 0o2755}]
    root = extract(tmp_path, members)
    for name, mode in (("su", 0o4755), ("wall", 0o2755)):
        st = os.lstat(root / "bin" / name)
        assert stat.S_IMODE(st.st_mode) == mode and st.st_mtime == 1700000000


# --------------------------------------------------------------------------- layers and whiteouts


def _layout(tmp_path, layers, config=None, **kw):
    return ocifix.make_oci_layout(str(tmp_path / "layout"), layers, config or {"config": {}}, **kw)


def test_layers_applied_in_order_with_whiteouts(tmp_path):
    layout = _layout(
        tmp_path,
        [
            [
                {"name": "etc/", "type": "dir"},
                {"name": "etc/keep", "data": "1"},
                {"name": "etc/remove", "data": "1"},
                {"name": "opt/app/old1", "data": "1"},
                {"name": "opt/app/sub/old2", "data": "1"},
                {"name": "var/x", "data": "1"},
            ],
            [
                {"name": "etc/.wh.remove"},
                {"name": "etc/keep", "data": "2"},
                {"name": "opt/app/.wh..wh..opq"},
                {"name": "opt/app/new", "data": "2"},
                {"name": "var/.wh.absent"},
            ],
        ],
    )
    image = oci_image.read_image_layout(layout)
    root = tmp_path / "root"
    root.mkdir()
    oci_extract.extract_layers(image["layers"], str(root), Runner(), str(tmp_path))
    assert (root / "etc" / "keep").read_text() == "2"
    assert not (root / "etc" / "remove").exists()
    assert sorted(os.listdir(root / "opt" / "app")) == ["new"]
    assert (root / "var" / "x").exists()
    assert not [n for n in os.listdir(root / "etc") if n.startswith(".wh.")]


def test_opaque_marker_after_same_layer_entries_keeps_them(tmp_path):
    layout = _layout(
        tmp_path,
        [
            [{"name": "d/lower", "data": "1"}],
            [{"name": "d/", "type": "dir"}, {"name": "d/upper", "data": "2"}, {"name": "d/.wh..wh..opq"}],
        ],
    )
    image = oci_image.read_image_layout(layout)
    root = tmp_path / "root"
    root.mkdir()
    oci_extract.extract_layers(image["layers"], str(root), Runner(), str(tmp_path))
    assert os.listdir(root / "d") == ["upper"]


def test_whiteout_of_dotdot_refused(tmp_path):
    layout = _layout(tmp_path, [[{"name": "a/", "type": "dir"}, {"name": "a/.wh..."}]])
    image = oci_image.read_image_layout(layout)
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(oci_extract.ExtractError):
        oci_extract.extract_layers(image["layers"], str(root), Runner(), str(tmp_path))


def test_hostile_layer_refused(tmp_path):
    layout = _layout(tmp_path, [[{"name": "../../etc/passwd", "data": "x"}]])
    image = oci_image.read_image_layout(layout)
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(oci_extract.ExtractError, match="path traversal"):
        oci_extract.extract_layers(image["layers"], str(root), Runner(), str(tmp_path))


def test_layout_ref_selection_and_errors(tmp_path):
    layout = _layout(tmp_path, [[{"name": "x", "data": "1"}]], ref="v1")
    assert oci_image.read_image_layout(layout, ref="v1")["manifest_digest"].startswith("sha256:")
    with pytest.raises(oci_image.ImageError, match="no manifest named 'v2'.*v1"):
        oci_image.read_image_layout(layout, ref="v2")


def test_layout_blob_tampering_detected(tmp_path):
    layout = _layout(tmp_path, [[{"name": "x", "data": "1"}]])
    with open(os.path.join(layout, "index.json")) as fh:
        mdigest = json.load(fh)["manifests"][0]["digest"]
    path = os.path.join(layout, "blobs", "sha256", mdigest.split(":")[1])
    with open(path, "a") as fh:
        fh.write(" ")
    with pytest.raises(oci_image.ImageError, match="does not match its digest"):
        oci_image.read_image_layout(layout)


def test_layout_digest_path_traversal_refused(tmp_path):
    layout = _layout(tmp_path, [[{"name": "x", "data": "1"}]])
    with open(os.path.join(layout, "index.json")) as fh:
        index = json.load(fh)
    index["manifests"][0]["digest"] = "sha256:../../../etc/passwd"
    with open(os.path.join(layout, "index.json"), "w") as fh:
        json.dump(index, fh)
    with pytest.raises(oci_image.ImageError, match="invalid blob digest"):
        oci_image.read_image_layout(layout)


def test_non_linux_image_refused(tmp_path):
    layout = _layout(tmp_path, [[{"name": "x", "data": "1"}]], config={"os": "windows", "config": {}})
    with pytest.raises(oci_image.ImageError, match="only linux"):
        oci_image.read_image_layout(layout)


def test_uncompressed_layers(tmp_path):
    layout = _layout(tmp_path, [[{"name": "x", "data": "1"}]], gzip_layers=False)
    image = oci_image.read_image_layout(layout)
    root = tmp_path / "root"
    root.mkdir()
    oci_extract.extract_layers(image["layers"], str(root), Runner(), str(tmp_path))
    assert (root / "x").read_text() == "1"


# --------------------------------------------------------------------------- image config overlay


def _passwd_root(tmp_path):
    root = tmp_path / "r"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\napp:x:1000:\nwheel:x:10:app\nstaff:x:50:app,other\n")
    return str(root)


def test_overlay_from_image_config(tmp_path):
    root = _passwd_root(tmp_path)
    image = {
        "os": "linux",
        "architecture": "amd64",
        "created": "2024-01-01T00:00:00Z",
        "config": {
            "Entrypoint": ["/bin/app"],
            "Cmd": ["--serve"],
            "Env": ["PATH=/usr/bin:/bin", "MODE=prod"],
            "WorkingDir": "/srv",
            "User": "app",
            "StopSignal": "SIGQUIT",
            "Labels": {"com.example.team": "ops", "org.opencontainers.image.source": "https://x"},
        },
    }
    overlay, dropped = oci_image.image_runtime_overlay(image, root)
    assert overlay["args"] == ["/bin/app", "--serve"]
    assert overlay["cwd"] == "/srv"
    assert overlay["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [10, 50]}
    assert "HOME=/home/app" in overlay["env"] and "MODE=prod" in overlay["env"]
    assert overlay["annotations"]["org.opencontainers.image.stopSignal"] == "SIGQUIT"
    assert overlay["annotations"]["org.opencontainers.image.architecture"] == "amd64"
    assert overlay["annotations"]["com.example.team"] == "ops"
    assert dropped == ["org.opencontainers.image.source"]


@pytest.mark.parametrize(
    "user, expected",
    [
        ("", (0, 0, [], "/root")),
        ("0", (0, 0, [], "/root")),
        ("1000:50", (1000, 50, [], "/home/app")),
        ("app:wheel", (1000, 10, [], "/home/app")),
        ("4242", (4242, 0, [], None)),
    ],
)
def test_resolve_user(tmp_path, user, expected):
    assert oci_image.resolve_user(user, _passwd_root(tmp_path)) == expected


@pytest.mark.parametrize("user", ["ghost", "app:nogroup"])
def test_resolve_user_unknown_is_an_error(tmp_path, user):
    with pytest.raises(oci_image.ImageError, match="not found"):
        oci_image.resolve_user(user, _passwd_root(tmp_path))


def test_zstd_layers(tmp_path):
    if not shutil.which("zstd"):
        pytest.skip("zstd command not installed")
    layout = _layout(
        tmp_path, [[{"name": "a", "data": "1"}], [{"name": ".wh.a"}, {"name": "b", "data": "2"}]], gzip_layers="zstd"
    )
    image = oci_image.read_image_layout(layout)
    root = tmp_path / "root"
    root.mkdir()
    runner = Runner()
    oci_extract.extract_layers(image["layers"], str(root), runner, str(tmp_path))
    assert os.listdir(root) == ["b"]


def test_index_picks_this_architecture(tmp_path, monkeypatch):
    layout = _layout(tmp_path, [[{"name": "x", "data": "1"}]])
    with open(os.path.join(layout, "index.json")) as fh:
        index = json.load(fh)
    good = dict(index["manifests"][0], platform={"os": "linux", "architecture": "amd64"})
    other = dict(index["manifests"][0], platform={"os": "linux", "architecture": "arm64"})
    other["digest"] = "sha256:" + "0" * 64  # would fail if chosen: the blob does not exist
    index["manifests"] = [other, good]
    with open(os.path.join(layout, "index.json"), "w") as fh:
        json.dump(index, fh)
    monkeypatch.setattr(oci_image.platform, "machine", lambda: "x86_64")
    assert oci_image.read_image_layout(layout)["manifest_digest"] == good["digest"]
    with pytest.raises(oci_image.ImageError, match="missing"):
        oci_image.read_image_layout(layout, arch="arm64")
