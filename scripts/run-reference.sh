#!/usr/bin/env bash
# Runs GitHub's "publish a Node.js package" starter workflow (workflows-examples/release-package)
# offline, end to end, the way a user would: in a fresh git repository tagged v1.0.0 whose origin
# is github.com/gantry-examples/release-package, with `gantry run release`. Both jobs run:
# `build` (checkout, setup-node, npm ci, npm test), then `publish-gpr`, whose `npm publish` goes
# to gantry's embedded registry (setup-node maps npm.pkg.github.com to it; GITHUB_TOKEN is a
# token for the gantry-examples namespace). Then the script serves the same registry data with
# `gantry packages serve`, installs the package with npm in a fresh directory using a read token,
# and requires it with node.
#
#   scripts/run-reference.sh            # both jobs, then install and require the package
#   scripts/run-reference.sh -j build   # only `build` (no publish, no install)
#   scripts/run-reference.sh --keep     # keep the temporary directories (their paths are printed)
#   scripts/run-reference.sh -- ARGS    # anything after `--` goes to `gantry run` (e.g. --json)
#
# The registry's data lives in a temporary directory (a second run would otherwise find 1.0.0
# already published, which npm refuses). Everything the script starts is stopped on exit.
#
# Works on a fresh machine: installs what it calls when missing (scripts/ensure-tools.sh) (the consumer install at the
# end runs on this machine), starts Docker (scripts/ensure-docker.sh), builds gantry's images when
# missing (scripts/build-images.sh, offline from Debian packages) and builds gantry (debug).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS=()
KEEP=0
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    -j) JOBS=(-j "$2"); shift ;;
    --all) JOBS=() ;;
    --keep) KEEP=1 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-reference: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "run-reference: $*" >&2; }

"$ROOT/scripts/ensure-tools.sh"
"$ROOT/scripts/ensure-docker.sh"
"$ROOT/scripts/build-images.sh"

log "building gantry (debug)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build -q -p gantry-cli)
GANTRY="$TARGET/debug/gantry"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gantry-reference.XXXXXX")"
REPO="$WORK/repo" DATA="$WORK/data" CONSUMER="$WORK/consumer"
mkdir -p "$REPO" "$CONSUMER"
SERVE_PID=""
cleanup() {
  if [ -n "$SERVE_PID" ]; then kill -INT "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; fi
  if [ "$KEEP" = 0 ]; then rm -rf "$WORK"; else log "kept $WORK"; fi
}
trap cleanup EXIT

cp -a "$ROOT/workflows-examples/release-package/." "$REPO/"
git_() { git -C "$REPO" -c user.name="Gantry Example" -c user.email="examples@gantry.invalid" "$@"; }
git_ init -q -b main
git_ add -A
git_ commit -q -m "Release package example"
git_ tag v1.0.0
git_ remote add origin https://github.com/gantry-examples/release-package.git

log "gantry run release ${JOBS[*]} ${EXTRA[*]} (in $REPO)"
(cd "$REPO" && "$GANTRY" run release --data-dir "$DATA" "${JOBS[@]}" "${EXTRA[@]}")
if [ "${#JOBS[@]}" -gt 0 ]; then exit 0; fi

log "published: $("$GANTRY" packages list --data-dir "$DATA")"
"$GANTRY" packages serve --data-dir "$DATA" >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVE_PID=$!
for _ in $(seq 100); do
  grep -q '^token: ' "$WORK/serve.out" 2>/dev/null && break
  kill -0 "$SERVE_PID" 2>/dev/null || { cat "$WORK/serve.err" >&2; exit 1; }
  sleep 0.1
done
ADDR="$(sed -n 's/^address: //p' "$WORK/serve.out")"
[ -n "$ADDR" ] || { log "gantry packages serve printed no address"; exit 1; }
READ_TOKEN="$("$GANTRY" packages token create --data-dir "$DATA" --owner gantry-examples --scopes read)"
printf '@gantry-examples:registry=http://%s/\n//%s/:_authToken=%s\n' "$ADDR" "$ADDR" "$READ_TOKEN" \
  >"$CONSUMER/.npmrc"
echo '{"name": "consumer", "private": true}' >"$CONSUMER/package.json"

log "npm install @gantry-examples/release-package (from http://$ADDR/, in $CONSUMER)"
export npm_config_userconfig="$CONSUMER/.npmrc" npm_config_cache="$WORK/npm-cache" \
  npm_config_update_notifier=false
(cd "$CONSUMER" && npm install --no-audit --no-fund @gantry-examples/release-package)
(cd "$CONSUMER" && node -e "
  const { compareVersions } = require('@gantry-examples/release-package');
  const sorted = ['1.10.0', '1.2.0', '1.2.0-rc.1'].sort(compareVersions);
  console.log('require(\"@gantry-examples/release-package\") works: ' + sorted.join(' < '));
")
log "ok: built, published, installed and required offline"
