# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What comes back from a host, judged on the controller in the user's words (no key in any sentence):
the LLMCloud preflight (``preflight_problems``), what droid resolves (``client_problems``, byok_verify)
and the files where droid had written the key back (``rewrites``)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok.client import REPORTS_SYSTEM_FILE_FROM, SYSTEM_FILES, base_url, version_tuple
from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok.entries import model_id
from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok.inputs import _is_text


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
    version = version_tuple(check["version"])
    reads_system = version is None or version >= REPORTS_SYSTEM_FILE_FROM
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
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils._redact import looks_like_credential

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
