# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The byok_report callback fed with task results as ansible-core hands them over (the real
multi-host run is tests/role/test_fleet_report.py): key modes, masking of the keys the merge wrote
wherever they appear, credential-looking text, the atomic 0600 files."""

from __future__ import annotations

import json
import os
import stat

from ansible_collections.llmcloud.factory_droid.plugins.callback import byok_report

KEY = "llmc-unit-canary-0123456789abcdef"
TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


class Host:
    def __init__(self, name):
        self.name = name

    def get_name(self):
        return self.name


class Task:
    def __init__(self, path=""):
        self.path = path

    def get_path(self):
        return self.path

    def get_name(self):
        return "a task"


class Result:
    """The attributes the callback reads (ansible-core 2.19 names)."""

    def __init__(self, host, result, fields=None, path=""):
        self.host = Host(host)
        self.result = result
        self.task_fields = fields or {}
        self.task = Task(path)


class Stats:
    def __init__(self, outcomes):
        self.processed = dict((host, 1) for host in outcomes)
        self.outcomes = outcomes

    def summarize(self, host):
        return dict({"ok": 1, "changed": 0, "failures": 0, "unreachable": 0}, **self.outcomes[host])


def entry(model, key):
    return {"model": model, "id": "custom:llmcloud-" + model.replace("/", "-"), "displayName": model.upper(), "apiKey": key}


def merge(host, key, replaced=False, user="alice"):
    files = [
        {
            "path": "~/.factory/settings.json",
            "user": user,
            "check_only": False,
            "value": {
                "customModels": [entry("anthropic/claude-haiku-4.5", key)],
                "sessionDefaultSettings": {"model": "custom:llmcloud-anthropic-claude-haiku-4.5"},
            },
        }
    ]
    operations = [{"op": "replace", "path": "/customModels/0/apiKey"}] if replaced else [{"op": "add", "path": "/customModels/0"}]
    results = [{"path": "/home/%s/.factory/settings.json" % user, "changed": True, "applied": True, "operations": operations}]
    fields = {"_resolved_action": "llmcloud.factory_droid.json_merge", "name": "Merge", "args": {"files": files, "mode": "0600"}}
    return Result(host, {"changed": True, "results": results}, fields)


def callback(tmp_path):
    plugin = byok_report.CallbackModule()
    plugin._plugin_options = {"path": str(tmp_path / "out" / "fleet.json")}  # what set_options gives a loaded plugin
    return plugin


def test_key_modes_repairs_and_masking_of_every_key_the_merge_wrote(tmp_path):
    plugin = callback(tmp_path)
    plugin.v2_runner_on_ok(merge("inline-laptop", KEY))
    plugin.v2_runner_on_ok(merge("env-laptop", "${LLMCLOUD_API_KEY}", replaced=True))
    plugin.v2_runner_on_ok(Result("keychain-laptop", {"changed": False}, {"name": "Store"}, path="/x/roles/byok/tasks/keychain.yml:20"))
    plugin.v2_runner_on_ok(merge("keychain-laptop", "${LLMCLOUD_API_KEY}"))
    # a failure whose text carries the key and a token (what some tool might print): masked
    plugin.v2_runner_on_failed(Result("inline-laptop", {"failed": True, "msg": "boom %s and %s" % (KEY, TOKEN)}, {"name": "Something else"}))
    plugin.v2_runner_on_unreachable(Result("gone-laptop", {"unreachable": True, "msg": "ssh: connect to host gone port 22: Connection refused"}))
    outcomes = {"inline-laptop": {"failures": 1}, "env-laptop": {"changed": 1}, "keychain-laptop": {}, "gone-laptop": {"unreachable": 1}}
    plugin.v2_playbook_on_stats(Stats(outcomes))

    json_file, md_file = tmp_path / "out" / "fleet.json", tmp_path / "out" / "fleet.md"
    text = json_file.read_text() + md_file.read_text()
    assert KEY not in text and TOKEN not in text and byok_report.MASK in text
    assert sorted(os.listdir(tmp_path / "out")) == ["fleet.json", "fleet.md"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in (json_file, md_file))
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o700
    hosts = dict((h["host"], h) for h in json.loads(json_file.read_text())["hosts"])
    assert [(name, hosts[name]["status"], hosts[name]["key_mode"]) for name in sorted(hosts)] == [
        ("env-laptop", "changed", "env"),
        ("gone-laptop", "unreachable", None),
        ("inline-laptop", "failed", "inline"),
        ("keychain-laptop", "ok", "keychain"),
    ]
    assert hosts["env-laptop"]["users"][0]["repaired"] == ["/home/alice/.factory/settings.json"]
    assert hosts["inline-laptop"]["users"][0]["repaired"] == []  # inline: a replaced key is a key change, not a repair
    assert hosts["inline-laptop"]["users"][0]["models_written"] == [["custom:llmcloud-anthropic-claude-haiku-4.5", "ANTHROPIC/CLAUDE-HAIKU-4.5"]]
    assert hosts["gone-laptop"]["problems"][0]["fix"] == byok_report.UNREACHABLE_FIX
    assert "| gone-laptop | unreachable |" in md_file.read_text()


def test_the_verify_payload_gives_what_droid_lists_and_the_judge_is_not_repeated(tmp_path):
    plugin = callback(tmp_path)
    plugin.v2_runner_on_ok(merge("laptop", KEY))
    problem = "user alice: droid does not list custom:llmcloud-anthropic-claude-haiku-4.5. The file to fix: /home/alice/.factory/settings.local.json."
    payload = {
        "key_mode": "inline",
        "verify": "always",
        "users": [
            {
                "user": "alice",
                "droid": "/usr/local/bin/droid",
                "version": "0.225.2",
                "models": [],
                "missing": ["custom:llmcloud-anthropic-claude-haiku-4.5"],
                "default": {"model": None, "llmcloud": False, "source": "/home/alice/.factory/settings.local.json"},
                "problems": [problem],
                "warnings": [],
            }
        ],
        "problems": [problem],
        "warnings": [],
    }
    plugin.v2_runner_on_ok(Result("laptop", {"ansible_stats": {"data": {"byok_report": payload}, "per_host": True, "aggregate": False}}))
    plugin.v2_runner_on_failed(Result("laptop", {"failed": True, "msg": problem}, {"name": "Judge what droid resolves for each user"}))
    plugin.v2_playbook_on_stats(Stats({"laptop": {"failures": 1}}))
    (host,) = json.loads((tmp_path / "out" / "fleet.json").read_text())["hosts"]
    (user,) = host["users"]
    assert user["verified"] and user["droid"] == {"path": "/usr/local/bin/droid", "version": "0.225.2"}
    assert user["models_listed"] == [] and user["problems"] == [problem] and host["problems"] == []
    assert host["verify"] == "always" and KEY not in (tmp_path / "out" / "fleet.md").read_text()


def test_a_file_the_merge_could_not_read_is_a_problem_and_nothing_of_it_is_written(tmp_path):
    plugin = callback(tmp_path)
    failed = merge("broken-laptop", KEY)
    message = (
        "/home/alice/.factory/settings.json: line 2, column 1: unexpected end of the file: the object opened at line 1, "
        'column 18 is not closed; add the missing "}" (near %s). The file was left untouched.' % KEY
    )
    failed.result = {
        "changed": False,
        "failed": True,
        "msg": "files[0]: " + message,
        "results": [{"path": "/home/alice/.factory/settings.json", "changed": False, "operations": [], "failed": True, "msg": message}],
    }
    plugin.v2_runner_on_failed(failed)
    plugin.v2_runner_on_unreachable(Result("gone-laptop", {"unreachable": True, "msg": "ssh: connect to host gone port 22: Connection refused"}))
    plugin.v2_playbook_on_stats(Stats({"broken-laptop": {"failures": 1}, "gone-laptop": {"unreachable": 1}}))
    data = json.loads((tmp_path / "out" / "fleet.json").read_text())
    markdown = (tmp_path / "out" / "fleet.md").read_text()
    assert KEY not in json.dumps(data) + markdown
    hosts = dict((h["host"], h) for h in data["hosts"])
    (problem,) = hosts["broken-laptop"]["problems"]
    assert "line 2, column 1" in problem["message"] and byok_report.MASK in problem["message"]
    assert "/home/alice/.factory/settings.json" in problem["fix"] and "--limit broken-laptop" in problem["fix"]
    (user,) = hosts["broken-laptop"]["users"]
    assert user["models_written"] == [] and user["default_written"] is None, "nothing is written to a file that failed"
    assert data["summary"]["problems"] == 2 and "problems: 2." in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| broken-laptop |"))
    assert "merge failed: settings.json" in row and "(written)" not in row and row.endswith("| 1 |")
    assert "/home/alice/.factory/settings.json: **failed, nothing written**: " in markdown and "unchanged" not in markdown
    assert "Fix: Repair /home/alice/.factory/settings.json" in markdown


class Shown:
    """What the callback prints (warnings and lines)."""

    def __init__(self):
        self.warnings, self.lines = [], []

    def warning(self, text):
        self.warnings.append(text)

    def display(self, text, **kwargs):
        self.lines.append((text, kwargs))


def _written(tmp_path, path):
    plugin = byok_report.CallbackModule()
    plugin._plugin_options = {"path": path}
    plugin._display = shown = Shown()
    plugin.v2_runner_on_ok(merge("laptop", KEY))
    plugin.v2_playbook_on_stats(Stats({"laptop": {}}))
    return shown


def test_missing_folders_are_all_0700(tmp_path):
    _written(tmp_path, str(tmp_path / "a" / "b" / "c" / "fleet"))
    for folder in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert sorted(os.listdir(tmp_path / "a" / "b" / "c")) == ["fleet.json", "fleet.md"]


def test_a_trailing_slash_or_an_existing_directory_gets_report_json_and_md_inside(tmp_path):
    shown = _written(tmp_path, str(tmp_path / "new") + "/")
    assert sorted(os.listdir(tmp_path / "new")) == ["report.json", "report.md"] and not (tmp_path / "new.json").exists()
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    assert shown.lines[-1][0].startswith("byok_report: %s.md and %s.json" % (tmp_path / "new" / "report", tmp_path / "new" / "report"))
    (tmp_path / "isdir.json").mkdir()  # a folder that happens to end in .json
    _written(tmp_path, str(tmp_path / "isdir.json"))
    assert sorted(os.listdir(tmp_path / "isdir.json")) == ["report.json", "report.md"] and not (tmp_path / "isdir.md").exists()


def test_a_report_that_cannot_be_written_is_a_warning_naming_both_files_and_why(tmp_path):
    (tmp_path / "a-file").write_text("not a folder\n")
    shown = _written(tmp_path, str(tmp_path / "a-file" / "fleet"))
    base = str(tmp_path / "a-file" / "fleet")
    (warning,) = shown.warnings
    assert warning.endswith("NOT written (%s.json and %s.md): not a folder: %s" % (base, base, tmp_path / "a-file")), warning
    assert shown.lines == [], "no line says it was written"
