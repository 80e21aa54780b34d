"""Prove the declared support range: the built collection, installed as a user installs it,
on the lowest, a middle and the highest ansible-core of the range.

For each ansible-core version:
  1. a virtual environment under build/compat/ holding only ansible-core (and jsonschema, standing
     in for the node's python3-jsonschema: the simulated node runs the modules with this Python),
     made once and reused while its requirement line is unchanged;
  2. the tarball built from this checkout, installed into build/compat/<core>/collections with
     `ansible-galaxy collection install` of that core (no link to the checkout anywhere on the path);
  3. `ansible-doc --json` for every module, role, connection and inventory plugin of the INSTALLED
     collection, which must render;
  4. playbooks/demo.yml (the whole lifecycle through the node, container and teardown roles and all
     four modules) under a fresh simulated node (tests/pvesim), from a copy outside the checkout,
     with the installed collection only;
  5. node data is never templated (check_node_data): a container whose config holds Jinja that
     Proxmox VE accepts (pct create --entrypoint/--env/--description with lookup('pipe', 'touch ...'))
     listed by the inventory plugin: a play that uses its host vars (read from the node) and
     `ansible-inventory --list` (read from the inventory cache) see them as written. Before
     ansible-core 2.19 the plugin marks node data unsafe itself; from 2.19 on, ansible-core trusts
     no data of an inventory plugin.

  python scripts/compat.py                 # every version in CORES
  python scripts/compat.py --ends          # the lowest and the highest only (make test)
  python scripts/compat.py --core 2.17.14  # one version
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(TOP, "build", "compat")
PVESIM = os.path.join(TOP, "tests", "pvesim", "bin", "pvesim")
PYTHON = os.environ.get("NEXCAGE_COMPAT_PYTHON", "python3")

# The range declared in meta/runtime.yml (requires_ansible), lowest first. The highest is the newest
# ansible-core that installs on the controller Python here (3.11: 2.20 and later need 3.12).
CORES = ["2.16.0", "2.17.14", "2.19.14"]
# A container config that Proxmox VE accepts (pct takes any printable text for the entrypoint, the
# environment and the description), each a template that would run a command on the controller.
HOSTILE_VMID = 4242
HOSTILE_TEMPLATE = "local:vztmpl/busybox-1.35_amd64.tar.zst"
HOSTILE_SOURCE = """plugin: cageforge.nexcage.containers
connection: ansible.builtin.local
compose:
  composed_entrypoint: nexcage_config.entrypoint
groups:
  hostile_env: "'lookup' in nexcage_config.env"
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: %s
cache_timeout: 3600
"""
HOSTILE_PLAY = """- name: Use the host vars of a container whose config holds templates
  hosts: nexcage_containers
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Copy a host var into a fact
      ansible.builtin.set_fact:
        seen_env: "{{ nexcage_config.env }}"
    - name: Show them
      ansible.builtin.debug:
        msg: "{{ nexcage_config.entrypoint }} | {{ seen_env }}"
    - name: Write down what the play sees
      ansible.builtin.copy:
        dest: "{{ seen_file }}"
        mode: "0600"
        content: >-
          {{ {'entrypoint': nexcage_config.entrypoint, 'env': seen_env, 'composed': composed_entrypoint,
              'hostvars_env': hostvars[inventory_hostname].nexcage_config.env, 'groups': group_names} | to_json }}
"""
# The node's Python side of the range: jsonschema for OCI bundles (python3-jsonschema on the node).
NODE_EXTRAS = ["jsonschema>=4.10"]


def log(msg):
    print("compat: " + msg, flush=True)


def run(argv, check=True, timeout=1800, **kwargs):
    """A command of the check (a venv made with pip, a build, ansible-doc): never without an end."""
    return subprocess.run(argv, check=check, timeout=timeout, **kwargs)


def clean_env(core_dir, venv):
    """A user's environment: no ANSIBLE_* from the developer's shell, the venv first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = os.path.join(venv, "bin") + os.pathsep + "/usr/sbin:/usr/bin:/sbin:/bin"
    env["ANSIBLE_CONFIG"] = os.path.join(core_dir, "ansible.cfg")
    env["ANSIBLE_COLLECTIONS_PATH"] = os.path.join(core_dir, "collections")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_LOCAL_TEMP"] = os.path.join(core_dir, "tmp")
    env["HOME"] = os.path.join(core_dir, "home")
    return env


def ensure_venv(core):
    venv = os.path.join(WORK, "venv-" + core)
    wanted = " ".join(["ansible-core==" + core] + NODE_EXTRAS)
    marker = os.path.join(venv, ".compat-installed")
    if os.path.exists(marker):
        with open(marker, encoding="utf-8") as f:
            if f.read() == wanted:
                return venv
    shutil.rmtree(venv, ignore_errors=True)
    log("making %s (%s)" % (os.path.relpath(venv, TOP), wanted))
    run([PYTHON, "-m", "venv", venv])
    pip = [os.path.join(venv, "bin", "pip"), "install", "--quiet", "--disable-pip-version-check"]
    proc = run(pip + wanted.split(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit("compat: pip failed for %s\n%s%s" % (wanted, proc.stdout, proc.stderr))
    with open(marker, "w", encoding="utf-8") as f:
        f.write(wanted)
    return venv


def build_tarball():
    dist = os.path.join(WORK, "dist")
    shutil.rmtree(dist, ignore_errors=True)
    os.makedirs(dist)
    galaxy = os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")
    if not os.path.exists(galaxy):
        galaxy = "ansible-galaxy"
    run([galaxy, "collection", "build", "--output-path", dist, TOP], stdout=subprocess.DEVNULL)
    (tarball,) = glob.glob(os.path.join(dist, "cageforge-nexcage-*.tar.gz"))
    return tarball


def install(core, venv, tarball):
    core_dir = os.path.join(WORK, core)
    shutil.rmtree(core_dir, ignore_errors=True)
    for sub in ("collections", "tmp", "home"):
        os.makedirs(os.path.join(core_dir, sub))
    with open(os.path.join(core_dir, "ansible.cfg"), "w", encoding="utf-8") as f:
        f.write("[defaults]\ncollections_path = %s\ninterpreter_python = auto_silent\n" % (core_dir + "/collections"))
        f.write("retry_files_enabled = false\nstdout_callback = default\n")
    env = clean_env(core_dir, venv)
    run(
        [
            os.path.join(venv, "bin", "ansible-galaxy"),
            "collection",
            "install",
            "-p",
            env["ANSIBLE_COLLECTIONS_PATH"],
            tarball,
        ],
        env=env,
        cwd=core_dir,
        stdout=subprocess.DEVNULL,
    )
    return core_dir, env


def installed_root(core_dir):
    return os.path.join(core_dir, "collections", "ansible_collections", "cageforge", "nexcage")


def check_docs(core_dir, venv, env):
    root = installed_root(core_dir)
    if os.path.islink(root) or not os.path.exists(os.path.join(root, "MANIFEST.json")):
        raise SystemExit("compat: %s is not an installed copy" % root)

    def plugins(kind):
        found = glob.glob(os.path.join(root, "plugins", kind, "*.py"))
        return sorted(os.path.basename(p)[:-3] for p in found if not os.path.basename(p).startswith("_"))

    modules = plugins("modules")
    roles = sorted(os.listdir(os.path.join(root, "roles")))
    others = [("connection", plugins("connection")), ("inventory", plugins("inventory"))]
    doc = os.path.join(venv, "bin", "ansible-doc")
    for kind, names in [("module", modules), ("role", roles)] + others:
        fqcns = ["cageforge.nexcage." + name for name in names]
        proc = run([doc, "-t", kind, "--json"] + fqcns, env=env, cwd=core_dir, capture_output=True, text=True)
        rendered = json.loads(proc.stdout)
        missing = [name for name in fqcns if name not in rendered]
        if missing or "ERROR" in proc.stderr:
            raise SystemExit("compat: ansible-doc -t %s did not render %s\n%s" % (kind, missing, proc.stderr))
        if kind != "role":
            for name in fqcns:
                found = rendered[name]["doc"]["filename"]
                if not found.startswith(root):
                    raise SystemExit("compat: %s came from %s, not the installed copy" % (name, found))
    log(
        "ansible-doc renders %d modules, %d roles and the plugins %s"
        % (len(modules), len(roles), ", ".join("%s %s" % (kind, " ".join(names)) for kind, names in others))
    )
    return modules, roles


def run_demo(core, core_dir, venv, env):
    """playbooks/demo.yml on a fresh simulated node of its own (so its default VMIDs are free)."""
    node = os.path.join(core_dir, "node")
    run([PVESIM, "init", node], stdout=subprocess.DEVNULL)
    # The playbook from a directory of its own, so nothing next to it (the checkout) can be found.
    play_dir = tempfile.mkdtemp(prefix="play-", dir=core_dir)
    shutil.copy(os.path.join(TOP, "playbooks", "demo.yml"), play_dir)
    demo = [os.path.join(play_dir, "demo.yml")]
    proc = venv_tool_in_node(node, os.path.join(venv, "bin"), "ansible-playbook", demo, env, play_dir, timeout=1200)
    with open(os.path.join(core_dir, "demo.log"), "w", encoding="utf-8") as f:
        f.write(proc.stdout + proc.stderr)
    tail = (proc.stdout + proc.stderr)[-5000:]
    if proc.returncode != 0:
        raise SystemExit("compat: ansible-core %s: the demo failed (rc %d)\n%s" % (core, proc.returncode, tail))
    if "/build/collections/" in proc.stdout + proc.stderr:
        raise SystemExit("compat: ansible-core %s: the demo used the checkout's link farm\n%s" % (core, tail))
    log("ansible-core %s: the demo lifecycle passed" % core)


def venv_tool_in_node(node, bin_dir, tool, args, env, cwd, timeout=300):
    """Run an Ansible command of the venv's bin_dir inside the simulated node: its finished process (text)."""
    return subprocess.run(
        [PVESIM, "run", "--root", node, "--", os.path.join(bin_dir, tool)] + args,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def _unsafe_text(value):
    """The text of an --list value that is marked unsafe ({"__ansible_unsafe": text}), else None."""
    return value.get("__ansible_unsafe") if isinstance(value, dict) and set(value) == {"__ansible_unsafe"} else None


def check_node_data(bin_dir, env, work):
    """Node data is never templated, under the ansible-core of bin_dir: [problem] (empty when it holds).

    In a fresh simulated node under work/, pct creates a container whose entrypoint, environment and
    description are templates that would touch work/PWNED; then, with the inventory plugin (cache on),
    a play that copies, composes and prints them must see them as written (read from the node), and
    `ansible-inventory --list` must show them as written and marked unsafe (read from the cache).
    """
    node, pwned = os.path.join(work, "node"), os.path.join(work, "PWNED")
    run([PVESIM, "init", node], stdout=subprocess.DEVNULL)
    entrypoint = '/bin/sh -c \'{{ lookup("pipe", "touch %s") }}\'' % pwned
    environment = "GREETING={{ 7 * 6 }}{{ lookup('pipe', 'touch %s') }}" % pwned
    created = subprocess.run(
        [PVESIM, "run", "--root", node, "--", "pct", "create", str(HOSTILE_VMID), HOSTILE_TEMPLATE]
        + ["--hostname", "hostile", "--ostype", "unmanaged", "--rootfs", "local-zfs:1", "--entrypoint", entrypoint]
        + ["--env", environment, "--description", "{{ lookup('pipe', 'touch %s') }}" % pwned],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if created.returncode != 0:
        return ["pct create refused the container: %s" % created.stderr.strip()]
    source = os.path.join(work, "hostile.nexcage.yml")
    with open(source, "w", encoding="utf-8") as f:
        f.write(HOSTILE_SOURCE % os.path.join(work, "cache"))
    play = os.path.join(work, "hostile.yml")
    with open(play, "w", encoding="utf-8") as f:
        f.write(HOSTILE_PLAY)
    wanted = {
        "entrypoint": entrypoint,
        "env": environment,
        "composed": entrypoint,
        "hostvars_env": environment,
        "groups": [
            "hostile_env",
            "nexcage_containers",
            "nexcage_node_pve",
            "nexcage_ostype_unmanaged",
            "nexcage_stopped",
        ],
    }
    problems = []
    seen = os.path.join(work, "seen.json")
    # The play reads the node and fills the cache; the container is then destroyed, so that only the
    # cache can still list it to --list.
    played = venv_tool_in_node(
        node, bin_dir, "ansible-playbook", ["-i", source, play, "-e", "seen_file=" + seen], env, work
    )
    if played.returncode != 0:
        problems.append("the play failed: %s" % (played.stdout + played.stderr)[-2000:])
    elif not os.path.exists(seen):
        problems.append("the play wrote nothing")
    else:
        with open(seen, encoding="utf-8") as f:
            got = json.load(f)
        got["groups"] = sorted(got["groups"])
        if got != wanted:
            problems.append("the play saw %s, not the config as written: %s" % (got, wanted))
    destroy = [PVESIM, "run", "--root", node, "--", "pct", "destroy", str(HOSTILE_VMID)]
    subprocess.run(destroy, capture_output=True, check=False, timeout=300)
    listed = venv_tool_in_node(node, bin_dir, "ansible-inventory", ["-i", source, "--list"], env, work)
    if listed.returncode != 0:
        problems.append("ansible-inventory --list failed: %s" % listed.stderr[-2000:])
    elif "hostile" not in json.loads(listed.stdout)["_meta"]["hostvars"]:
        problems.append("ansible-inventory --list did not read the inventory cache: %s" % listed.stdout[-2000:])
    else:
        config = json.loads(listed.stdout)["_meta"]["hostvars"]["hostile"]["nexcage_config"]
        got = {key: _unsafe_text(config.get(key)) for key in ("entrypoint", "env")}
        if got != {"entrypoint": entrypoint, "env": environment}:
            problems.append("ansible-inventory --list (from the cache): not as written, or not marked unsafe: %s" % got)
    if os.path.exists(pwned):
        problems.append("a template in the node's data was run: %s exists" % pwned)
    return problems


def run_node_data(core, core_dir, venv, env):
    work = tempfile.mkdtemp(prefix="node-data-", dir=core_dir)
    problems = check_node_data(os.path.join(venv, "bin"), env, work)
    if problems:
        raise SystemExit("compat: ansible-core %s: node data was templated\n%s" % (core, "\n".join(problems)))
    log("ansible-core %s: node data is never templated (a play, the cache, inventory --list)" % core)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--ends", action="store_true", help="only the lowest and the highest version")
    parser.add_argument("--core", action="append", help="this ansible-core version (repeatable)")
    parser.add_argument(
        "--no-demo", action="store_true", help="install and ansible-doc only (no demo, no node data check)"
    )
    args = parser.parse_args()
    cores = args.core or ([CORES[0], CORES[-1]] if args.ends else CORES)
    os.makedirs(WORK, exist_ok=True)
    started = time.monotonic()
    tarball = build_tarball()
    log("built %s" % os.path.relpath(tarball, TOP))
    for core in cores:
        step = time.monotonic()
        venv = ensure_venv(core)
        version = run([os.path.join(venv, "bin", "ansible"), "--version"], capture_output=True, text=True).stdout
        if "core %s]" % core not in version.splitlines()[0]:
            raise SystemExit("compat: %s runs %s" % (venv, version.splitlines()[0]))
        core_dir, env = install(core, venv, tarball)
        check_docs(core_dir, venv, env)
        if not args.no_demo:
            run_demo(core, core_dir, venv, env)
            run_node_data(core, core_dir, venv, env)
        log("ansible-core %s: passed in %.0f s" % (core, time.monotonic() - step))
    log("%s passed in %.0f s" % (", ".join(cores), time.monotonic() - started))


if __name__ == "__main__":
    main()
