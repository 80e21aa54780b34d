"""The cageforge.nexcage.containers inventory plugin against simulated nodes: the example inventory's
groups by tag and status, a node with 50 containers in varied states (configs written into the node,
two of them really running under LXC), filters, the constructed options, caching, duplicate
hostnames, broken configs, the remote path (ONE ssh command per node, through a stand-in ssh
client that runs the command on this machine, as sshd would run it on the node), and node data that
is a template (never templated: scripts/compat.py's check, here on the current ansible-core; make
compat-ends runs it on the lowest and the highest of the supported range)."""

import json
import os
import runpy
import shutil
import socket
import stat
import subprocess
import sys
import time

import pytest
from integration_conftest import BASE, PVESIM, TOP, VENV_BIN, lxc_available

EXAMPLE = os.path.join(TOP, "inventory", "example.nexcage.yml")
OSTYPES = ("debian", "ubuntu", "alpine", "centos", "archlinux")
POOLS = ("prod", "dev")
REAL_LXC = pytest.mark.skipif(
    not lxc_available(), reason="LXC is missing (lxc-start not on PATH) or not running as root"
)

FAKE_SSH = (
    r"""#!%s
# Stands in for ssh: logs its argv, then runs the remote command line with sh, as sshd would.
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_SSH_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps(args) + "\n")
at = args.index("--")
if args[at + 1].startswith("down"):
    sys.stderr.write("ssh: connect to host %%s port 22: Connection refused\n" %% args[at + 1])
    sys.exit(255)
os.execvp("sh", ["sh", "-c", " ".join(args[at + 2:])])
"""
    % sys.executable
)


def plain(value):
    """The --list JSON without the {"__ansible_unsafe": ...} wrapping some ansible-core versions print."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return plain(value["__ansible_unsafe"])
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def inventory(node, source, *extra, env=None):
    """ansible-inventory --list under the node: (parsed JSON, stderr)."""
    proc = node.sh(os.path.join(VENV_BIN, "ansible-inventory"), "-i", source, "--list", *extra, env=node._env(env))
    assert proc.returncode == 0, proc.stderr
    return plain(json.loads(proc.stdout)), proc.stderr


def members(data, group):
    return sorted(data.get(group, {}).get("hosts", []))


def hostvars(data, host):
    return data["_meta"]["hostvars"][host]


def write_source(tmp_path, name, text):
    path = tmp_path / ("%s.nexcage.yml" % name)
    path.write_text("plugin: cageforge.nexcage.containers\n" + text)
    return str(path)


def config(vmid, index):
    lines = ["arch: amd64", "hostname: ct%02d" % index, "memory: %d" % (256 * (1 + index % 4))]
    lines.append("ostype: %s" % OSTYPES[index % len(OSTYPES)])
    lines.append("rootfs: local-zfs:subvol-%s-disk-0,size=2G" % vmid)
    tags = [tag for tag, every in (("web", 2), ("db", 5), ("edge.v2", 7)) if index % every == 0]
    if tags:
        lines.append("tags: %s" % ";".join(tags))
    if index % 3 == 0:
        lines.append("unprivileged: 1")
    if index == 10:
        lines.append("lock: backup")
    if index in (20, 21):
        lines.append("template: 1")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def fifty(tmp_path_factory):
    """A node with 50 containers written as configs (pools, tags, a lock, 2 templates, a broken one),
    and 2 more created and started for real (tags web and db)."""
    from integration_conftest import make_node

    node = make_node(tmp_path_factory.mktemp("fifty"))
    vmids = list(range(9100, 9150))
    for index, vmid in enumerate(vmids):
        node.write("/etc/pve/lxc/%s.conf" % vmid, config(vmid, index))
    node.write("/etc/pve/lxc/9150.conf", "hostname: broken\nmemory: lots\n")
    pools = "".join(
        "pool:%s::%s::\n" % (pool, ",".join(str(v) for i, v in enumerate(vmids) if i % 2 == n))
        for n, pool in enumerate(POOLS)
    )
    node.write("/etc/pve/user.cfg", "user:root@pam:1:0::::::\n" + pools)
    running = []
    if lxc_available():
        base = 100  # plain VMIDs: the node is its own world
        for offset, (name, tag) in enumerate((("run-web", "web"), ("run-db", "db"))):
            vmid = base + offset
            result = node.run_task(
                "nexcage_container", dict(BASE, vmid=vmid, hostname=name, tags=[tag], state="started")
            )
            assert not result.get("failed"), result.get("msg")
            running.append(vmid)
    yield node, vmids, running
    for vmid in running:
        node.sh("pct", "stop", vmid, timeout=60)
        node.sh("pct", "destroy", vmid, "--force", "1", timeout=60)


@REAL_LXC
def test_example_inventory_groups_by_tag_and_status(fifty):
    node, _vmids, _running = fifty
    graph = node.sh(os.path.join(VENV_BIN, "ansible-inventory"), "-i", EXAMPLE, "--graph", env=node._env(None))
    assert graph.returncode == 0, graph.stderr
    running_group = graph.stdout.split("@nexcage_running:\n", 1)[1].split("@", 1)[0]
    assert sorted(word.strip("|-") for word in running_group.split() if word.strip("|-")) == ["run-db", "run-web"]
    assert "@nexcage_tag_web:" in graph.stdout and "@nexcage_stopped:" in graph.stdout

    data, stderr = inventory(node, EXAMPLE)
    assert members(data, "nexcage_running") == ["run-db", "run-web"]
    assert "run-web" in members(data, "nexcage_tag_web") and "run-db" in members(data, "nexcage_tag_db")
    assert "run-web" not in members(data, "nexcage_stopped") and "ct01" in members(data, "nexcage_stopped")
    web = hostvars(data, "run-web")
    assert web["ansible_connection"] == "cageforge.nexcage.pct" and web["nexcage_node_host"] == "localhost"
    assert web["nexcage_status"] == "running" and isinstance(web["nexcage_vmid"], int)
    # The example's constructed options.
    assert "ct03" in members(data, "unprivileged") and "ct01" not in members(data, "unprivileged")
    assert "ct01" in members(data, "arch_amd64") and hostvars(data, "ct01")["memory_mib"] == 512
    # Proxmox VE keeps a value it cannot parse as written, and warns: the container is still listed.
    assert "unable to parse value of 'memory'" in stderr and "CT 9150" in stderr
    assert hostvars(data, "broken")["nexcage_config"]["memory"] == "lots"


def test_fifty_containers_in_varied_states(fifty, tmp_path):
    node, vmids, running = fifty
    data, _stderr = inventory(node, write_source(tmp_path, "all", "want_config: false\n"))
    names = ["ct%02d" % i for i in range(50) if i not in (20, 21)] + ["broken"]
    assert sorted(members(data, "nexcage_containers")) == sorted(names + ["run-db", "run-web"][: len(running)])
    assert members(data, "nexcage_running") == ["run-db", "run-web"][: len(running)]
    assert len(members(data, "nexcage_stopped")) == 49
    assert members(data, "nexcage_tag_db") == sorted(
        ["ct%02d" % i for i in range(0, 50, 5) if i != 20] + ["run-db"][: len(running)]
    )
    assert members(data, "nexcage_tag_edge_v2") == ["ct%02d" % i for i in range(0, 50, 7) if i != 21]
    assert len(members(data, "nexcage_pool_prod")) == 24 and len(members(data, "nexcage_pool_dev")) == 24
    assert members(data, "nexcage_ostype_alpine") == ["ct%02d" % i for i in range(2, 50, 5)]
    assert members(data, "nexcage_node_pve") == members(data, "nexcage_containers")
    ct10 = hostvars(data, "ct10")
    assert ct10["nexcage_lock"] == "backup" and ct10["nexcage_pool"] == "prod" and ct10["nexcage_tags"] == ["web", "db"]
    assert ct10["nexcage_vmid"] == 9110 and ct10["nexcage_status"] == "stopped" and "nexcage_config" not in ct10

    templates, _stderr = inventory(node, write_source(tmp_path, "tpl", "include_templates: true\nstatus: [stopped]\n"))
    assert hostvars(templates, "ct20")["nexcage_template"] is True and "run-web" not in members(
        templates, "nexcage_containers"
    )


def test_filters_and_constructed_options(fifty, tmp_path):
    node, _vmids, running = fifty
    source = write_source(
        tmp_path,
        "web",
        "tags: [web]\nstatus: [stopped]\ngroup_prefix: lab_\n"
        "keyed_groups:\n  - key: nexcage_config.ostype\n    prefix: os\n"
        "groups:\n  large: nexcage_config.memory >= 768\n"
        "compose:\n  ansible_host: nexcage_hostname ~ '.lab'\n"
        "strict: true\n",
    )
    data, _stderr = inventory(node, source)
    expected = sorted("ct%02d" % i for i in range(0, 50, 2) if i != 20)
    assert members(data, "lab_containers") == expected and "nexcage_containers" not in data
    assert members(data, "os_debian") == sorted("ct%02d" % i for i in range(0, 50, 10) if i != 20)
    assert members(data, "large") == sorted("ct%02d" % i for i in range(0, 50, 2) if i % 4 >= 2 and i != 20)
    assert hostvars(data, "ct02")["ansible_host"] == "ct02.lab"

    strict = write_source(tmp_path, "strict", "strict: true\ncompose:\n  x: nexcage_config.no_such_key.y\n")
    proc = node.sh(os.path.join(VENV_BIN, "ansible-inventory"), "-i", strict, "--list", env=node._env(None))
    assert "no_such_key" in proc.stderr and "ct01" not in proc.stdout


def test_cache_serves_the_last_read(fifty, tmp_path):
    node, _vmids, _running = fifty
    cache_dir = tmp_path / "cache"
    text = "cache: true\ncache_plugin: ansible.builtin.jsonfile\ncache_connection: %s\ncache_timeout: 600\n" % cache_dir
    source = write_source(tmp_path, "cached", text)
    first, _stderr = inventory(node, source)
    node.write("/etc/pve/lxc/9199.conf", "hostname: latecomer\n")
    try:
        cached, _stderr = inventory(node, source)
        fresh, _stderr = inventory(node, source, "--flush-cache")
    finally:
        os.unlink(node.path("/etc/pve/lxc/9199.conf"))
    assert cached == first and "latecomer" not in cached["_meta"]["hostvars"]
    assert "latecomer" in fresh["_meta"]["hostvars"] and os.listdir(cache_dir)


def test_duplicate_hostnames_get_the_vmid(fresh_node, tmp_path):
    node = fresh_node
    node.write("/etc/pve/lxc/301.conf", "hostname: twin\n")
    node.write("/etc/pve/lxc/302.conf", "hostname: twin\ntags: x\n")
    node.write("/etc/pve/lxc/303.conf", "memory: 512\n")
    data, stderr = inventory(node, write_source(tmp_path, "dup", ""))
    assert members(data, "nexcage_containers") == ["CT303", "twin-301", "twin-302"]
    assert hostvars(data, "twin-302")["nexcage_vmid"] == 302 and "listed more than once" in stderr


def fake_ssh(tmp_path):
    path = tmp_path / "fake-ssh"
    path.write_text(FAKE_SSH)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path), str(tmp_path / "ssh.log")


def test_remote_nodes_one_ssh_command_each(fresh_node, tmp_path):
    node = fresh_node
    node.write("/etc/pve/lxc/401.conf", "hostname: far01\ntags: web\n")
    ssh, log = fake_ssh(tmp_path)
    source = write_source(
        tmp_path,
        "remote",
        "nodes: [pve-a.example, pve-b.example]\nssh_executable: %s\nnode_port: 2222\n"
        "ssh_common_args: -o StrictHostKeyChecking=no\n" % ssh,
    )
    data, _stderr = inventory(node, source, env={"FAKE_SSH_LOG": log})
    with open(log, encoding="utf-8") as handle:
        calls = [json.loads(line) for line in handle]
    assert len(calls) == 2, calls
    assert calls[0][-3:] == ["pve-a.example", "python3", "-"] and calls[1][-3] == "pve-b.example"
    assert "2222" in calls[0] and "StrictHostKeyChecking=no" in calls[0] and "root" in calls[0]
    # The same container seen through both entries: named apart by the nodes entry.
    assert members(data, "nexcage_containers") == ["far01-401-pve-a.example", "far01-401-pve-b.example"]
    far = hostvars(data, "far01-401-pve-a.example")
    assert far["nexcage_node_host"] == "pve-a.example" and far["nexcage_node_port"] == 2222
    assert far["nexcage_node_user"] == "root" and far["nexcage_node"] == "pve"


def test_unreachable_node_fails_or_warns(fresh_node, tmp_path):
    node = fresh_node
    node.write("/etc/pve/lxc/402.conf", "hostname: near01\n")
    ssh, log = fake_ssh(tmp_path)
    text = "nodes: [down.example, localhost]\nssh_executable: %s\n" % ssh
    env = node._env({"FAKE_SSH_LOG": log})
    inventory_bin = os.path.join(VENV_BIN, "ansible-inventory")
    failing = node.sh(inventory_bin, "-i", write_source(tmp_path, "down", text), "--list", env=env)
    assert "Cannot list the containers of node down.example" in failing.stderr
    assert "Connection refused" in failing.stderr and "near01" not in failing.stdout
    data, stderr = inventory(
        node, write_source(tmp_path, "warn", text + "on_unreachable: warn\n"), env={"FAKE_SSH_LOG": log}
    )
    assert members(data, "nexcage_containers") == ["near01"] and "down.example" in stderr


def test_ansible_doc_describes_the_plugin():
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(TOP, "build", "collections"))
    proc = subprocess.run(
        [os.path.join(VENV_BIN, "ansible-doc"), "-t", "inventory", "cageforge.nexcage.containers"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for text in ("nodes", "keyed_groups", "cache_plugin", "on_unreachable", "nexcage_node_host"):
        assert text in proc.stdout


@pytest.fixture
def loopback_sshd(fifty, tmp_path):
    """A real sshd on 127.0.0.1 inside the fifty-container node's namespace, stopped afterwards."""
    node = fifty[0]
    if not os.path.exists("/usr/sbin/sshd") or not shutil.which("ssh"):
        pytest.fail("openssh-server/openssh-client are missing: the set-up (scripts/install-os-deps.sh) installs them")
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    for key in ("host", "user"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / key)], check=True, timeout=30)
    (keys / "authorized_keys").write_text((keys / "user.pub").read_text())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (keys / "known_hosts").write_text("[127.0.0.1]:%d %s" % (port, (keys / "host.pub").read_text()))
    (keys / "sshd_config").write_text(
        "ListenAddress 127.0.0.1\nPort %d\nHostKey %s\nAuthorizedKeysFile %s\nPidFile %s\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nStrictModes no\nAllowUsers root\nLogLevel INFO\n"
        % (port, keys / "host", keys / "authorized_keys", keys / "sshd.pid")
    )
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    argv = [PVESIM, "run", "--root", node.root, "--", "/usr/sbin/sshd", "-D", "-E", str(keys / "sshd.log")]
    proc = subprocess.Popen(argv + ["-f", str(keys / "sshd_config")], stdin=subprocess.DEVNULL)
    # sshd listens on the loopback of the node's own network namespace: probe it from inside the node
    probe = "import socket; socket.create_connection(('127.0.0.1', %d), timeout=1).close()" % port
    deadline = time.monotonic() + 15
    try:
        while node.sh(sys.executable, "-c", probe, timeout=30).returncode != 0:
            assert proc.poll() is None and time.monotonic() < deadline, "sshd did not start"
            time.sleep(0.2)
        yield {"port": port, "keys": keys}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@REAL_LXC
def test_a_node_over_a_real_sshd_is_one_connection(fifty, loopback_sshd, tmp_path):
    node, _vmids, _running = fifty
    keys = loopback_sshd["keys"]
    source = write_source(
        tmp_path,
        "sshd",
        "nodes: [127.0.0.1]\nnode_port: %d\nprivate_key_file: %s\n"
        "ssh_common_args: -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes\n"
        % (loopback_sshd["port"], keys / "user", keys / "known_hosts"),
    )
    # The node (and its sshd) lives in its own network namespace, so the controller runs there too;
    # the plugin reaches 127.0.0.1 over SSH all the same (only `localhost` is read in-process).
    proc = node.sh(
        os.path.join(VENV_BIN, "ansible-inventory"), "-i", source, "--list", env=node._env(None), timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    data = plain(json.loads(proc.stdout))
    assert members(data, "nexcage_running") == ["run-db", "run-web"]
    assert len(members(data, "nexcage_containers")) == 51
    web = hostvars(data, "run-web")
    assert web["nexcage_node_host"] == "127.0.0.1" and web["nexcage_node_port"] == loopback_sshd["port"]
    accepted = [line for line in (keys / "sshd.log").read_text().splitlines() if "Accepted publickey" in line]
    assert len(accepted) == 1, accepted


def test_node_data_is_never_templated(fresh_node, tmp_path):
    node = fresh_node
    # Proxmox VE keeps a value it cannot parse as written (with a warning): here a template.
    node.write("/etc/pve/lxc/501.conf", "hostname: hostile01\nsearchdomain: {{ 7 * 6 }}{{ lookup('env', 'HOME') }}\n")
    source = write_source(tmp_path, "hostile", "connection: ansible.builtin.local\n")
    proc = node.sh(
        os.path.join(VENV_BIN, "ansible"),
        "-i",
        source,
        "hostile01",
        "-m",
        "ansible.builtin.debug",
        "-a",
        "msg={{ nexcage_config.searchdomain }}",
        "-e",
        "ansible_python_interpreter=%s" % sys.executable,
        env=node._env({"ANSIBLE_NOCOLOR": "1"}),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "msg: '{{ 7 * 6 }}{{ lookup(''env'', ''HOME'') }}'" in proc.stdout, proc.stdout
    node.write("/etc/pve/lxc/502.conf", "hostname: {{ 7 * 6 }}\n")
    data, _stderr = inventory(node, source)
    assert members(data, "nexcage_containers") == ["CT502", "hostile01"]


def test_node_data_that_proxmox_accepts_is_never_templated(tmp_path):
    """A container made by pct with a template as its entrypoint, environment and description:
    ansible-inventory --list and a play (set_fact, compose, hostvars, the inventory cache) see the
    text as written, and nothing it names runs (scripts/compat.py: check_node_data)."""
    check_node_data = runpy.run_path(os.path.join(TOP, "scripts", "compat.py"))["check_node_data"]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(TOP, "build", "collections"), ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CONFIG", None)
    assert check_node_data(VENV_BIN, env, str(tmp_path)) == []
