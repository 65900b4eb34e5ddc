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
"""

from __future__ import annotations

import errno
import fcntl
import grp
import os
import pwd
import re
import stat
import time

from ansible_collections.llmcloud.factory_droid.plugins.module_utils._merge_pipeline import (
    Failure,
    grew_too_big,
    number,
    numeric_mode,
    too_big,
)


def _os_error(action, path, exc):
    reason = exc.strerror or str(exc)
    name = errno.errorcode.get(exc.errno, '') if exc.errno else ''
    return Failure('%s %s: %s%s' % (action, path, reason, ' (%s)' % name if name else ''))


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
            raise Failure('owner %s does not exist on the target' % owner)


def gid_of(group):
    if group is None:
        return None
    try:
        return int(group)
    except ValueError:
        try:
            return grp.getgrnam(group).gr_gid
        except KeyError:
            raise Failure('group %s does not exist on the target' % group)


def _user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _fsync(fd):
    os.fsync(fd)
    if hasattr(fcntl, 'F_FULLFSYNC'):  # macOS: flush the drive's cache too
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


_DIR_FLAGS = os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0) | os.O_NOFOLLOW | getattr(os, 'O_CLOEXEC', 0)


def make_folders(folder, uid, gid):
    """Create missing folders (0700 whatever the umask, owned by uid/gid when given); return them."""
    missing = []
    current = folder
    while not os.path.isdir(current):
        if os.path.lexists(current):
            raise Failure('%s (a parent of path) exists but is not a folder' % current)
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for created in reversed(missing):
        parent, name = os.path.split(created)
        try:
            parent_fd = os.open(parent or '.', _DIR_FLAGS)
        except OSError as exc:
            raise _os_error('could not open the folder', parent, exc)
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
            raise _os_error('could not create the folder', created, exc)
        finally:
            os.close(parent_fd)
    return list(reversed(missing))


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
                raise Failure('%s became a symlink while the task ran; refusing to follow it' % path)
            raise _os_error('could not open the folder', path, exc)
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
    """flock on ``.<name>.lock`` beside the file: never follows a symlink, created 0600, kept afterwards."""

    def __init__(self, folder, name, timeout, exclusive, create):
        self.folder = folder
        self.name = '.%s.lock' % name
        self.path = folder.join(self.name)
        self.timeout = timeout
        self.exclusive = exclusive
        self.create = create
        self.fd = None

    def __enter__(self):
        flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, 'O_CLOEXEC', 0) | os.O_NONBLOCK
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
            if exc.errno == errno.ENOENT:     # check mode and no lock file yet: nothing to lock
                return self
            if exc.errno == errno.ELOOP:
                raise Failure('the lock file %s is a symlink; refusing to follow it (remove it and run again)' % self.path)
            raise _os_error('could not open the lock file', self.path, exc)
        info = os.fstat(self.fd)
        if not stat.S_ISREG(info.st_mode):
            self._close()
            raise Failure('the lock file %s is not a regular file; remove it and run again' % self.path)
        if created:
            try:
                os.fchmod(self.fd, 0o600)
                folder = self.folder.info
                if os.geteuid() == 0 and (folder.st_uid, folder.st_gid) != (info.st_uid, info.st_gid):
                    os.fchown(self.fd, folder.st_uid, folder.st_gid)   # the folder's owner can lock it too
            except OSError as exc:
                self._close()
                raise _os_error('could not set up the lock file', self.path, exc)
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
                    raise _os_error('could not lock', self.path, exc)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._close()
                raise Failure('could not take the lock on %s within lock_timeout=%s seconds: another run of '
                              'llmcloud.factory_droid.json_merge (or a tool using the same lock file) is still working on '
                              'the file. Nothing was changed; run again later or raise lock_timeout.'
                              % (self.path, number(self.timeout)))
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.25)

    def _close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __exit__(self, *exc_info):
        self._close()       # closing releases the flock
        return False


def read_file(folder, name, max_size):
    """(bytes, stat) of the file, or (None, None) when it does not exist."""
    path = folder.join(name)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0)
    try:
        fd = os.open(name, flags, dir_fd=folder.fd)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None, None
        if exc.errno == errno.ELOOP:
            raise Failure('%s became a symlink while the task ran; refusing to follow it' % path)
        if exc.errno == errno.EISDIR:
            raise Failure('%s is a folder, not a file: give the path of the file inside it' % path)
        raise _os_error('could not read', path, exc)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise Failure('%s is a folder, not a file: give the path of the file inside it, e.g. %s'
                          % (path, os.path.join(path, 'settings.json')))
        if not stat.S_ISREG(info.st_mode):
            raise Failure('%s is not a regular file' % path)
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
        return b''.join(chunks), info
    except OSError as exc:
        raise _os_error('could not read', path, exc)
    finally:
        os.close(fd)


def remove_stale_temps(folder, name):
    """Temp files a killed run left behind (only ever removed while the exclusive lock is held)."""
    pattern = re.compile(r'^\.%s\.[0-9a-f]{12}\.tmp$' % re.escape(name))
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
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, 'O_CLOEXEC', 0)
    for name in names:
        try:
            return name, os.open(name, flags, 0o600, dir_fd=folder.fd)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                continue
            raise _os_error('could not create the %s' % what, folder.join(name), exc)
    raise Failure('could not find a free name for the %s in %s' % (what, folder.path))


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _unlink_quietly(folder, name):
    try:
        os.unlink(name, dir_fd=folder.fd)
    except OSError:
        pass


def write_backup(folder, name, data, info, holds_secrets):
    """Copy of the original beside it: 0600 when it holds secrets, never looser than the original."""
    stamp = time.strftime('%Y-%m-%d@%H:%M:%S~', time.localtime())
    names = ['%s.%s.%s' % (name, os.getpid(), stamp)] + ['%s.%s.%d.%s' % (name, os.getpid(), n, stamp)
                                                         for n in range(1, 50)]
    backup, fd = _create_exclusive(folder, names, 'backup file')
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
        raise _os_error('could not write the backup', folder.join(backup), exc)
    os.close(fd)
    return folder.join(backup)


def write_atomic(module, folder, name, data, info, uid, gid, mode):
    """Temp file (0600, O_EXCL|O_NOFOLLOW) in the same folder, fsync, rename over the file, fsync the folder.

    The new file gets its final owner, group and mode before the rename: those of the file it
    replaces unless uid/gid/mode (numeric) are given, 0600 for a new file.
    """
    remove_stale_temps(folder, name)
    temps = ('.%s.%s.tmp' % (name, os.urandom(6).hex()) for attempt in range(50))
    temp, fd = _create_exclusive(folder, temps, 'temporary file')
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
            raise _os_error('could not write the temporary file', folder.join(temp), exc)
        finally:
            os.close(fd)
        if module.selinux_enabled():
            target = folder.join(name)
            context = module.selinux_context(target) if info is not None else module.selinux_default_context(target)
            module.set_context_if_different(folder.join(temp), context, False)
        try:
            os.rename(temp, name, src_dir_fd=folder.fd, dst_dir_fd=folder.fd)
        except OSError as exc:
            raise _os_error('could not replace %s with' % folder.join(name), folder.join(temp), exc)
        temp = None
        try:
            _fsync_folder_fd(folder.fd)
        except OSError as exc:
            raise _os_error('wrote the file but could not sync its folder', folder.path, exc)
    finally:
        if temp is not None:
            _unlink_quietly(folder, temp)




# ------------------------------------------------------------------ where the file is, who owns it
def locate(path):
    """(folder, name) of the file ``path`` names: a symlink's target, in its real folder."""
    target = os.path.realpath(path) if os.path.islink(path) else os.path.abspath(path)
    folder_path, name = os.path.split(target)
    if os.path.isdir(target):
        raise Failure('%s is a folder, not a file: give the path of the file inside it, e.g. %s'
                      % (path, os.path.join(path, 'settings.json')))
    if os.path.lexists(folder_path) and not os.path.isdir(folder_path):
        raise Failure('%s (the folder of path) exists but is not a folder' % folder_path)
    # the folder of a symlinked file, or a symlinked folder: work in the real folder
    return os.path.realpath(folder_path), name


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
    raise Failure('the folder %s (of %s) is owned by %s (uid %d), not by %s, the owner this task writes for; '
                  'refusing to put a file for %s there. If the folder is right, give it to that user '
                  '(chown %s %s) and run again.'
                  % (folder.path, path, _user_name(folder.info.st_uid), folder.info.st_uid, _user_name(uid),
                     _user_name(uid), _user_name(uid), folder.path))


def check_owner(info, uid, path, target):
    """A key is never written into a file that belongs to someone other than the expected owner."""
    expected = _expected_owner(uid)
    if expected is None or info.st_uid == expected:
        return
    shown = path if os.path.normpath(target) == os.path.normpath(os.path.abspath(path)) else '%s (%s)' % (path, target)
    raise Failure('%s is owned by %s (uid %d), not by %s, the owner this task expects; refusing to write into a '
                  'file another user controls. Check who should own it, fix it (chown %s %s) and run again.'
                  % (shown, _user_name(info.st_uid), info.st_uid, _user_name(expected), _user_name(expected),
                     target))


def apply_attributes(module, target, info, written, changed, names):
    """Owner, group, mode, SELinux and attributes of the file as the task asks; warns about loose modes."""
    params = module.params
    if not os.path.exists(target):
        return changed            # check mode, new file: nothing to compare yet
    file_args = module.load_file_common_arguments(params, path=target)
    changed = module.set_fs_attributes_if_different(file_args, changed)
    if info is None:
        return changed
    before = stat.S_IMODE(info.st_mode)
    if module.check_mode:
        after = numeric_mode(params['mode'])      # symbolic modes are reported after a real run only
    else:
        after = stat.S_IMODE(os.stat(target).st_mode)
    if after is not None and before & 0o077 & ~after:
        module.warn('%s the mode of %s from %04o to %04o: it was open to group or others'
                    % ('Would tighten' if module.check_mode else 'Tightened', params['path'], before, after))
    elif before & 0o044 and params['mode'] is None and written is not None and written.has_keys(names):
        module.warn('%s holds secrets and is readable by group or others (mode %04o); set mode: "0600"'
                    % (params['path'], before))
    return changed
