"""Leak tests with a canary key: the real onboarding playbook and the byok role on a sandbox home.

Scenarios, in order, on one sandbox (each key is the run's canary plus a suffix, so a search for
the canary finds every one of them): converge, re-converge, key rotation with --diff, --check
--diff, -vvv --diff, the JSON callback (every returned value, parsed), a failing run on a corrupt
settings file with the key next to the error, a failing preflight (the key rejected by the
LLMCloud stand-in), and the switch to env key mode.

After each run the canary is searched for in: Ansible's output; the controller's log_path file;
the target's syslog (the sink run.sh puts on /dev/log: module invocation logging); every process
command line sampled from /proc while the run went on; every file under the sandbox home that
group or others can read (backups included); Ansible's remote and local temp folders. Each
scenario also asserts what makes its check meaningful (the diff was printed, -vvv printed
results, syslog received the module's invocation, ...).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from _support import CANARY, PYTHON, REPO, SYSLOG, ProcSampler, RoleSandbox, execve_hits, execve_prefix, leaked_files, mode_of, recap, record

NEEDLE = CANARY.encode()


class Checker:
    def __init__(self, box: RoleSandbox):
        self.box = box
        self.total_places = 0

    def run(self, scenario: str, *args: str, env=None, expect_failure=False):
        offset = os.path.getsize(SYSLOG) if SYSLOG else 0
        trace = self.box.root / ("execve-%d.strace" % self.box.runs)
        with ProcSampler([NEEDLE]) as sampler:
            run = self.box.run(*args, env=env, prefix=execve_prefix(trace))
        time.sleep(0.1)  # let the sink write the last datagrams
        places, hits = 0, []

        places += 1
        if CANARY in run.output:
            line = next(line for line in run.output.splitlines() if CANARY in line)
            hits.append("ansible output: %s" % line.replace(CANARY, "<CANARY>")[:300])
        places += 1
        if self.box.log_path.exists() and NEEDLE in self.box.log_path.read_bytes():
            hits.append("ansible log_path file")
        logged = b""
        if SYSLOG:
            places += 1
            with open(SYSLOG, "rb") as fh:
                fh.seek(offset)
                logged = fh.read()
            if NEEDLE in logged:
                hits.append("syslog: %s" % [line for line in logged.splitlines() if NEEDLE in line][:2])
        # every process started during the run (strace: complete), and /proc sampled meanwhile
        execs, exec_hits = execve_hits(trace, NEEDLE)
        trace.unlink()
        assert execs > 10, "%s: strace saw only %d execve calls" % (scenario, execs)
        places += execs + len(sampler.seen)
        hits += ["execve argv: %s" % h for h in exec_hits]
        hits += ["process command line: %s" % h for h in sampler.hits]
        places += 1
        hits += ["readable by others: %s" % f for f in leaked_files(self.box.home, [NEEDLE])]
        for folder in (self.box.remote_tmp, self.box.local_tmp):
            places += 1
            if folder.exists():
                for dirpath, _dirs, files in os.walk(folder):
                    for name in files:
                        p = os.path.join(dirpath, name)
                        if not os.path.islink(p) and NEEDLE in Path(p).read_bytes():
                            hits.append("left in Ansible's temp folder: %s" % p)
        record(
            "canary_checks",
            places,
            hits=len(hits),
            scenario=scenario,
            execve_traced=execs,
            processes_sampled=len(sampler.seen),
            syslog_lines=logged.count(b"\n"),
        )
        self.total_places += places
        assert not hits, "%s: the canary key leaked:\n%s" % (scenario, "\n".join(hits))
        if expect_failure:
            assert run.rc != 0, "%s: expected a failing run\n%s" % (scenario, run)
        else:
            assert run.rc == 0, "%s: %s" % (scenario, run)
        # A failing run may stop before any module that logs (the preflight's uri task is no_log, and
        # ansible-core does not syslog no_log modules): the guard applies to runs that complete.
        if SYSLOG and not expect_failure:
            assert b"ansible-" in logged, "%s: the syslog sink heard no module: the check proves nothing" % scenario
        return run


@pytest.fixture
def box(tmp_path):
    sandbox = RoleSandbox(tmp_path)
    sandbox.factory.mkdir(mode=0o700)
    sandbox.settings.write_text(
        '{\n  // the developer\'s own settings\n  "theme": "dark",\n'
        '  "customModels": [\n    {"model": "local/llama", "baseUrl": "http://localhost:11434/v1",'
        ' "provider": "generic-chat-completion-api", "displayName": "Local Llama"}\n  ]\n}\n'
    )
    os.chmod(sandbox.settings, 0o600)
    return sandbox


def _stand_in(tmp_path, keys: str):
    port_file = tmp_path / "standin.port"
    proc = subprocess.Popen(
        [PYTHON, str(REPO / "tests" / "support" / "llmcloud_standin.py"), "--port", "0", "--keys", keys, "--port-file", str(port_file), "--lifetime", "300"],
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


def test_canary_never_leaks(box, tmp_path):
    check = Checker(box)

    def key(n):
        return "%s-k%d" % (CANARY, n)

    box.set_key(key(1))
    box.set_vars()
    run = check.run("converge --diff", "--diff")
    assert recap(run.output).get("changed", 0) >= 1
    assert "********" in run.output, "the diff was not printed (or not masked): the check proves nothing"
    assert key(1).encode() in box.settings.read_bytes() and mode_of(box.settings) == 0o600

    run = check.run("re-converge")
    assert recap(run.output).get("changed") == 0, run

    box.set_key(key(2))
    run = check.run("key rotation --diff", "--diff")
    assert recap(run.output).get("changed", 0) >= 1
    assert key(2).encode() in box.settings.read_bytes() and key(1).encode() not in box.settings.read_bytes()

    box.set_key(key(3))
    before = box.settings.read_bytes()
    run = check.run("--check --diff (rotation)", "--check", "--diff")
    assert box.settings.read_bytes() == before and recap(run.output).get("changed", 0) >= 1

    run = check.run("-vvv --diff (rotation)", "-vvv", "--diff")
    assert "module_args" in run.output, "-vvv did not print the task results: the check proves nothing"
    assert key(3).encode() in box.settings.read_bytes()

    box.set_key(key(4))
    run = check.run("JSON callback (returned values, rotation)", env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
    report = json.loads(run.output[run.output.find("{") :])
    merges = [
        res
        for play in report["plays"]
        for task in play["tasks"]
        for res in task["hosts"].values()
        if res.get("action", "").endswith(("json_merge", "byok_settings")) and not res.get("skipped")
    ]
    assert merges, "no json_merge result in the JSON report"
    returned = json.dumps(merges)
    assert "operations" in returned and "invocation" in returned

    # A failing run: the file no longer parses, and the error sits right after the key.
    text = box.settings.read_text()
    box.settings.write_text(text.replace('"%s"' % key(4), '"%s" oops' % key(4), 1))
    os.chmod(box.settings, 0o600)
    corrupt = box.settings.read_bytes()
    run = check.run("failing run: corrupt file, -vvv", "-vvv", "--diff", expect_failure=True)
    assert box.settings.read_bytes() == corrupt
    assert re.search(r"line \d+", run.output), "the failure does not say where"
    box.settings.write_text(text)
    os.chmod(box.settings, 0o600)

    # A failing preflight: the stand-in rejects the key (HTTP 401).
    proc, port = _stand_in(tmp_path, "some-other-key")
    try:
        box.set_vars(byok_preflight=True, byok_llmcloud_url="http://127.0.0.1:%d" % port)
        run = check.run("failing run: preflight rejects the key, -vvv", "-vvv", expect_failure=True)
        assert "invalid" in run.output.lower() or "unauthorized" in run.output.lower(), run
    finally:
        proc.terminate()
        proc.wait()

    # env key mode: the key leaves the file; the diff shows it going (masked)
    box.set_vars(byok_key_mode="env")
    run = check.run("switch to env key mode -vvv --diff", "-vvv", "--diff")
    assert CANARY.encode() not in box.settings.read_bytes()
    assert "${LLMCLOUD_API_KEY}" in box.settings.read_text()
    record("canary_leak_scenarios_total_places", check.total_places)


def test_command_line_watchers_see_a_canary(tmp_path):
    """Self-test of both command-line watchers: a 50 ms process with the canary in its argv is
    caught by the /proc sampler, and a 1 ms one by the execve trace."""
    with ProcSampler([NEEDLE]) as sampler:
        subprocess.run(["sh", "-c", "sleep 0.05", CANARY + "-selftest"], check=True)
    assert sampler.hits, "the sampler missed a 50 ms process: its silence proves nothing"
    log = tmp_path / "self.strace"
    subprocess.run(execve_prefix(log) + ["sh", "-c", 'true; /bin/true "$0"', CANARY + "-selftest"], check=True)
    calls, hits = execve_hits(log, NEEDLE)
    assert calls >= 2 and len(hits) >= 2, (calls, hits)


@pytest.mark.skipif(not SYSLOG, reason="no syslog sink (run.sh starts one as root)")
def test_module_invocation_log_is_masked(tmp_path):
    """The module's own invocation log line reaches the sink, without the key in `value`."""
    from _support import run_module

    offset = os.path.getsize(SYSLOG)
    path = tmp_path / "settings.json"
    model = {"model": "vendor/model-x", "baseUrl": "https://example.invalid", "apiKey": CANARY + "-direct"}
    res = run_module({"path": str(path), "value": {"customModels": [model]}, "keyed_lists": {"/customModels": ["model", "baseUrl"]}})
    assert res.rc == 0, str(res)
    time.sleep(0.2)
    with open(SYSLOG, "rb") as fh:
        fh.seek(offset)
        logged = fh.read()
    # the syslog ident depends on how the module was started (ansible-json_merge, ansible-basic.py):
    # the unique temporary path identifies this run's line
    mine = [line for line in logged.splitlines() if b"Invoked with" in line and str(path).encode() in line]
    assert mine, "json_merge logged no invocation to syslog: %r" % logged[-500:]
    assert NEEDLE not in logged, "the key reached syslog: %r" % [entry for entry in logged.splitlines() if NEEDLE in entry]
    record("canary_checks", len(mine), hits=0, scenario="json_merge invocation log (direct run)")


def test_value_stays_hidden_in_the_invocation_whatever_the_names():
    """Red team: a string of `value` not under a secret name was printed in
    invocation.module_args.value at -vvv although `value` is no_log. The invocation hides value
    whole, as Ansible does; the diff shows what the masking rule does not call a secret (the
    documented trade-off) unless `redact` names it."""
    import tempfile

    from _support import run_module

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "settings.json")
        plain = CANARY + "-plain"
        value = {
            "customModels": [
                {"model": "vendor/model-x", "baseUrl": "https://example.invalid", "apiKey": CANARY + "-key", "extraHeaders": {"X-Proxy-Token": CANARY + "-hdr"}}
            ],
            "note": plain,
        }
        res = run_module({"path": path, "value": value}, diff=True)
        assert res.rc == 0, str(res)
        invocation = res.data["invocation"]["module_args"]
        assert invocation["value"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", invocation["value"]
        shown = json.dumps(res.data)
        assert CANARY + "-key" not in shown and CANARY + "-hdr" not in shown
        assert shown.count(CANARY) == shown.count(plain) == 1, "only the diff may show the plain note"
        assert '"note": "%s"' % plain in res.data["diff"]["after"]
        res = run_module({"path": path + "2", "value": value, "redact": ["note"]}, diff=True)
        assert res.rc == 0 and CANARY not in json.dumps(res.data), str(res)
        record("canary_checks", 2, hits=0, scenario="json_merge invocation hides value (direct run)")
