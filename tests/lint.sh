#!/usr/bin/env bash
# make lint: yamllint, `ansible-lint --profile production`, ruff and the generated docs, on the
# whole repository.
#
# Configuration: .yamllint, .ansible-lint and pyproject.toml (ruff) at the top (every exclusion
# there carries its reason). The linters run without network access: inside a network namespace
# of their own when the machine allows it (`unshare --net`, as root), which proves ansible-lint
# neither installs requirements from Galaxy nor checks for updates.
#
# Files encrypted whole with ansible-vault are found by content ($ANSIBLE_VAULT header).
# yamllint accepts them as they are (.yamllint). ansible-lint decrypts them with the
# repository's fixture vault passwords, or excludes those that none of them opens. (A plain
# `ansible-lint` at the top passes too: ansible.cfg gives it the Molecule fixture's password.)
#
# Generated docs: `hacking/docs.py --check` fails when docs/reference/*.md or the variables
# table of roles/byok/README.md differ from what their sources generate (`make docs` rewrites
# them), or when the sources disagree (defaults/main.yml and argument_specs, key modes).
#
# antsibull-docs: `antsibull-docs lint-collection-docs --plugin-docs`, the docs linter community
# collections run in CI (Galaxy and the docsites render the same markup): schema and markup of every
# plugin's and role's documentation (e.g. M() only for modules, P(fqcn#type) for other plugins). It
# runs from the ansible_collections/llmcloud/factory_droid tree under build/collections.
#
# Documented commands: `hacking/doc_blocks.py --check` fails when a fenced block of README.md or
# docs/ is neither run by a test that takes it by its ID (tests/docs, tests/build-check.sh) nor
# marked, visibly, as not run here with the reason and what stands in; it prints the coverage.
#
# ruff: `ruff check` (pycodestyle, pyflakes, import order, bugbear; pyproject.toml) and
# `ruff format --check` (run `ruff format .` to fix what it reports).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

VENV="${VENV:-$ROOT/.venv}"
export PATH="$VENV/bin:$PATH"
export ANSIBLE_CONFIG="${ANSIBLE_CONFIG:-$ROOT/ansible.cfg}"
export ANSIBLE_COLLECTIONS_PATH="${ANSIBLE_COLLECTIONS_PATH:-$ROOT/build/collections}"
# Integration targets are roles, found the way ansible-test finds them (tests/integration/targets).
export ANSIBLE_ROLES_PATH="$ROOT/roles:$ROOT/tests/integration/targets"
export NO_COLOR=1 PY_COLORS=0 ANSIBLE_FORCE_COLOR=false

die() { printf 'lint.sh: %s\n' "$*" >&2; exit 1; }

for tool in yamllint ansible-lint ruff antsibull-docs; do
  command -v "$tool" >/dev/null || die "$tool not found in $VENV/bin: run 'make venv' first"
done

# llmcloud.factory_droid must resolve by its FQCN (what `make collection` sets up).
link="$ROOT/build/collections/ansible_collections/llmcloud/factory_droid"
if [[ ! -e "$link/galaxy.yml" ]]; then
  mkdir -p "$(dirname "$link")"
  ln -sfn ../../../.. "$link"
fi

# Run offline when the kernel lets us: a private network namespace has only a loopback.
offline=()
if unshare --net true 2>/dev/null; then
  offline=(unshare --net --)
else
  echo "note: cannot create a network namespace here (needs root); linting with the network present"
fi

# Vault-encrypted files and the committed demo/test vault passwords among the files git knows.
# Playbooks that load an encrypted vars file need its password even for a syntax check, so the
# repository's own fixture passwords (files named *vault-pass*/*vault_pass*) become vault ids.
# A file none of them opens is excluded from ansible-lint (a linter cannot read ciphertext).
vault_files=()
password_files=()
while IFS= read -r -d '' f; do
  [[ -f "$f" ]] || continue
  case "${f##*/}" in
    *vault-pass* | *vault_pass* | *VAULT-PASS* | *VAULT_PASS*) password_files+=("$f") ;;
  esac
  if [[ "$(head -c 14 -- "$f" | tr -d '\0')" == "\$ANSIBLE_VAULT" ]]; then
    vault_files+=("$f")
  fi
done < <(git ls-files -z --cached --others --exclude-standard 2>/dev/null || true)

if ((${#password_files[@]})) && [[ -z "${ANSIBLE_VAULT_IDENTITY_LIST:-}" && -z "${ANSIBLE_VAULT_PASSWORD_FILE:-}" ]]; then
  ids=()
  for i in "${!password_files[@]}"; do ids+=("lint$i@$ROOT/${password_files[$i]}"); done
  ANSIBLE_VAULT_IDENTITY_LIST="$(IFS=,; echo "${ids[*]}")"
  export ANSIBLE_VAULT_IDENTITY_LIST
  printf 'fixture vault passwords: %s\n' "${password_files[*]}"
fi

exclude=()
for f in "${vault_files[@]}"; do
  if ansible-vault view -- "$f" </dev/null >/dev/null 2>&1; then
    printf 'vault-encrypted, linted after decryption: %s\n' "$f"
  else
    printf 'vault-encrypted, no fixture password opens it, excluded from ansible-lint: %s\n' "$f"
    exclude+=(--exclude "$f")
  fi
done

status=0
start=$(date +%s)

printf '\n=== yamllint --strict . (%s)\n' "$(yamllint --version)"
if "${offline[@]}" yamllint --strict --format parsable . </dev/null; then
  echo "yamllint: passed"
else
  status=1
  echo "yamllint: FAILED" >&2
fi
yamllint_end=$(date +%s)

printf '\n=== ansible-lint --profile production (%s)\n' "$(ansible-lint --offline --nocolor --version 2>/dev/null | head -n 1)"
if "${offline[@]}" ansible-lint --profile production --offline --nocolor "${exclude[@]}" </dev/null; then
  echo "ansible-lint: passed"
else
  status=1
  echo "ansible-lint: FAILED" >&2
fi
end=$(date +%s)


printf '\n=== ruff check (%s)\n' "$(ruff --version)"
if "${offline[@]}" ruff check --no-cache --output-format concise . </dev/null; then
  echo "ruff check: passed"
else
  status=1
  echo "ruff check: FAILED" >&2
fi
printf '\n=== ruff format --check\n'
if "${offline[@]}" ruff format --no-cache --check . </dev/null; then
  echo "ruff format: passed"
else
  status=1
  echo "ruff format: FAILED (run: ruff format .)" >&2
fi

printf '\n=== antsibull-docs lint-collection-docs --plugin-docs (%s)\n' "$(antsibull-docs --version 2>/dev/null | head -n 1)"
# Only this collection and ansible.builtin are needed: no scan of the venv's other collections.
if (cd "$link" && env ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false ANSIBLE_COLLECTIONS_PATH="$ROOT/build/collections" \
    "${offline[@]}" antsibull-docs lint-collection-docs --plugin-docs . </dev/null); then
  echo "antsibull-docs: passed"
else
  status=1
  echo "antsibull-docs: FAILED" >&2
fi
antsibull_end=$(date +%s)

printf '\n=== documented command blocks: python hacking/doc_blocks.py --check\n'
if python hacking/doc_blocks.py --check </dev/null; then
  echo "documented command blocks: each is run by a test or says why not"
else
  status=1
  echo "documented command blocks: FAILED (mark each block; see hacking/doc_blocks.py)" >&2
fi

printf '\n=== generated docs: python hacking/docs.py --check\n'
if "${offline[@]}" python hacking/docs.py --check </dev/null; then
  echo "generated docs: up to date"
else
  status=1
  echo "generated docs: FAILED (run: make docs)" >&2
fi
docs_end=$(date +%s)

printf '\n=== lint: yamllint %d s, ansible-lint %d s, ruff and antsibull-docs %d s, generated docs %d s\n' \
  "$((yamllint_end - start))" "$((end - yamllint_end))" "$((antsibull_end - end))" "$((docs_end - antsibull_end))"
if ((status)); then
  echo "make lint: FAILED" >&2
else
  echo "make lint: passed"
fi
exit "$status"
