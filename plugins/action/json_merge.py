# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of llmcloud.factory_droid.json_merge: one task for every OS.

POSIX targets: a pure pass-through. The module runs exactly as it would without this plugin
(same arguments, one round trip, check/diff/no_log/async handled by the module and ansible-core).

Windows targets (the connection's shell is PowerShell): the same merge runs here on the
controller, with the same module_utils, and the Windows file modules do the I/O:

1. ``ansible.windows.win_stat`` (follow links) and, when the file exists, ``ansible.windows.slurp``
   read it;
2. the controller parses, merges, compares, builds the redacted diff and the operations with
   plugins/module_utils/_merge_pipeline.py, the very code the module runs (same argument spec,
   same checks and messages; a file that does not parse fails with line and column; nothing is
   written);
3. only when the document changes and not in check mode: ``ansible.windows.win_file`` creates the
   folder when the file is new, ``ansible.windows.win_copy`` (with ``content``, as a task that
   logs nothing) writes the new text to a temporary file beside the settings file, and
   ``ansible.windows.win_powershell`` runs a fixed script that swaps it into place atomically
   (``[IO.File]::Replace``, which keeps the file's ACL and takes the backup, or ``[IO.File]::Move``
   for a new file) after checking that nobody changed the file since it was read.

win_copy on its own is not enough: its last step is ``Copy-Item -Force`` onto the destination,
which truncates and rewrites the file in place, so an interrupted run could leave a half-written
settings file. The swap script receives paths only; the key travels as win_copy's file transfer.

Windows specifics: ``path`` may start with ``~`` (``%USERPROFILE%`` of the user the task runs as,
expanded on the target like any other ``%VARIABLE%``); ``/`` and ``\\`` both work. A new folder and
file inherit the ACL of the folder above (in ``%USERPROFILE%``: the user, SYSTEM, Administrators);
``mode`` is ignored and ``owner``, ``group`` and the SELinux options are refused. There is no lock
file: the hash check before the swap makes a concurrent writer's run fail instead of losing its
update. The returned ``path`` is the full path of the file (a symlink's target). Round trips:
reading takes one or two module runs; a write, only when the document changed, about five more.
The pipeline and the redaction are imported only for Windows targets.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import ntpath
import os
import traceback

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

MODULE = "llmcloud.factory_droid.json_merge"

# Runs on the target through ansible.windows.win_powershell. Parameters are paths and a hash only.
SWAP_SCRIPT = r"""[CmdletBinding()]
param (
    [Parameter(Mandatory = $true)] [string] $Path,
    [Parameter(Mandatory = $true)] [string] $Temp,
    [string] $Expected = '',
    [bool] $Backup = $false
)
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
$Path = [Environment]::ExpandEnvironmentVariables($Path)
$Temp = [Environment]::ExpandEnvironmentVariables($Temp)
try {
    $current = ''
    if ([IO.File]::Exists($Path)) {
        $sha = [Security.Cryptography.SHA256]::Create()
        try {
            $current = [BitConverter]::ToString($sha.ComputeHash([IO.File]::ReadAllBytes($Path))).Replace('-', '').ToLowerInvariant()
        }
        finally {
            $sha.Dispose()
        }
    }
    if ($current -ne $Expected) {
        throw "$Path changed while the merge ran (another run or the droid client wrote it); it was left as it is: run the task again"
    }
    $stream = [IO.File]::Open($Temp, 'Open', 'ReadWrite', 'None')
    try {
        $stream.Flush($true)
    }
    finally {
        $stream.Dispose()
    }
    $backupFile = $null
    if ($current -eq '') {
        [IO.File]::Move($Temp, $Path)
    }
    elseif ($Backup) {
        $backupFile = '{0}.{1}.{2}.bak' -f $Path, $PID, [DateTime]::Now.ToString('yyyyMMdd-HHmmss')
        [IO.File]::Replace($Temp, $Path, $backupFile)
    }
    else {
        [IO.File]::Replace($Temp, $Path, [NullString]::Value)
    }
    $Ansible.Changed = $true
    $Ansible.Result = @{ path = $Path; backup_file = $backupFile }
}
catch {
    $Ansible.Failed = $true
    $Ansible.Result = @{ msg = $_.Exception.Message }
}
finally {
    if ([IO.File]::Exists($Temp)) {
        [IO.File]::Delete($Temp)
    }
}
"""


@functools.lru_cache(maxsize=None)
def pipeline():
    """plugins/module_utils/_merge_pipeline.py, imported on first use so that a POSIX run never loads it."""
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils import _merge_pipeline

    return _merge_pipeline


@functools.lru_cache(maxsize=None)
def redaction_type():
    """The Redaction class of plugins/module_utils/_redact.py (imported on first use, as the pipeline)."""
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils._redact import Redaction

    return Redaction


def is_windows(connection):
    """True when the connection talks to PowerShell (winrm, psrp, ssh with shell_type powershell)."""
    shell = getattr(connection, "_shell", None)
    return bool(getattr(shell, "_IS_WINDOWS", False)) or getattr(shell, "SHELL_FAMILY", None) == "powershell"


def windows_path(path):
    """The path for the Windows modules: ``~`` becomes ``%USERPROFILE%`` (expanded on the target), ``/`` becomes ``\\``."""
    if path == "~" or path.startswith("~/") or path.startswith("~\\"):
        path = "%USERPROFILE%" + path[1:]
    elif path.startswith("~"):
        raise pipeline().Failure(
            "path %s: ~user is not supported on Windows targets; give the full path, e.g. "
            "C:\\Users\\<user>\\.factory\\settings.json, or %%USERPROFILE%%\\.factory\\settings.json "
            "for the user Ansible runs as" % path
        )
    return path.replace("/", "\\")


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        if not is_windows(self._connection):
            # POSIX: what ansible-core's "normal" action does for a module that has no action plugin
            result = super(ActionModule, self).run(tmp, task_vars)
            del tmp
            wrap_async = self._task.async_val and not self._connection.has_native_async
            result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result
        if self._task.async_val:
            return {"failed": True, "changed": False, "msg": "%s does not support async on Windows targets; remove async and poll from the task" % MODULE}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        try:
            result.update(WindowsRun(self, task_vars if task_vars is not None else {}).run())
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _windows_copy(self, content, dest, task_vars):
        """ansible.windows.win_copy with ``content``, as a task that logs nothing and shows no diff."""
        task = self._task.copy()
        task.args = {"content": content, "dest": dest}
        task.no_log = True
        task.diff = False
        task.async_val = 0
        action = self._shared_loader_obj.action_loader.get(
            "ansible.windows.win_copy",
            task=task,
            connection=self._connection,
            play_context=self._play_context,
            loader=self._loader,
            templar=self._templar,
            shared_loader_obj=self._shared_loader_obj,
        )
        if action is None:
            raise pipeline().Failure("writing on Windows targets needs the ansible.windows collection; install it (the ansible package ships it) and run again")
        return action.run(task_vars=task_vars)


class WindowsRun(object):
    """One json_merge task on a Windows target: read, merge on the controller, write when changed."""

    def __init__(self, action, task_vars):
        self.action = action
        self.task = action._task
        self.task_vars = task_vars
        self.params = None
        self.redaction = redaction_type()({}, None)
        self.result = {"changed": False, "operations": []}

    def run(self):
        try:
            self._run()
        except pipeline().USER_ERRORS as exc:
            return self._fail(to_text(exc))
        except Exception as exc:  # pylint: disable=broad-except
            return self._fail("unexpected error: %s: %s" % (type(exc).__name__, to_text(exc)), exception=traceback.format_exc())
        return self._finish(self.result)

    def _finish(self, result):
        """The result as the module returns it: invocation with value redacted, every secret masked."""
        if self.params is not None:
            result["invocation"] = self.redaction.invocation(self.params)
        return self.redaction.mask_all(result)

    def _fail(self, msg, **extra):
        result = dict(self.result)
        result.update(extra)
        result.update(failed=True, msg=msg)
        return self._finish(result)

    def _validate(self):
        """The module's argument spec and checks (``path`` a plain string: the target expands ``~``)."""
        found = pipeline()
        raw = dict(self.task.args)
        self.redaction = redaction_type().of_raw_args(raw)  # mask the key even in argument errors
        validation = ArgumentSpecValidator(found.argument_spec(), **found.SPEC_RULES).validate(raw)
        if validation.error_messages:
            msg = validation.errors.msg  # the module's words for the first error
            if isinstance(validation.errors[0], UnsupportedError):
                msg = "Unsupported parameters for (%s) module: %s" % (MODULE, msg)
            raise found.Failure(msg)
        params = validation.validated_parameters
        redaction = redaction_type().of_params(params)
        redaction.secrets |= self.redaction.secrets
        self.params, self.redaction = params, redaction
        tasks = found.file_params(params)
        for number, task in enumerate(tasks):
            try:
                self._windows_options(task)
                found.check_params(task)  # every item's options, before any file is read or written
            except found.Failure as exc:
                if params.get("files") is None:
                    raise
                raise found.Failure(pipeline().files_message(number, task["path"], to_text(exc))) from exc
        return tasks

    def _windows_options(self, params):
        """What a Windows target cannot do, refused before any file is read."""
        found = pipeline()
        given = [name for name in found.POSIX_ONLY if params.get(name) is not None]
        if given:
            raise found.Failure(
                "%s cannot be set on Windows targets: the file and a new folder inherit the ACL of "
                "the folder above (in %%USERPROFILE%% only the user, SYSTEM and Administrators have "
                "access); leave %s out for Windows hosts" % (", ".join(given), "it" if len(given) == 1 else "them")
            )
        if params.get("user") is not None:
            raise found.Failure(
                "user cannot be set on Windows targets: the task writes the file of the account "
                "Ansible connects as (~ is its %USERPROFILE%); leave user out for Windows hosts and "
                "connect as that account"
            )
        if params.get("validate") is not None:
            raise found.Failure(
                "validate is not available on Windows targets: the candidate file is judged on POSIX hosts only; leave it out for Windows hosts"
            )
        if params.get("strict_path"):
            raise found.Failure("strict_path is not available on Windows targets (it checks POSIX owners and modes); leave it out for Windows hosts")

    def _module(self, name, args, what):
        outcome = self.action._execute_module(module_name=name, module_args=args, task_vars=self.task_vars)
        if outcome.get("failed"):
            raise pipeline().Failure("%s failed: %s" % (what, outcome.get("msg") or _first_error(outcome)))
        return outcome

    def _run(self):
        tasks = self._validate()
        if self.params.get("files") is None:
            self._run_file(tasks[0], self.result)
            return
        # files: each file read, merged and written in turn; a failed file does not stop the others
        results, diffs, failures = [], [], []
        for number, task in enumerate(tasks):
            one = {"changed": False, "operations": []}
            try:
                self._run_file(task, one)
            except pipeline().USER_ERRORS as exc:
                one.update(failed=True, msg=to_text(exc))
            except Exception as exc:  # pylint: disable=broad-except
                # a lost connection or a failing Windows module: this file failed, the others still run
                one.update(failed=True, msg="unexpected error: %s: %s" % (type(exc).__name__, to_text(exc)), exception=traceback.format_exc())
            if one.get("failed"):
                failures.append(pipeline().files_message(number, one.get("path") or task["path"], one["msg"]))
            diff = one.pop("diff", None)
            if diff is not None and not task["check_only"]:
                diffs.append(diff)
            one["check_only"] = task["check_only"]
            results.append(one)
        self.result = {"changed": any(one["changed"] and not one["check_only"] for one in results), "results": results}
        if diffs:
            self.result["diff"] = diffs
        if failures:
            raise pipeline().Failure("; ".join(failures))

    def _run_file(self, params, result):
        """One file: read it, plan the merge, write it when it changes (not in check mode, not check_only)."""
        found = pipeline()
        self.result = result  # what a failure returns
        indent = found.check_params(params)
        given = params["path"]
        path = windows_path(given)
        self.result["path"] = path
        stat = (
            self._module(
                "ansible.windows.win_stat",
                {"path": path, "follow": True, "get_checksum": False, "get_size": True},
                "reading %s (ansible.windows.win_stat)" % given,
            ).get("stat")
            or {}
        )
        data = doc = None
        if stat.get("exists"):
            if stat.get("isdir"):
                raise found.is_a_folder(given, ntpath.join)
            path = stat.get("path") or path  # absolute, variables expanded, a link's target
            self.result["path"] = path
            if (stat.get("size") or 0) > params["max_size"]:
                raise found.too_big(path, stat.get("size"), params["max_size"])
            read = self._module("ansible.windows.slurp", {"src": path}, "reading %s (ansible.windows.slurp)" % path)
            try:
                data = base64.b64decode(read["content"], validate=True)
            except (KeyError, TypeError, ValueError):
                raise found.Failure("reading %s (ansible.windows.slurp) returned no base64 content" % path) from None
            if len(data) > params["max_size"]:
                raise found.grew_too_big(path, params["max_size"])
            doc = found.read_document(data, given)
        elif not params["create"]:
            raise found.missing(given)
        outcome = found.plan(doc, params, self.redaction, indent, diff=bool(self.task.diff), header=given, file_secrets=True)
        self.redaction.secrets |= outcome.secrets
        result["operations"] = outcome.operations
        result["applied"] = outcome.applied
        if outcome.diff is not None:
            result["diff"] = outcome.diff
        if outcome.changed and not (self.task.check_mode or params["check_only"]):
            self._write(path, data, outcome.new_text, params["backup"])
        result["changed"] = outcome.changed

    def _write(self, path, data, new_text, backup):
        folder, name = ntpath.split(path)
        if data is None and folder:
            self._module("ansible.windows.win_file", {"path": folder, "state": "directory"}, "creating the folder %s (ansible.windows.win_file)" % folder)
        temp = ntpath.join(folder, ".%s.%s.tmp" % (name, binascii.hexlify(os.urandom(6)).decode("ascii")))
        copied = self.action._windows_copy(new_text, temp, self.task_vars)
        if copied.get("failed"):
            self.action._execute_module(module_name="ansible.windows.win_file", task_vars=self.task_vars, module_args={"path": temp, "state": "absent"})
            raise pipeline().Failure(
                "writing %s (ansible.windows.win_copy) failed: %s; %s was left untouched" % (temp, copied.get("msg") or "no message", path)
            )
        parameters = {"Path": path, "Temp": temp, "Backup": bool(backup), "Expected": hashlib.sha256(data).hexdigest() if data is not None else ""}
        swapped = self.action._execute_module(
            module_name="ansible.windows.win_powershell",
            task_vars=self.task_vars,
            module_args={"script": SWAP_SCRIPT, "error_action": "stop", "parameters": parameters},
        )
        answer = swapped.get("result") if isinstance(swapped.get("result"), dict) else {}
        if swapped.get("failed"):
            raise pipeline().Failure("replacing %s (ansible.windows.win_powershell) failed: %s" % (path, answer.get("msg") or _first_error(swapped)))
        self.result["path"] = answer.get("path") or path
        if answer.get("backup_file"):
            self.result["backup_file"] = answer["backup_file"]


def _first_error(result):
    for record in result.get("error") or []:
        message = (record.get("exception") or {}).get("message") or record.get("output")
        if message:
            return message.strip()
    return result.get("msg") or "no message (run with -vvv for details)"
