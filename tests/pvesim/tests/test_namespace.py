"""`pvesim run`: the node's files at the real paths, subuid/subgid, interfaces and bridges
in /sys/class/net, without changing the host."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from test_runtime_support import PVESIM, PVESIM_DIR, Node

from pvesim import namespace

VENV_BIN = os.path.join(os.path.dirname(os.path.dirname(PVESIM_DIR)), ".venv", "bin")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    return Node.init(tmp_path_factory.mktemp("ns") / "node")


def _read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def test_node_dirs_appear_at_the_real_paths(node):
    r = node.run("sh", "-c", "cat /var/lib/pvesim/node; ls /etc/pve/nodes; echo $PVESIM_ROOT; command -v pct")
    assert r.rc == 0, r.err
    name, nodes, root, pct = r.out.split("\n")[:4]
    assert (name, nodes, root) == ("pve", "pve", node.root)
    assert pct == os.path.join(PVESIM_DIR, "bin", "pct")


def test_subuid_and_subgid_have_root_range_inside_host_files_unchanged(node):
    before = (_read("/etc/subuid"), _read("/etc/subgid"))
    r = node.run("cat", "/etc/subuid", "/etc/subgid")
    assert r.rc == 0
    if before[0] is None:
        pytest.skip("the host has no /etc/subuid to mount over (uidmap not installed)")
    assert r.out.split() == ["root:100000:65536", "root:100000:65536"]
    assert (_read("/etc/subuid"), _read("/etc/subgid")) == before


def test_interfaces_file_is_the_nodes(node):
    host_before = _read(namespace.INTERFACES)
    r = node.run("cat", "/etc/network/interfaces")
    assert r.rc == 0
    assert r.out == _read(node.path("/etc/network/interfaces"))
    assert "iface vmbr0 inet static" in r.out
    assert _read(namespace.INTERFACES) == host_before


def test_declared_bridges_are_kernel_bridges_of_the_nodes_own_network_namespace(node):
    r = node.run(
        sys.executable,
        "-c",
        "import os, json; n='/sys/class/net'; print(json.dumps({e: os.path.isdir(os.path.join(n, e, 'bridge'))"
        " for e in os.listdir(n)}))",
    )
    assert r.rc == 0, r.err
    seen = json.loads(r.out)
    # the node's namespace has lo and its declared bridges, none of the host's interfaces
    assert seen == {"lo": False, "vmbr0": True}
    assert node.run("readlink", "/proc/self/ns/net").out.strip() != os.readlink("/proc/self/ns/net")
    r = node.run("cat", "/sys/class/net/lo/flags", "/sys/class/net/vmbr0/bridge/stp_state")
    assert r.out.split()[1] == "0"
    assert int(r.out.split()[0], 16) & 1  # lo is up
    # the same namespace for every `pvesim run` of the node
    first, second = node.run("readlink", "/proc/self/ns/net"), node.run("readlink", "/proc/self/ns/net")
    assert first.out == second.out != ""


def test_ip_link_still_works_inside(node):
    if not shutil.which("ip"):
        pytest.skip("iproute2 (ip) is missing")
    r = node.run("ip", "-o", "link", "show", "lo")
    assert r.rc == 0, r.err
    assert ": lo: " in r.out


def test_ansible_network_facts_see_the_bridge(node):
    """The same code path `setup` uses (LinuxNetwork) run inside the namespace."""
    python = os.path.join(VENV_BIN, "python")
    if not os.path.exists(python):
        pytest.skip("the project venv (.venv with ansible-core) is missing")
    code = r"""
import json, shutil, subprocess
from ansible.module_utils.facts.network.linux import LinuxNetwork
class M:
    def get_bin_path(self, name, *a, **k):
        return shutil.which(name)
    def run_command(self, args, **k):
        p = subprocess.run(args, capture_output=True, text=True)
        return p.returncode, p.stdout, p.stderr
facts = LinuxNetwork(M()).populate()
print(json.dumps({"interfaces": sorted(facts["interfaces"]), "vmbr0": facts.get("vmbr0")}))
"""
    r = node.run(python, "-c", code)
    assert r.rc == 0, r.err
    facts = json.loads(r.out)
    assert "vmbr0" in facts["interfaces"]
    assert "lo" in facts["interfaces"]
    assert facts["vmbr0"]["type"] == "bridge"
    assert facts["vmbr0"]["active"] is True


@pytest.mark.slow
def test_ansible_setup_module_runs_inside(node, tmp_path):
    ansible = os.path.join(VENV_BIN, "ansible")
    if not os.path.exists(ansible):
        pytest.skip("the project venv (.venv with ansible-core) is missing")
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[defaults]\n")
    r = node.run(
        "env",
        "ANSIBLE_CONFIG=%s" % cfg,
        "ANSIBLE_LOCALHOST_WARNING=0",
        ansible,
        "all",
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        "ansible_python_interpreter=%s" % os.path.join(VENV_BIN, "python"),
        "-m",
        "setup",
        "-a",
        "gather_subset=!all,network filter=ansible_vmbr0",
        timeout=120,
    )
    assert r.rc == 0, r.out + r.err
    assert '"type": "bridge"' in r.out


def test_declared_bridges_parser():
    text = (
        "auto lo\niface lo inet loopback\n\nauto eno1\niface eno1 inet manual\n\n"
        "auto vmbr0\niface vmbr0 inet static\n\taddress 10.0.0.2/24\n\tbridge-ports eno1\n\n"
        "auto br-lab\niface br-lab inet manual\n\tbridge_ports none\n\n"
        "iface vmbr1 inet6 static\n\taddress fd00::2/64\n\nsource /etc/network/interfaces.d/*\n"
    )
    assert namespace.declared_bridges(text) == ["vmbr0", "br-lab", "vmbr1"]


def test_not_a_node_is_refused(tmp_path):
    r = Node(str(tmp_path)).run("true")
    assert r.rc == 2
    assert "is not a simulated node" in r.err


# ---------------------------------------------------------------- the node's own PID namespace

# Prints its pid, then sleeps; argv[2] is a marker to find it by.
SLEEPER = "import os, sys, time; print(os.getpid(), flush=True); time.sleep(float(sys.argv[1]))"
SCAN = """
import os, sys
for p in os.listdir('/proc'):
    if not p.isdigit() or int(p) == os.getpid():
        continue
    try:
        with open('/proc/%s/cmdline' % p, 'rb') as f:
            argv = f.read().split(b'\\0')
    except (OSError, ValueError):
        continue
    if sys.argv[1].encode() in argv:
        print(p)
"""


def _sleeper(node, marker, seconds=60):
    """A process with marker in its command line: in the node, or on the host (node None)."""
    argv = [sys.executable, "-c", SLEEPER, str(seconds), marker]
    if node is not None:
        argv = [PVESIM, "run", "--root", node.root, "--"] + argv
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)


def _scan(node, marker):
    """The pids with marker in their command line, as a /proc scan inside the node finds them."""
    r = node.run(sys.executable, "-c", SCAN, marker)
    assert r.rc == 0, r.err
    return sorted(int(p) for p in r.out.split())


def test_a_process_scan_inside_sees_the_nodes_own_processes_only(node, tmp_path):
    other = Node.init(tmp_path / "other")
    marker = "pvesim-pidns-%d" % os.getpid()
    procs = [_sleeper(None, marker), _sleeper(node, marker), _sleeper(other, marker)]
    try:
        _host_pid, node_pid, other_pid = (int(p.stdout.readline()) for p in procs)
        assert _scan(node, marker) == [node_pid]
        assert _scan(other, marker) == [other_pid]
        # the node's init is its keeper, the process the state file names by its host pid
        pid1 = node.run("cat", "/proc/1/cmdline").out.split("\0")
        assert "namespace.keeper" in pid1[3] and pid1[4] == node.root
        with open("/proc/%d/cmdline" % namespace.keeper_pid(node.root), encoding="utf-8") as f:
            assert f.read().split("\0")[:5] == pid1[:5]
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_signals_reach_the_command_and_it_dies_with_pvesim_run(node):
    marker = "pvesim-signals-%d" % os.getpid()
    p = _sleeper(node, marker)
    p.stdout.readline()
    p.terminate()  # SIGTERM to `pvesim run` is passed on; it ends as its command did
    assert p.wait(timeout=30) == -signal.SIGTERM
    assert _scan(node, marker) == []
    p = _sleeper(node, marker)
    p.stdout.readline()
    p.kill()  # `pvesim run` itself killed: the command is killed with it
    p.wait(timeout=30)
    deadline = time.monotonic() + 10
    while _scan(node, marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _scan(node, marker) == []
    assert node.run("sh", "-c", "exit 7").rc == 7
    # a caller that ignores SIGCHLD (the command inherits that) still gets the exit status
    ignoring = "import os, signal as s, sys; s.signal(s.SIGCHLD, s.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])"
    argv = [sys.executable, "-c", ignoring, PVESIM, "run", "--root", node.root, "--", "sh", "-c", "exit 7"]
    assert subprocess.run(argv, timeout=60, check=False).returncode == 7
    r = node.run("no-such-command-here")
    assert (r.rc, r.err) == (127, "pvesim: no-such-command-here: No such file or directory\n")


def test_a_removed_node_ends_what_still_runs_in_it(tmp_path):
    gone = Node.init(tmp_path / "gone")
    p = _sleeper(gone, "pvesim-gone-%d" % os.getpid(), seconds=120)
    p.stdout.readline()
    shutil.rmtree(gone.root)
    # the keeper notices within seconds, kills the node's processes and ends the namespaces
    assert p.wait(timeout=60) == -signal.SIGKILL
