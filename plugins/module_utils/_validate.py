# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""json_merge's ``validate`` option: the command that judges the candidate file before the rename.

Imported by the module only for a task with ``validate``. The command runs without a shell, with
no stdin, in a session (process group) of its own, under ``validate_timeout``: when it expires the
command and everything it started are killed. At most 64 KiB of what it prints is read, from a
temporary file (a pipe could block a validator that prints more). A command that cannot run, times
out or fails raises :class:`Failure` for this file; nothing ends the task.

Its output is never shown as it is: a validator may print the candidate, which holds the file's
values, in any encoding (base64, hex), and masking only catches a value spelled as it is. The
message gives the exit status and only the field paths the validator named (``maxAutonomyLevel``,
``customModels.0.provider``: a name that is a key of the file, then keys or indexes), never what
follows them.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import tempfile

from ansible_collections.llmcloud.factory_droid.plugins.module_utils._merge_pipeline import Failure, number

OUTPUT_LIMIT = 64 * 1024

# "field.path:" at a word start: the form in which validators (droid doctor among them) name a problem
_FIELD = re.compile(r"(?<![\w.$/-])([A-Za-z_][A-Za-z0-9_]{0,63}(?:\.(?:[0-9]{1,6}|[A-Za-z_][A-Za-z0-9_]{0,63})){0,8})(?=:)")


def validator(command, timeout, path, redaction, docs):
    """``command`` (``%s``: the candidate's path) as a callable on the candidate's path. ``docs``: the
    documents (before, after; None for none) whose keys a validator's field paths may name."""

    def run(candidate):
        problem = None
        try:
            rc, output = run_bounded(shlex.split(command.replace("%s", shlex.quote(candidate))), timeout)
        except OSError as exc:
            problem = exc.strerror or str(exc)
        except ValueError as exc:  # shlex: unbalanced quotes
            problem = str(exc)
        if problem is not None:
            raise Failure("validate could not run on the candidate for %s: %s; %s was left as it was" % (path, problem, path))
        if rc is None:
            raise Failure(
                "validate did not finish within validate_timeout=%s seconds on the candidate for %s (it was killed), "
                "so the candidate was not swapped in and %s was left as it was" % (number(timeout), path, path)
            )
        if rc != 0:
            keys = set()
            for doc in docs:
                if doc is not None:
                    keys |= document_keys(doc.value)
            named = [redaction.mask(field) for field in field_paths(output, keys)]
            raise Failure(
                "validate failed on the candidate for %s (rc %d), so it was not swapped in and %s was left as it "
                "was. %s Its output is not shown (it may carry the file's values in any encoding): run the "
                "validator by hand on the file to read it."
                % (path, rc, path, ("It named: %s." % ", ".join(named)) if named else "It named no field of the file.")
            )

    return run


def run_bounded(argv, timeout):
    """(rc, the first 64 KiB of stdout and stderr as text); rc None when ``timeout`` seconds passed
    (the command and its process group are killed). Raises OSError when the command cannot start."""
    if not argv:
        raise OSError(0, "the command is empty")
    with tempfile.TemporaryFile() as sink:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, close_fds=True, start_new_session=True)
        try:
            rc = child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
            try:
                os.killpg(child.pid, signal.SIGKILL)  # the command and what it started
            except OSError:
                pass
            child.wait()
        sink.seek(0)
        output = sink.read(OUTPUT_LIMIT)
    return rc, output.decode("utf-8", "replace")


def document_keys(value):
    """Every object key of a parsed document, at any depth."""
    found, stack = set(), [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.update(key for key in item if isinstance(key, str))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def field_paths(output, keys, limit=20):
    """The field paths a validator's output names whose first part is a key of the file: all that
    is shown of its output (never the text after the colon, where values are quoted)."""
    found = []
    for match in _FIELD.finditer(output or ""):
        field = match.group(1)
        if field.split(".", 1)[0] in keys and field not in found:
            found.append(field)
            if len(found) == limit:
                break
    return found
