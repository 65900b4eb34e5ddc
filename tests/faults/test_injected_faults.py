"""Failures injected at each step of a write: the task fails with a clear message, the original
settings file stays intact byte for byte (and keeps its mode and mtime), and no temp file is left.

Real file-system faults where the kernel can produce them (a full tmpfs, a read-only bind mount,
an immutable folder or file) and syscall-level injection with strace for the steps a file system
cannot be told to fail on demand (fsync, rename, fchmod, fchown). Needs root (mount, chattr).
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _support import CANARY, STRACE, listing, observed_locks, record, run_module, snapshot, strace_prefix

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts and chattr need root")

KEYED = {"/customModels": ["model", "baseUrl"]}
VALUE = {"customModels": [{"model": "anthropic/claude-opus-4.6", "baseUrl": "https://llmcloud.studio", "provider": "anthropic", "apiKey": CANARY}]}
ORIGINAL = '{\n  // the developer\'s own settings\n  "theme": "dark",\n  "customModels": []\n}\n'


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


@pytest.fixture
def mounted(tmp_path):
    mounts = []

    def mount(*args: str, target) -> None:
        _sh("mount", *args, str(target))
        mounts.append(target)

    yield mount
    for target in reversed(mounts):
        subprocess.run(["umount", "-l", str(target)], check=False)


@pytest.fixture
def immutable():
    paths = []

    def set_(path) -> None:
        _sh("chattr", "+i", str(path))
        paths.append(path)

    yield set_
    for p in paths:
        subprocess.run(["chattr", "-i", str(p)], check=False)


def _seed(folder, text: str = ORIGINAL):
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / "settings.json"
    path.write_text(text)
    os.chmod(path, 0o600)
    return path


def _lock_names(tmp_path) -> set:
    """Names of lock files the module keeps beside the file (they may legitimately persist)."""
    log = tmp_path / "probe.strace"
    probe_dir = tmp_path / "probe"
    probe = _seed(probe_dir)
    run_module({"path": str(probe), "value": {"x": 1}}, prefix=strace_prefix(log, "-e", "trace=flock,fcntl"))
    return {os.path.basename(p) for _kind, p in observed_locks(log)}


def _check_failed_cleanly(res, path, before, before_listing, reason_words, lock_names, fault):
    assert res.failed, "%s: the run did not fail: %s" % (fault, res)
    assert res.data.get("changed") is not True, fault
    msg = res.msg
    assert msg, "%s: no message: %s" % (fault, res)
    assert "Traceback" not in msg and "Traceback" not in res.stderr, "%s: a traceback instead of a message: %s" % (fault, res)
    assert any(w.lower() in msg.lower() for w in reason_words), "%s: message does not say why (%s): %r" % (fault, reason_words, msg)
    assert CANARY not in msg and CANARY not in res.stdout and CANARY not in res.stderr, "%s: key in output" % fault
    assert snapshot(path) == before, "%s: the original changed" % fault
    after = {n: m for n, m in listing(path.parent).items() if n not in lock_names}
    assert after == before_listing, "%s: files left behind: %s" % (fault, sorted(set(after) - set(before_listing)))
    record("injected_fault", fault, msg=msg[:160])


def _run_fault(tmp_path, path, fault, reason_words, prefix=None, extra_args=None, lock_names=()):
    before = snapshot(path)
    before_listing = {n: m for n, m in listing(path.parent).items() if n not in lock_names}
    args = {"path": str(path), "value": VALUE, "keyed_lists": KEYED}
    args.update(extra_args or {})
    res = run_module(args, prefix=prefix)
    _check_failed_cleanly(res, path, before, before_listing, reason_words, set(lock_names), fault)
    return res


def test_no_space_left_on_device(tmp_path, mounted):
    locks = _lock_names(tmp_path)
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted("-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", target=mnt)
    folder = mnt / ".factory"
    padding = "x" * (600 * 1024)  # the file fills 60 % of the device: a second copy cannot fit
    path = _seed(folder, '{\n  // mine\n  "pad": "%s",\n  "customModels": []\n}\n' % padding)
    _run_fault(tmp_path, path, "ENOSPC writing the temp file", ["No space left", "ENOSPC", "space"], lock_names=locks)
    _run_fault(tmp_path, path, "ENOSPC writing the backup", ["No space left", "ENOSPC", "space", "backup"], extra_args={"backup": True}, lock_names=locks)


def test_read_only_folder(tmp_path, mounted):
    locks = _lock_names(tmp_path)
    folder = tmp_path / "ro" / ".factory"
    path = _seed(folder)
    mounted("--bind", str(folder), target=folder)
    _sh("mount", "-o", "remount,bind,ro", str(folder))
    _run_fault(tmp_path, path, "read-only folder (bind mount)", ["Read-only", "EROFS", "read only"], lock_names=locks)


def test_immutable_folder(tmp_path, immutable):
    locks = _lock_names(tmp_path)
    folder = tmp_path / "imm" / ".factory"
    path = _seed(folder)
    immutable(folder)
    _run_fault(tmp_path, path, "immutable folder (chattr +i)", ["Operation not permitted", "EPERM", "permission"], lock_names=locks)


def test_rename_onto_immutable_file_fails(tmp_path, immutable):
    locks = _lock_names(tmp_path)
    folder = tmp_path / "immf" / ".factory"
    path = _seed(folder)
    immutable(path)
    _run_fault(tmp_path, path, "immutable file (rename refused)", ["Operation not permitted", "EPERM", "permission"], lock_names=locks)


INJECTIONS = [
    ("rename refused (EPERM)", "rename,renameat,renameat2", errno.EPERM, ["Operation not permitted"]),
    ("rename across devices (EXDEV)", "rename,renameat,renameat2", errno.EXDEV, ["cross-device", "link"]),
    ("fsync fails (EIO)", "fsync,fdatasync", errno.EIO, ["Input/output error"]),
    ("chmod fails (EPERM)", "fchmod,chmod,fchmodat", errno.EPERM, ["Operation not permitted"]),
    ("reading the settings file fails (EIO)", "read,pread64,readv", errno.EIO, ["Input/output error"]),
]
# faults that must hit only the settings file itself (strace -P): every process reads other files
ONLY_THE_FILE = {"reading the settings file fails (EIO)"}


def _calls_made(tmp_path, calls: str) -> int:
    """How many of these syscalls an undisturbed run makes on a copy (0: the step does not exist)."""
    folder = tmp_path / "dry" / ".factory"
    path = _seed(folder)
    log = tmp_path / "dry.strace"
    res = run_module({"path": str(path), "value": VALUE, "keyed_lists": KEYED}, prefix=strace_prefix(log, "-e", "trace=%s" % calls))
    assert res.rc == 0, str(res)
    return sum(1 for line in log.read_text().splitlines() if "(" in line and "+++" not in line)


@pytest.mark.skipif(STRACE is None, reason="strace missing")
@pytest.mark.parametrize("fault,calls,err,words", INJECTIONS, ids=[i[0] for i in INJECTIONS])
def test_syscall_injection(tmp_path, fault, calls, err, words):
    if not _calls_made(tmp_path, calls):
        pytest.skip("the module makes no %s call, so this step does not exist" % calls)
    locks = _lock_names(tmp_path)
    path = _seed(tmp_path / "inj" / ".factory")
    name = errno.errorcode[err]
    only = ["-P", str(path)] if fault in ONLY_THE_FILE else []
    prefix = strace_prefix(tmp_path / "inject.strace", *only, "-e", "inject=%s:error=%s" % (calls, name))
    _run_fault(tmp_path, path, fault, words + [name], prefix=prefix, lock_names=locks)


@pytest.mark.skipif(STRACE is None, reason="strace missing")
def test_live_file_is_never_written_in_place(tmp_path):
    """Every write(2) to the live settings file fails: a module that edits in place would fail
    (and tear the file); one that writes a temp file and renames it does not notice."""
    path = _seed(tmp_path / "inplace" / ".factory")
    before = snapshot(path)
    prefix = strace_prefix(tmp_path / "inplace.strace", "-P", str(path), "-e", "inject=write,pwrite64,writev,pwritev,pwritev2,ftruncate,truncate:error=EIO")
    res = run_module({"path": str(path), "value": VALUE, "keyed_lists": KEYED}, prefix=prefix)
    assert res.rc == 0 and res.data.get("changed") is True, str(res)
    assert snapshot(path)[0] != before[0]
    assert '"theme": "dark"' in path.read_text()
    record("injected_fault", "in-place write detector: writes to the live file fail, the run does not notice")


# ---------------------------------------------------------------- in-process injection
# The backup is written beside the file under a name with the pid and a timestamp, so no file
# system trick can fail it alone. Here the module runs in this process (as its unit tests do)
# with os.open/os.write wrapped to fail only for the backup file; everything else is real.


def _run_in_process(args, fail_open=None, fail_write=None):
    import contextlib
    import importlib
    import io
    from unittest import mock

    from ansible.module_utils.testing import patch_module_args

    sys_path = str(Path(__file__).resolve().parents[2] / "build" / "collections")
    if sys_path not in sys.path:
        sys.path.insert(0, sys_path)
    mod = importlib.import_module("ansible_collections.llmcloud.factory_droid.plugins.modules.json_merge")
    real_open, real_write = os.open, os.write
    doomed = set()

    def fake_open(path, flags, mode=0o777, *a, **kw):
        if fail_open and fail_open(str(path), flags):
            raise OSError(fail_open.errno, os.strerror(fail_open.errno), str(path))
        fd = real_open(path, flags, mode, *a, **kw)
        if fail_write and fail_write(str(path), flags):
            doomed.add(fd)
        return fd

    def fake_write(fd, data):
        if fd in doomed:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    out = io.StringIO()
    with patch_module_args(args), mock.patch.object(os, "open", fake_open), mock.patch.object(os, "write", fake_write), contextlib.redirect_stdout(out):
        try:
            mod.main()
        except SystemExit:
            pass
    text = out.getvalue()
    from _support import Result, parse_result

    data = parse_result(text)
    return Result(1 if data.get("failed") else 0, text, "", 0.0, data)


def _is_backup(path, flags):
    return path.endswith("~") and bool(flags & os.O_CREAT)


_is_backup.errno = errno.EACCES


@pytest.mark.parametrize("how", ["backup cannot be created (EACCES)", "backup write fails (ENOSPC)"])
def test_unwritable_backup_location(tmp_path, how):
    locks = _lock_names(tmp_path)
    path = _seed(tmp_path / "bk" / ".factory")
    before = snapshot(path)
    before_listing = {n: m for n, m in listing(path.parent).items() if n not in locks}
    args = {"path": str(path), "value": VALUE, "keyed_lists": KEYED, "backup": True}
    if how.startswith("backup cannot"):
        res = _run_in_process(args, fail_open=_is_backup)
        words = ["Permission denied", "backup"]
    else:
        res = _run_in_process(args, fail_write=_is_backup)
        words = ["No space left", "backup"]
    assert "backup" in res.msg.lower(), res.msg
    _check_failed_cleanly(res, path, before, before_listing, words, locks, "unwritable backup: " + how)
