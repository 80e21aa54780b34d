#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nexcage_containers
short_description: Many Proxmox VE LXC containers in one task, each as nexcage_container would converge it
version_added: 0.2.0
description:
  - Converges a list of LXC containers on the Proxmox VE node the task runs on, in one task. Each entry of
    O(containers) takes every option of M(cageforge.nexcage.nexcage_container) (except O(command_timeout), which
    is the task's) and is converged exactly as one M(cageforge.nexcage.nexcage_container) task would converge it,
    with the same identity rules, typed options, checks, plan and commands.
  - O(defaults) holds options shared by all entries. An option given in an entry replaces the default's value
    whole (a dict option such as O(containers[].rootfs) is not merged key by key); an option the entry leaves
    out (or sets to V(null)) takes the default's value.
  - "How it runs: first every entry is planned, in order, in one process that reads the node's files (guest
    list, storages, container configs, run state) once for the whole batch; an entry that needs no change is
    then done, without any C(pct) call. Then the entries with changes run (re-reading their container, as one
    task does) with at most O(parallel) at a time: first those whose VMID is known, then those that need a new
    VMID, which are allocated under the node's VMID lock with retry, as M(cageforge.nexcage.nexcage_container)
    does, so they never clash with each other, with a VMID of the batch, or with a concurrent play."
  - One entry's failure does not stop the others (unless O(fail_fast=true)); the task fails at the end, naming
    every failed entry, and RV(containers) has each entry's result and error.
  - A batch of converged containers makes no C(pct), C(pvesm), C(pvesh) or C(qm) call at all.
author:
  - nexcage contributors (@cageforge)
requirements:
  - jsonschema (Python library) when an entry's O(containers[].image) is an OCI bundle directory. Not needed for
    templates.
extends_documentation_fragment:
  - cageforge.nexcage.common
  - cageforge.nexcage._attributes
  - cageforge.nexcage._attributes.CHANGES_STATE
attributes:
  idempotent:
    support: partial
    description: Not idempotent for an entry with O(containers[].state=restarted), which always restarts.
options:
  containers:
    description:
      - The containers, one entry per container, each with the options of
        M(cageforge.nexcage.nexcage_container).
      - An entry is identified by its O(containers[].vmid), or without one by its O(containers[].hostname). Two
        entries naming the same VMID (or, without VMID, the same hostname) are refused.
    type: list
    elements: dict
    required: true
    suboptions:
      vmid:
        description:
          - The container's VMID, 100 to 999999999.
          - When omitted, the container is found by O(containers[].hostname); if none has it,
            a new one is created with the first free VMID.
        type: int
      hostname:
        description:
          - The container's host name (a DNS name). Also the identity when O(containers[].vmid)
            is omitted.
        type: str
      state:
        description:
          - V(present) creates the container if needed and converges its settings; it does not
            change whether it runs.
          - V(started) also starts it (creating it first when missing) and waits until it runs.
          - V(stopped) also stops it (see O(containers[].stop_mode)) and waits until it is stopped.
          - V(restarted) restarts a running container (starts a stopped one); always reports a
            change.
          - V(absent) destroys it. A running container is refused unless O(containers[].force=true).
          - If neither the entry nor O(defaults) sets it, V(present) as in M(cageforge.nexcage.nexcage_container).
        type: str
        choices:
          - present
          - started
          - stopped
          - restarted
          - absent
      image:
        description:
          - The OS template, as a volume ID C(<storage>:vztmpl/<file>.tar[.gz|.xz|.zst|.bz2]).
          - Or an OCI runtime bundle, as the absolute path of its directory (with C(config.json)
            and its rootfs, for example made by M(cageforge.nexcage.nexcage_bundle)). The bundle
            is validated before anything is written; when a container is created from it, its
            rootfs is packed into the content-addressed template
            C(<template_storage>:vztmpl/nexcage-bundle-<digest>.tar.zst)
            (reused while the rootfs is unchanged; in check mode the C(tar) command is only planned),
            and C(config.json) is mapped to the container (hostname, memory, swap, cpulimit, cpuunits,
            unprivileged, bind mounts of directories as O(containers[].mounts) entries, C(cmode=console)).
            The entrypoint, environment, cwd, uid/gid, file and tmpfs mounts and other C(lxc.*)
            settings are written as raw C(lxc.*) lines into C(/etc/pve/lxc/<vmid>.conf) under
            the config lock; a change to C(config.json) converges them. Task options win over
            the bundle's values (with a warning). Settings with no Proxmox VE equivalent fail
            the task with the whole list; harmless ones are warnings.
          - With O(containers[].backend=runc) or O(containers[].backend=crun), the bundle directory
            to run.
          - Required to create. Its existence is checked before C(pct create) by looking at the
            storage's C(template/cache) directory; the error lists the templates that storage
            has.
          - Recorded at create; a different value on an existing container is a C(create_only)
            difference.
        type: str
      download:
        description:
          - When O(containers[].image) is missing from its storage, fetch it with C(pveam download
            <storage> <file>) first.
          - If neither the entry nor O(defaults) sets it, V(false) as in M(cageforge.nexcage.nexcage_container).
        type: bool
      memory:
        description: Memory in MiB (at least 16). Live.
        type: int
      swap:
        description: Swap in MiB. Live.
        type: int
      cores:
        description: Number of CPU cores (1 to 8192). Live.
        type: int
      cpulimit:
        description: CPU limit, 0 (unlimited) to 8192. Live.
        type: float
      cpuunits:
        description: CPU weight, 0 to 500000. Live.
        type: int
      rootfs:
        description:
          - The root disk. O(containers[].rootfs.storage) is create-only; a bigger O(containers[].rootfs.size)
            grows the disk with C(pct resize) (shrinking is refused).
          - When omitted at create, pct uses 4 GiB on its default storage C(local).
        type: dict
        suboptions:
          storage:
            description: Storage ID with content C(rootdir), for example C(local-zfs).
            type: str
          size:
            description: Size; a number means GiB, a string may carry a unit (V(8G), V(512M)).
            type: raw
      netif:
        description:
          - Network interfaces, authoritative when given (interfaces not listed are removed; V([])
            removes all).
          - Entries are matched to the existing C(netN) by O(containers[].netif[].name); new ones
            take the first free C(netN).
          - Live (hot-plugged).
        type: list
        elements: dict
        suboptions:
          name:
            description: Interface name inside the container, for example C(eth0).
            type: str
            required: true
          bridge:
            description: Host bridge, for example C(vmbr0). Checked by PVE at start, not at create.
            type: str
          ip:
            description: V(dhcp), V(manual) or an IPv4 address with prefix length (V(10.0.0.5/24)).
            type: str
          gw:
            description: IPv4 gateway.
            type: str
          ip6:
            description: V(auto), V(dhcp), V(manual) or an IPv6 address with prefix length.
            type: str
          gw6:
            description: IPv6 gateway.
            type: str
          hwaddr:
            description: Unicast MAC address. When omitted PVE generates one, which is then kept.
            type: str
          tag:
            description: VLAN tag, 1 to 4094.
            type: int
          firewall:
            description: Enable the PVE firewall on this interface.
            type: bool
          mtu:
            description: MTU, 64 to 65535.
            type: int
          rate:
            description: Rate limit in MB/s.
            type: float
      mounts:
        description:
          - Mount points C(mpN), authoritative when given (mount points not listed are removed).
          - Each entry has exactly one of O(containers[].mounts[].host_path) (a bind mount of
            a host directory) or O(containers[].mounts[].storage) with O(containers[].mounts[].size)
            (a new volume on that storage).
          - A new mount point is hot-plugged; a change to an existing one is applied at the next
            start.
        type: list
        elements: dict
        suboptions:
          id:
            description: The N of C(mpN), 0 to 255.
            type: int
            required: true
          host_path:
            description: Absolute host directory to bind-mount. It must exist when the container
              starts.
            type: path
          storage:
            description: Storage ID for a new volume (create-only afterwards).
            type: str
          size:
            description: Volume size; a number means GiB, a string may carry a unit. Can only
              grow.
            type: raw
          mountpoint:
            description: Absolute path inside the container.
            type: str
            required: true
          read_only:
            description: Mount read-only (C(ro=1)).
            type: bool
          backup:
            description: Include the volume in backups (C(backup=1)).
            type: bool
      features:
        description:
          - Container features. Only the given fields are managed. Applied at the next start.
        type: dict
        suboptions:
          nesting:
            description: Allow nested containers (needed by recent systemd).
            type: bool
          keyctl:
            description: Allow the keyctl() system call (unprivileged containers).
            type: bool
          fuse:
            description: Allow FUSE mounts.
            type: bool
          mount:
            description: File system types the container may mount, for example V([nfs, cifs]).
            type: list
            elements: str
      unprivileged:
        description: Run as an unprivileged container (user namespace). Create-only. PVE 9 defaults
          to true.
        type: bool
      onboot:
        description: Start the container when the node boots. Live.
        type: bool
      startup:
        description: Boot order and delays. Only the given fields are managed. Live.
        type: dict
        suboptions:
          order:
            description: Start order (lower first).
            type: int
          up:
            description: Seconds to wait after starting this container.
            type: int
          down:
            description: Seconds to wait for this container to stop on node shutdown.
            type: int
      tags:
        description: Tags; compared lower-cased, sorted and de-duplicated, as PVE stores them.
          V([]) removes all. Live.
        type: list
        elements: str
      description:
        description: Free-text notes (the C(#) lines of the config). An empty string removes them.
          Live.
        type: str
      nameserver:
        description: DNS servers (IP addresses). Applied at the next start.
        type: list
        elements: str
      searchdomain:
        description: DNS search domains. Applied at the next start.
        type: list
        elements: str
      timezone:
        description: V(host), V(UTC) or a zone name such as V(Europe/Berlin). Applied at the next
          start.
        type: str
      ostype:
        description:
          - OS type (V(debian), V(ubuntu), V(alpine), V(centos), V(fedora), V(archlinux), V(opensuse),
            V(gentoo), V(devuan), V(nixos), V(unmanaged)); PVE detects it from the template when
            omitted. Create-only.
        type: str
      arch:
        description: Architecture (V(amd64), V(i386), V(arm64), V(armhf), V(riscv32), V(riscv64)).
          Create-only.
        type: str
      pool:
        description:
          - Resource pool to add the container to at create. Pool membership is not stored in
            the container config and is not compared afterwards.
        type: str
      password:
        description:
          - Root password inside the container, set at create only (never compared, masked in
            RV(containers[].commands)).
          - C(pct) takes it on its command line, so it is visible in the node's process list while
            C(pct create) runs. Prefer O(containers[].ssh_public_keys).
        type: str
      ssh_public_keys:
        description:
          - SSH public keys (text, one per line) for root inside the container, set at create
            only. The module writes the temporary file C(pct create --ssh-public-keys) needs and
            removes it afterwards.
        type: str
      force:
        description:
          - With O(containers[].state=absent), destroy a running container (C(pct destroy --force
            1)).
          - If neither the entry nor O(defaults) sets it, V(false) as in M(cageforge.nexcage.nexcage_container).
        type: bool
      purge:
        description:
          - With O(containers[].state=absent), also remove the container from backup jobs, replication
            and HA.
          - If neither the entry nor O(defaults) sets it, V(false) as in M(cageforge.nexcage.nexcage_container).
        type: bool
      recreate:
        description:
          - When a C(create_only) setting differs, destroy the container and create it again from
            O(containers[].image) with the same VMID. B(This destroys all data on the container's
            disks.) A container that was running is started again.
          - If neither the entry nor O(defaults) sets it, V(false) as in M(cageforge.nexcage.nexcage_container).
        type: bool
      restart_on_change:
        description:
          - When the running container has pending changes (from this task or an earlier one),
            restart it with C(pct reboot) so that they apply.
          - If neither the entry nor O(defaults) sets it, V(false) as in M(cageforge.nexcage.nexcage_container).
        type: bool
      stop_mode:
        description:
          - V(shutdown) asks the container to shut down cleanly and kills it after O(containers[].stop_timeout)
            seconds (C(pct shutdown --timeout N --forceStop 1)); V(stop) kills it at once (C(pct
            stop)).
          - If neither the entry nor O(defaults) sets it, V(shutdown) as in M(cageforge.nexcage.nexcage_container).
        type: str
        choices:
          - shutdown
          - stop
      stop_timeout:
        description:
          - Seconds a clean shutdown (or the shutdown part of a restart) may take.
          - If neither the entry nor O(defaults) sets it, V(60) as in M(cageforge.nexcage.nexcage_container).
        type: int
      wait_timeout:
        description:
          - Seconds to wait, after C(pct start), C(pct stop), C(pct shutdown) or C(pct reboot),
            for the container to reach the state. On timeout the error says the last state seen.
          - If neither the entry nor O(defaults) sets it, V(60) as in M(cageforge.nexcage.nexcage_container).
        type: int
      backend:
        description:
          - V(proxmox_lxc) makes a Proxmox VE container with C(pct).
          - V(runc) or V(crun) runs the OCI bundle O(containers[].image) directly on the host
            through that runtime (C(create), C(start), C(kill), C(delete), C(state)). The OCI
            container ID is O(containers[].hostname), or O(containers[].vmid) when no hostname
            is set. O(containers[].state) has the same meaning (V(present) leaves a new container
            C(created)); O(containers[].stop_timeout) is the wait after SIGTERM before SIGKILL;
            a changed C(config.json) recreates the container. The state file C(/run/nexcage/<id>/state.json)
            follows the OCI runtime state. The process's output goes to C(/run/nexcage/<id>/console.log).
            Other container options are ignored.
          - If neither the entry nor O(defaults) sets it, V(proxmox_lxc) as in M(cageforge.nexcage.nexcage_container).
        type: str
        choices:
          - proxmox_lxc
          - runc
          - crun
      runtime_wrapper:
        description:
          - With O(containers[].backend=runc) or O(containers[].backend=crun), an argv prefix
            for the runtime's C(create) only, for hosts where the runtime cannot create containers
            as installed. For example crun 1.8 refuses a hybrid cgroup layout ("cgroups in hybrid
            mode not supported"); running it in a private mount namespace without the cgroup2
            mount works and does not change the host, see the example.
        type: list
        elements: str
      template_storage:
        description:
          - When O(containers[].image) is a bundle directory, the file-based storage (content
            C(vztmpl)) that receives the packed template. Its path is read from C(/etc/pve/storage.cfg).
          - If neither the entry nor O(defaults) sets it, V(local) as in M(cageforge.nexcage.nexcage_container).
        type: str
  defaults:
    description:
      - Options applied to every entry of O(containers) that does not set them itself; the same options as an
        entry (for example O(containers[].image), O(containers[].rootfs), O(containers[].netif),
        O(containers[].state)).
      - Checked before anything runs; an unknown option or a wrong type fails the task naming C(defaults.<option>).
    type: dict
  parallel:
    description:
      - How many entries with changes run at the same time (worker threads, each running its entry's C(pct)
        commands). On a real node every C(pct) call is a Perl process of its own, so keep it small.
      - Creating containers without a VMID holds the node's VMID lock from picking the VMID to the end of
        C(pct create), so those creates run one after another; their starts and every other change run in
        parallel.
      - From 1 to 32.
    type: int
    default: 4
  fail_fast:
    description:
      - Stop at the first failed entry. Entries not yet started are skipped (reported with
        RV(containers[].skipped=true)); those already running finish.
      - With V(false), every entry runs, whatever the others do.
    type: bool
    default: false
notes:
  - Check mode runs only reads and returns for every entry the exact commands it would run. New containers
    without a VMID get distinct predicted VMIDs.
  - Diff mode returns one diff per changed entry (the status and typed config before and after), headed with
    the entry's index and name.
  - The failure policy of each entry is that of M(cageforge.nexcage.nexcage_container) (a failed C(pct create)
    leaves nothing behind; a container created before a later step failed is kept).
seealso:
  - module: cageforge.nexcage.nexcage_container
  - role: cageforge.nexcage.container
    description: Uses this module for its containers.
"""

EXAMPLES = r"""
- name: A web fleet, created when missing (VMIDs allocated), started, four at a time
  cageforge.nexcage.nexcage_containers:
    defaults:
      image: local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst
      state: started
      memory: 1024
      rootfs:
        storage: local-zfs
        size: 8
      netif:
        - name: eth0
          bridge: vmbr0
          ip: dhcp
    containers:
      - hostname: web01
      - hostname: web02
      - hostname: web03
        memory: 2048
      - vmid: 150
        hostname: db01
        cores: 4
    parallel: 4
  register: fleet

- name: Show what changed
  ansible.builtin.debug:
    msg: "{{ fleet.containers | selectattr('changed') | map(attribute='hostname') | list }}"

- name: Stop at the first failure
  cageforge.nexcage.nexcage_containers:
    containers: "{{ my_containers }}"
    fail_fast: true

- name: Remove them even if they run
  cageforge.nexcage.nexcage_containers:
    defaults:
      state: absent
      force: true
    containers:
      - hostname: web01
      - hostname: web02
"""

RETURN = r"""
containers:
  description:
    - One result per entry of O(containers), in the same order. Besides the keys below, an entry that ran
      carries the keys of M(cageforge.nexcage.nexcage_container)'s result (C(container), C(bundle)).
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: The entry's index in O(containers).
      type: int
      sample: 0
    hostname:
      description: The entry's O(containers[].hostname) (null when it gives none).
      type: str
      sample: web01
    vmid:
      description: The container's VMID (allocated or predicted for a new one; null when it could not be told).
      type: int
      sample: 101
    changed:
      description: Whether this entry changed (or in check mode would change) anything.
      type: bool
    changes:
      description: The settings that differ, as M(cageforge.nexcage.nexcage_container) returns them.
      type: list
      elements: dict
      sample: [{"key": "memory", "before": 512, "after": 1024, "reason": "live"}]
    commands:
      description: The commands this entry ran (in check mode, would run), shell-quoted; secrets masked.
      type: list
      elements: str
      sample: ["pct set 101 --memory 1024"]
    steps:
      description: What was (or would be) done, in order, for example C(create), C(update), C(start).
      type: list
      elements: str
      sample: [create, start]
    pending:
      description: Settings PVE keeps pending until the next start of a running container.
      type: list
      elements: str
      sample: []
    failed:
      description: Whether this entry failed.
      type: bool
    skipped:
      description: Whether this entry was not run because an earlier one failed with O(fail_fast=true).
      type: bool
    error:
      description:
        - Null, or the entry's error as M(cageforge.nexcage.nexcage_container) reports it (category, message,
          hint, cmd, rc, stdout, stderr).
      type: dict
      sample: {"category": "not_found", "message": "Cannot create container web09: template ... does not exist"}
    warnings:
      description: The entry's warnings (also shown as the task's warnings, prefixed with the entry).
      type: list
      elements: str
    oci_state:
      description:
        - The container's OCI state file C(/run/nexcage/<vmid>/state.json) as read after the entry ran (C(id),
          C(status), C(pid), C(bundle), C(annotations)); null when there is none, in check mode, and for a
          skipped entry.
      type: dict
      sample: {"ociVersion": "1.0.2", "id": "101", "status": "running", "pid": 4242, "bundle": "/var/lib/lxc/101"}
totals:
  description: Counts over all entries.
  returned: always
  type: dict
  contains:
    containers:
      description: Number of entries.
      type: int
    changed:
      description: Entries that changed (or would change).
      type: int
    unchanged:
      description: Entries that were already as asked.
      type: int
    failed:
      description: Entries that failed.
      type: int
    skipped:
      description: Entries skipped after a failure with O(fail_fast=true).
      type: int
    commands:
      description: Commands run (or that would run) for all entries together.
      type: int
  sample: {"containers": 3, "changed": 1, "unchanged": 2, "failed": 0, "skipped": 0, "commands": 1}
commands:
  description: All entries' RV(containers[].commands), in entry order.
  returned: always
  type: list
  elements: str
  sample: ["pct set 101 --memory 1024"]
diff:
  description: In diff mode, one C({before, after, before_header, after_header}) per changed entry.
  returned: when diff mode is on
  type: list
  elements: dict
error:
  description:
    - When the task itself fails before running any entry (a bad O(defaults) or O(parallel)), the error.
      Failures of single entries are in RV(containers[].error).
  returned: on a failure of the task itself
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.cageforge.nexcage.plugins.module_utils._container.batch import (  # noqa: E402
    batch_argument_spec,
    run_module,
)
from ansible_collections.cageforge.nexcage.plugins.module_utils._module import check_raw_params  # noqa: E402


def main():
    spec = batch_argument_spec()
    check_raw_params(spec)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_module(module)


if __name__ == "__main__":
    main()
