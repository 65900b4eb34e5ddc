# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filters a user of the collection calls: catalog -> the entries droid loads, and their ids.

Each filter is documented in the YAML file of its own name beside this one. The logic lives in
``plugins/plugin_utils/byok/entries.py``; these wrappers only turn its errors into
``AnsibleFilterError``. The byok role's own plumbing is not a filter: the role
reaches it through ``plugins/lookup/byok_inputs.py``, which runs only in the role's tasks. No error message carries an API key.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import entries as _entries
from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok.inputs import ByokError


def _guard(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except ByokError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def byok_custom_models(catalog, models=None, extra_models=None, url=None, api_key=None, key_mode="inline", openai_provider="openai"):
    """The ``customModels`` entries for settings.json."""
    return _guard(_entries.custom_models, catalog, models or [], extra_models or [], url, api_key, key_mode, openai_provider=openai_provider)


def byok_legacy_models(entries):
    """The same entries for the legacy config.json."""
    return _guard(_entries.legacy_models, entries)


def byok_model_id(entries, model):
    """The id droid gives the entry for ``model``: its stored ``id`` (``custom:llmcloud-<model>``)."""
    return _guard(_entries.model_id, entries, model)


class FilterModule(object):
    """The byok filters a playbook may call."""

    def filters(self):
        return {
            "byok_custom_models": byok_custom_models,
            "byok_legacy_models": byok_legacy_models,
            "byok_model_id": byok_model_id,
        }
