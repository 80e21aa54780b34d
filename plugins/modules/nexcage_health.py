#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nexcage_health
short_description: Check a Proxmox VE node before deploying containers, and repair stale leftovers on request
version_added: 0.1.0
description:
  - Runs read-only integrity checks on the node and returns one result per check with a status
    (V(ok), V(warn) or V(fail)), what was found, and what to do about it.
  - Without O(repair) it never changes anything and never reports C(changed).
  - With O(fail_on) the task fails when a check reaches that status, so a play can use it as a gate.
  - "The checks: C(tools) (C(pct), C(lxc-start), C(pvesm) and C(zfs) present; C(zfs) missing is a warning),
    C(pve_filesystem) (C(/etc/pve) is a mount point and writable), C(quorum) (where clustered:
    C(/etc/pve/.members) or C(pvecm status)), C(storage) (every enabled storage active and above
    O(min_free_percent) free, from one C(pvesm status)), C(template_storage) (an enabled, active storage
    with C(vztmpl) content), C(zfs_pools) (every pool C(ONLINE) and C(zpool status -x) healthy; C(DEGRADED)
    is a warning), C(bridges) (every bridge a container's C(netN) names exists as a Linux bridge),
    C(cgroup) (the layout: unified, hybrid or legacy), C(subids) (root's C(/etc/subuid) and C(/etc/subgid)
    ranges cover every unprivileged container), C(run_dir) (C(/run/nexcage) writable),
    C(stale_state) (no C(/run/nexcage/<vmid>/state.json) of a container that has no config on this node),
    C(stale_locks) (no container stuck in lock C(create) or C(destroyed) with no task working on it),
    C(half_made) (no container config without C(rootfs), e.g. an empty or lock-only config left when the lock
    of an interrupted create was removed by hand), C(orphan_volumes) (no volume named for a guest,
    C(subvol|vm|base|basevol-<vmid>-disk-N) on a C(zfspool) or C(dir) storage, that no config names or whose
    VMID does not exist; one C(zfs list -d 1) per ZFS storage), C(leftover_cgroups) (no LXC cgroup directory,
    C(lxc/<vmid>), C(lxc.monitor/<vmid>), C(lxc.payload.<vmid>), of a container that is not running),
    C(duplicate_vmid) (no VMID with two configs across C(/etc/pve/nodes/*/{lxc,qemu-server}), and
    C(/etc/pve/.vmlist) agrees with the configs)."
  - "What an interrupted C(pct create) leaves is found by C(stale_locks) (config C(lock: create), the volumes
    it allocated) and, if its lock was removed by hand, by C(half_made) and C(orphan_volumes). Each result
    names its remedy; the repairs are opt-in, and only V(orphan_volumes) removes volumes that no Proxmox VE
    failure path would have removed."
author:
  - nexcage contributors (@cageforge)
extends_documentation_fragment:
  - cageforge.nexcage.common
  - cageforge.nexcage._attributes
options:
  checks:
    description:
      - The checks to run. Default is all of them.
      - A check named in O(repair) always runs.
    type: list
    elements: str
    choices:
      - tools
      - pve_filesystem
      - quorum
      - storage
      - template_storage
      - zfs_pools
      - bridges
      - cgroup
      - subids
      - run_dir
      - stale_state
      - stale_locks
      - half_made
      - orphan_volumes
      - leftover_cgroups
      - duplicate_vmid
  fail_on:
    description:
      - V(fail) fails the task when a check reports V(fail); V(warn) also when one reports V(warn).
      - V(never) only reports.
      - The task also fails when a requested repair fails.
    type: str
    choices: [fail, warn, never]
    default: fail
  min_free_percent:
    description:
      - The C(storage) check warns about an active storage with less free space than this, in percent
        of its size. A storage with no space left at all fails.
    type: int
    default: 10
  repair:
    description:
      - Opt-in repairs. A container that runs or that a task works on (a C(pct), C(vzdump) or C(lxc-*)
        process naming its VMID, a PVE task worker for it, or its held config lock) is never touched.
      - V(stale_state) removes C(/run/nexcage/<vmid>) of a container without a config on this node (it never
        crosses into a mounted filesystem below it).
      - V(stale_locks) completes what the interrupted task would have done. A container left in lock
        C(create) was never finished, and Proxmox VE itself removes it when a create fails; one left in
        lock C(destroyed) was being removed. Both get C(pct unlock <vmid>) then
        C(pct destroy <vmid> --destroy-unreferenced-disks 1), which frees every volume named for the VMID
        (the ones the interrupted create allocated, and any other unreferenced one of that VMID). A container
        with C(protection) set is skipped and reported. A bare C(pct unlock) is no repair; it leaves an empty
        config (create) or one naming freed volumes (destroy), which C(half_made) then reports.
      - V(half_made) removes the config of a container that has no C(rootfs) (C(pct unlock) when it holds a lock,
        then C(pct destroy <vmid>)), only when the config names no volume and has no C(protection); the
        volumes named for its VMID then show in C(orphan_volumes).
      - V(orphan_volumes) B(destroys data) and is never implied by another repair. It runs C(zfs destroy <dataset>)
        (never recursive; a dataset with snapshots or children stays and the repair fails) for each orphan
        volume on a C(zfspool) storage whose VMID no guest has. Orphans of an existing guest, and those on
        other storage types, are only reported (attach them with C(pct rescan), or C(pvesm free) them by hand).
      - V(leftover_cgroups) removes the LXC cgroup directories of a container that is not running (C(rmdir),
        deepest first; a cgroup that still holds processes cannot be removed, and the repair fails naming it).
      - "Repairs run in the order V(stale_state), V(stale_locks), V(half_made), V(orphan_volumes),
        V(leftover_cgroups); after one changed the node, the next one's check runs again, so
        C(repair: [half_made, orphan_volumes]) clears a config without rootfs and its volumes in one run."
    type: list
    elements: str
    choices: [stale_state, stale_locks, half_made, orphan_volumes, leftover_cgroups]
    default: []
attributes:
  check_mode:
    support: full
    details: Every check runs; repairs are only planned (their commands are listed in RV(commands)).
  diff_mode:
    support: none
  idempotent:
    support: full
    details: The checks change nothing; a repair that was made is not needed, so not made, on the next run.
notes:
  - The checks read files (C(/proc/self/mountinfo), C(/etc/pve), C(/sys/class/net), C(/sys/fs/cgroup),
    C(/etc/subuid)) directly; the only commands are C(pvesm status), C(zpool list), C(zpool status -x),
    C(zfs list -d 1) per ZFS storage (C(orphan_volumes)), and C(pvecm status) when C(/etc/pve/.members)
    cannot tell the quorum.
  - "Writable C(/etc/pve) means: mounted read-write and writable for the module's user; nothing is written
    to probe it. pmxcfs refuses writes without quorum, which the C(quorum) check reports."
seealso:
  - module: cageforge.nexcage.nexcage_zfs_dataset
"""

EXAMPLES = r"""
- name: Gate a deployment on a healthy node
  cageforge.nexcage.nexcage_health:
    fail_on: fail

- name: Only storage and pools, warn below 20 % free, report without failing
  cageforge.nexcage.nexcage_health:
    checks: [storage, zfs_pools]
    min_free_percent: 20
    fail_on: never
  register: health

- name: Clean up state files of vanished containers and stuck create/destroy locks
  cageforge.nexcage.nexcage_health:
    checks: [stale_state, stale_locks]
    repair: [stale_state, stale_locks]

- name: After a killed create whose lock was removed by hand, remove the config and (opted in) its volumes
  cageforge.nexcage.nexcage_health:
    checks: [half_made, orphan_volumes]
    repair: [half_made, orphan_volumes]
"""

RETURN = r"""
checks:
  description: One result per check that ran, in a fixed order (after repairs, when any ran).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The check.
      type: str
      sample: storage
    status:
      description: V(ok), V(warn) or V(fail).
      type: str
      sample: warn
    detail:
      description: What was found.
      type: str
      sample: "local-zfs has 4.2% free (below 10%)"
    remedy:
      description: What to do about it; empty when nothing needs doing.
      type: str
  sample:
    - name: tools
      status: ok
      detail: "found: pct (/usr/sbin/pct), lxc-start (/usr/bin/lxc-start), pvesm (/usr/sbin/pvesm), zfs (/usr/sbin/zfs)"
      remedy: ""
summary:
  description: Counts, the worst status, and the checks that made (or would make) the task fail under O(fail_on).
  returned: always
  type: dict
  contains:
    status:
      description: The worst status of all checks.
      type: str
    total:
      description: How many checks ran.
      type: int
    ok:
      description: How many are ok.
      type: int
    warn:
      description: How many warn.
      type: int
    fail:
      description: How many fail.
      type: int
    failing:
      description: The names of the checks at or above O(fail_on).
      type: list
      elements: str
  sample: {"status": "warn", "total": 16, "ok": 15, "warn": 1, "fail": 0, "failing": []}
repairs:
  description: What each requested repair did (or in check mode would do), one entry per item.
  returned: always
  type: list
  elements: dict
  sample:
    - check: stale_locks
      vmid: 105
      lock: create
      protected: false
      action: "roll back the interrupted create: pct unlock, then pct destroy --destroy-unreferenced-disks"
      changed: true
      result: removed
commands:
  description: The commands run, in order; in check mode the repair commands were only planned.
  returned: always
  type: list
  elements: str
  sample: ["pvesm status", "zpool list -H -o name,health", "zpool status -x"]
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.cageforge.nexcage.plugins.module_utils._common import (  # noqa: E402
    common_argument_spec,
    runner_for,
)
from ansible_collections.cageforge.nexcage.plugins.module_utils._health.run import (  # noqa: E402
    CHECKS,
    REPAIRS,
    run_module,
)
from ansible_collections.cageforge.nexcage.plugins.module_utils._module import check_raw_params  # noqa: E402


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(
        checks=dict(type="list", elements="str", choices=list(CHECKS)),
        fail_on=dict(type="str", choices=["fail", "warn", "never"], default="fail"),
        min_free_percent=dict(type="int", default=10),
        repair=dict(type="list", elements="str", choices=list(REPAIRS), default=[]),
    )
    check_raw_params(argument_spec)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, runner_for(module))


if __name__ == "__main__":
    main()
