#!/bin/sh
# Run a command in a private mount namespace where /etc/factory is a scratch folder, so that the
# system-managed settings file droid reads (/etc/factory/settings.json) can be written and read by
# tests without ever touching the machine's real /etc:
#   tests/support/private-etc-factory.sh SCRATCH COMMAND [ARGS...]
# SCRATCH/factory becomes /etc/factory; SCRATCH/.etc-upper and SCRATCH/.etc-work hold an overlay
# of /etc (so /etc/factory can exist there without being created in the real /etc). Needs root
# (unshare -m). Nothing is mounted outside the namespace; it vanishes with the command.
set -eu
scratch=$1
shift
mkdir -p "$scratch/factory" "$scratch/.etc-upper" "$scratch/.etc-work"
# shellcheck disable=SC2016  # the script is expanded by the inner shell, inside the namespace
exec unshare -m --propagation private /bin/sh -c '
  set -eu
  scratch=$1; shift
  mount -t overlay overlay -o "lowerdir=/etc,upperdir=$scratch/.etc-upper,workdir=$scratch/.etc-work" /etc
  mkdir -p /etc/factory
  mount --bind "$scratch/factory" /etc/factory
  exec "$@"' private-etc-factory "$scratch" "$@"
