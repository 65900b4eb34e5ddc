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
import json
import os
import pwd
import re
import stat
import time
import traceback

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


_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


# the account a forked child works as (run_as), for messages; None in the module's own process
_ACTING_AS = [None]


def _not_created(created, parent, exc):
    failure = _os_error("could not create the folder", created, exc)
    name = _ACTING_AS[0]
    if name is None or exc.errno not in (errno.EACCES, errno.EPERM):
        return failure
    return Failure(
        "%s. Running as root for %s, the module works as %s, who may not create folders in %s, and root "
        "never creates them in its place: create %s for %s (or fix the path), then run again" % (failure, name, name, parent, created, name)
    )


def make_folders(folder, uid, gid):
    """Create missing folders (0700 whatever the umask, owned by uid/gid when given); return them."""
    missing = []
    current = folder
    while True:
        try:
            if stat.S_ISDIR(os.stat(current).st_mode):
                break
            raise Failure("%s (a parent of path) exists but is not a folder" % current)
        except OSError as exc:
            if exc.errno == errno.EACCES and _ACTING_AS[0] is not None:
                who = _ACTING_AS[0]
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
            raise _not_created(created, parent, exc) from exc
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
            raise _not_created(created, parent, exc) from exc
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
                _ACTING_AS[0] = entry.pw_name
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


def _check_link(path, what):
    """A symlink at ``path`` must lead somewhere: a loop or a dangling link fails, naming the target."""
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
        if exc.errno == errno.EACCES and _ACTING_AS[0] is not None:
            name = _ACTING_AS[0]
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


def locate(path):
    """(folder, name, lock folder) of the file ``path`` names.

    A symlink at ``path`` is followed to its target, which must exist (dotfile managers link
    these files); the temp file and the rename happen in the target's real folder, the lock file
    stays beside the link (so a dotfiles repository gets no lock file).
    """
    folder_path = os.path.dirname(path)
    if os.path.islink(folder_path):
        _check_link(folder_path, "the folder of path")
    if os.path.islink(path):
        _check_link(path, "path")
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


class _AttributeFailure(Exception):
    pass


def _raise_failure(msg="", **_kwargs):
    raise _AttributeFailure(msg)


def apply_attributes(module, target, info, written, changed, holds_secrets, warn):
    """Owner, group, mode, SELinux and attributes of the file as the task asks; warns about loose modes.

    A failure here (for example chattr refusing an attribute on this file system) fails the task
    with ``changed`` telling whether the content was written already.
    """
    params = module.params
    if not os.path.exists(target):
        return changed  # check mode, new file: nothing to compare yet
    file_args = module.load_file_common_arguments(params, path=target)
    saved = module.fail_json
    module.fail_json = _raise_failure
    try:
        changed = module.set_fs_attributes_if_different(file_args, changed)
    except _AttributeFailure as exc:
        raise Failure("%s%s" % (exc, " (the new content was written; only the file attributes are not as asked)" if changed else "")) from exc
    finally:
        module.fail_json = saved
    if info is None:
        return changed
    before = stat.S_IMODE(info.st_mode)
    if module.check_mode:
        after = numeric_mode(params["mode"])  # symbolic modes are reported after a real run only
    else:
        after = stat.S_IMODE(os.stat(target).st_mode)
    if after is not None and before & 0o077 & ~after:
        warn(
            "%s the mode of %s from %04o to %04o: it was open to group or others"
            % ("Would tighten" if module.check_mode else "Tightened", params["path"], before, after)
        )
    elif before & 0o044 and params["mode"] is None and holds_secrets(written):
        warn('%s holds secrets and is readable by group or others (mode %04o); set mode: "0600"' % (params["path"], before))
    return changed
