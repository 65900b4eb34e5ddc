"""Fixtures of the byok role tests (tests/role, run by `make role-tests` via tests/role/run.sh).

Every test runs the real `ansible-playbook playbooks/onboard.yml` on a sandbox home (a temporary
folder, never the real ~), with its variables in a throw-away inventory whose key sits in a
vault encrypted by the real `ansible-vault` (the harness shared with tests/faults:
tests/support/sandbox.py). The result is judged by the real droid client (the npm platform
package, cached outside the checkout) run with HOME=<sandbox>, and by the loopback stand-in for
LLMCloud's API (tests/support/llmcloud_standin.py), which records every request.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

# Re-exported: the tests import it from here (from conftest import ansible_env).
from sandbox import (  # noqa: E402  # pylint: disable=unused-import
    ROOT,
    PlaybookRun,
    SandboxHome,
    ansible_env,  # noqa: F401 - re-exported
    encrypt_vault,
    local_inventory,
    strip_comments,
    write_password,
)

STANDIN = ROOT / "tests" / "support" / "llmcloud_standin.py"
INSTALL_DROID = ROOT / "hacking" / "install-droid.sh"
DROID_VERSION = os.environ.get("DROID_VERSION", "0.225.2")
LEGACY_DROID_VERSION = "0.109.3"
CATALOG = yaml.safe_load((ROOT / "roles" / "byok" / "defaults" / "main.yml").read_text())["byok_catalog"]
CATALOG_IDS = [item["id"] for item in CATALOG]
CATALOG_NAMES = {item["id"]: item["display_name"] for item in CATALOG}
ME = pwd.getpwuid(os.getuid()).pw_name

# One key for the whole session, only ever stored encrypted in the test vaults. Tests assert it
# never shows up in Ansible's output.
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="writing files owned by another user needs root")

KEY = "llmc-test-" + secrets.token_hex(16)
OTHER_KEY = "llmc-other-" + secrets.token_hex(16)


# -- the vault ----------------------------------------------------------------------------------


@dataclass
class Vault:
    password_file: Path
    vault_file: Path
    vault_id: str


@pytest.fixture(scope="session")
def vault(tmp_path_factory):
    """A vault (real ansible-vault) holding KEY as vault_llmcloud_api_key and OTHER_KEY."""
    folder = tmp_path_factory.mktemp("vault")
    password = write_password(folder / "password")
    plain = folder / "vault.yml"
    plain.write_text(yaml.safe_dump({"vault_llmcloud_api_key": KEY, "vault_llmcloud_other_key": OTHER_KEY}))
    encrypt_vault(plain, password, vault_id="test")
    text = plain.read_text()
    assert text.startswith("$ANSIBLE_VAULT;1.2;AES256;test") and KEY not in text
    return Vault(password, plain, "test@%s" % password)


# -- running the playbook ---------------------------------------------------------------------

# A run of the playbook: rc, output, seconds, recap and changed (tests/support/sandbox.py).
Run = PlaybookRun


class Sandbox(SandboxHome):
    """A sandbox home plus a throw-away inventory whose variables the test sets."""

    def __init__(self, base: Path, vault: Vault):
        super().__init__(base)
        self.inventory = base / "inventory"
        (self.inventory / "group_vars" / "all").mkdir(parents=True)
        shutil.copy(vault.vault_file, self.inventory / "group_vars" / "all" / "vault.yml")
        local_inventory(self.inventory / "hosts.yml", host="sandbox")
        self.vault = vault
        self.runs = []

    def settings(self):
        return json.loads(strip_comments(self.settings_path.read_text()))

    def user(self, **extra):
        """A byok_users entry for the user running the tests, at the sandbox home."""
        return dict({"name": ME, "home": str(self.home)}, **extra)

    def play(self, variables=None, *args, env=None, default_user=False, check=True):
        """Run playbooks/onboard.yml with `variables` (the key comes from the vault)."""
        variables = dict(variables or {})
        variables.setdefault("byok_api_key", "{{ vault_llmcloud_api_key }}")
        if not default_user:
            variables.setdefault("byok_users", [self.user()])
        (self.inventory / "group_vars" / "all" / "vars.yml").write_text(yaml.safe_dump(variables, sort_keys=False))
        extra_env = dict(env or {})
        if default_user:
            extra_env["HOME"] = str(self.home)  # the connecting user's ~ is the sandbox
        run = self.run_onboard("-i", str(self.inventory / "hosts.yml"), "--vault-id", self.vault.vault_id, *args, env=extra_env, cwd=self.base, timeout=300)
        self.runs.append(run)
        assert KEY not in run.output and OTHER_KEY not in run.output, "the key leaked into Ansible's output"
        if check:
            assert run.rc == 0, run.output
        return run

    def snapshot(self):
        """Every file under the sandbox home: content hash, mtime and mode (to prove nothing changed)."""
        state = {}
        for path in sorted(self.home.rglob("*")):
            info = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
            state[str(path.relative_to(self.home))] = (digest, info.st_mtime_ns, oct(info.st_mode))
        return state

    def files_containing(self, text):
        return [str(p) for p in self.home.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


@pytest.fixture
def sandbox(tmp_path, vault):
    return Sandbox(tmp_path, vault)


# -- the droid client ---------------------------------------------------------------------------


class Droid:
    def __init__(self, binary: str, version: str):
        self.binary = binary
        self.version = version

    def run(self, home, *args, env=None, timeout=120):
        environment = {k: v for k, v in os.environ.items() if k not in ("LLMCLOUD_API_KEY", "FACTORY_API_KEY")}
        environment.update({"HOME": str(home), "NO_COLOR": "1", "CI": "1"})
        environment.update(env or {})
        done = subprocess.run(
            [self.binary, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, env=environment, timeout=timeout, cwd=str(home), check=False
        )
        return done

    def models(self, home):
        """[(id, display name)] of the custom models droid loads from `home`, in its order."""
        done = self.run(home, "exec", "--list-tools", "-m", "custom:does-not-exist")
        text = done.stdout + done.stderr
        assert "Available custom models:" in text, text
        listed = text.split("Available custom models:", 1)[1].split("\n\n", 1)[0]
        return re.findall(r"(custom:\S+) \(([^)]*)\)", listed)

    def doctor(self, home):
        done = self.run(home, "doctor", "--config", "--json")
        report = json.loads(done.stdout[done.stdout.index("{") :])
        return report

    def exec(self, home, *args, env=None):
        return self.run(home, "exec", *args, env=env)


def _install(version):
    done = subprocess.run(["bash", str(INSTALL_DROID), version], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1200, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def droid():
    return Droid(_install(DROID_VERSION), DROID_VERSION)


@pytest.fixture(scope="session")
def legacy_droid():
    return Droid(_install(LEGACY_DROID_VERSION), LEGACY_DROID_VERSION)


# -- the LLMCloud stand-in ----------------------------------------------------------------------


class StandIn:
    def __init__(self, folder: Path, keys, models):
        self.record = folder / "requests.jsonl"
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(STANDIN),
                "--port",
                "0",
                "--record",
                str(self.record),
                "--keys",
                ",".join(keys),
                "--models",
                ",".join(models),
                "--lifetime",
                "900",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.process.stdout.readline()
        match = re.match(r"LISTENING 127\.0\.0\.1:(\d+)", line)
        assert match, "the stand-in did not start: %r" % line
        self.port = int(match.group(1))
        self.url = "http://127.0.0.1:%d" % self.port

    def requests(self):
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines() if line.strip()]

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def standin_factory(tmp_path):
    started = []

    def start(keys=(KEY,), models=CATALOG_IDS):
        folder = tmp_path / ("standin-%d" % len(started))
        folder.mkdir()
        server = StandIn(folder, keys, models)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def standin(standin_factory):
    return standin_factory()


@pytest.fixture
def closed_port():
    """A loopback port with nothing listening (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the conformance test's count of inputs and clients, shown at the end of the run --------------
CONFORMANCE_SUMMARY = ROOT / "build" / "role-tests" / "conformance.txt"


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the controller, not an xdist worker
        CONFORMANCE_SUMMARY.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter):
    if CONFORMANCE_SUMMARY.exists():
        terminalreporter.write_line(CONFORMANCE_SUMMARY.read_text().strip())
