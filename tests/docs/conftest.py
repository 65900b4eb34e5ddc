"""Fixtures of the documentation tests (tests/docs, run by `make doc-tests` via tests/docs/run.sh).

Each test takes a documented block by its ID (hacking/doc_blocks.py) and runs it as written, with
only the placeholders a reader would fill in replaced (the repository URL by a local git
repository). hacking/doc_blocks.py --check (in `make lint`) verifies that every block of
README.md and docs/ is marked as run by one of these tests, or says why it cannot run here.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "hacking"))
sys.path.insert(0, str(ROOT / "tests" / "support"))

import doc_blocks  # noqa: E402

WORK = ROOT / "build" / "docs-tests"


def block(block_id):
    """The documented block marked ``block_id``."""
    return doc_blocks.block(block_id)


def core_version():
    text = (ROOT / "requirements" / "dev.txt").read_text()
    return re.search(r"^ansible-core==(\S+)", text, re.M).group(1)


@pytest.fixture(scope="session")
def core_only_venv():
    """A virtualenv with ansible-core and its dependencies only (no `ansible` package, no other
    collection), on the system's Python, which every user can run: what a laptop has after
    `pipx install ansible-core`. Built once into build/docs-tests/."""
    version = core_version()
    venv = WORK / ("venv-core-" + version)
    if not (venv / "bin" / "ansible-pull").exists():
        shutil.rmtree(venv, ignore_errors=True)
        python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
        subprocess.run([python, "-m", "venv", str(venv)], check=True, stdin=subprocess.DEVNULL)
        subprocess.run(
            [
                str(venv / "bin" / "pip"),
                "install",
                "-q",
                "--disable-pip-version-check",
                "ansible-core==" + version,
                "-c",
                str(ROOT / "requirements" / "constraints.txt"),
            ],
            check=True,
            stdin=subprocess.DEVNULL,
        )
    listed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True).stdout
    assert not re.search(r"^ansible==", listed, re.M), "the core-only venv holds the ansible package"
    return venv


@pytest.fixture
def developer_home():
    """A developer's home under /tmp, removed afterwards; returns (home, runas prefix).

    As root: a throw-away account (useradd) whose passwd home is that folder, as on a laptop
    (Ansible finds its temporary folder through the passwd home; `nobody`'s is /nonexistent),
    deleted afterwards. As another user: that user, with HOME pointed at the folder.
    """
    home = Path(tempfile.mkdtemp(prefix="byok-doc-home-", dir="/tmp"))
    prefix, account = [], None
    if os.geteuid() == 0:
        account = "byokdoc%s" % secrets.token_hex(3)
        subprocess.run(["useradd", "--home-dir", str(home), "--no-create-home", "--shell", "/bin/bash", "--user-group", account], check=True)
        user = pwd.getpwnam(account)
        os.chown(home, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", account, "--"]
    home.chmod(0o700)
    try:
        yield home, prefix
    finally:
        if account:
            subprocess.run(["userdel", account], check=False)
        shutil.rmtree(home, ignore_errors=True)


def chown_like(path: Path, like: Path):
    """Give a tree to the owner of ``like`` (the developer's home)."""
    info = like.stat()
    for folder, dirs, files in os.walk(path):
        for name in [folder] + [os.path.join(folder, n) for n in dirs + files]:
            os.lchown(name, info.st_uid, info.st_gid)


def run_as(prefix, home: Path, script: str, path: str, stdin: str = "", timeout: float = 600):
    """Run a shell script as the developer, with a clean environment (HOME, PATH, LANG only)."""
    env = {"HOME": str(home), "PATH": path, "LANG": "C.UTF-8"}
    return subprocess.run(
        [*prefix, "env", "-i", *("%s=%s" % item for item in env.items()), "/bin/bash", "-e", "-c", script],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(home),
        check=False,
    )
