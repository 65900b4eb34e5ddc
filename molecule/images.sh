#!/usr/bin/env bash
# Build the local podman images the Molecule scenarios run on, when they are missing.
#
#   molecule/images.sh [SUITE...]        default: bookworm trixie
#
# A suite named <suite>-fleet (e.g. bookworm-fleet) is the same system plus openssh-server, sudo,
# acl and pass (with gnupg): the hosts of the SSH fleet suite (tests/fleet/), reached over SSH as an
# unprivileged admin with sudo become, with a `pass` store for the keychain key mode.
#
# Each image is a Debian minbase system with python3, made from Debian packages with debootstrap
# and imported into podman as localhost/llmcloud-molecule-debian:<suite>. No container registry is
# involved. The Debian mirror is read from this machine's apt configuration at run time
# (/etc/apt/sources.list.d/*.sources, then /etc/apt/sources.list); MOLECULE_DEBIAN_MIRROR overrides
# it. An image that exists and was built from the same recipe is kept; suites build in parallel.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
image_repo=${MOLECULE_IMAGE_REPO:-localhost/llmcloud-molecule-debian}
cache=${LLMCLOUD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/llmcloud-factory-droid}

# What goes into the image. python3 runs Ansible's modules; everything else the tests use (useradd,
# runuser, grep, find, stat) is in minbase. droid is a self-contained glibc binary and talks only to
# the loopback stand-in over plain HTTP, so no ca-certificates are needed.
# MOLECULE_IMAGE_INCLUDE replaces the package list (tests/ee/run.sh: the execution environment's base).
include=${MOLECULE_IMAGE_INCLUDE:-python3}
# Changing the recipe (packages or variant) changes this label, which triggers a rebuild.
recipe="minbase;include=$include;v1"

if [ "$#" -gt 0 ]; then suites=("$@"); else suites=(bookworm trixie); fi

# The packages and the recipe label of one suite name (<suite>-fleet: see above).
packages_of() {
  case $1 in
    *-fleet) echo "$include,openssh-server,sudo,acl,pass,gnupg" ;;
    *) echo "$include" ;;
  esac
}
recipe_of() {
  case $1 in
    *-fleet) echo "minbase;include=$(packages_of "$1");v1" ;;
    *) echo "$recipe" ;;
  esac
}

log() { printf 'images: %s\n' "$*" >&2; }

ensure_tools() {
  local missing=() tool pkg
  for tool in podman:podman runc:runc debootstrap:debootstrap; do
    pkg=${tool#*:}
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
}

# Print the first Debian mirror (not a security archive) of the machine's apt sources.
apt_mirror() {
  local f uri
  if [ -n "${MOLECULE_DEBIAN_MIRROR:-}" ]; then
    echo "$MOLECULE_DEBIAN_MIRROR"
    return
  fi
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    # deb822: one stanza per paragraph; take URIs of an enabled "deb" stanza whose suites are not
    # -security ones.
    uri=$(awk '
      function flush() {
        if (uris != "" && types ~ /(^|[ \t])deb([ \t]|$)/ && suites !~ /-security/ && enabled !~ /^[ \t]*no/) {
          split(uris, u, /[ \t]+/); print u[1]; found = 1; exit
        }
        uris = ""; types = ""; suites = ""; enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      tolower($1) == "uris:"    { sub(/^[^:]*:[ \t]*/, ""); uris = $0 }
      tolower($1) == "types:"   { sub(/^[^:]*:[ \t]*/, ""); types = $0 }
      tolower($1) == "suites:"  { sub(/^[^:]*:[ \t]*/, ""); suites = $0 }
      tolower($1) == "enabled:" { sub(/^[^:]*:[ \t]*/, ""); enabled = $0 }
      END { if (!found) flush() }
    ' "$f")
    if [ -n "$uri" ]; then echo "$uri"; return; fi
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    # one-line format: deb [options] URI suite components...
    uri=$(awk '
      $1 != "deb" { next }
      { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } }
      $(i + 1) ~ /-security/ { next }
      { print $i; exit }
    ' "$f")
    if [ -n "$uri" ]; then echo "$uri"; return; fi
  done
  return 1
}

image_recipe() {
  podman image inspect --format '{{ index .Labels "org.llmcloud.molecule.recipe" }}' "$1" 2>/dev/null || true
}

build_one() {
  local suite=$1 mirror=$2
  local name="$image_repo:$suite" work start label
  label=$(recipe_of "$suite")
  start=$(date +%s)
  work=$(mktemp -d "${TMPDIR:-/var/tmp}/llmcloud-molecule-$suite.XXXXXX")
  # shellcheck disable=SC2064  # expand $work now: the trap must remove this build's folder
  trap "rm -rf '$work'" RETURN
  mkdir -p "$cache/debootstrap/$suite"
  log "$suite: debootstrap from the apt mirror"
  if ! debootstrap --variant=minbase --include="$(packages_of "$suite")" --cache-dir="$cache/debootstrap/$suite" \
      "${suite%-fleet}" "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    [ -r "$work/root/debootstrap/debootstrap.log" ] && tail -n 30 "$work/root/debootstrap/debootstrap.log" >&2
    log "$suite: debootstrap failed"
    return 1
  fi
  # Slim the image: package lists and caches are not needed to run the tests.
  rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"* \
    "$work/root/usr/share/doc/"* "$work/root/usr/share/man/"*
  tar -C "$work/root" --numeric-owner -c . |
    podman import --quiet --change "LABEL org.llmcloud.molecule.recipe=$label" \
      --change 'CMD ["sleep", "infinity"]' --message "debootstrap $suite ($label)" - "$name" >/dev/null
  log "$suite: imported $name in $(($(date +%s) - start)) s"
}

main() {
  local suite todo=() mirror pids=() rc=0 i
  ensure_tools
  for suite in "${suites[@]}"; do
    if [ "$(image_recipe "$image_repo:$suite")" = "$(recipe_of "$suite")" ]; then
      log "$suite: $image_repo:$suite present, not rebuilt"
    else
      todo+=("$suite")
    fi
  done
  [ "${#todo[@]}" -eq 0 ] && return 0
  mirror=$(apt_mirror) || {
    log "no Debian mirror found in /etc/apt/sources.list(.d); set MOLECULE_DEBIAN_MIRROR"
    return 1
  }
  for suite in "${todo[@]}"; do
    build_one "$suite" "$mirror" &
    pids+=("$!")
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { log "${todo[$i]}: build failed"; rc=1; }
  done
  return "$rc"
}

main
