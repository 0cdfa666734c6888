#!/usr/bin/env bash
# Runs GitHub's "publish a Node.js package" starter workflow (workflows-examples/release-package)
# offline, end to end, the way a user would: in a fresh git repository tagged v1.0.0 whose origin
# is github.com/gantry-examples/release-package, with `gantry run release`.
#
#   scripts/run-reference.sh            # the `build` job: checkout, setup-node, npm ci, npm test
#   scripts/run-reference.sh --all      # every job, including publish-gpr's `npm publish`
#   scripts/run-reference.sh --keep     # keep the temporary repository (its path is printed)
#   scripts/run-reference.sh -- ARGS    # anything after `--` goes to `gantry run` (e.g. --json)
#
# By default only `build` runs: `publish-gpr` publishes to GitHub Packages, which needs the
# local package registry (not wired in yet); until then `--all` ends with that job failing.
#
# Works on a fresh machine: starts Docker (scripts/ensure-docker.sh), builds gantry's images when
# missing (scripts/build-images.sh, offline from Debian packages) and builds gantry (debug).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS=(-j build)
KEEP=0
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --all) JOBS=() ;;
    --keep) KEEP=1 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-reference: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "run-reference: $*" >&2; }

"$ROOT/scripts/ensure-docker.sh"
"$ROOT/scripts/build-images.sh"

log "building gantry (debug)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build -q -p gantry-cli)
GANTRY="$TARGET/debug/gantry"

REPO="$(mktemp -d "${TMPDIR:-/tmp}/gantry-reference.XXXXXX")"
cleanup() { if [ "$KEEP" = 0 ]; then rm -rf "$REPO"; else log "kept $REPO"; fi; }
trap cleanup EXIT

cp -a "$ROOT/workflows-examples/release-package/." "$REPO/"
git_() { git -C "$REPO" -c user.name="Gantry Example" -c user.email="examples@gantry.invalid" "$@"; }
git_ init -q -b main
git_ add -A
git_ commit -q -m "Release package example"
git_ tag v1.0.0
git_ remote add origin https://github.com/gantry-examples/release-package.git

log "gantry run release ${JOBS[*]} ${EXTRA[*]} (in $REPO)"
status=0
(cd "$REPO" && "$GANTRY" run release "${JOBS[@]}" "${EXTRA[@]}") || status=$?
exit "$status"
