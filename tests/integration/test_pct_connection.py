"""The pct connection plugin (cageforge.nexcage.pct) with real containers.

Two real LXC containers from the real Debian 12 template (privileged and unprivileged) on a
simulated node; full plays inside them through ``pct exec``/``push``/``pull``:

- with ``nexcage_node_host: localhost`` (pct runs on the controller, i.e. inside ``pvesim run``);
- through a real ``sshd`` on 127.0.0.1 (started inside the node's namespace on a free port with a
  throwaway host key and authorized key, stopped afterwards), proving the remote-node path and
  that every task of the play shares ONE SSH connection to the node.

Plus the failures: stopped, absent and unknown containers, and a container without Python
(busybox: modules fail clearly, ``raw`` works).

The Debian template is built by the set-up (scripts/build-debian-template.sh). When it is missing
the tests FAIL, unless Debian's mirror cannot be reached (a clone without network): then they skip.
"""

import hashlib
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest
from integration_conftest import COLLECTIONS, PVESIM, TEMPLATE, TOP, lxc_available, make_node

pytestmark = [
    pytest.mark.real_lxc,
    pytest.mark.skipif(not lxc_available(), reason="LXC is missing (lxc-start not on PATH) or not running as root"),
]

DEBIAN_FILE = os.path.join(TOP, "build", "templates", "debian-12-nexcage_12_amd64.tar.zst")
DEBIAN = "local:vztmpl/debian-12-nexcage_12_amd64.tar.zst"
BIG = 20 * 1024 * 1024
SSHD = "/usr/sbin/sshd"


def _mirror_reachable():
    try:
        with socket.create_connection(("deb.debian.org", 80), timeout=3):
            return True
    except OSError:
        return False


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# A small stdout callback: every task result as one JSON line (ansible.posix.json is not installed).
RECORDER = r"""
import json
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "pct_recorder"

    def _emit(self, result, status):
        data = dict(result._result, _status=status)
        self._display.display(json.dumps({"task": result._task.get_name(), "host": result._host.get_name(),
                                          "result": data}, default=str))

    def v2_runner_on_ok(self, result):
        self._emit(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._emit(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._emit(result, "unreachable")

    def v2_runner_on_skipped(self, result):
        self._emit(result, "skipped")
"""


def _yaml(path, data):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)  # JSON is YAML
    return path


def require_debian_template():
    """Fail when the set-up did not build the Debian template; skip only when it could not (no network)."""
    if os.path.isfile(DEBIAN_FILE):
        return
    if not _mirror_reachable():
        pytest.skip("the Debian template is not built and Debian's mirror cannot be reached (no network)")
    pytest.fail(
        "the Debian template %s is missing although Debian's mirror is reachable: the set-up "
        "(make setup, scripts/build-debian-template.sh) failed or was not run" % DEBIAN_FILE
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A node with the Debian template, two running Debian CTs (privileged, unprivileged) and a stopped one."""
    require_debian_template()
    base = tmp_path_factory.mktemp("pctconn")
    node = make_node(base)
    assert node.exists("/var/lib/vz/template/cache/debian-12-nexcage_12_amd64.tar.zst"), "the node does not offer it"
    cts = {  # plain VMIDs: the node is its own world
        "deb-priv": {"vmid": 100, "unprivileged": 0},
        "deb-unpriv": {"vmid": 101, "unprivileged": 1},
    }
    stopped = {"vmid": 102}  # never started; busybox: quick to make and to destroy
    busybox = {"vmid": 103}
    made = []
    try:
        for name, ct in cts.items():
            proc = node.sh(
                "pct", "create", ct["vmid"], DEBIAN, "--rootfs", "local-zfs:1", "--hostname", name,
                "--unprivileged", ct["unprivileged"], timeout=300,
            )  # fmt: skip
            assert proc.returncode == 0, proc.stdout + proc.stderr
            made.append(ct["vmid"])
            conf = node.conf(ct["vmid"])
            assert "ostype: debian" in conf, conf  # Proxmox's detection, no ostype given
        for ct, name in ((busybox, "bb-nopython"), (stopped, "bb-stopped")):
            proc = node.sh(
                "pct", "create", ct["vmid"], TEMPLATE, "--rootfs", "local-zfs:1", "--hostname", name,
                "--ostype", "unmanaged", timeout=120,
            )  # fmt: skip
            assert proc.returncode == 0, proc.stdout + proc.stderr
            made.append(ct["vmid"])
        for vmid in (cts["deb-priv"]["vmid"], cts["deb-unpriv"]["vmid"], busybox["vmid"]):
            proc = node.sh("pct", "start", vmid, timeout=120)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        proc = node.sh("pct", "exec", cts["deb-priv"]["vmid"], "--", "cat", "/etc/debian_version")
        assert proc.stdout.startswith("12."), proc.stdout + proc.stderr
        yield {"node": node, "base": str(base), "cts": cts, "busybox": busybox, "stopped": stopped}
    finally:
        # in parallel: one pct destroy takes seconds on a loaded machine
        procs = [
            subprocess.Popen(
                [PVESIM, "run", "--root", node.root, "--", "pct", "destroy", str(vmid), "--force", "1"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for vmid in made
        ]
        for proc in procs:
            try:
                proc.wait(timeout=180)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _write_project(lab, tag, host_vars):
    """Inventory, a play covering the modules, a small role, a 20 MB file; returns paths."""
    work = os.path.join(lab["base"], tag)
    os.makedirs(os.path.join(work, "roles", "probe", "tasks"))
    os.makedirs(os.path.join(work, "roles", "probe", "handlers"))
    os.makedirs(os.path.join(work, "roles", "probe", "templates"))
    big = os.path.join(work, "big.bin")
    with open(big, "wb") as handle:
        handle.write(os.urandom(BIG))
    with open(os.path.join(work, "probe.conf.j2"), "w", encoding="utf-8") as handle:
        handle.write("# managed through pct\nhost={{ inventory_hostname }}\ndistro={{ ansible_facts.distribution }}\n")
    with open(os.path.join(work, "roles", "probe", "templates", "app.conf.j2"), "w", encoding="utf-8") as handle:
        handle.write("listen={{ probe_port }}\n")
    _yaml(
        os.path.join(work, "roles", "probe", "tasks", "main.yml"),
        [
            {
                "name": "Role installs a config",
                "ansible.builtin.template": {"src": "app.conf.j2", "dest": "/etc/probe-app.conf", "mode": "0644"},
                "notify": "Restart probe",
            }
        ],
    )
    _yaml(
        os.path.join(work, "roles", "probe", "handlers", "main.yml"),
        [
            {
                "name": "Restart probe",
                "ansible.builtin.shell": "echo restarted-with-$(cat /etc/probe-app.conf) > /run/probe.restarted",
                "changed_when": True,
            }
        ],
    )
    hosts = {}
    for name in ("deb-priv", "deb-unpriv"):
        hosts[name] = dict(host_vars)
    # one host by VMID, the other by hostname (resolved from /etc/pve/lxc/*.conf)
    hosts["deb-priv"]["nexcage_vmid"] = lab["cts"]["deb-priv"]["vmid"]
    # locally one host without pipelining (modules pushed as files); over SSH both pipelined (faster)
    hosts["deb-priv"]["ansible_pipelining"] = True
    hosts["deb-unpriv"]["ansible_pipelining"] = tag != "local"
    inventory = _yaml(
        os.path.join(work, "inventory.yml"),
        {"all": {"children": {"cts": {"hosts": hosts, "vars": {"ansible_connection": "cageforge.nexcage.pct"}}}}},
    )
    fetched = os.path.join(work, "fetched")
    play = [
        {
            "name": "Inside Debian containers through pct",
            "hosts": "cts",
            "gather_facts": True,
            "vars": {"big_sha256": _sha256(big), "probe_port": 8080},
            "tasks": [
                {
                    "name": "Facts come from inside the container",
                    "ansible.builtin.assert": {
                        "that": [
                            "ansible_facts.distribution == 'Debian'",
                            "ansible_facts.distribution_major_version == '12'",
                            "ansible_facts.hostname == inventory_hostname",
                            "ansible_facts.user_id == 'root'",
                        ]
                    },
                },
                {"ansible.builtin.command": "cat /etc/debian_version", "register": "ver", "changed_when": False},
                {"ansible.builtin.assert": {"that": ["ver.stdout.startswith('12.')"]}},
                {
                    "name": "Copy 20 MB",
                    "ansible.builtin.copy": {"src": big, "dest": "/root/big.bin", "mode": "0600"},
                    "register": "copied",
                },
                {"ansible.builtin.command": "sha256sum /root/big.bin", "register": "inside", "changed_when": False},
                {"ansible.builtin.assert": {"that": ["copied.changed", "inside.stdout.split()[0] == big_sha256"]}},
                {
                    "name": "Fetch it back",
                    "ansible.builtin.fetch": {
                        "src": "/root/big.bin",
                        "dest": fetched + "/{{ inventory_hostname }}.bin",
                        "flat": True,
                    },
                },
                {
                    "ansible.builtin.template": {
                        "src": os.path.join(work, "probe.conf.j2"),
                        "dest": "/etc/probe.conf",
                        "owner": "nobody",
                        "group": "nogroup",
                        "mode": "0640",
                    }
                },
                {"ansible.builtin.stat": {"path": "/etc/probe.conf"}, "register": "st"},
                {
                    "ansible.builtin.assert": {
                        "that": ["st.stat.pw_name == 'nobody'", "st.stat.uid == 65534", "st.stat.mode == '0640'"]
                    }
                },
                {
                    "ansible.builtin.file": {
                        "path": "/srv/probe",
                        "state": "directory",
                        "owner": "nobody",
                        "mode": "0750",
                    },
                },
                {"ansible.builtin.stat": {"path": "/srv/probe"}, "register": "dir"},
                {"ansible.builtin.assert": {"that": ["dir.stat.isdir", "dir.stat.pw_name == 'nobody'"]}},
                {"ansible.builtin.file": {"path": "/root/big.bin", "state": "absent"}},
                {
                    "ansible.builtin.command": "id -un",
                    "become": True,
                    "become_user": "nobody",
                    "register": "as_nobody",
                    "changed_when": False,
                },
                {
                    "ansible.builtin.command": "id -un",
                    "become": True,
                    "register": "as_root",
                    "changed_when": False,
                },
                {"ansible.builtin.assert": {"that": ["as_nobody.stdout == 'nobody'", "as_root.stdout == 'root'"]}},
                {"ansible.builtin.include_role": {"name": "probe"}},
                {"ansible.builtin.meta": "flush_handlers"},
                {"ansible.builtin.slurp": {"src": "/run/probe.restarted"}, "register": "restarted"},
                {
                    "name": "Check the handler ran",
                    "ansible.builtin.assert": {
                        "that": ["(restarted.content | b64decode | trim) == 'restarted-with-listen=8080'"]
                    },
                },
            ],
        }
    ]
    playbook = _yaml(os.path.join(work, "play.yml"), play)
    return {"work": work, "inventory": inventory, "playbook": playbook, "big": big, "fetched": fetched}


def _run(lab, project, extra_env=None, timeout=300):
    node = lab["node"]
    env = {
        "ANSIBLE_ROLES_PATH": os.path.join(project["work"], "roles"),
        "ANSIBLE_STDOUT_CALLBACK": "pct_recorder",
        "ANSIBLE_CALLBACK_PLUGINS": _recorder(lab),
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
    }
    env.update(extra_env or {})
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", project["inventory"],
            project["playbook"], "--forks", "2"]  # fmt: skip
    proc = node.sh(*argv, env=node._env(env), timeout=timeout)
    report = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"task"')]
    assert report, "no task results from ansible-playbook (rc %s):\n%s\n%s" % (proc.returncode, proc.stdout,
                                                                               proc.stderr)  # fmt: skip
    return proc, report


def _recorder(lab):
    directory = os.path.join(lab["base"], "callbacks")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "pct_recorder.py"), "w", encoding="utf-8") as handle:
        handle.write(RECORDER)
    return directory


def _failures(report):
    return [(r["task"], r["host"], r["result"].get("msg")) for r in report if r["result"]["_status"] in ("failed",
            "unreachable")]  # fmt: skip


def _results(report, task):
    return {r["host"]: r["result"] for r in report if r["task"] == task}


def _check_play(lab, project, proc, report):
    assert proc.returncode == 0 and not _failures(report), _failures(report) or proc.stderr
    assert len(_results(report, "Fetch it back")) == 2 and len(_results(report, "Check the handler ran")) == 2
    for host in ("deb-priv", "deb-unpriv"):
        fetched = os.path.join(project["fetched"], host + ".bin")
        assert os.path.getsize(fetched) == BIG
        assert _sha256(fetched) == _sha256(project["big"]), "the 20 MB file came back different from " + host
    # ownership as seen inside, on the node: unprivileged ids are shifted by 100000
    node = lab["node"]
    for host, shift in (("deb-priv", 0), ("deb-unpriv", 100000)):
        vmid = lab["cts"][host]["vmid"]
        proc = node.sh("sh", "-c", "stat -c '%%u:%%g %%a' /proc/$(lxc-info -n %d -p -H)/root/etc/probe.conf" % vmid)
        expected = ["%d:%d" % (65534 + shift, 65534 + shift), "640"]
        assert proc.stdout.split() == expected, (host, proc.stdout, proc.stderr)


def _pct_calls(node, verb):
    return [call for call in node.calls() if call["argv"][:2] == ["pct", verb]]


def test_play_inside_debian_containers_locally(lab):
    """setup, command, copy 20 MB, fetch, template, stat, file, become and a role, via pct on this node."""
    project = _write_project(lab, "local", {"nexcage_node_host": "localhost"})
    lab["node"].clear_calls()
    proc, report = _run(lab, project)
    _check_play(lab, project, proc, report)
    node = lab["node"]
    assert _pct_calls(node, "exec") and _pct_calls(node, "push") and _pct_calls(node, "pull")
    # the non-pipelined host pushed its module files; exec ran with a clean environment
    assert all(call["argv"][3:5] == ["--keep-env", "0"] for call in _pct_calls(node, "exec"))


@pytest.fixture
def sshd(lab, tmp_path):
    """A real sshd on 127.0.0.1, inside the node's namespace (so pct there is the node's), stopped afterwards."""
    if not os.path.exists(SSHD) or not shutil.which("ssh"):
        pytest.fail("openssh-server/openssh-client are missing: the set-up (scripts/install-os-deps.sh) installs them")
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    host_key, user_key = keys / "host_ed25519", keys / "user_ed25519"
    for key in (host_key, user_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, timeout=30)
    (keys / "authorized_keys").write_text((keys / "user_ed25519.pub").read_text())
    port = _free_port()
    (keys / "known_hosts").write_text("[127.0.0.1]:%d %s" % (port, (keys / "host_ed25519.pub").read_text()))
    pvesim_bin = os.path.join(TOP, "tests", "pvesim", "bin")
    config = keys / "sshd_config"
    config.write_text(
        "ListenAddress 127.0.0.1\nPort %d\nHostKey %s\nAuthorizedKeysFile %s\nPidFile %s\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nStrictModes no\nAllowUsers root\nLogLevel INFO\n"
        "SetEnv PATH=%s:/usr/sbin:/usr/bin:/sbin:/bin PVESIM_ROOT=%s\n"
        % (port, host_key, keys / "authorized_keys", keys / "sshd.pid", pvesim_bin, lab["node"].root)
    )
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    log = open(keys / "sshd.out", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [os.path.join(TOP, "tests", "pvesim", "bin", "pvesim"), "run", "--root", lab["node"].root,
         "--", SSHD, "-D", "-E", str(keys / "sshd.log"), "-f", str(config)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    # sshd listens on the loopback of the node's own network namespace: probe it from inside the node
    probe = "import socket; socket.create_connection(('127.0.0.1', %d), timeout=1).close()" % port
    deadline = time.monotonic() + 15
    while lab["node"].sh(sys.executable, "-c", probe, timeout=30).returncode != 0:
        assert proc.poll() is None and time.monotonic() < deadline, (keys / "sshd.out").read_text()
        time.sleep(0.2)
    control = pathlib.Path(tempfile.mkdtemp(prefix="cp", dir="/tmp"))  # a socket path has room for 107 bytes
    info = {"port": port, "keys": keys, "control": control, "log": keys / "sshd.log"}
    try:
        yield info
    finally:
        for sock in [path for path in control.iterdir() if path.is_socket()]:
            subprocess.run(["ssh", "-o", "ControlPath=%s" % sock, "-O", "exit", "127.0.0.1"], capture_output=True,
                           timeout=10, check=False)  # fmt: skip
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
        shutil.rmtree(control, ignore_errors=True)


def test_play_inside_debian_containers_over_ssh(lab, sshd):
    """The same play with the node reached over SSH on 127.0.0.1: one SSH connection for the whole play."""
    keys = sshd["keys"]
    host_vars = {
        "nexcage_node_host": "127.0.0.1",
        "nexcage_node_port": sshd["port"],
        "ansible_ssh_private_key_file": str(keys / "user_ed25519"),
        "ansible_host_key_checking": True,
        "ansible_ssh_common_args": "-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes" % (keys / "known_hosts"),
        "ansible_control_path_dir": str(sshd["control"]),
    }
    project = _write_project(lab, "ssh", host_vars)
    # the controller side has no pct: everything must go over SSH
    proc, report = _run(lab, project, extra_env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})
    _check_play(lab, project, proc, report)
    accepted = [line for line in sshd["log"].read_text().splitlines() if "Accepted publickey for root" in line]
    assert len(accepted) == 1, "expected ONE persistent SSH connection to the node, sshd saw:\n" + "\n".join(accepted)
    sockets = [path for path in sshd["control"].iterdir() if path.is_socket()]
    assert len(sockets) == 1, sockets  # one master socket for the node


def test_failures_are_clear_and_raw_works_without_python(lab):
    """Stopped, absent and unknown containers are unreachable with a message; no Python: modules fail, raw works."""
    work = os.path.join(lab["base"], "errors")
    os.makedirs(work)
    stopped = lab["stopped"]["vmid"]
    hosts = {
        "ct-stopped": {"nexcage_vmid": stopped},
        "gone": {"nexcage_vmid": 999999999},
        "no-such-name": {},
        "bb-nopython": {},  # by hostname
    }
    inventory = _yaml(
        os.path.join(work, "inventory.yml"),
        {"all": {"hosts": hosts, "vars": {"ansible_connection": "cageforge.nexcage.pct", "ansible_pipelining": True}}},
    )
    playbook = _yaml(
        os.path.join(work, "play.yml"),
        [
            {
                "hosts": "all",
                "gather_facts": False,
                "tasks": [
                    {"name": "raw", "ansible.builtin.raw": "echo raw-ok; cat /etc/os-release"},
                    {"name": "ping", "ansible.builtin.ping": {}},
                ],
            }
        ],
    )
    proc, report = _run(lab, {"work": work, "inventory": inventory, "playbook": playbook})
    assert proc.returncode != 0
    raw, ping = _results(report, "raw"), _results(report, "ping")
    assert raw["ct-stopped"]["unreachable"] and "is not running" in raw["ct-stopped"]["msg"], raw
    assert "pct start %d" % stopped in raw["ct-stopped"]["msg"]
    assert raw["gone"]["unreachable"] and "does not exist" in raw["gone"]["msg"], raw["gone"]
    assert raw["no-such-name"]["unreachable"] and "no container with hostname 'no-such-name'" in raw["no-such-name"][
        "msg"], raw["no-such-name"]  # fmt: skip
    assert raw["bb-nopython"]["rc"] == 0 and "raw-ok" in raw["bb-nopython"]["stdout"], raw["bb-nopython"]
    assert "ID=busybox" in raw["bb-nopython"]["stdout"]
    assert ping["bb-nopython"]["_status"] == "failed" and "has no Python" in ping["bb-nopython"].get("msg", ""), ping
    assert set(ping) == {"bb-nopython"}  # the unreachable hosts were taken out of the play
