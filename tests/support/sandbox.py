# Copyright: contributors to llmcloud.factory_droid
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sandbox harness shared by the role tests (tests/role) and the fault tests (tests/faults).

Both suites run the real ``ansible-playbook playbooks/onboard.yml`` against a sandbox home (a
temporary folder, never the real ~), with the key in a file encrypted by the real
``ansible-vault``. This module holds what they share: the environment Ansible runs with, running a
playbook and reading its recap, encrypting a vault, and a sandbox home with a local inventory.
Each suite's conftest (tests/role/conftest.py) or support module (tests/faults/_support.py)
builds its own sandbox on :class:`SandboxHome` and re-exports what its tests import.

Tools come from the Python environment running the tests (``sys.executable``'s folder), so a
checkout tested with another virtualenv (``make VENV=...``) never needs a ``.venv`` of its own.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / "build" / "collections"
PYTHON = sys.executable
BIN = Path(sys.executable).parent
ONBOARD = ROOT / "playbooks" / "onboard.yml"


def ansible_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every Ansible command: this checkout's config and collection, no colour.

    ANSIBLE_* variables of the calling shell are dropped, so that a test sees the same settings
    wherever it runs; ``extra`` adds or overrides.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        {
            "PATH": str(BIN) + os.pathsep + os.environ.get("PATH", ""),
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
            "ANSIBLE_FORCE_COLOR": "false",
            "ANSIBLE_NOCOLOR": "true",
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    if extra:
        env.update(extra)
    return env


@dataclass
class PlaybookRun:
    """What an ansible-playbook run printed (stdout and stderr together), its status and time."""

    rc: int
    output: str
    seconds: float

    @property
    def recap(self) -> dict[str, int]:
        """The PLAY RECAP counters of the first host listed (fails the test when there is none)."""
        match = re.search(r"^\S+\s*: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", self.output, re.MULTILINE)
        assert match, "no PLAY RECAP in:\n" + self.output
        return dict(zip(("ok", "changed", "unreachable", "failed", "skipped"), map(int, match.groups())))

    @property
    def changed(self) -> int:
        return self.recap["changed"]

    def __str__(self) -> str:  # shown by pytest when an assertion fails
        return "rc=%s\n%s" % (self.rc, self.output[-6000:])


def recap(output: str, host: str = "localhost") -> dict[str, int]:
    """The PLAY RECAP counters of the last play for a host (ok, changed, failed, ...); {} if none."""
    found = re.findall(r"^%s\s*:\s*(.*)$" % re.escape(host), output, re.M)
    if not found:
        return {}
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", found[-1])}


def _umask_fn(umask: int | None):
    if umask is None:
        return None

    def fn() -> None:
        os.umask(umask)

    return fn


def run_playbook(
    playbook: Path | str,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    log: Path | None = None,
    prefix: list[str] | None = None,
    umask: int | None = None,
    cwd: Path | str | None = None,
) -> PlaybookRun:
    """ansible-playbook with stdin from /dev/null (Ansible refuses non-blocking stdio).

    The output goes through a file, not a pipe, so that a run that leaves children behind
    cannot hang the test on a pipe that never closes.
    """
    cmd = list(prefix or []) + [str(BIN / "ansible-playbook"), str(playbook), *args]
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, open(os.devnull, "rb") as devnull:
        proc = subprocess.run(
            cmd,
            stdin=devnull,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=ansible_env(env),
            timeout=timeout,
            cwd=str(cwd or ROOT),
            preexec_fn=_umask_fn(umask),
            check=False,
        )
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if log is not None:
        log.write_text(text)
    return PlaybookRun(proc.returncode, text, time.monotonic() - started)


def encrypt_vault(path: Path, password_file: Path, vault_id: str | None = None) -> None:
    """Encrypt a vars file in place with the real ansible-vault."""
    secret = ("--vault-id", "%s@%s" % (vault_id, password_file)) if vault_id else ("--vault-password-file", str(password_file))
    done = subprocess.run(
        [str(BIN / "ansible-vault"), "encrypt", *secret, str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ansible_env(),
        check=False,
    )
    assert done.returncode == 0, done.stdout


def write_password(path: Path) -> Path:
    """A random vault password in a 0600 file."""
    path.write_text(secrets.token_urlsafe(24) + "\n")
    path.chmod(0o600)
    return path


def local_inventory(path: Path, host: str = "localhost", **host_vars) -> Path:
    """An inventory file with one host reached by the local connection, with this Python."""
    variables = {"ansible_connection": "local", "ansible_python_interpreter": PYTHON}
    variables.update(host_vars)
    path.write_text(json.dumps({"all": {"hosts": {host: variables}}}))
    return path


class SandboxHome:
    """A folder holding a sandbox home (``home``), for runs of playbooks/onboard.yml against it."""

    def __init__(self, base: Path):
        self.base = base
        self.home = base / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.factory = self.home / ".factory"
        self.settings_path = self.factory / "settings.json"

    def run_onboard(self, *args: str, playbook: Path | None = None, **kwargs) -> PlaybookRun:
        """Run playbooks/onboard.yml (or another playbook) with the given arguments."""
        return run_playbook(playbook or ONBOARD, *args, **kwargs)


def strip_comments(text: str) -> str:
    """JSONC -> JSON (// and /* */ outside strings), enough for the files these tests write."""
    out, i, in_string = [], 0, False
    while i < len(text):
        char = text[i]
        if in_string:
            out.append(char)
            if char == "\\":
                out.append(text[i + 1])
                i += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            out.append(char)
        elif text.startswith("//", i):
            i = text.find("\n", i)
            i = len(text) if i < 0 else i
            continue
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)
