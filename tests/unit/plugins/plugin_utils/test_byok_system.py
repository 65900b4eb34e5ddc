# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of plugins/plugin_utils/byok/system.py (machine scope), module_utils/_droid.py (offboarding) and the rewrite report."""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path

import pytest

try:
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils import _droid
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import client as _client
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import entries as _entries
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import inputs as _inputs
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import judges as _judges
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import system
except ImportError:  # plain pytest from the checkout: `make collection` links it under build/
    sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "build" / "collections"))
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils import _droid
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import client as _client
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import entries as _entries
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import inputs as _inputs
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import judges as _judges
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import system

from hypothesis import given
from hypothesis import strategies as st

URL = "https://llmcloud.studio"
CATALOG = [
    {"id": "anthropic/claude-sonnet-4.5", "display_name": "Claude Sonnet 4.5", "family": "anthropic"},
    {"id": "anthropic/claude-haiku-4.5", "display_name": "Claude Haiku 4.5", "family": "anthropic"},
    {"id": "google/gemini-3-pro-preview", "display_name": "Gemini 3 Pro Preview", "family": "openai"},
]
ENTRIES = _entries.custom_models(CATALOG, [c["id"] for c in CATALOG], [], URL, None, "env")


# ------------------------------------------------------------------ plan
@pytest.mark.parametrize("uname, path", [("Linux", "/etc/factory/settings.json"), ("Darwin", "/Library/Application Support/Factory/settings.json")])
def test_the_path_follows_the_os_and_the_newest_client_judges(uname, path):
    probe = "os=%s\ndroid=/a/droid version=0.215.0\ndroid=/b/droid version=0.225.2\ndroid=/a/droid version=0.215.0" % uname
    found = system.plan(probe)
    assert found["path"] == path and found["validator"] == "/b/droid" and found["scope"] == "system"
    assert [c["path"] for c in found["clients"]] == ["/a/droid", "/b/droid"]
    assert found["problem"] == "" and found["notice"] == ""
    assert system.plan(probe, path="/srv/settings.json")["path"] == "/srv/settings.json"


def test_an_unknown_os_needs_the_path():
    found = system.plan("os=FreeBSD\n")
    assert "byok_system_settings_path" in found["problem"] and "FreeBSD" in found["problem"]


def test_no_client_on_the_host_keeps_the_system_scope_without_a_judge():
    found = system.plan("os=Linux\n")
    assert found["scope"] == "system" and found["validator"] == "" and found["problem"] == ""


@pytest.mark.parametrize("version", ["0.117.0", "0.109.3", "0.214.9", "garbage"])
def test_an_old_client_falls_back_or_fails(version):
    probe = "os=Linux\ndroid=/usr/local/bin/droid version=%s\ndroid=/home/a/.local/bin/droid version=0.225.2" % version
    fallback = system.plan(probe, "system", "user")
    assert fallback["scope"] == "user" and fallback["problem"] == ""
    assert "/usr/local/bin/droid (%s)" % version in fallback["notice"] and "older than 0.215.0" in fallback["notice"]
    failed = system.plan(probe, "system", "fail")
    assert failed["scope"] == "system" and "Upgrade droid" in failed["problem"] and version in failed["problem"]
    # both: the user files are written anyway, nothing to fall back from
    both = system.plan(probe, "both", "fail")
    assert both["scope"] == "both" and both["problem"] == "" and both["validator"] == "/home/a/.local/bin/droid"


def test_version_tuple():
    assert _client.version_tuple("droid 0.225.2 (bun)") == (0, 225, 2)
    assert _client.version_tuple("1.0") is None and _client.version_tuple(None) is None


# ------------------------------------------------------------------ the document
def test_system_document_ids_slashes_reference_and_policy():
    before = copy.deepcopy(ENTRIES)
    doc = system.system_document(ENTRIES, URL, "anthropic/claude-haiku-4.5", False, False)
    assert ENTRIES == before  # the input is not changed
    # the same explicit ids as the user files' entries (_client.stable_id): droid lists each model once
    assert (
        [e["id"] for e in doc["customModels"]]
        == [e["id"] for e in ENTRIES]
        == ["custom:llmcloud-anthropic-claude-sonnet-4.5", "custom:llmcloud-anthropic-claude-haiku-4.5", "custom:llmcloud-google-gemini-3-pro-preview"]
    )
    assert [e["baseUrl"] for e in doc["customModels"]] == [URL + "/", URL + "/", URL + "/v1/"]
    assert {e["apiKey"] for e in doc["customModels"]} == {"${LLMCLOUD_API_KEY}"}
    assert doc["sessionDefaultSettings"] == {"model": "custom:llmcloud-anthropic-claude-haiku-4.5"}
    assert doc["modelPolicy"] == {"allowedBaseUrls": [URL + "/"], "allowAllFactoryModels": False}
    assert "modelPolicy" not in system.system_document(ENTRIES, URL)
    assert "sessionDefaultSettings" not in system.system_document(ENTRIES, URL)


def test_ids_stay_unique_and_outside_urls_are_allowed():
    entries = _entries.custom_models(
        CATALOG,
        [c["id"] for c in CATALOG],
        [
            {"model": "other/claude-haiku-4.5", "provider": "anthropic", "base_url": "https://proxy.example"},
            {"model": "anthropic/claude-haiku-4.5", "provider": "anthropic", "base_url": "https://proxy.example"},
        ],
        URL,
        None,
        "env",
    )
    doc = system.system_document(entries, URL, allow_other_custom_models=False)
    ids = [e["id"] for e in doc["customModels"]]
    assert ids == [e["id"] for e in entries]
    assert "custom:llmcloud-anthropic-claude-haiku-4.5" in ids and "custom:llmcloud-other-claude-haiku-4.5" in ids
    assert "custom:llmcloud-anthropic-claude-haiku-4.5-2" in ids  # the same model at a second URL
    assert len(set(ids)) == len(ids)
    assert doc["modelPolicy"]["allowedBaseUrls"] == [URL + "/", "https://proxy.example/"]


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda d: d["customModels"][0].update(apiKey="llmc-a-real-key"), "never a key"),
        (lambda d: d["customModels"][0].update(apiKey="pre-${LLMCLOUD_API_KEY}"), "never a key"),
        (lambda d: d["customModels"][1].update(id=d["customModels"][0]["id"]), "used twice"),
        (lambda d: d["customModels"][0].update(id="llmcloud-x"), "id must start with custom:"),
        (lambda d: d["customModels"][0].pop("provider"), "provider is required"),
        (lambda d: d["customModels"][0].update(provider="bedrock"), "provider must be one of"),
        (lambda d: d["customModels"][0].update(maxOutputTokens="8k"), "maxOutputTokens must be of type int"),
        (lambda d: d.update(modelPolicy={"allowedBaseUrls": "https://llmcloud.studio/"}), "must be of type array"),
        (lambda d: d.update(modelPolicy={"allowAllFactoryModels": "no"}), "must be of type boolean"),
        (lambda d: d.update(sessionDefaultSettings={"model": 3}), "sessionDefaultSettings.model"),
    ],
)
def test_problems_the_client_would_drop_the_org_level_for(mutate, words):
    doc = system.system_document(ENTRIES, URL)
    assert system.problems(doc) == []
    mutate(doc)
    found = system.problems(doc)
    assert found and any(words in line for line in found), found
    assert not any("llmc-a-real-key" in line for line in found)  # a key is never repeated


def test_an_entry_with_a_bad_id_fails_the_document():
    with pytest.raises(_inputs.ByokError, match="id must start with custom:"):
        system.system_document([dict(ENTRIES[0], id="llmcloud-x")] + ENTRIES[1:], URL)


@given(st.sampled_from(["https://llmcloud.studio", "https://llmcloud.studio/", "http://127.0.0.1:8080", "https://proxy.example.com/llm"]))
def test_url_pattern_matches_the_forms_the_role_writes_and_nothing_nearby(url):
    pattern = re.compile(_droid.url_pattern(url, "/?"))
    base = url.rstrip("/")
    for good in (base, base + "/", base + "/v1", base + "/v1/"):
        assert pattern.match(good)
    for bad in (base + ".evil.example", base + "/v2", base + "@evil.example/", base + "/v1/x", "x" + base):
        assert not pattern.match(bad)


# ------------------------------------------------------------------ offboarding
def _text(doc):
    return json.dumps(doc, indent=2)


IDENTITIES = [{"model": e["model"], "baseUrl": e["baseUrl"]} for e in ENTRIES]


def test_offboard_a_user_file_keeps_the_developers_own_default_and_models():
    own = {
        "model": "claude-sonnet-4-5",
        "displayName": "Claude Sonnet 4.5",
        "baseUrl": "https://api.anthropic.com",
        "provider": "anthropic",
        "apiKey": "theirs",
    }
    # an entry of a role version before explicit ids: the developer's own twin comes first, so droid
    # calls it custom:Claude-Sonnet-4.5-0 and ours -1
    old = dict(ENTRIES[0], apiKey="llmc-plain")
    old.pop("id")
    text = _text({"customModels": [own, old], "sessionDefaultSettings": {"model": "custom:Claude-Sonnet-4.5-0", "autonomyMode": "auto-low"}})
    found = _droid.offboard(text, URL, entries=ENTRIES)
    assert found["value"] == {"customModels": IDENTITIES} and found["models"] == 1
    text = _text({"customModels": [own, old], "sessionDefaultSettings": {"model": "custom:Claude-Sonnet-4.5-1", "autonomyMode": "auto-low"}})
    assert _droid.offboard(text, URL, entries=ENTRIES)["value"] == {"customModels": IDENTITIES, "sessionDefaultSettings": {"model": None}}
    # the role's entries carry its explicit id: that is what the role's default names
    ours = dict(ENTRIES[0], apiKey="${LLMCLOUD_API_KEY}")
    text = _text({"customModels": [own, ours], "sessionDefaultSettings": {"model": ours["id"]}})
    assert _droid.offboard(text, URL, entries=ENTRIES)["value"] == {"customModels": IDENTITIES, "sessionDefaultSettings": None}
    # a role id as the default with the entry already gone (a settings.local.json default) goes too
    text = _text({"theme": "light", "sessionDefaultSettings": {"model": ENTRIES[2]["id"]}})
    assert _droid.offboard(text, URL, entries=ENTRIES, kind="local")["value"] == {"customModels": IDENTITIES, "sessionDefaultSettings": None}
    # the developer's own default stays even when it names a custom: id
    text = _text({"customModels": [own, ours], "sessionDefaultSettings": {"model": "custom:Claude-Sonnet-4.5-0"}})
    assert "sessionDefaultSettings" not in _droid.offboard(text, URL, entries=ENTRIES)["value"]
    # a stored id (written by droid) is what the default names
    text = _text({"customModels": [dict(ours, id="custom:mine")], "sessionDefaultSettings": {"model": "custom:mine"}})
    assert _droid.offboard(text, URL)["value"] == {"customModels": None, "sessionDefaultSettings": None}


def test_offboard_options_follow_the_onboarding_identity_per_kind():
    extra = _entries.custom_models(CATALOG, [], [{"model": "x/y", "provider": "anthropic", "base_url": "https://proxy.example"}], URL, None, "env")
    entries = ENTRIES + extra
    theirs = {"model": "x/z", "baseUrl": "https://proxy.example", "provider": "anthropic"}
    text = _text({"customModels": [dict(extra[0]), theirs]})
    found = _droid.offboard(text, URL, entries=entries)
    # the extra model goes by its identity (model, baseUrl); the developer's model at that URL stays
    kept = {"model": "x/y", "baseUrl": "https://proxy.example"}
    assert found["models"] == 1 and found["value"]["customModels"][-1] == kept
    assert found["keyed_lists"] == {"/customModels": ["model", "baseUrl"], "/custom_models": ["model", "base_url"]}
    assert set(found["prune"]) == {"/customModels", "/custom_models"}  # the guide's dead block too
    assert not re.match(found["prune"]["/customModels"]["baseUrl"], "https://proxy.example")
    local = _droid.offboard(text, URL, entries=entries, kind="local")
    assert set(local["keyed_lists"]) == {"/customModels"}
    legacy = _droid.offboard(None, URL, entries=entries, kind="legacy")
    assert legacy["value"] == {"custom_models": [{"model": e["model"], "base_url": e["baseUrl"]} for e in entries]}
    assert legacy["keyed_lists"] == {"/custom_models": ["model", "base_url"]}
    assert re.match(legacy["prune"]["/custom_models"]["base_url"], URL + "/v1")
    machine = _droid.offboard(None, URL, system=True, entries=entries)
    assert machine["value"] == {"customModels": [{"id": e["id"]} for e in entries]}
    assert machine["keyed_lists"] == {"/customModels": ["id"]}
    assert re.match(machine["prune"]["/customModels"]["baseUrl"], URL + "/")


def test_offboard_the_system_file_policy_and_what_stays():
    doc = system.system_document(ENTRIES, URL, "anthropic/claude-haiku-4.5", False, False)
    found = _droid.offboard(_text(doc), URL, system=True)
    assert found["remove_file"] is True
    doc["commandDenylist"] = ["rm -rf /"]
    found = _droid.offboard("// admin\n" + _text(doc), URL, system=True)
    assert found["remove_file"] is False
    assert found["value"] == {"customModels": None, "sessionDefaultSettings": None, "modelPolicy": None}
    # the administrator's own URLs in the list, and their own policy keys, stay
    doc["modelPolicy"]["allowedBaseUrls"].append("https://other.example/")
    doc["modelPolicy"]["allowCustomModels"] = True
    found = _droid.offboard(_text(doc), URL, system=True)
    assert found["value"]["modelPolicy"] == {"allowAllFactoryModels": None}
    # a user file's modelPolicy is the developer's: never touched
    assert "modelPolicy" not in _droid.offboard(_text(doc), URL)["value"]


@pytest.mark.parametrize("text", [None, "", "{", "[1, 2]", '{"customModels": "x"}'])
def test_offboard_an_absent_or_unreadable_file_removes_nothing_named(text):
    found = _droid.offboard(text, URL)
    assert found["models"] == 0 and found["value"] == {"customModels": []}
    assert _droid.offboard(text, URL, entries=ENTRIES)["value"] == {"customModels": IDENTITIES}


# ------------------------------------------------------------------ the client's rewrite
def test_rewrites_name_the_files_where_an_api_key_was_replaced():
    results = {
        "results": [
            {
                "path": "/home/a/.factory/settings.json",
                "changed": True,
                "operations": [{"op": "add", "path": "/customModels/3/apiKey"}, {"op": "replace", "path": "/customModels/1/apiKey"}],
            },
            {"path": "/home/b/.factory/settings.json", "changed": True, "operations": [{"op": "replace", "path": "/customModels/1/displayName"}]},
            {"skipped": True},
        ]
    }
    assert _judges.rewrites(results, URL) == ["/home/a/.factory/settings.json"]
    assert _judges.rewrites({"skipped": True}, URL) == []


# ------------------------------------------------------------------ the variables
GOOD = dict(
    scope="system",
    state="present",
    key_mode="keychain",
    settings_path="",
    fallback="user",
    min_version="0.215.0",
    droid_paths=["droid"],
    allow_other_custom_models=False,
    allow_factory_models=True,
)


@pytest.mark.parametrize(
    "change, words",
    [
        (dict(scope="machine"), "byok_scope must be one of"),
        (dict(fallback="ignore"), "byok_system_fallback must be one of"),
        (dict(settings_path="etc/factory/settings.json"), "byok_system_settings_path must be empty"),
        (dict(settings_path=["a", "list"]), "byok_system_settings_path must be empty"),
        (dict(min_version="0.215"), "byok_system_min_version must be a version"),
        (dict(droid_paths=True), "byok_droid_paths must be a list"),
        (dict(droid_paths=[{"a": 1}]), "byok_droid_paths must be a list"),
        (dict(key_mode="inline"), "needs byok_key_mode env or keychain"),
        (dict(scope="user"), "org policy"),
    ],
)
def test_variable_problems_name_the_variable(change, words):
    assert _inputs.system_problems(**GOOD) == []
    found = _inputs.system_problems(**dict(GOOD, **change))
    assert len(found) == 1 and words in found[0], found


def test_offboarding_and_the_default_user_scope_need_nothing_more():
    assert _inputs.system_problems(droid_paths=["droid"]) == []
    assert _inputs.system_problems(**{**GOOD, "key_mode": "inline", "state": "absent"}) == []


# ------------------------------------------------------------------ issue 20: the privilege boundary
def test_a_client_root_did_not_run_neither_judges_nor_decides_the_fallback():
    probe = "\n".join(
        [
            "os=Linux",
            "droid=/usr/local/bin/droid version=0.225.2",
            "untrusted=/home/dev/.local/bin/droid owner=1000 at=/home/dev",
            "untrusted=/opt/homebrew/bin/droid owner=501 at=/opt/homebrew",
        ]
    )
    found = system.plan(probe, "system", "user")
    assert found["validator"] == "/usr/local/bin/droid" and found["scope"] == "system" and not found["notice"]
    assert [u["path"] for u in found["untrusted"]] == ["/home/dev/.local/bin/droid", "/opt/homebrew/bin/droid"]
    assert "/home/dev/.local/bin/droid not run: /home/dev (uid 1000) could change it" in found["probed"]
    assert "/usr/local/bin/droid (0.225.2) run as the user Ansible works as" in found["probed"]
    # only untrusted clients: no validator, and no fallback either
    alone = system.plan("os=Linux\nuntrusted=/home/dev/.local/bin/droid owner=1000 at=/home/dev", "system", "fail")
    assert alone["validator"] == "" and alone["problem"] == "" and alone["scope"] == "system"


def test_an_inspected_file_is_not_repaired_but_reported_as_holding_a_key():
    operations = [{"op": "replace", "path": "/customModels/0/apiKey"}]
    results = {
        "results": [
            {"path": "/h/.factory/settings.json", "operations": operations, "check_only": False, "changed": True},
            {"path": "/h/.factory/settings.local.json", "operations": operations, "check_only": True, "changed": True},
        ]
    }
    assert _judges.rewrites(results, URL) == ["/h/.factory/settings.json"]
    assert _judges.rewrites(results, URL, inspected=True) == ["/h/.factory/settings.local.json"]


def test_offboard_takes_the_parsed_document_as_json_merge_reads_it():
    text = json.dumps({"customModels": [dict(ENTRIES[0])], "sessionDefaultSettings": {"model": ENTRIES[0]["id"]}})
    assert _droid.offboard(json.loads(text), URL, entries=ENTRIES, parsed=True) == _droid.offboard(text, URL, entries=ENTRIES)
