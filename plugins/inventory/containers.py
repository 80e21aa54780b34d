# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: containers
short_description: The LXC containers of Proxmox VE nodes, read from /etc/pve without any API token
version_added: 0.2.0
author:
  - nexcage contributors (@cageforge)
description:
  - Lists the LXC containers of one or more Proxmox VE nodes as inventory hosts, ready for the
    C(cageforge.nexcage.pct) connection (C(pct exec) on the node; the containers need no SSH server).
  - Reads the node's own files, not the HTTP API, so it needs no API token. For O(nodes) entry
    V(localhost) the files are read on the controller itself (the controller is the node). For any
    other entry ONE SSH command per node (C(ssh root@node python3 -), the reader sent on stdin) prints
    the container configs (C(/etc/pve/lxc/*.conf)), the pools (C(/etc/pve/user.cfg)), the LXC command
    sockets of C(/proc/net/unix) (which containers run) and the node's name.
  - The configs are parsed as Proxmox VE parses them, by the collection's own config reader.
  - Everything read from a node is data, never a template; a C({{ ... }}) in a container's config
    (an C(entrypoint), an C(env) value) reaches plays as written. Before ansible-core 2.19 the plugin
    marks it unsafe itself; from 2.19 on, ansible-core does not trust inventory plugin data.
  - "Groups (names made of letters, digits and C(_) only, other characters become C(_)), each prefixed
    with O(group_prefix): C(containers) (all), C(running), C(stopped), C(tag_<tag>) per tag,
    C(pool_<pool>), C(ostype_<ostype>) and C(node_<node>) (the Proxmox VE node name)."
  - "Host variables: C(ansible_connection) (O(connection)), C(nexcage_vmid), C(nexcage_node_host) (the
    O(nodes) entry, what the pct connection reaches), C(nexcage_node_user) and C(nexcage_node_port) for an
    SSH node, C(nexcage_node) (the node's name), C(nexcage_hostname), C(nexcage_status) (V(running) or
    V(stopped)), C(nexcage_tags) (a list), C(nexcage_pool), C(nexcage_ostype), C(nexcage_lock),
    C(nexcage_template), and C(nexcage_config) (the typed config, as M(cageforge.nexcage.nexcage_container)
    returns it) with O(want_config)."
  - The inventory host name is the container's hostname (C(CT<vmid>) when its config names none, or a
    name Proxmox VE would refuse). When
    several listed containers share a hostname, each of them is named C(<hostname>-<vmid>) instead (and
    C(<hostname>-<vmid>-<nodes entry>) if that is still not unique), with a warning.
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: The name of this plugin; the inventory file must name it to be used.
    required: true
    type: str
    choices: [cageforge.nexcage.containers]
  nodes:
    description:
      - The Proxmox VE nodes to read. V(localhost) reads the controller's own files; any other value is an
        SSH destination (name or address) reached as O(node_user).
      - In a cluster each node lists its own containers (C(/etc/pve/lxc) is the node's own directory).
    type: list
    elements: str
    default: [localhost]
  node_user:
    description: The SSH user on the nodes (reading C(/etc/pve/lxc) needs root).
    type: str
    default: root
  node_port:
    description: The SSH port of the nodes.
    type: int
    default: 22
  private_key_file:
    description: The SSH private key for the nodes.
    type: path
  ssh_executable:
    description: The SSH client.
    type: str
    default: ssh
  ssh_common_args:
    description: Extra arguments for the C(ssh) call (split like a shell would, never run by one).
    type: str
    default: ""
  python_interpreter:
    description: The Python of a remote node that runs the reader (Proxmox VE ships C(python3)).
    type: str
    default: python3
  timeout:
    description: Seconds the read of one node may take, SSH connection included.
    type: int
    default: 30
  on_unreachable:
    description:
      - V(error) fails the inventory source when a node cannot be read; V(warn) warns and lists the
        containers of the other nodes.
    type: str
    choices: [error, warn]
    default: error
  status:
    description: Only containers in one of these states. Default is all.
    type: list
    elements: str
    choices: [running, stopped]
  tags:
    description: Only containers that carry at least one of these tags (as in their C(tags) config). Default is all.
    type: list
    elements: str
  include_templates:
    description: "Also list container templates (C(template: 1)), which cannot run; they get C(nexcage_template=true)."
    type: bool
    default: false
  group_prefix:
    description: The prefix of the groups this plugin makes.
    type: str
    default: nexcage_
  connection:
    description:
      - The C(ansible_connection) each host gets. An empty string sets none (for example to reach the
        containers over SSH with C(compose) setting C(ansible_host)).
    type: str
    default: cageforge.nexcage.pct
  want_config:
    description: Set C(nexcage_config), the container's whole typed config (for O(compose) and O(keyed_groups)).
    type: bool
    default: true
notes:
  - The reader on a remote node needs C(python3) (Proxmox VE has it) and root's read access to C(/etc/pve).
  - With O(cache) the node files are read once per cache lifetime; the run state may then be stale.
seealso:
  - module: cageforge.nexcage.nexcage_container_info
  - plugin: cageforge.nexcage.pct
    plugin_type: connection
"""

EXAMPLES = r"""
# inventory/lab.nexcage.yml, the containers of this node (the controller runs on the node), is one line:
#   plugin: cageforge.nexcage.containers

# inventory/cluster.nexcage.yml: two nodes over SSH, running web containers only, with groups
# from the config and a cache of 5 minutes
plugin: cageforge.nexcage.containers
nodes: [pve1.example.com, pve2.example.com]
status: [running]
tags: [web]
keyed_groups:
  - key: nexcage_config.arch
    prefix: arch
compose:
  memory_mib: nexcage_config.memory
groups:
  big: (nexcage_config.memory | int) >= 4096
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/nexcage-inventory
cache_timeout: 300
"""

import json  # noqa: E402
import re  # noqa: E402
import shlex  # noqa: E402

from ansible.errors import AnsibleParserError  # noqa: E402
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable  # noqa: E402
from ansible.utils.unsafe_proxy import wrap_var  # noqa: E402

from ansible_collections.cageforge.nexcage.plugins.module_utils import _pveconfig, _validation  # noqa: E402
from ansible_collections.cageforge.nexcage.plugins.module_utils._errors import ValidationError  # noqa: E402
from ansible_collections.cageforge.nexcage.plugins.module_utils._node import paths, readers, snapshot  # noqa: E402
from ansible_collections.cageforge.nexcage.plugins.module_utils._runner import Runner  # noqa: E402

LOCAL = "localhost"
# ansible-core 2.19 and later never template what an inventory plugin sets unless the plugin says it is
# trusted (trusted_by_default); before that, node data must be marked unsafe by hand.
MARK_UNSAFE = not hasattr(BaseInventoryPlugin, "trusted_by_default")


def as_data(value):
    """Node data as data: never a template, whatever the ansible-core version."""
    return wrap_var(value) if MARK_UNSAFE else value


def group_name(text):
    return re.sub(r"[^A-Za-z0-9_]", "_", str(text))


def host_name(config, vmid):
    """The config's hostname when it is a valid DNS name (as pct accepts it), else CT<vmid> (as PVE shows it)."""
    try:
        return _validation.validate_hostname(config.get("hostname"))
    except ValidationError:
        return "CT%s" % vmid


def container_hosts(node_entry, snap, want_templates):
    """([host dict], [warning]) from one node's snapshot: vmid, hostname, status, tags, pool, config...

    Proxmox VE's own warnings about a config (a value it cannot parse, which it keeps as written)
    are passed on; the container is still listed, as Proxmox VE lists it.
    """
    files = snap["files"]
    running = readers.running_from_unix(files.get(paths.PROC_NET_UNIX) or "")
    pools = readers.parse_pools(files.get(paths.USER_CFG) or "")
    hosts, problems = [], []
    for path, text in sorted(files.items()):
        vmid = paths.conf_vmid(path)
        if vmid is None or text is None:  # only a config file named by a VMID is a container
            continue
        config = _pveconfig.parse_config(text, vmid=vmid)
        template = bool(config.get("template"))
        if template and not want_templates:
            continue
        for warning in config["warnings"]:
            problems.append("%s (CT %s on node %s)" % (warning, vmid, snap["node"]))
        hosts.append(
            {
                "vmid": vmid,
                "hostname": host_name(config, vmid),
                "status": "running" if vmid in running else "stopped",
                "tags": _pveconfig.split_list(config.get("tags")),
                "pool": pools.get(vmid),
                "ostype": config.get("ostype"),
                "lock": config.get("lock"),
                "template": template,
                "node": snap["node"],
                "node_host": node_entry,
                "config": json.loads(json.dumps(_pveconfig.config_keys(config), default=str)),
            }
        )
    return hosts, problems


def inventory_names(hosts):
    """{id(host): name}: the hostname, or <hostname>-<vmid>[-<node entry>] for names listed more than once."""
    counts = {}
    for host in hosts:
        counts[host["hostname"].lower()] = counts.get(host["hostname"].lower(), 0) + 1
    names = {}
    for host in hosts:
        name = host["hostname"]
        if counts[name.lower()] > 1:
            name = "%s-%s" % (name, host["vmid"])
        names[id(host)] = name
    seen = {}
    for name in names.values():
        seen[name] = seen.get(name, 0) + 1
    for host in hosts:
        if seen[names[id(host)]] > 1:
            names[id(host)] = "%s-%s" % (names[id(host)], host["node_host"])
    return names


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "cageforge.nexcage.containers"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith((".nexcage.yml", ".nexcage.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        snapshots = None
        if use_cache:
            try:
                snapshots = self._cache[cache_key]
            except KeyError:
                snapshots = None
        if snapshots is None:
            snapshots = self._read_nodes()
            if self.get_option("cache"):
                self._cache[cache_key] = snapshots
        self._populate(snapshots)

    # ------------------------------------------------------------------ reading the nodes

    def _read_nodes(self):
        """[[node entry, snapshot]] of every node that answered."""
        snapshots = []
        for entry in self.get_option("nodes"):
            try:
                snap = snapshot.collect(snapshot.node_spec()) if entry == LOCAL else self._read_remote(entry)
            except AnsibleParserError as exc:
                if self.get_option("on_unreachable") == "error":
                    raise
                self.display.warning(str(exc))
                continue
            snapshots.append([entry, snap])
        return snapshots

    def _ssh_argv(self, entry):
        argv = [self.get_option("ssh_executable"), "-o", "BatchMode=yes"]
        argv += ["-p", str(self.get_option("node_port")), "-l", self.get_option("node_user")]
        if self.get_option("private_key_file"):
            argv += ["-i", self.get_option("private_key_file")]
        argv += shlex.split(self.get_option("ssh_common_args") or "")
        return argv + ["--", entry, shlex.quote(self.get_option("python_interpreter")), "-"]

    def _read_remote(self, entry):
        timeout = self.get_option("timeout")
        result = Runner(timeout=timeout).run(
            self._ssh_argv(entry), data=snapshot.program(snapshot.node_spec()), check=False
        )
        what = "Cannot list the containers of node %s" % entry
        if result.rc != 0:
            detail = (result.stderr or result.stdout).strip() or "exit code %s" % result.rc
            login = "ssh %s@%s true" % (self.get_option("node_user"), entry)
            raise AnsibleParserError(
                "%s: %s: %s. Check that `%s` works without a password prompt (root, an SSH key) "
                "and that the node has %s." % (what, result.cmd, detail, login, self.get_option("python_interpreter"))
            )
        try:
            snap = json.loads(result.stdout)
        except ValueError:
            raise AnsibleParserError("%s: the reader printed no JSON: %r" % (what, result.stdout[:200])) from None
        if not isinstance(snap, dict) or not isinstance(snap.get("files"), dict):
            raise AnsibleParserError("%s: unexpected reader output" % what)
        return snap

    # ------------------------------------------------------------------ inventory

    def _wanted(self, host):
        status, tags = self.get_option("status"), self.get_option("tags")
        if status and host["status"] not in status:
            return False
        return not tags or bool(set(tags) & set(host["tags"]))

    def _populate(self, snapshots):
        hosts = []
        for entry, snap in snapshots:
            found, problems = container_hosts(entry, snap, self.get_option("include_templates"))
            for problem in problems:
                self.display.warning("cageforge.nexcage.containers: %s" % problem)
            hosts += [host for host in found if self._wanted(host)]
        names = inventory_names(hosts)
        for host in hosts:
            if names[id(host)] != host["hostname"]:
                self.display.warning(
                    "cageforge.nexcage.containers: hostname %s is listed more than once; CT %s on %s is named %s"
                    % (host["hostname"], host["vmid"], host["node"], names[id(host)])
                )
            self._add(names[id(host)], host)

    def _host_vars(self, host):
        # Everything read from the node is data, never a template (a description may hold "{{ ... }}").
        hostvars = {
            "nexcage_vmid": host["vmid"],
            "nexcage_node_host": host["node_host"],
            "nexcage_node": host["node"],
            "nexcage_hostname": host["hostname"],
            "nexcage_status": host["status"],
            "nexcage_tags": host["tags"],
            "nexcage_pool": host["pool"],
            "nexcage_ostype": host["ostype"],
            "nexcage_lock": host["lock"],
            "nexcage_template": host["template"],
        }
        hostvars = {key: as_data(value) for key, value in hostvars.items()}
        hostvars["nexcage_node_host"] = host["node_host"]
        if host["node_host"] != LOCAL:
            hostvars.update(
                nexcage_node_user=self.get_option("node_user"), nexcage_node_port=self.get_option("node_port")
            )
        if self.get_option("connection"):
            hostvars["ansible_connection"] = self.get_option("connection")
        if self.get_option("want_config"):
            hostvars["nexcage_config"] = as_data(host["config"])
        return hostvars

    def _add(self, name, host):
        prefix = self.get_option("group_prefix")
        self.inventory.add_host(name)
        hostvars = self._host_vars(host)
        for key, value in hostvars.items():
            self.inventory.set_variable(name, key, value)
        groups = ["containers", host["status"], "node_%s" % host["node"]]
        groups += ["tag_%s" % tag for tag in host["tags"]]
        groups += ["pool_%s" % host["pool"]] if host["pool"] else []
        groups += ["ostype_%s" % host["ostype"]] if host["ostype"] else []
        for group in groups:
            self.inventory.add_group(group_name(prefix + group))
            self.inventory.add_child(group_name(prefix + group), name)
        strict = self.get_option("strict")
        self._set_composite_vars(self.get_option("compose"), hostvars, name, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), hostvars, name, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, name, strict=strict)
