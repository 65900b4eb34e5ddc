"""The key never shows in Ansible's output: --check --diff, -vvv, failing runs, per-user keys.

Sandbox.play() already fails any test whose output holds the key; these tests make sure the
runs that would be most tempted to print it (diffs, verbose results, errors) actually happen.
"""

from __future__ import annotations

from _other_user import nobody_home  # noqa: F401 - a fixture
from conftest import KEY, OTHER_KEY, needs_root


def test_check_diff_on_a_fresh_home_tells_the_truth_and_writes_nothing(sandbox):
    before = sandbox.snapshot()
    run = sandbox.play({}, "--check", "--diff")
    assert run.changed == 1
    assert sandbox.snapshot() == before and not sandbox.factory.exists()
    assert '"model": "anthropic/claude-opus-4.6"' in run.output  # the diff is shown...
    assert '"apiKey": "********"' in run.output  # ...with the key masked


def test_check_diff_of_a_change_to_an_existing_file(sandbox):
    sandbox.play()
    before = sandbox.snapshot()
    run = sandbox.play({"byok_models": ["anthropic/claude-haiku-4.5"],
                        "byok_api_key": "{{ vault_llmcloud_other_key }}"}, "--check", "--diff")
    assert run.changed == 1 and sandbox.snapshot() == before
    assert "-      \"model\": \"anthropic/claude-opus-4.6\"" in run.output
    assert "********" in run.output
    # check mode predicted a change; the real run makes it, and then there is none left
    assert sandbox.play({"byok_models": ["anthropic/claude-haiku-4.5"],
                         "byok_api_key": "{{ vault_llmcloud_other_key }}"}).changed == 1
    assert sandbox.play({"byok_models": ["anthropic/claude-haiku-4.5"],
                         "byok_api_key": "{{ vault_llmcloud_other_key }}"}, "--check", "--diff").changed == 0


def test_vvv_first_run_and_rerun(sandbox):
    first = sandbox.play({"byok_default_model": "anthropic/claude-sonnet-4.5"}, "-vvv", "--diff")
    assert first.changed == 1 and "invocation" in first.output  # -vvv shows what the module was given
    second = sandbox.play({"byok_default_model": "anthropic/claude-sonnet-4.5"}, "-vvv", "--diff")
    assert second.changed == 0
    assert sandbox.files_containing(KEY) == [str(sandbox.settings_path)]


@needs_root
def test_vvv_with_per_user_keys_and_legacy_file(sandbox, nobody_home):
    users = [sandbox.user(api_key="{{ vault_llmcloud_other_key }}"),
             {"name": "nobody", "home": str(nobody_home)}]
    run = sandbox.play({"byok_users": users, "byok_format": "both"}, "-vvv", "--diff")
    assert run.changed == 1  # one json_merge task: both files of both users


def test_vvv_failing_runs(sandbox, standin_factory):
    standin = standin_factory(keys=[OTHER_KEY])
    bad_key = sandbox.play({"byok_llmcloud_url": standin.url, "byok_preflight": True}, "-vvv", check=False)
    assert bad_key.rc != 0 and "API key invalid or unauthorized" in bad_key.output
    bad_input = sandbox.play({"byok_models": ["nope/nope"]}, "-vvv", check=False)
    assert bad_input.rc != 0 and "byok_models: unknown model id" in bad_input.output
    missing_user = sandbox.play({"byok_users": [{"name": "byok-no-such-user", "api_key": "{{ vault_llmcloud_other_key }}"}]},
                                "-vvv", check=False)
    assert missing_user.rc != 0 and "byok-no-such-user" in missing_user.output
