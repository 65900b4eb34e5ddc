# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""json_merge at the privilege boundary (issue 20): every ``files`` item checked before any is
written, validator output never echoed and bounded in time, ``strict_path`` for root's system file,
``offboard`` deciding on the file it reads itself."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

import pytest

# the run fixture comes from the module's main test file, imported by its collection name (see test_json_merge_validate.py)
from ansible_collections.llmcloud.factory_droid.tests.unit.plugins.modules.test_json_merge import (  # noqa: F401 pylint: disable=unused-import
    CANARY,
    KEYED,
    URL,
    VALUE,
    assert_no_canary,
    run,
    settings_file,
    snapshot,
)


def test_every_files_item_is_checked_before_any_is_written(run, tmp_path):  # noqa: F811 - the imported fixture
    first = tmp_path / "a" / "settings.json"
    second = tmp_path / "b" / "settings.json"
    out = run(
        {
            "files": [
                {"path": str(first), "value": VALUE, "keyed_lists": KEYED},
                {"path": str(second), "value": {"l": []}, "keyed_lists": {"/l": ["id"]}, "prune": {"/l": {"id": "("}}},
            ]
        }
    )
    assert not first.exists() and not (tmp_path / "a").exists(), "item 0 was written before item 1's regex was checked"
    assert out.failed and "files[1]" in out.msg and "No file was touched" in out.msg
    # an unknown account and a relative path are found up front too
    out = run({"files": [{"path": str(first), "value": VALUE}, {"path": "~no-such-user-byok/x.json", "value": {}}, {"path": "rel.json", "value": {}}]})
    assert out.failed and "files[1]" in out.msg and "files[2]" in out.msg and not first.exists()
    assert_no_canary(out)


BASE64 = '/bin/sh -c \'base64 "$1" | tr -d "\\n"; exit 1\' v %s'


@pytest.mark.parametrize(
    "command",
    [
        BASE64,
        "/bin/sh -c 'od -c \"$1\"; exit 1' v %s",
        "/bin/sh -c 'cat \"$1\"; exit 1' v %s",
        "/bin/sh -c 'rev \"$1\" >&2; exit 3' v %s",
    ],
    ids=["base64", "od", "cat", "rev-stderr"],
)
def test_the_validators_output_is_not_echoed_in_any_encoding(run, tmp_path, command):  # noqa: F811 - the imported fixture
    path = settings_file(tmp_path, json.dumps({"theme": "dark"}))
    before = snapshot(path)
    out = run({"path": str(path), "value": VALUE, "keyed_lists": KEYED, "validate": command})
    encoded = base64.b64encode(CANARY.encode()).decode()
    for needle in (CANARY, CANARY[::-1], encoded[:16], encoded[8:24], "llmc-canary", "   l   l   m   c"):
        assert needle not in out.stdout, needle
    assert out.failed and "rc " in out.msg and "run the validator by hand" in out.msg
    assert snapshot(path) == before
    assert_no_canary(out)


def test_the_validators_field_paths_are_shown_and_its_values_not(run, tmp_path):  # noqa: F811 - the imported fixture
    path = settings_file(tmp_path, json.dumps({"maxAutonomyLevel": "bogus-value-from-the-file"}))
    doctor = {"ok": False, "results": [{"detail": "maxAutonomyLevel: Invalid enum value, received 'bogus-value-from-the-file'"}]}
    script = tmp_path / "doctor.sh"
    script.write_text("#!/bin/sh\ncat <<'EOF'\n%s\nEOF\nexit 1\n" % json.dumps(doctor, indent=2))
    script.chmod(0o755)
    out = run({"path": str(path), "value": {"theme": "dark"}, "validate": "%s %%s" % script})
    assert out.failed and "It named: maxAutonomyLevel." in out.msg
    assert "bogus-value-from-the-file" not in out.stdout and "Invalid enum" not in out.msg


def test_a_validator_that_hangs_is_killed_at_validate_timeout(run, tmp_path):  # noqa: F811 - the imported fixture
    path = settings_file(tmp_path, "{}")
    before = snapshot(path)
    marker = tmp_path / "child-survived"
    command = "/bin/sh -c '(sleep 3; touch %s) & sleep 60' v %%s" % marker
    started = time.monotonic()
    out = run({"path": str(path), "value": {"a": 1}, "validate": command, "validate_timeout": 1})
    took = time.monotonic() - started
    assert out.failed and "validate_timeout=1 seconds" in out.msg and took < 20
    assert snapshot(path) == before
    time.sleep(3.5)
    assert not marker.exists(), "the validator's children outlived the timeout"
    assert sorted(os.listdir(str(path.parent))) == [".settings.json.lock", "settings.json"]


# ---------------------------------------------------------------- strict_path
@pytest.fixture
def trusted(tmp_path):
    """A folder whose parents only root (or the test's user) can write, as strict_path demands:
    /tmp is world-writable, so under the checkout's build/ (or the home) when those qualify."""
    here = os.path.dirname(os.path.abspath(__file__))
    for base in (os.path.join(here, "..", "..", "..", "..", "build"), os.path.expanduser("~")):
        base = os.path.realpath(base)
        if os.path.isdir(base) and _trusted(base):
            folder = tempfile.mkdtemp(prefix="strict-path-", dir=base)
            os.chmod(folder, 0o755)
            yield Path(folder)
            shutil.rmtree(folder, ignore_errors=True)
            return
    pytest.skip("no folder whose parents are closed to group and others")


def _system(base):
    """A folder tree like /etc/factory: owned by the test's user, 0755."""
    folder = base / "etc" / "factory"
    folder.mkdir(parents=True)
    for part in (base / "etc", folder):
        part.chmod(0o755)
    return folder


def _trusted(path):
    current = "/"
    for part in str(path).strip("/").split("/"):
        current = os.path.join(current, part)
        info = os.lstat(current)
        if info.st_uid not in (0, os.geteuid()) or info.st_mode & 0o022 or stat.S_ISLNK(info.st_mode):
            return False
    return True


def test_strict_path_never_writes_through_a_link_nor_shows_its_target(run, trusted):  # noqa: F811 - the imported fixture
    folder = _system(trusted)
    secret = trusted / "root-secret.json"
    secret.write_text('{"rootOnly": "root-secret-value-123456"}')
    secret.chmod(0o600)
    before = snapshot(secret)
    (folder / "settings.json").symlink_to(secret)
    out = run({"path": str(folder / "settings.json"), "value": {"a": 1}, "mode": "0644", "strict_path": True}, diff=True)
    assert out.failed and "is a symlink" in out.msg and "strict_path" in out.msg
    assert snapshot(secret) == before and "root-secret-value" not in out.stdout and "rootOnly" not in out.stdout
    # without strict_path the link is followed (dotfile managers): the option is what protects root's file
    assert os.listdir(str(folder)) == ["settings.json"]


def test_strict_path_refuses_a_folder_others_can_write_before_anything_is_written(run, trusted):  # noqa: F811 - the imported fixture
    folder = _system(trusted)
    folder.chmod(0o777)
    out = run({"path": str(folder / "settings.json"), "value": {"a": 1}, "strict_path": True})
    assert out.failed and "not be writable by group or others" in out.msg and os.listdir(str(folder)) == []
    folder.chmod(0o755)
    if os.geteuid() == 0:
        os.chown(str(folder), 65534, 65534)  # a developer's folder (nobody stands in)
        out = run({"path": str(folder / "settings.json"), "value": {"a": 1}, "strict_path": True})
        assert out.failed and "owned by" in out.msg and os.listdir(str(folder)) == []
        os.chown(str(folder), 0, 0)
    fifo = folder / "settings.json"
    os.mkfifo(str(fifo))
    out = run({"path": str(fifo), "value": {"a": 1}, "strict_path": True})
    assert out.failed and "not a regular file" in out.msg
    fifo.unlink()
    good = run({"path": str(folder / "settings.json"), "value": {"a": 1}, "strict_path": True, "mode": "0644"})
    assert not good.failed and json.loads((folder / "settings.json").read_text()) == {"a": 1}


# ---------------------------------------------------------------- offboard
ENTRIES = [{"model": "anthropic/claude-sonnet-4.6", "baseUrl": URL, "id": "custom:llmcloud-anthropic-claude-sonnet-4.6"}]


def test_offboard_decides_on_the_file_it_reads(run, tmp_path):  # noqa: F811 - the imported fixture
    text = json.dumps(
        {
            "customModels": [dict(ENTRIES[0], apiKey=CANARY, provider="anthropic"), {"model": "own", "baseUrl": "https://own.example", "provider": "openai"}],
            "sessionDefaultSettings": {"model": "custom:llmcloud-anthropic-claude-sonnet-4.6"},
        }
    )
    path = settings_file(tmp_path, text)
    args = {"path": str(path), "state": "absent", "offboard": {"url": URL, "entries": ENTRIES}}
    out = run(args, diff=True)
    assert not out.failed and out.result["changed"] and out.result["remove_file"] is False, out.result
    assert json.loads(path.read_text()) == {"customModels": [{"model": "own", "baseUrl": "https://own.example", "provider": "openai"}]}
    assert run(args).result["changed"] is False
    assert_no_canary(out)
    # the developer's own default stays
    path.write_text(json.dumps({"sessionDefaultSettings": {"model": "custom:own-0"}}))
    assert run(args).result["changed"] is False
    # a FIFO is refused without waiting for a writer
    path.unlink()
    os.mkfifo(str(path))
    started = time.monotonic()
    out = run(args)
    assert out.failed and "not a regular file" in out.msg and time.monotonic() - started < 10


def test_offboard_needs_state_absent(run, tmp_path):  # noqa: F811 - the imported fixture
    out = run({"path": str(tmp_path / "s.json"), "value": {}, "offboard": {"url": URL}})
    assert out.failed and "offboard needs state: absent" in out.msg
