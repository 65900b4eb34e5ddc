# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Catalog -> the ``customModels`` entries droid loads, their ids, the legacy ``config.json`` shape."""

from __future__ import annotations

import re

from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok.client import (
    CLIENT_FIELDS,
    ENTRY_TYPES,
    ENV_KEY_REFERENCE,
    OPENAI_FAMILY_PROVIDERS,
    OPTIONAL_FIELDS,
    PLACEHOLDER_KEYS,
    PROVIDERS,
    REASONING_EFFORTS,
    REQUIRED_ENTRY_FIELDS,
    assign_ids,
    base_url,
    base_urls,
    client_ids,
    prune_pattern,
)
from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok.inputs import (
    ByokError,
    _blank,
    _check_catalog,
    _check_extra_models_or_raise,
    _is_text,
    _optional_fields,
    choices,
    url_problem,
)


def custom_models(catalog, models, extra_models, url, api_key, key_mode, openai_provider="openai"):
    """The ``customModels`` entries (settings.json, camelCase) the role manages, in order.

    ``models`` picks catalog entries by id, in the order given; ``extra_models`` follow. The
    family decides provider and base URL. ``api_key`` is written in ``inline`` mode; in every
    other mode the entry references ``${LLMCLOUD_API_KEY}``.
    """
    found = []
    known = _check_catalog(catalog, found)
    if found:
        raise ByokError(found)
    if key_mode not in choices("byok_key_mode"):
        raise ByokError(["byok_key_mode must be one of %s." % ", ".join(choices("byok_key_mode"))])
    if key_mode == "inline":
        if _blank(api_key) or not _is_text(api_key):
            raise ByokError(["byok_api_key is empty but byok_key_mode is inline: put the key in the vault."])
        key = api_key
    else:
        key = ENV_KEY_REFERENCE
    error = url_problem("byok_llmcloud_url", url)
    if error:
        raise ByokError([error])
    if openai_provider not in OPENAI_FAMILY_PROVIDERS:
        raise ByokError(["byok_openai_family_provider must be one of %s." % ", ".join(OPENAI_FAMILY_PROVIDERS)])
    anthropic_url, openai_url = base_urls(url)

    entries = []
    for model in models or []:
        if model not in known:
            raise ByokError(["byok_models: unknown model id %r (not in byok_catalog)." % (model,)])
        item = known[model]
        anthropic = item["family"] == "anthropic"
        entry = {
            "model": model,
            "displayName": item["display_name"],
            "baseUrl": anthropic_url if anthropic else openai_url,
            "apiKey": key,
            "provider": "anthropic" if anthropic else openai_provider,
            "noImageSupport": False,
        }
        optional = _optional_fields("byok_catalog entry %s" % model, item, found)
        if found:
            raise ByokError(found)
        entry.update(optional)
        entries.append(entry)

    _check_extra_models_or_raise(extra_models)
    for index, item in enumerate(extra_models or []):
        provider = item["provider"]
        default_url = anthropic_url if provider == "anthropic" else openai_url
        entry = {
            "model": item["model"],
            "displayName": item.get("display_name") or item["model"],
            "baseUrl": base_url(item.get("base_url")) if item.get("base_url") else default_url,
            "apiKey": key,
            "provider": provider,
            "noImageSupport": False,
        }
        entry.update(_optional_fields("byok_extra_models[%d]" % index, item, []))
        entries.append(entry)

    for index, entry_id in enumerate(assign_ids([entry["model"] for entry in entries])):
        entry = entries[index]
        entries[index] = dict([("model", entry["model"]), ("id", entry_id)] + [(k, v) for k, v in entry.items() if k != "model"])
    check_entries(entries)
    return entries


def role_entries(values, api_key, key_mode=None):
    """The role's entries from the input object's values (``Inputs.values``), with ``api_key``
    (``key_mode`` overrides byok_key_mode, e.g. ``env`` for entries without a key). A new role
    variable that shapes the entries is read here and nowhere else."""
    return custom_models(
        values["byok_catalog"],
        values["byok_models"],
        values["byok_extra_models"],
        values["byok_llmcloud_url"],
        api_key,
        key_mode or values["byok_key_mode"],
        openai_provider=values["byok_openai_family_provider"],
    )


def default_candidates(entries, default_model):
    """The entries ``byok_default_model`` names: by explicit id (``custom:llmcloud-...``), else by
    ``model``, else by display name. More than one is ambiguous (see ``default_problem``)."""
    for field in ("id", "model", "displayName"):
        found = [entry for entry in entries if entry.get(field) == default_model]
        if found:
            return found
    return []


def default_problem(entries, default_model):
    """A sentence when ``byok_default_model`` names no entry or more than one, else None."""
    found = default_candidates(entries, default_model)
    if len(found) == 1:
        return None
    if not found:
        return "byok_default_model %r is not one of the configured models (byok_models and byok_extra_models): %s." % (
            default_model,
            ", ".join(entry["model"] for entry in entries) or "none",
        )
    return (
        "byok_default_model %r is ambiguous: it names %s. Set byok_default_model to the id of the one to use (%s), "
        "or give the entries different display names and use one of those."
        % (
            default_model,
            " and ".join(
                "%s (%s, id %s)" % (entry.get("displayName") or entry["model"], entry.get("where", "model %s" % entry["model"]), entry["id"]) for entry in found
            ),
            " or ".join(entry["id"] for entry in found),
        )
    )


def check_entries(entries):
    """Validate ``customModels`` entries against the client's schema; raise ByokError if not.

    The client (since 0.133) silently drops invalid entries, so an invalid one must fail the run.
    """
    found = []
    for index, entry in enumerate(entries):
        label = "customModels[%d] (%s)" % (index, entry.get("model"))
        for required in REQUIRED_ENTRY_FIELDS:
            if _blank(entry.get(required)):
                found.append("%s: %s is required." % (label, required))
        if entry.get("provider") not in PROVIDERS:
            found.append("%s: provider must be one of %s." % (label, ", ".join(PROVIDERS)))
        if entry.get("baseUrl") and url_problem("baseUrl", entry["baseUrl"]):
            found.append("%s: baseUrl must be an http(s) URL." % label)
        for name, value in entry.items():
            expected = ENTRY_TYPES.get(name) if name not in CLIENT_FIELDS[1:] else None  # droid writes ``index`` itself
            if expected is None:
                found.append("%s: unknown field %s." % (label, name))
            elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                found.append("%s: %s must be of type %s." % (label, name, expected.__name__))
        if entry.get("reasoningEffort") is not None and entry["reasoningEffort"] not in REASONING_EFFORTS:
            found.append("%s: reasoningEffort must be one of %s." % (label, ", ".join(REASONING_EFFORTS)))
        if "id" in entry and not (_is_text(entry["id"]) and entry["id"].startswith("custom:")):
            found.append("%s: id must start with custom:." % label)
        if entry.get("apiKey") in PLACEHOLDER_KEYS:
            found.append("%s: apiKey is a placeholder that droid ignores." % label)
    if found:
        raise ByokError(found)


def legacy_models(entries):
    """The same entries in the legacy ``config.json`` shape (``custom_models``, snake_case)."""
    check_entries(entries)
    legacy_names = {camel: legacy for camel, legacy, _kind in OPTIONAL_FIELDS.values()}
    result = []
    for entry in entries:
        item = {
            "model_display_name": entry.get("displayName") or entry["model"],
            "model": entry["model"],
            "base_url": entry["baseUrl"],
            "api_key": entry.get("apiKey"),
            "provider": entry["provider"],
        }
        for camel, value in entry.items():
            if camel in legacy_names:
                if camel == "noImageSupport":
                    if value:  # the legacy default: images supported
                        item["supports_images"] = False
                else:
                    item[legacy_names[camel]] = value
        if item["api_key"] is None:
            del item["api_key"]
        result.append(item)
    return result


def model_ids(entries):
    """The ids droid gives ``entries`` (settings.json or config.json shape), in order."""
    return client_ids(entries)


def model_id(entries, model):
    """The id droid gives the entry ``byok_default_model`` (``model``) names: by explicit id, else by
    ``model``, else by display name; raises ByokError when it names none or more than one.

    The entry's stored ``id`` when it has one (the role's entries always do), else the generated one.
    """
    resolved = [dict(entry, id=entry.get("id") or selector) for entry, selector in zip(entries, model_ids(entries))]
    problem = default_problem(resolved, model)
    if problem:
        raise ByokError([problem])
    return default_candidates(resolved, model)[0]["id"]


def llmcloud_models(entries, url):
    """The model ids among ``entries`` that are served at the role's two base URLs."""
    pattern = re.compile(prune_pattern(url))
    return [entry["model"] for entry in entries if pattern.match(entry.get("baseUrl") or entry.get("base_url") or "")]
