# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The write side of json_merge's file layer: new folders, the temporary file, fsync, the backup, the rename.

Imported by the module only when a file changes (an idempotent run never compiles it). The reasons
for each step are in ``_file_layer``'s docstring: every name is opened relative to the folder's
descriptor with ``O_NOFOLLOW`` (new files ``O_EXCL``), the temporary file gets its final owner,
group and mode and is fsync'ed before the rename, then the folder is.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
import time

from ansible_collections.llmcloud.factory_droid.plugins.module_utils._file_layer import _DIR_FLAGS, _os_error, _write_all
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._merge_pipeline import Failure


def _fsync(fd):
    os.fsync(fd)
    if hasattr(fcntl, "F_FULLFSYNC"):  # macOS: flush the drive's cache too
        try:
            fcntl.fcntl(fd, fcntl.F_FULLFSYNC)
        except OSError:
            pass


def _fsync_folder_fd(fd):
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):  # folders that cannot be synced
            raise


def _not_created(created, parent, exc, name):
    failure = _os_error("could not create the folder", created, exc)
    if name is None or exc.errno not in (errno.EACCES, errno.EPERM):
        return failure
    return Failure(
        "%s. Running as root for %s, the module works as %s, who may not create folders in %s, and root "
        "never creates them in its place: create %s for %s (or fix the path), then run again" % (failure, name, name, parent, created, name)
    )


def make_folders(folder, uid, gid, acting=None):
    """Create missing folders (0700 whatever the umask, owned by uid/gid when given); return them.
    ``acting``: the name of the account the module works as for root (for the messages), or None."""
    missing = []
    current = folder
    while True:
        try:
            if stat.S_ISDIR(os.stat(current).st_mode):
                break
            raise Failure("%s (a parent of path) exists but is not a folder" % current)
        except OSError as exc:
            if exc.errno == errno.EACCES and acting is not None:
                who = acting
                raise Failure(
                    "%s cannot reach %s: %s (EACCES). Running as root for %s, the module works as %s, so "
                    "the file must be somewhere %s can reach; fix the path or the permissions of the folders "
                    "above it, then run again" % (who, current, exc.strerror, who, who, who)
                ) from exc
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.ELOOP):
                raise _os_error("could not look at", current, exc) from exc
            if os.path.lexists(current) and exc.errno == errno.ENOTDIR:
                raise Failure("%s (a parent of path) exists but is not a folder" % current) from exc
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for created in reversed(missing):
        parent, name = os.path.split(created)
        try:
            parent_fd = os.open(parent or ".", _DIR_FLAGS)
        except OSError as exc:
            raise _not_created(created, parent, exc, acting) from exc
        try:
            os.mkdir(name, 0o700, dir_fd=parent_fd)
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
            try:
                os.fchmod(fd, 0o700)
                if uid is not None or gid is not None:
                    os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)
            finally:
                os.close(fd)
            _fsync_folder_fd(parent_fd)
        except OSError as exc:
            raise _not_created(created, parent, exc, acting) from exc
        finally:
            os.close(parent_fd)
    return list(reversed(missing))


def read_only_link(path, folder_path):
    """A sentence when ``path`` is a symlink whose target's folder cannot be written (a read-only store
    such as Nix's, which Home Manager links dotfiles into), else None."""
    if not os.path.islink(path):
        return None
    try:
        read_only = bool(os.statvfs(folder_path).f_flag & getattr(os, "ST_RDONLY", 1))
    except OSError:
        read_only = False
    store = folder_path == "/nix/store" or folder_path.startswith("/nix/store/")
    if not (read_only or store or not os.access(folder_path, os.W_OK)):
        return None
    target = os.path.realpath(path)
    return (
        "%s is a link to %s, %s: it cannot be changed in place, and nothing was changed. If a tool such as Home "
        "Manager (nix) manages this file, put these settings into its configuration there; otherwise replace the link "
        "with a copy of the file (cp --remove-destination %s %s) and run again"
        % (
            path,
            target,
            "in the read-only Nix store" if store else ("on a read-only file system" if read_only else "in a folder this user cannot write"),
            target,
            path,
        )
    )


def remove_stale_temps(folder, name):
    """Temp files a killed run left behind (only ever removed while the exclusive lock is held)."""
    pattern = re.compile(r"^\.%s\.[0-9a-f]{12}\.tmp$" % re.escape(name))
    try:
        entries = os.listdir(folder.fd)
    except OSError:
        return
    for entry in entries:
        if not pattern.match(entry):
            continue
        try:
            if stat.S_ISREG(os.stat(entry, dir_fd=folder.fd, follow_symlinks=False).st_mode):
                os.unlink(entry, dir_fd=folder.fd)
        except OSError:
            pass


def _create_exclusive(folder, names, what):
    """(name, fd) of a new file created 0600 with O_EXCL|O_NOFOLLOW: nothing planted is ever reused."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    for name in names:
        try:
            return name, os.open(name, flags, 0o600, dir_fd=folder.fd)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                continue
            raise _os_error("could not create the %s" % what, folder.join(name), exc) from exc
    raise Failure("could not find a free name for the %s in %s" % (what, folder.path))


def _unlink_quietly(folder, name):
    try:
        os.unlink(name, dir_fd=folder.fd)
    except OSError:
        pass


def write_backup(folder, name, data, info, holds_secrets):
    """Copy of the original beside it: 0600 when it holds secrets, never looser than the original."""
    stamp = time.strftime("%Y-%m-%d@%H:%M:%S~", time.localtime())
    names = ["%s.%s.%s" % (name, os.getpid(), stamp)] + ["%s.%s.%d.%s" % (name, os.getpid(), n, stamp) for n in range(1, 50)]
    backup, fd = _create_exclusive(folder, names, "backup file")
    try:
        _write_all(fd, data)
        mode = stat.S_IMODE(info.st_mode) & (0o600 if holds_secrets else 0o777)
        if os.geteuid() == 0:
            os.fchown(fd, info.st_uid, info.st_gid)
        os.fchmod(fd, mode)
        os.utime(fd, ns=(info.st_atime_ns, info.st_mtime_ns))
        _fsync(fd)
    except OSError as exc:
        os.close(fd)
        _unlink_quietly(folder, backup)
        raise _os_error("could not write the backup", folder.join(backup), exc) from exc
    os.close(fd)
    return folder.join(backup)


def write_atomic(module, folder, name, data, info, uid, gid, mode, before_rename=None, validate=None):
    """Temp file (0600, O_EXCL|O_NOFOLLOW) in the same folder, fsync, rename over the file, fsync the folder.

    The new file gets its final owner, group and mode before the rename: those of the file it
    replaces unless uid/gid/mode (numeric) are given, 0600 for a new file. ``validate`` (a callable
    taking the temp file's path) judges the finished candidate first; ``before_rename`` runs when the
    temp file is complete, durable and judged, just before the rename (the re-check of the file and
    the backup). What either raises leaves the file as it is and removes the temp file.
    """
    remove_stale_temps(folder, name)
    temps = (".%s.%s.tmp" % (name, os.urandom(6).hex()) for attempt in range(50))
    temp, fd = _create_exclusive(folder, temps, "temporary file")
    try:
        try:
            os.fchmod(fd, 0o600)
            _write_all(fd, data)
            _fsync(fd)
            want_uid = uid if uid is not None else (info.st_uid if info is not None else -1)
            want_gid = gid if gid is not None else (info.st_gid if info is not None else -1)
            if (want_uid, want_gid) != (-1, -1) and (want_uid, want_gid) != (os.geteuid(), os.getegid()):
                try:
                    os.fchown(fd, want_uid, want_gid)
                except OSError:
                    if os.geteuid() == 0:
                        raise
                    # not root: the group may not be ours to give; the mode below still applies
            if mode is not None:
                os.fchmod(fd, mode)
            elif info is not None:
                os.fchmod(fd, stat.S_IMODE(info.st_mode))
        except OSError as exc:
            raise _os_error("could not write the temporary file", folder.join(temp), exc) from exc
        finally:
            os.close(fd)
        if module.selinux_enabled():
            target = folder.join(name)
            context = module.selinux_context(target) if info is not None else module.selinux_default_context(target)
            module.set_context_if_different(folder.join(temp), context, False)
        if validate is not None:
            validate(folder.join(temp))
        if before_rename is not None:
            before_rename()
        try:
            os.rename(temp, name, src_dir_fd=folder.fd, dst_dir_fd=folder.fd)
        except OSError as exc:
            raise _os_error("could not replace %s with" % folder.join(name), folder.join(temp), exc) from exc
        temp = None
        try:
            _fsync_folder_fd(folder.fd)
        except OSError as exc:
            raise _os_error("wrote the file but could not sync its folder", folder.path, exc) from exc
    finally:
        if temp is not None:
            _unlink_quietly(folder, temp)


class Changed(Exception):
    """The file changed on disk since it was read (a writer that does not take the lock)."""


def check_unchanged(folder, name, info):
    """Raise Changed when ``name`` is not the very file read (``info``; None: there was none)."""
    try:
        now = os.stat(name, dir_fd=folder.fd, follow_symlinks=False)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise _os_error("could not check", folder.join(name), exc) from exc
        now = None
    if info is None and now is None:
        return
    if (
        info is not None
        and now is not None
        and (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns, now.st_ctime_ns)
        == (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    ):
        return
    raise Changed(folder.join(name))
