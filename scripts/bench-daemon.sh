#!/usr/bin/env bash
# Webhook load on loopback against the daemon (release build, process launcher):
#
#   1. SECONDS of signed `release` deliveries with unique ids over CONNECTIONS connections:
#      deliveries acknowledged per second (each acknowledged only after its SQLite commit,
#      WAL + synchronous=FULL) and p50/p99 latency;
#   1s. the same load again while STALLED (200) stalled connections are held open (silent,
#      half a request head, a webhook head and no body; each one the daemon closes at its
#      header timeout is re-opened at once, as an attacker would): deliveries/s beside
#      phase 1's, and their ratio;
#   2. the same load again, with the daemon killed by SIGKILL half-way through and restarted
#      on the same port while the load goes on;
#   3. a check, straight in the database, that every acknowledged delivery of both phases has
#      exactly one run.
#
#   scripts/bench-daemon.sh [--seconds N] [--connections C] [--stalled S] [--no-build]
#   (default 10 s, 32 connections; --no-build reuses the release binaries already built in
#   $CARGO_TARGET_DIR, e.g. to repeat a measurement without rebuilding others' changes)
#
# Target on the 2-core dev machine: >= 500 deliveries/s with p99 < 50 ms.
#
# After phase 1 it prints where the time went (per-stage averages from the daemon's /metrics),
# and the last line is PASS or FAIL against the targets (exit status 1 on FAIL).
#
# Measured 2026-11-27 on the shared 2-core machine, 32 connections, 10 s per phase:
# - before group commit (one lock across fetch and planning, one fsync per delivery): steady
#   917 acked/s, p50 31 ms, p99 87 ms; exactly once.
# - after, machine lightly loaded (load average 3): steady 2043 acked/s, p50 15 ms, p99 35 ms
#   (PASS); with the kill -9 2045/s, p99 34 ms; 41,747 acknowledged deliveries, each with
#   exactly one run. Stages: waiting for the fetch lock 8.2 ms, fetch 1.9 ms (one per 6
#   deliveries), planning 0.5 ms, commit queue 1.1 ms, commit 1.7 ms (3.8 deliveries/fsync).
# - after, others compiling (load average 5 to 7.5): 1168 to 1177 acked/s, p99 61 to 76 ms
#   (FAIL on p99), exactly once. Waiting for the fetch lock (12 ms) is the biggest stage then.
# With 32 requests always in flight, latency is mostly queueing (32 / rate).
# - 2026-12-07, with the listener's timeouts (gantry-http), others compiling (load average 4
#   to 8): steady 461/s (p99 280 ms, FAIL on the targets, as under load before); with 200
#   stalled connections held open 446/s (p99 251 ms), ratio 0.97; the daemon closed 134 stalled
#   heads at the 10 s header timeout (each re-opened at once); 15,022 acknowledged deliveries,
#   each with exactly one run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECS=10
CONNS=32
STALLED=200
BUILD=yes
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECS="$2"; shift ;;
    --connections) CONNS="$2"; shift ;;
    --stalled) STALLED="$2"; shift ;;
    --no-build) BUILD=no ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
DAEMON_PID=""
cleanup() {
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
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
cat > "$WORK/gantry.toml" <<TOML
listen = "127.0.0.1:0"
data_dir = "$WORK/data"
capacity = 1
log_retention_days = 0
drain_timeout_secs = 5

[repositories."Codertocat/Hello-World"]
url = "$REPO"
default_branch = "master"
webhook_secret = "$SECRET"
TOML

start_daemon() {
  "$BIN/daemon" "$WORK/gantry.toml" > "$WORK/daemon.out" 2>> "$WORK/daemon.err" &
  DAEMON_PID=$!
  for _ in $(seq 1 200); do
    if grep -q '^listening on ' "$WORK/daemon.out" 2>/dev/null; then
      URL="http://$(sed -n 's/^listening on //p' "$WORK/daemon.out" | head -1)"
      return 0
    fi
    sleep 0.05
  done
  log "the daemon did not start"; cat "$WORK/daemon.err" >&2; exit 1
}

# Where a webhook's time went (warm-up and phase 1): the average per delivery of each stage
# the daemon times (/metrics), and how many deliveries each group commit (one fsync) took.
stages() {
  curl -sf "$URL/metrics" | awk '
    /^gantry_webhook_stage_seconds_sum/ { match($0, /stage="[a-z_]+"/); s = substr($0, RSTART + 7, RLENGTH - 8); sum[s] = $2 }
    /^gantry_webhook_stage_seconds_count/ { match($0, /stage="[a-z_]+"/); s = substr($0, RSTART + 7, RLENGTH - 8); n[s] = $2; order[++k] = s }
    /^gantry_commit_batches_total/ { batches = $2 }
    /^gantry_commit_batched_deliveries_total/ { delivered = $2 }
    END {
      line = "stages:  "
      for (i = 1; i <= k; i++) { s = order[i]; line = line sprintf(" %s=%.2fms(x%d)", s, n[s] ? 1000 * sum[s] / n[s] : 0, n[s]) }
      print line
      if (batches) printf "commits:  %d deliveries in %d transactions (%.1f per fsync)\n", delivered, batches, delivered / batches
    }' || log "no /metrics"
}

start_daemon
# Restarts reuse the port, so the load generator keeps going across the kill.
sed -i "s|^listen = .*|listen = \"${URL#http://}\"|" "$WORK/gantry.toml"
log "daemon at $URL (pid $DAEMON_PID); warm-up"
"$BIN/bench" load "$URL" "$SECRET" "$PAYLOAD" 1 4 "$WORK/acked" > /dev/null

# Other work on the machine moves these numbers a lot: say how busy it was.
log "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
log "phase 1: ${SECS}s, $CONNS connections"
STEADY="$("$BIN/bench" load "$URL" "$SECRET" "$PAYLOAD" "$SECS" "$CONNS" "$WORK/acked")"
echo "steady:   $STEADY"
stages

log "phase 1s: ${SECS}s, $CONNS connections, $STALLED stalled connections held open"
"$BIN/bench" stall "$URL" "$STALLED" "$((SECS + 5))" > "$WORK/stall.out" 2> "$WORK/stall.err" &
STALL_PID=$!
for _ in $(seq 1 500); do
  grep -q '^holding ' "$WORK/stall.err" 2>/dev/null && break
  sleep 0.02
done
log "$(head -1 "$WORK/stall.err")"
STALLED_LOAD="$("$BIN/bench" load "$URL" "$SECRET" "$PAYLOAD" "$SECS" "$CONNS" "$WORK/acked")"
wait "$STALL_PID" || true
echo "stalled:  $STALLED_LOAD"
echo "          $(cat "$WORK/stall.out")"
RATE1="$(sed -n 's/.* rate=\([0-9]*\)\/s.*/\1/p' <<< "$STEADY")"
RATE1S="$(sed -n 's/.* rate=\([0-9]*\)\/s.*/\1/p' <<< "$STALLED_LOAD")"
awk -v a="${RATE1:-0}" -v b="${RATE1S:-0}" -v n="$STALLED" \
  'BEGIN { printf "ratio:    %d/s with %d stalled connections vs %d/s without: %.2f\n", b, n, a, a ? b / a : 0 }'

log "phase 2: ${SECS}s with kill -9 half-way and an immediate restart"
"$BIN/bench" load "$URL" "$SECRET" "$PAYLOAD" "$SECS" "$CONNS" "$WORK/acked" > "$WORK/phase2" &
LOAD_PID=$!
sleep "$((SECS / 2))"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
: > "$WORK/daemon.out"
start_daemon
log "killed and restarted (pid $DAEMON_PID) under load"
wait "$LOAD_PID"
echo "killed:   $(cat "$WORK/phase2")"
VERIFY="$("$BIN/bench" verify "$WORK/data/gantry.db" "$WORK/acked")" && EXACT=yes || EXACT=no
echo "verify:   $VERIFY"

# The verdict against the targets: steady rate, steady p99, and exactly-once over both phases.
RATE="$(sed -n 's/.* rate=\([0-9]*\)\/s.*/\1/p' <<< "$STEADY")"
P99="$(sed -n 's/.* p99=\([0-9.]*\)ms.*/\1/p' <<< "$STEADY")"
if [ "$EXACT" = yes ] && [ "${RATE:-0}" -ge 500 ] && awk -v p="${P99:-999}" 'BEGIN { exit !(p < 50) }'; then
  echo "PASS: ${RATE}/s >= 500/s, p99 ${P99} ms < 50 ms, every acknowledged delivery has exactly one run"
else
  echo "FAIL: ${RATE:-?}/s (target >= 500/s), p99 ${P99:-?} ms (target < 50 ms), exactly-once: $EXACT"
  exit 1
fi
