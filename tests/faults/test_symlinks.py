"""Symlinks planted where the module's temp or lock file would go are not followed.

What the module creates beside the settings file is observed with strace (openat with O_CREAT),
not assumed. Names that are the same on every run (a lock file, a fixed temp name) are where an
attacker with write access to the folder would plant a link; each gets a symlink to a victim file
outside the folder, and the victim must keep its bytes and mode (and a dangling link must not
bring its target into existence). Names that change from run to run must be created with O_EXCL,
which refuses to follow or reuse anything planted there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from _support import CANARY, STRACE, created_paths, mode_of, record, run_module, snapshot, strace_prefix

pytestmark = pytest.mark.skipif(STRACE is None, reason="strace missing")

KEYED = {"/customModels": ["model", "baseUrl"]}


def value(i: int) -> dict:
    return {"round": i, "customModels": [{"model": "m", "baseUrl": "https://llmcloud.studio", "provider": "anthropic", "apiKey": "%s-%d" % (CANARY, i)}]}


def _seed(folder):
    folder.mkdir(parents=True, mode=0o700)
    path = folder / "settings.json"
    path.write_text('{"theme": "dark"}\n')
    os.chmod(path, 0o600)
    return path


TRACE = "trace=openat,open,creat,mkdir,mkdirat,symlink,symlinkat,link,linkat,rename,renameat,renameat2"


def _creations(tmp_path, path, runs: int = 3):
    names = []
    for i in range(runs):
        log = tmp_path / ("create%d.strace" % i)
        res = run_module({"path": str(path), "value": value(i), "keyed_lists": KEYED, "backup": False}, prefix=strace_prefix(log, "-e", TRACE))
        assert res.rc == 0 and res.data.get("changed") is True, str(res)
        names.append(created_paths(log, path.parent))
    return names


def test_created_files_refuse_planted_links(tmp_path):
    # first runs in two fresh folders: what every run creates under the same name is predictable
    firsts = [_creations(tmp_path / ("fresh%d" % n), _seed(tmp_path / ("fresh%d" % n) / ".factory"), 1)[0] for n in range(2)]
    path = _seed(tmp_path / "home" / ".factory")
    runs = _creations(tmp_path, path) + firsts
    per_first = [{os.path.basename(p) for p, _flags in r} for r in firsts]
    per_run = [{os.path.basename(p) for p, _flags in r} for r in runs]
    assert all(per_run[:3]), "strace saw no file created beside the settings file: no temp file?"
    fixed = set.intersection(*per_first) - {"settings.json"}
    varying = set.union(*per_run) - fixed - {"settings.json"}
    for run in runs:
        for p, flags in run:
            name = os.path.basename(p)
            if name in varying:
                assert "O_EXCL" in flags, "%s is created without O_EXCL (%s): a planted link would be followed" % (name, flags)

    victims = tmp_path / "victims"
    victims.mkdir()
    planted = 0
    for name in sorted(fixed):
        victim = victims / ("victim-" + name)
        victim.write_text("precious, not the module's\n")
        os.chmod(victim, 0o644)
        before = snapshot(victim)
        link = path.parent / name
        if link.exists() or link.is_symlink():
            link.unlink()
        os.symlink(victim, link)
        dangling = victims / ("absent-" + name)
        res = run_module({"path": str(path), "value": value(10 + planted), "keyed_lists": KEYED})
        assert snapshot(victim) == before, "the module followed a symlink planted at %s" % name
        if not res.failed:
            assert json.loads(path.read_text())["round"] == 10 + planted
        else:
            assert name in res.msg or "link" in res.msg.lower(), res.msg
        # the same with a dangling link: its target must not appear
        if link.is_symlink():
            link.unlink()
        elif link.exists():
            link.unlink()
        os.symlink(dangling, link)
        run_module({"path": str(path), "value": value(20 + planted), "keyed_lists": KEYED})
        assert not dangling.exists(), "the module created %s through a link planted at %s" % (dangling, name)
        if link.is_symlink():
            link.unlink()
        planted += 1
    assert mode_of(path) == 0o600
    record("symlink_plants", planted, fixed_names=sorted(fixed), random_names_checked_for_O_EXCL=len(varying))


def test_settings_symlink_is_followed_and_stays_a_link(tmp_path):
    """Dotfile managers link settings.json: the target is updated, the link stays a link, and
    the temp file goes beside the target (same file system), not beside the link."""
    real = _seed(tmp_path / "dotfiles" / "factory")
    home = tmp_path / "home" / ".factory"
    home.mkdir(parents=True, mode=0o700)
    link = home / "settings.json"
    os.symlink(real, link)
    res = run_module({"path": str(link), "value": value(1), "keyed_lists": KEYED})
    assert res.rc == 0 and res.data.get("changed") is True, str(res)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert json.loads(real.read_text())["round"] == 1
    assert mode_of(real) == 0o600
    # beside the link: only the lock file (issue 12: it must not land in a dotfiles repository)
    assert sorted(os.listdir(home)) == [".settings.json.lock", "settings.json"], os.listdir(home)
    assert sorted(os.listdir(real.parent)) == ["settings.json"], os.listdir(real.parent)


# ------------------------------------------------------------------ issue 12: dotfiles, dangling links, loops
def _git(repo, *args):
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1"),
    ).stdout.decode()


@pytest.mark.skipif(shutil.which("git") is None, reason="git missing")
def test_dotfiles_repository_shows_only_the_modified_file(tmp_path):
    repo = tmp_path / "dotfiles"
    real = _seed(repo / "factory")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "mine")
    home = tmp_path / "home" / ".factory"
    home.mkdir(parents=True, mode=0o700)
    os.symlink(real, home / "settings.json")
    for i in range(2):  # a write, then a run that changes nothing
        res = run_module({"path": str(home / "settings.json"), "value": value(1), "keyed_lists": KEYED})
        assert res.rc == 0 and res.data.get("changed") is (i == 0), str(res)
    status = _git(repo, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert status == [" M factory/settings.json"], status
    record("dotfiles_git_status", status)


def test_dangling_link_fails_naming_the_target_and_creates_nothing(tmp_path):
    home = tmp_path / "home" / ".factory"
    home.mkdir(parents=True, mode=0o700)
    target = tmp_path / "dotfiles" / "factory" / "settings.json"
    os.symlink(target, home / "settings.json")
    for check in (True, False):
        res = run_module({"path": str(home / "settings.json"), "value": value(1)}, check=check)
        assert res.failed and res.data.get("changed") is False, str(res)
        assert str(target) in res.msg and "does not exist" in res.msg and "dangling" in res.msg, res.msg
    assert not (tmp_path / "dotfiles").exists()
    assert os.listdir(home) == ["settings.json"]


@pytest.mark.parametrize("shape", ["self", "pair", "folder"])
def test_link_loop_is_reported_as_a_loop(tmp_path, shape):
    home = tmp_path / "home" / ".factory"
    home.mkdir(parents=True, mode=0o700)
    if shape == "self":
        os.symlink("settings.json", home / "settings.json")
        path = home / "settings.json"
    elif shape == "pair":
        os.symlink("b.json", home / "settings.json")
        os.symlink("settings.json", home / "b.json")
        path = home / "settings.json"
    else:
        os.rmdir(home)
        os.symlink(".factory", home)  # ~/.factory -> itself
        path = home / "settings.json"
    res = run_module({"path": str(path), "value": value(1)})
    assert res.failed and res.data.get("changed") is False, str(res)
    assert "loop" in res.msg, res.msg
    assert "Traceback" not in res.stdout + res.stderr
