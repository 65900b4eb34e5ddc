# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure logic of the ``llmcloud.factory_droid.byok`` role (private to this collection).

The role's filter plugins call these functions on the controller. Nothing here does I/O, and no
message built here ever contains an API key: keys are only checked for presence and shape.

What the functions encode (measured on the real droid client, see the collection's FACTS):
- droid loads ``customModels`` (camelCase) from ``~/.factory/settings.json``; old clients read
  ``custom_models`` (snake_case) from ``~/.factory/config.json``;
- ``provider`` is one of ``PROVIDERS``; ``baseUrl`` is required;
- the Anthropic family talks to ``<url>/v1/messages`` (base URL without ``/v1``), the OpenAI
  family to ``<url>/v1/responses`` (base URL with ``/v1``);
- a model's id as the user selects it is the entry's stored ``id`` when it has one (all four pinned
  clients honour it); without one it is generated from the display name and a number that
  differs between client versions and counts the user's own entries too. The role therefore
  writes an explicit, unique ``id`` (``custom:llmcloud-<model>``) on every entry it owns;
- ``"${LLMCLOUD_API_KEY}"`` as ``apiKey`` is expanded from the environment by the client.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

# -- what the supported droid clients load (measured with each of them; the conformance test
# tests/role/test_conformance.py asks every pinned client again and fails when one disagrees) ---
# The droid versions the role supports: every input the role accepts is loaded by each of them.
SUPPORTED_CLIENTS = ("0.109.3", "0.117.0", "0.215.0", "0.225.2")
# Every provider droid's settings schema knows (an entry with another one is invalid).
PROVIDERS = (
    "anthropic",
    "openai",
    "generic-chat-completion-api",
    "factory",
    "google",
    "xai",
    "voyage",
    "bedrock-converse",
)
# Providers some supported client cannot load, and which: one entry with such a provider makes
# droid 0.215.0 and 0.225.2 drop the WHOLE customModels list (the developer's own models too).
PROVIDERS_DROPPED_BY = {
    "factory": ("0.215.0", "0.225.2"),
    "google": ("0.215.0", "0.225.2"),
    "xai": ("0.215.0", "0.225.2"),
    "voyage": ("0.215.0", "0.225.2"),
}
# byok_format both (settings.json and config.json): the client versions that list every model twice
# (settings.json's entry under its explicit id, config.json's under a generated custom:<Name>-<n>;
# config.json's ``id`` is ignored), so the role refuses that format.
BOTH_FORMAT_DOUBLED_BY = ("0.225.2",)
# bedrock-converse needs a ``bedrock`` block instead of a base URL, which the role does not write.
NEEDS_BLOCK_PROVIDERS = ("bedrock-converse",)
# The providers the role accepts for byok_extra_models: those every supported client loads.
ROLE_PROVIDERS = tuple(p for p in PROVIDERS if p not in PROVIDERS_DROPPED_BY and p not in NEEDS_BLOCK_PROVIDERS)
FAMILIES = ("anthropic", "openai")
OPENAI_FAMILY_PROVIDERS = ("openai", "generic-chat-completion-api")
FORMATS = ("current", "legacy", "both")
LOCAL_SETTINGS = ("merge", "warn", "fail", "ignore")
VERIFY = ("never", "auto", "always")
ID_PREFIX = "custom:llmcloud-"
REASONING_EFFORTS = ("none", "dynamic", "off", "minimal", "low", "medium", "high", "xhigh", "max")

# Key modes. ``inline`` writes the key into the file. Every other mode writes a reference to the
# environment variable below and leaves the key to the developer's environment (``env``: the
# developer exports it; ``keychain``: the role stores it in the OS credential store and a block in
# the shell profiles exports it from there, so the role still needs the key).
KEY_MODES = ("inline", "env", "keychain")
ENV_KEY_VARIABLE = "LLMCLOUD_API_KEY"
ENV_KEY_REFERENCE = "${%s}" % ENV_KEY_VARIABLE

# Optional client fields: role name -> (settings.json name, config.json name, kind).
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
CATALOG_FIELDS = ("id", "display_name", "family")
EXTRA_MODEL_FIELDS = ("model", "provider", "display_name", "base_url")
USER_FIELDS = ("name", "home", "api_key")

_URL = re.compile(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", re.IGNORECASE)
_TRUE = ("true", "yes", "on", "1", "y", "t")
_FALSE = ("false", "no", "off", "0", "n", "f")


class ByokError(ValueError):
    """Bad role input. ``problems`` lists one sentence per problem, each naming the variable."""

    def __init__(self, problems):
        self.problems = list(problems)
        super(ByokError, self).__init__(" ".join(self.problems))


def _is_text(value):
    return isinstance(value, str)


def _blank(value):
    return value is None or (_is_text(value) and not value.strip())


def base_url(url):
    """The Anthropic-family base URL: ``url`` without trailing slashes."""
    return (url or "").strip().rstrip("/")


def base_urls(url):
    """The role's two base URLs: (Anthropic family, OpenAI family)."""
    anthropic = base_url(url)
    return anthropic, anthropic + "/v1"


def prune_pattern(url):
    """An anchored regex matching exactly the role's two base URLs (and nothing else)."""
    anthropic, openai = base_urls(url)
    return "^(?:%s|%s)$" % (re.escape(anthropic), re.escape(openai))


def insecure_http_problem(name, url):
    """A sentence if ``url`` is plain http:// to a host other than a loopback address, else None.

    The key travels with every request droid (and the preflight) sends there: in clear text on
    plain http, to anyone on the path. Loopback (a local proxy or a test stand-in) stays allowed.
    """
    if not _is_text(url) or not url.strip().lower().startswith("http://"):
        return None
    host = (urlsplit(url.strip()).hostname or "").rstrip(".").lower()
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost" or host.endswith(".localhost")
    if loopback:
        return None
    return (
        "%s is plain http:// to %s: the API key would travel in clear text. Use https://, or set "
        "byok_allow_insecure_http: true if this network path is trusted (e.g. a proxy on the host)." % (name, host or url)
    )


def url_problem(name, url):
    """A sentence if ``url`` is not an http(s) URL usable as a base URL, else None."""
    if not _is_text(url) or not _URL.match(url.strip()):
        return "%s must be an http:// or https:// URL without query or fragment." % name
    return None


def _convert(kind, value):
    """Convert ``value`` to the client's type for ``kind``; raise ValueError if it cannot."""
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError("must be a whole number")
        if isinstance(value, int):
            converted = value
        elif _is_text(value) and re.match(r"^\s*\d+\s*$", value):
            converted = int(value)
        else:
            raise ValueError("must be a whole number")
        if converted <= 0:
            raise ValueError("must be a positive whole number")
        return converted
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if _is_text(value) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError("must be true or false")
    if kind == "effort":
        if _is_text(value) and value in REASONING_EFFORTS:
            return value
        raise ValueError("must be one of %s" % ", ".join(REASONING_EFFORTS))
    if kind == "headers":
        if isinstance(value, dict) and all(_is_text(k) and _is_text(v) for k, v in value.items()):
            return dict(value)
        raise ValueError("must be a mapping of header names to text values")
    if kind == "dict":
        if isinstance(value, dict):
            return dict(value)
        raise ValueError("must be a mapping")
    raise ValueError("has an unknown kind %s" % kind)  # pragma: no cover - programming error


def _optional_fields(where, item, problems):
    """The client's optional fields of one catalog or extra entry, camelCase, validated."""
    fields = {}
    for name, (camel, _legacy, kind) in OPTIONAL_FIELDS.items():
        if name not in item or item[name] is None:
            continue
        try:
            fields[camel] = _convert(kind, item[name])
        except ValueError as exc:
            problems.append("%s.%s %s." % (where, name, exc))
    return fields


def _unknown_fields(where, item, allowed, problems):
    unknown = sorted(str(k) for k in item if k not in allowed and k not in OPTIONAL_FIELDS)
    if unknown:
        problems.append("%s has unknown field(s) %s; known fields: %s." % (where, ", ".join(unknown), ", ".join(list(allowed) + list(OPTIONAL_FIELDS))))


def _check_catalog(catalog, problems):
    """Validated catalog as {id: entry}; appends problems for byok_catalog."""
    if not isinstance(catalog, list):
        problems.append("byok_catalog must be a list of {id, display_name, family} entries.")
        return {}
    known = {}
    for index, item in enumerate(catalog):
        where = "byok_catalog[%d]" % index
        if not isinstance(item, dict):
            problems.append("%s must be a mapping with id, display_name and family." % where)
            continue
        _unknown_fields(where, item, CATALOG_FIELDS, problems)
        model_id, name, family = item.get("id"), item.get("display_name"), item.get("family")
        if _blank(model_id) or not _is_text(model_id):
            problems.append("%s.id must be the LLMCloud model id, e.g. anthropic/claude-sonnet-4.5." % where)
            continue
        if _blank(name) or not _is_text(name):
            problems.append("%s.display_name (model %s) must be a non-empty name." % (where, model_id))
        if family not in FAMILIES:
            problems.append("%s.family (model %s) must be one of %s." % (where, model_id, ", ".join(FAMILIES)))
        if model_id in known:
            problems.append("byok_catalog lists model %s twice." % model_id)
        known[model_id] = item
    return known


def problems(
    catalog,
    models,
    extra_models,
    url,
    api_key,
    key_mode,
    openai_provider="openai",
    fmt="current",
    default_model="",
    users=None,
    preflight=False,
    prune=True,
    allow_insecure_http=False,
    local_settings="merge",
    verify="never",
    verify_command="droid",
):
    """Every problem with the role's variables, one sentence each naming the variable.

    An empty list means the input is good. No sentence contains an API key.
    """
    found = []
    known = _check_catalog(catalog, found)

    if not isinstance(models, list):
        found.append("byok_models must be a list of model ids from byok_catalog.")
        models = []
    seen = set()
    for model in models:
        if not _is_text(model) or model not in known:
            found.append(
                "byok_models: unknown model id %r. Known ids (byok_catalog): %s. Spell it exactly as the "
                "provider's catalog does, or add it to byok_catalog or byok_extra_models." % (model, ", ".join(sorted(known)) or "none")
            )
        elif model in seen:
            found.append("byok_models lists %s twice." % model)
        else:
            seen.add(model)  # text only: a dict or list item is not hashable

    url_error = url_problem("byok_llmcloud_url", url)
    if url_error:
        found.append(url_error)
    elif base_url(url).endswith("/v1"):
        found.append(
            "byok_llmcloud_url must be the Anthropic-family base URL without /v1 (the role adds /v1 for OpenAI-family models), e.g. https://llmcloud.studio."
        )

    if openai_provider not in OPENAI_FAMILY_PROVIDERS:
        found.append("byok_openai_family_provider must be one of %s." % ", ".join(OPENAI_FAMILY_PROVIDERS))
    if key_mode not in KEY_MODES:
        found.append("byok_key_mode must be one of %s." % ", ".join(KEY_MODES))
    if fmt == "both":
        found.append(
            "byok_format both is refused: droid %s list%s every model twice when settings.json and config.json both "
            "hold it (once under the role's id custom:llmcloud-..., once under a generated custom:<Name>-0). Every "
            "supported droid (%s) loads settings.json: use byok_format current. Use byok_format legacy (config.json "
            "only, which those clients load as well) only where droid older than %s must be served too."
            % (" and ".join(BOTH_FORMAT_DOUBLED_BY), "" if len(BOTH_FORMAT_DOUBLED_BY) > 1 else "s", ", ".join(SUPPORTED_CLIENTS), SUPPORTED_CLIENTS[0])
        )
    elif fmt not in FORMATS:
        found.append("byok_format must be one of %s." % ", ".join(f for f in FORMATS if f != "both"))
    if local_settings not in LOCAL_SETTINGS:
        found.append("byok_local_settings must be one of %s." % ", ".join(LOCAL_SETTINGS))
    if verify not in VERIFY:
        found.append("byok_verify must be one of %s (a word, not a boolean)." % ", ".join(VERIFY))
    if not _is_text(verify_command) or _blank(verify_command) or any(c in verify_command for c in "\r\n"):
        found.append("byok_verify_command must be the droid command: a name on the user's PATH or a path.")
    flags = {}
    for name, value in (("byok_prune", prune), ("byok_preflight", preflight)):
        try:
            flags[name] = _convert("bool", value)
        except ValueError:
            found.append("%s must be true or false." % name)
            flags[name] = False
    preflight = flags["byok_preflight"]

    _check_extra_models(extra_models, found)
    if not _convert_or(allow_insecure_http, False):
        urls = [("byok_llmcloud_url", url)] + [
            ("byok_extra_models[%d].base_url" % index, item.get("base_url"))
            for index, item in enumerate(extra_models if isinstance(extra_models, list) else [])
            if isinstance(item, dict)
        ]
        found.extend(problem for problem in (insecure_http_problem(name, value) for name, value in urls) if problem)

    if default_model not in (None, ""):
        problem = default_problem(_planned(known, models, extra_models), default_model) if _is_text(default_model) else None
        if not _is_text(default_model) or problem:
            found.append(problem or "byok_default_model %r is not one of the configured models (byok_models and byok_extra_models)." % (default_model,))
        elif fmt == "legacy":
            found.append(
                "byok_default_model needs byok_format current or both: the default model is kept in "
                "settings.json (sessionDefaultSettings), which the legacy format does not write."
            )

    if key_mode != "inline" and fmt in ("legacy", "both"):
        found.append(
            "byok_key_mode %s cannot be combined with byok_format %s: the client does not expand ${%s} "
            "in the legacy config.json. Use byok_format current, or byok_key_mode inline." % (key_mode, fmt, ENV_KEY_VARIABLE)
        )

    _check_key("byok_api_key", api_key, found, required=False)
    user_keys = _check_users(users, found)
    needs_key = key_mode in ("inline", "keychain") or preflight is True
    if needs_key and _blank(api_key) and (not user_keys or not all(user_keys)):
        reason = ("byok_key_mode is %s" % key_mode) if key_mode in ("inline", "keychain") else "byok_preflight is true"
        found.append(
            "byok_api_key is empty but %s: put the LLMCloud key in an ansible-vault encrypted file "
            "(ansible-vault create .../group_vars/all/vault.yml, as vault_llmcloud_api_key) and point "
            "byok_api_key at it, or give every entry of byok_users its own api_key." % reason
        )
    return _without_keys(found, api_key, users)


def _without_keys(sentences, api_key, users):
    """``sentences`` with every configured key masked: a sentence may quote a value the user gave
    (a default model, a display name), and a key pasted into the wrong variable must not be echoed."""
    keys = [api_key] + [u.get("api_key") for u in users or [] if isinstance(u, dict)]
    keys = sorted(set(k for k in keys if isinstance(k, str) and len(k.strip()) >= 6), key=len, reverse=True)
    masked = []
    for sentence in sentences:
        for key in keys:
            sentence = sentence.replace(key, "********")
        masked.append(sentence)
    return masked


def _planned(known, models, extra_models):
    """The role's entries as far as the default model needs them (model, displayName, id, where),
    in the order ``custom_models`` writes them; input problems are left to ``problems``."""
    planned = []
    for model in models:
        if _is_text(model) and model in known and isinstance(known[model], dict):
            planned.append({"model": model, "displayName": known[model].get("display_name"), "where": "byok_models"})
    for index, item in enumerate(extra_models if isinstance(extra_models, list) else []):
        if isinstance(item, dict) and _is_text(item.get("model")) and item["model"].strip():
            name = item.get("display_name") if _is_text(item.get("display_name")) and item["display_name"].strip() else item["model"]
            planned.append({"model": item["model"], "displayName": name, "where": "byok_extra_models[%d]" % index})
    for entry, entry_id in zip(planned, assign_ids([entry["model"] for entry in planned])):
        entry["id"] = entry_id
    return planned


def _convert_or(value, fallback):
    try:
        return _convert("bool", value)
    except ValueError:
        return fallback


def _check_key(name, key, found, required):
    if key is None or (_is_text(key) and key == ""):
        if required:
            found.append("%s is empty." % name)
        return
    if not _is_text(key):
        found.append("%s must be text (the LLMCloud API key)." % name)
    elif key != key.strip() or any(c in key for c in "\r\n\t"):
        found.append("%s has leading or trailing whitespace or a line break (often a newline from a file lookup); remove it." % name)
    elif key in ("YOUR_API_KEY", "YOUR_OPENAI_API_KEY"):
        found.append("%s is the guide's placeholder, which droid ignores: use the real key." % name)


def _check_extra_models(extra_models, found):
    if not isinstance(extra_models, list):
        found.append("byok_extra_models must be a list of {model, provider, display_name, ...} entries.")
        return []
    ids = []
    for index, item in enumerate(extra_models):
        where = "byok_extra_models[%d]" % index
        if not isinstance(item, dict):
            found.append("%s must be a mapping with at least model and provider." % where)
            continue
        _unknown_fields(where, item, EXTRA_MODEL_FIELDS, found)
        model, provider = item.get("model"), item.get("provider")
        if _blank(model) or not _is_text(model):
            found.append("%s.model must be the model id the endpoint expects." % where)
        else:
            ids.append(model)
        if provider in PROVIDERS_DROPPED_BY:
            versions = PROVIDERS_DROPPED_BY[provider]
            found.append(
                "%s.provider %r: droid %s drop%s the whole customModels list (every custom model, the developer's "
                "own included) when one entry has this provider, so the role refuses it. Use one of %s, which every "
                "supported droid (%s) loads; an OpenAI-compatible endpoint works with generic-chat-completion-api."
                % (where, provider, " and ".join(versions), "" if len(versions) > 1 else "s", ", ".join(ROLE_PROVIDERS), ", ".join(SUPPORTED_CLIENTS))
            )
        elif provider not in ROLE_PROVIDERS:
            found.append("%s.provider %r is not a provider the role can write; use one of %s." % (where, provider, ", ".join(ROLE_PROVIDERS)))
        name = item.get("display_name")
        if name is not None and (not _is_text(name) or _blank(name)):
            found.append("%s.display_name must be a non-empty name when given." % where)
        if item.get("base_url") is not None:
            error = url_problem("%s.base_url" % where, item.get("base_url"))
            if error:
                found.append(error)
        _optional_fields(where, item, found)
    return ids


def _check_users(users, found):
    """Validate byok_users; return, per user, whether it carries its own key."""
    if users is None:
        return []
    if not isinstance(users, list):
        found.append("byok_users must be a list of {name, home, api_key} entries (empty: the connecting user).")
        return []
    has_key = []
    names = set()
    for index, item in enumerate(users):
        where = "byok_users[%d]" % index
        if not isinstance(item, dict):
            found.append("%s must be a mapping with at least name." % where)
            continue
        unknown = sorted(str(k) for k in item if k not in USER_FIELDS)
        if unknown:
            found.append("%s has unknown field(s) %s; known fields: %s." % (where, ", ".join(unknown), ", ".join(USER_FIELDS)))
        name = item.get("name")
        if _blank(name) or not _is_text(name):
            found.append("%s.name must be the login name of a user on the host." % where)
        elif name in names:
            found.append("byok_users lists user %s twice." % name)
        else:
            names.add(name)
        home = item.get("home")
        if home is not None and (not _is_text(home) or not home.startswith(("/", "~"))):
            found.append("%s.home must be an absolute path when given." % where)
        key = item.get("api_key")
        _check_key("%s.api_key" % where, key, found, required=False)
        has_key.append(_is_text(key) and bool(key))
    return has_key


def _check_extra_models_or_raise(extra_models):
    found = []
    _check_extra_models(extra_models, found)
    if found:
        raise ByokError(found)


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
    if key_mode not in KEY_MODES:
        raise ByokError(["byok_key_mode must be one of %s." % ", ".join(KEY_MODES)])
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


def stable_id(model):
    """The explicit id the role writes for ``model``: ``custom:llmcloud-<model, lower case, [^a-z0-9._] -> '-'>``.

    droid uses a stored ``id`` as is (all four pinned versions: listed, selected with ``-m`` and
    used as ``sessionDefaultSettings.model``), so the id names the role's entry whatever else the
    file holds (twins of the display name, the developer's own entries, entries the client
    rewrote or renamed).
    """
    slug = re.sub(r"[^a-z0-9._]+", "-", str(model).lower()).strip("-.") or "model"
    return ID_PREFIX + slug


def check_entries(entries):
    """Validate ``customModels`` entries against the client's schema; raise ByokError if not.

    The client (since 0.133) silently drops invalid entries, so an invalid one must fail the run.
    """
    found = []
    types = {
        "model": str,
        "id": str,
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
    for index, entry in enumerate(entries):
        label = "customModels[%d] (%s)" % (index, entry.get("model"))
        for required in ("model", "provider", "baseUrl"):
            if _blank(entry.get(required)):
                found.append("%s: %s is required." % (label, required))
        if entry.get("provider") not in PROVIDERS:
            found.append("%s: provider must be one of %s." % (label, ", ".join(PROVIDERS)))
        if entry.get("baseUrl") and url_problem("baseUrl", entry["baseUrl"]):
            found.append("%s: baseUrl must be an http(s) URL." % label)
        for name, value in entry.items():
            expected = types.get(name)
            if expected is None:
                found.append("%s: unknown field %s." % (label, name))
            elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                found.append("%s: %s must be of type %s." % (label, name, expected.__name__))
        if entry.get("reasoningEffort") is not None and entry["reasoningEffort"] not in REASONING_EFFORTS:
            found.append("%s: reasoningEffort must be one of %s." % (label, ", ".join(REASONING_EFFORTS)))
        if "id" in entry and not (_is_text(entry["id"]) and entry["id"].startswith("custom:")):
            found.append("%s: id must start with custom:." % label)
        if entry.get("apiKey") in ("YOUR_API_KEY", "YOUR_OPENAI_API_KEY"):
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


def selector_name(name):
    """The client's normalisation of a display name: trimmed, whitespace runs -> '-'."""
    return re.sub(r"\s+", "-", name.strip())


def model_ids(entries):
    """The ids droid gives ``entries`` (settings.json or config.json shape), in order."""
    ids = []
    counts = {}
    for entry in entries:
        name = entry.get("displayName") or entry.get("model_display_name") or entry.get("model") or ""
        normalised = selector_name(name)
        number = counts.get(normalised, 0)
        counts[normalised] = number + 1
        ids.append(entry.get("id") or "custom:%s-%d" % (normalised, number))
    return ids


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


def targets(users):
    """Where to write, per user, without any key: a list of dicts.

    An empty ``users`` (byok_users) means the user Ansible runs as: ``~/.factory`` on the target.
    Each target: ``name`` (the login name, or None for the connecting user), ``index`` (into
    byok_users, or None), ``home`` (the home as given, or None: the json_merge module resolves
    the user's home on the target with ``pwd``), ``factory_dir`` (``<home>/.factory`` or
    ``~/.factory``; with ``name``, ``~`` is that user's home) and ``home_ref`` (a path to the
    home that ``expanduser`` resolves on the target: the home as given, ``~<name>`` or ``~``).
    """
    if not users:
        return [{"name": None, "index": None, "home": None, "factory_dir": "~/.factory", "home_ref": "~"}]
    found = []
    for index, user in enumerate(users):
        name = user["name"]
        home = (user.get("home") or "").rstrip("/") or None
        found.append(
            {
                "name": name,
                "index": index,
                "home": home,
                "factory_dir": (home or "~") + "/.factory",
                "home_ref": home or "~" + name,
            }
        )
    return found


def preflight_problems(results, wanted, url):
    """Turn the preflight's ``uri`` results into the provider guide's troubleshooting words.

    ``results`` is the registered loop result (or a list of results), one per checked key, each
    possibly carrying ``byok_user`` (the user name, for the message). ``wanted`` lists the model
    ids that must be in ``/v1/models``. No message contains a key.
    """
    if isinstance(results, dict):
        results = results.get("results", [results])
    endpoint = base_url(url) + "/v1/models"
    found = []
    for result in results or []:
        if not isinstance(result, dict) or result.get("skipped"):
            continue
        user = result.get("item")
        who = " (key of byok_users entry %s)" % user["name"] if isinstance(user, dict) and user.get("name") else ""
        status = result.get("status", -1)
        try:
            status = int(status)
        except (TypeError, ValueError):
            status = -1
        if status in (401, 403):
            found.append(
                "API key invalid or unauthorized%s: LLMCloud answered HTTP %d to GET %s. Check the key in the "
                "vault (byok_api_key / vault_llmcloud_api_key, or byok_users[].api_key) and the account's "
                "balance." % (who, status, endpoint)
            )
            continue
        if status <= 0:
            detail = _connection_detail(str(result.get("msg") or ""))
            found.append(
                "Unable to connect to API: GET %s failed (%s). Check byok_llmcloud_url (the Anthropic-family "
                "base URL, without /v1) and the network, proxy and TLS trust of the host." % (endpoint, detail)
            )
            continue
        if 300 <= status < 400:
            found.append(
                "Unable to connect to API%s: GET %s answered HTTP %d, a redirect to %s. The key is only sent to "
                "byok_llmcloud_url itself, so the preflight did not follow it: set byok_llmcloud_url to the address "
                "LLMCloud answers at (or fix the proxy in between)." % (who, endpoint, status, _redirect_target(result, endpoint))
            )
            continue
        if status != 200:
            found.append("LLMCloud answered HTTP %d to GET %s%s; expected 200. Check byok_llmcloud_url and LLMCloud's status." % (status, endpoint, who))
            continue
        listed = _listed_models(result.get("json"))
        if listed is None:
            found.append(
                "Unable to connect to API: GET %s did not return a model list; check that byok_llmcloud_url "
                "points at LLMCloud (or a proxy that passes /v1/models through)." % endpoint
            )
            continue
        missing = [model for model in wanted if model not in listed]
        if missing:
            found.append(
                "Model not found%s: %s not in the models LLMCloud offers this key (GET %s). Check the spelling "
                "in byok_models / byok_extra_models and that the subscription includes it." % (who, ", ".join(missing), endpoint)
            )
    return found


def _redirect_target(result, endpoint):
    """Where a redirect points, as scheme://host[:port][/path]: no user, password or query shown."""
    location = result.get("location") or ""
    if not _is_text(location) or not location.strip():
        return "an address it did not name"
    parts = urlsplit(location.strip())
    if not parts.netloc:
        parts = urlsplit(endpoint)._replace(path=parts.path)
    host = parts.hostname or ""
    if ":" in host:
        host = "[%s]" % host
    port = ":%d" % parts.port if parts.port else ""
    return "%s://%s%s%s" % (parts.scheme or "http", host, port, parts.path)


def _connection_detail(message):
    lowered = message.lower()
    if "refused" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered or "temporary failure in name" in lowered:
        return "DNS lookup failed"
    if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        return "TLS failure"
    if "timed out" in lowered or "timeout" in lowered:
        return "timed out"
    return "no HTTP answer"


def _listed_models(payload):
    if isinstance(payload, dict) and isinstance(payload.get("data"), list):
        return set(item.get("id") for item in payload["data"] if isinstance(item, dict))
    if isinstance(payload, list):
        return set(item.get("id") if isinstance(item, dict) else item for item in payload)
    return None


def llmcloud_models(entries, url):
    """The model ids among ``entries`` that are served at the role's two base URLs."""
    pattern = re.compile(prune_pattern(url))
    return [entry["model"] for entry in entries if pattern.match(entry.get("baseUrl") or entry.get("base_url") or "")]


# -- the files the role merges, and what it merges into each ------------------------------------
# Fields of an owned customModels entry the role keeps from the file: droid writes ``index`` (and
# ``id`` and ``noImageSupport``, which the role writes itself) into entries on its own.
CLIENT_FIELDS = ["id", "index"]
PROVIDER_URL = "https://llmcloud.studio"


def dead_block_pattern(url):
    """Base URLs of the provider guide's snake_case ``custom_models`` block inside settings.json.

    droid never loads that block; its LLMCloud entries (LLMCloud's own URL or the role's, with or
    without ``/v1`` and trailing slashes) hold the key in clear and are removed.
    """
    bases = sorted(set([base_url(PROVIDER_URL), base_url(url)]))
    return "^(?:%s)(?:/v1)?/*$" % "|".join(re.escape(b) for b in bases)


def merge_plan(targets_, fmt="current", local_settings="merge", default_model="", state="present"):
    """One json_merge call per user per file: the targets with ``kind``, ``path`` and ``only_if_keys``.

    kinds: ``settings`` (~/.factory/settings.json), ``local`` (settings.local.json, only when it
    holds customModels, which replace settings.json's list in every client version),
    ``local-default`` (settings.local.json, only when it holds sessionDefaultSettings, which
    replaces settings.json's whole object; only with a default model), ``legacy`` (config.json).
    With ``local_settings`` warn or fail the local calls run in check mode (``check`` true); with
    ignore there are none (one module call less per user, and settings.local.json is not looked at).

    With ``state`` absent (offboarding) the plan names every file the role may have written in any
    configuration, one call each: ``settings``, ``local`` (no ``only_if_keys``: its LLMCloud entries
    and a default pointing at one go, a file without them is left as it is) and ``legacy``.
    """
    if state == "absent":
        return [
            dict(target, kind=kind, path=target["factory_dir"] + "/" + name, only_if_keys=[], check=False)
            for target in targets_
            for kind, name in (("settings", "settings.json"), ("local", "settings.local.json"), ("legacy", "config.json"))
        ]
    plan = []
    for target in targets_:
        folder = target["factory_dir"]
        if fmt in ("current", "both"):
            plan.append(dict(target, kind="settings", path=folder + "/settings.json", only_if_keys=[], check=False))
        if fmt in ("current", "both") and local_settings != "ignore":
            check = local_settings != "merge"
            plan.append(dict(target, kind="local", path=folder + "/settings.local.json", only_if_keys=["/customModels"], check=check))
            if default_model:
                plan.append(dict(target, kind="local-default", path=folder + "/settings.local.json", only_if_keys=["/sessionDefaultSettings"], check=check))
        if fmt in ("legacy", "both"):
            plan.append(dict(target, kind="legacy", path=folder + "/config.json", only_if_keys=[], check=False))
    return plan


# Where a settings file keeps the developer's default model while the role's is in place: an
# unknown top-level key, which droid keeps (every supported version, its own rewrite included).
# Offboarding puts that default back (json_merge ``remember``).
PREVIOUS_DEFAULT = "/llmcloudPreviousDefaultModel"
REMEMBER = {"/sessionDefaultSettings/model": PREVIOUS_DEFAULT}


def merge_options(kind, url, prune=True):
    """The json_merge options of one call of ``merge_plan`` that hold no key: keyed_lists, prune,
    exact_items and remember (the developer's default model, where the role sets one)."""
    return dict(_merge_options(kind, url, prune), remember=dict(REMEMBER) if kind in ("settings", "local", "local-default") else {})


def _merge_options(kind, url, prune=True):
    prune = _convert("bool", prune)
    owned = {"/customModels": ["model", "baseUrl"]}
    owned_prune = {"/customModels": {"baseUrl": prune_pattern(url)}} if prune else {}
    if kind == "settings":
        keyed = dict(owned, **{"/custom_models": ["model", "base_url"]})
        pruned = dict(owned_prune, **{"/custom_models": {"base_url": dead_block_pattern(url)}})
        return {"keyed_lists": keyed, "prune": pruned, "exact_items": {"/customModels": CLIENT_FIELDS}}
    if kind == "local":
        return {"keyed_lists": owned, "prune": owned_prune, "exact_items": {"/customModels": CLIENT_FIELDS}}
    if kind == "local-default":
        return {"keyed_lists": {}, "prune": {}, "exact_items": {}}
    if kind == "legacy":
        legacy_prune = {"/custom_models": {"base_url": prune_pattern(url)}} if prune else {}
        return {"keyed_lists": {"/custom_models": ["model", "base_url"]}, "prune": legacy_prune, "exact_items": {"/custom_models": []}}
    raise ByokError(["unknown kind of settings file %r" % (kind,)])  # pragma: no cover - programming error


def merge_value(kind, entries, default_model=""):
    """The json_merge ``value`` of one call of ``merge_plan`` (it holds the key in inline mode)."""
    default = {}
    if default_model:
        default = {"sessionDefaultSettings": {"model": model_id(entries, default_model)}}
    if kind in ("settings", "local"):
        return dict({"customModels": entries}, **default)
    if kind == "local-default":
        return default
    if kind == "legacy":
        return {"custom_models": legacy_models(entries)}
    raise ByokError(["unknown kind of settings file %r" % (kind,)])  # pragma: no cover - programming error


def merge_args(kind, entries, url, default_model="", prune=True):
    """All json_merge options (value, keyed_lists, prune, exact_items) of one call of ``merge_plan``."""
    return dict(merge_options(kind, url, prune), value=merge_value(kind, entries, default_model))


def merge_files(
    plan, catalog, models, extra_models, url, api_key, users=None, key_mode="inline", openai_provider="openai", default_model="", prune=True, problems=None
):
    """json_merge's ``files`` for a whole plan: one module call per host instead of one per file.

    Each item: path, user, value (with the user's key: their ``byok_users[].api_key``, else
    ``api_key``), keyed_lists, prune, exact_items, only_if_keys and check_only (the plan's ``check``).
    ``problems`` (the role's input check, a list of sentences): when not empty, nothing is built and
    ByokError carries every one of them (the merge task then fails before anything is touched).
    """
    if problems:
        raise ByokError(list(problems))
    users = users or []
    entries_of = {}
    found = []
    for item in plan:
        index = item.get("index")
        key = api_key
        if index is not None and isinstance(users[index], dict) and users[index].get("api_key"):
            key = users[index]["api_key"]
        if key not in entries_of:
            entries_of[key] = custom_models(catalog, models, extra_models, url, key, key_mode, openai_provider=openai_provider)
        args = merge_args(item["kind"], entries_of[key], url, default_model, prune)
        found.append(
            dict(
                args,
                path=item["path"],
                user=item.get("name") or None,
                only_if_keys=list(item.get("only_if_keys") or []),
                check_only=bool(item.get("check")),
            )
        )
    return found


# -- what the real client resolves (byok_verify), judged on the controller ----------------------
SYSTEM_FILES = ("/etc/factory/settings.json", "/Library/Application Support/Factory/settings.json")
_LISTED = re.compile(r"(custom:\S+) \(([^)]*)\)")


def _parse_check(stdout):
    """The post-check script's output -> {droid, version, listing: [(id, name)], files: {path: text}}."""
    found = {"droid": None, "version": "", "listing": None, "files": {}}
    section, lines = None, []

    def close():
        if section == "listing":
            # the first "Available custom models:" block only (droid may print it on both streams)
            block = "\n".join(lines).split("Available custom models:")
            found["listing"] = _LISTED.findall(block[1].split("\n\n")[0]) if len(block) > 1 else []
        elif section is not None:
            found["files"][section] = "\n".join(lines)

    for line in (stdout or "").splitlines():
        if line.startswith("byok-check: "):
            close()
            section, lines = None, []
            marker = line[len("byok-check: ") :]
            if marker.startswith("droid="):
                found["droid"] = marker[len("droid=") :]
            elif marker.startswith("version="):
                found["version"] = marker[len("version=") :].strip()
            elif marker == "listing":
                section = "listing"
            elif marker.startswith("file "):
                section = marker[len("file ") :]
        elif section is not None:
            lines.append(line)
    close()
    return found


def _load(text):
    """A settings file's document, or None when it does not parse (JSON with comments)."""
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc import parse

    try:
        value = parse(text).value
    except Exception:  # any parse failure: the client drops such a file too
        return None
    return value if isinstance(value, dict) else None


def _version_tuple(text):
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text or "")
    return tuple(int(part) for part in match.groups()) if match else None


def client_problems(results, merges, entries, default_model="", local_settings="merge", verify="never", plan=None):
    """Judge what droid resolves for each user: {"problems": [...], "warnings": [...], "users": [...]}.

    ``results`` is the registered loop of the post-check script (one per user; skipped when
    byok_verify is never), ``merges`` the registered json_merge loop (its ``applied`` and
    ``changed`` for settings.local.json in warn/fail mode). Every sentence names the user and the
    file to fix; none carries a value from a file (the files may hold keys).

    ``users`` (for the fleet report, the byok_report callback): per user checked, ``user`` (name or
    None: the connecting user), ``droid`` (its path, or None when not found), ``version``, ``models``
    (the [id, name] pairs of the role's LLMCloud entries droid lists, in its order), ``missing``,
    ``default`` ({``model``, ``llmcloud``, ``source``}: where droid's default model resolves, whether
    that is one of the role's LLMCloud entries, and the file that decides it; ``model`` is None unless
    it is an id droid lists or has the shape of a custom model's id: any other value read from a file
    is never shown) and the user's ``problems``
    and ``warnings``.
    """
    problems, warnings = [], []
    users = []
    wanted = [(entry["id"], entry["displayName"]) for entry in entries if entry.get("id")]
    default_id = model_id(entries, default_model) if default_model else None

    for result in _results(merges, plan):
        item = result.get("item") or {}
        if item.get("kind") not in ("local", "local-default") or not result.get("applied") or not result.get("changed"):
            continue
        who = _who(item)
        path = result.get("path") or item.get("path")
        if item["kind"] == "local":
            sentence = (
                "%s: %s holds customModels, which replace the list in settings.json (every droid version), so "
                "droid does not list the LLMCloud models. Set byok_local_settings: merge to add them there, or "
                "remove customModels from that file." % (who, path)
            )
        else:
            sentence = (
                "%s: %s holds sessionDefaultSettings, which replaces the one in settings.json, so the default "
                "model is not %s. Set byok_local_settings: merge to set it there too, or remove "
                "sessionDefaultSettings from that file." % (who, path, default_id)
            )
        (problems if local_settings == "fail" else warnings).append(sentence)

    for result in _results(results):
        item = result.get("item") or {}
        who = _who(item)
        check = _parse_check(result.get("stdout"))
        before = (len(problems), len(warnings))
        user = {"user": item.get("name") or None, "droid": None, "version": "", "models": [], "missing": [], "default": None}
        users.append(user)
        _client_user(user, check, wanted, problems, warnings, who, entries, default_id, verify)
        user["problems"], user["warnings"] = problems[before[0] :], warnings[before[1] :]
    return {"problems": problems, "warnings": warnings, "users": users}


def _client_user(user, check, wanted, problems, warnings, who, entries, default_id, verify):
    """client_problems for one user's post-check: adds to ``problems`` and ``warnings``, fills ``user``."""
    if (check["droid"] or "").startswith("untrusted "):
        (problems if verify == "always" else warnings).append(
            "%s: %s was not run: root runs only a droid whose whole path is root's, and a user other than root "
            "can change this one (or a folder or link on its way); install droid under a root-owned path, or set "
            "byok_verify_command to one." % (who, check["droid"][len("untrusted ") :])
        )
        return
    user["droid"] = check["droid"] if check["droid"] not in (None, "missing") and not check["droid"].startswith("untrusted ") else None
    user["version"] = check["version"]
    if check["droid"] in (None, "missing"):
        if verify == "always":
            problems.append(
                "%s: droid was not found (on PATH or in ~/.local/bin) to check what it loads; set "
                "byok_verify_command to its path, or byok_verify: auto to skip users without it." % who
            )
        return
    if check["listing"] is None:
        problems.append("%s: %s did not list its custom models (droid exec --list-tools); run it as that user to see why." % (who, check["droid"]))
        return
    files = check["files"]
    home = [path for path in files if path.endswith("/.factory/settings.json")]
    user_file = home[0] if home else "~/.factory/settings.json"
    local_file = user_file[: -len("settings.json")] + "settings.local.json"
    docs = dict((path, _load(text)) for path, text in files.items())
    local = docs.get(local_file)
    version = _version_tuple(check["version"])
    reads_system = version is None or version >= (0, 134, 0)
    system = [path for path in SYSTEM_FILES if path in files] if reads_system else []

    for path in system:
        doc = docs.get(path)
        if doc is None:
            warnings.append("%s: droid drops the whole system file %s silently (it does not parse), and with it every org policy; fix that file." % (who, path))
            continue
        policy = doc.get("modelPolicy") if isinstance(doc.get("modelPolicy"), dict) else {}
        if policy.get("allowCustomModels") is False:
            problems.append(
                "%s: %s sets modelPolicy.allowCustomModels: false, so droid refuses every custom "
                "model, the LLMCloud ones included; change that file." % (who, path)
            )
        allowed = policy.get("allowedBaseUrls")
        if isinstance(allowed, list):
            refused = sorted(set(e["baseUrl"] for e in entries if not any(isinstance(a, str) and e["baseUrl"].startswith(a) for a in allowed)))
            if refused:
                problems.append(
                    "%s: %s limits custom models to modelPolicy.allowedBaseUrls, which does not allow %s; add it there." % (who, path, ", ".join(refused))
                )

    listed = check["listing"]
    missing = [model_id_ for model_id_, name in wanted if (model_id_, name) not in listed]
    ours = set(model_id_ for model_id_, _name in wanted)
    user["models"] = [[model_id_, name] for model_id_, name in listed if model_id_ in ours]
    user["missing"] = missing
    if missing:
        if isinstance(local, dict) and "customModels" in local:
            fix = "%s: its customModels replace settings.json's list (byok_local_settings: merge adds them)" % local_file
        elif any(isinstance(docs.get(p), dict) and _holds_id(docs[p], missing) for p in system):
            fix = "%s: an org entry there has the same id, and the org's entry wins" % system[0]
        else:
            fix = "%s (check its customModels with droid doctor --config)" % user_file
        problems.append("%s: droid does not list %s. The file to fix: %s." % (who, ", ".join(missing), fix))
    doubled = sorted(set(model_id_ for model_id_, _name in listed if [i for i, _n in listed].count(model_id_) > 1))
    if doubled:
        warnings.append("%s: droid lists %s more than once." % (who, ", ".join(doubled)))

    if isinstance(local, dict) and "sessionDefaultSettings" in local:
        source, settings = local_file, local.get("sessionDefaultSettings")
    else:
        source, settings = user_file, (docs.get(user_file) or {}).get("sessionDefaultSettings")
    effective = settings.get("model") if isinstance(settings, dict) else None
    # shown only when it is an id droid lists (or the role's), or has the shape of a custom model's id:
    # a value read from a file may be anything, a key pasted there too
    known = effective == default_id or effective in [i for i, _n in listed] or _custom_id_shape(effective)
    user["default"] = {"model": effective if known and _is_text(effective) else None, "llmcloud": effective in ours, "source": source}
    if default_id:
        if effective != default_id:
            shown = user["default"]["model"] or ("no model" if effective is None else "a model droid does not list")
            problems.append(
                "%s: droid's default model resolves to %s, not %s (byok_default_model), because of "
                "sessionDefaultSettings in %s; the file to fix: %s." % (who, shown, default_id, source, source)
            )
        elif default_id not in [i for i, _n in listed]:
            problems.append("%s: the default model %s is not among the models droid lists; the file to fix: %s." % (who, default_id, user_file))


def _custom_id_shape(value):
    """``custom:<name>`` (how droid names a custom model), short, and not looking like a credential."""
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils._json_merge import looks_like_credential

    return _is_text(value) and re.match(r"^custom:[A-Za-z0-9._-]{1,100}$", value) is not None and not looks_like_credential(value)


def _holds_id(doc, ids):
    models = doc.get("customModels")
    return isinstance(models, list) and any(isinstance(m, dict) and m.get("id") in ids for m in models)


def _results(registered, plan=None):
    """The results of a registered loop, or of a json_merge ``files`` task (then each gets its
    ``item`` from ``plan``, the list the files were made from, in the same order)."""
    if isinstance(registered, dict):
        registered = registered.get("results", [])
    found = [r for r in registered or [] if isinstance(r, dict) and not r.get("skipped")]
    if plan and len(plan) == len(found) and not any("item" in r for r in found):
        found = [dict(r, item=item) for r, item in zip(found, plan)]
    return found


def _who(item):
    return "user %s" % item["name"] if item.get("name") else "the connecting user"
