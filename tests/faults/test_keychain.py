"""byok_key_mode: keychain, for real on Linux: `pass` with a test gpg key on a sandbox home.

The role stores the key in the user's password store (on stdin: every execve of the run is
traced and none carries the key), writes "${LLMCLOUD_API_KEY}" into settings.json, and manages a
marked block in the bash, zsh and fish profiles. Then login shells started with nothing but
HOME and PATH get LLMCLOUD_API_KEY from the store, and the real droid client, started from such
a shell, sends the key to the loopback LLMCloud stand-in (Anthropic and OpenAI families).
Also: idempotence, key rotation, --check, no plain-text key anywhere under the home, and
keychain (or env) mode with the legacy format refused before anything is touched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time

import pytest
from _support import CANARY, PYTHON, REPO, RoleSandbox, recap, record, snapshot
from test_leaks import Checker

ENTRY = "llmcloud/factory-droid-api-key"
DROID = os.environ.get("FAULTS_DROID") or ""
NEEDS = [t for t in ("pass", "gpg", "gpgconf", "bash", "zsh", "fish") if not shutil.which(t)]
needs_all = pytest.mark.skipif(bool(NEEDS), reason="missing %s (run.sh installs them)" % ", ".join(NEEDS))
needs_pass = pytest.mark.skipif(not shutil.which("pass"), reason="missing pass (run.sh installs it)")


def _clean_env(home) -> dict:
    return {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "TERM": "dumb"}


def _sh(home, *cmd, stdin=None, timeout=120):
    proc = subprocess.run(
        list(cmd), input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_clean_env(home), cwd=str(home), timeout=timeout, check=False
    )
    return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")


@pytest.fixture
def store(tmp_path):
    box = RoleSandbox(tmp_path)
    os.chmod(box.home, 0o700)
    rc, out, err = _sh(box.home, "gpg", "--batch", "--passphrase", "", "--quick-gen-key", "byok test <byok@test.invalid>", "default", "default", "never")
    assert rc == 0, err
    rc, out, err = _sh(box.home, "pass", "init", "byok@test.invalid")
    assert rc == 0, err
    yield box
    _sh(box.home, "gpgconf", "--kill", "all")


def _login_key(home, shell: str) -> str:
    cmds = {
        "bash -l": ["bash", "-lc", 'printf %s "${LLMCLOUD_API_KEY:-}"'],
        "bash -i": ["bash", "-ic", 'printf %s "${LLMCLOUD_API_KEY:-}"'],
        "zsh -l": ["zsh", "-lc", 'printf %s "${LLMCLOUD_API_KEY:-}"'],
        "zsh -i": ["zsh", "-ic", 'printf %s "${LLMCLOUD_API_KEY:-}"'],
        "fish -l": ["fish", "-lc", 'printf %s "$LLMCLOUD_API_KEY"'],
    }
    rc, out, err = _sh(home, *cmds[shell])
    return out.strip()


def _plaintext_hits(home, needle: bytes) -> list:
    hits = []
    for dirpath, _dirs, files in os.walk(home):
        for name in files:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p) and os.path.isfile(p) and needle in open(p, "rb").read():
                hits.append(p)
    return hits


@needs_all
def test_keychain_mode_with_pass_and_the_real_droid(store, tmp_path):
    box = store
    key1, key2, key3 = ("%s-keychain-%d" % (CANARY, n) for n in (1, 2, 3))
    proc, port = _stand_in_recording(tmp_path, [key1, key2])
    try:
        check = Checker(box)
        url = "http://127.0.0.1:%d" % port
        box.set_key(key1)
        box.set_vars(
            byok_key_mode="keychain",
            byok_keychain_backend="auto",
            byok_llmcloud_url=url,
            byok_models=["anthropic/claude-opus-4.6", "google/gemini-3-pro-preview"],
        )
        run = check.run("keychain converge -vvv --diff", "-vvv", "--diff")
        assert recap(run.output).get("changed", 0) >= 3, run  # store, profiles, settings

        settings = box.settings.read_text()
        assert "${LLMCLOUD_API_KEY}" in settings and CANARY not in settings
        rc, out, err = _sh(box.home, "pass", "show", ENTRY)
        assert rc == 0 and out.splitlines()[0] == key1, err
        assert not _plaintext_hits(box.home, CANARY.encode()), "the key is on disk in plain text"
        for f in (".bashrc", ".profile", ".zshrc", ".zprofile", ".config/fish/conf.d/llmcloud-factory-droid.fish"):
            text = (box.home / f).read_text()
            assert "BEGIN llmcloud.factory_droid byok" in text and "pass show" in text, f
            assert (os.stat(box.home / f).st_mode & 0o022) == 0, "%s is writable by others" % f

        run = check.run("keychain re-converge")
        assert recap(run.output).get("changed") == 0, run

        shells = {}
        for shell in ("bash -l", "bash -i", "zsh -l", "zsh -i", "fish -l"):
            shells[shell] = _login_key(box.home, shell)
            assert shells[shell] == key1, "%s did not get LLMCLOUD_API_KEY from the store" % shell

        if DROID:
            sent = _droid_sends(box.home, tmp_path)
            assert sent == {("/v1/messages", "x-api-key", key1), ("/v1/responses", "bearer", key1)}, sent

        # rotation: the store changes, settings.json and the profiles do not
        before = snapshot(box.settings)
        box.set_key(key2)
        run = check.run("keychain key rotation")
        assert recap(run.output).get("changed") == 1, run
        assert snapshot(box.settings) == before
        assert _login_key(box.home, "bash -l") == key2

        # --check with yet another key: reported, not stored
        box.set_key(key3)
        run = check.run("keychain --check (rotation)", "--check", "--diff")
        assert recap(run.output).get("changed", 0) >= 1, run
        assert _login_key(box.home, "bash -l") == key2
        record(
            "keychain",
            "pass + gpg on a sandbox home: key stored on stdin only, login shells (%s) export it, "
            "%s; rotation and --check honest; re-run changed=0"
            % (", ".join(shells), "the real droid %s sent it to the stand-in (x-api-key and Bearer)" % _droid_version() if DROID else "droid not installed"),
        )
    finally:
        proc.terminate()
        proc.wait()


def _droid_version() -> str:
    found = re.search(r"/droid/([^/]+)/", DROID)
    return found.group(1) if found else DROID


def _stand_in_recording(tmp_path, keys):
    port_file = tmp_path / "standin.port"
    record_file = tmp_path / "standin.jsonl"
    # --keys "" accepts any key; which one arrived is read from the record (keys on the stand-in's
    # own command line would be a canary hit of the test itself)
    proc = subprocess.Popen(
        [
            PYTHON,
            str(REPO / "tests" / "support" / "llmcloud_standin.py"),
            "--port",
            "0",
            "--keys",
            "",
            "--port-file",
            str(port_file),
            "--record",
            str(record_file),
            "--lifetime",
            "600",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _attempt in range(200):
        if port_file.exists() and port_file.read_text().strip():
            return proc, int(port_file.read_text().strip())
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the LLMCloud stand-in did not start")


def _droid_sends(home, tmp_path) -> set:
    """Run the real droid from a bash login shell (nothing but HOME and PATH inherited) and
    return what the stand-in received: (path, auth kind, key)."""
    record_file = tmp_path / "standin.jsonl"
    start = len(record_file.read_text().splitlines()) if record_file.exists() else 0
    for model in ("custom:llmcloud-anthropic-claude-opus-4.6", "custom:llmcloud-google-gemini-3-pro-preview"):
        rc, out, err = _sh(home, "bash", "-lc", '"$0" exec -m "$1" "Say hi"', DROID, model, timeout=180)
        assert rc == 0, "droid exec -m %s failed: %s %s" % (model, out[-500:], err[-500:])
    got = set()
    for line in record_file.read_text().splitlines()[start:]:
        req = json.loads(line)
        if req.get("method") == "POST":
            got.add((req["path"], req["auth"], req["api_key"]))
    return got


@needs_all
@pytest.mark.parametrize("mode", ["env", "keychain"])
@pytest.mark.parametrize("fmt", ["legacy", "both"])
def test_variable_key_modes_refuse_the_legacy_format(tmp_path, mode, fmt):
    box = RoleSandbox(tmp_path)
    box.factory.mkdir(mode=0o700)
    box.settings.write_text('{"theme": "dark"}\n')
    os.chmod(box.settings, 0o600)
    before = snapshot(box.settings)
    box.set_key(CANARY + "-legacy")
    box.set_vars(byok_key_mode=mode, byok_format=fmt)
    run = box.run()
    assert run.rc != 0, run
    assert "byok_key_mode" in run.output and "byok_format" in run.output and "legacy" in run.output, run
    assert CANARY not in run.output
    assert snapshot(box.settings) == before and sorted(os.listdir(box.factory)) == ["settings.json"]
    assert not (box.home / ".bashrc").exists(), "a profile was touched by a refused run"
    record("bad_role_var", "byok_key_mode %s with byok_format %s" % (mode, fmt))


@needs_pass
@pytest.mark.parametrize(
    "backend, words",
    [
        ("pass", ["the password store of root", "is not initialised", "pass init"]),
        ("auto", ["no OS credential store for root", "pass init"]),
        ("secret-tool", ["secret-tool is not installed for root", "byok_keychain_backend"]),
    ],
)
def test_a_store_that_cannot_take_the_key_says_who_and_how_to_fix_it(tmp_path, backend, words):
    """Red team: a store that is not initialised (or a backend that is missing) was reported as
    `non-zero return code` with the item censored. The failure names the user, the host and the
    fix, and still never the key."""
    if backend == "secret-tool" and shutil.which("secret-tool"):
        pytest.skip("secret-tool is installed here")
    box = RoleSandbox(tmp_path)
    os.chmod(box.home, 0o700)
    box.factory.mkdir(mode=0o700)
    box.settings.write_text('{"theme": "dark"}\n')
    os.chmod(box.settings, 0o600)
    before = snapshot(box.settings)
    box.set_key(CANARY + "-keychain-refused")
    box.set_vars(byok_key_mode="keychain", byok_keychain_backend=backend)
    check = Checker(box)
    run = check.run("keychain store refuses (%s) -vvv" % backend, "-vvv", expect_failure=True)
    for word in words:
        assert word in run.output, "%r missing from the failure:\n%s" % (word, run.output[-3000:])
    assert "Could not store the LLMCloud key for root on localhost" in run.output, run.output[-3000:]
    assert snapshot(box.settings) == before, "settings.json changed although the key was not stored"
    assert not (box.home / ".bashrc").exists(), "a profile exports a key that is not in the store"
    record("keychain", "store refuses (%s): the failure names the user and the fix, no key" % backend)
