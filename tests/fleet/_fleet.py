"""A fleet of Debian containers reached over SSH, as a platform team reaches its laptops.

Used by tests/fleet (the SSH fleet suite) and benchmarks/harness.py (the SSH transport).

Each host is a podman container from localhost/llmcloud-molecule-debian:bookworm-fleet
(molecule/images.sh bookworm-fleet: minbase + python3, openssh-server, sudo, acl, pass, gnupg)
whose only process is sshd, listening on 127.0.0.1:<its own port> (--network host: no bridge, no
port publishing, nothing but loopback). Ansible logs in as `admin`, an unprivileged account with
a public key from this run and sudo with a password (the become password comes from the vault),
exactly as a fleet inventory does. The developers are plain accounts with a home (every second one under /Users, as on macOS); for the keychain
key mode each has a gpg key and an initialised `pass` store.

Nothing here prints a key or a password: secrets go to containers on stdin only.
"""

from __future__ import annotations

import concurrent.futures
import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("FLEET_IMAGE", "localhost/llmcloud-molecule-debian:bookworm-fleet")
CACHE = Path(os.environ.get("LLMCLOUD_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "llmcloud-factory-droid")
DROID_VERSION = os.environ.get("DROID_VERSION", "0.225.2")
DROID_DIR = CACHE / "droid" / DROID_VERSION / "node_modules" / "@factory" / "cli-linux-x64"
ADMIN = "admin"
ENTRY = "llmcloud/factory-droid-api-key"


def podman_env() -> dict:
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(REPO / "molecule" / "containers.conf"))
    return env


def podman(*args: str, stdin: bytes | None = None, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["podman", *args],
        input=stdin if stdin is not None else b"",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=podman_env(),
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise RuntimeError("podman %s failed (rc=%d): %s" % (" ".join(args[:3]), proc.returncode, proc.stderr.decode(errors="replace")[-2000:]))
    return proc


def unavailable() -> str:
    """Why the fleet cannot run here, or an empty string."""
    for tool in ("podman", "ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            return "%s is not installed (tests/fleet/run.sh installs it)" % tool
    if podman("image", "exists", IMAGE, check=False).returncode != 0:
        return "image %s is missing (molecule/images.sh bookworm-fleet builds it)" % IMAGE
    return ""


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now (held open together so that they differ)."""
    socks = []
    try:
        for _index in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


# Run inside each container as root, with the admin password on line 1 of stdin and the admin's
# public key on line 2. $1: "pass" to give every developer a gpg key and a pass store; then the
# developers' names.
PREPARE = r"""
set -eu
IFS= read -r admin_password
IFS= read -r admin_pubkey
with_pass=$1
shift
useradd --create-home --shell /bin/bash admin
printf 'admin:%s\n' "$admin_password" | chpasswd
printf 'admin ALL=(ALL:ALL) ALL\n' >/etc/sudoers.d/fleet-admin
chmod 0440 /etc/sudoers.d/fleet-admin
install -d -m 0700 -o admin -g admin /home/admin/.ssh
printf '%s\n' "$admin_pubkey" >/home/admin/.ssh/authorized_keys
chown admin:admin /home/admin/.ssh/authorized_keys
chmod 0600 /home/admin/.ssh/authorized_keys
n=0
for dev in "$@"; do
  n=$((n + 1))
  # Every second developer lives under /Users, as on macOS: nothing may assume /home.
  if [ $((n % 2)) = 0 ]; then home=/Users/$dev; else home=/home/$dev; fi
  mkdir -p "$(dirname "$home")"
  useradd --create-home --home-dir "$home" --shell /bin/bash "$dev"
  # '*' (no password) rather than useradd's '!' (locked): sshd without PAM refuses locked accounts.
  usermod -p '*' "$dev"
  if [ "$with_pass" = pass ]; then
    runuser -u "$dev" -- env HOME="$home" gpg --batch --quiet --passphrase '' \
      --quick-gen-key "$dev <$dev@fleet.invalid>" future-default default never 2>/dev/null
    runuser -u "$dev" -- env HOME="$home" pass init "$dev@fleet.invalid" >/dev/null
  fi
done
"""

# Put every developer back to "before onboarding": no ~/.factory, stock profiles, no key in the
# store; the first developer has hand-edited JSONC settings (molecule/shared/files). $1: the
# store entry, $2: the fixture's file name; then the developers' names.
RESET = r"""
set -eu
entry=$1
fixture=$2
shift 2
first=1
for dev in "$@"; do
  home=$(getent passwd "$dev" | cut -d: -f6)
  rm -rf "$home/.factory" "$home/.config/fish" "$home/.zshrc" "$home/.zprofile" "$home/.bash_profile"
  cp /etc/skel/.bashrc /etc/skel/.profile "$home/"
  chown "$dev:$dev" "$home/.bashrc" "$home/.profile"
  if [ -f "$home/.password-store/.gpg-id" ]; then
    runuser -u "$dev" -- env HOME="$home" pass rm --force "$entry" >/dev/null 2>&1 || true
  fi
  if [ "$first" = 1 ]; then
    install -d -m 0700 -o "$dev" -g "$dev" "$home/.factory"
    install -m 0600 -o "$dev" -g "$dev" "/opt/molecule/$fixture" "$home/.factory/settings.json"
  fi
  first=0
done
"""


class Host:
    def __init__(self, name: str, container: str, port: int, developers: list[str], key_mode: str):
        self.name = name
        self.container = container
        self.port = port
        self.developers = developers
        self.key_mode = key_mode

    def home(self, dev: str) -> str:
        """Every second developer's home is under /Users (see PREPARE)."""
        return ("/Users/%s" if self.developers.index(dev) % 2 else "/home/%s") % dev

    def exec(self, *argv: str, stdin: bytes | None = None, check: bool = True, user: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        args = ["exec", "-i"] + (["--user", user] if user else []) + [self.container, *argv]
        return podman(*args, stdin=stdin, check=check, timeout=timeout)


class Fleet:
    """count hosts; key_modes cycles over them (e.g. ["inline", "keychain"] alternates)."""

    def __init__(self, workdir: Path, count: int, prefix: str, key_modes: list[str] | None = None, developers_per_host: int = 2, droid: bool = True):
        self.workdir = workdir
        self.prefix = prefix
        self.droid = droid and DROID_DIR.is_dir()
        modes = key_modes or ["inline"]
        ports = free_ports(count)
        self.hosts = []
        for i in range(count):
            devs = ["dev%02d%s" % (i + 1, chr(ord("a") + d)) for d in range(developers_per_host)]
            self.hosts.append(Host("fleet-%02d" % (i + 1), "%s-%02d" % (prefix, i + 1), ports[i], devs, modes[i % len(modes)]))
        self.admin_password = secrets.token_urlsafe(18)
        self.ssh_key = workdir / "id_ed25519"
        self.known_hosts = workdir / "known_hosts"
        self.control_dir = workdir / "cp"
        self.started: list[str] = []

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> float:
        t0 = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o700)
        self.control_dir.mkdir(mode=0o700, exist_ok=True)
        if not self.ssh_key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fleet-admin", "-f", str(self.ssh_key)], check=True, stdin=subprocess.DEVNULL)
        for host in self.hosts:
            podman("rm", "--force", "--time", "0", host.container, check=False)
            volumes = ["-v", "%s:/opt/molecule:ro" % (REPO / "molecule" / "shared" / "files")]
            if self.droid:
                volumes += ["-v", "%s:/opt/droid/current:ro" % DROID_DIR]
            podman(
                "run",
                "--detach",
                "--name",
                host.container,
                "--hostname",
                host.name,
                "--network",
                "host",
                "--stop-signal",
                "SIGKILL",
                "--label",
                "llmcloud-fleet=" + self.prefix,
                *volumes,
                IMAGE,
                "sh",
                "-c",
                "mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -p %d -o ListenAddress=127.0.0.1 "
                "-o UsePAM=no -o PasswordAuthentication=no -o MaxStartups=100 -o MaxSessions=100" % host.port,
            )
            self.started.append(host.container)
        pubkey = self.ssh_key.with_suffix(".pub").read_text().strip()
        stdin = ("%s\n%s\n" % (self.admin_password, pubkey)).encode()

        def prepare(host: Host) -> None:
            host.exec("sh", "-c", PREPARE, "prepare", "pass" if host.key_mode == "keychain" else "none", *host.developers, stdin=stdin)

        self._parallel(prepare)
        lines = []
        for host in self.hosts:
            for key in ("ssh_host_ed25519_key.pub",):
                text = host.exec("cat", "/etc/ssh/" + key).stdout.decode().split()
                lines.append("[127.0.0.1]:%d %s %s" % (host.port, text[0], text[1]))
        self.known_hosts.write_text("\n".join(lines) + "\n")
        self._wait_ssh()
        return time.monotonic() - t0

    def _wait_ssh(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        for host in self.hosts:
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", host.port), timeout=2) as sock:
                        if sock.recv(4).startswith(b"SSH-"):
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("sshd of %s did not answer on port %d" % (host.name, host.port))
                time.sleep(0.2)

    def stop(self) -> None:
        for name in self.started:
            podman("rm", "--force", "--time", "0", name, check=False)
        self.started.clear()

    def reset(self, fixture: str = "alice-settings.jsonc") -> None:
        self._parallel(lambda h: h.exec("sh", "-c", RESET, "reset", ENTRY, fixture, *h.developers))

    def _parallel(self, func, hosts: list[Host] | None = None) -> list:
        hosts = hosts if hosts is not None else self.hosts
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(4, len(hosts))) as pool:
            return list(pool.map(func, hosts))

    # ------------------------------------------------------------------ inventory
    def write_inventory(self, root: Path, url: str, keys: dict[str, str], vault_password_file: Path, ansible_bin: Path | None = None) -> Path:
        """A fleet inventory as a team would keep it: hosts.yml, group_vars/all/{vars,vault}.yml
        (the vault encrypted with ansible-vault, vault id "fleet"), one host_vars file per host
        listing its developers. Returns the inventory folder."""
        import json

        (root / "group_vars" / "all").mkdir(parents=True, exist_ok=True)
        (root / "host_vars").mkdir(exist_ok=True)
        groups: dict[str, dict] = {}
        for host in self.hosts:
            groups.setdefault(host.key_mode, {})[host.name] = None
        hosts_yml = {"all": {"children": {"laptops": {"children": {mode: {"hosts": members} for mode, members in groups.items()}}}}}
        (root / "hosts.yml").write_text(json.dumps(hosts_yml, indent=2) + "\n")
        common = {
            "ansible_host": "127.0.0.1",
            "ansible_user": ADMIN,
            "ansible_become": True,
            "ansible_become_password": "{{ vault_fleet_become_password }}",
            "ansible_ssh_private_key_file": str(self.ssh_key),
            "ansible_ssh_common_args": "-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes" % self.known_hosts,
            "byok_llmcloud_url": url,
        }
        (root / "group_vars" / "all" / "vars.yml").write_text(json.dumps(common, indent=2) + "\n")
        for mode in groups:
            (root / "group_vars" / (mode + ".yml")).write_text(json.dumps({"byok_key_mode": mode}) + "\n")
        for host in self.hosts:
            hv = {"ansible_port": host.port, "byok_users": [{"name": d, "api_key": "{{ vault_llmcloud_keys.%s }}" % d} for d in host.developers]}
            (root / "host_vars" / (host.name + ".yml")).write_text(json.dumps(hv, indent=2) + "\n")
        vault = root / "group_vars" / "all" / "vault.yml"
        fd = os.open(vault, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"vault_fleet_become_password": self.admin_password, "vault_llmcloud_keys": keys}, handle)
        vault_bin = str(ansible_bin / "ansible-vault") if ansible_bin else "ansible-vault"
        subprocess.run(
            [vault_bin, "encrypt", "--vault-id", "fleet@%s" % vault_password_file, str(vault)],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if not vault.read_text().startswith("$ANSIBLE_VAULT;1.2;AES256;fleet"):
            raise RuntimeError("ansible-vault did not encrypt %s" % vault)
        return root

    def developers(self) -> list[tuple[Host, str]]:
        return [(h, d) for h in self.hosts for d in h.developers]
