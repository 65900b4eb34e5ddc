#!/usr/bin/env bash
# `make bench`: measure the byok role and the json_merge module against the floor (one ping per
# host) and the alternatives users would write, then write benchmarks/RESULTS.md and
# benchmarks/bench.png. Raw data and logs go to benchmarks/output/ (ignored by git).
#
# Knobs (environment): BENCH_ROUNDS (default 3), BENCH_MATRIX ("1:5 20:5 100:5 200:5"),
# BENCH_PIPELINING_AT ("20:5"), BENCH_SSH_HOSTS (6; 0 skips), BENCH_SSH_IMAGE,
# BENCH_CONTAINERS (3; 0 skips), BENCH_CONTAINER_IMAGE, BENCH_MODULE_REPEATS (5),
# BENCH_SECTIONS ("hosts ssh containers module"), BENCH_SCENARIOS, BENCH_SLOW_MAX_HOSTS (20),
# BENCH_LARGE_ROUNDS (2). About 20 minutes on 2 cores with the defaults.
# The Debian images (molecule/images.sh bookworm bookworm-fleet) are built when missing and kept
# in podman's storage; the SSH fleet is tests/fleet/_fleet.py's.
# See benchmarks/harness.py for what each one does.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"

# The same environment `make` exports, so that the script also runs on its own
# (`make VENV=<path> bench` uses that venv).
venv=${VENV:-$repo/.venv}
export PATH="$venv/bin:$PATH"
export ANSIBLE_CONFIG="${ANSIBLE_CONFIG:-$repo/ansible.cfg}"
export ANSIBLE_COLLECTIONS_PATH="${ANSIBLE_COLLECTIONS_PATH:-$repo/build/collections}"
# Podman needs Debian's runc as its runtime (crun fails on cgroup v1/hybrid hosts) and ulimits no
# higher than the caller's; molecule/containers.conf says both without editing the machine's /etc.
if [ -z "${CONTAINERS_CONF:-}" ] && [ -f "$repo/molecule/containers.conf" ]; then
  export CONTAINERS_CONF="$repo/molecule/containers.conf"
fi

if [ ! -x "$venv/bin/ansible-playbook" ]; then
  make -C "$repo" venv </dev/null
fi
if [ ! -e "$repo/build/collections/ansible_collections/llmcloud/factory_droid" ]; then
  make -C "$repo" collection </dev/null
fi

# matplotlib only for the plot, in its own venv so the development .venv stays as pinned.
bench_venv="$repo/.venv-bench"
stamp="$bench_venv/.installed"
if [ ! -f "$stamp" ] || [ "$repo/requirements/bench.txt" -nt "$stamp" ]; then
  echo "bench: installing requirements/bench.txt into .venv-bench" >&2
  python3 -m venv "$bench_venv"
  "$bench_venv/bin/pip" install --quiet --disable-pip-version-check -r "$repo/requirements/bench.txt"
  touch "$stamp"
fi

sections=${BENCH_SECTIONS:-hosts ssh containers module}
if [[ " $sections " == *" ssh "* && "${BENCH_SSH_HOSTS:-6}" != 0 ]] || [[ " $sections " == *" containers "* && "${BENCH_CONTAINERS:-3}" != 0 ]]; then
  "$repo/molecule/images.sh" bookworm bookworm-fleet
fi

mkdir -p "$here/output"
"$venv/bin/python" "$here/harness.py"
"$bench_venv/bin/python" "$here/plot.py" "$here/output/results.json" "$here/bench.png"
