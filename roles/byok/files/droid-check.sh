# shellcheck shell=sh
# byok_verify: run as the user whose settings these are. Prints what the real droid client loads
# (its list of custom models: ids and names, no keys) and the settings files it reads, between
# markers, for the role's judge (the `client` view of its input object) on the controller. The task
# that runs this is no_log: a file may hold a key (the judge never reports values).
#   sh -c "$(cat droid-trust.sh droid-check.sh)" byok-check <droid command> <home or empty>
# Run as root (the connecting user is the target), it runs droid only when its whole path is root's
# (droid-trust.sh), else it prints droid=untrusted <path> and runs nothing.
droid=$1
if [ -n "$2" ]; then HOME=$2; export HOME; fi
case $droid in
  */*) ;;
  *) found=$(command -v "$droid" 2>/dev/null) || found=
     if [ -z "$found" ] && [ -x "$HOME/.local/bin/$droid" ]; then found=$HOME/.local/bin/$droid; fi
     droid=$found ;;
esac
if [ -z "$droid" ] || [ ! -x "$droid" ]; then
  echo "byok-check: droid=missing"
  exit 0
fi
# shellcheck disable=SC2154  # me (and secure) come from droid-trust.sh, which the task prepends
if [ "$me" = 0 ]; then
  verdict=$(secure "$droid")
  case $verdict in
    ok\ *) droid=${verdict#ok } ;;
    *) echo "byok-check: droid=untrusted $droid"; exit 0 ;;
  esac
fi
echo "byok-check: droid=$droid"
cd / || exit 1  # outside any project: the user's own settings, not a repository's .factory
version=$("$droid" --version </dev/null 2>/dev/null)
printf 'byok-check: version=%s\n' "$(printf '%s\n' "$version" | head -n 1)"
# droid's output is captured, never given our stdout: some versions leave the descriptors they
# inherit non-blocking, and later writes to a full pipe would then be lost.
listing=$("$droid" exec --list-tools -m custom:does-not-exist </dev/null 2>&1)
echo "byok-check: listing"
printf '%s\n' "$listing" | sed -n '/Available custom models:/,/^ *$/p'
for file in "$HOME/.factory/settings.json" "$HOME/.factory/settings.local.json" /etc/factory/settings.json \
            "/Library/Application Support/Factory/settings.json"; do
  if [ -f "$file" ] && [ -r "$file" ]; then
    echo "byok-check: file $file"
    cat "$file"
    echo
  fi
done
echo "byok-check: end"
