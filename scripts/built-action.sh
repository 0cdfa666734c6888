#!/usr/bin/env bash
# Prints the directory of a sources-only action from ../shared/actions with its dist/ built
# (action.yml + dist/), building it once per exported commit:
#
#   scripts/built-action.sh upload-artifact@v4|download-artifact@v4
#
# The build is what ../shared/actions/README.md says (`npm ci --ignore-scripts`, then `ncc`,
# everything from the npm registry) in a temporary copy; the result is cached under
# ${XDG_CACHE_HOME:-~/.cache}/gantry-tests/actions-dist/<name>-<commit>, shared by the
# end-to-end tests (gantry-cli, gantry-daemon) and scripts/bench-services.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="$ROOT/../shared/actions/actions"
name="${1:?usage: built-action.sh upload-artifact@v4|download-artifact@v4}"
case "$name" in
  upload-artifact@v4) entry=src/upload/index.ts out=dist/upload ;;
  download-artifact@v4) entry=src/download-artifact.ts out=dist ;;
  *) echo "built-action: no build recipe for $name" >&2; exit 2 ;;
esac
cache="${XDG_CACHE_HOME:-$HOME/.cache}/gantry-tests/actions-dist"
commit="$(tr -d '[:space:]' < "$SHARED/$name.commit")"
dest="$cache/$name-$commit"
if [ ! -f "$dest/action.yml" ]; then
  echo "built-action: building $name's dist (npm registry, once)" >&2
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  cp -a "$SHARED/$name" "$tmp/src"
  (cd "$tmp/src" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null && npx ncc build "$entry" -o "$out" >/dev/null)
  mkdir -p "$tmp/built" "$cache"
  cp "$tmp/src/action.yml" "$tmp/built/"
  cp -a "$tmp/src/dist" "$tmp/built/dist"
  # A concurrent build may have won the rename; both are complete.
  mv -T "$tmp/built" "$dest" 2>/dev/null || [ -f "$dest/action.yml" ]
fi
echo "$dest"
