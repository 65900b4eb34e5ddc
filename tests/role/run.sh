#!/usr/bin/env bash
# make role-tests: the byok role through ansible-playbook on sandbox homes, judged by the real
# droid client (npm platform package, pinned, cached outside the checkout) and by a loopback
# stand-in for LLMCloud's API. See tests/role/conftest.py for how a test runs.
#
#   tests/role/run.sh [pytest arguments...]      e.g. tests/role/run.sh -k preflight
#
# Environment: DROID_VERSION (default 0.225.2; 0.109.3 is installed too, for the legacy file),
# ROLE_TESTS_WORKERS (pytest-xdist workers, default 2), LLMCLOUD_CACHE_DIR (droid cache).
# After the tests it times the idempotent (second) run of the playbook on a sandbox home, next
# to a one-task ping playbook, and prints both.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
[[ -x "$VENV/bin/ansible-playbook" ]] || { echo "role-tests: $VENV has no ansible-playbook; run 'make venv'" >&2; exit 1; }
export PATH="$VENV/bin:$PATH"
export ANSIBLE_CONFIG="$ROOT/ansible.cfg"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/build/collections"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 PY_COLORS=0
export DROID_VERSION="${DROID_VERSION:-0.225.2}"
export LLMCLOUD_CACHE_DIR="${LLMCLOUD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/llmcloud-factory-droid}"
OUT="$ROOT/build/role-tests"
mkdir -p "$OUT"

link="$ROOT/build/collections/ansible_collections/llmcloud/factory_droid"
[[ -e "$link" ]] || { mkdir -p "$(dirname "$link")" && ln -sfn ../../../.. "$link"; }

echo "== droid clients (cache: $LLMCLOUD_CACHE_DIR)"
for version in "$DROID_VERSION" 0.109.3; do
  printf '  %s: %s\n' "$version" "$(hacking/install-droid.sh "$version")"
done

workers=()
if [[ "${ROLE_TESTS_WORKERS:-2}" != 0 ]] && python -c 'import xdist' 2>/dev/null; then
  workers=(-n "${ROLE_TESTS_WORKERS:-2}")
fi
echo "== pytest tests/role ${workers[*]}"
python -m pytest tests/role -p no:cacheprovider -q -rs "${workers[@]}" --durations=5 \
  --junitxml="$OUT/junit.xml" "$@"

# Cost of the idempotent run: the default case (the connecting user, HOME = a sandbox), against
# a playbook with one ping task on the same host.
bench="$(mktemp -d "$OUT/bench.XXXXXX")"
trap 'rm -rf "$bench"' EXIT
cat > "$bench/hosts.yml" <<YAML
all:
  hosts:
    sandbox:
      ansible_connection: local
      ansible_python_interpreter: "$(command -v python)"
      byok_api_key: llmc-bench-not-a-real-key
YAML
cat > "$bench/ping.yml" <<'YAML'
- name: Ping
  hosts: all
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
YAML
run_timed() { # run_timed PLAYBOOK: seconds of one run, recap checked
  local start end log
  log="$bench/$(basename "$1" .yml).log"
  start=$(date +%s%N)
  HOME="$bench" ansible-playbook -i "$bench/hosts.yml" "$1" </dev/null >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
  end=$(date +%s%N)
  echo $(( (end - start) / 1000000 ))
}
run_timed playbooks/onboard.yml >/dev/null
onboard=() ping=()
for _ in 1 2 3; do
  onboard+=("$(run_timed playbooks/onboard.yml)")
  grep -Eq 'changed=0 +unreachable=0 +failed=0' "$bench/onboard.log" \
    || { cat "$bench/onboard.log"; echo "role-tests: the second run changed something" >&2; exit 1; }
  ping+=("$(run_timed "$bench/ping.yml")")
done
echo "== idempotent run of playbooks/onboard.yml (ms, 3 runs): ${onboard[*]}; one-task ping playbook: ${ping[*]}"
sed -n '/PLAY RECAP/,$p' "$bench/onboard.log" | head -2
