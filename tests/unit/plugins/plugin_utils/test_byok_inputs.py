# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the byok role's input object (plugins/plugin_utils/byok/inputs.py, ``Inputs``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

try:
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import client as _client
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import inputs as _inputs
except ImportError:  # plain pytest from the checkout: `make collection` links it under build/
    sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "build" / "collections"))
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import client as _client
    from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok import inputs as _inputs

ROOT = Path(_inputs.__file__).resolve().parents[3]
SPEC = yaml.safe_load((ROOT / "roles" / "byok" / "meta" / "argument_specs.yml").read_text())["argument_specs"][_inputs.ENTRY_POINT]["options"]
DEFAULTS = yaml.safe_load((ROOT / "roles" / "byok" / "defaults" / "main.yml").read_text())
KEY = "llmc-inputs-test-5a4b3c2d1e"
URL = "https://llmcloud.studio"


def inputs(**play):
    """The input object as the role's lookup builds it: the play's variables, else the spec's defaults."""
    play.setdefault("byok_api_key", KEY)

    def get(name):
        return play[name]

    return _inputs.Inputs.from_vars(get)


def test_the_variables_are_the_options_of_the_argument_spec():
    values = inputs().all_values()
    assert set(values) == set(SPEC) == set(DEFAULTS)
    assert all(name.startswith("byok_") for name in values)
    # a variable the play does not set has the spec's default, which defaults/main.yml repeats
    assert {k: v for k, v in values.items() if k != "byok_api_key"} == {k: v for k, v in DEFAULTS.items() if k != "byok_api_key"}


def test_the_defaults_have_no_problems_and_make_the_daily_run():
    built = inputs()
    assert built.problems() == []
    assert built.daily()
    files = built.files()
    assert [f["path"] for f in files] == ["~/.factory/settings.json", "~/.factory/settings.local.json"]
    assert len(files[0]["value"]["customModels"]) == 8 and files[0]["value"]["customModels"][0]["apiKey"] == KEY


@pytest.mark.parametrize(
    "play",
    [
        {"byok_preflight": True},
        {"byok_key_mode": "env"},
        {"byok_key_mode": "keychain"},
        {"byok_scope": "both", "byok_key_mode": "env"},
        {"byok_state": "absent"},
        {"byok_verify": "auto"},
        {"byok_local_settings": "warn"},
    ],
)
def test_every_optional_step_leaves_the_daily_run(play):
    assert not inputs(**play).daily()


def test_the_daily_decision_reads_six_variables_and_never_the_key():
    read = []

    def get(name):
        read.append(name)
        raise KeyError(name)

    assert _inputs.Inputs.from_vars(get).daily()
    assert sorted(read) == sorted(["byok_state", "byok_key_mode", "byok_scope", "byok_preflight", "byok_verify", "byok_local_settings"])


def test_each_variable_is_read_once_however_often_it_is_used():
    read = []

    def get(name):
        read.append(name)
        if name == "byok_api_key":
            return KEY
        raise KeyError(name)

    built = _inputs.Inputs.from_vars(get)
    built.problems()
    built.files()
    assert sorted(read) == sorted(set(read)) and set(read) <= set(SPEC)


def test_every_problem_at_once_each_naming_its_variable_never_the_key():
    built = inputs(
        byok_models=["nope/model"],
        byok_llmcloud_url="ftp://x",
        byok_default_model=KEY,
        byok_keychain_entry="bad entry; rm -rf /",
        byok_scope="system",
        byok_system_min_version="new",
    )
    found = built.problems()
    for name in ("byok_models", "byok_llmcloud_url", "byok_default_model", "byok_keychain_entry", "byok_scope", "byok_system_min_version"):
        assert any(name in sentence for sentence in found), name
    assert not any(KEY in sentence for sentence in found)
    with pytest.raises(_inputs.ByokError) as info:
        built.files()
    assert info.value.problems == found


# A value of another type for each declared type that ansible-core's validator refuses (it turns
# anything into text for a str option: the role's own rules judge those).
WRONG_TYPE = {"bool": ["yes", "no"], "int": "many", "list": {"a": "dict"}, "dict": ["a", "list"]}


def _wrong_values():
    for name, option in SPEC.items():
        kind = option.get("type", "str")
        if kind in WRONG_TYPE:
            yield name, WRONG_TYPE[kind]
        if option.get("choices"):
            yield name, "not-a-choice"
        if option.get("elements") == "dict":
            yield name, [5]


@pytest.mark.parametrize("name, value", list(_wrong_values()), ids=["%s=%r" % case for case in _wrong_values()])
def test_the_argument_spec_is_checked_with_ansible_core_s_validator(name, value):
    """Generated from the argument spec: what ansible-core's role argument validation refuses, the
    input object refuses, naming the variable (the role runs no validation task of Ansible's)."""
    typed = _inputs.spec_problems(dict(inputs().all_values(), **{name: value}))
    assert typed and all(name in message for message in typed), typed
    assert all(message in inputs(**{name: value}).problems() for message in typed)


@pytest.mark.parametrize("value", [True, 5, "text", [5], {"a": 1}, None], ids=repr)
def test_any_value_of_any_variable_gets_sentences_never_an_exception(value):
    """Generated from the argument spec: whatever type a variable is given, the check answers in
    sentences naming it (the role's rules no longer run behind Ansible's validation task)."""
    for name in SPEC:
        found = inputs(**{name: value}).problems()
        assert all(isinstance(sentence, str) for sentence in found), name


def test_a_spec_problem_and_a_rule_problem_are_reported_together_each_once():
    found = inputs(byok_prune=["x"], byok_scope="nowhere", byok_models=["nope/model"]).problems()
    assert [s for s in found if "byok_prune" in s] == [s for s in found if s.startswith("argument 'byok_prune'")] != []
    # byok_scope's choices: the validator's sentence only, not the role's own sentence too
    assert len([s for s in found if "byok_scope" in s]) == 1
    assert any(s.startswith("byok_models: unknown model id 'nope/model'") for s in found)
    assert all(s.endswith(".") for s in found)


def test_a_role_parameter_the_spec_does_not_declare_is_refused():
    """A misspelt variable beside ``role:`` in ``roles:`` (a role parameter) is refused, as ansible-core's
    validation of the role refused it; one the spec declares is judged by its value."""
    built = _inputs.Inputs.from_vars(inputs().values._get, params={"byok_modles": ["x"], "byok_prune": True})
    found = built.problems()
    assert len(found) == 1 and found[0].startswith("byok_modles. Supported parameters include:"), found


def test_a_wrongly_typed_catalog_does_not_blame_the_models_it_lists():
    found = inputs(byok_catalog={"not": "a list"}).problems()
    assert found and all("byok_catalog" in s for s in found), found


@pytest.mark.parametrize(
    "expression, shown",
    [
        ("{{ keys['alice'] | default('sk-live-abcdef123456789xyz') }}", "{{ keys['alice'] | default('********') }}"),
        (
            "{{ lookup('community.hashi_vault.vault_kv2_get', 'llmcloud/developers/alice',\n engine_mount_point='secret').secret.api_key }}",
            "{{ lookup('community.hashi_vault.vault_kv2_get', 'llmcloud/developers/alice', engine_mount_point='secret').secret.api_key }}",
        ),
        ('{{ "llmc20251203abcdefgh" }}', '{{ "********" }}'),
    ],
)
def test_a_failing_expression_is_quoted_with_every_literal_that_could_be_a_key_masked(expression, shown):
    assert _inputs._quoted(expression) == shown


def test_the_validator_sees_plain_values_never_ansible_s_tagged_ones():
    datatag = pytest.importorskip("ansible.module_utils._internal._datatag", reason="ansible-core 2.19 tags values")
    origin = pytest.importorskip("ansible._internal._datatag._tags").Origin(path="/play.yml")

    def tag(value):
        return datatag.AnsibleTagHelper.tag(value, [origin])

    assert tag("s").__class__ is not str and tag(["x"]).__class__ is not list
    plain = _inputs._plain({"a": [tag("s"), 1, True, 1.5, None, ("t",)], "b": tag(["x"])})
    assert plain == {"a": ["s", 1, True, 1.5, None, ("t",)], "b": ["x"]}
    assert plain["a"][0].__class__ is str and plain["a"][2].__class__ is bool and plain["b"].__class__ is list


def test_a_variable_that_cannot_be_read_is_named_with_the_expression_that_fails_never_a_literal():
    """reader (the action's and the lookup's ``get``): a failing expression (a vault that cannot log
    in) is reported by variable, element and expression; a literal key beside it is never quoted."""
    literal = "llmc-literal-key-4f3e2d1c"
    failing = "{{ lookup('vault', 'llmcloud/developers/alice') }}"

    def template(value):  # as ansible-core's templar: a container renders every string in it
        if "vault" in repr(value):
            raise RuntimeError("Vault is sealed")
        return value

    play = {"byok_users": [{"name": "bob", "api_key": literal}, {"name": "alice", "api_key": failing}], "byok_api_key": literal}
    get = _inputs.reader(template, play)
    assert get("byok_api_key") == literal
    with pytest.raises(KeyError):
        get("byok_models")  # not set by the play: the spec's default stands in
    with pytest.raises(_inputs.ByokError) as info:
        get("byok_users")
    (sentence,) = info.value.problems
    assert sentence.startswith("byok_users could not be read: Vault is sealed")
    assert "byok_users[1].api_key: " + failing in sentence and literal not in sentence


@pytest.mark.parametrize("entry, good", [("llmcloud/factory-droid-api-key", True), ("a.b_c@d+e", True), ("/lead", False), ("x y", False), ("$(id)", False)])
def test_the_keychain_entry_rule_is_an_input_check(entry, good):
    found = [s for s in inputs(byok_keychain_entry=entry).problems() if "byok_keychain_entry" in s]
    assert (found == []) is good


def test_choices_are_read_from_the_argument_spec_and_the_client_facts_agree():
    for name, option in SPEC.items():
        assert _inputs.choices(name) == tuple(option.get("choices") or ()), name
    assert set(_client.OPENAI_FAMILY_PROVIDERS) == set(SPEC["byok_openai_family_provider"]["choices"])
    assert SPEC["byok_system_min_version"]["default"] == _client.MIN_SYSTEM_VERSION


def test_user_keys_and_targets():
    built = inputs(byok_users=[{"name": "alice", "api_key": "llmc-alice-123456"}, {"name": "bob", "home": "/srv/bob"}])
    assert [t["home_ref"] for t in built.targets()] == ["~alice", "/srv/bob"]
    assert built.user_key(0) == "llmc-alice-123456" and built.user_key(1) == KEY and built.user_key(None) == KEY
    assert {f["user"] for f in built.files()} == {"alice", "bob"}


def test_the_system_file_views():
    built = inputs(byok_scope="both", byok_key_mode="env", byok_default_model="anthropic/claude-opus-4.6", byok_org_allow_factory_models=False)
    doc = built.system_document()
    assert [e["id"] for e in doc["customModels"]] == [e["id"] for e in built.entries()]
    assert doc["sessionDefaultSettings"]["model"] == "custom:llmcloud-anthropic-claude-opus-4.6"
    assert doc["modelPolicy"] == {"allowAllFactoryModels": False}
    plan = built.system_plan("os=Darwin\ndroid=/opt/homebrew/bin/droid version=0.225.2")
    assert plan["path"] == "/Library/Application Support/Factory/settings.json"
    assert all(set(e) == {"model", "id", "baseUrl"} for e in built.offboard_entries())
    with pytest.raises(_inputs.ByokError, match="not one of the configured models"):
        inputs(byok_default_model="nope/model").system_document()


def test_offboarding_needs_no_key():
    assert inputs(byok_state="absent", byok_api_key="").problems() == []
    assert any("byok_api_key" in sentence for sentence in inputs(byok_api_key="").problems())


@pytest.mark.parametrize("entry", ["-c", "--help", "..", ".hidden", "a b", "x;y"])
def test_a_keychain_entry_never_reaches_a_store_as_an_option_or_a_relative_path(entry):
    assert any("byok_keychain_entry" in sentence for sentence in inputs(byok_keychain_entry=entry).problems())


def test_the_keychain_entries_the_docs_show_are_accepted():
    for entry in ("llmcloud/factory-droid-api-key", "team_a/llmcloud.key", "@org+llmcloud"):
        assert inputs(byok_keychain_entry=entry).problems() == []


# Every worker process that templates a byok variable imports the lookup anew, and Ansible's
# collection loader compiles collection code from source on every import (no .pyc): the daily run's
# views import only what they use. (Measured in docs/performance.md.)
_IMPORTS = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.llmcloud.factory_droid.plugins.lookup import byok_inputs
from ansible_collections.llmcloud.factory_droid.plugins.plugin_utils.byok.inputs import Inputs
view = sys.argv[2]
if view != "import":
    values = json.loads(sys.argv[3])
    getattr(Inputs.from_vars(values.__getitem__), view)()
prefix = "ansible_collections.llmcloud.factory_droid.plugins."
print(json.dumps(sorted(m[len(prefix):] for m in sys.modules if m.startswith(prefix))))
"""


@pytest.mark.parametrize(
    "view, unwanted",
    [
        ("import", ["plugin_utils.byok.judges", "plugin_utils.byok.entries", "plugin_utils.byok.plan", "module_utils._jsonc", "module_utils._redact"]),
        ("daily", ["plugin_utils.byok.judges", "plugin_utils.byok.entries", "plugin_utils.byok.plan", "module_utils._jsonc", "module_utils._redact"]),
        ("files", ["plugin_utils.byok.judges", "plugin_utils.byok.system", "module_utils._jsonc", "module_utils._redact"]),
    ],
)
def test_the_daily_run_imports_only_what_it_uses(view, unwanted):
    import json
    import os
    import subprocess

    here = os.path.abspath(_inputs.__file__)  # unresolved: .../ansible_collections/llmcloud/factory_droid/...
    collections = here[: here.rindex(os.sep + "ansible_collections" + os.sep)]
    values = dict(DEFAULTS, byok_api_key=KEY)
    out = subprocess.run([sys.executable, "-c", _IMPORTS, collections, view, json.dumps(values)], capture_output=True, text=True, timeout=60, check=True)
    loaded = json.loads(out.stdout)
    assert "plugin_utils.byok.inputs" in loaded and "lookup.byok_inputs" in loaded
    assert not set(unwanted) & set(loaded), loaded
