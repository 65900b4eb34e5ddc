#!/usr/bin/env bash
# Run the Molecule scenarios on local podman containers (what `make molecule` runs).
#
#   molecule/run.sh [SCENARIO...]        default: every molecule/<scenario>/molecule.yml
#
# Bootstraps what it needs: podman, runc and debootstrap (apt-get, when missing), the Debian
# images (molecule/images.sh, skipped when present), the pinned droid clients (cached outside the
# checkout by hacking/install-droid.sh). Podman reads molecule/containers.conf through
# CONTAINERS_CONF; nothing in /etc is edited. Each scenario runs as
#   molecule -c molecule/shared/base.yml test -s <scenario>
# with its whole output in build/molecule/<scenario>.log. After each scenario this script checks
# that the --check pass reported changes for every host, and that no developer key from the
# vault fixture appears anywhere in the log (the playbooks run with --diff and -vvv).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD

export CONTAINERS_CONF="$root/molecule/containers.conf"
if [ -x "$root/.venv/bin/molecule" ]; then export PATH="$root/.venv/bin:$PATH"; fi
export LLMCLOUD_CACHE_DIR=${LLMCLOUD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/llmcloud-factory-droid}
export DROID_VERSION=${DROID_VERSION:-0.225.2}
# The old client the legacy scenario must satisfy (byok_format: legacy).
export DROID_LEGACY_VERSION=${DROID_LEGACY_VERSION:-0.109.3}
export ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-$root/build/collections}
# Scenarios live in molecule/ at the top of the collection (not extensions/molecule).
export MOLECULE_GLOB='molecule/*/molecule.yml'
export ANSIBLE_FORCE_COLOR=false PY_COLORS=0 NO_COLOR=1

log() { printf 'molecule/run.sh: %s\n' "$*"; }
die() { log "$*" >&2; exit 1; }

# Ansible refuses to run on non-blocking stdio, and the droid binary (bun) leaves the stdout and
# stderr it inherits non-blocking: after `make droid` or hacking/install-droid.sh in the
# same shell, molecule's ansible-playbook would fail with "Ansible requires blocking IO".
blocking_stdio() {
  python3 -c '
import fcntl, os
for fd in (0, 1, 2):
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
    except OSError:
        pass
'
}
blocking_stdio

command -v molecule >/dev/null 2>&1 || die "molecule not found: run 'make venv' first"
# The collection must resolve as llmcloud.factory_droid (what `make collection` links).
link="$root/build/collections/ansible_collections/llmcloud/factory_droid"
if [ "$ANSIBLE_COLLECTIONS_PATH" = "$root/build/collections" ] && [ ! -e "$link" ]; then
  mkdir -p "$(dirname "$link")"
  ln -sfn ../../../.. "$link"
fi

if [ "$#" -gt 0 ]; then
  scenarios=("$@")
else
  scenarios=()
  for file in molecule/*/molecule.yml; do
    scenarios+=("$(basename "$(dirname "$file")")")
  done
fi
for scenario in "${scenarios[@]}"; do
  [ -f "molecule/$scenario/molecule.yml" ] || die "no scenario molecule/$scenario"
done

t0=$(date +%s)
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
molecule/images.sh
for version in "$DROID_VERSION" "$DROID_LEGACY_VERSION"; do
  hacking/install-droid.sh "$version" </dev/null >/dev/null 2>"$workdir/install-droid.err" || {
    cat "$workdir/install-droid.err" >&2
    die "could not install droid $version"
  }
done
blocking_stdio
log "images and droid $DROID_VERSION, $DROID_LEGACY_VERSION ready in $(($(date +%s) - t0)) s"

logdir="$root/build/molecule"
mkdir -p "$logdir"

# The developers' keys, for the leak check: decrypted in memory from the vault fixture into a
# 0600 file that is removed on exit. They are never printed.
(
  umask 077
  ansible-vault view --vault-password-file molecule/shared/vault-password.txt molecule/shared/vault.yml |
    python3 -c '
import re, sys, yaml
keys = yaml.safe_load(sys.stdin)["vault_molecule_llmcloud_keys"]
for name, key in sorted(keys.items()):
    # Long enough to never match by chance; plain characters, so grep -F and sed take it as is.
    assert len(key) >= 16 and re.fullmatch(r"[A-Za-z0-9._-]+", key), "unusable fixture key for %s" % name
    print(key)
' >"$workdir/keys"
)
[ -s "$workdir/keys" ] || die "no keys read from molecule/shared/vault.yml"
# sed script that masks every key, for the lines of the logs this script prints.
sed 's/.*/s|&|********|g/' "$workdir/keys" >"$workdir/redact.sed"

# Prints "<host> <changed>" for each host of the PLAY RECAP of the given action's output.
recap_of_action() {
  awk -v action="$2" -v scenario="$3" '
    index($0, "[" scenario " > " action "] Executing") { inside = 1; next }
    inside && index($0, "[" scenario " > " action "] Executed") { inside = 0 }
    inside && /^PLAY RECAP/ { recap = 1; next }
    inside && recap && /: ok=/ { match($0, /changed=[0-9]+/); print $1, substr($0, RSTART + 8, RLENGTH - 8) }
    inside && recap && /^$/ { recap = 0 }
  ' "$1"
}

# One scenario: molecule test with the whole output in its log; the console gets Molecule's
# action lines and the play recaps, prefixed with the scenario and with keys masked.
run_scenario() {
  local scenario=$1 start rc
  start=$(date +%s)
  set +e
  molecule -c molecule/shared/base.yml test -s "$scenario" </dev/null 2>&1 |
    tee "$logdir/$scenario.log" |
    grep --line-buffered -E '^(INFO|WARNING|ERROR|CRITICAL) |^[a-z0-9-]+ +: ok=' |
    sed -u -f "$workdir/redact.sed" -e "s/^/[$scenario] /"
  rc=${PIPESTATUS[0]}
  set -e
  echo "$rc $(($(date +%s) - start))" >"$workdir/$scenario.result"
}

# Judge one finished scenario: exit code, the check pass, the leak check.
judge_scenario() {
  local scenario=$1 scenario_log="$logdir/$1.log" rc elapsed recap host changed leaks
  local problems=()
  read -r rc elapsed <"$workdir/$scenario.result"
  [ "$rc" -eq 0 ] || problems+=("molecule test exited $rc")

  # The check action (converge with --check) must have reported changes on every host.
  if grep -q "\[$scenario > check\] Executing" "$scenario_log"; then
    recap=$(recap_of_action "$scenario_log" check "$scenario")
    if [ -z "$recap" ]; then
      problems+=("no PLAY RECAP found for the check action")
    else
      while read -r host changed; do
        [ "$changed" -gt 0 ] || problems+=("check mode reported no change on $host")
      done <<<"$recap"
      log "$scenario: --check reported changes (host changed=N): $(echo "$recap" | tr '\n' ' ')"
    fi
  elif [ "$rc" -eq 0 ]; then
    problems+=("the check action did not run")
  fi

  # No developer key anywhere in the whole log (--diff, -vvv, verify output).
  leaks=$(grep -n -F -f "$workdir/keys" "$scenario_log" | cut -d: -f1 | tr '\n' ' ' || true)
  [ -z "$leaks" ] || problems+=("a developer key appears in ${scenario_log#"$root"/} at line(s) $leaks")
  grep -q . "$scenario_log" || problems+=("empty log")

  if [ "${#problems[@]}" -eq 0 ]; then
    summary+=("$(printf '%-10s passed in %4d s' "$scenario" "$elapsed")")
  else
    failed+=("$scenario")
    summary+=("$(printf '%-10s FAILED in %4d s: %s' "$scenario" "$elapsed" "$(IFS=';'; echo "${problems[*]}")")")
    log "$scenario failed; last lines of ${scenario_log#"$root"/} (keys masked):"
    tail -n 60 "$scenario_log" | sed -f "$workdir/redact.sed"
  fi
}

# Scenarios run in parallel (MOLECULE_JOBS at a time, default 3): most of a scenario's time is
# spent waiting on podman exec round trips and on droid, not on the CPU.
jobs=${MOLECULE_JOBS:-3}
log "running ${scenarios[*]} (${jobs} at a time); logs in ${logdir#"$root"/}/"
running=0
for scenario in "${scenarios[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_scenario "$scenario" &
  running=$((running + 1))
done
wait

failed=()
summary=()
for scenario in "${scenarios[@]}"; do
  judge_scenario "$scenario"
done

log "summary: $(($(date +%s) - t0)) s in all, droid $DROID_VERSION (and $DROID_LEGACY_VERSION for legacy):"
printf '  %s\n' "${summary[@]}"
[ "${#failed[@]}" -eq 0 ] || die "failed: ${failed[*]}"
