"""A canary per output channel, for six places a secret can sit (issue 11).

Placements (each value is the run's canary plus a suffix, so one search finds them all and a hit
says which placement leaked):

    apikey     byok_api_key from the vault -> customModels[].apiKey
    header     byok_extra_models[].extra_headers["X-Proxy-Token"] -> extraHeaders (a header map)
    extra-arg  byok_extra_models[].extra_args.metadata.client_secret -> extraArgs (a credential name)
    prefixed   byok_extra_models[].extra_args.note = "sk-<canary>..." (credential-looking, innocuous key)
    own-token  the developer's own token already in settings.json, under another name
               (mcpServers.github.env.GITHUB_PERSONAL_ACCESS_TOKEN)
    bearer     "Bearer <canary>..." under an innocuous key (proxy.header) in settings.json and in a
               0644 file of the user's (tool.json) that a json_merge task with backup: true changes

Channels, in five playbook runs of one sandbox (batched: each run serves several channels):
stdout at -vvvv (default callback), --diff in real and check mode, the json and yaml stdout
callbacks, log_path, the syslog sink (when run.sh provides one), every returned value of
json_merge (json callback, parsed), error messages (a file that no longer parses, at -vvv),
backups and every other file under the home readable by group or others, module temporary
files left behind, and Ansible's remote and local temp folders. Each must count 0 hits.

Issue 20 adds the new paths of the privilege boundary to the same sandbox: a settings.local.json only
inspected (byok_local_settings warn) that holds the key, offboarding (json_merge's offboard option, in
check mode and for real), and a json_merge validator that prints the candidate base64- and
od-encoded on failure; every channel is searched for those encodings of the canary too (placement
"encoded"), not only for the canary as it is.

Two channels where Ansible itself writes the module arguments are measured and reported, not
asserted to be empty (docs/security-masking.md says what Ansible does and what a user can do):
ANSIBLE_KEEP_REMOTE_FILES=1 (the AnsiballZ payload stays in the remote temp folder, owner-only)
and ANSIBLE_DEBUG=1 (prints module arguments whatever no_log says).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import stat
import time
import zipfile
from pathlib import Path

from _support import CANARY, SYSLOG, RoleSandbox, leaked_files, recap, record

PLACEMENTS = ("apikey", "header", "extra-arg", "prefixed", "own-token", "bearer", "encoded")


def _encodings(secret: str) -> list:
    """Forms a validator could print the canary in: base64 at each of the 3 byte alignments (the
    stable middle), hex, reversed, and od -c's spaced characters."""
    found = [secret[::-1], secret.encode().hex(), "   ".join(secret[:12])]
    for pad in range(3):
        found.append(base64.b64encode(("x" * pad + secret).encode()).decode()[4:-4])
    return found


ENCODED = _encodings(CANARY)
VALIDATE_PLAYBOOK = """---
- name: A json_merge validator that prints the candidate, encoded, and fails
  hosts: all
  gather_facts: false
  tasks:
    - name: Merge into the settings with a validator that leaks what it reads
      llmcloud.factory_droid.json_merge:
        path: "{{ byok_users[0].home }}/.factory/settings.json"
        value:
          theme: validated
        validate: "/bin/sh -c 'base64 \\"$1\\" | tr -d \\"\\\\n\\"; od -c \\"$1\\"; rev \\"$1\\"; exit 1' v %s"
"""
_HIT = re.compile(re.escape(CANARY) + r"-([a-z-]+?)(?:-\d+)?(?![a-z-])")
PLAYBOOK = """---
- name: Onboard, then a json_merge task with a backup of a file of the user's
  hosts: all
  gather_facts: false
  roles:
    - role: llmcloud.factory_droid.byok
  tasks:
    - name: Change the user's own tool.json, keeping a backup
      llmcloud.factory_droid.json_merge:
        path: "{{ byok_users[0].home }}/.config/tool.json"
        value:
          theme: "{{ canary_theme }}"
        backup: true
"""


def _placements(text: str) -> dict:
    found = {}
    for match in _HIT.finditer(text):
        name = match.group(1)
        found[name] = found.get(name, 0) + 1
    return found


class Channels:
    """Runs the playbook and counts the canary per channel and placement."""

    def __init__(self, box: RoleSandbox, playbook: Path):
        self.box = box
        self.playbook = playbook
        self.table = {}  # channel -> {placement: hits}
        self.looked = {}  # channel -> how many runs/files/results it covered

    def add(self, channel: str, text: str, looked: int = 1) -> None:
        counts = self.table.setdefault(channel, {})
        for name, n in _placements(text).items():
            counts[name] = counts.get(name, 0) + n
        if CANARY in text and not _placements(text):
            counts["unknown"] = counts.get("unknown", 0) + text.count(CANARY)
        encoded = sum(text.count(form) for form in ENCODED)
        if encoded:
            counts["encoded"] = counts.get("encoded", 0) + encoded
        self.looked[channel] = self.looked.get(channel, 0) + looked

    def run(self, label: str, *args: str, env=None, expect_failure=False):
        offset = os.path.getsize(SYSLOG) if SYSLOG else 0
        log_offset = self.box.log_path.stat().st_size if self.box.log_path.exists() else 0
        run = self.box.run(*args, env=env, playbook=self.playbook)
        time.sleep(0.1)  # the sink's last datagrams
        if expect_failure:
            assert run.rc != 0, "%s: expected a failure\n%s" % (label, run)
        else:
            assert run.rc == 0, "%s: %s" % (label, run)
        if SYSLOG:
            with open(SYSLOG, "rb") as fh:
                fh.seek(offset)
                logged = fh.read().decode("utf-8", "replace")
            assert "Invoked with" in logged, "%s: the sink heard no module: the check proves nothing" % label
            self.add("syslog (module invocation log)", logged)
        with open(self.box.log_path, "rb") as fh:
            fh.seek(log_offset)
            logged_here = fh.read().decode("utf-8", "replace")
        assert "localhost" in logged_here, "%s: log_path got nothing: the check proves nothing" % label
        self.add("log_path", logged_here)
        leftovers = []
        for folder in (self.box.remote_tmp, self.box.local_tmp):
            for dirpath, _dirs, files in os.walk(folder):
                for name in files:
                    p = os.path.join(dirpath, name)
                    if not os.path.islink(p):
                        leftovers.append(Path(p).read_text(errors="replace"))
        self.add("Ansible temp folders", "\n".join(leftovers), looked=len(leftovers) or 1)
        readable = leaked_files(self.box.home, [CANARY.encode()], ignore=("tool.json",))
        self.add(
            "files readable by group/others (backups ...)",
            "\n".join(Path(p.split(" (mode")[0]).read_text(errors="replace") for p in readable),
        )
        temps = list(self.box.home.rglob(".*.tmp"))
        self.add(
            "module temp files left behind",
            "\n".join(p.read_text(errors="replace") for p in temps),
        )
        return run

    def hits(self) -> int:
        return sum(sum(counts.values()) for counts in self.table.values())

    def report(self) -> str:
        lines = ["%-48s %s" % ("channel (looked at)", " ".join("%9s" % p for p in PLACEMENTS))]
        for channel, counts in self.table.items():
            lines.append(
                "%-48s %s"
                % (
                    "%s (%d)" % (channel, self.looked.get(channel, 0)),
                    " ".join("%9d" % counts.get(p, 0) for p in PLACEMENTS),
                )
            )
        return "\n".join(lines)


def _seed(box: RoleSandbox) -> None:
    box.factory.mkdir(mode=0o700)
    box.settings.write_text(
        '{\n  // the developer\'s own settings\n  "theme": "dark",\n'
        '  "mcpServers": {"github": {"command": "github-mcp", "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "%s-own-token"}}},\n'
        '  "proxy": {"host": "proxy.example.internal", "header": "Bearer %s-bearer"}\n}\n' % (CANARY, CANARY)
    )
    os.chmod(box.settings, 0o600)
    config = box.home / ".config"
    config.mkdir(mode=0o755)
    tool = config / "tool.json"
    tool.write_text('{"proxy": {"header": "Bearer %s-bearer"}}\n' % CANARY)
    os.chmod(tool, 0o644)  # the user's choice; its backup must not be readable by others


def _role_vars(box: RoleSandbox, n: int, **extra) -> None:
    model = {
        "model": "azure/gpt-5",
        "provider": "openai",
        "display_name": "GPT-5 via company proxy",
        "base_url": "https://proxy.example.internal/v1",
        "extra_headers": {
            "X-Proxy-Token": "%s-header-%d" % (CANARY, n),
            "X-Team": "platform",
        },
        "extra_args": {
            "metadata": {
                "client_secret": "%s-extra-arg-%d" % (CANARY, n),
                "team": "platform",
            },
            "note": "sk-%s-prefixed-%d" % (CANARY, n),
        },
    }
    box.set_key("%s-apikey-%d" % (CANARY, n))
    box.set_vars(
        byok_models=["anthropic/claude-opus-4.6", "google/gemini-3-pro-preview"],
        byok_extra_models=[model],
        canary_theme="theme-%d" % n,
        **extra,
    )


def _ansiballz_payloads(folder: Path) -> tuple[int, int, list]:
    """(files, canary hits in their text and in the zip inside, modes of the folders holding them)."""
    files = hits = 0
    modes = []
    for path in folder.rglob("AnsiballZ_*.py"):
        files += 1
        modes.append(oct(stat.S_IMODE(path.parent.stat().st_mode)))
        raw = path.read_bytes()
        hits += raw.count(CANARY.encode())
        for blob in re.findall(rb'ZIPDATA = """([A-Za-z0-9+/=\s]+)"""', raw):
            with zipfile.ZipFile(io.BytesIO(base64.b64decode(blob))) as archive:
                for name in archive.namelist():
                    hits += archive.read(name).count(CANARY.encode())
    return files, hits, modes


def test_canary_per_channel_and_placement(tmp_path):
    playbook = tmp_path / "canary.yml"
    playbook.write_text(PLAYBOOK)
    box = RoleSandbox(tmp_path / "box")
    _seed(box)
    ch = Channels(box, playbook)

    # 1. real run, --diff at -vvvv, default callback, log_path
    _role_vars(box, 1)
    run = ch.run("converge --diff -vvvv", "--diff", "-vvvv")
    ch.add("stdout -vvvv --diff (real run)", run.output)
    assert recap(run.output).get("changed", 0) >= 2 and "********" in run.output and "<localhost> EXEC" in run.output
    first = run.output
    settings = box.settings.read_text()
    assert all("%s-%s" % (CANARY, p) in settings for p in ("apikey", "header", "extra-arg", "own-token", "bearer"))
    assert list((box.home / ".config").glob("tool.json.*~")), "no backup of tool.json was made"

    # 2. --check --diff with new secrets (the diff has something to show), yaml callback
    _role_vars(box, 2)
    run = ch.run(
        "check --diff yaml",
        "--check",
        "--diff",
        "-vvv",
        env={"ANSIBLE_STDOUT_CALLBACK": "community.general.yaml"},
    )
    ch.add("yaml callback, --check --diff -vvv", run.output)
    assert recap(run.output).get("changed", 0) >= 1 and "********" in run.output and "invocation:" in run.output

    # 3. real run with the json callback: every returned value, parsed
    run = ch.run("json callback", "--diff", env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
    ch.add("json callback (stdout)", run.output)
    report = json.loads(run.output[run.output.find("{") :])
    merge_actions = ("json_merge", "byok_settings")  # the module, and the byok role's merge task
    merges = [res for play in report["plays"] for task in play["tasks"] for res in task["hosts"].values() if str(res.get("action", "")).endswith(merge_actions)]
    # a loop returns one result per item (each with its invocation); a `files` task one invocation and a
    # result per file
    results = [r for res in merges for r in (res.get("results") or [res]) if not r.get("skipped")]
    assert results and all("operations" in r for r in results)
    assert all("invocation" in res or all("invocation" in r for r in res.get("results", [])) for res in merges if not res.get("skipped"))
    for result in merges:
        ch.add("returned values of json_merge", json.dumps(result))

    # 4. failing run: settings.json no longer parses, right after the key
    text = box.settings.read_text()
    broken = text.replace('"%s-apikey-2"' % CANARY, '"%s-apikey-2" oops' % CANARY, 1)
    assert broken != text
    box.settings.write_text(broken)
    run = ch.run("failing run -vvv", "-vvv", "--diff", expect_failure=True)
    ch.add("error messages (-vvv, corrupt file)", run.output)
    assert re.search(r"line \d+", run.output), "the failure does not say where"
    box.settings.write_text(text)

    # 4b. (issue 20) settings.local.json only inspected (warn) holding the key in an LLMCloud entry:
    # the report names the file and says it still holds a key, never the key
    local = box.factory / "settings.local.json"
    entry = {"model": "anthropic/claude-opus-4.6", "displayName": "Claude Opus 4.6", "provider": "anthropic"}
    entry.update(baseUrl="http://127.0.0.1:9", apiKey="%s-apikey-local" % CANARY)
    local.write_text(json.dumps({"customModels": [entry]}))
    local.chmod(0o600)
    _role_vars(box, 2, byok_key_mode="env", byok_local_settings="warn")
    for label, args in (("inspected local file --check --diff -vvvv", ("--check", "--diff", "-vvvv")), ("inspected local file -vvvv", ("--diff", "-vvvv"))):
        run = ch.run(label, *args)
        ch.add("stdout %s" % label, run.output)
        assert "%s still holds a plaintext API key" % local in run.output, run.output
    assert "%s-apikey-local" % CANARY in local.read_text(), "the inspected file was changed"

    # 4c. (issue 20) offboarding: json_merge's offboard option reads each file as the user and decides
    _role_vars(box, 2, byok_key_mode="env", byok_state="absent")
    run = ch.run("offboard --check --diff -vvvv", "--check", "--diff", "-vvvv")
    ch.add("stdout offboard --check --diff -vvvv", run.output)
    run = ch.run("offboard --diff -vvvv", "--diff", "-vvvv", env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
    ch.add("json callback, offboard --diff -vvvv", run.output)
    assert "remove_file" in run.output and "offboard" in run.output

    # 4d. (issue 20) a validator that prints the candidate base64-, od- and reversed; it fails
    validating = tmp_path / "validate.yml"
    validating.write_text(VALIDATE_PLAYBOOK)
    box.settings.write_text(text)
    ch.playbook = validating
    run = ch.run("validator failure -vvvv --diff", "-vvvv", "--diff", expect_failure=True)
    ch.add("error messages (-vvvv, failing validator)", run.output)
    assert "validate failed" in run.output and "run the validator by hand" in run.output, run.output
    ch.playbook = playbook
    _role_vars(box, 2)

    print("\n" + ch.report())
    total = ch.hits()
    print("canary hits: %d over %d channels x %d placements" % (total, len(ch.table), len(PLACEMENTS)))
    record(
        "canary_checks",
        sum(ch.looked.values()),
        hits=total,
        scenario="channels x placements (issue 11)",
    )
    assert total == 0, "the canary leaked:\n" + ch.report()
    # what is masked is masked by the rule, and what a reviewer needs stays readable
    assert '"X-Team": "********"' in first, "the header map was not masked in the diff"
    assert '"model": "azure/gpt-5"' in first and '"displayName": "GPT-5 via company proxy"' in first
    assert '"host": "proxy.example.internal"' in first and '"command": "github-mcp"' in first
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in first, "the invocation does not hide value"

    # 5. Where Ansible itself writes the module arguments (documented, measured, not masked by us)
    _role_vars(box, 3)
    keep = box.root / "kept"
    run = box.run(
        "-vvv",
        playbook=playbook,
        env={
            "ANSIBLE_KEEP_REMOTE_FILES": "1",
            "ANSIBLE_REMOTE_TEMP": str(keep),
            "ANSIBLE_DEBUG": "1",
        },
    )
    assert run.rc == 0, run
    files, kept_hits, modes = _ansiballz_payloads(keep)
    debug_hits = run.output.count(CANARY)
    print("ANSIBLE_KEEP_REMOTE_FILES=1: %d AnsiballZ payloads kept, %d canary hits inside, folders %s" % (files, kept_hits, sorted(set(modes))))
    print("ANSIBLE_DEBUG=1: %d canary hits in the output (ansible-core prints module arguments): %s" % (debug_hits, _placements(run.output)))
    record(
        "documented_exceptions",
        kept_hits + debug_hits,
        keep_remote_files_payloads=files,
        keep_remote_files_hits=kept_hits,
        ansible_debug_hits=debug_hits,
    )
    assert files > 0 and kept_hits > 0, "KEEP_REMOTE_FILES kept no arguments: update docs/security-masking.md"
    assert set(modes) <= {"0o700"}, "the kept payloads are readable by others: %s" % modes
    for path in keep.rglob("*"):
        path.unlink() if path.is_file() else None  # the kept arguments hold the canary
