"""The fleet report (the llmcloud.factory_droid.byok_report callback) after a real multi-host run.

Six hosts in one inventory, each a sandbox home reached with the local connection except one:
alice (inline key from the vault, her own token and model already in settings.json, judged by the
real droid), bob (per-user key in plain vars; first inline, then env: the plaintext key is
repaired), carol (settings.local.json decides the default model: the byok_verify judge fails),
dave (a wrong model id: the input check fails before anything is written), frank (a truncated
settings.json: the merge fails and leaves it untouched) and erin (ssh to a closed loopback port:
unreachable). Canary keys sit in the vault, in plain vars and in the
settings files; none may reach the report (JSON and Markdown) or Ansible's output. The JSON is
checked against docs/fleet-report.schema.json. The runs are docs/fleet.md's blocks marked
``<!-- doc-test: fleet-report ...-->`` and ``fleet-report-cfg``, taken by ID, as written.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys

import jsonschema
import yaml
from conftest import CATALOG_IDS, CATALOG_NAMES, KEY, ME, ROOT
from sandbox import PYTHON, ansible_env

sys.path.insert(0, str(ROOT / "hacking"))
import doc_blocks  # noqa: E402

SCHEMA = json.loads((ROOT / "docs" / "fleet-report.schema.json").read_text())
BOB_KEY = "llmc-canary-bob-" + secrets.token_hex(12)
DAVE_KEY = "llmc-canary-dave-" + secrets.token_hex(12)
CAROL_DEFAULT = "llmc-canary-carol-" + secrets.token_hex(12)
OWN_TOKEN = "ghp_" + secrets.token_hex(18)
OWN_KEY = "sk-canary-own-" + secrets.token_hex(12)
FRANK_KEY = "sk-canary-frank-" + secrets.token_hex(12)
CANARIES = (KEY, BOB_KEY, DAVE_KEY, CAROL_DEFAULT, OWN_TOKEN, OWN_KEY, FRANK_KEY)
DEFAULT = "anthropic/claude-haiku-4.5"
DEFAULT_ID = "custom:llmcloud-anthropic-claude-haiku-4.5"


def _blocks():
    """docs/fleet.md's blocks by their doc-test IDs: the command that writes the report, the ansible.cfg that does."""
    return doc_blocks.block("fleet-report"), doc_blocks.block("fleet-report-cfg")


def _fleet(tmp_path, vault, droid, closed_port):
    (tmp_path / "playbooks").symlink_to(ROOT / "playbooks")
    inventory = tmp_path / "inventories" / "acme"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "host_vars").mkdir()
    (inventory / "group_vars" / "all" / "vault.yml").write_text(vault.vault_file.read_text())
    homes = {name: tmp_path / ("home-" + name) for name in ("alice", "bob", "carol", "dave", "erin", "frank")}
    for home in homes.values():
        home.mkdir()
    local = {"ansible_connection": "local", "ansible_python_interpreter": PYTHON}
    hosts = {name + "-laptop": dict(local) for name in ("alice", "bob", "carol", "dave", "frank")}
    hosts["erin-laptop"] = {"ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": closed_port, "ansible_ssh_timeout": 5}
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    common = {
        "byok_api_key": "{{ vault_llmcloud_api_key }}",
        "byok_default_model": DEFAULT,
        "byok_verify": "auto",
        "byok_verify_command": droid.binary,
    }
    (inventory / "group_vars" / "all" / "vars.yml").write_text(yaml.safe_dump(common))
    host_vars = {
        "alice": {},
        "bob": {"byok_users": [{"name": ME, "home": str(homes["bob"]), "api_key": BOB_KEY}], "byok_verify": "never"},
        "carol": {"byok_local_settings": "warn"},
        "dave": {"byok_api_key": DAVE_KEY, "byok_models": [DEFAULT, "nope/not-in-the-catalog"]},
        "erin": {},
        "frank": {},
    }
    for name, variables in host_vars.items():
        variables.setdefault("byok_users", [{"name": ME, "home": str(homes[name])}])
        (inventory / "host_vars" / (name + "-laptop.yml")).write_text(yaml.safe_dump(variables))
    # what the developers already have: alice's own model and token, carol's default in settings.local.json
    (homes["alice"] / ".factory").mkdir(mode=0o700)
    (homes["alice"] / ".factory" / "settings.json").write_text(
        json.dumps(
            {
                "customModels": [
                    {"model": "mine", "displayName": "Mine", "baseUrl": "https://models.example.internal/v1", "apiKey": OWN_KEY, "provider": "openai"}
                ],
                "mcpServers": {"github": {"command": "gh-mcp", "env": {"GITHUB_TOKEN": OWN_TOKEN}}},
            }
        )
    )
    (homes["carol"] / ".factory").mkdir(mode=0o700)
    (homes["carol"] / ".factory" / "settings.local.json").write_text(json.dumps({"sessionDefaultSettings": {"model": CAROL_DEFAULT}}))
    # frank's settings.json is cut short (a crash while an editor saved it): the merge must leave it alone
    (homes["frank"] / ".factory").mkdir(mode=0o700)
    (homes["frank"] / ".factory" / "settings.json").write_text('{"customModels":[{"apiKey":"%s", "model":\n' % FRANK_KEY)
    return inventory, homes


def _run(tmp_path, vault, script, env=None):
    """A shell script in tmp_path (inventories/acme, playbooks/), the vault's password given by id."""
    environment = ansible_env(dict({"ANSIBLE_VAULT_IDENTITY_LIST": vault.vault_id, "ANSIBLE_VERBOSITY": "3"}, **(env or {})))
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=environment,
        cwd=str(tmp_path),
        timeout=240,
        check=False,
    )
    output = done.stdout + done.stderr
    assert "PLAY RECAP" in output, output
    for canary in CANARIES:
        assert canary not in output, "a canary key is in Ansible's output (-vvv)"
    return done.returncode, output


def _load(report):
    """The report at ``report`` + .json/.md: schema-valid, 0600, no canary, no temporary file left."""
    json_file, md_file = report.parent / (report.name + ".json"), report.parent / (report.name + ".md")
    data = json.loads(json_file.read_text())
    jsonschema.validate(data, SCHEMA)
    markdown = md_file.read_text()
    for canary in CANARIES:
        assert canary not in json_file.read_text() + markdown, "a canary key is in the report"
    for path in (json_file, md_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(os.listdir(report.parent)) == sorted([json_file.name, md_file.name]), "a temporary file was left behind"
    return data, markdown


def test_the_fleet_report_has_every_host_and_user_and_no_key(tmp_path, vault, droid, closed_port):
    inventory, homes = _fleet(tmp_path, vault, droid, closed_port)
    command, config = _blocks()

    # the report is off unless the callback is enabled: the path alone writes nothing
    rc, _output = _run(tmp_path, vault, "ansible-playbook -i inventories/acme playbooks/onboard.yml", env={"BYOK_REPORT_PATH": str(tmp_path / "unused")})
    assert rc != 0 and not list(tmp_path.glob("unused*"))

    # bob's key mode becomes env: the plaintext key the first run wrote is put back to the reference
    (inventory / "host_vars" / "bob-laptop.yml").write_text(
        yaml.safe_dump({"byok_users": [{"name": ME, "home": str(homes["bob"]), "api_key": BOB_KEY}], "byok_verify": "never", "byok_key_mode": "env"})
    )
    rc, _output = _run(tmp_path, vault, command)  # docs/fleet.md, as written
    assert rc != 0
    data, markdown = _load(tmp_path / "reports" / ("byok-" + datetime.date.today().isoformat()))
    hosts = {host["host"]: host for host in data["hosts"]}
    assert sorted(hosts) == ["alice-laptop", "bob-laptop", "carol-laptop", "dave-laptop", "erin-laptop", "frank-laptop"]
    assert {name: host["status"] for name, host in hosts.items()} == {
        "alice-laptop": "ok",  # second run: nothing to change
        "bob-laptop": "changed",
        "carol-laptop": "failed",
        "dave-laptop": "failed",
        "erin-laptop": "unreachable",
        "frank-laptop": "failed",
    }
    assert data["summary"]["hosts"] == 6 and data["summary"]["failed"] == 3 and data["summary"]["unreachable"] == 1
    every = sum(len(host["problems"]) + sum(len(user["problems"]) for user in host["users"]) for host in data["hosts"])
    assert data["summary"]["problems"] == every and "problems: %d." % every in markdown

    wanted = [[model, CATALOG_NAMES[model_id]] for model_id, model in ((i, "custom:llmcloud-" + i.replace("/", "-")) for i in CATALOG_IDS)]
    (alice,) = hosts["alice-laptop"]["users"]
    assert hosts["alice-laptop"]["key_mode"] == "inline" and hosts["alice-laptop"]["problems"] == []
    assert alice["user"] == ME and alice["verified"] and alice["droid"]["version"] == droid.version
    assert alice["models_listed"] == wanted, "the report lists what droid lists (LLMCloud entries only)"
    assert alice["default"] == {"model": DEFAULT_ID, "llmcloud": True, "source": str(homes["alice"] / ".factory" / "settings.json")}
    assert alice["problems"] == [] and alice["repaired"] == []

    (bob,) = hosts["bob-laptop"]["users"]
    assert hosts["bob-laptop"]["key_mode"] == "env" and not bob["verified"] and bob["models_listed"] is None
    assert bob["models_written"] == wanted and bob["default_written"] == DEFAULT_ID
    assert bob["repaired"] == [str(homes["bob"] / ".factory" / "settings.json")]

    (carol,) = hosts["carol-laptop"]["users"]
    local_file = str(homes["carol"] / ".factory" / "settings.local.json")
    assert carol["default"] == {"model": None, "llmcloud": False, "source": local_file}
    assert carol["problems"] and all(local_file in problem for problem in carol["problems"]), carol
    assert hosts["carol-laptop"]["problems"] == [], "the judge's failure is the user's problems, not repeated"

    (dave_problem,) = hosts["dave-laptop"]["problems"]
    assert "nope/not-in-the-catalog" in dave_problem["message"] and "byok_models" in dave_problem["message"]
    assert hosts["dave-laptop"]["users"] == [] and not (homes["dave"] / ".factory").exists()

    (erin_problem,) = hosts["erin-laptop"]["problems"]
    assert erin_problem["fix"] and "--limit" in erin_problem["fix"] and str(closed_port) in erin_problem["message"]

    # frank: the failed merge is a problem with the module's sentence and the fix; nothing is "written"
    frank_file = str(homes["frank"] / ".factory" / "settings.json")
    (frank_problem,) = hosts["frank-laptop"]["problems"]
    assert frank_file in frank_problem["message"] and "line 2" in frank_problem["message"] and "left untouched" in frank_problem["message"]
    assert frank_file in frank_problem["fix"] and "--limit frank-laptop" in frank_problem["fix"]
    (frank,) = hosts["frank-laptop"]["users"]
    assert frank["models_written"] == [] and frank["default_written"] is None and frank["files"][0]["failed"]
    assert FRANK_KEY in (homes["frank"] / ".factory" / "settings.json").read_text(), "the truncated file was left untouched"
    (frank_row,) = [line for line in markdown.splitlines() if line.startswith("| frank-laptop |")]
    assert "merge failed: settings.json" in frank_row and "(written)" not in frank_row and not frank_row.endswith("| 0 |")
    assert "%s: **failed, nothing written**: " % frank_file in markdown and "Fix: Repair %s" % frank_file in markdown

    for name in hosts:
        assert "| %s |" % name in markdown
    assert "- droid lists: %s (%s)" % tuple(wanted[0]) in markdown and "Fix: " in markdown

    # the ansible.cfg form (docs/fleet.md, as written), one host
    shutil.rmtree(tmp_path / "reports")
    (tmp_path / "ansible.cfg").write_text(config + "\n")
    rc, _output = _run(
        tmp_path,
        vault,
        "ansible-playbook -i inventories/acme playbooks/onboard.yml --limit alice-laptop",
        env={"ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg")},
    )
    assert rc == 0
    data, _markdown = _load(tmp_path / "reports" / "byok")
    assert [(host["host"], host["status"]) for host in data["hosts"]] == [("alice-laptop", "ok")]
