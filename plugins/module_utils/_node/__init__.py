# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one node-access layer. PRIVATE to the collection.

Nothing else in the collection opens a node file, takes a node lock or builds a
config line: paths names the files, files reads, writes atomically and
locks, readers turns node files into data, configline is the one
writer of config lines (it refuses control characters), ctconf rewrites
nexcage's raw lxc.* lines of a container config, sizes parses and
prints sizes.
"""
