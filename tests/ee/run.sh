#!/usr/bin/env bash
# The onboarding job inside the execution environment, run the way AWX runs it (what `make ee`
# and `make ee-smoke` call).
#
#   tests/ee/run.sh            build the image, 20 target containers, two jobs, droid in each,
#                              then the benchmark: 20 hosts in the EE vs from this control node
#   tests/ee/run.sh --smoke    build the image, 2 target containers, two jobs, droid in each
#   EE_HOSTS=N                 number of targets (default 20, --smoke 2)
#   EE_BENCH_ROUNDS=N          benchmark rounds (default 2; 0 skips the benchmark)
#   EE_COLD=1                  build every image layer again (tests/ee/build.sh --no-cache)
#
# The job: ansible-runner, inside the image built by tests/ee/build.sh, on a private data
# directory that holds what AWX puts there: the project (playbooks/onboard.yml, as a project sync
# copies it), the inventory with an ansible-vault encrypted key, the vault password as a prompt
# answer in env/passwords (AWX's vault credential), extra vars in env/extravars, and verbosity 3
# with --diff in env/cmdline. The collection comes from the image (the tarball built from this
# checkout), not from the checkout.
# Targets: Debian containers (localhost/llmcloud-ee-target:bookworm: minbase, python3 and
# openssh-server, from molecule/images.sh) whose only process is sshd, each on its own port of a
# loopback shared by all of them and the job (the network namespace of the first target, which
# has no network at all), with a developer account `dev` and the pinned droid mounted read-only.
# The job logs in as root with an SSH key that is a machine credential in env/ssh_key
# (ansible-runner hands it to ssh-agent, as AWX does); host key checking is off, AWX's default.
#
# Checks, each failing the suite: job status successful; first job changed on every host, second
# job changed=0 and ok on every host; the key (a random canary, vault-encrypted) has 0 hits in the
# private data directory after both jobs (artifacts/<id>/stdout, job_events, env/, ...) and in
# this script's logs; each target's settings hold that key (compared by SHA-256) and the extra
# var's default model; the real droid in each target lists exactly the 8 LLMCloud models.
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$PWD
VENV=${VENV:-$root/.venv}
export PATH="$VENV/bin:$PATH"
export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/molecule/containers.conf}
export LLMCLOUD_CACHE_DIR=${LLMCLOUD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/llmcloud-factory-droid}
export DROID_VERSION=${DROID_VERSION:-0.225.2}
export ANSIBLE_FORCE_COLOR=false NO_COLOR=1 PY_COLORS=0
export EE_IMAGE=${EE_IMAGE:-localhost/llmcloud-factory-droid-ee:test}

smoke=0
[ "${1:-}" = --smoke ] && smoke=1
if ((smoke)); then hosts=${EE_HOSTS:-2}; rounds=${EE_BENCH_ROUNDS:-0}; else hosts=${EE_HOSTS:-20}; rounds=${EE_BENCH_ROUNDS:-2}; fi
target_image=localhost/llmcloud-ee-target:bookworm
prefix=llmcloud-ee-target
port_base=22200
work=$root/build/ee-test
pdd=$work/job
run_dir=$work/run
log() { printf 'ee: %s\n' "$*"; }
die() { log "FAIL: $*" >&2; exit 1; }
t0=$(date +%s)

# ---------------------------------------------------------------------------------------------
# The image and what the targets need.
tests/ee/build.sh
MOLECULE_IMAGE_REPO=${target_image%:*} MOLECULE_IMAGE_INCLUDE=python3,openssh-server molecule/images.sh bookworm
droid_dir="$LLMCLOUD_CACHE_DIR/droid/$DROID_VERSION/node_modules/@factory/cli-linux-x64"
hacking/install-droid.sh "$DROID_VERSION" </dev/null >/dev/null
[ -x "$droid_dir/bin/droid" ] || die "droid $DROID_VERSION is not in $droid_dir"
# The droid binary leaves inherited stdio non-blocking, and Ansible refuses that.
python3 -c '
import fcntl, os
for fd in (0, 1, 2):
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except OSError:
        pass
'

rm -rf "$pdd" "$run_dir"
mkdir -p "$run_dir"
chmod 0700 "$run_dir"
targets=()
cleanup() {
  local i
  # The first target holds the network namespace the others join: remove it last.
  for ((i = ${#targets[@]} - 1; i >= 0; i--)); do podman rm -f -t 0 "${targets[$i]}" >/dev/null 2>&1 || true; done
  rm -rf "$run_dir"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
# Targets: N containers running sshd on 127.0.0.1:<port> of one shared, otherwise empty network
# namespace, each with a developer account `dev` (no ~/.factory yet) and root's authorized key.
ssh-keygen -q -t ed25519 -N '' -C llmcloud-ee-test -f "$run_dir/ssh_key" </dev/null
start=$(date +%s)
network=none
for i in $(seq -w 1 "$hosts"); do
  name=$prefix-$i
  port=$((port_base + 10#$i))
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  targets+=("$name")
  podman run -d --name "$name" --hostname "$name" --network "$network" --stop-signal SIGKILL \
    -v "$droid_dir:/opt/droid/current:ro" "$target_image" sh -c \
    "mkdir -p /run/sshd && ssh-keygen -A >/dev/null && exec /usr/sbin/sshd -D -e -p $port -o ListenAddress=127.0.0.1 -o UsePAM=no \
-o PasswordAuthentication=no -o PermitRootLogin=prohibit-password -o MaxStartups=100" >/dev/null
  network=container:${targets[0]}
  podman exec -i "$name" sh -c 'useradd --create-home --shell /bin/sh dev &&
    install -d -m 0700 /root/.ssh && cat >/root/.ssh/authorized_keys && chmod 0600 /root/.ssh/authorized_keys' \
    <"$run_dir/ssh_key.pub"
done
netns=/proc/$(podman inspect --format '{{.State.Pid}}' "${targets[0]}")/ns/net
# in_fleet_network COMMAND...: run a command of this host inside the targets' network namespace.
in_fleet_network() { nsenter --net="$netns" "$@"; }
in_fleet_network python3 - "$port_base" "$hosts" <<'EOF' || die "sshd does not answer on every target"
import socket, sys, time
base, count = int(sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 30
for port in range(base + 1, base + count + 1):
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                if conn.recv(4).startswith(b"SSH-"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit("no sshd on port %d" % port)
        time.sleep(0.2)
EOF
log "$hosts target containers up (sshd on 127.0.0.1:$((port_base + 1))-$((port_base + hosts))) in $(($(date +%s) - start)) s"

# ---------------------------------------------------------------------------------------------
# The private data directory, as AWX lays it out for a job.
umask 077
mkdir -p "$pdd"/{project,inventory/group_vars/all,env}
cp playbooks/onboard.yml "$pdd/project/onboard.yml"
# The canary key: random per run, kept in a 0600 file outside the private data directory.
python3 -c 'import secrets; print("llmc-ee-canary-" + secrets.token_hex(16))' >"$run_dir/key"
python3 -c 'import secrets; print(secrets.token_urlsafe(24))' >"$run_dir/vault-password"
key=$(cat "$run_dir/key")
vault_password=$(cat "$run_dir/vault-password")
printf 'vault_ee_llmcloud_api_key: %s\n' "$key" >"$pdd/inventory/group_vars/all/vault.yml"
ansible-vault encrypt --vault-password-file "$run_dir/vault-password" \
  "$pdd/inventory/group_vars/all/vault.yml" >/dev/null 2>&1
[ "$(head -c 14 "$pdd/inventory/group_vars/all/vault.yml")" = "\$ANSIBLE_VAULT" ] || die "vault.yml was not encrypted"
cat >"$pdd/inventory/group_vars/all/vars.yml" <<'EOF'
---
ansible_host: 127.0.0.1
ansible_user: root
ansible_python_interpreter: /usr/bin/python3
# Host keys are not checked (AWX's default) and not remembered anywhere.
ansible_ssh_common_args: -o UserKnownHostsFile=/dev/null
byok_api_key: "{{ vault_ee_llmcloud_api_key }}"
byok_users:
  - name: dev
EOF
{
  echo '---'
  echo 'all:'
  echo '  hosts:'
  for name in "${targets[@]}"; do echo "    $name: {ansible_port: $((port_base + 10#${name##*-}))}"; done
} >"$pdd/inventory/hosts.yml"
# AWX's vault credential: ansible-playbook asks, ansible-runner answers from env/passwords.
python3 - "$pdd/env/passwords" "$vault_password" <<'EOF'
import json, sys
with open(sys.argv[1], "w", encoding="utf-8") as handle:
    json.dump({r"^Vault password:\s*?$": sys.argv[2]}, handle)
EOF
unset vault_password
echo '{"byok_default_model": "anthropic/claude-sonnet-4.5"}' >"$pdd/env/extravars"
echo '{"ANSIBLE_HOST_KEY_CHECKING": "false", "ANSIBLE_NOCOLOR": "true"}' >"$pdd/env/envvars"
# AWX's machine credential: the private key, loaded into ssh-agent by ansible-runner.
cp "$run_dir/ssh_key" "$pdd/env/ssh_key"
# The EE's user (uid 1000, group root) reads the job's files and writes artifacts, as in AWX.
chgrp -R 0 "$pdd"
find "$pdd" -type d -exec chmod 0770 {} +
find "$pdd" -type f -exec chmod 0640 {} +
umask 022

# run_ee IDENT CMDLINE...: one job, ansible-runner inside the EE on the private data directory.
run_ee() {
  local ident=$1
  shift
  printf '%s\n' "$*" >"$pdd/env/cmdline"
  chgrp 0 "$pdd/env/cmdline"
  chmod 0640 "$pdd/env/cmdline"
  podman run --rm --network "container:${targets[0]}" -v "$pdd:/runner:rw" \
    "$EE_IMAGE" ansible-runner run /runner -p onboard.yml --ident "$ident" >"$work/$ident.console" 2>&1
}

# job_summary IDENT: status, rc and the play recap of a job, from its artifacts, as JSON.
job_summary() {
  python3 - "$pdd/artifacts/$1" <<'EOF'
import glob, json, os, sys
folder = sys.argv[1]
def read(name):
    try:
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return None
stats = None
for path in glob.glob(os.path.join(folder, "job_events", "*.json")):
    with open(path, encoding="utf-8") as handle:
        event = json.load(handle)
    if event.get("event") == "playbook_on_stats":
        stats = event["event_data"]
print(json.dumps({"status": read("status"), "rc": read("rc"), "stats": stats}))
EOF
}

# check_job IDENT EXPECT: EXPECT is "changed" (every host changed) or "unchanged" (changed=0).
check_job() {
  python3 - "$1" "$2" "$hosts" "$(job_summary "$1")" <<'EOF'
import json, sys
ident, expect, hosts, summary = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
stats = summary["stats"] or {}
problems = []
if summary["status"] != "successful" or summary["rc"] != "0":
    problems.append("status %s rc %s" % (summary["status"], summary["rc"]))
ok, changed = stats.get("ok", {}), stats.get("changed", {})
for kind in ("failures", "dark"):
    if stats.get(kind):
        problems.append("%s: %s" % (kind, stats[kind]))
if len(ok) != hosts:
    problems.append("%d hosts ok, expected %d" % (len(ok), hosts))
if expect == "changed" and (len(changed) != hosts or min(changed.values() or [0]) < 1):
    problems.append("not every host changed: %s" % changed)
if expect == "unchanged" and sum(changed.values()):
    problems.append("rerun changed something: %s" % changed)
print("ee: job %s: %s, %d hosts ok, changed=%d in all%s" % (
    ident, summary["status"], len(ok), sum(changed.values()), "" if not problems else "; " + "; ".join(problems)))
sys.exit(1 if problems else 0)
EOF
}

# canary_hits PATH...: how often the key occurs in these files (recursively, binary included).
canary_hits() {
  { grep -r -a -o -F -f "$run_dir/key" "$@" 2>/dev/null || true; } | wc -l
}

# ---------------------------------------------------------------------------------------------
# The two jobs, as AWX would launch them (verbosity 3 and --diff: the most Ansible prints).
failed=()
for job in 1 2; do
  ident=onboard-$job
  start=$(date +%s)
  run_ee "$ident" --ask-vault-pass --diff -vvv || true
  log "job $ident ran in $(($(date +%s) - start)) s (ansible-runner in $EE_IMAGE)"
  expect=changed
  [ "$job" = 2 ] && expect=unchanged
  if ! check_job "$ident" "$expect"; then
    failed+=("job $ident")
    tail -n 30 "$pdd/artifacts/$ident/stdout" 2>/dev/null | sed -e "s|$key|********|g" || true
    tail -n 10 "$work/$ident.console" | sed -e "s|$key|********|g"
  fi
done

# The key in the job's artifacts, env/ and everything else the private data directory holds.
# Positive control first: the count finds the key where it is.
cp "$run_dir/key" "$run_dir/control"
[ "$(canary_hits "$run_dir/control")" = 1 ] || die "the canary count does not find the key in a file that holds it"
for ident in onboard-1 onboard-2; do
  [ -s "$pdd/artifacts/$ident/stdout" ] || failed+=("job $ident wrote no artifacts/$ident/stdout")
  [ -n "$(ls "$pdd/artifacts/$ident/job_events" 2>/dev/null)" ] || failed+=("job $ident wrote no job events")
done
artifacts_hits=$(canary_hits "$pdd/artifacts")
env_hits=$(canary_hits "$pdd/env")
pdd_hits=$(canary_hits "$pdd")
log_hits=$(canary_hits "$work"/*.console "$work"/*.log)
events=$(find "$pdd/artifacts" -path '*/job_events/*.json' | wc -l)
log "canary hits: artifacts $artifacts_hits (stdout, $events job events), env $env_hits, private data dir $pdd_hits, logs $log_hits"
[ "$pdd_hits" = 0 ] && [ "$log_hits" = 0 ] || failed+=("the key appears in the job's files or logs ($pdd_hits, $log_hits hits)")

# ---------------------------------------------------------------------------------------------
# Each target: the key arrived (by hash) with the extra var's default model, and the real droid
# lists the 8 LLMCloud models (the role's explicit ids: custom:llmcloud-<model id, '/' as '-'>).
key_sha=$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)
expected_ids=$(python3 - <<'EOF'
import re, yaml
with open("molecule/shared/vars/catalog.yml", encoding="utf-8") as handle:
    catalog = yaml.safe_load(handle)["molecule_catalog"]
print(" ".join(sorted("custom:llmcloud-%s" % m["id"].replace("/", "-") for m in catalog)))
EOF
)
start=$(date +%s)
verified=0
for name in "${targets[@]}"; do
  facts=$(podman exec "$name" python3 -c '
import hashlib, json, os, stat
path = "/home/dev/.factory/settings.json"
doc = json.load(open(path))
keys = sorted({hashlib.sha256(m["apiKey"].encode()).hexdigest() for m in doc.get("customModels", []) if "apiKey" in m})
st = os.stat(path)
print(json.dumps({"keys": keys, "default": doc.get("sessionDefaultSettings", {}).get("model", ""),
                  "mode": oct(stat.S_IMODE(st.st_mode)), "owner": st.st_uid}))
' 2>&1) || { failed+=("$name: no readable settings.json"); continue; }
  listing=$(podman exec --user dev --workdir /home/dev -e HOME=/home/dev "$name" \
    timeout 120 /opt/droid/current/bin/droid exec --list-tools -m custom:does-not-exist 2>&1 || true)
  printf '%s\n' "$listing" >>"$work/droid-listings.log"
  listed=$(printf '%s\n' "$listing" | grep -o 'custom:[^ ]* (' | sed 's/ ($//' | sort -u | tr '\n' ' ' | sed 's/ $//')
  if python3 - "$facts" "$key_sha" <<'EOF'
import json, sys
facts, sha = json.loads(sys.argv[1]), sys.argv[2]
assert facts["keys"] == [sha], "settings.json holds another key than the job's"
assert facts["default"] == "custom:llmcloud-anthropic-claude-sonnet-4.5", "default model %r" % facts["default"]
assert facts["mode"] == "0o600", "settings.json mode %s" % facts["mode"]
EOF
  then :; else failed+=("$name: settings.json is not what the job should write"); fi
  if [ "$listed" = "$expected_ids" ]; then
    verified=$((verified + 1))
  else
    failed+=("$name: droid lists [$listed], expected [$expected_ids]")
  fi
done
log "droid $DROID_VERSION lists the 8 LLMCloud models on $verified of $hosts targets ($(($(date +%s) - start)) s)"
[ "$(canary_hits "$work/droid-listings.log")" = 0 ] || failed+=("droid's listing printed the key")
rm -f "$work/droid-listings.log"

# ---------------------------------------------------------------------------------------------
# Benchmark: the same job on the same targets, in the EE (ansible-runner, as above) and from
# this control node (ansible-playbook from the venv, the collection installed from the same
# tarball, run in the targets' network namespace), default verbosity, from fresh homes and rerun.
if [ "$rounds" -gt 0 ] && [ "${#failed[@]}" -eq 0 ]; then
  control=$work/control
  rm -rf "$control"
  mkdir -p "$control/collections"
  ANSIBLE_COLLECTIONS_PATH="$control/collections" ansible-galaxy collection install --offline -p "$control/collections" \
    "$work"/collections/llmcloud-factory_droid-*.tar.gz >/dev/null
  : >"$control/ansible.cfg"
  reset_homes() { for name in "${targets[@]}"; do podman exec "$name" rm -rf /home/dev/.factory; done; }
  run_control() {
    (cd "$pdd/project" && ANSIBLE_CONFIG="$control/ansible.cfg" ANSIBLE_HOST_KEY_CHECKING=false \
      ANSIBLE_COLLECTIONS_PATH="$control/collections" \
      in_fleet_network ansible-playbook -i "$pdd/inventory" onboard.yml \
      --vault-password-file "$run_dir/vault-password" --private-key "$run_dir/ssh_key" \
      -e @"$pdd/env/extravars" >"$work/control-$1.log" 2>&1)
  }
  timed() { local s e; s=$(date +%s.%N); "$@" || die "benchmark run '$*' failed"; e=$(date +%s.%N); python3 -c "print('%.1f' % ($e - $s))"; }
  results=()
  for round in $(seq 1 "$rounds"); do
    order=(ee control)
    ((round % 2)) || order=(control ee)
    for where in "${order[@]}"; do
      reset_homes
      if [ "$where" = ee ]; then
        first=$(timed run_ee "bench-$round-first" --ask-vault-pass)
        check_job "bench-$round-first" changed >/dev/null || die "benchmark job bench-$round-first failed"
        rerun=$(timed run_ee "bench-$round-rerun" --ask-vault-pass)
        check_job "bench-$round-rerun" unchanged >/dev/null || die "benchmark job bench-$round-rerun failed"
      else
        first=$(timed run_control "$round-first")
        rerun=$(timed run_control "$round-rerun")
        grep -qE 'changed=0 +unreachable=0 +failed=0' "$work/control-$round-rerun.log" || die "control node rerun changed something"
      fi
      results+=("$where $round $first $rerun")
      log "benchmark round $round, $where: first run $first s, rerun $rerun s ($hosts hosts; load $(cut -d' ' -f1-3 /proc/loadavg))"
    done
  done
  [ "$(canary_hits "$pdd" "$work"/control-*.log)" = 0 ] || failed+=("the key appears in the benchmark's output")
  printf '%s\n' "${results[@]}" | python3 -c '
import statistics, sys
rows = [line.split() for line in sys.stdin]
for where in ("ee", "control"):
    first = [float(r[2]) for r in rows if r[0] == where]
    rerun = [float(r[3]) for r in rows if r[0] == where]
    print("ee: benchmark %-7s %d hosts: first run median %.1f s %s, rerun median %.1f s %s"
          % (where, int(sys.argv[1]), statistics.median(first), first, statistics.median(rerun), rerun))
' "$hosts" | tee "$work/bench-summary.txt"
fi

log "done in $(($(date +%s) - t0)) s ($hosts targets, image $EE_IMAGE)"
if [ "${#failed[@]}" -gt 0 ]; then
  printf 'ee: FAIL: %s\n' "${failed[@]}" >&2
  exit 1
fi
log "passed"
