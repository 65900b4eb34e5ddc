"""Root never runs, reads, follows or waits on anything a developer controls (issue 20), through the
whole role: the probe of the system scope, the system file's folder and link, offboarding's reads,
the report of what was repaired. The developer is the real `nobody` account; its home sits in a
root-owned, 0755 tree (build/, not /tmp, which is world-writable and would hide an ownership bug).
System-file cases run in the private /etc/factory namespace of test_system_scope.py. Needs root.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import KEY, ROOT, needs_root
from test_system_scope import clients, machine_factory  # noqa: F401  # pylint: disable=unused-import  # fixtures

pytestmark = needs_root

# What a developer's fake droid does: log who ran it, claim to be the newest client.
FAKE_DROID = """#!/bin/sh
id -u >> %(log)s
echo 9.999.0
case "$1" in doctor) echo '{"ok": true}' ;; esac
exit 0
"""


def _root_trusts(path):
    """Every folder from / to ``path`` is root's and neither group- nor world-writable."""
    for folder in [path, *path.parents]:
        info = folder.stat()
        if info.st_uid != 0 or info.st_mode & 0o022:
            return False
    return True


@pytest.fixture
def developer():
    """`nobody` with a home in a root-owned 0755 tree: what nobody owns there is nobody's alone."""
    nobody = pwd.getpwnam("nobody")
    base = ROOT / "build"
    base.mkdir(exist_ok=True)
    if not _root_trusts(base):
        # a checkout under /tmp (world-writable): the trust rule rightly refuses anything below it
        base = Path("/var/lib/llmcloud-factory-droid-tests")
        base.mkdir(mode=0o755, exist_ok=True)
    tree = Path(tempfile.mkdtemp(prefix="byok-dev-", dir=str(base)))
    tree.chmod(0o755)
    home = tree / "home"
    home.mkdir(mode=0o755)
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    yield nobody, tree, home
    shutil.rmtree(tree, ignore_errors=True)


def _as_nobody(nobody, *paths):
    for path in paths:
        os.lchown(path, nobody.pw_uid, nobody.pw_gid)


def _fake_droid(nobody, folder: Path, log: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    droid = folder / "droid"
    droid.write_text(FAKE_DROID % {"log": log})
    droid.chmod(0o755)
    return droid


def test_root_never_runs_a_droid_a_developer_can_change(machine_factory, developer):  # noqa: F811 - fixture
    nobody, tree, home = developer
    machine = machine_factory("0.225.2")
    log = home / "ran-as"
    log.touch(mode=0o666)
    _as_nobody(nobody, log)
    # 1. ~/.local/bin/droid of a listed developer
    own = _fake_droid(nobody, home / ".local" / "bin", log)
    _as_nobody(nobody, home / ".local", home / ".local" / "bin", own)
    # 2. a Homebrew prefix the developer owns (/opt/homebrew/bin/droid)
    brew = tree / "homebrew"
    brewed = _fake_droid(nobody, brew / "bin", log)
    _as_nobody(nobody, brew, brew / "bin", brewed)
    # 3. a root-owned program in a folder the developer owns, and 4. a root-owned link in a root-owned
    # folder pointing into the developer's home
    swapped = _fake_droid(nobody, home / "tools", log)
    _as_nobody(nobody, home / "tools")
    linked = tree / "bin"
    linked.mkdir(mode=0o755)
    (linked / "droid").symlink_to(own)
    run = machine.play(
        {
            "byok_scope": "system",
            "byok_users": [{"name": "nobody", "home": str(home)}],
            "byok_droid_paths": [machine.droid, str(brewed), str(swapped), str(linked / "droid")],
        }
    )
    ran = log.read_text().split()
    assert "0" not in ran, "root ran a program the developer controls: %s" % ran
    assert ran == [], "a developer's droid must not be run at all (it would decide the fallback): %s" % ran
    # the run says which were not run, and the validator is the root-owned client
    for path in (own, brewed, swapped, linked / "droid"):
        assert "%s not run" % path in run.output, run.output
    assert "judged by %s" % machine.droid in run.output
    assert machine.system()["customModels"], "the system file was not written"
    # a developer's client claiming to be old does not switch the host to the user scope either
    own.write_text(FAKE_DROID.replace("9.999.0", "0.100.0") % {"log": log})
    again = machine.play({"byok_scope": "system", "byok_users": [{"name": "nobody", "home": str(home)}], "byok_droid_paths": [machine.droid]})
    assert "fell back" not in again.output and log.read_text().split() == []


def test_a_link_left_in_the_system_folder_is_never_followed(machine_factory, developer):  # noqa: F811 - fixture
    nobody, _tree, _home = developer
    machine = machine_factory("0.225.2")
    folder = machine.system_file.parent
    secret = machine.scratch / "root-secret.json"
    secret.write_text('{"rootOnly": "root-only-secret-value-4711"}\n')
    secret.chmod(0o600)
    before = (secret.read_bytes(), secret.stat().st_mode)
    # the developer once owned /etc/factory and planted a link; the folder is root's again
    os.chown(folder, nobody.pw_uid, nobody.pw_gid)
    machine.system_file.symlink_to(secret)
    os.lchown(machine.system_file, nobody.pw_uid, nobody.pw_gid)
    variables = {"byok_scope": "system", "byok_users": [{"name": "nobody", "home": str(_home)}]}
    owned = machine.play(variables, "--diff", check=False)
    assert owned.rc != 0 and "strict_path" in owned.output and "owned by nobody" in owned.output
    os.chown(folder, 0, 0)
    folder.chmod(0o755)
    run = machine.play(variables, "--diff", check=False)
    assert run.rc != 0 and "is a symlink" in run.output
    for out in (owned, run):
        assert "root-only-secret-value" not in out.output and "rootOnly" not in out.output
    assert (secret.read_bytes(), secret.stat().st_mode) == before
    assert machine.system_file.is_symlink()
    # offboarding refuses it the same way
    gone = machine.play(dict(variables, byok_state="absent"), "--diff", check=False)
    assert gone.rc != 0 and "is a symlink" in gone.output and (secret.read_bytes(), secret.stat().st_mode) == before


def test_a_fifo_in_a_developers_home_does_not_stall_offboarding(sandbox, developer):
    nobody, _tree, home = developer
    factory = home / ".factory"
    factory.mkdir(mode=0o700)
    settings = factory / "settings.json"
    settings.write_text(json.dumps({"customModels": [], "theme": "dark"}))
    fifo = factory / "settings.local.json"
    os.mkfifo(fifo)
    _as_nobody(nobody, factory, settings, fifo)
    variables = {
        "byok_state": "absent",
        "byok_key_mode": "env",
        "byok_api_key": "{{ vault_llmcloud_api_key }}",
        "byok_users": [{"name": "nobody", "home": str(home)}],
    }
    (sandbox.inventory / "group_vars" / "all" / "vars.yml").write_text(yaml.safe_dump(variables))
    started = time.monotonic()
    try:
        run = sandbox.run_onboard("-i", str(sandbox.inventory / "hosts.yml"), "--vault-id", sandbox.vault.vault_id, cwd=sandbox.base, timeout=150)
    except subprocess.TimeoutExpired:
        # unblock what waits on the FIFO (today's main: root's slurp), then fail
        threading.Thread(target=lambda: open(fifo, "w").close(), daemon=True).start()
        pytest.fail("offboarding waited on a FIFO in the developer's home for 150 s")
    assert time.monotonic() - started < 150
    assert KEY not in run.output
    # the FIFO is refused without waiting (not a regular file), named, and nothing else is touched
    assert run.rc != 0 and "%s is not a regular file" % fifo in run.output, run.output
    assert json.loads(settings.read_text()) == {"customModels": [], "theme": "dark"}


def test_an_inspected_file_is_never_reported_as_repaired(sandbox):
    local = sandbox.factory / "settings.local.json"
    plaintext = "llmc-plaintext-in-local-0123456789abcdef"
    entry = {"model": "anthropic/claude-sonnet-4.6", "displayName": "Claude Sonnet 4.6", "provider": "anthropic"}
    entry.update(baseUrl="https://llmcloud.studio", apiKey=plaintext)
    sandbox.factory.mkdir(mode=0o700, exist_ok=True)
    local.write_text(json.dumps({"customModels": [entry]}))
    before = local.read_bytes()
    # settings.json: droid's own rewrite left the plaintext key there too (really repaired by the merge)
    sandbox.settings_path.write_text(json.dumps({"customModels": [dict(entry, apiKey=plaintext)]}))
    run = sandbox.play({"byok_key_mode": "env", "byok_local_settings": "warn"})
    assert local.read_bytes() == before, "the inspected file was changed"
    repaired = [line for line in run.output.splitlines() if "Repaired" in line]
    assert repaired and all(str(local) not in line for line in repaired), run.output
    assert "Repaired %s" % sandbox.settings_path in run.output
    assert "%s still holds a plaintext API key" % local in run.output, run.output
    assert plaintext not in run.output
    assert json.loads(sandbox.settings_path.read_text())["customModels"][0]["apiKey"] == "${LLMCLOUD_API_KEY}"


# ---------------------------------------------------------------- the trust rule itself (no Ansible)
FILES = ROOT / "roles" / "byok" / "files"


def _script(*names):
    return "\n".join((FILES / name).read_text() for name in names)


def _probe(*candidates, seconds="5", env=None):
    done = subprocess.run(
        ["/bin/sh", "-c", _script("droid-trust.sh", "droid-probe.sh"), "byok-probe", seconds, "", *map(str, candidates)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_trust_rule_checks_every_folder_and_every_link_hop(developer, clients):  # noqa: F811 - fixture
    nobody, tree, home = developer
    real = clients["0.225.2"]
    log = home / "ran-as"
    log.touch(mode=0o666)
    bad = _fake_droid(nobody, home / "bin", log)
    _as_nobody(nobody, home / "bin", bad)
    # root-owned hops: tree/a -> tree/b (a link to a folder) -> the real client; all trusted
    (tree / "b").mkdir(mode=0o755)
    (tree / "b" / "droid").symlink_to(real)
    (tree / "a").symlink_to(tree / "b")
    # a root-owned link whose hop goes through the developer's folder
    (home / "hop").symlink_to(real)
    _as_nobody(nobody, home / "hop")
    (tree / "via").mkdir(mode=0o755)
    (tree / "via" / "droid").symlink_to(home / "hop")
    # a root-owned folder that group or others can write; ".." back out of the developer's home is
    # resolved (the kernel's ".." of a folder the developer cannot replace), and the resolved path is run
    (tree / "open").mkdir()
    (tree / "open").chmod(0o777)
    shutil.copy(real, tree / "open" / "droid")
    dotdot = home / ".." / "b" / "droid"
    out = _probe(tree / "a" / "droid", tree / "via" / "droid", bad, tree / "open" / "droid", dotdot)
    lines = out.splitlines()
    # the first component that is not root's is named: the developer's home, which holds the hop and bin/
    assert lines.count("droid=%s version=0.225.2" % real) == 2, out  # tree/a/droid, and home/../b/droid
    assert "untrusted=%s owner=%d at=%s" % (tree / "via" / "droid", nobody.pw_uid, home) in lines, out
    assert "untrusted=%s owner=%d at=%s" % (bad, nobody.pw_uid, home) in lines, out
    assert "untrusted=%s owner=0 at=%s" % (tree / "open" / "droid", tree / "open") in lines, out
    assert log.read_text() == ""


def test_a_client_that_hangs_is_killed_after_the_bound(developer):
    _nobody, tree, _home = developer
    slow = tree / "slow"
    slow.write_text("#!/bin/sh\nsleep 120\n")
    slow.chmod(0o755)
    started = time.monotonic()
    out = _probe(slow, seconds="2")
    assert time.monotonic() - started < 30 and "droid=%s version=" % slow in out


def test_verify_as_root_never_runs_a_droid_others_can_change(developer):
    nobody, _tree, home = developer
    log = home / "ran-as"
    log.touch(mode=0o666)
    bad = _fake_droid(nobody, home / "bin", log)
    _as_nobody(nobody, home / "bin", bad)
    done = subprocess.run(
        ["/bin/sh", "-c", _script("droid-trust.sh", "droid-check.sh"), "byok-check", str(bad), str(home)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "byok-check: droid=untrusted %s" % bad in done.stdout and log.read_text() == ""
