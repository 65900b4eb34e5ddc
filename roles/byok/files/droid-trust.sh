# shellcheck shell=sh
# The byok role's trust rule for programs, prepended to droid-probe.sh and droid-check.sh (the task
# passes both as one sh -c script). As OpenSSH's StrictModes and sudo's secure_path: a program is run
# only when every folder from / down to it, every link on the way (followed one hop at a time) and the
# program itself belong to root or to the user running this, and none of them is writable by group or
# others (symlinks: owner only). Anything another user could change or swap is never run.
# POSIX sh, ls -ldn and readlink only (macOS and Linux).
set -f  # the fields of ls are split below: no pathname expansion
me=$(id -u)

# trusted PATH: owned by root or by me, not writable by group or others (links: owner only)
trusted() {
  # shellcheck disable=SC2046  # the fields of ls -ldn, split on purpose
  set -- $(ls -ldn -- "$1" 2>/dev/null)
  [ $# -ge 3 ] || return 1
  [ "$3" = 0 ] || [ "$3" = "$me" ] || return 1
  case $1 in
    l*) return 0 ;;
    ?????w* | ????????w*) return 1 ;;
  esac
  return 0
}

# secure PATH: "ok <resolved path>" when every component on the way is trusted, else "no <uid> <component>"
secure() {
  rest=${1#/}
  done=/
  hops=0
  while [ -n "$rest" ]; do
    part=${rest%%/*}
    case $rest in */*) rest=${rest#*/} ;; *) rest= ;; esac
    if [ -z "$part" ] || [ "$part" = . ]; then continue; fi
    if [ "$part" = .. ]; then done=$(dirname "$done"); continue; fi
    trusted "$done" || { refuse "$done"; return; }
    next=${done%/}/$part
    if [ -L "$next" ]; then
      trusted "$next" || { refuse "$next"; return; }
      hops=$((hops + 1))
      [ "$hops" -le 40 ] || { refuse "$next"; return; }
      target=$(readlink "$next") || { refuse "$next"; return; }
      case $target in
        /*) done=/; rest=${target#/}${rest:+/$rest} ;;
        *) rest=$target${rest:+/$rest} ;;
      esac
      continue
    fi
    done=$next
  done
  trusted "$done" || { refuse "$done"; return; }
  printf 'ok %s\n' "$done"
}

refuse() {
  # shellcheck disable=SC2046  # the fields of ls -ldn, split on purpose
  set -- "$1" $(ls -ldn -- "$1" 2>/dev/null)
  printf 'no %s %s\n' "${4:-unknown}" "$1"
}
