"""The ansible-pull command of docs/byok-role.md, docs/fleet.md and inventories/local/hosts.yml,
run as written: from a fresh clone of a repository with an encrypted vault committed, as a
developer who is not root, on a sandbox home, with nothing but ansible-core (a venv holding
only ansible-core) and git. A local bare repository stands in for the fork's URL."""

from __future__ import annotations

import json
import re
import secrets
import stat
import subprocess

import yaml
from conftest import ROOT, block, chown_like, run_as

URL = yaml.safe_load((ROOT / "galaxy.yml").read_text())["repository"] + ".git"


def _recap(output):
    found = re.findall(r"^localhost\s*:\s*(.*)$", output, re.M)
    assert found, output[-4000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", found[-1])}


def _fork_with_a_vault(base, venv, key, password):
    """A bare repository holding this checkout (what git knows, as in a fork) with the developer's
    key in an encrypted inventories/local/group_vars/all/vault.yml."""
    src = base / "src"
    src.mkdir()
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "--null", "-T", "-", "-cf", str(base / "src.tar")], input=files, cwd=ROOT, check=True)
    subprocess.run(["tar", "-C", str(src), "-xf", str(base / "src.tar")], check=True)
    vault = src / "inventories" / "local" / "group_vars" / "all" / "vault.yml"
    vault.write_text("vault_llmcloud_api_key: %s\n" % key)
    (base / "pass").write_text(password + "\n")
    (base / "empty.cfg").write_text("")
    done = subprocess.run(
        [str(venv / "bin" / "ansible-vault"), "encrypt", "--vault-password-file", str(base / "pass"), str(vault)],
        cwd=str(base),
        env={"HOME": str(base), "PATH": "/usr/bin:/bin", "ANSIBLE_CONFIG": str(base / "empty.cfg")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert vault.read_text().startswith("$ANSIBLE_VAULT")
    git = ["git", "-C", str(src), "-c", "user.name=doc-test", "-c", "user.email=doc-test@localhost"]
    subprocess.run(["git", "init", "--quiet", "-b", "main", str(src)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "fork with an encrypted vault"], check=True)
    bare = base / "repo.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(src), str(bare)], check=True)
    return bare


def test_one_pull_command_everywhere():
    command = block("pull")
    assert command.startswith("ansible-pull ") and URL in command
    hosts = (ROOT / "inventories" / "local" / "hosts.yml").read_text()
    commented = "".join("#   %s\n" % line for line in command.splitlines())
    assert commented in hosts, "inventories/local/hosts.yml must give the pull command of docs/byok-role.md and docs/fleet.md"
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "inventories" / "local" / "hosts.yml"]:
        for line in path.read_text().splitlines():
            assert not re.search(r"ansible-pull\s+-U\b", line), "%s gives another ansible-pull command: %s" % (path, line)


def test_pull_as_written_from_a_fresh_clone_with_a_committed_vault(tmp_path, core_only_venv, developer_home):
    home, runas = developer_home
    key = "llmc-doc-pull-" + secrets.token_hex(12)
    password = secrets.token_urlsafe(18)
    bare = _fork_with_a_vault(tmp_path, core_only_venv, key, password)
    repo = home / "fork.git"
    subprocess.run(["cp", "-a", str(bare), str(repo)], check=True)
    chown_like(repo, home)
    path = "%s:/usr/bin:/bin" % (core_only_venv / "bin")

    setup = run_as(runas, home, block("pull-vault-setup"), path, stdin=password + "\n")
    assert setup.returncode == 0, setup.stderr
    secret = home / ".config" / "llmcloud-factory-droid" / "vault-pass"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and stat.S_IMODE(secret.parent.stat().st_mode) == 0o700

    command = block("pull").replace(URL, "file://%s" % repo)
    runs = []
    for _run_number in range(2):
        done = run_as(runas, home, command, path)
        output = done.stdout + done.stderr
        assert key not in output, "the key leaked into ansible-pull's output"
        assert done.returncode == 0, output[-4000:]
        runs.append(_recap(output))
    assert runs[0]["failed"] == 0 and runs[0]["changed"] > 0, runs
    assert runs[1]["failed"] == 0 and runs[1]["changed"] == 0, "the second pull is not idempotent: %s" % runs

    clone = home / ".ansible" / "pull" / "ansible_collections" / "llmcloud" / "factory_droid"
    assert (clone / "galaxy.yml").is_file()
    settings = home / ".factory" / "settings.json"
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600 and stat.S_IMODE(settings.parent.stat().st_mode) == 0o700
    assert settings.stat().st_uid == home.stat().st_uid
    models = json.loads(settings.read_text())["customModels"]
    assert len(models) == 8 and {m["apiKey"] for m in models} == {key}
