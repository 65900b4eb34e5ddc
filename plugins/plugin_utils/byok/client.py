# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every fact about the droid client the role relies on, in one place (controller side).

Measured with each pinned client; tests/role/test_conformance.py and test_every_client.py ask every
pinned client again and fail when one disagrees with a fact here. The facts a target needs (the
base-URL patterns, the key reference, the generated-id rule, offboarding) are in
``plugins/module_utils/_droid.py`` and only imported here.

- droid loads ``customModels`` (camelCase) from ``~/.factory/settings.json``; old clients also read
  ``custom_models`` (snake_case) from ``~/.factory/config.json``; ``provider`` is one of
  ``PROVIDERS``, ``baseUrl`` is required, and since 0.133 an invalid entry is dropped silently;
- a stored ``id`` is used as is by every pinned client (listed, ``-m``, ``sessionDefaultSettings``);
  the role writes ``custom:llmcloud-<model>`` on every entry it owns (``stable_id``);
- droid 0.215.0 and newer read a system-managed settings file (``SYSTEM_PATHS``), which fails open:
  a malformed or schema-invalid one drops the whole org level silently.
"""

from __future__ import annotations

import re

# The facts a target needs too, typed once in module_utils/_droid.py and re-exported here.
# pylint: disable=unused-import
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._droid import (  # noqa: F401
    ENV_KEY_REFERENCE,
    ENV_KEY_VARIABLE,
    PREVIOUS_DEFAULT,
    PROVIDER_URL,
    REMEMBER,
    base_url,
    client_ids,
    dead_block_pattern,
    selector_name,
    url_pattern,
)

# pylint: enable=unused-import

# The droid versions the role supports: every input the role accepts is loaded by each of them.
SUPPORTED_CLIENTS = ("0.109.3", "0.117.0", "0.215.0", "0.225.2")
# Every provider droid's settings schema knows (an entry with another one is invalid).
PROVIDERS = ("anthropic", "openai", "generic-chat-completion-api", "factory", "google", "xai", "voyage", "bedrock-converse")
# Providers some supported client cannot load, and which: one entry with such a provider makes
# droid 0.215.0 and 0.225.2 drop the WHOLE customModels list (the developer's own models too).
PROVIDERS_DROPPED_BY = {
    "factory": ("0.215.0", "0.225.2"),
    "google": ("0.215.0", "0.225.2"),
    "xai": ("0.215.0", "0.225.2"),
    "voyage": ("0.215.0", "0.225.2"),
}
# bedrock-converse needs a ``bedrock`` block instead of a base URL, which the role does not write.
NEEDS_BLOCK_PROVIDERS = ("bedrock-converse",)
# The providers the role accepts for byok_extra_models: those every supported client loads.
ROLE_PROVIDERS = tuple(p for p in PROVIDERS if p not in PROVIDERS_DROPPED_BY and p not in NEEDS_BLOCK_PROVIDERS)
# The catalog's families: the Anthropic family at the base URL, the OpenAI family at <base URL>/v1.
FAMILIES = ("anthropic", "openai")
OPENAI_FAMILY_PROVIDERS = ("openai", "generic-chat-completion-api")
# settings.json and config.json both holding a model: these versions list it twice (settings.json's
# entry under its explicit id, config.json's under a generated custom:<Name>-<n>; config.json's ``id``
# is ignored), so the role refuses byok_format both.
BOTH_FORMAT_DOUBLED_BY = ("0.225.2",)
REASONING_EFFORTS = ("none", "dynamic", "off", "minimal", "low", "medium", "high", "xhigh", "max")
PLACEHOLDER_KEYS = ("YOUR_API_KEY", "YOUR_OPENAI_API_KEY")  # the guide's placeholders: droid ignores them

# The customModels entry schema (0.225.2): field -> type. ``index`` is written by droid itself.
ENTRY_TYPES = {
    "model": str,
    "id": str,
    "index": int,
    "displayName": str,
    "baseUrl": str,
    "apiKey": str,
    "provider": str,
    "maxOutputTokens": int,
    "maxContextLimit": int,
    "thinkingMaxTokens": int,
    "noImageSupport": bool,
    "enableThinking": bool,
    "reasoningEffort": str,
    "extraHeaders": dict,
    "extraArgs": dict,
}
REQUIRED_ENTRY_FIELDS = ("model", "provider", "baseUrl")
# Optional client fields: the role's name -> (settings.json name, config.json name, kind).
OPTIONAL_FIELDS = {
    "max_output_tokens": ("maxOutputTokens", "max_tokens", "int"),
    "max_context_limit": ("maxContextLimit", "max_context_limit", "int"),
    "no_image_support": ("noImageSupport", "supports_images", "bool"),
    "enable_thinking": ("enableThinking", "enable_thinking", "bool"),
    "thinking_max_tokens": ("thinkingMaxTokens", "thinking_max_tokens", "int"),
    "reasoning_effort": ("reasoningEffort", "reasoning_effort", "effort"),
    "extra_headers": ("extraHeaders", "extra_headers", "headers"),
    "extra_args": ("extraArgs", "extra_args", "dict"),
}
# Fields of an owned customModels entry kept from the file: droid writes ``index`` (and ``id``).
CLIENT_FIELDS = ["id", "index"]

# Ids: what the role writes, and the shape of any custom model's id.
ID_PREFIX = "custom:llmcloud-"
CUSTOM_ID = re.compile(r"^custom:[^\s]+$")

# The system-managed settings file (byok_scope system/both), per ``uname -s``.
SYSTEM_PATHS = {
    "Linux": "/etc/factory/settings.json",
    "Darwin": "/Library/Application Support/Factory/settings.json",
}
SYSTEM_FILES = tuple(SYSTEM_PATHS.values())
# The oldest droid the role trusts to read the system file (byok_system_min_version's default).
MIN_SYSTEM_VERSION = "0.215.0"
# The first droid the post-check script (byok_verify) expects to print the system file it read.
REPORTS_SYSTEM_FILE_FROM = (0, 134, 0)
# modelPolicy keys of 0.225.2 and their types; unknown keys are ignored by the client.
POLICY_TYPES = {
    "allowedModelIds": list,
    "blockedModelIds": list,
    "allowCustomModels": bool,
    "allowedBaseUrls": list,
    "allowAllFactoryModels": bool,
    "isFastModelsAllowed": bool,
    "requireExplicitOptInModelIds": list,
    "allowFactoryRouterByok": bool,
    "factoryRouterByokOnly": bool,
}

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def version_tuple(text):
    """(major, minor, patch) of the first x.y.z in ``text``, or None: the one version parser."""
    match = _VERSION.search(text or "")
    return tuple(int(part) for part in match.groups()) if match else None


def base_urls(url):
    """The role's two base URLs: (Anthropic family, OpenAI family)."""
    anthropic = base_url(url)
    return anthropic, anthropic + "/v1"


def prune_pattern(url):
    """An anchored regex matching exactly the role's two base URLs (and nothing else)."""
    return url_pattern(url)


def stable_id(model):
    """The explicit id the role writes for ``model``: ``custom:llmcloud-<model, lower case, [^a-z0-9._] -> '-'>``."""
    slug = re.sub(r"[^a-z0-9._]+", "-", str(model).lower()).strip("-.") or "model"
    return ID_PREFIX + slug


def assign_ids(models):
    """The explicit ids of the role's entries, in order: ``stable_id``, and for the same model twice
    (e.g. at two base URLs) ``-2``, ``-3``, ... in order."""
    taken, ids = set(), []
    for model in models:
        entry_id = stable_id(model)
        number = 2
        while entry_id in taken:
            entry_id = "%s-%d" % (stable_id(model), number)
            number += 1
        taken.add(entry_id)
        ids.append(entry_id)
    return ids
