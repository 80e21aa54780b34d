"""The roles node, container and teardown, through ansible-playbook under a simulated node.

Fast checks first (routing, argument specs, spec checks, preflight failures, check mode),
then one real-LXC lifecycle: deploy, idempotent redeploy, verification, and a teardown that
keeps what it should and removes nothing the specs do not name.
"""

import json
import os

import pytest
from integration_conftest import TEMPLATE, lxc_available


def _playbook(node, tmp_path, name, plays):
    path = tmp_path / name
    path.write_text(json.dumps(plays, indent=1))
    return path


def _play(tasks, vars=None, roles=None):
    play = {"name": "Test", "hosts": "localhost", "gather_facts": False, "vars": vars or {}, "tasks": tasks}
    if roles:
        play["roles"] = roles
    return [play]


def _dump(var, dest):
    return {
        "name": "Dump",
        "ansible.builtin.copy": {"content": "{{ %s | to_json }}" % var, "dest": str(dest)},
        "changed_when": False,
    }


def _run(node, path, *extra, ok=True):
    proc = node.run_playbook(path, list(extra))
    out = proc.stdout + proc.stderr
    if ok:
        assert proc.returncode == 0, out
    else:
        assert proc.returncode != 0, out
    return out


def test_routing_picks_the_first_matching_rule(node, tmp_path):
    routing = [
        {"match": {"name": "^oci-", "source": "bundle"}, "backend": "runc"},
        {"match": {"tags": "fast"}, "backend": "crun"},
        {"match": {"image": "debian"}, "backend": "proxmox_lxc"},
        {"match": {}, "backend": "crun"},
    ]
    specs = [
        ("oci-api", "bundle", {"name": "oci-api", "bundle": {"path": "/b"}}, "runc"),
        ("oci-tmpl", "template", {"name": "oci-tmpl", "image": "local:vztmpl/debian-12.tar.zst"}, "proxmox_lxc"),
        ("tagged", "bundle", {"name": "tagged", "bundle": {"path": "/b"}, "options": {"tags": ["a", "fast"]}}, "crun"),
        ("own", "bundle", {"name": "own", "backend": "proxmox_lxc", "bundle": {"path": "/b"}}, "proxmox_lxc"),
        ("other", "bundle", {"name": "other", "bundle": {"path": "/b"}}, "crun"),
    ]
    tasks = []
    for name, source, spec, _want in specs:
        tasks.append(
            {
                "name": "Route " + name,
                "ansible.builtin.include_role": {"name": "cageforge.nexcage.container", "tasks_from": "route"},
                "vars": {"container_spec": spec, "container_source": source, "container_routing": routing},
            }
        )
        keep = "{{ seen | default({}) | combine({'%s': container_backend}) }}" % name
        tasks.append({"name": "Keep", "ansible.builtin.set_fact": {"seen": keep}})
    tasks.append(_dump("seen", tmp_path / "out.json"))
    _run(node, _playbook(node, tmp_path, "route.yml", _play(tasks)))
    seen = json.loads((tmp_path / "out.json").read_text())
    assert seen == {spec[0]: spec[3] for spec in specs}


def test_routing_without_rules_uses_the_default(node, tmp_path):
    tasks = [
        {
            "name": "Route",
            "ansible.builtin.include_role": {"name": "cageforge.nexcage.container", "tasks_from": "route"},
            "vars": {"container_spec": {"name": "x", "image": TEMPLATE}, "container_source": "template"},
        },
        _dump("container_backend", tmp_path / "out.json"),
    ]
    _run(node, _playbook(node, tmp_path, "route.yml", _play(tasks)))
    assert json.loads((tmp_path / "out.json").read_text()) == "proxmox_lxc"


def test_argument_spec_rejects_an_unknown_backend(node, tmp_path):
    roles = [
        {
            "role": "cageforge.nexcage.container",
            "vars": {"container_specs": [{"name": "x", "image": TEMPLATE, "backend": "podman"}]},
        }
    ]
    out = _run(node, _playbook(node, tmp_path, "bad.yml", _play([], roles=roles)), ok=False)
    assert "podman" in out and "backend" in out
    assert node.conf(100) is None


def test_a_spec_with_image_and_bundle_fails_before_anything_is_made(node, tmp_path):
    specs = [
        {
            "name": "both",
            "vmid": 4242,
            "image": TEMPLATE,
            "bundle": {"path": "/var/lib/nexcage/bundles/b"},
            "dataset": {"name": "rpool/data/both"},
        }
    ]
    roles = [{"role": "cageforge.nexcage.container", "vars": {"container_specs": specs}}]
    out = _run(node, _playbook(node, tmp_path, "both.yml", _play([], roles=roles)), ok=False)
    assert "names either an image" in out
    assert node.conf(4242) is None
    assert not node.exists("/rpool/data/both")


def test_duplicate_names_fail(node, tmp_path):
    specs = [{"name": "dup", "image": TEMPLATE}, {"name": "dup", "image": TEMPLATE}]
    roles = [{"role": "cageforge.nexcage.container", "vars": {"container_specs": specs}}]
    out = _run(node, _playbook(node, tmp_path, "dup.yml", _play([], roles=roles)), ok=False)
    assert "unique name" in out


def test_node_role_passes_on_a_fresh_node_and_changes_nothing(node, tmp_path):
    specs = [{"name": "a", "image": TEMPLATE, "options": {"rootfs": {"storage": "local-zfs", "size": 1}}}]
    roles = [{"role": "cageforge.nexcage.node", "vars": {"node_container_specs": specs, "node_storages": ["local"]}}]
    out = _run(node, _playbook(node, tmp_path, "node.yml", _play([], roles=roles)))
    assert "changed=0" in out and "failed=0" in out


def test_node_role_names_a_missing_template_and_what_the_storage_has(node, tmp_path):
    roles = [{"role": "cageforge.nexcage.node", "vars": {"node_templates": ["local:vztmpl/nope_1.0_amd64.tar.zst"]}}]
    out = _run(node, _playbook(node, tmp_path, "tmpl.yml", _play([], roles=roles)), ok=False)
    assert "local:vztmpl/nope_1.0_amd64.tar.zst is missing" in out
    assert TEMPLATE in out
    assert "node_templates_download" in out


def test_node_role_downloads_a_missing_template_when_asked(fresh_node, tmp_path):
    volid = "local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz"
    assert not fresh_node.exists("/var/lib/vz/template/cache/alpine-3.22-default_20250617_amd64.tar.xz")
    roles = [{"role": "cageforge.nexcage.node", "vars": {"node_templates": [volid], "node_templates_download": True}}]
    path = _playbook(fresh_node, tmp_path, "dl.yml", _play([], roles=roles))
    out = _run(fresh_node, path)
    assert "changed=1" in out
    assert fresh_node.exists("/var/lib/vz/template/cache/alpine-3.22-default_20250617_amd64.tar.xz")
    assert "changed=0" in _run(fresh_node, path)


def test_node_role_names_a_missing_storage(node, tmp_path):
    roles = [
        {"role": "cageforge.nexcage.node", "vars": {"node_storages": ["local", "fast-nvme"], "node_health": False}}
    ]
    out = _run(node, _playbook(node, tmp_path, "st.yml", _play([], roles=roles)), ok=False)
    assert "fast-nvme does not exist" in out
    assert "local-zfs" in out


def test_health_gate_stops_the_play(fresh_node, tmp_path):
    cfg = fresh_node.read("/etc/pve/storage.cfg")
    fresh_node.write("/etc/pve/storage.cfg", cfg + "\ndir: backups\n\tpath /mnt/nexcage-roles-gone\n\tcontent backup\n")
    roles = [{"role": "cageforge.nexcage.node"}]
    tasks = [{"name": "Never reached", "ansible.builtin.copy": {"content": "x", "dest": str(tmp_path / "reached")}}]
    out = _run(fresh_node, _playbook(fresh_node, tmp_path, "gate.yml", _play(tasks, roles=roles)), ok=False)
    assert "backups is inactive" in out
    assert not (tmp_path / "reached").exists()


def test_container_role_in_check_mode_changes_nothing(fresh_node, tmp_path):
    specs = [
        {
            "name": "chk",
            "vmid": 4343,
            "image": TEMPLATE,
            "dataset": {"name": "rpool/data/chk"},
            "options": {"rootfs": {"storage": "local-zfs", "size": 1}, "ostype": "unmanaged"},
        }
    ]
    roles = [{"role": "cageforge.nexcage.container", "vars": {"container_specs": specs}}]
    out = _run(fresh_node, _playbook(fresh_node, tmp_path, "chk.yml", _play([], roles=roles)), "--check")
    assert "failed=0" in out
    assert fresh_node.conf(4343) is None
    assert not fresh_node.exists("/rpool/data/chk")


def test_teardown_routes_specs_like_the_deploy_and_tolerates_missing_containers(node, tmp_path):
    specs = [{"name": "tx-gone", "vmid": 4646, "image": TEMPLATE}, {"name": "ty-gone", "backend": "proxmox_lxc"}]
    td_vars = {
        "teardown_specs": specs,
        "teardown_routing": [{"match": {"name": "^tx-"}, "backend": "proxmox_lxc"}],
        "teardown_default_backend": "crun",
    }
    tasks = [_dump("container_backends", tmp_path / "backends.json"), _dump("teardown_summary", tmp_path / "td.json")]
    roles = [{"role": "cageforge.nexcage.teardown", "vars": td_vars}]
    out = _run(node, _playbook(node, tmp_path, "td.yml", _play(tasks, roles=roles)))
    assert "changed=0" in out
    assert json.loads((tmp_path / "backends.json").read_text()) == {"tx-gone": "proxmox_lxc", "ty-gone": "proxmox_lxc"}
    assert json.loads((tmp_path / "td.json").read_text())["containers_removed"] == []


def test_bundle_step_adds_the_dataset_mount_and_is_idempotent(node, tmp_path):
    path = "/var/lib/nexcage/bundles/rb-app"
    spec = {
        "name": "rb-app",
        "bundle": {
            "path": path,
            "source": TEMPLATE,
            "args": ["/bin/sh", "-c", "exec /sbin/init"],
            "env": {"MODE": "test"},
            "mounts": [
                {"destination": "/shared", "source": "/var/lib/nexcage", "type": "bind", "options": ["rbind", "ro"]}
            ],
        },
        "dataset": {"name": "rpool/data/rb-app"},
    }
    step = {
        "name": "Bundle step",
        "ansible.builtin.include_role": {"name": "cageforge.nexcage.container", "tasks_from": "bundle"},
        "vars": {
            "container_spec": spec,
            "container_source": "bundle",
            "container_state": "started",
            "container_has_dataset": True,
            "container_dataset_path": "/rpool/data/rb-app",
            "container_dataset_target": "/data",
        },
    }
    play = _playbook(node, tmp_path, "bundle.yml", _play([step]))
    assert "changed=1" in _run(node, play)
    config = json.loads(node.read(path + "/config.json"))
    assert config["hostname"] == "rb-app"
    assert config["process"]["args"] == ["/bin/sh", "-c", "exec /sbin/init"]
    assert "MODE=test" in config["process"]["env"]
    binds = [(m["destination"], m.get("source"), m.get("options")) for m in config["mounts"] if m.get("type") == "bind"]
    assert binds == [("/shared", "/var/lib/nexcage", ["rbind", "ro"]), ("/data", "/rpool/data/rb-app", ["rbind", "rw"])]
    assert node.exists(path + "/rootfs/bin/busybox")
    assert "changed=0" in _run(node, play)


@pytest.mark.real_lxc
@pytest.mark.slow
@pytest.mark.skipif(not lxc_available(), reason="needs LXC (lxc-start) and root")
def test_deploy_redeploy_and_teardown(fresh_node, tmp_path, new_vmid):
    web, idle, other = new_vmid(), new_vmid(), new_vmid()
    base = {"rootfs": {"storage": "local-zfs", "size": 1}, "ostype": "unmanaged"}
    specs = [
        {
            "name": "rl-web",
            "vmid": web,
            "image": TEMPLATE,
            "dataset": {"name": "rpool/data/rl-web-%d" % web, "properties": {"quota": "64M"}, "mountpoint": "/srv"},
            "options": base,
        },
        {"name": "rl-idle", "vmid": idle, "image": TEMPLATE, "state": "present", "options": base},
    ]
    bystander = [{"name": "rl-other", "vmid": other, "image": TEMPLATE, "state": "present", "options": base}]
    deploy = _playbook(
        fresh_node,
        tmp_path,
        "deploy.yml",
        _play(
            [_dump("container_summary", tmp_path / "summary.json")],
            roles=[{"role": "cageforge.nexcage.container", "vars": {"container_specs": specs}}],
        ),
    )
    teardown = _playbook(
        fresh_node,
        tmp_path,
        "teardown.yml",
        _play(
            [_dump("teardown_summary", tmp_path / "teardown.json")],
            roles=[{"role": "cageforge.nexcage.teardown", "vars": {"teardown_specs": specs}}],
        ),
    )
    purge = _playbook(
        fresh_node,
        tmp_path,
        "purge.yml",
        _play(
            [],
            roles=[
                {
                    "role": "cageforge.nexcage.teardown",
                    "vars": {"teardown_specs": specs + bystander, "teardown_purge": True},
                }
            ],
        ),
    )
    other_play = _playbook(
        fresh_node,
        tmp_path,
        "other.yml",
        _play([], roles=[{"role": "cageforge.nexcage.container", "vars": {"container_specs": bystander}}]),
    )
    try:
        _run(fresh_node, other_play)
        out = _run(fresh_node, deploy)
        summary = json.loads((tmp_path / "summary.json").read_text())
        assert [(s["name"], s["vmid"], s["backend"], s["changed"]) for s in summary] == [
            ("rl-web", web, "proxmox_lxc", True),
            ("rl-idle", idle, "proxmox_lxc", True),
        ]
        assert "running" in fresh_node.sh("pct", "status", web).stdout
        conf = fresh_node.conf(web)
        assert "mp0: /rpool/data/rl-web-%d,mp=/srv" % web in conf
        # unprivileged: the dataset belongs to the container's root
        assert os.stat(fresh_node.path("/rpool/data/rl-web-%d" % web)).st_uid == 100000
        proc = fresh_node.sh("pct", "exec", web, "--", "/bin/sh", "-c", "echo hi > /srv/f && cat /srv/f")
        assert proc.returncode == 0 and proc.stdout.strip() == "hi", proc.stderr

        out = _run(fresh_node, deploy)
        assert "changed=0" in out, out
        assert "changed=0" in _run(fresh_node, deploy, "--check"), "idempotent in check mode too"
        assert not any(s["changed"] for s in json.loads((tmp_path / "summary.json").read_text()))

        _run(fresh_node, teardown)
        done = json.loads((tmp_path / "teardown.json").read_text())
        assert sorted(done["containers_removed"]) == ["rl-idle", "rl-web"]
        assert done["datasets_kept"] == ["rpool/data/rl-web-%d" % web] and done["datasets_removed"] == []
        assert fresh_node.conf(web) is None and fresh_node.conf(idle) is None
        assert not fresh_node.exists("/run/nexcage/%d/state.json" % web)
        assert fresh_node.exists("/rpool/data/rl-web-%d/f" % web), "the dataset must be kept without purge"
        assert fresh_node.conf(other) is not None, "a container the specs do not name must stay"

        assert "changed=0" in _run(fresh_node, teardown)
    finally:
        _run(fresh_node, purge)
    assert not fresh_node.exists("/rpool/data/rl-web-%d" % web)
    assert fresh_node.conf(other) is None
