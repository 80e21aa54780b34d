#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nexcage_bundle
short_description: Generate, validate or remove an OCI runtime bundle (config.json plus rootfs)
version_added: 0.1.0
description:
  - Builds an OCI runtime bundle, a directory with C(config.json) and C(rootfs/), that C(runc run) and
    C(crun run) accept as it is.
  - The root filesystem comes from a directory, a tarball (C(.tar), C(.tar.gz), C(.tar.xz), C(.tar.zst)),
    a Proxmox VE template volume (C(local:vztmpl/...), resolved through C(/etc/pve/storage.cfg)) or an OCI
    image layout (C(oci-layout), C(index.json), C(blobs/)). Image layers are applied in order and whiteouts
    are honoured as C(umoci unpack) does; the image config (Entrypoint, Cmd, Env, WorkingDir, User, labels)
    seeds C(config.json).
  - C(config.json) starts from what C(runc spec) writes; the options below change it, and O(config) is
    merged last. One default differs from C(runc spec) 1.4+ - C(ociVersion) is C(1.0.2), not C(1.3.0), because
    crun 1.8 (Debian 12) refuses every version without C(1.0) in it; the defaults use no newer field. Set
    C(ociVersion) through O(config) to change it.
  - Every C(config.json) written or checked is validated against the collection's JSON Schema for
    runtime-spec 1.3.0 and with the checks C(oci-runtime-tool validate) makes (root inside the bundle,
    absolute cwd, an executable C(args[0]), C(KEY=value) environment, known and unique rlimits, known
    capabilities, absolute mount destinations, unique namespaces, annotation keys). Each problem names its
    JSON path, the value and the fix. Errors fail the task and nothing is written.
  - Idempotent. A digest of the inputs is stored in C(.nexcage-digest.json) beside C(config.json). An
    unchanged run copies nothing; a change to the configuration alone rewrites only C(config.json); a new
    root filesystem is built in a temporary directory beside the bundle and renamed into place, so a
    failure never leaves a partial bundle.
  - A re-run first compares a cheap stamp of the source with the one recorded when the root filesystem
    was built (see O(source_check) for what it trusts), and reads the whole source only when the stamp
    differs.
  - Extraction refuses absolute member paths, C(..) components, links that lead out of the root filesystem
    (relative symlinks or hard links that climb above it, and writing through an absolute symlink) and device
    nodes (unless O(allow_devices=true)). Absolute symlink targets themselves are kept, because the
    container resolves them inside its own root.
author:
  - nexcage contributors (@cageforge)
extends_documentation_fragment:
  - cageforge.nexcage.common
  - cageforge.nexcage._attributes
  - cageforge.nexcage._attributes.CHANGES_STATE
requirements:
  - jsonschema (Python library; on Debian and Proxmox VE the package C(python3-jsonschema)) for
    O(state=present) and O(state=validated).
  - C(cp) (coreutils) for O(rootfs_mode=hardlink) and O(rootfs_mode=reflink); C(zstd) for C(.tar.zst) sources
    when Python cannot read zstd.
options:
  path:
    description:
      - The bundle directory. It must lie below one of O(bundle_roots).
    type: path
    required: true
  state:
    description:
      - V(present) generates the bundle or brings it up to date.
      - V(absent) removes the bundle directory (only a directory that holds C(config.json) or the digest file,
        or an empty one).
      - V(validated) checks an existing bundle and returns every problem in RV(validation); it never changes
        anything. The task fails when there is an error-level problem.
    type: str
    choices: [present, absent, validated]
    default: present
  bundle_roots:
    description:
      - Directories below which bundles may be created, changed or removed.
    type: list
    elements: path
    default: [/var/lib/nexcage/bundles]
  source:
    description:
      - Where C(rootfs/) comes from. An absolute path of a root filesystem directory, of a tarball or of an OCI
        image layout directory, or a template volume C(<storage>:vztmpl/<file>).
      - Required to create a bundle. When omitted on an existing bundle its rootfs is left as it is and only
        C(config.json) is managed.
    type: str
  source_type:
    description:
      - The kind of O(source). V(auto) recognises a template volume by its C(<storage>:vztmpl/) prefix, an OCI
        image layout by its C(oci-layout) and C(index.json) files, any other directory as a root filesystem
        and a file as a tarball (compression is detected from its content).
    type: str
    choices: [auto, directory, tarball, template, oci_layout]
    default: auto
  image_ref:
    description:
      - For an OCI image layout with several images, the one to use, by its
        C(org.opencontainers.image.ref.name) annotation (usually the tag). Without it the single manifest,
        or the one for this machine's architecture, is used.
    type: str
  rootfs_mode:
    description:
      - How a directory O(source) is copied. V(copy) copies everything as C(cp -a) does (modes, owners, times,
        extended attributes and ACLs, hard links within the tree, sparse files), with the kernel's
        C(copy_file_range), which clones blocks where the filesystem can (btrfs, XFS, ZFS 2.2); V(hardlink) makes
        hard links (C(cp -al); same filesystem only; the bundle then shares files with the source); V(reflink)
        makes copy-on-write clones (C(cp --reflink=always)) and fails on filesystems without reflink support.
      - Tarballs, templates and image layers are always extracted.
    type: str
    choices: [copy, hardlink, reflink]
    default: copy
  source_check:
    description:
      - How a re-run decides whether O(source) changed since the root filesystem was built.
      - V(stamp) compares a stamp recorded then. For an OCI image layout it is the manifest digest that
        C(index.json) names (with O(image_ref)), a content address, so any change to the image changes it, and
        every layer is checked against its digest when it is unpacked. For a tarball or template it is the
        file's size, inode number, modification and change time (any write to the file or its replacement
        changes the change time), with the SHA-256 computed when the stamp last changed.
        For a directory it is the inode number, modification and change time of the directory itself and of
        each entry directly in it. That catches a directory replaced by another (a new build renamed into
        place), any change to those top-level entries (a file written, a mode or owner changed) and entries
        added, removed or renamed directly inside a top-level directory (a new file in C(etc/)). It misses
        changes deeper down that leave those alone, such as a file edited in place below the top level
        (C(etc/passwd) rewritten, a binary in C(usr/bin) replaced). After changing a directory source in place,
        C(touch) the directory or run once with V(full).
      - When the stamp differs the source is compared in full, and the root filesystem is rebuilt only if that
        differs too.
      - V(full) compares the whole source on every run. For a directory that is the names, types, modes, owners, sizes,
        modification times and link targets of all entries (file contents are not read), for a tarball or
        template the SHA-256 of the file, and for an image layout every layer blob checked against its digest.
    type: str
    choices: [stamp, full]
    default: stamp
  allow_devices:
    description:
      - Allow character and block device nodes in the source. Off by default, because a device node in a
        root filesystem gives the container access to that host device.
    type: bool
    default: false
  args:
    description:
      - C(process.args), the program and its arguments. Default from the image, else C(["sh"]).
    type: list
    elements: str
  env:
    description:
      - Environment, as a list of C(KEY=value) strings or as a dict. Entries replace same-named entries of the
        defaults (C(PATH), C(TERM)) and of the image; others are appended.
    type: raw
  cwd:
    description:
      - C(process.cwd), an absolute path in the container.
    type: str
  user:
    description:
      - The user the process runs as (numeric IDs in the container).
    type: dict
    suboptions:
      uid:
        description: User ID.
        type: int
      gid:
        description: Group ID.
        type: int
      additional_gids:
        description: Supplementary group IDs.
        type: list
        elements: int
  hostname:
    description:
      - The container's hostname (needs the C(uts) namespace, which the defaults have).
    type: str
  terminal:
    description:
      - Attach a terminal to the process (C(process.terminal)). C(runc spec) defaults to V(true), which needs
        a console; set V(false) for detached or piped use.
    type: bool
  readonly_rootfs:
    description:
      - C(root.readonly). The C(runc spec) default is V(true).
    type: bool
  mounts:
    description:
      - Mounts added to the defaults (C(/proc), C(/dev), C(/dev/pts), C(/dev/shm), C(/dev/mqueue), C(/sys),
        C(/sys/fs/cgroup)). A mount with the destination of a default replaces it.
      - With a O(mounts[].source) and no O(mounts[].type) the mount is a bind mount; a C(bind) mount without
        C(bind) or C(rbind) in its options gets C(rbind).
    type: list
    elements: dict
    suboptions:
      destination:
        description: Absolute path in the container.
        type: str
        required: true
      source:
        description: Host path (absolute, or relative to the bundle) for bind mounts; the device or a dummy otherwise.
        type: str
      type:
        description: Filesystem type, for example C(bind), C(tmpfs), C(proc).
        type: str
      options:
        description: Mount options, for example C(rbind), C(ro), C(nosuid), C(mode=755).
        type: list
        elements: str
  annotations:
    description:
      - Annotations (string keys and values), merged over those of the image. Keys should be reverse-domain
        names; the C(org.opencontainers) namespace is reserved.
    type: dict
  memory_limit:
    description:
      - C(linux.resources.memory.limit). Bytes, or a size with a binary unit such as C(512M) or C(1G); C(-1) for
        no limit.
    type: str
  cpu_quota:
    description: C(linux.resources.cpu.quota), microseconds of CPU time per period.
    type: int
  cpu_period:
    description: C(linux.resources.cpu.period), in microseconds (the kernel default is 100000).
    type: int
  cpu_shares:
    description: C(linux.resources.cpu.shares), the relative CPU weight (1024 is the default weight).
    type: int
  capabilities:
    description:
      - Capabilities for the bounding, effective and permitted sets (names with or without C(CAP_), any case).
        Replaces the defaults C(CAP_AUDIT_WRITE), C(CAP_KILL), C(CAP_NET_BIND_SERVICE).
    type: list
    elements: str
  rlimits:
    description:
      - Resource limits, merged by type over the default (C(RLIMIT_NOFILE) 1024).
    type: list
    elements: dict
    suboptions:
      type:
        description: The limit, for example C(RLIMIT_NOFILE) or C(nofile).
        type: str
        required: true
      soft:
        description: Soft limit.
        type: int
        required: true
      hard:
        description: Hard limit.
        type: int
        required: true
  config:
    description:
      - Raw C(config.json) content merged last, for anything the options do not cover. Objects are merged
        recursively, other values (lists included) replace; a V(null) value removes the key.
      - Fields that a deployment writes into a Proxmox VE config line (everything but C(process.args), C(hooks)
        and annotations other than C(org.opencontainers.image.stopSignal)) may not hold control characters.
    type: dict
  allow_hooks:
    description:
      - Allow OCI C(hooks) in C(config.json). Hooks B(run programs on the host as root) (with the C(runc) and
        C(crun) backends); without this option a configuration with hooks is refused.
    type: bool
    default: false
notes:
  - The bundle directory is mode 0700 and C(config.json) mode 0600, since the environment may hold secrets.
    Environment values are shown as C(NAME=********) in results, diffs, warnings and the module invocation.
  - The digest of a tarball or template is the SHA-256 of the file; of an image layout, the manifest digest; of
    a directory, the names, types, modes, owners, sizes, modification times and link targets of every entry
    (file contents are not read). O(source_check) says when they are computed again.
  - This module only builds and checks bundles; it starts nothing. Run a bundle with C(runc run --bundle PATH ID)
    or C(crun run --bundle PATH ID).
  - O(state=validated) supports check mode trivially (it changes nothing in any mode).
seealso:
  - name: OCI runtime specification
    description: The format of config.json and of bundles.
    link: https://github.com/opencontainers/runtime-spec/blob/main/config.md
"""

EXAMPLES = r"""
- name: A bundle from a busybox root filesystem, with a read-only bind mount
  cageforge.nexcage.nexcage_bundle:
    path: /var/lib/nexcage/bundles/hello
    source: /srv/rootfs/busybox
    args: ["/bin/sh", "-c", "echo hello; cat /data/message"]
    env:
      GREETING: hello
    terminal: false
    hostname: hello
    memory_limit: 256M
    cpu_quota: 50000
    cpu_period: 100000
    mounts:
      - destination: /data
        source: /srv/shared
        options: [rbind, ro]

- name: A bundle from a Proxmox VE template
  cageforge.nexcage.nexcage_bundle:
    path: /var/lib/nexcage/bundles/debian
    source: local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst
    args: ["/bin/sleep", "infinity"]
    terminal: false

- name: A bundle from an OCI image layout (skopeo copy docker://alpine:3.20 oci:/srv/oci/alpine:3.20)
  cageforge.nexcage.nexcage_bundle:
    path: /var/lib/nexcage/bundles/alpine
    source: /srv/oci/alpine
    image_ref: "3.20"
    terminal: false
    config:
      process:
        noNewPrivileges: false

- name: Check a bundle made elsewhere
  cageforge.nexcage.nexcage_bundle:
    path: /var/lib/nexcage/bundles/imported
    state: validated
  register: check
  failed_when: false

- name: Show the problems
  ansible.builtin.debug:
    msg: "{{ item.path }}: {{ item.message }} -> {{ item.fix }}"
  loop: "{{ check.validation }}"

- name: Remove a bundle
  cageforge.nexcage.nexcage_bundle:
    path: /var/lib/nexcage/bundles/hello
    state: absent
"""

RETURN = r"""
path:
  description: The bundle directory.
  returned: always
  type: str
  sample: /var/lib/nexcage/bundles/hello
config:
  description:
    - The bundle's C(config.json) (as written, or as it would be written in check mode; for
      O(state=validated) as read, V(null) when it cannot be parsed).
  returned: when state is present or validated, and for absent when a bundle was removed
  type: dict
  sample: {"ociVersion": "1.3.0", "process": {"args": ["/bin/sh"], "cwd": "/"}, "root": {"path": "rootfs"}}
digest:
  description: Content digest of the bundle's inputs (root filesystem source and config.json).
  returned: when state is present or validated
  type: str
  sample: sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0
validation:
  description: Every problem found, errors and warnings. Empty when the config is valid.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: JSON path of the offending value, for example C($.process.args[0]).
      type: str
    value:
      description: The offending value.
      type: raw
    level:
      description: C(error) or C(warning).
      type: str
    check:
      description: Which check found it (C(schema), C(args), C(env), C(rlimits), C(mounts), ...).
      type: str
    message:
      description: What is wrong.
      type: str
    fix:
      description: How to fix it.
      type: str
  sample: [{"path": "$.process.cwd", "value": "tmp", "level": "error", "check": "cwd",
            "message": "process.cwd must be an absolute path", "fix": "use an absolute path such as \"/tmp\""}]
valid:
  description: Whether the bundle has no error-level problem.
  returned: when state is validated
  type: bool
rootfs_changed:
  description: Whether the root filesystem was (or in check mode would be) rebuilt.
  returned: when state is present
  type: bool
config_changed:
  description: Whether config.json was (or would be) rewritten.
  returned: when state is present
  type: bool
commands:
  description:
    - The commands run, in order; in check mode the changing ones were only planned. A directory copied with
      O(rootfs_mode=copy) is copied by the module itself and runs none.
  returned: always
  type: list
  elements: str
  sample: ["cp -a -l --no-target-directory /srv/rootfs/busybox /var/lib/nexcage/bundles/.hello.nexcage-tmp-x/rootfs"]
error:
  description: On failure, the error category, message and hint (and the failed command, if any).
  returned: failure
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.cageforge.nexcage.plugins.module_utils._node import bytecode  # noqa: E402


def argument_spec():
    """The module's options, with their defaults."""
    from ansible_collections.cageforge.nexcage.plugins.module_utils._common import common_argument_spec
    from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.bundle import DEFAULT_BUNDLE_ROOTS

    spec = common_argument_spec()
    spec.update(
        path=dict(type="path", required=True),
        state=dict(type="str", default="present", choices=["present", "absent", "validated"]),
        bundle_roots=dict(type="list", elements="path", default=list(DEFAULT_BUNDLE_ROOTS)),
        source=dict(type="str"),
        source_type=dict(
            type="str", default="auto", choices=["auto", "directory", "tarball", "template", "oci_layout"]
        ),
        image_ref=dict(type="str"),
        rootfs_mode=dict(type="str", default="copy", choices=["copy", "hardlink", "reflink"]),
        source_check=dict(type="str", default="stamp", choices=["stamp", "full"]),
        allow_devices=dict(type="bool", default=False),
        args=dict(type="list", elements="str"),
        env=dict(type="raw"),
        cwd=dict(type="str"),
        user=dict(
            type="dict",
            options=dict(
                uid=dict(type="int"),
                gid=dict(type="int"),
                additional_gids=dict(type="list", elements="int"),
            ),
        ),
        hostname=dict(type="str"),
        terminal=dict(type="bool"),
        readonly_rootfs=dict(type="bool"),
        mounts=dict(
            type="list",
            elements="dict",
            options=dict(
                destination=dict(type="str", required=True),
                source=dict(type="str"),
                type=dict(type="str"),
                options=dict(type="list", elements="str"),
            ),
        ),
        annotations=dict(type="dict"),
        memory_limit=dict(type="str"),
        cpu_quota=dict(type="int"),
        cpu_period=dict(type="int"),
        cpu_shares=dict(type="int"),
        capabilities=dict(type="list", elements="str"),
        rlimits=dict(
            type="list",
            elements="dict",
            options=dict(
                type=dict(type="str", required=True),
                soft=dict(type="int", required=True),
                hard=dict(type="int", required=True),
            ),
        ),
        config=dict(type="dict"),
        allow_hooks=dict(type="bool", default=False),
    )
    return spec


def main():
    bytecode.install()  # the module_utils below load the code an earlier run compiled (_node/bytecode.py)
    from ansible_collections.cageforge.nexcage.plugins.module_utils._common import runner_for
    from ansible_collections.cageforge.nexcage.plugins.module_utils._module import check_raw_params
    from ansible_collections.cageforge.nexcage.plugins.module_utils._oci.bundle import run_module

    spec = argument_spec()
    check_raw_params(spec)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_module(module, runner_for(module))


if __name__ == "__main__":
    main()
