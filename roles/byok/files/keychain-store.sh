#!/bin/sh
# byok_key_mode keychain: store the LLMCloud key read from stdin in the user's OS credential
# store, never passing it on a command line. Run by the byok role as
#   sh -c "<this script>" byok-keychain ENTRY BACKEND check|store   (key on stdin)
# Prints: backend=<macos|pass|secret-tool> state=<changed|unchanged> bash_profile=<yes|no>
set -eu
entry=$1
backend=$2
action=$3
key=$(cat)
if [ -z "$key" ]; then
  echo "byok keychain: no key arrived on stdin" >&2
  exit 2
fi
account=$(id -un)
host=$(uname -n)
store_dir=${PASSWORD_STORE_DIR:-$HOME/.password-store}
if [ "$backend" = auto ]; then
  if [ "$(uname -s)" = Darwin ]; then
    backend=macos
  elif command -v pass >/dev/null 2>&1 && [ -f "$store_dir/.gpg-id" ]; then
    backend=pass
  elif command -v secret-tool >/dev/null 2>&1; then
    backend=secret-tool
  else
    echo "byok keychain: no OS credential store for $account on $host: install pass and run" \
      "'pass init <your gpg key id>' (or install secret-tool with a running Secret Service), set" \
      "byok_keychain_backend, or use byok_key_mode env" >&2
    exit 3
  fi
fi
case $backend in
  pass)
    command -v pass >/dev/null 2>&1 || {
      echo "byok keychain: pass is not installed for $account on $host: install it (package pass), or set" \
        "byok_keychain_backend to another store, or use byok_key_mode env" >&2
      exit 3
    }
    [ -f "$store_dir/.gpg-id" ] || {
      echo "byok keychain: the password store of $account on $host ($store_dir) is not initialised: run" \
        "'pass init <gpg key id>' as $account (create a key first with 'gpg --quick-gen-key' if there is none)" >&2
      exit 3
    }
    current=$(pass show "$entry" 2>/dev/null | head -n 1) || current=
    ;;
  secret-tool)
    command -v secret-tool >/dev/null 2>&1 || {
      echo "byok keychain: secret-tool is not installed for $account on $host: install it (package libsecret-tools)" \
        "with a running Secret Service, or set byok_keychain_backend to another store, or use byok_key_mode env" >&2
      exit 3
    }
    current=$(secret-tool lookup service "$entry" account "$account" 2>/dev/null) || current=
    ;;
  macos)
    current=$(security find-generic-password -a "$account" -s "$entry" -w 2>/dev/null) || current=
    ;;
  *)
    echo "byok keychain: unknown backend $backend" >&2
    exit 2
    ;;
esac
if [ -f "$HOME/.bash_profile" ]; then bash_profile=yes; else bash_profile=no; fi
if [ "$current" = "$key" ]; then
  echo "backend=$backend state=unchanged bash_profile=$bash_profile"
  exit 0
fi
if [ "$action" = store ]; then
  case $backend in
    pass)
      # printf is a shell builtin: the key goes down a pipe, not onto a command line
      printf '%s\n' "$key" | pass insert --multiline --force "$entry" >/dev/null || {
        echo "byok keychain: pass could not store $entry for $account on $host (see gpg's message above): check" \
          "that the key in $store_dir/.gpg-id exists and is trusted ('gpg --list-keys' as $account)" >&2
        exit 5
      }
      ;;
    secret-tool)
      printf '%s' "$key" | secret-tool store --label="LLMCloud API key (Factory Droid)" service "$entry" account "$account" || {
        echo "byok keychain: secret-tool could not store $entry for $account on $host: is a Secret Service running" \
          "and unlocked in $account's session?" >&2
        exit 5
      }
      ;;
    macos)
      # `security -i` reads its commands on stdin, so -w <key> never reaches a command line.
      case $key in
        *[!A-Za-z0-9._~+/=:-]*)
          echo "byok keychain: the key has characters security -i cannot quote safely" >&2
          exit 4
          ;;
      esac
      printf 'add-generic-password -U -a "%s" -s "%s" -l "LLMCloud API key (Factory Droid)" -w "%s"\n' \
        "$account" "$entry" "$key" | security -i >/dev/null || {
        echo "byok keychain: security could not store $entry in the login keychain of $account on $host: is it" \
          "unlocked (security unlock-keychain)?" >&2
        exit 5
      }
      ;;
  esac
fi
echo "backend=$backend state=changed bash_profile=$bash_profile"
