"""Shared helpers for the fault, leak and permission suites (tests/faults).

The module is run the way Ansible runs it on a target: a separate Python process that reads
``{"ANSIBLE_MODULE_ARGS": {...}}`` on stdin and prints one JSON result on stdout. Nothing here
imports the module into the test process except the in-process fault injection of
test_injected_faults.py, which says so.

Runs of the byok role on a sandbox home use the harness shared with tests/role
(tests/support/sandbox.py): the Ansible environment, ansible-playbook runs and their recap, and
the vault; they are re-exported here for the tests.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

# The shared sandbox harness (tests/support/sandbox.py).
from sandbox import (  # noqa: E402
    COLLECTIONS,
    PYTHON,
    PlaybookRun,
    SandboxHome,
    ansible_env,
    encrypt_vault,
    local_inventory,
    recap,
    run_playbook,
    write_password,
)
from sandbox import ROOT as REPO  # noqa: E402

# Re-exported: the tests import these from here (listed, so that no linter drops them as unused).
REEXPORTED = (ansible_env, recap, run_playbook)

MODULE = "ansible_collections.llmcloud.factory_droid.plugins.modules.json_merge"
METRICS = Path(os.environ.get("FAULTS_METRICS", REPO / "tests" / "output" / "faults" / "metrics.jsonl"))

# A canary key: if it shows up anywhere it must not, the test that finds it fails.
# run.sh sets one canary for the whole run (all xdist workers), so that its final scan of the
# syslog sink and the output folder looks for the same string.
CANARY = os.environ.get("FAULTS_CANARY") or "llmc-canary-" + secrets.token_hex(12)
SYSLOG = os.environ.get("FAULTS_SYSLOG")


def record(metric: str, value: Any, **extra: Any) -> None:
    """Append one figure for the final report (run.sh prints the summary)."""
    METRICS.parent.mkdir(parents=True, exist_ok=True)
    with METRICS.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"metric": metric, "value": value, **extra}) + "\n")


def module_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PYTHONPATH"] = str(COLLECTIONS)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["LC_ALL"] = "C.UTF-8"
    if extra:
        env.update(extra)
    return env


def module_payload(args: dict[str, Any], check: bool = False, diff: bool = False) -> bytes:
    params = dict(args)
    params["_ansible_check_mode"] = check
    params["_ansible_diff"] = diff
    return json.dumps({"ANSIBLE_MODULE_ARGS": params}).encode()


def module_cmd(prefix: list[str] | None = None, program: list[str] | None = None) -> list[str]:
    """The command that runs the module (or, for the harness self-tests, a stand-in program)."""
    return list(prefix or []) + (program or [PYTHON, "-m", MODULE])


def _preexec(umask: int | None, uid: int | None, gid: int | None):
    def fn() -> None:
        os.setsid()
        if umask is not None:
            os.umask(umask)
        if gid is not None:
            os.setgroups([])
            os.setgid(gid)
        if uid is not None:
            os.setuid(uid)

    return fn


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str
    seconds: float
    data: dict = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return bool(self.data.get("failed")) or self.rc != 0

    @property
    def msg(self) -> str:
        return str(self.data.get("msg", ""))

    def __str__(self) -> str:  # shown by pytest when an assertion fails
        return "rc=%s data=%s stderr=%s" % (self.rc, json.dumps(self.data)[:2000], self.stderr[-2000:])


def parse_result(stdout: str) -> dict:
    # The module prints exactly one JSON document; be tolerant of noise before it.
    text = stdout.strip()
    start = text.find("{")
    if start < 0:
        return {}
    try:
        return json.loads(text[start:])
    except ValueError:
        return {}


def run_module(
    args: dict[str, Any],
    *,
    check: bool = False,
    diff: bool = False,
    umask: int | None = 0o022,
    prefix: list[str] | None = None,
    uid: int | None = None,
    gid: int | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    cwd: str | None = None,
    program: list[str] | None = None,
) -> Result:
    started = time.monotonic()
    proc = subprocess.run(
        module_cmd(prefix, program),
        input=module_payload(args, check, diff),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=module_env(env),
        preexec_fn=_preexec(umask, uid, gid),
        timeout=timeout,
        cwd=cwd or "/",
        check=False,
    )
    out = proc.stdout.decode("utf-8", "replace")
    return Result(proc.returncode, out, proc.stderr.decode("utf-8", "replace"), time.monotonic() - started, parse_result(out))


def start_module(
    args: dict[str, Any], *, umask: int | None = 0o022, prefix: list[str] | None = None, env: dict[str, str] | None = None, program: list[str] | None = None
) -> subprocess.Popen:
    """Start the module and leave it running (stdin written and closed, output to pipes)."""
    proc = subprocess.Popen(
        module_cmd(prefix, program),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=module_env(env),
        preexec_fn=_preexec(umask, None, None),
        cwd="/",
    )
    assert proc.stdin is not None
    proc.stdin.write(module_payload(args))
    proc.stdin.close()
    proc.stdin = None  # communicate() must not flush it again
    return proc


def finish(proc: subprocess.Popen, started: float, timeout: float = 120) -> Result:
    out, err = proc.communicate(timeout=timeout)
    text = out.decode("utf-8", "replace")
    return Result(proc.returncode, text, err.decode("utf-8", "replace"), time.monotonic() - started, parse_result(text))


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def mode_of(path: Path | str) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def snapshot(path: Path | str) -> tuple[bytes, int, int, int, int]:
    """Bytes, mode, uid, gid and mtime_ns of a file: what 'intact' means."""
    st = os.lstat(path)
    return Path(path).read_bytes(), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns


def listing(folder: Path | str) -> dict[str, tuple[int, int]]:
    """Every entry of a folder with its mode and size (lstat)."""
    out = {}
    for entry in os.scandir(folder):
        st = entry.stat(follow_symlinks=False)
        out[entry.name] = (stat.S_IMODE(st.st_mode), st.st_size)
    return out


def leaked_files(folder: Path | str, needles: list[bytes], ignore: tuple[str, ...] = ()) -> list[str]:
    """Files under folder readable by group or others that contain any needle."""
    hits = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            p = os.path.join(root, name)
            if name in ignore or os.path.islink(p):
                continue
            if mode_of(p) & 0o077:
                data = Path(p).read_bytes()
                if any(n in data for n in needles):
                    hits.append("%s (mode %04o)" % (p, mode_of(p)))
    return hits


def which(name: str) -> str | None:
    return shutil.which(name)


# --- strace-based observation and syscall fault injection -------------------------------------

STRACE = shutil.which("strace")


def strace_prefix(log: Path, *options: str) -> list[str]:
    """Prefix for run_module: follow children, decode fds to paths (-y), log to a file."""
    assert STRACE, "strace is required (run.sh installs it)"
    return [STRACE, "-f", "-qq", "-y", "-o", str(log), *options]


def observed_locks(log: Path) -> list[tuple[str, str]]:
    """(primitive, path) of every lock the traced run took: flock or fcntl record locks."""
    import re

    found = []
    for line in log.read_text(errors="replace").splitlines():
        m = re.search(r"\bflock\(\d+<([^>]*)>, (LOCK_[A-Z_|]+)\) = 0", line)
        if m and "LOCK_UN" not in m.group(2):
            found.append(("flock", m.group(1)))
            continue
        m = re.search(r"\bfcntl(?:64)?\(\d+<([^>]*)>, F_(?:OFD_)?SETLKW?, \{l_type=F_WRLCK", line)
        if m and " = 0" in line:
            found.append(("fcntl", m.group(1)))
    return found


def created_paths(log: Path, folder: Path, cwd: str = "/") -> list[tuple[str, str]]:
    """(path, flags) of every file the traced run opened with O_CREAT inside folder."""
    import re

    out = []
    folder_s = os.path.realpath(folder)
    for line in log.read_text(errors="replace").splitlines():
        m = re.search(r'\bopenat\((AT_FDCWD(?:<[^>]*>)?|\d+<([^>]*)>), "([^"]*)", ([A-Z_|]+)', line)
        if not m or "O_CREAT" not in m.group(4):
            continue
        path = m.group(3)
        if not path.startswith("/"):
            path = os.path.join(m.group(2) or cwd, path)
        if os.path.dirname(os.path.normpath(path)) == folder_s:
            out.append((os.path.normpath(path), m.group(4)))
    return out


def warnings_of(data: dict) -> list[str]:
    """Warning texts of a module result (ansible-core 2.19 sends WarningSummary objects)."""
    out = []
    for w in data.get("warnings") or []:
        if isinstance(w, str):
            out.append(w)
        elif isinstance(w, dict):
            event = w.get("event") or {}
            out.append(str(event.get("msg") or w.get("msg") or w))
    return out


# --- the byok role on a sandbox home ----------------------------------------------------------


class ProcSampler:
    """Samples every process's command line (/proc/*/cmdline) in a thread while a run goes on.

    `hits` are command lines holding any needle; `seen` counts the distinct (pid, cmdline)
    pairs sampled, so a report can say how much was looked at.
    """

    def __init__(self, needles: list[bytes], interval: float = 0.002):
        import threading

        self.needles = needles
        self.interval = interval
        self.hits: list[str] = []
        self.seen: set = set()
        self.sweeps = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as fh:
                        cmd = fh.read()
                except OSError:
                    continue
                key = (pid, cmd)
                if key in self.seen:
                    continue
                self.seen.add(key)
                for n in self.needles:
                    if n in cmd:
                        self.hits.append("pid %s: %s" % (pid, cmd.replace(b"\0", b" ").replace(n, b"<CANARY>")[:300]))
            self.sweeps += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class RoleSandbox(SandboxHome):
    """A sandbox home, a local inventory, a real ansible-vault file holding the key, and runs of
    playbooks/onboard.yml against it (as root for the user root with this home)."""

    def __init__(self, root: Path):
        super().__init__(root)
        self.root = root
        self.settings = self.settings_path
        self.remote_tmp = root / "remote_tmp"
        self.local_tmp = root / "local_tmp"
        self.log_path = root / "ansible.log"
        self.inventory = local_inventory(root / "hosts.yml")
        self.vault_password = write_password(root / "vault-password")
        self.vault_file = root / "vault.yml"
        self.vars_file = root / "vars.json"
        self.runs = 0

    def set_key(self, key: str) -> None:
        """Write the key into an ansible-vault encrypted vars file (encrypted by ansible-vault)."""
        self.vault_file.write_text("vault_llmcloud_api_key: %s\n" % json.dumps(key))
        encrypt_vault(self.vault_file, self.vault_password)
        assert key.encode() not in self.vault_file.read_bytes()

    def set_vars(self, **role_vars: Any) -> None:
        base = {
            "byok_api_key": "{{ vault_llmcloud_api_key }}",
            "byok_users": [{"name": "root", "home": str(self.home)}],
            "byok_llmcloud_url": "http://127.0.0.1:9",
        }
        base.update(role_vars)
        self.vars_file.write_text(json.dumps(base))

    def run(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        playbook: Path | None = None,
        timeout: float = 300,
        prefix: list[str] | None = None,
        umask: int | None = None,
    ) -> PlaybookRun:
        self.runs += 1
        extra = {"ANSIBLE_REMOTE_TEMP": str(self.remote_tmp), "ANSIBLE_LOCAL_TEMP": str(self.local_tmp), "ANSIBLE_LOG_PATH": str(self.log_path)}
        extra.update(env or {})
        return self.run_onboard(
            "-i",
            str(self.inventory),
            "--vault-password-file",
            str(self.vault_password),
            "-e",
            "@%s" % self.vault_file,
            "-e",
            "@%s" % self.vars_file,
            *args,
            playbook=playbook,
            env=extra,
            timeout=timeout,
            prefix=prefix,
            umask=umask,
        )


def execve_prefix(log: Path) -> list[str]:
    """strace every execve of a run and its children, with full argument strings."""
    assert STRACE, "strace is required (run.sh installs it)"
    return [STRACE, "-f", "-qq", "--seccomp-bpf", "-s", "65536", "-e", "trace=execve", "-o", str(log)]


def execve_hits(log: Path, needle: bytes) -> tuple[int, list[str]]:
    """(number of execve calls, those whose argv holds the needle)."""
    calls, hits = 0, []
    for line in log.read_bytes().splitlines():
        if b"execve(" not in line:
            continue
        calls += 1
        if needle in line:
            hits.append(line.replace(needle, b"<CANARY>")[:300].decode("utf-8", "replace"))
    return calls, hits
