"""Stand-in developers for the tests where root writes for another user (issue 17).

A throw-away account made with ``useradd`` for one test and removed afterwards, and a sandbox
under /tmp that every user can traverse (pytest's own tmp_path is root-only 0700, which no
stand-in could enter). The sandbox and the folders in it are root's unless a test gives them
away; nothing here touches the real /etc, /srv or /home.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="useradd and writing for another user need root")


class Sandbox:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="jm-standin-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        self.users: list[str] = []

    def folder(self, relative: str, mode: int = 0o755) -> Path:
        """A root-owned folder (and its parents) inside the sandbox."""
        path = self.root / relative
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, mode)
        return path

    def user(self, home: Path | None = None, create_home: bool = True) -> pwd.struct_passwd:
        """A new account whose passwd home is ``home`` (default: <sandbox>/home/<name>), owned by it, 0700."""
        name = "jm%s" % secrets.token_hex(4)
        home = home or self.root / "home" / name
        subprocess.run(["useradd", "-M", "-U", "-d", str(home), "-s", "/bin/sh", name], check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        self.users.append(name)
        entry = pwd.getpwnam(name)
        if create_home:
            home.parent.mkdir(parents=True, exist_ok=True)
            home.mkdir(mode=0o700)
            os.chown(home, entry.pw_uid, entry.pw_gid)
        return entry

    def as_user(self, entry: pwd.struct_passwd, path: Path) -> Path:
        """Give ``path`` (a file, folder or link the "developer" made) to the user, without following links."""
        os.lchown(path, entry.pw_uid, entry.pw_gid)
        return path

    def close(self) -> None:
        for name in self.users:
            subprocess.run(["userdel", name], check=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def standin():
    box = Sandbox()
    try:
        yield box
    finally:
        box.close()


def session_fds(sid: int) -> list[str]:
    """Paths open in any process of session ``sid`` (the module and the child it forks)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = Path("/proc/%s/stat" % pid).read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) != sid:
                continue
            for fd in os.listdir("/proc/%s/fd" % pid):
                try:
                    found.append(os.readlink("/proc/%s/fd/%s" % (pid, fd)))
                except OSError:
                    pass
        except (OSError, IndexError, ValueError):
            continue
    return found


def wait_until_open(sid: int, path: Path, timeout: float = 30) -> None:
    """Block until a process of the session holds ``path`` open (the module waits for the lock)."""
    deadline = time.monotonic() + timeout
    wanted = str(path)
    while time.monotonic() < deadline:
        if wanted in session_fds(sid):
            return
        time.sleep(0.02)
    raise AssertionError("the module never opened %s" % path)
