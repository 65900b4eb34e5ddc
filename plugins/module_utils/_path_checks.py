# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""json_merge's checks of a path that are rarely needed: ``strict_path``, and a path that is a symlink.

Imported by the module only for a task with ``strict_path`` or a path through a symlink.
"""

from __future__ import annotations

import errno
import os
import stat

from ansible_collections.llmcloud.factory_droid.plugins.module_utils._file_layer import _os_error, user_name
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._merge_pipeline import Failure


def _link_chain(path):
    """The links ``path`` goes through, for a message about a loop."""
    chain, current = [path], path
    for _step in range(8):
        try:
            current = os.path.normpath(os.path.join(os.path.dirname(current), os.readlink(current)))
        except OSError:
            break
        chain.append(current)
        if chain.count(current) > 1:
            break
    return " -> ".join(chain)


def check_link(path, what, acting=None):
    """A symlink at ``path`` must lead somewhere: a loop or a dangling link fails, naming the target.
    ``acting``: the name of the account the module works as for root (for the messages), or None."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Failure(
                "%s (%s) is a symlink loop: %s. Point the link at a real file (or remove it) and run again" % (path, what, _link_chain(path))
            ) from exc
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            target = os.path.normpath(os.path.join(os.path.dirname(path), os.readlink(path)))
            raise Failure(
                "%s (%s) is a symlink to %s, which does not exist. The module does not create files or "
                "folders through a dangling link: create the target (for example with the content {}) "
                "or remove the link, then run again" % (path, what, target)
            ) from exc
        if exc.errno == errno.EACCES and acting is not None:
            name = acting
            raise Failure(
                "%s (%s) is a symlink to %s, which %s cannot reach (Permission denied). Running as root "
                "for %s, the module works as %s and never follows a link to what %s could not read or "
                "write alone: point the link at a file %s owns, or remove it, then run again" % (path, what, os.readlink(path), name, name, name, name, name)
            ) from exc
        raise _os_error("could not follow the symlink", path, exc) from exc


def check_strict_path(path):
    """``strict_path``: every folder from ``/`` down to the file is a real folder (no symlink) owned
    by root (or by the user the module runs as) and not writable by group or others, and the file,
    when it exists, is a regular file, not a symlink. Only lstat: nothing is followed or opened.

    A folder only root can change cannot have a link or a file swapped in by anyone else afterwards
    (OpenSSH's StrictModes, sudo's checks of its own files), so the path found now is the path written.
    """
    trusted = set([0, os.geteuid()])
    current = "/"
    parts = [part for part in os.path.normpath(path).split("/") if part]
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        current = os.path.join(current, part)
        try:
            info = os.lstat(current)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return  # the rest is created by the module, owned by root (or the user it runs as)
            raise _os_error("could not look at", current, exc) from exc
        kind = stat.S_IFMT(info.st_mode)
        if last:
            if kind == stat.S_IFLNK:
                raise Failure(
                    "%s is a symlink (to %s); strict_path: the module never writes this file through a link. "
                    "Remove the link (who planted it could redirect the write), then run again" % (path, os.readlink(current))
                )
            if kind != stat.S_IFREG:
                raise Failure("%s is not a regular file; strict_path: remove it, then run again" % path)
            return
        if kind == stat.S_IFLNK:
            raise Failure(
                "%s (a folder of %s) is a symlink (to %s); strict_path: every folder of the path must be a real "
                "folder. Replace the link with a folder owned by root, mode 0755, then run again" % (current, path, os.readlink(current))
            )
        if kind != stat.S_IFDIR:
            raise Failure("%s (a folder of %s) exists but is not a folder" % (current, path))
        if info.st_uid not in trusted or info.st_mode & 0o022:
            raise Failure(
                "%s (a folder of %s) is owned by %s (uid %d), mode %04o; strict_path: every folder of the path must "
                "belong to root and not be writable by group or others, or anyone who can write there could plant a "
                "link or a file the module would then write through. Nothing was written: check what is in it, "
                "then chown root %s and chmod go-w %s, and run again"
                % (current, path, user_name(info.st_uid), info.st_uid, stat.S_IMODE(info.st_mode), current, current)
            )
