"""Concurrent runs against one settings file: nothing lost, and lock contention is loud.

Several module processes start together, each merging its own top-level key and its own keyed
customModels item into the same file. Every one of them must report success and every key and
item must be in the file afterwards (a lost update is the classic failure of read-merge-write
without a lock). Then the lock is held from outside with the very primitive the module uses
(observed with strace, not assumed), and a run with a short lock_timeout must fail with a message
about the lock, leave the file untouched, and not return before the timeout.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time

import _standin
import pytest
from _standin import needs_root, wait_until_open
from _support import CANARY, STRACE, finish, observed_locks, record, run_module, snapshot, start_module, strace_prefix

WRITERS = int(os.environ.get("FAULTS_WRITERS", "12"))
ROUNDS = int(os.environ.get("FAULTS_WRITER_ROUNDS", "4"))
standin = _standin.standin  # the fixture, used by name below

KEYED = {"/customModels": ["model", "baseUrl"]}


def writer_value(r: int, k: int) -> dict:
    return {
        "writer%02d" % k: {"round": r, "token": "%s-w%d" % (CANARY, k)},
        "customModels": [{"model": "writer/%02d" % k, "baseUrl": "https://llmcloud.studio", "provider": "anthropic", "apiKey": "%s-%d" % (CANARY, k)}],
    }


def seed_file(path, r: int) -> dict:
    doc = {
        "userSetting": "keep me",
        "round": r,
        "customModels": [{"model": "mine", "baseUrl": "https://example.invalid", "provider": "openai"}],
        "padding": ["x" * 100] * 3000,
    }  # ~300 KiB: each run spends real time reading and writing
    path.write_text(json.dumps(doc, indent=2))
    os.chmod(path, 0o600)
    return doc


def test_concurrent_writers_lose_nothing(tmp_path):
    folder = tmp_path / ".factory"
    folder.mkdir(mode=0o700)
    path = folder / "settings.json"
    total = 0
    slowest = 0.0
    for r in range(ROUNDS):
        seed = seed_file(path, r)
        procs = []
        for k in range(WRITERS):
            args = {"path": str(path), "value": writer_value(r, k), "keyed_lists": KEYED, "lock_timeout": 120}
            procs.append((k, time.monotonic(), start_module(args)))
        results = [(k, finish(p, t0, timeout=300)) for k, t0, p in procs]
        for k, res in results:
            assert res.rc == 0 and not res.failed, "writer %d round %d: %s" % (k, r, res)
            assert res.data.get("changed") is True, "writer %d round %d reported no change" % (k, r)
            slowest = max(slowest, res.seconds)
        doc = json.loads(path.read_text())
        for k in range(WRITERS):
            assert doc.get("writer%02d" % k) == writer_value(r, k)["writer%02d" % k], "round %d: writer %d's key was lost" % (r, k)
        models = [m["model"] for m in doc["customModels"]]
        assert models[0] == "mine", "the user's own entry moved or vanished"
        assert sorted(models[1:]) == ["writer/%02d" % k for k in range(WRITERS)], models
        assert doc["userSetting"] == "keep me" and doc["padding"] == seed["padding"]
        total += WRITERS
    record("concurrent_writers", WRITERS, rounds=ROUNDS, total_runs=total, slowest_run_seconds=round(slowest, 2))


def _lock_of(tmp_path, path):
    log = tmp_path / "lock.strace"
    res = run_module({"path": str(path), "value": {"probe": 1}, "lock_timeout": 5}, prefix=strace_prefix(log, "-e", "trace=flock,fcntl,fcntl64"))
    assert res.rc == 0, str(res)
    locks = observed_locks(log)
    assert locks, "the module took no flock/fcntl write lock around read-merge-write"
    return locks[0]


def _hold(primitive: str, lock_path: str):
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    if primitive == "flock":
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


@pytest.mark.parametrize("timeout", [1, 3])
def test_lock_contention_fails_loudly(tmp_path, timeout):
    folder = tmp_path / ".factory"
    folder.mkdir(mode=0o700)
    path = folder / "settings.json"
    path.write_text('{\n  // mine\n  "a": 1\n}\n')
    os.chmod(path, 0o600)
    primitive, lock_path = _lock_of(tmp_path, path)
    before = snapshot(path)
    fd = _hold(primitive, lock_path)
    try:
        res = run_module({"path": str(path), "value": {"b": 2}, "lock_timeout": timeout}, timeout=timeout + 60)
    finally:
        os.close(fd)
    assert res.failed, "a run that could not take the lock must fail, not skip: %s" % res
    assert res.data.get("changed") is not True
    assert "lock" in res.msg.lower(), res.msg
    assert str(timeout) in res.msg, "the message should name the timeout: %r" % res.msg
    assert res.seconds >= timeout, "returned after %.2fs, before lock_timeout=%s" % (res.seconds, timeout)
    assert snapshot(path) == before, "the file changed although the lock was never acquired"
    record("lock_contention", timeout, primitive=primitive, seconds=round(res.seconds, 2), msg=res.msg[:200])


def test_waiting_run_proceeds_when_lock_is_released(tmp_path):
    folder = tmp_path / ".factory"
    folder.mkdir(mode=0o700)
    path = folder / "settings.json"
    path.write_text('{"a": 1}\n')
    os.chmod(path, 0o600)
    primitive, lock_path = _lock_of(tmp_path, path)
    fd = _hold(primitive, lock_path)
    timer = threading.Timer(1.5, os.close, args=(fd,))
    timer.start()
    try:
        res = run_module({"path": str(path), "value": {"b": 2}, "lock_timeout": 30})
    finally:
        timer.join()
    assert res.rc == 0 and res.data.get("changed") is True, str(res)
    assert res.seconds >= 1.0, "the run did not wait for the lock (%.2fs)" % res.seconds
    assert json.loads(path.read_text()) == {"a": 1, "probe": 1, "b": 2}


# ------------------------------------------------------------------ issue 17: writers and swaps between two steps
def _temp_files(folder) -> list:
    return [n for n in os.listdir(folder) if n.startswith(".settings.json.") and n.endswith(".tmp")]


@pytest.mark.skipif(STRACE is None, reason="strace missing")
def test_a_lockless_writer_renaming_a_new_version_in_is_not_lost(tmp_path):
    """droid saves its settings (temp file + rename, no lock) while a merge runs: the merge must
    notice before its own rename and merge into droid's version instead of dropping it.
    Deterministic: strace holds the module's first fsync (its temp file is complete, the rename
    not done) for 1.5 s; the test renames droid's version in as soon as the temp file appears."""
    folder = tmp_path / ".factory"
    folder.mkdir(mode=0o700)
    path = folder / "settings.json"
    seed = seed_file(path, 0)
    prefix = strace_prefix(tmp_path / "hold.strace", "-e", "trace=fsync", "-e", "inject=fsync:delay_enter=1500000:when=1")
    started = time.monotonic()
    proc = start_module({"path": str(path), "value": writer_value(0, 1), "keyed_lists": KEYED}, prefix=prefix)
    deadline = time.monotonic() + 60
    while not _temp_files(folder):
        assert time.monotonic() < deadline and proc.poll() is None, "the module wrote no temp file"
        time.sleep(0.005)
    droid = dict(seed, droidSaved={"by": "droid", "while": "the merge ran"})
    (folder / "droid.tmp").write_text(json.dumps(droid, indent=2))
    os.rename(folder / "droid.tmp", path)
    res = finish(proc, started)
    assert res.rc == 0 and res.data.get("changed") is True, str(res)
    doc = json.loads(path.read_text())
    assert doc.get("droidSaved") == droid["droidSaved"], "droid's save was silently dropped"
    assert doc.get("writer01") == writer_value(0, 1)["writer01"], "the merge was dropped"
    assert _temp_files(folder) == []
    record("lockless_writer", "renamed in during the merge: detected, merged again", seconds=round(res.seconds, 2))


def _settings_for(entry):
    from pathlib import Path

    return Path(entry.pw_dir) / ".factory" / "settings.json"


def _held_lock(lock_path):
    fd = os.open(str(lock_path), os.O_RDONLY | os.O_NOFOLLOW)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


@needs_root
def test_user_swaps_the_file_for_a_link_while_the_module_waits_for_the_lock(standin):
    alice = standin.user()
    args = {"path": "~/.factory/settings.json", "user": alice.pw_name, "value": {"a": 1}}
    assert run_module(args).rc == 0
    path = _settings_for(alice)
    lock = path.parent / ".settings.json.lock"
    secret = standin.folder("etc/private", 0o700) / "daemon.json"
    secret.write_text('{"rootSecret": "root-only-%s"}\n' % CANARY)
    os.chmod(secret, 0o600)
    before = snapshot(secret)
    fd = _held_lock(lock)
    started = time.monotonic()
    try:
        proc = start_module(dict(args, value={"b": 2}))
        wait_until_open(proc.pid, lock)  # the module waits for the lock now
        os.unlink(path)  # alice swaps her file for a link to root's
        os.symlink(secret, path)
        os.lchown(path, alice.pw_uid, alice.pw_gid)
    finally:
        os.close(fd)
    res = finish(proc, started)
    assert res.failed and res.data.get("changed") is False, str(res)
    assert snapshot(secret) == before and os.listdir(secret.parent) == ["daemon.json"]
    assert "root-only" not in res.stdout
    record("lock_race", "file swapped for a link to a root-only file while waiting: refused", msg=res.msg[:160])


@needs_root
def test_user_swaps_the_folder_while_the_module_waits_for_the_lock(standin):
    alice = standin.user()
    args = {"path": "~/.factory/settings.json", "user": alice.pw_name, "value": {"a": 1}}
    assert run_module(args).rc == 0
    path = _settings_for(alice)
    lock = path.parent / ".settings.json.lock"
    system = standin.folder("etc/systemd/system")
    fd = _held_lock(lock)
    started = time.monotonic()
    try:
        proc = start_module(dict(args, value={"b": 2}))
        wait_until_open(proc.pid, lock)
        moved = path.parent.with_name(".factory.moved")
        os.rename(path.parent, moved)  # alice swaps ~/.factory for a link to a root folder
        os.symlink(system, path.parent)
        os.lchown(path.parent, alice.pw_uid, alice.pw_gid)
    finally:
        os.close(fd)
    res = finish(proc, started)
    assert os.listdir(system) == [], "root wrote into the root-owned folder: %s" % os.listdir(system)
    if not res.failed:  # it finished in the folder it had opened
        assert json.loads((moved / "settings.json").read_text()) == {"a": 1, "b": 2}
    record("lock_race", "folder swapped for a link to a root folder while waiting: nothing written there", failed=res.failed, msg=res.msg[:160])


_READLINK = {"x86_64": (89, 267), "aarch64": (78,)}.get(os.uname().machine, ())  # readlink, readlinkat


def _in_syscall(sid: int, numbers) -> bool:
    """True when a process of session ``sid`` is stopped inside one of the syscalls ``numbers``."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                if int(f.read().rsplit(")", 1)[1].split()[3]) != sid:
                    continue
            with open("/proc/%s/syscall" % pid) as f:
                first = f.read().split()[0]
        except (OSError, IndexError, ValueError):
            continue
        if first.isdigit() and int(first) in numbers:
            return True
    return False


@needs_root
@pytest.mark.skipif(STRACE is None or not _READLINK, reason="strace missing, or no syscall numbers for this machine")
def test_owner_only_link_swapped_to_a_dangling_root_target_creates_nothing(standin, tmp_path):
    """owner: alice, no user. Alice's link points at her own file when the module checks it, and at
    <root folder>/ssh.service.d/override.conf when the module resolves it. Deterministic: strace holds
    the module's readlink of the link (-P: that path only) while the test swaps the link."""
    from pathlib import Path

    alice = standin.user()
    factory = Path(alice.pw_dir) / ".factory"
    factory.mkdir(mode=0o700)
    real = factory / "real.json"
    real.write_text("{}\n")
    link = factory / "settings.json"
    os.symlink(real, link)
    for item in (factory, real, link):
        standin.as_user(alice, item)
    system = standin.folder("etc/systemd/system")
    target = system / "ssh.service.d" / "override.conf"
    prefix = strace_prefix(
        tmp_path / "swap.strace", "-P", str(link), "-e", "trace=readlink,readlinkat", "-e", "inject=readlink,readlinkat:delay_enter=2000000:when=1"
    )
    started = time.monotonic()
    proc = start_module({"path": str(link), "owner": alice.pw_name, "value": {"theme": "dark"}}, prefix=prefix)
    try:
        deadline = time.monotonic() + 60
        while not _in_syscall(proc.pid, _READLINK):
            assert time.monotonic() < deadline and proc.poll() is None, "the module never read the link"
            time.sleep(0.005)
        os.unlink(link)  # alice swaps the link while it is being resolved
        os.symlink(target, link)
        standin.as_user(alice, link)
    finally:
        res = finish(proc, started)
    assert not (system / "ssh.service.d").exists(), "root created %s owned by uid %d" % (target.parent, os.lstat(target.parent).st_uid)
    assert os.listdir(system) == [] and res.failed, str(res)
    record("lock_race", "owner only: link swapped to a dangling root target while resolved: nothing created", msg=res.msg[:160])
