"""A home folder for the `nobody` account, for the tests where root writes for another user.

The json_merge module acts inside another user's home with that user's identity (issue 17), so
the home must be owned by the user and reachable by them: pytest's own temporary folders are
0700 root. This one is made under /tmp (1777) and removed afterwards. Import the fixture into a
test module to use it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def nobody_home():
    nobody = pwd.getpwnam("nobody")
    home = Path(tempfile.mkdtemp(prefix="byok-nobody-home-", dir="/tmp"))
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    home.chmod(0o700)
    yield home
    shutil.rmtree(home, ignore_errors=True)
