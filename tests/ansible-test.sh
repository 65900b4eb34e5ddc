#!/usr/bin/env bash
# make sanity: `ansible-test sanity` (every test) and `ansible-test units` on this collection,
# with the controller's Python 3.11, no --docker (no engine here) and no --venv.
#
# ansible-test only runs from a tree laid out as ansible_collections/<namespace>/<name>/ and
# resolves the working directory physically, so a symlink to the checkout is not enough.
# This script copies the files git knows about (tracked, plus untracked files that are not
# ignored) into build/ansible-test/ansible_collections/llmcloud/factory_droid and runs there.
# Results land in that copy's tests/output/ (under build/, ignored by git). The copy gets its own
# (empty) git repository so that ansible-test lists its files, not the checkout's.
#
# Each sanity test builds its own venv and bootstraps pip with a script that ansible-test would
# download from a host this network cannot reach; a small stand-in (hacking/
# get_pip_standin.py) is put where ansible-test looks for its cached copy. Packages then come
# from the package index named in the machine's pip configuration files.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

VENV="${VENV:-$ROOT/.venv}"
PYTHON_VERSION="${ANSIBLE_TEST_PYTHON:-3.11}"
export PATH="$VENV/bin:$PATH"
COPY_ROOT="$ROOT/build/ansible-test"
COPY="$COPY_ROOT/ansible_collections/llmcloud/factory_droid"

log() { printf '\n=== %s\n' "$*"; }
die() { printf 'ansible-test.sh: %s\n' "$*" >&2; exit 1; }

command -v ansible-test >/dev/null || die "ansible-test not found in $VENV/bin: run 'make venv' first"
command -v "python$PYTHON_VERSION" >/dev/null || die "python$PYTHON_VERSION not found on PATH"
command -v git >/dev/null || die "git is required to list the collection's files"
git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1 \
  || die "$ROOT is not a git checkout: ansible-test.sh copies the files git knows about"

# --- shellcheck: the sanity test of that name is skipped (with a warning) when it is missing --
ensure_shellcheck() {
  command -v shellcheck >/dev/null && return 0
  echo "installing shellcheck (Debian package) for the shellcheck sanity test"
  local sudo=()
  (( EUID == 0 )) || sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q shellcheck </dev/null \
    || { "${sudo[@]}" apt-get update -q </dev/null \
         && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q shellcheck </dev/null; } \
    || die "could not apt-get install shellcheck"
}

# --- the pip bootstrap stand-in, for every pip version this ansible-test may ask for -------
install_pip_standin() {
  local versions version cache target
  versions="$(python - <<'EOF'
import ansible_test._internal.python_requirements as pr
import inspect, re
source = inspect.getsource(pr.get_venv_packages)
print(' '.join(sorted(set(re.findall(r"pip='([0-9.]+)'", source)))))
EOF
)"
  [[ -n "$versions" ]] || die "could not find the pip version ansible-test bootstraps"
  cache="$HOME/.ansible/test/cache"
  mkdir -p "$cache"
  for version in $versions; do
    target="$cache/get_pip_${version//./_}.py"
    if [[ -e "$target" ]] && ! grep -q 'Offline stand-in for the pip bootstrap script' "$target"; then
      echo "keeping $target (not our stand-in: presumably the real get-pip)"
      continue
    fi
    install -m 0644 "$ROOT/hacking/get_pip_standin.py" "$target"
    echo "pip $version bootstrap stand-in: $target"
  done
}

# --- the ansible_collections/llmcloud/factory_droid copy ------------------------------------
make_copy() {
  local list
  list="$(mktemp)"
  # Tracked files that still exist, plus untracked files that .gitignore does not exclude.
  git -C "$ROOT" ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [[ -e "$f" || -L "$f" ]] && printf '%s\0' "$f"; done \
    | sort -zu >"$list"
  rm -rf "$COPY_ROOT"
  mkdir -p "$COPY"
  tar -C "$ROOT" --null --no-recursion -T "$list" -cf - | tar -C "$COPY" -xf -
  # ansible-test looks for a .git upwards from the collection root; without one of its own, the
  # copy would be judged by the checkout's .gitignore (which ignores build/) and look empty.
  git -C "$COPY" init --quiet
  echo "copied $(tr -cd '\0' <"$list" | wc -c) files to $COPY"
  rm -f "$list"
}

log "preparing $COPY"
ensure_shellcheck
install_pip_standin
make_copy
cd "$COPY"

status=0
start=$(date +%s)
log "ansible-test sanity --python $PYTHON_VERSION ($(ansible-test --version))"
if ! ansible-test sanity --python "$PYTHON_VERSION" --color no </dev/null; then
  status=1
  echo "ansible-test sanity FAILED (results: $COPY/tests/output/)" >&2
fi
sanity_end=$(date +%s)

log "ansible-test units --python $PYTHON_VERSION"
if [[ -d tests/unit ]] && find tests/unit -name 'test_*.py' -print -quit | grep -q .; then
  if ! ansible-test units --python "$PYTHON_VERSION" --color no </dev/null; then
    status=1
    echo "ansible-test units FAILED (results: $COPY/tests/output/)" >&2
  fi
else
  echo "ansible-test units: no tests/unit/**/test_*.py in the collection yet; nothing to run"
fi
end=$(date +%s)

log "ansible-test: sanity $((sanity_end - start)) s, units $((end - sanity_end)) s"
if (( status != 0 )); then
  echo "make sanity: FAILED" >&2
else
  echo "make sanity: passed"
fi
exit "$status"
