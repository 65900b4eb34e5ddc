#!/bin/sh
# byok_scope system/both: which OS is this, and which droid clients are installed (version of each).
# Run by the byok role as   sh -c "<droid-trust.sh><this script>" byok-probe SECONDS LABEL CANDIDATE...
# once as the user Ansible works as (root on a fleet run) for byok_droid_paths, and once as each
# listed developer (become) for their own ~/.local/bin/droid.
# A candidate is a command name looked up in PATH or a path; a leading ~/ means $HOME, a leading
# ~NAME/ that user's home (the shell's own tilde expansion: no getent, macOS has none).
#
# A program is run only when its whole path is trusted (OpenSSH's StrictModes, sudo's secure_path):
# every folder from / down to it, every link on the way (followed one hop at a time) and the program
# itself belong to root or to the user running this, and none is writable by group or others. A
# program anyone else could change or swap is not run, and the line says so. Each run is bounded by
# SECONDS (killed after; macOS has no timeout(1)), with no stdin and its output in a file.
# Prints: os=<uname -s>, then one line per client found:
#   droid=<resolved path> version=<first line of --version> [as=<LABEL>]
#   untrusted=<path> owner=<uid> at=<the first component on the way that is not trusted>
# POSIX sh, ls -ldn, readlink, mktemp and uname only (no GNU userland assumed: macOS runs this too).
seconds=$1
label=$2
shift 2
echo "os=$(uname -s)"
# run_bounded PROGRAM ARGS...: the first line of its output; the program is killed after $seconds
run_bounded() {
  out=$(mktemp) || return 1
  "$@" </dev/null >"$out" 2>/dev/null &
  pid=$!
  (sleep "$seconds"; kill -9 "$pid") >/dev/null 2>&1 &
  watch=$!
  wait "$pid" 2>/dev/null
  kill "$watch" 2>/dev/null
  head -n 1 "$out" | cut -c 1-200
  rm -f "$out"
}

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
  case $path in /*) ;; *) continue ;; esac
  if [ ! -f "$path" ] || [ ! -x "$path" ]; then continue; fi
  verdict=$(secure "$path")
  case $verdict in
    ok\ *) real=${verdict#ok } ;;
    *)
      verdict=${verdict#no }
      echo "untrusted=$path owner=${verdict%% *} at=${verdict#* }"
      continue ;;
  esac
  version=$(run_bounded "$real" --version)
  echo "droid=$real version=$version${label:+ as=$label}"
done
exit 0
