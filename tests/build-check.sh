#!/usr/bin/env bash
# make build-check: the collection as users and platform teams receive it.
#
#   1. `ansible-galaxy collection build`: a small tarball without tests' caches, venvs,
#      Molecule files, benchmark output, build/ or .git (size bound, file list checked).
#   2. `ansible-galaxy collection install` of that tarball into a temporary path, offline.
#   3. `ansible-doc` renders the module, the role and every other plugin from the installed
#      tarball, without errors or warnings.
#   4. (Generated docs: docs/reference/*.md and the variables table of roles/byok/README.md
#      are checked by `make lint` (hacking/docs.py --check); --update here rewrites them.)
#   5. `antsibull-changelog lint`, and changelogs/changelog.yaml + CHANGELOG.rst are what
#      antsibull-changelog generates from the fragments and the collection's content.
#   6. execution-environment.yml: `ansible-builder create` (a build context only: no image,
#      no registry), and the context's galaxy requirements install offline.
#   7. ansible-core matrix: the oldest supported (2.16, from requirements/core-2.16.txt in
#      .venv-core216) and the newest here (.venv): install the tarball, render the docs and run
#      tests/support/smoke.yml (module and role on a sandbox home) with each, twice.
#   8. The fleet guide's examples (docs/fleet.md) as written: the ansible-pull command (both ansible-core
#      versions, twice), the systemd service and the launchd agent's command, against a git
#      snapshot of this checkout, offline, in sandbox homes; `systemd-analyze verify` of the units.
#
# `tests/build-check.sh --update` rewrites the generated files instead of checking them: the
# reference docs (make docs) and the changelog (after adding a fragment or a plugin).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

VENV="${VENV:-$ROOT/.venv}"
VENV_OLD="${VENV_OLD:-$ROOT/.venv-core216}"
PYTHON="${PYTHON:-python3}"
export PATH="$VENV/bin:$PATH"
export ANSIBLE_FORCE_COLOR=false ANSIBLE_NOCOLOR=true NO_COLOR=1 PY_COLORS=0
WORK="$ROOT/build/build-check"
DIST="$ROOT/build/galaxy"
# The bound catches stray build output, venvs or images (megabytes), not the growth of the sources
# and tests (0.1.0: 390 KB; 0.2.0: 400 KB after one formatter pass); the file list is checked too.
MAX_TARBALL_BYTES=$((512 * 1024))
ROLE="$ROOT/roles/byok"

MODE=check
case "${1:-}" in
  --update) MODE=update ;;
  "") ;;
  *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac

failures=()
timings=()
fail() { failures+=("$*"); printf 'FAIL: %s\n' "$*" >&2; }
die() { printf 'build-check.sh: %s\n' "$*" >&2; exit 1; }
step_start=0
step() { step_end; current_step="$1"; step_start=$(date +%s); printf '\n=== %s\n' "$1"; }
step_end() {
  if ((step_start)); then
    timings+=("$(printf '%4d s  %s' "$(($(date +%s) - step_start))" "$current_step")")
  fi
  step_start=0
}
current_step=""

# Offline proof: commands that must not need the network run in a namespace without one.
offline=()
if unshare --net true 2>/dev/null; then
  offline=(unshare --net --)
else
  echo "note: no network namespace available (needs root); offline steps run with the network present"
fi

for tool in ansible-galaxy ansible-doc ansible-playbook antsibull-changelog ansible-builder; do
  command -v "$tool" >/dev/null || die "$tool not found in $VENV/bin: run 'make venv' first"
done

yaml_get() { # yaml_get FILE EXPRESSION (Python, `d` is the document)
  python - "$1" "$2" <<'EOF'
import sys, yaml
with open(sys.argv[1], encoding='utf-8') as handle:
    d = yaml.safe_load(handle)
print(eval(sys.argv[2], {}, {'d': d}))
EOF
}

VERSION="$(yaml_get galaxy.yml "d['version']")"
NAMESPACE="$(yaml_get galaxy.yml "d['namespace']")"
NAME="$(yaml_get galaxy.yml "d['name']")"
FQCN="$NAMESPACE.$NAME"
TARBALL="$DIST/$NAMESPACE-$NAME-$VERSION.tar.gz"
REQUIRES="$(yaml_get meta/runtime.yml "d['requires_ansible']")"
MODULE_FILE="plugins/modules/json_merge.py"

rm -rf "$WORK"
mkdir -p "$WORK" "$DIST"
# An ansible.cfg-free environment: nothing from this checkout's ansible.cfg or collection link
# may leak into the checks of the installed tarball. Only ansible.builtin and the collection
# itself resolve (galaxy.yml declares no dependencies, so none may be needed).
: >"$WORK/empty.cfg"
clean_env() { # clean_env COLLECTIONS_PATH COMMAND...
  local path="$1"; shift
  (cd "$WORK" && env -u ANSIBLE_COLLECTIONS_PATHS ANSIBLE_CONFIG="$WORK/empty.cfg" \
    ANSIBLE_COLLECTIONS_PATH="$path" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false \
    ANSIBLE_LOCAL_TEMP="$WORK/tmp" "$@")
}

# ---------------------------------------------------------------------------------------------
step "metadata: $FQCN $VERSION, requires_ansible $REQUIRES"
oldest_pin="$(sed -n 's/^ansible-core==\([0-9.]*\).*/\1/p' requirements/core-2.16.txt)"
oldest_min="$(sed -n 's/^>=\([0-9]*\.[0-9]*\).*/\1/p' <<<"$REQUIRES")"
echo "oldest supported (meta/runtime.yml): $oldest_min; tested with ansible-core $oldest_pin (requirements/core-2.16.txt)"
[[ -n "$oldest_pin" && "${oldest_pin%.*}" == "$oldest_min" ]] \
  || fail "meta/runtime.yml requires_ansible '$REQUIRES' and requirements/core-2.16.txt (ansible-core==$oldest_pin) disagree on the oldest supported ansible-core"

# ---------------------------------------------------------------------------------------------
step "ansible-galaxy collection build"
rm -f "$TARBALL"
ansible-galaxy collection build --output-path "$DIST" --force </dev/null
[[ -f "$TARBALL" ]] || die "ansible-galaxy did not write $TARBALL"
tar -tzf "$TARBALL" | sed 's#^\./##; s#/$##' | sort >"$WORK/tarball-files.txt"
size=$(stat -c %s "$TARBALL")
files=$(grep -vc '^$' "$WORK/tarball-files.txt" || true)
printf 'tarball: %s\nsize: %d bytes (%d KiB), %d entries (bound %d KiB)\n' \
  "${TARBALL#"$ROOT"/}" "$size" $((size / 1024)) "$files" $((MAX_TARBALL_BYTES / 1024))
sed 's/^/  /' "$WORK/tarball-files.txt"
((size <= MAX_TARBALL_BYTES)) || fail "tarball is $size bytes, more than the bound of $MAX_TARBALL_BYTES: check build_ignore in galaxy.yml"
forbidden='(^|/)(\.git|\.venv[^/]*|\.cache|\.pytest_cache|\.ruff_cache|hacking|\.hypothesis|\.ansible|\.molecule|__pycache__|build|output|molecule|benchmarks|inventories|\.ci)(/|$)|\.pyc$|\.tar$|\.tar\.gz$|\.retry$|(^|/)requirements/|^Makefile$|\.plugin-cache\.yaml$'
if grep -E "$forbidden" "$WORK/tarball-files.txt" >"$WORK/forbidden.txt"; then
  fail "tarball holds files that must stay out (caches, venvs, Molecule, benchmarks, build output, VCS): $(tr '\n' ' ' <"$WORK/forbidden.txt")"
fi
for required in MANIFEST.json FILES.json README.md LICENSE CHANGELOG.rst meta/runtime.yml changelogs/changelog.yaml; do
  grep -qx "$required" "$WORK/tarball-files.txt" || fail "tarball lacks $required"
done
# Everything that makes the collection work must be inside: every file git knows under these.
while IFS= read -r -d '' f; do
  [[ -f "$f" ]] || continue
  case "$f" in *.pyc | */__pycache__/*) continue ;; esac
  grep -qxF "$f" "$WORK/tarball-files.txt" || fail "tarball lacks $f (check build_ignore)"
done < <(git ls-files -z --cached --others --exclude-standard -- plugins roles meta playbooks 2>/dev/null)

# ---------------------------------------------------------------------------------------------
install_and_doc() { # install_and_doc LABEL BIN_DIR
  local label="$1" bin="$2" dest="$WORK/install-$1"
  step "ansible-core $label: ansible-galaxy collection install (offline) and ansible-doc"
  "$bin/ansible-galaxy" --version </dev/null | sed -n 1p
  if ! clean_env "$dest" "${offline[@]}" "$bin/ansible-galaxy" collection install --offline \
      -p "$dest" "$TARBALL" </dev/null >"$WORK/install-$label.log" 2>&1; then
    cat "$WORK/install-$label.log"
    fail "ansible-core $label: ansible-galaxy collection install of $TARBALL failed"
    return 1
  fi
  cat "$WORK/install-$label.log"
  [[ -f "$dest/ansible_collections/$NAMESPACE/$NAME/MANIFEST.json" ]] \
    || { fail "ansible-core $label: installed collection has no MANIFEST.json"; return 1; }
  clean_env "$dest" "$bin/ansible-galaxy" collection list "$FQCN" </dev/null 2>&1 | grep -F "$FQCN" \
    || fail "ansible-core $label: ansible-galaxy collection list does not show $FQCN"

  # Every documented plugin and role of the collection: one metadata dump lists them (and fails
  # on a broken doc), then one ansible-doc call per type renders them as a user sees them.
  local kinds kind names
  if ! clean_env "$dest" "$bin/ansible-doc" --metadata-dump "$FQCN" </dev/null >"$WORK/metadata-$label.json" 2>"$WORK/doc.err"; then
    cat "$WORK/doc.err"
    fail "ansible-core $label: ansible-doc --metadata-dump $FQCN failed"
    return 1
  fi
  if [[ -s "$WORK/doc.err" ]]; then
    fail "ansible-core $label: ansible-doc --metadata-dump $FQCN printed: $(cat "$WORK/doc.err")"
  fi
  kinds="$(python - "$WORK/metadata-$label.json" "$FQCN." <<'EOF'
import json, sys
with open(sys.argv[1], encoding='utf-8') as handle:
    everything = json.load(handle)['all']
for kind, plugins in sorted(everything.items()):
    names = sorted(name for name in plugins if name.startswith(sys.argv[2]))
    if names:
        print(kind, ' '.join(names))
EOF
)"
  : >"$WORK/doc-$label.list"
  while read -r kind names; do
    [[ -n "$kind" ]] || continue
    # shellcheck disable=SC2086 # one argument per plugin name
    doc_check "$label" "$bin" "$dest" "$kind" $names
  done <<<"$kinds"
  if [[ -f "$MODULE_FILE" ]] && ! grep -q "^module $FQCN.json_merge\$" "$WORK/doc-$label.list"; then
    fail "ansible-core $label: ansible-doc does not list $FQCN.json_merge from the installed tarball"
  fi
  if [[ -d "$ROLE" ]] && ! grep -q "^role $FQCN.byok\$" "$WORK/doc-$label.list"; then
    fail "ansible-core $label: ansible-doc does not list the role $FQCN.byok from the installed tarball"
  fi
}

doc_check() { # doc_check LABEL BIN_DIR COLLECTIONS_PATH KIND NAME...
  local label="$1" bin="$2" dest="$3" kind="$4" text count section name
  shift 4
  count=$#
  for name in "$@"; do echo "$kind $name"; done >>"$WORK/doc-$label.list"
  if ! text="$(clean_env "$dest" "$bin/ansible-doc" -t "$kind" "$@" </dev/null 2>"$WORK/doc.err")"; then
    cat "$WORK/doc.err"
    fail "ansible-core $label: ansible-doc -t $kind $* failed"
    return
  fi
  if [[ -s "$WORK/doc.err" ]]; then
    fail "ansible-core $label: ansible-doc -t $kind $* printed on stderr: $(cat "$WORK/doc.err")"
  fi
  if grep -qiE 'UNDOCUMENTED|\[WARNING\]|\[ERROR\]|DEPRECATION' <<<"$text"; then
    fail "ansible-core $label: ansible-doc -t $kind output carries a warning or UNDOCUMENTED"
  fi
  case "$kind" in
    module)
      for section in 'OPTIONS' 'ATTRIBUTES' 'EXAMPLES' 'RETURN VALUES'; do
        [[ "$(grep -c "^$section" <<<"$text")" == "$count" ]] \
          || fail "ansible-core $label: not every module's ansible-doc has a $section section ($*)"
      done ;;
    role)
      # the byok role's entry point is named byok, not main (roles/byok/meta/argument_specs.yml says why)
      [[ "$(grep -c '^ENTRY POINT: \*\{0,1\}byok' <<<"$text")" == "$count" ]] \
        || fail "ansible-core $label: not every role documents its entry point ($*)"
      grep -qi '^options' <<<"$text" || fail "ansible-core $label: ansible-doc -t role $* documents no options" ;;
    *)
      [[ "$(grep -c '^EXAMPLES' <<<"$text")" == "$count" ]] \
        || fail "ansible-core $label: not every $kind plugin's ansible-doc has EXAMPLES ($*)" ;;
  esac
  printf '  ansible-doc -t %-6s %d documented, %d lines: %s\n' "$kind" "$count" "$(wc -l <<<"$text")" "$*"
  if [[ "$label" == "$NEWEST_LABEL" ]]; then
    printf '%s\n' "$text" >"$WORK/ansible-doc-$kind.txt"
  fi
}

smoke() { # smoke LABEL BIN_DIR
  local label="$1" bin="$2" dest="$WORK/install-$1" sandbox log run recap changed want unwanted
  step "ansible-core $label: smoke playbook (module and role from the installed tarball), twice"
  if [[ ! -f "$MODULE_FILE" || ! -f "$ROLE/tasks/main.yml" ]]; then
    printf '\n%s\n%s\n%s\n\n' \
      '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!' \
      "!!! SKIPPED: the smoke playbook needs $MODULE_FILE and ${ROLE#"$ROOT"/}/tasks/main.yml; not both exist yet" \
      '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!'
    skipped_smoke+=("$label")
    return 0
  fi
  sandbox="$(mktemp -d "$WORK/smoke-$label.XXXXXX")"
  for run in 1 2; do
    log="$WORK/smoke-$label-$run.log"
    if ! clean_env "$dest" "$bin/ansible-playbook" -i localhost, \
        -e "smoke_sandbox=$sandbox" -e "ansible_python_interpreter=$bin/python" \
        "$ROOT/tests/support/smoke.yml" </dev/null >"$log" 2>&1; then
      cat "$log"
      fail "ansible-core $label: tests/support/smoke.yml failed on run $run (log: ${log#"$ROOT"/})"
      return 0
    fi
    recap="$(grep -E '^localhost +:' "$log" || true)"
    printf 'run %d: %s\n' "$run" "$recap"
    changed="$(sed -n 's/.*changed=\([0-9]*\).*/\1/p' <<<"$recap")"
    if [[ "$run" == 1 && "${changed:-0}" == 0 ]]; then
      fail "ansible-core $label: the first smoke run changed nothing on a fresh sandbox"
    elif [[ "$run" == 2 && "${changed:-x}" != 0 ]]; then
      grep -E '^changed:' "$log" || true
      fail "ansible-core $label: the second smoke run is not idempotent ($recap)"
    fi
    if grep -qF 'smoke-key-not-a-secret' "$log"; then
      fail "ansible-core $label: the API key appears in the smoke playbook's output (${log#"$ROOT"/})"
    fi
    # the daily run's gate (roles/byok/tasks/main.yml): end_role from 2.18 on, the skipped include before
    if [[ "$(printf '%s\n2.18\n' "$label" | sort -V | head -n1)" == "2.18" ]]; then
      want='End the role on the daily run' unwanted='Run the steps this configuration needs'
    else
      want='Run the steps this configuration needs' unwanted='End the role on the daily run'
    fi
    if ! grep -qF "$want" "$log" || grep -qF "$unwanted" "$log"; then
      fail "ansible-core $label: the role's daily run did not take the gate for this ansible-core (expected a task '$want', and none '$unwanted')"
    fi
    if grep -E '\[(WARNING|DEPRECATION WARNING)\]' "$log" >"$WORK/smoke-$label.warnings"; then
      fail "ansible-core $label: the smoke playbook printed warnings: $(tr '\n' ' ' <"$WORK/smoke-$label.warnings")"
    fi
  done
}

ensure_old_core() {
  step "ansible-core oldest: $VENV_OLD from requirements/core-2.16.txt"
  local stamp="$VENV_OLD/.installed"
  if [[ ! -f "$stamp" || requirements/core-2.16.txt -nt "$stamp" || requirements/core-2.16-constraints.txt -nt "$stamp" ]]; then
    rm -rf "$VENV_OLD"
    "$PYTHON" -m venv "$VENV_OLD"
    "$VENV_OLD/bin/pip" install --quiet --disable-pip-version-check \
      -r requirements/core-2.16.txt -c requirements/core-2.16-constraints.txt </dev/null
    touch "$stamp"
  fi
  "$VENV_OLD/bin/ansible" --version </dev/null | sed -n 1p
}

NEWEST_LABEL="$(ansible --version </dev/null | sed -n '1s/.*core \([0-9.]*\).*/\1/p')"
skipped_smoke=()

install_and_doc "$NEWEST_LABEL" "$VENV/bin" || true
ensure_old_core
OLDEST_LABEL="$("$VENV_OLD/bin/ansible" --version </dev/null | sed -n '1s/.*core \([0-9.]*\).*/\1/p')"
install_and_doc "$OLDEST_LABEL" "$VENV_OLD/bin" || true
smoke "$NEWEST_LABEL" "$VENV/bin"
smoke "$OLDEST_LABEL" "$VENV_OLD/bin"

# ---------------------------------------------------------------------------------------------
step "generated docs ($MODE)"
if [[ "$MODE" == update ]]; then
  python hacking/docs.py --write || fail "hacking/docs.py --write failed"
else
  echo "checked by make lint (python hacking/docs.py --check)"
fi

# ---------------------------------------------------------------------------------------------
step "changelog: antsibull-changelog lint, changelog.yaml and CHANGELOG.rst up to date ($MODE)"
"${offline[@]}" antsibull-changelog lint </dev/null || fail "antsibull-changelog lint failed"
"${offline[@]}" antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml </dev/null \
  || fail "antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml failed"
# Regenerate in a copy laid out as a collection (antsibull-changelog asks ansible-doc about the
# plugins and roles it finds; they resolve from the copy).
CL_ROOT="$WORK/changelog"
CL="$CL_ROOT/ansible_collections/$NAMESPACE/$NAME"
mkdir -p "$CL"
git ls-files -z --cached --others --exclude-standard -- galaxy.yml meta plugins roles changelogs CHANGELOG.rst \
  | tar --null --no-recursion -T - -cf - 2>/dev/null | tar -C "$CL" -xf -
rm -f "$CL/changelogs/.plugin-cache.yaml"
released_date="$(yaml_get changelogs/changelog.yaml "((d.get('releases') or {}).get('$VERSION') or {}).get('release_date', '')")"
regenerated=1
(
  cd "$CL"
  export ANSIBLE_COLLECTIONS_PATH="$CL_ROOT" ANSIBLE_CONFIG="$WORK/empty.cfg" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
  if [[ -n "$released_date" ]]; then
    # The version in galaxy.yml is the release in changelog.yaml: fold in new fragments and
    # any module, plugin or role added since (version_added: $VERSION), keeping its date.
    "${offline[@]}" antsibull-changelog release --version "$VERSION" --update-existing \
      --reload-plugins --date "$released_date" </dev/null
  else
    # A version under development: its fragments stay unreleased; CHANGELOG.rst shows the past.
    "${offline[@]}" antsibull-changelog generate --reload-plugins </dev/null
  fi
) || { regenerated=0; fail "antsibull-changelog could not regenerate the changelog (see above)"; }
changed_files=()
for f in changelogs/changelog.yaml CHANGELOG.rst; do
  ((regenerated)) || break
  if ! cmp -s "$f" "$CL/$f"; then
    changed_files+=("$f")
    diff -u "$f" "$CL/$f" || true
  fi
done
if [[ -n "$released_date" ]] && ((regenerated)); then
  for f in changelogs/fragments/*; do
    [[ -e "$f" && ! -e "$CL/$f" ]] && changed_files+=("$f")
  done
fi
if ((${#changed_files[@]})); then
  if [[ "$MODE" == update ]]; then
    for f in "${changed_files[@]}"; do
      if [[ -e "$CL/$f" ]]; then cp "$CL/$f" "$f"; else rm -f "$f"; echo "released: $f"; fi
    done
    echo "changelog updated: ${changed_files[*]}"
  else
    fail "changelog is not up to date with the fragments and the collection's content (${changed_files[*]}); run: tests/build-check.sh --update"
  fi
elif ((regenerated)); then
  echo "changelogs/changelog.yaml and CHANGELOG.rst are up to date for $VERSION"
fi

# ---------------------------------------------------------------------------------------------
step "execution environment: ansible-builder create (build context only)"
EE_CONTEXT="$ROOT/build/ee"
rm -rf "$EE_CONTEXT"
ee_tarball="$(yaml_get execution-environment.yml "[f['src'] for f in d.get('additional_build_files', []) if f['src'].endswith('.tar.gz')][0]")"
[[ "$ee_tarball" == "${TARBALL#"$ROOT"/}" ]] \
  || fail "execution-environment.yml copies $ee_tarball, but this build is ${TARBALL#"$ROOT"/} (galaxy.yml version $VERSION): update execution-environment.yml"
if "${offline[@]}" ansible-builder create --file execution-environment.yml --context "$EE_CONTEXT" \
    --output-filename Containerfile -v2 </dev/null >"$WORK/ansible-builder.log" 2>&1; then
  tail -n 1 "$WORK/ansible-builder.log"
else
  cat "$WORK/ansible-builder.log"
  fail "ansible-builder create failed"
fi
if grep -qi 'warning' "$WORK/ansible-builder.log"; then
  fail "ansible-builder create warned: $(grep -i warning "$WORK/ansible-builder.log" | tr '\n' ' ')"
fi
grep -q '^ARG EE_BASE_IMAGE=' "$EE_CONTEXT/Containerfile" 2>/dev/null \
  || fail "the generated Containerfile has no EE_BASE_IMAGE build argument"
ee_base="$(sed -n 's/^ARG EE_BASE_IMAGE="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$EE_CONTEXT/Containerfile" 2>/dev/null)"
echo "base image placeholder: $ee_base (override: --build-arg EE_BASE_IMAGE=...)"
[[ "${ee_base%%/*}" == "$ee_base" || ! "${ee_base%%/*}" =~ [.:] ]] \
  || fail "execution-environment.yml names a registry host in its base image ($ee_base); keep a placeholder"
# What the image's galaxy stage does (in /build, a copy of _build): install the requirements.
if [[ -f "$EE_CONTEXT/_build/requirements.yml" ]]; then
  # Collections other than ours come from a Galaxy server at image build time. Offline, they
  # must already be present at the version named: take them from the pinned `ansible` package.
  for other in $(yaml_get "$EE_CONTEXT/_build/requirements.yml" \
      "' '.join(c['name'] for c in d['collections'] if c.get('type') != 'file')"); do
    other_src="$VENV/lib/python$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')/site-packages/ansible_collections/${other//.//}"
    if [[ -f "$other_src/MANIFEST.json" ]]; then
      mkdir -p "$WORK/ee-collections/ansible_collections/${other%%.*}"
      cp -a "$other_src" "$WORK/ee-collections/ansible_collections/${other//.//}"
    else
      fail "execution-environment.yml requires $other, which the pinned ansible package does not carry"
    fi
  done
  if (cd "$EE_CONTEXT/_build" && env ANSIBLE_CONFIG="$WORK/empty.cfg" ANSIBLE_GALAXY_DISABLE_GPG_VERIFY=1 \
      ANSIBLE_COLLECTIONS_PATH="$WORK/ee-collections" \
      "${offline[@]}" ansible-galaxy collection install --offline -r requirements.yml \
      --collections-path "$WORK/ee-collections" </dev/null); then
    [[ -f "$WORK/ee-collections/ansible_collections/$NAMESPACE/$NAME/MANIFEST.json" ]] \
      || fail "the execution environment's galaxy requirements did not install $FQCN"
  else
    fail "the execution environment's galaxy requirements do not install offline from the build context"
  fi
else
  fail "ansible-builder create wrote no _build/requirements.yml"
fi
step_end

# ---------------------------------------------------------------------------------------------
# The fleet guide's examples (docs/fleet.md), run as documented against a snapshot of this
# checkout (a local git repository stands in for the URL), offline, in sandbox homes.
FLEET="$WORK/fleet"
REPO_URL="$(yaml_get galaxy.yml "d['repository']").git"

fleet_prepare() {
  step "fleet: docs/fleet.md examples (ansible-pull, systemd units, launchd agent)"
  python hacking/doc_examples.py docs/fleet.md "$FLEET/examples" \
    || { fail "docs/fleet.md examples are missing or malformed (see above)"; return 1; }
  mkdir -p "$FLEET/src"
  git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - 2>/dev/null | tar -C "$FLEET/src" -xf -
  git -C "$FLEET/src" init --quiet -b main
  git -C "$FLEET/src" add -A
  git -C "$FLEET/src" -c user.name=build-check -c user.email=build-check@localhost commit --quiet -m snapshot
  git clone --quiet --bare "$FLEET/src" "$FLEET/repo.git"
  local script
  for script in ansible-pull.sh systemd-service.sh launchd-agent.sh; do
    grep -qF "$REPO_URL" "$FLEET/examples/$script" \
      || fail "docs/fleet.md: the $script example does not pull $REPO_URL (galaxy.yml repository)"
    sed "s#$REPO_URL#file://$FLEET/repo.git#g" "$FLEET/examples/$script" >"$FLEET/$script"
  done
  if command -v systemd-analyze >/dev/null; then
    local unit_home="$FLEET/systemd-home"
    mkdir -p "$unit_home/.local/bin" "$unit_home/run"
    chmod 0700 "$unit_home/run"
    ln -s "$VENV/bin/ansible-pull" "$unit_home/.local/bin/ansible-pull"
    if (cd "$FLEET/examples" && HOME="$unit_home" XDG_RUNTIME_DIR="$unit_home/run" \
        systemd-analyze --user verify ./llmcloud-droid-onboard.service ./llmcloud-droid-onboard.timer </dev/null); then
      echo "systemd-analyze --user verify: the service and timer units are valid"
    else
      fail "systemd-analyze --user verify rejects the systemd units of docs/fleet.md"
    fi
  else
    echo "!!! systemd-analyze is not installed: the systemd units of docs/fleet.md were parsed but not verified by systemd"
  fi
}

fleet_run() { # fleet_run LABEL BIN_DIR SCRIPT RUNS
  local label="$1" bin="$2" script="$3" runs="$4" home run log recap changed settings
  home="$(mktemp -d "$FLEET/home-$label-${script%.sh}.XXXXXX")"
  mkdir -p "$home/.local/bin" "$home/Library/Logs"
  for tool in ansible ansible-playbook ansible-pull; do ln -s "$bin/$tool" "$home/.local/bin/$tool"; done
  for ((run = 1; run <= runs; run++)); do
    log="$home.run$run.log"
    if ! env -i HOME="$home" PATH="$home/.local/bin:/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 \
        "${offline[@]}" /bin/sh "$FLEET/$script" </dev/null >"$log" 2>&1; then
      { cat "$log"; cat "$home/Library/Logs/llmcloud-droid-onboard.log" 2>/dev/null || true; } | tail -n 40
      fail "ansible-core $label: the $script example of docs/fleet.md failed (run $run, log ${log#"$ROOT"/})"
      return 0
    fi
    [[ "$script" == launchd-agent.sh ]] && cp "$home/Library/Logs/llmcloud-droid-onboard.log" "$log"
    recap="$(grep -E '^localhost +:' "$log" | tail -n 1 || true)"
    printf 'ansible-core %s, %s, run %d: %s\n' "$label" "$script" "$run" "${recap:-no recap}"
    changed="$(sed -n 's/.*changed=\([0-9]*\).*/\1/p' <<<"$recap")"
    if [[ -z "$recap" ]] || grep -qE 'failed=[1-9]|unreachable=[1-9]' <<<"$recap"; then
      fail "ansible-core $label: $script run $run did not complete the play ($recap)"
    elif ((run == 1)) && [[ "$changed" == 0 ]]; then
      fail "ansible-core $label: $script run 1 changed nothing in a fresh home"
    elif ((run > 1)) && [[ "$changed" != 0 ]]; then
      fail "ansible-core $label: $script run $run is not idempotent ($recap)"
    fi
  done
  settings="$home/.factory/settings.json"
  if [[ ! -f "$settings" ]]; then
    fail "ansible-core $label: $script left no ~/.factory/settings.json"
  elif [[ "$(stat -c %a "$settings")" != 600 ]] \
      || [[ "$(python -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["customModels"]), sorted({m["apiKey"] for m in d["customModels"]}))' "$settings")" \
            != "8 ['\${LLMCLOUD_API_KEY}']" ]]; then
    fail "ansible-core $label: $script wrote an unexpected settings.json (mode $(stat -c %a "$settings"))"
  fi
}

if [[ ! -f "$MODULE_FILE" || ! -f "$ROLE/tasks/main.yml" ]]; then
  step "fleet: docs/fleet.md examples"
  echo "!!! SKIPPED: the fleet examples need $MODULE_FILE and ${ROLE#"$ROOT"/}/tasks/main.yml; not both exist yet"
  skipped_smoke+=("fleet examples")
elif fleet_prepare; then
  fleet_run "$NEWEST_LABEL" "$VENV/bin" ansible-pull.sh 2
  fleet_run "$OLDEST_LABEL" "$VENV_OLD/bin" ansible-pull.sh 2
  fleet_run "$NEWEST_LABEL" "$VENV/bin" systemd-service.sh 1
  fleet_run "$NEWEST_LABEL" "$VENV/bin" launchd-agent.sh 1
fi
step_end

# ---------------------------------------------------------------------------------------------
printf '\n=== build-check summary\n'
printf '%s\n' "${timings[@]}"
printf 'tarball: %s, %d bytes, %d entries\n' "${TARBALL#"$ROOT"/}" "$size" "$files"
printf 'ansible-core tested: %s (newest here) and %s (oldest supported, %s)\n' "$NEWEST_LABEL" "$OLDEST_LABEL" "$REQUIRES"
if ((${#skipped_smoke[@]})); then
  printf '!!! SKIPPED (module or role files missing): %s\n' "${skipped_smoke[*]}"
fi
if ((${#failures[@]})); then
  printf '\nmake build-check: FAILED (%d problems)\n' "${#failures[@]}" >&2
  printf '  - %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "make build-check: passed"
