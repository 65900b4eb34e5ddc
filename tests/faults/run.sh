#!/usr/bin/env bash
# make faults: reliability and security tests of json_merge and the byok role.
#
#   kill -9 during writes, concurrent writers and lock contention, injected I/O faults, planted
#   symlinks, the client's own rewrite, bad input, fuzzing (hypothesis and atheris), canary-key
#   leak checks (output, returned values, syslog, backups, process command lines), permissions
#   under any umask, and the keychain key mode with a real password store and the real droid.
#
# Runs as root in a private mount namespace (unshare -m): the tmpfs and read-only bind mounts the
# fault tests make, and the overlay on /dev that gives the run its own /dev/log (a syslog sink
# that records what modules log on the target), vanish when the run ends. Figures for the report
# are collected in tests/output/faults/metrics.jsonl and summarised at the end.
#
# Knobs (environment): FAULTS_KILLS (120), FAULTS_KILL_MIB (3), FAULTS_WRITERS (12),
# FAULTS_FUZZ_SECONDS (60, atheris), FAULTS_HYPOTHESIS_EXAMPLES (1500), FAULTS_SEED, FAULTS_PYTEST_ARGS.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$repo/tests/output/faults"
venv="${VENV:-$repo/.venv}"
py="$venv/bin/python"

if [ "${1:-}" != "--inside" ]; then
  cd "$repo"
  [ -x "$py" ] || make -s VENV="$venv" venv collection </dev/null
  [ -e "$repo/build/collections/ansible_collections/llmcloud/factory_droid" ] || make -s VENV="$venv" collection </dev/null

  # Debian tools the suites drive (strace for syscall fault injection and tracing, chattr,
  # unshare/mount, pass + gnupg for the keychain mode, zsh and fish for the profile blocks).
  missing=()
  for tool in strace:strace chattr:e2fsprogs unshare:util-linux pass:pass gpg:gnupg gpg-agent:gpg-agent \
              zsh:zsh fish:fish; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
      echo "faults: installing ${missing[*]} with apt-get" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    else
      echo "faults: missing ${missing[*]} (not root: the tests that need them will be skipped)" >&2
    fi
  fi

  # Python test tools, pinned in requirements/ (installed by make venv; re-checked here).
  if ! "$py" -c 'import hypothesis' 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements/dev.txt -c requirements/constraints.txt
  fi
  if ! "$py" -c 'import atheris' 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -c requirements/constraints.txt atheris \
      || echo "faults: atheris does not install here; the atheris run is skipped (hypothesis still runs)" >&2
  fi

  # The real droid client, for the keychain test (cached outside the checkout).
  FAULTS_DROID=$("$repo/hacking/install-droid.sh" "${DROID_VERSION:-0.225.2}")
  export FAULTS_DROID

  rm -rf "$out"
  mkdir -p "$out"
  if [ "$(id -u)" -eq 0 ]; then
    exec unshare --mount --propagation private "$0" --inside
  fi
  echo "faults: not root: no private mount namespace and no syslog sink; root-only tests skip" >&2
fi

cd "$repo"
mkdir -p "$out"
export FAULTS_METRICS="$out/metrics.jsonl"
# One canary key for the whole run (every pytest worker uses it; the final scans look for it).
FAULTS_CANARY=${FAULTS_CANARY:-llmc-canary-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')}
export FAULTS_CANARY
export FAULTS_OUTPUT="$out"
export PATH="$venv/bin:$PATH"
export ANSIBLE_CONFIG="$repo/ansible.cfg" ANSIBLE_COLLECTIONS_PATH="$repo/build/collections"
export PYTHONDONTWRITEBYTECODE=1

sink_pid=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  if [ -n "$sink_pid" ]; then kill "$sink_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

if [ "${1:-}" = "--inside" ]; then
  # A private /dev: an overlay on the real one, with its sub-mounts carried over, so that a
  # socket at /dev/log exists only in this namespace.
  work=$(mktemp -d /tmp/faults-dev.XXXXXX)
  mkdir -p "$work/upper" "$work/work" "$work/pts" "$work/shm" "$work/mqueue"
  mount --rbind /dev/pts "$work/pts"
  mount --rbind /dev/shm "$work/shm"
  mount -t overlay overlay -o "lowerdir=/dev,upperdir=$work/upper,workdir=$work/work" /dev
  mount --rbind "$work/pts" /dev/pts
  mount --rbind "$work/shm" /dev/shm
  : > "$out/syslog.log"
  rm -f "$out/syslog.ready"
  "$py" "$here/syslog_sink.py" /dev/log "$out/syslog.log" "$out/syslog.ready" &
  sink_pid=$!
  for _ in $(seq 100); do [ -s "$out/syslog.ready" ] && break; sleep 0.05; done
  [ -s "$out/syslog.ready" ] || { echo "faults: the syslog sink did not start" >&2; exit 1; }
  logger -t faults-selftest "syslog sink self-test" 2>/dev/null || \
    "$py" -c 'import syslog; syslog.openlog("faults-selftest"); syslog.syslog("syslog sink self-test")'
  sleep 0.2
  grep -q "syslog sink self-test" "$out/syslog.log" || { echo "faults: the syslog sink receives nothing" >&2; exit 1; }
  export FAULTS_SYSLOG="$out/syslog.log"
fi

started=$(date +%s)
status=0
# shellcheck disable=SC2086  # FAULTS_PYTEST_ARGS is a word list on purpose
"$py" -m pytest -p no:cacheprovider -q -rs --durations=12 -n 2 --dist loadfile --junitxml "$out/junit.xml" \
  ${FAULTS_PYTEST_ARGS:-} "$here" </dev/null || status=$?

# atheris: coverage-guided fuzzing of the JSONC reader and writer, bounded in time.
if [ "$status" -eq 0 ] && "$py" -c 'import atheris' 2>/dev/null; then
  mkdir -p "$out/atheris-corpus"
  "$py" "$here/fuzz_atheris.py" -max_total_time="${FAULTS_FUZZ_SECONDS:-60}" \
    -rss_limit_mb=2048 -timeout=20 -artifact_prefix="$out/" "$out/atheris-corpus" </dev/null >"$out/atheris.log" 2>&1 || status=$?
  tail -n 3 "$out/atheris.log"
  if [ "$status" -ne 0 ]; then
    echo "faults: atheris found a crash; see $out/atheris.log and the crash-* file it wrote" >&2
  fi
fi

# Final scans over everything the run left for a reader: the target's syslog (module invocation
# logging of every module the suites ran) and every log and output file of the run.
if [ -n "${FAULTS_SYSLOG:-}" ]; then
  lines=$(wc -l <"$FAULTS_SYSLOG")
  modules=$(grep -c 'ansible-' "$FAULTS_SYSLOG" || true)
  hits=$(grep -c -F "$FAULTS_CANARY" "$FAULTS_SYSLOG" || true)
  printf '{"metric": "canary_checks", "value": %d, "hits": %d, "scenario": "syslog sink, whole run (%d module log lines)"}\n' \
    "$lines" "$hits" "$modules" >>"$FAULTS_METRICS"
  if [ "$hits" -ne 0 ]; then
    echo "faults: the canary key reached syslog $hits times:" >&2
    grep -F "$FAULTS_CANARY" "$FAULTS_SYSLOG" | sed "s/$FAULTS_CANARY/<CANARY>/g" | head -n 5 >&2
    status=1
  fi
fi
hits=$(grep -rlF "$FAULTS_CANARY" "$out" --exclude=metrics.jsonl 2>/dev/null | wc -l || true)
if [ "$hits" -ne 0 ]; then
  echo "faults: the canary key is in $hits output files:" >&2
  grep -rlF "$FAULTS_CANARY" "$out" >&2 || true
  status=1
fi

"$py" "$here/summary.py" "$FAULTS_METRICS" "$out" || true
echo "faults: finished in $(( $(date +%s) - started ))s with status $status"
exit "$status"
