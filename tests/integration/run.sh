#!/usr/bin/env bash
# make integration: the llmcloud.factory_droid.json_merge module through ansible-playbook.
#
# 1. The ansible-test style target tests/integration/targets/json_merge (check mode, diff, backup,
#    symlink, modes, owner, corrupt input, absent, prune, lock, JSONC comments, a 1.5 MiB file)
#    runs as a role through a small playbook, with output_dir in a sandbox.
# 2. A subset of the target on target Pythons 3.8 and 3.9 (macOS ships 3.9), each skipped when absent.
# 3. The leak check: targets/json_merge/playbooks/leak.yml runs at -vvv with --diff, first with
#    --check and then for real, with canary keys given as extra vars (a 0600 file). The whole
#    output is searched for the canaries and for a key that sat in the file before; the file, its
#    backups and the sandbox must not hold a canary where group or others can read it.
# Logs land in tests/output/integration/ (ignored by git).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
export PATH="$VENV/bin:$PATH"
export ANSIBLE_CONFIG="${ANSIBLE_CONFIG:-$ROOT/ansible.cfg}"
export ANSIBLE_COLLECTIONS_PATH="${ANSIBLE_COLLECTIONS_PATH:-$ROOT/build/collections}"
export ANSIBLE_ROLES_PATH="$ROOT/tests/integration/targets"
export ANSIBLE_FORCE_COLOR=false ANSIBLE_NOCOLOR=true ANSIBLE_RETRY_FILES_ENABLED=false
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false PY_COLORS=0

die() { printf 'integration: %s\n' "$*" >&2; exit 1; }
command -v ansible-playbook >/dev/null || die "ansible-playbook not found in $VENV/bin: run 'make venv' first"
command -v flock >/dev/null || die "flock (util-linux) is required by the lock checks"

link="$ROOT/build/collections/ansible_collections/llmcloud/factory_droid"
if [[ ! -e "$link/galaxy.yml" ]]; then
  mkdir -p "$(dirname "$link")"
  ln -sfn ../../../.. "$link"
fi

OUT="$ROOT/tests/output/integration"
rm -rf "$OUT"
mkdir -p "$OUT"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/json-merge-it.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
chmod 0755 "$WORK"
TARGET="$ROOT/tests/integration/targets/json_merge"
# the controller's own Python on localhost (discovery may find a broken shim, e.g. pyenv's)
PLAYBOOK=(ansible-playbook -i "localhost," -c local -e "ansible_python_interpreter={{ ansible_playbook_python }}")
start=$(date +%s)

# --- 1. the target --------------------------------------------------------------------------
echo "== json_merge target (log: $OUT/target.log)"
if ! "${PLAYBOOK[@]}" "$TARGET/playbooks/run_target.yml" -e "output_dir=$WORK/target" \
    </dev/null >"$OUT/target.log" 2>&1; then
  tail -n 60 "$OUT/target.log"
  die "the json_merge target failed"
fi
recap="$(grep -A1 '^PLAY RECAP' "$OUT/target.log" | tail -n 1)"
echo "   $recap"
[[ "$recap" =~ failed=0 ]] || die "the target reported failures"

# --- 2. older target Pythons ------------------------------------------------------------------
# macOS ships Python 3.9 and ansible-core still runs modules on 3.8: a subset of the target
# (check mode, JSONC, symlinks, the user option with its forked child) with each interpreter found
# (python3.X on PATH or under pyenv's versions folder); one that is absent is skipped, and said so.
find_python() {
  local version="$1" candidate
  for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/python "$(command -v "python$version" || true)"; do
    if [[ -n "$candidate" && -x "$candidate" ]] && "$candidate" -c 'import sys' 2>/dev/null; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}
for version in 3.8 3.9; do
  if ! interpreter="$(find_python "$version")"; then
    echo "== target Python $version: not installed here, skipped"
    continue
  fi
  log="$OUT/python$version.log"
  echo "== target Python $version ($interpreter; log: $log)"
  if ! ansible-playbook -i "localhost," -c local -e "ansible_python_interpreter=$interpreter" \
      "$TARGET/playbooks/interpreters.yml" -e "output_dir=$WORK/python$version" \
      -e "json_merge_expected_python=$version" </dev/null >"$log" 2>&1; then
    tail -n 60 "$log"
    die "the json_merge subset failed on Python $version"
  fi
  recap="$(grep -A1 '^PLAY RECAP' "$log" | tail -n 1)"
  echo "   $recap"
  [[ "$recap" =~ failed=0 ]] || die "the subset reported failures on Python $version"
done

# --- 3. the leak check ----------------------------------------------------------------------
echo "== leak check at -vvv with --diff (logs: $OUT/leak-check.log, $OUT/leak-real.log)"
canary="llmc-canary-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
rotated="llmc-canary-rotated-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
old_key="sk-users-own-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
home="$WORK/leak/home"
mkdir -p "$home/.factory"
chmod 0700 "$home/.factory"
file="$home/.factory/settings.json"
cat >"$file" <<JSON
{
  // the user's own model and key, and a model this collection used to manage
  "customModels": [
    {"model": "mine", "baseUrl": "https://example.invalid/v1", "provider": "openai", "apiKey": "$old_key"},
    {"model": "anthropic/claude-opus-4.5", "baseUrl": "https://llmcloud.studio", "provider": "anthropic", "apiKey": "$old_key"}
  ]
}
JSON
chmod 0600 "$file"
vars="$WORK/leak/vars.json"
(umask 077 && printf '{"json_merge_leak_file": "%s", "json_merge_canary": "%s", "json_merge_canary_rotated": "%s"}\n' \
  "$file" "$canary" "$rotated" >"$vars")
before="$(sha256sum "$file")"
"${PLAYBOOK[@]}" "$TARGET/playbooks/leak.yml" -e "@$vars" --check --diff -vvv \
  </dev/null >"$OUT/leak-check.log" 2>&1 || { tail -n 60 "$OUT/leak-check.log"; die "leak.yml failed in check mode"; }
[[ "$(sha256sum "$file")" == "$before" ]] || die "--check changed $file"
[[ -z "$(find "$home/.factory" -name 'settings.json.*~')" ]] || die "--check wrote a backup"
"${PLAYBOOK[@]}" "$TARGET/playbooks/leak.yml" -e "@$vars" --diff -vvv \
  </dev/null >"$OUT/leak-real.log" 2>&1 || { tail -n 60 "$OUT/leak-real.log"; die "leak.yml failed"; }

hits=0
for log in "$OUT/leak-check.log" "$OUT/leak-real.log"; do
  for needle in "$canary" "$rotated" "$old_key"; do
    count="$(grep -c -F -- "$needle" "$log" || true)"
    if (( count > 0 )); then
      echo "   LEAK: $count line(s) of $(basename "$log") hold a key: $(grep -n -F -- "$needle" "$log" | head -n 3 | cut -c1-160 | sed "s/$needle/<KEY>/g")"
      hits=$((hits + count))
    fi
  done
  grep -q -F -- '"apiKey": "********"' "$log" || die "$(basename "$log") shows no masked diff: did --diff run?"
  grep -q -F -- '+    {"model": "anthropic/claude-opus-4.6", "displayName": "Claude Opus 4.6", "provider": "anthropic"' "$log" \
    || die "$(basename "$log") lacks the diff line of the new model"
done
grep -q -F -- "$rotated" "$file" || die "the rotated key did not land in $file"
grep -q -F -- "$old_key" "$file" || die "the user's own key was lost from $file"
python3 - "$file" <<'PY' || die "the final file is not what leak.yml meant to write"
import json, re, sys
text = open(sys.argv[1]).read()
doc = json.loads(re.sub(r'^\s*//.*$', '', text, flags=re.M))
assert [m["model"] for m in doc["customModels"]] == ["mine", "anthropic/claude-opus-4.6"], doc
assert doc["sessionDefaultSettings"] == {"model": "custom:Claude-Opus-4.6-0"}
assert text.startswith("{\n  // the user's own model and key")
PY
readable="$(find "$WORK/leak" -type f -perm /044 -exec grep -l -F -e "$canary" -e "$rotated" -e "$old_key" {} + || true)"
[[ -z "$readable" ]] || die "files readable by group or others hold a key: $readable"
backups="$(find "$home/.factory" -name 'settings.json.*~' | wc -l)"
(( backups == 2 )) || die "expected 2 backups (first merge, rotation), found $backups"
[[ "$(stat -c %a "$file")" == 600 ]] || die "$file is not 0600"
grep -q 'changed=0.*failed=0' <(grep -A1 '^PLAY RECAP' "$OUT/leak-real.log" | tail -n 1) && die "the real leak run changed nothing"
(( hits == 0 )) || die "$hits output line(s) hold a key"
echo "   canary hits in ansible-playbook -vvv --diff output: 0 (check run and real run); backups: $backups, all 0600"

echo "integration: passed in $(( $(date +%s) - start )) s"
