# Copyright (c) 2026 nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: pct
short_description: Run tasks inside a Proxmox VE container through the node's own pct
version_added: 0.2.0
author:
  - nexcage contributors (@cageforge)
description:
  - Runs Ansible inside an LXC container of a Proxmox VE node with the node's own C(pct exec),
    C(pct push) and C(pct pull). The container needs no SSH server, no network and no keys.
  - The container is named by O(vmid) or found by its hostname (O(container_name), the inventory
    hostname by default) in the node's C(/etc/pve/lxc/*.conf).
  - O(node_host=localhost) runs C(pct) on the controller itself (the controller is the node).
    Any other value reaches the node over SSH as O(node_user) (root), with the usual SSH options and
    one persistent SSH connection per node (C(ControlMaster)/C(ControlPersist)) shared by every task
    and every container of that node.
  - Commands run as root inside the container (C(pct exec) with C(--keep-env 0), so nothing of the
    controller's or the node's environment leaks in; C(HOME), C(USER), C(LOGNAME) and C(SHELL) are set
    for root). C(become) works inside the container without a password (root may become any user);
    C(become_pass) and other password prompts are not supported.
  - Files are copied with C(pct push) and C(pct pull); they are owned by root as seen inside the
    container (for an unprivileged container the node maps that to its high ids). Transfers of at
    least O(checksum_min_size) bytes are verified with SHA-256 on both sides.
  - Needs a running container. A stopped or absent container, or a node that cannot be reached,
    fails the task as unreachable with a message that says what to do. A container without Python
    fails module tasks with a clear message; M(ansible.builtin.raw) still works there.
  - Every local command is an argument list (no shell on the controller), runs with C(LANG=C) and
    with a time limit (O(command_timeout)).
extends_documentation_fragment:
  - connection_pipelining
notes:
  - Modules that take minutes (package installs) may need a larger O(command_timeout).
  - The remote path reads C(/etc/pve/lxc/*.conf) over SSH with C(awk) when the container is named by
    hostname; set O(vmid) (the nexcage inventory sets C(nexcage_vmid)) to skip that look-up.
seealso:
  - module: cageforge.nexcage.nexcage_container
options:
  vmid:
    description:
      - The container's VMID. When unset, O(container_name) is looked up in the node's C(/etc/pve/lxc/*.conf).
      - A whole number from 100 to 999999999, as an integer or in plain digits (as Proxmox VE writes it);
        anything else fails the task before any command runs.
    type: raw
    vars:
      - name: nexcage_vmid
      - name: ansible_pct_vmid
  container_name:
    description:
      - The container's hostname (as in its Proxmox config), used when O(vmid) is unset.
      - A name that is a VMID (plain digits, 100 to 999999999, no leading zero) is taken as the VMID. Any
        other name must be a DNS name (letters, digits and C(-) in dot-separated labels), else the task fails.
        A fully qualified name also matches a container whose hostname is its first label, when only one does.
        Letter case does not count, as in DNS names (C(Web01) finds C(web01)).
    type: str
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: nexcage_container_name
  node_host:
    description:
      - The Proxmox VE node that runs the container. V(localhost) runs C(pct) on the controller;
        any other value is an SSH destination, a DNS name or an IP address (the user is O(node_user), the
        port O(node_port)). Anything else fails the task before any command runs.
    type: str
    default: localhost
    vars:
      - name: nexcage_node_host
  node_user:
    description: The SSH user on the node. C(pct) needs root.
    type: str
    default: root
    vars:
      - name: nexcage_node_user
  node_port:
    description: The node's SSH port.
    type: int
    default: 22
    vars:
      - name: nexcage_node_port
  private_key_file:
    description: The SSH private key for the node.
    type: path
    env:
      - name: ANSIBLE_PRIVATE_KEY_FILE
    ini:
      - section: defaults
        key: private_key_file
    vars:
      - name: ansible_private_key_file
      - name: ansible_ssh_private_key_file
      - name: nexcage_node_private_key_file
  ssh_executable:
    description: The SSH client.
    type: str
    default: ssh
    env:
      - name: ANSIBLE_SSH_EXECUTABLE
    ini:
      - section: ssh_connection
        key: ssh_executable
    vars:
      - name: ansible_ssh_executable
  ssh_common_args:
    description: Extra arguments for every C(ssh) call to the node (split like a shell would, never run by one).
    type: str
    default: ''
    env:
      - name: ANSIBLE_SSH_COMMON_ARGS
    ini:
      - section: ssh_connection
        key: ssh_common_args
    vars:
      - name: ansible_ssh_common_args
      - name: nexcage_node_ssh_common_args
  ssh_extra_args:
    description: More arguments for C(ssh), after O(ssh_common_args).
    type: str
    default: ''
    env:
      - name: ANSIBLE_SSH_EXTRA_ARGS
    ini:
      - section: ssh_connection
        key: ssh_extra_args
    vars:
      - name: ansible_ssh_extra_args
  host_key_checking:
    description: Check the node's SSH host key (C(StrictHostKeyChecking)). When false, unknown keys are accepted.
    type: bool
    default: true
    env:
      - name: ANSIBLE_HOST_KEY_CHECKING
      - name: ANSIBLE_SSH_HOST_KEY_CHECKING
    ini:
      - section: defaults
        key: host_key_checking
    vars:
      - name: ansible_host_key_checking
      - name: ansible_ssh_host_key_checking
  control_path_dir:
    description: Where the persistent SSH connections keep their sockets (one per node, user and port).
    type: path
    default: ~/.ansible/cp
    env:
      - name: ANSIBLE_SSH_CONTROL_PATH_DIR
    ini:
      - section: ssh_connection
        key: control_path_dir
    vars:
      - name: ansible_control_path_dir
  control_persist:
    description: How long the persistent SSH connection to a node stays open after its last use (C(ControlPersist)).
    type: str
    default: 60s
    vars:
      - name: nexcage_node_control_persist
  timeout:
    description: Seconds to wait for the SSH connection to the node (C(ConnectTimeout)).
    type: int
    default: 10
    env:
      - name: ANSIBLE_TIMEOUT
    ini:
      - section: defaults
        key: timeout
    vars:
      - name: ansible_ssh_timeout
  command_timeout:
    description:
      - Seconds one command (a C(pct exec), C(pct push) or C(pct pull), with the SSH hop) may take;
        it is then killed and the task fails.
    type: int
    default: 1800
    vars:
      - name: nexcage_pct_command_timeout
  pct_executable:
    description: The C(pct) command on the node.
    type: str
    default: pct
    vars:
      - name: nexcage_pct_executable
  checksum_min_size:
    description:
      - Files of at least this many bytes are checked with SHA-256 after C(pct push) and C(pct pull)
        (one more C(pct exec) running C(sha256sum) inside). C(0) checks every transfer; C(-1) none.
    type: int
    default: 1048576
    vars:
      - name: nexcage_pct_checksum_min_size
"""

EXAMPLES = r"""
# inventory: containers of the node the play runs on, and of a remote node
# all:
#   children:
#     local_cts:
#       hosts:
#         web01:                       # found by hostname in /etc/pve/lxc/*.conf
#         db01: {nexcage_vmid: 201}
#       vars:
#         ansible_connection: cageforge.nexcage.pct
#     remote_cts:
#       hosts:
#         app01: {nexcage_vmid: 301}
#       vars:
#         ansible_connection: cageforge.nexcage.pct
#         nexcage_node_host: pve2.example.com
#         ansible_ssh_private_key_file: ~/.ssh/pve_root

- name: Configure software inside the containers
  hosts: local_cts:remote_cts
  gather_facts: true
  vars:
    ansible_pipelining: true
  tasks:
    - name: Install a config file
      ansible.builtin.template:
        src: app.conf.j2
        dest: /etc/app.conf
        mode: "0644"

    - name: Run something as another user
      ansible.builtin.command: id -un
      become: true
      become_user: nobody
      changed_when: false

- name: "A container without Python: raw still works"
  hosts: busybox01
  gather_facts: false
  tasks:
    - name: Look around
      ansible.builtin.raw: cat /etc/os-release
      changed_when: false
"""


import fcntl
import hashlib
import ipaddress
import os
import re
import shlex
import subprocess

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

from ansible_collections.cageforge.nexcage.plugins.module_utils import _validation
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths, readers

display = Display()

LOCAL_NODES = ("localhost",)  # exactly as documented: any other name or address goes over SSH
ENV_C = {"LANG": "C", "LC_ALL": "C"}
# root's login environment inside the container (pct exec --keep-env 0 gives only PATH and container=lxc)
CT_PROLOGUE = 'export HOME=/root USER=root LOGNAME=root SHELL=/bin/sh; cd "$HOME" 2>/dev/null || cd /; '
# the node's container configs (every file, an empty one too) and their hostname lines: main section
# only (snapshot sections start with "[")
HOSTNAME_LIST_AWK = (
    "BEGIN { for (i = 1; i < ARGC; i++) print ARGV[i] } FNR == 1 { main = 1 } /^\\[/ { main = 0 } "
    'main && /^hostname:/ { print FILENAME " " $0 }'
)
# the scope of a link-local IPv6 address: an interface name or index
IPV6_SCOPE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}")

# pct's own failures (pve-container, pve-common): told apart from a command's own output
STOPPED_RE = re.compile(
    r"container '\d+' not running!|can only push files to a running CT|can only pull files from a running VM"
)
ABSENT_RE = re.compile(r"Configuration file '[^']*' does not exist")
NOT_ROOT_RE = re.compile(r"please run as root|Unable to load access control list|ipcc_send_rec")
# the SSH hop's own failures (exit 255 from ssh), told apart from a command that exits 255 by itself
SSH_FAILURE_RE = re.compile(
    r"^(?:ssh|kex_exchange_identification|unix_listener|mux_client\w*|muxclient|Control\w*):|^Host key verification"
    r"|^\S+@\S+: Permission denied|Connection (?:closed|refused|timed out|reset)|Could not resolve hostname",
    re.M,
)
NO_PYTHON_RE = re.compile(rb"python[0-9.]*: (?:\d+: )?(?:[^:\n]*: )?(?:not found|No such file or directory)")
# lock waits that pct prints on stderr while it succeeds
LOCK_NOISE_RE = re.compile(r"^(?:trying to acquire lock\.\.\.)?\s*(?:OK)?\s*$")


def checked_vmid(value):
    """nexcage_vmid as pct's VMID argument; anything that is not a VMID fails before a command runs."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        valid = False
    elif isinstance(value, int):
        valid = _validation.VMID_MIN <= value <= _validation.VMID_MAX
    else:
        valid = paths.name_vmid(value) is not None  # a VMID as Proxmox VE writes it
    if not valid:
        raise AnsibleError(
            "nexcage_vmid (or ansible_pct_vmid) is %r, which is not a Proxmox VE VMID: set it to the container's "
            "VMID, a whole number from %d to %d written in plain digits (e.g. 101)"
            % (value, _validation.VMID_MIN, _validation.VMID_MAX)
        )
    return "%d" % int(value)


def checked_node_host(value):
    """nexcage_node_host as the SSH destination: a DNS name or an IP address (an IPv6 one may have an
    interface scope), so never an ssh option, a user@, a port or whitespace."""
    if isinstance(value, str):
        address, percent, scope = value.partition("%")
        try:
            ipaddress.ip_address(address)
            if not percent or (":" in address and IPV6_SCOPE_RE.fullmatch(scope)):
                return value
        except ValueError:
            if _validation.check(_validation.validate_hostname, value) is None:
                return value
    raise AnsibleError(
        "nexcage_node_host is %r, which is neither a DNS name nor an IP address: set it to the node's name or "
        "address (e.g. pve1.example.com, 192.0.2.10 or 2001:db8::10), or localhost when the controller is the "
        "node; the SSH user goes in nexcage_node_user, the port in nexcage_node_port, other ssh options in "
        "ansible_ssh_common_args" % (value,)
    )


def checked_container_name(value):
    """The inventory name the container is looked up by: a DNS name (a name that is a VMID is taken as one)."""
    if not isinstance(value, str) or _validation.check(_validation.validate_hostname, value) is not None:
        raise AnsibleError(
            "the container name %r (inventory_hostname, or nexcage_container_name) is neither a VMID nor a DNS "
            "name: set nexcage_vmid for this host, or nexcage_container_name to the container's hostname as its "
            "Proxmox VE config has it (letters, digits and '-' in dot-separated labels)" % (value,)
        )
    return value


def _sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Connection(ConnectionBase):
    """Runs commands inside a Proxmox VE container with pct exec/push/pull, locally or on a node over SSH."""

    transport = "cageforge.nexcage.pct"
    has_pipelining = True
    default_user = "root"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._vmid = None

    # ------------------------------------------------------------------ the node

    @property
    def _node(self):
        return checked_node_host(self.get_option("node_host"))

    @property
    def _remote(self):
        return self._node not in LOCAL_NODES

    def _describe(self):
        vmid = self._vmid or self.get_option("vmid")
        what = "container %s" % vmid if vmid is not None else "container"
        name = self.get_option("container_name")
        if self.get_option("vmid") is None and name and str(name) != str(vmid):
            what += " (%s)" % name  # the name it was found by
        return "%s on node %s" % (what, self._node)

    def _control_path(self):
        """The node's control socket: one per (user, node, port), named by a hash as ssh's %C is."""
        directory = os.path.expanduser(self.get_option("control_path_dir"))
        key = "%s@%s:%s" % (self.get_option("node_user"), self._node, self.get_option("node_port"))
        path = os.path.join(directory, "pct-" + hashlib.sha1(key.encode()).hexdigest())
        if len(os.fsencode(path)) > 107:  # what a Unix socket path has room for
            raise AnsibleConnectionFailure(
                "control_path_dir %r is too long for the SSH control socket (at most %d characters): set "
                "ansible_control_path_dir to a shorter directory" % (directory, 107 - 45)
            )
        os.makedirs(directory, mode=0o700, exist_ok=True)
        return path

    def _ensure_master(self):
        """Open the node's persistent SSH connection once: parallel tasks (forks) wait for the first one
        instead of each racing to become the master and opening connections of their own."""
        path = self._control_path()
        if os.path.exists(path):
            return  # a live master (a stale socket is replaced by ssh itself)
        lock = os.open(path + ".lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if os.path.exists(path):
                return
            rc, _out, err = self._run(self._ssh_argv("true"), stdin=subprocess.DEVNULL, what="the SSH connection")
            self._check_node_failure(rc, err)
            if rc != 0:
                raise AnsibleConnectionFailure(
                    "cannot reach node %s over SSH (exit %d): %s"
                    % (self._node, rc, to_text(err, errors="surrogate_or_replace").strip() or "no message")
                )
        finally:
            os.close(lock)

    def _ssh_argv(self, remote_command=None):
        argv = [
            self.get_option("ssh_executable"),
            "-o",
            "ControlMaster=auto",
            "-o",
            "ControlPersist=%s" % self.get_option("control_persist"),
            "-o",
            "ControlPath=%s" % self._control_path(),
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=%d" % self.get_option("timeout"),
            "-o",
            "LogLevel=ERROR",
            "-p",
            str(self.get_option("node_port")),
            "-l",
            self.get_option("node_user"),
        ]
        key = self.get_option("private_key_file")
        if key:
            argv += ["-i", os.path.expanduser(key)]
        if not self.get_option("host_key_checking"):
            argv += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        for name in ("ssh_common_args", "ssh_extra_args"):
            argv += shlex.split(self.get_option(name) or "")
        # the destination after "--": never read as an option, nor is the command after it (ssh(1), ssh.c)
        argv += ["--", self._node]
        return argv if remote_command is None else argv + [remote_command]

    def _run(self, argv, stdin=None, in_data=None, stdout=subprocess.PIPE, what="pct"):
        """Run argv on the controller (no shell), LANG=C, with the command timeout."""
        timeout = self.get_option("command_timeout")
        display.vvv("PCT %s" % shlex.join(argv), host=self._node)
        try:
            proc = subprocess.run(
                argv,
                input=in_data,
                stdin=stdin if in_data is None else None,
                stdout=stdout,
                stderr=subprocess.PIPE,
                env=dict(os.environ, **ENV_C),
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            if self._remote:
                raise AnsibleConnectionFailure(
                    "%r not found on the controller (ssh_executable): install the OpenSSH client" % argv[0]
                ) from None
            raise AnsibleConnectionFailure(
                "%r not found on the controller: nexcage_node_host=localhost runs pct on this machine, which "
                "must then be the Proxmox VE node; set nexcage_node_host to the node's SSH address otherwise" % argv[0]
            ) from None
        except subprocess.TimeoutExpired:
            raise AnsibleConnectionFailure(
                "%s for %s took longer than %d s and was killed; raise nexcage_pct_command_timeout for long tasks"
                % (what, self._describe(), timeout)
            ) from None
        return proc.returncode, proc.stdout if proc.stdout is not None else b"", proc.stderr

    def _node_command(self, argv, **kwargs):
        """Run a command on the node: directly when it is this machine, else over the persistent SSH connection."""
        if not self._remote:
            return self._run(argv, **kwargs)
        self._ensure_master()
        return self._run(self._ssh_argv("LANG=C LC_ALL=C " + shlex.join(argv)), **kwargs)

    def _node_script(self, script, **kwargs):
        """A small POSIX sh script on the remote node (only ever used over SSH)."""
        self._ensure_master()
        return self._run(self._ssh_argv("LANG=C LC_ALL=C sh -c %s" % shlex.quote(script)), **kwargs)

    def _check_node_failure(self, rc, stderr):
        """Raise a clear error for failures of the SSH hop or of pct itself (not of the command in the CT)."""
        text = to_text(stderr, errors="surrogate_or_replace").strip()
        if STOPPED_RE.search(text):
            raise AnsibleConnectionFailure(
                "%s is not running: pct needs a running container. Start it first (cageforge.nexcage."
                "nexcage_container with state: started, or pct start %s)" % (self._describe(), self._vmid)
            )
        if ABSENT_RE.search(text):
            raise AnsibleConnectionFailure(
                "%s does not exist (%s). Check nexcage_vmid / the inventory name, or create it first"
                % (self._describe(), text.splitlines()[-1])
            )
        if NOT_ROOT_RE.search(text):
            raise AnsibleConnectionFailure(
                "pct on node %s refused to run (%s): pct needs root; set nexcage_node_user: root"
                % (self._node, text.splitlines()[-1])
            )
        if self._remote and rc == 255 and SSH_FAILURE_RE.search(text):
            raise AnsibleConnectionFailure("cannot reach node %s over SSH: %s" % (self._node, text))
        if rc == 127 and re.match(
            r"^(?:sh: \d+: |bash: )?%s: (?:command )?not found" % re.escape(self.get_option("pct_executable")), text
        ):
            raise AnsibleConnectionFailure("node %s has no pct (%s): is it a Proxmox VE node?" % (self._node, text))

    # ------------------------------------------------------------------ the container

    def _resolve_vmid(self):
        vmid = self.get_option("vmid")
        if vmid is not None:
            return checked_vmid(vmid)
        name = self.get_option("container_name")
        if isinstance(name, str) and paths.name_vmid(name) is not None:
            return name  # a VMID as Proxmox VE writes it
        name = checked_container_name(name)
        hostnames = self._remote_hostnames() if self._remote else self._local_hostnames()
        found = readers.with_hostname(hostnames, name)
        if not found and "." in name:
            found = readers.with_hostname(hostnames, name.split(".", 1)[0])
        if len(found) == 1:
            return str(found[0])
        if not found:
            raise AnsibleConnectionFailure(
                "no container with hostname %r on node %s (looked in %s/*.conf): set nexcage_vmid for this "
                "host, or check the name" % (name, self._node, paths.LXC_CONF_DIR)
            )
        raise AnsibleConnectionFailure(
            "hostname %r is used by containers %s on node %s: set nexcage_vmid to choose one"
            % (name, ", ".join(str(vmid) for vmid in found), self._node)
        )

    def _local_hostnames(self):
        """{vmid: hostname} of the containers of this machine, the node (the node layer reads them)."""
        try:
            return readers.ct_hostnames()
        except OSError as exc:
            raise AnsibleConnectionFailure(
                "could not read the container list of node %s (%s): pct needs root on the node; or set "
                "nexcage_vmid for this host" % (self._node, exc)
            ) from None

    def _remote_hostnames(self):
        """{vmid: hostname} of the remote node's containers: its configs' hostname lines, read with awk over SSH
        and taken as the node layer takes them (only files named by a VMID; CT<vmid> when a config names none)."""
        rc, out, err = self._node_script(
            "awk %s %s/*.conf 2>/dev/null; exit 0" % (shlex.quote(HOSTNAME_LIST_AWK), paths.LXC_CONF_DIR),
            what="the hostname look-up",
        )
        self._check_node_failure(rc, err)
        if rc != 0:
            raise AnsibleConnectionFailure(
                "could not read the container list of node %s (exit %d): %s"
                % (self._node, rc, to_text(err, errors="surrogate_or_replace").strip() or "no message")
            )
        heads = {}
        for line in to_text(out, errors="surrogate_or_replace").splitlines():
            path, _sep, hostname_line = line.partition(" ")
            vmid = paths.conf_vmid(path) if os.path.dirname(path) == paths.LXC_CONF_DIR else None
            if vmid is not None:
                heads.setdefault(vmid, []).append(hostname_line)
        return {vmid: readers.config_hostname("\n".join(lines), vmid) for vmid, lines in heads.items()}

    def _connect(self):
        if not self._connected:
            self._vmid = self._resolve_vmid()
            display.vvv("PCT container %s on node %s" % (self._vmid, self._node), host=self._play_context.remote_addr)
            self._connected = True
        return self

    def _pct(self, *args):
        return [self.get_option("pct_executable")] + [str(arg) for arg in args]

    def _exec_in_ct(self, script, in_data=None, what="pct exec"):
        argv = self._pct("exec", self._vmid, "--keep-env", "0", "--", "/bin/sh", "-c", CT_PROLOGUE + script)
        return self._node_command(argv, in_data=in_data, stdin=subprocess.DEVNULL, what=what)

    def exec_command(self, cmd, in_data=None, sudoable=True):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        if sudoable and self.become and self.become.expect_prompt():
            raise AnsibleError(
                "the pct connection cannot answer a become password prompt: commands run as root in %s, and "
                "root becomes any user without a password; drop become_password (ansible_become_pass)"
                % self._describe()
            )
        rc, stdout, stderr = self._exec_in_ct(to_text(cmd, errors="surrogate_or_strict"), in_data=in_data)
        if rc != 0:
            self._check_node_failure(rc, stderr)
            runs_module = in_data is not None or "AnsiballZ_" in to_text(cmd, errors="surrogate_or_replace")
            if rc == 127 and runs_module and NO_PYTHON_RE.search(stderr):
                raise AnsibleError(
                    "%s has no Python for Ansible modules (%s). Install python3 in the container (ansible.builtin.raw "
                    "works without it, e.g. apt-get install -y python3), use a template that has it, or set "
                    "ansible_python_interpreter"
                    % (self._describe(), to_text(stderr, errors="surrogate_or_replace").strip())
                )
        return rc, stdout, stderr

    # ------------------------------------------------------------------ files

    def _check_transfer(self, rc, stderr, verb, path):
        self._check_node_failure(rc, stderr)
        text = to_text(stderr, errors="surrogate_or_replace")
        problems = [line for line in text.splitlines() if not LOCK_NOISE_RE.match(line)]
        if rc != 0 or problems:
            # pct push/pull exit 0 even when their task failed: the error is on stderr
            raise AnsibleError(
                "pct %s of %s for %s failed (exit %d): %s"
                % (verb, path, self._describe(), rc, text.strip() or "no message")
            )

    def _verify(self, local_path, ct_path, verb):
        threshold = self.get_option("checksum_min_size")
        if threshold < 0 or os.path.getsize(local_path) < threshold:
            return
        rc, out, err = self._exec_in_ct("sha256sum %s" % shlex.quote(ct_path), what="sha256sum")
        inside = to_text(out).split()[0] if rc == 0 and out.split() else None
        here = _sha256_file(local_path)
        if inside != here:
            raise AnsibleError(
                "pct %s of %s for %s: checksums differ after the transfer (controller %s, container %s%s)"
                % (verb, ct_path, self._describe(), here, inside, "" if rc == 0 else ": " + to_text(err).strip())
            )

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        display.vvv("PUT %s TO %s" % (in_path, out_path), host=self._play_context.remote_addr)
        local_path = to_bytes(in_path, errors="surrogate_or_strict")
        if not os.path.isfile(local_path):
            raise AnsibleFileNotFound("file or module does not exist: %s" % to_text(in_path))
        if self._remote:
            # stream over the persistent connection into a private file on the node, then pct push it
            script = (
                'umask 077; t=$(mktemp) || exit 1; trap \'rm -f "$t"\' EXIT; cat > "$t" || exit 1; '
                + '%s "$t" %s' % (shlex.join(self._pct("push", self._vmid)), shlex.quote(out_path))
            )
            with open(local_path, "rb") as source:
                rc, _out, err = self._node_script(script, stdin=source, what="pct push")
        else:
            rc, _out, err = self._run(
                self._pct("push", self._vmid, in_path, out_path), stdin=subprocess.DEVNULL, what="pct push"
            )
        self._check_transfer(rc, err, "push", out_path)
        self._verify(local_path, out_path, "push")

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        display.vvv("FETCH %s TO %s" % (in_path, out_path), host=self._play_context.remote_addr)
        local_path = to_bytes(out_path, errors="surrogate_or_strict")
        try:
            if self._remote:
                script = (
                    "umask 077; t=$(mktemp) || exit 1; trap 'rm -f \"$t\"' EXIT; "
                    + '%s "$t" >&2 && cat "$t"' % shlex.join(self._pct("pull", self._vmid, in_path))
                )
                with open(local_path, "wb") as target:
                    rc, _out, err = self._node_script(script, stdin=subprocess.DEVNULL, stdout=target, what="pct pull")
            else:
                rc, _out, err = self._run(
                    self._pct("pull", self._vmid, in_path, out_path), stdin=subprocess.DEVNULL, what="pct pull"
                )
            self._check_transfer(rc, err, "pull", in_path)
            if not os.path.isfile(local_path):
                raise AnsibleError("pct pull of %s for %s wrote no file" % (in_path, self._describe()))
            self._verify(local_path, in_path, "pull")
        except BaseException:
            if os.path.isfile(local_path):
                os.unlink(local_path)
            raise

    # ------------------------------------------------------------------ lifetime

    def reset(self):
        """meta: reset_connection closes the node's persistent SSH connection (the next task opens a new one)."""
        if self._remote:
            argv = self._ssh_argv()  # `ssh -O exit ... -- host`: no command
            argv[1:1] = ["-O", "exit"]
            self._run(argv, stdin=subprocess.DEVNULL, what="ssh -O exit")
        self.close()

    def close(self):
        # the persistent SSH connection outlives the task on purpose (ControlPersist)
        self._connected = False
