"""Blocks of README.md and docs/ that are tasks, ad-hoc commands and variables, run as written on
a sandbox home (this checkout's ansible.cfg and collection, the real droid as the judge), and the
excerpts of the role's defaults compared with roles/byok/defaults/main.yml."""

from __future__ import annotations

import json
import os
import secrets
import subprocess

import pytest
import yaml
from conftest import ROOT, block
from sandbox import BIN, ansible_env, encrypt_vault, local_inventory, recap, strip_comments, write_password

KEY = "llmc-doc-blocks-" + secrets.token_hex(12)


def _droid_models(home):
    droid = subprocess.run(
        ["bash", str(ROOT / "hacking" / "install-droid.sh")], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1200, check=True
    )
    env = {k: v for k, v in os.environ.items() if k not in ("LLMCLOUD_API_KEY", "FACTORY_API_KEY")}
    env.update({"HOME": str(home), "NO_COLOR": "1", "CI": "1"})
    done = subprocess.run(
        [droid.stdout.strip().splitlines()[-1], "exec", "--list-tools", "-m", "custom:does-not-exist"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, cwd=str(home), timeout=120, check=False,
    )  # fmt: skip
    text = done.stdout + done.stderr
    assert "Available custom models:" in text, text
    return text.split("Available custom models:", 1)[1].split("\n\n", 1)[0]


def _run(args, home, env=None):
    done = subprocess.run(
        args, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=str(ROOT), timeout=300, check=False,
        env=ansible_env(dict({"HOME": str(home)}, **(env or {}))),
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert KEY not in output, "the key leaked into Ansible's output"
    assert done.returncode == 0, output[-4000:]
    return recap(output)


def _play_tasks(tmp_path, tasks_yaml, home):
    """The documented task(s) in a play on localhost, with the key as a variable; run twice."""
    playbook = tmp_path / "play.yml"
    play = {
        "name": "documented tasks",
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {"vault_llmcloud_api_key": KEY},
        "tasks": yaml.safe_load(tasks_yaml),
    }
    playbook.write_text(yaml.safe_dump([play], sort_keys=False))
    inventory = local_inventory(tmp_path / "hosts.json")
    return [_run([str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook)], home) for _run_number in range(2)]


@pytest.mark.parametrize("block_id", ["readme-json-merge", "json-merge-task"])
def test_the_module_examples_merge_keeping_the_developers_model(tmp_path, block_id):
    home = tmp_path / "home"
    (home / ".factory").mkdir(parents=True)
    own = {"model": "mine", "displayName": "My model", "provider": "anthropic", "baseUrl": "http://localhost:1", "apiKey": "not-needed"}
    (home / ".factory" / "settings.json").write_text('{\n  // mine\n  "customModels": [%s]\n}\n' % json.dumps(own))
    first, second = _play_tasks(tmp_path, block(block_id), home)
    assert first["changed"] == 1 and second["changed"] == 0, (first, second)
    settings = json.loads(strip_comments((home / ".factory" / "settings.json").read_text()))
    assert [m["model"] for m in settings["customModels"]] == ["mine", "anthropic/claude-sonnet-4.6"]
    assert settings["customModels"][1]["apiKey"] == KEY
    listed = _droid_models(home)
    assert "(My model)" in listed and "(Claude Sonnet 4.6)" in listed


def test_the_ad_hoc_example_changes_nothing_in_check_mode(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        ["bash", "-e", "-c", block("json-merge-adhoc")], stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=str(ROOT), timeout=300,
        env=ansible_env({"HOME": str(home)}), check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CHANGED" in done.stdout and "sessionDefaultSettings" in done.stdout
    assert not (home / ".factory").exists(), "--check wrote something"


def _onboard(tmp_path, variables, env=None, extra=()):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    me = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    variables = dict(variables, byok_users=[{"name": me, "home": str(home)}])
    (tmp_path / "vars.yml").write_text(yaml.safe_dump(variables))
    inventory = local_inventory(tmp_path / "hosts.json")
    runs = [
        _run(
            [str(BIN / "ansible-playbook"), "-i", str(inventory), "-e", "@%s" % (tmp_path / "vars.yml"), *extra, str(ROOT / "playbooks" / "onboard.yml")],
            home,
            env,
        )
        for _run_number in range(2)
    ]
    assert runs[0]["changed"] > 0 and runs[1]["changed"] == 0, runs
    return home, json.loads(strip_comments((home / ".factory" / "settings.json").read_text()))


def test_extra_models_example_is_listed_by_droid(tmp_path):
    variables = yaml.safe_load(block("byok-extra-models"))
    home, settings = _onboard(tmp_path, dict(variables, byok_api_key=KEY, byok_models=["anthropic/claude-haiku-4.5"]))
    assert [m["model"] for m in settings["customModels"]] == ["anthropic/claude-haiku-4.5", "deepseek/deepseek-v3.2"]
    assert "custom:llmcloud-deepseek-deepseek-v3.2 (DeepSeek V3.2 (LLMCloud))" in _droid_models(home)


def test_the_key_from_an_environment_variable(tmp_path):
    variables = yaml.safe_load(block("vault-env"))
    home, settings = _onboard(tmp_path, dict(variables, byok_models=["anthropic/claude-haiku-4.5"]), env={"LLMCLOUD_API_KEY": KEY})
    assert {m["apiKey"] for m in settings["customModels"]} == {KEY}


def test_the_key_from_ansible_vault(tmp_path):
    """docs/vault.md's vars line, with the key in a file encrypted by the real ansible-vault."""
    variables = yaml.safe_load(block("vault-vars"))
    vault = tmp_path / "vault.yml"
    vault.write_text("vault_llmcloud_api_key: %s\n" % KEY)
    encrypt_vault(vault, write_password(tmp_path / "vault-pass"))
    extra = ("-e", "@%s" % vault, "--vault-password-file", str(tmp_path / "vault-pass"))
    home, settings = _onboard(tmp_path, dict(variables, byok_models=["anthropic/claude-haiku-4.5"]), extra=extra)
    assert {m["apiKey"] for m in settings["customModels"]} == {KEY}
    assert KEY not in vault.read_text()


@pytest.mark.parametrize("block_id", ["byok-defaults-key", "byok-defaults-keychain", "byok-defaults-models", "byok-defaults-endpoint", "byok-defaults-where"])
def test_defaults_excerpts_match_the_role_defaults(block_id):
    defaults = yaml.safe_load((ROOT / "roles" / "byok" / "defaults" / "main.yml").read_text())
    excerpt = yaml.safe_load(block(block_id))
    for name, value in excerpt.items():
        assert name in defaults, "%s: %s is not a variable of the role" % (block_id, name)
        if isinstance(value, list) and name == "byok_catalog":  # the excerpt shows its first entry
            assert value == defaults[name][: len(value)], name
        else:
            assert value == defaults[name], "%s: %s is %r in the docs, %r in defaults/main.yml" % (block_id, name, value, defaults[name])
