# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the ``byok`` role's machine scope and offboarding (the system-managed settings file).

Each filter is documented in the YAML file of its own name beside this one. The logic lives in
``plugins/module_utils/_byok_system.py`` (pure, unit-tested). No error message carries an API key.
"""

from __future__ import annotations

import base64

from ansible.errors import AnsibleFilterError

from ansible_collections.llmcloud.factory_droid.plugins.module_utils import _byok_system


def byok_system_problems(
    scope,
    state="present",
    key_mode="inline",
    settings_path="",
    fallback="user",
    min_version=_byok_system.MIN_SYSTEM_VERSION,
    droid_paths=None,
    allow_other_custom_models=True,
    allow_factory_models=True,
):
    """Every problem with the machine-scope variables (empty list: all good)."""
    return _byok_system.variable_problems(
        scope,
        state,
        key_mode,
        settings_path,
        fallback,
        min_version,
        droid_paths if droid_paths is not None else [],
        allow_other_custom_models,
        allow_factory_models,
    )


def byok_system_plan(probe, scope="system", fallback="user", min_version=_byok_system.MIN_SYSTEM_VERSION, path=""):
    """Where the models go on this host, from the probe's output (OS and droid clients)."""
    if isinstance(probe, dict):
        probe = probe.get("stdout", "")
    return _byok_system.plan(probe, scope, fallback, min_version, path or "")


def byok_system_document(entries, url, default_model="", allow_other_custom_models=True, allow_factory_models=True):
    """The document merged into the system-managed settings file, checked by the client's rules."""
    try:
        return _byok_system.system_document(entries, url, default_model or "", bool(allow_other_custom_models), bool(allow_factory_models))
    except _byok_system.SystemError_ as exc:
        raise AnsibleFilterError(str(exc)) from exc


def byok_offboard(slurped, url, extra_urls=None, system=False, entries=None, kind="settings"):
    """What state absent removes from one settings file (from a registered slurp result)."""
    text = None
    if isinstance(slurped, dict) and not slurped.get("failed") and slurped.get("content") is not None:
        text = base64.b64decode(slurped["content"]).decode("utf-8", "replace")
    elif isinstance(slurped, str):
        text = slurped
    return _byok_system.offboard(text, url, [u for u in extra_urls or [] if u], bool(system), entries or [], kind or "settings")


def byok_url_pattern(url):
    """Anchored regex for the role's base URLs with or without /v1 and a trailing slash."""
    return _byok_system.url_pattern(url)


def byok_rewrites(results, url=None, inspected=False):
    """Settings files where a plaintext apiKey of an LLMCloud entry was replaced by the reference
    (with ``inspected``: files only inspected, check_only, that still hold one)."""
    return _byok_system.rewrites(results, url, bool(inspected))


class FilterModule(object):
    """The byok role's machine-scope filters."""

    def filters(self):
        return {
            "byok_system_problems": byok_system_problems,
            "byok_system_plan": byok_system_plan,
            "byok_system_document": byok_system_document,
            "byok_offboard": byok_offboard,
            "byok_url_pattern": byok_url_pattern,
            "byok_rewrites": byok_rewrites,
        }
