"""The node and container roles on a converged node make no Perl call (pct, pvesm, pveam, pvesh, qm, pvecm).

Counted from the simulated node's call log: each of those is a Perl start-up of 100s of ms on a real
node. The container role converges its template containers in one nexcage_containers task and
verifies them from its result (no `pct status`).
"""

import json

from integration_conftest import TEMPLATE

PERL_TOOLS = {"pct", "pvesm", "pveam", "pvesh", "qm", "pvecm"}
OPTIONS = {"rootfs": {"storage": "local-zfs", "size": 1}, "ostype": "unmanaged"}


def _perl_calls(node):
    return [" ".join(call["argv"][:2]) for call in node.calls() if call["argv"][0] in PERL_TOOLS]


def _playbook(tmp_path, name, roles, tasks=()):
    path = tmp_path / name
    play = {"name": "Test", "hosts": "localhost", "gather_facts": False, "roles": roles, "tasks": list(tasks)}
    path.write_text(json.dumps([play]))
    return path


def _dump(var, dest):
    copy = {"content": "{{ %s | to_json }}" % var, "dest": str(dest)}
    return {"name": "Dump", "ansible.builtin.copy": copy, "changed_when": False}


def test_converged_node_and_container_roles_make_no_perl_call(fresh_node, tmp_path):
    node = fresh_node
    specs = [
        {"name": "calls-a", "vmid": 4501, "image": TEMPLATE, "state": "present", "options": OPTIONS},
        {"name": "calls-b", "image": TEMPLATE, "state": "present", "options": dict(OPTIONS, memory=256)},
        {
            "name": "calls-c",
            "vmid": 4503,
            "image": TEMPLATE,
            "state": "stopped",
            "dataset": {"name": "rpool/data/calls-c"},
            "options": OPTIONS,
        },
    ]
    roles = [
        {"role": "cageforge.nexcage.node", "vars": {"node_container_specs": specs, "node_health": False}},
        {"role": "cageforge.nexcage.container", "vars": {"container_specs": specs}},
    ]
    path = _playbook(tmp_path, "calls.yml", roles, [_dump("container_summary", tmp_path / "summary.json")])
    first = node.run_playbook(path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Converge the Proxmox containers in one task" in first.stdout
    created = _perl_calls(node)
    assert sorted(created) == ["pct create"] * 3, created  # the roles added nothing to the module's creates
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [(s["name"], s["changed"]) for s in summary] == [("calls-a", True), ("calls-b", True), ("calls-c", True)]
    assert summary[1]["vmid"] == 100

    node.clear_calls()
    again = node.run_playbook(path)
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout
    assert _perl_calls(node) == []
    assert not any(s["changed"] for s in json.loads((tmp_path / "summary.json").read_text()))


def test_the_node_role_reads_storages_and_templates_from_the_node_files(fresh_node, tmp_path):
    node = fresh_node
    specs = [{"name": "n", "image": TEMPLATE, "options": OPTIONS}]
    roles = [
        {
            "role": "cageforge.nexcage.node",
            "vars": {"node_container_specs": specs, "node_storages": ["local"], "node_health": False},
        }
    ]
    out = node.run_playbook(_playbook(tmp_path, "node.yml", roles))
    assert out.returncode == 0 and "changed=0" in out.stdout, out.stdout
    assert _perl_calls(node) == []
    # a disabled storage counts as missing, as pvesm status would not list it
    cfg = node.read("/etc/pve/storage.cfg")
    node.write("/etc/pve/storage.cfg", cfg.replace("content images,rootdir", "content images,rootdir\n\tdisable", 1))
    out = node.run_playbook(_playbook(tmp_path, "node.yml", roles))
    assert out.returncode != 0 and "local-zfs does not exist on this node" in out.stdout, out.stdout
