#!/usr/bin/env bash
# make demo: the main job on a sandbox home, with the demo vault (no real key involved).
#
# Runs playbooks/onboard.yml with inventories/demo (vault id "demo", whose password file ships
# beside it and guards only a fake key) into build/demo-home/, a sandbox home inside the
# checkout (build/ is ignored by git). The first time, the sandbox gets a settings.json of the
# kind a developer already has (comments, an own model, other settings) so the demo shows them
# surviving. Then it runs the playbook again to show that the second run changes nothing, prints
# the resulting settings.json with the key masked and, judged by the real droid client (installed
# into the cache when missing), the custom models droid lists from that sandbox home, its default
# and where the default request goes (hacking/demo_droid.py: a loopback stand-in for LLMCloud
# receives it, so no real key or network is needed).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
export PATH="$VENV/bin:$PATH"
export ANSIBLE_CONFIG="${ANSIBLE_CONFIG:-$ROOT/ansible.cfg}"
export ANSIBLE_COLLECTIONS_PATH="${ANSIBLE_COLLECTIONS_PATH:-$ROOT/build/collections}"
export ANSIBLE_FORCE_COLOR=false ANSIBLE_NOCOLOR=true
DROID_VERSION="${DROID_VERSION:-0.225.2}"

command -v ansible-playbook >/dev/null || { echo "demo.sh: ansible-playbook not found: run 'make demo'" >&2; exit 1; }
link="$ROOT/build/collections/ansible_collections/llmcloud/factory_droid"
[[ -e "$link" ]] || { mkdir -p "$(dirname "$link")" && ln -sfn ../../../.. "$link"; }

INVENTORY=inventories/demo/hosts.yml
VAULT_ID="demo@inventories/demo/vault-password.DEMO-ONLY.txt"
SANDBOX="$ROOT/build/demo-home"
SETTINGS="$SANDBOX/.factory/settings.json"
LOGS="$ROOT/build/demo-logs"
mkdir -p "$LOGS"

if [[ ! -e "$SETTINGS" ]]; then
  echo "== seeding $SETTINGS with a developer's own settings (comments, an own model)"
  mkdir -p "$SANDBOX/.factory" && chmod 0700 "$SANDBOX/.factory"
  cat > "$SETTINGS" <<'JSONC'
{
  // my own settings, written by hand: they must survive onboarding
  "theme": "dark",
  /* a model I run myself */
  "customModels": [
    {
      "model": "qwen2.5-coder:7b",
      "displayName": "My local Qwen",
      "baseUrl": "http://localhost:11434/v1",
      "apiKey": "not-needed",
      "provider": "generic-chat-completion-api"
    }
  ]
}
JSONC
  chmod 0600 "$SETTINGS"
fi

run() { # run NAME: one ansible-playbook run, its recap printed, its log kept
  local name=$1 start end
  start=$(date +%s.%N)
  if ! ansible-playbook -i "$INVENTORY" --vault-id "$VAULT_ID" playbooks/onboard.yml \
      </dev/null >"$LOGS/$name.log" 2>&1; then
    cat "$LOGS/$name.log"; echo "demo.sh: the $name run failed" >&2; exit 1
  fi
  end=$(date +%s.%N)
  echo "== $name run ($(python3 -c "print(f'{$end - $start:.2f}')") s): recap"
  sed -n '/PLAY RECAP/,$p' "$LOGS/$name.log"
}

run first
run second
if ! grep -Eq 'changed=0 +unreachable=0 +failed=0' "$LOGS/second.log"; then
  echo "demo.sh: the second run changed something; it must report changed=0" >&2; exit 1
fi

echo "== $SETTINGS ($(stat -c '%a' "$SETTINGS"), folder $(stat -c '%a' "$SANDBOX/.factory")), key masked:"
python3 - "$SETTINGS" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
print(re.sub(r'("(?:apiKey|api_key)"\s*:\s*")([^"$][^"]*)(")', r"\1********\3", text))
PY

# The judge is the client: the pinned droid (installed from npm into the cache when missing, as
# the tests do), asked what it lists for the sandbox home and where its default request goes.
echo "== droid $DROID_VERSION (hacking/install-droid.sh: from the cache, or npm when missing)"
droid="$(hacking/install-droid.sh "$DROID_VERSION" </dev/null | tail -n 1)"
echo "== what droid composes from the sandbox home (ids and names, no key)"
python3 hacking/demo_droid.py "$droid" "$SANDBOX" </dev/null
