#!/usr/bin/env bash
# make test: run the suites one after another and print a timing table at the end.
#
#   hacking/run-suites.sh SUITE...      e.g. hacking/run-suites.sh lint units build-check
#
# Each suite is a make target (`make <suite>`, with the same variables as the calling make). A
# failing suite does not stop the others (FAIL_FAST=1 stops at the first failure); the table
# says how long each one took and whether it passed, and the exit status is non-zero when any
# failed. The table is also written to build/test-timings.txt.
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT" || exit 2
MAKE="${MAKE:-make}"
(($#)) || { echo "usage: $0 SUITE..." >&2; exit 2; }

names=() results=() seconds=()
failed=0
start_all=$(date +%s%N)
for suite in "$@"; do
  printf '\n######## make %s\n' "$suite"
  start=$(date +%s%N)
  if "$MAKE" --no-print-directory "$suite" </dev/null; then
    result=passed
  else
    result=FAILED
    failed=$((failed + 1))
  fi
  names+=("$suite") results+=("$result") seconds+=("$(( ($(date +%s%N) - start) / 1000000 ))")
  if [[ "$result" == FAILED && "${FAIL_FAST:-0}" == 1 ]]; then
    break
  fi
done
total=$(( ($(date +%s%N) - start_all) / 1000000 ))

table() {
  printf '%-16s %-7s %9s\n' suite result seconds
  for i in "${!names[@]}"; do
    printf '%-16s %-7s %9.1f\n' "${names[$i]}" "${results[$i]}" "$(awk "BEGIN { print ${seconds[$i]} / 1000 }")"
  done
  for suite in "$@"; do
    [[ " ${names[*]} " == *" $suite "* ]] || printf '%-16s %-7s %9s\n' "$suite" "not run" "-"
  done
  printf '%-16s %-7s %9.1f\n' total "" "$(awk "BEGIN { print $total / 1000 }")"
  printf 'load average at the end: %s; %s cores\n' "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')" "$(nproc 2>/dev/null || echo '?')"
}
mkdir -p build
printf '\n######## make test: timing\n'
table "$@" | tee build/test-timings.txt
if ((failed)); then
  echo "make test: $failed suite(s) FAILED" >&2
  exit 1
fi
echo "make test: all suites passed"
