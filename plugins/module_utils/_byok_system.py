# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Machine scope and offboarding of the ``byok`` role: pure functions, no I/O (private).

What they encode (measured with the real client, see CLIENT-HIERARCHY F1, F3, F5):
- droid 0.215.0 and newer read a system-managed settings file (``/etc/factory/settings.json`` on
  Linux, ``/Library/Application Support/Factory/settings.json`` on macOS); older clients ignore it.
- The file fails open: malformed or schema-invalid, and the whole org level (policy included) is
  dropped silently. So the document is checked here by the client's rules before it is written.
- It must be world-readable (``0644``), so ``apiKey`` is only ever ``${LLMCLOUD_API_KEY}``.
- ``modelPolicy.allowedBaseUrls`` is a raw string prefix on 0.109.3/0.117.0: ``["<url>/"]`` with
  every ``baseUrl`` written with a trailing slash is the form safe on every version.
- Explicit ``custom:`` ids resolve the same in every version; a user entry with the same id as an
  org entry is hidden by it. The system file's entries carry the ids the user files' entries carry
  (``_byok.stable_id``), so with ``byok_scope: both`` droid lists each model once (the org's).
- The interactive client rewrites ``~/.factory/settings.json`` and writes the expanded value of
  ``${LLMCLOUD_API_KEY}`` back in plain text.
No message built here contains an API key.
"""

from __future__ import annotations

import re

from ansible_collections.llmcloud.factory_droid.plugins.module_utils._byok import PROVIDERS, REMEMBER, dead_block_pattern, default_candidates, default_problem
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc import JSONCError, parse

SYSTEM_PATHS = {
    "Linux": "/etc/factory/settings.json",
    "Darwin": "/Library/Application Support/Factory/settings.json",
}
SCOPES = ("user", "system", "both")
FALLBACKS = ("user", "fail")
MIN_SYSTEM_VERSION = "0.215.0"
KEY_REFERENCE = "${LLMCLOUD_API_KEY}"
# modelPolicy keys of 0.225.2 (CODE) and their types; unknown keys are ignored by the client.
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
_REFERENCE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")
_ID = re.compile(r"^custom:[^\s]+$")


class SystemError_(ValueError):
    """Bad machine-scope input; ``problems`` lists one sentence each."""

    def __init__(self, problems):
        self.problems = list(problems)
        super(SystemError_, self).__init__(" ".join(self.problems))


# ------------------------------------------------------------------ the variables
def variable_problems(
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
    if scope not in SCOPES:
        found.append("byok_scope must be one of %s." % ", ".join(SCOPES))
    if state not in ("present", "absent"):
        found.append("byok_state must be present or absent.")
    if fallback not in FALLBACKS:
        found.append("byok_system_fallback must be one of %s." % ", ".join(FALLBACKS))
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


# ------------------------------------------------------------------ where, and which client
def version_tuple(text):
    """(major, minor, patch) of the first x.y.z in ``text``, or None."""
    match = _VERSION.search(text or "")
    return tuple(int(part) for part in match.groups()) if match else None


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


# ------------------------------------------------------------------ the system document
def slash(url):
    """``url`` with exactly one trailing slash (the form safe on every client version)."""
    return (url or "").strip().rstrip("/") + "/"


def url_pattern(url):
    """Anchored regex for the role's base URLs, with or without the trailing slash, with or without /v1."""
    base = re.escape((url or "").strip().rstrip("/"))
    return "^%s(?:/v1)?/?$" % base


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
        item["apiKey"] = KEY_REFERENCE
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
    """The document the role merges into the system file; raises SystemError_ if it breaks a client rule."""
    models = system_entries(entries)
    doc = {"customModels": models}
    if default_model:
        problem = default_problem(models, default_model)
        if problem:
            raise SystemError_([problem])
        doc["sessionDefaultSettings"] = {"model": default_candidates(models, default_model)[0]["id"]}
    rules = policy(models, url, allow_other_custom_models, allow_factory_models)
    if rules:
        doc["modelPolicy"] = rules
    found = problems(doc)
    if found:
        raise SystemError_(found)
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
            if not isinstance(ident, str) or not _ID.match(ident):
                found.append("%s: id must start with custom: and hold no whitespace." % label)
            elif ident in ids:
                found.append("%s: id %s is used twice." % (label, ident))
            else:
                ids.add(ident)
        key = entry.get("apiKey")
        if key is not None and (not isinstance(key, str) or not _REFERENCE.match(key)):
            # the file is world-readable: a key there would be every local user's
            found.append("%s: apiKey must be an environment reference such as %s, never a key: the file is world-readable." % (label, KEY_REFERENCE))
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


# ------------------------------------------------------------------ offboarding
def _client_ids(models):
    """The id the client resolves for each entry: its stored id, else the generated one (0.215.0+ rule)."""
    counts = {}
    ids = []
    for entry in models:
        if not isinstance(entry, dict):
            ids.append(None)
            continue
        name = re.sub(r"\s+", "-", str(entry.get("displayName") or entry.get("model") or "").strip())
        number = counts.get(name, 0)
        counts[name] = number + 1
        stored = entry.get("id")
        ids.append(stored if isinstance(stored, str) and stored else "custom:%s-%d" % (name, number))
    return ids


def offboard(text, url, extra_urls=None, system=False, entries=None, kind="settings", parsed=False):
    """What ``state: absent`` removes from one settings file, given its current text (with
    ``parsed``: its parsed value, as json_merge's ``offboard`` option passes it, read as the user).

    ``kind`` is the file's kind in the role's plan (``byok_merge_plan`` with state absent:
    ``settings``, ``local`` or ``legacy``); ``entries`` are the role's entries (``byok_custom_models``,
    no key needed). Returns ``{"value", "keyed_lists", "prune", "remove_file", "models"}``, the
    json_merge options for state absent: the role's entries (by the identity the present run uses:
    ``model`` and ``baseUrl``, ``id`` in the system file) and every entry at the role's base URLs
    (pruned), the ``sessionDefaultSettings.model`` only when it is the id of one of them or one of
    the role's ids, and in the system file the policy keys the role writes (``allowedBaseUrls`` when
    it lists only the role's URLs, ``allowAllFactoryModels: false``). A container left empty
    (``customModels``, ``sessionDefaultSettings``, ``modelPolicy``) is removed with it: an empty
    ``customModels`` in ``settings.local.json`` would hide every model of ``settings.json`` (the
    client replaces the array). In ``settings.json`` the provider guide's dead ``custom_models``
    block loses its LLMCloud entries too. ``remove_file`` is true for a system file that would hold
    nothing else afterwards. A file that is absent or does not parse gives a value that names only
    the role's entries (the merge task then reports a parse error with line and column).
    """
    entries = [e for e in entries or [] if isinstance(e, dict)]
    urls = [url] + [u for u in (extra_urls or []) if u]
    pattern = "^(?:%s)$" % "|".join("(?:%s)" % url_pattern(u)[1:-1] for u in urls)
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
        for entry, ident in zip(models, _client_ids(models)):
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


# ------------------------------------------------------------------ the client's rewrite
def rewrites(results, url, inspected=False):
    """Files where the merge replaced the apiKey of an LLMCloud entry although the key mode writes
    ``${LLMCLOUD_API_KEY}``: the interactive client had written the expanded key there.

    ``results`` is the registered result of the settings merge (``files``: one result per file).
    Only files the merge really changed count (a ``check_only`` file, such as settings.local.json
    with byok_local_settings warn, was only inspected: it still holds the key); with ``inspected``,
    it is those inspected files holding a plaintext key that are returned. Returns the file names,
    never a key (the module reports operations, not values)."""
    found = []
    if isinstance(results, dict):
        results = results.get("results", [results])
    for result in results or []:
        if not isinstance(result, dict) or result.get("skipped") or result.get("failed"):
            continue
        if bool(result.get("check_only")) != bool(inspected):
            continue
        for operation in result.get("operations") or []:
            path = operation.get("path", "") if isinstance(operation, dict) else ""
            if operation.get("op") == "replace" and re.match(r"^/customModels/\d+/apiKey$", path):
                found.append(result.get("path") or "settings.json")
                break
    return found
