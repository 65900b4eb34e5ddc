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
