#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nexcage_container_info
short_description: Read one or all LXC containers of a Proxmox VE node, with their runtime figures
version_added: 0.2.0
description:
  - Returns the containers of the node it runs on, each with the same C(container) structure
    M(cageforge.nexcage.nexcage_container) returns, its resource pool, and, when it runs, its uptime,
    memory and CPU use.
  - Give O(vmid) or O(hostname) for one container; without either, every container of the node.
  - "It runs no command at all (no C(pct), no C(pvesh), no Perl start-up): the configs come from
    C(/etc/pve/lxc/<vmid>.conf), the pools from C(/etc/pve/user.cfg), the run state from the LXC command
    socket in C(/proc/net/unix), and the figures from the container's cgroup and C(/proc)."
author:
  - nexcage contributors (@cageforge)
extends_documentation_fragment:
  - cageforge.nexcage.common
  - cageforge.nexcage._attributes
options:
  vmid:
    description:
      - The container's VMID. A VMID without a container config on this node returns no container
        (RV(container) is null), it does not fail.
      - Mutually exclusive with O(hostname).
    type: int
  hostname:
    description:
      - The container's hostname as in its config (C(CT<vmid>) when the config names none), matched
        without regard to case.
      - The task fails when several containers have this hostname; give O(vmid) then.
    type: str
attributes:
  check_mode:
    support: full
    details: The module only reads; check mode returns the same result.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: It never changes anything.
notes:
  - The memory and CPU figures are the ones Proxmox VE shows. Memory used is the cgroup's usage minus
    its page cache, CPU time is user plus system time. They are read from the cgroup directories
    Proxmox VE (C(lxc/<vmid>)) and plain LXC (C(lxc.payload.<vmid>)) use, cgroup v2 or v1; a figure
    that cannot be read is null.
  - "Containers of other cluster nodes are not listed: run the task on each node, or use the
    C(cageforge.nexcage.containers) inventory plugin."
seealso:
  - module: cageforge.nexcage.nexcage_container
  - plugin: cageforge.nexcage.containers
    plugin_type: inventory
"""

EXAMPLES = r"""
- name: Read one container
  cageforge.nexcage.nexcage_container_info:
    hostname: web01
  register: web01

- name: Show its memory use when it runs
  ansible.builtin.debug:
    msg: "{{ web01.container.runtime.memory.used | human_readable }} of {{ web01.container.memory }} MiB"
  when: web01.container is not none and web01.container.status == 'running'

- name: Every container of the node
  cageforge.nexcage.nexcage_container_info:
  register: node_cts

- name: The names of the stopped ones
  ansible.builtin.debug:
    msg: "{{ node_cts.containers | selectattr('status', 'eq', 'stopped') | map(attribute='hostname') | list }}"
"""

RETURN = r"""
container:
  description:
    - The container asked for with O(vmid) or O(hostname), as an element of RV(containers); null when this
      node has no such container.
  returned: when vmid or hostname is given
  type: dict
  sample:
    vmid: 101
    hostname: web01
    memory: 512
    ostype: debian
    status: running
    pid: 41234
    node: pve1
    pool: prod
    runtime: {uptime: 3605, memory: {used: 23654400, swap_used: 0, limit: 536870912},
              cpu: {user_ms: 810, system_ms: 420, usage_ms: 1230}}
containers:
  description:
    - The containers, sorted by VMID (the one asked for, or all of the node).
    - Each holds the keys of the container's config, typed as M(cageforge.nexcage.nexcage_container) returns
      them (sizes in bytes, property strings as dicts, booleans), plus the keys below.
  returned: always
  type: list
  elements: dict
  contains:
    vmid:
      description: VMID.
      type: int
    node:
      description: The node (this node).
      type: str
    status:
      description: V(running) or V(stopped).
      type: str
    pid:
      description: PID of the container's init on the node, when running (null when its cgroup cannot tell).
      type: int
    lock:
      description: The config lock (C(backup), C(create), ...), if any.
      type: str
    pending:
      description: The C([pve:pending]) section, typed (with C(delete), a list of keys).
      type: dict
    pending_keys:
      description: The keys that change at the next start.
      type: list
      elements: str
    snapshots:
      description: Names of the container's snapshots.
      type: list
      elements: str
    pool:
      description: The resource pool the container belongs to, null when none.
      type: str
    runtime:
      description: Figures of a running container; null when it is stopped.
      type: dict
      contains:
        uptime:
          description: Seconds since the container's init started.
          type: int
        memory:
          description:
            - C(used) (bytes, without the page cache), C(swap_used) (bytes) and C(limit) (bytes, null when
              unlimited); null when the memory cgroup cannot be found.
          type: dict
        cpu:
          description: C(user_ms), C(system_ms) and C(usage_ms), CPU time used since the start, in milliseconds.
          type: dict
commands:
  description: The commands run. Always empty; the module reads files only.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.cageforge.nexcage.plugins.module_utils._node import bytecode  # noqa: E402


def main():
    bytecode.install()  # the module_utils below load the code an earlier run compiled (_node/bytecode.py)
    from ansible_collections.cageforge.nexcage.plugins.module_utils._common import common_argument_spec
    from ansible_collections.cageforge.nexcage.plugins.module_utils._container.info import run_module
    from ansible_collections.cageforge.nexcage.plugins.module_utils._module import check_raw_params

    argument_spec = common_argument_spec()
    argument_spec.update(
        vmid=dict(type="int"),
        hostname=dict(type="str"),
    )
    check_raw_params(argument_spec)
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("vmid", "hostname")],
        supports_check_mode=True,
    )
    run_module(module)


if __name__ == "__main__":
    main()
