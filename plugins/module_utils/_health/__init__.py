# -*- coding: utf-8 -*-
# Copyright (c) nexcage contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nexcage_health's logic. PRIVATE to the collection.

``node``: NodeView, what the checks read (through _node and the Runner);
``checks``: one function per check; ``repairs``: the opt-in repairs;
``run``: the whole run and ``run_module``.
"""
