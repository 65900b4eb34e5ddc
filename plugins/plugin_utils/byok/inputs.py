# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role's variables as one object, and every problem with them at once (controller side).

``Inputs`` is built once from a task's variables (``Inputs.from_vars``): the names come from the
role's argument spec (``roles/byok/meta/argument_specs.yml``, entry point ``ENTRY_POINT``), each
``byok_*`` value as the play set it, else the spec's default. ``problems`` checks them against the
spec with ansible-core's own validator (types, choices, required sub-options: what Ansible's role
argument validation checks), then what the spec cannot say (models in the catalog, URLs, keys, the
combinations droid cannot load): every problem at once, one sentence each naming the variable, never
quoting a key (``_without_keys``). Choice lists are read from the spec (``choices``), never typed here.

Why the role checks the spec itself: ansible-core prepends a validation task to a role whose entry
point ``main`` has an argument spec, and that task costs every host a worker of its own (about a
quarter of the daily run, docs/performance.md). The spec's entry point is named ``byok`` so that
ansible-core adds no such task; ``ansible-doc -t role`` shows it as it showed ``main``.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
from urllib.parse import urlsplit

import yaml

from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok.client import (
    BOTH_FORMAT_DOUBLED_BY,
    ENV_KEY_VARIABLE,
    FAMILIES,
    MIN_SYSTEM_VERSION,
    OPENAI_FAMILY_PROVIDERS,
    OPTIONAL_FIELDS,
    PLACEHOLDER_KEYS,
    PROVIDERS_DROPPED_BY,
    REASONING_EFFORTS,
    ROLE_PROVIDERS,
    SUPPORTED_CLIENTS,
    assign_ids,
    base_url,
)

# The argument spec's one entry point: the role as a whole (tasks/main.yml), not named main (see above).
ENTRY_POINT = "byok"
SPEC_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "roles", "byok", "meta", "argument_specs.yml")
CATALOG_FIELDS = ("id", "display_name", "family")
EXTRA_MODEL_FIELDS = ("model", "provider", "display_name", "base_url")
USER_FIELDS = ("name", "home", "api_key")
# byok_keychain_entry names the key in the OS credential store and is written into shell profiles.
# It reaches `security -s` and `pass show` as an argument: never a leading "-" (an option) or "." ("..").
KEYCHAIN_ENTRY = re.compile(r"^[A-Za-z0-9_@+][A-Za-z0-9._/@+-]*$")

_URL = re.compile(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", re.IGNORECASE)
_TRUE = ("true", "yes", "on", "1", "y", "t")
_FALSE = ("false", "no", "off", "0", "n", "f")


@functools.lru_cache(maxsize=None)
def spec():
    """The options of the role's argument spec, entry point ``ENTRY_POINT`` (read once per process)."""
    # libyaml when present: a lookup's worker parses it once per host and task (about 2 ms with
    # libyaml, 30 ms without); the action plugin parses it once per run (plugins/action/byok_settings.py).
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(SPEC_PATH) as handle:
        return yaml.load(handle, Loader=loader)["argument_specs"][ENTRY_POINT]["options"]


@functools.lru_cache(maxsize=None)
def validator():
    """ansible-core's validator for the spec, as its role argument validation builds it (built once:
    it copies the whole spec)."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    return ArgumentSpecValidator(spec())


def spec_problems(values, params=()):
    """What ansible-core's role argument validation says of ``values`` (option name to value) and of
    the role's parameters ``params`` (the names given beside ``role:`` in ``roles:``; one the spec does
    not declare, a misspelt variable, is refused as ansible-core refused it), one message per
    problem, each naming the option: the same validator, spec and messages."""
    given = dict((name, _plain(value)) for name, value in values.items())
    given.update((str(name), None) for name in params if name not in given)
    result = validator().validate(given)
    return [message if message.endswith((".", "!", "?")) else message + "." for message in result.error_messages]


def _plain(value):
    """``value`` with ansible-core's tagged and lazy containers made plain (dict, list, str, ...): the
    validator deep-copies what it validates, and copying tagged values cost about 30 ms a host."""
    if isinstance(value, dict):
        return dict((_plain(key), _plain(item)) for key, item in value.items())
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in value)
    for kind in (str, int, float):  # bool is final: a tagged bool does not exist
        if isinstance(value, kind) and not isinstance(value, bool):
            return kind(value)
    return value


# The variables the role's rules judge by another one: with that one wrongly typed, their sentences
# would blame them for it (every byok_models id "unknown" when byok_catalog is not a catalog).
_JUDGED_BY = {"byok_models": {"byok_catalog"}, "byok_default_model": {"byok_catalog", "byok_models", "byok_extra_models"}}


def _named(sentence):
    """The option a sentence of ``problems`` is about: its first word, up to ``[`` or ``.``."""
    return re.split(r"[\s\[.]", sentence, maxsplit=1)[0]


def choices(name):
    """The choices the argument spec declares for the role variable ``name``."""
    return tuple(spec()[name].get("choices") or ())


class ByokError(ValueError):
    """Bad role input. ``problems`` lists one sentence per problem, each naming the variable."""

    def __init__(self, problems):
        self.problems = list(problems)
        super(ByokError, self).__init__(" ".join(self.problems))


def _is_text(value):
    return isinstance(value, str)


def _blank(value):
    return value is None or (_is_text(value) and not value.strip())


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
    state="present",
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
    if key_mode not in choices("byok_key_mode"):
        found.append("byok_key_mode must be one of %s." % ", ".join(choices("byok_key_mode")))
    if fmt == "both":
        found.append(
            "byok_format both is refused: droid %s list%s every model twice when settings.json and config.json both "
            "hold it (once under the role's id custom:llmcloud-..., once under a generated custom:<Name>-0). Every "
            "supported droid (%s) loads settings.json: use byok_format current. Use byok_format legacy (config.json "
            "only, which those clients load as well) only where droid older than %s must be served too."
            % (" and ".join(BOTH_FORMAT_DOUBLED_BY), "" if len(BOTH_FORMAT_DOUBLED_BY) > 1 else "s", ", ".join(SUPPORTED_CLIENTS), SUPPORTED_CLIENTS[0])
        )
    elif fmt not in choices("byok_format"):
        found.append("byok_format must be one of %s." % ", ".join(f for f in choices("byok_format") if f != "both"))
    if local_settings not in choices("byok_local_settings"):
        found.append("byok_local_settings must be one of %s." % ", ".join(choices("byok_local_settings")))
    if verify not in choices("byok_verify"):
        found.append("byok_verify must be one of %s (a word, not a boolean)." % ", ".join(choices("byok_verify")))
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
        # imported here: entries imports this module for its checks
        from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok.entries import default_problem

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
    # Offboarding (state absent) removes the role's entries: it needs no key.
    needs_key = state == "present" and (key_mode in ("inline", "keychain") or preflight is True)
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
    keys = [api_key] + [u.get("api_key") for u in (users if isinstance(users, list) else []) if isinstance(u, dict)]
    keys = sorted(set(k for k in keys if isinstance(k, str) and len(k.strip()) >= 6), key=len, reverse=True)
    if not any(key in sentence for key in keys for sentence in sentences):
        return list(sentences)
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils._redact import MASK

    masked = []
    for sentence in sentences:
        for key in keys:
            sentence = sentence.replace(key, MASK)
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
    elif key in PLACEHOLDER_KEYS:
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


def system_problems(
    scope="user",
    state="present",
    key_mode="inline",
    settings_path="",
    fallback="user",
    min_version=MIN_SYSTEM_VERSION,
    droid_paths=None,
    allow_other_custom_models=True,
    allow_factory_models=True,
):
    """Every problem with the machine-scope variables, one sentence each naming the variable.

    Checked on every run, whatever the scope, so that a mistyped variable fails before any file
    is touched (Ansible's argument spec turns a list given for a str option into text)."""
    found = []
    if scope not in choices("byok_scope"):
        found.append("byok_scope must be one of %s." % ", ".join(choices("byok_scope")))
    if state not in choices("byok_state"):
        found.append("byok_state must be one of %s." % ", ".join(choices("byok_state")))
    if fallback not in choices("byok_system_fallback"):
        found.append("byok_system_fallback must be one of %s." % ", ".join(choices("byok_system_fallback")))
    if not isinstance(settings_path, str) or (settings_path and not settings_path.startswith("/")):
        found.append("byok_system_settings_path must be empty (by the host's OS) or an absolute path, e.g. /etc/factory/settings.json.")
    if not isinstance(min_version, str) or not re.match(r"^\d+\.\d+\.\d+$", min_version.strip()):
        found.append("byok_system_min_version must be a version x.y.z, e.g. 0.215.0.")
    if not isinstance(droid_paths, list) or not all(isinstance(p, str) and p.strip() for p in droid_paths):
        found.append("byok_droid_paths must be a list of command names or paths (e.g. droid, /usr/local/bin/droid).")
    restricted = allow_other_custom_models is False or allow_factory_models is False
    if scope == "user" and restricted:
        found.append(
            "byok_org_allow_other_custom_models and byok_org_allow_factory_models are org policy, written "
            "into the system-managed settings file: set byok_scope system or both (a policy in a user's own "
            "file is not a fleet control: any project's .factory/settings.json overrides it)."
        )
    if scope in ("system", "both") and state == "present" and key_mode == "inline":
        found.append(
            "byok_scope %s needs byok_key_mode env or keychain: the system-managed settings file is "
            "world-readable (0644), so it refers to ${LLMCLOUD_API_KEY} and never holds a key; each "
            "developer gets the key from the OS credential store (keychain) or their environment (env)." % scope
        )
    return found


class _Values(dict):
    """The role's variables by option name, each read from the play on first use (else the spec's default)."""

    def __init__(self, options, get):
        super(_Values, self).__init__()
        self._options = options
        self._get = get

    def __missing__(self, name):
        option = self._options[name]  # a KeyError names an option the argument spec does not have
        try:
            value = self._get(name)
        except KeyError:
            value = option.get("default")
        self[name] = value
        return value


def reader(template, variables):
    """``get`` for ``Inputs.from_vars``: a role variable as ``template`` (the task's templar) renders it;
    KeyError when the play does not set it. A variable whose expression fails (a vault lookup that
    cannot log in, an undefined name) raises ByokError naming the variable and the expressions in it
    that fail, never a literal value (a key may be one; an expression is the play's source)."""

    def get(name):
        raw = variables[name]
        try:
            return template(raw)
        except Exception as exc:  # pylint: disable=broad-except  # any templating error: say which variable
            failing = []
            for where, expression in _expressions(raw, name):
                try:
                    template(expression)
                except Exception:  # pylint: disable=broad-except
                    failing.append("%s: %s" % (where, _quoted(expression)))
            raise ByokError(["%s could not be read: %s%s" % (name, " ".join(str(exc).split()), (" (in %s)" % "; ".join(failing)) if failing else "")]) from exc

    return get


_LITERAL = re.compile(r"'[^'\\]*'|\"[^\"\\]*\"")


def _quoted(expression):
    """An expression as the play wrote it, on one line, each string literal that could be a key
    masked (a path or a name stays: it says which secret failed)."""
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils._redact import MASK

    def literal(match):
        text = match.group(0)[1:-1]
        plain = (
            re.fullmatch(r"[A-Za-z0-9_./:@-]*", text)
            and (len(text) < 16 or "/" in text or re.fullmatch(r"[a-z_]+(\.[a-z0-9_]+)+", text))
            and not re.search(r"\d{4}", text)
        )
        return match.group(0) if plain else match.group(0)[0] + MASK + match.group(0)[0]

    return _LITERAL.sub(literal, " ".join(str(expression).split()))


def _expressions(raw, where):
    """(where, string) of every string in ``raw`` that is a Jinja expression (never a literal value),
    as the play gave it (ansible-core renders only strings it trusts as templates: kept, not copied)."""
    if isinstance(raw, dict):
        for key, item in raw.items():
            yield from _expressions(item, "%s.%s" % (where, key))
    elif isinstance(raw, (list, tuple)):
        for index, item in enumerate(raw):
            yield from _expressions(item, "%s[%d]" % (where, index))
    elif isinstance(raw, str) and ("{{" in raw or "{%" in raw):
        yield where, raw


class Inputs(object):
    """The role's variables, read once per host: ``values`` maps every option of the argument spec
    (entry point ``ENTRY_POINT``) to the value the play gave it (else the spec's default).

    ``problems()`` is every problem at once; the other methods build what the tasks need from the
    values (imported lazily: ``entries`` and ``plan`` import this module for its checks)."""

    def __init__(self, values):
        self.values = values if isinstance(values, _Values) else dict(values)
        self.params = ()

    @classmethod
    def from_vars(cls, get, params=()):
        """``get(name)`` returns a variable's value or raises KeyError when the play does not set it.
        Each value is read when first used, then kept: the daily-run decision reads six variables
        and no key; the checks and the files read every option once. ``params``: the names of the
        role's parameters (``spec_problems``)."""
        inputs = cls(_Values(spec(), get))
        inputs.params = tuple(params)
        return inputs

    def __getitem__(self, name):
        return self.values[name]

    def all_values(self):
        """Every option of the argument spec with its value (reads those not read yet)."""
        return {name: self.values[name] for name in spec()}

    def problems(self):
        """Every problem with the variables, one sentence each naming the variable, no key quoted:
        first what the argument spec says (ansible-core's messages), then the role's own checks of
        every variable the spec found no fault with."""
        v = self.values
        typed = spec_problems(self.all_values(), self.params)
        faulty = set(name for name in spec() for message in typed if re.search(r"\b%s\b" % re.escape(name), message))
        faulty.update(name for name, depends in _JUDGED_BY.items() if depends & faulty)
        if not typed:
            found = self._problems()
        else:  # wrongly typed values: the role's checks assume the spec's types; they say what they can
            try:
                found = self._problems()
            except (TypeError, ValueError, AttributeError, KeyError):
                found = []
        return _without_keys(typed + [sentence for sentence in found if _named(sentence) not in faulty], v["byok_api_key"], v["byok_users"])

    def _problems(self):
        v = self.values
        found = problems(
            v["byok_catalog"],
            v["byok_models"],
            v["byok_extra_models"],
            v["byok_llmcloud_url"],
            v["byok_api_key"],
            v["byok_key_mode"],
            openai_provider=v["byok_openai_family_provider"],
            fmt=v["byok_format"],
            default_model=v["byok_default_model"],
            users=v["byok_users"],
            preflight=v["byok_preflight"],
            prune=v["byok_prune"],
            allow_insecure_http=v["byok_allow_insecure_http"],
            local_settings=v["byok_local_settings"],
            verify=v["byok_verify"],
            verify_command=v["byok_verify_command"],
            state=v["byok_state"],
        )
        entry = v["byok_keychain_entry"]
        if not _is_text(entry) or not KEYCHAIN_ENTRY.match(entry):
            found.append(
                "byok_keychain_entry must be a name made of letters, digits and . _ / @ + -, not starting with - or . (it "
                "names the key in the OS credential store and appears in the shell profiles), e.g. "
                "llmcloud/factory-droid-api-key."
            )
        found += system_problems(
            v["byok_scope"],
            state=v["byok_state"],
            key_mode=v["byok_key_mode"],
            settings_path=v["byok_system_settings_path"],
            fallback=v["byok_system_fallback"],
            min_version=v["byok_system_min_version"],
            droid_paths=v["byok_droid_paths"],
            allow_other_custom_models=v["byok_org_allow_other_custom_models"],
            allow_factory_models=v["byok_org_allow_factory_models"],
        )
        return found

    def check(self):
        """Raise ByokError with every problem, if there is any."""
        found = self.problems()
        if found:
            raise ByokError(found)
        return self

    def daily(self):
        """True when this configuration needs nothing but the merge (no step before or after it)."""
        v = self.values
        return (
            v["byok_state"] == "present"
            and v["byok_key_mode"] == "inline"
            and v["byok_scope"] == "user"
            and not _convert_or(v["byok_preflight"], True)
            and v["byok_verify"] == "never"
            and v["byok_local_settings"] not in ("warn", "fail")
        )

    def targets(self):
        from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import plan

        return plan.targets(self.values["byok_users"])

    def merge_plan(self):
        from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import plan

        v = self.values
        return plan.merge_plan(self.targets(), v["byok_format"], v["byok_local_settings"], v["byok_default_model"])

    def offboard_plan(self):
        from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import plan

        return plan.merge_plan(self.targets(), state="absent")

    def entries(self):
        """The role's entries without any key (``${LLMCLOUD_API_KEY}``), for checks and the system file."""
        from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import entries

        return entries.role_entries(self.values, None, "env")

    def offboard_entries(self):
        """The role's entries as json_merge's offboard option takes them: the identity fields only."""
        return [dict((k, e[k]) for k in ("model", "id", "baseUrl") if k in e) for e in self.entries()]

    def files(self):
        """json_merge's ``files``: every file of every user, with the user's key (checks first)."""
        from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import entries, plan

        v = self.check().values
        return plan.merge_files(
            self.merge_plan(),
            v["byok_catalog"],
            v["byok_models"],
            v["byok_extra_models"],
            v["byok_llmcloud_url"],
            v["byok_api_key"],
            v["byok_users"],
            v["byok_key_mode"],
            openai_provider=v["byok_openai_family_provider"],
            default_model=v["byok_default_model"],
            prune=v["byok_prune"],
            entries_for=lambda key: entries.role_entries(v, key),
        )

    def system_plan(self, probe_stdout):
        """Where the models go on this host, from the probe's output (OS and droid clients)."""
        from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import system

        v = self.values
        return system.plan(probe_stdout, v["byok_scope"], v["byok_system_fallback"], v["byok_system_min_version"], v["byok_system_settings_path"] or "")

    def system_document(self):
        """The document merged into the system-managed settings file, checked by the client's rules."""
        from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import system

        v = self.values
        return system.system_document(
            self.entries(),
            v["byok_llmcloud_url"],
            v["byok_default_model"] or "",
            _convert_or(v["byok_org_allow_other_custom_models"], True),
            _convert_or(v["byok_org_allow_factory_models"], True),
        )

    def system_url_pattern(self):
        """The role's base URLs in the system file: with or without /v1 and a trailing slash."""
        from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok.client import url_pattern

        return url_pattern(self.values["byok_llmcloud_url"], "/?")

    def user_key(self, index):
        """The key of byok_users[index] (its own api_key, else byok_api_key); byok_api_key for None."""
        users = self.values["byok_users"] or []
        if index is not None and isinstance(users[index], dict) and users[index].get("api_key"):
            return users[index]["api_key"]
        return self.values["byok_api_key"]
