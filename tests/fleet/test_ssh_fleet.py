"""The SSH fleet, for real (issue 13): six Debian hosts reached over SSH with sudo become.

A platform team's fleet inventory (tests/fleet/_fleet.py writes it): hosts in two groups by key
mode (inline, keychain), `admin` logging in with a key and becoming root with a sudo password from
the ansible-vault encrypted vault, two developers per host in byok_users (the second one's home is
under /Users, as on macOS), each with their own vaulted key. playbooks/onboard.yml runs as a platform team runs it, with pipelining off (Ansible's
default) and then on, each time on homes put back to "before onboarding":

  --check --diff   reports changes on every host and writes nothing under the developers' homes
  converge         -vvv --diff, changes on every host
  idempotence      changed=0 on every host
  verify           the files (modes, owners, entries, the first developer's comments and own model,
                   no key where the key mode says none), then the real droid client in each
                   container: it lists the LLMCloud models and sends each developer's own key to
                   the LLMCloud stand-in on the controller's loopback (inline: from settings.json;
                   keychain: from a bash login shell that reads it from `pass`).

No key or password appears in any output (-vvv, --diff). Then the case of becoming an
unprivileged user (the keychain mode runs `pass` as each developer) on a host without setfacl.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _fleet  # noqa: E402  (sibling helper)

REPO = _fleet.REPO
HOSTS = int(os.environ.get("FLEET_HOSTS", "6"))
PLAYBOOK = REPO / "playbooks" / "onboard.yml"
STANDIN = REPO / "tests" / "support" / "llmcloud_standin.py"
DROID = "/opt/droid/current/bin/droid"
FIXTURE = "alice-settings.jsonc"
FIXTURE_MODEL = "team/llama-3.3-70b"
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
CATALOG = [
    ("anthropic/claude-opus-4.6", "Claude Opus 4.6", "anthropic"),
    ("anthropic/claude-opus-4.5-thinking", "Claude Opus 4.5 Thinking", "anthropic"),
    ("anthropic/claude-sonnet-4.6", "Claude Sonnet 4.6", "anthropic"),
    ("anthropic/claude-sonnet-4.5", "Claude Sonnet 4.5", "anthropic"),
    ("anthropic/claude-sonnet-4.5-thinking", "Claude Sonnet 4.5 Thinking", "anthropic"),
    ("anthropic/claude-haiku-4.5", "Claude Haiku 4.5", "anthropic"),
    ("google/gemini-3-flash-preview", "Gemini 3 Flash Preview", "openai"),
    ("google/gemini-3-pro-preview", "Gemini 3 Pro Preview", "openai"),
]
# One request per family: (model, path, auth)
REQUESTS = [
    ("anthropic/claude-opus-4.6", "/v1/messages", "x-api-key"),
    ("google/gemini-3-pro-preview", "/v1/responses", "bearer"),
]


def droid_id(entry: dict) -> str:
    """The id droid gives an entry: its stored `id`, else custom:<displayName, whitespace runs as
    '-'>-<n> (n = 0 here: every display name is unique in these files); module_utils/_droid.py client_ids."""
    return entry.get("id") or "custom:%s-0" % re.sub(r"\s+", "-", entry.get("displayName") or entry["model"])


WHY = _fleet.unavailable()
pytestmark = pytest.mark.skipif(bool(WHY), reason=WHY or "ready")
TIMES: dict[str, float] = {}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Run:
    def __init__(self, name: str, rc: int, output: str, seconds: float):
        self.name, self.rc, self.output, self.seconds = name, rc, output, seconds
        self.recap = {m[0]: {"ok": int(m[1]), "changed": int(m[2]), "unreachable": int(m[3]), "failed": int(m[4])} for m in RECAP.findall(output)}

    def __repr__(self) -> str:  # what pytest shows on a failed assert: the end of the run
        return "<%s rc=%d in %.1f s>\n%s" % (self.name, self.rc, self.seconds, self.output[-4000:])


class FleetRun:
    """The fleet, its inventory and vault, the LLMCloud stand-in, and the runs' logs."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.fleet = _fleet.Fleet(workdir, HOSTS, "llmcloud-fleet-%d" % os.getpid(), key_modes=["inline", "keychain"])
        self.keys = {dev: "fleetkey-%s-%s" % (dev, secrets.token_urlsafe(24).replace("-", "x")) for _host, dev in self.fleet.developers()}
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True)
        self.record = workdir / "standin.jsonl"
        self.standin = None
        self.url = ""
        self.inventory = None
        self.vault_password = workdir / "vault-password"

    def start(self) -> None:
        TIMES["containers up and prepared"] = self.fleet.start()
        port_file = self.workdir / "standin.port"
        self.standin = subprocess.Popen(
            [sys.executable, str(STANDIN), "--port", "0", "--keys", "", "--port-file", str(port_file), "--record", str(self.record), "--lifetime", "1200"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _attempt in range(200):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("the LLMCloud stand-in did not start")
        self.url = "http://127.0.0.1:%s" % port_file.read_text().strip()
        self.vault_password.write_text(secrets.token_urlsafe(24) + "\n")
        os.chmod(self.vault_password, 0o600)
        self.inventory = self.fleet.write_inventory(self.workdir / "inventory", self.url, self.keys, self.vault_password, Path(sys.executable).parent)

    def stop(self) -> None:
        self.fleet.stop()
        if self.standin:
            self.standin.terminate()
            self.standin.wait()

    def secrets(self) -> list[str]:
        return list(self.keys.values()) + [self.fleet.admin_password]

    def playbook(self, name: str, *args: str, pipelining: bool = False, extra_env: dict | None = None, limit: str | None = None) -> Run:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update(
            {
                "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
                "ANSIBLE_COLLECTIONS_PATH": str(REPO / "build" / "collections"),
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_RETRY_FILES_ENABLED": "0",
                "ANSIBLE_PIPELINING": "True" if pipelining else "False",
                "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.fleet.control_dir),
                "ANSIBLE_LOCAL_TEMP": str(self.workdir / "ansible-local"),
                "ANSIBLE_FORKS": str(max(5, HOSTS)),
                "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
            }
        )
        env.update(extra_env or {})
        cmd = ["ansible-playbook", "-i", str(self.inventory), "--vault-id", "fleet@%s" % self.vault_password, *args, str(PLAYBOOK)] + (
            ["--limit", limit] if limit else []
        )
        t0 = time.monotonic()
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=str(REPO), timeout=600, check=False)
        seconds = time.monotonic() - t0
        output = proc.stdout.decode(errors="replace")
        (self.logs / (re.sub(r"[^a-z0-9]+", "-", name.lower()) + ".log")).write_text(output)
        TIMES[name] = seconds
        leaked = [s for s in self.secrets() if s in output]
        assert not leaked, "%s: %d secret(s) (developer keys / become password) in Ansible's output" % (name, len(leaked))
        return Run(name, proc.returncode, output, seconds)

    # ------------------------------------------------------------------ judging the hosts
    def fingerprint(self) -> dict[str, list[str]]:
        """Every path under each developer's home (type, mode, owner, size, mtime, hash), except
        ~/.gnupg (gpg-agent and random_seed change when `pass show` reads the store)."""

        def one(host):
            out = host.exec("python3", "/opt/molecule/inspect_home.py", "fingerprint", *[host.home(d) for d in host.developers]).stdout.decode()
            return host.name, [line for line in out.splitlines() if "/.gnupg" not in line.split(" ", 1)[0]]

        return dict(self.fleet._parallel(one))

    def verify(self) -> dict:
        """Judge every developer on every host; returns what droid listed, for the report."""
        self.record.write_text("")
        listed = dict(pair for pairs in self.fleet._parallel(self._verify_host) for pair in pairs)
        requests = [json.loads(line) for line in self.record.read_text().splitlines() if line.strip()]
        by_key = {}
        for req in requests:
            if req.get("method") == "POST":
                by_key.setdefault(req.get("api_key"), set()).add((req["path"], req["auth"], req["model"], req["status"]))
        unknown = [k for k in by_key if k not in self.keys.values()]
        assert not unknown, "the stand-in got %d request(s) with a key that is no developer's" % len(unknown)
        for host, dev in self.fleet.developers():
            got = by_key.get(self.keys[dev], set())
            for model, path, auth in REQUESTS:
                assert (path, auth, model, 200) in got, "%s on %s (%s): droid did not send %s to %s with this developer's key (%s); got %s" % (
                    dev,
                    host.name,
                    host.key_mode,
                    model,
                    path,
                    auth,
                    sorted(got),
                )
        return listed

    def _verify_host(self, host) -> list:
        others = [k for d, k in self.keys.items() if d not in host.developers]
        results = []
        for index, dev in enumerate(host.developers):
            home = host.home(dev)
            uid, gid = map(int, host.exec("sh", "-c", 'id -u "$1"; id -g "$1"', "ids", dev).stdout.decode().split())
            st = json.loads(host.exec("python3", "/opt/molecule/inspect_home.py", "stat", home + "/.factory", home + "/.factory/settings.json").stdout)
            where = "%s on %s" % (dev, host.name)
            assert (st[0]["type"], st[0]["mode"], st[0]["uid"], st[0]["gid"]) == ("dir", "0700", uid, gid), (where, st)
            assert (st[1]["type"], st[1]["mode"], st[1]["uid"], st[1]["gid"]) == ("file", "0600", uid, gid), (where, st)
            read = json.loads(
                host.exec("python3", "/opt/molecule/inspect_home.py", "jsonc", home + "/.factory/settings.json", "/opt/molecule/" + FIXTURE).stdout
            )
            doc, fixture = read[0], read[1]
            entries = doc["document"].get("customModels", [])
            expected_key = "${LLMCLOUD_API_KEY}" if host.key_mode == "keychain" else "sha256:" + sha(self.keys[dev])
            ids = {}
            for model, name, family in CATALOG:
                found = [e for e in entries if e.get("model") == model]
                base = self.url + ("/v1" if family == "openai" else "")
                assert (
                    len(found) == 1
                    and found[0].get("displayName") == name
                    and found[0].get("provider") == family
                    and found[0].get("baseUrl") == base
                    and found[0].get("apiKey") == expected_key
                ), "%s: entry for %s is %s" % (where, model, found)
                ids[model] = droid_id(found[0])
            own = [e["model"] for e in entries if e.get("baseUrl", "").startswith("https://llm.example.com")]
            if index == 0:  # the developer with hand-edited settings keeps comments, theme, own model
                assert own == [FIXTURE_MODEL], "%s lost the own model: %s" % (where, own)
                assert not set(fixture["comments"]) - set(doc["comments"]), "%s lost comments" % where
                assert doc["document"].get("theme") == "dark", "%s lost the theme" % where
            else:
                assert own == [], "%s: unexpected own models %s" % (where, own)
            found = json.loads(
                host.exec("python3", "/opt/molecule/inspect_home.py", "find-secret", home, stdin=("\n".join([self.keys[dev]] + others) + "\n").encode()).stdout
            )
            expected_files = [] if host.key_mode == "keychain" else [home + "/.factory/settings.json"]
            assert found["own"] == expected_files, "%s: own key in %s, expected %s" % (where, found["own"], expected_files)
            assert found["others"] == [], "%s: other developers' keys in %s" % (where, found["others"])
            if host.key_mode == "keychain":
                stored = host.exec("runuser", "-u", dev, "--", "env", "HOME=" + home, "pass", "show", _fleet.ENTRY, check=False).stdout.decode().splitlines()
                assert stored[:1] == [self.keys[dev]], "%s: the key in pass is not this developer's" % where
            if not self.fleet.droid:
                continue
            listing = self._droid(host, dev, "exec", "--list-tools", "-m", "custom:does-not-exist", check=False)
            listed = sorted(set(re.findall(r"(custom:\S+) \(", listing)))
            wanted = sorted(ids.values())
            if index == 0:
                wanted = sorted(wanted + [droid_id(e) for e in entries if e.get("model") == FIXTURE_MODEL])
            assert listed == wanted, "%s: droid lists %s, expected %s" % (where, listed, wanted)
            for model, _path, _auth in REQUESTS:
                out = self._droid(host, dev, "exec", "-m", ids[model], "hi")
                assert "Hello from the LLMCloud stand-in." in out, "%s: droid exec -m %s said %s" % (where, ids[model], out[-500:])
            results.append(("%s/%s" % (host.name, dev), len(listed)))
        return results

    def _droid(self, host, dev, *args: str, check: bool = True) -> str:
        """droid as the developer: inline hosts run it directly with the developer's HOME; keychain
        hosts run it from a bash login shell, which is what exports LLMCLOUD_API_KEY from `pass`."""
        if host.key_mode == "keychain":
            argv = ["runuser", "-l", dev, "-c", 'exec timeout 120 "$0" "$@"', "--", DROID, *args]
        else:
            argv = [
                "runuser",
                "-u",
                dev,
                "--",
                "env",
                "-u",
                "LLMCLOUD_API_KEY",
                "HOME=" + host.home(dev),
                "sh",
                "-c",
                'cd && exec timeout 120 "$0" "$@"',
                DROID,
                *args,
            ]
        proc = host.exec(*argv, check=False, timeout=180)
        out = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
        if check:
            assert proc.returncode == 0, "%s on %s: droid %s exited %d: %s" % (dev, host.name, " ".join(args), proc.returncode, out[-800:])
        for key in self.keys.values():
            out = out.replace(key, "********")
        return out


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    run = FleetRun(tmp_path_factory.mktemp("fleet"))
    try:
        run.start()
        yield run
    finally:
        run.stop()
        if TIMES:
            summary = ", ".join("%s %.1f s" % item for item in TIMES.items())
            print("\nfleet timings: " + summary, file=sys.stderr)
            (REPO / "build").mkdir(exist_ok=True)
            (REPO / "build" / "fleet-timings.json").write_text(json.dumps(TIMES, indent=2) + "\n")


@pytest.mark.parametrize("pipelining", [False, True], ids=["pipelining-off", "pipelining-on"])
def test_fleet_check_converge_idempotence_verify(fleet, pipelining):
    tag = "pipelining %s" % ("on" if pipelining else "off")
    hosts = sorted(h.name for h in fleet.fleet.hosts)
    fleet.fleet.reset(FIXTURE)

    before = fleet.fingerprint()
    check = fleet.playbook("check (%s)" % tag, "--check", "--diff", pipelining=pipelining)
    assert check.rc == 0, check
    assert sorted(check.recap) == hosts, check
    assert all(r["changed"] > 0 and r["failed"] == 0 for r in check.recap.values()), check.recap
    after = fleet.fingerprint()
    for host in hosts:
        changed = sorted(set(after[host]) ^ set(before[host]))
        assert not changed, "--check wrote under the developers' homes on %s: %s" % (host, changed[:6])

    converge = fleet.playbook("converge (%s)" % tag, "-vvv", "--diff", pipelining=pipelining)
    assert converge.rc == 0, converge
    assert sorted(converge.recap) == hosts, converge
    assert all(r["changed"] > 0 and r["failed"] == 0 for r in converge.recap.values()), converge.recap

    again = fleet.playbook("idempotence (%s)" % tag, pipelining=pipelining)
    assert again.rc == 0, again
    assert sorted(again.recap) == hosts, again
    assert {h: r["changed"] for h, r in again.recap.items()} == {h: 0 for h in hosts}, again.recap

    t0 = time.monotonic()
    listed = fleet.verify()
    TIMES["verify (%s)" % tag] = time.monotonic() - t0
    assert len(listed) == len(fleet.keys) or not fleet.fleet.droid, listed


def _keychain_host(fleet):
    hosts = [h for h in fleet.fleet.hosts if h.key_mode == "keychain"]
    if not hosts:
        pytest.skip("no keychain host in this fleet")
    return hosts[0]


@pytest.fixture
def without_setfacl(fleet):
    """A keychain host whose setfacl is gone (a minimal Debian without the acl package)."""
    host = _keychain_host(fleet)
    host.exec("mv", "/usr/bin/setfacl", "/usr/bin/setfacl.hidden")
    try:
        yield host
    finally:
        host.exec("mv", "/usr/bin/setfacl.hidden", "/usr/bin/setfacl")


def test_become_unprivileged_without_setfacl_fails_and_writes_nothing(fleet, without_setfacl):
    """admin -> sudo -u <developer> with pipelining off needs the module's temporary files readable
    by the developer: setfacl, else Ansible stops before the module runs. Nothing is half-done."""
    host = without_setfacl
    before = fleet.fingerprint()[host.name]
    run = fleet.playbook("become unprivileged, no setfacl, pipelining off", limit=host.name)
    assert run.rc != 0 and run.recap[host.name]["failed"] == 1, run
    assert fleet.fingerprint()[host.name] == before, "a failed run changed the developers' homes"


def test_become_unprivileged_failure_says_what_to_install_or_set(fleet, without_setfacl):
    host = without_setfacl
    run = fleet.playbook("become unprivileged, no setfacl, message", limit=host.name)
    assert run.rc != 0, run
    text = run.output.lower()
    assert "setfacl" in text or "acl" in text.split(), run
    assert "pipelining" in text or "allow_world_readable_tmpfiles" in text, run


@pytest.mark.parametrize("how", ["pipelining", "world-readable-tmpfiles"])
def test_become_unprivileged_without_setfacl_works_with_the_documented_settings(fleet, without_setfacl, how):
    """The two settings that need no ACL tools: pipelining (no temporary module files at all) and
    allow_world_readable_tmpfiles (Ansible warns). The run is idempotent (changed=0) either way."""
    host = without_setfacl
    if how == "pipelining":
        run = fleet.playbook("become unprivileged, no setfacl, pipelining on", pipelining=True, limit=host.name)
    else:
        run = fleet.playbook(
            "become unprivileged, no setfacl, world-readable tmpfiles", limit=host.name, extra_env={"ANSIBLE_SHELL_ALLOW_WORLD_READABLE_TEMP": "True"}
        )
        assert "world-readable permissions for temporary files" in run.output, run
    assert run.rc == 0, run
    assert run.recap[host.name]["changed"] == 0 and run.recap[host.name]["failed"] == 0, run.recap
