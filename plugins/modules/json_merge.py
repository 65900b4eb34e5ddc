#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2025, LLMCloud Factory Droid collection maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: json_merge
short_description: Merge a JSON document into a JSON or JSONC file in one idempotent, atomic call
version_added: 0.1.0
description:
  - Reads a JSON or JSONC file (JSON with C(//) and C(/* */) comments, such as Factory Droid's C(~/.factory/settings.json)),
    merges O(value) into it, and writes the result back only when the parsed document changes.
  - Objects merge recursively; scalars and arrays are replaced, except arrays named in O(keyed_lists), whose items are
    matched by identity fields, merged field by field, kept in place, and new items appended (never sorted).
  - Only the spans that change are rewritten, in the manner of VS Code's jsonc-parser C(modify). Comments, blank lines,
    key order, indentation and every other byte survive; a plain JSON file stays plain JSON.
  - A file that does not parse (including a trailing comma, a duplicated key, a byte-order mark or invalid UTF-8, which
    the droid client rejects too) fails the task with its line and column and is left untouched.
  - Writes are atomic and durable (a C(0600) temporary file in the same folder, fsync, rename, fsync of the folder) and
    happen under an advisory lock (a C(.<name>.lock) file beside the file), so concurrent runs lose no update.
    A symlink at O(path) is followed; its target is updated and the link stays a link.
  - Values of keys named in O(redact) are masked as C(********) in the diff, the returned values, error messages and
    the module invocation that Ansible logs on the target; O(value) itself is never logged.
author:
  - LLMCloud Factory Droid collection maintainers (@llmcloud)
extends_documentation_fragment:
  - ansible.builtin.files
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
options:
  path:
    description:
      - The JSON or JSONC file to merge into, for example C(~/.factory/settings.json).
      - C(~) expands on the target, for the user the module runs as.
      - When it is a symlink, its target is read and written and the link stays a link.
    type: path
    required: true
  value:
    description:
      - The document to merge, an object.
      - With O(state=present), keys it names are added or updated; keys it does not name keep their value and position.
      - With O(state=absent), keys it names are removed. A key whose value is a non-empty object removes only the
        keys named inside it; a key of a keyed list whose value is a list removes only the items it names by identity;
        any other value (for example V(null)) removes the key itself.
      - Never logged by Ansible. Values of keys named in O(redact) are masked wherever the module reports them.
    type: dict
    default: {}
  state:
    description:
      - V(present) merges O(value) into the file; V(absent) removes what O(value) names.
    type: str
    choices: [present, absent]
    default: present
  keyed_lists:
    description:
      - Arrays whose items are matched by identity instead of being replaced as a whole, as a mapping of a JSON pointer
        (for example V(/customModels)) to the list of fields that identify an item (for example V([model, baseUrl])).
      - An item of O(value) that matches an item of the file is merged into it field by field; fields it does not name
        (such as the C(id) and C(index) the droid client writes) stay and cause no change, and the item keeps its
        position. Items of O(value) that match nothing are appended. Items of the file that match nothing stay where
        they are, as do items of the file that lack an identity field.
      - Every item of O(value) in a keyed list must be an object holding every identity field.
      - Pointers lead through object keys only (a C(/) before each key; C(~1) stands for C(/) and C(~0) for C(~)).
    type: dict
    default: {}
  prune:
    description:
      - Removes items of keyed lists that are not in O(value), as a mapping of a JSON pointer named in O(keyed_lists) to
        a mapping of field names to regular expressions (Python syntax, searched anywhere in the field's text; anchor
        with C(^) and C($)).
      - An item is removed when it matches every regular expression and O(value) does not hold an item with its
        identity. This is how managed items that are no longer wanted disappear while the user's own items stay.
      - Applies whether or not O(value) names the list.
    type: dict
    default: {}
  create:
    description:
      - Create the file, and missing parent folders, when it does not exist.
      - New folders get mode C(0700) and new files C(0600) (unless O(mode) says otherwise), owned by O(owner) and O(group)
        when given. With V(false), a missing file fails the task.
    type: bool
    default: true
  backup:
    description:
      - Before changing the file, copy it beside itself under a name that includes a timestamp, as
        M(ansible.builtin.copy) does.
      - The backup is never readable by more users than the original, and is C(0600) when the original holds a key
        named in O(redact).
    type: bool
    default: false
  redact:
    description:
      - Names of keys whose values are secrets, compared without regard to case, at any depth (inside keyed-list items
        too).
      - Their values show as C(********) in the diff, in the returned values and in error messages, and their text is
        masked wherever else it would appear in the module's output. Secrets shorter than 4 characters are masked by
        key only.
    type: list
    elements: str
    default: [apiKey, api_key, apiKeyHelper, token, secret, password, authorization]
  indent:
    description:
      - Indentation of new text. V(auto) takes the unit the file already uses (2 spaces for a new file); V(tab) indents
        with tabs; a number from 1 to 16 is a count of spaces.
      - Existing text is never reformatted.
    type: str
    default: auto
  lock_timeout:
    description:
      - Seconds to wait for the lock that another run (or another tool using the same lock file) holds on the file.
        When it expires the task fails, naming the lock, and nothing is changed.
    type: float
    default: 30
  max_size:
    description:
      - Largest file, in bytes, the module reads; a bigger file fails the task untouched.
    type: int
    default: 33554432
notes:
  - The lock file C(.<name>.lock) (mode C(0600), owned like the folder) stays beside the file; removing it is harmless.
  - Paths reported in RV(operations) for V(remove) point into the file as it was; those for V(add) and V(replace) into
    the file as it becomes.
  - O(indent) only shapes text the module writes; to reformat a whole file, use a formatter.
seealso:
  - module: ansible.builtin.copy
  - module: community.general.ini_file
"""

EXAMPLES = r"""
- name: Add the LLMCloud models to Factory Droid, keeping the user's own settings and models
  llmcloud.factory_droid.json_merge:
    path: ~/.factory/settings.json
    value:
      customModels:
        - model: anthropic/claude-sonnet-4.6
          displayName: Claude Sonnet 4.6
          provider: anthropic
          baseUrl: https://llmcloud.studio
          apiKey: "{{ vault_llmcloud_api_key }}"
    keyed_lists:
      /customModels: [model, baseUrl]
    prune:
      /customModels:
        baseUrl: ^https://llmcloud\.studio(/v1)?$
    mode: "0600"

- name: Write another user's settings as root, with a backup
  llmcloud.factory_droid.json_merge:
    path: /home/alice/.factory/settings.json
    value:
      sessionDefaultSettings:
        model: custom:Claude-Sonnet-4.6-0
    owner: alice
    group: alice
    backup: true

- name: Remove one model and a top-level key
  llmcloud.factory_droid.json_merge:
    path: ~/.factory/settings.json
    state: absent
    value:
      customModels:
        - model: google/gemini-3-pro-preview
          baseUrl: https://llmcloud.studio/v1
      sessionDefaultSettings:
    keyed_lists:
      /customModels: [model, baseUrl]
"""

RETURN = r"""
path:
  description: The path as given, with C(~) expanded.
  returned: always
  type: str
  sample: /home/alice/.factory/settings.json
operations:
  description:
    - What changed (or would change in check mode), as JSON pointer operations. Never holds values.
    - V(remove) paths point into the file as it was; V(add) and V(replace) paths into the file as it becomes.
  returned: always
  type: list
  elements: dict
  contains:
    op:
      description: The kind of change.
      type: str
      choices: [add, replace, remove]
      sample: add
    path:
      description: JSON pointer of the key or list item.
      type: str
      sample: /customModels/3
  sample: [{op: replace, path: /customModels/0/apiKey}, {op: add, path: /customModels/3}]
backup_file:
  description: Name of the backup copy of the original file.
  returned: changed and O(backup=true) and the file existed
  type: str
  sample: /home/alice/.factory/settings.json.2345.2025-01-31@12:00:00~
diff:
  description:
    - The file's text before and after, with secrets masked as C(********).
  returned: diff mode
  type: dict
  contains:
    before:
      description: The text before the change (empty for a new file).
      type: str
    after:
      description: The text after the change.
      type: str
    before_header:
      description: The file's path.
      type: str
    after_header:
      description: The file's path.
      type: str
uid:
  description: Numeric owner of O(path) after the run (of the link itself when O(path) is a symlink).
  returned: when the file exists
  type: int
  sample: 1000
gid:
  description: Numeric group of O(path) after the run.
  returned: when the file exists
  type: int
  sample: 1000
owner:
  description: Owner name of O(path) after the run.
  returned: when the file exists
  type: str
  sample: alice
group:
  description: Group name of O(path) after the run.
  returned: when the file exists
  type: str
  sample: alice
mode:
  description: Permissions of O(path) after the run, in octal.
  returned: when the file exists
  type: str
  sample: '0600'
size:
  description: Size of O(path) in bytes after the run.
  returned: when the file exists
  type: int
  sample: 2048
state:
  description: V(file), or V(link) when O(path) is a symlink.
  returned: when the file exists
  type: str
  sample: file
secontext:
  description: SELinux context of O(path).
  returned: when the file exists and SELinux is enabled
  type: str
  sample: unconfined_u:object_r:user_home_t:s0
"""

import errno
import fcntl
import gc
import grp
import os
import pwd
import re
import stat
import time
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.llmcloud.factory_droid.plugins.module_utils._jsonc import (
    JSONCError,
    decode_bytes,
    dumps,
    parse,
)
from ansible_collections.llmcloud.factory_droid.plugins.module_utils._json_merge import (
    DEFAULT_REDACT,
    MergeError,
    collect_secrets,
    make_aligner,
    mask_text,
    merge,
    redact,
)

MIB = 1024 * 1024
_LONE_SURROGATE = re.compile(r'(\\+)u[dD]([89abAB][0-9a-fA-F]{2}|[c-fC-F][0-9a-fA-F]{2})')


class Failure(Exception):
    """A failure the user can fix; the message is shown as is (after masking)."""


def _os_error(action, path, exc):
    reason = exc.strerror or str(exc)
    name = errno.errorcode.get(exc.errno, '') if exc.errno else ''
    return Failure('%s %s: %s%s' % (action, path, reason, ' (%s)' % name if name else ''))


# ------------------------------------------------------------------ owners and modes
def _uid(owner):
    if owner is None:
        return None
    try:
        return int(owner)
    except ValueError:
        try:
            return pwd.getpwnam(owner).pw_uid
        except KeyError:
            raise Failure('owner %s does not exist on the target' % owner)


def _gid(group):
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
                              % (self.path, _number(self.timeout)))
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.25)

    def _close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __exit__(self, *exc_info):
        self._close()       # closing releases the flock
        return False


def _number(value):
    return ('%d' % value) if float(value).is_integer() else ('%s' % value)


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
            raise Failure('%s is %.1f MiB, more than max_size (%s bytes, %.1f MiB); it was left untouched'
                          % (path, info.st_size / float(MIB), max_size, max_size / float(MIB)))
        chunks = []
        total = 0
        while True:
            chunk = os.read(fd, 1024 * 1024)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_size:
                raise Failure('%s grew past max_size (%s bytes) while it was read; it was left untouched'
                              % (path, max_size))
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


# ------------------------------------------------------------------ the run
def _check_surrogates(text):
    """JSON strings must be valid Unicode: a \\uD800-\\uDFFF escape must be half of a pair."""
    if '\\ud' not in text and '\\uD' not in text:
        return
    position = 0
    pending_high = None
    for match in _LONE_SURROGATE.finditer(text):
        if len(match.group(1)) % 2 == 0:
            continue      # an escaped backslash followed by "u": not an escape
        start = match.start() + len(match.group(1)) - 1
        high = match.group(2)[0].lower() in '89ab'
        if pending_high is not None:
            if not high and start == pending_high + 6:
                pending_high = None
                continue
            position = pending_high
            break
        if high:
            pending_high = start
        else:
            position = start
            break
    else:
        if pending_high is None:
            return
        position = pending_high
    raise JSONCError('a \\u escape encodes half of a surrogate pair (not valid Unicode); write the character itself',
                     text, position)


def _indent(value):
    text = str(value).strip().lower()
    if text == 'auto':
        return None
    if text in ('tab', '\t'):
        return '\t'
    if re.match(r'^[0-9]+$', text) and 1 <= int(text) <= 16:
        return int(text)
    raise Failure('indent must be auto, tab or a number of spaces from 1 to 16, not %s' % value)


class Run(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.names = self.params['redact'] if self.params['redact'] is not None else list(DEFAULT_REDACT)
        self.value = self.params['value'] or {}
        self.secrets = collect_secrets(self.value, self.names) if isinstance(self.value, dict) else set()
        # Ansible masks every leaf string of a no_log option in all output (so "anthropic" would
        # vanish from every diff); mask the real secrets instead, everywhere.
        module.no_log_values = set(self.secrets)
        args = dict(self.params)
        args['value'] = redact(self.value, self.names) if isinstance(self.value, dict) else '********'
        self.invocation = {'module_args': args}
        self.result = {'changed': False, 'operations': []}

    def mask(self, text):
        return mask_text(text, self.secrets)

    def fail(self, msg, **extra):
        result = dict(self.result)
        result.update(extra)
        result['msg'] = self.mask(msg)
        self.module.fail_json(invocation=self.invocation, **result)

    def run(self):
        # JSON data holds no reference cycles: pausing the cyclic collector keeps multi-MiB files linear
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._run()
        except Failure as exc:
            self.fail(str(exc))
        except (JSONCError, MergeError) as exc:
            self.fail(str(exc))
        except Exception as exc:  # pylint: disable=broad-except
            self.fail('unexpected error: %s: %s' % (type(exc).__name__, to_native(exc)),
                      exception=self.mask(traceback.format_exc()))
        finally:
            if collecting:
                gc.enable()
        self.module.exit_json(invocation=self.invocation, **self.result)

    def _run(self):
        module, params = self.module, self.params
        path = params['path']
        if not path:
            raise Failure('path must not be empty: give the file to merge into, e.g. ~/.factory/settings.json')
        indent = _indent(params['indent'])
        if params['lock_timeout'] < 0:
            raise Failure('lock_timeout must be 0 or more seconds, not %s' % _number(params['lock_timeout']))
        if params['max_size'] <= 0:
            raise Failure('max_size must be a positive number of bytes, not %s' % params['max_size'])
        state = params['state']
        keyed, prune = params['keyed_lists'] or {}, params['prune'] or {}
        merge({}, {}, keyed, prune, state)            # option errors before any I/O
        self.result['path'] = path
        check = module.check_mode
        uid, gid = _uid(params['owner']), _gid(params['group'])

        target = os.path.realpath(path) if os.path.islink(path) else os.path.abspath(path)
        folder_path, name = os.path.split(target)
        if os.path.isdir(target):
            raise Failure('%s is a folder, not a file: give the path of the file inside it, e.g. %s'
                          % (path, os.path.join(path, 'settings.json')))
        if os.path.lexists(folder_path) and not os.path.isdir(folder_path):
            raise Failure('%s (the folder of path) exists but is not a folder' % folder_path)
        # the folder of a symlinked file, or a symlinked folder: work in the real folder
        folder_path = os.path.realpath(folder_path)
        target = os.path.join(folder_path, name)
        if not os.path.isdir(folder_path):
            if not params['create']:
                raise Failure('%s does not exist (nor its folder %s) and create is false' % (path, folder_path))
            if state == 'absent':
                return                               # nothing there, nothing to remove
            if check:
                self._change(None, None, None, None, target, indent)
                return
            make_folders(folder_path, uid, gid)

        with Folder(folder_path) as folder:
            self._check_folder_owner(folder, uid, path)
            with FileLock(folder, name, params['lock_timeout'], exclusive=not check, create=not check):
                data, info = read_file(folder, name, params['max_size'])
                if data is None:
                    if not params['create']:
                        raise Failure('%s does not exist and create is false' % path)
                    if state == 'absent':
                        return
                    self._change(folder, None, None, None, target, indent)
                    return
                self._check_owner(info, uid, path, target)
                text = decode_bytes(data)
                try:
                    _check_surrogates(text)
                    doc = parse(text, allow_empty=True)
                except JSONCError as exc:
                    raise Failure('%s: %s. The file was left untouched.' % (path, exc))
                self._change(folder, doc, data, info, target, indent)

    @staticmethod
    def _expected_owner(uid):
        """The uid a file must belong to: ``owner`` when given, else the user the module runs as (not root)."""
        if uid is not None:
            return uid
        euid = os.geteuid()
        return None if euid == 0 else euid

    def _check_folder_owner(self, folder, uid, path):
        """Writing for a user (``owner`` given), the folder must be that user's: no redirect into root's folders."""
        if uid is None or folder.info.st_uid == uid:
            return
        raise Failure('the folder %s (of %s) is owned by %s (uid %d), not by %s, the owner this task writes for; '
                      'refusing to put a file for %s there. If the folder is right, give it to that user '
                      '(chown %s %s) and run again.'
                      % (folder.path, path, _user_name(folder.info.st_uid), folder.info.st_uid, _user_name(uid),
                         _user_name(uid), _user_name(uid), folder.path))

    def _check_owner(self, info, uid, path, target):
        """A key is never written into a file that belongs to someone other than the expected owner."""
        expected = self._expected_owner(uid)
        if expected is None or info.st_uid == expected:
            return
        shown = path if os.path.normpath(target) == os.path.normpath(os.path.abspath(path)) else '%s (%s)' % (path, target)
        raise Failure('%s is owned by %s (uid %d), not by %s, the owner this task expects; refusing to write into a '
                      'file another user controls. Check who should own it, fix it (chown %s %s) and run again.'
                      % (shown, _user_name(info.st_uid), info.st_uid, _user_name(expected), _user_name(expected),
                         target))

    def _change(self, folder, doc, data, info, target, indent):
        module, params = self.module, self.params
        existing = doc.value if doc is not None else {}
        new_doc, operations = merge(existing, self.value, params['keyed_lists'], params['prune'], params['state'])
        self.result['operations'] = operations
        exists = doc is not None
        content_changed = bool(operations) or not exists or (doc.empty and params['state'] == 'present')
        new_text = None
        if content_changed:
            if exists:
                new_text = doc.update(new_doc, make_aligner(params['keyed_lists']), indent)
            else:
                new_text = dumps(new_doc, indent if indent is not None else 2)
            written = parse(new_text, max_depth=None)   # the values were checked: only the edits are
            if written.value != new_doc:        # a structural check of the edits, at C speed
                raise Failure('internal error: the edited text does not read back as the merged document; '
                              'nothing was written (please report this)')
            if module._diff:
                self._diff(doc, written, target)
        else:
            written = doc
        changed = content_changed
        if content_changed and not module.check_mode:
            uid, gid = _uid(params['owner']), _gid(params['group'])
            name = os.path.basename(target)
            if params['backup'] and exists:
                self.result['backup_file'] = write_backup(folder, name, data, info, doc.has_keys(self.names))
            write_atomic(module, folder, name, new_text.encode('utf-8'), info, uid, gid, _numeric_mode(params['mode']))
        changed = self._attributes(target, info, written, changed)
        self.result['changed'] = changed

    def _diff(self, doc, written, target):
        secrets = set(self.secrets)
        if doc is not None:
            secrets |= collect_secrets({'k': doc.values_at_keys(self.names)}, ['k'])
        self.module.no_log_values |= secrets
        before = doc.redacted_text(self.names, secrets) if doc is not None else ''
        after = written.redacted_text(self.names, secrets)
        self.result['diff'] = {'before': before, 'after': after, 'before_header': self.params['path'],
                               'after_header': self.params['path']}

    def _attributes(self, target, info, written, changed):
        module, params = self.module, self.params
        if not os.path.exists(target):
            return changed            # check mode, new file: nothing to compare yet
        file_args = module.load_file_common_arguments(params, path=target)
        changed = module.set_fs_attributes_if_different(file_args, changed)
        if info is None:
            return changed
        before = stat.S_IMODE(info.st_mode)
        if module.check_mode:
            after = _numeric_mode(params['mode'])      # symbolic modes are reported after a real run only
        else:
            after = stat.S_IMODE(os.stat(target).st_mode)
        if after is not None and before & 0o077 & ~after:
            module.warn('%s the mode of %s from %04o to %04o: it was open to group or others'
                        % ('Would tighten' if module.check_mode else 'Tightened', params['path'], before, after))
        elif before & 0o044 and params['mode'] is None and written is not None and written.has_keys(self.names):
            module.warn('%s holds secrets and is readable by group or others (mode %04o); set mode: "0600"'
                        % (params['path'], before))
        return changed


def _numeric_mode(mode):
    """An octal mode given as a string or a number, or None (not given, or symbolic)."""
    if mode is None:
        return None
    if isinstance(mode, int):
        return mode & 0o7777
    try:
        return int(str(mode), 8) & 0o7777
    except ValueError:
        return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            value=dict(type='dict', default={}, no_log=True),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            keyed_lists=dict(type='dict', default={}, no_log=False),
            prune=dict(type='dict', default={}),
            create=dict(type='bool', default=True),
            backup=dict(type='bool', default=False),
            redact=dict(type='list', elements='str', default=list(DEFAULT_REDACT)),
            indent=dict(type='str', default='auto'),
            lock_timeout=dict(type='float', default=30),
            max_size=dict(type='int', default=32 * MIB),
        ),
        supports_check_mode=True,
        add_file_common_args=True,
    )
    Run(module).run()


if __name__ == '__main__':
    main()
