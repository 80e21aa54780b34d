# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OCI runtime bundles and workloads. PRIVATE to the collection.

schema (the runtime-spec JSON Schema, data), problems (how a problem found in config.json is told),
checks (schema and semantic checks), config (config.json from the options, and read back), sources
(the bundle path, template volumes, what a source is), tree (a directory rootfs: paths inside it,
digest and copy), image (OCI image layouts and the image config), extract (safe tar extraction of
tarballs and layers), bundle (nexcage_bundle), deploy (a bundle as a Proxmox VE container:
config.json mapped to nexcage_container's options), runtime (the runc/crun backend).
"""
