#!/bin/sh
# byok_state absent with byok_key_mode keychain: remove the LLMCloud key from the user's OS
# credential store. Run by the byok role as the user:
#   sh -c "<this script>" byok-keychain-remove ENTRY BACKEND check|remove
# Prints: state=<changed|unchanged>. No key is read, printed or passed anywhere.
set -u
entry=$1
backend=$2
action=$3
account=$(id -un)
store_dir=${PASSWORD_STORE_DIR:-$HOME/.password-store}
found=no
try() { # try BACKEND: is the entry in that store? (missing tools count as "not there")
  case $1 in
    pass)
      command -v pass >/dev/null 2>&1 && [ -f "$store_dir/.gpg-id" ] || return 1
      [ -f "$store_dir/$entry.gpg" ] ;;
    secret-tool)
      command -v secret-tool >/dev/null 2>&1 || return 1
      secret-tool lookup service "$entry" account "$account" >/dev/null 2>&1 ;;
    macos)
      command -v security >/dev/null 2>&1 || return 1
      security find-generic-password -a "$account" -s "$entry" >/dev/null 2>&1 ;;
  esac
}
remove() {
  case $1 in
    pass) pass rm -f "$entry" >/dev/null ;;
    secret-tool) secret-tool clear service "$entry" account "$account" ;;
    macos) security delete-generic-password -a "$account" -s "$entry" >/dev/null ;;
  esac
}
if [ "$backend" = auto ]; then
  if [ "$(uname -s)" = Darwin ]; then backends=macos; else backends="pass secret-tool"; fi
else
  backends=$backend
fi
for each in $backends; do
  if try "$each"; then
    found=yes
    if [ "$action" = remove ]; then
      remove "$each" || { echo "byok keychain: could not remove $entry from $each for $account" >&2; exit 3; }
    fi
  fi
done
if [ $found = yes ]; then echo "state=changed"; else echo "state=unchanged"; fi
