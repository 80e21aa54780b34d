# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nexcage_container's logic: the LXC container lifecycle. PRIVATE to the collection.

Data flows one way: ``argspec`` (the options) -> ``desired`` (validated, typed)
-> ``identity`` and ``_node.readers`` (the node as it is) -> ``plan`` (pure:
live, restart or create-only changes) -> ``lifecycle`` (apply through the
Runner, or report in check mode) -> ``result``. ``prechecks`` checks template
and storages before a create, ``vmid`` allocates under the node lock,
``bundle`` (imported only for image=<bundle dir>) calls into _oci.
"""
