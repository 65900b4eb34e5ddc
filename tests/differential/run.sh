#!/usr/bin/env bash
# make differential: json_merge's JSONC reader and writer against the real droid client.
#
#   tests/differential/run.sh [run.py arguments...]      e.g. --count 400 --seed 7 -v
#
# Generates DIFFERENTIAL_COUNT (200) settings files with hypothesis (seed DIFFERENTIAL_SEED, 12),
# adds the corpus in tests/differential/corpus, asks droid (DROID_VERSION, 0.225.2) which ones it
# loads (about 40 files per client call; verdicts cached by content under
# $LLMCLOUD_CACHE_DIR/differential/), and checks that json_merge merges exactly into those, that
# droid loads what it writes, and that it refuses the others with line, column and the fix.
# Prints "inputs compared: N, disagreements: D"; fails when D > 0. Without droid on the machine
# (DIFFERENTIAL_NO_DROID=1) only the corpus runs, against its recorded verdicts.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
export DROID_VERSION="${DROID_VERSION:-0.225.2}"
export LLMCLOUD_CACHE_DIR="${LLMCLOUD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/llmcloud-factory-droid}"
link="$ROOT/build/collections/ansible_collections/llmcloud/factory_droid"
[[ -e "$link" ]] || { mkdir -p "$(dirname "$link")" && ln -sfn ../../../.. "$link"; }

if [[ "${DIFFERENTIAL_NO_DROID:-0}" == 1 ]]; then
  exec "$VENV/bin/python" tests/differential/run.py --corpus-only "$@"
fi
droid="$(hacking/install-droid.sh "$DROID_VERSION" | tail -n 1)"
# bounded: the generator stops after 60 s, the whole run after 5 minutes
exec timeout 300 "$VENV/bin/python" tests/differential/run.py --droid "$droid" --version "$DROID_VERSION" "$@"
