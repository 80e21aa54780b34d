# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""OCI runtime bundles and workloads. PRIVATE to the collection.

schema (the runtime-spec JSON Schema, data), checks (schema and semantic checks), image (OCI image
layouts and safe extraction), bundle (nexcage_bundle), deploy (a bundle as a Proxmox VE container:
config.json mapped to nexcage_container's options), runtime (the runc/crun backend).
"""
