#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nexcage_container
short_description: Idempotent Proxmox VE LXC container lifecycle through pct, with check/diff mode and precise errors
version_added: 0.1.0
description:
  - Creates, updates, starts, stops, restarts and removes one LXC container on the Proxmox VE node the task
    runs on, with the node's own C(pct) (and C(pveam) for template downloads). No HTTP API.
  - The container is identified by O(vmid), or without it by O(hostname). A hostname that several
    containers share fails with a message that lists their VMIDs.
  - Without O(vmid) a new container gets the first free VMID (unique across containers and VMs in
    C(/etc/pve/.vmlist), in the C(next-id) range of C(datacenter.cfg)). It is picked under a node-local lock
    (C(/run/lock/lxc/nexcage-vmid.lock)) and reserved (C(/run/nexcage/vmid-reserved/<vmid>)) until
    C(pct create) has ended, so parallel tasks never clash and their creates run at the same time. A
    reservation whose task is gone (or older than O(create_timeout)) is ignored. A task for a hostname that
    another task is creating waits for it and then updates that container. A VMID taken meanwhile by a tool
    outside nexcage is retried with the next.
  - "Convergence rules: an option that is left out is not managed. A list option that is given (O(netif),
    O(mounts)) is authoritative: interfaces and mount points that are not listed are removed (the diff shows
    it; a removed volume mount point stays on its storage as C(unusedN)). Inside a list entry or a dict option
    (O(features), O(startup), O(rootfs)) a field that is left out keeps its current value; a string field set to
    an empty string removes it."
  - "Each difference is classified: C(live) (applied at once with C(pct set), also on a running container),
    C(restart) (on a running container PVE keeps it pending until the next start; reported in RV(pending), and
    applied by a restart only with O(restart_on_change=true)) or C(create_only) (O(unprivileged), O(ostype),
    O(arch), the storage of O(rootfs) or of a mount, O(image), and shrinking a disk). A C(create_only)
    difference fails the task with a message naming the field, unless O(recreate=true)."
  - All changes of one task go into a single C(pct set); a bigger O(rootfs.size) or mount O(mounts[].size)
    is applied with C(pct resize). Creating and starting is exactly C(pct create) plus C(pct start).
  - A task on a converged container runs no C(pct), C(pvesh), C(pvesm) or C(qm) at all. It reads
    C(/etc/pve/lxc/<vmid>.conf), C(/etc/pve/.vmlist) and C(/etc/pve/storage.cfg), takes the run state from
    C(/proc/net/unix) (the LXC command socket, as PVE does) and the init pid from the container's cgroup
    (C(lxc-info) only as a fallback).
  - The OCI runtime state of the container is kept in C(/run/nexcage/<vmid>/state.json) (written on create,
    start and stop, removed with the container).
author:
  - nexcage contributors (@cageforge)
requirements:
  - jsonschema (Python library; on Debian and Proxmox VE the package C(python3-jsonschema)) when O(image) is an
    OCI bundle directory (the bundle's C(config.json) is validated). Not needed for templates.
extends_documentation_fragment:
  - cageforge.nexcage.common
  - cageforge.nexcage._attributes
  - cageforge.nexcage._attributes.CHANGES_STATE
attributes:
  idempotent:
    support: partial
    details: Not idempotent with O(state=restarted), which always restarts.
options:
  vmid:
    description:
      - The container's VMID, 100 to 999999999.
      - When omitted, the container is found by O(hostname); if none has it, a new one is created with the first
        free VMID.
    type: int
  hostname:
    description:
      - The container's host name (a DNS name). Also the identity when O(vmid) is omitted.
    type: str
  state:
    description:
      - V(present) creates the container if needed and converges its settings; it does not change whether it runs.
      - V(started) also starts it (creating it first when missing) and waits until it runs.
      - V(stopped) also stops it (see O(stop_mode)) and waits until it is stopped.
      - V(restarted) restarts a running container (starts a stopped one); always reports a change.
      - V(absent) destroys it. A running container is refused unless O(force=true).
      - V(template) converts it into a template with C(pct template) once (creating it first when missing); a running
        container is refused unless O(force=true), which stops it first. A template is the source of linked clones
        (O(clone)). Irreversible (create-only).
    type: str
    choices: [present, started, stopped, restarted, absent, template]
    default: present
  image:
    description:
      - The OS template, as a volume ID C(<storage>:vztmpl/<file>.tar[.gz|.xz|.zst|.bz2]).
      - Or an OCI runtime bundle, as the absolute path of its directory (with C(config.json) and its rootfs, for
        example made by M(cageforge.nexcage.nexcage_bundle)). The bundle is validated before anything is written;
        when a container is created from it, its rootfs is packed into the content-addressed template
        C(<template_storage>:vztmpl/nexcage-bundle-<digest>.tar.zst) (reused while the rootfs is unchanged;
        in check mode the C(tar) command is only planned), and C(config.json) is mapped to the container
        (hostname, memory, swap, cpulimit, cpuunits, unprivileged, bind mounts of directories as O(mounts)
        entries, C(cmode=console)).
        The entrypoint, environment, cwd, uid/gid, file and tmpfs mounts and other C(lxc.*) settings are written
        as raw C(lxc.*) lines into C(/etc/pve/lxc/<vmid>.conf) under the config lock; a change to C(config.json)
        converges them. Task options win over the bundle's values (with a warning). Settings with no Proxmox VE
        equivalent fail the task with the whole list; harmless ones are warnings.
      - With O(backend=runc) or O(backend=crun), the bundle directory to run.
      - Required to create. Its existence is checked before C(pct create) by looking at the storage's
        C(template/cache) directory; the error lists the templates that storage has.
      - Recorded at create; a different value on an existing container is a C(create_only) difference.
      - The alias O(ostemplate) is community.proxmox's name.
      - An absolute path that is not a bundle directory (no C(config.json)) fails with C(no such bundle directory)
        before anything is done. In check mode it is a warning and the deploy is reported as a change, since a
        M(cageforge.nexcage.nexcage_bundle) task of the same play that would build the bundle only plans.
    type: str
    aliases: [ostemplate]
  clone:
    description:
      - Create the container as a clone of another container on this node, named by its VMID or hostname, with
        C(pct clone <source> <vmid> --full 0|1) (and C(--hostname), C(--description), C(--pool), C(--storage)
        when given). The task's other options are then converged with one C(pct set), as for any container.
      - Only used when the container does not exist yet (create-only; O(image) is not needed).
      - Checked before anything runs, also in check mode - a linked clone needs a template as source, O(storage) is
        only for full clones, and a running source cannot be fully cloned (PVE needs a snapshot for that).
    type: str
  clone_type:
    description:
      - V(full) copies the disks (to O(storage) when given); V(linked) shares them with the template source;
        V(opportunistic) makes a linked clone of a template and a full clone otherwise (or with O(storage)).
    type: str
    choices: [full, linked, opportunistic]
    default: opportunistic
  full:
    description:
      - V(true) is O(clone_type=full), V(false) O(clone_type=linked) (C(pct clone --full)); wins over O(clone_type).
    type: bool
  storage:
    description:
      - With O(clone), the target storage of a full clone (C(pct clone --storage)).
      - Otherwise community.proxmox's default storage - the storage of O(rootfs) (or O(disk)) when that names none.
    type: str
  download:
    description:
      - When O(image) is missing from its storage, fetch it with C(pveam download <storage> <file>) first.
    type: bool
    default: false
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
    description: CPU limit, 0 (unlimited) to 8192. Live. The alias O(cpus) is community.proxmox's name.
    type: float
    aliases: [cpus]
  cpuunits:
    description: CPU weight, 0 to 500000. Live.
    type: int
  rootfs:
    description:
      - The root disk, as a dictionary or as Proxmox's property string (V(local-zfs:8), V(local-zfs:8,acl=1)).
        O(rootfs.storage) is create-only; a bigger O(rootfs.size) grows the disk with
        C(pct resize) (shrinking is refused).
      - When omitted at create, pct uses 4 GiB on its default storage C(local). On a default Proxmox VE install
        C(local) has no C(rootdir) content, and the task (also in check mode) then fails before C(pct create), naming
        the storages that can hold the disk (C(pvesm status --content rootdir)). Set O(rootfs.storage).
      - The mount options (O(rootfs.acl), O(rootfs.quota), O(rootfs.replicate), O(rootfs.shared),
        O(rootfs.mountoptions)) are applied at the next start (C(restart)).
    type: raw
    suboptions:
      storage:
        description: Storage ID with content C(rootdir), for example C(local-zfs).
        type: str
      size:
        description: Size; a number means GiB, a string may carry a unit (V(8G), V(512M)).
        type: raw
      acl:
        description: Explicitly enable or disable ACL support.
        type: bool
      quota:
        description: Enable user quotas inside the container (privileged containers only).
        type: bool
      replicate:
        description: Include the volume in storage replication jobs (PVE's default is V(true)).
        type: bool
      shared:
        description: Mark the volume as available on all nodes (no storage migration).
        type: bool
      mountoptions:
        description: Extra mount options, from V(discard), V(lazytime), V(noatime), V(nodev), V(noexec), V(nosuid).
        type: list
        elements: str
  disk:
    description:
      - community.proxmox's form of O(rootfs) - Proxmox's property string, for example V(local-lvm:20)
        (a bare number is GiB on O(storage)). Mutually exclusive with O(rootfs) and O(disk_volume).
    type: str
  disk_volume:
    description:
      - community.proxmox's dictionary form of O(rootfs) - C(storage), C(size) (GiB), and C(options) (a dict of
        mount options such as C(acl), C(mountoptions)). Mutually exclusive with O(rootfs) and O(disk).
    type: dict
  netif:
    description:
      - Network interfaces, authoritative when given (interfaces not listed are removed; V([]) removes all).
      - 'A list of dictionaries (below), or the dictionary of Proxmox property strings community.proxmox takes,
        for example V({net0: "name=eth0,bridge=vmbr0,ip=dhcp"}) (the C(netN) keys there only give the order).'
      - Entries are matched to the existing C(netN) by O(netif[].name); new ones take the first free C(netN).
      - Live (hot-plugged).
    type: raw
    suboptions:
      name:
        description: Interface name inside the container, for example C(eth0).
        type: str
        required: true
      bridge:
        description:
          - Host bridge, for example C(vmbr0). PVE checks it only at start (or hot-plug); nexcage checks it
            before any change, also in check mode. A missing bridge fails the task when the task starts the
            container or it runs, and is a warning otherwise (PVE stores it).
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
      - Mount points C(mpN), authoritative when given. A mount point that is not listed is detached; its volume is
        kept on its storage as C(unusedN) (PVE never destroys it here; O(mounts[].volume) attaches it again).
      - Each entry has exactly one of O(mounts[].host_path) (a bind mount of a host directory),
        O(mounts[].storage) with O(mounts[].size) (a new volume on that storage), or O(mounts[].volume) (an
        existing volume).
      - A new mount point is hot-plugged; a change to an existing one is applied at the next start; a bigger size
        grows the volume with C(pct resize) (live; shrinking is refused).
      - 'Or the dictionary of property strings community.proxmox takes, V({mp0: "local-zfs:8,mp=/data"}).'
    type: raw
    suboptions:
      id:
        description: The N of C(mpN), 0 to 255.
        type: int
        required: true
      host_path:
        description:
          - Absolute host directory to bind-mount. It must exist when the container starts.
          - Checked after resolving symlinks. C(/), C(/etc), C(/proc), C(/sys), C(/dev) and device nodes,
            C(/boot), C(/root), C(/run), C(/var/lib/lxc), C(/var/lib/vz), C(/var/lib/nexcage) and everything
            below them are refused unless O(allow_sensitive_host_paths=true).
          - Checked before any change; when missing, the task fails if it starts the container (or the container
            runs), else warns. In check mode it only warns (an earlier task of the play, for example
            M(cageforge.nexcage.nexcage_zfs_dataset), may create it).
        type: path
      storage:
        description: Storage ID for a new volume (create-only afterwards).
        type: str
      volume:
        description:
          - An existing volume to attach, for example V(local-zfs:subvol-120-disk-1) (as C(pvesm list) or an
            C(unusedN) line shows it).
        type: str
      size:
        description: Volume size; a number means GiB, a string may carry a unit. Can only grow.
        type: raw
      acl:
        description: Explicitly enable or disable ACL support.
        type: bool
      quota:
        description: Enable user quotas inside the container (privileged containers only).
        type: bool
      replicate:
        description: Include the volume in storage replication jobs.
        type: bool
      shared:
        description: Mark a non-volume mount point as available on all nodes.
        type: bool
      mountoptions:
        description: Extra mount options, from V(discard), V(lazytime), V(noatime), V(nodev), V(noexec), V(nosuid).
        type: list
        elements: str
      mountpoint:
        description:
          - Absolute path inside the container, as written (C(~) and C($VAR) are not expanded).
          - C(/), C(/proc), C(/sys) and C(/dev) are refused.
        type: str
        required: true
      read_only:
        description: Mount read-only (C(ro=1)).
        type: bool
      backup:
        description: Include the volume in backups (C(backup=1)).
        type: bool
  mount_volumes:
    description:
      - community.proxmox's list form of O(mounts) - entries with C(id) (V(mp0)), C(storage), C(volume), C(size)
        (GiB), C(host_path), C(mountpoint) and C(options) (a dict of mount options). Mutually exclusive with O(mounts).
    type: list
    elements: dict
  devices:
    description:
      - Device passthrough C(devN), authoritative when given (V([]) removes all). Applied at the next start.
    type: list
    elements: dict
    suboptions:
      id:
        description: The N of C(devN), 0 to 255.
        type: int
        required: true
      path:
        description: The device on the host, under C(/dev), for example V(/dev/net/tun).
        type: path
        required: true
      mode:
        description: Access mode in the container, octal as a string, for example V('0666').
        type: str
      uid:
        description: Owner user id in the container.
        type: int
      gid:
        description: Owner group id in the container.
        type: int
      deny_write:
        description: Deny the container write access (C(deny-write=1)).
        type: bool
  features:
    description:
      - Container features. Only the given fields are managed. Applied at the next start.
      - Or community.proxmox's list of property strings, V(["nesting=1", "mount=nfs;cifs"]).
    type: raw
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
      mknod:
        description: Allow mknod() of some device nodes (experimental in PVE).
        type: bool
      force_rw_sys:
        description: Mount C(/sys) read-write in unprivileged containers.
        type: bool
      mount:
        description: File system types the container may mount, for example V([nfs, cifs]).
        type: list
        elements: str
  unprivileged:
    description: Run as an unprivileged container (user namespace). Create-only. PVE 9 defaults to true.
    type: bool
  onboot:
    description: Start the container when the node boots. Live.
    type: bool
  protection:
    description: Protect the container from removal (C(pct destroy) refuses it) and from disk changes. Live.
    type: bool
  cmode:
    description: Console mode - V(tty) (PVE's default), V(console) or V(shell). Applied at the next start.
    type: str
    choices: [shell, console, tty]
  console:
    description:
      - Attach a console device (C(/dev/console)) to the container (PVE's default V(true)). Applied at the next start.
    type: bool
  tty:
    description: Number of ttys, 0 to 6 (PVE's default 2). Applied at the next start.
    type: int
  hookscript:
    description:
      - A snippet run on the host at each phase of the container, as a volume ID C(<storage>:snippets/<file>). Live.
      - Refused (also in check mode) when the file is missing or not executable, as PVE refuses it.
    type: str
  lxc:
    description:
      - Raw C(lxc.*) lines for a container made from a template (not with a bundle O(image), whose lines come
        from its C(config.json)), as V([key, value]) pairs or C(lxc.key=value) strings (V(:) works as well).
        They replace the lines nexcage wrote before; other lines of the config stay byte for byte. Applied at the
        next start.
      - Every line passes the node layer's one writer - only keys on its allow-list (for example
        C(lxc.cgroup2.*), C(lxc.apparmor.profile), C(lxc.cap.drop)); C(lxc.hook.*), C(lxc.include), unknown keys
        and control characters are refused.
    type: list
    elements: raw
  startup:
    description:
      - Boot order and delays. Only the given fields are managed. Live.
      - Or Proxmox's string V(order=1,up=30), or community.proxmox's list V(["order=1", "up=30"]).
    type: raw
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
    description: Tags; compared lower-cased, sorted and de-duplicated, as PVE stores them. V([]) removes all. Live.
    type: list
    elements: str
  description:
    description: Free-text notes (the C(#) lines of the config). An empty string removes them. Live.
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
    description: V(host), V(UTC) or a zone name such as V(Europe/Berlin). Applied at the next start.
    type: str
  ostype:
    description:
      - OS type (V(debian), V(ubuntu), V(alpine), V(centos), V(fedora), V(archlinux), V(opensuse), V(gentoo),
        V(devuan), V(nixos), V(unmanaged)); PVE detects it from the template when omitted. Create-only.
    type: str
  arch:
    description: Architecture (V(amd64), V(i386), V(arm64), V(armhf), V(riscv32), V(riscv64)). Create-only.
    type: str
  pool:
    description:
      - Resource pool to add the container to at create. Pool membership is not stored in the container config
        and is not compared afterwards.
    type: str
  password:
    description:
      - Root password inside the container, set at create only (never compared, masked in RV(commands)).
      - C(pct) takes it on its command line, so it is visible in the node's process list while C(pct create) runs.
        Prefer O(ssh_public_keys).
    type: str
  update:
    description:
      - community.proxmox's switch to update an existing container. Accepted and has no effect (with a warning) -
        nexcage always converges.
    type: bool
  api_host:
    description:
      - Not used - nexcage has no API client. It runs on the node (the inventory host is the Proxmox VE node).
        The API options of community.proxmox (O(api_host), O(api_port), O(api_user), O(api_password),
        O(api_token_id), O(api_token_secret), O(validate_certs), O(node)) fail the task with one message saying so.
    type: str
  api_port:
    description: Not used; see O(api_host).
    type: int
  api_user:
    description: Not used; see O(api_host).
    type: str
  api_password:
    description: Not used; see O(api_host).
    type: str
  api_token_id:
    description: Not used; see O(api_host).
    type: str
  api_token_secret:
    description: Not used; see O(api_host).
    type: str
  validate_certs:
    description: Not used; see O(api_host).
    type: bool
  node:
    description: Not used; see O(api_host). Target the node by running the task on it (C(hosts:) or C(delegate_to:)).
    type: str
  ssh_public_keys:
    description:
      - SSH public keys (text, one per line) for root inside the container, set at create only. The module
        writes the temporary file C(pct create --ssh-public-keys) needs and removes it afterwards.
      - The alias O(pubkey) is community.proxmox's name.
    type: str
    aliases: [pubkey]
  force:
    description:
      - With O(state=absent), destroy a running container (C(pct destroy --force 1)); with O(state=template), stop
        a running container first.
      - With O(state=stopped) or O(state=restarted), community.proxmox's forced stop - the same as
        O(stop_mode=stop) (C(pct stop), no clean shutdown first); it wins over O(stop_mode).
      - Unlike community.proxmox, O(force) with O(state=present) does not recreate an existing container; use
        O(recreate) (which acts only when a create-only setting differs).
    type: bool
    default: false
  purge:
    description: With O(state=absent), also remove the container from backup jobs, replication and HA.
    type: bool
    default: false
  recreate:
    description:
      - When a C(create_only) setting differs, destroy the container and create it again from O(image) with the
        same VMID. B(This destroys all data on the container's disks.) A container that was running is started again.
    type: bool
    default: false
  restart_on_change:
    description:
      - When the running container has pending changes (from this task or an earlier one), restart it with
        C(pct reboot) so that they apply.
    type: bool
    default: false
  keep_on_failure:
    description:
      - When this task created the container and starting it (or waiting for it to run) then fails, the new
        container is destroyed again (C(pct destroy --force 1), freeing its volumes), so that nothing half-made
        is left and a retry starts clean. V(true) keeps it for inspection; the error says which happened.
      - A failure of a later step on a container that existed before the task never destroys it.
    type: bool
    default: false
  stop_mode:
    description:
      - V(shutdown) asks the container to shut down cleanly and kills it after O(stop_timeout) seconds
        (C(pct shutdown --timeout N --forceStop 1)); V(stop) kills it at once (C(pct stop)).
    type: str
    choices: [shutdown, stop]
    default: shutdown
  stop_timeout:
    description:
      - Seconds a clean shutdown (or the shutdown part of a restart) may take; passed to C(pct shutdown --timeout)
        and C(pct reboot --timeout).
      - C(pct shutdown) itself is killed after O(stop_timeout) + O(command_timeout) seconds (the clean shutdown,
        then the forced stop); C(pct reboot) after O(stop_timeout) + O(wait_timeout).
    type: int
    default: 60
  wait_timeout:
    description:
      - Seconds C(pct start) may run before it is killed, and then seconds to wait, after C(pct start),
        C(pct stop), C(pct shutdown) or C(pct reboot), for the container to reach the state. On timeout the error
        says the last state seen.
      - The alias O(timeout) is community.proxmox's name.
    type: int
    default: 60
    aliases: [timeout]
  create_timeout:
    description:
      - Seconds C(pct create) (template extraction) and C(pveam download) may each run before they are killed
        and the task fails with error category C(timeout). Both take time in proportion to the template's size
        and the storage's speed, so they have their own bound; every other command is bounded by
        O(command_timeout).
      - "A killed C(pct create) does not run Proxmox VE's own failure path: what it made stays (the placeholder
        config C(lock: create) and the volumes it allocated, or a config whose settings were not all written).
        The error names that state and the repair (C(nexcage_health) with C(repair: [stale_locks]))."
    type: int
    default: 600
  backend:
    description:
      - V(proxmox_lxc) makes a Proxmox VE container with C(pct).
      - V(runc) or V(crun) runs the OCI bundle O(image) directly on the host through that runtime (C(create),
        C(start), C(kill), C(delete), C(state)). The OCI container ID is O(hostname), or O(vmid) when no hostname
        is set. O(state) has the same meaning (V(present) leaves a new container C(created)); O(stop_timeout) is
        the wait after SIGTERM before SIGKILL; a changed C(config.json) recreates the container. The state file
        C(/run/nexcage/<id>/state.json) follows the OCI runtime state. The process's output goes to
        C(/run/nexcage/<id>/console.log). Other container options are ignored.
    type: str
    choices: [proxmox_lxc, runc, crun]
    default: proxmox_lxc
  runtime_wrapper:
    description:
      - With O(backend=runc) or O(backend=crun), an argv prefix for the runtime's C(create) only, for hosts where
        the runtime cannot create containers as installed. For example crun 1.8 refuses a hybrid cgroup layout
        ("cgroups in hybrid mode not supported"); running it in a private mount namespace without the cgroup2
        mount works and does not change the host, see the example.
    type: list
    elements: str
  template_storage:
    description:
      - When O(image) is a bundle directory, the file-based storage (content C(vztmpl)) that receives the packed
        template. Its path is read from C(/etc/pve/storage.cfg).
    type: str
    default: local
  allow_sensitive_host_paths:
    description:
      - Allow bind mounts (O(mounts[].host_path), and the bind mounts of a bundle O(image)) of the host paths that
        are refused by default (see O(mounts[].host_path)). The container can then read or change the host
        through them. Container-side mount points C(/), C(/proc), C(/sys) and C(/dev) stay refused.
    type: bool
    default: false
  allow_hooks:
    description:
      - With O(backend=runc) or O(backend=crun), allow a bundle O(image) whose C(config.json) has OCI C(hooks).
        The runtime B(runs these programs on the host as root). Without this option such a bundle is refused.
      - With O(backend=proxmox_lxc) a bundle with hooks is always refused (LXC cannot run OCI hooks).
    type: bool
    default: false
notes:
  - Check mode runs only reads and returns in RV(commands) the exact commands it would run (a temporary
    C(--ssh-public-keys) file shows as a placeholder).
  - Diff mode returns the status and typed config before and after.
  - "Failure policy: a failed C(pct create) (or C(pct clone)) leaves nothing behind (PVE removes what the task made).
    When the start (or the wait for it) after this task's create fails, the new container is destroyed again
    unless O(keep_on_failure=true). Any other later failure keeps the container; the error says so and the next
    run continues from there. A create that was killed (by O(create_timeout), or from outside) leaves a half-made
    container; the error names it and its repair, and the module refuses to update a half-made container
    (a config with C(lock: create) or C(lock: destroyed), or without C(rootfs)) instead of building on it."
  - "Time limits: O(create_timeout) bounds C(pct create) and C(pveam download), O(wait_timeout) bounds
    C(pct start), O(stop_timeout) + O(command_timeout) bounds C(pct shutdown), O(stop_timeout) + O(wait_timeout)
    bounds C(pct reboot); every other command (C(pct set), C(pct resize), C(pct stop), C(pct destroy), ...)
    is bounded by O(command_timeout). A timeout error names the command and the bound."
  - "Check mode checks, before it reports a change, what a real run would refuse: the template, the storages and
    their content, the root disk's default storage, bridges, bind-mount sources, the hook script, a clone's source.
    What an earlier task of the same play would make (a bundle directory, a dataset mounted as a bind-mount
    source, the container a later task changes, a clone's source) is missing in check mode since that task only
    planned; check mode then warns and reports the change."
  - On failure the result holds RV(error) with a category, an actionable message and the command's output; the
    categories are listed in C(docs/errors.md).
seealso:
  - module: cageforge.nexcage.nexcage_health
  - module: cageforge.nexcage.nexcage_zfs_dataset
"""

EXAMPLES = r"""
- name: Deploy an OCI bundle as a container (mounts, entrypoint and environment from config.json)
  cageforge.nexcage.nexcage_container:
    vmid: 120
    image: /var/lib/nexcage/bundles/web
    rootfs:
      storage: local-zfs
      size: 2
    state: started

- name: Run the same bundle directly with crun on a host with a hybrid cgroup layout
  cageforge.nexcage.nexcage_container:
    hostname: web-oci
    image: /var/lib/nexcage/bundles/web
    backend: crun
    runtime_wrapper: [unshare, -m, sh, -c, 'umount /sys/fs/cgroup/unified && exec "$@"', crun-wrap]
    state: started

- name: A running web container (created when missing, VMID allocated)
  cageforge.nexcage.nexcage_container:
    hostname: web01
    image: local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst
    state: started
    memory: 1024
    cores: 2
    rootfs:
      storage: local-zfs
      size: 8
    netif:
      - name: eth0
        bridge: vmbr0
        ip: dhcp
    features:
      nesting: true
  register: web

- name: Share a host directory read-only and tag it
  cageforge.nexcage.nexcage_container:
    vmid: "{{ web.vmid }}"
    mounts:
      - id: 0
        host_path: /srv/shared
        mountpoint: /shared
        read_only: true
    tags: [web, prod]
    restart_on_change: true

- name: Remove it even if it runs
  cageforge.nexcage.nexcage_container:
    vmid: "{{ web.vmid }}"
    state: absent
    force: true

- name: Make a golden image a template (stops it first with force)
  cageforge.nexcage.nexcage_container:
    vmid: 9000
    state: template
    force: true

- name: A linked clone of the template, then its own settings
  cageforge.nexcage.nexcage_container:
    vmid: 121
    clone: 9000
    clone_type: linked
    hostname: web02
    memory: 1024
    state: started

- name: A storage-backed mount point, a device and raw lxc lines
  cageforge.nexcage.nexcage_container:
    vmid: 121
    mounts:
      - {id: 0, storage: local-zfs, size: 16, mountpoint: /var/lib/data, acl: true, mountoptions: [noatime]}
    devices:
      - {id: 0, path: /dev/net/tun, mode: "0666"}
    lxc:
      - [lxc.cgroup2.devices.allow, "c 10:200 rwm"]

- name: A community.proxmox task after changing the module name and removing the API options
  cageforge.nexcage.nexcage_container:
    vmid: 122
    hostname: example.org
    ostemplate: local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst
    disk: local-zfs:8
    netif:
      net0: "name=eth0,ip=dhcp,ip6=dhcp,bridge=vmbr0"
    features:
      - nesting=1
"""

RETURN = r"""
bundle:
  description: When O(image) is a bundle directory, how it was deployed.
  returned: when image is a bundle directory and state is not absent
  type: dict
  contains:
    bundle:
      description: The bundle directory.
      type: str
    template:
      description: The template volume packed from its rootfs.
      type: str
    packed:
      description:
        - Whether this run packed the template (in check mode, would pack it); false when the template existed
          or no container was created.
      type: bool
    options:
      description:
        - The O(hostname), O(memory), O(swap), O(cpulimit), O(cpuunits), O(unprivileged) and O(ostype) values
          taken from C(config.json), and C(mounts), its bind mounts of directories (as O(mounts) entries
          without id).
      type: dict
    pct:
      description: The C(pct create) options the bundle needs that have no module option (C(cmode)), as
        [key, value] pairs.
      type: list
      elements: list
    lxc:
      description: The raw C(lxc.*) lines written into the container config, as [key, value] pairs.
      type: list
      elements: list
    warnings:
      description: Settings of C(config.json) that were not applied, and why.
      type: list
      elements: str
    rootfs_digest:
      description: Digest of the rootfs that names the template.
      type: str
vmid:
  description: The container's VMID (the allocated one for a new container; in check mode the one that would be used).
  returned: always
  type: int
  sample: 100
container:
  description:
    - The container after the task, null when absent. The keys of its config, typed (sizes in bytes, property strings
      as dicts, booleans), plus the keys below. In check mode, the predicted config.
    - With O(backend=runc) or O(backend=crun) it holds C(id), C(backend), C(bundle), C(status) (the runtime's) and
      C(oci_state) (the content of C(/run/nexcage/<id>/state.json)).
  returned: always
  type: dict
  contains:
    vmid:
      description: VMID.
      type: int
    status:
      description: V(running) or V(stopped).
      type: str
    pid:
      description: PID of the container's init on the node, when running.
      type: int
    pending:
      description: The C([pve:pending]) section, typed (with C(delete), a list of keys).
      type: dict
    pending_keys:
      description: The keys that change at the next start.
      type: list
      elements: str
    lock:
      description: The config lock (C(backup), C(create), ...), if any.
      type: str
    node:
      description: The node the container is on.
      type: str
    snapshots:
      description: Names of the container's snapshots.
      type: list
      elements: str
  sample:
    vmid: 100
    status: running
    pid: 12345
    hostname: web01
    memory: 1024
    rootfs: {volume: "local-zfs:subvol-100-disk-0", size: 8589934592}
    net0: {name: eth0, bridge: vmbr0, hwaddr: "BC:24:11:5E:7A:01", ip: dhcp, type: veth}
    pending: {}
    pending_keys: []
commands:
  description: The commands run (in check mode, that would run), shell-quoted, in order. Secrets are masked.
  returned: always
  type: list
  elements: str
  sample: ["pct create 100 local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst --hostname web01", "pct start 100"]
steps:
  description: What was done (or would be), in order, for example V(create), V(update), V(start).
  returned: always
  type: list
  elements: str
changes:
  description: The settings that differed, each with C(key), C(before), C(after), C(kind) (V(live), V(restart),
    V(create_only)) and C(reason).
  returned: success
  type: list
  elements: dict
pending:
  description: Keys that stay pending on the running container until its next start (empty after a restart).
  returned: success
  type: list
  elements: str
diff:
  description: With C(--diff), C(before) and C(after) as C(status) plus typed C(config).
  returned: when diff mode is on
  type: dict
error:
  description: On failure, what went wrong.
  returned: failure
  type: dict
  contains:
    category:
      description:
        - One of V(already_exists), V(not_found), V(invalid_argument), V(locked), V(not_running),
          V(already_running), V(resource_exhausted), V(permission_denied), V(timeout), V(unsupported), V(unknown).
      type: str
    message:
      description: What failed, naming the container, the VMID and the step.
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
    from ansible_collections.cageforge.nexcage.plugins.module_utils._container import bundle
    from ansible_collections.cageforge.nexcage.plugins.module_utils._container.argspec import argument_spec
    from ansible_collections.cageforge.nexcage.plugins.module_utils._container.lifecycle import run_module
    from ansible_collections.cageforge.nexcage.plugins.module_utils._module import check_raw_params

    spec = argument_spec()
    check_raw_params(spec)
    module = AnsibleModule(
        argument_spec=spec,
        supports_check_mode=True,
        required_one_of=[("vmid", "hostname")],
    )
    run_module(module, oci=bundle)  # with OCI support: bundle images, runc/crun


if __name__ == "__main__":
    main()
