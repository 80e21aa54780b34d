#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nexcage_zfs_dataset
short_description: Manage a ZFS dataset and its properties on a Proxmox VE node, with destroy guards
version_added: 0.1.0
description:
  - Creates, updates or destroys one ZFS filesystem (or volume) with the node's C(zfs) command.
  - Requested properties are compared with C(zfs get -H -p) in parsable form, so C(10G) equals
    C(10737418240), C(true) equals C(on) and a C(none) quota equals C(0). Only the properties that
    differ are set, one C(zfs set) each; properties not listed are not managed.
  - Nothing is ever run on a pool that does not exist; the error lists the pools that do.
  - Destroying is guarded. A dataset with children, snapshots or bookmarks is refused unless
    O(recursive=true). A dataset that a container or VM config on this node uses (a C(rootfs),
    C(mpN) or C(unusedN) volume on a C(zfspool) storage, a bind mount inside its mountpoint) or
    that a storage in C(/etc/pve/storage.cfg) is built on is refused unless O(force=true).
    C(zfs destroy -R) (which also destroys dependent clones elsewhere) is never used.
author:
  - nexcage contributors (@cageforge)
extends_documentation_fragment:
  - cageforge.nexcage.common
  - cageforge.nexcage._attributes
  - cageforge.nexcage._attributes.CHANGES_STATE
options:
  name:
    description:
      - The dataset, C(pool/path) (or just C(pool) to manage the properties of a pool's root dataset).
      - Checked by OpenZFS's naming rules before any command runs (each component of letters, digits, C(_),
        C(-), C(.) and C(:), not C(.) or C(..), not starting with C(-); the pool starts with a letter; at most 255
        characters).
    type: str
    required: true
  state:
    description:
      - V(present) creates the dataset if needed and sets the properties that differ.
      - V(absent) destroys it, subject to the guards described above.
    type: str
    choices: [present, absent]
    default: present
  properties:
    description:
      - Properties to manage, for example C(quota), C(refquota), C(reservation), C(refreservation),
        C(compression), C(recordsize), C(mountpoint), C(atime), C(acltype), C(xattr), or any other native
        or user (C(module:property)) property.
      - Sizes may be given as C(10G), C(512M), C(1.5T) or a number of bytes; C(none) for a quota or a
        reservation. Booleans become C(on)/C(off).
      - A property that can only be set at creation (C(casesensitivity), C(normalization), C(utf8only),
        C(volblocksize), C(encryption)) fails the task when it differs on an existing dataset.
      - C(volsize) in O(properties) at creation makes a volume (C(zfs create -V)).
      - Names and values are one line of printable text (control characters are refused).
      - A C(mountpoint) other than C(none) or C(legacy) must be an absolute path, and it may not be (after
        resolving symlinks) the host's C(/), C(/etc), C(/proc), C(/sys), C(/dev), C(/boot), C(/root), C(/run),
        C(/var/lib/lxc), C(/var/lib/vz), C(/var/lib/nexcage), C(/usr), C(/bin), C(/sbin), C(/lib*) or below
        them, unless O(allow_sensitive_host_paths=true).
    type: dict
    default: {}
  create_parents:
    description:
      - Create missing parent datasets (C(zfs create -p)). When false and the parent is missing the task fails.
    type: bool
    default: true
  recursive:
    description:
      - With O(state=absent), also destroy the children, snapshots and bookmarks (C(zfs destroy -r)).
      - Snapshots with clones outside the dataset are still refused; C(-R) is never used.
    type: bool
    default: false
  force:
    description:
      - With O(state=absent), destroy the dataset even when a guest config or a storage uses it.
    type: bool
    default: false
  allow_sensitive_host_paths:
    description:
      - Allow a C(mountpoint) on the host paths that are refused by default (see O(properties)). The dataset
        then hides what the host has there.
    type: bool
    default: false
notes:
  - Check mode runs every read and predicts the exact C(zfs) commands in RV(commands) without running them.
  - Diff mode returns the managed properties before and after.
seealso:
  - module: cageforge.nexcage.nexcage_health
"""

EXAMPLES = r"""
- name: A per-container dataset with a quota
  cageforge.nexcage.nexcage_zfs_dataset:
    name: rpool/data/ct-web
    properties:
      quota: 20G
      compression: lz4
      atime: false
      acltype: posix
      xattr: sa

- name: Remove it, snapshots included, unless a container still uses it
  cageforge.nexcage.nexcage_zfs_dataset:
    name: rpool/data/ct-web
    state: absent
    recursive: true
"""

RETURN = r"""
name:
  description: The dataset name.
  returned: always
  type: str
  sample: rpool/data/ct-web
created:
  description: Whether the dataset was (or in check mode would be) created.
  returned: always
  type: bool
properties:
  description:
    - Every property of the dataset as C(zfs get -H -p) reports it after the task, numbers as integers
      (sizes in bytes). In check mode, the current values with the requested ones applied.
    - Empty when the dataset is absent.
  returned: always
  type: dict
  sample: {"quota": 21474836480, "compression": "lz4", "mountpoint": "/rpool/data/ct-web"}
property_sources:
  description: The source column of C(zfs get) for each property (C(local), C(default), C(inherited from ...)).
  returned: always
  type: dict
  sample: {"quota": "local", "compression": "local", "mountpoint": "default"}
commands:
  description: The commands run, in order; in check mode the changing ones were only planned.
  returned: always
  type: list
  elements: str
  sample: ["zpool list -H -o name", "zfs set quota=21474836480 rpool/data/ct-web"]
error:
  description:
    - On failure, what went wrong. A refusal of a destroy guard has category V(permission_denied), a pool
      or parent that does not exist V(not_found), a property that cannot change after creation V(unsupported).
  returned: failure
  type: dict
  contains:
    category:
      description:
        - One of V(already_exists), V(not_found), V(invalid_argument), V(locked), V(not_running),
          V(already_running), V(resource_exhausted), V(permission_denied), V(timeout), V(unsupported), V(unknown).
      type: str
    message:
      description: What failed (the same text as C(msg)).
      type: str
    hint:
      description: What to do about it.
      type: str
    cmd:
      description: The command that failed, if a command failed.
      type: str
    rc:
      description: Its exit code.
      type: int
    stdout:
      description: Its standard output.
      type: str
    stderr:
      description: Its standard error.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.cageforge.nexcage.plugins.module_utils._node import bytecode  # noqa: E402


def main():
    bytecode.install()  # the module_utils below load the code an earlier run compiled (_node/bytecode.py)
    from ansible_collections.cageforge.nexcage.plugins.module_utils._common import common_argument_spec, runner_for
    from ansible_collections.cageforge.nexcage.plugins.module_utils._module import check_raw_params
    from ansible_collections.cageforge.nexcage.plugins.module_utils._zfs.manager import run_module

    argument_spec = common_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        properties=dict(type="dict", default={}),
        create_parents=dict(type="bool", default=True),
        recursive=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
        allow_sensitive_host_paths=dict(type="bool", default=False),
    )
    check_raw_params(argument_spec)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, runner_for(module))


if __name__ == "__main__":
    main()
