"""The shipped inventories do what the README says: local laptop quick start, demo vault, fleet layout."""

from __future__ import annotations

import shutil
import subprocess

import yaml
from conftest import CATALOG_IDS, KEY, ROOT, ansible_env


def _playbook(inventory, home, *args):
    done = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(ROOT / "playbooks" / "onboard.yml"), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ansible_env({"HOME": str(home)}),
        timeout=300,
        check=False,
    )
    assert KEY not in done.stdout
    return done


def test_local_inventory_quick_start(tmp_path, vault):
    """inventories/local as a developer uses it: their own vault.yml beside vars.yml, HOME = the laptop's home."""
    inventory = tmp_path / "local"
    shutil.copytree(ROOT / "inventories" / "local", inventory)
    home = tmp_path / "home"
    home.mkdir()
    without_vault = _playbook(inventory, home)
    assert without_vault.returncode != 0
    assert "byok_api_key is empty but byok_key_mode is inline" in without_vault.stdout
    assert "ansible-vault create" in without_vault.stdout and not (home / ".factory").exists()

    shutil.copy(vault.vault_file, inventory / "group_vars" / "all" / "vault.yml")
    first = _playbook(inventory, home, "--vault-id", vault.vault_id)
    assert first.returncode == 0, first.stdout
    settings = yaml.safe_load((home / ".factory" / "settings.json").read_text())  # JSON is YAML
    assert [e["model"] for e in settings["customModels"]] == CATALOG_IDS
    assert {e["apiKey"] for e in settings["customModels"]} == {KEY}
    second = _playbook(inventory, home, "--vault-id", vault.vault_id)
    assert "changed=0" in second.stdout and "failed=0" in second.stdout


def test_demo_vault_opens_with_the_shipped_demo_password_and_holds_a_fake_key():
    demo = ROOT / "inventories" / "demo"
    encrypted = (demo / "group_vars" / "all" / "vault.yml").read_text()
    assert encrypted.startswith("$ANSIBLE_VAULT;1.2;AES256;demo")
    done = subprocess.run(
        ["ansible-vault", "view", "--vault-id", "demo@%s" % (demo / "vault-password.DEMO-ONLY.txt"), str(demo / "group_vars" / "all" / "vault.yml")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=ansible_env(),
        check=True,
    )
    key = yaml.safe_load(done.stdout)["vault_llmcloud_api_key"]
    assert key.endswith("not-a-real-key")
    home = yaml.safe_load((demo / "group_vars" / "all" / "vars.yml").read_text())["byok_users"][0]["home"]
    assert home.endswith("/build/demo-home")  # inside the checkout, under the git-ignored build/


def test_fleet_example_keeps_secrets_in_its_vault_only():
    fleet = ROOT / "inventories" / "fleet-example"
    assert (fleet / "group_vars" / "all" / "vault.yml").read_text().startswith("$ANSIBLE_VAULT;1.2;AES256;fleet")
    assert not list(fleet.rglob("*pass*")), "the fleet vault's password must not ship"
    plain = [p for p in fleet.rglob("*.yml") if p.name != "vault.yml"]
    for path in plain:
        text = path.read_text()
        for line in text.splitlines():
            if "api_key" in line and ":" in line and not line.strip().startswith("#"):
                assert "{{ vault_" in line, "%s: a key that does not come from the vault: %s" % (path, line)
    graph = subprocess.run(
        ["ansible-inventory", "-i", str(fleet), "--graph"], stdin=subprocess.DEVNULL, capture_output=True, text=True, env=ansible_env(), check=True
    ).stdout
    assert "@engineering" in graph and "@contractors" in graph
