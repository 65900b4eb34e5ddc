# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The system-managed settings file (byok_scope system or both): where it is, which client judges
it, and the document with the org policy (controller side).

- droid 0.215.0 and newer read it (``client.SYSTEM_PATHS``); older clients ignore it.
- It fails open: malformed or schema-invalid, the whole org level (policy included) is dropped
  silently, so the document is checked here by the client's rules before it is written.
- It must be world-readable (``0644``), so ``apiKey`` is only ever ``${LLMCLOUD_API_KEY}``.
- ``modelPolicy.allowedBaseUrls`` is a raw string prefix on 0.109.3/0.117.0: ``["<url>/"]`` with
  every ``baseUrl`` written with a trailing slash is the form safe on every version.
- Its entries carry the ids the user files' entries carry (``client.stable_id``): with
  ``byok_scope: both`` droid lists each model once (the org's entry hides the user's of the same id).
No message built here contains an API key.
"""

from __future__ import annotations

import re

from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok.client import (
    CUSTOM_ID,
    ENTRY_TYPES,
    ENV_KEY_REFERENCE,
    MIN_SYSTEM_VERSION,
    POLICY_TYPES,
    PROVIDERS,
    SYSTEM_PATHS,
    version_tuple,
)
from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok.entries import default_candidates, default_problem
from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok.inputs import ByokError

_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")


def parse_probe(stdout):
    """The probe script's lines -> {"os": uname -s, "clients": [{"path", "version", "as"}], "untrusted":
    [{"path", "owner", "at"}]} (unique paths). ``as`` is the developer a client was run as ("" for the
    user Ansible works as); an untrusted program was not run at all."""
    found = {"os": "", "clients": [], "untrusted": []}
    seen = set()
    for line in (stdout or "").splitlines():
        if line.startswith("os="):
            found["os"] = found["os"] or line[3:].strip()
        elif line.startswith("droid="):
            rest, _sep, label = line[6:].partition(" as=")
            path, _sep, version = rest.partition(" version=")
            path = path.strip()
            if path and (path, label.strip()) not in seen:
                seen.add((path, label.strip()))
                found["clients"].append({"path": path, "version": version.strip(), "as": label.strip()})
        elif line.startswith("untrusted="):
            rest, _sep, at = line[10:].partition(" at=")
            path, _sep, owner = rest.partition(" owner=")
            if path.strip() and path.strip() not in seen:
                seen.add(path.strip())
                found["untrusted"].append({"path": path.strip(), "owner": owner.strip(), "at": at.strip()})
    return found


def plan(probe_stdout, scope="system", fallback="user", min_version=MIN_SYSTEM_VERSION, path=""):
    """Decide where the models go on this host.

    Returns ``os``, ``path`` (of the system file), ``clients`` (each with ``path``, ``version``,
    ``system`` = reads the system file, ``as`` = the developer it was run as, or ""), ``untrusted``
    (programs not run: someone other than root could change them), ``validator`` (the newest client
    able to judge the file among those the probe ran as the user Ansible works as, whose whole path
    only that user can change; "" when none), ``scope`` (effective: the requested one, or ``user``
    after a fallback), ``problem`` (a sentence when the run must fail), ``notice`` (a sentence to
    report, or "") and ``probed`` (a sentence saying which clients were run as whom, and which not).
    A developer's own client is run only as that developer and only tells which version they use:
    it never judges the system file root swaps in.
    """
    probe = parse_probe(probe_stdout)
    minimum = version_tuple(min_version) or version_tuple(MIN_SYSTEM_VERSION)
    result = {
        "os": probe["os"],
        "path": path or SYSTEM_PATHS.get(probe["os"], ""),
        "clients": [],
        "untrusted": probe["untrusted"],
        "validator": "",
        "scope": scope,
        "problem": "",
        "notice": "",
        "probed": "",
    }
    newest = None
    for client in probe["clients"]:
        version = version_tuple(client["version"])
        reads = version is not None and version >= minimum
        result["clients"].append({"path": client["path"], "version": client["version"], "system": reads, "as": client["as"]})
        if reads and not client["as"] and (newest is None or version > newest[0]):
            newest = (version, client["path"])
    said = []
    for client in result["clients"]:
        said.append("%s (%s) run as %s" % (client["path"], client["version"] or "version unknown", client["as"] or "the user Ansible works as"))
    for item in probe["untrusted"]:
        said.append(
            "%s not run: %s (uid %s) could change it, so it is neither run as root nor trusted to judge the system file"
            % (item["path"], item["at"] or "a folder on its way", item["owner"] or "unknown")
        )
    result["probed"] = "droid clients: %s." % "; ".join(said) if said else ""
    if newest:
        result["validator"] = newest[1]
    if not result["path"]:
        result["problem"] = (
            "byok_scope %s: no system-managed settings path is known for %s (uname -s); droid reads it on Linux "
            "(/etc/factory/settings.json) and macOS (/Library/Application Support/Factory/settings.json). Set "
            "byok_system_settings_path, or use byok_scope user." % (scope, probe["os"] or "this host")
        )
        return result
    old = [c for c in result["clients"] if not c["system"]]
    if scope == "system" and old:
        names = ", ".join("%s (%s)" % (c["path"], c["version"] or "version unknown") for c in old)
        if fallback == "fail":
            result["problem"] = (
                "byok_scope system: droid on this host is older than %s and ignores the system-managed settings "
                "file: %s. Upgrade droid, or set byok_system_fallback: user (the models then go into each user's "
                "settings.json), or use byok_scope both." % (min_version, names)
            )
        else:
            result["scope"] = "user"
            result["notice"] = (
                "byok_scope system fell back to the user scope on this host: droid %s is older than %s and ignores "
                "%s, so the models were written into each user's settings.json (byok_system_fallback: user)." % (names, min_version, result["path"])
            )
    return result


def slash(url):
    """``url`` with exactly one trailing slash (the form safe on every client version)."""
    return (url or "").strip().rstrip("/") + "/"


def system_entries(entries):
    """The role's ``customModels`` entries for the system file: the same explicit, unique ids as in
    the user files (``byok_custom_models`` writes them), trailing-slash base URLs, apiKey only ever
    the environment reference. The input entries are not changed."""
    result = []
    for entry in entries:
        item = {"model": entry["model"], "id": entry.get("id")}
        for key, value in entry.items():
            if key not in ("model", "id", "index"):
                item[key] = value
        item["baseUrl"] = slash(entry["baseUrl"])
        item["apiKey"] = ENV_KEY_REFERENCE
        result.append(item)
    return result


def policy(entries, url, allow_other_custom_models=True, allow_factory_models=True):
    """The ``modelPolicy`` the role writes ({} when it restricts nothing)."""
    result = {}
    if not allow_other_custom_models:
        allowed = [slash(url)]
        for entry in entries:
            if not slash(entry["baseUrl"]).startswith(allowed[0]) and slash(entry["baseUrl"]) not in allowed:
                allowed.append(slash(entry["baseUrl"]))
        result["allowedBaseUrls"] = allowed
    if not allow_factory_models:
        result["allowAllFactoryModels"] = False
    return result


def system_document(entries, url, default_model="", allow_other_custom_models=True, allow_factory_models=True):
    """The document the role merges into the system file; raises ByokError if it breaks a client rule."""
    models = system_entries(entries)
    doc = {"customModels": models}
    if default_model:
        problem = default_problem(models, default_model)
        if problem:
            raise ByokError([problem])
        doc["sessionDefaultSettings"] = {"model": default_candidates(models, default_model)[0]["id"]}
    rules = policy(models, url, allow_other_custom_models, allow_factory_models)
    if rules:
        doc["modelPolicy"] = rules
    found = problems(doc)
    if found:
        raise ByokError(found)
    return doc


def problems(doc):
    """What the client would reject in a system-managed settings document (the parts the role
    writes or depends on), one sentence each. The client drops the whole org level for any of them."""
    found = []
    if not isinstance(doc, dict):
        return ["the system-managed settings file must hold a JSON object."]
    models = doc.get("customModels", [])
    if not isinstance(models, list):
        found.append("customModels must be a list.")
        models = []
    ids = set()
    for index, entry in enumerate(models):
        label = "customModels[%d]" % index
        if not isinstance(entry, dict):
            found.append("%s must be an object." % label)
            continue
        label = "%s (%s)" % (label, entry.get("model"))
        for required in ("model", "provider", "baseUrl"):
            if not isinstance(entry.get(required), str) or not entry.get(required).strip():
                found.append("%s: %s is required." % (label, required))
        if entry.get("provider") is not None and entry.get("provider") not in PROVIDERS:
            found.append("%s: provider must be one of %s." % (label, ", ".join(PROVIDERS)))
        for key, value in entry.items():
            expected = ENTRY_TYPES.get(key)
            if expected is not None and (not isinstance(value, expected) or (expected is int and isinstance(value, bool))):
                found.append("%s: %s must be of type %s." % (label, key, expected.__name__))
        ident = entry.get("id")
        if ident is not None:
            if not isinstance(ident, str) or not CUSTOM_ID.match(ident):
                found.append("%s: id must start with custom: and hold no whitespace." % label)
            elif ident in ids:
                found.append("%s: id %s is used twice." % (label, ident))
            else:
                ids.add(ident)
        key = entry.get("apiKey")
        if key is not None and (not isinstance(key, str) or not _REFERENCE.match(key)):
            # the file is world-readable: a key there would be every local user's
            found.append("%s: apiKey must be an environment reference such as %s, never a key: the file is world-readable." % (label, ENV_KEY_REFERENCE))
    rules = doc.get("modelPolicy")
    if rules is not None:
        if not isinstance(rules, dict):
            found.append("modelPolicy must be an object.")
        else:
            for key, value in rules.items():
                expected = POLICY_TYPES.get(key)
                if expected is not None and not isinstance(value, expected):
                    found.append("modelPolicy.%s must be of type %s." % (key, "array" if expected is list else "boolean"))
                if expected is list and isinstance(value, list) and not all(isinstance(v, str) for v in value):
                    found.append("modelPolicy.%s must be a list of strings." % key)
    defaults = doc.get("sessionDefaultSettings")
    if defaults is not None and (not isinstance(defaults, dict) or not isinstance(defaults.get("model", ""), str)):
        found.append("sessionDefaultSettings.model must be a model id (text).")
    return found
