"""The machine scope (droid's system-managed settings file), the fallback for old clients,
offboarding, key rotation and the client's TUI rewrite, judged by the real droid client.

Every playbook run and every droid run happens in a private mount namespace in which /etc/factory
is a scratch folder of the test (tests/support/private-etc-factory.sh: unshare -m, an overlay of
/etc, a bind mount on /etc/factory): the machine's real /etc is never written. Needs root.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import CATALOG, CATALOG_IDS, KEY, OTHER_KEY, ROOT, Run, _install, ansible_env, needs_root, strip_comments

NS = ROOT / "tests" / "support" / "private-etc-factory.sh"
pytestmark = needs_root
# One id scheme: the system file's entries carry the ids of the user files' entries (issue 10's
# explicit ids, custom:llmcloud-<model id, "/" as "-">), so the org entry hides the user's twin.
SYSTEM_IDS = ["custom:llmcloud-" + model.replace("/", "-") for model in CATALOG_IDS]
BLOCKED = "Model blocked by organization policy"


@pytest.fixture(scope="module")
def clients():
    """droid binaries by version (installed once into the shared cache)."""
    return {version: _install(version) for version in ("0.117.0", "0.215.0", "0.225.2")}


class Machine:
    """A sandbox home plus a private /etc/factory, both belonging to one test."""

    def __init__(self, sandbox, scratch: Path, droid: str):
        self.box = sandbox
        self.scratch = scratch
        self.droid = droid
        self.system_file = scratch / "factory" / "settings.json"
        self.system_file.parent.mkdir(mode=0o755, exist_ok=True)

    def play(self, variables, *args, check=True):
        variables = dict(variables)
        variables.setdefault("byok_droid_paths", [self.droid])
        variables.setdefault("byok_key_mode", "env")
        variables.setdefault("byok_users", [self.box.user()])
        variables.setdefault("byok_api_key", "{{ vault_llmcloud_api_key }}")
        (self.box.inventory / "group_vars" / "all" / "vars.yml").write_text(json.dumps(variables))
        command = [
            str(NS),
            str(self.scratch),
            "ansible-playbook",
            "-i",
            str(self.box.inventory / "hosts.yml"),
            "--vault-id",
            self.box.vault.vault_id,
            str(ROOT / "playbooks" / "onboard.yml"),
            *args,
        ]
        start = time.monotonic()
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=ansible_env(),
            cwd=str(self.box.base),
            timeout=600,
            check=False,
        )
        run = Run(done.returncode, done.stdout, time.monotonic() - start)
        assert KEY not in run.output and OTHER_KEY not in run.output, "the key leaked into Ansible's output"
        if check:
            assert run.rc == 0, run.output
        return run

    def client(self, *args, key=KEY, droid=None, timeout=120):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMCLOUD_", "FACTORY_"))}
        env.update({"HOME": str(self.box.home), "NO_COLOR": "1", "CI": "1"})
        if key:
            env["LLMCLOUD_API_KEY"] = key
        if (droid or self.droid).split("/droid/")[-1].startswith(("0.109.", "0.117.")):
            env["FACTORY_API_KEY"] = "offline-test"  # old clients refuse exec without it (sends nothing)
        return subprocess.run(
            [str(NS), str(self.scratch), droid or self.droid, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            cwd=str(self.box.home),
            timeout=timeout,
            check=False,
        )

    def models(self, droid=None):
        done = self.client("exec", "--list-tools", "-m", "custom:does-not-exist", droid=droid)
        text = done.stdout + done.stderr
        assert "Available custom models:" in text or "No custom models" in text, text
        listed = text.split("Available custom models:", 1)[-1].split("\n\n", 1)[0]
        return re.findall(r"(custom:\S+) \(([^)]*)\)", listed) if "Available custom models:" in text else []

    def system(self):
        return json.loads(strip_comments(self.system_file.read_text()))


@pytest.fixture
def machine_factory(sandbox, tmp_path, clients):
    def make(version="0.225.2"):
        scratch = tmp_path / "scratch"
        scratch.mkdir(exist_ok=True)
        return Machine(sandbox, scratch, clients[version])

    return make


OWN_SETTINGS = """{
  // the developer's own file
  "theme": "dark",
  "customModels": [
    {"model": "own/model", "displayName": "Own Model", "baseUrl": "%s", "apiKey": "own-key",
     "provider": "anthropic"}
  ]
}
"""


@pytest.mark.parametrize("version", ["0.215.0", "0.225.2"])
def test_system_scope_serves_the_models_and_the_policy_refuses_other_urls(machine_factory, standin_factory, version):
    machine = machine_factory(version)
    llmcloud, elsewhere = standin_factory(), standin_factory(keys=("own-key",))
    machine.box.factory.mkdir(mode=0o700)
    machine.box.settings_path.write_text(OWN_SETTINGS % elsewhere.url)
    own_before = machine.box.settings_path.read_bytes()
    variables = {
        "byok_scope": "system",
        "byok_llmcloud_url": llmcloud.url,
        "byok_default_model": "anthropic/claude-sonnet-4.5",
        "byok_org_allow_other_custom_models": False,
        "byok_org_allow_factory_models": False,
    }
    first = machine.play(variables)
    assert first.changed >= 1
    assert "judged by %s" % machine.droid in first.output

    # the file: root, 0644, explicit ids, trailing slashes, the reference and never a key
    info = machine.system_file.stat()
    assert (info.st_uid, info.st_gid, oct(info.st_mode & 0o777)) == (0, 0, "0o644")
    assert oct(machine.system_file.parent.stat().st_mode & 0o777) == "0o755"
    doc = machine.system()
    assert [e["id"] for e in doc["customModels"]] == SYSTEM_IDS
    assert {e["apiKey"] for e in doc["customModels"]} == {"${LLMCLOUD_API_KEY}"}
    assert {e["baseUrl"] for e in doc["customModels"]} == {llmcloud.url + "/", llmcloud.url + "/v1/"}
    assert doc["modelPolicy"] == {"allowedBaseUrls": [llmcloud.url + "/"], "allowAllFactoryModels": False}
    assert doc["sessionDefaultSettings"] == {"model": "custom:llmcloud-anthropic-claude-sonnet-4.5"}
    assert KEY.encode() not in machine.system_file.read_bytes()
    # the developer's file is not touched in the system scope
    assert machine.box.settings_path.read_bytes() == own_before

    # what droid sees: the system file's models first, the developer's own after them
    listed = machine.models()
    assert [entry[0] for entry in listed] == SYSTEM_IDS + ["custom:Own-Model-0"]
    # the key comes from the developer's environment; the default is the system file's
    used = machine.client("exec", "hi")
    sonnet = machine.client("exec", "-m", "custom:llmcloud-google-gemini-3-pro-preview", "hi")
    posts = [(r["path"], r["api_key"], r["model"]) for r in llmcloud.requests() if r["method"] == "POST"]
    assert ("/v1/messages", KEY, "anthropic/claude-sonnet-4.5") in posts, (posts, used.stderr)
    assert ("/v1/responses", KEY, "google/gemini-3-pro-preview") in posts, (posts, sonnet.stderr)
    # the developer's model at another base URL is refused, and nothing reaches it
    own = machine.client("exec", "-m", "custom:Own-Model-0", "hi")
    assert own.returncode != 0 and BLOCKED in own.stdout + own.stderr
    assert [r for r in elsewhere.requests() if r["method"] == "POST"] == []
    # Factory's own models are refused too
    factory = machine.client("exec", "-m", "claude-sonnet-4-6", "hi")
    assert factory.returncode != 0 and BLOCKED in factory.stdout + factory.stderr

    # idempotent: no change, not even the mtime
    mtime = machine.system_file.stat().st_mtime_ns
    second = machine.play(variables)
    assert second.changed == 0 and machine.system_file.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("version", ["0.215.0", "0.225.2"])
def test_scope_both_lists_each_model_once_and_the_org_entry_wins(machine_factory, standin_factory, version):
    """byok_scope both: the same models in the system file and in the user's settings.json, with the
    same explicit ids. droid 0.215.0+ lists each model once, and on an equal id the org entry is the
    one used (measured with both clients: the org level's entry hides a user entry of the same id)."""
    machine = machine_factory(version)
    org, user_side = standin_factory(), standin_factory()
    machine.box.factory.mkdir(mode=0o700)
    machine.box.settings_path.write_text(OWN_SETTINGS % "http://127.0.0.1:9")
    variables = {"byok_scope": "both", "byok_llmcloud_url": org.url, "byok_default_model": "anthropic/claude-haiku-4.5"}
    machine.play(variables)
    user_ids = [e.get("id") for e in machine.box.settings()["customModels"]]
    assert user_ids == [None] + SYSTEM_IDS
    assert [e["id"] for e in machine.system()["customModels"]] == SYSTEM_IDS
    assert (
        machine.system()["sessionDefaultSettings"]
        == machine.box.settings()["sessionDefaultSettings"]
        == {"model": "custom:llmcloud-anthropic-claude-haiku-4.5"}
    )
    listed = machine.models()
    assert [entry[0] for entry in listed] == SYSTEM_IDS + ["custom:Own-Model-0"]
    # on an equal id the org entry is used: point the user's twin elsewhere, the request still goes to the org's
    doc = machine.box.settings()
    for entry in doc["customModels"]:
        if entry.get("id") == "custom:llmcloud-anthropic-claude-sonnet-4.5":
            entry["baseUrl"] = user_side.url
    machine.box.settings_path.write_text(json.dumps(doc, indent=2))
    used = machine.client("exec", "-m", "custom:llmcloud-anthropic-claude-sonnet-4.5", "hi")
    posts = [(r["path"], r["model"]) for r in org.requests() if r["method"] == "POST"]
    assert ("/v1/messages", "anthropic/claude-sonnet-4.5") in posts, (posts, used.stderr)
    assert [r for r in user_side.requests() if r["method"] == "POST"] == []
    assert [entry[0] for entry in machine.models()] == SYSTEM_IDS + ["custom:Own-Model-0"]


def test_a_candidate_droid_refuses_is_never_swapped_in(machine_factory, standin):
    machine = machine_factory("0.225.2")
    # the administrator's own file, with a typo that makes droid drop the whole org level (fail open)
    broken = '{\n  "maxAutonomyLevel": "bogus",\n  "commandDenylist": ["rm -rf /"]\n}\n'
    machine.system_file.write_text(broken)
    before = (machine.system_file.read_bytes(), machine.system_file.stat().st_mtime_ns)
    run = machine.play({"byok_scope": "system", "byok_llmcloud_url": standin.url}, check=False)
    assert run.rc != 0 and run.recap["failed"] == 1
    # the field droid named, never what it said about the value (issue 20: validator output is not echoed)
    assert "validate failed" in run.output and "It named: maxAutonomyLevel." in run.output and "bogus" not in run.output
    assert (machine.system_file.read_bytes(), machine.system_file.stat().st_mtime_ns) == before
    assert sorted(os.listdir(machine.system_file.parent)) == [".settings.json.lock", "settings.json"]
    # fixed by the administrator: the next run goes through, keeping their settings
    machine.system_file.write_text(broken.replace("bogus", "medium"))
    machine.play({"byok_scope": "system", "byok_llmcloud_url": standin.url})
    doc = machine.system()
    assert doc["maxAutonomyLevel"] == "medium" and doc["commandDenylist"] == ["rm -rf /"]
    assert [entry[0] for entry in machine.models()] == SYSTEM_IDS


def test_rules_refuse_a_document_before_anything_is_touched(machine_factory):
    machine = machine_factory("0.225.2")
    run = machine.play({"byok_scope": "system", "byok_system_settings_path": "etc/factory/settings.json"}, check=False)
    assert run.rc != 0 and "byok_system_settings_path must be empty" in run.output
    assert not machine.system_file.exists() and not machine.box.settings_path.exists()
    inline = machine.play({"byok_scope": "system", "byok_key_mode": "inline"}, check=False)
    assert inline.rc != 0 and "needs byok_key_mode env or keychain" in inline.output
    assert not machine.system_file.exists() and not machine.box.settings_path.exists()
    # no droid on the host: the file is written, checked by the client's rules only, and says so
    alone = machine.play({"byok_scope": "system", "byok_droid_paths": []})
    assert "no droid 0.215.0+ on the host to judge it" in alone.output
    assert [e["id"] for e in machine.system()["customModels"]] == SYSTEM_IDS


def test_an_old_client_is_served_by_the_user_scope(machine_factory, standin):
    machine = machine_factory("0.117.0")
    run = machine.play({"byok_scope": "system", "byok_llmcloud_url": standin.url})
    assert "fell back to the user scope" in run.output and "0.117.0" in run.output
    assert not machine.system_file.exists()
    entries = machine.box.settings()["customModels"]
    assert [e["model"] for e in entries] == CATALOG_IDS
    assert {e["apiKey"] for e in entries} == {"${LLMCLOUD_API_KEY}"}
    assert len(machine.models()) == len(CATALOG)
    # byok_system_fallback: fail says why and touches nothing
    machine.box.settings_path.unlink()
    failed = machine.play({"byok_scope": "system", "byok_system_fallback": "fail"}, check=False)
    assert failed.rc != 0 and "older than 0.215.0" in failed.output and "0.117.0" in failed.output
    assert not machine.system_file.exists() and not machine.box.settings_path.exists()


def _client_rewrite(path: Path, key: str):
    """What droid's TUI does to settings.json on save (measured with the real client): JSON.stringify with 2
    spaces, comments gone, id/index/noImageSupport added, the entry's keys in the client's order,
    and the expanded value of ${LLMCLOUD_API_KEY} written in place of the reference."""
    doc = json.loads(strip_comments(path.read_text()))
    counts = {}
    rewritten = []
    for index, entry in enumerate(doc.get("customModels", [])):
        name = re.sub(r"\s+", "-", entry.get("displayName") or entry["model"])
        counts[name] = counts.get(name, -1) + 1
        api_key = entry.get("apiKey", "").replace("${LLMCLOUD_API_KEY}", key)
        rewritten.append(
            {
                "model": entry["model"],
                "id": "custom:%s-%d" % (name, counts[name]),
                "index": index,
                "baseUrl": entry["baseUrl"],
                "apiKey": api_key,
                "displayName": entry.get("displayName"),
                "noImageSupport": False,
                "provider": entry["provider"],
            }
        )
    doc["customModels"] = rewritten
    doc["logoAnimation"] = "off"
    path.write_text(json.dumps(doc, indent=2))


def test_the_clients_rewrite_of_the_key_is_detected_and_repaired(machine_factory):
    machine = machine_factory("0.225.2")
    machine.play({})  # user scope, env key mode
    _client_rewrite(machine.box.settings_path, KEY)
    assert machine.box.files_containing(KEY) == [str(machine.box.settings_path)]
    repair = machine.play({})
    assert repair.changed == 1
    assert "Repaired %s" % machine.box.settings_path in repair.output
    assert "plaintext API key" in repair.output
    assert machine.box.files_containing(KEY) == []
    assert {e["apiKey"] for e in machine.box.settings()["customModels"]} == {"${LLMCLOUD_API_KEY}"}
    quiet = machine.play({})
    assert quiet.changed == 0 and "Repaired" not in quiet.output


def test_the_real_tui_rewrite_is_repaired(machine_factory):
    """The interactive client itself, started in a pseudo-terminal, writes the key; the role repairs it."""
    machine = machine_factory("0.225.2")
    machine.play({})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMCLOUD_", "FACTORY_"))}
    env.update({"HOME": str(machine.box.home), "TERM": "xterm-256color", "LLMCLOUD_API_KEY": KEY})
    tui = subprocess.Popen(
        ["script", "-qfec", "%s %s %s" % (NS, machine.scratch, machine.droid), "/dev/null"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=str(machine.box.home),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and KEY.encode() not in machine.box.settings_path.read_bytes():
            time.sleep(1)
    finally:
        os.killpg(tui.pid, signal.SIGKILL)
        tui.wait(timeout=30)
    if KEY.encode() not in machine.box.settings_path.read_bytes():
        pytest.skip("the TUI did not save its settings within 60 s on this machine")
    repair = machine.play({})
    assert repair.changed == 1 and "Repaired %s" % machine.box.settings_path in repair.output
    assert machine.box.files_containing(KEY) == []


def test_offboarding_removes_everything_of_the_role_and_nothing_else(machine_factory, standin):
    machine = machine_factory("0.225.2")
    machine.box.factory.mkdir(mode=0o700)
    own = OWN_SETTINGS % "http://127.0.0.1:9"
    own = own.replace('"theme": "dark",', '"theme": "dark",\n  "sessionDefaultSettings": {"autonomyMode": "auto-low"},')
    machine.box.settings_path.write_text(own)
    local = machine.box.factory / "settings.local.json"
    machine.system_file.write_text('{\n  // the administrator\'s own\n  "commandDenylist": ["rm -rf /"]\n}\n')
    variables = {
        "byok_scope": "both",
        "byok_llmcloud_url": standin.url,
        "byok_default_model": "anthropic/claude-haiku-4.5",
        "byok_org_allow_other_custom_models": False,
    }
    machine.play(variables)
    # an LLMCloud entry in the developer's settings.local.json too (the only entry there), with a default
    # naming the role's id; and a legacy config.json from an earlier byok_format both run, next to their own
    local.write_text(
        json.dumps(
            {
                "customModels": [{"model": "anthropic/claude-haiku-4.5", "baseUrl": standin.url, "provider": "anthropic", "apiKey": "${LLMCLOUD_API_KEY}"}],
                "sessionDefaultSettings": {"model": "custom:llmcloud-anthropic-claude-haiku-4.5"},
                "theme": "light",
            }
        )
    )
    own_legacy = {"model_display_name": "Own Legacy", "model": "own/legacy", "base_url": "http://127.0.0.1:9", "api_key": "own-key", "provider": "anthropic"}
    config = machine.box.factory / "config.json"
    config.write_text(
        json.dumps(
            {
                "custom_models": [
                    own_legacy,
                    {
                        "model_display_name": "Claude Haiku 4.5",
                        "model": "anthropic/claude-haiku-4.5",
                        "base_url": standin.url,
                        "api_key": "llmc-old-inline",
                        "provider": "anthropic",
                    },
                ]
            }
        )
    )
    assert len(machine.box.settings()["customModels"]) == 1 + len(CATALOG)

    gone = machine.play(dict(variables, byok_state="absent"))
    assert gone.changed >= 2
    user = machine.box.settings()
    assert user["customModels"] == [
        {"model": "own/model", "displayName": "Own Model", "baseUrl": "http://127.0.0.1:9", "apiKey": "own-key", "provider": "anthropic"}
    ]
    assert user["sessionDefaultSettings"] == {"autonomyMode": "auto-low"}
    assert "// the developer's own file" in machine.box.settings_path.read_text()
    assert json.loads(local.read_text()) == {"theme": "light"}
    assert json.loads(config.read_text()) == {"custom_models": [own_legacy]}
    assert machine.system() == {"commandDenylist": ["rm -rf /"]}
    assert "// the administrator's own" in machine.system_file.read_text()
    assert [entry[0] for entry in machine.models()] == ["custom:Own-Model-0", "custom:Own-Legacy-0"]

    again = machine.play(dict(variables, byok_state="absent"))
    assert again.changed == 0
    # a system file that held only what the role wrote is removed
    machine.system_file.unlink()
    machine.play(variables)
    assert machine.system_file.exists()
    machine.play(dict(variables, byok_state="absent"))
    assert not machine.system_file.exists()


def test_key_rotation_reaches_every_place_in_one_run(machine_factory, standin_factory):
    machine = machine_factory("0.225.2")
    server = standin_factory(keys=(KEY, OTHER_KEY))
    # two files hold the key: settings.json and a settings.local.json with customModels of its own
    local = machine.box.factory / "settings.local.json"
    machine.box.factory.mkdir(mode=0o700, exist_ok=True)
    local.write_text('{"customModels": []}')
    both = {"byok_scope": "user", "byok_key_mode": "inline", "byok_format": "current", "byok_llmcloud_url": server.url}
    machine.play(both)
    assert sorted(machine.box.files_containing(KEY)) == sorted([str(machine.box.settings_path), str(local)])
    rotated = machine.play(dict(both, byok_api_key="{{ vault_llmcloud_other_key }}"))
    assert rotated.changed == 1  # one json_merge task (a loop over byok_plan) changed both files
    assert machine.box.files_containing(KEY) == []
    assert sorted(machine.box.files_containing(OTHER_KEY)) == sorted([str(machine.box.settings_path), str(local)])
    machine.client("exec", "-m", "custom:llmcloud-anthropic-claude-sonnet-4.5", "hi", key=None)
    keys = {r["api_key"] for r in server.requests() if r["method"] == "POST"}
    assert keys == {OTHER_KEY}


def _as_user(home, *command, timeout=120):
    env = {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "TERM": "dumb"}
    return subprocess.run(list(command), stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, cwd=str(home), timeout=timeout, check=False)


@pytest.mark.skipif(not all(shutil.which(t) for t in ("pass", "gpg", "bash")), reason="needs pass, gpg and bash")
def test_keychain_system_scope_rotation_and_offboarding(machine_factory, standin_factory):
    """The key-free fleet setup: models in the system file, the key in each developer's password store,
    exported by a profile block. Rotation reaches the store in one run; offboarding removes the store
    entry, the blocks and the system file's entries, and keeps the developer's own profile lines."""
    machine = machine_factory("0.225.2")
    home = machine.box.home
    server = standin_factory(keys=(KEY, OTHER_KEY))
    assert _as_user(home, "gpg", "--batch", "--passphrase", "", "--quick-gen-key", "byok <byok@test.invalid>", "default", "default", "never").returncode == 0
    assert _as_user(home, "pass", "init", "byok@test.invalid").returncode == 0
    (home / ".bashrc").write_text("# my own line\nalias ll='ls -l'\n")
    variables = {"byok_scope": "system", "byok_key_mode": "keychain", "byok_llmcloud_url": server.url, "byok_keychain_shells": ["bash"]}
    try:
        machine.play(variables)
        assert _as_user(home, "pass", "show", "llmcloud/factory-droid-api-key").stdout.strip() == KEY
        assert "LLMCLOUD_API_KEY" in (home / ".bashrc").read_text()
        assert not machine.box.settings_path.exists()  # the models are in the system file only
        assert machine.box.files_containing(KEY) == []
        # rotation: a new key in the vault reaches the store in one run; the files do not change
        system_before = machine.system_file.read_bytes()
        rotated = machine.play(dict(variables, byok_api_key="{{ vault_llmcloud_other_key }}"))
        assert rotated.changed == 1
        assert _as_user(home, "pass", "show", "llmcloud/factory-droid-api-key").stdout.strip() == OTHER_KEY
        assert machine.system_file.read_bytes() == system_before
        # a developer's login shell gets the new key from the store, and droid sends it
        shell = _as_user(home, "bash", "-lc", 'printf %s "$LLMCLOUD_API_KEY"')
        assert shell.stdout == OTHER_KEY
        login = _as_user(home, str(NS), str(machine.scratch), "bash", "-lc", "%s exec -m custom:llmcloud-anthropic-claude-haiku-4.5 hi" % machine.droid)
        keys = {r["api_key"] for r in server.requests() if r["method"] == "POST"}
        assert keys == {OTHER_KEY}, login.stderr
        # offboarding
        gone = machine.play(dict(variables, byok_state="absent", byok_api_key="{{ vault_llmcloud_other_key }}"))
        assert gone.changed >= 3
        assert _as_user(home, "pass", "show", "llmcloud/factory-droid-api-key").returncode != 0
        assert (home / ".bashrc").read_text() == "# my own line\nalias ll='ls -l'\n"
        assert not machine.system_file.exists()
        assert machine.box.files_containing(OTHER_KEY) == []
        again = machine.play(dict(variables, byok_state="absent"))
        assert again.changed == 0
    finally:
        _as_user(home, "gpgconf", "--kill", "all")
