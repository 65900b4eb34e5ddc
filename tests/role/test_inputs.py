"""Bad input and the preflight: every failure names what to fix, and no file is touched."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import CATALOG_IDS, KEY, OTHER_KEY
from sandbox import PYTHON, run_playbook

EXISTING = '{\n  // the developer\'s file\n  "theme": "light"\n}\n'

BAD_INPUTS = {
    "unknown model id": ({"byok_models": ["anthropic/claude-opus-4.6", "anthropic/claude-opus-9"]}, "byok_models: unknown model id 'anthropic/claude-opus-9'"),
    "empty key in inline mode": ({"byok_api_key": ""}, "byok_api_key is empty but byok_key_mode is inline"),
    "unknown provider in an extra model": ({"byok_extra_models": [{"model": "mistral/large", "provider": "mistral"}]}, "byok_extra_models"),
    "nonexistent user": (
        {"byok_users": [{"name": "byok-no-such-user", "home": "{{ inventory_dir }}/../home"}]},
        "user byok-no-such-user does not exist on this host (no passwd entry)",
    ),
    "non-http URL": ({"byok_llmcloud_url": "ftp://llmcloud.studio"}, "byok_llmcloud_url must be an http:// or https:// URL"),
    "URL with /v1": ({"byok_llmcloud_url": "https://llmcloud.studio/v1"}, "byok_llmcloud_url must be the Anthropic-family base URL"),
    "env key mode with the legacy file": ({"byok_key_mode": "env", "byok_format": "legacy"}, "byok_key_mode env cannot be combined with byok_format legacy"),
    "default model not configured": (
        {"byok_models": ["anthropic/claude-haiku-4.5"], "byok_default_model": "anthropic/claude-opus-4.6"},
        "byok_default_model 'anthropic/claude-opus-4.6' is not one of the configured models",
    ),
    "key mode not a choice": ({"byok_key_mode": "plaintext"}, "byok_key_mode"),
    "models not a list": ({"byok_models": {"anthropic/claude-opus-4.6": True}}, "byok_models"),
    "prune not a boolean": ({"byok_prune": "sometimes"}, "byok_prune"),
    "misspelt user field": ({"byok_users": [{"name": "root", "home": "{{ inventory_dir }}/../home", "apikey": "x"}]}, "apikey"),
    "extra model without provider": ({"byok_extra_models": [{"model": "x/y"}]}, "provider"),
    "catalog entry of an unknown family": ({"byok_catalog": [{"id": "x/y", "display_name": "X", "family": "mistral"}], "byok_models": ["x/y"]}, "byok_catalog"),
}


@pytest.mark.parametrize("variables, words", BAD_INPUTS.values(), ids=list(BAD_INPUTS))
def test_bad_input_fails_before_any_file_is_touched(sandbox, variables, words):
    sandbox.factory.mkdir(mode=0o700)
    sandbox.settings_path.write_text(EXISTING)
    before = sandbox.snapshot()
    run = sandbox.play(variables, check=False)
    assert run.rc != 0 and run.recap["failed"] == 1
    assert words in run.output, run.output
    assert sandbox.snapshot() == before


def test_the_spec_and_the_role_s_rules_fail_together_and_ansible_adds_no_validation_task(sandbox):
    """The role checks its argument spec itself (ansible-core's validator) in the task that merges, so
    ansible-core prepends no validation task (a worker per host) and stops at no type error before the
    role's rules are heard: a wrongly typed variable and an unknown model fail one run, together."""
    sandbox.factory.mkdir(mode=0o700)
    sandbox.settings_path.write_text(EXISTING)
    before = sandbox.snapshot()
    run = sandbox.play({"byok_prune": ["sometimes"], "byok_models": ["nope/nope"]}, check=False)
    assert run.rc != 0 and run.recap["failed"] == 1, run.output
    assert "argument 'byok_prune' is of type list" in run.output and "byok_models: unknown model id 'nope/nope'" in run.output
    assert "Validating arguments" not in run.output
    assert sandbox.snapshot() == before
    good = sandbox.play({}, check=False)
    assert good.rc == 0 and good.recap["ok"] == 1 and "Validating arguments" not in good.output, good.output


def test_bad_input_on_a_fresh_home_creates_nothing(sandbox):
    run = sandbox.play({"byok_models": ["nope/nope"]}, check=False)
    assert run.rc != 0 and "byok_models: unknown model id 'nope/nope'" in run.output
    assert list(sandbox.home.iterdir()) == []


# -- preflight -----------------------------------------------------------------------------------


def _preflight(sandbox, url, **extra):
    sandbox.factory.mkdir(mode=0o700, exist_ok=True)
    if not sandbox.settings_path.exists():
        sandbox.settings_path.write_text(EXISTING)
    before = sandbox.snapshot()
    run = sandbox.play(dict({"byok_llmcloud_url": url, "byok_preflight": True}, **extra), check=False)
    return run, before


def test_preflight_passes_and_uses_the_key(sandbox, standin):
    run, _before = _preflight(sandbox, standin.url)
    assert run.rc == 0 and run.changed == 1, run.output
    gets = [r for r in standin.requests() if r["method"] == "GET"]
    assert [(r["path"], r["auth"], r["api_key"]) for r in gets] == [("/v1/models", "bearer", KEY)]
    assert [e["model"] for e in sandbox.settings()["customModels"]] == CATALOG_IDS


def test_preflight_bad_key_is_invalid_or_unauthorized(sandbox, standin_factory):
    standin = standin_factory(keys=[OTHER_KEY])
    run, before = _preflight(sandbox, standin.url)
    assert run.rc != 0
    assert "API key invalid or unauthorized (key of byok_users entry" in run.output
    assert "LLMCloud answered HTTP 401 to GET %s/v1/models" % standin.url in run.output
    assert "account's balance" in run.output and "vault" in run.output
    assert sandbox.snapshot() == before
    assert [r["status"] for r in standin.requests()] == [401]


def test_preflight_connection_refused_is_unable_to_connect(sandbox, closed_port):
    run, before = _preflight(sandbox, "http://127.0.0.1:%d" % closed_port)
    assert run.rc != 0
    assert "Unable to connect to API: GET http://127.0.0.1:%d/v1/models failed (connection refused)" % closed_port in run.output
    assert "Check byok_llmcloud_url" in run.output
    assert sandbox.snapshot() == before


def test_preflight_tls_failure_is_unable_to_connect(sandbox, standin):
    run, before = _preflight(sandbox, standin.url.replace("http://", "https://"))
    assert run.rc != 0
    assert "Unable to connect to API" in run.output and "(TLS failure)" in run.output
    assert sandbox.snapshot() == before


def test_preflight_missing_model_is_not_found_in_the_subscription(sandbox, standin_factory):
    standin = standin_factory(models=[m for m in CATALOG_IDS if m != "anthropic/claude-opus-4.6"])
    run, before = _preflight(sandbox, standin.url)
    assert run.rc != 0
    assert "Model not found (key of byok_users entry" in run.output
    assert "anthropic/claude-opus-4.6 not in the models LLMCloud offers this key" in run.output
    assert "subscription" in run.output
    assert sandbox.snapshot() == before


def test_preflight_names_the_user_whose_key_fails(sandbox, standin):
    second = sandbox.base / "second-home"
    second.mkdir()
    users = [sandbox.user(), dict(sandbox.user(home=str(second)), api_key="{{ vault_llmcloud_other_key }}")]
    users[1]["name"] = "nobody"
    run, before = _preflight(sandbox, standin.url, byok_users=users)
    assert run.rc != 0
    assert "API key invalid or unauthorized (key of byok_users entry nobody)" in run.output
    assert sandbox.snapshot() == before and list(second.iterdir()) == []


def test_preflight_runs_in_check_mode_too(sandbox, standin_factory):
    standin = standin_factory(keys=[OTHER_KEY])
    sandbox.factory.mkdir(mode=0o700)
    before = sandbox.snapshot()
    run = sandbox.play({"byok_llmcloud_url": standin.url, "byok_preflight": True}, "--check", check=False)
    assert run.rc != 0 and "API key invalid or unauthorized" in run.output
    assert sandbox.snapshot() == before


def test_a_host_whose_variables_cannot_be_read_fails_alone(tmp_path):
    """The daily run's `meta: end_role` (ansible-core 2.18+) is evaluated by the controller itself,
    where an error stops the play for every host, ignore_errors or not: a host whose variables do not
    template must fail alone, in a task, and the other hosts' later tasks must still run."""
    homes = {name: tmp_path / name for name in ("good", "bad")}
    for home in homes.values():
        home.mkdir()
    inventory = {
        "all": {
            "hosts": {
                "good": {"byok_test_scope": "user"},
                "bad": {"byok_test_scope": "{{ byok_test_not_defined_anywhere }}"},
            },
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": PYTHON, "byok_test_base": str(tmp_path)},
        }
    }
    (tmp_path / "hosts.yml").write_text(json.dumps(inventory))
    playbook = [
        {
            "name": "The role with ignore_errors, then a task after it",
            "hosts": "all",
            "gather_facts": False,
            "environment": {"HOME": "{{ byok_test_base }}/{{ inventory_hostname }}"},
            "roles": [
                {
                    "role": "llmcloud.factory_droid.byok",
                    "ignore_errors": True,
                    "vars": {"byok_api_key": KEY, "byok_scope": "{{ byok_test_scope }}"},
                }
            ],
            "tasks": [{"name": "After the role", "ansible.builtin.debug": {"msg": "after the role on {{ inventory_hostname }}"}}],
        }
    ]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(playbook, sort_keys=False))
    run = run_playbook(tmp_path / "play.yml", "-i", str(tmp_path / "hosts.yml"), cwd=tmp_path)
    assert run.rc == 0, run.output
    assert KEY not in run.output
    assert "after the role on good" in run.output and "after the role on bad" in run.output, run.output
    assert "byok_test_not_defined_anywhere" in run.output  # the reason, on the bad host's failed task
    assert "customModels" in (homes["good"] / ".factory" / "settings.json").read_text()
    assert not (homes["bad"] / ".factory").exists()


def _local_play(tmp_path, play, *args):
    """Run one play on localhost (connection local) with HOME a fresh folder: (the run, that home)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    play = dict({"hosts": "localhost", "gather_facts": False, "environment": {"HOME": str(home)}}, **play)
    play.setdefault("vars", {})["ansible_python_interpreter"] = PYTHON
    (tmp_path / "play.yml").write_text(yaml.safe_dump([play], sort_keys=False))
    return run_playbook(tmp_path / "play.yml", "-i", "localhost,", "-c", "local", *args, cwd=tmp_path), home


@pytest.mark.parametrize(
    "task",
    [
        {"llmcloud.factory_droid.byok_settings": {}},
        {"ansible.builtin.debug": {"msg": "{{ lookup('llmcloud.factory_droid.byok_inputs', 'entries') }}"}},
    ],
    ids=["merge action", "lookup"],
)
def test_the_role_s_plugins_run_only_in_the_role(tmp_path, task):
    """The merge action and the lookup read the role's variables: outside the role its defaults would
    stand in for what the play never set, so they refuse, saying what to use instead, and write nothing."""
    play = {
        "name": "The role's internal plugins in a playbook of one's own",
        "vars": {"byok_api_key": KEY},
        "tasks": [dict(task, name="Use it outside the role")],
    }
    run, home = _local_play(tmp_path, play)
    assert run.rc != 0 and "is internal to the llmcloud.factory_droid.byok role" in run.output, run.output
    assert KEY not in run.output
    assert list(home.iterdir()) == []


@pytest.mark.parametrize("extra", [{}, {"byok_key_mode": "env"}], ids=["daily run", "steps"])
def test_a_misspelt_role_parameter_fails_before_anything_is_touched(tmp_path, extra):
    """Beside ``role:`` in ``roles:``, a name the argument spec does not declare is refused, on the
    daily run (the merge checks) and on every other (the steps' first task checks), as ansible-core's
    validation of the role refused it before the role checked its spec itself."""
    play = {
        "name": "A typo in the role's parameters",
        "roles": [dict({"role": "llmcloud.factory_droid.byok", "byok_api_key": KEY, "byok_modles": ["anthropic/claude-haiku-4.5"]}, **extra)],
    }
    run, home = _local_play(tmp_path, play)
    assert run.rc != 0 and "byok_modles. Supported parameters include:" in run.output, run.output
    assert KEY not in run.output and list(home.iterdir()) == []


def test_module_defaults_for_json_merge_reach_the_role_s_merge_as_far_as_they_may(tmp_path):
    """The merge task's action runs json_merge: of a play's module_defaults for json_merge it takes
    those that say how it writes (here backup); what it writes, for whom, the mode and the masking stay
    the role's, and a warning names the options it ignored (state absent would empty the models,
    redact_exclude would print the key in the diff, mode 0644 would make the key world-readable)."""
    defaults = {"backup": True, "mode": "0644", "state": "absent", "redact_exclude": ["apiKey"], "user": "nobody"}
    play = {
        "name": "The role under module_defaults for json_merge",
        "module_defaults": {"llmcloud.factory_droid.json_merge": defaults},
        "roles": [{"role": "llmcloud.factory_droid.byok", "vars": {"byok_api_key": KEY, "byok_models": "{{ byok_test_models }}"}}],
    }
    for models in (["anthropic/claude-opus-4.6"], ["anthropic/claude-haiku-4.5"]):
        run, home = _local_play(tmp_path, play, "--diff", "-e", json.dumps({"byok_test_models": models}))
        assert run.rc == 0 and KEY not in run.output, run.output
        assert "mode, redact_exclude, state, user ignored by the byok role's merge" in " ".join(run.output.split()), run.output
    factory = home / ".factory"
    backups = [p.name for p in factory.iterdir() if p.name.startswith("settings.json.") and p.name.endswith("~")]
    assert len(backups) == 1, sorted(p.name for p in factory.iterdir())
    assert (factory / "settings.json").stat().st_mode & 0o777 == 0o600
    assert "anthropic/claude-haiku-4.5" in (factory / "settings.json").read_text()
