#!/usr/bin/env bash
# The SSH fleet suite (what `make fleet` runs, part of `make test`): six Debian containers running
# sshd on loopback, reached over SSH as an unprivileged admin with sudo become, two developers per
# host with vaulted keys, inline and keychain key modes, --check, converge, idempotence and the
# real droid, with pipelining off and on; the unprivileged-become cases; and the role on a host
# without getent (a private mount namespace). See tests/fleet/test_*.py.
#
#   tests/fleet/run.sh [PYTEST ARGS...]
#
# Bootstraps what it needs: podman, runc, debootstrap and the ssh client (apt-get, when missing),
# the image localhost/llmcloud-molecule-debian:bookworm-fleet (molecule/images.sh; kept in podman's
# storage between runs), the pinned droid client (hacking/install-droid.sh, cached outside
# the checkout). FLEET_HOSTS (default 6) sets the fleet's size.
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$PWD
export CONTAINERS_CONF="$root/molecule/containers.conf"
export LLMCLOUD_CACHE_DIR=${LLMCLOUD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/llmcloud-factory-droid}
export DROID_VERSION=${DROID_VERSION:-0.225.2}
export ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-$root/build/collections}
venv=${VENV:-$root/.venv}
if [ -x "$venv/bin/python" ]; then export PATH="$venv/bin:$PATH"; fi

log() { printf 'tests/fleet/run.sh: %s\n' "$*" >&2; }

t0=$(date +%s)
if ! command -v ssh >/dev/null 2>&1 || ! command -v ssh-keygen >/dev/null 2>&1; then
  log "installing openssh-client with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-client >&2
fi
molecule/images.sh bookworm-fleet
hacking/install-droid.sh "$DROID_VERSION" </dev/null >/dev/null
# droid (bun) leaves inherited stdio non-blocking; Ansible refuses to run on that.
python3 -c '
import fcntl
for fd in (0, 1, 2):
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~0o4000)
    except OSError:
        pass
'
log "image and droid $DROID_VERSION ready in $(($(date +%s) - t0)) s"

mkdir -p build
rc=0
python -m pytest -p no:cacheprovider -q -rsxX tests/fleet "$@" || rc=$?
log "done in $(($(date +%s) - t0)) s (timings of each run: build/fleet-timings.json)"
exit "$rc"
