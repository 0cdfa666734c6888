#!/usr/bin/env bash
# Webhook load on loopback against the daemon (release build, process launcher), in three
# set-ups measured in the same run:
#
#   sqlite   one daemon on its embedded SQLite (WAL, synchronous=FULL);
#   pg-1     one daemon on PostgreSQL (a throwaway server from scripts/pg-temp.sh, default
#            durability: fsync on, synchronous_commit on);
#   pg-2     two daemons on that PostgreSQL, the load spread over both like a load balancer.
#
# Each set-up runs:
#   1. SECONDS of signed `release` deliveries with unique ids over CONNECTIONS connections:
#      deliveries acknowledged per second (each only after its commit) and p50/p99 latency;
#   1s. (sqlite) the same load again while STALLED (200) stalled connections are held open
#      (silent, half a request head, a webhook head and no body; each one the daemon closes
#      at its header timeout is re-opened at once, as an attacker would): deliveries/s beside
#      phase 1's, and their ratio;
#   2. the same load again, with the (first) daemon killed by SIGKILL half-way: sqlite and pg-1
#      restart it on the same port while the load goes on; in pg-2 the other daemon takes the
#      whole load (connections to the dead one move over) and reaps its runs after the lease;
#   3. a check, straight in the database, that every acknowledged delivery of both phases has
#      exactly one run.
#
#   scripts/bench-daemon.sh [--seconds N] [--connections C] [--only sqlite|pg-1|pg-2] [--stalled S]
#   [--no-build]
#   (default 10 s, 32 connections, all three; --no-build reuses the release binaries already
#   built in $CARGO_TARGET_DIR)
#
# Targets on the 2-core dev machine: sqlite and pg-1 >= 500 deliveries/s with p99 < 50 ms;
# pg-2 not slower than pg-1; zero lost or duplicated everywhere. The last line is PASS or FAIL
# (exit status 1 on FAIL), with pg-2's rate as a ratio of pg-1's.
#
# Measured 2026-11-27 (sqlite only), 32 connections, 10 s per phase: steady 2043 acked/s, p50
# 15 ms, p99 35 ms with the machine lightly loaded; 1168 to 1177 acked/s, p99 61 to 76 ms with
# others compiling. With 32 requests always in flight, latency is mostly queueing (32 / rate).
# 2026-12-07 (sqlite, listener timeouts from gantry-http), others compiling (load average 4 to
# 8): 461/s steady, 446/s with 200 stalled connections held open (ratio 0.97).
#
# Measured 2026-12-07, all three in one run, the 2-core machine at load average 11 to 12.5
# (other sessions compiling), 32 connections, 10 s per phase (FAIL on p99 everywhere):
#   sqlite  790 acked/s, p50 33 ms, p99 204 ms; with the kill -9 879/s; exactly once (17,070)
#   pg-1    698 acked/s, p50 40 ms, p99 141 ms; with the kill -9 668/s; exactly once (13,880);
#           11 deliveries per commit, 16 ms per commit
#   pg-2    615 acked/s (0.88 of pg-1), p50 46 ms, p99 141 ms; with one daemon killed and the
#           other taking the load 661/s; exactly once (12,934)
# Two daemons on a 2-core machine that also runs PostgreSQL and the load generator compete for
# the same cores; the second daemon is for capacity on another machine, not for speed here.
# Before group commits became unnest inserts, pg-1 did 330/s (3 ms per delivery in commits).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECS=10
CONNS=32
STALLED=200
BUILD=yes
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECS="$2"; shift ;;
    --connections) CONNS="$2"; shift ;;
    --only) ONLY="$2"; shift ;;
    --stalled) STALLED="$2"; shift ;;
    --no-build) BUILD=no ;;
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-daemon: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
log() { echo "bench-daemon: $*" >&2; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$CARGO_TARGET_DIR/release/examples"
if [ "$BUILD" = yes ]; then
  log "building the daemon and the load generator (release)"
  cargo build --quiet --release -p gantry-daemon --example daemon --example bench
fi
[ -x "$BIN/daemon" ] && [ -x "$BIN/bench" ] || { log "no release binaries in $BIN"; exit 2; }
PAYLOAD="$ROOT/../shared/conformance/webhooks/release/published.payload.json"
[ -f "$PAYLOAD" ] || { log "missing $PAYLOAD"; exit 2; }

WORK="$(mktemp -d)"
declare -A PIDS=() URLS=()
PG_PID=""
cleanup() {
  for name in "${!PIDS[@]}"; do
    stop_daemon "$name"
  done
  if [ -n "$PG_PID" ]; then
    exec 3>&-
    wait "$PG_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# The repository the release payload names (Codertocat/Hello-World, tag 0.0.1) with one
# release workflow whose job does nothing, so the queue drains without competing for CPU.
REPO="$WORK/repo"
git init -q -b master "$REPO"
mkdir -p "$REPO/.github/workflows"
cat > "$REPO/.github/workflows/release.yml" <<'YML'
on: release
jobs:
  noop:
    runs-on: ubuntu-latest
    steps:
      - run: "true"
YML
git -C "$REPO" add -A
git -C "$REPO" -c user.name=bench -c user.email=bench@example.invalid commit -q -m init
git -C "$REPO" tag 0.0.1
SECRET="bench-secret-$$"

# write_config NAME [STORE_URL]: $WORK/NAME.toml with its own data directory.
write_config() {
  local name="$1" store="${2:-}"
  {
    echo "listen = \"127.0.0.1:0\""
    echo "data_dir = \"$WORK/data-$name\""
    echo "capacity = 1"
    echo "log_retention_days = 0"
    echo "drain_timeout_secs = 5"
    if [ -n "$store" ]; then
      printf '\n[store]\nurl = "%s"\ninstance_id = "%s"\n' "$store" "$name"
    fi
    printf '\n[repositories."Codertocat/Hello-World"]\nurl = "%s"\n' "$REPO"
    printf 'default_branch = "master"\nwebhook_secret = "%s"\n' "$SECRET"
  } > "$WORK/$name.toml"
}

start_daemon() {
  local name="$1"
  : > "$WORK/$name.out"
  "$BIN/daemon" "$WORK/$name.toml" > "$WORK/$name.out" 2>> "$WORK/$name.err" &
  PIDS[$name]=$!
  for _ in $(seq 1 400); do
    if grep -q '^listening on ' "$WORK/$name.out" 2>/dev/null; then
      URLS[$name]="http://$(sed -n 's/^listening on //p' "$WORK/$name.out" | head -1)"
      # Restarts reuse the port, so the load generator keeps going across a kill.
      sed -i "s|^listen = .*|listen = \"${URLS[$name]#http://}\"|" "$WORK/$name.toml"
      return 0
    fi
    sleep 0.05
  done
  log "daemon $name did not start"; cat "$WORK/$name.err" >&2; exit 1
}

stop_daemon() {
  local pid="${PIDS[$1]:-}"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  unset "PIDS[$1]"
}

# Where a webhook's time went (warm-up and phase 1) on one daemon: the average per delivery of
# each stage the daemon times (/metrics), and how many deliveries each group commit took.
stages() {
  curl -sf "$1/metrics" | awk '
    /^gantry_webhook_stage_seconds_sum/ { match($0, /stage="[a-z_]+"/); s = substr($0, RSTART + 7, RLENGTH - 8); sum[s] = $2 }
    /^gantry_webhook_stage_seconds_count/ { match($0, /stage="[a-z_]+"/); s = substr($0, RSTART + 7, RLENGTH - 8); n[s] = $2; order[++k] = s }
    /^gantry_commit_batches_total/ { batches = $2 }
    /^gantry_commit_batched_deliveries_total/ { delivered = $2 }
    END {
      line = "  stages: "
      for (i = 1; i <= k; i++) { s = order[i]; line = line sprintf(" %s=%.2fms(x%d)", s, n[s] ? 1000 * sum[s] / n[s] : 0, n[s]) }
      print line
      if (batches) printf "  commits: %d deliveries in %d transactions (%.1f per commit)\n", delivered, batches, delivered / batches
    }' || log "no /metrics"
}

# A PostgreSQL server for pg-1 and pg-2, stopped when fd 3 closes (see scripts/pg-temp.sh).
PG_BIN=""
PG_PORT=""
start_postgres() {
  # A port nothing answers on.
  for _ in $(seq 1 50); do
    PG_PORT="$((20000 + RANDOM % 40000))"
    (exec 9<> "/dev/tcp/127.0.0.1/$PG_PORT") 2>/dev/null || break
  done
  mkfifo "$WORK/pg.in"
  "$ROOT/scripts/pg-temp.sh" "$PG_PORT" -c max_connections=200 < "$WORK/pg.in" > "$WORK/pg.out" 2> "$WORK/pg.err" &
  PG_PID=$!
  exec 3> "$WORK/pg.in"
  for _ in $(seq 1 600); do
    if grep -q '^ready ' "$WORK/pg.out" 2>/dev/null; then
      PG_BIN="$(sed -n 's/^ready //p' "$WORK/pg.out")"
      return 0
    fi
    kill -0 "$PG_PID" 2>/dev/null || break
    sleep 0.05
  done
  log "PostgreSQL did not start"; cat "$WORK/pg.err" >&2; exit 1
}

new_database() {
  "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$1"
  echo "postgres://postgres@127.0.0.1:$PG_PORT/$1"
}

declare -A RATE=() P99=() EXACT=()

# stalled_phase URL ACKED STEADY: phase 1 again with $STALLED stalled connections held open.
stalled_phase() {
  local url="$1" acked="$2" steady="$3"
  log "phase 1s: ${SECS}s, $CONNS connections, $STALLED stalled connections held open"
  "$BIN/bench" stall "$url" "$STALLED" "$((SECS + 5))" > "$WORK/stall.out" 2> "$WORK/stall.err" &
  local stall_pid=$!
  for _ in $(seq 1 500); do
    grep -q '^holding ' "$WORK/stall.err" 2>/dev/null && break
    sleep 0.02
  done
  log "$(head -1 "$WORK/stall.err")"
  local loaded
  loaded="$("$BIN/bench" load "$url" "$SECRET" "$PAYLOAD" "$SECS" "$CONNS" "$acked")"
  wait "$stall_pid" || true
  echo "stalled:  $loaded"
  echo "          $(cat "$WORK/stall.out")"
  local rate1 rate1s
  rate1="$(sed -n 's/.* rate=\([0-9]*\)\/s.*/\1/p' <<< "$steady")"
  rate1s="$(sed -n 's/.* rate=\([0-9]*\)\/s.*/\1/p' <<< "$loaded")"
  awk -v a="${rate1:-0}" -v b="${rate1s:-0}" -v n="$STALLED" \
    'BEGIN { printf "ratio:    %d/s with %d stalled connections vs %d/s without: %.2f\n", b, n, a, a ? b / a : 0 }'
}

# scenario LABEL VERIFY_DB RESTART(yes|no) DAEMON...: the two phases and the check.
scenario() {
  local label="$1" db="$2" restart="$3"
  shift 3
  local names=("$@") urls="" name
  for name in "${names[@]}"; do
    start_daemon "$name"
    urls="${urls:+$urls,}${URLS[$name]}"
  done
  local acked="$WORK/acked-$label"
  log "[$label] daemons at $urls; warm-up"
  "$BIN/bench" load "$urls" "$SECRET" "$PAYLOAD" 1 4 "$acked" > /dev/null
  # Other work on the machine moves these numbers a lot: say how busy it was.
  log "[$label] load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  log "[$label] phase 1: ${SECS}s, $CONNS connections"
  local steady
  steady="$("$BIN/bench" load "$urls" "$SECRET" "$PAYLOAD" "$SECS" "$CONNS" "$acked")"
  echo "$label steady:  $steady"
  stages "${URLS[${names[0]}]}"
  if [ "$label" = sqlite ] && [ "$STALLED" -gt 0 ]; then
    stalled_phase "${URLS[${names[0]}]}" "$acked" "$steady"
  fi
  local victim="${names[0]}"
  log "[$label] phase 2: ${SECS}s with kill -9 of $victim half-way (restart: $restart)"
  "$BIN/bench" load "$urls" "$SECRET" "$PAYLOAD" "$SECS" "$CONNS" "$acked" > "$WORK/phase2" &
  local load_pid=$!
  sleep "$((SECS / 2))"
  kill -KILL "${PIDS[$victim]}"
  wait "${PIDS[$victim]}" 2>/dev/null || true
  unset "PIDS[$victim]"
  if [ "$restart" = yes ]; then
    start_daemon "$victim"
    log "[$label] killed and restarted $victim under load"
  fi
  wait "$load_pid"
  echo "$label killed:  $(cat "$WORK/phase2")"
  local verify exact=yes
  verify="$("$BIN/bench" verify "$db" "$acked")" || exact=no
  echo "$label verify:  $verify"
  RATE[$label]="$(sed -n 's/.* rate=\([0-9]*\)\/s.*/\1/p' <<< "$steady")"
  P99[$label]="$(sed -n 's/.* p99=\([0-9.]*\)ms.*/\1/p' <<< "$steady")"
  EXACT[$label]="$exact"
  for name in "${names[@]}"; do
    stop_daemon "$name"
  done
}

wants() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }

if wants sqlite; then
  write_config sqlite
  scenario sqlite "$WORK/data-sqlite/gantry.db" yes sqlite
fi
if wants pg-1 || wants pg-2; then
  start_postgres
fi
if wants pg-1; then
  DB1="$(new_database bench1)"
  write_config pg1 "$DB1"
  scenario pg-1 "$DB1" yes pg1
fi
if wants pg-2; then
  DB2="$(new_database bench2)"
  write_config pg2a "$DB2"
  write_config pg2b "$DB2"
  scenario pg-2 "$DB2" no pg2a pg2b
fi

# The verdict: each set-up's steady rate and p99 against the targets, exactly-once everywhere,
# and two daemons not slower than one.
VERDICT=PASS
SUMMARY=""
for label in sqlite pg-1 pg-2; do
  [ -n "${RATE[$label]:-}" ] || continue
  SUMMARY="$SUMMARY $label=${RATE[$label]}/s,p99=${P99[$label]}ms,exactly-once=${EXACT[$label]}"
  [ "${EXACT[$label]}" = yes ] || VERDICT=FAIL
  if [ "$label" != pg-2 ]; then
    [ "${RATE[$label]:-0}" -ge 500 ] || VERDICT=FAIL
    awk -v p="${P99[$label]:-999}" 'BEGIN { exit !(p < 50) }' || VERDICT=FAIL
  fi
done
if [ -n "${RATE[pg-1]:-}" ] && [ -n "${RATE[pg-2]:-}" ]; then
  RATIO="$(awk -v a="${RATE[pg-2]}" -v b="${RATE[pg-1]}" 'BEGIN { printf "%.2f", a / b }')"
  SUMMARY="$SUMMARY pg-2/pg-1=$RATIO"
  awk -v r="$RATIO" 'BEGIN { exit !(r >= 0.95) }' || VERDICT=FAIL
fi
echo "$VERDICT:$SUMMARY (targets: >= 500/s and p99 < 50 ms for sqlite and pg-1, pg-2/pg-1 >= 0.95, exactly once)"
[ "$VERDICT" = PASS ]
