# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the json_merge module needs to know about droid on a target (private to this collection).

This is the only file of the byok domain that runs on a target (json_merge's ``offboard`` option):
Python 3.8 and newer, standard library only, no other program. Everything else about droid, and
everything that runs only on the controller, is in ``plugins/plugin_utils/byok/`` (``client.py``
imports the facts below from here and never types them again).

The facts (measured with each pinned droid client; tests/role/test_conformance.py asks them again):
- ``"${LLMCLOUD_API_KEY}"`` as ``apiKey`` is expanded by the client from its environment;
- the Anthropic family talks to ``<url>/v1/messages`` (base URL without ``/v1``), the OpenAI family
  to ``<url>/v1/responses`` (base URL with ``/v1``): the role's entries sit at those two base URLs;
- a model's id is the entry's stored ``id``; without one the client generates
  ``custom:<display name, whitespace runs as '-'>-<n>``, n counting the entries of that name;
- a settings file's unknown top-level keys survive the client's own rewrite, so the developer's
  default model is kept under ``llmcloudPreviousDefaultModel`` while the role's is in place.
No message built here contains an API key.
"""

from __future__ import annotations

import re

ENV_KEY_VARIABLE = "LLMCLOUD_API_KEY"
ENV_KEY_REFERENCE = "${%s}" % ENV_KEY_VARIABLE
# LLMCloud's own address, as the provider guide writes it (its dead custom_models block uses it).
PROVIDER_URL = "https://llmcloud.studio"
# Where a settings file keeps the developer's default model while the role's is in place.
PREVIOUS_DEFAULT = "/llmcloudPreviousDefaultModel"
REMEMBER = {"/sessionDefaultSettings/model": PREVIOUS_DEFAULT}


def base_url(url):
    """The Anthropic-family base URL: ``url`` without surrounding blanks and trailing slashes."""
    return (url or "").strip().rstrip("/")


def url_pattern(urls, trailing=""):
    """The one builder of the role's base-URL patterns: an anchored regex matching each of ``urls``
    (a URL or a list) as its Anthropic-family base URL or with ``/v1`` (the OpenAI family), followed
    by ``trailing`` (a regex: "" exactly those, "/?" one optional slash, "/*" any slashes)."""
    if isinstance(urls, str):
        urls = [urls]
    bases = sorted(set(base_url(u) for u in urls if u))
    return "^(?:%s)(?:/v1)?%s$" % ("|".join(re.escape(b) for b in bases), trailing)


def dead_block_pattern(url):
    """Base URLs of the provider guide's snake_case ``custom_models`` block inside settings.json
    (droid never loads it; its LLMCloud entries hold the key in clear and are removed)."""
    return url_pattern([PROVIDER_URL, url], "/*")


def selector_name(name):
    """The client's normalisation of a display name: trimmed, whitespace runs -> '-'."""
    return re.sub(r"\s+", "-", str(name).strip())


def client_ids(models):
    """The id the client resolves for each entry (settings.json or config.json shape), in order:
    its stored ``id``, else ``custom:<selector name>-<n>``; None for an item that is not an object."""
    counts = {}
    ids = []
    for entry in models:
        if not isinstance(entry, dict):
            ids.append(None)
            continue
        name = selector_name(entry.get("displayName") or entry.get("model_display_name") or entry.get("model") or "")
        number = counts.get(name, 0)
        counts[name] = number + 1
        stored = entry.get("id")
        ids.append(stored if isinstance(stored, str) and stored else "custom:%s-%d" % (name, number))
    return ids


def offboard(text, url, extra_urls=None, system=False, entries=None, kind="settings", parsed=False):
    """What ``state: absent`` removes from one settings file, given its current text (with
    ``parsed``: its parsed value, as json_merge's ``offboard`` option passes it, read as the user).

    ``kind`` is the file's kind in the role's offboarding plan (``settings``, ``local`` or
    ``legacy``); ``entries`` are the role's entries (no key needed). Returns ``{"value",
    "keyed_lists", "prune", "remove_file", "models", "remember"}``, the json_merge options for state
    absent: the role's entries (by the identity the present run uses: ``model`` and ``baseUrl``,
    ``id`` in the system file) and every entry at the role's base URLs (pruned), the
    ``sessionDefaultSettings.model`` only when it is the id of one of them or one of the role's ids,
    and in the system file the policy keys the role writes (``allowedBaseUrls`` when it lists only
    the role's URLs, ``allowAllFactoryModels: false``). A container left empty (``customModels``,
    ``sessionDefaultSettings``, ``modelPolicy``) is removed with it: an empty ``customModels`` in
    ``settings.local.json`` would hide every model of ``settings.json`` (the client replaces the
    array). In ``settings.json`` the provider guide's dead ``custom_models`` block loses its LLMCloud
    entries too. ``remove_file`` is true for a system file that would hold nothing else afterwards.
    A file that is absent or does not parse gives a value that names only the role's entries (the
    merge then reports a parse error with line and column).
    """
    entries = [e for e in entries or [] if isinstance(e, dict)]
    pattern = url_pattern([url] + [u for u in (extra_urls or []) if u], "/?")
    compiled = re.compile(pattern)
    role_ids = set(e["id"] for e in entries if isinstance(e.get("id"), str))
    if kind == "legacy":
        key, fields = "custom_models", ["model", "base_url"]
        wanted = [{"model": e["model"], "base_url": e["baseUrl"]} for e in entries]
    elif system:
        key, fields = "customModels", ["id"]
        wanted = [{"id": e["id"]} for e in entries if e.get("id")]
    else:
        key, fields = "customModels", ["model", "baseUrl"]
        wanted = [{"model": e["model"], "baseUrl": e["baseUrl"]} for e in entries]
    url_field = "base_url" if kind == "legacy" else "baseUrl"
    keyed = {"/" + key: fields}
    prune = {"/" + key: {url_field: pattern}}
    if kind == "settings" and not system:
        keyed["/custom_models"] = ["model", "base_url"]
        prune["/custom_models"] = {"base_url": dead_block_pattern(url)}
    value = {key: wanted}
    # the developer's default, kept while the role's was in place, goes back (user files only)
    remember = dict(REMEMBER) if kind != "legacy" and not system else {}
    result = {"value": value, "keyed_lists": keyed, "prune": prune, "remove_file": False, "models": 0, "remember": remember}
    if parsed:
        doc = text
    else:
        # the parser only here: the controller imports this module for its facts, never to parse
        from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc import JSONCError, parse

        try:
            doc = parse(text, allow_empty=True).value if text is not None else None
        except JSONCError:
            doc = None
    if not isinstance(doc, dict):
        return result

    identities = set(tuple(w[f] for f in fields) for w in wanted)
    models = doc.get(key)
    ours_ids = set()
    ours = 0
    if isinstance(models, list):
        for entry, ident in zip(models, client_ids(models)):
            if not isinstance(entry, dict):
                continue
            base = entry.get(url_field)
            if (isinstance(base, str) and compiled.match(base)) or tuple(entry.get(f) for f in fields) in identities:
                ours += 1
                ours_ids.add(ident)
    result["models"] = ours
    if kind == "legacy":
        return result
    # a container left empty by the removal goes too: it held only what the role wrote (and in
    # settings.local.json an empty customModels would hide every model of settings.json)
    if isinstance(models, list) and models and ours == len(models):
        value[key] = None
    defaults = doc.get("sessionDefaultSettings")
    default_removed = False
    if isinstance(defaults, dict) and (defaults.get("model") in ours_ids or defaults.get("model") in role_ids):
        default_removed = True
        value["sessionDefaultSettings"] = None if len(defaults) == 1 else {"model": None}
    rules = doc.get("modelPolicy")
    policy_left = {}
    if system and isinstance(rules, dict):
        removed = {}
        allowed = rules.get("allowedBaseUrls")
        if isinstance(allowed, list) and allowed and all(isinstance(u, str) and compiled.match(u) for u in allowed):
            removed["allowedBaseUrls"] = None
        if rules.get("allowAllFactoryModels") is False:
            removed["allowAllFactoryModels"] = None
        policy_left = dict((k, v) for k, v in rules.items() if k not in removed)
        if removed:
            value["modelPolicy"] = None if not policy_left else removed
    if system:
        left = dict(doc)
        left.pop("customModels", None)
        left.pop("modelPolicy", None)
        if isinstance(defaults, dict):
            rest = dict((k, v) for k, v in defaults.items() if not (k == "model" and default_removed))
            if rest:
                left["sessionDefaultSettings"] = rest
            else:
                left.pop("sessionDefaultSettings", None)
        others = isinstance(models, list) and len(models) > ours
        result["remove_file"] = not left and not policy_left and not others
    return result
