# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""json_merge's ``validate``: the candidate is judged before the rename; a failure leaves the file as it was."""

from __future__ import annotations

import json
import os
import stat
import sys

# the run fixture comes from the module's main test file, imported by its collection name: ansible-test
# units puts no test folder on sys.path, so a bare `import test_json_merge` works only under plain pytest
from ansible_collections.llmcloud.factory_droid.tests.unit.plugins.modules.test_json_merge import (  # noqa: F401 pylint: disable=unused-import
    KEYED,
    VALUE,
    assert_no_canary,
    run,
    settings_file,
    snapshot,
)

# The judge: records what it saw (path, mode, content) and fails when the candidate holds "refuse".
JUDGE = r"""
import json, os, stat, sys
path = sys.argv[2]
with open(sys.argv[1], "a") as log:
    log.write(json.dumps({"path": path, "mode": stat.S_IMODE(os.stat(path).st_mode),
                          "text": open(path).read()}) + "\n")
if "refuse" in open(path).read():
    print("configuration.managed-settings: customModels.0.provider: Required")
    sys.exit(1)
"""


def judge(tmp_path):
    script = tmp_path / "judge.py"
    script.write_text(JUDGE)
    log = tmp_path / "judged.jsonl"
    return "%s %s %s %%s" % (sys.executable, script, log), log


def judged(log):
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_a_valid_candidate_is_judged_with_its_final_content_and_mode_then_swapped_in(run, tmp_path):  # noqa: F811 - the imported fixture
    folder = tmp_path / "Application Support" / "Factory"  # macOS' folder has a space in it
    folder.mkdir(parents=True)
    path = folder / "settings.json"
    command, log = judge(tmp_path)
    value = {"modelPolicy": {"allowedBaseUrls": ["https://llmcloud.studio/"]}}
    first = run({"path": str(path), "value": value, "mode": "0644", "validate": command})
    assert not first.failed and first.result["changed"] is True, first.result
    seen = judged(log)
    assert len(seen) == 1
    assert seen[0]["path"] != str(path) and os.path.dirname(seen[0]["path"]) == str(folder)
    assert seen[0]["mode"] == 0o644 and json.loads(seen[0]["text"]) == value
    assert json.loads(path.read_text()) == value and stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(os.listdir(str(folder))) == [".settings.json.lock", "settings.json"]
    # nothing to change: nothing is judged, nothing written
    second = run({"path": str(path), "value": value, "mode": "0644", "validate": command})
    assert second.result["changed"] is False and len(judged(log)) == 1
    # check mode never runs the judge
    third = run({"path": str(path), "value": {"x": 1}, "mode": "0644", "validate": command}, check=True)
    assert third.result["changed"] is True and len(judged(log)) == 1


def test_a_refused_candidate_is_never_swapped_in_and_the_judge_is_quoted(run, tmp_path):  # noqa: F811 - the imported fixture
    path = settings_file(tmp_path, '{\n  // the old file\n  "theme": "dark"\n}\n')
    before = snapshot(path)
    command, log = judge(tmp_path)
    value = dict(VALUE, note="refuse")
    outcome = run({"path": str(path), "value": value, "keyed_lists": KEYED, "validate": command})
    assert outcome.failed
    assert "validate failed" in outcome.msg and "rc 1" in outcome.msg
    # the field path it named is shown, what it said about it is not (issue 20: validator output may carry values)
    assert "It named: customModels.0.provider." in outcome.msg and "Required" not in outcome.msg and "left as it was" in outcome.msg
    assert snapshot(path) == before
    assert sorted(os.listdir(str(path.parent))) == [".settings.json.lock", "settings.json"]  # no temp file left
    assert len(judged(log)) == 1 and "refuse" in judged(log)[0]["text"] and "// the old file" in judged(log)[0]["text"]
    assert_no_canary(outcome)


def test_validate_must_name_the_candidate(run, tmp_path):  # noqa: F811 - the imported fixture
    path = settings_file(tmp_path, "{}\n")
    before = snapshot(path)
    outcome = run({"path": str(path), "value": {"a": 1}, "validate": "/bin/true"})
    assert outcome.failed and "validate must contain %s" in outcome.msg
    assert snapshot(path) == before
