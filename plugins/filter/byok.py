# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the ``llmcloud.factory_droid.byok`` role: catalog -> the entries droid loads.

Each filter is documented in the YAML file of its own name beside this one. The logic lives in
``plugins/module_utils/_byok.py`` (pure functions, unit-tested); these wrappers only turn its
errors into ``AnsibleFilterError``. No error message carries an API key.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.llmcloud.factory_droid.plugins.module_utils import _byok


def _guard(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except _byok.ByokError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def byok_problems(
    catalog,
    models=None,
    extra_models=None,
    url=None,
    api_key=None,
    key_mode="inline",
    openai_provider="openai",
    file_format="current",
    default_model="",
    users=None,
    preflight=False,
    prune=True,
    allow_insecure_http=False,
    local_settings="merge",
    verify="never",
    verify_command="droid",
):
    """Every problem with the byok_* variables (empty list: all good)."""
    return _byok.problems(
        catalog,
        models if models is not None else [],
        extra_models if extra_models is not None else [],
        url,
        api_key,
        key_mode,
        openai_provider=openai_provider,
        fmt=file_format,
        default_model=default_model,
        users=users,
        preflight=preflight,
        prune=prune,
        allow_insecure_http=allow_insecure_http,
        local_settings=local_settings,
        verify=verify,
        verify_command=verify_command,
    )


def byok_custom_models(catalog, models=None, extra_models=None, url=None, api_key=None, key_mode="inline", openai_provider="openai"):
    """The ``customModels`` entries for settings.json."""
    return _guard(_byok.custom_models, catalog, models or [], extra_models or [], url, api_key, key_mode, openai_provider=openai_provider)


def byok_legacy_models(entries):
    """The same entries as ``custom_models`` for the legacy config.json."""
    return _guard(_byok.legacy_models, entries)


def byok_model_id(entries, model):
    """The id droid gives the entry for ``model``: its stored ``id`` (``custom:llmcloud-<model>``)."""
    return _guard(_byok.model_id, entries, model)


def byok_targets(users):
    """Per user: where to write and as whom (no keys)."""
    return _guard(_byok.targets, users)


def byok_merge_plan(targets, file_format="current", local_settings="merge", default_model="", state="present"):
    """One json_merge call per user per file the client reads (no keys)."""
    return _guard(_byok.merge_plan, targets, file_format, local_settings, default_model, state)


def byok_merge_args(entries, kind, url=None, default_model="", prune=True):
    """The json_merge options of one call of byok_merge_plan."""
    return _guard(_byok.merge_args, kind, entries, url, default_model, prune)


def byok_merge_options(kind, url=None, prune=True):
    """The json_merge options of one call of byok_merge_plan that hold no key (no value)."""
    return _guard(_byok.merge_options, kind, url, prune)


def byok_client_problems(results, merges=None, entries=None, default_model="", local_settings="merge", verify="never", plan=None):
    """What the real client resolves, judged: {"problems": [...], "warnings": [...]} (no keys)."""
    return _guard(_byok.client_problems, results, merges or [], entries or [], default_model, local_settings, verify, plan)


def byok_merge_files(
    plan,
    catalog=None,
    models=None,
    extra_models=None,
    url=None,
    api_key=None,
    users=None,
    key_mode="inline",
    openai_provider="openai",
    default_model="",
    prune=True,
    problems=None,
):
    """json_merge's ``files`` for a whole byok_merge_plan: one module call per host (fails with ``problems``)."""
    return _guard(
        _byok.merge_files,
        plan,
        catalog or [],
        models or [],
        extra_models or [],
        url,
        api_key,
        users,
        key_mode,
        openai_provider=openai_provider,
        default_model=default_model,
        prune=prune,
        problems=problems,
    )


def byok_prune_pattern(url):
    """Anchored regex matching exactly the role's two LLMCloud base URLs."""
    return _byok.prune_pattern(url)


def byok_preflight_problems(results, wanted=None, url=None):
    """The preflight's failures in the provider guide's words (empty list: all good)."""
    wanted = wanted or []
    if any(isinstance(item, dict) for item in wanted):
        wanted = _byok.llmcloud_models([item for item in wanted if isinstance(item, dict)], url)
    return _byok.preflight_problems(results, wanted, url)


class FilterModule(object):
    """The byok role's filters."""

    def filters(self):
        return {
            "byok_problems": byok_problems,
            "byok_custom_models": byok_custom_models,
            "byok_legacy_models": byok_legacy_models,
            "byok_model_id": byok_model_id,
            "byok_targets": byok_targets,
            "byok_merge_plan": byok_merge_plan,
            "byok_merge_args": byok_merge_args,
            "byok_merge_files": byok_merge_files,
            "byok_merge_options": byok_merge_options,
            "byok_client_problems": byok_client_problems,
            "byok_prune_pattern": byok_prune_pattern,
            "byok_preflight_problems": byok_preflight_problems,
        }
