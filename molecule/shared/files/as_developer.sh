#!/bin/sh
# Molecule test helper: run a command the way a developer would, as USER, with HOME set to their
# home from the passwd database and the home as working folder, with a time limit.
#   as_developer.sh [--key-from-stdin] USER COMMAND [ARGS...]
# --key-from-stdin reads one line from standard input and exports it as LLMCLOUD_API_KEY, so the
# key reaches the command without ever being on a command line or in Ansible's output.
set -eu
unset LLMCLOUD_API_KEY
if [ "${1:-}" = "--key-from-stdin" ]; then
  shift
  IFS= read -r LLMCLOUD_API_KEY || true
  [ -n "$LLMCLOUD_API_KEY" ] || { echo "as_developer.sh: no key on stdin" >&2; exit 2; }
  export LLMCLOUD_API_KEY
fi
user=$1
shift
home=$(getent passwd "$user" | cut -d: -f6)
[ -n "$home" ] || { echo "as_developer.sh: no such user: $user" >&2; exit 2; }
cd "$home"
exec runuser -u "$user" -- env HOME="$home" USER="$user" LOGNAME="$user" \
  timeout 120 "$@" </dev/null
