"""Real runs under the simulated node: what lands in /etc/pve/lxc/<vmid>.conf, and what a playbook
run with -vvv shows. (The refusals of the hand corpus also run for real, see test_corpus.py.)"""

import json
import os
import re

from hostile import FORBIDDEN_LXC_KEY, MARKER, judge
from scenes import BASE_NEW

SECRET = "S3cr3t-Play-Key-93ab"
# Keys a Proxmox VE container config may hold (pct.conf(5)) and the raw lxc.* keys nexcage writes.
CONF_LINE = re.compile(r"^(#.*|\[[^\]]+\]|[a-z][a-z0-9_-]*: .*|lxc\.[a-z0-9_.]+: .*|)$")


def conf_problems(text):
    found = []
    for line in (text or "").splitlines():
        if not CONF_LINE.match(line):
            found.append("unexpected config line %r" % line)
        if FORBIDDEN_LXC_KEY.match(line) or (MARKER in line and not line.startswith("#")):
            found.append("injected line %r" % line)
    return found


def test_multiline_description_stays_comments(sim, scene):
    vmid = scene.new + 7
    args = dict(BASE_NEW, vmid=vmid, description="first\nlxc.hook.pre-start: %s\nlast" % MARKER)
    answer = sim.run("nexcage_container", args, check=False)
    problems = judge("description with newlines (real)", answer, ["description"])
    try:
        text = sim.read("/etc/pve/lxc/%d.conf" % vmid)
        problems += conf_problems(text)
    finally:
        sim.run("nexcage_container", {"vmid": vmid, "state": "absent"}, track=False)
    assert not problems, "\n".join(problems)


def test_bundle_deploy_writes_only_allowed_lxc_keys(sim, scene):
    vmid = scene.new + 8
    config = scene.config_with(lambda c: c["process"].update(cwd="/srv", env=["PATH=/bin", "API_KEY=%s" % SECRET]))
    scene.write_deploy_config(config)
    deploy = {"vmid": vmid, "image": scene.deploy_bundle, "rootfs": {"storage": "local-zfs", "size": 1}}
    answer = sim.run("nexcage_container", deploy, check=False, diff=True)
    problems = judge("deploy of a clean bundle (real)", answer, ["-"], secrets=[SECRET])
    try:
        text = sim.read("/etc/pve/lxc/%d.conf" % vmid)
        assert text, "the container was not created: %s" % (answer.get("result") or {}).get("msg")
        problems += conf_problems(text)
        keys = {line.split(":", 1)[0] for line in text.splitlines() if line.startswith("lxc.")}
        assert "lxc.init.cwd" in keys
        assert not {k for k in keys if k.startswith(("lxc.hook", "lxc.include"))}
        # A second run converges (changes nothing).
        again = sim.run("nexcage_container", deploy, check=False)
        problems += judge("deploy again (real)", again, ["-"], secrets=[SECRET])
        assert (again.get("result") or {}).get("changed") is False, again.get("result")
        assert not again.get("changed"), again.get("changed")
    finally:
        sim.run("nexcage_container", {"vmid": vmid, "state": "absent"}, track=False)
    assert not problems, "\n".join(problems)


def test_playbook_vvv_hides_env_secrets(sim, scene, tmp_path):
    """ansible-playbook -vvv (module invocation, results, --diff) never shows an env value."""
    vmid = scene.new + 9
    bundle = os.path.join(scene.roots, "vvv")
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "bundle with a secret in its environment",
                    "cageforge.nexcage.nexcage_bundle": dict(
                        scene.bundle_args("vvv"), env=["API_KEY=%s" % SECRET, "MODE=prod"]
                    ),
                },
                {
                    "name": "deploy it",
                    "cageforge.nexcage.nexcage_container": {
                        "vmid": vmid,
                        "image": bundle,
                        "rootfs": {"storage": "local-zfs", "size": 1},
                    },
                },
                {
                    "name": "warnings and diffs of a changed environment",
                    "cageforge.nexcage.nexcage_bundle": dict(
                        scene.bundle_args("vvv"), env=["API_KEY=%s" % SECRET, "MODE=dev"]
                    ),
                },
                {
                    "name": "remove it",
                    "cageforge.nexcage.nexcage_container": {"vmid": vmid, "state": "absent"},
                },
            ],
        }
    ]
    path = tmp_path / "play.yml"
    path.write_text(json.dumps(play))
    proc = sim.playbook(str(path), "-vvv", "--diff")
    output = proc.stdout + proc.stderr
    assert "API_KEY" in output, output[-2000:]
    assert proc.returncode == 0, output[-3000:]
    assert SECRET not in output, "the env value is visible in -vvv output:\n" + "\n".join(
        line[:300] for line in output.splitlines() if SECRET in line
    )
