# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the json_merge action plugin (plugins/action/json_merge.py).

No Windows host runs here, so the remote side is a test double: ``FakeWindows`` answers the
Windows modules the plugin runs (win_stat, slurp, win_file, win_copy's query and single modes,
win_powershell with the swap script) over an in-memory file system, in place of
``ActionBase._execute_module`` / ``_transfer_file`` / ``_make_tmp_path`` / ``_remove_tmp_path``.
Everything on the controller is real: the plugin, ansible.windows' own win_copy action plugin
(which writes ``content`` to a local temp file and transfers it), the plugin loader, Task,
the powershell and sh shell plugins, and the module_utils that do the merge. The parity tests run
the real module in a subprocess on the same input and compare bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ntpath
import os
import stat
import subprocess
import sys

import pytest
from ansible import constants as C
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.plugins import loader as plugin_loaders
from ansible.plugins.action import ActionBase
from ansible.plugins.loader import init_plugin_loader, shell_loader
from ansible.utils.collection_loader import AnsibleCollectionConfig
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
from ansible.utils.hashing import checksum_s

from ansible_collections.llmcloud.factory_droid.plugins.action import json_merge as plugin
from ansible_collections.llmcloud.factory_droid.plugins.action.json_merge import ActionModule
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._json_merge import merge
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc import loads
from ansible_collections.llmcloud.factory_droid.plugins.modules import json_merge as module

KEY = "llmc-canary-action-0f1e2d3c4b5a6978"
OLD_KEY = "sk-users-own-old-key-9876543210"
URL = "https://llmcloud.studio"
PROFILE = "C:\\Users\\dev"
SETTINGS = PROFILE + "\\.factory\\settings.json"
KEYED = {"/customModels": ["model", "baseUrl"]}
PRUNE = {"/customModels": {"baseUrl": r"^https://llmcloud\.studio(/v1)?$"}}
SONNET = {"model": "anthropic/claude-sonnet-4.6", "displayName": "Claude Sonnet 4.6", "provider": "anthropic", "baseUrl": URL, "apiKey": KEY}
VALUE = {"customModels": [SONNET]}
WRITERS = ("ansible.windows.win_file", "ansible.windows.win_powershell")
USER_FILE = (
    """// my own settings
{
  "theme": "dark", // keep me
  "customModels": [
    /* a model of my own */
    {"model": "llama3", "baseUrl": "http://localhost:11434/v1", "provider": "generic-chat-completion-api",
     "apiKey": "%s"},
    {"model": "anthropic/claude-sonnet-4.6", "baseUrl": "https://llmcloud.studio", "provider": "anthropic",
     "apiKey": "old-llmcloud-key-000", "id": "custom:Claude-Sonnet-4.6-0", "index": 1},
    {"model": "google/gemini-3-pro-preview", "baseUrl": "https://llmcloud.studio/v1", "provider": "openai"}
  ]
}
"""
    % OLD_KEY
)


@pytest.fixture(scope="module", autouse=True)
def plugin_loader():
    """The real plugin loader, so that the plugin finds ansible.windows.win_copy by name.

    Removed again afterwards: in a test process it holds no metadata for this collection, and a
    module of the collection first imported later (the module imports some only when it needs
    them) must load as it does on a target, not through it.
    """
    installed = AnsibleCollectionConfig.collection_finder is None
    if installed:
        collections = os.path.abspath(os.path.join(os.path.dirname(plugin.__file__), "..", "..", "..", "..", ".."))
        init_plugin_loader([collections])
    yield
    if installed:
        _AnsibleCollectionFinder._remove()  # pylint: disable=protected-access


class FakeWindows(object):
    """An in-memory Windows host answering the modules the plugin runs; records every call."""

    def __init__(self):
        self.files = {}  # lower-case full path -> bytes
        self.dirs = set(self.key(p) for p in ("C:\\", "C:\\Users", PROFILE, PROFILE + "\\AppData\\Local\\Temp"))
        self.calls = []  # (module name, args, check mode of the task)
        self.task_flags = []  # (module name, no_log, diff) of the task each module ran for
        self.transfers = []  # (local path, its mode, remote path, bytes)
        self.after = {}  # module name -> callable run after it answered (to interfere)
        self.tmp_count = 0

    @staticmethod
    def expand(path):
        return ntpath.normpath(path.replace("%USERPROFILE%", PROFILE))

    def key(self, path):
        return self.expand(path).lower()

    def put(self, path, data):
        self.files[self.key(path)] = data.encode("utf-8") if isinstance(data, str) else data

    def get(self, path):
        return self.files.get(self.key(path))

    def names(self):
        return sorted(name for name, _args, _check in self.calls)

    def writes(self):
        return [call for call in self.calls if call[0] in WRITERS or call[1].get("_copy_mode") == "single"]

    # -- stand-ins for ActionBase methods -----------------------------------------------------
    def install(self, monkeypatch):
        host = self

        def _execute_module(
            action,
            module_name=None,
            module_args=None,
            tmp=None,
            task_vars=None,
            persist_files=False,
            delete_remote_tmp=None,
            wrap_async=False,
            ignore_unknown_opts=False,
        ):
            name = module_name or action._task.action
            args = action._task.args if module_args is None else module_args
            host.calls.append((name, dict(args), bool(action._task.check_mode)))
            host.task_flags.append((name, action._task.no_log, action._task.diff))
            answer = host.answer(name, args, bool(action._task.check_mode))
            if name in host.after:
                host.after.pop(name)(host)
            return answer

        def _transfer_file(action, local_path, remote_path):
            with open(local_path, "rb") as handle:
                data = handle.read()
            host.transfers.append((local_path, stat.S_IMODE(os.stat(local_path).st_mode), remote_path, data))
            host.put(remote_path, data)
            return remote_path

        def _make_tmp_path(action, remote_user=None):
            host.tmp_count += 1
            path = PROFILE + "\\AppData\\Local\\Temp\\ansible-tmp-%d" % host.tmp_count
            host.dirs.add(host.key(path))
            action._connection._shell.tmpdir = path
            return path

        def _remove_tmp_path(action, tmp_path, force=False):
            tmp_path = tmp_path or action._connection._shell.tmpdir
            if tmp_path:
                prefix = host.key(tmp_path) + "\\"
                for name in [name for name in host.files if name.startswith(prefix)]:
                    del host.files[name]
                host.dirs.discard(host.key(tmp_path))
            action._connection._shell.tmpdir = None

        def _low_level_execute_command(action, *args, **kwargs):
            raise AssertionError("the plugin ran a raw command: %r" % (args,))

        monkeypatch.setattr(ActionBase, "_execute_module", _execute_module)
        monkeypatch.setattr(ActionBase, "_transfer_file", _transfer_file)
        monkeypatch.setattr(ActionBase, "_make_tmp_path", _make_tmp_path)
        monkeypatch.setattr(ActionBase, "_remove_tmp_path", _remove_tmp_path)
        monkeypatch.setattr(ActionBase, "_low_level_execute_command", _low_level_execute_command)

    # -- the Windows modules ------------------------------------------------------------------
    def answer(self, name, args, check):
        short = name.rsplit(".", 1)[-1]
        handler = getattr(self, "module_" + short, None)
        if handler is None:
            raise AssertionError("unexpected module %s" % name)
        if check and (name in WRITERS or args.get("_copy_mode") == "single"):
            raise AssertionError("%s ran in check mode" % name)
        return handler(args)

    def module_win_stat(self, args):
        assert args["follow"] is True
        key = self.key(args["path"])
        if key in self.dirs:
            return {"changed": False, "stat": {"exists": True, "isdir": True, "path": self.expand(args["path"])}}
        if key not in self.files:
            return {"changed": False, "stat": {"exists": False}}
        return {
            "changed": False,
            "stat": {"exists": True, "isdir": False, "isreg": True, "islnk": False, "size": len(self.files[key]), "path": self.expand(args["path"])},
        }

    def module_slurp(self, args):
        data = self.get(args["src"])
        if data is None:
            return {"failed": True, "msg": "Path %s is not found" % args["src"]}
        return {"changed": False, "content": base64.b64encode(data).decode("ascii"), "encoding": "base64", "source": args["src"]}

    def module_win_file(self, args):
        key = self.key(args["path"])
        if args["state"] == "absent":
            existed = self.files.pop(key, None) is not None
            return {"changed": existed}
        assert args["state"] == "directory"
        if key in self.files:
            return {"failed": True, "msg": "path %s is not a directory" % args["path"]}
        changed = key not in self.dirs
        parts = self.expand(args["path"]).split("\\")
        for end in range(1, len(parts) + 1):
            self.dirs.add("\\".join(parts[:end]).lower() or "\\")
        return {"changed": changed}

    def module_win_copy(self, args):
        mode = args["_copy_mode"]
        assert "content" not in args, "the content (and the key) must not travel as a module argument"
        if mode == "query":
            wanted = []
            for item in args["files"]:
                target = self.key(ntpath.join(args["dest"].replace("/", "\\"), item["dest"]))
                if target not in self.files or checksum_s(self.files[target]) != item["checksum"]:
                    wanted.append({"src": item["src"], "dest": item["dest"]})
            return {"changed": False, "files": wanted, "directories": [], "symlinks": []}
        assert mode == "single"
        dest = self.expand(args["dest"])
        if ntpath.dirname(dest).lower() not in self.dirs:
            return {"failed": True, "msg": "Destination directory '%s' does not exist" % ntpath.dirname(dest)}
        self.put(dest, self.get(args["src"]))
        return {"changed": True, "dest": dest}

    def module_win_powershell(self, args):
        """What SWAP_SCRIPT does, step by step."""
        assert args["script"] == plugin.SWAP_SCRIPT and args["error_action"] == "stop"
        params = args["parameters"]
        assert sorted(params) == ["Backup", "Expected", "Path", "Temp"]
        path, temp = self.key(params["Path"]), self.key(params["Temp"])
        assert ntpath.dirname(path) == ntpath.dirname(temp), "the temp file must sit beside the file"
        try:
            current = hashlib.sha256(self.files[path]).hexdigest() if path in self.files else ""
            if current != params["Expected"]:
                return {
                    "changed": False,
                    "failed": True,
                    "result": {
                        "msg": "%s changed while the merge ran (another run or the droid client wrote it); it was left "
                        "as it is: run the task again" % params["Path"]
                    },
                }
            backup = None
            if current and params["Backup"]:
                backup = self.expand(params["Path"]) + ".4242.20250131-120000.bak"
                self.files[backup.lower()] = self.files[path]
            self.files[path] = self.files.pop(temp)
            return {"changed": True, "result": {"path": self.expand(params["Path"]), "backup_file": backup}}
        finally:
            self.files.pop(temp, None)


class FakeConnection(object):
    has_native_async = False
    always_pipeline_modules = True
    become = None

    def __init__(self, shell):
        self._shell = shell


@pytest.fixture
def host(monkeypatch, tmp_path):
    fake = FakeWindows()
    fake.install(monkeypatch)
    local = tmp_path / "controller-tmp"
    local.mkdir()
    monkeypatch.setattr(C, "DEFAULT_LOCAL_TMP", str(local))
    fake.local_tmp = local
    return fake


def make_action(args, shell="powershell", check=False, diff=False, no_log=False, async_val=0):
    task = Task()
    task.action = plugin.MODULE
    task.args = args
    task.check_mode = check
    task.diff = diff
    task.no_log = no_log
    task.async_val = async_val
    connection = FakeConnection(shell_loader.get(shell))
    # as TaskExecutor builds it (ansible-core 2.16 keeps the shared loader given; 2.19 always uses the module)
    return ActionModule(task, connection, PlayContext(), DataLoader(), None, plugin_loaders)


def run(args, **kwargs):
    return make_action(dict(args), **kwargs).run(task_vars={})


def text_of(result):
    return json.dumps(result, sort_keys=True)


def assert_no_key(result, *keys):
    for key in (KEY,) + keys:
        assert key not in text_of(result)


# ---------------------------------------------------------------- POSIX: pass-through
@pytest.mark.parametrize("check,diff,no_log", [(False, False, False), (True, True, True)])
def test_posix_passes_the_task_to_the_module_once_unchanged(monkeypatch, check, diff, no_log):
    calls = []
    answer = {"changed": True, "operations": [{"op": "add", "path": "/customModels"}], "path": "/home/dev/x.json"}

    def _execute_module(
        action,
        module_name=None,
        module_args=None,
        tmp=None,
        task_vars=None,
        persist_files=False,
        delete_remote_tmp=None,
        wrap_async=False,
        ignore_unknown_opts=False,
    ):
        calls.append(
            {
                "name": module_name or action._task.action,
                "args": action._task.args if module_args is None else module_args,
                "wrap_async": wrap_async,
                "check": action._task.check_mode,
                "diff": action._task.diff,
                "no_log": action._task.no_log,
            }
        )
        return dict(answer)

    def forbidden(action, *args, **kwargs):
        raise AssertionError("the POSIX path made an extra round trip")

    monkeypatch.setattr(ActionBase, "_execute_module", _execute_module)
    monkeypatch.setattr(ActionBase, "_low_level_execute_command", forbidden)
    monkeypatch.setattr(ActionBase, "_transfer_file", forbidden)
    args = {"path": "~/.factory/settings.json", "value": VALUE, "keyed_lists": KEYED, "mode": "0600"}
    action = make_action(args, shell="sh", check=check, diff=diff, no_log=no_log)
    task_args = action._task.args
    result = action.run(task_vars={})
    assert len(calls) == 1
    assert calls[0]["name"] == "llmcloud.factory_droid.json_merge"
    assert calls[0]["args"] is task_args and calls[0]["args"] == args  # the very dict, not a rewrite
    assert (calls[0]["check"], calls[0]["diff"], calls[0]["no_log"]) == (check, diff, no_log)
    assert not calls[0]["wrap_async"]
    assert result == answer  # returned as the module said


def test_posix_async_is_handed_to_ansible_as_for_any_module(monkeypatch):
    seen = []
    monkeypatch.setattr(ActionBase, "_execute_module", lambda action, **kwargs: seen.append(kwargs["wrap_async"]) or {"ansible_job_id": "j1"})
    result = make_action({"path": "/tmp/x.json", "value": {}}, shell="sh", async_val=30).run(task_vars={})
    assert seen == [True] and result["ansible_job_id"] == "j1"


def real_connection(name, shell=None):
    play_context = PlayContext()
    if shell:
        play_context.shell = shell  # what ansible_shell_type sets
    return plugin_loaders.connection_loader.get(name, play_context, None)


def test_windows_is_told_by_the_shell_family_of_real_connection_plugins():
    assert plugin.is_windows(real_connection("winrm"))
    assert plugin.is_windows(real_connection("ssh", shell="powershell"))
    assert not plugin.is_windows(real_connection("ssh"))
    assert not plugin.is_windows(real_connection("local"))
    assert not plugin.is_windows(real_connection("ssh", shell="csh"))


@pytest.mark.parametrize(
    "name,args",
    [
        ("ansible.windows.win_stat", {"path": SETTINGS, "follow": True, "get_checksum": False, "get_size": True}),
        ("ansible.windows.slurp", {"src": SETTINGS}),
        ("ansible.windows.win_file", {"path": PROFILE + "\\.factory", "state": "directory"}),
        ("ansible.windows.win_copy", {"src": "C:\\tmp\\source", "dest": SETTINGS, "_copy_mode": "single"}),
        (
            "ansible.windows.win_powershell",
            {
                "script": plugin.SWAP_SCRIPT,
                "error_action": "stop",
                "parameters": {"Path": SETTINGS, "Temp": SETTINGS + ".tmp", "Expected": "", "Backup": False},
            },
        ),
    ],
)
def test_the_windows_modules_named_resolve_to_powershell_for_a_winrm_host(name, args):
    """The names the plugin passes to _execute_module build real PowerShell payloads (no host needed)."""
    action = make_action({"path": SETTINGS, "value": VALUE})
    action._connection = real_connection("winrm")
    args = dict(args)
    action._update_module_args(name, args, {})
    configured = action._configure_module(module_name=name, module_args=args, task_vars={})
    if len(configured) == 2:  # ansible-core 2.19: (module bits, path)
        style, data, path = configured[0].module_style, configured[0].b_module_data, configured[1]
    else:  # ansible-core 2.16: (style, shebang, data, path)
        style, data, path = configured[0], configured[2], configured[3]
    assert path.endswith(".ps1") and style == "new" and data


# ---------------------------------------------------------------- Windows: read, merge, write
def test_new_file_creates_the_folder_and_writes_through_win_copy(host):
    result = run({"path": "~/.factory/settings.json", "value": VALUE, "keyed_lists": KEYED, "mode": "0600"})
    assert result["changed"] is True and not result.get("failed"), result
    assert json.loads(host.get(SETTINGS)) == VALUE
    assert host.get(SETTINGS).decode() == json.dumps(VALUE, indent=2) + "\n"
    assert result["path"] == SETTINGS
    assert result["operations"] == [{"op": "add", "path": "/customModels"}]
    assert host.key(PROFILE + "\\.factory") in host.dirs
    stat_call, folder_call = host.calls[0], host.calls[1]
    assert stat_call[0] == "ansible.windows.win_stat" and stat_call[1]["path"] == "%USERPROFILE%\\.factory\\settings.json"
    assert folder_call[:2] == ("ansible.windows.win_file", {"path": "%USERPROFILE%\\.factory", "state": "directory"})
    assert host.names() == sorted(
        ["ansible.windows.win_stat", "ansible.windows.win_file", "ansible.windows.win_copy", "ansible.windows.win_copy", "ansible.windows.win_powershell"]
    )
    # the key travelled once, as win_copy's file transfer, from a private local temp file that is gone now
    assert len(host.transfers) == 1
    local_path, local_mode, remote_path, data = host.transfers[0]
    assert KEY.encode() in data and local_mode & 0o077 == 0
    assert not os.path.exists(local_path) and os.listdir(str(host.local_tmp)) == []
    # win_copy wrote a temp file beside the settings file; the swap moved it into place
    copy_dest = [args["dest"] for name, args, _check in host.calls if args.get("_copy_mode") == "single"][0]
    assert ntpath.dirname(copy_dest) == "%USERPROFILE%\\.factory" and ntpath.basename(copy_dest).startswith(".settings.json.")
    assert sorted(host.files) == [SETTINGS.lower()]  # no temp file left anywhere
    assert [flags for flags in host.task_flags if flags[0] == "ansible.windows.win_copy"] == [
        ("ansible.windows.win_copy", True, False)
    ] * 2  # win_copy ran as a no_log task without diff
    assert_no_key(result)


def test_existing_file_is_merged_keeping_comments_and_a_rerun_writes_nothing(host):
    host.dirs.add(host.key(PROFILE + "\\.factory"))
    host.put(SETTINGS, USER_FILE)
    args = {"path": "~\\.factory\\settings.json", "value": VALUE, "keyed_lists": KEYED, "prune": PRUNE}
    first = run(args)
    assert first["changed"] is True and not first.get("failed"), first
    written = host.get(SETTINGS).decode()
    for kept in ("// my own settings", '"theme": "dark", // keep me', "/* a model of my own */", OLD_KEY, '"id": "custom:Claude-Sonnet-4.6-0"'):
        assert kept in written
    assert "gemini-3-pro-preview" not in written and "old-llmcloud-key-000" not in written and KEY in written
    assert first["operations"] == merge(loads(USER_FILE), VALUE, KEYED, PRUNE)[1]
    assert first["path"] == SETTINGS
    assert "ansible.windows.win_file" not in host.names()  # the folder was there
    assert_no_key(first, OLD_KEY, "old-llmcloud-key-000")

    host.calls[:] = []
    second = run(args)
    assert second["changed"] is False and second["operations"] == []
    assert host.names() == ["ansible.windows.slurp", "ansible.windows.win_stat"]  # read only: no write at all
    assert host.get(SETTINGS).decode() == written


def test_check_mode_writes_nothing_and_tells_the_truth(host):
    check = run({"path": "~/.factory/settings.json", "value": VALUE}, check=True, diff=True)
    assert check["changed"] is True and check["operations"] == [{"op": "add", "path": "/customModels"}]
    assert host.names() == ["ansible.windows.win_stat"] and host.transfers == [] and host.writes() == []
    assert host.get(SETTINGS) is None and host.key(PROFILE + "\\.factory") not in host.dirs
    assert check["diff"]["before"] == "" and '"apiKey": "********"' in check["diff"]["after"]
    assert_no_key(check)

    host.dirs.add(host.key(PROFILE + "\\.factory"))
    host.put(SETTINGS, USER_FILE)
    host.calls[:] = []
    check = run({"path": "~/.factory/settings.json", "value": VALUE, "keyed_lists": KEYED}, check=True)
    assert check["changed"] is True and "diff" not in check
    assert host.writes() == [] and host.transfers == [] and host.get(SETTINGS).decode() == USER_FILE


def test_diff_is_redacted_like_the_module(host):
    host.dirs.add(host.key(PROFILE + "\\.factory"))
    host.put(SETTINGS, USER_FILE.replace("/* a model of my own */", '/* "apiKey": "%s" was my old key */' % OLD_KEY))
    result = run({"path": "~/.factory/settings.json", "value": VALUE, "keyed_lists": KEYED}, diff=True)
    diff = result["diff"]
    assert diff["before_header"] == diff["after_header"] == "~/.factory/settings.json"
    assert diff["before"].count('"apiKey": "********"') == 3  # two entries and the comment
    assert diff["after"].count('"apiKey": "********"') == 3
    assert '"theme": "dark"' in diff["after"] and diff["before"] != diff["after"]
    assert_no_key(result, OLD_KEY, "old-llmcloud-key-000")
    assert result["invocation"]["module_args"]["value"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_the_key_never_appears_even_in_failures(host):
    host.dirs.add(host.key(PROFILE + "\\.factory"))
    host.put(SETTINGS, USER_FILE)

    def leaky(args):
        return {"failed": True, "changed": False, "result": {"msg": "access denied writing %s and %s" % (KEY, OLD_KEY)}}

    host.module_win_powershell = leaky
    result = run({"path": "~/.factory/settings.json", "value": VALUE, "keyed_lists": KEYED}, diff=True)
    assert result["failed"] is True and "access denied writing ******** and ********" in result["msg"]
    assert_no_key(result, OLD_KEY)
    # a secret elsewhere in value (not under a redacted key name) is masked by its value too
    result = run({"path": "~/.factory/settings.json", "value": {"customModels": [SONNET], "note": KEY + "!"}, "keyed_lists": KEYED, "owner": "dev"})
    assert result["failed"] is True and "owner" in result["msg"]
    assert_no_key(result)


@pytest.mark.parametrize(
    "text,where",
    [
        ('{\n  "a": 1,\n  "b": 2,\n}\n', "line 3, column 9"),  # trailing comma, as the droid client rejects it
        ('{\n  "a": "unterminated\n}\n', "line 2, column 8"),
        ('{"a": 1, "a": 2,}', "line 1, column 16"),  # duplicate keys read (as droid does), then a trailing comma
    ],
)
def test_corrupt_file_fails_with_line_and_column_and_nothing_is_written(host, text, where):
    host.dirs.add(host.key(PROFILE + "\\.factory"))
    host.put(SETTINGS, text)
    result = run({"path": "~/.factory/settings.json", "value": VALUE}, diff=True)
    assert result["failed"] is True and where in result["msg"] and "left untouched" in result["msg"], result["msg"]
    assert host.get(SETTINGS).decode() == text and host.writes() == [] and host.transfers == []
    assert "diff" not in result


def test_bom_fails_like_the_module(host):
    host.dirs.add(host.key(PROFILE + "\\.factory"))
    host.put(SETTINGS, b"\xef\xbb\xbf{}")
    result = run({"path": "~/.factory/settings.json", "value": VALUE})
    assert result["failed"] is True and "byte order mark" in result["msg"] and host.writes() == []


def test_backup_is_taken_by_the_swap(host):
    host.dirs.add(host.key(PROFILE + "\\.factory"))
    host.put(SETTINGS, USER_FILE)
    result = run({"path": "C:/Users/dev/.factory/settings.json", "value": VALUE, "keyed_lists": KEYED, "backup": True})
    assert result["changed"] is True and result["backup_file"].startswith(SETTINGS + ".")
    assert host.get(result["backup_file"]).decode() == USER_FILE
    swap = [args for name, args, _check in host.calls if name == "ansible.windows.win_powershell"][0]
    assert swap["parameters"]["Backup"] is True
    assert swap["parameters"]["Expected"] == hashlib.sha256(USER_FILE.encode()).hexdigest()
    assert_no_key(result, OLD_KEY)


def test_a_file_changed_between_read_and_write_is_not_overwritten(host):
    host.dirs.add(host.key(PROFILE + "\\.factory"))
    host.put(SETTINGS, USER_FILE)
    other = USER_FILE.replace('"dark"', '"light"')
    host.after["ansible.windows.slurp"] = lambda fake: fake.put(SETTINGS, other)  # the client writes meanwhile
    result = run({"path": "~/.factory/settings.json", "value": VALUE, "keyed_lists": KEYED})
    assert result["failed"] is True and "changed while the merge ran" in result["msg"]
    assert host.get(SETTINGS).decode() == other and sorted(host.files) == [SETTINGS.lower()]


def test_failed_copy_removes_the_temp_and_leaves_the_file(host):
    host.dirs.add(host.key(PROFILE + "\\.factory"))
    host.put(SETTINGS, USER_FILE)
    original = host.module_win_copy

    def half_copy(args):
        if args["_copy_mode"] == "single":
            host.put(args["dest"], b'{"customModels": [')  # interrupted half way
            return {"failed": True, "msg": "disk full"}
        return original(args)

    host.module_win_copy = half_copy
    result = run({"path": "~/.factory/settings.json", "value": VALUE, "keyed_lists": KEYED})
    assert result["failed"] is True and "disk full" in result["msg"]
    assert host.get(SETTINGS).decode() == USER_FILE and sorted(host.files) == [SETTINGS.lower()]
    assert "ansible.windows.win_powershell" not in host.names()


def test_absent_on_a_missing_file_reads_once_and_changes_nothing(host):
    result = run({"path": "~/.factory/settings.json", "value": {"customModels": None}, "state": "absent"})
    assert result["changed"] is False and host.names() == ["ansible.windows.win_stat"]


@pytest.mark.parametrize(
    "args,words",
    [
        ({"create": False}, ["does not exist", "create is false"]),
        ({"owner": "dev", "group": "users"}, ["owner, group cannot be set on Windows"]),
        ({"path": "~alice/.factory/settings.json"}, ["~user is not supported"]),
        ({"indent": "wide"}, ["indent must be auto, tab or a number"]),
        ({"prune": {"/customModels": {"baseUrl": "^x"}}}, ["prune works on keyed lists only"]),
        ({"colour": "blue"}, ["Unsupported parameters", "colour"]),
        ({"unsafe_writes": True}, ["Unsupported parameters", "unsafe_writes"]),
        ({"user": "alice"}, ["user cannot be set on Windows targets"]),
        ({"mode": "abc"}, ["mode abc is neither an octal mode"]),
        ({"max_size": 10}, ["more than max_size"]),
    ],
)
def test_bad_input_is_a_clear_failure_before_any_write(host, args, words):
    host.dirs.add(host.key(PROFILE + "\\.factory"))
    if "create" not in args:
        host.put(SETTINGS, USER_FILE)
    task = dict({"path": "~/.factory/settings.json", "value": VALUE}, **args)
    result = run(task)
    assert result["failed"] is True, result
    for word in words:
        assert word in result["msg"]
    assert host.writes() == [] and host.transfers == []
    assert_no_key(result)


def test_a_folder_at_path_is_refused(host):
    host.dirs.add(host.key(PROFILE + "\\.factory"))
    result = run({"path": "~/.factory", "value": VALUE})
    assert result["failed"] is True and "is a folder, not a file" in result["msg"] and host.writes() == []


def test_async_is_refused_on_windows(host):
    result = run({"path": "~/.factory/settings.json", "value": VALUE}, async_val=30)
    assert result["failed"] is True and "async" in result["msg"] and host.calls == []


# ---------------------------------------------------------------- same behaviour as the module
def run_module(path, args, check=False, diff=True):
    """The real module, as Ansible runs it on a POSIX target, in a subprocess."""
    collections = os.path.abspath(os.path.join(os.path.dirname(module.__file__), "..", "..", "..", "..", ".."))
    payload = json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, path=str(path), _ansible_check_mode=check, _ansible_diff=diff)})
    env = dict(os.environ, PYTHONPATH=collections + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-m", module.__name__], input=payload.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, check=False, timeout=120
    )
    return json.loads(proc.stdout)


PARITY = [
    ("comments-keyed-prune", USER_FILE, {"value": VALUE, "keyed_lists": KEYED, "prune": PRUNE}),
    ("new-file", None, {"value": VALUE, "keyed_lists": KEYED}),
    ("crlf-tabs", '{\r\n\t"a": {\r\n\t\t"b": 1\r\n\t}\r\n}\r\n', {"value": {"a": {"c": [1, 2]}, "z": True}}),
    (
        "absent",
        USER_FILE,
        {"value": {"theme": None, "customModels": [{"model": "llama3", "baseUrl": "http://localhost:11434/v1"}]}, "keyed_lists": KEYED, "state": "absent"},
    ),
    ("empty-file", "", {"value": VALUE, "indent": "4"}),
    ("unchanged", '{"customModels": []}\n', {"value": {"customModels": []}}),
]


@pytest.mark.parametrize("name,text,args", PARITY, ids=[case[0] for case in PARITY])
def test_windows_path_writes_the_same_bytes_as_the_module(host, tmp_path, name, text, args):
    posix = tmp_path / "posix" / "settings.json"
    posix.parent.mkdir()
    if text is not None:
        posix.write_bytes(text.encode())
        host.dirs.add(host.key(PROFILE + "\\.factory"))
        host.put(SETTINGS, text)
    expected = run_module(posix, args)
    got = run(dict(args, path=SETTINGS), diff=True)
    assert not expected.get("failed") and not got.get("failed"), (expected, got)
    assert got["changed"] == expected["changed"]
    assert got["operations"] == expected["operations"]
    assert host.get(SETTINGS) == (posix.read_bytes() if posix.exists() else None)
    if expected["changed"]:
        assert (got["diff"]["before"], got["diff"]["after"]) == (expected["diff"]["before"], expected["diff"]["after"])
    assert got["invocation"]["module_args"]["value"] == expected["invocation"]["module_args"]["value"]


def test_only_if_keys_on_windows_reads_and_changes_nothing(host):
    host.dirs.add(host.key(PROFILE + "\\.factory"))
    host.put(SETTINGS, '{"theme": "dark"}')
    result = run({"path": "~/.factory/settings.json", "value": VALUE, "keyed_lists": KEYED, "only_if_keys": ["/customModels"]})
    assert result["changed"] is False and result["applied"] is False and host.writes() == []
    host.put(SETTINGS, '{"customModels": []}')
    result = run({"path": "~/.factory/settings.json", "value": VALUE, "keyed_lists": KEYED, "only_if_keys": ["/customModels"]})
    assert result["changed"] is True and result["applied"] is True
    assert json.loads(host.get(SETTINGS)) == VALUE


def test_files_on_windows_each_file_merged_check_only_read_and_a_bad_file_named(host):
    local = PROFILE + "\\.factory\\settings.local.json"
    broken = PROFILE + "\\.factory\\broken.json"
    host.dirs.add(host.key(PROFILE + "\\.factory"))
    host.put(local, '{"customModels": []}')
    host.put(broken, '{"a": 1,}')
    result = run(
        {
            "files": [
                {"path": "~/.factory/settings.json"},
                {"path": "~/.factory/settings.local.json", "only_if_keys": ["/customModels"], "check_only": True},
                {"path": "~/.factory/broken.json"},
            ],
            "value": VALUE,
            "keyed_lists": KEYED,
        },
        diff=True,
    )
    assert result["failed"] is True and result["msg"].startswith("files[2] ") and "broken.json: line 1, column 8" in result["msg"]
    settings, looked, bad = result["results"]
    assert settings["changed"] is True and json.loads(host.get(SETTINGS)) == VALUE
    assert looked["changed"] is True and looked["check_only"] is True and host.get(local) == b'{"customModels": []}'
    assert bad["failed"] is True and host.get(broken) == b'{"a": 1,}'
    assert len(result["diff"]) == 1 and result["diff"][0]["after_header"] == "~/.factory/settings.json"
    assert_no_key(result)


def test_files_on_windows_refuse_user_in_an_item_before_any_read(host):
    result = run({"files": [{"path": "~/.factory/settings.json", "user": "alice", "value": VALUE}]})
    assert result["failed"] is True and "user cannot be set on Windows targets" in result["msg"]
    assert host.calls == []
    assert_no_key(result)


def test_files_on_windows_an_unexpected_error_fails_that_file_only(host, monkeypatch):
    other = PROFILE + "\\.factory\\other.json"
    host.dirs.add(host.key(PROFILE + "\\.factory"))
    host.put(SETTINGS, "{}")
    host.put(other, "{}")
    real = host.module_slurp

    def slurp(args):
        if args["src"].lower().endswith("other.json"):
            raise ConnectionError("the connection dropped")
        return real(args)

    monkeypatch.setattr(host, "module_slurp", slurp)
    result = run({"files": [{"path": "~/.factory/settings.json"}, {"path": "~/.factory/other.json"}], "value": VALUE, "keyed_lists": KEYED})
    assert result["failed"] is True and result["changed"] is True, result
    assert result["msg"].startswith("files[1] ") and result["msg"].endswith("other.json: unexpected error: ConnectionError: the connection dropped")
    first, second = result["results"]
    assert first["changed"] is True and json.loads(host.get(SETTINGS)) == VALUE
    assert second["failed"] is True and host.get(other) == b"{}"
    assert_no_key(result)
