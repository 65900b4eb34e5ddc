# Copyright: contributors to llmcloud.factory_droid
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The end of `make demo`: what the real droid composes for the demo's sandbox home.

    python hacking/demo_droid.py DROID SANDBOX_HOME

Prints, with ids and names and never a key:
  * every custom model droid lists for HOME=SANDBOX_HOME (`droid exec --list-tools -m
    custom:does-not-exist`), LLMCloud's and the developer's own;
  * droid's default (`sessionDefaultSettings.model`) and where its request goes: droid runs
    `droid exec` without `-m` on a copy of the sandbox home whose LLMCloud base URL points at a
    loopback stand-in for LLMCloud (tests/support/llmcloud_standin.py), which records the method,
    path, model and the header that carried the key (the real LLMCloud is not needed, nor a key);
  * a short summary of the composed configuration.
Exits non-zero when droid lists no LLMCloud model, does not list its default, or sends the
default request elsewhere than the settings say.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
STANDIN = ROOT / "tests" / "support" / "llmcloud_standin.py"


def _jsonc():
    spec = importlib.util.spec_from_file_location("_jsonc", ROOT / "plugins" / "module_utils" / "_jsonc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def droid_env(home):
    env = {k: v for k, v in os.environ.items() if k not in ("LLMCLOUD_API_KEY", "FACTORY_API_KEY")}
    env.update({"HOME": str(home), "NO_COLOR": "1", "CI": "1"})
    return env


def listed_models(droid, home):
    """[(id, name)] droid lists for `home`, in its order."""
    done = subprocess.run(
        [droid, "exec", "--list-tools", "-m", "custom:does-not-exist"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=droid_env(home),
        cwd=str(home),
        timeout=120,
        check=False,
    )
    text = done.stdout + done.stderr
    if "Available custom models:" not in text:
        return []
    listed = text.split("Available custom models:", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"(custom:\S+) \(([^)]*)\)", listed)


def default_request(droid, home, settings_text, origin):
    """Run `droid exec` without -m on a copy of `home` whose `origin` is a loopback stand-in;
    return the requests the stand-in recorded."""
    with tempfile.TemporaryDirectory(prefix="demo-standin-") as scratch:
        scratch = Path(scratch)
        copy = scratch / "home"
        (copy / ".factory").mkdir(parents=True, mode=0o700)
        record = scratch / "requests.jsonl"
        server = subprocess.Popen(
            [sys.executable, str(STANDIN), "--port", "0", "--record", str(record), "--lifetime", "300"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            match = re.match(r"LISTENING (127\.0\.0\.1:\d+)", server.stdout.readline())
            if not match:
                raise SystemExit("demo: the loopback stand-in for LLMCloud did not start")
            standin = "http://" + match.group(1)
            copied = settings_text.replace('"%s' % origin, '"%s' % standin)
            target = copy / ".factory" / "settings.json"
            target.write_text(copied, encoding="utf-8")
            target.chmod(0o600)
            subprocess.run(
                [droid, "exec", "Say hi"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                env=droid_env(copy),
                cwd=str(copy),
                timeout=120,
                check=False,
            )
            lines = record.read_text().splitlines() if record.exists() else []
            return [json.loads(line) for line in lines if line.strip()], standin
        finally:
            server.terminate()
            server.wait(timeout=10)


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    droid, home = argv[0], Path(argv[1])
    text = (home / ".factory" / "settings.json").read_text(encoding="utf-8")
    settings = _jsonc().loads(text)
    entries = [e for e in settings.get("customModels", []) if isinstance(e, dict)]
    default_id = (settings.get("sessionDefaultSettings") or {}).get("model", "")
    default_entry = next((e for e in entries if e.get("id") == default_id), None)
    problems = []

    models = listed_models(droid, home)
    llmcloud_ids = {e.get("id") for e in entries if str(e.get("id", "")).startswith("custom:llmcloud-")}
    print("droid lists %d custom models for HOME=%s:" % (len(models), home))
    for model_id, name in models:
        whose = "LLMCloud" if model_id in llmcloud_ids else "the developer's own, kept"
        print("  %-52s %-28s %s" % (model_id, name, whose))
    names = dict(models)
    ours = [m for m in models if m[0] in llmcloud_ids]
    if not ours:
        problems.append("droid lists none of the LLMCloud models the role wrote")

    if not default_entry:
        problems.append("settings.json names no default model droid can find (%r)" % default_id)
    else:
        base = default_entry["baseUrl"].rstrip("/")
        parts = urlsplit(base)
        origin = "%s://%s" % (parts.scheme, parts.netloc)
        requests, standin = default_request(droid, home, text, origin)
        posts = [r for r in requests if r.get("method") == "POST"]
        print("droid's default (droid exec without -m): %s (%s)" % (default_id, names.get(default_id, "NOT LISTED")))
        if default_id not in names:
            problems.append("droid does not list its default %s" % default_id)
        if not posts:
            problems.append("droid sent no request for its default to the stand-in")
        for post in posts[:1]:
            where = "the header x-api-key" if post.get("auth") == "x-api-key" else "the header Authorization: Bearer"
            same_key = post.get("api_key") == default_entry.get("apiKey")
            print(
                "the default request goes to: POST %s%s, model %s, key in %s (%s)"
                % (origin, post["path"], post.get("model"), where, "the key settings.json holds" if same_key else "NOT the key settings.json holds")
            )
            print(
                "  (seen by a loopback stand-in for LLMCloud at %s: droid ran on a copy of the sandbox home whose base URL %s points at it)" % (standin, origin)
            )
            if post.get("model") != default_entry.get("model") or not same_key:
                problems.append("the default request carried model %r, not %r, or another key" % (post.get("model"), default_entry.get("model")))
    print(
        "composed configuration: %d custom models (%d from LLMCloud, %d of the developer's own), default %s, other settings kept: %s"
        % (
            len(models),
            len(ours),
            len(models) - len(ours),
            default_id or "none",
            ", ".join(sorted(k for k in settings if k not in ("customModels", "sessionDefaultSettings"))) or "none",
        )
    )
    for problem in problems:
        print("demo: " + problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
