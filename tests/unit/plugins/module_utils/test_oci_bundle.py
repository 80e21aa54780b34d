"""Bundle generation: config building, digest idempotency, sources, safety, and the Proxmox mapping."""

import json
import os
import pathlib
import sys

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import NexcageError
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths as node_paths
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import bundle as oci_bundle
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import config as oci_config
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci import sources
from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.defaults import default_config
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import Runner

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "oci"))
import ocifix  # noqa: E402

pytest.importorskip("jsonschema", reason="jsonschema is not installed in this Python")

params = ocifix.bundle_params


def mini_rootfs(path):
    """A tiny rootfs with an executable /bin/sh (no busybox needed)."""
    return pathlib.Path(ocifix.make_sh_rootfs(str(path)))


@pytest.fixture
def env(tmp_path):
    roots = tmp_path / "bundles"
    roots.mkdir()
    src = mini_rootfs(tmp_path / "src")
    return dict(tmp=tmp_path, roots=roots, src=src, path=str(roots / "b1"))


def run(state, path, check_mode=False, **kw):
    runner = Runner(check_mode=check_mode)
    manager = oci_bundle.BundleManager(runner, params(**kw))
    result = getattr(manager, state)(path)
    return result, runner, manager


# --------------------------------------------------------------------------- config building


def test_no_options_gives_the_runc_defaults():
    assert oci_config.build_config(params()) == default_config()
    cfg = default_config()
    assert cfg["process"]["args"] == ["sh"] and cfg["process"]["terminal"] is True
    assert cfg["root"] == {"path": "rootfs", "readonly": True}
    assert [m["destination"] for m in cfg["mounts"]] == [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
        "/sys/fs/cgroup",
    ]


def test_options_build_config():
    cfg = oci_config.build_config(
        params(
            args=["/bin/app", "x"],
            env={"PATH": "/bin", "A": 1},
            cwd="/srv",
            user=dict(uid=5, gid=6, additional_gids=[7]),
            hostname="h1",
            terminal=False,
            readonly_rootfs=False,
            mounts=[
                dict(destination="/data", source="/srv/data", type=None, options=None),
                dict(destination="/dev/shm", source="shm", type="tmpfs", options=["size=1g"]),
            ],
            annotations={"com.example.a": "b"},
            memory_limit="256M",
            cpu_quota=20000,
            cpu_period=100000,
            cpu_shares=512,
            capabilities=["chown", "cap_kill"],
            rlimits=[dict(type="nofile", soft=10, hard=20), dict(type="RLIMIT_NPROC", soft=1, hard=2)],
            config={"process": {"noNewPrivileges": None}, "linux": {"resources": {"pids": {"limit": 9}}}},
        )
    )
    proc = cfg["process"]
    assert proc["args"] == ["/bin/app", "x"]
    assert proc["env"] == ["PATH=/bin", "TERM=xterm", "A=1"]
    assert proc["cwd"] == "/srv"
    assert proc["user"] == {"uid": 5, "gid": 6, "additionalGids": [7]}
    assert cfg["hostname"] == "h1" and proc["terminal"] is False and cfg["root"]["readonly"] is False
    assert cfg["mounts"][-1] == {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind"]}
    shm = [m for m in cfg["mounts"] if m["destination"] == "/dev/shm"]
    assert shm == [{"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["size=1g"]}]
    assert cfg["annotations"] == {"com.example.a": "b"}
    res = cfg["linux"]["resources"]
    assert res["memory"] == {"limit": 256 * 1024 * 1024}
    assert res["cpu"] == {"quota": 20000, "period": 100000, "shares": 512}
    assert res["pids"] == {"limit": 9}
    assert proc["capabilities"]["bounding"] == ["CAP_CHOWN", "CAP_KILL"]
    assert proc["capabilities"]["effective"] == ["CAP_CHOWN", "CAP_KILL"]
    assert proc["rlimits"] == [
        {"type": "RLIMIT_NOFILE", "hard": 20, "soft": 10},
        {"type": "RLIMIT_NPROC", "hard": 2, "soft": 1},
    ]
    assert "noNewPrivileges" not in proc


def test_env_list_form_and_image_overlay_order():
    overlay = {"env": ["PATH=/img", "IMG=1"], "args": ["/img"], "cwd": "/w", "user": {"uid": 3, "gid": 3}}
    cfg = oci_config.build_config(params(env=["IMG=2", "NEW=x"]), overlay)
    assert cfg["process"]["env"] == ["PATH=/img", "TERM=xterm", "IMG=2", "NEW=x"]
    assert cfg["process"]["args"] == ["/img"] and cfg["process"]["cwd"] == "/w"
    assert cfg["process"]["user"] == {"uid": 3, "gid": 3}


@pytest.mark.parametrize(
    "value, expected",
    [
        ("512M", 536870912),
        ("1G", 1073741824),
        ("1.5GiB", 1610612736),
        ("1024", 1024),
        (2048, 2048),
        ("-1", -1),
        ("64k", 65536),
    ],
)
def test_parse_size(value, expected):
    assert oci_config.parse_size(value) == expected


@pytest.mark.parametrize("value", ["lots", "-5", "1X", "-1G"])
def test_parse_size_rejects(value):
    with pytest.raises(NexcageError, match="memory_limit"):
        oci_config.parse_size(value)


def test_deep_merge():
    base = {"a": {"b": 1, "c": [1]}, "d": 1}
    assert oci_config.deep_merge(base, {"a": {"c": [2], "e": None}, "d": None, "f": 3}) == {
        "a": {"b": 1, "c": [2]},
        "f": 3,
    }
    assert base == {"a": {"b": 1, "c": [1]}, "d": 1}


# --------------------------------------------------------------------------- bundle_roots


def test_bundle_path_must_be_inside_roots(tmp_path):
    roots = [str(tmp_path / "r")]
    (tmp_path / "r").mkdir()
    assert sources.check_bundle_path(str(tmp_path / "r" / "b"), roots)[0] == str(tmp_path / "r" / "b")
    for bad in (str(tmp_path / "other" / "b"), str(tmp_path / "r"), str(tmp_path / "r" / ".." / "b"), "/etc"):
        with pytest.raises(NexcageError, match="not inside any of bundle_roots") as exc:
            sources.check_bundle_path(bad, roots)
        assert exc.value.category == "permission_denied"
    with pytest.raises(NexcageError, match="absolute"):
        sources.check_bundle_path("rel/b", roots)


def test_bundle_path_symlink_escape_refused(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(str(tmp_path / "elsewhere"), str(tmp_path / "r" / "link"))
    with pytest.raises(NexcageError, match="not inside"):
        sources.check_bundle_path(str(tmp_path / "r" / "link" / "b"), [str(tmp_path / "r")])


# --------------------------------------------------------------------------- present / idempotency


def test_present_from_directory_then_idempotent(env):
    result, runner, _ignored = run("present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False)
    assert result["changed"] and result["rootfs_changed"] and result["config_changed"]
    assert runner.commands == []  # rootfs_mode copy: copied by the module, no cp
    bundle = pathlib.Path(env["path"])
    assert (bundle / "rootfs" / "bin" / "sh").exists()
    on_disk = json.loads((bundle / "config.json").read_text())
    assert on_disk == result["config"]
    stored = json.loads((bundle / oci_bundle.DIGEST_FILE).read_text())
    assert stored["digest"] == result["digest"] and result["digest"].startswith("sha256:")
    assert result["validation"] == []
    assert oct(os.stat(bundle).st_mode & 0o777) == "0o700"
    assert oct(os.stat(bundle / "config.json").st_mode & 0o777) == "0o600"
    assert not [n for n in os.listdir(env["roots"]) if n != "b1"]

    again, runner2, _ignored = run("present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False)
    assert again["changed"] is False and again["digest"] == result["digest"]
    assert runner2.commands == []

    check, runner3, _ignored = run(
        "present", env["path"], check_mode=True, source=str(env["src"]), args=["/bin/sh"], terminal=False
    )
    assert check["changed"] is False and runner3.commands == []


def test_config_only_change_rewrites_only_config(env):
    run("present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False)
    sh = pathlib.Path(env["path"]) / "rootfs" / "bin" / "sh"
    inode = os.stat(sh).st_ino
    result, runner, _ignored = run(
        "present", env["path"], source=str(env["src"]), args=["/bin/sh", "-c", "x"], terminal=False
    )
    assert result["changed"] and result["config_changed"] and not result["rootfs_changed"]
    assert runner.commands == []
    assert os.stat(sh).st_ino == inode
    assert json.loads((pathlib.Path(env["path"]) / "config.json").read_text())["process"]["args"][-1] == "x"
    assert result["diff"]["before"] != result["diff"]["after"]


def test_source_change_rebuilds_rootfs_and_keeps_other_files(env):
    run("present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False)
    (pathlib.Path(env["path"]) / "hostdata").mkdir()
    (pathlib.Path(env["path"]) / "hostdata" / "keep").write_text("k")
    (env["src"] / "new-file").write_text("n")
    result, runner, _ignored = run("present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False)
    assert result["changed"] and result["rootfs_changed"] and not result["config_changed"]
    assert (pathlib.Path(env["path"]) / "rootfs" / "new-file").read_text() == "n"
    assert (pathlib.Path(env["path"]) / "hostdata" / "keep").read_text() == "k"
    assert sorted(os.listdir(env["path"])) == [oci_bundle.DIGEST_FILE, "config.json", "hostdata", "rootfs"]
    assert os.listdir(env["roots"]) == ["b1"]


def test_hand_edited_config_is_converged(env):
    run("present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False)
    cfg_path = pathlib.Path(env["path"]) / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["hostname"] = "edited"
    cfg_path.write_text(json.dumps(cfg))
    result, _ignored, _ignored = run("present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False)
    assert result["changed"] and result["config_changed"]
    assert json.loads(cfg_path.read_text())["hostname"] == "runc"


def test_check_mode_writes_nothing(env):
    result, runner, _ignored = run(
        "present", env["path"], check_mode=True, source=str(env["src"]), args=["/bin/sh"], terminal=False
    )
    assert result["changed"] and result["rootfs_changed"]
    assert not os.path.exists(env["path"]) and os.listdir(env["roots"]) == []
    assert result["config"]["process"]["args"] == ["/bin/sh"]
    assert result["diff"]["before"] == "" and '"/bin/sh"' in result["diff"]["after"]
    assert result["diff"]["prepared"] == "%s/rootfs: created from %s (directory)" % (env["path"], env["src"])


def test_without_source_manages_config_of_existing_bundle(env):
    run("present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False)
    result, runner, _ignored = run("present", env["path"], args=["/bin/sh", "-x"], terminal=False)
    assert result["changed"] and not result["rootfs_changed"] and runner.commands == []
    with pytest.raises(NexcageError, match="source is required"):
        run("present", str(env["roots"] / "new"), args=["/bin/sh"])


def test_hand_made_bundle_without_source_gets_config_and_digest(env):
    bundle = pathlib.Path(env["path"])
    mini_rootfs(bundle / "rootfs")
    (bundle / "config.json").write_text("{not json")
    result, runner, _ignored = run("present", env["path"], args=["/bin/sh"], terminal=False)
    assert result["changed"] and result["config_changed"] and not result["rootfs_changed"]
    assert runner.commands == []
    assert json.loads((bundle / "config.json").read_text()) == result["config"]
    assert (bundle / oci_bundle.DIGEST_FILE).exists() and (bundle / "rootfs" / "bin" / "sh").exists()
    again, _ignored, _ignored = run("present", env["path"], args=["/bin/sh"], terminal=False)
    assert again["changed"] is False


def test_invalid_options_write_nothing(env):
    with pytest.raises(NexcageError) as exc:
        run("present", env["path"], source=str(env["src"]), args=["/bin/sh"], cwd="relative", terminal=False)
    problems = exc.value.extra["validation"]
    assert any(p["path"] == "$.process.cwd" and p["check"] == "cwd" for p in problems)
    assert "$.process.cwd" in exc.value.message
    assert os.listdir(env["roots"]) == []


def test_missing_program_is_reported(env):
    with pytest.raises(NexcageError, match=r"\$\.process\.args\[0\].*not found"):
        run("present", env["path"], source=str(env["src"]), args=["/usr/bin/missing"], terminal=False)
    assert os.listdir(env["roots"]) == []


@pytest.mark.parametrize("mode", ["hardlink", "reflink"])
def test_rootfs_modes(env, mode):
    try:
        result, runner, _ignored = run(
            "present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False, rootfs_mode=mode
        )
    except NexcageError as exc:
        assert mode == "reflink" and "reflink" in exc.message and exc.category == "unsupported"
        assert os.listdir(env["roots"]) == []
        return
    sh_src, sh_dst = env["src"] / "bin" / "sh", pathlib.Path(env["path"]) / "rootfs" / "bin" / "sh"
    if mode == "hardlink":
        assert os.stat(sh_src).st_ino == os.stat(sh_dst).st_ino
        assert any("-l" in c.split() for c in runner.commands)
    else:
        assert any("--reflink=always" in c for c in runner.commands)


def test_directory_source_with_device_refused(env):
    if os.geteuid() != 0:
        pytest.skip("mknod needs root")
    os.mknod(str(env["src"] / "null"), 0o20666, os.makedev(1, 3))
    with pytest.raises(NexcageError, match="device node"):
        run("present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False)
    assert os.listdir(env["roots"]) == []
    result, _ignored, _ignored = run(
        "present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False, allow_devices=True
    )
    assert result["changed"]


# --------------------------------------------------------------------------- tarballs, templates, images


def _tar_of(env, members, name="src.tar"):
    return ocifix.make_tar(str(env["tmp"] / name), members)


GOOD_MEMBERS = [
    {"name": "./", "type": "dir"},
    {"name": "./bin/", "type": "dir"},
    {"name": "./bin/busybox", "data": "#!/bin/true\n", "mode": 0o755},
    {"name": "./bin/sh", "type": "symlink", "linkname": "/bin/busybox"},
]


def test_present_from_tarball_idempotent(env):
    tar = _tar_of(env, GOOD_MEMBERS)
    result, _ignored, _ignored = run("present", env["path"], source=tar, args=["/bin/sh"], terminal=False)
    assert result["changed"] and os.readlink(pathlib.Path(env["path"]) / "rootfs" / "bin" / "sh") == "/bin/busybox"
    again, runner, _ignored = run("present", env["path"], source=tar, args=["/bin/sh"], terminal=False)
    assert again["changed"] is False and runner.commands == []


@pytest.mark.parametrize(
    "members, words",
    [
        ([{"name": "../../etc/passwd", "data": "pwned"}], "path traversal"),
        ([{"name": "/etc/passwd", "data": "pwned"}], "absolute path"),
        (
            [{"name": "escape", "type": "symlink", "linkname": "/etc"}, {"name": "escape/passwd", "data": "pwned"}],
            "absolute symlink",
        ),
        ([{"name": "up", "type": "symlink", "linkname": "../../../../etc/passwd"}], "points outside the rootfs"),
        ([{"name": "dev/sda", "type": "blk", "major": 8, "minor": 0}], "device node"),
    ],
)
def test_hostile_tarball_leaves_no_partial_bundle(env, members, words):
    tar = _tar_of(env, GOOD_MEMBERS + members)
    with pytest.raises(NexcageError, match=words) as exc:
        run("present", env["path"], source=tar, args=["/bin/sh"], terminal=False)
    assert exc.value.category == "invalid_argument"
    assert os.listdir(env["roots"]) == []


def test_hostile_tarball_on_existing_bundle_keeps_old_bundle(env):
    good = _tar_of(env, GOOD_MEMBERS)
    first, _ignored, _ignored = run("present", env["path"], source=good, args=["/bin/sh"], terminal=False)
    bad = _tar_of(env, GOOD_MEMBERS + [{"name": "../../x", "data": "x"}], name="bad.tar")
    with pytest.raises(NexcageError):
        run("present", env["path"], source=bad, args=["/bin/sh"], terminal=False)
    assert os.listdir(env["roots"]) == ["b1"]
    assert sorted(os.listdir(env["path"])) == [oci_bundle.DIGEST_FILE, "config.json", "rootfs"]
    again, _ignored, _ignored = run("present", env["path"], source=good, args=["/bin/sh"], terminal=False)
    assert again["changed"] is False and again["digest"] == first["digest"]


STORAGE_CFG = """dir: local
\tpath {vz}
\tcontent iso,vztmpl,backup

dir: images
\tpath {vz}
\tcontent images

zfspool: local-zfs
\tpool rpool/data
\tcontent images,rootdir
"""


def test_template_volume(env, monkeypatch):
    vz = env["tmp"] / "vz"
    (vz / "template" / "cache").mkdir(parents=True)
    ocifix.make_tar(str(vz / "template" / "cache" / "mini.tar.gz"), GOOD_MEMBERS, mode="w:gz")
    cfg = env["tmp"] / "storage.cfg"
    cfg.write_text(STORAGE_CFG.format(vz=vz))
    monkeypatch.setattr(node_paths, "STORAGE_CFG", str(cfg))
    assert sources.template_path("local:vztmpl/mini.tar.gz") == str(vz / "template" / "cache" / "mini.tar.gz")
    result, _ignored, _ignored = run(
        "present", env["path"], source="local:vztmpl/mini.tar.gz", args=["/bin/sh"], terminal=False
    )
    assert result["changed"] and (pathlib.Path(env["path"]) / "rootfs" / "bin" / "busybox").exists()
    for volid, words in (
        ("nope:vztmpl/mini.tar.gz", "not defined"),
        ("images:vztmpl/mini.tar.gz", "vztmpl"),
        ("local-zfs:vztmpl/mini.tar.gz", "no path"),
        ("local:vztmpl/missing.tar.zst", "does not exist"),
    ):
        with pytest.raises(NexcageError, match=words):
            sources.template_path(volid)


def test_oci_layout_source_seeds_config(env):
    layout = ocifix.make_oci_layout(
        str(env["tmp"] / "layout"),
        [
            GOOD_MEMBERS
            + [
                {"name": "./etc/passwd", "data": "root:x:0:0::/root:/bin/sh\nweb:x:33:33::/var/www:/bin/sh\n"},
                {"name": "./etc/group", "data": "root:x:0:\nweb:x:33:\n"},
                {"name": "./old", "data": "1"},
            ],
            [{"name": ".wh.old"}, {"name": "app/run", "data": "#!/bin/true\n", "mode": 0o755}],
        ],
        {
            "config": {
                "Entrypoint": ["/app/run"],
                "Cmd": ["--x"],
                "Env": ["MODE=1"],
                "WorkingDir": "/app",
                "User": "web",
            }
        },
        ref="1.0",
    )
    result, _ignored, _ignored = run("present", env["path"], source=layout, image_ref="1.0", terminal=False)
    proc = result["config"]["process"]
    assert proc["args"] == ["/app/run", "--x"] and proc["cwd"] == "/app"
    assert proc["user"] == {"uid": 33, "gid": 33}
    assert "MODE=1" in proc["env"] and "HOME=/var/www" in proc["env"]
    assert not (pathlib.Path(env["path"]) / "rootfs" / "old").exists()
    again, _ignored, _ignored = run("present", env["path"], source=layout, image_ref="1.0", terminal=False)
    assert again["changed"] is False
    # options win over the image
    third, _ignored, _ignored = run(
        "present", env["path"], source=layout, image_ref="1.0", terminal=False, args=["/bin/sh"]
    )
    assert third["changed"] and third["config"]["process"]["args"] == ["/bin/sh"] and not third["rootfs_changed"]


def test_oci_layout_check_mode_with_user_name(env):
    layout = ocifix.make_oci_layout(
        str(env["tmp"] / "layout"),
        [GOOD_MEMBERS + [{"name": "./etc/passwd", "data": "web:x:33:33::/:/bin/sh\n"}]],
        {"config": {"Cmd": ["/bin/sh"], "User": "web"}},
    )
    result, _ignored, manager = run("present", env["path"], check_mode=True, source=layout, terminal=False)
    assert result["changed"] and not os.path.exists(env["path"])
    assert any("not resolved" in w for w in manager.warnings)


# --------------------------------------------------------------------------- absent / validated


def test_absent(env):
    run("present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False)
    result, _ignored, _ignored = run("absent", env["path"], check_mode=True)
    assert result["changed"] and os.path.isdir(env["path"])
    result, _ignored, _ignored = run("absent", env["path"])
    assert result["changed"] and not os.path.exists(env["path"])
    result, _ignored, _ignored = run("absent", env["path"])
    assert result["changed"] is False


def test_absent_refuses_non_bundle(env):
    os.makedirs(os.path.join(env["path"], "precious"))
    with pytest.raises(NexcageError, match="does not look like a bundle"):
        run("absent", env["path"])
    assert os.path.isdir(os.path.join(env["path"], "precious"))


def test_validated(env):
    run("present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False)
    result, runner, _ignored = run("validated", env["path"])
    assert result["valid"] and result["validation"] == [] and result["changed"] is False
    cfg_path = pathlib.Path(env["path"]) / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["process"]["cwd"] = "rel"
    cfg["process"]["rlimits"].append({"type": "RLIMIT_NOFILE", "soft": 5, "hard": 1})
    cfg["process"]["user"]["uid"] = -3
    cfg_path.write_text(json.dumps(cfg))
    before = cfg_path.read_text()
    result, _ignored, _ignored = run("validated", env["path"])
    assert not result["valid"]
    paths = {p["path"] for p in result["validation"]}
    assert {"$.process.cwd", "$.process.rlimits[1].type", "$.process.rlimits[1]", "$.process.user.uid"} <= paths
    assert cfg_path.read_text() == before


def test_validated_malformed_config(env):
    os.makedirs(os.path.join(env["path"], "rootfs"))
    pathlib.Path(env["path"], "config.json").write_text('{"ociVersion": "1.0.2", ')
    result, _ignored, _ignored = run("validated", env["path"])
    assert not result["valid"] and result["config"] is None
    (problem,) = result["validation"]
    assert problem["check"] == "load" and problem["path"] == "$" and "not valid JSON" in problem["message"]


def test_validated_missing_bundle(env):
    with pytest.raises(NexcageError, match="does not exist"):
        run("validated", env["path"])


# --------------------------------------------------------------------------- Proxmox mapping


def test_missing_bind_source_is_a_warning(env):
    result, _ignored, _ignored = run(
        "present",
        env["path"],
        source=str(env["src"]),
        args=["/bin/sh"],
        terminal=False,
        mounts=[dict(destination="/data", source="hostdata", type=None, options=None)],
    )
    (problem,) = result["validation"]
    assert problem["level"] == "warning" and problem["path"] == "$.mounts[7].source"
    assert os.path.join(env["path"], "hostdata") in problem["message"]


def test_inspect_bundle(env):
    result, _ignored, _ignored = run("present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False)
    info = oci_bundle.inspect_bundle(env["path"])
    assert info["valid"] and info["config"] == result["config"] and info["digest"] == result["digest"]
    assert info["rootfs"] == os.path.join(env["path"], "rootfs") and info["rootfs_digest"].startswith("sha256:")
    pathlib.Path(env["path"], "config.json").write_text("[")
    info = oci_bundle.inspect_bundle(env["path"])
    assert not info["valid"] and info["config"] is None and info["validation"][0]["check"] == "load"
