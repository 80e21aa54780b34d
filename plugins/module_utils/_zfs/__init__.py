# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nexcage_zfs_dataset's logic. PRIVATE to the collection.

``properties``: values, names and the pure planner; ``holders``: the in-use
guard; ``manager``: the DatasetManager that reads the node and applies the plan,
and ``run_module``.
"""
