#!/usr/bin/env bash
# Benchmarks gantry's runner services (gantry-services) with the real actions against
# copying the same bytes with `docker cp`, measured in the same run, and prints the ratios:
#
#   artifact upload    upload-artifact@v4 step (500 MB, compression-level 0)  vs  docker cp in
#   artifact download  download-artifact@v4 step in a dependent job           vs  docker cp out
#   cache save         actions/cache@v4 post step (500 MB, zstd)              vs  docker cp in
#   cache restore      actions/cache@v4 step of a second run, exact key       vs  docker cp out
#
# The step durations are the ones `gantry run` prints (they include the action's own work:
# zipping, tar+zstd, hashing). act's artifact and cache servers are compared only when act
# is installed; the script says so when it is not.
#
#   scripts/bench-services.sh [--size MB] [--release]
#
# Needs Docker (scripts/ensure-docker.sh), the runner image (scripts/build-images.sh), node and
# npm (to build upload/download-artifact's dist once, cached under ~/.cache/gantry-tests).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="$ROOT/../shared/actions/actions"
SIZE_MB=500
PROFILE=debug
while [ $# -gt 0 ]; do
  case "$1" in
    --size) SIZE_MB="$2"; shift ;;
    --release) PROFILE=release ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-services: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
log() { echo "bench-services: $*" >&2; }

"$ROOT/scripts/ensure-docker.sh" >/dev/null
"$ROOT/scripts/build-images.sh" --only=runner >/dev/null
if [ "$PROFILE" = release ]; then
  (cd "$ROOT" && cargo build -q -p gantry-cli --release)
else
  (cd "$ROOT" && cargo build -q -p gantry-cli)
fi
GANTRY="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE/gantry"

# Built once and cached, shared with the end-to-end tests.
UPLOAD="$("$ROOT/scripts/built-action.sh" upload-artifact@v4)"
DOWNLOAD="$("$ROOT/scripts/built-action.sh" download-artifact@v4)"

WORK="$(mktemp -d)"
CONTAINER=""
cleanup() {
  if [ -n "$CONTAINER" ]; then docker rm -f "$CONTAINER" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
REPO="$WORK/repo" DATA="$WORK/data"
mkdir -p "$REPO/.github/workflows"
# The real actions as local actions of the repository (`gantry run` does not read the action
# store yet).
for pair in "cache:$SHARED/cache@v4" "upload-artifact:$UPLOAD" "download-artifact:$DOWNLOAD"; do
  mkdir -p "$REPO/.github/actions/${pair%%:*}"
  cp "${pair#*:}/action.yml" "$REPO/.github/actions/${pair%%:*}/"
  cp -a "${pair#*:}/dist" "$REPO/.github/actions/${pair%%:*}/dist"
done
BYTES=$((SIZE_MB * 1024 * 1024))
cat > "$REPO/.github/workflows/artifacts.yml" <<YAML
on: workflow_dispatch
jobs:
  up:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: head -c $BYTES /dev/urandom > big.bin
      - uses: ./.github/actions/upload-artifact
        with: {name: big, path: big.bin, compression-level: 0}
  down:
    needs: up
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: ./.github/actions/download-artifact
        with: {name: big, path: got}
      - run: test "\$(stat -c %s got/big.bin)" = $BYTES
YAML
cat > "$REPO/.github/workflows/cache.yml" <<YAML
on: workflow_dispatch
jobs:
  cache:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: ./.github/actions/cache
        with: {path: deps, key: bench-deps}
      - run: mkdir -p deps && { [ -f deps/big.bin ] || head -c $BYTES /dev/urandom > deps/big.bin; }
YAML
(cd "$REPO" && git init -q -b main && git add -A \
  && git -c user.name=bench -c user.email=b@gantry.invalid commit -qm bench \
  && git remote add origin https://github.com/gantry-bench/services.git)

run_workflow() { # file -> output; a failed run prints its output and stops the benchmark
  local out
  if ! out="$(cd "$REPO" && "$GANTRY" --color never run workflow_dispatch --data-dir "$DATA" -W "$REPO/.github/workflows/$1" 2>&1)"; then
    echo "$out" >&2
    log "the $1 run failed"
    exit 1
  fi
  echo "$out"
}
# `850ms`, `1.2s`, `2m05s` -> milliseconds
to_ms() {
  local d="$1"
  case "$d" in
    *ms) echo "${d%ms}" ;;
    *m*s) local m="${d%%m*}" s="${d#*m}"; s="${s%s}"; echo $(( (10#$m * 60 + 10#$s) * 1000 )) ;;
    *s) local s="${d%s}"; echo $(( ${s%.*} * 1000 + ${s#*.} * 100 )) ;;
  esac
}
step_ms() { # output, step title (fixed string) -> ms of its "✓ <title> (d)" line
  local line
  line="$(grep -F "✓ $2 (" <<<"$1" | head -n1)"
  [ -n "$line" ] || { log "no step '$2' in the output:"; echo "$1" >&2; exit 1; }
  line="${line##*(}"
  to_ms "${line%)}"
}

log "artifacts: upload then download of $SIZE_MB MB with the real actions"
OUT="$(run_workflow artifacts.yml)"
UP_MS="$(step_ms "$OUT" "Run ./.github/actions/upload-artifact")"
DOWN_MS="$(step_ms "$OUT" "Run ./.github/actions/download-artifact")"
log "cache: save (post step), then restore in a second run"
OUT="$(run_workflow cache.yml)"
SAVE_MS="$(step_ms "$OUT" "Post Run ./.github/actions/cache")"
OUT="$(run_workflow cache.yml)"
grep -qF "Cache restored from key: bench-deps" <<<"$OUT" || { echo "$OUT" >&2; log "the second run restored nothing"; exit 1; }
RESTORE_MS="$(step_ms "$OUT" "Run ./.github/actions/cache")"

log "baseline: docker cp of the same $SIZE_MB MB into and out of a runner container"
head -c "$BYTES" /dev/urandom > "$WORK/big.bin"
CONTAINER="$(docker run -d --network none gantry/runner:bookworm sleep 600)"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0="$(now_ms)"; docker cp -q "$WORK/big.bin" "$CONTAINER:/tmp/big.bin"; t1="$(now_ms)"
docker cp -q "$CONTAINER:/tmp/big.bin" "$WORK/back.bin"; t2="$(now_ms)"
CP_IN=$((t1 - t0)) CP_OUT=$((t2 - t1))
cmp -s "$WORK/big.bin" "$WORK/back.bin" || { log "docker cp baseline corrupted the bytes"; exit 1; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / (b > 0 ? b : 1) }'; }
echo "gantry-services benchmark: $SIZE_MB MB, gantry $PROFILE build, 1 run each"
printf '%-18s %10s %12s %7s\n' "" "gantry ms" "docker cp ms" "ratio"
printf '%-18s %10s %12s %7s\n' "artifact upload" "$UP_MS" "$CP_IN" "$(ratio "$UP_MS" "$CP_IN")"
printf '%-18s %10s %12s %7s\n' "artifact download" "$DOWN_MS" "$CP_OUT" "$(ratio "$DOWN_MS" "$CP_OUT")"
printf '%-18s %10s %12s %7s\n' "cache save" "$SAVE_MS" "$CP_IN" "$(ratio "$SAVE_MS" "$CP_IN")"
printf '%-18s %10s %12s %7s\n' "cache restore" "$RESTORE_MS" "$CP_OUT" "$(ratio "$RESTORE_MS" "$CP_OUT")"
echo "target: ratio <= 1.50"
if command -v act >/dev/null; then
  echo "act: installed ($(act --version)), but this script does not drive it yet: no act comparison"
else
  echo "act: not installed here, so no comparison against act's artifact and cache servers"
fi
