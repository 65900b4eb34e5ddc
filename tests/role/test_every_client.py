"""Onboarding judged by every supported droid (issue 21): formats, the default model, offboarding.

Each case runs the role on a sandbox home, then asks the four supported clients (the role's own
list, SUPPORTED_CLIENTS) what they list and where `droid exec` without -m sends its request.
"""

from __future__ import annotations

import json
import sys

import pytest
from conftest import CATALOG_IDS, KEY, ROOT, Droid, _install
from test_resolve import exec_, posts_since

sys.path.insert(0, str(ROOT / "build" / "collections"))
from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import client as _client  # noqa: E402

SONNET = "anthropic/claude-sonnet-4.5"
SONNET_ID = "custom:llmcloud-anthropic-claude-sonnet-4.5"
PROXY_ID = "custom:llmcloud-anthropic-claude-sonnet-4.5-2"
PROXY_NAME = "Claude Sonnet 4.5 (EU proxy)"


@pytest.fixture(scope="session")
def clients():
    return [Droid(_install(version), version) for version in _client.SUPPORTED_CLIENTS]


def test_each_model_is_listed_once_by_every_client_whatever_the_format(sandbox, clients):
    """21.6: current and legacy list each model once in all four; both is refused, and the reason
    holds: with both files written, exactly the clients in BOTH_FORMAT_DOUBLED_BY list them twice."""
    refused = sandbox.play({"byok_format": "both"}, check=False)
    assert refused.rc != 0 and not sandbox.factory.exists(), refused
    for version in _client.BOTH_FORMAT_DOUBLED_BY:
        assert "droid %s" % version in refused.output, refused
    for fmt in ("current", "legacy"):
        box = type(sandbox)(sandbox.base / fmt, sandbox.vault)
        assert box.play({"byok_format": fmt}).changed == 1
        for client in clients:
            listed = [name for _id, name in client.models(box.home)]
            assert sorted(listed) == sorted(set(listed)) and len(listed) == len(CATALOG_IDS), (fmt, client.version, listed)
    # what both would have written: the two files side by side
    box = type(sandbox)(sandbox.base / "both-files", sandbox.vault)
    box.play({"byok_format": "current"})
    box.play({"byok_format": "legacy"})
    doubled = tuple(c.version for c in clients if len(c.models(box.home)) == 2 * len(CATALOG_IDS))
    assert doubled == _client.BOTH_FORMAT_DOUBLED_BY


def test_an_ambiguous_default_is_refused_and_either_entry_can_be_picked(sandbox, clients, standin_factory):
    """21.3: the catalog's Sonnet 4.5 and the same model at a company proxy."""
    llmcloud = standin_factory()
    proxy = standin_factory()
    extra = {"model": SONNET, "provider": "anthropic", "display_name": PROXY_NAME, "base_url": proxy.url}
    variables = {"byok_models": [SONNET], "byok_extra_models": [extra], "byok_llmcloud_url": llmcloud.url}
    run = sandbox.play(dict(variables, byok_default_model=SONNET), check=False)
    assert run.rc != 0 and not sandbox.factory.exists(), run
    for words in ("byok_default_model 'anthropic/claude-sonnet-4.5' is ambiguous", SONNET_ID, PROXY_ID, PROXY_NAME, "byok_extra_models[0]"):
        assert words in run.output, (words, run)
    for pick, server, entry_id in ((PROXY_ID, proxy, PROXY_ID), (PROXY_NAME, proxy, PROXY_ID), (SONNET_ID, llmcloud, SONNET_ID)):
        sandbox.play(dict(variables, byok_default_model=pick))
        assert json.loads(sandbox.settings_path.read_text())["sessionDefaultSettings"] == {"model": entry_id}
        for client in clients:
            before = len(server.requests())
            exec_(client, sandbox.home, "hi")
            assert posts_since(server, before) == [("/v1/messages", KEY, SONNET)], (pick, client.version)


def test_offboarding_gives_the_developer_s_default_back(sandbox, clients, standin_factory):
    """21.2: onboarding replaces the developer's default; offboarding puts it back (all four clients)."""
    llmcloud = standin_factory()
    own = standin_factory(keys=("not-needed",), models=("qwen2.5-coder:7b",))
    qwen = {"model": "qwen2.5-coder:7b", "displayName": "Local Qwen", "baseUrl": own.url, "apiKey": "not-needed", "provider": "anthropic"}
    mine = {"model": "custom:Local-Qwen-0", "reasoningEffort": "low"}
    sandbox.factory.mkdir(mode=0o700)
    sandbox.settings_path.write_text(json.dumps({"customModels": [qwen], "sessionDefaultSettings": mine}, indent=2))
    sandbox.settings_path.chmod(0o600)
    onboard = {"byok_models": ["anthropic/claude-haiku-4.5"], "byok_default_model": "anthropic/claude-haiku-4.5", "byok_llmcloud_url": llmcloud.url}

    assert sandbox.play(onboard).changed == 1
    document = json.loads(sandbox.settings_path.read_text())
    assert document["sessionDefaultSettings"] == {"model": "custom:llmcloud-anthropic-claude-haiku-4.5", "reasoningEffort": "low"}
    assert document["llmcloudPreviousDefaultModel"] == "custom:Local-Qwen-0"
    for client in clients:
        assert [i for i, _n in client.models(sandbox.home)] == ["custom:Local-Qwen-0", "custom:llmcloud-anthropic-claude-haiku-4.5"], client.version
        before = len(llmcloud.requests())
        exec_(client, sandbox.home, "hi")
        assert posts_since(llmcloud, before) == [("/v1/messages", KEY, "anthropic/claude-haiku-4.5")], client.version
    assert sandbox.play(onboard).changed == 0

    offboard = dict(onboard, byok_state="absent")
    assert sandbox.play(offboard).changed == 1
    document = json.loads(sandbox.settings_path.read_text())
    assert document == {"customModels": [qwen], "sessionDefaultSettings": mine}, document
    for client in clients:
        before = len(own.requests())
        exec_(client, sandbox.home, "hi")
        assert posts_since(own, before) == [("/v1/messages", "not-needed", "qwen2.5-coder:7b")], client.version
    assert sandbox.play(offboard).changed == 0


ALLOWLIST = """{
  "customModels": [
    {"model": "qwen2.5-coder:7b", "displayName": "Local Qwen", "baseUrl": "http://127.0.0.1:9/v1", "apiKey": "x", "provider": "generic-chat-completion-api"}
  ],
  "commandAllowlist": [
    "ls", // listing
    "rm", // dangerous
    "cat" // reading
  ]
}
"""


def test_comments_stay_with_their_items_of_a_plain_list_and_every_client_reads_the_file(sandbox, clients):
    """21.5: json_merge on a plain list (not in keyed_lists): removing and prepending items."""
    from sandbox import run_playbook

    sandbox.factory.mkdir(mode=0o700)
    sandbox.settings_path.write_text(ALLOWLIST)
    playbook = sandbox.base / "merge.yml"
    playbook.write_text(
        "- hosts: sandbox\n  gather_facts: false\n  tasks:\n    - name: Merge\n      llmcloud.factory_droid.json_merge:\n"
        "        path: %s\n        value: {commandAllowlist: [pwd, ls, cat]}\n" % sandbox.settings_path
    )
    run = run_playbook(playbook, "-i", str(sandbox.inventory / "hosts.yml"), "--vault-id", sandbox.vault.vault_id, cwd=sandbox.base)
    assert run.rc == 0 and run.changed == 1, run
    text = sandbox.settings_path.read_text()
    assert '    "pwd",\n    "ls", // listing\n    "cat" // reading\n  ]' in text and "dangerous" not in text, text
    for client in clients:
        assert client.models(sandbox.home) == [("custom:Local-Qwen-0", "Local Qwen")], client.version
