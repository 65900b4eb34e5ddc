"""What droid resolves after onboarding (issue 10), judged by the four pinned droid versions.

Each case runs the role, then the real clients: which models they list, under which id, and where
`droid exec` (with and without -m) sends the request, with which key.
"""

from __future__ import annotations

import json

import pytest
from conftest import KEY, OTHER_KEY, Droid, _install, strip_comments

VERSIONS = ("0.109.3", "0.117.0", "0.215.0", "0.225.2")
SONNET = "anthropic/claude-sonnet-4.5"
SONNET_ID = "custom:llmcloud-anthropic-claude-sonnet-4.5"
HAIKU_ID = "custom:llmcloud-anthropic-claude-haiku-4.5"
GUIDE_KEY = "llmc-guide-" + "0123456789abcdef" * 2


@pytest.fixture(scope="session")
def droids():
    """The four pinned clients (installed once into the shared cache)."""
    return [Droid(_install(version), version) for version in VERSIONS]


def exec_(droid, home, *args):
    # 0.109.3 and 0.117.0 refuse `exec` without a Factory key of any value; nothing reaches Factory here
    return droid.exec(home, *args, env={"FACTORY_API_KEY": "offline"})


def posts_since(server, count):
    return [(r["path"], r["api_key"], r["model"]) for r in server.requests()[count:] if r["method"] == "POST"]


def write(path, document):
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    path.chmod(0o600)


def load(path):
    return json.loads(strip_comments(path.read_text()))


def test_default_names_the_role_s_entry_despite_twins_stored_ids_and_renames(sandbox, droids, standin_factory):
    """10.1: the developer's own "Claude Sonnet 4.5" comes first; the role's entry written by an
    earlier release (no id) is migrated in place; the default and -m reach LLMCloud's entry."""
    llmcloud = standin_factory()
    own = standin_factory(keys=("developer-own-key",), models=("claude-sonnet-4-5-20250929",))
    twin = {
        "model": "claude-sonnet-4-5-20250929",
        "displayName": "Claude Sonnet 4.5",
        "baseUrl": own.url,
        "apiKey": "developer-own-key",
        "provider": "anthropic",
    }
    earlier = {
        "model": SONNET,
        "displayName": "Claude Sonnet 4.5",
        "baseUrl": llmcloud.url,
        "apiKey": KEY,
        "provider": "anthropic",
    }
    write(
        sandbox.settings_path,
        {
            "customModels": [twin, earlier],
            "sessionDefaultSettings": {"model": "custom:Claude-Sonnet-4.5-0"},
        },
    )
    variables = {
        "byok_models": [SONNET],
        "byok_default_model": SONNET,
        "byok_llmcloud_url": llmcloud.url,
    }
    assert sandbox.play(variables).changed == 1
    models = load(sandbox.settings_path)["customModels"]
    assert [m["model"] for m in models] == [twin["model"], SONNET], "migrated in place, not duplicated"
    assert models[0] == twin and models[1]["id"] == SONNET_ID
    assert load(sandbox.settings_path)["sessionDefaultSettings"] == {"model": SONNET_ID}
    for droid in droids:
        assert (SONNET_ID, "Claude Sonnet 4.5") in droid.models(sandbox.home), droid.version
        for args in (("hi",), ("-m", SONNET_ID, "hi")):
            before = len(llmcloud.requests())
            exec_(droid, sandbox.home, *args)
            assert posts_since(llmcloud, before) == [("/v1/messages", KEY, SONNET)], (
                droid.version,
                args,
            )
    assert [r for r in own.requests() if r["method"] == "POST"] == []
    assert sandbox.play(variables).changed == 0

    # the client rewrote the file (ids and index on every entry; its own numbering) and the
    # developer renamed the role's entry: the role's id and name come back, droid's index stays
    document = load(sandbox.settings_path)
    document["customModels"][0].update(id="custom:Claude-Sonnet-4.5-0", index=0)
    document["customModels"][1].update(id="custom:Claude-Sonnet-4.5-1", index=1, displayName="Renamed")
    write(sandbox.settings_path, document)
    assert sandbox.play(variables).changed == 1
    models = load(sandbox.settings_path)["customModels"]
    assert models[1] == dict(earlier, id=SONNET_ID, index=1, noImageSupport=False)
    assert models[0]["id"] == "custom:Claude-Sonnet-4.5-0"
    assert sandbox.play(variables).changed == 0
    newest = droids[-1]
    before = len(llmcloud.requests())
    exec_(newest, sandbox.home, "hi")
    assert posts_since(llmcloud, before) == [("/v1/messages", KEY, SONNET)]


LOCAL_QWEN = {
    "model": "qwen2.5-coder:7b",
    "displayName": "Local Qwen",
    "baseUrl": "http://127.0.0.1:9/v1",
    "apiKey": "not-needed",
    "provider": "generic-chat-completion-api",
}


def test_local_settings_with_custom_models_get_the_llmcloud_entries_too(sandbox, droids, standin):
    """10.2: settings.local.json's customModels replace settings.json's in every version."""
    local = sandbox.factory / "settings.local.json"
    write(local, {"customModels": [LOCAL_QWEN]})
    variables = {
        "byok_models": [SONNET],
        "byok_default_model": SONNET,
        "byok_llmcloud_url": standin.url,
    }
    assert sandbox.play(variables).changed == 1
    merged = load(local)
    assert [m["model"] for m in merged["customModels"]] == [LOCAL_QWEN["model"], SONNET]
    assert merged["customModels"][0] == LOCAL_QWEN and merged["sessionDefaultSettings"] == {"model": SONNET_ID}
    assert oct(local.stat().st_mode & 0o777) == "0o600"
    for droid in droids:
        listed = droid.models(sandbox.home)
        assert [i for i, _n in listed][-1:] == [SONNET_ID] and len(listed) == 2, (
            droid.version,
            listed,
        )
        before = len(standin.requests())
        exec_(droid, sandbox.home, "hi")
        assert posts_since(standin, before) == [("/v1/messages", KEY, SONNET)], droid.version
    assert sandbox.play(variables).changed == 0


def test_local_session_defaults_get_the_default_model(sandbox, droids, standin):
    """A local sessionDefaultSettings (even without model) replaces settings.json's whole object."""
    local = sandbox.factory / "settings.local.json"
    write(local, {"sessionDefaultSettings": {"reasoningEffort": "high"}})
    variables = {
        "byok_models": [SONNET],
        "byok_default_model": SONNET,
        "byok_llmcloud_url": standin.url,
    }
    assert sandbox.play(variables).changed == 1
    assert load(local) == {"sessionDefaultSettings": {"reasoningEffort": "high", "model": SONNET_ID}}
    for droid in (droids[0], droids[-1]):
        before = len(standin.requests())
        exec_(droid, sandbox.home, "hi")
        assert posts_since(standin, before) == [("/v1/messages", KEY, SONNET)], droid.version
    assert sandbox.play(variables).changed == 0


@pytest.mark.parametrize("mode", ["fail", "warn"])
def test_local_settings_warn_or_fail_names_the_file_and_changes_nothing_there(sandbox, mode):
    local = sandbox.factory / "settings.local.json"
    write(local, {"customModels": []})
    before = local.read_bytes()
    run = sandbox.play({"byok_local_settings": mode}, check=False)
    assert "%s holds customModels, which replace the list in settings.json" % local in run.output, run.output
    assert local.read_bytes() == before
    assert (run.rc != 0) == (mode == "fail")
    assert sandbox.settings_path.exists()  # settings.json is still written


def test_local_settings_ignore_does_not_look_at_the_file(sandbox):
    local = sandbox.factory / "settings.local.json"
    write(local, {"customModels": []})
    before = local.read_bytes()
    run = sandbox.play({"byok_local_settings": "ignore"})
    assert "settings.local.json" not in run.output and run.recap["ok"] == 1  # the merge alone: no local file
    assert local.read_bytes() == before


@pytest.mark.parametrize("key_mode", ["env", "inline"])
def test_the_guide_s_dead_block_loses_its_llmcloud_entries_and_key(sandbox, droids, key_mode):
    """10.3: the guide's snake_case custom_models inside settings.json (droid ignores it)."""
    mine = {
        "model": "llama3",
        "base_url": "http://localhost:11434/v1",
        "api_key": "ollama",
        "provider": "openai",
    }
    write(
        sandbox.settings_path,
        {
            "theme": "dark",
            "custom_models": [
                {
                    "model": SONNET,
                    "base_url": "https://llmcloud.studio",
                    "api_key": GUIDE_KEY,
                    "provider": "anthropic",
                },
                mine,
                {
                    "model": "google/gemini-3-pro-preview",
                    "base_url": "https://llmcloud.studio/v1/",
                    "api_key": GUIDE_KEY,
                    "provider": "openai",
                },
            ],
        },
    )
    run = sandbox.play({"byok_key_mode": key_mode}, "--diff", "-v")
    assert run.changed == 1 and GUIDE_KEY not in run.output
    assert "/custom_models/0" in run.output and "/custom_models/2" in run.output  # reported as operations
    document = load(sandbox.settings_path)
    assert document["custom_models"] == [mine] and document["theme"] == "dark"
    assert sandbox.files_containing(GUIDE_KEY) == []
    for droid in droids:
        assert len(droid.models(sandbox.home)) == 8, droid.version
    assert sandbox.play({"byok_key_mode": key_mode}).changed == 0


def test_fields_the_role_stops_wanting_go_away(sandbox, droids):
    """10.4: an owned entry ends up exactly as the role describes it, plus droid's own id/index."""
    extra = {
        "model": "deepseek/deepseek-v3.2",
        "provider": "generic-chat-completion-api",
        "display_name": "DeepSeek V3.2",
        "reasoning_effort": "high",
        "max_output_tokens": 8192,
        "extra_headers": {"X-Team": "platform"},
    }
    catalog = [
        {
            "id": "anthropic/claude-haiku-4.5",
            "display_name": "Claude Haiku 4.5",
            "family": "anthropic",
            "max_output_tokens": 4096,
            "enable_thinking": True,
        }
    ]
    first = {
        "byok_models": ["anthropic/claude-haiku-4.5"],
        "byok_catalog": catalog,
        "byok_extra_models": [extra],
    }
    assert sandbox.play(first).changed == 1
    models = load(sandbox.settings_path)["customModels"]
    assert models[0]["maxOutputTokens"] == 4096 and models[1]["reasoningEffort"] == "high"
    # the client numbers the entries itself (index); that field stays
    document = load(sandbox.settings_path)
    for index, entry in enumerate(document["customModels"]):
        entry["index"] = index
    write(sandbox.settings_path, document)
    bare = dict((k, v) for k, v in extra.items() if k not in ("reasoning_effort", "max_output_tokens", "extra_headers"))
    second = {
        "byok_models": ["anthropic/claude-haiku-4.5"],
        "byok_extra_models": [bare],
    }
    assert sandbox.play(second).changed == 1
    models = load(sandbox.settings_path)["customModels"]
    assert models == [
        {
            "model": "anthropic/claude-haiku-4.5",
            "id": HAIKU_ID,
            "index": 0,
            "displayName": "Claude Haiku 4.5",
            "baseUrl": "https://llmcloud.studio",
            "apiKey": KEY,
            "provider": "anthropic",
            "noImageSupport": False,
        },
        {
            "model": "deepseek/deepseek-v3.2",
            "id": "custom:llmcloud-deepseek-deepseek-v3.2",
            "index": 1,
            "displayName": "DeepSeek V3.2",
            "baseUrl": "https://llmcloud.studio/v1",
            "apiKey": KEY,
            "provider": "generic-chat-completion-api",
            "noImageSupport": False,
        },
    ]
    assert sandbox.play(second).changed == 0
    for droid in droids:
        assert droid.models(sandbox.home) == [
            (HAIKU_ID, "Claude Haiku 4.5"),
            ("custom:llmcloud-deepseek-deepseek-v3.2", "DeepSeek V3.2"),
        ], droid.version
    assert droids[-1].doctor(sandbox.home)["ok"] is True


@pytest.mark.parametrize("version", ["0.109.3", "0.225.2"])
def test_verify_asks_the_real_client_and_passes(sandbox, droids, version):
    """10.5: byok_verify runs droid as the user; the key never shows, even at -vvv."""
    droid = [d for d in droids if d.version == version][0]
    variables = {
        "byok_verify": "always",
        "byok_verify_command": droid.binary,
        "byok_default_model": SONNET,
    }
    run = sandbox.play(variables, "-vvv")
    assert run.rc == 0 and "Judge what droid resolves" in run.output
    assert KEY not in run.output


def test_verify_fails_naming_the_user_and_the_file(sandbox, droids):
    droid = droids[-1]
    local = sandbox.factory / "settings.local.json"
    write(
        local,
        {
            "customModels": [],
            "sessionDefaultSettings": {"model": "custom:Local-Qwen-0"},
        },
    )
    variables = {
        "byok_verify": "always",
        "byok_verify_command": droid.binary,
        "byok_default_model": SONNET,
        "byok_local_settings": "warn",
        "byok_users": [sandbox.user(api_key="{{ vault_llmcloud_other_key }}")],
    }
    run = sandbox.play(variables, check=False)
    assert run.rc != 0
    assert "user %s: droid does not list" % sandbox.user()["name"] in run.output, run.output
    assert "The file to fix: %s" % local in run.output
    assert "droid's default model resolves to custom:Local-Qwen-0, not %s" % SONNET_ID in run.output
    assert OTHER_KEY not in run.output
    # auto skips users without droid; never (the default) runs nothing
    local.unlink()
    assert sandbox.play({"byok_verify": "auto", "byok_verify_command": "/nonexistent/droid"}).rc == 0
    failed = sandbox.play(
        {"byok_verify": "always", "byok_verify_command": "/nonexistent/droid"},
        check=False,
    )
    assert failed.rc != 0 and "droid was not found" in failed.output
