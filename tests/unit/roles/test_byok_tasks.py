# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The byok role's task files: named by concern, every task tagged, the daily run without skipped steps."""

from __future__ import annotations

from pathlib import Path

import yaml

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
    assert sorted(p.name for p in (ROLE / "tasks").glob("*.yml")) == sorted(list(CONCERNS) + ["main.yml", "steps.yml"])


def test_main_is_the_steps_or_the_merge_as_the_input_object_decides():
    main = tasks("main.yml")
    assert len(main) == 2
    assert main[0]["ansible.builtin.include_tasks"]["file"] == "steps.yml" and main[0]["when"] == "not __byok_daily"
    assert main[0]["tags"] == ["always"]
    assert main[1]["ansible.builtin.import_tasks"] == "settings.yml" and main[1]["when"] == "__byok_daily"
    daily = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["__byok_daily"]
    assert "byok_inputs', 'daily'" in daily


def test_the_daily_file_is_the_merge_alone():
    daily = tasks("settings.yml")
    assert len(daily) == 1 and "llmcloud.factory_droid.json_merge" in daily[0]


def test_every_run_but_the_daily_one_checks_the_variables_first():
    first = tasks("steps.yml")[0]
    assert "byok_inputs', 'check')" in first["ansible.builtin.assert"]["that"] and first["tags"] == ["always"]


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
