#!/usr/bin/env bash
# Install the real Factory Droid client (the platform package, pinned) into a cache outside the
# checkout and print the path of its binary. The registry comes from npm's own configuration.
#   hacking/install-droid.sh [VERSION]
set -euo pipefail
version=${1:-${DROID_VERSION:-0.225.2}}
cache=${LLMCLOUD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/llmcloud-factory-droid}
prefix="$cache/droid/$version"
bin="$prefix/node_modules/@factory/cli-linux-x64/bin/droid"
if [ ! -x "$bin" ]; then
  command -v npm >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq npm >&2; }
  mkdir -p "$prefix"
  tmp=$(mktemp -d "$cache/droid/.install.XXXXXX")
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$tmp" \
    "@factory/cli-linux-x64@$version" >&2
  chmod 0755 "$tmp"  # mktemp -d makes it 0700: non-root users (Molecule's developers) run droid too
  rm -rf "$prefix" && mv "$tmp" "$prefix"
fi
# Some droid versions (0.109.3) leave inherited stdio non-blocking, which ansible refuses: give the
# probe its own descriptors.
"$bin" --version </dev/null >/dev/null 2>&1
echo "$bin"
