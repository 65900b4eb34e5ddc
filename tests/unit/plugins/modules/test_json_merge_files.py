# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""json_merge's ``files``: several files in one module call, each merged, locked and written on its own."""

from __future__ import annotations

import json
import os
import stat

# the run fixture comes from the module's main test file, imported by its collection name (see test_json_merge_validate.py)
from ansible_collections.llmcloud.factory_droid.tests.unit.plugins.modules.test_json_merge import (  # noqa: F401 pylint: disable=unused-import
    CANARY,
    KEYED,
    VALUE,
    assert_no_canary,
    run,
)

OTHER = {"customModels": [{"model": "google/gemini-3-pro-preview", "baseUrl": "https://llmcloud.studio/v1", "apiKey": CANARY + "-other"}]}


def home(tmp_path, name, text=None, local=None):
    folder = tmp_path / name / ".factory"
    folder.mkdir(parents=True, mode=0o700)
    if text is not None:
        (folder / "settings.json").write_text(text)
    if local is not None:
        (folder / "settings.local.json").write_text(local)
    return folder


def test_two_files_one_call_then_nothing_to_do(run, tmp_path):  # noqa: F811 - the imported fixture
    a = home(tmp_path, "a", '{\n  // mine\n  "theme": "dark"\n}\n')
    b = home(tmp_path, "b")
    args = {
        "files": [
            {"path": str(a / "settings.json"), "value": VALUE},
            {"path": str(b / "settings.json"), "value": OTHER},
        ],
        "keyed_lists": KEYED,
        "mode": "0600",
    }
    first = run(args, diff=True)
    assert not first.failed, first.result
    assert first.result["changed"] is True
    assert [r["changed"] for r in first.result["results"]] == [True, True]
    assert [r["path"] for r in first.result["results"]] == [str(a / "settings.json"), str(b / "settings.json")]
    text_a = (a / "settings.json").read_text()
    assert "// mine" in text_a and '"theme": "dark"' in text_a
    assert json.loads((b / "settings.json").read_text()) == OTHER
    for folder in (a, b):
        assert stat.S_IMODE(os.stat(folder / "settings.json").st_mode) == 0o600
    # one diff per changed file, the keys of both files masked everywhere
    assert [d["after_header"] for d in first.result["diff"]] == [str(a / "settings.json"), str(b / "settings.json")]
    assert_no_canary(first)
    assert first.result["invocation"]["module_args"]["files"][0]["value"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"

    again = run(args, diff=True)
    assert again.result["changed"] is False and "diff" not in again.result
    assert [r["operations"] for r in again.result["results"]] == [[], []]


def test_item_options_override_the_task_and_check_only_never_writes(run, tmp_path):  # noqa: F811 - the imported fixture
    a = home(tmp_path, "a", "{}\n", local='{"customModels": []}\n')
    before_local = (a / "settings.local.json").read_bytes()
    out = run(
        {
            "files": [
                {"path": str(a / "settings.json")},
                {"path": str(a / "settings.local.json"), "only_if_keys": ["/customModels"], "check_only": True},
                {"path": str(a / "absent.json"), "only_if_keys": ["/customModels"]},
            ],
            "value": VALUE,
            "keyed_lists": KEYED,
        },
        diff=True,
    )
    assert not out.failed, out.result
    settings, local, absent = out.result["results"]
    assert settings["changed"] is True and settings["check_only"] is False
    # check_only: says it would change, is not written, does not count, shows no diff
    assert local["changed"] is True and local["check_only"] is True and local["applied"] is True
    assert (a / "settings.local.json").read_bytes() == before_local
    assert len(out.result["diff"]) == 1
    assert absent["applied"] is False and not (a / "absent.json").exists()
    assert out.result["changed"] is True
    # only the check_only file would change: the task reports no change
    rerun = run(
        {"files": [{"path": str(a / "settings.json")}, {"path": str(a / "settings.local.json"), "check_only": True}], "value": VALUE, "keyed_lists": KEYED}
    )
    assert rerun.result["changed"] is False
    assert [r["changed"] for r in rerun.result["results"]] == [False, True]


def test_a_failed_file_does_not_stop_the_others_and_is_named(run, tmp_path):  # noqa: F811 - the imported fixture
    bad = home(tmp_path, "bad", '{"a": 1,}\n')
    good = home(tmp_path, "good", "{}\n")
    before = (bad / "settings.json").read_bytes()
    out = run({"files": [{"path": str(bad / "settings.json"), "value": VALUE}, {"path": str(good / "settings.json"), "value": VALUE}], "keyed_lists": KEYED})
    assert out.failed
    assert out.result["msg"].startswith("files[0]: %s: " % (bad / "settings.json"))
    assert "line 1" in out.result["msg"]
    assert (bad / "settings.json").read_bytes() == before
    first, second = out.result["results"]
    assert first.get("failed") is True and second["changed"] is True
    assert json.loads((good / "settings.json").read_text())["customModels"][0]["model"] == "anthropic/claude-sonnet-4.6"
    assert_no_canary(out)


def test_check_mode_writes_none_of_the_files(run, tmp_path):  # noqa: F811 - the imported fixture
    a = home(tmp_path, "a", "{}\n")
    out = run(
        {"files": [{"path": str(a / "settings.json"), "value": VALUE}, {"path": str(a / "other.json"), "value": OTHER}], "keyed_lists": KEYED}, check=True
    )
    assert out.result["changed"] is True
    assert (a / "settings.json").read_text() == "{}\n" and not (a / "other.json").exists()


def test_path_and_files_are_exclusive_and_one_is_required(run, tmp_path):  # noqa: F811 - the imported fixture
    both = run({"path": str(tmp_path / "x.json"), "files": [{"path": str(tmp_path / "y.json")}], "value": VALUE})
    assert both.failed and "mutually exclusive" in both.result["msg"]
    neither = run({"value": VALUE})
    assert neither.failed and "one of the following is required: path, files" in neither.result["msg"]
    empty = run({"files": [], "value": VALUE})
    assert empty.failed and "files must list at least one file" in empty.result["msg"]
    assert not list(tmp_path.iterdir())
    for out in (both, neither, empty):
        assert_no_canary(out)


def test_a_bad_item_option_fails_before_any_file_is_touched(run, tmp_path):  # noqa: F811 - the imported fixture
    a = home(tmp_path, "a", "{}\n")
    out = run({"files": [{"path": str(a / "settings.json"), "value": VALUE}, {"path": str(a / "settings.json"), "only_if_keys": ["no-slash"]}]})
    assert out.failed
    # the item's own checks run per file: the first file is merged, the second named
    assert "files[1]" in out.result["msg"] and "only_if_keys" in out.result["msg"]


def test_each_result_carries_the_file_attributes(run, tmp_path):  # noqa: F811 - the imported fixture
    a = home(tmp_path, "a", "{}\n")
    out = run({"files": [{"path": str(a / "settings.json"), "value": VALUE}], "mode": "0600"})
    one = out.result["results"][0]
    assert one["mode"] == "0600" and one["uid"] == os.getuid() and one["state"] == "file" and one["size"] > 2


def test_a_validator_that_cannot_run_fails_its_file_only_and_logs_no_value(run, tmp_path):  # noqa: F811 - the imported fixture
    a = home(tmp_path, "a", "{}\n")
    b = home(tmp_path, "b", "{}\n")
    args = {
        "files": [{"path": str(a / "settings.json"), "value": VALUE}, {"path": str(b / "settings.json"), "value": {"theme": "dark"}}],
        "validate": str(tmp_path / "no-such-validator") + " %s",
    }
    out = run(args)
    assert out.failed and out.result["msg"].startswith("files[0]: validate could not run on the candidate for %s" % (a / "settings.json"))
    assert "files[1]: validate could not run" in out.result["msg"]
    assert (a / "settings.json").read_text() == "{}\n" and (b / "settings.json").read_text() == "{}\n"
    assert [r["failed"] for r in out.result["results"]] == [True, True]
    assert out.result["invocation"]["module_args"]["files"][1]["value"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert_no_canary(out)


def test_the_validators_words_are_masked_with_the_files_own_secrets(run, tmp_path):  # noqa: F811 - the imported fixture
    a = home(tmp_path, "a", '{"apiKey": "sk-already-in-the-file-0123456789", "token": "plainexistingtoken123"}\n')
    out = run({"files": [{"path": str(a / "settings.json"), "value": {"theme": "dark"}}], "validate": "/bin/sh -c 'cat \"$0\"; exit 1' %s"})
    assert out.failed and "rc 1" in out.result["msg"] and "run the validator by hand" in out.result["msg"]
    assert "sk-already-in-the-file-0123456789" not in out.stdout and "plainexistingtoken123" not in out.stdout
    assert '"theme": "dark"' not in out.result["msg"]  # the candidate's text is never echoed (issue 20)
