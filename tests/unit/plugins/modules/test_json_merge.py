# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the json_merge module: the whole run in-process, with Ansible's syslog call captured."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import pwd
import stat
import subprocess
import sys
import threading
import time

import pytest
from ansible.module_utils import basic

try:
    from ansible.module_utils import _internal as ansible_internal
except ImportError:  # ansible-core before 2.19
    ansible_internal = None
from ansible.module_utils.common import warnings as ansible_warnings

from ansible_collections.llmcloud.factory_droid.plugins.module_utils import _merge_pipeline as pipeline
from ansible_collections.llmcloud.factory_droid.plugins.modules import json_merge

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19

    @contextlib.contextmanager
    def patch_module_args(args):
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved


CANARY = "llmc-canary-unit-5f1e2d3c4b5a69788796a5b4"
OLD_KEY = "sk-user-own-old-key-0123456789"
URL = "https://llmcloud.studio"
KEYED = {"/customModels": ["model", "baseUrl"]}
PRUNE = {"/customModels": {"baseUrl": r"^https://llmcloud\.studio(/v1)?$"}}
VALUE = {
    "customModels": [{"model": "anthropic/claude-sonnet-4.6", "displayName": "Claude Sonnet 4.6", "provider": "anthropic", "baseUrl": URL, "apiKey": CANARY}]
}


class Outcome(object):
    def __init__(self, result, logged, stdout):
        self.result = result
        self.logged = logged
        self.stdout = stdout

    @property
    def failed(self):
        return bool(self.result.get("failed"))

    @property
    def msg(self):
        return self.result.get("msg", "")


@pytest.fixture
def run(monkeypatch, capsys):
    """run(args, check=False, diff=False) -> Outcome; syslog messages of the run are in .logged."""
    logged = []
    monkeypatch.setattr(basic, "has_journal", False)
    if hasattr(ansible_internal, "is_controller"):
        # once controller code is imported (other tests do), ansible-core routes module warnings to its
        # Display; a module on a target never runs that way
        monkeypatch.setattr(ansible_internal, "is_controller", False)
    monkeypatch.setattr(basic, "HAS_SYSLOG", True)
    monkeypatch.setattr(basic.syslog, "openlog", lambda *args, **kwargs: None)
    monkeypatch.setattr(basic.syslog, "syslog", lambda *args: logged.append(args[-1]))

    def _run(args, check=False, diff=False):
        del logged[:]
        # warnings live in a module-global of ansible-core: each run starts without the last run's
        for name in ("_global_warnings", "_global_deprecations"):
            if isinstance(getattr(ansible_warnings, name, None), (dict, list)):
                getattr(ansible_warnings, name).clear()
        full = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
        with patch_module_args(full):
            with pytest.raises(SystemExit):
                json_merge.main()
        out = capsys.readouterr().out
        return Outcome(json.loads(out), list(logged), out)

    return _run


def settings_file(tmp_path, text, mode=0o600):
    folder = tmp_path / ".factory"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / "settings.json"
    path.write_text(text)
    os.chmod(str(path), mode)
    os.utime(str(path), ns=(10**9, 10**9))
    return path


def snapshot(path):
    info = os.lstat(str(path))
    return path.read_bytes(), stat.S_IMODE(info.st_mode), info.st_uid, info.st_mtime_ns, info.st_ino


def mode(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


def warnings(result):
    """Warning texts: plain strings before ansible-core 2.19, WarningSummary objects (raw module output) since."""
    texts = []
    for item in result.get("warnings", []):
        texts.append(item["event"]["msg"] if isinstance(item, dict) else item)
    return texts


def assert_no_canary(outcome):
    assert CANARY not in outcome.stdout
    assert not any(CANARY in line for line in outcome.logged)


# ---------------------------------------------------------------- create, check, rerun
def test_new_file_and_folders_are_private(run, tmp_path):
    path = tmp_path / "home" / ".factory" / "settings.json"
    (tmp_path / "home").mkdir(mode=0o755)
    old_umask = os.umask(0)
    try:
        out = run({"path": str(path), "value": VALUE, "keyed_lists": KEYED})
    finally:
        os.umask(old_umask)
    assert out.result["changed"] is True and not out.failed, out.result
    assert json.loads(path.read_text()) == VALUE
    assert path.read_text().startswith('{\n  "customModels": [\n    {\n      "model"')
    assert mode(path) == 0o600 and mode(path.parent) == 0o700 and mode(tmp_path / "home") == 0o755
    assert sorted(os.listdir(str(path.parent))) == [".settings.json.lock", "settings.json"]
    assert mode(path.parent / ".settings.json.lock") == 0o600
    assert out.result["operations"] == [{"op": "add", "path": "/customModels"}]
    assert_no_canary(out)


def test_check_then_real_then_rerun(run, tmp_path):
    original = '{\n  // my settings\n  "theme": "dark"\n}\n'
    path = settings_file(tmp_path, original)
    before = snapshot(path)
    args = {"path": str(path), "value": VALUE, "keyed_lists": KEYED}
    checked = run(args, check=True, diff=True)
    assert checked.result["changed"] is True
    assert snapshot(path) == before and os.listdir(str(path.parent)) == ["settings.json"]
    real = run(args, diff=True)
    assert real.result["changed"] is True
    assert real.result["diff"] == checked.result["diff"]
    text = path.read_text()
    assert text.startswith('{\n  // my settings\n  "theme": "dark",\n  "customModels": [\n')
    assert json.loads(text.replace("// my settings", "")) == dict(VALUE, theme="dark")
    written = snapshot(path)
    again = run(args, diff=True)
    assert again.result["changed"] is False and again.result["operations"] == []
    assert "diff" not in again.result
    assert snapshot(path) == written, "an unchanged run must not write (mtime, inode)"
    for outcome in (checked, real, again):
        assert_no_canary(outcome)


def test_jsonc_file_changes_only_in_the_changed_spans(run, tmp_path):
    original = (
        '{\n    /* user block */\n    "customModels": [\n        {"model": "mine", "baseUrl": "https://x.invalid"},'
        ' // mine\n        {"model": "anthropic/claude-sonnet-4.6", "baseUrl": "https://llmcloud.studio",'
        ' "apiKey": "old-key-value", "id": "custom:S-0", "index": 1}\n    ],\n    "theme": "dark" // end\n}'
    )
    path = settings_file(tmp_path, original)
    out = run({"path": str(path), "value": VALUE, "keyed_lists": KEYED})
    assert out.result["operations"] == [
        {"op": "add", "path": "/customModels/1/displayName"},
        {"op": "add", "path": "/customModels/1/provider"},
        {"op": "replace", "path": "/customModels/1/apiKey"},
    ]
    expected = original.replace('"old-key-value"', '"%s"' % CANARY).replace(
        '"index": 1}', '"index": 1, "displayName": "Claude Sonnet 4.6", "provider": "anthropic"}'
    )
    assert path.read_text() == expected


# ---------------------------------------------------------------- secrets
def test_diff_invocation_and_log_never_show_a_key(run, tmp_path):
    path = settings_file(
        tmp_path, json.dumps({"customModels": [{"model": "own", "baseUrl": "https://x.invalid", "apiKey": OLD_KEY}], "token": "top-level-token-123"}, indent=2)
    )
    out = run({"path": str(path), "value": VALUE, "keyed_lists": KEYED}, diff=True)
    diff = out.result["diff"]
    for text in (diff["before"], diff["after"]):
        assert OLD_KEY not in text and "top-level-token-123" not in text and '"apiKey": "********"' in text
    assert '"provider": "anthropic"' in diff["after"] and '"baseUrl": "https://llmcloud.studio"' in diff["after"]
    args = out.result["invocation"]["module_args"]
    assert args["value"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"  # no_log: hidden whole, whatever the names
    assert OLD_KEY not in out.stdout
    assert_no_canary(out)
    invoked = [line for line in out.logged if line.startswith("Invoked with")]
    assert invoked and "value=NOT_LOGGING_PARAMETER" in invoked[0], out.logged
    assert "keyed_lists=" in invoked[0]


def test_secret_elsewhere_in_value_and_in_errors_is_masked(run, tmp_path, monkeypatch):
    value = {"customModels": VALUE["customModels"], "notes": {"copy": "prefix %s suffix" % CANARY}}
    path = settings_file(tmp_path, "{}")
    out = run({"path": str(path), "value": value}, diff=True)
    assert "prefix ******** suffix" in out.result["diff"]["after"]
    assert_no_canary(out)

    def explode(*args, **kwargs):
        raise RuntimeError("boom with %s inside" % CANARY)

    monkeypatch.setattr(pipeline, "merge", explode)
    failed = run({"path": str(path), "value": value}, diff=True)
    assert failed.failed and "unexpected error: RuntimeError: boom with ******** inside" in failed.msg
    assert_no_canary(failed)


def test_redact_can_name_more_keys(run, tmp_path):
    path = settings_file(tmp_path, "{}")
    out = run({"path": str(path), "value": {"extraHeaders": {"x-api-key": "custom-header-secret"}}, "redact": ["x-api-key"]}, diff=True)
    assert "custom-header-secret" not in out.stdout
    assert '"x-api-key": "********"' in out.result["diff"]["after"]


# ---------------------------------------------------------------- bad input, untouched file
@pytest.mark.parametrize(
    "text,words",
    [
        ('{\n  "a": 1,\n}\n', ["line 2, column 9", "trailing comma"]),
        ('{\n  "a": 1 /* open\n}\n', ["line 2, column 10", "unclosed comment"]),
        ("[1]", ["must be an object"]),
    ],
)
def test_unreadable_file_fails_with_position_and_is_left_untouched(run, tmp_path, text, words):
    path = settings_file(tmp_path, text)
    before = snapshot(path)
    out = run({"path": str(path), "value": VALUE, "keyed_lists": KEYED})
    assert out.failed and out.result["changed"] is False
    for word in words:
        assert word in out.msg
    assert str(path) in out.msg and "left untouched" in out.msg
    assert snapshot(path) == before
    assert sorted(os.listdir(str(path.parent))) == [".settings.json.lock", "settings.json"]
    assert_no_canary(out)


def test_bom_and_invalid_utf8(run, tmp_path):
    path = settings_file(tmp_path, "")
    path.write_bytes(b"\xef\xbb\xbf{}")
    out = run({"path": str(path), "value": VALUE})
    assert out.failed and "byte order mark" in out.msg
    path.write_bytes(b'{"a": 1, \xe9}')
    out = run({"path": str(path), "value": VALUE})
    assert out.failed and "not UTF-8 (0xe9)" in out.msg and "line 1, column 10" in out.msg


@pytest.mark.parametrize(
    "data",
    [
        b'{\n  // pager \xf0\x9f\x93\x9f emoji: \\ud83d\n  "theme": "dark"\n}\n',  # issue 12: a comment is not JSON
        b'{"a": "\\ud83d", "b": "\\ude00", "c": "\\ud83d\\ude00"}',  # droid 0.225.2 loads lone halves
        b'{"customModels": [], "theme": "dark", "customModels": []}',  # droid: the last one wins
        b'{\n  // caf\xe9\n  "theme": "caf\xe9"\n}\n',  # droid loads bytes that are not UTF-8
    ],
)
def test_files_droid_loads_are_merged_and_the_rest_is_kept_byte_for_byte(run, tmp_path, data):
    """tests/differential compares these verdicts with the real client; here: the module end to end."""
    path = settings_file(tmp_path, "")
    path.write_bytes(data)
    out = run({"path": str(path), "value": VALUE, "keyed_lists": KEYED})
    assert not out.failed and out.result["changed"] is True, out.msg
    written = path.read_bytes()
    kept = data[: data.rindex(b'"customModels": [') + 17] if b"customModels" in data else data[: data.rindex(b'"') + 1]
    assert written.startswith(kept) and written.endswith(data[len(data.rstrip(b"\n}")) :])
    assert CANARY.encode() in written
    again = run({"path": str(path), "value": VALUE, "keyed_lists": KEYED})
    assert not again.failed and again.result["changed"] is False


@pytest.mark.parametrize(
    "args,words",
    [
        ({"value": {"customModels": [{"model": "x", "apiKey": CANARY}]}, "keyed_lists": KEYED}, ["baseUrl", "value/customModels/0"]),
        ({"value": VALUE, "keyed_lists": {"customModels": ["model"]}}, ["JSON pointer"]),
        ({"value": VALUE, "keyed_lists": KEYED, "prune": {"/customModels": {"baseUrl": "(x"}}}, ["regular expression"]),
        ({"value": VALUE, "indent": "wide"}, ["indent must be auto, tab or a number"]),
        ({"value": VALUE, "indent": "-2"}, ["indent"]),
        ({"value": VALUE, "lock_timeout": -1}, ["lock_timeout must be 0 or more"]),
        ({"value": VALUE, "max_size": 0}, ["max_size"]),
        ({"value": VALUE, "state": "merged"}, ["state"]),
        ({"value": "not a document"}, ["value"]),
        ({"value": VALUE, "mode": "abc"}, ["mode abc is neither an octal mode", "nothing was changed"]),
        ({"value": VALUE, "mode": "0999"}, ["mode 0999"]),
        ({"value": VALUE, "attributes": "+q"}, ["attributes +q: q is not a file attribute", "nothing was changed"]),
        ({"value": VALUE, "only_if_keys": ["/a", "b"]}, ["only_if_keys", '"b" is not a JSON pointer']),
        ({"value": VALUE, "user": " "}, ["user must not be empty"]),
    ],
)
def test_bad_arguments(run, tmp_path, args, words):
    path = settings_file(tmp_path, '{"a": 1}')
    before = snapshot(path)
    out = run(dict(args, path=str(path)))
    assert out.failed
    if "value" in args and isinstance(args["value"], dict) and "state" not in args:
        assert out.result["changed"] is False, out.result  # the result says nothing was written
    for word in words:
        assert word in out.msg
    assert snapshot(path) == before
    assert CANARY not in out.stdout


def test_path_problems(run, tmp_path):
    out = run({"path": "", "value": VALUE})
    assert out.failed and "path must not be empty" in out.msg
    folder = tmp_path / "settings.json"
    folder.mkdir()
    out = run({"path": str(folder), "value": VALUE})
    assert out.failed and "is a folder" in out.msg and os.listdir(str(folder)) == []
    blocker = tmp_path / ".factory"
    blocker.write_text("a file")
    out = run({"path": str(blocker / "settings.json"), "value": VALUE})
    assert out.failed and ".factory" in out.msg and "not a folder" in out.msg
    missing = tmp_path / "nope" / "settings.json"
    out = run({"path": str(missing), "value": VALUE, "create": False})
    assert out.failed and "create is false" in out.msg and not missing.parent.exists()
    (tmp_path / "nope").mkdir()
    out = run({"path": str(missing), "value": VALUE, "create": False})
    assert out.failed and "does not exist and create is false" in out.msg
    out = run({"path": str(missing), "value": VALUE, "state": "absent"})
    assert not out.failed and out.result["changed"] is False and not missing.exists()


def test_max_size(run, tmp_path):
    path = settings_file(tmp_path, json.dumps({"pad": "x" * 5000}))
    before = snapshot(path)
    out = run({"path": str(path), "value": VALUE, "max_size": 4096})
    assert out.failed and "MiB" in out.msg and "max_size" in out.msg
    assert snapshot(path) == before


# ---------------------------------------------------------------- file attributes
def test_existing_mode_is_kept_and_loose_files_are_reported(run, tmp_path):
    path = settings_file(tmp_path, '{"apiKey": "%s"}' % OLD_KEY, mode=0o640)
    out = run({"path": str(path), "value": {"theme": "dark"}})
    assert out.result["changed"] is True and mode(path) == 0o640
    assert any("readable by group or others (mode 0640)" in w for w in warnings(out.result))
    out = run({"path": str(path), "value": {"theme": "dark"}, "mode": "0600"})
    assert out.result["changed"] is True and mode(path) == 0o600
    assert any("Tightened the mode" in w and "0640 to 0600" in w for w in warnings(out.result))
    out = run({"path": str(path), "value": {"theme": "dark"}, "mode": "0600"})
    assert out.result["changed"] is False and not out.result.get("warnings")


def test_check_mode_reports_a_mode_change_without_making_it(run, tmp_path):
    path = settings_file(tmp_path, '{"theme": "dark"}', mode=0o644)
    out = run({"path": str(path), "value": {"theme": "dark"}, "mode": "0600"}, check=True)
    assert out.result["changed"] is True and mode(path) == 0o644
    assert any("Would tighten" in w for w in warnings(out.result))


def test_backup_is_private_when_the_file_holds_secrets(run, tmp_path):
    original = '{"customModels": [{"model": "x", "baseUrl": "y", "apiKey": "%s"}]}' % OLD_KEY
    path = settings_file(tmp_path, original, mode=0o644)
    out = run({"path": str(path), "value": VALUE, "keyed_lists": KEYED, "backup": True, "mode": "0600"})
    backup = out.result["backup_file"]
    assert os.path.dirname(backup) == str(path.parent) and backup.endswith("~")
    with open(backup) as handle:
        assert handle.read() == original
    assert mode(backup) == 0o600 and mode(path) == 0o600
    assert os.stat(backup).st_mtime_ns == 10**9
    (tmp_path / "b").mkdir()
    path2 = settings_file(tmp_path / "b", '{"theme": "dark"}', mode=0o644)
    out = run({"path": str(path2), "value": {"theme": "light"}, "backup": True})
    assert mode(out.result["backup_file"]) == 0o644
    out = run({"path": str(path2), "value": {"theme": "light"}, "backup": True})
    assert "backup_file" not in out.result


def test_symlink_is_followed_and_stays_a_link(run, tmp_path):
    real_dir = tmp_path / "dotfiles"
    real_dir.mkdir()
    target = real_dir / "settings.json"
    target.write_text('{\n  "theme": "dark"\n}\n')
    os.chmod(str(target), 0o600)
    link = tmp_path / "settings.json"
    os.symlink(os.path.join("dotfiles", "settings.json"), str(link))
    out = run({"path": str(link), "value": {"theme": "light"}})
    assert out.result["changed"] is True and out.result["state"] == "link"
    assert os.path.islink(str(link)) and os.readlink(str(link)) == os.path.join("dotfiles", "settings.json")
    assert target.read_text() == '{\n  "theme": "light"\n}\n'
    # issue 12: the lock stays beside the link, the dotfiles folder gets only the modified file
    assert os.listdir(str(real_dir)) == ["settings.json"]
    assert ".settings.json.lock" in os.listdir(str(tmp_path))
    dangling = tmp_path / "dangling.json"
    os.symlink(str(real_dir / "new" / "created.json"), str(dangling))
    out = run({"path": str(dangling), "value": {"a": 1}})
    assert out.failed and out.result["changed"] is False and os.path.islink(str(dangling))
    assert str(real_dir / "new" / "created.json") in out.msg and "does not exist" in out.msg
    assert not (real_dir / "new").exists()


@pytest.fixture
def open_tmp():
    """A folder under /tmp that every user can traverse: as root with owner given, the module works as
    the owner, who cannot enter pytest's root-only tmp_path."""
    import shutil
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="jm-unit-", dir="/tmp"))
    os.chmod(str(folder), 0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(str(folder), ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_owner_and_group_of_new_files_and_folders(run, open_tmp):
    nobody = pwd.getpwnam("nobody")
    home = open_tmp / "home"
    home.mkdir()
    path = home / ".factory" / "settings.json"
    out = run({"path": str(path), "value": VALUE, "owner": "nobody", "group": str(nobody.pw_gid)})
    # as root for nobody, the module works as nobody: no folder in root's folder (issue 17)
    assert out.failed and out.result["changed"] is False and "works as nobody" in out.msg, out.msg
    assert os.listdir(str(home)) == []
    os.chown(str(home), nobody.pw_uid, nobody.pw_gid)  # nobody's own home
    out = run({"path": str(path), "value": VALUE, "owner": "nobody", "group": str(nobody.pw_gid)})
    assert out.result["changed"] is True
    for created in (path, path.parent):
        info = os.lstat(str(created))
        assert (info.st_uid, info.st_gid) == (nobody.pw_uid, nobody.pw_gid)
    assert os.lstat(str(path.parent / ".settings.json.lock")).st_uid == nobody.pw_uid
    out = run({"path": str(path), "value": {"theme": "x"}, "owner": "nobody"})
    assert out.result["changed"] is True and os.lstat(str(path)).st_uid == nobody.pw_uid


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_writing_for_a_user_refuses_links_into_root_territory(run, tmp_path, open_tmp):
    nobody = pwd.getpwnam("nobody")
    home = open_tmp / "home"
    (home / ".factory").mkdir(parents=True)
    for folder in (home, home / ".factory"):
        os.chown(str(folder), nobody.pw_uid, nobody.pw_gid)
    victim = tmp_path / "root-only" / "daemon.json"
    victim.parent.mkdir(mode=0o700)
    victim.write_text('{"root": true}')
    os.symlink(str(victim), str(home / ".factory" / "settings.json"))  # planted by the user
    out = run({"path": str(home / ".factory" / "settings.json"), "value": VALUE, "owner": "nobody"})
    # the module works as nobody (issue 17), who cannot reach root's file through the link
    assert out.failed and str(victim) in out.msg and "nobody cannot reach" in out.msg, out.msg
    assert victim.read_text() == '{"root": true}' and os.listdir(str(victim.parent)) == ["daemon.json"]
    os.unlink(str(home / ".factory" / "settings.json"))
    (home / ".factory" / "settings.json").write_text("{}")  # left by `sudo droid`: root's
    out = run({"path": str(home / ".factory" / "settings.json"), "value": VALUE, "owner": "nobody"})
    assert out.failed and "is owned by root (uid 0), not by nobody" in out.msg and "chown nobody" in out.msg


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_file_owned_by_another_user_is_refused(run, tmp_path):
    nobody = pwd.getpwnam("nobody")
    path = settings_file(tmp_path, '{"theme": "dark"}')
    os.chown(str(path), nobody.pw_uid, nobody.pw_gid)
    before = snapshot(path)
    out = run({"path": str(path), "value": VALUE, "owner": "root"})
    assert out.failed and "owned by nobody" in out.msg
    assert snapshot(path) == before
    out = run({"path": str(path), "value": {"theme": "light"}})  # root without owner: kept as is
    assert out.result["changed"] is True and os.lstat(str(path)).st_uid == nobody.pw_uid


# ---------------------------------------------------------------- lock and write failures
def test_lock_timeout_is_a_clear_failure(run, tmp_path):
    path = settings_file(tmp_path, '{"a": 1}')
    run({"path": str(path), "value": {"a": 1}})  # creates the lock file
    before = snapshot(path)
    fd = os.open(str(path.parent / ".settings.json.lock"), os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        started = time.monotonic()
        out = run({"path": str(path), "value": {"b": 2}, "lock_timeout": 0.5})
        waited = time.monotonic() - started
    finally:
        os.close(fd)
    assert out.failed and "lock_timeout=0.5 seconds" in out.msg and "Nothing was changed" in out.msg
    assert waited >= 0.5 and snapshot(path) == before


def test_waiting_for_the_lock_then_proceeding(run, tmp_path):
    path = settings_file(tmp_path, '{"a": 1}')
    run({"path": str(path), "value": {"a": 1}})
    fd = os.open(str(path.parent / ".settings.json.lock"), os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    timer = threading.Timer(0.4, os.close, args=(fd,))
    timer.start()
    try:
        out = run({"path": str(path), "value": {"b": 2}, "lock_timeout": 10})
    finally:
        timer.join()
    assert out.result["changed"] is True and json.loads(path.read_text()) == {"a": 1, "b": 2}


def test_planted_symlink_at_the_lock_is_not_followed(run, tmp_path):
    path = settings_file(tmp_path, '{"a": 1}')
    victim = tmp_path / "victim"
    victim.write_text("precious")
    os.symlink(str(victim), str(path.parent / ".settings.json.lock"))
    out = run({"path": str(path), "value": {"b": 2}})
    assert out.failed and "symlink" in out.msg and victim.read_text() == "precious"


def test_failed_rename_leaves_the_original_and_no_temp(run, tmp_path, monkeypatch):
    path = settings_file(tmp_path, '{"a": 1}')
    before = snapshot(path)

    def refuse(src, dst, **kwargs):
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(os, "rename", refuse)
    out = run({"path": str(path), "value": VALUE, "backup": True})
    assert out.failed and "EXDEV" in out.msg and "cross-device" in out.msg
    assert snapshot(path) == before
    leftovers = [n for n in os.listdir(str(path.parent)) if n.endswith(".tmp")]
    assert leftovers == []
    assert_no_canary(out)


def test_stale_temp_files_of_killed_runs_are_removed(run, tmp_path):
    path = settings_file(tmp_path, '{"a": 1}')
    stale = path.parent / ".settings.json.0123456789ab.tmp"
    stale.write_text('{"apiKey": "left by a killed run"}')
    other = path.parent / ".settings.json.not-ours.tmp"
    other.write_text("user file")
    out = run({"path": str(path), "value": {"b": 2}})
    assert out.result["changed"] is True and not stale.exists() and other.exists()


# ---------------------------------------------------------------- state, prune, indent, empty files
def test_absent_and_prune_through_the_module(run, tmp_path):
    path = settings_file(
        tmp_path, json.dumps({"customModels": [{"model": "old", "baseUrl": URL}, {"model": "mine", "baseUrl": "https://x.invalid"}], "theme": "dark"}, indent=2)
    )
    out = run({"path": str(path), "value": VALUE, "keyed_lists": KEYED, "prune": PRUNE})
    models = [m["model"] for m in json.loads(path.read_text())["customModels"]]
    assert models == ["mine", "anthropic/claude-sonnet-4.6"]
    assert out.result["operations"] == [{"op": "remove", "path": "/customModels/0"}, {"op": "add", "path": "/customModels/1"}]
    out = run(
        {
            "path": str(path),
            "state": "absent",
            "value": {"theme": None, "customModels": [{"model": "anthropic/claude-sonnet-4.6", "baseUrl": URL}]},
            "keyed_lists": KEYED,
        }
    )
    assert json.loads(path.read_text()) == {"customModels": [{"model": "mine", "baseUrl": "https://x.invalid"}]}
    assert out.result["operations"] == [{"op": "remove", "path": "/theme"}, {"op": "remove", "path": "/customModels/1"}]


def test_indent_option_and_empty_file(run, tmp_path):
    path = tmp_path / "a.json"
    run({"path": str(path), "value": {"a": {"b": 1}}, "indent": "4"})
    assert path.read_text() == '{\n    "a": {\n        "b": 1\n    }\n}\n'
    path.write_text("")
    out = run({"path": str(path), "value": {"a": 1}, "indent": "tab"})
    assert out.result["changed"] is True and path.read_text() == '{\n\t"a": 1\n}\n'
    path.write_text("\n")
    out = run({"path": str(path), "value": {"a": 1}, "state": "absent"})
    assert out.result["changed"] is False and path.read_text() == "\n"


# ---------------------------------------------------------------- as Ansible runs it
def test_runs_as_a_separate_process(tmp_path):
    path = tmp_path / "settings.json"
    collections = os.path.abspath(os.path.join(os.path.dirname(json_merge.__file__), "..", "..", "..", "..", ".."))
    payload = json.dumps({"ANSIBLE_MODULE_ARGS": {"path": str(path), "value": VALUE, "keyed_lists": KEYED, "_ansible_diff": True}})
    env = dict(os.environ, PYTHONPATH=collections + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-m", json_merge.__name__], input=payload.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["changed"] is True and json.loads(path.read_text()) == VALUE
    assert CANARY.encode() not in proc.stdout + proc.stderr


# ---------------------------------------------------------------- docs and spec agree
def test_documented_options_are_the_accepted_options_and_windows_is_a_platform():
    import yaml

    docs = yaml.safe_load(json_merge.DOCUMENTATION)
    spec = pipeline.argument_spec()
    assert sorted(docs["options"]) == sorted(spec)
    assert "unsafe_writes" not in spec and "unsafe_writes" not in docs["options"]
    assert sorted(docs["attributes"]["platform"]["platforms"]) == ["posix", "windows"]
    assert "ansible.windows" in " ".join(docs["attributes"]["platform"]["details"])


def test_unsafe_writes_is_refused_not_ignored(run, tmp_path):
    path = settings_file(tmp_path, '{"a": 1}')
    before = snapshot(path)
    out = run({"path": str(path), "value": {"b": 2}, "unsafe_writes": True})
    assert out.failed and "unsafe_writes" in out.msg and "Unsupported parameters" in out.msg
    assert snapshot(path) == before


# ---------------------------------------------------------------- only_if_keys
def test_only_if_keys_leaves_a_missing_file_and_its_folder_alone(run, tmp_path):
    path = tmp_path / "home" / ".factory" / "settings.local.json"
    (tmp_path / "home").mkdir()
    for check in (True, False):
        out = run({"path": str(path), "value": VALUE, "keyed_lists": KEYED, "only_if_keys": ["/customModels"]}, check=check, diff=True)
        assert not out.failed and out.result["changed"] is False and out.result["applied"] is False, out.result
        assert out.result["operations"] == [] and "diff" not in out.result
    assert os.listdir(str(tmp_path / "home")) == []


def test_only_if_keys_merges_only_when_every_key_is_there(run, tmp_path):
    path = settings_file(tmp_path, '{\n  // local\n  "theme": "dark"\n}\n')
    before = snapshot(path)
    args = {"path": str(path), "value": VALUE, "keyed_lists": KEYED, "only_if_keys": ["/customModels", "/theme"]}
    out = run(args)
    assert out.result["changed"] is False and out.result["applied"] is False and snapshot(path) == before
    path.write_text('{\n  // local\n  "theme": "dark",\n  "customModels": []\n}\n')
    out = run(args)
    assert out.result["changed"] is True and out.result["applied"] is True
    assert json.loads(path.read_text().replace("// local", ""))["customModels"] == VALUE["customModels"]
    plain = run({"path": str(path), "value": {"theme": "light"}})
    assert plain.result["applied"] is True and plain.result["changed"] is True


def test_only_if_keys_must_be_pointers(run, tmp_path):
    path = settings_file(tmp_path, '{"customModels": []}')
    before = snapshot(path)
    out = run({"path": str(path), "value": VALUE, "only_if_keys": ["customModels"]})
    assert out.failed and "only_if_keys" in out.msg and "JSON pointer" in out.msg and snapshot(path) == before


# ---------------------------------------------------------------- user and path expansion
def test_user_tilde_is_that_users_home_from_pwd(run, tmp_path, monkeypatch):
    me = pwd.getpwuid(os.geteuid())
    entry = pwd.struct_passwd((me.pw_name, me.pw_passwd, me.pw_uid, me.pw_gid, me.pw_gecos, str(tmp_path / "home"), me.pw_shell))
    (tmp_path / "home").mkdir()
    real = pwd.getpwnam
    monkeypatch.setattr(pwd, "getpwnam", lambda name: entry if name == me.pw_name else real(name))
    monkeypatch.setenv("HOME", str(tmp_path / "elsewhere"))
    out = run({"path": "~/.factory/settings.json", "user": me.pw_name, "value": {"a": 1}})
    assert out.result["changed"] is True and out.result["path"] == str(tmp_path / "home" / ".factory" / "settings.json")
    assert json.loads((tmp_path / "home" / ".factory" / "settings.json").read_text()) == {"a": 1}
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize(
    "path,words",
    [
        ("~byok-no-such-user-x/.factory/settings.json", ["user byok-no-such-user-x does not exist", "passwd"]),
        (".factory/settings.json", ["is not absolute"]),
        ("settings.json", ["is not absolute"]),
    ],
)
def test_unknown_tilde_user_and_relative_paths_are_refused(run, tmp_path, monkeypatch, path, words):
    monkeypatch.chdir(str(tmp_path))
    out = run({"path": path, "value": VALUE})
    assert out.failed and out.result["changed"] is False
    for word in words:
        assert word in out.msg
    assert os.listdir(str(tmp_path)) == []
    assert_no_canary(out)


def test_unknown_user_is_a_clear_failure(run, tmp_path):
    out = run({"path": "~/.factory/settings.json", "user": "byok-no-such-user-y", "value": VALUE})
    assert out.failed and "user byok-no-such-user-y does not exist on this host" in out.msg
    assert "byok_users[].name" in out.msg


@pytest.mark.skipif(os.geteuid() == 0, reason="as root, user writes for anyone")
def test_not_root_cannot_write_for_another_user(run, tmp_path):
    out = run({"path": str(tmp_path / "x.json"), "user": "root", "value": {"a": 1}})
    assert out.failed and "become" in out.msg and not (tmp_path / "x.json").exists()


# ---------------------------------------------------------------- issue 17: a writer that takes no lock
def _lockless_writer(monkeypatch, path, times):
    """Every time the module has its temp file durable, 'droid' renames a new version in (no lock)."""
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils import _file_write

    real_fsync = _file_write._fsync
    saves = []

    def fsync_then_droid_saves(fd):
        real_fsync(fd)
        if len(saves) < times:
            saves.append(len(saves) + 1)
            new = path.parent / "droid-save.tmp"
            new.write_text(json.dumps({"a": 1, "droidSaves": len(saves)}))
            os.rename(str(new), str(path))

    monkeypatch.setattr(_file_write, "_fsync", fsync_then_droid_saves)
    return saves


def test_a_lockless_save_during_the_merge_is_merged_again_not_dropped(run, tmp_path, monkeypatch):
    path = settings_file(tmp_path, '{"a": 1}')
    saves = _lockless_writer(monkeypatch, path, 1)
    out = run({"path": str(path), "value": {"b": 2}, "backup": True})
    assert out.result["changed"] is True and saves == [1], out.result
    assert json.loads(path.read_text()) == {"a": 1, "droidSaves": 1, "b": 2}
    with open(out.result["backup_file"]) as handle:  # the backup is of the version replaced
        assert json.loads(handle.read()) == {"a": 1, "droidSaves": 1}
    assert [n for n in os.listdir(str(path.parent)) if n.endswith(".tmp")] == []


def test_a_file_that_keeps_changing_fails_and_keeps_the_other_writers_version(run, tmp_path, monkeypatch):
    path = settings_file(tmp_path, '{"a": 1}')
    _lockless_writer(monkeypatch, path, 10)
    out = run({"path": str(path), "value": {"b": 2}})
    assert out.failed and out.result["changed"] is False
    assert "changed on disk while the merge ran, 3 times in a row" in out.msg and "run the task again" in out.msg
    assert json.loads(path.read_text()) == {"a": 1, "droidSaves": 3}
    assert [n for n in os.listdir(str(path.parent)) if n.endswith(".tmp")] == []


def test_no_lock_is_left_for_a_file_that_does_not_exist(run, tmp_path):
    """only_if_keys on a missing file (the role's settings.local.json), and a stale lock of an earlier run."""
    path = tmp_path / "settings.local.json"
    out = run({"path": str(path), "value": VALUE, "only_if_keys": ["/customModels"]})
    assert out.result["changed"] is False and out.result["applied"] is False and not out.failed, out.result
    assert os.listdir(str(tmp_path)) == []
    (tmp_path / ".settings.local.json.lock").write_text("")
    run({"path": str(path), "value": VALUE, "only_if_keys": ["/customModels"]})
    assert os.listdir(str(tmp_path)) == []
