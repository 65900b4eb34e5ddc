"""The key never shows in Ansible's output: --check --diff, -vvv, failing runs, per-user keys.

Sandbox.play() already fails any test whose output holds the key; these tests make sure the
runs that would be most tempted to print it (diffs, verbose results, errors) actually happen.
"""

from __future__ import annotations

import base64
import json

from _other_user import nobody_home  # a fixture  # noqa: F401  # pylint: disable=unused-import
from conftest import KEY, OTHER_KEY, needs_root
from test_system_scope import clients, machine_factory  # noqa: F401  # pylint: disable=unused-import  # fixtures


def test_check_diff_on_a_fresh_home_tells_the_truth_and_writes_nothing(sandbox):
    before = sandbox.snapshot()
    run = sandbox.play({}, "--check", "--diff")
    assert run.changed == 1
    assert sandbox.snapshot() == before and not sandbox.factory.exists()
    assert '"model": "anthropic/claude-opus-4.6"' in run.output  # the diff is shown...
    assert '"apiKey": "********"' in run.output  # ...with the key masked


def test_check_diff_of_a_change_to_an_existing_file(sandbox):
    sandbox.play()
    before = sandbox.snapshot()
    run = sandbox.play({"byok_models": ["anthropic/claude-haiku-4.5"], "byok_api_key": "{{ vault_llmcloud_other_key }}"}, "--check", "--diff")
    assert run.changed == 1 and sandbox.snapshot() == before
    assert '-      "model": "anthropic/claude-opus-4.6"' in run.output
    assert "********" in run.output
    # check mode predicted a change; the real run makes it, and then there is none left
    assert sandbox.play({"byok_models": ["anthropic/claude-haiku-4.5"], "byok_api_key": "{{ vault_llmcloud_other_key }}"}).changed == 1
    assert sandbox.play({"byok_models": ["anthropic/claude-haiku-4.5"], "byok_api_key": "{{ vault_llmcloud_other_key }}"}, "--check", "--diff").changed == 0


def test_vvv_first_run_and_rerun(sandbox):
    first = sandbox.play({"byok_default_model": "anthropic/claude-sonnet-4.5"}, "-vvv", "--diff")
    assert first.changed == 1 and "invocation" in first.output  # -vvv shows what the module was given
    second = sandbox.play({"byok_default_model": "anthropic/claude-sonnet-4.5"}, "-vvv", "--diff")
    assert second.changed == 0
    assert sandbox.files_containing(KEY) == [str(sandbox.settings_path)]


@needs_root
def test_vvv_with_per_user_keys_and_legacy_file(sandbox, nobody_home):  # noqa: F811 - the imported fixture
    users = [sandbox.user(api_key="{{ vault_llmcloud_other_key }}"), {"name": "nobody", "home": str(nobody_home)}]
    run = sandbox.play({"byok_users": users, "byok_format": "legacy"}, "-vvv", "--diff")
    assert run.changed == 1  # one json_merge task: the legacy file of both users


def test_vvv_failing_runs(sandbox, standin_factory):
    standin = standin_factory(keys=[OTHER_KEY])
    bad_key = sandbox.play({"byok_llmcloud_url": standin.url, "byok_preflight": True}, "-vvv", check=False)
    assert bad_key.rc != 0 and "API key invalid or unauthorized" in bad_key.output
    bad_input = sandbox.play({"byok_models": ["nope/nope"]}, "-vvv", check=False)
    assert bad_input.rc != 0 and "byok_models: unknown model id" in bad_input.output
    missing_user = sandbox.play({"byok_users": [{"name": "byok-no-such-user", "api_key": "{{ vault_llmcloud_other_key }}"}]}, "-vvv", check=False)
    assert missing_user.rc != 0 and "byok-no-such-user" in missing_user.output


# -- red-team findings (issue 11) ----------------------------------------------------------------


class _Redirector:
    """A loopback server on its own port that answers every request with a redirect to `target`
    (another origin: same address, other port) and records the Authorization headers it got."""

    def __init__(self, target, status=302):
        import http.server
        import threading

        seen = self.authorizations = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - name fixed by the base class
                seen.append(self.headers.get("Authorization"))
                self.send_response(status)
                self.send_header("Location", target + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_preflight_never_follows_a_redirect_to_another_origin(sandbox, standin_factory):
    """Red team: a 302 from byok_llmcloud_url to another host carried `Authorization: Bearer <key>`
    there and the preflight passed. The key goes to the configured origin only."""
    elsewhere = standin_factory(keys=[KEY])  # would accept the key: a pass would prove the leak
    for status in (302, 307):
        redirector = _Redirector(elsewhere.url, status)
        try:
            run = sandbox.play({"byok_llmcloud_url": redirector.url, "byok_preflight": True}, check=False)
        finally:
            redirector.stop()
        assert redirector.authorizations == ["Bearer %s" % KEY]  # the configured origin got the key
        sent = sum(1 for r in elsewhere.requests() if KEY in json.dumps(r))
        assert sent == 0, "HTTP %d: the key was sent %d times to the redirect target %s" % (status, sent, elsewhere.url)
        assert run.rc != 0, "HTTP %d: the preflight passed through a redirect to another origin" % status
        assert "redirect" in run.output and elsewhere.url in run.output, run.output[-3000:]
        assert not sandbox.settings_path.exists(), "a failed preflight must not write settings"


def test_plain_http_to_another_host_is_refused_unless_allowed(sandbox):
    """Red team: byok_llmcloud_url http://... was accepted silently (the key in clear text)."""
    refused = sandbox.play({"byok_llmcloud_url": "http://llmcloud.example.internal"}, check=False)
    assert refused.rc != 0 and "byok_llmcloud_url is plain http:// to llmcloud.example.internal" in refused.output
    assert "byok_allow_insecure_http" in refused.output and not sandbox.settings_path.exists()
    extra = [{"model": "corp/model", "provider": "openai", "base_url": "http://gateway.example.internal/v1"}]
    refused = sandbox.play({"byok_extra_models": extra}, check=False)
    assert refused.rc != 0 and "byok_extra_models[0].base_url is plain http://" in refused.output
    allowed = sandbox.play({"byok_llmcloud_url": "http://llmcloud.example.internal", "byok_extra_models": extra, "byok_allow_insecure_http": True})
    assert allowed.changed == 1
    assert '"baseUrl": "http://llmcloud.example.internal"' in sandbox.settings_path.read_text()


def _encoded(secret):
    """Forms a validator or a report could carry the key in: base64 at each alignment, hex, reversed."""
    found = [secret[::-1], secret.encode().hex()]
    for pad in range(3):
        found.append(base64.b64encode(("x" * pad + secret).encode()).decode()[4:-4])
    return found


@needs_root
def test_vvvv_system_scope_offboarding_and_failures_leak_nothing(machine_factory, standin):  # noqa: F811 - the imported fixture
    """Issue 20's new paths at -vvvv and --diff, in check mode and for real, and failing: the probe
    and its report, strict_path, the validator (droid doctor) refusing a candidate, the repair report,
    offboarding with json_merge's offboard option."""
    machine = machine_factory("0.225.2")
    machine.box.factory.mkdir(mode=0o700)
    # droid's own rewrite left the plaintext key in the user's file (env key mode, scope both)
    entry = {"model": "anthropic/claude-opus-4.6", "displayName": "Claude Opus 4.6", "provider": "anthropic"}
    entry.update(baseUrl=standin.url, apiKey=KEY)
    machine.box.settings_path.write_text(json.dumps({"customModels": [entry]}))
    variables = {"byok_scope": "both", "byok_llmcloud_url": standin.url}
    runs = [machine.play(variables, "--check", "--diff", "-vvvv"), machine.play(variables, "--diff", "-vvvv")]
    assert "Repaired %s" % machine.box.settings_path in runs[-1].output
    # the administrator's own entry with a key-looking value and a typo: doctor refuses the candidate
    machine.system_file.write_text(json.dumps({"maxAutonomyLevel": KEY, "customModels": machine.system()["customModels"][:-1]}))
    failed = machine.play(variables, "--diff", "-vvvv", check=False)
    assert failed.rc != 0 and "validate failed" in failed.output
    machine.system_file.write_text("{}")
    gone = dict(variables, byok_state="absent")
    runs += [failed, machine.play(gone, "--check", "--diff", "-vvvv"), machine.play(gone, "--diff", "-vvvv")]
    for run in runs:
        for form in [KEY] + _encoded(KEY):
            assert form not in run.output, form


def test_a_banner_that_shows_the_merge_task_s_args_shows_no_key(sandbox):
    """ansible-core prints a task's args in its banner with ANSIBLE_DISPLAY_ARGS_TO_STDOUT, and when
    it hides ok results it prints that banner late, from the worker's task: the merge's args hold
    `files` for the fleet report, every key masked (the templated `files` of a json_merge task showed it)."""
    env = {"ANSIBLE_DISPLAY_ARGS_TO_STDOUT": "True", "ANSIBLE_DISPLAY_OK_HOSTS": "False"}
    first = sandbox.play({}, env=env)  # changed: the banner is printed, with the args
    assert first.changed == 1 and "files=[{" in first.output and "'apiKey': '********'" in first.output, first.output
    env_mode = sandbox.play({"byok_key_mode": "env"}, env=env)  # the reference names a variable: shown
    assert "'apiKey': '${LLMCLOUD_API_KEY}'" in env_mode.output, env_mode.output
