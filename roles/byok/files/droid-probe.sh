#!/bin/sh
# byok_scope system/both: which OS is this, and which droid clients are installed (version of each).
# Run by the byok role as   sh -c "<this script>" byok-probe CANDIDATE...
# A candidate is a command name looked up in PATH or a path; a leading ~/ means $HOME, a leading
# ~NAME/ that user's home (the shell's own tilde expansion: no getent, macOS has none).
# Prints: os=<uname -s>, then one line per client found: droid=<path> version=<first line of --version>
# POSIX sh and uname only (no GNU userland assumed: macOS runs this too).
echo "os=$(uname -s)"
for candidate in "$@"; do
  case $candidate in
    \~/*) candidate="$HOME/${candidate#\~/}" ;;
    \~*/*)
      name=${candidate%%/*}
      name=${name#\~}
      case $name in -*|*[!A-Za-z0-9._-]*) continue ;; esac   # a login name only: it goes through eval
      home=$(eval "printf '%s' ~$name")
      case $home in /*) candidate="$home/${candidate#*/}" ;; *) continue ;; esac ;;
  esac
  case $candidate in
    */*) path=$candidate ;;
    *) path=$(command -v "$candidate" 2>/dev/null) || continue ;;
  esac
  if [ ! -f "$path" ] || [ ! -x "$path" ]; then continue; fi
  # some versions leave inherited stdio non-blocking: give the client its own descriptors
  version=$("$path" --version </dev/null 2>/dev/null | head -n 1) || version=
  echo "droid=$path version=$version"
done
exit 0
