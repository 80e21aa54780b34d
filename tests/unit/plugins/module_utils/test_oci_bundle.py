"""Bundle generation: config building, digest idempotency, sources, safety, and the Proxmox mapping."""

import json
import os
import pathlib
import sys

import pytest

from ansible_collections.cageforge.nexcage.plugins.module_utils import _oci_bundle, _oci_schema
from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import NexcageError
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import Runner

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "oci"))
import ocifix  # noqa: E402

pytest.importorskip("jsonschema", reason="jsonschema is not installed in this Python")

DEFAULTS = dict(
    state="present",
    source=None,
    source_type="auto",
    image_ref=None,
    rootfs_mode="copy",
    allow_devices=False,
    args=None,
    env=None,
    cwd=None,
    user=None,
    hostname=None,
    terminal=None,
    readonly_rootfs=None,
    mounts=None,
    annotations=None,
    memory_limit=None,
    cpu_quota=None,
    cpu_period=None,
    cpu_shares=None,
    capabilities=None,
    rlimits=None,
    config=None,
)


def params(**kw):
    out = dict(DEFAULTS)
    out.update(kw)
    return out


def mini_rootfs(path):
    """A tiny rootfs with an executable /bin/sh (no busybox needed)."""
    (path / "bin").mkdir(parents=True)
    (path / "bin" / "sh").write_text("#!/bin/true\n")
    (path / "bin" / "sh").chmod(0o755)
    (path / "etc").mkdir()
    (path / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
    (path / "etc" / "group").write_text("root:x:0:\napp:x:1000:\n")
    return path


@pytest.fixture
def env(tmp_path):
    roots = tmp_path / "bundles"
    roots.mkdir()
    src = mini_rootfs(tmp_path / "src")
    return dict(tmp=tmp_path, roots=roots, src=src, path=str(roots / "b1"))


def run(state, path, check_mode=False, **kw):
    runner = Runner(check_mode=check_mode)
    manager = _oci_bundle.BundleManager(runner, params(**kw))
    result = getattr(manager, state)(path)
    return result, runner, manager


# --------------------------------------------------------------------------- config building


def test_no_options_gives_the_runc_defaults():
    assert _oci_bundle.build_config(params()) == _oci_bundle.default_config()
    cfg = _oci_bundle.default_config()
    assert cfg["process"]["args"] == ["sh"] and cfg["process"]["terminal"] is True
    assert cfg["root"] == {"path": "rootfs", "readonly": True}
    assert [m["destination"] for m in cfg["mounts"]] == list(_oci_bundle.DEFAULT_MOUNT_DESTINATIONS)


def test_options_build_config():
    cfg = _oci_bundle.build_config(
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
    cfg = _oci_bundle.build_config(params(env=["IMG=2", "NEW=x"]), overlay)
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
    assert _oci_bundle.parse_size(value) == expected


@pytest.mark.parametrize("value", ["lots", "-5", "1X", "-1G"])
def test_parse_size_rejects(value):
    with pytest.raises(NexcageError, match="memory_limit"):
        _oci_bundle.parse_size(value)


def test_deep_merge():
    base = {"a": {"b": 1, "c": [1]}, "d": 1}
    assert _oci_bundle.deep_merge(base, {"a": {"c": [2], "e": None}, "d": None, "f": 3}) == {
        "a": {"b": 1, "c": [2]},
        "f": 3,
    }
    assert base == {"a": {"b": 1, "c": [1]}, "d": 1}


# --------------------------------------------------------------------------- bundle_roots


def test_bundle_path_must_be_inside_roots(tmp_path):
    roots = [str(tmp_path / "r")]
    (tmp_path / "r").mkdir()
    assert _oci_bundle.check_bundle_path(str(tmp_path / "r" / "b"), roots)[0] == str(tmp_path / "r" / "b")
    for bad in (str(tmp_path / "other" / "b"), str(tmp_path / "r"), str(tmp_path / "r" / ".." / "b"), "/etc"):
        with pytest.raises(NexcageError, match="not inside any of bundle_roots") as exc:
            _oci_bundle.check_bundle_path(bad, roots)
        assert exc.value.category == "permission_denied"
    with pytest.raises(NexcageError, match="absolute"):
        _oci_bundle.check_bundle_path("rel/b", roots)


def test_bundle_path_symlink_escape_refused(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(str(tmp_path / "elsewhere"), str(tmp_path / "r" / "link"))
    with pytest.raises(NexcageError, match="not inside"):
        _oci_bundle.check_bundle_path(str(tmp_path / "r" / "link" / "b"), [str(tmp_path / "r")])


# --------------------------------------------------------------------------- present / idempotency


def test_present_from_directory_then_idempotent(env):
    result, runner, _ignored = run("present", env["path"], source=str(env["src"]), args=["/bin/sh"], terminal=False)
    assert result["changed"] and result["rootfs_changed"] and result["config_changed"]
    assert any(c.startswith("cp -a") for c in runner.commands)
    bundle = pathlib.Path(env["path"])
    assert (bundle / "rootfs" / "bin" / "sh").exists()
    on_disk = json.loads((bundle / "config.json").read_text())
    assert on_disk == result["config"]
    stored = json.loads((bundle / _oci_bundle.DIGEST_FILE).read_text())
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
    assert sorted(os.listdir(env["path"])) == [_oci_bundle.DIGEST_FILE, "config.json", "hostdata", "rootfs"]
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
    assert (bundle / _oci_bundle.DIGEST_FILE).exists() and (bundle / "rootfs" / "bin" / "sh").exists()
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
    assert sorted(os.listdir(env["path"])) == [_oci_bundle.DIGEST_FILE, "config.json", "rootfs"]
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
    monkeypatch.setattr(_oci_bundle, "STORAGE_CFG", str(cfg))
    assert _oci_bundle.template_path("local:vztmpl/mini.tar.gz") == str(vz / "template" / "cache" / "mini.tar.gz")
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
            _oci_bundle.template_path(volid)


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


def lxc_split(value):
    """Port of LXC: parse_line strips one pair of surrounding quotes, then
    lxc_string_split_quoted splits on whitespace with '...' / "..." words."""
    if len(value) >= 2 and value[0] in "'\"" and value[-1] == value[0]:
        value = value[1:-1]
    words, i = [], 0
    while i < len(value):
        if value[i].isspace():
            i += 1
            continue
        if value[i] in "'\"":
            q = value[i]
            end = value.index(q, i + 1) if q in value[i + 1 :] else len(value)
            words.append(value[i + 1 : end])
            i = end + 1
        else:
            end = i
            while end < len(value) and not value[end].isspace():
                end += 1
            words.append(value[i:end])
            i = end
    return words


@pytest.mark.parametrize(
    "args",
    [
        ["/bin/sh"],
        ["/bin/sh", "-c", "echo hello; cat /data/x"],
        ["nginx", "-g", "daemon off;"],
        ["my app", "x y"],
        ["echo", "it's"],
        ['say "hi"', "plain"],
        ["'quoted'"],
    ],
)
def test_lxc_quote_args_roundtrip(args):
    assert lxc_split(_oci_bundle.lxc_quote_args(args)) == args


@pytest.mark.parametrize("args", [["a'b\"c"], [""], ["a\nb"]])
def test_lxc_quote_args_unrepresentable(args):
    with pytest.raises(ValueError):
        _oci_bundle.lxc_quote_args(args)


def test_shares_to_weight():
    assert _oci_bundle.shares_to_weight(1024) == 100
    assert _oci_bundle.shares_to_weight(2) == 1
    assert _oci_bundle.shares_to_weight(262144) == 10000


def test_pve_settings_full(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text("x")
    (tmp_path / "rel").mkdir()
    cfg = _oci_bundle.build_config(
        params(
            args=["/bin/sh", "-c", "echo hi"],
            env=["A=1", "BAD.NAME=2"],
            cwd="/srv",
            user=dict(uid=1000, gid=1000, additional_gids=[10, 20]),
            hostname="web-1",
            terminal=False,
            mounts=[
                dict(destination="/data", source=str(data_dir), type=None, options=["ro", "nosuid"]),
                dict(destination="/etc/hosts2", source=str(hosts_file), type=None, options=None),
                dict(destination="/cache", source=None, type="tmpfs", options=["size=64m"]),
                dict(destination="/rel", source="rel", type="bind", options=None),
            ],
            memory_limit="512M",
            cpu_quota=50000,
            cpu_period=100000,
            cpu_shares=1024,
            rlimits=[dict(type="nproc", soft=100, hard=18446744073709551615)],
            annotations={"org.opencontainers.image.stopSignal": "SIGTERM"},
            config={"linux": {"resources": {"memory": {"swap": 1024 * 1024 * 1024}, "pids": {"limit": 50}}}},
        )
    )
    settings, warnings, errors = _oci_bundle.pve_settings(cfg, str(tmp_path))
    assert errors == []
    assert settings["hostname"] == "web-1"
    assert settings["memory"] == 512 and settings["swap"] == 512
    assert settings["cpulimit"] == 0.5 and settings["cpuunits"] == 100
    assert settings["unprivileged"] is False and settings["rootfs_readonly"] is True
    assert settings["mounts"] == [
        {"host_path": str(data_dir), "mountpoint": "/data", "read_only": True, "mount_options": ["nosuid"]},
        {"host_path": str(tmp_path / "rel"), "mountpoint": "/rel", "read_only": False, "mount_options": []},
    ]
    lxc = settings["lxc"]
    assert ["lxc.init.cmd", "/bin/sh -c 'echo hi'"] in lxc
    assert ["lxc.init.cwd", "/srv"] in lxc
    assert ["lxc.init.uid", "1000"] in lxc and ["lxc.init.gid", "1000"] in lxc
    assert ["lxc.init.groups", "10,20"] in lxc
    assert ["lxc.environment", "A=1"] in lxc and ["lxc.environment", "BAD.NAME=2"] in lxc
    assert ["lxc.mount.entry", "%s etc/hosts2 none bind,create=file 0 0" % hosts_file] in lxc
    assert ["lxc.mount.entry", "tmpfs cache tmpfs size=64m,create=dir 0 0"] in lxc
    assert ["lxc.prlimit.nproc", "100:unlimited"] in lxc
    assert ["lxc.cap.keep", "audit_write kill net_bind_service"] in lxc
    assert ["lxc.cgroup2.pids.max", "50"] in lxc
    assert ["lxc.signal.halt", "SIGTERM"] in lxc
    assert not [e for e in lxc if e[0] == "lxc.mount.entry" and "proc" in e[1]]  # defaults are LXC's job
    assert any("BAD.NAME" in w or "env[3]" in w for w in warnings)
    assert any("noNewPrivileges" in w for w in warnings)


def test_pve_settings_errors(tmp_path):
    cfg = _oci_bundle.build_config(
        params(
            args=["a'b\"c"],
            mounts=[
                dict(destination="/gone", source=str(tmp_path / "missing"), type=None, options=None),
                dict(destination="/x", source="nfs:/x", type="nfs", options=None),
            ],
            memory_limit="1M",
            config={
                "hostname": "bad_host",
                "hooks": {"poststop": [{"path": "/bin/true"}]},
                "linux": {"sysctl": {"net.ipv4.ip_forward": "1"}, "devices": [{"type": "c", "path": "/dev/x"}]},
            },
        )
    )
    settings, warnings, errors = _oci_bundle.pve_settings(cfg, str(tmp_path))
    text = "\n".join(errors)
    for words in (
        "$.hostname",
        "$.process.args",
        "does not exist",
        "'nfs'",
        "16 MiB",
        "$.hooks.poststop",
        "only IPC sysctls",
        "$.linux.devices",
    ):
        assert words in text, words
    assert "hostname" not in settings and "memory" not in settings


def test_pve_settings_user_namespace(tmp_path):
    ns = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "user")]
    default_map = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cfg = _oci_bundle.build_config(
        params(
            args=["/bin/sh"],
            config={"linux": {"namespaces": ns, "uidMappings": default_map, "gidMappings": default_map}},
        )
    )
    settings, warnings, errors = _oci_bundle.pve_settings(cfg, str(tmp_path))
    assert settings["unprivileged"] is True and not [e for e in settings["lxc"] if e[0] == "lxc.idmap"]
    other = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    cfg["linux"]["uidMappings"] = other
    settings, warnings, errors = _oci_bundle.pve_settings(cfg, str(tmp_path))
    assert ["lxc.idmap", "u 0 200000 65536"] in settings["lxc"] and errors == []


def test_pve_settings_on_every_generated_config_is_schema_valid_input(tmp_path):
    cfg = _oci_bundle.build_config(params(args=["/bin/sh"]))
    assert _oci_schema.schema_problems(cfg) == []
    settings, warnings, errors = _oci_bundle.pve_settings(cfg, str(tmp_path))
    assert errors == [] and settings["lxc"][0] == ["lxc.init.cmd", "/bin/sh"]


def test_pve_settings_rootfs_and_foreign_platform(tmp_path):
    cfg = _oci_bundle.build_config(params(args=["/bin/sh"], config={"windows": {"layerFolders": ["C:\\x"]}}))
    settings, warnings, errors = _oci_bundle.pve_settings(cfg, str(tmp_path))
    assert settings["rootfs_dir"] == str(tmp_path / "rootfs")
    assert any(e.startswith("$.windows") for e in errors)


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
    info = _oci_bundle.inspect_bundle(env["path"])
    assert info["valid"] and info["config"] == result["config"] and info["digest"] == result["digest"]
    assert info["rootfs"] == os.path.join(env["path"], "rootfs") and info["rootfs_digest"].startswith("sha256:")
    pathlib.Path(env["path"], "config.json").write_text("[")
    info = _oci_bundle.inspect_bundle(env["path"])
    assert not info["valid"] and info["config"] is None and info["validation"][0]["check"] == "load"
