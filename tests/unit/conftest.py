# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make ``ansible_collections.llmcloud.factory_droid`` importable for plain ``pytest tests/unit``.

``make collection`` links the checkout as build/collections/ansible_collections/llmcloud/factory_droid.
Under ``ansible-test units`` the collection is already on the path and that folder does not exist.
"""

from __future__ import annotations

import os
import sys

_COLLECTIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "collections")
if os.path.isdir(os.path.join(_COLLECTIONS, "ansible_collections", "llmcloud", "factory_droid")):
    _COLLECTIONS = os.path.normpath(_COLLECTIONS)
    if _COLLECTIONS not in sys.path:
        sys.path.insert(0, _COLLECTIONS)
