# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Who gets which files, and what json_merge merges into each (its ``files`` option)."""

from __future__ import annotations

from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok.client import CLIENT_FIELDS, REMEMBER, dead_block_pattern, prune_pattern
from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok.entries import custom_models, legacy_models, model_id
from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok.inputs import ByokError, _convert


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
    plan,
    catalog,
    models,
    extra_models,
    url,
    api_key,
    users=None,
    key_mode="inline",
    openai_provider="openai",
    default_model="",
    prune=True,
    problems=None,
    entries_for=None,
):
    """json_merge's ``files`` for a whole plan: one module call per host instead of one per file.

    Each item: path, user, value (with the user's key: their ``byok_users[].api_key``, else
    ``api_key``), keyed_lists, prune, exact_items, only_if_keys and check_only (the plan's ``check``).
    ``problems`` (the role's input check, a list of sentences): when not empty, nothing is built and
    ByokError carries every one of them (the merge task then fails before anything is touched).
    ``entries_for(key)``, when given, builds the entries with a key (``Inputs.files`` passes
    ``entries.role_entries``, so a variable shaping the entries is read in one place).
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
            if entries_for is not None:
                entries_of[key] = entries_for(key)
            else:
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
