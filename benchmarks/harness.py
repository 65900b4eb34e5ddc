"""Benchmark harness for llmcloud.factory_droid (`make bench`; README.md, section Performance).

Measures, in one run and on the same inventories, interleaved rounds of whole `ansible-playbook`
runs: the floor (one ping per host), the byok role (first converge and idempotent re-converge) and
what users would do instead (template overwrite; file + slurp + combine + copy), over simulated
local hosts (one sandbox home per host), podman containers, and a fleet of containers reached over
SSH as an unprivileged admin with sudo become (tests/fleet/_fleet.py), then the module alone on
large JSONC files (benchmarks/modbench.py). Laptop mode is the role for the connecting user (no
byok_users); fleet mode is the role as root for the users listed in byok_users. Writes benchmarks/output/results.json (raw data) and
benchmarks/RESULTS.md (the report); benchmarks/plot.py draws the PNG from the raw data.

Knobs (environment):
  BENCH_ROUNDS            rounds per configuration (default 3)
  BENCH_MATRIX            host-count:forks pairs for local hosts (default "1:5 20:5 100:5 200:5";
                          add 20:20 to see what more forks change)
  BENCH_PIPELINING_AT     pairs that also run floor, byok and byok_users with ANSIBLE_PIPELINING=True
                          (default "20:5"; "" disables)
  BENCH_SSH_HOSTS         containers in the SSH fleet (default 6; 0 disables); pipelining off and on
  BENCH_SSH_IMAGE         image for them (default localhost/llmcloud-molecule-debian:bookworm-fleet,
                          built by molecule/images.sh bookworm-fleet)
  BENCH_SLOW_MAX_HOSTS    above this many hosts only the growth scenarios run (the floor, byok and
                          byok_users idempotent, on homes converged once untimed) (default 20)
  BENCH_LARGE_ROUNDS      rounds for the configurations above BENCH_SLOW_MAX_HOSTS (default 2)
  BENCH_CONTAINERS        podman containers in the container inventory (default 3; 0 disables)
  BENCH_CONTAINER_IMAGE   image for them (default localhost/llmcloud-molecule-debian:bookworm)
  BENCH_MODULE_REPEATS    repetitions per file size for the module alone (default 5)
  BENCH_SECTIONS          any of "hosts ssh containers module" (default all four)
  BENCH_SCENARIOS         the playbook scenarios (comma list of names; default: all but template_idem;
                          "all" for every one)
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import pwd
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "output"
RUN = OUT / "run"
PLAYBOOKS = HERE / "playbooks"
RESULTS_JSON = OUT / "results.json"
RESULTS_MD = HERE / "RESULTS.md"
PLOT_PNG = HERE / "bench.png"

sys.path.insert(0, str(HERE))
import modbench  # noqa: E402  (sibling file)

# A stand-in key: the benchmark never talks to LLMCloud.
BENCH_API_KEY = "llmcloud-bench-not-a-real-key"

# What a developer already has before onboarding: their own model, a few settings. Plain JSON, because
# the slurp chain's from_json cannot read JSONC; the module-alone benchmark uses JSONC with comments.
SEED = {
    "model": "claude-sonnet-4-5-20250929",
    "reasoningEffort": "medium",
    "cloudSessionSync": False,
    "enableCustomDroids": True,
    "includeCoAuthoredByDroid": False,
    "customModels": [
        {
            "model": "qwen2.5-coder:7b",
            "displayName": "Local Qwen",
            "baseUrl": "http://127.0.0.1:11434/v1",
            "apiKey": "not-needed",
            "provider": "generic-chat-completion-api",
            "maxOutputTokens": 8192,
        }
    ],
    "commandAllowlist": ["ls", "pwd", "git status", "git diff"],
    "commandDenylist": ["rm -rf /", "mkfs"],
}

# Scenario name -> (playbook, home family, reset homes before the run, expected changes per host)
SCENARIOS = {
    "floor": ("floor.yml", "floor", False, 0),
    # SSH fleet only: the same ping through sudo, as a fleet inventory with ansible_become runs it.
    "floor_become": ("floor_become.yml", "floor", False, 0),
    "byok_first": ("byok.yml", "byok", True, 1),
    "byok_idem": ("byok.yml", "byok", False, 0),
    # As a fleet job: root for the listed user, on the homes byok_first converged (same document).
    "fleet_idem": ("byok_fleet.yml", "byok", False, 0),
    "template_first": ("template.yml", "template", True, 1),
    "template_idem": ("template.yml", "template", False, 0),
    "chain_first": ("slurp_chain.yml", "chain", True, 1),
    "chain_idem": ("slurp_chain.yml", "chain", False, 0),
}
LABELS = {
    "floor": "floor: ping",
    "floor_become": "floor: ping with become",
    "byok_first": "byok first converge",
    "byok_idem": "byok idempotent",
    "fleet_idem": "byok_users idempotent",
    "template_first": "template first",
    "template_idem": "template rerun",
    "chain_first": "slurp chain first",
    "chain_idem": "slurp chain rerun",
}
# Interleaving unit: a first converge and its rerun stay together, the groups rotate per round.
GROUPS = [["floor"], ["byok_first", "byok_idem", "fleet_idem"], ["template_first", "template_idem"], ["chain_first", "chain_idem"]]
# How the cost grows with the host count: the controller CPU per host of these three at every
# local size. Above BENCH_SLOW_MAX_HOSTS hosts (default 20) only they run, in BENCH_LARGE_ROUNDS
# rounds (default 2), to keep `make bench` near 20 minutes on 2 cores; byok's first converge runs
# once, untimed, to converge the homes the idempotent runs find.
GROWTH_SCENARIOS = ["floor", "byok_idem", "fleet_idem"]
# Measured unless BENCH_SCENARIOS says otherwise ("all" for every scenario). A template rerun
# costs what its first run costs (stat, checksum, copy), so it is left out to keep the run short.
DEFAULT_SCENARIOS = {"floor", "byok_first", "byok_idem", "fleet_idem", "template_first", "chain_first", "chain_idem"}
PIPE = "+pipe"  # suffix of the pipelining variants
PIPE_GROUPS = [["floor" + PIPE], ["byok_first" + PIPE, "byok_idem" + PIPE, "fleet_idem" + PIPE]]
# Over SSH: both floors, laptop mode (as the admin for its own home) and fleet mode (become root for
# the listed user), pipelining off and on, all in the same interleaved rounds.
SSH_GROUPS = [
    ["floor", "floor_become"],
    ["byok_first", "byok_idem", "fleet_idem"],
    ["floor" + PIPE, "floor_become" + PIPE],
    ["byok_first" + PIPE, "byok_idem" + PIPE, "fleet_idem" + PIPE],
]

# The targets of the daily run (issue 22), all idempotent runs as a multiple of the floor of the
# same rounds: 20 local hosts against the one-ping play; over SSH, fleet mode with pipelining
# against the ping with become, pipelining on (become is what a fleet job cannot do without).
TARGET_LOCAL_HOSTS = 20
TARGET_LOCAL = {"byok_idem": 1.4, "fleet_idem": 1.5}
TARGET_SSH_FLEET_PIPE = 1.35

RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        sys.exit(f"bench: {name}={raw!r} is not an integer")
    if value < 0:
        sys.exit(f"bench: {name} must not be negative")
    return value


def env_pairs(name: str, default: str) -> list[tuple[int, int]]:
    raw = os.environ.get(name, default)
    pairs = []
    for item in raw.split():
        match = re.fullmatch(r"(\d+):(\d+)", item)
        if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
            sys.exit(f"bench: {name} takes hosts:forks pairs such as '20:5', not {item!r}")
        pairs.append((int(match.group(1)), int(match.group(2))))
    return pairs


def run_cmd(cmd: list[str], **kwargs) -> str:
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120, **kwargs).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unavailable ({exc.__class__.__name__})"


# --------------------------------------------------------------------------- machine and versions
def machine_info() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    ansible_core = run_cmd([sys.executable, "-c", "import ansible.release as r; print(r.__version__)"])
    podman_coll = "not installed"
    try:
        import ansible_collections.containers.podman as cp  # type: ignore

        manifest = Path(list(cp.__path__)[0]) / "MANIFEST.json"
        podman_coll = json.loads(manifest.read_text())["collection_info"]["version"]
    except Exception:  # noqa: BLE001  (report, do not fail, when the collection is missing)
        pass
    ansible_pkg = run_cmd([sys.executable, "-c", "import importlib.metadata as m; print(m.version('ansible'))"])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
        "os": _os_release(),
        "python": platform.python_version(),
        "ansible_core": ansible_core,
        "ansible": ansible_pkg,
        "containers_podman": podman_coll,
        "podman": run_cmd(["podman", "--version"]) if shutil.which("podman") else "not installed",
        "loadavg_start": _loadavg(),
    }


def _os_release() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.platform()


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


# --------------------------------------------------------------------------- inventories and homes
class LocalTarget:
    """N simulated hosts on this machine: connection local, one sandbox home per host."""

    kind = "local"

    def __init__(self, hosts: int, forks: int):
        self.hosts = hosts
        self.forks = forks
        self.names = [f"h{i:03d}" for i in range(hosts)]
        self.homes = RUN / "homes" / f"local-{hosts}"
        self.inventory = RUN / f"inventory-local-{hosts}.yml"
        inventory = {
            "bench": {
                "hosts": {name: None for name in self.names},
                "vars": {
                    "ansible_connection": "local",
                    # The controller's interpreter: no per-host interpreter discovery.
                    "ansible_python_interpreter": sys.executable,
                    "bench_home": str(self.homes) + "/{{ bench_family }}/{{ inventory_hostname }}",
                },
            }
        }
        self.inventory.write_text(json.dumps(inventory, indent=2) + "\n")

    @property
    def key(self) -> str:
        return f"local {self.hosts}h f{self.forks}"

    def home(self, family: str, name: str) -> Path:
        return self.homes / family / name

    def reset(self, family: str) -> None:
        root = self.homes / family
        shutil.rmtree(root, ignore_errors=True)
        seed = (json.dumps(SEED, indent=2) + "\n").encode()
        for name in self.names:
            folder = root / name / ".factory"
            folder.mkdir(parents=True, mode=0o700)
            os.chmod(folder, 0o700)
            fd = os.open(folder / "settings.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(seed)

    def read_settings(self, family: str) -> str:
        return (self.home(family, self.names[0]) / ".factory" / "settings.json").read_text()

    def cleanup(self) -> None:
        shutil.rmtree(self.homes, ignore_errors=True)


class ContainerTarget:
    """N podman containers from Molecule's image, reached with containers.podman.podman."""

    kind = "podman"

    def __init__(self, count: int, image: str):
        self.hosts = count
        self.forks = max(5, count)
        self.image = image
        self.names = [f"llmcloud-bench-{os.getpid()}-{i}" for i in range(count)]
        self.started: list[str] = []
        self.inventory = RUN / "inventory-podman.yml"

    @property
    def key(self) -> str:
        return f"podman {self.hosts}c f{self.forks}"

    def start(self) -> None:
        for name in self.names:
            subprocess.run(
                ["podman", "run", "--detach", "--name", name, "--network", "none", self.image, "sleep", "infinity"],
                check=True,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=120,
            )
            self.started.append(name)
        inventory = {
            "bench": {
                "hosts": {name: None for name in self.names},
                "vars": {
                    "ansible_connection": "containers.podman.podman",
                    "ansible_python_interpreter": "/usr/bin/python3",
                    "bench_home": "/root/bench/{{ bench_family }}",
                },
            }
        }
        self.inventory.write_text(json.dumps(inventory, indent=2) + "\n")

    def reset(self, family: str) -> None:
        seed = (json.dumps(SEED, indent=2) + "\n").encode()
        script = (
            f"rm -rf /root/bench/{family} && mkdir -p /root/bench/{family}/.factory && "
            f"chmod 700 /root/bench/{family}/.factory && umask 077 && "
            f"cat > /root/bench/{family}/.factory/settings.json"
        )
        for name in self.names:
            subprocess.run(["podman", "exec", "-i", name, "sh", "-c", script], input=seed, check=True, capture_output=True, timeout=120)

    def read_settings(self, family: str) -> str:
        return subprocess.run(
            ["podman", "exec", self.names[0], "cat", f"/root/bench/{family}/.factory/settings.json"],
            check=True,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
        ).stdout

    def cleanup(self) -> None:
        for name in self.started:
            subprocess.run(["podman", "rm", "--force", "--time", "0", name], capture_output=True, stdin=subprocess.DEVNULL, timeout=120, check=False)
        self.started.clear()


class SSHTarget:
    """N containers running sshd on loopback (tests/fleet/_fleet.py), reached over SSH as the
    unprivileged `admin` with a key; become is sudo with a password, as in a fleet inventory."""

    kind = "ssh"

    def __init__(self, count: int, image: str):
        sys.path.insert(0, str(REPO / "tests" / "fleet"))
        import _fleet  # noqa: PLC0415  (only when the SSH section runs)

        self._fleet_mod = _fleet
        _fleet.IMAGE = image
        self.hosts = count
        self.forks = max(5, count)
        self.image = image
        self.fleet = _fleet.Fleet(RUN / "ssh", count, f"llmcloud-bench-ssh-{os.getpid()}", developers_per_host=1, droid=False)
        self.names = [h.name for h in self.fleet.hosts]
        self.inventory = RUN / "inventory-ssh.yml"

    @property
    def key(self) -> str:
        return f"ssh {self.hosts}h f{self.forks}"

    def start(self) -> None:
        self.fleet.start()
        inventory = {
            "bench": {
                "hosts": {h.name: {"ansible_port": h.port} for h in self.fleet.hosts},
                "vars": {
                    "ansible_host": "127.0.0.1",
                    "ansible_user": self._fleet_mod.ADMIN,
                    "ansible_ssh_private_key_file": str(self.fleet.ssh_key),
                    "ansible_ssh_common_args": f"-o UserKnownHostsFile={self.fleet.known_hosts} -o StrictHostKeyChecking=yes",
                    "ansible_control_path_dir": str(self.fleet.control_dir),
                    "ansible_become_password": self.fleet.admin_password,
                    "ansible_python_interpreter": "/usr/bin/python3",
                    "bench_home": "/home/admin/bench/{{ bench_family }}",
                    "bench_become": True,
                    "bench_fleet_user": self._fleet_mod.ADMIN,
                },
            }
        }
        fd = os.open(self.inventory, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(inventory, indent=2) + "\n")

    def reset(self, family: str) -> None:
        seed = (json.dumps(SEED, indent=2) + "\n").encode()
        script = (
            f"rm -rf /home/admin/bench/{family} && mkdir -p /home/admin/bench/{family}/.factory && "
            f"chmod 700 /home/admin/bench/{family}/.factory && umask 077 && "
            f"cat > /home/admin/bench/{family}/.factory/settings.json"
        )
        self.fleet._parallel(lambda h: h.exec("sh", "-c", script, stdin=seed, user="admin"))

    def read_settings(self, family: str) -> str:
        return self.fleet.hosts[0].exec("cat", f"/home/admin/bench/{family}/.factory/settings.json", user="admin").stdout.decode()

    def cleanup(self) -> None:
        self.fleet.stop()


# --------------------------------------------------------------------------- one playbook run
class BenchError(RuntimeError):
    pass


def ansible_env(pipelining: bool) -> dict:
    env = dict(os.environ)
    env.setdefault("ANSIBLE_CONFIG", str(REPO / "ansible.cfg"))
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / "build" / "collections"))
    env["ANSIBLE_PIPELINING"] = "True" if pipelining else "False"
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "false"
    env["ANSIBLE_RETRY_FILES_ENABLED"] = "false"
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    return env


def run_playbook(target, scenario: str, extra_vars: Path, log_path: Path) -> dict:
    base = scenario.removesuffix(PIPE)
    playbook, family, _reset, per_host = SCENARIOS[base]
    pipelining = scenario.endswith(PIPE)
    if pipelining:
        family += "-pipe"
    cmd = [
        "ansible-playbook",
        "-i",
        str(target.inventory),
        "-f",
        str(target.forks),
        "-e",
        f"@{extra_vars}",
        "-e",
        f"bench_family={family}",
        str(PLAYBOOKS / playbook),
    ]
    with open(log_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=ansible_env(pipelining), cwd=str(REPO))
        # wait4: the CPU time of ansible-playbook and every process it reaped (workers, modules).
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    text = log_path.read_text(errors="replace")
    recap = RECAP.findall(text)
    changed = sum(int(r[2]) for r in recap)
    failed = sum(int(r[3]) + int(r[4]) for r in recap)
    if proc.returncode != 0 or failed or len(recap) != target.hosts:
        raise BenchError(
            f"{scenario} on {target.key} failed (rc={proc.returncode}, "
            f"{failed} failed/unreachable, {len(recap)} of {target.hosts} hosts in the "
            f"recap); see {log_path}"
        )
    expected = per_host * target.hosts
    ok = changed >= expected if per_host else changed == 0
    return {"seconds": seconds, "cpu": cpu, "changed": changed, "expected_changed": expected, "as_expected": ok}


def family_of(scenario: str) -> str:
    base = scenario.removesuffix(PIPE)
    family = SCENARIOS[base][1]
    return family + "-pipe" if scenario.endswith(PIPE) else family


def measure(target, scenarios: list[list[str]], rounds: int, extra_vars: Path) -> dict:
    """Run interleaved rounds; the group order rotates each round so no scenario always runs first."""
    times: dict[str, list[float]] = {s: [] for group in scenarios for s in group}
    cpu: dict[str, list[float]] = {s: [] for s in times}
    changes: dict[str, list[int]] = {s: [] for s in times}
    anomalies: list[str] = []
    logs = RUN / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    # A rerun measured without its first run (left out at this size) needs converged homes:
    # converge them once, untimed.
    measured = {s.removesuffix(PIPE) for group in scenarios for s in group}
    warmed = False
    for scenario in sorted({s for group in scenarios for s in group}):
        base = scenario.removesuffix(PIPE)
        first = base.replace("_idem", "_first")
        if base.endswith("_idem") and first in SCENARIOS and first not in measured:
            setup = first + (PIPE if scenario.endswith(PIPE) else "")
            target.reset(family_of(setup))
            run_playbook(target, setup, extra_vars, logs / f"setup-{target.kind}-{target.hosts}-{setup}.log")
            warmed = True
    if not warmed and "floor" in measured:
        # One untimed floor first, so that no measured run pays for the first connection (over SSH
        # the ssh master connection the later runs reuse) or for compiling Ansible's own code.
        run_playbook(target, "floor", extra_vars, logs / f"warmup-{target.kind}-{target.hosts}-floor.log")
    for rnd in range(rounds):
        order = scenarios[rnd % len(scenarios) :] + scenarios[: rnd % len(scenarios)]
        for group in order:
            for scenario in group:
                if SCENARIOS[scenario.removesuffix(PIPE)][2]:
                    target.reset(family_of(scenario))
                slug = re.sub(r"[^a-z0-9]+", "-", f"{target.key}-{scenario}-r{rnd}".lower())
                try:
                    result = run_playbook(target, scenario, extra_vars, logs / f"{slug}.log")
                except BenchError as exc:
                    # Keep measuring the rest; the report lists the failure and run.sh fails.
                    anomalies.append(f"FAILED: {exc}")
                    log(str(exc))
                    times[scenario].append(None)
                    cpu[scenario].append(None)
                    changes[scenario].append(None)
                    continue
                times[scenario].append(result["seconds"])
                cpu[scenario].append(result["cpu"])
                changes[scenario].append(result["changed"])
                if not result["as_expected"]:
                    anomalies.append(
                        f"{scenario} round {rnd + 1}: changed={result['changed']}, "
                        f"expected {'>= ' if result['expected_changed'] else ''}"
                        f"{result['expected_changed']}"
                    )
                log(f"{target.key} round {rnd + 1}/{rounds} {scenario}: {result['seconds']:.2f} s (CPU {result['cpu']:.2f} s) changed={result['changed']}")
    return {
        "hosts": target.hosts,
        "forks": target.forks,
        "kind": target.kind,
        "rounds": rounds,
        "times": times,
        "cpu": cpu,
        "changed": changes,
        "anomalies": anomalies,
    }


TASK_LINE = re.compile(r"^(\S.*?) -{2,} (\d+\.\d+)s$", re.M)


def profile_tasks(target, scenarios: list[str], extra_vars: Path) -> dict:
    """One extra run per scenario with ansible.posix.profile_tasks: time per task over all hosts."""
    found = {}
    for scenario in scenarios:
        base = scenario.removesuffix(PIPE)
        playbook = SCENARIOS[base][0]
        log_path = RUN / "logs" / f"profile-{target.key.replace(' ', '-')}-{scenario}.log"
        env = ansible_env(scenario.endswith(PIPE))
        env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.profile_tasks"
        env["PROFILE_TASKS_TASK_OUTPUT_LIMIT"] = "all"
        with open(log_path, "wb") as out:
            subprocess.run(
                [
                    "ansible-playbook",
                    "-i",
                    str(target.inventory),
                    "-f",
                    str(target.forks),
                    "-e",
                    f"@{extra_vars}",
                    "-e",
                    f"bench_family={family_of(scenario)}",
                    str(PLAYBOOKS / playbook),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(REPO),
                check=False,
            )
        found[scenario] = parse_task_profile(log_path)
    return found


def parse_task_profile(log_path: Path) -> list[tuple[str, float]]:
    recap = log_path.read_text(errors="replace").split("TASKS RECAP", 1)[-1]
    return [(name.strip(), float(sec)) for name, sec in TASK_LINE.findall(recap)]


# --------------------------------------------------------------------------- the desired document
def role_ready() -> tuple[bool, str]:
    if not (REPO / "roles" / "byok" / "tasks" / "main.yml").is_file():
        return False, "roles/byok is not written yet"
    if not (REPO / "plugins" / "modules" / "json_merge.py").is_file():
        return False, "plugins/modules/json_merge.py is not written yet"
    return True, ""


def desired_document(role_ok: bool, extra_vars: Path) -> tuple[dict, str]:
    """The document the alternatives write: what the role writes on an empty home, if it can run."""
    if role_ok:
        probe = LocalTarget(1, 1)
        probe.homes = RUN / "homes" / "probe"
        probe.inventory = RUN / "inventory-probe.yml"
        inv = {
            "bench": {
                "hosts": {"h000": None},
                "vars": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": sys.executable,
                    "bench_home": str(probe.homes) + "/{{ bench_family }}/{{ inventory_hostname }}",
                },
            }
        }
        probe.inventory.write_text(json.dumps(inv) + "\n")
        shutil.rmtree(probe.homes, ignore_errors=True)
        (probe.homes / "empty" / "h000").mkdir(parents=True)
        cmd = ["ansible-playbook", "-i", str(probe.inventory), "-e", f"@{extra_vars}", "-e", "bench_family=empty", str(PLAYBOOKS / "byok.yml")]
        log_path = RUN / "logs" / "probe-desired.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "wb") as out:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=ansible_env(False), cwd=str(REPO), check=False)
        settings = probe.homes / "empty" / "h000" / ".factory" / "settings.json"
        if proc.returncode != 0 or not settings.is_file():
            raise BenchError(f"the byok role did not run on an empty home; see {log_path}")
        doc = json.loads(settings.read_text())
        shutil.rmtree(probe.homes, ignore_errors=True)
        return doc, "captured from the byok role's output on an empty home"
    return modbench.desired_document(BENCH_API_KEY), "built from the catalog (role not available)"


# --------------------------------------------------------------------------- statistics and report
def med(values: list) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def ratios_of(values: list, bases: list) -> list[float]:
    """Per-round ratios; rounds where either run failed are left out."""
    return [v / b for v, b in zip(values, bases) if v is not None and b]


def summarize(config: dict) -> dict:
    times = config["times"]
    floor = times.get("floor", [])
    summary = {}
    for scenario, values in times.items():
        base_floor = times.get("floor" + PIPE, floor) if scenario.endswith(PIPE) else floor
        ratios = ratios_of(values, base_floor)
        chain = []
        if scenario.startswith(("byok_", "fleet_")) and not scenario.endswith(PIPE):
            chain = times.get("chain_" + scenario.split("_", 1)[1]) or times.get("chain_idem", [])
        vs_chain = ratios_of(values, chain)
        cpu = config.get("cpu", {}).get(scenario, [])
        cpu_floor_key = "floor" + PIPE if scenario.endswith(PIPE) and "floor" + PIPE in times else "floor"
        cpu_floor = config.get("cpu", {}).get(cpu_floor_key, [])
        cpu_ratios = ratios_of(cpu, cpu_floor)
        summary[scenario] = {
            "cpu_median": med(cpu) if any(v is not None for v in cpu) else None,
            "cpu_ratio_floor": med(cpu_ratios) if cpu_ratios else None,
            "median": med(values),
            "min": min((v for v in values if v is not None), default=float("nan")),
            "max": max((v for v in values if v is not None), default=float("nan")),
            "ratio_floor": med(ratios) if ratios else None,
            "ratios_floor": ratios,
            "ratio_chain": med(vs_chain) if vs_chain else None,
            "ratios_chain": vs_chain,
        }
        become_floor = times.get("floor_become" + (PIPE if scenario.endswith(PIPE) else ""))
        if become_floor and scenario.removesuffix(PIPE) not in ("floor", "floor_become"):
            vs_become = ratios_of(values, become_floor)
            summary[scenario]["ratio_floor_become"] = med(vs_become) if vs_become else None
            cpu_become = ratios_of(
                config.get("cpu", {}).get(scenario, []), config.get("cpu", {}).get("floor_become" + (PIPE if scenario.endswith(PIPE) else ""), [])
            )
            summary[scenario]["cpu_ratio_floor_become"] = med(cpu_become) if cpu_become else None
    # Pipelining gain: the same scenario, pipelining off / on, per round.
    for scenario in list(times):
        if scenario.endswith(PIPE):
            off = times.get(scenario.removesuffix(PIPE), [])
            gains = ratios_of(off, times[scenario])
            summary[scenario]["pipelining_speedup"] = med(gains) if gains else None
            summary[scenario]["pipelining_speedups"] = gains
    return summary


def fmt_ratio(value) -> str:
    return "-" if value is None else f"{value:.2f}x"


def fmt_list(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values) if values else "-"


def fmt_ratio_cpu(summary: dict, key: str, cpu_key: str) -> str:
    """A wall-time ratio with its CPU-time twin: '1.71x (CPU 1.72x)'."""
    wall = fmt_ratio(summary.get(key))
    cpu = summary.get(cpu_key)
    return wall if cpu is None else f"{wall} (CPU {cpu:.2f}x)"


def verdict(value, limit: float, strict: bool = False) -> str:
    if value is None:
        return "not measured"
    return "met" if (value < limit if strict else value <= limit) else "NOT met"


def growth_rows(results: dict) -> list[dict]:
    """Controller CPU per host of the growth scenarios at each local host count.

    One row per host count: the configuration with forks 5 when there is one (the issue's
    daily-run figures use forks 5), else the one with the most forks. CPU per host is the median
    CPU time of a whole run (ansible-playbook and its children) divided by the host count.
    """
    by_hosts: dict[int, dict] = {}
    for c in results["configs"]:
        if c["kind"] != "local" or not any(s in c["summary"] for s in GROWTH_SCENARIOS):
            continue
        best = by_hosts.get(c["hosts"])
        if best is None or (best["forks"] != 5 and (c["forks"] == 5 or c["forks"] > best["forks"])):
            by_hosts[c["hosts"]] = c
    rows = []
    for hosts in sorted(by_hosts):
        c = by_hosts[hosts]
        row = {
            "hosts": hosts,
            "forks": c["forks"],
            "rounds": c.get("rounds", results.get("rounds")),
            "cpu_per_host": {},
            "wall_per_host": {},
            "cpu_ratio_floor": {},
        }
        for scenario in GROWTH_SCENARIOS:
            s = c["summary"].get(scenario)
            if not s or s.get("cpu_median") is None:
                continue
            row["cpu_per_host"][scenario] = s["cpu_median"] / hosts
            row["wall_per_host"][scenario] = s["median"] / hosts
            if scenario != "floor":
                row["cpu_ratio_floor"][scenario] = s.get("cpu_ratio_floor")
        rows.append(row)
    return rows


def render_growth(results: dict) -> list[str]:
    rows = results.get("growth") or growth_rows(results)
    if not rows:
        return []
    out = [
        "## How the cost grows",
        "",
        "Controller CPU per host: the median CPU time of a whole `ansible-playbook` run (the process and "
        "every process it ran) divided by the host count, connection local, idempotent runs on "
        "converged homes. Above "
        f"{results.get('slow_max_hosts', 20)} hosts only these three scenarios run, "
        f"{results.get('large_rounds', 2)} round(s) each (byok's first converge once, untimed, before them).",
        "",
        "| hosts | forks | rounds | floor: ping CPU s/host | byok idempotent CPU s/host | byok_users idempotent CPU s/host "
        "| byok x floor (CPU) | byok_users x floor (CPU) | wall s/host (floor, byok, byok_users) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        cpu = r["cpu_per_host"]
        wall = r["wall_per_host"]

        def cell(value) -> str:
            return "-" if value is None else f"{value:.3f}"

        out.append(
            f"| {r['hosts']} | {r['forks']} | {r['rounds']} | {cell(cpu.get('floor'))} | {cell(cpu.get('byok_idem'))} | "
            f"{cell(cpu.get('fleet_idem'))} | {fmt_ratio(r['cpu_ratio_floor'].get('byok_idem'))} | "
            f"{fmt_ratio(r['cpu_ratio_floor'].get('fleet_idem'))} | " + " / ".join(cell(wall.get(s)) for s in GROWTH_SCENARIOS) + " |"
        )
    out.append("")
    return out


def targets(results: dict) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) rows: issue 22's daily-run targets first, then the earlier ones."""
    rows: list[tuple[str, str, str]] = []
    configs = results["configs"]
    if not any("byok_idem" in c["summary"] for c in configs):
        rows.append(("byok targets", "not measured", results.get("byok_skipped", "role not run")))
        return rows + module_targets(results)
    local20 = [c for c in configs if c["kind"] == "local" and c["hosts"] == TARGET_LOCAL_HOSTS]
    judged = next((c for c in local20 if c["forks"] == 5), local20[0] if local20 else None)
    if judged is None:
        rows.append((f"issue 22: idempotent at {TARGET_LOCAL_HOSTS} local hosts", "not measured", f"add {TARGET_LOCAL_HOSTS}:5 to BENCH_MATRIX"))
    for c in local20:
        for scenario, what in (("byok_idem", "laptop mode (byok)"), ("fleet_idem", "fleet mode (byok_users)")):
            s = c["summary"].get(scenario)
            if s is None:
                continue
            limit = TARGET_LOCAL[scenario]
            name = f"issue 22: {what} idempotent <= {limit}x the one-ping play ({c['hosts']} local hosts, forks {c['forks']})"
            if c is judged:
                rows.append((name, fmt_ratio_cpu(s, "ratio_floor", "cpu_ratio_floor"), verdict(s["ratio_floor"], limit)))
            else:
                rows.append((name + "; for information", fmt_ratio_cpu(s, "ratio_floor", "cpu_ratio_floor"), "-"))
    ssh = [c for c in configs if c["kind"] == "ssh"]
    if not ssh:
        rows.append(
            (
                f"issue 22: fleet mode (byok_users) idempotent over SSH, pipelining on, <= {TARGET_SSH_FLEET_PIPE}x the ping with become",
                "not measured",
                results.get("ssh_skipped", "SSH section not run"),
            )
        )
    for c in ssh:
        s = c["summary"]
        name = f"{c['hosts']} SSH hosts, sudo become"
        fleet = s.get("fleet_idem" + PIPE, {})
        rows.append(
            (
                f"issue 22: fleet mode (byok_users) idempotent, pipelining on, <= {TARGET_SSH_FLEET_PIPE}x the ping with become, pipelining on ({name})",
                fmt_ratio_cpu(fleet, "ratio_floor_become", "cpu_ratio_floor_become"),
                verdict(fleet.get("ratio_floor_become"), TARGET_SSH_FLEET_PIPE),
            )
        )
        for scenario, what in (("byok_idem", "laptop mode (byok)"), ("fleet_idem", "fleet mode (byok_users)")):
            for pipe in ("", PIPE):
                v = s.get(scenario + pipe)
                if v is None or (scenario == "fleet_idem" and pipe):
                    continue
                p_on = "on" if pipe else "off"
                if v.get("ratio_floor_become") is not None:
                    rows.append(
                        (
                            f"{what} idempotent, pipelining {p_on}, x the ping with become ({name}; for information)",
                            fmt_ratio_cpu(v, "ratio_floor_become", "cpu_ratio_floor_become"),
                            "-",
                        )
                    )
        for scenario, what in (("byok_idem", "laptop mode (byok)"), ("fleet_idem", "fleet mode (byok_users)")):
            v = s.get(scenario)
            if v is not None:
                rows.append(
                    (
                        f"{what} idempotent, pipelining off, x the plain ping ({name}; the issue's 1.46x / 1.69x; for information)",
                        fmt_ratio_cpu(v, "ratio_floor", "cpu_ratio_floor"),
                        "-",
                    )
                )
    # Earlier targets (issue 13) still held: the first converge near the floor, and byok cheaper
    # than the file + slurp + combine + copy chain a role without the module would write.
    for c in configs:
        s = c["summary"]
        name = (
            f"{c['hosts']} local hosts, forks {c['forks']}"
            if c["kind"] == "local"
            else f"{c['hosts']} SSH hosts, sudo become"
            if c["kind"] == "ssh"
            else f"{c['hosts']} podman containers"
        )
        for variant, what in (("byok", "byok"), ("fleet", "byok_users")):
            if f"{variant}_first" in s and s[f"{variant}_first"]["ratio_floor"] is not None:
                r = s[f"{variant}_first"]["ratio_floor"]
                rows.append((f"{what} first converge <= 1.5x floor ({name})", fmt_ratio(r), verdict(r, 1.5)))
            for kind in ("first", "idem"):
                if f"{variant}_{kind}" in s and s[f"{variant}_{kind}"]["ratio_chain"] is not None:
                    r = s[f"{variant}_{kind}"]["ratio_chain"]
                    rows.append(
                        (f"{what} {'first' if kind == 'first' else 'rerun'} faster than slurp chain ({name})", fmt_ratio(r), verdict(r, 1, strict=True))
                    )
    return rows + module_targets(results)


def module_targets(results: dict) -> list[tuple[str, str, str]]:
    rows = []
    mod = results.get("module")
    if mod and mod.get("rows"):
        by = {(r["size_label"], r["case"]): r for r in mod["rows"]}
        one = by.get(("1 MiB", "merge"))
        ten = by.get(("10 MiB", "merge"))
        if one:
            rows.append(("module's own work (CPU) on 1 MiB < 50 ms", f"{one['work_ms']:.1f} ms", "met" if one["work_ms"] < 50 else "NOT met"))
        if one and ten:
            r = ten["work_ms"] / one["work_ms"]
            rows.append(("module 10 MiB within 12x of 1 MiB", fmt_ratio(r), "met" if r <= 12 else "NOT met"))
    return rows


def render(results: dict) -> str:
    m = results["machine"]
    out = [
        "# Benchmark results",
        "",
        "Written by `make bench` (benchmarks/run.sh -> benchmarks/harness.py); do not edit by hand.",
        f"Rounds per configuration: {results['rounds']} ({results.get('large_rounds', results['rounds'])} above "
        f"{results.get('slow_max_hosts', 20)} local hosts), interleaved (the scenario groups rotate each "
        "round); times are wall-clock seconds of a whole `ansible-playbook` run, ratios are medians "
        "of per-round ratios (each round's run divided by the same round's floor). CPU is the CPU time "
        "of `ansible-playbook` and every process it ran (os.wait4): on a machine shared with other "
        "jobs it is the steadier measure of what a run costs.",
        "",
        "## Machine",
        "",
        f"- date: {m['date']}",
        f"- CPU: {m['cpu']}, {m['cores']} cores, {m['memory']} RAM",
        f"- OS: {m['os']}, kernel {m['kernel']}",
        f"- Python {m['python']}, ansible-core {m['ansible_core']}, ansible {m['ansible']}, containers.podman {m['containers_podman']}, {m['podman']}",
        f"- load average at start {m['loadavg_start']}, at end {m.get('loadavg_end', '?')} (other jobs shared the machine: compare ratios, not absolute times)",
        f"- desired document for the alternatives: {results['desired_source']}",
        f"- measured in {results.get('elapsed_s', 0) / 60:.1f} min",
        "",
        "## Targets",
        "",
        "| target | measured | verdict |",
        "|---|---:|---|",
    ]
    out += [f"| {name} | {measured} | {verdict_} |" for name, measured, verdict_ in targets(results)]
    out += [""]
    out += render_growth(results)
    out += [
        "## Scenarios",
        "",
        "| scenario | what runs per host |",
        "|---|---|",
        "| floor: ping | `ansible.builtin.ping`, no facts: the least any module-based play costs |",
        "| byok first converge | the `llmcloud.factory_droid.byok` role on a home holding the developer's own settings.json |",
        "| byok idempotent | laptop mode: the role again on the converged home (changed=0) |",
        "| byok_users idempotent | fleet mode: the role as a fleet job runs it, on the same converged "
        "homes: `byok_users` lists the host's user with its home (over SSH: become root for the admin "
        "account's bench home) |",
        "| floor: ping with become | SSH only: the ping through sudo, the least a fleet job with `ansible_become` costs |",
        "| template first / rerun | one `ansible.builtin.template` overwriting settings.json (loses the developer's settings) |",
        "| slurp chain first / rerun | `file` + `slurp` + `set_fact` with `combine` + `copy` (cannot read JSONC, drops comments) |",
        "",
    ]
    if results.get("byok_skipped"):
        out += [f"byok scenarios skipped: {results['byok_skipped']}.", ""]
    out += ["## Playbook runs", ""]
    for c in results["configs"]:
        title = (
            f"### {c['hosts']} simulated host{'s' if c['hosts'] > 1 else ''} (connection local), forks {c['forks']}"
            if c["kind"] == "local"
            else f"### {c['hosts']} hosts over SSH (podman containers running sshd on loopback; "
            f"admin with a key, sudo become with a password), forks {c['forks']}"
            if c["kind"] == "ssh"
            else f"### {c['hosts']} podman containers (containers.podman.podman), forks {c['forks']}"
        )
        become = c["kind"] == "ssh"
        out += [
            title,
            "",
            f"Rounds: {c.get('rounds', results['rounds'])}.",
            "",
            "| scenario | median s | min-max s | x floor | per-round x floor | x slurp chain | CPU s | CPU x floor |"
            + (" x ping with become | CPU x ping with become |" if become else ""),
            "|---|---:|---:|---:|---|---:|---:|---:|" + ("---:|---:|" if become else ""),
        ]
        for scenario, s in c["summary"].items():
            label = LABELS[scenario.removesuffix(PIPE)] + (" (pipelining)" if scenario.endswith(PIPE) else "")
            cpu_s = "-" if s.get("cpu_median") is None else f"{s['cpu_median']:.2f}"
            out.append(
                f"| {label} | {s['median']:.2f} | {s['min']:.2f}-{s['max']:.2f} | "
                f"{fmt_ratio(s['ratio_floor'])} | {fmt_list(s['ratios_floor'])} | "
                f"{fmt_ratio(s['ratio_chain'])} | {cpu_s} | {fmt_ratio(s.get('cpu_ratio_floor'))} |"
                + (f" {fmt_ratio(s.get('ratio_floor_become'))} | {fmt_ratio(s.get('cpu_ratio_floor_become'))} |" if become else "")
            )
        if c["anomalies"]:
            out += ["", "Unexpected change counts: " + "; ".join(c["anomalies"])]
        out.append("")
        for scenario, tasks in c.get("task_profile", {}).items():
            out += [
                f"Where the time of one {LABELS[scenario]} run goes (ansible.posix.profile_tasks: wall time of each task over all hosts, one extra run):",
                "",
                "| task | s |",
                "|---|---:|",
            ]
            out += [f"| {name} | {sec:.2f} |" for name, sec in tasks]
            out.append("")
    if results.get("containers_skipped"):
        out += [f"Container inventory skipped: {results['containers_skipped']}.", ""]
    if results.get("ssh_skipped"):
        out += [f"SSH fleet skipped: {results['ssh_skipped']}.", ""]
    pipe_rows = [(c, s, v) for c in results["configs"] for s, v in c["summary"].items() if s.endswith(PIPE)]
    if pipe_rows:
        out += [
            "## Pipelining (ANSIBLE_PIPELINING=True vs the default False, same rounds)",
            "",
            "| hosts, forks | scenario | off median s | on median s | speedup (per-round median) |",
            "|---|---|---:|---:|---:|",
        ]
        for c, s, v in pipe_rows:
            off = c["summary"][s.removesuffix(PIPE)]["median"]
            out.append(
                f"| {c['hosts']}, {c['forks']} | {LABELS[s.removesuffix(PIPE)]} | {off:.2f} | {v['median']:.2f} | {fmt_ratio(v.get('pipelining_speedup'))} |"
            )
        out += [
            "",
            "The podman connection plugin does not support pipelining "
            "(`has_pipelining = False`), so podman-exec containers are measured without it; the "
            "SSH fleet is measured both ways. Over SSH every run reuses the ssh master connection "
            "the previous run left (Ansible's default ControlPersist=60s): every scenario gets the "
            "same advantage, and a re-run by hand sees the same.",
            "",
        ]
    mod = results.get("module")
    out += ["## The module alone", ""]
    if not mod or mod.get("skipped"):
        out += [f"Skipped: {mod.get('skipped') if mod else 'not run'}.", ""]
    else:
        out += [
            modbench.describe(mod),
            "",
            "| file | case | own work ms CPU (median) | own work ms wall | process wall ms | peak RSS MiB "
            "| RSS over baseline MiB | tracemalloc peak MiB | changed |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in mod["rows"]:
            out.append(
                f"| {r['size_label']} | {r['case']} | {r['work_ms']:.1f} | {r['work_wall_ms']:.1f} | "
                f"{r['wall_ms']:.0f} | "
                f"{r['maxrss_mib']:.1f} | {r['maxrss_mib'] - mod['baseline_maxrss_mib']:.1f} | "
                f"{r['traced_peak_mib']:.1f} | {str(r['changed']).lower()} |"
            )
        out += [
            "",
            f"Baseline: the same child process importing the module without running it: "
            f"{mod['baseline_maxrss_mib']:.1f} MiB peak RSS, {mod['baseline_wall_ms']:.0f} ms wall.",
            "",
        ]
        if mod.get("profile_1mib"):
            out += [
                "<details><summary>cProfile of one merge into the 1 MiB file (cumulative; profiling inflates the times)</summary>",
                "",
                "```",
                mod["profile_1mib"],
                "```",
                "",
                "</details>",
                "",
            ]
    out += [
        "## Plot",
        "",
        f"![run time and controller CPU per host against host count; idempotent runs as a multiple of the floor]({PLOT_PNG.name})",
        "",
    ]
    return "\n".join(out)


# --------------------------------------------------------------------------- main
def main() -> int:
    rounds = env_int("BENCH_ROUNDS", 3) or 1
    matrix = env_pairs("BENCH_MATRIX", "1:5 20:5 100:5 200:5")
    large_rounds = env_int("BENCH_LARGE_ROUNDS", 2) or 1
    pipe_at = set(env_pairs("BENCH_PIPELINING_AT", "20:5"))
    containers = env_int("BENCH_CONTAINERS", 3)
    slow_max = env_int("BENCH_SLOW_MAX_HOSTS", 20)
    image = os.environ.get("BENCH_CONTAINER_IMAGE", "localhost/llmcloud-molecule-debian:bookworm")
    ssh_hosts = env_int("BENCH_SSH_HOSTS", 6)
    ssh_image = os.environ.get("BENCH_SSH_IMAGE", "localhost/llmcloud-molecule-debian:bookworm-fleet")
    sections = set(os.environ.get("BENCH_SECTIONS", "hosts ssh containers module").split())
    wanted = {s.strip() for s in os.environ.get("BENCH_SCENARIOS", "").split(",") if s.strip()}
    if wanted == {"all"}:
        wanted = set(SCENARIOS)
    elif not wanted:
        wanted = set(DEFAULT_SCENARIOS)
    unknown = wanted - set(SCENARIOS)
    if unknown:
        sys.exit(f"bench: BENCH_SCENARIOS names unknown scenarios {sorted(unknown)}; known: {sorted(SCENARIOS)}")
    if shutil.which("ansible-playbook") is None:
        sys.exit("bench: ansible-playbook is not on PATH (run through `make bench`)")

    shutil.rmtree(RUN, ignore_errors=True)
    RUN.mkdir(parents=True)
    results: dict = {"machine": machine_info(), "rounds": rounds, "large_rounds": large_rounds, "slow_max_hosts": slow_max, "configs": []}
    role_ok, why = role_ready()
    if role_ok and not any(s.startswith(("byok", "fleet")) for s in wanted):
        role_ok, why = False, "not selected in BENCH_SCENARIOS"
    if not role_ok:
        results["byok_skipped"] = why
        log(f"byok scenarios skipped: {why}")

    def keep(group: list[str]) -> list[str]:
        return [s for s in group if s.removesuffix(PIPE) in wanted and (role_ok or not s.startswith(("byok", "fleet")))]

    groups = [g for g in (keep(g) for g in GROUPS) if g]
    pipe_groups = [g for g in (keep(g) for g in PIPE_GROUPS) if g]

    extra_vars = RUN / "extra-vars.json"
    user = pwd.getpwuid(os.getuid()).pw_name
    extra_vars.write_text(json.dumps({"bench_api_key": BENCH_API_KEY, "bench_user": user}) + "\n")
    desired, source = desired_document(role_ok, extra_vars)
    desired_file = RUN / "desired.json"
    desired_file.write_text(json.dumps({"bench_desired": desired}, indent=2) + "\n")
    os.chmod(desired_file, 0o600)
    extra_vars.write_text(json.dumps({"bench_api_key": BENCH_API_KEY, "bench_user": user, "bench_desired_file": str(desired_file)}) + "\n")
    results["desired_source"] = source

    # Where the idempotent run's time goes: profiled at the largest configuration that runs every scenario.
    profiled = max((pair for pair in matrix if pair[0] <= slow_max), default=None)
    started = time.perf_counter()
    try:
        if "hosts" in sections:
            for hosts, forks in matrix:
                target = LocalTarget(hosts, forks)
                todo = groups + (pipe_groups if (hosts, forks) in pipe_at else [])
                if hosts > slow_max:
                    todo = [g for g in ([s for s in group if s in GROWTH_SCENARIOS] for group in todo) if g]
                config = measure(target, todo, large_rounds if hosts > slow_max else rounds, extra_vars)
                config["summary"] = summarize(config)
                if (hosts, forks) == profiled and role_ok:
                    # Where the idempotent run's time goes, on the homes the rounds converged.
                    config["task_profile"] = profile_tasks(target, [s for s in ("floor", "byok_idem", "fleet_idem") if s in wanted], extra_vars)
                results["configs"].append(config)
                target.cleanup()
        if "ssh" in sections and role_ok:
            reason = ssh_unavailable(ssh_hosts, ssh_image)
            if reason:
                results["ssh_skipped"] = reason
                log(f"SSH fleet skipped: {reason}")
            else:
                target = SSHTarget(ssh_hosts, ssh_image)
                try:
                    target.start()
                    # Always both floors and fleet mode: the SSH target is fleet mode with pipelining
                    # against the ping with become, pipelining on.
                    wanted_ssh = wanted | {"floor", "floor_become", "fleet_idem"}
                    ssh_groups = [g for g in ([s for s in group if s.removesuffix(PIPE) in wanted_ssh] for group in SSH_GROUPS) if g]
                    config = measure(target, ssh_groups, rounds, extra_vars)
                    config["summary"] = summarize(config)
                    config["task_profile"] = profile_tasks(target, [s for s in ("floor", "fleet_idem") if s in wanted_ssh], extra_vars)
                    results["configs"].append(config)
                finally:
                    target.cleanup()
        if "containers" in sections:
            reason = containers_unavailable(containers, image)
            if reason:
                results["containers_skipped"] = reason
                log(f"container inventory skipped: {reason}")
            else:
                target = ContainerTarget(containers, image)
                try:
                    target.start()
                    config = measure(target, groups, rounds, extra_vars)
                    config["summary"] = summarize(config)
                    results["configs"].append(config)
                finally:
                    target.cleanup()
        if "module" in sections:
            results["module"] = modbench.run(REPO, RUN / "module", env_int("BENCH_MODULE_REPEATS", 5), log)
    finally:
        results["machine"]["loadavg_end"] = _loadavg()
        results["elapsed_s"] = time.perf_counter() - started
        results["growth"] = growth_rows(results)
        RESULTS_JSON.write_text(json.dumps(results, indent=2) + "\n")
    report = render(results)
    RESULTS_MD.write_text(report)
    print(report)
    log(f"measured in {results['elapsed_s']:.0f} s; wrote {RESULTS_MD.relative_to(REPO)} and {RESULTS_JSON.relative_to(REPO)}")
    failures = [a for c in results["configs"] for a in c["anomalies"] if a.startswith("FAILED")]
    if failures:
        log(f"{len(failures)} playbook run(s) failed; see the logs named above")
        return 1
    return 0


def ssh_unavailable(count: int, image: str) -> str:
    if count == 0:
        return "BENCH_SSH_HOSTS=0"
    for tool in ("podman", "ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = subprocess.run(["podman", "image", "exists", image], stdin=subprocess.DEVNULL, capture_output=True, check=False, timeout=120)
    if probe.returncode != 0:
        return f"image {image} is not present (molecule/images.sh bookworm-fleet builds it)"
    return ""


def containers_unavailable(count: int, image: str) -> str:
    if count == 0:
        return "BENCH_CONTAINERS=0"
    if shutil.which("podman") is None:
        return "podman is not installed"
    try:
        import ansible_collections.containers.podman  # type: ignore  # noqa: F401
    except ImportError:
        return "the containers.podman collection is not installed"
    probe = subprocess.run(["podman", "image", "exists", image], stdin=subprocess.DEVNULL, capture_output=True, check=False, timeout=120)
    if probe.returncode != 0:
        return f"image {image} is not present (molecule/images.sh builds it; the benchmark does not build images)"
    return ""


def rerender() -> int:
    """`harness.py --render`: write RESULTS.md again from output/results.json and the run's logs."""
    results = json.loads(RESULTS_JSON.read_text())
    for config in results["configs"]:
        for scenario in config.get("task_profile", {}):
            log_path = RUN / "logs" / f"profile-{config['kind']}-{config['hosts']}h-f{config['forks']}-{scenario}.log"
            if log_path.exists():
                config["task_profile"][scenario] = parse_task_profile(log_path)
    results["growth"] = growth_rows(results)
    RESULTS_JSON.write_text(json.dumps(results, indent=2) + "\n")
    RESULTS_MD.write_text(render(results))
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--render"]:
        sys.exit(rerender())
    try:
        sys.exit(main())
    except BenchError as exc:
        sys.exit(f"bench: {exc}")
