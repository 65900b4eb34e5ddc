# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The file-system layer of json_merge: folders, lock, read, temp file, durable write, owner and mode, backup.

Why not ``AnsibleModule.atomic_move``: it renames a finished temp file over the destination, and
that is all. It does not fsync the temp file nor the folder (after a crash or power loss the
rename can reach the disk before the data: an empty or torn settings file), it takes no lock (two
runs, or a run and the droid client, read the same version and the second rename silently drops
the first one's update), and it resolves every path by name, following whatever symlink or
folder a user swapped in between two steps. Here:

- the folder of the file is opened once (``O_DIRECTORY|O_NOFOLLOW``) and every later step (lock,
  read, temp file, backup, rename) works relative to that descriptor, each name opened with
  ``O_NOFOLLOW`` and new files with ``O_EXCL``;
- an advisory ``flock`` on ``.<name>.lock`` beside the file is held from the read to the rename;
- the temp file gets its final owner, group and mode before the rename, and is fsync'ed (with
  ``F_FULLFSYNC`` where it exists: ``fsync`` on macOS does not reach the disk), then the folder is.

Failures raise :class:`Failure` (from the pipeline) with a message that names the path and the reason.

This module is what every run needs: finding the file, the lock, reading, who owns what, working
as another account, the file attributes. What only a run that changes the file needs (creating
folders, the temporary file, the backup, the rename) is ``_file_write``; the ``strict_path`` check
and the checks of a symlinked path are ``_path_checks``. The module imports both only when it gets
there, so an idempotent run never compiles them.

Who the steps run as (the account root works for, or None) is an argument of the steps whose
messages name it; nothing here keeps it in a global.
"""

from __future__ import annotations

import errno
import fcntl
import grp
import inspect
import json
import os
import pwd
import stat
import time
import traceback
import types

from ansible_collections.llmcloud.factory_droid.plugins.module_utils._merge_pipeline import (
    USER_ERRORS,
    Failure,
    grew_too_big,
    is_a_folder,
    number,
    numeric_mode,
    too_big,
)


def _os_error(action, path, exc):
    reason = exc.strerror or str(exc)
    name = errno.errorcode.get(exc.errno, "") if exc.errno else ""
    return Failure("%s %s: %s%s" % (action, path, reason, " (%s)" % name if name else ""))


# ------------------------------------------------------------------ owners and modes
def uid_of(owner):
    if owner is None:
        return None
    try:
        return int(owner)
    except ValueError:
        try:
            return pwd.getpwnam(owner).pw_uid
        except KeyError:
            raise Failure("owner %s does not exist on the target" % owner) from None


def gid_of(group):
    if group is None:
        return None
    try:
        return int(group)
    except ValueError:
        try:
            return grp.getgrnam(group).gr_gid
        except KeyError:
            raise Failure("group %s does not exist on the target" % group) from None


def user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class Folder(object):
    """The folder of the file, opened once: every later step works relative to this very inode.

    A folder swapped for a symlink after this point cannot redirect a read, a lock, a temp file,
    a backup or the rename; each name inside is opened with O_NOFOLLOW.
    """

    def __init__(self, path):
        self.path = path
        try:
            self.fd = os.open(path, _DIR_FLAGS)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise Failure("%s became a symlink while the task ran; refusing to follow it" % path) from exc
            raise _os_error("could not open the folder", path, exc) from exc
        self.info = os.fstat(self.fd)

    def join(self, name):
        return os.path.join(self.path, name)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False


class FileLock(object):
    """flock on ``.<name>.lock`` beside the file: never follows a symlink, created 0600, kept afterwards
    while the file exists (a lock for a file that does not exist is removed when the lock is released)."""

    def __init__(self, folder, name, timeout, exclusive, create):
        self.folder = folder
        self.target = name
        self.name = ".%s.lock" % name
        self.path = folder.join(self.name)
        self.timeout = timeout
        self.exclusive = exclusive
        self.create = create
        self.fd = None

    def __enter__(self):
        flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0) | os.O_NONBLOCK
        created = False
        dir_fd = self.folder.fd
        try:
            try:
                self.fd = os.open(self.name, flags, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno != errno.ENOENT or not self.create:
                    raise
                try:
                    self.fd = os.open(self.name, flags | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=dir_fd)
                    created = True
                except OSError as exc2:
                    if exc2.errno != errno.EEXIST:
                        raise
                    self.fd = os.open(self.name, flags, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ENOENT:  # check mode and no lock file yet: nothing to lock
                return self
            if exc.errno == errno.ELOOP:
                raise Failure("the lock file %s is a symlink; refusing to follow it (remove it and run again)" % self.path) from exc
            raise _os_error("could not open the lock file", self.path, exc) from exc
        info = os.fstat(self.fd)
        if not stat.S_ISREG(info.st_mode):
            self._close()
            raise Failure("the lock file %s is not a regular file; remove it and run again" % self.path)
        if created:
            try:
                os.fchmod(self.fd, 0o600)
                folder = self.folder.info
                if os.geteuid() == 0 and (folder.st_uid, folder.st_gid) != (info.st_uid, info.st_gid):
                    os.fchown(self.fd, folder.st_uid, folder.st_gid)  # the folder's owner can lock it too
            except OSError as exc:
                self._close()
                raise _os_error("could not set up the lock file", self.path, exc) from exc
        operation = (fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        deadline = time.monotonic() + self.timeout
        delay = 0.02
        while True:
            try:
                fcntl.flock(self.fd, operation)
                return self
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    self._close()
                    raise _os_error("could not lock", self.path, exc) from exc
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._close()
                raise Failure(
                    "could not take the lock on %s within lock_timeout=%s seconds: another run of "
                    "llmcloud.factory_droid.json_merge (or a tool using the same lock file) is still working on "
                    "the file. Nothing was changed; run again later or raise lock_timeout." % (self.path, number(self.timeout))
                )
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.25)

    def _close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __exit__(self, *exc_info):
        if self.fd is not None and self.exclusive:
            # nothing to lock for once the file is not there (only_if_keys, a failed run): leave nothing behind
            try:
                os.stat(self.target, dir_fd=self.folder.fd, follow_symlinks=False)
            except FileNotFoundError:
                try:
                    os.unlink(self.name, dir_fd=self.folder.fd)
                except OSError:
                    pass
            except OSError:
                pass
        self._close()  # closing releases the flock
        return False


def read_file(folder, name, max_size):
    """(bytes, stat) of the file, or (None, None) when it does not exist."""
    path = folder.join(name)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(name, flags, dir_fd=folder.fd)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None, None
        if exc.errno == errno.ELOOP:
            raise Failure("%s became a symlink while the task ran; refusing to follow it" % path) from exc
        if exc.errno == errno.EISDIR:
            raise is_a_folder(path, os.path.join) from exc
        if exc.errno == errno.EACCES:  # not ours to read (as the owner root works for): say whose it is
            try:
                found = os.stat(name, dir_fd=folder.fd, follow_symlinks=False)
            except OSError:
                found = None
            if found is not None:
                check_owner(found, None, path, path)
        raise _os_error("could not read", path, exc) from exc
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise is_a_folder(path, os.path.join)
        if not stat.S_ISREG(info.st_mode):
            raise Failure(
                "%s is not a regular file (a FIFO, socket or device): the module reads only regular files and never "
                "waits on one; remove it or replace it with a file, then run again" % path
            )
        if info.st_size > max_size:
            raise too_big(path, info.st_size, max_size)
        chunks = []
        total = 0
        while True:
            chunk = os.read(fd, 1024 * 1024)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_size:
                raise grew_too_big(path, max_size)
        return b"".join(chunks), info
    except OSError as exc:
        raise _os_error("could not read", path, exc) from exc
    finally:
        os.close(fd)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


# ------------------------------------------------------------------ accounts and paths
def account(name):
    """The passwd entry of ``name`` (or of a numeric uid), looked up with Python's pwd: no getent needed."""
    if name is None:
        return None
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    if name.isdigit():
        try:
            return pwd.getpwuid(int(name))
        except KeyError:
            pass
    raise Failure(
        "user %s does not exist on this host (no passwd entry): check the name (for the byok role, "
        "byok_users[].name) or create the account on the host, then run again" % name
    )


def owner_account(owner, uid):
    """The passwd entry of ``owner`` (uid ``uid``): root works as this account when it writes for it."""
    try:
        return pwd.getpwuid(uid)
    except KeyError:
        raise Failure(
            "owner %s (uid %d) has no passwd entry on this host: running as root, the module works as the "
            "owner to write a file for it (so that nothing is created or handed over that the owner could "
            "not create), which needs the account; create the account or check owner, then run again" % (owner, uid)
        ) from None


def check_group_member(entry, gid, group):
    """``group`` (gid ``gid``), when given, must be one the account is a member of: it works as that account."""
    if gid is None or gid in _groups_of(entry):
        return
    raise Failure(
        "group %s is not a group of %s: the module works as %s to write the file (running as root for "
        "another account), and a file can only be given to a group its owner belongs to; add %s to the "
        "group (usermod -aG), or give one of its groups, or leave group out" % (group, entry.pw_name, entry.pw_name, entry.pw_name)
    )


def home_of(entry):
    home = entry.pw_dir or ""
    if not os.path.isabs(home):
        raise Failure(
            "user %s has no absolute home folder in the passwd database (%r): set one (usermod -d) or give path as an absolute path" % (entry.pw_name, home)
        )
    return os.path.normpath(home)


def expand_path(path, entry):
    """``path`` with a leading ``~`` expanded; it must be absolute afterwards.

    With ``entry`` (O(user)), ``~`` and ``~/`` are that user's home; without, the home of the user the
    module runs as, and ``$VARS`` expand as for any ``type: path`` option. ``~name`` is always looked
    up in the passwd database, and an unknown name fails instead of becoming a folder named ``~name``.
    """
    if entry is None:
        path = os.path.expandvars(path)
    if path == "~" or path.startswith("~/"):
        home = home_of(entry) if entry is not None else os.path.expanduser("~")
        path = home + path[1:]
    elif path.startswith("~"):
        name, _sep, rest = path[1:].partition("/")
        path = os.path.join(home_of(account(name)), rest)
    if not os.path.isabs(path):
        raise Failure(
            "path %s is not absolute: give the full path of the file, or start it with ~/ for the home "
            "folder of %s; a relative path would land wherever the module happens to run"
            % (path, "user %s" % entry.pw_name if entry is not None else "the user the module runs as")
        )
    return os.path.normpath(path)


def inside(path, folder):
    """True when ``path`` is ``folder`` or below it (both absolute and normalised)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


# ------------------------------------------------------------------ acting as the user
def _groups_of(entry):
    try:
        groups = os.getgrouplist(entry.pw_name, entry.pw_gid)
    except (OSError, AttributeError):
        groups = [entry.pw_gid]
    return list(dict.fromkeys(groups))


def _drop_to(entry):
    groups = _groups_of(entry)
    try:
        os.setgroups(groups)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        os.setgroups(groups[: max(1, os.sysconf("SC_NGROUPS_MAX") if hasattr(os, "sysconf") else 16)])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)  # as root: real, effective and saved uid
    if os.geteuid() != entry.pw_uid or os.getuid() != entry.pw_uid or os.getegid() != entry.pw_gid:
        raise OSError(errno.EPERM, "the identity did not change")
    try:
        os.setuid(0)
    except OSError:
        return
    raise OSError(errno.EPERM, "root could be regained after dropping to %s" % entry.pw_name)


def _read_all(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def run_as(entry, work, state):
    """Run ``work()`` in a forked child that has dropped to the user's uid, gid and groups.

    Root does not touch the user's tree at all: the child resolves every path, takes the lock,
    reads and writes with the user's own rights, so a link, folder or file the user swaps in
    between two steps can never make root act on something the user could not act on alone.
    The child reports ``state()`` (a JSON value) and its error, if any, over a pipe. Returns
    ``(state, error, traceback)``.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(read_fd)
            error = trace = None
            try:
                _drop_to(entry)
                work()
            except USER_ERRORS as exc:
                error = str(exc)
            except Exception as exc:  # pylint: disable=broad-except
                error = "unexpected error: %s: %s" % (type(exc).__name__, exc)
                trace = traceback.format_exc()
            answer = json.dumps({"state": state(), "error": error, "traceback": trace}).encode("utf-8")
            _write_all(write_fd, answer)
            os.close(write_fd)
        except BaseException:  # pylint: disable=broad-except
            code = 1
        finally:
            os._exit(code)  # pylint: disable=protected-access
    os.close(write_fd)
    try:
        data = _read_all(read_fd)
    finally:
        os.close(read_fd)
    _pid, status = os.waitpid(pid, 0)
    try:
        answer = json.loads(data.decode("utf-8"))
    except ValueError:
        how = ("was killed by signal %d" % os.WTERMSIG(status)) if os.WIFSIGNALED(status) else ("exited with status %d" % os.WEXITSTATUS(status))
        raise Failure(
            "the process that works as %s %s without an answer; the file may be unchanged or written, run the task again" % (entry.pw_name, how)
        ) from None
    return answer["state"], answer["error"], answer["traceback"]


# ------------------------------------------------------------------ where the file is, who owns it
def locate(path, acting=None):
    """(folder, name, lock folder) of the file ``path`` names; ``acting``: the name of the account
    the module works as for root (for the messages), or None.

    A symlink at ``path`` is followed to its target, which must exist (dotfile managers link
    these files); the temp file and the rename happen in the target's real folder, the lock file
    stays beside the link (so a dotfiles repository gets no lock file).
    """
    folder_path = os.path.dirname(path)
    if os.path.islink(folder_path):
        _check_link(folder_path, "the folder of path", acting)
    if os.path.islink(path):
        _check_link(path, "path", acting)
        target = os.path.realpath(path)
        lock_folder = os.path.realpath(folder_path)
    else:
        target = path
        lock_folder = None
    folder_path, name = os.path.split(target)
    if os.path.isdir(target):
        raise is_a_folder(path, os.path.join)
    if os.path.lexists(folder_path) and not os.path.isdir(folder_path):
        raise Failure("%s (the folder of path) exists but is not a folder" % folder_path)
    # the folder of a symlinked file, or a symlinked folder: work in the real folder
    folder_path = os.path.realpath(folder_path)
    if lock_folder == folder_path:
        lock_folder = None
    return folder_path, name, lock_folder


def _expected_owner(uid):
    """The uid a file must belong to: ``owner`` when given, else the user the module runs as (not root)."""
    if uid is not None:
        return uid
    euid = os.geteuid()
    return None if euid == 0 else euid


def check_folder_owner(folder, uid, path):
    """Writing for a user (``owner`` given), the folder must be that user's: no redirect into root's folders."""
    if uid is None or folder.info.st_uid == uid:
        return
    raise Failure(
        "the folder %s (of %s) is owned by %s (uid %d), not by %s, the owner this task writes for; "
        "refusing to put a file for %s there. If the folder is right, give it to that user "
        "(chown %s %s) and run again."
        % (folder.path, path, user_name(folder.info.st_uid), folder.info.st_uid, user_name(uid), user_name(uid), user_name(uid), folder.path)
    )


def check_owner(info, uid, path, target):
    """A key is never written into a file that belongs to someone other than the expected owner."""
    expected = _expected_owner(uid)
    if expected is None or info.st_uid == expected:
        return
    shown = path if os.path.normpath(target) == os.path.normpath(os.path.abspath(path)) else "%s (%s)" % (path, target)
    raise Failure(
        "%s is owned by %s (uid %d), not by %s, the owner this task expects; refusing to write into a "
        "file another user controls. Check who should own it, fix it (chown %s %s) and run again."
        % (shown, user_name(info.st_uid), info.st_uid, user_name(expected), user_name(expected), target)
    )


def _check_link(path, what, acting):
    from ansible_collections.llmcloud.factory_droid.plugins.module_utils._path_checks import check_link  # only for a symlinked path

    check_link(path, what, acting)


class HelperFailure(Failure):
    """What one of ansible-core's file helpers reported through ``fail_json``: fails this file only."""


class FileView(object):
    """The module as ansible-core's file helpers (owner, group, mode, SELinux, attributes) see it
    for one file: that file's check flag, and a failure raised as :class:`HelperFailure` instead of
    ending the whole task. Methods of the module run bound to the view (so what they call on
    ``self`` is the view's); everything else is the module's. The module itself is never changed.
    """

    def __init__(self, module, check):
        self._module = module
        self.check_mode = check

    def fail_json(self, msg="", **_kwargs):
        raise HelperFailure(msg)

    def __getattr__(self, name):
        found = inspect.getattr_static(type(self._module), name, None)
        if inspect.isfunction(found):
            return types.MethodType(found, self)
        return getattr(self._module, name)


def apply_attributes(module, params, check, target, info, outcome, holds_secrets, warn):
    """Owner, group, mode, SELinux and attributes of the file as ``params`` ask (only looked at when
    ``check``); warns about loose modes. Returns whether the file changed (``outcome.changed``, or
    its attributes).

    A failure here (for example chattr refusing an attribute on this file system) fails the file
    with ``changed`` telling whether the content was written already.
    """
    changed = outcome.changed
    if not os.path.exists(target):
        return changed  # check mode, new file: nothing to compare yet
    file_args = module.load_file_common_arguments(params, path=target)
    try:
        changed = FileView(module, check).set_fs_attributes_if_different(file_args, changed)
    except HelperFailure as exc:
        raise Failure("%s%s" % (exc, " (the new content was written; only the file attributes are not as asked)" if changed else "")) from exc
    if info is None:
        return changed
    before = stat.S_IMODE(info.st_mode)
    if check:
        after = numeric_mode(params["mode"])  # symbolic modes are reported after a real run only
    else:
        after = stat.S_IMODE(os.stat(target).st_mode)
    if after is not None and before & 0o077 & ~after:
        warn("%s the mode of %s from %04o to %04o: it was open to group or others" % ("Would tighten" if check else "Tightened", params["path"], before, after))
    elif before & 0o044 and params["mode"] is None and holds_secrets(outcome.written):
        warn('%s holds secrets and is readable by group or others (mode %04o); set mode: "0600"' % (params["path"], before))
    return changed
