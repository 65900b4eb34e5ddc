# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The byok role's task files: named by concern, every task tagged, the daily run without skipped steps."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

try:  # ansible-core 2.19: a template must be marked as trusted
    from ansible.template import trust_as_template
except ImportError:  # older: every string is one

    def trust_as_template(text):
        return text


ROLE = Path(__file__).resolve().parents[3] / "roles" / "byok"
CONCERNS = {
    "preflight.yml": "byok_preflight",
    "keychain.yml": "byok_keychain",
    "system.yml": "byok_system",
    "settings.yml": "byok_settings",
    "report.yml": "byok_settings",
    "verify.yml": "byok_verify",
    "offboard.yml": "byok_offboard",
}


def tasks(name):
    return yaml.safe_load((ROLE / "tasks" / name).read_text())


def test_the_task_files_are_the_concerns_and_nothing_named_by_when_it_runs():
    gates = ["main.yml", "gate.yml", "gate-2.16.yml"]
    assert sorted(p.name for p in (ROLE / "tasks").glob("*.yml")) == sorted(list(CONCERNS) + gates + ["steps.yml"])


@pytest.mark.parametrize(
    "version, gate", [("2.16.19", "gate-2.16.yml"), ("2.17.14", "gate-2.16.yml"), ("2.18.0", "gate.yml"), ("2.19.14", "gate.yml"), ("2.20.1", "gate.yml")]
)
def test_main_imports_the_gate_the_running_ansible_core_can_run(version, gate):
    main = tasks("main.yml")
    assert len(main) == 1 and "when" not in main[0]
    expression = main[0]["ansible.builtin.import_tasks"]["file"]
    templar = Templar(loader=DataLoader(), variables={"ansible_version": {"full": version}})
    assert templar.template(trust_as_template(expression)) == gate


def test_the_daily_run_ends_the_role_after_the_merge_on_ansible_core_2_18():
    merge, end, steps = tasks("gate.yml")
    # no Jinja condition on the merge: its action merges on the daily run and skips otherwise
    assert merge["ansible.builtin.import_tasks"] == "settings.yml" and merge["vars"] == {"__byok_gate": True} and "when" not in merge
    # a meta task: the controller evaluates it, no worker per host; `always`, so --tags cannot run past it
    assert end["ansible.builtin.meta"] == "end_role" and end["when"] == "__byok_daily" and end["tags"] == ["always"]
    assert steps["ansible.builtin.import_tasks"] == "steps.yml" and "when" not in steps
    daily = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["__byok_daily"]
    assert "byok_inputs', 'daily'" in daily


def test_the_steps_or_the_merge_on_ansible_core_2_16_and_2_17():
    steps, merge = tasks("gate-2.16.yml")
    assert steps["ansible.builtin.include_tasks"]["file"] == "steps.yml" and steps["when"] == "not __byok_daily"
    assert steps["tags"] == ["always"]
    assert merge["ansible.builtin.import_tasks"] == "settings.yml" and merge["vars"] == {"__byok_gate": True} and "when" not in merge


def test_the_steps_merge_in_their_place_on_every_run_but_the_daily_one():
    merge = [task for task in tasks("steps.yml") if task.get("ansible.builtin.import_tasks") == "settings.yml"]
    assert len(merge) == 1 and merge[0]["vars"] == {"__byok_gate": False} and "not __byok_daily" in merge[0]["when"]


def test_the_merge_file_is_the_merge_alone():
    (merge,) = tasks("settings.yml")
    assert merge["llmcloud.factory_droid.byok_settings"] == {"daily": "{{ __byok_gate }}"}
    assert merge["register"] == "byok_merged" and merge["tags"] == ["byok", "byok_settings"]


def test_every_run_but_the_daily_one_checks_the_variables_first():
    first = tasks("steps.yml")[0]
    assert first["llmcloud.factory_droid.byok_settings"] == {"check_only": True} and first["tags"] == ["always"]


def test_every_step_carries_byok_and_its_concern_tag():
    for task in tasks("steps.yml")[1:]:
        assert "byok" in task.get("tags", []) or "import_tasks" in str(task), task["name"]
        include = task.get("ansible.builtin.include_tasks")
        if include:
            tag = CONCERNS[include["file"]]
            assert tag in task["tags"] and include["apply"]["tags"] == ["byok", tag], task["name"]


def test_the_repeated_pieces_are_defined_once():
    text = "".join((ROLE / "tasks" / name).read_text() for name in CONCERNS)
    assert "cmd: id -un" not in text and tasks("steps.yml")[1]["ansible.builtin.command"]["cmd"] == "id -un"
    assert "item.name is not none and" not in text  # the become expression: __byok_become (vars/main.yml)
    assert ".bash_profile" not in text.replace("'.bash_profile'", "")  # the profile list: __byok_shell_profiles
