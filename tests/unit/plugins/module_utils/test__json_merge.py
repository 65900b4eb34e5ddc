# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit and property tests of plugins/module_utils/_json_merge.py: merge semantics and redaction."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.llmcloud.factory_droid.plugins.module_utils._json_merge import (
    MergeError,
    merge,
    normalize,
    parse_pointer,
)
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc import json_equal, parse
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc_writer import make_aligner
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._redact import (
    MASK,
    Masking,
    is_secret_name,
    looks_like_credential,
    mask_text,
)
from ansible_collections.llmcloud.factory_droid.tests.unit.plugins.module_utils.jsonc_helpers import (
    documents,
    mutate,
    render,
)

PROPERTY = settings(max_examples=int(os.environ.get("JSONC_EXAMPLES", "200")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEYED = {"/customModels": ["model", "baseUrl"]}
URL = "https://llmcloud.studio"
PRUNE = {"/customModels": {"baseUrl": r"^https://llmcloud\.studio(/v1)?$"}}


def model(name, url=URL, **extra):
    item = {"model": name, "baseUrl": url, "provider": "anthropic"}
    item.update(extra)
    return item


def frozen(value):
    return json.dumps(value, sort_keys=True)


# ---------------------------------------------------------------- objects and scalars
def test_objects_merge_recursively_and_scalars_replace():
    existing = {"a": 1, "nested": {"x": 1, "y": {"deep": True}}, "list": [1, 2], "z": "keep"}
    before = frozen(existing)
    new, ops = merge(existing, {"a": 2, "nested": {"y": {"more": None}}, "list": [3], "b": {"c": []}})
    assert new == {"a": 2, "nested": {"x": 1, "y": {"deep": True, "more": None}}, "list": [3], "z": "keep", "b": {"c": []}}
    assert list(new) == ["a", "nested", "list", "z", "b"]
    assert ops == [{"op": "replace", "path": "/a"}, {"op": "add", "path": "/nested/y/more"}, {"op": "replace", "path": "/list"}, {"op": "add", "path": "/b"}]
    assert frozen(existing) == before, "merge modified its input"


def test_equal_values_are_no_change_and_booleans_are_not_numbers():
    existing = {"a": 1, "b": True, "c": 2.0, "d": [1, {"e": None}]}
    new, ops = merge(existing, {"a": 1.0, "c": 2, "d": [1, {"e": None}]})
    assert ops == [] and new is existing
    new, ops = merge(existing, {"a": True, "b": 1})
    assert ops == [{"op": "replace", "path": "/a"}, {"op": "replace", "path": "/b"}]
    assert new["a"] is True and new["b"] == 1 and not isinstance(new["b"], bool)


def test_type_changes_replace_the_value():
    new, ops = merge({"a": {"x": 1}, "b": [1], "c": "str"}, {"a": "flat", "b": {"k": 1}, "c": None})
    assert new == {"a": "flat", "b": {"k": 1}, "c": None}
    assert [op["op"] for op in ops] == ["replace"] * 3


def test_pointer_tokens_are_escaped():
    new, ops = merge({}, {"a/b": {"c~d": 1}})
    assert ops == [{"op": "add", "path": "/a~1b"}]
    new, ops = merge(new, {"a/b": {"c~d": 2}})
    assert ops == [{"op": "replace", "path": "/a~1b/c~0d"}]
    assert parse_pointer("/a~1b/c~0d") == ("a/b", "c~d")


# ---------------------------------------------------------------- keyed lists
def test_keyed_items_upsert_in_place_and_keep_fields_value_does_not_name():
    existing = {
        "customModels": [
            model("user/own", "https://example.invalid", apiKey="mine"),
            model("a", apiKey="old", id="custom:A-0", index=1, displayName="A"),
            {"note": "an item without identity fields"},
        ]
    }
    value = {"customModels": [model("b", apiKey="k"), model("a", apiKey="new", displayName="A")]}
    new, ops = merge(existing, value, KEYED)
    assert new["customModels"] == [
        model("user/own", "https://example.invalid", apiKey="mine"),
        model("a", apiKey="new", id="custom:A-0", index=1, displayName="A"),
        {"note": "an item without identity fields"},
        model("b", apiKey="k"),
    ]
    assert ops == [{"op": "replace", "path": "/customModels/1/apiKey"}, {"op": "add", "path": "/customModels/3"}]
    again, ops = merge(new, value, KEYED)
    assert ops == [] and again is new


def test_keyed_list_items_are_never_sorted():
    existing = {"customModels": [model("z"), model("m"), model("a")]}
    value = {"customModels": [model("a", x=1), model("z", x=1), model("c")]}
    new, ops = merge(existing, value, KEYED)
    assert [m["model"] for m in new["customModels"]] == ["z", "m", "a", "c"]


def test_prune_removes_managed_items_no_longer_wanted_and_keeps_user_items():
    existing = {
        "customModels": [
            model("gone"),
            model("user", "https://example.invalid"),
            model("kept"),
            model("gone-too", URL + "/v1"),
            model("kept", extra="a managed duplicate"),
        ]
    }
    value = {"customModels": [model("kept")]}
    new, ops = merge(existing, value, KEYED, PRUNE)
    kept = [(m["model"], m["baseUrl"]) for m in new["customModels"]]
    assert kept == [("user", "https://example.invalid"), ("kept", URL)]
    assert ops == [{"op": "remove", "path": "/customModels/0"}, {"op": "remove", "path": "/customModels/3"}, {"op": "remove", "path": "/customModels/4"}]
    # prune applies when value does not name the list at all, and leaves a list it finds nothing in
    new, ops = merge(existing, {"theme": "dark"}, KEYED, PRUNE)
    assert [m["model"] for m in new["customModels"]] == ["user"]
    new, ops = merge({"customModels": [model("user", "https://x")]}, {}, KEYED, PRUNE)
    assert ops == []


def test_prune_needs_every_regex_to_match():
    existing = {"customModels": [model("a", provider="openai"), model("b")]}
    new, _ops = merge(existing, {}, KEYED, {"/customModels": {"baseUrl": "llmcloud", "provider": "^openai$"}})
    assert [m["model"] for m in new["customModels"]] == ["b"]


def test_prune_of_a_nested_keyed_list():
    keyed = {"/profiles/work/models": ["id"]}
    existing = {"profiles": {"work": {"models": [{"id": 1, "managed": "yes"}, {"id": 2}]}, "home": {}}}
    new, ops = merge(existing, {"theme": "x"}, keyed, {"/profiles/work/models": {"managed": "yes"}})
    assert new["profiles"]["work"]["models"] == [{"id": 2}]
    assert ops == [{"op": "add", "path": "/theme"}, {"op": "remove", "path": "/profiles/work/models/0"}]


def test_new_keyed_list_and_null_list_are_written_whole():
    new, ops = merge({}, {"customModels": [model("a")]}, KEYED)
    assert new == {"customModels": [model("a")]} and ops == [{"op": "add", "path": "/customModels"}]
    new, ops = merge({"customModels": None}, {"customModels": [model("a")]}, KEYED)
    assert ops == [{"op": "replace", "path": "/customModels"}]


@pytest.mark.parametrize(
    "value,words",
    [
        ({"customModels": [{"model": "x", "provider": "anthropic"}]}, ["value/customModels/0", '"baseUrl"', "model, baseUrl"]),
        ({"customModels": [{"provider": "anthropic"}]}, ['"model", "baseUrl"', "add them"]),
        ({"customModels": ["just a string"]}, ["value/customModels/0 must be an object"]),
        ({"customModels": {"model": "x"}}, ["value/customModels must be a list"]),
        ({"customModels": [model("a"), model("b"), model("a")]}, ["value/customModels/2", "value/customModels/0", "once"]),
    ],
)
def test_bad_desired_items_name_the_pointer_and_field(value, words):
    with pytest.raises(MergeError) as info:
        merge({"customModels": []}, value, KEYED)
    for word in words:
        assert word in str(info.value)


def test_existing_keyed_list_of_the_wrong_type_is_an_error():
    with pytest.raises(MergeError) as info:
        merge({"customModels": {"model": "x"}}, {"customModels": [model("a")]}, KEYED)
    assert "an object at /customModels" in str(info.value)


@pytest.mark.parametrize(
    "keyed,prune,words",
    [
        ({"customModels": ["model"]}, None, ['"customModels"', "JSON pointer"]),
        ({"/customModels": []}, None, ['keyed_lists["/customModels"]', "non-empty"]),
        ({"/customModels": [1]}, None, ["non-empty list of field names"]),
        ({"/a~2": ["x"]}, None, ['"~"']),
        (KEYED, {"/customModels": {"baseUrl": "(unclosed"}}, ['prune["/customModels"]["baseUrl"]', "regular expression"]),
        (KEYED, {"/other": {"baseUrl": "x"}}, ['prune["/other"]', "keyed lists only"]),
        (KEYED, {"/customModels": {}}, ["must map field names"]),
        (KEYED, {"/customModels": {"baseUrl": 5}}, ["regular expression string"]),
    ],
)
def test_bad_options_are_clear_errors(keyed, prune, words):
    with pytest.raises(MergeError) as info:
        merge({}, {}, keyed, prune)
    for word in words:
        assert word in str(info.value)


def test_single_identity_field_may_be_a_string():
    new, ops = merge({"l": [{"id": 1, "v": 1}]}, {"l": [{"id": 1, "v": 2}]}, {"/l": "id"})
    assert new == {"l": [{"id": 1, "v": 2}]} and ops == [{"op": "replace", "path": "/l/0/v"}]


# ---------------------------------------------------------------- absent
def test_absent_removes_named_keys_subkeys_and_keyed_items():
    existing = {"a": 1, "b": {"x": 1, "y": 2}, "c": {"z": 1}, "customModels": [model("m1"), model("m2"), model("m1")], "keep": True}
    value = {"a": None, "b": {"x": "whatever"}, "c": {}, "customModels": [{"model": "m1", "baseUrl": URL}], "missing": 1}
    new, ops = merge(existing, value, KEYED, None, "absent")
    assert new == {"b": {"y": 2}, "customModels": [model("m2")], "keep": True}
    assert ops == [
        {"op": "remove", "path": "/a"},
        {"op": "remove", "path": "/b/x"},
        {"op": "remove", "path": "/c"},
        {"op": "remove", "path": "/customModels/0"},
        {"op": "remove", "path": "/customModels/2"},
    ]
    again, ops = merge(new, value, KEYED, None, "absent")
    assert ops == [] and again is new


def test_absent_with_prune_and_a_non_list_value_for_a_keyed_list():
    existing = {"customModels": [model("a"), model("u", "https://x")]}
    new, ops = merge(existing, {"customModels": []}, KEYED, PRUNE, "absent")
    assert new == {"customModels": [model("u", "https://x")]}
    new, ops = merge(existing, {"customModels": None}, KEYED, None, "absent")
    assert new == {} and ops == [{"op": "remove", "path": "/customModels"}]
    with pytest.raises(MergeError):
        merge(existing, {"customModels": [{"model": "a"}]}, KEYED, None, "absent")


def test_value_and_state_are_checked():
    with pytest.raises(MergeError, match="value must be an object"):
        merge({}, [1])
    with pytest.raises(MergeError, match="state must be present or absent"):
        merge({}, {}, state="merged")
    with pytest.raises(MergeError, match=r"value/a/0: a set is not a JSON value"):
        merge({}, {"a": [{1, 2}]})
    with pytest.raises(MergeError, match="not a JSON number"):
        normalize({"a": float("nan")})
    with pytest.raises(MergeError, match="nested deeper than 200"):
        nested = {}
        node = nested
        for _dummy in range(250):
            node["a"] = {}
            node = node["a"]
        merge({}, nested)
    assert normalize({"t": (1, 2)}) == {"t": [1, 2]}


# ---------------------------------------------------------------- aligner
def test_aligner_matches_identity_and_appends():
    align = make_aligner(KEYED)
    old = [model("a"), {"user": 1}, model("b"), model("c")]
    new = [model("a", x=1), {"user": 1}, model("c"), model("d")]
    assert align("/customModels", old, new) == [0, 1, 3, None]
    assert align("/other", old, new) == [0, 1, 3, None]  # plain lists: by equality, changed objects by position


# ---------------------------------------------------------------- redaction
def test_redact_masks_secret_named_leaves_at_any_depth_and_case():
    value = {
        "customModels": [{"model": "m", "APIKEY": "sk-1", "extraHeaders": {"Authorization": "Bearer x"}}],
        "nested": {"Secret": {"a": 1}, "password": None},
        "token": 42,
        "plain": "anthropic",
    }
    masked = Masking().redact(value)
    # containers are never masked whole: their keys stay readable, their leaves are judged
    assert masked == {
        "customModels": [{"model": "m", "APIKEY": MASK, "extraHeaders": {"Authorization": MASK}}],
        "nested": {"Secret": {"a": 1}, "password": None},
        "token": MASK,
        "plain": "anthropic",
    }
    assert value["customModels"][0]["APIKEY"] == "sk-1"
    assert Masking(["plain"]).redact(value)["plain"] == MASK
    # redact names add to the rule; they never switch it off (redact_exclude does)
    assert Masking([]).redact(value)["token"] == MASK and Masking(exclude=["TOKEN"]).redact(value)["token"] == 42


@pytest.mark.parametrize(
    "name",
    [
        "apiKey",
        "api_key",
        "API_KEY",
        "x-api-key",
        "apiKeyHelper",
        "token",
        "accessToken",
        "access_token",
        "accesstoken",
        "OAuthToken",
        "oauth",
        "secret",
        "clientSecret",
        "password",
        "PASSWD",
        "db_pass",
        "pwd",
        "passphrase",
        "auth",
        "Authorization",
        "proxyAuth",
        "credential",
        "Cookie",
        "session",
        "sessionId",
        "session_token",
        "bearer",
        "LLMCLOUD_API_KEY",
        "X-Proxy-Token",
    ],
)
def test_secret_key_names_by_word(name):
    assert is_secret_name(name)
    assert Masking().redact({name: "v"}) == {name: MASK}


@pytest.mark.parametrize(
    "name",
    [
        "model",
        "displayName",
        "baseUrl",
        "provider",
        "maxOutputTokens",
        "thinkingMaxTokens",
        "maxContextLimit",
        "authMode",
        "apiKeyHelperTtlMs",
        "tokenLimit",
        "keyFile",
        "apiKeyEnv",
        "keyed",
        "keybindings",
        "reasoningEffort",
        "id",
        "index",
        "passage",
        "authorName",
    ],
)
def test_readable_key_names(name):
    assert not is_secret_name(name)
    assert Masking().redact({name: "anthropic"}) == {name: "anthropic"}


def test_session_default_settings_stays_readable_its_secret_leaves_do_not():
    value = {"sessionDefaultSettings": {"model": "custom:Claude-Sonnet-4.6-0", "reasoningEffort": "high", "sessionToken": "abc"}}
    assert Masking().redact(value) == {"sessionDefaultSettings": {"model": "custom:Claude-Sonnet-4.6-0", "reasoningEffort": "high", "sessionToken": MASK}}


def test_every_value_of_a_header_map_is_masked_whatever_its_name():
    headers = {"X-Proxy-Token": "sk-HEADERCANARY-7777777777", "X-Org": "acme-org", "X-Count": 3}
    value = {
        "customModels": [{"model": "azure/gpt-5", "extraHeaders": headers}],
        "extra_headers": {"X-Plain": "plain-value"},
        "headers": [{"name": "X-A", "value": "list-form"}],
        "cookies": {"sid": "cookie-value"},
        "credentials": {"user": "bob", "flag": True},
    }
    masked = Masking().redact(value)
    assert masked["customModels"][0]["extraHeaders"] == {"X-Proxy-Token": MASK, "X-Org": MASK, "X-Count": MASK}
    assert masked["customModels"][0]["model"] == "azure/gpt-5"
    assert masked["extra_headers"] == {"X-Plain": MASK}
    assert masked["headers"] == [{"name": MASK, "value": MASK}]
    assert masked["cookies"] == {"sid": MASK} and masked["credentials"] == {"user": MASK, "flag": True}
    assert Masking().secrets(value) == {"sk-HEADERCANARY-7777777777", "acme-org", "plain-value", "list-form", "cookie-value"}


@pytest.mark.parametrize(
    "text",
    [
        "sk-HEADERCANARY-7777777777",
        "sk-ant-api03-abcdefghijklmnop",
        "sk_live_0123456789abcdef",
        "ghp_0123456789abcdefABCDEF0123456789abcd",
        "github_pat_11ABCDEFG0123456789_abcdefghij",
        "AKIAIOSFODNN7EXAMPLE",
        "xoxb-1234-5678-abcdefgh",
        "glpat-abcdefghij0123456789",
        "AIzaSyA0123456789abcdefghijklmnopqrstuv",
        "Bearer abcdefgh12345",
        "bearer abcdefgh12345",
        "Basic dXNlcjpwYXNzd29yZA==",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nabc",
        "Zx8kQ2mN7pL4vR9tW3yB6cD1",
        "5f4dcc3b5aa765d61d8327deb882cf99a1b2c3d4",
        "prefix sk-abcdefghijkl0123 suffix",
        "echo ghp_0123456789abcdefABCDEF0123456789abcd",
    ],
)
def test_values_that_look_like_credentials_are_masked_under_any_key(text):
    assert looks_like_credential(text)
    assert Masking().redact({"note": text, "list": [text]}) == {"note": MASK, "list": [MASK]}
    assert text in Masking().secrets({"note": text})


@pytest.mark.parametrize(
    "text",
    [
        "anthropic/claude-opus-4.6",
        "anthropic/claude-opus-4.5-thinking",
        "google/gemini-3-flash-preview",
        "claude-sonnet-4-5-20250929",
        "anthropic/claude-sonnet-4-5-20250929-thinking",
        "gpt-4o-2024-08-06",
        "https://llmcloud.studio/v1",
        "https://llmcloud.studio",
        "http://localhost:11434/v1",
        "Claude Sonnet 4.5 Thinking",
        "custom:Claude-Sonnet-4.6-0",
        "123e4567-e89b-12d3-a456-426614174000",
        "/Users/Alice/Projects2024/settings.json",
        "${LLMCLOUD_API_KEY}",
        "generic-chat-completion-api",
        "deepseek/deepseek-v3.2",
        "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        "Qwen/Qwen2.5-Coder-32B-Instruct",
        "mistralai/Mixtral-8x22B-Instruct-v0.1",
        "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
        "GPT-5 via company proxy",
        "skills-directory-for-agents",
    ],
)
def test_values_needed_to_review_a_change_stay_readable(text):
    assert not looks_like_credential(text)
    assert Masking().redact({"model": text}) == {"model": text}


def test_a_password_in_a_url_is_masked_and_the_url_stays_readable():
    value = {"baseUrl": "https://bob:hunter2-pw@proxy.internal/v1"}
    assert looks_like_credential(value["baseUrl"])
    assert Masking().redact(value) == {"baseUrl": "https://bob:********@proxy.internal/v1"}
    assert Masking().secrets(value) == {"hunter2-pw"}


def test_redact_exclude_opts_a_name_out_and_redact_names_add_whole_names():
    value = {"sessionId": "visible-session", "extraHeaders": {"X-Org": "acme"}, "myPin": 1234, "note": "sk-abcdefghijkl0123"}
    masked = Masking(["MYPIN"], ["sessionid", "extraHeaders", "note"]).redact(value)
    assert masked == {"sessionId": "visible-session", "extraHeaders": {"X-Org": "acme"}, "myPin": MASK, "note": "sk-abcdefghijkl0123"}
    assert Masking(["myPin"], ["sessionId", "extraHeaders", "note"]).secrets(value) == {"1234"}
    # a name given in redact that holds a container: every leaf below it is masked, keys stay
    assert Masking(["vault"]).redact({"vault": {"a": "x", "b": [1]}}) == {"vault": {"a": MASK, "b": [MASK]}}


def test_collect_secrets_finds_every_secret_leaf():
    value = {
        "customModels": [{"apiKey": "sk-abcdef"}, {"apiKey": "sk-abcdef"}],
        "secret": {"a": ["deep-secret", 7]},
        "token": 123456,
        "password": "abc",
        "other": "not-a-secret",
        "apiKeyHelper": MASK,
        "apiKeys": ["listed-key-1"],
    }
    assert Masking().secrets(value) == {"sk-abcdef", "123456", "listed-key-1"}
    assert Masking().secrets(value, min_length=1) == {"sk-abcdef", "123456", "abc", "listed-key-1"}
    assert Masking().holds_secrets(value) and not Masking().holds_secrets({"model": "m", "secret": {"a": 1}, "token": None})
    text = json.dumps(value) + " raw sk-abcdef"
    masked = mask_text(text, Masking().secrets(value))
    assert "sk-abcdef" not in masked and "listed-key-1" not in masked and "not-a-secret" in masked


def test_redact_text_masks_in_place_keeps_layout_and_comments():
    text = (
        '{\n  // old key: "apiKey": "sk-old-commented-0001"\n  /* "password": "pw1" */\n'
        '  "customModels": [\n    {"model": "anthropic/claude-opus-4.6", "apiKey": "k1",\n'
        '     "extraHeaders": {"X-Proxy-Token": "hdr-value", "X-N": 7}},\n'
        '    {"model": "own/model", "baseUrl": "https://u:pw-in-url@proxy.example/v1"}\n  ],\n'
        '  "sessionDefaultSettings": {"model": "custom:x-0"},\n'
        '  "myNote": "ghp_0123456789abcdefABCDEF0123456789abcd",\n  "authMode": "api-key",\n'
        '  "secret": {"inner": "stays-visible-key-below-a-singular-name"}\n}\n'
    )
    doc = parse(text)
    out = Masking().text(doc)
    for gone in ("sk-old-commented-0001", '"pw1"', '"k1"', "hdr-value", "pw-in-url", "ghp_0123", '"X-N": 7'):
        assert gone not in out, gone
    for kept in (
        '"model": "anthropic/claude-opus-4.6"',
        '"X-Proxy-Token": "********"',
        '"X-N": "********"',
        '"apiKey": "********"',
        '"model": "custom:x-0"',
        '"authMode": "api-key"',
        "// old key:",
        '"myNote": "********"',
        "proxy.example/v1",
        "stays-visible-key-below-a-singular-name",
    ):
        assert kept in out, kept
    assert out.count("\n") == text.count("\n")
    parse(out)  # still a valid document
    assert Masking(exclude=["authMode", "myNote"]).text(doc).count("ghp_0123") == 1
    assert '"k1"' in Masking(exclude=["apiKey"]).text(doc) and "hdr-value" not in Masking(exclude=["apiKey"]).text(doc)
    # secrets given by the caller are masked wherever they still appear
    assert "custom:x-0" not in Masking().text(doc, {"custom:x-0"})


def test_many_secrets_are_masked_in_one_pass():
    models = [{"model": "m%d" % i, "apiKey": "key-number-%04d" % i} for i in range(300)]
    text = json.dumps({"customModels": models, "copy": "key-number-0042", "inside": "x key-number-0007 y"}, indent=1)
    out = Masking().text(parse(text), {"key-number-0007"})
    assert "key-number-" not in out and out.count('"********"') == 301 and '"x ******** y"' in out
    big = ("filler " * 200000) + " ".join("tok-%03d-secret" % i for i in range(40)) + ' "tok-\\u00e9"'
    masked = mask_text(big, ["tok-%03d-secret" % i for i in range(40)] + ["tok-\u00e9"])
    assert "tok-" not in masked and masked.count(MASK) == 41


@PROPERTY
@given(
    documents,
    st.lists(st.sampled_from(["apiKey", "sessionToken", "X-Auth", "password", "note", "model"]), min_size=1, max_size=3),
    st.text(min_size=4, max_size=12),
)
def test_property_redacted_text_parses_and_holds_no_secret_leaf(doc, names, secret):
    value = dict(doc)
    for index, name in enumerate(names):
        value[name] = secret + str(index)
    value["extraHeaders"] = {"X-Any": secret + "h"}
    out = Masking().text(parse(render(value, 0).text))
    for leaf in Masking().secrets(value):  # 4 characters or more: masked wherever they appear
        assert leaf not in out and json.dumps(leaf)[1:-1] not in out


# ---------------------------------------------------------------- properties
def _keyed_documents():
    item = st.fixed_dictionaries(
        {"model": st.sampled_from(["a", "b", "c", "d"]), "baseUrl": st.sampled_from([URL, "https://u.example"])},
        optional={"apiKey": st.text(max_size=5), "id": st.text(max_size=3), "n": st.integers(0, 3)},
    )
    return st.lists(st.one_of(item, st.fixed_dictionaries({"note": st.text(max_size=3)})), max_size=6)


@PROPERTY
@given(documents, st.integers(0, 2**32))
def test_property_merging_twice_equals_merging_once(existing, seed):
    value = mutate(existing, seed)
    once, _ops = merge(existing, value)
    twice, ops = merge(once, value)
    assert json_equal(once, twice) and ops == []


@PROPERTY
@given(documents, st.integers(0, 2**32))
def test_property_keys_value_does_not_name_keep_value_and_position(existing, seed):
    value = mutate(existing, seed)
    new, ops = merge(existing, value)
    assert list(new)[: len(existing)] == list(existing)
    for key, item in existing.items():
        if key not in value:
            assert new[key] is item
    touched = set(op["path"].split("/")[1] for op in ops)
    assert all(key in value or key.replace("~", "~0").replace("/", "~1") not in touched for key in existing)


@PROPERTY
@given(_keyed_documents(), _keyed_documents(), st.booleans())
def test_property_keyed_merge_is_idempotent_and_keeps_user_items(existing_items, desired_items, with_prune):
    desired, seen = [], set()
    for item in desired_items:
        if "model" in item and (item["model"], item["baseUrl"]) not in seen:
            seen.add((item["model"], item["baseUrl"]))
            desired.append(item)
    existing = {"customModels": existing_items}
    prune = PRUNE if with_prune else None
    new, dummy = merge(existing, {"customModels": desired}, KEYED, prune)
    again, ops = merge(new, {"customModels": desired}, KEYED, prune)
    assert ops == [] and json_equal(again, new)
    result = new["customModels"]
    for item in desired:  # every desired item is there with its fields
        match = [m for m in result if m.get("model") == item["model"] and m.get("baseUrl") == item["baseUrl"]]
        assert match and all(match[0][k] == v for k, v in item.items())
    user = [
        m for m in existing_items if not (isinstance(m, dict) and m.get("baseUrl") == URL and with_prune) and (m.get("model"), m.get("baseUrl")) not in seen
    ]
    assert [m for m in result if m in user] == user  # user items stay, in their order


@PROPERTY
@given(documents, st.integers(0, 2**32), st.integers(0, 2**32))
def test_property_merge_then_write_parses_back_and_reruns_unchanged(existing, seed, mutation_seed):
    text = render(existing, seed).text
    doc = parse(text)
    value = mutate(existing, mutation_seed)
    new, ops = merge(doc.value, value)
    out = doc.update(new, make_aligner({}))
    assert json_equal(parse(out).value, new)
    assert (out == text) == (not ops)
    rerun = parse(out)
    new2, ops2 = merge(rerun.value, value)
    assert ops2 == [] and rerun.update(new2) == out


@PROPERTY
@given(_keyed_documents(), _keyed_documents(), st.integers(0, 2**32))
def test_property_keyed_merge_written_minimally(existing_items, desired_items, seed):
    desired, seen = [], set()
    for item in desired_items:
        if "model" in item and (item["model"], item["baseUrl"]) not in seen:
            seen.add((item["model"], item["baseUrl"]))
            desired.append(item)
    existing = {"theme": "dark", "customModels": existing_items}
    rendered = render(existing, seed, comment_rate=0.5)
    doc = parse(rendered.text)
    new, ops = merge(doc.value, {"customModels": desired}, KEYED, PRUNE)
    out = doc.update(new, make_aligner(KEYED))
    assert json_equal(parse(out).value, new)
    removed = set(int(op["path"].split("/")[2]) for op in ops if op["op"] == "remove")
    for mark, pointer, where in rendered.comments:
        parts = pointer.split("/")
        if len(parts) >= 3 and parts[1] == "customModels" and int(parts[2]) not in removed and where == "before" and len(parts) == 3:
            assert mark in out, (mark, pointer)  # comments before kept items stay
        if pointer == "/theme":
            assert mark in out


# ---------------------------------------------------------------- exact ownership of keyed items
EXACT = {"/customModels": ["id", "index"]}


def test_exact_items_drop_fields_the_value_no_longer_names_and_keep_the_listed_ones():
    old_item = model(
        "a",
        id="custom:A-0",
        index=3,
        displayName="A",
        reasoningEffort="high",
        maxOutputTokens=8192,
        extraHeaders={"X-Team": "platform", "X-Other": "1"},
        managedBy="someone",
    )
    existing = {"customModels": [model("mine", url="http://localhost"), old_item], "theme": "dark"}
    before = frozen(existing)
    want = model("a", displayName="A", extraHeaders={"X-Team": "platform"})
    new, ops = merge(existing, {"customModels": [want]}, KEYED, PRUNE, exact=EXACT)
    assert new["customModels"][0] is existing["customModels"][0] and new["theme"] == "dark"
    assert new["customModels"][1] == dict(want, id="custom:A-0", index=3)
    # the file's key order is kept (minimal edits), the removed keys are reported in the old document
    assert list(new["customModels"][1]) == ["model", "baseUrl", "provider", "id", "index", "displayName", "extraHeaders"]
    assert ops == [
        {"op": "remove", "path": "/customModels/1/reasoningEffort"},
        {"op": "remove", "path": "/customModels/1/maxOutputTokens"},
        {"op": "remove", "path": "/customModels/1/managedBy"},
        {"op": "replace", "path": "/customModels/1/extraHeaders"},
    ]
    assert frozen(existing) == before
    again, ops = merge(new, {"customModels": [want]}, KEYED, PRUNE, exact=EXACT)
    assert ops == [] and again is new


def test_exact_items_value_fields_win_over_kept_fields_and_new_fields_are_added():
    existing = {"customModels": [model("a", id="custom:Generated-0", index=0)]}
    want = model("a", id="custom:llmcloud-a", noImageSupport=False)
    new, ops = merge(existing, {"customModels": [want]}, KEYED, exact=EXACT)
    assert new["customModels"] == [dict(want, index=0)]
    assert ops == [{"op": "replace", "path": "/customModels/0/id"}, {"op": "add", "path": "/customModels/0/noImageSupport"}]


def test_exact_items_with_an_empty_keep_list_and_unmatched_items_untouched():
    mine = model("mine", url="http://localhost", extra=1)
    existing = {"customModels": [mine, model("a", index=1, stale=True)]}
    new, ops = merge(existing, {"customModels": [model("a"), model("b")]}, KEYED, exact={"/customModels": []})
    assert new["customModels"] == [mine, model("a"), model("b")]
    assert new["customModels"][0] is mine
    assert ops == [
        {"op": "remove", "path": "/customModels/1/index"},
        {"op": "remove", "path": "/customModels/1/stale"},
        {"op": "add", "path": "/customModels/2"},
    ]
    # without exact, the same merge keeps the stale fields (the old semantics)
    kept, _ops = merge(existing, {"customModels": [model("a"), model("b")]}, KEYED)
    assert kept["customModels"][1] == model("a", index=1, stale=True)


@pytest.mark.parametrize(
    "exact, words",
    [
        ({"/other": ["id"]}, "exact_items works on keyed lists only"),
        ({"/customModels": [1]}, "must be a list of the field names"),
        ({"customModels": []}, "is not a JSON pointer"),
    ],
)
def test_exact_items_option_errors_name_the_option(exact, words):
    with pytest.raises(MergeError, match=words):
        merge({}, {}, KEYED, exact=exact)


@PROPERTY
@given(documents, st.lists(st.sampled_from(["id", "index", "x", "model"]), max_size=3))
def test_exact_merge_is_idempotent(doc, keep):
    items = [model("a", displayName="A", n=1), model("b", extra={"k": [1]})]
    existing = dict(doc) if isinstance(doc, dict) else {}
    existing["customModels"] = [model("a", id="custom:x", index=0, old=True)]
    once, _ops = merge(existing, {"customModels": items}, KEYED, PRUNE, exact={"/customModels": keep})
    twice, ops = merge(once, {"customModels": items}, KEYED, PRUNE, exact={"/customModels": keep})
    assert ops == [] and json_equal(once, twice)


# -- remember: the value a merge replaces is kept, and given back by an absent merge ---------------
REMEMBER = {"/sessionDefaultSettings/model": "/previousModel"}


def test_remember_keeps_the_replaced_value_and_absent_gives_it_back():
    mine = {"sessionDefaultSettings": {"model": "custom:Mine-0", "reasoningEffort": "low"}, "theme": "dark"}
    ours = {"sessionDefaultSettings": {"model": "custom:ours"}}
    onboarded, operations = merge(mine, ours, remember=REMEMBER)
    assert onboarded == {"sessionDefaultSettings": {"model": "custom:ours", "reasoningEffort": "low"}, "theme": "dark", "previousModel": "custom:Mine-0"}
    assert {"op": "add", "path": "/previousModel"} in operations
    assert mine["sessionDefaultSettings"]["model"] == "custom:Mine-0"  # the input is kept
    again, operations = merge(onboarded, ours, remember=REMEMBER)
    assert again == onboarded and operations == []
    offboarded, operations = merge(onboarded, {"sessionDefaultSettings": {"model": None}}, state="absent", remember=REMEMBER)
    assert offboarded == mine
    # the whole object removed (it held only the model): it comes back with the kept model
    only = {"sessionDefaultSettings": {"model": "custom:ours"}, "previousModel": "custom:Mine-0"}
    assert merge(only, {"sessionDefaultSettings": None}, state="absent", remember=REMEMBER)[0] == {"sessionDefaultSettings": {"model": "custom:Mine-0"}}


def test_remember_keeps_the_owner_s_newer_choice_and_drops_a_stale_copy():
    onboarded = {"sessionDefaultSettings": {"model": "custom:Newer-0"}, "previousModel": "custom:Mine-0"}
    assert merge(onboarded, {"sessionDefaultSettings": {"model": "custom:ours"}}, remember=REMEMBER)[0]["previousModel"] == "custom:Newer-0"
    # absent that does not remove the model (the owner's own now): the model stays, the copy goes
    assert merge(onboarded, {"customModels": []}, state="absent", remember=REMEMBER)[0] == {"sessionDefaultSettings": {"model": "custom:Newer-0"}}
    # nothing there before: nothing to keep
    assert "previousModel" not in merge({}, {"sessionDefaultSettings": {"model": "custom:ours"}}, remember=REMEMBER)[0]
