#!/usr/bin/env bash
# make doc-tests: the commands of README.md and docs/ that tests/docs runs as written (the
# ansible-pull command from a fresh clone as a new account, `make demo`, the module's examples,
# ...), then the coverage: which blocks are run, of how many (hacking/doc_blocks.py; every other
# block says in the docs why it cannot run here and what stands in for it).
#
#   tests/docs/run.sh [pytest arguments...]      e.g. tests/docs/run.sh -k pull
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
[[ -x "$VENV/bin/ansible-playbook" ]] || { echo "doc-tests: $VENV has no ansible-playbook; run 'make venv'" >&2; exit 1; }
export PATH="$VENV/bin:$PATH"
export NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
link="$ROOT/build/collections/ansible_collections/llmcloud/factory_droid"
[[ -e "$link" ]] || { mkdir -p "$(dirname "$link")" && ln -sfn ../../../.. "$link"; }

echo "== droid: $(hacking/install-droid.sh "${DROID_VERSION:-0.225.2}" </dev/null)"
echo "== pytest tests/docs"
status=0
python -m pytest tests/docs -p no:cacheprovider -q -rs --durations=5 "$@" </dev/null || status=$?
echo "== documented command blocks (hacking/doc_blocks.py)"
python hacking/doc_blocks.py --check || status=1
exit "$status"
