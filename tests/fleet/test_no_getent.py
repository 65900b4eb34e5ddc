"""Fleet mode on a host without the getent binary (macOS has none; issue 13, ansible/ansible#86168).

The role runs with byok_users (the fleet configuration) on connection local, inside a private
mount namespace (`unshare -m`, propagation private: nothing outside the test sees it) where
- /dev/null is bind-mounted over the getent binary (it exists, but is no executable any more,
  which is what Ansible's get_bin_path checks: "Failed to find required executable getent");
- /etc/passwd and /etc/group are copies with one extra account, `byoknogetent`, whose home is a
  sandbox folder, so the role must resolve the home and group from the passwd database (Python's
  pwd/grp read these files) and the machine's real accounts and homes are never touched.
The role converges, writes the file 0600 owned by that account, and the rerun reports changed=0.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
USER, UID = "byoknogetent", 61234
GETENT = shutil.which("getent")
ROLE_TASKS = REPO / "roles" / "byok" / "tasks"
# The role must not look users up with ansible.builtin.getent (json_merge's `user` option reads
# pwd on the target instead).
ROLE_USES_GETENT = any("ansible.builtin.getent" in p.read_text() for p in ROLE_TASKS.glob("*.yml"))
RECAP = re.compile(r"^\S+\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="unshare -m and bind mounts need root"),
    pytest.mark.skipif(not shutil.which("unshare") or not GETENT, reason="needs unshare and a getent to hide"),
]

# In the namespace: hide getent, swap in the sandbox passwd/group, then run "$@".
NAMESPACE = r"""
set -eu
mount --make-rprivate /
mount --bind /dev/null "$GETENT"
mount --bind "$SANDBOX/passwd" /etc/passwd
mount --bind "$SANDBOX/group" /etc/group
exec "$@"
"""


@pytest.fixture
def sandbox(tmp_path):
    # The module works as the user: every folder above the home must let them through, as /home
    # does (pytest's own temporary root is 0700).
    for folder in [tmp_path, *tmp_path.parents]:
        if folder == Path(tempfile.gettempdir()):
            break
        os.chmod(folder, os.stat(folder).st_mode | 0o011)
    home = tmp_path / "home" / USER
    home.mkdir(parents=True)
    os.chown(home, UID, UID)
    os.chmod(home, 0o750)
    passwd = Path("/etc/passwd").read_text()
    group = Path("/etc/group").read_text()
    assert ":%d:" % UID not in passwd, "uid %d is taken on this machine; pick another" % UID
    (tmp_path / "passwd").write_text(passwd + "%s:x:%d:%d:byok no-getent test:%s:/bin/sh\n" % (USER, UID, UID, home))
    (tmp_path / "group").write_text(group + "%s:x:%d:\n" % (USER, UID))
    password = tmp_path / "vault-password"
    password.write_text(secrets.token_hex(16) + "\n")
    key = "nogetent-" + secrets.token_hex(16)
    vault = tmp_path / "vault.yml"
    vault.write_text("vault_llmcloud_keys:\n  %s: %s\n" % (USER, key))
    subprocess.run(
        [str(Path(sys.executable).parent / "ansible-vault"), "encrypt", "--vault-password-file", str(password), str(vault)],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        json.dumps(
            {
                "all": {
                    "hosts": {
                        "laptop-nogetent": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": sys.executable,
                            "byok_llmcloud_url": "http://127.0.0.1:9",
                            "byok_users": [{"name": USER, "api_key": "{{ vault_llmcloud_keys.%s }}" % USER}],
                        }
                    }
                }
            }
        )
    )
    return {"root": tmp_path, "home": home, "password": password, "vault": vault, "inventory": inventory, "key": key}


def in_namespace(box, *argv: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        {
            "GETENT": GETENT,
            "SANDBOX": str(box["root"]),
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_COLLECTIONS_PATH": str(REPO / "build" / "collections"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_LOCAL_TEMP": str(box["root"] / "local_tmp"),
            "ANSIBLE_REMOTE_TEMP": str(box["root"] / "remote_tmp"),
            "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        }
    )
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", NAMESPACE, "ns", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=str(REPO),
        timeout=300,
        check=False,
        text=True,
    )


def onboard(box, *args: str) -> subprocess.CompletedProcess:
    return in_namespace(
        box,
        "ansible-playbook",
        "-i",
        str(box["inventory"]),
        "--vault-password-file",
        str(box["password"]),
        "-e",
        "@%s" % box["vault"],
        *args,
        str(REPO / "playbooks" / "onboard.yml"),
    )


def test_the_namespace_hides_getent_and_knows_the_sandbox_user(sandbox):
    probe = in_namespace(sandbox, "sh", "-c", 'getent passwd root; echo "getent rc=$?"; python3 -c "import pwd; print(pwd.getpwnam(\'%s\').pw_dir)"' % USER)
    assert "getent rc=126" in probe.stdout or "getent rc=127" in probe.stdout, probe.stdout
    assert str(sandbox["home"]) in probe.stdout, probe.stdout
    outside = subprocess.run([GETENT, "passwd", "root"], capture_output=True, text=True, check=False)
    assert outside.returncode == 0, "getent is hidden outside the namespace too"


def test_the_role_runs_no_getent():
    # macOS has no getent binary (ansible/ansible#86168): users are resolved by json_merge with pwd
    assert not ROLE_USES_GETENT, "a task in roles/byok/tasks calls ansible.builtin.getent"


def test_fleet_mode_converges_without_getent(sandbox):
    settings = sandbox["home"] / ".factory" / "settings.json"
    first = onboard(sandbox, "--diff")
    assert first.returncode == 0, first.stdout[-3000:]
    assert sandbox["key"] not in first.stdout
    st = os.stat(settings)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (UID, UID, 0o600)
    document = json.loads(settings.read_text())
    assert {m["apiKey"] for m in document["customModels"]} == {sandbox["key"]}
    again = onboard(sandbox)
    assert again.returncode == 0, again.stdout[-3000:]
    assert [int(m[1]) for m in RECAP.findall(again.stdout)] == [0], again.stdout[-3000:]
