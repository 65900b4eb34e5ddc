# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of plugins/plugin_utils/byok/: the byok role's pure logic (inputs, entries, plan, judges)."""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import pytest

try:
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import client as _client
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import entries as _entries
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import inputs as _inputs
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import judges as _judges
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import plan as _plan
except ImportError:  # plain pytest from the checkout: `make collection` links it under build/
    sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "build" / "collections"))
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import client as _client
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import entries as _entries
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import inputs as _inputs
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import judges as _judges
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import plan as _plan

from hypothesis import given
from hypothesis import strategies as st

KEY = "llmc-unit-0123456789abcdef"
URL = "https://llmcloud.studio"
CATALOG = [
    {"id": "anthropic/claude-opus-4.6", "display_name": "Claude Opus 4.6", "family": "anthropic"},
    {"id": "anthropic/claude-opus-4.5-thinking", "display_name": "Claude Opus 4.5 Thinking", "family": "anthropic"},
    {"id": "anthropic/claude-sonnet-4.6", "display_name": "Claude Sonnet 4.6", "family": "anthropic"},
    {"id": "anthropic/claude-sonnet-4.5", "display_name": "Claude Sonnet 4.5", "family": "anthropic"},
    {"id": "anthropic/claude-sonnet-4.5-thinking", "display_name": "Claude Sonnet 4.5 Thinking", "family": "anthropic"},
    {"id": "anthropic/claude-haiku-4.5", "display_name": "Claude Haiku 4.5", "family": "anthropic"},
    {"id": "google/gemini-3-flash-preview", "display_name": "Gemini 3 Flash Preview", "family": "openai"},
    {"id": "google/gemini-3-pro-preview", "display_name": "Gemini 3 Pro Preview", "family": "openai"},
]
ALL = [item["id"] for item in CATALOG]


def problems(**overrides):
    args = dict(catalog=CATALOG, models=ALL, extra_models=[], url=URL, api_key=KEY, key_mode="inline")
    args.update(overrides)
    return _inputs.problems(**args)


# -- custom_models --------------------------------------------------------------------------


def test_catalog_family_decides_provider_and_url():
    entries = _entries.custom_models(CATALOG, ALL, [], URL, KEY, "inline")
    assert [e["model"] for e in entries] == ALL
    by_model = {e["model"]: e for e in entries}
    assert by_model["anthropic/claude-sonnet-4.5"] == {
        "model": "anthropic/claude-sonnet-4.5",
        "id": "custom:llmcloud-anthropic-claude-sonnet-4.5",
        "displayName": "Claude Sonnet 4.5",
        "baseUrl": "https://llmcloud.studio",
        "apiKey": KEY,
        "provider": "anthropic",
        "noImageSupport": False,
    }
    assert by_model["google/gemini-3-pro-preview"]["baseUrl"] == "https://llmcloud.studio/v1"
    assert by_model["google/gemini-3-pro-preview"]["provider"] == "openai"


def test_openai_family_provider_is_configurable():
    entries = _entries.custom_models(CATALOG, ["google/gemini-3-flash-preview"], [], URL, KEY, "inline", openai_provider="generic-chat-completion-api")
    assert entries[0]["provider"] == "generic-chat-completion-api"
    assert entries[0]["baseUrl"] == URL + "/v1"


def test_models_keep_the_order_given_and_trailing_slash_is_dropped():
    wanted = ["google/gemini-3-pro-preview", "anthropic/claude-haiku-4.5"]
    entries = _entries.custom_models(CATALOG, wanted, [], "http://127.0.0.1:8080//", KEY, "inline")
    assert [e["model"] for e in entries] == wanted
    assert [e["baseUrl"] for e in entries] == ["http://127.0.0.1:8080/v1", "http://127.0.0.1:8080"]


def test_env_mode_writes_the_reference_not_the_key():
    entries = _entries.custom_models(CATALOG, ALL, [], URL, KEY, "env")
    assert {e["apiKey"] for e in entries} == {"${LLMCLOUD_API_KEY}"}
    assert KEY not in repr(entries)


def test_env_mode_needs_no_key():
    assert _entries.custom_models(CATALOG, ALL[:1], [], URL, "", "env")[0]["apiKey"] == "${LLMCLOUD_API_KEY}"


def test_inline_mode_without_key_raises_naming_the_variable():
    with pytest.raises(_inputs.ByokError, match="byok_api_key"):
        _entries.custom_models(CATALOG, ALL, [], URL, "", "inline")


def test_extra_models_follow_with_optional_fields_in_camel_case():
    extra = [
        {
            "model": "deepseek/deepseek-v3.2",
            "provider": "generic-chat-completion-api",
            "display_name": "DeepSeek",
            "max_output_tokens": "8192",
            "no_image_support": True,
            "extra_headers": {"X-Team": "platform"},
            "reasoning_effort": "high",
            "enable_thinking": "yes",
        },
        {"model": "mine/claude", "provider": "anthropic"},
    ]
    entries = _entries.custom_models(CATALOG, ALL[:1], extra, URL, KEY, "inline")
    assert [e["model"] for e in entries] == [ALL[0], "deepseek/deepseek-v3.2", "mine/claude"]
    deepseek = entries[1]
    assert deepseek["maxOutputTokens"] == 8192 and deepseek["noImageSupport"] is True
    assert deepseek["extraHeaders"] == {"X-Team": "platform"} and deepseek["reasoningEffort"] == "high"
    assert deepseek["enableThinking"] is True
    assert deepseek["baseUrl"] == URL + "/v1" and deepseek["apiKey"] == KEY
    assert entries[2]["baseUrl"] == URL and entries[2]["displayName"] == "mine/claude"


def test_extra_model_with_its_own_base_url():
    extra = [{"model": "m", "provider": "openai", "base_url": "https://proxy.example.com/v1/"}]
    assert _entries.custom_models(CATALOG, [], extra, URL, KEY, "inline")[0]["baseUrl"] == "https://proxy.example.com/v1"


def test_custom_models_does_not_modify_its_input():
    catalog, extra = copy.deepcopy(CATALOG), [{"model": "m", "provider": "generic-chat-completion-api", "max_output_tokens": 5}]
    before = copy.deepcopy((catalog, extra))
    _entries.custom_models(catalog, ALL, extra, URL, KEY, "inline")
    assert (catalog, extra) == before


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"model": "", "provider": "anthropic", "baseUrl": URL}, "model is required"),
        ({"model": "m", "provider": "anthropic"}, "baseUrl is required"),
        ({"model": "m", "provider": "mistral", "baseUrl": URL}, "provider must be one of"),
        ({"model": "m", "provider": "openai", "baseUrl": "file:///etc"}, "baseUrl must be an http"),
        ({"model": "m", "provider": "openai", "baseUrl": URL, "maxOutputTokens": "8"}, "maxOutputTokens must be of type int"),
        ({"model": "m", "provider": "openai", "baseUrl": URL, "noImageSupport": 1}, "noImageSupport must be of type bool"),
        ({"model": "m", "provider": "openai", "baseUrl": URL, "reasoningEffort": "extreme"}, "reasoningEffort must be one of"),
        ({"model": "m", "provider": "openai", "baseUrl": URL, "apiKey": "YOUR_API_KEY"}, "placeholder"),
        ({"model": "m", "provider": "openai", "baseUrl": URL, "api_key": "k"}, "unknown field api_key"),
    ],
)
def test_entries_are_checked_against_the_client_schema(entry, message):
    with pytest.raises(_inputs.ByokError, match=re.escape(message)):
        _entries.check_entries([entry])


# -- problems -------------------------------------------------------------------------------


def test_good_input_has_no_problems():
    assert problems() == []
    assert problems(key_mode="env", api_key="") == []
    assert problems(users=[{"name": "alice", "api_key": "k1"}, {"name": "bob", "home": "/srv/bob", "api_key": "k2"}], api_key="") == []


@pytest.mark.parametrize(
    "overrides, variable",
    [
        ({"models": ["anthropic/claude-opus-9"]}, "byok_models: unknown model id 'anthropic/claude-opus-9'"),
        ({"models": ALL[:1] * 2}, "byok_models lists"),
        ({"api_key": ""}, "byok_api_key is empty but byok_key_mode is inline"),
        ({"api_key": None}, "byok_api_key is empty"),
        ({"api_key": KEY + "\n"}, "byok_api_key has leading or trailing whitespace"),
        ({"api_key": "YOUR_API_KEY"}, "byok_api_key is the guide's placeholder"),
        ({"extra_models": [{"model": "m", "provider": "mistral"}]}, "byok_extra_models[0].provider 'mistral'"),
        ({"extra_models": [{"model": "m", "provider": "bedrock-converse"}]}, "byok_extra_models[0].provider"),
        ({"extra_models": [{"provider": "openai"}]}, "byok_extra_models[0].model"),
        (
            {"extra_models": [{"model": "m", "provider": "openai", "max_output_tokens": "lots"}]},
            "byok_extra_models[0].max_output_tokens must be a whole number",
        ),
        ({"extra_models": [{"model": "m", "provider": "openai", "base_url": "ftp://x"}]}, "byok_extra_models[0].base_url"),
        ({"extra_models": [{"model": "m", "provider": "openai", "colour": "red"}]}, "unknown field(s) colour"),
        ({"url": "ftp://llmcloud.studio"}, "byok_llmcloud_url must be an http"),
        ({"url": "llmcloud.studio"}, "byok_llmcloud_url must be an http"),
        ({"url": "https://llmcloud.studio/v1"}, "without /v1"),
        ({"url": None}, "byok_llmcloud_url"),
        ({"key_mode": "plain"}, "byok_key_mode must be one of"),
        ({"openai_provider": "google"}, "byok_openai_family_provider"),
        ({"fmt": "xml"}, "byok_format must be one of"),
        ({"key_mode": "env", "fmt": "legacy"}, "byok_key_mode env cannot be combined with byok_format legacy"),
        ({"key_mode": "env", "fmt": "both"}, "byok_format both"),
        ({"default_model": "anthropic/claude-opus-9"}, "byok_default_model 'anthropic/claude-opus-9'"),
        ({"default_model": ALL[0], "fmt": "legacy"}, "byok_default_model needs byok_format current or both"),
        ({"users": [{"home": "/home/x"}]}, "byok_users[0].name"),
        ({"users": [{"name": "a"}, {"name": "a"}]}, "byok_users lists user a twice"),
        ({"users": [{"name": "a", "home": "relative/path"}]}, "byok_users[0].home must be an absolute path"),
        ({"users": [{"name": "a", "apikey": "k"}]}, "byok_users[0] has unknown field(s) apikey"),
        ({"users": [{"name": "a", "api_key": " k"}]}, "byok_users[0].api_key has leading"),
        ({"users": "alice"}, "byok_users must be a list"),
        ({"users": [{"name": "a", "api_key": "k"}, {"name": "b"}], "api_key": ""}, "byok_api_key is empty"),
        ({"key_mode": "env", "api_key": "", "preflight": True}, "byok_api_key is empty but byok_preflight is true"),
        ({"catalog": [{"id": "x", "display_name": "X", "family": "mistral"}], "models": ["x"]}, "byok_catalog[0].family"),
        ({"catalog": CATALOG + [CATALOG[0]]}, "byok_catalog lists model anthropic/claude-opus-4.6 twice"),
        ({"catalog": "nope", "models": []}, "byok_catalog must be a list"),
        ({"prune": "sometimes"}, "byok_prune must be true or false"),
        ({"preflight": [True]}, "byok_preflight must be true or false"),
    ],
)
def test_bad_input_is_named(overrides, variable):
    found = problems(**overrides)
    assert any(variable in sentence for sentence in found), found


def test_every_problem_is_reported_at_once():
    found = problems(models=["x/y"], url="ftp://h", api_key="", extra_models=[{"model": "m", "provider": "p"}])
    assert len(found) == 4


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=12, max_size=40),
    st.sampled_from(["inline", "env", "keyring"]),
    st.sampled_from(["current", "legacy", "json"]),
)
def test_no_problem_sentence_ever_contains_the_key(secret, key_mode, fmt):
    key = "llmc-" + secret
    for api_key, user_key in ((key, key + " "), (" " + key, key), (key + "\n", None)):
        users = [{"name": "a", "api_key": user_key}] if user_key else [{"name": "a"}]
        found = problems(api_key=api_key, models=["nope"], url="ftp://x", users=users, key_mode=key_mode, fmt=fmt, default_model="zz")
        assert found
        assert all(key not in sentence for sentence in found)


# -- legacy, ids, prune ----------------------------------------------------------------------


def test_legacy_shape():
    entries = _entries.custom_models(
        CATALOG, ["anthropic/claude-sonnet-4.5"], [{"model": "m", "provider": "openai", "max_output_tokens": 10, "no_image_support": True}], URL, KEY, "inline"
    )
    assert _entries.legacy_models(entries) == [
        {"model_display_name": "Claude Sonnet 4.5", "model": "anthropic/claude-sonnet-4.5", "base_url": URL, "api_key": KEY, "provider": "anthropic"},
        {"model_display_name": "m", "model": "m", "base_url": URL + "/v1", "api_key": KEY, "provider": "openai", "max_tokens": 10, "supports_images": False},
    ]


def test_model_ids_follow_the_client():
    entries = [
        {"model": "a", "displayName": "Claude Sonnet 4.5"},
        {"model": "b", "displayName": "  Claude   Sonnet\t4.5 "},
        {"model": "c"},
        {"model": "d", "model_display_name": "Legacy Name"},
    ]
    assert _entries.model_ids(entries) == [
        "custom:Claude-Sonnet-4.5-0",
        "custom:Claude-Sonnet-4.5-1",
        "custom:c-0",
        "custom:Legacy-Name-0",
    ]
    assert _entries.model_id(entries, "b") == "custom:Claude-Sonnet-4.5-1"
    with pytest.raises(_inputs.ByokError, match="byok_default_model"):
        _entries.model_id(entries, "zzz")


@pytest.mark.parametrize(
    "candidate, matches",
    [
        ("https://llmcloud.studio", True),
        ("https://llmcloud.studio/v1", True),
        ("https://llmcloud.studio/", False),
        ("https://llmcloud.studio/v1/", False),
        ("https://llmcloudXstudio", False),
        ("https://llmcloud.studio.evil.example", False),
        ("http://llmcloud.studio", False),
        ("https://llmcloud.studio/v2", False),
        ("xhttps://llmcloud.studio", False),
    ],
)
def test_prune_pattern_matches_only_the_two_urls(candidate, matches):
    pattern = _client.prune_pattern("https://llmcloud.studio/")
    assert bool(re.search(pattern, candidate)) is matches


# -- targets ----------------------------------------------------------------------------------


def test_targets_default_to_the_connecting_user():
    assert _plan.targets([]) == [{"name": None, "index": None, "home": None, "factory_dir": "~/.factory", "home_ref": "~"}]


def test_targets_leave_the_home_to_the_host_unless_given():
    users = [{"name": "alice", "api_key": KEY}, {"name": "bob", "home": "/srv/bob/"}]
    found = _plan.targets(users)
    assert found == [
        {"name": "alice", "index": 0, "home": None, "factory_dir": "~/.factory", "home_ref": "~alice"},
        {"name": "bob", "index": 1, "home": "/srv/bob", "factory_dir": "/srv/bob/.factory", "home_ref": "/srv/bob"},
    ]
    assert KEY not in repr(found)


# -- explicit ids, the merge plan and its options ------------------------------------------------


def test_every_entry_gets_a_stable_unique_id_and_an_explicit_image_flag():
    extra = [
        {"model": "Vendor/Qwen2.5-Coder:7B", "provider": "anthropic"},
        {"model": "anthropic/claude-haiku-4.5", "provider": "anthropic", "base_url": "https://proxy.example"},
    ]
    entries = _entries.custom_models(CATALOG, ["anthropic/claude-haiku-4.5"], extra, URL, KEY, "env")
    assert [e["id"] for e in entries] == [
        "custom:llmcloud-anthropic-claude-haiku-4.5",
        "custom:llmcloud-vendor-qwen2.5-coder-7b",
        "custom:llmcloud-anthropic-claude-haiku-4.5-2",
    ]
    assert [list(e)[:2] for e in entries] == [["model", "id"]] * 3
    assert {e["noImageSupport"] for e in entries} == {False}
    # the default names the entry's own id, whatever display names the file holds
    assert _entries.model_id(entries, "Vendor/Qwen2.5-Coder:7B") == "custom:llmcloud-vendor-qwen2.5-coder-7b"
    # the legacy file has no ids and keeps its default image support
    legacy = _entries.legacy_models(entries)
    assert all("id" not in item and "supports_images" not in item for item in legacy)


def test_the_merge_plan_covers_settings_local_and_legacy_files():
    plan = _plan.merge_plan(_plan.targets([{"name": "alice"}]), "both", "merge", "m")
    assert [(p["kind"], p["path"], p["only_if_keys"], p["check"]) for p in plan] == [
        ("settings", "~/.factory/settings.json", [], False),
        ("local", "~/.factory/settings.local.json", ["/customModels"], False),
        ("local-default", "~/.factory/settings.local.json", ["/sessionDefaultSettings"], False),
        ("legacy", "~/.factory/config.json", [], False),
    ]
    assert [p["kind"] for p in _plan.merge_plan(_plan.targets([]), "current", "warn", "")] == ["settings", "local"]
    assert all(p["check"] for p in _plan.merge_plan(_plan.targets([]), "current", "fail", "")[1:])
    assert [p["kind"] for p in _plan.merge_plan(_plan.targets([]), "legacy", "merge", "")] == ["legacy"]
    assert [p["kind"] for p in _plan.merge_plan(_plan.targets([]), "both", "ignore", "m")] == ["settings", "legacy"]


def test_the_offboarding_plan_names_every_file_the_role_may_have_written():
    users = _plan.targets([{"name": "alice"}, {"name": "bob", "home": "/srv/bob"}])
    for fmt, local in (("current", "ignore"), ("legacy", "warn"), ("both", "merge")):
        plan = _plan.merge_plan(users, fmt, local, "", state="absent")
        assert [(p["name"], p["kind"], p["path"], p["only_if_keys"], p["check"]) for p in plan] == [
            ("alice", "settings", "~/.factory/settings.json", [], False),
            ("alice", "local", "~/.factory/settings.local.json", [], False),
            ("alice", "legacy", "~/.factory/config.json", [], False),
            ("bob", "settings", "/srv/bob/.factory/settings.json", [], False),
            ("bob", "local", "/srv/bob/.factory/settings.local.json", [], False),
            ("bob", "legacy", "/srv/bob/.factory/config.json", [], False),
        ]


def test_merge_args_own_entries_exactly_and_clear_the_guide_s_dead_block():
    entries = _entries.custom_models(CATALOG, ["anthropic/claude-haiku-4.5"], [], URL, KEY, "inline")
    args = _plan.merge_args("settings", entries, URL, "anthropic/claude-haiku-4.5", True)
    assert args["value"]["sessionDefaultSettings"] == {"model": "custom:llmcloud-anthropic-claude-haiku-4.5"}
    assert args["exact_items"] == {"/customModels": ["id", "index"]}
    dead = re.compile(args["prune"]["/custom_models"]["base_url"])
    assert all(dead.match(u) for u in ("https://llmcloud.studio", "https://llmcloud.studio/v1/", "https://llmcloud.studio/"))
    assert not any(dead.match(u) for u in ("https://llmcloud.studio.evil.example", "https://llmcloud.studio/v2", "http://localhost:11434/v1"))
    assert _plan.merge_args("local-default", entries, URL, "anthropic/claude-haiku-4.5")["value"] == {
        "sessionDefaultSettings": {"model": "custom:llmcloud-anthropic-claude-haiku-4.5"}
    }
    assert _plan.merge_args("local", entries, URL, "", False)["prune"] == {}


CHECK_OUTPUT = (
    """byok-check: droid=/usr/local/bin/droid
byok-check: version=0.225.2
byok-check: listing
Available custom models:
  custom:llmcloud-anthropic-claude-haiku-4.5 (Claude Haiku 4.5), custom:Mine-0 (Mine)

Available custom models:
  custom:llmcloud-anthropic-claude-haiku-4.5 (Claude Haiku 4.5), custom:Mine-0 (Mine)

byok-check: file /home/a/.factory/settings.json
{"customModels": [], "sessionDefaultSettings": {"model": "custom:llmcloud-anthropic-claude-haiku-4.5"}}
byok-check: file /etc/factory/settings.json
{"modelPolicy": {"allowedBaseUrls": ["https://other.example/"], "allowCustomModels": false},
 "customModels": [{"apiKey": "%s"}]}
byok-check: end
"""
    % KEY
)


def test_client_problems_name_the_user_and_the_file_and_never_a_value():
    entries = _entries.custom_models(CATALOG, ["anthropic/claude-haiku-4.5"], [], URL, KEY, "inline")
    results = {"results": [{"item": {"name": "alice"}, "stdout": CHECK_OUTPUT}]}
    report = _judges.client_problems(results, [], entries, "anthropic/claude-haiku-4.5", "merge", "always")
    text = " ".join(report["problems"] + report["warnings"])
    assert "user alice: /etc/factory/settings.json sets modelPolicy.allowCustomModels: false" in text
    assert "does not allow https://llmcloud.studio" in text
    assert "more than once" not in text and "does not list" not in text and "default model" not in text
    assert KEY not in text
    # 0.109.3 never reads the system file
    old = {"results": [{"item": {"name": "alice"}, "stdout": CHECK_OUTPUT.replace("0.225.2", "0.109.3")}]}
    assert _judges.client_problems(old, [], entries, "anthropic/claude-haiku-4.5", "merge", "always")["problems"] == []
    hidden = CHECK_OUTPUT.replace("custom:llmcloud-anthropic-claude-haiku-4.5 (Claude Haiku 4.5), ", "") + (
        'byok-check: file /home/a/.factory/settings.local.json\n{"customModels": [], "sessionDefaultSettings": {}}\n'
    )
    report = _judges.client_problems({"results": [{"item": {"name": "alice"}, "stdout": hidden}]}, [], entries, "anthropic/claude-haiku-4.5", "merge", "auto")
    text = " ".join(report["problems"])
    assert "user alice: droid does not list custom:llmcloud-anthropic-claude-haiku-4.5" in text
    assert "The file to fix: /home/a/.factory/settings.local.json" in text
    assert "resolves to no model" in text
    missing = {"results": [{"item": {"name": None}, "stdout": "byok-check: droid=missing\n"}]}
    assert _judges.client_problems(missing, [], entries, "", "merge", "auto") == {
        "problems": [],
        "warnings": [],
        "users": [{"user": None, "droid": None, "version": "", "models": [], "missing": [], "default": None, "problems": [], "warnings": []}],
    }
    assert "the connecting user: droid was not found" in _judges.client_problems(missing, [], entries, "", "merge", "always")["problems"][0]
    merged = {
        "results": [
            {
                "item": {"name": "bob", "kind": "local", "path": "~/.factory/settings.local.json"},
                "applied": True,
                "changed": True,
                "path": "/home/bob/.factory/settings.local.json",
            }
        ]
    }
    assert (
        "user bob: /home/bob/.factory/settings.local.json holds customModels"
        in _judges.client_problems({}, merged, entries, "", "fail", "never")["problems"][0]
    )
    assert _judges.client_problems({}, merged, entries, "", "warn", "never")["problems"] == []


DEFAULT_UNIT = "anthropic/claude-haiku-4.5"


def test_client_problems_say_per_user_what_droid_lists_and_where_the_default_goes():
    """The ``users`` part (the fleet report's): per user the droid, its version, the role's models it
    lists, where the default resolves, and that user's own problems; never a value from a file."""
    entries = _entries.custom_models(CATALOG, ["anthropic/claude-haiku-4.5", "anthropic/claude-sonnet-4.5"], [], URL, KEY, "inline")
    hidden = CHECK_OUTPUT.replace("0.225.2", "0.109.3")
    local = CHECK_OUTPUT.replace("0.225.2", "0.109.3").replace("/home/a/", "/home/b/") + (
        'byok-check: file /home/b/.factory/settings.local.json\n{"sessionDefaultSettings": {"model": "%s"}}\n' % KEY
    )
    results = {"results": [{"item": {"name": "alice"}, "stdout": hidden}, {"item": {"name": "bob"}, "stdout": local}]}
    report = _judges.client_problems(results, [], entries, "anthropic/claude-haiku-4.5", "merge", "auto")
    alice, bob = report["users"]
    assert alice["user"] == "alice" and alice["droid"] == "/usr/local/bin/droid" and alice["version"] == "0.109.3"
    assert alice["models"] == [["custom:llmcloud-anthropic-claude-haiku-4.5", "Claude Haiku 4.5"]]  # not the user's own Mine
    assert alice["missing"] == ["custom:llmcloud-anthropic-claude-sonnet-4.5"]
    assert alice["default"] == {"model": "custom:llmcloud-anthropic-claude-haiku-4.5", "llmcloud": True, "source": "/home/a/.factory/settings.json"}
    assert len(alice["problems"]) == 1 and alice["problems"][0].startswith("user alice: droid does not list custom:llmcloud-anthropic-claude-sonnet-4.5")
    # bob's settings.local.json decides the default; its value there looks like a key: not shown
    assert bob["default"] == {"model": None, "llmcloud": False, "source": "/home/b/.factory/settings.local.json"}
    assert [p.split(":")[0] for p in bob["problems"]] == ["user bob", "user bob"]  # not listed, default elsewhere
    assert report["problems"] == alice["problems"] + bob["problems"]
    # an id droid does not list is shown when it has a custom model's shape, never a credential-looking one
    for value, shown in (("custom:Local-Qwen-0", "custom:Local-Qwen-0"), ("custom:sk-" + "a1B2c3D4e5F6g7H8i9J0k1L2", None), ("claude-opus", None)):
        other = local.replace(KEY, value)
        user = _judges.client_problems({"results": [{"item": {"name": "bob"}, "stdout": other}]}, [], entries, DEFAULT_UNIT, "merge", "auto")["users"][0]
        assert user["default"]["model"] == shown, value
    assert KEY not in repr(report)


# -- preflight ---------------------------------------------------------------------------------


def _answer(status, json=None, msg="", user=None):
    result = {"status": status, "msg": msg, "item": {"name": user, "index": 0 if user else None}}
    if json is not None:
        result["json"] = json
    return result


def test_preflight_all_good():
    answer = _answer(200, {"object": "list", "data": [{"id": m} for m in ALL]})
    assert _judges.preflight_problems({"results": [answer]}, ALL, URL) == []


@pytest.mark.parametrize(
    "answer, words",
    [
        (_answer(401), "API key invalid or unauthorized"),
        (_answer(403, user="alice"), "key of byok_users entry alice"),
        (
            _answer(-1, msg="Status code was -1 and not [200]: Request failed: <urlopen error [Errno 111] Connection refused>"),
            "Unable to connect to API: GET https://llmcloud.studio/v1/models failed (connection refused). Check byok_llmcloud_url",
        ),
        (_answer(-1, msg="Request failed: <urlopen error [Errno -2] Name or service not known>"), "DNS lookup failed"),
        (_answer(-1, msg="Request failed: <urlopen error [SSL: CERTIFICATE_VERIFY_FAILED]>"), "TLS failure"),
        (_answer(200, {"data": [{"id": m} for m in ALL[1:]]}), "Model not found: anthropic/claude-opus-4.6 not in"),
        (_answer(200, {"unexpected": True}), "did not return a model list"),
        (_answer(502), "LLMCloud answered HTTP 502"),
    ],
)
def test_preflight_failures_speak_the_guide(answer, words):
    found = _judges.preflight_problems([answer], ALL, URL)
    assert len(found) == 1 and words in found[0], found


def test_preflight_wanted_entries_only_at_llmcloud():
    entries = [{"model": "a", "baseUrl": URL}, {"model": "b", "baseUrl": URL + "/v1"}, {"model": "c", "baseUrl": "https://elsewhere.example"}]
    assert _entries.llmcloud_models(entries, URL) == ["a", "b"]


# -- issue 11: the key never travels in clear, never follows a redirect ------------------------


@pytest.mark.parametrize(
    "url, refused",
    [
        ("http://llmcloud.studio", True),
        ("HTTP://proxy.example.internal:8080", True),
        ("http://10.0.0.5", True),
        ("http://127.0.0.1:8080", False),
        ("http://127.8.9.10", False),
        ("http://[::1]:9000", False),
        ("http://localhost:11434", False),
        ("http://LOCALHOST.", False),
        ("http://proxy.localhost", False),
        ("https://llmcloud.studio", False),
    ],
)
def test_plain_http_is_refused_except_to_loopback(url, refused):
    sentence = "is plain http:// to"
    found = problems(url=url)
    assert any(sentence in p and "byok_llmcloud_url" in p and "byok_allow_insecure_http" in p for p in found) is refused
    extra = problems(extra_models=[{"model": "m", "provider": "openai", "base_url": url}])
    assert any(sentence in p and "byok_extra_models[0].base_url" in p for p in extra) is refused
    assert problems(url=url, allow_insecure_http=True) == []
    assert problems(extra_models=[{"model": "m", "provider": "openai", "base_url": url}], allow_insecure_http="true") == []


@pytest.mark.parametrize(
    "location, shown",
    [
        ("http://127.0.0.1:9999/v1/models", "a redirect to http://127.0.0.1:9999/v1/models"),
        ("https://user:pw@elsewhere.example/v1/models?key=abc", "a redirect to https://elsewhere.example/v1/models."),
        ("/v2/models?x=1", "a redirect to https://llmcloud.studio/v2/models."),
        (None, "a redirect to an address it did not name"),
    ],
)
def test_preflight_reports_a_redirect_and_where_without_credentials(location, shown):
    answer = _answer(302)
    if location is not None:
        answer["location"] = location
    found = _judges.preflight_problems([answer], ALL, URL)
    assert len(found) == 1 and shown in found[0] and "byok_llmcloud_url" in found[0], found
    assert "pw" not in found[0] and "key=abc" not in found[0]


def test_merge_files_is_the_plan_with_each_users_key_and_options():
    users = [{"name": "alice", "api_key": "alice-own-key-000"}, {"name": "bob"}]
    plan = _plan.merge_plan(_plan.targets(users), "current", "warn", "anthropic/claude-haiku-4.5")
    files = _plan.merge_files(plan, CATALOG, ["anthropic/claude-haiku-4.5"], [], URL, KEY, users, "inline", default_model="anthropic/claude-haiku-4.5")
    assert [(f["path"], f["user"], f["check_only"]) for f in files] == [(p["path"], p["name"], p["check"]) for p in plan]
    keys = [sorted(set(m["apiKey"] for m in f["value"].get("customModels", []))) for f in files]
    assert keys == [["alice-own-key-000"], ["alice-own-key-000"], [], [KEY], [KEY], []]
    for item, f in zip(plan, files):
        expected = _plan.merge_args(
            item["kind"],
            _entries.custom_models(CATALOG, ["anthropic/claude-haiku-4.5"], [], URL, f["value"].get("customModels", [{}])[0].get("apiKey", KEY), "inline"),
            URL,
            "anthropic/claude-haiku-4.5",
        )
        assert {k: f[k] for k in ("keyed_lists", "prune", "exact_items")} == {k: expected[k] for k in ("keyed_lists", "prune", "exact_items")}
        assert f["only_if_keys"] == item["only_if_keys"]
    # env mode: no key anywhere
    env = _plan.merge_files(plan, CATALOG, ["anthropic/claude-haiku-4.5"], [], URL, KEY, users, "env")
    assert "alice-own-key-000" not in repr(env) and KEY not in repr(env)


def test_client_problems_takes_the_items_of_a_files_task_from_the_plan():
    plan = _plan.merge_plan(_plan.targets([{"name": "alice"}]), "current", "warn", "")
    entries = _entries.custom_models(CATALOG, ["anthropic/claude-haiku-4.5"], [], URL, KEY, "env")
    merged = {
        "results": [{"changed": False, "applied": True, "path": "/h/settings.json"}, {"changed": True, "applied": True, "path": "/h/settings.local.json"}]
    }
    report = _judges.client_problems([], merged, entries, "", "warn", "never", plan)
    assert len(report["warnings"]) == 1 and report["warnings"][0].startswith("user alice: /h/settings.local.json holds customModels")
    # without the plan the results name no file kind: nothing to say
    assert _judges.client_problems([], merged, entries, "", "warn", "never")["warnings"] == []


def test_a_key_pasted_into_another_variable_is_never_echoed_by_the_input_check():
    # a reviewer's finding: byok_default_model set to (or holding) a developer's key was quoted back
    key = "Zx9Qw2Lm8Pv4Rt6Yu1Io3Kj7"
    users = [{"name": "alice", "api_key": key}]
    for default in (key, "no-such/model-" + key):
        found = _inputs.problems(CATALOG, ALL, [], URL, KEY, "inline", default_model=default, users=users)
        assert found, "the bad default model must be refused"
        assert not any(key in sentence for sentence in found)
        assert any("byok_default_model" in sentence for sentence in found)
