"""The byok role judged by the real droid client: what it lists, what it validates, what it sends."""

from __future__ import annotations

import json

from conftest import CATALOG_IDS, CATALOG_NAMES, KEY, OTHER_KEY, strip_comments

# The role writes an explicit id on each of its entries: custom:llmcloud-<model id, "/" as "-">.
CATALOG_LISTING = [("custom:llmcloud-%s" % model.replace("/", "-"), CATALOG_NAMES[model]) for model in CATALOG_IDS]
# Without stored ids (the legacy config.json), droid generates custom:<name>-<n>.
GENERATED_LISTING = [("custom:%s-0" % CATALOG_NAMES[model].replace(" ", "-"), CATALOG_NAMES[model]) for model in CATALOG_IDS]

DEVELOPER_SETTINGS = """{
  // Written by hand. Every byte of this comment must survive onboarding.
  "theme": "dark",
  "autonomyLevel": "medium", /* trailing block comment */
  "customModels": [
    // my local model
    {
      "model": "qwen2.5-coder:7b",
      "displayName": "My Local Qwen",
      "baseUrl": "http://localhost:11434/v1",
      "apiKey": "ollama",
      "provider": "generic-chat-completion-api"
    },
    {
      "model": "anthropic/claude-sonnet-4.5",
      "displayName": "Sonnet via my own proxy",
      "baseUrl": "https://llmcloud.studio.my-proxy.example",
      "apiKey": "my-own-proxy-key",
      "provider": "anthropic"
    },
    {
      "model": "anthropic/claude-haiku-4.5",
      "displayName": "Haiku under a neighbouring path",
      "baseUrl": "https://llmcloud.studio/v2",
      "apiKey": "my-v2-key",
      "provider": "anthropic"
    }
  ]
}
"""
OWN_LISTING = [
    ("custom:My-Local-Qwen-0", "My Local Qwen"),
    ("custom:Sonnet-via-my-own-proxy-0", "Sonnet via my own proxy"),
    ("custom:Haiku-under-a-neighbouring-path-0", "Haiku under a neighbouring path"),
]


def test_droid_lists_exactly_the_catalog_and_doctor_passes(sandbox, droid):
    first = sandbox.play()
    assert first.changed == 1
    assert droid.models(sandbox.home) == CATALOG_LISTING
    report = droid.doctor(sandbox.home)
    config = [r for r in report["results"] if r["category"] == "configuration"]
    assert report["ok"] is True and config and all(r["status"] == "pass" for r in config), report
    # what the file holds, and how it is protected
    assert oct(sandbox.settings_path.stat().st_mode & 0o777) == "0o600"
    assert oct(sandbox.factory.stat().st_mode & 0o777) == "0o700"
    entries = sandbox.settings()["customModels"]
    assert {e["apiKey"] for e in entries} == {KEY}
    assert [e["baseUrl"] for e in entries] == ["https://llmcloud.studio"] * 6 + ["https://llmcloud.studio/v1"] * 2
    # the second run changes nothing, not even the file's mtime
    before = sandbox.snapshot()
    second = sandbox.play()
    assert second.changed == 0 and sandbox.snapshot() == before


def test_requests_carry_the_vaulted_key_for_both_families(sandbox, droid, standin):
    sandbox.play({"byok_llmcloud_url": standin.url})
    anthropic = droid.exec(sandbox.home, "-m", "custom:llmcloud-anthropic-claude-sonnet-4.5", "hi")
    openai = droid.exec(sandbox.home, "-m", "custom:llmcloud-google-gemini-3-pro-preview", "hi")
    posts = [r for r in standin.requests() if r["method"] == "POST"]
    messages = [r for r in posts if r["path"] == "/v1/messages"]
    responses = [r for r in posts if r["path"] == "/v1/responses"]
    assert messages and responses, (posts, anthropic.stderr, openai.stderr)
    assert {(r["auth"], r["api_key"], r["model"]) for r in messages} == {("x-api-key", KEY, "anthropic/claude-sonnet-4.5")}
    assert {(r["auth"], r["api_key"], r["model"]) for r in responses} == {("bearer", KEY, "google/gemini-3-pro-preview")}
    assert responses[0]["headers"]["authorization"] == "Bearer " + KEY
    assert anthropic.returncode == 0 and openai.returncode == 0, (anthropic.stderr, openai.stderr)
    assert "Hello from the LLMCloud stand-in." in anthropic.stdout + openai.stdout
    # droid may have rewritten its settings while running; the role still has nothing to change
    assert sandbox.play({"byok_llmcloud_url": standin.url}).changed == 0


def test_generic_chat_completion_provider_for_the_openai_family(sandbox, droid, standin):
    sandbox.play(
        {"byok_llmcloud_url": standin.url, "byok_openai_family_provider": "generic-chat-completion-api", "byok_models": ["google/gemini-3-flash-preview"]}
    )
    assert [e["provider"] for e in sandbox.settings()["customModels"]] == ["generic-chat-completion-api"]
    droid.exec(sandbox.home, "-m", "custom:llmcloud-google-gemini-3-flash-preview", "hi")
    posts = [r for r in standin.requests() if r["method"] == "POST"]
    assert posts and {(r["path"], r["auth"], r["api_key"], r["model"]) for r in posts} == {
        ("/v1/chat/completions", "bearer", KEY, "google/gemini-3-flash-preview")
    }


def test_existing_jsonc_settings_and_own_models_survive(sandbox, droid):
    sandbox.factory.mkdir(mode=0o700)
    sandbox.settings_path.write_text(DEVELOPER_SETTINGS)
    sandbox.settings_path.chmod(0o600)
    assert sandbox.play().changed == 1
    text = sandbox.settings_path.read_text()
    for kept in (
        "// Written by hand. Every byte of this comment must survive onboarding.",
        "/* trailing block comment */",
        "// my local model",
        '"theme": "dark"',
        '"autonomyLevel": "medium"',
    ):
        assert kept in text
    # the developer's part of the file is byte for byte what it was
    head = DEVELOPER_SETTINGS[: DEVELOPER_SETTINGS.rindex("}\n  ]")]
    assert text.startswith(head)
    settings = json.loads(strip_comments(text))
    assert settings["theme"] == "dark"
    assert droid.models(sandbox.home) == OWN_LISTING + CATALOG_LISTING
    assert droid.doctor(sandbox.home)["ok"] is True
    assert sandbox.play().changed == 0


def test_narrowing_prunes_only_llmcloud_entries(sandbox, droid):
    sandbox.factory.mkdir(mode=0o700)
    sandbox.settings_path.write_text(DEVELOPER_SETTINGS)
    sandbox.play()
    narrow = {"byok_models": ["anthropic/claude-haiku-4.5", "google/gemini-3-flash-preview"]}
    assert sandbox.play(narrow).changed == 1
    assert droid.models(sandbox.home) == OWN_LISTING + [
        ("custom:llmcloud-anthropic-claude-haiku-4.5", "Claude Haiku 4.5"),
        ("custom:llmcloud-google-gemini-3-flash-preview", "Gemini 3 Flash Preview"),
    ]
    own = [e for e in sandbox.settings()["customModels"] if e["apiKey"] != KEY]
    assert [e["apiKey"] for e in own] == ["ollama", "my-own-proxy-key", "my-v2-key"]
    assert "// my local model" in sandbox.settings_path.read_text()
    assert sandbox.play(narrow).changed == 0
    # with pruning off, nothing is removed
    assert sandbox.play({"byok_models": ["anthropic/claude-haiku-4.5"], "byok_prune": False}).changed == 0
    assert len(sandbox.settings()["customModels"]) == 5


def test_env_key_mode_puts_no_key_on_disk_and_droid_sends_it(sandbox, droid, standin):
    sandbox.play({"byok_llmcloud_url": standin.url, "byok_key_mode": "env", "byok_api_key": ""})
    assert sandbox.files_containing(KEY) == []
    assert {e["apiKey"] for e in sandbox.settings()["customModels"]} == {"${LLMCLOUD_API_KEY}"}
    droid.exec(sandbox.home, "-m", "custom:llmcloud-anthropic-claude-haiku-4.5", "hi", env={"LLMCLOUD_API_KEY": OTHER_KEY})
    posts = [r for r in standin.requests() if r["method"] == "POST"]
    assert posts and {(r["path"], r["api_key"], r["model"]) for r in posts} == {("/v1/messages", OTHER_KEY, "anthropic/claude-haiku-4.5")}


def test_switching_from_inline_to_env_removes_the_key_from_the_file(sandbox):
    sandbox.play()
    assert sandbox.files_containing(KEY) == [str(sandbox.settings_path)]
    assert sandbox.play({"byok_key_mode": "env"}).changed == 1
    assert sandbox.files_containing(KEY) == []


def test_key_rotation_rewrites_every_llmcloud_entry(sandbox):
    sandbox.play()
    rotated = sandbox.play({"byok_api_key": "{{ vault_llmcloud_other_key }}"}, "--diff")
    assert rotated.changed == 1
    assert {e["apiKey"] for e in sandbox.settings()["customModels"]} == {OTHER_KEY}
    assert sandbox.files_containing(KEY) == []


def test_default_model_is_what_droid_exec_uses_without_m(sandbox, droid, standin):
    sandbox.play({"byok_llmcloud_url": standin.url, "byok_default_model": "google/gemini-3-flash-preview"})
    assert sandbox.settings()["sessionDefaultSettings"] == {"model": "custom:llmcloud-google-gemini-3-flash-preview"}
    droid.exec(sandbox.home, "hi")
    posts = [r for r in standin.requests() if r["method"] == "POST"]
    assert posts and {(r["path"], r["model"], r["api_key"]) for r in posts} == {("/v1/responses", "google/gemini-3-flash-preview", KEY)}


def test_default_model_id_is_the_entry_s_own_id_even_with_equal_names(sandbox, droid):
    extra = [{"model": "vendor/twin", "provider": "anthropic", "display_name": "Claude Haiku 4.5"}]
    sandbox.play({"byok_models": ["anthropic/claude-haiku-4.5"], "byok_extra_models": extra, "byok_default_model": "vendor/twin"})
    assert sandbox.settings()["sessionDefaultSettings"]["model"] == "custom:llmcloud-vendor-twin"
    assert droid.models(sandbox.home) == [
        ("custom:llmcloud-anthropic-claude-haiku-4.5", "Claude Haiku 4.5"),
        ("custom:llmcloud-vendor-twin", "Claude Haiku 4.5"),
    ]


def test_extra_models_with_optional_fields_load_in_droid(sandbox, droid):
    extra = [
        {
            "model": "deepseek/deepseek-v3.2",
            "provider": "generic-chat-completion-api",
            "display_name": "DeepSeek V3.2",
            "max_output_tokens": 8192,
            "no_image_support": True,
            "extra_headers": {"X-Team": "platform"},
            "reasoning_effort": "high",
        }
    ]
    sandbox.play({"byok_models": ["anthropic/claude-haiku-4.5"], "byok_extra_models": extra})
    entry = sandbox.settings()["customModels"][1]
    assert entry == {
        "model": "deepseek/deepseek-v3.2",
        "id": "custom:llmcloud-deepseek-deepseek-v3.2",
        "displayName": "DeepSeek V3.2",
        "baseUrl": "https://llmcloud.studio/v1",
        "apiKey": KEY,
        "provider": "generic-chat-completion-api",
        "maxOutputTokens": 8192,
        "noImageSupport": True,
        "extraHeaders": {"X-Team": "platform"},
        "reasoningEffort": "high",
    }
    assert droid.models(sandbox.home) == [
        ("custom:llmcloud-anthropic-claude-haiku-4.5", "Claude Haiku 4.5"),
        ("custom:llmcloud-deepseek-deepseek-v3.2", "DeepSeek V3.2"),
    ]
    assert droid.doctor(sandbox.home)["ok"] is True
    # removing the extra model prunes it: it lives at the role's URL
    assert sandbox.play({"byok_models": ["anthropic/claude-haiku-4.5"]}).changed == 1
    assert [e["model"] for e in sandbox.settings()["customModels"]] == ["anthropic/claude-haiku-4.5"]


def test_legacy_format_is_loaded_by_droid_0_109_3(sandbox, legacy_droid, droid, standin):
    sandbox.play({"byok_format": "legacy", "byok_llmcloud_url": standin.url})
    assert not sandbox.settings_path.exists()
    config = sandbox.factory / "config.json"
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    legacy = json.loads(config.read_text())["custom_models"]
    assert [e["model"] for e in legacy] == CATALOG_IDS
    assert set(legacy[0]) == {"model_display_name", "model", "base_url", "api_key", "provider"}
    assert legacy_droid.models(sandbox.home) == GENERATED_LISTING
    assert droid.models(sandbox.home) == GENERATED_LISTING
    # the current client migrates the legacy entries and sends the key from them
    droid.exec(sandbox.home, "-m", "custom:Claude-Opus-4.6-0", "hi")
    posts = [r for r in standin.requests() if r["method"] == "POST"]
    assert posts and {(r["path"], r["api_key"], r["model"]) for r in posts} == {("/v1/messages", KEY, "anthropic/claude-opus-4.6")}
    assert sandbox.play({"byok_format": "legacy", "byok_llmcloud_url": standin.url}).changed == 0


def test_both_formats_are_refused_before_anything_is_written(sandbox):
    """droid 0.225.2 would list every model twice (tests/role/test_every_client.py shows it)."""
    run = sandbox.play({"byok_format": "both"}, check=False)
    assert run.rc != 0 and "byok_format both is refused: droid 0.225.2 lists every model twice" in run.output, run
    assert "use byok_format current" in run.output and not sandbox.factory.exists()
