"""README.md's first command, `make demo`, run as written (no real key, no stdin), judged by what
it prints from the real droid client; then docs/byok-role.md's "Checking the result" commands on
the demo's sandbox home, with droid on PATH and a loopback stand-in for LLMCloud."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, block

STANDIN = ROOT / "tests" / "support" / "llmcloud_standin.py"
CATALOG = [
    "anthropic/claude-opus-4.6",
    "anthropic/claude-opus-4.5-thinking",
    "anthropic/claude-sonnet-4.6",
    "anthropic/claude-sonnet-4.5",
    "anthropic/claude-sonnet-4.5-thinking",
    "anthropic/claude-haiku-4.5",
    "google/gemini-3-flash-preview",
    "google/gemini-3-pro-preview",
]
DEMO_HOME = ROOT / "build" / "demo-home"


def _droid():
    done = subprocess.run(
        ["bash", str(ROOT / "hacking" / "install-droid.sh")], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1200, check=True
    )
    return done.stdout.strip().splitlines()[-1]


NPM = """#!/bin/sh
# npm for the demo test: records the call, and "installs" the platform package by linking the
# binary the tests' cache already holds (the registry is not needed to prove the demo asks for it).
echo "$*" >> "%(log)s"
prefix=""; package=""
while [ $# -gt 0 ]; do
  case "$1" in --prefix) prefix="$2"; shift ;; @factory/*) package="$1" ;; esac
  shift
done
[ "$package" = "@factory/cli-linux-x64@%(version)s" ] || { echo "unexpected package $package" >&2; exit 1; }
mkdir -p "$prefix/node_modules/@factory/cli-linux-x64/bin"
ln -s "%(droid)s" "$prefix/node_modules/@factory/cli-linux-x64/bin/droid"
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`make demo` as the README gives it, on a fresh sandbox home, stdin closed, with an empty
    droid cache: the demo must install the pinned droid itself (through npm, here a recording
    stand-in for the registry that links the binary the tests already have)."""
    command = block("readme-demo")
    assert command.split("#")[0].strip() == "make demo"
    shutil.rmtree(DEMO_HOME, ignore_errors=True)
    work = tmp_path_factory.mktemp("demo")
    version = re.search(r"^DROID_VERSION \?= (\S+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    (work / "bin").mkdir()
    npm = work / "bin" / "npm"
    npm.write_text(NPM % {"log": work / "npm.log", "version": version, "droid": os.path.realpath(_droid())})
    npm.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "MAKE", "LLMCLOUD_", "DROID_"))}
    env.update({"CACHE_DIR": str(work / "cache"), "PATH": "%s:%s" % (work / "bin", env["PATH"])})
    done = subprocess.run(
        ["bash", "-e", "-c", command], cwd=str(ROOT), stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=1500, check=False
    )
    done.npm_calls = (work / "npm.log").read_text().splitlines() if (work / "npm.log").exists() else []
    return done


def test_make_demo_ends_with_what_droid_lists_and_where_its_default_goes(demo):
    output = demo.stdout + demo.stderr
    assert demo.returncode == 0, output[-6000:]
    listing = re.search(r"droid lists (\d+) custom models for HOME=(\S+):\n((?:  custom:.*\n)+)", output)
    assert listing, output[-4000:]
    listed = re.findall(r"^  (custom:\S+)\s+(.+?)\s{2,}(LLMCloud|the developer's own, kept)$", listing.group(3), re.M)
    assert [i for i, _n, whose in listed if whose == "LLMCloud"] == ["custom:llmcloud-" + m.replace("/", "-") for m in CATALOG]
    assert ("custom:My-local-Qwen-0", "My local Qwen", "the developer's own, kept") in listed
    assert "droid's default (droid exec without -m): custom:llmcloud-anthropic-claude-sonnet-4.5 (Claude Sonnet 4.5)" in output
    assert (
        "the default request goes to: POST https://llmcloud.studio/v1/messages, model anthropic/claude-sonnet-4.5, "
        "key in the header x-api-key (the key settings.json holds)"
    ) in output
    assert "composed configuration: 9 custom models (8 from LLMCloud, 1 of the developer's own)" in output
    assert "llmc-demo" not in output, "the demo printed its key"


def test_make_demo_installs_the_pinned_droid_when_it_is_missing(demo):
    assert demo.returncode == 0
    assert len(demo.npm_calls) == 1 and "@factory/cli-linux-x64@" in demo.npm_calls[0], demo.npm_calls


def test_checking_the_result_commands_on_the_demo_home(demo, tmp_path):
    """docs/byok-role.md "Checking the result", run line by line on a copy of the demo's home whose
    LLMCloud base URL points at a loopback stand-in (the real LLMCloud is not reachable here)."""
    assert demo.returncode == 0
    home = tmp_path / "home"
    shutil.copytree(DEMO_HOME / ".factory", home / ".factory")
    settings = home / ".factory" / "settings.json"
    record = tmp_path / "requests.jsonl"
    server = subprocess.Popen(
        [sys.executable, str(STANDIN), "--port", "0", "--record", str(record)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True
    )
    try:
        port = re.match(r"LISTENING 127\.0\.0\.1:(\d+)", server.stdout.readline()).group(1)
        settings.write_text(settings.read_text().replace('"https://llmcloud.studio', '"http://127.0.0.1:%s' % port))
        env = {k: v for k, v in os.environ.items() if k not in ("LLMCLOUD_API_KEY", "FACTORY_API_KEY")}
        env.update({"HOME": str(home), "NO_COLOR": "1", "CI": "1", "PATH": os.path.dirname(_droid()) + os.pathsep + env["PATH"]})
        results = []
        for line in block("byok-check").splitlines():
            command = line.split("  #")[0].strip()
            done = subprocess.run(
                ["bash", "-c", command], cwd=str(home), env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=180, check=False
            )
            results.append(done)
    finally:
        server.terminate()
        server.wait(timeout=10)
    listed, doctor, hello = results
    assert "Available custom models:" in listed.stdout + listed.stderr
    assert all("custom:llmcloud-" + m.replace("/", "-") in listed.stdout + listed.stderr for m in CATALOG)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    posts = [json.loads(line) for line in record.read_text().splitlines() if '"POST"' in line]
    assert hello.returncode == 0, hello.stdout + hello.stderr
    assert [(p["path"], p["model"], p["auth"]) for p in posts] == [("/v1/messages", "anthropic/claude-sonnet-4.5", "x-api-key")]
